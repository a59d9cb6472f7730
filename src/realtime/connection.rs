//! One socket's life: authenticate, `hello` → subscribe → `ready` → catch up → live.
//!
//! The connection remembers, per channel, the last seq it sent. A live message at or below
//! it is a duplicate and is dropped; one past a hole waits up to [`REORDER_GRACE`] for the
//! missing one (concurrent sends publish in a race), and a hole still open then is read from
//! Postgres first. So subscribing before catching up, and catching up while messages are being
//! sent, gives every message once and in order, whatever the bus does.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::{Notify, mpsc};
use tower_sessions::Session;

use super::frames::{ClientFrame, Event, Id, WireChannel, error_frame, reply};
use super::hub::{ConnHandle, ConnId, Delivery};
use super::presence::{self, Status};
use super::{channel_topic, events, presence_topic, user_topic};
use crate::auth::{session, tokens};
use crate::channels::db as channels_db;
use crate::error::AppError;
use crate::messages::{self, NewMessage, db as messages_db};
use crate::web::AppState;

/// Events waiting for one socket; a socket this far behind is closed with 4008.
const QUEUE: usize = 1024;
/// Messages replayed per channel on resume; past this the client gets a `gap` and pages.
pub const CATCH_UP_CAP: i64 = 500;
/// The largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;
/// Typing events per channel and connection, at most one per this interval.
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// How long a message that arrived ahead of its predecessor waits for it before the socket
/// reads the hole from Postgres. Two sends to one channel commit in seq order but publish in a
/// race, so the predecessor is almost always a moment behind; reading Postgres at once would
/// make every socket on the channel query it, ten thousand queries for one busy moment.
const REORDER_GRACE: Duration = Duration::from_millis(50);
/// Users one connection may watch the presence of.
const MAX_PRESENCE_WATCH: usize = 500;

pub const CLOSE_TOO_SLOW: u16 = 4008;
pub const CLOSE_SESSION_ENDED: u16 = 4001;
pub const CLOSE_NO_PING: u16 = 4000;

struct Who {
    user_id: i64,
    name: String,
    session_id: Option<String>,
}

pub async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let who = match authenticate(&state, &session, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    // tungstenite's default buffers cost ~128 KiB each per socket; chat frames are small.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            let connection = Connection::new(state, who);
            connection.run(socket).await;
        })
}

/// A bearer token (tools and bots), or the session cookie from a page of this site.
async fn authenticate(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> Result<Who, Response> {
    let refuse = |status: StatusCode, why: &str| (status, why.to_owned()).into_response();
    if let Some(token) = tokens::bearer(headers) {
        let user = tokens::user_for_token(&state.db, token)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "invalid_auth"))?;
        return Ok(Who {
            user_id: user.id,
            name: user.display_name,
            session_id: None,
        });
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(origin_of(&state.config.public_url)) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "cross-origin WebSocket refused: the Origin must be NATTER_PUBLIC_URL",
        ));
    }
    let user = session::current_user(session, state)
        .await
        .map_err(IntoResponse::into_response)?
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "not_authed"))?;
    Ok(Who {
        user_id: user.id,
        name: user.display_name,
        session_id: session.id().map(|id| id.to_string()),
    })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}

/// Why the loop stopped, and how to say so to the client.
enum Stop {
    Close(u16, &'static str),
    Gone,
}

struct Connection {
    state: AppState,
    who: Who,
    id: ConnId,
    handle: ConnHandle,
    rx: mpsc::Receiver<Arc<Delivery>>,
    overflowed: Arc<Notify>,
    topics: HashSet<String>,
    /// Per channel the user is in: the last seq this socket has sent.
    sent: HashMap<i64, i64>,
    /// Messages that arrived ahead of a missing seq, by (channel, seq), held for
    /// [`REORDER_GRACE`] until `held_until`.
    held: BTreeMap<(i64, i64), Arc<Delivery>>,
    held_until: Option<tokio::time::Instant>,
    kinds: HashMap<i64, String>,
    delivered: HashMap<i64, i64>,
    typing_at: HashMap<i64, Instant>,
    said_hello: bool,
    status: Status,
    last_ping: Instant,
}

impl Connection {
    fn new(state: AppState, who: Who) -> Self {
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
            sent: HashMap::new(),
            held: BTreeMap::new(),
            held_until: None,
            kinds: HashMap::new(),
            delivered: HashMap::new(),
            typing_at: HashMap::new(),
            said_hello: false,
            status: Status::Online,
            last_ping: Instant::now(),
        }
    }

