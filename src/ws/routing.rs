//! What a socket does with each event from the hub: which reach the client, in what order,
//! and which only steer the socket (a join, a leave, a session's end, a resync after a bus
//! outage); and catching a channel up from Postgres when a hole or a join needs it.

use std::sync::Arc;

use super::CLOSE_SESSION_ENDED;
use super::connection::{Connection, FrameError, Outgoing, Stop, internal, send, stop_of};
use super::ordering::{Arrival, CATCH_UP_CAP, CatchUp, Channels};
use crate::auth::membership;
use crate::channels::ChannelKind;
use crate::channels::db as channels_db;
use crate::messages::{db as messages_db, live};
use crate::realtime::channel_topic;
use crate::realtime::frames::{Event, reply};
use crate::realtime::hub::Delivery;

impl Connection {
    /// Routes one event from the hub: what reaches the client, in what order, and what only
    /// steers this socket.
    pub(super) async fn on_event(
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
            Event::Batch { channel_id, .. } => {
                if self.channels.has_held(*channel_id) {
                    self.fill_holes(socket).await.map_err(stop_of)?;
                }
                if following(&self.channels, channel_id) {
                    for part in &delivery.parts {
                        send(socket, part.clone()).await?;
                    }
                }
                Ok(())
            }
            Event::MessageUpdated { channel_id, .. }
            | Event::MessageDeleted { channel_id, .. }
            | Event::ThreadUpdated { channel_id, .. }
            | Event::ReactionAdded { channel_id, .. }
            | Event::ReactionRemoved { channel_id, .. }
            | Event::PinAdded { channel_id, .. }
            | Event::PinRemoved { channel_id, .. } => {
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
                // No channel left: a guest may simply have left their last one, but a user
                // with no active workspace was deactivated or removed everywhere, and the
                // socket ends (asked only when the last channel goes, so rarely).
                if self.channels.is_empty()
                    && !membership::has_active_workspace(&self.state.db, self.who.user_id)
                        .await
                        .unwrap_or(true)
                {
                    return Err(Stop::Close(CLOSE_SESSION_ENDED, "no workspace left"));
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
            Event::Read { .. }
            | Event::Receipt { .. }
            | Event::Presence { .. }
            | Event::Dnd { .. }
            | Event::UserUpdated { .. }
            | Event::Notification { .. }
            | Event::ThreadUnread { .. }
            | Event::Saved { .. } => send(socket, delivery.json.clone()).await,
        }
    }

    /// The grace is over: reads each hole from Postgres, then sends what was held after it.
    pub(super) async fn fill_holes(&mut self, socket: &mut Outgoing) -> Result<(), FrameError> {
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
