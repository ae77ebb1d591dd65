//! Small file-system helpers: atomic writes, private files, and reading the
//! mail repo without following a link.
//!
//! Everything mailops reads from a mail repo (`mailops.toml`, `tenants/`,
//! `generated/`, the key store, the compile cache) comes from a pull request
//! that may be hostile: a committed symlink `tenants/x.toml -> /proc/self/environ`
//! must not put CI's environment into a diagnostic. So a repo file is opened
//! through [`Beneath`]: from the folder the user named, one component at a
//! time with `O_NOFOLLOW`, and it must be a regular file (checked with `lstat`
//! before the open, so that a FIFO or device is never opened, and with
//! `fstat` on the opened descriptor, so that nothing swapped in between is
//! read). A symbolic link anywhere below the named folder, to a file or to a
//! folder, is refused: [`Refused`] names it, its target is never opened.

use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};

/// A path in the mail repo that mailops will not open: a symbolic link, or
/// not the kind of file expected there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    /// The path as shown to the user (below the folder the user named).
    pub(crate) path: PathBuf,
    /// What it is: "a symbolic link", "a folder", "a FIFO", …
    pub(crate) what: &'static str,
    /// What was expected there: "a regular file" or "a folder".
    pub(crate) expected: &'static str,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} is {}, not {}: mailops never follows links or reads special files in the mail repo",
            self.path.display(),
            self.what,
            self.expected
        )
    }
}

impl std::error::Error for Refused {}

impl Refused {
    fn error(self) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, self)
    }
}

/// The [`Refused`] an I/O error carries, if it is one.
pub(crate) fn refused(err: &io::Error) -> Option<&Refused> {
    err.get_ref().and_then(|e| e.downcast_ref::<Refused>())
}

/// What a file type is, in words.
pub(crate) fn describe(kind: FileType) -> &'static str {
    match kind {
        FileType::RegularFile => "a regular file",
        FileType::Directory => "a folder",
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Unknown => "a file of unknown type",
    }
}

/// An entry of a folder, with its type as `lstat` sees it (a link is a link).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) name: std::ffi::OsString,
    pub(crate) kind: FileType,
}

/// An open folder: files and folders below it are opened relative to it,
/// never through a symbolic link.
#[derive(Debug)]
pub(crate) struct Beneath {
    fd: OwnedFd,
    /// The path shown in messages.
    path: PathBuf,
}

impl Beneath {
    /// The folder the user named (`-C DIR`, `--root DIR`): followed as named.
    pub(crate) fn open(path: &Path) -> io::Result<Beneath> {
        let fd = rustix::fs::open(
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| with_path(e.into(), path))?;
        Ok(Beneath {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path of this folder as shown in messages.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// A folder below this one (`NotFound` when it does not exist; a
    /// [`Refused`] error when it or a folder on the way is a link or not a folder).
    pub(crate) fn dir(&self, relative: &Path) -> io::Result<Beneath> {
        let mut names = components(relative)?.into_iter();
        let Some(first) = names.next() else {
            return Ok(Beneath {
                fd: self.fd.try_clone()?,
                path: self.path.clone(),
            });
        };
        let mut dir = self.child_dir(first)?;
        for name in names {
            dir = dir.child_dir(name)?;
        }
        Ok(dir)
    }

    /// Like [`Beneath::dir`], making the folders that do not exist (mode
    /// 0755 less the umask, or `mode` when given).
    pub(crate) fn make_dir(&self, relative: &Path, mode: Option<u32>) -> io::Result<Beneath> {
        let mut dir = Beneath {
            fd: self.fd.try_clone()?,
            path: self.path.clone(),
        };
        for name in components(relative)? {
            dir = match dir.child_dir(name) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let path = dir.path.join(name);
                    match rustix::fs::mkdirat(
                        &dir.fd,
                        name,
                        Mode::from_raw_mode(mode.unwrap_or(0o755)),
                    ) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(with_path(e.into(), &path)),
                    }
                    let made = dir.child_dir(name)?;
                    if let Some(mode) = mode {
                        rustix::fs::fchmod(&made.fd, Mode::from_raw_mode(mode))
                            .map_err(|e| with_path(e.into(), &path))?;
                    }
                    made
                }
                other => other?,
            };
        }
        Ok(dir)
    }

