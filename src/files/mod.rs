//! Files: uploaded, kept in [`crate::storage`], shared in messages, served to those who may
//! read them.
//!
//! The tour:
//! - [`upload`]: every door's way in ([`upload::receive`]): the name is checked, the rate and
//!   the workspace's quota too, a `pending` row is written, the bytes stream to storage (a JPEG's
//!   location data dropped on the way), the type is decided from the bytes, an image gets its
//!   thumbnail, and only then is the row `ready`. Slack's two-step flow (an upload URL, then
//!   completing) is [`upload::begin_external`] and [`upload::receive_external`].
//! - [`images`]: thumbnails with limits (a decompression bomb is refused), EXIF location removed.
//! - [`types`]: what a file is, from its bytes and name, and whether a browser may show it.
//! - [`serve`]: downloads and thumbnails, checked on every request (cookie or token), with
//!   headers that keep a file from running as a page.
//! - [`handlers`]: the composer's upload, the channel's Files list, deleting.
//! - [`gc`]: `natter files gc` and its worker: pending uploads that never finished, files
//!   whose every message is gone, deleted files after their grace period, and objects that no
//!   row names.
//! - [`db`]: the SQL, including who may read a file.
//!
//! A message shares files through `file_shares`; the send statement writes them
//! (`messages::db::insert_sent`), so a message and its files appear together or not at all.

pub mod db;
pub mod gc;
mod handlers;
mod names;
pub mod serve;
pub mod types;
pub mod upload;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use crate::error::AppError;
pub use db::FileRow;
pub use names::check_name;

use crate::state::AppState;

pub use crate::images::THUMB_SIZE;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/files", post(handlers::upload))
        .route("/files/{id}/thumb", get(serve::thumbnail))
        .route("/files/{id}/{name}", get(serve::download))
        .route("/w/{slug}/c/{channel_id}/files", get(handlers::list))
        // Slack's upload URL: the secret in the path is the authority, so no cookie or token.
        .route("/api/upload/{id}/{secret}", post(handlers::upload_external))
        // Uploads are counted as they stream, against NATTER_MAX_UPLOAD_MB, not buffered.
        .layer(DefaultBodyLimit::disable())
}

/// A file as a message shows it (from the JSON the message's read aggregates).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FileRef {
    pub id: String,
    pub name: String,
    pub title: String,
    pub mimetype: String,
    pub size: i64,
    pub user_id: i64,
    /// Unix seconds.
    pub created: i64,
    pub has_thumb: bool,
    pub width: Option<i32>,
    pub height: Option<i32>,
}

impl FileRef {
    /// Where the file is read (cookie or token): its id and a readable name.
    pub fn url(&self) -> String {
        format!("/files/{}/{}", self.id, names::url_segment(&self.name))
    }

    pub fn download_url(&self) -> String {
        format!("{}?download=1", self.url())
    }

    pub fn thumb_url(&self) -> Option<String> {
        self.has_thumb.then(|| format!("/files/{}/thumb", self.id))
    }

    pub fn is_image(&self) -> bool {
        self.has_thumb && types::shown_inline(&self.mimetype)
    }

    pub fn is_video(&self) -> bool {
        self.mimetype.starts_with("video/") && types::shown_inline(&self.mimetype)
    }

    /// "2.4 MB", "812 KB", "17 bytes".
    pub fn size_label(&self) -> String {
        size_label(self.size)
    }

    /// A short word for the card: "PDF", "ZIP", "PNG", or the extension.
    pub fn kind_label(&self) -> String {
        types::kind_label(&self.mimetype, &self.name)
    }

    pub fn thumb_width(&self) -> u32 {
        self.thumb_dimensions().0
    }

    pub fn thumb_height(&self) -> u32 {
        self.thumb_dimensions().1
    }

    /// The thumbnail's size in the message, keeping the image's shape within 360 px.
    pub fn thumb_dimensions(&self) -> (u32, u32) {
        match (self.width, self.height) {
            (Some(w), Some(h)) if w > 0 && h > 0 => {
                let (w, h) = (w as u32, h as u32);
                let scale = f64::from(THUMB_SIZE) / f64::from(w.max(h));
                if scale >= 1.0 {
                    (w, h)
                } else {
                    (
                        ((f64::from(w) * scale).round() as u32).max(1),
                        ((f64::from(h) * scale).round() as u32).max(1),
                    )
                }
            }
            _ => (THUMB_SIZE, THUMB_SIZE),
        }
    }
}

/// Deletes a file for everyone, if `actor_id` may: its uploader, or an owner or admin of its
/// workspace (recorded in the audit log). Returns the messages that shared it, for the caller
/// to draw again. The bytes stay until [`gc`] runs past the grace period.
pub async fn delete(
    state: &AppState,
    file: &FileRow,
    actor_id: i64,
) -> Result<Vec<(i64, i64)>, AppError> {
    let mut tx = state.db.begin().await?;
    if file.user_id != actor_id {
        let admin = db::is_workspace_admin(&mut *tx, file.workspace_id, actor_id).await?;
        if !admin {
            return Err(AppError::Forbidden(
                "Only the person who shared a file, or an admin, can delete it.".into(),
            ));
        }
        let target = format!("file {} ({}) by user {}", file.id, file.name, file.user_id);
        crate::audit::record(
            &mut *tx,
            file.workspace_id,
            actor_id,
            "file.delete",
            &target,
        )
        .await?;
    }
    let messages = db::mark_deleted(&mut *tx, &file.id).await?;
    tx.commit().await?;
    Ok(messages)
}

/// Bytes for people: "17 bytes", "812 KB", "2.4 MB", "1.1 GB".
pub fn size_label(bytes: i64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if bytes < 1024 {
        format!("{bytes} bytes")
    } else if b < KB * KB {
        format!("{:.0} KB", b / KB)
    } else if b < KB * KB * KB {
        format!("{:.1} MB", b / (KB * KB))
    } else {
        format!("{:.1} GB", b / (KB * KB * KB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(size_label(17), "17 bytes");
        assert_eq!(size_label(812 * 1024), "812 KB");
        assert_eq!(size_label(2_516_582), "2.4 MB");
    }

    #[test]
    fn a_thumbnail_keeps_the_shape_within_360() {
        let mut f = FileRef {
            id: "F1".into(),
            name: "a.png".into(),
            title: "a".into(),
            mimetype: "image/png".into(),
            size: 1,
            user_id: 1,
            created: 0,
            has_thumb: true,
            width: Some(1200),
            height: Some(600),
        };
        assert_eq!(f.thumb_dimensions(), (360, 180));
        f.width = Some(100);
        f.height = Some(50);
        assert_eq!(f.thumb_dimensions(), (100, 50));
    }
}
