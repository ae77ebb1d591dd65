//! SQL emitter: `generated/sql/mysql.sql` and `generated/sql/sqlite.sql`.
//!
//! Both files hold the whole declared state as idempotent upserts followed by
//! the deletes of rows no tenant declares, so running either twice leaves the
//! same rows. They are written tenant by tenant, one statement per row, so that
//! adding a tenant adds only lines about it and changing one changes only its
//! lines. Each tenant's block is in dependency order (its domain, then its
//! mailboxes, then its aliases); aliases have no foreign key to their
//! destinations, so blocks in domain order respect every constraint of the
//! migrations. Values are escaped by `sql_literal`, through the `sql_mysql` and
//! `sql_sqlite` filters.

use serde::Serialize;

use crate::emit::{Artifacts, engine, header, render};
use crate::model::{Domain, Model};

const TEMPLATES: &[(&str, &str)] = &[
    ("mysql.sql", include_str!("templates/sql/mysql.sql")),
    ("sqlite.sql", include_str!("templates/sql/sqlite.sql")),
];

#[derive(Serialize)]
struct Tenant<'m> {
    name: &'m str,
    file: &'m str,
    mailboxes: Vec<Mailbox<'m>>,
    aliases: Vec<AliasRow<'m>>,
}

#[derive(Serialize)]
struct Mailbox<'m> {
    email: &'m str,
    password: &'m str,
    quota_bytes: u64,
    name: Option<&'m str>,
}

#[derive(Serialize)]
struct AliasRow<'m> {
    source: &'m str,
    destination: &'m str,
}

fn tenant(domain: &Domain) -> Tenant<'_> {
    Tenant {
        name: &domain.name,
        file: &domain.file,
        mailboxes: domain
            .mailboxes
            .values()
            .map(|m| Mailbox {
                email: &m.address,
                password: &m.password,
                quota_bytes: m.quota_bytes,
                name: m.name.as_deref(),
            })
            .collect(),
        aliases: domain
            .aliases
            .values()
            .flat_map(|a| {
                a.destinations.iter().map(|d| AliasRow {
                    source: &a.source,
                    destination: &d.address,
                })
            })
            .collect(),
    }
}

/// Add `sql/mysql.sql` and `sql/sqlite.sql`.
pub(crate) fn emit(model: &Model, out: &mut Artifacts) {
    let tera = engine(TEMPLATES);
    let tenants: Vec<Tenant> = model.domains.values().map(tenant).collect();
    let mut context = tera::Context::new();
    context.insert("header", &header::header("--", "mailops.toml and tenants/"));
    context.insert("tenants", &tenants);
    for (name, _) in TEMPLATES {
        out.add(format!("sql/{name}"), render(&tera, name, &context));
    }
}