    fn child_dir(&self, name: &OsStr) -> io::Result<Beneath> {
        let path = self.path.join(name);
        match rustix::fs::openat(
            &self.fd,
            name,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Beneath { fd, path }),
            Err(e) if e == rustix::io::Errno::LOOP || e == rustix::io::Errno::NOTDIR => {
                let what = self.kind_of(name).map_or("not a folder", describe);
                Err(Refused {
                    path,
                    what,
                    expected: "a folder",
                }
                .error())
            }
            Err(e) => Err(with_path(e.into(), &path)),
        }
    }

    /// The type of an entry, without following a link (`None` when it does not exist).
    pub(crate) fn kind_of(&self, name: &OsStr) -> Option<FileType> {
        rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
            .ok()
            .map(|stat| FileType::from_raw_mode(stat.st_mode))
    }

    /// `lstat` of an entry of this folder (`None` when it does not exist).
    /// The identity of a file in this folder (of a link itself), `None`
    /// when it does not exist.
    pub(crate) fn stat_of(&self, name: &OsStr) -> io::Result<Option<Stat>> {
        Ok(self.lstat(name)?.map(|stat| Stat::of_raw(&stat)))
    }

    /// The stat of this folder itself.
    pub(crate) fn stat(&self) -> io::Result<Stat> {
        rustix::fs::fstat(&self.fd)
            .map(|stat| Stat::of_raw(&stat))
            .map_err(|e| with_path(e.into(), &self.path))
    }

    pub(crate) fn lstat(&self, name: &OsStr) -> io::Result<Option<rustix::fs::Stat>> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(stat) => Ok(Some(stat)),
            Err(rustix::io::Errno::NOENT) => Ok(None),
            Err(e) => Err(with_path(e.into(), &self.path.join(name))),
        }
    }

    /// A regular file below this folder, opened for reading. `NotFound`
    /// when it does not exist; a [`Refused`] error when it, or a folder on
    /// the way, is a link or of another kind. A FIFO or device is never opened.
    pub(crate) fn file(&self, relative: &Path) -> io::Result<std::fs::File> {
        let mut names = components(relative)?;
        let Some(name) = names.pop() else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{}: not a file name", relative.display()),
            ));
        };
        let parent;
        let dir = if names.is_empty() {
            self
        } else {
            parent = self.dir(&names.iter().collect::<PathBuf>())?;
            &parent
        };
        let path = dir.path.join(name);
        let refuse = |what| {
            Refused {
                path: path.clone(),
                what,
                expected: "a regular file",
            }
            .error()
        };
        match dir.kind_of(name) {
            None => {
                return Err(with_path(io::Error::from(io::ErrorKind::NotFound), &path));
            }
            Some(FileType::RegularFile) => {}
            Some(kind) => return Err(refuse(describe(kind))),
        }
        let fd = match rustix::fs::openat(
            &dir.fd,
            name,
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::LOOP) => return Err(refuse("a symbolic link")),
            Err(e) => return Err(with_path(e.into(), &path)),
        };
        let stat = rustix::fs::fstat(&fd).map_err(|e| with_path(e.into(), &path))?;
        match FileType::from_raw_mode(stat.st_mode) {
            FileType::RegularFile => Ok(std::fs::File::from(fd)),
            kind => Err(refuse(describe(kind))),
        }
    }

    /// The contents of a regular file below this folder (see [`Beneath::file`]).
    pub(crate) fn read(&self, relative: &Path) -> io::Result<Vec<u8>> {
        let mut file = self.file(relative)?;
        let mut bytes = Vec::with_capacity(file.metadata().map_or(0, |m| m.len() as usize));
        file.read_to_end(&mut bytes)
            .map_err(|e| with_path(e, &self.path.join(relative)))?;
        Ok(bytes)
    }

    /// [`Beneath::read`], `None` when the file does not exist.
    pub(crate) fn read_if_exists(&self, relative: &Path) -> io::Result<Option<Vec<u8>>> {
        match self.read(relative) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The entries of this folder (not `.` and `..`), sorted by name, with
    /// their types as `lstat` gives them.
    pub(crate) fn entries(&self) -> io::Result<Vec<Entry>> {
        let mut dir =
            rustix::fs::Dir::read_from(&self.fd).map_err(|e| with_path(e.into(), &self.path))?;
        let mut entries = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(|e| with_path(e.into(), &self.path))?;
            let bytes = entry.file_name().to_bytes();
            if bytes == b"." || bytes == b".." {
                continue;
            }
            let name = OsStr::from_bytes(bytes).to_os_string();
            let kind = match entry.file_type() {
                FileType::Unknown => self.kind_of(&name).unwrap_or(FileType::Unknown),
                kind => kind,
            };
            entries.push(Entry { name, kind });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }
}

/// The names of a relative path, which may not leave the folder it is relative to.
fn components(relative: &Path) -> io::Result<Vec<&OsStr>> {
    relative
        .components()
        .filter(|c| *c != Component::CurDir)
        .map(|c| match c {
            Component::Normal(name) => Ok(name),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{}: a path in the mail repo may not start at / or go up with ..",
                    relative.display()
                ),
            )),
        })
        .collect()
}

