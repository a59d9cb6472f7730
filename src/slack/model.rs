//! What a Slack export's JSON holds, as far as Natter reads it. Every field Slack may leave
//! out has a default, so an export from another year or plan still reads.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub deleted: bool,
    #[serde(default)]
    pub is_bot: bool,
    #[serde(default)]
    pub tz: Option<String>,
    #[serde(default)]
    pub profile: Profile,
}

#[derive(Debug, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    /// A bot user's bot, which its messages name as `bot_id`.
    #[serde(default)]
    pub bot_id: Option<String>,
}

/// An entry of `channels.json`, `groups.json`, `dms.json` or `mpims.json`.
#[derive(Debug, Deserialize)]
pub struct Conversation {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub is_general: bool,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub members: Vec<String>,
    #[serde(default)]
    pub topic: Option<Text>,
    #[serde(default)]
    pub purpose: Option<Text>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Text {
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Deserialize)]
pub struct Message {
    #[serde(default)]
    pub subtype: Option<String>,
    pub ts: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    /// A bot message's name for its sender.
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub edited: Option<Edited>,
    #[serde(default)]
    pub reactions: Vec<Reaction>,
    /// The conversations it is pinned in.
    #[serde(default)]
    pub pinned_to: Vec<String>,
    #[serde(default)]
    pub files: Vec<File>,
}

#[derive(Debug, Deserialize)]
pub struct Edited {
    #[serde(default)]
    pub ts: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Reaction {
    pub name: String,
    #[serde(default)]
    pub users: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct File {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub url_private: Option<String>,
    #[serde(default)]
    pub permalink: Option<String>,
}

/// A `ts` (`"1700000000.000200"`) as microseconds since the epoch: it orders messages and
/// gives their time. `None` for anything else.
pub fn micros(ts: &str) -> Option<i64> {
    let (secs, frac) = ts.split_once('.').unwrap_or((ts, "0"));
    if secs.is_empty() || frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs: i64 = secs.parse().ok()?;
    let frac: i64 = format!("{frac:0<6}").parse().ok()?;
    secs.checked_mul(1_000_000)?.checked_add(frac)
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_read_as_microseconds() {
        assert_eq!(
            super::micros("1700000000.000200"),
            Some(1_700_000_000_000_200)
        );
        assert_eq!(super::micros("1700000000.5"), Some(1_700_000_000_500_000));
        assert_eq!(super::micros("1700000000"), Some(1_700_000_000_000_000));
        assert_eq!(super::micros("soon"), None);
        assert_eq!(super::micros("1.1234567"), None);
    }
}
