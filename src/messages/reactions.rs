//! What people attach to a message: emoji reactions, pins (per channel) and saves (per person).
//!
//! A reaction is a row keyed by (message, emoji, person), so a person's second `:tada:` on a
//! message is refused by the key whatever the race ([`ReactionError::AlreadyReacted`]); names
//! are stored by their canonical shortcode ([`crate::emoji::canonical`]). Each change is one
//! statement that also writes the bots' `reaction_added` / `reaction_removed` events, then is
//! published live with the emoji's new count. The caller has checked the person may read the
//! channel; these check the message is a live one of that channel.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use sqlx::{PgExecutor, PgPool};

use super::db::{self, MessageRow};
use crate::emoji;
use crate::error::AppError;
use crate::realtime::frames::Event;
use crate::realtime::{channel_topic, user_topic};
use crate::state::AppState;

/// Why a reaction did not change (Slack's codes, which the Web API answers with).
#[derive(Debug, thiserror::Error)]
pub enum ReactionError {
    #[error("That is not an emoji of the standard set.")]
    InvalidName,
    #[error("That message is not there.")]
    MessageNotFound,
    #[error("You already reacted with that emoji.")]
    AlreadyReacted,
    #[error("You had not reacted with that emoji.")]
    NoReaction,
    #[error(transparent)]
    Other(#[from] AppError),
}

impl From<sqlx::Error> for ReactionError {
    fn from(e: sqlx::Error) -> Self {
        Self::Other(e.into())
    }
}

impl ReactionError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidName => "invalid_name",
            Self::MessageNotFound => "message_not_found",
            Self::AlreadyReacted => "already_reacted",
            Self::NoReaction => "no_reaction",
            Self::Other(_) => "internal_error",
        }
    }
}

impl From<ReactionError> for AppError {
    fn from(e: ReactionError) -> Self {
        match e {
            ReactionError::MessageNotFound => AppError::NotFound,
            ReactionError::Other(e) => e,
            other => AppError::Validation(other.to_string()),
        }
    }
}

/// A reaction after a change: its canonical name and how many had it as the change's own
/// statement saw them (concurrent changes may not be counted: live frames read the count
/// afresh).
#[derive(Debug)]
pub struct Change {
    pub name: String,
    pub count: i64,
    pub added: bool,
}

/// Adds one person's reaction; refused if they already have it.
pub async fn add(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    name: &str,
) -> Result<Change, ReactionError> {
    change(state, channel_id, seq, user_id, name, true).await
}

/// Takes one person's reaction away; refused if they do not have it.
pub async fn remove(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    name: &str,
) -> Result<Change, ReactionError> {
    change(state, channel_id, seq, user_id, name, false).await
}

/// Adds or removes one person's reaction in one statement, with the bots' events; the count is
/// what that statement saw, and the live frame follows ([`publish`]).
async fn change(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    name: &str,
    add: bool,
) -> Result<Change, ReactionError> {
    let name = emoji::canonical(name).ok_or(ReactionError::InvalidName)?;
    live_message(&state.db, channel_id, seq).await?;
    let (write, event, sign) = if add {
        (
            "insert into reactions (channel_id, seq, name, user_id)
             select $1, $2, $3, $4
             where exists (select 1 from messages m
                           where m.channel_id = $1 and m.seq = $2 and m.deleted_at is null)
             on conflict do nothing",
            "reaction_added",
            "+",
        )
    } else {
        (
            "delete from reactions
             where channel_id = $1 and seq = $2 and name = $3 and user_id = $4",
            "reaction_removed",
            "-",
        )
    };
    let (changed, count) = sqlx::query_as::<_, (bool, i64)>(&format!(
        "with changed as ({write} returning channel_id, seq),
         {events}
         select exists (select 1 from changed),
                (select count(*) from reactions r
                 where r.channel_id = $1 and r.seq = $2 and r.name = $3)
                {sign} (select count(*) from changed)",
        events = bot_events("changed", event)
    ))
    .bind(channel_id)
    .bind(seq)
    .bind(&name)
    .bind(user_id)
    .fetch_one(&state.db)
    .await?;
    if !changed {
        return Err(if add {
            ReactionError::AlreadyReacted
        } else {
            ReactionError::NoReaction
        });
    }
    let change = Change {
        name,
        count,
        added: add,
    };
    publish(state, channel_id, seq, user_id, &change);
    Ok(change)
}

