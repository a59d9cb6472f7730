//! Posting, editing and deleting from the browser, and history as JSON for scripts.
//!
//! Forms answer with a redirect back to the channel (so a reload never reposts); scripts that
//! ask for JSON get the stored message and its rendered HTML.

use askama::Template;
use axum::extract::{FromRequest, Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::page::{self, Composer};
use super::view::{self, MessagePartial, MessageView};
use super::{DeletedBy, NewMessage, db};
use crate::auth::CurrentUser;
use crate::channels::shell::Shell;
use crate::channels::{self, require_access, require_member};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::{render, render_page};

#[derive(Default, Deserialize)]
pub struct PostForm {
    #[serde(default)]
    pub(super) text: String,
    #[serde(default)]
    pub(super) client_msg_id: Option<String>,
    /// A reply: the thread's root.
    #[serde(default)]
    pub(super) thread_root_seq: Option<i64>,
    /// "Also send to #channel", a checkbox: present when ticked.
    #[serde(default)]
    pub(super) broadcast: Option<String>,
    /// Files the script uploaded first (`POST /w/<slug>/files`), comma-separated ids.
    #[serde(default)]
    pub(super) files: Option<String>,
}

impl PostForm {
    fn file_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = Vec::new();
        for id in self.files.iter().flat_map(|f| f.split(',')).map(str::trim) {
            if !id.is_empty() && !ids.iter().any(|seen| seen == id) {
                ids.push(id.to_owned());
            }
        }
        ids
    }
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    text: String,
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    before: Option<i64>,
    limit: Option<i64>,
}

#[derive(Template)]
#[template(path = "messages/edit.html")]
struct EditPage {
    shell: Shell,
    title: String,
    message: MessageView,
    text: String,
    error: String,
}

pub(super) use crate::web::wants_json;

