//! SQL for the message log. Rows are keyed by (channel_id, seq); every read is a range scan.

use sqlx::types::Json;

use crate::files::db::MESSAGE_FILES;
use sqlx::{PgConnection, PgExecutor};
use time::OffsetDateTime;

/// A message as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredMessage {
    pub channel_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub body: String,
    pub client_msg_id: Option<String>,
    pub created_at: OffsetDateTime,
    pub edited_at: Option<OffsetDateTime>,
    pub deleted_at: Option<OffsetDateTime>,
    /// A reply's root; `None` for a top-level message.
    pub thread_root_seq: Option<i64>,
    /// A reply also shown in the channel ("Also send to #channel").
    pub reply_broadcast: bool,
    /// A reply's place in its thread (1, 2, …).
    pub reply_index: Option<i32>,
    /// The channel view's running count up to this message (see migration 0009).
    pub shown_count: i64,
    /// On a root: its live replies, the repliers (first reply first) and the newest reply.
    pub reply_count: i32,
    pub reply_users: Vec<i64>,
    pub latest_reply_seq: Option<i64>,
    pub latest_reply_at: Option<OffsetDateTime>,
    /// How many files it shares (their details are in [`MessageRow::files`]).
    pub file_count: i16,
    /// Link previews the preview worker attached (Slack's unfurls).
    pub previews: Option<Json<Vec<Preview>>>,
    /// Its author removed the previews (or asked for none).
    pub previews_off: bool,
}

/// A link preview card: the page's title, description, image and site.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Preview {
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// The key of the image's copy the server fetched (`/icons/<key>`), if any.
    #[serde(default)]
    pub image_key: Option<String>,
    /// The image's address on its site (Slack's `image_url`).
    #[serde(default)]
    pub image_url: Option<String>,
    #[serde(default)]
    pub site: String,
}

impl StoredMessage {
    /// Whether the channel view shows it: a top-level message or a broadcast reply.
    pub fn in_channel_view(&self) -> bool {
        self.thread_root_seq.is_none() || self.reply_broadcast
    }
}

/// A message with what is shown of its author.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct MessageRow {
    #[sqlx(flatten)]
    pub message: StoredMessage,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
    /// The name a webhook or bot gave this one message, if any (already in `display_name`).
    pub sender_name: Option<String>,
    /// An integration's icon for this message: an http(s) URL or an `:emoji:` code.
    pub sender_icon: Option<String>,
    /// The key of the icon URL's copy fetched by the server (`remote_icons`), once there is one.
    pub icon_key: Option<String>,
    /// The author's picture, if they uploaded one.
    pub avatar_key: Option<String>,
    /// The author's status now (`:palm_tree:` and its text), "" for none or a named sender.
    pub status_emoji: String,
    pub status_text: String,
    /// A reply's root's time, for Slack's `thread_ts`.
    pub thread_root_at: Option<OffsetDateTime>,
    /// On a root with replies: the display names of its first three repliers.
    pub replier_names: Option<Vec<String>>,
    /// The files it shares, in order (those still there).
    pub files: Option<Json<Vec<crate::files::FileRef>>>,
}

impl MessageRow {
    pub fn files(&self) -> &[crate::files::FileRef] {
        self.files
            .as_ref()
            .map(|f| f.0.as_slice())
            .unwrap_or_default()
    }
}

const COLUMNS: &str = "m.channel_id, m.seq, m.user_id, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at,
     m.thread_root_seq, m.reply_broadcast, m.reply_index, m.shown_count,
     coalesce(t.reply_count, 0) as reply_count, coalesce(t.reply_users, '{}') as reply_users,
     t.latest_reply_seq, t.latest_reply_at, m.file_count, m.previews, m.previews_off";
/// Messages with their authors and, for roots, their thread's summary (`t`).
const FROM: &str = "messages m join users u on u.id = m.user_id
     left join threads t on t.channel_id = m.channel_id and t.root_seq = m.seq";
