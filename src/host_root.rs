//! The install root on the mail host (`mailops install --root DIR`): every
//! target resolved beneath it without following a link, every file staged
//! beside its target and renamed into place only once all are staged.
//!
//! `install` runs as root and writes the database password and every DKIM
//! private key. A directory symlink under the root (`etc/postfix -> /tmp/x`)
//! would carry them wherever it points, and a folder others may write lets
//! them swap one in. So every folder from the root down is opened with
//! `O_NOFOLLOW | O_DIRECTORY` relative to its parent (what openat2's
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS` does, one component at a time so
//! that the message names the link), and a folder writable by group or
//! others is refused unless it is root's with the sticky bit (`/tmp`).
//!
//! All or nothing: [`HostRoot::stage`] writes each file as a hidden file in
//! its target's folder (mode, owner and group set, flushed);
//! [`HostRoot::commit`] renames them over their targets, keeping a hard link
//! to each replaced file until every rename has succeeded, and puts the old
//! ones back when one fails. A `HostRoot` dropped without a commit (any
//! error on the way) removes what it staged and the folders it made.

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::fsutil::with_path;
use crate::fsutil::{Beneath, Entry, Refused, describe};

/// A file on the host as it is now.
pub(crate) struct Current {
    pub(crate) contents: Vec<u8>,
    /// Permission bits.
    pub(crate) mode: u32,
    pub(crate) gid: u32,
}

/// The install root, and what this install has staged in it.
pub(crate) struct HostRoot {
    root: Beneath,
    /// The folders of the root path itself this install made, deepest first.
    made_root: Vec<PathBuf>,
    /// Folders opened so far, by path under the root ("" is the root).
    dirs: BTreeMap<PathBuf, Beneath>,
    /// Folders this install made, in the order made.
    created: Vec<PathBuf>,
    staged: Vec<Staged>,
    moves: Vec<Move>,
    committed: bool,
}

/// A file written beside its target, to be renamed over it.
struct Staged {
    dir: PathBuf,
    name: OsString,
    stage: OsString,
}

/// A file to move to another folder under the root (archiving a key).
struct Move {
    from_dir: PathBuf,
    from: OsString,
    to_dir: PathBuf,
    to: OsString,
}

/// A step of the commit, for putting things back.
enum Done {
    Replaced {
        dir: PathBuf,
        name: OsString,
        backup: Option<OsString>,
    },
    Moved(usize),
}

impl HostRoot {
    /// Open the root (followed as named: it is the operator's; made when
    /// missing) and check it.
    pub(crate) fn open(root: &Path) -> io::Result<HostRoot> {
        // The folders of the root path that do not exist yet, deepest first.
        let made_root: Vec<PathBuf> = root
            .ancestors()
            .take_while(|p| !p.as_os_str().is_empty() && std::fs::symlink_metadata(p).is_err())
            .map(Path::to_path_buf)
            .collect();
        if !made_root.is_empty() {
            std::fs::create_dir_all(root).map_err(|e| with_path(e, root))?;
        }
        let opened = Beneath::open(root).and_then(|dir| check_safe(&dir).map(|()| dir));
        let root = match opened {
            Ok(dir) => dir,
            Err(e) => {
                remove_dirs(&made_root);
                return Err(e);
            }
        };
        Ok(HostRoot {
            root,
            made_root,
            dirs: BTreeMap::new(),
            created: Vec::new(),
            staged: Vec::new(),
            moves: Vec::new(),
            committed: false,
        })
    }

    /// An opened folder (the root for "").
    fn at(&self, relative: &Path) -> &Beneath {
        self.dirs.get(relative).unwrap_or(&self.root)
    }

    /// The host path of a path under the root, for messages.
    pub(crate) fn shown(&self, relative: &Path) -> PathBuf {
        self.root.path().join(relative)
    }

    /// A folder under the root, made (with `mode`) when it does not exist:
    /// each component opened without following a link and checked.
    fn dir(&mut self, relative: &Path, mode: u32) -> io::Result<&Beneath> {
        let mut at = PathBuf::new();
        for component in relative.components() {
            let name = match component {
                std::path::Component::Normal(name) => name,
                std::path::Component::CurDir => continue,
                _ => {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("{}: not a path under the root", relative.display()),
                    ));
                }
            };
            let parent_path = at.clone();
            at.push(name);
            if self.dirs.contains_key(&at) {
                continue;
            }
            let parent = self.dirs.get(&parent_path).unwrap_or(&self.root);
            let opened = match parent.dir(Path::new(name)) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    rustix::fs::mkdirat(parent.fd(), name, Mode::from_raw_mode(mode))
                        .map_err(|e| with_path(e.into(), &self.root.path().join(&at)))?;
                    self.created.push(at.clone());
                    parent.dir(Path::new(name))?
                }
                other => other?,
            };
            check_safe(&opened)?;
            self.dirs.insert(at.clone(), opened);
        }
        Ok(self.dirs.get(&at).unwrap_or(&self.root))
    }

    /// The file at `target` now (`None` when there is none). Its folders are
    /// made when missing (mode 0755); a link or special file there is refused.
    pub(crate) fn current(&mut self, target: &Path) -> io::Result<Option<Current>> {
        let (parent, name) = split(target)?;
        let dir = self.dir(parent, 0o755)?;
        let Some(stat) = dir.lstat(name)? else {
            return Ok(None);
        };
        let kind = FileType::from_raw_mode(stat.st_mode);
        if kind != FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Refused {
                    path: dir.path().join(name),
                    what: describe(kind),
                    expected: "a regular file",
                },
            ));
        }
        let contents = dir.read(Path::new(name))?;
        Ok(Some(Current {
            contents,
            mode: stat.st_mode & 0o7777,
            gid: stat.st_gid,
        }))
    }

    /// Write `contents` beside `target`, with its mode (and owner root and
    /// this group, when given) set before it is renamed into place by [`HostRoot::commit`].
    pub(crate) fn stage(
        &mut self,
        target: &Path,
        contents: &[u8],
        mode: u32,
        gid: Option<u32>,
    ) -> io::Result<()> {
        let (parent, name) = split(target)?;
        let dir = self.dir(parent, 0o755)?;
        let stage = hidden_name(name, "new");
        let shown = dir.path().join(name);
        let open = || {
            rustix::fs::openat(
                dir.fd(),
                &stage,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_raw_mode(0o600),
            )
        };
        let fd = match open() {
            // Left by an install that was killed: it was never in place.
            Err(rustix::io::Errno::EXIST) => {
                rustix::fs::unlinkat(dir.fd(), &stage, AtFlags::empty())
                    .map_err(|e| with_path(e.into(), &shown))?;
                open()
            }
            other => other,
        }
        .map_err(|e| with_path(e.into(), &shown))?;
        let parent = parent.to_path_buf();
        self.staged.push(Staged {
            dir: parent,
            name: name.to_os_string(),
            stage,
        });
        let mut file = std::fs::File::from(fd);
        file.write_all(contents).map_err(|e| with_path(e, &shown))?;
        if let Some(gid) = gid {
            std::os::unix::fs::fchown(&file, Some(0), Some(gid))
                .map_err(|e| with_path(e, &shown))?;
        }
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| with_path(e, &shown))?;
        file.sync_all().map_err(|e| with_path(e, &shown))?;
        Ok(())
    }

    /// The entries of a folder under the root (none when it does not exist).
    pub(crate) fn entries(&mut self, relative: &Path) -> io::Result<Vec<Entry>> {
        self.dir(relative, 0o755)?.entries()
    }

    /// Move `dir/name` into `archive` (a folder of mode 0700, made when
    /// missing) at commit; returns its path there.
    pub(crate) fn archive(
        &mut self,
        dir: &Path,
        name: &OsStr,
        archive: &Path,
        archived_name: &OsStr,
    ) -> io::Result<PathBuf> {
        let archive_dir = self.dir(archive, 0o700)?;
        let mode = rustix::fs::fstat(archive_dir.fd())
            .map_err(|e| with_path(e.into(), archive_dir.path()))?
            .st_mode;
        crate::secret_file::check_private(archive_dir.path(), mode, 0o700)?;
        let mut to = archived_name.to_os_string();
        let mut n = 1;
        while archive_dir.lstat(&to)?.is_some() {
            n += 1;
            to = archived_name.to_os_string();
            to.push(format!(".{n}"));
        }
        self.moves.push(Move {
            from_dir: dir.to_path_buf(),
            from: name.to_os_string(),
            to_dir: archive.to_path_buf(),
            to: to.clone(),
        });
        Ok(archive.join(to))
    }

    /// Rename every staged file over its target and make every move; if one
    /// fails, put back what was done and remove what was staged.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        let mut done = Vec::new();
        let result = self.commit_steps(&mut done);
        if let Err(err) = result {
            self.undo(done);
            return Err(err);
        }
        for step in done {
            if let Done::Replaced {
                dir,
                backup: Some(backup),
                ..
            } = step
            {
                let _ = rustix::fs::unlinkat(self.at(&dir).fd(), &backup, AtFlags::empty());
            }
        }
        for dir in self.dirs.values() {
            let _ = rustix::fs::fsync(dir.fd());
        }
        self.committed = true;
        Ok(())
    }

    fn commit_steps(&self, done: &mut Vec<Done>) -> io::Result<()> {
        for staged in &self.staged {
            let dir = &self.at(&staged.dir);
            let shown = dir.path().join(&staged.name);
            let backup = match dir.lstat(&staged.name)? {
                Some(_) => {
                    let backup = hidden_name(&staged.name, "old");
                    let _ = rustix::fs::unlinkat(dir.fd(), &backup, AtFlags::empty());
                    rustix::fs::linkat(dir.fd(), &staged.name, dir.fd(), &backup, AtFlags::empty())
                        .map_err(|e| with_path(e.into(), &shown))?;
                    Some(backup)
                }
                None => None,
            };
            let renamed = rustix::fs::renameat(dir.fd(), &staged.stage, dir.fd(), &staged.name);
            done.push(Done::Replaced {
                dir: staged.dir.clone(),
                name: staged.name.clone(),
                backup: backup.clone(),
            });
            if let Err(e) = renamed {
                // Nothing was replaced: only the backup link to drop.
                let Some(Done::Replaced { backup, .. }) = done.pop() else {
                    unreachable!()
                };
                if let Some(backup) = backup {
                    let _ = rustix::fs::unlinkat(dir.fd(), &backup, AtFlags::empty());
                }
                return Err(with_path(e.into(), &shown));
            }
        }
        for (i, step) in self.moves.iter().enumerate() {
            let from = &self.at(&step.from_dir);
            let to = &self.at(&step.to_dir);
            rustix::fs::renameat(from.fd(), &step.from, to.fd(), &step.to)
                .map_err(|e| with_path(e.into(), &from.path().join(&step.from)))?;
            done.push(Done::Moved(i));
        }
        Ok(())
    }

    /// Put back what a failed commit did, newest first.
    fn undo(&self, done: Vec<Done>) {
        for step in done.into_iter().rev() {
            match step {
                Done::Replaced { dir, name, backup } => {
                    let fd = self.at(&dir).fd();
                    let _ = match backup {
                        Some(backup) => rustix::fs::renameat(fd, &backup, fd, &name),
                        None => rustix::fs::unlinkat(fd, &name, AtFlags::empty()),
                    };
                }
                Done::Moved(i) => {
                    let step = &self.moves[i];
                    let _ = rustix::fs::renameat(
                        self.at(&step.to_dir).fd(),
                        &step.to,
                        self.at(&step.from_dir).fd(),
                        &step.from,
                    );
                }
            }
        }
    }
}

impl Drop for HostRoot {
    /// Without a commit: remove what was staged and the folders made.
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        for staged in &self.staged {
            if let Some(dir) = self.dirs.get(&staged.dir) {
                let _ = rustix::fs::unlinkat(dir.fd(), &staged.stage, AtFlags::empty());
            }
        }
        for made in self.created.iter().rev() {
            let (Some(parent), Some(name)) = (made.parent(), made.file_name()) else {
                continue;
            };
            let parent = self.dirs.get(parent).unwrap_or(&self.root);
            let _ = rustix::fs::unlinkat(parent.fd(), name, AtFlags::REMOVEDIR);
        }
        remove_dirs(&self.made_root);
    }
}

/// Remove these folders, in order, each if empty.
fn remove_dirs(dirs: &[PathBuf]) {
    for dir in dirs {
        if std::fs::remove_dir(dir).is_err() {
            break;
        }
    }
}

/// Folder and file name of a target under the root.
fn split(target: &Path) -> io::Result<(&Path, &OsStr)> {
    match (target.parent(), target.file_name()) {
        (Some(parent), Some(name)) => Ok((parent, name)),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: not a file path", target.display()),
        )),
    }
}

/// `.<name>.mailops-<pid>.<what>`: hidden beside the target.
fn hidden_name(name: &OsStr, what: &str) -> OsString {
    let mut hidden = OsString::from(".");
    hidden.push(name);
    hidden.push(format!(".mailops-{}.{what}", std::process::id()));
    hidden
}

/// Refuse a folder that group or others may write (they could swap a file
/// or folder in), unless it is root's with the sticky bit, like `/tmp`.
fn check_safe(dir: &Beneath) -> io::Result<()> {
    let stat = rustix::fs::fstat(dir.fd()).map_err(|e| with_path(e.into(), dir.path()))?;
    let mode = stat.st_mode & 0o7777;
    let sticky_root = stat.st_uid == 0 && mode & 0o1000 != 0;
    if mode & 0o022 == 0 || sticky_root {
        return Ok(());
    }
    Err(io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!(
            "{} is writable by group or others (mode {mode:04o}): another user could swap what mailops installs there; run `chmod go-w {}` (nothing was installed)",
            dir.path().display(),
            dir.path().display()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_rename_that_fails_puts_back_the_files_already_replaced() {
        let root = tempfile::tempdir().unwrap();
        let etc = root.path().join("etc");
        std::fs::create_dir(&etc).unwrap();
        std::fs::write(etc.join("a.conf"), "old a").unwrap();
        let mut host = HostRoot::open(root.path()).unwrap();
        host.stage(Path::new("etc/a.conf"), b"new a", 0o644, None)
            .unwrap();
        host.stage(Path::new("etc/b.conf"), b"new b", 0o644, None)
            .unwrap();
        // Something takes b.conf's place after staging: its rename fails.
        std::fs::create_dir(etc.join("b.conf")).unwrap();
        std::fs::write(etc.join("b.conf/inside"), "x").unwrap();
        assert!(host.commit().is_err());
        assert_eq!(
            std::fs::read_to_string(etc.join("a.conf")).unwrap(),
            "old a"
        );
        assert_eq!(
            names(&etc),
            ["a.conf", "b.conf"],
            "no staged file or backup left"
        );
    }

    #[test]
    fn an_install_dropped_before_its_commit_leaves_nothing() {
        let root = tempfile::tempdir().unwrap();
        let mut host = HostRoot::open(root.path()).unwrap();
        host.stage(Path::new("etc/postfix/main.cf"), b"x", 0o644, None)
            .unwrap();
        drop(host);
        assert!(names(root.path()).is_empty());
    }

    #[test]
    fn a_missing_root_is_made_and_removed_again_without_a_commit() {
        let base = tempfile::tempdir().unwrap();
        let root = base.path().join("a/root");
        let mut host = HostRoot::open(&root).unwrap();
        host.stage(Path::new("etc/x.conf"), b"x", 0o644, None)
            .unwrap();
        drop(host);
        assert!(names(base.path()).is_empty());
        let mut host = HostRoot::open(&root).unwrap();
        host.stage(Path::new("etc/x.conf"), b"x", 0o644, None)
            .unwrap();
        host.commit().unwrap();
        assert_eq!(std::fs::read(root.join("etc/x.conf")).unwrap(), b"x");
    }

    #[test]
    fn a_commit_replaces_and_moves() {
        let root = tempfile::tempdir().unwrap();
        let keys = root.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        std::fs::write(keys.join("old.key"), "old key").unwrap();
        std::fs::write(keys.join("kept.key"), "kept v1").unwrap();
        let mut host = HostRoot::open(root.path()).unwrap();
        host.stage(Path::new("keys/kept.key"), b"kept v2", 0o640, None)
            .unwrap();
        let to = host
            .archive(
                Path::new("keys"),
                OsStr::new("old.key"),
                Path::new("keys/archived"),
                OsStr::new("old.key.1"),
            )
            .unwrap();
        assert_eq!(to, Path::new("keys/archived/old.key.1"));
        host.commit().unwrap();
        assert_eq!(names(&keys), ["archived", "kept.key"]);
        assert_eq!(
            std::fs::read_to_string(keys.join("kept.key")).unwrap(),
            "kept v2"
        );
        assert_eq!(
            std::fs::read_to_string(keys.join("archived/old.key.1")).unwrap(),
            "old key"
        );
        let mode = std::fs::metadata(keys.join("archived"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}
