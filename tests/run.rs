//! `peergrid run` on the shipped scenarios: outputs, conservation laws, reproducibility.

mod common;
use common::*;

const OUTPUT_FILES: [&str; 6] = ["summary.json", "timeseries.csv", "households.csv", "trades.csv", "topology.json", "lines.csv"];

/// No line in `lines.csv` carried more than its capacity, and the run saw no overloaded step.
fn assert_lines_within_capacity(dir: &std::path::Path) {
    let lines = Table::read(&dir.join("lines.csv"));
    assert_eq!(lines.headers, ["line", "from", "to", "capacity_kw", "max_flow_kw", "mean_flow_kw", "congested_steps", "losses_kwh", "length_m", "max_loading"]);
    for r in &lines.rows {
        assert!(Table::f(r, "max_flow_kw") <= Table::f(r, "capacity_kw") * (1.0 + 1e-9), "line {} over capacity", r["line"]);
        assert!(Table::f(r, "losses_kwh") >= 0.0);
    }
    assert_eq!(summary(dir)["overloaded_steps"], 0, "every step of the run within line limits");
}

/// Energy balance from the written file, every step, to 1e-6 kWh.
fn assert_energy_balance(dir: &std::path::Path) {
    let ts = Table::read(&dir.join("timeseries.csv"));
    assert!(!ts.rows.is_empty());
    for r in &ts.rows {
        let f = |c| Table::f(r, c);
        let lhs = f("pv_kwh") + f("grid_import_kwh") + f("battery_discharge_kwh") + f("unserved_kwh");
        let rhs = f("load_kwh") + f("grid_export_kwh") + f("battery_charge_kwh") + f("curtailed_kwh") + f("losses_kwh");
        assert!((lhs - rhs).abs() < 1e-6, "step {}: {lhs} vs {rhs}", r["step"]);
    }
}

/// Money balance from the written files: peers pay exactly what peers receive, and the
/// households' bills equal the grid's net revenue.
fn assert_money_balance(dir: &std::path::Path) {
    let hh = Table::read(&dir.join("households.csv"));
    let sum = |col: &str| hh.rows.iter().map(|r| micros(&r[col])).sum::<i64>();
    assert_eq!(sum("p2p_paid"), sum("p2p_received"), "peer payments balance");
    assert_eq!(sum("bill"), sum("grid_paid") - sum("grid_received") + sum("network_fees_paid"), "bills are what the grid nets plus network fees");
    let trades = Table::read(&dir.join("trades.csv"));
    let traded: i64 = trades.rows.iter().map(|r| micros(&r["amount"])).sum();
    assert_eq!(traded, sum("p2p_paid"), "trades.csv amounts are what buyers paid");
    assert_eq!(summary(dir)["money_balance_micros"], 0);
}

#[test]
fn street_writes_every_output_with_contract_columns() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    run_ok(&scenario("street.ron"), &out, &[]);
    for f in OUTPUT_FILES {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let ts = Table::read(&out.join("timeseries.csv"));
    for c in [
        "step", "time", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_kwh", "grid_import_kwh", "grid_export_kwh", "battery_charge_kwh",
        "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "losses_kwh", "clearing_price",
    ] {
        assert!(ts.headers.iter().any(|h| h == c), "timeseries.csv lacks {c}");
    }
    assert_eq!(ts.rows.len(), 7 * 96);
    assert_eq!(ts.rows[0]["time"], "2024-01-15T00:00:00+11:00");
    assert_eq!(ts.rows[0]["time_utc"], "2024-01-14T13:00:00Z");
    let hh = Table::read(&out.join("households.csv"));
    for c in [
        "household", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_bought_kwh", "p2p_sold_kwh", "grid_import_kwh", "grid_export_kwh",
        "battery_charge_kwh", "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "bill", "baseline_bill",
    ] {
        assert!(hh.headers.iter().any(|h| h == c), "households.csv lacks {c}");
    }
    assert_eq!(hh.rows.len(), 12);
    // Equivalent full cycles: delivered energy over capacity, 0 without a battery.
    for r in &hh.rows {
        let capacity = Table::f(r, "battery_kwh");
        let expected = if capacity > 0.0 { Table::f(r, "battery_discharge_kwh") / capacity } else { 0.0 };
        assert!((Table::f(r, "battery_cycles") - expected).abs() < 1e-9, "{}", r["household"]);
    }
    assert!(hh.rows.iter().any(|r| Table::f(r, "battery_cycles") > 0.5), "the street's battery cycles in a sunny week");
    let tr = Table::read(&out.join("trades.csv"));
    assert_eq!(&tr.headers[..5], ["step", "seller", "buyer", "kwh", "price"]);
    assert!(!tr.rows.is_empty(), "a sunny street trades");
    let s = summary(&out);
    assert_eq!(s["schema_version"], 1, "summary.json states its layout's version");
    for k in [
        "scenario", "rule", "seed", "steps", "households", "self_sufficiency", "self_consumption", "p2p_kwh", "community_bill", "baseline_bill",
        "savings_pct", "unserved_kwh", "curtailed_kwh", "losses_kwh", "peak_grid_import_kw", "peak_grid_export_kw", "co2_avoided_kg", "runtime_s",
        "household_steps_per_s",
    ] {
        assert!(s.get(k).is_some(), "summary.json lacks {k}");
    }
    assert_eq!(s["provenance"]["scenario_sha256"].as_str().unwrap().len(), 64);
    assert!(s["community_bill"].as_f64().unwrap() < s["baseline_bill"].as_f64().unwrap(), "trading saves money on a sunny street");
    assert_energy_balance(&out);
    assert_money_balance(&out);
}

