//! The file half of `mailops plan`: what `build` would change in `generated/`,
//! as unified diffs, with a summary per file and per tenant.
//!
//! One `FilePlan` is computed and then rendered three ways (human, markdown
//! for a pull-request comment, JSON), so every form shows the same changes.
//!
//! The SQL files hold every mailbox's password hash. A plan is printed in CI
//! logs and pull-request comments, so their diffs never show one: a hash is
//! shown as its scheme, `'{ARGON2ID}…'`, and as `'{ARGON2ID}…(hash changed)'`
//! on an added line whose mailbox's removed line had another hash (as the
//! row section says "password changed"); see `hide_password_hashes`.

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use similar::{ChangeTag, TextDiff};

use crate::emit::Artifacts;
use crate::emit::sql::{Edit, Splice};
use crate::generated_dir::{self, GENERATED_DIR};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum FileStatus {
    Added,
    Changed,
    Removed,
}

impl FileStatus {
    fn word(self) -> &'static str {
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
    /// Path relative to the mail repo (`generated/sql/mysql.sql`).
    pub(crate) path: String,
    pub(crate) status: FileStatus,
    pub(crate) insertions: usize,
    pub(crate) deletions: usize,
    /// Unified diff, three lines of context.
    pub(crate) diff: String,
    /// The tenant a per-tenant file belongs to (`dns_<domain>.tf`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    /// For a tenant's DNS file: its records added, changed, removed.
    #[serde(skip)]
    records: Option<Counts>,
    /// For the SQLite SQL file: its changed lines that are mailbox or alias rows.
    #[serde(skip)]
    rows: Vec<RowLine>,
}

/// Every file change, sorted by path.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FilePlan {
    pub(crate) files: Vec<FileChange>,
}

/// Changed lines per tenant and kind, for the summary table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Counts {
    pub(crate) added: usize,
    pub(crate) changed: usize,
    pub(crate) removed: usize,
}

impl Counts {
    fn is_zero(&self) -> bool {
        self.added == 0 && self.changed == 0 && self.removed == 0
    }

    fn show(&self) -> String {
        if self.is_zero() {
            "–".to_string()
        } else {
            format!("+{} ~{} -{}", self.added, self.changed, self.removed)
        }
    }
}

impl FilePlan {
    /// Compare the artifacts with `generated/` under `root`, reading the old
    /// contents only of files that change.
    #[cfg(test)]
    pub(crate) fn compute(root: &Path, artifacts: &Artifacts) -> io::Result<Self> {
        Self::compute_with(root, artifacts, BTreeMap::new()).map(|(plan, _)| plan)
    }

