//! What channels publish after a commit: a member joined or left, a read point moved. Each is
//! a `user:<id>` event that the member's open sockets act on at once (subscribe, unsubscribe,
//! follow the read point in other tabs); in DMs a read point is also a "seen" receipt.

use crate::error::AppError;
use crate::realtime::frames::{Event, WireChannel};
use crate::realtime::{channel_topic, user_topic};
use crate::state::AppState;

use super::db;

/// The user is now in the channel: their open sockets subscribe to it at once.
pub async fn joined(state: &AppState, channel_id: i64, user_id: i64) -> Result<(), AppError> {
    if let Some(c) = db::membership(&state.db, channel_id, user_id).await? {
        let channel = WireChannel {
            id: c.id,
            name: c.name,
            kind: c.kind.as_str().to_owned(),
            last_seq: c.last_seq,
            last_read_seq: c.last_read_seq,
            last_shown_seq: c.last_shown_seq,
        };
        state
            .realtime
            .publish(&user_topic(user_id), Event::ChannelJoined { channel });
    }
    Ok(())
}

/// The user left or was removed: their sockets stop receiving the channel at once.
pub fn left(state: &AppState, channel_id: i64, user_id: i64) {
    state
        .realtime
        .publish(&user_topic(user_id), Event::ChannelLeft { channel_id });
}

/// The user's read point moved: their other tabs follow, and in a DM the others see "Seen".
pub async fn read_moved(
    state: &AppState,
    channel_id: i64,
    user_id: i64,
    seq: i64,
) -> Result<(), AppError> {
    state
        .realtime
        .publish(&user_topic(user_id), Event::Read { channel_id, seq });
    if db::kind_of(&state.db, channel_id)
        .await?
        .is_some_and(|kind| kind.is_dm())
    {
        let receipt = Event::Receipt {
            channel_id,
            seq,
            user_id,
            status: "seen".into(),
        };
        state.realtime.publish(&channel_topic(channel_id), receipt);
    }
    Ok(())
}