/// What a [`MessageRow`] shows of its author, from `users u`. (The icon's lookup runs only
/// for the rare message that names one.)
const AUTHOR: &str =
    "u.username, coalesce(m.sender_name, u.display_name) as display_name, u.is_bot, m.sender_name,
     m.sender_icon, u.avatar_key,
     case when m.sender_name is null
               and (u.status_expires_at is null or u.status_expires_at > now())
          then u.status_emoji else '' end as status_emoji,
     case when m.sender_name is null
               and (u.status_expires_at is null or u.status_expires_at > now())
          then u.status_text else '' end as status_text,
     case when m.sender_icon is not null then
         (select i.key from remote_icons i where i.url = m.sender_icon and i.bytes is not null)
     end as icon_key,
     case when m.thread_root_seq is not null then
         (select r.created_at from messages r
          where r.channel_id = m.channel_id and r.seq = m.thread_root_seq)
     end as thread_root_at,
     case when t.reply_count > 0 then
         (select array_agg(x.display_name order by r.n)
          from unnest(t.reply_users[1:3]) with ordinality as r(id, n)
          join users x on x.id = r.id)
     end as replier_names";
/// What the channel view shows: top-level messages and broadcast replies.
const IN_CHANNEL_VIEW: &str = "(m.thread_root_seq is null or m.reply_broadcast)";

pub async fn by_client_msg_id(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
    client_msg_id: &str,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES} from {FROM}
         where m.channel_id = $1 and m.user_id = $2 and m.client_msg_id = $3"
    ))
    .bind(channel_id)
    .bind(user_id)
    .bind(client_msg_id)
    .fetch_optional(db)
    .await
}

