//! The HTTP server: shared state, the router that joins every domain, and the layers around it
//! (sessions, CSRF, security headers, tracing).
//!
//! [`Server::build`] connects to Postgres, migrates, binds, and returns a server that tests can
//! start on port 0 exactly as `natter serve` starts it on 3000.

pub mod assets;
pub mod rate_limit;
pub mod shell;
pub mod templates;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use rand::RngCore;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::config::Config;
use crate::error::AppError;
use crate::realtime::Realtime;
use crate::web::rate_limit::RateLimiter;
use crate::{auth, channels, messages, workspaces};

/// What every handler can reach. Cheap to clone: everything inside is shared.
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub config: Arc<Config>,
    /// Message sends per user: bursts of 50, then 10 a second.
    pub send_limiter: Arc<RateLimiter>,
    /// Incoming webhook posts per webhook, like Slack: about one a second, bursts allowed.
    pub hook_limiter: Arc<RateLimiter>,
    /// Web API calls per token holder.
    pub api_limiter: Arc<RateLimiter>,
    /// The search engine: Meilisearch with `MEILI_URL`, else Postgres.
    pub search: Arc<crate::search::Backend>,
    /// Live delivery: this node's hub, the bus and presence.
    pub realtime: Arc<Realtime>,
}

/// A bound, migrated server, ready to run.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Server {
    /// Connects to Postgres (creating and migrating the database as needed) and binds the
    /// listener, so that errors surface before anything is served.
    /// An empty `public_url` is filled in with the bound address (tests bind port 0).
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // Outgoing HTTPS (bots' request URLs) uses rustls with ring, like the database driver.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = crate::db::connect(&config.database_url).await?;
        crate::db::migrate(&db).await?;
        let listener = TcpListener::bind(config.bind).await.with_context(|| {
            format!(
                "cannot listen on {} (is another Natter running?)",
                config.bind
            )
        })?;
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", listener.local_addr()?);
        }
        let realtime = Arc::new(Realtime::start(&config)?);
        let search = Arc::new(crate::search::Backend::from_config(&config)?);
        let limiter = |what, burst, per_second| {
            Arc::new(if config.rate_limits {
                RateLimiter::new(what, burst, per_second)
            } else {
                RateLimiter::unlimited(what)
            })
        };
        let state = AppState {
            db,
            send_limiter: limiter("sending messages", 50, 10),
            hook_limiter: limiter("posting to this webhook", 10, 1),
            api_limiter: limiter("calling the API", 100, 20),
            config: Arc::new(config),
            realtime,
            search,
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let realtime = self.state.realtime.clone();
        tokio::spawn(crate::integrations::events::run_worker(self.state.clone()));
        crate::search::spawn_worker(&self.state);
        let store = PostgresStore::new(self.state.db.clone());
        // Expired sessions are removed in the background; any node may do it.
        tokio::spawn(async move {
            let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                if let Err(e) = store.delete_expired().await {
                    tracing::warn!(error = %e, "could not delete expired sessions; will retry");
                }
            }
        });
        // Nagle's algorithm holds a small write (an ack, a message frame) until the previous one
        // is acknowledged, and the peer delays that by up to 40 ms: chat is all small writes.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Sockets are not requests: tell them to go, so clients resume on another node.
            realtime.shut_down();
        })
        .await
        .context("the HTTP server stopped with an error")
    }
}

fn router(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.db.clone()))
        .with_name("natter_session")
        .with_secure(state.config.secure_cookies())
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_expiry(Expiry::OnInactivity(CookieDuration::days(30)));
    Router::new()
        .merge(auth::router())
        .merge(workspaces::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(crate::realtime::router())
        .merge(crate::integrations::router())
        .merge(crate::search::router())
        .merge(assets::router())
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(middleware::from_fn(auth::csrf::verify))
        .layer(sessions)
        .layer(middleware::from_fn(crate::error::negotiate))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match crate::search::db::lag_secs(&state.db).await {
        Ok(lag) => (
            axum::http::StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "ok",
                "search": state.search.name(),
                // How long the oldest change has waited for the search index.
                "search_lag_secs": (lag * 10.0).round() / 10.0,
            })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check cannot reach Postgres");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "postgres": "unreachable"})),
            )
        }
    }
}

async fn not_found() -> AppError {
    AppError::NotFound
}

/// A random 32-byte token, URL-safe: session CSRF tokens, invite codes, idempotency keys.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The SHA-256 of a secret, hex encoded: how invite codes and tokens are stored.
pub fn hash_secret(secret: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
