//! Conversations: public and private channels, DMs and group DMs, membership, read state and
//! the sidebar.
//!
//! Every door into a channel goes through [`require_access`] (to read) or [`require_member`]
//! (to write). A private channel or DM is invisible to non-members: they get 404, exactly as
//! for a channel that does not exist. A public channel can be read by anyone in its workspace,
//! and written to by its members.

pub mod db;
pub mod dms;
mod handlers;
pub mod kind;
pub mod levels;
pub mod live;
pub mod manage;
pub mod shell;
pub mod sidebar;

use axum::Router;
use axum::routing::{get, post};
use sqlx::PgPool;

pub use db::{Channel, ChannelAccess};
pub use kind::ChannelKind;

use crate::auth::membership::{self, Membership};
use crate::error::{AppError, violated_constraint};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/w/{slug}/c/{channel_id}/details", get(handlers::details))
        .route("/w/{slug}/c/{channel_id}/join", post(handlers::join))
        .route("/w/{slug}/c/{channel_id}/leave", post(handlers::leave))
        .route("/w/{slug}/c/{channel_id}/topic", post(handlers::set_topic))
        .route(
            "/w/{slug}/c/{channel_id}/members",
            post(handlers::add_member),
        )
        .route("/w/{slug}/c/{channel_id}/read", post(handlers::mark_read))
        .route(
            "/w/{slug}/c/{channel_id}/manage/{action}",
            post(handlers::manage),
        )
        .route(
            "/w/{slug}/channels",
            get(handlers::browse).post(handlers::create),
        )
        .route("/w/{slug}/channels/new", get(handlers::new_form))
        .route("/w/{slug}/dms", post(dms::open))
}

/// The URL of a channel's page.
pub fn path(workspace_slug: &str, channel_id: i64) -> String {
    format!("/w/{workspace_slug}/c/{channel_id}")
}

/// The asker's workspace membership and the channel as they may see it; 404 when they are
/// not in the workspace, when the channel is not in it, or when they are not a member and it
/// is private, a DM, or they are a guest (guests see only the channels they were added to).
pub async fn require_access(
    db: &PgPool,
    workspace_slug: &str,
    channel_id: i64,
    user_id: i64,
) -> Result<(Membership, ChannelAccess), AppError> {
    let workspace = membership::require_member(db, workspace_slug, user_id).await?;
    let access = db::channel_for(db, workspace.id, channel_id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    if access.last_read_seq.is_none() && (!access.channel.kind.is_public() || workspace.is_guest())
    {
        return Err(AppError::NotFound);
    }
    Ok((workspace, access))
}

/// Like [`require_access`], and the asker must be a member (to post, mark read, add people).
pub async fn require_member(
    db: &PgPool,
    workspace_slug: &str,
    channel_id: i64,
    user_id: i64,
) -> Result<(Membership, ChannelAccess), AppError> {
    let (workspace, access) = require_access(db, workspace_slug, channel_id, user_id).await?;
    if access.last_read_seq.is_none() {
        let name = access.channel.name.as_deref().unwrap_or_default();
        return Err(AppError::Forbidden(format!(
            "Join #{name} before you post in it."
        )));
    }
    Ok((workspace, access))
}

/// The member, if they may create channels here: not guests, and only owners and admins
/// where the workspace's settings say so.
pub async fn require_creator(db: &PgPool, member: Membership) -> Result<Membership, AppError> {
    let member = member.require_full_member("create channels")?;
    if member.is_admin() || db::members_create_channels(db, member.id).await? {
        Ok(member)
    } else {
        Err(AppError::Forbidden(
            "In this workspace only owners and admins create channels.".into(),
        ))
    }
}

/// Channel names are lowercase, like Slack's: "Team Launch" → "team-launch".
pub fn normalise_name(name: &str) -> Result<String, AppError> {
    let name: String = name
        .trim()
        .trim_start_matches('#')
        .to_lowercase()
        .chars()
        .map(|c| if c.is_whitespace() { '-' } else { c })
        .collect();
    let ok = !name.is_empty()
        && name.len() <= 80
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && name.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(name)
    } else {
        Err(AppError::Validation(
            "Channel names take up to 80 lowercase letters, digits, '-' and '_', starting with a letter or digit."
                .into(),
        ))
    }
}

/// Creates a channel with its creator and `member_ids` in it. Shared by the web and the CLI.
pub async fn create(
    pool: &PgPool,
    workspace_id: i64,
    name: &str,
    private: bool,
    topic: &str,
    creator_id: i64,
    member_ids: &[i64],
) -> Result<i64, AppError> {
    let name = normalise_name(name)?;
    let topic = check_topic(topic)?;
    let kind = if private {
        ChannelKind::Private
    } else {
        ChannelKind::Public
    };
    let taken = || AppError::Validation(format!("#{name} already exists. Choose another name."));
    if db::name_taken_for(pool, workspace_id, &name, Some(creator_id), 0).await? {
        return Err(taken());
    }
    let mut tx = pool.begin().await?;
    let channel_id = db::insert_channel(
        &mut *tx,
        workspace_id,
        kind,
        &name,
        &topic,
        Some(creator_id),
    )
    .await
    .map_err(|e| match violated_constraint(&e) {
        Some("channels_public_name_key") => taken(),
        _ => e.into(),
    })?;
    db::add_member(&mut *tx, channel_id, creator_id).await?;
    for &member_id in member_ids {
        db::add_member(&mut *tx, channel_id, member_id).await?;
    }
    tx.commit().await?;
    Ok(channel_id)
}

pub fn check_topic(topic: &str) -> Result<String, AppError> {
    let topic = topic.trim();
    if topic.chars().count() > 250 {
        return Err(AppError::Validation(
            "A topic can be at most 250 characters.".into(),
        ));
    }
    Ok(topic.to_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn channel_names_are_normalised_like_slack() {
        assert_eq!(
            super::normalise_name("#Team Launch").unwrap(),
            "team-launch"
        );
        assert!(super::normalise_name("-x").is_err());
        assert!(super::normalise_name("a/b").is_err());
    }
}
