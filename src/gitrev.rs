//! A git revision, read through the `git` CLI without touching the working
//! tree or the index: which commit a name means (`rev-parse`), what a tree
//! holds (`ls-tree -z`, one folder at a time) and the bytes of blobs
//! (`cat-file --batch`, one process for all of them).
//!
//! Why the CLI and not a library: it is what CI images and mail hosts
//! already have, it reads every object format and repository layout git
//! itself reads (packs, alternates, worktrees, partial clones), and a
//! revision is only ever read, never written.
//!
//! Nothing here interprets what it reads: an entry carries its mode as git
//! stores it, and the caller decides what a link, a submodule or a folder
//! means where it expected a file. Names are bytes (a tree may hold any name
//! but `/` and NUL); `-z` keeps them unquoted.

use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Why a revision could not be read.
#[derive(Debug)]
pub(crate) enum GitError {
    /// The folder is not in a git work tree (git's words).
    NotAWorkTree(String),
    /// The name is not a commit of the repository (git's words, if any).
    UnknownRevision(String),
    /// git is missing, or failed on something that should work.
    Failed(String),
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GitError::NotAWorkTree(m) | GitError::UnknownRevision(m) | GitError::Failed(m) => {
                f.write_str(m)
            }
        }
    }
}

/// The git work tree that holds a folder.
#[derive(Debug, Clone)]
pub(crate) struct GitRepo {
    /// The folder (every git command runs in it).
    dir: PathBuf,
    /// The folder's path in the work tree, `/`-separated, with a trailing
    /// `/` (`mail/repo/`), or empty at the top of the work tree.
    pub(crate) prefix: String,
}

/// A commit, as the user named it and as git knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Revision {
    /// As typed (`origin/main`).
    pub(crate) name: String,
    /// The full object name.
    pub(crate) commit: String,
    /// Its unambiguous abbreviation (`abc1234`).
    pub(crate) short: String,
}

impl Revision {
    /// `origin/main (commit abc1234)`.
    pub(crate) fn shown(&self) -> String {
        format!("{} (commit {})", self.name, self.short)
    }

    /// `origin/main:mail/tenants/a.toml`: git's own name for a file of the revision.
    pub(crate) fn path(&self, path: &str) -> String {
        format!("{}:{path}", self.name)
    }
}

/// What a tree entry is, by its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// 100644 or 100755.
    Regular,
    /// 120000.
    Symlink,
    /// 040000.
    Tree,
    /// 160000, a gitlink.
    Submodule,
    /// Anything else a hand-made tree may hold.
    Other,
}

impl EntryKind {
    fn of(mode: &str) -> EntryKind {
        match mode {
            "100644" | "100755" => EntryKind::Regular,
            "120000" => EntryKind::Symlink,
            "040000" | "40000" => EntryKind::Tree,
            "160000" => EntryKind::Submodule,
            _ => EntryKind::Other,
        }
    }

    /// As the loader says it of a file on disk ("a symbolic link").
    pub(crate) fn describe(self) -> &'static str {
        match self {
            EntryKind::Regular => "a regular file",
            EntryKind::Symlink => "a symbolic link",
            EntryKind::Tree => "a folder",
            EntryKind::Submodule => "a submodule",
            EntryKind::Other => "a tree entry of unknown type",
        }
    }
}

/// One entry of a tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The name in its folder, as stored.
    pub(crate) name: Vec<u8>,
    pub(crate) kind: EntryKind,
    /// The object it names (a blob, a tree, or a commit of a submodule).
    pub(crate) oid: String,
}

impl Entry {
    /// The name as UTF-8, if it is.
    pub(crate) fn name_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.name).ok()
    }

    /// The name for a message (not UTF-8 shown with �).
    pub(crate) fn name_lossy(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }
}

impl GitRepo {
    /// The work tree that holds `dir` (which may be a folder inside it).
    pub(crate) fn open(dir: &Path) -> Result<GitRepo, GitError> {
        let output = git(
            dir,
            &["rev-parse", "--is-inside-work-tree", "--show-prefix"],
        )?;
        let not_a_work_tree = |why: &str| {
            GitError::NotAWorkTree(format!("{} is not in a git work tree{why}", dir.display()))
        };
        if !output.status.success() {
            return Err(not_a_work_tree(&format!(": {}", stderr_of(&output))));
        }
        let text = String::from_utf8(output.stdout)
            .map_err(|_| not_a_work_tree(": its path in the work tree is not UTF-8"))?;
        let mut lines = text.lines();
        if lines.next() != Some("true") {
            return Err(not_a_work_tree(" (it is inside a .git folder)"));
        }
        Ok(GitRepo {
            dir: dir.to_path_buf(),
            prefix: lines.next().unwrap_or_default().to_string(),
        })
    }

