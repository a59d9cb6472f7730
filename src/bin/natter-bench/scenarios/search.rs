//! `search`: a generated corpus, indexed through Natter's outbox as sends leave it, then the
//! same two-word queries through Natter's `search.messages` and straight to the backend
//! (Postgres full-text search, or Meilisearch with `MEILI_URL`).
//!
//! Messages are generated in Postgres (twelve words each from a 2,000-word vocabulary, over 20
//! channels and a year), each with its outbox row; the indexing rate is the corpus over the
//! time the running Natter takes to empty the outbox.

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::json;

use crate::client;
use crate::report::{Metric, Row};
use crate::scenarios::Bench;
use crate::stats::{Progress, Recorder};

const CHANNELS: usize = 20;
const VOCABULARY: usize = 2000;

pub async fn search(b: &Bench<'_>) -> anyhow::Result<Vec<Row>> {
    let messages = b.args.search_messages;
    let searcher = b.deployment.user("searcher", Some("bench")).await?;
    let mut channels = Vec::with_capacity(CHANNELS);
    for c in 0..CHANNELS {
        channels.push(
            b.deployment
                .channel("bench", &format!("archive-{c}"), &[&searcher])
                .await?,
        );
    }
    let vocabulary: Vec<String> = (0..VOCABULARY as u64).map(word).collect();
    let db = &b.deployment.db;

    let generated = Recorder::new();
    let progress = Progress::start("search-generate", &generated, &b.deployment.pids());
    sqlx::query(
        "with v as (select $2::text[] as w),
         generated as (
             select $4::bigint[] as channels, n,
                    (select string_agg(v.w[1 + ((n * 7919 + k * 104729) % 2000)::int], ' ')
                     from v, generate_series(1, 12) k) as body,
                    now() - make_interval(secs => (n % 31536000)::float8) as created_at
             from generate_series(1, $1::bigint) n)
         insert into messages (channel_id, seq, user_id, body, created_at)
         select channels[1 + (n - 1) % cardinality(channels)], 1 + (n - 1) / cardinality(channels),
                $3, body, created_at
         from generated",
    )
    .bind(messages)
    .bind(&vocabulary)
    .bind(searcher.id)
    .bind(&channels)
    .execute(db)
    .await?;
    sqlx::query(
        "update channels c set last_seq = (select max(seq) from messages m where m.channel_id = c.id)
         where c.id = any($1)",
    )
    .bind(&channels)
    .execute(db)
    .await?;
    sqlx::query(
        "insert into search_outbox (channel_id, seq, op)
         select channel_id, seq, 'upsert' from messages where channel_id = any($1)",
    )
    .bind(&channels)
    .execute(db)
    .await?;

    let (elapsed, usage) = progress.finish();
    let mut generate_row = Row::measured(
        "search-generate",
        "search",
        format!(
            "{messages} messages generated in Postgres in one statement (the tsvector and its GIN \
             index are updated as each row is inserted), with their outbox rows"
        ),
        &generated,
        elapsed,
        Some(usage),
    );
    generate_row.ops = messages as u64;
    generate_row.per_second = messages as f64 / elapsed.as_secs_f64();

    // Natter indexes the corpus through its outbox (Meilisearch), or drops the rows (Postgres).
    let indexed = Recorder::new();
    let progress = Progress::start("search-index", &indexed, &b.deployment.pids());
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let waiting: i64 = sqlx::query_scalar("select count(*) from search_outbox")
            .fetch_one(db)
            .await?;
        if waiting == 0 {
            break;
        }
        if progress_stalled(&progress) {
            bail!("the search outbox still holds {waiting} rows after 30 minutes");
        }
    }
    let (elapsed, usage) = progress.finish();
    let backend = if b.args.meili_url.is_some() {
        "Meilisearch"
    } else {
        "Postgres"
    };
    let mut index_row = Row::measured(
        "search-index",
        "search",
        format!("the outbox of {messages} messages emptied by Natter into {backend}"),
        &indexed,
        elapsed,
        Some(usage),
    );
    index_row.ops = messages as u64;
    index_row.per_second = messages as f64 / elapsed.as_secs_f64();

    // Every channel the searcher may read: what Natter authorises, and the straight query's.
    let readable: Vec<i64> =
        sqlx::query_scalar("select channel_id from channel_members where user_id = $1")
            .bind(searcher.id)
            .fetch_all(db)
            .await?;
    let workspace_id: i64 = sqlx::query_scalar("select id from workspaces where slug = 'bench'")
        .fetch_one(db)
        .await?;
    let through = Recorder::new();
    let direct = Recorder::new();
    let progress = Progress::start("search", &through, &b.deployment.pids());
    for q in 0..b.args.search_queries {
        let text = format!(
            "{} {}",
            vocabulary[(q * 37) % VOCABULARY],
            vocabulary[(q * 101 + 7) % VOCABULARY]
        );
        let started = Instant::now();
        match through_natter(b, &searcher.token, &text).await {
            Ok(()) => through.record(started.elapsed()),
            Err(e) => through.error(e),
        }
        let started = Instant::now();
        match straight(b, workspace_id, &readable, &text).await {
            Ok(()) => direct.record(started.elapsed()),
            Err(e) => direct.error(e),
        }
    }
    let (elapsed, usage) = progress.finish();
    let shape = format!(
        "{} two-word queries, 20 a page, on {messages} messages",
        b.args.search_queries
    );
    Ok(vec![
        generate_row,
        index_row,
        Row::measured(
            "search-direct",
            "search",
            format!("straight to {backend}, the same queries ({shape})"),
            &direct,
            elapsed,
            None,
        )
        .limit(),
        Row::measured(
            "search",
            "search",
            format!("Web API search.messages ({shape})"),
            &through,
            elapsed,
            Some(usage),
        )
        .compare("search-direct", Metric::P95)
        .at_most(Metric::P95, 50.0),
    ])
}