/// Before writing `path` into the mail repo at `repo`: make the folders on
/// its way that do not exist (with `mode`, when given), refusing a link
/// among them (a repo may commit `tenants -> /etc`). A path outside the repo
/// (`--key-dir`) is the operator's and is left as named.
pub(crate) fn dirs_in_repo(repo: &Path, path: &Path, mode: Option<u32>) -> io::Result<()> {
    let Some(parent) = path.strip_prefix(repo).ok().and_then(Path::parent) else {
        return Ok(());
    };
    if components(parent).is_err() {
        return Ok(());
    }
    Beneath::open(repo)?.make_dir(parent, mode).map(drop)
}

/// Make the folders of `relative` below `root` that do not exist, refusing a
/// link on the way (a repo may commit `.mailops -> /etc`).
pub(crate) fn make_dirs_beneath(root: &Path, relative: &Path) -> io::Result<()> {
    Beneath::open(root)?.make_dir(relative, None).map(drop)
}

/// Open a file the user named on the command line (`--secrets FILE`, a saved
/// plan): the folders on the way are followed as named, the file itself must
/// be a regular file and not a link (a [`Refused`] error otherwise).
pub(crate) fn open_named(path: &Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let refuse = |what| {
        Refused {
            path: path.to_path_buf(),
            what,
            expected: "a regular file",
        }
        .error()
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(NOFOLLOW | OFlags::NONBLOCK.bits() as i32)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) {
                refuse("a symbolic link")
            } else {
                with_path(e, path)
            }
        })?;
    let stat = rustix::fs::fstat(&file).map_err(|e| with_path(e.into(), path))?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(file),
        kind => Err(refuse(describe(kind))),
    }
}

/// Read a regular file below `root` without following a link (see [`Beneath`]).
pub(crate) fn read_beneath(root: &Path, relative: &Path) -> io::Result<Vec<u8>> {
    Beneath::open(root)?.read(relative)
}

/// Write a file by renaming a temporary file in the same directory over it,
/// so that readers see the old or the new contents, never a half.
pub(crate) fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_replacing(path, contents, true)
}

/// Like [`write_atomic`], without waiting for the disk: for files that can be
/// made again from their sources (`generated/`), where a flush per file
/// would dominate a large build. An interrupted build leaves at worst a file
/// that `mailops check` reports and the next build rewrites.
pub(crate) fn write_reproducible(path: &Path, contents: &[u8]) -> io::Result<()> {
    if std::fs::symlink_metadata(path).is_ok() {
        write_replacing(path, contents, false)
    } else {
        // A new file has no old contents to protect: write it in place (one
        // open instead of a temporary file and a rename, for 10,000-tenant builds).
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        // Never through a (dangling) link in its place.
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(NOFOLLOW)
            .open(path)
            .and_then(|mut file| file.write_all(contents))
            .map_err(|e| with_path(e, path))
    }
}

/// An I/O error that names the path it happened on.
pub(crate) fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}

/// `O_NOFOLLOW`, for `OpenOptionsExt::custom_flags`.
pub(crate) const NOFOLLOW: i32 = OFlags::NOFOLLOW.bits() as i32;

fn write_replacing(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| with_path(e, dir))?;
    tmp.write_all(contents).map_err(|e| with_path(e, path))?;
    if durable {
        tmp.as_file().sync_all().map_err(|e| with_path(e, path))?;
    }
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && meta.is_file()
    {
        let _ = std::fs::set_permissions(tmp.path(), meta.permissions());
    } else {
        set_mode(tmp.path(), 0o644)?;
    }
    tmp.persist(path).map_err(|e| with_path(e.error, path))?;
    Ok(())
}

/// The directory a file is in; the current directory for a bare file name
/// (`Path::new("plan.json").parent()` is `""`, which no call can open).
fn parent_dir(path: &Path) -> &Path {
    path.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Write a secret: mode 0600 from the start, directory 0700 if it is created.
pub(crate) fn write_private(path: &Path, contents: &[u8]) -> io::Result<()> {
    let dir = parent_dir(path);
    if !dir.exists() {
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        set_mode(dir, 0o700)?;
    }
    // NamedTempFile is created 0600.
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| with_path(e, dir))?;
    tmp.write_all(contents).map_err(|e| with_path(e, path))?;
    tmp.as_file().sync_all().map_err(|e| with_path(e, path))?;
    set_mode(tmp.path(), 0o600)?;
    tmp.persist(path).map_err(|e| with_path(e.error, path))?;
    Ok(())
}

#[cfg(unix)]
pub(crate) fn set_mode(path: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| with_path(e, path))
}

#[cfg(not(unix))]
pub(crate) fn set_mode(_path: &Path, _mode: u32) -> io::Result<()> {
    Ok(())
}

/// How recently changed a file may be and still have its stat recorded
/// (file times are only as fine as the kernel's clock tick).
const RACY: Duration = Duration::from_secs(2);

