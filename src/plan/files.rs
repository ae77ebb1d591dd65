//! The file half of a plan: what `build` would change in `generated/`, as
//! unified diffs (password hashes hidden, see `mask`).

use std::collections::BTreeSet;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::emit::{self, Artifacts};
use crate::generated_dir::{self, FileChanges, GENERATED_DIR, Listed};
use crate::model::Model;
use crate::plan::mask::shown_diff;

/// Lines of context around each change in a unified diff.
const CONTEXT: usize = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileStatus {
    Added,
    Changed,
    Removed,
}

impl FileStatus {
    pub(crate) fn word(self) -> &'static str {
        match self {
            FileStatus::Added => "added",
            FileStatus::Changed => "changed",
            FileStatus::Removed => "removed",
        }
    }
}

/// One file `build` would write or remove.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FileChange {
    /// Path relative to the mail repo (`generated/sql/mysql/acme.example.sql`).
    pub(crate) path: String,
    pub(crate) status: FileStatus,
    pub(crate) insertions: usize,
    pub(crate) deletions: usize,
    /// Unified diff, three lines of context.
    pub(crate) diff: String,
    /// The tenant the file belongs to (its DNS file, its SQL files).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
}

/// Every file change, sorted by path.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FilePlan {
    pub(crate) files: Vec<FileChange>,
}

