//! `reactions.add`, `reactions.remove`, `reactions.get`, and `pins.add`, `pins.remove`,
//! `pins.list`: through the same functions as the browser's clicks.

use super::conversations::{readable, resolve, with_reactions};
use super::{ApiError, ApiResult, Ctx, Params};
use crate::fields;
use crate::integrations::ids;
use crate::messages::reactions::{self, ReactionError};
use crate::messages::{MessageRow, db as messages_db};

impl From<ReactionError> for ApiError {
    fn from(e: ReactionError) -> Self {
        match e {
            ReactionError::Other(e) => e.into(),
            other => ApiError(other.code()),
        }
    }
}

/// The channel and message a call names (`channel` and `timestamp`), which the caller must be
/// a member of to change.
async fn target(ctx: &Ctx<'_>, params: &Params) -> Result<(i64, MessageRow), ApiError> {
    let channel = resolve(ctx, params, "channel").await?;
    if channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    let row = message_named(ctx, channel.id, params).await?;
    Ok((channel.id, row))
}

async fn message_named(
    ctx: &Ctx<'_>,
    channel_id: i64,
    params: &Params,
) -> Result<MessageRow, ApiError> {
    let ts = params
        .str("timestamp")
        .or_else(|| params.str("ts"))
        .ok_or(ApiError("message_not_found"))?;
    let seq = ids::seq_of_ts(&ts).ok_or(ApiError("message_not_found"))?;
    match messages_db::message(ctx.db(), channel_id, seq).await? {
        Some(row)
            if row.message.deleted_at.is_none() && ids::names(&ts, row.message.created_at, seq) =>
        {
            Ok(row)
        }
        _ => Err(ApiError("message_not_found")),
    }
}

fn name(params: &Params) -> Result<String, ApiError> {
    params.str("name").ok_or(ApiError("invalid_name"))
}

pub async fn add(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let name = name(params)?;
    let (channel_id, row) = target(ctx, params).await?;
    reactions::add(ctx.state, channel_id, row.message.seq, ctx.user.id, &name).await?;
    Ok(serde_json::Map::new())
}

pub async fn remove(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let name = name(params)?;
    let (channel_id, row) = target(ctx, params).await?;
    reactions::remove(ctx.state, channel_id, row.message.seq, ctx.user.id, &name).await?;
    Ok(serde_json::Map::new())
}

/// The message with its reactions, as `{type: "message", channel, message}`.
pub async fn get(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = readable(ctx, params).await?;
    let row = message_named(ctx, channel.id, params).await?;
    let message = with_reactions(ctx, channel.id, std::slice::from_ref(&row))
        .await?
        .pop()
        .ok_or(ApiError("message_not_found"))?;
    Ok(fields! {
        "type" => "message",
        "channel" => ids::channel_id(channel.kind, channel.id),
        "message" => message,
    })
}

pub async fn pin(ctx: &Ctx<'_>, params: &Params, pinned: bool) -> ApiResult {
    let (channel_id, row) = target(ctx, params).await?;
    let changed =
        reactions::set_pinned(ctx.state, channel_id, row.message.seq, ctx.user.id, pinned).await?;
    match (changed, pinned) {
        (true, _) => Ok(serde_json::Map::new()),
        (false, true) => Err(ApiError("already_pinned")),
        (false, false) => Err(ApiError("no_pin")),
    }
}

pub async fn list_pins(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = readable(ctx, params).await?;
    let rows = reactions::pinned(ctx.db(), channel.id).await?;
    let items: Vec<_> = with_reactions(ctx, channel.id, &rows)
        .await?
        .into_iter()
        .map(|message| {
            serde_json::json!({
                "type": "message",
                "channel": ids::channel_id(channel.kind, channel.id),
                "message": message,
            })
        })
        .collect();
    Ok(fields! { "items" => items })
}
