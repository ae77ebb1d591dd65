//! The repo's copies of BIMI logos, `bimi/<domain>.svg`: each tenant with
//! `[dns.bimi]` whose logo is kept there has it checked against the SVG
//! Tiny PS rules receivers apply (`validate::bimi::check_svg`). A logo not
//! kept in the repo is not checked: it is served from the URL alone.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::diagnostic::Diagnostics;
use crate::fsutil::{Beneath, Stat};
use crate::model::Model;
use crate::validate::bimi::{MAX_SVG_BYTES, check_svg};
use crate::validate::diags;

/// The folder of the mail repo holding the logos.
pub(crate) const DIR: &str = "bimi";

/// Where the repo keeps the logo of `domain` (A-label).
pub(crate) fn relative_path(domain: &str) -> PathBuf {
    Path::new(DIR).join(format!("{domain}.svg"))
}

/// Check the logo in the repo of every domain of `model` with `[dns.bimi]`.
/// A link or special file there is refused (an error, as everywhere in the
/// repo); a missing file is no problem.
pub(crate) fn check_model(
    repo_root: &Path,
    model: &Model,
    diagnostics: &mut Diagnostics,
) -> io::Result<()> {
    let mut with_logo = model
        .domains
        .values()
        .filter_map(|d| d.bimi.as_ref().map(|b| (d.name.as_str(), b)))
        .peekable();
    if with_logo.peek().is_none() {
        return Ok(());
    }
    let dir = match Beneath::open(repo_root)?.dir(Path::new(DIR)) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for (domain, bimi) in with_logo {
        let name = format!("{domain}.svg");
        let file = match dir.file(Path::new(&name)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let shown = relative_path(domain).display().to_string();
        // A file far past the limit is not read whole: its size is the problem.
        let mut bytes = Vec::new();
        file.take(MAX_SVG_BYTES as u64 * 4 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| crate::fsutil::with_path(e, &dir.path().join(&name)))?;
        let problems: Vec<(u32, u32, String)> = check_svg(&bytes)
            .into_iter()
            .map(|p| (p.line, p.column, p.problem))
            .collect();
        if !problems.is_empty() {
            diagnostics.push(diags::bimi_svg(bimi.origin.clone(), &shown, &problems));
        }
    }
    Ok(())
}

/// The files of `bimi/` and their stats, sorted, named `bimi/<file>`: the
/// compile cache compares them (a changed logo is checked again).
pub(crate) fn files(repo_root: &Path) -> io::Result<Vec<(String, Stat)>> {
    let mut files = Vec::new();
    let dir = match Beneath::open(repo_root)?.dir(Path::new(DIR)) {
        Ok(dir) => dir,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(files),
        Err(e) => return Err(e),
    };
    for entry in dir.entries()? {
        if let Some(stat) = dir.stat_of(&entry.name)? {
            files.push((format!("{DIR}/{}", entry.name.to_string_lossy()), stat));
        }
    }
    files.sort();
    Ok(files)
}
