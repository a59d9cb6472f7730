//! The search query language: free words, `"exact phrases"`, `from:@name`, `in:#channel`,
//! `before:` / `after:` / `on:` dates (YYYY-MM-DD), `has:link`, `has:file` and `is:thread` (replies).
//!
//! Parsing only splits the query; names are resolved against Postgres by the caller, so that
//! an unknown person or channel can be reported instead of silently matching nothing.

use time::{Date, Month};

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Query {
    /// Free words, in order (typo-tolerant and prefix on Meilisearch).
    pub words: Vec<String>,
    /// Exact phrases.
    pub phrases: Vec<String>,
    /// Usernames from `from:@name` (lowercased, without the `@`).
    pub from: Vec<String>,
    /// Channel names from `in:#channel` (lowercased, without the `#`).
    pub channels: Vec<String>,
    /// Messages strictly before this day (UTC).
    pub before: Option<Date>,
    /// Messages strictly after this day (UTC).
    pub after: Option<Date>,
    /// Messages on this day (UTC).
    pub on: Option<Date>,
    pub has_link: bool,
    /// `has:file`: messages that share files.
    pub has_file: bool,
    /// `is:thread`: only replies in threads.
    pub in_thread: bool,
}

impl Query {
    /// The free text for a full-text engine: words and quoted phrases.
    pub fn text(&self) -> String {
        let mut parts: Vec<String> = self.words.clone();
        parts.extend(self.phrases.iter().map(|p| format!("\"{p}\"")));
        parts.join(" ")
    }

    pub fn is_empty(&self) -> bool {
        *self == Query::default()
    }
}

/// Splits a query; a malformed date or an unknown `has:` says what is wrong.
pub fn parse(input: &str) -> Result<Query, String> {
    let mut query = Query::default();
    let mut rest = input.trim();
    while !rest.is_empty() {
        if let Some(after_quote) = rest.strip_prefix('"') {
            let end = after_quote.find('"').unwrap_or(after_quote.len());
            let phrase = after_quote[..end].trim();
            if !phrase.is_empty() {
                query.phrases.push(phrase.to_owned());
            }
            rest = after_quote.get(end + 1..).unwrap_or("").trim_start();
            continue;
        }
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let token = &rest[..end];
        rest = rest[end..].trim_start();
        match token.split_once(':') {
            Some(("from", who)) if !who.is_empty() => {
                query.from.push(who.trim_start_matches('@').to_lowercase())
            }
            Some(("in", channel)) if !channel.is_empty() => query
                .channels
                .push(channel.trim_start_matches('#').to_lowercase()),
            Some(("before", day)) => query.before = Some(date(day, "before")?),
            Some(("after", day)) => query.after = Some(date(day, "after")?),
            Some(("on", day)) => query.on = Some(date(day, "on")?),
            Some(("has", "link")) => query.has_link = true,
            Some(("has", "file")) => query.has_file = true,
            Some(("is", "thread")) => query.in_thread = true,
            Some(("is", other)) => {
                return Err(format!("is:{other} is not a filter; try is:thread."));
            }
            Some(("has", other)) => {
                return Err(format!(
                    "has:{other} is not a filter; try has:link or has:file."
                ));
            }
            _ => query.words.push(token.to_owned()),
        }
    }
    Ok(query)
}

fn date(text: &str, filter: &str) -> Result<Date, String> {
    let bad = || {
        format!("{filter}:{text} is not a date; write it as YYYY-MM-DD, like {filter}:2026-03-31.")
    };
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let year: i32 = y.parse().map_err(|_| bad())?;
    let month: u8 = m.parse().map_err(|_| bad())?;
    let day: u8 = d.parse().map_err(|_| bad())?;
    let month = Month::try_from(month).map_err(|_| bad())?;
    Date::from_calendar_date(year, month, day).map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_words_and_phrases_are_split() {
        let q = parse(r#"invoice "due friday" from:@Dana in:#billing after:2026-03-01 has:link"#)
            .unwrap();
        assert_eq!(q.words, vec!["invoice"]);
        assert_eq!(q.phrases, vec!["due friday"]);
        assert_eq!(q.from, vec!["dana"]);
        assert_eq!(q.channels, vec!["billing"]);
        assert_eq!(
            q.after,
            Some(Date::from_calendar_date(2026, Month::March, 1).unwrap())
        );
        assert!(q.has_link);
        assert_eq!(q.text(), "invoice \"due friday\"");
    }

    #[test]
    fn bad_dates_and_filters_say_what_is_wrong() {
        assert!(
            parse("before:2026-13-01")
                .unwrap_err()
                .contains("YYYY-MM-DD")
        );
        assert!(
            parse("on:yesterday")
                .unwrap_err()
                .contains("on:yesterday is not a date")
        );
        assert!(parse("has:file").unwrap().has_file);
        assert!(parse("has:pdf").unwrap_err().contains("has:file"));
    }
}
