//! SQL for channels, their members, read state and DMs.

use sqlx::{PgConnection, PgExecutor};

use super::ChannelKind;

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Channel {
    pub id: i64,
    pub workspace_id: i64,
    pub kind: ChannelKind,
    pub name: Option<String>,
    pub topic: String,
    pub is_general: bool,
    pub archived: bool,
    pub last_seq: i64,
}

impl Channel {
    pub fn is_dm(&self) -> bool {
        self.kind.is_dm()
    }
}

/// A channel as one user sees it: `last_read_seq` is `None` when they are not a member.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChannelAccess {
    #[sqlx(flatten)]
    pub channel: Channel,
    pub last_read_seq: Option<i64>,
    /// The asker's notification level here, if they chose one.
    pub notify: Option<String>,
}

impl ChannelAccess {
    /// The asker's notification level here, chosen or the default.
    pub fn level(&self) -> super::levels::Level {
        super::levels::Level::effective(self.notify.as_deref(), self.channel.kind)
    }

    /// Every level, for the channel's menu.
    pub fn levels(&self) -> [super::levels::Level; 4] {
        super::levels::Level::ALL
    }
}

const CHANNEL_COLUMNS: &str = "c.id, c.workspace_id, c.kind, c.name, c.topic, c.is_general, c.archived_at is not null as archived, c.last_seq";

/// The channel with the user's membership, if the channel is in this workspace.
pub async fn channel_for(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ChannelAccess>> {
    sqlx::query_as(&format!(
        "select {CHANNEL_COLUMNS}, cm.last_read_seq, cm.notify
         from channels c
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $3
         where c.id = $2 and c.workspace_id = $1"
    ))
    .bind(workspace_id)
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// SQL that holds when `user` is an active member of `workspace` with an active account: the
/// one rule every door asks at the moment of acting (a deactivated member, or a deactivated
/// account, is in no channel of that workspace, whatever `channel_members` still says).
pub fn active_member(workspace: &str, user: &str) -> String {
    format!(
        "exists (select 1 from workspace_members wm join users u on u.id = wm.user_id
                 where wm.workspace_id = {workspace} and wm.user_id = {user}
                   and wm.deactivated_at is null and u.deactivated_at is null)"
    )
}

/// A channel as the Web API describes it to one caller: the channel, the caller's place in
/// it, and what `conversations.info` tells about it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChannelInfo {
    #[sqlx(flatten)]
    pub channel: Channel,
    /// `None` when the caller is not a member.
    pub last_read_seq: Option<i64>,
    /// Where the caller's channel view is read to, as a running count, and the channel's
    /// count: unread is the difference.
    pub read_shown: Option<i64>,
    pub shown_total: i64,
    pub created_at: time::OffsetDateTime,
    pub created_by: Option<i64>,
    pub member_count: i64,
    /// In a DM, the other person.
    pub other_user: Option<i64>,
}

/// A `ChannelInfo` is a channel with more: its fields read through.
impl std::ops::Deref for ChannelInfo {
    type Target = Channel;

    fn deref(&self) -> &Channel {
        &self.channel
    }
}

/// [`ChannelInfo`]'s columns; `$2` is the caller.
const INFO_COLUMNS: &str =
    "cm.last_read_seq, cm.read_shown, c.shown_total, c.created_at, c.created_by,
    (select count(*) from channel_members x where x.channel_id = c.id) as member_count,
    case when c.kind = 'dm' then (select min(o.user_id) from channel_members o
                                  where o.channel_id = c.id and o.user_id <> $2) end as other_user";

