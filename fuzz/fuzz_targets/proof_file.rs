#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peergrid::testing::fuzz::proof_file(data));
