//! SQL for workspaces, their members and invite links.

use sqlx::{PgConnection, PgExecutor};

use crate::auth::membership::Role;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Workspace {
    pub id: i64,
    pub slug: String,
    pub name: String,
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Member {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub is_bot: bool,
    pub avatar_key: Option<String>,
}

/// Creates the workspace with its owner and its `#general`; returns the workspace's id.
pub async fn insert_workspace(
    tx: &mut PgConnection,
    slug: &str,
    name: &str,
    owner_id: i64,
) -> sqlx::Result<i64> {
    let workspace_id: i64 =
        sqlx::query_scalar("insert into workspaces (slug, name) values ($1, $2) returning id")
            .bind(slug)
            .bind(name)
            .fetch_one(&mut *tx)
            .await?;
    sqlx::query(
        "insert into channels (workspace_id, kind, name, topic, is_general, created_by)
         values ($1, 'public', 'general', 'Announcements and conversation for everyone', true, $2)",
    )
    .bind(workspace_id)
    .bind(owner_id)
    .execute(&mut *tx)
    .await?;
    add_member(&mut *tx, workspace_id, owner_id, Role::Owner).await?;
    Ok(workspace_id)
}

/// Adds a user to a workspace and to its `#general`. Already a member: nothing changes.
pub async fn add_member(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
    role: Role,
) -> sqlx::Result<bool> {
    let added = sqlx::query(
        "insert into workspace_members (workspace_id, user_id, role) values ($1, $2, $3)
         on conflict do nothing",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(role)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    // A newcomer starts with #general read up to now, not with its whole history unread. A
    // guest is only in the channels they are added to, #general included.
    if role != Role::Guest {
        sqlx::query(
            "insert into channel_members (channel_id, user_id, last_read_seq, read_shown)
             select id, $2, last_seq, shown_total from channels where workspace_id = $1 and is_general
             on conflict do nothing",
        )
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    }
    Ok(added)
}

pub async fn workspace_by_slug(
    db: impl PgExecutor<'_>,
    slug: &str,
) -> sqlx::Result<Option<Workspace>> {
    sqlx::query_as("select id, slug, name from workspaces where slug = $1")
        .bind(slug)
        .fetch_optional(db)
        .await
}

pub async fn members(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<Vec<Member>> {
    sqlx::query_as(
        "select u.id, u.username, u.display_name, wm.role, u.is_bot, u.avatar_key
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and wm.deactivated_at is null and u.deactivated_at is null
         order by lower(u.display_name), u.id",
    )
    .bind(workspace_id)
    .fetch_all(db)
    .await
}

pub async fn insert_invite(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    token_hash: &str,
    created_by: i64,
    expires_in_days: i32,
    max_uses: i32,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into invites (workspace_id, token_hash, created_by, expires_at, max_uses)
         values ($1, $2, $3, now() + make_interval(days => $4), $5)",
    )
    .bind(workspace_id)
    .bind(token_hash)
    .bind(created_by)
    .bind(expires_in_days)
    .bind(max_uses)
    .execute(db)
    .await?;
    Ok(())
}

/// The workspace a still-valid invite leads to.
pub async fn invite_workspace(
    db: impl PgExecutor<'_>,
    token_hash: &str,
) -> sqlx::Result<Option<Workspace>> {
    sqlx::query_as(
        "select w.id, w.slug, w.name from invites i join workspaces w on w.id = i.workspace_id
         where i.token_hash = $1 and i.expires_at > now() and i.uses < i.max_uses",
    )
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// Uses up one use of a valid invite; returns the workspace's id and slug, and the role it grants.
pub async fn consume_invite(
    tx: &mut PgConnection,
    token_hash: &str,
) -> sqlx::Result<Option<(i64, String, Role)>> {
    sqlx::query_as(
        "update invites i set uses = i.uses + 1 from workspaces w
         where w.id = i.workspace_id and i.token_hash = $1 and i.expires_at > now()
           and i.uses < i.max_uses
         returning i.workspace_id, w.slug, i.role",
    )
    .bind(token_hash)
    .fetch_optional(tx)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InviteRow {
    pub id: i64,
    pub created_by_name: String,
    pub expires_at: time::OffsetDateTime,
    pub max_uses: i32,
    pub uses: i32,
}

pub async fn active_invites(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
) -> sqlx::Result<Vec<InviteRow>> {
    sqlx::query_as(
        "select i.id, u.display_name as created_by_name, i.expires_at, i.max_uses, i.uses
         from invites i join users u on u.id = i.created_by
         where i.workspace_id = $1 and i.expires_at > now() and i.uses < i.max_uses
         order by i.created_at desc",
    )
    .bind(workspace_id)
    .fetch_all(db)
    .await
}

pub async fn revoke_invite(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    invite_id: i64,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("update invites set expires_at = now() where workspace_id = $1 and id = $2")
            .bind(workspace_id)
            .bind(invite_id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

/// A member as the admin pages manage them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ManagedMember {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub role: Role,
    pub is_bot: bool,
    pub deactivated: bool,
    pub joined_at: time::OffsetDateTime,
}

/// A [`ManagedMember`] from `workspace_members wm` and `users u`.
const MEMBER: &str = "select u.id, u.username, u.display_name, u.email, wm.role, u.is_bot,
    (wm.deactivated_at is not null or u.deactivated_at is not null) as deactivated, wm.joined_at
    from workspace_members wm join users u on u.id = wm.user_id";

/// One member, deactivated or not.
pub async fn member(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ManagedMember>> {
    sqlx::query_as(&format!(
        "{MEMBER} where wm.workspace_id = $1 and wm.user_id = $2"
    ))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// One member, its row locked until the transaction ends (so two admins cannot both demote
/// one of the last two owners).
pub async fn member_for_update(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ManagedMember>> {
    sqlx::query_as(&format!(
        "{MEMBER} where wm.workspace_id = $1 and wm.user_id = $2 for update of wm"
    ))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_optional(tx)
    .await
}

/// The members whose name, username or email contains `search`, with `role` if given,
/// deactivated ones included, by name.
pub async fn managed_members(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    search: &str,
    role: Option<Role>,
) -> sqlx::Result<Vec<ManagedMember>> {
    sqlx::query_as(&format!(
        "{MEMBER}
         where wm.workspace_id = $1
           and ($2 = '' or strpos(lower(u.display_name || ' ' || u.username || ' ' || u.email),
                                  lower($2)) > 0)
           and ($3::text is null or wm.role = $3)
         order by lower(u.display_name), u.id"
    ))
    .bind(workspace_id)
    .bind(search)
    .bind(role)
    .fetch_all(db)
    .await
}

/// Active owners (with active accounts) of the workspace, counted under the callers' locks.
pub async fn active_owners(tx: &mut PgConnection, workspace_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and wm.role = 'owner' and wm.deactivated_at is null
           and u.deactivated_at is null",
    )
    .bind(workspace_id)
    .fetch_one(tx)
    .await
}

pub async fn set_role(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
    role: Role,
) -> sqlx::Result<()> {
    sqlx::query("update workspace_members set role = $3 where workspace_id = $1 and user_id = $2")
        .bind(workspace_id)
        .bind(user_id)
        .bind(role)
        .execute(tx)
        .await?;
    Ok(())
}

pub async fn set_deactivated(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
    deactivated: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update workspace_members
         set deactivated_at = case when $3 then coalesce(deactivated_at, now()) end
         where workspace_id = $1 and user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(deactivated)
    .execute(tx)
    .await?;
    Ok(())
}

/// The channels of the workspace the user is in (whatever their membership's state).
pub async fn channels_of_member(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select c.id from channel_members cm join channels c on c.id = cm.channel_id
         where c.workspace_id = $1 and cm.user_id = $2 order by c.id",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Takes the user out of the workspace's channels and the workspace.
pub async fn remove_member(
    tx: &mut PgConnection,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "delete from channel_members cm using channels c
         where c.id = cm.channel_id and c.workspace_id = $1 and cm.user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("delete from workspace_members where workspace_id = $1 and user_id = $2")
        .bind(workspace_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

pub async fn settings(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
) -> sqlx::Result<super::settings::Settings> {
    sqlx::query_as(
        "select name, channel_creators, allowed_domains, retention_days, mention_all_limit,
                file_quota_mb, link_previews, notification_text, require_two_factor
         from workspaces where id = $1",
    )
    .bind(workspace_id)
    .fetch_one(db)
    .await
}

pub async fn set_settings(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    settings: &super::settings::Settings,
) -> sqlx::Result<()> {
    sqlx::query(
        "update workspaces set name = $2, channel_creators = $3, allowed_domains = $4,
                retention_days = $5, mention_all_limit = $6, file_quota_mb = $7,
                link_previews = $8, notification_text = $9, require_two_factor = $10
         where id = $1",
    )
    .bind(workspace_id)
    .bind(&settings.name)
    .bind(&settings.channel_creators)
    .bind(&settings.allowed_domains)
    .bind(settings.retention_days)
    .bind(settings.mention_all_limit)
    .bind(settings.file_quota_mb)
    .bind(settings.link_previews)
    .bind(settings.notification_text)
    .bind(settings.require_two_factor)
    .execute(db)
    .await?;
    Ok(())
}

/// Empties up to `limit` live messages older than their workspace's retention period, with
/// their mentions; returns their keys.
pub async fn purge_expired_batch(
    tx: &mut PgConnection,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let purged: Vec<(i64, i64)> = sqlx::query_as(
        "with expired as (
             select m.channel_id, m.seq from messages m
             join channels c on c.id = m.channel_id
             join workspaces w on w.id = c.workspace_id
             where w.retention_days is not null and m.deleted_at is null
               and m.created_at < now() - make_interval(days => w.retention_days)
             order by m.channel_id, m.seq
             limit $1
             for update of m skip locked)
         update messages m set body = '', deleted_at = now()
         from expired e where m.channel_id = e.channel_id and m.seq = e.seq
         returning m.channel_id, m.seq",
    )
    .bind(limit)
    .fetch_all(&mut *tx)
    .await?;
    if !purged.is_empty() {
        let (channels, seqs): (Vec<i64>, Vec<i64>) = purged.iter().copied().unzip();
        sqlx::query(
            "delete from mentions m using unnest($1::bigint[], $2::bigint[]) as k(channel_id, seq)
             where m.channel_id = k.channel_id and m.seq = k.seq",
        )
        .bind(&channels)
        .bind(&seqs)
        .execute(&mut *tx)
        .await?;
    }
    Ok(purged)
}

/// Workspaces the user may join without an invite (their email's domain is allowed there)
/// and is not in.
pub async fn joinable(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Vec<Workspace>> {
    sqlx::query_as(
        "select w.id, w.slug, w.name from workspaces w join users u on u.id = $1
         where lower(split_part(u.email, '@', 2)) = any(w.allowed_domains)
           and not exists (select 1 from workspace_members wm
                           where wm.workspace_id = w.id and wm.user_id = $1)
         order by lower(w.name)",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
