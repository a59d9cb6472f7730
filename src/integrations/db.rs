//! SQL for bots and incoming webhooks.

use sqlx::{PgConnection, PgExecutor};

/// Creates a bot user (it cannot log in: its password hash is not a hash) and returns its id.
pub async fn insert_bot_user(
    tx: &mut PgConnection,
    username: &str,
    display_name: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into users (email, username, display_name, password_hash, is_bot)
         values ($1 || '@bots.natter.invalid', $1, $2, '!', true) returning id",
    )
    .bind(username)
    .bind(display_name)
    .fetch_one(tx)
    .await
}

/// Bots belong to their workspace but join no channel until added (not even #general).
pub async fn add_bot_member(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, 'member')",
    )
    .bind(workspace_id)
    .bind(user_id)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn insert_bot(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
    name: &str,
    created_by: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into bots (workspace_id, user_id, name, created_by) values ($1, $2, $3, $4) returning id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(name)
    .bind(created_by)
    .fetch_one(tx)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BotRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub username: String,
    pub revoked: bool,
    pub request_url: Option<String>,
    pub events: Vec<String>,
}

impl BotRow {
    pub fn subscribes(&self, event: &str) -> bool {
        self.events.iter().any(|e| e == event)
    }
}

pub async fn bots_of(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<Vec<BotRow>> {
    sqlx::query_as(
        "select b.id, b.user_id, b.name, u.username, b.revoked_at is not null as revoked,
                b.request_url, b.events
         from bots b join users u on u.id = b.user_id
         where b.workspace_id = $1 order by b.created_at desc",
    )
    .bind(workspace_id)
    .fetch_all(db)
    .await
}

/// Revokes a live bot of the workspace: its tokens stop working and its account is
/// deactivated. Returns its user id, or `None` if there was no such live bot.
pub async fn revoke_bot(
    tx: &mut PgConnection,
    workspace_id: i64,
    bot_id: i64,
) -> sqlx::Result<Option<i64>> {
    let user_id: Option<i64> = sqlx::query_scalar(
        "update bots set revoked_at = now() where id = $1 and workspace_id = $2 and revoked_at is null
         returning user_id",
    )
    .bind(bot_id)
    .bind(workspace_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user_id else {
        return Ok(None);
    };
    sqlx::query(
        "update api_tokens set revoked_at = now() where user_id = $1 and revoked_at is null",
    )
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update users set deactivated_at = now() where id = $1")
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(Some(user_id))
}

pub async fn insert_bot_token(
    db: impl PgExecutor<'_>,
    user_id: i64,
    token_hash: &str,
    name: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into api_tokens (user_id, token_hash, kind, name) values ($1, $2, 'bot', $3)",
    )
    .bind(user_id)
    .bind(token_hash)
    .bind(name)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn insert_webhook(
    tx: &mut PgConnection,
    workspace_id: i64,
    channel_id: i64,
    user_id: i64,
    token_hash: &str,
    name: &str,
    created_by: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into webhooks (workspace_id, channel_id, user_id, token_hash, name, created_by)
         values ($1, $2, $3, $4, $5, $6) returning id",
    )
    .bind(workspace_id)
    .bind(channel_id)
    .bind(user_id)
    .bind(token_hash)
    .bind(name)
    .bind(created_by)
    .fetch_one(tx)
    .await
}

/// A live webhook, found by the hash of its token.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Webhook {
    pub id: i64,
    pub workspace_id: i64,
    pub channel_id: i64,
    pub user_id: i64,
    pub name: String,
    pub channel_archived: bool,
}

pub async fn webhook_by_token(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Webhook>> {
    sqlx::query_as(
        "update webhooks h set last_used_at = now() from channels c
         where h.token_hash = $1 and h.revoked_at is null and c.id = h.channel_id
           and exists (select 1 from workspace_members wm join users u on u.id = wm.user_id
                       where wm.workspace_id = h.workspace_id and wm.user_id = h.created_by
                         and wm.deactivated_at is null and u.deactivated_at is null)
         returning h.id, h.workspace_id, h.channel_id, h.user_id, h.name, c.archived_at is not null as channel_archived",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WebhookRow {
    pub id: i64,
    pub name: String,
    pub channel_name: String,
    pub created_by_name: String,
    pub last_used_at: Option<time::OffsetDateTime>,
}

/// The live webhooks of a workspace that `viewer` may manage: every one for an admin
/// (`all`), else the ones they created. A webhook names its channel, which may be private.
pub async fn webhooks_of(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    viewer: i64,
    all: bool,
) -> sqlx::Result<Vec<WebhookRow>> {
    sqlx::query_as(
        "select h.id, h.name, coalesce(c.name, '') as channel_name, coalesce(u.display_name, '') as created_by_name,
                h.last_used_at
         from webhooks h join channels c on c.id = h.channel_id left join users u on u.id = h.created_by
         where h.workspace_id = $1 and h.revoked_at is null and ($3 or h.created_by = $2)
         order by h.created_at desc",
    )
    .bind(workspace_id)
    .bind(viewer)
    .bind(all)
    .fetch_all(db)
    .await
}

/// Revokes a live webhook of the workspace, if `actor` may: an admin (`any`), or its creator.
pub async fn revoke_webhook(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    webhook_id: i64,
    actor: i64,
    any: bool,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update webhooks set revoked_at = now()
         where id = $1 and workspace_id = $2 and revoked_at is null and ($4 or created_by = $3)",
    )
    .bind(webhook_id)
    .bind(workspace_id)
    .bind(actor)
    .bind(any)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Usernames of these users among the workspace's members, for translating `<@U…>` mentions:
/// an id from another workspace stays unresolved, so nobody learns names outside their own.
pub async fn usernames(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    ids: &[i64],
) -> sqlx::Result<Vec<(i64, String)>> {
    // Most messages mention nobody: no round trip for them.
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "select u.id, u.username from users u
         join workspace_members wm on wm.user_id = u.id and wm.workspace_id = $1
         where u.id = any($2)",
    )
    .bind(workspace_id)
    .bind(ids)
    .fetch_all(db)
    .await
}
