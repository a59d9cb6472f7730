//! The instance: who may sign up (`NATTER_SIGNUP`), and instance admins at `/admin`.

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Browser, TestApp, api, location, user_id};
use crate::ws::{Ws, token};
use natter::config::Signup;

/// Tries the sign-up form; returns its status and page.
async fn sign_up(app: &TestApp, email: &str, username: &str, next: &str) -> (StatusCode, String) {
    let mut browser = app.browser();
    browser.refresh_csrf("/signup").await;
    let response = browser
        .post_form(
            "/signup",
            &[
                ("email", email),
                ("username", username),
                ("name", username),
                ("password", "password123"),
                ("next", next),
            ],
        )
        .await;
    (response.status(), response.text().await.unwrap())
}

async fn logged_in(app: &TestApp, email: &str) -> Browser {
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    let response = browser
        .post_form("/login", &[("email", email), ("password", "password123")])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{email} logs in");
    browser.refresh_csrf("/").await;
    browser
}

fn create_user(app: &TestApp, username: &str) {
    let email = format!("{username}@example.com");
    let (ok, out) = app.cli(&[
        "user",
        "create",
        "--email",
        &email,
        "--username",
        username,
        "--name",
        username,
        "--password",
        "password123",
    ]);
    assert!(ok, "{out}");
}

#[tokio::test]
async fn with_invite_only_sign_up_people_join_through_a_live_invite_link_only() {
    let app = TestApp::spawn_signup(Signup::Invite).await;
    let (status, page) = sign_up(&app, "eve@example.com", "eve", "/").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("by invitation"), "{page}");
    create_user(&app, "ada");
    let ada = logged_in(&app, "ada@example.com").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let link = ada.invite_link(&slug).await;
    let path = link.trim_start_matches(&app.base).to_owned();
    let (status, _) = sign_up(&app, "bob@example.com", "bob", "/invite/not-a-code").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a made-up code");
    let (status, _) = sign_up(&app, "bob@example.com", "bob", &path).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "following a real invite");
    let accounts: i64 = sqlx::query_scalar("select count(*) from users where not is_bot")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(accounts, 2, "ada and bob; eve's attempts made nothing");
}

#[tokio::test]
async fn with_domain_sign_up_only_those_addresses_make_accounts() {
    let app = TestApp::spawn_signup(Signup::Domains(vec![
        "example.com".into(),
        "example.org".into(),
    ]))
    .await;
    let (status, _) = sign_up(&app, "ada@Example.COM", "ada", "/").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, page) = sign_up(&app, "eve@elsewhere.net", "eve", "/").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains("open to addresses at example.com, example.org"),
        "{page}"
    );
}

#[tokio::test]
async fn an_instance_admin_deactivates_an_account_everywhere_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (acme, general) = app.workspace(&ada, "Acme").await;
    let (beta, _) = app.workspace(&ada, "Beta").await;
    app.join_by_invite(&ada, &bob, &acme).await;
    app.join_by_invite(&ada, &bob, &beta).await;
    let bob_id = user_id(&app, "bob").await;
    // Nobody is an instance admin yet: the page does not exist for them.
    assert_eq!(ada.page("/admin").await.0, StatusCode::NOT_FOUND);
    let (ok, out) = app.cli(&["admin", "grant", "--email", "ada@example.com"]);
    assert!(ok, "{out}");
    let (ok, out) = app.cli(&["admin", "grant", "--email", "nobody@example.com"]);
    assert!(!ok && out.contains("no active person"), "{out}");
    let (status, page) = ada.page("/admin").await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("/w/beta") && page.contains("bob@example.com"));
    assert_eq!(bob.page("/admin").await.0, StatusCode::NOT_FOUND);

    let bob_token = token(&app, "bob").await;
    let mut socket = Ws::with_cookie(&bob, &app.base).await.unwrap();
    socket
        .send(json!({ "type": "hello", "cursors": { general.to_string(): 0 } }))
        .await;
    socket.next_of("ready").await;
    let refused = ada
        .post_form(
            &format!("/admin/accounts/{}/deactivate", user_id(&app, "ada").await),
            &[],
        )
        .await;
    assert_eq!(
        refused.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "not yourself"
    );
    let done = ada
        .post_form(&format!("/admin/accounts/{bob_id}/deactivate"), &[])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    assert_eq!(socket.close_code().await, Some(CloseCode::Library(4001)));
    let page = bob.get(&format!("/w/{acme}")).await;
    assert_eq!(location(&page), "/login", "the session is over");
    let (_, answer) = api(&app, &bob_token, "auth.test", json!({})).await;
    assert_eq!(answer["error"], "invalid_auth");
    let mut again = app.browser();
    again.refresh_csrf("/login").await;
    let login = again
        .post_form(
            "/login",
            &[("email", "bob@example.com"), ("password", "password123")],
        )
        .await;
    assert_ne!(
        login.status(),
        StatusCode::SEE_OTHER,
        "no new session either"
    );
    let recorded: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where workspace_id is null and action = 'account.deactivate'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(recorded, 1);

    let done = ada
        .post_form(&format!("/admin/accounts/{bob_id}/reactivate"), &[])
        .await;
    assert_eq!(done.status(), StatusCode::SEE_OTHER);
    let bob = logged_in(&app, "bob@example.com").await;
    assert_eq!(
        bob.page(&format!("/w/{beta}")).await.0,
        StatusCode::SEE_OTHER
    );
}
