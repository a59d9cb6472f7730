use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::helpers::{Browser, TestApp, user_id};
use crate::ws::{Ws, token};

/// Ada owns a workspace; Bob is in it. Returns both, the slug and #general's id.
async fn two_people(app: &TestApp) -> (Browser, Browser, String, i64) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    (ada, bob, slug, general)
}

/// Sends through the real send path and publishes, without the per-user rate limit (setup).
async fn send_direct(app: &TestApp, user_id: i64, channel_id: i64, text: &str) -> i64 {
    let new = natter::messages::NewMessage::new(channel_id, user_id, text);
    let sent = natter::messages::send(&app.state, new).await.unwrap();
    natter::messages::publish_sent(&app.state, &sent);
    sent.seq()
}

#[tokio::test]
async fn messages_arrive_live_once_and_in_seq_order() {
    let app = TestApp::spawn().await;
    let (_ada, bob, slug, general) = two_people(&app).await;
    let (mut ws, ready) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let channels = ready["channels"].as_array().unwrap();
    assert!(
        channels
            .iter()
            .any(|c| c["id"] == general && c["name"] == "general")
    );
    for n in 1..=20 {
        bob.send(&slug, general, &format!("live {n}"), None).await;
    }
    let frame_seqs = ws.seqs_until(general, 20).await;
    assert_eq!(frame_seqs, (1..=20).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_message_published_ahead_of_its_predecessor_waits_for_it_and_a_lost_one_is_read() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let bob_id = user_id(&app, "bob").await;
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let store = |text: &'static str| {
        let state = app.state.clone();
        async move {
            let new = natter::messages::NewMessage::new(general, bob_id, text);
            natter::messages::send(&state, new).await.unwrap()
        }
    };
    // Two sends that commit in order but publish the other way round (publishers race).
    let (first, second) = (store("first").await, store("second").await);
    natter::messages::publish_sent(&app.state, &second);
    natter::messages::publish_sent(&app.state, &first);
    assert_eq!(ws.seqs_until(general, 2).await, vec![1, 2]);
    // A send whose event is lost: the one after it waits briefly, then the hole is read.
    let (_lost, fourth) = (store("lost").await, store("fourth").await);
    natter::messages::publish_sent(&app.state, &fourth);
    let third = ws.next_of("message").await;
    assert_eq!(
        (third["seq"].as_i64(), third["message"]["text"].as_str()),
        (Some(3), Some("lost"))
    );
    assert_eq!(ws.next_of("message").await["seq"], 4);
}

#[tokio::test]
async fn a_message_frame_carries_the_message_and_its_rendered_html() {
    let app = TestApp::spawn().await;
    let (_ada, bob, slug, general) = two_people(&app).await;
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    bob.send(&slug, general, "hello **there**", Some("abc-1"))
        .await;
    let frame = ws.next_of("message").await;
    assert_eq!(frame["seq"], 1);
    assert_eq!(frame["message"]["text"], "hello **there**");
    assert_eq!(frame["message"]["client_msg_id"], "abc-1");
    assert_eq!(frame["message"]["user_id"], user_id(&app, "bob").await);
    let html = frame["html"].as_str().unwrap();
    assert!(
        html.contains("<strong>there</strong>") && html.contains("id=\"m-1\""),
        "{html}"
    );
    assert!(
        !html.contains("csrf_token"),
        "a shared frame carries nobody's token"
    );
}

#[tokio::test]
async fn resume_sends_what_was_missed_after_the_cursor_then_live() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let bob_id = user_id(&app, "bob").await;
    for n in 1..=30 {
        send_direct(&app, bob_id, general, &format!("while away {n}")).await;
    }
    let (mut ws, _) = Ws::hello(
        &app.base,
        &token(&app, "ada").await,
        json!({ general.to_string(): 12 }),
    )
    .await;
    assert_eq!(
        ws.seqs_until(general, 30).await,
        (13..=30).collect::<Vec<_>>()
    );
    send_direct(&app, bob_id, general, "now live").await;
    assert_eq!(ws.seqs_until(general, 31).await, vec![31]);
}

