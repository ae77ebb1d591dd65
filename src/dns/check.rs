//! `mailops dns check`: resolve every record the tenants declare and compare
//! it with what is published.
//!
//! Each record ends in one [`State`]: ok; missing; different (both values
//! shown); conflicting (what is published beside it breaks it: two SPF or two
//! DMARC records, a CNAME where a TXT must be, an MX that points elsewhere);
//! or unresolved (the nameserver timed out, refused or failed: an
//! operational failure, never counted as a mismatch). Across layers, the mail
//! host's name must resolve to its address (`--expect-ip`) and that address
//! must point back to the name (PTR). A signed zone (`dnssec = true`) must
//! have a DS at its parent that matches one of its live key-signing keys
//! ([`ds`](crate::dns::ds)).
//!
//! Queries run concurrently, at most [`Options::concurrency`] at once, each
//! with a timeout and retries (hickory-resolver's), from one current-thread
//! runtime: the work is waiting on the network, not the CPU.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_resolver::config::{NameServerConfigGroup, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{ResolveError, TokioResolver};
use serde::Serialize;

use crate::dns::ds::{self, Ds};
use crate::error::Error;
use crate::model::records::{DnsRecord, Purpose};

/// How to resolve.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    /// Ask this server (`--nameserver`); else the system's resolvers.
    pub(crate) nameserver: Option<SocketAddr>,
    /// The mail host's address (`--expect-ip`).
    pub(crate) expect_ip: Option<IpAddr>,
    /// Queries in flight at once.
    pub(crate) concurrency: usize,
    /// Per query attempt.
    pub(crate) timeout: Duration,
    /// Attempts per query (a lost UDP answer is asked again).
    pub(crate) attempts: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            nameserver: None,
            expect_ip: None,
            concurrency: 256,
            timeout: Duration::from_secs(3),
            attempts: 3,
        }
    }
}

/// How one record compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum State {
    Ok,
    Missing,
    Different,
    Conflicting,
    /// No answer to compare: the nameserver timed out, refused or failed.
    Unresolved,
}

impl State {
    pub(crate) fn word(self) -> &'static str {
        match self {
            State::Ok => "ok",
            State::Missing => "missing",
            State::Different => "different",
            State::Conflicting => "conflicting",
            State::Unresolved => "unresolved",
        }
    }
}

/// One declared record, resolved.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RecordCheck {
    pub(crate) domain: String,
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) rtype: &'static str,
    pub(crate) purpose: String,
    pub(crate) state: State,
    pub(crate) expected: String,
    /// What was published (the records of the same kind at the name).
    pub(crate) found: Vec<String>,
    /// Why it conflicts, or what failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) note: Option<String>,
}

/// The whole check.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Report {
    pub(crate) nameserver: Option<String>,
    pub(crate) records: Vec<RecordCheck>,
    /// The mail host's own records (A/AAAA, PTR).
    pub(crate) host: Vec<RecordCheck>,
}

impl Report {
    pub(crate) fn count(&self, state: State) -> usize {
        self.all().filter(|c| c.state == state).count()
    }

    pub(crate) fn all(&self) -> impl Iterator<Item = &RecordCheck> {
        self.records.iter().chain(&self.host)
    }

    /// 0 all ok, 1 a mismatch, 2 something could not be resolved.
    pub(crate) fn exit_code(&self) -> u8 {
        if self.count(State::Unresolved) > 0 {
            2
        } else if self.all().any(|c| c.state != State::Ok) {
            1
        } else {
            0
        }
    }
}

/// Resolve and compare the records of every `(domain, records)`, the DS of
/// every signed zone, and each mail host's A/AAAA and PTR (`hostnames`: the
/// primary first, which `expect_ip` is about).
pub(crate) fn run(
    hostnames: &[String],
    domains: Vec<(String, Vec<DnsRecord>)>,
    signed: Vec<String>,
    options: &Options,
) -> Result<Report, Error> {
    runtime()?.block_on(run_async(hostnames, domains, signed, options))
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::operational(format!("cannot start the DNS runtime: {e}")))
}

/// A zone's DS records from its live keys (empty: not signed yet), or why
/// its DNSKEY could not be read.
pub(crate) type LiveDs = Result<Vec<Ds>, String>;