#[test]
fn shipped_scenarios_conserve_energy_and_money() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, steps) in [("street.ron", "672"), ("village.ron", "960"), ("island.ron", "1344"), ("congested-feeder.ron", "672"), ("district-10k.ron", "48")] {
        let out = tmp.path().join(name);
        run_ok(&scenario(name), &out, &["--steps", steps]);
        assert_energy_balance(&out);
        assert_money_balance(&out);
        assert_lines_within_capacity(&out);
        assert!(summary(&out)["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-6);
    }
}

#[test]
fn island_has_no_grid_and_trading_reduces_unserved_energy() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("island");
    run_ok(&scenario("island.ron"), &out, &[]);
    let ts = Table::read(&out.join("timeseries.csv"));
    assert!(ts.column("grid_import_kwh").iter().chain(ts.column("grid_export_kwh").iter()).all(|v| *v == 0.0));
    let s = summary(&out);
    assert_eq!(s["grid_connected"], false);
    let (unserved, baseline) = (s["unserved_kwh"].as_f64().unwrap(), s["baseline_unserved_kwh"].as_f64().unwrap());
    assert!(unserved < baseline, "neighbours' PV and batteries serve demand: {unserved} vs {baseline}");
    let trades = Table::read(&out.join("trades.csv"));
    assert!(trades.rows.iter().any(|r| r["seller_source"] == "battery"), "full batteries serve neighbours on an island");
    // Loss-of-load hours: some whenever energy went unserved, and fewer with trading.
    let hh = Table::read(&out.join("households.csv"));
    for r in &hh.rows {
        let (hours, kwh) = (Table::f(r, "loss_of_load_hours"), Table::f(r, "unserved_kwh"));
        assert_eq!(hours > 0.0, kwh > 1e-9, "{}: {hours} h, {kwh} kWh", r["household"]);
    }
    let total = |c: &str| hh.column(c).iter().sum::<f64>();
    assert!(total("loss_of_load_hours") < total("baseline_loss_of_load_hours"), "trading shortens outages");
}

#[test]
fn same_seed_gives_byte_identical_outputs_on_any_thread_count() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b, c) = (tmp.path().join("a"), tmp.path().join("b"), tmp.path().join("c"));
    run_ok(&scenario("village.ron"), &a, &["--steps", "400", "--threads", "1"]);
    run_ok(&scenario("village.ron"), &b, &["--steps", "400", "--threads", "2"]);
    run_ok(&scenario("village.ron"), &c, &["--steps", "400", "--threads", "2"]);
    for f in ["timeseries.csv", "households.csv", "trades.csv", "topology.json", "ledger.jsonl"] {
        let fa = std::fs::read(a.join(f)).unwrap();
        assert_eq!(fa, std::fs::read(b.join(f)).unwrap(), "{f} differs between 1 and 2 threads");
        assert_eq!(fa, std::fs::read(c.join(f)).unwrap(), "{f} differs between two runs");
    }
    assert_eq!(summary_without_runtime(&a), summary_without_runtime(&b));
    let d = tmp.path().join("d");
    run_ok(&scenario("village.ron"), &d, &["--steps", "400", "--seed", "99"]);
    assert_ne!(std::fs::read(a.join("timeseries.csv")).unwrap(), std::fs::read(d.join("timeseries.csv")).unwrap(), "the seed matters");
}

