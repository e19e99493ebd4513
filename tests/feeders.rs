//! Imported feeders and the unbalanced flow, through the real binary: a small pandapower file
//! (tests/data/small-feeder.json: an 11/0.4 kV Dyn transformer, four lines, two single-phase
//! loads and a three-phase one, and a switch the model leaves out).

mod common;
use common::*;
use std::path::Path;

fn scenario_text(households: &str, extra: &str) -> String {
    format!(
        r#"(
    name: "feeder", seed: 3, start: "2024-01-15T00:00", timezone: "Europe/London", step_minutes: 30, duration_days: 1,
    location: (latitude_deg: 51.5, longitude_deg: -0.1),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.06),
    households: [{households}],
    topology: Import(file: "small-feeder.json", format: PandapowerJson),
    market: (rule: "double-auction"),
    {extra}
)"#
    )
}

/// A folder with the small feeder and a scenario `s.ron` importing it.
fn folder(households: &str, extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(repo().join("tests/data/small-feeder.json"), tmp.path().join("small-feeder.json")).unwrap();
    std::fs::write(tmp.path().join("s.ron"), scenario_text(households, extra)).unwrap();
    tmp
}

const GROUP: &str = r#"Group(prefix: "h", count: 3, kwp: Fixed(5.0), pv_share: 1.0)"#;

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn loads_become_households_on_their_buses_and_phases() {
    let tmp = folder(GROUP, "");
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("phases: unbalanced three-phase flow; households on a 1, b 1, c 0, three-phase 1"), "{text}");
    assert!(text.contains("transformer: T1 (100 kVA, Dyn"), "{text}");
    assert!(text.contains("warning: 1 `switch` element(s) not modelled, left out: switch[0] (`S1`)"), "{text}");

    let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", "o", "--quiet", "--trace-step", "24"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("`switch`"), "the run says what was left out: {}", stderr(&o));
    let out = tmp.path().join("o");
    let hh = Table::read(&out.join("households.csv"));
    let ids: Vec<&str> = hh.rows.iter().map(|r| r["household"].as_str()).collect();
    assert_eq!(ids, ["house1", "house2", "shop"]);
    let nodes: Vec<&str> = hh.rows.iter().map(|r| r["node"].as_str()).collect();
    assert_eq!(nodes, ["p1", "p3", "p4"]);

    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["phase_model"], "unbalanced");
    let vuf = summary["max_voltage_unbalance_pct"].as_f64().unwrap();
    assert!(vuf > 0.0 && vuf < 20.0, "{vuf}");
    assert!(summary["transformer_max_loading"].as_f64().unwrap() > 0.0);
    assert!(summary["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);

    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("id=\"phase-voltages\"") && report.contains("Voltage by phase"), "the report's phase section");
    let buses = Table::read(&out.join("buses.csv"));
    assert_eq!(buses.rows.len(), 5, "the five low-voltage buses (the 11 kV bus is the supply)");
    assert_eq!(buses.rows[0]["bus"], "lv");
    assert_eq!(buses.rows[0]["kind"], "substation");
    let lines = Table::read(&out.join("lines.csv"));
    for c in ["max_loading_a", "losses_c_kwh", "rating_a"] {
        assert!(lines.headers.iter().any(|h| h == c), "lines.csv has {c}");
    }
    assert_eq!(lines.rows[0]["rating_a"], "200.000");

    // At midday the two single-phase houses export on a and b, the shop draws on all three.
    let trace = json(&out.join("trace-step-24.json"));
    let three = &trace["three_phase"];
    assert_eq!(three["converged"], true);
    let p1 = three["nodes"].as_array().unwrap().iter().find(|n| n["id"] == "p1").unwrap();
    assert_eq!(p1["p_kw"][1], 0.0);
    assert_eq!(p1["p_kw"][2], 0.0);
    assert_eq!(p1["households"], serde_json::json!([1, 0, 0]), "house1 on phase a");
    let l1 = three["lines"].as_array().unwrap().iter().find(|l| l["id"] == "L1").unwrap();
    assert!(l1["r0_ohm"].as_f64().unwrap() > 0.0, "{l1}");

    // export-grid carries the phases, power factors, zero sequence and the transformer.
    let o = peergrid_in(tmp.path(), &["export-grid", "s.ron", "--out", "grid.json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let grid = json(&tmp.path().join("grid.json"));
    assert_eq!(grid["unbalanced"], true);
    assert_eq!(grid["transformer"]["vector_group"], "Dyn");
    assert_eq!(grid["transformer"]["rated_kva"], 100.0);
    let line = &grid["lines"][0];
    assert!(line["r0_ohm"].as_f64().unwrap() > line["r_ohm"].as_f64().unwrap(), "{line}");
    assert_eq!(line["max_i_a"], 200.0);
    let phases: Vec<&str> = grid["households"].as_array().unwrap().iter().map(|h| h["phase"].as_str().unwrap()).collect();
    assert_eq!(phases, ["a", "b", "abc"]);
    assert!(grid["households"][0]["load_tan_phi"].as_f64().is_some());
}

#[test]
fn a_house_named_after_a_load_takes_it_and_groups_take_the_rest() {
    let houses = r#"House(id: "shop", load: Archetype(kind: HomeOffice), phase: A), Group(prefix: "h", count: 2, kwp: Fixed(4.0))"#;
    let tmp = folder(houses, "");
    let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", "o", "--quiet", "--steps", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hh = Table::read(&tmp.path().join("o/households.csv"));
    let pairs: Vec<(&str, &str)> = hh.rows.iter().map(|r| (r["household"].as_str(), r["node"].as_str())).collect();
    assert_eq!(pairs, [("shop", "p4"), ("house1", "p1"), ("house2", "p3")]);
}

#[test]
fn too_many_households_and_loads_left_over_are_named() {
    let tmp = folder(r#"Group(prefix: "h", count: 4, kwp: Fixed(4.0))"#, "");
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("households[0]") && stderr(&o).contains("lower the groups' `count`"), "{}", stderr(&o));

    let tmp = folder(r#"Group(prefix: "h", count: 2, kwp: Fixed(4.0))"#, "");
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("1 load(s) of") && stdout(&o).contains("asymmetric_load[2] `shop`"), "{}", stdout(&o));
}

/// Rewrites one table of the pandapower file with `edit` applied to its DataFrame.
fn edit_table(tmp: &Path, table: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = tmp.join("small-feeder.json");
    let mut doc = json(&path);
    let inner = doc["_object"][table]["_object"].as_str().unwrap().to_string();
    let mut frame: serde_json::Value = serde_json::from_str(&inner).unwrap();
    edit(&mut frame);
    doc["_object"][table]["_object"] = serde_json::Value::String(frame.to_string());
    std::fs::write(&path, doc.to_string()).unwrap();
}

fn column(frame: &serde_json::Value, name: &str) -> usize {
    frame["columns"].as_array().unwrap().iter().position(|c| c == name).unwrap()
}

#[test]
fn bad_elements_are_named_with_file_element_and_field() {
    type Edit = Box<dyn FnOnce(&mut serde_json::Value)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        ("line", Box::new(|f| { let c = column(f, "max_i_ka"); f["data"][0][c] = "x".into(); }), "line[0] (`L1`).max_i_ka`: `\"x\"` is not a finite number"),
        ("line", Box::new(|f| { let c = column(f, "to_bus"); f["data"][1][c] = 42.into(); }), "line[1] (`L2`).to_bus`: bus 42 is not in the bus table"),
        ("line", Box::new(|f| { let c = column(f, "length_km"); f["data"][2][c] = (-1.0).into(); }), "line[2] (`L3`).length_km`: -1: must be > 0"),
        ("trafo", Box::new(|f| { let c = column(f, "vector_group"); f["data"][0][c] = "Yy".into(); }), "trafo[0] (`T1`).vector_group`: `Yy`"),
        ("asymmetric_load", Box::new(|f| { let c = column(f, "p_c_mw"); f["data"][0][c] = 0.001.into(); }), "asymmetric_load[0] (`house1`).p_a_mw`: a load on two phases"),
        ("trafo", Box::new(|f| { let (h, l) = (column(f, "hv_bus"), column(f, "lv_bus")); f["data"][0][l] = f["data"][0][h].clone(); }), "trafo[0] (`T1`).lv_bus`: bus 0 is also its high-voltage bus"),
        ("line", Box::new(|f| { f["index"][1] = 1.5.into(); }), "line.index[1]`: `1.5` is not an integer"),
    ];
    for (table, edit, expected) in cases {
        let tmp = folder(GROUP, "");
        edit_table(tmp.path(), table, edit);
        let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
        assert_eq!(o.status.code(), Some(2), "{table}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains("small-feeder.json") && e.contains(expected), "{table}: expected `{expected}` in {e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    // Not a pandapower file at all, and not JSON.
    for (text, expected) in [("{\"a\": 1}", "not a pandapower network"), ("{oops", "not JSON"), ("", "not JSON")] {
        let tmp = folder(GROUP, "");
        std::fs::write(tmp.path().join("small-feeder.json"), text).unwrap();
        let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains(expected), "{}", stderr(&o));
    }
}

/// A generated street with households on one phase each runs the unbalanced flow; with every
/// household three-phase at unity power factor it stays on the balanced flow (no new fields).
#[test]
fn phases_on_a_generated_street_choose_the_unbalanced_flow() {
    let base = std::fs::read_to_string(scenario("street.ron")).unwrap();
    let unbalanced = base.replace("topology: Generated(", "network: (phases: RoundRobin, load_power_factor: 0.95),\n    topology: Generated(");
    let (_tmp, out) = run_text(&unbalanced.replace("duration_days: 7", "duration_days: 1"));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["phase_model"], "unbalanced");
    assert!(summary["max_voltage_unbalance_pct"].as_f64().unwrap() > 0.0);
    assert!(summary.get("transformer_max_loading").is_none(), "no transformer in a generated street");
    assert!(out.join("buses.csv").exists());

    let (_tmp, out) = run_text(&base.replace("duration_days: 7", "duration_days: 1"));
    let summary = json(&out.join("summary.json"));
    assert!(summary.get("phase_model").is_none());
    assert!(!out.join("buses.csv").exists());
}

/// The file's static generators become the PV of the households on their buses, unless the
/// scenario gives those households PV; one on a bus without a household is named.
#[test]
fn static_generators_become_rooftop_pv() {
    let tmp = folder(r#"Group(prefix: "h", count: 2, kwp: Fixed(5.0), pv_share: 0.0), House(id: "shop", load: Archetype(kind: HomeOffice), pv: (kwp: 9.0))"#, "");
    edit_table(tmp.path(), "sgen", |f| {
        let row = |name: &str, bus: i64, p_mw: f64, sn_mva: Option<f64>| {
            let cols: Vec<String> = f["columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
            let cell = |c: &str| -> serde_json::Value {
                match c {
                    "name" => name.into(),
                    "bus" => bus.into(),
                    "p_mw" => p_mw.into(),
                    "q_mvar" => 0.0.into(),
                    "sn_mva" => sn_mva.map_or(serde_json::Value::Null, Into::into),
                    "scaling" => 1.0.into(),
                    "in_service" => true.into(),
                    "type" => "PV".into(),
                    _ => serde_json::Value::Null,
                }
            };
            serde_json::Value::Array(cols.iter().map(|c| cell(c)).collect())
        };
        f["data"] = serde_json::json!([row("pv1", 2, 0.003, Some(0.0045)), row("pv2", 4, 0.002, None), row("pv3", 3, 0.004, None), row("pv4", 5, 0.004, None)]);
        f["index"] = serde_json::json!([0, 1, 2, 3]);
    });
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("sgen[2] `pv3` (4.000 kW on bus `p2`) is not modelled: no household is on that bus"), "{text}");
    assert!(text.contains("sgen[3] `pv4` on bus `p4` is left out: its households have PV from the scenario"), "{text}");
    assert!(text.contains("sgen[0] `pv1` is on all three phases, its household `house1` on phase a: modelled on the household's"), "{text}");
    let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", "o", "--quiet", "--steps", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hh = Table::read(&tmp.path().join("o/households.csv"));
    let kwp: Vec<(&str, &str)> = hh.rows.iter().map(|r| (r["household"].as_str(), r["kwp"].as_str())).collect();
    assert_eq!(kwp, [("house1", "4.5"), ("house2", "2"), ("shop", "9")], "sn_mva where given, else p_mw");
}

/// The band as planners state it, in phase-to-neutral volts: buses.csv counts the steps below
/// and above it per bus, and the limits hold it.
#[test]
fn a_voltage_band_in_volts_is_counted_per_bus_and_held() {
    let june = |enforce: bool| {
        let text = scenario_text(GROUP, &format!("network: (voltage_band_v: (min: 225.0, max: 236.0), enforce_voltage_limits: {enforce}),")).replace("2024-01-15", "2024-06-15");
        let tmp = tempfile::tempdir().unwrap();
        std::fs::copy(repo().join("tests/data/small-feeder.json"), tmp.path().join("small-feeder.json")).unwrap();
        std::fs::write(tmp.path().join("s.ron"), text).unwrap();
        let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", "o", "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        tmp
    };
    let v_phase = 400.0 / 3f64.sqrt();
    let (low, high) = (225.0 / v_phase, 236.0 / v_phase);
    let free = june(false);
    let s = json(&free.path().join("o/summary.json"));
    assert_eq!(s["voltage_band_min_v"], 225.0);
    assert!((s["voltage_band_max_pu"].as_f64().unwrap() - high).abs() < 1e-12);
    assert!(s["voltage_tolerance_pu"].is_null(), "an asymmetric band has no half-width");
    let buses = Table::read(&free.path().join("o/buses.csv"));
    let mut above = 0.0;
    for r in &buses.rows {
        let (outside, below_steps, above_steps) = (Table::f(r, "steps_outside_band"), Table::f(r, "steps_below_band"), Table::f(r, "steps_above_band"));
        let max_v = ["a", "b", "c"].map(|k| Table::f(r, &format!("max_voltage_{k}_pu"))).into_iter().fold(0.0, f64::max);
        let min_v = ["a", "b", "c"].map(|k| Table::f(r, &format!("min_voltage_{k}_pu"))).into_iter().fold(2.0, f64::min);
        assert_eq!(above_steps > 0.0, max_v > high + 1e-6, "{r:?}");
        assert_eq!(below_steps > 0.0, min_v < low - 1e-6, "{r:?}");
        assert!(outside <= below_steps + above_steps && outside >= below_steps.max(above_steps), "{r:?}");
        above += above_steps;
    }
    assert!(above > 0.0, "the June exports lift the far buses above 236 V");
    // Enforced: exports are curtailed until every phase is back under 236 V.
    let held = june(true);
    let s = json(&held.path().join("o/summary.json"));
    assert!(s["voltage_limited_steps"].as_u64().unwrap() > 0);
    assert!(s["max_voltage_pu"].as_f64().unwrap() <= high + 1e-6 + 1e-7, "{}", s["max_voltage_pu"]);
    assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
    let buses = Table::read(&held.path().join("o/buses.csv"));
    assert!(buses.rows.iter().all(|r| Table::f(r, "steps_above_band") == 0.0));
}

#[test]
fn a_band_in_volts_and_a_tolerance_together_are_refused() {
    let tmp = folder(GROUP, "network: (voltage_band_v: (min: 216.2, max: 253.0), voltage_tolerance: 0.05),");
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("network.voltage_band_v") && stderr(&o).contains("not both"), "{}", stderr(&o));
    let tmp = folder(GROUP, "network: (voltage_band_v: (min: 240.0, max: 253.0)),");
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("network.voltage_band_v.min"), "{}", stderr(&o));
}

/// One house at the end of a long, resistive service line: its midday export lifts its
/// voltage past 253 V, the knee of AS/NZS 4777.2's Australia A volt-watt curve.
fn one_house(inverter: &str) -> String {
    format!(
        r#"(
    name: "one-house", seed: 1, start: "2024-01-10T00:00", timezone: "Australia/Sydney", step_minutes: 30, duration_days: 1,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.06),
    households: [House(id: "h1", node: "house", phase: A, pv: (kwp: 10.0, tilt_deg: 20.0), load: Archetype(kind: Retired){inverter})],
    topology: Explicit(nodes: [(id: "sub", kind: Substation), (id: "house", kind: House, x_m: 800.0)],
        lines: [(from: "sub", to: "house", length_m: 800.0, capacity_kw: 100.0, r_ohm_per_km: 1.2, x_ohm_per_km: 0.1)]),
    network: (enforce_voltage_limits: false),
)"#
    )
}

