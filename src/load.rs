//! Load stage: `mailops.toml` and every `tenants/*.toml` into a source map.
//!
//! The platform file is read at once; each tenant file is read by the worker
//! that parses it (`LoadedRepo::with_tenant_text`), into a buffer reused
//! from file to file, and its text is let go after it is parsed unless a
//! diagnostic points into it: 10,000 tenant files (200 MB) are never held
//! at once. Nothing is interpreted here. A missing platform file or `tenants/`, a file
//! that is not UTF-8, a link or special file where a file is expected, is a
//! user problem (a diagnostic); an unreadable disk is an operational failure
//! (an `io::Error`). Nothing is read through a symbolic link (`fsutil::Beneath`).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustix::fs::FileType;

use crate::diagnostic::Diagnostics;
use crate::fsutil::{self, Beneath, Stat};
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
    /// When loading began.
    pub(crate) loaded_at: std::time::SystemTime,
    /// `tenants/`, opened: the tenant files [`load`] listed are read from it
    /// when they are parsed ([`LoadedRepo::with_tenant_text`]).
    tenants_dir: Option<Arc<Beneath>>,
    /// Which texts of the tenant files read when parsed are held.
    hold: Hold,
    /// The first failure to read a tenant file when it was parsed (an
    /// operational failure, not a diagnostic), for [`LoadedRepo::read_failure`].
    failure: Arc<Mutex<Option<io::Error>>>,
}

/// Which texts of the tenant files, read one at a time when they are
/// parsed, a compile holds to the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Those of the files with a diagnostic: a report shows their lines.
    /// A diagnostic of a later stage (the graph's) that points into another
    /// file has its text read again ([`LoadedRepo::restore_texts`]).
    Diagnosed,
    /// Every one.
    All,
}

/// One worker's buffer for the tenant files it reads, reused from file to
/// file (10,000 files are never 10,000 allocations of their size).
#[derive(Debug, Default)]
pub(crate) struct Reader {
    buffer: Vec<u8>,
}

impl LoadedRepo {
    /// A repo with no file yet.
    fn new(root: &Path) -> Self {
        LoadedRepo {
            root: root.to_path_buf(),
            sources: SourceMap::default(),
            platform: None,
            tenants: Vec::new(),
            loaded_at: std::time::SystemTime::now(),
            tenants_dir: None,
            hold: Hold::All,
            failure: Arc::default(),
        }
    }