#[test]
fn radial_feeders_in_parallel_give_identical_outputs_on_any_thread_count() {
    // Two radial feeders under a tight voltage band: the AC sweep and the voltage limits run
    // feeder by feeder on the thread pool.
    let tmp = tempfile::tempdir().unwrap();
    let args = |t: &'static str| vec!["--set", "households[0].count=800", "--set", "topology.feeders=2", "--set", "network.voltage_tolerance=0.02", "--steps", "96", "--threads", t];
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&scenario("district-10k.ron"), &a, &args("1"));
    run_ok(&scenario("district-10k.ron"), &b, &args("2"));
    let s = summary(&a);
    assert!(s["voltage_limited_steps"].as_u64().unwrap() > 0, "the band binds: {s}");
    for f in ["timeseries.csv", "households.csv", "trades.csv", "lines.csv", "ledger.jsonl"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs between 1 and 2 threads");
    }
    assert_eq!(summary_without_runtime(&a), summary_without_runtime(&b));
}

#[test]
fn aggregate_output_level_builds_the_same_ledger_without_per_trade_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (full, agg) = (tmp.path().join("full"), tmp.path().join("agg"));
    run_ok(&scenario("street.ron"), &full, &["--steps", "200"]);
    run_ok(&scenario("street.ron"), &agg, &["--steps", "200", "--output-level", "aggregate"]);
    for f in ["trades.csv", "ledger.jsonl"] {
        assert!(full.join(f).exists() && !agg.join(f).exists(), "{f}");
    }
    for f in ["timeseries.csv", "households.csv", "lines.csv", "topology.json"] {
        assert_eq!(std::fs::read(full.join(f)).unwrap(), std::fs::read(agg.join(f)).unwrap(), "{f} is the same at both levels");
    }
    let (sf, sa) = (summary(&full), summary(&agg));
    assert_eq!((sf["output_level"].as_str(), sa["output_level"].as_str()), (Some("full"), Some("aggregate")));
    assert_eq!(sf["ledger"]["head_hash"], sa["ledger"]["head_hash"], "every block is still built, signed and chained");
    assert_eq!(sa["ledger"]["jsonl_written"], false);
    assert_eq!(sf["trades"], sa["trades"]);
    let report = std::fs::read_to_string(agg.join("report.html")).unwrap();
    assert!(report.contains("ledger.jsonl was not written") && !report.contains("peergrid verify"), "the report does not send readers to a missing file");
    // The scenario file can ask for it too (district-10k-year.ron does).
    let dir = tmp.path().join("s");
    std::fs::create_dir(&dir).unwrap();
    let text = std::fs::read_to_string(scenario("street.ron")).unwrap();
    let file = dir.join("street.ron");
    std::fs::write(&file, text.trim_end().trim_end_matches(')').to_string() + "    output: Aggregate,\n)\n").unwrap();
    let out = tmp.path().join("from-file");
    run_ok(&file, &out, &["--steps", "20"]);
    assert!(!out.join("trades.csv").exists() && summary(&out)["output_level"] == "aggregate");
}

#[test]
fn switching_the_rule_never_changes_weather_or_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let (da, go) = (tmp.path().join("da"), tmp.path().join("go"));
    run_ok(&scenario("street.ron"), &da, &[]);
    run_ok(&scenario("street.ron"), &go, &["--rule", "grid-only"]);
    let (a, b) = (Table::read(&da.join("timeseries.csv")), Table::read(&go.join("timeseries.csv")));
    assert_eq!(a.column("pv_kwh"), b.column("pv_kwh"));
    assert_eq!(a.column("load_kwh"), b.column("load_kwh"));
    assert_eq!(b.column("p2p_kwh").iter().sum::<f64>(), 0.0);
    // The baseline of the double-auction run is the grid-only run.
    let (sa, sb) = (summary(&da), summary(&go));
    assert_eq!(sa["baseline_bill"], sb["community_bill"]);
    assert_eq!(summary(&go)["rule"], "grid-only");
}

