//! `/w/<slug>/admin`: members, roles, deactivation through every door, the audit log.

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Browser, TestApp, api, location, user_id, workspace_id};
use crate::ws::{Ws, token};

async fn acme_with_bob(app: &TestApp) -> (Browser, Browser, String, i64) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    (ada, bob, slug, general)
}

async fn act(admin: &Browser, slug: &str, user: i64, action: &str, role: &str) -> StatusCode {
    admin
        .post_form(
            &format!("/w/{slug}/admin/members/{user}/{action}"),
            &[("role", role)],
        )
        .await
        .status()
}

#[tokio::test]
async fn deactivating_a_member_takes_effect_at_once_through_every_door() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = acme_with_bob(&app).await;
    let random = ada.create_channel(&slug, "random", false).await;
    bob.post_form(&format!("/w/{slug}/c/{random}/join"), &[])
        .await;
    let bob_id = user_id(&app, "bob").await;
    let bob_token = token(&app, "bob").await;
    let hook = natter::integrations::create_webhook(
        &app.db,
        workspace_id(&app, &slug).await,
        general,
        "Bob's CI",
        bob_id,
    )
    .await
    .unwrap();
    let hook_url = format!("{}/hooks/{hook}", app.base);
    let post_hook = || {
        reqwest::Client::new()
            .post(&hook_url)
            .json(&json!({ "text": "build passed" }))
            .send()
    };
    assert_eq!(post_hook().await.unwrap().status(), StatusCode::OK);
    let mut socket = Ws::with_cookie(&bob, &app.base).await.unwrap();
    socket
        .send(json!({ "type": "hello", "cursors": { general.to_string(): 0 } }))
        .await;
    socket.next_of("ready").await;

    assert_eq!(
        act(&ada, &slug, bob_id, "deactivate", "").await,
        StatusCode::SEE_OTHER
    );

    // The socket is told it left each channel, then closes: nothing is left to follow.
    let mut left = vec![
        socket.next_of("channel.left").await["channel_id"]
            .as_i64()
            .unwrap(),
        socket.next_of("channel.left").await["channel_id"]
            .as_i64()
            .unwrap(),
    ];
    left.sort();
    assert_eq!(left, vec![general.min(random), general.max(random)]);
    assert_eq!(socket.close_code().await, Some(CloseCode::Library(4001)));
    // Pages, sends, the API and webhooks.
    assert_eq!(
        bob.page(&format!("/w/{slug}")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{general}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, _) = bob.try_send(&slug, general, "am I still here?", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, answer) = api(
        &app,
        &bob_token,
        "chat.postMessage",
        json!({ "channel": format!("C{general}"), "text": "via the API" }),
    )
    .await;
    assert_eq!(answer["error"], "account_inactive", "{answer}");
    assert_eq!(post_hook().await.unwrap().status(), StatusCode::NOT_FOUND);
    // A new socket follows nothing of the workspace.
    let (_, ready) = Ws::hello(&app.base, &bob_token, json!({})).await;
    assert_eq!(ready["channels"], json!([]));
    // Search finds nothing for them either: the workspace is closed to them.
    assert_eq!(
        bob.page(&format!("/w/{slug}/search?q=build")).await.0,
        StatusCode::NOT_FOUND
    );

    // Reactivated: back in the same channels, through the same doors.
    assert_eq!(
        act(&ada, &slug, bob_id, "reactivate", "").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{random}")).await.0,
        StatusCode::OK
    );
    bob.send(&slug, general, "back again", None).await;
    assert_eq!(post_hook().await.unwrap().status(), StatusCode::OK);
    let (_, ready) = Ws::hello(&app.base, &bob_token, json!({})).await;
    assert_eq!(ready["channels"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_last_owner_cannot_be_demoted_deactivated_or_removed() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, _) = acme_with_bob(&app).await;
    let ada_id = user_id(&app, "ada").await;
    for (action, role) in [("role", "member"), ("deactivate", ""), ("remove", "")] {
        let response = ada
            .post_form(
                &format!("/w/{slug}/admin/members/{ada_id}/{action}"),
                &[("role", role)],
            )
            .await;
        assert_eq!(response.status(), StatusCode::CONFLICT, "{action}");
        let page = response.text().await.unwrap();
        assert!(page.contains("last owner"), "{action}: {page}");
    }
    let role: String = sqlx::query_scalar(
        "select role from workspace_members where user_id = $1 and deactivated_at is null",
    )
    .bind(ada_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(role, "owner", "nothing changed");
    // With a second owner, the first may step down.
    let bob_id = user_id(&app, "bob").await;
    assert_eq!(
        act(&ada, &slug, bob_id, "role", "owner").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&ada, &slug, ada_id, "role", "admin").await,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn members_cannot_administer_and_outsiders_do_not_see_the_pages() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, _) = acme_with_bob(&app).await;
    let eve = app.signup("eve").await;
    let ada_id = user_id(&app, "ada").await;
    assert_eq!(
        bob.page(&format!("/w/{slug}/admin/members")).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        act(&bob, &slug, ada_id, "deactivate", "").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        eve.page(&format!("/w/{slug}/admin/members")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        eve.page(&format!("/w/{slug}/admin/audit.csv")).await.0,
        StatusCode::NOT_FOUND
    );
    // An unknown role is a clear error that changes nothing.
    let bob_id = user_id(&app, "bob").await;
    let response = ada
        .post_form(
            &format!("/w/{slug}/admin/members/{bob_id}/role"),
            &[("role", "emperor")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("is not a role"));
    // The page lists, searches and filters.
    let (status, page) = ada.page(&format!("/w/{slug}/admin/members?q=bob")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("bob@example.com") && !page.contains("ada@example.com"));
    let (_, page) = ada
        .page(&format!("/w/{slug}/admin/members?role=owner"))
        .await;
    assert!(page.contains("ada@example.com") && !page.contains("bob@example.com"));
}

#[tokio::test]
async fn every_admin_action_is_in_the_audit_log_and_its_csv() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, _) = acme_with_bob(&app).await;
    let bob_id = user_id(&app, "bob").await;
    assert_eq!(
        act(&ada, &slug, bob_id, "role", "admin").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        act(&ada, &slug, bob_id, "deactivate", "").await,
        StatusCode::SEE_OTHER
    );
    let (status, page) = ada.page(&format!("/w/{slug}/admin/audit")).await;
    assert_eq!(status, StatusCode::OK);
    for action in [
        "member.role",
        "member.deactivate",
        "workspace.create",
        "invite.create",
    ] {
        assert!(page.contains(action), "{action}");
    }
    let (_, page) = ada
        .page(&format!("/w/{slug}/admin/audit?action=member.&actor=@ada"))
        .await;
    assert!(page.contains("member.role") && !page.contains("workspace.create"));
    let (status, page) = ada
        .page(&format!("/w/{slug}/admin/audit?from=yesterday"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("a date like"));

    let response = ada
        .get(&format!(
            "/w/{slug}/admin/audit.csv?action=member.&actor=ada"
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "time,actor,action,target");
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[1].contains(",ada,member.deactivate,'@bob"), "{csv}");
    assert!(
        lines[2].contains(",ada,member.role,'@bob: member → admin"),
        "{csv}"
    );
}

#[tokio::test]
async fn removing_a_member_takes_them_out_of_every_channel() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = acme_with_bob(&app).await;
    let bob_id = user_id(&app, "bob").await;
    let (response_status, _) = (act(&ada, &slug, bob_id, "remove", "").await, ());
    assert_eq!(response_status, StatusCode::SEE_OTHER);
    let left: i64 = sqlx::query_scalar(
        "select count(*) from channel_members cm join channels c on c.id = cm.channel_id
         where cm.user_id = $1 and c.workspace_id = $2",
    )
    .bind(bob_id)
    .bind(workspace_id(&app, &slug).await)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(left, 0);
    let response = bob.get(&format!("/w/{slug}/c/{general}")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Invited again, they come back as a new member.
    app.join_by_invite(&ada, &bob, &slug).await;
    let response = bob.get(&format!("/w/{slug}")).await;
    assert_eq!(location(&response), format!("/w/{slug}/c/{general}"));
}

#[tokio::test]
async fn an_archived_channel_is_readable_but_refuses_posts_and_joins_through_every_door() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = acme_with_bob(&app).await;
    let launch = ada.create_channel(&slug, "launch", false).await;
    bob.post_form(&format!("/w/{slug}/c/{launch}/join"), &[])
        .await;
    bob.send(&slug, launch, "before the archive", None).await;
    let archive = format!("/w/{slug}/c/{launch}/manage/archive");
    assert_eq!(
        bob.post_form(&archive, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ada.post_form(&archive, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        ada.post_form(&archive, &[]).await.status(),
        StatusCode::CONFLICT,
        "archived already"
    );

    let (status, page) = bob.page(&format!("/w/{slug}/c/{launch}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("before the archive"), "still readable");
    assert!(page.contains("This channel is archived"));
    assert!(!page.contains("class=\"composer\""), "no composer");
    let (status, _) = bob.try_send(&slug, launch, "after", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let bob_token = token(&app, "bob").await;
    let (_, answer) = api(
        &app,
        &bob_token,
        "chat.postMessage",
        json!({ "channel": format!("C{launch}"), "text": "via the API" }),
    )
    .await;
    assert_eq!(answer["error"], "is_archived");
    let (mut ws, _) = Ws::hello(&app.base, &bob_token, json!({})).await;
    ws.send(
        json!({ "type": "send", "channel_id": launch, "client_msg_id": "a1", "text": "socket" }),
    )
    .await;
    // An archived channel gets no new messages, so sockets do not follow it at all.
    assert_eq!(ws.next_of("error").await["code"], "channel_not_found");
    // #general stays.
    let response = ada
        .post_form(&format!("/w/{slug}/c/{general}/manage/archive"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::CONFLICT);
    assert!(response.text().await.unwrap().contains("#general"));

    // Unarchived through the Web API, by an admin only.
    let (_, answer) = api(
        &app,
        &bob_token,
        "conversations.unarchive",
        json!({ "channel": format!("C{launch}") }),
    )
    .await;
    assert_eq!(answer["error"], "restricted_action");
    let ada_token = token(&app, "ada").await;
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.unarchive",
        json!({ "channel": format!("C{launch}") }),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    bob.send(&slug, launch, "we're back", None).await;
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.archive",
        json!({ "channel": format!("C{general}") }),
    )
    .await;
    assert_eq!(answer["error"], "cant_archive_general");
    // Renamed, and the audit log has it all.
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.rename",
        json!({ "channel": format!("C{launch}"), "name": "Liftoff" }),
    )
    .await;
    assert_eq!(answer["channel"]["name"], "liftoff", "{answer}");
    let (_, answer) = api(
        &app,
        &ada_token,
        "conversations.rename",
        json!({ "channel": format!("C{launch}"), "name": "general" }),
    )
    .await;
    assert_eq!(answer["error"], "name_taken");
    let (_, audit) = ada
        .page(&format!("/w/{slug}/admin/audit?action=channel."))
        .await;
    for action in ["channel.archive", "channel.unarchive", "channel.rename"] {
        assert!(audit.contains(action), "{action}");
    }
}

#[tokio::test]
async fn admins_delete_anyones_message_and_it_is_audited() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = acme_with_bob(&app).await;
    let first = bob.send(&slug, general, "spam one", None).await["seq"]
        .as_i64()
        .unwrap();
    let second = bob.send(&slug, general, "spam two", None).await["seq"]
        .as_i64()
        .unwrap();
    let mine = ada.send(&slug, general, "the owner speaks", None).await["seq"]
        .as_i64()
        .unwrap();
    // The page offers an admin the delete button on others' messages.
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(page.contains(&format!("/messages/{first}/delete")));
    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/{first}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (_, answer) = api(
        &app,
        &token(&app, "ada").await,
        "chat.delete",
        json!({ "channel": format!("C{general}"), "ts": format!("1.{second:06}") }),
    )
    .await;
    assert_eq!(answer["ok"], true, "{answer}");
    let deleted: Vec<i64> = sqlx::query_scalar(
        "select seq from messages where channel_id = $1 and deleted_at is not null order by seq",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(deleted, vec![first, second]);
    // A member may not delete the owner's message, through the page or the API.
    let response = bob
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/{mine}/delete"),
            &[],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let (_, answer) = api(
        &app,
        &token(&app, "bob").await,
        "chat.delete",
        json!({ "channel": format!("C{general}"), "ts": format!("1.{mine:06}") }),
    )
    .await;
    assert_eq!(answer["error"], "cant_delete_message");
    let (_, audit) = ada
        .page(&format!("/w/{slug}/admin/audit?action=message.delete"))
        .await;
    assert_eq!(audit.matches("<code>message.delete</code>").count(), 2);
}

#[tokio::test]
async fn the_command_line_manages_members_and_channels_with_clear_errors() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, _general) = acme_with_bob(&app).await;
    let launch = ada.create_channel(&slug, "launch", false).await;
    bob.post_form(&format!("/w/{slug}/c/{launch}/join"), &[])
        .await;
    let (ok, out) = app.cli(&[
        "member",
        "role",
        "--workspace",
        &slug,
        "--email",
        "bob@example.com",
        "--role",
        "admin",
    ]);
    assert!(ok, "{out}");
    assert!(out.contains("bob@example.com is now admin"), "{out}");
    // The command line is another process: without Redis its events reach this node's
    // sockets through Postgres.
    let mut socket = Ws::with_cookie(&bob, &app.base).await.unwrap();
    socket.send(json!({ "type": "hello", "cursors": {} })).await;
    socket.next_of("ready").await;
    let (ok, out) = app.cli(&[
        "member",
        "deactivate",
        "--workspace",
        &slug,
        "--email",
        "bob@example.com",
    ]);
    assert!(ok, "{out}");
    assert!(socket.next_of("channel.left").await["channel_id"].is_i64());
    assert_eq!(socket.close_code().await, Some(CloseCode::Library(4001)));
    assert_eq!(
        bob.page(&format!("/w/{slug}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (ok, out) = app.cli(&[
        "member",
        "reactivate",
        "--workspace",
        &slug,
        "--email",
        "bob@example.com",
    ]);
    assert!(ok, "{out}");
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{launch}")).await.0,
        StatusCode::OK
    );
    let (ok, out) = app.cli(&[
        "channel",
        "archive",
        "--workspace",
        &slug,
        "--name",
        "launch",
    ]);
    assert!(ok, "{out}");
    let (status, _) = bob.try_send(&slug, launch, "hello?", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (ok, out) = app.cli(&[
        "channel",
        "unarchive",
        "--workspace",
        &slug,
        "--name",
        "#launch",
    ]);
    assert!(ok, "{out}");
    bob.send(&slug, launch, "hello again", None).await;
    // Bad input: one line, a non-zero exit, nothing changed.
    for (args, says) in [
        (
            vec![
                "member",
                "role",
                "--workspace",
                &slug,
                "--email",
                "nobody@example.com",
                "--role",
                "admin",
            ],
            "no active user",
        ),
        (
            vec![
                "member",
                "role",
                "--workspace",
                &slug,
                "--email",
                "bob@example.com",
                "--role",
                "boss",
            ],
            "is not a role",
        ),
        (
            vec![
                "member",
                "role",
                "--workspace",
                &slug,
                "--email",
                "ada@example.com",
                "--role",
                "member",
            ],
            "last owner",
        ),
        (
            vec!["channel", "archive", "--workspace", &slug, "--name", "nope"],
            "no channel named",
        ),
        (
            vec![
                "channel",
                "archive",
                "--workspace",
                &slug,
                "--name",
                "general",
            ],
            "#general",
        ),
    ] {
        let (ok, out) = app.cli(&args);
        assert!(!ok, "{args:?}: {out}");
        assert!(out.contains(says), "{args:?}: {out}");
        assert_eq!(out.trim().lines().count(), 1, "{out}");
    }
    let (_, audit) = ada.page(&format!("/w/{slug}/admin/audit")).await;
    assert!(audit.contains("member.deactivate") && audit.contains("channel.unarchive"));
}

#[tokio::test]
async fn settings_name_who_creates_channels_who_joins_and_how_long_messages_stay() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = acme_with_bob(&app).await;
    let save = |name: &str, creators: &str, domains: &str, days: &str| {
        let fields = [
            ("name", name.to_owned()),
            ("channel_creators", creators.to_owned()),
            ("allowed_domains", domains.to_owned()),
            ("retention_days", days.to_owned()),
        ];
        let path = format!("/w/{slug}/admin/settings");
        let ada = &ada;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            ada.post_form(&path, &fields).await
        }
    };
    // Bad input: said, and nothing stored.
    let refused = save("Acme", "admins", "not a domain", "30").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("is not an email domain")
    );
    let refused = save("Acme", "members", "", "0").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let stored: (String, Vec<String>) =
        sqlx::query_as("select channel_creators, allowed_domains from workspaces where slug = $1")
            .bind(&slug)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, ("members".to_owned(), vec![]));
    let saved = save("Acme Corp", "admins", "Example.com, @example.org", "30").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (_, page) = ada.page(&format!("/w/{slug}/admin/settings")).await;
    assert!(
        page.contains("value=\"example.com, example.org\""),
        "normalised"
    );
    assert_eq!(
        bob.page(&format!("/w/{slug}/admin/settings")).await.0,
        StatusCode::FORBIDDEN
    );

    // Only admins create channels now: the form and the API both refuse bob.
    let refused = bob
        .post_form(&format!("/w/{slug}/channels"), &[("name", "bobs-room")])
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let (_, answer) = api(
        &app,
        &token(&app, "bob").await,
        "conversations.create",
        json!({ "name": "bobs-room" }),
    )
    .await;
    assert_eq!(answer["error"], "restricted_action");
    ada.create_channel(&slug, "admins-room", false).await;

    // Someone with an example.org email joins from the home page, without an invite.
    let carol = app.signup("carol").await;
    let (_, home) = carol.page("/").await;
    assert!(
        home.contains("Workspaces you can join") && home.contains("Acme Corp"),
        "{home}"
    );
    let joined = carol.post_form(&format!("/w/{slug}/join"), &[]).await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        carol.page(&format!("/w/{slug}/c/{general}")).await.0,
        StatusCode::OK
    );

    // Retention: a message older than 30 days is emptied, its seq kept; a new one stays.
    ada.send(&slug, general, "ancient history", None).await;
    ada.send(&slug, general, "fresh news", None).await;
    sqlx::query(
        "update messages set created_at = now() - interval '40 days' where body = 'ancient history'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let purged = natter::workspaces::settings::purge_expired(&app.db)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let rows: Vec<(String, bool)> = sqlx::query_as(
        "select body, deleted_at is not null from messages where channel_id = $1 order by seq",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![("".to_owned(), true), ("fresh news".to_owned(), false)]
    );
    let (_, results) = ada.page(&format!("/w/{slug}/search?q=ancient")).await;
    assert!(!results.contains("ancient history"), "search forgets it");
    let (_, audit) = ada
        .page(&format!("/w/{slug}/admin/audit?action=workspace.settings"))
        .await;
    assert!(audit.contains("retention: 30 days"), "{audit}");
}

#[tokio::test]
async fn making_a_channel_private_hides_it_from_everyone_outside_it() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, _) = acme_with_bob(&app).await;
    let plans = ada.create_channel(&slug, "plans", false).await;
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{plans}")).await.0,
        StatusCode::OK
    );
    let path = format!("/w/{slug}/c/{plans}/manage/private");
    assert_eq!(
        bob.post_form(&path, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        ada.post_form(&path, &[]).await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{plans}")).await.0,
        StatusCode::NOT_FOUND,
        "not a member of what is now private"
    );
    let (_, browse) = bob.page(&format!("/w/{slug}/channels")).await;
    assert!(!browse.contains("plans"));
    assert_eq!(
        ada.post_form(&path, &[]).await.status(),
        StatusCode::CONFLICT,
        "already"
    );
}
