//! `mailops init [DIR]`: a new mail repo that works at once — `validate`,
//! `build` and `check` pass in it, and `git status` is clean after a commit.
//!
//! The files come from `crate::init` (platform file, README, `.gitignore`,
//! `keys/`, CI templates) and `schema`; the example tenant and its DKIM key
//! from `mailops new` itself (its `run`, not a copy of it); `generated/` from
//! a build. Nothing existing is ever replaced: a folder that holds a mail
//! repo, or any file init would write, is refused before anything is
//! written, and a failure half-way removes what this run made.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::{EXIT_OK, Error, Result, domain_argument, new, schema, validate, warn};
use crate::dkim_keys::KeyAlgorithm;
use crate::fsutil;
use crate::generated_dir::GENERATED_DIR;
use crate::init::Scaffold;
use crate::load::TENANTS_DIR;
use crate::pipeline;

/// What marks a folder as a mail repo already: (name, as shown).
const MAIL_REPO_MARKS: [(&str, &str); 2] =
    [("mailops.toml", "mailops.toml"), (TENANTS_DIR, "tenants/")];

pub(crate) fn run(dir: &Path, domain: &str, hostname: &str) -> Result<ExitCode> {
    let scaffold = scaffold(domain, hostname)?;
    let files: Vec<(String, String)> = scaffold
        .files()
        .into_iter()
        .map(|(path, text)| (path.to_string(), text))
        .chain(
            schema::schema_files()
                .into_iter()
                .map(|(path, text)| (path.to_string(), text)),
        )
        .collect();
    refuse_existing(dir, &files)?;

    let mut made = Made::new(dir)?;
    let outcome = write_repo(dir, &scaffold, &files, &mut made);
    if let Err(error) = outcome {
        made.undo();
        return Err(error.followed_by(format!(
            "init removed what it had written in {}: run it again once the problem is fixed",
            dir.display()
        )));
    }
    eprintln!(
        "created a mail repo in {}: mailops.toml, {TENANTS_DIR}/{}.toml, keys/, schema/, {GENERATED_DIR}/, .gitignore, README.md, {} and {}",
        dir.display(),
        scaffold.domain,
        crate::init::GITHUB_WORKFLOW,
        crate::init::GITLAB_CI,
    );
    eprintln!(
        "next: edit mailops.toml (the mail host {}), then `git init` and commit; README.md says how CI and the everyday loop work",
        scaffold.hostname
    );
    Ok(EXIT_OK)
}

/// The names typed on the command line, checked as `mailops new` checks a
/// domain, and the host name's parent as the zone.
fn scaffold(domain: &str, hostname: &str) -> Result<Scaffold> {
    let domain = domain_argument(domain)?.ascii;
    let hostname = domain_argument(hostname)
        .map_err(|e| Error::user(format!("--hostname: {}", e.message())))?
        .ascii;
    let zone = match hostname.split_once('.') {
        Some((_, zone)) if zone.contains('.') => zone.to_string(),
        _ => {
            return Err(Error::user(format!(
                "--hostname: the parent of `{hostname}` is not a DNS zone\nhelp: name the mail host inside your zone, like `mx.example.com`"
            )));
        }
    };
    // postmaster@ and abuse@ of the example forward to postmaster@<zone>.
    if domain == zone {
        return Err(Error::user(format!(
            "--domain: the example tenant `{domain}` is the mail host's own zone, where its postmaster@ forwards\nhelp: pass another --domain for the example, such as `acme.example`"
        )));
    }
    Ok(Scaffold {
        hostname,
        zone,
        domain,
    })
}

