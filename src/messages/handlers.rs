//! Posting, editing and deleting from the browser, and history as JSON for scripts.
//!
//! Forms answer with a redirect back to the channel (so a reload never reposts); scripts that
//! ask for JSON get the stored message and its rendered HTML.

use askama::Template;
use axum::extract::{Path, Query, State};
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

#[derive(Deserialize)]
pub struct PostForm {
    #[serde(default)]
    text: String,
    #[serde(default)]
    client_msg_id: Option<String>,
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

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

pub async fn post(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(form): Form<PostForm>,
) -> Result<Response, AppError> {
    require_member(&state.db, &slug, channel_id, me.id).await?;
    let new = NewMessage::new(channel_id, me.id, &form.text)
        .with_client_msg_id(form.client_msg_id.as_deref());
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
        Ok(_) => Ok(Redirect::to(&channels::path(&slug, channel_id)).into_response()),
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
                page::Position::Newest,
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
        Ok(_) => {
            super::live::message_edited(&state, channel_id, seq).await?;
            Ok(Redirect::to(&channels::path(&slug, channel_id)).into_response())
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
    super::delete(&state.db, channel_id, seq, by).await?;
    super::live::message_deleted(&state, channel_id, seq);
    Ok(Redirect::to(&channels::path(&slug, channel_id)))
}
