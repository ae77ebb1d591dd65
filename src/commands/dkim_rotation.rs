//! `mailops dkim rotate | promote | retire | status | purge`: DKIM key
//! rotation staged in git.
//!
//! A key moves `published` (in DNS, not signing) → `active` (signing) →
//! `retiring` (in DNS, not signing, so mail in transit still verifies) →
//! `retired` (out of DNS, off the mail host). Each step is an edit of the
//! tenant file (comments and layout kept) that goes through a pull request
//! like any other change; the build, Terraform and `mailops install` do the
//! rest. The only clock is the `published` time: a key is promoted only once
//! its record has been in DNS longer than the domain's TTL plus
//! [`PROMOTE_MARGIN`], so no resolver still holds an answer without it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;

use crate::cli::DiagnosticFormat;
use crate::commands::dkim::{set_key, set_value, tenant_document};
use crate::commands::keys::KeyWriter;
use crate::commands::selector::{self, check_selector};
use crate::commands::{EXIT_OK, Error, Result, domain_argument};
use crate::dkim_keys::{self, KeyAlgorithm};
use crate::fsutil::{self, Beneath};
use crate::model::{Dkim, DkimState, Domain, Model};
use crate::utc_time;

/// How long past the TTL a published key waits before `promote` accepts it:
/// one hour, for the time between the commit and the record being served
/// (a Terraform apply, a secondary's zone transfer) and for resolvers that
/// keep an answer a little past its TTL.
pub(crate) const PROMOTE_MARGIN: i64 = 3600;

/// How long a retiring key stays in DNS before `status` says to retire it:
/// a week, past Postfix's `maximal_queue_lifetime` (5 days) and the time
/// receivers take to verify mail they queued.
pub(crate) const RETIRE_AFTER: i64 = 7 * 86_400;

/// `mailops dkim rotate DOMAIN`: a new key pair, its public key added to
/// the tenant file as `published` (stamped now), the private key into the
/// key store (or `keys/`, encrypted) as `dkim keygen` writes it.
pub(crate) fn rotate(
    dir: &Path,
    domain: &str,
    algorithm: KeyAlgorithm,
    selector: Option<String>,
    key_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let name = domain_argument(domain)?;
    let model = super::dns::compiled(dir, "no rotation")?;
    let tenant = tenant(&model, &name.ascii, &name.unicode)?;
    let tag = match algorithm {
        KeyAlgorithm::Ed25519 => "ed25519",
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => "rsa",
    };
    if let Some(waiting) = tenant
        .dkim
        .iter()
        .find(|k| k.state == DkimState::Published && k.algorithm.tag() == tag)
    {
        return Err(Error::user(format!(
            "`{}` is a published {tag} key of {} that is not active yet: promote it (`mailops dkim promote {} {}`) or retire it (`mailops dkim retire {} {}`) before rotating again",
            waiting.selector,
            name.unicode,
            name.ascii,
            waiting.selector,
            name.ascii,
            waiting.selector
        )));
    }
    let now = utc_time::now();
    let taken: BTreeSet<&str> = tenant.dkim.iter().map(|k| k.selector.as_str()).collect();
    let selector = match selector {
        Some(s) => {
            check_selector(&s)?;
            if taken.contains(s.as_str()) {
                return Err(Error::user(format!(
                    "{} has a key with the selector `{s}` already; a selector is never reused (receivers and caches may still hold its old record): choose another --selector, or leave it out for a fresh one",
                    name.unicode
                )));
            }
            s
        }
        None => fresh_selector(now, algorithm, &taken),
    };
    selector::key_file_name_fits(&name.ascii, &selector)?;
    let platform = &model.platform;
    let writer = KeyWriter::for_platform(dir, platform, key_dir)?;
    let key_path = writer.path(&name.ascii, &selector);
    if std::fs::symlink_metadata(&key_path).is_ok() {
        return Err(Error::user(format!(
            "{} exists already, but the tenant file has no key `{selector}`: it is left as it is; choose another --selector",
            key_path.display()
        )));
    }
    let (tenant_path, mut doc) = tenant_document(dir, &name)?;
    let pair = dkim_keys::generate(algorithm)?;
    let default = &platform.defaults.dkim_selector;
    set_key(&mut doc, &selector, default, &pair.public_base64);
    let published = utc_time::format(now);
    edit_entry(&mut doc, &selector, default, |table| {
        set_value(table, "state", DkimState::Published.name());
        set_value(table, "published", &published);
    })?;
    let contents = writer.contents(&pair)?;
    writer.prepare(dir, &key_path)?;
    fsutil::dirs_in_repo(dir, &tenant_path, None)?;
    writer.write(&key_path, &contents)?;
    if let Err(err) = fsutil::write_atomic(&tenant_path, doc.to_string().as_bytes()) {
        let _ = std::fs::remove_file(&key_path);
        return Err(err.into());
    }
    let due = utc_time::format(now + i64::from(tenant.ttl) + PROMOTE_MARGIN);
    eprintln!("{}", writer.wrote(&key_path));
    eprintln!(
        "added key `{selector}` to {} as published {published} (in DNS, not signing)",
        shown(dir, &tenant_path)
    );
    eprintln!(
        "next: commit and merge, publish DNS (terraform apply, or `mailops dns records {}`), `mailops install` on the host; then, after {due}: `mailops dkim promote {} {selector}`",
        name.ascii, name.ascii
    );
    Ok(EXIT_OK)
}

