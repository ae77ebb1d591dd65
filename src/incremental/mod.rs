//! The incremental compile: with 10,000 tenant files, a plan or apply after a
//! one-file change parses that file, not the other 9,999.
//!
//! The cache (`cache`) records, after a compile that reported no problem at
//! all, what each tenant file gave and which generated files hold what.
//! The next compile (`try_compile`) stats every tenant file and parses only:
//! - the files whose contents changed (or are new);
//! - the files whose generated files (DNS file, SQL files) are not on disk
//!   as the cache recorded them, so that they can be written again;
//! - the files of the domains that the parsed files' aliases point into,
//!   transitively, so that dangling destinations and forwarding loops
//!   through them are found exactly as a full compile finds them.
//!
//! A new loop needs an alias of a changed file (the other files' aliases
//! resolve as they did when they compiled clean), and the aliases of the
//! files not parsed that point into a changed domain are checked against it
//! from their recorded destinations. Any problem at all, a changed platform
//! file, key store or binary, and the compile is a full one
//! (which then reports every problem as it always did).
//!
//! The other tenants are still there: their files under `generated/` (a DNS
//! file and two SQL files each) are produced as known unchanged
//! (`Artifacts::add_unchanged_tenant`), and the database layer
//! takes their row digests from the cache and parses a file again only when
//! it has to diff that domain's rows (`Known::materialise`).

pub(crate) mod cache;

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

use crate::db::desired::{DesiredDomain, Summarised, Summary as RowSummary};
use crate::db::rows::domain_of;
use crate::diagnostic::Diagnostics;
use crate::emit::{self, Artifacts};
use crate::generated_dir::{FileChanges, Listed, Stale, TenantFolders};
use crate::graph::Graph;
use crate::graph::{self, Resolution};
use crate::load::LoadedRepo;
use crate::load::{self, PLATFORM_FILE, TENANTS_DIR};
use crate::model::{Domain, Model, TenantState};
use crate::{keystore, validate};
use cache::{Cache, Hash, Produced, Stat, Summary, Targets, hash};

/// What the front half of the compiler gives: the loaded repo, the checked
/// model, the graph and every diagnostic — after a full compile
/// (`pipeline::compile`), or after an incremental one (`try_compile`), whose
/// model holds only the domains it parsed and whose `known` summarises the
/// rest. It is defined here, beside `Known`, and the pipeline hands it out.
pub(crate) struct Compiled {
    pub(crate) repo: LoadedRepo,
    pub(crate) model: Model,
    pub(crate) graph: Graph,
    pub(crate) diagnostics: Diagnostics,
    /// An incremental compile: the model holds only the domains it parsed,
    /// this knows the rest.
    pub(crate) known: Option<Known>,
}

impl Compiled {
    pub(crate) fn has_errors(&self) -> bool {
        self.diagnostics.has_errors()
    }

    /// The domains held only as summaries (none after a full compile).
    pub(crate) fn summarised(&self) -> Option<&dyn Summarised> {
        self.known.as_ref().map(|k| k as &dyn Summarised)
    }
}

/// What an incremental compile knows of the whole repo beyond its model.
#[derive(Debug)]
pub(crate) struct Known {
    root: PathBuf,
    platform: Vec<u8>,
    pub(crate) cache: Cache,
    /// The cache's summaries, each decoded when first asked for (by index
    /// into `cache.tenants`).
    summaries: Vec<OnceLock<Summary>>,
    /// Every tenant file now, sorted by name.
    pub(crate) files: Vec<FileNow>,
    /// The files parsed: their domains are the model's.
    pub(crate) parsed: BTreeSet<String>,
    keys: Vec<(String, Stat)>,
    /// The stats of the folders of the tenants' generated files, as found.
    folders: Vec<Option<Stat>>,
}

/// A tenant file as this compile found it.
#[derive(Debug)]
pub(crate) struct FileNow {
    pub(crate) name: String,
    pub(crate) hash: Hash,
    /// The stat to record (none when too recent).
    stat: Option<Stat>,
    /// Its entry in the cache (by index), when the cache has one of that name.
    entry: Option<usize>,
}

impl Known {
    /// The files not parsed, each with its entry in the cache (which holds
    /// these contents).
    fn unparsed(&self) -> impl Iterator<Item = (&FileNow, usize)> {
        self.files
            .iter()
            .filter(|f| !self.parsed.contains(&f.name))
            .map(|f| (f, f.entry.expect("a file not parsed is in the cache")))
    }

    /// The summary of the cache's tenant `index`.
    fn summary(&self, index: usize) -> &Summary {
        summary_of(&self.cache, &self.summaries, index)
    }

