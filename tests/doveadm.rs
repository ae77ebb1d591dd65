//! Dovecot itself accepts mailops's hashes: `doveadm pw -t` verifies every
//! hash of the example mailboxes (ARGON2ID, BLF-CRYPT, SHA512-CRYPT) and a
//! fresh one from `mailops hash-password`.
//!
//! Needs `doveadm` (Debian: `apt-get install -y dovecot-core`). Without it
//! these tests fail, saying so: they are never skipped.

mod support;

use std::process::Command;

use support::{example_mailboxes, example_passwords, mailops};

/// Does Dovecot verify `password` against `hash`?
fn doveadm_verifies(hash: &str, password: &str) -> bool {
    let output = Command::new("doveadm")
        .args(["pw", "-t", hash, "-p", password])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run doveadm ({e}); install Dovecot: apt-get install -y dovecot-core")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    output.status.success() && stdout.contains("(verified)")
}

#[test]
fn doveadm_verifies_a_hash_from_hash_password() {
    let output = mailops()
        .arg("hash-password")
        .write_stdin("Correct-Horse-9\n")
        .output()
        .unwrap();
    assert!(output.status.success());
    let hash = String::from_utf8(output.stdout).unwrap();
    let hash = hash.trim();
    assert!(
        doveadm_verifies(hash, "Correct-Horse-9"),
        "doveadm refused {hash}"
    );
    assert!(
        !doveadm_verifies(hash, "Correct-Horse-8"),
        "doveadm accepted a wrong password"
    );
}

#[test]
fn doveadm_verifies_every_example_hash() {
    let passwords = example_passwords();
    for mailbox in example_mailboxes() {
        let plaintext = &passwords[&mailbox.address];
        assert!(
            doveadm_verifies(&mailbox.password, plaintext),
            "doveadm refused the hash of {} in {}",
            mailbox.address,
            mailbox.file
        );
    }
}
