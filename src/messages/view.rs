//! Messages as the page shows them: author, time, rendered body, and how they group.
//!
//! The same [`MessageView`] feeds `templates/messages/_message.html`, the one partial every
//! message is drawn with.

use askama::Template;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;

use super::db::{self, MessageRow};
use crate::channels::Channel;
use crate::markdown;

/// Consecutive messages by one author within this many seconds share one header.
const GROUP_SECS: i64 = 5 * 60;

pub struct MessageView {
    pub seq: i64,
    pub user_id: i64,
    pub author_name: String,
    pub author_username: String,
    pub is_bot: bool,
    /// An integration's icon, served from `/icons/<key>` once the server has fetched it.
    pub icon_key: Option<String>,
    /// An integration named this message's sender itself: the author's own name, picture
    /// and status are not shown (nor swapped in live).
    pub sender_named: bool,
    /// The author's picture ([`crate::auth::avatar::url`]).
    pub avatar_key: Option<String>,
    /// The author's status beside their name: the emoji itself and its text, "" for none.
    pub status_glyph: String,
    pub status_text: String,
    pub html: String,
    /// RFC 3339, for `<time datetime>`; scripts show it in the reader's time zone.
    pub created_at: String,
    /// "14:05" in UTC, for readers without scripts.
    pub time_label: String,
    /// Set on the first message of a day: "Friday, November 27".
    pub day_label: String,
    pub edited: bool,
    pub deleted: bool,
    pub mine: bool,
    /// The reader is an owner or admin, who may delete anyone's message.
    pub moderate: bool,
    /// Follows a message by the same author a moment earlier: drawn without a header.
    pub continued: bool,
    /// The message a search result points at.
    pub highlight: bool,
    /// The channel's URL, for the edit and delete forms.
    pub base_path: String,
    pub csrf: String,
    /// A reply's root; `None` for a top-level message.
    pub thread_root_seq: Option<i64>,
    /// A reply also shown in the channel.
    pub broadcast: bool,
    /// A reply's place in its thread.
    pub reply_index: i32,
    /// On a root: "3 replies", the first repliers (hue and initials) and the newest reply's time.
    pub reply_count: i32,
    pub repliers: Vec<(i64, String)>,
    pub latest_reply_at: String,
    pub latest_reply_label: String,
    /// Grouped by emoji, in the order first used.
    pub reactions: Vec<ReactionView>,
    pub pinned: bool,
    /// Saved by the reader.
    pub saved: bool,
    /// Drawn in a thread panel: no "Reply in thread" of its own.
    pub in_thread: bool,
    /// The files it shares: images and video inline, the rest as cards.
    pub files: Vec<crate::files::FileRef>,
    /// Link previews, unless its author removed them.
    pub previews: Vec<db::Preview>,
}

/// One emoji's reactions on a message, as the reader sees them.
pub struct ReactionView {
    pub name: String,
    pub glyph: String,
    pub count: i64,
    /// The reader is among them (the chip is pressed).
    pub mine: bool,
    /// "Ada, Bob and 3 others reacted with :tada:".
    pub title: String,
}

impl MessageView {
    pub fn initials(&self) -> String {
        crate::auth::profile::initials(&self.author_name)
    }

    /// One of twelve avatar colours, stable per author (`.hue-0` … `.hue-11` in the CSS;
    /// inline styles are forbidden by the Content-Security-Policy).
    pub fn hue(&self) -> i64 {
        self.user_id.rem_euclid(12)
    }

    /// The author's profile (the card opens from it).
    pub fn profile_href(&self) -> String {
        format!("/people/{}", self.user_id)
    }

    /// Where "N replies" leads: the channel with this thread open beside it.
    pub fn thread_href(&self) -> String {
        format!(
            "{}?thread={}",
            self.base_path,
            self.thread_root_seq.unwrap_or(self.seq)
        )
    }

    pub fn replies_label(&self) -> String {
        replies_label(self.reply_count)
    }

    /// Its "N replies" line's content alone.
    pub fn summary(self) -> SummaryView {
        SummaryView {
            seq: self.seq,
            reply_count: self.reply_count,
            repliers: self.repliers,
            latest_reply_at: self.latest_reply_at,
            latest_reply_label: self.latest_reply_label,
        }
    }
}

/// A root's "N replies" line on its own: `thread.updated` frames carry it.
#[derive(Template)]
#[template(path = "messages/_thread_summary.html")]
pub struct ThreadSummary<'a> {
    pub message: &'a SummaryView,
}

/// What a root's "N replies" line shows; the fields and methods the partial reads, named as
/// on [`MessageView`], whose partial includes it too.
pub struct SummaryView {
    pub seq: i64,
    pub reply_count: i32,
    pub repliers: Vec<(i64, String)>,
    pub latest_reply_at: String,
    pub latest_reply_label: String,
}

