//! Terraform for the mail host and each tenant's Route53 records, in
//! independent roots (each its own state), so that a one-tenant change plans
//! and applies one small root, never all 40,000 records at Route53's five
//! requests a second:
//!
//! - `terraform/host/main.tf`: everything about the platform (provider, the
//!   instance, its address, PTR, security group, the host's A record, the
//!   instance profile that reads the deploy key and publishes the host's age
//!   recipient in SSM), a function of `mailops.toml` alone;
//! - `terraform/dns-<shard>/`, one root per shard (`[aws] dns_shards`, see
//!   [`crate::model::platform::dns_shard`]): a `main.tf` (provider, no
//!   tenant; written for every shard, an empty one too, so that no state is
//!   ever orphaned) and each of its tenants' `dns_<domain>.tf` with the MX,
//!   SPF, DMARC and DKIM records, named after the domain
//!   (`aws_route53_record.acme_example_mx`, see [`hcl::identifier`]) so that a
//!   tenant's resources keep their addresses however the set of tenants
//!   changes.
//!
//! No root reads another's state: a tenant's MX names the mail host, whose
//! name mailops knows at compile time, and its zone is its own.
//!
//! Templates give the shape; values go through the `hcl_*`, `tf_name` and
//! `route53_txt` filters; [`hcl_format::format`] then lays the text out the
//! way `terraform fmt` does.

use serde::Serialize;

use crate::emit::header::header;
use crate::emit::{Artifacts, engine, hcl, hcl_format, render, route53};
use crate::model::platform::{dns_root, dns_shard};
use crate::model::{Domain, Platform, records};

const MAIN_TF: &str = include_str!("templates/terraform/main.tf");
const SHARD_TF: &str = include_str!("templates/terraform/shard.tf");
const DNS_TF: &str = include_str!("templates/terraform/dns.tf");
const DNSSEC_TF: &str = include_str!("templates/terraform/dnssec.tf");
const HOSTS_TF: &str = include_str!("templates/terraform/hosts.tf");

/// The root of the mail host, under `generated/`.
pub(crate) const HOST_ROOT: &str = "terraform/host";

/// Add every root's `main.tf` and one `dns_<domain>.tf` per tenant.
#[cfg(test)]
pub(crate) fn emit(model: &crate::model::Model, out: &mut Artifacts) {
    emit_main(&model.platform, out);
    emit_dns(&model.platform, model.domains.values(), out);
}

/// Add `terraform/README.md`, `terraform/host/main.tf` and each DNS root's
/// `main.tf` (they depend on the platform only).
pub(crate) fn emit_main(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[
        ("dnssec.tf", DNSSEC_TF),
        ("hosts.tf", HOSTS_TF),
        ("main.tf", MAIN_TF),
        ("shard.tf", SHARD_TF),
    ]);
    out.add("terraform/README.md", readme(platform));
    out.add(format!("{HOST_ROOT}/main.tf"), main_tf(&tera, platform));
    let shards = platform.aws.dns_shards;
    for shard in 0..shards {
        out.add(
            format!("terraform/{}/main.tf", dns_root(shard, shards)),
            shard_tf(&tera, platform, shard),
        );
    }
}

/// Add the `dns_<domain>.tf` of each of these domains, in its shard's root.
pub(crate) fn emit_dns<'m>(
    platform: &Platform,
    domains: impl IntoIterator<Item = &'m Domain>,
    out: &mut Artifacts,
) {
    let tera = engine(&[("dnssec.tf", DNSSEC_TF), ("dns.tf", DNS_TF)]);
    let domains: Vec<&Domain> = domains.into_iter().collect();
    let shards = platform.aws.dns_shards;
    let files = crate::parallel::map_chunks(&domains, |part| {
        part.iter()
            .map(|domain| {
                (
                    dns_path(&domain.name, shards),
                    dns_tf(&tera, platform, domain),
                )
            })
            .collect::<Vec<_>>()
    });
    for (path, contents) in files.into_iter().flatten() {
        out.add(path, contents);
    }
}

/// `terraform/dns-<shard>/dns_<A-label>.tf`.
pub(crate) fn dns_path(domain: &str, shards: u16) -> String {
    format!(
        "terraform/{}/dns_{domain}.tf",
        dns_root(dns_shard(domain, shards), shards)
    )
}

/// The tenant whose DNS file this is (`terraform/dns-<shard>/dns_<domain>.tf`).
pub(crate) fn dns_file_domain(path: &str) -> Option<&str> {
    let (root, file) = path.strip_prefix("terraform/")?.split_once('/')?;
    is_dns_root(root).then_some(())?;
    file.strip_prefix("dns_")?.strip_suffix(".tf")
}

/// `dns-` and digits: the name of a DNS root.
pub(crate) fn is_dns_root(name: &str) -> bool {
    name.strip_prefix("dns-")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[derive(Serialize)]
struct ShardContext {
    header: String,
    root: String,
    shard_number: u32,
    shards: u16,
    region: String,
}

fn shard_tf(tera: &tera::Tera, platform: &Platform, shard: u16) -> String {
    let shards = platform.aws.dns_shards;
    let context = ShardContext {
        header: header("#", "mailops.toml"),
        root: dns_root(shard, shards),
        shard_number: u32::from(shard) + 1,
        shards,
        region: platform.aws.region.clone(),
    };
    to_hcl(tera, "shard.tf", &context)
}

/// `terraform/README.md`: the roots and the backend layout.
fn readme(platform: &Platform) -> String {
    let shards = platform.aws.dns_shards;
    let last = dns_root(shards - 1, shards);
    format!(
        "<!-- {marker} from mailops.toml; do not edit -->\n\
         # generated/terraform\n\
         \n\
         Independent Terraform roots, each with its own state; run `terraform` in one root at a time.\n\
         \n\
         | root | holds | state key |\n\
         |---|---|---|\n\
         | `host/` | the mail host {hostname}: instance, Elastic IP, A and PTR records, security group, instance profile | `mailops/host.tfstate` |\n\
         | `dns-00/` … `{last}/` | the Route53 records of the tenants of each of the {shards} shards (`[aws] dns_shards`), one `dns_<domain>.tf` per tenant | `mailops/dns-<shard>.tfstate` |\n\
         \n\
         A tenant's shard is the first eight octets of the SHA-256 of its domain (the A-label),\n\
         read as a big-endian number, modulo {shards}: it never changes while the count does not.\n\
         A change to one tenant changes files in its root only, so CI plans and applies only the\n\
         roots whose files changed. No root reads another's state.\n\
         \n\
         Backend: one S3 bucket, one key per root as above (CI writes a `backend \"s3\" {{}}` block\n\
         and passes `-backend-config=key=mailops/<root>.tfstate`). An empty shard keeps its `main.tf`,\n\
         so removing its last tenant destroys that tenant's records.\n\
         \n\
         From the single-root layout (one state holding everything): `mailops dns shards --moves`\n\
         prints the `terraform state mv` commands that move each resource into its root's state.\n",
        marker = crate::emit::header::MARKER,
        hostname = platform.hostname,
    )
}

#[derive(Serialize)]
struct MainContext<'a> {
    header: String,
    hostname: &'a str,
    zone: &'a str,
    zone_id: Option<&'a str>,
    region: &'a str,
    instance_type: &'a str,
    volume_size_gb: u32,
    admin_cidrs: &'a [String],
    ttl: u32,
    /// `[mail_host] pop3`: open POP3S (995).
    pop3: bool,
    /// `[mail_host] srs_domain` (SRS on): its SPF record, and its MX when it
    /// is not the host name.
    srs: Option<Srs<'a>>,
    boot_settings_placeholder: &'static str,
    #[serde(flatten)]
    dnssec: Dnssec,
    /// `[mail_host] tlsa`: the records of `tlsa_name`.
    tlsa: &'a [String],
    tlsa_name: String,
    /// `[[hosts]]`: the hosts, their network and the rules between them
    /// (`None`: one host, the Terraform of a single-host platform).
    hosts: Option<HostsContext<'a>>,
}

#[derive(Serialize)]
struct HostsContext<'a> {
    /// The primary host's name.
    primary: &'a str,
    /// The names in words, for the header.
    names: String,
    private_cidr: &'a str,
    list: Vec<HostEntry<'a>>,
    rules: Vec<ClusterRule>,
    /// The other hosts with TLSA records (`[[hosts]] tlsa`), each at
    /// `_25._tcp.<its hostname>` (the primary's are `tlsa`).
    tlsa: Vec<HostTlsa<'a>>,
}

#[derive(Serialize)]
struct HostTlsa<'a> {
    name: &'a str,
    /// `_25._tcp.<hostname>`.
    record_name: String,
    records: &'a [String],
}

