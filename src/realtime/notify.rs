//! The command line's way to a running node without Redis.
//!
//! Without `REDIS_URL` one node serves every socket and its bus is in-process, but `natter
//! member deactivate` and friends run in another process: what they publish would reach no
//! socket. So every node without Redis listens on one Postgres `LISTEN` channel, and the
//! command line's bus is [`Notifier`], which sends its events there with `pg_notify`. Only the
//! command line publishes this way, so the send path never pays for it; with Redis, both sides
//! use Redis and none of this runs.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::bus::{Bus, Inbound};

/// The Postgres channel; its payload is `<topic>\n<event JSON>` (well under the 8,000 bytes a
/// notification may carry: these are membership events, not messages).
const CHANNEL: &str = "natter_events";

/// Hands what arrives on the channel to `inbound`, reconnecting by itself, for as long as the
/// node runs.
pub fn listen(database_url: &str, inbound: Arc<dyn Inbound>) {
    let url = database_url.to_owned();
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(500);
        loop {
            match PgListener::connect(&url).await {
                Ok(mut listener) => match listener.listen(CHANNEL).await {
                    Ok(()) => {
                        backoff = Duration::from_millis(500);
                        loop {
                            match listener.recv().await {
                                Ok(notification) => {
                                    if let Some((topic, json)) =
                                        notification.payload().split_once('\n')
                                    {
                                        inbound.deliver(topic, json);
                                    }
                                }
                                Err(e) => {
                                    tracing::warn!(error = %e, "lost the Postgres LISTEN connection; reconnecting");
                                    break;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot LISTEN for command-line events"),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "cannot connect to LISTEN for command-line events")
                }
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_secs(30));
        }
    });
}

/// The command line's bus without Redis: events go to the running node through Postgres.
pub struct Notifier {
    queue: Mutex<Option<mpsc::UnboundedSender<String>>>,
    sender: Mutex<Option<JoinHandle<()>>>,
}

impl Notifier {
    pub fn start(pool: PgPool) -> Self {
        let (queue, mut waiting) = mpsc::unbounded_channel::<String>();
        let sender = tokio::spawn(async move {
            while let Some(payload) = waiting.recv().await {
                let sent = sqlx::query("select pg_notify($1, $2)")
                    .bind(CHANNEL)
                    .bind(&payload)
                    .execute(&pool)
                    .await;
                if let Err(e) = sent {
                    tracing::warn!(error = %e, "could not tell the running node; its sockets learn at their next action");
                }
            }
        });
        Self {
            queue: Mutex::new(Some(queue)),
            sender: Mutex::new(Some(sender)),
        }
    }
}

impl Bus for Notifier {
    fn publish(&self, topic: &str, json: &str) {
        if let Some(queue) = self
            .queue
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = queue.send(format!("{topic}\n{json}"));
        }
    }

    fn listen(&self, _topic: &str) {}

    fn unlisten(&self, _topic: &str) {}

    /// Sends what is queued before the command line exits.
    fn flush(&self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.queue.lock().unwrap_or_else(|p| p.into_inner()).take();
            let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(sender) = sender {
                let _ = sender.await;
            }
        })
    }
}
