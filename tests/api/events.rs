//! Outgoing events to a real HTTP receiver started by the test.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use crate::helpers::TestApp;

#[derive(Clone, Default)]
struct Receiver {
    /// (headers, body) of every request, in arrival order.
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// The bodies of the event callbacks it accepted, in arrival order.
    accepted: Arc<Mutex<Vec<String>>>,
    /// How many event callbacks to fail with a 500 before accepting.
    failures_left: Arc<Mutex<u32>>,
    /// Whether event callbacks are never answered (the challenge still is).
    hangs: bool,
}

async fn receive(
    State(receiver): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    let text = String::from_utf8_lossy(&body).into_owned();
    receiver.seen.lock().unwrap().push((headers, text.clone()));
    let json: Value = serde_json::from_str(&text).unwrap_or_default();
    if json["type"] == "url_verification" {
        return (
            StatusCode::OK,
            json!({ "challenge": json["challenge"] }).to_string(),
        );
    }
    if receiver.hangs {
        std::future::pending::<()>().await;
    }
    let mut failures = receiver.failures_left.lock().unwrap();
    if *failures > 0 {
        *failures -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "try again".into());
    }
    receiver.accepted.lock().unwrap().push(text);
    (StatusCode::OK, String::new())
}

async fn start_receiver(failures: u32) -> (String, Receiver) {
    serve(Receiver {
        failures_left: Arc::new(Mutex::new(failures)),
        ..Receiver::default()
    })
    .await
}

