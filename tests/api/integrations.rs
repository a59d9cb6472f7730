use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Browser, TestApp, api, user_id, workspace_id};

async fn setup(app: &TestApp) -> (Browser, String, i64) {
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    (ada, slug, general)
}

async fn webhook(app: &TestApp, slug: &str, channel_id: i64) -> String {
    let ws = workspace_id(app, slug).await;
    let token = natter::integrations::create_webhook(
        &app.db,
        ws,
        channel_id,
        "CI",
        user_id(app, "ada").await,
    )
    .await
    .unwrap();
    format!("{}/hooks/{token}", app.base)
}

async fn last_body(app: &TestApp, channel_id: i64) -> String {
    sqlx::query_scalar("select body from messages where channel_id = $1 order by seq desc limit 1")
        .bind(channel_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_webhook_posts_slack_payloads_as_readable_messages() {
    let app = TestApp::spawn().await;
    let (ada, slug, general) = setup(&app).await;
    let url = webhook(&app, &slug, general).await;
    let client = reqwest::Client::new();
    let ada_id = user_id(&app, "ada").await;
    let response = client
        .post(&url)
        .json(&json!({
            "text": format!("*Deploy* done for <@U{ada_id}>, see <https://ci.example/1|the log>"),
            "username": "Deploy Bot",
            "icon_emoji": ":rocket:",
            "attachments": [{"title": "Build 42", "title_link": "https://ci.example/42", "text": "_all green_", "fields": [{"title": "Env", "value": "prod"}]}],
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Release"}}, {"type": "divider"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "ok");
    let body = last_body(&app, general).await;
    assert!(
        body.starts_with("**Deploy** done for @ada, see [the log](https://ci.example/1)"),
        "{body}"
    );
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        html.contains("Deploy Bot") && html.contains(">BOT<"),
        "shown under its name, tagged BOT"
    );
    assert!(
        html.contains("<strong>Deploy</strong>")
            && html.contains("<span class=\"mention\">@ada</span>")
    );
    assert!(
        html.contains("<a href=\"https://ci.example/42\"")
            && html.contains("<strong>Release</strong>")
            && html.contains("<hr>")
    );
    let mentions: i64 = sqlx::query_scalar("select count(*) from mentions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(
        mentions, 1,
        "a webhook's <@U…> mention counts like any other"
    );

    // The same as a form with payload=.
    let response = client
        .post(&url)
        .form(&[("payload", r#"{"text":"from a form"}"#)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(last_body(&app, general).await, "from a form");
}

#[tokio::test]
async fn webhook_errors_use_slacks_strings_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (_ada, slug, general) = setup(&app).await;
    let url = webhook(&app, &slug, general).await;
    let client = reqwest::Client::new();
    let cases: Vec<(reqwest::RequestBuilder, StatusCode, &str)> = vec![
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body("{not json"),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            client.post(&url).json(&json!({"username": "x"})),
            StatusCode::BAD_REQUEST,
            "no_text",
        ),
        (
            client.post(&url).json(&json!(["text"])),
            StatusCode::BAD_REQUEST,
            "invalid_payload",
        ),
        (
            client
                .post(format!("{}/hooks/nope", app.base))
                .json(&json!({"text": "hi"})),
            StatusCode::NOT_FOUND,
            "no_service",
        ),
        (
            client
                .post(&url)
                .header("content-type", "application/json")
                .body(format!("{{\"text\":\"{}\"}}", "x".repeat(1_100_000))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_payload",
        ),
    ];
    for (request, status, text) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status);
        assert_eq!(response.text().await.unwrap(), text);
    }
    let count: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);

    sqlx::query("update channels set archived_at = now() where id = $1")
        .bind(general)
        .execute(&app.db)
        .await
        .unwrap();
    let response = client
        .post(&url)
        .json(&json!({"text": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    assert_eq!(response.text().await.unwrap(), "channel_is_archived");
}

#[tokio::test]
async fn a_webhook_is_rate_limited_like_slack_with_retry_after() {
    let app = TestApp::spawn().await;
    let (_ada, slug, general) = setup(&app).await;
    let url = webhook(&app, &slug, general).await;
    let client = reqwest::Client::new();
    let mut limited = None;
    for n in 0..30 {
        let response = client
            .post(&url)
            .json(&json!({"text": format!("n{n}")}))
            .send()
            .await
            .unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("a burst of 30 meets the limit");
    assert!(response.headers().contains_key("retry-after"));
    assert_eq!(response.text().await.unwrap(), "rate_limited");
}

#[tokio::test]
async fn the_web_api_answers_with_slacks_shapes_and_error_codes() {
    let app = TestApp::spawn().await;
    let (ada, slug, general) = setup(&app).await;
    let bob = app.signup("bob").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let ws = workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, ws, "Deploy Bot", None)
        .await
        .unwrap();
    let secret = ada.create_channel(&slug, "secret", true).await;

    // Authentication.
    let response = reqwest::Client::new()
        .post(format!("{}/api/auth.test", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.json::<Value>().await.unwrap()["error"],
        "not_authed"
    );
    assert_eq!(
        api(&app, "ntb_wrong", "auth.test", json!({})).await.1["error"],
        "invalid_auth"
    );
    let (_, me) = api(&app, &bot.token, "auth.test", json!({})).await;
    assert_eq!(me["ok"], true);
    assert_eq!(me["user_id"], format!("U{}", bot.user_id));
    assert!(me["bot_id"].is_string());

    // A bot joins a public channel, posts, edits and deletes; seqs come from the same path.
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.postMessage",
            json!({"channel": "#general", "text": "hi"})
        )
        .await
        .1["error"],
        "not_in_channel"
    );
    let (_, joined) = api(
        &app,
        &bot.token,
        "conversations.join",
        json!({"channel": format!("C{general}")}),
    )
    .await;
    assert_eq!(joined["channel"]["is_member"], true);
    let (_, posted) = api(
        &app,
        &bot.token,
        "chat.postMessage",
        json!({"channel": format!("C{general}"), "text": "*build* passed"}),
    )
    .await;
    assert_eq!(posted["ok"], true, "{posted}");
    let ts = posted["ts"].as_str().unwrap().to_owned();
    assert!(ts.ends_with(".000001"), "{ts}");
    assert_eq!(posted["message"]["text"], "**build** passed");
    let (_, updated) = api(
        &app,
        &bot.token,
        "chat.update",
        json!({"channel": format!("C{general}"), "ts": ts, "text": "build passed twice"}),
    )
    .await;
    assert_eq!(updated["ok"], true);
    assert_eq!(last_body(&app, general).await, "build passed twice");

    // Bob's message cannot be edited by the bot; unknown messages are not found.
    let bob_post = bob.send(&slug, general, "mine", None).await;
    let bob_ts = format!("1.{:06}", bob_post["seq"].as_i64().unwrap());
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.update",
            json!({"channel": format!("C{general}"), "ts": bob_ts, "text": "x"})
        )
        .await
        .1["error"],
        "cant_update_message"
    );
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.delete",
            json!({"channel": format!("C{general}"), "ts": "1.000099"})
        )
        .await
        .1["error"],
        "message_not_found"
    );
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.postMessage",
            json!({"channel": format!("C{general}"), "text": "x".repeat(40_001)})
        )
        .await
        .1["error"],
        "msg_too_long"
    );
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.postMessage",
            json!({"channel": format!("C{general}")})
        )
        .await
        .1["error"],
        "no_text"
    );
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.postMessage",
            json!({"channel": "C999999", "text": "x"})
        )
        .await
        .1["error"],
        "channel_not_found"
    );
    assert_eq!(
        api(&app, &bot.token, "no.such.method", json!({})).await.1["error"],
        "unknown_method"
    );

    // A bot is denied a private channel it is not in, by every method.
    for (method, args) in [
        (
            "chat.postMessage",
            json!({"channel": format!("G{secret}"), "text": "x"}),
        ),
        (
            "conversations.history",
            json!({"channel": format!("G{secret}")}),
        ),
        (
            "conversations.info",
            json!({"channel": format!("G{secret}")}),
        ),
        (
            "conversations.join",
            json!({"channel": format!("G{secret}")}),
        ),
        ("conversations.history", json!({"channel": "#secret"})),
    ] {
        assert_eq!(
            api(&app, &bot.token, method, args).await.1["error"],
            "channel_not_found",
            "{method}"
        );
    }
    let (_, list) = api(
        &app,
        &bot.token,
        "conversations.list",
        json!({"types": "public_channel,private_channel"}),
    )
    .await;
    assert!(
        list["channels"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["name"] != "secret")
    );

    // Archived channels refuse posts.
    sqlx::query("update channels set archived_at = now() where id = $1")
        .bind(general)
        .execute(&app.db)
        .await
        .unwrap();
    assert_eq!(
        api(
            &app,
            &bot.token,
            "chat.postMessage",
            json!({"channel": format!("C{general}"), "text": "x"})
        )
        .await
        .1["error"],
        "is_archived"
    );
}