impl SummaryView {
    /// From what a reply's send statement returned about its thread.
    pub fn of_news(root_seq: i64, news: &super::ThreadNews) -> Self {
        Self {
            seq: root_seq,
            reply_count: news.reply_count,
            repliers: news
                .repliers
                .iter()
                .map(|(id, name)| (id.rem_euclid(12), crate::auth::profile::initials(name)))
                .collect(),
            latest_reply_at: news
                .latest_reply_at
                .and_then(|t| t.format(&Rfc3339).ok())
                .unwrap_or_default(),
            latest_reply_label: news
                .latest_reply_at
                .and_then(|t| t.format(format_description!("[hour]:[minute]")).ok())
                .unwrap_or_default(),
        }
    }

    /// Relative to the channel's page, where the line is shown.
    pub fn thread_href(&self) -> String {
        format!("?thread={}", self.seq)
    }

    pub fn replies_label(&self) -> String {
        replies_label(self.reply_count)
    }
}

fn replies_label(count: i32) -> String {
    match count {
        1 => "1 reply".to_owned(),
        n => format!("{n} replies"),
    }
}

/// The partial, rendered on its own (for scripts that insert one message).
#[derive(Template)]
#[template(path = "messages/_message.html")]
pub struct MessagePartial<'a> {
    pub message: &'a MessageView,
}

fn view(row: MessageRow, me: i64, base_path: &str, csrf: &str) -> MessageView {
    let repliers = row
        .message
        .reply_users
        .iter()
        .zip(row.replier_names.iter().flatten())
        .map(|(id, name)| (id.rem_euclid(12), crate::auth::profile::initials(name)))
        .collect();
    let files = row.files.map(|f| f.0).unwrap_or_default();
    let m = row.message;
    let previews = match (&m.previews, m.previews_off || m.deleted_at.is_some()) {
        (Some(cards), false) => cards.0.clone(),
        _ => Vec::new(),
    };
    let html = if m.deleted_at.is_some() {
        String::new()
    } else {
        markdown::render(&m.body).html
    };
    MessageView {
        seq: m.seq,
        user_id: m.user_id,
        author_name: row.display_name,
        author_username: row.username,
        is_bot: row.is_bot,
        icon_key: row.icon_key,
        sender_named: row.sender_name.is_some(),
        avatar_key: row.avatar_key,
        status_glyph: crate::emoji::glyph(row.status_emoji.trim_matches(':'))
            .unwrap_or_default()
            .to_owned(),
        status_text: row.status_text,
        html,
        created_at: m.created_at.format(&Rfc3339).unwrap_or_default(),
        time_label: m
            .created_at
            .format(format_description!("[hour]:[minute]"))
            .unwrap_or_default(),
        day_label: String::new(),
        edited: m.edited_at.is_some(),
        deleted: m.deleted_at.is_some(),
        mine: m.user_id == me,
        moderate: false,
        continued: false,
        highlight: false,
        base_path: base_path.to_owned(),
        csrf: csrf.to_owned(),
        thread_root_seq: m.thread_root_seq,
        broadcast: m.reply_broadcast,
        reply_index: m.reply_index.unwrap_or(0),
        reply_count: m.reply_count,
        repliers,
        latest_reply_at: m
            .latest_reply_at
            .and_then(|t| t.format(&Rfc3339).ok())
            .unwrap_or_default(),
        latest_reply_label: m
            .latest_reply_at
            .and_then(|t| t.format(format_description!("[hour]:[minute]")).ok())
            .unwrap_or_default(),
        reactions: Vec::new(),
        pinned: false,
        saved: false,
        in_thread: false,
        files: if m.deleted_at.is_some() {
            Vec::new()
        } else {
            files
        },
        previews,
    }
}

/// Adds what is kept beside each message (reactions, pins, the reader's saves) to views of one
/// channel: three indexed reads for the whole page.
pub async fn decorate(
    pool: &PgPool,
    channel_id: i64,
    views: &mut [MessageView],
    me: i64,
) -> sqlx::Result<()> {
    let seqs: Vec<i64> = views.iter().map(|v| v.seq).collect();
    if seqs.is_empty() {
        return Ok(());
    }
    let mut reactions = super::reactions::on_messages(pool, channel_id, &seqs).await?;
    let marks = super::reactions::marks(pool, channel_id, &seqs, me).await?;
    for v in views.iter_mut() {
        if let Some(groups) = reactions.remove(&v.seq) {
            v.reactions = groups.into_iter().map(|g| g.view(me)).collect();
        }
        if let Some(&(pinned, saved)) = marks.get(&v.seq) {
            v.pinned = pinned;
            v.saved = saved;
        }
    }
    Ok(())
}