/// `mailops dkim promote DOMAIN SELECTOR [--force]`: the published key
/// becomes active, the active key of its algorithm retiring.
pub(crate) fn promote(dir: &Path, domain: &str, selector: &str, force: bool) -> Result<ExitCode> {
    let name = domain_argument(domain)?;
    let model = super::dns::compiled(dir, "nothing promoted")?;
    let tenant = tenant(&model, &name.ascii, &name.unicode)?;
    let key = key(tenant, selector)?;
    match key.state {
        DkimState::Published => {}
        DkimState::Active => {
            return Err(Error::user(format!("`{selector}` is active already")));
        }
        state @ (DkimState::Retiring | DkimState::Retired) => {
            return Err(Error::user(format!(
                "`{selector}` is {}: only a published key is promoted; for a new key run `mailops dkim rotate {}`",
                state.name(),
                name.ascii
            )));
        }
    }
    let now = utc_time::now();
    if let Some(published) = key.published {
        let due = promotable_at(tenant, published);
        if now < due && !force {
            return Err(Error::user(format!(
                "`{selector}` was published {} ago ({}); promote it after {} (in {}): its record must be in DNS longer than the TTL ({} s) plus a margin of {} so that no resolver still answers without it\nhelp: if you know the record is served everywhere, pass --force",
                utc_time::human_duration(now - published),
                utc_time::format(published),
                utc_time::format(due),
                utc_time::human_duration(due - now),
                tenant.ttl,
                utc_time::human_duration(PROMOTE_MARGIN),
            )));
        }
    }
    let replaced: Vec<&str> = tenant
        .signing_keys()
        .filter(|k| k.algorithm.tag() == key.algorithm.tag())
        .map(|k| k.selector.as_str())
        .collect();
    let (tenant_path, mut doc) = tenant_document(dir, &name)?;
    let default = &model.platform.defaults.dkim_selector;
    for old in &replaced {
        edit_entry(&mut doc, old, default, |table| {
            set_value(table, "state", DkimState::Retiring.name());
            set_value(table, "retiring", &utc_time::format(now));
        })?;
    }
    edit_entry(&mut doc, selector, default, |table| {
        set_value(table, "state", DkimState::Active.name());
    })?;
    fsutil::write_atomic(&tenant_path, doc.to_string().as_bytes())?;
    eprintln!(
        "`{selector}` is active in {}: mail is signed with it once built and installed",
        shown(dir, &tenant_path)
    );
    for old in &replaced {
        eprintln!(
            "`{old}` is retiring: in DNS, no longer signing; retire it once mail signed with it has been delivered (after {}): `mailops dkim retire {} {old}`",
            utc_time::format(retirable_at(now)),
            name.ascii
        );
    }
    Ok(EXIT_OK)
}

