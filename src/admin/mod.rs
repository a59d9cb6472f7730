//! `/w/<slug>/admin`: where owners and admins manage a workspace in the browser; and
//! `/admin`, where instance admins see every workspace and account ([`instance`]).
//!
//! - [`members`]: the member list with search and a role filter; change a role, deactivate,
//!   reactivate, remove (the rules and their effects are `workspaces::members`').
//! - [`audit`]: the audit log with filters, and its CSV download.
//! - [`provisioning`]: the SCIM base URL and token for the identity provider.
//! - [`settings`]: name, channel creation, joining by email domain, message retention.
//!
//! Every page first passes `require_member` (404 for outsiders) and then `require_admin`
//! (403 for members, who know the workspace exists). The actions are the same functions the
//! CLI and SCIM call, so all three doors behave alike.

mod audit;
mod instance;
mod members;
mod provisioning;
mod settings;

use axum::Router;
use axum::extract::Path;
use axum::response::Redirect;
use axum::routing::{get, post};

use crate::auth::CurrentUser;
use crate::auth::membership::{self, Membership};
use crate::error::AppError;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/admin", get(home))
        .route("/w/{slug}/admin/members", get(members::index))
        .route(
            "/w/{slug}/admin/members/{user_id}/{action}",
            post(members::act),
        )
        .route("/w/{slug}/admin/provisioning", get(provisioning::index))
        .route(
            "/w/{slug}/admin/provisioning/token",
            post(provisioning::new_token),
        )
        .route(
            "/w/{slug}/admin/settings",
            get(settings::index).post(settings::save),
        )
        .route("/admin", get(instance::index))
        .route(
            "/admin/accounts/{user_id}/{action}",
            post(instance::account),
        )
        .route("/w/{slug}/admin/audit", get(audit::index))
        .route("/w/{slug}/admin/audit.csv", get(audit::csv))
}

async fn home(Path(slug): Path<String>) -> Redirect {
    Redirect::to(&format!("/w/{slug}/admin/members"))
}

/// The asker's membership, if they are an owner or admin of the workspace.
async fn require_admin(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
) -> Result<Membership, AppError> {
    membership::require_member(&state.db, slug, me.id)
        .await?
        .require_admin("manage this workspace")
}
