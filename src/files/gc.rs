//! Garbage collection of files: `natter files gc`, and the same pass every hour on each node.
//!
//! Two sweeps. The rows: pending uploads older than an hour (a crash, or a client that never
//! finished), deleted files past the grace period, and files whose every sharing message was
//! deleted over the grace period ago: their rows go and then their objects. The objects: every
//! object in storage older than an hour that no row names (a crash between writing the bytes
//! and the row, or between deleting a row and its object) is deleted. The hour keeps an upload
//! in progress safe: its row exists before its first byte.

use futures_util::StreamExt;
use time::{Duration, OffsetDateTime};

use super::db;
use crate::state::AppState;

/// How long a deleted file's bytes are kept (a mistaken delete can be undone by an operator
/// from storage within it).
pub const GRACE: Duration = Duration::hours(24);
/// How old an object no row names must be before it is removed.
const ORPHAN_AGE: Duration = Duration::hours(1);

/// What a pass removed.
#[derive(Debug, Default)]
pub struct Collected {
    pub rows: usize,
    pub objects: usize,
    pub bytes: u64,
}

/// One pass; `grace` is [`GRACE`] except in tests and on the command line's `--grace-secs`.
pub async fn collect(state: &AppState, grace: Duration) -> anyhow::Result<Collected> {
    let mut collected = Collected::default();
    for (key, thumb) in db::collect_garbage(&state.db, grace).await? {
        collected.rows += 1;
        for key in std::iter::once(key).chain(thumb) {
            state.storage.delete(&key).await?;
            collected.objects += 1;
        }
    }
    let cutoff = OffsetDateTime::now_utc() - ORPHAN_AGE.min(grace);
    let mut listing = state.storage.list();
    let mut batch = Vec::new();
    while let Some(object) = listing.next().await {
        let object = object?;
        if object.written_at < cutoff {
            batch.push(object);
        }
        if batch.len() == 500 {
            remove_orphans(state, std::mem::take(&mut batch), &mut collected).await?;
        }
    }
    remove_orphans(state, batch, &mut collected).await?;
    Ok(collected)
}

async fn remove_orphans(
    state: &AppState,
    objects: Vec<crate::storage::Listed>,
    collected: &mut Collected,
) -> anyhow::Result<()> {
    if objects.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = objects.iter().map(|o| o.key.clone()).collect();
    let known = db::known_keys(&state.db, &keys).await?;
    for object in objects {
        if !known.contains(&object.key) {
            state.storage.delete(&object.key).await?;
            collected.objects += 1;
            collected.bytes += object.size;
        }
    }
    Ok(())
}

/// The hourly pass, on every node (passes are idempotent; two at once delete nothing twice).
pub async fn worker(state: AppState) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        every.tick().await;
        match collect(&state, GRACE).await {
            Ok(c) if c.rows + c.objects > 0 => {
                tracing::info!(rows = c.rows, objects = c.objects, "files collected");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "file garbage collection failed"),
        }
    }
}
