//! `fanout` and `idle`: many sockets on one channel, against Natter and against the raw
//! broadcast server, driven by the same client code so the client's own cost cancels out.
//!
//! Natter's listening sockets all belong to one user (a socket costs the server the same
//! whoever owns it, and it spares making thousands of accounts); with several nodes they are
//! spread over the nodes, and the sender is on the first.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket};
use crate::limits::raw_ws::RawServer;
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::stats::{Progress, Recorder, rss_kib};

/// How often a listening socket pings, as the protocol asks of clients.
const PING_EVERY: Duration = Duration::from_secs(30);

/// Sockets opened at once while connecting thousands.
const CONNECTING_AT_ONCE: usize = 64;

/// A message frame on the raw server is padded to about the size of Natter's (which carries
/// the message and its rendered HTML), so both move the same bytes.
const RAW_FRAME_BYTES: usize = 900;

/// Where sockets connect: Natter, or the raw server.
#[derive(Clone, Copy)]
enum Server<'a> {
    Natter(&'a Bench<'a>),
    Raw(&'a RawServer),
}

impl Server<'_> {
    async fn connect(self, i: usize) -> anyhow::Result<Socket> {
        match self {
            Server::Natter(b) => {
                let token = &b.world.listener.token;
                Ok(
                    client::connect(b.deployment.base(i), token, &HashMap::new())
                        .await?
                        .0,
                )
            }
            Server::Raw(raw) => Ok(client::open(raw.url.as_str()).await?),
        }
    }

    fn pids(self) -> Vec<u32> {
        match self {
            Server::Natter(b) => b.deployment.pids(),
            Server::Raw(raw) => vec![raw.pid()],
        }
    }

    /// Opens `n` sockets, [`CONNECTING_AT_ONCE`] at a time; each is `ready` when returned.
    async fn open(self, n: usize, recorder: &Recorder) -> anyhow::Result<Vec<Socket>> {
        let opened: Vec<anyhow::Result<Socket>> = futures_util::stream::iter(0..n)
            .map(|i| async move {
                let started = Instant::now();
                let socket = self.connect(i).await;
                if socket.is_ok() {
                    recorder.record(started.elapsed());
                }
                socket
            })
            .buffer_unordered(CONNECTING_AT_ONCE)
            .collect()
            .await;
        opened.into_iter().collect()
    }
}

/// `fanout`: for each socket count, the raw server, then Natter.
pub async fn fanout(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for &sockets in &b.args.fanout_sockets {
        let raw = RawServer::start()?;
        let raw_id = format!("raw-fanout-{sockets}");
        let limit = measure_fanout(b, Server::Raw(&raw), &raw_id, sockets).await?;
        drop(raw);
        rows.push(limit.limit());
        let mut natter =
            measure_fanout(b, Server::Natter(b), &format!("fanout-{sockets}"), sockets)
                .await?
                .compare(raw_id, Metric::P99);
        // The plan's targets: 25 ms to a thousand sockets, 250 ms to ten thousand.
        match sockets {
            1000 => natter = natter.at_most(Metric::P99, 25.0),
            10_000 => natter = natter.at_most(Metric::P99, 250.0),
            _ => {}
        }
        rows.push(natter);
    }
    Ok(rows)
}

