//! Profiles: the settings page and Slack's `users.info`, `users.profile.get` and
//! `users.profile.set` carry the same name, title, time zone and status, which clears itself.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, api, user_id};
use crate::ws::token;

#[tokio::test]
async fn a_profile_set_on_the_page_or_through_the_api_is_what_users_info_shows() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains("href=\"/settings/profile\""),
        "a visible link from the workspace"
    );

    let long = "t".repeat(101);
    for (field, value) in [
        ("display_name", ""),
        ("title", long.as_str()),
        ("time_zone", "Atlantis/Capital"),
        ("status_emoji", ":no_such_emoji_anywhere:"),
    ] {
        let mut form = vec![("display_name", "Ada"), ("status_clears", "never")];
        form.retain(|(k, _)| *k != field);
        form.push((field, value));
        let answer = ada.post_form("/settings/profile", &form).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{field}");
        assert!(answer.text().await.unwrap().contains("profile-error"));
    }
    let saved = ada
        .post_form(
            "/settings/profile",
            &[
                ("display_name", "Ada L."),
                ("title", "Engineer"),
                ("time_zone", "Europe/Paris"),
                ("status_emoji", "palm_tree"),
                ("status_text", "On holiday"),
                ("status_clears", "1h"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);

    let ada_id = natter::integrations::ids::user_id(user_id(&app, "ada").await);
    let bob_token = token(&app, "bob").await;
    let (_, info) = api(&app, &bob_token, "users.info", json!({ "user": ada_id })).await;
    let user = &info["user"];
    assert_eq!(user["real_name"], "Ada L.");
    assert_eq!(user["tz"], "Europe/Paris");
    let profile = &user["profile"];
    assert_eq!(
        (
            profile["title"].as_str(),
            profile["status_emoji"].as_str(),
            profile["status_text"].as_str()
        ),
        (Some("Engineer"), Some(":palm_tree:"), Some("On holiday"))
    );
    let in_an_hour = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    assert!(
        (in_an_hour - 5..=in_an_hour).contains(&profile["status_expiration"].as_i64().unwrap())
    );
    assert!(profile.get("email").is_none(), "not another person's email");

    // Through the API, for oneself.
    let ada_token = token(&app, "ada").await;
    let soon = time::OffsetDateTime::now_utc().unix_timestamp() + 600;
    let (_, set) = api(
        &app,
        &ada_token,
        "users.profile.set",
        json!({ "profile": { "status_text": "In a meeting", "status_emoji": ":calendar:", "status_expiration": soon } }),
    )
    .await;
    assert_eq!(set["ok"], true, "{set}");
    let (_, got) = api(&app, &ada_token, "users.profile.get", json!({})).await;
    assert_eq!(got["profile"]["status_text"], "In a meeting");
    assert_eq!(got["profile"]["status_expiration"], soon);
    assert_eq!(got["profile"]["email"], "ada@example.com");
    let (_, theirs) = api(
        &app,
        &bob_token,
        "users.profile.get",
        json!({ "user": ada_id }),
    )
    .await;
    assert_eq!(theirs["profile"]["title"], "Engineer");
    assert!(theirs["profile"].get("email").is_none());

    // Bad input changes nothing.
    for bad in [
        json!({ "profile": "nonsense" }),
        json!({ "profile": { "status_expiration": soon + 3 * 365 * 86_400 } }),
        json!({ "profile": { "status_text": 42 } }),
        json!({}),
    ] {
        let (_, answer) = api(&app, &ada_token, "users.profile.set", bad).await;
        assert_eq!(answer["error"], "invalid_profile", "{answer}");
    }
    let (_, got) = api(&app, &ada_token, "users.profile.get", json!({})).await;
    assert_eq!(got["profile"]["status_text"], "In a meeting");

    // A status clears itself at its time.
    sqlx::query(
        "update users set status_expires_at = now() - interval '1 second' where username = 'ada'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let (_, got) = api(
        &app,
        &bob_token,
        "users.profile.get",
        json!({ "user": ada_id }),
    )
    .await;
    assert_eq!(
        (
            got["profile"]["status_text"].as_str(),
            got["profile"]["status_emoji"].as_str()
        ),
        (Some(""), Some(""))
    );
}