/// A click on a chip or a picker's emoji: adds it, or takes it away if the person has it.
pub async fn toggle(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    name: &str,
) -> Result<Change, ReactionError> {
    match add(state, channel_id, seq, user_id, name).await {
        Err(ReactionError::AlreadyReacted) => remove(state, channel_id, seq, user_id, name).await,
        other => other,
    }
}

/// Whether the message is there and not deleted: one probe by key, nothing rendered.
async fn live_message(pool: &PgPool, channel_id: i64, seq: i64) -> Result<(), ReactionError> {
    let live: Option<bool> = sqlx::query_scalar(
        "select deleted_at is null from messages where channel_id = $1 and seq = $2",
    )
    .bind(channel_id)
    .bind(seq)
    .fetch_optional(pool)
    .await?;
    match live {
        Some(true) => Ok(()),
        _ => Err(ReactionError::MessageNotFound),
    }
}

/// The CTE that writes bots' events for a reaction change whose CTE `changed` returned the
/// message: bots in the channel subscribed to `event_type`, not the reactor ($4).
fn bot_events(changed: &str, event_type: &str) -> String {
    format!(
        "live_bots as materialized ({live_bots}),
         events as (
             insert into event_outbox (bot_id, channel_id, seq, event_type, reaction, actor_id)
             select b.id, c.channel_id, c.seq, '{event_type}', $3, $4
             from {changed} c join live_bots b
               on '{event_type}' = any(b.events)
              and exists (select 1 from channel_members cm
                          where cm.channel_id = c.channel_id and cm.user_id = b.user_id))",
        live_bots = db::live_bots("$4")
    )
}

/// How long reaction changes on one message gather before one frame per emoji goes out.
const GATHER: Duration = Duration::from_millis(100);

/// The last change of each emoji on a message while its changes gather: whether it was an add,
/// and who made it. Keyed by the node (its live transport's address: a process may run several,
/// as tests do) and the message.
type Pending = HashMap<(usize, i64, i64), (AppState, HashMap<String, (bool, i64)>)>;

/// Reaction changes waiting for their frame.
static PENDING: LazyLock<Mutex<Pending>> = LazyLock::new(|| Mutex::new(HashMap::new()));
static GATHERING: AtomicBool = AtomicBool::new(false);

/// Queues a committed change for the channel's sockets. A hot message's reactions change many
/// times a second, and each frame goes to everyone watching the channel: so changes gather for
/// [`GATHER`], then each changed emoji gets one frame whose count and names are read from
/// Postgres at that moment (after every gathered commit), never a count one statement's
/// snapshot saw while others were committing; and a channel's frames travel as one batch, so
/// each watching socket wakes and writes once for all of them.
fn publish(state: &AppState, channel_id: i64, seq: i64, user_id: i64, change: &Change) {
    {
        let mut pending = PENDING.lock().unwrap_or_else(|p| p.into_inner());
        let (_, names) = pending
            .entry((Arc::as_ptr(&state.realtime) as usize, channel_id, seq))
            .or_insert_with(|| (state.clone(), HashMap::new()));
        names.insert(change.name.clone(), (change.added, user_id));
    }
    if !GATHERING.swap(true, Ordering::AcqRel) {
        tokio::spawn(async {
            tokio::time::sleep(GATHER).await;
            GATHERING.store(false, Ordering::Release);
            let gathered = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|p| p.into_inner()));
            // One batch per channel: each socket watching it wakes once for all of them.
            let mut batches: HashMap<(usize, i64), (AppState, Vec<Event>)> = HashMap::new();
            for ((node, channel_id, seq), (state, names)) in gathered {
                match events_now(&state, channel_id, seq, names).await {
                    Ok(events) => batches
                        .entry((node, channel_id))
                        .or_insert_with(|| (state, Vec::new()))
                        .1
                        .extend(events),
                    Err(e) => {
                        tracing::warn!(error = %e, channel_id, seq, "reactions were not published live")
                    }
                }
            }
            for ((_, channel_id), (state, events)) in batches {
                state.realtime.publish(
                    &channel_topic(channel_id),
                    Event::Batch { channel_id, events },
                );
            }
        });
    }
}

