//! The parse floor for benchmarks: the least any compile of a mail repo must do.
//!
//! Reads every `tenants/*.toml` of a mail repo and deserializes each with the
//! `toml` crate and serde into typed structs that mirror the tenant format
//! (`src/parse/tenant.rs`, `schema/tenant.schema.json`), every value in a
//! `toml::Spanned`, on all cores (one scoped thread per core, files shared
//! out through an atomic counter), with the allocator mailops runs with
//! (mimalloc). Nothing else: no shape check, no rule, no model.
//! `scripts/bench` prints every ratio against this time.
//!
//! `cargo run --release --example parse_floor -- DIR`
//!
//! Prints `parsed N files (M mailboxes, A aliases) on C threads in S s`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde::Deserialize;
use toml::Spanned;

/// The allocator of the `mailops` binary (`src/main.rs`), so that the floor
/// and what is measured against it run with the same one.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // read only by serde: the point is to build them
struct Tenant {
    domain: Spanned<String>,
    #[serde(default)]
    description: Option<Spanned<String>>,
    #[serde(default)]
    dns: Dns,
    dkim: DkimKeys,
    #[serde(default)]
    limits: Limits,
    #[serde(default, rename = "mailbox")]
    mailboxes: Vec<Spanned<Mailbox>>,
    #[serde(default, rename = "alias")]
    aliases: Vec<Spanned<Alias>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Dns {
    #[serde(default)]
    ttl: Option<Spanned<i64>>,
    #[serde(default)]
    zone_id: Option<Spanned<String>>,
    #[serde(default)]
    spf: Option<Spf>,
    #[serde(default)]
    dmarc: Option<Dmarc>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Spf {
    #[serde(default)]
    include: Vec<Spanned<String>>,
    #[serde(default)]
    mechanisms: Vec<Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Dmarc {
    #[serde(default)]
    policy: Option<Spanned<String>>,
    #[serde(default)]
    subdomain_policy: Option<Spanned<String>>,
    #[serde(default)]
    adkim: Option<Spanned<String>>,
    #[serde(default)]
    aspf: Option<Spanned<String>>,
    #[serde(default)]
    pct: Option<Spanned<i64>>,
    #[serde(default)]
    rua: Option<Vec<Spanned<String>>>,
    #[serde(default)]
    ruf: Option<Vec<Spanned<String>>>,
}

/// `[dkim]` or `[[dkim]]`, told apart by hand as mailops does (an untagged
/// enum would buffer the value and lose the spans).
#[allow(dead_code)]
enum DkimKeys {
    One(Dkim),
    Many(Vec<Spanned<Dkim>>),
}

impl<'de> Deserialize<'de> for DkimKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Keys;
        impl<'de> serde::de::Visitor<'de> for Keys {
            type Value = DkimKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a [dkim] table or [[dkim]] entries")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DkimKeys, A::Error> {
                Dkim::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DkimKeys::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, seq: A) -> Result<DkimKeys, A::Error> {
                Vec::<Spanned<Dkim>>::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(DkimKeys::Many)
            }
        }
        deserializer.deserialize_any(Keys)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Dkim {
    #[serde(default)]
    selector: Option<Spanned<String>>,
    public_key: Spanned<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Limits {
    #[serde(default)]
    max_mailboxes: Option<Spanned<i64>>,
    #[serde(default)]
    max_aliases: Option<Spanned<i64>>,
    #[serde(default)]
    default_quota: Option<Spanned<String>>,
    #[serde(default)]
    max_quota: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Mailbox {
    user: Spanned<String>,
    #[serde(default)]
    name: Option<Spanned<String>>,
    password: Spanned<String>,
    #[serde(default)]
    quota: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Alias {
    address: Spanned<String>,
    to: Spanned<Vec<Spanned<String>>>,
}

/// Files, mailboxes and aliases one thread parsed.
#[derive(Default)]
struct Counts {
    files: usize,
    mailboxes: usize,
    aliases: usize,
}

fn parse_share(paths: &[PathBuf], next: &AtomicUsize) -> Counts {
    let mut counts = Counts::default();
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = paths.get(i) else {
            return counts;
        };
        let text =
            std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let tenant: Tenant =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        counts.files += 1;
        counts.mailboxes += tenant.mailboxes.len();
        counts.aliases += tenant.aliases.len();
    }
}

fn main() {
    let dir = std::env::args().nth(1).unwrap_or_else(|| ".".to_string());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start = std::time::Instant::now();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(Path::new(&dir).join("tenants"))
        .expect("tenants/ is readable")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    let next = AtomicUsize::new(0);
    let total = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| scope.spawn(|| parse_share(&paths, &next)))
            .collect();
        workers.into_iter().fold(Counts::default(), |sum, worker| {
            let part = worker.join().expect("a parse thread panicked");
            Counts {
                files: sum.files + part.files,
                mailboxes: sum.mailboxes + part.mailboxes,
                aliases: sum.aliases + part.aliases,
            }
        })
    });
    println!(
        "parsed {} files ({} mailboxes, {} aliases) on {threads} threads in {:.3} s",
        total.files,
        total.mailboxes,
        total.aliases,
        start.elapsed().as_secs_f64()
    );
}
