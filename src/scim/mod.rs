//! SCIM 2.0 (RFC 7643 resources, RFC 7644 protocol) at `/scim/v2`, for identity providers
//! such as Okta and Entra ID to provision a workspace's people and groups.
//!
//! - A request carries `Authorization: Bearer <SCIM token>`; the token (stored hashed, made on
//!   the admin page or with `natter scim token`) names the one workspace it provisions.
//! - [`users`]: a User is a person's membership of that workspace. `userName` is their email
//!   (as Okta and Entra send it); creating one makes the account if none has that email
//!   (without a password: they log in by reset or single sign-on) and adds it to the
//!   workspace; `active: false` deactivates the membership exactly as an admin would
//!   (`workspaces::members`), and DELETE removes it.
//! - [`groups`]: a Group is a private channel named after its `displayName`.
//! - [`discovery`]: `ServiceProviderConfig`, `ResourceTypes`, `Schemas`.
//! - [`filter`]: the `filter` parameter (`attr eq "value"`, joined by `and`).
//!
//! Errors come in SCIM's error shape with its `scimType` (`invalidFilter`, `invalidValue`,
//! `uniqueness`, `mutability`, `invalidSyntax`), and a path under `/scim/v2` that names nothing
//! is a SCIM 404 too.

mod db;
mod discovery;
mod filter;
mod groups;
mod users;

use axum::Router;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use crate::error::AppError;
use crate::secrets::{hash_secret, random_token};
use crate::state::AppState;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The most resources one page lists, whatever `count` asks.
const MAX_COUNT: i64 = 200;

pub fn router() -> Router<AppState> {
    let v2 = Router::new()
        .route(
            "/ServiceProviderConfig",
            get(discovery::service_provider_config),
        )
        .route("/ResourceTypes", get(discovery::resource_types))
        .route("/ResourceTypes/{id}", get(discovery::resource_type))
        .route("/Schemas", get(discovery::schemas))
        .route("/Schemas/{id}", get(discovery::schema))
        .route("/Users", get(users::list).post(users::create))
        .route("/Users/.search", post(users::search))
        .route(
            "/Users/{id}",
            get(users::get)
                .put(users::replace)
                .patch(users::patch)
                .delete(users::delete),
        )
        .route("/Groups", get(groups::list).post(groups::create))
        .route("/Groups/.search", post(groups::search))
        .route(
            "/Groups/{id}",
            get(groups::get)
                .put(groups::replace)
                .patch(groups::patch)
                .delete(groups::delete),
        )
        .route("/.search", post(search_all))
        .fallback(not_found);
    Router::new().nest("/scim/v2", v2)
}

/// The workspace a SCIM token provisions.
pub struct Provisioner {
    pub workspace_id: i64,
    pub workspace_slug: String,
}

impl FromRequestParts<AppState> for Provisioner {
    type Rejection = ScimError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ScimError> {
        let token = crate::auth::tokens::bearer(&parts.headers).ok_or_else(|| {
            ScimError::new(StatusCode::UNAUTHORIZED, None, "Bearer SCIM token required")
        })?;
        let found = db::workspace_for_token(&state.db, &hash_secret(token)).await?;
        let (workspace_id, workspace_slug) = found.ok_or_else(|| {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "invalid or revoked SCIM token",
            )
        })?;
        Ok(Self {
            workspace_id,
            workspace_slug,
        })
    }
}

/// Makes a workspace's SCIM token: shown once, stored hashed. Revokes the previous ones, so
/// there is one live token per workspace and rotating it is making a new one.
pub async fn create_token(
    pool: &sqlx::PgPool,
    workspace_id: i64,
    created_by: Option<i64>,
) -> Result<String, AppError> {
    let token = format!("nts_{}", random_token());
    let mut tx = pool.begin().await?;
    db::replace_token(&mut tx, workspace_id, &hash_secret(&token), created_by).await?;
    crate::audit::record(&mut *tx, workspace_id, created_by, "scim.token", "").await?;
    tx.commit().await?;
    Ok(token)
}