/// `mailops dkim retire DOMAIN SELECTOR [--force]`: a retiring (or never
/// promoted) key leaves DNS and the mail host; a key that stopped signing
/// (`retiring = "…"`) less than `RETIRE_AFTER` ago only with `force`.
pub(crate) fn retire(dir: &Path, domain: &str, selector: &str, force: bool) -> Result<ExitCode> {
    let name = domain_argument(domain)?;
    let model = super::dns::compiled(dir, "nothing retired")?;
    let tenant = tenant(&model, &name.ascii, &name.unicode)?;
    let key = key(tenant, selector)?;
    match key.state {
        DkimState::Published | DkimState::Retiring => {}
        DkimState::Active => {
            return Err(Error::user(format!(
                "`{selector}` is active: it signs {}'s mail; make another key active first (`mailops dkim rotate {}`, then `mailops dkim promote`)",
                name.unicode, name.ascii
            )));
        }
        DkimState::Retired => {
            return Err(Error::user(format!("`{selector}` is retired already")));
        }
    }
    if let Some(stopped) = key.retiring.filter(|_| key.state == DkimState::Retiring) {
        let now = utc_time::now();
        let due = retirable_at(stopped);
        if now < due && !force {
            return Err(Error::user(format!(
                "`{selector}` stopped signing {} ago ({}); retire it after {} (in {}): mail it signed may still be queued or waiting to be read, and it verifies only while the record is in DNS\nhelp: if you know no such mail is left, pass --force",
                utc_time::human_duration(now - stopped),
                utc_time::format(stopped),
                utc_time::format(due),
                utc_time::human_duration(due - now),
            )));
        }
    }
    let (tenant_path, mut doc) = tenant_document(dir, &name)?;
    edit_entry(
        &mut doc,
        selector,
        &model.platform.defaults.dkim_selector,
        |table| {
            set_value(table, "state", DkimState::Retired.name());
        },
    )?;
    fsutil::write_atomic(&tenant_path, doc.to_string().as_bytes())?;
    eprintln!(
        "`{selector}` is retired in {}: once built, applied and installed its record leaves DNS and its private key the mail host; then `mailops dkim purge {}` deletes the private key here",
        shown(dir, &tenant_path),
        name.ascii
    );
    Ok(EXIT_OK)
}

/// One key in `mailops dkim status`.
#[derive(Debug, Serialize)]
struct KeyStatus {
    domain: String,
    selector: String,
    algorithm: String,
    state: &'static str,
    published: Option<String>,
    age_seconds: Option<i64>,
    /// When the next step may be taken (a published key's promotion, a
    /// retiring key's retirement).
    due: Option<String>,
    next: String,
}

/// `mailops dkim status [DOMAIN]`: every key, its state, age and next step.
pub(crate) fn status(
    dir: &Path,
    domain: Option<&str>,
    format: DiagnosticFormat,
) -> Result<ExitCode> {
    let model = super::dns::compiled(dir, "no status")?;
    let domains: Vec<&Domain> = match domain {
        Some(domain) => {
            let name = domain_argument(domain)?;
            vec![tenant(&model, &name.ascii, &name.unicode)?]
        }
        None => model.domains.values().collect(),
    };
    let writer = KeyWriter::for_platform(dir, &model.platform, None)?;
    let now = utc_time::now();
    let rows: Vec<KeyStatus> = domains
        .iter()
        .flat_map(|d| d.dkim.iter().map(move |k| (*d, k)))
        .map(|(d, k)| key_status(d, k, now, writer.path(&d.name, &k.selector).exists()))
        .collect();
    match format {
        DiagnosticFormat::Json => {
            let text = serde_json::to_string_pretty(&rows)
                .map_err(|e| Error::operational(e.to_string()))?;
            println!("{text}");
        }
        DiagnosticFormat::Human => {
            for row in &rows {
                let since = match (&row.published, row.age_seconds) {
                    (Some(at), Some(age)) => {
                        format!(", published {at} ({} ago)", utc_time::human_duration(age))
                    }
                    _ => String::new(),
                };
                println!(
                    "{} {}: {}, {}{since}\n  next: {}",
                    row.domain, row.selector, row.algorithm, row.state, row.next
                );
            }
        }
    }
    Ok(EXIT_OK)
}

