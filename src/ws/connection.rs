//! One socket's life: the I/O loop, its subscriptions and its presence. What each event does
//! is in `routing`, what the client asks in `commands`, the per-channel order in `ordering`.
//!
//! The loop waits on five things at once: a frame from the client (read by a task of its
//! own), an event from the hub, the end of the reorder grace, the hub saying the queue
//! overflowed (close 4008: the client resumes from its cursors), and the heartbeat.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};

use super::ordering::Channels;
use super::{CLOSE_NO_PING, CLOSE_TOO_SLOW, Who};
use crate::realtime::frames::{Event, error_frame};
use crate::realtime::hub::{ConnHandle, ConnId, Delivery};
use crate::realtime::presence::{self, Status};
use crate::realtime::presence_topic;
use crate::state::AppState;

/// Events waiting for one socket; a socket this far behind is closed with 4008.
const QUEUE: usize = 1024;
/// Queued events handled in one turn of a connection's loop, then written out in one flush.
const BURST: usize = 64;

/// Why the loop stopped, and how to say so to the client.
pub(super) enum Stop {
    Close(u16, &'static str),
    Gone,
}

/// Why a client's frame was not carried out: an `error` frame, or the end of the socket.
pub(super) enum FrameError {
    Refused(&'static str, String),
    Stop(Stop),
}

/// The sending half of a socket.
pub(super) type Outgoing = SplitSink<WebSocket, Message>;

pub(super) struct Connection {
    pub(super) state: AppState,
    pub(super) who: Who,
    pub(super) id: ConnId,
    handle: ConnHandle,
    rx: mpsc::Receiver<Arc<Delivery>>,
    overflowed: Arc<Notify>,
    /// Every topic this socket listens to: its channels, its user, the presence it watches.
    pub(super) topics: HashSet<String>,
    /// Each channel the user is in, as this socket follows it.
    pub(super) channels: Channels<Arc<Delivery>>,
    pub(super) said_hello: bool,
    pub(super) status: Status,
    pub(super) last_ping: Instant,
    /// Frames this client may still send before it must slow down.
    pub(super) budget: FrameBudget,
}

/// A token bucket for a client's frames: bursts of [`FrameBudget::BURST`], then
/// [`FrameBudget::PER_SECOND`]. Every frame may cost a query or a publish, so a client that
/// sends faster is refused frame by frame (its socket stays open).
pub(super) struct FrameBudget {
    tokens: f64,
    at: Instant,
}

impl FrameBudget {
    const BURST: f64 = 60.0;
    const PER_SECOND: f64 = 20.0;

    fn new() -> Self {
        Self {
            tokens: Self::BURST,
            at: Instant::now(),
        }
    }

