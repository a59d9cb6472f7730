//! Notifications: who hears about a message, and how.
//!
//! The send statement writes a row to `notify_outbox` for every message that could notify
//! anyone (a DM, a mention, @channel, a thread reply, or a channel where someone chose `all`),
//! in the message's own transaction, so a message and its notifications exist together and
//! sending never waits for them. A worker on every node ([`fanout`]) claims those rows with
//! `for update skip locked` and decides, per member, from their level in the conversation
//! ([`Level`]), whether they are mentioned or follow the thread, and their do not disturb:
//!
//! - someone with a socket open anywhere (a tab or a token) gets a `notification` frame, and
//!   their browser shows it (`static/js/notify.js`: one tab per person, never for the
//!   conversation on screen in a focused window);
//! - someone with no socket gets a Web Push to each of their browsers ([`push`]: RFC 8291
//!   payloads, VAPID signed, from the durable `push_deliveries` with retries), and, for DMs and
//!   mentions, a mail if it is still unread after `NATTER_EMAIL_NOTIFY_DELAY_SECS` ([`mail`]:
//!   batched per person, with a one-click way to turn it off).
//!
//! Do not disturb drops notifications, never delays them. Levels, pauses, the schedule and
//! mail are set on the Preferences page and from each channel's menu ([`prefs`]). A workspace
//! may keep messages' text out of notifications (`workspaces.notification_text`).

pub mod db;
pub mod fanout;
pub mod keys;
pub mod mail;
pub mod prefs;
pub mod push;

use axum::Router;
use axum::routing::{get, post};

pub use crate::channels::levels::Level;
use crate::realtime::frames::Event;
use crate::realtime::presence_topic;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/settings/notifications",
            get(prefs::page).post(prefs::save),
        )
        .route("/settings/notifications/pause", post(prefs::pause))
        .route(
            "/w/{slug}/c/{channel_id}/notifications",
            post(prefs::set_level),
        )
        .route("/push/vapid-public-key", get(push::public_key))
        .route(
            "/push/subscriptions",
            post(push::subscribe).delete(push::unsubscribe),
        )
        .route(
            "/notifications/email-off/{token}",
            get(mail::off_page).post(mail::turn_off),
        )
}

/// The fan-out, push and mail workers; each runs on every node until the process ends.
pub fn spawn_workers(state: &AppState) {
    tokio::spawn(fanout::run_worker(state.clone()));
    tokio::spawn(push::run_worker(state.clone()));
    if state.config.notify.smtp_url.is_some() {
        tokio::spawn(mail::run_worker(state.clone()));
    }
}

/// Tells everyone watching the person's presence whether they are in do not disturb now.
pub async fn publish_dnd(state: &AppState, user_id: i64) {
    match db::in_dnd(&state.db, &[user_id]).await {
        Ok(resting) => {
            let until = resting.first().map(|(_, until)| until.unix_timestamp());
            state
                .realtime
                .publish(&presence_topic(user_id), Event::Dnd { user_id, until });
        }
        Err(e) => tracing::warn!(error = %e, "do not disturb was not published"),
    }
}
