//! The message log: sending, editing and deleting, in the order the server gives.
//!
//! [`send`] is the one way a message enters Natter (the web form, the socket, the Web API and
//! webhooks all go through it). It is one statement, so one round trip and one transaction:
//! take the channel's next seq under its row lock, insert, move the sender's `last_read_seq`,
//! record mentions, write the search and bot-event outboxes. A rollback returns the seq, so
//! seqs are gapless per channel; a retry with the same `client_msg_id` returns the stored
//! message and creates nothing.

pub mod db;
mod error;
mod handlers;
pub mod live;
pub mod page;
pub mod view;

use axum::Router;
use axum::routing::{self, get};
use sqlx::PgPool;

pub use db::{MessageRow, StoredMessage};
pub use error::SendError;

use crate::error::{AppError, violated_constraint};
use crate::index::outbox::{self, Op};
use crate::markdown;
use crate::state::AppState;

/// The longest message Natter stores, in characters.
pub const MAX_CHARS: usize = 40_000;
/// The longest idempotency key a client may send.
const MAX_CLIENT_MSG_ID: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/c/{channel_id}", get(page::show))
        .route(
            "/w/{slug}/c/{channel_id}/messages",
            get(handlers::history).post(handlers::post),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/edit",
            get(handlers::edit_form).post(handlers::edit),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/delete",
            routing::post(handlers::delete),
        )
}

/// A message about to be sent by a member of the channel.
pub struct NewMessage<'a> {
    pub channel_id: i64,
    pub user_id: i64,
    pub client_msg_id: Option<&'a str>,
    pub text: &'a str,
    /// A name shown instead of the user's (webhooks and bots may set one per message).
    pub sender_name: Option<&'a str>,
    /// An icon shown instead of the user's avatar: an https URL or an `:emoji:` code.
    pub sender_icon: Option<&'a str>,
}

impl<'a> NewMessage<'a> {
    pub fn new(channel_id: i64, user_id: i64, text: &'a str) -> Self {
        Self {
            channel_id,
            user_id,
            client_msg_id: None,
            text,
            sender_name: None,
            sender_icon: None,
        }
    }

    pub fn with_client_msg_id(mut self, client_msg_id: Option<&'a str>) -> Self {
        self.client_msg_id = client_msg_id;
        self
    }
}

/// The stored message with its author, and whether this call created it (false for an
/// idempotent retry).
#[derive(Debug)]
pub struct Sent {
    pub row: MessageRow,
    pub created: bool,
}

impl Sent {
    pub fn seq(&self) -> i64 {
        self.row.message.seq
    }
}

/// Sends as a member from any door (the form, the socket, the API): the user's rate limit,
/// then [`send`], then, once committed, the live event. The caller has checked membership.
pub async fn post(state: &AppState, new: NewMessage<'_>) -> Result<Sent, SendError> {
    if let Err(AppError::RateLimited {
        message,
        retry_after_secs,
    }) = state.send_limiter.check(new.user_id)
    {
        return Err(SendError::RateLimited {
            message,
            retry_after_secs,
        });
    }
    let sent = send(state, new).await?;
    if sent.created {
        publish_sent(state, &sent.row);
    }
    Ok(sent)
}

/// Publishes a stored message live. Stored is what matters: if this fails, clients pick the
/// message up when they resume.
pub fn publish_sent(state: &AppState, row: &MessageRow) {
    let channel_id = row.message.channel_id;
    if let Err(e) = live::message_sent(state, row.clone()) {
        tracing::warn!(error = %e, channel_id, "a sent message was not published live");
    }
}

/// Checks a body before anything is stored.
pub fn check_body(text: &str) -> Result<(), SendError> {
    if text.trim().is_empty() {
        return Err(SendError::Empty);
    }
    let chars = text.chars().count();
    if chars > MAX_CHARS {
        return Err(SendError::TooLong { chars });
    }
    Ok(())
}

/// Stores a message with the channel's next seq, in one statement ([`db::insert_sent`]). The
/// caller has checked membership.
pub async fn send(state: &AppState, new: NewMessage<'_>) -> Result<Sent, SendError> {
    let pool = &state.db;
    check_body(new.text)?;
    let client_msg_id = new.client_msg_id.map(str::trim).filter(|id| !id.is_empty());
    if client_msg_id.is_some_and(|id| id.len() > MAX_CLIENT_MSG_ID) {
        return Err(SendError::ClientMsgIdTooLong);
    }
    let mentioned = markdown::mentions(new.text);
    let outbox = state.search.reads_outbox();
    match db::insert_sent(pool, &new, client_msg_id, &mentioned, outbox).await {
        Ok(Some(row)) => Ok(Sent { row, created: true }),
        Ok(None) => Err(
            match db::refusal(pool, new.channel_id, new.user_id).await? {
                db::Refusal::Archived => SendError::Archived,
                db::Refusal::NotMember => SendError::NotMember,
            },
        ),
        // A retry of a stored message: the statement rolled back whole (its seq too), and the
        // answer is the message the first attempt stored.
        Err(e) if violated_constraint(&e) == Some("messages_client_msg_id_key") => {
            let id = client_msg_id.expect("only a client_msg_id can violate its key");
            let row = db::by_client_msg_id(pool, new.channel_id, new.user_id, id)
                .await?
                .ok_or_else(|| {
                    anyhow::anyhow!("client_msg_id conflict without a stored message")
                })?;
            Ok(Sent {
                row,
                created: false,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Replaces the text of the author's own message; mentions follow the new text.
pub async fn edit(
    pool: &PgPool,
    channel_id: i64,
    seq: i64,
    author_id: i64,
    text: &str,
) -> Result<StoredMessage, AppError> {
    check_body(text).map_err(AppError::from)?;
    let mentioned = markdown::mentions(text);
    let mut tx = pool.begin().await?;
    let message = db::update_body(&mut tx, channel_id, seq, author_id, text)
        .await?
        .ok_or(AppError::NotFound)?;
    db::delete_mentions(&mut tx, channel_id, seq).await?;
    db::insert_mentions(&mut tx, channel_id, seq, author_id, &mentioned).await?;
    outbox::enqueue(&mut tx, channel_id, seq, Op::Upsert).await?;
    tx.commit().await?;
    Ok(message)
}

/// Who deletes a message.
#[derive(Clone, Copy, Debug)]
pub enum DeletedBy {
    /// Its author: only their own.
    Author(i64),
    /// An owner or admin of its workspace: anyone's, recorded in the audit log.
    Admin { workspace_id: i64, actor_id: i64 },
}

/// Deletes a message, leaving a tombstone so the seq stays.
pub async fn delete(
    pool: &PgPool,
    channel_id: i64,
    seq: i64,
    by: DeletedBy,
) -> Result<(), AppError> {
    let mut tx = pool.begin().await?;
    let author = match by {
        DeletedBy::Author(id) => Some(id),
        DeletedBy::Admin { .. } => None,
    };
    let author_id = db::tombstone(&mut tx, channel_id, seq, author)
        .await?
        .ok_or(AppError::NotFound)?;
    if let DeletedBy::Admin {
        workspace_id,
        actor_id,
    } = by
        && author_id != actor_id
    {
        let target = format!("message {seq} in channel {channel_id} by user {author_id}");
        crate::audit::record(&mut *tx, workspace_id, actor_id, "message.delete", &target).await?;
    }
    db::delete_mentions(&mut tx, channel_id, seq).await?;
    outbox::enqueue(&mut tx, channel_id, seq, Op::Delete).await?;
    tx.commit().await?;
    Ok(())
}
