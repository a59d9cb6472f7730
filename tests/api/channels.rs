use reqwest::StatusCode;

use crate::helpers::{TestApp, location, user_id};

fn id_from(location: &str) -> i64 {
    location.rsplit('/').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn public_channels_can_be_created_browsed_joined_topiced_and_left() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let response = ada
        .post_form(
            &format!("/w/{slug}/channels"),
            &[("name", "Launch Plans"), ("topic", "Ship it")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let launch = id_from(&location(&response));

    let (_, html) = bob.page(&format!("/w/{slug}/channels")).await;
    assert!(
        html.contains("launch-plans"),
        "names are normalised and listed"
    );
    assert!(html.contains("Ship it"));
    // A public channel can be read before joining, but not posted to.
    let (status, html) = bob.page(&format!("/w/{slug}/c/{launch}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Join channel"));
    let (status, _) = bob.try_send(&slug, launch, "early", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    bob.post_form(&format!("/w/{slug}/c/{launch}/join"), &[])
        .await;
    let (_, html) = bob.page(&format!("/w/{slug}/c/{launch}")).await;
    assert!(
        html.contains("aria-label=\"Message #launch-plans\""),
        "the composer is labelled"
    );
    bob.post_form(
        &format!("/w/{slug}/c/{launch}/topic"),
        &[("topic", "Ship it on Friday")],
    )
    .await;
    let (_, html) = ada.page(&format!("/w/{slug}/c/{launch}")).await;
    assert!(html.contains("Ship it on Friday"));

    let response = bob
        .post_form(&format!("/w/{slug}/c/{launch}/leave"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (status, _) = bob.try_send(&slug, launch, "still here?", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_duplicate_or_malformed_channel_name_is_explained_and_kept() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let response = ada
        .post_form(&format!("/w/{slug}/channels"), &[("name", "general")])
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("#general already exists")
    );
    let response = ada
        .post_form(
            &format!("/w/{slug}/channels"),
            &[("name", "bad/name"), ("topic", "kept topic")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Channel names take up to 80"));
    assert!(html.contains("value=\"kept topic\""));
}

#[tokio::test]
async fn nobody_can_leave_general() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let response = ada
        .post_form(&format!("/w/{slug}/c/{general}/leave"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn people_added_to_a_private_channel_can_read_and_post() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let response = ada
        .post_form(
            &format!("/w/{slug}/channels"),
            &[("name", "leads"), ("private", "1")],
        )
        .await;
    let leads = id_from(&location(&response));
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{leads}")).await.0,
        StatusCode::NOT_FOUND
    );

    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{leads}/members"),
            &[("username", "@nobody")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("Nobody in this workspace has the username @nobody")
    );
    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{leads}/members"),
            &[("username", "@bob")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        bob.page(&format!("/w/{slug}/c/{leads}")).await.0,
        StatusCode::OK
    );
    let (status, _) = bob
        .try_send(&slug, leads, "thanks for adding me", None)
        .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn the_same_people_always_land_in_the_same_dm() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let cat = app.signup("cat").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    app.join_by_invite(&ada, &cat, &slug).await;
    let (ada_id, bob_id, cat_id) = (
        user_id(&app, "ada").await,
        user_id(&app, "bob").await,
        user_id(&app, "cat").await,
    );

    let first = ada.open_dm(&slug, &[bob_id]).await;
    let again = ada.open_dm(&slug, &[bob_id]).await;
    let from_bob = bob.open_dm(&slug, &[ada_id]).await;
    assert_eq!(first, again);
    assert_eq!(first, from_bob);

    let (ada_picks, cat_picks) = ([bob_id, cat_id], [bob_id, ada_id]);
    let (a, b) = tokio::join!(
        ada.open_dm(&slug, &ada_picks),
        cat.open_dm(&slug, &cat_picks)
    );
    assert_eq!(
        a, b,
        "concurrent openings of one group DM find one conversation"
    );
    assert_ne!(a, first);
    let count: i64 =
        sqlx::query_scalar("select count(*) from channels where kind in ('dm', 'group_dm')")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(count, 2);
    assert_eq!(
        cat.page(&format!("/w/{slug}/c/{first}")).await.0,
        StatusCode::NOT_FOUND,
        "a DM is private to its people"
    );
}

#[tokio::test]
async fn a_group_dm_holds_at_most_eight_other_people() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let mut ids = Vec::new();
    for i in 0..9 {
        let name = format!("p{i}");
        let person = app.signup(&name).await;
        app.join_by_invite(&ada, &person, &slug).await;
        ids.push(user_id(&app, &name).await.to_string());
    }
    let fields: Vec<(&str, &str)> = ids.iter().map(|id| ("user_id", id.as_str())).collect();
    let response = ada.post_form(&format!("/w/{slug}/dms"), &fields).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("up to 8 people besides you")
    );
    let response = ada.post_form(&format!("/w/{slug}/dms"), &fields[..8]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}
