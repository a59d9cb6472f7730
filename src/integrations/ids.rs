//! Slack-shaped ids and timestamps, so Slack's SDKs and bots feel at home.
//!
//! A channel is `C<id>` (public), `G<id>` (private), `D<id>` (DM) or `M<id>` (group DM); a
//! user is `U<id>`, a bot `B<id>`, a workspace `T<id>`. Natter reads any of them by the digits
//! (and bare digits too). A message's `ts` is `"<unix seconds>.<seq, six digits>"`: the part
//! after the dot is the seq, so a `ts` names one message of a channel.

use time::OffsetDateTime;

use crate::channels::ChannelKind;

pub fn channel_id(kind: ChannelKind, id: i64) -> String {
    format!("{}{id}", kind.slack_letter())
}

pub fn user_id(id: i64) -> String {
    format!("U{id}")
}

pub fn team_id(id: i64) -> String {
    format!("T{id}")
}

/// The number inside a Slack-shaped id (`C42`, `U7`, `42`).
pub fn parse_id(text: &str) -> Option<i64> {
    let text = text.trim();
    let digits = text
        .strip_prefix(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text);
    digits.parse().ok().filter(|n: &i64| *n > 0)
}

pub fn ts(created_at: OffsetDateTime, seq: i64) -> String {
    format!("{}.{seq:06}", created_at.unix_timestamp())
}

/// The seq a `ts` names.
pub fn seq_of_ts(ts: &str) -> Option<i64> {
    let (_, seq) = ts.trim().split_once('.')?;
    seq.parse().ok().filter(|n: &i64| *n > 0)
}

/// Whether `ts` names exactly this message: its seq and its second, so a `ts` of one channel's
/// message names nothing in another channel that happens to have that seq.
pub fn names(ts: &str, created_at: OffsetDateTime, seq: i64) -> bool {
    ts.trim() == self::ts(created_at, seq)
}

/// Seconds of a `ts` or a plain number (`oldest` / `latest` bounds), as a float.
pub fn ts_seconds(ts: &str) -> Option<f64> {
    ts.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ts_round_trip() {
        assert_eq!(parse_id(&channel_id(ChannelKind::Private, 42)), Some(42));
        assert_eq!(parse_id("U7"), Some(7));
        assert_eq!(parse_id("x"), None);
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(ts(at, 5), "1700000000.000005");
        assert_eq!(seq_of_ts("1700000000.000005"), Some(5));
        assert_eq!(seq_of_ts("1700000000"), None);
    }
}
