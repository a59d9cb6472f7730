//! Link previews: a card (title, description, image, site) under a message for the first links
//! in it, as Slack unfurls them.
//!
//! The send statement writes a `preview_outbox` row for a message with links (unless its
//! author said `unfurl_links: false` or the workspace turned previews off), so a preview is
//! owed exactly when the message exists, and sending never waits for someone else's server.
//! A worker on every node claims rows (`for update skip locked`), fetches each page through
//! [`crate::outbound`] (the private-address guard with the address pinned, redirects checked
//! hop by hop, five seconds and 2 MiB at most), reads its Open Graph tags, fetches the image
//! the way integration icons are fetched (served from `/icons/<key>`, never hot-linked), and
//! attaches the cards to the message, published live as `message.updated`. A URL's card is
//! kept a day in `link_previews`, so a link posted by many is fetched once.

use std::time::Duration;

use sqlx::PgExecutor;
use sqlx::types::Json;

use super::icons;
use crate::messages::db::Preview;
use crate::outbound::Request;
use crate::state::AppState;

/// Links previewed per message (as Slack: the first few).
pub const MAX_LINKS: usize = 3;
/// The most of a page read.
const MAX_PAGE: usize = 2 * 1024 * 1024;
/// The most of a preview's image kept.
const MAX_IMAGE: usize = 1024 * 1024;
/// A failed message is tried again this many times, then left without previews.
const MAX_ATTEMPTS: i32 = 3;

/// The worker: claims owed previews and attaches them.
pub async fn run_worker(state: AppState) {
    let mut idle = tokio::time::interval(Duration::from_millis(300));
    loop {
        idle.tick().await;
        loop {
            let owed = match claim(&state.db).await {
                Ok(owed) if owed.is_empty() => break,
                Ok(owed) => owed,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim link previews; retrying");
                    break;
                }
            };
            for (id, channel_id, seq) in owed {
                if let Err(e) = attach(&state, channel_id, seq).await {
                    tracing::info!(error = %e, channel_id, seq, "link previews failed; retrying");
                    continue;
                }
                if let Err(e) = done(&state.db, id).await {
                    tracing::warn!(error = %e, "a link preview stays owed");
                }
            }
        }
    }
}

/// Builds and stores a message's cards, and publishes the message again.
async fn attach(state: &AppState, channel_id: i64, seq: i64) -> anyhow::Result<()> {
    let Some(row) = crate::messages::db::message(&state.db, channel_id, seq).await? else {
        return Ok(());
    };
    if row.message.deleted_at.is_some() || row.message.previews_off {
        return Ok(());
    }
    let mut cards = Vec::new();
    for url in links(&row.message.body) {
        if let Some(card) = card(state, &url).await? {
            cards.push(card);
        }
    }
    if cards.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "update messages set previews = $3
         where channel_id = $1 and seq = $2 and not previews_off and deleted_at is null",
    )
    .bind(channel_id)
    .bind(seq)
    .bind(Json(&cards))
    .execute(&state.db)
    .await?;
    crate::messages::live::message_edited(state, channel_id, seq)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// A URL's card: from the cache if fetched within a day, else fetched now.
async fn card(state: &AppState, url: &str) -> anyhow::Result<Option<Preview>> {
    let cached: Option<Option<Json<Preview>>> = sqlx::query_scalar(
        "select card from link_previews where url = $1 and fetched_at > now() - interval '1 day'",
    )
    .bind(url)
    .fetch_optional(&state.db)
    .await?;
    if let Some(card) = cached {
        return Ok(card.map(|c| c.0));
    }
    let card = fetch(state, url).await;
    sqlx::query(
        "insert into link_previews (url, card) values ($1, $2)
         on conflict (url) do update set card = excluded.card, fetched_at = now()",
    )
    .bind(url)
    .bind(card.as_ref().map(Json))
    .execute(&state.db)
    .await?;
    Ok(card)
}

