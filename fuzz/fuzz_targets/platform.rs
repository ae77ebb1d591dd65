//! A fuzzed platform file (`mailops.toml`), compiled with two example tenant
//! files: load → parse → validate → graph → emit, diagnostics rendered both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;

const TENANTS: &[(&str, &[u8])] = &[
    (
        "webhizzy.in.toml",
        include_bytes!("../../tenants/webhizzy.in.toml"),
    ),
    (
        "xn--11bg9a6av5ff.example.toml",
        include_bytes!("../../tenants/xn--11bg9a6av5ff.example.toml"),
    ),
];

fuzz_target!(|platform: &[u8]| {
    mailops::fuzzing::compile_platform(platform, TENANTS);
});