    /// What `Listed` says of `generated/` for a build: the tenants'
    /// folders whose stat is the one recorded hold only the files of the
    /// cache's domains; those of the domains no file declares now may be stale.
    pub(crate) fn listed(&self, model: &Model) -> Listed {
        let mut listed = Listed::default();
        // The cache's domains that no file declares now: neither the domain
        // of a file not parsed (which holds its entry's contents) nor a
        // parsed one (domains are unique among the cache's entries).
        let mut used = vec![false; self.cache.tenants.len()];
        for (_, index) in self.unparsed() {
            used[index] = true;
        }
        let gone: Vec<&str> = self
            .cache
            .tenants
            .iter()
            .zip(used)
            .filter(|(tenant, used)| !used && !model.domains.contains_key(&tenant.domain))
            .map(|(tenant, _)| tenant.domain.as_str())
            .collect();
        let shards = self.cache.dns_shards;
        let gone_paths: Vec<String> = gone
            .iter()
            .flat_map(|domain| emit::tenant_paths(domain, shards))
            .collect();
        for (index, folder) in TenantFolders::names(shards).into_iter().enumerate() {
            if !folder_known(&self.cache, &self.folders, index) {
                continue;
            }
            for path in &gone_paths {
                if path.rsplit_once('/').is_some_and(|(dir, _)| dir == folder) {
                    listed.maybe_stale.push(path.clone());
                }
            }
            listed.folders.push(folder);
        }
        listed
    }
}

fn summary_of<'a>(cache: &'a Cache, decoded: &'a [OnceLock<Summary>], index: usize) -> &'a Summary {
    decoded[index].get_or_init(|| {
        // The cache was read whole and its hash checked (`Cache::read`): its
        // summaries are the bytes `record` encoded.
        Summary::decode(&cache.tenants[index].summary).expect("a summary the cache recorded")
    })
}

/// Whether folder `index` of the tenants' folders is as the cache recorded it.
fn folder_known(cache: &Cache, folders: &[Option<Stat>], index: usize) -> bool {
    matches!(
        (cache.folders.get(index), folders.get(index)),
        (Some(Some(recorded)), Some(Some(now))) if recorded == now
    )
}

impl Summarised for Known {
    fn summaries(&self) -> Vec<RowSummary<'_>> {
        let unparsed: Vec<usize> = self.unparsed().map(|(_, index)| index).collect();
        // Decoded on every core.
        crate::parallel::map_chunks(&unparsed, |part| {
            part.iter().for_each(|&i| {
                self.summary(i);
            })
        });
        unparsed
            .into_iter()
            .map(|index| {
                let summary = self.summary(index);
                RowSummary {
                    domain: &self.cache.tenants[index].domain,
                    desired: DesiredDomain {
                        state: TenantState::parse(&summary.state).unwrap_or_default(),
                        digest: summary.digest.clone(),
                        users: summary.users,
                        aliases: summary.aliases,
                    },
                    foreign: &summary.foreign,
                }
            })
            .collect()
    }

    /// Parse and build the domains of these files again (files not parsed
    /// by the compile, known valid), for the database's row diff. Fails when
    /// one of them is not the file compiled any more.
    fn materialise(&self, domains: &BTreeSet<&str>) -> Result<Vec<Domain>, String> {
        let mut files = Vec::new();
        for (file, index) in self.unparsed() {
            if !domains.contains(self.cache.tenants[index].domain.as_str()) {
                continue;
            }
            let bytes =
                crate::fsutil::read_beneath(&self.root, &Path::new(TENANTS_DIR).join(&file.name))
                    .map_err(|e| e.to_string())?;
            if hash(&bytes) != file.hash {
                return Err(format!(
                    "{TENANTS_DIR}/{} changed while mailops ran; run it again",
                    file.name
                ));
            }
            files.push((file.name.clone(), bytes));
        }
        let expected = files.len();
        let mut diagnostics = Diagnostics::default();
        let repo = load::load_selected(&self.root, self.platform.clone(), files, &mut diagnostics);
        let model = validate::validate(&repo, &mut diagnostics);
        if !diagnostics.is_empty() || model.domains.len() != expected {
            return Err("tenant files changed while mailops ran; run it again".to_string());
        }
        Ok(model.domains.into_values().collect())
    }
}

/// A tenant file as the stat pass found it.
enum Seen {
    /// Its stat is the one recorded, or it was read and hashed as recorded
    /// (`bytes`); `current`: its generated files are on disk as recorded.
    Same {
        file: FileNow,
        bytes: Option<Vec<u8>>,
        current: bool,
    },
    /// New, or its contents are not the ones recorded.
    Changed { file: FileNow, bytes: Vec<u8> },
}

/// Why the compile was a full one.
pub(crate) type Reason = String;

fn full<T>(reason: impl Into<String>) -> io::Result<Result<T, Reason>> {
    Ok(Err(reason.into()))
}

/// The tenant files (as `load::list_tenants` lists them), and the stat of
/// each (`None`: gone since it was listed), taken on every core. No stat is
/// taken when `tenants/` cannot be read whole (the compile is then a full one).
fn stat_tenant_files(
    repo_dir: &crate::fsutil::Beneath,
) -> io::Result<(load::TenantListing, Vec<Option<Stat>>)> {
    let listing = load::list_tenants(repo_dir)?;
    let stats = match (&listing.dir, listing.problems.is_empty()) {
        (Some(dir), true) => crate::parallel::map_chunks(&listing.names, |names| {
            names
                .iter()
                .map(|name| dir.stat_of(name.as_ref()))
                .collect::<Vec<_>>()
        })
        .into_iter()
        .flatten()
        .collect::<io::Result<Vec<_>>>()?,
        _ => Vec::new(),
    };
    Ok((listing, stats))
}

