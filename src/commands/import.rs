//! `mailops import`: an existing mail server's database → tenant files, DKIM
//! keys and a report. Reads the database only; writes nothing unless every
//! step succeeded and no file would be replaced (without `--force`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::keys::KeyWriter;
use crate::commands::{EXIT_OK, Error, Result};
use crate::db::connection;
use crate::dkim_keys::{self, KeyAlgorithm, KeyPair};
use crate::fsutil;
use crate::import::mapping::{self, Options};
use crate::import::report::Report;
use crate::import::{From, dkim_dir, source, tenant_file};
use crate::load::TENANTS_DIR;
use crate::parallel;

/// What the user typed.
pub(crate) struct Args {
    pub(crate) database: String,
    pub(crate) from: From,
    pub(crate) dkim_dir: Option<PathBuf>,
    pub(crate) out: Option<PathBuf>,
    pub(crate) force: bool,
    pub(crate) default_scheme: String,
    pub(crate) allow_scheme: Vec<String>,
}

pub(crate) fn run(dir: &Path, args: Args) -> Result<ExitCode> {
    let compiled = crate::pipeline::compile(dir)?;
    let platform = &compiled.model.platform;
    let target = crate::db::url::resolve(Some(&args.database), None, None, dir)?;
    let shown = target.shown();

    let runtime = connection::runtime()?;
    let source = runtime.block_on(async {
        let Some(mut conn) = connection::connect_read_only(&target, crate::db::lock_wait()).await?
        else {
            return Err(Error::user(format!("{shown}: no such database")));
        };
        let result = async {
            let catalogue = source::catalogue(&mut conn).await?;
            let layout = source::detect(args.from, &catalogue)
                .map_err(|why| Error::user(format!("{shown}: {why}")))?;
            Ok::<_, Error>(source::read(&mut conn, &layout).await?)
        }
        .await;
        conn.close().await;
        result
    })?;

    let mut report = Report {
        source: shown.clone(),
        layout: source.layout,
        detected: source.detected.clone(),
        ..Report::default()
    };
    let options = Options {
        default_scheme: args.default_scheme.clone(),
        allowed: platform.defaults.password_schemes.clone(),
        legacy: args
            .allow_scheme
            .iter()
            .map(|s| s.to_ascii_uppercase())
            .collect(),
    };
    let mut drafts = mapping::map(&source, &options, &mut report);
    if drafts.is_empty() {
        print!("{}", report.render());
        return Err(Error::user(format!(
            "{shown}: no domain could be imported; nothing written"
        )));
    }

    // DKIM: keys from Rspamd's folder; a fresh key where there is none.
    let found = match &args.dkim_dir {
        Some(key_dir) => {
            dkim_dir::read(key_dir, &mapping::domains(&drafts)).map_err(Error::user)?
        }
        None => Default::default(),
    };
    let missing: Vec<usize> = (0..drafts.len())
        .filter(|&i| !found.contains_key(&drafts[i].ascii))
        .collect();
    let fresh: Vec<std::result::Result<KeyPair, Error>> = parallel::map_chunks(&missing, |chunk| {
        chunk
            .iter()
            .map(|_| dkim_keys::generate(KeyAlgorithm::Rsa2048))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let selector = platform.defaults.dkim_selector.clone();
    let mut keys: Vec<(String, String, KeyPair)> = Vec::new(); // (domain, selector, pair)
    let mut fresh = fresh.into_iter();
    for draft in &mut drafts {
        let (selector, pair) = match found.get(&draft.ascii) {
            Some(key) => {
                draft.notes.push(format!(
                    "DKIM key from {} (selector `{}`)",
                    key.file, key.selector
                ));
                (
                    key.selector.clone(),
                    KeyPair {
                        private_pem: key.pair.private_pem.clone(),
                        public_base64: key.pair.public_base64.clone(),
                    },
                )
            }
            None => {
                let pair = fresh
                    .next()
                    .ok_or_else(|| Error::operational("a DKIM key was not generated"))??;
                report.loud.push(format!(
                    "{}: no DKIM key {}: a fresh key was made (selector `{selector}`); its DNS must change before mail is signed with it",
                    draft.ascii,
                    if args.dkim_dir.is_some() { "in the key folder" } else { "given (no --dkim-dir)" }
                ));
                draft
                    .notes
                    .push("a fresh DKIM key: publish its record before signing with it".into());
                (selector.clone(), pair)
            }
        };
        draft.dkim = Some((selector.clone(), pair.public_base64.clone()));
        keys.push((draft.ascii.clone(), selector, pair));
    }

    // Where everything goes; nothing replaced without --force.
    let out = args.out.clone().unwrap_or_else(|| dir.join(TENANTS_DIR));
    let writer = KeyWriter::for_platform(dir, platform, None)?;
    let tenant_paths: Vec<PathBuf> = drafts
        .iter()
        .map(|d| out.join(format!("{}.toml", d.ascii)))
        .collect();
    let key_paths: Vec<PathBuf> = keys.iter().map(|(d, s, _)| writer.path(d, s)).collect();
    if !args.force {
        let existing: Vec<String> = tenant_paths
            .iter()
            .chain(&key_paths)
            .filter(|p| std::fs::symlink_metadata(p).is_ok())
            .map(|p| p.display().to_string())
            .collect();
        if !existing.is_empty() {
            let shown_files: Vec<&str> = existing.iter().take(10).map(String::as_str).collect();
            return Err(Error::user(format!(
                "{} file(s) exist already: {}{}; nothing written\nhelp: pass --force to replace them",
                existing.len(),
                shown_files.join(", "),
                if existing.len() > 10 { ", …" } else { "" }
            )));
        }
    }
    let origin = format!("{shown} ({} layout)", source.layout);
    let texts: Vec<String> = parallel::map_chunks(&drafts, |chunk| {
        chunk
            .iter()
            .map(|d| tenant_file::render(d, &origin))
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    let contents: Vec<Vec<u8>> = keys
        .iter()
        .map(|(_, _, pair)| writer.contents(pair))
        .collect::<Result<_>>()?;

    if let Some(first) = key_paths.first() {
        writer.prepare(dir, first)?;
    }
    std::fs::create_dir_all(&out)?;
    for (path, bytes) in key_paths.iter().zip(&contents) {
        writer.write(path, bytes)?;
    }
    for (path, text) in tenant_paths.iter().zip(&texts) {
        fsutil::write_atomic(path, text.as_bytes())?;
    }
    print!("{}", report.render());
    if !options.legacy.is_empty() {
        println!(
            "note: add {} to `[defaults] password_schemes` in mailops.toml, or `mailops validate` refuses the mailboxes imported with --allow-scheme",
            options.legacy.join(", ")
        );
    }
    eprintln!(
        "wrote {} tenant file(s) to {} and {} DKIM key(s)",
        tenant_paths.len(),
        out.display(),
        key_paths.len()
    );
    Ok(EXIT_OK)
}
