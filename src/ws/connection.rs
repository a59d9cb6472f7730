//! One socket's life: the I/O loop, the events it routes to the client, and catching up from
//! Postgres. What the client asks is in `commands`; the per-channel order in `ordering`.
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

use super::ordering::{Arrival, CATCH_UP_CAP, CatchUp, Channels};
use super::{CLOSE_NO_PING, CLOSE_SESSION_ENDED, CLOSE_TOO_SLOW, Who};
use crate::channels::ChannelKind;
use crate::channels::db as channels_db;
use crate::messages::{db as messages_db, live};
use crate::realtime::frames::{Event, error_frame, reply};
use crate::realtime::hub::{ConnHandle, ConnId, Delivery};
use crate::realtime::presence::{self, Status};
use crate::realtime::{channel_topic, presence_topic};
use crate::state::AppState;

/// Events waiting for one socket; a socket this far behind is closed with 4008.
const QUEUE: usize = 1024;

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
                Some(delivery) = self.rx.recv() => self.on_event(&mut socket, &delivery).await,
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

    fn unsubscribe(&mut self, topic: &str) {
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

    /// Routes one event from the hub: what reaches the client, in what order, and what only
    /// steers this socket.
    async fn on_event(
        &mut self,
        socket: &mut Outgoing,
        delivery: &Arc<Delivery>,
    ) -> Result<(), Stop> {
        let following = |channels: &Channels<_>, id: &i64| channels.get(*id).is_some();
        match &delivery.event {
            Event::Message {
                channel_id, seq, ..
            } => {
                let now = tokio::time::Instant::now();
                if let Arrival::Send(ready) =
                    self.channels
                        .arrive(*channel_id, *seq, delivery.clone(), now)
                {
                    for message in ready {
                        send(socket, message.json.clone()).await?;
                    }
                }
                Ok(())
            }
            Event::MessageUpdated { channel_id, .. } | Event::MessageDeleted { channel_id, .. } => {
                // A change never overtakes the message it changes.
                if self.channels.has_held(*channel_id) {
                    self.fill_holes(socket).await.map_err(stop_of)?;
                }
                if following(&self.channels, channel_id) {
                    send(socket, delivery.json.clone()).await?;
                }
                Ok(())
            }
            Event::Typing {
                channel_id,
                user_id,
                ..
            } => {
                if *user_id != self.who.user_id && following(&self.channels, channel_id) {
                    send(socket, delivery.json.clone()).await?;
                }
                Ok(())
            }
            Event::ChannelJoined { channel } => {
                let Ok(kind) = channel.kind.parse::<ChannelKind>() else {
                    tracing::warn!(kind = channel.kind, "channel.joined with an unknown kind");
                    return Ok(());
                };
                self.subscribe(channel_topic(channel.id));
                self.channels.follow(channel.id, kind, channel.last_seq);
                send(socket, delivery.json.clone()).await?;
                // Anything sent between the join and the subscription comes from Postgres.
                match channels_db::last_seq(&self.state.db, channel.id).await {
                    Ok(last_seq) => self
                        .fill(socket, channel.id, last_seq)
                        .await
                        .map_err(stop_of),
                    Err(_) => Ok(()),
                }
            }
            Event::ChannelLeft { channel_id } => {
                self.unsubscribe(&channel_topic(*channel_id));
                self.channels.unfollow(*channel_id);
                send(socket, delivery.json.clone()).await?;
                // Everyone is in their workspace's #general and cannot leave it: no channel
                // left means the user was deactivated or removed everywhere this socket was.
                if self.channels.is_empty() {
                    return Err(Stop::Close(CLOSE_SESSION_ENDED, "no conversations left"));
                }
                Ok(())
            }
            Event::SessionClosed { session_id, .. } => {
                if session_id.is_none() || *session_id == self.who.session_id {
                    Err(Stop::Close(CLOSE_SESSION_ENDED, "session ended"))
                } else {
                    Ok(())
                }
            }
            Event::Resync => {
                for channel_id in self.channels.ids() {
                    if let Ok(last_seq) = channels_db::last_seq(&self.state.db, channel_id).await {
                        self.fill(socket, channel_id, last_seq)
                            .await
                            .map_err(stop_of)?;
                    }
                }
                Ok(())
            }
            Event::Read { .. } | Event::Receipt { .. } | Event::Presence { .. } => {
                send(socket, delivery.json.clone()).await
            }
        }
    }

    /// The grace is over: reads each hole from Postgres, then sends what was held after it.
    async fn fill_holes(&mut self, socket: &mut Outgoing) -> Result<(), FrameError> {
        for (channel_id, newest) in self.channels.holes() {
            self.fill(socket, channel_id, newest).await?;
            for message in self.channels.release(channel_id) {
                send(socket, message.json.clone())
                    .await
                    .map_err(FrameError::Stop)?;
            }
        }
        self.channels.drop_held();
        Ok(())
    }

    /// Sends what the channel holds after the last seq sent, up to `upto`; past the cap, a
    /// `gap` tells the client to page through history instead.
    pub(super) async fn fill(
        &mut self,
        socket: &mut Outgoing,
        channel_id: i64,
        upto: i64,
    ) -> Result<(), FrameError> {
        match self.channels.catch_up(channel_id, upto) {
            CatchUp::Nothing => Ok(()),
            CatchUp::Gap { after, upto } => {
                let gap = serde_json::json!({ "type": "gap", "channel_id": channel_id, "after_seq": after, "last_seq": upto });
                send(socket, reply(gap)).await.map_err(FrameError::Stop)?;
                self.channels.sent_upto(channel_id, upto);
                Ok(())
            }
            CatchUp::Range { after, upto } => {
                let rows =
                    messages_db::range(&self.state.db, channel_id, after, upto, CATCH_UP_CAP)
                        .await
                        .map_err(|e| internal(&e))?;
                for row in rows {
                    let seq = row.message.seq;
                    let event = live::message_event(row, false).map_err(|e| internal(&e))?;
                    let json = serde_json::to_string(&event).expect("events always serialise");
                    send(socket, json).await.map_err(FrameError::Stop)?;
                    self.channels.sent_upto(channel_id, seq);
                }
                Ok(())
            }
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

fn stop_of(error: FrameError) -> Stop {
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

pub(super) async fn send(socket: &mut Outgoing, text: impl Into<Utf8Bytes>) -> Result<(), Stop> {
    socket
        .send(Message::Text(text.into()))
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
