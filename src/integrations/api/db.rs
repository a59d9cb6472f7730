//! SQL for the Web API's views of channels, messages and users.

use sqlx::PgExecutor;
use time::OffsetDateTime;

use crate::auth::tokens::{TOKEN_FROM, TOKEN_USE, TOKEN_VALID, TokenUse};
use crate::messages::MessageRow;

/// A channel as the API describes it to one caller.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiChannel {
    pub id: i64,
    pub workspace_id: i64,
    pub kind: String,
    pub name: Option<String>,
    pub topic: String,
    pub is_general: bool,
    pub archived: bool,
    pub created_at: OffsetDateTime,
    pub created_by: Option<i64>,
    pub last_seq: i64,
    /// `None` when the caller is not a member.
    pub last_read_seq: Option<i64>,
    pub member_count: i64,
    /// In a DM, the other person.
    pub other_user: Option<i64>,
}

const COLUMNS: &str = "c.id, c.workspace_id, c.kind, c.name, c.topic, c.is_general,
    c.archived_at is not null as archived, c.created_at, c.created_by, c.last_seq, cm.last_read_seq,
    (select count(*) from channel_members x where x.channel_id = c.id) as member_count,
    case when c.kind = 'dm' then (select min(o.user_id) from channel_members o where o.channel_id = c.id and o.user_id <> $2) end as other_user";

/// A channel in one of the caller's workspaces, with the caller's membership. Whether they
/// may see it is the caller's business (private ones need membership).
pub async fn channel(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ApiChannel>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}
         from channels c
         join workspace_members wm on wm.workspace_id = c.workspace_id and wm.user_id = $2 and wm.deactivated_at is null
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
         where c.id = $1"
    ))
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn channel_id_by_name(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    name: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select id from channels where workspace_id = $1 and name = $2")
        .bind(workspace_id)
        .bind(name)
        .fetch_optional(db)
        .await
}

/// The caller's conversations of these kinds in a workspace: every public channel, and the
/// private ones and DMs they are in; by id after `after_id`.
pub async fn channels(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
    kinds: &[String],
    exclude_archived: bool,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ApiChannel>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}
         from channels c
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
         where c.workspace_id = $1 and c.kind = any($3) and c.id > $5
           and (c.kind = 'public' or cm.user_id is not null)
           and (not $4 or c.archived_at is null)
         order by c.id limit $6"
    ))
    .bind(workspace_id)
    .bind(user_id)
    .bind(kinds)
    .bind(exclude_archived)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// A message row for the API.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiMessage {
    pub seq: i64,
    pub user_id: i64,
    pub body: String,
    pub client_msg_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted: bool,
    pub is_bot: bool,
    pub sender_name: Option<String>,
}

impl From<&MessageRow> for ApiMessage {
    fn from(row: &MessageRow) -> Self {
        let m = &row.message;
        Self {
            seq: m.seq,
            user_id: m.user_id,
            body: m.body.clone(),
            client_msg_id: m.client_msg_id.clone(),
            created_at: m.created_at,
            edited_at: m.edited_at,
            deleted: m.deleted_at.is_some(),
            is_bot: row.is_bot,
            sender_name: row.sender_name.clone(),
        }
    }
}

const MESSAGE_COLUMNS: &str =
    "m.seq, m.user_id, m.body, m.client_msg_id, m.created_at, m.edited_at,
    m.deleted_at is not null as deleted, u.is_bot, m.sender_name";

pub async fn message(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Option<ApiMessage>> {
    sqlx::query_as(&format!(
        "select {MESSAGE_COLUMNS} from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq = $2"
    ))
    .bind(channel_id)
    .bind(seq)
    .fetch_optional(db)
    .await
}

/// Live messages with `after_seq < seq < before_seq` and `after_secs < created_at < before_secs`,
/// newest first.
pub async fn history(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    after_seq: i64,
    before_seq: i64,
    after_secs: f64,
    before_secs: f64,
    limit: i64,
) -> sqlx::Result<Vec<ApiMessage>> {
    sqlx::query_as(&format!(
        "select {MESSAGE_COLUMNS} from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq > $2 and m.seq < $3 and m.deleted_at is null
           and extract(epoch from m.created_at) > $4 and extract(epoch from m.created_at) < $5
         order by m.seq desc limit $6"
    ))
    .bind(channel_id)
    .bind(after_seq)
    .bind(before_seq)
    .bind(after_secs)
    .bind(before_secs)
    .bind(limit)
    .fetch_all(db)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    pub deleted: bool,
    pub workspace_id: i64,
}

/// Users of the caller's workspace, by id after `after_id`.
pub async fn users(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ApiUser>> {
    sqlx::query_as(
        "select u.id, u.username, u.display_name, u.is_bot,
                (u.deactivated_at is not null or wm.deactivated_at is not null) as deleted, wm.workspace_id
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and u.id > $2 order by u.id limit $3",
    )
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
    sqlx::query_as(
        "select u.id, u.username, u.display_name, u.is_bot,
                (u.deactivated_at is not null or wm.deactivated_at is not null) as deleted, wm.workspace_id
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and u.id = $2",
    )
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
}

pub async fn caller(
    db: impl PgExecutor<'_>,
    token_hash: &str,
    team: Option<i64>,
) -> sqlx::Result<Option<Caller>> {
    sqlx::query_as(&format!(
        "select {TOKEN_USE}, w.id as workspace_id, w.slug as workspace_slug,
                w.name as workspace_name
         from {TOKEN_FROM}
         left join lateral (
             select w.id, w.slug, w.name from workspaces w
             join workspace_members wm on wm.workspace_id = w.id and wm.user_id = u.id
                                      and wm.deactivated_at is null
             where case when u.is_bot then w.id = (select b.workspace_id from bots b
                                                  where b.user_id = u.id and b.revoked_at is null)
                        when $2::bigint is not null then w.id = $2
                        else true end
             order by w.id limit 1) w on true
         where {TOKEN_VALID}"
    ))
    .bind(token_hash)
    .bind(team)
    .fetch_optional(db)
    .await
}
