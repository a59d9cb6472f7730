//! Search: one interface, two real backends.
//!
//! With `MEILI_URL`, Meilisearch (`index::meili`), fed through a transactional outbox; without it,
//! Postgres full-text search (a GIN index over a stored tsvector, `websearch_to_tsquery`,
//! `ts_headline`). The query language ([`query`]) and the
//! authorization are the same for both: every search is limited to the asker's workspace and
//! the channels they may read (public ones, and the private channels and DMs they are in),
//! computed from Postgres at query time. `in:#channel` can only narrow that set, so guessing a
//! private channel's name finds nothing and says so exactly as for a channel that does not exist.

pub mod db;
mod handlers;
pub mod query;

use std::collections::HashMap;

use axum::Router;
use axum::routing::get;
use time::{Duration, OffsetDateTime, Time};

use crate::channels::ChannelKind;
use crate::error::AppError;
use crate::index::{Backend, meili};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/w/{slug}/search", get(handlers::page))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Newest,
    BestMatch,
}

/// One found message, as the reader may see it.
#[derive(Clone, Debug)]
pub struct Hit {
    pub channel_id: i64,
    /// "#general", or "Direct message".
    pub channel_label: String,
    pub channel_kind: ChannelKind,
    pub seq: i64,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub created_at: OffsetDateTime,
    /// Escaped text with `<mark>` around the matches.
    pub snippet_html: String,
    pub text: String,
    /// A reply's root: the result opens its thread.
    pub thread_root_seq: Option<i64>,
}

impl Hit {
    /// Where a result leads: the message in its channel, or its thread beside the channel.
    pub fn href(&self, slug: &str) -> String {
        let (channel, seq) = (self.channel_id, self.seq);
        match self.thread_root_seq {
            Some(root) => format!("/w/{slug}/c/{channel}?thread={root}#t-{seq}"),
            None => format!("/w/{slug}/c/{channel}?around={seq}#m-{seq}"),
        }
    }
}

pub struct Results {
    pub hits: Vec<Hit>,
    /// Matches, counted up to [`db::COUNT_CAP`].
    pub total: i64,
    /// There are more matches than were counted: shown as "1000+".
    pub more: bool,
    pub page: i64,
    pub per_page: i64,
}

impl Results {
    pub fn pages(&self) -> i64 {
        (self.total + self.per_page - 1) / self.per_page.max(1)
    }
}

/// Searches the workspace as `user_id`. A query naming an unknown person or channel, or an
/// unreadable date, is a [`AppError::Validation`] that says which.
pub async fn search(
    state: &AppState,
    workspace_id: i64,
    user_id: i64,
    input: &str,
    sort: Sort,
    page: i64,
    per_page: i64,
) -> Result<Results, AppError> {
    state.search_limiter.check(user_id)?;
    let q = query::parse(input).map_err(AppError::Validation)?;
    if q.is_empty() {
        return Err(AppError::Validation("Type something to search for.".into()));
    }
    let readable = db::readable_channels(&state.db, workspace_id, user_id).await?;
    let names: HashMap<i64, (String, ChannelKind)> = readable
        .iter()
        .map(|(id, name, kind)| (*id, (name.clone(), *kind)))
        .collect();
    let mut channel_ids: Vec<i64> = readable.iter().map(|(id, _, _)| *id).collect();
    if !q.channels.is_empty() {
        let mut wanted = Vec::new();
        for name in &q.channels {
            match readable.iter().find(|(_, n, _)| n == name) {
                Some((id, _, _)) => wanted.push(*id),
                None => {
                    return Err(AppError::Validation(format!(
                        "You have no channel named #{name} to search."
                    )));
                }
            }
        }
        channel_ids = wanted;
    }
    let mut user_ids = Vec::new();
    if !q.from.is_empty() {
        let found = db::user_ids_by_username(&state.db, workspace_id, &q.from).await?;
        for name in &q.from {
            match found.iter().find(|(_, u)| u == name) {
                Some((id, _)) => user_ids.push(*id),
                None => {
                    return Err(AppError::Validation(format!(
                        "Nobody in this workspace has the username @{name}."
                    )));
                }
            }
        }
    }
    let midnight = |d: time::Date| d.with_time(Time::MIDNIGHT).assume_utc();
    let mut before = q.before.map(midnight);
    let mut after = q.after.map(|d| midnight(d) + Duration::days(1));
    if let Some(day) = q.on {
        after = Some(after.map_or(midnight(day), |a| a.max(midnight(day))));
        before = Some(before.map_or(midnight(day) + Duration::days(1), |b| {
            b.min(midnight(day) + Duration::days(1))
        }));
    }
    let page = page.max(1);
    let text = q.text();
    let filters = db::Filters {
        channel_ids: &channel_ids,
        text: &text,
        user_ids: &user_ids,
        before,
        after,
        has_link: q.has_link,
        has_file: q.has_file,
        in_thread: q.in_thread,
        best_match: sort == Sort::BestMatch,
        limit: per_page,
        offset: (page - 1) * per_page,
    };
    let (rows, total) = match state.search.as_ref() {
        Backend::Postgres => {
            let rows = db::search(&state.search_db, &filters).await.map_err(|e| {
                if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("57014") {
                    AppError::Validation(
                        "That search took too long. Add words, a person or a channel to narrow it."
                            .into(),
                    )
                } else {
                    e.into()
                }
            })?;
            let total = rows.first().map_or(0, |r| r.total);
            (rows, total)
        }
        Backend::Meili(meili) => meili_search(state, meili, workspace_id, &filters).await?,
    };
    // Every row comes from a readable channel (the query was limited to them); one that does
    // not is never shown.
    let hits = rows
        .into_iter()
        .filter_map(|r| {
            let (name, kind) = names.get(&r.channel_id)?;
            Some((r, name, *kind))
        })
        .map(|(r, name, channel_kind)| Hit {
            channel_label: if name.is_empty() {
                "Direct message".to_owned()
            } else {
                format!("#{name}")
            },
            channel_kind,
            channel_id: r.channel_id,
            seq: r.seq,
            user_id: r.user_id,
            username: r.username,
            display_name: r.display_name,
            created_at: r.created_at,
            snippet_html: marked_snippet(&crate::emoji::emojify(&r.snippet)),
            text: r.body,
            thread_root_seq: r.thread_root_seq,
        })
        .collect();
    Ok(Results {
        hits,
        total: total.min(db::COUNT_CAP),
        more: total > db::COUNT_CAP,
        page,
        per_page,
    })
}

