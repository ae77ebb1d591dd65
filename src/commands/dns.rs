//! `mailops dns check`, `mailops dns records` (see `crate::dns`) and
//! `mailops dns shards`.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use crate::cli::{PlanFormat, RecordsFormat};
use crate::commands::{EXIT_OK, Result, validate};
use crate::dns::{self, check};
use crate::error::Error;
use crate::model::Model;
use crate::model::records::{DnsRecord, declared_in};
use crate::pipeline;

/// The options of `dns check`, as typed.
pub(crate) struct CheckArgs {
    pub(crate) nameserver: Option<String>,
    pub(crate) format: PlanFormat,
    pub(crate) expect_ip: Option<IpAddr>,
    pub(crate) concurrency: usize,
    pub(crate) timeout: u64,
    pub(crate) smtp: Option<SmtpArgs>,
    pub(crate) domains: Vec<String>,
}

/// `--smtp` and its options, as typed.
pub(crate) struct SmtpArgs {
    pub(crate) port: u16,
    pub(crate) ca: Option<std::path::PathBuf>,
    pub(crate) cert_days: u64,
}

pub(crate) fn check(dir: &Path, args: CheckArgs) -> Result<ExitCode> {
    let nameserver = args
        .nameserver
        .as_deref()
        .map(parse_nameserver)
        .transpose()?;
    if args.concurrency == 0 || args.timeout == 0 {
        return Err(Error::user(
            "--concurrency and --timeout must be at least 1".to_string(),
        ));
    }
    let smtp = match &args.smtp {
        None => None,
        Some(smtp) => {
            let extra_roots = match &smtp.ca {
                None => Vec::new(),
                Some(path) => {
                    let pem = std::fs::read(path)
                        .map_err(|e| Error::user(format!("--smtp-ca {}: {e}", path.display())))?;
                    dns::smtp::read_pem_certificates(&pem).map_err(|why| {
                        Error::user(format!("--smtp-ca {}: {why}", path.display()))
                    })?
                }
            };
            Some(dns::smtp::SmtpOptions {
                port: smtp.port,
                timeout: Duration::from_secs(args.timeout),
                extra_roots,
                min_days: smtp.cert_days,
                tlsa: Vec::new(),
            })
        }
    };
    let model = compiled(dir, "no DNS check")?;
    let names = chosen(&model, &args.domains)?;
    let domains: Vec<(String, Vec<DnsRecord>)> = names
        .iter()
        .map(|name| {
            let domain = tenant_of(&model, name);
            (
                name.clone(),
                declared_in(model.platform.mail_hosts(), domain, name),
            )
        })
        .collect();
    let options = check::Options {
        nameserver,
        expect_ip: args.expect_ip,
        concurrency: args.concurrency,
        timeout: Duration::from_secs(args.timeout),
        ..check::Options::default()
    };
    let mut signed = signed_zones(&model, &names);
    // The mail host's zone, when it is signed and every domain is checked.
    let platform_zone = platform_signed_zone(&model, &args.domains);
    signed.extend(platform_zone.clone());
    let mut report = check::run(&model.platform.host_names(), domains, signed, &options)?;
    if let Some(smtp) = &smtp {
        crate::progress::stage("talking to the mail hosts' port 25", None);
        let mut checks = Vec::new();
        // Every inbound host, the primary first: each serves its own
        // certificate, which its own TLSA records (`[mail_host] tlsa` for the
        // primary, `[[hosts]] tlsa` for the others) must match.
        for (hostname, tlsa) in inbound_hosts(&model) {
            let primary = hostname == model.platform.hostname;
            // The expected address (the primary's), else every address the
            // host's name resolved to.
            let addresses: Vec<IpAddr> = match args.expect_ip.filter(|_| primary) {
                Some(ip) => vec![ip],
                None => report
                    .host
                    .iter()
                    .filter(|c| c.rtype == "A/AAAA" && c.name.trim_end_matches('.') == hostname)
                    .flat_map(|c| c.found.iter().filter_map(|a| a.parse().ok()))
                    .collect(),
            };
            let options = dns::smtp::SmtpOptions {
                tlsa: tlsa.to_vec(),
                ..smtp.clone()
            };
            checks.extend(dns::smtp::check(hostname, &addresses, &options));
        }
        crate::progress::finish();
        report.host.extend(checks);
    }
    match args.format {
        PlanFormat::Human => print!("{}", dns::render::human(&report)),
        PlanFormat::Markdown => print!("{}", dns::render::markdown(&report)),
        PlanFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&dns::render::json(&report)).expect("a report serialises")
        ),
    }
    if args.format != PlanFormat::Human {
        eprintln!("{}", dns::render::summary(&report));
    }
    Ok(match report.exit_code() {
        0 => EXIT_OK,
        code => ExitCode::from(code),
    })
}

