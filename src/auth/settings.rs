//! A person's own account pages: `/settings/password` (change it, which ends every other
//! session and its sockets) and `/settings/sessions` (each logged-in browser with its address
//! and last use, and "Log out" for one or for all the others).

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::OffsetDateTime;

use super::{CurrentUser, accounts, live, password, throttle};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "auth/password.html")]
struct PasswordPage {
    me: CurrentUser,
    notice: String,
    error: String,
}

pub async fn password_page(me: CurrentUser) -> Result<Response, AppError> {
    render_page(
        StatusCode::OK,
        &PasswordPage {
            me,
            notice: String::new(),
            error: String::new(),
        },
    )
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// `POST /settings/password`: needs the current password (throttled like logins); ends every
/// other session of the person, and their sockets.
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    me: CurrentUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    let outcome = async {
        accounts::check_password(&form.new_password)?;
        confirm_password(&state, me.id, &address, &form.current_password).await?;
        let hash = password::hash(form.new_password.clone()).await?;
        let ended = super::db::set_password(&state.db, me.id, &hash, Some(&me.session_key)).await?;
        for key in ended {
            live::session_closed(&state, me.id, Some(key));
        }
        Ok(())
    }
    .await;
    let (status, notice, error) = match outcome {
        Ok(()) => (
            StatusCode::OK,
            "Your password is changed. Every other session was logged out.".to_owned(),
            String::new(),
        ),
        Err(AppError::Validation(error)) => {
            (StatusCode::UNPROCESSABLE_ENTITY, String::new(), error)
        }
        Err(e) => return Err(e),
    };
    render_page(status, &PasswordPage { me, notice, error })
}

/// Checks the person's current password before a change to their account's security,
/// throttled like logins (the same counts: a thief with the session cannot guess at it).
pub(super) async fn confirm_password(
    state: &AppState,
    user_id: i64,
    address: &str,
    given: &str,
) -> Result<(), AppError> {
    let attempt = throttle::begin(&state.db, &format!("user:{user_id}"), address).await?;
    let stored = super::db::password_hash(&state.db, user_id).await?;
    if !password::verify(given.to_owned(), stored).await? {
        return Err(AppError::Validation(
            "That is not your current password.".into(),
        ));
    }
    throttle::succeeded(&state.db, attempt).await?;
    Ok(())
}

/// One session on the sessions page.
pub struct SessionRow {
    pub key: String,
    pub browser: String,
    pub address: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "auth/sessions.html")]
struct SessionsPage {
    me: CurrentUser,
    sessions: Vec<SessionRow>,
}

/// "Chrome on Linux", from a User-Agent header.
pub fn browser_label(agent: Option<&str>) -> String {
    let Some(agent) = agent else {
        return "Unknown browser".to_owned();
    };
    let browser = if agent.contains("Firefox/") {
        "Firefox"
    } else if agent.contains("Edg/") {
        "Edge"
    } else if agent.contains("Chrome/") || agent.contains("Chromium/") {
        "Chrome"
    } else if agent.contains("Safari/") {
        "Safari"
    } else {
        "A browser"
    };
    let system = if agent.contains("Android") {
        "Android"
    } else if agent.contains("iPhone") || agent.contains("iPad") {
        "iOS"
    } else if agent.contains("Windows") {
        "Windows"
    } else if agent.contains("Mac OS X") || agent.contains("Macintosh") {
        "macOS"
    } else if agent.contains("Linux") {
        "Linux"
    } else {
        return browser.to_owned();
    };
    format!("{browser} on {system}")
}

fn when(at: OffsetDateTime) -> String {
    format!(
        "{}-{:02}-{:02} {:02}:{:02} UTC",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute()
    )
}

pub async fn sessions_page(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Response, AppError> {
    let sessions = super::db::sessions_of(&state.db, me.id)
        .await?
        .into_iter()
        .map(|s| SessionRow {
            current: s.id == me.session_key,
            browser: browser_label(s.user_agent.as_deref()),
            address: s.address.unwrap_or_else(|| "unknown".to_owned()),
            created_at: when(s.created_at),
            last_seen_at: when(s.last_seen_at),
            key: s.id,
        })
        .collect();
    render_page(StatusCode::OK, &SessionsPage { me, sessions })
}

/// `POST /settings/sessions/<key>/end`: logs that session out (404 if it is not the asker's).
pub async fn end_session(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(key): Path<String>,
) -> Result<Response, AppError> {
    if !super::db::end_session_of(&state.db, me.id, &key).await? {
        return Err(AppError::NotFound);
    }
    live::session_closed(&state, me.id, Some(key.clone()));
    let to = if key == me.session_key {
        "/login"
    } else {
        "/settings/sessions"
    };
    Ok(Redirect::to(to).into_response())
}

/// `POST /settings/sessions/end-others`: every session but this one.
pub async fn end_other_sessions(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Response, AppError> {
    for key in super::db::end_sessions(&state.db, me.id, Some(&me.session_key)).await? {
        live::session_closed(&state, me.id, Some(key));
    }
    Ok(Redirect::to("/settings/sessions").into_response())
}

#[cfg(test)]
mod tests {
    use super::browser_label;

    #[test]
    fn browsers_are_named_as_people_know_them() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        assert_eq!(browser_label(Some(chrome)), "Chrome on Linux");
        let safari = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
        assert_eq!(browser_label(Some(safari)), "Safari on iOS");
        let firefox =
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0";
        assert_eq!(browser_label(Some(firefox)), "Firefox on Windows");
        assert_eq!(browser_label(Some("curl/8.0")), "A browser");
        assert_eq!(browser_label(None), "Unknown browser");
    }
}
