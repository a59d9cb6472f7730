use reqwest::StatusCode;

use crate::helpers::{TestApp, location};

#[tokio::test]
async fn twenty_concurrent_senders_of_fifty_messages_get_seqs_one_to_a_thousand_each_once() {
    let app = TestApp::spawn().await;
    let owner = app.signup("owner").await;
    let (slug, general) = app.workspace(&owner, "Load").await;
    let mut senders = Vec::new();
    for i in 0..20 {
        let sender = app.signup(&format!("sender{i}")).await;
        app.join_by_invite(&owner, &sender, &slug).await;
        senders.push(sender);
    }
    let mut tasks = Vec::new();
    for (i, sender) in senders.into_iter().enumerate() {
        let slug = slug.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for n in 0..50 {
                let (status, body) = sender
                    .try_send(&slug, general, &format!("message {n} from {i}"), None)
                    .await;
                assert_eq!(status, StatusCode::CREATED, "{body}");
                seqs.push(body["seq"].as_i64().unwrap());
            }
            seqs
        }));
    }
    let mut seqs = Vec::new();
    for task in tasks {
        let mine = task.await.unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "one sender's seqs only grow"
        );
        seqs.extend(mine);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=1000).collect::<Vec<i64>>());
    let stored: Vec<i64> =
        sqlx::query_scalar("select seq from messages where channel_id = $1 order by seq")
            .bind(general)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, (1..=1000).collect::<Vec<i64>>());
    let last_seq: i64 = sqlx::query_scalar("select last_seq from channels where id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(last_seq, 1000);
}

#[tokio::test]
async fn posting_twice_with_the_same_client_msg_id_stores_one_message() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let (first_status, first) = ada
        .try_send(&slug, general, "hello once", Some("c-123"))
        .await;
    let (second_status, second) = ada
        .try_send(&slug, general, "hello once", Some("c-123"))
        .await;
    assert_eq!(first_status, StatusCode::CREATED);
    assert_eq!(
        second_status,
        StatusCode::OK,
        "a retry is answered, not created"
    );
    assert_eq!(first["seq"], second["seq"]);
    // Concurrent retries too.
    let (a, b) = tokio::join!(
        ada.try_send(&slug, general, "raced", Some("c-456")),
        ada.try_send(&slug, general, "raced", Some("c-456"))
    );
    assert_eq!(a.1["seq"], b.1["seq"]);
    let count: i64 = sqlx::query_scalar("select count(*) from messages where channel_id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 2);
    let last_seq: i64 = sqlx::query_scalar("select last_seq from channels where id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(last_seq, 2, "no seq was spent on the retries");
}

#[tokio::test]
async fn a_message_over_forty_thousand_characters_is_refused_and_nothing_is_stored() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let huge = "é".repeat(40_001);
    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages"),
            &[("text", &huge)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = response.text().await.unwrap();
    assert!(html.contains("Messages can be up to 40,000 characters; this one has 40001"));
    assert!(
        html.contains(&"é".repeat(100)),
        "the draft is kept in the composer"
    );
    let (status, body) = ada
        .try_send(&slug, general, &"x".repeat(40_001), None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["ok"], false);
    let (status, _) = ada
        .try_send(&slug, general, &"x".repeat(40_000), None)
        .await;
    assert_eq!(status, StatusCode::CREATED, "exactly 40,000 is allowed");
    let seqs: Vec<i64> = sqlx::query_scalar("select seq from messages where channel_id = $1")
        .bind(general)
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        seqs,
        vec![1],
        "only the allowed message is stored, at seq 1"
    );
}

#[tokio::test]
async fn an_empty_message_is_refused_with_a_clear_message() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let (status, body) = ada.try_send(&slug, general, "   \n ", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"], "Write something before sending.");
}

