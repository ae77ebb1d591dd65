//! Load stage: read `mailops.toml` and every `tenants/*.toml` into a source map.
//!
//! Nothing is interpreted here. A missing platform file or a file that is not
//! UTF-8 is a user problem (a diagnostic); an unreadable disk is an
//! operational failure (an `io::Error`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::load_diags as diags;
use crate::source::{FileId, Location, SourceMap};

pub(crate) const PLATFORM_FILE: &str = "mailops.toml";
pub(crate) const TENANTS_DIR: &str = "tenants";

/// The files of one mail repo.
#[derive(Debug, Clone)]
pub(crate) struct LoadedRepo {
    /// The mail repo directory.
    pub(crate) root: PathBuf,
    pub(crate) sources: SourceMap,
    pub(crate) platform: Option<FileId>,
    /// Tenant files, sorted by file name.
    pub(crate) tenants: Vec<FileId>,
    /// Each tenant file's stat, taken before it was read (for the compile cache).
    pub(crate) tenant_stats: Vec<crate::incremental::cache::Stat>,
    /// When loading began.
    pub(crate) loaded_at: std::time::SystemTime,
}

impl LoadedRepo {
    /// A repo with no file yet.
    fn new(root: &Path) -> Self {
        LoadedRepo {
            root: root.to_path_buf(),
            sources: SourceMap::default(),
            platform: None,
            tenants: Vec::new(),
            tenant_stats: Vec::new(),
            loaded_at: std::time::SystemTime::now(),
        }
    }

    /// The file stem of a tenant file (`acme.example` for `tenants/acme.example.toml`).
    pub(crate) fn tenant_stem(&self, id: FileId) -> String {
        let path = &self.sources.file(id).path;
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// Read the mail repo at `root`.
pub(crate) fn load(root: &Path, diagnostics: &mut Diagnostics) -> io::Result<LoadedRepo> {
    let mut repo = LoadedRepo::new(root);

    let platform_path = root.join(PLATFORM_FILE);
    match fs::read(&platform_path) {
        Ok(bytes) => {
            repo.platform = add_file(
                &mut repo.sources,
                PLATFORM_FILE,
                platform_path,
                bytes,
                diagnostics,
            );
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            diagnostics.push(diags::no_platform_file(root));
        }
        Err(err) => return Err(with_path(err, &platform_path)),
    }

    let tenants_dir = root.join(TENANTS_DIR);
    let paths = tenant_names(root)?.into_iter().map(|name| {
        let path = tenants_dir.join(&name);
        (name, path)
    });
    for (name, path) in paths {
        let stat = fs::metadata(&path).map_err(|e| with_path(e, &path))?;
        let bytes = fs::read(&path).map_err(|e| with_path(e, &path))?;
        let display = format!("{TENANTS_DIR}/{name}");
        if let Some(id) = add_file(&mut repo.sources, &display, path, bytes, diagnostics) {
            repo.tenants.push(id);
            repo.tenant_stats
                .push(crate::incremental::cache::Stat::of(&stat));
        }
    }
    Ok(repo)
}

/// A repo of the platform file and only the given tenant files (name under
/// `tenants/`, contents), for the incremental compile: the other tenant files
/// are known valid and are not looked at.
pub(crate) fn load_selected(
    root: &Path,
    platform: Vec<u8>,
    tenants: Vec<(String, Vec<u8>)>,
    diagnostics: &mut Diagnostics,
) -> LoadedRepo {
    let mut repo = LoadedRepo::new(root);
    repo.platform = add_file(
        &mut repo.sources,
        PLATFORM_FILE,
        root.join(PLATFORM_FILE),
        platform,
        diagnostics,
    );
    for (name, bytes) in tenants {
        let display = format!("{TENANTS_DIR}/{name}");
        let path = root.join(TENANTS_DIR).join(&name);
        if let Some(id) = add_file(&mut repo.sources, &display, path, bytes, diagnostics) {
            repo.tenants.push(id);
        }
    }
    repo
}

/// The names of the tenant files (`*.toml` under `tenants/`, not hidden), sorted.
pub(crate) fn tenant_names(root: &Path) -> io::Result<Vec<String>> {
    let tenants_dir = root.join(TENANTS_DIR);
    let mut names = Vec::new();
    match fs::read_dir(&tenants_dir) {
        Ok(entries) => {
            for entry in entries {
                let entry = entry.map_err(|e| with_path(e, &tenants_dir))?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') || !name.ends_with(".toml") || !entry.path().is_file() {
                    continue;
                }
                names.push(name);
            }
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(with_path(err, &tenants_dir)),
    }
    names.sort();
    Ok(names)
}

fn add_file(
    sources: &mut SourceMap,
    display: &str,
    path: PathBuf,
    bytes: Vec<u8>,
    diagnostics: &mut Diagnostics,
) -> Option<FileId> {
    match String::from_utf8(bytes) {
        Ok(text) => Some(sources.add(display.to_string(), path, text)),
        Err(err) => {
            // Keep a lossy copy in the source map (not as a tenant) so that the
            // diagnostic can show the line: the bytes before the bad one are
            // unchanged, so its offset is still right.
            let offset = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            // The U+FFFD that replaced the bad bytes.
            let width = text[offset..].chars().next().map_or(0, char::len_utf8);
            let id = sources.add(display.to_string(), path, text);
            diagnostics.push(diags::not_utf8(
                Location::new(id, offset..offset + width),
                display,
            ));
            None
        }
    }
}

/// An I/O error that names the path it happened on.
pub(crate) fn with_path(err: io::Error, path: &Path) -> io::Error {
    io::Error::new(err.kind(), format!("{}: {err}", path.display()))
}
