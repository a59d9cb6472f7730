//! Receiving a file, from any door: the composer (one request per file, or the form without
//! a script), and Slack's upload URL.
//!
//! The order is what makes a crash harmless: a `pending` row first (so the object's key is on
//! record before a byte is written), then the bytes to storage as they arrive, then the row
//! `ready`. A crash before the end leaves a pending row and maybe an object; neither is
//! shareable, and [`super::gc`] removes both. An upload that fails for any reason (too large,
//! empty, over quota, refused image, a dropped connection) deletes what it wrote and answers
//! with what went wrong: nothing is kept.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::db::{self, FileRow};
use super::{names, types};
use crate::error::AppError;
use crate::images::{self, JpegScrubber};
use crate::secrets;
use crate::state::AppState;
use crate::storage::Writer;

/// How many of a file's first bytes decide its type.
const HEAD_BYTES: usize = 8 * 1024;
/// Images up to this size get a thumbnail (their bytes are kept in memory while they stream;
/// larger ones are shown as cards).
const THUMB_SOURCE_MAX: usize = 40 * 1024 * 1024;

/// Who uploads what, and where it will be shared.
pub struct Upload<'a> {
    pub workspace_id: i64,
    pub user_id: i64,
    pub name: &'a str,
    pub title: Option<&'a str>,
    /// What the client said the size is (`Content-Length`, Slack's `length`), checked early.
    pub length: Option<u64>,
}

/// A new file id: `F` and 20 characters of Slack's alphabet, random (not counted).
fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    std::iter::once('F')
        .chain((0..20).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char))
        .collect()
}

/// Receives a file from the composer: checks, streams, thumbnails; the ready row.
pub async fn receive<S, E>(
    state: &AppState,
    upload: Upload<'_>,
    body: S,
) -> Result<FileRow, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let (id, key, name) = begin(state, &upload, None).await?;
    finish(state, &id, &key, &name, upload.workspace_id, body).await
}

/// Slack's first step (`files.getUploadURLExternal`): a pending file and the secret of its
/// upload URL (valid ten minutes, once).
pub async fn begin_external(
    state: &AppState,
    upload: Upload<'_>,
) -> Result<(String, String), AppError> {
    let secret = secrets::random_token();
    let (id, _, _) = begin(state, &upload, Some(&secret)).await?;
    Ok((id, secret))
}

/// Slack's second step: the bytes POSTed to the upload URL. A URL used before, expired or
/// unknown is 404; nothing else happens.
pub async fn receive_external<S, E>(
    state: &AppState,
    id: &str,
    secret: &str,
    body: S,
) -> Result<FileRow, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let file = db::claim_external(&state.db, id, &secrets::hash_secret(secret))
        .await?
        .ok_or(AppError::NotFound)?;
    finish(
        state,
        &file.id,
        &file.storage_key,
        &file.name,
        file.workspace_id,
        body,
    )
    .await
}

/// The checks before any byte, and the pending row.
async fn begin(
    state: &AppState,
    upload: &Upload<'_>,
    secret: Option<&str>,
) -> Result<(String, String, String), AppError> {
    let name = names::check_name(upload.name)?;
    let title = match upload.title.map(str::trim).filter(|t| !t.is_empty()) {
        Some(title) if title.chars().count() > names::MAX_NAME_CHARS => {
            return Err(AppError::Validation(format!(
                "A file's title can be at most {} characters.",
                names::MAX_NAME_CHARS
            )));
        }
        Some(title) => title.to_owned(),
        None => name.clone(),
    };
    state.upload_limiter.check(upload.user_id)?;
    let max = state.config.files.max_upload_bytes();
    if let Some(length) = upload.length {
        if length == 0 && secret.is_some() {
            return Err(empty());
        }
        if length > max {
            return Err(too_large(state));
        }
    }
    check_quota(state, upload.workspace_id, upload.length.unwrap_or(0)).await?;
    let id = new_id();
    let key = format!("{}/{}", upload.workspace_id, secrets::random_token());
    let external = secret.map(|s| (secrets::hash_secret(s), upload.length.unwrap_or(0) as i64));
    db::insert_pending(
        &state.db,
        &id,
        upload.workspace_id,
        upload.user_id,
        &name,
        &title,
        &key,
        external.as_ref().map(|(hash, size)| (hash.as_str(), *size)),
    )
    .await?;
    Ok((id, key, name))
}

/// Streams the bytes, then decides the type, makes the thumbnail and marks the row ready; on
/// any failure removes the object and the row.
async fn finish<S, E>(
    state: &AppState,
    id: &str,
    key: &str,
    name: &str,
    workspace_id: i64,
    body: S,
) -> Result<FileRow, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let outcome = async {
        let stored = stream_to_storage(state, key, body).await?;
        check_quota(state, workspace_id, stored.size).await?;
        let mimetype = types::decide(&stored.head, name);
        let (thumb_key, dimensions) = match stored.image {
            Some(bytes) if types::is_thumbnailable(&mimetype) => {
                make_thumbnail(state, key, bytes).await?
            }
            _ => (None, None),
        };
        let row = db::mark_ready(
            &state.db,
            id,
            &mimetype,
            stored.size as i64,
            thumb_key.as_deref(),
            dimensions,
        )
        .await?;
        Ok::<_, AppError>(row)
    }
    .await;
    if outcome.is_err() {
        // Nothing of a failed upload stays: not the object, not the thumbnail, not the row.
        let _ = state.storage.delete(key).await;
        for extension in ["jpg", "png"] {
            let _ = state.storage.delete(&thumb_key_for(key, extension)).await;
        }
        if let Err(e) = db::delete_pending(&state.db, id).await {
            tracing::warn!(error = %e, id, "a failed upload's row stays for gc");
        }
    }
    outcome
}

