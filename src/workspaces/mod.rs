//! Workspaces: creating them, belonging to several, switching between them, and inviting people
//! in by link.
//!
//! Everything below `/w/<slug>` first passes [`require_member`]: a non-member of a workspace
//! gets 404 for it, whatever the door. Invite codes are shown once and stored as SHA-256 hashes.

pub mod db;
mod handlers;
mod invites;
pub mod members;
mod people;
pub mod settings;

use axum::Router;
use axum::routing::{get, post};
use sqlx::PgPool;

pub use db::Workspace;

use crate::auth::membership::Role;
use crate::error::{AppError, violated_constraint};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(handlers::home))
        .route("/workspaces", post(handlers::create))
        .route("/w/{slug}", get(handlers::open))
        .route("/w/{slug}/join", post(handlers::join))
        .route("/w/{slug}/members", get(handlers::members))
        .route("/people/{user_id}", get(people::show))
        .route(
            "/w/{slug}/invites",
            get(invites::index).post(invites::create),
        )
        .route("/w/{slug}/invites/{id}/revoke", post(invites::revoke))
        .route(
            "/invite/{code}",
            get(invites::landing).post(invites::accept),
        )
}

/// Turns a workspace name into a URL slug: "Acme Corp!" → "acme-corp".
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    slug.trim_end_matches('-').chars().take(32).collect()
}

fn check_slug(slug: &str) -> Result<(), AppError> {
    let ok = (2..=32).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(AppError::Validation(
            "A workspace URL takes 2 to 32 lowercase letters, digits and dashes, like acme-corp."
                .into(),
        ))
    }
}

/// Creates a workspace owned by `owner_id`, with `#general`. Shared by the web and the CLI.
pub async fn create(
    db: &PgPool,
    slug: &str,
    name: &str,
    owner_id: i64,
) -> Result<Workspace, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 60 {
        return Err(AppError::Validation(
            "Give the workspace a name of up to 60 characters.".into(),
        ));
    }
    let slug = if slug.trim().is_empty() {
        slugify(name)
    } else {
        slug.trim().to_lowercase()
    };
    check_slug(&slug)?;
    let mut tx = db.begin().await?;
    let id = db::insert_workspace(&mut tx, &slug, name, owner_id)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("workspaces_slug_key") => {
                AppError::Validation(format!("The URL /w/{slug} is taken. Choose another."))
            }
            _ => e.into(),
        })?;
    crate::audit::record(&mut *tx, id, owner_id, "workspace.create", &slug).await?;
    tx.commit().await?;
    Ok(Workspace {
        id,
        slug,
        name: name.to_owned(),
    })
}

/// Adds a user to a workspace (and its `#general`) with a role. Shared by invites and the CLI.
pub async fn add_member(
    db: &PgPool,
    workspace_id: i64,
    user_id: i64,
    role: &str,
) -> Result<bool, AppError> {
    let role: Role = role.parse().map_err(AppError::Validation)?;
    let mut tx = db.begin().await?;
    let added = db::add_member(&mut tx, workspace_id, user_id, role).await?;
    tx.commit().await?;
    Ok(added)
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_become_url_slugs() {
        assert_eq!(super::slugify("Acme Corp!"), "acme-corp");
        assert_eq!(super::slugify("  Ünïcode   team "), "n-code-team");
    }
}
