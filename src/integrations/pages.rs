//! The integrations page of a workspace: bots (admins) and incoming webhooks (members).
//! A new token or webhook URL is shown once, then only its hash is kept.

use askama::Template;
use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;

use super::db::{self, BotRow, WebhookRow};
use super::events::db::Health;
use crate::auth::CurrentUser;
use crate::auth::membership::{self, Membership};
use crate::channels::db::SidebarRow;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/integrations", get(index))
        .route("/w/{slug}/integrations/bots", post(create_bot))
        .route("/w/{slug}/integrations/bots/{id}/revoke", post(revoke_bot))
        .route("/w/{slug}/integrations/bots/{id}/events", post(set_events))
        .route(
            "/w/{slug}/integrations/bots/{id}/secret",
            post(rotate_secret),
        )
        .route("/w/{slug}/integrations/webhooks", post(create_webhook))
        .route(
            "/w/{slug}/integrations/webhooks/{id}/revoke",
            post(revoke_webhook),
        )
}

#[derive(Template)]
#[template(path = "integrations/index.html")]
struct IntegrationsPage {
    shell: Shell,
    bots: Vec<(BotRow, Health)>,
    webhooks: Vec<WebhookRow>,
    channels: Vec<SidebarRow>,
    /// A secret made just now, shown this once: a bot token or a webhook URL.
    secret_label: String,
    secret: String,
    error: String,
}

#[derive(Deserialize)]
pub struct NewBot {
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct NewWebhook {
    #[serde(default)]
    name: String,
    channel_id: i64,
}

async fn page(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    secret: (&str, String),
    error: String,
) -> Result<IntegrationsPage, AppError> {
    let workspace = membership::require_member(&state.db, slug, me.id).await?;
    let mut bots = Vec::new();
    for bot in db::bots_of(&state.db, workspace.id).await? {
        let health = super::events::db::health(&state.db, bot.id).await?;
        bots.push((bot, health));
    }
    let webhooks = db::webhooks_of(&state.db, workspace.id, me.id, workspace.is_admin()).await?;
    let channels = crate::channels::db::sidebar_rows(&state.db, workspace.id, me.id)
        .await?
        .into_iter()
        .filter(|c| !c.kind.is_dm())
        .collect();
    let shell = Shell::load(state, me, &workspace, 0).await?;
    Ok(IntegrationsPage {
        shell,
        bots,
        webhooks,
        channels,
        secret_label: secret.0.to_owned(),
        secret: secret.1,
        error,
    })
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    render_page(
        StatusCode::OK,
        &page(&state, &me, &slug, ("", String::new()), String::new()).await?,
    )
}

pub async fn create_bot(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<NewBot>,
) -> Result<Response, AppError> {
    let workspace = require_admin(&state, &me, &slug, "create").await?;
    match super::create_bot(&state.db, workspace.id, &form.name, Some(me.id)).await {
        Ok(bot) => {
            crate::audit::record(&state.db, workspace.id, me.id, "bot.create", &form.name).await?;
            let shown = format!(
                "token {} · signing secret {}",
                bot.token, bot.signing_secret
            );
            let page = page(
                &state,
                &me,
                &slug,
                ("Bot token and signing secret", shown),
                String::new(),
            )
            .await?;
            render_page(StatusCode::CREATED, &page)
        }
        Err(AppError::Validation(error)) => render_page(
            StatusCode::UNPROCESSABLE_ENTITY,
            &page(&state, &me, &slug, ("", String::new()), error).await?,
        ),
        Err(other) => Err(other),
    }
}

pub async fn revoke_bot(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, bot_id)): Path<(String, i64)>,
) -> Result<Redirect, AppError> {
    let workspace = require_admin(&state, &me, &slug, "revoke").await?;
    let mut tx = state.db.begin().await?;
    let Some(bot_user) = db::revoke_bot(&mut tx, workspace.id, bot_id).await? else {
        return Err(AppError::NotFound);
    };
    tx.commit().await?;
    // Its open sockets close now, not at their next reconnect.
    crate::auth::live::session_closed(&state, bot_user, None);
    crate::audit::record(
        &state.db,
        workspace.id,
        me.id,
        "bot.revoke",
        &bot_id.to_string(),
    )
    .await?;
    Ok(Redirect::to(&format!("/w/{slug}/integrations")))
}