/// One page of history ending before `before` (the newest page when `None`), and the seq to
/// page back from for older messages (0 at the beginning of the channel).
pub async fn load_page(
    pool: &PgPool,
    channel: &Channel,
    before: Option<i64>,
    limit: i64,
    me: i64,
    base_path: &str,
    csrf: &str,
) -> sqlx::Result<(Vec<MessageView>, i64)> {
    let before = before
        .unwrap_or(channel.last_seq + 1)
        .clamp(1, channel.last_seq + 1);
    let rows = db::history_before(pool, channel.id, before, limit).await?;
    let older_before = rows.first().map_or(0, |r| r.message.seq);
    let older_before = if older_before > 1 { older_before } else { 0 };
    let mut views = grouped(rows, me, base_path, csrf);
    decorate(pool, channel.id, &mut views, me).await?;
    Ok((views, older_before))
}

/// The messages around `seq` (half a page each side), with that one highlighted: where a
/// search result lands. Also returns the seq to page back from (0 at the beginning).
pub async fn load_around(
    pool: &PgPool,
    channel: &Channel,
    seq: i64,
    half: i64,
    me: i64,
    base_path: &str,
    csrf: &str,
) -> sqlx::Result<(Vec<MessageView>, i64)> {
    let rows = db::shown_range(
        pool,
        channel.id,
        (seq - half - 1).max(0),
        seq + half,
        half * 2 + 1,
    )
    .await?;
    let older_before = rows.first().map_or(0, |r| r.message.seq);
    let older_before = if older_before > 1 { older_before } else { 0 };
    let mut views = grouped(rows, me, base_path, csrf);
    decorate(pool, channel.id, &mut views, me).await?;
    for v in &mut views {
        v.highlight = v.seq == seq;
    }
    Ok((views, older_before))
}

/// Views of consecutive rows, with day labels and an author's run of messages grouped.
fn grouped(rows: Vec<MessageRow>, me: i64, base_path: &str, csrf: &str) -> Vec<MessageView> {
    let mut views = Vec::with_capacity(rows.len());
    let mut previous: Option<(i64, OffsetDateTime, bool)> = None;
    for row in rows {
        let (author, at, deleted) = (
            row.message.user_id,
            row.message.created_at,
            row.message.deleted_at.is_some(),
        );
        let mut v = view(row, me, base_path, csrf);
        let new_day = previous.is_none_or(|(_, prev_at, _)| prev_at.date() != at.date());
        if new_day {
            v.day_label = at
                .format(format_description!(
                    "[weekday], [month repr:long] [day padding:none], [year]"
                ))
                .unwrap_or_default();
        }
        v.continued = !new_day
            && previous.is_some_and(|(prev_author, prev_at, prev_deleted)| {
                prev_author == author
                    && !prev_deleted
                    && !deleted
                    && (at - prev_at).whole_seconds() < GROUP_SECS
            });
        previous = Some((author, at, deleted));
        views.push(v);
    }
    views
}

/// One message as the viewer sees it, if it exists.
pub async fn load_one(
    pool: &PgPool,
    channel_id: i64,
    seq: i64,
    me: i64,
    base_path: &str,
    csrf: &str,
) -> sqlx::Result<Option<MessageView>> {
    let Some(row) = db::message(pool, channel_id, seq).await? else {
        return Ok(None);
    };
    let mut views = [view(row, me, base_path, csrf)];
    decorate(pool, channel_id, &mut views, me).await?;
    let [one] = views;
    Ok(Some(one))
}

/// A thread as the panel shows it: the root, then its replies in order, grouped like the
/// channel. `None` when the root is not a top-level message of this channel.
pub async fn load_thread(
    pool: &PgPool,
    channel_id: i64,
    root_seq: i64,
    me: i64,
    base_path: &str,
    csrf: &str,
) -> sqlx::Result<Option<Vec<MessageView>>> {
    let rows = db::thread(pool, channel_id, root_seq, 0, 1001).await?;
    if rows.first().is_none_or(|r| r.message.seq != root_seq) {
        return Ok(None);
    }
    let mut views = grouped(rows, me, base_path, csrf);
    decorate(pool, channel_id, &mut views, me).await?;
    for v in &mut views {
        v.in_thread = true;
    }
    Ok(Some(views))
}

/// A message as every reader sees it, without anyone's edit or delete actions: the `html` of
/// live events, which reach many people at once. Scripts add the actions to one's own.
pub fn shared_view(row: MessageRow) -> MessageView {
    view(row, 0, "", "")
}
