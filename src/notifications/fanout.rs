//! From a message to the people it notifies, and how each hears of it.
//!
//! The worker takes messages off `notify_outbox` in a transaction (`skip locked`, so nodes
//! share the work and none is done twice; a crash before the commit leaves them for the next
//! round), reads the members who could hear of each ([`db::recipients`]) and applies
//! [`reason`]. Then, for each person it notifies: with a socket open anywhere, a
//! `notification` frame after the commit; without one, a push to every browser they
//! subscribed and, for a DM or a mention, an item for their next mail, both written in the
//! same transaction as the outbox row's removal.

use std::time::Duration;

use serde_json::json;

use super::{Level, db};
use crate::realtime::frames::Event;
use crate::realtime::user_topic;
use crate::state::AppState;

/// Messages taken off the outbox per transaction.
const BATCH: i64 = 32;

/// Why a message notifies someone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// A message in a DM or group DM at level `all`.
    Direct,
    /// It mentions them, or says @channel or @everyone (@here mentions those online).
    Mention,
    /// A reply in a thread they follow.
    Thread,
    /// A message in a channel they set to `all`.
    Everything,
}

impl Reason {
    /// DMs and mentions are worth a mail and an urgent push.
    pub fn is_personal(self) -> bool {
        matches!(self, Reason::Direct | Reason::Mention)
    }
}

/// Whether and why the message notifies this member: never in do not disturb or at `nothing`
/// or `mute`; in a DM at `all`, every message; otherwise mentions (@channel and @everyone
/// count, for messages shown in the channel), then threads they follow, then everything shown
/// in the channel at `all`.
pub fn reason(recipient: &db::Recipient, facts: &db::MessageFacts) -> Option<Reason> {
    let level = Level::effective(recipient.notify.as_deref(), facts.kind);
    if !level.notifies() || recipient.in_dnd {
        return None;
    }
    let in_channel = facts.thread_root_seq.is_none() || facts.reply_broadcast;
    let says_all = matches!(facts.mention_all.as_deref(), Some("channel" | "everyone"));
    if facts.kind.is_dm() && level == Level::All {
        Some(Reason::Direct)
    } else if recipient.mentioned || (says_all && in_channel) {
        Some(Reason::Mention)
    } else if recipient.following {
        Some(Reason::Thread)
    } else if level == Level::All && in_channel {
        Some(Reason::Everything)
    } else {
        None
    }
}

/// What a notification says, wherever it is shown: the push payload's `{title, body, url,
/// tag}` and the desktop frame's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub title: String,
    pub body: String,
    /// Opens the message.
    pub url: String,
    /// One per conversation (or thread): a newer notification replaces the older.
    pub tag: String,
}

/// The message's text for a notification: one line, at most 180 characters.
pub fn snippet(facts: &db::MessageFacts) -> String {
    let text = facts.body.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return match facts.file_count {
            0 => "sent a message".to_owned(),
            1 => "shared a file".to_owned(),
            n => format!("shared {n} files"),
        };
    }
    if text.chars().count() <= 180 {
        return text;
    }
    let cut: String = text.chars().take(179).collect();
    format!("{}…", cut.trim_end())
}

/// The path of the message in the app: a channel message in its place, a reply in its
/// thread.
pub fn message_path(facts: &db::MessageFacts) -> String {
    let channel = crate::channels::path(&facts.workspace_slug, facts.channel_id);
    match facts.thread_root_seq {
        Some(root) if !facts.reply_broadcast => format!("{channel}?thread={root}#t-{}", facts.seq),
        _ => format!("{channel}?around={0}#m-{0}", facts.seq),
    }
}

/// Where the message happened, as a heading: `#general`, `Thread in #general`, or the
/// author of a DM.
pub fn place(facts: &db::MessageFacts) -> String {
    let channel = facts.channel_name.as_deref().map(|n| format!("#{n}"));
    match (channel, facts.thread_root_seq) {
        (Some(c), Some(_)) => format!("Thread in {c}"),
        (Some(c), None) => c,
        (None, _) if facts.kind.is_group_dm() => format!("{} (group message)", facts.author_name),
        (None, _) => facts.author_name.clone(),
    }
}