pub async fn create_webhook(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<NewWebhook>,
) -> Result<Response, AppError> {
    let (workspace, access) =
        crate::channels::require_member(&state.db, &slug, form.channel_id, me.id).await?;
    if access.channel.is_dm() {
        return Err(AppError::Validation(
            "Webhooks post into channels, not direct messages.".into(),
        ));
    }
    let token =
        super::create_webhook(&state.db, workspace.id, form.channel_id, &form.name, me.id).await?;
    crate::audit::record(&state.db, workspace.id, me.id, "webhook.create", &form.name).await?;
    let url = format!("{}/hooks/{token}", state.config.public_url);
    render_page(
        StatusCode::CREATED,
        &page(&state, &me, &slug, ("Webhook URL", url), String::new()).await?,
    )
}

pub async fn revoke_webhook(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, webhook_id)): Path<(String, i64)>,
) -> Result<Redirect, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let any = workspace.is_admin();
    if !db::revoke_webhook(&state.db, workspace.id, webhook_id, me.id, any).await? {
        return Err(AppError::NotFound);
    }
    crate::audit::record(
        &state.db,
        workspace.id,
        me.id,
        "webhook.revoke",
        &webhook_id.to_string(),
    )
    .await?;
    Ok(Redirect::to(&format!("/w/{slug}/integrations")))
}

/// The workspace, if the asker is one of its owners or admins (who alone manage bots).
async fn require_admin(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    verb: &str,
) -> Result<Membership, AppError> {
    let workspace = membership::require_member(&state.db, slug, me.id).await?;
    if !workspace.is_admin() {
        return Err(AppError::Forbidden(format!(
            "Only owners and admins can {verb} bots."
        )));
    }
    Ok(workspace)
}

/// Like [`require_admin`], and `bot_id` is a live bot of that workspace (else 404).
async fn live_bot_for_admin(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    bot_id: i64,
) -> Result<Membership, AppError> {
    let workspace = require_admin(state, me, slug, "change").await?;
    let bots = db::bots_of(&state.db, workspace.id).await?;
    if !bots.iter().any(|b| b.id == bot_id && !b.revoked) {
        return Err(AppError::NotFound);
    }
    Ok(workspace)
}

/// The events a bot may subscribe to.
const EVENTS: [&str; 6] = [
    "message.channels",
    "message.groups",
    "message.im",
    "message.mpim",
    "app_mention",
    "file_shared",
];

/// `POST …/bots/<id>/events` with `request_url` and any number of `events` fields: Natter
/// sends Slack's `url_verification` challenge and saves the URL only if it is echoed.
pub async fn set_events(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, bot_id)): Path<(String, i64)>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let workspace = live_bot_for_admin(&state, &me, &slug, bot_id).await?;
    let mut url = String::new();
    let mut events = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        match key.as_ref() {
            "request_url" => url = value.trim().to_owned(),
            "events" if EVENTS.contains(&value.as_ref()) => events.push(value.into_owned()),
            _ => {}
        }
    }
    match super::events::verify_and_save(&state, bot_id, &url, &events).await {
        Ok(()) => {
            crate::audit::record(&state.db, workspace.id, me.id, "bot.events", &url).await?;
            Ok(Redirect::to(&format!("/w/{slug}/integrations")).into_response())
        }
        Err(why) => {
            let error = format!("The request URL was not saved: {why:#}.");
            render_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &page(&state, &me, &slug, ("", String::new()), error).await?,
            )
        }
    }
}

pub async fn rotate_secret(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, bot_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    let workspace = live_bot_for_admin(&state, &me, &slug, bot_id).await?;
    let secret = crate::secrets::random_token();
    super::events::db::set_signing_secret(&state.db, bot_id, &secret).await?;
    crate::audit::record(
        &state.db,
        workspace.id,
        me.id,
        "bot.rotate_secret",
        &bot_id.to_string(),
    )
    .await?;
    render_page(
        StatusCode::OK,
        &page(
            &state,
            &me,
            &slug,
            ("New signing secret", secret),
            String::new(),
        )
        .await?,
    )
}
