//! The mail host's first boot as Terraform hands it over: real `terraform
//! validate` of every root under `generated/terraform` (the mail host's and
//! each DNS shard's; the AWS provider from an offline filesystem mirror),
//! and real `terraform console` proving that the host root's main.tf
//! puts exactly the settings it was given into the user data, and refuses a
//! value its validation does not allow.
//!
//! Needs the `terraform` CLI (`MAILOPS_TERRAFORM`, else `terraform` on PATH)
//! and a provider mirror holding hashicorp/aws 5.x (`MAILOPS_TF_PROVIDER_MIRROR`,
//! else `/opt/tf-plugins`); the tests fail, saying so, when either is missing.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use support::{root, show};

fn terraform() -> PathBuf {
    let binary = std::env::var_os("MAILOPS_TERRAFORM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("terraform"));
    let found = Command::new(&binary).arg("version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "Terraform is missing: these tests need the terraform CLI on PATH (or MAILOPS_TERRAFORM)"
    );
    binary
}

/// Copy the folder `from` into `to`, recursively.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read folder") {
        let entry = entry.expect("entry");
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        } else {
            std::fs::copy(entry.path(), to.join(entry.file_name())).expect("copy");
        }
    }
}

/// The generated Terraform and cloud-init beside it (the host root's
/// main.tf reads `../../cloud-init/user-data.yaml`), the host root
/// initialised from the offline mirror; the root's folder.
fn initialised() -> (tempfile::TempDir, PathBuf) {
    let (temp, config) = copied();
    let dir = temp.path().join("terraform/host");
    init(&dir, &config);
    (temp, dir)
}

/// `terraform init` of a root from the offline mirror.
fn init(dir: &Path, config: &Path) {
    let output = tf(
        dir,
        config,
        &["init", "-backend=false", "-input=false", "-no-color"],
    );
    assert!(
        output.status.success(),
        "terraform init in {}:\n{}",
        dir.display(),
        show(&output)
    );
}

/// A temp dir with generated/terraform and generated/cloud-init, and the CLI
/// configuration (`cli.tfrc`) naming the provider mirror.
fn copied() -> (tempfile::TempDir, PathBuf) {
    copied_from(&root().join("generated"))
}

/// The same, from the `generated/` folder of another mail repo.
fn copied_from(generated: &Path) -> (tempfile::TempDir, PathBuf) {
    let mirror = std::env::var_os("MAILOPS_TF_PROVIDER_MIRROR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/opt/tf-plugins"));
    assert!(
        mirror.join("registry.terraform.io/hashicorp/aws").is_dir(),
        "no hashicorp/aws provider in the filesystem mirror {} (set MAILOPS_TF_PROVIDER_MIRROR)",
        mirror.display()
    );
    let temp = tempfile::tempdir().expect("temp dir");
    for folder in ["terraform", "cloud-init"] {
        copy_tree(&generated.join(folder), &temp.path().join(folder));
    }
    let config = temp.path().join("cli.tfrc");
    std::fs::write(
        &config,
        format!(
            "provider_installation {{\n  filesystem_mirror {{\n    path = \"{}\"\n  }}\n}}\n",
            mirror.display()
        ),
    )
    .expect("write cli.tfrc");
    (temp, config)
}

