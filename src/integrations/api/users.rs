//! `users.list`, `users.info`, `users.profile.get` and `users.profile.set`.

use serde_json::json;

use super::{ApiError, ApiResult, Ctx, Params, db, shapes};
use crate::fields;
use crate::integrations::ids;

pub async fn list(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let limit = shapes::limit(params, 200, 1000);
    let after = shapes::read_cursor("user", params)?.unwrap_or(0);
    let mut users = db::users(ctx.db(), ctx.workspace_id, after, limit + 1).await?;
    let next = if users.len() as i64 > limit {
        users.truncate(limit as usize);
        users
            .last()
            .map(|u| shapes::cursor("user", u.id))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let members: Vec<_> = users
        .iter()
        .map(|u| shapes::user(&ctx.state.config.public_url, u))
        .collect();
    Ok(fields! { "members" => members, "response_metadata" => json!({ "next_cursor": next }) })
}

pub async fn info(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let id = params
        .str("user")
        .and_then(|u| ids::parse_id(&u))
        .ok_or(ApiError("user_not_found"))?;
    let user = db::user(ctx.db(), ctx.workspace_id, id)
        .await?
        .ok_or(ApiError("user_not_found"))?;
    Ok(fields! { "user" => shapes::user(&ctx.state.config.public_url, &user) })
}

/// The member named by `user` (404-like `user_not_found` outside the caller's workspace), or
/// the caller when there is none: whose profile or do-not-disturb a method reads.
pub async fn caller_or_member(ctx: &Ctx<'_>, params: &Params) -> Result<i64, ApiError> {
    let Some(user) = params.str("user") else {
        return Ok(ctx.user.id);
    };
    let id = ids::parse_id(&user).ok_or(ApiError("user_not_found"))?;
    Ok(db::user(ctx.db(), ctx.workspace_id, id)
        .await?
        .ok_or(ApiError("user_not_found"))?
        .id)
}

/// `users.profile.get`: the caller's profile (with their email), or `user`'s.
pub async fn profile_get(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let user_id = caller_or_member(ctx, params).await?;
    let (name, email, profile) = crate::auth::profile::load(ctx.db(), user_id).await?;
    let email = (user_id == ctx.user.id).then_some(email.as_str());
    Ok(
        fields! { "profile" => shapes::profile(&ctx.state.config.public_url, &name, email, &profile) },
    )
}

/// `users.profile.set`: `profile` (an object, or its JSON) or one `name` and `value`, for the
/// caller. Slack's field names: `display_name` (or `real_name`), `title`, `status_emoji`,
/// `status_text`, `status_expiration`.
pub async fn profile_set(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    let mut fields = serde_json::Map::new();
    if let Some(profile) = params.json("profile") {
        let serde_json::Value::Object(map) = profile else {
            return Err(ApiError("invalid_profile"));
        };
        fields = map;
    } else if let (Some(name), Some(value)) = (params.str("name"), params.str("value")) {
        fields.insert(name, json!(value));
    } else {
        return Err(ApiError("invalid_profile"));
    }
    let text = |key: &str| -> Result<Option<String>, ApiError> {
        match fields.get(key) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ApiError("invalid_profile")),
        }
    };
    let expiration = match fields.get("status_expiration") {
        None => None,
        Some(v) => Some(
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                .ok_or(ApiError("invalid_profile"))?,
        ),
    };
    let change = crate::auth::profile::ProfileChange {
        display_name: text("display_name")?.or(text("real_name")?),
        title: text("title")?,
        time_zone: None,
        status_emoji: text("status_emoji")?,
        status_text: text("status_text")?,
        status_expiration: expiration,
    };
    let change = change
        .check(ctx.db())
        .await
        .map_err(|_| ApiError("invalid_profile"))?;
    crate::auth::profile::save(ctx.db(), ctx.user.id, &change).await?;
    crate::auth::profile::publish(ctx.state, ctx.user.id).await;
    let (name, email, profile) = crate::auth::profile::load(ctx.db(), ctx.user.id).await?;
    Ok(
        fields! { "profile" => shapes::profile(&ctx.state.config.public_url, &name, Some(&email), &profile) },
    )
}
