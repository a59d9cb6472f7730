//! SQL for the event outbox and bots' event settings.

use sqlx::PgExecutor;

/// An event due for delivery, leased for a while so no other worker takes it meanwhile.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub bot_id: i64,
    pub channel_id: i64,
    pub seq: i64,
    pub event_type: String,
    pub attempts: i32,
    /// For `reaction_added` / `reaction_removed`: the emoji and who reacted.
    pub reaction: Option<String>,
    pub actor_id: Option<i64>,
}

/// How much one round of claiming may take, so no bot or workspace crowds out the rest.
pub struct Fairness<'a> {
    pub total: i64,
    pub per_bot: i64,
    pub per_workspace: i64,
    /// Bots that already have their share in flight on this node.
    pub skip_bots: &'a [i64],
}

/// Claims due events: only the oldest undelivered one of each (bot, channel), so events of a
/// channel reach a bot in order; at most `per_bot` of a bot and `per_workspace` of a workspace,
/// oldest first within each, taken round-robin across bots. Safe with any number of nodes.
pub async fn claim(
    db: impl PgExecutor<'_>,
    fairness: &Fairness<'_>,
    lease_secs: f64,
) -> sqlx::Result<Vec<Due>> {
    // Ranking needs window functions, which `for update` does not allow, so the ranked
    // candidates are chosen first and locked after.
    sqlx::query_as(
        "update event_outbox o set next_attempt_at = now() + make_interval(secs => $4)
         where o.id in (
             select e.id from event_outbox e
             where e.id in (
                 select id from (
                     select d.id,
                            row_number() over (partition by d.bot_id order by d.id) as in_bot,
                            row_number() over (partition by b.workspace_id order by d.id) as in_workspace
                     from event_outbox d join bots b on b.id = d.bot_id
                     where d.delivered_at is null and d.failed_at is null
                       and d.next_attempt_at <= now()
                       and d.bot_id <> all($5)
                       and not exists (
                           select 1 from event_outbox p
                           where p.bot_id = d.bot_id and p.channel_id = d.channel_id
                             and p.delivered_at is null and p.failed_at is null and p.id < d.id)
                 ) ranked
                 where in_bot <= $2 and in_workspace <= $3
                 order by in_bot, id
                 limit $1)
             for update skip locked)
         returning o.id, o.bot_id, o.channel_id, o.seq, o.event_type, o.attempts, o.reaction,
                   o.actor_id",
    )
    .bind(fairness.total)
    .bind(fairness.per_bot)
    .bind(fairness.per_workspace)
    .bind(lease_secs)
    .bind(fairness.skip_bots)
    .fetch_all(db)
    .await
}

pub async fn delivered(db: impl PgExecutor<'_>, id: i64, status: i32) -> sqlx::Result<()> {
    sqlx::query("update event_outbox set delivered_at = now(), last_status = $2, last_error = null where id = $1")
        .bind(id)
        .bind(status)
        .execute(db)
        .await?;
    Ok(())
}

/// Records a failed attempt: retried after `retry_in_secs`, or given up (`failed_at`) when
/// `give_up` is set.
pub async fn failed(
    db: impl PgExecutor<'_>,
    id: i64,
    status: Option<i32>,
    error: &str,
    retry_in_secs: f64,
    give_up: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update event_outbox set attempts = attempts + 1, last_status = $2, last_error = $3,
                next_attempt_at = now() + make_interval(secs => $4),
                failed_at = case when $5 then now() end
         where id = $1",
    )
    .bind(id)
    .bind(status)
    .bind(error)
    .bind(retry_in_secs)
    .bind(give_up)
    .execute(db)
    .await?;
    Ok(())
}

/// What delivering to a bot needs.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Target {
    pub bot_id: i64,
    pub user_id: i64,
    pub workspace_id: i64,
    pub request_url: Option<String>,
    pub signing_secret: String,
    pub revoked: bool,
}

pub async fn target(db: impl PgExecutor<'_>, bot_id: i64) -> sqlx::Result<Option<Target>> {
    sqlx::query_as(
        "select id as bot_id, user_id, workspace_id, request_url, signing_secret, revoked_at is not null as revoked
         from bots where id = $1",
    )
    .bind(bot_id)
    .fetch_optional(db)
    .await
}

pub async fn set_request_url(
    db: impl PgExecutor<'_>,
    bot_id: i64,
    url: &str,
    events: &[String],
) -> sqlx::Result<()> {
    sqlx::query(
        "update bots set request_url = $2, events = $3, url_verified_at = now() where id = $1",
    )
    .bind(bot_id)
    .bind(url)
    .bind(events)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn set_signing_secret(
    db: impl PgExecutor<'_>,
    bot_id: i64,
    secret: &str,
) -> sqlx::Result<()> {
    sqlx::query("update bots set signing_secret = $2 where id = $1")
        .bind(bot_id)
        .bind(secret)
        .execute(db)
        .await?;
    Ok(())
}

/// Delivery health of a bot's events for the admin page.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Health {
    pub delivered: i64,
    pub waiting: i64,
    pub failed: i64,
    pub last_error: Option<String>,
    pub last_status: Option<i32>,
}

pub async fn health(db: impl PgExecutor<'_>, bot_id: i64) -> sqlx::Result<Health> {
    sqlx::query_as(
        "select count(*) filter (where delivered_at is not null) as delivered,
                count(*) filter (where delivered_at is null and failed_at is null) as waiting,
                count(*) filter (where failed_at is not null) as failed,
                (select last_error from event_outbox where bot_id = $1 and last_error is not null order by id desc limit 1) as last_error,
                (select last_status from event_outbox where bot_id = $1 and last_status is not null order by id desc limit 1) as last_status
         from event_outbox where bot_id = $1",
    )
    .bind(bot_id)
    .fetch_one(db)
    .await
}