/// The same search on Meilisearch: the filter carries the authorization; the rows shown come
/// from Postgres, so a message deleted a moment ago is never shown.
async fn meili_search(
    state: &AppState,
    meili: &meili::Meili,
    workspace_id: i64,
    f: &db::Filters<'_>,
) -> Result<(Vec<db::Row>, i64), AppError> {
    if f.channel_ids.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let join = |ids: &[i64]| {
        ids.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut filter = format!(
        "workspace_id = {workspace_id} AND channel_id IN [{}]",
        join(f.channel_ids)
    );
    if !f.user_ids.is_empty() {
        filter.push_str(&format!(" AND user_id IN [{}]", join(f.user_ids)));
    }
    if let Some(before) = f.before {
        filter.push_str(&format!(" AND created_at < {}", before.unix_timestamp()));
    }
    if let Some(after) = f.after {
        filter.push_str(&format!(" AND created_at >= {}", after.unix_timestamp()));
    }
    if f.has_link {
        filter.push_str(" AND has_link = true");
    }
    if f.in_thread {
        filter.push_str(" AND is_reply = true");
    }
    if f.has_file {
        filter.push_str(" AND has_file = true");
    }
    let page = (f.offset / f.limit.max(1) + 1) as usize;
    let (hits, total) = meili
        .search(
            f.text,
            &filter,
            !f.best_match || f.text.is_empty(),
            page,
            f.limit as usize,
        )
        .await
        .map_err(|e| AppError::Internal(e.context("Meilisearch search failed")))?;
    let keys: Vec<(i64, i64)> = hits.iter().map(|(c, s, _)| (*c, *s)).collect();
    let mut rows = db::rows_for(&state.db, &keys).await?;
    for row in &mut rows {
        if let Some((_, _, snippet)) = hits
            .iter()
            .find(|(c, s, _)| *c == row.channel_id && *s == row.seq)
        {
            row.snippet = snippet.clone();
        }
    }
    rows.sort_by_key(|r| keys.iter().position(|k| *k == (r.channel_id, r.seq)));
    Ok((rows, total))
}

/// Escapes a snippet and turns the `\u{1}`…`\u{2}` match markers into `<mark>`.
fn marked_snippet(snippet: &str) -> String {
    let mut out = String::with_capacity(snippet.len() + 32);
    for c in snippet.chars() {
        match c {
            '\u{1}' => out.push_str("<mark>"),
            '\u{2}' => out.push_str("</mark>"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_payload_of_the_xss_corpus_stays_inert_as_a_snippet() {
        for payload in crate::markdown::xss_corpus() {
            // As Postgres's ts_headline marks a match: around any word, or the whole text.
            let marked = format!(
                "\u{1}{payload}\u{2} and {}",
                payload.replace(' ', "\u{1} \u{2}")
            );
            let html = super::marked_snippet(&marked);
            assert_eq!(
                crate::markdown::check_inert(&html),
                Ok(()),
                "{payload:?}: {html}"
            );
        }
    }

    #[test]
    fn snippets_are_escaped_and_marked() {
        assert_eq!(
            super::marked_snippet("<b>\u{1}invoice\u{2}</b> & co"),
            "&lt;b&gt;<mark>invoice</mark>&lt;/b&gt; &amp; co"
        );
    }
}
