//! `mailops dns check --smtp`: what a sending server sees at the mail host's
//! port 25. The banner must name the host (Postfix's `myhostname`, which
//! mailops sets to the platform's hostname); the server must offer STARTTLS;
//! its certificate must cover the hostname, chain to a trusted CA (the public
//! roots, or the `--smtp-ca` anchors) and stay valid for at least the given
//! number of days; with `[mail_host] tlsa`, one of those TLSA records must
//! match the certificate served (else DANE senders defer their mail). Each
//! finding is a [`RecordCheck`] beside the host's DNS checks, so the report,
//! its formats and its exit code stay one.
//!
//! The dialogue is plain blocking I/O with timeouts: one connection per
//! address of the host. The TLS handshake accepts whatever certificate is
//! offered (but still checks the server holds its key), and the certificate
//! is judged afterwards by rustls's WebPKI verifier, so that a bad one is
//! reported for what is wrong with it rather than as a failed handshake.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::dns::check::{RecordCheck, State};

/// How to check.
#[derive(Debug, Clone)]
pub(crate) struct SmtpOptions {
    pub(crate) port: u16,
    pub(crate) timeout: Duration,
    /// Trust anchors besides the public roots (`--smtp-ca`).
    pub(crate) extra_roots: Vec<CertificateDer<'static>>,
    /// The certificate must stay valid for at least this many days.
    pub(crate) min_days: u64,
    /// `[mail_host] tlsa`: one must match the served certificate (none: not checked).
    pub(crate) tlsa: Vec<String>,
}

/// The checks of every address of the host.
pub(crate) fn check(
    hostname: &str,
    addresses: &[IpAddr],
    options: &SmtpOptions,
) -> Vec<RecordCheck> {
    if addresses.is_empty() {
        return vec![RecordCheck {
            domain: hostname.to_string(),
            name: format!("{hostname}:{}", options.port),
            rtype: "SMTP",
            purpose: "STARTTLS and certificate".to_string(),
            state: State::Unresolved,
            expected: "an address to connect to".to_string(),
            found: Vec::new(),
            note: Some("the host's name has no address (and no --expect-ip)".to_string()),
        }];
    }
    let mut out = Vec::new();
    for ip in addresses {
        out.extend(check_one(
            hostname,
            SocketAddr::new(*ip, options.port),
            options,
        ));
    }
    out
}

/// An SMTP reply: its code and the text of each line.
struct Reply {
    code: u16,
    lines: Vec<String>,
}

fn read_reply(reader: &mut impl BufRead) -> Result<Reply, String> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let mut limited = reader.by_ref().take(4096);
        if limited.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            return Err("the server closed the connection".to_string());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        let code = line
            .get(..3)
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("not an SMTP reply: `{}`", crate::chars::printable(line)))?;
        let more = line.as_bytes().get(3) == Some(&b'-');
        lines.push(line.get(4..).unwrap_or("").to_string());
        if !more {
            return Ok(Reply { code, lines });
        }
        if lines.len() > 100 {
            return Err("a reply of more than 100 lines".to_string());
        }
    }
}

