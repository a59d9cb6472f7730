//! SQL for search: who may read what, and the Postgres full-text backend.

use sqlx::{PgExecutor, PgPool};

use crate::channels::ChannelKind;
use time::OffsetDateTime;

/// The channels of a workspace a user may search: every public channel, and the private
/// channels and DMs they are in. Computed at query time, so a removal takes effect at once.
pub async fn readable_channels(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<(i64, String, ChannelKind)>> {
    sqlx::query_as(
        "select c.id, coalesce(c.name, ''), c.kind from channels c
         left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
         where c.workspace_id = $1 and (c.kind = 'public' or cm.user_id is not null)",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

pub async fn user_ids_by_username(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    usernames: &[String],
) -> sqlx::Result<Vec<(i64, String)>> {
    sqlx::query_as(
        "select u.id, u.username from users u join workspace_members wm on wm.user_id = u.id
         where wm.workspace_id = $1 and u.username = any($2)",
    )
    .bind(workspace_id)
    .bind(usernames)
    .fetch_all(db)
    .await
}

/// One hit, before its channel is named for the reader.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Row {
    pub channel_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    /// The snippet with `\u{1}` and `\u{2}` around matches (escaped and marked later).
    pub snippet: String,
    pub body: String,
    pub total: i64,
    /// A reply's root: the result opens the thread.
    pub thread_root_seq: Option<i64>,
}

/// What the Postgres backend filters on.
pub struct Filters<'a> {
    pub channel_ids: &'a [i64],
    pub text: &'a str,
    pub user_ids: &'a [i64],
    pub before: Option<OffsetDateTime>,
    pub after: Option<OffsetDateTime>,
    pub has_link: bool,
    pub has_file: bool,
    pub in_thread: bool,
    pub best_match: bool,
    pub limit: i64,
    pub offset: i64,
}

/// Matches counted at most: a search that matches more says "1,000+". Counting every match
/// of `has:link` alone would read a whole workspace's history per request.
pub const COUNT_CAP: i64 = 1000;

/// One page of matches, and how many there are up to [`COUNT_CAP`] + 1. The work is bounded
/// twice: the matches are cut at the cap before counting, and on the pool made for searches
/// ([`crate::db::search_pool`]) a statement runs five seconds at most (a [`sqlx::Error`] with
/// SQLSTATE 57014 past that).
pub async fn search(db: &PgPool, f: &Filters<'_>) -> sqlx::Result<Vec<Row>> {
    sqlx::query_as(
        r#"with named as materialized (
              select s.channel_id, s.seq from files f join file_shares s on s.file_id = f.id
              where $2 <> '' and f.state = 'ready' and s.channel_id = any($1)
                and f.name_vector @@ websearch_to_tsquery('simple', $2)),
          hits as materialized (
              select m.channel_id, m.seq, m.user_id, m.sender_name, m.created_at, m.body,
                     m.thread_root_seq,
                     case when $7 and $2 <> '' then ts_rank(m.search_vector, q) end as rank
              from messages m, websearch_to_tsquery('english', $2) q
              where m.channel_id = any($1) and m.deleted_at is null
                -- Words match the text, or the name of a file the message shares. The file
                -- arm is written as two arrays on the partial index of messages with files,
                -- so that Postgres can OR it with the text's GIN index (an EXISTS could not
                -- be); the line after keeps only the exact (channel, seq) pairs.
                and ($2 = '' or m.search_vector @@ q
                     or (m.file_count > 0
                         and m.channel_id = any(array(select channel_id from named))
                         and m.seq = any(array(select seq from named))))
                and ($2 = '' or m.search_vector @@ q
                     or (m.channel_id, m.seq) in (select channel_id, seq from named))
                and (not $12 or m.file_count > 0)
                and (cardinality($3::bigint[]) = 0 or m.user_id = any($3))
                and ($4::timestamptz is null or m.created_at < $4)
                and ($5::timestamptz is null or m.created_at >= $5)
                and (not $6 or m.body ~* 'https?://')
                and (not $11 or m.thread_root_seq is not null)
              order by rank desc nulls last, m.created_at desc, m.seq desc
              limit greatest($10 + 1, $8 + $9))
          select h.channel_id, h.seq, h.user_id, u.username,
                 coalesce(h.sender_name, u.display_name) as display_name, h.created_at,
                 case when $2 = '' then left(h.body, 300)
                      else ts_headline('english', h.body, websearch_to_tsquery('english', $2),
                           'StartSel=' || chr(1) || ', StopSel=' || chr(2) || ', MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "')
                 end as snippet,
                 h.body, (select count(*) from hits) as total, h.thread_root_seq
          from hits h join users u on u.id = h.user_id
          order by h.rank desc nulls last, h.created_at desc, h.seq desc
          limit $8 offset $9"#,
    )
    .bind(f.channel_ids)
    .bind(f.text)
    .bind(f.user_ids)
    .bind(f.before)
    .bind(f.after)
    .bind(f.has_link)
    .bind(f.best_match)
    .bind(f.limit)
    .bind(f.offset)
    .bind(COUNT_CAP)
    .bind(f.in_thread)
    .bind(f.has_file)
    .fetch_all(db)
    .await
}

/// The rows of these (channel_id, seq) pairs that still exist, for showing index hits.
pub async fn rows_for(db: impl PgExecutor<'_>, keys: &[(i64, i64)]) -> sqlx::Result<Vec<Row>> {
    let (channel_ids, seqs): (Vec<i64>, Vec<i64>) = keys.iter().copied().unzip();
    sqlx::query_as(
        "select m.channel_id, m.seq, m.user_id, u.username,
                coalesce(m.sender_name, u.display_name) as display_name, m.created_at,
                left(m.body, 300) as snippet, m.body, 0::bigint as total, m.thread_root_seq
         from messages m join users u on u.id = m.user_id
         join unnest($1::bigint[], $2::bigint[]) as k(channel_id, seq)
           on k.channel_id = m.channel_id and k.seq = m.seq
         where m.deleted_at is null",
    )
    .bind(&channel_ids)
    .bind(&seqs)
    .fetch_all(db)
    .await
}
