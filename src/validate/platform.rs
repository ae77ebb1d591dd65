//! `mailops.toml` → `model::Platform`, every default applied and every value checked.

use std::net::IpAddr;

use crate::diagnostic::Diagnostics;
use crate::emit::conf::{self, Quoted};
use crate::emit::shell;
use crate::model::platform::DEFAULT_SCHEMES;
use crate::model::platform::ENCRYPTED_KEY_DIR;
use crate::model::{Aws, Database, Defaults, Dmarc, Driver, Host, Paths, Platform, Secrets, Tls};
use crate::parse::platform::RawPlatform;
use crate::source::FileId;
use crate::span::Sp;
use crate::validate::address::normalize_address;
use crate::validate::domain::normalize_domain;
use crate::validate::password::KNOWN_SCHEMES;
use crate::validate::quota::parse_quota;
use crate::validate::{Checker, diags, records};

pub(crate) const DEFAULT_QUOTA: u64 = 2 << 30;
pub(crate) const DEFAULT_TTL: u32 = 3600;

/// The platform with defaults; built-in values when the file is missing or broken
/// (so that tenant files are still checked).
pub(crate) fn build_platform(
    raw: Option<&(FileId, RawPlatform)>,
    diagnostics: &mut Diagnostics,
) -> Platform {
    let Some((file, raw)) = raw else {
        return defaults_for("mx.invalid", "invalid");
    };
    let mut c = Checker::new(*file, diagnostics);
    let host = &raw.mail_host;

    let hostname = match c.structured(&host.hostname, "the host name") {
        Some(text) => match normalize_domain(text) {
            Ok(name) => {
                c.check_script(&host.hostname, "the host name", &name);
                let help = "the fully qualified name of the mail host, like `mx.webhizzy.in`";
                if emitters_accept(
                    &mut c,
                    &host.hostname,
                    "mail_host.hostname",
                    &name.ascii,
                    help,
                ) {
                    name.ascii
                } else {
                    "mx.invalid".to_string()
                }
            }
            Err(problem) => {
                c.push(diags::invalid_platform_value(
                    c.loc(&host.hostname),
                    "mail_host.hostname",
                    &problem.describe(),
                    "the fully qualified name of the mail host, like `mx.webhizzy.in`",
                ));
                "mx.invalid".to_string()
            }
        },
        None => "mx.invalid".to_string(),
    };
    let parent = hostname.split_once('.').map_or("", |(_, p)| p).to_string();
    let zone = match &host.zone {
        Some(zone) => c
            .structured(zone, "the zone")
            .and_then(|z| match normalize_domain(z) {
                Ok(name)
                    if hostname == name.ascii
                        || hostname.ends_with(&format!(".{}", name.ascii)) =>
                {
                    Some(name.ascii)
                }
                Ok(name) => {
                    c.push(diags::invalid_platform_value(
                        c.loc(zone),
                        "mail_host.zone",
                        &format!("`{hostname}` is not inside `{}`", name.ascii),
                        "the zone must contain the host name",
                    ));
                    None
                }
                Err(problem) => {
                    c.push(diags::invalid_platform_value(
                        c.loc(zone),
                        "mail_host.zone",
                        &problem.describe(),
                        "the DNS zone of the host, like `webhizzy.in`",
                    ));
                    None
                }
            })
            .unwrap_or(parent),
        None => {
            if !parent.contains('.') && hostname != "mx.invalid" {
                c.push(diags::invalid_platform_value(
                    c.loc(&host.hostname),
                    "mail_host.hostname",
                    "the host name's parent is not a DNS zone",
                    "name the zone with `mail_host.zone`, or use a host name like `mx.example.com`",
                ));
            }
            parent
        }
    };
    let zone_id = host
        .zone_id
        .as_ref()
        .and_then(|z| records::zone_id(&mut c, z));
    let admin_email = match &host.admin_email {
        Some(value) => c
            .structured(value, "the admin email")
            .and_then(|text| match normalize_address(text) {
                Ok((local, domain)) => {
                    let address = format!("{local}@{domain}");
                    let help = "an address like `postmaster@webhizzy.in`";
                    emitters_accept(&mut c, value, "mail_host.admin_email", &address, help)
                        .then_some(address)
                }
                Err(problem) => {
                    c.push(diags::invalid_platform_value(
                        c.loc(value),
                        "mail_host.admin_email",
                        &problem.describe(),
                        "an address like `postmaster@webhizzy.in`",
                    ));
                    None
                }
            })
            .unwrap_or_else(|| format!("postmaster@{zone}")),
        None => format!("postmaster@{zone}"),
    };

    let mut platform = defaults_for(&hostname, &zone);
    platform.zone_id = zone_id;
    platform.admin_email = admin_email;
    platform.pop3 = host.pop3.as_ref().is_some_and(|p| p.value);
    platform.dnssec = host.dnssec.as_ref().is_some_and(|d| d.value);
    platform.tlsa = tlsa_records(&mut c, &host.tlsa, "mail_host.tlsa", Vec::new());
    platform.inbound_tls_required = checked(
        &mut c,
        &host.inbound_tls,
        "mail_host.inbound_tls",
        |t| matches!(t, "offer" | "require"),
        "`offer` (the default: senders without TLS are accepted) or `require`",
    )
    .is_some_and(|t| t == "require");
    platform.srs_domain = srs_domain(&mut c, raw, &platform.hostname, &platform.zone);
    platform.dmarc_report_domains = dmarc_report_domains(&mut c, raw, &platform.zone);
    aws(&mut c, raw, &mut platform.aws);
    database(&mut c, raw, &mut platform.database);
    platform.defaults.tls_rpt = vec![format!("mailto:{}", platform.admin_email)];
    defaults(&mut c, raw, &mut platform.defaults);
    default_report_domains(&mut c, raw, &platform.dmarc_report_domains);
    paths(&mut c, raw, &mut platform);
    secrets(&mut c, raw, &mut platform);
    hosts(&mut c, raw, &mut platform);
    platform
}

