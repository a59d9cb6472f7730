//! The frame around every workspace page: the workspace switcher, the sidebar with unread
//! state, and who is logged in. Built once per page by [`Shell::load`].

use crate::auth::CurrentUser;
use crate::channels::sidebar::{self, Sidebar};
use crate::error::AppError;
use crate::web::AppState;
use crate::workspaces::Membership;
use crate::workspaces::db::{self as workspaces_db, WorkspaceSummary};

pub struct Shell {
    pub csrf: String,
    pub me: CurrentUser,
    pub workspaces: Vec<WorkspaceSummary>,
    pub workspace: Membership,
    pub sidebar: Sidebar,
    /// The channel on screen, highlighted in the sidebar (0 for none).
    pub active_channel_id: i64,
}

impl Shell {
    pub async fn load(
        state: &AppState,
        me: &CurrentUser,
        workspace: &Membership,
        active_channel_id: i64,
    ) -> Result<Self, AppError> {
        let workspaces = workspaces_db::workspaces_of(&state.db, me.id).await?;
        let sidebar = sidebar::load(&state.db, workspace, me.id).await?;
        Ok(Self {
            csrf: me.csrf.clone(),
            me: me.clone(),
            workspaces,
            workspace: workspace.clone(),
            sidebar,
            active_channel_id,
        })
    }
}
