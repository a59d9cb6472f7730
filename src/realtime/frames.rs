//! The frames of `/ws`, as JSON objects with a `type`. `docs/protocol.md` shows each one.
//!
//! [`ClientFrame`] is what a client may send. [`Event`] is what travels on the bus and reaches
//! sockets; `ready`, `ack`, `gap`, `error` and `pong` are answers to one connection and are
//! built with [`reply`].

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Ids are opaque to clients: accept them as JSON numbers or strings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Number(n) => Ok(Id(n)),
            Raw::Text(t) => t
                .trim()
                .parse()
                .map(Id)
                .map_err(|_| serde::de::Error::custom("an id must be a number")),
        }
    }
}

/// What a client may send.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first frame: where the client is in each channel it shows.
    Hello {
        #[serde(default)]
        cursors: HashMap<String, i64>,
    },
    Ping,
    Read {
        channel_id: Id,
        seq: i64,
    },
    Delivered {
        channel_id: Id,
        seq: i64,
    },
    Typing {
        channel_id: Id,
    },
    #[serde(rename = "presence.subscribe")]
    PresenceSubscribe {
        user_ids: Vec<Id>,
    },
    #[serde(rename = "presence.set")]
    PresenceSet {
        status: String,
    },
    Send {
        channel_id: Id,
        #[serde(default)]
        client_msg_id: Option<String>,
        text: String,
        /// A reply: the thread's root.
        #[serde(default)]
        thread_root_seq: Option<i64>,
        /// A reply also shown in the channel.
        #[serde(default)]
        broadcast: bool,
        /// Files uploaded first (`POST /w/<slug>/files`) that the message shares.
        #[serde(default)]
        file_ids: Vec<String>,
    },
}

/// A message as frames carry it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireMessage {
    pub seq: i64,
    pub user_id: i64,
    pub text: String,
    pub client_msg_id: Option<String>,
    pub created_at: String,
    pub edited_at: Option<String>,
    /// A reply's root (`None` for a top-level message).
    #[serde(default)]
    pub thread_root_seq: Option<i64>,
    /// A reply shown in the channel too.
    #[serde(default)]
    pub reply_broadcast: bool,
}

/// A channel as `ready` and `channel.joined` describe it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WireChannel {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub last_seq: i64,
    pub last_read_seq: i64,
    /// The newest message the channel view shows: read to here, the channel is read.
    #[serde(default)]
    pub last_shown_seq: i64,
}

