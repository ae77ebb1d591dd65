//! `mailops dkim keygen`: a new key pair; private key to the key store, public key
//! into the tenant file (comments and layout kept).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::commands::{EXIT_OK, EXIT_USER, Error, Result, domain_argument};
use crate::dkim_keys::{self, KeyAlgorithm};
use crate::fsutil;
use crate::keystore::key_file_name;
use crate::load::TENANTS_DIR;
use crate::pipeline;
use crate::validate::records::is_selector;

pub(crate) fn keygen(
    dir: &Path,
    domain: &str,
    selector: Option<String>,
    algorithm: KeyAlgorithm,
    key_dir: Option<PathBuf>,
    force: bool,
) -> Result<ExitCode> {
    let Some(name) = domain_argument(domain) else {
        return Ok(EXIT_USER);
    };
    let compiled = pipeline::compile(dir)?;
    let platform = &compiled.model.platform;
    let Some(tenant_path) = find_tenant_file(dir, &name.ascii, &name.unicode) else {
        eprintln!(
            "error: no tenant file for `{}` in {TENANTS_DIR}/\nhelp: run `mailops new {}` to make one with a key",
            name.unicode, name.unicode
        );
        return Ok(EXIT_USER);
    };
    // Never through a link (see `fsutil::Beneath`).
    let relative = tenant_path.strip_prefix(dir).unwrap_or(&tenant_path);
    let text = String::from_utf8(crate::fsutil::read_beneath(dir, relative)?)
        .map_err(|_| Error(format!("{} is not UTF-8 text", tenant_path.display())))?;
    let mut doc: toml_edit::DocumentMut = match text.parse() {
        Ok(doc) => doc,
        Err(err) => {
            eprintln!(
                "error: {} is not valid TOML; run `mailops validate` to see why\n{err}",
                tenant_path.display()
            );
            return Ok(EXIT_USER);
        }
    };
    let existing = doc
        .get("dkim")
        .and_then(|d| d.get("selector"))
        .and_then(|s| s.as_str())
        .map(str::to_string);
    let selector = selector
        .clone()
        .or(existing)
        .unwrap_or_else(|| platform.defaults.dkim_selector.clone());
    if !is_selector(&selector) {
        eprintln!(
            "error: `{selector}` is not a valid DKIM selector (lowercase letters, digits, hyphens)"
        );
        return Ok(EXIT_USER);
    }

    let key_dir = key_dir.unwrap_or_else(|| dir.join(&platform.paths.key_store));
    let key_path = key_dir.join(key_file_name(&name.ascii, &selector));
    if key_path.exists() && !force {
        eprintln!(
            "error: {} already exists; pass --force to replace it (the old key stops signing once DNS is updated)",
            key_path.display()
        );
        return Ok(EXIT_USER);
    }

    let pair = dkim_keys::generate(algorithm).map_err(Error)?;
    let dkim = doc
        .entry("dkim")
        .or_insert(toml_edit::Item::Table(toml_edit::Table::new()));
    let Some(table) = dkim.as_table_like_mut() else {
        eprintln!("error: `dkim` in {} is not a table", tenant_path.display());
        return Ok(EXIT_USER);
    };
    if let Some(s) = &selector_to_write(&selector, table.get("selector").and_then(|s| s.as_str())) {
        set_value(table, "selector", s);
    }
    set_value(table, "public_key", &pair.public_base64);

    // Not through a link in the repo (`fsutil::Beneath`).
    fsutil::dirs_in_repo(dir, &key_path, Some(0o700))?;
    fsutil::dirs_in_repo(dir, &tenant_path, None)?;
    fsutil::write_private(&key_path, pair.private_pem.as_bytes())?;
    if let Err(err) = fsutil::write_atomic(&tenant_path, doc.to_string().as_bytes()) {
        let _ = std::fs::remove_file(&key_path);
        return Err(err.into());
    }
    eprintln!(
        "wrote private key {} (mode 0600; never commit it)",
        key_path.display()
    );
    eprintln!(
        "wrote public key to {} (selector `{selector}`)",
        tenant_path
            .strip_prefix(dir)
            .unwrap_or(&tenant_path)
            .display()
    );
    Ok(EXIT_OK)
}

fn selector_to_write(selector: &str, current: Option<&str>) -> Option<String> {
    (current != Some(selector)).then(|| selector.to_string())
}

/// Set a key keeping its decoration (comments) when it exists already.
fn set_value(table: &mut dyn toml_edit::TableLike, key: &str, value: &str) {
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

/// `tenants/<domain>.toml` by A-label or Unicode name.
pub(crate) fn find_tenant_file(dir: &Path, ascii: &str, unicode: &str) -> Option<PathBuf> {
    [ascii, unicode]
        .iter()
        .map(|name| dir.join(TENANTS_DIR).join(format!("{name}.toml")))
        .find(|p| p.is_file())
}