/// Sends in one statement, so one round trip and atomic on its own: takes the channel's next
/// seq (the row lock on `channels` queues a channel's writers until commit), inserts the
/// message, moves the author's read point, records mentions of members, and writes the search
/// outbox row (when an external index reads it: `search_outbox`) and bots' event outbox rows
/// (`integrations::events` delivers those), so a message and everything that follows from it
/// are stored together or not at all.
///
/// A reply (`thread_root_seq`) also updates its root's summary (count, repliers, newest reply)
/// and the thread's followers, under the same channel row lock, so concurrent replies number
/// themselves in seq order. Only what the channel view shows (top-level messages and broadcast
/// replies) bumps the channel's `shown_total` and moves the author's channel read point.
///
/// Each part starts from what is few (the mentioned usernames, the live bots) and probes
/// `channel_members` by its key, so a channel of ten thousand members costs a send no more than
/// one of ten; with no mentions and no bots those parts read nothing.
///
/// Any failure rolls the whole statement back, the seq bump with it, so seqs stay gapless; a
/// retried `client_msg_id` fails on `messages_client_msg_id_key`. `None` when nothing was
/// written: the channel is archived, the sender is not (or no longer) an active member of it,
/// or the thread's root is not a live top-level message; [`refusal`] tells which.
pub async fn insert_sent(
    db: impl PgExecutor<'_>,
    new: &super::NewMessage<'_>,
    client_msg_id: Option<&str>,
    mentioned: &Mentioned<'_>,
    search_outbox: bool,
) -> sqlx::Result<Option<SentRow>> {
    sqlx::query_as(&format!(
        "with next as (
             update channels c set last_seq = c.last_seq + 1,
                    shown_total = c.shown_total
                                  + case when $9::bigint is null or $10 then 1 else 0 end,
                    last_shown_seq = case when $9::bigint is null or $10 then c.last_seq + 1
                                          else c.last_shown_seq end
             where c.id = $1 and c.archived_at is null
               and exists (select 1 from channel_members cm
                           where cm.channel_id = $1 and cm.user_id = $2)
               and {active}
               and ($9::bigint is null
                    or exists (select 1 from messages r
                               where r.channel_id = $1 and r.seq = $9
                                 and r.thread_root_seq is null and r.deleted_at is null))
               and (cardinality($13::text[]) = 0 or ({shareable}))
             returning c.id, c.kind, c.last_seq, c.shown_total),
         root as (
             insert into threads as t (channel_id, root_seq, reply_total, reply_count,
                                       reply_users, latest_reply_seq, latest_reply_at)
             select $1, $9, 1, 1, array[$2::bigint], next.last_seq, now()
             from next where $9::bigint is not null
             on conflict (channel_id, root_seq) do update
             set reply_total = t.reply_total + 1, reply_count = t.reply_count + 1,
                 reply_users = case when $2 = any(t.reply_users) then t.reply_users
                                    else t.reply_users || $2::bigint end,
                 latest_reply_seq = excluded.latest_reply_seq,
                 latest_reply_at = excluded.latest_reply_at
             returning t.reply_total, t.reply_count, t.reply_users, t.latest_reply_at),
         m as (
             insert into messages (channel_id, seq, user_id, body, client_msg_id, sender_name,
                                   sender_icon, thread_root_seq, reply_broadcast, shown_count,
                                   reply_index, mention_all, file_count, previews_off)
             select next.id, next.last_seq, $2, $3, $4, $5, $6, $9, $9 is not null and $10,
                    next.shown_total, (select reply_total from root), $11, cardinality($13),
                    not $14
             from next
             returning *),
         shared as (
             insert into file_shares (file_id, channel_id, seq, position)
             select k.id, m.channel_id, m.seq, k.n from m
             cross join unnest($13::text[]) with ordinality as k(id, n)),
         read_point as (
             update channel_members cm set last_read_seq = greatest(cm.last_read_seq, m.seq),
                    read_shown = greatest(cm.read_shown, m.shown_count)
             from m where cm.channel_id = m.channel_id and cm.user_id = m.user_id
               and (m.thread_root_seq is null or m.reply_broadcast)),
         mentioned as (
             insert into mentions (user_id, channel_id, seq, thread_root_seq)
             select u.id, m.channel_id, m.seq,
                    case when m.reply_broadcast then null else m.thread_root_seq end
             from m join users u on (u.username = any($7) or u.id = any($12)) and u.id <> m.user_id
             where (cardinality($7::text[]) > 0 or cardinality($12::bigint[]) > 0)
               and exists (select 1 from channel_members cm
                           where cm.channel_id = m.channel_id and cm.user_id = u.id)
             on conflict do nothing
             returning user_id),
         notify as (
             insert into notify_outbox (channel_id, seq)
             select m.channel_id, m.seq from m join next on true
             where next.kind in ('dm', 'group_dm') or m.mention_all in ('channel', 'everyone')
                or m.thread_root_seq is not null or exists (select 1 from mentioned)
                or exists (select 1 from channel_members cm
                           where cm.channel_id = m.channel_id and cm.notify = 'all'
                             and cm.user_id <> m.user_id)),
         replier_follows as (
             insert into thread_follows (user_id, channel_id, root_seq, read_index)
             select m.user_id, m.channel_id, m.thread_root_seq, m.reply_index from m
             where m.thread_root_seq is not null
             on conflict (user_id, channel_id, root_seq) do update
             set following = true, updated_at = now(),
                 read_index = greatest(thread_follows.read_index, excluded.read_index)),
         other_follows as (
             insert into thread_follows (user_id, channel_id, root_seq)
             select distinct f.user_id, m.channel_id, m.thread_root_seq
             from m cross join lateral (select r.user_id from messages r
                                        where r.channel_id = m.channel_id
                                          and r.seq = m.thread_root_seq
                                        union all select user_id from mentioned) as f(user_id)
             where m.thread_root_seq is not null and f.user_id <> m.user_id
             on conflict do nothing
             returning user_id),
         followers as (
             select f.user_id, (select reply_total from root) - f.read_index as unread
             from m join thread_follows f
               on f.channel_id = m.channel_id and f.root_seq = m.thread_root_seq
             where f.following and f.user_id <> m.user_id
               and exists (select 1 from channel_members cm
                           where cm.channel_id = f.channel_id and cm.user_id = f.user_id)
             union
             select o.user_id, (select reply_total from root) from other_follows o),
         repliers as (
             select x.id, x.display_name, r.n
             from root cross join lateral unnest(root.reply_users[1:3]) with ordinality as r(id, n)
             join users x on x.id = r.id),
         search as (
             insert into search_outbox (channel_id, seq, op)
             select channel_id, seq, 'upsert' from m where $8),
         previews as (
             insert into preview_outbox (channel_id, seq)
             select m.channel_id, m.seq from m
             where $14 and m.body ~* 'https?://'
               and (select w.link_previews from workspaces w join channels c
                    on c.workspace_id = w.id where c.id = $1)),
         live_bots as materialized ({live_bots}),
         bot_events as (
             insert into event_outbox (bot_id, channel_id, seq, event_type)
             select b.id, m.channel_id, m.seq, e.event_type
             from m join next on true
             join live_bots b on exists (select 1 from channel_members cm
                                         where cm.channel_id = m.channel_id
                                           and cm.user_id = b.user_id)
             cross join lateral (values ('message'), ('app_mention'), ('file_shared'))
                 as e(event_type)
             where (e.event_type = 'message'
                    and b.events && case next.kind
                                      when 'public' then array['message.channels']
                                      when 'private' then array['message.groups']
                                      else array['message.im', 'message.mpim'] end)
                or (e.event_type = 'app_mention'
                    and 'app_mention' = any(b.events) and b.username = any($7))
                or (e.event_type = 'file_shared'
                    and 'file_shared' = any(b.events) and cardinality($13::text[]) > 0))
         select {COLUMNS}, {AUTHOR}, null::json as files,
                (select reply_count from root) as root_reply_count,
                (select latest_reply_at from root) as root_latest_reply_at,
                (select array_agg(id order by n) from repliers) as root_replier_ids,
                (select array_agg(display_name order by n) from repliers) as root_replier_names,
                (select array_agg(user_id order by user_id) from followers) as follower_ids,
                (select array_agg(unread order by user_id) from followers) as follower_unread
         from m join users u on u.id = m.user_id
         left join threads t on t.channel_id = m.channel_id and t.root_seq = m.seq",
        // Uncorrelated, so Postgres runs the membership checks once, before it waits for the
        // channel's row lock, not again while holding it (a hot channel's writers queue there).
        active = crate::channels::db::active_member(
            "(select w.workspace_id from channels w where w.id = $1)",
            "$2"
        ),
        live_bots = live_bots("$2"),
        shareable = shareable("$1", "$2", "$13"),
    ))
    .bind(new.channel_id)
    .bind(new.user_id)
    .bind(new.text)
    .bind(client_msg_id)
    .bind(new.sender_name)
    .bind(new.sender_icon)
    .bind(mentioned.usernames)
    .bind(search_outbox)
    .bind(new.thread_root_seq)
    .bind(new.broadcast)
    .bind(mentioned.all)
    .bind(mentioned.online)
    .bind(new.file_ids)
    .bind(new.unfurl)
    .fetch_optional(db)
    .await
}