/// A SCIM error response (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    pub fn new(status: StatusCode, scim_type: Option<&'static str>, detail: &str) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.to_owned(),
        }
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, &format!("{what} not found"))
    }

    pub fn invalid_value(detail: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }

    pub fn uniqueness(detail: &str) -> Self {
        Self::new(StatusCode::CONFLICT, Some("uniqueness"), detail)
    }
}

impl From<sqlx::Error> for ScimError {
    fn from(error: sqlx::Error) -> Self {
        AppError::from(error).into()
    }
}

impl From<AppError> for ScimError {
    fn from(error: AppError) -> Self {
        match error.classified() {
            AppError::NotFound => Self::not_found("resource"),
            AppError::Validation(why) => Self::invalid_value(&why),
            AppError::Conflict(why) => Self::new(StatusCode::CONFLICT, None, &why),
            AppError::TooLarge(why) => Self::new(StatusCode::PAYLOAD_TOO_LARGE, None, &why),
            AppError::Forbidden(why) => Self::new(StatusCode::FORBIDDEN, None, &why),
            error @ AppError::TwoFactorRequired => {
                Self::new(StatusCode::FORBIDDEN, None, &error.to_string())
            }
            AppError::RateLimited { message, .. } => {
                Self::new(StatusCode::TOO_MANY_REQUESTS, None, &message)
            }
            AppError::Busy { .. } => Self::new(StatusCode::SERVICE_UNAVAILABLE, None, "busy"),
            AppError::Unavailable => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                "database unavailable",
            ),
            AppError::Unauthorized => Self::new(StatusCode::UNAUTHORIZED, None, "unauthorized"),
            AppError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "error in SCIM");
                Self::new(StatusCode::INTERNAL_SERVER_ERROR, None, "internal error")
            }
        }
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        scim_json(self.status, &body)
    }
}

pub type ScimResult = Result<Response, ScimError>;

/// A SCIM JSON response.
pub fn scim_json(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/scim+json; charset=utf-8"),
    );
    response
}

/// A request body as JSON: SCIM's media type or plain JSON; anything else is `invalidSyntax`.
pub fn body_json(bytes: &[u8]) -> Result<Map<String, Value>, ScimError> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "the body must be a JSON object",
        )),
    }
}

/// The query parameters of a list or search: filter, paging, and which attributes to return.
#[derive(Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    pub filter: Option<String>,
    pub start_index: Option<i64>,
    pub count: Option<i64>,
    pub attributes: Option<String>,
    pub excluded_attributes: Option<String>,
}

impl ListQuery {
    /// A `.search` body (RFC 7644 §3.4.3) read as the same parameters.
    pub fn from_search(body: &Map<String, Value>) -> Self {
        let names = |key: &str| {
            body.get(key).and_then(Value::as_array).map(|list| {
                list.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(",")
            })
        };
        Self {
            filter: body
                .get("filter")
                .and_then(Value::as_str)
                .map(str::to_owned),
            start_index: body.get("startIndex").and_then(Value::as_i64),
            count: body.get("count").and_then(Value::as_i64),
            attributes: names("attributes"),
            excluded_attributes: names("excludedAttributes"),
        }
    }

    /// 1-based start and page size, within bounds.
    pub fn page(&self) -> (i64, i64) {
        (
            self.start_index.unwrap_or(1).max(1),
            self.count.unwrap_or(100).clamp(0, MAX_COUNT),
        )
    }

    pub fn projection(&self) -> Projection {
        Projection::new(
            self.attributes.as_deref(),
            self.excluded_attributes.as_deref(),
        )
    }
}

/// `attributes` / `excludedAttributes`: which attributes a response carries. `id` and
/// `schemas` always go.
#[derive(Default)]
pub struct Projection {
    only: Vec<String>,
    except: Vec<String>,
}

