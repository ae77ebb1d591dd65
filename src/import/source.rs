//! Reading the source database: which layout it has, which of the column
//! names that vary between tutorials it uses, and its rows.
//!
//! The database is opened read-only (SQLite `mode=ro`; MySQL inside a
//! `READ ONLY` transaction that is rolled back), and only SELECTs run. Table
//! and column names in the SELECTs come from the fixed candidate lists below
//! (matched against what the catalogue lists), never from the database's
//! text; values are never interpolated.

use std::collections::BTreeMap;

use crate::db::connection::{Conn, DbError, Dialect, failed, on_conn};
use crate::import::{From, Source, SrcAlias, SrcAliasDomain, SrcDomain, SrcUser};

/// Tables and their columns (lowercase), as the catalogue lists them.
pub(crate) type Catalogue = BTreeMap<String, Vec<String>>;

/// The columns chosen for each role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layout {
    Tutorial(Tutorial),
    Postfixadmin(Postfixadmin),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tutorial {
    pub(crate) domain_name: &'static str,
    pub(crate) user_email: &'static str,
    pub(crate) user_password: &'static str,
    pub(crate) user_quota: Option<&'static str>,
    pub(crate) user_name: Option<&'static str>,
    /// mailops's own `state` column (a database mailops already manages).
    pub(crate) user_state: Option<&'static str>,
    pub(crate) alias_source: &'static str,
    pub(crate) alias_destination: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Postfixadmin {
    pub(crate) has_alias_domain: bool,
    pub(crate) domain_description: bool,
    pub(crate) mailbox_name: bool,
    /// `domain.mailboxes` and `domain.maxquota` (MB) are there.
    pub(crate) domain_limits: bool,
    /// `domain.backupmx` (1: a domain this server is the backup MX of).
    pub(crate) domain_backupmx: bool,
    /// `domain.transport` (`relay:[host]` or `smtp:[host]`: mail relayed elsewhere).
    pub(crate) domain_transport: bool,
}

/// PostfixAdmin's "MB" (`$CONF['quota_multiplier']`, 1024000 by default).
const POSTFIXADMIN_MB: i64 = 1_024_000;

const TUTORIAL_TABLES: [&str; 3] = ["virtual_domains", "virtual_users", "virtual_aliases"];
const POSTFIXADMIN_TABLES: [&str; 3] = ["domain", "mailbox", "alias"];

/// The first of `candidates` the table has.
fn pick(catalogue: &Catalogue, table: &str, candidates: &[&'static str]) -> Option<&'static str> {
    let columns = catalogue.get(table)?;
    candidates
        .iter()
        .copied()
        .find(|c| columns.iter().any(|have| have == c))
}

fn require(
    catalogue: &Catalogue,
    table: &str,
    role: &str,
    candidates: &[&'static str],
) -> Result<&'static str, String> {
    pick(catalogue, table, candidates).ok_or_else(|| {
        format!(
            "table {table} has no {role} column (looked for {}; it has {})",
            candidates.join(", "),
            catalogue
                .get(table)
                .map_or_else(String::new, |c| c.join(", "))
        )
    })
}

/// Decide the layout from the catalogue; an unknown layout is refused with
/// what was found.
pub(crate) fn detect(from: From, catalogue: &Catalogue) -> Result<Layout, String> {
    let has_all = |tables: &[&str]| tables.iter().all(|t| catalogue.contains_key(*t));
    let from = match from {
        From::Auto if has_all(&TUTORIAL_TABLES) => From::Tutorial,
        From::Auto if has_all(&POSTFIXADMIN_TABLES) => From::Postfixadmin,
        From::Auto => {
            return Err(format!(
                "unknown layout: neither the tutorial tables ({}) nor PostfixAdmin's ({}) are all there; \
                 the database has {}",
                TUTORIAL_TABLES.join(", "),
                POSTFIXADMIN_TABLES.join(", "),
                if catalogue.is_empty() {
                    "no tables".to_string()
                } else {
                    catalogue.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ));
        }
        other => other,
    };
    let missing = |tables: &[&str]| -> Vec<String> {
        tables
            .iter()
            .filter(|t| !catalogue.contains_key(**t))
            .map(|t| t.to_string())
            .collect()
    };
    match from {
        From::Tutorial | From::Auto => {
            let absent = missing(&TUTORIAL_TABLES);
            if !absent.is_empty() {
                return Err(format!(
                    "not the tutorial layout: table(s) {} missing",
                    absent.join(", ")
                ));
            }
            for (table, column) in [
                ("virtual_domains", "id"),
                ("virtual_users", "domain_id"),
                ("virtual_aliases", "domain_id"),
            ] {
                require(catalogue, table, column, &[column])?;
            }
            Ok(Layout::Tutorial(Tutorial {
                domain_name: require(catalogue, "virtual_domains", "name", &["name", "domain"])?,
                user_email: require(
                    catalogue,
                    "virtual_users",
                    "address",
                    &["email", "username", "user"],
                )?,
                user_password: require(
                    catalogue,
                    "virtual_users",
                    "password",
                    &["password", "pass", "crypt"],
                )?,
                user_quota: pick(catalogue, "virtual_users", &["quota_bytes", "quota"]),
                user_name: pick(catalogue, "virtual_users", &["name", "full_name"]),
                user_state: pick(catalogue, "virtual_users", &["state"]),
                alias_source: require(
                    catalogue,
                    "virtual_aliases",
                    "source",
                    &["source", "alias"],
                )?,
                alias_destination: require(
                    catalogue,
                    "virtual_aliases",
                    "destination",
                    &["destination", "target", "goto"],
                )?,
            }))
        }
        From::Postfixadmin => {
            let absent = missing(&POSTFIXADMIN_TABLES);
            if !absent.is_empty() {
                return Err(format!(
                    "not PostfixAdmin's layout: table(s) {} missing",
                    absent.join(", ")
                ));
            }
            for (table, columns) in [
                ("domain", &["domain", "active"][..]),
                (
                    "mailbox",
                    &["username", "password", "domain", "quota", "active"][..],
                ),
                ("alias", &["address", "goto", "domain", "active"][..]),
            ] {
                for column in columns {
                    require(catalogue, table, column, &[column])?;
                }
            }
            Ok(Layout::Postfixadmin(Postfixadmin {
                has_alias_domain: catalogue.contains_key("alias_domain"),
                domain_description: pick(catalogue, "domain", &["description"]).is_some(),
                mailbox_name: pick(catalogue, "mailbox", &["name"]).is_some(),
                domain_limits: pick(catalogue, "domain", &["mailboxes"]).is_some()
                    && pick(catalogue, "domain", &["maxquota"]).is_some(),
                domain_backupmx: pick(catalogue, "domain", &["backupmx"]).is_some(),
                domain_transport: pick(catalogue, "domain", &["transport"]).is_some(),
            }))
        }
    }
}

/// Lines for the report: the layout and the columns used.
pub(crate) fn describe(layout: &Layout) -> Vec<String> {
    match layout {
        Layout::Tutorial(t) => vec![
            format!("virtual_domains(id, {})", t.domain_name),
            format!(
                "virtual_users(id, domain_id, {}, {}{}{}{})",
                t.user_email,
                t.user_password,
                t.user_quota
                    .map_or(String::new(), |q| format!(", {q} [bytes]")),
                t.user_name.map_or(String::new(), |n| format!(", {n}")),
                t.user_state.map_or(String::new(), |s| format!(", {s}")),
            ),
            format!(
                "virtual_aliases(id, domain_id, {}, {})",
                t.alias_source, t.alias_destination
            ),
        ],
        Layout::Postfixadmin(p) => vec![
            format!(
                "domain(domain{}{}{}{}, active)",
                if p.domain_description {
                    ", description"
                } else {
                    ""
                },
                if p.domain_limits {
                    ", mailboxes, maxquota [MB of 1,024,000 bytes]"
                } else {
                    ""
                },
                if p.domain_backupmx { ", backupmx" } else { "" },
                if p.domain_transport {
                    ", transport"
                } else {
                    ""
                },
            ),
            format!(
                "mailbox(username, password{}, quota [bytes], domain, active)",
                if p.mailbox_name { ", name" } else { "" }
            ),
            "alias(address, goto [comma list], domain, active)".to_string(),
            if p.has_alias_domain {
                "alias_domain(alias_domain, target_domain, active)".to_string()
            } else {
                "no alias_domain table".to_string()
            },
        ],
    }
}

/// The tables and their columns.
pub(crate) async fn catalogue(conn: &mut Conn) -> Result<Catalogue, DbError> {
    let reading = failed("listing the tables");
    let pairs: Vec<(String, String)> = match conn {
        Conn::Mysql(c) => sqlx::query_as(
            "SELECT CAST(LOWER(table_name) AS CHAR), CAST(LOWER(column_name) AS CHAR) \
             FROM information_schema.columns WHERE table_schema = DATABASE() \
             ORDER BY table_name, ordinal_position",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(&reading)?,
        Conn::Sqlite(c) => sqlx::query_as(
            "SELECT LOWER(m.name), LOWER(p.name) FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.cid",
        )
        .fetch_all(&mut *c)
        .await
        .map_err(&reading)?,
    };
    let mut catalogue = Catalogue::new();
    for (table, column) in pairs {
        catalogue.entry(table).or_default().push(column);
    }
    Ok(catalogue)
}

struct Words {
    int: &'static str,
    text: &'static str,
}

fn words(dialect: Dialect) -> Words {
    match dialect {
        Dialect::Mysql => Words {
            int: "SIGNED",
            text: "CHAR",
        },
        Dialect::Sqlite => Words {
            int: "INTEGER",
            text: "TEXT",
        },
    }
}

type Row7 = (
    i64,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<String>,
    Option<String>,
);

async fn fetch7(conn: &mut Conn, sql: String, what: &str) -> Result<Vec<Row7>, DbError> {
    let reading = failed(what);
    on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await.map_err(&reading))
}

/// Read every row the layout maps, in id (or key) order.
pub(crate) async fn read(conn: &mut Conn, layout: &Layout) -> Result<Source, DbError> {
    if conn.dialect() == Dialect::Mysql {
        conn.execute_raw("START TRANSACTION READ ONLY").await?;
    }
    let result = read_rows(conn, layout).await;
    if conn.dialect() == Dialect::Mysql {
        conn.execute_raw("ROLLBACK").await?;
    }
    let mut source = result?;
    source.detected = describe(layout);
    Ok(source)
}

async fn read_rows(conn: &mut Conn, layout: &Layout) -> Result<Source, DbError> {
    let Words { int, text } = words(conn.dialect());
    let t = |column: &str| format!("CAST({column} AS {text})");
    let yes = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim() != "0");
    match layout {
        Layout::Tutorial(cols) => {
            let sql = format!(
                "SELECT CAST(id AS {int}), {}, NULL, NULL, NULL, NULL, NULL FROM virtual_domains ORDER BY id",
                t(cols.domain_name)
            );
            let rows = fetch7(conn, sql, "reading virtual_domains").await?;
            let mut names = BTreeMap::new();
            let mut domains = Vec::new();
            for (id, name, ..) in rows {
                let name = name.unwrap_or_default();
                names.insert(id, name.clone());
                domains.push(SrcDomain {
                    row: format!("virtual_domains id {id}"),
                    name,
                    description: None,
                    active: true,
                    relay: None,
                    max_mailboxes: None,
                    max_quota_bytes: None,
                });
            }
            let quota = cols
                .user_quota
                .map_or("NULL".to_string(), |q| format!("CAST(u.{q} AS {int})"));
            let name = cols
                .user_name
                .map_or("NULL".to_string(), |n| t(&format!("u.{n}")));
            let state = cols
                .user_state
                .map_or("NULL".to_string(), |s| t(&format!("u.{s}")));
            let sql = format!(
                "SELECT CAST(u.id AS {int}), {}, {}, {}, {quota}, {name}, {state}, CAST(u.domain_id AS {int}) \
                 FROM virtual_users u ORDER BY u.id",
                t(&format!("u.{}", cols.user_email)),
                t(&format!("u.{}", cols.user_password)),
                "NULL"
            );
            // Eight columns: read the domain id separately from Row7.
            let reading = failed("reading virtual_users");
            type UserCols = (
                i64,
                Option<String>,
                Option<String>,
                Option<String>,
                Option<i64>,
                Option<String>,
                Option<String>,
                Option<i64>,
            );
            let rows: Vec<UserCols> = on_conn!(conn, c => sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_all(&mut *c).await.map_err(&reading))?;
            let users = rows
                .into_iter()
                .map(
                    |(id, email, password, _, quota, name, state, domain_id)| SrcUser {
                        row: format!("virtual_users id {id}"),
                        domain: domain_id.and_then(|d| names.get(&d).cloned()),
                        email: email.unwrap_or_default(),
                        password: password.unwrap_or_default(),
                        quota_bytes: quota,
                        name,
                        active: state.as_deref().is_none_or(|s| s == "active"),
                    },
                )
                .collect();
            let sql = format!(
                "SELECT CAST(id AS {int}), {}, {}, NULL, CAST(domain_id AS {int}), NULL, NULL \
                 FROM virtual_aliases ORDER BY id",
                t(cols.alias_source),
                t(cols.alias_destination)
            );
            let aliases = fetch7(conn, sql, "reading virtual_aliases")
                .await?
                .into_iter()
                .map(|(id, source, destination, _, domain_id, ..)| SrcAlias {
                    row: format!("virtual_aliases id {id}"),
                    domain: domain_id.and_then(|d| names.get(&d).cloned()),
                    source: source.unwrap_or_default(),
                    destination: destination.unwrap_or_default(),
                    active: true,
                })
                .collect();
            Ok(Source {
                layout: "tutorial",
                detected: Vec::new(),
                domains,
                users,
                aliases,
                alias_domains: Vec::new(),
            })
        }
        Layout::Postfixadmin(p) => {
            let description = if p.domain_description {
                t("description")
            } else {
                "NULL".to_string()
            };
            let (mailboxes, maxquota) = if p.domain_limits {
                (format!("CAST(mailboxes AS {int})"), t("maxquota"))
            } else {
                ("NULL".to_string(), "NULL".to_string())
            };
            // A relay domain: PostfixAdmin's backup MX flag, or a transport that
            // relays elsewhere (its default is local delivery, `virtual`).
            let mut relay_when: Vec<String> = Vec::new();
            if p.domain_backupmx {
                relay_when.push(format!("WHEN {} = '1' THEN 'backupmx = 1'", t("backupmx")));
            }
            if p.domain_transport {
                let transport = t("transport");
                relay_when.push(format!(
                    "WHEN {transport} LIKE 'relay:%' OR {transport} LIKE 'smtp:%' THEN {transport}"
                ));
            }
            let relay = if relay_when.is_empty() {
                "NULL".to_string()
            } else {
                format!("CASE {} ELSE NULL END", relay_when.join(" "))
            };
            let sql = format!(
                "SELECT 0, {}, {description}, {}, {mailboxes}, {relay}, {maxquota} FROM domain ORDER BY domain",
                t("domain"),
                t("active")
            );
            let domains = fetch7(conn, sql, "reading domain")
                .await?
                .into_iter()
                .map(
                    |(_, name, description, active, mailboxes, relay, maxquota)| {
                        let name = name.unwrap_or_default();
                        SrcDomain {
                            row: format!("domain `{name}`"),
                            name,
                            description,
                            active: yes(&active),
                            relay,
                            max_mailboxes: mailboxes,
                            // PostfixAdmin's MB is its quota_multiplier, 1,024,000 bytes by default.
                            max_quota_bytes: maxquota
                                .and_then(|m| m.trim().parse::<i64>().ok())
                                .map(|mb| mb.saturating_mul(POSTFIXADMIN_MB)),
                        }
                    },
                )
                .collect::<Vec<_>>();
            // PostfixAdmin keeps the pseudo-domain `ALL` for superadmins.
            let domains = domains.into_iter().filter(|d| d.name != "ALL").collect();
            let name = if p.mailbox_name {
                t("name")
            } else {
                "NULL".to_string()
            };
            let sql = format!(
                "SELECT 0, {}, {}, {}, CAST(quota AS {int}), {name}, {} FROM mailbox ORDER BY username",
                t("username"),
                t("password"),
                t("domain"),
                t("active")
            );
            let users = fetch7(conn, sql, "reading mailbox")
                .await?
                .into_iter()
                .map(|(_, username, password, domain, quota, name, active)| {
                    let email = username.unwrap_or_default();
                    SrcUser {
                        row: format!("mailbox `{email}`"),
                        domain,
                        email,
                        password: password.unwrap_or_default(),
                        quota_bytes: quota,
                        name,
                        active: yes(&active),
                    }
                })
                .collect();
            let sql = format!(
                "SELECT 0, {}, {}, {}, NULL, {}, NULL FROM alias ORDER BY address",
                t("address"),
                t("goto"),
                t("domain"),
                t("active")
            );
            let aliases = fetch7(conn, sql, "reading alias")
                .await?
                .into_iter()
                .map(|(_, address, goto, domain, _, active, _)| {
                    let source = address.unwrap_or_default();
                    SrcAlias {
                        row: format!("alias `{source}`"),
                        domain,
                        source,
                        destination: goto.unwrap_or_default(),
                        active: yes(&active),
                    }
                })
                .collect();
            let alias_domains = if p.has_alias_domain {
                let sql = format!(
                    "SELECT 0, {}, {}, {}, NULL, NULL, NULL FROM alias_domain ORDER BY alias_domain",
                    t("alias_domain"),
                    t("target_domain"),
                    t("active")
                );
                fetch7(conn, sql, "reading alias_domain")
                    .await?
                    .into_iter()
                    .map(|(_, alias, target, active, ..)| {
                        let alias = alias.unwrap_or_default();
                        SrcAliasDomain {
                            row: format!("alias_domain `{alias}`"),
                            alias,
                            target: target.unwrap_or_default(),
                            active: yes(&active),
                        }
                    })
                    .collect()
            } else {
                Vec::new()
            };
            Ok(Source {
                layout: "postfixadmin",
                detected: Vec::new(),
                domains,
                users,
                aliases,
                alias_domains,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(tables: &[(&str, &[&str])]) -> Catalogue {
        tables
            .iter()
            .map(|(t, c)| (t.to_string(), c.iter().map(|c| c.to_string()).collect()))
            .collect()
    }

    #[test]
    fn tutorial_column_variants_are_detected() {
        let cat = catalogue(&[
            ("virtual_domains", &["id", "domain"]),
            ("virtual_users", &["id", "domain_id", "user", "pass"]),
            ("virtual_aliases", &["id", "domain_id", "source", "target"]),
        ]);
        let Ok(Layout::Tutorial(t)) = detect(From::Auto, &cat) else {
            panic!("tutorial expected");
        };
        assert_eq!(
            (
                t.domain_name,
                t.user_email,
                t.user_password,
                t.user_quota,
                t.alias_destination
            ),
            ("domain", "user", "pass", None, "target")
        );
    }

    #[test]
    fn unknown_layouts_name_what_was_found() {
        let cat = catalogue(&[("accounts", &["id"])]);
        let err = detect(From::Auto, &cat).unwrap_err();
        assert!(
            err.contains("unknown layout") && err.contains("accounts"),
            "{err}"
        );
        let err = detect(From::Postfixadmin, &cat).unwrap_err();
        assert!(err.contains("domain, mailbox, alias"), "{err}");
        let cat = catalogue(&[
            ("virtual_domains", &["id", "name"]),
            ("virtual_users", &["id", "domain_id", "login", "password"]),
            (
                "virtual_aliases",
                &["id", "domain_id", "source", "destination"],
            ),
        ]);
        let err = detect(From::Tutorial, &cat).unwrap_err();
        assert!(
            err.contains("no address column") && err.contains("login"),
            "{err}"
        );
    }
}
