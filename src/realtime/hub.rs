//! The hub: on one node, which local connections listen to which topic.
//!
//! Dispatching never waits for a connection: each has a bounded queue, and a connection whose
//! queue is full is told to close (code 4008) and resume later, so one slow client never
//! slows anyone else. Each event is serialised once, however many sockets receive it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

use super::bus::Inbound;
use super::frames::Event;

pub type ConnId = u64;

/// An event ready to send: the structured event (for the connection's own filtering) and its
/// JSON, made once. The JSON is reference-counted bytes, so handing it to a thousand sockets
/// copies it none of those times.
pub struct Delivery {
    pub event: Event,
    pub json: Utf8Bytes,
    /// For a [`Event::Batch`], the JSON of each event in it, made once too.
    pub parts: Vec<Utf8Bytes>,
}

impl Delivery {
    pub fn new(event: Event) -> Arc<Self> {
        let json = serde_json::to_string(&event).expect("events always serialise");
        Arc::new(Self {
            parts: parts_of(&event),
            event,
            json: json.into(),
        })
    }

    /// An event another node serialised: its JSON is kept as it came, not written again.
    pub fn parse(json: &str) -> serde_json::Result<Arc<Self>> {
        let event = serde_json::from_str(json)?;
        Ok(Arc::new(Self {
            parts: parts_of(&event),
            event,
            json: json.to_owned().into(),
        }))
    }
}

fn parts_of(event: &Event) -> Vec<Utf8Bytes> {
    match event {
        Event::Batch { events, .. } => events
            .iter()
            .map(|e| {
                serde_json::to_string(e)
                    .expect("events always serialise")
                    .into()
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// How the hub reaches one connection.
#[derive(Clone)]
pub struct ConnHandle {
    pub tx: mpsc::Sender<Arc<Delivery>>,
    /// Notified when the queue overflowed: the connection closes with 4008.
    pub overflowed: Arc<Notify>,
}

#[derive(Default)]
pub struct Hub {
    topics: RwLock<HashMap<String, HashMap<ConnId, ConnHandle>>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn next_conn_id(&self) -> ConnId {
        self.next_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Adds a listener; true when it is the topic's first on this node.
    pub fn add(&self, topic: &str, id: ConnId, handle: ConnHandle) -> bool {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let listeners = topics.entry(topic.to_owned()).or_default();
        let first = listeners.is_empty();
        listeners.insert(id, handle);
        first
    }

    /// Removes a listener; true when the topic has no listener left on this node.
    pub fn remove(&self, topic: &str, id: ConnId) -> bool {
        let mut topics = self.topics.write().unwrap_or_else(|p| p.into_inner());
        let Some(listeners) = topics.get_mut(topic) else {
            return false;
        };
        listeners.remove(&id);
        if listeners.is_empty() {
            topics.remove(topic);
            return true;
        }
        false
    }

    /// Hands the event to every local listener of the topic without waiting for any.
    pub fn dispatch(&self, topic: &str, delivery: &Arc<Delivery>) {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let Some(listeners) = topics.get(topic) else {
            return;
        };
        for handle in listeners.values() {
            if handle.tx.try_send(delivery.clone()).is_err() {
                handle.overflowed.notify_one();
            }
        }
    }

    /// Every topic with a listener on this node (to subscribe again after a bus reconnect).
    pub fn topics(&self) -> Vec<String> {
        self.topics
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// The distinct connections listening to anything (to resync them after a bus outage).
    pub fn connections(&self) -> Vec<ConnHandle> {
        let topics = self.topics.read().unwrap_or_else(|p| p.into_inner());
        let mut seen = HashMap::new();
        for listeners in topics.values() {
            for (id, handle) in listeners {
                seen.entry(*id).or_insert_with(|| handle.clone());
            }
        }
        seen.into_values().collect()
    }
}

impl Inbound for Hub {
    fn deliver(&self, topic: &str, json: &str) {
        match Delivery::parse(json) {
            Ok(delivery) => self.dispatch(topic, &delivery),
            Err(e) => tracing::warn!(topic, error = %e, "ignoring a malformed event from the bus"),
        }
    }

    /// Every local socket checks its channels against Postgres and fills its holes.
    fn resync(&self) {
        let delivery = Delivery::new(Event::Resync);
        for connection in self.connections() {
            if connection.tx.try_send(delivery.clone()).is_err() {
                connection.overflowed.notify_one();
            }
        }
    }
}
