//! `natter export`: a workspace as a Slack export, so it moves to another Natter (export, then
//! import) or to anything that reads Slack's format.
//!
//! `users.json` (everyone in the workspace, with their emails), `channels.json`,
//! `groups.json`, `dms.json` and `mpims.json`, then each conversation's messages as daily
//! files (UTC days) in a folder of its own. Messages stream from Postgres a page at a time
//! into the zip, a day's file written as its messages arrive, so memory stays flat whatever
//! the workspace's size. Natter's markdown goes back to Slack's markup (`**b**` → `*b*`,
//! `@ada` → `<@U…>`, links as `<url|text>`), which the import turns back.

use std::collections::HashMap;
use std::io::{Seek, Write};
use std::path::Path;

use anyhow::{Context, anyhow};
use serde_json::{Value, json};
use sqlx::PgPool;
use time::OffsetDateTime;
use zip::ZipWriter;
use zip::write::SimpleFileOptions;

use crate::channels::ChannelKind;
use crate::integrations::ids;

/// Messages read per query.
const PAGE: i64 = 5_000;

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Written {
    pub people: u64,
    pub conversations: u64,
    pub messages: u64,
}

impl Written {
    pub fn line(&self) -> String {
        format!(
            "exported: {} people, {} conversations, {} messages",
            self.people, self.conversations, self.messages
        )
    }
}

#[derive(sqlx::FromRow)]
struct Person {
    id: i64,
    username: String,
    display_name: String,
    email: String,
    is_bot: bool,
    title: String,
    time_zone: Option<String>,
    deleted: bool,
}

#[derive(sqlx::FromRow)]
struct Conversation {
    id: i64,
    kind: ChannelKind,
    name: Option<String>,
    topic: String,
    is_general: bool,
    archived: bool,
    created_at: OffsetDateTime,
    members: Vec<i64>,
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i64,
    user_id: i64,
    body: String,
    created_at: OffsetDateTime,
    edited_at: Option<OffsetDateTime>,
    thread_root_seq: Option<i64>,
    reply_broadcast: bool,
    sender_name: Option<String>,
    reply_count: Option<i32>,
    pinned: bool,
    /// `[{name, users}]`
    reactions: Option<Value>,
}

/// Slack's `ts` of a time: seconds and microseconds.
fn ts_of(at: OffsetDateTime) -> String {
    let micros = at.unix_timestamp_nanos() / 1000;
    format!(
        "{}.{:06}",
        micros.div_euclid(1_000_000),
        micros.rem_euclid(1_000_000)
    )
}

/// Writes the workspace `slug` to `out` as a Slack export.
pub async fn run(db: &PgPool, slug: &str, out: &Path) -> anyhow::Result<Written> {
    let workspace: (i64, String) =
        sqlx::query_as("select id, name from workspaces where slug = $1")
            .bind(slug)
            .fetch_optional(db)
            .await?
            .ok_or_else(|| anyhow!("there is no workspace {slug:?}"))?;
    let file = std::fs::File::create(out)
        .with_context(|| format!("{} cannot be written", out.display()))?;
    let mut zip = ZipWriter::new(std::io::BufWriter::new(file));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let mut written = Written::default();

    let people: Vec<Person> = sqlx::query_as(
        "select u.id, u.username, u.display_name, u.email, u.is_bot, u.title, u.time_zone,
                (u.deactivated_at is not null or wm.deactivated_at is not null) as deleted
         from workspace_members wm join users u on u.id = wm.user_id
         where wm.workspace_id = $1 order by u.id",
    )
    .bind(workspace.0)
    .fetch_all(db)
    .await?;
    let usernames: HashMap<String, i64> =
        people.iter().map(|p| (p.username.clone(), p.id)).collect();
    let users: Vec<Value> = people
        .iter()
        .map(|p| {
            json!({
                "id": ids::user_id(p.id),
                "team_id": ids::team_id(workspace.0),
                "name": p.username,
                "real_name": p.display_name,
                "deleted": p.deleted,
                "is_bot": p.is_bot,
                "tz": p.time_zone.as_deref().unwrap_or("UTC"),
                "profile": {
                    "real_name": p.display_name,
                    "display_name": p.display_name,
                    "email": p.email,
                    "title": p.title,
                },
            })
        })
        .collect();
    written.people = users.len() as u64;
    entry(&mut zip, "users.json", options, &Value::Array(users))?;

    let conversations: Vec<Conversation> = sqlx::query_as(
        "select c.id, c.kind, c.name, c.topic, c.is_general, c.archived_at is not null as archived,
                c.created_at,
                coalesce((select array_agg(cm.user_id order by cm.user_id) from channel_members cm
                          where cm.channel_id = c.id), '{}') as members
         from channels c where c.workspace_id = $1 order by c.id",
    )
    .bind(workspace.0)
    .fetch_all(db)
    .await?;
    // Slack names a group DM's folder after its members.
    let by_id: HashMap<i64, &str> = people.iter().map(|p| (p.id, p.username.as_str())).collect();
    let folder_of = |c: &Conversation| -> String {
        match c.kind {
            ChannelKind::Public | ChannelKind::Private => c.name.clone().unwrap_or_default(),
            ChannelKind::Dm => ids::channel_id(c.kind, c.id),
            ChannelKind::GroupDm => format!(
                "mpdm-{}-1",
                c.members
                    .iter()
                    .filter_map(|m| by_id.get(m))
                    .copied()
                    .collect::<Vec<_>>()
                    .join("--")
            ),
        }
    };
    for (file, kind) in [
        ("channels.json", ChannelKind::Public),
        ("groups.json", ChannelKind::Private),
        ("dms.json", ChannelKind::Dm),
        ("mpims.json", ChannelKind::GroupDm),
    ] {
        let listed: Vec<Value> = conversations
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| {
                let members: Vec<String> = c.members.iter().map(|m| ids::user_id(*m)).collect();
                let mut value = json!({
                    "id": ids::channel_id(c.kind, c.id),
                    "created": c.created_at.unix_timestamp(),
                    "members": members,
                });
                if c.kind != ChannelKind::Dm {
                    value["name"] = json!(folder_of(c));
                }
                if matches!(c.kind, ChannelKind::Public | ChannelKind::Private) {
                    value["is_general"] = json!(c.is_general);
                    value["is_archived"] = json!(c.archived);
                    value["topic"] = json!({ "value": c.topic });
                    value["purpose"] = json!({ "value": "" });
                }
                value
            })
            .collect();
        entry(&mut zip, file, options, &Value::Array(listed))?;
    }

    for conversation in &conversations {
        let folder = folder_of(conversation);
        written.messages +=
            messages(db, &mut zip, options, conversation, &folder, &usernames).await?;
        written.conversations += 1;
    }
    zip.finish()?.flush()?;
    Ok(written)
}

