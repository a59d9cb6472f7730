//! `threads` and `reactions`: what #13 added to a conversation, each beside a baseline measured
//! in the same run on the same deployment.
//!
//! - `threads`: the senders reply over `/ws` into 100 threads spread over the channels, beside
//!   the same senders sending top-level messages to those channels (a reply also updates its
//!   root and the thread's follows in the send statement: this row shows what that costs).
//! - `reactions`: 32 people (the senders) toggle reactions on ten hot messages of one channel,
//!   each once a second as a person clicks, while 1,000 sockets (the first `--fanout-sockets`
//!   size) watch it (each change is a frame to all of them); beside a few people posting into
//!   that channel ten times a second each, alone and then with the reactions going on, the goal
//!   being that reactions slow those sends (their p99, send → ack) by 10% at most. Both loads
//!   are paced, as people are: a closed loop as fast as answers come would saturate this
//!   two-core machine on its own and measure only how the cores are shared. Then the same
//!   people toggle as fast as the answers come, alone: what one node carries.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::StreamExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::client::{self, Socket};
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::scenarios::send::{ws_loop, ws_senders};
use crate::stats::{Progress, Recorder};

/// Threads the `threads` senders reply into.
const THREADS: usize = 100;
/// Hot messages the `reactions` people toggle on, and the emoji they pick from (the paced
/// phase the first four, the flat-out phase the others, so each starts from none).
const HOT_MESSAGES: usize = 10;
const EMOJI: [[&str; 4]; 2] = [
    ["+1", "tada", "eyes", "heart"],
    ["rocket", "joy", "fire", "100"],
];
/// How often each hot-channel sender sends.
const SEND_EVERY: std::time::Duration = std::time::Duration::from_millis(100);
/// Senders posting into the hot channel, alone and beside the reactions.
const HOT_SENDERS: usize = 8;

pub async fn threads(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let channels = &b.world.channels;
    let owner = &b.world.senders[0];
    let mut roots = Vec::with_capacity(THREADS);
    for n in 0..THREADS {
        let channel = channels[n % channels.len()];
        let seq = client::post_message(
            &b.http,
            b.deployment.base(0),
            &owner.token,
            channel,
            "a thread to reply in",
        )
        .await?;
        roots.push((channel, seq));
    }
    let shape = format!("{} senders, {} channels", b.args.senders, channels.len());
    let baseline = ws_senders(b, "thread-baseline-ws", &shape, channels).await?;
    let targets: Vec<(i64, Option<i64>)> = roots.iter().map(|&(c, r)| (c, Some(r))).collect();
    let what = format!(
        "/ws replies → ack, {} senders into {} threads",
        b.args.senders,
        roots.len()
    );
    let replies = ws_loop(b, "reply-ws", "threads", what, &targets).await?;
    Ok(vec![
        baseline.limit(),
        replies
            .compare("thread-baseline-ws", Metric::PerSecond)
            .rate_at_least(0.8, "thread-baseline-ws"),
    ])
}

