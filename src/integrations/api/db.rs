//! SQL of the Web API's own: its view of users and who is calling. Channels and messages are
//! read through their domains' SQL (`channels::db`, `messages::db`).

use sqlx::PgExecutor;

use crate::auth::membership::Role;
use crate::auth::tokens::{TOKEN_FROM, TOKEN_USE, TOKEN_VALID, TokenUse};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    pub deleted: bool,
    pub workspace_id: i64,
    #[sqlx(flatten)]
    pub profile: crate::auth::profile::Profile,
}

/// Users of the caller's workspace, by id after `after_id`.
pub async fn users(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ApiUser>> {
    sqlx::query_as(&format!(
        "select u.id, u.username, u.display_name, u.is_bot,
                (u.deactivated_at is not null or wm.deactivated_at is not null) as deleted, wm.workspace_id,
                {PROFILE}
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and u.id > $2 order by u.id limit $3",
        PROFILE = crate::auth::profile::COLUMNS,
    ))
    .bind(workspace_id)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn user(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ApiUser>> {
    sqlx::query_as(&format!(
        "select u.id, u.username, u.display_name, u.is_bot,
                (u.deactivated_at is not null or wm.deactivated_at is not null) as deleted, wm.workspace_id,
                {PROFILE}
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and u.id = $2",
        PROFILE = crate::auth::profile::COLUMNS,
    ))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Who calls with this token, and the workspace the call acts in: a bot's own, else `team`
/// if given, else the person's first. One round trip for what every call needs first.
#[derive(sqlx::FromRow)]
pub struct Caller {
    #[sqlx(flatten)]
    pub found: TokenUse,
    pub workspace_id: Option<i64>,
    pub workspace_slug: Option<String>,
    pub workspace_name: Option<String>,
    /// The caller's role there.
    pub role: Option<Role>,
    /// Deactivated in that workspace: every call there answers `account_inactive`.
    pub inactive: Option<bool>,
}

pub async fn caller(
    db: impl PgExecutor<'_>,
    token_hash: &str,
    team: Option<i64>,
) -> sqlx::Result<Option<Caller>> {
    sqlx::query_as(&format!(
        "select {TOKEN_USE}, w.id as workspace_id, w.slug as workspace_slug,
                w.name as workspace_name, w.role, w.inactive
         from {TOKEN_FROM}
         left join lateral (
             select w.id, w.slug, w.name, wm.role, wm.deactivated_at is not null as inactive
             from workspaces w
             join workspace_members wm on wm.workspace_id = w.id and wm.user_id = u.id
             where case when u.is_bot then w.id = (select b.workspace_id from bots b
                                                  where b.user_id = u.id and b.revoked_at is null)
                        when $2::bigint is not null then w.id = $2
                        else true end
             order by wm.deactivated_at is not null, w.id limit 1) w on true
         where {TOKEN_VALID}"
    ))
    .bind(token_hash)
    .bind(team)
    .fetch_optional(db)
    .await
}