#[tokio::test]
async fn messages_sent_during_the_catch_up_arrive_once_in_order() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let bob_id = user_id(&app, "bob").await;
    for n in 1..=100 {
        send_direct(&app, bob_id, general, &format!("before {n}")).await;
    }
    let sender = {
        let state = app.state.clone();
        tokio::spawn(async move {
            for n in 1..=150 {
                let text = format!("during {n}");
                let new = natter::messages::NewMessage::new(general, bob_id, &text);
                let sent = natter::messages::send(&state, new).await.unwrap();
                natter::messages::publish_sent(&state, &sent);
            }
        })
    };
    let (mut ws, _) = Ws::hello(
        &app.base,
        &token(&app, "ada").await,
        json!({ general.to_string(): 0 }),
    )
    .await;
    let seqs = ws.seqs_until(general, 250).await;
    sender.await.unwrap();
    assert_eq!(
        seqs,
        (1..=250).collect::<Vec<_>>(),
        "no duplicate and no hole"
    );
    assert!(
        ws.try_next(Duration::from_millis(300))
            .await
            .is_none_or(|f| f["type"] != "message")
    );
}

#[tokio::test]
async fn more_missed_than_the_cap_gets_a_gap_instead() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let bob_id = user_id(&app, "bob").await;
    for n in 1..=510 {
        send_direct(&app, bob_id, general, &format!("m{n}")).await;
    }
    let (mut ws, _) = Ws::hello(
        &app.base,
        &token(&app, "ada").await,
        json!({ general.to_string(): 5 }),
    )
    .await;
    let gap = ws.next_of("gap").await;
    assert_eq!(gap["channel_id"], general);
    assert_eq!(gap["after_seq"], 5);
    send_direct(&app, bob_id, general, "after the gap").await;
    assert_eq!(
        ws.seqs_until(general, 511).await,
        vec![511],
        "live again after the gap, no replay"
    );
}

#[tokio::test]
async fn sending_over_the_socket_is_acknowledged_after_the_commit_and_idempotent() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let (mut bob_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    let (mut ada_ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    ada_ws.send(json!({ "type": "send", "channel_id": general.to_string(), "client_msg_id": "k1", "text": "over the socket" })).await;
    let ack = ada_ws.next_of("ack").await;
    assert_eq!(ack["client_msg_id"], "k1");
    assert_eq!(ack["seq"], 1);
    let stored: String =
        sqlx::query_scalar("select body from messages where channel_id = $1 and seq = 1")
            .bind(general)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, "over the socket");
    ada_ws.send(json!({ "type": "send", "channel_id": general, "client_msg_id": "k1", "text": "over the socket" })).await;
    assert_eq!(
        ada_ws.next_of("ack").await["seq"],
        1,
        "a resend is the same message"
    );
    assert_eq!(bob_ws.seqs_until(general, 1).await, vec![1]);

    ada_ws.send(json!({ "type": "send", "channel_id": general, "client_msg_id": "k2", "text": "x".repeat(40_001) })).await;
    let error = ada_ws.next_of("error").await;
    assert_eq!(error["code"], "msg_too_long");
    assert_eq!(error["client_msg_id"], "k2");
    ada_ws
        .send(json!({ "type": "send", "channel_id": 999_999, "client_msg_id": "k3", "text": "hi" }))
        .await;
    assert_eq!(ada_ws.next_of("error").await["code"], "channel_not_found");
    let count: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn a_malformed_or_unknown_frame_gets_an_error_and_the_socket_stays_open() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, _general) = two_people(&app).await;
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    for bad in [
        "not json",
        r#"{"type":"launch"}"#,
        r#"{"type":"read"}"#,
        r#"{"no":"type"}"#,
        "[]",
    ] {
        ws.send_raw(bad.to_owned()).await;
        assert_eq!(ws.next_of("error").await["code"], "invalid_frame", "{bad}");
    }
    // Still open, and nothing else was said in between: the very next frame is the pong.
    ws.send(json!({ "type": "ping" })).await;
    assert_eq!(ws.next().await, json!({ "type": "pong" }));
}

