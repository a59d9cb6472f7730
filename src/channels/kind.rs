//! What kind of conversation a channel is, and the rules that follow from it.
//!
//! Stored as text in `channels.kind` (`public`, `private`, `dm`, `group_dm`) and read into
//! [`ChannelKind`] at the edge of the database, so the rest of the code matches on a type and
//! never compares strings. Slack's names for the kinds (the id letter, `conversations.list`'s
//! `types`, the events' `channel_type`) are here too, one mapping each.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Anyone in the workspace may read, join and search it.
    Public,
    /// Only its members know it exists.
    Private,
    /// Two people (or one, with themselves); found again, never created twice.
    Dm,
    /// Three to nine people; found again by its member set.
    GroupDm,
}

impl ChannelKind {
    pub const ALL: [ChannelKind; 4] = [Self::Public, Self::Private, Self::Dm, Self::GroupDm];

    /// As stored in `channels.kind` and carried in frames.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Private => "private",
            Self::Dm => "dm",
            Self::GroupDm => "group_dm",
        }
    }

    /// DMs and group DMs: every message counts as a mention, receipts are shown, and they
    /// have members but no name.
    pub fn is_dm(self) -> bool {
        matches!(self, Self::Dm | Self::GroupDm)
    }

    /// Whether a workspace member who is not in it may read it.
    pub fn is_public(self) -> bool {
        self == Self::Public
    }

    pub fn is_private(self) -> bool {
        self == Self::Private
    }

    pub fn is_group_dm(self) -> bool {
        self == Self::GroupDm
    }

    /// The letter of Slack's conversation ids: `C42`, `G42`, `D42`, `M42`.
    pub fn slack_letter(self) -> char {
        match self {
            Self::Public => 'C',
            Self::Private => 'G',
            Self::Dm => 'D',
            Self::GroupDm => 'M',
        }
    }

    /// The name in `conversations.list`'s `types` argument.
    pub fn slack_type(self) -> &'static str {
        match self {
            Self::Public => "public_channel",
            Self::Private => "private_channel",
            Self::Dm => "im",
            Self::GroupDm => "mpim",
        }
    }

    pub fn from_slack_type(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slack_type() == name)
    }

    /// The `channel_type` of Slack's message events.
    pub fn slack_event_type(self) -> &'static str {
        match self {
            Self::Public => "channel",
            Self::Private => "group",
            Self::Dm => "im",
            Self::GroupDm => "mpim",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ChannelKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a channel kind"))
    }
}

crate::text_column!(ChannelKind);

#[cfg(test)]
mod tests {
    use super::ChannelKind;

    #[test]
    fn every_kind_reads_back_from_its_stored_and_slack_names() {
        for kind in ChannelKind::ALL {
            assert_eq!(kind.as_str().parse::<ChannelKind>(), Ok(kind));
            assert_eq!(ChannelKind::from_slack_type(kind.slack_type()), Some(kind));
        }
        assert!("channel".parse::<ChannelKind>().is_err());
        assert_eq!(ChannelKind::from_slack_type("public"), None);
    }

    #[test]
    fn only_dms_and_group_dms_are_dms() {
        let dms: Vec<_> = ChannelKind::ALL.into_iter().filter(|k| k.is_dm()).collect();
        assert_eq!(dms, [ChannelKind::Dm, ChannelKind::GroupDm]);
    }
}
