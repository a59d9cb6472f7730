//! Access holes closed: membership is asked at the moment of acting, through every door,
//! and nothing crosses from one workspace into another.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, api, user_id, workspace_id};
use crate::ws::{Ws, token};

fn is_member_of(app: &TestApp, channel_id: i64, user: i64) -> impl Future<Output = bool> {
    let db = app.db.clone();
    async move {
        sqlx::query_scalar(
            "select exists (select 1 from channel_members where channel_id = $1 and user_id = $2)",
        )
        .bind(channel_id)
        .bind(user)
        .fetch_one(&db)
        .await
        .unwrap()
    }
}

#[tokio::test]
async fn conversations_invite_cannot_bring_someone_from_another_workspace_into_a_private_channel() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (acme, _) = app.workspace(&ada, "Acme").await;
    let (beta, _) = app.workspace(&ada, "Beta").await;
    app.join_by_invite(&ada, &bob, &acme).await;
    let secret = ada.create_channel(&beta, "secret", true).await;
    let ada_token = token(&app, "ada").await;
    let bob_id = user_id(&app, "bob").await;
    // Ada's token acts in Acme, where bob is; the channel is Beta's.
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.invite",
        json!({
            "team_id": format!("T{}", workspace_id(&app, &acme).await),
            "channel": format!("G{secret}"),
            "users": format!("U{bob_id}"),
        }),
    )
    .await;
    assert_eq!(answer["ok"], false, "{answer}");
    assert_eq!(answer["error"], "channel_not_found");
    assert!(!is_member_of(&app, secret, bob_id).await);
    // Not even acting in Beta: bob is not in Beta.
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.invite",
        json!({
            "team_id": format!("T{}", workspace_id(&app, &beta).await),
            "channel": format!("G{secret}"),
            "users": format!("U{bob_id}"),
        }),
    )
    .await;
    assert_eq!(answer["error"], "user_not_found", "{answer}");
    // And the SQL that adds members refuses an outsider whoever calls it.
    assert!(
        !natter::channels::db::add_member(&app.db, secret, bob_id)
            .await
            .unwrap()
    );
    assert!(!is_member_of(&app, secret, bob_id).await);
}

#[tokio::test]
async fn a_deactivated_membership_follows_no_channel_and_stores_no_message() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let bob_id = user_id(&app, "bob").await;
    let bob_token = token(&app, "bob").await;
    // Deactivated in the database alone (as SCIM or an admin would leave it).
    sqlx::query("update workspace_members set deactivated_at = now() where user_id = $1")
        .bind(bob_id)
        .execute(&app.db)
        .await
        .unwrap();
    let (mut ws, ready) = Ws::hello(&app.base, &bob_token, json!({})).await;
    assert_eq!(ready["channels"], json!([]), "no channel of that workspace");
    ws.send(json!({ "type": "send", "channel_id": general, "client_msg_id": "x", "text": "still here" }))
        .await;
    assert_eq!(ws.next_of("error").await["code"], "channel_not_found");
    // The send path itself asks, whoever calls it.
    let new = natter::messages::NewMessage::new(general, bob_id, "through the back door");
    let refused = natter::messages::post(&app.state, new).await;
    assert!(
        matches!(refused, Err(natter::messages::SendError::NotMember)),
        "{refused:?}"
    );
    let stored: i64 =
        sqlx::query_scalar("select count(*) from messages where channel_id = $1 and user_id = $2")
            .bind(general)
            .bind(bob_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, 0);
    let (_, answer) = api(&app, &bob_token, "auth.test", json!({})).await;
    assert_eq!(answer["error"], "account_inactive", "{answer}");
}

#[tokio::test]
async fn a_revoked_bots_open_socket_closes_and_its_sends_are_refused() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, workspace, "Deploy Bot", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let (mut ws, _) = Ws::hello(&app.base, &bot.token, json!({ general.to_string(): 0 })).await;
    let revoked = ada
        .post_form(
            &format!("/w/{slug}/integrations/bots/{}/revoke", bot.bot_id),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        ws.close_code().await,
        Some(tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode::Library(4001))
    );
    let new = natter::messages::NewMessage::new(general, bot.user_id, "still deploying");
    assert!(matches!(
        natter::messages::post(&app.state, new).await,
        Err(natter::messages::SendError::NotMember)
    ));
}

