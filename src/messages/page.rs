//! The conversation page: a channel's header, its log, the "New messages" line and the
//! composer. It lives with the log it shows; the channel's own pages (details, browse) are
//! `channels/`'s.
//!
//! Opening the newest page of a channel marks it read up to its `last_seq`; the line is drawn
//! above the first message past the reader's previous `last_read_seq`. Older history is paged
//! by seq (`?before=<seq>`), so it works without JavaScript.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::view::{self, MessageView};
use crate::auth::CurrentUser;
use crate::channels::shell::Shell;
use crate::channels::{self, ChannelAccess, require_access};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

/// Messages per page of history.
pub const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "messages/page.html")]
pub struct ChannelPage {
    shell: Shell,
    access: ChannelAccess,
    /// "#general", or the names of the other people in a DM.
    title: String,
    base_path: String,
    messages: Vec<MessageView>,
    /// The first seq below the "New messages" line (0: no line).
    unread_from_seq: i64,
    /// The seq to page back from for older messages (0: this is the beginning).
    older_before: i64,
    /// Whether this page shows older history rather than the newest messages.
    viewing_history: bool,
    client_msg_id: String,
    draft: String,
    error: String,
    /// The longest message, for the script to refuse before sending (the server checks too).
    max_chars: usize,
    max_files: usize,
    /// The thread open beside the channel (`?thread=<root seq>`).
    thread: Option<ThreadPanel>,
}

/// A thread beside its channel: the root, its replies, and a composer of its own.
pub struct ThreadPanel {
    pub root_seq: i64,
    pub messages: Vec<MessageView>,
    /// The first reply below the "New replies" line (0: no line).
    pub unread_from_seq: i64,
    pub following: bool,
    pub client_msg_id: String,
}

impl ChannelPage {
    pub fn composer_label(&self) -> String {
        format!("Message {}", self.title)
    }

    pub fn is_member(&self) -> bool {
        self.access.last_read_seq.is_some()
    }
}

#[derive(Deserialize, Default)]
pub struct HistoryQuery {
    before: Option<i64>,
    /// A search result's seq: the page shows the messages around it, highlighted.
    around: Option<i64>,
    /// A thread's root: shown beside the channel.
    thread: Option<i64>,
}

/// What a channel page shows: which part of the log, and a thread beside it.
#[derive(Clone, Copy, Debug)]
pub struct Shown {
    pub position: Position,
    pub thread: Option<i64>,
}

/// Which part of the history a channel page shows.
#[derive(Clone, Copy, Debug)]
pub enum Position {
    Newest,
    Before(i64),
    Around(i64),
}

pub async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    Query(query): Query<HistoryQuery>,
) -> Result<Response, AppError> {
    render(
        &state,
        &me,
        &slug,
        channel_id,
        Shown {
            position: match (query.around, query.before) {
                (Some(seq), _) => Position::Around(seq),
                (None, Some(seq)) => Position::Before(seq),
                (None, None) => Position::Newest,
            },
            thread: query.thread,
        },
        Composer::default(),
        StatusCode::OK,
    )
    .await
}

/// What the composer shows: empty, or the user's text kept after an error.
#[derive(Default)]
pub struct Composer {
    pub draft: String,
    pub error: String,
}

pub async fn render(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    channel_id: i64,
    Shown { position, thread }: Shown,
    composer: Composer,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (workspace, access) = require_access(&state.db, slug, channel_id, me.id).await?;
    let base_path = channels::path(slug, channel_id);
    let (channel, csrf) = (&access.channel, &me.csrf);
    let (messages, older_before) = match position {
        Position::Around(seq) => {
            view::load_around(
                &state.db,
                channel,
                seq,
                PAGE_SIZE / 2,
                me.id,
                &base_path,
                csrf,
            )
            .await?
        }
        Position::Before(seq) => {
            view::load_page(
                &state.db,
                channel,
                Some(seq),
                PAGE_SIZE,
                me.id,
                &base_path,
                csrf,
            )
            .await?
        }
        Position::Newest => {
            view::load_page(&state.db, channel, None, PAGE_SIZE, me.id, &base_path, csrf).await?
        }
    };
    let mut messages = messages;
    if workspace.is_admin() {
        for message in &mut messages {
            message.moderate = true;
        }
    }
    let viewing_history = match position {
        Position::Newest => false,
        Position::Before(seq) => seq <= channel.last_seq,
        Position::Around(seq) => seq + PAGE_SIZE / 2 < channel.last_seq,
    };
    let mut unread_from_seq = 0;
    if let Some(last_read_seq) = access.last_read_seq {
        unread_from_seq = messages
            .iter()
            .find(|m| m.seq > last_read_seq && m.user_id != me.id)
            .map_or(0, |m| m.seq);
        if !viewing_history && last_read_seq < access.channel.last_seq {
            let seq =
                channels::db::mark_read(&state.db, channel_id, me.id, access.channel.last_seq)
                    .await?;
            crate::channels::live::read_moved(state, channel_id, me.id, seq).await?;
        }
    }
    let mut thread = match thread {
        Some(root_seq) => Some(thread_panel(state, me, &access, root_seq, &base_path).await?),
        None => None,
    };
    if let Some(panel) = &mut thread
        && workspace.is_admin()
    {
        for message in &mut panel.messages {
            message.moderate = true;
        }
    }
    // The sidebar is loaded after marking read, so this channel is not shown as unread.
    let shell = Shell::load(state, me, &workspace, channel_id).await?;
    let title = shell.title_of(&access);
    let page = ChannelPage {
        shell,
        access,
        title,
        base_path,
        messages,
        unread_from_seq,
        older_before,
        viewing_history,
        client_msg_id: uuid::Uuid::new_v4().to_string(),
        draft: composer.draft,
        error: composer.error,
        max_chars: super::MAX_CHARS,
        max_files: super::MAX_FILES,
        thread,
    };
    render_page(status, &page)
}

/// The thread panel's content; opening it marks the thread read for a follower. A root that
/// is not a top-level message of this channel is a 404, as for any missing message.
async fn thread_panel(
    state: &AppState,
    me: &CurrentUser,
    access: &ChannelAccess,
    root_seq: i64,
    base_path: &str,
) -> Result<ThreadPanel, AppError> {
    let channel_id = access.channel.id;
    let messages = view::load_thread(&state.db, channel_id, root_seq, me.id, base_path, &me.csrf)
        .await?
        .ok_or(AppError::NotFound)?;
    let follow = super::threads::read_index(&state.db, channel_id, root_seq, me.id).await?;
    let unread_from_seq = match follow {
        Some((true, read_index)) => messages
            .iter()
            .find(|m| m.reply_index > read_index && m.user_id != me.id)
            .map_or(0, |m| m.seq),
        _ => 0,
    };
    if access.last_read_seq.is_some() {
        super::threads::mark_read(state, channel_id, root_seq, me.id).await?;
    }
    Ok(ThreadPanel {
        root_seq,
        messages,
        unread_from_seq,
        following: matches!(follow, Some((true, _))),
        client_msg_id: uuid::Uuid::new_v4().to_string(),
    })
}