#[derive(Serialize)]
struct HostEntry<'a> {
    name: &'a str,
    hostname: &'a str,
    private_ip: String,
    instance_type: &'a str,
    volume_size_gb: u32,
}

/// An ingress rule between the hosts (source: their security group).
#[derive(Serialize)]
struct ClusterRule {
    key: &'static str,
    protocol: &'static str,
    port: u16,
    description: &'static str,
}

/// The ports the hosts open to each other: Galera (SQL, state snapshot
/// transfer, replication over TCP and UDP, incremental state transfer), LMTP
/// to a mailbox's home host, and the logins the Dovecot proxy forwards.
fn cluster_rules(pop3: bool) -> Vec<ClusterRule> {
    let rule = |key, protocol, port, description| ClusterRule {
        key,
        protocol,
        port,
        description,
    };
    let mut rules = vec![
        rule(
            "galera_sql",
            "tcp",
            3306,
            "MariaDB clients and Galera SQL between hosts",
        ),
        rule("galera_sst", "tcp", 4444, "Galera state snapshot transfer"),
        rule("galera_tcp", "tcp", 4567, "Galera replication"),
        rule(
            "galera_udp",
            "udp",
            4567,
            "Galera replication (multicast-free UDP)",
        ),
        rule(
            "galera_ist",
            "tcp",
            4568,
            "Galera incremental state transfer",
        ),
        rule("lmtp", "tcp", 24, "LMTP delivery to a mailbox's home host"),
        rule(
            "doveadm",
            "tcp",
            crate::emit::mail_host::DOVEADM_PORT,
            "Dovecot's doveadm server: moving a mailbox's mail between hosts",
        ),
        rule(
            "submission",
            "tcp",
            587,
            "Submission proxied to a mailbox's home host",
        ),
        rule(
            "imaps",
            "tcp",
            993,
            "IMAPS proxied to a mailbox's home host",
        ),
    ];
    if pop3 {
        rules.push(rule(
            "pop3s",
            "tcp",
            995,
            "POP3S proxied to a mailbox's home host",
        ));
    }
    rules
}

fn hosts_context(platform: &Platform) -> Option<HostsContext<'_>> {
    if !platform.hosts_declared {
        return None;
    }
    let primary = platform
        .hosts
        .iter()
        .find(|h| h.hostname == platform.hostname)?;
    let names: Vec<&str> = platform.hosts.iter().map(|h| h.name.as_str()).collect();
    Some(HostsContext {
        primary: &primary.name,
        names: names.join(", "),
        private_cidr: &platform.private_cidr,
        list: platform
            .hosts
            .iter()
            .map(|h| HostEntry {
                name: &h.name,
                hostname: &h.hostname,
                private_ip: h.private_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                instance_type: &h.instance_type,
                volume_size_gb: h.volume_size_gb,
            })
            .collect(),
        rules: cluster_rules(platform.pop3),
        tlsa: platform
            .hosts
            .iter()
            .filter(|h| h.hostname != platform.hostname && !h.tlsa.is_empty())
            .map(|h| HostTlsa {
                name: &h.name,
                record_name: format!("_25._tcp.{}", h.hostname),
                records: &h.tlsa,
            })
            .collect(),
    })
}

/// What `dnssec.tf` declares: a KMS key, and a key-signing key, signing and
/// the DS output for each zone (none of it unless `dnssec`).
#[derive(Serialize)]
struct Dnssec {
    dnssec: bool,
    /// The KMS key's name (and its policy's): the tenant's, or `platform`.
    key_id: String,
    key_description: String,
    /// The zones in words, for the comment.
    signed_zones: String,
    dnssec_zones: Vec<DnssecZone>,
}

#[derive(Serialize)]
struct DnssecZone {
    domain: String,
    zone_ref: String,
    ds_description: String,
}

impl Dnssec {
    fn new(on: bool, key_id: String, zones: &[(&str, String)]) -> Dnssec {
        let names: Vec<&str> = zones.iter().map(|(domain, _)| *domain).collect();
        let signed_zones = match names.as_slice() {
            [one] => format!("the zone {one}"),
            [rest @ .., last] => format!("the zones {} and {last}", rest.join(", ")),
            [] => String::new(),
        };
        Dnssec {
            dnssec: on,
            key_description: format!(
                "mailops: the DNSSEC key-signing key of {}",
                names.join(", ")
            ),
            key_id,
            signed_zones,
            dnssec_zones: zones
                .iter()
                .map(|(domain, zone_ref)| DnssecZone {
                    domain: domain.to_string(),
                    zone_ref: zone_ref.clone(),
                    ds_description: format!(
                        "The DS record the registrar of {domain} must publish (mailops dns records prints it too)."
                    ),
                })
                .collect(),
        }
    }
}

#[derive(Serialize)]
struct Srs<'a> {
    domain: &'a str,
    spf: String,
    /// `10 mx.webhizzy.in.` (one per inbound host) when the SRS domain is
    /// not the host itself.
    mx: Option<Vec<String>>,
}

/// The SPF record of the SRS domain: every host may send mail forwarded
/// off the platform, so each is named (`a:<hostname>`, one host: the host).
fn srs_spf(platform: &Platform) -> String {
    let mut hostnames: Vec<&str> = platform.hosts.iter().map(|h| h.hostname.as_str()).collect();
    hostnames.sort_unstable();
    let names: Vec<String> = hostnames.iter().map(|h| format!("a:{h}")).collect();
    format!("v=spf1 {} -all", names.join(" "))
}

fn main_tf(tera: &tera::Tera, platform: &Platform) -> String {
    let context = MainContext {
        header: header("#", "mailops.toml"),
        hostname: &platform.hostname,
        zone: &platform.zone,
        zone_id: platform.zone_id.as_deref(),
        region: &platform.aws.region,
        instance_type: &platform.aws.instance_type,
        volume_size_gb: platform.aws.volume_size_gb,
        admin_cidrs: &platform.aws.admin_cidrs,
        ttl: platform.defaults.ttl,
        pop3: platform.pop3,
        srs: platform.srs_domain.as_deref().map(|domain| Srs {
            domain,
            spf: srs_spf(platform),
            mx: (domain != platform.hostname).then(|| platform.mx_values()),
        }),
        boot_settings_placeholder: crate::emit::cloud_init::BOOT_SETTINGS_PLACEHOLDER,
        tlsa: &platform.tlsa,
        // As `mailops tls tlsa` names it: SMTP on port 25.
        tlsa_name: format!("_25._tcp.{}", platform.hostname),
        hosts: hosts_context(platform),
        dnssec: Dnssec::new(
            platform.dnssec,
            "platform".to_string(),
            &[(
                platform.zone.as_str(),
                "data.aws_route53_zone.platform.zone_id".to_string(),
            )],
        ),
    };
    to_hcl(tera, "main.tf", &context)
}

#[derive(Serialize)]
struct DnsContext<'a> {
    header: String,
    summary: String,
    /// `[dns] managed`: false, a file of comments only (the tenant keeps its
    /// file, which names it as compiled, in its root).
    managed: bool,
    description: Option<&'a str>,
    /// The tenant's domain, then each alias domain: the same records in
    /// each one's own hosted zone.
    zones: Vec<Zone<'a>>,
    ttl: u32,
    mx: Vec<String>,
    spf: String,
    dmarc: String,
    /// The report domains (not one of the tenant's zones) whose zones are
    /// looked up for the DMARC report authorization records.
    report_zones: Vec<ReportZone>,
    #[serde(flatten)]
    dnssec: Dnssec,
}

/// A platform report domain's zone, looked up by name (or the host zone's
/// declared id).
#[derive(Serialize)]
struct ReportZone {
    domain: String,
    /// Whether a `data` block looks it up (no declared id).
    lookup: bool,
}

/// `<zone>._report._dmarc.<report domain>` TXT `v=DMARC1`.
#[derive(Serialize)]
struct ReportRecord {
    /// Suffix of the resource name: `dmarc_report_<report domain>`.
    resource: String,
    zone_ref: String,
    name: String,
    record: &'static str,
}

/// One hosted zone's records: the tenant's domain or an alias domain.
#[derive(Serialize)]
struct Zone<'a> {
    domain: &'a str,
    /// `[dns] zone_id`, for the tenant's own domain only; an alias domain's
    /// zone is looked up by its name.
    zone_id: Option<&'a str>,
    /// The records' `zone_id` (HCL): the declared id as a literal, so no
    /// lookup at all (the provider's lookup of a zone lists zones, which at
    /// thousands of zones dominates a plan); else the `data` block's.
    zone_ref: String,
    dmarc_name: String,
    dmarc_reports: Vec<ReportRecord>,
    dkim: Vec<DkimRecord>,
    /// `default._bimi.<zone>` and its text.
    bimi: Option<(String, String)>,
    /// MTA-STS, TLS-RPT and client autoconfiguration records.
    mta_sts: Vec<PlainRecord>,
}

