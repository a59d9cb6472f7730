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
mod files;
mod handlers;
pub mod live;
pub mod page;
pub mod reactions;
pub mod threads;
pub mod view;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{self, get};
use sqlx::PgPool;

pub use db::{MessageRow, StoredMessage};
pub use error::SendError;
pub use files::delete_file;

use crate::error::{AppError, violated_constraint};
use crate::index::outbox::{self, Op};
use crate::markdown;
use crate::state::AppState;

/// The longest message Natter stores, in characters.
pub const MAX_CHARS: usize = 40_000;
/// The most files one message shares (as in Slack).
pub const MAX_FILES: usize = 10;
/// The longest idempotency key a client may send.
const MAX_CLIENT_MSG_ID: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/c/{channel_id}", get(page::show))
        .route(
            "/w/{slug}/c/{channel_id}/messages",
            get(handlers::history)
                .post(handlers::post)
                // A form with files streams them to storage, counted against
                // NATTER_MAX_UPLOAD_MB there; a form without is bounded by the CSRF check.
                .layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/edit",
            get(handlers::edit_form).post(handlers::edit),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/delete",
            routing::post(handlers::delete),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/reactions",
            routing::post(handlers::react),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/previews",
            routing::post(files::remove_previews),
        )
        .route("/files/{id}/delete", routing::post(files::delete))
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/pin",
            routing::post(handlers::pin),
        )
        .route(
            "/w/{slug}/c/{channel_id}/messages/{seq}/save",
            routing::post(handlers::save),
        )
        .route(
            "/w/{slug}/c/{channel_id}/threads/{root_seq}/follow",
            routing::post(threads::follow),
        )
        .route("/w/{slug}/c/{channel_id}/people", get(handlers::people))
        .route("/w/{slug}/c/{channel_id}/pins", get(handlers::pins))
        .route("/w/{slug}/threads", get(threads::index))
        .route("/w/{slug}/saved", get(handlers::saved))
        .route("/w/{slug}/emoji/frequent", get(handlers::frequent_emoji))
        .route("/emoji.json", get(handlers::emoji_catalogue))
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
    /// The root's seq, for a reply in a thread.
    pub thread_root_seq: Option<i64>,
    /// A reply that is also shown in the channel ("Also send to #channel").
    pub broadcast: bool,
    /// Uploaded files (ready, the sender's) that the message shares, in order.
    pub file_ids: &'a [String],
    /// Whether the message's links get previews (Slack's `unfurl_links`; on by default).
    pub unfurl: bool,
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
            thread_root_seq: None,
            broadcast: false,
            file_ids: &[],
            unfurl: true,
        }
    }

    /// Shares these uploaded files; the text may then be empty.
    pub fn with_files(mut self, file_ids: &'a [String]) -> Self {
        self.file_ids = file_ids;
        self
    }

    /// A reply in the thread under `root` (`None`: a top-level message), shown in the channel
    /// too when `broadcast`.
    pub fn in_thread(mut self, root: Option<i64>, broadcast: bool) -> Self {
        self.thread_root_seq = root;
        self.broadcast = root.is_some() && broadcast;
        self
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
    /// For a reply this call stored: what changed in its thread.
    pub thread: Option<ThreadNews>,
}

/// A reply's thread after it, as the send statement returned it: what `thread.updated` and
/// `thread.unread` say.
#[derive(Debug)]
pub struct ThreadNews {
    pub reply_count: i32,
    pub latest_reply_at: Option<time::OffsetDateTime>,
    /// The first three repliers: id and display name.
    pub repliers: Vec<(i64, String)>,
    /// The thread's other followers, with the replies each has not read.
    pub followers: Vec<(i64, i64)>,
}

impl From<db::SentRow> for Sent {
    fn from(sent: db::SentRow) -> Self {
        let thread = sent.root_reply_count.map(|reply_count| ThreadNews {
            reply_count,
            latest_reply_at: sent.root_latest_reply_at,
            repliers: sent
                .root_replier_ids
                .unwrap_or_default()
                .into_iter()
                .zip(sent.root_replier_names.unwrap_or_default())
                .collect(),
            followers: sent
                .follower_ids
                .unwrap_or_default()
                .into_iter()
                .zip(
                    sent.follower_unread
                        .unwrap_or_default()
                        .into_iter()
                        .map(i64::from),
                )
                .collect(),
        });
        Sent {
            row: sent.row,
            created: true,
            thread,
        }
    }
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
        publish_sent(state, &sent);
    }
    Ok(sent)
}

