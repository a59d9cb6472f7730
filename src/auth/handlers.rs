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
use super::{csrf, db, password, session, throttle};
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

/// Only same-site paths are followed after login, never another host.
fn safe_next(next: &str) -> String {
    if next.starts_with('/') && !next.starts_with("//") && !next.contains('\\') {
        next.to_owned()
    } else {
        "/".to_owned()
    }
}

pub async fn login_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    if session::current_user(&session, &state).await?.is_some() {
        return Ok(Redirect::to(&safe_next(&query.next)).into_response());
    }
    let page = LoginPage {
        csrf: csrf::token(&session).await?,
        email: String::new(),
        next: safe_next(&query.next),
        error: String::new(),
    };
    render_page(StatusCode::OK, &page)
}

pub async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    session: Session,
    Form(form): Form<LoginForm>,
) -> Result<Response, AppError> {
    let address = peer.ip().to_string();
    let login = form.email.trim().to_owned();
    let fail = |status: StatusCode, error: String, csrf: String| {
        let page = LoginPage {
            csrf,
            email: login.clone(),
            next: safe_next(&form.next),
            error,
        };
        render_page(status, &page)
    };
    if let Err(AppError::RateLimited {
        message,
        retry_after_secs,
    }) = throttle::check(&state.db, &login, &address).await
    {
        let mut response = fail(
            StatusCode::TOO_MANY_REQUESTS,
            message,
            csrf::token(&session).await?,
        )?;
        response
            .headers_mut()
            .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        return Ok(response);
    }
    let credentials = db::login_credentials(&state.db, &login).await?;
    let user_id = credentials.as_ref().map(|(id, _)| *id);
    let valid = password::verify(form.password.clone(), credentials.map(|(_, hash)| hash)).await?;
    match user_id {
        Some(user_id) if valid => {
            throttle::clear(&state.db, &login).await?;
            session::log_in(&session, user_id).await?;
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        _ => {
            throttle::record_failure(&state.db, &login, &address).await?;
            fail(
                StatusCode::UNPROCESSABLE_ENTITY,
                "That email and password do not match an account. Check them and try again.".into(),
                csrf::token(&session).await?,
            )
        }
    }
}

pub async fn signup_form(
    State(state): State<AppState>,
    session: Session,
    Query(query): Query<NextQuery>,
) -> Result<Response, AppError> {
    if session::current_user(&session, &state).await?.is_some() {
        return Ok(Redirect::to(&safe_next(&query.next)).into_response());
    }
    let page = SignupPage {
        csrf: csrf::token(&session).await?,
        form: NewAccount::default(),
        next: safe_next(&query.next),
        error: String::new(),
    };
    render_page(StatusCode::OK, &page)
}

pub async fn signup(
    State(state): State<AppState>,
    session: Session,
    Form(form): Form<SignupForm>,
) -> Result<Response, AppError> {
    let allowed = accounts::check_signup(&state, &form.account.email, &form.next).await;
    let created = match allowed {
        Ok(()) => accounts::create(&state.db, &form.account).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(user_id) => {
            session::log_in(&session, user_id).await?;
            Ok(Redirect::to(&safe_next(&form.next)).into_response())
        }
        Err(AppError::Validation(error)) => {
            let mut kept = form.account.clone();
            kept.password.clear();
            let page = SignupPage {
                csrf: csrf::token(&session).await?,
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
    let ended = session.id().map(|id| id.to_string());
    let user = session::current_user(&session, &state).await?;
    session::log_out(&session).await?;
    // Sockets opened with this session close too.
    if let Some(user) = user {
        crate::auth::live::session_closed(&state, user.id, ended);
    }
    Ok(Redirect::to("/login"))
}