struct Stored {
    size: u64,
    head: Vec<u8>,
    /// The whole file, kept only while it may be an image small enough for a thumbnail.
    image: Option<Vec<u8>>,
}

async fn stream_to_storage<S, E>(
    state: &AppState,
    key: &str,
    mut body: S,
) -> Result<Stored, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let max = state.config.files.max_upload_bytes();
    let mut writer = state.storage.writer(key);
    let mut scrubber = JpegScrubber::default();
    let mut stored = Stored {
        size: 0,
        head: Vec::new(),
        image: Some(Vec::new()),
    };
    let outcome: Result<(), AppError> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                AppError::Validation(format!(
                    "The upload did not arrive whole ({e}). Nothing was kept; try again."
                ))
            })?;
            stored.size += chunk.len() as u64;
            if stored.size > max {
                return Err(too_large(state));
            }
            if stored.head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - stored.head.len()).min(chunk.len());
                stored.head.extend_from_slice(&chunk[..take]);
            }
            let clean = scrubber.feed(&chunk);
            keep_for_thumbnail(&mut stored, &clean);
            write(&mut writer, clean).await?;
        }
        let rest = scrubber.finish();
        keep_for_thumbnail(&mut stored, &rest);
        write(&mut writer, rest).await?;
        if stored.size == 0 {
            return Err(empty());
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            writer.finish().await.map_err(storage_error)?;
            Ok(stored)
        }
        Err(e) => {
            writer.abort().await;
            Err(e)
        }
    }
}

fn keep_for_thumbnail(stored: &mut Stored, bytes: &[u8]) {
    if let Some(image) = &mut stored.image {
        if image.len() + bytes.len() > THUMB_SOURCE_MAX
            || (stored.head.len() >= 16 && !looks_like_image(&stored.head))
        {
            stored.image = None;
        } else {
            image.extend_from_slice(bytes);
        }
    }
}

fn looks_like_image(head: &[u8]) -> bool {
    infer::get(head).is_some_and(|k| k.matcher_type() == infer::MatcherType::Image)
}

async fn write(writer: &mut Writer, bytes: Vec<u8>) -> Result<(), AppError> {
    if bytes.is_empty() {
        return Ok(());
    }
    writer
        .write(Bytes::from(bytes))
        .await
        .map_err(storage_error)
}

fn thumb_key_for(key: &str, extension: &str) -> String {
    format!("{key}.thumb.{extension}")
}

/// The thumbnail, made off the async threads; an image that claims too many pixels is refused
/// (the upload fails), one that cannot be decoded is kept as a plain file.
async fn make_thumbnail(
    state: &AppState,
    key: &str,
    bytes: Vec<u8>,
) -> Result<(Option<String>, Option<(u32, u32)>), AppError> {
    let made = tokio::task::spawn_blocking(move || images::thumbnail(&bytes))
        .await
        .map_err(|e| anyhow::anyhow!("the thumbnail task failed: {e}"))?;
    match made {
        Ok(thumb) => {
            let thumb_key = thumb_key_for(key, thumb.extension());
            state
                .storage
                .put(&thumb_key, thumb.bytes)
                .await
                .map_err(storage_error)?;
            Ok((Some(thumb_key), Some((thumb.width, thumb.height))))
        }
        Err(refusal @ images::ImageRefusal::TooLarge { .. }) => {
            Err(AppError::Validation(refusal.to_string()))
        }
        Err(images::ImageRefusal::Unreadable(why)) => {
            tracing::info!(why, "an uploaded image cannot be decoded; kept as a file");
            Ok((None, None))
        }
    }
}

/// Refuses an upload that would take the workspace past its quota. Most workspaces have none,
/// and pay one key lookup; with a quota, the sum of the workspace's file sizes is read (an
/// index-only scan: `files_usage_idx` holds the sizes).
async fn check_quota(state: &AppState, workspace_id: i64, adding: u64) -> Result<(), AppError> {
    let Some(quota) = db::quota(&state.db, workspace_id).await? else {
        return Ok(());
    };
    let (_, used) = db::usage(&state.db, workspace_id).await?;
    if used + adding as i64 > quota {
        return Err(AppError::TooLarge(format!(
            "This workspace has used its {} of file storage. An admin can raise the quota, or delete files to make room.",
            super::size_label(quota)
        )));
    }
    Ok(())
}

fn too_large(state: &AppState) -> AppError {
    AppError::TooLarge(format!(
        "Files can be at most {} MB.",
        state.config.files.max_upload_mb
    ))
}

fn empty() -> AppError {
    AppError::Validation("That file is empty: there is nothing to upload.".into())
}

fn storage_error(e: object_store::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("file storage: {e}"))
}
