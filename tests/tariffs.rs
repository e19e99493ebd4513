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

/// One house without panels over three days across a month's end (30 January to 1 February,
/// hourly steps), its load read from a profile: 1 kWh an hour, 5 kWh at 20:00 on 30 January,
/// 2 kWh at noon on 1 February. A supply charge of 1.10 a day and a demand charge of 12 per kW a
/// month.
const CHARGES: &str = r#"(
    name: "charges",
    seed: 1,
    start: "2024-01-30T00:00",
    timezone: "+10:00",
    step_minutes: 60,
    duration_days: 3,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05, supply_charge_per_day: 1.10, demand_charge_per_kw_month: 12.0),
    households: [House(id: "a", load: Profile(file: "p.csv"))],
    market: (rule: "RULE"),
)"#;

#[test]
fn supply_and_demand_charges_make_a_hand_computed_bill() {
    let tmp = tempfile::tempdir().unwrap();
    let mut profile = "household,step,load_kwh,pv_kwh\n".to_string();
    for step in 0..72 {
        let kwh = match step {
            20 => 5.0,
            60 => 2.0,
            _ => 1.0,
        };
        profile.push_str(&format!("a,{step},{kwh},0\n"));
    }
    std::fs::write(tmp.path().join("p.csv"), profile).unwrap();
    for rule in ["double-auction", "grid-only"] {
        let path = tmp.path().join(format!("{rule}.ron"));
        std::fs::write(&path, CHARGES.replace("RULE", rule)).unwrap();
        let out = tmp.path().join(rule);
        run_ok(&path, &out, &[]);
        let h = &Table::read(&out.join("households.csv")).rows[0];
        // January: 2 days, peak 5 kW: supply 2 × 1.10, demand 12 × 5 × 2/31 = 3.870968.
        // February: 1 day, peak 2 kW: supply 1.10, demand 12 × 2 × 1/29 = 0.827586.
        assert_eq!(micros(&h["supply_charge"]), 3_300_000);
        assert_eq!(micros(&h["demand_charge"]), 3_870_968 + 827_586);
        // 77 kWh imported at 0.30.
        assert_eq!(micros(&h["grid_paid"]), 23_100_000);
        assert_eq!(micros(&h["bill"]), 23_100_000 + 3_300_000 + 4_698_554);
        // The baseline pays the same tariff: nothing to trade, nothing saved.
        assert_eq!(micros(&h["baseline_bill"]), micros(&h["bill"]));
        let s = summary(&out);
        assert_eq!((s["supply_charges"].as_f64(), s["demand_charges"].as_f64()), (Some(3.3), Some(4.698554)));
        assert_eq!((s["baseline_supply_charges"].as_f64(), s["baseline_demand_charges"].as_f64()), (Some(3.3), Some(4.698554)));
        // On the books: a supply and a demand charge at each month's end, each recomputable.
        let o = peergrid(&["verify", out.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
        let charges: Vec<serde_json::Value> = ledger.lines().flat_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["transactions"].as_array().cloned().unwrap_or_default()).filter(|t| t["kind"].as_str().is_some_and(|k| k.ends_with("_charge"))).collect();
        let steps: Vec<(String, u64)> = charges.iter().map(|t| (t["kind"].as_str().unwrap().to_string(), t["step"].as_u64().unwrap())).collect();
        assert_eq!(steps, [("supply_charge".to_string(), 47), ("demand_charge".to_string(), 47), ("supply_charge".to_string(), 71), ("demand_charge".to_string(), 71)]);
    }
}

#[test]
fn bad_charges_are_named() {
    rejects_text(&CHARGES.replace("supply_charge_per_day: 1.10", "supply_charge_per_day: -1").replace(r#"load: Profile(file: "p.csv")"#, "load: Archetype(kind: Family)").replace("RULE", "grid-only"), &["grid.supply_charge_per_day", "-1"]);
    rejects_text(&CHARGES.replace("demand_charge_per_kw_month: 12.0", "demand_charge_per_kw_month: NaN").replace(r#"load: Profile(file: "p.csv")"#, "load: Archetype(kind: Family)").replace("RULE", "grid-only"), &["grid.demand_charge_per_kw_month"]);
}

#[test]
fn a_month_with_a_daylight_saving_change_bills_its_calendar_days() {
    // Sydney's clocks go back on 7 April 2024: April has 721 hours, still 30 days.
    let text = CHARGES
        .replace(r#"start: "2024-01-30T00:00""#, r#"start: "2024-04-01T00:00""#)
        .replace(r#"timezone: "+10:00""#, r#"timezone: "Australia/Sydney""#)
        .replace("duration_days: 3", "duration_days: 31")
        .replace(r#"load: Profile(file: "p.csv")"#, "load: Archetype(kind: Family)")
        .replace("RULE", "grid-only");
    let (_tmp, out) = run_text(&text);
    let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
    let txs: Vec<serde_json::Value> = ledger.lines().flat_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["transactions"].as_array().cloned().unwrap_or_default()).collect();
    let april: Vec<&serde_json::Value> = txs.iter().filter(|t| t["kind"].as_str().is_some_and(|k| k.ends_with("_charge"))).take(2).collect();
    assert_eq!(april[0]["kind"], "supply_charge");
    assert_eq!((april[0]["kwh"].as_f64(), april[0]["amount"].as_f64()), (Some(30.0), Some(33.0)), "30 days at 1.10");
    assert_eq!(april[1]["price"].as_f64(), Some(12.0), "a whole month's demand charge per kW");
    let o = peergrid(&["verify", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
}