#[test]
fn batteries_obey_their_state_of_charge_identity() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("v");
    run_ok(&scenario("village.ron"), &out, &["--steps", "960"]);
    let hh = Table::read(&out.join("households.csv"));
    let eta = 0.9f64.sqrt(); // village batteries: round-trip 0.9
    let mut checked = 0;
    for r in hh.rows.iter().filter(|r| !r["soc_start_kwh"].is_empty()) {
        let f = |c| Table::f(r, c);
        let expected = f("soc_start_kwh") + f("battery_charge_kwh") * eta - f("battery_discharge_kwh") / eta;
        assert!((f("soc_end_kwh") - expected).abs() < 1e-6, "{}: {} vs {expected}", r["household"], f("soc_end_kwh"));
        checked += 1;
    }
    assert!(checked > 10);
}

#[test]
fn profile_csv_is_replayed_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("household,step,load_kwh,pv_kwh\n");
    for step in 0..48 {
        csv.push_str(&format!("p1,{step},0.5,{}\n", if (16..32).contains(&step) { 1.25 } else { 0.0 }));
        csv.push_str(&format!("p2,{step},0.75,0\n"));
    }
    std::fs::write(tmp.path().join("profiles.csv"), csv).unwrap();
    let scen = r#"(
        name: "replay", start: "2024-01-01T00:00", step_minutes: 30, duration_days: 1,
        location: (latitude_deg: 0, longitude_deg: 0),
        grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.10),
        households: [
            House(id: "p1", pv: (kwp: 3.0), load: Profile(file: "profiles.csv")),
            House(id: "p2", load: Profile(file: "profiles.csv")),
        ],
        topology: Generated(layout: Street),
    )"#;
    std::fs::write(tmp.path().join("replay.ron"), scen).unwrap();
    let out = tmp.path().join("out");
    run_ok(&tmp.path().join("replay.ron"), &out, &[]);
    let ts = Table::read(&out.join("timeseries.csv"));
    assert!((ts.column("load_kwh").iter().sum::<f64>() - 48.0 * 1.25).abs() < 1e-9);
    assert!((ts.column("pv_kwh").iter().sum::<f64>() - 16.0 * 1.25).abs() < 1e-9);
    // Midday: p1 has 0.75 kWh spare, p2 needs 0.75 kWh: all of it is sent, at the mid price 0.20.
    let tr = Table::read(&out.join("trades.csv"));
    assert_eq!(tr.rows.len(), 16);
    assert!(tr.rows.iter().all(|r| r["seller"] == "p1" && r["buyer"] == "p2" && r["price"] == "0.2"), "the exact price, shortest decimal");
    assert!(tr.rows.iter().all(|r| (Table::f(r, "kwh_sent") - 0.75).abs() < 1e-12 && (Table::f(r, "kwh") + Table::f(r, "loss_kwh") - 0.75).abs() < 1e-12));
    let lost: f64 = tr.column("loss_kwh").iter().sum();
    assert!(lost > 0.0 && lost < 0.01 * 16.0 * 0.75, "a few metres of cable lose a little: {lost} kWh");
    let hh = Table::read(&out.join("households.csv"));
    // The seller bears the losses (default): p2 pays 0.20 for what arrives and the grid's 0.30
    // for the rest: 0.30 × 0.75 × 32 night steps + 0.20 × (12 − lost) + 0.30 × lost.
    let expected = 7.2 + 0.20 * (12.0 - lost) + 0.30 * lost;
    assert!((micros(&hh.rows[1]["bill"]) as f64 / 1e6 - expected).abs() < 32e-6, "bill {} vs {expected}", hh.rows[1]["bill"]);
    assert_eq!(micros(&hh.rows[1]["baseline_bill"]), 10_800_000);
}

/// `scenarios/village.ron` with network fees and a loss bearer, run for two days into `dir/name`.
fn village_with_fees(dir: &std::path::Path, name: &str, bearer: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(scenario("village.ron")).unwrap().replace(
        "market: (rule: \"double-auction\")",
        &format!("network: (fees: (same_street_per_kwh: 0.01, same_feeder_per_kwh: 0.02, across_feeders_per_kwh: 0.05)),\n    market: (rule: \"double-auction\", loss_bearer: {bearer})"),
    );
    let file = dir.join(format!("{name}.ron"));
    std::fs::write(&file, text).unwrap();
    let out = dir.join(name);
    run_ok(&file, &out, &["--steps", "192"]);
    out
}

