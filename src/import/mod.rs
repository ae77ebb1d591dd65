//! `mailops import`: an existing mail server's database → tenant files.
//!
//! Shaped as the compiler's own pipeline, in small steps that each do one
//! thing: `source` reads the database (read-only; the only step that touches
//! it) and says which layout and which column names it found; `mapping` turns
//! those rows into tenant drafts, deciding every odd value in one place and
//! recording each decision in the `Report`; `dkim_dir` reads Rspamd's key
//! folder; `tenant_file` writes a draft as TOML (toml_edit), with a comment
//! beside every value the import changed. Nothing is written until every
//! step succeeded, so bad input writes nothing.

pub(crate) mod dkim_dir;
pub(crate) mod mapping;
pub(crate) mod report;
pub(crate) mod source;
pub(crate) mod tenant_file;

/// Which kind of database to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum From {
    /// Detect the layout from the tables present.
    Auto,
    /// `virtual_domains`, `virtual_users`, `virtual_aliases` (the "ISPmail"-style tutorials).
    Tutorial,
    /// PostfixAdmin's `domain`, `mailbox`, `alias`, `alias_domain`.
    Postfixadmin,
}

/// A domain row as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrcDomain {
    /// Where it came from, for the report: `virtual_domains id 3`.
    pub(crate) row: String,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) active: bool,
    /// A relay (backup MX) domain, and what says so: PostfixAdmin's `backupmx = 1`
    /// or a `transport` such as `relay:[mail.client.example]`.
    pub(crate) relay: Option<String>,
    /// PostfixAdmin's `mailboxes` (how many the domain may have; 0: no limit).
    pub(crate) max_mailboxes: Option<i64>,
    /// PostfixAdmin's `maxquota` in bytes (0: no limit).
    pub(crate) max_quota_bytes: Option<i64>,
}

/// A mailbox row as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrcUser {
    pub(crate) row: String,
    /// The name of the domain its row points at (`None`: a dangling `domain_id`).
    pub(crate) domain: Option<String>,
    pub(crate) email: String,
    pub(crate) password: String,
    /// Bytes; `None` when the table has no quota column.
    pub(crate) quota_bytes: Option<i64>,
    pub(crate) name: Option<String>,
    pub(crate) active: bool,
}

/// An alias row as read: `destination` may be a comma-separated list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrcAlias {
    pub(crate) row: String,
    pub(crate) domain: Option<String>,
    pub(crate) source: String,
    pub(crate) destination: String,
    pub(crate) active: bool,
}

/// PostfixAdmin's `alias_domain` row: every address of `alias` goes to `target`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SrcAliasDomain {
    pub(crate) row: String,
    pub(crate) alias: String,
    pub(crate) target: String,
    pub(crate) active: bool,
}

/// Everything read from the source database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Source {
    /// `tutorial` or `postfixadmin`.
    pub(crate) layout: &'static str,
    /// What was detected: one line per table, with the columns used.
    pub(crate) detected: Vec<String>,
    pub(crate) domains: Vec<SrcDomain>,
    pub(crate) users: Vec<SrcUser>,
    pub(crate) aliases: Vec<SrcAlias>,
    pub(crate) alias_domains: Vec<SrcAliasDomain>,
}