fn run_in(text: &str, args: &[&str]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.ron"), text).unwrap();
    let mut all = vec!["run", "s.ron", "--out", "o", "--quiet"];
    all.extend_from_slice(args);
    let o = peergrid_in(tmp.path(), &all);
    assert!(o.status.success(), "{}", stderr(&o));
    tmp
}

#[test]
fn volt_watt_curtails_by_the_curves_amount_past_its_knee() {
    let free = run_in(&one_house(""), &["--trace-step", "24"]);
    let vw = run_in(&one_house(", inverter: (volt_watt: AustraliaA)"), &["--trace-step", "24"]);
    let node = |dir: &Path| json(&dir.join("o/trace-step-24.json"))["three_phase"]["nodes"][1].clone();
    let (before, after) = (node(free.path()), node(vw.path()));
    let v_phase = 400.0 / 3f64.sqrt();
    assert!(before["voltage_pu"][0].as_f64().unwrap() * v_phase > 253.0, "the export lifts the house past the knee: {before}");
    let v = after["voltage_pu"][0].as_f64().unwrap() * v_phase;
    let series = Table::read(&vw.path().join("o/timeseries.csv"));
    let pv_kw = Table::f(&series.rows[24], "pv_kwh") / 0.5;
    // Australia A: 100% of the 10 kW rating at 253 V falling to 20% at 260 V.
    let ceiling_kw = 10.0 * (1.0 - 0.8 * ((v - 253.0) / 7.0).clamp(0.0, 1.0));
    let expected = pv_kw - ceiling_kw;
    let curtailed = before["p_kw"][0].as_f64().unwrap() - after["p_kw"][0].as_f64().unwrap();
    assert!(expected > 0.3, "the ceiling bites: {pv_kw} kW of PV under {ceiling_kw} kW at {v} V");
    // Settled to within 0.5% of the rating.
    assert!((curtailed - expected).abs() <= 0.05 + 1e-9, "curtailed {curtailed} kW, the curve asks {expected} kW at {v} V");
    assert!(Table::f(&series.rows[24], "curtailed_kwh") > 0.0);
    let s = json(&vw.path().join("o/summary.json"));
    assert_eq!(s["inverter_unsettled_steps"], 0);
    assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
    let total = s["inverter_curtailed_kwh"].as_f64().unwrap();
    assert!(total > 0.0 && (total - s["curtailed_kwh"].as_f64().unwrap()).abs() < 1e-9, "all the curtailment is the inverter's: {s}");
    let hh = Table::read(&vw.path().join("o/households.csv"));
    assert!((Table::f(&hh.rows[0], "inverter_curtailed_kwh") - total).abs() < 1e-6);
    // Volt-var absorbs reactive power at the same voltages and lowers them.
    let vv = run_in(&one_house(", inverter: (volt_var: AustraliaA)"), &["--trace-step", "24"]);
    let with_q = node(vv.path());
    assert!(with_q["q_kvar"][0].as_f64().unwrap() < -1.0, "{with_q}");
    assert!(with_q["voltage_pu"][0].as_f64().unwrap() < before["voltage_pu"][0].as_f64().unwrap());
    assert!(json(&vv.path().join("o/summary.json"))["inverter_absorbed_kvarh"].as_f64().unwrap() > 0.0);
}