/// Refuse a folder that is not one, holds a mail repo, or holds any file
/// init would write, naming them all; nothing is written then.
fn refuse_existing(dir: &Path, files: &[(String, String)]) -> Result<()> {
    // The folder itself is taken as named (a link to a folder is followed);
    // nothing beneath it is.
    match std::fs::metadata(dir) {
        Ok(meta) if !meta.is_dir() => {
            return Err(Error::user(format!(
                "{} exists and is not a folder",
                dir.display()
            )));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(fsutil::with_path(e, dir).into()),
    }
    let exists = |relative: &str| std::fs::symlink_metadata(dir.join(relative)).is_ok();
    let marks: Vec<&str> = MAIL_REPO_MARKS
        .into_iter()
        .filter(|(name, _)| exists(name))
        .map(|(_, shown)| shown)
        .collect();
    if !marks.is_empty() {
        return Err(Error::user(format!(
            "{} already holds a mail repo ({}); nothing was written\nhelp: run `mailops init` in a new or empty folder",
            dir.display(),
            marks.join(", ")
        )));
    }
    let mut taken: Vec<&str> = files
        .iter()
        .map(|(path, _)| path.as_str())
        .chain([GENERATED_DIR])
        .filter(|path| exists(path))
        .collect();
    taken.sort();
    if !taken.is_empty() {
        return Err(Error::user(format!(
            "{} already has {}; `mailops init` never replaces a file, and nothing was written\nhelp: move them aside and run `mailops init` again (then merge what you need back)",
            dir.display(),
            taken.join(", ")
        )));
    }
    Ok(())
}

fn write_repo(
    dir: &Path,
    scaffold: &Scaffold,
    files: &[(String, String)],
    made: &mut Made,
) -> Result<()> {
    for (relative, text) in files {
        write_new(dir, Path::new(relative), text.as_bytes(), made)?;
    }
    for folder in [TENANTS_DIR, ".mailops", GENERATED_DIR] {
        made.note(dir.join(folder));
    }
    fsutil::make_dirs_beneath(dir, Path::new(TENANTS_DIR))?;
    // The example tenant and its key, exactly as `mailops new` makes them.
    new::run(dir, &scaffold.domain, None, KeyAlgorithm::Rsa2048, None)?;
    let compiled = pipeline::compile(dir)?;
    validate::report(&compiled);
    if compiled.has_errors() {
        return Err(Error::user(
            "the new mail repo has the problems above (check --domain and --hostname)",
        ));
    }
    let (built, warning) = pipeline::build(dir, &compiled)?;
    warn(warning);
    eprintln!("built {} files in {GENERATED_DIR}/", built.files);
    Ok(())
}

/// Write a file that must not exist yet (never through a link: the folders
/// on its way are made beneath `dir` refusing links, and the file is created
/// exclusively).
fn write_new(dir: &Path, relative: &Path, contents: &[u8], made: &mut Made) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = relative.parent().filter(|p| !p.as_os_str().is_empty()) {
        made.note(dir.join(parent));
        fsutil::make_dirs_beneath(dir, parent)?;
    }
    let path = dir.join(relative);
    made.note(path.clone());
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(fsutil::NOFOLLOW)
        .open(&path)
        .map_err(|e| fsutil::with_path(e, &path))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(|e| fsutil::with_path(e, &path))?;
    Ok(())
}

/// What this run made, to remove when it fails half-way: the folder itself
/// when it was new, else each path's topmost folder (or the file) that did
/// not exist before.
struct Made {
    dir: PathBuf,
    dir_was_new: bool,
    paths: Vec<PathBuf>,
}

impl Made {
    fn new(dir: &Path) -> Result<Made> {
        let dir_was_new = std::fs::symlink_metadata(dir).is_err();
        if dir_was_new {
            std::fs::create_dir_all(dir).map_err(|e| fsutil::with_path(e, dir))?;
        }
        Ok(Made {
            dir: dir.to_path_buf(),
            dir_was_new,
            paths: Vec::new(),
        })
    }

    /// About to make `path` (a file, or a folder and what is beneath it):
    /// remember the topmost of its folders below the repo that is not there yet.
    fn note(&mut self, path: PathBuf) {
        let Ok(relative) = path.strip_prefix(&self.dir) else {
            return;
        };
        let mut topmost = self.dir.clone();
        for part in relative.components() {
            topmost.push(part);
            match std::fs::symlink_metadata(&topmost) {
                // Nothing beneath a link is ever made (`fsutil::Beneath`), nor removed.
                Ok(meta) if meta.file_type().is_symlink() => return,
                Ok(_) => {}
                Err(_) => {
                    if !self.paths.iter().any(|p| topmost.starts_with(p)) {
                        self.paths.push(topmost);
                    }
                    return;
                }
            }
        }
    }

    fn undo(self) {
        if self.dir_was_new {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        }
        for path in self.paths.iter().rev() {
            match std::fs::symlink_metadata(path) {
                Ok(meta) if meta.is_dir() => {
                    let _ = std::fs::remove_dir_all(path);
                }
                Ok(_) => {
                    let _ = std::fs::remove_file(path);
                }
                Err(_) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_name_needs_a_zone_above_it_and_the_example_another_domain() {
        let ok = scaffold("acme.example", "mx.operator.example").expect("valid");
        assert_eq!(ok.zone, "operator.example");
        assert_eq!(ok.admin_email(), "postmaster@operator.example");
        let message = |d: &str, h: &str| scaffold(d, h).expect_err("refused").to_string();
        assert!(message("acme.example", "mx.example").contains("not a DNS zone"));
        assert!(message("operator.example", "mx.operator.example").contains("own zone"));
        assert!(message("acme..example", "mx.operator.example").contains("not a valid domain"));
        assert!(message("acme.example", "mx..example").starts_with("--hostname: "));
    }

    #[test]
    fn an_idn_example_domain_is_written_as_its_a_label() {
        let ok = scaffold("bücher.example", "mx.operator.example").expect("valid");
        assert_eq!(ok.domain, "xn--bcher-kva.example");
    }
}
