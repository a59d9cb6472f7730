//! SQL for files: their rows, who may read one, the channel's list, quotas and garbage.

use sqlx::PgExecutor;
use time::OffsetDateTime;

/// A file's row.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileRow {
    pub id: String,
    pub workspace_id: i64,
    pub user_id: i64,
    pub name: String,
    pub title: String,
    pub mimetype: String,
    pub size: i64,
    pub storage_key: String,
    pub thumb_key: Option<String>,
    pub width: Option<i32>,
    pub height: Option<i32>,
    pub created_at: OffsetDateTime,
}

impl FileRow {
    /// What a message shows of it.
    pub fn file_ref(&self) -> super::FileRef {
        super::FileRef {
            id: self.id.clone(),
            name: self.name.clone(),
            title: self.title.clone(),
            mimetype: self.mimetype.clone(),
            size: self.size,
            user_id: self.user_id,
            created: self.created_at.unix_timestamp(),
            has_thumb: self.thumb_key.is_some(),
            width: self.width,
            height: self.height,
        }
    }
}

const COLUMNS: &str = "f.id, f.workspace_id, f.user_id, f.name, f.title, f.mimetype, f.size,
    f.storage_key, f.thumb_key, f.width, f.height, f.created_at";

/// The JSON of a message's files, in order, for the message reads (`m` the message): only
/// those still there. Read only for messages that share some (`m.file_count > 0`).
pub const MESSAGE_FILES: &str = "case when m.file_count > 0 then
     (select json_agg(json_build_object(
                 'id', f.id, 'name', f.name, 'title', f.title, 'mimetype', f.mimetype,
                 'size', f.size, 'user_id', f.user_id,
                 'created', extract(epoch from f.created_at)::bigint,
                 'has_thumb', f.thumb_key is not null, 'width', f.width, 'height', f.height)
                 order by s.position)
      from file_shares s join files f on f.id = s.file_id and f.state = 'ready'
      where s.channel_id = m.channel_id and s.seq = m.seq)
     end as files";

/// Starts a file: its row, `pending` until its bytes are stored. For Slack's flow, the upload
/// URL's secret (hashed) and when it expires.
#[allow(clippy::too_many_arguments)]
pub async fn insert_pending(
    db: impl PgExecutor<'_>,
    id: &str,
    workspace_id: i64,
    user_id: i64,
    name: &str,
    title: &str,
    storage_key: &str,
    external: Option<(&str, i64)>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into files (id, workspace_id, user_id, name, title, storage_key,
                            upload_token_hash, declared_size, upload_expires_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8,
                 case when $7::text is not null then now() + interval '10 minutes' end)",
    )
    .bind(id)
    .bind(workspace_id)
    .bind(user_id)
    .bind(name)
    .bind(title)
    .bind(storage_key)
    .bind(external.map(|(hash, _)| hash))
    .bind(external.map(|(_, size)| size))
    .execute(db)
    .await?;
    Ok(())
}

/// A pending Slack upload, claimed by its URL's secret: once, and before it expires. The
/// secret is cleared, so the URL never works twice.
pub async fn claim_external(
    db: impl PgExecutor<'_>,
    id: &str,
    token_hash: &str,
) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as(&format!(
        "update files f set upload_token_hash = null
         where f.id = $1 and f.upload_token_hash = $2 and f.state = 'pending'
           and f.upload_expires_at > now()
         returning {COLUMNS}"
    ))
    .bind(id)
    .bind(token_hash)
    .fetch_optional(db)
    .await
}

/// The bytes are stored: the file becomes readable and shareable.
#[allow(clippy::too_many_arguments)]
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    id: &str,
    mimetype: &str,
    size: i64,
    thumb_key: Option<&str>,
    dimensions: Option<(u32, u32)>,
) -> sqlx::Result<FileRow> {
    sqlx::query_as(&format!(
        "update files f set state = 'ready', mimetype = $2, size = $3, thumb_key = $4,
                width = $5, height = $6, uploaded_at = now(), upload_expires_at = null
         where f.id = $1 returning {COLUMNS}"
    ))
    .bind(id)
    .bind(mimetype)
    .bind(size)
    .bind(thumb_key)
    .bind(dimensions.map(|(w, _)| w as i32))
    .bind(dimensions.map(|(_, h)| h as i32))
    .fetch_one(db)
    .await
}

