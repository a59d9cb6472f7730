//! Who belongs to which workspace, with which role: the gate below `/w/<slug>`.
//!
//! Every workspace page, and every channel under it, first passes [`require_member`]: a
//! non-member (or a deactivated one) gets 404 for the workspace, whatever the door, so
//! membership cannot be probed. Admin-only actions then pass [`Membership::require_admin`].
//! Creating workspaces and inviting people is `workspaces/`'s; this is only the check.

use sqlx::{PgExecutor, PgPool};

use crate::error::AppError;

/// What a member may do in a workspace, from most to least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything an admin may, and the workspace cannot be left without one.
    Owner,
    /// Manages members, channels, integrations and settings.
    Admin,
    Member,
    /// Sees only the channels they were added to; cannot browse, join or create channels,
    /// invite, or DM people they share no channel with.
    Guest,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Owner, Role::Admin, Role::Member, Role::Guest];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Member => "member",
            Role::Guest => "guest",
        }
    }

    pub fn is_admin(self) -> bool {
        matches!(self, Role::Owner | Role::Admin)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == text)
            .ok_or_else(|| format!("{text:?} is not a role; use owner, admin, member or guest."))
    }
}

crate::text_column!(Role);

/// A user's place in a workspace.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Membership {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub role: Role,
}

impl Membership {
    pub fn is_admin(&self) -> bool {
        self.role.is_admin()
    }

    pub fn is_guest(&self) -> bool {
        self.role == Role::Guest
    }

    /// This membership, unless it is a guest's; guests are refused with what they may not do.
    pub fn require_full_member(self, action: &str) -> Result<Self, AppError> {
        if self.is_guest() {
            Err(AppError::Forbidden(format!("Guests cannot {action}.")))
        } else {
            Ok(self)
        }
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
    pub role: Role,
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

/// The asker's membership of the workspace, or 404 if they are not in it. A workspace that
/// requires two-factor authentication sends members without it to set it up first (bots,
/// which have no login, are exempt).
pub async fn require_member(db: &PgPool, slug: &str, user_id: i64) -> Result<Membership, AppError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(flatten)]
        membership: Membership,
        two_factor_missing: bool,
    }
    let row: Row = sqlx::query_as(
        "select w.id, w.slug, w.name, wm.role,
                w.require_two_factor
                and not exists (select 1 from user_totp t
                                where t.user_id = wm.user_id and t.enabled_at is not null)
                and not (select is_bot from users where id = wm.user_id) as two_factor_missing
         from workspaces w join workspace_members wm on wm.workspace_id = w.id
         where w.slug = $1 and wm.user_id = $2 and wm.deactivated_at is null",
    )
    .bind(slug)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .ok_or(AppError::NotFound)?;
    if row.two_factor_missing {
        return Err(AppError::TwoFactorRequired);
    }
    Ok(row.membership)
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
                          and c.shown_total > cm.read_shown) as has_unread
         from workspaces w join workspace_members wm on wm.workspace_id = w.id
         where wm.user_id = $1 and wm.deactivated_at is null
         order by lower(w.name), w.id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Which of `others` share an active workspace with `user_id`: whose presence they may watch.
pub async fn sharing_a_workspace(
    db: impl PgExecutor<'_>,
    user_id: i64,
    others: &[i64],
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar(
        "select distinct o.user_id
         from workspace_members me
         join workspace_members o on o.workspace_id = me.workspace_id and o.deactivated_at is null
         where me.user_id = $1 and me.deactivated_at is null and o.user_id = any($2)",
    )
    .bind(user_id)
    .bind(others)
    .fetch_all(db)
    .await
}

/// Whether the user is an active member of any workspace.
pub async fn has_active_workspace(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from workspace_members where user_id = $1 and deactivated_at is null)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}