    /// The commit `name` means (a branch, tag, `HEAD~1`, an object name).
    pub(crate) fn resolve(&self, name: &str) -> Result<Revision, GitError> {
        let unknown = |why: String| {
            GitError::UnknownRevision(format!(
                "`{name}` is not a commit of the git repository at {}{why}",
                self.dir.display()
            ))
        };
        if name.is_empty() || name.starts_with('-') || name.contains('\0') {
            return Err(unknown(String::new()));
        }
        let peeled = format!("{name}^{{commit}}");
        let output = git(&self.dir, &["rev-parse", "--verify", "--quiet", &peeled])?;
        if !output.status.success() {
            let why = stderr_of(&output);
            return Err(unknown(if why.is_empty() {
                " (no branch, tag or commit of that name; for a pull request's base \
                 branch, fetch it first, like `git fetch origin main`)"
                    .to_string()
            } else {
                format!(": {why}")
            }));
        }
        let commit = first_line(&output)?;
        let output = git(&self.dir, &["rev-parse", "--short", &commit])?;
        if !output.status.success() {
            return Err(failed("git rev-parse --short", &output));
        }
        let short = first_line(&output)?;
        Ok(Revision {
            name: name.to_string(),
            commit,
            short,
        })
    }

    /// The entries of one tree (a commit's root tree, or a tree by its object name).
    pub(crate) fn list(&self, tree: &str) -> Result<Vec<Entry>, GitError> {
        let output = git(&self.dir, &["ls-tree", "-z", "--full-tree", tree])?;
        if !output.status.success() {
            return Err(failed("git ls-tree", &output));
        }
        parse_ls_tree(&output.stdout)
            .map_err(|why| GitError::Failed(format!("git ls-tree {tree}: {why}")))
    }

    /// The bytes of these blobs, in the same order.
    pub(crate) fn read_blobs(&self, oids: &[&str]) -> Result<Vec<Vec<u8>>, GitError> {
        if oids.is_empty() {
            return Ok(Vec::new());
        }
        let mut child = Command::new("git")
            .arg("-C")
            .arg(&self.dir)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(spawn_failed)?;
        let mut stdin = child.stdin.take().expect("a piped stdin");
        let input: String = oids.iter().map(|oid| format!("{oid}\n")).collect();
        // A thread, so that git writing a large blob never waits on us
        // while we wait on it to read the next name.
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
        let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
        let read = oids
            .iter()
            .map(|oid| read_batch_entry(&mut stdout, oid))
            .collect::<Result<Vec<_>, String>>();
        drop(stdout);
        let output = child.wait_with_output().map_err(spawn_failed)?;
        let written = writer.join().expect("the stdin writer does not panic");
        let blobs = read.map_err(|why| {
            GitError::Failed(format!(
                "git cat-file --batch: {why}{}",
                match stderr_of(&output) {
                    e if e.is_empty() => String::new(),
                    e => format!(" ({e})"),
                }
            ))
        })?;
        if !output.status.success() {
            return Err(failed("git cat-file --batch", &output));
        }
        written.map_err(|e| GitError::Failed(format!("git cat-file --batch: {e}")))?;
        Ok(blobs)
    }
}

/// `git -C dir args…`, run to its end.
fn git(dir: &Path, args: &[&str]) -> Result<Output, GitError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(spawn_failed)
}

fn spawn_failed(err: io::Error) -> GitError {
    if err.kind() == io::ErrorKind::NotFound {
        GitError::Failed("git is not installed (the `git` command was not found)".to_string())
    } else {
        GitError::Failed(format!("running git: {err}"))
    }
}

fn failed(what: &str, output: &Output) -> GitError {
    GitError::Failed(format!(
        "{what} failed ({}): {}",
        output.status,
        stderr_of(output)
    ))
}

/// git's message, on one line.
fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

fn first_line(output: &Output) -> Result<String, GitError> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .ok_or_else(|| GitError::Failed("git rev-parse printed nothing".to_string()))
}

