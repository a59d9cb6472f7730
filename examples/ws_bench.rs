//! Socket benchmarks against a real `natter` process on a fresh database.
//!
//! ```sh
//! cargo build --release --bin natter --example ws_bench
//! target/release/examples/ws_bench fanout --sockets 1000 --messages 100
//! target/release/examples/ws_bench idle --sockets 10000
//! ```
//!
//! `fanout`: N sockets follow one channel; a sender posts M messages one at a time over its own
//! socket; for each, the time from the `send` frame to the last of the N sockets receiving it.
//! `idle`: the natter process's resident memory before and after N sockets say hello and sit
//! idle, divided by N. The listening sockets all belong to one user (a socket costs the same
//! whoever owns it, and it spares creating thousands of accounts). The process's open-file
//! limit is raised to its hard limit, and the natter child inherits it.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Natter {
    child: Child,
    base: String,
    database_url: String,
}

impl Drop for Natter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn natter_binary() -> String {
    std::env::var("NATTER_BIN").unwrap_or_else(|_| "target/release/natter".to_owned())
}

fn cli(database_url: &str, args: &[&str]) -> String {
    let output = Command::new(natter_binary())
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("the natter binary runs (build it with cargo build --release --bin natter)");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

async fn start() -> Natter {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{admin}/natter_bench_{}", std::process::id());
    let base = format!("http://127.0.0.1:{port}");
    let child = Command::new(natter_binary())
        .env("DATABASE_URL", &database_url)
        .env("NATTER_BIND", format!("127.0.0.1:{port}"))
        .env("NATTER_PUBLIC_URL", &base)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("natter starts");
    let natter = Natter {
        child,
        base,
        database_url,
    };
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return natter;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("natter did not come up");
}

fn last_line(text: &str) -> String {
    text.trim()
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// Two users, a workspace; returns (listener token, sender token).
fn set_up(database_url: &str) -> (String, String) {
    for who in ["listener", "sender"] {
        cli(
            database_url,
            &[
                "user",
                "create",
                "--email",
                &format!("{who}@bench.example"),
                "--username",
                who,
                "--name",
                who,
                "--password",
                "benchmark-password",
            ],
        );
    }
    cli(
        database_url,
        &[
            "workspace",
            "create",
            "--slug",
            "bench",
            "--name",
            "Bench",
            "--owner",
            "listener@bench.example",
        ],
    );
    cli(
        database_url,
        &[
            "member",
            "add",
            "--workspace",
            "bench",
            "--email",
            "sender@bench.example",
        ],
    );
    let listener = last_line(&cli(
        database_url,
        &["token", "create", "--email", "listener@bench.example"],
    ));
    let sender = last_line(&cli(
        database_url,
        &["token", "create", "--email", "sender@bench.example"],
    ));
    (listener, sender)
}

async fn connect(base: &str, token: &str) -> Socket {
    let mut request = format!("{}/ws", base.replacen("http", "ws", 1))
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("socket opens");
    socket
        .send(Message::Text(
            json!({"type": "hello", "cursors": {}}).to_string().into(),
        ))
        .await
        .unwrap();
    loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            let frame: Value = serde_json::from_str(&text).unwrap();
            if frame["type"] == "ready" {
                return socket;
            }
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn raise_open_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        limit.rlim_cur
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn fanout(sockets: usize, messages: usize) {
    let natter = start().await;
    let (listener_token, sender_token) = set_up(&natter.database_url);
    let general = 1; // the first channel of a fresh database is #general
    let arrivals: Arc<Mutex<Vec<Vec<Instant>>>> =
        Arc::new(Mutex::new(vec![Vec::new(); messages + 1]));
    let mut readers = Vec::new();
    let started = Instant::now();
    for _ in 0..sockets {
        let mut socket = connect(&natter.base, &listener_token).await;
        let arrivals = arrivals.clone();
        readers.push(tokio::spawn(async move {
            let mut got = 0;
            while let Some(Ok(message)) = socket.next().await {
                if let Message::Text(text) = message {
                    let at = Instant::now();
                    let frame: Value = serde_json::from_str(&text).unwrap();
                    if frame["type"] == "message" {
                        let seq = frame["seq"].as_u64().unwrap() as usize;
                        arrivals.lock().await[seq].push(at);
                        got += 1;
                        if got == messages {
                            return;
                        }
                    }
                }
            }
        }));
    }
    eprintln!("{sockets} sockets connected in {:.1?}", started.elapsed());
    let mut sender = connect(&natter.base, &sender_token).await;
    let mut latencies = Vec::with_capacity(messages);
    for n in 1..=messages {
        let sent_at = Instant::now();
        let frame = json!({"type": "send", "channel_id": general, "client_msg_id": format!("b{n}"), "text": format!("benchmark message {n}")});
        sender
            .send(Message::Text(frame.to_string().into()))
            .await
            .unwrap();
        // Wait until every socket has it, then measure to the last arrival.
        loop {
            tokio::time::sleep(Duration::from_millis(1)).await;
            let arrivals = arrivals.lock().await;
            if arrivals[n].len() == sockets {
                latencies.push(*arrivals[n].iter().max().unwrap() - sent_at);
                break;
            }
            if sent_at.elapsed() > Duration::from_secs(30) {
                panic!(
                    "message {n} reached {} of {sockets} sockets",
                    arrivals[n].len()
                );
            }
        }
        // Stay under the per-user send limit (10 a second after a burst of 50).
        tokio::time::sleep(Duration::from_millis(110)).await;
    }
    for reader in readers {
        let _ = reader.await;
    }
    latencies.sort();
    println!(
        "fanout: {sockets} sockets, {messages} messages: send -> last receipt p50 {:.2?}, p99 {:.2?}, max {:.2?}",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().unwrap()
    );
    drop_database(&natter);
}

async fn idle(sockets: usize) {
    let natter = start().await;
    let (listener_token, _) = set_up(&natter.database_url);
    // Warm up: one socket's worth of lazily-initialised state is not per-socket cost.
    let warm = connect(&natter.base, &listener_token).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = natter.child.id();
    let before = rss_kib(pid);
    let mut open = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        open.push(connect(&natter.base, &listener_token).await);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(pid);
    let per_socket = (after.saturating_sub(before)) as f64 / sockets as f64;
    println!(
        "idle: {sockets} sockets: natter RSS {before} KiB -> {after} KiB, {per_socket:.1} KiB per idle socket"
    );
    drop(open);
    drop(warm);
    drop_database(&natter);
}

fn drop_database(natter: &Natter) {
    let name = natter.database_url.rsplit('/').next().unwrap().to_owned();
    let _ = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            &format!("drop database if exists {name} with (force)"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let limit = raise_open_file_limit();
    eprintln!("open-file limit raised to {limit}");
    match args.get(1).map(String::as_str) {
        Some("fanout") => fanout(flag("--sockets", 1000), flag("--messages", 100)).await,
        Some("idle") => idle(flag("--sockets", 10_000)).await,
        _ => eprintln!("usage: ws_bench fanout [--sockets N] [--messages M] | idle [--sockets N]"),
    }
}
