//! A plan saved with `mailops plan --out plan.json` and applied later with
//! `mailops apply plan.json`.
//!
//! It carries the row changes exactly as reviewed, the fingerprint of the live
//! state they were computed from (`Live::fingerprint`: every domain's
//! bookkeeping and the tallies of its rows, and the rows that were diffed), and the
//! fingerprint of the input files of the mail repo. `apply` refuses the plan when either no longer matches.
//!
//! A plan is a promise of what will be written, not an instruction: the file
//! is not trusted (anyone who can edit it can recompute `plan_hash`). Under its
//! lock, `apply` derives the plan again from the tenant files and the live
//! rows, exactly as `plan` did (reading every row when the plan did), refuses
//! unless it equals the saved rows, and writes only what it derived itself.
//! The file holds password hashes (as the tenant files do), so it is written
//! mode 0600 and never printed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::plan::RowPlan;
use crate::error::Error;
use crate::fsutil::write_private;

/// Version 2: the live fingerprint covers the bookkeeping of migration 0002
/// and the diffed rows, not every row. Version 3: on MySQL/MariaDB it covers
/// the tallies of migration 0003 (row counts and sums of change times) in
/// place of the edit counters, so a plan saved before 0003 is refused by
/// its format rather than by a fingerprint that can no longer match; and the
/// compiled fingerprint is of the input files (`incremental::inputs_fingerprint`),
/// not of the generated files. Version 4: `full`, and no live fingerprint for
/// a plan of a database that did not exist or had an older schema (apply
/// migrates it first, so only the rows it derives can be compared). Version 5:
/// a domain row is `{name, state}` (migration 0005), not a bare name. Version 6:
/// `relays` and `relay_recipients` (migration 0006).
pub(crate) const FORMAT: &str = "mailops-plan/6";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedPlan {
    pub(crate) format: String,
    pub(crate) mailops_version: String,
    /// The database it was planned against: `DatabaseUrl::identity`, never a password.
    pub(crate) database: String,
    /// Fingerprint of the live state the plan was computed from; `None` when
    /// that state was not this mailops's schema (no database yet, or an older
    /// schema), which apply migrates before it reads.
    pub(crate) live_fingerprint: Option<String>,
    /// The plan read every row (`--full`, or no bookkeeping to trust): apply
    /// reads every row to derive it again.
    pub(crate) full: bool,
    /// Fingerprint of everything `build` produced from the mail repo.
    pub(crate) compiled_fingerprint: String,
    /// `RowPlan::hash` of `rows`.
    pub(crate) plan_hash: String,
    pub(crate) rows: RowPlan,
}

impl SavedPlan {
    pub(crate) fn new(
        database: String,
        live_fingerprint: Option<String>,
        full: bool,
        compiled_fingerprint: String,
        rows: RowPlan,
    ) -> Self {
        SavedPlan {
            format: FORMAT.to_string(),
            mailops_version: env!("CARGO_PKG_VERSION").to_string(),
            database,
            live_fingerprint,
            full,
            compiled_fingerprint,
            plan_hash: rows.hash(),
            rows,
        }
    }

    pub(crate) fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut json = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        json.push('\n');
        write_private(path, json.as_bytes())
    }

    /// Read and check a plan file; the error says what is wrong with it.
    pub(crate) fn read(path: &Path) -> Result<SavedPlan, Error> {
        SavedPlan::parse(path, &SavedPlan::read_text(path)?)
    }

    /// The text of a plan file. A file that cannot be read (missing, a
    /// folder, no permission) is an I/O failure: exit 2.
    pub(crate) fn read_text(path: &Path) -> Result<String, Error> {
        std::fs::read_to_string(path).map_err(|e| {
            let message = format!("cannot read {}: {e}", path.display());
            if e.kind() == std::io::ErrorKind::InvalidData {
                // Not UTF-8: read, but not a plan file.
                Error::User(message)
            } else {
                Error::Operational(message)
            }
        })
    }

    /// Check the text of the plan file at `path`: a file that is not a
    /// plan is the user's mistake, a plan that is stale or edited is refused
    /// (both exit 1).
    fn parse(path: &Path, text: &str) -> Result<SavedPlan, Error> {
        let plan: SavedPlan = serde_json::from_str(text).map_err(|e| {
            Error::user(format!(
                "{} is not a mailops plan file: {e}",
                path.display()
            ))
        })?;
        if plan.format != FORMAT {
            return Err(Error::refused(format!(
                "{} has format `{}`; this mailops reads `{FORMAT}`",
                path.display(),
                plan.format
            )));
        }
        if plan.mailops_version != env!("CARGO_PKG_VERSION") {
            return Err(Error::refused(format!(
                "{} was made by mailops {}, this is {}; plan again",
                path.display(),
                plan.mailops_version,
                env!("CARGO_PKG_VERSION")
            )));
        }
        if plan.rows.hash() != plan.plan_hash {
            return Err(Error::refused(format!(
                "{} was edited after it was made (its plan hash does not match); plan again",
                path.display()
            )));
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_edits() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let mut rows = RowPlan::default();
        rows.domains
            .insert
            .push(crate::db::rows::DomainRow::active("a.example"));
        let plan = SavedPlan::new(
            "sqlite://x.db".into(),
            Some("sha256:1".into()),
            false,
            "sha256:2".into(),
            rows,
        );
        plan.write(&path).unwrap();
        let back = SavedPlan::read(&path).unwrap();
        assert_eq!(back.rows, plan.rows);
        let edited = std::fs::read_to_string(&path)
            .unwrap()
            .replace("a.example", "b.example");
        std::fs::write(&path, edited).unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(matches!(err, Error::Refused(_)), "{err:?}");
        assert!(err.to_string().contains("edited"), "{err}");
        std::fs::write(&path, "{}").unwrap();
        let err = SavedPlan::read(&path).unwrap_err();
        assert!(matches!(err, Error::User(_)), "{err:?}");
        let err = SavedPlan::read(&dir.path().join("missing.json")).unwrap_err();
        assert!(matches!(err, Error::Operational(_)), "{err:?}");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }
}
