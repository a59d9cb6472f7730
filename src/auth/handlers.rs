//! The sign-up, log-in and log-out pages.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::accounts::{self, NewAccount};
use super::csrf::{self, Visitor};
use super::{db, password, session, throttle};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    csrf: String,
    email: String,
    next: String,
    error: String,
    /// Single sign-on is configured: "Continue with SSO".
    sso: bool,
}

#[derive(Template)]
#[template(path = "auth/signup.html")]
struct SignupPage {
    csrf: String,
    form: NewAccount,
    next: String,
    error: String,
}

#[derive(Deserialize, Default)]
pub struct NextQuery {
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
}

#[derive(Deserialize)]
pub struct SignupForm {
    #[serde(flatten)]
    account: NewAccount,
    #[serde(default)]
    next: String,
}

/// Only same-site paths are followed after login, never another host. The check is made on
/// what a browser will see: it drops tabs and newlines anywhere in a URL and reads `\` as `/`,
/// so `/\t/evil.example` and `/\\evil.example` are `//evil.example`, another host. What is
/// left must be a path that starts with exactly one `/` and holds no control character, no
/// backslash, and no escaped slash or backslash that a server might decode into one.
pub fn safe_next(next: &str) -> String {
    let seen: String = next
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect();
    let lower = seen.to_ascii_lowercase();
    let ok = seen.starts_with('/')
        && !seen.starts_with("//")
        && !seen.contains('\\')
        && !seen.chars().any(|c| c.is_control())
        && !lower.contains("%2f")
        && !lower.contains("%5c")
        && !lower.contains("%09")
        && !lower.contains("%0a")
        && !lower.contains("%0d");
    if ok { seen } else { "/".to_owned() }
}

pub async fn login_form(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    if session::current_user(&session, &state).await?.is_some() {
        return Ok(Redirect::to(&safe_next(&query.next)).into_response());
    }
    let page = LoginPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        email: String::new(),
        next: safe_next(&query.next),
        error: String::new(),
        sso: state.config.oidc.is_some(),
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

/// The login page saying why a login through the identity provider did not happen (403):
/// nothing about whether an account exists beyond what the provider itself vouched for.
pub(super) async fn login_refused(
    state: &AppState,
    session: &Session,
    visitor: Visitor,
    why: &str,
) -> Result<Response, AppError> {
    let page = LoginPage {
        csrf: csrf::page_token(session, &visitor).await?,
        email: String::new(),
        next: "/".to_owned(),
        error: why.to_owned(),
        sso: state.config.oidc.is_some(),
    };
    Ok((visitor, render_page(StatusCode::FORBIDDEN, &page)?).into_response())
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    session: Session,
    visitor: Visitor,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    let login = form.email.trim().to_owned();
    let fail = |status: StatusCode, error: String, csrf: String| {
        let page = LoginPage {
            csrf,
            email: login.clone(),
            next: safe_next(&form.next),
            error,
            sso: state.config.oidc.is_some(),
        };
        render_page(status, &page)
    };
    let credentials = db::login_credentials(&state.db, &login).await?;
    let user_id = credentials.as_ref().map(|(id, _)| *id);
    // Email or username, one person: the attempt counts against their id.
    let account = match user_id {
        Some(id) => format!("user:{id}"),
        None => format!("name:{}", login.to_lowercase()),
    };
    let attempt = match throttle::begin(&state.db, &account, &address).await {
        Ok(attempt) => attempt,
        Err(AppError::RateLimited {
            message,
            retry_after_secs,
        }) => {
            let mut response = fail(
                StatusCode::TOO_MANY_REQUESTS,
                message,
                csrf::page_token(&session, &visitor).await?,
            )?;
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            return Ok(response);
        }
        Err(e) => return Err(e),
    };
    let valid = password::verify(form.password.clone(), credentials.map(|(_, hash)| hash)).await?;
    match user_id {
        Some(user_id) if valid => {
            throttle::succeeded(&state.db, attempt).await?;
            let to = super::two_factor::after_first_factor(
                &state,
                &session,
                user_id,
                &session::Origin::of(&headers, address.clone()),
                &form.next,
            )
            .await?;
            Ok(Redirect::to(&to).into_response())
        }
        // The attempt stays counted as a failure.
        _ => fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That email and password do not match an account. Check them and try again.".into(),
            csrf::page_token(&session, &visitor).await?,
        ),
    }
}

pub async fn signup_form(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    if session::current_user(&session, &state).await?.is_some() {
        return Ok(Redirect::to(&safe_next(&query.next)).into_response());
    }
    let page = SignupPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        form: NewAccount::default(),
        next: safe_next(&query.next),
        error: String::new(),
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

pub async fn signup(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    session: Session,
    visitor: Visitor,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    throttle::signup(&state.db, &address).await?;
    let allowed = accounts::check_signup(&state, &form.account.email, &form.next).await;
    let created = match allowed {
        Ok(()) => accounts::create(&state.db, &form.account).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(user_id) => {
            session::log_in(
                &session,
                &state,
                user_id,
                &session::Origin::of(&headers, address.clone()),
            )
            .await?;
            // The confirmation mail goes on its own, so a slow mail server never holds up
            // the sign-up.
            let account = form.account.normalised()?;
            let mailing = state.clone();
            tokio::spawn(async move {
                super::email::welcome(&mailing, user_id, &account.name, &account.email).await;
            });
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        Err(AppError::Validation(error)) => {
            let mut kept = form.account.clone();
            kept.password.clear();
            let page = SignupPage {
                csrf: csrf::page_token(&session, &visitor).await?,
                form: kept,
                next: safe_next(&form.next),
                error,
            };
            render_page(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other),
    }
}

pub async fn logout(State(state): State<AppState>, session: Session) -> Result<Redirect, AppError> {
    let user = session::current_user(&session, &state).await?;
    session::log_out(&session, &state).await?;
    // Sockets opened with this session close too.
    if let Some(user) = user {
        crate::auth::live::session_closed(&state, user.id, Some(user.session_key));
    }
    Ok(Redirect::to("/login"))
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn only_same_site_paths_are_followed() {
        for good in [
            "/",
            "/w/acme",
            "/invite/abc123",
            "/w/acme/c/7?around=12#m-12",
            "/ünïcode",
        ] {
            assert_eq!(safe_next(good), good, "{good}");
        }
        // Known open-redirect bypasses, each as a browser would resolve it.
        for bad in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            "/%2f%2fevil.example",
            "/%2F/evil.example",
            "/%5cevil.example",
            "/%09/evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/\u{0}/evil.example",
            "/\u{1b}[0m",
        ] {
            assert_eq!(safe_next(bad), "/", "{bad:?}");
        }
    }
}