fn defaults_for(hostname: &str, zone: &str) -> Platform {
    Platform {
        hostname: hostname.to_string(),
        zone: zone.to_string(),
        zone_id: None,
        admin_email: format!("postmaster@{zone}"),
        pop3: false,
        dnssec: false,
        tlsa: Vec::new(),
        inbound_tls_required: false,
        srs_domain: Some(hostname.to_string()),
        dmarc_report_domains: vec![zone.to_string()],
        aws: Aws {
            region: "ap-south-1".into(),
            instance_type: "t3.small".into(),
            volume_size_gb: 50,
            admin_cidrs: Vec::new(),
            dns_shards: crate::model::platform::DEFAULT_DNS_SHARDS,
        },
        database: Database {
            driver: Driver::Mysql,
            url: None,
            host: "127.0.0.1".into(),
            port: 3306,
            name: "mailserver".into(),
            user: "mailuser".into(),
            path: "/var/lib/mailops/mail.sqlite".into(),
        },
        defaults: Defaults {
            dkim_selector: "dkim".into(),
            quota: DEFAULT_QUOTA,
            quota_grace_percent: DEFAULT_QUOTA_GRACE_PERCENT,
            ttl: DEFAULT_TTL,
            dmarc: Dmarc::default(),
            password_schemes: DEFAULT_SCHEMES.iter().map(|s| s.to_string()).collect(),
            legacy_password_schemes: Vec::new(),
            send_per_hour: None,
            domain_send_per_hour: None,
            mta_sts: Some(crate::model::mta_sts::Mode::Testing),
            tls_rpt: vec![format!("mailto:postmaster@{zone}")],
        },
        paths: Paths {
            vmail_root: "/var/vmail".into(),
            dkim_key_dir: "/var/lib/rspamd/dkim".into(),
            key_store: ".mailops/keys".into(),
        },
        tls: Tls {
            cert: format!("/etc/letsencrypt/live/{hostname}/fullchain.pem"),
            key: format!("/etc/letsencrypt/live/{hostname}/privkey.pem"),
        },
        secrets: Secrets::default(),
        hosts: vec![implicit_host(hostname, "t3.small", 50)],
        hosts_declared: false,
        default_home: crate::model::host::implicit_name(hostname).to_string(),
        private_cidr: crate::model::host::DEFAULT_PRIVATE_CIDR.to_string(),
    }
}

/// TLSA records (`mail_host.tlsa`, `hosts.tlsa`), checked and normalised,
/// after `first` and each once.
fn tlsa_records(
    c: &mut Checker<'_>,
    records: &[Sp<String>],
    key: &str,
    first: Vec<String>,
) -> Vec<String> {
    let mut out = first;
    for record in records {
        let Some(text) = c.structured(record, &format!("`{key}`")) else {
            continue;
        };
        match tlsa_record(text) {
            Ok(record) if out.contains(&record) => {}
            Ok(record) => out.push(record),
            Err(problem) => c.push(diags::invalid_platform_value(
                c.loc(record),
                key,
                &problem,
                "a record as `mailops tls tlsa --cert FILE` prints it: \"3 1 1 <64 hex digits>\" (DANE-EE, the public key, SHA-256)",
            )),
        }
    }
    out
}

/// The one host of a platform without `[[hosts]]`.
fn implicit_host(hostname: &str, instance_type: &str, volume_size_gb: u32) -> Host {
    Host {
        name: crate::model::host::implicit_name(hostname).to_string(),
        hostname: hostname.to_string(),
        private_ip: None,
        inbound: true,
        mx_priority: crate::model::host::DEFAULT_MX_PRIORITY,
        instance_type: instance_type.to_string(),
        volume_size_gb,
        tlsa: Vec::new(),
    }
}

/// A string value that must match `ok`; `None` with a diagnostic otherwise.
fn checked(
    c: &mut Checker<'_>,
    value: &Option<Sp<String>>,
    key: &str,
    ok: impl Fn(&str) -> bool,
    help: &str,
) -> Option<String> {
    let value = value.as_ref()?;
    let text = c.structured(value, &format!("`{key}`"))?;
    if ok(text) && emitters_accept(c, value, key, text, help) {
        Some(text.to_string())
    } else if !ok(text) {
        c.push(diags::invalid_platform_value(
            c.loc(value),
            key,
            &format!("`{text}`"),
            help,
        ));
        None
    } else {
        None
    }
}

/// The escaping functions of every generated file a platform value is
/// written into (see the templates): a value validation accepts is one each
/// of them can write, so rendering never fails on user input. A refusal here
/// is a diagnostic at the value, not a panic in the emit stage.
fn emitter_rules(key: &str) -> &'static [fn(&str) -> Quoted] {
    match key {
        "mail_host.hostname" => &[
            conf::comment_text,
            conf::postfix_value,
            conf::dovecot_value,
            shell::shell_word,
        ],
        "mail_host.srs_domain" => &[conf::comment_text, conf::postfix_value, shell::shell_word],
        "mail_host.admin_email" => &[conf::dovecot_expanded, shell::shell_word],
        "database.host" | "database.user" | "database.name" | "database.path" => &[
            conf::dovecot_connect_value,
            conf::postfix_map_value,
            shell::shell_word,
        ],
        "paths.vmail_root" => &[conf::dovecot_expanded, shell::shell_word],
        "paths.dkim_key_dir" => &[conf::ucl_string, shell::shell_word],
        "tls.cert" | "tls.key" => &[conf::postfix_value, conf::dovecot_file, shell::shell_word],
        _ => &[],
    }
}

