//! `mailops dkim keygen`: a new key pair; private key to the key store (or, with
//! `[secrets]`, encrypted to `keys/`), public key into the tenant file (comments
//! and layout kept).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::keys::KeyWriter;
use crate::commands::selector::{self, check_companion_selector, check_selector};
use crate::commands::{EXIT_OK, Error, Result, domain_argument};
use crate::dkim_keys::{self, KeyAlgorithm};
use crate::fsutil;
use crate::load::TENANTS_DIR;
use crate::load::find_tenant_file;
use crate::pipeline;

pub(crate) fn keygen(
    dir: &Path,
    domain: &str,
    selector: Option<String>,
    algorithm: KeyAlgorithm,
    key_dir: Option<PathBuf>,
    force: bool,
) -> Result<ExitCode> {
    let name = domain_argument(domain)?;
    let compiled = pipeline::compile(dir)?;
    let platform = &compiled.model.platform;
    let (tenant_path, mut doc) = tenant_document(dir, &name)?;
    let entries = dkim_entries(&doc, &tenant_path)?;
    let selector = match (selector, entries.as_slice()) {
        (Some(s), _) => s,
        (None, []) => platform.defaults.dkim_selector.clone(),
        (None, [one]) => one
            .selector
            .clone()
            .unwrap_or_else(|| platform.defaults.dkim_selector.clone()),
        (None, several) => {
            return Err(Error::user(format!(
                "{} has {} DKIM keys; pass --selector with the one to replace, or a new one to add",
                name.unicode,
                several.len()
            )));
        }
    };
    check_selector(&selector)?;
    let default = &platform.defaults.dkim_selector;
    // An Ed25519 key never stands alone (ARC and many receivers need RSA):
    // when no other key of the tenant is RSA, an RSA key is made beside it.
    let companion = (algorithm == KeyAlgorithm::Ed25519
        && !entries
            .iter()
            .any(|e| e.is_rsa && e.selector_or(default) != selector))
    .then(|| format!("{selector}-rsa"));
    if let Some(rsa) = &companion {
        check_companion_selector(rsa)?;
    }

    let writer = KeyWriter::for_platform(dir, platform, key_dir)?;
    let mut planned = vec![(selector.clone(), algorithm)];
    if let Some(rsa) = &companion {
        planned.push((rsa.clone(), KeyAlgorithm::Rsa2048));
    }
    for (selector, _) in &planned {
        selector::key_file_name_fits(&name.ascii, selector)?;
        let key_path = writer.path(&name.ascii, selector);
        if std::fs::symlink_metadata(&key_path).is_ok() && !force {
            return Err(Error::user(format!(
                "{} already exists; pass --force to replace it (the old key stops signing once DNS is updated)",
                key_path.display()
            )));
        }
    }
    let mut made = Vec::new();
    for (selector, algorithm) in &planned {
        let pair = dkim_keys::generate(*algorithm)?;
        set_key(&mut doc, selector, default, &pair.public_base64);
        // Encrypted in memory with `[secrets]`: the plaintext is never written.
        let contents = writer.contents(&pair)?;
        made.push((writer.path(&name.ascii, selector), contents));
    }

    // Not through a link in the repo (`fsutil::Beneath`).
    for (key_path, _) in &made {
        writer.prepare(dir, key_path)?;
    }
    fsutil::dirs_in_repo(dir, &tenant_path, None)?;
    let mut written: Vec<PathBuf> = Vec::new();
    for (key_path, contents) in &made {
        if let Err(err) = writer.write(key_path, contents) {
            for path in &written {
                let _ = std::fs::remove_file(path);
            }
            return Err(err.into());
        }
        written.push(key_path.clone());
    }
    if let Err(err) = fsutil::write_atomic(&tenant_path, doc.to_string().as_bytes()) {
        for path in &written {
            let _ = std::fs::remove_file(path);
        }
        return Err(err.into());
    }
    let shown = tenant_path
        .strip_prefix(dir)
        .unwrap_or(&tenant_path)
        .display()
        .to_string();
    for ((key_path, _), (selector, _)) in made.iter().zip(&planned) {
        eprintln!("{}", writer.wrote(key_path));
        eprintln!("wrote public key to {shown} (selector `{selector}`)");
    }
    if let Some(rsa) = &companion {
        eprintln!(
            "an Ed25519 key needs an RSA key beside it (ARC seals with RSA, and many receivers verify only RSA): made one under selector `{rsa}`; mail is signed with both"
        );
    }
    Ok(EXIT_OK)
}

