//! Why a message was not stored: one type, [`SendError`], made where the send decides, and
//! said by each door in one place: pages and their script through [`AppError`] (the `From`
//! below), the socket and the Web API by Slack's error code ([`SendError::code`]), webhooks by
//! their own answer (`integrations::webhooks`). No layer re-measures the text to find out why.

use crate::error::AppError;

use super::MAX_CHARS;

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Nothing but whitespace.
    #[error("Write something before sending.")]
    Empty,
    /// Over [`MAX_CHARS`] characters.
    #[error(
        "Messages can be up to {} characters; this one has {chars}. Split it into several messages.",
        thousands(MAX_CHARS)
    )]
    TooLong { chars: usize },
    /// An idempotency key longer than the 64 bytes a client may send.
    #[error("client_msg_id can be at most 64 bytes.")]
    ClientMsgIdTooLong,
    #[error("This channel is archived; nothing more can be posted in it.")]
    Archived,
    /// The sender is not (or no longer) an active member of the channel: asked at the moment
    /// of sending, so a removal or deactivation stops every door at once.
    #[error("You are not a member of this conversation.")]
    NotMember,
    /// A reply to a root that is not there (never was, or was deleted).
    #[error("That thread is gone: its first message was deleted or never existed.")]
    ThreadNotFound,
    /// A file to share that is not the sender's, not in this workspace, or not (or no longer)
    /// there.
    #[error("One of those files is gone, or was never uploaded. Upload it again.")]
    FileNotFound,
    /// More files than one message carries.
    #[error("A message can share at most {} files.", super::MAX_FILES)]
    TooManyFiles,
    /// A reply to a reply: threads are one level deep, as in Slack.
    #[error("Reply in the thread itself: a reply cannot have replies of its own.")]
    ReplyToReply,
    /// @channel, @everyone or @here in a channel over the workspace's limit, by a member who
    /// is not an admin.
    #[error(
        "Only admins can notify everyone in a channel of more than {limit} members. Send it without @{word}, or ask an admin."
    )]
    MentionAllRestricted { word: &'static str, limit: i32 },
    /// The sender's rate limit: nothing was stored; try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// Our fault (the database); nothing was stored.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for SendError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl SendError {
    /// Slack's error code for it, which the socket's `error` frames use too.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Empty => "no_text",
            Self::TooLong { .. } => "msg_too_long",
            Self::ClientMsgIdTooLong => "invalid_arguments",
            Self::Archived => "is_archived",
            Self::NotMember => "not_in_channel",
            Self::ThreadNotFound => "thread_not_found",
            Self::ReplyToReply => "cannot_reply_to_message",
            Self::FileNotFound => "file_not_found",
            Self::TooManyFiles => "too_many_files",
            Self::MentionAllRestricted { .. } => "restricted_action",
            Self::RateLimited { .. } => "ratelimited",
            Self::Internal(cause) if crate::error::chain_is_outage(cause) => "service_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<SendError> for AppError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Archived => AppError::Conflict(error.to_string()),
            // As for any door into a conversation one is not in: it does not exist for them.
            SendError::NotMember => AppError::NotFound,
            SendError::RateLimited {
                message,
                retry_after_secs,
            } => AppError::RateLimited {
                message,
                retry_after_secs,
            },
            SendError::Internal(cause) => AppError::Internal(cause),
            SendError::MentionAllRestricted { .. } => AppError::Forbidden(error.to_string()),
            SendError::Empty
            | SendError::TooLong { .. }
            | SendError::ClientMsgIdTooLong
            | SendError::ThreadNotFound
            | SendError::FileNotFound
            | SendError::TooManyFiles
            | SendError::ReplyToReply => AppError::Validation(error.to_string()),
        }
    }
}

/// 40000 → "40,000".
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_said_with_its_thousands_separated() {
        assert_eq!(thousands(40_000), "40,000");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_234_567), "1,234,567");
        let said = SendError::TooLong { chars: 40_001 }.to_string();
        assert!(said.starts_with("Messages can be up to 40,000 characters; this one has 40001."));
    }

    #[test]
    fn each_reason_has_its_code_and_page_status() {
        let cases = [
            (SendError::Empty, "no_text", 422),
            (SendError::TooLong { chars: 1 }, "msg_too_long", 422),
            (SendError::ClientMsgIdTooLong, "invalid_arguments", 422),
            (SendError::Archived, "is_archived", 409),
            (SendError::NotMember, "not_in_channel", 404),
            (SendError::ThreadNotFound, "thread_not_found", 422),
            (SendError::ReplyToReply, "cannot_reply_to_message", 422),
            (
                SendError::MentionAllRestricted {
                    word: "here",
                    limit: 5,
                },
                "restricted_action",
                403,
            ),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.code(), code);
            assert_eq!(AppError::from(error).status().as_u16(), status);
        }
    }
}
