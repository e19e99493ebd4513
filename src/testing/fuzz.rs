//! What the fuzz targets (`fuzz/`) run on each input, here so that `cargo test` replays every
//! input a fuzzer ever crashed on (`fuzz/regressions/TARGET/`, tests/fuzz_regressions.rs) through
//! exactly the same code. Each function takes any bytes and must return without panicking,
//! overflowing the stack, or taking unbounded time or memory: errors are the expected outcome.
//!
//! Scenarios are resolved only up to [`MAX_FUZZ_HOUSEHOLDS`] households and [`MAX_FUZZ_STEPS`]
//! steps, so each execution stays fast; larger sizes are the business of the bounds and their
//! tests (tests/bounds.rs), not of the fuzzer.

use crate::scenario::{FieldSet, Overrides, Scenario, ScenarioFile};
use std::path::{Path, PathBuf};

/// The largest scenario a fuzz input is resolved for.
pub const MAX_FUZZ_HOUSEHOLDS: u64 = 2_000;
/// The most steps a fuzz input's scenario is resolved for.
pub const MAX_FUZZ_STEPS: f64 = 50_000.0;

/// What a fuzz target runs on one input.
pub type Target = fn(&[u8]);

/// The fuzz targets, by the name of their folder in `fuzz/regressions`.
pub const TARGETS: [(&str, Target); 6] =
    [("scenario_file", scenario_file), ("set_values", set_values), ("sweep_file", sweep_file), ("data_files", data_files), ("ledger_file", ledger_file), ("proof_file", proof_file)];

fn small(file: &ScenarioFile) -> bool {
    let steps = file.duration_days * 1440.0 / f64::from(file.step_minutes.max(1));
    file.household_count() <= MAX_FUZZ_HOUSEHOLDS && steps <= MAX_FUZZ_STEPS
}

/// A file of this process for the readers that take a path.
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("peergrid-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    std::fs::write(&path, data).expect("the scratch folder is writable");
    path
}

/// A scenario file: parsed, then (if small) validated and resolved.
pub fn scenario_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("scenarios/fuzz.ron");
    if crate::scenario::parse(text, path).is_ok_and(|f| small(&f)) {
        let _ = Scenario::from_str(text, path, &Overrides { steps: Some(1), ..Default::default() });
    }
}

/// `--set` lines (`path=value`, one per line) on the street scenario.
pub fn set_values(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let sets: Vec<FieldSet> = text.lines().filter_map(|l| l.parse().ok()).collect();
    let path = Path::new("scenarios/street.ron");
    let Ok(file) = crate::scenario::parse(crate::scenario::examples::STREET, path) else { return };
    if crate::scenario::apply_sets(file, &sets).is_ok_and(|f| small(&f)) {
        let _ = Scenario::from_str(crate::scenario::examples::STREET, path, &Overrides { sets, steps: Some(1), ..Default::default() });
    }
}

/// A sweep file: parsed, its run count bounded, each axis value read as a `--set` value.
pub fn sweep_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(file) = crate::scenario::ron_options().from_str::<crate::app::sweep::SweepFile>(text) else { return };
    for axis in &file.axes {
        for v in &axis.values {
            let set = FieldSet { path: axis.set.clone(), value: v.to_string() };
            let _ = crate::scenario::value::parse(&set.value);
            let _ = set.to_string().parse::<FieldSet>();
        }
    }
    let _ = file.axes.iter().try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64));
}

/// The data readers: the first byte picks profile, irradiance, TMY3, emission factors, Ausgrid,
/// solar exposure, EPW, PVGIS CSV or PVGIS JSON; the rest is the file.
pub fn data_files(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let street = crate::testing::scenario(crate::scenario::examples::STREET);
    let text = std::str::from_utf8(rest).unwrap_or("");
    let path = Path::new("fuzz.csv");
    match which % 9 {
        0 => {
            let _ = crate::scenario::data::profile::read_profile_file(&scratch("profile.csv", rest), 96);
        }
        1 => {
            let _ = crate::environment::measured::IrradianceSeries::parse(text, path, &street.frame.zone);
        }
        2 => {
            let _ = crate::environment::measured::TypicalYear::parse(text, path);
        }
        3 => {
            // Both time series of the grid (the price file's header differs, so one input
            // reaches either reader's rows).
            let _ = crate::scenario::data::emissions::parse(text, path, &street.frame);
            let _ = crate::scenario::data::prices::parse(text, path, &street.frame, 0.05);
        }
        4 => {
            let _ = crate::scenario::data::ausgrid::read(&scratch("ausgrid.csv", rest), None);
        }
        5 => {
            let mut days = crate::scenario::data::exposure::DailyExposure::new();
            let _ = crate::scenario::data::exposure::read_year(&scratch("exposure.csv", rest), 2012, &mut days);
        }
        6 => {
            let _ = crate::scenario::data::epw::parse(text, path);
        }
        7 => {
            let _ = crate::scenario::data::pvgis::parse_csv(text, path);
        }
        _ => {
            let _ = crate::scenario::data::pvgis::parse_json(text, path);
        }
    }
}

/// A ledger file, verified alone.
pub fn ledger_file(data: &[u8]) {
    let path = scratch("ledger.jsonl", data);
    let _ = crate::ledger::verify::verify_path(&path, &crate::ledger::verify::VerifyOptions { anchors: Default::default(), ledger_only: true });
}

/// A proof file (`verify --proof`), checked on its own.
pub fn proof_file(data: &[u8]) {
    if let Ok(proof) = serde_json::from_slice::<crate::ledger::proof::Proof>(data) {
        let _ = crate::ledger::proof::verify_proof(&proof, &Default::default());
    }
}