/// The hosts that take mail on port 25, the primary first, each with the
/// TLSA records of its key.
fn inbound_hosts(model: &Model) -> Vec<(&str, &[String])> {
    let platform = &model.platform;
    let mut hosts = vec![(platform.hostname.as_str(), platform.tlsa.as_slice())];
    hosts.extend(
        platform
            .hosts
            .iter()
            .filter(|h| h.inbound && h.hostname != platform.hostname)
            .map(|h| (h.hostname.as_str(), h.tlsa.as_slice())),
    );
    hosts
}

pub(crate) fn records(
    dir: &Path,
    domains: &[String],
    format: RecordsFormat,
    nameserver: Option<&str>,
) -> Result<ExitCode> {
    let nameserver = nameserver.map(parse_nameserver).transpose()?;
    let model = compiled(dir, "no records")?;
    let names = chosen(&model, domains)?;
    // The DS of a signed zone is made by Route53 at apply: read from the
    // zone's live DNSKEY (only when a chosen zone is signed).
    let mut signed = signed_zones(&model, &names);
    let platform_zone = platform_signed_zone(&model, domains);
    signed.extend(platform_zone.clone());
    let mut ds: std::collections::BTreeMap<String, check::LiveDs> = if signed.is_empty() {
        std::collections::BTreeMap::new()
    } else {
        let options = check::Options {
            nameserver,
            ..check::Options::default()
        };
        check::published_keys_ds(&signed, &options)?
            .into_iter()
            .collect()
    };
    let mut zone = String::new();
    let mut json = Vec::new();
    for name in &names {
        let tenant = tenant_of(&model, name);
        let records = declared_in(model.platform.mail_hosts(), tenant, name);
        let keys = ds.remove(name);
        match format {
            RecordsFormat::Zone => {
                zone.push_str(&format!(
                    "; {name}: the records to publish for mail at {}, from {} (mailops dns records)\n",
                    model.platform.hostname, tenant.file
                ));
                zone.push_str(&dns::zone_lines(&records));
                if let Some(keys) = keys {
                    zone.push_str(&ds_lines(name, tenant.ttl, keys));
                }
            }
            RecordsFormat::Json => {
                json.extend(dns::records_json(name, &records));
                for key in keys.and_then(|k| k.ok()).unwrap_or_default() {
                    json.push(serde_json::json!({
                        "domain": name,
                        "name": name,
                        "type": "DS",
                        "ttl": tenant.ttl,
                        "purpose": "DNSSEC (at the registrar)",
                        "value": key.rdata(),
                    }));
                }
            }
        }
    }
    if let Some(name) = platform_zone
        && let Some(keys) = ds.remove(&name)
    {
        let ttl = model.platform.defaults.ttl;
        match format {
            RecordsFormat::Zone => {
                zone.push_str(&format!(
                    "; {name}: the mail host's zone (mailops.toml: [mail_host] dnssec = true)\n"
                ));
                zone.push_str(&ds_lines(&name, ttl, keys));
            }
            RecordsFormat::Json => {
                for key in keys.unwrap_or_default() {
                    json.push(serde_json::json!({
                        "domain": name,
                        "name": name,
                        "type": "DS",
                        "ttl": ttl,
                        "purpose": "DNSSEC (at the registrar)",
                        "value": key.rdata(),
                    }));
                }
            }
        }
    }
    match format {
        RecordsFormat::Zone => print!("{zone}"),
        RecordsFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json).expect("records serialise")
        ),
    }
    Ok(EXIT_OK)
}

/// The chosen zones that are signed (`[dns] dnssec`, or the alias domain of a
/// tenant with it; the mail host's zone with `[mail_host] dnssec`).
fn signed_zones(model: &Model, names: &[String]) -> Vec<String> {
    names
        .iter()
        .filter(|name| {
            tenant_of(model, name).dnssec
                || (model.platform.dnssec && **name == model.platform.zone)
        })
        .cloned()
        .collect()
}

/// The mail host's zone when `[mail_host] dnssec` signs it, no domain was
/// named (every one is listed) and it is no tenant's own.
fn platform_signed_zone(model: &Model, domains: &[String]) -> Option<String> {
    let zone = &model.platform.zone;
    let of_a_tenant = model.domains.contains_key(zone) || model.primary_of(zone).is_some();
    (model.platform.dnssec && domains.is_empty() && !of_a_tenant).then(|| zone.clone())
}

