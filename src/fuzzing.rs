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

/// The platform file the `tenant` target compiles each input with: the
/// example repo's `mailops.toml`.
pub const EXAMPLE_PLATFORM: &[u8] = include_bytes!("../mailops.toml");

/// The tenant files the `platform` target compiles each input with: two of
/// the example repo's (one ASCII, one IDN domain).
pub const EXAMPLE_TENANTS: &[(&str, &[u8])] = &[
    (
        "webhizzy.in.toml",
        include_bytes!("../tenants/webhizzy.in.toml"),
    ),
    (
        "xn--11bg9a6av5ff.example.toml",
        include_bytes!("../tenants/xn--11bg9a6av5ff.example.toml"),
    ),
];

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
    // A domain of "the previous compile" that no file declares, so that
    // forwards into a removed tenant are reached too.
    let removed = std::collections::BTreeSet::from(["gone.example".to_string()]);
    let _graph = crate::graph::build(&model, &removed, &mut diagnostics);
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

    /// Every file of one committed fuzz corpus (seeds and minimised
    /// findings), so that `cargo test` replays them without cargo-fuzz.
    fn corpus(target: &str) -> Vec<(std::path::PathBuf, Vec<u8>)> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                (path, bytes)
            })
            .collect();
        files.sort();
        assert!(files.len() > 10, "{}: too few seeds", dir.display());
        files
    }

    #[test]
    fn fuzz_tenant_corpus_replays_without_panicking() {
        for (path, bytes) in corpus("tenant") {
            let result = std::panic::catch_unwind(|| compile_tenant(EXAMPLE_PLATFORM, &bytes));
            assert!(result.is_ok(), "{} panics", path.display());
        }
    }

    #[test]
    fn fuzz_platform_corpus_replays_without_panicking() {
        for (path, bytes) in corpus("platform") {
            let result = std::panic::catch_unwind(|| compile_platform(&bytes, EXAMPLE_TENANTS));
            assert!(result.is_ok(), "{} panics", path.display());
        }
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
