//! `/scim/v2/Users`: the workspace's people. A User's `id` is the account's id, `active`
//! whether its membership of this workspace (and the account) is active.
//!
//! `userName` is the person's email as Okta and Entra send it, and then it is the account's
//! email. A provider that sends a login name instead keeps it as this membership's userName;
//! the account's email is then the primary of `emails`, or a placeholder under
//! `users.natter.invalid` until one comes (such a person logs in by single sign-on).

use std::ops::Not;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::db::{self, UserRow};
use super::discovery::USER_SCHEMA;
use super::filter::{self, Filter};
use super::{
    ListQuery, PATCH_SCHEMA, Provisioner, ScimError, ScimResult, body_json, created, paged,
    scim_json,
};
use crate::auth::membership::Role;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::workspaces::members::{self, Actor};

fn resource(state: &AppState, row: &UserRow) -> Value {
    let created = row.joined_at.format(&Rfc3339).unwrap_or_default();
    let mut value = json!({
        "schemas": [USER_SCHEMA],
        "id": row.id.to_string(),
        "userName": row.user_name,
        "displayName": row.display_name,
        "active": row.active,
        "meta": {
            "resourceType": "User",
            "created": created,
            "lastModified": created,
            "location": format!("{}/scim/v2/Users/{}", state.config.public_url, row.id),
        },
    });
    if let Some(external_id) = &row.external_id {
        value["externalId"] = json!(external_id);
    }
    value
}

/// The Users of the workspace that satisfy the filter, as returned.
pub async fn matching(
    state: &AppState,
    who: &Provisioner,
    filter: &Filter,
) -> Result<Vec<Value>, ScimError> {
    Ok(db::users(&state.db, who.workspace_id)
        .await?
        .iter()
        .map(|row| resource(state, row))
        .filter(|r| filter::matches(filter, r))
        .collect())
}

async fn listed(state: &AppState, who: &Provisioner, query: &ListQuery) -> ScimResult {
    let filter = filter::parse(query.filter.as_deref())?;
    Ok(paged(matching(state, who, &filter).await?, query))
}

pub async fn list(
    State(state): State<AppState>,
    who: Provisioner,
    Query(query): Query<ListQuery>,
) -> ScimResult {
    listed(&state, &who, &query).await
}

pub async fn search(State(state): State<AppState>, who: Provisioner, body: Bytes) -> ScimResult {
    listed(&state, &who, &ListQuery::from_search(&body_json(&body)?)).await
}

fn parse_id(id: &str) -> Result<i64, ScimError> {
    id.parse().map_err(|_| ScimError::not_found("User"))
}

async fn found(state: &AppState, who: &Provisioner, id: i64) -> Result<UserRow, ScimError> {
    db::user(&state.db, who.workspace_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("User"))
}

pub async fn get(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ScimResult {
    let row = found(&state, &who, parse_id(&id)?).await?;
    Ok(scim_json(
        StatusCode::OK,
        &query.projection().apply(resource(&state, &row)),
    ))
}

/// What a provider may set on a User.
struct Wanted {
    user_name: String,
    display_name: Option<String>,
    active: bool,
    external_id: Option<String>,
    /// The primary of `emails`, when given.
    email: Option<String>,
}

/// Looks like an email address: something, `@`, a dotted domain.
fn is_email(text: &str) -> bool {
    let (local, domain) = text.split_once('@').unwrap_or_default();
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && text.len() <= 254
}

/// An attribute name without its schema prefix, lowercased.
fn plain(name: &str) -> String {
    name.rsplit_once(':')
        .map_or(name, |(_, n)| n)
        .to_ascii_lowercase()
}

/// `true`, or Entra's `"True"`.
fn boolean(value: &Value) -> Result<bool, ScimError> {
    match value {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value("active must be true or false")),
    }
}

fn string(value: &Value, name: &str) -> Result<String, ScimError> {
    value
        .as_str()
        .map(|s| s.trim().to_owned())
        .ok_or_else(|| ScimError::invalid_value(&format!("{name} must be a string")))
}

impl Wanted {
    /// From a full User (POST, PUT). Unknown attributes (name, emails, …) are accepted and,
    /// but for a display name made from `name`, not kept.
    fn from_body(body: &Map<String, Value>) -> Result<Self, ScimError> {
        let mut wanted = Wanted {
            user_name: String::new(),
            display_name: None,
            active: true,
            external_id: None,
            email: None,
        };
        let mut from_name = None;
        for (key, value) in body {
            wanted.set(&plain(key), value, &mut from_name)?;
        }
        if wanted.display_name.is_none() {
            wanted.display_name = from_name;
        }
        wanted.check()?;
        Ok(wanted)
    }