#[tokio::test]
async fn a_frame_over_64_kib_closes_the_socket_with_1009() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    ws.send(json!({ "type": "send", "channel_id": general, "text": "y".repeat(70_000) }))
        .await;
    assert_eq!(ws.close_code().await, Some(CloseCode::Size));
    let count: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[tokio::test]
async fn cookie_sockets_need_the_sites_origin_and_a_session() {
    let app = TestApp::spawn().await;
    let (ada, _bob, _slug, _general) = two_people(&app).await;
    let refused = Ws::with_cookie(&ada, "http://evil.example").await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("a foreign Origin is refused, got {:?}", other.map(|_| ())),
    }
    let mut ws = Ws::with_cookie(&ada, &app.base)
        .await
        .expect("the site's own Origin is accepted");
    ws.send(json!({ "type": "hello", "cursors": {} })).await;
    assert_eq!(
        ws.next_of("ready").await["user_id"],
        user_id(&app, "ada").await
    );
    let anonymous = Ws::with_cookie(&app.browser(), &app.base).await;
    assert!(
        matches!(anonymous, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == StatusCode::UNAUTHORIZED)
    );
}

#[tokio::test]
async fn no_event_of_a_private_channel_or_dm_reaches_a_non_member() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let eve = app.signup("eve").await;
    app.join_by_invite(&ada, &eve, &slug).await;
    let (mut eve_ws, _) = Ws::hello(&app.base, &token(&app, "eve").await, json!({})).await;
    let secret = ada.create_channel(&slug, "secret", true).await;
    let dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    ada.send(&slug, secret, "private words", None).await;
    bob.send(&slug, dm, "dm words", None).await;
    // A cursor for a channel she is not in resumes nothing.
    let (mut prying, _) = Ws::hello(
        &app.base,
        &token(&app, "eve").await,
        json!({ secret.to_string(): 0, dm.to_string(): 0 }),
    )
    .await;
    ada.send(&slug, general, "public sentinel", None).await;
    for ws in [&mut eve_ws, &mut prying] {
        loop {
            let frame = ws.next().await;
            let text = frame.to_string();
            assert!(
                !text.contains("private words") && !text.contains("dm words"),
                "{text}"
            );
            assert_ne!(frame["channel_id"], secret);
            assert_ne!(frame["channel_id"], dm);
            if frame["type"] == "message" && frame["channel_id"] == general {
                break;
            }
        }
    }
}

#[tokio::test]
async fn joining_and_leaving_take_effect_on_open_sockets_at_once() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let (mut bob_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    let plans = ada.create_channel(&slug, "plans", true).await;
    ada.post_form(
        &format!("/w/{slug}/c/{plans}/members"),
        &[("username", "bob")],
    )
    .await;
    let joined = bob_ws.next_of("channel.joined").await;
    assert_eq!(joined["channel"]["id"], plans);
    assert_eq!(joined["channel"]["name"], "plans");
    ada.send(&slug, plans, "welcome to plans", None).await;
    assert_eq!(bob_ws.seqs_until(plans, 1).await, vec![1]);

    bob.post_form(&format!("/w/{slug}/c/{plans}/leave"), &[])
        .await;
    assert_eq!(bob_ws.next_of("channel.left").await["channel_id"], plans);
    ada.send(&slug, plans, "after bob left", None).await;
    ada.send(&slug, general, "sentinel", None).await;
    loop {
        let frame = bob_ws.next().await;
        assert_ne!(
            frame["channel_id"], plans,
            "nothing of plans after leaving: {frame}"
        );
        if frame["type"] == "message" && frame["channel_id"] == general {
            break;
        }
    }
}