#[test]
fn network_fees_and_line_losses_are_itemised_and_settled() {
    let tmp = tempfile::tempdir().unwrap();
    for bearer in ["Seller", "Buyer", "Shared"] {
        let out = village_with_fees(tmp.path(), bearer, bearer);
        let tr = Table::read(&out.join("trades.csv"));
        assert!(tr.rows.len() > 100, "the village trades");
        let (mut fees, mut lost) = (0i64, 0.0);
        for r in &tr.rows {
            let (kwh, sent, loss, price) = (Table::f(r, "kwh"), Table::f(r, "kwh_sent"), Table::f(r, "loss_kwh"), Table::f(r, "price"));
            assert!(loss >= 0.0 && (kwh + loss - sent).abs() < 1e-12, "delivered = sent − losses: {r:?}");
            // Every village feeder is one street: a delivery pays 0.01 on its feeder, 0.05 across.
            let charged = micros(&r["network_fee"]) as f64 / 1e6;
            let fee = [0.01, 0.05].into_iter().find(|f| (charged - f * sent).abs() <= 0.5e-6 + 1e-12);
            let fee = fee.unwrap_or_else(|| panic!("fee {charged} is neither 0.01 nor 0.05 per kWh sent: {r:?}"));
            assert!(price + fee <= 0.32 + 1e-5, "price plus fee within the highest bid (the import price)");
            let billed = match bearer {
                "Seller" => kwh,
                "Buyer" => sent,
                _ => kwh + loss / 2.0,
            };
            assert!((micros(&r["amount"]) as f64 / 1e6 - price * billed).abs() <= 1e-6, "{bearer} bears the loss: {r:?}");
            fees += micros(&r["network_fee"]);
            lost += loss;
        }
        assert!(lost > 0.0 && fees > 0);
        let hh = Table::read(&out.join("households.csv"));
        assert_eq!(hh.rows.iter().map(|r| micros(&r["network_fees_paid"])).sum::<i64>(), fees, "households paid the fees in trades.csv");
        let s = summary(&out);
        assert_eq!((s["network_fees"].as_f64().unwrap() * 1e6).round() as i64, fees);
        assert!((s["p2p_losses_kwh"].as_f64().unwrap() - lost).abs() < 1e-6);
        assert!(s["p2p_losses_kwh"].as_f64().unwrap() <= s["network_losses_kwh"].as_f64().unwrap() + 1e-9);
        assert_eq!(s["loss_bearer"], bearer.to_lowercase());
        assert_money_balance(&out);
        assert_energy_balance(&out);
        // The ledger holds the fees and losses and agrees with households.csv.
        let v = peergrid(&["verify", out.to_str().unwrap()]);
        assert!(v.status.success(), "{}", stderr(&v));
        // Fees waived in trades.csv (its last column) are caught against the ledger.
        let text = std::fs::read_to_string(out.join("trades.csv")).unwrap();
        let waived: String = text.lines().enumerate().map(|(i, l)| if i == 0 { format!("{l}\n") } else { format!("{},0\n", &l[..l.rfind(',').unwrap()]) }).collect();
        std::fs::write(out.join("trades.csv"), waived).unwrap();
        let v = peergrid(&["verify", out.to_str().unwrap()]);
        assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
        assert!(stderr(&v).contains("trades.csv") && stderr(&v).contains("network_fee"), "{}", stderr(&v));
    }
}

/// `scenarios/congested-feeder.ron` with `network` settings added, written into `dir`.
fn congested_feeder_with(dir: &std::path::Path, network: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(scenario("congested-feeder.ron")).unwrap().replace("market: (rule", &format!("{network}\n    market: (rule"));
    let file = dir.join("variant.ron");
    std::fs::write(&file, text).unwrap();
    file
}