/// The tenant file of `name` and its TOML, read without following a link
/// (see `fsutil::Beneath`), to edit keeping comments and layout.
pub(super) fn tenant_document(
    dir: &Path,
    name: &crate::validate::domain::DomainName,
) -> Result<(PathBuf, toml_edit::DocumentMut)> {
    let Some(tenant_path) = find_tenant_file(dir, &name.ascii, &name.unicode) else {
        return Err(Error::user(format!(
            "no tenant file for `{}` in {TENANTS_DIR}/\nhelp: run `mailops new {}` to make one with a key",
            name.unicode, name.unicode
        )));
    };
    let relative = tenant_path.strip_prefix(dir).unwrap_or(&tenant_path);
    let text = String::from_utf8(crate::fsutil::read_beneath(dir, relative)?)
        .map_err(|_| Error::user(format!("{} is not UTF-8 text", tenant_path.display())))?;
    let doc: toml_edit::DocumentMut = text.parse().map_err(|err| {
        Error::user(format!(
            "{} is not valid TOML; run `mailops validate` to see why\n{err}",
            tenant_path.display()
        ))
    })?;
    Ok((tenant_path, doc))
}

/// One key as the tenant file has it.
struct Entry {
    selector: Option<String>,
    is_rsa: bool,
}

impl Entry {
    fn selector_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.selector.as_deref().unwrap_or(default)
    }
}

/// The `[dkim]` table or `[[dkim]]` entries of the tenant file at `path`.
fn dkim_entries(doc: &toml_edit::DocumentMut, path: &Path) -> Result<Vec<Entry>> {
    let entry = |table: &dyn toml_edit::TableLike| Entry {
        selector: table
            .get("selector")
            .and_then(|s| s.as_str())
            .map(str::to_string),
        is_rsa: table
            .get("public_key")
            .and_then(|k| k.as_str())
            .and_then(|k| crate::validate::dkim::parse_public_key(k).ok())
            .is_some_and(|k| matches!(k.algorithm, crate::model::DkimAlgorithm::Rsa { .. })),
    };
    match doc.get("dkim") {
        None => Ok(Vec::new()),
        Some(toml_edit::Item::ArrayOfTables(tables)) => {
            Ok(tables.iter().map(|t| entry(t)).collect())
        }
        Some(item) => match item.as_table_like() {
            Some(table) => Ok(vec![entry(table)]),
            None => Err(Error::user(format!(
                "`dkim` is neither a table nor an array of tables in {}",
                path.display()
            ))),
        },
    }
}

/// Write `public_key` into the entry with `selector`, or add an entry:
/// `[dkim]` becomes `[[dkim]]` when a second key is added.
pub(super) fn set_key(
    doc: &mut toml_edit::DocumentMut,
    selector: &str,
    default: &str,
    public_key: &str,
) {
    let matches = |table: &dyn toml_edit::TableLike| {
        table
            .get("selector")
            .and_then(|s| s.as_str())
            .unwrap_or(default)
            == selector
    };
    let mut fresh = toml_edit::Table::new();
    fresh.insert("selector", toml_edit::value(selector));
    fresh.insert("public_key", toml_edit::value(public_key));
    match doc.get_mut("dkim") {
        None => {
            doc.insert("dkim", toml_edit::Item::Table(fresh));
        }
        Some(toml_edit::Item::ArrayOfTables(tables)) => {
            if let Some(table) = tables.iter_mut().find(|t| matches(*t)) {
                write_selector_and_key(table, selector, public_key);
            } else {
                let position = tables.iter().filter_map(toml_edit::Table::position).max();
                fresh.set_position(position);
                tables.push(fresh);
            }
        }
        Some(item) => {
            if let Some(table) = item.as_table_like_mut() {
                if matches(table) {
                    write_selector_and_key(table, selector, public_key);
                    return;
                }
            }
            let Some(old) = item.as_table().cloned() else {
                // An inline table: keep it as the first entry.
                let old = item
                    .as_inline_table()
                    .cloned()
                    .unwrap_or_default()
                    .into_table();
                let mut tables = toml_edit::ArrayOfTables::new();
                tables.push(old);
                tables.push(fresh);
                *item = toml_edit::Item::ArrayOfTables(tables);
                return;
            };
            fresh.set_position(old.position());
            let mut tables = toml_edit::ArrayOfTables::new();
            tables.push(old);
            tables.push(fresh);
            *item = toml_edit::Item::ArrayOfTables(tables);
        }
    }
}

fn write_selector_and_key(table: &mut dyn toml_edit::TableLike, selector: &str, public_key: &str) {
    if let Some(s) = &selector_to_write(selector, table.get("selector").and_then(|s| s.as_str())) {
        set_value(table, "selector", s);
    }
    set_value(table, "public_key", public_key);
}

fn selector_to_write(selector: &str, current: Option<&str>) -> Option<String> {
    (current != Some(selector)).then(|| selector.to_string())
}

/// Set a key keeping its decoration (comments) when it exists already.
pub(super) fn set_value(table: &mut dyn toml_edit::TableLike, key: &str, value: &str) {
    match table.get_mut(key).and_then(|item| item.as_value_mut()) {
        Some(existing) => {
            let decor = existing.decor().clone();
            *existing = toml_edit::Value::from(value);
            *existing.decor_mut() = decor;
        }
        None => {
            table.insert(key, toml_edit::value(value));
        }
    }
}