    /// Spends one frame's worth; false when there is none left.
    pub(super) fn spend(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.at).as_secs_f64() * Self::PER_SECOND;
        self.tokens = (self.tokens + refill).min(Self::BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

impl Connection {
    pub(super) fn new(state: AppState, who: Who) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        let overflowed = Arc::new(Notify::new());
        let id = state.realtime.hub.next_conn_id();
        Self {
            state,
            who,
            id,
            handle: ConnHandle {
                tx,
                overflowed: overflowed.clone(),
            },
            rx,
            overflowed,
            topics: HashSet::new(),
            channels: Channels::default(),
            said_hello: false,
            status: Status::Online,
            last_ping: Instant::now(),
            budget: FrameBudget::new(),
        }
    }

    pub(super) async fn run(mut self, socket: WebSocket) {
        let (mut socket, incoming) = socket.split();
        // The receiving half runs in a task of its own, woken only when the client sends.
        // Polled from the loop below it would be polled after every event too, and each poll
        // fills a read buffer and finds nothing: that was most of the cost of fan-out.
        let (frames, mut inbox) = mpsc::channel(8);
        let reader = tokio::spawn(read_frames(incoming, frames));
        let mut shutdown = self.state.realtime.shutdown_signal();
        let mut heartbeat = tokio::time::interval(Duration::from_secs(10));
        let overflowed = self.overflowed.clone();
        let stop = loop {
            let step = tokio::select! {
                incoming = inbox.recv() => match incoming {
                    None | Some(Ok(Message::Close(_))) => Err(Stop::Gone),
                    Some(Ok(Message::Text(text))) => self.on_frame(&mut socket, text.as_str()).await,
                    Some(Ok(Message::Binary(_))) => send(&mut socket, error_frame("unsupported", "frames are JSON text")).await,
                    Some(Ok(_)) => Ok(()),
                    Some(Err(e)) if is_too_big(&e) => Err(Stop::Close(1009, "frame too large (64 KiB at most)")),
                    Some(Err(_)) => Err(Stop::Gone),
                },
                Some(delivery) = self.rx.recv() => self.on_events(&mut socket, delivery).await,
                () = sleep_until(self.channels.deadline()), if self.channels.deadline().is_some() => {
                    self.fill_holes(&mut socket).await.map_err(stop_of)
                }
                () = overflowed.notified() => Err(Stop::Close(CLOSE_TOO_SLOW, "too slow: resume from your cursors")),
                _ = heartbeat.tick() => {
                    if self.last_ping.elapsed() > presence::TIMEOUT {
                        Err(Stop::Close(CLOSE_NO_PING, "no ping for 60 s"))
                    } else {
                        Ok(())
                    }
                }
                _ = shutdown.changed() => Err(Stop::Close(1001, "server going away: resume elsewhere")),
            };
            // Frames are queued on the socket as they are made and written out once per turn
            // of the loop: a busy socket's burst goes out in one write, not one each.
            let step = match step {
                Ok(()) => socket.flush().await.map_err(|_| Stop::Gone),
                stop => stop,
            };
            if let Err(stop) = step {
                break stop;
            }
        };
        if let Stop::Close(code, reason) = stop {
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code,
                    reason: reason.into(),
                })))
                .await;
        }
        reader.abort();
        self.leave_everything().await;
    }

    /// An event from the hub, and those already queued behind it (up to [`BURST`]), so that
    /// what piled up while the socket was busy is written out together.
    async fn on_events(&mut self, socket: &mut Outgoing, first: Arc<Delivery>) -> Result<(), Stop> {
        self.on_event(socket, &first).await?;
        for _ in 1..BURST {
            match self.rx.try_recv() {
                Ok(delivery) => self.on_event(socket, &delivery).await?,
                Err(_) => break,
            }
        }
        Ok(())
    }

    async fn leave_everything(&mut self) {
        for topic in self.topics.drain() {
            self.state.realtime.unsubscribe(&topic, self.id);
        }
        if self.said_hello {
            let (before, after) = self
                .state
                .realtime
                .presence
                .remove(self.who.user_id, self.id)
                .await;
            self.announce_presence(before, after);
        }
    }

    pub(super) fn subscribe(&mut self, topic: String) {
        if self.topics.insert(topic.clone()) {
            self.state
                .realtime
                .subscribe(&topic, self.id, self.handle.clone());
        }
    }

    pub(super) fn unsubscribe(&mut self, topic: &str) {
        if self.topics.remove(topic) {
            self.state.realtime.unsubscribe(topic, self.id);
        }
    }

    /// Records this connection's status (a ping keeps it fresh) and announces any change.
    pub(super) async fn refresh_presence(&self) {
        let presence = &self.state.realtime.presence;
        let (before, after) = presence.set(self.who.user_id, self.id, self.status).await;
        self.announce_presence(before, after);
    }

    fn announce_presence(&self, before: Status, after: Status) {
        if before != after {
            let event = Event::Presence {
                user_id: self.who.user_id,
                status: after.as_str().to_owned(),
            };
            self.state
                .realtime
                .publish(&presence_topic(self.who.user_id), event);
        }
    }
}

/// A fault of ours while carrying out a frame: logged, and said to the client in general terms.
pub(super) fn internal(error: &dyn std::fmt::Display) -> FrameError {
    tracing::error!(error = %error, "error on a socket");
    FrameError::Refused(
        "internal_error",
        "something went wrong on the server; try again".into(),
    )
}

pub(super) fn stop_of(error: FrameError) -> Stop {
    match error {
        FrameError::Stop(stop) => stop,
        FrameError::Refused(..) => Stop::Gone,
    }
}

/// Hands the client's frames to the connection, until the socket ends or fails.
async fn read_frames(
    mut incoming: SplitStream<WebSocket>,
    frames: mpsc::Sender<Result<Message, axum::Error>>,
) {
    while let Some(frame) = incoming.next().await {
        let failed = frame.is_err();
        if frames.send(frame).await.is_err() || failed {
            return;
        }
    }
}

/// Sleeps until `at`, or forever when there is nothing to wait for.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Queues a frame on the socket; the connection's loop flushes after each turn.
pub(super) async fn send(socket: &mut Outgoing, text: impl Into<Utf8Bytes>) -> Result<(), Stop> {
    socket
        .feed(Message::Text(text.into()))
        .await
        .map_err(|_| Stop::Gone)
}

/// tungstenite refuses a frame over the size limit with a capacity error.
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string().to_lowercase();
    text.contains("too long")
        || text.contains("too big")
        || text.contains("capacity")
        || text.contains("space limit")
}
