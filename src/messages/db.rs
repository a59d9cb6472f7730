//! SQL for the message log. Rows are keyed by (channel_id, seq); every read is a range scan.

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
}

const COLUMNS: &str = "m.channel_id, m.seq, m.user_id, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at";
/// What a [`MessageRow`] shows of its author, from `users u`. (The icon's lookup runs only
/// for the rare message that names one.)
const AUTHOR: &str =
    "u.username, coalesce(m.sender_name, u.display_name) as display_name, u.is_bot, m.sender_name,
     m.sender_icon,
     case when m.sender_icon is not null then
         (select i.key from remote_icons i where i.url = m.sender_icon and i.bytes is not null)
     end as icon_key";

pub async fn by_client_msg_id(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
    client_msg_id: &str,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR} from messages m join users u on u.id = m.user_id
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
/// Each part starts from what is few (the mentioned usernames, the live bots) and probes
/// `channel_members` by its key, so a channel of ten thousand members costs a send no more than
/// one of ten; with no mentions and no bots those parts read nothing.
///
/// Any failure rolls the whole statement back, the seq bump with it, so seqs stay gapless; a
/// retried `client_msg_id` fails on `messages_client_msg_id_key`. `None` when nothing was
/// written: the channel is archived, or the sender is not (or no longer) an active member of
/// it; [`refusal`] tells which.
pub async fn insert_sent(
    db: impl PgExecutor<'_>,
    new: &super::NewMessage<'_>,
    client_msg_id: Option<&str>,
    mentioned: &[String],
    search_outbox: bool,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(&format!(
        "with next as (
             update channels c set last_seq = c.last_seq + 1
             where c.id = $1 and c.archived_at is null
               and exists (select 1 from channel_members cm
                           where cm.channel_id = $1 and cm.user_id = $2)
               and {active}
             returning c.id, c.kind, c.last_seq),
         m as (
             insert into messages (channel_id, seq, user_id, body, client_msg_id, sender_name,
                                   sender_icon)
             select next.id, next.last_seq, $2, $3, $4, $5, $6 from next
             returning *),
         read_point as (
             update channel_members cm set last_read_seq = greatest(cm.last_read_seq, m.seq)
             from m where cm.channel_id = m.channel_id and cm.user_id = m.user_id),
         mentioned as (
             insert into mentions (user_id, channel_id, seq)
             select u.id, m.channel_id, m.seq from m
             join users u on u.username = any($7) and u.id <> m.user_id
             where cardinality($7::text[]) > 0
               and exists (select 1 from channel_members cm
                           where cm.channel_id = m.channel_id and cm.user_id = u.id)
             on conflict do nothing),
         search as (
             insert into search_outbox (channel_id, seq, op)
             select channel_id, seq, 'upsert' from m where $8),
         live_bots as materialized (
             select b.id, b.user_id, b.events, u.username from bots b join users u on u.id = b.user_id
             join workspace_members bwm on bwm.workspace_id = b.workspace_id
                                       and bwm.user_id = b.user_id and bwm.deactivated_at is null
             where b.revoked_at is null and b.url_verified_at is not null and b.user_id <> $2
               and u.deactivated_at is null),
         bot_events as (
             insert into event_outbox (bot_id, channel_id, seq, event_type)
             select b.id, m.channel_id, m.seq, e.event_type
             from m join next on true
             join live_bots b on exists (select 1 from channel_members cm
                                         where cm.channel_id = m.channel_id
                                           and cm.user_id = b.user_id)
             cross join lateral (values ('message'), ('app_mention')) as e(event_type)
             where (e.event_type = 'message'
                    and b.events && case next.kind
                                      when 'public' then array['message.channels']
                                      when 'private' then array['message.groups']
                                      else array['message.im', 'message.mpim'] end)
                or (e.event_type = 'app_mention'
                    and 'app_mention' = any(b.events) and b.username = any($7)))
         select {COLUMNS}, {AUTHOR} from m join users u on u.id = m.user_id",
        // Uncorrelated, so Postgres runs the membership checks once, before it waits for the
        // channel's row lock, not again while holding it (a hot channel's writers queue there).
        active = crate::channels::db::active_member(
            "(select w.workspace_id from channels w where w.id = $1)",
            "$2"
        )
    ))
    .bind(new.channel_id)
    .bind(new.user_id)
    .bind(new.text)
    .bind(client_msg_id)
    .bind(new.sender_name)
    .bind(new.sender_icon)
    .bind(mentioned)
    .bind(search_outbox)
    .fetch_optional(db)
    .await
}

/// Records mentions of the named users who are members of the channel (not the author).
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
        "insert into mentions (user_id, channel_id, seq)
         select u.id, $1, $2 from users u
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
        "update messages m set body = $4, edited_at = now()
         where m.channel_id = $1 and m.seq = $2 and m.user_id = $3 and m.deleted_at is null
         returning {COLUMNS}"
    ))
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .bind(body)
    .fetch_optional(tx)
    .await
}

/// Turns the author's own message into a tombstone: the row and its seq stay, the words go.
/// Empties a live message, keeping its seq; `author_id` limits it to that author's (`None`:
/// anyone's, for an admin). Returns the author, or `None` when nothing matched.
pub async fn tombstone(
    tx: &mut PgConnection,
    channel_id: i64,
    seq: i64,
    author_id: Option<i64>,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "update messages set body = '', deleted_at = now()
         where channel_id = $1 and seq = $2 and ($3::bigint is null or user_id = $3)
           and deleted_at is null
         returning user_id",
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
        "select {COLUMNS}, {AUTHOR}
         from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq = $2"
    ))
    .bind(channel_id)
    .bind(seq)
    .fetch_optional(db)
    .await
}

/// Up to `limit` messages with seq below `before`, oldest first.
pub async fn history_before(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    before: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    let mut rows: Vec<MessageRow> = sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}
         from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq < $2
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

/// Messages with `after < seq <= upto`, oldest first, at most `limit`.
pub async fn range(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    after: i64,
    upto: i64,
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}
         from messages m join users u on u.id = m.user_id
         where m.channel_id = $1 and m.seq > $2 and m.seq <= $3
         order by m.seq limit $4"
    ))
    .bind(channel_id)
    .bind(after)
    .bind(upto)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Live messages with `after_seq < seq < before_seq` and `after_secs < created_at <
/// before_secs`, newest first: `conversations.history`'s window.
pub async fn window(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    (after_seq, before_seq): (i64, i64),
    (after_secs, before_secs): (f64, f64),
    limit: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, {AUTHOR}
         from messages m join users u on u.id = m.user_id
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

/// Why [`insert_sent`] wrote nothing: read only on that path, never on a send that works.
pub async fn refusal(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Refusal> {
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
    Ok(match archived {
        Some(true) => Refusal::Archived,
        _ => Refusal::NotMember,
    })
}

/// Why a send stored nothing.
pub enum Refusal {
    Archived,
    NotMember,
}
