//! What every handler can reach: [`AppState`], built once by `server` and handed down.
//!
//! It sits below every domain and imports only what it holds (the pool, the config, the rate
//! limiters, the search engine, the live-delivery transport, the outbound HTTP client and file
//! storage),
//! never a domain: a domain that needs another's state reaches it through that domain's
//! functions, not through here.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Config;
use crate::index;
use crate::outbound::Outbound;
use crate::realtime::Realtime;
use crate::storage::Storage;
use crate::web::rate_limit::RateLimiter;

/// Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    /// The same database for searches, fewer at once and each with a time limit.
    pub search_db: PgPool,
    pub config: Arc<Config>,
    /// Message sends per user: bursts of 50, then 10 a second.
    pub send_limiter: Arc<RateLimiter>,
    /// Incoming webhook posts per webhook, like Slack: about one a second, bursts allowed.
    pub hook_limiter: Arc<RateLimiter>,
    /// Web API calls per token holder.
    pub api_limiter: Arc<RateLimiter>,
    /// Searches per user, from the page and the Web API alike: each can read many rows.
    pub search_limiter: Arc<RateLimiter>,
    /// The search engine: Meilisearch with `MEILI_URL`, else Postgres.
    pub search: Arc<index::Backend>,
    /// Live delivery: this node's hub, the bus and presence.
    pub realtime: Arc<Realtime>,
    /// The one client for requests Natter makes to URLs users give it.
    pub outbound: Outbound,
    /// Where files' bytes live: a directory or an S3-compatible bucket.
    pub storage: Storage,
    /// File uploads per user, like sends: each one can be large.
    pub upload_limiter: Arc<RateLimiter>,
}

impl AppState {
    /// The state of a node on this pool and config, with its bus and search engine started.
    pub fn new(db: PgPool, config: Config) -> anyhow::Result<Self> {
        let realtime = Arc::new(Realtime::start(&config)?);
        Self::with_realtime(db, config, realtime)
    }

    /// The command line's state: what it publishes reaches the running nodes (through Redis,
    /// or Postgres without it); call `realtime.flush()` before exiting.
    pub fn for_command_line(db: PgPool, config: Config) -> anyhow::Result<Self> {
        let realtime = Arc::new(Realtime::for_command_line(&config, &db)?);
        Self::with_realtime(db, config, realtime)
    }

    fn with_realtime(db: PgPool, config: Config, realtime: Arc<Realtime>) -> anyhow::Result<Self> {
        let search = Arc::new(index::Backend::from_config(&config)?);
        let limiter = |what, burst, per_second| {
            Arc::new(if config.rate_limits {
                RateLimiter::new(what, burst, per_second)
            } else {
                RateLimiter::unlimited(what)
            })
        };
        Ok(Self {
            search_db: crate::db::search_pool(&db),
            db,
            send_limiter: limiter("sending messages", 50, 10),
            hook_limiter: limiter("posting to this webhook", 10, 1),
            api_limiter: limiter("calling the API", 100, 20),
            search_limiter: limiter("searching", 20, 2),
            upload_limiter: limiter("uploading files", 20, 2),
            storage: Storage::from_config(&config.files)?,
            outbound: Outbound::new(config.outbound_allow_private),
            config: Arc::new(config),
            realtime,
            search,
        })
    }
}
