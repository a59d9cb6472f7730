//! `/admin`: the instance, for its admins (`natter admin grant`): every workspace, every
//! account, and deactivating an account everywhere. Anyone else gets 404: the page does not
//! exist for them.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::auth::accounts;
use crate::auth::db::{self as auth_db, Account};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "admin/instance.html")]
struct InstancePage {
    me: CurrentUser,
    workspaces: Vec<WorkspaceRow>,
    accounts: Vec<Account>,
    q: String,
    error: String,
}

#[derive(sqlx::FromRow)]
struct WorkspaceRow {
    slug: String,
    name: String,
    members: i64,
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
}

async fn require_instance_admin(state: &AppState, me: &CurrentUser) -> Result<(), AppError> {
    if auth_db::is_instance_admin(&state.db, me.id).await? {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

async fn render(
    state: &AppState,
    me: CurrentUser,
    q: String,
    error: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let workspaces = sqlx::query_as(
        "select w.slug, w.name,
                (select count(*) from workspace_members wm where wm.workspace_id = w.id
                   and wm.deactivated_at is null) as members
         from workspaces w order by lower(w.name)",
    )
    .fetch_all(&state.db)
    .await?;
    let accounts = auth_db::accounts(&state.db, q.trim()).await?;
    render_page(
        status,
        &InstancePage {
            me,
            workspaces,
            accounts,
            q,
            error,
        },
    )
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Query(search): Query<Search>,
) -> Result<Response, AppError> {
    require_instance_admin(&state, &me).await?;
    render(&state, me, search.q, String::new(), StatusCode::OK).await
}

/// `POST /admin/accounts/<id>/deactivate` or `…/reactivate`.
pub async fn account(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((user_id, action)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    require_instance_admin(&state, &me).await?;
    let active = match action.as_str() {
        "deactivate" => false,
        "reactivate" => true,
        _ => return Err(AppError::NotFound),
    };
    match accounts::set_account_active(&state, me.id, user_id, active).await {
        Ok(()) => Ok(Redirect::to("/admin").into_response()),
        Err(AppError::Validation(error)) => {
            render(
                &state,
                me,
                String::new(),
                error,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(e) => Err(e),
    }
}