pub async fn post(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    request: Request,
) -> Result<Response, AppError> {
    let (workspace, _) = require_member(&state.db, &slug, channel_id, me.id).await?;
    let headers = request.headers().clone();
    // A form with files (without the script, the composer's file input) is multipart, and
    // its files are stored as they arrive; otherwise the script uploaded them first and
    // names them in `files`.
    let (form, mut file_ids) = if super::files::is_multipart(&headers) {
        super::files::read_form(&state, workspace.id, me.id, request).await?
    } else {
        // The route streams uploads, so its body is bounded here, not by the router.
        let (parts, body) = request.into_parts();
        let bytes = axum::body::to_bytes(body, crate::auth::csrf::MAX_FORM_BYTES)
            .await
            .map_err(|_| AppError::Validation("That form is too large.".into()))?;
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        let Form(form) = Form::<PostForm>::from_request(request, &state)
            .await
            .map_err(|e| AppError::Validation(e.body_text()))?;
        (form, Vec::new())
    };
    file_ids.extend(form.file_ids());
    let new = NewMessage::new(channel_id, me.id, &form.text)
        .with_client_msg_id(form.client_msg_id.as_deref())
        .in_thread(form.thread_root_seq, form.broadcast.is_some())
        .with_files(&file_ids);
    let back = match form.thread_root_seq {
        Some(root) => format!("{}?thread={root}", channels::path(&slug, channel_id)),
        None => channels::path(&slug, channel_id),
    };
    let outcome = super::post(&state, new).await.map_err(AppError::from);
    match outcome {
        Ok(sent) if wants_json(&headers) => {
            let base_path = channels::path(&slug, channel_id);
            let one = view::load_one(
                &state.db,
                channel_id,
                sent.seq(),
                me.id,
                &base_path,
                &me.csrf,
            )
            .await?
            .ok_or_else(|| anyhow::anyhow!("a sent message is missing"))?;
            let status = if sent.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = serde_json::json!({
                "ok": true,
                "channel_id": channel_id,
                "seq": sent.seq(),
                "client_msg_id": sent.row.message.client_msg_id,
                "html": render(&MessagePartial { message: &one })?,
            });
            Ok((status, Json(body)).into_response())
        }
        Ok(_) => Ok(Redirect::to(&back).into_response()),
        // A form keeps the person's text in the composer, with what to fix above it.
        Err(error @ (AppError::Validation(_) | AppError::RateLimited { .. }))
            if !wants_json(&headers) =>
        {
            let status = error.status();
            let composer = Composer {
                draft: form.text,
                error: error.to_string(),
            };
            page::render(
                &state,
                &me,
                &slug,
                channel_id,
                page::Shown {
                    position: page::Position::Newest,
                    thread: form.thread_root_seq,
                },
                composer,
                status,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

/// `GET …/messages?before=<seq>`: older messages as rendered HTML, for infinite scroll.
pub async fn history(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    Query(query): Query<HistoryQuery>,
) -> Result<Json<serde_json::Value>, AppError> {
    let (_, access) = require_access(&state.db, &slug, channel_id, me.id).await?;
    let base_path = channels::path(&slug, channel_id);
    let limit = query.limit.unwrap_or(page::PAGE_SIZE).clamp(1, 200);
    let (messages, older_before) = view::load_page(
        &state.db,
        &access.channel,
        query.before,
        limit,
        me.id,
        &base_path,
        &me.csrf,
    )
    .await?;
    let mut items = Vec::with_capacity(messages.len());
    for message in &messages {
        items.push(serde_json::json!({
            "seq": message.seq,
            "user_id": message.user_id,
            "html": render(&MessagePartial { message })?,
        }));
    }
    Ok(Json(serde_json::json!({
        "channel_id": channel_id,
        "last_seq": access.channel.last_seq,
        "older_before": older_before,
        "messages": items,
    })))
}

async fn own_message(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    channel_id: i64,
    seq: i64,
) -> Result<(Shell, String, MessageView, String), AppError> {
    let (workspace, access) = require_member(&state.db, slug, channel_id, me.id).await?;
    let row = db::message(&state.db, channel_id, seq)
        .await?
        .ok_or(AppError::NotFound)?;
    if row.message.user_id != me.id || row.message.deleted_at.is_some() {
        return Err(AppError::NotFound);
    }
    let text = row.message.body.clone();
    let base_path = channels::path(slug, channel_id);
    let message = view::load_one(&state.db, channel_id, seq, me.id, &base_path, &me.csrf)
        .await?
        .ok_or(AppError::NotFound)?;
    let shell = Shell::load(state, me, &workspace, channel_id).await?;
    let title = shell.title_of(&access);
    Ok((shell, title, message, text))
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
) -> Result<Response, AppError> {
    let (shell, title, message, text) = own_message(&state, &me, &slug, channel_id, seq).await?;
    render_page(
        StatusCode::OK,
        &EditPage {
            shell,
            title,
            message,
            text,
            error: String::new(),
        },
    )
}

pub async fn edit(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    Form(form): Form<EditForm>,
) -> Result<Response, AppError> {
    let (shell, title, message, _) = own_message(&state, &me, &slug, channel_id, seq).await?;
    match super::edit(&state.db, channel_id, seq, me.id, &form.text).await {
        Ok(edited) => {
            super::live::message_edited(&state, channel_id, seq).await?;
            // A reply goes back to its thread.
            let back = match edited.thread_root_seq {
                Some(root) => format!("{}?thread={root}", channels::path(&slug, channel_id)),
                None => channels::path(&slug, channel_id),
            };
            Ok(Redirect::to(&back).into_response())
        }
        Err(AppError::Validation(error)) => render_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &EditPage {
                shell,
                title,
                message,
                text: form.text,
                error,
            },
        ),
        Err(other) => Err(other),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    headers: HeaderMap,
) -> Result<Redirect, AppError> {
    // An admin may delete anyone's message in a channel they can read; others their own.
    let (workspace, access) = require_access(&state.db, &slug, channel_id, me.id).await?;
    let by = if workspace.is_admin() {
        DeletedBy::Admin {
            workspace_id: workspace.id,
            actor_id: me.id,
        }
    } else {
        if access.last_read_seq.is_none() {
            return Err(AppError::NotFound);
        }
        DeletedBy::Author(me.id)
    };
    let root = super::delete(&state.db, channel_id, seq, by).await?;
    super::live::message_deleted(&state, channel_id, seq, root).await?;
    Ok(Redirect::to(&back_to(&slug, channel_id, &headers)))
}

// ---------------------------------------------------------------- reactions, pins, saves

#[derive(Deserialize)]
pub struct ReactForm {
    #[serde(default)]
    name: String,
}

/// Where a form about one message goes back to: its thread, if it is in one, or the channel.
fn back_to(slug: &str, channel_id: i64, headers: &HeaderMap) -> String {
    let channel = channels::path(slug, channel_id);
    // The Referer is only trusted to keep a `?thread=` open on the same channel's page.
    headers
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.split_once(&format!("{channel}?thread=")))
        .and_then(|(_, root)| root.parse::<i64>().ok())
        .map_or(channel.clone(), |root| format!("{channel}?thread={root}"))
}

/// A member of the channel, for changing what is attached to its messages.
async fn member_of(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    channel_id: i64,
) -> Result<(), AppError> {
    let (_, access) = require_access(&state.db, slug, channel_id, me.id).await?;
    if access.last_read_seq.is_none() {
        return Err(AppError::NotFound);
    }
    if access.channel.archived {
        return Err(AppError::Conflict(
            "This channel is archived; nothing in it can change.".into(),
        ));
    }
    Ok(())
}

/// `POST …/messages/<seq>/reactions` with `name`: toggles the reader's reaction.
pub async fn react(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<ReactForm>,
) -> Result<Response, AppError> {
    member_of(&state, &me, &slug, channel_id).await?;
    let change = super::reactions::toggle(&state, channel_id, seq, me.id, &form.name).await?;
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({
            "ok": true, "name": change.name, "count": change.count, "added": change.added,
        }))
        .into_response());
    }
    Ok(Redirect::to(&back_to(&slug, channel_id, &headers)).into_response())
}

