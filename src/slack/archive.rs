//! A Slack export on disk: a zip read one entry at a time, never whole.
//!
//! Every entry's name is checked when the archive is opened: one that would land outside the
//! archive (`../`, an absolute path) refuses the whole archive. An entry is read through a cap
//! (its declared size may lie), and one that claims to unpack to far more than it takes up is
//! refused as a zip bomb before anything is inflated.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{Context, anyhow, bail};
use serde::de::DeserializeOwned;
use zip::ZipArchive;

/// The most one JSON file of the export may unpack to.
const MAX_JSON: u64 = 256 * 1024 * 1024;
/// Past this many bytes, an entry may unpack to at most this many times its packed size
/// (JSON compresses about 10×; a bomb, thousands of times).
const BOMB_FLOOR: u64 = 16 * 1024 * 1024;
const BOMB_RATIO: u64 = 200;

pub struct Archive {
    zip: ZipArchive<BufReader<File>>,
    /// Entry names (checked) → index.
    entries: BTreeMap<String, usize>,
}

impl Archive {
    pub fn open(path: &Path) -> anyhow::Result<Archive> {
        let file =
            File::open(path).with_context(|| format!("{} cannot be opened", path.display()))?;
        let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| {
            anyhow!(
                "{} is not a zip archive ({e}); a Slack export is one",
                path.display()
            )
        })?;
        let mut entries = BTreeMap::new();
        for index in 0..zip.len() {
            let entry = zip
                .by_index_raw(index)
                .map_err(|e| anyhow!("{}: entry {index} cannot be read: {e}", path.display()))?;
            let name = entry
                .name()
                .map_err(|e| {
                    anyhow!(
                        "{}: entry {index} has an unreadable name: {e}",
                        path.display()
                    )
                })?
                .into_owned();
            if entry.enclosed_name().is_none() || name.split(['/', '\\']).any(|part| part == "..") {
                bail!(
                    "{}: the entry {name:?} points outside the archive; nothing was imported",
                    path.display()
                );
            }
            if entry.is_file() {
                entries.insert(name.trim_start_matches("./").to_owned(), index);
            }
        }
        Ok(Archive { zip, entries })
    }

    pub fn has(&self, name: &str) -> bool {
        self.entries.contains_key(name)
    }

    /// The daily files of a conversation's folder (`general/2024-01-31.json`), oldest first.
    pub fn days(&self, folder: &str) -> Vec<String> {
        let prefix = format!("{folder}/");
        self.entries
            .keys()
            .filter(|name| {
                name.strip_prefix(&prefix)
                    .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".json"))
            })
            .cloned()
            .collect()
    }

    /// Parses one JSON file of the archive; errors name the file and where in it.
    pub fn json<T: DeserializeOwned>(&mut self, name: &str) -> anyhow::Result<T> {
        let index = *self
            .entries
            .get(name)
            .ok_or_else(|| anyhow!("{name} is missing from the archive"))?;
        let entry = self
            .zip
            .by_index(index)
            .map_err(|e| anyhow!("{name} cannot be read: {e}"))?;
        let (size, packed) = (entry.size(), entry.compressed_size());
        if size > MAX_JSON {
            bail!("{name} would unpack to {size} bytes, more than the 256 MiB a file may have");
        }
        if size > BOMB_FLOOR && size > packed.saturating_mul(BOMB_RATIO) {
            bail!("{name} would unpack to {size} bytes from {packed}: refused as a zip bomb");
        }
        let mut limited = entry.take(MAX_JSON + 1);
        let mut bytes = Vec::with_capacity(size.min(MAX_JSON) as usize);
        limited
            .read_to_end(&mut bytes)
            .map_err(|e| anyhow!("{name} cannot be unpacked: {e}"))?;
        if bytes.len() as u64 > MAX_JSON {
            bail!("{name} unpacks to more than the 256 MiB a file may have");
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            anyhow!(
                "{name} is not a valid Slack export file: {e} (line {}, column {})",
                e.line(),
                e.column()
            )
        })
    }
}
