//! What accounts publish: a session ended, so the sockets it opened close at once.

use crate::realtime::frames::Event;
use crate::realtime::user_topic;
use crate::state::AppState;

/// The user's session ended (`session_id`), or all of them (`None`, on deactivation).
pub fn session_closed(state: &AppState, user_id: i64, session_id: Option<String>) {
    state.realtime.publish(
        &user_topic(user_id),
        Event::SessionClosed {
            user_id,
            session_id,
        },
    );
}
