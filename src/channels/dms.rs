//! Starting a DM or group DM from the member list. The same set of people always lands in the
//! same conversation: it is keyed by its sorted member ids, unique per workspace.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::Redirect;

use super::{ChannelKind, db};
use crate::auth::CurrentUser;
use crate::auth::membership::{self, Membership};
use crate::error::AppError;
use crate::state::AppState;

/// At most this many people besides you in a group DM.
pub const MAX_OTHERS: usize = 8;

/// `POST /w/<slug>/dms` with one or more `user_id` fields.
pub async fn open(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    body: Bytes,
) -> Result<Redirect, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let mut others = Vec::new();
    for (key, value) in form_urlencoded::parse(&body) {
        if key == "user_id" {
            let id: i64 = value
                .parse()
                .map_err(|_| AppError::Validation("Pick people from the member list.".into()))?;
            others.push(id);
        }
    }
    let channel_id = find_or_create(&state, &workspace, me.id, &others).await?;
    Ok(Redirect::to(&super::path(&slug, channel_id)))
}

/// The DM of `me` and `others`, created on first use. A guest may message only people they
/// share a channel with.
pub async fn find_or_create(
    state: &AppState,
    workspace: &Membership,
    me: i64,
    others: &[i64],
) -> Result<i64, AppError> {
    let workspace_id = workspace.id;
    let mut members: Vec<i64> = others.iter().copied().chain([me]).collect();
    members.sort_unstable();
    members.dedup();
    let other_count = members.len() - 1;
    if other_count > MAX_OTHERS {
        return Err(AppError::Validation(format!(
            "A group DM can hold up to {MAX_OTHERS} people besides you; you picked {other_count}."
        )));
    }
    if db::count_workspace_members(&state.db, workspace_id, &members).await? != members.len() as i64
    {
        return Err(AppError::NotFound);
    }
    if workspace.is_guest() {
        let strangers: Vec<i64> = members.iter().copied().filter(|&m| m != me).collect();
        if db::sharing_a_channel(&state.db, workspace_id, me, &strangers).await?
            < strangers.len() as i64
        {
            return Err(AppError::Forbidden(
                "Guests can message only people they share a channel with.".into(),
            ));
        }
    }
    let dm_key = members
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    if let Some(id) = db::dm_by_key(&state.db, workspace_id, &dm_key).await? {
        return Ok(id);
    }
    let kind = if other_count <= 1 {
        ChannelKind::Dm
    } else {
        ChannelKind::GroupDm
    };
    let mut tx = state.db.begin().await?;
    let id = db::insert_dm(&mut tx, workspace_id, kind, &dm_key, &members, me).await?;
    tx.commit().await?;
    for &member in &members {
        super::live::joined(state, id, member).await?;
    }
    Ok(id)
}