    /// Like `compute`, given old contents already read (path under
    /// `generated/` → bytes); also returns which files differ.
    pub(crate) fn compute_with(
        root: &Path,
        artifacts: &Artifacts,
        preread: BTreeMap<String, Vec<u8>>,
    ) -> io::Result<(Self, generated_dir::FileChanges)> {
        let (changes, mut read) = generated_dir::compare_keeping_read(root, artifacts, preread)?;
        let spliced: BTreeMap<&str, &Splice> = artifacts.spliced().collect();
        let mut files = Vec::new();
        for (list, status) in [
            (&changes.added, FileStatus::Added),
            (&changes.changed, FileStatus::Changed),
            (&changes.removed, FileStatus::Removed),
        ] {
            for path in list {
                if let Some(splice) = spliced.get(path.as_str()) {
                    files.push(spliced_change(root, path, splice)?);
                    continue;
                }
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

    pub(crate) fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    fn count(&self, status: FileStatus) -> usize {
        self.files.iter().filter(|f| f.status == status).count()
    }

    /// "2 files changed: 1 added, 1 changed, 0 removed".
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

    /// Per tenant: DNS records, and changed lines of the SQL files that are about
    /// its mailboxes and aliases. Keyed by domain.
    pub(crate) fn tenant_summary(&self) -> BTreeMap<String, TenantCounts> {
        let mut out: BTreeMap<String, TenantCounts> = BTreeMap::new();
        for file in &self.files {
            if let (Some(tenant), Some(records)) = (&file.tenant, &file.records) {
                if !records.is_zero() {
                    out.entry(tenant.clone()).or_default().records = records.clone();
                }
            }
        }
        if let Some(sql) = self
            .files
            .iter()
            .find(|f| f.path.ends_with("sql/sqlite.sql"))
        {
            for (tenant, kind, counts) in sql_row_counts(sql) {
                let entry = out.entry(tenant).or_default();
                match kind {
                    RowKind::Mailbox => entry.mailboxes = counts,
                    RowKind::Alias => entry.aliases = counts,
                }
            }
        }
        out
    }
}

/// One row of the per-tenant summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct TenantCounts {
    pub(crate) records: Counts,
    pub(crate) mailboxes: Counts,
    pub(crate) aliases: Counts,
}

fn file_change(path: &str, status: FileStatus, old: &str, new: &str) -> FileChange {
    let full = format!("{GENERATED_DIR}/{path}");
    // A one-row change in a 200 MB SQL file: diff only the lines around it.
    let (old_part, new_part, lines_before) = differing_window(old, new);
    let diff = TextDiff::configure()
        .timeout(Duration::from_secs(5))
        .diff_lines(old_part, new_part);
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
    let unified = shift_hunks(
        &diff
            .unified_diff()
            .context_radius(CONTEXT)
            .header(&a, &b)
            .to_string(),
        lines_before,
    );
    let tenant = path
        .strip_prefix("terraform/dns_")
        .and_then(|rest| rest.strip_suffix(".tf"))
        .map(str::to_string);
    let rows = if path == "sql/sqlite.sql" {
        row_lines(&diff)
    } else {
        Vec::new()
    };
    FileChange {
        path: full,
        status,
        insertions,
        deletions,
        diff: shown_diff(path, unified),
        records: tenant.as_ref().map(|_| record_counts(old, new)),
        tenant,
        rows,
    }
}

/// The change of a file given as edits of the file on disk: each group of
/// nearby edits is diffed on a window of the old file around it, read from
/// disk, wide enough that the diff shows what the diff of the whole files
/// would (see `differing_window`); the hunks of the groups are joined.
fn spliced_change(root: &Path, path: &str, splice: &Splice) -> io::Result<FileChange> {
    use std::os::unix::fs::FileExt;
    // Never through a link (see `fsutil::Beneath`).
    let file = crate::fsutil::read_beneath_file(root, &Path::new(GENERATED_DIR).join(path))?;
    let read = |from: u64, to: u64| -> io::Result<Vec<u8>> {
        let mut buf = vec![0u8; (to - from) as usize];
        file.read_exact_at(&mut buf, from)?;
        Ok(buf)
    };
    const MARGIN: usize = CONTEXT + 6;
    // The start of the line MARGIN lines before `at` (a line start), moved
    // on back to a line that is not a row.
    let window_start = |at: u64| -> io::Result<u64> {
        let mut span = 64 * 1024u64;
        loop {
            let from = at.saturating_sub(span);
            let buf = read(from, at)?;
            let mut back = 0;
            let mut end = buf.len();
            while end > 0 {
                let start = buf[..end - 1]
                    .iter()
                    .rposition(|&b| b == b'\n')
                    .map(|i| i + 1);
                match start {
                    Some(start) => {
                        back += 1;
                        if back >= MARGIN && buf[start] != b'(' {
                            return Ok(from + start as u64);
                        }
                        end = start;
                    }
                    None if from == 0 => return Ok(0),
                    None => break,
                }
            }
            if from == 0 {
                return Ok(0);
            }
            span *= 4;
        }
    };
    // The end of the line MARGIN lines after `at` (a line start), or the end.
    let window_end = |at: u64| -> io::Result<u64> {
        let mut span = 64 * 1024u64;
        loop {
            let to = (at + span).min(splice.old_len);
            let buf = read(at, to)?;
            let mut lines = 0;
            for (i, &b) in buf.iter().enumerate() {
                if b == b'\n' {
                    lines += 1;
                    if lines > MARGIN {
                        return Ok(at + i as u64 + 1);
                    }
                }
            }
            if to == splice.old_len {
                return Ok(to);
            }
            span *= 4;
        }
    };
    // Groups of edits whose windows meet.
    let mut groups: Vec<(u64, u64, Vec<&Edit>)> = Vec::new();
    for edit in &splice.edits {
        let start = window_start(edit.at)?;
        let end = window_end(edit.at + edit.len)?;
        match groups.last_mut() {
            Some((_, last_end, edits)) if start <= *last_end => {
                *last_end = (*last_end).max(end);
                edits.push(edit);
            }
            _ => groups.push((start, end, vec![edit])),
        }
    }
    let full = format!("{GENERATED_DIR}/{path}");
    let (mut insertions, mut deletions) = (0, 0);
    let mut unified = String::new();
    let mut rows = Vec::new();
    // Lines the new file has more than the old before the current group.
    let mut delta: i64 = 0;
    for (start, end, edits) in groups {
        let old_bytes = read(start, end)?;
        let mut new_bytes = Vec::with_capacity(old_bytes.len() + 1024);
        let mut at = start;
        for edit in &edits {
            new_bytes
                .extend_from_slice(&old_bytes[(at - start) as usize..(edit.at - start) as usize]);
            new_bytes.extend_from_slice(edit.text.as_bytes());
            at = edit.at + edit.len;
        }
        new_bytes.extend_from_slice(&old_bytes[(at - start) as usize..]);
        let old_text = generated_dir::text(old_bytes);
        let new_text = generated_dir::text(new_bytes);
        let first = edits[0];
        let lines_before_window = first.line
            - crate::emit::sql::count_lines(&old_text.as_bytes()[..(first.at - start) as usize]);
        let (old_part, new_part, lines_before) = differing_window(&old_text, &new_text);
        let diff = TextDiff::configure()
            .timeout(Duration::from_secs(5))
            .diff_lines(old_part, new_part);
        let (mut ins, mut del) = (0i64, 0i64);
        for change in diff.iter_all_changes() {
            match change.tag() {
                ChangeTag::Insert => ins += 1,
                ChangeTag::Delete => del += 1,
                ChangeTag::Equal => {}
            }
        }
        let a = format!("a/{full}");
        let b = format!("b/{full}");
        let text = diff
            .unified_diff()
            .context_radius(CONTEXT)
            .header(&a, &b)
            .to_string();
        let old_shift = lines_before_window as usize + lines_before;
        let new_shift = (old_shift as i64 + delta) as usize;
        let shifted = shift_hunks_by(&text, old_shift, new_shift);
        if unified.is_empty() {
            unified.push_str(&shifted);
        } else {
            // The file header once.
            unified.extend(
                shifted
                    .split_inclusive('\n')
                    .skip_while(|l| l.starts_with("--- ") || l.starts_with("+++ ")),
            );
        }
        if path == "sql/sqlite.sql" {
            rows.extend(row_lines(&diff));
        }
        insertions += ins as usize;
        deletions += del as usize;
        delta += ins - del;
    }
    Ok(FileChange {
        path: full,
        status: FileStatus::Changed,
        insertions,
        deletions,
        diff: shown_diff(path, unified),
        records: None,
        tenant: None,
        rows,
    })
}

/// The diff as a plan may show it: the SQL files' without password hashes.
fn shown_diff(path: &str, unified: String) -> String {
    if path.starts_with("sql/") {
        hide_password_hashes(&unified)
    } else {
        unified
    }
}

/// A unified diff of a SQL file with every password hash replaced by its
/// scheme: `'{ARGON2ID}…'`, or `'{ARGON2ID}…(hash changed)'` on an added
/// line whose mailbox has a removed line with another hash.
///
/// A mailbox row is a line `(…'address', 'hash', quota, …` (SQLite) or
/// `(@domain_id, 'address', 'hash', quota, …` (MySQL): its second string
/// literal followed by a number. An alias row has two literals and no
/// number after them; other lines are not rows. Addresses and hashes hold no
/// quote (validation refuses them), so literals are found by their quotes.
pub(crate) fn hide_password_hashes(unified: &str) -> String {
    // Removed lines: address → hash.
    let mut removed: BTreeMap<&str, &str> = BTreeMap::new();
    let mut in_hunks = false;
    for line in unified.split_inclusive('\n') {
        in_hunks |= line.starts_with("@@");
        if in_hunks {
            if let Some(row) = line.strip_prefix('-') {
                if let Some(hash) = mailbox_row(row) {
                    removed.insert(hash.address, &row[hash.start..hash.end]);
                }
            }
        }
    }
    let mut out = String::with_capacity(unified.len());
    let mut in_hunks = false;
    for line in unified.split_inclusive('\n') {
        in_hunks |= line.starts_with("@@");
        let (sign, row) = line.split_at(line.len().min(1));
        let hash = if in_hunks && matches!(sign, " " | "-" | "+") {
            mailbox_row(row)
        } else {
            None
        };
        let Some(hash) = hash else {
            out.push_str(line);
            continue;
        };
        let secret = &row[hash.start..hash.end];
        let scheme = secret
            .strip_prefix('{')
            .and_then(|rest| rest.find('}'))
            .map_or("", |end| &secret[..end + 2]);
        let changed = sign == "+" && removed.get(hash.address).is_some_and(|old| *old != secret);
        out.push_str(sign);
        out.push_str(&row[..hash.start]);
        out.push_str(scheme);
        out.push('…');
        if changed {
            out.push_str("(hash changed)");
        }
        out.push_str(&row[hash.end..]);
    }
    out
}

/// Where a mailbox row's password hash lies (byte range of the literal's
/// contents), and its address.
struct HashAt<'a> {
    address: &'a str,
    start: usize,
    end: usize,
}

fn mailbox_row(row: &str) -> Option<HashAt<'_>> {
    if !row.starts_with('(') {
        return None;
    }
    let literal = |from: usize| -> Option<(usize, usize)> {
        let start = from + row[from..].find('\'')? + 1;
        let end = start + row[start..].find('\'')?;
        Some((start, end))
    };
    let (a_start, a_end) = literal(0)?;
    let (start, end) = literal(a_end + 1)?;
    // Between the two literals only a comma and space.
    if row[a_end + 1..start - 1].trim() != "," {
        return None;
    }
    let after = row[end + 1..].strip_prefix(", ")?;
    if !after.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    Some(HashAt {
        address: &row[a_start..a_end],
        start,
        end,
    })
}

