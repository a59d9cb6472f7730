//! Integrations: bots, incoming webhooks and the Slack-compatible Web API, so Slack's own SDKs
//! and existing webhooks work against Natter unchanged.
//!
//! - [`webhooks`]: `POST /hooks/<token>` with Slack's payloads (`text`, `blocks`,
//!   `attachments`, `username`, `icon_*`), translated by [`mrkdwn`] and [`render`].
//! - [`api`]: `/api/<method>` with `Authorization: Bearer`, Slack's shapes and error codes.
//! - [`icons`]: `icon_url`s fetched by the server and served from `/icons/<key>`.
//! - [`ids`]: Slack-shaped ids (`C12`, `U7`) and `ts` values (`<seconds>.<seq>`).
//!
//! Everything posted here goes through the same send path as the browser: same seq, same
//! idempotency, same live delivery.

pub mod api;
pub mod db;
pub mod events;
pub mod icons;
pub mod ids;
pub mod mrkdwn;
mod pages;
pub mod previews;
pub mod render;
pub mod webhooks;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{any, get, post};
use sqlx::PgPool;

use crate::error::AppError;
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/hooks/{token}", post(webhooks::receive))
        .route("/api/{method}", any(api::dispatch))
        .layer(DefaultBodyLimit::max(webhooks::MAX_BODY))
        .route("/icons/{key}", get(icons::serve))
        .merge(pages::router())
}

/// A username for a bot named `name`: "Deploy Bot" → "deploy-bot", with a number if taken.
async fn bot_username(db: &PgPool, name: &str) -> Result<String, AppError> {
    let mut base: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    base.truncate(24);
    if base.is_empty() {
        base = "bot".to_owned();
    }
    crate::auth::accounts::free_username(db, &base)
        .await?
        .ok_or_else(|| {
            AppError::Conflict("No free username for that bot name; choose another.".into())
        })
}

/// A new bot in a workspace, with its first token (returned once, stored hashed).
pub struct NewBot {
    pub bot_id: i64,
    pub user_id: i64,
    pub token: String,
    /// The key its outgoing events are signed with (`X-Slack-Signature`).
    pub signing_secret: String,
}

pub async fn create_bot(
    db: &PgPool,
    workspace_id: i64,
    name: &str,
    created_by: Option<i64>,
) -> Result<NewBot, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 80 {
        return Err(AppError::Validation(
            "Give the bot a name of up to 80 characters.".into(),
        ));
    }
    let username = bot_username(db, name).await?;
    let token = format!("ntb_{}", random_token());
    let mut tx = db.begin().await?;
    let user_id = db::insert_bot_user(&mut tx, &username, name).await?;
    let bot_id = db::insert_bot(&mut tx, workspace_id, user_id, name, created_by).await?;
    db::add_bot_member(&mut tx, workspace_id, user_id).await?;
    db::insert_bot_token(&mut *tx, user_id, &hash_secret(&token), name).await?;
    let signing_secret = random_token();
    events::db::set_signing_secret(&mut *tx, bot_id, &signing_secret).await?;
    tx.commit().await?;
    Ok(NewBot {
        bot_id,
        user_id,
        token,
        signing_secret,
    })
}

/// A webhook posting into one channel; returns its secret token (the last part of its URL).
pub async fn create_webhook(
    db: &PgPool,
    workspace_id: i64,
    channel_id: i64,
    name: &str,
    created_by: i64,
) -> Result<String, AppError> {
    let name = if name.trim().is_empty() {
        "Incoming webhook"
    } else {
        name.trim()
    };
    let username = bot_username(db, &format!("{name} hook")).await?;
    let token = random_token();
    let mut tx = db.begin().await?;
    let user_id = db::insert_bot_user(&mut tx, &username, name).await?;
    db::add_bot_member(&mut tx, workspace_id, user_id).await?;
    crate::channels::db::add_member(&mut *tx, channel_id, user_id).await?;
    db::insert_webhook(
        &mut tx,
        workspace_id,
        channel_id,
        user_id,
        &hash_secret(&token),
        name,
        created_by,
    )
    .await?;
    tx.commit().await?;
    Ok(token)
}
