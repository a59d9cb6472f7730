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
    /// An integration's icon for this message: an https URL or an `:emoji:` code.
    pub sender_icon: Option<String>,
}

const COLUMNS: &str = "m.channel_id, m.seq, m.user_id, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at";

/// Takes the channel's next seq. The row lock this takes is held until commit, so writers of
/// one channel queue here, and a rollback gives the seq back: seqs stay gapless.
pub async fn next_seq(tx: &mut PgConnection, channel_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "update channels set last_seq = last_seq + 1 where id = $1 and archived_at is null
         returning last_seq",
    )
    .bind(channel_id)
    .fetch_optional(tx)
    .await
}

pub async fn by_client_msg_id(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
    client_msg_id: &str,
) -> sqlx::Result<Option<StoredMessage>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from messages m
         where m.channel_id = $1 and m.user_id = $2 and m.client_msg_id = $3"
    ))
    .bind(channel_id)
    .bind(user_id)
    .bind(client_msg_id)
    .fetch_optional(db)
    .await
}

pub async fn insert_message(
    tx: &mut PgConnection,
    seq: i64,
    new: &super::NewMessage<'_>,
    client_msg_id: Option<&str>,
) -> sqlx::Result<StoredMessage> {
    sqlx::query_as(
        "insert into messages as m
             (channel_id, seq, user_id, body, client_msg_id, sender_name, sender_icon)
         values ($1, $2, $3, $4, $5, $6, $7)
         returning m.channel_id, m.seq, m.user_id, m.body, m.client_msg_id, m.created_at,
                   m.edited_at, m.deleted_at",
    )
    .bind(new.channel_id)
    .bind(seq)
    .bind(new.user_id)
    .bind(new.text)
    .bind(client_msg_id)
    .bind(new.sender_name)
    .bind(new.sender_icon)
    .fetch_one(tx)
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
pub async fn tombstone(
    tx: &mut PgConnection,
    channel_id: i64,
    seq: i64,
    author_id: i64,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update messages set body = '', deleted_at = now()
         where channel_id = $1 and seq = $2 and user_id = $3 and deleted_at is null",
    )
    .bind(channel_id)
    .bind(seq)
    .bind(author_id)
    .execute(tx)
    .await?
    .rows_affected()
        == 1)
}

pub async fn message(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Option<MessageRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, u.username, coalesce(m.sender_name, u.display_name) as display_name, u.is_bot, m.sender_icon
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
        "select {COLUMNS}, u.username, coalesce(m.sender_name, u.display_name) as display_name, u.is_bot, m.sender_icon
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
        "select {COLUMNS}, u.username, coalesce(m.sender_name, u.display_name) as display_name, u.is_bot, m.sender_icon
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
