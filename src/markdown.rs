//! Message bodies: markdown in, safe HTML out, with the mentions and links found on the way.
//!
//! pulldown-cmark parses; raw HTML typed by a user is turned into plain text, never markup;
//! images become links (no third-party fetches from a reader's browser); bare URLs become
//! links; `@username` becomes a highlighted mention; `:shortcode:` becomes its emoji. ammonia then sanitises the result, so even
//! a parser surprise cannot produce a script, an event handler or a `javascript:` link.
//!
//! A leaf: pure text in and out, no database. The message log renders with it, and the search
//! index asks it whether a message has a link.

use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd};

/// A rendered message body.
pub struct Rendered {
    pub html: String,
    /// Lowercased usernames mentioned with `@`, outside code, once each.
    pub mentions: Vec<String>,
    pub has_link: bool,
}

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .add_allowed_classes("span", ["mention"])
        // A fenced block's language survives as `language-<name>`, and nothing else does.
        .add_tag_attributes("code", ["class"])
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            ("code", "class") => {
                let language = value.strip_prefix("language-")?;
                let plain = !language.is_empty()
                    && language.len() <= 32
                    && language
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+#-_.".contains(&b));
                plain.then(|| value.into())
            }
            _ => Some(value.into()),
        })
        .link_rel(Some("noopener noreferrer nofollow"))
        .url_schemes(HashSet::from(["http", "https", "mailto"]));
    builder
});

/// Renders a body to sanitised HTML, with its mentions and whether it links anywhere.
pub fn render(body: &str) -> Rendered {
    let Transformed {
        events,
        mentions,
        has_link,
    } = transform(body);
    let mut unsafe_html = String::with_capacity(body.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut unsafe_html, events.into_iter());
    Rendered {
        html: SANITIZER.clean(&unsafe_html).to_string(),
        mentions,
        has_link,
    }
}

/// The words that mention many at once: every member (`channel`, `everyone`) or those online
/// (`here`). No account may take one as its username.
pub const MENTION_ALL: [&str; 3] = ["channel", "everyone", "here"];

/// The widest mention of many among a body's mentions: `channel` or `everyone` over `here`.
pub fn mention_all(mentions: &[String]) -> Option<&'static str> {
    ["channel", "everyone", "here"]
        .into_iter()
        .find(|word| mentions.iter().any(|m| m == word))
}

/// The usernames a body mentions, without rendering it: sending needs only these, and the
/// HTML (sanitising is the costly half) is made once, for the live event.
pub fn mentions(body: &str) -> Vec<String> {
    transform(body).mentions
}

/// The parser's events with Natter's changes (links, mentions, raw HTML as text), before HTML.
struct Transformed<'a> {
    events: Vec<Event<'a>>,
    mentions: Vec<String>,
    has_link: bool,
}

fn transform(body: &str) -> Transformed<'_> {
    let mut mentions = Vec::new();
    let mut has_link = false;
    let mut events = Vec::new();
    let mut code_depth = 0usize;
    let mut link_depth = 0usize;
    let options = Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(body, options) {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                code_depth += 1;
                events.push(Event::Start(Tag::CodeBlock(kind)));
            }
            Event::End(TagEnd::CodeBlock) => {
                code_depth = code_depth.saturating_sub(1);
                events.push(Event::End(TagEnd::CodeBlock));
            }
            Event::Start(Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }) => {
                link_depth += 1;
                has_link = true;
                events.push(Event::Start(Tag::Link {
                    link_type,
                    dest_url,
                    title,
                    id,
                }));
            }
            Event::End(TagEnd::Link) => {
                link_depth = link_depth.saturating_sub(1);
                events.push(Event::End(TagEnd::Link));
            }
            // Images would make every reader's browser fetch a stranger's URL: show a link.
            Event::Start(Tag::Image {
                dest_url,
                title,
                id,
                ..
            }) => {
                link_depth += 1;
                has_link = true;
                events.push(Event::Start(Tag::Link {
                    link_type: LinkType::Inline,
                    dest_url,
                    title,
                    id,
                }));
            }
            Event::End(TagEnd::Image) => {
                link_depth = link_depth.saturating_sub(1);
                events.push(Event::End(TagEnd::Link));
            }
            // Raw HTML is shown as the text the person typed.
            Event::Start(Tag::HtmlBlock) => events.push(Event::Start(Tag::Paragraph)),
            Event::End(TagEnd::HtmlBlock) => events.push(Event::End(TagEnd::Paragraph)),
            Event::Html(raw) | Event::InlineHtml(raw) => push_text(
                &mut events,
                raw,
                code_depth > 0 || link_depth > 0,
                &mut mentions,
                &mut has_link,
            ),
            // Chat expects a line break where the person pressed Shift+Enter.
            Event::SoftBreak => events.push(Event::HardBreak),
            Event::Text(text) => push_text(
                &mut events,
                text,
                code_depth > 0 || link_depth > 0,
                &mut mentions,
                &mut has_link,
            ),
            other => events.push(other),
        }
    }
    let mut seen = HashSet::new();
    mentions.retain(|m| seen.insert(m.clone()));
    Transformed {
        events,
        mentions,
        has_link,
    }
}