/// What the bus carries and sockets receive.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Event {
    #[serde(rename = "message")]
    Message {
        channel_id: i64,
        seq: i64,
        message: WireMessage,
        html: String,
    },
    #[serde(rename = "message.updated")]
    MessageUpdated {
        channel_id: i64,
        seq: i64,
        message: WireMessage,
        html: String,
    },
    #[serde(rename = "message.deleted")]
    MessageDeleted { channel_id: i64, seq: i64 },
    /// A thread's root changed: its reply count, newest reply or repliers (`html` is the
    /// root's summary line, drawn by the page's partial).
    #[serde(rename = "thread.updated")]
    ThreadUpdated {
        channel_id: i64,
        root_seq: i64,
        reply_count: i32,
        latest_reply_seq: Option<i64>,
        html: String,
    },
    /// To a follower: a thread they follow has replies they have not read (`unread`), or has
    /// none left (0, after reading it on another tab or device).
    #[serde(rename = "thread.unread")]
    ThreadUnread {
        channel_id: i64,
        root_seq: i64,
        unread: i64,
    },
    #[serde(rename = "reaction.added")]
    ReactionAdded {
        channel_id: i64,
        seq: i64,
        name: String,
        /// The emoji itself, for drawing.
        glyph: String,
        user_id: i64,
        user_name: String,
        count: i64,
        /// "Ada, Bob and 3 others reacted with :tada:", for the chip's hover.
        title: String,
    },
    #[serde(rename = "reaction.removed")]
    ReactionRemoved {
        channel_id: i64,
        seq: i64,
        name: String,
        glyph: String,
        user_id: i64,
        user_name: String,
        count: i64,
        title: String,
    },
    #[serde(rename = "pin.added")]
    PinAdded { channel_id: i64, seq: i64 },
    #[serde(rename = "pin.removed")]
    PinRemoved { channel_id: i64, seq: i64 },
    /// To the person who saved or unsaved a message (their other tabs and devices).
    #[serde(rename = "saved")]
    Saved {
        channel_id: i64,
        seq: i64,
        saved: bool,
    },
    /// A user's read point moved (sent to that user's other tabs and devices).
    #[serde(rename = "read")]
    Read { channel_id: i64, seq: i64 },
    /// A DM recipient's client got (`delivered`) or read (`seen`) up to `seq`.
    #[serde(rename = "receipt")]
    Receipt {
        channel_id: i64,
        seq: i64,
        user_id: i64,
        status: String,
    },
    #[serde(rename = "typing")]
    Typing {
        channel_id: i64,
        user_id: i64,
        name: String,
    },
    #[serde(rename = "presence")]
    Presence { user_id: i64, status: String },
    /// A person's do not disturb: on until `until` (unix seconds), or off (`None`).
    #[serde(rename = "dnd")]
    Dnd { user_id: i64, until: Option<i64> },
    /// Someone's name, picture or status changed: pages redraw them wherever they are shown.
    #[serde(rename = "user.updated")]
    UserUpdated {
        user_id: i64,
        name: String,
        /// Their picture's URL, or `None` for `initials` on their colour.
        avatar_url: Option<String>,
        initials: String,
        title: String,
        /// `:palm_tree:`, the glyph it stands for, and the text; all "" for no status.
        status_emoji: String,
        status_glyph: String,
        status_text: String,
        /// When the status clears (unix seconds), 0 for never.
        status_expiration: i64,
    },
    /// To a person with a socket open: a message they should hear of (their browser shows it
    /// as a desktop notification, from one tab).
    #[serde(rename = "notification")]
    Notification {
        channel_id: i64,
        seq: i64,
        title: String,
        body: String,
        url: String,
        tag: String,
    },
    #[serde(rename = "channel.joined")]
    ChannelJoined { channel: WireChannel },
    #[serde(rename = "channel.left")]
    ChannelLeft { channel_id: i64 },
    /// Not forwarded: tells a user's sockets to close (logged out, deactivated).
    #[serde(rename = "session.closed")]
    SessionClosed {
        user_id: i64,
        session_id: Option<String>,
    },
    /// Several events of one channel that travel and wake each socket once (a hot message's
    /// reaction changes): each socket sends them as the separate frames they are.
    #[serde(rename = "batch")]
    Batch { channel_id: i64, events: Vec<Event> },
    /// Not forwarded: the bus was down, so the socket checks its channels against Postgres.
    #[serde(rename = "resync")]
    Resync,
}

impl Event {
    /// Events that only steer the connection and are never sent to the client as they are.
    pub fn is_internal(&self) -> bool {
        matches!(self, Event::SessionClosed { .. } | Event::Resync)
    }
}

/// A frame for one connection only, serialised.
pub fn reply(value: serde_json::Value) -> String {
    value.to_string()
}

pub fn error_frame(code: &str, message: &str) -> String {
    reply(serde_json::json!({ "type": "error", "code": code, "message": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_may_be_numbers_or_strings() {
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"read","channel_id":"12","seq":3}"#).unwrap();
        assert!(matches!(
            frame,
            ClientFrame::Read {
                channel_id: Id(12),
                seq: 3
            }
        ));
        let frame: ClientFrame =
            serde_json::from_str(r#"{"type":"typing","channel_id":7}"#).unwrap();
        assert!(matches!(frame, ClientFrame::Typing { channel_id: Id(7) }));
    }

    #[test]
    fn unknown_or_malformed_frames_do_not_parse() {
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"launch"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>(r#"{"type":"read"}"#).is_err());
        assert!(serde_json::from_str::<ClientFrame>("not json").is_err());
    }
}