/// A channel of any workspace the caller is an active member of, with the caller's place in
/// it. Whether they may see it is the caller's business (private ones need membership).
pub async fn info(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<ChannelInfo>> {
    sqlx::query_as(&format!(
        "select {CHANNEL_COLUMNS}, {INFO_COLUMNS}
         from channels c
         join workspace_members wm on wm.workspace_id = c.workspace_id and wm.user_id = $2
                                  and wm.deactivated_at is null
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
         where c.id = $1"
    ))
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The caller's conversations of these kinds in a workspace (every public channel, and the
/// private ones and DMs they are in; for a guest, only the ones they are in), by id after
/// `after_id`.
pub async fn listing(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
    kinds: &[ChannelKind],
    exclude_archived: bool,
    after_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<ChannelInfo>> {
    let kinds: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    sqlx::query_as(&format!(
        "select {CHANNEL_COLUMNS}, {INFO_COLUMNS}
         from channels c
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
         where c.workspace_id = $1 and c.kind = any($3) and c.id > $5
           and (cm.user_id is not null
                or (c.kind = 'public'
                    and exists (select 1 from workspace_members g
                                where g.workspace_id = $1 and g.user_id = $2
                                  and g.role <> 'guest')))
           and (not $4 or c.archived_at is null)
         order by c.id limit $6"
    ))
    .bind(workspace_id)
    .bind(user_id)
    .bind(&kinds)
    .bind(exclude_archived)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn general_channel_id(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select id from channels where workspace_id = $1 and is_general")
        .bind(workspace_id)
        .fetch_one(db)
        .await
}

/// The channel a name stands for: the public one if there is one, else the oldest private
/// one (private names may repeat: see [`name_taken_for`]).
pub async fn channel_by_name(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    name: &str,
) -> sqlx::Result<Option<Channel>> {
    sqlx::query_as(&format!(
        "select {CHANNEL_COLUMNS} from channels c where c.workspace_id = $1 and c.name = $2
         order by c.kind <> 'public', c.id limit 1"
    ))
    .bind(workspace_id)
    .bind(name)
    .fetch_optional(db)
    .await
}

pub async fn insert_channel(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    kind: ChannelKind,
    name: &str,
    topic: &str,
    created_by: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into channels (workspace_id, kind, name, topic, created_by)
         values ($1, $2, $3, $4, $5) returning id",
    )
    .bind(workspace_id)
    .bind(kind)
    .bind(name)
    .bind(topic)
    .bind(created_by)
    .fetch_one(db)
    .await
}

/// Makes the user a member, with everything already in the channel counted as read.
pub async fn add_member(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(&format!(
        "insert into channel_members (channel_id, user_id, last_read_seq, read_shown)
         select c.id, $2, c.last_seq, c.shown_total from channels c
         where c.id = $1 and {}
         on conflict do nothing",
        active_member("c.workspace_id", "$2")
    ))
    .bind(channel_id)
    .bind(user_id)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Adds these users (active members of the channel's workspace) in one statement; returns
/// the ones that were not members yet.
pub async fn add_members(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_ids: &[i64],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(&format!(
        "insert into channel_members (channel_id, user_id, last_read_seq, read_shown)
         select c.id, u.id, c.last_seq, c.shown_total from channels c cross join unnest($2::bigint[]) as u(id)
         where c.id = $1 and {}
         on conflict do nothing
         returning user_id",
        active_member("c.workspace_id", "u.id")
    ))
    .bind(channel_id)
    .bind(user_ids)
    .fetch_all(db)
    .await
}

pub async fn remove_member(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("delete from channel_members where channel_id = $1 and user_id = $2")
            .bind(channel_id)
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

pub async fn set_topic(db: impl PgExecutor<'_>, channel_id: i64, topic: &str) -> sqlx::Result<()> {
    sqlx::query("update channels set topic = $2 where id = $1")
        .bind(channel_id)
        .bind(topic)
        .execute(db)
        .await?;
    Ok(())
}

/// Moves the reader's `last_read_seq` forward, never back, and their `read_shown` to the running
/// count of channel-view messages at that seq (one index probe); returns where it ends up.
pub async fn mark_read(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
    seq: i64,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "update channel_members
         set last_read_seq = greatest(last_read_seq, least($3, c.last_seq)),
             read_shown = greatest(read_shown, coalesce(
                 (select m.shown_count from messages m
                  where m.channel_id = $1 and m.seq <= least($3, c.last_seq)
                  order by m.seq desc limit 1), 0))
         from channels c
         where c.id = channel_members.channel_id and channel_members.channel_id = $1
           and channel_members.user_id = $2
         returning channel_members.last_read_seq",
    )
    .bind(channel_id)
    .bind(user_id)
    .bind(seq)
    .fetch_one(db)
    .await
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ChannelMember {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    pub avatar_key: Option<String>,
}

pub async fn members_of(
    db: impl PgExecutor<'_>,
    channel_id: i64,
) -> sqlx::Result<Vec<ChannelMember>> {
    sqlx::query_as(
        "select u.id, u.username, u.display_name, u.is_bot, u.avatar_key
         from channel_members cm join users u on u.id = cm.user_id
         where cm.channel_id = $1 and u.deactivated_at is null
         order by lower(u.display_name), u.id",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await
}

/// The ids of a channel's active members.
pub async fn member_ids(db: impl PgExecutor<'_>, channel_id: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select cm.user_id from channel_members cm join users u on u.id = cm.user_id
         where cm.channel_id = $1 and u.deactivated_at is null",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await
}

/// A row of the channel browser.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PublicChannel {
    pub id: i64,
    pub name: String,
    pub topic: String,
    pub member_count: i64,
    pub joined: bool,
}

pub async fn public_channels(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<PublicChannel>> {
    sqlx::query_as(
        "select c.id, c.name, c.topic,
                (select count(*) from channel_members m where m.channel_id = c.id) as member_count,
                exists (select 1 from channel_members m where m.channel_id = c.id and m.user_id = $2) as joined
         from channels c
         where c.workspace_id = $1 and c.kind = 'public' and c.archived_at is null
         order by c.name",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// SQL for a conversation's name as the user in parameter `user` sees it: a channel's name,
/// or the other people of a DM (yourself, in a DM with yourself).
fn title(user: &str) -> String {
    format!(
        "coalesce(c.name,
            (select string_agg(u.display_name, ', ' order by lower(u.display_name))
             from channel_members o join users u on u.id = o.user_id
             where o.channel_id = c.id and o.user_id <> {user}),
            (select display_name from users where id = {user}))"
    )
}

/// A pinned message as a channel's details list it: who wrote it and the start of its text.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct PinnedLine {
    pub seq: i64,
    pub thread_root_seq: Option<i64>,
    pub author: String,
    /// The first 200 characters of the markdown, shown as text.
    pub excerpt: String,
}

/// The channel's pinned live messages, newest pin first (at most 20; the Pinned page has all).
pub async fn pinned_lines(
    db: impl PgExecutor<'_>,
    channel_id: i64,
) -> sqlx::Result<Vec<PinnedLine>> {
    sqlx::query_as(
        "select m.seq, m.thread_root_seq, coalesce(m.sender_name, u.display_name) as author,
                left(m.body, 200) as excerpt
         from pins p join messages m on m.channel_id = p.channel_id and m.seq = p.seq
         join users u on u.id = m.user_id
         where p.channel_id = $1 and m.deleted_at is null
         order by p.pinned_at desc limit 20",
    )
    .bind(channel_id)
    .fetch_all(db)
    .await
}

/// SQL for the threads a person (`$2`) follows in a workspace (`$1`), in channels they are
/// still in, over `thread_follows f` joined to the thread's summary `r` (`messages::threads`
/// lists them).
pub const FOLLOWED: &str = "from thread_follows f
     join threads r on r.channel_id = f.channel_id and r.root_seq = f.root_seq
     join channels c on c.id = f.channel_id
     join channel_members cm on cm.channel_id = f.channel_id and cm.user_id = f.user_id
     where f.user_id = $2 and c.workspace_id = $1 and f.following and r.reply_total > 0
       and c.archived_at is null";

/// Whether any followed thread in the workspace has unread replies: the sidebar's "Threads"
/// is bold then.
pub async fn threads_unread(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(&format!(
        "select exists (select 1 {FOLLOWED} and r.reply_total > f.read_index)"
    ))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// A conversation as live-delivery frames describe it to one member.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize, serde::Deserialize)]
pub struct MemberChannel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    pub last_seq: i64,
    pub last_read_seq: i64,
    /// The newest message the channel view shows (thread replies move `last_seq` only).
    pub last_shown_seq: i64,
}

/// Every conversation the user is in, in every workspace (one socket follows them all).
pub async fn memberships(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> sqlx::Result<Vec<MemberChannel>> {
    sqlx::query_as(&format!(
        "select c.id, {} as name, c.kind, c.last_seq, cm.last_read_seq, c.last_shown_seq
         from channel_members cm join channels c on c.id = cm.channel_id
         where cm.user_id = $1 and c.archived_at is null and {}",
        title("$1"),
        active_member("c.workspace_id", "$1")
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// One conversation of the user, as [`memberships`] describes it.
pub async fn membership(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<MemberChannel>> {
    sqlx::query_as(&format!(
        "select c.id, {} as name, c.kind, c.last_seq, cm.last_read_seq, c.last_shown_seq
         from channel_members cm join channels c on c.id = cm.channel_id
         where c.id = $1 and cm.user_id = $2 and {}",
        title("$2"),
        active_member("c.workspace_id", "$2")
    ))
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn kind_of(
    db: impl PgExecutor<'_>,
    channel_id: i64,
) -> sqlx::Result<Option<ChannelKind>> {
    sqlx::query_scalar("select kind from channels where id = $1")
        .bind(channel_id)
        .fetch_optional(db)
        .await
}

pub async fn last_seq(db: impl PgExecutor<'_>, channel_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select last_seq from channels where id = $1")
        .bind(channel_id)
        .fetch_one(db)
        .await
}

/// One row of the sidebar: a conversation with its unread state, counted without counting
/// messages: `shown_total - read_shown` (thread replies are not channel unread), plus the
/// mentions above `last_read_seq` (rows for people, and the rare @channel messages found by
/// their partial index).
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SidebarRow {
    pub id: i64,
    pub kind: ChannelKind,
    pub title: String,
    /// The other members of a DM, comma-separated (for presence dots); empty for channels.
    pub other_ids: String,
    pub unread: i64,
    pub mentions: i64,
    /// The person muted it: dimmed, never bold, a badge only for mentions.
    pub muted: bool,
}

pub async fn sidebar_rows(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<SidebarRow>> {
    sqlx::query_as(&format!(
        "select c.id, c.kind, {} as title,
                case when c.kind in ('dm', 'group_dm') then
                    coalesce((select string_agg(o.user_id::text, ',' order by o.user_id)
                              from channel_members o where o.channel_id = c.id and o.user_id <> $2), '')
                else '' end as other_ids,
                greatest(c.shown_total - cm.read_shown, 0) as unread,
                (select count(*) from mentions m
                 where m.user_id = $2 and m.channel_id = c.id and m.seq > cm.last_read_seq
                   and m.thread_root_seq is null)
                + (select count(*) from messages x
                   where x.channel_id = c.id and x.seq > cm.last_read_seq and x.user_id <> $2
                     and x.mention_all in ('channel', 'everyone')
                     and (x.thread_root_seq is null or x.reply_broadcast)) as mentions,
                coalesce(cm.notify = 'mute', false) as muted
         from channel_members cm join channels c on c.id = cm.channel_id
         where cm.user_id = $2 and c.workspace_id = $1 and c.archived_at is null
         order by c.kind in ('dm', 'group_dm'), lower(coalesce(c.name, '')), c.id",
        title("$2")
    ))
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// The DM or group DM of exactly these people, if it exists.
pub async fn dm_by_key(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    dm_key: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select id from channels where workspace_id = $1 and dm_key = $2")
        .bind(workspace_id)
        .bind(dm_key)
        .fetch_optional(db)
        .await
}

/// Creates the DM of these people unless a concurrent request just did; returns its id.
pub async fn insert_dm(
    tx: &mut PgConnection,
    workspace_id: i64,
    kind: ChannelKind,
    dm_key: &str,
    member_ids: &[i64],
    created_by: i64,
) -> sqlx::Result<i64> {
    let created: Option<i64> = sqlx::query_scalar(
        "insert into channels (workspace_id, kind, dm_key, created_by) values ($1, $2, $3, $4)
         on conflict (workspace_id, dm_key) do nothing returning id",
    )
    .bind(workspace_id)
    .bind(kind)
    .bind(dm_key)
    .bind(created_by)
    .fetch_optional(&mut *tx)
    .await?;
    match created {
        Some(id) => {
            sqlx::query(
                "insert into channel_members (channel_id, user_id) select $1, unnest($2::bigint[])",
            )
            .bind(id)
            .bind(member_ids)
            .execute(&mut *tx)
            .await?;
            Ok(id)
        }
        None => {
            sqlx::query_scalar("select id from channels where workspace_id = $1 and dm_key = $2")
                .bind(workspace_id)
                .bind(dm_key)
                .fetch_one(&mut *tx)
                .await
        }
    }
}

/// How many of these users are active members of the workspace.
pub async fn count_workspace_members(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_ids: &[i64],
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(*) from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 and wm.user_id = any($2) and wm.deactivated_at is null
           and u.deactivated_at is null",
    )
    .bind(workspace_id)
    .bind(user_ids)
    .fetch_one(db)
    .await
}

/// How many of `others` share a channel (not a DM) of the workspace with `user_id`.
pub async fn sharing_a_channel(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
    others: &[i64],
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "select count(distinct theirs.user_id)
         from channel_members mine
         join channels c on c.id = mine.channel_id and c.workspace_id = $1
                        and c.kind in ('public', 'private')
         join channel_members theirs on theirs.channel_id = c.id and theirs.user_id = any($3)
         where mine.user_id = $2",
    )
    .bind(workspace_id)
    .bind(user_id)
    .bind(others)
    .fetch_one(db)
    .await
}

/// Whether the workspace lets every member (not only admins) create channels.
pub async fn members_create_channels(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar("select channel_creators = 'members' from workspaces where id = $1")
        .bind(workspace_id)
        .fetch_one(db)
        .await
}

/// The active workspace member with this username.
pub async fn workspace_user_by_username(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    username: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "select u.id from users u join workspace_members wm on wm.user_id = u.id
         where wm.workspace_id = $1 and u.username = $2 and wm.deactivated_at is null
           and u.deactivated_at is null",
    )
    .bind(workspace_id)
    .bind(username)
    .fetch_optional(db)
    .await
}

pub async fn set_archived(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    archived: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update channels set archived_at = case when $2 then coalesce(archived_at, now()) end
         where id = $1",
    )
    .bind(channel_id)
    .bind(archived)
    .execute(db)
    .await?;
    Ok(())
}

/// Whether `name` is taken among the channels `viewer` can see (every channel when `None`:
/// the command line), other than `except`. A private channel they are not in does not count,
/// so the answer never reveals one; only public names are unique in the schema.
pub async fn name_taken_for(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    name: &str,
    viewer: Option<i64>,
    except: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
             select 1 from channels c
             where c.workspace_id = $1 and c.name = $2 and c.id <> $4
               and (c.kind = 'public' or $3::bigint is null
                    or exists (select 1 from channel_members cm
                               where cm.channel_id = c.id and cm.user_id = $3)))",
    )
    .bind(workspace_id)
    .bind(name)
    .bind(viewer)
    .bind(except)
    .fetch_one(db)
    .await
}

pub async fn rename(db: impl PgExecutor<'_>, channel_id: i64, name: &str) -> sqlx::Result<()> {
    sqlx::query("update channels set name = $2 where id = $1")
        .bind(channel_id)
        .bind(name)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn set_kind(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    kind: ChannelKind,
) -> sqlx::Result<()> {
    sqlx::query("update channels set kind = $2 where id = $1")
        .bind(channel_id)
        .bind(kind)
        .execute(db)
        .await?;
    Ok(())
}
