//! Files in messages: the composer's form with files (multipart, without the script),
//! deleting a file (gone from every message that shared it, live), and removing a message's
//! link previews.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::handlers::{PostForm, wants_json};
use crate::auth::CurrentUser;
use crate::channels::{self, require_member};
use crate::error::AppError;
use crate::files::upload::{self, Upload};
use crate::state::AppState;

pub fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// Reads the composer's multipart form: its fields, and each chosen file stored as it
/// arrives (an empty file input sends a part with no name and no bytes: skipped).
pub async fn read_form(
    state: &AppState,
    workspace_id: i64,
    user_id: i64,
    request: Request,
) -> Result<(PostForm, Vec<String>), AppError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        AppError::Validation(format!("That form did not arrive whole: {}", e.body_text()))
    };
    let mut multipart = Multipart::from_request(request, state)
        .await
        .map_err(|e| AppError::Validation(e.body_text()))?;
    let mut form = PostForm::default();
    let mut file_ids = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        if let Some(file_name) = field.file_name().map(str::to_owned) {
            if file_name.is_empty() {
                continue;
            }
            if file_ids.len() == super::MAX_FILES {
                return Err(super::SendError::TooManyFiles.into());
            }
            let file = upload::receive(
                state,
                Upload {
                    workspace_id,
                    user_id,
                    name: &file_name,
                    title: None,
                    length: None,
                },
                field,
            )
            .await?;
            file_ids.push(file.id);
            continue;
        }
        if !matches!(
            name.as_str(),
            "text" | "client_msg_id" | "thread_root_seq" | "broadcast" | "files"
        ) {
            continue;
        }
        let value = bounded_text(field).await?;
        match name.as_str() {
            "text" => form.text = value,
            "client_msg_id" => form.client_msg_id = Some(value),
            "thread_root_seq" => form.thread_root_seq = value.trim().parse().ok(),
            "broadcast" => form.broadcast = Some(value),
            "files" => form.files = Some(value),
            _ => {}
        }
    }
    Ok((form, file_ids))
}

/// A text field of the form, refused past the size any form field may have (the route streams
/// files, so the router sets no limit of its own).
async fn bounded_text(mut field: axum::extract::multipart::Field<'_>) -> Result<String, AppError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| {
        AppError::Validation(format!("That form did not arrive whole: {}", e.body_text()))
    })? {
        if bytes.len() + chunk.len() > crate::auth::csrf::MAX_FORM_BYTES {
            return Err(AppError::Validation("That form is too large.".into()));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| AppError::Validation("That form's text is not UTF-8.".into()))
}

/// `POST /files/<id>/delete`: its uploader or an admin deletes a file; every message that
/// shared it is drawn again without it, for everyone.
pub async fn delete(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let file = crate::files::db::readable(&state.db, &id, me.id)
        .await?
        .ok_or(AppError::NotFound)?;
    delete_file(&state, &file, me.id).await?;
    if wants_json(&headers) {
        return Ok(axum::Json(serde_json::json!({"ok": true})).into_response());
    }
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.strip_prefix(state.config.public_url.as_str()).or(Some(r)))
        .filter(|r| r.starts_with('/') && !r.starts_with("//"))
        .unwrap_or("/")
        .to_owned();
    Ok(Redirect::to(&back).into_response())
}

/// Deletes a file ([`crate::files::delete`]) and publishes the messages that shared it.
pub async fn delete_file(
    state: &AppState,
    file: &crate::files::FileRow,
    actor_id: i64,
) -> Result<(), AppError> {
    for (channel_id, seq) in crate::files::delete(state, file, actor_id).await? {
        super::live::message_edited(state, channel_id, seq).await?;
    }
    Ok(())
}

/// `POST …/messages/<seq>/previews`: the author removes their message's link previews.
pub async fn remove_previews(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, seq)): Path<(String, i64, i64)>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    require_member(&state.db, &slug, channel_id, me.id).await?;
    if !super::db::turn_off_previews(&state.db, channel_id, seq, me.id).await? {
        return Err(AppError::NotFound);
    }
    super::live::message_edited(&state, channel_id, seq).await?;
    if wants_json(&headers) {
        return Ok(axum::Json(serde_json::json!({"ok": true})).into_response());
    }
    Ok(Redirect::to(&channels::path(&slug, channel_id)).into_response())
}