/// `[mail_host] srs` and `srs_domain`: the domain of SRS-rewritten senders
/// (the host name unless named), or `None` with `srs = false`. The domain is
/// the host name or a name in the host's zone: mailops publishes its SPF
/// record (and MX) there, and Postfix receives the bounces sent to it.
fn srs_domain(
    c: &mut Checker<'_>,
    raw: &RawPlatform,
    hostname: &str,
    zone: &str,
) -> Option<String> {
    let host = &raw.mail_host;
    if host.srs.as_ref().is_some_and(|on| !on.value) {
        return None;
    }
    let key = "mail_host.srs_domain";
    let help = "the host name (the default) or a name in the host's zone, like `srs.webhizzy.in`";
    let Some(value) = &host.srs_domain else {
        return Some(hostname.to_string());
    };
    let text = c.structured(value, "`mail_host.srs_domain`")?;
    let problem = match normalize_domain(text) {
        Ok(name) if name.ascii == hostname || name.ascii.ends_with(&format!(".{zone}")) => {
            return emitters_accept(c, value, key, &name.ascii, help).then_some(name.ascii);
        }
        Ok(name) => format!("`{}` is not in the host's zone `{zone}`", name.ascii),
        Err(problem) => problem.describe(),
    };
    c.push(diags::invalid_platform_value(
        c.loc(value),
        key,
        &problem,
        help,
    ));
    None
}

/// `[mail_host] dmarc_report_domains`, with the host's zone: sorted, each once.
fn dmarc_report_domains(c: &mut Checker<'_>, raw: &RawPlatform, zone: &str) -> Vec<String> {
    let mut out = vec![zone.to_string()];
    for value in raw.mail_host.dmarc_report_domains.iter().flatten() {
        let Some(text) = c.structured(value, "`mail_host.dmarc_report_domains`") else {
            continue;
        };
        match normalize_domain(text) {
            Ok(name) => out.push(name.ascii),
            Err(problem) => c.push(diags::invalid_platform_value(
                c.loc(value),
                "mail_host.dmarc_report_domains",
                &problem.describe(),
                "domains whose Route53 zones receive DMARC reports, like `webhizzy.in`",
            )),
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `[defaults] dmarc` report addresses outside the report domains: one
/// warning each here, not one per tenant that inherits them.
fn default_report_domains(c: &mut Checker<'_>, raw: &RawPlatform, report_domains: &[String]) {
    let Some(dmarc) = &raw.defaults.dmarc else {
        return;
    };
    let mut warned = std::collections::BTreeSet::new();
    for value in dmarc.rua.iter().chain(dmarc.ruf.iter()).flatten() {
        let Ok(uri) = crate::validate::dmarc::check_report_uri(&value.value) else {
            continue;
        };
        let Some(report) = crate::model::records::report_uri_domain(&uri) else {
            continue;
        };
        if !report_domains.iter().any(|d| d == report) && warned.insert(report.to_string()) {
            let record =
                crate::model::records::report_authorization_name("<tenant domain>", report);
            c.push(diags::dmarc_report_unauthorized(
                c.loc(value),
                report,
                &[record],
                true,
            ));
        }
    }
}

/// Whether every emitter of `key` can write `text`; a diagnostic otherwise.
fn emitters_accept(
    c: &mut Checker<'_>,
    value: &Sp<String>,
    key: &str,
    text: &str,
    help: &str,
) -> bool {
    for rule in emitter_rules(key) {
        if let Err(refused) = rule(text) {
            c.push(diags::invalid_platform_value(
                c.loc(value),
                key,
                &format!(
                    "`{text}` cannot be written in {}: {}",
                    refused.format, refused.reason
                ),
                help,
            ));
            return false;
        }
    }
    true
}

/// `[database] host`: an IP address, `localhost`, or a host name (a Unicode
/// name is written as its A-label), as the Dovecot connect string, the
/// Postfix map files and the MariaDB grants can carry it.
fn database_host(c: &mut Checker<'_>, value: &Sp<String>) -> Option<String> {
    let key = "database.host";
    let help = "a host name or IP address, like `db.internal` or `10.0.0.5`";
    let text = c.structured(value, "`database.host`")?;
    let host = if text.parse::<IpAddr>().is_ok() || text == "localhost" {
        text.to_string()
    } else {
        match normalize_domain(text) {
            Ok(name) => name.ascii,
            Err(problem) => {
                c.push(diags::invalid_platform_value(
                    c.loc(value),
                    key,
                    &format!("`{text}`: {}", problem.describe()),
                    help,
                ));
                return None;
            }
        }
    };
    emitters_accept(c, value, key, &host, help).then_some(host)
}

/// Mask the password of a database URL as written in the file (the whole
/// value when escapes make its source text differ from the value).
fn mask_url_password(c: &mut Checker<'_>, url: &Sp<String>) {
    let span = url.span();
    let plain_quoted = span.len() == url.value.len() + 2;
    match crate::database_url::password_range(url).filter(|_| plain_quoted) {
        Some(range) => {
            let start = span.start + 1 + range.start;
            let end = span.start + 1 + range.end;
            c.mark_secret_exact(crate::source::Location::new(c.file(), start..end));
        }
        None => c.mark_secret_exact(c.loc(url)),
    }
}

fn ranged(
    c: &mut Checker<'_>,
    value: &Option<Sp<i64>>,
    key: &str,
    range: std::ops::RangeInclusive<i64>,
) -> Option<i64> {
    let value = value.as_ref()?;
    if range.contains(&value.value) {
        Some(value.value)
    } else {
        c.push(diags::invalid_platform_value(
            c.loc(value),
            key,
            &format!("{} is out of range", value.value),
            &format!("a whole number from {} to {}", range.start(), range.end()),
        ));
        None
    }
}

fn is_path(text: &str) -> bool {
    !text.is_empty()
        && text.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'_' | b'-' | b'+' | b'@')
        })
}

fn is_absolute_path(text: &str) -> bool {
    text.starts_with('/') && is_path(text) && !text.split('/').any(|p| p == "..")
}

fn is_word(text: &str, extra: &[u8], max: usize) -> bool {
    !text.is_empty()
        && text.len() <= max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || extra.contains(&b))
}

/// An EC2 instance type: `<family>.<size>`, letters and digits.
fn is_instance_type(t: &str) -> bool {
    t.split_once('.').is_some_and(|(family, size)| {
        is_word(family, &[], 20)
            && is_word(size, &[], 20)
            && !family.contains('_')
            && !size.contains('_')
    })
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    match (address.parse::<IpAddr>(), prefix.parse::<u8>()) {
        (Ok(IpAddr::V4(_)), Ok(p)) => p <= 32,
        (Ok(IpAddr::V6(_)), Ok(p)) => p <= 128,
        _ => false,
    }
}

