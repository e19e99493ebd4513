//! Tariffs: a dynamic price series from a CSV file.

mod common;

use common::*;

/// A street at 30-minute steps for two days, on a dynamic tariff of hourly prices: cheap nights,
/// dear evenings, a spike.
const DYNAMIC: &str = r#"(
    name: "dynamic-tariff",
    seed: 4,
    start: "2024-01-15T00:00",
    timezone: "+10:00",
    step_minutes: 30,
    duration_days: 2,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.04, price_file: "prices.csv"),
    households: [
        Group(prefix: "h", count: 12, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20),
    ],
    market: (rule: "RULE"),
)"#;

/// Hourly prices for 48 hours from the run's start (local time): 0.12 at night, 0.45 from 17:00
/// to 21:00, 2.50 at 18:00 on the first day, 0.25 otherwise; export 0.05, or 0.00 at night.
fn prices_csv() -> (String, Vec<(f64, f64)>) {
    let mut text = "time,import_price_per_kwh,export_price_per_kwh\n".to_string();
    let mut hourly = Vec::new();
    for h in 0..48u32 {
        let hour = h % 24;
        let (import, export) = match hour {
            0..=5 => (0.12, 0.0),
            18 if h < 24 => (2.50, 0.05),
            17..=20 => (0.45, 0.05),
            _ => (0.25, 0.05),
        };
        text.push_str(&format!("2024-01-{:02}T{:02}:00:00+10:00,{import},{export}\n", 15 + h / 24, hour));
        hourly.push((import, export));
    }
    (text, hourly)
}

fn run_dynamic(rule: &str) -> (tempfile::TempDir, std::path::PathBuf, Vec<(f64, f64)>) {
    let tmp = tempfile::tempdir().unwrap();
    let (csv, hourly) = prices_csv();
    std::fs::write(tmp.path().join("prices.csv"), csv).unwrap();
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, DYNAMIC.replace("RULE", rule)).unwrap();
    let out = tmp.path().join("o");
    run_ok(&path, &out, &[]);
    (tmp, out, hourly)
}

#[test]
fn every_step_is_priced_from_the_file_and_the_baseline_pays_the_same_tariff() {
    let (_tmp, out, hourly) = run_dynamic("double-auction");
    let ts = Table::read(&out.join("timeseries.csv"));
    assert_eq!(ts.rows.len(), 96);
    for r in &ts.rows {
        let step: usize = r["step"].parse().unwrap();
        let (import, export) = hourly[step / 2];
        assert_eq!((Table::f(r, "grid_import_price"), Table::f(r, "grid_export_price")), (import, export), "step {step}");
    }
    // Households' grid payments are their imports at each step's price: the grid-only rule
    // pays exactly the baseline's bill (the baseline keeps the tariff and only drops trading).
    let (_tmp2, grid_only, _) = run_dynamic("grid-only");
    let households = Table::read(&grid_only.join("households.csv"));
    for r in &households.rows {
        assert_eq!(micros(&r["bill"]), micros(&r["baseline_bill"]), "{}", r["household"]);
    }
    // Every household's grid payments are its meter's imports at each step's price: summed
    // over the street, the steps' imports at the connection point less the lines' losses, each
    // at the price of its step (each payment rounded once: within a micro-unit each).
    let steps = Table::read(&grid_only.join("timeseries.csv"));
    let expected: f64 = steps.rows.iter().map(|r| (Table::f(r, "grid_import_kwh") - Table::f(r, "losses_kwh")) * Table::f(r, "grid_import_price")).sum();
    let paid: f64 = households.rows.iter().map(|r| Table::f(r, "grid_paid")).sum();
    assert!((paid - expected).abs() < 12.0 * 96.0 * 1e-6, "paid {paid}, expected {expected}");
    let spike: f64 = steps.rows.iter().filter(|r| Table::f(r, "grid_import_price") == 2.5).map(|r| Table::f(r, "grid_import_kwh")).sum();
    assert!(spike > 0.0, "the street imports during the spike");
    assert_eq!(summary(&grid_only)["baseline_import_cost"].as_f64().map(|c| (c * 1e6).round()), Some((paid * 1e6).round()));
    let o = peergrid(&["verify", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn bad_price_files_are_named_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, DYNAMIC.replace("RULE", "double-auction")).unwrap();
    let check = |csv: Option<&str>, scenario: Option<String>, expect: &[&str]| {
        match csv {
            Some(c) => std::fs::write(tmp.path().join("prices.csv"), c).unwrap(),
            None => {
                let _ = std::fs::remove_file(tmp.path().join("prices.csv"));
            }
        }
        if let Some(s) = &scenario {
            std::fs::write(&path, s).unwrap();
        }
        let out = tmp.path().join("o");
        let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", out.to_str().unwrap()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        for e in expect {
            assert!(err.contains(e), "expected `{e}` in: {err}");
        }
        assert!(!out.exists() && !err.contains("panicked"), "{err}");
    };
    check(None, None, &["grid.price_file", "prices.csv"]);
    check(Some("time,import_price_per_kwh\n2024-01-15T00:00:00+10:00,0.2\n2024-01-15T01:00:00+10:00,-0.3\n"), None, &["prices.csv", "line 3", "import_price_per_kwh", "negative"]);
    check(Some("time,import_price_per_kwh\n2024-01-15T02:00:00+10:00,0.2\n"), None, &["prices.csv", "after the run's start"]);
    check(Some("time,import\n"), None, &["prices.csv", "import_price_per_kwh"]);
    let tou = DYNAMIC.replace("RULE", "double-auction").replace(r#"price_file: "prices.csv""#, r#"price_file: "prices.csv", time_of_use: [(from_hour: 17, to_hour: 21, import_price_per_kwh: 0.5)]"#);
    check(Some("time,import_price_per_kwh\n2024-01-15T00:00:00+10:00,0.2\n"), Some(tou), &["grid.price_file", "time_of_use"]);
}
