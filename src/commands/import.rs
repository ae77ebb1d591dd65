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
use crate::load::{PLATFORM_FILE, TENANTS_DIR};
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
            crate::progress::stage("reading the server's domains, mailboxes and aliases", None);
            let read = source::read(&mut conn, &layout).await;
            crate::progress::finish();
            Ok::<_, Error>(read?)
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
        legacy: platform
            .defaults
            .legacy_password_schemes
            .iter()
            .cloned()
            .chain(args.allow_scheme.iter().map(|s| s.to_ascii_uppercase()))
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
    // A fresh RSA key where the folder has none, and beside an Ed25519 key that is
    // alone (receivers that verify only RSA need one: `dkim-ed25519-without-rsa`).
    let is_ed25519 = |i: usize| {
        found
            .get(&drafts[i].ascii)
            .is_some_and(|key| is_ed25519_pem(&key.pair.private_pem))
    };
    let missing: Vec<usize> = (0..drafts.len())
        .filter(|&i| !found.contains_key(&drafts[i].ascii) || is_ed25519(i))
        .collect();
    crate::progress::stage(
        &format!("making {} DKIM keys", missing.len()),
        Some(missing.len()),
    );
    let fresh: Vec<std::result::Result<KeyPair, Error>> = parallel::map_chunks(&missing, |chunk| {
        chunk
            .iter()
            .map(|_| {
                let key = dkim_keys::generate(KeyAlgorithm::Rsa2048);
                crate::progress::step();
                key
            })
            .collect::<Vec<_>>()
    })
    .into_iter()
    .flatten()
    .collect();
    crate::progress::finish();
    let default_selector = platform.defaults.dkim_selector.clone();
    let mut keys: Vec<(String, String, KeyPair)> = Vec::new(); // (domain, selector, pair)
    let mut fresh = fresh.into_iter();
    let where_from = if args.dkim_dir.is_some() {
        "in the key folder"
    } else {
        "given (no --dkim-dir)"
    };
    for draft in &mut drafts {
        let mut pairs: Vec<(String, KeyPair)> = Vec::new();
        if let Some(key) = found.get(&draft.ascii) {
            draft.notes.push(format!(
                "DKIM key from {} (selector `{}`)",
                key.file, key.selector
            ));
            pairs.push((
                key.selector.clone(),
                KeyPair {
                    private_pem: key.pair.private_pem.clone(),
                    public_base64: key.pair.public_base64.clone(),
                },
            ));
        }
        let found_ed25519 = pairs
            .first()
            .filter(|(_, pair)| is_ed25519_pem(&pair.private_pem))
            .map(|(selector, _)| selector.clone());
        if pairs.is_empty() || found_ed25519.is_some() {
            let pair = fresh
                .next()
                .ok_or_else(|| Error::operational("a DKIM key was not generated"))??;
            let selector = match &found_ed25519 {
                Some(taken) if *taken == default_selector => format!("{default_selector}-rsa"),
                _ => default_selector.clone(),
            };
            report.loud.push(match &found_ed25519 {
                Some(ed) => format!(
                    "{}: only an Ed25519 key {where_from} (selector `{ed}`): a fresh RSA key was added beside it (selector `{selector}`) for receivers that verify only RSA; publish its record",
                    draft.ascii
                ),
                None => format!(
                    "{}: no DKIM key {where_from}: a fresh key was made (selector `{selector}`); its DNS must change before mail is signed with it",
                    draft.ascii
                ),
            });
            draft
                .notes
                .push("a fresh DKIM key: publish its record before signing with it".into());
            pairs.push((selector, pair));
        }
        draft.dkim = pairs
            .iter()
            .map(|(selector, pair)| (selector.clone(), pair.public_base64.clone()))
            .collect();
        for (selector, pair) in pairs {
            keys.push((draft.ascii.clone(), selector, pair));
        }
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

    // The legacy schemes the imported mailboxes use that mailops.toml does not list yet:
    // listed in `[defaults] legacy_password_schemes`, so `validate` accepts them (with a
    // warning on every such mailbox) instead of refusing the repo.
    let to_list: Vec<String> = legacy_schemes_used(&drafts)
        .into_iter()
        .filter(|scheme| {
            !platform.defaults.password_schemes.contains(scheme)
                && !platform.defaults.legacy_password_schemes.contains(scheme)
        })
        .collect();
    let platform_text = if to_list.is_empty() {
        None
    } else {
        Some(with_legacy_schemes(dir, &to_list)?)
    };

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
    if let Some(text) = &platform_text {
        fsutil::write_atomic(&dir.join(PLATFORM_FILE), text.as_bytes())?;
    }
    print!("{}", report.render());
    if !to_list.is_empty() {
        println!(
            "note: {} added to `[defaults] legacy_password_schemes` in {PLATFORM_FILE}: `mailops validate` warns about every mailbox that uses it until its user chooses a new password",
            to_list.join(", ")
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

/// The schemes of the imported passwords.
fn legacy_schemes_used(drafts: &[mapping::Draft]) -> Vec<String> {
    let mut used: Vec<String> = drafts
        .iter()
        .flat_map(|d| &d.mailboxes)
        .filter_map(|m| {
            let rest = m.password.strip_prefix('{')?;
            Some(rest[..rest.find('}')?].to_ascii_uppercase())
        })
        .collect();
    used.sort();
    used.dedup();
    used
}

/// mailops.toml with `schemes` added to `[defaults] legacy_password_schemes` (toml_edit:
/// every comment and layout kept). Read through `fsutil::read_beneath`: never a link.
fn with_legacy_schemes(dir: &Path, schemes: &[String]) -> Result<String> {
    let text = String::from_utf8(fsutil::read_beneath(dir, Path::new(PLATFORM_FILE))?)
        .map_err(|_| Error::user(format!("{PLATFORM_FILE} is not UTF-8 text")))?;
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|err| {
        Error::user(format!(
            "{PLATFORM_FILE} is not valid TOML; run `mailops validate` to see why\n{err}"
        ))
    })?;
    let defaults = doc
        .entry("defaults")
        .or_insert_with(toml_edit::table)
        .as_table_like_mut()
        .ok_or_else(|| Error::user(format!("`defaults` in {PLATFORM_FILE} is not a table")))?;
    let list = defaults
        .entry("legacy_password_schemes")
        .or_insert_with(|| toml_edit::value(toml_edit::Array::new()))
        .as_array_mut()
        .ok_or_else(|| {
            Error::user(format!(
                "`defaults.legacy_password_schemes` in {PLATFORM_FILE} is not a list"
            ))
        })?;
    for scheme in schemes {
        list.push(scheme.as_str());
    }
    Ok(doc.to_string())
}

/// Whether a PKCS#8 PEM private key is an Ed25519 key.
fn is_ed25519_pem(pem: &str) -> bool {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    ed25519_dalek::SigningKey::from_pkcs8_pem(pem).is_ok()
}
