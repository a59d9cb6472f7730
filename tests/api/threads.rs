//! Threads, reactions, pins, saves and mentions of many, driven through the browser's forms,
//! the socket and the Web API against a real server and Postgres.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{self, Browser, TestApp, api, user_id};
use crate::ws::{Ws, token};

async fn two_people(app: &TestApp) -> (Browser, Browser, String, i64) {
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    (ada, bob, slug, general)
}

/// Replies through the browser's form, as the page's script posts it; returns the JSON answer.
async fn reply(
    who: &Browser,
    slug: &str,
    channel_id: i64,
    root: i64,
    text: &str,
    broadcast: bool,
) -> (StatusCode, serde_json::Value) {
    let root = root.to_string();
    let mut form = vec![
        ("csrf_token", who.csrf.as_str()),
        ("text", text),
        ("thread_root_seq", root.as_str()),
    ];
    if broadcast {
        form.push(("broadcast", "1"));
    }
    let response = who
        .client
        .post(format!("{}/w/{slug}/c/{channel_id}/messages", who.base))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// Toggles a reaction through the browser's form, asking for JSON; returns the status.
async fn react(who: &Browser, slug: &str, channel: i64, seq: i64, name: &str) -> StatusCode {
    who.client
        .post(format!(
            "{}/w/{slug}/c/{channel}/messages/{seq}/reactions",
            who.base
        ))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(&[("csrf_token", who.csrf.as_str()), ("name", name)])
        .send()
        .await
        .unwrap()
        .status()
}

fn seq_of(answer: &serde_json::Value) -> i64 {
    answer["seq"].as_i64().expect("a stored message has a seq")
}

#[tokio::test]
async fn replies_are_not_channel_unread_broadcasts_are_and_followers_count_theirs() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let random = ada.create_channel(&slug, "random", false).await;
    bob.post_form(&format!("/w/{slug}/c/{random}/join"), &[])
        .await;
    let root = seq_of(&bob.send(&slug, general, "Lunch at noon?", None).await);
    bob.page(&format!("/w/{slug}/c/{random}")).await;
    assert_eq!(ada.sidebar_entry(&slug, random, general).await, (1, 0));
    ada.page(&format!("/w/{slug}/c/{general}")).await;

    // Three replies by Ada, one mentioning Bob: none is unread in #general for Bob, and the
    // mention is his thread's, not the channel's badge.
    for text in ["Yes", "@bob bring the menu", "See you there"] {
        let (status, _) = reply(&ada, &slug, general, root, text, false).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (0, 0));
    let (_, html) = bob.page(&format!("/w/{slug}/c/{random}")).await;
    assert!(
        html.contains("id=\"threads-link\"")
            && helpers::between(&html, "sidebar-link", "id=\"threads-link\"")
                .is_some_and(|s| s.contains("unread")),
        "Bob started the thread, so he follows it and the sidebar shows unread replies"
    );
    let (_, threads) = bob.page(&format!("/w/{slug}/threads")).await;
    assert!(
        threads.contains("3 unread replies") || threads.contains(">3</span> unread replies"),
        "{}",
        helpers::shown(&threads)
    );

    // A broadcast reply counts in the channel, like any top-level message.
    let (status, _) = reply(&ada, &slug, general, root, "Moved to 12:30", true).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (1, 0));

    // The stored numbers behind it: one subtraction each, no rows counted.
    let bob_id = user_id(&app, "bob").await;
    let (shown_total, read_shown, last_seq): (i64, i64, i64) = sqlx::query_as(
        "select c.shown_total, cm.read_shown, c.last_seq from channels c
         join channel_members cm on cm.channel_id = c.id where c.id = $1 and cm.user_id = $2",
    )
    .bind(general)
    .bind(bob_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((shown_total - read_shown, last_seq), (1, root + 4));

    // Opening the thread reads it; opening the channel reads the broadcast.
    let (status, panel) = bob
        .page(&format!("/w/{slug}/c/{general}?thread={root}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    let panel = helpers::shown(&panel);
    assert!(
        panel.contains("New replies") && panel.contains("4 replies"),
        "{panel}"
    );
    assert!(
        panel.find("Lunch at noon?").unwrap() < panel.find("bring the menu").unwrap(),
        "the root comes first, then the replies in order"
    );
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (0, 0));
    let (_, threads) = bob.page(&format!("/w/{slug}/threads")).await;
    assert!(
        !threads.contains("unread replies"),
        "{}",
        helpers::shown(&threads)
    );

    // The channel page shows the root's summary and the broadcast, not the plain replies.
    let (_, page) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    let page = helpers::shown(&page);
    let channel_part = page.split("thread-panel").next().unwrap();
    assert!(channel_part.contains("4 replies"), "{channel_part}");
    assert!(channel_part.contains("Moved to 12:30"));
    assert!(!channel_part.contains("See you there"));
}

#[tokio::test]
async fn the_unread_count_is_two_stored_numbers_whatever_the_channel_holds() {
    // The sidebar's statement reads `shown_total - read_shown`: its plan touches one row of
    // channels and one of channel_members per conversation, never messages.
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, general) = two_people(&app).await;
    for n in 0..30 {
        ada.send(&slug, general, &format!("message {n}"), None)
            .await;
    }
    let plan: Vec<String> = sqlx::query_scalar(
        "explain select greatest(c.shown_total - cm.read_shown, 0)
         from channel_members cm join channels c on c.id = cm.channel_id
         where cm.user_id = 1 and c.id = $1",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let plan = plan.join("\n");
    assert!(!plan.contains("messages"), "{plan}");
}

#[tokio::test]
async fn concurrent_replies_number_themselves_in_seq_order_without_gaps() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, general) = two_people(&app).await;
    let root = seq_of(&ada.send(&slug, general, "Standup thread", None).await);
    // 32 replies at once, through the send statement every door uses.
    let (ada_id, bob_id) = (user_id(&app, "ada").await, user_id(&app, "bob").await);
    let mut tasks = Vec::new();
    for n in 0..32 {
        let state = app.state.clone();
        let user = if n % 2 == 0 { ada_id } else { bob_id };
        tasks.push(tokio::spawn(async move {
            let text = format!("threaded {n}");
            let new = natter::messages::NewMessage::new(general, user, &text)
                .in_thread(Some(root), false);
            natter::messages::send(&state, new).await.unwrap().seq()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let replies: Vec<(i64, i32)> = sqlx::query_as(
        "select seq, reply_index from messages where channel_id = $1 and thread_root_seq = $2
         order by seq",
    )
    .bind(general)
    .bind(root)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(replies.len(), 32);
    for (i, (_, index)) in replies.iter().enumerate() {
        assert_eq!(
            *index,
            i as i32 + 1,
            "reply indexes follow seqs: {replies:?}"
        );
    }
    let seqs: Vec<i64> =
        sqlx::query_scalar("select seq from messages where channel_id = $1 order by seq")
            .bind(general)
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "the log stays gapless"
    );
    let (count, users, latest): (i32, Vec<i64>, i64) = sqlx::query_as(
        "select reply_count, reply_users, latest_reply_seq from threads
         where channel_id = $1 and root_seq = $2",
    )
    .bind(general)
    .bind(root)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(count, 32);
    assert_eq!(
        {
            let mut u = users.clone();
            u.sort();
            u
        },
        {
            let mut u = vec![ada_id, bob_id];
            u.sort();
            u
        }
    );
    assert_eq!(latest, replies.last().unwrap().0);
}

#[tokio::test]
async fn concurrent_reactions_leave_one_per_person_per_emoji() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, general) = two_people(&app).await;
    let seq = seq_of(&ada.send(&slug, general, "Ship it?", None).await);
    let ada_id = user_id(&app, "ada").await;
    // Twenty adds of one person's :tada: at once: one wins, the rest are already_reacted.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let state = app.state.clone();
        tasks.push(tokio::spawn(async move {
            natter::messages::reactions::add(&state, general, seq, ada_id, "tada").await
        }));
    }
    let mut added = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(change) => {
                added += 1;
                assert_eq!(change.count, 1);
            }
            Err(e) => assert_eq!(e.code(), "already_reacted"),
        }
    }
    assert_eq!(added, 1);
    // Twenty people's :+1: at once (by two names of one emoji): twenty rows, counted 1..20.
    let mut people = Vec::new();
    for n in 0..20 {
        let browser = app.signup(&format!("p{n}")).await;
        app.join_by_invite(&ada, &browser, &slug).await;
        people.push(user_id(&app, &format!("p{n}")).await);
    }
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let mut tasks = Vec::new();
    for (n, user) in people.iter().copied().enumerate() {
        let state = app.state.clone();
        let name = if n % 2 == 0 { "thumbsup" } else { "+1" };
        tasks.push(tokio::spawn(async move {
            natter::messages::reactions::add(&state, general, seq, user, name)
                .await
                .unwrap()
                .count
        }));
    }
    // Each add succeeds; the count each saw is its own statement's, but the frames read it
    // afresh after the commits, so the last one says 20.
    for task in tasks {
        assert!((1..=20).contains(&task.await.unwrap()));
    }
    let mut last = 0;
    while last < 20 {
        let frame = ws.next_of("reaction.added").await;
        assert_eq!(frame["name"], "+1");
        last = frame["count"].as_i64().unwrap();
    }
    assert_eq!(last, 20);
    let stored: Vec<(String, i64)> = sqlx::query_as(
        "select name, count(*) from reactions where channel_id = $1 and seq = $2 group by name order by name",
    )
    .bind(general)
    .bind(seq)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, vec![("+1".to_owned(), 20), ("tada".to_owned(), 1)]);
    // The key itself refuses a second row, whatever code tried.
    let twice = sqlx::query(
        "insert into reactions (channel_id, seq, name, user_id) values ($1, $2, 'tada', $3)",
    )
    .bind(general)
    .bind(seq)
    .bind(ada_id)
    .execute(&app.db)
    .await;
    assert!(twice.is_err());
}