fn key_status(domain: &Domain, key: &Dkim, now: i64, private_key_here: bool) -> KeyStatus {
    let d = &domain.name;
    let s = &key.selector;
    let mut due = None;
    let next = match key.state {
        DkimState::Published => match key.published {
            Some(published) if promotable_at(domain, published) > now => {
                let at = promotable_at(domain, published);
                due = Some(utc_time::format(at));
                format!(
                    "wait {} (TTL + margin, until {}), then `mailops dkim promote {d} {s}`",
                    utc_time::human_duration(at - now),
                    utc_time::format(at)
                )
            }
            _ => format!("promote: `mailops dkim promote {d} {s}`"),
        },
        DkimState::Active => {
            match domain.dkim.iter().find(|k| {
                k.state == DkimState::Published && k.algorithm.tag() == key.algorithm.tag()
            }) {
                Some(next) => format!("replaced when `{}` is promoted", next.selector),
                None => format!("none (to replace it: `mailops dkim rotate {d}`)"),
            }
        }
        DkimState::Retiring => match key.retiring.map(retirable_at) {
            Some(at) if at > now => {
                due = Some(utc_time::format(at));
                format!(
                    "wait {} (a week after it stopped signing, until {}), then `mailops dkim retire {d} {s}`",
                    utc_time::human_duration(at - now),
                    utc_time::format(at)
                )
            }
            Some(_) => format!("retire: `mailops dkim retire {d} {s}`"),
            None => format!(
                "retire once mail signed with it has been delivered (about {} after it stopped signing; the file does not say when that was): `mailops dkim retire {d} {s}`",
                utc_time::human_duration(RETIRE_AFTER)
            ),
        },
        DkimState::Retired if private_key_here => {
            format!("purge its private key: `mailops dkim purge {d}`")
        }
        DkimState::Retired => "none".to_string(),
    };
    KeyStatus {
        domain: d.clone(),
        selector: s.clone(),
        algorithm: match key.algorithm {
            crate::model::DkimAlgorithm::Rsa { bits } => format!("rsa{bits}"),
            crate::model::DkimAlgorithm::Ed25519 => "ed25519".to_string(),
        },
        state: key.state.name(),
        published: key.published.map(utc_time::format),
        age_seconds: key.published.map(|p| now - p),
        due,
        next,
    }
}

