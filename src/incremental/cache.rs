//! The compile cache: `.mailops/cache/compile.bin` in the mail repo (postcard:
//! a compact binary serde format, read and written in a few milliseconds at
//! 10,000 tenants, where JSON took a tenth of a second each way).
//!
//! It says, for the binary and platform file that wrote it:
//! - per tenant file, in name order: its size, times and inode when last
//!   seen (`stat`), the hash of its contents, its domain, which contents its
//!   domain's files under `generated/` hold (`emit::tenant_paths`: its DNS
//!   file and its two SQL files) with their stats when mailops last wrote or
//!   read them, and, encoded apart (`Summary`, decoded only when asked for),
//!   what a compile of it gave that other files or the database need (the
//!   digest and counts of its rows, its aliases to other domains). A file is
//!   in the cache only if the whole compile it was part of reported no
//!   problem at all;
//! - per folder of those generated files, its stat when its entries were
//!   known (`Cache::folders`).
//!
//! The file starts with the hash of the rest: a damaged cache is not used.
//!
//! A file's stat is trusted like git trusts its index: same size, times and
//! inode, same contents. A tenant file changed less than `RACY` before it
//! was recorded is recorded without its stat (its contents are hashed again
//! next time), since file times are only as fine as the kernel's clock tick.
//! The stats of the generated folders are recorded only when their last
//! change is older than the kernel's coarse clock read after them
//! (`fsutil::Stat::settled_now`): any later change gets a later time.

use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// 7: the tenant state (6 on the domains branch) and the DNS shard count (6 on the
/// sharding branch), merged.
pub(crate) const FORMAT: &str = "mailops-cache/7";

/// Where the cache lives in the mail repo.
pub(crate) fn path(root: &Path) -> PathBuf {
    root.join(relative_path())
}

fn relative_path() -> PathBuf {
    Path::new(".mailops").join("cache").join("compile.bin")
}

pub(crate) use crate::fsutil::Stat;

/// The hash of a file's contents (blake3).
pub(crate) type Hash = [u8; 32];

pub(crate) fn hash(bytes: &[u8]) -> Hash {
    *blake3::hash(bytes).as_bytes()
}

/// A hash as the hex text the input fingerprint is made of.
pub(crate) fn hex(hash: &Hash) -> String {
    blake3::Hash::from_bytes(*hash).to_hex().to_string()
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Cache {
    pub(crate) format: String,
    /// The mailops binary that wrote it (`build_id`).
    pub(crate) build: String,
    /// Hash of `mailops.toml`.
    pub(crate) platform: Hash,
    /// The key store folder (relative to the repo) and its files, then the
    /// BIMI logos' (`key_files`).
    pub(crate) key_store: String,
    pub(crate) keys: Vec<(String, Stat)>,
    /// Every tenant file, sorted by name.
    pub(crate) tenants: Vec<Tenant>,
    /// `[aws] dns_shards` of the platform file of `platform`: how the DNS
    /// files are spread over the folders below.
    pub(crate) dns_shards: u16,
    /// Per folder of the tenants' generated files (`generated_dir::TenantFolders::names`): its stat when every entry in it was a
    /// file of one of `tenants`' domains. While the folder's stat is still
    /// that one, nothing was added to it, removed or renamed since, so its
    /// entries are known without listing them (10,000 entries take the kernel
    /// milliseconds to list). `None`: not known, list it.
    pub(crate) folders: Vec<Option<Stat>>,
}

/// A tenant file that compiled without a problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tenant {
    /// Its name under `tenants/`.
    pub(crate) name: String,
    pub(crate) stat: Option<Stat>,
    pub(crate) hash: Hash,
    pub(crate) domain: String,
    /// Its files under `generated/`, when they hold what some contents of
    /// this file produce (`Produced::hash` says which).
    pub(crate) produced: Option<Produced>,
    /// The domains its aliases forward into, as a Bloom filter: which
    /// tenants a changed domain may concern, without decoding every summary.
    pub(crate) targets: Targets,
    /// The rest (`Summary`), encoded: decoded only for the tenants a compile
    /// or the database asks about.
    pub(crate) summary: Blob,
}

/// A domain's generated files (`emit::tenant_paths`), holding what the
/// tenant file of this hash produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Produced {
    /// In the order of `emit::tenant_paths`.
    pub(crate) stats: Vec<Stat>,
    pub(crate) hash: Hash,
}

