//! The search index's plumbing, below every domain: which engine answers on this node
//! ([`Backend`]), the outbox every message change writes ([`outbox`]), and the Meilisearch
//! client and the worker that feeds it ([`meili`]).
//!
//! What a search means (the query language, who may read which channel, the page) is
//! `search/`'s; this module knows documents and batches, and only the message log's columns.

pub mod meili;
pub mod outbox;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use crate::config::Config;

/// Which engine answers searches on this node.
pub enum Backend {
    /// Postgres full-text search over the message log itself (a GIN index on a tsvector).
    Postgres,
    Meili(Arc<meili::Meili>),
}

impl Backend {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(match &config.meili_url {
            Some(url) => Backend::Meili(Arc::new(meili::Meili::new(
                url,
                config.meili_master_key.as_deref(),
                &config.meili_index,
            )?)),
            None => Backend::Postgres,
        })
    }

    /// Whether sends must write `search_outbox`: only an external index reads it; Postgres
    /// search reads the message log itself.
    pub fn reads_outbox(&self) -> bool {
        matches!(self, Backend::Meili(_))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Meili(_) => "meilisearch",
        }
    }

    /// Starts what keeps the index fed: the Meilisearch outbox worker, or with Postgres search
    /// a task that keeps the outbox empty.
    pub fn spawn_worker(&self, db: &PgPool) {
        match self {
            Backend::Meili(meili) => {
                tokio::spawn(meili::run_worker(db.clone(), meili.clone()));
            }
            Backend::Postgres => {
                tokio::spawn(run_outbox_drain(db.clone()));
            }
        }
    }
}

/// Keeps the outbox from growing when no index reads it; Postgres search reads the log.
async fn run_outbox_drain(db: PgPool) {
    let mut every = tokio::time::interval(Duration::from_secs(1));
    loop {
        every.tick().await;
        // Batch after batch until it is empty, so a burst of sends never piles up.
        loop {
            match outbox::drain(&db).await {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "cannot clear the search outbox; will retry");
                    break;
                }
            }
        }
    }
}
