//! The provisioning page: the SCIM base URL an identity provider needs, and its token, made
//! here and shown once (a new one revokes the old).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use crate::auth::CurrentUser;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "admin/provisioning.html")]
struct ProvisioningPage {
    shell: Shell,
    base_url: String,
    /// A token made just now, shown this once.
    token: String,
}

async fn render(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    token: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(state, me, slug).await?;
    let shell = Shell::load(state, me, &workspace, 0).await?;
    let base_url = format!("{}/scim/v2", state.config.public_url);
    render_page(
        status,
        &ProvisioningPage {
            shell,
            base_url,
            token,
        },
    )
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    render(&state, &me, &slug, String::new(), StatusCode::OK).await
}

pub async fn new_token(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    let token = crate::scim::create_token(&state.db, workspace.id, Some(me.id)).await?;
    render(&state, &me, &slug, token, StatusCode::CREATED).await
}
