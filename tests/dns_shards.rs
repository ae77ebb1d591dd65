//! `mailops dns shards --moves --from-shards N` (issue 16): changing `[aws]
//! dns_shards` moves tenants between DNS roots, and the printed script moves
//! their resources between the roots' states. Proven with the real Terraform
//! CLI on local state files (`terraform state mv` needs no provider and no
//! network): states of the old layout are made from the script's own moves,
//! the script runs, and each new state must hold exactly the resources of the
//! tenants `mailops dns shards` places in its root.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Repo, stdout};

fn terraform() -> PathBuf {
    let binary = std::env::var_os("MAILOPS_TERRAFORM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("terraform"));
    let found = Command::new(&binary).arg("version").output();
    assert!(
        found.as_ref().is_ok_and(|o| o.status.success()),
        "Terraform is missing: this test needs the terraform CLI on PATH (or MAILOPS_TERRAFORM)"
    );
    binary
}

/// A Terraform 1.x state file holding `addresses` (managed or data).
fn state(addresses: &[&str]) -> String {
    let resources: Vec<serde_json::Value> = addresses
        .iter()
        .map(|address| {
            let (mode, rest) = match address.strip_prefix("data.") {
                Some(rest) => ("data", rest),
                None => ("managed", *address),
            };
            let (kind, name) = rest.split_once('.').expect("type.name");
            serde_json::json!({
                "mode": mode, "type": kind, "name": name,
                "provider": "provider[\"registry.terraform.io/hashicorp/aws\"]",
                "instances": [{"schema_version": 0, "attributes": {"id": address}}],
            })
        })
        .collect();
    serde_json::json!({
        "version": 4, "terraform_version": "1.11.4", "serial": 1,
        "lineage": "6d9c0d7e-0000-4000-8000-000000000001",
        "outputs": {}, "resources": resources, "check_results": null,
    })
    .to_string()
}

fn addresses_in(path: &Path) -> BTreeSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    json["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let prefix = if r["mode"] == "data" { "data." } else { "" };
            format!(
                "{prefix}{}.{}",
                r["type"].as_str().unwrap(),
                r["name"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn from_shards_moves_every_tenant_into_its_new_roots_state() {
    let terraform = terraform();
    let repo = Repo::example();
    let script = stdout(&repo.ok(&["dns", "shards", "--moves", "--from-shards", "4"]));
    // The old layout's states, from the script's moves (old root → addresses).
    let mut old: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in script.lines().filter(|l| l.starts_with("mv_to ")) {
        let words: Vec<&str> = line.split(' ').collect();
        old.entry(words[1].to_string())
            .or_default()
            .push(words[3].trim_matches('\'').to_string());
    }
    assert!(
        old.keys()
            .all(|root| ["dns-00", "dns-01", "dns-02", "dns-03"].contains(&root.as_str())),
        "{old:?}"
    );
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir(work.path().join("old")).unwrap();
    for (root, addresses) in &old {
        let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
        std::fs::write(
            work.path().join(format!("old/{root}.tfstate")),
            state(&addresses),
        )
        .unwrap();
    }
    std::fs::write(work.path().join("moves.sh"), &script).unwrap();
    let bin_dir = std::fs::canonicalize(&terraform)
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf));
    let path = match bin_dir {
        Some(dir) => format!(
            "{}:{}",
            dir.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
        None => std::env::var("PATH").unwrap_or_default(),
    };
    let ran = Command::new("sh")
        .arg("moves.sh")
        .current_dir(work.path())
        .env("PATH", path)
        .env("OLD", "old")
        .env("OUT", "new")
        .output()
        .unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let moved = old.values().map(Vec::len).sum::<usize>();
    assert!(
        String::from_utf8_lossy(&ran.stdout).contains(&format!("moved {moved} resources")),
        "{}",
        String::from_utf8_lossy(&ran.stdout)
    );
    // Every old state is empty; each new root's state holds its tenants' blocks.
    for root in old.keys() {
        assert_eq!(
            addresses_in(&work.path().join(format!("new/from/{root}.tfstate"))),
            BTreeSet::new()
        );
    }
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in stdout(&repo.ok(&["dns", "shards"])).lines() {
        let (root, domain) = line.split_once(' ').unwrap();
        let name = domain.replace('.', "_");
        let all: BTreeSet<String> = old.values().flatten().cloned().collect();
        let mine = all.into_iter().filter(|a| {
            a.rsplit('.')
                .next()
                .is_some_and(|n| n == name || n.starts_with(&format!("{name}_")))
        });
        expected.entry(root.to_string()).or_default().extend(mine);
    }
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(work.path().join("new")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "tfstate") {
            let root = path.file_stem().unwrap().to_string_lossy().to_string();
            found.insert(root, addresses_in(&path));
        }
    }
    assert_eq!(found, expected);
    assert_eq!(found.values().map(BTreeSet::len).sum::<usize>(), moved);
}

#[test]
fn from_shards_equal_to_the_current_count_is_refused() {
    Repo::example()
        .run(&["dns", "shards", "--moves", "--from-shards", "16"])
        .exits(1)
        .stderr_has("--from-shards 16 is the current `[aws] dns_shards`: no tenant moves");
}
