//! Slack's `mrkdwn` → Natter's markdown, so messages written for Slack read right here.
//!
//! `*bold*` → `**bold**`, `~strike~` → `~~strike~~`, `_italic_` stays; `<url|label>` becomes a
//! link, `<@U12>` a mention of that user's username, `<!here>` `@here`, `<#C5|name>` `#name`;
//! Slack's three escapes (`&lt;` `&gt;` `&amp;`) are undone. Code spans and blocks are left as
//! they are. The result is then rendered and sanitised like any other message.

use std::collections::HashMap;

/// The user ids of the `<@U…>` mentions in a text, to look their usernames up.
pub fn mentioned_ids(text: &str) -> Vec<i64> {
    let mut ids = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("<@") {
        let after = &rest[start + 2..];
        let end = after.find('>').unwrap_or(after.len());
        let id = after[..end].split('|').next().unwrap_or_default();
        if let Some(id) = super::ids::parse_id(id) {
            ids.push(id);
        }
        rest = &after[end..];
    }
    ids
}

/// How the ids in `<@U…>` and `<#C…>` become names: Natter's own ids for the Web API and
/// webhooks, a Slack export's ids for an import.
pub trait Names {
    fn username(&self, id: &str) -> Option<String>;
    /// A channel's name; `None` keeps the label the text carries.
    fn channel(&self, _id: &str) -> Option<String> {
        None
    }
}

/// Natter's user ids (`U1F`) to usernames.
impl Names for HashMap<i64, String> {
    fn username(&self, id: &str) -> Option<String> {
        super::ids::parse_id(id)
            .and_then(|id| self.get(&id))
            .cloned()
    }
}

/// Translates mrkdwn to markdown; `names` turns the ids of `<@U…>` and `<#C…>` into names.
pub fn to_markdown(text: &str, usernames: &impl Names) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.char_indices().peekable();
    let mut in_code_block = false;
    let mut in_code_span = false;
    while let Some((i, c)) = chars.next() {
        if text[i..].starts_with("```") {
            in_code_block = !in_code_block;
            out.push_str("```");
            chars.next();
            chars.next();
            continue;
        }
        if c == '`' && !in_code_block {
            in_code_span = !in_code_span;
            out.push(c);
            continue;
        }
        if in_code_block || in_code_span {
            out.push(c);
            continue;
        }
        match c {
            '<' => {
                if let Some(end) = text[i..].find('>') {
                    out.push_str(&angle(&text[i + 1..i + end], usernames));
                    while chars.peek().is_some_and(|(j, _)| *j <= i + end) {
                        chars.next();
                    }
                } else {
                    out.push('<');
                }
            }
            '*' | '~' => {
                let at_start = out.chars().last().is_none_or(|p| !p.is_alphanumeric());
                let close = text[i + 1..].find([c, '\n']).map(|n| i + 1 + n);
                match close {
                    Some(j)
                        if at_start
                            && j > i + 1
                            && text[j..].starts_with(c)
                            && !text[i + 1..].starts_with(' ') =>
                    {
                        let marker = if c == '*' { "**" } else { "~~" };
                        out.push_str(marker);
                        out.push_str(&unescape(&text[i + 1..j]));
                        out.push_str(marker);
                        while chars.peek().is_some_and(|(k, _)| *k <= j) {
                            chars.next();
                        }
                    }
                    _ => out.push(c),
                }
            }
            '&' => {
                let entity = [("&lt;", '<'), ("&gt;", '>'), ("&amp;", '&')]
                    .into_iter()
                    .find(|(e, _)| text[i..].starts_with(e));
                match entity {
                    Some((e, plain)) => {
                        out.push(plain);
                        for _ in 1..e.len() {
                            chars.next();
                        }
                    }
                    None => out.push('&'),
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// One `<…>` construct.
fn angle(inner: &str, usernames: &impl Names) -> String {
    let (target, label) = match inner.split_once('|') {
        Some((t, l)) => (t, Some(unescape(l))),
        None => (inner, None),
    };
    if let Some(user) = target.strip_prefix('@') {
        return match usernames.username(user) {
            Some(username) => format!("@{username}"),
            None => format!("@{}", label.unwrap_or_else(|| user.to_owned())),
        };
    }
    if let Some(channel) = target.strip_prefix('#') {
        let name = usernames.channel(channel);
        return format!("#{}", name.or(label).unwrap_or_else(|| channel.to_owned()));
    }
    if let Some(special) = target.strip_prefix('!') {
        return match special {
            "here" | "channel" | "everyone" => format!("@{special}"),
            _ => label.unwrap_or_default(),
        };
    }
    let url = unescape(target);
    if url.starts_with("http://") || url.starts_with("https://") || url.starts_with("mailto:") {
        return match label {
            Some(label) => format!(
                "[{}]({})",
                label.replace(['[', ']'], ""),
                url.replace(' ', "%20").replace(')', "%29")
            ),
            None => url,
        };
    }
    format!("<{inner}>")
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slack_formatting_becomes_markdown() {
        let names = HashMap::from([(7, "ada".to_owned())]);
        assert_eq!(
            to_markdown("*bold* _it_ ~gone~", &names),
            "**bold** _it_ ~~gone~~"
        );
        assert_eq!(
            to_markdown("see <https://x.io/a?b=1|the docs>", &names),
            "see [the docs](https://x.io/a?b=1)"
        );
        assert_eq!(
            to_markdown("hi <@U7> and <@U9|bob>, <!here> in <#C3|ops>", &names),
            "hi @ada and @bob, @here in #ops"
        );
        assert_eq!(to_markdown("a &lt;b&gt; &amp; c", &names), "a <b> & c");
        assert_eq!(
            to_markdown("`*not bold*` and 2*3*4", &names),
            "`*not bold*` and 2*3*4"
        );
        assert_eq!(mentioned_ids("<@U7> <@U9|x>"), vec![7, 9]);
    }
}
