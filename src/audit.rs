//! The audit log: every administrative action, with who did it, to what, and when.
//!
//! Written in the same transaction as the action where there is one, so an action and its
//! record stand or fall together. It imports nothing of the crate: any domain may record.

use sqlx::PgExecutor;

/// Records that `actor_id` did `action` (`channel.create`, `bot.revoke`, …) to `target`.
/// No actor (`None`) is the command line, run by whoever operates the server.
pub async fn record(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    actor_id: impl Into<Option<i64>>,
    action: &str,
    target: &str,
) -> sqlx::Result<()> {
    let actor_id: Option<i64> = actor_id.into();
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

/// Records an action on the instance itself (an account deactivated everywhere): no workspace.
pub async fn record_instance(
    db: impl PgExecutor<'_>,
    actor_id: i64,
    action: &str,
    target: &str,
) -> sqlx::Result<()> {
    sqlx::query("insert into audit_log (actor_id, action, target) values ($1, $2, $3)")
        .bind(actor_id)
        .bind(action)
        .bind(target)
        .execute(db)
        .await?;
    Ok(())
}

/// One recorded action, as the audit page shows it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Entry {
    pub at: time::OffsetDateTime,
    /// The actor's username (empty when the actor is gone).
    pub actor: String,
    pub action: String,
    pub target: String,
}

/// What to look for in a workspace's log. Empty strings and `None` match everything.
pub struct Query {
    pub workspace_id: i64,
    /// A username, exactly.
    pub actor: String,
    /// An action, or the start of one (`member.`).
    pub action: String,
    pub from: Option<time::OffsetDateTime>,
    pub until: Option<time::OffsetDateTime>,
    pub limit: i64,
}

/// The entries matching `q`, newest first.
pub async fn entries(db: impl PgExecutor<'_>, q: &Query) -> sqlx::Result<Vec<Entry>> {
    sqlx::query_as(
        "select a.at, coalesce(u.username, '') as actor, a.action, a.target
         from audit_log a left join users u on u.id = a.actor_id
         where a.workspace_id = $1
           and ($2 = '' or u.username = $2)
           and ($3 = '' or starts_with(a.action, $3))
           and ($4::timestamptz is null or a.at >= $4)
           and ($5::timestamptz is null or a.at < $5)
         order by a.at desc, a.id desc limit $6",
    )
    .bind(q.workspace_id)
    .bind(&q.actor)
    .bind(&q.action)
    .bind(q.from)
    .bind(q.until)
    .bind(q.limit)
    .fetch_all(db)
    .await
}
