//! Where files' bytes live: a local directory (`NATTER_FILES_DIR`, the default) or an
//! S3-compatible bucket (`NATTER_S3_BUCKET`), both through `object_store`, behind one
//! [`Storage`] that the files domain writes, reads and deletes by key.
//!
//! Writes stream: [`Storage::writer`] takes the bytes a part at a time (a directory writes a
//! staging file and renames it when finished; S3 uploads parts of [`PART_BYTES`]), so a 100 MB
//! upload holds a part or two in memory, never the file. Nothing is visible under its key until
//! [`Writer::finish`] succeeds; [`Writer::abort`] leaves nothing behind.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::aws::AmazonS3Builder;
use object_store::buffered::BufWriter;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt};
use time::OffsetDateTime;

use crate::config::FilesConfig;

/// The size of the parts an S3 upload sends (S3's smallest part is 5 MiB); also what a
/// directory buffers before writing.
pub const PART_BYTES: usize = 5 * 1024 * 1024;

/// A file store. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// Shown in logs and `natter files gc`: the directory or the bucket.
    pub description: String,
}

/// An object as listed: its key, size and when it was written.
#[derive(Debug)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub written_at: OffsetDateTime,
}

/// What a read returns: the bytes as a stream, and the object's whole size.
pub struct Read {
    pub size: u64,
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

impl Storage {
    /// The store the configuration names: S3 when a bucket is set, else the directory
    /// (created if missing).
    pub fn from_config(config: &FilesConfig) -> anyhow::Result<Self> {
        if let Some(bucket) = &config.s3_bucket {
            let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Some(endpoint) = &config.s3_endpoint {
                builder = builder
                    .with_endpoint(endpoint)
                    .with_allow_http(endpoint.starts_with("http://"));
            }
            if let Some(region) = &config.s3_region {
                builder = builder.with_region(region);
            }
            if let (Some(id), Some(secret)) =
                (&config.s3_access_key_id, &config.s3_secret_access_key)
            {
                builder = builder
                    .with_access_key_id(id)
                    .with_secret_access_key(secret);
            }
            let store = builder
                .build()
                .map_err(|e| anyhow::anyhow!("NATTER_S3_BUCKET={bucket:?} cannot be used: {e}"))?;
            return Ok(Self {
                store: Arc::new(store),
                description: format!("s3://{bucket}"),
            });
        }
        std::fs::create_dir_all(&config.dir).map_err(|e| {
            anyhow::anyhow!(
                "NATTER_FILES_DIR={} cannot be created: {e}",
                config.dir.display()
            )
        })?;
        let store = LocalFileSystem::new_with_prefix(&config.dir)?.with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
            description: config.dir.display().to_string(),
        })
    }

    /// A streaming write to `key`; nothing is visible there until [`Writer::finish`].
    pub fn writer(&self, key: &str) -> Writer {
        Writer {
            inner: BufWriter::with_capacity(self.store.clone(), Path::from(key), PART_BYTES)
                .with_max_concurrency(2),
        }
    }

    /// Writes small bytes (a thumbnail) in one go.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> object_store::Result<()> {
        self.store.put(&Path::from(key), bytes.into()).await?;
        Ok(())
    }

    /// Reads an object, or the byte range of it asked for (`Range: bytes=a-b`, for video).
    pub async fn read(&self, key: &str, range: Option<Range<u64>>) -> object_store::Result<Read> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let result = self.store.get_opts(&Path::from(key), options).await?;
        Ok(Read {
            size: result.meta.size,
            range: result.range.clone(),
            stream: result.into_stream().boxed(),
        })
    }

    /// Reads a whole object into memory (thumbnails; small files only).
    pub async fn read_all(&self, key: &str) -> object_store::Result<Bytes> {
        self.store.get(&Path::from(key)).await?.bytes().await
    }

    /// Deletes an object; one already gone is not an error.
    pub async fn delete(&self, key: &str) -> object_store::Result<()> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Every object in the store, for garbage collection.
    pub fn list(&self) -> BoxStream<'static, object_store::Result<Listed>> {
        self.store
            .list(None)
            .map(|meta| {
                meta.map(|meta| Listed {
                    key: meta.location.to_string(),
                    size: meta.size,
                    written_at: OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp())
                        .unwrap_or(OffsetDateTime::UNIX_EPOCH),
                })
            })
            .boxed()
    }
}

/// A write in progress.
pub struct Writer {
    inner: BufWriter,
}

impl Writer {
    pub async fn write(&mut self, bytes: Bytes) -> object_store::Result<()> {
        self.inner.put(bytes).await
    }

    /// Makes the object visible under its key.
    pub async fn finish(mut self) -> object_store::Result<()> {
        use tokio::io::AsyncWriteExt;
        self.inner
            .shutdown()
            .await
            .map_err(|e| object_store::Error::Generic {
                store: "storage",
                source: Box::new(e),
            })
    }

    /// Gives up: nothing is left under the key (the parts sent so far are discarded).
    pub async fn abort(mut self) {
        if let Err(e) = self.inner.abort().await {
            tracing::warn!(error = %e, "an abandoned upload's parts were not discarded");
        }
    }
}
