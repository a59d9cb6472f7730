//! Managing a workspace's members: roles, deactivation, reactivation and removal. One function
//! per action, shared by the admin pages, the CLI and SCIM; each checks who may act, keeps the
//! workspace with an owner, records itself in the audit log, and reaches open sockets at once.
//!
//! Deactivation keeps the person's messages and channel memberships (so reactivation gives
//! them back), but from the moment it commits every door asks `channels::db::active_member`
//! and finds them out: pages answer 404, their tokens `account_inactive` for this workspace,
//! their sends are refused, their webhooks stop, and their sockets get `channel.left` for each
//! of the workspace's channels (and close with 4001 when nothing is left).

use sqlx::PgPool;

use super::db;
use crate::auth::membership::Role;
use crate::channels::live;
use crate::error::AppError;
use crate::state::AppState;

/// Who acts, where: the actor's id and role in the workspace.
#[derive(Clone, Copy, Debug)]
pub struct Actor {
    pub workspace_id: i64,
    /// `None` for the command line (recorded as no one).
    pub user_id: Option<i64>,
    pub role: Role,
}

impl Actor {
    /// The server's operator at the command line, with an owner's rights.
    pub fn command_line(workspace_id: i64) -> Self {
        Self {
            workspace_id,
            user_id: None,
            role: Role::Owner,
        }
    }

    fn require_admin(&self) -> Result<(), AppError> {
        if self.role.is_admin() {
            Ok(())
        } else {
            Err(AppError::Forbidden(
                "Only owners and admins can manage members.".into(),
            ))
        }
    }
}

/// Changes a member's role. Only owners make or unmake owners; the last active owner stays one.
pub async fn set_role(
    pool: &PgPool,
    actor: Actor,
    target_id: i64,
    role: Role,
) -> Result<(), AppError> {
    let (mut tx, target) = begin(pool, actor, target_id).await?;
    if (target.role == Role::Owner || role == Role::Owner) && actor.role != Role::Owner {
        return Err(AppError::Forbidden(
            "Only owners can make or unmake owners.".into(),
        ));
    }
    if target.role == role {
        return Ok(());
    }
    if target.role == Role::Owner && !target.deactivated {
        keep_an_owner(&mut tx, actor.workspace_id, "demote").await?;
    }
    db::set_role(&mut tx, actor.workspace_id, target_id, role).await?;
    let details = format!("@{}: {} → {role}", target.username, target.role);
    crate::audit::record(
        &mut *tx,
        actor.workspace_id,
        actor.user_id,
        "member.role",
        &details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Deactivates a member: they keep their history but lose the workspace at once.
pub async fn deactivate(state: &AppState, actor: Actor, target_id: i64) -> Result<(), AppError> {
    let (mut tx, target) = begin(&state.db, actor, target_id).await?;
    if target.deactivated {
        return Ok(());
    }
    if target.role == Role::Owner {
        keep_an_owner(&mut tx, actor.workspace_id, "deactivate").await?;
    }
    let channels = db::channels_of_member(&mut *tx, actor.workspace_id, target_id).await?;
    db::set_deactivated(&mut tx, actor.workspace_id, target_id, true).await?;
    commit(tx, actor, "member.deactivate", &target).await?;
    for channel_id in channels {
        live::left(state, channel_id, target_id);
    }
    Ok(())
}

/// Gives a deactivated member the workspace back, with the channels they were in.
pub async fn reactivate(state: &AppState, actor: Actor, target_id: i64) -> Result<(), AppError> {
    let (mut tx, target) = begin(&state.db, actor, target_id).await?;
    if !target.deactivated {
        return Ok(());
    }
    db::set_deactivated(&mut tx, actor.workspace_id, target_id, false).await?;
    commit(tx, actor, "member.reactivate", &target).await?;
    for channel_id in db::channels_of_member(&state.db, actor.workspace_id, target_id).await? {
        live::joined(state, channel_id, target_id).await?;
    }
    Ok(())
}

/// Takes a member out of the workspace and all of its channels; their messages stay.
pub async fn remove(state: &AppState, actor: Actor, target_id: i64) -> Result<(), AppError> {
    let (mut tx, target) = begin(&state.db, actor, target_id).await?;
    if target.role == Role::Owner && !target.deactivated {
        keep_an_owner(&mut tx, actor.workspace_id, "remove").await?;
    }
    let channels = db::channels_of_member(&mut *tx, actor.workspace_id, target_id).await?;
    db::remove_member(&mut tx, actor.workspace_id, target_id).await?;
    commit(tx, actor, "member.remove", &target).await?;
    for channel_id in channels {
        live::left(state, channel_id, target_id);
    }
    Ok(())
}

/// Records the action on `target` in the audit log and commits it with the change.
async fn commit(
    mut tx: sqlx::Transaction<'static, sqlx::Postgres>,
    actor: Actor,
    action: &str,
    target: &db::ManagedMember,
) -> Result<(), AppError> {
    let details = format!("@{}", target.username);
    crate::audit::record(
        &mut *tx,
        actor.workspace_id,
        actor.user_id,
        action,
        &details,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The actor's right to act, a transaction, and the target member locked in it (404 when
/// they are not in the workspace).
async fn begin(
    pool: &PgPool,
    actor: Actor,
    target_id: i64,
) -> Result<
    (
        sqlx::Transaction<'static, sqlx::Postgres>,
        db::ManagedMember,
    ),
    AppError,
> {
    actor.require_admin()?;
    let mut tx = pool.begin().await?;
    let target = db::member_for_update(&mut tx, actor.workspace_id, target_id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((tx, target))
}

/// Refuses to take away the last active owner (the rows are locked by the caller's update).
async fn keep_an_owner(
    tx: &mut sqlx::PgConnection,
    workspace_id: i64,
    verb: &str,
) -> Result<(), AppError> {
    if db::active_owners(&mut *tx, workspace_id).await? <= 1 {
        return Err(AppError::Conflict(format!(
            "You cannot {verb} the workspace's last owner. Make someone else an owner first."
        )));
    }
    Ok(())
}
