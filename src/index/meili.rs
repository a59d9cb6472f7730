//! The Meilisearch backend: documents, settings, queries, and the outbox worker that feeds it.
//!
//! Documents are `{id: "<channel_id>_<seq>", workspace_id, channel_id, seq, user_id, text,
//! created_at, has_link}`, with markdown stripped from `text`. The index never decides who
//! may read what: every query carries a filter on the workspace and the channels the asker may
//! read, computed from Postgres. Changes arrive only through `search_outbox`: a worker claims
//! rows with `for update skip locked`, sends them in batches, waits for Meilisearch to finish
//! the task, then deletes them; if Meilisearch is down the rows wait and are retried.

use std::time::Duration;

use anyhow::Context;
use meilisearch_sdk::client::Client;
use meilisearch_sdk::search::Selectors;
use meilisearch_sdk::settings::Settings;
use meilisearch_sdk::task_info::TaskInfo;
use meilisearch_sdk::tasks::Task;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Doc {
    pub id: String,
    pub workspace_id: i64,
    pub channel_id: i64,
    pub seq: i64,
    pub user_id: i64,
    pub text: String,
    pub created_at: i64,
    pub has_link: bool,
    /// A reply in a thread (`is:thread`).
    #[serde(default)]
    pub is_reply: bool,
    /// The names of the files it shares (searched like its text), and whether it shares any
    /// (`has:file`).
    #[serde(default)]
    pub files: String,
    #[serde(default)]
    pub has_file: bool,
}

pub struct Meili {
    pub client: Client,
    /// The index that serves searches (`MEILI_INDEX`); `natter search reindex` builds a new
    /// one beside it and swaps.
    pub index: String,
}

/// One change waiting in the outbox.
#[derive(sqlx::FromRow)]
struct Change {
    id: i64,
    channel_id: i64,
    seq: i64,
    op: String,
}

/// A message as the index needs it.
#[derive(sqlx::FromRow)]
struct Source {
    channel_id: i64,
    seq: i64,
    workspace_id: i64,
    user_id: i64,
    body: String,
    created_at: time::OffsetDateTime,
    deleted: bool,
    is_reply: bool,
    file_names: Option<String>,
}

/// Changes sent per Meilisearch task: fewer, larger tasks index much faster than many small.
const BATCH: i64 = 5000;

pub fn doc_id(channel_id: i64, seq: i64) -> String {
    format!("{channel_id}_{seq}")
}

impl Meili {
    pub fn new(url: &str, key: Option<&str>, index: &str) -> anyhow::Result<Self> {
        let client =
            Client::new(url, key).map_err(|e| anyhow::anyhow!("MEILI_URL={url:?}: {e}"))?;
        Ok(Self {
            client,
            index: index.to_owned(),
        })
    }

    /// Waits until Meilisearch has applied a task, and fails if it refused it: a task that
    /// fails (a malformed document, a bad setting) is an error like an unreachable server, so
    /// the outbox keeps the change and says why in the log.
    async fn wait(&self, task: TaskInfo, timeout: Duration) -> anyhow::Result<()> {
        let done = task
            .wait_for_completion(&self.client, Some(Duration::from_millis(50)), Some(timeout))
            .await?;
        if let Task::Failed { content } = done {
            anyhow::bail!(
                "Meilisearch refused task {}: {}",
                content.task.uid,
                content.error.error_message
            );
        }
        Ok(())
    }

    /// Filterable, sortable and searchable attributes; applying them twice changes nothing.
    pub async fn apply_settings(&self, index: &str) -> anyhow::Result<()> {
        let settings = Settings::new()
            .with_filterable_attributes([
                "workspace_id",
                "channel_id",
                "user_id",
                "created_at",
                "has_link",
                "is_reply",
                "has_file",
            ])
            // seq breaks ties between messages of one second, in the order they were sent.
            .with_sortable_attributes(["created_at", "seq"])
            .with_searchable_attributes(["text", "files"]);
        let task = self.client.index(index).set_settings(&settings).await?;
        self.wait(task, Duration::from_secs(60)).await?;
        Ok(())
    }

    /// Writes documents and waits until Meilisearch has applied them.
    pub async fn upsert(&self, index: &str, docs: &[Doc]) -> anyhow::Result<()> {
        if docs.is_empty() {
            return Ok(());
        }
        let task = self
            .client
            .index(index)
            .add_or_replace(docs, Some("id"))
            .await?;
        self.wait(task, Duration::from_secs(60)).await?;
        Ok(())
    }

