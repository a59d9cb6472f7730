//! The live-delivery transport, below every domain: it carries events to sockets and knows
//! nothing of what they mean to a domain.
//!
//! - [`hub`]: this node's topic → local connections map; bounded queues, 4008 for laggards.
//! - [`bus`]: carries serialised events between nodes, once per node: [`bus::LocalBus`] for
//!   one node, [`bus::RedisBus`] when `REDIS_URL` is set. It knows topics and bytes only.
//! - [`frames`]: the JSON shapes on `/ws` (what clients send, what events carry).
//! - [`presence`]: online / away / offline, in memory or mirrored in Redis.
//! - [`slots`]: how many sockets each user holds on this node, capped.
//!
//! Domains publish their own events after a commit (`messages::live`, `channels::live`,
//! `auth::live`) through [`Realtime::publish`]; the socket endpoint that authorises and
//! carries them to clients is `ws`.
//!
//! Topics: `channel:<id>` (messages, edits, typing, receipts), `user:<id>` (joins, leaves,
//! read points, session ends) and `presence:<id>`.

pub mod bus;
pub mod frames;
pub mod hub;
pub mod notify;
pub mod presence;
pub mod slots;

use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

use self::bus::{Bus, LocalBus, RedisBus};
use self::frames::Event;
use self::hub::{ConnHandle, ConnId, Delivery, Hub};
use self::presence::Presence;
use self::slots::SocketSlots;
use crate::config::Config;

pub fn channel_topic(channel_id: i64) -> String {
    format!("channel:{channel_id}")
}

pub fn user_topic(user_id: i64) -> String {
    format!("user:{user_id}")
}

pub fn presence_topic(user_id: i64) -> String {
    format!("presence:{user_id}")
}

/// This node's live-delivery machinery.
pub struct Realtime {
    pub hub: Arc<Hub>,
    bus: Arc<dyn Bus>,
    pub presence: Presence,
    /// Sockets per user on this node, capped.
    pub sockets: SocketSlots,
    /// Flips to true when the node shuts down: sockets close with 1001 and resume elsewhere.
    shutdown: watch::Sender<bool>,
}

impl Realtime {
    /// In-process without `REDIS_URL`; Redis pub/sub and presence with it.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        Self::start_with(config, true)
    }

    /// `serving`: this process holds sockets, so without Redis it listens for the command
    /// line's events.
    fn start_with(config: &Config, serving: bool) -> anyhow::Result<Self> {
        let hub = Arc::new(Hub::default());
        let node_id = crate::secrets::random_token()[..16].to_owned();
        let (bus, redis): (Arc<dyn Bus>, Option<ConnectionManager>) = match &config.redis_url {
            Some(url) => {
                let bus = RedisBus::start(url, &config.redis_prefix, &node_id, hub.clone())?;
                let client = redis::Client::open(url.as_str())
                    .map_err(|e| anyhow::anyhow!("REDIS_URL={url:?} is not a Redis URL: {e}"))?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(Duration::from_secs(1)))
                    .set_response_timeout(Some(Duration::from_secs(1)))
                    .set_number_of_retries(0);
                let connection = ConnectionManager::new_lazy_with_config(client, config)
                    .map_err(|e| anyhow::anyhow!("cannot set up Redis at {url}: {e}"))?;
                (bus, Some(connection))
            }
            None => {
                // One node; the command line reaches it through Postgres (`notify`).
                if serving {
                    notify::listen(&config.database_url, hub.clone());
                }
                (Arc::new(LocalBus), None)
            }
        };
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            hub,
            bus,
            presence: Presence::new(node_id, config.redis_prefix.clone(), redis),
            sockets: SocketSlots::new(config.rate_limits),
            shutdown,
        })
    }

    /// The command line's: it serves no socket, and without Redis what it publishes goes to
    /// the running node through Postgres.
    pub fn for_command_line(config: &Config, pool: &sqlx::PgPool) -> anyhow::Result<Self> {
        let mut realtime = Self::start_with(config, false)?;
        if config.redis_url.is_none() {
            realtime.bus = Arc::new(notify::Notifier::start(pool.clone()));
        }
        Ok(realtime)
    }

    /// Waits until what was published has left this process.
    pub async fn flush(&self) {
        self.bus.flush().await;
    }

    pub fn subscribe(&self, topic: &str, id: ConnId, handle: ConnHandle) {
        if self.hub.add(topic, id, handle) {
            self.bus.listen(topic);
        }
    }

    pub fn unsubscribe(&self, topic: &str, id: ConnId) {
        if self.hub.remove(topic, id) {
            self.bus.unlisten(topic);
        }
    }

    /// Delivers to this node's sockets at once, and through the bus to the other nodes.
    pub fn publish(&self, topic: &str, event: Event) {
        let delivery = Delivery::new(event);
        self.hub.dispatch(topic, &delivery);
        self.bus.publish(topic, delivery.json.as_str());
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every socket on this node to close with "going away", so clients resume elsewhere.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }
}