/// `mailops dkim purge [DOMAIN]`: delete the private keys of retired keys
/// from the key store (or `keys/`). Only a regular file named for a key the
/// tenant file lists as retired is deleted, never through a link; a
/// plaintext key must be the private key of that public key.
pub(crate) fn purge(
    dir: &Path,
    domain: Option<&str>,
    key_dir: Option<PathBuf>,
) -> Result<ExitCode> {
    let model = super::dns::compiled(dir, "nothing purged")?;
    let domains: Vec<&Domain> = match domain {
        Some(domain) => {
            let name = domain_argument(domain)?;
            vec![tenant(&model, &name.ascii, &name.unicode)?]
        }
        None => model.domains.values().collect(),
    };
    let writer = KeyWriter::for_platform(dir, &model.platform, key_dir)?;
    let mut deleted = 0;
    for domain in domains {
        for key in domain.dkim.iter().filter(|k| k.state == DkimState::Retired) {
            let path = writer.path(&domain.name, &key.selector);
            let (Some(folder), Some(file)) = (path.parent(), path.file_name()) else {
                continue;
            };
            let folder = match open_folder(dir, folder) {
                Ok(folder) => folder,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err.into()),
            };
            let Some(stat) = folder.lstat(file)? else {
                continue;
            };
            let kind = rustix::fs::FileType::from_raw_mode(stat.st_mode);
            if kind != rustix::fs::FileType::RegularFile {
                return Err(Error::user(format!(
                    "{} is {}, not a regular file: left as it is (mailops never follows links)",
                    path.display(),
                    fsutil::describe(kind)
                )));
            }
            if let KeyWriter::Plain { .. } = writer {
                let pem = String::from_utf8(folder.read(Path::new(file))?).unwrap_or_default();
                if dkim_keys::public_key_of_private_pem(&pem).ok().as_deref()
                    != Some(key.public_key.as_str())
                {
                    return Err(Error::user(format!(
                        "{} is not the private key of the retired key `{}` of {}: left as it is",
                        path.display(),
                        key.selector,
                        domain.name
                    )));
                }
            }
            rustix::fs::unlinkat(folder.fd(), file, rustix::fs::AtFlags::empty())
                .map_err(|e| fsutil::with_path(e.into(), &path))?;
            deleted += 1;
            eprintln!(
                "deleted {} (retired key `{}`)",
                path.display(),
                key.selector
            );
        }
    }
    if deleted == 0 {
        eprintln!("no retired key has a private key left to delete");
    } else if matches!(writer, KeyWriter::Encrypted { .. }) {
        eprintln!("commit the deletion");
    }
    Ok(EXIT_OK)
}

/// The folder of a key file: beneath the repo without following a link
/// when it is inside it, else as named.
fn open_folder(repo: &Path, folder: &Path) -> std::io::Result<Beneath> {
    match folder.strip_prefix(repo) {
        Ok(relative) if relative.as_os_str().is_empty() => Beneath::open(repo),
        Ok(relative) => Beneath::open(repo)?.dir(relative),
        Err(_) => Beneath::open(folder),
    }
}

/// When a key published at `published` may be promoted.
fn promotable_at(domain: &Domain, published: i64) -> i64 {
    published + i64::from(domain.ttl) + PROMOTE_MARGIN
}

/// When a key that stopped signing at `stopped` may be retired.
fn retirable_at(stopped: i64) -> i64 {
    stopped + RETIRE_AFTER
}

/// `s20261130` (RSA) or `ed20261130` (Ed25519): today's date, with `-2`,
/// `-3`, … when the tenant file has that selector already.
fn fresh_selector(now: i64, algorithm: KeyAlgorithm, taken: &BTreeSet<&str>) -> String {
    let date: String = utc_time::format(now)[..10].replace('-', "");
    let prefix = if algorithm == KeyAlgorithm::Ed25519 {
        "ed"
    } else {
        "s"
    };
    let base = format!("{prefix}{date}");
    (1..)
        .map(|n| {
            if n == 1 {
                base.clone()
            } else {
                format!("{base}-{n}")
            }
        })
        .find(|s| !taken.contains(s.as_str()))
        .expect("an unused selector")
}

fn tenant<'m>(model: &'m Model, ascii: &str, unicode: &str) -> Result<&'m Domain> {
    model.domains.get(ascii).ok_or_else(|| {
        Error::user(format!(
            "no tenant `{unicode}`\nhelp: run `mailops new {unicode}` to make one"
        ))
    })
}

fn key<'d>(domain: &'d Domain, selector: &str) -> Result<&'d Dkim> {
    domain
        .dkim
        .iter()
        .find(|k| k.selector == selector)
        .ok_or_else(|| {
            let known: Vec<&str> = domain.dkim.iter().map(|k| k.selector.as_str()).collect();
            Error::user(format!(
                "{} has no DKIM key `{selector}`; its selectors: {}",
                domain.unicode,
                known.join(", ")
            ))
        })
}

