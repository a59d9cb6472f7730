//! `chat.postMessage`, `chat.update`, `chat.delete`: through the same send path as the browser.

use std::collections::HashMap;

use serde_json::Value;

use super::conversations::resolve;
use super::{ApiError, ApiResult, Ctx, Params, shapes};
use crate::channels::db::ChannelInfo;
use crate::error::AppError;
use crate::fields;
use crate::integrations::{icons, ids, mrkdwn, render};
use crate::messages::live;
use crate::messages::{self, DeletedBy, NewMessage, SendError, StoredMessage};

/// The text of a call: `text` in mrkdwn, plus `blocks` and `attachments`, as markdown.
async fn body(ctx: &Ctx<'_>, params: &Params) -> Result<String, ApiError> {
    let raw = [
        params.str("text"),
        params.json("blocks").map(|b| b.to_string()),
        params.json("attachments").map(|a| a.to_string()),
    ];
    let ids: Vec<i64> = raw
        .iter()
        .flatten()
        .flat_map(|t| mrkdwn::mentioned_ids(t))
        .collect();
    let names: HashMap<i64, String> =
        crate::integrations::db::usernames(ctx.db(), ctx.workspace_id, &ids)
            .await?
            .into_iter()
            .collect();
    let mut parts = Vec::new();
    if let Some(text) = params.str("text").filter(|t| !t.trim().is_empty()) {
        parts.push(mrkdwn::to_markdown(&text, &names));
    }
    if let Some(Value::Array(blocks)) = params.json("blocks") {
        parts.extend(render::blocks(&blocks, &names));
    }
    if let Some(Value::Array(attachments)) = params.json("attachments") {
        parts.extend(render::attachments(&attachments, &names));
    }
    if parts.is_empty() {
        return Err(ApiError("no_text"));
    }
    let text = parts.join("\n\n");
    messages::check_body(&text).map_err(|e| ApiError(e.code()))?;
    Ok(text)
}

pub async fn post_message(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let channel = resolve(ctx, params, "channel").await?;
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    if channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    let text = body(ctx, params).await?;
    let client_msg_id = params.str("client_msg_id");
    // A bot may post under another name (always shown with its BOT tag and its own handle);
    // a person's token posts as that person, never as "Alice (CEO)".
    let username = params
        .str("username")
        .filter(|n| ctx.user.is_bot && n.chars().count() <= 80);
    let icon = params
        .str("icon_url")
        .filter(|u| icons::acceptable(u))
        .or_else(|| params.str("icon_emoji"))
        .filter(|_| ctx.user.is_bot);
    // A `thread_ts` of ours names the root's seq; anything else names no message.
    let thread_root = match params.str("thread_ts") {
        Some(ts) => Some(thread_root(ctx, channel.id, &ts).await?),
        None => None,
    };
    let mut new = NewMessage::new(channel.id, ctx.user.id, &text)
        .with_client_msg_id(client_msg_id.as_deref())
        .in_thread(thread_root, params.bool("reply_broadcast"));
    new.sender_name = username.as_deref();
    new.sender_icon = icon.as_deref();
    // Slack's `unfurl_links: false` turns link previews off for this message.
    new.unfurl = params
        .str("unfurl_links")
        .is_none_or(|v| v != "false" && v != "0");
    let sent = messages::post(ctx.state, new).await.map_err(|e| match e {
        SendError::Internal(cause) => ApiError::from(AppError::Internal(cause)),
        other => ApiError(other.code()),
    })?;
    if let Some(url) = icon.as_deref().filter(|i| icons::acceptable(i)) {
        icons::fetch_soon(ctx.state, url);
    }
    let m = &sent.row.message;
    Ok(fields! {
        "channel" => ids::channel_id(channel.kind, channel.id),
        "ts" => ids::ts(m.created_at, m.seq),
        "message" => shapes::message(ctx, &sent.row, &[]),
    })
}

/// The root a `thread_ts` names. The send statement checks it is a live top-level message under
/// the channel's lock; this checks the `ts` is that message's, not a seq of another channel.
pub(super) async fn thread_root(ctx: &Ctx<'_>, channel_id: i64, ts: &str) -> Result<i64, ApiError> {
    let seq = ids::seq_of_ts(ts).ok_or(ApiError("thread_not_found"))?;
    match messages::db::message(ctx.db(), channel_id, seq).await? {
        Some(row) if ids::names(ts, row.message.created_at, seq) => Ok(seq),
        _ => Err(ApiError("thread_not_found")),
    }
}

/// The caller's own live message a `ts` names in a channel (an admin's `may_moderate` lets
/// them name anyone's).
async fn own_message(
    ctx: &Ctx<'_>,
    params: &Params,
    refused: &'static str,
    may_moderate: bool,
) -> Result<(ChannelInfo, StoredMessage), ApiError> {
    let channel = resolve(ctx, params, "channel").await?;
    let seq = params
        .str("ts")
        .and_then(|t| ids::seq_of_ts(&t))
        .ok_or(ApiError("message_not_found"))?;
    let message = messages::db::message(ctx.db(), channel.id, seq)
        .await?
        .ok_or(ApiError("message_not_found"))?
        .message;
    if message.deleted_at.is_some() {
        return Err(ApiError("message_not_found"));
    }
    if message.user_id != ctx.user.id && !(may_moderate && ctx.role.is_admin()) {
        return Err(ApiError(refused));
    }
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    Ok((channel, message))
}

pub async fn update(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let (channel, message) = own_message(ctx, params, "cant_update_message", false).await?;
    let text = body(ctx, params).await?;
    messages::edit(ctx.db(), channel.id, message.seq, ctx.user.id, &text)
        .await
        .map_err(|e| match e {
            AppError::NotFound => ApiError("message_not_found"),
            other => other.into(),
        })?;
    live::message_edited(ctx.state, channel.id, message.seq).await?;
    Ok(fields! {
        "channel" => ids::channel_id(channel.kind, channel.id),
        "ts" => ids::ts(message.created_at, message.seq),
        "text" => text,
    })
}

pub async fn delete(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let (channel, message) = own_message(ctx, params, "cant_delete_message", true).await?;
    let by = if ctx.role.is_admin() {
        DeletedBy::Admin {
            workspace_id: ctx.workspace_id,
            actor_id: ctx.user.id,
        }
    } else {
        DeletedBy::Author(ctx.user.id)
    };
    let root = messages::delete(ctx.db(), channel.id, message.seq, by)
        .await
        .map_err(|e| match e {
            AppError::NotFound => ApiError("message_not_found"),
            other => other.into(),
        })?;
    live::message_deleted(ctx.state, channel.id, message.seq, root).await?;
    Ok(fields! {
        "channel" => ids::channel_id(channel.kind, channel.id),
        "ts" => ids::ts(message.created_at, message.seq),
    })
}