    async fn run(mut self, socket: WebSocket) {
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
                () = sleep_until(self.held_until), if self.held_until.is_some() => {
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

    fn subscribe(&mut self, topic: String) {
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
    async fn refresh_presence(&self) {
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

    async fn on_frame(&mut self, socket: &mut Outgoing, text: &str) -> Result<(), Stop> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                return send(
                    socket,
                    error_frame("invalid_frame", &format!("cannot read that frame: {e}")),
                )
                .await;
            }
        };
        self.last_ping = Instant::now();
        let said_hello = self.said_hello;
        let result = match frame {
            ClientFrame::Hello { cursors } if !said_hello => self.hello(socket, cursors).await,
            ClientFrame::Hello { .. } => {
                return send(
                    socket,
                    error_frame("already_said_hello", "hello comes once per connection"),
                )
                .await;
            }
            ClientFrame::Ping => {
                self.refresh_presence().await;
                return send(socket, reply(serde_json::json!({ "type": "pong" }))).await;
            }
            _ if !said_hello => {
                return send(
                    socket,
                    error_frame("hello_first", "send hello before anything else"),
                )
                .await;
            }
            ClientFrame::Read { channel_id, seq } => self.read(channel_id, seq).await,
            ClientFrame::Delivered { channel_id, seq } => {
                self.delivered(channel_id, seq);
                Ok(())
            }
            ClientFrame::Typing { channel_id } => {
                self.typing(channel_id);
                Ok(())
            }
            ClientFrame::PresenceSubscribe { user_ids } => {
                self.watch_presence(socket, user_ids).await
            }
            ClientFrame::PresenceSet { status } => self.set_presence(&status).await,
            ClientFrame::Send {
                channel_id,
                client_msg_id,
                text,
            } => {
                return self
                    .send_message(socket, channel_id, client_msg_id, &text)
                    .await;
            }
        };
        match result {
            Ok(()) => Ok(()),
            Err(FrameError::Refused(code, message)) => {
                send(socket, error_frame(code, &message)).await
            }
            Err(FrameError::Stop(stop)) => Err(stop),
        }
    }

    async fn hello(
        &mut self,
        socket: &mut Outgoing,
        cursors: HashMap<String, i64>,
    ) -> Result<(), FrameError> {
        self.said_hello = true;
        let db = &self.state.db;
        // Subscribe first, then read where each channel is: nothing falls between the two.
        let before = channels_db::memberships(db, self.who.user_id)
            .await
            .map_err(internal)?;
        self.subscribe(user_topic(self.who.user_id));
        for channel in &before {
            self.subscribe(channel_topic(channel.id));
        }
        let channels = channels_db::memberships(&self.state.db, self.who.user_id)
            .await
            .map_err(internal)?;
        for channel in &channels {
            self.subscribe(channel_topic(channel.id));
            self.kinds.insert(channel.id, channel.kind.clone());
        }
        let wire: Vec<WireChannel> = channels
            .iter()
            .map(|c| WireChannel {
                id: c.id,
                name: c.name.clone(),
                kind: c.kind.clone(),
                last_seq: c.last_seq,
                last_read_seq: c.last_read_seq,
            })
            .collect();
        let ready =
            serde_json::json!({ "type": "ready", "user_id": self.who.user_id, "channels": wire });
        send(socket, reply(ready)).await.map_err(FrameError::Stop)?;
        self.status = Status::Online;
        self.refresh_presence().await;
        for channel in &channels {
            match cursors.get(&channel.id.to_string()) {
                Some(&cursor) => {
                    self.sent.insert(channel.id, cursor.max(0));
                    self.fill(socket, channel.id, channel.last_seq).await?;
                }
                // Not shown by the client: followed live from now on.
                None => {
                    self.sent.insert(channel.id, channel.last_seq);
                }
            }
        }
        Ok(())
    }

    /// Sends the held messages of the channel that now follow the last one sent, and forgets
    /// any the socket has sent meanwhile.
    async fn release(&mut self, socket: &mut Outgoing, channel_id: i64) -> Result<(), Stop> {
        let Some(&sent) = self.sent.get(&channel_id) else {
            return Ok(());
        };
        let mut sent = sent;
        self.held
            .retain(|&(c, seq), _| c != channel_id || seq > sent);
        while let Some(delivery) = self.held.remove(&(channel_id, sent + 1)) {
            sent += 1;
            self.sent.insert(channel_id, sent);
            send(socket, delivery.json.clone()).await?;
        }
        if self.held.is_empty() {
            self.held_until = None;
        }
        Ok(())
    }

    /// The grace is over: reads each hole from Postgres, then sends what was held after it.
    async fn fill_holes(&mut self, socket: &mut Outgoing) -> Result<(), FrameError> {
        let mut newest: HashMap<i64, i64> = HashMap::new();
        for &(channel_id, seq) in self.held.keys() {
            newest.insert(channel_id, seq);
        }
        for (channel_id, upto) in newest {
            self.fill(socket, channel_id, upto).await?;
            self.release(socket, channel_id)
                .await
                .map_err(FrameError::Stop)?;
        }
        self.held.clear();
        self.held_until = None;
        Ok(())
    }

    /// Sends what the channel holds after the last seq sent, up to `upto`; past the cap, a
    /// `gap` tells the client to page through history instead.
    async fn fill(
        &mut self,
        socket: &mut Outgoing,
        channel_id: i64,
        upto: i64,
    ) -> Result<(), FrameError> {
        let after = self.sent.get(&channel_id).copied().unwrap_or(upto);
        if upto <= after {
            return Ok(());
        }
        if upto - after > CATCH_UP_CAP {
            let gap = serde_json::json!({ "type": "gap", "channel_id": channel_id, "after_seq": after, "last_seq": upto });
            send(socket, reply(gap)).await.map_err(FrameError::Stop)?;
            self.sent.insert(channel_id, upto);
            return Ok(());
        }
        let rows = messages_db::range(&self.state.db, channel_id, after, upto, CATCH_UP_CAP)
            .await
            .map_err(internal)?;
        for row in rows {
            let seq = row.message.seq;
            let event =
                crate::realtime::events::message_event(row, false).map_err(|e| internal_app(&e))?;
            let json = serde_json::to_string(&event).expect("events always serialise");
            send(socket, json).await.map_err(FrameError::Stop)?;
            self.sent.insert(channel_id, seq);
        }
        Ok(())
    }

    async fn on_event(
        &mut self,
        socket: &mut Outgoing,
        delivery: &Arc<Delivery>,
    ) -> Result<(), Stop> {
        match &delivery.event {
            Event::Message {
                channel_id, seq, ..
            } => {
                let Some(&sent) = self.sent.get(channel_id) else {
                    return Ok(());
                };
                if *seq <= sent {
                    return Ok(());
                }
                if *seq > sent + 1 {
                    self.held.insert((*channel_id, *seq), delivery.clone());
                    self.held_until
                        .get_or_insert_with(|| tokio::time::Instant::now() + REORDER_GRACE);
                    return Ok(());
                }
                self.sent.insert(*channel_id, *seq);
                send(socket, delivery.json.clone()).await?;
                self.release(socket, *channel_id).await
            }
            Event::MessageUpdated { channel_id, .. } | Event::MessageDeleted { channel_id, .. } => {
                // A change never overtakes the message it changes.
                if self.held.keys().any(|(c, _)| c == channel_id) {
                    self.fill_holes(socket).await.map_err(stop_of)?;
                }
                if self.sent.contains_key(channel_id) {
                    send(socket, delivery.json.clone()).await
                } else {
                    Ok(())
                }
            }
            Event::Typing {
                channel_id,
                user_id,
                ..
            } => {
                if *user_id != self.who.user_id && self.sent.contains_key(channel_id) {
                    send(socket, delivery.json.clone()).await
                } else {
                    Ok(())
                }
            }
            Event::ChannelJoined { channel } => {
                let channel_id = channel.id;
                self.subscribe(channel_topic(channel_id));
                self.kinds.insert(channel_id, channel.kind.clone());
                self.sent.entry(channel_id).or_insert(channel.last_seq);
                send(socket, delivery.json.clone()).await?;
                // Anything sent between the join and the subscription comes from Postgres.
                match channels_db::last_seq(&self.state.db, channel_id).await {
                    Ok(last_seq) => self
                        .fill(socket, channel_id, last_seq)
                        .await
                        .map_err(stop_of),
                    Err(_) => Ok(()),
                }
            }
            Event::ChannelLeft { channel_id } => {
                self.unsubscribe(&channel_topic(*channel_id));
                self.sent.remove(channel_id);
                self.held.retain(|(c, _), _| c != channel_id);
                self.kinds.remove(channel_id);
                send(socket, delivery.json.clone()).await
            }
            Event::SessionClosed { session_id, .. } => {
                if session_id.is_none() || *session_id == self.who.session_id {
                    Err(Stop::Close(CLOSE_SESSION_ENDED, "session ended"))
                } else {
                    Ok(())
                }
            }
            Event::Resync => {
                let channels: Vec<i64> = self.sent.keys().copied().collect();
                for channel_id in channels {
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

    fn member_of(&self, channel_id: Id) -> Result<i64, FrameError> {
        if self.sent.contains_key(&channel_id.0) {
            Ok(channel_id.0)
        } else {
            Err(FrameError::Refused(
                "channel_not_found",
                "no such channel among yours".into(),
            ))
        }
    }

    async fn read(&mut self, channel_id: Id, seq: i64) -> Result<(), FrameError> {
        let channel_id = self.member_of(channel_id)?;
        let last_read_seq =
            channels_db::mark_read(&self.state.db, channel_id, self.who.user_id, seq)
                .await
                .map_err(internal)?;
        events::read_moved(&self.state, channel_id, self.who.user_id, last_read_seq)
            .await
            .map_err(|e| internal_app(&e))
    }

    fn delivered(&mut self, channel_id: Id, seq: i64) {
        let Ok(channel_id) = self.member_of(channel_id) else {
            return;
        };
        let is_dm = matches!(
            self.kinds.get(&channel_id).map(String::as_str),
            Some("dm" | "group_dm")
        );
        let before = self.delivered.get(&channel_id).copied().unwrap_or(0);
        let seq = seq.min(self.sent.get(&channel_id).copied().unwrap_or(0));
        if is_dm && seq > before {
            self.delivered.insert(channel_id, seq);
            let receipt = Event::Receipt {
                channel_id,
                seq,
                user_id: self.who.user_id,
                status: "delivered".into(),
            };
            self.state
                .realtime
                .publish(&channel_topic(channel_id), receipt);
        }
    }

    fn typing(&mut self, channel_id: Id) {
        let Ok(channel_id) = self.member_of(channel_id) else {
            return;
        };
        let now = Instant::now();
        if self
            .typing_at
            .get(&channel_id)
            .is_some_and(|at| now.duration_since(*at) < TYPING_EVERY)
        {
            return;
        }
        self.typing_at.insert(channel_id, now);
        let event = Event::Typing {
            channel_id,
            user_id: self.who.user_id,
            name: self.who.name.clone(),
        };
        self.state
            .realtime
            .publish(&channel_topic(channel_id), event);
    }

    async fn watch_presence(
        &mut self,
        socket: &mut Outgoing,
        user_ids: Vec<Id>,
    ) -> Result<(), FrameError> {
        for Id(user_id) in user_ids {
            let topic = presence_topic(user_id);
            if !self.topics.contains(&topic)
                && self.topics.len() > MAX_PRESENCE_WATCH + self.sent.len()
            {
                return Err(FrameError::Refused(
                    "too_many",
                    "watching too many people's presence".into(),
                ));
            }
            self.subscribe(topic);
            let status = self.state.realtime.presence.status(user_id).await;
            let frame = serde_json::to_string(&Event::Presence {
                user_id,
                status: status.as_str().to_owned(),
            })
            .expect("events always serialise");
            send(socket, frame).await.map_err(FrameError::Stop)?;
        }
        Ok(())
    }

    async fn set_presence(&mut self, status: &str) -> Result<(), FrameError> {
        self.status = match status {
            "online" | "active" => Status::Online,
            "away" | "idle" => Status::Away,
            _ => {
                return Err(FrameError::Refused(
                    "invalid_status",
                    "status is online or away".into(),
                ));
            }
        };
        self.refresh_presence().await;
        Ok(())
    }

    async fn send_message(
        &mut self,
        socket: &mut Outgoing,
        channel_id: Id,
        client_msg_id: Option<String>,
        text: &str,
    ) -> Result<(), Stop> {
        let outcome = match self.member_of(channel_id) {
            Ok(channel_id) => {
                let new = NewMessage::new(channel_id, self.who.user_id, text)
                    .with_client_msg_id(client_msg_id.as_deref());
                messages::post(&self.state, new).await
            }
            Err(_) => Err(AppError::NotFound),
        };
        let frame = match outcome {
            // The ack goes out only after the commit.
            Ok(sent) => serde_json::json!({
                "type": "ack",
                "client_msg_id": client_msg_id,
                "channel_id": sent.row.message.channel_id,
                "seq": sent.seq(),
            }),
            Err(error) => {
                let code = match &error {
                    AppError::NotFound => "channel_not_found",
                    AppError::Forbidden(_) => "not_in_channel",
                    AppError::Validation(_) if text.trim().is_empty() => "no_text",
                    AppError::Validation(_) if text.chars().count() > messages::MAX_CHARS => {
                        "msg_too_long"
                    }
                    AppError::Validation(_) => "invalid_message",
                    AppError::Conflict(_) => "is_archived",
                    AppError::RateLimited { .. } => "ratelimited",
                    AppError::Unauthorized => "not_authed",
                    AppError::Internal(e) => {
                        tracing::error!(error = format!("{e:#}"), "send over the socket failed");
                        "internal_error"
                    }
                };
                let message = match &error {
                    AppError::Internal(_) => "the message was not stored; send it again".to_owned(),
                    AppError::NotFound => "no such channel among yours".to_owned(),
                    other => other.to_string(),
                };
                serde_json::json!({ "type": "error", "code": code, "message": message, "client_msg_id": client_msg_id })
            }
        };
        send(socket, reply(frame)).await
    }
}

enum FrameError {
    Refused(&'static str, String),
    Stop(Stop),
}

fn internal(error: sqlx::Error) -> FrameError {
    tracing::error!(error = %error, "database error on a socket");
    FrameError::Refused(
        "internal_error",
        "something went wrong on the server; try again".into(),
    )
}

fn internal_app(error: &AppError) -> FrameError {
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

/// The sending half of a socket.
type Outgoing = SplitSink<WebSocket, Message>;

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

async fn send(socket: &mut Outgoing, text: impl Into<Utf8Bytes>) -> Result<(), Stop> {
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
