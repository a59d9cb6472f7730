//! Profile pictures: uploaded at `/settings/profile`, cut to a square (the one the person chose
//! on the page, or the middle one) and scaled to [`SIDE`] pixels by the server, kept in
//! Postgres and served at `/avatars/<key>` to signed-in people.
//!
//! Nothing the person sent is ever served: the picture is decoded under the same limits as
//! uploaded images (a decompression bomb is refused before it is decoded) and re-encoded, so no
//! metadata or script survives. Each upload gets a new key, so its URL is cached for good and a
//! change shows everywhere at once. Without a picture, initials on a colour stand in.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

use super::CurrentUser;
use crate::error::AppError;
use crate::images::{self, Square};
use crate::state::AppState;

/// The side of the stored square: sharp at 2× the largest size pages draw (the card's 96 px).
pub const SIDE: u32 = 256;
/// The largest picture accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;

const TOO_LARGE: &str = "That picture is over 10 MB; choose a smaller one.";

/// Where an avatar is served.
pub fn url(key: &str) -> String {
    format!("/avatars/{key}")
}

/// `GET /avatars/<key>`.
pub async fn serve(
    State(state): State<AppState>,
    _me: CurrentUser,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    let (content_type, bytes): (String, Vec<u8>) =
        sqlx::query_as("select content_type, bytes from avatars where key = $1")
            .bind(&key)
            .fetch_optional(&state.db)
            .await?
            .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            // A new picture gets a new key, so this one never changes.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable".to_owned(),
            ),
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

/// What the upload form sent.
struct Upload {
    bytes: Vec<u8>,
    square: Option<Square>,
}

fn invalid(message: impl Into<String>) -> AppError {
    AppError::Validation(message.into())
}

/// Reads the form: the picture (counted as it arrives, refused past [`MAX_BYTES`]) and the
/// square chosen on it, if any (`crop_x`, `crop_y`, `crop_size` in its pixels).
async fn read_form(request: Request, state: &AppState) -> Result<Upload, AppError> {
    let unreadable = |e: axum::extract::multipart::MultipartError| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            invalid(TOO_LARGE)
        } else {
            invalid(format!("That form cannot be read: {}", e.body_text()))
        }
    };
    let mut form = Multipart::from_request(request, state)
        .await
        .map_err(|e| invalid(format!("That form cannot be read: {}", e.body_text())))?;
    let mut bytes = None;
    let (mut x, mut y, mut size) = (None, None, None);
    while let Some(mut field) = form.next_field().await.map_err(unreadable)? {
        let name = field.name().unwrap_or_default().to_owned();
        match name.as_str() {
            "avatar" => {
                let mut got = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(unreadable)? {
                    if got.len() + chunk.len() > MAX_BYTES {
                        return Err(invalid(TOO_LARGE));
                    }
                    got.extend_from_slice(&chunk);
                }
                bytes = Some(got);
            }
            name @ ("crop_x" | "crop_y" | "crop_size") => {
                let text = field.text().await.map_err(unreadable)?;
                let value = match text.trim() {
                    "" => None,
                    n => Some(
                        n.parse::<f64>()
                            .ok()
                            .filter(|v| v.is_finite() && *v >= 0.0)
                            .ok_or_else(|| {
                                invalid("The chosen square is not a set of pixel positions.")
                            })?,
                    ),
                };
                // Pixel positions; a browser may send fractions of one.
                let value = value.map(|v| v.min(f64::from(u32::MAX)) as u32);
                match name {
                    "crop_x" => x = value,
                    "crop_y" => y = value,
                    _ => size = value,
                }
            }
            _ => {}
        }
    }
    let bytes = bytes
        .filter(|b| !b.is_empty())
        .ok_or_else(|| invalid("Choose a picture to upload."))?;
    let square = match (x, y, size) {
        (Some(x), Some(y), Some(size)) if size > 0 => Some(Square { x, y, size }),
        _ => None,
    };
    Ok(Upload { bytes, square })
}

/// `POST /settings/profile/avatar`: a new picture. A picture that cannot be used is named on
/// the profile page again, and nothing changes.
pub async fn upload(
    State(state): State<AppState>,
    me: CurrentUser,
    request: Request,
) -> Result<Response, AppError> {
    match store(&state, me.id, request).await {
        Ok(()) => {
            super::profile::publish(&state, me.id).await;
            Ok(Redirect::to("/settings/profile?saved=1").into_response())
        }
        Err(AppError::Validation(error)) => super::profile::refused(&state, me, error).await,
        Err(e) => Err(e),
    }
}

async fn store(state: &AppState, user_id: i64, request: Request) -> Result<(), AppError> {
    let Upload { bytes, square } = read_form(request, state).await?;
    // Judged by its bytes, never by the name or type the browser gave it.
    if !matches!(
        infer::get(&bytes).map(|k| k.mime_type()),
        Some("image/png" | "image/jpeg" | "image/gif" | "image/webp")
    ) {
        return Err(invalid(
            "That file is not a picture; choose a PNG, JPEG, GIF or WebP image.",
        ));
    }
    let made = tokio::task::spawn_blocking(move || images::avatar(&bytes, square, SIDE))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| invalid(e.to_string()))?;
    let key = format!(
        "{user_id}-{}.{}",
        &crate::secrets::random_token()[..16],
        made.extension()
    );
    let mut tx = state.db.begin().await?;
    sqlx::query("insert into avatars (key, user_id, content_type, bytes) values ($1, $2, $3, $4)")
        .bind(&key)
        .bind(user_id)
        .bind(images::thumb_type(&key))
        .bind(&made.bytes)
        .execute(&mut *tx)
        .await?;
    set(&mut tx, user_id, Some(&key)).await?;
    tx.commit().await?;
    Ok(())
}

/// `POST /settings/profile/avatar/remove`: back to initials.
pub async fn remove(State(state): State<AppState>, me: CurrentUser) -> Result<Response, AppError> {
    let mut tx = state.db.begin().await?;
    set(&mut tx, me.id, None).await?;
    tx.commit().await?;
    super::profile::publish(&state, me.id).await;
    Ok(Redirect::to("/settings/profile?saved=1").into_response())
}

/// Points the person at `key` (or at none) and drops their earlier pictures.
async fn set(db: &mut sqlx::PgConnection, user_id: i64, key: Option<&str>) -> sqlx::Result<()> {
    sqlx::query("update users set avatar_key = $2 where id = $1")
        .bind(user_id)
        .bind(key)
        .execute(&mut *db)
        .await?;
    sqlx::query("delete from avatars where user_id = $1 and key is distinct from $2")
        .bind(user_id)
        .bind(key)
        .execute(&mut *db)
        .await?;
    Ok(())
}
