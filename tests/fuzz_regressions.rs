//! Replays every input a fuzzer crashed on, kept in `fuzz/regressions/TARGET/`, through the same
//! function the fuzz target calls (`peergrid::testing::fuzz`): each must now return normally.
//! Also runs each target on a few fixed inputs, so a target that cannot run at all fails here.

use peergrid::testing::fuzz::TARGETS;
use std::path::PathBuf;

fn regressions() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

#[test]
fn saved_crash_inputs_no_longer_crash() {
    let mut replayed = 0;
    for entry in std::fs::read_dir(regressions()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let target = TARGETS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("fuzz/regressions/{name}: no such fuzz target")).1;
        for input in std::fs::read_dir(&dir).unwrap() {
            let input = input.unwrap().path();
            eprintln!("replaying {}", input.display());
            target(&std::fs::read(&input).unwrap());
            replayed += 1;
        }
    }
    eprintln!("{replayed} saved inputs replayed");
}

#[test]
fn every_target_runs_on_plain_inputs() {
    let street = std::fs::read(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/street.ron")).unwrap();
    for (name, target) in TARGETS {
        for input in [&b""[..], b"\xff\xfe", b"(", b"households[0].pv.kwp=Fixed(4)\nseed=3", &street] {
            eprintln!("{name} on {} bytes", input.len());
            target(input);
        }
    }
}
