//! Rspamd: `local.d/dkim_signing.conf`, `local.d/arc.conf` (same signing
//! policy, same keys) and `local.d/milter_headers.conf`.
//!
//! Signing needs no per-domain entry: the key is found through the path
//! template `<dkim_key_dir>/$domain.$selector.key`, the names `mailops dkim
//! keygen` gives keys in the key store. An alias domain signs with its
//! tenant's keys: `mailops install` puts a copy of each under the alias
//! domain's name, and the selector map lists it with the tenant's selector,
//! so mail From: the alias domain is signed `d=<alias domain>`. With `try_fallback` (Rspamd's default)
//! the global `path`/`selector` are the fallback for every domain; setting it
//! to false would sign nothing without a per-domain entry.
//!
//! Selectors. A tenant may choose its own (`[dkim] selector`), and onboarding
//! must not edit these files. So the selector of each domain comes from a
//! map file in the key directory, [`selector_map`], written by `mailops
//! install` next to the keys it copies (Rspamd watches map files and re-reads
//! them without a reload); the platform's default selector is the global
//! `selector`, used for any domain not (yet) in the map. The trade-off: the map
//! lives on the host, not in `generated/`, like the keys it describes, and a
//! newly listed selector is seen at Rspamd's next map check (minutes), while
//! a domain on the platform selector signs as soon as its key is there.
//!
//! The milter is Rspamd's proxy worker on `localhost:11332`, its packaged
//! default, so no worker file is generated.

use crate::emit::header::header;
use crate::emit::mail_host::{DKIM_SELECTOR_MAP, DKIM_SIGNING_DOMAINS, RATE_LIMIT_MAP};
use crate::emit::{Artifacts, engine, render};
use crate::model::{Model, Platform};

const SIGNING_CONF: &str = include_str!("templates/rspamd/signing.conf");
const MILTER_HEADERS_CONF: &str = include_str!("templates/rspamd/milter_headers.conf");
const RATELIMIT_CONF: &str = include_str!("templates/rspamd/ratelimit.conf");
/// The ratelimit module's custom keywords: static Lua (nothing in it comes
/// from a tenant or the platform), emitted as it is.
const RATELIMIT_LUA: &str = include_str!("templates/rspamd/mailops_ratelimit.lua");

/// `<dkim_key_dir>/$domain.$selector.key`; `$domain` and `$selector` are
/// Rspamd's, filled at signing time.
pub(crate) fn key_path_template(platform: &Platform) -> String {
    format!("{}/$domain.$selector.key", platform.paths.dkim_key_dir)
}

/// Where the selector map lives on the host.
pub(crate) fn selector_map_path(platform: &Platform) -> String {
    format!("{}/{DKIM_SELECTOR_MAP}", platform.paths.dkim_key_dir)
}

/// The selector map (`domain selector` per line, sorted) that `mailops
/// install` writes to [`selector_map_path`]: each domain's active RSA key,
/// which seals ARC (Rspamd 3.4 seals with RSA only) and signs the mail of a
/// domain with one key. Domains and selectors are validated DNS labels:
/// nothing in them needs quoting. The other keys `mailops install` puts
/// in the folder (an Ed25519 key, a published or retiring key) are listed
/// in comments, [`INSTALLED_KEY`], so that the next install knows which key
/// files are its own when one of them is no longer installed.
pub(crate) fn selector_map(model: &Model) -> String {
    let mut text = header("#", "tenants/*.toml");
    text.push_str("# DKIM selector of each tenant domain's RSA key, read by Rspamd (local.d/dkim_signing.conf, arc.conf).\n");
    for domain in model.domains.values() {
        if let Some(key) = domain.arc_key() {
            for name in domain.signing_names() {
                text.push_str(&format!("{name} {}\n", key.selector));
                for other in domain
                    .deployed_keys()
                    .filter(|k| k.selector != key.selector)
                {
                    text.push_str(&format!("{INSTALLED_KEY}{name} {}\n", other.selector));
                }
            }
        }
    }
    text
}

