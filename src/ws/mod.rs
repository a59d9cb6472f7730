//! `/ws`: the socket endpoint. It authorises a socket, follows the user's channels and
//! carries the events the domains publish on the transport (`realtime`) to the client, in seq
//! order, with no duplicate and no hole.
//!
//! - this file: the route, the upgrade and who is asking (a bearer token, or the session cookie
//!   from a page of this site: the `Origin` must be `NATTER_PUBLIC_URL`);
//! - [`connection`]: one socket's life: the I/O loop, subscriptions, presence;
//! - [`routing`]: what each event from the hub does, and catching up from Postgres;
//! - [`ordering`]: per channel, what the socket has sent and the reorder buffer (pure logic);
//! - [`commands`]: what the client asks (`hello`, `read`, `typing`, `send`, …).
//!
//! A socket's life: authenticate, `hello` → subscribe → `ready` → catch up after each cursor →
//! live. Subscribing before catching up, and catching up while messages are being sent, gives
//! every message once and in order, whatever the bus does.

mod commands;
mod connection;
pub mod ordering;
mod routing;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tower_sessions::Session;

use self::connection::Connection;
use crate::auth::{session, tokens};
use crate::error::AppError;
use crate::state::AppState;

pub use self::ordering::CATCH_UP_CAP;

/// The largest frame a client may send.
pub const MAX_FRAME: usize = 64 * 1024;
pub const CLOSE_TOO_SLOW: u16 = 4008;
pub const CLOSE_SESSION_ENDED: u16 = 4001;
pub const CLOSE_NO_PING: u16 = 4000;

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

/// Who a socket belongs to.
struct Who {
    user_id: i64,
    name: String,
    /// The session that opened it (`None` for a bearer token): logging that session out closes
    /// this socket.
    session_id: Option<String>,
}

async fn upgrade(
    State(state): State<AppState>,
    session: Session,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let who = match authenticate(&state, &session, &headers).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let Some(slot) = state.realtime.sockets.take(who.user_id) else {
        let mut refused = (
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_sockets: close another tab or device first",
        )
            .into_response();
        refused
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return refused;
    };
    // tungstenite's default buffers cost ~128 KiB each per socket; chat frames are small.
    ws.read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(MAX_FRAME)
        .max_frame_size(MAX_FRAME)
        .on_upgrade(move |socket| async move {
            let connection = Connection::new(state, who);
            connection.run(socket).await;
            drop(slot);
        })
}

/// A bearer token (tools and bots), or the session cookie from a page of this site.
async fn authenticate(
    state: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> Result<Who, Response> {
    let refuse = |status: StatusCode, why: &str| (status, why.to_owned()).into_response();
    if let Some(token) = tokens::bearer(headers) {
        let user = tokens::user_for_token(&state.db, token)
            .await
            .map_err(|e| AppError::from(e).into_response())?
            .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "invalid_auth"))?;
        return Ok(Who {
            user_id: user.id,
            name: user.display_name,
            session_id: None,
        });
    }
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    if origin != Some(origin_of(&state.config.public_url)) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "cross-origin WebSocket refused: the Origin must be NATTER_PUBLIC_URL",
        ));
    }
    let user = session::current_user(session, state)
        .await
        .map_err(IntoResponse::into_response)?
        .ok_or_else(|| refuse(StatusCode::UNAUTHORIZED, "not_authed"))?;
    Ok(Who {
        user_id: user.id,
        name: user.display_name,
        session_id: Some(user.session_key),
    })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(slash) => &url[..after_scheme + slash],
        None => url,
    }
}
