//! `files.*`: Slack's upload flow (`files.getUploadURLExternal`, a POST of the bytes to the
//! URL it gives, `files.completeUploadExternal`), as `slack_sdk`'s `files_upload_v2` drives it,
//! and `files.info`, `files.list`, `files.delete`. Files are the files domain's; sharing one is
//! sending a message, through the same path as every other door.

use serde_json::{Value, json};

use super::conversations::{readable, resolve};
use super::{ApiError, ApiResult, Ctx, Params, shapes};
use crate::error::AppError;
use crate::fields;
use crate::files::upload::{self, Upload};
use crate::files::{self, FileRow};
use crate::integrations::ids;
use crate::messages::{self, NewMessage, SendError};

/// `files.getUploadURLExternal` (`filename`, `length`): a file id and a URL to POST the bytes
/// to, valid ten minutes, once.
pub async fn get_upload_url(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let name = params
        .str("filename")
        .ok_or(ApiError("invalid_arguments"))?;
    let length = params
        .int("length")
        .filter(|l| *l > 0)
        .ok_or(ApiError("invalid_arguments"))?;
    let (file_id, secret) = upload::begin_external(
        ctx.state,
        Upload {
            workspace_id: ctx.workspace_id,
            user_id: ctx.user.id,
            name: &name,
            title: None,
            length: Some(length as u64),
        },
    )
    .await?;
    Ok(fields! {
        "upload_url" => format!("{}/api/upload/{file_id}/{secret}", ctx.state.config.public_url),
        "file_id" => file_id,
    })
}

/// `files.completeUploadExternal` (`files` = `[{"id", "title"}]`, `channel_id` or
/// `channels`, `initial_comment`, `thread_ts`): gives the files their titles and, with a
/// channel, shares them there in one message. Files never uploaded are `file_not_found`.
pub async fn complete_upload(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let Some(Value::Array(given)) = params.json("files") else {
        return Err(ApiError("invalid_arguments"));
    };
    let mut ids = Vec::new();
    for entry in &given {
        let id = entry["id"].as_str().ok_or(ApiError("invalid_arguments"))?;
        let file = files::db::find(ctx.db(), id, ctx.workspace_id)
            .await?
            .filter(|f| f.user_id == ctx.user.id)
            .ok_or(ApiError("file_not_found"))?;
        if let Some(title) = entry["title"].as_str().filter(|t| !t.trim().is_empty()) {
            files::db::set_title(ctx.db(), &file.id, title)
                .await
                .map_err(ApiError::from)?;
        }
        ids.push(file.id);
    }
    if ids.is_empty() {
        return Err(ApiError("invalid_arguments"));
    }
    let channel_arg = if params.str("channel_id").is_some() {
        Some("channel_id")
    } else if params.str("channels").is_some() {
        Some("channels")
    } else {
        None
    };
    if let Some(arg) = channel_arg {
        share(ctx, params, arg, &ids).await?;
    }
    let readable = readable_kinds(ctx).await?;
    let mut shaped = Vec::new();
    for id in &ids {
        if let Some(file) = files::db::find(ctx.db(), id, ctx.workspace_id).await? {
            shaped.push(file_shape(ctx, &file, &readable).await?);
        }
    }
    Ok(fields! { "files" => shaped })
}

/// Shares the files in the channel named by `arg` (`channels` may list several: the first is
/// used, as one message can be in one place), with `initial_comment` as its text.
async fn share(ctx: &Ctx<'_>, params: &Params, arg: &str, ids: &[String]) -> Result<(), ApiError> {
    let mut one = Params::default();
    let first = params
        .str(arg)
        .and_then(|c| c.split(',').next().map(str::trim).map(str::to_owned))
        .ok_or(ApiError("channel_not_found"))?;
    one.set("channel", &first);
    let channel = resolve(ctx, &one, "channel").await?;
    if channel.archived {
        return Err(ApiError("is_archived"));
    }
    if channel.last_read_seq.is_none() {
        return Err(ApiError("not_in_channel"));
    }
    let comment = params.str("initial_comment").unwrap_or_default();
    let thread_root = match params.str("thread_ts") {
        Some(ts) => Some(super::chat::thread_root(ctx, channel.id, &ts).await?),
        None => None,
    };
    let new = NewMessage::new(channel.id, ctx.user.id, &comment)
        .in_thread(thread_root, false)
        .with_files(ids);
    messages::post(ctx.state, new).await.map_err(|e| match e {
        SendError::Internal(cause) => ApiError::from(AppError::Internal(cause)),
        other => ApiError(other.code()),
    })?;
    Ok(())
}

