//! The base of a pull-request plan (`plan --base REF`): the mail repo as a
//! git revision holds it, compiled in memory as a checkout of it would be.
//!
//! Nothing is checked out and the working tree is never read for it: the
//! revision's trees are listed folder by folder down to the mail repo
//! (`-C DIR` may be a folder inside the work tree), and only the files the
//! loader reads from a working tree are read, the same way: `mailops.toml`
//! and `tenants/*.toml` (not hidden), each only when it is a regular blob
//! (mode 100644 or 100755). A symbolic link, a submodule or a folder where
//! one of them should be is the loader's `not-a-regular-file` diagnostic
//! (`not-a-folder` for `tenants/` or a folder on the way to the mail repo),
//! naming the file as git does, `REF:path`. A revision without the mail
//! repo at all (the commit before the one that adds `mailops.toml`) is a
//! base with nothing in it: everything is planned as added. A `tenants/`
//! missing beside `mailops.toml` is no tenant (git keeps no empty folder).
//!
//! The stages after loading are the full compile's (`pipeline::compile`),
//! except the key store check: private keys are never in git, and checking
//! the base's public keys against this machine's key store would report
//! the base's keys rotated since as mismatches. The domains a build of the
//! revision would find removed come from the revision's own
//! `generated/terraform/` listing, as a checkout's `generated/` would give
//! them.

use std::collections::BTreeSet;
use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::generated_dir::GENERATED_DIR;
use crate::gitrev::{Entry, EntryKind, GitError, GitRepo, Revision};
use crate::incremental::Compiled;
use crate::load::{self, PLATFORM_FILE, TENANTS_DIR};
use crate::load_diags as diags;

/// A revision, compiled.
pub(crate) struct Base {
    pub(crate) revision: Revision,
    /// The mail repo's folder in the work tree (`mail/`, or empty at its top).
    pub(crate) prefix: String,
    /// `None`: the revision has no mail repo there (neither `mailops.toml`
    /// nor `tenants/`).
    pub(crate) compiled: Option<Compiled>,
}

impl Base {
    /// `origin/main (commit abc1234)`.
    pub(crate) fn shown(&self) -> String {
        self.revision.shown()
    }

    /// Where the mail repo is, for a message: `mail/` or "the top of the repository".
    pub(crate) fn folder(&self) -> String {
        if self.prefix.is_empty() {
            "the top of the repository".to_string()
        } else {
            format!("`{}`", self.prefix)
        }
    }
}

