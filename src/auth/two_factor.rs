//! Two-factor authentication with TOTP (RFC 6238: six digits every 30 seconds, from any
//! authenticator app).
//!
//! - Setting up (`/settings/security`): a fresh secret is shown as a QR code and as text; it
//!   is kept only once a code from the app confirms it. Ten single-use recovery codes are
//!   then shown once and stored as hashes.
//! - Logging in: after the right password, a person with two-factor on is not logged in yet.
//!   The session holds who they claim to be for ten minutes, and `/login/code` asks for a
//!   "Code": one from the app or a recovery code. Codes are throttled like passwords.
//! - No code works twice: the time step of each accepted code is stored, and a code of that
//!   step or an earlier one is refused (the library checks one step either side of now).
//! - Turning it off, or making new recovery codes, needs the password.
//! - A workspace may require two-factor of its members (`workspaces.require_two_factor`):
//!   [`super::membership::require_member`] sends those without it here first.

use std::net::SocketAddr;

use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use totp_rs::{Algorithm, Builder, Totp};
use tower_sessions::Session;

use super::csrf::{self, Visitor};
use super::{CurrentUser, safe_next, session, settings, throttle};
use crate::error::AppError;
use crate::secrets::hash_secret;
use crate::state::AppState;
use crate::web::templates::render_page;

/// How apps label the account.
const ISSUER: &str = "Natter";
const STEP_SECS: u64 = 30;
const RECOVERY_CODES: usize = 10;
/// How long the code step of a login may take after the password.
const PENDING_SECS: i64 = 10 * 60;
/// The session key of a login waiting for its code.
const PENDING: &str = "two_factor_pending";

fn invalid(message: &str) -> AppError {
    AppError::Validation(message.to_owned())
}

/// The TOTP of a secret: SHA-1, six digits, 30 s, one step of clock drift either way (what
/// every authenticator app speaks).
fn totp(secret: &[u8], account: &str) -> Result<Totp, AppError> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP_SECS)
        .with_secret(secret.to_vec())
        .with_issuer(Some(ISSUER))
        // ':' separates the issuer from the account in the otpauth label.
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("TOTP: {e}")))
}

fn now() -> u64 {
    time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64
}

/// Ten recovery codes like `k3m9q-x7p2d`: 50 random bits each, in letters and digits that
/// cannot be mistaken for one another.
fn recovery_codes() -> Vec<String> {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
    let mut rng = rand::rng();
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut code = String::with_capacity(11);
            for i in 0..10 {
                if i == 5 {
                    code.push('-');
                }
                code.push(ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char);
            }
            code
        })
        .collect()
}

/// A recovery code's stored form: the person's id is mixed in, so one hash fits one person.
fn recovery_hash(user_id: i64, code: &str) -> String {
    let code: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hash_secret(&format!("{user_id}:{code}"))
}

// ------------------------------------------------------------------ storage

/// The person's TOTP row: the secret, and whether it is confirmed.
#[derive(sqlx::FromRow)]
struct Row {
    secret: Vec<u8>,
    enabled_at: Option<time::OffsetDateTime>,
}