/// Lines of context around each change in a unified diff.
const CONTEXT: usize = 3;

/// The parts of two texts that a line diff must look at, and how many lines
/// come before them: the common start and end are cut off, less a margin of
/// unchanged lines wider than the diff's context, so that the diff of the
/// parts shows exactly what the diff of the whole texts would. The parts
/// start at a line that is not a row of a multi-row SQL statement (rows are
/// told apart by the statement line above them).
fn differing_window<'a>(old: &'a str, new: &'a str) -> (&'a str, &'a str, usize) {
    const MARGIN: usize = CONTEXT + 5;
    let (o, n) = (old.as_bytes(), new.as_bytes());
    let prefix = common_prefix(o, n);
    if prefix == o.len() && prefix == n.len() {
        return (old, new, 0);
    }
    // Byte offsets are only ever cut at line starts (after a `\n`), which
    // are character boundaries.
    let line_start = |at: usize| {
        o[..at]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
    };
    // Back to the start of the line, then MARGIN lines more, then on to a
    // line that is not a row.
    let mut start = line_start(prefix);
    let mut back = 0;
    while start > 0 && (back < MARGIN || o[start] == b'(') {
        start = line_start(start - 1);
        back += 1;
    }
    let (o_rest, n_rest) = (&o[start..], &n[start..]);
    let suffix = common_suffix(o_rest, n_rest);
    // The common end, from the start of the first whole line in it, then
    // MARGIN lines later (it is the same text in both).
    let mut tail = o_rest.len() - suffix;
    if tail > 0 && o_rest[tail - 1] != b'\n' {
        tail = o_rest[tail..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(o_rest.len(), |i| tail + i + 1);
    }
    for _ in 0..MARGIN {
        if tail >= o_rest.len() {
            break;
        }
        tail = o_rest[tail..]
            .iter()
            .position(|&b| b == b'\n')
            .map_or(o_rest.len(), |i| tail + i + 1);
    }
    let kept = o_rest.len() - tail;
    let lines_before = o[..start].iter().filter(|&&b| b == b'\n').count();
    (
        &old[start..old.len() - kept],
        &new[start..new.len() - kept],
        lines_before,
    )
}