#[test]
fn export_caps_are_never_exceeded_and_the_energy_balances() {
    // A battery offers its stored energy to the market too: with the cap, only the room the
    // PV export leaves below it.
    let text = one_house(", battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0), export_limit_kw: 3.0").replace("r_ohm_per_km: 1.2", "r_ohm_per_km: 0.1");
    let capped = run_in(&text, &[]);
    let series = Table::read(&capped.path().join("o/timeseries.csv"));
    for r in &series.rows {
        let sent = Table::f(r, "grid_export_kwh") + Table::f(r, "p2p_kwh");
        assert!(sent <= 3.0 * 0.5 + 1e-9, "step {}: {sent} kWh", r["step"]);
    }
    let s = json(&capped.path().join("o/summary.json"));
    let limited = s["export_limited_kwh"].as_f64().unwrap();
    assert!(limited > 1.0, "{s}");
    assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
    assert!(s["baseline_export_limited_kwh"].as_f64().unwrap() > 0.0);
    let hh = Table::read(&capped.path().join("o/households.csv"));
    assert!((Table::f(&hh.rows[0], "export_limited_kwh") - limited).abs() < 1e-6);
    // Valued at the export tariff (0.06 a kWh), rounded once a step.
    let value = Table::f(&hh.rows[0], "export_limited_value");
    assert!((value - 0.06 * limited).abs() < 1e-4, "{value} for {limited} kWh");
}