#[tokio::test]
async fn logging_out_closes_the_sockets_of_that_session() {
    let app = TestApp::spawn().await;
    let (ada, _bob, _slug, _general) = two_people(&app).await;
    let mut ws = Ws::with_cookie(&ada, &app.base).await.unwrap();
    ws.send(json!({ "type": "hello", "cursors": {} })).await;
    ws.next_of("ready").await;
    let (mut tool, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    ada.post_form("/logout", &[]).await;
    assert_eq!(ws.close_code().await, Some(CloseCode::Library(4001)));
    tool.send(json!({ "type": "ping" })).await;
    assert_eq!(
        tool.try_next(std::time::Duration::from_secs(5)).await,
        Some(json!({ "type": "pong" })),
        "a token's socket is another session: it stays open and answers"
    );
}

#[tokio::test]
async fn typing_read_and_receipts_reach_the_right_people() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, _general) = two_people(&app).await;
    let dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    let (mut ada_ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let (mut ada_tab2, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let (mut bob_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    bob_ws
        .send(json!({ "type": "typing", "channel_id": dm }))
        .await;
    let typing = ada_ws.next_of("typing").await;
    assert_eq!(typing["user_id"], user_id(&app, "bob").await);
    assert_eq!(typing["name"], "Bob");

    ada.send(&slug, dm, "are you there?", None).await;
    assert_eq!(bob_ws.seqs_until(dm, 1).await, vec![1]);
    bob_ws
        .send(json!({ "type": "delivered", "channel_id": dm, "seq": 1 }))
        .await;
    let receipt = ada_ws.next_of("receipt").await;
    assert_eq!(
        (receipt["status"].as_str(), receipt["seq"].as_i64()),
        (Some("delivered"), Some(1))
    );
    bob_ws
        .send(json!({ "type": "read", "channel_id": dm, "seq": 1 }))
        .await;
    let receipt = ada_ws.next_of("receipt").await;
    assert_eq!(
        (receipt["status"].as_str(), receipt["seq"].as_i64()),
        (Some("seen"), Some(1))
    );

    // Reading in one tab moves the others.
    ada_ws
        .send(json!({ "type": "read", "channel_id": dm, "seq": 1 }))
        .await;
    let read = ada_tab2.next_of("read").await;
    assert_eq!(
        (read["channel_id"].as_i64(), read["seq"].as_i64()),
        (Some(dm), Some(1))
    );
}

#[tokio::test]
async fn presence_is_online_away_and_offline_for_those_who_watch() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, _general) = two_people(&app).await;
    let ada_id = user_id(&app, "ada").await;
    let (mut bob_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    bob_ws
        .send(json!({ "type": "presence.subscribe", "user_ids": [ada_id] }))
        .await;
    assert_eq!(bob_ws.next_of("presence").await["status"], "offline");
    let (mut ada_ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    assert_eq!(bob_ws.next_of("presence").await["status"], "online");
    ada_ws
        .send(json!({ "type": "presence.set", "status": "away" }))
        .await;
    assert_eq!(bob_ws.next_of("presence").await["status"], "away");
    drop(ada_ws);
    assert_eq!(bob_ws.next_of("presence").await["status"], "offline");
}

#[tokio::test]
async fn a_slow_consumer_is_closed_with_4008_while_a_fast_one_keeps_receiving() {
    let app = TestApp::spawn().await;
    let (_ada, _bob, _slug, general) = two_people(&app).await;
    let bob_id = user_id(&app, "bob").await;
    let (mut slow, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let (mut fast, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let total = 1500;
    let reader = tokio::spawn(async move {
        let seqs = fast.seqs_until(general, total).await;
        seqs.len()
    });
    // Big messages fill the slow socket's TCP buffers soon; then its queue overflows.
    let text = "z".repeat(30_000);
    for _ in 0..total {
        send_direct(&app, bob_id, general, &text).await;
    }
    assert_eq!(
        reader.await.unwrap(),
        total as usize,
        "the fast reader got every message"
    );
    let code = loop {
        match tokio::time::timeout(
            Duration::from_secs(10),
            futures_util::StreamExt::next(&mut slow.stream),
        )
        .await
        {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => {
                break frame.map(|f| f.code);
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("the slow socket ends with a close frame, got {other:?}"),
        }
    };
    assert_eq!(code, Some(CloseCode::Library(4008)));
}
