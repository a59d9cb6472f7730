//! A person's notification level in a conversation (`channel_members.notify`): what the
//! sidebar dims, the channel's menu shows, and `notifications` decides with.

/// How much of a conversation notifies a person.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Every message (top-level and replies shown in the channel).
    All,
    /// Mentions of the person, @channel and @here, and threads they follow.
    Mentions,
    /// Nothing notifies; the conversation still turns bold.
    Nothing,
    /// Nothing notifies, and the conversation is dimmed: no bold, a badge only for mentions.
    Mute,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::All, Level::Mentions, Level::Nothing, Level::Mute];

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "all" => Some(Level::All),
            "mentions" => Some(Level::Mentions),
            "nothing" => Some(Level::Nothing),
            "mute" => Some(Level::Mute),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::All => "all",
            Level::Mentions => "mentions",
            Level::Nothing => "nothing",
            Level::Mute => "mute",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Level::All => "All new messages",
            Level::Mentions => "Mentions and threads",
            Level::Nothing => "Nothing",
            Level::Mute => "Mute",
        }
    }

    /// A conversation's level when the person chose none: every message of a DM is for them,
    /// a channel's only when it mentions them.
    pub fn default_for(kind: super::ChannelKind) -> Self {
        if kind.is_dm() {
            Level::All
        } else {
            Level::Mentions
        }
    }

    /// The stored choice (`channel_members.notify`, null for the default) as a level.
    pub fn effective(stored: Option<&str>, kind: super::ChannelKind) -> Self {
        stored
            .and_then(Level::parse)
            .unwrap_or_else(|| Level::default_for(kind))
    }

    /// Whether anything in the conversation notifies.
    pub fn notifies(self) -> bool {
        matches!(self, Level::All | Level::Mentions)
    }
}
