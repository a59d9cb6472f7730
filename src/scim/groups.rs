//! `/scim/v2/Groups`: private channels the provider manages. A Group's `id` is the channel's
//! id; its `displayName` is kept as the provider wrote it and the channel is named after it
//! (normalised, made unique); `members` are the channel's members. Deleting a Group archives
//! its channel: the history stays, the provider sees it no more.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Map, Value, json};
use time::format_description::well_known::Rfc3339;

use super::db::{self, GroupRow};
use super::discovery::GROUP_SCHEMA;
use super::filter::{self, Filter};
use super::users::operations;
use super::{ListQuery, Provisioner, ScimError, ScimResult, body_json, created, paged, scim_json};
use crate::channels::{ChannelKind, db as channels_db, live};
use crate::state::AppState;

fn resource(state: &AppState, row: &GroupRow) -> Value {
    let base = format!("{}/scim/v2", state.config.public_url);
    let created = row.created_at.format(&Rfc3339).unwrap_or_default();
    let members: Vec<Value> = row
        .members
        .iter()
        .map(|(id, _)| json!({ "value": id.to_string(), "$ref": format!("{base}/Users/{id}") }))
        .collect();
    let mut value = json!({
        "schemas": [GROUP_SCHEMA],
        "id": row.id.to_string(),
        "displayName": row.display_name,
        "members": members,
        "meta": {
            "resourceType": "Group",
            "created": created,
            "lastModified": created,
            "location": format!("{base}/Groups/{}", row.id),
        },
    });
    if let Some(external_id) = &row.external_id {
        value["externalId"] = json!(external_id);
    }
    value
}

