//! What a client may ask of its socket: one method per client frame (`docs/protocol.md`).
//!
//! `hello` comes first and once; everything else before it is refused. A frame that cannot be
//! read, or names a channel the user is not in, gets an `error` frame and the socket stays
//! open. Sending goes through `messages::post`, the same path as every other door.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::connection::{Connection, FrameError, Outgoing, Stop, internal, send};
use crate::auth::membership;
use crate::channels::db as channels_db;
use crate::channels::live as channels_live;
use crate::messages::{self, NewMessage, SendError};
use crate::realtime::frames::{ClientFrame, Event, Id, WireChannel, error_frame, reply};
use crate::realtime::presence::Status;
use crate::realtime::{channel_topic, presence_topic, user_topic};

/// Typing events per channel and connection, at most one per this interval.
const TYPING_EVERY: Duration = Duration::from_secs(3);
/// Users one connection may watch the presence of.
const MAX_PRESENCE_WATCH: usize = 500;

impl Connection {
    pub(super) async fn on_frame(&mut self, socket: &mut Outgoing, text: &str) -> Result<(), Stop> {
        let frame = match serde_json::from_str::<ClientFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                let why = format!("cannot read that frame: {e}");
                return send(socket, error_frame("invalid_frame", &why)).await;
            }
        };
        self.last_ping = Instant::now();
        // `send` has the sender's own limit (messages::post); everything else spends from
        // this socket's frame budget.
        let limited = self.state.config.rate_limits && !matches!(frame, ClientFrame::Send { .. });
        if limited && !self.budget.spend() {
            let why = "too many frames: slow down";
            return send(socket, error_frame("ratelimited", why)).await;
        }
        let result = match frame {
            ClientFrame::Hello { cursors } if !self.said_hello => self.hello(socket, cursors).await,
            ClientFrame::Hello { .. } => Err(FrameError::Refused(
                "already_said_hello",
                "hello comes once per connection".into(),
            )),
            ClientFrame::Ping => {
                self.refresh_presence().await;
                return send(socket, reply(serde_json::json!({ "type": "pong" }))).await;
            }
            _ if !self.said_hello => Err(FrameError::Refused(
                "hello_first",
                "send hello before anything else".into(),
            )),
            ClientFrame::Read { channel_id, seq } => self.read(channel_id, seq).await,
            ClientFrame::Delivered { channel_id, seq } => self.delivered(channel_id, seq),
            ClientFrame::Typing { channel_id } => self.typing(channel_id),
            ClientFrame::PresenceSubscribe { user_ids } => {
                self.watch_presence(socket, user_ids).await
            }
            ClientFrame::PresenceSet { status } => self.set_presence(&status).await,
            ClientFrame::Send {
                channel_id,
                client_msg_id,
                text,
                thread_root_seq,
                broadcast,
                file_ids,
            } => {
                let thread = (thread_root_seq, broadcast);
                let body = (text.as_str(), file_ids.as_slice());
                return self
                    .send_message(socket, channel_id, client_msg_id, body, thread)
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

    /// Subscribes first, then reads where each channel is (so nothing falls between the two),
    /// answers `ready`, and catches up after each cursor the client gave.
    async fn hello(
        &mut self,
        socket: &mut Outgoing,
        cursors: HashMap<String, i64>,
    ) -> Result<(), FrameError> {
        self.said_hello = true;
        let user_id = self.who.user_id;
        let before = channels_db::memberships(&self.state.db, user_id)
            .await
            .map_err(|e| internal(&e))?;
        self.subscribe(user_topic(user_id));
        for channel in &before {
            self.subscribe(channel_topic(channel.id));
        }
        let channels = channels_db::memberships(&self.state.db, user_id)
            .await
            .map_err(|e| internal(&e))?;
        for channel in &channels {
            self.subscribe(channel_topic(channel.id));
        }
        let wire: Vec<WireChannel> = channels
            .iter()
            .map(|c| WireChannel {
                id: c.id,
                name: c.name.clone(),
                kind: c.kind.as_str().to_owned(),
                last_seq: c.last_seq,
                last_read_seq: c.last_read_seq,
                last_shown_seq: c.last_shown_seq,
            })
            .collect();
        let ready = serde_json::json!({ "type": "ready", "user_id": user_id, "channels": wire });
        send(socket, reply(ready)).await.map_err(FrameError::Stop)?;
        self.status = Status::Online;
        self.refresh_presence().await;
        for channel in &channels {
            match cursors.get(&channel.id.to_string()) {
                Some(&cursor) => {
                    self.channels.follow(channel.id, channel.kind, cursor);
                    self.fill(socket, channel.id, channel.last_seq).await?;
                }
                // Not shown by the client: followed live from now on.
                None => self
                    .channels
                    .follow(channel.id, channel.kind, channel.last_seq),
            }
        }
        Ok(())
    }

    /// The channel, if this socket follows it; a channel the user is not in is refused as if
    /// it did not exist.
    fn member_of(&self, channel_id: Id) -> Result<i64, FrameError> {
        match self.channels.get(channel_id.0) {
            Some(_) => Ok(channel_id.0),
            None => Err(FrameError::Refused(
                "channel_not_found",
                "no such channel among yours".into(),
            )),
        }
    }

    async fn read(&mut self, channel_id: Id, seq: i64) -> Result<(), FrameError> {
        let channel_id = self.member_of(channel_id)?;
        let user_id = self.who.user_id;
        let last_read_seq = channels_db::mark_read(&self.state.db, channel_id, user_id, seq)
            .await
            .map_err(|e| internal(&e))?;
        channels_live::read_moved(&self.state, channel_id, user_id, last_read_seq)
            .await
            .map_err(|e| internal(&e))
    }

    /// The client has the DM's messages up to `seq`: the others see "Delivered". Never past
    /// what this socket sent, and never backwards.
    fn delivered(&mut self, channel_id: Id, seq: i64) -> Result<(), FrameError> {
        let Ok(channel_id) = self.member_of(channel_id) else {
            return Ok(());
        };
        let Some(channel) = self.channels.get_mut(channel_id) else {
            return Ok(());
        };
        let seq = seq.min(channel.sent);
        if !channel.kind.is_dm() || seq <= channel.delivered {
            return Ok(());
        }
        channel.delivered = seq;
        let receipt = Event::Receipt {
            channel_id,
            seq,
            user_id: self.who.user_id,
            status: "delivered".into(),
        };
        self.state
            .realtime
            .publish(&channel_topic(channel_id), receipt);
        Ok(())
    }

    fn typing(&mut self, channel_id: Id) -> Result<(), FrameError> {
        let Ok(channel_id) = self.member_of(channel_id) else {
            return Ok(());
        };
        let Some(channel) = self.channels.get_mut(channel_id) else {
            return Ok(());
        };
        let now = tokio::time::Instant::now();
        if channel
            .typing_at
            .is_some_and(|at| now.duration_since(at) < TYPING_EVERY)
        {
            return Ok(());
        }
        channel.typing_at = Some(now);
        let event = Event::Typing {
            channel_id,
            user_id: self.who.user_id,
            name: self.who.name.clone(),
        };
        self.state
            .realtime
            .publish(&channel_topic(channel_id), event);
        Ok(())
    }

    async fn watch_presence(
        &mut self,
        socket: &mut Outgoing,
        user_ids: Vec<Id>,
    ) -> Result<(), FrameError> {
        // Only people who share a workspace with this user: presence says who is online, and
        // ids from elsewhere on the instance are no one's business here.
        let asked: Vec<i64> = user_ids.iter().map(|id| id.0).collect();
        let visible = membership::sharing_a_workspace(&self.state.db, self.who.user_id, &asked)
            .await
            .map_err(|e| internal(&e))?;
        for user_id in asked.into_iter().filter(|id| visible.contains(id)) {
            let topic = presence_topic(user_id);
            if !self.topics.contains(&topic)
                && self.topics.len() > MAX_PRESENCE_WATCH + self.channels.len()
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
        // And who of them asked not to be disturbed (a moon on their avatar).
        let resting = crate::notifications::db::in_dnd(&self.state.db, &visible)
            .await
            .map_err(|e| internal(&e))?;
        for (user_id, until) in resting {
            let frame = serde_json::to_string(&Event::Dnd {
                user_id,
                until: Some(until.unix_timestamp()),
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

    /// Sends through `messages::post`; the `ack` goes out only after the commit, and a refusal
    /// carries the reason's code and the `client_msg_id`, so the client can show it.
    async fn send_message(
        &mut self,
        socket: &mut Outgoing,
        channel_id: Id,
        client_msg_id: Option<String>,
        (text, file_ids): (&str, &[String]),
        (thread_root_seq, broadcast): (Option<i64>, bool),
    ) -> Result<(), Stop> {
        let Ok(channel_id) = self.member_of(channel_id) else {
            let refused = serde_json::json!({ "type": "error", "code": "channel_not_found", "message": "no such channel among yours", "client_msg_id": client_msg_id });
            return send(socket, reply(refused)).await;
        };
        let new = NewMessage::new(channel_id, self.who.user_id, text)
            .with_client_msg_id(client_msg_id.as_deref())
            .in_thread(thread_root_seq, broadcast)
            .with_files(file_ids);
        let frame = match messages::post(&self.state, new).await {
            Ok(sent) => serde_json::json!({
                "type": "ack",
                "client_msg_id": client_msg_id,
                "channel_id": channel_id,
                "seq": sent.seq(),
            }),
            Err(error) => {
                let message = match &error {
                    SendError::Internal(cause) => {
                        tracing::error!(
                            error = format!("{cause:#}"),
                            "send over the socket failed"
                        );
                        "the message was not stored; send it again".to_owned()
                    }
                    other => other.to_string(),
                };
                serde_json::json!({ "type": "error", "code": error.code(), "message": message, "client_msg_id": client_msg_id })
            }
        };
        send(socket, reply(frame)).await
    }
}
