use crate::helpers::{self, TestApp, user_id};

#[tokio::test]
async fn unread_and_mention_counts_follow_sends_opening_and_posting_yourself() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let random = ada.create_channel(&slug, "random", false).await;
    bob.post_form(&format!("/w/{slug}/c/{random}/join"), &[])
        .await;

    // Three messages in #general, one mentioning bob; bob looks from #random.
    ada.send(&slug, general, "morning all", None).await;
    ada.send(&slug, general, "@bob can you review?", None).await;
    ada.send(&slug, general, "thanks", None).await;
    assert_eq!(
        bob.sidebar_entry(&slug, random, general).await,
        (3, 1),
        "3 unread, 1 mention"
    );
    assert_eq!(
        ada.sidebar_entry(&slug, random, general).await,
        (0, 0),
        "the sender has read her own"
    );

    // Opening the channel shows the line at bob's last_read_seq, then moves it.
    let (_, html) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    let html = helpers::shown(&html);
    let line = html
        .find("New messages")
        .expect("the New messages line is shown");
    let first_unread = html.find("morning all").unwrap();
    assert!(
        line < first_unread,
        "the line sits above the first unread message"
    );
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (0, 0));
    let (_, html) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        !helpers::shown(&html).contains("id=\"new\""),
        "nothing is new on a second visit"
    );

    // A new mention, then bob posts himself: posting moves his read point past it.
    ada.send(&slug, general, "@bob one more thing", None).await;
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (1, 1));
    bob.send(&slug, general, "on it", None).await;
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (0, 0));
    let (last_read, last_seq): (i64, i64) = sqlx::query_as(
        "select cm.last_read_seq, c.last_seq from channel_members cm join channels c on c.id = cm.channel_id
         where c.id = $1 and cm.user_id = $2",
    )
    .bind(general)
    .bind(user_id(&app, "bob").await)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((last_read, last_seq), (5, 5));
}

#[tokio::test]
async fn every_unread_message_in_a_dm_counts_in_its_badge() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    ada.send(&slug, dm, "hi bob", None).await;
    ada.send(&slug, dm, "are you there?", None).await;
    let (_, html) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert_eq!(crate::helpers::sidebar_entry(&html, dm), (2, 2));
    assert!(
        html.contains(">Ada</span>"),
        "the DM is named after the other person"
    );
    bob.page(&format!("/w/{slug}/c/{dm}")).await;
    assert_eq!(bob.sidebar_entry(&slug, general, dm).await, (0, 0));
}

#[tokio::test]
async fn marking_read_only_moves_forward() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    for n in 0..4 {
        ada.send(&slug, general, &format!("m{n}"), None).await;
    }
    let path = format!("/w/{slug}/c/{general}/read");
    for (seq, expected, why) in [
        ("3", 3, "forward"),
        ("1", 3, "never backwards"),
        ("99", 4, "never past the last message"),
    ] {
        let answer: serde_json::Value = bob
            .post_form(&path, &[("seq", seq)])
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(answer["last_read_seq"], expected, "{why}");
    }
}
