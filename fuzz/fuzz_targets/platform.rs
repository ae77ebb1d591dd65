//! A fuzzed platform file (`mailops.toml`), compiled with two example tenant
//! files: load → parse → validate → graph → emit, diagnostics rendered both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailops::fuzzing::{EXAMPLE_TENANTS, compile_platform};

fuzz_target!(|platform: &[u8]| {
    compile_platform(platform, EXAMPLE_TENANTS);
});
