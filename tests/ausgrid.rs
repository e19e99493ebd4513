//! Measured Ausgrid data in a scenario: a household replayed from its file reproduces the
//! file's totals, as summed independently by `tests/scripts/ausgrid_totals.py`; the shipped
//! real-data scenario runs. The data sits beside the repository in `../shared` (Ausgrid's
//! "Solar home electricity data", published for research); CI has it there.

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;

/// Largest relative difference from the raw file's totals the issue allows.
const TOTALS_TOLERANCE: f64 = 0.005;

const RESHAPED: &str = "customer12_2011-2012/data_2011-2012.csv";
const WIDE: &str = "customer1_2012-2013_original_format/2012-2013 Solar home electricity data v2 (truncated).csv";

/// A shared data file, or `None` off CI when `../shared` is absent.
fn shared(file: &str) -> Option<PathBuf> {
    let p = repo().join("../shared/data/ausgrid").join(file);
    if p.exists() {
        return Some(p.canonicalize().unwrap());
    }
    assert!(std::env::var_os("CI").is_none(), "CI must have the shared data at {}", p.display());
    eprintln!("skipped: {} is absent", p.display());
    None
}

#[derive(serde::Deserialize)]
struct Totals {
    days: u32,
    gc_kwh: f64,
    cl_kwh: f64,
    gg_kwh: f64,
}

fn reference(file: &std::path::Path, customer: Option<&str>) -> Totals {
    let mut cmd = Command::new("python3");
    cmd.arg(repo().join("tests/scripts/ausgrid_totals.py")).arg(file).args(customer);
    let out = cmd.output().expect("python3 runs the reference script");
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Replays one measured household with no trading over the file's whole span.
fn replay(dir: &std::path::Path, load: &str, kwp: f64, start: &str, days: u32, step_minutes: u32) -> (f64, f64) {
    let text = format!(
        r#"(name: "replay", start: "{start}", timezone: "Australia/Sydney", step_minutes: {step_minutes}, duration_days: {days},
            location: (latitude_deg: -33.8, longitude_deg: 151.2),
            grid: Connected(import_price_per_kwh: 0.25, export_price_per_kwh: 0.08),
            households: [House(id: "m", pv: (kwp: {kwp}), load: {load})],
            topology: Generated(layout: Street), market: (rule: "grid-only"), ledger: (enabled: false))"#
    );
    let path = dir.join("replay.ron");
    std::fs::write(&path, text).unwrap();
    run_ok(&path, &dir.join("out"), &[]);
    let hh = Table::read(&dir.join("out/households.csv"));
    assert_eq!(hh.rows[0]["load_source"], "ausgrid");
    (Table::f(&hh.rows[0], "load_kwh"), Table::f(&hh.rows[0], "pv_kwh"))
}

fn close(got: f64, want: f64, what: &str) {
    let rel = (got - want).abs() / want.abs();
    assert!(rel <= TOTALS_TOLERANCE, "{what}: {got:.3} kWh vs {want:.3} kWh from the raw file ({:.3}%)", rel * 100.0);
    eprintln!("{what}: {got:.3} kWh vs {want:.3} kWh from the raw file ({:.4}%)", rel * 100.0);
}

#[test]
fn a_measured_year_replays_to_the_raw_file_totals() {
    let Some(file) = shared(RESHAPED) else { return };
    let raw = reference(&file, None);
    assert_eq!(raw.days, 366);
    let dir = tempfile::tempdir().unwrap();
    // 15-minute steps in Sydney's zone: resampling and both daylight-saving changes.
    let load = format!("Ausgrid(file: {:?}, capacity_kwp: 1.04)", file.to_str().unwrap());
    let (load_kwh, pv_kwh) = replay(dir.path(), &load, 1.04, "2011-07-01T00:00", raw.days, 15);
    close(load_kwh, raw.gc_kwh + raw.cl_kwh, "customer 12 consumption");
    close(pv_kwh, raw.gg_kwh, "customer 12 generation");
}

#[test]
fn the_original_wide_format_replays_with_its_controlled_load() {
    let Some(file) = shared(WIDE) else { return };
    let raw = reference(&file, Some("1"));
    let dir = tempfile::tempdir().unwrap();
    let load = format!("Ausgrid(file: {:?}, customer: 1)", file.to_str().unwrap());
    let (load_kwh, pv_kwh) = replay(dir.path(), &load, 3.78, "2012-07-01T00:00", raw.days, 30);
    close(load_kwh, raw.gc_kwh + raw.cl_kwh, "customer 1 consumption with controlled load");
    close(pv_kwh, raw.gg_kwh, "customer 1 generation");
}

