//! TLSA records for the mail host (DANE, RFC 7672): `3 1 1 <SHA-256 of the
//! SubjectPublicKeyInfo>` — DANE-EE, the public key only, so a renewed
//! certificate with the same key keeps matching (certbot `--reuse-key`),
//! and a second record for the next key is published before it is used.

use sha2::{Digest, Sha256};

/// One `3 1 1` association: the hex SHA-256 of a public key, and where the
/// key came from (for people).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Association {
    pub(crate) sha256_hex: String,
    pub(crate) source: String,
}

impl Association {
    /// The record data: `3 1 1 <hex>`.
    pub(crate) fn rdata(&self) -> String {
        format!("3 1 1 {}", self.sha256_hex)
    }
}

fn digest_hex(spki_der: &[u8]) -> String {
    Sha256::digest(spki_der)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The association of the first certificate in a PEM file (the leaf, as
/// certbot's `cert.pem` and `fullchain.pem` both start with it).
pub(crate) fn from_certificate_pem(pem: &[u8], source: &str) -> Result<Association, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| format!("{source}: not a PEM certificate ({e})"))?;
    if block.label != "CERTIFICATE" {
        return Err(format!(
            "{source}: the first PEM block is `{}`, not a CERTIFICATE",
            block.label
        ));
    }
    let certificate = block
        .parse_x509()
        .map_err(|e| format!("{source}: not an X.509 certificate ({e})"))?;
    Ok(Association {
        sha256_hex: digest_hex(certificate.tbs_certificate.subject_pki.raw),
        source: source.to_string(),
    })
}

/// The association of a public key in a PEM file (`-----BEGIN PUBLIC KEY-----`,
/// a SubjectPublicKeyInfo: `openssl pkey -in next.key -pubout`), for the
/// next key of a rollover.
pub(crate) fn from_public_key_pem(pem: &[u8], source: &str) -> Result<Association, String> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem)
        .map_err(|e| format!("{source}: not a PEM public key ({e})"))?;
    if block.label != "PUBLIC KEY" {
        return Err(format!(
            "{source}: the first PEM block is `{}`, not a PUBLIC KEY (make one with `openssl pkey -in KEY -pubout`)",
            block.label
        ));
    }
    use x509_parser::prelude::FromDer;
    let (rest, _) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&block.contents)
        .map_err(|e| format!("{source}: not a SubjectPublicKeyInfo ({e})"))?;
    if !rest.is_empty() {
        return Err(format!("{source}: bytes after the public key"));
    }
    Ok(Association {
        sha256_hex: digest_hex(&block.contents),
        source: source.to_string(),
    })
}

/// The owner name of the TLSA records of SMTP on `port` of `host`.
pub(crate) fn owner(host: &str, port: u16) -> String {
    format!("_{port}._tcp.{host}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate() -> (String, Vec<u8>) {
        let key = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["mx.webhizzy.in".to_string()]).unwrap();
        let cert = params.self_signed(&key).unwrap();
        use rcgen::PublicKeyData;
        (cert.pem(), key.subject_public_key_info())
    }

    #[test]
    fn a_certificate_and_its_public_key_give_the_same_association() {
        let (pem, spki) = certificate();
        let from_cert = from_certificate_pem(pem.as_bytes(), "cert.pem").unwrap();
        assert_eq!(from_cert.sha256_hex, digest_hex(&spki));
        assert_eq!(from_cert.rdata().len(), "3 1 1 ".len() + 64);
        use base64::Engine;
        let body = base64::engine::general_purpose::STANDARD.encode(&spki);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let public_pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            lines.join("\n")
        );
        let from_key = from_public_key_pem(public_pem.as_bytes(), "next.pub").unwrap();
        assert_eq!(from_key.sha256_hex, from_cert.sha256_hex);
    }

    #[test]
    fn the_wrong_kind_of_file_is_named() {
        let (pem, _) = certificate();
        let err = from_public_key_pem(pem.as_bytes(), "cert.pem").unwrap_err();
        assert!(err.contains("not a PUBLIC KEY"), "{err}");
        let err = from_certificate_pem(b"hello", "x.pem").unwrap_err();
        assert!(err.starts_with("x.pem: not a PEM certificate"), "{err}");
        assert_eq!(owner("mx.webhizzy.in", 25), "_25._tcp.mx.webhizzy.in");
    }
}
