//! One fuzzed tenant file, compiled with the example platform file:
//! load → parse → validate → graph → emit, diagnostics rendered both ways.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailops::fuzzing::{EXAMPLE_PLATFORM, compile_tenant};

fuzz_target!(|tenant: &[u8]| {
    compile_tenant(EXAMPLE_PLATFORM, tenant);
});