    pub async fn delete(&self, index: &str, ids: &[String]) -> anyhow::Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let task = self.client.index(index).delete_documents(ids).await?;
        self.wait(task, Duration::from_secs(60)).await?;
        Ok(())
    }

    /// Runs a query with a filter; returns (channel_id, seq, snippet with \u{1}/\u{2} marks)
    /// and the total.
    pub async fn search(
        &self,
        text: &str,
        filter: &str,
        newest_first: bool,
        page: usize,
        per_page: usize,
    ) -> anyhow::Result<(Vec<(i64, i64, String)>, i64)> {
        let index = self.client.index(&self.index);
        let mut query = index.search();
        let sort = ["created_at:desc", "seq:desc"];
        query
            .with_query(text)
            .with_filter(filter)
            .with_page(page)
            .with_hits_per_page(per_page)
            .with_attributes_to_highlight(Selectors::Some(&["text"]))
            .with_attributes_to_crop(Selectors::Some(&[("text", Some(40))]))
            .with_highlight_pre_tag("\u{1}")
            .with_highlight_post_tag("\u{2}");
        if newest_first {
            query.with_sort(&sort);
        }
        let results = query.execute::<Doc>().await?;
        let total = results
            .total_hits
            .or(results.estimated_total_hits)
            .unwrap_or(0) as i64;
        let hits = results
            .hits
            .into_iter()
            .map(|hit| {
                let snippet = hit
                    .formatted_result
                    .as_ref()
                    .and_then(|f| f.get("text"))
                    .and_then(|t| t.as_str())
                    .map_or_else(|| hit.result.text.clone(), str::to_owned);
                (hit.result.channel_id, hit.result.seq, snippet)
            })
            .collect();
        Ok((hits, total))
    }
}

/// The text as searched: markdown syntax and HTML stripped to words.
fn plain_text(body: &str) -> String {
    use pulldown_cmark::{Event, Parser};
    let mut text = String::with_capacity(body.len());
    for event in Parser::new(body) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t);
                text.push(' ');
            }
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn doc(source: &Source) -> Doc {
    let rendered = crate::markdown::render(&source.body);
    Doc {
        id: doc_id(source.channel_id, source.seq),
        workspace_id: source.workspace_id,
        channel_id: source.channel_id,
        seq: source.seq,
        user_id: source.user_id,
        text: plain_text(&source.body),
        created_at: source.created_at.unix_timestamp(),
        has_link: rendered.has_link,
        is_reply: source.is_reply,
        has_file: source.file_names.is_some(),
        files: source.file_names.clone().unwrap_or_default(),
    }
}

const SOURCE_COLUMNS: &str = "m.channel_id, m.seq, c.workspace_id, m.user_id, m.body, m.created_at, m.deleted_at is not null as deleted,
     m.thread_root_seq is not null as is_reply,
     case when m.file_count > 0 then
         (select string_agg(f.name || ' ' || f.title, ' ' order by s.position)
          from file_shares s join files f on f.id = s.file_id and f.state = 'ready'
          where s.channel_id = m.channel_id and s.seq = m.seq)
     end as file_names";

/// One round of the outbox worker: up to `batch` changes sent and confirmed. Returns how many
/// changes were applied; an error leaves them to be retried.
async fn drain_once(pool: &PgPool, meili: &Meili, batch: i64) -> anyhow::Result<usize> {
    let changes: Vec<Change> = sqlx::query_as(
        "update search_outbox o set next_attempt_at = now() + interval '2 minutes', attempts = o.attempts + 1
         where o.id in (select id from search_outbox where next_attempt_at <= now()
                        order by id limit $1 for update skip locked)
         returning o.id, o.channel_id, o.seq, o.op",
    )
    .bind(batch)
    .fetch_all(pool)
    .await?;
    if changes.is_empty() {
        return Ok(0);
    }
    let keys: Vec<(i64, i64)> = changes.iter().map(|c| (c.channel_id, c.seq)).collect();
    let (channel_ids, seqs): (Vec<i64>, Vec<i64>) = keys.iter().copied().unzip();
    let sources: Vec<Source> = sqlx::query_as(&format!(
        "select {SOURCE_COLUMNS} from messages m join channels c on c.id = m.channel_id
         join unnest($1::bigint[], $2::bigint[]) as k(channel_id, seq) on k.channel_id = m.channel_id and k.seq = m.seq"
    ))
    .bind(&channel_ids)
    .bind(&seqs)
    .fetch_all(pool)
    .await?;
    // The message as it is now decides: a change superseded by a delete is a delete.
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for change in &changes {
        let source = sources
            .iter()
            .find(|s| s.channel_id == change.channel_id && s.seq == change.seq);
        match source {
            Some(s) if !s.deleted && change.op == "upsert" => upserts.push(doc(s)),
            _ => deletes.push(doc_id(change.channel_id, change.seq)),
        }
    }
    meili.upsert(&meili.index, &upserts).await?;
    meili.delete(&meili.index, &deletes).await?;
    let ids: Vec<i64> = changes.iter().map(|c| c.id).collect();
    sqlx::query("delete from search_outbox where id = any($1)")
        .bind(&ids)
        .execute(pool)
        .await?;
    Ok(changes.len())
}