fn progress_stalled(progress: &Progress) -> bool {
    progress.elapsed() > Duration::from_secs(30 * 60)
}

async fn through_natter(b: &Bench<'_>, token: &str, text: &str) -> anyhow::Result<()> {
    let arguments = json!({ "query": text, "count": 20 });
    client::call(
        &b.http,
        b.deployment.base(0),
        token,
        "search.messages",
        arguments,
    )
    .await?;
    Ok(())
}

/// The query Natter's backend runs, without Natter: the Postgres statement, or Meilisearch's
/// search with the same filter and sort.
async fn straight(
    b: &Bench<'_>,
    workspace_id: i64,
    channel_ids: &[i64],
    text: &str,
) -> anyhow::Result<()> {
    match &b.args.meili_url {
        Some(url) => {
            let ids: Vec<String> = channel_ids.iter().map(i64::to_string).collect();
            let filter = format!(
                "workspace_id = {workspace_id} AND channel_id IN [{}]",
                ids.join(", ")
            );
            b.http
                .post(format!("{url}/indexes/{}/search", b.deployment.meili_index))
                .bearer_auth(b.args.meili_master_key.as_deref().unwrap_or_default())
                .json(&json!({
                    "q": text, "filter": filter, "sort": ["created_at:desc"],
                    "hitsPerPage": 20, "page": 1,
                }))
                .send()
                .await?
                .error_for_status()
                .context("Meilisearch search")?;
        }
        None => {
            let filters = natter::search::db::Filters {
                channel_ids,
                text,
                user_ids: &[],
                before: None,
                after: None,
                has_link: false,
                has_file: false,
                in_thread: false,
                best_match: false,
                limit: 20,
                offset: 0,
            };
            natter::search::db::search(&b.deployment.db, &filters).await?;
        }
    }
    Ok(())
}

/// Pronounceable, distinct words: "bakoli", "tesuma", …
fn word(n: u64) -> String {
    const SYLLABLES: [&str; 20] = [
        "ba", "ko", "li", "te", "su", "ma", "ri", "no", "ve", "da", "pi", "lo", "ze", "ku", "ra",
        "mi", "so", "ne", "gu", "fa",
    ];
    (0..3)
        .map(|i| SYLLABLES[((n / 20u64.pow(i)) % 20) as usize])
        .collect()
}
