//! What the server tells a provider about itself (RFC 7644 §4): which features it supports,
//! which resource types it has, and their schemas. The schemas list exactly the attributes
//! Natter stores and returns, so a provider (or a checker) writes nothing that is dropped.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::{LIST_SCHEMA, Provisioner, ScimError, ScimResult, scim_json};
use crate::state::AppState;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

fn base(state: &AppState) -> String {
    format!("{}/scim/v2", state.config.public_url)
}

pub async fn service_provider_config(
    State(state): State<AppState>,
    _who: Provisioner,
) -> ScimResult {
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": format!("{}/", state.config.public_url),
        "patch": { "supported": true },
        "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": 0 },
        "filter": { "supported": true, "maxResults": super::MAX_COUNT },
        "changePassword": { "supported": false },
        "sort": { "supported": false },
        "etag": { "supported": false },
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A workspace's SCIM token, from its admin page or `natter scim token`.",
            "primary": true,
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": format!("{}/ServiceProviderConfig", base(&state)),
        },
    });
    Ok(scim_json(StatusCode::OK, &body))
}

fn resource_type_of(state: &AppState, id: &str) -> Option<Value> {
    let (endpoint, schema, description) = match id {
        "User" => (
            "/Users",
            USER_SCHEMA,
            "A person's membership of the workspace",
        ),
        "Group" => (
            "/Groups",
            GROUP_SCHEMA,
            "A private channel of the workspace",
        ),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
        "id": id,
        "name": id,
        "endpoint": endpoint,
        "description": description,
        "schema": schema,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": format!("{}/ResourceTypes/{id}", base(state)),
        },
    }))
}

pub async fn resource_types(State(state): State<AppState>, _who: Provisioner) -> ScimResult {
    let types: Vec<Value> = ["User", "Group"]
        .iter()
        .filter_map(|id| resource_type_of(&state, id))
        .collect();
    Ok(listed(types))
}

pub async fn resource_type(
    State(state): State<AppState>,
    _who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult {
    let found =
        resource_type_of(&state, &id).ok_or_else(|| ScimError::not_found("resource type"))?;
    Ok(scim_json(StatusCode::OK, &found))
}

fn attribute(name: &str, kind: &str, required: bool, mutability: &str, unique: &str) -> Value {
    json!({
        "name": name,
        "type": kind,
        "multiValued": false,
        "description": "",
        "required": required,
        "caseExact": false,
        "mutability": mutability,
        "returned": "default",
        "uniqueness": unique,
    })
}

fn schema_of(state: &AppState, id: &str) -> Option<Value> {
    let (name, description, attributes) = match id {
        USER_SCHEMA => (
            "User",
            "A person in the workspace. userName is their email.",
            vec![
                attribute("userName", "string", true, "readWrite", "server"),
                // Every person has a name and a state: a provider that leaves them out on
                // creation gets them derived (from `name`, or the email; active), and they
                // cannot be removed.
                attribute("displayName", "string", true, "readWrite", "none"),
                attribute("active", "boolean", true, "readWrite", "none"),
            ],
        ),
        GROUP_SCHEMA => (
            "Group",
            "A private channel; its name is the displayName, normalised.",
            vec![
                attribute("displayName", "string", true, "readWrite", "server"),
                json!({
                    "name": "members",
                    "type": "complex",
                    "multiValued": true,
                    "description": "The channel's members.",
                    "required": false,
                    "mutability": "readWrite",
                    "returned": "default",
                    "uniqueness": "none",
                    "subAttributes": [
                        {
                            "name": "value", "type": "string", "multiValued": false,
                            "description": "The member's User id.", "required": false,
                            "caseExact": false, "mutability": "immutable", "returned": "default",
                            "uniqueness": "none",
                        },
                        {
                            "name": "$ref", "type": "reference", "referenceTypes": ["User"],
                            "multiValued": false, "description": "The member's User URI.",
                            "required": false, "caseExact": false, "mutability": "immutable",
                            "returned": "default", "uniqueness": "none",
                        },
                    ],
                }),
            ],
        ),
        _ => return None,
    };
    Some(json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": format!("{}/Schemas/{id}", base(state)),
        },
    }))
}

pub async fn schemas(State(state): State<AppState>, _who: Provisioner) -> ScimResult {
    let all: Vec<Value> = [USER_SCHEMA, GROUP_SCHEMA]
        .iter()
        .filter_map(|id| schema_of(&state, id))
        .collect();
    Ok(listed(all))
}

pub async fn schema(
    State(state): State<AppState>,
    _who: Provisioner,
    Path(id): Path<String>,
) -> ScimResult {
    let found = schema_of(&state, &id).ok_or_else(|| ScimError::not_found("schema"))?;
    Ok(scim_json(StatusCode::OK, &found))
}

fn listed(resources: Vec<Value>) -> axum::response::Response {
    let body = json!({
        "schemas": [LIST_SCHEMA],
        "totalResults": resources.len(),
        "startIndex": 1,
        "itemsPerPage": resources.len(),
        "Resources": resources,
    });
    scim_json(StatusCode::OK, &body)
}