/// A TLSA record's data for SMTP DANE (RFC 7672 §3.1): usage 2 (DANE-TA) or
/// 3 (DANE-EE; PKIX usages are not for SMTP), selector 0 (certificate) or
/// 1 (public key), matching type 1 (SHA-256, 64 hex digits) or 2 (SHA-512,
/// 128); normalised to single spaces and lowercase hex.
fn tlsa_record(text: &str) -> Result<String, String> {
    let fields: Vec<&str> = text.split_ascii_whitespace().collect();
    let [usage, selector, matching, data @ ..] = fields.as_slice() else {
        return Err(format!(
            "`{text}` is not `<usage> <selector> <matching type> <hex>`"
        ));
    };
    let hex: String = data.concat();
    if !matches!(*usage, "2" | "3") {
        return Err(format!(
            "usage `{usage}`: SMTP DANE uses 3 (DANE-EE) or 2 (DANE-TA)"
        ));
    }
    if !matches!(*selector, "0" | "1") {
        return Err(format!(
            "selector `{selector}`: 1 (the public key) or 0 (the whole certificate)"
        ));
    }
    let digits = match *matching {
        "1" => 64,
        "2" => 128,
        other => {
            return Err(format!(
                "matching type `{other}`: 1 (SHA-256) or 2 (SHA-512)"
            ));
        }
    };
    if hex.len() != digits || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!(
            "the digest must be {digits} hex digits for matching type {matching}, not `{hex}`"
        ));
    }
    Ok(format!(
        "{usage} {selector} {matching} {}",
        hex.to_ascii_lowercase()
    ))
}

fn aws(c: &mut Checker<'_>, raw: &RawPlatform, aws: &mut Aws) {
    let region_ok = |t: &str| {
        let parts: Vec<&str> = t.split('-').collect();
        parts.len() >= 3
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
    };
    if let Some(region) = checked(
        c,
        &raw.aws.region,
        "aws.region",
        region_ok,
        "an AWS region like `ap-south-1`",
    ) {
        aws.region = region;
    }
    if let Some(t) = checked(
        c,
        &raw.aws.instance_type,
        "aws.instance_type",
        is_instance_type,
        "an EC2 instance type like `t3.small`",
    ) {
        aws.instance_type = t;
    }
    if let Some(size) = ranged(c, &raw.aws.volume_size_gb, "aws.volume_size_gb", 8..=16384) {
        aws.volume_size_gb = size as u32;
    }
    if let Some(shards) = ranged(c, &raw.aws.dns_shards, "aws.dns_shards", 1..=256) {
        aws.dns_shards = shards as u16;
    }
    if let Some(cidrs) = &raw.aws.admin_cidrs {
        aws.admin_cidrs = cidrs
            .iter()
            .filter_map(|cidr| {
                checked(
                    c,
                    &Some(cidr.clone()),
                    "aws.admin_cidrs",
                    is_cidr,
                    "a CIDR block like `203.0.113.7/32`",
                )
            })
            .collect();
    }
}

fn database(c: &mut Checker<'_>, raw: &RawPlatform, db: &mut Database) {
    let d = &raw.database;
    if let Some(driver) = checked(
        c,
        &d.driver,
        "database.driver",
        |t| t == "mysql" || t == "sqlite",
        "`mysql` or `sqlite`",
    ) {
        db.driver = if driver == "sqlite" {
            Driver::Sqlite
        } else {
            Driver::Mysql
        };
    }
    if let Some(url) = &d.url {
        // First, before any check that would show the URL: its password is
        // masked in every snippet of its line.
        if crate::database_url::has_password(url) {
            mask_url_password(c, url);
            c.push(diags::password_in_url(c.loc(url)));
        } else if let Some(text) = c.structured(url, "the database URL") {
            if let Err(problem) = crate::database_url::DatabaseUrl::parse(text) {
                c.push(diags::invalid_platform_value(
                    c.loc(url),
                    "database.url",
                    &problem.to_string(),
                    "`mysql://user@host:3306/database` or `sqlite://path/to/file.db`",
                ));
            } else {
                db.url = Some(text.to_string());
            }
        }
    }
    if let Some(host) = d.host.as_ref().and_then(|h| database_host(c, h)) {
        db.host = host;
    }
    if let Some(port) = ranged(c, &d.port, "database.port", 1..=65535) {
        db.port = port as u16;
    }
    if let Some(name) = checked(
        c,
        &d.name,
        "database.name",
        |t| is_word(t, &[], 64),
        "letters, digits and `_`, at most 64",
    ) {
        db.name = name;
    }
    if let Some(user) = checked(
        c,
        &d.user,
        "database.user",
        |t| is_word(t, b".-", 80),
        "letters, digits, `_`, `.` and `-`",
    ) {
        db.user = user;
    }
    if let Some(path) = checked(
        c,
        &d.path,
        "database.path",
        is_absolute_path,
        "an absolute path like `/var/lib/mailops/mail.sqlite`",
    ) {
        db.path = path;
    }
}

/// Over-quota grace when the platform file sets none.
const DEFAULT_QUOTA_GRACE_PERCENT: u8 = 10;

/// `"10%"` → 10; whole percentages from 0 to 100.
fn percent(text: &str) -> Option<u8> {
    let digits = text.trim().strip_suffix('%')?.trim_end();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 3 {
        return None;
    }
    digits.parse::<u8>().ok().filter(|p| *p <= 100)
}

