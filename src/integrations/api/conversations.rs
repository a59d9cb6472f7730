//! `conversations.*`: list, info, history, create, join, invite, mark, open.

use serde_json::json;

use super::{ApiError, ApiResult, Ctx, Params, shapes};
use crate::auth::membership::Role;
use crate::channels::db::ChannelInfo;
use crate::channels::live;
use crate::channels::{self, ChannelKind, manage};
use crate::fields;
use crate::integrations::ids;
use crate::messages::db as messages_db;
use crate::messages::{MessageRow, reactions};

/// The channel an argument names (an id like `C12`, or `#name`), as the caller may see it:
/// a private channel or DM they are not in does not exist for them.
pub async fn resolve(ctx: &Ctx<'_>, params: &Params, arg: &str) -> Result<ChannelInfo, ApiError> {
    let given = params.str(arg).ok_or(ApiError("channel_not_found"))?;
    let id = match ids::parse_id(&given) {
        Some(id) if !given.starts_with('#') => Some(id),
        _ => {
            channels::db::channel_by_name(ctx.db(), ctx.workspace_id, given.trim_start_matches('#'))
                .await?
                .map(|c| c.id)
        }
    };
    let channel = match id {
        Some(id) => channels::db::info(ctx.db(), id, ctx.user.id).await?,
        None => None,
    };
    match channel {
        // A token acts in one workspace: another workspace's channels do not exist for it,
        // and a guest sees only the channels they were added to.
        Some(c)
            if c.workspace_id == ctx.workspace_id
                && (c.last_read_seq.is_some()
                    || (c.kind.is_public() && ctx.role != Role::Guest)) =>
        {
            Ok(c)
        }
        _ => Err(ApiError("channel_not_found")),
    }
}

/// Like [`resolve`], and a bot must be a member even of a public channel to read it.
pub async fn readable(ctx: &Ctx<'_>, params: &Params) -> Result<ChannelInfo, ApiError> {
    let channel = resolve(ctx, params, "channel").await?;
    if ctx.user.is_bot && channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    Ok(channel)
}

pub async fn list(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let types = params
        .str("types")
        .unwrap_or_else(|| "public_channel".to_owned());
    let mut kinds = Vec::new();
    for t in types.split(',').map(str::trim) {
        kinds.push(ChannelKind::from_slack_type(t).ok_or(ApiError("invalid_types"))?);
    }
    let limit = shapes::limit(params, 100, 1000);
    let after = shapes::read_cursor("channel", params)?.unwrap_or(0);
    let mut rows = channels::db::listing(
        ctx.db(),
        ctx.workspace_id,
        ctx.user.id,
        &kinds,
        params.bool("exclude_archived"),
        after,
        limit + 1,
    )
    .await?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|c| shapes::cursor("channel", c.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let channels: Vec<_> = rows.iter().map(shapes::channel).collect();
    Ok(fields! { "channels" => channels, "response_metadata" => json!({ "next_cursor": next }) })
}

pub async fn info(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = resolve(ctx, params, "channel").await?;
    let mut value = shapes::channel(&channel);
    if let Some(last_read_seq) = channel.last_read_seq {
        let last_read = match messages_db::message(ctx.db(), channel.id, last_read_seq).await? {
            Some(m) => ids::ts(m.message.created_at, m.message.seq),
            None => "0000000000.000000".to_owned(),
        };
        let unread = (channel.shown_total - channel.read_shown.unwrap_or(0)).max(0);
        value["last_read"] = json!(last_read);
        value["unread_count"] = json!(unread);
        value["unread_count_display"] = json!(unread);
    }
    Ok(fields! { "channel" => value })
}

/// A bound of `oldest` / `latest`: a `ts` of ours names a seq; a plain time names seconds.
enum Bound {
    Seq(i64),
    Secs(f64),
}

fn bound(params: &Params, name: &str) -> Result<Option<Bound>, ApiError> {
    let Some(text) = params.str(name) else {
        return Ok(None);
    };
    if let Some(seq) = ids::seq_of_ts(&text) {
        return Ok(Some(Bound::Seq(seq)));
    }
    ids::ts_seconds(&text)
        .map(|s| Some(Bound::Secs(s)))
        .ok_or(ApiError("invalid_ts_oldest"))
}

pub async fn history(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = readable(ctx, params).await?;
    let limit = shapes::limit(params, 100, 1000);
    let inclusive = params.bool("inclusive");
    let (mut after_seq, mut before_seq) = (0, i64::MAX);
    let (mut after_secs, mut before_secs) = (f64::MIN, f64::MAX);
    match bound(params, "oldest")? {
        Some(Bound::Seq(s)) => after_seq = if inclusive { s - 1 } else { s },
        Some(Bound::Secs(s)) => after_secs = s,
        None => {}
    }
    match bound(params, "latest")? {
        Some(Bound::Seq(s)) => before_seq = if inclusive { s + 1 } else { s },
        Some(Bound::Secs(s)) => before_secs = s,
        None => {}
    }
    if let Some(cursor) = shapes::read_cursor("seq", params)? {
        before_seq = before_seq.min(cursor);
    }
    let mut rows = messages_db::window(
        ctx.db(),
        channel.id,
        (after_seq, before_seq),
        (after_secs, before_secs),
        limit + 1,
    )
    .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if has_more {
        rows.last()
            .map(|m| shapes::cursor("seq", m.message.seq))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let messages = with_reactions(ctx, channel.id, &rows).await?;
    let pin_count = reactions::pinned_count(ctx.db(), channel.id).await?;
    Ok(fields! {
        "messages" => messages,
        "has_more" => has_more,
        "pin_count" => pin_count,
        "response_metadata" => json!({ "next_cursor": next }),
    })
}

/// Rows in Slack's shape with their reactions (one read for them all).
pub async fn with_reactions(
    ctx: &Ctx<'_>,
    channel_id: i64,
    rows: &[MessageRow],
) -> Result<Vec<serde_json::Value>, ApiError> {
    let seqs: Vec<i64> = rows.iter().map(|r| r.message.seq).collect();
    let mut groups = reactions::on_messages(ctx.db(), channel_id, &seqs).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let mine = groups.remove(&r.message.seq).unwrap_or_default();
            shapes::message(ctx, r, &mine)
        })
        .collect())
}