fn tf(dir: &Path, config: &Path, args: &[&str]) -> Output {
    Command::new(terraform())
        .args(args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", config)
        .env("TF_IN_AUTOMATION", "1")
        .env("CHECKPOINT_DISABLE", "1")
        .output()
        .expect("terraform runs")
}

const SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// `terraform console` evaluating `expression` with these variables.
fn console(dir: &Path, vars: &[(&str, &str)], expression: &str) -> Output {
    let config = dir
        .parent()
        .and_then(Path::parent)
        .expect("the temp dir")
        .join("cli.tfrc");
    let mut args = vec!["console".to_string(), "-no-color".to_string()];
    for (name, value) in vars {
        args.push("-var".to_string());
        args.push(format!("{name}={value}"));
    }
    let mut child = Command::new(terraform())
        .args(&args)
        .current_dir(dir)
        .env("TF_CLI_CONFIG_FILE", &config)
        .env("CHECKPOINT_DISABLE", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("terraform console runs");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{expression}\n").as_bytes())
        .expect("write");
    child.wait_with_output().expect("terraform console")
}

fn variables(repo_url: &str) -> Vec<(&'static str, String)> {
    vec![
        ("ami_id", "ami-0123456789abcdef0".to_string()),
        ("key_pair_name", "ops".to_string()),
        (
            "mailops_release_url",
            "https://github.com/example/mailops/releases/download/v1.0.0/mailops-x86_64-linux"
                .to_string(),
        ),
        ("mailops_release_sha256", SHA256.to_string()),
        ("repo_url", repo_url.to_string()),
        ("deploy_key_parameter", "/mailops/deploy-key".to_string()),
        ("recipient_parameter", "/mailops/host-recipient".to_string()),
    ]
}

fn decode(text: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    String::from_utf8(bytes).expect("UTF-8")
}

#[test]
fn the_generated_terraform_validates_with_the_aws_provider() {
    let (temp, dir) = initialised();
    let output = tf(
        &dir,
        &temp.path().join("cli.tfrc"),
        &["validate", "-no-color"],
    );
    assert!(
        output.status.success(),
        "terraform validate:\n{}",
        show(&output)
    );
    // validate does check: a reference to an undeclared variable is refused.
    let main = dir.join("main.tf");
    let text = std::fs::read_to_string(&main).expect("read main.tf");
    std::fs::write(
        &main,
        text.replace("var.deploy_key_parameter, ", "var.deploy_key, "),
    )
    .expect("write");
    let output = tf(
        &dir,
        &temp.path().join("cli.tfrc"),
        &["validate", "-no-color"],
    );
    assert!(
        !output.status.success() && show(&output).contains("deploy_key"),
        "validate accepted a broken main.tf:\n{}",
        show(&output)
    );
}

#[test]
fn main_tf_puts_exactly_its_settings_into_the_user_data() {
    let (_temp, dir) = initialised();
    let vars = variables("git@github.com:example/mail.git");
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    // The user data as the instance gets it (before gzip): the generated
    // file with the placeholder replaced.
    let output = console(
        &dir,
        &vars,
        "base64encode(replace(file(\"${path.module}/../../cloud-init/user-data.yaml\"), \"@@MAILOPS_BOOT_SETTINGS@@\", base64encode(local.boot_settings)))",
    );
    assert!(
        output.status.success(),
        "terraform console:\n{}",
        show(&output)
    );
    // console prints the base64 as a quoted string.
    let printed = String::from_utf8_lossy(&output.stdout).trim().to_string();
    let user_data = decode(printed.trim_matches('"'));
    let generated =
        std::fs::read_to_string(root().join("generated/cloud-init/user-data.yaml")).expect("read");
    assert!(!user_data.contains("@@MAILOPS_BOOT_SETTINGS@@"));
    let line = user_data
        .lines()
        .find(|l| l.trim_start().starts_with("content: \"") && !generated.contains(*l))
        .expect("the settings line");
    let encoded = line
        .trim()
        .trim_start_matches("content: ")
        .trim_matches('"');
    let settings = decode(encoded);
    assert_eq!(
        settings,
        format!(
            "region=ap-south-1\n\
             release_url=https://github.com/example/mailops/releases/download/v1.0.0/mailops-x86_64-linux\n\
             release_sha256={SHA256}\n\
             repo_url=git@github.com:example/mail.git\n\
             repo_branch=main\n\
             repo_known_hosts=\n\
             deploy_key_parameter=/mailops/deploy-key\n\
             recipient_parameter=/mailops/host-recipient\n"
        )
    );
    // Everything else is the generated file, byte for byte.
    assert_eq!(
        user_data.replace(encoded, "@@MAILOPS_BOOT_SETTINGS@@"),
        generated
    );
}

#[test]
fn main_tf_refuses_settings_that_could_break_out_of_their_line() {
    let (_temp, dir) = initialised();
    for (name, value) in [
        (
            "repo_url",
            "git@github.com:o/r.git\nrelease_url=https://evil.example/x",
        ),
        ("repo_url", "x\"; reboot; \""),
        ("mailops_release_url", "http://plain.example/mailops"),
        ("mailops_release_sha256", "not-a-digest"),
        ("deploy_key_parameter", "key;rm -rf /"),
        (
            "repo_known_hosts",
            "github.com ssh-ed25519 AAAA\nrepo_url=x",
        ),
    ] {
        let mut vars = variables("git@github.com:example/mail.git");
        vars.retain(|(k, _)| *k != name);
        vars.push((name, value.to_string()));
        let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let output = console(&dir, &vars, "local.boot_settings");
        assert!(
            !output.status.success() && show(&output).contains("Invalid value for variable"),
            "{name} = {value:?} accepted:\n{}",
            show(&output)
        );
    }
}

/// Every DNS root (one per shard, the empty ones too) is a configuration of
/// its own that `terraform validate` accepts, and the roots hold every
/// tenant's file once: in the root of its shard.
#[test]
fn every_dns_root_validates_on_its_own() {
    let (temp, config) = copied();
    let terraform_dir = temp.path().join("terraform");
    let mut roots: Vec<PathBuf> = std::fs::read_dir(&terraform_dir)
        .expect("terraform/")
        .map(|e| e.expect("entry").path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dns-"))
        })
        .collect();
    roots.sort();
    assert_eq!(roots.len(), 16, "the default dns_shards: {roots:?}");
    let tenants = std::fs::read_dir(root().join("tenants"))
        .expect("tenants/")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "toml"))
        })
        .count();
    let dns_files: usize = roots
        .iter()
        .map(|root| {
            std::fs::read_dir(root)
                .expect("root")
                .filter(|e| {
                    e.as_ref()
                        .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("dns_"))
                })
                .count()
        })
        .sum();
    assert_eq!(dns_files, tenants);
    // Two at a time: each validate starts the provider.
    std::thread::scope(|scope| {
        for pair in roots.chunks(roots.len().div_ceil(2)) {
            let config = &config;
            scope.spawn(move || {
                for dir in pair {
                    init(dir, config);
                    let output = tf(dir, config, &["validate", "-no-color"]);
                    assert!(
                        output.status.success(),
                        "terraform validate in {}:\n{}",
                        dir.display(),
                        show(&output)
                    );
                }
            });
        }
    });
}