#[derive(Deserialize)]
pub struct PinForm {
    #[serde(default)]
    pin: String,
}

/// `POST …/messages/<seq>/pin` with `pin=1` or `0`.
pub async fn pin(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<PinForm>,
) -> Result<Response, AppError> {
    member_of(&state, &me, &slug, channel_id).await?;
    let pinned = form.pin != "0";
    super::reactions::set_pinned(&state, channel_id, seq, me.id, pinned).await?;
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "ok": true, "pinned": pinned })).into_response());
    }
    Ok(Redirect::to(&back_to(&slug, channel_id, &headers)).into_response())
}

#[derive(Deserialize)]
pub struct SaveForm {
    #[serde(default)]
    save: String,
}

/// `POST …/messages/<seq>/save` with `save=1` or `0`. Reading is enough to save.
pub async fn save(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    headers: HeaderMap,
    Form(form): Form<SaveForm>,
) -> Result<Response, AppError> {
    require_access(&state.db, &slug, channel_id, me.id).await?;
    let saved = form.save != "0";
    super::reactions::set_saved(&state, channel_id, seq, me.id, saved).await?;
    if wants_json(&headers) {
        return Ok(Json(serde_json::json!({ "ok": true, "saved": saved })).into_response());
    }
    Ok(Redirect::to(&back_to(&slug, channel_id, &headers)).into_response())
}

/// A saved message as the Saved view lists it.
pub struct SavedItem {
    pub channel_id: i64,
    pub channel_title: String,
    pub message: MessageView,
    pub href: String,
}

#[derive(Template)]
#[template(path = "messages/saved.html")]
struct SavedPage {
    shell: Shell,
    items: Vec<SavedItem>,
}

/// `GET /w/<slug>/saved`: the reader's saved messages, newest save first.
pub async fn saved(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = crate::auth::membership::require_member(&state.db, &slug, me.id).await?;
    let rows = super::reactions::saved(&state.db, workspace.id, me.id).await?;
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows {
        let (channel_id, seq) = (row.message.channel_id, row.message.seq);
        let base = channels::path(&slug, channel_id);
        let href = match row.message.thread_root_seq {
            Some(root) => format!("{base}?thread={root}#t-{seq}"),
            None => format!("{base}?around={seq}#m-{seq}"),
        };
        let Some(message) =
            view::load_one(&state.db, channel_id, seq, me.id, &base, &me.csrf).await?
        else {
            continue;
        };
        items.push(SavedItem {
            channel_id,
            channel_title: shell.title_of_id(channel_id),
            message,
            href,
        });
    }
    render_page(StatusCode::OK, &SavedPage { shell, items })
}

/// `GET /emoji.json`: the standard set for the picker and `:` completion (the same for
/// everyone and every release of this binary, so cached for a day).
pub async fn emoji_catalogue() -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        crate::emoji::CATALOGUE.as_str(),
    )
        .into_response()
}

/// `GET /w/<slug>/emoji/frequent`: the reader's most used reactions, for the picker.
pub async fn frequent_emoji(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    crate::auth::membership::require_member(&state.db, &slug, me.id).await?;
    let names = super::reactions::frequent(&state.db, me.id).await?;
    Ok(Json(serde_json::json!({ "names": names })))
}

/// `GET …/c/<id>/people`: the conversation's members, for the composer's `@` completion
/// (with the words that mention many, which complete too).
pub async fn people(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Json<serde_json::Value>, AppError> {
    require_access(&state.db, &slug, channel_id, me.id).await?;
    let members = channels::db::members_of(&state.db, channel_id).await?;
    let people: Vec<_> = members
        .iter()
        .map(|m| serde_json::json!({ "username": m.username, "name": m.display_name }))
        .collect();
    Ok(Json(serde_json::json!({ "people": people })))
}

#[derive(Template)]
#[template(path = "messages/pins.html")]
struct PinsPage {
    shell: Shell,
    channel_id: i64,
    title: String,
    base_path: String,
    messages: Vec<MessageView>,
}

/// `GET …/c/<id>/pins`: the channel's pinned messages, newest pin first, live-drawn like the
/// log (unpinning from here works too).
pub async fn pins(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let (workspace, access) = require_access(&state.db, &slug, channel_id, me.id).await?;
    let base_path = channels::path(&slug, channel_id);
    let mut messages = Vec::new();
    for row in super::reactions::pinned(&state.db, channel_id).await? {
        let seq = row.message.seq;
        if let Some(view) =
            view::load_one(&state.db, channel_id, seq, me.id, &base_path, &me.csrf).await?
        {
            messages.push(view);
        }
    }
    let shell = Shell::load(&state, &me, &workspace, channel_id).await?;
    let title = shell.title_of(&access);
    render_page(
        StatusCode::OK,
        &PinsPage {
            shell,
            channel_id,
            title,
            base_path,
            messages,
        },
    )
}