/// What identifies a file's contents without reading them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub(crate) struct Stat {
    pub(crate) len: u64,
    pub(crate) mtime: (i64, i64),
    ctime: (i64, i64),
    ino: u64,
}

impl Stat {
    pub(crate) fn of(meta: &std::fs::Metadata) -> Stat {
        use std::os::unix::fs::MetadataExt;
        Stat {
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
        }
    }

    /// From a stat of `rustix` (`Beneath::stat_of`).
    pub(crate) fn of_raw(stat: &rustix::fs::Stat) -> Stat {
        Stat {
            len: stat.st_size as u64,
            mtime: (stat.st_mtime, stat.st_mtime_nsec as i64),
            ctime: (stat.st_ctime, stat.st_ctime_nsec as i64),
            ino: stat.st_ino,
        }
    }

    /// The stat of a file (of a link itself, never of what it points to),
    /// `None` when it does not exist.
    pub(crate) fn read(path: &Path) -> io::Result<Option<Stat>> {
        match std::fs::symlink_metadata(path) {
            Ok(meta) => Ok(Some(Stat::of(&meta))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(with_path(e, path)),
        }
    }

    /// The stat to record for a file last changed at this stat's times:
    /// none when the change is too recent to be told apart from the next.
    pub(crate) fn settled(self, now: SystemTime) -> Option<Stat> {
        let changed = |(secs, nanos): (i64, i64)| {
            SystemTime::UNIX_EPOCH
                + Duration::new(secs.max(0) as u64, nanos.clamp(0, 999_999_999) as u32)
        };
        let newest = changed(self.mtime).max(changed(self.ctime));
        (newest + RACY < now).then_some(self)
    }

    /// The stat to record for a file or folder mailops has just written or
    /// read: none when its last change is not older than the kernel's coarse
    /// clock, read after the stat was taken. File times come from that
    /// clock, so any change after this one gets a later time and shows.
    pub(crate) fn settled_now(self) -> Option<Stat> {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        let newest = self.mtime.max(self.ctime);
        (newest < (now.tv_sec, now.tv_nsec as i64)).then_some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn what(err: io::Error) -> &'static str {
        refused(&err).map_or("not refused", |r| r.what)
    }

    #[test]
    fn beneath_reads_regular_files_and_refuses_links_and_special_files() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "secret").unwrap();
        std::fs::create_dir(root.path().join("dir")).unwrap();
        std::fs::write(root.path().join("dir/file"), "text").unwrap();
        symlink(outside.path().join("secret"), root.path().join("dir/link")).unwrap();
        symlink(outside.path(), root.path().join("linked-dir")).unwrap();
        rustix::fs::mknodat(
            rustix::fs::CWD,
            root.path().join("dir/fifo"),
            FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        let repo = Beneath::open(root.path()).unwrap();

        assert_eq!(repo.read(Path::new("dir/file")).unwrap(), b"text");
        assert_eq!(
            what(repo.read(Path::new("dir/link")).unwrap_err()),
            "a symbolic link"
        );
        assert_eq!(
            what(repo.read(Path::new("dir/fifo")).unwrap_err()),
            "a FIFO"
        );
        assert_eq!(what(repo.read(Path::new("dir")).unwrap_err()), "a folder");
        assert_eq!(
            what(repo.read(Path::new("linked-dir/secret")).unwrap_err()),
            "a symbolic link"
        );
        assert_eq!(
            what(repo.dir(Path::new("linked-dir")).unwrap_err()),
            "a symbolic link"
        );
        assert_eq!(
            repo.read(Path::new("dir/missing")).unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
        assert_eq!(
            repo.read(Path::new("../x")).unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
        let kinds: Vec<(String, FileType)> = repo
            .dir(Path::new("dir"))
            .unwrap()
            .entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.name.to_string_lossy().into_owned(), e.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                ("fifo".to_string(), FileType::Fifo),
                ("file".to_string(), FileType::RegularFile),
                ("link".to_string(), FileType::Symlink),
            ]
        );
    }

    #[test]
    fn make_dir_refuses_a_link_on_the_way() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        symlink(outside.path(), root.path().join(".mailops")).unwrap();
        let repo = Beneath::open(root.path()).unwrap();
        let err = repo
            .make_dir(Path::new(".mailops/keys"), Some(0o700))
            .unwrap_err();
        assert_eq!(what(err), "a symbolic link");
        assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
        repo.make_dir(Path::new("a/b"), Some(0o700)).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.path().join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn write_reproducible_never_writes_through_a_dangling_link() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("target");
        symlink(&target, root.path().join("file")).unwrap();
        write_reproducible(&root.path().join("file"), b"new").unwrap();
        assert!(!target.exists(), "the link's target was created");
        assert_eq!(std::fs::read(root.path().join("file")).unwrap(), b"new");
    }
}
