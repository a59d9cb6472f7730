//! SCIM 2.0 at `/scim/v2`: the flows Okta and Entra ID run, checked by hand, and the whole
//! endpoint checked by an independent implementation (the `scim2-tester` Python package).

use std::path::PathBuf;
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, python_with, skipped, workspace_id};

const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

struct Scim {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Scim {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request
                .header("content-type", "application/scim+json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

async fn provisioned(app: &TestApp) -> (crate::helpers::Browser, String, Scim) {
    let ada = app.signup("ada").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let token = natter::scim::create_token(&app.db, workspace_id(app, &slug).await, None)
        .await
        .unwrap();
    let scim = Scim {
        base: format!("{}/scim/v2", app.base),
        token,
        http: reqwest::Client::new(),
    };
    (ada, slug, scim)
}

#[tokio::test]
async fn an_okta_style_lifecycle_creates_finds_deactivates_replaces_and_deletes_a_user() {
    let app = TestApp::spawn().await;
    let (ada, slug, scim) = provisioned(&app).await;
    use reqwest::Method;
    let carol = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "carol@example.com",
        "name": { "givenName": "Carol", "familyName": "Danvers" },
        "emails": [{ "primary": true, "value": "carol@example.com", "type": "work" }],
        "active": true,
        "externalId": "00u1abcd",
    });
    let (status, created) = scim.call(Method::POST, "/Users", Some(carol.clone())).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["displayName"], "Carol Danvers");
    assert_eq!(created["externalId"], "00u1abcd");
    let id = created["id"].as_str().unwrap().to_owned();
    // A second create of the same person is a conflict in SCIM's shape.
    let (status, error) = scim.call(Method::POST, "/Users", Some(carol)).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(error["scimType"], "uniqueness");
    assert_eq!(
        error["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );

    let (_, found) = scim
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22Carol@Example.com%22",
            None,
        )
        .await;
    assert_eq!(found["totalResults"], 1, "{found}");
    assert_eq!(found["Resources"][0]["id"], id);
    let (_, none) = scim
        .call(
            Method::GET,
            "/Users?filter=userName%20eq%20%22nobody@example.com%22",
            None,
        )
        .await;
    assert_eq!(none["totalResults"], 0);
    let (status, error) = scim
        .call(Method::GET, "/Users?filter=userName%20gt", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["scimType"], "invalidFilter");

    // Carol is a member of the workspace now, and can be deactivated by PATCH, as Okta does.
    let in_workspace = |active: bool| {
        let db = app.db.clone();
        let id: i64 = id.parse().unwrap();
        async move {
            sqlx::query_scalar::<_, bool>(
                "select exists (select 1 from workspace_members
                                where user_id = $1 and (deactivated_at is null) = $2)",
            )
            .bind(id)
            .bind(active)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert!(in_workspace(true).await);
    let deactivate = json!({ "schemas": [PATCH], "Operations": [{ "op": "replace", "value": { "active": false } }] });
    let (status, patched) = scim
        .call(Method::PATCH, &format!("/Users/{id}"), Some(deactivate))
        .await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(patched["active"], false);
    assert!(in_workspace(false).await);
    let (_, audit) = ada
        .page(&format!("/w/{slug}/admin/audit?action=member.deactivate"))
        .await;
    assert!(audit.contains("@carol"), "the deactivation is audited");
    // Entra ID writes booleans as strings, with a path.
    let entra = json!({ "schemas": [PATCH], "Operations": [{ "op": "Replace", "path": "active", "value": "True" }] });
    let (_, patched) = scim
        .call(Method::PATCH, &format!("/Users/{id}"), Some(entra))
        .await;
    assert_eq!(patched["active"], true);

    let replaced = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "carol@example.com",
        "displayName": "Captain Carol",
        "active": true,
    });
    let (status, put) = scim
        .call(Method::PUT, &format!("/Users/{id}"), Some(replaced))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["displayName"], "Captain Carol");
    assert!(
        put.get("externalId").is_none(),
        "PUT replaces: no externalId given, none kept"
    );

    let (status, _) = scim
        .call(Method::DELETE, &format!("/Users/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, error) = scim.call(Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error["status"], "404");
}

#[tokio::test]
async fn groups_are_private_channels_and_bad_input_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_ada, _slug, scim) = provisioned(&app).await;
    use reqwest::Method;
    let (_, dora) = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({ "userName": "dora@example.com" })),
        )
        .await;
    let dora_id = dora["id"].as_str().unwrap().to_owned();
    let (status, group) = scim
        .call(
            Method::POST,
            "/Groups",
            Some(json!({ "displayName": "Sales EMEA", "members": [{ "value": dora_id }] })),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{group}");
    let group_id: i64 = group["id"].as_str().unwrap().parse().unwrap();
    let (kind, name): (String, String) =
        sqlx::query_as("select kind, name from channels where id = $1")
            .bind(group_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), name.as_str()), ("private", "sales-emea"));
    assert_eq!(group["members"][0]["value"], dora_id);
    let remove = json!({ "schemas": [PATCH], "Operations": [
        { "op": "remove", "path": format!("members[value eq \"{dora_id}\"]") }] });
    let (_, patched) = scim
        .call(Method::PATCH, &format!("/Groups/{group_id}"), Some(remove))
        .await;
    assert_eq!(patched["members"], json!([]), "{patched}");

    // Malformed input: clear errors, nothing stored.
    let (status, error) = scim
        .call(
            Method::POST,
            "/Groups",
            Some(json!({ "displayName": "x", "members": [{ "value": "999999" }] })),
        )
        .await;
    assert_eq!(
        (status, error["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidValue"))
    );
    let (status, error) = scim
        .call(
            Method::POST,
            "/Users",
            Some(json!({ "displayName": "No Name" })),
        )
        .await;
    assert_eq!(
        (status, error["scimType"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalidValue"))
    );
    let response = reqwest::Client::new()
        .post(format!("{}/Users", scim.base))
        .bearer_auth(&scim.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = reqwest::Client::new()
        .get(format!("{}/Users", scim.base))
        .bearer_auth("nts_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let users: i64 =
        sqlx::query_scalar("select count(*) from users where display_name = 'No Name'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(users, 0);

    let (status, _) = scim
        .call(Method::DELETE, &format!("/Groups/{group_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let archived: bool =
        sqlx::query_scalar("select archived_at is not null from channels where id = $1")
            .bind(group_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(archived, "the channel's history stays, archived");
    let (status, _) = scim
        .call(Method::GET, &format!("/Groups/{group_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_independent_scim_checker_finds_no_failure() {
    let Some(python) = python_with("import scim2_tester, httpx2") else {
        skipped(
            "a Python with scim2-tester",
            ".ci/run installs it in .venv; or set NATTER_TEST_PYTHON",
        );
        return;
    };
    let app = TestApp::spawn().await;
    let (_ada, _slug, scim) = provisioned(&app).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/scim_check.py");
    // The server runs on this test's runtime: wait for the checker off it.
    let (base, token) = (format!("{}/", scim.base), scim.token.clone());
    let output = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(base)
            .arg(token)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    println!("{report}");
    assert!(
        output.status.success(),
        "the checker reported failures:\n{report}"
    );
    assert!(report.contains("summary:"), "{report}");
}