async fn row(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Option<Row>> {
    sqlx::query_as("select secret, enabled_at from user_totp where user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Whether the person has two-factor on.
pub async fn is_enabled(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from user_totp where user_id = $1 and enabled_at is not null)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Takes a code for the person, once: a current code from their app whose time step is
/// later than the last one used, or one of their unused recovery codes.
async fn take_code(db: &sqlx::PgPool, user_id: i64, given: &str) -> Result<bool, AppError> {
    let code: String = given.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()) {
        let Some(row) = row(db, user_id).await? else {
            return Ok(false);
        };
        let Some(step) = totp(&row.secret, "")?.check(&code, now()) else {
            return Ok(false);
        };
        // Claimed in one statement: two logins racing with one code cannot both win.
        let claimed = sqlx::query(
            "update user_totp set last_used_step = $2
             where user_id = $1 and enabled_at is not null
               and (last_used_step is null or last_used_step < $2)",
        )
        .bind(user_id)
        .bind(step as i64)
        .execute(db)
        .await?;
        return Ok(claimed.rows_affected() == 1);
    }
    let used = sqlx::query(
        "update recovery_codes set used_at = now()
         where user_id = $1 and code_hash = $2 and used_at is null",
    )
    .bind(user_id)
    .bind(recovery_hash(user_id, &code))
    .execute(db)
    .await?;
    Ok(used.rows_affected() == 1)
}

/// New recovery codes in place of the old ones; the codes themselves, to show once.
async fn replace_recovery_codes(
    db: &mut sqlx::PgConnection,
    user_id: i64,
) -> sqlx::Result<Vec<String>> {
    let codes = recovery_codes();
    let hashes: Vec<String> = codes.iter().map(|c| recovery_hash(user_id, c)).collect();
    sqlx::query("delete from recovery_codes where user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query("insert into recovery_codes (user_id, code_hash) select $1, unnest($2::text[])")
        .bind(user_id)
        .bind(&hashes)
        .execute(&mut *db)
        .await?;
    Ok(codes)
}

// ------------------------------------------------------------------ the settings page

#[derive(Template)]
#[template(path = "auth/security.html")]
struct SecurityPage {
    me: CurrentUser,
    /// Two-factor is on, since this date.
    enabled_since: String,
    /// While setting up: the secret as text and its QR code (a base64 PNG).
    secret_text: String,
    qr_png: String,
    /// Right after confirming or renewing: the recovery codes, shown this once.
    codes: Vec<String>,
    codes_left: i64,
    /// Workspaces of the person that require two-factor.
    requiring: Vec<String>,
    notice: String,
    error: String,
}

impl SecurityPage {
    /// The secret in groups of four, as apps show it.
    pub fn secret_groups(&self) -> String {
        self.secret_text
            .as_bytes()
            .chunks(4)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

async fn security_page(
    state: &AppState,
    me: CurrentUser,
    status: StatusCode,
    codes: Vec<String>,
    notice: String,
    error: String,
) -> Result<Response, AppError> {
    let found = row(&state.db, me.id).await?;
    let (mut secret_text, mut qr_png, mut enabled_since) =
        (String::new(), String::new(), String::new());
    match &found {
        Some(Row {
            enabled_at: Some(at),
            ..
        }) => {
            enabled_since = at
                .date()
                .format(time::macros::format_description!(
                    "[month repr:long] [day padding:none], [year]"
                ))
                .unwrap_or_default();
        }
        Some(Row { secret, .. }) => {
            let (_, email, _) = super::profile::load(&state.db, me.id).await?;
            let totp = totp(secret, &email)?;
            secret_text = totp.secret().to_base32();
            qr_png = totp
                .to_qr_base64()
                .map_err(|e| AppError::Internal(anyhow::anyhow!("QR code: {e}")))?;
        }
        None => {}
    }
    let codes_left: i64 = sqlx::query_scalar(
        "select count(*) from recovery_codes where user_id = $1 and used_at is null",
    )
    .bind(me.id)
    .fetch_one(&state.db)
    .await?;
    let requiring = sqlx::query_scalar(
        "select w.name from workspaces w join workspace_members wm on wm.workspace_id = w.id
         where wm.user_id = $1 and wm.deactivated_at is null and w.require_two_factor
         order by lower(w.name)",
    )
    .bind(me.id)
    .fetch_all(&state.db)
    .await?;
    render_page(
        status,
        &SecurityPage {
            me,
            enabled_since,
            secret_text,
            qr_png,
            codes,
            codes_left,
            requiring,
            notice,
            error,
        },
    )
}

/// The page with what was done.
async fn shown(
    state: &AppState,
    me: CurrentUser,
    codes: Vec<String>,
    notice: String,
) -> Result<Response, AppError> {
    security_page(state, me, StatusCode::OK, codes, notice, String::new()).await
}

/// The page again with what to fix (422), nothing changed.
async fn refused(state: &AppState, me: CurrentUser, error: String) -> Result<Response, AppError> {
    let status = StatusCode::UNPROCESSABLE_ENTITY;
    security_page(state, me, status, Vec::new(), String::new(), error).await
}

/// The person's password, checked under the login throttle: `Ok(Err(why))` for a wrong one;
/// being throttled (or any other failure) is an error, so nothing goes on without the check.
async fn password_checked(
    state: &AppState,
    me: &CurrentUser,
    peer: SocketAddr,
    headers: &HeaderMap,
    password: &str,
) -> Result<Result<(), String>, AppError> {
    let address = crate::web::client::address(peer.ip(), headers, &state.config.trusted_proxies);
    match settings::confirm_password(state, me.id, &address, password).await {
        Ok(()) => Ok(Ok(())),
        Err(AppError::Validation(why)) => Ok(Err(why)),
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct SecurityQuery {
    /// Sent here by a workspace that requires two-factor.
    #[serde(default)]
    required: Option<String>,
}

/// `GET /settings/security`.
pub async fn page(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(query): Query<SecurityQuery>,
) -> Result<Response, AppError> {
    let notice = if query.required.is_some() {
        "A workspace of yours requires two-factor authentication. Set it up to go on.".to_owned()
    } else {
        String::new()
    };
    shown(&state, me, Vec::new(), notice).await
}

/// `POST /settings/security/setup`: a fresh secret to scan (replacing an unconfirmed one).
pub async fn setup(State(state): State<AppState>, me: CurrentUser) -> Result<Response, AppError> {
    let mut secret = [0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    sqlx::query(
        "insert into user_totp (user_id, secret) values ($1, $2)
         on conflict (user_id) do update set secret = excluded.secret, created_at = now()
             where user_totp.enabled_at is null",
    )
    .bind(me.id)
    .bind(secret.as_slice())
    .execute(&state.db)
    .await?;
    Ok(Redirect::to("/settings/security").into_response())
}

#[derive(Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

/// `POST /settings/security/confirm`: a code from the app turns two-factor on; the recovery
/// codes are shown once.
pub async fn confirm(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let refuse = |error: &str| error.to_owned();
    let code: String = form.code.chars().filter(|c| !c.is_whitespace()).collect();
    let outcome = match row(&state.db, me.id).await? {
        None => Err(refuse(
            "Start by choosing \"Set up two-factor authentication\".",
        )),
        Some(Row {
            enabled_at: Some(_),
            ..
        }) => Err(refuse("Two-factor authentication is on already.")),
        Some(Row { secret, .. }) => match totp(&secret, "")?.check(&code, now()) {
            None => Err(refuse(
                "That code is not right. Type the six digits your app shows now.",
            )),
            Some(step) => Ok(step),
        },
    };
    let step = match outcome {
        Ok(step) => step,
        Err(error) => return refused(&state, me, error).await,
    };
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "update user_totp set enabled_at = now(), last_used_step = $2
         where user_id = $1 and enabled_at is null",
    )
    .bind(me.id)
    .bind(step as i64)
    .execute(&mut *tx)
    .await?;
    let codes = replace_recovery_codes(&mut tx, me.id).await?;
    tx.commit().await?;
    let notice = "Two-factor authentication is on. Keep these recovery codes somewhere safe: \
                  each logs you in once if you lose your phone, and they are not shown again."
        .to_owned();
    shown(&state, me, codes, notice).await
}

#[derive(Deserialize)]
pub struct PasswordForm {
    #[serde(default)]
    password: String,
}

/// `POST /settings/security/disable`: needs the password.
pub async fn disable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    me: CurrentUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    if let Err(why) = password_checked(&state, &me, peer, &headers, &form.password).await? {
        return refused(&state, me, why).await;
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("delete from user_totp where user_id = $1")
        .bind(me.id)
        .execute(&mut *tx)
        .await?;
    sqlx::query("delete from recovery_codes where user_id = $1")
        .bind(me.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    let notice = "Two-factor authentication is off.".to_owned();
    shown(&state, me, Vec::new(), notice).await
}

/// `POST /settings/security/recovery-codes`: new codes in place of the old; needs the password.
pub async fn renew_codes(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    me: CurrentUser,
    Form(form): Form<PasswordForm>,
) -> Result<Response, AppError> {
    if let Err(why) = password_checked(&state, &me, peer, &headers, &form.password).await? {
        return refused(&state, me, why).await;
    }
    if !is_enabled(&state.db, me.id).await? {
        return Err(invalid("Turn two-factor authentication on first."));
    }
    let mut tx = state.db.begin().await?;
    let codes = replace_recovery_codes(&mut tx, me.id).await?;
    tx.commit().await?;
    let notice = "New recovery codes; the old ones no longer work.".to_owned();
    shown(&state, me, codes, notice).await
}

// ------------------------------------------------------------------ logging in

/// A login that passed its password and waits for its code.
#[derive(Serialize, Deserialize)]
struct Pending {
    user_id: i64,
    /// Unix seconds.
    at: i64,
    next: String,
}

/// Finishes a login whose first factor (the password, or the identity provider) passed: logs
/// the person in, or, if they have two-factor on, keeps them waiting for the code. Where the
/// browser goes next.
pub async fn after_first_factor(
    state: &AppState,
    session: &Session,
    user_id: i64,
    origin: &session::Origin,
    next: &str,
) -> Result<String, AppError> {
    if !is_enabled(&state.db, user_id).await? {
        session::log_in(session, state, user_id, origin).await?;
        return Ok(safe_next(next));
    }
    // A new id here too: the half-logged-in session is not one fixed before the password.
    session.cycle_id().await?;
    session
        .insert(
            PENDING,
            Pending {
                user_id,
                at: time::OffsetDateTime::now_utc().unix_timestamp(),
                next: safe_next(next),
            },
        )
        .await?;
    Ok("/login/code".to_owned())
}

async fn pending(session: &Session) -> Result<Option<Pending>, AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Ok(session
        .get::<Pending>(PENDING)
        .await?
        .filter(|p| now - p.at < PENDING_SECS))
}

#[derive(Template)]
#[template(path = "auth/code.html")]
struct CodePage {
    csrf: String,
    error: String,
}

/// `GET /login/code`.
pub async fn code_page(session: Session, visitor: Visitor) -> Result<Response, AppError> {
    if pending(&session).await?.is_none() {
        return Ok(Redirect::to("/login").into_response());
    }
    let page = CodePage {
        csrf: csrf::page_token(&session, &visitor).await?,
        error: String::new(),
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

/// `POST /login/code`: a code from the app or a recovery code, throttled like passwords.
pub async fn code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    visitor: Visitor,
    Form(form): Form<CodeForm>,
) -> Result<Response, AppError> {
    let Some(waiting) = pending(&session).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let address = crate::web::client::address(peer.ip(), &headers, &state.config.trusted_proxies);
    let fail = |status: StatusCode, error: String, csrf: String| {
        render_page(status, &CodePage { csrf, error })
    };
    let account = format!("code:{}", waiting.user_id);
    let attempt = match throttle::begin(&state.db, &account, &address).await {
        Ok(attempt) => attempt,
        Err(AppError::RateLimited {
            message,
            retry_after_secs,
        }) => {
            let csrf = csrf::page_token(&session, &visitor).await?;
            let mut response = fail(StatusCode::TOO_MANY_REQUESTS, message, csrf)?;
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
            return Ok(response);
        }
        Err(e) => return Err(e),
    };
    if !take_code(&state.db, waiting.user_id, &form.code).await? {
        // The attempt stays counted as a failure.
        let csrf = csrf::page_token(&session, &visitor).await?;
        return fail(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That code is not right, or was used already. Type the six digits your app shows \
             now, or a recovery code."
                .into(),
            csrf,
        );
    }
    throttle::succeeded(&state.db, attempt).await?;
    session.remove::<Pending>(PENDING).await?;
    session::log_in(
        &session,
        &state,
        waiting.user_id,
        &session::Origin::of(&headers, address),
    )
    .await?;
    Ok(Redirect::to(&waiting.next).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovery_codes_are_ten_distinct_and_read_back_however_typed() {
        let codes = recovery_codes();
        assert_eq!(codes.len(), 10);
        assert_eq!(
            codes.iter().collect::<std::collections::HashSet<_>>().len(),
            10
        );
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        assert_eq!(
            recovery_hash(7, code),
            recovery_hash(7, &format!(" {} ", code.to_uppercase().replace('-', "")))
        );
        assert_ne!(recovery_hash(7, code), recovery_hash(8, code));
    }

    #[test]
    fn the_rfc_6238_test_vector_checks() {
        // RFC 6238 appendix B, SHA-1: the secret "12345678901234567890" at 59 s.
        let totp = totp(b"12345678901234567890", "ada@example.com").unwrap();
        assert_eq!(totp.generate(59).to_string(), "287082");
        assert_eq!(totp.check("287082", 59), Some(1));
        assert_eq!(totp.check("287083", 59), None);
    }
}
