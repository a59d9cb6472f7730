//! The SQL of notifications: the outbox and who it reaches, push subscriptions and deliveries,
//! mail items, and people's preferences.

use sqlx::types::Json;
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use time::OffsetDateTime;

use super::push::Subscription;
use crate::channels::ChannelKind;

// ------------------------------------------------------------------------------ the outbox

/// Takes up to `limit` messages off the outbox, locked against other nodes until `tx` ends
/// (a crash before the commit puts them back).
pub async fn claim_outbox(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<(i64, i64)>> {
    sqlx::query_as(
        "delete from notify_outbox where id in (
             select id from notify_outbox order by id limit $1 for update skip locked)
         returning channel_id, seq",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// What every notification of one message says.
#[derive(Debug, sqlx::FromRow)]
pub struct MessageFacts {
    pub channel_id: i64,
    pub seq: i64,
    pub kind: ChannelKind,
    pub channel_name: Option<String>,
    pub workspace_slug: String,
    pub workspace_name: String,
    /// False when the workspace keeps messages' text out of notifications.
    pub notification_text: bool,
    pub author_id: i64,
    pub author_name: String,
    pub body: String,
    pub file_count: i16,
    pub thread_root_seq: Option<i64>,
    pub reply_broadcast: bool,
    pub mention_all: Option<String>,
    pub created_at: OffsetDateTime,
}

/// The columns of [`MessageFacts`], over `m` (the message) joined by [`FACT_JOINS`].
const FACTS: &str = "m.channel_id, m.seq, c.kind, c.name as channel_name,
       w.slug as workspace_slug, w.name as workspace_name, w.notification_text,
       m.user_id as author_id, coalesce(m.sender_name, a.display_name) as author_name, m.body,
       m.file_count, m.thread_root_seq, m.reply_broadcast, m.mention_all, m.created_at";
const FACT_JOINS: &str = "join channels c on c.id = m.channel_id
       join workspaces w on w.id = c.workspace_id
       join users a on a.id = m.user_id";

/// The message, unless it was deleted before its notifications went out.
pub async fn message_facts(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Option<MessageFacts>> {
    sqlx::query_as(&format!(
        "select {FACTS} from messages m {FACT_JOINS}
         where m.channel_id = $1 and m.seq = $2 and m.deleted_at is null"
    ))
    .bind(channel_id)
    .bind(seq)
    .fetch_optional(db)
    .await
}

/// A member the message may notify, with what decides it.
#[derive(Debug, sqlx::FromRow)]
pub struct Recipient {
    pub user_id: i64,
    /// Their stored level, null for the conversation's default.
    pub notify: Option<String>,
    pub mentioned: bool,
    pub following: bool,
    pub in_dnd: bool,
    pub email_notify: bool,
}

/// The active, human members other than the author who could hear of the message: in a DM
/// everyone, in a channel those at `all`, those it mentions, everyone for @channel and
/// @everyone, and the followers of the thread a reply is in. [`super::fanout`] applies the
/// levels.
pub async fn recipients(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Vec<Recipient>> {
    sqlx::query_as(
        "select u.id as user_id, cm.notify,
                exists (select 1 from mentions x
                        where x.user_id = u.id and x.channel_id = m.channel_id
                          and x.seq = m.seq) as mentioned,
                m.thread_root_seq is not null
                and exists (select 1 from thread_follows f
                            where f.user_id = u.id and f.channel_id = m.channel_id
                              and f.root_seq = m.thread_root_seq and f.following) as following,
                dnd_ends(u.dnd_until, u.dnd_start, u.dnd_end, u.time_zone, now())
                    is not null as in_dnd,
                u.email_notify
         from messages m
         join channels c on c.id = m.channel_id
         join channel_members cm on cm.channel_id = m.channel_id and cm.user_id <> m.user_id
         join users u on u.id = cm.user_id and u.deactivated_at is null and not u.is_bot
         join workspace_members wm on wm.workspace_id = c.workspace_id and wm.user_id = u.id
                                  and wm.deactivated_at is null
         where m.channel_id = $1 and m.seq = $2 and m.deleted_at is null
           and (c.kind in ('dm', 'group_dm') or cm.notify = 'all'
                or m.mention_all in ('channel', 'everyone')
                or exists (select 1 from mentions x
                           where x.user_id = u.id and x.channel_id = m.channel_id
                             and x.seq = m.seq)
                or (m.thread_root_seq is not null
                    and exists (select 1 from thread_follows f
                                where f.user_id = u.id and f.channel_id = m.channel_id
                                  and f.root_seq = m.thread_root_seq and f.following)))",
    )
    .bind(channel_id)
    .bind(seq)
    .fetch_all(db)
    .await
}

/// One push per subscription of each person, `payloads[i]` for `user_ids[i]`.
pub async fn queue_pushes(
    db: impl PgExecutor<'_>,
    user_ids: &[i64],
    payloads: &[serde_json::Value],
    urgencies: &[&str],
) -> sqlx::Result<u64> {
    let payloads: Vec<Json<&serde_json::Value>> = payloads.iter().map(Json).collect();
    Ok(sqlx::query(
        "insert into push_deliveries (subscription_id, payload, urgency)
         select s.id, p.payload, p.urgency
         from unnest($1::bigint[], $2::jsonb[], $3::text[]) as p(user_id, payload, urgency)
         join push_subscriptions s on s.user_id = p.user_id",
    )
    .bind(user_ids)
    .bind(payloads)
    .bind(urgencies)
    .execute(db)
    .await?
    .rows_affected())
}

/// Queues the message for each person's next mail: due after the delay, and no sooner than
/// the delay after their last mail.
pub async fn queue_mail(
    db: impl PgExecutor<'_>,
    user_ids: &[i64],
    channel_id: i64,
    seq: i64,
    delay_secs: f64,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into mail_items (user_id, channel_id, seq, due_at)
         select u.id, $2, $3,
                greatest(now(), u.notify_mailed_at) + make_interval(secs => $4)
         from users u where u.id = any($1)
         on conflict do nothing",
    )
    .bind(user_ids)
    .bind(channel_id)
    .bind(seq)
    .bind(delay_secs)
    .execute(db)
    .await?;
    Ok(())
}

// ------------------------------------------------------------------------ subscriptions

/// Saves a browser's subscription for `user_id` (taking it over from whoever had it), keeping
/// each person's newest `per_user`.
pub async fn save_subscription(
    db: &PgPool,
    user_id: i64,
    s: &Subscription,
    user_agent: Option<&str>,
    per_user: i64,
) -> sqlx::Result<()> {
    let mut tx = db.begin().await?;
    sqlx::query(
        "insert into push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)
         values ($1, $2, $3, $4, $5)
         on conflict (endpoint) do update
         set user_id = excluded.user_id, p256dh = excluded.p256dh, auth = excluded.auth,
             user_agent = excluded.user_agent, created_at = now()",
    )
    .bind(user_id)
    .bind(&s.endpoint)
    .bind(&s.p256dh)
    .bind(&s.auth)
    .bind(user_agent)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "delete from push_subscriptions where user_id = $1 and id not in (
             select id from push_subscriptions where user_id = $1
             order by created_at desc, id desc limit $2)",
    )
    .bind(user_id)
    .bind(per_user)
    .execute(&mut *tx)
    .await?;
    tx.commit().await
}

pub async fn delete_subscription(
    db: impl PgExecutor<'_>,
    user_id: i64,
    endpoint: &str,
) -> sqlx::Result<()> {
    sqlx::query("delete from push_subscriptions where user_id = $1 and endpoint = $2")
        .bind(user_id)
        .bind(endpoint)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets a subscription the push service no longer knows, and its queued pushes.
pub async fn delete_subscription_id(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("delete from push_subscriptions where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// How many browsers a person has subscribed.
pub async fn subscription_count(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from push_subscriptions where user_id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

// ---------------------------------------------------------------------------- deliveries

#[derive(Debug, sqlx::FromRow)]
pub struct DuePush {
    pub id: i64,
    pub subscription_id: i64,
    pub payload: Json<serde_json::Value>,
    pub urgency: String,
    pub attempts: i32,
    /// Seconds since the push was queued.
    pub age_secs: f64,
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

/// Claims up to `limit` due pushes, oldest first, leased for `lease_secs` (a node that dies
/// mid-push leaves them to be taken again after the lease).
pub async fn claim_pushes(db: &PgPool, limit: i64, lease_secs: f64) -> sqlx::Result<Vec<DuePush>> {
    sqlx::query_as(
        "update push_deliveries d set next_attempt_at = now() + make_interval(secs => $2)
         from push_subscriptions s
         where s.id = d.subscription_id and d.id in (
             select id from push_deliveries where next_attempt_at <= now()
             order by next_attempt_at limit $1 for update skip locked)
         returning d.id, d.subscription_id, d.payload, d.urgency, d.attempts,
                   extract(epoch from now() - d.created_at)::float8 as age_secs,
                   s.endpoint, s.p256dh, s.auth",
    )
    .bind(limit)
    .bind(lease_secs)
    .fetch_all(db)
    .await
}

pub async fn push_delivered(db: &PgPool, id: i64, subscription_id: i64) -> sqlx::Result<()> {
    sqlx::query(
        "with done as (delete from push_deliveries where id = $1)
         update push_subscriptions set last_pushed_at = now() where id = $2",
    )
    .bind(id)
    .bind(subscription_id)
    .execute(db)
    .await?;
    Ok(())
}

/// Retries the push after `secs`, or forgets it when `give_up`.
pub async fn push_retry(db: &PgPool, id: i64, secs: f64, give_up: bool) -> sqlx::Result<()> {
    let sql = if give_up {
        "delete from push_deliveries where id = $1 and $2::float8 is not null"
    } else {
        "update push_deliveries set attempts = attempts + 1,
                next_attempt_at = now() + make_interval(secs => $2)
         where id = $1"
    };
    sqlx::query(sql).bind(id).bind(secs).execute(db).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------- mail

/// People with a mail item due.
pub async fn due_mail_users(db: &PgPool, limit: i64) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select user_id from mail_items where due_at <= now()
         group by user_id order by min(due_at) limit $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Holds the person's mail for the rest of `tx`, unless another node holds it.
pub async fn lock_mail(tx: &mut Transaction<'_, Postgres>, user_id: i64) -> sqlx::Result<bool> {
    // Advisory locks take two 32-bit keys: a class for mail, and the person.
    sqlx::query_scalar("select pg_try_advisory_xact_lock(7311, ($1 % 2147483647)::int)")
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await
}

/// The person, as a mail addresses them, with whether they may be mailed now.
#[derive(Debug, sqlx::FromRow)]
pub struct MailRecipient {
    pub email: String,
    pub display_name: String,
    pub email_notify: bool,
    pub in_dnd: bool,
    pub active: bool,
    pub time_zone: Option<String>,
}

pub async fn mail_recipient(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> sqlx::Result<Option<MailRecipient>> {
    sqlx::query_as(
        "select email, display_name, email_notify,
                dnd_ends(dnd_until, dnd_start, dnd_end, time_zone, now()) is not null as in_dnd,
                deactivated_at is null as active, time_zone
         from users where id = $1 and not is_bot",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// One queued message as a mail shows it, with whether it is still unread.
#[derive(Debug, sqlx::FromRow)]
pub struct MailItem {
    #[sqlx(flatten)]
    pub facts: MessageFacts,
    pub due: bool,
    pub unread: bool,
    pub attempts: i32,
}

/// Every item queued for the person (due or not: one mail takes them all), locked.
pub async fn mail_items(
    tx: &mut Transaction<'_, Postgres>,
    user_id: i64,
) -> sqlx::Result<Vec<MailItem>> {
    sqlx::query_as(&format!(
        "select {FACTS}, i.due_at <= now() as due, i.attempts,
                m.deleted_at is null and cm.user_id is not null
                and case when m.thread_root_seq is null or m.reply_broadcast
                         then cm.last_read_seq < m.seq
                         else coalesce((select f.read_index < m.reply_index
                                        from thread_follows f
                                        where f.user_id = i.user_id
                                          and f.channel_id = m.channel_id
                                          and f.root_seq = m.thread_root_seq), true) end
                    as unread
         from mail_items i
         join messages m on m.channel_id = i.channel_id and m.seq = i.seq
         {FACT_JOINS}
         left join channel_members cm on cm.channel_id = i.channel_id and cm.user_id = i.user_id
         where i.user_id = $1
         order by w.name, c.id, m.seq
         for update of i"
    ))
    .bind(user_id)
    .fetch_all(&mut **tx)
    .await
}

/// The person's mail went (or had nothing left to say): the items it covered are done.
pub async fn mail_done(
    tx: &mut Transaction<'_, Postgres>,
    user_id: i64,
    items: &[(i64, i64)],
    mailed: bool,
) -> sqlx::Result<()> {
    let (channels, seqs): (Vec<i64>, Vec<i64>) = items.iter().copied().unzip();
    sqlx::query(
        "delete from mail_items i using unnest($2::bigint[], $3::bigint[]) as d(channel_id, seq)
         where i.user_id = $1 and i.channel_id = d.channel_id and i.seq = d.seq",
    )
    .bind(user_id)
    .bind(&channels)
    .bind(&seqs)
    .execute(&mut **tx)
    .await?;
    if mailed {
        sqlx::query("update users set notify_mailed_at = now() where id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// The mail could not be sent: try the person's items again after `secs`.
pub async fn mail_retry(db: &PgPool, user_id: i64, secs: f64) -> sqlx::Result<()> {
    sqlx::query(
        "update mail_items set attempts = attempts + 1,
                due_at = now() + make_interval(secs => $2)
         where user_id = $1 and due_at <= now()",
    )
    .bind(user_id)
    .bind(secs)
    .execute(db)
    .await?;
    Ok(())
}

/// Turns notification mail off for the person (the one-click link, the preferences page).
pub async fn set_email_notify(
    db: impl PgExecutor<'_>,
    user_id: i64,
    on: bool,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("update users set email_notify = $2 where id = $1")
            .bind(user_id)
            .bind(on)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

// --------------------------------------------------------------------------- preferences

/// A person's notification settings.
#[derive(Debug, sqlx::FromRow)]
pub struct Prefs {
    pub time_zone: Option<String>,
    pub dnd_until: Option<OffsetDateTime>,
    pub dnd_start: Option<time::Time>,
    pub dnd_end: Option<time::Time>,
    pub email_notify: bool,
    /// When do not disturb ends, if it is on now (a pause or the schedule).
    pub dnd_ends: Option<OffsetDateTime>,
    /// The same in the person's zone, as "Thu 18:30".
    pub dnd_ends_local: Option<String>,
}

pub async fn prefs(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Prefs> {
    sqlx::query_as(
        "select time_zone, dnd_until, dnd_start, dnd_end, email_notify, dnd_ends,
                to_char(dnd_ends at time zone coalesce(time_zone, 'UTC'), 'Dy HH24:MI')
                    as dnd_ends_local
         from (select *, dnd_ends(dnd_until, dnd_start, dnd_end, time_zone, now()) as dnd_ends
               from users where id = $1) u",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Saves the schedule, the time zone and mail; the zone is checked by the caller.
pub async fn save_prefs(
    db: impl PgExecutor<'_>,
    user_id: i64,
    time_zone: Option<&str>,
    schedule: Option<(time::Time, time::Time)>,
    email_notify: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "update users set time_zone = $2, dnd_start = $3, dnd_end = $4, email_notify = $5
         where id = $1",
    )
    .bind(user_id)
    .bind(time_zone)
    .bind(schedule.map(|s| s.0))
    .bind(schedule.map(|s| s.1))
    .bind(email_notify)
    .execute(db)
    .await?;
    Ok(())
}

/// How a pause is given.
pub enum Pause {
    Minutes(i32),
    /// Until 9:00 tomorrow in the person's zone.
    Tomorrow,
    /// Until a local date and time in the person's zone.
    Until(time::PrimitiveDateTime),
    Resume,
}

/// Pauses (or resumes) the person's notifications, answering when do not disturb now ends
/// (`None`: it is off). A pause that would end in the past or more than a year ahead changes
/// nothing and answers `Err(())`.
pub async fn pause(
    db: impl PgExecutor<'_>,
    user_id: i64,
    pause: Pause,
) -> sqlx::Result<Result<Option<OffsetDateTime>, ()>> {
    let (how, minutes, local) = match pause {
        Pause::Minutes(m) => ("minutes", m, None),
        Pause::Tomorrow => ("tomorrow", 0, None),
        Pause::Until(local) => ("until", 0, Some(local)),
        Pause::Resume => ("resume", 0, None),
    };
    let ends: Option<Option<OffsetDateTime>> = sqlx::query_scalar(
        "with new as (
             select id, case $2
                 when 'minutes' then now() + make_interval(mins => $3)
                 when 'tomorrow' then ((now() at time zone z)::date + 1 + time '09:00')
                                      at time zone z
                 when 'until' then $4::timestamp at time zone z end as until
             from users cross join lateral (select coalesce(time_zone, 'UTC') as z) zone
             where id = $1)
         update users u set dnd_until = new.until from new
         where u.id = new.id
           and ($2 = 'resume'
                or (new.until > now() and new.until < now() + interval '366 days'))
         returning dnd_ends(u.dnd_until, u.dnd_start, u.dnd_end, u.time_zone, now())",
    )
    .bind(user_id)
    .bind(how)
    .bind(minutes)
    .bind(local)
    .fetch_optional(db)
    .await?;
    Ok(ends.ok_or(()))
}

/// Do not disturb as Slack's `dnd.info` tells it (unix seconds).
#[derive(Debug, sqlx::FromRow)]
pub struct DndInfo {
    /// The daily window's next start and its end, if there is a schedule.
    pub next_start: Option<i64>,
    pub next_end: Option<i64>,
    /// The end of the pause (Slack's snooze), if one is on.
    pub snooze_end: Option<i64>,
}

pub async fn dnd_info(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<DndInfo> {
    sqlx::query_as(
        "select extract(epoch from next_start)::bigint as next_start,
                extract(epoch from next_start
                        + case when dnd_end > dnd_start then dnd_end - dnd_start
                               else dnd_end - dnd_start + interval '24 hours' end)::bigint
                    as next_end,
                case when dnd_until > now() then extract(epoch from dnd_until)::bigint end
                    as snooze_end
         from (select u.dnd_start, u.dnd_end, u.dnd_until,
                      ((now() at time zone z)::date
                       + case when (now() at time zone z)::time < u.dnd_start then 0 else 1 end
                       + u.dnd_start) at time zone z as next_start
               from users u cross join lateral (select coalesce(u.time_zone, 'UTC') as z) zone
               where u.id = $1) d",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Of these people, those in do not disturb now, with when it ends.
pub async fn in_dnd(
    db: impl PgExecutor<'_>,
    user_ids: &[i64],
) -> sqlx::Result<Vec<(i64, OffsetDateTime)>> {
    sqlx::query_as(
        "select id, e from (
             select id, dnd_ends(dnd_until, dnd_start, dnd_end, time_zone, now()) as e
             from users where id = any($1)) d
         where e is not null",
    )
    .bind(user_ids)
    .fetch_all(db)
    .await
}

/// One conversation of the person on the Preferences page.
#[derive(Debug, sqlx::FromRow)]
pub struct ConversationLevel {
    pub channel_id: i64,
    pub workspace_name: String,
    pub kind: ChannelKind,
    /// `#name`, or the other people of a DM.
    pub title: String,
    pub notify: Option<String>,
}

/// The person's conversations in every workspace they are active in.
pub async fn conversation_levels(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> sqlx::Result<Vec<ConversationLevel>> {
    sqlx::query_as(
        "select c.id as channel_id, w.name as workspace_name, c.kind,
                coalesce('#' || c.name,
                         (select string_agg(o.display_name, ', ' order by o.display_name)
                          from channel_members om join users o on o.id = om.user_id
                          where om.channel_id = c.id and om.user_id <> $1),
                         'Just you') as title,
                cm.notify
         from channel_members cm
         join channels c on c.id = cm.channel_id and c.archived_at is null
         join workspaces w on w.id = c.workspace_id
         join workspace_members wm on wm.workspace_id = w.id and wm.user_id = $1
                                  and wm.deactivated_at is null
         where cm.user_id = $1
         order by w.name, c.kind in ('dm', 'group_dm'), title",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Sets the person's level in conversations they are in (`None` for the default).
pub async fn set_levels(
    db: impl PgExecutor<'_>,
    user_id: i64,
    channel_ids: &[i64],
    levels: &[Option<&str>],
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "update channel_members cm set notify = l.level
         from unnest($2::bigint[], $3::text[]) as l(channel_id, level)
         where cm.user_id = $1 and cm.channel_id = l.channel_id
           and cm.notify is distinct from l.level",
    )
    .bind(user_id)
    .bind(channel_ids)
    .bind(levels)
    .execute(db)
    .await?
    .rows_affected())
}

/// The person's stored level in one conversation.
pub async fn level(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    user_id: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select notify from channel_members where channel_id = $1 and user_id = $2")
        .bind(channel_id)
        .bind(user_id)
        .fetch_optional(db)
        .await
        .map(Option::flatten)
}
