//! The `generated/` folder on disk: reading it, and writing a new set of artifacts into it.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};

use crate::emit::Artifacts;
use crate::emit::header::is_owned;
use crate::fsutil::write_atomic;
use crate::load::with_path;

pub(crate) const GENERATED_DIR: &str = "generated";

/// Every file under `generated/` (relative path with `/` → contents).
pub(crate) fn read(root: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    let dir = root.join(GENERATED_DIR);
    if dir.is_dir() {
        walk(&dir, &dir, &mut files)?;
    }
    Ok(files)
}

fn walk(base: &Path, dir: &Path, files: &mut BTreeMap<String, String>) -> io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| with_path(e, dir))?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()
        .map_err(|e| with_path(e, dir))?;
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(base, &path, files)?;
        } else if path.is_file() {
            let relative = path
                .strip_prefix(base)
                .expect("walked below base")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            let bytes = std::fs::read(&path).map_err(|e| with_path(e, &path))?;
            files.insert(relative, String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    Ok(())
}

/// How `generated/` differs from a set of artifacts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct FileChanges {
    pub(crate) added: Vec<String>,
    pub(crate) changed: Vec<String>,
    /// Files mailops wrote once and no longer produces.
    pub(crate) removed: Vec<String>,
}

impl FileChanges {
    pub(crate) fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

pub(crate) fn compare(on_disk: &BTreeMap<String, String>, artifacts: &Artifacts) -> FileChanges {
    let mut changes = FileChanges::default();
    for (path, contents) in artifacts.iter() {
        match on_disk.get(path) {
            None => changes.added.push(path.to_string()),
            Some(current) if current != contents => changes.changed.push(path.to_string()),
            Some(_) => {}
        }
    }
    for (path, contents) in on_disk {
        if artifacts.get(path).is_none() && is_owned(contents) {
            changes.removed.push(path.clone());
        }
    }
    changes
}

/// Make `generated/` equal to the artifacts: write what changed, remove owned
/// files no longer produced (and folders left empty). Returns what changed.
pub(crate) fn write(root: &Path, artifacts: &Artifacts) -> io::Result<FileChanges> {
    let on_disk = read(root)?;
    let changes = compare(&on_disk, artifacts);
    let dir = root.join(GENERATED_DIR);
    for path in changes.added.iter().chain(&changes.changed) {
        let contents = artifacts.get(path).expect("compared against artifacts");
        write_atomic(&dir.join(path), contents.as_bytes())?;
    }
    for path in &changes.removed {
        let full = dir.join(path);
        std::fs::remove_file(&full).map_err(|e| with_path(e, &full))?;
        let mut parent = full.parent();
        while let Some(p) = parent {
            if p == dir || std::fs::remove_dir(p).is_err() {
                break;
            }
            parent = p.parent();
        }
    }
    Ok(changes)
}
