//! Live delivery over `/ws`: the hub, the bus, presence, and one task per socket.
//!
//! - [`hub`]: this node's topic → local connections map; bounded queues, 4008 for laggards.
//! - [`bus`]: carries events between nodes: [`bus::LocalBus`] for one node, [`bus::RedisBus`]
//!   when `REDIS_URL` is set.
//! - [`connection`]: a socket's life: authenticate, `hello` → subscribe → `ready` → catch-up
//!   after each cursor → live, with no duplicate and no hole (it tracks the last seq it sent
//!   per channel and fills any hole from Postgres).
//! - [`events`]: what domain code calls after a commit (a message sent, a member added, a read
//!   point moved) to publish the matching event.
//! - [`presence`]: online / away / offline, in memory or mirrored in Redis.
//!
//! Topics: `channel:<id>` (messages, edits, typing, receipts), `user:<id>` (joins, leaves,
//! read points, session ends) and `presence:<id>`.

pub mod bus;
pub mod connection;
pub mod events;
pub mod frames;
pub mod hub;
pub mod presence;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::get;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::watch;

use self::bus::{Bus, LocalBus, RedisBus};
use self::frames::Event;
use self::hub::{ConnHandle, ConnId, Delivery, Hub};
use self::presence::Presence;
use crate::config::Config;
use crate::web::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(connection::upgrade))
}

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
    /// Flips to true when the node shuts down: sockets close with 1001 and resume elsewhere.
    shutdown: watch::Sender<bool>,
}

impl Realtime {
    /// In-process without `REDIS_URL`; Redis pub/sub and presence with it.
    pub fn start(config: &Config) -> anyhow::Result<Self> {
        let hub = Arc::new(Hub::default());
        let node_id = crate::web::random_token()[..16].to_owned();
        let (bus, redis): (Arc<dyn Bus>, Option<ConnectionManager>) = match &config.redis_url {
            Some(url) => {
                let bus = RedisBus::start(url, &config.redis_prefix, hub.clone())?;
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
            None => (Arc::new(LocalBus), None),
        };
        let (shutdown, _) = watch::channel(false);
        Ok(Self {
            hub,
            bus,
            presence: Presence::new(node_id, config.redis_prefix.clone(), redis),
            shutdown,
        })
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
        self.bus.publish(topic, &delivery);
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Asks every socket on this node to close with "going away", so clients resume elsewhere.
    pub fn shut_down(&self) {
        let _ = self.shutdown.send(true);
    }
}
