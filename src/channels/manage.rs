//! What owners and admins do to a channel: archive and unarchive, rename, make private. One
//! function each, shared by the channel's details page, the Web API and the CLI; each is
//! audited. An archived channel stays readable; the send statement refuses posts to it and
//! joins are refused, so every door says `is_archived` at once.

use sqlx::PgPool;

use super::{ChannelKind, db, normalise_name};
use crate::auth::membership::Membership;
use crate::error::{AppError, violated_constraint};

/// Why a channel change was refused, for each door to say in its own words.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("Only owners and admins can {0} channels.")]
    NotAdmin(&'static str),
    #[error("That channel does not exist.")]
    NotFound,
    #[error("#general is where everyone is; it cannot be archived or made private.")]
    General,
    #[error("Direct messages cannot be {0}.")]
    Dm(&'static str),
    #[error("This channel is archived already.")]
    AlreadyArchived,
    #[error("This channel is not archived.")]
    NotArchived,
    #[error("This channel is private already.")]
    AlreadyPrivate,
    #[error("#{0} already exists. Choose another name.")]
    NameTaken(String),
    #[error("{0}")]
    BadName(String),
    #[error(transparent)]
    Internal(#[from] AppError),
}

impl From<sqlx::Error> for ManageError {
    fn from(error: sqlx::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl ManageError {
    /// Slack's error code for it.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotAdmin(_) => "restricted_action",
            Self::NotFound => "channel_not_found",
            Self::General => "cant_archive_general",
            Self::Dm(_) => "method_not_supported_for_channel_type",
            Self::AlreadyArchived => "already_archived",
            Self::NotArchived => "not_archived",
            Self::AlreadyPrivate => "method_not_supported_for_channel_type",
            Self::NameTaken(_) => "name_taken",
            Self::BadName(_) => "invalid_name_specials",
            Self::Internal(_) => "internal_error",
        }
    }
}

impl From<ManageError> for AppError {
    fn from(error: ManageError) -> Self {
        match error {
            ManageError::NotAdmin(_) => AppError::Forbidden(error.to_string()),
            ManageError::NotFound => AppError::NotFound,
            ManageError::BadName(why) => AppError::Validation(why),
            ManageError::Internal(e) => e,
            other => AppError::Conflict(other.to_string()),
        }
    }
}

/// The channel of the workspace, if the actor may manage it.
async fn managed(
    pool: &PgPool,
    workspace: &Membership,
    channel_id: i64,
    verb: &'static str,
) -> Result<db::Channel, ManageError> {
    if !workspace.is_admin() {
        return Err(ManageError::NotAdmin(verb));
    }
    let channel = db::channel_for(pool, workspace.id, channel_id, 0)
        .await?
        .ok_or(ManageError::NotFound)?
        .channel;
    if channel.is_dm() {
        return Err(ManageError::Dm(match verb {
            "archive" | "unarchive" => "archived",
            "rename" => "renamed",
            _ => "changed",
        }));
    }
    Ok(channel)
}

/// Archives (`true`) or unarchives the channel.
pub async fn set_archived(
    pool: &PgPool,
    workspace: &Membership,
    actor_id: Option<i64>,
    channel_id: i64,
    archived: bool,
) -> Result<(), ManageError> {
    let verb = if archived { "archive" } else { "unarchive" };
    let channel = managed(pool, workspace, channel_id, verb).await?;
    if channel.is_general {
        return Err(ManageError::General);
    }
    match (archived, channel.archived) {
        (true, true) => return Err(ManageError::AlreadyArchived),
        (false, false) => return Err(ManageError::NotArchived),
        _ => {}
    }
    let mut tx = pool.begin().await?;
    db::set_archived(&mut *tx, channel_id, archived).await?;
    let name = format!("#{}", channel.name.unwrap_or_default());
    let action = if archived {
        "channel.archive"
    } else {
        "channel.unarchive"
    };
    crate::audit::record(&mut *tx, workspace.id, actor_id, action, &name).await?;
    tx.commit().await?;
    Ok(())
}

/// Renames the channel; its id, members and history stay.
pub async fn rename(
    pool: &PgPool,
    workspace: &Membership,
    actor_id: Option<i64>,
    channel_id: i64,
    new_name: &str,
) -> Result<String, ManageError> {
    let channel = managed(pool, workspace, channel_id, "rename").await?;
    let name = normalise_name(new_name).map_err(|e| ManageError::BadName(e.to_string()))?;
    if db::name_taken_for(pool, workspace.id, &name, actor_id, channel_id).await? {
        return Err(ManageError::NameTaken(name));
    }
    let mut tx = pool.begin().await?;
    db::rename(&mut *tx, channel_id, &name)
        .await
        .map_err(|e| match violated_constraint(&e) {
            Some("channels_public_name_key") => ManageError::NameTaken(name.clone()),
            _ => e.into(),
        })?;
    let details = format!("#{} → #{name}", channel.name.unwrap_or_default());
    crate::audit::record(&mut *tx, workspace.id, actor_id, "channel.rename", &details).await?;
    tx.commit().await?;
    Ok(name)
}

/// Makes a public channel private: from now on only its members know it exists.
pub async fn make_private(
    pool: &PgPool,
    workspace: &Membership,
    actor_id: Option<i64>,
    channel_id: i64,
) -> Result<(), ManageError> {
    let channel = managed(pool, workspace, channel_id, "make private").await?;
    if channel.is_general {
        return Err(ManageError::General);
    }
    if channel.kind == ChannelKind::Private {
        return Err(ManageError::AlreadyPrivate);
    }
    let mut tx = pool.begin().await?;
    db::set_kind(&mut *tx, channel_id, ChannelKind::Private).await?;
    let name = format!("#{}", channel.name.unwrap_or_default());
    crate::audit::record(&mut *tx, workspace.id, actor_id, "channel.private", &name).await?;
    tx.commit().await?;
    Ok(())
}
