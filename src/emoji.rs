//! The standard emoji set, by shortcode (GitHub's gemoji names, as Slack uses them), from the
//! `emojis` crate: no table is written here.
//!
//! Reactions are stored by each emoji's canonical shortcode (`:thumbsup:` and `:+1:` are one
//! emoji, stored as `+1`), so one person's one emoji on one message is one row whatever name
//! the client used. A leaf: pure lookups, no database.

use std::sync::LazyLock;

/// The canonical shortcode of a name a client gave: a shortcode with or without colons, or the
/// emoji itself. A skin tone (`thumbsup::skin-tone-2`) is kept as a part of the name when the
/// crate knows that tone of that emoji. `None`: not an emoji of the standard set.
pub fn canonical(name: &str) -> Option<String> {
    let name = name.trim();
    let (base, tone) = match name.trim_matches(':').split_once("::skin-tone-") {
        Some((base, tone)) => (base, Some(tone)),
        None => (name.trim_matches(':'), None),
    };
    let emoji = emojis::get_by_shortcode(base).or_else(|| emojis::get(base))?;
    let short = emoji.shortcode()?;
    match tone {
        None => Some(short.to_owned()),
        Some(tone) => {
            let tone = tone_of(tone)?;
            emoji.with_skin_tone(tone)?;
            Some(format!("{short}::skin-tone-{}", tone_number(tone)))
        }
    }
}

fn tone_of(number: &str) -> Option<emojis::SkinTone> {
    use emojis::SkinTone::*;
    Some(match number {
        "2" => Light,
        "3" => MediumLight,
        "4" => Medium,
        "5" => MediumDark,
        "6" => Dark,
        _ => return None,
    })
}

fn tone_number(tone: emojis::SkinTone) -> u8 {
    use emojis::SkinTone::*;
    match tone {
        Light => 2,
        MediumLight => 3,
        Medium => 4,
        MediumDark => 5,
        Dark => 6,
        _ => 1,
    }
}

/// The emoji a canonical (or any) shortcode names, as text.
pub fn glyph(name: &str) -> Option<&'static str> {
    let (base, tone) = match name.split_once("::skin-tone-") {
        Some((base, tone)) => (base, tone_of(tone)),
        None => (name, None),
    };
    let emoji = emojis::get_by_shortcode(base)?;
    Some(match tone {
        Some(tone) => emoji.with_skin_tone(tone).unwrap_or(emoji).as_str(),
        None => emoji.as_str(),
    })
}

/// The length of a `:shortcode:` at the start of `s` and its emoji, when it names one.
pub fn shortcode_at(s: &str) -> Option<(usize, &'static str)> {
    let rest = s.strip_prefix(':')?;
    let end = rest
        .bytes()
        .take(64)
        .position(|b| b == b':')
        .filter(|&end| end > 0)?;
    let name = &rest[..end];
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_+-".contains(&b))
    {
        return None;
    }
    Some((end + 2, emojis::get_by_shortcode(name)?.as_str()))
}

/// Text with every `:shortcode:` of the standard set (after a space or punctuation, as in
/// messages, so `a:b:c` stays) replaced by its emoji: for previews,
/// titles and notifications, where no HTML is drawn.
pub fn emojify(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(':') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let at_boundary = out.chars().last().is_none_or(|c| !c.is_alphanumeric());
        match shortcode_at(rest).filter(|_| at_boundary) {
            Some((len, glyph)) => {
                out.push_str(glyph);
                rest = &rest[len..];
            }
            None => {
                out.push(':');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The whole set for the picker and the composer's `:` completion, as JSON:
/// `[[emoji, shortcode, other shortcodes…, group], …]` in the standard order. Made once.
pub static CATALOGUE: LazyLock<String> = LazyLock::new(|| {
    let rows: Vec<serde_json::Value> = emojis::iter()
        .filter(|e| e.shortcode().is_some())
        .map(|e| {
            let mut row = vec![serde_json::Value::from(e.as_str())];
            row.extend(e.shortcodes().map(serde_json::Value::from));
            row.push(serde_json::Value::from(format!("{:?}", e.group())));
            serde_json::Value::Array(row)
        })
        .collect();
    serde_json::Value::Array(rows).to_string()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_canonical_and_unknown_ones_refused() {
        assert_eq!(canonical("thumbsup").as_deref(), Some("+1"));
        assert_eq!(canonical(":+1:").as_deref(), Some("+1"));
        assert_eq!(canonical("👍").as_deref(), Some("+1"));
        assert_eq!(canonical("tada").as_deref(), Some("tada"));
        assert_eq!(
            canonical("thumbsup::skin-tone-2").as_deref(),
            Some("+1::skin-tone-2")
        );
        assert_eq!(canonical("not_an_emoji"), None);
        assert_eq!(canonical("tada::skin-tone-9"), None);
        assert_eq!(canonical(""), None);
    }

    #[test]
    fn shortcodes_in_text_become_emoji_and_others_stay() {
        assert_eq!(
            emojify("ship it :tada: :nope: 10:30 a:b:c"),
            "ship it 🎉 :nope: 10:30 a:b:c"
        );
        assert_eq!(glyph("+1::skin-tone-2"), Some("👍🏻"));
        assert!(CATALOGUE.contains("\"tada\""));
    }
}