#[tokio::test]
async fn bad_replies_and_reactions_get_clear_answers_and_store_nothing() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let root = seq_of(&ada.send(&slug, general, "Root", None).await);
    let (_, first) = reply(&ada, &slug, general, root, "First reply", false).await;
    let first = seq_of(&first);
    let gone = seq_of(&ada.send(&slug, general, "Soon deleted", None).await);
    ada.post_form(
        &format!("/w/{slug}/c/{general}/messages/{gone}/delete"),
        &[],
    )
    .await;
    let private = ada.create_channel(&slug, "secret", true).await;
    let secret_root = seq_of(&ada.send(&slug, private, "Private root", None).await);
    let count = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from messages")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let before = count().await;

    let (status, body) = reply(&ada, &slug, general, 999, "to nothing", false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("That thread is gone"), "{body}");
    let (status, _) = reply(&ada, &slug, general, gone, "to a deleted root", false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = reply(&ada, &slug, general, first, "to a reply", false).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.to_string().contains("cannot have replies"), "{body}");
    let (status, _) = reply(&bob, &slug, private, secret_root, "not my channel", false).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Over the socket: the same reasons, as error frames for the send.
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    ws.send(
        json!({"type": "send", "channel_id": general, "client_msg_id": "r1", "text": "x",
                   "thread_root_seq": first}),
    )
    .await;
    let error = ws.next_of("error").await;
    assert_eq!(
        (error["code"].as_str(), error["client_msg_id"].as_str()),
        (Some("cannot_reply_to_message"), Some("r1"))
    );

    // Reactions: an unknown emoji, a reaction on a message of another channel or one not
    // there, and one by someone outside a private channel.
    assert_eq!(
        react(&ada, &slug, general, root, "no_such_emoji").await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        react(&ada, &slug, general, 999, "tada").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        react(&ada, &slug, general, gone, "tada").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        react(&bob, &slug, private, secret_root, "tada").await,
        StatusCode::NOT_FOUND
    );
    let tok = token(&app, "bob").await;
    let (_, answer) = api(
        &app,
        &tok,
        "reactions.add",
        json!({"channel": format!("G{private}"), "timestamp": "1.000001", "name": "tada"}),
    )
    .await;
    assert_eq!(answer["error"], "channel_not_found");

    assert_eq!(count().await, before, "nothing was stored");
    let reactions: i64 = sqlx::query_scalar("select count(*) from reactions")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(reactions, 0);
}

