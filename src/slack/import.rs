//! `natter import slack`: a Slack export into a workspace.
//!
//! 1. People (`users.json`): each is matched by email to an existing account, else made
//!    without a password (they log in by reset or single sign-on); deleted ones are
//!    deactivated, bots are bot users. All become members of the workspace.
//! 2. Conversations (`channels.json`, `groups.json`, `dms.json`, `mpims.json`): a channel whose
//!    name the workspace has (`#general` among them) is merged into, never duplicated.
//! 3. Messages, one conversation at a time and each in one transaction, so a conversation is
//!    imported whole or not at all: its daily files in date order, each day's messages in `ts`
//!    order, so seqs follow Slack's order. Rows go in with bulk statements, yet they are the
//!    rows a send would write: seqs and `shown_count`, thread summaries and followers, reply
//!    indexes, mentions, reactions, pins, read points (imported history counts as read) and the
//!    search outbox. No notifications and no bot events: this is history.
//!
//! Re-running imports nothing twice: `import_map` remembers every person and conversation
//! brought in. A file that cannot be read stops the run with its name and the problem; the
//! conversations finished before it stay, and the summary says which.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use sqlx::PgConnection;
use time::OffsetDateTime;

use super::archive::Archive;
use super::model::{self, Conversation, Message, User};
use crate::auth::{accounts, db as auth_db};
use crate::channels::ChannelKind;
use crate::integrations::mrkdwn::{self, Names};
use crate::state::AppState;
use crate::workspaces::db as workspaces_db;

/// Messages written per statement.
const BATCH: usize = 2_000;

/// What an import did.
#[derive(Debug, Default)]
pub struct Summary {
    pub people_matched: u64,
    pub people_created: u64,
    pub conversations: u64,
    /// Imported by an earlier run, left alone.
    pub conversations_already: u64,
    pub messages: u64,
    pub reactions: u64,
    pub pins: u64,
    /// Messages of subtypes Natter does not know, imported as their text.
    pub unknown_subtypes: u64,
    /// What was not imported, by reason.
    pub skipped: BTreeMap<String, u64>,
}

impl Summary {
    fn skip(&mut self, reason: &str) {
        *self.skipped.entry(reason.to_owned()).or_default() += 1;
    }