fn shown(dir: &Path, path: &Path) -> String {
    path.strip_prefix(dir).unwrap_or(path).display().to_string()
}

/// Edit the `[dkim]` table or `[[dkim]]` entry of `selector` in place.
fn edit_entry(
    doc: &mut toml_edit::DocumentMut,
    selector: &str,
    default: &str,
    edit: impl FnOnce(&mut dyn toml_edit::TableLike),
) -> Result<()> {
    let is_it = |table: &dyn toml_edit::TableLike| {
        table
            .get("selector")
            .and_then(|s| s.as_str())
            .unwrap_or(default)
            == selector
    };
    let found: Option<&mut dyn toml_edit::TableLike> = match doc.get_mut("dkim") {
        Some(toml_edit::Item::ArrayOfTables(tables)) => tables
            .iter_mut()
            .find(|t| is_it(&**t))
            .map(|t| t as &mut dyn toml_edit::TableLike),
        Some(toml_edit::Item::Value(toml_edit::Value::Array(array))) => array
            .iter_mut()
            .filter_map(toml_edit::Value::as_inline_table_mut)
            .find(|t| is_it(&**t))
            .map(|t| t as &mut dyn toml_edit::TableLike),
        Some(item) => item.as_table_like_mut().filter(|t| is_it(&**t)),
        None => None,
    };
    match found {
        Some(table) => {
            edit(table);
            Ok(())
        }
        None => Err(Error::user(format!(
            "no DKIM key `{selector}` found in the tenant file to edit"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_selectors_are_dated_and_never_reused() {
        let now = utc_time::parse("2026-11-30T09:00:00Z").unwrap();
        let taken: BTreeSet<&str> = ["s20261130", "s20261130-2", "dkim"].into();
        assert_eq!(
            fresh_selector(now, KeyAlgorithm::Rsa2048, &taken),
            "s20261130-3"
        );
        assert_eq!(
            fresh_selector(now, KeyAlgorithm::Ed25519, &taken),
            "ed20261130"
        );
    }

    #[test]
    fn edit_entry_finds_the_key_in_every_shape_and_keeps_comments() {
        for text in [
            "[dkim] # the key\npublic_key = \"K\" # here\n",
            "[[dkim]]\nselector = \"a\"\npublic_key = \"A\"\n\n[[dkim]]\nselector = \"dkim\" # new\npublic_key = \"K\"\n",
            "dkim = { public_key = \"K\" }\n",
            "dkim = [{ selector = \"a\", public_key = \"A\" }, { public_key = \"K\" }]\n",
        ] {
            let mut doc: toml_edit::DocumentMut = text.parse().unwrap();
            edit_entry(&mut doc, "dkim", "dkim", |t| {
                set_value(t, "state", "retiring")
            })
            .unwrap();
            let out = doc.to_string();
            let parsed: toml::Table = toml::from_str(&out).unwrap();
            let keys = match &parsed["dkim"] {
                toml::Value::Array(a) => a.clone(),
                other => vec![other.clone()],
            };
            let ours = keys
                .iter()
                .find(|k| k.get("public_key").and_then(|v| v.as_str()) == Some("K"))
                .unwrap();
            assert_eq!(ours["state"].as_str(), Some("retiring"), "{out}");
            assert!(
                keys.iter()
                    .filter(|k| k.get("public_key").and_then(|v| v.as_str()) != Some("K"))
                    .all(|k| k.get("state").is_none()),
                "{out}"
            );
            for comment in ["# the key", "# here", "# new"] {
                assert_eq!(text.contains(comment), out.contains(comment), "{out}");
            }
            assert!(edit_entry(&mut doc, "nope", "dkim", |_| {}).is_err());
        }
    }
}