fn entry<W: Write + Seek>(
    zip: &mut ZipWriter<W>,
    name: &str,
    options: SimpleFileOptions,
    value: &Value,
) -> anyhow::Result<()> {
    zip.start_file(name, options)?;
    serde_json::to_writer_pretty(&mut *zip, value)?;
    Ok(())
}

/// One conversation's messages, page by page, into daily files.
async fn messages<W: Write + Seek>(
    db: &PgPool,
    zip: &mut ZipWriter<W>,
    options: SimpleFileOptions,
    conversation: &Conversation,
    folder: &str,
    usernames: &HashMap<String, i64>,
) -> anyhow::Result<u64> {
    let channel_ts = ids::channel_id(conversation.kind, conversation.id);
    let mut after = 0;
    let mut day: Option<time::Date> = None;
    let mut count = 0;
    // A root's seq → its ts, for replies' `thread_ts`.
    let mut roots: HashMap<i64, String> = HashMap::new();
    let mut last_micros = i128::MIN;
    loop {
        let page: Vec<Row> = sqlx::query_as(
            "select m.seq, m.user_id, m.body, m.created_at, m.edited_at, m.thread_root_seq,
                    m.reply_broadcast, m.sender_name, t.reply_count,
                    exists (select 1 from pins p where p.channel_id = m.channel_id and p.seq = m.seq) as pinned,
                    (select json_agg(json_build_object('name', g.name, 'users', g.users))
                     from (select r.name, array_agg(r.user_id order by r.created_at) as users
                           from reactions r where r.channel_id = m.channel_id and r.seq = m.seq
                           group by r.name order by min(r.created_at)) g) as reactions
             from messages m
             left join threads t on t.channel_id = m.channel_id and t.root_seq = m.seq
             where m.channel_id = $1 and m.seq > $2 and m.deleted_at is null
             order by m.seq limit $3",
        )
        .bind(conversation.id)
        .bind(after)
        .bind(PAGE)
        .fetch_all(db)
        .await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for row in page {
            let date = row.created_at.date();
            if day != Some(date) {
                if day.is_some() {
                    zip.write_all(b"\n]\n")?;
                }
                zip.start_file(format!("{folder}/{date}.json"), options)?;
                zip.write_all(b"[\n")?;
                day = Some(date);
            } else {
                zip.write_all(b",\n")?;
            }
            // Slack's ts is a conversation's key for a message: two messages of one
            // microsecond get distinct ones.
            let micros = (row.created_at.unix_timestamp_nanos() / 1000).max(last_micros + 1);
            last_micros = micros;
            let ts = format!(
                "{}.{:06}",
                micros.div_euclid(1_000_000),
                micros.rem_euclid(1_000_000)
            );
            let mut message = json!({
                "type": "message",
                "user": ids::user_id(row.user_id),
                "text": to_mrkdwn(&row.body, usernames),
                "ts": ts,
            });
            if let Some(name) = &row.sender_name {
                message["subtype"] = json!("bot_message");
                message["username"] = json!(name);
            }
            match row.thread_root_seq {
                Some(root) => {
                    if let Some(root_ts) = roots.get(&root) {
                        message["thread_ts"] = json!(root_ts);
                    }
                    if row.reply_broadcast {
                        message["subtype"] = json!("thread_broadcast");
                    }
                }
                None if row.reply_count.unwrap_or(0) > 0 => {
                    message["thread_ts"] = json!(ts);
                    message["reply_count"] = json!(row.reply_count);
                    roots.insert(row.seq, ts.clone());
                }
                None => {}
            }
            if let Some(edited) = row.edited_at {
                message["edited"] =
                    json!({ "user": ids::user_id(row.user_id), "ts": ts_of(edited) });
            }
            if row.pinned {
                message["pinned_to"] = json!([channel_ts]);
            }
            if let Some(Value::Array(groups)) = row.reactions {
                let reactions: Vec<Value> = groups
                    .into_iter()
                    .map(|g| {
                        let users: Vec<String> = g["users"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_i64)
                            .map(ids::user_id)
                            .collect();
                        json!({ "name": g["name"], "count": users.len(), "users": users })
                    })
                    .collect();
                message["reactions"] = json!(reactions);
            }
            serde_json::to_writer(&mut *zip, &message)?;
            count += 1;
        }
    }
    if day.is_some() {
        zip.write_all(b"\n]\n")?;
    }
    Ok(count)
}

