//! A person's email address: confirming it, and changing it.
//!
//! When mail is configured, a new account's address gets a confirmation link, and changing
//! one's address (with the current password) sends a link to the new address: the change
//! happens only when it is opened there, so nobody moves an account to an address they do not
//! hold. Links are random tokens stored as SHA-256, good once, for a day. Whether the new
//! address is someone else's is never said: the answer is the same, and no mail goes.
//! Without mail, a change takes effect at once and nothing is marked confirmed.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::csrf::{self, Visitor};
use super::{CurrentUser, accounts, settings};
use crate::error::{AppError, violated_constraint};
use crate::mailer::{self, Mailer};
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;
use crate::web::templates::render_page;

/// How long a link works.
const VALID_HOURS: i32 = 24;
/// Links one account may be sent in an hour.
const PER_HOUR: i64 = 5;

#[derive(Template)]
#[template(path = "auth/verify_mail.txt")]
struct MailText<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
}

#[derive(Template)]
#[template(path = "auth/verify_mail.html")]
struct MailHtml<'a> {
    name: &'a str,
    email: &'a str,
    url: &'a str,
}

/// Mails `email` a link that confirms it as the person's address; false when this server has
/// no mail, or the person asked too often this hour.
pub async fn send_link(
    state: &AppState,
    user_id: i64,
    name: &str,
    email: &str,
) -> anyhow::Result<bool> {
    let Some(mailer) = Mailer::from_config(&state.config.notify)? else {
        return Ok(false);
    };
    let token = random_token();
    let created: bool = sqlx::query_scalar(
        "with recent as (select count(*) as n from email_verifications
                         where user_id = $2 and created_at > now() - interval '1 hour')
         insert into email_verifications (token_hash, user_id, email, expires_at)
         select $1, $2, $3, now() + make_interval(hours => $4) from recent where recent.n < $5
         returning true",
    )
    .bind(hash_secret(&token))
    .bind(user_id)
    .bind(email)
    .bind(VALID_HOURS)
    .bind(PER_HOUR)
    .fetch_optional(&state.db)
    .await?
    .unwrap_or(false);
    if !created {
        return Ok(false);
    }
    let url = format!("{}/verify-email/{token}", state.config.public_url);
    let text = MailText {
        name,
        email,
        url: &url,
    }
    .render()?;
    let html = MailHtml {
        name,
        email,
        url: &url,
    }
    .render()?;
    let to = mailer::mailbox(name, email)
        .ok_or_else(|| anyhow::anyhow!("{email:?} is not an address"))?;
    let message = mailer.compose(
        to,
        "Confirm your email address for Natter",
        Vec::new(),
        text,
        html,
    )?;
    mailer.send(message).await?;
    Ok(true)
}

/// Sends a new account its confirmation link; a failure is logged (the account is made).
pub async fn welcome(state: &AppState, user_id: i64, name: &str, email: &str) {
    if let Err(e) = send_link(state, user_id, name, email).await {
        tracing::warn!(error = format!("{e:#}"), "a confirmation mail was not sent");
    }
}

/// The address and whether it is confirmed, for the profile page.
pub async fn status(db: &sqlx::PgPool, user_id: i64) -> sqlx::Result<(String, bool)> {
    sqlx::query_as("select email, email_verified_at is not null from users where id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await
}

#[derive(Deserialize)]
pub struct ChangeForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    current_password: String,
}