/// Bytes at the start of both that are equal: block by block (memcmp), then
/// byte by byte in the first block that differs.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 4096;
    let len = a.len().min(b.len());
    let mut at = 0;
    while at + BLOCK <= len && a[at..at + BLOCK] == b[at..at + BLOCK] {
        at += BLOCK;
    }
    at + a[at..len]
        .iter()
        .zip(&b[at..len])
        .take_while(|(x, y)| x == y)
        .count()
}

/// Bytes at the end of both that are equal.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    const BLOCK: usize = 4096;
    let len = a.len().min(b.len());
    let (a_end, b_end) = (a.len(), b.len());
    let mut n = 0;
    while n + BLOCK <= len && a[a_end - n - BLOCK..a_end - n] == b[b_end - n - BLOCK..b_end - n] {
        n += BLOCK;
    }
    n + a[..a_end - n]
        .iter()
        .rev()
        .zip(b[..b_end - n].iter().rev())
        .take_while(|(x, y)| x == y)
        .count()
}

/// Move the line numbers of every hunk header (`@@ -a,b +c,d @@`) of a
/// unified diff down by `lines`.
fn shift_hunks(unified: &str, lines: usize) -> String {
    shift_hunks_by(unified, lines, lines)
}

/// Move the old line numbers of every hunk header down by `old_lines`, the
/// new ones by `new_lines`.
fn shift_hunks_by(unified: &str, old_lines: usize, new_lines: usize) -> String {
    if old_lines == 0 && new_lines == 0 {
        return unified.to_string();
    }
    let shift = |range: &str, lines: usize| -> String {
        let (start, len) = match range.split_once(',') {
            Some((start, len)) => (start, Some(len)),
            None => (range, None),
        };
        let start = start
            .parse::<usize>()
            .map_or(start.to_string(), |n| (n + lines).to_string());
        match len {
            Some(len) => format!("{start},{len}"),
            None => start,
        }
    };
    let mut out = String::with_capacity(unified.len() + 64);
    for line in unified.split_inclusive('\n') {
        let header = line
            .strip_prefix("@@ -")
            .and_then(|rest| rest.split_once(" +"))
            .and_then(|(old, rest)| rest.split_once(" @@").map(|(new, tail)| (old, new, tail)));
        match header {
            Some((old, new, tail)) => {
                out.push_str(&format!(
                    "@@ -{} +{} @@{tail}",
                    shift(old, old_lines),
                    shift(new, new_lines)
                ));
            }
            None => out.push_str(line),
        }
    }
    out
}

/// Route53 record resources of a Terraform file: resource header → block text.
fn record_blocks(text: &str) -> BTreeMap<&str, String> {
    let mut blocks = BTreeMap::new();
    let mut current: Option<(&str, String)> = None;
    for line in text.lines() {
        if let Some((header, body)) = &mut current {
            body.push_str(line);
            body.push('\n');
            if line == "}" {
                blocks.insert(*header, std::mem::take(body));
                current = None;
            }
        } else if line.starts_with("resource \"aws_route53_record\"") {
            current = Some((line, format!("{line}\n")));
        }
    }
    blocks
}

