//! Shared helpers for the integration tests: run the real binary, read its outputs.
#![allow(dead_code)]

pub mod browser;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> PathBuf {
    repo().join("scenarios").join(name)
}

/// Runs `peergrid ARGS` in `cwd`.
pub fn peergrid_in(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_peergrid")).current_dir(cwd).args(args).output().expect("binary runs")
}

pub fn peergrid(args: &[&str]) -> Output {
    peergrid_in(&repo(), args)
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Runs a scenario into `out` and asserts success.
pub fn run_ok(scenario: &Path, out: &Path, extra: &[&str]) {
    let mut args = vec!["run", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"];
    args.extend_from_slice(extra);
    let o = peergrid(&args);
    assert!(o.status.success(), "run failed: {}", stderr(&o));
}

/// Writes `text` as a scenario in a fresh folder and runs it: (the folder, its output folder).
pub fn run_text(text: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, text).unwrap();
    let out = tmp.path().join("o");
    run_ok(&path, &out, &[]);
    (tmp, out)
}

/// A CSV file as header + rows of name → value.
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<HashMap<String, String>>,
}

impl Table {
    pub fn read(path: &Path) -> Table {
        let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r
            .records()
            .map(|rec| headers.iter().cloned().zip(rec.unwrap().iter().map(String::from)).collect())
            .collect();
        Table { headers, rows }
    }

    pub fn f(row: &HashMap<String, String>, col: &str) -> f64 {
        let v = row.get(col).unwrap_or_else(|| panic!("no column {col}"));
        if v.is_empty() { 0.0 } else { v.parse().unwrap_or_else(|_| panic!("{col}={v} is not a number")) }
    }

    pub fn column(&self, col: &str) -> Vec<f64> {
        self.rows.iter().map(|r| Self::f(r, col)).collect()
    }
}

/// A decimal money string (`-1.250000`) as exact micro-units.
pub fn micros(s: &str) -> i64 {
    let neg = s.starts_with('-');
    let s = s.trim_start_matches('-');
    let (int, frac) = s.split_once('.').unwrap_or((s, "0"));
    let frac = format!("{frac:0<6}");
    let v = int.parse::<i64>().unwrap() * 1_000_000 + frac[..6].parse::<i64>().unwrap();
    if neg { -v } else { v }
}

pub fn summary(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("summary.json")).unwrap()).unwrap()
}

/// summary.json without the fields that measure wall-clock time.
pub fn summary_without_runtime(dir: &Path) -> serde_json::Value {
    let mut s = summary(dir);
    for f in peergrid::output::summary::RUNTIME_FIELDS {
        s.as_object_mut().unwrap().remove(f);
    }
    s
}

/// Writes `text` as `broken.ron` in a fresh folder and checks `run` rejects it with exit code 2,
/// a message naming the file and containing each of `expect`, and nothing written.
pub fn rejects_text(text: &str, expect: &[&str]) {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("broken.ron");
    std::fs::write(&path, text).unwrap();
    let out = tmp.path().join("out");
    let o = peergrid_in(tmp.path(), &["run", "broken.ron", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("broken.ron"), "names the file: {err}");
    for e in expect {
        assert!(err.contains(e), "expected `{e}` in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out.exists(), "no output folder on bad input");
    let leftovers: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(leftovers.len(), 1, "nothing else written: {leftovers:?}");
}

/// Checks one `timeseries.csv` row's energy balance: the meters' (sources = uses) and the
/// load's origins (they add up to the load).
pub fn assert_step_balanced(r: &std::collections::HashMap<String, String>) {
    let f = |c| Table::f(r, c);
    let lhs = f("pv_kwh") + f("grid_import_kwh") + f("battery_discharge_kwh") + f("load_own_vehicle_kwh") + f("unserved_kwh");
    let rhs = f("load_kwh") + f("grid_export_kwh") + f("battery_charge_kwh") + f("curtailed_kwh") + f("losses_kwh");
    assert!((lhs - rhs).abs() < 1e-6, "step {}: {lhs} vs {rhs}", r["step"]);
    let met = ["load_own_pv_kwh", "load_own_battery_kwh", "load_peer_pv_kwh", "load_peer_battery_kwh", "load_grid_kwh", "load_unserved_kwh", "load_community_battery_kwh", "load_own_vehicle_kwh"]
        .iter()
        .map(|c| f(c))
        .sum::<f64>();
    assert!((met - f("load_kwh")).abs() < 1e-6, "step {}: load met {met} vs {}", r["step"], f("load_kwh"));
}