pub async fn matching(
    state: &AppState,
    who: &Provisioner,
    filter: &Filter,
) -> Result<Vec<Value>, ScimError> {
    Ok(db::groups(&state.db, who.workspace_id)
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

async fn found(state: &AppState, who: &Provisioner, id: &str) -> Result<GroupRow, ScimError> {
    let id: i64 = id.parse().map_err(|_| ScimError::not_found("Group"))?;
    db::group(&state.db, who.workspace_id, id)
        .await?
        .ok_or_else(|| ScimError::not_found("Group"))
}

pub async fn get(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> ScimResult {
    let row = found(&state, &who, &id).await?;
    Ok(scim_json(
        StatusCode::OK,
        &query.projection().apply(resource(&state, &row)),
    ))
}

/// What a provider may set on a Group.
#[derive(Default)]
struct Wanted {
    display_name: String,
    external_id: Option<String>,
    members: Vec<i64>,
}

fn member_ids(value: &Value) -> Result<Vec<i64>, ScimError> {
    let items = match value {
        Value::Array(items) => items.clone(),
        Value::Object(_) => vec![value.clone()],
        Value::Null => Vec::new(),
        _ => {
            return Err(ScimError::invalid_value(
                "members is a list of {\"value\": id}",
            ));
        }
    };
    items
        .iter()
        .map(|m| {
            m.get("value")
                .and_then(|v| {
                    v.as_str()
                        .map(str::to_owned)
                        .or_else(|| v.as_i64().map(|n| n.to_string()))
                })
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ScimError::invalid_value("a member's value is a User id"))
        })
        .collect()
}

fn plain(name: &str) -> String {
    name.rsplit_once(':')
        .map_or(name, |(_, n)| n)
        .to_ascii_lowercase()
}

impl Wanted {
    fn from_body(body: &Map<String, Value>) -> Result<Self, ScimError> {
        let mut wanted = Wanted::default();
        for (key, value) in body {
            match plain(key).as_str() {
                "displayname" => {
                    wanted.display_name = value.as_str().unwrap_or_default().trim().to_owned();
                }
                "externalid" => wanted.external_id = value.as_str().map(str::to_owned),
                "members" => wanted.members = member_ids(value)?,
                _ => {}
            }
        }
        wanted.check()?;
        Ok(wanted)
    }

    fn check(&self) -> Result<(), ScimError> {
        if self.display_name.is_empty() || self.display_name.chars().count() > 80 {
            return Err(ScimError::invalid_value(
                "displayName is 1 to 80 characters",
            ));
        }
        Ok(())
    }
}

/// A channel name for a group's displayName: "Sales EMEA" → "sales-emea".
fn channel_name(display_name: &str) -> String {
    let mut name = String::new();
    for c in display_name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let name: String = name.trim_matches('-').chars().take(72).collect();
    if name.is_empty() {
        "group".to_owned()
    } else {
        name
    }
}

/// Every member must be a User of the workspace.
async fn check_members(state: &AppState, who: &Provisioner, ids: &[i64]) -> Result<(), ScimError> {
    for &id in ids {
        if super::db::user(&state.db, who.workspace_id, id)
            .await?
            .is_none()
        {
            return Err(ScimError::invalid_value(&format!(
                "member {id} is not a User of this workspace"
            )));
        }
    }
    Ok(())
}

/// Makes the channel's members exactly `wanted`, telling open sockets.
async fn set_members(
    state: &AppState,
    channel_id: i64,
    current: &[i64],
    wanted: &[i64],
) -> Result<(), ScimError> {
    for &id in wanted.iter().filter(|id| !current.contains(id)) {
        if db::add_to_group(&state.db, channel_id, id).await? {
            live::joined(state, channel_id, id).await?;
        }
    }
    for &id in current.iter().filter(|id| !wanted.contains(id)) {
        if channels_db::remove_member(&state.db, channel_id, id).await? {
            live::left(state, channel_id, id);
        }
    }
    Ok(())
}

pub async fn create(State(state): State<AppState>, who: Provisioner, body: Bytes) -> ScimResult {
    let wanted = Wanted::from_body(&body_json(&body)?)?;
    if db::group_name_taken(&state.db, who.workspace_id, &wanted.display_name, 0).await? {
        return Err(ScimError::uniqueness(
            "a Group with that displayName exists",
        ));
    }
    check_members(&state, &who, &wanted.members).await?;
    let stem = channel_name(&wanted.display_name);
    let mut channel_id = None;
    for n in 1..100 {
        let name = if n == 1 {
            stem.clone()
        } else {
            format!("{stem}-{n}")
        };
        // The provisioning client acts for the whole workspace: a name any channel has is
        // passed over, so no one sees two channels of one name.
        if channels_db::name_taken_for(&state.db, who.workspace_id, &name, None, 0).await? {
            continue;
        }
        let id = channels_db::insert_channel(
            &state.db,
            who.workspace_id,
            ChannelKind::Private,
            &name,
            "",
            None,
        )
        .await?;
        channel_id = Some(id);
        break;
    }
    let channel_id = channel_id
        .ok_or_else(|| ScimError::uniqueness("no free channel name for that displayName"))?;
    db::set_group(
        &state.db,
        channel_id,
        Some(&wanted.display_name),
        wanted.external_id.as_deref(),
    )
    .await?;
    set_members(&state, channel_id, &[], &wanted.members).await?;
    crate::audit::record(
        &state.db,
        who.workspace_id,
        None,
        "scim.group.create",
        &wanted.display_name,
    )
    .await?;
    let row = found(&state, &who, &channel_id.to_string()).await?;
    let value = resource(&state, &row);
    Ok(created(&value))
}

async fn store(
    state: &AppState,
    who: &Provisioner,
    row: &GroupRow,
    wanted: &Wanted,
) -> Result<(), ScimError> {
    if !wanted.display_name.eq_ignore_ascii_case(&row.display_name)
        && db::group_name_taken(&state.db, who.workspace_id, &wanted.display_name, row.id).await?
    {
        return Err(ScimError::uniqueness(
            "a Group with that displayName exists",
        ));
    }
    check_members(state, who, &wanted.members).await?;
    db::set_group(
        &state.db,
        row.id,
        Some(&wanted.display_name),
        wanted.external_id.as_deref(),
    )
    .await?;
    let current: Vec<i64> = row.members.iter().map(|(id, _)| *id).collect();
    set_members(state, row.id, &current, &wanted.members).await
}

pub async fn replace(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let row = found(&state, &who, &id).await?;
    let wanted = Wanted::from_body(&body_json(&body)?)?;
    store(&state, &who, &row, &wanted).await?;
    let row = found(&state, &who, &id).await?;
    Ok(scim_json(StatusCode::OK, &resource(&state, &row)))
}

/// `members[value eq "12"]` → 12.
fn filtered_member(path: &str) -> Option<i64> {
    let inner = path.strip_prefix("members[")?.strip_suffix(']')?;
    let condition = filter::parse(Some(inner)).ok()?;
    match condition.as_slice() {
        [c] if c.path == "value" && c.op == filter::Op::Eq => c.value.as_str()?.parse().ok(),
        _ => None,
    }
}

pub async fn patch(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let row = found(&state, &who, &id).await?;
    let body = body_json(&body)?;
    let mut wanted = Wanted {
        display_name: row.display_name.clone(),
        external_id: row.external_id.clone(),
        members: row.members.iter().map(|(id, _)| *id).collect(),
    };
    for (op, path, value) in operations(&body)? {
        let target = path.as_deref().map(|p| (plain(p), p.to_owned()));
        match (op.as_str(), target) {
            ("remove", Some((_, raw))) if filtered_member(&raw).is_some() => {
                let gone = filtered_member(&raw);
                wanted.members.retain(|m| Some(*m) != gone);
            }
            ("remove", Some((name, _))) if name == "members" => match value {
                Some(value) => {
                    let gone = member_ids(&value)?;
                    wanted.members.retain(|m| !gone.contains(m));
                }
                None => wanted.members.clear(),
            },
            ("remove", Some((name, _))) if name == "externalid" => wanted.external_id = None,
            ("remove", _) => {
                return Err(ScimError::new(
                    StatusCode::BAD_REQUEST,
                    Some("noTarget"),
                    "remove needs a removable path",
                ));
            }
            (op, Some((name, _))) => {
                let value =
                    value.ok_or_else(|| ScimError::invalid_value("the operation has no value"))?;
                apply(&mut wanted, op, &name, &value)?;
            }
            (op, None) => match value {
                Some(Value::Object(map)) => {
                    for (key, value) in &map {
                        apply(&mut wanted, op, &plain(key), value)?;
                    }
                }
                _ => {
                    return Err(ScimError::invalid_value(
                        "an operation without a path takes an object",
                    ));
                }
            },
        }
    }
    wanted.check()?;
    store(&state, &who, &row, &wanted).await?;
    let row = found(&state, &who, &id).await?;
    Ok(scim_json(StatusCode::OK, &resource(&state, &row)))
}

fn apply(wanted: &mut Wanted, op: &str, name: &str, value: &Value) -> Result<(), ScimError> {
    match name {
        "displayname" => wanted.display_name = value.as_str().unwrap_or_default().trim().to_owned(),
        "externalid" => wanted.external_id = value.as_str().map(str::to_owned),
        "members" if op == "add" => {
            for id in member_ids(value)? {
                if !wanted.members.contains(&id) {
                    wanted.members.push(id);
                }
            }
        }
        "members" => wanted.members = member_ids(value)?,
        _ => {}
    }
    Ok(())
}

pub async fn delete(
    State(state): State<AppState>,
    who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult {
    let row = found(&state, &who, &id).await?;
    let mut tx = state.db.begin().await?;
    channels_db::set_archived(&mut *tx, row.id, true).await?;
    db::set_group(&mut *tx, row.id, None, None).await?;
    crate::audit::record(
        &mut *tx,
        who.workspace_id,
        None,
        "scim.group.delete",
        &row.display_name,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn display_names_become_channel_names_and_member_paths_are_read() {
        assert_eq!(super::channel_name("Sales EMEA!"), "sales-emea");
        assert_eq!(super::channel_name("  ✨ "), "group");
        assert_eq!(
            super::filtered_member(r#"members[value eq "12"]"#),
            Some(12)
        );
        assert_eq!(super::filtered_member("members"), None);
    }
}
