//! The bus: carries events between nodes, once per node (never once per subscriber).
//!
//! [`Realtime::publish`](super::Realtime::publish) always hands an event to the local hub
//! first, then to the bus for the other nodes. So with one node ([`LocalBus`]) there is
//! nothing to carry, and with Redis down, sockets on the sending node still get their events.
//! Postgres holds every message; the bus may lose events and clients resume from their seqs.
//!
//! The bus is a leaf: it carries a topic and the event's JSON, and hands what other nodes
//! publish to an [`Inbound`] (the hub), never looking inside.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::mpsc;

pub trait Bus: Send + Sync {
    /// Sends an event's JSON to the other nodes; never waits.
    fn publish(&self, topic: &str, json: &str);
    /// This node has a first local listener for `topic`.
    fn listen(&self, topic: &str);
    /// This node has no local listener left for `topic`.
    fn unlisten(&self, topic: &str);
    /// Waits until what was published has left this process (the command line, before it
    /// exits). Buses whose events go out as they are published have nothing to wait for.
    fn flush(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(std::future::ready(()))
    }
}

/// One node: the hub is the whole bus.
pub struct LocalBus;

/// Where the bus hands what other nodes published.
pub trait Inbound: Send + Sync + 'static {
    /// An event another node published on `topic`, as its JSON.
    fn deliver(&self, topic: &str, json: &str);
    /// The bus is back after an outage: events from other nodes may have been missed.
    fn resync(&self);
}

impl Bus for LocalBus {
    fn publish(&self, _topic: &str, _json: &str) {}
    fn listen(&self, _topic: &str) {}
    fn unlisten(&self, _topic: &str) {}
}

/// Redis pub/sub: topic `t` is the Redis channel `<prefix>:t`, so topics map one-to-one onto
/// Redis channels (and onto sharded pub/sub in a cluster). A node subscribes only to topics it
/// has local listeners for.
pub struct RedisBus {
    node_id: String,
    prefix: String,
    outbox: mpsc::Sender<(String, String)>,
    commands: mpsc::UnboundedSender<Command>,
}

enum Command {
    Listen(String),
    Unlisten(String),
}

/// Events waiting to be published; past this, events are dropped (clients resume from seqs).
const OUTBOX_CAPACITY: usize = 10_000;

fn redis_channel(prefix: &str, topic: &str) -> String {
    format!("{prefix}:{topic}")
}

impl RedisBus {
    /// Starts the publisher and subscriber tasks. Redis need not be up yet: both connect (and
    /// reconnect) by themselves, saying so in the log.
    /// `node_id` tells this node's own events apart when Redis echoes them back.
    pub fn start(
        url: &str,
        prefix: &str,
        node_id: &str,
        inbound: Arc<dyn Inbound>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)
            .map_err(|e| anyhow::anyhow!("REDIS_URL={url:?} is not a Redis URL: {e}"))?;
        let node_id = node_id.to_owned();
        let (outbox, outbox_rx) = mpsc::channel(OUTBOX_CAPACITY);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1);
        let publisher = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| anyhow::anyhow!("cannot set up Redis at {url}: {e}"))?;
        tokio::spawn(publish_loop(publisher, outbox_rx));
        let subscriber = Subscriber {
            client,
            inbound,
            node_id: node_id.clone(),
            prefix: prefix.to_owned(),
            url: url.to_owned(),
        };
        tokio::spawn(subscriber.run(commands_rx));
        Ok(Arc::new(Self {
            node_id,
            prefix: prefix.to_owned(),
            outbox,
            commands,
        }))
    }
}

impl Bus for RedisBus {
    fn publish(&self, topic: &str, json: &str) {
        // "<origin node> <event JSON>": the receiver skips its own events and hands the JSON on
        // as it came, without parsing an envelope around it.
        let envelope = format!("{} {json}", self.node_id);
        if self
            .outbox
            .try_send((redis_channel(&self.prefix, topic), envelope))
            .is_err()
        {
            tracing::warn!(
                topic,
                "the Redis outbox is full; dropping a live event (clients will resume from Postgres)"
            );
        }
    }

    fn listen(&self, topic: &str) {
        let _ = self.commands.send(Command::Listen(topic.to_owned()));
    }

    fn unlisten(&self, topic: &str) {
        let _ = self.commands.send(Command::Unlisten(topic.to_owned()));
    }
}

/// The most events one pipelined round trip to Redis carries.
const PUBLISH_BATCH: usize = 256;

