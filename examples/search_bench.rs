//! Search benchmark: index N generated messages through the outbox, then time the same queries
//! through Natter's `search.messages` and straight to the backend.
//!
//! ```sh
//! cargo build --release --bin natter --example search_bench
//! MEILI_URL=http://127.0.0.1:7700 MEILI_MASTER_KEY=… target/release/examples/search_bench --messages 1000000
//! target/release/examples/search_bench --messages 1000000        # Postgres full-text search
//! ```
//!
//! Messages are generated in Postgres (twelve words each from a 2,000-word vocabulary, spread
//! over 20 channels and a year), with their outbox rows, exactly as sends leave them; the
//! indexing rate is messages divided by the time the running Natter takes to empty the outbox.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::postgres::PgPoolOptions;

struct Natter(Child);

impl Drop for Natter {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn cli(database_url: &str, args: &[&str]) -> String {
    let output = Command::new("target/release/natter")
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "error")
        .output()
        .expect("build natter first: cargo build --release --bin natter");
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[(((sorted.len() - 1) as f64) * p).round() as usize]
}

fn word(n: u64) -> String {
    // Pronounceable, distinct words: "bakoli", "tesuma", …
    const SYLLABLES: [&str; 20] = [
        "ba", "ko", "li", "te", "su", "ma", "ri", "no", "ve", "da", "pi", "lo", "ze", "ku", "ra",
        "mi", "so", "ne", "gu", "fa",
    ];
    (0..3)
        .map(|i| SYLLABLES[((n / 20u64.pow(i)) % 20) as usize])
        .collect()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().collect();
    let flag = |name: &str, default: i64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let messages = flag("--messages", 1_000_000);
    let queries = flag("--queries", 200) as usize;
    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let database_url = format!("{admin}/natter_search_bench");
    let meili_url = std::env::var("MEILI_URL").ok();
    let meili_key = std::env::var("MEILI_MASTER_KEY").ok();
    let index = "natter_search_bench";
    let _ = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-qc",
            "drop database if exists natter_search_bench with (force)",
        ])
        .status();
    if let Some(url) = &meili_url {
        let client = reqwest::Client::new();
        let _ = client
            .delete(format!("{url}/indexes/{index}"))
            .bearer_auth(meili_key.clone().unwrap_or_default())
            .send()
            .await;
    }

    cli(
        &database_url,
        &[
            "user",
            "create",
            "--email",
            "bench@example.com",
            "--username",
            "bench",
            "--name",
            "Bench",
            "--password",
            "benchmark-password",
        ],
    );
    cli(
        &database_url,
        &[
            "workspace",
            "create",
            "--slug",
            "bench",
            "--name",
            "Bench",
            "--owner",
            "bench@example.com",
        ],
    );
    for c in 1..20 {
        cli(
            &database_url,
            &[
                "channel",
                "create",
                "--workspace",
                "bench",
                "--name",
                &format!("c{c}"),
                "--members",
                "bench@example.com",
            ],
        );
    }
    let token = cli(
        &database_url,
        &["token", "create", "--email", "bench@example.com"],
    )
    .trim()
    .lines()
    .last()
    .unwrap()
    .to_owned();
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect(&database_url)
        .await?;
    let vocabulary: Vec<String> = (0..2000).map(word).collect();

    // Generate the corpus in Postgres, with its outbox rows, as sends would have left it.
    let started = Instant::now();
    sqlx::query(
        "with v as (select $2::text[] as w),
         generated as (
             select ((n - 1) % 20) + 1 as channel_id, ((n - 1) / 20) + 1 as seq,
                    (select string_agg(v.w[1 + ((n * 7919 + k * 104729) % 2000)::int], ' ')
                     from v, generate_series(1, 12) k) as body,
                    now() - make_interval(secs => (n % 31536000)::float8) as created_at
             from generate_series(1, $1::bigint) n)
         insert into messages (channel_id, seq, user_id, body, created_at)
         select channel_id, seq, 1, body, created_at from generated",
    )
    .bind(messages)
    .bind(&vocabulary)
    .execute(&db)
    .await?;
    sqlx::query("update channels c set last_seq = (select coalesce(max(seq), 0) from messages m where m.channel_id = c.id)").execute(&db).await?;
    sqlx::query("insert into search_outbox (channel_id, seq, op) select channel_id, seq, 'upsert' from messages").execute(&db).await?;
    let generated = started.elapsed();
    println!(
        "generated {messages} messages in {generated:.1?} ({:.0}/s)",
        messages as f64 / generated.as_secs_f64()
    );
    if meili_url.is_none() {
        println!(
            "Postgres indexes each message as it is inserted (stored tsvector, GIN index): the rate above includes it"
        );
    }

    // Natter indexes them through the outbox.
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let mut command = Command::new("target/release/natter");
    command
        .env("DATABASE_URL", &database_url)
        .env("NATTER_BIND", format!("127.0.0.1:{port}"))
        .env("MEILI_INDEX", index)
        .env("RUST_LOG", "error")
        .stdout(Stdio::null());
    if meili_url.is_none() {
        command.env_remove("MEILI_URL");
    }
    let _natter = Natter(command.spawn()?);
    let indexing = Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let waiting: i64 = sqlx::query_scalar("select count(*) from search_outbox")
            .fetch_one(&db)
            .await?;
        eprint!(
            "\rwaiting in the outbox: {waiting:>9} after {:.0?}",
            indexing.elapsed()
        );
        if waiting == 0 {
            break;
        }
    }
    let elapsed = indexing.elapsed();
    eprintln!();
    let backend = if meili_url.is_some() {
        "Meilisearch"
    } else {
        "Postgres"
    };
    println!(
        "{backend}: outbox of {messages} drained in {elapsed:.1?}: {:.0} messages/s",
        messages as f64 / elapsed.as_secs_f64()
    );

    // The same queries through Natter and straight to the backend.
    let client = reqwest::Client::new();
    let mut through_natter = Vec::with_capacity(queries);
    let mut direct = Vec::with_capacity(queries);
    let channel_ids: Vec<i64> = (1..=20).collect();
    for q in 0..queries {
        let text = format!(
            "{} {}",
            vocabulary[(q * 37) % 2000],
            vocabulary[(q * 101 + 7) % 2000]
        );
        let t = Instant::now();
        let answer: Value = client
            .post(format!("{base}/api/search.messages"))
            .bearer_auth(&token)
            .form(&[("query", text.as_str()), ("count", "20")])
            .send()
            .await?
            .json()
            .await?;
        through_natter.push(t.elapsed());
        assert_eq!(answer["ok"], true, "{answer}");
        let t = Instant::now();
        match &meili_url {
            Some(url) => {
                let filter = format!(
                    "workspace_id = 1 AND channel_id IN [{}]",
                    channel_ids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                client
                    .post(format!("{url}/indexes/{index}/search"))
                    .bearer_auth(meili_key.clone().unwrap_or_default())
                    .json(&json!({ "q": text, "filter": filter, "sort": ["created_at:desc"], "hitsPerPage": 20, "page": 1 }))
                    .send()
                    .await?
                    .error_for_status()?;
            }
            None => {
                let filters = natter::search::db::Filters {
                    channel_ids: &channel_ids,
                    text: &text,
                    user_ids: &[],
                    before: None,
                    after: None,
                    has_link: false,
                    best_match: false,
                    limit: 20,
                    offset: 0,
                };
                natter::search::db::search(&db, &filters).await?;
            }
        }
        direct.push(t.elapsed());
        // Stay under the Web API's per-user limit (bursts of 100, then 20 a second).
        tokio::time::sleep(Duration::from_millis(55)).await;
    }
    through_natter.sort();
    direct.sort();
    println!(
        "{backend}, {messages} messages, {queries} two-word queries: through Natter p50 {:.2?} p95 {:.2?}; straight to the backend p50 {:.2?} p95 {:.2?}",
        percentile(&through_natter, 0.5),
        percentile(&through_natter, 0.95),
        percentile(&direct, 0.5),
        percentile(&direct, 0.95)
    );
    Ok(())
}