/// The DS records each signed zone's registrar must publish, from the
/// zone's live key-signing DNSKEYs.
pub(crate) fn published_keys_ds(
    zones: &[String],
    options: &Options,
) -> Result<Vec<(String, LiveDs)>, Error> {
    let resolver = resolver(options)?;
    runtime()?.block_on(async {
        let mut out = Vec::with_capacity(zones.len());
        for zone in zones {
            out.push((zone.clone(), live_ds(&resolver, zone).await));
        }
        Ok(out)
    })
}

async fn run_async(
    hostnames: &[String],
    domains: Vec<(String, Vec<DnsRecord>)>,
    signed: Vec<String>,
    options: &Options,
) -> Result<Report, Error> {
    let resolver = Arc::new(resolver(options)?);
    let limit = Arc::new(tokio::sync::Semaphore::new(options.concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut index = 0usize;
    for (domain, records) in domains {
        for record in records {
            let resolver = Arc::clone(&resolver);
            let limit = Arc::clone(&limit);
            let domain = domain.clone();
            let at = index;
            index += 1;
            tasks.spawn(async move {
                let _permit = limit
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                (at, check_record(&resolver, domain, record).await)
            });
        }
    }
    let mut records: Vec<(usize, RecordCheck)> = Vec::with_capacity(index);
    crate::progress::stage(&format!("resolving {index} records"), Some(index));
    while let Some(done) = tasks.join_next().await {
        records
            .push(done.map_err(|e| Error::operational(format!("a DNS query task failed: {e}")))?);
        crate::progress::step();
    }
    crate::progress::finish();
    records.sort_by_key(|(at, _)| *at);
    let mut records: Vec<RecordCheck> = records.into_iter().map(|(_, c)| c).collect();
    for zone in signed {
        let check = check_ds(&resolver, zone).await;
        // After the zone's own records.
        let at = records
            .iter()
            .rposition(|r| r.domain == check.domain)
            .map_or(records.len(), |i| i + 1);
        records.insert(at, check);
    }
    let mut host = Vec::new();
    for (i, hostname) in hostnames.iter().enumerate() {
        let expect = if i == 0 { options.expect_ip } else { None };
        host.extend(check_host(&resolver, hostname, expect).await);
    }
    Ok(Report {
        nameserver: options.nameserver.map(|s| s.to_string()),
        records,
        host,
    })
}

/// The RDATA of every `rtype` record at `name`, as read from the wire
/// (DNSKEY and DS are not decoded by this resolver build: they come raw).
async fn raw_records(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<Vec<Vec<u8>>, String> {
    match resolver.lookup(format!("{name}.").as_str(), rtype).await {
        Ok(lookup) => Ok(lookup
            .records()
            .iter()
            .filter_map(|record| match record.data() {
                RData::Unknown { code, rdata } if *code == rtype => Some(rdata.anything().to_vec()),
                _ => None,
            })
            .collect()),
        Err(e) if e.is_no_records_found() => Ok(Vec::new()),
        Err(e) => Err(describe(&e)),
    }
}

/// The DS of each key-signing DNSKEY the zone publishes.
async fn live_ds(resolver: &TokioResolver, zone: &str) -> LiveDs {
    let keys = raw_records(resolver, zone, RecordType::DNSKEY).await?;
    Ok(keys
        .iter()
        .filter_map(|rdata| ds::from_dnskey(zone, rdata))
        .collect())
}

/// A signed zone: the DS records at its parent against its live keys.
async fn check_ds(resolver: &TokioResolver, zone: String) -> RecordCheck {
    let mut check = RecordCheck {
        domain: zone.clone(),
        name: zone.clone(),
        rtype: "DS",
        purpose: "DNSSEC".to_string(),
        state: State::Ok,
        expected: "the DS of the zone's key-signing key".to_string(),
        found: Vec::new(),
        note: None,
    };
    let (keys, published) = match (
        live_ds(resolver, &zone).await,
        raw_records(resolver, &zone, RecordType::DS).await,
    ) {
        (Ok(keys), Ok(published)) => (keys, published),
        (Err(why), _) | (_, Err(why)) => {
            check.state = State::Unresolved;
            check.note = Some(why);
            return check;
        }
    };
    let published: Vec<Ds> = published.iter().filter_map(|r| Ds::from_wire(r)).collect();
    check.found = published.iter().map(Ds::rdata).collect();
    if keys.is_empty() {
        check.state = State::Missing;
        check.note = Some(
            "the zone publishes no key-signing DNSKEY: apply its Terraform root (dnssec = true signs it), then check again".to_string(),
        );
        return check;
    }
    check.expected = keys.iter().map(Ds::rdata).collect::<Vec<_>>().join(" or ");
    let (state, note) = compare_ds(&keys, &published, &zone);
    check.state = state;
    check.note = note;
    check
}

/// Whether a published DS matches one of the zone's keys (SHA-256 DS, or
/// another digest type of the same key, which is then only noted).
fn compare_ds(keys: &[Ds], published: &[Ds], zone: &str) -> (State, Option<String>) {
    let same = |a: &Ds, b: &Ds| {
        a.key_tag == b.key_tag
            && a.algorithm == b.algorithm
            && a.digest_type == b.digest_type
            && a.digest_hex.eq_ignore_ascii_case(&b.digest_hex)
    };
    if published.iter().any(|p| keys.iter().any(|k| same(k, p))) {
        return (State::Ok, None);
    }
    if published.is_empty() {
        return (
            State::Missing,
            Some(format!(
                "the registrar of {zone} must publish it (`mailops dns records {zone}` prints it); until then the zone is signed but not trusted"
            )),
        );
    }
    let other_digest = published.iter().any(|p| {
        keys.iter().any(|k| {
            k.key_tag == p.key_tag && k.algorithm == p.algorithm && k.digest_type != p.digest_type
        })
    });
    if other_digest {
        return (
            State::Ok,
            Some("the parent's DS names the key with another digest type than SHA-256".to_string()),
        );
    }
    (
        State::Different,
        Some("no DS at the parent matches a key of the zone: validating resolvers refuse every answer of the zone (publish the expected DS, then remove the old one)".to_string()),
    )
}

fn resolver(options: &Options) -> Result<TokioResolver, Error> {
    let mut opts = ResolverOpts::default();
    opts.timeout = options.timeout;
    opts.attempts = options.attempts;
    // Keep the CNAMEs of a chain: a CNAME where a TXT must be is a finding.
    opts.preserve_intermediates = true;
    opts.cache_size = 0;
    opts.ndots = 0;
    // What DNS publishes, not this machine's /etc/hosts.
    opts.use_hosts_file = ResolveHosts::Never;
    let builder = match options.nameserver {
        Some(server) => {
            let group = NameServerConfigGroup::from_ips_clear(&[server.ip()], server.port(), true);
            TokioResolver::builder_with_config(
                ResolverConfig::from_parts(None, vec![], group),
                TokioConnectionProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio().map_err(|e| {
            Error::operational(format!(
                "cannot read the system's resolver configuration: {e} (give --nameserver)"
            ))
        })?,
    };
    Ok(builder.with_options(opts).build())
}

/// What a name holds of one type: the values, and a CNAME if the name is one.
#[derive(Debug, Default)]
struct Answer {
    cname: Option<String>,
    values: Vec<String>,
}

/// Query `name` for `rtype`. No such name or no such record is an empty
/// answer; a timeout, a refusal or a server failure is an error. When the
/// answer is empty or failed (but not by a timeout, which asking again would
/// only repeat), the name is asked for a CNAME too: the chain to a target
/// that does not answer loses it otherwise.
async fn query(resolver: &TokioResolver, name: &str, rtype: RecordType) -> Result<Answer, String> {
    let answer = query_once(resolver, name, rtype).await;
    let ask_cname = match &answer {
        Ok(a) => a.cname.is_none() && a.values.is_empty(),
        Err(e) => !timed_out(e),
    };
    if ask_cname
        && let Ok(cname) = query_once(resolver, name, RecordType::CNAME).await
        && cname.cname.is_some()
    {
        return Ok(Answer {
            cname: cname.cname,
            values: Vec::new(),
        });
    }
    answer.map_err(|e| describe(&e))
}

fn timed_out(error: &ResolveError) -> bool {
    error
        .proto()
        .is_some_and(|p| matches!(p.kind(), hickory_resolver::proto::ProtoErrorKind::Timeout))
}

async fn query_once(
    resolver: &TokioResolver,
    name: &str,
    rtype: RecordType,
) -> Result<Answer, ResolveError> {
    let fqdn = format!("{name}.");
    match resolver.lookup(fqdn.as_str(), rtype).await {
        Ok(lookup) => {
            let mut answer = Answer::default();
            // An SRV answer may carry its target's address beside it (an
            // additional record, when the same server holds that zone).
            let asked = lookup
                .records()
                .iter()
                .filter(|r| r.record_type() == rtype || r.record_type() == RecordType::CNAME);
            for record in asked {
                match record.data() {
                    RData::CNAME(target) if answer.cname.is_none() => {
                        answer.cname = Some(target.0.to_ascii().to_ascii_lowercase());
                    }
                    RData::MX(mx) => answer.values.push(format!(
                        "{} {}",
                        mx.preference(),
                        mx.exchange().to_ascii().to_ascii_lowercase()
                    )),
                    RData::TXT(txt) => answer.values.push(
                        txt.txt_data()
                            .iter()
                            .map(|s| String::from_utf8_lossy(s).into_owned())
                            .collect::<String>(),
                    ),
                    RData::PTR(ptr) => answer.values.push(ptr.0.to_ascii().to_ascii_lowercase()),
                    RData::SRV(srv) => answer.values.push(format!(
                        "{} {} {} {}",
                        srv.priority(),
                        srv.weight(),
                        srv.port(),
                        srv.target().to_ascii().to_ascii_lowercase()
                    )),
                    RData::A(a) => answer.values.push(a.0.to_string()),
                    RData::AAAA(aaaa) => answer.values.push(aaaa.0.to_string()),
                    _ => {}
                }
            }
            Ok(answer)
        }
        Err(e) if e.is_no_records_found() => Ok(Answer::default()),
        Err(e) => Err(e),
    }
}

fn describe(error: &ResolveError) -> String {
    let text = error.to_string();
    if text.contains("Refused") {
        format!("{text} (the nameserver does not serve this zone?)")
    } else {
        text
    }
}

async fn check_record(resolver: &TokioResolver, domain: String, record: DnsRecord) -> RecordCheck {
    let rtype = match record.purpose {
        Purpose::Mx => RecordType::MX,
        Purpose::MtaStsHost | Purpose::Autoconfig => RecordType::CNAME,
        Purpose::Srv(_) => RecordType::SRV,
        _ => RecordType::TXT,
    };
    let mut check = RecordCheck {
        domain,
        name: record.name.clone(),
        rtype: record.purpose.rtype(),
        purpose: record.purpose.label(),
        state: State::Ok,
        expected: record.value.clone(),
        found: Vec::new(),
        note: None,
    };
    let answer = match query(resolver, &record.name, rtype).await {
        Ok(answer) => answer,
        Err(why) => {
            check.state = State::Unresolved;
            check.note = Some(why);
            return check;
        }
    };
    let (state, found, note) = compare(&record, &answer);
    check.state = state;
    check.found = found;
    check.note = note;
    check
}

/// Compare one declared record with the answer at its name.
fn compare(record: &DnsRecord, answer: &Answer) -> (State, Vec<String>, Option<String>) {
    // `mta-sts.<domain>` and `autoconfig.<domain>`: a CNAME to the mail
    // host; an A record there works as well when it is the host's address,
    // which this check does not know, so it is `different`.
    if matches!(record.purpose, Purpose::MtaStsHost | Purpose::Autoconfig) {
        return match &answer.cname {
            Some(target) if normal_mx(target) == normal_mx(&record.value) => {
                (State::Ok, vec![target.clone()], None)
            }
            Some(target) => (State::Different, vec![target.clone()], None),
            None if answer.values.is_empty() => (State::Missing, Vec::new(), None),
            None => (State::Different, answer.values.clone(), None),
        };
    }
    if let Some(target) = &answer.cname {
        let what = match record.purpose {
            Purpose::Mx => "the domain is a CNAME: no MX (or any other record) may sit beside it",
            _ => "a CNAME where a TXT must be",
        };
        return (
            State::Conflicting,
            answer.values.clone(),
            Some(format!("{what} (CNAME {target})")),
        );
    }
    match &record.purpose {
        Purpose::Mx => {
            // One value, or a backup MX's set (one a line).
            let mut expected: Vec<String> = record.value.split('\n').map(normal_mx).collect();
            expected.sort();
            let found: Vec<String> = answer.values.iter().map(|v| normal_mx(v)).collect();
            let mut sorted = found.clone();
            sorted.sort();
            if found.is_empty() {
                (State::Missing, found, None)
            } else if sorted == expected {
                (State::Ok, found, None)
            } else if expected.iter().all(|e| found.contains(e)) {
                let others: Vec<&String> = found.iter().filter(|v| !expected.contains(v)).collect();
                let note = format!(
                    "an MX that points elsewhere beside the mail host's: {}",
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                (State::Conflicting, found, Some(note))
            } else {
                (State::Different, found, None)
            }
        }
        Purpose::Spf => one_of_kind(
            record,
            answer,
            |v| has_version(v, "v=spf1"),
            |v| {
                v.split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
                    .to_ascii_lowercase()
            },
            "SPF records: receivers treat more than one as a permanent error (RFC 7208 §4.5)",
        ),
        Purpose::Dmarc => one_of_kind(
            record,
            answer,
            |v| has_version(v, "v=DMARC1"),
            tags,
            "DMARC records: receivers then apply no DMARC policy at all (RFC 7489 §6.6.3)",
        ),
        // RFC 7489 §7.1: any record there that starts `v=DMARC1` authorizes
        // the reports (it may carry a `rua` of its own).
        Purpose::DmarcReport(_) => {
            let found: Vec<String> = answer
                .values
                .iter()
                .filter(|v| has_version(v, "v=DMARC1"))
                .cloned()
                .collect();
            let state = if found.is_empty() {
                State::Missing
            } else {
                State::Ok
            };
            (state, found, None)
        }
        Purpose::Dkim(_) => one_of_kind(
            record,
            answer,
            |v| tags(v).contains("p="),
            |v| tags(&v.split_whitespace().collect::<String>()),
            "DKIM records for one selector: verifiers may take either",
        ),
        Purpose::Bimi => one_of_kind(
            record,
            answer,
            |v| has_version(v, "v=BIMI1"),
            tags,
            "BIMI records at one selector: receivers then show no logo",
        ),
        // The id changes with the policy: a different one is a stale record.
        Purpose::MtaSts => one_of_kind(
            record,
            answer,
            |v| has_version(v, "v=STSv1"),
            tags,
            "MTA-STS records: senders then take no policy at all (RFC 8461 §3.1)",
        ),
        Purpose::TlsRpt => one_of_kind(
            record,
            answer,
            |v| has_version(v, "v=TLSRPTv1"),
            tags,
            "TLS-RPT records: senders then send no reports (RFC 8460 §3)",
        ),
        Purpose::Srv(_) => {
            let found: Vec<String> = answer.values.iter().map(|v| normal_mx(v)).collect();
            let state = if found.is_empty() {
                State::Missing
            } else if found == [normal_mx(&record.value)] {
                State::Ok
            } else {
                State::Different
            };
            (state, found, None)
        }
        Purpose::MtaStsHost | Purpose::Autoconfig => unreachable!("compared above"),
    }
}

/// The TXT records of one kind at a name: none is missing, two or more
/// conflict, one is compared in its normal form.
fn one_of_kind(
    record: &DnsRecord,
    answer: &Answer,
    is_kind: impl Fn(&str) -> bool,
    normal: impl Fn(&str) -> String,
    many: &str,
) -> (State, Vec<String>, Option<String>) {
    let found: Vec<String> = answer
        .values
        .iter()
        .filter(|v| is_kind(v))
        .cloned()
        .collect();
    match found.len() {
        0 => (State::Missing, found, None),
        1 if normal(&found[0]) == normal(&record.value) => (State::Ok, found, None),
        1 => (State::Different, found, None),
        n => (State::Conflicting, found, Some(format!("{n} {many}"))),
    }
}

/// `v=spf1 …`: the version tag first, then a space or the end.
fn has_version(value: &str, version: &str) -> bool {
    let value = value.trim_start();
    value.len() >= version.len()
        && value[..version.len()].eq_ignore_ascii_case(version)
        && value[version.len()..]
            .chars()
            .next()
            .is_none_or(|c| c == ' ' || c == ';')
}

/// A tag list (`v=DMARC1; p=reject; …`) in a normal form: each `tag=value`
/// trimmed, the tag names lowercase, sorted (their order carries no meaning).
fn tags(value: &str) -> String {
    let mut pairs: BTreeMap<String, String> = BTreeMap::new();
    for part in value.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (tag, value) = part.split_once('=').unwrap_or((part, ""));
        pairs.insert(tag.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    pairs
        .iter()
        .map(|(tag, value)| format!("{tag}={value}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// `10 mx.example.` in lowercase with the trailing dot.
fn normal_mx(value: &str) -> String {
    let value = value.trim().to_ascii_lowercase();
    if value.ends_with('.') {
        value
    } else {
        format!("{value}.")
    }
}

/// The mail host's name resolves to its address; the address points back.
async fn check_host(
    resolver: &TokioResolver,
    hostname: &str,
    expect: Option<IpAddr>,
) -> Vec<RecordCheck> {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for rtype in [RecordType::A, RecordType::AAAA] {
        match query(resolver, hostname, rtype).await {
            Ok(answer) => found.extend(answer.values),
            Err(why) => failures.push(why),
        }
    }
    let mut address = RecordCheck {
        domain: hostname.to_string(),
        name: hostname.to_string(),
        rtype: "A/AAAA",
        purpose: "mail host address".to_string(),
        state: State::Ok,
        expected: expect.map_or_else(|| "(any: no --expect-ip)".to_string(), |ip| ip.to_string()),
        found: found.clone(),
        note: None,
    };
    if !failures.is_empty() {
        address.state = State::Unresolved;
        address.note = Some(failures.join("; "));
    } else if found.is_empty() {
        address.state = State::Missing;
    } else if let Some(ip) = expect {
        if !found.contains(&ip.to_string()) {
            address.state = State::Different;
        }
    }
    // PTR of the expected address, else of each address found; a loopback
    // address (an emulator's) has no PTR to ask: resolvers answer
    // `localhost` for it themselves (RFC 6761).
    let (ips, loopback): (Vec<IpAddr>, Vec<IpAddr>) = match expect {
        Some(ip) => vec![ip],
        None => found.iter().filter_map(|a| a.parse().ok()).collect(),
    }
    .into_iter()
    .partition(|ip: &IpAddr| !ip.is_loopback());
    if !loopback.is_empty() {
        address.note = Some(format!(
            "no reverse DNS check for the loopback address {} (resolvers answer `localhost` for it, RFC 6761)",
            loopback
                .iter()
                .map(IpAddr::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut out = vec![address];
    let want = format!("{}.", hostname.to_ascii_lowercase());
    for ip in ips {
        let reverse = reverse_name(ip);
        let mut ptr = RecordCheck {
            domain: hostname.to_string(),
            name: reverse.clone(),
            rtype: "PTR",
            purpose: format!("reverse DNS of {ip}"),
            state: State::Ok,
            expected: want.clone(),
            found: Vec::new(),
            note: None,
        };
        match query(resolver, &reverse, RecordType::PTR).await {
            Err(why) => {
                ptr.state = State::Unresolved;
                ptr.note = Some(why);
            }
            Ok(answer) => {
                ptr.found = answer.values;
                ptr.state = if ptr.found.is_empty() {
                    State::Missing
                } else if ptr.found.contains(&want) {
                    State::Ok
                } else {
                    State::Different
                };
            }
        }
        out.push(ptr);
    }
    out
}

/// `4.3.2.1.in-addr.arpa` / the nibbles of an IPv6 address `.ip6.arpa`.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut parts: Vec<String> = Vec::with_capacity(34);
            for byte in v6.octets().iter().rev() {
                parts.push(format!("{:x}", byte & 0x0f));
                parts.push(format!("{:x}", byte >> 4));
            }
            parts.push("ip6.arpa".to_string());
            parts.join(".")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(purpose: Purpose, value: &str) -> DnsRecord {
        DnsRecord {
            name: "a.example".into(),
            purpose,
            ttl: 3600,
            value: value.into(),
        }
    }

    fn answer(values: &[&str]) -> Answer {
        Answer {
            cname: None,
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn mx_ok_missing_different_and_elsewhere() {
        let mx = record(Purpose::Mx, "10 mx.host.example.");
        assert_eq!(compare(&mx, &answer(&["10 MX.Host.Example."])).0, State::Ok);
        assert_eq!(compare(&mx, &answer(&[])).0, State::Missing);
        assert_eq!(
            compare(&mx, &answer(&["10 mx.other.example."])).0,
            State::Different
        );
        let (state, _, note) = compare(&mx, &answer(&["10 mx.host.example.", "20 backup.other."]));
        assert_eq!(state, State::Conflicting);
        assert!(note.unwrap().contains("20 backup.other."));
    }

    /// A backup MX declares two values (theirs at 10, ours at 20): both, in
    /// any order, are ok; one of them alone is different; a third conflicts.
    #[test]
    fn a_backup_mx_expects_exactly_its_two_values() {
        let mx = record(Purpose::Mx, "10 mail.client.example.\n20 mx.host.example.");
        let ok = ["20 mx.host.example.", "10 Mail.Client.Example."];
        assert_eq!(compare(&mx, &answer(&ok)).0, State::Ok);
        assert_eq!(
            compare(&mx, &answer(&["10 mx.host.example."])).0,
            State::Different
        );
        let (state, _, note) = compare(
            &mx,
            &answer(&[
                "10 mail.client.example.",
                "20 mx.host.example.",
                "30 x.example.",
            ]),
        );
        assert_eq!(state, State::Conflicting);
        assert!(note.unwrap().contains("30 x.example."));
    }

    #[test]
    fn spf_counts_only_spf_and_two_conflict() {
        let spf = record(Purpose::Spf, "v=spf1 mx -all");
        assert_eq!(
            compare(
                &spf,
                &answer(&["google-site-verification=x", "v=spf1  mx -all"])
            )
            .0,
            State::Ok
        );
        assert_eq!(
            compare(&spf, &answer(&["v=spf1 mx ~all"])).0,
            State::Different
        );
        assert_eq!(compare(&spf, &answer(&["v=spf10"])).0, State::Missing);
        let (state, found, _) = compare(&spf, &answer(&["v=spf1 mx -all", "v=spf1 a -all"]));
        assert_eq!((state, found.len()), (State::Conflicting, 2));
    }

    #[test]
    fn a_report_authorization_is_any_dmarc1_record() {
        let auth = record(Purpose::DmarcReport("webhizzy.in".into()), "v=DMARC1");
        assert_eq!(compare(&auth, &answer(&["v=DMARC1"])).0, State::Ok);
        // It may name its own report address; several still authorize.
        assert_eq!(
            compare(
                &auth,
                &answer(&["v=DMARC1; rua=mailto:x@webhizzy.in", "v=DMARC1"])
            )
            .0,
            State::Ok
        );
        assert_eq!(compare(&auth, &answer(&["v=spf1 -all"])).0, State::Missing);
        assert_eq!(compare(&auth, &answer(&[])).0, State::Missing);
    }

    #[test]
    fn dmarc_tags_compare_in_any_order_and_a_cname_conflicts() {
        let dmarc = record(Purpose::Dmarc, "v=DMARC1; p=reject; adkim=s; aspf=s");
        assert_eq!(
            compare(&dmarc, &answer(&["v=DMARC1;aspf=s; adkim=s;p=reject;"])).0,
            State::Ok
        );
        assert_eq!(
            compare(&dmarc, &answer(&["v=DMARC1; p=none"])).0,
            State::Different
        );
        let with_cname = Answer {
            cname: Some("dmarc.provider.example.".into()),
            values: vec!["v=DMARC1; p=none".into()],
        };
        let (state, _, note) = compare(&dmarc, &with_cname);
        assert_eq!(state, State::Conflicting);
        assert!(note.unwrap().contains("CNAME where a TXT must be"));
    }

    #[test]
    fn mta_sts_records_compare_by_kind() {
        let host = record(Purpose::MtaStsHost, "mx.host.example.");
        let cname = |target: &str| Answer {
            cname: Some(target.to_string()),
            values: Vec::new(),
        };
        assert_eq!(compare(&host, &cname("mx.host.example")).0, State::Ok);
        assert_eq!(
            compare(&host, &cname("www.elsewhere.example")).0,
            State::Different
        );
        assert_eq!(compare(&host, &answer(&[])).0, State::Missing);
        let sts = record(Purpose::MtaSts, "v=STSv1; id=abc");
        assert_eq!(compare(&sts, &answer(&["v=STSv1;id=abc"])).0, State::Ok);
        assert_eq!(
            compare(&sts, &answer(&["v=STSv1; id=old"])).0,
            State::Different
        );
        let rpt = record(Purpose::TlsRpt, "v=TLSRPTv1; rua=mailto:t@host.example");
        assert_eq!(
            compare(&rpt, &answer(&["v=TLSRPTv1; rua=mailto:t@host.example"])).0,
            State::Ok
        );
        let srv = record(
            Purpose::Srv("_imaps._tcp".into()),
            "0 1 993 mx.host.example.",
        );
        assert_eq!(
            compare(&srv, &answer(&["0 1 993 mx.host.example."])).0,
            State::Ok
        );
        assert_eq!(
            compare(&srv, &answer(&["0 1 143 mx.host.example."])).0,
            State::Different
        );
        assert_eq!(compare(&srv, &answer(&[])).0, State::Missing);
    }

    #[test]
    fn dkim_ignores_whitespace_in_the_key() {
        let dkim = record(Purpose::Dkim("s".into()), "v=DKIM1; k=rsa; p=ABCDEF");
        assert_eq!(
            compare(&dkim, &answer(&["v=DKIM1; k=rsa; p=ABC DEF"])).0,
            State::Ok
        );
        assert_eq!(
            compare(&dkim, &answer(&["v=DKIM1; k=rsa; p=ABCDEG"])).0,
            State::Different
        );
    }

    #[test]
    fn bimi_compares_tags_and_refuses_two_assertions() {
        let bimi = record(Purpose::Bimi, "v=BIMI1; l=https://acme.example/logo.svg");
        assert_eq!(
            compare(&bimi, &answer(&["v=BIMI1;l=https://acme.example/logo.svg"])).0,
            State::Ok
        );
        assert_eq!(
            compare(&bimi, &answer(&["v=BIMI1; l=https://acme.example/old.svg"])).0,
            State::Different
        );
        assert_eq!(compare(&bimi, &answer(&["v=spf1 -all"])).0, State::Missing);
        let two = answer(&[
            "v=BIMI1; l=https://acme.example/logo.svg",
            "v=BIMI1; l=https://acme.example/old.svg",
        ]);
        assert_eq!(compare(&bimi, &two).0, State::Conflicting);
    }

    fn ds(tag: u16, digest_type: u8, digest: &str) -> Ds {
        Ds {
            key_tag: tag,
            algorithm: 13,
            digest_type,
            digest_hex: digest.to_string(),
        }
    }

    #[test]
    fn a_parents_ds_matches_a_key_missing_or_different() {
        let keys = [ds(55001, 2, "59A3DF")];
        assert_eq!(
            compare_ds(&keys, &[ds(55001, 2, "59a3df")], "a.example"),
            (State::Ok, None)
        );
        let (state, note) = compare_ds(&keys, &[], "a.example");
        assert_eq!(state, State::Missing);
        assert!(note.unwrap().contains("mailops dns records a.example"));
        let (state, note) = compare_ds(&keys, &[ds(55001, 2, "000000")], "a.example");
        assert_eq!(state, State::Different);
        assert!(note.unwrap().contains("refuse every answer"));
        let (state, _) = compare_ds(&keys, &[ds(12345, 2, "59A3DF")], "a.example");
        assert_eq!(state, State::Different);
        // The right key with a wrong SHA-256 digest is no match either.
        let (state, _) = compare_ds(&keys, &[ds(55001, 2, "59A3D0")], "a.example");
        assert_eq!(state, State::Different);
        let (state, note) = compare_ds(&keys, &[ds(55001, 4, "ABCDEF")], "a.example");
        assert_eq!(state, State::Ok);
        assert!(note.unwrap().contains("another digest type"));
    }

    #[test]
    fn reverse_names() {
        assert_eq!(
            reverse_name("192.0.2.10".parse().unwrap()),
            "10.2.0.192.in-addr.arpa"
        );
        assert!(reverse_name("2001:db8::1".parse().unwrap()).starts_with(
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        ));
    }
}
