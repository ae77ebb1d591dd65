//! The compile cache: `.mailops/cache/compile.bin` in the mail repo (postcard:
//! a compact binary serde format, read and written in a few milliseconds at
//! 10,000 tenants, where JSON took a tenth of a second each way).
//!
//! It says, for the binary and platform file that wrote it:
//! - per tenant file: its size, times and inode when last seen (`stat`), the
//!   hash of its contents, and what a compile of it gave that other files or
//!   the database need (its domain, the digest and counts of its rows, its
//!   aliases to other domains). A file is in the cache only if the whole
//!   compile it was part of reported no problem at all;
//! - per domain, which tenant contents its files under `generated/` hold
//!   (`emit::tenant_paths`: its DNS file and its two SQL files), with their
//!   stats when mailops last wrote or read them.
//!
//! A file's stat is trusted like git trusts its index: same size, times and
//! inode, same contents. A tenant file changed less than `RACY` before it
//! was recorded is recorded without its stat (its contents are hashed again
//! next time), since file times are only as fine as the kernel's clock tick.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) const FORMAT: &str = "mailops-cache/4";

/// Where the cache lives in the mail repo.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(relative_path())
}

fn relative_path() -> PathBuf {
    Path::new(".mailops").join("cache").join("compile.bin")
}

pub(crate) use crate::fsutil::Stat;

/// The hash of a file's contents.
pub(crate) fn hash(bytes: &[u8]) -> String {
    blake3::hash(bytes).to_hex().to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cache {
    pub(crate) format: String,
    /// The mailops binary that wrote it (`build_id`).
    pub(crate) build: String,
    /// Hash of `mailops.toml`.
    pub(crate) platform: String,
    /// The key store folder (relative to the repo) and its files.
    pub(crate) key_store: String,
    pub(crate) keys: Vec<(String, Stat)>,
    /// By file name under `tenants/`.
    pub(crate) tenants: BTreeMap<String, Tenant>,
    /// The files of each domain under `generated/`, by domain.
    pub(crate) produced: BTreeMap<String, Produced>,
}

/// A tenant file that compiled without a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tenant {
    pub(crate) stat: Option<Stat>,
    pub(crate) hash: String,
    pub(crate) domain: String,
    /// The digest and counts of its rows (`db::desired`).
    pub(crate) digest: String,
    pub(crate) users: i64,
    pub(crate) aliases: i64,
    /// Its alias rows (source, destination) whose destination is in another domain.
    pub(crate) foreign: Vec<(String, String)>,
    /// Per alias (catch-all `@domain` included) that mail can leave the
    /// domain from: the addresses in other domains it reaches, through the
    /// domain's own aliases. For finding forwarding loops through a file
    /// without parsing it.
    pub(crate) exits: Vec<(String, Vec<String>)>,
    /// Whether the domain has a catch-all alias.
    pub(crate) catch_all: bool,
}

/// A domain's generated files (`emit::tenant_paths`), holding what the
/// tenant file of this hash produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Produced {
    /// In the order of `emit::tenant_paths`.
    pub(crate) stats: Vec<Stat>,
    pub(crate) hash: String,
}

/// This binary: its version, and the size and time of its file (a rebuilt
/// binary may compile differently).
pub(crate) fn build_id() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| std::fs::metadata(p).ok())
        .map(|m| Stat::of(&m));
    match exe {
        Some(s) => format!(
            "{} {} {}.{:09}",
            env!("CARGO_PKG_VERSION"),
            s.len,
            s.mtime.0,
            s.mtime.1
        ),
        None => format!("{} unknown", env!("CARGO_PKG_VERSION")),
    }
}

impl Cache {
    /// The cache of the repo, or why there is none to use.
    pub(crate) fn read(root: &Path) -> Result<Cache, String> {
        let bytes = match crate::fsutil::read_beneath(root, &relative_path()) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err("no cache yet".into()),
            Err(e) => return Err(format!("cannot read the cache: {e}")),
        };
        let cache: Cache =
            postcard::from_bytes(&bytes).map_err(|_| "the cache is unreadable".to_string())?;
        if cache.format != FORMAT {
            return Err("the cache is of another format".into());
        }
        if cache.build != build_id() {
            return Err("the cache was written by another mailops binary".into());
        }
        Ok(cache)
    }

    /// Write the cache (a file replaced whole, never half-written).
    pub(crate) fn write(&self, root: &Path) -> io::Result<()> {
        let path = path(root);
        postcard::to_stdvec(self)
            .map_err(io::Error::other)
            .and_then(|json| {
                // Not through a linked `.mailops/` (a repo may commit one).
                crate::fsutil::make_dirs_beneath(
                    root,
                    relative_path().parent().expect("a folder"),
                )?;
                crate::fsutil::write_reproducible(&path, &json)
            })
    }
}

/// The files of the key store folder and their stats, sorted.
pub(crate) fn key_files(root: &Path, key_store: &str) -> io::Result<Vec<(String, Stat)>> {
    let mut files = Vec::new();
    // Listed without following a link (a linked key store is refused when it is read).
    let dir = match crate::keystore::KeyStore::new(root, key_store).open_dir() {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in dir.entries()? {
        let path = dir.path().join(&entry.name);
        if let Some(stat) = Stat::read(&path)? {
            files.push((entry.name.to_string_lossy().into_owned(), stat));
        }
    }
    files.sort();
    Ok(files)
}