/// Publishes a stored message live. Stored is what matters: if this fails, clients pick the
/// message up when they resume.
pub fn publish_sent(state: &AppState, sent: &Sent) {
    let channel_id = sent.row.message.channel_id;
    if let Err(e) = live::message_sent(state, sent) {
        tracing::warn!(error = %e, channel_id, "a sent message was not published live");
    }
}

/// Checks a body before anything is stored.
pub fn check_body(text: &str) -> Result<(), SendError> {
    if text.trim().is_empty() {
        return Err(SendError::Empty);
    }
    check_length(text)
}

fn check_length(text: &str) -> Result<(), SendError> {
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
    if new.file_ids.is_empty() {
        check_body(new.text)?;
    } else {
        // A file's own message may say nothing (its comment is optional).
        check_length(new.text)?;
        if new.file_ids.len() > MAX_FILES {
            return Err(SendError::TooManyFiles);
        }
    }
    let client_msg_id = new.client_msg_id.map(str::trim).filter(|id| !id.is_empty());
    if client_msg_id.is_some_and(|id| id.len() > MAX_CLIENT_MSG_ID) {
        return Err(SendError::ClientMsgIdTooLong);
    }
    let usernames = markdown::mentions(new.text);
    let all = markdown::mention_all(&usernames);
    let online = match all {
        Some(word) => mention_all_allowed(state, &new, word).await?,
        None => Vec::new(),
    };
    let mentioned = db::Mentioned {
        usernames: &usernames,
        all,
        online: &online,
    };
    let outbox = state.search.reads_outbox();
    match db::insert_sent(pool, &new, client_msg_id, &mentioned, outbox).await {
        Ok(Some(mut sent)) => {
            // The statement cannot read back the shares it wrote; a message with files reads
            // its files once more.
            if !new.file_ids.is_empty() {
                sent.row.files = db::files_of(pool, new.channel_id, sent.row.message.seq).await?;
            }
            Ok(Sent::from(sent))
        }
        Ok(None) => Err(match db::refusal(pool, &new).await? {
            db::Refusal::Archived => SendError::Archived,
            db::Refusal::NotMember => SendError::NotMember,
            db::Refusal::ThreadNotFound => SendError::ThreadNotFound,
            db::Refusal::ReplyToReply => SendError::ReplyToReply,
            db::Refusal::FileNotFound => SendError::FileNotFound,
        }),
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
                thread: None,
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Checks the workspace's limit on @channel, @everyone and @here (admins may always; others
/// only in channels up to `mention_all_limit` members) and, for `@here`, finds the members
/// online now, who are the ones it mentions. Runs only for the rare message that says one.
async fn mention_all_allowed(
    state: &AppState,
    new: &NewMessage<'_>,
    word: &'static str,
) -> Result<Vec<i64>, SendError> {
    let rule = db::mention_all_rule(&state.db, new.channel_id, new.user_id).await?;
    if let Some(limit) = rule.limit
        && !rule.sender_is_admin
        && rule.members > i64::from(limit)
    {
        return Err(SendError::MentionAllRestricted { word, limit });
    }
    if word != "here" {
        return Ok(Vec::new());
    }
    let members = crate::channels::db::member_ids(&state.db, new.channel_id).await?;
    Ok(state.realtime.presence.online_among(&members).await)
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

/// Deletes a message, leaving a tombstone so the seq stays (a root's thread stays with it).
/// Returns the root of a deleted reply, whose summary changed.
pub async fn delete(
    pool: &PgPool,
    channel_id: i64,
    seq: i64,
    by: DeletedBy,
) -> Result<Option<i64>, AppError> {
    let mut tx = pool.begin().await?;
    let author = match by {
        DeletedBy::Author(id) => Some(id),
        DeletedBy::Admin { .. } => None,
    };
    let (author_id, root) = db::tombstone(&mut tx, channel_id, seq, author)
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
    Ok(root)
}
