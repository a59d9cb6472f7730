//! Who is asking: the session keys, logging in and out, and the [`CurrentUser`] extractor.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use tower_sessions::Session;

use super::{csrf, db};
use crate::error::AppError;
use crate::state::AppState;

const USER_ID: &str = "user_id";

/// The logged-in user of this request, with the session's CSRF token for the forms it renders.
#[derive(Clone, Debug)]
pub struct CurrentUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub csrf: String,
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
    let Some(user) = db::active_user(&state.db, user_id).await? else {
        // Deactivated or deleted since this session began: it ends here.
        session.flush().await?;
        return Ok(None);
    };
    Ok(Some(CurrentUser {
        id: user.id,
        username: user.username,
        display_name: user.display_name,
        csrf: csrf::token(session).await?,
    }))
}

/// Starts a logged-in session under a new id, so a session id fixed before login is useless.
pub async fn log_in(session: &Session, user_id: i64) -> Result<(), AppError> {
    session.cycle_id().await?;
    session.insert(USER_ID, user_id).await?;
    csrf::rotate(session).await?;
    Ok(())
}

pub async fn log_out(session: &Session) -> Result<(), AppError> {
    session.flush().await?;
    Ok(())
}
