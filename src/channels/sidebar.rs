//! The sidebar: every channel and DM the user is in, bold when unread, with a badge.
//!
//! In a channel the badge counts mentions of you; in a DM every message is for you, so it
//! counts every unread message. A muted conversation is dimmed and bold only when it has a
//! badge, which then counts only mentions. Both come from seqs and the mentions table, never from counting
//! messages.

use sqlx::PgPool;

use super::ChannelKind;
use super::db::{self, SidebarRow};
use crate::auth::membership::Membership;

pub struct Sidebar {
    pub channels: Vec<SidebarEntry>,
    pub dms: Vec<SidebarEntry>,
}

pub struct SidebarEntry {
    pub id: i64,
    /// The other people of a DM, comma-separated ids, for presence dots.
    pub other_ids: String,
    pub kind: ChannelKind,
    pub title: String,
    pub href: String,
    pub unread: i64,
    pub badge: i64,
    /// Muted by the person (notification level `mute`): dimmed, bold only with a badge.
    pub muted: bool,
}

impl SidebarEntry {
    pub fn is_unread(&self) -> bool {
        self.unread > 0 && (!self.muted || self.badge > 0)
    }
}

pub async fn load(db: &PgPool, workspace: &Membership, user_id: i64) -> sqlx::Result<Sidebar> {
    let rows = db::sidebar_rows(db, workspace.id, user_id).await?;
    let (dms, channels): (Vec<SidebarRow>, Vec<SidebarRow>) =
        rows.into_iter().partition(|r| r.kind.is_dm());
    let entry = |row: SidebarRow| SidebarEntry {
        href: super::path(&workspace.slug, row.id),
        // In a DM every message is for you (unless you muted it); in a channel, only mentions
        // are.
        badge: if row.kind.is_dm() && !row.muted {
            row.unread
        } else {
            row.mentions
        },
        id: row.id,
        other_ids: row.other_ids,
        kind: row.kind,
        title: row.title,
        unread: row.unread,
        muted: row.muted,
    };
    Ok(Sidebar {
        channels: channels.into_iter().map(entry).collect(),
        dms: dms.into_iter().map(entry).collect(),
    })
}
