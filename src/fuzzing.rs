//! Entry points for the fuzz targets under `fuzz/` (see README, "Fuzzing").
//!
//! Each runs the compiler's pure stages on files held in memory — load (from
//! bytes, as the incremental compile does) → parse and validate → graph →
//! emit, the emit only when there is no error, as `build` does — and renders
//! the diagnostics both ways (human and JSON). Nothing touches the disk: the
//! key-store check, which reads private keys from the repo, is left out.
//!
//! They return nothing: a fuzz target looks for panics (the emitters'
//! own assertions included) and slow inputs. One promise beyond "no panic"
//! is asserted here, so that breaking it is a crash the fuzzer reports: the
//! JSON rendering of the diagnostics is valid JSON.

use std::path::Path;

use crate::diagnostic::Diagnostics;
use crate::load;

/// The mail repo root the in-memory files pretend to live in (never read).
const ROOT: &str = "/nonexistent/mailops-fuzz";

/// Compile `platform` (a `mailops.toml`) with one tenant file, `tenant`.
///
/// The tenant file is named after its `domain` key when that is a valid
/// domain (`<ascii>.toml`), so that the fuzzer reaches the emitters instead
/// of stopping at "file name does not match the domain"; otherwise
/// `tenants/fuzz.example.toml`.
pub fn compile_tenant(platform: &[u8], tenant: &[u8]) {
    let name = tenant_file_name(tenant);
    compile(platform.to_vec(), vec![(name, tenant.to_vec())]);
}

/// Compile a fuzzed platform file (`mailops.toml`) with the given tenant
/// files (`(file name under tenants/, contents)`).
pub fn compile_platform(platform: &[u8], tenants: &[(&str, &[u8])]) {
    let tenants = tenants
        .iter()
        .map(|(name, bytes)| ((*name).to_string(), bytes.to_vec()))
        .collect();
    compile(platform.to_vec(), tenants);
}

fn compile(platform: Vec<u8>, tenants: Vec<(String, Vec<u8>)>) {
    let mut diagnostics = Diagnostics::default();
    let repo = load::load_selected(Path::new(ROOT), platform, tenants, &mut diagnostics);
    let model = crate::validate::validate(&repo, &mut diagnostics);
    let _graph = crate::graph::build(&model, &mut diagnostics);
    if !diagnostics.has_errors() {
        let _artifacts = crate::emit::emit(&model);
    }
    let _ = diagnostics.render_human(&repo.sources, false);
    let _ = diagnostics.summary();
    let json = diagnostics.render_json(&repo.sources);
    if let Err(error) = serde_json::from_str::<serde_json::Value>(&json) {
        panic!("render_json produced invalid JSON ({error}):\n{json}");
    }
}

/// `<domain>.toml` when the tenant file's `domain` is a valid domain name.
fn tenant_file_name(tenant: &[u8]) -> String {
    let domain = std::str::from_utf8(tenant)
        .ok()
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| match table.get("domain") {
            Some(toml::Value::String(domain)) => Some(domain.clone()),
            _ => None,
        })
        .and_then(|domain| crate::validate::domain::normalize_domain(&domain).ok());
    match domain {
        Some(name) => format!("{}.toml", name.ascii),
        None => "fuzz.example.toml".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLATFORM: &[u8] = include_bytes!("../mailops.toml");

    #[test]
    fn fuzz_entry_point_compiles_every_example_tenant_without_panicking() {
        let mut count = 0;
        for entry in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tenants")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                compile_tenant(PLATFORM, &std::fs::read(&path).unwrap());
                count += 1;
            }
        }
        assert!(count > 0);
    }

    #[test]
    fn fuzz_tenant_file_is_named_after_its_domain() {
        assert_eq!(
            tenant_file_name(b"domain = \"Acme.Example\"\n"),
            "acme.example.toml"
        );
        assert_eq!(tenant_file_name(b"domain = 3\n"), "fuzz.example.toml");
        assert_eq!(tenant_file_name(b"\xff"), "fuzz.example.toml");
    }
}