impl FilePlan {
    /// Compare the artifacts with `generated/` under `root`, reading the old
    /// contents only of files that change; also returns which files differ.
    /// The folders `listed` knows (from the compile cache, see
    /// `pipeline::listed`) are not listed: the files no longer produced there
    /// are among its `maybe_stale`, and the plan is the one a full walk gives.
    pub(crate) fn compute(
        root: &Path,
        artifacts: &Artifacts,
        listed: &Listed,
    ) -> io::Result<(Self, FileChanges)> {
        let (changes, mut read) = generated_dir::compare_keeping_read(root, artifacts, listed)?;
        let mut files = Vec::new();
        for (list, status) in [
            (&changes.added, FileStatus::Added),
            (&changes.changed, FileStatus::Changed),
            (&changes.removed, FileStatus::Removed),
        ] {
            for path in list {
                let old = match status {
                    FileStatus::Added => String::new(),
                    _ => match read.remove(path.as_str()) {
                        Some(bytes) => generated_dir::text(bytes),
                        None => generated_dir::read_file(root, path)?.unwrap_or_default(),
                    },
                };
                let new = artifacts.get(path).unwrap_or("");
                files.push(file_change(path, status, &old, new));
            }
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok((FilePlan { files }, changes))
    }

    /// What building `head` changes in a `generated/` that holds what `base`
    /// builds (`None`: nothing), both emitted in memory (`plan --base REF`).
    /// The platform's files are compared at once, the tenants' in parts of
    /// `TENANTS_PER_PART` domains of either side, as `build` writes them:
    /// two whole `generated/` of 10,000 tenants are never held at once.
    pub(crate) fn between(base: Option<&Model>, head: &Model) -> Self {
        let mut files = Vec::new();
        let base_platform = base.map(emit::emit_platform).unwrap_or_default();
        compare(&base_platform, &emit::emit_platform(head), &mut files);
        drop(base_platform);
        let domains: BTreeSet<&str> = base
            .into_iter()
            .flat_map(|model| model.domains.keys())
            .chain(head.domains.keys())
            .map(String::as_str)
            .collect();
        let domains: Vec<&str> = domains.into_iter().collect();
        for part in domains.chunks(TENANTS_PER_PART) {
            let emitted = |model: &Model| {
                let mut out = Artifacts::default();
                let mine = part.iter().filter_map(|name| model.domains.get(*name));
                emit::emit_tenants(model, mine, &mut out);
                out
            };
            let old = base.map(emitted).unwrap_or_default();
            compare(&old, &emitted(head), &mut files);
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        FilePlan { files }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    pub(crate) fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    /// "generated/: 1 added, 1 changed, 0 removed".
    pub(crate) fn summary_line(&self) -> String {
        if self.files.is_empty() {
            return format!("{GENERATED_DIR}/: no changes");
        }
        format!(
            "{GENERATED_DIR}/: {} added, {} changed, {} removed",
            self.count(FileStatus::Added),
            self.count(FileStatus::Changed),
            self.count(FileStatus::Removed)
        )
    }
}

/// How many tenants' files `between` emits and compares at a time.
const TENANTS_PER_PART: usize = 256;

/// Every file that differs between two sets of artifacts.
fn compare(old: &Artifacts, new: &Artifacts, files: &mut Vec<FileChange>) {
    for (path, before) in old.iter() {
        match new.get(path) {
            None => files.push(file_change(path, FileStatus::Removed, before, "")),
            Some(after) if after != before => {
                files.push(file_change(path, FileStatus::Changed, before, after))
            }
            Some(_) => {}
        }
    }
    for (path, after) in new.iter() {
        if old.get(path).is_none() {
            files.push(file_change(path, FileStatus::Added, "", after));
        }
    }
}

/// The change of one file (`path` under `generated/`) from `old` to `new`.
pub(crate) fn file_change(path: &str, status: FileStatus, old: &str, new: &str) -> FileChange {
    let full = format!("{GENERATED_DIR}/{path}");
    let diff = TextDiff::configure()
        .timeout(Duration::from_secs(5))
        .diff_lines(old, new);
    let (mut insertions, mut deletions) = (0, 0);
    for change in diff.iter_all_changes() {
        match change.tag() {
            ChangeTag::Insert => insertions += 1,
            ChangeTag::Delete => deletions += 1,
            ChangeTag::Equal => {}
        }
    }
    let (a, b) = match status {
        FileStatus::Added => ("/dev/null".to_string(), format!("b/{full}")),
        FileStatus::Removed => (format!("a/{full}"), "/dev/null".to_string()),
        FileStatus::Changed => (format!("a/{full}"), format!("b/{full}")),
    };
    let unified = diff
        .unified_diff()
        .context_radius(CONTEXT)
        .header(&a, &b)
        .to_string();
    FileChange {
        path: full,
        status,
        insertions,
        deletions,
        diff: shown_diff(path, unified),
        tenant: crate::emit::tenant_of(path).map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifacts(files: &[(&str, &str)]) -> Artifacts {
        let mut a = Artifacts::default();
        for (p, c) in files {
            a.add(*p, c.to_string());
        }
        a
    }

    /// A mail repo whose generated/ holds these files.
    fn disk(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (path, contents) in files {
            let full = dir.path().join("generated").join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(full, contents).unwrap();
        }
        dir
    }

    #[test]
    fn classifies_added_changed_removed() {
        let disk = disk(&[
            ("a.txt", "# generated by mailops from x; do not edit\none\n"),
            ("gone.txt", "# generated by mailops from x; do not edit\n"),
            ("mine.txt", "hand written\n"),
        ]);
        let new = artifacts(&[
            ("a.txt", "# generated by mailops from x; do not edit\ntwo\n"),
            ("b.txt", "# generated by mailops from x; do not edit\n"),
        ]);
        let (plan, _) = FilePlan::compute(disk.path(), &new, &Listed::default()).unwrap();
        let got: Vec<(&str, FileStatus)> = plan
            .files
            .iter()
            .map(|f| (f.path.as_str(), f.status))
            .collect();
        assert_eq!(
            got,
            vec![
                ("generated/a.txt", FileStatus::Changed),
                ("generated/b.txt", FileStatus::Added),
                ("generated/gone.txt", FileStatus::Removed),
            ]
        );
        let a = &plan.files[0];
        assert_eq!((a.insertions, a.deletions), (1, 1));
        assert!(a.diff.contains("-one\n+two\n"), "{}", a.diff);
        assert_eq!(
            plan.summary_line(),
            "generated/: 1 added, 1 changed, 1 removed"
        );
    }

    #[test]
    fn between_two_models_is_the_diff_of_their_whole_builds() {
        use crate::emit::test_repo::{compile, platform, tenant};
        let base = compile(
            &platform(""),
            &[
                ("a.example", tenant("a.example", "dkim", 2, "A", "Ann")),
                ("b.example", tenant("b.example", "dkim", 1, "B", "Bo")),
            ],
        );
        let head = compile(
            &platform(""),
            &[
                ("a.example", tenant("a.example", "dkim", 3, "A", "Ann")),
                ("c.example", tenant("c.example", "dkim", 1, "C", "Cy")),
            ],
        );
        let plan = FilePlan::between(Some(&base), &head);
        let mut whole = Vec::new();
        compare(&emit::emit(&base), &emit::emit(&head), &mut whole);
        whole.sort_by(|a, b| a.path.cmp(&b.path));
        let shown = |files: &[FileChange]| -> Vec<(String, FileStatus, String)> {
            files
                .iter()
                .map(|f| (f.path.clone(), f.status, f.diff.clone()))
                .collect()
        };
        assert_eq!(shown(&plan.files), shown(&whole));
        let statuses: Vec<(&str, FileStatus)> = plan
            .files
            .iter()
            .filter(|f| f.tenant.is_some())
            .map(|f| (f.path.as_str(), f.status))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("generated/sql/mysql/a.example.sql", FileStatus::Changed),
                ("generated/sql/mysql/b.example.sql", FileStatus::Removed),
                ("generated/sql/mysql/c.example.sql", FileStatus::Added),
                ("generated/sql/sqlite/a.example.sql", FileStatus::Changed),
                ("generated/sql/sqlite/b.example.sql", FileStatus::Removed),
                ("generated/sql/sqlite/c.example.sql", FileStatus::Added),
                (
                    "generated/terraform/dns-03/dns_b.example.tf",
                    FileStatus::Removed
                ),
                (
                    "generated/terraform/dns-08/dns_c.example.tf",
                    FileStatus::Added
                ),
            ]
        );
        // No base: every file of the head is added.
        let fresh = FilePlan::between(None, &head);
        assert_eq!(fresh.count(FileStatus::Added), emit::emit(&head).len());
        assert_eq!(fresh.files.len(), emit::emit(&head).len());
        // The same model: nothing.
        assert!(FilePlan::between(Some(&head), &head).is_empty());
    }

    #[test]
    fn a_tenant_file_names_its_tenant() {
        for (path, tenant) in [
            ("terraform/dns-06/dns_acme.example.tf", Some("acme.example")),
            ("terraform/dns_acme.example.tf", None),
            ("terraform/dns-06/main.tf", None),
            ("terraform/host/dns_acme.example.tf", None),
            ("sql/mysql/acme.example.sql", Some("acme.example")),
            ("sql/sqlite/xn--11b.example.sql", Some("xn--11b.example")),
            ("sql/mysql-begin.sql", None),
            ("terraform/host/main.tf", None),
        ] {
            let change = file_change(path, FileStatus::Added, "", "x\n");
            assert_eq!(change.tenant.as_deref(), tenant, "{path}");
        }
    }
}
