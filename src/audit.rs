//! The audit log: every administrative action, with who did it, to what, and when.
//!
//! Written in the same transaction as the action where there is one, so an action and its
//! record stand or fall together. It imports nothing of the crate: any domain may record.

use sqlx::PgExecutor;

/// Records that `actor_id` did `action` (`channel.create`, `bot.revoke`, …) to `target`.
pub async fn record(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    actor_id: i64,
    action: &str,
    target: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into audit_log (workspace_id, actor_id, action, target) values ($1, $2, $3, $4)",
    )
    .bind(workspace_id)
    .bind(actor_id)
    .bind(action)
    .bind(target)
    .execute(db)
    .await?;
    Ok(())
}