/// The bots that hear events (verified URL, not revoked, active), other than `actor`: `id`,
/// `user_id`, `events`, `username`. A CTE of the send and reaction statements, which then keep
/// those in the channel and subscribed to the event.
pub fn live_bots(actor: &str) -> String {
    format!(
        "select b.id, b.user_id, b.events, u.username from bots b join users u on u.id = b.user_id
         join workspace_members bwm on bwm.workspace_id = b.workspace_id
                                   and bwm.user_id = b.user_id and bwm.deactivated_at is null
         where b.revoked_at is null and b.url_verified_at is not null and b.user_id <> {actor}
           and u.deactivated_at is null"
    )
}

/// What the send statement returns: the stored message and, for a reply, what changed in its
/// thread, so that nothing is read back to publish it.
#[derive(Debug, sqlx::FromRow)]
pub struct SentRow {
    #[sqlx(flatten)]
    pub row: MessageRow,
    /// The thread's live replies and newest reply's time after this one.
    pub root_reply_count: Option<i32>,
    pub root_latest_reply_at: Option<OffsetDateTime>,
    /// The first three repliers.
    pub root_replier_ids: Option<Vec<i64>>,
    pub root_replier_names: Option<Vec<String>>,
    /// The thread's other followers, and the replies each has not read.
    pub follower_ids: Option<Vec<i64>>,
    pub follower_unread: Option<Vec<i32>>,
}

/// Whom a message mentions: by username, and for `@here` the members online when it is sent.
pub struct Mentioned<'a> {
    pub usernames: &'a [String],
    /// `channel`, `everyone` or `here`, when the text says it.
    pub all: Option<&'static str>,
    pub online: &'a [i64],
}

/// Records mentions of the named users who are members of the channel (not the author); a
/// mention inside a thread reply is the thread's, not the channel's badge.
pub async fn insert_mentions(
    tx: &mut PgConnection,
    channel_id: i64,
    seq: i64,
    author_id: i64,
    usernames: &[String],
) -> sqlx::Result<()> {
    if usernames.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "insert into mentions (user_id, channel_id, seq, thread_root_seq)
         select u.id, $1, $2,
                (select case when m.reply_broadcast then null else m.thread_root_seq end
                 from messages m where m.channel_id = $1 and m.seq = $2)
         from users u
         join channel_members cm on cm.user_id = u.id and cm.channel_id = $1
         where u.username = any($4) and u.id <> $3
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .bind(usernames)
    .execute(tx)
    .await?;
    Ok(())
}

