//! A Postgres outage under load: the test starts a Postgres of its own on a spare port (the
//! shared one serves every other test), runs Natter on it, and stops and restarts it while a
//! client sends steadily through the Web API and a socket listens.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, skipped};
use crate::ws::{Ws, token};

/// A throwaway Postgres cluster: `initdb` into a temporary directory, `pg_ctl` to start and
/// stop it. Run as the `postgres` user when the tests run as root (Postgres refuses root).
struct OwnPostgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
}

impl OwnPostgres {
    fn start() -> Option<OwnPostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .find(|bin| bin.join("initdb").exists())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .ok()?
            .local_addr()
            .ok()?
            .port();
        let dir = std::env::temp_dir().join(format!("natter-outage-{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).ok()?;
        let postgres = OwnPostgres { bin, dir, port };
        if is_root() {
            let owned = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(&postgres.dir)
                .status()
                .ok()?;
            assert!(owned.success(), "chown of the cluster directory");
        }
        let data = postgres.dir.join("data");
        let init = postgres
            .run("initdb")
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-D"])
            .arg(&data)
            .output()
            .ok()?;
        assert!(
            init.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&init.stderr)
        );
        postgres.up();
        Some(postgres)
    }

    /// A command for one of Postgres's programs, as the right user.
    fn run(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if is_root() {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(path);
            command
        } else {
            Command::new(path)
        }
    }

    fn up(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        let started = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-l"])
            .arg(self.dir.join("log"))
            .args(["-o", &options, "start"])
            .output()
            .expect("pg_ctl runs");
        assert!(
            started.status.success(),
            "pg_ctl start: {}",
            String::from_utf8_lossy(&started.stderr)
        );
    }

    /// Stops the server the way an operator's restart does: sessions are cut off.
    fn down(&self) {
        let stopped = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "fast", "stop"])
            .output()
            .expect("pg_ctl runs");
        assert!(stopped.status.success(), "pg_ctl stop");
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = self
            .run("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// One send of the load: its number, HTTP status, Slack answer and how long it took.
#[derive(Debug, Clone)]
struct Sent {
    n: usize,
    status: u16,
    answer: Value,
    took: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_under_load_answers_503_recovers_and_loses_nothing_acknowledged() {
    let Some(postgres) = OwnPostgres::start() else {
        skipped(
            "Postgres's server programs (initdb, pg_ctl)",
            "apt-get install postgresql",
        );
        return;
    };
    let app = TestApp::spawn_on_postgres(&postgres.url()).await;
    let ada = app.signup("ada").await;
    let (_slug, general) = app.workspace(&ada, "Acme").await;
    let token = token(&app, "ada").await;
    let (mut socket, _) = Ws::hello(&app.base, &token, json!({})).await;

    // The load: one send every 25 ms, each with its own client_msg_id, until told to stop.
    let sent: Arc<Mutex<Vec<Sent>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (sent, stop, base, token) =
            (sent.clone(), stop.clone(), app.base.clone(), token.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let started = Instant::now();
                let response = client
                    .post(format!("{base}/api/chat.postMessage"))
                    .bearer_auth(&token)
                    .json(&json!({
                        "channel": format!("C{general}"),
                        "text": format!("load {n}"),
                        "client_msg_id": format!("load-{n}"),
                    }))
                    .send()
                    .await
                    .expect("the node answers: it never hangs past the client's 30 s");
                let status = response.status().as_u16();
                let answer = response.json().await.unwrap_or(Value::Null);
                sent.lock().unwrap().push(Sent {
                    n,
                    status,
                    answer,
                    took: started.elapsed(),
                });
                tokio::time::sleep(Duration::from_millis(25)).await;
            }
        })
    };
    let acked = |sent: &[Sent]| sent.iter().filter(|s| s.answer["ok"] == true).count();

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_outage = acked(&sent.lock().unwrap());
    assert!(before_outage > 0, "sends succeed before the outage");
    postgres.down();
    tokio::time::sleep(Duration::from_secs(8)).await;
    postgres.up();
    // The node recovers by itself: sends succeed again without a restart.
    let recovered_from = sent.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let recovered = sent.lock().unwrap()[recovered_from..]
            .iter()
            .filter(|s| s.answer["ok"] == true)
            .count();
        if recovered >= 10 {
            break;
        }
        assert!(Instant::now() < deadline, "sends did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    load.await.unwrap();
    let sent = sent.lock().unwrap().clone();

    // While it was down, sends failed with a clear 503, never a 500, and none hung past the
    // pool's five-second wait (with room for a slow machine).
    let unavailable: Vec<&Sent> = sent.iter().filter(|s| s.status == 503).collect();
    assert!(!unavailable.is_empty(), "no send met the outage");
    for s in &sent {
        assert!(
            (s.status == 200 && s.answer["ok"] == true)
                || (s.status == 503 && s.answer["error"] == "service_unavailable"),
            "send {} answered {} {}",
            s.n,
            s.status,
            s.answer
        );
        assert!(
            s.took < Duration::from_secs(15),
            "send {} took {:?}",
            s.n,
            s.took
        );
    }

    // Every acknowledged send is stored exactly once, at the seq it was given, and the log
    // has no gaps.
    let stored: Vec<(i64, String)> = sqlx::query_as(
        "select seq, client_msg_id from messages where channel_id = $1 and client_msg_id is not null order by seq",
    )
    .bind(general)
    .fetch_all(&app.db)
    .await
    .unwrap();
    let acked_ids: Vec<String> = sent
        .iter()
        .filter(|s| s.answer["ok"] == true)
        .map(|s| format!("load-{}", s.n))
        .collect();
    let stored_ids: Vec<String> = stored.iter().map(|(_, id)| id.clone()).collect();
    for id in &acked_ids {
        assert_eq!(
            stored_ids.iter().filter(|s| *s == id).count(),
            1,
            "{id} was acknowledged"
        );
    }
    let (first, last_seq): (i64, i64) =
        sqlx::query_as("select min(seq), max(seq) from messages where channel_id = $1")
            .bind(general)
            .fetch_one(&app.db)
            .await
            .unwrap();
    let count: i64 = sqlx::query_scalar("select count(*) from messages where channel_id = $1")
        .bind(general)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, last_seq - first + 1, "the log is gapless");

    // The socket stayed open through the outage, or closed; either way, resuming from the
    // last seq it saw brings every message, in order.
    let mut seen = Vec::new();
    while let Some(frame) = socket.try_next(Duration::from_secs(2)).await {
        if frame["type"] == "message" && frame["channel_id"] == general {
            seen.push(frame["seq"].as_i64().unwrap());
        }
        if seen.last() == Some(&last_seq) {
            break;
        }
    }
    if seen.last() != Some(&last_seq) {
        let cursor = seen.last().copied().unwrap_or(0);
        let (mut resumed, _) =
            Ws::hello(&app.base, &token, json!({ general.to_string(): cursor })).await;
        seen.extend(resumed.seqs_until(general, last_seq).await);
    }
    let mut in_order = seen.clone();
    in_order.dedup();
    let expected: Vec<i64> = (seen[0]..=last_seq).collect();
    assert_eq!(
        in_order, expected,
        "every message reached the socket in order"
    );
    eprintln!(
        "outage: {} sends, {} acknowledged ({before_outage} before the outage), {} answered 503",
        sent.len(),
        acked_ids.len(),
        unavailable.len()
    );
    drop(app);
    drop(postgres);
}
