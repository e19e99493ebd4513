#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peergrid::testing::fuzz::scenario_file(data));