async fn fetch(state: &AppState, url: &str) -> Option<Preview> {
    let request = Request::get(url)
        .header("accept", "text/html,application/xhtml+xml")
        .max_body(MAX_PAGE)
        .follow_redirects();
    let answer = match state.outbound.send(request).await {
        Ok(answer) if answer.status == 200 => answer,
        Ok(answer) => {
            tracing::info!(url, status = answer.status, "a linked page was not served");
            return None;
        }
        Err(e) => {
            tracing::info!(url, error = %e, "a linked page could not be fetched");
            return None;
        }
    };
    let html = String::from_utf8_lossy(&answer.body);
    let page = read_page(&html);
    let title = page.title?;
    let image_url = page.image.and_then(|image| absolute(url, &image));
    let image_key = match &image_url {
        Some(image) => icons::fetch_now(state, image, MAX_IMAGE).await,
        None => None,
    };
    Some(Preview {
        url: url.to_owned(),
        title,
        description: page.description.unwrap_or_default(),
        image_key,
        image_url,
        site: page.site.unwrap_or_else(|| host(url)),
    })
}

/// The first links of a message's text: http(s) URLs, trailing punctuation trimmed, each once.
pub fn links(text: &str) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(at) = ["https://", "http://"]
        .iter()
        .filter_map(|scheme| rest.find(scheme))
        .min()
    {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '`'))
            .unwrap_or(tail.len());
        let url =
            tail[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '*', '_', '\'']);
        if url.len() > "https://".len() && url.len() <= 2000 && !found.iter().any(|u| u == url) {
            found.push(url.to_owned());
        }
        if found.len() == MAX_LINKS {
            break;
        }
        rest = &tail[end.max(1)..];
    }
    found
}

/// What a page says about itself.
#[derive(Debug, Default, PartialEq)]
pub struct Page {
    pub title: Option<String>,
    pub description: Option<String>,
    pub image: Option<String>,
    pub site: Option<String>,
}

/// Reads a page's Open Graph tags (`og:title`, `og:description`, `og:image`, `og:site_name`),
/// falling back to `<title>` and `<meta name="description">`. A tolerant scan of the tags, not
/// a full HTML parser: it only ever reads text out, and what it reads is escaped when shown.
pub fn read_page(html: &str) -> Page {
    let lower = html.to_ascii_lowercase();
    let mut page = Page::default();
    let (mut fallback_title, mut fallback_description) = (None, None);
    let mut from = 0;
    while let Some(at) = lower[from..].find("<meta") {
        let start = from + at;
        let Some(len) = lower[start..].find('>') else {
            break;
        };
        let tag = &html[start + 5..start + len];
        from = start + len;
        let attrs = attributes(tag);
        let get = |name: &str| {
            attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let (Some(key), Some(content)) = (get("property").or(get("name")), get("content")) else {
            continue;
        };
        let value = clean(content, 300);
        if value.is_empty() {
            continue;
        }
        match key.to_ascii_lowercase().as_str() {
            "og:title" => page.title.get_or_insert(value),
            "og:description" => page.description.get_or_insert(value),
            "og:image" | "og:image:url" | "og:image:secure_url" => page.image.get_or_insert(value),
            "og:site_name" => page.site.get_or_insert(value),
            "description" => fallback_description.get_or_insert(value),
            "twitter:title" => fallback_title.get_or_insert(value),
            _ => continue,
        };
    }
    if page.title.is_none() {
        page.title = fallback_title.or_else(|| {
            let start = lower.find("<title")?;
            let open = start + lower[start..].find('>')? + 1;
            let close = open + lower[open..].find("</title")?;
            Some(clean(&html[open..close], 200)).filter(|t| !t.is_empty())
        });
    }
    if page.description.is_none() {
        page.description = fallback_description;
    }
    page
}

/// A tag's attributes, names lowercased, values with the common entities decoded.
fn attributes(tag: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = tag.trim_start();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| c == '=' || c.is_whitespace() || c == '/')
            .unwrap_or(rest.len());
        let name = rest[..name_end].to_ascii_lowercase();
        rest = rest[name_end..].trim_start();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            let (value, tail) = match after.chars().next() {
                Some(q @ ('"' | '\'')) => match after[1..].find(q) {
                    Some(end) => (&after[1..1 + end], &after[end + 2..]),
                    None => (&after[1..], ""),
                },
                _ => {
                    let end = after.find(char::is_whitespace).unwrap_or(after.len());
                    (&after[..end], &after[end..])
                }
            };
            out.push((name, value.to_owned()));
            rest = tail.trim_start();
        } else {
            rest = rest.trim_start_matches('/').trim_start();
            if !name.is_empty() {
                out.push((name, String::new()));
            }
        }
    }
    out
}