#[tokio::test]
async fn editing_and_deleting_your_own_message_keeps_seqs_gapless() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    ada.send(&slug, general, "first draft", None).await;
    ada.send(&slug, general, "to be deleted", None).await;
    ada.send(&slug, general, "third", None).await;

    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/1/edit"),
            &[("text", "final *text*")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let response = ada
        .post_form(&format!("/w/{slug}/c/{general}/messages/2/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);

    let (_, html) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(html.contains("final <em>text</em>"));
    assert!(html.contains("(edited)"));
    assert!(!html.contains("first draft"));
    assert!(!html.contains("to be deleted"));
    assert!(html.contains("This message was deleted."));
    let seqs: Vec<i64> =
        sqlx::query_scalar("select seq from messages where channel_id = $1 order by seq")
            .bind(general)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(seqs, vec![1, 2, 3], "the tombstone keeps seq 2");

    // Someone else's message cannot be edited or deleted.
    let response = bob
        .post_form(
            &format!("/w/{slug}/c/{general}/messages/3/edit"),
            &[("text", "hijacked")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = bob
        .post_form(&format!("/w/{slug}/c/{general}/messages/3/delete"), &[])
        .await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: String =
        sqlx::query_scalar("select body from messages where channel_id = $1 and seq = 3")
            .bind(general)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(body, "third");
}

#[tokio::test]
async fn history_pages_back_by_seq() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    // Two writers, so that neither meets the per-user send limit.
    for n in 1..=60 {
        let writer = if n % 2 == 0 { &ada } else { &bob };
        let (status, _) = writer
            .try_send(&slug, general, &format!("note number {n}."), None)
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(html.contains("note number 60."));
    assert!(html.contains("note number 11."));
    assert!(
        !html.contains("note number 10."),
        "the newest page holds 50 messages"
    );
    assert!(html.contains(&format!("href=\"/w/{slug}/c/{general}?before=11\"")));

    let (_, older) = ada.page(&format!("/w/{slug}/c/{general}?before=11")).await;
    assert!(older.contains("note number 1."));
    assert!(older.contains("note number 10."));
    assert!(!older.contains("note number 11."));
    assert!(older.contains("This is the very beginning of #general"));

    let response = ada
        .get(&format!("/w/{slug}/c/{general}/messages?before=5&limit=3"))
        .await;
    let json: serde_json::Value = response.json().await.unwrap();
    let seqs: Vec<i64> = json["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, vec![2, 3, 4]);
    assert_eq!(json["older_before"], 2);
    assert!(
        json["messages"][0]["html"]
            .as_str()
            .unwrap()
            .contains("note number 2.")
    );
}

#[tokio::test]
async fn mentions_are_stored_for_channel_members_and_highlighted() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    ada.send(
        &slug,
        general,
        "hey @Bob and @nobody, see `@bob` in code",
        None,
    )
    .await;
    let mentioned: Vec<(i64, i64)> = sqlx::query_as(
        "select m.user_id, m.seq from mentions m join users u on u.id = m.user_id where u.username = 'bob'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(mentioned.len(), 1);
    assert_eq!(mentioned[0].1, 1);
    let (_, html) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(html.contains("<span class=\"mention\">@bob</span>"));
}

#[tokio::test]
async fn a_form_post_redirects_back_to_the_channel() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let response = ada
        .post_form(
            &format!("/w/{slug}/c/{general}/messages"),
            &[("text", "no script needed"), ("client_msg_id", "form-1")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&response), format!("/w/{slug}/c/{general}"));
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(html.contains("no script needed"));
}

#[tokio::test]
async fn a_flood_of_sends_is_rate_limited_with_a_clear_message_and_nothing_half_stored() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let mut limited = None;
    for n in 0..80 {
        let (status, body) = ada
            .try_send(&slug, general, &format!("flood {n}"), None)
            .await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(body);
            break;
        }
        assert_eq!(status, StatusCode::CREATED);
    }
    let body = limited.expect("a burst of 80 sends meets the limit");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("You are sending messages too fast."),
        "{body}"
    );
    let (count, last_seq): (i64, i64) = sqlx::query_as(
        "select (select count(*) from messages where channel_id = $1), (select last_seq from channels where id = $1)",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        count, last_seq,
        "every seq taken belongs to a stored message"
    );
}
