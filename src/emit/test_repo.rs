//! Test support: a mail repo in a temporary directory, compiled by the real
//! front half of the pipeline, so emitter tests read the model a user gets.

use std::fmt::Write as _;
use std::path::Path;

use crate::emit::{self, Artifacts};
use crate::model::Model;
use crate::pipeline;

/// A valid RSA-2048 SPKI (the example tenant's).
pub(crate) const PUBLIC_KEY: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0YgwsRQjcqJNN9FVl8Y0mE6aGTBWNdKW1hEPCAsA8JGiG/UbUFRh/GWsuXGdAnK+YMqJoM/NY8G8chtiNMofGUfBDvT1NqJlhxI8MvbbsVPbkHq5KR/vOOQKahX4+m6Zigd1kLAAhX3EGyoEf/om/mFlWY4Jol3r5tRyF73wXdwn0hdb+i6YXwYDMtufJ+NVIOKNfFTM07wJb3j7E4lf/KdBkBIR7q7EanykJLk0TwTklI8qLk4Nxhri4Nrdnw3KINCScmSVaMKuBLk0gET0CraGH/uhcS6Y4GZat/9bTmE7DeQo9yeaExf/H+BKrn0YuVOg1fTp/OHr35psyGU0wwIDAQAB";

/// A valid Ed25519 SPKI.
pub(crate) const ED25519_PUBLIC_KEY: &str =
    "MCowBQYDK2VwAyEAv8POTZ9N5ZyR4KFkbI8n6DdbL1WhwNR3gGguseHoLRw=";

/// `tenant(…)` with an Ed25519 key under `selector` and, as validation
/// requires, an RSA key beside it under `<selector>-rsa`: `[[dkim]]` entries.
pub(crate) fn dual_key_tenant(domain: &str, selector: &str) -> String {
    tenant(domain, selector, 0, "Dual", "").replacen(
        &format!("[dkim]\nselector = \"{selector}\"\npublic_key = \"{PUBLIC_KEY}\"\n"),
        &format!(
            "[[dkim]]\nselector = \"{selector}\"\npublic_key = \"{ED25519_PUBLIC_KEY}\"\n\n[[dkim]]\nselector = \"{selector}-rsa\"\npublic_key = \"{PUBLIC_KEY}\"\n"
        ),
        1,
    )
}

/// `mailops hash-password` of "correct horse battery".
pub(crate) const PASSWORD_HASH: &str = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$1ywpjUNsp+Z1KMU1c7bA3g$D9s1X4GSffRVnzY8PKWl1q7ZphnO1WWVju3h/0WQxHc";

/// The reference platform file, with `extra` lines appended to `[database]`.
pub(crate) fn platform(database_extra: &str) -> String {
    format!(
        "[mail_host]\n\
         hostname = \"mx.webhizzy.in\"\n\
         admin_email = \"postmaster@webhizzy.in\"\n\
         \n\
         [database]\n\
         {database_extra}\n\
         name = \"mailserver\"\n\
         user = \"mailuser\"\n\
         \n\
         [defaults]\n\
         dkim_selector = \"dkim\"\n"
    )
}

/// A tenant with the RFC 2142 aliases, `mailboxes` mailboxes and an alias
/// over all of them. `description` and the mailbox names are TOML basic
/// strings (already escaped).
pub(crate) fn tenant(
    domain: &str,
    selector: &str,
    mailboxes: usize,
    description: &str,
    name: &str,
) -> String {
    let mut text = format!(
        "domain = \"{domain}\"\ndescription = \"{description}\"\n\n[dkim]\nselector = \"{selector}\"\npublic_key = \"{PUBLIC_KEY}\"\n"
    );
    for i in 0..mailboxes {
        let _ = write!(
            text,
            "\n[[mailbox]]\nuser = \"user{i}\"\nname = \"{name}\"\npassword = \"{PASSWORD_HASH}\"\n"
        );
    }
    let everyone: Vec<String> = (0..mailboxes).map(|i| format!("\"user{i}\"")).collect();
    let admin = if mailboxes > 0 {
        "\"user0\"".to_string()
    } else {
        "\"ops@elsewhere.example\"".to_string()
    };
    let _ = write!(
        text,
        "\n[[alias]]\naddress = \"postmaster\"\nto = [{admin}]\n\n[[alias]]\naddress = \"abuse\"\nto = [{admin}]\n"
    );
    if !everyone.is_empty() {
        let _ = write!(
            text,
            "\n[[alias]]\naddress = \"team\"\nto = [{}]\n",
            everyone.join(", ")
        );
    }
    text
}

/// Write a repo and compile it; panics on any diagnostic error.
/// A relay tenant: no mailboxes, this `[relay]` table.
pub(crate) fn relay_tenant(domain: &str, relay: &str) -> String {
    format!("domain = \"{domain}\"\n[dkim]\npublic_key = \"{PUBLIC_KEY}\"\n[relay]\n{relay}")
}

pub(crate) fn compile(platform: &str, tenants: &[(&str, String)]) -> Model {
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), platform, tenants);
    let compiled = pipeline::compile(dir.path()).unwrap();
    assert!(
        !compiled.has_errors(),
        "test repo does not validate: {:#?}",
        compiled.diagnostics
    );
    compiled.model
}

/// Write a repo and compile it, whatever its diagnostics: the model as the
/// front half built it.
pub(crate) fn compile_unchecked(platform: &str, tenants: &[(&str, String)]) -> Model {
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), platform, tenants);
    pipeline::compile(dir.path()).unwrap().model
}

fn write_repo(root: &Path, platform: &str, tenants: &[(&str, String)]) {
    std::fs::write(root.join("mailops.toml"), platform).unwrap();
    std::fs::create_dir_all(root.join("tenants")).unwrap();
    for (domain, text) in tenants {
        std::fs::write(root.join("tenants").join(format!("{domain}.toml")), text).unwrap();
    }
}

/// Every artifact of a repo.
pub(crate) fn emit(platform: &str, tenants: &[(&str, String)]) -> Artifacts {
    let dir = tempfile::tempdir().unwrap();
    write_repo(dir.path(), platform, tenants);
    let compiled = pipeline::compile(dir.path()).unwrap();
    assert!(
        !compiled.has_errors(),
        "test repo does not validate: {:#?}",
        compiled.diagnostics
    );
    emit::emit(&compiled.model)
}