/// DNSSEC (issue 20): with `[mail_host] dnssec` and a tenant's `[dns] dnssec`
/// (with an alias domain), the host's root and the tenant's root — KMS key in
/// us-east-1 through the provider alias, its policy, key-signing keys,
/// signing, DS outputs — pass `terraform validate` with the AWS provider;
/// so does the host's TLSA record set (`[mail_host] tlsa`).
#[test]
fn signed_zones_validate_with_the_aws_provider() {
    let repo = support::Repo::example_platform();
    let dir = repo.path();
    let platform = std::fs::read_to_string(dir.join("mailops.toml")).expect("mailops.toml");
    std::fs::write(
        dir.join("mailops.toml"),
        platform.replacen(
            "hostname = \"mx.webhizzy.in\"\n",
            "hostname = \"mx.webhizzy.in\"\ndnssec = true\ntlsa = [\"3 1 1 a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"3 1 1 b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\"]\n",
            1,
        ),
    )
    .expect("write mailops.toml");
    support::ok(dir, &["new", "signed.example"]);
    let tenant = dir.join("tenants/signed.example.toml");
    let text = std::fs::read_to_string(&tenant).expect("tenant");
    assert!(text.contains("[dns]\n"), "{text}");
    std::fs::write(
        &tenant,
        text.replacen("[dns]\n", "[dns]\ndnssec = true\n", 1)
            .replacen(
                "domain = \"signed.example\"\n",
                "domain = \"signed.example\"\nalias_domains = [\"signed-old.example\"]\n",
                1,
            ),
    )
    .expect("write tenant");
    support::ok(dir, &["build"]);
    let (temp, config) = copied_from(&dir.join("generated"));
    let tenant_root = temp
        .path()
        .join(support::dns_file("signed.example"))
        .parent()
        .expect("its root")
        .to_path_buf();
    let host_root = temp.path().join("terraform/host");
    for root in [&host_root, &tenant_root] {
        let main = std::fs::read_dir(root)
            .expect("root")
            .map(|e| std::fs::read_to_string(e.expect("entry").path()).unwrap_or_default())
            .collect::<String>();
        assert!(
            main.contains("resource \"aws_route53_hosted_zone_dnssec\""),
            "{main}"
        );
        if root == &host_root {
            assert!(main.contains("type    = \"TLSA\""), "{main}");
        }
        init(root, &config);
        let output = tf(root, &config, &["validate", "-no-color"]);
        assert!(
            output.status.success(),
            "terraform validate in {}:\n{}",
            root.display(),
            show(&output)
        );
    }
}

/// Several mail hosts (issue 18): the host root of the two-host fixture —
/// a private network, one instance, Elastic IP, A and PTR record per host
/// keyed by name, the rules between the hosts, the `moved` blocks from a
/// single host — is `terraform fmt`-canonical and passes `terraform
/// validate` with the AWS provider.
#[test]
fn two_hosts_validate_with_the_aws_provider() {
    let scratch = tempfile::tempdir().expect("temp dir");
    copy_tree(
        &root().join("tests/fixtures/valid/two-hosts"),
        scratch.path(),
    );
    let built = std::process::Command::new(env!("CARGO_BIN_EXE_mailops"))
        .arg("-C")
        .arg(scratch.path())
        .arg("build")
        .output()
        .expect("mailops build");
    assert!(built.status.success(), "{}", show(&built));
    let (temp, config) = copied_from(&scratch.path().join("generated"));
    let host_root = temp.path().join("terraform/host");
    let main = std::fs::read_to_string(host_root.join("main.tf")).expect("main.tf");
    for wanted in [
        "resource \"aws_vpc\" \"hosts\"",
        "private_ip             = each.value.private_ip",
        "referenced_security_group_id = aws_security_group.mail.id",
        "to   = aws_instance.mail[\"mx1\"]",
        // Which host an instance is: its tag, readable from the instance.
        "instance_metadata_tags = \"enabled\"",
        "mailops-host = each.key",
        // mx2's own DANE record.
        "resource \"aws_route53_record\" \"host_tlsa\"",
        "name    = \"_25._tcp.mx2.webhizzy.in\"",
    ] {
        assert!(main.contains(wanted), "{wanted} in\n{main}");
    }
    let fmt = std::process::Command::new(root().join("scripts/terraform-fmt-check"))
        .arg(&host_root)
        .output()
        .expect("terraform-fmt-check");
    assert!(fmt.status.success(), "terraform fmt:\n{}", show(&fmt));
    init(&host_root, &config);
    let output = tf(&host_root, &config, &["validate", "-no-color"]);
    assert!(
        output.status.success(),
        "terraform validate:\n{}",
        show(&output)
    );
}