/// For each of `names` (sorted), the index of the cache's tenant of that
/// name (the cache's are sorted too: one merge, no lookups).
fn entries_of(names: &[String], tenants: &[cache::Tenant]) -> Vec<Option<usize>> {
    let mut at = 0;
    names
        .iter()
        .map(|name| {
            while at < tenants.len() && tenants[at].name.as_str() < name.as_str() {
                at += 1;
            }
            (at < tenants.len() && tenants[at].name == *name).then_some(at)
        })
        .collect()
}

/// Compile from the cache, or say why not (then the caller compiles fully).
/// Only I/O failures are errors.
pub(crate) fn try_compile(root: &Path) -> io::Result<Result<Compiled, Reason>> {
    if std::env::var_os("MAILOPS_CACHE").is_some_and(|v| v == "off") {
        return full("MAILOPS_CACHE=off");
    }
    let mut timer = crate::timing::StageTimer::from_env();
    let repo_dir = crate::fsutil::Beneath::open(root)?;
    let now = SystemTime::now();
    // The cache is read and decoded (on one core) while tenants/ is listed
    // and every tenant file stat'ed (on the others): each stat is compared
    // with the recorded one below, as if it had been taken then.
    let (cache, listed) = std::thread::scope(|scope| {
        let reading = scope.spawn(|| Cache::read(root));
        let listed = stat_tenant_files(&repo_dir);
        let cache = reading
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (cache, listed)
    });
    let cache = match cache {
        Ok(cache) => cache,
        Err(why) => return full(why),
    };
    let (listing, tenant_stats) = listed?;
    timer.lap("cache read");
    let platform = match repo_dir.read(Path::new(PLATFORM_FILE)) {
        Ok(bytes) => bytes,
        Err(_) => return full("no readable mailops.toml"),
    };
    if hash(&platform) != cache.platform {
        return full("mailops.toml changed");
    }
    let keys = cache::key_files(root, &cache.key_store)?;
    if keys != cache.keys {
        return full("the key store or a BIMI logo changed");
    }

    // Every tenant file: unchanged by its stat, or read and hashed; and,
    // when unchanged, its generated files: as recorded, or to be written again.
    let (Some(tenants_dir), true) = (listing.dir, listing.problems.is_empty()) else {
        return full("tenants/ has entries that cannot be read");
    };
    let names = listing.names;
    let entries = entries_of(&names, &cache.tenants);
    let folders = TenantFolders::open(root, cache.dns_shards)?;
    let items: Vec<(&String, Option<usize>, Option<Stat>)> = names
        .iter()
        .zip(entries)
        .zip(tenant_stats)
        .map(|((name, entry), stat)| (name, entry, stat))
        .collect();
    // On every core: stats relative to the folders (no path walk).
    let seen = crate::parallel::map_chunks(&items, |part| {
        part.iter()
            .map(|&(name, entry, stat)| -> io::Result<Seen> {
                let cached = entry.map(|i| &cache.tenants[i]);
                let generated_current = |tenant: &cache::Tenant| -> io::Result<bool> {
                    Ok(match &tenant.produced {
                        Some(produced) if produced.hash == tenant.hash => {
                            folders.stats(&tenant.domain)? == produced.stats
                        }
                        _ => false,
                    })
                };
                if let Some(tenant) = cached.filter(|t| stat.is_some() && t.stat == stat) {
                    return Ok(Seen::Same {
                        file: FileNow {
                            name: name.clone(),
                            hash: tenant.hash,
                            stat,
                            entry,
                        },
                        bytes: None,
                        current: generated_current(tenant)?,
                    });
                }
                let (meta, bytes) = load::read_with_stat(&tenants_dir, name)?;
                let file = FileNow {
                    name: name.clone(),
                    hash: hash(&bytes),
                    stat: Stat::of(&meta).settled(now),
                    entry,
                };
                Ok(match cached.filter(|t| t.hash == file.hash) {
                    Some(tenant) => Seen::Same {
                        file,
                        bytes: Some(bytes),
                        current: generated_current(tenant)?,
                    },
                    None => Seen::Changed { file, bytes },
                })
            })
            .collect::<Vec<_>>()
    });
    let mut files = Vec::with_capacity(names.len());
    let mut contents: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut to_parse: BTreeSet<String> = BTreeSet::new();
    let mut changed: BTreeSet<String> = BTreeSet::new();
    // The domains of the files not changed, and their files.
    let mut hosted: rustc_hash::FxHashMap<&str, &str> = Default::default();
    for seen in seen.into_iter().flatten() {
        match seen? {
            Seen::Same {
                file,
                bytes,
                current,
            } => {
                if !current {
                    to_parse.insert(file.name.clone());
                }
                if let Some(bytes) = bytes {
                    contents.insert(file.name.clone(), bytes);
                }
                files.push(file);
            }
            Seen::Changed { file, bytes } => {
                changed.insert(file.name.clone());
                contents.insert(file.name.clone(), bytes);
                files.push(file);
            }
        }
    }
    for file in &files {
        if !changed.contains(&file.name) {
            let index = file.entry.expect("a file not changed is in the cache");
            hosted.insert(cache.tenants[index].domain.as_str(), file.name.as_str());
        }
    }
    to_parse.extend(changed.iter().cloned());
    timer.lap("stats");

    // Parse; then parse too the domains the changed files' aliases point
    // into, so that their destinations are checked against them.
    let mut round = 0;
    let mut diagnostics;
    let (repo, model) = loop {
        round += 1;
        let selected: Vec<(String, Vec<u8>)> = to_parse
            .iter()
            .map(|name| match contents.get(name) {
                Some(bytes) => Ok((name.clone(), bytes.clone())),
                None => tenants_dir
                    .read(Path::new(name))
                    .map(|bytes| (name.clone(), bytes)),
            })
            .collect::<io::Result<_>>()?;
        diagnostics = Diagnostics::default();
        let repo = load::load_selected(root, platform.clone(), selected, &mut diagnostics);
        let model = validate::validate(&repo, &mut diagnostics);
        if !diagnostics.is_empty() {
            return full("a changed tenant file has problems");
        }
        let mut more = Vec::new();
        for domain in model.domains.values() {
            if let Some(&file) = hosted.get(domain.name.as_str())
                && !to_parse.contains(file)
            {
                return full(format!("domain {} is declared twice", domain.name));
            }
            let file = tenant_file(&domain.file);
            if round > 1 || !changed.contains(file) {
                continue;
            }
            for alias in domain.aliases.values() {
                for destination in &alias.destinations {
                    let target = domain_of(&destination.address);
                    if let Some(&file) = hosted.get(target)
                        && !to_parse.contains(file)
                    {
                        more.push(file.to_string());
                    }
                }
            }
        }
        if !model.alias_domains.is_empty() {
            return full("a tenant has alias domains");
        }
        if more.is_empty() {
            break (repo, model);
        }
        to_parse.extend(more);
    };
    // Re-read files must hash as they did: a file changed while this ran is
    // not the file compiled.
    for file in &files {
        if to_parse.contains(&file.name) && !contents.contains_key(&file.name) {
            let id = repo
                .tenants
                .iter()
                .find(|&&id| repo.sources.file(id).name == format!("{TENANTS_DIR}/{}", file.name));
            if id.is_none_or(|&id| repo.sources.file(id).content_hash() != file.hash) {
                return full(format!(
                    "{TENANTS_DIR}/{} changed while compiling",
                    file.name
                ));
            }
        }
    }

    keystore::check_model(root, &model, &mut diagnostics)?;
    crate::bimi_logos::check_model(root, &model, &mut diagnostics)?;
    let decoded: Vec<OnceLock<Summary>> = cache.tenants.iter().map(|_| OnceLock::new()).collect();
    let summary = |index: usize| summary_of(&cache, &decoded, index);
    // The files not parsed, by domain, with their entries.
    let unparsed: Vec<(&str, usize)> = files
        .iter()
        .filter(|f| !to_parse.contains(&f.name))
        .map(|f| {
            let index = f.entry.expect("a file not parsed is in the cache");
            (cache.tenants[index].domain.as_str(), index)
        })
        .collect();
    // Forwards into a domain no file declares any more (generated/ still has
    // it) are warned of by a full compile.
    let folder_stats = folders.folder_stats()?;
    let is_declared =
        |domain: &str| hosted.contains_key(domain) || model.domains.contains_key(domain);
    let removed = if TenantFolders::dns_folders(cache.dns_shards)
        .all(|index| folder_known(&cache, &folder_stats, index))
    {
        // The DNS roots hold only the cache's domains' files: no need to
        // list them.
        let mut removed = BTreeSet::new();
        for tenant in &cache.tenants {
            if !is_declared(&tenant.domain) && folders.has(0, &tenant.domain)? {
                removed.insert(tenant.domain.clone());
            }
        }
        removed
    } else {
        crate::generated_dir::removed_domains(root, is_declared)
    };
    if !removed.is_empty() {
        for &(_, index) in &unparsed {
            let targets = &cache.tenants[index].targets;
            if !removed.iter().any(|d| targets.may_contain(d)) {
                continue;
            }
            if let Some((_, destination)) = summary(index)
                .foreign
                .iter()
                .find(|(_, destination)| removed.contains(domain_of(destination)))
            {
                return full(format!(
                    "an alias forwards to {destination}, whose tenant is gone"
                ));
            }
        }
    }
    let graph = graph::build(&model, &removed, &mut diagnostics);
    if !diagnostics.is_empty() {
        return full("the changed tenant files have problems");
    }
    // A new forwarding loop runs through an alias of a changed file; the
    // loops within the parsed files were looked for above, these are the
    // ones through files not parsed.
    let unparsed_by_domain: rustc_hash::FxHashMap<&str, usize> = unparsed.iter().copied().collect();
    let starts: Vec<&str> = model
        .domains
        .values()
        .filter(|d| changed.contains(tenant_file(&d.file)))
        .flat_map(|d| d.aliases.keys().map(String::as_str))
        .collect();
    if may_loop(&model, &unparsed_by_domain, &summary, &starts) {
        return full("an alias may now forward in a loop");
    }

    // The aliases of the files not parsed that point into a parsed domain
    // must still find their address there.
    for &(_, index) in &unparsed {
        let targets = &cache.tenants[index].targets;
        if !model.domains.keys().any(|d| targets.may_contain(d)) {
            continue;
        }
        for (_, destination) in &summary(index).foreign {
            if model.domains.contains_key(domain_of(destination))
                && matches!(graph::resolve(&model, destination), Resolution::Dangling)
            {
                return full(format!("an alias points to {destination}, which is gone"));
            }
        }
        // A grant of a parsed domain may have been withdrawn: the graph
        // stage checks send-as grants on a full compile.
        if let Some(address) = summary(index)
            .send_as
            .iter()
            .find(|a| model.domains.contains_key(domain_of(a)))
        {
            return full(format!(
                "a mailbox sends as {address}, whose tenant changed"
            ));
        }
    }
    drop(unparsed_by_domain);
    drop(unparsed);
    drop(hosted);
    timer.lap("checks");

    let known = Known {
        root: root.to_path_buf(),
        platform,
        cache,
        summaries: decoded,
        files,
        parsed: to_parse,
        keys,
        folders: folder_stats,
    };
    Ok(Ok(Compiled {
        repo,
        model,
        graph,
        diagnostics,
        known: Some(known),
    }))
}

