//! Who is asking: the session keys, logging in and out, and the [`CurrentUser`] extractor.
//!
//! Every logged-in session has a row in `user_sessions` (its browser, address and last use),
//! named by the `session_key` its data holds; the extractor checks the row is still there, so
//! ending a session anywhere (its person's sessions page, a password change or reset) ends it at
//! its next request, and its sockets at once (`live::session_closed` with the same key).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::{csrf, db};
use crate::error::AppError;
use crate::state::AppState;

const USER_ID: &str = "user_id";
/// The session's row in `user_sessions`.
const SESSION_KEY: &str = "session_key";

/// Where a login came from, for the sessions page.
pub struct Origin {
    pub user_agent: Option<String>,
    pub address: String,
}

impl Origin {
    pub fn of(headers: &axum::http::HeaderMap, address: String) -> Self {
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|a| a.chars().take(300).collect());
        Self {
            user_agent,
            address,
        }
    }
}

/// The logged-in user of this request, with the session's CSRF token for the forms it renders.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub csrf: String,
    /// This session's row in `user_sessions` (what its sockets are closed by).
    pub session_key: String,
    /// Their picture ([`super::avatar::url`]); `None` shows initials.
    pub avatar_key: Option<String>,
    /// The IANA zone times are shown in; "" for the browser's own.
    pub time_zone: String,
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let session = Session::from_request_parts(parts, state)
            .await
            .map_err(|(_, why)| AppError::Internal(anyhow::anyhow!("no session layer: {why}")))?;
        current_user(&session, state)
            .await?
            .ok_or(AppError::Unauthorized)
    }
}

/// The user this session belongs to, if it is logged in and the user is still active.
pub async fn current_user(
    session: &Session,
    state: &AppState,
) -> Result<Option<CurrentUser>, AppError> {
    let Some(user_id) = session.get::<i64>(USER_ID).await? else {
        return Ok(None);
    };
    let key = match session.get::<String>(SESSION_KEY).await? {
        Some(key) => key,
        // A session from before sessions had rows: it gets one now, and goes on.
        None => {
            let key = crate::secrets::random_token();
            db::insert_session(&state.db, &key, user_id, None, None).await?;
            session.insert(SESSION_KEY, &key).await?;
            key
        }
    };
    let Some(user) = db::session_user(&state.db, user_id, &key).await? else {
        // Deactivated, deleted, or this session was ended elsewhere: it ends here.
        session.flush().await?;
        return Ok(None);
    };
    Ok(Some(CurrentUser {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        csrf: csrf::token(session).await?,
        session_key: key,
        avatar_key: user.avatar_key,
        time_zone: user.time_zone.unwrap_or_default(),
    }))
}

/// Starts a logged-in session under a new id, so a session id fixed before login is useless,
/// with its row for the sessions page.
pub async fn log_in(
    session: &Session,
    state: &AppState,
    user_id: i64,
    origin: &Origin,
) -> Result<(), AppError> {
    session.cycle_id().await?;
    let key = crate::secrets::random_token();
    db::insert_session(
        &state.db,
        &key,
        user_id,
        origin.user_agent.as_deref(),
        Some(&origin.address),
    )
    .await?;
    session.insert(USER_ID, user_id).await?;
    session.insert(SESSION_KEY, &key).await?;
    csrf::rotate(session).await?;
    Ok(())
}

/// Ends this session: its row and its data.
pub async fn log_out(session: &Session, state: &AppState) -> Result<(), AppError> {
    if let Some(key) = session.get::<String>(SESSION_KEY).await? {
        db::delete_session(&state.db, &key).await?;
    }
    session.flush().await?;
    Ok(())
}