impl Projection {
    pub fn new(attributes: Option<&str>, excluded: Option<&str>) -> Self {
        let split = |list: Option<&str>| -> Vec<String> {
            list.unwrap_or_default()
                .split(',')
                .map(|a| {
                    // A fully qualified name names an attribute of the core schema.
                    let a = a.trim();
                    let a = a.rsplit_once(':').map_or(a, |(_, name)| name);
                    a.to_ascii_lowercase()
                })
                .filter(|a| !a.is_empty())
                .collect()
        };
        Self {
            only: split(attributes),
            except: split(excluded),
        }
    }

    pub fn apply(&self, mut resource: Value) -> Value {
        let Value::Object(map) = &mut resource else {
            return resource;
        };
        let keep_always = |k: &str| matches!(k, "id" | "schemas");
        if !self.only.is_empty() {
            let mut kept = Map::new();
            for (key, value) in std::mem::take(map) {
                let lower = key.to_ascii_lowercase();
                if keep_always(&key) || self.only.contains(&lower) {
                    kept.insert(key, value);
                } else if let Value::Object(sub) = &value {
                    // `name.givenName` keeps `name` with only that sub-attribute.
                    let wanted: Map<String, Value> = sub
                        .iter()
                        .filter(|(s, _)| {
                            let path = format!("{lower}.{}", s.to_ascii_lowercase());
                            self.only.contains(&path)
                        })
                        .map(|(s, v)| (s.clone(), v.clone()))
                        .collect();
                    if !wanted.is_empty() {
                        kept.insert(key, Value::Object(wanted));
                    }
                }
            }
            *map = kept;
        }
        map.retain(|key, _| keep_always(key) || !self.except.contains(&key.to_ascii_lowercase()));
        resource
    }
}

/// A ListResponse of one page of resources.
pub fn list_response(resources: Vec<Value>, total: i64, start: i64) -> Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    scim_json(StatusCode::OK, &body)
}

/// One page of resources that matched a query, with the attributes it asked for.
pub fn paged(found: Vec<Value>, query: &ListQuery) -> Response {
    let (start, count) = query.page();
    let total = found.len() as i64;
    let projection = query.projection();
    let page = found
        .into_iter()
        .skip((start - 1) as usize)
        .take(count as usize)
        .map(|r| projection.apply(r))
        .collect();
    list_response(page, total, start)
}

/// 201 with the new resource, and its `meta.location` as `Location`.
pub fn created(resource: &Value) -> Response {
    let mut response = scim_json(StatusCode::CREATED, resource);
    if let Some(location) = resource["meta"]["location"]
        .as_str()
        .and_then(|l| HeaderValue::from_str(l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// `POST /.search` at the root: Users and Groups that match, one list.
async fn search_all(
    State(state): State<AppState>,
    who: Provisioner,
    body: axum::body::Bytes,
) -> ScimResult {
    let query = ListQuery::from_search(&body_json(&body)?);
    let filter = filter::parse(query.filter.as_deref())?;
    let mut found = users::matching(&state, &who, &filter).await?;
    found.extend(groups::matching(&state, &who, &filter).await?);
    Ok(paged(found, &query))
}

async fn not_found() -> ScimError {
    ScimError::not_found("endpoint")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::Projection;

    #[test]
    fn attributes_keep_what_was_asked_and_always_id() {
        let user = json!({"schemas": ["s"], "id": "1", "userName": "a@b.c", "active": true,
                          "name": {"givenName": "A", "familyName": "B"}});
        let only = Projection::new(Some("userName,name.familyName"), None).apply(user.clone());
        assert_eq!(
            only,
            json!({"schemas": ["s"], "id": "1", "userName": "a@b.c", "name": {"familyName": "B"}})
        );
        let except = Projection::new(
            None,
            Some("urn:ietf:params:scim:schemas:core:2.0:User:active"),
        )
        .apply(user);
        assert!(except.get("active").is_none() && except.get("userName").is_some());
    }
}