/// The frames for one message's gathered changes, with counts and names as they are now.
async fn events_now(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    names: HashMap<String, (bool, i64)>,
) -> Result<Vec<Event>, AppError> {
    let mut groups = on_messages(&state.db, channel_id, &[seq])
        .await?
        .remove(&seq)
        .unwrap_or_default();
    let users: Vec<i64> = names.values().map(|&(_, user)| user).collect();
    let user_names: HashMap<i64, String> =
        sqlx::query_as("select id, display_name from users where id = any($1)")
            .bind(&users)
            .fetch_all(&state.db)
            .await?
            .into_iter()
            .collect();
    let mut events = Vec::with_capacity(names.len());
    for (name, (added, user_id)) in names {
        let (count, title) = match groups.iter().position(|g| g.name == name) {
            Some(i) => {
                let group = groups.swap_remove(i);
                (group.user_ids.len() as i64, group.view(0).title)
            }
            None => (0, String::new()),
        };
        let glyph = emoji::glyph(&name).unwrap_or_default().to_owned();
        let user_name = user_names.get(&user_id).cloned().unwrap_or_default();
        let event = if added {
            Event::ReactionAdded {
                channel_id,
                seq,
                name,
                glyph,
                user_id,
                user_name,
                count,
                title,
            }
        } else {
            Event::ReactionRemoved {
                channel_id,
                seq,
                name,
                glyph,
                user_id,
                user_name,
                count,
                title,
            }
        };
        events.push(event);
    }
    Ok(events)
}

/// One emoji's reactors on a message, in the order they reacted.
#[derive(Debug, sqlx::FromRow)]
pub struct Group {
    pub seq: i64,
    pub name: String,
    pub user_ids: Vec<i64>,
    pub user_names: Vec<String>,
}

impl Group {
    pub fn view(self, me: i64) -> super::view::ReactionView {
        let count = self.user_ids.len() as i64;
        let names = match self.user_names.as_slice() {
            [one] => one.clone(),
            [a, b] => format!("{a} and {b}"),
            [a, b, c] => format!("{a}, {b} and {c}"),
            [a, b, c, rest @ ..] => format!("{a}, {b}, {c} and {} others", rest.len()),
            [] => String::new(),
        };
        super::view::ReactionView {
            glyph: emoji::glyph(&self.name).unwrap_or_default().to_owned(),
            title: format!("{names} reacted with :{}:", self.name),
            mine: self.user_ids.contains(&me),
            name: self.name,
            count,
        }
    }
}

/// The reactions on some messages of a channel, grouped by emoji in the order first used.
pub async fn on_messages(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seqs: &[i64],
) -> sqlx::Result<HashMap<i64, Vec<Group>>> {
    let groups: Vec<Group> = sqlx::query_as(
        "select r.seq, r.name, array_agg(r.user_id order by r.created_at, r.user_id) as user_ids,
                array_agg(u.display_name order by r.created_at, r.user_id) as user_names
         from reactions r join users u on u.id = r.user_id
         where r.channel_id = $1 and r.seq = any($2)
         group by r.seq, r.name
         order by r.seq, min(r.created_at), r.name",
    )
    .bind(channel_id)
    .bind(seqs)
    .fetch_all(db)
    .await?;
    let mut by_seq: HashMap<i64, Vec<Group>> = HashMap::new();
    for g in groups {
        by_seq.entry(g.seq).or_default().push(g);
    }
    Ok(by_seq)
}