pub fn notice(facts: &db::MessageFacts, public_url: &str) -> Notice {
    let body = if !facts.notification_text {
        format!("New message from {}", facts.author_name)
    } else if facts.kind == crate::channels::ChannelKind::Dm {
        snippet(facts)
    } else {
        format!("{}: {}", facts.author_name, snippet(facts))
    };
    let tag = match facts.thread_root_seq {
        Some(root) if !facts.reply_broadcast => format!("natter-{}-{root}", facts.channel_id),
        _ => format!("natter-{}", facts.channel_id),
    };
    Notice {
        title: place(facts),
        body,
        url: format!("{public_url}{}", message_path(facts)),
        tag,
    }
}

/// Notifies everyone one message is for. The desktop frames come back to be published after
/// the commit.
async fn fan_out(
    state: &AppState,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    channel_id: i64,
    seq: i64,
) -> sqlx::Result<Vec<(i64, Event)>> {
    let Some(facts) = db::message_facts(&mut **tx, channel_id, seq).await? else {
        return Ok(Vec::new()); // deleted before anyone heard of it
    };
    let chosen: Vec<(i64, Reason, bool)> = db::recipients(&mut **tx, channel_id, seq)
        .await?
        .iter()
        .filter_map(|r| reason(r, &facts).map(|why| (r.user_id, why, r.email_notify)))
        .collect();
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = chosen.iter().map(|c| c.0).collect();
    let connected = state.realtime.presence.connected_among(&ids).await;
    let notice = notice(&facts, &state.config.public_url);
    let payload = json!({
        "title": notice.title, "body": notice.body, "url": notice.url, "tag": notice.tag,
    });
    let mut frames = Vec::new();
    let (mut push_to, mut urgencies, mut mail_to) = (Vec::new(), Vec::new(), Vec::new());
    for (user_id, why, email_notify) in chosen {
        if connected.contains(&user_id) {
            let frame = Event::Notification {
                channel_id,
                seq,
                title: notice.title.clone(),
                body: notice.body.clone(),
                url: notice.url.clone(),
                tag: notice.tag.clone(),
            };
            frames.push((user_id, frame));
            continue;
        }
        push_to.push(user_id);
        urgencies.push(if why.is_personal() { "high" } else { "normal" });
        if why.is_personal() && email_notify && state.config.notify.smtp_url.is_some() {
            mail_to.push(user_id);
        }
    }
    if !push_to.is_empty() {
        let payloads = vec![payload; push_to.len()];
        db::queue_pushes(&mut **tx, &push_to, &payloads, &urgencies).await?;
    }
    if !mail_to.is_empty() {
        let delay = state.config.notify.email_delay_secs as f64;
        db::queue_mail(&mut **tx, &mail_to, channel_id, seq, delay).await?;
    }
    Ok(frames)
}

