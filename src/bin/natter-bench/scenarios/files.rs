//! `uploads`: files of 1 MB and 20 MB uploaded by 8 concurrent clients through Slack's flow
//! (`files.getUploadURLExternal`, then the bytes POSTed to the URL it gives), each beside the
//! limit of writing the same bytes straight into the same directory with the same
//! concurrency (a raw copy: no HTTP, no checks, no database); and first, on the fresh node, one
//! upload of `--upload-big-mb` (100 MB) alone, with the server's peak memory beside its memory
//! at rest: uploads stream to storage, so the difference should be a few parts (5 MiB each),
//! not the file.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::client;
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::stats::{Progress, Recorder, rss_kib};

/// Concurrent uploaders.
const CLIENTS: usize = 8;

pub async fn uploads(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    // The big upload first, while the server's memory is still what a fresh node holds (the
    // allocator keeps what the concurrent uploads used, which would hide the difference).
    let mut rows = vec![big_upload(b).await?];
    for mb in [1usize, 20] {
        let bytes = Arc::new(payload(mb * 1024 * 1024));
        let raw = raw_writes(b, mb, &bytes).await?;
        let natter = natter_uploads(b, mb, &bytes).await?;
        let raw_id = raw.id.clone();
        rows.push(raw.limit());
        rows.push(
            natter
                .compare(raw_id.clone(), Metric::PerSecond)
                .rate_at_least(0.5, &raw_id),
        );
    }
    Ok(rows)
}

/// Bytes that compress poorly (as photos and archives do), the same for every file.
fn payload(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// The limit: each client writes the file into the files directory and starts the next.
async fn raw_writes(b: &Bench<'_>, mb: usize, bytes: &Arc<Vec<u8>>) -> anyhow::Result<Row> {
    let dir = b.deployment.files_dir.join("raw-copy");
    tokio::fs::create_dir_all(&dir).await?;
    let id = format!("raw-write-{mb}mb");
    let recorder = Recorder::new();
    let progress = Progress::start(&id, &recorder, &[]);
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for client in 0..CLIENTS {
        let (dir, bytes, recorder) = (dir.clone(), bytes.clone(), recorder.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let started = Instant::now();
                let path = dir.join(format!("{client}-{n}"));
                match tokio::fs::write(&path, bytes.as_slice()).await {
                    Ok(()) => recorder.record(started.elapsed()),
                    Err(e) => recorder.error(e),
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let (elapsed, usage) = progress.finish();
    tokio::fs::remove_dir_all(&dir).await.ok();
    let what =
        format!("the same {mb} MB written straight to the files directory, {CLIENTS} at once");
    Ok(Row::measured(
        id,
        "uploads",
        what,
        &recorder,
        elapsed,
        Some(usage),
    ))
}

/// Natter: each client asks for an upload URL, POSTs the bytes, and starts the next.
async fn natter_uploads(b: &Bench<'_>, mb: usize, bytes: &Arc<Vec<u8>>) -> anyhow::Result<Row> {
    let id = format!("upload-{mb}mb");
    let recorder = Recorder::new();
    let progress = Progress::start(&id, &recorder, &b.deployment.pids());
    let deadline = Instant::now() + b.duration();
    let mut tasks = Vec::new();
    for (i, sender) in b.world.senders.iter().cycle().take(CLIENTS).enumerate() {
        let (http, bytes, recorder) = (b.http.clone(), bytes.clone(), recorder.clone());
        let base = b.deployment.base(i).to_owned();
        let token = sender.token.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let started = Instant::now();
                match upload(&http, &base, &token, &format!("load-{i}-{n}.bin"), &bytes).await {
                    Ok(()) => recorder.record(started.elapsed()),
                    Err(e) => recorder.error(e),
                }
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let (elapsed, usage) = progress.finish();
    let what =
        format!("{mb} MB files through files.getUploadURLExternal + POST, {CLIENTS} clients");
    Ok(Row::measured(
        id,
        "uploads",
        what,
        &recorder,
        elapsed,
        Some(usage),
    ))
}

async fn upload(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    name: &str,
    bytes: &Arc<Vec<u8>>,
) -> anyhow::Result<()> {
    let answer = client::call(
        http,
        base,
        token,
        "files.getUploadURLExternal",
        json!({ "filename": name, "length": bytes.len() }),
    )
    .await?;
    let url = answer["upload_url"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("no upload_url in {answer}"))?;
    let response = http.post(url).body(bytes.as_ref().clone()).send().await?;
    anyhow::ensure!(
        response.status().is_success(),
        "the upload answered {}",
        response.status()
    );
    Ok(())
}

/// One big upload alone: the server's memory at rest, and its peak while the file streams in.
async fn big_upload(b: &Bench<'_>) -> anyhow::Result<Row> {
    let mb = b.args.upload_big_mb;
    let bytes = Arc::new(payload(mb * 1024 * 1024));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let at_rest = rss_kib(&b.deployment.pids());
    let id = format!("upload-{mb}mb-memory");
    let recorder = Recorder::new();
    let progress = Progress::start(&id, &recorder, &b.deployment.pids());
    // The upload lasts a fraction of a second: memory is sampled every 5 ms while it runs
    // (the progress line's sampling, every 250 ms, would miss it).
    let pids = b.deployment.pids();
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let sampling = sampling.clone();
        tokio::spawn(async move {
            let mut peak = 0;
            while sampling.load(Ordering::Relaxed) {
                peak = peak.max(rss_kib(&pids));
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            peak
        })
    };
    let started = Instant::now();
    let sender = &b.world.senders[0];
    let token = &sender.token;
    match upload(&b.http, b.deployment.base(0), token, "big.bin", &bytes).await {
        Ok(()) => recorder.record(started.elapsed()),
        Err(e) => recorder.error(e),
    }
    sampling.store(false, Ordering::Relaxed);
    let peak = sampler.await?;
    let (elapsed, mut usage) = progress.finish();
    usage.rss_kib = usage.rss_kib.max(peak);
    let what = format!(
        "one {mb} MB upload alone; the server's memory at rest was {:.1} MiB, at its peak {:.1} MiB (+{:.1} MiB)",
        at_rest as f64 / 1024.0,
        usage.rss_kib as f64 / 1024.0,
        usage.rss_kib.saturating_sub(at_rest) as f64 / 1024.0
    );
    Ok(Row::measured(
        id,
        "uploads",
        what,
        &recorder,
        elapsed,
        Some(usage),
    ))
}