/// The comment of the selector map that names another installed key:
/// `#+ <domain> <selector>`.
pub(crate) const INSTALLED_KEY: &str = "#+ ";

/// Where the per-domain signing entries live on the host.
pub(crate) fn signing_domains_path(platform: &Platform) -> String {
    format!("{}/{DKIM_SIGNING_DOMAINS}", platform.paths.dkim_key_dir)
}

/// The `domain { … }` entries of the domains with more than one active DKIM
/// key (an Ed25519 key and its RSA companion; a published or retiring key
/// never signs), which `mailops install` writes to
/// [`signing_domains_path`] and `dkim_signing.conf` includes: a domain
/// listed here is signed with every key (the selector map and the path
/// template name one key per domain). Rspamd reads it at start and reload
/// only, so `mailops install` asks for a reload when it changes; a domain
/// with one key is never listed, so onboarding one needs no reload.
pub(crate) fn signing_domains(model: &Model) -> String {
    let mut text = header("#", "tenants/*.toml");
    text.push_str("# DKIM keys of the tenant domains with more than one key, included by\n# local.d/dkim_signing.conf: their mail is signed with each key.\n");
    let several: Vec<_> = model
        .domains
        .values()
        .filter(|d| d.signing_keys().count() > 1)
        .collect();
    if several.is_empty() {
        return text;
    }
    text.push_str("domain {\n");
    for domain in several {
        for name in domain.signing_names() {
            text.push_str(&format!("  {} {{\n    selectors = [\n", quoted(name)));
            for key in domain.signing_keys() {
                let path = format!(
                    "{}/{}",
                    model.platform.paths.dkim_key_dir,
                    crate::keystore::key_file_name(name, &key.selector)
                );
                text.push_str(&format!(
                    "      {{ selector = {}; path = {}; }},\n",
                    quoted(&key.selector),
                    quoted(&path)
                ));
            }
            text.push_str("    ];\n  }\n");
        }
    }
    text.push_str("}\n");
    text
}

/// Where the send-limit map lives on the host.
pub(crate) fn rate_limit_map_path(platform: &Platform) -> String {
    format!("{}/{RATE_LIMIT_MAP}", platform.paths.dkim_key_dir)
}