#[tokio::test]
async fn guests_cannot_create_join_or_invite_through_the_api() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let gus = app.signup("gus").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &gus, &slug).await;
    let open = ada.create_channel(&slug, "open", false).await;
    let gus_id = user_id(&app, "gus").await;
    let made_guest = ada
        .post_form(
            &format!("/w/{slug}/admin/members/{gus_id}/role"),
            &[("role", "guest")],
        )
        .await;
    assert_eq!(made_guest.status(), StatusCode::SEE_OTHER);
    let gus_token = token(&app, "gus").await;
    for (method, args) in [
        ("conversations.create", json!({ "name": "guest-room" })),
        (
            "conversations.join",
            json!({ "channel": format!("C{open}") }),
        ),
        (
            "conversations.invite",
            json!({ "channel": format!("C{open}"), "users": format!("U{gus_id}") }),
        ),
    ] {
        let (_, answer) = api(&app, &gus_token, method, args).await;
        assert_eq!(answer["error"], "restricted_action", "{method}: {answer}");
    }
    let channels: i64 =
        sqlx::query_scalar("select count(*) from channels where name = 'guest-room'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(channels, 0);
    assert!(!is_member_of(&app, open, gus_id).await);
    // A public channel they were not added to does not exist for a guest.
    let (_, answer) = api(
        &app,
        &gus_token,
        "conversations.info",
        json!({ "channel": format!("C{open}") }),
    )
    .await;
    assert_eq!(answer["error"], "channel_not_found");
    assert_eq!(
        gus.page(&format!("/w/{slug}/c/{open}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        gus.page(&format!("/w/{slug}/channels")).await.0,
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn only_admins_and_its_creator_see_and_revoke_a_webhook() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let hidden = ada.create_channel(&slug, "board-room", true).await;
    let workspace = workspace_id(&app, &slug).await;
    let token = natter::integrations::create_webhook(
        &app.db,
        workspace,
        hidden,
        "Board alerts",
        user_id(&app, "ada").await,
    )
    .await
    .unwrap();
    let (_, page) = bob.page(&format!("/w/{slug}/integrations")).await;
    assert!(!page.contains("board-room"), "a private channel's name");
    assert!(!page.contains("Board alerts"));
    let (_, page) = ada.page(&format!("/w/{slug}/integrations")).await;
    assert!(page.contains("Board alerts"));
    let hook_id: i64 = sqlx::query_scalar("select id from webhooks where name = 'Board alerts'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let revoked = bob
        .post_form(
            &format!("/w/{slug}/integrations/webhooks/{hook_id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NOT_FOUND);
    let posted = reqwest::Client::new()
        .post(format!("{}/hooks/{token}", app.base))
        .json(&json!({ "text": "still works" }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        posted.status(),
        StatusCode::OK,
        "the webhook was not revoked"
    );
}

#[tokio::test]
async fn presence_and_mentions_stay_within_shared_workspaces() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let carol = app.signup("carol").await;
    let (acme, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &acme).await;
    let (_elsewhere, _) = app.workspace(&carol, "Elsewhere").await;
    let (ada_id, carol_id) = (user_id(&app, "ada").await, user_id(&app, "carol").await);
    let bob_token = token(&app, "bob").await;
    let (mut ws, _) = Ws::hello(&app.base, &bob_token, json!({})).await;
    ws.send(json!({ "type": "presence.subscribe", "user_ids": [carol_id, ada_id] }))
        .await;
    // Only ada, who shares Acme with bob, is answered; carol is nobody's business here.
    let first = ws.next_of("presence").await;
    assert_eq!(first["user_id"], ada_id);
    let (_carol_ws, _) = Ws::hello(&app.base, &token(&app, "carol").await, json!({})).await;
    while let Some(frame) = ws.try_next(Duration::from_millis(500)).await {
        assert_ne!(frame["user_id"], carol_id, "{frame}");
    }
    // `<@U…>` of someone outside the workspace is not turned into their username.
    let (_, answer) = api(
        &app,
        &bob_token,
        "chat.postMessage",
        json!({ "channel": format!("C{general}"), "text": format!("hi <@U{carol_id}> and <@U{ada_id}>") }),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let body: String = sqlx::query_scalar(
        "select body from messages where channel_id = $1 order by seq desc limit 1",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(body.contains("@ada"), "{body}");
    assert!(!body.contains("carol"), "{body}");
}

#[tokio::test]
async fn a_guest_is_only_in_the_channels_they_are_added_to_and_dms_only_people_there() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let _bob = app.signup("bob").await;
    let gus = app.signup("gus").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &_bob, &slug).await;
    let (ok, out) = app.cli(&[
        "member",
        "add",
        "--workspace",
        &slug,
        "--email",
        "gus@example.com",
        "--role",
        "guest",
    ]);
    assert!(ok, "{out}");
    let gus_id = user_id(&app, "gus").await;
    assert!(
        !is_member_of(&app, general, gus_id).await,
        "not even in #general"
    );
    let gus_token = token(&app, "gus").await;
    let (ada_id, bob_id) = (user_id(&app, "ada").await, user_id(&app, "bob").await);
    let (_, answer) = api(
        &app,
        &gus_token,
        "conversations.open",
        json!({ "users": format!("U{ada_id}") }),
    )
    .await;
    assert_eq!(answer["error"], "restricted_action", "{answer}");
    // Added to a channel with ada: now he may message ada, and still not bob.
    let project = ada.create_channel(&slug, "project", true).await;
    let added = ada
        .post_form(
            &format!("/w/{slug}/c/{project}/members"),
            &[("username", "gus")],
        )
        .await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let (_, answer) = api(
        &app,
        &gus_token,
        "conversations.open",
        json!({ "users": format!("U{ada_id}") }),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let (_, answer) = api(
        &app,
        &gus_token,
        "conversations.open",
        json!({ "users": format!("U{bob_id}") }),
    )
    .await;
    assert_eq!(answer["error"], "restricted_action");
    let form = gus
        .post_form(
            &format!("/w/{slug}/dms"),
            &[("user_id", &bob_id.to_string())],
        )
        .await;
    assert_eq!(form.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        gus.page(&format!("/w/{slug}/c/{project}")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_bot_deactivated_in_its_workspace_gets_no_more_events() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, workspace, "Deploy Bot", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    // Subscribed as if its request URL had answered the challenge.
    sqlx::query(
        "update bots set url_verified_at = now(), events = '{message.channels}' where id = $1",
    )
    .bind(bot.bot_id)
    .execute(&app.db)
    .await
    .unwrap();
    let queued = || {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("select count(*) from event_outbox where bot_id = $1")
                .bind(bot.bot_id)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };
    ada.send(&slug, general, "deploying now", None).await;
    assert_eq!(queued().await, 1);
    let deactivated = ada
        .post_form(
            &format!("/w/{slug}/admin/members/{}/deactivate", bot.user_id),
            &[],
        )
        .await;
    assert_eq!(deactivated.status(), StatusCode::SEE_OTHER);
    ada.send(&slug, general, "and again", None).await;
    assert_eq!(queued().await, 1, "nothing more for a deactivated bot");
}

#[tokio::test]
async fn frames_searches_and_invites_are_bounded() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let ada_token = token(&app, "ada").await;
    // A flood of socket frames is refused frame by frame; the socket stays open.
    let (mut ws, _) = Ws::hello(&app.base, &ada_token, json!({ general.to_string(): 0 })).await;
    for _ in 0..100 {
        ws.send(json!({ "type": "read", "channel_id": general, "seq": 0 }))
            .await;
    }
    let mut refused = 0;
    while let Some(frame) = ws.try_next(Duration::from_millis(500)).await {
        if frame["type"] == "error" && frame["code"] == "ratelimited" {
            refused += 1;
        }
    }
    assert!(refused >= 30, "{refused} of 100 refused");
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next_of("pong").await, json!({ "type": "pong" }));
    // Searches: bursts of twenty, then two a second, per person, from the page and the API.
    let mut statuses = Vec::new();
    for n in 0..25 {
        statuses.push(ada.page(&format!("/w/{slug}/search?q=word{n}")).await.0);
    }
    assert!(
        statuses[..20].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert!(
        statuses[20..].contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    // An invite names at most a thousand people.
    let channel = ada.create_channel(&slug, "big", false).await;
    let many: Vec<String> = (1..=1001).map(|n| format!("U{n}")).collect();
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.invite",
        json!({ "channel": format!("C{channel}"), "users": many.join(",") }),
    )
    .await;
    assert_eq!(answer["error"], "too_many_users");
}

#[tokio::test]
async fn a_personal_token_posts_as_its_person_never_under_another_name() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let (_, answer) = api(
        &app,
        &token(&app, "ada").await,
        "chat.postMessage",
        json!({
            "channel": format!("C{general}"),
            "text": "please wire the money",
            "username": "Alice (CEO)",
            "icon_url": "https://evil.example/ceo.png",
        }),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let (name, icon): (Option<String>, Option<String>) = sqlx::query_as(
        "select sender_name, sender_icon from messages where channel_id = $1 order by seq desc limit 1",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((name, icon), (None, None));
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(!page.contains("Alice (CEO)") && !page.contains("evil.example"));
}

#[tokio::test]
async fn a_guest_leaving_their_last_channel_keeps_their_socket() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let gus = app.signup("gus").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let (ok, out) = app.cli(&[
        "member",
        "add",
        "--workspace",
        &slug,
        "--email",
        "gus@example.com",
        "--role",
        "guest",
    ]);
    assert!(ok, "{out}");
    let project = ada.create_channel(&slug, "project", false).await;
    ada.post_form(
        &format!("/w/{slug}/c/{project}/members"),
        &[("username", "gus")],
    )
    .await;
    let (mut ws, ready) = Ws::hello(&app.base, &token(&app, "gus").await, json!({})).await;
    assert_eq!(ready["channels"].as_array().unwrap().len(), 1);
    let left = gus
        .post_form(&format!("/w/{slug}/c/{project}/leave"), &[])
        .await;
    assert_eq!(left.status(), StatusCode::SEE_OTHER);
    assert_eq!(ws.next_of("channel.left").await["channel_id"], project);
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(
        ws.try_next(Duration::from_secs(5)).await,
        Some(json!({ "type": "pong" })),
        "still a member of the workspace: the socket stays"
    );
}
