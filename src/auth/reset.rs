//! Password reset by mail. `/forgot` asks for an email and answers the same whether or not an
//! account uses it (and whether or not mail went), so it tells nobody who has an account. A
//! link is a random token stored only as its SHA-256, good once and for an hour; asking is
//! rate limited per address and per account (three links an hour). Using it sets the new
//! password and ends every session of the person, and their sockets.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::csrf::{self, Visitor};
use super::{accounts, db, live, password, throttle};
use crate::error::AppError;
use crate::mailer::{self, Mailer};
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;
use crate::web::templates::render_page;

/// How long a link works.
const VALID_MINUTES: i32 = 60;
/// Links one account may be sent in an hour.
const PER_ACCOUNT_PER_HOUR: i64 = 3;

#[derive(Template)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    csrf: String,
    email: String,
    /// Whether this server can send mail at all.
    mail_on: bool,
    sent: bool,
}

pub async fn forgot_page(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
) -> Result<Response, AppError> {
    let page = ForgotPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        email: String::new(),
        mail_on: state.config.notify.smtp_url.is_some(),
        sent: false,
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

#[derive(Deserialize)]
pub struct ForgotForm {
    #[serde(default)]
    email: String,
}

#[derive(Template)]
#[template(path = "auth/reset_mail.txt")]
struct ResetText<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "auth/reset_mail.html")]
struct ResetHtml<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
}

/// `POST /forgot`: mails a link if an account uses the address; the answer is the same either
/// way.
pub async fn forgot(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    visitor: Visitor,
    Form(form): Form<ForgotForm>,
) -> Result<Response, AppError> {
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    throttle::reset(&state.db, &address).await?;
    let email = form.email.trim().chars().take(320).collect::<String>();
    if let Err(e) = send_link(&state, &email).await {
        // Logged, not shown: the answer must not differ for accounts that exist.
        tracing::warn!(
            error = format!("{e:#}"),
            "a password reset mail was not sent"
        );
    }
    let page = ForgotPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        email,
        mail_on: state.config.notify.smtp_url.is_some(),
        sent: true,
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

async fn send_link(state: &AppState, email: &str) -> anyhow::Result<()> {
    let Some(mailer) = Mailer::from_config(&state.config.notify)? else {
        return Ok(());
    };
    let Some(user) = db::user_by_email(&state.db, email).await? else {
        return Ok(());
    };
    if user.is_bot {
        return Ok(());
    }
    let token = random_token();
    let created: bool = sqlx::query_scalar(
        "with recent as (select count(*) as n from password_resets
                         where user_id = $2 and created_at > now() - interval '1 hour')
         insert into password_resets (token_hash, user_id, expires_at)
         select $1, $2, now() + make_interval(mins => $3) from recent where recent.n < $4
         returning true",
    )
    .bind(hash_secret(&token))
    .bind(user.id)
    .bind(VALID_MINUTES)
    .bind(PER_ACCOUNT_PER_HOUR)
    .fetch_optional(&state.db)
    .await?
    .unwrap_or(false);
    if !created {
        return Ok(()); // three links this hour already
    }
    let url = format!("{}/reset/{token}", state.config.public_url);
    let (name, email) = (user.display_name.as_str(), user.email.as_str());
    let text = ResetText {
        name,
        email,
        url: &url,
    }
    .render()?;
    let html = ResetHtml {
        name,
        email,
        url: &url,
    }
    .render()?;
    let to = mailer::mailbox(name, email)
        .ok_or_else(|| anyhow::anyhow!("the account's email is not an address"))?;
    let message = mailer.compose(to, "Reset your Natter password", Vec::new(), text, html)?;
    mailer.send(message).await
}

#[derive(Template)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    csrf: String,
    token: String,
    /// The link is unknown, used or expired.
    invalid: bool,
    done: bool,
    error: String,
}

/// Whether the link can still be used (without using it).
async fn usable(state: &AppState, token: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from password_resets
                        where token_hash = $1 and used_at is null and expires_at > now())",
    )
    .bind(hash_secret(token))
    .fetch_one(&state.db)
    .await
}

pub async fn reset_page(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let invalid = !usable(&state, &token).await?;
    let page = ResetPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        token,
        invalid,
        done: false,
        error: String::new(),
    };
    let status = if invalid {
        StatusCode::GONE
    } else {
        StatusCode::OK
    };
    Ok((visitor, render_page(status, &page)?).into_response())
}

#[derive(Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    new_password: String,
}

/// `POST /reset/<token>`: the new password, once; every session of the person ends.
pub async fn reset(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Path(token): Path<String>,
    Form(form): Form<ResetForm>,
) -> Result<Response, AppError> {
    let csrf = csrf::page_token(&session, &visitor).await?;
    let page = |status, invalid, done, error: String| {
        let page = ResetPage {
            csrf: csrf.clone(),
            token: token.clone(),
            invalid,
            done,
            error,
        };
        render_page(status, &page)
    };
    if !usable(&state, &token).await? {
        return page(StatusCode::GONE, true, false, String::new());
    }
    if let Err(AppError::Validation(error)) = accounts::check_password(&form.new_password) {
        return page(StatusCode::UNPROCESSABLE_ENTITY, false, false, error);
    }
    let hash = password::hash(form.new_password.clone()).await?;
    // Taking the link, setting the password and ending the sessions are one transaction: a
    // second use finds the link taken, and a failure leaves both as they were.
    let mut tx = state.db.begin().await?;
    let user_id: Option<i64> = sqlx::query_scalar(
        "update password_resets set used_at = now()
         where token_hash = $1 and used_at is null and expires_at > now()
         returning user_id",
    )
    .bind(hash_secret(&token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some(user_id) = user_id else {
        return page(StatusCode::GONE, true, false, String::new());
    };
    db::store_password(&mut *tx, user_id, &hash).await?;
    let ended = db::end_sessions(&mut *tx, user_id, None).await?;
    tx.commit().await?;
    for key in ended {
        live::session_closed(&state, user_id, Some(key));
    }
    page(StatusCode::OK, false, true, String::new())
}