/// Forgets a file whose upload failed (nothing was shared: it was never ready).
pub async fn delete_pending(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<()> {
    sqlx::query("delete from files where id = $1 and state = 'pending'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// A ready file, if `user_id` may read it: they uploaded it and it is shared nowhere yet, or a
/// live message shares it in a channel they may read (a public channel of a workspace they are
/// an active member of, other than as a guest, or a channel they are in). Anything else is
/// `None`, which every door answers with 404.
pub async fn readable(
    db: impl PgExecutor<'_>,
    id: &str,
    user_id: i64,
) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from files f
         where f.id = $1 and f.state = 'ready' and {active}
           and ((f.user_id = $2 and not exists (select 1 from file_shares s where s.file_id = f.id))
                or exists (
                    select 1 from file_shares s
                    join messages m on m.channel_id = s.channel_id and m.seq = s.seq
                                   and m.deleted_at is null
                    join channels c on c.id = s.channel_id
                    left join channel_members cm on cm.channel_id = c.id and cm.user_id = $2
                    where s.file_id = f.id
                      and (cm.user_id is not null
                           or (c.kind = 'public' and exists (
                                   select 1 from workspace_members g
                                   where g.workspace_id = f.workspace_id and g.user_id = $2
                                     and g.role <> 'guest')))))",
        active = crate::channels::db::active_member("f.workspace_id", "$2"),
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// A ready file of the workspace, without asking who reads (for its uploader's own checks).
pub async fn find(
    db: impl PgExecutor<'_>,
    id: &str,
    workspace_id: i64,
) -> sqlx::Result<Option<FileRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from files f
         where f.id = $1 and f.workspace_id = $2 and f.state = 'ready'"
    ))
    .bind(id)
    .bind(workspace_id)
    .fetch_optional(db)
    .await
}

/// Of these files, the ids that `user_id` may share in `workspace_id`: ready, theirs, in that
/// workspace.
pub async fn shareable(
    db: impl PgExecutor<'_>,
    ids: &[String],
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select id from files
         where id = any($1) and workspace_id = $2 and user_id = $3 and state = 'ready'",
    )
    .bind(ids)
    .bind(workspace_id)
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Marks a file deleted: gone for everyone at once; the bytes go after the grace period.
/// Returns the messages that shared it (to update them live).
pub async fn mark_deleted(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "with gone as (update files set state = 'deleted', deleted_at = now()
                       where id = $1 and state = 'ready' returning id)
         select s.channel_id, s.seq from file_shares s join gone on gone.id = s.file_id",
    )
    .bind(id)
    .fetch_all(db)
    .await
}

/// A file in a channel's list: the file and the message that shared it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Shared {
    #[sqlx(flatten)]
    pub file: FileRow,
    pub seq: i64,
    pub uploader: String,
}