/// `conversations.replies`: the root, then its replies in order, paged by `cursor` and
/// `limit`, bounded by `oldest` / `latest` like `conversations.history`.
pub async fn replies(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = readable(ctx, params).await?;
    let root = params
        .str("ts")
        .and_then(|t| ids::seq_of_ts(&t))
        .ok_or(ApiError("thread_not_found"))?;
    let limit = shapes::limit(params, 1000, 1000);
    let after = shapes::read_cursor("reply", params)?.unwrap_or(0);
    let after = match bound(params, "oldest")? {
        Some(Bound::Seq(s)) => after.max(if params.bool("inclusive") { s - 1 } else { s }),
        _ => after,
    };
    let latest = match bound(params, "latest")? {
        Some(Bound::Seq(s)) => Some(if params.bool("inclusive") { s } else { s - 1 }),
        _ => None,
    };
    let mut rows = messages_db::thread(ctx.db(), channel.id, root, after, limit + 2).await?;
    match rows.first() {
        Some(first) if first.message.seq == root => {}
        // The ts names a reply: Slack answers with that reply's thread.
        _ => {
            let named = messages_db::message(ctx.db(), channel.id, root).await?;
            let Some(parent) = named.and_then(|r| r.message.thread_root_seq) else {
                return Err(ApiError("thread_not_found"));
            };
            rows = messages_db::thread(ctx.db(), channel.id, parent, after, limit + 2).await?;
        }
    }
    if let Some(latest) = latest {
        rows.retain(|r| r.message.thread_root_seq.is_none() || r.message.seq <= latest);
    }
    // The root comes first on every page and does not count against `limit`.
    let has_more = rows.len() as i64 > limit + 1;
    rows.truncate(limit as usize + 1);
    let next = if has_more {
        rows.last()
            .map(|m| shapes::cursor("reply", m.message.seq))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let messages = with_reactions(ctx, channel.id, &rows).await?;
    Ok(fields! {
        "messages" => messages,
        "has_more" => has_more,
        "response_metadata" => json!({ "next_cursor": next }),
    })
}

pub async fn create(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let name = params
        .str("name")
        .ok_or(ApiError("invalid_name_required"))?;
    channels::require_creator(ctx.db(), ctx.membership())
        .await
        .map_err(|e| match e {
            crate::error::AppError::Forbidden(_) => ApiError("restricted_action"),
            other => other.into(),
        })?;
    let private = params.bool("is_private");
    let id = match channels::create(
        ctx.db(),
        ctx.workspace_id,
        &name,
        private,
        "",
        ctx.user.id,
        &[],
    )
    .await
    {
        Ok(id) => id,
        Err(crate::error::AppError::Validation(why)) if why.contains("already exists") => {
            return Err(ApiError("name_taken"));
        }
        Err(crate::error::AppError::Validation(_)) => {
            return Err(ApiError("invalid_name_specials"));
        }
        Err(e) => return Err(e.into()),
    };
    live::joined(ctx.state, id, ctx.user.id).await?;
    let channel = channels::db::info(ctx.db(), id, ctx.user.id)
        .await?
        .ok_or(ApiError("internal_error"))?;
    Ok(fields! { "channel" => shapes::channel(&channel) })
}

pub async fn join(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    ctx.not_a_guest()?;
    let channel = resolve(ctx, params, "channel").await?;
    if !channel.kind.is_public() {
        return Err(ApiError("method_not_supported_for_channel_type"));
    }
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    if channels::db::add_member(ctx.db(), channel.id, ctx.user.id).await? {
        live::joined(ctx.state, channel.id, ctx.user.id).await?;
    }
    let channel = channels::db::info(ctx.db(), channel.id, ctx.user.id)
        .await?
        .ok_or(ApiError("internal_error"))?;
    Ok(fields! { "channel" => shapes::channel(&channel) })
}

pub async fn invite(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    ctx.not_a_guest()?;
    let channel = resolve(ctx, params, "channel").await?;
    if channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    if channel.kind.is_dm() {
        return Err(ApiError("method_not_supported_for_channel_type"));
    }
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    let users = params.str("users").ok_or(ApiError("no_user"))?;
    let mut ids_to_add = Vec::new();
    for given in users.split(',').filter(|u| !u.trim().is_empty()) {
        ids_to_add.push(ids::parse_id(given).ok_or(ApiError("user_not_found"))?);
        // Slack's own cap: a call costs the same whatever it asks.
        if ids_to_add.len() > MAX_INVITEES {
            return Err(ApiError("too_many_users"));
        }
    }
    ids_to_add.sort_unstable();
    ids_to_add.dedup();
    // One query checks them all, one statement adds them all.
    let active =
        channels::db::count_workspace_members(ctx.db(), ctx.workspace_id, &ids_to_add).await?;
    if active != ids_to_add.len() as i64 {
        return Err(ApiError("user_not_found"));
    }
    for id in channels::db::add_members(ctx.db(), channel.id, &ids_to_add).await? {
        live::joined(ctx.state, channel.id, id).await?;
    }
    let channel = channels::db::info(ctx.db(), channel.id, ctx.user.id)
        .await?
        .ok_or(ApiError("internal_error"))?;
    Ok(fields! { "channel" => shapes::channel(&channel) })
}

pub async fn mark(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = resolve(ctx, params, "channel").await?;
    if channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    let seq = params
        .str("ts")
        .and_then(|t| ids::seq_of_ts(&t))
        .ok_or(ApiError("invalid_timestamp"))?;
    let last_read_seq = channels::db::mark_read(ctx.db(), channel.id, ctx.user.id, seq).await?;
    live::read_moved(ctx.state, channel.id, ctx.user.id, last_read_seq).await?;
    Ok(serde_json::Map::new())
}

pub async fn open(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    if params.str("channel").is_some() {
        let channel = resolve(ctx, params, "channel").await?;
        return Ok(fields! { "channel" => shapes::channel(&channel) });
    }
    let users = params
        .str("users")
        .ok_or(ApiError("users_list_not_supplied"))?;
    let mut others = Vec::new();
    for given in users.split(',').filter(|u| !u.trim().is_empty()) {
        others.push(ids::parse_id(given).ok_or(ApiError("user_not_found"))?);
    }
    if others.is_empty() {
        return Err(ApiError("users_list_not_supplied"));
    }
    let id = match channels::dms::find_or_create(ctx.state, &ctx.membership(), ctx.user.id, &others)
        .await
    {
        Ok(id) => id,
        Err(crate::error::AppError::Forbidden(_)) => return Err(ApiError("restricted_action")),
        Err(crate::error::AppError::Validation(_)) => return Err(ApiError("too_many_users")),
        Err(crate::error::AppError::NotFound) => return Err(ApiError("user_not_found")),
        Err(e) => return Err(e.into()),
    };
    let channel = channels::db::info(ctx.db(), id, ctx.user.id)
        .await?
        .ok_or(ApiError("internal_error"))?;
    let value = if params.bool("return_im") {
        shapes::channel(&channel)
    } else {
        json!({ "id": ids::channel_id(channel.kind, channel.id) })
    };
    Ok(fields! { "channel" => value })
}

/// The most people one `conversations.invite` adds.
const MAX_INVITEES: usize = 1000;

/// `conversations.archive` / `conversations.unarchive`: owners and admins only.
pub async fn archive(ctx: &Ctx<'_>, params: &Params, archived: bool) -> ApiResult {
    let channel = resolve(ctx, params, "channel").await?;
    manage::set_archived(
        ctx.db(),
        &ctx.membership(),
        Some(ctx.user.id),
        channel.id,
        archived,
    )
    .await
    .map_err(refusal)?;
    Ok(serde_json::Map::new())
}

/// `conversations.rename`: owners and admins only; answers the renamed channel.
pub async fn rename(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = resolve(ctx, params, "channel").await?;
    let name = params
        .str("name")
        .ok_or(ApiError("invalid_name_required"))?;
    manage::rename(
        ctx.db(),
        &ctx.membership(),
        Some(ctx.user.id),
        channel.id,
        &name,
    )
    .await
    .map_err(refusal)?;
    let channel = channels::db::info(ctx.db(), channel.id, ctx.user.id)
        .await?
        .ok_or(ApiError("internal_error"))?;
    Ok(fields! { "channel" => shapes::channel(&channel) })
}

fn refusal(error: manage::ManageError) -> ApiError {
    match error {
        manage::ManageError::Internal(e) => ApiError::from(e),
        other => ApiError(other.code()),
    }
}
