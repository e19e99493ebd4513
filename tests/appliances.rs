//! Deferrable appliances: planned within their windows by their policies, part of the load.

mod common;

use common::*;

/// Twenty houses, half with panels, hourly steps for two weeks on a time-of-use tariff (dear
/// 17–21, cheap 22–7), each with a dishwasher (1 kWh over 2 h, five runs a week) allowed
/// 16:00–24:00.
const STREET: &str = r#"(
    name: "appliances",
    seed: 9,
    start: "2024-01-08T00:00",
    timezone: "+10:00",
    step_minutes: 60,
    duration_days: 14,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05,
        time_of_use: [(from_hour: 22, to_hour: 7, import_price_per_kwh: 0.15), (from_hour: 17, to_hour: 21, import_price_per_kwh: 0.45)]),
    households: [
        Group(prefix: "h", count: 20, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20,
              appliances: [(kind: Dishwasher, kwh_per_run: 1.0, hours_per_run: 2, policy: POLICY, from_hour: 16, to_hour: 24)]),
    ],
    market: (rule: "RULE"),
)"#;

fn run(policy: &str, rule: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    run_text(&STREET.replace("POLICY", policy).replace("RULE", rule))
}

/// The hours of the day (local, +10:00) in which appliances drew energy, and the totals.
fn hours_used(dir: &std::path::Path) -> (std::collections::BTreeSet<u32>, f64, f64) {
    let ts = Table::read(&dir.join("timeseries.csv"));
    let mut hours = std::collections::BTreeSet::new();
    let (mut kwh, mut shifted) = (0.0, 0.0);
    for r in &ts.rows {
        let a = Table::f(r, "appliance_kwh");
        if a > 0.0 {
            hours.insert(r["time"][11..13].parse().unwrap());
        }
        kwh += a;
        shifted += Table::f(r, "shifted_kwh");
        // The energy balance closes with the appliances in the load.
        let f = |c| Table::f(r, c);
        let lhs = f("pv_kwh") + f("grid_import_kwh") + f("battery_discharge_kwh") + f("unserved_kwh");
        let rhs = f("load_kwh") + f("grid_export_kwh") + f("battery_charge_kwh") + f("curtailed_kwh") + f("losses_kwh");
        assert!((lhs - rhs).abs() < 1e-6, "step {}: {lhs} vs {rhs}", r["step"]);
        assert!(f("load_kwh") >= a);
    }
    (hours, kwh, shifted)
}

#[test]
fn each_policy_runs_in_its_window_where_it_should() {
    let (_a, earliest) = run("Earliest", "double-auction");
    let (_b, cheapest) = run("Cheapest", "double-auction");
    let (_c, sunniest) = run("Sunniest", "double-auction");
    let (h_early, kwh_early, shifted_early) = hours_used(&earliest);
    let (h_cheap, kwh_cheap, shifted_cheap) = hours_used(&cheapest);
    let (h_sun, kwh_sun, _) = hours_used(&sunniest);
    // Earliest starts at 16:00 and nothing is shifted; Cheapest waits for the 22:00 tariff;
    // Sunniest starts at the window's start too (the sun only sinks after 16:00).
    assert_eq!(h_early.iter().copied().collect::<Vec<_>>(), [16, 17]);
    assert_eq!(shifted_early, 0.0);
    assert_eq!(h_cheap.iter().copied().collect::<Vec<_>>(), [22, 23]);
    assert!((shifted_cheap - kwh_cheap).abs() < 1e-9, "every cheap run was moved");
    assert_eq!(h_sun.iter().copied().collect::<Vec<_>>(), [16, 17]);
    // The same draws decide which days they run: the same energy whatever the policy, about
    // 20 houses × 14 days × 5/7 runs of 1 kWh.
    assert_eq!(kwh_early, kwh_cheap);
    assert_eq!(kwh_early, kwh_sun);
    assert!((150.0..250.0).contains(&kwh_early), "{kwh_early}");
    let hh = Table::read(&cheapest.join("households.csv"));
    let per_house: f64 = hh.rows.iter().map(|r| Table::f(r, "appliance_kwh")).sum();
    assert!((per_house - kwh_cheap).abs() < 1e-9);
    // Moving the runs to the cheap hours lowers the bills.
    assert!(summary(&cheapest)["community_bill"].as_f64() < summary(&earliest)["community_bill"].as_f64());
}

#[test]
fn the_baseline_runs_the_same_appliances() {
    // Under grid-only the run and its baseline are the same households with the same loads.
    let (_t, out) = run("Cheapest", "grid-only");
    for r in &Table::read(&out.join("households.csv")).rows {
        assert_eq!(micros(&r["bill"]), micros(&r["baseline_bill"]), "{}", r["household"]);
    }
}

#[test]
fn a_sunny_window_runs_at_noon_and_threads_do_not_change_it() {
    let text = STREET.replace("POLICY", "Sunniest").replace("RULE", "double-auction").replace("from_hour: 16, to_hour: 24", "from_hour: 6, to_hour: 20");
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, text).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&path, &a, &["--threads", "1"]);
    run_ok(&path, &b, &["--threads", "2"]);
    for f in ["timeseries.csv", "households.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f}");
    }
    // Solar noon in Sydney at +10:00 is near 12:00 local: the two hours around it.
    let (hours, _, shifted) = hours_used(&a);
    assert_eq!(hours.iter().copied().collect::<Vec<_>>(), [11, 12], "{hours:?}");
    assert!(shifted > 0.0);
}

#[test]
fn bad_appliances_are_named() {
    let base = STREET.replace("POLICY", "Earliest").replace("RULE", "double-auction");
    let at = "households[0].appliances[0]";
    rejects_text(&base.replace("from_hour: 16, to_hour: 24", "from_hour: 16, to_hour: 17"), &[&format!("{at}.to_hour"), "shorter than the run's 2 h"]);
    rejects_text(&base.replace("from_hour: 16, to_hour: 24", "from_hour: 20, to_hour: 8"), &[&format!("{at}.to_hour"), "not after from_hour"]);
    rejects_text(&base.replace("kwh_per_run: 1.0", "kwh_per_run: -1"), &[&format!("{at}.kwh_per_run")]);
    rejects_text(&base.replace("hours_per_run: 2,", "hours_per_run: 2, runs_per_week: 9,"), &[&format!("{at}.runs_per_week"), "9"]);
}

#[test]
fn windows_must_lie_on_the_step_grid_and_hold_the_run() {
    let base = STREET.replace("POLICY", "Earliest").replace("RULE", "double-auction");
    let at = "households[0].appliances[0]";
    rejects_text(&base.replace("from_hour: 16, to_hour: 24", "from_hour: 8.25, to_hour: 10.25"), &[&format!("{at}.from_hour"), "not on the 60-minute step grid"]);
    // A 1.5 h dryer takes two hourly steps: 8–9.5 cannot hold it (nor lie on the grid).
    rejects_text(&base.replace("kwh_per_run: 1.0, hours_per_run: 2,", "hours_per_run: 1.5,").replace("from_hour: 16, to_hour: 24", "from_hour: 8, to_hour: 9"), &[&format!("{at}.to_hour"), "shorter than the run's 2 h"]);
    rejects_text(&base.replace(r#"start: "2024-01-08T00:00""#, r#"start: "2024-01-08T13:30""#), &["households[0].appliances", "starts at 13:30"]);
}
