//! The DS record (RFC 4034 §5) a signed zone's registrar publishes in the
//! parent zone, computed from the zone's own key-signing DNSKEY.
//!
//! Route53 makes the key when Terraform applies `[dns] dnssec = true`, so
//! the DS is not known when mailops compiles: `mailops dns records` reads the
//! zone's live DNSKEY records and prints their DS, and `mailops dns check`
//! compares the parent's DS records with them. The digest is SHA-256 (digest
//! type 2, the one every registrar takes): over the owner name in canonical
//! wire form (lowercase labels) followed by the DNSKEY RDATA (§5.1.4).

use sha2::{Digest, Sha256};

/// DNSKEY flags: a zone key (bit 7) that is a secure entry point (bit 15),
/// i.e. the key-signing key the parent's DS points at.
const ZONE_KEY: u16 = 0x0100;
const SECURE_ENTRY_POINT: u16 = 0x0001;
/// The DNSKEY protocol field is always 3 (RFC 4034 §2.1.2).
const PROTOCOL: u8 = 3;
/// SHA-256 (RFC 4509).
pub(crate) const DIGEST_SHA256: u8 = 2;

/// One DS record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ds {
    pub(crate) key_tag: u16,
    pub(crate) algorithm: u8,
    pub(crate) digest_type: u8,
    /// Uppercase hex, as Route53 and most registrars show it.
    pub(crate) digest_hex: String,
}

impl Ds {
    /// `<key tag> <algorithm> <digest type> <digest>`: the zone-file RDATA.
    pub(crate) fn rdata(&self) -> String {
        format!(
            "{} {} {} {}",
            self.key_tag, self.algorithm, self.digest_type, self.digest_hex
        )
    }

    /// A DS record's RDATA as read from the wire: tag, algorithm, digest type, digest.
    pub(crate) fn from_wire(rdata: &[u8]) -> Option<Ds> {
        let (head, digest) = rdata.split_at_checked(4)?;
        (!digest.is_empty()).then(|| Ds {
            key_tag: u16::from_be_bytes([head[0], head[1]]),
            algorithm: head[2],
            digest_type: head[3],
            digest_hex: hex_upper(digest),
        })
    }
}

/// The SHA-256 DS of a DNSKEY of `owner`, when it is a key-signing key
/// (zone key and secure entry point flags, protocol 3); `None` for a
/// zone-signing key or RDATA that is no DNSKEY.
pub(crate) fn from_dnskey(owner: &str, rdata: &[u8]) -> Option<Ds> {
    let [f0, f1, protocol, algorithm, ..] = *rdata else {
        return None;
    };
    let flags = u16::from_be_bytes([f0, f1]);
    if flags & (ZONE_KEY | SECURE_ENTRY_POINT) != ZONE_KEY | SECURE_ENTRY_POINT
        || protocol != PROTOCOL
        || rdata.len() == 4
    {
        return None;
    }
    let mut hash = Sha256::new();
    hash.update(wire_name(owner));
    hash.update(rdata);
    Some(Ds {
        key_tag: key_tag(rdata),
        algorithm,
        digest_type: DIGEST_SHA256,
        digest_hex: hex_upper(&hash.finalize()),
    })
}

/// A domain name in canonical wire form: each label lowercased and
/// length-prefixed, then the root's empty label.
fn wire_name(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        out.push(label.len() as u8);
        out.extend(label.bytes().map(|b| b.to_ascii_lowercase()));
    }
    out.push(0);
    out
}

/// The key tag of a DNSKEY (RFC 4034 Appendix B; every algorithm but the
/// long-retired RSA/MD5).
fn key_tag(rdata: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for (i, byte) in rdata.iter().enumerate() {
        sum += if i % 2 == 0 {
            u32::from(*byte) << 8
        } else {
            u32::from(*byte)
        };
    }
    sum += (sum >> 16) & 0xffff;
    (sum & 0xffff) as u16
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use base64::Engine;

    use super::*;

    fn dnskey(flags: u16, algorithm: u8, key_b64: &str) -> Vec<u8> {
        let mut rdata = flags.to_be_bytes().to_vec();
        rdata.extend([PROTOCOL, algorithm]);
        rdata.extend(
            base64::engine::general_purpose::STANDARD
                .decode(key_b64)
                .unwrap(),
        );
        rdata
    }

    /// A zone Knot 3.2 signed (`dnssec-signing: on`, ECDSA P-256): its KSK's
    /// DS as `keymgr <zone> ds` printed it.
    #[test]
    fn the_ds_of_a_knot_signed_zones_ksk_is_keymgrs() {
        let ksk = dnskey(
            257,
            13,
            "vYwfMDfSHzEkkQWEqLi5NvqHiSIhXbvdqkt1GZJZUcJKyxWLlFC3jCZLz5Whi/1MwgkuuJvYuXCl85MvMZK88g==",
        );
        let ds = from_dnskey("dane-e2e.example", &ksk).unwrap();
        assert_eq!(
            ds.rdata(),
            "55001 13 2 59A3DF21B4D8AF162F751430533769B42DC051F31DF9B58C166487E2048D23E3"
        );
        // The owner name is case-insensitive and may be absolute.
        assert_eq!(from_dnskey("Dane-E2E.Example.", &ksk), Some(ds));
    }

    #[test]
    fn a_zone_signing_key_or_garbage_has_no_ds() {
        let zsk = dnskey(
            256,
            13,
            "NQP64eg01Z0vs4KSW4ZcO71+00wBQFZJ6K1A2acgL7t4NXmhgYe/NtMw/38ZqYAFj44dIsRAoY7BYUh2nSRXag==",
        );
        assert_eq!(from_dnskey("dane-e2e.example", &zsk), None);
        assert_eq!(from_dnskey("dane-e2e.example", &[1, 1, 3]), None);
        assert_eq!(from_dnskey("dane-e2e.example", &[1, 1, 3, 13]), None);
        let mut wrong_protocol = dnskey(257, 13, "AAAA");
        wrong_protocol[2] = 2;
        assert_eq!(from_dnskey("dane-e2e.example", &wrong_protocol), None);
    }

    #[test]
    fn a_ds_read_from_the_wire_is_the_same_record() {
        let mut wire = 55001u16.to_be_bytes().to_vec();
        wire.extend([13, 2, 0x59, 0xa3]);
        let ds = Ds::from_wire(&wire).unwrap();
        assert_eq!(ds.rdata(), "55001 13 2 59A3");
        assert_eq!(Ds::from_wire(&wire[..4]), None);
    }

    #[test]
    fn names_in_wire_form() {
        assert_eq!(wire_name("A.b."), b"\x01a\x01b\x00");
        assert_eq!(wire_name("example"), b"\x07example\x00");
    }
}