fn check_one(hostname: &str, address: SocketAddr, options: &SmtpOptions) -> Vec<RecordCheck> {
    let name = address.to_string();
    let record = |rtype: &'static str, purpose: &str, expected: String| RecordCheck {
        domain: hostname.to_string(),
        name: name.clone(),
        rtype,
        purpose: purpose.to_string(),
        state: State::Ok,
        expected,
        found: Vec::new(),
        note: None,
    };
    let mut banner = record("SMTP", "banner names the host", format!("220 {hostname} …"));
    let mut tls = record(
        "TLS",
        "STARTTLS certificate",
        format!(
            "a trusted certificate for {hostname}, valid for {} more days or longer",
            options.min_days
        ),
    );
    let unresolved = |mut check: RecordCheck, why: String| {
        check.state = State::Unresolved;
        check.note = Some(why);
        vec![check]
    };
    let tcp = match TcpStream::connect_timeout(&address, options.timeout) {
        Ok(tcp) => tcp,
        Err(e) => return unresolved(banner, format!("cannot connect: {e}")),
    };
    let _ = tcp.set_read_timeout(Some(options.timeout));
    let _ = tcp.set_write_timeout(Some(options.timeout));
    let mut reader = BufReader::new(match tcp.try_clone() {
        Ok(t) => t,
        Err(e) => return unresolved(banner, e.to_string()),
    });
    let mut writer = tcp;

    let greeting = match read_reply(&mut reader) {
        Ok(reply) => reply,
        Err(why) => return unresolved(banner, format!("no greeting: {why}")),
    };
    let first = greeting.lines.first().cloned().unwrap_or_default();
    banner.found = vec![format!(
        "{} {}",
        greeting.code,
        crate::chars::printable(&first)
    )];
    let names_host = first
        .split_whitespace()
        .next()
        .is_some_and(|word| word.trim_end_matches('.').eq_ignore_ascii_case(hostname));
    if greeting.code != 220 || !names_host {
        banner.state = State::Different;
        banner.note = Some(format!(
            "the greeting must be 220 and name {hostname} (Postfix's myhostname)"
        ));
    }
    if greeting.code != 220 {
        return vec![banner];
    }

    let mut say = |command: &str| -> Result<Reply, String> {
        writer
            .write_all(format!("{command}\r\n").as_bytes())
            .map_err(|e| e.to_string())?;
        read_reply(&mut reader)
    };
    let ehlo = match say("EHLO mailops-dns-check.invalid") {
        Ok(reply) if reply.code == 250 => reply,
        Ok(reply) => {
            return [
                vec![banner],
                unresolved(tls, format!("EHLO answered {}", reply.code)),
            ]
            .concat();
        }
        Err(why) => return [vec![banner], unresolved(tls, format!("EHLO: {why}"))].concat(),
    };
    let offers_starttls = ehlo.lines.iter().any(|line| {
        line.split_whitespace()
            .next()
            .is_some_and(|word| word.eq_ignore_ascii_case("STARTTLS"))
    });
    if !offers_starttls {
        tls.state = State::Missing;
        tls.note = Some("the server does not offer STARTTLS".to_string());
        let _ = say("QUIT");
        return vec![banner, tls];
    }
    match say("STARTTLS") {
        Ok(reply) if reply.code == 220 => {}
        Ok(reply) => {
            return [
                vec![banner],
                unresolved(tls, format!("STARTTLS answered {}", reply.code)),
            ]
            .concat();
        }
        Err(why) => return [vec![banner], unresolved(tls, format!("STARTTLS: {why}"))].concat(),
    }
    // Nothing may be buffered past the 220: the server waits for the handshake.
    let mut tcp = writer;
    let chain = match handshake(&mut tcp, hostname) {
        Ok(chain) => chain,
        Err(why) => {
            return [
                vec![banner],
                unresolved(tls, format!("TLS handshake: {why}")),
            ]
            .concat();
        }
    };
    judge(&mut tls, hostname, &chain, options);
    if options.tlsa.is_empty() {
        return vec![banner, tls];
    }
    let mut dane = record(
        "TLSA",
        "DANE: the host's tlsa ([mail_host] or [[hosts]])",
        options.tlsa.join(" or "),
    );
    dane_matches(&mut dane, &chain, &options.tlsa);
    vec![banner, tls, dane]
}

