//! `users.list` and `users.info`.

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
    let members: Vec<_> = users.iter().map(shapes::user).collect();
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
    Ok(fields! { "user" => shapes::user(&user) })
}
