//! The settings page: name, who may create channels, who may join without an invite, and how
//! long messages are kept (`workspaces::settings` holds the rules).

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use crate::auth::CurrentUser;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;
use crate::workspaces::db;
use crate::workspaces::settings::{self, SettingsForm};

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct SettingsPage {
    shell: Shell,
    form: SettingsForm,
    error: String,
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    let form = db::settings(&state.db, workspace.id).await?.form();
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(
        StatusCode::OK,
        &SettingsPage {
            shell,
            form,
            error: String::new(),
        },
    )
}

pub async fn save(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    match settings::update(&state.db, &workspace, me.id, &form).await {
        Ok(_) => Ok(Redirect::to(&format!("/w/{slug}/admin/settings")).into_response()),
        // The form again, as typed, with what to fix.
        Err(AppError::Validation(error)) => {
            let shell = Shell::load(&state, &me, &workspace, 0).await?;
            render_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &SettingsPage { shell, form, error },
            )
        }
        Err(e) => Err(e),
    }
}
