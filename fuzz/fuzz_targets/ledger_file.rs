#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peergrid::testing::fuzz::ledger_file(data));