/// The files shared in a channel, newest first (live messages only).
pub async fn in_channel(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    limit: i64,
) -> sqlx::Result<Vec<Shared>> {
    sqlx::query_as(&format!(
        "select {COLUMNS}, s.seq, u.display_name as uploader
         from file_shares s
         join messages m on m.channel_id = s.channel_id and m.seq = s.seq and m.deleted_at is null
         join files f on f.id = s.file_id and f.state = 'ready'
         join users u on u.id = f.user_id
         where s.channel_id = $1
         order by s.seq desc, s.position
         limit $2"
    ))
    .bind(channel_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The files a member may see in a workspace, newest first, for `files.list`: shared in one of
/// `channel_ids` (those they may read), or their own unshared ones; optionally only one
/// uploader's.
pub async fn listed(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    reader_id: i64,
    channel_ids: &[i64],
    uploader: Option<i64>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<FileRow>> {
    sqlx::query_as(&format!(
        "select {COLUMNS} from files f
         where f.workspace_id = $1 and f.state = 'ready'
           and ($4::bigint is null or f.user_id = $4)
           and (exists (select 1 from file_shares s
                        join messages m on m.channel_id = s.channel_id and m.seq = s.seq
                                       and m.deleted_at is null
                        where s.file_id = f.id and s.channel_id = any($3))
                or (f.user_id = $2
                    and not exists (select 1 from file_shares s where s.file_id = f.id)))
         order by f.created_at desc, f.id
         limit $5 offset $6"
    ))
    .bind(workspace_id)
    .bind(reader_id)
    .bind(channel_ids)
    .bind(uploader)
    .bind(limit)
    .bind(offset)
    .fetch_all(db)
    .await
}

/// Where a file is shared: channel ids, for `files.info`'s `channels`.
pub async fn shared_in(db: impl PgExecutor<'_>, id: &str) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select distinct s.channel_id from file_shares s
         join messages m on m.channel_id = s.channel_id and m.seq = s.seq and m.deleted_at is null
         where s.file_id = $1",
    )
    .bind(id)
    .fetch_all(db)
    .await
}

/// The workspace's quota in bytes, if it has one.
pub async fn quota(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar("select file_quota_mb * 1024 * 1024 from workspaces where id = $1")
        .bind(workspace_id)
        .fetch_one(db)
        .await
}

/// The workspace's quota in bytes (`None`: no quota) and the bytes its ready files take.
pub async fn usage(db: impl PgExecutor<'_>, workspace_id: i64) -> sqlx::Result<(Option<i64>, i64)> {
    sqlx::query_as(
        "select w.file_quota_mb * 1024 * 1024,
                coalesce((select sum(f.size) from files f
                          where f.workspace_id = w.id and f.state = 'ready'), 0)::bigint
         from workspaces w where w.id = $1",
    )
    .bind(workspace_id)
    .fetch_one(db)
    .await
}

/// Storage keys of what is garbage now: pending uploads older than an hour, deleted files past
/// the grace period, and files whose every sharing message was deleted over the grace period
/// ago. Their rows are removed in the same statement; the caller deletes the objects.
pub async fn collect_garbage(
    db: impl PgExecutor<'_>,
    grace: time::Duration,
) -> sqlx::Result<Vec<(String, Option<String>)>> {
    let grace_secs = grace.whole_seconds() as f64;
    sqlx::query_as(
        "delete from files f
         where (f.state = 'pending' and f.created_at < now() - interval '1 hour')
            or (f.state = 'deleted' and f.deleted_at < now() - make_interval(secs => $1))
            or (f.state = 'ready'
                and exists (select 1 from file_shares s where s.file_id = f.id)
                and not exists (select 1 from file_shares s
                                join messages m on m.channel_id = s.channel_id and m.seq = s.seq
                                where s.file_id = f.id
                                  and (m.deleted_at is null
                                       or m.deleted_at > now() - make_interval(secs => $1))))
         returning f.storage_key, f.thumb_key",
    )
    .bind(grace_secs)
    .fetch_all(db)
    .await
}

/// Which of these storage keys a file row names (its bytes or its thumbnail).
pub async fn known_keys(db: impl PgExecutor<'_>, keys: &[String]) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select k from unnest($1::text[]) as k
         where exists (select 1 from files f where f.storage_key = k or f.thumb_key = k)",
    )
    .bind(keys)
    .fetch_all(db)
    .await
}

/// Whether the user is an active owner or admin of the workspace.
pub async fn is_workspace_admin(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from workspace_members
                        where workspace_id = $1 and user_id = $2 and deactivated_at is null
                          and role in ('owner', 'admin'))",
    )
    .bind(workspace_id)
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Gives a file its title (Slack's `files.completeUploadExternal`).
pub async fn set_title(db: impl PgExecutor<'_>, id: &str, title: &str) -> sqlx::Result<()> {
    let title: String = title
        .trim()
        .chars()
        .take(super::names::MAX_NAME_CHARS)
        .collect();
    sqlx::query("update files set title = $2 where id = $1")
        .bind(id)
        .bind(title)
        .execute(db)
        .await?;
    Ok(())
}
