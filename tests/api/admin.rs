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