#[test]
fn congested_feeder_really_congests_and_the_limit_has_a_cost() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("limited");
    run_ok(&scenario("congested-feeder.ron"), &out, &[]);
    let s = summary(&out);
    assert!(s["congested_steps"].as_u64().unwrap() > 0 && s["baseline_congested_steps"].as_u64().unwrap() > 0);
    assert!(s["grid_limit_curtailed_kwh"].as_f64().unwrap() > 0.0);
    assert!((s["max_line_loading"].as_f64().unwrap() - 1.0).abs() < 1e-9, "the binding line runs at its limit");
    let lines = Table::read(&out.join("lines.csv"));
    assert!(lines.rows.iter().any(|r| Table::f(r, "congested_steps") > 0.0));
    assert_lines_within_capacity(&out);
    assert!(s["losses_kwh"].as_f64().unwrap() > 0.0, "lines have resistance");
    // Without line or voltage limits the same week overloads the feeder and curtails nothing.
    let free = tmp.path().join("free");
    run_ok(&congested_feeder_with(tmp.path(), "network: (enforce_line_limits: false, enforce_voltage_limits: false),"), &free, &[]);
    let f = summary(&free);
    assert!(f["max_line_loading"].as_f64().unwrap() > 1.05 && f["overloaded_steps"].as_u64().unwrap() > 0);
    assert_eq!(f["curtailed_kwh"], 0.0);
    assert_energy_balance(&free);
}

#[test]
fn a_tight_voltage_band_curtails_exports_and_holds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("tight");
    run_ok(&congested_feeder_with(tmp.path(), "network: (voltage_tolerance: 0.05),"), &out, &[]);
    let s = summary(&out);
    assert!(s["voltage_limited_steps"].as_u64().unwrap() > 0 && s["voltage_violations_avoided"].as_u64().unwrap() > 0, "{s}");
    let (lo, hi) = (s["min_voltage_pu"].as_f64().unwrap(), s["max_voltage_pu"].as_f64().unwrap());
    // The band holds to the limiter's tolerance (1e-6 pu) plus the AC sweep's (1e-7 pu of
    // nominal, warm-started): the reported voltages come from the step's final sweep.
    let within = 1e-6 + 1e-7;
    assert!(hi <= 1.05 + within && lo >= 0.95 - within, "voltages {lo}..{hi}");
    assert_energy_balance(&out);
    assert_lines_within_capacity(&out);
}

#[test]
fn hierarchical_clearing_reports_what_each_community_level_adds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("h");
    run_ok(&scenario("district-10k.ron"), &out, &["--rule", "hierarchical", "--steps", "60", "--ledger", "off"]);
    let s = summary(&out);
    let levels: Vec<f64> = s["p2p_kwh_by_level"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    // Whole district, feeder, lateral street (from the generated grid's names).
    assert_eq!(levels.len(), 3);
    // Levels count energy matched (sent); p2p_kwh what arrived.
    assert!((levels.iter().sum::<f64>() - s["p2p_kwh"].as_f64().unwrap() - s["p2p_losses_kwh"].as_f64().unwrap()).abs() < 1e-6);
    assert!(levels[2] > levels[1] && levels[2] > 0.0, "streets match most: {levels:?}");
    assert_energy_balance(&out);
    assert_money_balance(&out);
    // Other rules do not clear in levels.
    let plain = tmp.path().join("p");
    run_ok(&scenario("street.ron"), &plain, &["--steps", "60", "--ledger", "off"]);
    assert!(summary(&plain)["p2p_kwh_by_level"].is_null());
}

/// `time` carries the local offset, which changes when daylight saving ends (Sydney, 7 April
/// 2024, 03:00 → 02:00); `time_utc` is one zone throughout and steps evenly across the change.
#[test]
fn time_utc_is_one_zone_across_daylight_saving() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("village");
    run_ok(&scenario("village.ron"), &out, &["--steps", "700", "--ledger", "off", "--output-level", "aggregate"]);
    let ts = Table::read(&out.join("timeseries.csv"));
    let offsets: std::collections::BTreeSet<&str> = ts.rows.iter().map(|r| &r["time"][19..]).collect();
    assert_eq!(offsets.into_iter().collect::<Vec<_>>(), ["+10:00", "+11:00"], "the run crosses the change");
    let utc: Vec<chrono::DateTime<chrono::Utc>> = ts.rows.iter().map(|r| {
        assert!(r["time_utc"].ends_with('Z'), "{}", r["time_utc"]);
        chrono::DateTime::parse_from_rfc3339(&r["time_utc"]).unwrap().with_timezone(&chrono::Utc)
    }).collect();
    assert!(utc.windows(2).all(|w| w[1] - w[0] == chrono::Duration::minutes(15)), "even 15-minute steps in UTC");
    for r in &ts.rows {
        let local = chrono::DateTime::parse_from_rfc3339(&r["time"]).unwrap();
        assert_eq!(local.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string(), r["time_utc"], "the same instant");
    }
}