#[tokio::test]
async fn history_pages_with_cursors_and_info_carries_unread_counts() {
    let app = TestApp::spawn().await;
    let (ada, slug, general) = setup(&app).await;
    let token = crate::ws::token(&app, "ada").await;
    for n in 1..=7 {
        ada.send(&slug, general, &format!("note {n}"), None).await;
    }
    let (_, first) = api(
        &app,
        &token,
        "conversations.history",
        json!({"channel": format!("C{general}"), "limit": 3}),
    )
    .await;
    let texts = |page: &Value| {
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["text"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(texts(&first), vec!["note 7", "note 6", "note 5"]);
    assert_eq!(first["has_more"], true);
    let cursor = first["response_metadata"]["next_cursor"].as_str().unwrap();
    let (_, second) = api(
        &app,
        &token,
        "conversations.history",
        json!({"channel": format!("C{general}"), "limit": 3, "cursor": cursor}),
    )
    .await;
    assert_eq!(texts(&second), vec!["note 4", "note 3", "note 2"]);
    let oldest = first["messages"][2]["ts"].as_str().unwrap();
    let (_, newer) = api(
        &app,
        &token,
        "conversations.history",
        json!({"channel": format!("C{general}"), "oldest": oldest}),
    )
    .await;
    assert_eq!(texts(&newer), vec!["note 7", "note 6"]);

    let bob = app.signup("bob").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let bob_token = crate::ws::token(&app, "bob").await;
    ada.send(&slug, general, "for bob", None).await;
    let (_, info) = api(
        &app,
        &bob_token,
        "conversations.info",
        json!({"channel": format!("C{general}")}),
    )
    .await;
    assert_eq!(info["channel"]["unread_count"], 1);
    assert_eq!(info["channel"]["unread_count_display"], 1);
    let ts = newer["messages"][0]["ts"]
        .as_str()
        .unwrap()
        .replace(".000007", ".000008");
    api(
        &app,
        &bob_token,
        "conversations.mark",
        json!({"channel": format!("C{general}"), "ts": ts}),
    )
    .await;
    let (_, info) = api(
        &app,
        &bob_token,
        "conversations.info",
        json!({"channel": format!("C{general}")}),
    )
    .await;
    assert_eq!(info["channel"]["unread_count"], 0);

    // DMs open once and are found again.
    let (_, dm) = api(
        &app,
        &bob_token,
        "conversations.open",
        json!({"users": format!("U{}", user_id(&app, "ada").await)}),
    )
    .await;
    let (_, again) = api(
        &app,
        &token,
        "conversations.open",
        json!({"users": format!("U{}", user_id(&app, "bob").await)}),
    )
    .await;
    assert_eq!(dm["channel"]["id"], again["channel"]["id"]);
    let (_, users) = api(&app, &token, "users.list", json!({})).await;
    assert_eq!(users["members"].as_array().unwrap().len(), 2);
    let (_, one) = api(
        &app,
        &token,
        "users.info",
        json!({"user": format!("U{}", user_id(&app, "bob").await)}),
    )
    .await;
    assert_eq!(one["user"]["name"], "bob");
}

#[tokio::test]
async fn revoked_bots_and_webhooks_are_refused_and_remote_icons_are_not_hot_linked() {
    let app = TestApp::spawn().await;
    let (ada, slug, general) = setup(&app).await;
    let url = webhook(&app, &slug, general).await;
    let client = reqwest::Client::new();
    let response = client
        .post(&url)
        .json(&json!({"text": "with an icon", "username": "Pager", "icon_url": "https://icons.example/pager.png"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        !html.contains("icons.example"),
        "a remote icon is never hot-linked: readers' browsers fetch nothing the sender chose"
    );
    assert!(
        html.contains("Pager") && html.contains(">BOT<"),
        "named, and tagged BOT"
    );

    // Revoking through the admin page: the webhook and the bot stop working at once.
    let ws = workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, ws, "Old Bot", None)
        .await
        .unwrap();
    assert_eq!(
        api(&app, &bot.token, "auth.test", json!({})).await.1["ok"],
        true
    );
    let hook_id: i64 = sqlx::query_scalar("select id from webhooks")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let response = ada
        .post_form(
            &format!("/w/{slug}/integrations/webhooks/{hook_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = ada
        .post_form(
            &format!("/w/{slug}/integrations/bots/{}/revoke", bot.bot_id),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = client
        .post(&url)
        .json(&json!({"text": "still there?"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        (response.status(), response.text().await.unwrap()),
        (StatusCode::NOT_FOUND, "no_service".to_owned())
    );
    assert_eq!(
        api(&app, &bot.token, "auth.test", json!({})).await.1["error"],
        "invalid_auth"
    );

    // The page shows the bot as revoked; a member who is not an admin cannot make bots.
    let (_, page) = ada.page(&format!("/w/{slug}/integrations")).await;
    assert!(page.contains("Old Bot") && page.contains("revoked"));
    let bob = app.signup("bob").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let response = bob
        .post_form(
            &format!("/w/{slug}/integrations/bots"),
            &[("name", "Sneaky")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// Serves `/bot.png` (a real 1×1 PNG), `/evil.svg` (an SVG with script, labelled a PNG) and
/// `/huge.png` (a PNG header and a megabyte), counting requests.
async fn icon_server() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use axum::routing::get;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\0\x05\0\x01\xff\xa5\xd9\xb2\x1c\0\0\0\0IEND\xaeB`\x82";
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    let png = |body: Vec<u8>| ([("content-type", "image/png")], body);
    let app = axum::Router::new()
        .route("/bot.png", get(move || async move { png(PNG.to_vec()) }))
        .route(
            "/evil.svg",
            get(move || async move {
                png(b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec())
            }),
        )
        .route(
            "/huge.png",
            get(move || async move {
                let mut body = PNG.to_vec();
                body.resize(1024 * 1024, 0);
                png(body)
            }),
        )
        .layer(axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                counted.fetch_add(1, Ordering::SeqCst);
                next.run(request)
            },
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, hits)
}

/// The state of the server's copy of `url`: (fetched, kept).
async fn icon_state(app: &TestApp, url: &str) -> Option<(bool, bool)> {
    for _ in 0..100 {
        let row: Option<(bool, bool)> = sqlx::query_as(
            "select fetched_at is not null, bytes is not null from remote_icons where url = $1",
        )
        .bind(url)
        .fetch_optional(&app.db)
        .await
        .unwrap();
        if row.is_some_and(|(fetched, _)| fetched) {
            return row;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    None
}

#[tokio::test]
async fn integration_icons_are_fetched_by_the_server_and_never_hot_linked() {
    let app = TestApp::spawn().await;
    let (ada, slug, general) = setup(&app).await;
    let hook = webhook(&app, &slug, general).await;
    let (icons, hits) = icon_server().await;
    let client = reqwest::Client::new();
    for (text, icon) in [
        ("with a png", "/bot.png"),
        ("with an svg", "/evil.svg"),
        ("with a huge one", "/huge.png"),
        ("the png again", "/bot.png"),
    ] {
        let url = format!("{icons}{icon}");
        let sent = client
            .post(&hook)
            .json(&json!({ "text": text, "username": "Deploy Bot", "icon_url": url }))
            .send()
            .await
            .unwrap();
        assert_eq!(sent.status(), StatusCode::OK);
        icon_state(&app, &url).await;
    }
    let png = format!("{icons}/bot.png");
    assert_eq!(icon_state(&app, &png).await, Some((true, true)));
    // The SVG (whatever its server called it) and the oversized file are refused.
    let svg = icon_state(&app, &format!("{icons}/evil.svg")).await;
    assert_eq!(svg, Some((true, false)));
    let huge = icon_state(&app, &format!("{icons}/huge.png")).await;
    assert_eq!(huge, Some((true, false)));
    // One fetch per URL, however many messages name it.
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 3);

    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(!html.contains(&icons), "a sender's URL reached the page");
    let id: String = sqlx::query_scalar("select key from remote_icons where url = $1")
        .bind(&png)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(html.contains(&format!("src=\"/icons/{id}\"")), "{html}");
    let served = ada.get(&format!("/icons/{id}")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(
        served.headers()["content-security-policy"],
        "default-src 'none'; sandbox"
    );
    assert!(served.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // A refused icon is not served, and the message shows initials.
    let svg_id: String =
        sqlx::query_scalar("select key from remote_icons where url like '%evil.svg'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(
        ada.get(&format!("/icons/{svg_id}")).await.status(),
        StatusCode::NOT_FOUND
    );
    // Ids cannot be counted: the first icon's row id names nothing.
    assert_eq!(ada.get("/icons/1").await.status(), StatusCode::NOT_FOUND);
    // Signed-out readers get nothing.
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{}/icons/{id}", app.base))
        .send()
        .await
        .unwrap();
    assert_ne!(anonymous.status(), StatusCode::OK);
}
