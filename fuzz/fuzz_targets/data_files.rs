#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| peergrid::testing::fuzz::data_files(data));