/// Whether a TLSA record of the platform matches the served chain: usage 3
/// the leaf, usage 2 another certificate of the chain; either selector,
/// SHA-256 or SHA-512 (the forms `[mail_host] tlsa` accepts, lowercase).
fn dane_matches(dane: &mut RecordCheck, chain: &[CertificateDer<'static>], records: &[String]) {
    use sha2::{Digest, Sha256, Sha512};
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut served = Vec::new();
    for (i, der) in chain.iter().enumerate() {
        let usage = if i == 0 { 3 } else { 2 };
        let spki = x509_parser::parse_x509_certificate(der)
            .ok()
            .map(|(_, cert)| cert.tbs_certificate.subject_pki.raw.to_vec());
        for (selector, data) in [(0, Some(der.to_vec())), (1, spki)] {
            let Some(data) = data else { continue };
            served.push(format!(
                "{usage} {selector} 1 {}",
                hex(&Sha256::digest(&data))
            ));
            served.push(format!(
                "{usage} {selector} 2 {}",
                hex(&Sha512::digest(&data))
            ));
        }
    }
    // What `mailops tls tlsa` prints for the served key.
    dane.found = served
        .iter()
        .filter(|r| r.starts_with("3 1 1 "))
        .cloned()
        .collect();
    if !records.iter().any(|r| served.contains(r)) {
        dane.state = State::Different;
        dane.note = Some(
            "no TLSA record declared for this host ([mail_host] or [[hosts]] tlsa) matches the certificate served: DANE senders defer their mail to the host; publish the served key's record (`mailops tls tlsa --cert …`) beside the others".to_string(),
        );
    }
}

/// The handshake, accepting any certificate; the chain the server sent.
fn handshake(tcp: &mut TcpStream, hostname: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    let server = ServerName::try_from(hostname.to_string()).map_err(|e| e.to_string())?;
    let mut conn =
        rustls::ClientConnection::new(Arc::new(config), server).map_err(|e| e.to_string())?;
    while conn.is_handshaking() {
        conn.complete_io(tcp).map_err(|e| e.to_string())?;
    }
    let chain: Vec<CertificateDer<'static>> = conn
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|c| c.clone().into_owned())
        .collect();
    // A polite end; the answer does not matter.
    let mut stream = rustls::Stream::new(&mut conn, tcp);
    let _ = stream.write_all(b"QUIT\r\n");
    if chain.is_empty() {
        return Err("the server sent no certificate".to_string());
    }
    Ok(chain)
}

/// What is wrong with the certificate, if anything, into `tls`.
fn judge(
    tls: &mut RecordCheck,
    hostname: &str,
    chain: &[CertificateDer<'static>],
    options: &SmtpOptions,
) {
    let (leaf, intermediates) = chain.split_first().expect("a chain is not empty");
    let now = SystemTime::now();
    let mut days_left: Option<i64> = None;
    let found = match x509_parser::parse_x509_certificate(leaf) {
        Ok((_, cert)) => {
            let names: Vec<String> = cert
                .subject_alternative_name()
                .ok()
                .flatten()
                .map(|san| {
                    san.value
                        .general_names
                        .iter()
                        .map(|n| match n {
                            x509_parser::extensions::GeneralName::DNSName(name) => name.to_string(),
                            other => other.to_string(),
                        })
                        .collect()
                })
                .unwrap_or_default();
            let not_after = cert.validity().not_after.timestamp();
            let now_secs = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let days = (not_after - now_secs).div_euclid(86_400);
            days_left = Some(days);
            format!(
                "names {}; expires {} (in {days} days)",
                if names.is_empty() {
                    "none".to_string()
                } else {
                    names.join(", ")
                },
                cert.validity().not_after
            )
        }
        Err(e) => format!("an unreadable certificate: {e}"),
    };
    tls.found = vec![found];

    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for extra in &options.extra_roots {
        let _ = roots.add(extra.clone());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verdict = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))
        .and_then(|verifier| {
            let server = ServerName::try_from(hostname.to_string())
                .map_err(|e| rustls::Error::General(e.to_string()))?;
            verifier.verify_server_cert(leaf, intermediates, &server, &[], UnixTime::now())
        });
    let problem = match verdict {
        Ok(_) => None,
        Err(rustls::Error::InvalidCertificate(error)) => Some(match error {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate does not cover {hostname}")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                "the certificate has expired".to_string()
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_string()
            }
            // No anchor, or an anchor of that name whose key did not sign it.
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                "the certificate is not signed by a trusted CA (a public root, or --smtp-ca)"
                    .to_string()
            }
            other => format!("the certificate is refused: {other:?}"),
        }),
        Err(other) => Some(format!("the certificate cannot be checked: {other}")),
    };
    if let Some(problem) = problem {
        tls.state = State::Different;
        tls.note = Some(problem);
    } else if let Some(days) = days_left.filter(|&d| d < options.min_days as i64) {
        tls.state = State::Different;
        tls.note = Some(format!(
            "the certificate expires in {days} days (less than {}): renew it",
            options.min_days
        ));
    }
}