/// A record of [`records::mta_sts_records`]: one value, TXT ones already in
/// Route53's quoted form.
#[derive(Serialize)]
struct PlainRecord {
    /// Suffix of the resource name: `mta_sts`, `tls_rpt`, `srv_imaps`…
    resource: String,
    name: String,
    rtype: &'static str,
    value: String,
}

fn plain_records(platform: &Platform, domain: &Domain, zone: &str) -> Vec<PlainRecord> {
    use records::Purpose;
    records::mta_sts_records(platform.mail_hosts(), domain, zone)
        .into_iter()
        .map(|record| PlainRecord {
            resource: match &record.purpose {
                Purpose::MtaSts => "mta_sts".to_string(),
                Purpose::MtaStsHost => "mta_sts_host".to_string(),
                Purpose::TlsRpt => "tls_rpt".to_string(),
                Purpose::Autoconfig => "autoconfig".to_string(),
                Purpose::Srv(service) => format!(
                    "srv_{}",
                    service
                        .trim_start_matches('_')
                        .split('.')
                        .next()
                        .unwrap_or("")
                ),
                other => unreachable!("not an MTA-STS record: {other:?}"),
            },
            rtype: record.purpose.rtype(),
            value: if record.purpose.rtype() == "TXT" {
                crate::emit::route53::txt_value(&record.value)
            } else {
                record.value
            },
            name: record.name,
        })
        .collect()
}

/// One `<selector>._domainkey` TXT record.
#[derive(Serialize)]
struct DkimRecord {
    /// Suffix of the resource name: `dkim` for the first key (the name a
    /// one-key tenant always had, so its address never moves), then
    /// `dkim_<selector>` for each further key.
    resource: String,
    name: String,
    record: String,
}

fn dns_tf(tera: &tera::Tera, platform: &Platform, domain: &Domain) -> String {
    let name = &domain.name;
    let shown = if domain.unicode == *name {
        name.clone()
    } else {
        format!("{name} ({})", domain.unicode)
    };
    let dkim_of = |zone: &str| -> Vec<DkimRecord> {
        domain
            .dkim
            .iter()
            .enumerate()
            // A retired key leaves DNS; the others keep the resource name of
            // their place in the file, so retiring one moves no other.
            .filter(|(_, key)| key.deployed())
            .map(|(i, key)| DkimRecord {
                resource: if i == 0 {
                    "dkim".to_string()
                } else {
                    format!("dkim_{}", key.selector)
                },
                name: format!("{}._domainkey.{zone}", key.selector),
                record: key.record(),
            })
            .collect()
    };
    // The report domains' zones: a tenant's own zone by its reference, the
    // host's zone by its declared id, any other by a lookup.
    let zone_ref_of = |zone: &str| -> String {
        let declared = if zone == name {
            domain.zone_id.as_deref()
        } else if zone == platform.zone {
            platform.zone_id.as_deref()
        } else {
            None
        };
        match declared {
            Some(id) => crate::emit::hcl::string(id),
            None => format!(
                "data.aws_route53_zone.{}.zone_id",
                crate::emit::hcl::identifier(zone)
            ),
        }
    };
    // A tenant whose DNS is elsewhere still has its reports authorized in
    // the platform's report zones (not in its own, which it publishes itself).
    let own_zone = |report: &str| domain.signing_names().any(|zone| zone == report);
    let report_zones: Vec<ReportZone> = domain
        .dmarc_report_domains
        .iter()
        .filter(|report| !own_zone(report))
        .map(|report| ReportZone {
            domain: report.clone(),
            lookup: !(report == &platform.zone && platform.zone_id.is_some()),
        })
        .collect();
    let reports_of = |zone: &str| -> Vec<ReportRecord> {
        domain
            .dmarc_report_domains
            .iter()
            .filter(|report| records::needs_report_authorization(zone, report))
            .filter(|report| domain.dns_managed || !own_zone(report))
            .map(|report| ReportRecord {
                resource: format!("dmarc_report_{report}"),
                zone_ref: zone_ref_of(report),
                name: records::report_authorization_name(zone, report),
                record: records::REPORT_AUTHORIZATION,
            })
            .collect()
    };
    let zones: Vec<Zone> = domain
        .signing_names()
        .map(|zone| {
            let zone_id = if zone == name {
                domain.zone_id.as_deref()
            } else {
                None
            };
            Zone {
                domain: zone,
                zone_id,
                zone_ref: match zone_id {
                    Some(id) => crate::emit::hcl::string(id),
                    None => format!(
                        "data.aws_route53_zone.{}.zone_id",
                        crate::emit::hcl::identifier(zone)
                    ),
                },
                dmarc_name: format!("_dmarc.{zone}"),
                dmarc_reports: reports_of(zone),
                dkim: dkim_of(zone),
                bimi: domain
                    .bimi
                    .as_ref()
                    .map(|b| (records::bimi_name(zone), b.record())),
                mta_sts: plain_records(platform, domain, zone),
            }
        })
        .collect();
    let dkim = &zones[0].dkim;
    // Every record mailops publishes is ASCII; `route53::split_strings`
    // would still never cut a character, but the 255-octet cut is exact only
    // for ASCII.
    debug_assert!(
        dkim.iter().all(|d| d.record.is_ascii())
            && domain.spf.record().is_ascii()
            && domain.dmarc.record().is_ascii()
            && domain.bimi.as_ref().is_none_or(|b| b.record().is_ascii())
    );
    debug_assert!(
        zones
            .iter()
            .all(|z| hcl::is_identifier(&hcl::identifier(z.domain))),
        "{name}"
    );
    let aliases: Vec<&str> = domain
        .alias_domains
        .iter()
        .map(|a| a.name.as_str())
        .collect();
    let also = if aliases.is_empty() {
        String::new()
    } else {
        format!(
            " The same records for its alias domains: {}.",
            aliases.join(", ")
        )
    };
    // The mail host's zone, when `[mail_host] dnssec` signs it, is signed
    // by the host's root (one key-signing key per zone).
    let signed: Vec<(&str, String)> = zones
        .iter()
        .filter(|z| domain.dnssec && !(platform.dnssec && z.domain == platform.zone))
        .map(|z| (z.domain, z.zone_ref.clone()))
        .collect();
    let dnssec = Dnssec::new(!signed.is_empty(), hcl::identifier(name), &signed);
    let context = DnsContext {
        dnssec,
        header: header("#", &domain.file),
        summary: if domain.dns_managed {
            format!(
                "Route53 records of the tenant {shown}: MX, SPF, DMARC, DKIM, MTA-STS, TLS-RPT{} and client autoconfiguration.{also}",
                if domain.bimi.is_some() { ", BIMI" } else { "" }
            )
        } else {
            format!(
                "The tenant {shown} has its DNS hosted elsewhere ([dns] managed = false): none of its zones' records is declared here{}. `mailops dns records {name}` prints the records its DNS administrator must publish; `mailops dns check {name}` checks them.",
                if zones.iter().any(|z| !z.dmarc_reports.is_empty()) {
                    ", only the authorization of its DMARC reports in the platform's report zones"
                } else {
                    ""
                }
            )
        },
        managed: domain.dns_managed,
        description: domain
            .description
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty()),
        ttl: domain.ttl,
        mx: crate::model::records::mx_values(platform.mail_hosts(), domain),
        spf: domain.spf.record(),
        dmarc: domain.dmarc.record(),
        report_zones,
        zones,
    };
    match dns_text(&context) {
        Some(text) => {
            debug_assert_eq!(text, to_hcl(tera, "dns.tf", &context), "{name}");
            text
        }
        None => to_hcl(tera, "dns.tf", &context),
    }
}

