//! The members page: everyone in the workspace, deactivated people included, with what an
//! admin may do to each.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::membership::Role;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;
use crate::workspaces::db::{self, ManagedMember};
use crate::workspaces::members::{self, Actor};

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    q: String,
    #[serde(default)]
    role: String,
}

#[derive(Template)]
#[template(path = "admin/members.html")]
struct MembersPage {
    shell: Shell,
    members: Vec<ManagedMember>,
    q: String,
    role: String,
    roles: [Role; 4],
    error: String,
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, AppError> {
    render(&state, &me, &slug, filter, String::new(), StatusCode::OK).await
}

async fn render(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    filter: Filter,
    error: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(state, me, slug).await?;
    let role = match filter.role.as_str() {
        "" => None,
        given => Some(given.parse::<Role>().map_err(AppError::Validation)?),
    };
    let members = db::managed_members(&state.db, workspace.id, filter.q.trim(), role).await?;
    let shell = Shell::load(state, me, &workspace, 0).await?;
    let page = MembersPage {
        shell,
        members,
        q: filter.q,
        role: filter.role,
        roles: Role::ALL,
        error,
    };
    render_page(status, &page)
}

#[derive(Deserialize)]
pub struct ActForm {
    /// The new role, for `role`.
    #[serde(default)]
    role: String,
}

/// `POST …/admin/members/<user_id>/<action>`: `role`, `deactivate`, `reactivate`, `remove`.
pub async fn act(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, user_id, action)): Path<(String, i64, String)>,
    Form(form): Form<ActForm>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    let actor = Actor {
        workspace_id: workspace.id,
        user_id: Some(me.id),
        role: workspace.role,
    };
    let done = match action.as_str() {
        "role" => match form.role.parse::<Role>() {
            Ok(role) => members::set_role(&state.db, actor, user_id, role).await,
            Err(why) => Err(AppError::Validation(why)),
        },
        "deactivate" => members::deactivate(&state, actor, user_id).await,
        "reactivate" => members::reactivate(&state, actor, user_id).await,
        "remove" => members::remove(&state, actor, user_id).await,
        _ => Err(AppError::NotFound),
    };
    match done {
        Ok(()) => Ok(Redirect::to(&format!("/w/{slug}/admin/members")).into_response()),
        // The page again, saying what cannot be done and why.
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            let status = e.status();
            render(&state, &me, &slug, Filter::default(), e.to_string(), status).await
        }
        Err(e) => Err(e),
    }
}
