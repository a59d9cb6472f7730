//! `resume`: a client goes away, messages arrive over many channels, the client comes back
//! with its cursors; the time from opening the socket to holding every missed message. Beside
//! it, the same rows read straight from Postgres: the reads a catch-up cannot avoid.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::bail;
use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

use crate::client;
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::stats::{Progress, Recorder};

/// Senders posting the missed messages at once (their speed is not what is measured).
const POSTING_AT_ONCE: usize = 8;

pub async fn resume(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let channels: Vec<i64> =
        b.world.channels[..b.args.resume_channels.min(b.world.channels.len())].to_vec();
    let missed = b.args.resume_messages;
    let base = b.deployment.base(0);
    let resumer = &b.world.resumer;
    let natter = Recorder::new();
    let sql = Recorder::new();
    let progress = Progress::start("resume", &natter, &b.deployment.pids());
    // The cursors the client keeps: the last seq it holds per channel.
    let (socket, last_seqs) = client::connect(base, &resumer.token, &HashMap::new()).await?;
    drop(socket);
    let mut cursors: HashMap<i64, i64> = channels
        .iter()
        .map(|c| (*c, last_seqs.get(c).copied().unwrap_or(0)))
        .collect();
    for _ in 0..b.args.resume_rounds {
        post_while_away(b, &channels, missed).await?;
        let started = Instant::now();
        match catch_up(base, &resumer.token, &cursors, missed).await {
            Ok(caught_up) => {
                natter.record(started.elapsed());
                // The limit: the same rows, straight from Postgres, one range read per channel.
                let started = Instant::now();
                let rows = read_straight(b, &cursors).await?;
                sql.record(started.elapsed());
                if rows != missed {
                    sql.error(format!("read {rows} rows straight, expected {missed}"));
                }
                cursors = caught_up;
            }
            Err(e) => {
                natter.error(e);
                break;
            }
        }
    }
    let (elapsed, usage) = progress.finish();
    let shape = format!("{missed} messages missed over {} channels", channels.len());
    Ok(vec![
        Row::measured(
            "resume-sql",
            "resume",
            format!(
                "the same rows read straight from Postgres, one range read per channel ({shape})"
            ),
            &sql,
            elapsed,
            None,
        )
        .limit(),
        Row::measured(
            "resume",
            "resume",
            format!("/ws hello with cursors → every missed message received ({shape})"),
            &natter,
            elapsed,
            Some(usage),
        )
        .compare("resume-sql", Metric::P50)
        .at_most(Metric::P99, 200.0),
    ])
}

/// Posts `count` messages over `channels` through the Web API, round robin.
async fn post_while_away(b: &Bench<'_>, channels: &[i64], count: usize) -> anyhow::Result<()> {
    let sender = &b.world.senders[0];
    let posts = futures_util::stream::iter(0..count)
        .map(|n| {
            let channel = channels[n % channels.len()];
            client::post_message(
                &b.http,
                b.deployment.base(n),
                &sender.token,
                channel,
                "posted while you were away",
            )
        })
        .buffer_unordered(POSTING_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
    posts.into_iter().collect::<anyhow::Result<Vec<_>>>()?;
    Ok(())
}

/// Connects with `cursors` and reads until `expected` missed messages came; the new cursors.
async fn catch_up(
    base: &str,
    token: &str,
    cursors: &HashMap<i64, i64>,
    expected: usize,
) -> anyhow::Result<HashMap<i64, i64>> {
    let (mut socket, _) = client::connect(base, token, cursors).await?;
    let mut cursors = cursors.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut received = 0;
    while received < expected {
        let frame = match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(frame)) => frame?,
            Ok(None) => bail!("the socket closed after {received} of {expected} messages"),
            Err(_) => bail!("{received} of {expected} missed messages in 30 s"),
        };
        let Message::Text(text) = frame else { continue };
        let Some(head) = client::head(&text) else {
            continue;
        };
        match (head.kind, head.channel_id, head.seq) {
            ("message", Some(channel), Some(seq)) => {
                let cursor = cursors.entry(channel).or_insert(0);
                if seq > *cursor {
                    *cursor = seq;
                    received += 1;
                }
            }
            ("gap", _, _) => bail!("the server answered with a gap: {text}"),
            _ => {}
        }
    }
    Ok(cursors)
}

/// Reads what a catch-up must read, straight: each channel's messages after its cursor, with
/// their authors; the number of rows.
async fn read_straight(b: &Bench<'_>, cursors: &HashMap<i64, i64>) -> anyhow::Result<usize> {
    let mut rows = 0;
    let mut connection = b.deployment.db.acquire().await?;
    for (channel, after) in cursors {
        let read: Vec<(i64, String, String)> = sqlx::query_as(
            "select m.seq, m.body, u.username from messages m join users u on u.id = m.user_id
             where m.channel_id = $1 and m.seq > $2 order by m.seq limit 501",
        )
        .bind(channel)
        .bind(after)
        .fetch_all(&mut *connection)
        .await?;
        rows += read.len();
    }
    Ok(rows)
}