/// `dns.tf` as the template renders it and `hcl_format` lays it out,
/// written directly (already in `terraform fmt`'s layout: every block is a
/// run of assignments of one-line values, the `=` aligned after `zone_id`
/// and `records`) for a tenant whose DNS is in Route53 without DNSSEC:
/// nearly every tenant, where rendering through tera and formatting took
/// half the time of the whole emit. `None` for the others (the template
/// renders theirs). Debug builds check the result against the template's.
fn dns_text(c: &DnsContext<'_>) -> Option<String> {
    use std::fmt::Write as _;
    if !c.managed || c.dnssec.dnssec {
        return None;
    }
    let mut out = String::with_capacity(4096);
    out.push_str(&c.header);
    out.push_str("#\n");
    out.push_str(&hcl::comment(&c.summary));
    if let Some(description) = c.description {
        out.push_str("#\n");
        out.push_str(&hcl::comment(description));
    }
    let ttl = c.ttl;
    let record = |out: &mut String,
                  name: &str,
                  zone_ref: &str,
                  record: &str,
                  rtype: &str,
                  values: &str| {
        let _ = write!(
            out,
            "\nresource \"aws_route53_record\" \"{name}\" {{\n  zone_id = {zone_ref}\n  name    = {record}\n  type    = \"{rtype}\"\n  ttl     = {ttl}\n  records = [{values}]\n}}\n"
        );
    };
    let mx: Vec<String> = c.mx.iter().map(|v| hcl::string(v)).collect();
    let mx = mx.join(", ");
    let spf = hcl::string(&route53::txt_value(&c.spf));
    let dmarc = hcl::string(&route53::txt_value(&c.dmarc));
    for zone in &c.zones {
        let id = hcl::identifier(zone.domain);
        let domain = hcl::string(zone.domain);
        if zone.zone_id.is_none() {
            let _ = write!(
                out,
                "\ndata \"aws_route53_zone\" \"{id}\" {{\n  name = {domain}\n}}\n"
            );
        }
        let zone_ref = &zone.zone_ref;
        record(&mut out, &format!("{id}_mx"), zone_ref, &domain, "MX", &mx);
        record(
            &mut out,
            &format!("{id}_spf"),
            zone_ref,
            &domain,
            "TXT",
            &spf,
        );
        let dmarc_name = hcl::string(&zone.dmarc_name);
        record(
            &mut out,
            &format!("{id}_dmarc"),
            zone_ref,
            &dmarc_name,
            "TXT",
            &dmarc,
        );
        for key in &zone.dkim {
            record(
                &mut out,
                &format!("{id}_{}", hcl::identifier(&key.resource)),
                zone_ref,
                &hcl::string(&key.name),
                "TXT",
                &hcl::string(&route53::txt_value(&key.record)),
            );
        }
        for plain in &zone.mta_sts {
            record(
                &mut out,
                &format!("{id}_{}", plain.resource),
                zone_ref,
                &hcl::string(&plain.name),
                plain.rtype,
                &hcl::string(&plain.value),
            );
        }
        if let Some((name, value)) = &zone.bimi {
            record(
                &mut out,
                &format!("{id}_bimi"),
                zone_ref,
                &hcl::string(name),
                "TXT",
                &hcl::string(&route53::txt_value(value)),
            );
        }
    }
    for zone in &c.zones {
        let id = hcl::identifier(zone.domain);
        for report in &zone.dmarc_reports {
            record(
                &mut out,
                &format!("{id}_{}", hcl::identifier(&report.resource)),
                &report.zone_ref,
                &hcl::string(&report.name),
                "TXT",
                &hcl::string(report.record),
            );
        }
    }
    for report in c.report_zones.iter().filter(|r| r.lookup) {
        let _ = write!(
            out,
            "\n# The zone of {domain}, which receives this tenant's DMARC reports\n# ([mail_host] dmarc_report_domains) and authorizes them here.\ndata \"aws_route53_zone\" \"{id}\" {{\n  name = {name}\n}}\n",
            domain = report.domain,
            id = hcl::identifier(&report.domain),
            name = hcl::string(&report.domain),
        );
    }
    Some(out)
}

