use reqwest::StatusCode;

use crate::helpers::{TestApp, location};

#[tokio::test]
async fn signing_up_logs_in_and_shows_the_workspace_list() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (status, html) = ada.page("/").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your workspaces"));
    assert!(html.contains("@ada"));
    let hash: String = sqlx::query_scalar("select password_hash from users where username = 'ada'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(
        hash.starts_with("$argon2id$"),
        "passwords are stored as argon2id hashes"
    );
}

#[tokio::test]
async fn the_sign_up_form_has_labelled_fields_and_a_sign_up_button() {
    let app = TestApp::spawn().await;
    let (_, html) = app.browser().page("/signup").await;
    for label in [
        ">Email</label>",
        ">Username</label>",
        ">Name</label>",
        ">Password</label>",
        ">Sign up</button>",
    ] {
        assert!(html.contains(label), "{label} is on the sign-up page");
    }
    let (_, html) = app.browser().page("/login").await;
    assert!(html.contains(">Log in</button>"));
}

#[tokio::test]
async fn a_taken_username_is_refused_and_the_form_keeps_what_was_typed() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut other = app.browser();
    other.refresh_csrf("/signup").await;
    let response = other
        .post_form(
            "/signup",
            &[
                ("email", "other@example.com"),
                ("username", "Ada"),
                ("name", "Another Ada"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("That username is taken"));
    assert!(
        html.contains("value=\"other@example.com\""),
        "the email is kept"
    );
    assert!(html.contains("value=\"Another Ada\""), "the name is kept");
}

#[tokio::test]
async fn a_wrong_password_gets_a_clear_message() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    let response = browser
        .post_form(
            "/login",
            &[
                ("email", "ada@example.com"),
                ("password", "not-the-password"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("That email and password do not match an account"));
    assert!(
        html.contains("value=\"ada@example.com\""),
        "the email is kept"
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_even_for_the_right_password() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    for _ in 0..5 {
        let response = browser
            .post_form(
                "/login",
                &[("email", "ada@example.com"), ("password", "wrong-password")],
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    }
    let response = browser
        .post_form(
            "/login",
            &[("email", "ada@example.com"), ("password", "password123")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(response.headers().contains_key("retry-after"));
    let html = response.text().await.unwrap();
    assert!(
        html.contains("Too many failed login attempts. Wait 15 minutes"),
        "{html}"
    );
}

#[tokio::test]
async fn logging_in_rotates_the_session_id_and_logging_out_ends_it() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut browser = app.browser();
    let before = browser.get("/login").await;
    let anonymous_cookie = before
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    browser.refresh_csrf("/login").await;
    let response = browser
        .post_form(
            "/login",
            &[("email", "ada@example.com"), ("password", "password123")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let logged_in_cookie = response
        .headers()
        .get("set-cookie")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let id = |c: &str| c.split(';').next().unwrap().to_owned();
    assert_ne!(
        id(&anonymous_cookie),
        id(&logged_in_cookie),
        "a new session id after login"
    );

    browser.refresh_csrf("/").await;
    let response = browser.post_form("/logout", &[]).await;
    assert_eq!(location(&response), "/login");
    let response = browser.get("/").await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), "/login");
}

#[tokio::test]
async fn a_session_is_valid_on_another_node_sharing_the_database() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let other_node = app.second_node().await;
    let response = ada
        .client
        .get(format!("{other_node}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().contains("@ada"));
}

#[tokio::test]
async fn attempts_sent_all_at_once_are_counted_one_by_one_and_email_and_username_are_one_account() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    let browser = std::sync::Arc::new(browser);
    // Twenty wrong passwords at once: only five get as far as a password check.
    let mut attempts = Vec::new();
    for n in 0..20 {
        let browser = browser.clone();
        // Email and username name the same person.
        let login = if n % 2 == 0 { "ada@example.com" } else { "ADA" };
        attempts.push(tokio::spawn(async move {
            browser
                .post_form(
                    "/login",
                    &[("email", login), ("password", "wrong-password")],
                )
                .await
                .status()
        }));
    }
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
        .count();
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((checked, refused), (5, 15), "{statuses:?}");
    let response = browser
        .post_form("/login", &[("email", "ada"), ("password", "password123")])
        .await;
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn after_login_only_same_site_paths_are_followed() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    for (next, lands) in [
        ("/w/acme", "/w/acme"),
        ("/\t/evil.example", "/"),
        ("//evil.example", "/"),
        ("/%2f%2fevil.example", "/"),
    ] {
        let mut browser = app.browser();
        browser.refresh_csrf("/login").await;
        let response = browser
            .post_form(
                "/login",
                &[
                    ("email", "ada@example.com"),
                    ("password", "password123"),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{next:?}");
        assert_eq!(location(&response), lands, "{next:?}");
    }
}

#[tokio::test]
async fn sign_ups_from_one_address_are_limited_and_a_taken_email_is_refused_before_hashing() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    // Each attempt from a fresh browser, as a script replaying the form would.
    let sign_up = |email: String, username: String| {
        let mut browser = app.browser();
        async move {
            browser.refresh_csrf("/signup").await;
            browser
                .post_form(
                    "/signup",
                    &[
                        ("email", email.as_str()),
                        ("username", username.as_str()),
                        ("name", "Someone"),
                        ("password", "password123"),
                    ],
                )
                .await
                .status()
        }
    };
    // A replayed form for a taken email is answered with what to fix, every time.
    for _ in 0..10 {
        let status = sign_up("ada@example.com".into(), "ada2".into()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Ada's own sign-up and those ten make eleven; twenty-nine more reach the limit of forty.
    for n in 0..29 {
        let status = sign_up(format!("new{n}@example.com"), format!("new{n}")).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "sign-up {n}");
    }
    let status = sign_up("one-more@example.com".into(), "onemore".into()).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let made: i64 = sqlx::query_scalar("select count(*) from users where username = 'onemore'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(made, 0);
}

async fn failed_login_from(app: &TestApp, client: &str) -> StatusCode {
    let mut browser = app.browser();
    browser.refresh_csrf("/login").await;
    browser
        .client_post_form_with_header(
            "/login",
            &[("email", "ada@example.com"), ("password", "wrong-password")],
            ("x-forwarded-for", client),
        )
        .await
        .status()
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_is_throttled_on_its_own() {
    let app = TestApp::spawn_behind_proxy().await;
    app.signup("ada").await;
    for _ in 0..5 {
        assert_eq!(
            failed_login_from(&app, "203.0.113.1").await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }
    assert_eq!(
        failed_login_from(&app, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client behind the same proxy still gets its own five attempts.
    assert_eq!(
        failed_login_from(&app, "203.0.113.2").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_header_is_ignored() {
    let app = TestApp::spawn().await;
    app.signup("ada").await;
    for n in 0..5 {
        // Each attempt claims another address; all are the one peer.
        failed_login_from(&app, &format!("203.0.113.{n}")).await;
    }
    assert_eq!(
        failed_login_from(&app, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
}