/// Read and compile the mail repo at `dir` as revision `name` holds it.
/// Only git failing is an error; problems in the revision's files are the
/// compile's diagnostics.
pub(crate) fn read(dir: &Path, name: &str) -> Result<Base, GitError> {
    let git = GitRepo::open(dir)?;
    let revision = git.resolve(name)?;
    let prefix = git.prefix.clone();
    let mut diagnostics = Diagnostics::default();
    let folder = descend(&git, &revision, &prefix, &mut diagnostics)?;
    let blocked = matches!(folder, Folder::Blocked);
    let root = match folder {
        Folder::Missing => {
            return Ok(Base {
                revision,
                prefix,
                compiled: None,
            });
        }
        // Reported: compiled with nothing in it, so that it has errors.
        Folder::Blocked => Vec::new(),
        Folder::Entries(entries) => entries,
    };
    let shown = |path: &str| revision.path(&format!("{prefix}{path}"));

    let mut platform = None;
    let mut tenants_tree = None;
    let mut generated_tree = None;
    for entry in &root {
        let (name, kind) = (entry.name.as_slice(), entry.kind);
        if name == PLATFORM_FILE.as_bytes() {
            match kind {
                EntryKind::Regular => platform = Some(entry.oid.as_str()),
                _ => diagnostics.push(diags::not_a_regular_file(
                    &shown(PLATFORM_FILE),
                    kind.describe(),
                )),
            }
        } else if name == TENANTS_DIR.as_bytes() {
            match kind {
                EntryKind::Tree => tenants_tree = Some(entry.oid.as_str()),
                _ => diagnostics.push(diags::not_a_folder(&shown(TENANTS_DIR), kind.describe())),
            }
        } else if name == GENERATED_DIR.as_bytes() && kind == EntryKind::Tree {
            generated_tree = Some(entry.oid.as_str());
        }
    }
    let has = |name: &[u8]| root.iter().any(|e| e.name == name);
    if !blocked && !has(PLATFORM_FILE.as_bytes()) && !has(TENANTS_DIR.as_bytes()) {
        return Ok(Base {
            revision,
            prefix,
            compiled: None,
        });
    }
    if !blocked && !has(PLATFORM_FILE.as_bytes()) {
        diagnostics.push(diags::no_platform_file(Path::new(&shown(""))));
    }

    let mut names = Vec::new();
    let mut oids = Vec::new();
    let listed = match tenants_tree {
        Some(tree) => git.list(tree)?,
        None => Vec::new(),
    };
    for entry in &listed {
        let lossy = entry.name_lossy();
        if lossy.starts_with('.') || !entry.name.ends_with(b".toml") {
            continue;
        }
        let path = shown(&format!("{TENANTS_DIR}/{lossy}"));
        match (entry.kind, entry.name_str()) {
            // Only a hand-made tree holds one: git itself never writes it.
            _ if entry.name.contains(&b'/') => diagnostics.push(diags::not_a_regular_file(
                &path,
                "a tree entry with `/` in its name",
            )),
            (EntryKind::Regular, Some(name)) => {
                names.push(name.to_string());
                oids.push(entry.oid.as_str());
            }
            (EntryKind::Regular, None) => diagnostics.push(diags::file_name_not_utf8(&path)),
            (kind, _) => diagnostics.push(diags::not_a_regular_file(&path, kind.describe())),
        }
    }
    if let Some(oid) = platform {
        oids.push(oid);
    }
    let mut blobs = git.read_blobs(&oids)?;
    let platform_bytes = platform.and_then(|_| blobs.pop());
    let mut tenants: Vec<(String, Vec<u8>)> = names.into_iter().zip(blobs).collect();
    tenants.sort_by(|a, b| a.0.cmp(&b.0));

    let removed = match generated_tree {
        Some(tree) => removed_domains(&git, tree)?,
        None => Vec::new(),
    };
    let repo = load::load_in_memory(dir, platform_bytes, tenants, &mut diagnostics);
    let model = crate::validate::validate(&repo, &mut diagnostics);
    let removed: BTreeSet<String> = removed
        .into_iter()
        .filter(|domain| !model.domains.contains_key(domain))
        .collect();
    let graph = crate::graph::build(&model, &removed, &mut diagnostics);
    Ok(Base {
        revision,
        prefix,
        compiled: Some(Compiled {
            repo,
            model,
            graph,
            diagnostics,
            known: None,
        }),
    })
}

/// The mail repo's folder in the revision.
enum Folder {
    /// A folder on the way to it is not there.
    Missing,
    /// A link or a file is on the way (a diagnostic says which).
    Blocked,
    /// Its entries.
    Entries(Vec<Entry>),
}

/// The entries of the mail repo's folder in the revision: its trees walked
/// from the top, one folder of `prefix` at a time, never through a link.
fn descend(
    git: &GitRepo,
    revision: &Revision,
    prefix: &str,
    diagnostics: &mut Diagnostics,
) -> Result<Folder, GitError> {
    let mut entries = git.list(&revision.commit)?;
    let mut walked = String::new();
    for part in prefix.split('/').filter(|p| !p.is_empty()) {
        walked.push_str(part);
        let Some(entry) = entries.iter().find(|e| e.name == part.as_bytes()) else {
            return Ok(Folder::Missing);
        };
        if entry.kind != EntryKind::Tree {
            diagnostics.push(diags::not_a_folder(
                &revision.path(&walked),
                entry.kind.describe(),
            ));
            return Ok(Folder::Blocked);
        }
        let tree = entry.oid.clone();
        entries = git.list(&tree)?;
        walked.push('/');
    }
    Ok(Folder::Entries(entries))
}

/// The domains of the revision's `generated/terraform/dns-<shard>/dns_<domain>.tf`
/// (names only: nothing under `generated/` is read).
fn removed_domains(git: &GitRepo, generated: &str) -> Result<Vec<String>, GitError> {
    let Some(terraform) = git
        .list(generated)?
        .into_iter()
        .find(|e| e.name == b"terraform" && e.kind == EntryKind::Tree)
    else {
        return Ok(Vec::new());
    };
    let mut domains = Vec::new();
    for root in git.list(&terraform.oid)? {
        if root.kind != EntryKind::Tree
            || !root
                .name_str()
                .is_some_and(crate::emit::terraform::is_dns_root)
        {
            continue;
        }
        domains.extend(git.list(&root.oid)?.iter().filter_map(|e| {
            e.name_str()?
                .strip_prefix("dns_")?
                .strip_suffix(".tf")
                .map(str::to_string)
        }));
    }
    Ok(domains)
}