/// Feeds Meilisearch from the outbox forever, backing off while it is unreachable.
pub async fn run_worker(pool: PgPool, meili: std::sync::Arc<Meili>) {
    let mut settings_applied = false;
    let mut backoff = Duration::from_millis(500);
    loop {
        if !settings_applied {
            match meili.apply_settings(&meili.index).await {
                Ok(()) => settings_applied = true,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot reach Meilisearch to apply index settings; messages wait in the outbox");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        match drain_once(&pool, &meili, BATCH).await {
            Ok(0) => {
                backoff = Duration::from_millis(500);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(_) => backoff = Duration::from_millis(500),
            Err(e) => {
                let lag = super::outbox::lag_secs(&pool).await.unwrap_or(0.0);
                tracing::warn!(error = %e, lag_secs = lag, "cannot index in Meilisearch; retrying with backoff (nothing is lost)");
                // Make the claimed rows due again after the backoff, not after the lease.
                let _ = sqlx::query("update search_outbox set next_attempt_at = now() + make_interval(secs => $1) where next_attempt_at > now()")
                    .bind(backoff.as_secs_f64())
                    .execute(&pool)
                    .await;
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Rebuilds the whole index from Postgres into a new index, then swaps it in: searches keep
/// working on the old one until the swap. Reports progress with a count and a rate.
pub async fn reindex(
    pool: &PgPool,
    meili: &Meili,
    mut progress: impl FnMut(i64, f64),
) -> anyhow::Result<i64> {
    let fresh = format!("{}_rebuild", meili.index);
    let _ = meili.client.index(&fresh).delete().await;
    meili
        .apply_settings(&fresh)
        .await
        .context("cannot create the new index")?;
    let started = std::time::Instant::now();
    let (mut after_channel, mut after_seq, mut done) = (0i64, 0i64, 0i64);
    loop {
        let batch: Vec<Source> = sqlx::query_as(&format!(
            "select {SOURCE_COLUMNS} from messages m join channels c on c.id = m.channel_id
             where (m.channel_id, m.seq) > ($1, $2) and m.deleted_at is null
             order by m.channel_id, m.seq limit 5000"
        ))
        .bind(after_channel)
        .bind(after_seq)
        .fetch_all(pool)
        .await?;
        let Some(last) = batch.last() else { break };
        (after_channel, after_seq) = (last.channel_id, last.seq);
        let docs: Vec<Doc> = batch.iter().map(doc).collect();
        meili.upsert(&fresh, &docs).await?;
        done += docs.len() as i64;
        progress(
            done,
            done as f64 / started.elapsed().as_secs_f64().max(0.001),
        );
    }
    // Make sure the serving index exists, then swap the rebuilt one in and drop the old.
    meili.apply_settings(&meili.index).await?;
    let swap = meilisearch_sdk::client::SwapIndexes {
        indexes: (meili.index.clone(), fresh.clone()),
        rename: None,
    };
    let task = meili.client.swap_indexes([&swap]).await?;
    meili.wait(task, Duration::from_secs(120)).await?;
    let _ = meili.client.index(&fresh).delete().await;
    Ok(done)
}

#[cfg(test)]
mod tests {
    #[test]
    fn markdown_is_stripped_for_the_index() {
        assert_eq!(
            super::plain_text("**bold** _it_ `code`\n\n- a\n- b <b>x</b>"),
            "bold it code a b <b> x </b>"
        );
    }
}