#[test]
fn a_storage_tank_replaces_the_measured_controlled_load() {
    let Some(file) = shared(WIDE) else { return };
    let raw = reference(&file, Some("1"));
    let dir = tempfile::tempdir().unwrap();
    let load = format!("Ausgrid(file: {:?}, customer: 1, controlled_load: Storage)", file.to_str().unwrap());
    let (load_kwh, _) = replay(dir.path(), &load, 3.78, "2012-07-01T00:00", raw.days, 30);
    let hh = Table::read(&dir.path().join("out/households.csv"));
    let tank_kwh = Table::f(&hh.rows[0], "hot_water_kwh");
    // The general consumption as measured, and a tank whose electricity stands for the
    // controlled load's: its draws are the measured energy less its standing losses, which it
    // then loses; its temperature at the end differs by at most a tank's heat from the start.
    close(load_kwh - tank_kwh, raw.gc_kwh, "customer 1 general consumption");
    assert!((tank_kwh - raw.cl_kwh).abs() <= 0.02 * raw.cl_kwh + 200.0 * 1.163e-3 * 60.0, "tank {tank_kwh:.1} kWh vs controlled load {:.1} kWh", raw.cl_kwh);
    assert_eq!(hh.rows[0]["hot_water_cold_draws"], "0");
}

#[test]
fn sydney_real_runs_with_one_measured_and_eleven_synthetic_households() {
    if shared(WIDE).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    run_ok(&scenario("sydney-real.ron"), &out, &[]);
    let hh = Table::read(&out.join("households.csv"));
    assert_eq!(hh.rows.len(), 12);
    let synthetic: Vec<&str> = hh.rows.iter().filter(|r| r["synthetic"] == "true").map(|r| r["household"].as_str()).collect();
    assert_eq!(synthetic.len(), 11, "{synthetic:?}");
    assert_eq!(hh.rows[0]["data_source"], "ausgrid customer 1");
    assert!(hh.rows[1]["data_source"].contains("synthetic"), "{}", hh.rows[1]["data_source"]);
    let s = summary(&out);
    assert!(s["p2p_kwh"].as_f64().unwrap() > 0.0, "the street trades");
}

#[test]
fn a_run_beyond_the_data_is_refused_naming_the_field() {
    let Some(file) = shared(WIDE) else { return };
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        r#"(name: "beyond", start: "2012-12-01T00:00", timezone: "Australia/Sydney", duration_days: 30,
            location: (latitude_deg: -33.8, longitude_deg: 151.2),
            grid: Connected(import_price_per_kwh: 0.25, export_price_per_kwh: 0.08),
            households: [House(id: "m", load: Ausgrid(file: {:?}, customer: 1))])"#,
        file.to_str().unwrap()
    );
    let path = dir.path().join("beyond.ron");
    std::fs::write(&path, text).unwrap();
    let out = peergrid(&["check", path.to_str().unwrap()]);
    assert!(!out.status.success());
    let e = stderr(&out);
    assert!(e.contains("households[0].load") && e.contains("2012-12-14") && e.contains("2012-07-01 to 2012-12-13"), "{e}");
}

/// A measured day's exposure, kWh/m², for a day of the shared Sydney 2012 file.
fn sydney_2012(month: usize, day: usize) -> Option<f64> {
    let p = repo().join("../shared/data/solar_exposure_nsw/Sol_expo_Sydney_2012_kwh_csv.csv");
    let text = std::fs::read_to_string(p).ok()?;
    text.lines().nth(day)?.split(',').nth(month - 1)?.trim().parse().ok()
}

#[test]
fn measured_daily_exposure_sets_each_day_irradiance() {
    let dir = repo().join("../shared/data/solar_exposure_nsw");
    if sydney_2012(3, 1).is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI must have the shared data at {}", dir.display());
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let text = format!(
        r#"(name: "expo", start: "2012-03-01T00:00", timezone: "Australia/Sydney", step_minutes: 15, duration_days: 5,
            location: (latitude_deg: -33.86, longitude_deg: 151.2),
            grid: Connected(import_price_per_kwh: 0.25, export_price_per_kwh: 0.08),
            weather: DailyExposure(files: {{2012: {:?}}}),
            households: [House(id: "a", pv: (kwp: 5), load: Archetype(kind: Family))],
            topology: Generated(layout: Street), ledger: (enabled: false))"#,
        dir.join("Sol_expo_Sydney_2012_kwh_csv.csv").canonicalize().unwrap().to_str().unwrap()
    );
    let path = tmp.path().join("expo.ron");
    std::fs::write(&path, text).unwrap();
    let out = tmp.path().join("out");
    run_ok(&path, &out, &[]);
    let ts = Table::read(&out.join("timeseries.csv"));
    for day in 1..=5 {
        let prefix = format!("2012-03-{day:02}");
        let kwh_m2: f64 = ts.rows.iter().filter(|r| r["time"].starts_with(&prefix)).map(|r| Table::f(r, "ghi_w_m2") * 0.25 / 1000.0).sum();
        let want = sydney_2012(3, day).unwrap();
        // The run samples the sun at 15-minute midpoints, the index at 10-minute ones.
        assert!((kwh_m2 - want).abs() <= 0.02 * want + 0.02, "March {day}: {kwh_m2:.3} kWh/m² in the run vs {want} measured");
    }
    // The same run again is the same (no random draws in measured weather).
    let again = tmp.path().join("again");
    run_ok(&path, &again, &[]);
    assert_eq!(std::fs::read(out.join("timeseries.csv")).unwrap(), std::fs::read(again.join("timeseries.csv")).unwrap());
}