    /// The file stem of a tenant file (`acme.example` for `tenants/acme.example.toml`).
    pub(crate) fn tenant_stem(&self, id: FileId) -> String {
        let path = &self.sources.file(id).path;
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// Call `parse` with the text of tenant file `id`, and return what it
    /// gives. A file [`load`] listed is read now, into `reader`'s buffer:
    /// its stat is taken first and the hash of its contents recorded (see
    /// `SourceFile::read_as`), and its text is held afterwards only when
    /// `parse` reported a diagnostic in it (or the repo holds every text).
    /// A file that cannot be read as text gives `None` and a diagnostic; an
    /// operational failure gives `None` and is kept for [`Self::read_failure`].
    pub(crate) fn with_tenant_text<R>(
        &self,
        id: FileId,
        reader: &mut Reader,
        diagnostics: &mut Diagnostics,
        parse: impl FnOnce(&str, &mut Diagnostics) -> Option<R>,
    ) -> Option<R> {
        let file = self.sources.file(id);
        let dir = match &self.tenants_dir {
            Some(dir) if !file.is_held() => dir,
            _ => return parse(file.text(), diagnostics),
        };
        let name = file
            .path
            .file_name()
            .map(Path::new)
            .unwrap_or(Path::new(""));
        let stat = match read_into(dir, name, &mut reader.buffer) {
            Ok(stat) => stat,
            Err(err) => {
                match fsutil::refused(&err) {
                    // Swapped for a link or a FIFO since it was listed.
                    Some(refused) => {
                        diagnostics.push(diags::not_a_regular_file(&file.name, refused.what))
                    }
                    None => {
                        let mut failure = self.failure.lock().unwrap_or_else(|p| p.into_inner());
                        failure.get_or_insert(err);
                    }
                }
                return None;
            }
        };
        let text = match std::str::from_utf8(&reader.buffer) {
            Ok(text) => text,
            Err(err) => {
                // Hold a lossy copy so that the diagnostic can show the
                // line: the bytes before the bad one are unchanged, so its
                // offset is still right.
                let offset = err.valid_up_to();
                let text = String::from_utf8_lossy(&reader.buffer).into_owned();
                // The U+FFFD that replaced the bad bytes.
                let width = text[offset..].chars().next().map_or(0, char::len_utf8);
                file.hold(text);
                diagnostics.push(diags::not_utf8(
                    Location::new(id, offset..offset + width),
                    &file.name,
                ));
                return None;
            }
        };
        file.set_read_as(crate::source::hash(text.as_bytes()), Stat::of(&stat));
        let before = diagnostics.len();
        let parsed = parse(text, diagnostics);
        if self.hold == Hold::All || diagnostics.len() != before {
            file.hold(text.to_string());
        }
        parsed
    }

    /// The first operational failure to read a tenant file when it was
    /// parsed (the compile is then a failure, as when [`load`] fails).
    pub(crate) fn read_failure(&self) -> io::Result<()> {
        match self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Hold the text of every file a diagnostic points into, read again
    /// from disk where it was let go after it was parsed. False when one of
    /// them is no longer the text that was compiled (its hash differs: it
    /// changed since, and its line numbers could be wrong), or cannot be
    /// read again: the caller compiles again, holding every text.
    pub(crate) fn restore_texts(&self, diagnostics: &Diagnostics) -> bool {
        let files: std::collections::BTreeSet<FileId> = diagnostics
            .iter()
            .flat_map(|d| d.primary.iter().chain(&d.secondary))
            .map(|label| label.loc.file)
            .collect();
        for id in files {
            let file = self.sources.file(id);
            let (Some(dir), Some((hash, _)), false) =
                (&self.tenants_dir, file.read_as(), file.is_held())
            else {
                continue;
            };
            let name = file
                .path
                .file_name()
                .map(Path::new)
                .unwrap_or(Path::new(""));
            let mut bytes = Vec::new();
            if read_into(dir, name, &mut bytes).is_err() || crate::source::hash(&bytes) != *hash {
                return false;
            }
            match String::from_utf8(bytes) {
                Ok(text) => file.hold(text),
                Err(_) => return false,
            }
        }
        true
    }
}

/// Read the mail repo at `root`: the platform file, and the list of the
/// tenant files (each is read when it is parsed, see
/// [`LoadedRepo::with_tenant_text`]; `hold` says which texts are held after).
///
/// Nothing below `root` is read through a symbolic link, and only regular
/// files are read (see `fsutil::Beneath`): a link, folder, FIFO or device
/// where a file is expected, a missing or linked `tenants/`, is a
/// diagnostic naming the path, and the compile then has errors, so that
/// nothing is built, planned or applied from a repo mailops could not read whole.
pub(crate) fn load(
    root: &Path,
    hold: Hold,
    diagnostics: &mut Diagnostics,
) -> io::Result<LoadedRepo> {
    let mut repo = LoadedRepo::new(root);
    repo.hold = hold;
    let repo_dir = match Beneath::open(root) {
        Ok(dir) => dir,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            diagnostics.push(diags::no_platform_file(root));
            return Ok(repo);
        }
        Err(err) => return Err(err),
    };

    match repo_dir.read(Path::new(PLATFORM_FILE)) {
        Ok(bytes) => {
            repo.platform = add_file(
                &mut repo.sources,
                PLATFORM_FILE,
                root.join(PLATFORM_FILE),
                bytes,
                diagnostics,
            );
        }
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            diagnostics.push(diags::no_platform_file(root));
        }
        Err(err) => match fsutil::refused(&err) {
            Some(refused) => {
                diagnostics.push(diags::not_a_regular_file(PLATFORM_FILE, refused.what))
            }
            None => return Err(err),
        },
    }

    let listing = list_tenants(&repo_dir)?;
    for problem in &listing.problems {
        diagnostics.push(problem.diagnostic());
    }
    let Some(tenants_dir) = listing.dir else {
        return Ok(repo);
    };
    repo.tenants.reserve(listing.names.len());
    for name in listing.names {
        let display = format!("{TENANTS_DIR}/{name}");
        let path = root.join(TENANTS_DIR).join(&name);
        repo.tenants.push(repo.sources.add_unread(display, path));
    }
    repo.tenants_dir = Some(Arc::new(tenants_dir));
    Ok(repo)
}

/// A regular file of a folder into `buffer` (cleared first), its stat taken
/// before it was read.
fn read_into(dir: &Beneath, name: &Path, buffer: &mut Vec<u8>) -> io::Result<std::fs::Metadata> {
    use std::io::Read;
    buffer.clear();
    let mut file = dir.file(name)?;
    let path = dir.path().join(name);
    let stat = file.metadata().map_err(|e| with_path(e, &path))?;
    buffer.reserve(stat.len() as usize);
    file.read_to_end(buffer).map_err(|e| with_path(e, &path))?;
    Ok(stat)
}

/// A regular file of a folder, its stat taken before it was read.
pub(crate) fn read_with_stat(
    dir: &Beneath,
    name: &str,
) -> io::Result<(std::fs::Metadata, Vec<u8>)> {
    use std::io::Read;
    let mut file = dir.file(Path::new(name))?;
    let path = dir.path().join(name);
    let stat = file.metadata().map_err(|e| with_path(e, &path))?;
    let mut bytes = Vec::with_capacity(stat.len() as usize);
    file.read_to_end(&mut bytes)
        .map_err(|e| with_path(e, &path))?;
    Ok((stat, bytes))
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
    load_in_memory(root, Some(platform), tenants, diagnostics)
}