async fn serve(receiver: Receiver) -> (String, Receiver) {
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(receiver.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

fn callbacks(receiver: &Receiver) -> Vec<Value> {
    receiver
        .accepted
        .lock()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect()
}

async fn wait_for(receiver: &Receiver, count: usize) -> Vec<Value> {
    for _ in 0..150 {
        let got = callbacks(receiver);
        if got.len() >= count {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "expected {count} callbacks, got {}",
        callbacks(receiver).len()
    );
}

#[tokio::test]
async fn events_are_signed_retried_in_order_and_never_echo_a_bots_own_message() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace: i64 = sqlx::query_scalar("select id from workspaces where slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let bot = natter::integrations::create_bot(&app.db, workspace, "Deploy Bot", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let (url, receiver) = start_receiver(2).await;
    let events = vec!["message.channels".to_owned(), "app_mention".to_owned()];
    natter::integrations::events::verify_and_save(&app.state, bot.bot_id, &url, &events)
        .await
        .expect("the challenge is answered");
    let first = receiver.seen.lock().unwrap()[0].1.clone();
    assert!(first.contains("url_verification"));

    ada.send(&slug, general, "first", None).await;
    ada.send(&slug, general, "second @deploy-bot", None).await;
    // The bot's own message raises no event for it.
    let posted = reqwest::Client::new()
        .post(format!("{}/api/chat.postMessage", app.base))
        .bearer_auth(&bot.token)
        .json(&json!({ "channel": format!("C{general}"), "text": "from the bot" }))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.json::<Value>().await.unwrap()["ok"], true);
    ada.send(&slug, general, "third", None).await;

    let got = wait_for(&receiver, 4).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = callbacks(&receiver);
    assert_eq!(
        got.len(),
        got_after.len(),
        "nothing more arrives: {}",
        got_after.len()
    );
    let kinds: Vec<(String, String)> = got
        .iter()
        .map(|b| {
            (
                b["event"]["type"].as_str().unwrap().to_owned(),
                b["event"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("message".to_owned(), "first".to_owned()),
            ("message".to_owned(), "second @deploy-bot".to_owned()),
            ("app_mention".to_owned(), "second @deploy-bot".to_owned()),
            ("message".to_owned(), "third".to_owned()),
        ],
        "in order per channel, retries included, the bot's own message left out"
    );

    // The first event failed twice: three attempts reached the receiver, the last two retries.
    let attempts: Vec<Option<String>> = receiver
        .seen
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, b)| b.contains("\"first\""))
        .map(|(h, _)| {
            h.get("x-slack-retry-num")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert_eq!(
        attempts,
        vec![None, Some("1".to_owned()), Some("2".to_owned())]
    );

    // Every request is signed like Slack's with the bot's signing secret.
    for (headers, body) in receiver.seen.lock().unwrap().iter() {
        let timestamp: i64 = headers["x-slack-request-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let expected =
            natter::integrations::events::signature(&bot.signing_secret, timestamp, body);
        assert_eq!(headers["x-slack-signature"].to_str().unwrap(), expected);
    }
    let body = &got[0];
    assert_eq!(body["event"]["channel"], format!("C{general}"));
    assert_eq!(body["event"]["channel_type"], "channel");
    assert!(body["event_id"].as_str().unwrap().starts_with("Ev"));
}

#[tokio::test]
async fn a_request_url_that_does_not_answer_the_challenge_is_not_saved() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, _) = app.workspace(&ada, "Acme").await;
    let workspace: i64 = sqlx::query_scalar("select id from workspaces where slug = $1")
        .bind(&slug)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let bot = natter::integrations::create_bot(&app.db, workspace, "Bot", None)
        .await
        .unwrap();
    let events = vec!["message.channels".to_owned()];
    let closed = natter::integrations::events::verify_and_save(
        &app.state,
        bot.bot_id,
        "http://127.0.0.1:1/events",
        &events,
    )
    .await;
    assert!(closed.is_err());
    let not_http = natter::integrations::events::verify_and_save(
        &app.state,
        bot.bot_id,
        "file:///etc/passwd",
        &events,
    )
    .await;
    assert!(not_http.is_err());
    let saved: Option<String> = sqlx::query_scalar("select request_url from bots where id = $1")
        .bind(bot.bot_id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(saved, None);
    // Without the setting, loopback addresses are refused outright, in any spelling.
    let guarded = natter::outbound::Outbound::new(false);
    for url in [
        "http://127.0.0.1:9/x",
        "http://[::ffff:7f00:1]:9/x",
        "http://2130706433:9/",
    ] {
        assert_eq!(guarded.check(url).unwrap_err().public(), "refused", "{url}");
    }
}

/// A bot with a verified request URL on `receiver`, subscribed to `#general`'s messages.
async fn subscribed_bot(
    app: &TestApp,
    workspace: i64,
    general: i64,
    name: &str,
    url: &str,
) -> natter::integrations::NewBot {
    let bot = natter::integrations::create_bot(&app.db, workspace, name, None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let events = vec!["message.channels".to_owned()];
    natter::integrations::events::verify_and_save(&app.state, bot.bot_id, url, &events)
        .await
        .expect("the challenge is answered");
    bot
}

#[tokio::test]
async fn a_bot_whose_endpoint_hangs_does_not_hold_up_another_bots_events() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = crate::helpers::workspace_id(&app, &slug).await;
    let (hanging_url, _hanging) = serve(Receiver {
        hangs: true,
        ..Receiver::default()
    })
    .await;
    let (quick_url, quick) = start_receiver(0).await;
    let stuck = subscribed_bot(&app, workspace, general, "Stuck Bot", &hanging_url).await;
    subscribed_bot(&app, workspace, general, "Quick Bot", &quick_url).await;

    ada.send(&slug, general, "one", None).await;
    wait_for(&quick, 1).await;
    ada.send(&slug, general, "two", None).await;
    wait_for(&quick, 2).await;
    // The hanging bot's first event is still in flight, unanswered and not yet failed: the
    // quick bot's second event was claimed and delivered without waiting for it.
    let (attempts, delivered): (i32, bool) = sqlx::query_as(
        "select attempts, delivered_at is not null from event_outbox
         where bot_id = $1 order by id limit 1",
    )
    .bind(stuck.bot_id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((attempts, delivered), (0, false));
}

#[tokio::test]
async fn a_failed_delivery_shows_one_word_not_the_connections_error() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = crate::helpers::workspace_id(&app, &slug).await;
    let (url, _receiver) = start_receiver(0).await;
    let bot = subscribed_bot(&app, workspace, general, "Gone Bot", &url).await;
    // The bot's server goes away: nothing listens on port 1.
    natter::integrations::events::db::set_request_url(
        &app.db,
        bot.bot_id,
        "http://127.0.0.1:1/events",
        &["message.channels".to_owned()],
    )
    .await
    .unwrap();
    ada.send(&slug, general, "anyone there?", None).await;
    let mut attempts = 0;
    for _ in 0..100 {
        attempts = sqlx::query_scalar("select attempts from event_outbox where bot_id = $1")
            .bind(bot.bot_id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        if attempts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(attempts > 0, "the delivery was attempted");
    let (_, page) = ada.page(&format!("/w/{slug}/integrations")).await;
    assert!(page.contains("last failure: failed"), "{page}");
    for internal in [
        "error sending",
        "onnection refused",
        "tcp connect",
        "os error",
    ] {
        assert!(!page.contains(internal), "the page shows {internal:?}");
    }
}

#[tokio::test]
async fn a_shared_file_reaches_bots_as_a_message_with_files_and_a_file_shared_event() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let workspace = crate::helpers::workspace_id(&app, &slug).await;
    let bot = natter::integrations::create_bot(&app.db, workspace, "Files Bot", None)
        .await
        .unwrap();
    natter::channels::db::add_member(&app.db, general, bot.user_id)
        .await
        .unwrap();
    let (url, receiver) = start_receiver(0).await;
    let events = vec!["message.channels".to_owned(), "file_shared".to_owned()];
    natter::integrations::events::verify_and_save(&app.state, bot.bot_id, &url, &events)
        .await
        .expect("the challenge is answered");
    let id =
        crate::files::share(&ada, &slug, general, "chart.png", crate::files::png(20, 10)).await;
    let got = wait_for(&receiver, 2).await;
    let kinds: Vec<&str> = got
        .iter()
        .map(|c| c["event"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["message", "file_shared"], "{got:?}");
    let message = &got[0]["event"];
    assert_eq!(message["subtype"], "file_share");
    assert_eq!(message["files"][0]["id"], id.as_str());
    assert_eq!(message["files"][0]["name"], "chart.png");
    let shared = &got[1]["event"];
    assert_eq!(shared["file_id"], id.as_str());
    assert_eq!(shared["channel_id"], format!("C{general}"));
    // The bot reads the file with its token, as url_private says.
    let read = reqwest::Client::new()
        .get(message["files"][0]["url_private"].as_str().unwrap())
        .bearer_auth(&bot.token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
}
