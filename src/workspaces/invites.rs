//! Invite links: made by members, expiring, usable N times, stored hashed, shown once.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tower_sessions::Session;

use super::db::{self, InviteRow, Workspace};
use crate::auth::csrf::{self, Visitor};
use crate::auth::{CurrentUser, membership, session};
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "workspaces/invites.html")]
struct InvitesPage {
    shell: Shell,
    invites: Vec<InviteRow>,
    new_link: String,
    error: String,
}

#[derive(Template)]
#[template(path = "workspaces/invite_landing.html")]
struct LandingPage {
    csrf: String,
    workspace: Workspace,
    code: String,
    logged_in_as: String,
}

#[derive(Deserialize)]
pub struct NewInvite {
    #[serde(default = "default_days")]
    expires_in_days: i32,
    #[serde(default = "default_uses")]
    max_uses: i32,
}

fn default_days() -> i32 {
    7
}
fn default_uses() -> i32 {
    10
}

async fn page(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    new_link: String,
    error: String,
) -> Result<InvitesPage, AppError> {
    let workspace = membership::require_member(&state.db, slug, me.id)
        .await?
        .require_full_member("invite people")?;
    let invites = db::active_invites(&state.db, workspace.id).await?;
    let shell = Shell::load(state, me, &workspace, 0).await?;
    Ok(InvitesPage {
        shell,
        invites,
        new_link,
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
        &page(&state, &me, &slug, String::new(), String::new()).await?,
    )
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<NewInvite>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    if !(1..=30).contains(&form.expires_in_days) || !(1..=1000).contains(&form.max_uses) {
        let error = "An invite lasts 1 to 30 days and can be used 1 to 1,000 times.".to_owned();
        let page = page(&state, &me, &slug, String::new(), error).await?;
        return render_page(StatusCode::UNPROCESSABLE_ENTITY, &page);
    }
    let workspace = workspace.require_full_member("invite people")?;
    let code = random_token();
    db::insert_invite(
        &state.db,
        workspace.id,
        &hash_secret(&code),
        me.id,
        form.expires_in_days,
        form.max_uses,
    )
    .await?;
    crate::audit::record(&state.db, workspace.id, me.id, "invite.create", "").await?;
    let link = format!("{}/invite/{code}", state.config.public_url);
    render_page(
        StatusCode::CREATED,
        &page(&state, &me, &slug, link, String::new()).await?,
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, invite_id)): Path<(String, i64)>,
) -> Result<Redirect, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    if !workspace.is_admin() {
        return Err(AppError::Forbidden(
            "Only owners and admins can revoke invites.".into(),
        ));
    }
    if !db::revoke_invite(&state.db, workspace.id, invite_id).await? {
        return Err(AppError::NotFound);
    }
    crate::audit::record(
        &state.db,
        workspace.id,
        me.id,
        "invite.revoke",
        &invite_id.to_string(),
    )
    .await?;
    Ok(Redirect::to(&format!("/w/{slug}/invites")))
}

/// The page an invite link opens: who is inviting you where, and a button to join.
pub async fn landing(
    State(state): State<AppState>,
    session: Session,
    visitor: Visitor,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let workspace = db::invite_workspace(&state.db, &hash_secret(&code))
        .await?
        .ok_or_else(|| {
            AppError::Conflict(
                "This invite link has expired or has been used up. Ask for a new one.".into(),
            )
        })?;
    let me = session::current_user(&session, &state).await?;
    if let Some(me) = &me
        && membership::membership(&state.db, &workspace.slug, me.id)
            .await?
            .is_some()
    {
        return Ok(Redirect::to(&format!("/w/{}", workspace.slug)).into_response());
    }
    let page = LandingPage {
        csrf: csrf::page_token(&session, &visitor).await?,
        workspace,
        code,
        logged_in_as: me.map(|m| m.display_name).unwrap_or_default(),
    };
    Ok((visitor, render_page(StatusCode::OK, &page)?).into_response())
}

pub async fn accept(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(code): Path<String>,
) -> Result<Redirect, AppError> {
    let mut tx = state.db.begin().await?;
    let Some((workspace_id, slug, role)) = db::consume_invite(&mut tx, &hash_secret(&code)).await?
    else {
        return Err(AppError::Conflict(
            "This invite link has expired or has been used up. Ask for a new one.".into(),
        ));
    };
    if db::add_member(&mut tx, workspace_id, me.id, role).await? {
        crate::audit::record(&mut *tx, workspace_id, me.id, "member.join", &me.username).await?;
        tx.commit().await?;
        let general = crate::channels::db::general_channel_id(&state.db, workspace_id).await?;
        crate::channels::live::joined(&state, general, me.id).await?;
    } else {
        // Already a member: the use is not spent.
        tx.rollback().await?;
    }
    Ok(Redirect::to(&format!("/w/{slug}")))
}