fn defaults(c: &mut Checker<'_>, raw: &RawPlatform, defaults: &mut Defaults) {
    let d = &raw.defaults;
    if let Some(selector) = d
        .dkim_selector
        .as_ref()
        .and_then(|s| records::selector(c, s))
    {
        defaults.dkim_selector = selector;
    }
    if let Some(quota) = &d.quota {
        if let Some(text) = c.structured(quota, "the quota") {
            match parse_quota(text) {
                Ok(bytes) => defaults.quota = bytes,
                Err(problem) => c.push(diags::invalid_quota(c.loc(quota), &problem.describe())),
            }
        }
    }
    if let Some(grace) = checked(
        c,
        &d.quota_grace,
        "defaults.quota_grace",
        |t| percent(t).is_some(),
        "a percentage of the quota from `0%` to `100%`, like `10%`",
    ) {
        defaults.quota_grace_percent = percent(&grace).unwrap_or(DEFAULT_QUOTA_GRACE_PERCENT);
    }
    if let Some(ttl) = d.ttl.as_ref().and_then(|t| records::ttl(c, t)) {
        defaults.ttl = ttl;
    }
    defaults.dmarc = records::dmarc(c, d.dmarc.as_ref(), &Dmarc::default());
    let known = |t: &str| KNOWN_SCHEMES.contains(&t);
    let help = format!("one of {}", KNOWN_SCHEMES.join(", "));
    let mut schemes = |list: &Option<Vec<Sp<String>>>, key: &str| -> Option<Vec<String>> {
        let list = list.as_ref()?;
        Some(
            list.iter()
                .filter_map(|s| checked(c, &Some(s.clone()), key, known, &help))
                .collect(),
        )
    };
    if let Some(list) = schemes(&d.password_schemes, "defaults.password_schemes") {
        defaults.password_schemes = list;
    }
    if let Some(list) = schemes(
        &d.legacy_password_schemes,
        "defaults.legacy_password_schemes",
    ) {
        defaults.legacy_password_schemes = list;
    }
    defaults.send_per_hour =
        super::tenant::send_rate(c, &d.send_per_hour, "defaults.send_per_hour");
    defaults.domain_send_per_hour =
        super::tenant::send_rate(c, &d.domain_send_per_hour, "defaults.domain_send_per_hour");
    if let Some(mode) = d.mta_sts.as_ref().and_then(|m| super::mta_sts::mode(c, m)) {
        defaults.mta_sts = mode;
    }
    if let Some(uris) = &d.tls_rpt {
        defaults.tls_rpt = super::mta_sts::tls_rpt(c, uris);
    }
}

fn paths(c: &mut Checker<'_>, raw: &RawPlatform, platform: &mut Platform) {
    let abs = "an absolute path without spaces or quotes";
    if let Some(p) = checked(
        c,
        &raw.paths.vmail_root,
        "paths.vmail_root",
        is_absolute_path,
        abs,
    ) {
        platform.paths.vmail_root = p;
    }
    if let Some(p) = checked(
        c,
        &raw.paths.dkim_key_dir,
        "paths.dkim_key_dir",
        is_absolute_path,
        abs,
    ) {
        platform.paths.dkim_key_dir = p;
    }
    if let Some(p) = checked(
        c,
        &raw.paths.key_store,
        "paths.key_store",
        is_path,
        "a path without spaces or quotes",
    ) {
        platform.paths.key_store = p;
    }
    if let Some(p) = checked(c, &raw.tls.cert, "tls.cert", is_absolute_path, abs) {
        platform.tls.cert = p;
    }
    if let Some(p) = checked(c, &raw.tls.key, "tls.key", is_absolute_path, abs) {
        platform.tls.key = p;
    }
}

