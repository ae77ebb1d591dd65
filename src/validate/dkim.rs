//! DKIM public keys: base64 SubjectPublicKeyInfo, RSA ≥ 2048 bits or Ed25519.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;

use crate::model::DkimAlgorithm;

pub(crate) const MIN_RSA_BITS: usize = 2048;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DkimProblem {
    NotBase64,
    NotSpki,
    RsaTooShort(usize),
}

impl DkimProblem {
    pub(crate) fn describe(&self) -> String {
        match self {
            DkimProblem::NotBase64 => "the DKIM public key is not base64".into(),
            DkimProblem::NotSpki => {
                "the DKIM public key is not an RSA or Ed25519 SubjectPublicKeyInfo".into()
            }
            DkimProblem::RsaTooShort(bits) => {
                format!("the RSA key has {bits} bits; DKIM keys need at least {MIN_RSA_BITS}")
            }
        }
    }
}

/// A checked public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PublicKey {
    pub(crate) algorithm: DkimAlgorithm,
    /// Canonical base64 of the SPKI DER.
    pub(crate) spki_base64: String,
    /// DER bytes of the SPKI.
    pub(crate) spki_der: Vec<u8>,
    /// What goes into the DNS record's `p=` tag.
    pub(crate) dns_p: String,
}

/// Parse a base64 SPKI as written in a tenant file (whitespace is ignored).
pub(crate) fn parse_public_key(text: &str) -> Result<PublicKey, DkimProblem> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let der = STANDARD
        .decode(compact.as_bytes())
        .map_err(|_| DkimProblem::NotBase64)?;
    public_key_from_der(&der)
}

pub(crate) fn public_key_from_der(der: &[u8]) -> Result<PublicKey, DkimProblem> {
    let spki_base64 = STANDARD.encode(der);
    if let Ok(key) = rsa::RsaPublicKey::from_public_key_der(der) {
        let bits = key.n().bits();
        if bits < MIN_RSA_BITS {
            return Err(DkimProblem::RsaTooShort(bits));
        }
        return Ok(PublicKey {
            algorithm: DkimAlgorithm::Rsa { bits },
            dns_p: spki_base64.clone(),
            spki_base64,
            spki_der: der.to_vec(),
        });
    }
    if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_der(der) {
        return Ok(PublicKey {
            algorithm: DkimAlgorithm::Ed25519,
            dns_p: STANDARD.encode(key.as_bytes()),
            spki_base64,
            spki_der: der.to_vec(),
        });
    }
    Err(DkimProblem::NotSpki)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::pkcs8::EncodePublicKey;

    #[test]
    fn rsa_2048_is_accepted_and_1024_refused() {
        let mut rng = rand::thread_rng();
        let key = rsa::RsaPrivateKey::new(&mut rng, 1024).unwrap();
        let der = key.to_public_key().to_public_key_der().unwrap();
        let text = STANDARD.encode(der.as_bytes());
        assert_eq!(parse_public_key(&text), Err(DkimProblem::RsaTooShort(1024)));

        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let der = key.to_public_key().to_public_key_der().unwrap();
        let text = STANDARD.encode(der.as_bytes());
        let parsed = parse_public_key(&format!("{}\n  {}", &text[..40], &text[40..])).unwrap();
        assert_eq!(parsed.algorithm, DkimAlgorithm::Rsa { bits: 2048 });
        assert_eq!(parsed.dns_p, text);
    }

    #[test]
    fn ed25519_publishes_the_raw_key() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let der = key.verifying_key().to_public_key_der().unwrap();
        let parsed = parse_public_key(&STANDARD.encode(der.as_bytes())).unwrap();
        assert_eq!(parsed.algorithm, DkimAlgorithm::Ed25519);
        assert_eq!(
            parsed.dns_p,
            STANDARD.encode(key.verifying_key().as_bytes())
        );
    }

    #[test]
    fn garbage_is_refused() {
        assert_eq!(parse_public_key("not base64!"), Err(DkimProblem::NotBase64));
        assert_eq!(parse_public_key("aGVsbG8="), Err(DkimProblem::NotSpki));
    }
}