/// Savings in currency and as a share of the baseline's import cost, whose denominator does not
/// vanish the way the baseline's net bill does (street, seed 44: the baseline's exports nearly
/// pay for its imports, and `savings_pct` is 761.8%).
#[test]
fn savings_headline_in_currency_and_a_share_of_the_baseline_import_cost() {
    let tmp = tempfile::tempdir().unwrap();
    let (run, grid_only) = (tmp.path().join("run"), tmp.path().join("grid-only"));
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--seed", "44", "--out", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    for word in out.split_whitespace().filter(|w| w.contains('%')) {
        let v: f64 = word.trim_matches(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-')).parse().unwrap_or_else(|_| panic!("{word} in {out}"));
        assert!(v.abs() <= 100.0, "no exploding percentage: {word} in {out}");
    }
    let s = summary(&run);
    let (bill, baseline, savings) = (s["community_bill"].as_f64().unwrap(), s["baseline_bill"].as_f64().unwrap(), s["savings"].as_f64().unwrap());
    assert!((savings - (baseline - bill)).abs() < 1e-6);
    assert!(s["savings_pct"].as_f64().unwrap() > 100.0, "the old figure explodes here: {s}");
    assert!(out.contains(&format!("saves AUD {savings:.2}")), "the scenario's currency on the money: {out}");
    // The baseline's import cost is what a separate grid-only run pays the grid.
    run_ok(&scenario("street.ron"), &grid_only, &["--seed", "44", "--rule", "grid-only"]);
    let paid: i64 = Table::read(&grid_only.join("households.csv")).rows.iter().map(|r| micros(&r["grid_paid"])).sum();
    let cost = s["baseline_import_cost"].as_f64().unwrap();
    assert_eq!((cost * 1e6).round() as i64, paid);
    let pct = s["savings_pct_of_baseline_import_cost"].as_f64().unwrap();
    assert!((pct - savings / cost * 100.0).abs() < 1e-9 && pct > 0.0 && pct < 100.0, "{pct}");
    // Trading adds nothing to the grid-only run's own avoided CO₂.
    let g = summary(&grid_only);
    assert!(g["co2_avoided_vs_baseline_kg"].as_f64().unwrap().abs() < 1e-9, "{g}");
    assert!(s["co2_avoided_vs_baseline_kg"].as_f64().unwrap() > 0.0);
    assert!(s["co2_avoided_vs_baseline_kg"].as_f64().unwrap() < s["co2_avoided_kg"].as_f64().unwrap());
}

#[test]
fn an_island_has_no_import_cost_to_share_savings_of() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("island");
    run_ok(&scenario("island.ron"), &out, &["--steps", "192", "--ledger", "off"]);
    let s = summary(&out);
    assert_eq!(s["baseline_import_cost"], 0.0);
    assert!(s["savings_pct_of_baseline_import_cost"].is_null(), "{s}");
}

/// The step bills in timeseries.csv add up, to the micro-unit, to the run's bills.
#[test]
fn step_bills_add_up_to_the_run_bills() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(&scenario("street.ron"), &out, &["--steps", "300"]);
    let ts = Table::read(&out.join("timeseries.csv"));
    let s = summary(&out);
    for (col, field) in [("community_bill", "community_bill"), ("baseline_bill", "baseline_bill")] {
        let sum: i64 = ts.rows.iter().map(|r| micros(&r[col])).sum();
        assert_eq!(sum, (s[field].as_f64().unwrap() * 1e6).round() as i64, "{col}");
    }
}

