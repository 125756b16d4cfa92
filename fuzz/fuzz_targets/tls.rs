#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sipscope::fuzzing::fuzz_tls(data));