pub async fn delete_mentions(tx: &mut PgConnection, channel_id: i64, seq: i64) -> sqlx::Result<()> {
    sqlx::query("delete from mentions where channel_id = $1 and seq = $2")
        .bind(channel_id)
        .bind(seq)
        .execute(tx)
        .await?;
    Ok(())
}

/// Replaces the body of the author's own live message.
pub async fn update_body(
    tx: &mut PgConnection,
    channel_id: i64,
    seq: i64,
    author_id: i64,
    body: &str,
) -> sqlx::Result<Option<StoredMessage>> {
    sqlx::query_as(&format!(
        "with m as (
             update messages m set body = $4, edited_at = now()
             where m.channel_id = $1 and m.seq = $2 and m.user_id = $3 and m.deleted_at is null
             returning *)
         select {COLUMNS} from m
         left join threads t on t.channel_id = m.channel_id and t.root_seq = m.seq"
    ))
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .bind(body)
    .fetch_optional(tx)
    .await
}

/// Empties a live message, keeping its seq (a tombstone); `author_id` limits it to that
/// author's (`None`: anyone's, for an admin). A deleted reply leaves its root's count, which
/// says live replies. Returns the author and the reply's root, or `None` when nothing matched.
pub async fn tombstone(
    tx: &mut PgConnection,
    channel_id: i64,
    seq: i64,
    author_id: Option<i64>,
) -> sqlx::Result<Option<(i64, Option<i64>)>> {
    sqlx::query_as(
        "with gone as (
             update messages set body = '', deleted_at = now()
             where channel_id = $1 and seq = $2 and ($3::bigint is null or user_id = $3)
               and deleted_at is null
             returning user_id, thread_root_seq),
         root as (
             update threads t set reply_count = greatest(t.reply_count - 1, 0)
             from gone where t.channel_id = $1 and t.root_seq = gone.thread_root_seq)
         select user_id, thread_root_seq from gone",
    )
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .fetch_optional(tx)
    .await
}

pub async fn message(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES}
         from {FROM}
         where m.channel_id = $1 and m.seq = $2"
    ))
    .bind(channel_id)
    .bind(seq)
    .fetch_optional(db)
    .await
}

/// Up to `limit` messages of the channel view with seq below `before`, oldest first.
pub async fn history_before(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES}
         from {FROM}
         where m.channel_id = $1 and m.seq < $2 and {IN_CHANNEL_VIEW}
         order by m.seq desc limit $3"
    ))
    .bind(channel_id)
    .bind(before)
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.reverse();
    Ok(rows)
}

/// Every message of the log (replies too) with `after < seq <= upto`, oldest first, at most
/// `limit`: what sockets catch up with.
pub async fn range(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    after: i64,
    upto: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    range_where(db, "true", (channel_id, after, upto, limit)).await
}

/// Messages of the channel view with `after < seq <= upto`, oldest first, at most `limit`.
pub async fn shown_range(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    after: i64,
    upto: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    range_where(db, IN_CHANNEL_VIEW, (channel_id, after, upto, limit)).await
}

async fn range_where(
    db: impl PgExecutor<'_>,
    filter: &str,
    (channel_id, after, upto, limit): (i64, i64, i64, i64),
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES}
         from {FROM}
         where m.channel_id = $1 and m.seq > $2 and m.seq <= $3 and {filter}
         order by m.seq limit $4"
    ))
    .bind(channel_id)
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Live messages of the channel view (and deleted roots whose threads live on) with
/// `after_seq < seq < before_seq` and `after_secs < created_at < before_secs`, newest first:
/// `conversations.history`'s window.
pub async fn window(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    (after_seq, before_seq): (i64, i64),
    (after_secs, before_secs): (f64, f64),
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES}
         from {FROM}
         where m.channel_id = $1 and m.seq > $2 and m.seq < $3 and {IN_CHANNEL_VIEW}
           and (m.deleted_at is null or t.reply_count > 0)
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

/// What decides whether a member may use @channel, @everyone or @here in a channel.
#[derive(sqlx::FromRow)]
pub struct MentionAllRule {
    pub limit: Option<i32>,
    pub members: i64,
    pub sender_is_admin: bool,
}

