//! What the message log publishes after a commit: a message sent, edited or deleted, as a
//! `channel:<id>` event carrying the message and its HTML from the page's own partial (one
//! renderer). Nothing here writes to Postgres, and a lost event costs nothing but latency:
//! clients resume by seq.

use time::format_description::well_known::Rfc3339;

use super::db::{self as messages_db, MessageRow};
use super::view::{MessagePartial, shared_view};
use crate::error::AppError;
use crate::realtime::frames::{Event, WireMessage};
use crate::realtime::{channel_topic, user_topic};
use crate::state::AppState;
use crate::web::templates::render;

/// A message event built from a stored row; `updated` picks `message.updated`. Sockets use it
/// too, for what they read from Postgres to catch up or fill a hole.
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
        thread_root_seq: m.thread_root_seq,
        reply_broadcast: m.reply_broadcast,
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

/// A message was stored: everyone in the channel sees it. The row is the one the send
/// statement returned, so nothing is read back. A reply also updates its root's summary for
/// everyone, and tells the thread's other followers they have a reply to read (both from what
/// the send statement returned too).
pub fn message_sent(state: &AppState, sent: &super::Sent) -> Result<(), AppError> {
    let channel_id = sent.row.message.channel_id;
    let root = sent.row.message.thread_root_seq;
    state.realtime.publish(
        &channel_topic(channel_id),
        message_event(sent.row.clone(), false)?,
    );
    if let (Some(root_seq), Some(news)) = (root, &sent.thread) {
        let summary = super::view::SummaryView::of_news(root_seq, news);
        state.realtime.publish(
            &channel_topic(channel_id),
            Event::ThreadUpdated {
                channel_id,
                root_seq,
                reply_count: news.reply_count,
                latest_reply_seq: Some(sent.row.message.seq),
                html: render(&super::view::ThreadSummary { message: &summary })?,
            },
        );
        for &(user_id, unread) in &news.followers {
            state.realtime.publish(
                &user_topic(user_id),
                Event::ThreadUnread {
                    channel_id,
                    root_seq,
                    unread,
                },
            );
        }
    }
    Ok(())
}

/// A root's summary changed (a reply sent or deleted): its line is drawn again for everyone.
pub async fn thread_updated(
    state: &AppState,
    channel_id: i64,
    root_seq: i64,
) -> Result<(), AppError> {
    let Some(root) = messages_db::message(&state.db, channel_id, root_seq).await? else {
        return Ok(());
    };
    let (reply_count, latest_reply_seq) = (root.message.reply_count, root.message.latest_reply_seq);
    let view = shared_view(root).summary();
    let html = render(&super::view::ThreadSummary { message: &view })?;
    state.realtime.publish(
        &channel_topic(channel_id),
        Event::ThreadUpdated {
            channel_id,
            root_seq,
            reply_count,
            latest_reply_seq,
            html,
        },
    );
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

/// A message became a tombstone; a deleted reply's root shows one reply fewer.
pub async fn message_deleted(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    root: Option<i64>,
) -> Result<(), AppError> {
    state.realtime.publish(
        &channel_topic(channel_id),
        Event::MessageDeleted { channel_id, seq },
    );
    if let Some(root_seq) = root {
        thread_updated(state, channel_id, root_seq).await?;
    }
    Ok(())
}
