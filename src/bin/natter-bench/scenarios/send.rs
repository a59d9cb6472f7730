//! `send`, `hot-channel` and `latency`: closed-loop senders (each waits for its answer before
//! sending again, as pgbench's clients do), through the Web API and over `/ws`.

use std::time::Instant;

use crate::client;
use crate::limits;
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::stats::{Progress, Recorder};

/// `send`: the senders over all the channels, beside pgbench on the same statements at the
/// same concurrency, and Redis PUBLISH (what each send costs Redis when nodes share it).
pub async fn spread(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let (senders, channels) = (b.args.senders, &b.world.channels);
    let shape = format!("{senders} senders, {} channels", channels.len());
    Ok(vec![
        pgbench(b, "pgbench-spread", "send", senders, channels).await?,
        limits::redis_publish(
            "send",
            &b.args.redis,
            senders,
            100_000.min(b.args.senders * 3000),
        )
        .await?,
        http_senders(
            b,
            "send-http",
            "send",
            &format!("HTTP chat.postMessage, {shape}"),
            channels,
        )
        .await?
        .compare("pgbench-spread", Metric::PerSecond)
        .rate_at_least(0.6, "pgbench-spread"),
        ws_senders(b, "send-ws", &shape, channels)
            .await?
            .compare("pgbench-spread", Metric::PerSecond)
            .rate_at_least(0.6, "pgbench-spread"),
    ])
}

/// `hot-channel`: every sender into one channel, where the seq's row lock queues them.
pub async fn hot(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let senders = b.args.senders;
    let hot = &b.world.channels[..1];
    Ok(vec![
        pgbench(b, "pgbench-hot", "hot-channel", senders, hot).await?,
        http_senders(
            b,
            "hot-http",
            "hot-channel",
            &format!("HTTP chat.postMessage, {senders} senders, 1 channel"),
            hot,
        )
        .await?
        .compare("pgbench-hot", Metric::PerSecond)
        .rate_at_least(0.5, "send-http"),
    ])
}

/// `latency`: one sender alone, send → ack over `/ws`.
pub async fn latency(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let channel = b.world.channels[1 % b.world.channels.len()];
    let limit = pgbench(b, "pgbench-single", "latency", 1, &[channel]).await?;
    let sender = &b.world.senders[0];
    let (mut socket, _) =
        client::connect(b.deployment.base(0), &sender.token, &Default::default()).await?;
    let recorder = Recorder::new();
    let progress = Progress::start("latency-ws", &recorder, &b.deployment.pids());
    for n in 0..b.args.latency_messages {
        let id = format!("latency-{n}");
        let started = Instant::now();
        match client::send_and_ack(&mut socket, channel, &id, "one sender, one message").await {
            Ok(_) => recorder.record(started.elapsed()),
            Err(e) => recorder.error(e),
        }
    }
    let (elapsed, usage) = progress.finish();
    let natter = Row::measured(
        "latency-ws",
        "latency",
        "one sender over /ws, send → ack, one at a time",
        &recorder,
        elapsed,
        Some(usage),
    )
    .compare("pgbench-single", Metric::P99)
    .at_most(Metric::P99, 20.0);
    Ok(vec![limit, natter])
}

async fn pgbench(
    b: &Bench<'_>,
    id: &str,
    scenario: &'static str,
    clients: usize,
    channels: &[i64],
) -> anyhow::Result<Row> {
    limits::pgbench(
        id,
        scenario,
        &b.deployment.database_url,
        clients,
        channels,
        b.world.senders[0].id,
        b.args.seconds,
    )
    .await
}

/// Each sender posts with `chat.postMessage` to a random one of `channels` until time is up.
async fn http_senders(
    b: &Bench<'_>,
    id: &str,
    scenario: &'static str,
    what: &str,
    channels: &[i64],
) -> anyhow::Result<Row> {
    let recorder = Recorder::new();
    let progress = Progress::start(id, &recorder, &b.deployment.pids());
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for (i, sender) in b.world.senders.iter().enumerate().take(b.args.senders) {
        let (http, base, token) = (
            b.http.clone(),
            b.deployment.base(i).to_owned(),
            sender.token.clone(),
        );
        let (channels, recorder) = (channels.to_vec(), recorder.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let channel = channels[rand::random_range(0..channels.len())];
                let started = Instant::now();
                match client::post_message(&http, &base, &token, channel, "a load test message")
                    .await
                {
                    Ok(_) => recorder.record(started.elapsed()),
                    Err(e) => recorder.error(e),
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let (elapsed, usage) = progress.finish();
    Ok(Row::measured(
        id,
        scenario,
        what,
        &recorder,
        elapsed,
        Some(usage),
    ))
}

/// Each sender sends `send` frames on its own socket, waiting for each `ack`. Every sender is
/// in every channel, so its socket also receives everyone's messages, as a real client does.
pub async fn ws_senders(
    b: &Bench<'_>,
    id: &str,
    shape: &str,
    channels: &[i64],
) -> anyhow::Result<Row> {
    let targets: Vec<(i64, Option<i64>)> = channels.iter().map(|&c| (c, None)).collect();
    let what = format!("/ws send → ack, {shape}; each socket also receives every message");
    ws_loop(b, id, "send", what, &targets).await
}

/// Each sender, on its own socket, sends to a random one of `targets` (a channel, and a
/// thread's root for a reply) and waits for the `ack`, until time is up.
pub async fn ws_loop(
    b: &Bench<'_>,
    id: &str,
    scenario: &'static str,
    what: String,
    targets: &[(i64, Option<i64>)],
) -> anyhow::Result<Row> {
    let mut sockets = Vec::new();
    for (i, sender) in b.world.senders.iter().enumerate().take(b.args.senders) {
        let (socket, _) =
            client::connect(b.deployment.base(i), &sender.token, &Default::default()).await?;
        sockets.push(socket);
    }
    let recorder = Recorder::new();
    let progress = Progress::start(id, &recorder, &b.deployment.pids());
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for (i, mut socket) in sockets.into_iter().enumerate() {
        let (targets, recorder) = (targets.to_vec(), recorder.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let id = format!("ws-{i}-{n}");
                let (channel, root) = targets[rand::random_range(0..targets.len())];
                let started = Instant::now();
                let sent = async {
                    client::send_in_thread(&mut socket, channel, root, &id, "a load test message")
                        .await?;
                    client::await_ack(&mut socket, &id).await
                };
                match sent.await {
                    Ok(_) => recorder.record(started.elapsed()),
                    Err(e) => {
                        recorder.error(e);
                        return;
                    }
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let (elapsed, usage) = progress.finish();
    Ok(Row::measured(
        id,
        scenario,
        what,
        &recorder,
        elapsed,
        Some(usage),
    ))
}
