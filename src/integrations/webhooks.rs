//! Incoming webhooks: `POST /hooks/<token>` with Slack's payload, as JSON or as a form field
//! `payload=<json>`. Answers `ok`, or Slack's error strings with a 4xx.

use std::collections::HashMap;

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{db, mrkdwn, render};
use crate::error::AppError;
use crate::messages::{self, NewMessage, SendError};
use crate::secrets::hash_secret;
use crate::state::AppState;

/// Bodies past this are refused whole.
pub const MAX_BODY: usize = 1024 * 1024;

fn answer(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

pub async fn receive(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&state, &token, &headers, body).await {
        Ok(response) => response,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "webhook failed");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    }
}

async fn handle(
    state: &AppState,
    token: &str,
    headers: &HeaderMap,
    body: Body,
) -> anyhow::Result<Response> {
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return Ok(answer(StatusCode::PAYLOAD_TOO_LARGE, "invalid_payload"));
    };
    let Some(hook) = db::webhook_by_token(&state.db, &hash_secret(token)).await? else {
        return Ok(answer(StatusCode::NOT_FOUND, "no_service"));
    };
    if hook.channel_archived {
        return Ok(answer(StatusCode::GONE, "channel_is_archived"));
    }
    if let Err(AppError::RateLimited {
        retry_after_secs, ..
    }) = state.hook_limiter.check(hook.id)
    {
        let mut response = answer(StatusCode::TOO_MANY_REQUESTS, "rate_limited");
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return Ok(response);
    }
    let Some(payload) = parse_payload(headers, &bytes) else {
        return Ok(answer(StatusCode::BAD_REQUEST, "invalid_payload"));
    };
    let ids = mrkdwn::mentioned_ids(&payload.to_string());
    let names: HashMap<i64, String> = db::usernames(&state.db, hook.workspace_id, &ids)
        .await?
        .into_iter()
        .collect();
    let mut parts = Vec::new();
    if let Some(text) = payload
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
    {
        parts.push(mrkdwn::to_markdown(text, &names));
    }
    if let Some(blocks) = payload.get("blocks").and_then(Value::as_array) {
        parts.extend(render::blocks(blocks, &names));
    }
    if let Some(attachments) = payload.get("attachments").and_then(Value::as_array) {
        parts.extend(render::attachments(attachments, &names));
    }
    if parts.is_empty() {
        return Ok(answer(StatusCode::BAD_REQUEST, "no_text"));
    }
    let text = parts.join("\n\n");
    let sender_name = payload
        .get("username")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.chars().count() <= 80);
    let sender_icon = payload
        .get("icon_url")
        .and_then(Value::as_str)
        .filter(|u| super::icons::acceptable(u))
        .or_else(|| payload.get("icon_emoji").and_then(Value::as_str))
        .filter(|i| i.len() <= 500);
    let mut new = NewMessage::new(hook.channel_id, hook.user_id, &text);
    new.sender_name = sender_name;
    new.sender_icon = sender_icon;
    let sent = match messages::send(state, new).await {
        Ok(sent) => sent,
        // Slack's webhook answers: a status and a bare error string.
        Err(SendError::Archived) => return Ok(answer(StatusCode::GONE, "channel_is_archived")),
        // The hook's own user was taken out of the channel: the hook is as good as gone.
        Err(SendError::NotMember) => return Ok(answer(StatusCode::NOT_FOUND, "no_service")),
        Err(SendError::Internal(e)) => return Err(e),
        Err(e) => return Ok(answer(StatusCode::BAD_REQUEST, e.code())),
    };
    messages::publish_sent(state, &sent);
    if let Some(url) = sender_icon.filter(|i| super::icons::acceptable(i)) {
        super::icons::fetch_soon(state, url);
    }
    Ok(answer(StatusCode::OK, "ok"))
}

/// JSON, or a form with the JSON in `payload`; anything else is `None`.
fn parse_payload(headers: &HeaderMap, bytes: &[u8]) -> Option<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let json = if content_type.starts_with("application/x-www-form-urlencoded") {
        let payload = form_urlencoded::parse(bytes)
            .find(|(k, _)| k == "payload")?
            .1
            .into_owned();
        serde_json::from_str::<Value>(&payload).ok()?
    } else {
        serde_json::from_slice::<Value>(bytes).ok()?
    };
    json.is_object().then_some(json)
}