/// Whether mail sent to one of `starts` can come back to an alias it
/// passed: a walk over the aliases of the parsed domains (resolved exactly)
/// and over the recorded exits of the others. Where a file not parsed has a
/// catch-all, an address it has no recorded exit for is taken to reach the
/// catch-all (it may be a mailbox): the answer errs towards "may loop",
/// which only costs a full compile.
fn may_loop<'c>(
    model: &Model,
    unparsed: &rustc_hash::FxHashMap<&str, usize>,
    summary: &dyn Fn(usize) -> &'c Summary,
    starts: &[&str],
) -> bool {
    // The alias a destination leads to, if any.
    let next = |destination: &str| -> Option<String> {
        let domain = domain_of(destination);
        if model.domains.contains_key(domain) {
            return match graph::resolve(model, destination) {
                Resolution::Alias(a) | Resolution::CatchAll(a) => Some(a.source.clone()),
                _ => None,
            };
        }
        let tenant = summary(*unparsed.get(domain)?);
        if exits_from(tenant, destination).is_some() {
            Some(destination.to_string())
        } else if tenant.catch_all {
            Some(format!("@{domain}"))
        } else {
            None
        }
    };
    let successors = |alias: &str| -> Vec<String> {
        let domain = domain_of(alias);
        let destinations: Vec<&str> = match model.domains.get(domain) {
            // A forwarding mailbox's copy for itself is delivered, not followed.
            Some(d) => d.aliases.get(alias).map_or(Vec::new(), |a| {
                a.forwards().map(|d| d.address.as_str()).collect()
            }),
            None => unparsed
                .get(domain)
                .and_then(|&index| exits_from(summary(index), alias))
                .map_or(Vec::new(), |exits| {
                    exits.iter().map(String::as_str).collect()
                }),
        };
        destinations.into_iter().filter_map(next).collect()
    };
    // Depth-first, iteratively: 1 = on the path, 2 = done.
    let mut state: BTreeMap<String, u8> = BTreeMap::new();
    for &start in starts {
        if state.contains_key(start) {
            continue;
        }
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.to_string(), successors(start))];
        state.insert(start.to_string(), 1);
        while let Some((node, pending)) = stack.last_mut() {
            match pending.pop() {
                Some(next) => match state.get(&next) {
                    Some(1) => return true,
                    Some(_) => {}
                    None => {
                        state.insert(next.clone(), 1);
                        let after = successors(&next);
                        stack.push((next, after));
                    }
                },
                None => {
                    state.insert(node.clone(), 2);
                    stack.pop();
                }
            }
        }
    }
    false
}

