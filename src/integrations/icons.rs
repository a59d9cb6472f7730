//! Integration icons: the `icon_url` a webhook or bot posts with is fetched by the server,
//! once, through [`crate::outbound`], and served from `/icons/<key>` (a random key, so an
//! icon is reached from a message that shows it, not by counting).
//!
//! Hot-linking the URL would make every reader's browser fetch an address the sender chose
//! (tracking who reads what, and when). Instead the first message naming a URL queues it;
//! a background task fetches it (five seconds and 256 KiB at most, redirects checked hop by
//! hop), keeps it only if its bytes are a PNG, JPEG, GIF or WebP image (never SVG, which can
//! carry script), and serves it with the type Natter recognised, `nosniff` and a CSP that
//! forbids everything. Until then, and if it is refused, the author's initials stand in.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use sqlx::PgExecutor;

use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::outbound::Request;
use crate::state::AppState;

/// The largest icon kept.
const MAX_BYTES: usize = 256 * 1024;

/// Whether `url` may be given as an icon: http(s) and of a sensible length. (Where it points
/// is judged when it is fetched.)
pub fn acceptable(url: &str) -> bool {
    (url.starts_with("https://") || url.starts_with("http://")) && url.len() <= 500
}

/// Queues `url` for fetching unless it is known already (or failed within the hour), and
/// fetches it on a background task: the message it came with is never held up.
pub fn fetch_soon(state: &AppState, url: &str) {
    let (state, url) = (state.clone(), url.to_owned());
    tokio::spawn(async move {
        match claim(&state.db, &url).await {
            Ok(Some(id)) => fetch(&state, id, &url).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "cannot queue an icon"),
        }
    });
}

/// Fetches `url` now (up to `max_bytes`) unless it is known already, and returns its key once
/// it is stored: link previews' images, which a background worker fetches anyway.
pub async fn fetch_now(state: &AppState, url: &str, max_bytes: usize) -> Option<String> {
    if !acceptable(url) {
        return None;
    }
    match claim(&state.db, url).await {
        Ok(Some(id)) => fetch_sized(state, id, url, max_bytes).await,
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "cannot queue an image"),
    }
    sqlx::query_scalar("select key from remote_icons where url = $1 and bytes is not null")
        .bind(url)
        .fetch_optional(&state.db)
        .await
        .ok()
        .flatten()
}

async fn fetch(state: &AppState, id: i64, url: &str) {
    fetch_sized(state, id, url, MAX_BYTES).await
}

async fn fetch_sized(state: &AppState, id: i64, url: &str, max_bytes: usize) {
    let request = Request::get(url)
        .header("accept", "image/png, image/jpeg, image/gif, image/webp")
        .max_body(max_bytes)
        .follow_redirects();
    let kept = match state.outbound.send(request).await {
        Ok(answer) if answer.status == 200 => match image_type(&answer.body) {
            Some(kind) => Some((kind, answer.body)),
            None => {
                tracing::info!(url, "an icon is not a PNG, JPEG, GIF or WebP image");
                None
            }
        },
        Ok(answer) => {
            tracing::info!(url, status = answer.status, "an icon was not served");
            None
        }
        Err(e) => {
            tracing::info!(url, error = %e, "an icon could not be fetched");
            None
        }
    };
    if let Err(e) = store(&state.db, id, kept).await {
        tracing::warn!(error = %e, "cannot store an icon");
    }
}

/// The type of an image, from its first bytes: what the file is, not what its server says.
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n', ..] => Some("image/png"),
        [0xff, 0xd8, 0xff, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', b'7' | b'9', b'a', ..] => Some("image/gif"),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'E',
            b'B',
            b'P',
            ..,
        ] => Some("image/webp"),
        _ => None,
    }
}

/// `GET /icons/<key>`: a fetched icon, for signed-in readers.
pub async fn serve(
    State(state): State<AppState>,
    _me: CurrentUser,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let (content_type, bytes) = stored(&state.db, &key).await?.ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// The row to fetch `url` into, if it is new or its last try failed over an hour ago; `None`
/// if it is fetched, being fetched, or failed recently.
async fn claim(db: impl PgExecutor<'_>, url: &str) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "insert into remote_icons (url) values ($1)
         on conflict (url) do update set failed_at = null
             where remote_icons.failed_at < now() - interval '1 hour'
         returning id",
    )
    .bind(url)
    .fetch_optional(db)
    .await
}

async fn store(
    db: impl PgExecutor<'_>,
    id: i64,
    kept: Option<(&str, Vec<u8>)>,
) -> sqlx::Result<()> {
    let (content_type, bytes) = kept.unzip();
    sqlx::query(
        "update remote_icons set content_type = $2, bytes = $3, fetched_at = now(),
                failed_at = case when $3::bytea is null then now() end
         where id = $1",
    )
    .bind(id)
    .bind(content_type)
    .bind(bytes)
    .execute(db)
    .await?;
    Ok(())
}

async fn stored(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<Option<(String, Vec<u8>)>> {
    sqlx::query_as(
        "select content_type, bytes from remote_icons where key = $1 and bytes is not null",
    )
    .bind(key)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_recognised_by_their_bytes_and_svg_never_is() {
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"\xff\xd8\xff\xe0"), Some("image/jpeg"));
        assert_eq!(image_type(b"GIF89a..."), Some("image/gif"));
        assert_eq!(image_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(image_type(b"<html><script>"), None);
        assert_eq!(image_type(b""), None);
    }
}
