//! The search outbox: every message insert, edit and delete writes a row in its own
//! transaction, so the index can never miss a change; the worker that feeds Meilisearch claims
//! rows with `for update skip locked`, and with Postgres search (which reads the log itself)
//! they are cleared in batches.

use sqlx::{PgConnection, PgExecutor};

/// What a change asks of the index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Upsert,
    Delete,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Upsert => "upsert",
            Op::Delete => "delete",
        }
    }
}

/// Records a change for the index, inside the change's own transaction.
pub async fn enqueue(tx: &mut PgConnection, channel_id: i64, seq: i64, op: Op) -> sqlx::Result<()> {
    sqlx::query("insert into search_outbox (channel_id, seq, op) values ($1, $2, $3)")
        .bind(channel_id)
        .bind(seq)
        .bind(op.as_str())
        .execute(tx)
        .await?;
    Ok(())
}

/// Seconds the oldest waiting change has waited (0 when the outbox is empty).
pub async fn lag_secs(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar("select coalesce(extract(epoch from now() - min(created_at))::float8, 0) from search_outbox")
        .fetch_one(db)
        .await
}

/// With no index to feed, the outbox is cleared in batches (Postgres search reads the log).
pub async fn drain(db: impl PgExecutor<'_>) -> sqlx::Result<u64> {
    Ok(sqlx::query("delete from search_outbox where id in (select id from search_outbox order by id limit 5000)")
        .execute(db)
        .await?
        .rows_affected())
}