/// Accepts the certificate (judged after the handshake), but not a forged
/// handshake: the signatures are checked with the provider's algorithms.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The certificates of a PEM file (`--smtp-ca`).
pub(crate) fn read_pem_certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not PEM certificates: {e}"))?;
    if certs.is_empty() {
        return Err("no certificate in it".to_string());
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    use rustls::pki_types::PrivateKeyDer;
    use std::net::TcpListener;

    const HOST: &str = "mx.test.example";

    /// A CA, and a certificate it signs for `names`, valid until `days` from now.
    fn certificates(
        names: &[&str],
        days: i64,
    ) -> (
        CertificateDer<'static>,
        CertificateDer<'static>,
        PrivateKeyDer<'static>,
    ) {
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let mut leaf =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let now = time::OffsetDateTime::now_utc();
        leaf.not_before = now - time::Duration::days(1);
        leaf.not_after = now + time::Duration::days(days);
        let cert = leaf.signed_by(&key, &issuer).unwrap();
        (
            ca_cert.der().clone(),
            cert.der().clone(),
            PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
    }

    /// One SMTP session on loopback: `banner`, an EHLO answer (with STARTTLS
    /// when `starttls`), then TLS with `cert`. The port.
    fn server(
        banner: &'static str,
        starttls: bool,
        cert: CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            let (mut tcp, _) = listener.accept().unwrap();
            let mut reader = BufReader::new(tcp.try_clone().unwrap());
            let mut line = String::new();
            tcp.write_all(format!("{banner}\r\n").as_bytes()).unwrap();
            reader.read_line(&mut line).unwrap();
            let ehlo = if starttls {
                "250-mx.test.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n"
            } else {
                "250-mx.test.example\r\n250 PIPELINING\r\n"
            };
            tcp.write_all(ehlo.as_bytes()).unwrap();
            line.clear();
            reader.read_line(&mut line).unwrap();
            if !line.starts_with("STARTTLS") {
                return;
            }
            tcp.write_all(b"220 2.0.0 Ready to start TLS\r\n").unwrap();
            let config = rustls::ServerConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
            let mut conn = rustls::ServerConnection::new(Arc::new(config)).unwrap();
            while conn.is_handshaking() {
                if conn.complete_io(&mut tcp).is_err() {
                    return;
                }
            }
            let mut stream = rustls::Stream::new(&mut conn, &mut tcp);
            let mut quit = [0u8; 6];
            let _ = stream.read_exact(&mut quit);
        });
        port
    }

    fn run(port: u16, ca: CertificateDer<'static>) -> Vec<RecordCheck> {
        let options = SmtpOptions {
            port,
            timeout: Duration::from_secs(5),
            extra_roots: vec![ca],
            min_days: 14,
            tlsa: Vec::new(),
        };
        check(HOST, &["127.0.0.1".parse().unwrap()], &options)
    }

    fn states(checks: &[RecordCheck]) -> Vec<(&'static str, State, Option<String>)> {
        checks
            .iter()
            .map(|c| (c.rtype, c.state, c.note.clone()))
            .collect()
    }

    #[test]
    fn a_good_host_passes() {
        let (ca, cert, key) = certificates(&[HOST], 90);
        let checks = run(
            server("220 mx.test.example ESMTP Postfix", true, cert, key),
            ca,
        );
        assert_eq!(
            states(&checks),
            [("SMTP", State::Ok, None), ("TLS", State::Ok, None)],
            "{checks:?}"
        );
        assert!(
            checks[1].found[0].starts_with("names mx.test.example; expires "),
            "{checks:?}"
        );
    }

    /// `[mail_host] tlsa`: the record of the served key matches (one line
    /// more, ok), a record of another key alone is different.
    #[test]
    fn the_platforms_tlsa_must_match_the_served_key() {
        use sha2::{Digest, Sha256};
        let (ca, cert, key) = certificates(&[HOST], 90);
        let (_, parsed) = x509_parser::parse_x509_certificate(&cert).unwrap();
        let spki = parsed.tbs_certificate.subject_pki.raw;
        let hex: String = Sha256::digest(spki)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let served = format!("3 1 1 {hex}");
        let other = format!("3 1 1 {}", "ab".repeat(32));
        for (records, state) in [
            (vec![other.clone(), served.clone()], State::Ok),
            (vec![other.clone()], State::Different),
        ] {
            let port = server(
                "220 mx.test.example ESMTP",
                true,
                cert.clone(),
                key.clone_key(),
            );
            let options = SmtpOptions {
                port,
                timeout: Duration::from_secs(5),
                extra_roots: vec![ca.clone()],
                min_days: 14,
                tlsa: records,
            };
            let checks = check(HOST, &["127.0.0.1".parse().unwrap()], &options);
            let dane = checks
                .iter()
                .find(|c| c.rtype == "TLSA")
                .expect("a TLSA line");
            assert_eq!(dane.state, state, "{checks:?}");
            assert_eq!(dane.found, std::slice::from_ref(&served), "{checks:?}");
        }
    }

    #[test]
    fn a_certificate_for_another_name_is_different() {
        let (ca, cert, key) = certificates(&["other.example"], 90);
        let checks = run(server("220 mx.test.example ESMTP", true, cert, key), ca);
        assert_eq!(checks[1].state, State::Different, "{checks:?}");
        assert_eq!(
            checks[1].note.as_deref(),
            Some("the certificate does not cover mx.test.example")
        );
    }

    #[test]
    fn a_certificate_near_its_end_is_different() {
        let (ca, cert, key) = certificates(&[HOST], 3);
        let checks = run(server("220 mx.test.example ESMTP", true, cert, key), ca);
        assert_eq!(checks[1].state, State::Different, "{checks:?}");
        let note = checks[1].note.as_deref().unwrap();
        assert!(note.starts_with("the certificate expires in "), "{note}");
        assert!(note.ends_with("days (less than 14): renew it"), "{note}");
    }

    #[test]
    fn an_untrusted_certificate_is_different() {
        let (_, cert, key) = certificates(&[HOST], 90);
        let (other_ca, _, _) = certificates(&[HOST], 90);
        let checks = run(
            server("220 mx.test.example ESMTP", true, cert, key),
            other_ca,
        );
        assert_eq!(checks[1].state, State::Different, "{checks:?}");
        assert!(
            checks[1]
                .note
                .as_deref()
                .unwrap()
                .contains("not signed by a trusted CA"),
            "{checks:?}"
        );
    }

    #[test]
    fn no_starttls_is_missing_and_a_wrong_banner_is_different() {
        let (ca, cert, key) = certificates(&[HOST], 90);
        let checks = run(server("220 localhost ESMTP", false, cert, key), ca);
        assert_eq!(
            states(&checks),
            [
                (
                    "SMTP",
                    State::Different,
                    Some(
                        "the greeting must be 220 and name mx.test.example (Postfix's myhostname)"
                            .to_string()
                    )
                ),
                (
                    "TLS",
                    State::Missing,
                    Some("the server does not offer STARTTLS".to_string())
                )
            ]
        );
    }

    #[test]
    fn nothing_listening_is_unresolved() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (ca, _, _) = certificates(&[HOST], 90);
        let checks = run(port, ca);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].state, State::Unresolved, "{checks:?}");
    }
}
