//! DKIM key pairs: generation and the link between a private and a public key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};

use crate::error::Error;

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

/// Why a private key file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrivateKeyProblem {
    /// Neither an RSA nor an Ed25519 private key in PKCS#8 PEM.
    NotPkcs8Pem,
    /// The key was read, but its public key would not encode.
    PublicKey(String),
}

impl std::fmt::Display for PrivateKeyProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrivateKeyProblem::NotPkcs8Pem => {
                f.write_str("not a PKCS#8 PEM RSA or Ed25519 private key")
            }
            PrivateKeyProblem::PublicKey(why) => f.write_str(why),
        }
    }
}

/// A new key pair. It fails only when the system does (its random source,
/// an encoder): an operational error.
pub(crate) fn generate(algorithm: KeyAlgorithm) -> Result<KeyPair, Error> {
    let mut rng = rand::thread_rng();
    match algorithm {
        KeyAlgorithm::Rsa2048 | KeyAlgorithm::Rsa4096 => {
            let bits = if algorithm == KeyAlgorithm::Rsa2048 {
                2048
            } else {
                4096
            };
            let key = rsa::RsaPrivateKey::new(&mut rng, bits)
                .map_err(|e| Error::operational(e.to_string()))?;
            let private_pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| Error::operational(e.to_string()))?;
            let public = key
                .to_public_key()
                .to_public_key_der()
                .map_err(|e| Error::operational(e.to_string()))?;
            Ok(KeyPair {
                private_pem: private_pem.to_string(),
                public_base64: STANDARD.encode(public.as_bytes()),
            })
        }
        KeyAlgorithm::Ed25519 => {
            let key = ed25519_dalek::SigningKey::generate(&mut rng);
            let private_pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| Error::operational(e.to_string()))?;
            let public = key
                .verifying_key()
                .to_public_key_der()
                .map_err(|e| Error::operational(e.to_string()))?;
            Ok(KeyPair {
                private_pem: private_pem.to_string(),
                public_base64: STANDARD.encode(public.as_bytes()),
            })
        }
    }
}

/// The base64 SPKI public key of a PKCS#8 PEM private key (RSA or Ed25519).
pub(crate) fn public_key_of_private_pem(pem: &str) -> Result<String, PrivateKeyProblem> {
    if let Ok(key) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
        let der = key
            .to_public_key()
            .to_public_key_der()
            .map_err(|e| PrivateKeyProblem::PublicKey(e.to_string()))?;
        return Ok(STANDARD.encode(der.as_bytes()));
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        let der = key
            .verifying_key()
            .to_public_key_der()
            .map_err(|e| PrivateKeyProblem::PublicKey(e.to_string()))?;
        return Ok(STANDARD.encode(der.as_bytes()));
    }
    Err(PrivateKeyProblem::NotPkcs8Pem)
}

/// The private key as Rspamd reads it from a key file: RSA keys as PEM;
/// Ed25519 keys as the base64 of the 32-byte seed, because Rspamd 3.4 hands
/// every PEM file to OpenSSL as RSA and takes Ed25519 keys only in its own
/// raw form (see `rspamd_dkim_sign_key_load`).
pub(crate) fn rspamd_key_file(pem: &str) -> Result<Vec<u8>, PrivateKeyProblem> {
    if rsa::RsaPrivateKey::from_pkcs8_pem(pem).is_ok() {
        return Ok(pem.as_bytes().to_vec());
    }
    if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
        return Ok(STANDARD.encode(key.to_bytes()).into_bytes());
    }
    Err(PrivateKeyProblem::NotPkcs8Pem)
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
    fn rspamd_gets_ed25519_keys_as_a_base64_seed_and_rsa_as_pem() {
        let ed = generate(KeyAlgorithm::Ed25519).unwrap();
        let file = rspamd_key_file(&ed.private_pem).unwrap();
        let seed = STANDARD.decode(&file).unwrap();
        assert_eq!(seed.len(), 32, "no newline, no PEM armour");
        let key = ed25519_dalek::SigningKey::from_bytes(&seed.try_into().unwrap());
        let public = key.verifying_key().to_public_key_der().unwrap();
        assert_eq!(STANDARD.encode(public.as_bytes()), ed.public_base64);

        let rsa = generate(KeyAlgorithm::Rsa2048).unwrap();
        assert_eq!(
            rspamd_key_file(&rsa.private_pem).unwrap(),
            rsa.private_pem.as_bytes()
        );
    }

    #[test]
    fn other_text_is_not_a_key() {
        assert_eq!(
            public_key_of_private_pem(
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
            )
            .unwrap_err(),
            PrivateKeyProblem::NotPkcs8Pem
        );
    }
}
