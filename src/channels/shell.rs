//! The frame around every workspace page: the workspace switcher, the sidebar with unread
//! state, and who is logged in. Built once per page by [`Shell::load`].

use super::ChannelAccess;
use super::sidebar::{self, Sidebar};
use crate::auth::CurrentUser;
use crate::auth::membership::{self, Membership, WorkspaceSummary};
use crate::error::AppError;
use crate::state::AppState;

pub struct Shell {
    pub csrf: String,
    pub me: CurrentUser,
    pub workspaces: Vec<WorkspaceSummary>,
    pub workspace: Membership,
    pub sidebar: Sidebar,
    /// The channel on screen, highlighted in the sidebar (0 for none).
    pub active_channel_id: i64,
    /// A followed thread has replies the person has not read.
    pub threads_unread: bool,
}

impl Shell {
    /// "#name" for channels; for DMs, the other people's names as the sidebar shows them.
    pub fn title_of(&self, access: &ChannelAccess) -> String {
        match &access.channel.name {
            Some(name) => format!("#{name}"),
            None => self
                .sidebar
                .dms
                .iter()
                .find(|d| d.id == access.channel.id)
                .map(|d| d.title.clone())
                .unwrap_or_else(|| "Direct message".to_owned()),
        }
    }

    /// A conversation's title by id, as the sidebar shows it ("#name" for channels).
    pub fn title_of_id(&self, channel_id: i64) -> String {
        let sidebar = &self.sidebar;
        match sidebar.channels.iter().find(|c| c.id == channel_id) {
            Some(c) => format!("#{}", c.title),
            None => sidebar
                .dms
                .iter()
                .find(|d| d.id == channel_id)
                .map(|d| d.title.clone())
                .unwrap_or_else(|| "a conversation".to_owned()),
        }
    }

    pub async fn load(
        state: &AppState,
        me: &CurrentUser,
        workspace: &Membership,
        active_channel_id: i64,
    ) -> Result<Self, AppError> {
        let workspaces = membership::workspaces_of(&state.db, me.id).await?;
        let sidebar = sidebar::load(&state.db, workspace, me.id).await?;
        let threads_unread = super::db::threads_unread(&state.db, workspace.id, me.id).await?;
        Ok(Self {
            csrf: me.csrf.clone(),
            me: me.clone(),
            workspaces,
            workspace: workspace.clone(),
            sidebar,
            active_channel_id,
            threads_unread,
        })
    }
}