pub async fn reactions(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let channel = b.world.channels[0];
    let base = b.deployment.base(0);
    // The watchers are the listener's sockets: it joins the hot channel for this scenario.
    sqlx::query(
        "insert into channel_members (channel_id, user_id, last_read_seq, read_shown)
         select id, $2, last_seq, shown_total from channels where id = $1 on conflict do nothing",
    )
    .bind(channel)
    .bind(b.world.listener.id)
    .execute(&b.deployment.db)
    .await?;
    let owner = &b.world.senders[0];
    let mut hot = Vec::with_capacity(HOT_MESSAGES);
    for _ in 0..HOT_MESSAGES {
        let seq = client::post_message(&b.http, base, &owner.token, channel, "react to me").await?;
        let answer = client::call(
            &b.http,
            base,
            &owner.token,
            "conversations.history",
            json!({ "channel": format!("C{channel}"), "limit": 1 }),
        )
        .await?;
        let ts = answer["messages"][0]["ts"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        anyhow::ensure!(
            ts.ends_with(&format!("{seq:06}")),
            "the hot message's ts: {answer}"
        );
        hot.push(ts);
    }
    // The first `fanout` size: 1,000 by default.
    let watchers_n = b.args.fanout_sockets.first().copied().unwrap_or(1000);
    eprintln!("  reactions                    opening {watchers_n} watching sockets");
    let frames = Arc::new(AtomicU64::new(0));
    let mut watchers = Vec::new();
    for i in 0..watchers_n {
        let (socket, _) = client::connect(
            b.deployment.base(i),
            &b.world.listener.token,
            &HashMap::new(),
        )
        .await?;
        watchers.push(tokio::spawn(watch(socket, frames.clone())));
    }
    let senders = &b.world.senders[b.args.senders.saturating_sub(HOT_SENDERS)..b.args.senders];
    let alone = hot_senders(b, "hot-send-alone", senders, (channel, watchers_n), false).await?;
    let (with, toggles) = tokio::join!(
        hot_senders(b, "hot-send-reacting", senders, (channel, watchers_n), true),
        togglers(
            b,
            "reactions-paced",
            (channel, watchers_n),
            &hot,
            &frames,
            true
        ),
    );
    let flat_out = togglers(
        b,
        "reactions-max",
        (channel, watchers_n),
        &hot,
        &frames,
        false,
    )
    .await?;
    for watcher in watchers {
        watcher.abort();
    }
    Ok(vec![
        alone.limit(),
        with?
            .compare("hot-send-alone", Metric::P99)
            .latency_at_most(Metric::P99, 1.1, "hot-send-alone"),
        toggles?,
        flat_out,
    ])
}

/// Reads a watcher's frames, counting the reaction frames it gets.
async fn watch(mut socket: Socket, frames: Arc<AtomicU64>) {
    while let Some(Ok(message)) = socket.next().await {
        if let Message::Text(text) = message
            && client::head(&text).is_some_and(|h| h.kind.starts_with("reaction."))
        {
            frames.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A few senders posting into the hot channel over `/ws`; with `busy`, while the reactions run
/// (the togglers start at the same moment and run as long).
async fn hot_senders(
    b: &Bench<'_>,
    id: &str,
    senders: &[crate::deployment::User],
    (channel, watchers): (i64, usize),
    busy: bool,
) -> anyhow::Result<Row> {
    let mut sockets = Vec::new();
    for sender in senders {
        let (socket, _) =
            client::connect(b.deployment.base(0), &sender.token, &HashMap::new()).await?;
        sockets.push(socket);
    }
    let recorder = Recorder::new();
    let progress = Progress::start(id, &recorder, &b.deployment.pids());
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for (i, mut socket) in sockets.into_iter().enumerate() {
        let recorder = recorder.clone();
        let prefix = format!("{id}-{i}");
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut ticks = tokio::time::interval(SEND_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < deadline {
                ticks.tick().await;
                n += 1;
                let id = format!("{prefix}-{n}");
                let started = Instant::now();
                match client::send_and_ack(&mut socket, channel, &id, "a message beside reactions")
                    .await
                {
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
    let when = if busy {
        format!("while {} people toggle reactions", b.args.senders)
    } else {
        "alone".to_owned()
    };
    Ok(Row::measured(
        id,
        "reactions",
        format!(
            "/ws send → ack, {} senders ten times a second each into the hot channel ({watchers} sockets watching), {when}",
            senders.len()
        ),
        &recorder,
        elapsed,
        Some(usage),
    ))
}

/// Every sender toggles reactions on the hot messages with `reactions.add` and
/// `reactions.remove`: once a second each when `paced` (starting at random moments), else as
/// fast as the answers come.
async fn togglers(
    b: &Bench<'_>,
    id: &str,
    (channel, watchers): (i64, usize),
    hot: &[String],
    frames: &Arc<AtomicU64>,
    paced: bool,
) -> anyhow::Result<Row> {
    let recorder = Recorder::new();
    let before = frames.load(Ordering::Relaxed);
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for sender in b.world.senders.iter().take(b.args.senders) {
        let (http, base, token) = (
            b.http.clone(),
            b.deployment.base(0).to_owned(),
            sender.token.clone(),
        );
        let (hot, recorder) = (hot.to_vec(), recorder.clone());
        tasks.push(tokio::spawn(async move {
            // What this person has on each (message, emoji): toggling flips it.
            let mut mine: HashMap<(usize, usize), bool> = HashMap::new();
            let start = tokio::time::Instant::now()
                + std::time::Duration::from_millis(rand::random_range(0..1000));
            let mut clicks = tokio::time::interval_at(start, std::time::Duration::from_secs(1));
            clicks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while Instant::now() < deadline {
                if paced {
                    clicks.tick().await;
                    if Instant::now() >= deadline {
                        break;
                    }
                }
                let emoji = EMOJI[usize::from(!paced)];
                let key = (
                    rand::random_range(0..hot.len()),
                    rand::random_range(0..emoji.len()),
                );
                let on = mine.entry(key).or_default();
                let method = if *on {
                    "reactions.remove"
                } else {
                    "reactions.add"
                };
                let arguments = json!({
                    "channel": format!("C{channel}"), "timestamp": hot[key.0], "name": emoji[key.1],
                });
                let started = Instant::now();
                match client::call(&http, &base, &token, method, arguments).await {
                    Ok(_) => {
                        *on = !*on;
                        recorder.record(started.elapsed());
                    }
                    Err(e) => recorder.error(e),
                }
            }
        }));
    }
    // Measured over the same window as the busy senders, so CPU is the whole load's.
    let progress = Progress::start(id, &recorder, &b.deployment.pids());
    for task in tasks {
        task.await?;
    }
    let (elapsed, usage) = progress.finish();
    // Give the last frames a moment to reach the watchers before counting.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let delivered = frames.load(Ordering::Relaxed) - before;
    let pace = if paced {
        "each once a second"
    } else {
        "as fast as answered, alone"
    };
    Ok(Row::measured(
        id,
        "reactions",
        format!(
            "reactions.add/remove by {} people on {} hot messages, {pace}; {delivered} reaction frames reached the {watchers} watching sockets",
            b.args.senders,
            hot.len()
        ),
        &recorder,
        elapsed,
        Some(usage),
    ))
}