/// A signed zone's DS lines, for its registrar (the parent zone), or why
/// there is none yet.
fn ds_lines(zone: &str, ttl: u32, keys: check::LiveDs) -> String {
    match keys {
        Ok(keys) if !keys.is_empty() => {
            let mut out = format!(
                "; DNSSEC: the registrar of {zone} must publish (in the parent zone), from the zone's live key-signing key:\n"
            );
            for key in keys {
                out.push_str(&format!("{zone}. {ttl} IN DS {}\n", key.rdata()));
            }
            out
        }
        Ok(_) => format!(
            "; DNSSEC: {zone} publishes no key-signing DNSKEY yet: apply its Terraform root, then run this again for the DS its registrar must publish\n"
        ),
        Err(why) => format!(
            "; DNSSEC: the DNSKEY of {zone} could not be read ({}): run this again (or read the Terraform output of its root) for the DS its registrar must publish\n",
            crate::chars::printable(&why)
        ),
    }
}

/// `dns shards`: `<root> <domain>` per tenant, or the moves script.
pub(crate) fn shards(dir: &Path, moves: bool, from_shards: Option<u16>) -> Result<ExitCode> {
    let model = compiled(dir, "no shards")?;
    let platform = &model.platform;
    let shards = platform.aws.dns_shards;
    if let Some(from) = from_shards {
        if from == shards {
            return Err(Error::user(format!(
                "--from-shards {from} is the current `[aws] dns_shards`: no tenant moves; set the new count in mailops.toml first"
            )));
        }
        let moves =
            crate::emit::terraform_moves::reshard_moves(platform, model.domains.values(), from);
        print!(
            "{}",
            crate::emit::terraform_moves::reshard_script(&moves, from, shards)
        );
    } else if moves {
        let addresses = crate::emit::terraform_moves::addresses(platform, model.domains.values());
        print!(
            "{}",
            crate::emit::terraform_moves::script(&addresses, shards)
        );
    } else {
        let mut lines: Vec<String> = model
            .domains
            .keys()
            .map(|name| {
                let shard = crate::model::platform::dns_shard(name, shards);
                format!("{} {name}", crate::model::platform::dns_root(shard, shards))
            })
            .collect();
        lines.sort();
        for line in lines {
            println!("{line}");
        }
    }
    Ok(EXIT_OK)
}

/// The model of a repo without problems.
pub(crate) fn compiled(dir: &Path, refusal: &str) -> Result<Model> {
    // Every tenant parsed: a cached compile leaves unchanged tenants out of the model.
    let compiled = pipeline::compile(dir)?;
    validate::report(&compiled);
    if compiled.has_errors() {
        return Err(Error::user(format!(
            "{refusal}: fix the problems above first"
        )));
    }
    Ok(compiled.model)
}

/// The tenant whose records `zone` holds: its own domain or an alias domain
/// (a name `chosen` gave).
fn tenant_of<'m>(model: &'m Model, zone: &str) -> &'m crate::model::Domain {
    model
        .domains
        .get(zone)
        .or_else(|| model.primary_of(zone))
        .expect("a chosen name is a tenant or an alias domain")
}

/// The A-labels of the domains named (Unicode or A-label), or every domain:
/// a tenant's, followed by its alias domains; an alias domain alone.
fn chosen(model: &Model, domains: &[String]) -> Result<Vec<String>> {
    let with_aliases = |out: &mut Vec<String>, tenant: &crate::model::Domain| {
        for name in tenant.signing_names() {
            if !out.iter().any(|n| n == name) {
                out.push(name.to_string());
            }
        }
    };
    let mut out = Vec::with_capacity(domains.len());
    if domains.is_empty() {
        for tenant in model.domains.values() {
            with_aliases(&mut out, tenant);
        }
        return Ok(out);
    }
    let mut unknown = Vec::new();
    for domain in domains {
        let name = idna::domain_to_ascii(domain.trim_end_matches('.'))
            .unwrap_or_else(|_| domain.to_ascii_lowercase());
        if let Some(tenant) = model.domains.get(&name) {
            with_aliases(&mut out, tenant);
        } else if model.alias_domains.contains_key(&name) {
            if !out.contains(&name) {
                out.push(name);
            }
        } else {
            unknown.push(crate::chars::printable(domain).into_owned());
        }
    }
    if !unknown.is_empty() {
        return Err(Error::user(format!(
            "no tenant file declares {} (tenants/<domain>.toml, or its alias_domains)",
            unknown.join(", ")
        )));
    }
    Ok(out)
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 when none is given.
fn parse_nameserver(text: &str) -> Result<SocketAddr> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = text.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    Err(Error::user(format!(
        "--nameserver `{}` is not an address: give `IP`, `IP:PORT` or `[IPv6]:PORT`",
        crate::chars::printable(text)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nameservers_parse_with_and_without_port() {
        assert_eq!(
            parse_nameserver("127.0.0.1").unwrap().to_string(),
            "127.0.0.1:53"
        );
        assert_eq!(parse_nameserver("127.0.0.2:5353").unwrap().port(), 5353);
        assert_eq!(parse_nameserver("[::1]:5300").unwrap().port(), 5300);
        assert_eq!(parse_nameserver("::1").unwrap().port(), 53);
        assert!(parse_nameserver("ns.example").is_err());
    }
}