/// Entities decoded, whitespace collapsed, at most `max` characters.
fn clean(text: &str, max: usize) -> String {
    let decoded = text
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    let words: Vec<&str> = decoded.split_whitespace().collect();
    let joined = words.join(" ");
    if joined.chars().count() <= max {
        joined
    } else {
        joined.chars().take(max - 1).collect::<String>() + "…"
    }
}

/// `image` made absolute against the page's URL (`/a.png`, `//cdn/a.png`, `a.png`).
fn absolute(page: &str, image: &str) -> Option<String> {
    let base = reqwest::Url::parse(page).ok()?;
    let url = base.join(image).ok()?;
    matches!(url.scheme(), "http" | "https").then(|| url.to_string())
}

fn host(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches("www.").to_owned())
        })
        .unwrap_or_default()
}

async fn claim(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i64, i64, i64)>> {
    sqlx::query_as(&format!(
        "update preview_outbox o set next_attempt_at = now() + interval '1 minute',
                attempts = o.attempts + 1
         where o.id in (select id from preview_outbox
                        where next_attempt_at <= now() and attempts < {MAX_ATTEMPTS}
                        order by id limit 16 for update skip locked)
         returning o.id, o.channel_id, o.seq"
    ))
    .fetch_all(db)
    .await
}

async fn done(db: impl PgExecutor<'_>, id: i64) -> sqlx::Result<()> {
    sqlx::query("delete from preview_outbox where id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_links_are_found_once_without_trailing_punctuation() {
        let text = "see https://example.com/a, and (https://example.org/b). Also https://example.com/a \
                    and http://x.test/c! and https://four.test";
        assert_eq!(
            links(text),
            [
                "https://example.com/a",
                "https://example.org/b",
                "http://x.test/c"
            ]
        );
        assert!(links("no links, just https:// alone").is_empty());
    }

    #[test]
    fn open_graph_tags_are_read_and_fall_back_to_the_title() {
        let html = r#"<html><head><title>Fallback</title>
            <meta property="og:title" content="The &amp; Title">
            <META name='description' content='Plain description'>
            <meta content="https://cdn.test/i.png" property="og:image" />
            <meta property=og:site_name content=Example>
            </head></html>"#;
        let page = read_page(html);
        assert_eq!(page.title.as_deref(), Some("The & Title"));
        assert_eq!(page.description.as_deref(), Some("Plain description"));
        assert_eq!(page.image.as_deref(), Some("https://cdn.test/i.png"));
        assert_eq!(page.site.as_deref(), Some("Example"));
        let plain = read_page("<title>\n  Just a   title </title><meta name=\"x\">");
        assert_eq!(plain.title.as_deref(), Some("Just a title"));
        assert_eq!(
            read_page("<meta property=\"og:title\" content=\"").title,
            None
        );
        assert_eq!(
            absolute("https://a.test/x/y", "/i.png").as_deref(),
            Some("https://a.test/i.png")
        );
        assert_eq!(absolute("https://a.test/x/y", "javascript:alert(1)"), None);
    }
}