/// `[secrets] recipients`: age X25519 recipients, each checked by the age
/// crate's own parser. With `[secrets]`, DKIM private keys live encrypted in
/// `keys/`, which becomes the key store (`paths.key_store` may not be set).
fn secrets(c: &mut Checker<'_>, raw: &RawPlatform, platform: &mut Platform) {
    let Some(secrets) = &raw.secrets else {
        return;
    };
    platform.secrets.enabled = true;
    platform.paths.key_store = ENCRYPTED_KEY_DIR.to_string();
    if let Some(key_store) = &raw.paths.key_store {
        c.push(diags::key_store_with_secrets(c.loc(key_store)));
    }
    if secrets.recipients.is_empty() {
        c.push(diags::no_recipients(c.loc(&secrets.recipients)));
        return;
    }
    for value in secrets.recipients.iter() {
        let text = value.value.trim();
        if text.to_ascii_uppercase().starts_with("AGE-SECRET-KEY-") {
            let loc = c.loc(value);
            c.mark_secret(loc.clone());
            c.push(diags::identity_as_recipient(loc));
            platform.secrets.refused = true;
            continue;
        }
        match text.parse::<age::x25519::Recipient>() {
            Ok(recipient) => {
                let recipient = recipient.to_string();
                if !platform.secrets.recipients.contains(&recipient) {
                    platform.secrets.recipients.push(recipient);
                }
            }
            Err(problem) => {
                let problem = if text.starts_with("ssh-") {
                    "an SSH key; mailops encrypts to age X25519 recipients only".to_string()
                } else {
                    problem.to_string()
                };
                c.push(diags::invalid_recipient(c.loc(value), &problem));
                platform.secrets.refused = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tlsa_record;

    #[test]
    fn tlsa_records_are_checked_and_normalised() {
        let sha256 = "AB".repeat(32);
        assert_eq!(
            tlsa_record(&format!("3  1 1 {sha256}")),
            Ok(format!("3 1 1 {}", "ab".repeat(32)))
        );
        // A digest split in two (as some zone files write it) is one.
        assert_eq!(
            tlsa_record(&format!("2 0 2 {} {}", "0".repeat(64), "f".repeat(64))),
            Ok(format!("2 0 2 {}{}", "0".repeat(64), "f".repeat(64)))
        );
        for (bad, why) in [
            (format!("1 1 1 {sha256}"), "usage `1`"),
            (format!("3 2 1 {sha256}"), "selector `2`"),
            (format!("3 1 0 {sha256}"), "matching type `0`"),
            ("3 1 1 abcd".to_string(), "64 hex digits"),
            (format!("3 1 1 {}", "g".repeat(64)), "64 hex digits"),
            (format!("3 1 2 {sha256}"), "128 hex digits"),
            ("3 1".to_string(), "is not"),
            ("3 1 1 \"; drop".to_string(), "64 hex digits"),
        ] {
            let problem = tlsa_record(&bad).unwrap_err();
            assert!(problem.contains(why), "{bad}: {problem}");
        }
    }
}

/// An IPv4 network as AWS takes it for a VPC: `a.b.c.d/p`, `p` from 16 to
/// 28, no host bits set. (network address, prefix length).
pub(crate) fn private_network(text: &str) -> Option<(u32, u8)> {
    let (address, prefix) = text.split_once('/')?;
    let address: std::net::Ipv4Addr = address.parse().ok()?;
    let prefix: u8 = prefix.parse().ok()?;
    if !(16..=28).contains(&prefix) || prefix.to_string() != text.split_once('/')?.1 {
        return None;
    }
    let network = u32::from(address);
    let mask = u32::MAX << (32 - prefix);
    (network & !mask == 0).then_some((network, prefix))
}

/// Why `ip` is not an address an instance may take in `network`, if so: AWS
/// reserves the first four addresses of a subnet and its last.
fn host_address_problem(
    ip: std::net::Ipv4Addr,
    (network, prefix): (u32, u8),
) -> Option<&'static str> {
    let mask = u32::MAX << (32 - prefix);
    let ip = u32::from(ip);
    if ip & mask != network {
        return Some("is outside the private network");
    }
    let offset = ip & !mask;
    if offset < 4 || offset == !mask {
        return Some("is reserved by AWS in the private network");
    }
    None
}

/// `[[hosts]]` and `[defaults] home`: the hosts, each checked, sorted by
/// name; the primary (`[mail_host] hostname`) among them; the default home.
/// Without `[[hosts]]`: the one implicit host, with `[aws]`'s instance settings.
fn hosts(c: &mut Checker<'_>, raw: &RawPlatform, platform: &mut Platform) {
    if let Some(cidr) = checked(
        c,
        &raw.aws.private_cidr,
        "aws.private_cidr",
        |t| private_network(t).is_some(),
        "an IPv4 CIDR block from /16 to /28 whose address is the network's, like `10.20.0.0/16`",
    ) {
        platform.private_cidr = cidr;
    }
    let Some(entries) = &raw.hosts else {
        platform.hosts = vec![implicit_host(
            &platform.hostname,
            &platform.aws.instance_type,
            platform.aws.volume_size_gb,
        )];
        platform.default_home = platform.hosts[0].name.clone();
        default_home(c, raw, platform);
        return;
    };
    platform.hosts_declared = true;
    let network = private_network(&platform.private_cidr);
    let mut hosts: Vec<Host> = Vec::new();
    let mut seen_names: Vec<(String, crate::source::Location)> = Vec::new();
    let mut seen_hostnames: Vec<(String, crate::source::Location)> = Vec::new();
    let mut seen_ips: Vec<(std::net::Ipv4Addr, crate::source::Location)> = Vec::new();
    for entry in &entries.value {
        let entry = &entry.value;
        let mut ok = true;
        let name = match c.structured(&entry.name, "the host name") {
            Some(text) if crate::model::host::is_host_name(text) => {
                if let Some((_, first)) = seen_names.iter().find(|(n, _)| n == text) {
                    c.push(diags::duplicate_host(
                        c.loc(&entry.name),
                        first.clone(),
                        "name",
                        text,
                    ));
                    ok = false;
                } else {
                    seen_names.push((text.to_string(), c.loc(&entry.name)));
                }
                text.to_string()
            }
            Some(text) => {
                c.push(diags::invalid_platform_value(
                    c.loc(&entry.name),
                    "hosts.name",
                    &format!("`{text}`"),
                    "a lowercase letter, then at most 31 lowercase letters, digits and `-`, like `mx1`",
                ));
                ok = false;
                String::new()
            }
            None => {
                ok = false;
                String::new()
            }
        };
        let hostname = host_hostname(c, &entry.hostname, &platform.zone);
        match &hostname {
            Some(h) => {
                if let Some((_, first)) = seen_hostnames.iter().find(|(n, _)| n == h) {
                    c.push(diags::duplicate_host(
                        c.loc(&entry.hostname),
                        first.clone(),
                        "hostname",
                        h,
                    ));
                    ok = false;
                } else {
                    seen_hostnames.push((h.clone(), c.loc(&entry.hostname)));
                }
            }
            None => ok = false,
        }
        let private_ip = match entry.private_ip.value.parse::<std::net::Ipv4Addr>() {
            Ok(ip) if ip.to_string() == entry.private_ip.value => {
                if let Some((_, first)) = seen_ips.iter().find(|(n, _)| *n == ip) {
                    c.push(diags::duplicate_host(
                        c.loc(&entry.private_ip),
                        first.clone(),
                        "private_ip",
                        &entry.private_ip.value,
                    ));
                    ok = false;
                } else {
                    seen_ips.push((ip, c.loc(&entry.private_ip)));
                }
                if let Some(problem) = network.and_then(|n| host_address_problem(ip, n)) {
                    c.push(diags::host_outside_network(
                        c.loc(&entry.private_ip),
                        &entry.private_ip.value,
                        &platform.private_cidr,
                        problem,
                    ));
                    ok = false;
                }
                Some(ip)
            }
            _ => {
                if c.structured(&entry.private_ip, "the private address")
                    .is_some()
                {
                    c.push(diags::invalid_platform_value(
                        c.loc(&entry.private_ip),
                        "hosts.private_ip",
                        &format!("`{}` is not an IPv4 address", entry.private_ip.value),
                        "an IPv4 address in `[aws] private_cidr`, like `10.20.1.11`",
                    ));
                }
                ok = false;
                None
            }
        };
        let mx_priority = ranged(c, &entry.mx_priority, "hosts.mx_priority", 0..=65535)
            .map_or(crate::model::host::DEFAULT_MX_PRIORITY, |p| p as u16);
        let instance_type = match &entry.instance_type {
            Some(_) => checked(
                c,
                &entry.instance_type,
                "hosts.instance_type",
                is_instance_type,
                "an EC2 instance type like `t3.small`",
            )
            .unwrap_or_else(|| platform.aws.instance_type.clone()),
            None => platform.aws.instance_type.clone(),
        };
        let volume_size_gb = ranged(c, &entry.volume_size_gb, "hosts.volume_size_gb", 8..=16384)
            .map_or(platform.aws.volume_size_gb, |v| v as u32);
        // The primary's records are [mail_host] tlsa's and its own: one set,
        // published at `_25._tcp.<[mail_host] hostname>`.
        let primary = hostname.as_deref() == Some(platform.hostname.as_str());
        let first = if primary {
            platform.tlsa.clone()
        } else {
            Vec::new()
        };
        let tlsa = tlsa_records(c, &entry.tlsa, "hosts.tlsa", first);
        if primary {
            platform.tlsa = tlsa.clone();
        }
        if let (true, Some(hostname)) = (ok, hostname) {
            hosts.push(Host {
                name,
                hostname,
                private_ip,
                inbound: entry.inbound.as_ref().is_none_or(|i| i.value),
                mx_priority,
                instance_type,
                volume_size_gb,
                tlsa,
            });
        }
    }
    let all_ok = hosts.len() == entries.value.len();
    let declared_hostnames: Vec<&str> = seen_hostnames.iter().map(|(h, _)| h.as_str()).collect();
    if !declared_hostnames.is_empty() && !declared_hostnames.contains(&platform.hostname.as_str()) {
        c.push(diags::host_no_primary(c.loc(entries), &platform.hostname));
    }
    if all_ok && !hosts.is_empty() && !hosts.iter().any(|h| h.inbound) {
        c.push(diags::host_no_inbound(c.loc(entries)));
    }
    if entries.value.is_empty() {
        c.push(diags::invalid_platform_value(
            c.loc(entries),
            "hosts",
            "the list is empty",
            "declare every mail host, the primary one (`[mail_host] hostname`) among them, or leave `hosts` out for one host",
        ));
    }
    hosts.sort_by(|a, b| a.name.cmp(&b.name));
    platform.default_home = hosts
        .iter()
        .find(|h| h.hostname == platform.hostname)
        .map_or_else(String::new, |h| h.name.clone());
    platform.hosts = hosts;
    default_home(c, raw, platform);
}

/// A `[[hosts]]` hostname: a domain name inside the platform's zone (its A
/// record is published there).
fn host_hostname(c: &mut Checker<'_>, value: &Sp<String>, zone: &str) -> Option<String> {
    let text = c.structured(value, "the host name")?;
    let help =
        "the fully qualified name of the host in the zone of `[mail_host]`, like `mx2.webhizzy.in`";
    match normalize_domain(text) {
        Ok(name) if name.ascii.ends_with(&format!(".{zone}")) => {
            c.check_script(value, "the host name", &name);
            emitters_accept(c, value, "mail_host.hostname", &name.ascii, help).then_some(name.ascii)
        }
        Ok(name) => {
            c.push(diags::invalid_platform_value(
                c.loc(value),
                "hosts.hostname",
                &format!("`{}` is not inside the zone `{zone}`", name.ascii),
                help,
            ));
            None
        }
        Err(problem) => {
            c.push(diags::invalid_platform_value(
                c.loc(value),
                "hosts.hostname",
                &problem.describe(),
                help,
            ));
            None
        }
    }
}

/// `[defaults] home`: a host's name (with `[[hosts]]`, one of them; without,
/// the implicit host's).
fn default_home(c: &mut Checker<'_>, raw: &RawPlatform, platform: &mut Platform) {
    let home = raw.defaults.home.as_ref();
    if let Some(name) =
        home.and_then(|value| super::tenant::home_of(c, value, platform).map(str::to_string))
    {
        platform.default_home = name;
    }
}

/// Several mail hosts (issue 18): which host each mailbox lives on, and what
/// the hosts make of DNS.
#[cfg(test)]
mod host_tests {
    use std::collections::BTreeMap;

    use crate::emit::test_repo::{PASSWORD_HASH, PUBLIC_KEY, compile};
    use crate::model::Model;

    const TWO_HOSTS: &str = "[mail_host]\nhostname = \"mx1.webhizzy.in\"\n\n\
        [[hosts]]\nname = \"mx1\"\nhostname = \"mx1.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n\
        [[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\nmx_priority = 20\n";

    const THIRD_HOST: &str = "\n[[hosts]]\nname = \"mx3\"\nhostname = \"mx3.webhizzy.in\"\nprivate_ip = \"10.20.1.13\"\n";

    /// A tenant whose file says `tenant_home` (a `home = …` line or nothing)
    /// with mailboxes `a` (no home), `b` (`home = "mx1"`).
    fn tenant(domain: &str, tenant_home: &str) -> (String, String) {
        let mailbox = |user: &str, home: &str| {
            format!("\n[[mailbox]]\nuser = \"{user}\"\npassword = \"{PASSWORD_HASH}\"\n{home}")
        };
        let text = format!(
            "domain = \"{domain}\"\n{tenant_home}\n[dkim]\npublic_key = \"{PUBLIC_KEY}\"\n{}{}\n[[alias]]\naddress = \"postmaster\"\nto = [\"a\"]\n\n[[alias]]\naddress = \"abuse\"\nto = [\"a\"]\n",
            mailbox("a", ""),
            mailbox("b", "home = \"mx1\"\n"),
        );
        (domain.to_string(), text)
    }

    fn tenants() -> Vec<(String, String)> {
        vec![
            tenant("acme.example", "home = \"mx2\""),
            tenant("plain.example", ""),
        ]
    }

    fn homes(model: &Model) -> BTreeMap<String, Option<String>> {
        model
            .domains
            .values()
            .flat_map(|d| d.mailboxes.values())
            .map(|m| (m.address.to_string(), m.home.as_deref().map(str::to_string)))
            .collect()
    }

    fn with_refs(tenants: &[(String, String)]) -> Vec<(&str, String)> {
        tenants
            .iter()
            .map(|(d, t)| (d.as_str(), t.clone()))
            .collect()
    }

    #[test]
    fn a_mailboxs_home_is_its_own_then_its_tenants_then_the_default() {
        let model = compile(TWO_HOSTS, &with_refs(&tenants()));
        let home = |s: &str| Some(s.to_string());
        assert_eq!(
            homes(&model),
            BTreeMap::from([
                ("a@acme.example".to_string(), home("mx2")),
                ("b@acme.example".to_string(), home("mx1")),
                ("a@plain.example".to_string(), home("mx1")),
                ("b@plain.example".to_string(), home("mx1")),
            ])
        );
        // `[defaults] home` moves the mailboxes that name no home, and only them.
        let model = compile(
            &format!("{TWO_HOSTS}\n[defaults]\nhome = \"mx2\"\n"),
            &with_refs(&tenants()),
        );
        assert_eq!(homes(&model)["a@plain.example"], home("mx2"));
        assert_eq!(homes(&model)["b@plain.example"], home("mx1"));
        assert_eq!(homes(&model)["a@acme.example"], home("mx2"));
    }

    /// DANE per host: each host's `tlsa` is its own (at `_25._tcp.<its
    /// hostname>`); the primary's are `[mail_host] tlsa` and its own, once each.
    #[test]
    fn each_host_has_its_own_tlsa_records_and_the_primary_also_mail_hosts() {
        let (one, two, three) = ("1".repeat(64), "2".repeat(64), "3".repeat(64));
        let platform = TWO_HOSTS
            .replace(
                "hostname = \"mx1.webhizzy.in\"\n\n",
                &format!("hostname = \"mx1.webhizzy.in\"\ntlsa = [\"3 1 1 {one}\"]\n\n"),
            )
            .replace(
                "private_ip = \"10.20.1.11\"\n",
                &format!(
                    "private_ip = \"10.20.1.11\"\ntlsa = [\"3 1 1 {one}\", \"3 1 1 {two}\"]\n"
                ),
            )
            .replace(
                "mx_priority = 20\n",
                &format!(
                    "mx_priority = 20\ntlsa = [\"3  1 1 {}\"]\n",
                    three.to_uppercase()
                ),
            );
        let model = compile(&platform, &[]);
        let tlsa = |name: &str| model.platform.host(name).unwrap().tlsa.clone();
        let record = |hex: &str| format!("3 1 1 {hex}");
        assert_eq!(model.platform.tlsa, [record(&one), record(&two)]);
        assert_eq!(tlsa("mx1"), model.platform.tlsa);
        assert_eq!(tlsa("mx2"), [record(&three)]);
    }

    /// The default is stable on purpose: adding a host moves no mailbox.
    #[test]
    fn adding_a_host_moves_no_mailbox() {
        let before = compile(TWO_HOSTS, &with_refs(&tenants()));
        let after = compile(&format!("{TWO_HOSTS}{THIRD_HOST}"), &with_refs(&tenants()));
        assert_eq!(homes(&before), homes(&after));
        assert_eq!(after.platform.hosts.len(), 3);
    }

    /// Without `[[hosts]]` nothing has a home (its rows' `home` is NULL), and
    /// a `home` naming the one implicit host (the hostname's first label) is
    /// accepted; any other name is refused.
    #[test]
    fn a_single_host_platform_has_no_homes_and_names_its_host_by_its_first_label() {
        let platform = "[mail_host]\nhostname = \"mx.webhizzy.in\"\n";
        let (domain, text) = tenant("acme.example", "home = \"mx\"");
        let ok = [(domain, text.replace("home = \"mx1\"", "home = \"mx\""))];
        let model = compile(platform, &with_refs(&ok));
        assert!(homes(&model).values().all(Option::is_none));
        assert!(!model.platform.hosts_declared);
        assert_eq!(model.platform.default_home, "mx");
        let (_, text) = tenant("acme.example", "home = \"mx\"");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(dir.path().join("mailops.toml"), platform).expect("platform");
        std::fs::create_dir(dir.path().join("tenants")).expect("tenants");
        std::fs::write(
            dir.path().join("tenants/acme.example.toml"),
            text.replace("home = \"mx1\"", "home = \"mx2\""),
        )
        .expect("tenant");
        let compiled = crate::pipeline::compile(dir.path()).expect("compile");
        let codes: Vec<&str> = compiled.diagnostics.iter().map(|d| d.code).collect();
        assert_eq!(codes, ["mailops::host::unknown-home"]);
    }

    /// Every tenant domain gets one MX per inbound host, at its preference;
    /// its MTA-STS policy lists each of them (so its id changes with them).
    #[test]
    fn every_inbound_host_is_an_mx_and_in_the_mta_sts_policy() {
        let single = compile(
            "[mail_host]\nhostname = \"mx1.webhizzy.in\"\n",
            &with_refs(&[tenant("acme.example", "")]),
        );
        let model = compile(TWO_HOSTS, &with_refs(&tenants()));
        let acme = &model.domains["acme.example"];
        assert_eq!(
            crate::model::records::mx_values(model.platform.mail_hosts(), acme),
            ["10 mx1.webhizzy.in.", "20 mx2.webhizzy.in."]
        );
        let policy = |model: &Model| {
            let domain = &model.domains["acme.example"];
            crate::model::mta_sts::policy(
                &domain.mta_sts,
                &crate::model::records::mx_values(model.platform.mail_hosts(), domain),
            )
            .expect("MTA-STS on by default")
        };
        let two = policy(&model);
        assert!(
            two.text().contains("mx: mx1.webhizzy.in\n"),
            "{}",
            two.text()
        );
        assert!(
            two.text().contains("mx: mx2.webhizzy.in\n"),
            "{}",
            two.text()
        );
        assert_ne!(
            two.record(),
            policy(&single).record(),
            "the policy id changes"
        );
        let records =
            crate::model::records::declared_in(model.platform.mail_hosts(), acme, "acme.example");
        let mx: Vec<&str> = records
            .iter()
            .filter(|r| r.purpose.rtype() == "MX")
            .map(|r| r.value.as_str())
            .collect();
        assert_eq!(mx, ["10 mx1.webhizzy.in.\n20 mx2.webhizzy.in."]);
    }
}