/// A person's most used emoji lately, for the picker's "Frequently used".
pub async fn frequent(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select name from (select name from reactions where user_id = $1
                           order by created_at desc limit 200) recent
         group by name order by count(*) desc, name limit 16",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

// ---------------------------------------------------------------- pins and saves

/// Whether each of some messages is pinned, and saved by `me`.
pub async fn marks(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    seqs: &[i64],
    me: i64,
) -> sqlx::Result<HashMap<i64, (bool, bool)>> {
    let rows: Vec<(i64, bool, bool)> = sqlx::query_as(
        "select s.seq,
                exists (select 1 from pins p where p.channel_id = $1 and p.seq = s.seq),
                exists (select 1 from saved_messages v
                        where v.user_id = $3 and v.channel_id = $1 and v.seq = s.seq)
         from unnest($2::bigint[]) as s(seq)",
    )
    .bind(channel_id)
    .bind(seqs)
    .bind(me)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|(s, p, v)| (s, (p, v))).collect())
}

/// Pins or unpins a live message of the channel; `false` when nothing changed (already so, or
/// no such message).
pub async fn set_pinned(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    pinned: bool,
) -> Result<bool, ReactionError> {
    live_message(&state.db, channel_id, seq).await?;
    let changed = if pinned {
        sqlx::query(
            "insert into pins (channel_id, seq, pinned_by) values ($1, $2, $3) on conflict do nothing",
        )
        .bind(channel_id)
        .bind(seq)
        .bind(user_id)
        .execute(&state.db)
        .await?
    } else {
        sqlx::query("delete from pins where channel_id = $1 and seq = $2")
            .bind(channel_id)
            .bind(seq)
            .execute(&state.db)
            .await?
    }
    .rows_affected()
        > 0;
    if changed {
        let event = if pinned {
            Event::PinAdded { channel_id, seq }
        } else {
            Event::PinRemoved { channel_id, seq }
        };
        state.realtime.publish(&channel_topic(channel_id), event);
    }
    Ok(changed)
}

/// Saves or unsaves a live message for one person (their other tabs hear of it).
pub async fn set_saved(
    state: &AppState,
    channel_id: i64,
    seq: i64,
    user_id: i64,
    saved: bool,
) -> Result<(), ReactionError> {
    live_message(&state.db, channel_id, seq).await?;
    if saved {
        sqlx::query(
            "insert into saved_messages (user_id, channel_id, seq) values ($1, $2, $3)
             on conflict do nothing",
        )
    } else {
        sqlx::query(
            "delete from saved_messages where user_id = $1 and channel_id = $2 and seq = $3",
        )
    }
    .bind(user_id)
    .bind(channel_id)
    .bind(seq)
    .execute(&state.db)
    .await?;
    state.realtime.publish(
        &user_topic(user_id),
        Event::Saved {
            channel_id,
            seq,
            saved,
        },
    );
    Ok(())
}

pub async fn pinned_count(db: impl PgExecutor<'_>, channel_id: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar("select count(*) from pins where channel_id = $1")
        .bind(channel_id)
        .fetch_one(db)
        .await
}

/// A channel's pinned messages, newest pin first.
pub async fn pinned(db: impl PgExecutor<'_>, channel_id: i64) -> sqlx::Result<Vec<MessageRow>> {
    db::listed(
        db,
        "join pins p on p.channel_id = m.channel_id and p.seq = m.seq
         where m.channel_id = $1 and m.deleted_at is null
         order by p.pinned_at desc limit 100",
        &[channel_id],
    )
    .await
}

/// A person's saved messages in one workspace, in channels they can still read, newest save
/// first.
pub async fn saved(
    db: impl PgExecutor<'_>,
    workspace_id: i64,
    user_id: i64,
) -> sqlx::Result<Vec<MessageRow>> {
    db::listed(
        db,
        "join saved_messages v on v.channel_id = m.channel_id and v.seq = m.seq
         join channels c on c.id = m.channel_id
         where v.user_id = $2 and c.workspace_id = $1 and m.deleted_at is null
           and (c.kind = 'public' or exists (select 1 from channel_members cm
                                             where cm.channel_id = c.id and cm.user_id = $2))
         order by v.saved_at desc limit 200",
        &[workspace_id, user_id],
    )
    .await
}
