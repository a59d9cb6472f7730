//! Serving files: every request is checked ([`super::db::readable`]: cookie or bearer token,
//! and a conversation the asker may read shares the file; anyone else gets 404, the same as
//! for a file that does not exist), and every response carries headers that keep the bytes
//! from ever running as a page of Natter's:
//!
//! - the type is the one the server decided ([`super::types::served_as`]): images, video,
//!   audio and plain text as themselves, everything else as `application/octet-stream`;
//! - `Content-Disposition: attachment` for everything not shown in place (HTML, SVG, XML,
//!   scripts, PDFs, unknown bytes), so a browser saves it rather than opening it;
//! - `X-Content-Type-Options: nosniff` and a `Content-Security-Policy` with `sandbox`, so even a
//!   file opened directly has no script, no forms and no origin.
//!
//! A single `Range` is honoured (video seeks with it).

use std::ops::Range;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{self, FileRow};
use super::{names, types};
use crate::auth::{self, tokens};
use crate::error::AppError;
use crate::images;
use crate::state::AppState;

/// What a served file may do in a browser: nothing but show itself.
pub const SANDBOX: &str =
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'";

#[derive(Deserialize)]
pub struct DownloadQuery {
    download: Option<String>,
}

/// The user asking: the session's, or the bearer token's (Slack's `url_private` is read with
/// the token).
pub async fn reader(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> Result<i64, AppError> {
    if let Some(token) = tokens::bearer(headers) {
        return tokens::user_for_token(&state.db, token)
            .await?
            .map(|user| user.id)
            .ok_or(AppError::NotFound);
    }
    auth::session::current_user(session, state)
        .await?
        .map(|user| user.id)
        .ok_or(AppError::NotFound)
}

/// `GET /files/<id>/<name>`: the file, to those who may read it.
pub async fn download(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path((id, _name)): Path<(String, String)>,
    Query(query): Query<DownloadQuery>,
) -> Result<Response, AppError> {
    let user_id = reader(&state, &session, &headers).await?;
    let file = db::readable(&state.db, &id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let inline = types::shown_inline(&file.mimetype) && query.download.is_none();
    let range = requested_range(&headers, file.size as u64);
    serve(
        &state,
        &file,
        &file.storage_key,
        types::served_as(&file.mimetype),
        inline,
        range,
    )
    .await
}

/// `GET /files/<id>/thumb`: the thumbnail of an image file.
pub async fn thumbnail(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let user_id = reader(&state, &session, &headers).await?;
    let file = db::readable(&state.db, &id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let key = file.thumb_key.clone().ok_or(AppError::NotFound)?;
    serve(&state, &file, &key, images::thumb_type(&key), true, None).await
}

async fn serve(
    state: &AppState,
    file: &FileRow,
    key: &str,
    content_type: &str,
    inline: bool,
    range: Option<Range<u64>>,
) -> Result<Response, AppError> {
    let read = match state.storage.read(key, range.clone()).await {
        Ok(read) => read,
        Err(object_store::Error::NotFound { .. }) => {
            tracing::warn!(
                file = file.id,
                key,
                "a ready file's bytes are missing from storage"
            );
            return Err(AppError::NotFound);
        }
        Err(e) => return Err(anyhow::anyhow!("reading a file: {e}").into()),
    };
    let partial = range.is_some();
    let mut response = Body::from_stream(read.stream).into_response();
    *response.status_mut() = if partial {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };
    let headers = response.headers_mut();
    let mut set = |name, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set(header::CONTENT_TYPE, content_type.to_owned());
    set(
        header::CONTENT_LENGTH,
        (read.range.end - read.range.start).to_string(),
    );
    set(
        header::CONTENT_DISPOSITION,
        names::content_disposition(if inline { "inline" } else { "attachment" }, &file.name),
    );
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned());
    set(header::CONTENT_SECURITY_POLICY, SANDBOX.to_owned());
    set(header::CACHE_CONTROL, "private, max-age=3600".to_owned());
    set(header::ACCEPT_RANGES, "bytes".to_owned());
    if partial {
        set(
            header::CONTENT_RANGE,
            format!(
                "bytes {}-{}/{}",
                read.range.start,
                read.range.end - 1,
                read.size
            ),
        );
    }
    Ok(response)
}

/// One `Range: bytes=a-b` (or `a-`, or `-n`) within the file; anything else is read whole.
fn requested_range(headers: &HeaderMap, size: u64) -> Option<Range<u64>> {
    let value = headers.get(header::RANGE)?.to_str().ok()?;
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') || size == 0 {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let range = match (start.trim(), end.trim()) {
        ("", n) => size.saturating_sub(n.parse().ok()?)..size,
        (a, "") => a.parse().ok()?..size,
        (a, b) => a.parse().ok()?..(b.parse::<u64>().ok()? + 1).min(size),
    };
    (range.start < range.end && range.end <= size).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(value: &str, size: u64) -> Option<Range<u64>> {
        let mut headers = HeaderMap::new();
        headers.insert(header::RANGE, HeaderValue::from_str(value).unwrap());
        requested_range(&headers, size)
    }

    #[test]
    fn ranges_are_read_within_the_file() {
        assert_eq!(range("bytes=0-99", 1000), Some(0..100));
        assert_eq!(range("bytes=900-", 1000), Some(900..1000));
        assert_eq!(range("bytes=-100", 1000), Some(900..1000));
        assert_eq!(range("bytes=0-5000", 1000), Some(0..1000));
        assert_eq!(range("bytes=2000-", 1000), None);
        assert_eq!(range("bytes=0-1,5-6", 1000), None);
        assert_eq!(range("items=0-1", 1000), None);
    }
}