/// One round: up to [`BATCH`] messages fanned out in one transaction. How many were taken.
async fn round(state: &AppState) -> sqlx::Result<usize> {
    let mut tx = state.db.begin().await?;
    let claimed = db::claim_outbox(&mut tx, BATCH).await?;
    let mut frames = Vec::new();
    for &(channel_id, seq) in &claimed {
        // Each message in a savepoint: one that cannot be fanned out (a row that does not
        // decode, a statement Postgres refuses) is logged and skipped rather than retried
        // forever ahead of every other; losing the connection still rolls the batch back.
        let mut one = sqlx::Acquire::begin(&mut tx).await?;
        match fan_out(state, &mut one, channel_id, seq).await {
            Ok(told) => {
                one.commit().await?;
                frames.extend(told);
            }
            Err(e @ (sqlx::Error::Database(_) | sqlx::Error::ColumnDecode { .. })) => {
                one.rollback().await?;
                tracing::error!(channel_id, seq, error = %e, "a message's notifications were skipped");
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    for (user_id, frame) in frames {
        state.realtime.publish(&user_topic(user_id), frame);
    }
    Ok(claimed.len())
}

/// The fan-out loop; runs on every node until the process ends.
pub async fn run_worker(state: AppState) {
    let mut idle = tokio::time::interval(Duration::from_millis(200));
    loop {
        match round(&state).await {
            Ok(n) if n as i64 == BATCH => continue, // more may be waiting
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot fan out notifications; retrying"),
        }
        idle.tick().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::ChannelKind;

    fn facts(kind: ChannelKind) -> db::MessageFacts {
        db::MessageFacts {
            channel_id: 7,
            seq: 42,
            kind,
            channel_name: (!kind.is_dm()).then(|| "general".to_owned()),
            workspace_slug: "acme".into(),
            workspace_name: "Acme".into(),
            notification_text: true,
            author_id: 1,
            author_name: "Alice".into(),
            body: "Lunch   at\nnoon?".into(),
            file_count: 0,
            thread_root_seq: None,
            reply_broadcast: false,
            mention_all: None,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        }
    }

    fn member(notify: Option<&str>) -> db::Recipient {
        db::Recipient {
            user_id: 2,
            notify: notify.map(str::to_owned),
            mentioned: false,
            following: false,
            in_dnd: false,
            email_notify: true,
        }
    }

    #[test]
    fn levels_decide_who_hears_of_what() {
        let channel = facts(ChannelKind::Public);
        let dm = facts(ChannelKind::Dm);
        // DMs default to all; channels to mentions.
        assert_eq!(reason(&member(None), &dm), Some(Reason::Direct));
        assert_eq!(reason(&member(None), &channel), None);
        assert_eq!(
            reason(&member(Some("all")), &channel),
            Some(Reason::Everything)
        );
        let mentioned = db::Recipient {
            mentioned: true,
            ..member(None)
        };
        assert_eq!(reason(&mentioned, &channel), Some(Reason::Mention));
        // Nothing and mute hear nothing, mentions included; neither does do not disturb.
        for quiet in ["nothing", "mute"] {
            let m = db::Recipient {
                mentioned: true,
                ..member(Some(quiet))
            };
            assert_eq!(reason(&m, &channel), None);
            assert_eq!(reason(&member(Some(quiet)), &dm), None);
        }
        let resting = db::Recipient {
            in_dnd: true,
            ..member(None)
        };
        assert_eq!(reason(&resting, &dm), None);
        // @channel reaches everyone at mentions; a reply reaches followers, not `all`.
        let everyone = db::MessageFacts {
            mention_all: Some("channel".into()),
            ..facts(ChannelKind::Public)
        };
        assert_eq!(reason(&member(None), &everyone), Some(Reason::Mention));
        let reply = db::MessageFacts {
            thread_root_seq: Some(40),
            ..facts(ChannelKind::Public)
        };
        assert_eq!(reason(&member(Some("all")), &reply), None);
        let follower = db::Recipient {
            following: true,
            ..member(None)
        };
        assert_eq!(reason(&follower, &reply), Some(Reason::Thread));
    }

    #[test]
    fn notices_open_the_message_and_hide_text_when_the_workspace_says_so() {
        let n = notice(&facts(ChannelKind::Public), "https://chat.example.com");
        assert_eq!(n.title, "#general");
        assert_eq!(n.body, "Alice: Lunch at noon?");
        assert_eq!(n.url, "https://chat.example.com/w/acme/c/7?around=42#m-42");
        assert_eq!(n.tag, "natter-7");
        let dm = notice(&facts(ChannelKind::Dm), "");
        assert_eq!(
            (dm.title.as_str(), dm.body.as_str()),
            ("Alice", "Lunch at noon?")
        );
        let private = db::MessageFacts {
            notification_text: false,
            ..facts(ChannelKind::Dm)
        };
        assert_eq!(notice(&private, "").body, "New message from Alice");
        let long = db::MessageFacts {
            body: "word ".repeat(100),
            thread_root_seq: Some(40),
            ..facts(ChannelKind::Public)
        };
        let n = notice(&long, "");
        assert_eq!(n.url, "/w/acme/c/7?thread=40#t-42");
        assert!(n.body.chars().count() <= 190 && n.body.ends_with('…'));
    }
}
