//! The files' pages and forms: the composer's upload (one request per file, so each has its
//! own progress bar and cancel), Slack's upload URL, and a channel's Files list.

use askama::Template;
use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::db;
use super::upload::{self, Upload};
use crate::auth::CurrentUser;
use crate::auth::membership;
use crate::channels::{self, shell::Shell};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Deserialize)]
pub struct UploadQuery {
    name: String,
}

/// `POST /w/<slug>/files?name=<name>`: the request body is the file (the composer's script
/// sends each file alone, with the CSRF header). Answers the file as JSON; sharing it is the
/// message's business.
pub async fn upload(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let file = upload::receive(
        &state,
        Upload {
            workspace_id: workspace.id,
            user_id: me.id,
            name: &query.name,
            title: None,
            length: content_length(&headers),
        },
        body.into_data_stream(),
    )
    .await?;
    let file = file.file_ref();
    Ok(Json(serde_json::json!({
        "ok": true,
        "file": {
            "id": file.id,
            "name": file.name,
            "size": file.size,
            "size_label": file.size_label(),
            "mimetype": file.mimetype,
            "thumb_url": file.thumb_url(),
            "url": file.url(),
        },
    }))
    .into_response())
}

/// `POST /api/upload/<id>/<secret>`: Slack's upload URL, from `files.getUploadURLExternal`.
/// The body is the file, raw or as the one file of a multipart form (Slack accepts both).
pub async fn upload_external(
    State(state): State<AppState>,
    Path((id, secret)): Path<(String, String)>,
    request: axum::extract::Request,
) -> Result<Response, AppError> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let file = if is_form {
        let mut form = Multipart::from_request(request, &state)
            .await
            .map_err(|e| AppError::Validation(format!("That form cannot be read: {e}")))?;
        let field = loop {
            match form.next_field().await {
                Ok(Some(field)) if field.file_name().is_some() => break field,
                Ok(Some(_)) => continue,
                Ok(None) => return Err(AppError::Validation("The form has no file in it.".into())),
                Err(e) => {
                    return Err(AppError::Validation(format!(
                        "That form cannot be read: {e}"
                    )));
                }
            }
        };
        upload::receive_external(&state, &id, &secret, field).await?
    } else {
        let body = request.into_body().into_data_stream();
        upload::receive_external(&state, &id, &secret, body).await?
    };
    Ok(format!("OK - {}", file.size).into_response())
}

/// A channel's Files list.
#[derive(Template)]
#[template(path = "files/list.html")]
struct FilesPage {
    shell: Shell,
    title: String,
    base_path: String,
    files: Vec<ListedFile>,
}

struct ListedFile {
    file: super::FileRef,
    seq: i64,
    uploader: String,
    shared_at: String,
}

/// `GET /w/<slug>/c/<channel_id>/files`: what was shared in the channel, newest first.
pub async fn list(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let (workspace, access) = channels::require_access(&state.db, &slug, channel_id, me.id).await?;
    let shared = db::in_channel(&state.db, channel_id, 500).await?;
    let shell = Shell::load(&state, &me, &workspace, channel_id).await?;
    let title = shell.title_of(&access);
    let files = shared
        .into_iter()
        .map(|s| ListedFile {
            file: s.file.file_ref(),
            seq: s.seq,
            uploader: s.uploader,
            shared_at: s
                .file
                .created_at
                .format(&time::macros::format_description!("[year]-[month]-[day]"))
                .unwrap_or_default(),
        })
        .collect();
    render_page(
        StatusCode::OK,
        &FilesPage {
            shell,
            title,
            base_path: channels::path(&slug, channel_id),
            files,
        },
    )
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}
