//! Many nodes over Redis: two `Server`s on one database and one Redis act as one.
//! These tests need Redis: `REDIS_URL` (default redis://127.0.0.1:6379), and `redis-server`
//! on the PATH for the outage test, which runs a Redis of its own.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::helpers::{TestApp, user_id};
use crate::ws::{Ws, token};

fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

#[tokio::test]
async fn two_nodes_on_redis_act_as_one() {
    let app = TestApp::spawn_with(Some(redis_url())).await;
    let node_b = app.node_with(Some(redis_url())).await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let ada_id = user_id(&app, "ada").await;

    // Bob's socket is on node B; Ada sends on node A.
    let (mut bob_b, _) = Ws::hello(&node_b, &token(&app, "bob").await, json!({})).await;
    bob_b
        .send(json!({ "type": "presence.subscribe", "user_ids": [ada_id] }))
        .await;
    assert_eq!(bob_b.next_of("presence").await["status"], "offline");
    let (mut ada_a, _) = Ws::hello(&app.base, &token(&app, "ada").await, json!({})).await;
    assert_eq!(
        bob_b.next_of("presence").await["status"],
        "online",
        "presence crosses nodes"
    );

    ada.send(&slug, general, "from node A", None).await;
    assert_eq!(bob_b.seqs_until(general, 1).await, vec![1]);
    ada_a
        .send(json!({ "type": "typing", "channel_id": general }))
        .await;
    assert_eq!(
        bob_b.next_of("typing").await["user_id"],
        ada_id,
        "typing crosses nodes"
    );

    // Bob moves from node B to node A and resumes from his cursor, with no hole.
    drop(bob_b);
    for n in 2..=6 {
        ada.send(&slug, general, &format!("while moving {n}"), None)
            .await;
    }
    let (mut bob_a, _) = Ws::hello(
        &app.base,
        &token(&app, "bob").await,
        json!({ general.to_string(): 1 }),
    )
    .await;
    assert_eq!(bob_a.seqs_until(general, 6).await, vec![2, 3, 4, 5, 6]);
}

/// A Redis of the test's own, so stopping it disturbs nobody else.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed (the CI script installs it)");
        std::thread::sleep(Duration::from_millis(300));
        OwnRedis { port, child }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn with_redis_down_sends_are_stored_and_local_sockets_served_then_nodes_catch_up_when_it_returns()
 {
    let mut redis = OwnRedis::start(free_port());
    let app = TestApp::spawn_with(Some(redis.url())).await;
    let node_b = app.node_with(Some(redis.url())).await;
    let ada = app.signup("ada").await;
    let bob = app.signup("bob").await;
    let (slug, general) = app.workspace(&ada, "Acme").await;
    app.join_by_invite(&ada, &bob, &slug).await;
    let (mut on_a, _) = Ws::hello(&app.base, &token(&app, "bob").await, json!({})).await;
    let (mut on_b, _) = Ws::hello(&node_b, &token(&app, "bob").await, json!({})).await;
    ada.send(&slug, general, "redis is up", None).await;
    assert_eq!(on_b.seqs_until(general, 1).await, vec![1]);
    assert_eq!(on_a.seqs_until(general, 1).await, vec![1]);

    redis.stop();
    let (status, _) = ada.try_send(&slug, general, "redis is down", None).await;
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "sending does not need Redis"
    );
    assert_eq!(
        on_a.seqs_until(general, 2).await,
        vec![2],
        "sockets on the same node still get it"
    );

    let redis = OwnRedis::start(redis.port);
    // Node B resubscribes by itself and fills what its sockets missed from Postgres.
    assert_eq!(on_b.seqs_until(general, 2).await, vec![2]);
    ada.send(&slug, general, "redis is back", None).await;
    assert_eq!(on_b.seqs_until(general, 3).await, vec![3]);
    drop(redis);
}
