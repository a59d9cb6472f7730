//! The Slack-compatible Web API: `/api/<method>`.
//!
//! Requests carry `Authorization: Bearer <token>` (a bot's or a person's) or a `token`
//! argument; arguments come as a query string, a form, or a JSON body. Answers are Slack's:
//! `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` (HTTP 200, as Slack does), and 429
//! with `Retry-After` when rate limited. A caller sees exactly what its memberships allow: a
//! private channel or DM it is not in is `channel_not_found`, as if it did not exist.

mod chat;
mod conversations;
pub mod db;
mod dnd;
mod files;
mod reactions;
mod search;
pub mod shapes;
pub(super) mod users;

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::auth::db::User;
use crate::auth::membership::{Membership, Role};
use crate::auth::tokens;
use crate::error::AppError;
use crate::secrets::hash_secret;
use crate::state::AppState;

/// The database is out of reach: HTTP 503 with `Retry-After`, which Slack's SDKs retry.
const UNAVAILABLE: &str = "service_unavailable";

/// A Slack error code, answered as `{"ok": false, "error": code}`.
#[derive(Debug)]
pub struct ApiError(pub &'static str);

impl From<sqlx::Error> for ApiError {
    fn from(error: sqlx::Error) -> Self {
        if crate::error::is_outage(&error) {
            return ApiError(UNAVAILABLE);
        }
        tracing::error!(error = %error, "database error in the Web API");
        ApiError("internal_error")
    }
}

impl From<AppError> for ApiError {
    fn from(error: AppError) -> Self {
        match error {
            AppError::NotFound => ApiError("channel_not_found"),
            AppError::Forbidden(_) => ApiError("not_in_channel"),
            AppError::Conflict(_) => ApiError("is_archived"),
            AppError::RateLimited { .. } | AppError::Busy { .. } => ApiError("ratelimited"),
            AppError::Unauthorized => ApiError("not_authed"),
            AppError::TwoFactorRequired => ApiError("two_factor_setup_required"),
            AppError::Validation(_) => ApiError("invalid_arguments"),
            AppError::TooLarge(_) => ApiError("file_too_large"),
            AppError::Unavailable => ApiError(UNAVAILABLE),
            AppError::Internal(e) if crate::error::chain_is_outage(&e) => ApiError(UNAVAILABLE),
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "error in the Web API");
                ApiError("internal_error")
            }
        }
    }
}

pub type ApiResult = Result<Map<String, Value>, ApiError>;

/// The arguments of a call, from the query string and the body.
#[derive(Default)]
pub struct Params(Map<String, Value>);

impl Params {
    /// Sets an argument (to call a helper that reads one another way).
    pub fn set(&mut self, name: &str, value: &str) {
        self.0
            .insert(name.to_owned(), Value::String(value.to_owned()));
    }

    /// A string argument (numbers and booleans are read as their text).
    pub fn str(&self, name: &str) -> Option<String> {
        match self.0.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
        .filter(|s| !s.is_empty())
    }

    pub fn bool(&self, name: &str) -> bool {
        self.str(name)
            .is_some_and(|v| matches!(v.as_str(), "true" | "1"))
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        self.str(name)?.trim().parse().ok()
    }

    /// An argument that may be JSON or a JSON string (forms send `blocks` as text).
    pub fn json(&self, name: &str) -> Option<Value> {
        match self.0.get(name)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            other => Some(other.clone()),
        }
    }
}

/// Who is calling, and in which workspace.
pub struct Ctx<'a> {
    pub state: &'a AppState,
    pub user: User,
    pub workspace_id: i64,
    pub workspace_slug: String,
    pub workspace_name: String,
    pub role: Role,
}

impl Ctx<'_> {
    pub fn db(&self) -> &sqlx::PgPool {
        &self.state.db
    }

    /// The caller's membership of the workspace the call acts in.
    pub fn membership(&self) -> Membership {
        Membership {
            id: self.workspace_id,
            slug: self.workspace_slug.clone(),
            name: self.workspace_name.clone(),
            role: self.role,
        }
    }

    /// Guests may not do this (Slack's `restricted_action`).
    pub fn not_a_guest(&self) -> Result<(), ApiError> {
        if self.role == Role::Guest {
            Err(ApiError("restricted_action"))
        } else {
            Ok(())
        }
    }
}

fn reply(status: StatusCode, body: Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

fn error(code: &str) -> Response {
    if code == UNAVAILABLE {
        let mut response = reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "ok": false, "error": code }),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return response;
    }
    reply(StatusCode::OK, json!({ "ok": false, "error": code }))
}