/// `files.info` (`file`): one file the caller may read.
pub async fn info(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let file = readable_file(ctx, params).await?;
    Ok(fields! {
        "file" => file_shape(ctx, &file, &readable_kinds(ctx).await?).await?,
        "comments" => Vec::<Value>::new(),
        "response_metadata" => json!({ "next_cursor": "" }),
    })
}

/// `files.list` (`channel`, `user`, `count`, `page`): the files the caller may see, newest
/// first.
pub async fn list(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let readable_channels = readable_kinds(ctx).await?;
    let channel_ids: Vec<i64> = if params.str("channel").is_some() {
        vec![readable(ctx, params).await?.id]
    } else {
        readable_channels.iter().map(|&(id, _)| id).collect()
    };
    let uploader = match params.str("user") {
        Some(u) => Some(ids::parse_id(&u).ok_or(ApiError("user_not_found"))?),
        None => None,
    };
    let count = params.int("count").unwrap_or(100).clamp(1, 1000);
    let page = params.int("page").unwrap_or(1).max(1);
    let rows = files::db::listed(
        ctx.db(),
        ctx.workspace_id,
        ctx.user.id,
        &channel_ids,
        uploader,
        count,
        (page - 1) * count,
    )
    .await?;
    let mut shaped = Vec::new();
    for file in &rows {
        shaped.push(file_shape(ctx, file, &readable_channels).await?);
    }
    Ok(fields! {
        "files" => shaped,
        "paging" => json!({ "count": count, "page": page, "total": rows.len() }),
    })
}

/// `files.delete` (`file`): the uploader or an admin; anyone else `cant_delete_file`.
pub async fn delete(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let file = readable_file(ctx, params).await?;
    match messages::delete_file(ctx.state, &file, ctx.user.id).await {
        Ok(()) => Ok(serde_json::Map::new()),
        Err(AppError::Forbidden(_)) => Err(ApiError("cant_delete_file")),
        Err(other) => Err(other.into()),
    }
}

async fn readable_file(ctx: &Ctx<'_>, params: &Params) -> Result<FileRow, ApiError> {
    let id = params.str("file").ok_or(ApiError("file_not_found"))?;
    files::db::readable(ctx.db(), &id, ctx.user.id)
        .await?
        .filter(|f| f.workspace_id == ctx.workspace_id)
        .ok_or(ApiError("file_not_found"))
}

/// A file in Slack's shape, with the conversations it is shared in that the caller may read
/// (`readable`: [`readable_kinds`], read once per call however many files it shapes).
async fn file_shape(
    ctx: &Ctx<'_>,
    file: &FileRow,
    readable: &[(i64, crate::channels::ChannelKind)],
) -> Result<Value, ApiError> {
    let mut value = shapes::file(ctx.state, &file.file_ref());
    let shared = files::db::shared_in(ctx.db(), &file.id).await?;
    let (mut channels, mut groups, mut ims) = (Vec::new(), Vec::new(), Vec::new());
    for &(id, kind) in readable.iter().filter(|(id, _)| shared.contains(id)) {
        let list = match kind {
            crate::channels::ChannelKind::Public => &mut channels,
            crate::channels::ChannelKind::Private => &mut groups,
            _ => &mut ims,
        };
        list.push(ids::channel_id(kind, id));
    }
    value["channels"] = json!(channels);
    value["groups"] = json!(groups);
    value["ims"] = json!(ims);
    Ok(value)
}

/// The channels the caller may read, with their kinds.
async fn readable_kinds(
    ctx: &Ctx<'_>,
) -> Result<Vec<(i64, crate::channels::ChannelKind)>, ApiError> {
    Ok(
        crate::search::db::readable_channels(ctx.db(), ctx.workspace_id, ctx.user.id)
            .await?
            .into_iter()
            .map(|(id, _, kind)| (id, kind))
            .collect(),
    )
}
