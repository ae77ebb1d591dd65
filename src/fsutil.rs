//! Small file-system helpers: atomic writes, private files.

use std::io::{self, Write};
use std::path::Path;

use crate::load::with_path;

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
    if path.exists() {
        write_replacing(path, contents, false)
    } else {
        // A new file has no old contents to protect: write it in place (one
        // open instead of a temporary file and a rename, for 10,000-tenant builds).
        let dir = parent_dir(path);
        std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
        std::fs::write(path, contents).map_err(|e| with_path(e, path))
    }
}

fn write_replacing(path: &Path, contents: &[u8], durable: bool) -> io::Result<()> {
    let dir = parent_dir(path);
    std::fs::create_dir_all(dir).map_err(|e| with_path(e, dir))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| with_path(e, dir))?;
    tmp.write_all(contents).map_err(|e| with_path(e, path))?;
    if durable {
        tmp.as_file().sync_all().map_err(|e| with_path(e, path))?;
    }
    if let Ok(meta) = std::fs::metadata(path) {
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
