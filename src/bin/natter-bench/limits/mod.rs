//! What the parts under Natter can do on this machine, measured in the same run: Postgres
//! running Natter's own send statements (pgbench), Redis PUBLISH (redis-benchmark), and a raw
//! WebSocket broadcast server ([`raw_ws`]). The straight-to-backend reads and searches sit
//! beside their scenarios.

pub mod raw_ws;

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail, ensure};

use crate::report::Row;
use crate::stats::{Progress, Recorder};

/// Natter's send transaction as it runs in `messages::send`: the channel's seq bump (the row
/// lock that orders a channel's writers) and the insert, with the same columns and `returning`.
const SEND_SCRIPT: &str = r"\set ch random(:lo, :hi)
BEGIN;
UPDATE channels SET last_seq = last_seq + 1 WHERE id = :ch AND archived_at IS NULL RETURNING last_seq \gset
INSERT INTO messages AS m (channel_id, seq, user_id, body, client_msg_id, sender_name, sender_icon) VALUES (:ch, :last_seq, :uid, 'load test message from pgbench', NULL, NULL, NULL) RETURNING m.channel_id, m.seq, m.user_id, m.body, m.client_msg_id, m.created_at, m.edited_at, m.deleted_at;
END;
";

/// pgbench with [`SEND_SCRIPT`] at `clients` concurrency over `channels` (consecutive ids),
/// prepared statements as sqlx uses; the latencies come from its per-transaction log.
pub async fn pgbench(
    id: &str,
    scenario: &'static str,
    database_url: &str,
    clients: usize,
    channels: &[i64],
    user_id: i64,
    seconds: f64,
) -> anyhow::Result<Row> {
    let (lo, hi) = (channels[0], channels[channels.len() - 1]);
    ensure!(
        hi - lo + 1 == channels.len() as i64,
        "pgbench picks channels by id range, and these are not consecutive"
    );
    let dir = std::env::temp_dir().join(format!("natter-bench-{}-{id}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let script = dir.join("send.sql");
    std::fs::write(&script, SEND_SCRIPT)?;
    let prefix = dir.join("txn");
    let what = format!(
        "pgbench: Natter's seq bump + insert, {clients} client(s), {} channel(s)",
        channels.len()
    );
    eprintln!("  {id:<28} {what}");
    let duration = seconds.ceil().max(1.0) as u64;
    let recorder = Recorder::new();
    // No server of ours runs here: what is measured is Postgres's CPU and pgbench's (a client).
    let progress = Progress::start(id, &recorder, &[]);
    let mut command = Command::new("pgbench");
    command
        .args(["-n", "-M", "prepared", "-l"])
        .arg(format!("--log-prefix={}", prefix.display()))
        .args(["-c", &clients.to_string()])
        .args(["-j", &clients.min(2).to_string()])
        .args(["-T", &duration.to_string()])
        .args(["-D", &format!("lo={lo}"), "-D", &format!("hi={hi}")])
        .args(["-D", &format!("uid={user_id}")])
        .arg("-f")
        .arg(&script)
        .arg(database_url)
        .current_dir(&dir);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await?
        .context("running pgbench (Debian: postgresql-client)")?;
    let (_, usage) = progress.finish();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "pgbench failed: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Each log line: client, transaction number, latency in µs, script, epoch s, epoch µs.
    for entry in std::fs::read_dir(&dir)? {
        let path = entry?.path();
        if !path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("txn"))
        {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            if let Some(micros) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                recorder.record(Duration::from_micros(micros));
            }
        }
    }
    let failed = stdout
        .lines()
        .find_map(|l| l.strip_prefix("number of failed transactions: "))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    for _ in 0..failed {
        recorder.error("pgbench counted a failed transaction");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(Row::measured(
        id,
        scenario,
        what,
        &recorder,
        Duration::from_secs(duration),
        Some(usage),
    )
    .limit())
}

/// `redis-benchmark` PUBLISH of a payload the size of a message event, at `clients`
/// concurrency: what one Redis on this machine carries, the ceiling of sends across nodes.
pub async fn redis_publish(
    scenario: &'static str,
    redis_url: &str,
    clients: usize,
    requests: usize,
) -> anyhow::Result<Row> {
    let address = redis_url
        .trim_start_matches("redis://")
        .split('/')
        .next()
        .unwrap_or("127.0.0.1:6379");
    let address = address.rsplit_once('@').map_or(address, |(_, a)| a);
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "6379"));
    let what = format!("redis-benchmark PUBLISH of 700 bytes, {clients} clients");
    eprintln!("  {:<28} {what}", "redis-publish");
    let payload = "x".repeat(700);
    let args = [
        "-h",
        host,
        "-p",
        port,
        "-c",
        &clients.to_string(),
        "-n",
        &requests.to_string(),
        "--csv",
        "publish",
        "natter-bench:limit",
        &payload,
    ]
    .map(str::to_owned);
    let output =
        tokio::task::spawn_blocking(move || Command::new("redis-benchmark").args(&args).output())
            .await?
            .context("running redis-benchmark (Debian: redis-tools)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The CSV's last line: "test","rps","avg","min","p50","p95","p99","max" (ms).
    let fields: Vec<f64> = stdout
        .lines()
        .last()
        .unwrap_or_default()
        .rsplit("\",\"")
        .take(7)
        .filter_map(|f| f.trim_matches('"').parse().ok())
        .collect();
    let [max, p99, p95, p50, _min, _avg, rps] = fields[..] else {
        bail!("redis-benchmark printed no figures: {stdout}");
    };
    let recorder = Recorder::new();
    let mut row = Row::measured(
        "redis-publish",
        scenario,
        what,
        &recorder,
        Duration::from_secs(1),
        None,
    )
    .limit();
    row.ops = requests as u64;
    row.seconds = requests as f64 / rps;
    row.per_second = rps;
    row.latency_ms = crate::stats::Percentiles { p50, p95, p99, max };
    Ok(row)
}