/// What a compile of a tenant file gave that other files or the database need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Summary {
    /// The tenant's state (`TenantState::name`): its domain row's column.
    pub(crate) state: String,
    /// The digest and counts of its rows (`db::desired`).
    pub(crate) digest: String,
    pub(crate) users: i64,
    pub(crate) aliases: i64,
    /// Its alias rows (source, destination) whose destination is in another domain.
    pub(crate) foreign: Vec<(String, String)>,
    /// Per alias (catch-all `@domain` included) that mail can leave the
    /// domain from: the addresses in other domains it reaches, through the
    /// domain's own aliases, sorted by alias. For finding forwarding loops
    /// through a file without parsing it.
    pub(crate) exits: Vec<(String, Vec<String>)>,
    /// Whether the domain has a catch-all alias.
    pub(crate) catch_all: bool,
    /// Its mailboxes' `send_as` addresses in other domains: each needs the
    /// other tenant's grant, checked again when that tenant changes.
    pub(crate) send_as: Vec<String>,
}

impl Summary {
    pub(crate) fn encode(&self) -> Blob {
        Blob(postcard::to_stdvec(self).expect("a summary encodes"))
    }

    /// `None` when the bytes are not a summary (a damaged cache).
    pub(crate) fn decode(blob: &Blob) -> Option<Summary> {
        postcard::from_bytes(&blob.0).ok()
    }
}

/// Bytes, encoded as one run (not one element at a time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Blob(pub(crate) Vec<u8>);

impl Serialize for Blob {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Blob, D::Error> {
        struct Bytes;
        impl serde::de::Visitor<'_> for Bytes {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Blob, E> {
                Ok(Blob(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
                Ok(Blob(v))
            }
        }
        deserializer.deserialize_byte_buf(Bytes)
    }
}

/// A set of domains as a 128-bit Bloom filter (two bits per domain): a
/// domain not in it is certainly not one of them; one in it may be.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Targets(pub(crate) [u64; 2]);

impl Targets {
    fn bits(domain: &str) -> [u32; 2] {
        use std::hash::Hasher;
        let mut hasher = rustc_hash::FxHasher::default();
        hasher.write(domain.as_bytes());
        let h = hasher.finish();
        [(h & 127) as u32, ((h >> 32) & 127) as u32]
    }

    pub(crate) fn insert(&mut self, domain: &str) {
        for bit in Self::bits(domain) {
            self.0[(bit / 64) as usize] |= 1 << (bit % 64);
        }
    }

    pub(crate) fn may_contain(&self, domain: &str) -> bool {
        Self::bits(domain)
            .iter()
            .all(|&bit| self.0[(bit / 64) as usize] & (1 << (bit % 64)) != 0)
    }
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
        // The hash of the rest comes first: a damaged file is refused whole
        // here, so that the summaries decoded later (`Summary::decode`)
        // are the bytes that were written.
        let unreadable = || "the cache is unreadable".to_string();
        let (sum, body) = bytes.split_at_checked(32).ok_or_else(unreadable)?;
        if sum != hash(body) {
            return Err(unreadable());
        }
        let cache: Cache = postcard::from_bytes(body).map_err(|_| unreadable())?;
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
        // Encoded after room for its hash (no copy of megabytes to put it first).
        let mut bytes = Vec::with_capacity(32 + 512 * self.tenants.len());
        bytes.extend_from_slice(&[0; 32]);
        let mut bytes = postcard::to_extend(self, bytes).map_err(io::Error::other)?;
        let sum = hash(&bytes[32..]);
        bytes[..32].copy_from_slice(&sum);
        // Not through a linked `.mailops/` (a repo may commit one).
        crate::fsutil::make_dirs_beneath(root, relative_path().parent().expect("a folder"))?;
        crate::fsutil::write_reproducible(&path, &bytes)
    }
}

/// The files of the key store folder and their stats, sorted, then those
/// of the BIMI logo folder (named `bimi/<file>`): the files besides
/// `tenants/` a compile reads.
pub(crate) fn key_files(root: &Path, key_store: &str) -> io::Result<Vec<(String, Stat)>> {
    let mut files = store_files(root, key_store)?;
    files.extend(crate::bimi_logos::files(root)?);
    Ok(files)
}

fn store_files(root: &Path, key_store: &str) -> io::Result<Vec<(String, Stat)>> {
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
