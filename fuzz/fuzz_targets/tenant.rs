//! One fuzzed tenant file, compiled with the example platform file:
//! load → parse → validate → graph → emit, diagnostics rendered both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;

const PLATFORM: &[u8] = include_bytes!("../../mailops.toml");

fuzz_target!(|tenant: &[u8]| {
    mailops::fuzzing::compile_tenant(PLATFORM, tenant);
});