async fn publish_loop(
    mut connection: ConnectionManager,
    mut outbox: mpsc::Receiver<(String, String)>,
) {
    let mut failing = false;
    while let Some((channel, payload)) = outbox.recv().await {
        // Whatever else is queued goes in the same round trip, in order: one PUBLISH awaited
        // at a time capped a node at one event per round trip, and a busy node fell behind.
        let mut pipe = redis::pipe();
        pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
        for _ in 1..PUBLISH_BATCH {
            match outbox.try_recv() {
                Ok((channel, payload)) => {
                    pipe.cmd("PUBLISH").arg(channel).arg(payload).ignore();
                }
                Err(_) => break,
            }
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut connection).await;
        match result {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("publishing to Redis works again");
            }
            Ok(()) => {}
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot publish to Redis; other nodes miss live events until it returns (messages are stored and clients resume)");
            }
            Err(_) => {}
        }
    }
}

/// The task that holds this node's Redis subscription.
struct Subscriber {
    client: redis::Client,
    inbound: Arc<dyn Inbound>,
    node_id: String,
    prefix: String,
    url: String,
}

impl Subscriber {
    async fn run(self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let Subscriber {
            client,
            inbound,
            node_id,
            prefix,
            url,
        } = self;
        let url = url.as_str();
        let mut listened: HashSet<String> = HashSet::new();
        let mut backoff = Duration::from_millis(250);
        let mut was_down = false;
        loop {
            match client.get_async_pubsub().await {
                Ok(pubsub) => {
                    let (mut sink, mut stream) = pubsub.split();
                    // Whatever arrived while disconnected is in `listened` already.
                    while let Ok(command) = commands.try_recv() {
                        apply(&mut listened, command);
                    }
                    let mut ok = true;
                    for topic in &listened {
                        if sink.subscribe(redis_channel(&prefix, topic)).await.is_err() {
                            ok = false;
                            break;
                        }
                    }
                    if ok {
                        backoff = Duration::from_millis(250);
                        if was_down {
                            tracing::info!(
                                url,
                                topics = listened.len(),
                                "reconnected to Redis and subscribed again; resyncing local sockets"
                            );
                            inbound.resync();
                        } else {
                            tracing::info!(url, "subscribed to Redis for events from other nodes");
                        }
                        loop {
                            tokio::select! {
                                message = stream.next() => match message {
                                    Some(message) => deliver(inbound.as_ref(), &node_id, &prefix, &message),
                                    None => break,
                                },
                                command = commands.recv() => match command {
                                    Some(Command::Listen(topic)) => {
                                        if listened.insert(topic.clone()) && sink.subscribe(redis_channel(&prefix, &topic)).await.is_err() {
                                            break;
                                        }
                                    }
                                    Some(Command::Unlisten(topic)) => {
                                        if listened.remove(&topic) && sink.unsubscribe(redis_channel(&prefix, &topic)).await.is_err() {
                                            break;
                                        }
                                    }
                                    None => return,
                                },
                            }
                        }
                    }
                    tracing::warn!(
                        url,
                        "lost the Redis connection; reconnecting (live events between nodes pause meanwhile)"
                    );
                    was_down = true;
                }
                Err(e) => {
                    if !was_down {
                        tracing::warn!(url, error = %e, "cannot reach Redis; retrying in the background");
                    }
                    was_down = true;
                }
            }
            // Wait before retrying, still taking note of what local sockets listen to.
            let retry = tokio::time::sleep(backoff);
            tokio::pin!(retry);
            loop {
                tokio::select! {
                    () = &mut retry => break,
                    command = commands.recv() => match command {
                        Some(command) => apply(&mut listened, command),
                        None => return,
                    },
                }
            }
            backoff = (backoff * 2).min(Duration::from_secs(5));
        }
    }
}

fn apply(listened: &mut HashSet<String>, command: Command) {
    match command {
        Command::Listen(topic) => listened.insert(topic),
        Command::Unlisten(topic) => listened.remove(&topic),
    };
}

fn deliver(inbound: &dyn Inbound, node_id: &str, prefix: &str, message: &redis::Msg) {
    let Some(topic) = message
        .get_channel_name()
        .strip_prefix(prefix)
        .and_then(|t| t.strip_prefix(':'))
    else {
        return;
    };
    let Ok(payload) = message.get_payload::<String>() else {
        return;
    };
    match payload.split_once(' ') {
        // Our own events were handed to the local hub when they were published.
        Some((origin, _)) if origin == node_id => {}
        Some((_, json)) => inbound.deliver(topic, json),
        None => tracing::warn!(topic, "ignoring a malformed event from Redis"),
    }
}