    fn set(
        &mut self,
        key: &str,
        value: &Value,
        from_name: &mut Option<String>,
    ) -> Result<(), ScimError> {
        match key {
            "username" => self.user_name = string(value, "userName")?,
            "displayname" if value.is_null() => self.display_name = None,
            "displayname" => self.display_name = Some(string(value, "displayName")?),
            "active" => self.active = boolean(value)?,
            "externalid" if value.is_null() => self.external_id = None,
            "externalid" => self.external_id = Some(string(value, "externalId")?),
            "emails" => {
                let emails = value.as_array().cloned().unwrap_or_default();
                let primary = emails
                    .iter()
                    .find(|e| e.get("primary") == Some(&Value::Bool(true)))
                    .or(emails.first());
                self.email = primary
                    .and_then(|e| e.get("value"))
                    .and_then(Value::as_str)
                    .filter(|e| is_email(e))
                    .map(str::to_owned);
            }
            "name" => {
                let part = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or_default();
                let formatted = match part("formatted") {
                    "" => format!("{} {}", part("givenName"), part("familyName")),
                    f => f.to_owned(),
                };
                let formatted = formatted.trim();
                if !formatted.is_empty() {
                    *from_name = Some(formatted.to_owned());
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ScimError> {
        if self.user_name.is_empty() || self.user_name.chars().count() > 254 {
            return Err(ScimError::invalid_value(
                "userName is required: the person's email address (or a login name, up to 254 characters)",
            ));
        }
        if self
            .display_name
            .as_ref()
            .is_some_and(|n| n.chars().count() > 80)
        {
            return Err(ScimError::invalid_value(
                "displayName is at most 80 characters",
            ));
        }
        Ok(())
    }

    fn shown_name(&self) -> String {
        self.display_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| {
                self.user_name
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
    }

    /// The account's email, if this User names one: userName, else the primary of emails.
    fn email(&self) -> Option<&str> {
        if is_email(&self.user_name) {
            Some(&self.user_name)
        } else {
            self.email.as_deref()
        }
    }

    /// The userName kept beside the membership: none when it is the email itself.
    fn own_user_name(&self) -> Option<&str> {
        (!is_email(&self.user_name)).then_some(self.user_name.as_str())
    }
}

/// A free username from the email's local part: `ada.l@x.org` → `ada.l`, then `ada.l-2`, …
async fn free_username(state: &AppState, email: &str) -> Result<String, ScimError> {
    let local: String = email
        .split('@')
        .next()
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .take(28)
        .collect();
    let stem = if local.is_empty() {
        "user".to_owned()
    } else {
        local
    };
    crate::auth::accounts::free_username(&state.db, &stem)
        .await?
        .ok_or_else(|| ScimError::uniqueness("no free username for that email"))
}

/// The provider acts with an owner's rights, as the workspace's operator.
fn actor(who: &Provisioner) -> Actor {
    Actor {
        workspace_id: who.workspace_id,
        user_id: None,
        role: Role::Owner,
    }
}

/// Makes the membership's activity what the provider wants.
async fn apply_active(
    state: &AppState,
    who: &Provisioner,
    user_id: i64,
    active: bool,
) -> Result<(), ScimError> {
    if active {
        members::reactivate(state, actor(who), user_id).await?;
    } else {
        members::deactivate(state, actor(who), user_id).await?;
    }
    Ok(())
}

pub async fn create(State(state): State<AppState>, who: Provisioner, body: Bytes) -> ScimResult {
    let wanted = Wanted::from_body(&body_json(&body)?)?;
    if let Some(user_name) = wanted.own_user_name()
        && matching(
            &state,
            &who,
            &filter::parse(Some(&format!("userName eq {}", Value::from(user_name))))?,
        )
        .await?
        .is_empty()
        .not()
    {
        return Err(ScimError::uniqueness("a User with that userName exists"));
    }
    let existing = match wanted.email() {
        Some(email) => db::account_by_email(&state.db, email).await?,
        None => None,
    };
    let user_id = match existing {
        Some((_, true)) => return Err(ScimError::uniqueness("that userName belongs to a bot")),
        Some((id, false)) => {
            if db::user(&state.db, who.workspace_id, id).await?.is_some() {
                return Err(ScimError::uniqueness("a User with that userName exists"));
            }
            id
        }
        None => {
            let email = match wanted.email() {
                Some(email) => email.to_owned(),
                None => format!("{}@users.natter.invalid", &random_token()[..20]),
            };
            let username = free_username(&state, &wanted.user_name).await?;
            crate::auth::db::insert_account(&state.db, &email, &username, &wanted.shown_name())
                .await
                .map_err(|e| match crate::error::violated_constraint(&e) {
                    Some("users_email_key") => {
                        ScimError::uniqueness("a User with that userName exists")
                    }
                    _ => e.into(),
                })?
        }
    };
    crate::workspaces::add_member(&state.db, who.workspace_id, user_id, Role::Member.as_str())
        .await?;
    db::set_user_ids(
        &state.db,
        who.workspace_id,
        user_id,
        wanted.external_id.as_deref(),
        wanted.own_user_name(),
    )
    .await?;
    crate::audit::record(
        &state.db,
        who.workspace_id,
        None,
        "scim.user.create",
        &wanted.user_name,
    )
    .await?;
    if !wanted.active {
        apply_active(&state, &who, user_id, false).await?;
    }
    let row = found(&state, &who, user_id).await?;
    let value = resource(&state, &row);
    Ok(created(&value))
}

/// Stores what the provider wants of an existing User.
async fn store(
    state: &AppState,
    who: &Provisioner,
    row: &UserRow,
    wanted: &Wanted,
) -> Result<(), ScimError> {
    let email = wanted.email().unwrap_or(&row.email).to_owned();
    if !email.eq_ignore_ascii_case(&row.email) {
        if let Some((other, _)) = db::account_by_email(&state.db, &email).await?
            && other != row.id
        {
            return Err(ScimError::uniqueness("another account has that userName"));
        }
        // An email is the person's, across workspaces: only a provider that owns every
        // workspace they are in may change it.
        if db::workspace_count(&state.db, row.id).await? > 1 {
            return Err(ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("mutability"),
                "userName cannot change for a person who is in other workspaces too",
            ));
        }
    }
    db::set_profile(&state.db, row.id, &email, &wanted.shown_name()).await?;
    db::set_user_ids(
        &state.db,
        who.workspace_id,
        row.id,
        wanted.external_id.as_deref(),
        wanted.own_user_name(),
    )
    .await?;
    if wanted.active != row.active {
        apply_active(state, who, row.id, wanted.active).await?;
    }
    Ok(())
}

pub async fn replace(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let row = found(&state, &who, parse_id(&id)?).await?;
    let wanted = Wanted::from_body(&body_json(&body)?)?;
    store(&state, &who, &row, &wanted).await?;
    let row = found(&state, &who, row.id).await?;
    Ok(scim_json(StatusCode::OK, &resource(&state, &row)))
}

pub async fn patch(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let row = found(&state, &who, parse_id(&id)?).await?;
    let body = body_json(&body)?;
    let mut wanted = Wanted {
        user_name: row.user_name.clone(),
        display_name: Some(row.display_name.clone()),
        active: row.active,
        external_id: row.external_id.clone(),
        email: None,
    };
    for operation in operations(&body)? {
        let (op, path, value) = operation;
        let mut from_name = None;
        match (op.as_str(), path) {
            ("remove", Some(path)) => match plain(&path).as_str() {
                "externalid" => wanted.external_id = None,
                "username" | "displayname" | "active" => {
                    return Err(ScimError::new(
                        StatusCode::BAD_REQUEST,
                        Some("mutability"),
                        "userName, displayName and active are required; replace them instead",
                    ));
                }
                _ => {}
            },
            ("remove", None) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "remove needs a path",
                ));
            }
            (_, Some(path)) => {
                let value =
                    value.ok_or_else(|| ScimError::invalid_value("the operation has no value"))?;
                wanted.set(&plain(&path), &value, &mut from_name)?;
            }
            (_, None) => match value {
                Some(Value::Object(map)) => {
                    for (key, value) in &map {
                        wanted.set(&plain(key), value, &mut from_name)?;
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(
                        "an operation without a path takes an object",
                    ));
                }
            },
        }
        if let Some(name) = from_name.filter(|_| wanted.display_name.is_none()) {
            wanted.display_name = Some(name);
        }
    }
    wanted.check()?;
    store(&state, &who, &row, &wanted).await?;
    let row = found(&state, &who, row.id).await?;
    Ok(scim_json(StatusCode::OK, &resource(&state, &row)))
}

/// One operation of a PatchOp: the lowercased op, its path, its value.
pub type Operation = (String, Option<String>, Option<Value>);

/// A PatchOp's operations.
pub fn operations(body: &Map<String, Value>) -> Result<Vec<Operation>, ScimError> {
    let schemas_ok = body
        .get("schemas")
        .and_then(Value::as_array)
        .is_some_and(|s| s.iter().any(|v| v == PATCH_SCHEMA));
    if !schemas_ok {
        return Err(ScimError::new(
            StatusCode::BAD_REQUEST,
            Some("invalidSyntax"),
            "a PatchOp names its schema",
        ));
    }
    let list = body
        .get("Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::new(
                StatusCode::BAD_REQUEST,
                Some("invalidSyntax"),
                "Operations is missing",
            )
        })?;
    list.iter()
        .map(|operation| {
            let op = operation
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .filter(|op| matches!(op.as_str(), "add" | "replace" | "remove"))
                .ok_or_else(|| ScimError::invalid_value("op is add, replace or remove"))?;
            let path = operation
                .get("path")
                .and_then(Value::as_str)
                .map(str::to_owned);
            Ok((op, path, operation.get("value").cloned()))
        })
        .collect()
}

pub async fn delete(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult {
    let row = found(&state, &who, parse_id(&id)?).await?;
    members::remove(&state, actor(&who), row.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
