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

/// A picture of `w` × `h`: its left half red, its right half blue.
fn halves(w: u32, h: u32) -> Vec<u8> {
    let image = image::RgbImage::from_fn(w, h, |x, _| {
        if x < w / 2 {
            image::Rgb([255, 0, 0])
        } else {
            image::Rgb([0, 0, 255])
        }
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageRgb8(image)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Png,
        )
        .unwrap();
    bytes
}

/// PNG's chunk checksum (CRC-32, as zlib computes it).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Posts the profile page's picture form: the token first, the square if given, the file.
async fn upload_avatar(
    who: &crate::helpers::Browser,
    bytes: Vec<u8>,
    square: Option<(u32, u32, u32)>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("csrf_token", who.csrf.clone());
    if let Some((x, y, size)) = square {
        form = form
            .text("crop_x", x.to_string())
            .text("crop_y", y.to_string())
            .text("crop_size", size.to_string());
    }
    form = form.part(
        "avatar",
        reqwest::multipart::Part::bytes(bytes).file_name("me.png"),
    );
    who.client
        .post(format!("{}/settings/profile/avatar", who.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

async fn avatar_key(app: &TestApp, username: &str) -> Option<String> {
    sqlx::query_scalar("select avatar_key from users where username = $1")
        .bind(username)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_picture_is_cut_to_the_chosen_square_and_served_small_and_bad_ones_change_nothing() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;

    // The right-hand square of a wide picture: all blue, scaled down to 256 a side.
    let answer = upload_avatar(&ada, halves(1200, 600), Some((600, 0, 600))).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let key = avatar_key(&app, "ada").await.expect("a picture is set");
    let served = bob.get(&format!("/avatars/{key}")).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert!(
        served.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let picture = image::load_from_memory(&served.bytes().await.unwrap())
        .unwrap()
        .to_rgb8();
    assert_eq!(picture.dimensions(), (256, 256));
    let middle = picture.get_pixel(128, 128);
    assert!(middle[2] > 200 && middle[0] < 50, "blue: {middle:?}");
    // Without a square, the middle one: red on the left, blue on the right.
    assert_eq!(
        upload_avatar(&ada, halves(1200, 600), None).await.status(),
        StatusCode::SEE_OTHER
    );
    let second = avatar_key(&app, "ada").await.unwrap();
    assert_ne!(second, key, "a new picture, a new address");
    assert_eq!(
        bob.get(&format!("/avatars/{key}")).await.status(),
        StatusCode::NOT_FOUND,
        "the old picture is gone"
    );
    let picture = image::load_from_memory(
        &bob.get(&format!("/avatars/{second}"))
            .await
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap()
    .to_rgb8();
    assert!(picture.get_pixel(10, 128)[0] > 200 && picture.get_pixel(245, 128)[2] > 200);

    // Users' own words in users.info: Slack's image fields.
    let ada_id = natter::integrations::ids::user_id(user_id(&app, "ada").await);
    let (_, info) = api(
        &app,
        &token(&app, "bob").await,
        "users.info",
        json!({ "user": ada_id }),
    )
    .await;
    assert_eq!(
        info["user"]["profile"]["image_72"],
        format!("{}/avatars/{second}", app.state.config.public_url)
    );

    // Not a picture, a bomb that claims 100,000 × 100,000 pixels, over 10 MB, and nothing at
    // all: each a clear error on the profile page, and the picture stays.
    let mut bomb = halves(8, 8);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let crc = crc32(&bomb[12..29]);
    bomb[29..33].copy_from_slice(&crc.to_be_bytes());
    let mut huge = halves(8, 8);
    huge.resize(11 * 1024 * 1024, 0);
    for (bytes, says) in [
        (b"#!/bin/sh\necho hi\n".to_vec(), "not a picture"),
        (bomb, "too large to open"),
        (huge, "over 10 MB"),
        (Vec::new(), "Choose a picture"),
    ] {
        let answer = upload_avatar(&ada, bytes, None).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{says}");
        let page = answer.text().await.unwrap();
        assert!(page.contains(says), "{says}: {page}");
        assert_eq!(
            avatar_key(&app, "ada").await.as_deref(),
            Some(second.as_str())
        );
    }
    let (_, outsider_view) = app.browser().page(&format!("/avatars/{second}")).await;
    assert!(
        !outsider_view.starts_with("\u{89}PNG"),
        "signed-in readers only"
    );

    // Removing it brings the initials back.
    let removed = ada.post_form("/settings/profile/avatar/remove", &[]).await;
    assert_eq!(removed.status(), StatusCode::SEE_OTHER);
    assert_eq!(avatar_key(&app, "ada").await, None);
    let count: i64 = sqlx::query_scalar("select count(*) from avatars")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_card_opens_for_people_who_share_a_workspace_and_for_no_one_else() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let eve = app.signup("eve").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    app.workspace(&eve, "Elsewhere").await;
    ada.post_form(
        "/settings/profile",
        &[
            ("display_name", "Ada Lovelace"),
            ("title", "Engineer"),
            ("time_zone", "Asia/Tokyo"),
            ("status_emoji", ":palm_tree:"),
            ("status_text", "On holiday"),
            ("status_clears", "never"),
        ],
    )
    .await;
    ada.send(&slug, general, "hello", None).await;
    let ada_id = user_id(&app, "ada").await;

    // Names and pictures in the channel lead to the card.
    let (_, channel) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(channel.contains(&format!(
        "href=\"/people/{ada_id}\" data-user-card=\"{ada_id}\""
    )));
    assert!(channel.contains("🌴"), "the status beside the name");

    let (status, card) = bob.page(&format!("/people/{ada_id}?card=1&w={slug}")).await;
    assert_eq!(status, StatusCode::OK);
    for shown in [
        "Ada Lovelace",
        "@ada",
        "Engineer",
        "🌴",
        "On holiday",
        "Asia/Tokyo",
    ] {
        assert!(card.contains(shown), "{shown}: {card}");
    }
    assert!(
        card.contains(&format!("action=\"/w/{slug}/dms\"")),
        "Message"
    );
    assert!(!card.contains("<html"), "the card alone");
    // Tokyo's time, as Postgres's time zone database has it.
    let tokyo: String =
        sqlx::query_scalar("select to_char(now() at time zone 'Asia/Tokyo', 'HH24:MI')")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(card.contains(&tokyo[..2]), "local time {tokyo}: {card}");

    // Without scripts, a page; from outside the workspace, no one.
    let (status, page) = bob.page(&format!("/people/{ada_id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("<html") && page.contains("Ada Lovelace"));
    let (status, _) = eve.page(&format!("/people/{ada_id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Eve names the workspace she is not in: still no Message button on her own card.
    let eve_id = user_id(&app, "eve").await;
    let (_, own) = eve.page(&format!("/people/{eve_id}?card=1&w={slug}")).await;
    assert!(!own.contains("/dms\"") && own.contains("Edit profile"));
}

#[tokio::test]
async fn a_changed_name_picture_or_status_reaches_watching_sockets_at_once() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let ada_id = user_id(&app, "ada").await;
    let mut socket = crate::ws::Ws::with_cookie(&bob, &app.base).await.unwrap();
    socket.send(json!({ "type": "hello", "cursors": {} })).await;
    socket.next_of("ready").await;
    socket
        .send(json!({ "type": "presence.subscribe", "user_ids": [ada_id] }))
        .await;
    socket.next_of("presence").await;

    ada.post_form(
        "/settings/profile",
        &[
            ("display_name", "Ada L."),
            ("status_emoji", "coffee"),
            ("status_text", "Back soon"),
            ("status_clears", "30m"),
        ],
    )
    .await;
    let frame = socket.next_of("user.updated").await;
    assert_eq!(frame["user_id"], ada_id);
    assert_eq!(frame["name"], "Ada L.");
    assert_eq!(frame["initials"], "AL");
    assert_eq!(frame["status_emoji"], ":coffee:");
    assert_eq!(frame["status_glyph"], "☕");
    assert_eq!(frame["status_text"], "Back soon");
    assert!(frame["status_expiration"].as_i64().unwrap() > 0);
    assert!(frame["avatar_url"].is_null());

    upload_avatar(&ada, halves(64, 64), None).await;
    let frame = socket.next_of("user.updated").await;
    let key = avatar_key(&app, "ada").await.unwrap();
    assert_eq!(frame["avatar_url"], format!("/avatars/{key}"));

    // Through Slack's users.profile.set too.
    api(
        &app,
        &token(&app, "ada").await,
        "users.profile.set",
        json!({ "profile": { "status_text": "", "status_emoji": "" } }),
    )
    .await;
    let frame = socket.next_of("user.updated").await;
    assert_eq!(frame["status_text"], "");
}
