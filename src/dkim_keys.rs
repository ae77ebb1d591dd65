//! DKIM key pairs: generation and the link between a private and a public key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

/// Key types `mailops dkim keygen` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum KeyAlgorithm {
    Rsa2048,
    Rsa4096,
    Ed25519,
}

/// A new key pair: PKCS#8 PEM private key and base64 SPKI public key.
pub(crate) struct KeyPair {
    pub(crate) private_pem: String,
    pub(crate) public_base64: String,
}

pub(crate) fn generate(algorithm: KeyAlgorithm) -> Result<KeyPair, String> {
    let mut rng = rand::thread_rng();
    match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
            let bits = if algorithm == KeyAlgorithm::Rsa2048 {
                2048
            } else {
                4096
            };
            let key = rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| e.to_string())?;
            let private_pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| e.to_string())?;
            Ok(KeyPair {
                private_pem: private_pem.to_string(),
                public_base64: STANDARD.encode(public.as_bytes()),
            })
        }
        KeyAlgorithm::Ed25519 => {
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            let private_pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            let public = key
                .verifying_key()
                .to_public_key_der()
                .map_err(|e| e.to_string())?;
            Ok(KeyPair {
                private_pem: private_pem.to_string(),
                public_base64: STANDARD.encode(public.as_bytes()),
            })
        }
    }
}

/// The base64 SPKI public key of a PKCS#8 PEM private key (RSA or Ed25519).
pub(crate) fn public_key_of_private_pem(pem: &str) -> Result<String, String> {
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        return Ok(STANDARD.encode(der.as_bytes()));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| e.to_string())?;
        return Ok(STANDARD.encode(der.as_bytes()));
    }
    Err("not a PKCS#8 PEM RSA or Ed25519 private key".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::dkim::parse_public_key;

    #[test]
    fn generated_pairs_belong_together() {
        for algorithm in [KeyAlgorithm::Rsa2048, KeyAlgorithm::Ed25519] {
            let pair = generate(algorithm).unwrap();
            assert!(pair.private_pem.starts_with("-----BEGIN PRIVATE KEY-----"));
            assert_eq!(
                public_key_of_private_pem(&pair.private_pem).unwrap(),
                pair.public_base64
            );
            assert!(parse_public_key(&pair.public_base64).is_ok());
        }
    }

    #[test]
    fn other_text_is_not_a_key() {
        assert!(
            public_key_of_private_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            )
            .is_err()
        );
    }
}
