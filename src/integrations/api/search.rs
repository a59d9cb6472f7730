//! `search.messages`: Slack's request and answer, through Natter's search and its
//! authorization. Personal tokens only, as at Slack.

use serde_json::json;

use super::{ApiError, ApiResult, Ctx, Params};
use crate::error::AppError;
use crate::fields;
use crate::integrations::ids;
use crate::search::{self, Sort};

pub async fn messages(ctx: &Ctx<'_>, params: &Params) -> ApiResult {
    if ctx.user.is_bot {
        return Err(ApiError("not_allowed_token_type"));
    }
    let query = params.str("query").ok_or(ApiError("no_query"))?;
    let count = params.int("count").unwrap_or(20).clamp(1, 100);
    let page = params.int("page").unwrap_or(1).max(1);
    let sort = match params.str("sort").as_deref() {
        Some("score") => Sort::BestMatch,
        _ => Sort::Newest,
    };
    let results = match search::search(
        ctx.state,
        ctx.workspace_id,
        ctx.user.id,
        &query,
        sort,
        page,
        count,
    )
    .await
    {
        Ok(results) => results,
        Err(AppError::Validation(_)) => return Err(ApiError("invalid_query")),
        Err(e) => return Err(e.into()),
    };
    let base = format!("{}/w/{}", ctx.state.config.public_url, ctx.workspace_slug);
    let mut matches = Vec::with_capacity(results.hits.len());
    for hit in &results.hits {
        let channel_id = ids::channel_id(hit.channel_kind, hit.channel_id);
        matches.push(json!({
            "type": "message",
            "channel": { "id": channel_id, "name": hit.channel_label.trim_start_matches('#') },
            "user": ids::user_id(hit.user_id),
            "username": hit.username,
            "ts": ids::ts(hit.created_at, hit.seq),
            "text": hit.text,
            "permalink": format!("{base}/c/{}?around={}#m-{}", hit.channel_id, hit.seq, hit.seq),
            "team": ids::team_id(ctx.workspace_id),
        }));
    }
    let paging = json!({ "count": count, "total": results.total, "page": results.page, "pages": results.pages() });
    Ok(fields! {
        "query" => query,
        "messages" => json!({ "total": results.total, "matches": matches, "paging": paging, "pagination": {
            "total_count": results.total, "page": results.page, "per_page": count, "page_count": results.pages(),
            "first": (results.page - 1) * count + 1, "last": ((results.page - 1) * count + results.hits.len() as i64),
        }}),
    })
}