/// A repo of files read elsewhere than from the disk (a git revision, see
/// `plan::base`), checked as [`load`] checks them: the platform file's bytes
/// (`None`: it has none; the caller reports why, as it reports what it could
/// not read), and the tenant files by name under `tenants/`, sorted.
pub(crate) fn load_in_memory(
    root: &Path,
    platform: Option<Vec<u8>>,
    tenants: Vec<(String, Vec<u8>)>,
    diagnostics: &mut Diagnostics,
) -> LoadedRepo {
    let mut repo = LoadedRepo::new(root);
    repo.platform = platform.and_then(|platform| {
        add_file(
            &mut repo.sources,
            PLATFORM_FILE,
            root.join(PLATFORM_FILE),
            platform,
            diagnostics,
        )
    });
    for (name, bytes) in tenants {
        let display = format!("{TENANTS_DIR}/{name}");
        let path = root.join(TENANTS_DIR).join(&name);
        if let Some(id) = add_file(&mut repo.sources, &display, path, bytes, diagnostics) {
            repo.tenants.push(id);
        }
    }
    repo
}

/// The tenant files of a repo, and what is wrong with `tenants/`.
#[derive(Debug)]
pub(crate) struct TenantListing {
    /// `tenants/`, opened (none when it is missing or refused).
    pub(crate) dir: Option<Beneath>,
    /// The regular `*.toml` files in it (not hidden), sorted.
    pub(crate) names: Vec<String>,
    /// Entries that cannot be read as tenant files, a missing or linked `tenants/`.
    pub(crate) problems: Vec<ListingProblem>,
}

/// Why a tenant file or `tenants/` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ListingProblem {
    NoTenantsDir,
    /// `tenants/` is a link or not a folder (what it is).
    TenantsNotAFolder(&'static str),
    /// A `*.toml` entry that is a link, folder, FIFO, … (its name, what it is).
    NotARegularFile(String, &'static str),
    /// A regular `*.toml` file whose name is not UTF-8 (shown lossily).
    NameNotUtf8(String),
}

impl ListingProblem {
    fn diagnostic(&self) -> crate::diagnostic::Diagnostic {
        match self {
            ListingProblem::NoTenantsDir => diags::no_tenants_folder(),
            ListingProblem::TenantsNotAFolder(what) => diags::not_a_folder(TENANTS_DIR, what),
            ListingProblem::NotARegularFile(name, what) => {
                diags::not_a_regular_file(&format!("{TENANTS_DIR}/{name}"), what)
            }
            ListingProblem::NameNotUtf8(name) => {
                diags::file_name_not_utf8(&format!("{TENANTS_DIR}/{name}"))
            }
        }
    }
}

/// The tenant files (`*.toml` under `tenants/`, not hidden), by `lstat`:
/// an entry named `*.toml` that is not a regular file is a problem, never
/// skipped (a build would otherwise remove what that tenant produced).
pub(crate) fn list_tenants(repo: &Beneath) -> io::Result<TenantListing> {
    let mut listing = TenantListing {
        dir: None,
        names: Vec::new(),
        problems: Vec::new(),
    };
    let dir = match repo.dir(Path::new(TENANTS_DIR)) {
        Ok(dir) => dir,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            listing.problems.push(ListingProblem::NoTenantsDir);
            return Ok(listing);
        }
        Err(err) => match fsutil::refused(&err) {
            Some(refused) => {
                listing
                    .problems
                    .push(ListingProblem::TenantsNotAFolder(refused.what));
                return Ok(listing);
            }
            None => return Err(err),
        },
    };
    for entry in dir.entries()? {
        let name = entry.name.to_string_lossy().into_owned();
        if name.starts_with('.') || !name.ends_with(".toml") {
            continue;
        }
        if entry.kind != FileType::RegularFile {
            let what = fsutil::describe(entry.kind);
            listing
                .problems
                .push(ListingProblem::NotARegularFile(name, what));
        } else if entry.name.to_str().is_none() {
            listing.problems.push(ListingProblem::NameNotUtf8(name));
        } else {
            listing.names.push(name);
        }
    }
    listing.names.sort();
    listing.dir = Some(dir);
    Ok(listing)
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

pub(crate) use crate::fsutil::with_path;

/// `tenants/<domain>.toml` by A-label or Unicode name.
pub(crate) fn find_tenant_file(dir: &Path, ascii: &str, unicode: &str) -> Option<PathBuf> {
    [ascii, unicode]
        .iter()
        .map(|name| dir.join(TENANTS_DIR).join(format!("{name}.toml")))
        .find(|p| p.is_file())
}
