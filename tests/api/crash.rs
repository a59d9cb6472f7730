//! A node killed with SIGKILL mid-burst loses no acknowledged message, and its clients resume
//! gaplessly on a restarted node. The node is the real `natter` binary in its own process.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::TestApp;
use crate::ws::{Ws, token};

struct Node {
    child: Child,
    base: String,
}

impl Node {
    async fn start(app: &TestApp, port: u16) -> Node {
        let database: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&app.db)
            .await
            .unwrap();
        let admin = std::env::var("TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
        let base = format!("http://127.0.0.1:{port}");
        let child = Command::new(env!("CARGO_BIN_EXE_natter"))
            .arg("serve")
            .env("DATABASE_URL", format!("{admin}/{database}"))
            .env("NATTER_BIND", format!("127.0.0.1:{port}"))
            .env("NATTER_PUBLIC_URL", &base)
            .env("RUST_LOG", "error")
            .env_remove("REDIS_URL")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("natter starts");
        let node = Node { child, base };
        for _ in 0..100 {
            if reqwest::get(format!("{}/healthz", node.base))
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the natter process did not come up");
    }

    fn kill_9(&mut self) {
        // Child::kill sends SIGKILL on Unix: no shutdown code runs.
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn a_node_killed_mid_burst_loses_no_acknowledged_message_and_clients_resume_gaplessly() {
    let app = TestApp::spawn().await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut node = Node::start(&app, port).await;

    let (mut reader, _) = Ws::hello(
        &node.base,
        &token(&app, "bob").await,
        json!({ general.to_string(): 0 }),
    )
    .await;
    let (mut sender, _) = Ws::hello(&node.base, &token(&app, "ada").await, json!({})).await;
    // A burst within the send limit, without waiting for acks.
    for n in 0..45 {
        sender.send(json!({ "type": "send", "channel_id": general, "client_msg_id": format!("burst-{n}"), "text": format!("burst {n}") })).await;
    }
    let mut acked = HashSet::new();
    while acked.len() < 15 {
        let ack = sender.next_of("ack").await;
        acked.insert(ack["client_msg_id"].as_str().unwrap().to_owned());
    }
    node.kill_9();
    // Acks already on the wire when the process died still count.
    while let Some(frame) = sender.try_next(Duration::from_millis(200)).await {
        if frame["type"] == "ack" {
            acked.insert(frame["client_msg_id"].as_str().unwrap().to_owned());
        }
    }
    let mut received = Vec::new();
    while let Some(frame) = reader.try_next(Duration::from_millis(200)).await {
        if frame["type"] == "message" {
            received.push(frame["seq"].as_i64().unwrap());
        }
    }

    let stored: Vec<(i64, Option<String>)> = sqlx::query_as(
        "select seq, client_msg_id from messages where channel_id = $1 order by seq",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let stored_ids: HashSet<String> = stored.iter().filter_map(|(_, id)| id.clone()).collect();
    assert!(
        acked.is_subset(&stored_ids),
        "every acknowledged message is stored: acked {} stored {}",
        acked.len(),
        stored.len()
    );
    let seqs: Vec<i64> = stored.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        (1..=seqs.len() as i64).collect::<Vec<_>>(),
        "the log is gapless after the crash"
    );
    assert!(
        received.windows(2).all(|w| w[1] == w[0] + 1),
        "what the reader got was in order: {received:?}"
    );

    // The reader resumes on a restarted node from its cursor: the rest, once, in order.
    let node = Node::start(&app, port).await;
    let cursor = received.last().copied().unwrap_or(0);
    let last = *seqs.last().unwrap();
    let (mut resumed, _) = Ws::hello(
        &node.base,
        &token(&app, "bob").await,
        json!({ general.to_string(): cursor }),
    )
    .await;
    if last > cursor {
        assert_eq!(
            resumed.seqs_until(general, last).await,
            ((cursor + 1)..=last).collect::<Vec<_>>()
        );
    }
    assert!(
        resumed
            .try_next(Duration::from_millis(300))
            .await
            .is_none_or(|f| f["type"] != "message"),
        "nothing twice"
    );
}
