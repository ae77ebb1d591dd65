//! Synthetic mail repo generator, for benchmarks.
//!
//! `cargo run --release --example synth -- --tenants N --mailboxes M --aliases A --out DIR`
//!
//! Writes `DIR/mailops.toml` and `DIR/tenants/t<i>.example.toml`: M mailboxes and A aliases per
//! tenant (postmaster@ and abuse@ among them, one alias with several destinations, one
//! cross-tenant alias), all valid. One DKIM key and one password hash are shared by every
//! tenant (generating thousands of keys would dominate the run). Output is deterministic
//! apart from that key and hash.
//!
//! `--chain N` adds to t0 a chain of N aliases (`hop0` → `hop1` → … → an outside address);
//! `--loop N` the same chain closed into a forwarding loop (which validation refuses).

use std::path::PathBuf;

use argon2::password_hash::{PasswordHasher, SaltString};
use base64::Engine;
use mailops::testkit::{MINIMAL_PLATFORM, TenantText};
use rsa::pkcs8::EncodePublicKey;

struct Args {
    tenants: usize,
    mailboxes: usize,
    aliases: usize,
    /// Hops of an alias chain in t0, and whether it closes into a loop.
    chain: usize,
    closed: bool,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        tenants: 100,
        mailboxes: 100,
        aliases: 20,
        chain: 0,
        closed: false,
        out: PathBuf::from("synth"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("{flag}: `{value}` is not a number"))
        };
        match flag.as_str() {
            "--tenants" => args.tenants = number()?,
            "--mailboxes" => args.mailboxes = number()?,
            "--aliases" => args.aliases = number()?,
            "--chain" => args.chain = number()?,
            "--loop" => {
                args.chain = number()?;
                args.closed = true;
            }
            "--out" => args.out = PathBuf::from(&value),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    if args.mailboxes == 0 || args.aliases < 2 {
        return Err(
            "--mailboxes must be at least 1 and --aliases at least 2 (postmaster@, abuse@)".into(),
        );
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!(
                "synth: {message}\nusage: synth --tenants N --mailboxes M --aliases A --out DIR"
            );
            std::process::exit(1);
        }
    };
    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
    let der = key.to_public_key().to_public_key_der().expect("SPKI");
    let public_key = base64::engine::general_purpose::STANDARD.encode(der.as_bytes());
    let salt = SaltString::generate(&mut rng);
    let hash = argon2::Argon2::default()
        .hash_password(b"synthetic", &salt)
        .expect("argon2")
        .to_string();
    let password = format!("{{ARGON2ID}}{hash}");

    let tenants_dir = args.out.join("tenants");
    std::fs::create_dir_all(&tenants_dir).expect("create output directory");
    std::fs::write(args.out.join("mailops.toml"), MINIMAL_PLATFORM).expect("write mailops.toml");

    for t in 0..args.tenants {
        let domain = format!("t{t}.example");
        let next = format!("t{}.example", (t + 1) % args.tenants);
        let mut tenant = TenantText::new(&domain);
        tenant
            .description(&format!("Synthetic tenant {t}"))
            .dkim(&public_key)
            .limits(args.mailboxes, args.aliases + args.chain, "20 GiB");
        for m in 0..args.mailboxes {
            tenant.mailbox(
                &format!("user{m}"),
                Some(&format!("User {m}")),
                &password,
                Some(&format!("{} GiB", 1 + m % 10)),
            );
        }
        tenant
            .alias("postmaster", &["user0"])
            .alias("abuse", &["user0"]);
        for a in 2..args.aliases {
            let to = match a {
                2 => vec![
                    "user0".to_string(),
                    format!("user{}", 1 % args.mailboxes),
                    "ops@partner.example".to_string(),
                ],
                3 => vec![format!("user0@{next}")],
                _ => vec![format!("user{}", a % args.mailboxes)],
            };
            let to: Vec<&str> = to.iter().map(String::as_str).collect();
            tenant.alias(&format!("alias{a}"), &to);
        }
        if t == 0 {
            for hop in 0..args.chain {
                let to = match hop + 1 {
                    next if next < args.chain => format!("hop{next}"),
                    _ if args.closed => "hop0".to_string(),
                    _ => "ops@partner.example".to_string(),
                };
                tenant.alias(&format!("hop{hop}"), &[&to]);
            }
        }
        std::fs::write(tenants_dir.join(format!("{domain}.toml")), tenant.as_str())
            .expect("write tenant");
    }
    eprintln!(
        "wrote {} tenants ({} mailboxes, {} aliases each) to {}",
        args.tenants,
        args.mailboxes,
        args.aliases,
        args.out.display()
    );
}