/// A folder with validation/opendss/lv-transformer (an OpenDSS feeder over four files) and a
/// scenario importing it.
fn dss_folder(edit: impl Fn(&Path)) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    let src = repo().join("validation/opendss/lv-transformer");
    let dst = tmp.path().join("feeder");
    std::fs::create_dir_all(dst.join("network")).unwrap();
    for f in ["Master.dss", "network/codes.dss", "network/lines.dss", "network/loads.dss", "network/coords.txt"] {
        std::fs::copy(src.join(f), dst.join(f)).unwrap();
    }
    edit(&dst);
    let text = scenario_text(r#"Group(prefix: "h", count: 8, kwp: Fixed(4.0), pv_share: 0.5)"#, "").replace(r#"Import(file: "small-feeder.json", format: PandapowerJson)"#, r#"Import(file: "feeder/Master.dss", format: OpenDss)"#);
    std::fs::write(tmp.path().join("s.ron"), text).unwrap();
    tmp
}

#[test]
fn an_opendss_feeder_imports_with_its_redirects_transformer_and_loads() {
    let tmp = dss_folder(|_| {});
    let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("8 households") && text.contains("topology 8 nodes / 7 lines (radial)"), "{text}");
    assert!(text.contains("households on a 3, b 2, c 2, three-phase 1"), "{text}");
    // 250 kVA, 0.6% + 0.6% and 4.5% on 0.416 kV, plus the 60 MVA source referred through it.
    assert!(text.contains("transformer: TR1 (250 kVA, Dyn"), "{text}");
    let o = peergrid_in(tmp.path(), &["run", "s.ron", "--out", "o", "--quiet", "--steps", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let hh = Table::read(&tmp.path().join("o/households.csv"));
    let ids: Vec<&str> = hh.rows.iter().map(|r| r["household"].as_str()).collect();
    assert_eq!(ids, ["L1", "L2", "L3", "L4", "L5", "L6", "L7", "L8"]);
    let buses = Table::read(&tmp.path().join("o/buses.csv"));
    let a3 = buses.rows.iter().find(|r| r["bus"] == "a3").unwrap();
    assert_eq!((Table::f(a3, "x_m"), Table::f(a3, "y_m")), (380.0, 90.0), "tab-separated coordinates");
    let s = json(&tmp.path().join("o/summary.json"));
    assert_eq!(s["voltage_band_max_pu"], 1.1);
}

#[test]
fn opendss_errors_name_the_file_and_line() {
    let cases: [(&str, &str, &str, &[&str]); 13] = [
        ("network/loads.dss", "kW=5 PF=0.95", "kVA=0 PF=0.95", &["loads.dss:4:1", "loads given by kVA are not read"]),
        ("Master.dss", "bus=LV conn=wye", "bus=LV.1 conn=wye", &["Master.dss:13:1", "three-phase elements are read on nodes 1.2.3"]),
        ("Master.dss", "basekv=11 pu=1.02", "basekv=1e-300 pu=1.02", &["Master.dss:6:1", "`basekv`: 1e-300 must be between 0.1 and 1000"]),
        ("network/lines.dss", "Linecode=4c_70 Length=90", "Linecode=4c_7 Length=90", &["lines.dss:5:1", "line code `4c_7` was not defined before"]),
        ("network/codes.dss", "R1=0.446", "R1=abc", &["codes.dss:3:1", "`r1`: `abc` is not a number"]),
        ("network/codes.dss", "normamps=80", "normamps=-80", &["codes.dss:4:1", "`normamps`: -80 must be above 0"]),
        ("network/loads.dss", "Bus1=A1.3 kV=0.24", "Bus1=A1.3 kVolts=0.24", &["loads.dss:3:1", "Load has no property `kvolts`"]),
        ("network/loads.dss", "kW=6 PF=0.95", "kW=6 PF=0", &["loads.dss:1:1", "`pf=0`"]),
        ("network/loads.dss", "New Load.L1", "Redirect ../Master.dss\nNew Load.L1", &["loads.dss:1:1", "already being read (a loop)"]),
        ("network/lines.dss", "// The main cable", "/* The main cable", &["lines.dss:1:1", "never closed"]),
        ("network/lines.dss", "Linecode=2c_16 Length=25", "Linecode=2c_16 R1=9 Length=25", &["lines.dss:9:1", "either a LineCode or the line's own"]),
        ("Master.dss", "Redirect network/loads.dss", "Redirect network/loads.dss\nOpen Line.SvcA 1", &["Master.dss:16:1", "switching elements in or out is not read"]),
        ("network/lines.dss", "Bus1=C1 Bus2=C2", "Bus1=Z1 Bus2=Z2", &["bus `z1` is not connected to the supply"]),
    ];
    for (file, from, to, expect) in cases {
        let tmp = dss_folder(|dir| {
            let p = dir.join(file);
            let text = std::fs::read_to_string(&p).unwrap();
            assert!(text.contains(from), "{file}: {from}");
            std::fs::write(&p, text.replacen(from, to, 1)).unwrap();
        });
        let o = peergrid_in(tmp.path(), &["check", "s.ron"]);
        assert_eq!(o.status.code(), Some(2), "{file}: {}", stderr(&o));
        for e in expect {
            assert!(stderr(&o).contains(e), "{file}: expected `{e}` in {}", stderr(&o));
        }
    }
}

#[test]
fn a_dynamic_export_limit_holds_the_voltage_from_its_floor_up() {
    // The house's midday export lifts it to 1.114 pu; the band's top is 1.1.
    let text = one_house("").replace("network: (enforce_voltage_limits: false)", "network: (enforce_voltage_limits: false, dynamic_export_limit: ())");
    let dynamic = run_in(&text, &[]);
    let s = json(&dynamic.path().join("o/summary.json"));
    assert!(s["max_voltage_pu"].as_f64().unwrap() <= 1.1 + 1e-6 + 1e-7, "{s}");
    let (mean, low) = (s["dynamic_export_limit_mean_kw"].as_f64().unwrap(), s["dynamic_export_limit_min_kw"].as_f64().unwrap());
    assert!((1.5..10.0).contains(&low) && mean > low && mean <= 10.0, "{mean} {low}");
    assert!(s["dynamic_export_limited_steps"].as_u64().unwrap() > 0);
    assert!(s["export_limited_kwh"].as_f64().unwrap() > 0.0);
    assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
    // A floor above what the feeder takes holds anyway: the limit never goes below it.
    let floor = run_in(&text.replace("dynamic_export_limit: ()", "dynamic_export_limit: (min_kw: 7.0)"), &[]);
    let f = json(&floor.path().join("o/summary.json"));
    assert_eq!(f["dynamic_export_limit_min_kw"], 7.0);
    assert!(f["max_voltage_pu"].as_f64().unwrap() > 1.1, "{f}");
    // Without one the summary has no such fields.
    let none = run_in(&one_house(""), &[]);
    assert!(json(&none.path().join("o/summary.json"))["dynamic_export_limit_mean_kw"].is_null());
}