/// The recorded exits of one alias of a file not parsed (they are sorted
/// by source, as the domain's aliases are).
fn exits_from<'t>(tenant: &'t Summary, source: &str) -> Option<&'t [String]> {
    tenant
        .exits
        .binary_search_by(|(s, _)| s.as_str().cmp(source))
        .ok()
        .map(|i| tenant.exits[i].1.as_slice())
}

/// The generated files of an incremental compile: those of the parsed
/// domains written, those of the others known unchanged on disk.
pub(crate) fn emit(model: &Model, known: &Known) -> Artifacts {
    let mut out = emit::emit_platform(model);
    emit::emit_tenants(model, model.domains.values(), &mut out);
    for (_, index) in known.unparsed() {
        out.add_unchanged_tenant(&known.cache.tenants[index].domain);
    }
    out
}

/// What is known of `generated/` when the cache is recorded.
pub(crate) enum OnDisk<'a> {
    /// It was just made equal to the artifacts.
    Written,
    /// It was made equal to the artifacts by a build, which says which
    /// folders hold only produced files.
    Built(&'a Stale),
    /// It was compared with the artifacts; these files differ.
    Compared(&'a FileChanges),
}

/// Record the cache after a compile that reported no problem at all. A
/// cache that cannot be written is only a slower next run: the warning to
/// show comes back.
pub(crate) fn record(
    root: &Path,
    compiled: &Compiled,
    on_disk: OnDisk<'_>,
) -> io::Result<Option<String>> {
    if !compiled.diagnostics.is_empty()
        || std::env::var_os("MAILOPS_CACHE").is_some_and(|v| v == "off")
    {
        return Ok(None);
    }
    if !compiled.model.alias_domains.is_empty() {
        // Alias domains are resolved across files (an alias may point at
        // one; an alias domain may be another file's domain), which the
        // summaries do not record: such a repo compiles in full every time,
        // so no cache is kept for it.
        return match std::fs::remove_file(cache::path(root)) {
            Ok(()) => Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        };
    }
    let mut timer = crate::timing::StageTimer::from_env();
    let model = &compiled.model;
    let known = compiled.known.as_ref();
    let old = known.map(|k| &k.cache);
    let shards = model.platform.aws.dns_shards;
    let tenant_folders = TenantFolders::open(root, shards)?;
    // The folders whose entries are known: after a build, which listed them
    // or knew them and left only produced files in them; after a plan or an
    // apply, those known before whose stat is still the recorded one
    // (nothing was added, removed or renamed there since).
    let now = tenant_folders.folder_stats()?;
    let mut folders: Vec<Option<Stat>> = match on_disk {
        OnDisk::Built(stale) => TenantFolders::names(shards)
            .iter()
            .zip(now)
            .map(|(name, stat)| {
                stat.filter(|_| stale.clean.contains(name))
                    .and_then(Stat::settled_now)
            })
            .collect(),
        OnDisk::Written | OnDisk::Compared(_) => now
            .into_iter()
            .enumerate()
            .map(|(index, stat)| {
                let recorded = old.and_then(|c| c.folders.get(index).copied().flatten());
                recorded.filter(|recorded| stat == Some(*recorded))
            })
            .collect(),
    };
    // Nothing parsed, every tenant file and folder as recorded: the cache is
    // what it was (its generated files were all produced unchanged).
    if let Some(known) = known
        && known.parsed.is_empty()
        && known.files.len() == known.cache.tenants.len()
        && known.files.iter().all(|f| {
            f.entry
                .is_some_and(|i| known.cache.tenants[i].stat == f.stat)
        })
        && folders == known.cache.folders
    {
        return Ok(None);
    }

    // The parsed domains' entries, summarised on every core.
    let parsed: Vec<&Domain> = model.domains.values().collect();
    let mut fresh: BTreeMap<&str, cache::Tenant> = crate::parallel::map_chunks(&parsed, |part| {
        part.iter()
            .map(|d| (tenant_file(&d.file), summarise(d)))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    // Every tenant file: its name, hash, stat and entry.
    let listed: Vec<(String, Hash, Option<Stat>, Option<usize>)> = match known {
        Some(known) => known
            .files
            .iter()
            .map(|f| (f.name.clone(), f.hash, f.stat, f.entry))
            .collect(),
        None => {
            let repo = &compiled.repo;
            let mut listed = Vec::with_capacity(repo.tenants.len());
            for &id in &repo.tenants {
                let file = repo.sources.file(id);
                // Every tenant file of a full compile was read when parsed.
                let Some((digest, stat)) = file.read_as() else {
                    return Ok(None);
                };
                let name = tenant_file(&file.name).to_string();
                listed.push((name, *digest, stat.settled(repo.loaded_at), None));
            }
            listed
        }
    };
    let differing: rustc_hash::FxHashSet<&str> = match on_disk {
        OnDisk::Written | OnDisk::Built(_) => Default::default(),
        OnDisk::Compared(changes) => changes
            .changed
            .iter()
            .chain(&changes.added)
            .map(String::as_str)
            .collect(),
    };
    let mut tenants = Vec::with_capacity(listed.len());
    // The entries whose generated files were just written or found as they
    // should be: their stats are taken (on every core).
    let mut to_stat = Vec::new();
    for (name, digest, stat, entry) in listed {
        let previous = entry.and_then(|i| old.map(|c| &c.tenants[i]));
        let tenant = match fresh.remove(name.as_str()) {
            Some(mut tenant) => {
                tenant.name = name;
                tenant.stat = stat;
                tenant.hash = digest;
                tenant.produced = previous
                    .filter(|p| p.domain == tenant.domain)
                    .and_then(|p| p.produced.clone());
                let paths = emit::tenant_paths(&tenant.domain, shards);
                if !paths.iter().any(|p| differing.contains(p.as_str())) {
                    to_stat.push(tenants.len());
                }
                tenant
            }
            None => match previous {
                // Not parsed: its files were produced unchanged.
                Some(previous) if previous.hash == digest => cache::Tenant {
                    stat,
                    ..previous.clone()
                },
                // Neither parsed nor known: cannot be (a full compile
                // parses every file), but never record a guess.
                _ => return Ok(None),
            },
        };
        tenants.push(tenant);
    }
    timer.lap("rec: entries");
    let stats = crate::parallel::map_chunks(&to_stat, |part| {
        part.iter()
            .map(|&i| tenant_folders.stats(&tenants[i].domain))
            .collect::<Vec<_>>()
    });
    let paths = emit::TENANT_PATHS;
    for (&i, stats) in to_stat.iter().zip(stats.into_iter().flatten()) {
        let stats = stats?;
        let tenant = &mut tenants[i];
        tenant.produced = (stats.len() == paths).then_some(Produced {
            stats,
            hash: tenant.hash,
        });
    }
    // By name, as `try_compile` merges them with the files it lists.
    tenants.sort_by(|a, b| a.name.cmp(&b.name));
    // A folder known before is known still only while every file in it is
    // one of this cache's domains': not when a domain left the cache, whose
    // files a plan leaves in place (a build removes them, and says which
    // folders hold only what it produced).
    if !matches!(on_disk, OnDisk::Built(_))
        && let Some(old) = old
        && folders.iter().any(Option::is_some)
    {
        let kept: rustc_hash::FxHashSet<&str> = tenants.iter().map(|t| t.domain.as_str()).collect();
        if old
            .tenants
            .iter()
            .any(|t| !kept.contains(t.domain.as_str()))
        {
            folders.iter_mut().for_each(|f| *f = None);
        }
    }
    timer.lap("rec: produced");

    let platform_hash = match known {
        Some(known) => hash(&known.platform),
        None => match compiled.repo.platform {
            Some(id) => compiled.repo.sources.file(id).content_hash(),
            None => return Ok(None),
        },
    };
    let key_store = model.platform.paths.key_store.clone();
    let keys = match known {
        Some(known) => known.keys.clone(),
        None => cache::key_files(root, &key_store)?,
    };
    let cache = Cache {
        format: cache::FORMAT.to_string(),
        build: cache::build_id(),
        platform: platform_hash,
        key_store,
        keys,
        tenants,
        dns_shards: shards,
        folders,
    };
    if old == Some(&cache) {
        return Ok(None);
    }
    let written = cache.write(root);
    timer.lap("rec: write");
    Ok(written.err().map(|e| {
        format!(
            "could not write the compile cache {}: {e}",
            cache::path(root).display()
        )
    }))
}

/// What the cache keeps of a compiled domain (its name, stat, hash and
/// generated files are the caller's to fill in).
fn summarise(domain: &Domain) -> cache::Tenant {
    let rows = crate::db::desired::summarise(domain);
    let mut foreign = Vec::new();
    let mut targets = Targets::default();
    for alias in domain.aliases.values() {
        for destination in &alias.destinations {
            let target = domain_of(&destination.address);
            if target != domain.name {
                targets.insert(target);
                foreign.push((alias.source.clone(), destination.address.clone()));
            }
        }
    }
    let mut send_as = Vec::new();
    for mailbox in domain.mailboxes.values() {
        for address in &mailbox.send_as {
            let target = domain_of(&address.address);
            if target != domain.name {
                targets.insert(target);
                send_as.push(address.address.clone());
            }
        }
    }
    let catch_all = format!("@{}", domain.name);
    let summary = Summary {
        state: rows.state.name().to_string(),
        digest: rows.digest,
        users: rows.users,
        aliases: rows.aliases,
        foreign,
        exits: exits(domain),
        catch_all: domain.aliases.contains_key(&catch_all),
        send_as,
    };
    cache::Tenant {
        name: String::new(),
        stat: None,
        hash: [0; 32],
        domain: domain.name.clone(),
        produced: None,
        targets,
        summary: summary.encode(),
    }
}

fn exits(domain: &Domain) -> Vec<(String, Vec<String>)> {
    use petgraph::algo::kosaraju_scc;
    use petgraph::graph::{DiGraph, NodeIndex};

    let catch_all = format!("@{}", domain.name);
    let aliases: Vec<&crate::model::Alias> = domain.aliases.values().collect();
    let index: rustc_hash::FxHashMap<&str, NodeIndex> = aliases
        .iter()
        .enumerate()
        .map(|(i, a)| (a.source.as_str(), NodeIndex::new(i)))
        .collect();
    let mut graph: DiGraph<(), ()> = DiGraph::with_capacity(aliases.len(), aliases.len());
    for _ in &aliases {
        graph.add_node(());
    }
    // Each alias's own destinations in other domains.
    let mut foreign: Vec<Vec<&str>> = vec![Vec::new(); aliases.len()];
    for (i, alias) in aliases.iter().enumerate() {
        for destination in alias.forwards() {
            let address = destination.address.as_str();
            if domain_of(address) != domain.name {
                foreign[i].push(address);
                continue;
            }
            let inner = match domain.aliases.get(address) {
                Some(inner) => Some(inner),
                None if domain.mailboxes.contains_key(address) => None,
                None => domain.aliases.get(&catch_all),
            };
            if let Some(inner) = inner {
                graph.update_edge(NodeIndex::new(i), index[inner.source.as_str()], ());
            }
        }
    }
    // Sets come out after every set they lead to.
    let components = kosaraju_scc(&graph);
    let mut component_of = vec![0usize; aliases.len()];
    for (c, members) in components.iter().enumerate() {
        for n in members {
            component_of[n.index()] = c;
        }
    }
    let mut reach: Vec<std::rc::Rc<BTreeSet<&str>>> = Vec::with_capacity(components.len());
    for (c, members) in components.iter().enumerate() {
        let mut own = BTreeSet::new();
        let mut next: Vec<usize> = Vec::new();
        for n in members {
            own.extend(foreign[n.index()].iter().copied());
            next.extend(
                graph
                    .neighbors(*n)
                    .map(|m| component_of[m.index()])
                    .filter(|&d| d != c),
            );
        }
        next.sort_unstable();
        next.dedup();
        // A set that adds nothing to the one set it leads to shares it (a
        // chain keeps one set, not one copy per hop).
        let set = match next.as_slice() {
            [only] if own.is_subset(&reach[*only]) => reach[*only].clone(),
            _ => {
                for d in next {
                    own.extend(reach[d].iter().copied());
                }
                std::rc::Rc::new(own)
            }
        };
        reach.push(set);
    }
    aliases
        .iter()
        .enumerate()
        .filter_map(|(i, alias)| {
            let set = &reach[component_of[i]];
            (!set.is_empty()).then(|| {
                (
                    alias.source.clone(),
                    set.iter().map(|a| a.to_string()).collect(),
                )
            })
        })
        .collect()
}

/// The fingerprint of what was compiled: the binary's version, the platform
/// file and every tenant file's contents. A saved plan carries it; apply
/// refuses the plan when the files changed since.
pub(crate) fn inputs_fingerprint(compiled: &Compiled) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"mailops-inputs/1\0");
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(b"\0");
    match &compiled.known {
        Some(known) => {
            hasher.update(cache::hex(&hash(&known.platform)).as_bytes());
            for file in &known.files {
                hasher.update(b"\0");
                hasher.update(file.name.as_bytes());
                hasher.update(b"\0");
                hasher.update(cache::hex(&file.hash).as_bytes());
            }
        }
        None => {
            let repo = &compiled.repo;
            if let Some(id) = repo.platform {
                hasher.update(cache::hex(&repo.sources.file(id).content_hash()).as_bytes());
            }
            for (name, digest) in tenant_hashes(repo) {
                hasher.update(b"\0");
                hasher.update(name.as_bytes());
                hasher.update(b"\0");
                hasher.update(cache::hex(&digest).as_bytes());
            }
        }
    }
    format!("blake3:{}", hasher.finalize().to_hex())
}

/// Every tenant file of a full compile: its name under `tenants/` and the
/// hash of its contents (recorded when it was read), in load order.
fn tenant_hashes(repo: &load::LoadedRepo) -> Vec<(String, Hash)> {
    repo.tenants
        .iter()
        .map(|&id| {
            let file = repo.sources.file(id);
            (tenant_file(&file.name).to_string(), file.content_hash())
        })
        .collect()
}

/// A tenant file's name under `tenants/`, from its path in the repo.
fn tenant_file(path: &str) -> &str {
    path.strip_prefix("tenants/").unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::emit::test_repo;

    /// The walk `exits` replaced: from each alias, every alias it reaches
    /// through the domain's own aliases, one walk per alias.
    fn exits_by_walking(domain: &Domain) -> Vec<(String, Vec<String>)> {
        let catch_all = format!("@{}", domain.name);
        let mut exits = Vec::new();
        for alias in domain.aliases.values() {
            let mut reached = BTreeSet::new();
            let mut seen = BTreeSet::from([alias.source.as_str()]);
            let mut stack = vec![alias];
            while let Some(at) = stack.pop() {
                for destination in &at.destinations {
                    let address = destination.address.as_str();
                    if domain_of(address) != domain.name {
                        reached.insert(address.to_string());
                        continue;
                    }
                    let inner = match domain.aliases.get(address) {
                        Some(inner) => Some(inner),
                        None if domain.mailboxes.contains_key(address) => None,
                        None => domain.aliases.get(&catch_all),
                    };
                    if let Some(inner) = inner
                        && seen.insert(inner.source.as_str())
                    {
                        stack.push(inner);
                    }
                }
            }
            if !reached.is_empty() {
                exits.push((alias.source.clone(), reached.into_iter().collect()));
            }
        }
        exits
    }

    #[test]
    fn exits_in_one_pass_equal_a_walk_from_every_alias() {
        // Random alias graphs with chains, fans, loops (which the graph
        // stage refuses, but the walk must still end) and a catch-all.
        let seed = 0x6d61_696c;
        let mut rng = StdRng::seed_from_u64(seed);
        for round in 0..60 {
            let domain = "walk.example";
            let mut text = test_repo::tenant(domain, "dkim", 2, "Walk", "Walk");
            let aliases = rng.gen_range(1..12);
            let catch_all = rng.gen_bool(0.5);
            for a in 0..aliases {
                let mut to = Vec::new();
                for _ in 0..rng.gen_range(1..4) {
                    to.push(match rng.gen_range(0..5) {
                        0 => format!("\"out{}@elsewhere.example\"", rng.gen_range(0..4)),
                        1 => format!("\"user{}\"", rng.gen_range(0..2)),
                        2 if catch_all => format!("\"nobody{}\"", rng.gen_range(0..3)),
                        _ => format!("\"a{}\"", rng.gen_range(0..aliases)),
                    });
                }
                to.dedup();
                let _ = write!(
                    text,
                    "\n[[alias]]\naddress = \"a{a}\"\nto = [{}]\n",
                    to.join(", ")
                );
            }
            if catch_all {
                let _ = write!(
                    text,
                    "\n[[alias]]\naddress = \"*\"\nto = [\"a0\", \"fallback@elsewhere.example\"]\n"
                );
            }
            let model = test_repo::compile_unchecked(
                &test_repo::platform("driver = \"sqlite\""),
                &[(domain, text)],
            );
            let domain = &model.domains[domain];
            assert_eq!(
                exits(domain),
                exits_by_walking(domain),
                "round {round} (seed {seed:#x})"
            );
        }
    }
}