/// Natter's markdown as Slack's markup: the inverse of the import's translation for what
/// markdown and mrkdwn share.
pub fn to_mrkdwn(body: &str, usernames: &HashMap<String, i64>) -> String {
    let mut out = String::with_capacity(body.len() + 16);
    let mut in_code = false;
    let mut rest = body;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("```") {
            in_code = !in_code;
            out.push_str("```");
            rest = &rest[3..];
            continue;
        }
        if in_code {
            out.push(c);
            rest = &rest[c.len_utf8()..];
            continue;
        }
        if c == '`' {
            // A code span goes through as it is.
            if let Some(end) = rest[1..].find('`') {
                out.push_str(&rest[..end + 2]);
                rest = &rest[end + 2..];
                continue;
            }
        }
        if let Some(inner) = rest.strip_prefix("**")
            && let Some(end) = inner.find("**")
        {
            out.push('*');
            out.push_str(&escape(&inner[..end]));
            out.push('*');
            rest = &inner[end + 2..];
            continue;
        }
        if let Some(inner) = rest.strip_prefix("~~")
            && let Some(end) = inner.find("~~")
        {
            out.push('~');
            out.push_str(&escape(&inner[..end]));
            out.push('~');
            rest = &inner[end + 2..];
            continue;
        }
        if c == '['
            && let Some(close) = rest.find("](")
            && let Some(end) = rest[close..].find(')')
        {
            let (label, url) = (&rest[1..close], &rest[close + 2..close + end]);
            if url.starts_with("http://")
                || url.starts_with("https://")
                || url.starts_with("mailto:")
            {
                out.push_str(&format!("<{url}|{}>", escape(label)));
                rest = &rest[close + end + 1..];
                continue;
            }
        }
        if c == '@' && out.chars().last().is_none_or(|p| !p.is_alphanumeric()) {
            let name: String = rest[1..]
                .chars()
                .take_while(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '.' | '_' | '-'))
                .collect();
            let name = name.trim_end_matches(['.', '-', '_']);
            if matches!(name, "here" | "channel" | "everyone") {
                out.push_str(&format!("<!{name}>"));
                rest = &rest[1 + name.len()..];
                continue;
            }
            if let Some(id) = usernames.get(name) {
                out.push_str(&format!("<@{}>", ids::user_id(*id)));
                rest = &rest[1 + name.len()..];
                continue;
            }
        }
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use crate::integrations::mrkdwn;

    #[test]
    fn markdown_goes_to_mrkdwn_and_back() {
        let names = HashMap::from([("ada".to_owned(), 7_i64)]);
        let back = HashMap::from([(7_i64, "ada".to_owned())]);
        for text in [
            "**bold** _it_ ~~gone~~",
            "hi @ada and @here: see [the docs](https://x.io/a?b=1)",
            "a <b> & c",
            "`*not bold*` and 2*3*4",
            "```\nlet a = b < c;\n```",
        ] {
            let slack = super::to_mrkdwn(text, &names);
            assert_eq!(mrkdwn::to_markdown(&slack, &back), text, "{slack}");
        }
        assert_eq!(super::to_mrkdwn("hi @ada", &names), "hi <@U7>");
    }
}