/// Emits text, turning bare URLs into links and `@username` into mentions unless `literal`.
fn push_text<'a>(
    events: &mut Vec<Event<'a>>,
    text: CowStr<'a>,
    literal: bool,
    mentions: &mut Vec<String>,
    has_link: &mut bool,
) {
    if literal {
        events.push(Event::Text(text));
        return;
    }
    let mut rest: &str = &text;
    let mut plain = String::new();
    while !rest.is_empty() {
        let at_boundary = plain.chars().last().is_none_or(|c| !c.is_alphanumeric());
        if at_boundary && let Some(url_len) = url_at(rest) {
            flush(events, &mut plain);
            let url = rest[..url_len].to_owned();
            *has_link = true;
            events.push(Event::Start(Tag::Link {
                link_type: LinkType::Autolink,
                dest_url: url.clone().into(),
                title: "".into(),
                id: "".into(),
            }));
            events.push(Event::Text(url.into()));
            events.push(Event::End(TagEnd::Link));
            rest = &rest[url_len..];
            continue;
        }
        if at_boundary && let Some((len, glyph)) = crate::emoji::shortcode_at(rest) {
            plain.push_str(glyph);
            rest = &rest[len..];
            continue;
        }
        if at_boundary && let Some(name_len) = mention_at(rest) {
            flush(events, &mut plain);
            let username = rest[1..name_len].to_lowercase();
            // The username holds only [a-z0-9._-], so it needs no escaping.
            events.push(Event::InlineHtml(
                format!("<span class=\"mention\">@{username}</span>").into(),
            ));
            mentions.push(username);
            rest = &rest[name_len..];
            continue;
        }
        let c = rest.chars().next().expect("rest is not empty");
        plain.push(c);
        rest = &rest[c.len_utf8()..];
    }
    flush(events, &mut plain);
}

fn flush<'a>(events: &mut Vec<Event<'a>>, plain: &mut String) {
    if !plain.is_empty() {
        events.push(Event::Text(std::mem::take(plain).into()));
    }
}

/// The length of an http(s) URL at the start of `s`, without trailing punctuation.
fn url_at(s: &str) -> Option<usize> {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return None;
    }
    let end = s
        .find(|c: char| c.is_whitespace() || c == '<' || c == '>' || c == '"')
        .unwrap_or(s.len());
    let url = s[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'']);
    let scheme_len = if lower.starts_with("https://") { 8 } else { 7 };
    (url.len() > scheme_len).then_some(url.len())
}

/// The length of `@username` at the start of `s`, without a trailing '.', '-' or '_'.
fn mention_at(s: &str) -> Option<usize> {
    let name = s.strip_prefix('@')?;
    let end = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
        .unwrap_or(name.len());
    let trimmed = name[..end].trim_end_matches(['.', '-', '_']);
    (!trimmed.is_empty() && trimmed.len() <= 32).then_some(1 + trimmed.len())
}

/// Elements that run script, fetch a URL by themselves, or take over the page; never in what
/// Natter renders. (Images are among them: markdown images become links.)
const ACTIVE_ELEMENTS: &[&str] = &[
    "script",
    "style",
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "svg",
    "math",
    "form",
    "input",
    "button",
    "textarea",
    "select",
    "option",
    "base",
    "link",
    "meta",
    "template",
    "noscript",
    "img",
    "image",
    "video",
    "audio",
    "source",
    "track",
    "picture",
    "portal",
    "xmp",
    "plaintext",
    "noembed",
    "noframes",
    "marquee",
    "dialog",
];

