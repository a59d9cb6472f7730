//! Who belongs to which workspace, with which role: the gate below `/w/<slug>`.
//!
//! Every workspace page, and every channel under it, first passes [`require_member`]: a
//! non-member (or a deactivated one) gets 404 for the workspace, whatever the door, so
//! membership cannot be probed. Admin-only actions then pass [`Membership::require_admin`].
//! Creating workspaces and inviting people is `workspaces/`'s; this is only the check.

use sqlx::{PgExecutor, PgPool};

use crate::error::AppError;

/// A user's place in a workspace.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Membership {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub role: String,
}

impl Membership {
    pub fn is_admin(&self) -> bool {
        matches!(self.role.as_str(), "owner" | "admin")
    }

    /// This membership, if it is an owner's or an admin's; otherwise 403 saying who may
    /// `action` (a member already knows the workspace exists, so 403 reveals nothing).
    pub fn require_admin(self, action: &str) -> Result<Self, AppError> {
        if self.is_admin() {
            Ok(self)
        } else {
            Err(AppError::Forbidden(format!(
                "Only owners and admins can {action}."
            )))
        }
    }
}

/// A row of the workspace switcher.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct WorkspaceSummary {
    pub slug: String,
    pub name: String,
    pub role: String,
    pub has_unread: bool,
}

impl WorkspaceSummary {
    /// Up to two letters for the switcher tile: "Acme Corp" → "AC".
    pub fn initials(&self) -> String {
        let letters: String = self
            .name
            .split_whitespace()
            .filter_map(|w| w.chars().next())
            .take(2)
            .collect();
        letters.to_uppercase()
    }
}

/// The asker's membership of the workspace, or 404 if they are not in it.
pub async fn require_member(db: &PgPool, slug: &str, user_id: i64) -> Result<Membership, AppError> {
    membership(db, slug, user_id)
        .await?
        .ok_or(AppError::NotFound)
}

/// The user's membership of the workspace with this slug; `None` for non-members.
pub async fn membership(
    db: impl PgExecutor<'_>,
    slug: &str,
    user_id: i64,
) -> sqlx::Result<Option<Membership>> {
    sqlx::query_as(
        "select w.id, w.slug, w.name, wm.role
         from workspaces w join workspace_members wm on wm.workspace_id = w.id
         where w.slug = $1 and wm.user_id = $2 and wm.deactivated_at is null",
    )
    .bind(slug)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Every workspace the user belongs to, with whether anything in it is unread.
pub async fn workspaces_of(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> sqlx::Result<Vec<WorkspaceSummary>> {
    sqlx::query_as(
        "select w.slug, w.name, wm.role,
                exists (select 1 from channel_members cm join channels c on c.id = cm.channel_id
                        where cm.user_id = $1 and c.workspace_id = w.id and c.archived_at is null
                          and c.last_seq > cm.last_read_seq) as has_unread
         from workspaces w join workspace_members wm on wm.workspace_id = w.id
         where wm.user_id = $1 and wm.deactivated_at is null
         order by lower(w.name), w.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}