/// `POST /settings/email`: a new address, with the current password (throttled like logins).
pub async fn change(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    me: CurrentUser,
    Form(form): Form<ChangeForm>,
) -> Result<Response, AppError> {
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    let email = form.email.trim().to_owned();
    let checked = async {
        if !accounts::is_plausible_email(&email) {
            return Err(AppError::Validation(
                "Enter an email address like name@example.com.".into(),
            ));
        }
        settings::confirm_password(&state, me.id, &address, &form.current_password).await
    }
    .await;
    if let Err(AppError::Validation(error)) = checked {
        return super::profile::refused(&state, me, error).await;
    }
    checked?;
    let (current, _) = status(&state.db, me.id).await?;
    if current.eq_ignore_ascii_case(&email) {
        return super::profile::refused(&state, me, "That is your address already.".into()).await;
    }
    if state.config.notify.smtp_url.is_some() {
        // The same answer whether or not another account has the address; only a free one
        // is sent a link.
        let taken: bool = sqlx::query_scalar(
            "select exists (select 1 from users where lower(email) = lower($1))",
        )
        .bind(&email)
        .fetch_one(&state.db)
        .await?;
        if !taken && let Err(e) = send_link(&state, me.id, &me.display_name, &email).await {
            tracing::warn!(error = format!("{e:#}"), "a confirmation mail was not sent");
        }
        let notice = format!(
            "We sent a link to {email}. Your address changes when you open it there (within a day)."
        );
        return super::profile::noticed(&state, me, notice).await;
    }
    let changed =
        sqlx::query("update users set email = $2, email_verified_at = null where id = $1")
            .bind(me.id)
            .bind(&email)
            .execute(&state.db)
            .await;
    match changed {
        Ok(_) => {
            let notice = format!("Your email address is now {email}.");
            super::profile::noticed(&state, me, notice).await
        }
        Err(e) if violated_constraint(&e) == Some("users_email_key") => {
            super::profile::refused(&state, me, "That email address cannot be used.".into()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /settings/email/resend`: the confirmation link for the current address again.
pub async fn resend(State(state): State<AppState>, me: CurrentUser) -> Result<Response, AppError> {
    let (email, confirmed) = status(&state.db, me.id).await?;
    if confirmed {
        return super::profile::noticed(&state, me, "Your address is confirmed already.".into())
            .await;
    }
    let notice = match send_link(&state, me.id, &me.display_name, &email).await {
        Ok(true) => format!("We sent a new link to {email}."),
        Ok(false) => {
            "No link was sent: this server has no mail, or you asked five times this hour."
                .to_owned()
        }
        Err(e) => {
            tracing::warn!(error = format!("{e:#}"), "a confirmation mail was not sent");
            "The mail could not be sent just now; try again in a while.".to_owned()
        }
    };
    super::profile::noticed(&state, me, notice).await
}

#[derive(Template)]
#[template(path = "auth/verify.html")]
struct VerifyPage {
    csrf: String,
    token: String,
    /// Unknown, used or expired.
    invalid: bool,
    /// Confirmed: the address.
    done: String,
    error: String,
}

/// `GET /verify-email/<token>`: a button, so that a mail scanner opening the link confirms
/// nothing.
pub async fn page(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let usable: bool = sqlx::query_scalar(
        "select exists (select 1 from email_verifications
                        where token_hash = $1 and used_at is null and expires_at > now())",
    )
    .bind(hash_secret(&token))
    .fetch_one(&state.db)
    .await?;
    let page = VerifyPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        token,
        invalid: !usable,
        done: String::new(),
        error: String::new(),
    };
    let status = if usable {
        StatusCode::OK
    } else {
        StatusCode::GONE
    };
    Ok((visitor, render_page(status, &page)?).into_response())
}

/// `POST /verify-email/<token>`: the address is the person's, confirmed; the link is used up.
pub async fn confirm(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let csrf = csrf::page_token(&session, &visitor).await?;
    let answer = |status, invalid, done: String, error: String| {
        let page = VerifyPage {
            csrf: csrf.clone(),
            token: token.clone(),
            invalid,
            done,
            error,
        };
        render_page(status, &page)
    };
    // Taking the link and changing the address are one transaction: a failure leaves both.
    let mut tx = state.db.begin().await?;
    let taken: Option<(i64, String)> = sqlx::query_as(
        "update email_verifications set used_at = now()
         where token_hash = $1 and used_at is null and expires_at > now()
         returning user_id, email",
    )
    .bind(hash_secret(&token))
    .fetch_optional(&mut *tx)
    .await?;
    let Some((user_id, email)) = taken else {
        return answer(StatusCode::GONE, true, String::new(), String::new());
    };
    let changed = sqlx::query(
        "update users set email = $2, email_verified_at = now()
         where id = $1 and deactivated_at is null",
    )
    .bind(user_id)
    .bind(&email)
    .execute(&mut *tx)
    .await;
    match changed {
        Ok(_) => {
            tx.commit().await?;
            answer(StatusCode::OK, false, email, String::new())
        }
        Err(e) if violated_constraint(&e) == Some("users_email_key") => answer(
            StatusCode::CONFLICT,
            false,
            String::new(),
            "That address is used by another account now, so it cannot be yours here.".into(),
        ),
        Err(e) => Err(e.into()),
    }
}