/// Checks that rendered HTML is inert: every tag is one Natter may emit, no attribute is an
/// event handler, a style or a `srcdoc`, and every URL attribute is http(s), mailto, or
/// relative. This is the property the fuzz targets and the XSS corpus assert of every output
/// (markdown, webhooks, search snippets); `Err` says what broke it.
pub fn check_inert(html: &str) -> Result<(), String> {
    let bytes = html.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let (tag, end) = read_tag(html, i)?;
        i = end;
        let Some(tag) = tag else { continue };
        if ACTIVE_ELEMENTS.contains(&tag.name.as_str()) {
            return Err(format!("<{}> in the output", tag.name));
        }
        for (name, value) in &tag.attributes {
            if name.starts_with("on") || matches!(name.as_str(), "style" | "srcdoc" | "formaction")
            {
                return Err(format!("attribute {name} on <{}>", tag.name));
            }
            let is_url = matches!(
                name.as_str(),
                "href" | "src" | "action" | "xlink:href" | "background" | "poster" | "cite"
            );
            if is_url && !safe_url(value) {
                return Err(format!("{name}={value:?} on <{}>", tag.name));
            }
        }
    }
    Ok(())
}

struct ScannedTag {
    name: String,
    attributes: Vec<(String, String)>,
}

/// Reads the tag starting at `start` (`<`); `None` for a closing tag or a comment. Text `<`
/// is always escaped in sanitised output, so a bare one is itself a finding.
fn read_tag(html: &str, start: usize) -> Result<(Option<ScannedTag>, usize), String> {
    let rest = &html[start + 1..];
    if let Some(comment) = rest.strip_prefix("!--") {
        let end = comment
            .find("-->")
            .ok_or("an unterminated comment in the output")?;
        return Ok((None, start + 4 + end + 3));
    }
    let closing = rest.starts_with('/');
    let body = rest.trim_start_matches('/');
    let name_len = body
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == ':'))
        .unwrap_or(body.len());
    if name_len == 0 {
        return Err(format!("a bare '<' in the output at byte {start}"));
    }
    let name = body[..name_len].to_ascii_lowercase();
    let mut attributes = Vec::new();
    let mut chars = body[name_len..].char_indices().peekable();
    let offset = start + 1 + usize::from(closing) + name_len;
    loop {
        while chars
            .next_if(|(_, c)| c.is_whitespace() || *c == '/')
            .is_some()
        {}
        let Some(&(at, c)) = chars.peek() else {
            return Err("an unterminated tag in the output".into());
        };
        if c == '>' {
            let tag = (!closing).then_some(ScannedTag { name, attributes });
            return Ok((tag, offset + at + 1));
        }
        let mut attribute = String::new();
        while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && !"=>/".contains(*c)) {
            attribute.push(c.to_ascii_lowercase());
        }
        let mut value = String::new();
        if chars.next_if(|(_, c)| *c == '=').is_some() {
            match chars.next_if(|(_, c)| *c == '"' || *c == '\'') {
                Some((_, quote)) => {
                    for (_, c) in chars.by_ref() {
                        if c == quote {
                            break;
                        }
                        value.push(c);
                    }
                }
                None => {
                    while let Some((_, c)) = chars.next_if(|(_, c)| !c.is_whitespace() && *c != '>')
                    {
                        value.push(c);
                    }
                }
            }
        }
        attributes.push((attribute, decode_entities(&value)));
    }
}