    /// The summary's one line.
    pub fn line(&self) -> String {
        let skipped = if self.skipped.is_empty() {
            "none".to_owned()
        } else {
            self.skipped
                .iter()
                .map(|(why, n)| format!("{n} {why}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "imported: {} people matched, {} created; {} conversations ({} already imported); {} messages, {} reactions, {} pins; {} of unknown subtypes as text; skipped: {skipped}",
            self.people_matched,
            self.people_created,
            self.conversations,
            self.conversations_already,
            self.messages,
            self.reactions,
            self.pins,
            self.unknown_subtypes,
        )
    }
}

/// How far an import has come, for a progress bar.
pub trait Progress {
    fn conversation(&self, name: &str, days: usize);
    fn day_done(&self, messages: u64);
}

/// No progress shown.
pub struct Quiet;

impl Progress for Quiet {
    fn conversation(&self, _: &str, _: usize) {}
    fn day_done(&self, _: u64) {}
}

/// Imports the export at `path` into the workspace `slug`. On an error, what was finished is
/// in `summary` (the conversations before the bad file).
pub async fn run(
    state: &AppState,
    slug: &str,
    path: &Path,
    progress: &dyn Progress,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let workspace = workspaces_db::workspace_by_slug(&state.db, slug)
        .await?
        .ok_or_else(|| anyhow!("there is no workspace {slug:?}"))?;
    let mut archive = Archive::open(path)?;
    if !archive.has("users.json") {
        bail!(
            "users.json is missing: {} is not a Slack export",
            path.display()
        );
    }
    // Both lists are read and checked before anything is written.
    let users: Vec<User> = archive.json("users.json")?;
    let conversations = list_conversations(&mut archive)?;
    let mut people = People::default();
    bring_people(state, workspace.id, &users, &mut people, summary).await?;

    // Channel names for `<#C…>`, as the import will name them.
    let channel_names: HashMap<String, String> = conversations
        .iter()
        .filter_map(|c| c.name.clone().map(|n| (c.slack_id.clone(), n)))
        .collect();
    people.channels = channel_names;
    for conversation in &conversations {
        let mut tx = state.db.begin().await?;
        if mapped(
            &mut tx,
            workspace.id,
            "conversation",
            &conversation.slack_id,
        )
        .await?
        .is_some()
        {
            summary.conversations_already += 1;
            continue;
        }
        let days = archive.days(&conversation.folder);
        progress.conversation(conversation.shown(), days.len());
        let mut counts = Summary::default();
        import_conversation(
            state,
            &mut tx,
            workspace.id,
            conversation,
            &days,
            &mut archive,
            &mut people,
            progress,
            &mut counts,
        )
        .await
        .with_context(|| {
            format!(
                "{} was not imported (nothing of it was kept)",
                conversation.shown()
            )
        })?;
        remember(
            &mut tx,
            workspace.id,
            "conversation",
            &conversation.slack_id,
            0,
        )
        .await?;
        tx.commit().await?;
        summary.conversations += 1;
        summary.messages += counts.messages;
        summary.reactions += counts.reactions;
        summary.pins += counts.pins;
        summary.unknown_subtypes += counts.unknown_subtypes;
        for (why, n) in counts.skipped {
            *summary.skipped.entry(why).or_default() += n;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------ people

/// Slack's ids as Natter knows them.
#[derive(Default)]
struct People {
    /// Slack user id → Natter user id.
    users: HashMap<String, i64>,
    /// Natter user id → username, for mentions.
    usernames: HashMap<i64, String>,
    /// A bot's `bot_id` → its bot user.
    bots: HashMap<String, i64>,
    /// Slack conversation id → its name here.
    channels: HashMap<String, String>,
}

impl Names for People {
    fn username(&self, id: &str) -> Option<String> {
        self.users
            .get(id)
            .and_then(|user| self.usernames.get(user))
            .cloned()
    }

    fn channel(&self, id: &str) -> Option<String> {
        self.channels.get(id).cloned()
    }
}

async fn mapped(
    db: &mut PgConnection,
    workspace_id: i64,
    kind: &str,
    slack_id: &str,
) -> sqlx::Result<Option<i64>> {
    sqlx::query_scalar(
        "select natter_id from import_map where workspace_id = $1 and kind = $2 and slack_id = $3",
    )
    .bind(workspace_id)
    .bind(kind)
    .bind(slack_id)
    .fetch_optional(db)
    .await
}

async fn remember(
    db: &mut PgConnection,
    workspace_id: i64,
    kind: &str,
    slack_id: &str,
    natter_id: i64,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into import_map (workspace_id, kind, slack_id, natter_id) values ($1, $2, $3, $4)
         on conflict do nothing",
    )
    .bind(workspace_id)
    .bind(kind)
    .bind(slack_id)
    .bind(natter_id)
    .execute(db)
    .await?;
    Ok(())
}

/// A username made from Slack's, free in this instance (asked inside the import's
/// transaction, so two people it makes never get the same one).
async fn username_for(tx: &mut PgConnection, slack_name: &str) -> anyhow::Result<String> {
    let stem: String = slack_name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .take(28)
        .collect();
    let stem = stem.trim_matches('-');
    let stem = if stem.is_empty() { "member" } else { stem };
    for n in 1..1000 {
        let candidate = if n == 1 {
            stem.to_owned()
        } else {
            format!("{stem}-{n}")
        };
        let taken: bool =
            sqlx::query_scalar("select exists (select 1 from users where username = $1)")
                .bind(&candidate)
                .fetch_one(&mut *tx)
                .await?;
        if !taken && accounts::check_username(&candidate).is_ok() {
            return Ok(candidate);
        }
    }
    bail!("no free username is left for {slack_name:?}")
}

async fn bring_people(
    state: &AppState,
    workspace_id: i64,
    users: &[User],
    people: &mut People,
    summary: &mut Summary,
) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    for user in users {
        if user.id.is_empty() {
            bail!("users.json has a person without an id");
        }
        let id = match mapped(&mut tx, workspace_id, "user", &user.id).await? {
            Some(id) => id,
            None => {
                let email = user
                    .profile
                    .email
                    .as_deref()
                    .map(|e| e.trim().to_lowercase())
                    .filter(|e| accounts::is_plausible_email(e));
                let existing: Option<i64> = match &email {
                    Some(email) => {
                        sqlx::query_scalar("select id from users where lower(email) = $1")
                            .bind(email)
                            .fetch_optional(&mut *tx)
                            .await?
                    }
                    None => None,
                };
                let id = match existing {
                    Some(id) => {
                        summary.people_matched += 1;
                        id
                    }
                    None => {
                        let username = username_for(&mut tx, &user.name).await?;
                        let name = [
                            user.profile.real_name.as_deref(),
                            user.real_name.as_deref(),
                            user.profile.display_name.as_deref(),
                        ]
                        .into_iter()
                        .flatten()
                        .map(str::trim)
                        .find(|n| !n.is_empty())
                        .unwrap_or(&username)
                        .chars()
                        .take(80)
                        .collect::<String>();
                        // Slack's bots have no email; an address that can never be delivered
                        // keeps the account unique and unreachable by mail.
                        let email = email.unwrap_or_else(|| {
                            format!("{}@slack-import.invalid", user.id.to_lowercase())
                        });
                        let id =
                            auth_db::insert_account(&mut *tx, &email, &username, &name).await?;
                        sqlx::query(
                            "update users set is_bot = $2, title = $3,
                                    deactivated_at = case when $4 then now() end
                             where id = $1",
                        )
                        .bind(id)
                        .bind(user.is_bot)
                        .bind(user.profile.title.as_deref().unwrap_or_default())
                        .bind(user.deleted)
                        .execute(&mut *tx)
                        .await?;
                        summary.people_created += 1;
                        id
                    }
                };
                workspaces_db::add_member(
                    &mut tx,
                    workspace_id,
                    id,
                    crate::auth::membership::Role::Member,
                )
                .await?;
                if user.deleted {
                    sqlx::query(
                        "update workspace_members set deactivated_at = coalesce(deactivated_at, now())
                         where workspace_id = $1 and user_id = $2",
                    )
                    .bind(workspace_id)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                }
                remember(&mut tx, workspace_id, "user", &user.id, id).await?;
                id
            }
        };
        people.users.insert(user.id.clone(), id);
        if let Some(bot) = &user.profile.bot_id {
            people.bots.insert(bot.clone(), id);
        }
    }
    tx.commit().await?;
    let ids: Vec<i64> = people.users.values().copied().collect();
    let names: Vec<(i64, String)> =
        sqlx::query_as("select id, username from users where id = any($1)")
            .bind(&ids)
            .fetch_all(&state.db)
            .await?;
    people.usernames = names.into_iter().collect();
    Ok(())
}

/// Someone a message names who is not in `users.json`: a deactivated account of their own,
/// so the message keeps its author.
async fn stranger(
    tx: &mut PgConnection,
    workspace_id: i64,
    slack_id: &str,
    people: &mut People,
    is_bot: bool,
) -> anyhow::Result<i64> {
    let kind = if is_bot { "bot" } else { "user" };
    let id = match mapped(tx, workspace_id, kind, slack_id).await? {
        Some(id) => id,
        None => {
            let username = username_for(tx, slack_id).await?;
            let email = format!("{}@slack-import.invalid", slack_id.to_lowercase());
            let id = auth_db::insert_account(&mut *tx, &email, &username, slack_id).await?;
            sqlx::query("update users set is_bot = $2, deactivated_at = now() where id = $1")
                .bind(id)
                .bind(is_bot)
                .execute(&mut *tx)
                .await?;
            remember(tx, workspace_id, kind, slack_id, id).await?;
            people.usernames.insert(id, username);
            id
        }
    };
    if is_bot {
        people.bots.insert(slack_id.to_owned(), id);
    } else {
        people.users.insert(slack_id.to_owned(), id);
    }
    Ok(id)
}

// ------------------------------------------------------------------ conversations

struct Planned {
    slack_id: String,
    /// The folder of its daily files.
    folder: String,
    kind: ChannelKind,
    /// Channels: the name here.
    name: Option<String>,
    is_general: bool,
    archived: bool,
    members: Vec<String>,
    topic: String,
}

impl Planned {
    fn shown(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.folder)
    }
}

/// A Slack channel name as a Natter one: lower case, letters, digits, `-` and `_`.
fn channel_name(name: &str) -> Option<String> {
    let name: String = name
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(80)
        .collect();
    let name = name.trim_start_matches(['-', '_']).to_owned();
    (!name.is_empty()).then_some(name)
}

fn list_conversations(archive: &mut Archive) -> anyhow::Result<Vec<Planned>> {
    let mut planned = Vec::new();
    for (file, kind) in [
        ("channels.json", ChannelKind::Public),
        ("groups.json", ChannelKind::Private),
        ("dms.json", ChannelKind::Dm),
        ("mpims.json", ChannelKind::GroupDm),
    ] {
        if !archive.has(file) {
            continue;
        }
        let listed: Vec<Conversation> = archive.json(file)?;
        let mut names = HashMap::new();
        for c in listed {
            let named = matches!(kind, ChannelKind::Public | ChannelKind::Private);
            let name = if named {
                let raw = c.name.clone().unwrap_or_default();
                let name = channel_name(&raw).ok_or_else(|| {
                    anyhow!("{file}: the channel {} has no usable name ({raw:?})", c.id)
                })?;
                if let Some(other) = names.insert(name.clone(), c.id.clone()) {
                    bail!(
                        "{file}: two channels are named #{name} ({other} and {}); rename one in Slack and export again",
                        c.id
                    );
                }
                Some(name)
            } else {
                None
            };
            // Slack names DM folders by id, group DM and channel folders by name.
            let folder = match kind {
                ChannelKind::Dm => c.id.clone(),
                _ => c.name.clone().unwrap_or_else(|| c.id.clone()),
            };
            let topic = c
                .topic
                .as_ref()
                .map(|t| t.value.clone())
                .filter(|t| !t.is_empty())
                .or_else(|| c.purpose.as_ref().map(|p| p.value.clone()))
                .unwrap_or_default();
            planned.push(Planned {
                slack_id: c.id,
                folder,
                kind,
                name,
                is_general: c.is_general,
                archived: c.is_archived,
                members: c.members,
                topic,
            });
        }
    }
    Ok(planned)
}

/// The channel the conversation goes into: the one of its name (or `#general`), or a new one.
async fn channel_for(
    tx: &mut PgConnection,
    workspace_id: i64,
    conversation: &Planned,
    members: &[i64],
) -> anyhow::Result<i64> {
    match conversation.kind {
        ChannelKind::Public | ChannelKind::Private => {
            let existing: Option<i64> = if conversation.is_general {
                Some(crate::channels::db::general_channel_id(&mut *tx, workspace_id).await?)
            } else {
                sqlx::query_scalar("select id from channels where workspace_id = $1 and name = $2")
                    .bind(workspace_id)
                    .bind(&conversation.name)
                    .fetch_optional(&mut *tx)
                    .await?
            };
            let id = match existing {
                Some(id) => id,
                None => {
                    crate::channels::db::insert_channel(
                        &mut *tx,
                        workspace_id,
                        conversation.kind,
                        conversation.name.as_deref().unwrap_or_default(),
                        "",
                        None,
                    )
                    .await?
                }
            };
            // Slack's topic where the channel has none yet.
            sqlx::query("update channels set topic = $2 where id = $1 and topic = ''")
                .bind(id)
                .bind(conversation.topic.chars().take(250).collect::<String>())
                .execute(&mut *tx)
                .await?;
            Ok(id)
        }
        ChannelKind::Dm | ChannelKind::GroupDm => {
            let mut ids = members.to_vec();
            ids.sort_unstable();
            ids.dedup();
            if ids.is_empty() {
                bail!("{} lists no members", conversation.folder);
            }
            let key = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
            let kind = if ids.len() <= 2 {
                ChannelKind::Dm
            } else {
                ChannelKind::GroupDm
            };
            Ok(
                crate::channels::db::insert_dm(&mut *tx, workspace_id, kind, &key, &ids, ids[0])
                    .await?,
            )
        }
    }
}

/// The rows of a batch of messages, column by column for `unnest`.
#[derive(Default)]
struct Batch {
    seq: Vec<i64>,
    user_id: Vec<i64>,
    body: Vec<String>,
    created_at: Vec<OffsetDateTime>,
    edited_at: Vec<Option<OffsetDateTime>>,
    thread_root_seq: Vec<Option<i64>>,
    broadcast: Vec<bool>,
    shown_count: Vec<i64>,
    reply_index: Vec<Option<i32>>,
    mention_all: Vec<Option<String>>,
    sender_name: Vec<Option<String>>,
    /// (user, seq, thread root unless broadcast)
    mentions: Vec<(i64, i64, Option<i64>)>,
    /// (seq, emoji, user)
    reactions: Vec<(i64, String, i64)>,
    /// (seq, pinned by)
    pins: Vec<(i64, i64)>,
}

impl Batch {
    fn len(&self) -> usize {
        self.seq.len()
    }
}

/// Where a conversation's import stands while its messages go in.
struct Cursor {
    channel_id: i64,
    seq: i64,
    shown: i64,
    last_shown_seq: i64,
    /// Thread roots by their `ts` → seq.
    roots: HashMap<String, i64>,
    /// A root's seq → replies so far.
    replies: HashMap<i64, i32>,
}

const SYSTEM_SUBTYPES: &[&str] = &[
    "channel_join",
    "channel_leave",
    "group_join",
    "group_leave",
    "channel_topic",
    "channel_purpose",
    "channel_name",
    "group_topic",
    "group_purpose",
    "group_name",
    "channel_archive",
    "channel_unarchive",
    "group_archive",
    "group_unarchive",
    "pinned_item",
    "unpinned_item",
    "bot_add",
    "bot_remove",
    "joiner_notification",
];
const KNOWN_SUBTYPES: &[&str] = &[
    "bot_message",
    "me_message",
    "thread_broadcast",
    "file_share",
    "file_comment",
    "reminder_add",
    "slackbot_response",
];

#[allow(clippy::too_many_arguments)]
async fn import_conversation(
    state: &AppState,
    tx: &mut PgConnection,
    workspace_id: i64,
    conversation: &Planned,
    days: &[String],
    archive: &mut Archive,
    people: &mut People,
    progress: &dyn Progress,
    counts: &mut Summary,
) -> anyhow::Result<()> {
    let mut members = Vec::new();
    for slack_id in &conversation.members {
        let id = match people.users.get(slack_id) {
            Some(id) => *id,
            None => stranger(tx, workspace_id, slack_id, people, false).await?,
        };
        members.push(id);
    }
    let channel_id = channel_for(tx, workspace_id, conversation, &members).await?;
    crate::channels::db::add_members(&mut *tx, channel_id, &members).await?;
    let (seq, shown, last_shown_seq): (i64, i64, i64) = sqlx::query_as(
        "select last_seq, shown_total, last_shown_seq from channels where id = $1 for update",
    )
    .bind(channel_id)
    .fetch_one(&mut *tx)
    .await?;
    let first_new = seq + 1;
    let mut cursor = Cursor {
        channel_id,
        seq,
        shown,
        last_shown_seq,
        roots: HashMap::new(),
        replies: HashMap::new(),
    };
    let mut batch = Batch::default();
    for day in days {
        let mut messages: Vec<Message> = archive.json(day)?;
        let mut timed = Vec::with_capacity(messages.len());
        for message in messages.drain(..) {
            match model::micros(&message.ts) {
                Some(at) => timed.push((at, message)),
                None => counts.skip("messages without a valid ts"),
            }
        }
        timed.sort_by_key(|(at, _)| *at);
        let mut done = 0;
        for (at, message) in timed {
            if add_message(
                tx,
                workspace_id,
                &mut cursor,
                &mut batch,
                people,
                at,
                &message,
                counts,
            )
            .await
            .with_context(|| format!("{day}: the message of ts {}", message.ts))?
            {
                done += 1;
            }
            if batch.len() >= BATCH {
                flush(tx, &mut batch, channel_id, counts).await?;
            }
        }
        progress.day_done(done);
    }
    flush(tx, &mut batch, channel_id, counts).await?;
    finish(state, tx, &cursor, first_new, conversation.archived).await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn add_message(
    tx: &mut PgConnection,
    workspace_id: i64,
    cursor: &mut Cursor,
    batch: &mut Batch,
    people: &mut People,
    at: i64,
    message: &Message,
    counts: &mut Summary,
) -> anyhow::Result<bool> {
    let subtype = message.subtype.as_deref();
    if let Some(subtype) = subtype {
        if SYSTEM_SUBTYPES.contains(&subtype) {
            counts.skip("join, leave, topic and other channel events");
            return Ok(false);
        }
        if !KNOWN_SUBTYPES.contains(&subtype) {
            counts.unknown_subtypes += 1;
        }
    }
    // The author: a person, else the bot the message names.
    let user_id = match (&message.user, &message.bot_id) {
        (Some(user), _) => match people.users.get(user) {
            Some(id) => *id,
            None => stranger(tx, workspace_id, user, people, false).await?,
        },
        (None, Some(bot)) => match people.bots.get(bot) {
            Some(id) => *id,
            None => stranger(tx, workspace_id, bot, people, true).await?,
        },
        (None, None) => {
            counts.skip("messages without an author");
            return Ok(false);
        }
    };
    let mut body = mrkdwn::to_markdown(&message.text, &*people);
    // Files not in the archive stay reachable as links.
    for file in &message.files {
        if let Some(url) = file.url_private.as_ref().or(file.permalink.as_ref()) {
            let name = file
                .title
                .as_ref()
                .or(file.name.as_ref())
                .cloned()
                .unwrap_or_else(|| "file".to_owned());
            if !body.is_empty() {
                body.push('\n');
            }
            body.push_str(&format!("[{}]({url})", name.replace(['[', ']'], "")));
        }
    }
    if body.trim().is_empty() {
        counts.skip("empty messages");
        return Ok(false);
    }
    let created_at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1000)
        .map_err(|e| anyhow!("its time is out of range: {e}"))?;
    let edited_at = message
        .edited
        .as_ref()
        .and_then(|e| e.ts.as_deref())
        .and_then(model::micros)
        .and_then(|m| OffsetDateTime::from_unix_timestamp_nanos(i128::from(m) * 1000).ok());

    cursor.seq += 1;
    let seq = cursor.seq;
    let root = match message.thread_ts.as_deref() {
        Some(thread) if thread != message.ts => match cursor.roots.get(thread) {
            Some(root) => Some(*root),
            None => {
                counts.skip("replies whose thread start is not in the export (kept as messages)");
                None
            }
        },
        Some(_) => {
            cursor.roots.insert(message.ts.clone(), seq);
            None
        }
        None => None,
    };
    let broadcast = root.is_some() && subtype == Some("thread_broadcast");
    let reply_index = root.map(|r| {
        let n = cursor.replies.entry(r).or_default();
        *n += 1;
        *n
    });
    if root.is_none() || broadcast {
        cursor.shown += 1;
        cursor.last_shown_seq = seq;
    }
    let mentioned = crate::markdown::mentions(&body);
    let mention_all = crate::markdown::mention_all(&mentioned).map(str::to_owned);
    let by_name: HashMap<&str, i64> = people
        .usernames
        .iter()
        .filter(|(_, name)| mentioned.contains(*name))
        .map(|(id, name)| (name.as_str(), *id))
        .collect();
    for (_, id) in by_name {
        if id != user_id {
            batch
                .mentions
                .push((id, seq, if broadcast { None } else { root }));
        }
    }
    for reaction in &message.reactions {
        let name = crate::emoji::canonical(&reaction.name).unwrap_or_else(|| reaction.name.clone());
        for user in &reaction.users {
            if let Some(id) = people.users.get(user) {
                batch.reactions.push((seq, name.clone(), *id));
            }
        }
    }
    if !message.pinned_to.is_empty() {
        batch.pins.push((seq, user_id));
    }
    batch.seq.push(seq);
    batch.user_id.push(user_id);
    batch.body.push(body);
    batch.created_at.push(created_at);
    batch.edited_at.push(edited_at);
    batch.thread_root_seq.push(root);
    batch.broadcast.push(broadcast);
    batch.shown_count.push(cursor.shown);
    batch.reply_index.push(reply_index);
    batch.mention_all.push(mention_all);
    batch.sender_name.push(
        (subtype == Some("bot_message"))
            .then(|| message.username.clone())
            .flatten(),
    );
    Ok(true)
}

/// Writes a batch: its messages, then what hangs off them.
async fn flush(
    tx: &mut PgConnection,
    batch: &mut Batch,
    channel_id: i64,
    counts: &mut Summary,
) -> anyhow::Result<()> {
    if batch.len() == 0 {
        return Ok(());
    }
    let b = std::mem::take(batch);
    sqlx::query(
        "insert into messages (channel_id, seq, user_id, body, created_at, edited_at,
                               thread_root_seq, reply_broadcast, shown_count, reply_index,
                               mention_all, sender_name)
         select $1, * from unnest($2::bigint[], $3::bigint[], $4::text[], $5::timestamptz[],
                                  $6::timestamptz[], $7::bigint[], $8::boolean[], $9::bigint[],
                                  $10::integer[], $11::text[], $12::text[])",
    )
    .bind(channel_id)
    .bind(&b.seq)
    .bind(&b.user_id)
    .bind(&b.body)
    .bind(&b.created_at)
    .bind(&b.edited_at)
    .bind(&b.thread_root_seq)
    .bind(&b.broadcast)
    .bind(&b.shown_count)
    .bind(&b.reply_index)
    .bind(&b.mention_all)
    .bind(&b.sender_name)
    .execute(&mut *tx)
    .await?;
    counts.messages += b.seq.len() as u64;
    let (users, seqs, roots): (Vec<i64>, Vec<i64>, Vec<Option<i64>>) = unzip3(&b.mentions);
    sqlx::query(
        "insert into mentions (user_id, channel_id, seq, thread_root_seq)
         select m.user_id, $1, m.seq, m.root
         from unnest($2::bigint[], $3::bigint[], $4::bigint[]) as m(user_id, seq, root)
         where exists (select 1 from channel_members cm
                       where cm.channel_id = $1 and cm.user_id = m.user_id)
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(&users)
    .bind(&seqs)
    .bind(&roots)
    .execute(&mut *tx)
    .await?;
    let seqs: Vec<i64> = b.reactions.iter().map(|r| r.0).collect();
    let names: Vec<&str> = b.reactions.iter().map(|r| r.1.as_str()).collect();
    let users: Vec<i64> = b.reactions.iter().map(|r| r.2).collect();
    let added = sqlx::query(
        "insert into reactions (channel_id, seq, name, user_id, created_at)
         select $1, r.seq, r.name, r.user_id, m.created_at
         from unnest($2::bigint[], $3::text[], $4::bigint[]) as r(seq, name, user_id)
         join messages m on m.channel_id = $1 and m.seq = r.seq
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(&seqs)
    .bind(&names)
    .bind(&users)
    .execute(&mut *tx)
    .await?;
    counts.reactions += added.rows_affected();
    let seqs: Vec<i64> = b.pins.iter().map(|p| p.0).collect();
    let by: Vec<i64> = b.pins.iter().map(|p| p.1).collect();
    let pinned = sqlx::query(
        "insert into pins (channel_id, seq, pinned_by, pinned_at)
         select $1, p.seq, p.by, m.created_at
         from unnest($2::bigint[], $3::bigint[]) as p(seq, by)
         join messages m on m.channel_id = $1 and m.seq = p.seq
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(&seqs)
    .bind(&by)
    .execute(&mut *tx)
    .await?;
    counts.pins += pinned.rows_affected();
    Ok(())
}

fn unzip3(rows: &[(i64, i64, Option<i64>)]) -> (Vec<i64>, Vec<i64>, Vec<Option<i64>>) {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (a, b, c) in rows {
        out.0.push(*a);
        out.1.push(*b);
        out.2.push(*c);
    }
    out
}

/// After a conversation's messages: its counters, thread summaries and followers, everyone's
/// read point at the end (history is read), the search outbox, and Slack's archived state.
async fn finish(
    state: &AppState,
    tx: &mut PgConnection,
    cursor: &Cursor,
    first_new: i64,
    archived: bool,
) -> anyhow::Result<()> {
    let channel_id = cursor.channel_id;
    sqlx::query(
        "update channels set last_seq = $2, shown_total = $3, last_shown_seq = $4,
                archived_at = case when $5 then coalesce(archived_at, now()) else archived_at end
         where id = $1",
    )
    .bind(channel_id)
    .bind(cursor.seq)
    .bind(cursor.shown)
    .bind(cursor.last_shown_seq)
    .bind(archived)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "insert into threads (channel_id, root_seq, reply_total, reply_count, reply_users,
                              latest_reply_seq, latest_reply_at)
         select m.channel_id, m.thread_root_seq, count(*)::int,
                (count(*) filter (where m.deleted_at is null))::int,
                (select array_agg(f.user_id order by f.first)
                 from (select r.user_id, min(r.seq) as first from messages r
                       where r.channel_id = m.channel_id and r.thread_root_seq = m.thread_root_seq
                       group by r.user_id) f),
                max(m.seq), max(m.created_at)
         from messages m
         where m.channel_id = $1 and m.seq >= $2 and m.thread_root_seq is not null
         group by m.channel_id, m.thread_root_seq",
    )
    .bind(channel_id)
    .bind(first_new)
    .execute(&mut *tx)
    .await?;
    // Followers as sends make them (the root's author, repliers, people mentioned in
    // replies), each read to the end.
    sqlx::query(
        "insert into thread_follows (user_id, channel_id, root_seq, read_index)
         select distinct f.user_id, t.channel_id, t.root_seq, t.reply_total
         from threads t
         join messages r on r.channel_id = t.channel_id and r.seq = t.root_seq
         cross join lateral (
             select r.user_id
             union select unnest(t.reply_users)
             union select mn.user_id from mentions mn
                   where mn.channel_id = t.channel_id and mn.thread_root_seq = t.root_seq
         ) as f(user_id)
         where t.channel_id = $1 and t.root_seq >= $2
         on conflict do nothing",
    )
    .bind(channel_id)
    .bind(first_new)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "update channel_members set last_read_seq = greatest(last_read_seq, $2),
                read_shown = greatest(read_shown, $3)
         where channel_id = $1",
    )
    .bind(channel_id)
    .bind(cursor.seq)
    .bind(cursor.shown)
    .execute(&mut *tx)
    .await?;
    if state.search.reads_outbox() && cursor.seq >= first_new {
        sqlx::query(
            "insert into search_outbox (channel_id, seq, op)
             select $1, s, 'upsert' from generate_series($2::bigint, $3::bigint) as s",
        )
        .bind(channel_id)
        .bind(first_new)
        .bind(cursor.seq)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