/// DNS records added, changed and removed between two versions of a `dns_<domain>.tf`.
fn record_counts(old: &str, new: &str) -> Counts {
    let old = record_blocks(old);
    let new = record_blocks(new);
    Counts {
        added: new.keys().filter(|k| !old.contains_key(*k)).count(),
        changed: new
            .iter()
            .filter(|(k, v)| old.get(*k).is_some_and(|o| o != *v))
            .count(),
        removed: old.keys().filter(|k| !new.contains_key(*k)).count(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RowKind {
    Mailbox,
    Alias,
}

/// A changed line of the SQL file that is a row of a mailbox or alias upsert.
#[derive(Debug, Clone)]
struct RowLine {
    added: bool,
    kind: RowKind,
    /// The line without its line end.
    text: String,
}

/// The changed lines of the SQLite SQL file that are mailbox or alias rows.
///
/// A row line (`('alice@acme.example', …),`) does not name its table: the
/// statement it belongs to is the nearest line above it that is not a row,
/// looked up by the line's index in its own version of the file.
fn row_lines<'a>(diff: &TextDiff<'a, 'a, 'a, str>) -> Vec<RowLine> {
    let old = row_kinds(diff.old_slices());
    let new = row_kinds(diff.new_slices());
    let mut rows = Vec::new();
    for change in diff.iter_all_changes() {
        let kind = match change.tag() {
            ChangeTag::Insert => change.new_index().and_then(|i| new[i]),
            ChangeTag::Delete => change.old_index().and_then(|i| old[i]),
            ChangeTag::Equal => None,
        };
        if let Some(kind) = kind {
            rows.push(RowLine {
                added: change.tag() == ChangeTag::Insert,
                kind,
                text: change.value().trim_end_matches('\n').to_string(),
            });
        }
    }
    rows
}

/// For each line of the SQL file: the table it is a row of, if it is one.
/// Rows start with `(`; every other line ends the statement above it.
fn row_kinds(lines: &[&str]) -> Vec<Option<RowKind>> {
    let mut statement = None;
    lines
        .iter()
        .map(|line| {
            if line.starts_with('(') {
                return statement;
            }
            statement = if line.starts_with("INSERT INTO virtual_users ") {
                Some(RowKind::Mailbox)
            } else if line.starts_with("INSERT INTO virtual_aliases ") {
                Some(RowKind::Alias)
            } else {
                None
            };
            None
        })
        .collect()
}

/// The first `n` string literals of a row (addresses hold no quote).
fn literals(row: &str, n: usize) -> Option<Vec<&str>> {
    let mut values = Vec::with_capacity(n);
    let mut rest = row;
    for _ in 0..n {
        let start = rest.find('\'')? + 1;
        let end = start + rest[start..].find('\'')?;
        values.push(&rest[start..end]);
        rest = &rest[end + 1..];
    }
    Some(values)
}

/// Mailbox and alias rows of the SQLite SQL diff, by tenant. A row is keyed
/// by its address (a mailbox) or its source and destination (an alias), and
/// its tenant is the domain of that address. A key both removed and added is
/// a changed row, unless the row is the same apart from the comma that ends
/// every row but a statement's last (a row added or removed at the end of a
/// statement moves that comma).
fn sql_row_counts(file: &FileChange) -> Vec<(String, RowKind, Counts)> {
    // (tenant, kind, key) → (removed text, added text), each without its comma.
    type Sides<'a> = (Option<&'a str>, Option<&'a str>);
    let mut rows: BTreeMap<(&str, RowKind, String), Sides> = BTreeMap::new();
    for row in &file.rows {
        let values = match row.kind {
            RowKind::Mailbox => 1,
            RowKind::Alias => 2,
        };
        let Some(values) = literals(&row.text, values) else {
            continue;
        };
        let Some((_, domain)) = values[0].rsplit_once('@') else {
            continue;
        };
        let text = row.text.strip_suffix(',').unwrap_or(&row.text);
        let sides = rows
            .entry((domain, row.kind, values.join(" ")))
            .or_default();
        if row.added {
            sides.1 = Some(text);
        } else {
            sides.0 = Some(text);
        }
    }
    let mut counts: BTreeMap<(&str, RowKind), Counts> = BTreeMap::new();
    for ((domain, kind, _), sides) in rows {
        let entry = counts.entry((domain, kind)).or_default();
        match sides {
            (None, Some(_)) => entry.added += 1,
            (Some(_), None) => entry.removed += 1,
            (Some(old), Some(new)) if old != new => entry.changed += 1,
            _ => {}
        }
    }
    counts
        .into_iter()
        .filter(|(_, counts)| !counts.is_zero())
        .map(|((domain, kind), counts)| (domain.to_string(), kind, counts))
        .collect()
}

const GREEN: &str = "\x1b[32m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Terminal form: each diff, then the summary.
pub(crate) fn render_human(plan: &FilePlan, color: bool) -> String {
    let mut out = String::new();
    for file in &plan.files {
        let title = format!(
            "{} ({}, +{} -{})",
            file.path,
            file.status.word(),
            file.insertions,
            file.deletions
        );
        if color {
            out.push_str(&format!("{BOLD}{title}{RESET}\n"));
        } else {
            out.push_str(&format!("{title}\n"));
        }
        for line in file.diff.lines() {
            let paint = match line.as_bytes().first() {
                _ if !color => None,
                _ if line.starts_with("+++") || line.starts_with("---") => Some(BOLD),
                Some(b'+') => Some(GREEN),
                Some(b'-') => Some(RED),
                Some(b'@') => Some(CYAN),
                _ => None,
            };
            match paint {
                Some(code) => out.push_str(&format!("{code}{line}{RESET}\n")),
                None => {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out.push('\n');
    }
    let tenants = plan.tenant_summary();
    if !tenants.is_empty() {
        out.push_str("tenants (records, mailboxes, aliases: +added ~changed -removed):\n");
        for (tenant, counts) in &tenants {
            out.push_str(&format!(
                "  {tenant}: records {}, mailboxes {}, aliases {}\n",
                counts.records.show(),
                counts.mailboxes.show(),
                counts.aliases.show()
            ));
        }
    }
    out.push_str(&plan.summary_line());
    out.push('\n');
    out
}

/// A pull-request comment: the per-tenant table, then each diff folded in `<details>`.
pub(crate) fn render_markdown(plan: &FilePlan) -> String {
    let mut out = String::from("### Generated files\n\n");
    if plan.is_empty() {
        out.push_str("No changes to `generated/`.\n");
        return out;
    }
    let tenants = plan.tenant_summary();
    if !tenants.is_empty() {
        out.push_str("| tenant | DNS records | mailboxes | aliases |\n|---|---|---|---|\n");
        for (tenant, counts) in &tenants {
            out.push_str(&format!(
                "| `{}` | {} | {} | {} |\n",
                markdown_code(tenant),
                counts.records.show(),
                counts.mailboxes.show(),
                counts.aliases.show()
            ));
        }
        out.push_str("\n_+added ~changed -removed_\n\n");
    }
    out.push_str(&format!("{}\n\n", plan.summary_line()));
    for file in &plan.files {
        let fence = fence_for(&file.diff);
        out.push_str(&format!(
            "<details><summary><code>{}</code> ({}, +{} −{})</summary>\n\n{fence}diff\n{}{fence}\n\n</details>\n\n",
            html_escape(&file.path),
            file.status.word(),
            file.insertions,
            file.deletions,
            file.diff
        ));
    }
    out
}

/// A code fence longer than any run of backticks in the content.
fn fence_for(content: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in content.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

fn markdown_code(text: &str) -> String {
    text.replace('`', "'").replace('|', "\\|")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The JSON form: every file with its diff, and the summaries.
pub(crate) fn to_json(plan: &FilePlan) -> serde_json::Value {
    serde_json::json!({
        "files": plan.files,
        "tenants": plan.tenant_summary(),
        "summary": {
            "added": plan.count(FileStatus::Added),
            "changed": plan.count(FileStatus::Changed),
            "removed": plan.count(FileStatus::Removed),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The unified diff of the whole texts, as it was before diffs were windowed.
    fn whole_diff(old: &str, new: &str) -> String {
        TextDiff::configure()
            .diff_lines(old, new)
            .unified_diff()
            .context_radius(CONTEXT)
            .header("a", "b")
            .to_string()
    }

    fn windowed_diff(old: &str, new: &str) -> String {
        let (o, n, before) = differing_window(old, new);
        shift_hunks(
            &TextDiff::configure()
                .diff_lines(o, n)
                .unified_diff()
                .context_radius(CONTEXT)
                .header("a", "b")
                .to_string(),
            before,
        )
    }

    #[test]
    fn common_ends_are_found_across_blocks() {
        let a: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        for at in [0, 1, 4095, 4096, 4097, 8191, 9999] {
            let mut b = a.clone();
            b[at] ^= 1;
            assert_eq!(common_prefix(&a, &b), at);
            assert_eq!(common_suffix(&a, &b), a.len() - at - 1);
        }
        assert_eq!(common_prefix(&a, &a[..5000]), 5000);
        assert_eq!(common_suffix(&a, &a[5000..]), 5000);
        assert_eq!(common_prefix(&a, &a), a.len());
    }

    #[test]
    fn windowed_diffs_equal_whole_diffs() {
        let base: Vec<String> = (0..300)
            .map(|i| match i % 50 {
                0 => format!("INSERT INTO virtual_users (x) VALUES -- {i}"),
                49 => format!(") ünïcödé {i};"),
                _ => format!("('user{i}@a.example', 'é{i}'),"),
            })
            .collect();
        let text = |lines: &[String]| lines.iter().map(|l| format!("{l}\n")).collect::<String>();
        let old = text(&base);
        let mut edits: Vec<String> = Vec::new();
        for at in [0, 1, 2, 7, 120, 149, 150, 151, 298, 299] {
            let mut changed = base.clone();
            changed[at] = format!("{}x", changed[at]);
            edits.push(text(&changed));
            let mut inserted = base.clone();
            inserted.insert(at, "('new@a.example', 'ü'),".to_string());
            edits.push(text(&inserted));
            let mut removed = base.clone();
            removed.remove(at);
            edits.push(text(&removed));
            let mut two = base.clone();
            two[at] = "changed".to_string();
            two[(at + 37) % 300] = "changed too".to_string();
            edits.push(text(&two));
        }
        edits.push(String::new());
        edits.push(format!("{old}tail"));
        edits.push(old.trim_end().to_string());
        edits.push(old.replace("é1'", "è1'"));
        for new in &edits {
            assert_eq!(windowed_diff(&old, new), whole_diff(&old, new), "{new}");
            assert_eq!(windowed_diff(new, &old), whole_diff(new, &old), "{new}");
        }
        assert_eq!(windowed_diff(&old, &old), whole_diff(&old, &old));
    }

    #[test]
    fn a_spliced_file_plans_and_writes_as_its_whole_new_text() {
        // A SQL-like file: statements of 40 rows, and line-aligned "segments".
        let lines: Vec<String> = (0..2000)
            .map(|i| match i % 40 {
                0 => format!(
                    "INSERT INTO virtual_users (x) SELECT d.id, v.column1 FROM (VALUES -- {i}"
                ),
                39 => format!(") AS v WHERE d.name = 'ü{i}';"),
                _ => format!("('user{i}@a.example', 'é{i}'),"),
            })
            .collect();
        let old: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let offset =
            |line: usize| -> u64 { lines[..line].iter().map(|l| l.len() as u64 + 1).sum() };
        let edit = |from: usize, to: usize, text: &str| Edit {
            at: offset(from),
            len: offset(to) - offset(from),
            text: text.to_string(),
            line: from as u64,
        };
        let cases: Vec<Vec<Edit>> = vec![
            // One row changed, same length (written in place).
            vec![edit(
                5,
                6,
                &format!("{}\n", lines[5].replace("user5", "resu5")),
            )],
            // A row added, one removed far off, and two edits close together.
            vec![
                edit(3, 3, "('new@a.example', 'ñ'),\n"),
                edit(900, 901, ""),
                edit(905, 906, "('x@a.example', 'x'),\n('y@a.example', 'y'),\n"),
                edit(1999, 2000, "tail;\n"),
            ],
            // At the very start and end.
            vec![edit(0, 0, "-- head\n"), edit(2000, 2000, "-- end\n")],
        ];
        for edits in cases {
            let mut new = String::new();
            let mut at = 0;
            for e in &edits {
                new.push_str(&old[at..e.at as usize]);
                new.push_str(&e.text);
                at = (e.at + e.len) as usize;
            }
            new.push_str(&old[at..]);
            let path = "sql/sqlite.sql";
            let disk = disk(&[(path, &old)]);
            let mut spliced = Artifacts::default();
            spliced.add_spliced(
                path,
                Splice {
                    old_len: old.len() as u64,
                    edits,
                },
            );
            let (plan, changes) =
                FilePlan::compute_with(disk.path(), &spliced, BTreeMap::new()).unwrap();
            let whole = file_change(path, FileStatus::Changed, &old, &new);
            assert_eq!(changes.changed, vec![path.to_string()]);
            assert_eq!(plan.files.len(), 1);
            let got = &plan.files[0];
            assert_eq!(got.diff, whole.diff);
            assert_eq!(
                (got.insertions, got.deletions),
                (whole.insertions, whole.deletions)
            );
            assert_eq!(format!("{:?}", got.rows), format!("{:?}", whole.rows));
            generated_dir::write(disk.path(), &spliced, BTreeMap::new()).unwrap();
            assert_eq!(
                std::fs::read_to_string(disk.path().join("generated").join(path)).unwrap(),
                new
            );
        }
    }

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
        let plan = FilePlan::compute(disk.path(), &new).unwrap();
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
    fn plain_output_has_no_escape_codes_and_markdown_folds_diffs() {
        let empty = disk(&[]);
        let plan = FilePlan::compute(
            empty.path(),
            &artifacts(&[("x.sql", "-- generated by mailops\n```\n")]),
        )
        .unwrap();
        let human = render_human(&plan, false);
        assert!(!human.contains('\x1b'));
        assert!(render_human(&plan, true).contains("\x1b[32m"));
        let md = render_markdown(&plan);
        assert!(md.contains("<details><summary><code>generated/x.sql</code>"));
        assert!(
            md.contains("````diff\n"),
            "fence longer than the content's backticks: {md}"
        );
    }

    #[test]
    fn dns_records_are_counted_per_resource() {
        let old = "resource \"aws_route53_record\" \"a_mx\" {\n  ttl = 1\n}\n\nresource \"aws_route53_record\" \"a_spf\" {\n  ttl = 1\n}\n";
        let new = "resource \"aws_route53_record\" \"a_mx\" {\n  ttl = 2\n}\n\nresource \"aws_route53_record\" \"a_dkim\" {\n  ttl = 1\n}\n";
        assert_eq!(
            record_counts(old, new),
            Counts {
                added: 1,
                changed: 1,
                removed: 1
            }
        );
    }

    /// The per-tenant summary of the SQLite file's change from one version of
    /// `acme.example` (as `test_repo::tenant` writes it) to another.
    fn sql_summary(before: (usize, &str), after: (usize, &str)) -> TenantCounts {
        use crate::emit::test_repo::{self, tenant};
        let sqlite = |(mailboxes, name): (usize, &str)| {
            let text = tenant("acme.example", "dkim", mailboxes, "Acme", name);
            test_repo::emit(&test_repo::platform(""), &[("acme.example", text)])
                .get("sql/sqlite.sql")
                .unwrap()
                .to_string()
        };
        let (old, new) = (sqlite(before), sqlite(after));
        let plan = FilePlan {
            files: vec![file_change(
                "sql/sqlite.sql",
                FileStatus::Changed,
                &old,
                &new,
            )],
        };
        let mut summary = plan.tenant_summary();
        assert_eq!(summary.len(), 1, "{summary:?}");
        summary.remove("acme.example").unwrap()
    }

    fn counts(added: usize, changed: usize, removed: usize) -> Counts {
        Counts {
            added,
            changed,
            removed,
        }
    }

    #[test]
    fn a_row_added_at_the_end_of_a_statement_is_one_added_row() {
        // user2 is the last mailbox row, and team@ → user2 the last alias row:
        // the rows before them gain a comma, and are not changed rows.
        let summary = sql_summary((2, "A"), (3, "A"));
        assert_eq!(summary.mailboxes, counts(1, 0, 0));
        assert_eq!(summary.aliases, counts(1, 0, 0));
        let summary = sql_summary((3, "A"), (2, "A"));
        assert_eq!(summary.mailboxes, counts(0, 0, 1));
        assert_eq!(summary.aliases, counts(0, 0, 1));
    }

    #[test]
    fn sql_rows_are_counted_by_key_across_statements() {
        let summary = sql_summary((2, "A"), (3, "B"));
        assert_eq!(summary.mailboxes, counts(1, 2, 0));
        assert_eq!(summary.aliases, counts(1, 0, 0));
        // user1000 sorts before user101: the last row of the first statement
        // of 1000 moves to the second, and is neither added nor changed.
        let summary = sql_summary((1000, "A"), (1001, "A"));
        assert_eq!(summary.mailboxes, counts(1, 0, 0));
        assert_eq!(summary.aliases, counts(1, 0, 0));
    }

    #[test]
    fn sql_diffs_show_hash_schemes_never_hashes() {
        let old = "INSERT INTO virtual_users (domain_id, email, password, quota_bytes, name) VALUES\n\
            (@domain_id, 'a@x.example', '{ARGON2ID}$argon2id$SECRET-A', 1, 'A'),\n\
            (@domain_id, 'b@x.example', '{BLF-CRYPT}$2y$SECRET-B', 1, NULL),\n\
            ('c@x.example', '{SHA512-CRYPT}$6$SECRET-C', 1, '{not} a hash')\n\
            INSERT INTO virtual_aliases (domain_id, source, destination) VALUES\n\
            ('{x}@x.example', '{y}z@x.example')\n";
        let new = old
            .replace("SECRET-A", "SECRET-A2")
            .replace("$6$SECRET-C', 1,", "$6$SECRET-C', 2,");
        let change = file_change("sql/mysql.sql", FileStatus::Changed, old, &new);
        assert!(!change.diff.contains("SECRET"), "{}", change.diff);
        assert!(
            change
                .diff
                .contains("+(@domain_id, 'a@x.example', '{ARGON2ID}…(hash changed)', 1, 'A'),"),
            "{}",
            change.diff
        );
        assert!(
            change
                .diff
                .contains("-(@domain_id, 'a@x.example', '{ARGON2ID}…', 1, 'A'),"),
            "{}",
            change.diff
        );
        // Same hash, other quota: the scheme only; names and aliases are not hashes.
        assert!(
            change
                .diff
                .contains("+('c@x.example', '{SHA512-CRYPT}…', 2, '{not} a hash')"),
            "{}",
            change.diff
        );
        assert!(
            change.diff.contains(" ('{x}@x.example', '{y}z@x.example')"),
            "{}",
            change.diff
        );
        // Other files are shown as they are.
        let other = file_change("dovecot/x.conf", FileStatus::Changed, old, &new);
        assert!(other.diff.contains("SECRET-A2"));
    }

    #[test]
    fn fences_outgrow_backtick_runs() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }
}
