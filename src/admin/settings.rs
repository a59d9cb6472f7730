//! The settings page: name, who may create channels, who may join without an invite, and how
//! long messages are kept, the file quota (beside what files take now) and link previews
//! (`workspaces::settings` holds the rules).

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
    /// "2.4 MB of 10.0 GB" or "2.4 MB (no quota)".
    files_used: String,
}

/// What the workspace's files take, beside its quota.
async fn files_used(state: &AppState, workspace_id: i64) -> Result<String, AppError> {
    let (quota, used) = crate::files::db::usage(&state.db, workspace_id).await?;
    let used = crate::files::size_label(used);
    Ok(match quota {
        Some(quota) => format!("{used} of {}", crate::files::size_label(quota)),
        None => format!("{used} (no quota)"),
    })
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
            files_used: files_used(&state, workspace.id).await?,
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
                &SettingsPage {
                    shell,
                    form,
                    error,
                    files_used: files_used(&state, workspace.id).await?,
                },
            )
        }
        Err(e) => Err(e),
    }
}