pub async fn mention_all_rule(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<MentionAllRule> {
    sqlx::query_as(
        "select w.mention_all_limit as limit,
                (select count(*) from channel_members cm where cm.channel_id = c.id) as members,
                exists (select 1 from workspace_members wm
                        where wm.workspace_id = c.workspace_id and wm.user_id = $2
                          and wm.role in ('owner', 'admin')) as sender_is_admin
         from channels c join workspaces w on w.id = c.workspace_id where c.id = $1",
    )
    .bind(channel_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Messages with their authors, chosen by `tail` (joins, `where`, `order by`) over `messages m`
/// with `params` as $1, $2, …: the lists beside the log (pins, saves, followed threads).
pub async fn listed(
    db: impl PgExecutor<'_>,
    tail: &str,
    params: &[i64],
) -> sqlx::Result<Vec<MessageRow>> {
    let sql = format!("select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES} from {FROM} {tail}");
    let mut query = sqlx::query_as(&sql);
    for p in params {
        query = query.bind(p);
    }
    query.fetch_all(db).await
}

/// A thread: its root (on every page, as Slack's `conversations.replies` has it), then the
/// replies after `after`, in order; `limit` counts the root.
pub async fn thread(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    root_seq: i64,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}, {MESSAGE_FILES}
         from {FROM}
         where m.channel_id = $1
           and ((m.seq = $2 and m.thread_root_seq is null)
                or (m.thread_root_seq = $2 and m.seq > $3))
         order by m.seq limit $4"
    ))
    .bind(channel_id)
    .bind(root_seq)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Why [`insert_sent`] wrote nothing: read only on that path, never on a send that works.
pub async fn refusal(db: &sqlx::PgPool, new: &super::NewMessage<'_>) -> sqlx::Result<Refusal> {
    let (channel_id, user_id, thread_root_seq) = (new.channel_id, new.user_id, new.thread_root_seq);
    let archived: Option<bool> = sqlx::query_scalar(&format!(
        "select c.archived_at is not null from channels c
         where c.id = $1 and exists (select 1 from channel_members cm
                                     where cm.channel_id = c.id and cm.user_id = $2)
           and {}",
        crate::channels::db::active_member("c.workspace_id", "$2")
    ))
    .bind(channel_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    if archived == Some(false) && !new.file_ids.is_empty() {
        let shareable: bool = sqlx::query_scalar(&shareable("$1", "$2", "$3"))
            .bind(channel_id)
            .bind(user_id)
            .bind(new.file_ids)
            .fetch_one(db)
            .await?;
        if !shareable {
            return Ok(Refusal::FileNotFound);
        }
    }
    Ok(match (archived, thread_root_seq) {
        (Some(true), _) => Refusal::Archived,
        (None, _) => Refusal::NotMember,
        (Some(false), Some(root)) => match message(db, channel_id, root).await? {
            Some(row) if row.message.thread_root_seq.is_some() => Refusal::ReplyToReply,
            _ => Refusal::ThreadNotFound,
        },
        (Some(false), None) => Refusal::NotMember,
    })
}

/// Why a send stored nothing.
pub enum Refusal {
    Archived,
    NotMember,
    ThreadNotFound,
    ReplyToReply,
    FileNotFound,
}

/// SQL that holds when every file of `ids` is ready, uploaded by `user`, and of `channel`'s
/// workspace: a message shares only its sender's own files, and only where they uploaded them.
fn shareable(channel: &str, user: &str, ids: &str) -> String {
    format!(
        "select cardinality({ids}::text[]) = (
             select count(*) from files f
             where f.id = any({ids}) and f.user_id = {user} and f.state = 'ready'
               and f.workspace_id = (select w.workspace_id from channels w where w.id = {channel}))"
    )
}

/// A message's files, as its reads give them.
pub async fn files_of(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Option<Json<Vec<crate::files::FileRef>>>> {
    sqlx::query_scalar(&format!(
        "select {MESSAGE_FILES} from messages m where m.channel_id = $1 and m.seq = $2"
    ))
    .bind(channel_id)
    .bind(seq)
    .fetch_one(db)
    .await
}

/// Turns off a message's link previews, if `author_id` wrote it; whether it did.
pub async fn turn_off_previews(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
    author_id: i64,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "update messages set previews_off = true
         where channel_id = $1 and seq = $2 and user_id = $3 and deleted_at is null",
    )
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}
