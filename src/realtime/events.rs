//! Publishing what happened, after it is committed. Domain code calls these; nothing here
//! writes to Postgres, and a lost event costs nothing but latency (clients resume by seq).

use time::format_description::well_known::Rfc3339;

use super::frames::{Event, WireChannel, WireMessage};
use super::{channel_topic, user_topic};
use crate::channels::db as channels_db;
use crate::error::AppError;
use crate::messages::db::{self as messages_db, MessageRow};
use crate::messages::view::{MessagePartial, shared_view};
use crate::web::AppState;
use crate::web::templates::render;

/// A message event built from a stored row; `updated` picks `message.updated`.
pub fn message_event(row: MessageRow, updated: bool) -> Result<Event, AppError> {
    let m = &row.message;
    let (channel_id, seq) = (m.channel_id, m.seq);
    let message = WireMessage {
        seq,
        user_id: m.user_id,
        text: m.body.clone(),
        client_msg_id: m.client_msg_id.clone(),
        created_at: m.created_at.format(&Rfc3339).unwrap_or_default(),
        edited_at: m.edited_at.and_then(|t| t.format(&Rfc3339).ok()),
    };
    let html = render(&MessagePartial {
        message: &shared_view(row),
    })?;
    Ok(if updated {
        Event::MessageUpdated {
            channel_id,
            seq,
            message,
            html,
        }
    } else {
        Event::Message {
            channel_id,
            seq,
            message,
            html,
        }
    })
}

/// A message was stored: everyone in the channel sees it.
/// A new message, as the send statement returned it (no read back).
pub fn message_sent(state: &AppState, row: MessageRow) -> Result<(), AppError> {
    let channel_id = row.message.channel_id;
    state
        .realtime
        .publish(&channel_topic(channel_id), message_event(row, false)?);
    Ok(())
}

pub async fn message_edited(state: &AppState, channel_id: i64, seq: i64) -> Result<(), AppError> {
    if let Some(row) = messages_db::message(&state.db, channel_id, seq).await? {
        state
            .realtime
            .publish(&channel_topic(channel_id), message_event(row, true)?);
    }
    Ok(())
}

pub fn message_deleted(state: &AppState, channel_id: i64, seq: i64) {
    state.realtime.publish(
        &channel_topic(channel_id),
        Event::MessageDeleted { channel_id, seq },
    );
}

/// The user is now in the channel: their open sockets subscribe to it at once.
pub async fn joined(state: &AppState, channel_id: i64, user_id: i64) -> Result<(), AppError> {
    if let Some(c) = channels_db::membership(&state.db, channel_id, user_id).await? {
        let channel = WireChannel {
            id: c.id,
            name: c.name,
            kind: c.kind,
            last_seq: c.last_seq,
            last_read_seq: c.last_read_seq,
        };
        state
            .realtime
            .publish(&user_topic(user_id), Event::ChannelJoined { channel });
    }
    Ok(())
}

/// The user left or was removed: their sockets stop receiving the channel at once.
pub fn left(state: &AppState, channel_id: i64, user_id: i64) {
    state
        .realtime
        .publish(&user_topic(user_id), Event::ChannelLeft { channel_id });
}

/// The user's read point moved: their other tabs follow, and in a DM the others see "Seen".
pub async fn read_moved(
    state: &AppState,
    channel_id: i64,
    user_id: i64,
    seq: i64,
) -> Result<(), AppError> {
    state
        .realtime
        .publish(&user_topic(user_id), Event::Read { channel_id, seq });
    if matches!(
        channels_db::kind_of(&state.db, channel_id)
            .await?
            .as_deref(),
        Some("dm" | "group_dm")
    ) {
        let receipt = Event::Receipt {
            channel_id,
            seq,
            user_id,
            status: "seen".into(),
        };
        state.realtime.publish(&channel_topic(channel_id), receipt);
    }
    Ok(())
}

/// The user's session ended (`session_id`), or all of them (`None`, on deactivation).
pub fn session_closed(state: &AppState, user_id: i64, session_id: Option<String>) {
    state.realtime.publish(
        &user_topic(user_id),
        Event::SessionClosed {
            user_id,
            session_id,
        },
    );
}