pub async fn dispatch(
    State(state): State<AppState>,
    Path(method): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Ok(bytes) = to_bytes(body, super::webhooks::MAX_BODY).await else {
        return reply(
            StatusCode::PAYLOAD_TOO_LARGE,
            json!({ "ok": false, "error": "request_too_large" }),
        );
    };
    let Some(params) = parse(&uri, &headers, &bytes) else {
        return error("invalid_json");
    };
    let token = tokens::bearer(&headers)
        .map(str::to_owned)
        .or_else(|| params.str("token"));
    let Some(token) = token else {
        return error("not_authed");
    };
    let team = params.str("team_id").and_then(|t| super::ids::parse_id(&t));
    let caller = match db::caller(&state.db, &hash_secret(&token), team).await {
        Ok(Some(caller)) => caller,
        Ok(None) => return error("invalid_auth"),
        Err(e) => return error(ApiError::from(e).0),
    };
    if let Err(e) = tokens::touch(&state.db, &caller.found).await {
        return error(ApiError::from(e).0);
    }
    if let Err(AppError::RateLimited {
        retry_after_secs, ..
    }) = state.api_limiter.check(caller.found.user.id)
    {
        let mut response = reply(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "ok": false, "error": "ratelimited" }),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        return response;
    }
    // A bot acts in its own workspace; a person in `team_id` if given, else their first.
    let (Some(workspace_id), Some(workspace_slug), Some(workspace_name), Some(role)) = (
        caller.workspace_id,
        caller.workspace_slug,
        caller.workspace_name,
        caller.role,
    ) else {
        return error("team_not_found");
    };
    if caller.inactive == Some(true) {
        return error("account_inactive");
    }
    let ctx = Ctx {
        state: &state,
        user: caller.found.user,
        workspace_id,
        workspace_slug,
        workspace_name,
        role,
    };
    let result = match method.as_str() {
        "api.test" => Ok(Map::new()),
        "auth.test" => auth_test(&ctx),
        "chat.postMessage" => chat::post_message(&ctx, &params).await,
        "chat.update" => chat::update(&ctx, &params).await,
        "chat.delete" => chat::delete(&ctx, &params).await,
        "conversations.list" => conversations::list(&ctx, &params).await,
        "conversations.info" => conversations::info(&ctx, &params).await,
        "conversations.history" => conversations::history(&ctx, &params).await,
        "conversations.replies" => conversations::replies(&ctx, &params).await,
        "reactions.add" => reactions::add(&ctx, &params).await,
        "reactions.remove" => reactions::remove(&ctx, &params).await,
        "reactions.get" => reactions::get(&ctx, &params).await,
        "pins.add" => reactions::pin(&ctx, &params, true).await,
        "pins.remove" => reactions::pin(&ctx, &params, false).await,
        "pins.list" => reactions::list_pins(&ctx, &params).await,
        "conversations.create" => conversations::create(&ctx, &params).await,
        "conversations.join" => conversations::join(&ctx, &params).await,
        "conversations.invite" => conversations::invite(&ctx, &params).await,
        "conversations.mark" => conversations::mark(&ctx, &params).await,
        "conversations.open" => conversations::open(&ctx, &params).await,
        "conversations.archive" => conversations::archive(&ctx, &params, true).await,
        "conversations.unarchive" => conversations::archive(&ctx, &params, false).await,
        "conversations.rename" => conversations::rename(&ctx, &params).await,
        "dnd.info" => dnd::info(&ctx, &params).await,
        "dnd.setSnooze" => dnd::set_snooze(&ctx, &params).await,
        "dnd.endSnooze" => dnd::end_snooze(&ctx).await,
        "users.list" => users::list(&ctx, &params).await,
        "users.info" => users::info(&ctx, &params).await,
        "users.profile.get" => users::profile_get(&ctx, &params).await,
        "users.profile.set" => users::profile_set(&ctx, &params).await,
        "search.messages" => search::messages(&ctx, &params).await,
        "files.getUploadURLExternal" => files::get_upload_url(&ctx, &params).await,
        "files.completeUploadExternal" => files::complete_upload(&ctx, &params).await,
        "files.info" => files::info(&ctx, &params).await,
        "files.list" => files::list(&ctx, &params).await,
        "files.delete" => files::delete(&ctx, &params).await,
        _ => Err(ApiError("unknown_method")),
    };
    match result {
        Ok(mut fields) => {
            let mut body = Map::new();
            body.insert("ok".into(), Value::Bool(true));
            body.append(&mut fields);
            reply(StatusCode::OK, Value::Object(body))
        }
        Err(ApiError("ratelimited")) => reply(
            StatusCode::TOO_MANY_REQUESTS,
            json!({ "ok": false, "error": "ratelimited" }),
        ),
        Err(e) => error(e.0),
    }
}

/// Query string, then a JSON or form body on top.
pub fn parse(uri: &Uri, headers: &HeaderMap, bytes: &[u8]) -> Option<Params> {
    let mut map = Map::new();
    if let Some(query) = uri.query() {
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Some(Params(map));
    }
    if content_type.starts_with("application/json") {
        match serde_json::from_slice::<Value>(bytes).ok()? {
            Value::Object(body) => map.extend(body),
            _ => return None,
        }
    } else {
        for (k, v) in form_urlencoded::parse(bytes) {
            map.insert(k.into_owned(), Value::String(v.into_owned()));
        }
    }
    Some(Params(map))
}

fn auth_test(ctx: &Ctx<'_>) -> ApiResult {
    let mut fields = Map::new();
    fields.insert(
        "url".into(),
        json!(format!(
            "{}/w/{}/",
            ctx.state.config.public_url, ctx.workspace_slug
        )),
    );
    fields.insert("team".into(), json!(ctx.workspace_name));
    fields.insert("user".into(), json!(ctx.user.username));
    fields.insert(
        "team_id".into(),
        json!(super::ids::team_id(ctx.workspace_id)),
    );
    fields.insert("user_id".into(), json!(super::ids::user_id(ctx.user.id)));
    if ctx.user.is_bot {
        fields.insert("bot_id".into(), json!(format!("B{}", ctx.user.id)));
    }
    fields.insert("is_enterprise_install".into(), json!(false));
    Ok(fields)
}

/// Builds a `Map` from `key => value` pairs.
#[macro_export]
macro_rules! fields {
    ($($key:expr => $value:expr),* $(,)?) => {{
        let mut map = serde_json::Map::new();
        $( map.insert($key.into(), serde_json::json!($value)); )*
        map
    }};
}
