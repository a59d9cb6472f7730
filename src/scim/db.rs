//! SQL for SCIM: tokens, the workspace's people as Users, its provisioned channels as Groups.

use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// The workspace a live SCIM token provisions, and its slug.
pub async fn workspace_for_token(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "update scim_tokens t set last_used_at = now() from workspaces w
         where t.token_hash = $1 and t.revoked_at is null and w.id = t.workspace_id
         returning w.id, w.slug",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Revokes the workspace's live tokens and stores a new one.
pub async fn replace_token(
    tx: &mut PgConnection,
    workspace_id: i64,
    token_hash: &str,
    created_by: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update scim_tokens set revoked_at = now() where workspace_id = $1 and revoked_at is null",
    )
    .bind(workspace_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into scim_tokens (workspace_id, token_hash, created_by) values ($1, $2, $3)",
    )
    .bind(workspace_id)
    .bind(token_hash)
    .bind(created_by)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// A person of the workspace as a SCIM User.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    /// The provider's userName: its own if it gave one that is not the email, else the email.
    pub user_name: String,
    pub email: String,
    pub display_name: String,
    pub active: bool,
    pub external_id: Option<String>,
    pub joined_at: OffsetDateTime,
}

const USER: &str = "select u.id, coalesce(wm.scim_user_name, u.email) as user_name, u.email,
        u.display_name,
        (wm.deactivated_at is null and u.deactivated_at is null) as active,
        wm.scim_external_id as external_id, wm.joined_at
    from workspace_members wm join users u on u.id = wm.user_id
    where wm.workspace_id = $1 and not u.is_bot";

/// Every person (not bot) of the workspace, deactivated ones included, by id.
pub async fn users(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<Vec<UserRow>> {
    sqlx::query_as(&format!("{USER} order by u.id"))
        .bind(workspace_id)
        .fetch_all(db)
        .await
}

pub async fn user(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<UserRow>> {
    sqlx::query_as(&format!("{USER} and u.id = $2"))
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// The account with this email (any workspace), if there is one.
pub async fn account_by_email(
    db: impl PgExecutor<'_>,
    email: &str,
) -> sqlx::Result<Option<(i64, bool)>> {
    sqlx::query_as("select id, is_bot from users where lower(email) = lower($1)")
        .bind(email)
        .fetch_optional(db)
        .await
}

/// How many workspaces the account belongs to.
pub async fn workspace_count(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from workspace_members where user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

pub async fn set_profile(
    db: impl PgExecutor<'_>,
    user_id: i64,
    email: &str,
    display_name: &str,
) -> sqlx::Result<()> {
    sqlx::query("update users set email = $2, display_name = $3 where id = $1")
        .bind(user_id)
        .bind(email)
        .bind(display_name)
        .execute(db)
        .await?;
    Ok(())
}

/// The provider's ids for a member: its `externalId`, and its `userName` when that is not
/// the account's email (`None`).
pub async fn set_user_ids(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
    external_id: Option<&str>,
    user_name: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "update workspace_members set scim_external_id = $3, scim_user_name = $4
         where workspace_id = $1 and user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(external_id)
    .bind(user_name)
    .execute(db)
    .await?;
    Ok(())
}

/// A provisioned private channel as a SCIM Group.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct GroupRow {
    pub id: i64,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: OffsetDateTime,
    /// Its members' (user id, display name), by id.
    pub members: sqlx::types::Json<Vec<(i64, String)>>,
}

const GROUP: &str = "select c.id, c.scim_display_name as display_name,
        c.scim_external_id as external_id, c.created_at,
        coalesce((select json_agg(json_build_array(u.id, u.display_name) order by u.id)
                  from channel_members cm join users u on u.id = cm.user_id
                  where cm.channel_id = c.id), '[]') as members
    from channels c
    where c.workspace_id = $1 and c.scim_display_name is not null and c.archived_at is null";

pub async fn groups(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<Vec<GroupRow>> {
    sqlx::query_as(&format!("{GROUP} order by c.id"))
        .bind(workspace_id)
        .fetch_all(db)
        .await
}

pub async fn group(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    channel_id: i64,
) -> sqlx::Result<Option<GroupRow>> {
    sqlx::query_as(&format!("{GROUP} and c.id = $2"))
        .bind(workspace_id)
        .bind(channel_id)
        .fetch_optional(db)
        .await
}

/// Marks a private channel as provisioned, with the provider's name and id for it.
pub async fn set_group(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    display_name: Option<&str>,
    external_id: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query("update channels set scim_display_name = $2, scim_external_id = $3 where id = $1")
        .bind(channel_id)
        .bind(display_name)
        .bind(external_id)
        .execute(db)
        .await?;
    Ok(())
}

/// The group's name is taken by another provisioned group of the workspace.
pub async fn group_name_taken(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    display_name: &str,
    except: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from channels where workspace_id = $1 and id <> $3
                        and archived_at is null and lower(scim_display_name) = lower($2))",
    )
    .bind(workspace_id)
    .bind(display_name)
    .bind(except)
    .fetch_one(db)
    .await
}

/// Adds a member of the workspace (active or not: a deactivated person keeps their groups,
/// and every door still refuses them) to one of its channels.
pub async fn add_to_group(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "insert into channel_members (channel_id, user_id, last_read_seq, read_shown)
         select c.id, $2, c.last_seq, c.shown_total from channels c
         join workspace_members wm on wm.workspace_id = c.workspace_id and wm.user_id = $2
         where c.id = $1
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(user_id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}