/// Every trade's `amount` can be recomputed from `trades.csv` alone: round half away from zero
/// of billed kWh × price × 10⁶ micro-units, the price read back exactly from its shortest
/// decimal and the billed kWh set by `loss_bearer` (seller: `kwh`; buyer: `kwh_sent`; shared:
/// `kwh` + `loss_kwh` / 2). For every rule and every loss bearer, on a street with line losses.
#[test]
fn every_trade_amount_is_recomputed_exactly_from_trades_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let round_half_away = |x: f64| if x >= 0.0 { (x + 0.5).floor() } else { (x - 0.5).ceil() } as i64;
    let mut checked = 0;
    for rule in peergrid::market::registry::names() {
        for bearer in ["Seller", "Buyer", "Shared"] {
            let out = tmp.path().join(format!("{rule}-{bearer}"));
            run_ok(&scenario("street.ron"), &out, &["--rule", rule, "--steps", "192", "--set", &format!("market.loss_bearer={bearer}")]);
            for r in &Table::read(&out.join("trades.csv")).rows {
                let (kwh, loss, price): (f64, f64, f64) = (r["kwh"].parse().unwrap(), r["loss_kwh"].parse().unwrap(), r["price"].parse().unwrap());
                let billed = match bearer {
                    "Seller" => kwh,
                    "Buyer" => r["kwh_sent"].parse().unwrap(),
                    _ => kwh + 0.5 * loss,
                };
                let expected = round_half_away(billed * price * 1e6);
                assert_eq!(micros(&r["amount"]), expected, "{rule}, {bearer}: {r:?}");
                checked += 1;
            }
        }
    }
    assert!(checked > 1000, "{checked} trades checked");
}

/// `emission_factor_file`: an hourly series of the grid's emission factor. A constant series
/// gives the flat factor's figures; a varying one weighs each step by its hour's factor.
#[test]
fn an_hourly_emission_factor_series_weighs_each_step() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario("street.ron")).unwrap();
    let write_series = |name: &str, f: &dyn Fn(u32) -> f64| {
        let mut csv = String::from("time,kg_per_kwh\n");
        for h in 0..(8 * 24) {
            let t = chrono::NaiveDate::from_ymd_opt(2024, 1, 14).unwrap().and_hms_opt(0, 0, 0).unwrap() + chrono::Duration::hours(h as i64);
            csv.push_str(&format!("{},{}\n", t.format("%Y-%m-%dT%H:%M"), f(t.format("%H").to_string().parse().unwrap())));
        }
        std::fs::write(tmp.path().join(name), csv).unwrap();
    };
    write_series("flat.csv", &|_| 0.68);
    write_series("daily.csv", &|hour| if (10..16).contains(&hour) { 0.2 } else { 0.9 });
    let with_file = |file: &str| text.replacen("emission_factor_kg_per_kwh: 0.68,", &format!("emission_factor_kg_per_kwh: 0.68, emission_factor_file: \"{file}\","), 1);
    for (name, body) in [("plain.ron", text.clone()), ("flat.ron", with_file("flat.csv")), ("daily.ron", with_file("daily.csv"))] {
        std::fs::write(tmp.path().join(name), body).unwrap();
        run_ok(&tmp.path().join(name), &tmp.path().join(name.replace(".ron", "")), &["--steps", "192"]);
    }
    let (plain, flat, daily) = (summary(&tmp.path().join("plain")), summary(&tmp.path().join("flat")), summary(&tmp.path().join("daily")));
    for key in ["co2_avoided_kg", "co2_avoided_vs_baseline_kg"] {
        let (a, b) = (plain[key].as_f64().unwrap(), flat[key].as_f64().unwrap());
        assert!((a - b).abs() <= 1e-9 * a.abs().max(1.0), "{key}: {a} vs {b}");
    }
    // Recomputed from timeseries.csv with each step's hour.
    let ts = Table::read(&tmp.path().join("daily").join("timeseries.csv"));
    let expected: f64 = ts.rows.iter().map(|r| {
        let hour: u32 = r["time"][11..13].parse().unwrap();
        let f = if (10..16).contains(&hour) { 0.2 } else { 0.9 };
        (Table::f(r, "load_kwh") - Table::f(r, "grid_import_kwh") - Table::f(r, "unserved_kwh")) * f
    }).sum();
    let got = daily["co2_avoided_kg"].as_f64().unwrap();
    assert!((got - expected.max(0.0)).abs() < 1e-6, "{got} vs {expected}");
    assert!((got - flat["co2_avoided_kg"].as_f64().unwrap()).abs() > 1.0, "the series matters");
}
