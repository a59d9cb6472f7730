//! The home page (your workspaces), creating a workspace, opening one, and its member list.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::db::{self, Member};
use crate::auth::CurrentUser;
use crate::auth::membership::{self, WorkspaceSummary};
use crate::channels;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "workspaces/home.html")]
struct HomePage {
    csrf: String,
    me: CurrentUser,
    workspaces: Vec<WorkspaceSummary>,
    /// Workspaces the user's email domain lets them join without an invite.
    joinable: Vec<super::Workspace>,
    name: String,
    slug: String,
    error: String,
}

#[derive(Template)]
#[template(path = "workspaces/members.html")]
struct MembersPage {
    shell: Shell,
    members: Vec<Member>,
}

#[derive(Deserialize)]
pub struct NewWorkspace {
    #[serde(default)]
    name: String,
    #[serde(default)]
    slug: String,
}

pub async fn home(State(state): State<AppState>, me: CurrentUser) -> Result<Response, AppError> {
    let workspaces = membership::workspaces_of(&state.db, me.id).await?;
    let joinable = db::joinable(&state.db, me.id).await?;
    let page = HomePage {
        csrf: me.csrf.clone(),
        me,
        workspaces,
        joinable,
        name: String::new(),
        slug: String::new(),
        error: String::new(),
    };
    render_page(StatusCode::OK, &page)
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<NewWorkspace>,
) -> Result<Response, AppError> {
    match super::create(&state.db, &form.slug, &form.name, me.id).await {
        Ok(workspace) => Ok(Redirect::to(&format!("/w/{}", workspace.slug)).into_response()),
        Err(AppError::Validation(error)) => {
            let workspaces = membership::workspaces_of(&state.db, me.id).await?;
            let joinable = db::joinable(&state.db, me.id).await?;
            let page = HomePage {
                csrf: me.csrf.clone(),
                me,
                workspaces,
                joinable,
                name: form.name,
                slug: form.slug,
                error,
            };
            render_page(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(other) => Err(other),
    }
}

/// `/w/<slug>` opens the workspace at `#general`.
pub async fn open(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Redirect, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let general = channels::db::general_channel_id(&state.db, workspace.id).await?;
    Ok(Redirect::to(&channels::path(&workspace.slug, general)))
}

pub async fn members(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let members = db::members(&state.db, workspace.id).await?;
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(StatusCode::OK, &MembersPage { shell, members })
}

/// `POST /w/<slug>/join`: joins a workspace that admits the user's email domain. To anyone
/// else the workspace does not exist (404), as for any outsider.
pub async fn join(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Redirect, AppError> {
    let open = db::joinable(&state.db, me.id).await?;
    let workspace = open
        .into_iter()
        .find(|w| w.slug == slug)
        .ok_or(AppError::NotFound)?;
    if super::add_member(&state.db, workspace.id, me.id, "member").await? {
        crate::audit::record(&state.db, workspace.id, me.id, "member.join", &me.username).await?;
        let general = channels::db::general_channel_id(&state.db, workspace.id).await?;
        channels::live::joined(&state, general, me.id).await?;
    }
    Ok(Redirect::to(&format!("/w/{slug}")))
}