fn to_hcl(tera: &tera::Tera, template: &str, context: &impl Serialize) -> String {
    let context = tera::Context::from_serialize(context)
        .unwrap_or_else(|e| panic!("{template} context serialises: {e}"));
    hcl_format::format(&render(tera, template, &context))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;
    use crate::model::Model;

    const ED25519: &str = "MCowBQYDK2VwAyEAv8POTZ9N5ZyR4KFkbI8n6DdbL1WhwNR3gGguseHoLRw=";
    const RSA2048: &str = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA0YgwsRQjcqJNN9FVl8Y0mE6aGTBWNdKW1hEPCAsA8JGiG/UbUFRh/GWsuXGdAnK+YMqJoM/NY8G8chtiNMofGUfBDvT1NqJlhxI8MvbbsVPbkHq5KR/vOOQKahX4+m6Zigd1kLAAhX3EGyoEf/om/mFlWY4Jol3r5tRyF73wXdwn0hdb+i6YXwYDMtufJ+NVIOKNfFTM07wJb3j7E4lf/KdBkBIR7q7EanykJLk0TwTklI8qLk4Nxhri4Nrdnw3KINCScmSVaMKuBLk0gET0CraGH/uhcS6Y4GZat/9bTmE7DeQo9yeaExf/H+BKrn0YuVOg1fTp/OHr35psyGU0wwIDAQAB";
    const RSA4096: &str = "MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEArcXYw3KSzBRjm2EFyPihGGG4UTPgTO+YRA592iw6hvGHUW1oKxc/JPZQYnw9MOlznPTCL5V0tye+WT+CsPPG7Mj1feZlegr9nqNpDD1uKAL7sASIUfkqRB9H78NpsrU217VsZeKBQKPiAEfPuHABRIwoKQuFlGGLYBIkDmbf299a3ubca31TVAbS9cTOvSoX7T1ndJ0BC0M7/p8UvamwHtKJOyPUi6Qwi6Zrz7K4lHzEod/tUP6zVfJiWWD5PvtVmTELZ2HK2qOWYwU6xk8Lv4y1tnskXbLwcRyZT3Jjc6O+TBqll2lTXXX9SqfgqYDnwcndqdV1XlrRF/xCKCWjPq9dLGIdq0lVOPkQW+vS87EwtqxI0eRb4ld8KQMLJvZvh/zYJnFiS4Sk4Nr2qNUUxCZBlMsqsQgeQCpbX3tOEtTFYhTEq2wd1vMzv6KVCIJsGQk8D2idOi+yPsZBTqEBnZ019ySAg79Z+l3mPNO1CXLrdVSbiMakejdowb/CW6HZid9gLljF2yHT30RtZwRMI5DP/k4GC/p8kS/Ccoi7J7fQvRGDFtgiDmETsFbz37tXFz1k0Qy8b4gHeJkC912yVeIzdrYLwkcPE8VA+k0Yn9kCWYKKh0KFfsq/lYt9tPn9sero2WVpyIzPgT/uffxdthIHev05FyGmzHpd7f6WszMCAwEAAQ==";

    /// A tenant file with the RFC 2142 aliases; `extra` goes at the top level.
    /// An Ed25519 key comes with an RSA key beside it (`dkim-rsa`), as
    /// validation requires.
    fn tenant(domain: &str, extra: &str, dns: &str, key: &str) -> String {
        let dkim = if key == ED25519 {
            format!(
                "[[dkim]]\nselector = \"dkim\"\npublic_key = \"{key}\"\n\n[[dkim]]\nselector = \"dkim-rsa\"\npublic_key = \"{RSA2048}\"\n"
            )
        } else {
            format!("[dkim]\nselector = \"dkim\"\npublic_key = \"{key}\"\n")
        };
        format!(
            "domain = \"{domain}\"\n{extra}\n[dns]\n{dns}\n{dkim}\n             [[alias]]\naddress = \"postmaster\"\nto = [\"ops@elsewhere.example\"]\n\n             [[alias]]\naddress = \"abuse\"\nto = [\"ops@elsewhere.example\"]\n"
        )
    }

    /// Compile a mail repo holding the project's mailops.toml and these
    /// tenant files; every file must validate.
    fn compile(tenants: &[(&str, String)]) -> Model {
        let dir = tempfile::tempdir().expect("temp dir");
        let platform = Path::new(env!("CARGO_MANIFEST_DIR")).join("mailops.toml");
        std::fs::copy(platform, dir.path().join("mailops.toml")).expect("copy mailops.toml");
        std::fs::create_dir(dir.path().join("tenants")).expect("tenants/");
        for (domain, text) in tenants {
            std::fs::write(
                dir.path().join("tenants").join(format!("{domain}.toml")),
                text,
            )
            .expect("write tenant");
        }
        let compiled = crate::pipeline::compile(dir.path()).expect("compile");
        assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
        compiled.model
    }

    /// Like [`compile`], with `lines` added to `[mail_host]` of mailops.toml.
    fn compile_with_host(lines: &str, tenants: &[(&str, String)]) -> Model {
        let platform =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("mailops.toml"))
                .unwrap()
                .replacen(
                    "hostname = \"mx.webhizzy.in\"\n",
                    &format!("hostname = \"mx.webhizzy.in\"\n{lines}"),
                    1,
                );
        assert!(platform.contains(lines), "{platform}");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mailops.toml"), &platform).unwrap();
        std::fs::create_dir(dir.path().join("tenants")).unwrap();
        for (domain, text) in tenants {
            std::fs::write(dir.path().join(format!("tenants/{domain}.toml")), text).unwrap();
        }
        let compiled = crate::pipeline::compile(dir.path()).expect("compile");
        assert!(!compiled.has_errors(), "{:#?}", compiled.diagnostics);
        compiled.model
    }

    fn files(model: &Model) -> Artifacts {
        let mut out = Artifacts::default();
        emit(model, &mut out);
        out
    }

    fn acme() -> (&'static str, String) {
        (
            "acme.example",
            tenant(
                "acme.example",
                "description = \"Acme \\\"Corp\\\" \\\\ ${var.x} %{ if true }\\n}\\nresource \\\"evil\\\" \\\"x\\\" {\\n\"",
                "ttl = 300\nzone_id = \"Z0123456789ABC\"\ndmarc = { policy = \"reject\", rua = [\"mailto:dmarc@acme.example\"] }",
                ED25519,
            ),
        )
    }

    fn webhizzy() -> (&'static str, String) {
        ("webhizzy.in", tenant("webhizzy.in", "", "", RSA2048))
    }

    #[test]
    fn main_tf_snapshot() {
        let out = files(&compile(&[webhizzy()]));
        insta::assert_snapshot!(
            "main.tf",
            out.get("terraform/host/main.tf").expect("main.tf")
        );
    }

    /// Several hosts (issue 18): the host root of a two-host platform, and
    /// what adding a third host changes in it: the new host's entries and
    /// the SRS domain's SPF record, which names every host (the keys of
    /// `aws_instance.mail`, `aws_eip.mail`… stay those of the hosts already
    /// there).
    #[test]
    fn two_hosts_main_tf_snapshot() {
        use crate::emit::test_repo;
        let hosts = "[[hosts]]\nname = \"mx1\"\nhostname = \"mx1.webhizzy.in\"\nprivate_ip = \"10.20.1.11\"\n\n[[hosts]]\nname = \"mx2\"\nhostname = \"mx2.webhizzy.in\"\nprivate_ip = \"10.20.1.12\"\nmx_priority = 20\n";
        let platform = test_repo::platform("").replace("mx.webhizzy.in", "mx1.webhizzy.in") + hosts;
        let tenants = [(
            "acme.example",
            test_repo::tenant("acme.example", "dkim", 1, "Acme", "Alice"),
        )];
        let two = test_repo::emit(&platform, &tenants);
        let main = two.get("terraform/host/main.tf").expect("main.tf");
        insta::assert_snapshot!("two_hosts_main.tf", main);
        let three = test_repo::emit(
            &format!(
                "{platform}\n[[hosts]]\nname = \"mx3\"\nhostname = \"mx3.webhizzy.in\"\nprivate_ip = \"10.20.1.13\"\ninbound = false\n"
            ),
            &tenants,
        );
        let after = three.get("terraform/host/main.tf").expect("main.tf");
        let diff = similar::TextDiff::from_lines(main, after);
        let changed: Vec<String> = diff
            .iter_all_changes()
            .filter(|c| c.tag() != similar::ChangeTag::Equal)
            .map(|c| format!("{}{}", c.tag(), c.value().trim_end()))
            .collect();
        assert_eq!(
            changed,
            [
                "-# Several hosts ([[hosts]] in mailops.toml): mx1, mx2. Each has its",
                "+# Several hosts ([[hosts]] in mailops.toml): mx1, mx2, mx3. Each has its",
                "-  records = [\"v=spf1 a:mx1.webhizzy.in a:mx2.webhizzy.in -all\"]",
                "+  records = [\"v=spf1 a:mx1.webhizzy.in a:mx2.webhizzy.in a:mx3.webhizzy.in -all\"]",
                "+    \"mx3\" = {",
                "+      hostname       = \"mx3.webhizzy.in\"",
                "+      private_ip     = \"10.20.1.13\"",
                "+      instance_type  = \"t3.small\"",
                "+      volume_size_gb = 50",
                "+    }",
            ],
            "{after}"
        );
        // The tenant's MX: one per inbound host (mx3 is not one).
        let dns = three.get(&dns_path("acme.example", 16)).expect("dns file");
        assert!(
            dns.contains("records = [\"10 mx1.webhizzy.in.\", \"20 mx2.webhizzy.in.\"]"),
            "{dns}"
        );
    }

    /// DMARC reports to the host's zone (a platform report domain) are
    /// authorized there, for the tenant and each alias domain, through a
    /// lookup of that zone; the report domain's own tenant needs none.
    #[test]
    fn dmarc_reports_to_a_platform_report_domain_are_authorized_there() {
        let central = "dmarc = { policy = \"reject\", rua = [\"mailto:dmarc@webhizzy.in\"] }";
        let model = compile(&[
            (
                "acme.example",
                tenant(
                    "acme.example",
                    "alias_domains = [\"acme-old.example\"]",
                    central,
                    RSA2048,
                ),
            ),
            ("webhizzy.in", tenant("webhizzy.in", "", central, RSA2048)),
        ]);
        let out = files(&model);
        let acme = out.get(&dns_path("acme.example", 16)).expect("dns file");
        for zone in ["acme.example", "acme-old.example"] {
            let name = format!("\"{zone}._report._dmarc.webhizzy.in\"");
            assert!(acme.contains(&name), "{name}: {acme}");
            assert!(acme.contains(&format!(
                "resource \"aws_route53_record\" \"{}_dmarc_report_webhizzy_in\"",
                hcl::identifier(zone)
            )));
        }
        assert_eq!(acme.matches("\"v=DMARC1\"").count(), 2, "{acme}");
        assert_eq!(
            acme.matches("data.aws_route53_zone.webhizzy_in.zone_id")
                .count(),
            2
        );
        assert_eq!(
            acme.matches("data \"aws_route53_zone\" \"webhizzy_in\"")
                .count(),
            1
        );
        let own = out.get(&dns_path("webhizzy.in", 16)).expect("dns file");
        assert!(!own.contains("_report._dmarc"), "{own}");
        let records = crate::model::records::declared_in(
            model.platform.mail_hosts(),
            &model.domains["acme.example"],
            "acme.example",
        );
        assert!(
            records
                .iter()
                .any(|r| r.name == "acme.example._report._dmarc.webhizzy.in"
                    && r.value == "v=DMARC1"
                    && r.purpose.rtype() == "TXT")
        );
    }

    /// A tenant whose DNS is elsewhere still gets its DMARC reports to the
    /// host's zone authorized there (the platform's zone, in its Route53),
    /// and declares nothing in its own or its alias domains' zones: the
    /// alias domains' reports to the tenant's own domain are its DNS
    /// administrator's to publish.
    #[test]
    fn an_unmanaged_tenant_has_its_reports_authorized_in_the_platform_zone() {
        let model = compile(&[(
            "acme.example",
            tenant(
                "acme.example",
                "alias_domains = [\"acme-old.example\"]",
                "managed = false\ndmarc = { policy = \"reject\", rua = [\"mailto:dmarc@webhizzy.in\", \"mailto:d@acme.example\"] }",
                RSA2048,
            ),
        )]);
        let out = files(&model);
        let acme = out.get(&dns_path("acme.example", 16)).expect("dns file");
        let moves =
            crate::emit::terraform_moves::addresses(&model.platform, model.domains.values());
        let declared: Vec<&str> = moves.iter().map(|(_, a)| a.as_str()).collect();
        assert_eq!(
            declared,
            [
                "aws_route53_record.acme-old_example_dmarc_report_webhizzy_in",
                "aws_route53_record.acme_example_dmarc_report_webhizzy_in",
                "data.aws_route53_zone.webhizzy_in",
            ],
            "{acme}"
        );
        assert!(
            !acme.contains("acme-old.example._report._dmarc.acme.example"),
            "{acme}"
        );
        assert!(
            acme.contains("only the authorization of its DMARC reports"),
            "{acme}"
        );
        assert_eq!(hcl_format::format(acme), *acme);
    }

    #[test]
    fn dns_file_snapshot() {
        let out = files(&compile(&[acme()]));
        insta::assert_snapshot!(
            "dns_acme.example.tf",
            out.get(&dns_path("acme.example", 16)).expect("dns file")
        );
    }

    #[test]
    fn adding_a_tenant_adds_only_its_dns_file() {
        let before = files(&compile(&[webhizzy()]));
        let after = files(&compile(&[webhizzy(), acme()]));
        let paths = |a: &Artifacts| {
            a.iter()
                .map(|(p, _)| p.to_string())
                .collect::<BTreeSet<_>>()
        };
        let added: Vec<String> = paths(&after).difference(&paths(&before)).cloned().collect();
        assert_eq!(added, vec![dns_path("acme.example", 16)]);
        for (path, contents) in before.iter() {
            assert_eq!(after.get(path), Some(contents), "{path} changed");
        }
        let main = after.get("terraform/host/main.tf").expect("main.tf");
        assert!(!main.contains("acme"), "main.tf mentions a tenant");
    }

    #[test]
    fn hostile_description_stays_inside_comment_lines() {
        let out = files(&compile(&[acme()]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        for fragment in ["Acme \"Corp\"", "${var.x}", "resource \"evil\""] {
            let line = dns
                .lines()
                .find(|l| l.contains(fragment))
                .unwrap_or_else(|| panic!("{fragment} missing"));
            assert!(line.starts_with("# "), "{line:?} is not a comment");
        }
        assert!(!dns.lines().any(|l| l.starts_with("resource \"evil\"")));
        // MX, SPF, DMARC, a DKIM record per key (Ed25519 and RSA), and the
        // six of MTA-STS (TXT, CNAME), TLS-RPT, autoconfig and two SRV.
        assert_eq!(
            dns.lines().filter(|l| l.starts_with("resource \"")).count(),
            11
        );
    }

    #[test]
    fn rsa_4096_dkim_record_is_split_into_255_octet_strings() {
        let out = files(&compile(&[(
            "big.example",
            tenant("big.example", "", "", RSA4096),
        )]));
        let dns = out.get(&dns_path("big.example", 16)).expect("dns file");
        let line = dns
            .lines()
            .skip_while(|l| !l.contains("\"big_example_dkim\""))
            .find(|l| l.trim_start().starts_with("records"))
            .expect("dkim records line");
        let value = line
            .split_once("= [\"")
            .and_then(|(_, v)| v.strip_suffix("\"]"))
            .expect("one string");
        let parts: Vec<&str> = value.split("\\\"\\\"").collect();
        assert_eq!(parts.len(), 3, "{value}");
        assert_eq!(parts[0].len(), 255);
        assert_eq!(parts[1].len(), 255);
        assert_eq!(parts.concat(), format!("v=DKIM1; k=rsa; p={RSA4096}"));
    }

    #[test]
    fn ed25519_dkim_record_publishes_the_raw_key() {
        let out = files(&compile(&[acme()]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        // The SPKI's last 32 bytes, base64: RFC 8463's p= value.
        let raw = {
            use base64::Engine;
            let der = base64::engine::general_purpose::STANDARD
                .decode(ED25519)
                .expect("base64");
            base64::engine::general_purpose::STANDARD.encode(&der[der.len() - 32..])
        };
        assert!(
            dns.contains(&format!("records = [\"v=DKIM1; k=ed25519; p={raw}\"]")),
            "{dns}"
        );
    }

    /// An Ed25519 tenant signs with its RSA key too: both selectors are
    /// published. The first key keeps the resource name a one-key tenant has
    /// (`<domain>_dkim`), so adding a key never moves an existing record.
    #[test]
    fn every_dkim_key_gets_its_own_record() {
        let out = files(&compile(&[acme()]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        assert!(
            dns.contains("resource \"aws_route53_record\" \"acme_example_dkim\" {\n  zone_id = \"Z0123456789ABC\"\n  name    = \"dkim._domainkey.acme.example\"\n"),
            "{dns}"
        );
        assert!(
            dns.contains("resource \"aws_route53_record\" \"acme_example_dkim_dkim-rsa\" {\n  zone_id = \"Z0123456789ABC\"\n  name    = \"dkim-rsa._domainkey.acme.example\"\n"),
            "{dns}"
        );
        assert!(dns.contains("k=ed25519; p="), "{dns}");
        assert!(dns.contains("k=rsa; p="), "{dns}");
    }

    /// `[dns] managed = false`: the tenant's file declares nothing (its DNS
    /// is hosted elsewhere) and says where its records come from.
    #[test]
    fn an_unmanaged_tenant_declares_no_record() {
        let out = files(&compile(&[(
            "offsite.example",
            tenant("offsite.example", "", "managed = false\nttl = 300", RSA2048),
        )]));
        let dns = out.get(&dns_path("offsite.example", 16)).expect("dns file");
        assert!(
            dns.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{dns}"
        );
        assert!(
            dns.contains("`mailops dns records offsite.example`"),
            "{dns}"
        );
        assert_eq!(hcl_format::format(dns), dns);
        let model = compile(&[(
            "offsite.example",
            tenant("offsite.example", "", "managed = false", RSA2048),
        )]);
        let moves =
            crate::emit::terraform_moves::addresses(&model.platform, model.domains.values());
        assert!(moves.is_empty(), "{moves:?}");
    }

    /// Issue 15: an alias domain has the tenant's records under its own
    /// name, in its own zone (looked up by name), in the tenant's file; an
    /// IDN alias domain is written as its A-label; the file stays canonical
    /// and every reference resolves. Unmanaged: none of them.
    #[test]
    fn alias_domains_get_the_tenants_records_in_their_own_zones() {
        let out = files(&compile(&[acme_with_alias_domains("")]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        assert_eq!(hcl_format::format(dns), *dns);
        for zone in ["acme-old.example", "xn--bcher-kva.example"] {
            let tf = hcl::identifier(zone);
            assert!(
                dns.contains(&format!(
                    "data \"aws_route53_zone\" \"{tf}\" {{\n  name = \"{zone}\"\n}}"
                )),
                "{dns}"
            );
            for (suffix, name) in [
                ("mx", zone.to_string()),
                ("spf", zone.to_string()),
                ("dmarc", format!("_dmarc.{zone}")),
                ("dkim", format!("dkim._domainkey.{zone}")),
                ("dkim_dkim-rsa", format!("dkim-rsa._domainkey.{zone}")),
            ] {
                assert!(
                    dns.contains(&format!(
                        "resource \"aws_route53_record\" \"{tf}_{suffix}\" {{\n  zone_id = data.aws_route53_zone.{tf}.zone_id\n  name    = \"{name}\"\n"
                    )),
                    "{suffix} of {zone}:\n{dns}"
                );
            }
        }
        // The tenant's zone id is its own domain's only: its eleven records
        // name it, and so do the two records there that authorize its DMARC
        // reports about the alias domains; its zone needs no lookup.
        assert_eq!(
            dns.matches("zone_id = \"Z0123456789ABC\"").count(),
            13,
            "{dns}"
        );
        for zone in ["acme-old.example", "xn--bcher-kva.example"] {
            assert!(
                dns.contains(&format!("\"{zone}._report._dmarc.acme.example\"")),
                "{dns}"
            );
        }
        assert!(
            !dns.contains("data \"aws_route53_zone\" \"acme_example\""),
            "{dns}"
        );
        assert_eq!(dns.matches("records = [\"10 mx.webhizzy.in.\"]").count(), 3);
        // The moves of a re-shard know the alias domains' resources too.
        let model = compile(&[acme_with_alias_domains("")]);
        let moves =
            crate::emit::terraform_moves::addresses(&model.platform, model.domains.values());
        assert!(
            moves
                .iter()
                .any(|(_, a)| a == "aws_route53_record.acme-old_example_mx"),
            "{moves:?}"
        );

        let out = files(&compile(&[acme_with_alias_domains("managed = false")]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        assert!(
            dns.lines().all(|l| l.is_empty() || l.starts_with('#')),
            "{dns}"
        );
    }

    fn acme_with_alias_domains(dns: &str) -> (&'static str, String) {
        let (domain, text) = acme();
        let text = text.replacen(
            "\n[dns]\n",
            "\nalias_domains = [\"acme-old.example\", \"bücher.example\"]\n[dns]\n",
            1,
        );
        let text = if dns.is_empty() {
            text
        } else {
            text.replacen("[dns]\n", &format!("[dns]\n{dns}\n"), 1)
        };
        (domain, text)
    }

    #[test]
    fn tenant_zone_id_and_ttl_are_used() {
        let out = files(&compile(&[acme()]));
        let dns = out.get(&dns_path("acme.example", 16)).expect("dns file");
        // A declared zone id is written into every record: no lookup of the zone.
        assert!(!dns.contains("data \"aws_route53_zone\""), "{dns}");
        assert_eq!(
            dns.matches("  zone_id = \"Z0123456789ABC\"\n").count(),
            11,
            "{dns}"
        );
        assert_eq!(dns.matches("  ttl     = 300\n").count(), 11);
        assert!(dns.contains(
            "records = [\"v=DMARC1; p=reject; adkim=s; aspf=s; rua=mailto:dmarc@acme.example\"]"
        ));
    }

    #[test]
    fn regression_hyphen_and_dot_domains_get_distinct_resource_names() {
        let out = files(&compile(&[
            ("a-b.example", tenant("a-b.example", "", "", RSA2048)),
            ("a.b.example", tenant("a.b.example", "", "", RSA2048)),
        ]));
        let hyphen = out.get(&dns_path("a-b.example", 16)).expect("a-b");
        let dotted = out.get(&dns_path("a.b.example", 16)).expect("a.b");
        assert!(hyphen.contains("resource \"aws_route53_record\" \"a-b_example_mx\""));
        assert!(dotted.contains("resource \"aws_route53_record\" \"a_b_example_mx\""));
        for (root, texts) in roots(&out) {
            let all: Vec<String> = texts.iter().flat_map(|text| declarations(text)).collect();
            let unique: BTreeSet<&String> = all.iter().collect();
            assert_eq!(
                all.len(),
                unique.len(),
                "duplicate declarations in {root}: {all:?}"
            );
        }
    }

    /// The `.tf` files of each root (`terraform/<root>/`), by root.
    fn roots(out: &Artifacts) -> std::collections::BTreeMap<String, Vec<String>> {
        let mut roots = std::collections::BTreeMap::<String, Vec<String>>::new();
        for (path, text) in out.iter().filter(|(p, _)| p.ends_with(".tf")) {
            let (root, _) = path.rsplit_once('/').expect("a root folder");
            roots
                .entry(root.to_string())
                .or_default()
                .push(text.to_string());
        }
        roots
    }

    /// Every root has its `main.tf` (a DNS root without a tenant too), and
    /// each tenant's file is in the root of its shard.
    #[test]
    fn every_shard_is_a_root_and_each_tenant_is_in_its_own() {
        let out = files(&compile(&[webhizzy(), acme()]));
        let roots = roots(&out);
        let expected: Vec<String> = std::iter::once("terraform/host".to_string())
            .chain((0..16).map(|shard| format!("terraform/{}", dns_root(shard, 16))))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(roots.keys().cloned().collect::<Vec<_>>(), expected);
        for root in roots.keys() {
            let main = out.get(&format!("{root}/main.tf")).expect("main.tf");
            assert!(main.contains("required_providers"), "{root}");
            assert!(!main.contains("acme"), "{root}/main.tf names a tenant");
        }
        assert_eq!(
            dns_path("acme.example", 16),
            format!(
                "terraform/{}/dns_acme.example.tf",
                dns_root(dns_shard("acme.example", 16), 16)
            )
        );
        assert!(out.get(&dns_path("acme.example", 16)).is_some());
        assert_eq!(
            dns_file_domain(&dns_path("acme.example", 16)),
            Some("acme.example")
        );
        for not_dns in [
            "terraform/host/main.tf",
            "terraform/dns-03/main.tf",
            "terraform/dns_acme.example.tf",
            "terraform/host/dns_acme.example.tf",
            "terraform/dns-x/dns_acme.example.tf",
        ] {
            assert_ne!(dns_file_domain(not_dns), Some("acme.example"), "{not_dns}");
        }
    }

    /// `[aws] dns_shards` sets the number of DNS roots; a tenant's shard is
    /// the same however many other tenants there are.
    #[test]
    fn the_shard_count_is_the_platforms() {
        let mut model = compile(&[webhizzy(), acme()]);
        model.platform.aws.dns_shards = 3;
        let out = files(&model);
        let dns_roots: BTreeSet<&str> = out
            .paths()
            .filter_map(|p| p.strip_prefix("terraform/")?.split_once('/'))
            .map(|(root, _)| root)
            .filter(|root| is_dns_root(root))
            .collect();
        assert_eq!(dns_roots, BTreeSet::from(["dns-00", "dns-01", "dns-02"]));
        assert!(out.get(&dns_path("acme.example", 3)).is_some());
        let readme = out.get("terraform/README.md").expect("README");
        assert!(readme.contains("`dns-00/` … `dns-02/`"), "{readme}");
        assert!(readme.contains("modulo 3"), "{readme}");
    }

    /// `type.name` (or `data.type.name`, `var.name`) of every block a file declares.
    fn declarations(text: &str) -> Vec<String> {
        text.lines()
            .filter_map(|line| {
                let words: Vec<&str> = line
                    .trim_end_matches(" {}")
                    .trim_end_matches(" {")
                    .split(' ')
                    .collect();
                let unquote = |w: &str| w.trim_matches('"').to_string();
                match words.as_slice() {
                    ["resource", kind, name] => {
                        Some(format!("{}.{}", unquote(kind), unquote(name)))
                    }
                    ["data", kind, name] => {
                        Some(format!("data.{}.{}", unquote(kind), unquote(name)))
                    }
                    ["variable", name] => Some(format!("var.{}", unquote(name))),
                    ["output", name] => Some(format!("output.{}", unquote(name))),
                    _ => None,
                }
            })
            .collect()
    }

    /// Every `aws_*.name`, `data.aws_*.name` and `var.name` reference in the
    /// files (outside strings and comments).
    fn references(text: &str) -> Vec<String> {
        let mut found = Vec::new();
        for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
            let code: String = line.split('"').step_by(2).collect::<Vec<_>>().join(" ");
            let code = code.split_once('=').map_or("", |(_, v)| v);
            for token in
                code.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
            {
                let parts: Vec<&str> = token.split('.').collect();
                match parts.as_slice() {
                    ["data", kind, name, ..] => found.push(format!("data.{kind}.{name}")),
                    ["var", name, ..] => found.push(format!("var.{name}")),
                    [kind, name, ..] if kind.starts_with("aws_") => {
                        found.push(format!("{kind}.{name}"))
                    }
                    _ => {}
                }
            }
        }
        found
    }

    #[test]
    fn every_reference_names_a_declared_block() {
        let out = files(&compile(&[
            webhizzy(),
            acme(),
            ("1und1.example", tenant("1und1.example", "", "", RSA2048)),
        ]));
        assert_every_root_declares_what_it_references(&out);
        let declared: BTreeSet<String> = out
            .iter()
            .flat_map(|(_, text)| declarations(text))
            .collect();
        let referenced: BTreeSet<String> =
            out.iter().flat_map(|(_, text)| references(text)).collect();
        assert!(
            referenced.contains("data.aws_route53_zone._1und1_example"),
            "{referenced:?}"
        );
        assert!(referenced.contains("aws_eip.mail"));
        assert!(referenced.contains("var.admin_cidrs"));
        let missing: Vec<&String> = referenced.difference(&declared).collect();
        assert!(missing.is_empty(), "undeclared: {missing:?}");
        assert!(
            declared
                .iter()
                .all(|d| hcl::is_identifier(d.rsplit('.').next().unwrap_or("")))
        );
    }

    /// `[dns] dnssec = true` (issue 20): one KMS key of the kind Route53
    /// requires, in us-east-1 through the root's provider alias, with the
    /// key policy its DNSSEC service needs; a key-signing key, signing and a
    /// DS output for each zone of the tenant (its alias domain's too); every
    /// reference declared in the root. A tenant without it declares none.
    #[test]
    fn dnssec_signs_each_zone_of_the_tenant_with_a_kms_key_in_us_east_1() {
        let signed = (
            "signed.example",
            tenant(
                "signed.example",
                "alias_domains = [\"signed-old.example\"]",
                "dnssec = true",
                RSA2048,
            ),
        );
        let model = compile(&[signed, acme()]);
        let out = files(&model);
        let shards = model.platform.aws.dns_shards;
        let text = out.get(&dns_path("signed.example", shards)).unwrap();
        for line in [
            "resource \"aws_kms_key\" \"signed_example\" {",
            "  provider = aws.us_east_1",
            "  customer_master_key_spec = \"ECC_NIST_P256\"",
            "  key_usage = \"SIGN_VERIFY\"",
            "  policy = data.aws_iam_policy_document.signed_example.json",
        ] {
            let squeezed: String = text
                .lines()
                .map(|l| {
                    let indent = l.len() - l.trim_start().len();
                    let (key, rest) = l
                        .trim_start()
                        .split_once(" = ")
                        .unwrap_or((l.trim_start(), ""));
                    let rest = if rest.is_empty() {
                        String::new()
                    } else {
                        format!(" = {rest}")
                    };
                    format!("{}{}{rest}\n", " ".repeat(indent), key.trim_end())
                })
                .collect();
            assert!(squeezed.contains(&format!("{line}\n")), "{line}\n{text}");
        }
        assert_eq!(
            text.matches("resource \"aws_kms_key\"").count(),
            1,
            "{text}"
        );
        assert_eq!(
            text.matches("identifiers = [\"dnssec-route53.amazonaws.com\"]")
                .count(),
            2,
            "{text}"
        );
        assert!(text.contains("\"kms:GrantIsForAWSResource\""), "{text}");
        for zone in ["signed_example", "signed-old_example"] {
            for block in [
                format!("resource \"aws_route53_key_signing_key\" \"{zone}\" {{"),
                format!("resource \"aws_route53_hosted_zone_dnssec\" \"{zone}\" {{"),
                format!("output \"{zone}_ds\" {{"),
            ] {
                assert_eq!(text.matches(&block).count(), 1, "{block}\n{text}");
            }
        }
        assert_eq!(
            text.matches("= aws_kms_key.signed_example.arn").count(),
            2,
            "{text}"
        );
        let acme = out.get(&dns_path("acme.example", shards)).unwrap();
        assert!(
            !acme.contains("aws_kms_key") && !acme.contains("DNSSEC"),
            "{acme}"
        );
        // Every root declares the provider alias; the references resolve.
        for (root, texts) in roots(&out) {
            assert!(
                texts.iter().any(|t| t.contains("alias  = \"us_east_1\"")
                    && t.contains("region = \"us-east-1\"")),
                "{root}"
            );
        }
        assert_every_root_declares_what_it_references(&out);
    }

    /// Within each root, every reference names a block of that root: no
    /// root refers to another's.
    fn assert_every_root_declares_what_it_references(out: &Artifacts) {
        for (root, texts) in roots(out) {
            let declared: BTreeSet<String> =
                texts.iter().flat_map(|text| declarations(text)).collect();
            let referenced: BTreeSet<String> =
                texts.iter().flat_map(|text| references(text)).collect();
            let missing: Vec<&String> = referenced.difference(&declared).collect();
            assert!(missing.is_empty(), "undeclared in {root}: {missing:?}");
        }
    }

    /// `[mail_host] dnssec = true` signs the platform zone in the host's root;
    /// a tenant of that very zone with `dnssec` leaves it to the host's root
    /// (one key-signing key per zone).
    #[test]
    fn the_platform_zone_is_signed_by_the_host_root_once() {
        let model = compile_with_host(
            "dnssec = true\n",
            &[(
                "webhizzy.in",
                tenant("webhizzy.in", "", "dnssec = true", RSA2048),
            )],
        );
        let out = files(&model);
        let host = out.get(&format!("{HOST_ROOT}/main.tf")).unwrap();
        assert!(
            host.contains("resource \"aws_kms_key\" \"platform\" {"),
            "{host}"
        );
        assert!(
            host.contains("resource \"aws_route53_key_signing_key\" \"webhizzy_in\" {"),
            "{host}"
        );
        let shards = model.platform.aws.dns_shards;
        let tenant_file = out.get(&dns_path("webhizzy.in", shards)).unwrap();
        assert!(
            !tenant_file.contains("aws_route53_key_signing_key"),
            "{tenant_file}"
        );
        // Without the opt-in, the host's root declares no key.
        let plain = files(&compile(&[webhizzy()]));
        let host = plain.get(&format!("{HOST_ROOT}/main.tf")).unwrap();
        assert!(!host.contains("aws_kms_key"), "{host}");
    }

    /// `[mail_host] tlsa` (issue 20): one TLSA record set at
    /// `_25._tcp.<host>` in the host's zone, values as validated; none
    /// without it.
    #[test]
    fn the_hosts_tlsa_records_are_published_in_its_zone() {
        let model = compile_with_host(
            &format!(
                "tlsa = [\"3 1 1 {}\", \"3 1 1 {}\"]\n",
                "AB".repeat(32),
                "cd".repeat(32)
            ),
            &[],
        );
        let out = files(&model);
        let host = out.get(&format!("{HOST_ROOT}/main.tf")).unwrap();
        let block = host
            .split("resource \"aws_route53_record\" \"tlsa\" {\n")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .unwrap_or_else(|| panic!("no TLSA record set in\n{host}"));
        assert_eq!(
            block,
            format!(
                "  zone_id = data.aws_route53_zone.platform.zone_id\n  name    = \"_25._tcp.mx.webhizzy.in\"\n  type    = \"TLSA\"\n  ttl     = 300\n  records = [\"3 1 1 {}\", \"3 1 1 {}\"]",
                "ab".repeat(32),
                "cd".repeat(32)
            )
        );
        let plain = files(&compile(&[webhizzy()]));
        assert!(
            !plain
                .get(&format!("{HOST_ROOT}/main.tf"))
                .unwrap()
                .contains("TLSA")
        );
    }

    #[test]
    fn output_is_already_in_canonical_layout() {
        let out = files(&compile(&[webhizzy(), acme()]));
        for (path, text) in out.iter().filter(|(p, _)| p.ends_with(".tf")) {
            assert_eq!(hcl_format::format(text), text, "{path}");
            assert!(
                !text.lines().any(|l| l.ends_with(' ') || l.contains('\t')),
                "{path}"
            );
            assert!(text.starts_with("# generated by mailops from "), "{path}");
        }
    }

    /// Least privilege: the host's role may read the deploy key parameter and
    /// write the recipient parameter (when one is named), and nothing else.
    #[test]
    fn the_instance_profile_may_touch_only_the_two_parameters() {
        let out = files(&compile(&[webhizzy()]));
        let main = out.get("terraform/host/main.tf").expect("main.tf");
        let values = |key: &str| -> Vec<String> {
            main.lines()
                .map(str::trim)
                .filter_map(|l| l.strip_prefix(key))
                .map(|rest| rest.trim_start().trim_start_matches('=').trim().to_string())
                .collect()
        };
        assert_eq!(
            values("actions "),
            [
                "[\"sts:AssumeRole\"]",
                "[\"ssm:GetParameter\"]",
                "[\"ssm:PutParameter\"]"
            ]
        );
        assert_eq!(
            values("resources "),
            [
                "[format(\"%s%s\", local.parameter_arn, trimprefix(var.deploy_key_parameter, \"/\"))]",
                "[format(\"%s%s\", local.parameter_arn, trimprefix(statement.value, \"/\"))]"
            ]
        );
        assert!(main.contains(
            "for_each = var.recipient_parameter == \"\" ? [] : [var.recipient_parameter]"
        ));
        assert!(main.contains(
            "  parameter_arn = join(\":\", [\"arn\", data.aws_partition.current.partition, \"ssm\", var.region, data.aws_caller_identity.current.account_id, \"parameter/\"])\n"
        ));
        // One inline policy, one role, one profile, on the instance.
        assert_eq!(main.matches("resource \"aws_iam_role_policy\"").count(), 1);
        assert_eq!(
            main.matches("policy_arn").count(),
            0,
            "no managed policy attached"
        );
        assert!(!main.contains("\"*\""), "a wildcard in main.tf");
        assert!(main.lines().any(|l| {
            l.split_whitespace().collect::<Vec<_>>()
                == [
                    "iam_instance_profile",
                    "=",
                    "aws_iam_instance_profile.mail.name",
                ]
        }));
    }

    /// main.tf replaces exactly the placeholder the user data holds, with
    /// the base64 of every setting the first boot reads.
    #[test]
    fn main_tf_fills_the_user_datas_settings_placeholder() {
        let out = files(&compile(&[webhizzy()]));
        let main = out.get("terraform/host/main.tf").expect("main.tf");
        let placeholder = crate::emit::cloud_init::BOOT_SETTINGS_PLACEHOLDER;
        assert!(main.contains(&format!(
            "user_data_base64 = base64gzip(replace(file(\"${{path.module}}/../../cloud-init/user-data.yaml\"), \"{placeholder}\", base64encode(local.boot_settings)))"
        )));
        for key in [
            "region",
            "release_url",
            "release_sha256",
            "repo_url",
            "repo_branch",
            "repo_known_hosts",
            "deploy_key_parameter",
            "recipient_parameter",
        ] {
            assert!(main.contains(&format!("    \"{key}=${{var.")), "{key}");
        }
    }

    #[test]
    fn empty_admin_cidrs_default_to_an_empty_list() {
        let mut model = compile(&[webhizzy()]);
        model.platform.aws.admin_cidrs.clear();
        model.platform.zone_id = Some("Z9".into());
        let out = files(&model);
        let main = out.get("terraform/host/main.tf").expect("main.tf");
        assert!(main.contains("  default     = []\n"), "{main}");
        assert!(main.contains("data \"aws_route53_zone\" \"platform\" {\n  zone_id = \"Z9\"\n}"));
    }
}