fn decode_entities(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| match &after[..e] {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "colon" => Some(':'),
            "tab" => Some('\t'),
            "newline" => Some('\n'),
            num if num.starts_with("#x") || num.starts_with("#X") => {
                u32::from_str_radix(&num[2..], 16)
                    .ok()
                    .and_then(char::from_u32)
            }
            num if num.starts_with('#') => num[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        });
        match (decoded, end) {
            (Some(c), Some(e)) => {
                out.push(c);
                rest = &after[e + 1..];
            }
            _ => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether a browser would follow `url` to http(s), mailto, or this site: its scheme, read
/// the way browsers read it (control characters and whitespace dropped), is one of those or
/// absent.
fn safe_url(url: &str) -> bool {
    let seen: String = url
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase();
    match seen.find(':') {
        None => true,
        Some(colon) => {
            let before = &seen[..colon];
            // Only letters, digits, `+`, `-` and `.` after a first letter make a scheme; before
            // anything else the colon is in a path, query or fragment: a relative URL.
            let is_scheme = before.starts_with(|c: char| c.is_ascii_alphabetic())
                && before
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
            !is_scheme || matches!(before, "http" | "https" | "mailto")
        }
    }
}

/// The XSS corpus (`tests/corpus/xss.txt`): known payloads, one per line, `\n` for a newline.
#[cfg(test)]
pub(crate) fn xss_corpus() -> impl Iterator<Item = String> {
    include_str!("../tests/corpus/xss.txt")
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.replace("\\n", "\n"))
}

#[cfg(test)]
mod tests {
    use super::{check_inert, mentions, render, xss_corpus};

    #[test]
    fn every_payload_of_the_xss_corpus_renders_inert() {
        let mut checked = 0;
        for payload in xss_corpus() {
            let html = render(&payload).html;
            if let Err(why) = check_inert(&html) {
                panic!("{payload:?} rendered {html:?}: {why}");
            }
            checked += 1;
        }
        assert!(checked > 90, "the corpus was read: {checked}");
    }

    #[test]
    fn the_inertness_check_catches_what_it_is_for() {
        for active in [
            "<script>alert(1)</script>",
            "<p>ok</p><img src=\"x\">",
            "<a href=\"javascript:alert(1)\">x</a>",
            "<a href=\" JaVa&#x09;Script&colon;alert(1)\">x</a>",
            "<a href=\"data:text/html,x\">x</a>",
            "<p onclick=\"alert(1)\">x</p>",
            "<p style=\"color:red\">x</p>",
            "<svg></svg>",
            "<p>1 < 2</p>",
        ] {
            assert!(check_inert(active).is_err(), "{active}");
        }
        for inert in [
            "<p>1 &lt; 2 and <a href=\"https://example.com/a?b=c&amp;d\" rel=\"noopener\">x</a></p>",
            "<a href=\"/w/acme/c/1\">x</a><a href=\"mailto:a@example.com\">m</a>",
            "<pre><code class=\"language-rust\">fn main() {}</code></pre><!-- note -->",
            "<span class=\"mention\">@ada</span><br>",
        ] {
            assert_eq!(check_inert(inert), Ok(()), "{inert}");
        }
    }

    #[test]
    fn markdown_becomes_formatted_html() {
        let html =
            render("**bold** _it_ `code`\n\n> quote\n\n- one\n- two\n\n```rust\nfn x() {}\n```")
                .html;
        for needle in [
            "<strong>bold</strong>",
            "<em>it</em>",
            "<code>code</code>",
            "<blockquote>",
            "<li>one</li>",
            "<pre><code class=\"language-rust\">",
        ] {
            assert!(html.contains(needle), "{needle} missing from {html}");
        }
    }

    #[test]
    fn scripts_handlers_and_javascript_links_are_inert() {
        let html = render("<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) <b onclick=x>hi</b>").html;
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b "), "{html}");
        assert!(!html.contains("href=\"javascript"), "{html}");
        assert!(
            html.contains("&lt;script&gt;"),
            "raw html is shown as text: {html}"
        );
    }

    #[test]
    fn mentions_are_found_outside_code_and_highlighted() {
        let rendered = render("hi @Ada and @bob.k, not `@carol` or me@example.com");
        assert_eq!(rendered.mentions, vec!["ada", "bob.k"]);
        assert!(
            rendered
                .html
                .contains("<span class=\"mention\">@ada</span>")
        );
        assert!(!rendered.html.contains("@carol</span>"));
        assert_eq!(
            mentions("hi @Ada and @bob.k, not `@carol` or me@example.com, @ada again"),
            rendered.mentions,
            "sending finds the same mentions without rendering"
        );
    }

    #[test]
    fn bare_urls_become_links() {
        let rendered = render("see https://example.com/a?b=1.");
        assert!(rendered.has_link);
        assert!(
            rendered
                .html
                .contains("<a href=\"https://example.com/a?b=1\""),
            "{}",
            rendered.html
        );
    }
}
