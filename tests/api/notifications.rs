//! Notifications end to end: Web Push decrypted and verified by an independent implementation
//! (Python's `http_ece` and `py_vapid`) on a local push service, levels, do not disturb and
//! open sockets deciding who is pushed, mail through a real SMTP server (`aiosmtpd`), the
//! one-click off link, the preferences page and its bad input, and the installable app's
//! manifest and service worker.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

use crate::helpers::{self, Browser, TestApp, user_id};
use crate::ws::{Ws, token};

/// A Python helper from `tests/python`, its stdout read as JSON lines.
pub struct Helper {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<Value>,
}

impl Helper {
    /// Starts `tests/python/<script> <args>`, or says why it cannot (and the test skips).
    async fn start(script: &str, args: &[&str]) -> Option<Helper> {
        let Some(python) = helpers::python_with("import http_ece, py_vapid, aiosmtpd") else {
            helpers::skipped(
                "a Python with http_ece, py_vapid and aiosmtpd",
                ".ci/run installs them in .venv",
            );
            return None;
        };
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python");
        let mut child = tokio::process::Command::new(python)
            .arg(path.join(script))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the Python helper starts");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                let value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({ "unreadable_line": line }));
                let _ = tx.send(value);
            }
        });
        Some(Helper { child, lines })
    }

    async fn next(&mut self, wait: Duration) -> Option<Value> {
        tokio::time::timeout(wait, self.lines.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next line, which must come within 30 seconds.
    pub async fn expect(&mut self, what: &str) -> Value {
        self.next(Duration::from_secs(30))
            .await
            .unwrap_or_else(|| panic!("no {what} within 30 s"))
    }

    /// Every line that arrives within `wait`.
    pub async fn drain(&mut self, wait: Duration) -> Vec<Value> {
        let mut out = Vec::new();
        let until = tokio::time::Instant::now() + wait;
        while let Ok(Some(line)) = tokio::time::timeout_at(until, self.lines.recv()).await {
            out.push(line);
        }
        out
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Ada owns Acme; the others named join it. Returns the browsers in order and the slug.
async fn people(app: &TestApp, names: &[&str]) -> (Vec<Browser>, String) {
    let mut browsers = Vec::new();
    for name in names {
        browsers.push(app.signup(name).await);
    }
    let (slug, _) = app.workspace(&browsers[0], "Acme").await;
    for who in &browsers[1..] {
        app.join_by_invite(&browsers[0], who, &slug).await;
    }
    (browsers, slug)
}

/// Posts a PushSubscription's JSON as the page's script does.
async fn subscribe(who: &Browser, subscription: &Value) -> reqwest::Response {
    who.client
        .post(format!("{}/push/subscriptions", who.base))
        .header("X-CSRF-Token", &who.csrf)
        .header(ACCEPT, "application/json")
        .json(subscription)
        .send()
        .await
        .unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&app.db).await.unwrap()
}

/// Waits until `sql` counts `want`.
async fn until_count(app: &TestApp, sql: &str, want: i64) {
    for _ in 0..300 {
        if count(app, sql).await == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{sql} never counted {want} (now {})", count(app, sql).await);
}

#[tokio::test]
async fn a_push_is_encrypted_for_the_browser_signed_with_vapid_and_a_410_forgets_it() {
    let app = TestApp::spawn().await;
    let (people, slug) = people(&app, &["ada", "bob"]).await;
    let (ada, bob) = (&people[0], &people[1]);
    let Some(mut stub) = Helper::start("push_stub.py", &["ok", "gone", "flaky"]).await else {
        return;
    };
    let mut subscriptions = Vec::new();
    for _ in 0..3 {
        subscriptions.push(stub.expect("a subscription").await);
    }
    for s in &subscriptions {
        assert_eq!(subscribe(bob, s).await.status(), StatusCode::CREATED);
    }

    // The key browsers subscribe with: an uncompressed P-256 point.
    let key: Value = reqwest::get(format!("{}/push/vapid-public-key", app.base))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = key["publicKey"].as_str().unwrap().to_owned();
    assert_eq!(key.len(), 87, "65 bytes in unpadded base64url: {key}");

    // Bob has no socket open: Ada's DM goes to each of his three browsers.
    let dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    ada.send(&slug, dm, "Lunch at noon?", None).await;
    let mut seen = Vec::new();
    while !(seen.iter().any(|r: &Value| r["subscription"] == "ok")
        && seen.iter().any(|r| r["subscription"] == "gone")
        && seen
            .iter()
            .any(|r| r["subscription"] == "flaky" && r["status"] == 201))
    {
        seen.push(stub.expect("a push").await);
    }
    for record in &seen {
        assert!(record.get("decrypt_error").is_none(), "{record}");
        assert!(record.get("vapid_error").is_none(), "{record}");
        assert_eq!(record["vapid_verified"], true, "{record}");
        let payload = &record["payload"];
        assert_eq!(payload["title"], "Ada");
        assert_eq!(payload["body"], "Lunch at noon?");
        assert_eq!(payload["tag"], format!("natter-{dm}"));
        assert!(
            payload["url"]
                .as_str()
                .unwrap()
                .ends_with(&format!("/w/{slug}/c/{dm}?around=1#m-1")),
            "{payload}"
        );
        let endpoint = url_origin(subscriptions[0]["endpoint"].as_str().unwrap());
        assert_eq!(record["claims"]["aud"], endpoint);
        assert!(
            record["claims"]["sub"]
                .as_str()
                .unwrap()
                .starts_with("mailto:")
        );
        assert!(
            record["claims"]["exp"].as_i64().unwrap()
                > time::OffsetDateTime::now_utc().unix_timestamp()
        );
        assert_eq!(record["headers"]["content-encoding"], "aes128gcm");
        assert_eq!(record["headers"]["urgency"], "high");
        assert!(record["headers"]["ttl"].as_str().is_some());
    }
    // The 503 was retried once and delivered; the 410 deleted its subscription.
    assert_eq!(
        seen.iter()
            .filter(|r| r["subscription"] == "flaky")
            .map(|r| r["status"].as_i64().unwrap())
            .collect::<Vec<_>>(),
        vec![503, 201]
    );
    until_count(
        &app,
        "select count(*) from push_subscriptions where endpoint like '%/gone'",
        0,
    )
    .await;
    until_count(&app, "select count(*) from push_deliveries", 0).await;
    assert_eq!(
        count(&app, "select count(*) from push_subscriptions").await,
        2
    );

    // A workspace that keeps text out of notifications sends only who wrote.
    let settings = ada
        .post_form(
            &format!("/w/{slug}/admin/settings"),
            &[("name", "Acme"), ("channel_creators", "members")],
        )
        .await;
    assert_eq!(settings.status(), StatusCode::SEE_OTHER);
    ada.send(&slug, dm, "the secret plan", None).await;
    let private = stub.expect("a private push").await;
    assert_eq!(private["payload"]["body"], "New message from Ada");
    assert!(!private.to_string().contains("secret"), "{private}");
}

fn url_origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    format!("{scheme}://{}", rest.split('/').next().unwrap())
}

#[tokio::test]
async fn no_push_reaches_an_open_socket_do_not_disturb_level_nothing_or_mute() {
    let app = TestApp::spawn().await;
    let (people, slug) = people(&app, &["ada", "bob", "cy"]).await;
    let (ada, bob, cy) = (&people[0], &people[1], &people[2]);
    let Some(mut stub) = Helper::start("push_stub.py", &["bob", "cy"]).await else {
        return;
    };
    let (bob_sub, cy_sub) = (stub.expect("bob's").await, stub.expect("cy's").await);
    assert_eq!(subscribe(bob, &bob_sub).await.status(), StatusCode::CREATED);
    assert_eq!(subscribe(cy, &cy_sub).await.status(), StatusCode::CREATED);
    let (bob_id, cy_id) = (user_id(&app, "bob").await, user_id(&app, "cy").await);
    let bob_dm = ada.open_dm(&slug, &[bob_id]).await;
    let cy_dm = ada.open_dm(&slug, &[cy_id]).await;
    let general: i64 = sqlx::query_scalar("select id from channels where name = 'general'")
        .fetch_one(&app.db)
        .await
        .unwrap();

    // Each round: Ada writes to Bob (`to_bob` in `where_`) and then to Cy, who always gets a
    // push. Once Cy's push is in, Bob's would have been too: whose pushes came?
    let mut round = async |where_: i64, to_bob: &str, control: &str| -> Vec<String> {
        ada.send(&slug, where_, to_bob, None).await;
        ada.send(&slug, cy_dm, control, None).await;
        let mut bodies = Vec::new();
        loop {
            let push = stub.expect("Cy's control push").await;
            let body = push["payload"]["body"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let done = push["subscription"] == "cy" && body == control;
            if push["subscription"] == "bob" {
                bodies.push(body);
            }
            if done {
                break;
            }
        }
        for late in stub.drain(Duration::from_millis(500)).await {
            if late["subscription"] == "bob" {
                bodies.push(late["payload"]["body"].as_str().unwrap().to_owned());
            }
        }
        bodies
    };

    // With a socket open, Bob is told over it, and not pushed.
    let (mut bob_ws, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    assert!(round(bob_dm, "while online", "c1").await.is_empty());
    let frame = bob_ws.next_of("notification").await;
    assert_eq!(
        (
            frame["title"].as_str(),
            frame["body"].as_str(),
            frame["channel_id"].as_i64()
        ),
        (Some("Ada"), Some("while online"), Some(bob_dm))
    );
    drop(bob_ws);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Level "nothing" on the DM: nothing.
    let set = |level: &'static str, channel: i64| {
        let path = format!("/w/{slug}/c/{channel}/notifications");
        async move { bob.post_form(&path, &[("level", level)]).await.status() }
    };
    assert_eq!(set("nothing", bob_dm).await, StatusCode::SEE_OTHER);
    assert!(round(bob_dm, "at nothing", "c2").await.is_empty());
    assert_eq!(set("default", bob_dm).await, StatusCode::SEE_OTHER);

    // Paused: nothing, and nothing later either.
    let paused = bob
        .post_form("/settings/notifications/pause", &[("pause", "30")])
        .await;
    assert_eq!(paused.status(), StatusCode::SEE_OTHER);
    assert!(round(bob_dm, "while paused", "c3").await.is_empty());
    let resumed = bob
        .post_form("/settings/notifications/pause", &[("pause", "resume")])
        .await;
    assert_eq!(resumed.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        round(bob_dm, "after the pause", "c4").await,
        vec!["after the pause"],
        "resumed, Bob is pushed again, and only the new message"
    );

    // In a channel: mentions only, by default; muted, not even those.
    assert!(round(general, "plain news", "c5").await.is_empty());
    assert_eq!(
        round(general, "@bob have a look", "c6").await,
        vec!["Ada: @bob have a look"]
    );
    assert_eq!(set("mute", general).await, StatusCode::SEE_OTHER);
    assert!(round(general, "@bob again", "c7").await.is_empty());
    let (_, page) = bob.page(&format!("/w/{slug}/c/{bob_dm}")).await;
    let link = page
        .split("<a class=\"sidebar-link")
        .find(|l| l.contains(&format!("data-channel-id=\"{general}\"")))
        .unwrap();
    assert!(
        link.contains("muted") && link.contains("data-muted=\"1\""),
        "{link}"
    );
    // And at "all", everything in the channel.
    assert_eq!(set("all", general).await, StatusCode::SEE_OTHER);
    assert_eq!(
        round(general, "news for all", "c8").await,
        vec!["Ada: news for all"]
    );
}

/// A free port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server on `port` (or any), without the sign-ups' confirmation mails.
pub async fn smtp_sink(port: Option<u16>) -> Option<Helper> {
    sink_with(port, &[]).await
}

/// A real SMTP server that also shows the confirmations of addresses.
pub async fn smtp_sink_with_confirmations(port: u16) -> Option<Helper> {
    sink_with(Some(port), &["--confirmations"]).await
}

async fn sink_with(port: Option<u16>, flags: &[&str]) -> Option<Helper> {
    let port = port.map(|p| p.to_string());
    let mut args: Vec<&str> = port.iter().map(String::as_str).collect();
    args.extend_from_slice(flags);
    let mut sink = Helper::start("smtp_sink.py", &args).await?;
    sink.expect("the SMTP server's port").await;
    Some(sink)
}

async fn spawn_with_smtp(port: u16) -> TestApp {
    TestApp::spawn_configured_with(|c| {
        c.notify.smtp_url = Some(format!("smtp://127.0.0.1:{port}"));
        c.notify.email_delay_secs = 2;
    })
    .await
}

#[tokio::test]
async fn one_mail_for_unread_dms_none_when_read_in_time_and_one_click_turns_it_off() {
    let port = free_port();
    let Some(mut sink) = smtp_sink(Some(port)).await else {
        return;
    };
    let app = spawn_with_smtp(port).await;
    let (people, slug) = people(&app, &["ada", "bob", "cy"]).await;
    let (ada, cy) = (&people[0], &people[2]);
    let bob_dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    let cy_dm = ada.open_dm(&slug, &[user_id(&app, "cy").await]).await;

    ada.send(&slug, bob_dm, "first thing", None).await;
    ada.send(&slug, bob_dm, "second <thing> & more", None).await;
    ada.send(&slug, cy_dm, "read this soon", None).await;
    // Cy reads it in time (opening the conversation reads it).
    assert_eq!(
        cy.page(&format!("/w/{slug}/c/{cy_dm}")).await.0,
        StatusCode::OK
    );

    let mail = sink.expect("Bob's mail").await;
    assert_eq!(mail["rcpt_tos"], json!(["bob@example.com"]));
    assert_eq!(mail["subject"], "2 unread messages in Natter");
    assert_eq!(mail["content_type"], "multipart/alternative");
    let (text, html) = (
        mail["text"].as_str().unwrap(),
        mail["html"].as_str().unwrap(),
    );
    assert!(
        text.contains("Ada: first thing") && text.contains("second <thing> & more"),
        "{text}"
    );
    assert!(
        html.contains("first thing") && html.contains("second &#60;thing&#62; &#38; more"),
        "{html}"
    );
    assert!(
        !html.contains("<thing>"),
        "the message's text is escaped in the HTML part"
    );
    assert!(
        text.contains(&format!("/w/{slug}/c/{bob_dm}?around=1#m-1")),
        "{text}"
    );
    assert_eq!(mail["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let off = mail["list_unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();
    assert!(
        off.starts_with(&format!("{}/notifications/email-off/", app.base)),
        "{off}"
    );

    // Nothing more: one mail for Bob's two, none for Cy, and the queue is empty.
    until_count(&app, "select count(*) from mail_items", 0).await;
    assert!(sink.drain(Duration::from_secs(3)).await.is_empty());

    // The one-click link works with no session (RFC 8058's POST), and only with its own token.
    let anyone = reqwest::Client::new();
    // Bob's signature on someone else's id.
    let (prefix, token) = off.rsplit_once('/').unwrap();
    let forged = format!("{prefix}/1{}", &token[token.find('.').unwrap()..]);
    let answer = anyone
        .post(&forged)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let page = anyone.get(&off).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_eq!(
        count(&app, "select count(*) from users where email_notify").await,
        3,
        "a GET (a link scanner) changes nothing"
    );
    let answer = anyone
        .post(&off)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let bob_on: bool = sqlx::query_scalar("select email_notify from users where username = 'bob'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(!bob_on);
    ada.send(&slug, bob_dm, "after turning it off", None).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(sink.drain(Duration::from_millis(500)).await.is_empty());

    // A workspace that keeps text out of notifications keeps it out of mail too.
    let settings = ada
        .post_form(
            &format!("/w/{slug}/admin/settings"),
            &[("name", "Acme"), ("channel_creators", "members")],
        )
        .await;
    assert_eq!(settings.status(), StatusCode::SEE_OTHER);
    ada.send(&slug, cy_dm, "the classified plan", None).await;
    let mail = sink.expect("Cy's mail").await;
    assert_eq!(mail["rcpt_tos"], json!(["cy@example.com"]));
    assert!(
        mail["text"]
            .as_str()
            .unwrap()
            .contains("New message from Ada")
    );
    assert!(!mail.to_string().contains("classified"), "{mail}");
}

#[tokio::test]
async fn mail_waits_while_the_smtp_server_is_down_and_goes_when_it_is_back() {
    let port = free_port();
    let app = spawn_with_smtp(port).await;
    let (people, slug) = people(&app, &["ada", "bob"]).await;
    let ada = &people[0];
    let bob_dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    ada.send(&slug, bob_dm, "are you there?", None).await;
    // Nothing listens: the attempt fails and the item stays, with a retry set.
    until_count(
        &app,
        "select count(*) from mail_items where attempts >= 1 and due_at > now()",
        1,
    )
    .await;
    let Some(mut sink) = smtp_sink(Some(port)).await else {
        return;
    };
    // The retry is due in 30 s; bring it forward rather than wait.
    sqlx::query("update mail_items set due_at = now()")
        .execute(&app.db)
        .await
        .unwrap();
    let mail = sink.expect("the delayed mail").await;
    assert_eq!(mail["subject"], "New message from Ada");
    assert!(mail["text"].as_str().unwrap().contains("are you there?"));
    until_count(&app, "select count(*) from mail_items", 0).await;
}

#[tokio::test]
async fn preferences_save_levels_schedule_and_zone_and_refuse_bad_input() {
    let app = TestApp::spawn().await;
    let (people, slug) = people(&app, &["ada", "bob"]).await;
    let (ada, bob) = (&people[0], &people[1]);
    let general: i64 = sqlx::query_scalar("select id from channels where name = 'general'")
        .fetch_one(&app.db)
        .await
        .unwrap();

    let (status, html) = bob.page("/settings/notifications").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        html.contains("Mail is off on this server"),
        "no SMTP: the page says so"
    );
    assert!(html.contains(&format!("name=\"level_{general}\"")));
    // The workspace page links to it.
    let (_, app_page) = bob.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(app_page.contains("href=\"/settings/notifications\""));

    let level = format!("level_{general}");
    let bad = [
        vec![("time_zone", "Mars/Olympus_Mons")],
        vec![
            ("schedule", "1"),
            ("dnd_start", "22:00"),
            ("dnd_end", "22:00"),
        ],
        vec![
            ("schedule", "1"),
            ("dnd_start", "25:00"),
            ("dnd_end", "07:00"),
        ],
        vec![(level.as_str(), "loud")],
        vec![("level_x", "all")],
    ];
    for fields in bad {
        let answer = bob.post_form("/settings/notifications", &fields).await;
        assert_eq!(
            answer.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
        assert!(answer.text().await.unwrap().contains("prefs-error"));
    }
    let saved = bob
        .post_form(
            "/settings/notifications",
            &[
                ("time_zone", "Europe/Paris"),
                ("schedule", "1"),
                ("dnd_start", "22:00"),
                ("dnd_end", "07:30"),
                (level.as_str(), "all"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let (zone, start, email, notify): (String, String, bool, String) = sqlx::query_as(
        "select u.time_zone, u.dnd_start::text, u.email_notify, cm.notify
         from users u join channel_members cm on cm.user_id = u.id
         where u.username = 'bob' and cm.channel_id = $1",
    )
    .bind(general)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        (zone.as_str(), start.as_str(), email, notify.as_str()),
        ("Europe/Paris", "22:00:00", false, "all"),
        "email_notify unticked is off"
    );

    // The schedule runs in the person's zone and across midnight.
    let ends = |at: &'static str, zone: &'static str| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "select to_char(dnd_ends(null, '22:00', '07:30', $2, $1::timestamptz)
                                at time zone 'UTC', 'YYYY-MM-DD HH24:MI')",
            )
            .bind(at)
            .bind(zone)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(
        ends("2026-01-01 21:30Z", "Europe/Paris").await.as_deref(),
        Some("2026-01-02 06:30")
    );
    assert_eq!(
        ends("2026-01-02 05:00Z", "Europe/Paris").await.as_deref(),
        Some("2026-01-02 06:30")
    );
    assert_eq!(ends("2026-01-01 12:00Z", "Europe/Paris").await, None);
    assert_eq!(ends("2026-01-01 21:30Z", "UTC").await, None);

    // Pauses: bad ones are refused and change nothing.
    for fields in [
        vec![("pause", "forever")],
        vec![("pause", "custom"), ("until", "tomorrow-ish")],
        vec![("pause", "custom"), ("until", "2020-01-01T10:00")],
        vec![("pause", "custom"), ("until", "2026-13-40T10:00")],
    ] {
        let answer = bob
            .post_form("/settings/notifications/pause", &fields)
            .await;
        assert_eq!(
            answer.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields:?}"
        );
    }
    let paused: Option<time::OffsetDateTime> =
        sqlx::query_scalar("select dnd_until from users where username = 'bob'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(paused, None);

    // Someone watching Bob sees the moon come and go.
    let bob_id = user_id(&app, "bob").await;
    let (mut ada_ws, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    ada_ws
        .send(json!({ "type": "presence.subscribe", "user_ids": [bob_id] }))
        .await;
    ada_ws.next_of("presence").await; // the subscription is in place
    let answer = bob
        .client
        .post(format!("{}/settings/notifications/pause", app.base))
        .header(ACCEPT, "application/json")
        .form(&[("csrf_token", bob.csrf.as_str()), ("pause", "tomorrow")])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let until = answer.json::<Value>().await.unwrap()["dnd_until"]
        .as_i64()
        .unwrap();
    let dnd = ada_ws.next_of("dnd").await;
    assert_eq!(
        (dnd["user_id"].as_i64(), dnd["until"].as_i64()),
        (Some(bob_id), Some(until))
    );
    let hours = (until - time::OffsetDateTime::now_utc().unix_timestamp()) / 3600;
    assert!(
        (0..=34).contains(&hours),
        "until 9:00 tomorrow in Paris: {hours} h away"
    );
    let (_, html) = bob.page("/settings/notifications").await;
    assert!(html.contains("Notifications are paused until"));
    // Someone who starts watching now is told at once.
    let (mut later, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    later
        .send(json!({ "type": "presence.subscribe", "user_ids": [bob_id] }))
        .await;
    assert_eq!(later.next_of("dnd").await["until"].as_i64(), Some(until));
    bob.post_form("/settings/notifications/pause", &[("pause", "resume")])
        .await;
    assert_eq!(ada_ws.next_of("dnd").await["until"], Value::Null);

    // A private channel's level is nobody's business but its members': 404 for the rest.
    let secret = ada.create_channel(&slug, "secret", true).await;
    let answer = bob
        .post_form(
            &format!("/w/{slug}/c/{secret}/notifications"),
            &[("level", "all")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::NOT_FOUND);
    let answer = ada
        .post_form(
            &format!("/w/{slug}/c/{secret}/notifications"),
            &[("level", "loud")],
        )
        .await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Subscriptions: bad JSON and bad keys are refused; a subscription needs the session.
    for body in [
        json!("nonsense"),
        json!({ "endpoint": "https://push.example.com/x" }),
        json!({ "endpoint": "ftp://push.example.com/x", "keys": { "p256dh": "AAAA", "auth": "AAAA" } }),
        json!({ "endpoint": "https://push.example.com/x", "keys": { "p256dh": "BBBB", "auth": "AAAAAAAAAAAAAAAAAAAAAA" } }),
    ] {
        assert_eq!(
            subscribe(bob, &body).await.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
    }
    let anonymous = reqwest::Client::new()
        .post(format!("{}/push/subscriptions", app.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(anonymous.status().is_client_error());
    assert_eq!(
        count(&app, "select count(*) from push_subscriptions").await,
        0
    );
}

#[tokio::test]
async fn natter_installs_as_an_app_with_a_manifest_icons_and_a_service_worker() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    let (_, html) = ada.page(&format!("/w/{slug}/c/{general}")).await;
    assert!(html.contains("<link rel=\"manifest\" href=\"/manifest.webmanifest\">"));
    let manifest = reqwest::get(format!("{}/manifest.webmanifest", app.base))
        .await
        .unwrap();
    assert_eq!(
        manifest.headers()[CONTENT_TYPE],
        "application/manifest+json"
    );
    let manifest: Value = manifest.json().await.unwrap();
    assert_eq!(manifest["display"], "standalone");
    assert_eq!(manifest["name"], "Natter");
    assert!(manifest["theme_color"].as_str().is_some());
    let icons = manifest["icons"].as_array().unwrap();
    assert!(
        icons
            .iter()
            .any(|i| i["sizes"] == "512x512" && i["purpose"] == "maskable")
    );
    for icon in icons {
        let response = reqwest::get(format!("{}{}", app.base, icon["src"].as_str().unwrap()))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{icon}");
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            icon["type"].as_str().unwrap()
        );
        let bytes = response.bytes().await.unwrap();
        if let Some(size) = icon["sizes"].as_str().and_then(|s| s.split_once('x')) {
            // A PNG's IHDR holds its width and height.
            assert_eq!(&bytes[1..4], b"PNG");
            let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
            assert_eq!(width.to_string(), size.0, "{icon}");
        }
    }
    let worker = reqwest::get(format!("{}/sw.js", app.base)).await.unwrap();
    assert!(
        worker.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let worker = worker.text().await.unwrap();
    assert!(
        worker.contains("addEventListener(\"push\"")
            && worker.contains("addEventListener(\"notificationclick\"")
    );
}

#[tokio::test]
async fn twenty_devices_get_twenty_pushes_once_each_with_two_nodes_at_work() {
    let app = TestApp::spawn().await;
    // A second node on the same database runs the same workers.
    let _second = app.second_node().await;
    let (people, slug) = people(&app, &["ada", "bob"]).await;
    let (ada, bob) = (&people[0], &people[1]);
    let devices: Vec<String> = (1..=20).map(|i| format!("device{i}")).collect();
    let names: Vec<&str> = devices.iter().map(String::as_str).collect();
    let Some(mut stub) = Helper::start("push_stub.py", &names).await else {
        return;
    };
    for _ in &devices {
        let subscription = stub.expect("a subscription").await;
        assert_eq!(
            subscribe(bob, &subscription).await.status(),
            StatusCode::CREATED
        );
    }
    let dm = ada.open_dm(&slug, &[user_id(&app, "bob").await]).await;
    for n in 1..=3 {
        ada.send(&slug, dm, &format!("message {n}"), None).await;
    }
    let mut got = std::collections::BTreeMap::<(String, String), usize>::new();
    for _ in 0..60 {
        let Some(push) = stub.next(Duration::from_secs(30)).await else {
            panic!("only these pushes came: {got:?}");
        };
        assert_eq!(push["vapid_verified"], true, "{push}");
        let key = (
            push["subscription"].as_str().unwrap().to_owned(),
            push["payload"]["body"].as_str().unwrap().to_owned(),
        );
        *got.entry(key).or_default() += 1;
    }
    assert!(
        stub.drain(Duration::from_secs(2)).await.is_empty(),
        "nothing twice"
    );
    assert_eq!(got.len(), 60, "each of 20 devices got each of 3 messages");
    assert!(got.values().all(|&n| n == 1));
}

#[tokio::test]
async fn slacks_dnd_methods_snooze_resume_and_read_a_schedule() {
    let app = TestApp::spawn().await;
    let (people, _slug) = people(&app, &["ada", "bob"]).await;
    let bob = &people[1];
    let saved = bob
        .post_form(
            "/settings/notifications",
            &[
                ("time_zone", "Asia/Tokyo"),
                ("schedule", "1"),
                ("dnd_start", "22:00"),
                ("dnd_end", "07:00"),
            ],
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let bob_token = token(&app, "bob").await;
    let ada_token = token(&app, "ada").await;

    let (_, snoozed) = helpers::api(
        &app,
        &bob_token,
        "dnd.setSnooze",
        json!({ "num_minutes": 30 }),
    )
    .await;
    assert_eq!(snoozed["ok"], true, "{snoozed}");
    assert_eq!(snoozed["snooze_enabled"], true);
    let remaining = snoozed["snooze_remaining"].as_i64().unwrap();
    assert!((1790..=1801).contains(&remaining), "{snoozed}");

    let (_, info) = helpers::api(&app, &bob_token, "dnd.info", json!({})).await;
    assert_eq!(
        (
            info["dnd_enabled"].as_bool(),
            info["snooze_enabled"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let (start, end) = (
        info["next_dnd_start_ts"].as_i64().unwrap(),
        info["next_dnd_end_ts"].as_i64().unwrap(),
    );
    assert_eq!(end - start, 9 * 3600, "22:00 to 07:00");
    // 22:00 in Tokyo is 13:00 UTC.
    assert_eq!(start % 86_400, 13 * 3600);

    // Another member sees the schedule, not the snooze.
    let bob_slack_id = natter::integrations::ids::user_id(user_id(&app, "bob").await);
    let (_, other) = helpers::api(
        &app,
        &ada_token,
        "dnd.info",
        json!({ "user": bob_slack_id }),
    )
    .await;
    assert_eq!(other["next_dnd_start_ts"], start);
    assert!(other.get("snooze_enabled").is_none(), "{other}");
    let (_, nobody) =
        helpers::api(&app, &ada_token, "dnd.info", json!({ "user": "U999999" })).await;
    assert_eq!(nobody["error"], "user_not_found");

    let (_, ended) = helpers::api(&app, &bob_token, "dnd.endSnooze", json!({})).await;
    assert_eq!(
        (ended["ok"].as_bool(), ended["snooze_enabled"].as_bool()),
        (Some(true), Some(false))
    );
    for bad in [
        json!({}),
        json!({ "num_minutes": "soon" }),
        json!({ "num_minutes": 0 }),
    ] {
        let (_, answer) = helpers::api(&app, &bob_token, "dnd.setSnooze", bad).await;
        assert_eq!(answer["error"], "invalid_arguments");
    }
}