/// `<mode> SP <type> SP <object> TAB <name> NUL`, repeated.
fn parse_ls_tree(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let mut entries = Vec::new();
    for record in bytes.split(|&b| b == 0).filter(|r| !r.is_empty()) {
        let tab = record
            .iter()
            .position(|&b| b == b'\t')
            .ok_or("an entry without a tab")?;
        let (meta, name) = (&record[..tab], &record[tab + 1..]);
        let meta = std::str::from_utf8(meta).map_err(|_| "an entry's mode is not text")?;
        let mut fields = meta.split(' ');
        let (Some(mode), Some(_type), Some(oid), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(format!("an entry `{meta}` is not `<mode> <type> <object>`"));
        };
        if oid.is_empty() || !oid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("an entry's object name `{oid}` is not hexadecimal"));
        }
        entries.push(Entry {
            name: name.to_vec(),
            kind: EntryKind::of(mode),
            oid: oid.to_string(),
        });
    }
    Ok(entries)
}

/// One answer of `cat-file --batch`: `<oid> blob <size> LF <bytes> LF`.
fn read_batch_entry(stdout: &mut impl BufRead, oid: &str) -> Result<Vec<u8>, String> {
    let mut header = String::new();
    stdout
        .read_line(&mut header)
        .map_err(|e| format!("reading {oid}: {e}"))?;
    let fields: Vec<&str> = header.trim_end_matches('\n').split(' ').collect();
    let size = match fields.as_slice() {
        [_, "blob", size] => size
            .parse::<usize>()
            .map_err(|_| format!("{oid}: a size `{size}` that is not a number"))?,
        [_, "missing"] => return Err(format!("{oid} is missing from the repository")),
        [_, kind, _] => return Err(format!("{oid} is a {kind}, not a blob")),
        _ if header.is_empty() => return Err(format!("git ended before {oid}")),
        _ => {
            return Err(format!(
                "{oid}: an unexpected answer `{}`",
                header.trim_end()
            ));
        }
    };
    let mut bytes = Vec::with_capacity(size.min(1 << 20));
    stdout
        .take(size as u64)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("reading {oid}: {e}"))?;
    if bytes.len() != size {
        return Err(format!("{oid} ended after {} of {size} bytes", bytes.len()));
    }
    let mut newline = [0u8; 1];
    stdout
        .read_exact(&mut newline)
        .map_err(|e| format!("reading {oid}: {e}"))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_tree_records_keep_odd_names_and_modes() {
        let out = b"100644 blob aa11\tmailops.toml\0\
                    040000 tree bb22\ttenants\0\
                    120000 blob cc33\tlink.toml\0\
                    160000 commit dd44\tsub\0\
                    100755 blob ee55\tname with\ttab and\nline\0";
        let entries = parse_ls_tree(out).unwrap();
        let got: Vec<(String, EntryKind, &str)> = entries
            .iter()
            .map(|e| (e.name_lossy(), e.kind, e.oid.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("mailops.toml".into(), EntryKind::Regular, "aa11"),
                ("tenants".into(), EntryKind::Tree, "bb22"),
                ("link.toml".into(), EntryKind::Symlink, "cc33"),
                ("sub".into(), EntryKind::Submodule, "dd44"),
                (
                    "name with\ttab and\nline".into(),
                    EntryKind::Regular,
                    "ee55"
                ),
            ]
        );
        assert!(parse_ls_tree(b"100644 blob zz\tx\0").is_err());
        assert!(parse_ls_tree(b"no tab here\0").is_err());
    }

    #[test]
    fn batch_answers_are_read_by_their_size() {
        let mut answers: &[u8] = b"aa blob 5\nab\ncd\nbb blob 0\n\ncc missing\n";
        assert_eq!(read_batch_entry(&mut answers, "aa").unwrap(), b"ab\ncd");
        assert_eq!(read_batch_entry(&mut answers, "bb").unwrap(), b"");
        let missing = read_batch_entry(&mut answers, "cc").unwrap_err();
        assert!(missing.contains("missing"), "{missing}");
        let mut tree: &[u8] = b"dd tree 3\nabc\n";
        let tree = read_batch_entry(&mut tree, "dd").unwrap_err();
        assert!(tree.contains("not a blob"), "{tree}");
        let mut short: &[u8] = b"ee blob 9\nabc";
        assert!(read_batch_entry(&mut short, "ee").is_err());
    }
}