async fn measure_fanout(
    b: &Bench<'_>,
    server: Server<'_>,
    id: &str,
    sockets: usize,
) -> anyhow::Result<Row> {
    let (label, channel) = match server {
        Server::Natter(_) => ("Natter", b.world.fanout_channel),
        Server::Raw(_) => ("raw broadcast server", 0),
    };
    eprintln!("  {id:<28} opening {sockets} sockets to the {label}");
    let listeners = server.open(sockets, &Recorder::new()).await?;
    // Each listener reports (seq, arrival) for the channel's messages.
    let (arrivals, mut arrived) = mpsc::unbounded_channel::<(i64, Instant)>();
    let pings = matches!(server, Server::Natter(_));
    let readers: Vec<_> = listeners
        .into_iter()
        .map(|mut socket| {
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                // Pings every 30 s, as the protocol asks of clients (Natter closes a socket
                // silent for 60 s). Not to the raw server, which would relay them to everyone.
                let mut ping =
                    tokio::time::interval_at(tokio::time::Instant::now() + PING_EVERY, PING_EVERY);
                loop {
                    let frame = tokio::select! {
                        frame = socket.next() => frame,
                        _ = ping.tick(), if pings => {
                            let ping = Message::text(json!({ "type": "ping" }).to_string());
                            if socket.send(ping).await.is_err() {
                                return;
                            }
                            continue;
                        }
                    };
                    let Some(Ok(frame)) = frame else { return };
                    let at = Instant::now();
                    if let Message::Text(text) = frame
                        && let Some(head) = client::head(&text)
                        && head.kind == "message"
                        && head.channel_id == Some(channel)
                        && let Some(seq) = head.seq
                    {
                        let _ = arrivals.send((seq, at));
                    }
                }
            })
        })
        .collect();
    let mut sender = server.connect(0).await?;
    let recorder = Recorder::new();
    let progress = Progress::start(id, &recorder, &server.pids());
    // Message 0 warms the path up and is not counted.
    for n in 0..=b.args.fanout_messages {
        let started = Instant::now();
        let result = async {
            let seq = match server {
                Server::Natter(_) => {
                    let id = format!("{id}-{n}");
                    client::send_and_ack(&mut sender, channel, &id, "fan-out message").await?
                }
                Server::Raw(_) => {
                    let pad = "x".repeat(RAW_FRAME_BYTES - 80);
                    let frame = json!({ "type": "message", "channel_id": 0, "seq": n, "text": "fan-out message", "pad": pad });
                    sender.send(Message::text(frame.to_string())).await?;
                    n as i64
                }
            };
            last_arrival(&mut arrived, seq, sockets).await
        }
        .await;
        match result {
            Ok(last) if n > 0 => recorder.record(last - started),
            Ok(_) => {}
            Err(e) => {
                recorder.error(e);
                break;
            }
        }
        // A breath between messages, so each measures one message's fan-out, not a queue.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (elapsed, usage) = progress.finish();
    for reader in readers {
        reader.abort();
    }
    Ok(Row::measured(
        id,
        "fanout",
        format!("{sockets} sockets on one channel, send → the last socket's receipt ({label})"),
        &recorder,
        elapsed,
        Some(usage),
    ))
}

/// Waits until `sockets` arrivals of `seq` came in; the latest arrival time.
async fn last_arrival(
    arrived: &mut mpsc::UnboundedReceiver<(i64, Instant)>,
    seq: i64,
    sockets: usize,
) -> anyhow::Result<Instant> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (mut count, mut last) = (0, None);
    while count < sockets {
        match tokio::time::timeout_at(deadline, arrived.recv()).await {
            Ok(Some((s, at))) if s == seq => {
                count += 1;
                last = Some(last.map_or(at, |l: Instant| l.max(at)));
            }
            Ok(Some(_)) => {}
            Ok(None) => bail!("every listener closed"),
            Err(_) => bail!("message {seq} reached {count} of {sockets} sockets in 30 s"),
        }
    }
    last.context("no arrivals")
}

/// `idle`: the server's resident memory before and after the sockets open and sit idle,
/// divided by the sockets; the raw server first, then Natter.
pub async fn idle(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let sockets = b.args.idle_sockets;
    let raw = RawServer::start()?;
    let limit = measure_idle(Server::Raw(&raw), "raw-idle", sockets).await?;
    drop(raw);
    let natter = measure_idle(Server::Natter(b), "idle", sockets)
        .await?
        .compare("raw-idle", Metric::KibPerSocket)
        .at_most(Metric::KibPerSocket, 16.0);
    Ok(vec![limit.limit(), natter])
}

async fn measure_idle(server: Server<'_>, id: &str, sockets: usize) -> anyhow::Result<Row> {
    let pids = server.pids();
    // One socket first: lazily made, once-per-process state is not a per-socket cost.
    let warm = server.connect(0).await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib(&pids);
    let recorder = Recorder::new();
    let progress = Progress::start(id, &recorder, &pids);
    let open = server.open(sockets, &recorder).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = rss_kib(&pids);
    let (elapsed, usage) = progress.finish();
    drop(open);
    drop(warm);
    let label = match server {
        Server::Natter(_) => "Natter, after hello and ready",
        Server::Raw(_) => "raw broadcast server",
    };
    let mut row = Row::measured(
        id,
        "idle",
        format!(
            "{sockets} idle sockets ({label}): RSS {before} → {after} KiB; latencies are connect → ready"
        ),
        &recorder,
        elapsed,
        Some(usage),
    );
    row.kib_per_socket = Some(after.saturating_sub(before) as f64 / sockets as f64);
    Ok(row)
}