#[tokio::test]
async fn replies_reactions_and_pins_reach_sockets_live() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let root = seq_of(&ada.send(&slug, general, "Who's in?", None).await);
    let (mut ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    let (status, answer) = reply(&bob, &slug, general, root, "Me", false).await;
    assert_eq!(status, StatusCode::CREATED);
    let seq = seq_of(&answer);
    let message = ws.next_of("message").await;
    assert_eq!(message["message"]["thread_root_seq"], root);
    assert_eq!(message["seq"], seq);
    let updated = ws.next_of("thread.updated").await;
    assert_eq!(
        (
            updated["root_seq"].as_i64(),
            updated["reply_count"].as_i64()
        ),
        (Some(root), Some(1))
    );
    assert!(updated["html"].as_str().unwrap().contains("1 reply"));
    // Ada started the thread: she hears she has a reply to read.
    let unread = ws.next_of("thread.unread").await;
    assert_eq!(
        (unread["root_seq"].as_i64(), unread["unread"].as_i64()),
        (Some(root), Some(1))
    );

    bob.post_form(
        &format!("/w/{slug}/c/{general}/messages/{root}/reactions"),
        &[("name", ":tada:")],
    )
    .await;
    let added = ws.next_of("reaction.added").await;
    assert_eq!(
        (
            added["name"].as_str(),
            added["count"].as_i64(),
            added["glyph"].as_str()
        ),
        (Some("tada"), Some(1), Some("🎉"))
    );
    assert_eq!(added["title"], "Bob reacted with :tada:");
    bob.post_form(
        &format!("/w/{slug}/c/{general}/messages/{root}/reactions"),
        &[("name", "tada")],
    )
    .await;
    let removed = ws.next_of("reaction.removed").await;
    assert_eq!(removed["count"], 0);

    bob.post_form(
        &format!("/w/{slug}/c/{general}/messages/{root}/pin"),
        &[("pin", "1")],
    )
    .await;
    assert_eq!(ws.next_of("pin.added").await["seq"], root);
    let (_, pins) = ada.page(&format!("/w/{slug}/c/{general}/pins")).await;
    assert!(
        pins.contains("Who&#x27;s in?") || pins.contains("Who's in?"),
        "{pins}"
    );
    let (_, details) = ada.page(&format!("/w/{slug}/c/{general}/details")).await;
    let pinned = helpers::between(&details, "<h3>Pinned</h3>", "</section>").unwrap();
    assert!(
        pinned.contains(&format!("?around={root}#m-{root}")),
        "{pinned}"
    );
    // The picker's "Frequently used" is the reader's own reactions, most used first.
    for seq in [root, seq] {
        bob.post_form(
            &format!("/w/{slug}/c/{general}/messages/{seq}/reactions"),
            &[("name", "eyes")],
        )
        .await;
    }
    bob.post_form(
        &format!("/w/{slug}/c/{general}/messages/{root}/reactions"),
        &[("name", "fire")],
    )
    .await;
    let frequent: serde_json::Value = bob
        .get(&format!("/w/{slug}/emoji/frequent"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(frequent["names"], json!(["eyes", "fire"]));

    ada.post_form(
        &format!("/w/{slug}/c/{general}/messages/{seq}/save"),
        &[("save", "1")],
    )
    .await;
    assert_eq!(ws.next_of("saved").await["saved"], true);
    let (_, saved) = ada.page(&format!("/w/{slug}/saved")).await;
    assert!(saved.contains("Me") && saved.contains(&format!("?thread={root}#t-{seq}")));

    // Deleting the reply shows one reply fewer; deleting the root keeps the thread.
    bob.post_form(&format!("/w/{slug}/c/{general}/messages/{seq}/delete"), &[])
        .await;
    assert_eq!(ws.next_of("thread.updated").await["reply_count"], 0);
    reply(&bob, &slug, general, root, "Me after all", false).await;
    ada.post_form(
        &format!("/w/{slug}/c/{general}/messages/{root}/delete"),
        &[],
    )
    .await;
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    let page = helpers::shown(&page);
    assert!(
        page.contains("This message was deleted") && page.contains("1 reply"),
        "{page}"
    );
    let (status, panel) = ada
        .page(&format!("/w/{slug}/c/{general}?thread={root}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(panel.contains("Me after all"));
}

#[tokio::test]
async fn here_channel_and_everyone_mention_the_members_within_the_workspace_limit() {
    let app = TestApp::spawn().await;
    let (ada, bob, slug, general) = two_people(&app).await;
    let carol = app.signup("carol").await;
    app.join_by_invite(&ada, &carol, &slug).await;
    let random = ada.create_channel(&slug, "random", false).await;
    for who in [&bob, &carol] {
        who.post_form(&format!("/w/{slug}/c/{random}/join"), &[])
            .await;
        who.page(&format!("/w/{slug}/c/{random}")).await;
    }

    // @channel (and Slack's <!channel> from a bot) mention everyone in it.
    ada.send(&slug, general, "@channel release at 5", None)
        .await;
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (1, 1));
    assert_eq!(carol.sidebar_entry(&slug, random, general).await, (1, 1));
    assert_eq!(ada.sidebar_entry(&slug, random, general).await, (0, 0));

    // @here: only those online (Bob has a socket open, Carol has none).
    let (_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    for who in [&bob, &carol] {
        who.page(&format!("/w/{slug}/c/{general}")).await;
    }
    ada.send(&slug, general, "@here standup now", None).await;
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (1, 1));
    assert_eq!(carol.sidebar_entry(&slug, random, general).await, (1, 0));

    // Slack's <!channel> from a webhook mentions everyone too.
    for who in [&bob, &carol] {
        who.page(&format!("/w/{slug}/c/{general}")).await;
    }
    let hook = natter::integrations::create_webhook(
        &app.db,
        helpers::workspace_id(&app, &slug).await,
        general,
        "CI",
        user_id(&app, "ada").await,
    )
    .await
    .unwrap();
    let answer = reqwest::Client::new()
        .post(format!("{}/hooks/{hook}", app.base))
        .json(&json!({ "text": "<!channel> deploy at 5" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(bob.sidebar_entry(&slug, random, general).await, (1, 1));
    assert_eq!(carol.sidebar_entry(&slug, random, general).await, (1, 1));

    // A limit of 2 members: in #general (3 members) only admins may; Bob gets a clear refusal.
    let saved = ada
        .post_form(
            &format!("/w/{slug}/admin/settings"),
            &[
                ("name", "Acme"),
                ("channel_creators", "members"),
                ("allowed_domains", ""),
                ("retention_days", ""),
                ("mention_all_limit", "2"),
            ],
        )
        .await;
    assert!(saved.status().is_redirection(), "{}", saved.status());
    let (_, audit) = ada.page(&format!("/w/{slug}/admin/audit")).await;
    assert!(audit.contains("admins only in channels over 2 members"));
    let (status, body) = bob.try_send(&slug, general, "@everyone cake!", None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body.to_string().contains("more than 2 members"), "{body}");
    ada.send(&slug, general, "@everyone cake (admin)", None)
        .await;
    let dm = bob.open_dm(&slug, &[user_id(&app, "ada").await]).await;
    bob.send(&slug, dm, "@here in a small conversation is fine", None)
        .await;

    // Nobody may take the words as a username.
    let mut visitor = app.browser();
    visitor.refresh_csrf("/signup").await;
    let response = visitor
        .post_form(
            "/signup",
            &[
                ("email", "h@example.com"),
                ("username", "here"),
                ("name", "H"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("@here, @channel and @everyone")
    );
}

#[tokio::test]
async fn search_finds_replies_narrows_to_threads_and_opens_the_thread() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, general) = two_people(&app).await;
    let root = seq_of(&ada.send(&slug, general, "Budget planning", None).await);
    let (_, answer) = reply(
        &ada,
        &slug,
        general,
        root,
        "The zeppelin costs too much",
        false,
    )
    .await;
    let seq = seq_of(&answer);
    ada.send(&slug, general, "zeppelin at the top level", None)
        .await;
    app.search_settled().await;
    let (_, all) = ada.page(&format!("/w/{slug}/search?q=zeppelin")).await;
    assert!(all.contains("2 results"), "{}", helpers::shown(&all));
    let (_, threads) = ada
        .page(&format!("/w/{slug}/search?q=zeppelin+is:thread"))
        .await;
    assert!(threads.contains("1 result"), "{}", helpers::shown(&threads));
    assert!(
        threads.contains(&format!("?thread={root}#t-{seq}")),
        "{}",
        helpers::shown(&threads)
    );
    let (_, bad) = ada.page(&format!("/w/{slug}/search?q=is:nothing")).await;
    assert!(bad.contains("is:nothing is not a filter"));
}

#[tokio::test]
async fn emoji_shortcodes_render_in_messages_and_the_catalogue_is_served() {
    let app = TestApp::spawn().await;
    let (ada, _bob, slug, general) = two_people(&app).await;
    ada.send(
        &slug,
        general,
        "Shipped :rocket: at 10:30, `:rocket:` stays in code",
        None,
    )
    .await;
    let (_, page) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(
        page.contains("Shipped 🚀 at 10:30"),
        "{}",
        helpers::shown(&page)
    );
    assert!(page.contains("<code>:rocket:</code>"));
    let catalogue = ada.get("/emoji.json").await;
    assert_eq!(catalogue.status(), StatusCode::OK);
    let rows: Vec<Vec<String>> = catalogue.json().await.unwrap();
    assert!(rows.len() > 1500, "the whole standard set: {}", rows.len());
    assert!(rows.iter().any(|r| r[0] == "🎉" && r[1] == "tada"));
}