/// The send-limit map (`domain <per mailbox>,<per domain>` per line, `-` for
/// no limit, sorted by domain) that `mailops install` writes to
/// [`rate_limit_map_path`] and `mailops_ratelimit.lua` reads. A domain with
/// neither limit is not listed. Domains are validated A-labels and limits
/// numbers: nothing needs quoting.
pub(crate) fn rate_limit_map(model: &Model) -> String {
    let mut text = header("#", "tenants/*.toml");
    text.push_str("# Outbound messages per hour of each tenant domain: per logged-in mailbox, for the whole domain
# (`-`: no limit). Read by Rspamd's ratelimit module (local.d/ratelimit.conf).
");
    let shown = |limit: Option<u32>| limit.map_or_else(|| "-".to_string(), |n| n.to_string());
    for domain in model.domains.values() {
        let limits = &domain.limits;
        if limits.send_per_hour.is_none() && limits.domain_send_per_hour.is_none() {
            continue;
        }
        text.push_str(&format!(
            "{} {},{}\n",
            domain.name,
            shown(limits.send_per_hour),
            shown(limits.domain_send_per_hour)
        ));
    }
    text
}

/// A validated domain, selector or path as a UCL string.
fn quoted(value: &str) -> String {
    crate::emit::conf::ucl_string(value)
        .unwrap_or_else(|e| panic!("validated value is not a UCL string: {e}"))
}

pub(crate) fn emit(platform: &Platform, out: &mut Artifacts) {
    let tera = engine(&[
        ("signing.conf", SIGNING_CONF),
        ("milter_headers.conf", MILTER_HEADERS_CONF),
        ("ratelimit.conf", RATELIMIT_CONF),
    ]);
    let mut context = tera::Context::new();
    context.insert("header", &header("#", "mailops.toml"));
    context.insert("path", &key_path_template(platform));
    context.insert("selector", &platform.defaults.dkim_selector);
    context.insert("selector_map", &selector_map_path(platform));
    context.insert("what", "DKIM signing");
    context.insert("arc", &false);
    context.insert("signing_domains", &signing_domains_path(platform));
    out.add(
        "rspamd/local.d/dkim_signing.conf",
        render(&tera, "signing.conf", &context),
    );
    context.insert(
        "what",
        "ARC sealing, with each domain's RSA DKIM key and the policy of DKIM signing (but see below),",
    );
    context.remove("signing_domains");
    context.insert("arc", &true);
    out.add(
        "rspamd/local.d/arc.conf",
        render(&tera, "signing.conf", &context),
    );
    out.add(
        "rspamd/local.d/milter_headers.conf",
        render(&tera, "milter_headers.conf", &context),
    );
    context.insert("map", &quoted(&rate_limit_map_path(platform)));
    out.add(
        "rspamd/local.d/ratelimit.conf",
        render(&tera, "ratelimit.conf", &context),
    );
    out.add(
        "rspamd/local.d/mailops_ratelimit.lua",
        header("--", "mailops.toml") + RATELIMIT_LUA,
    );
}

#[cfg(test)]
mod tests {
    use crate::emit::test_repo::{self, tenant};

    #[test]
    fn dkim_signing_arc_and_milter_headers() {
        let out = test_repo::emit(
            &test_repo::platform(""),
            &[(
                "acme.example",
                tenant("acme.example", "dkim", 1, "Acme", "A"),
            )],
        );
        insta::assert_snapshot!(
            "dkim_signing.conf",
            out.get("rspamd/local.d/dkim_signing.conf").unwrap()
        );
        insta::assert_snapshot!("arc.conf", out.get("rspamd/local.d/arc.conf").unwrap());
        insta::assert_snapshot!(
            "milter_headers.conf",
            out.get("rspamd/local.d/milter_headers.conf").unwrap()
        );
    }

    #[test]
    fn the_path_template_is_single_quoted_so_rspamd_expands_nothing() {
        let out = test_repo::emit(&test_repo::platform(""), &[]);
        let conf = out.get("rspamd/local.d/dkim_signing.conf").unwrap();
        assert!(
            conf.contains("\npath = '/var/lib/rspamd/dkim/$domain.$selector.key';\n"),
            "{conf}"
        );
        assert!(conf.contains("\nallow_envfrom_empty = false;\n"));
    }

    #[test]
    fn selector_map_lists_every_domain_with_its_selector() {
        let model = test_repo::compile(
            &test_repo::platform(""),
            &[
                (
                    "acme.example",
                    tenant("acme.example", "dkim", 0, "Acme", ""),
                ),
                (
                    "beta.example",
                    tenant("beta.example", "mail2026", 0, "Beta", ""),
                ),
            ],
        );
        let map = super::selector_map(&model);
        assert!(map.starts_with("# generated by mailops from tenants/*.toml; do not edit\n"));
        assert!(
            map.ends_with("\nacme.example dkim\nbeta.example mail2026\n"),
            "{map}"
        );
        assert_eq!(
            super::selector_map_path(&model.platform),
            "/var/lib/rspamd/dkim/selectors.map"
        );
    }

    /// Issue 15: an alias domain signs with its tenant's keys, under its
    /// own name (the key files `mailops install` copies), in the selector
    /// map and, for a tenant with several keys, in the signing domains.
    #[test]
    fn alias_domains_sign_with_their_tenants_keys() {
        let acme = tenant("acme.example", "dkim", 0, "Acme", "").replacen(
            "domain = \"acme.example\"\n",
            "domain = \"acme.example\"\nalias_domains = [\"acme-old.example\"]\n",
            1,
        );
        let beta = test_repo::dual_key_tenant("beta.example", "ed").replacen(
            "domain = \"beta.example\"\n",
            "domain = \"beta.example\"\nalias_domains = [\"beta-old.example\"]\n",
            1,
        );
        let model = test_repo::compile(
            &test_repo::platform(""),
            &[("acme.example", acme), ("beta.example", beta)],
        );
        let map = super::selector_map(&model);
        assert!(
            map.ends_with(
                "\nacme.example dkim\nacme-old.example dkim\nbeta.example ed-rsa\n#+ beta.example ed\nbeta-old.example ed-rsa\n#+ beta-old.example ed\n"
            ),
            "{map}"
        );
        let text = super::signing_domains(&model);
        assert!(
            text.contains(
                "  \"beta-old.example\" {\n    selectors = [\n      { selector = \"ed\"; path = \"/var/lib/rspamd/dkim/beta-old.example.ed.key\"; },"
            ),
            "{text}"
        );
        assert!(!text.contains("acme"), "{text}");
    }

    /// acme.example signs with an Ed25519 key `ed` and its RSA companion
    /// `ed-rsa`; beta.example with one RSA key `dkim`.
    fn dual_and_single_key_model() -> crate::model::Model {
        test_repo::compile(
            &test_repo::platform(""),
            &[
                (
                    "acme.example",
                    test_repo::dual_key_tenant("acme.example", "ed"),
                ),
                (
                    "beta.example",
                    tenant("beta.example", "dkim", 0, "Beta", ""),
                ),
            ],
        )
    }

    /// ARC seals with RSA only (Rspamd 3.4: "cannot load private key for
    /// signing" with Ed25519), so the map both signing.conf files read names
    /// each domain's RSA key, also for a domain that signs with Ed25519 too.
    #[test]
    fn selector_map_names_the_rsa_key_of_an_ed25519_tenant() {
        let model = dual_and_single_key_model();
        let map = super::selector_map(&model);
        assert!(
            map.ends_with("\nacme.example ed-rsa\n#+ acme.example ed\nbeta.example dkim\n"),
            "{map}"
        );
    }

    /// Rotation (issue 17): only the active key signs; a published or
    /// retiring key is installed (listed in a `#+` comment, so a later
    /// install knows the file is its own), a retired key is not.
    #[test]
    fn only_the_active_key_signs_during_a_rotation() {
        let keys = |old: &str, new: &str| {
            let key = test_repo::PUBLIC_KEY;
            tenant("acme.example", "old", 0, "Acme", "").replacen(
                &format!("[dkim]\nselector = \"old\"\npublic_key = \"{key}\"\n"),
                &format!(
                    "[[dkim]]\nselector = \"gone\"\npublic_key = \"{key}\"\nstate = \"retired\"\n\n\
                     [[dkim]]\nselector = \"old\"\npublic_key = \"{key}\"\nstate = \"{old}\"\n\n\
                     [[dkim]]\nselector = \"new\"\npublic_key = \"{key}\"\nstate = \"{new}\"\n\
                     published = \"2026-11-30T09:00:00Z\"\n"
                ),
                1,
            )
        };
        for (old, new, map) in [
            (
                "active",
                "published",
                "acme.example old\n#+ acme.example new\n",
            ),
            (
                "retiring",
                "active",
                "acme.example new\n#+ acme.example old\n",
            ),
            ("retired", "active", "acme.example new\n"),
        ] {
            let model = test_repo::compile(
                &test_repo::platform(""),
                &[("acme.example", keys(old, new))],
            );
            let text = super::selector_map(&model);
            assert!(
                text.ends_with(&format!("arc.conf).\n{map}")),
                "{old}/{new}: {text}"
            );
            assert!(!text.contains("gone"), "{text}");
            assert!(
                !super::signing_domains(&model).contains("acme"),
                "one key signs"
            );
        }
    }

    /// A domain with several keys is signed with each: its `domain` entry
    /// names every selector and key file; a one-key domain is not listed (it
    /// signs through the selector map, so onboarding one needs no reload).
    #[test]
    fn signing_domains_lists_every_key_of_each_domain_with_several() {
        let model = dual_and_single_key_model();
        let text = super::signing_domains(&model);
        assert!(
            text.ends_with(
                "domain {\n  \"acme.example\" {\n    selectors = [\n      { selector = \"ed\"; path = \"/var/lib/rspamd/dkim/acme.example.ed.key\"; },\n      { selector = \"ed-rsa\"; path = \"/var/lib/rspamd/dkim/acme.example.ed-rsa.key\"; },\n    ];\n  }\n}\n"
            ),
            "{text}"
        );
        assert!(!text.contains("beta.example"), "{text}");
        let one_key = test_repo::compile(
            &test_repo::platform(""),
            &[(
                "beta.example",
                tenant("beta.example", "dkim", 0, "Beta", ""),
            )],
        );
        assert!(!super::signing_domains(&one_key).contains("domain {"));
        let conf = test_repo::emit(&test_repo::platform(""), &[]);
        let signing = conf.get("rspamd/local.d/dkim_signing.conf").unwrap();
        assert!(
            signing
                .ends_with("\n.include(try=true) \"/var/lib/rspamd/dkim/signing-domains.conf\"\n"),
            "{signing}"
        );
        let arc = conf.get("rspamd/local.d/arc.conf").unwrap();
        assert!(
            !arc.contains(".include"),
            "ARC seals with one (RSA) key: {arc}"
        );
    }

    /// Rspamd reads the included entries at (re)load only: `mailops install`
    /// says so when they change, and not when only keys or the map change.
    #[test]
    fn a_change_to_the_signing_domains_needs_an_rspamd_reload() {
        use crate::install::{self, FileKind, Secrets, Service};
        use crate::keystore::KeyStore;
        let platform = test_repo::platform("");
        let secrets = Secrets {
            db_password: Some("pw".into()),
        };
        // Install copies every key; which key a file holds does not matter here.
        let keys = tempfile::tempdir().unwrap();
        let pem = crate::dkim_keys::generate(crate::dkim_keys::KeyAlgorithm::Ed25519)
            .unwrap()
            .private_pem;
        // A key store readable by others is refused: private modes, as keygen makes them.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(keys.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        for name in [
            "beta.example.dkim",
            "acme.example.ed",
            "acme.example.ed-rsa",
        ] {
            let path = keys.path().join(format!("{name}.key"));
            std::fs::write(&path, &pem).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let store = KeyStore::at(keys.path().to_path_buf());
        let dir = tempfile::tempdir().unwrap();
        let install_entries = |tenants: &[(&str, String)]| {
            let model = test_repo::compile(&platform, tenants);
            let generated = test_repo::emit(&platform, tenants).into_map();
            let files = install::plan(&generated, &model, &store, &secrets).unwrap();
            let entries: Vec<_> = files
                .into_iter()
                .filter(|f| f.kind == FileKind::DkimSigningDomains)
                .collect();
            install::apply(dir.path(), &entries).unwrap()
        };
        install_entries(&[]);
        let one_key = [(
            "beta.example",
            tenant("beta.example", "dkim", 0, "Beta", ""),
        )];
        assert!(
            install_entries(&one_key).reload.is_empty(),
            "a one-key tenant"
        );
        let dual = [(
            "acme.example",
            test_repo::dual_key_tenant("acme.example", "ed"),
        )];
        assert_eq!(install_entries(&dual).reload, [Service::Rspamd]);
    }

    /// `mailops install` writes the map next to the keys, as a file that needs
    /// no reload (Rspamd re-reads maps by itself).
    #[test]
    fn mailops_install_writes_the_selector_map_without_a_reload() {
        use crate::install::{self, FileKind, Secrets};
        use crate::keystore::KeyStore;
        let platform = test_repo::platform("");
        let model = test_repo::compile(&platform, &[]);
        let generated = test_repo::emit(&platform, &[]).into_map();
        let store = KeyStore::new(std::path::Path::new("/nonexistent"), ".mailops/keys");
        let secrets = Secrets {
            db_password: Some("pw".into()),
        };
        let files = install::plan(&generated, &model, &store, &secrets).unwrap();
        let map = files
            .iter()
            .find(|f| f.kind == FileKind::DkimSelectors)
            .unwrap();
        assert_eq!(
            map.target,
            std::path::Path::new("var/lib/rspamd/dkim/selectors.map")
        );
        assert_eq!(map.contents, super::selector_map(&model).into_bytes());
        assert_eq!((map.mode(), map.group()), (0o644, "root"));
        let dir = tempfile::tempdir().unwrap();
        let outcome = install::apply(dir.path(), std::slice::from_ref(map)).unwrap();
        assert!(outcome.reload.is_empty());
    }

    /// The send limits: each domain's own, else the platform's default; a
    /// domain with neither limit is not in the map (no bucket, no limit).
    #[test]
    fn rate_limit_map_lists_each_domains_send_limits_with_defaults() {
        let limited = |extra: &str| {
            tenant("acme.example", "dkim", 0, "Acme", "")
                .replace("\n[dkim]\n", &format!("\n[limits]\n{extra}\n[dkim]\n"))
        };
        let tenants = [
            (
                "acme.example",
                limited("send_per_hour = 3\ndomain_send_per_hour = 5\n"),
            ),
            (
                "beta.example",
                tenant("beta.example", "dkim", 0, "Beta", ""),
            ),
            (
                "gamma.example",
                limited("domain_send_per_hour = 7\n").replace("acme.example", "gamma.example"),
            ),
        ];
        let none = super::rate_limit_map(&test_repo::compile(&test_repo::platform(""), &tenants));
        assert!(
            none.ends_with("(local.d/ratelimit.conf).\nacme.example 3,5\ngamma.example -,7\n"),
            "{none}"
        );
        let with_default = test_repo::platform("") + "send_per_hour = 100\n";
        let map = super::rate_limit_map(&test_repo::compile(&with_default, &tenants));
        assert!(
            map.ends_with("\nacme.example 3,5\nbeta.example 100,-\ngamma.example 100,7\n"),
            "{map}"
        );
    }

    /// The module's config names the map where `mailops install` writes it,
    /// the Lua keywords by Rspamd's own config folder, and Redis on loopback;
    /// the Lua file is the same whatever the platform.
    #[test]
    fn ratelimit_conf_points_at_the_map_and_the_keywords() {
        use crate::install::{self, FileKind, Secrets};
        use crate::keystore::KeyStore;
        let platform = test_repo::platform("");
        let out = test_repo::emit(&platform, &[]);
        let conf = out.get("rspamd/local.d/ratelimit.conf").unwrap();
        for line in [
            "\nservers = \"127.0.0.1:6379\";\n",
            "\ncustom_keywords = \"${LOCAL_CONFDIR}/local.d/mailops_ratelimit.lua\";\n",
            "\nratelimit_map = \"/var/lib/rspamd/dkim/ratelimits.map\";\n",
            "\nham_factor_burst = 1.0;\n",
        ] {
            assert!(conf.contains(line), "{line:?} not in {conf}");
        }
        let lua = out.get("rspamd/local.d/mailops_ratelimit.lua").unwrap();
        assert!(lua.starts_with("-- generated by mailops from mailops.toml; do not edit\n--\n"));
        assert!(lua.ends_with(super::RATELIMIT_LUA));
        // Installed next to the keys, and a change reloads nothing.
        let model = test_repo::compile(&platform, &[]);
        let store = KeyStore::new(std::path::Path::new("/nonexistent"), ".mailops/keys");
        let secrets = Secrets {
            db_password: Some("pw".into()),
        };
        let files = install::plan(&out.into_map(), &model, &store, &secrets).unwrap();
        let map = files
            .iter()
            .find(|f| f.kind == FileKind::RateLimits)
            .unwrap();
        assert_eq!(
            map.target,
            std::path::Path::new("var/lib/rspamd/dkim/ratelimits.map")
        );
        assert_eq!((map.mode(), map.group()), (0o644, "root"));
        let dir = tempfile::tempdir().unwrap();
        let outcome = install::apply(dir.path(), std::slice::from_ref(map)).unwrap();
        assert!(outcome.reload.is_empty());
    }
}
