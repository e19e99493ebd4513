//! Heat pumps and hot water: buildings heated on their weather, tanks drawn on by the Ecodesign
//! profiles, their electricity part of the load and of every balance.

mod common;

use common::*;

/// Twelve houses in Amsterdam in a January week: half with panels, some batteries, half heating
/// with a heat pump that also heats their tank, the rest with an electric tank; some cars.
const STREET: &str = r#"(
    name: "heating",
    seed: 9,
    start: "2024-01-15T00:00",
    timezone: "Europe/Amsterdam",
    step_minutes: 15,
    duration_days: 7,
    currency: "EUR",
    location: (latitude_deg: 52.37, longitude_deg: 4.9),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05,
        time_of_use: [(from_hour: 23, to_hour: 7, import_price_per_kwh: 0.20)]),
    households: [
        Group(prefix: "hp", count: 6, kwp: Fixed(8.0), pv_share: 0.5, tilt_deg: 35,
              battery_share: 0.25, battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0),
              heat_pump: (control: CONTROL, building: (insulation: INSULATION)),
              hot_water: (heater: HeatPump),
              ev: (battery_kwh: 60, charger_kw: 7.0, policy: Market), ev_share: 0.5),
        Group(prefix: "el", count: 6, kwp: Fixed(6.0), pv_share: 0.5, tilt_deg: 35,
              hot_water: (profile: L, volume_l: 250, control: SolarAware)),
    ],
    market: (rule: "RULE"),
)"#;

fn text(control: &str, insulation: &str, rule: &str) -> String {
    STREET.replace("CONTROL", control).replace("INSULATION", insulation).replace("RULE", rule)
}

/// Checks every step's energy balance with every device and returns the summary.
fn balanced(dir: &std::path::Path) -> serde_json::Value {
    let ts = Table::read(&dir.join("timeseries.csv"));
    for r in &ts.rows {
        let f = |c| Table::f(r, c);
        assert_step_balanced(r);
        assert!(f("load_kwh") + 1e-9 >= f("ev_kwh") + f("heat_pump_kwh") + f("hot_water_kwh"));
        let indoor = f("mean_indoor_temp_c");
        assert!((15.0..30.0).contains(&indoor), "step {}: {indoor} °C", r["step"]);
    }
    let s = summary(dir);
    assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
    // The households' sums are the run's.
    let hh = Table::read(&dir.join("households.csv"));
    for (col, key) in [("heat_pump_kwh", "heat_pump_kwh"), ("hot_water_kwh", "hot_water_kwh")] {
        let per_house: f64 = hh.rows.iter().map(|r| Table::f(r, col)).sum();
        let ts_sum: f64 = ts.rows.iter().map(|r| Table::f(r, col)).sum();
        assert!((per_house - s[key].as_f64().unwrap()).abs() < 1e-6 && (ts_sum - per_house).abs() < 1e-6, "{col}");
    }
    s
}

#[test]
fn heat_pumps_keep_houses_warm_and_every_balance_closes() {
    for (control, insulation) in [("Thermostat", "Modern"), ("SolarAware", "Unrenovated")] {
        let (_t, out) = run_text(&text(control, insulation, "double-auction"));
        let s = balanced(&out);
        assert_eq!(s["heat_pumps"], 6, "{control}");
        assert_eq!(s["hot_water_tanks"], 12);
        assert_eq!(s["hot_water_cold_draws"], 0, "{control}: default tanks meet every draw");
        assert_eq!(s["comfort_violation_hours"].as_f64().unwrap(), 0.0, "{control}: pumps sized to the design load hold the band");
        // A January week: a modern 120 m² house needs some 1.3 kW of heat on average, an
        // unrenovated one three times that.
        let heat = s["heat_delivered_kwh"].as_f64().unwrap() / 6.0;
        let range = if insulation == "Modern" { 120.0..350.0 } else { 400.0..1000.0 };
        assert!(range.contains(&heat), "{control}: {heat} kWh of heat a house");
        let spf = s["spf"].as_f64().unwrap();
        assert!((2.0..4.0).contains(&spf), "{control}: SPF {spf}");
        let hh = Table::read(&out.join("households.csv"));
        for r in &hh.rows {
            let has_pump = r["household"].starts_with("hp");
            assert_eq!(r["spf"].is_empty(), !has_pump);
            assert_eq!(r["design_heat_load_kw"].is_empty(), !has_pump);
            if has_pump {
                assert!(Table::f(r, "min_indoor_temp_c") >= 19.0 - 0.05);
            }
        }
    }
}

#[test]
fn the_baseline_heats_the_same_houses() {
    // Under grid-only the run and its baseline heat alike (a SolarAware pump's flexible order
    // finds no market): the same bills, to the micro-unit.
    for control in ["Thermostat", "SolarAware"] {
        let (_t, out) = run_text(&text(control, "Modern", "grid-only"));
        let grid_only = Table::read(&out.join("households.csv"));
        for r in &grid_only.rows {
            assert_eq!(micros(&r["bill"]), micros(&r["baseline_bill"]), "{control} {}", r["household"]);
        }
        // With a market, a SolarAware pump buys peers' surplus; the baseline's own copy of it
        // (and of the tank it heats) still heats exactly as the grid-only run does.
        let (_t2, traded) = run_text(&text(control, "Modern", "double-auction"));
        for (a, b) in Table::read(&traded.join("households.csv")).rows.iter().zip(&grid_only.rows) {
            assert_eq!(micros(&a["baseline_bill"]), micros(&b["bill"]), "{control} {}", a["household"]);
        }
    }
}

#[test]
fn solar_aware_pumps_store_heat_in_the_building_and_threads_do_not_change_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut mean_indoor = Vec::new();
    for control in ["Thermostat", "SolarAware"] {
        let path = tmp.path().join(format!("{control}.ron"));
        std::fs::write(&path, text(control, "Modern", "double-auction")).unwrap();
        let (a, b) = (tmp.path().join(format!("{control}-1")), tmp.path().join(format!("{control}-2")));
        run_ok(&path, &a, &["--threads", "1"]);
        run_ok(&path, &b, &["--threads", "2"]);
        for f in ["timeseries.csv", "households.csv"] {
            assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{control} {f}");
        }
        let hh = Table::read(&a.join("households.csv"));
        let pumps: Vec<_> = hh.rows.iter().filter(|r| r["household"].starts_with("hp")).collect();
        mean_indoor.push(pumps.iter().map(|r| Table::f(r, "mean_indoor_temp_c")).sum::<f64>() / pumps.len() as f64);
    }
    // The thermostat holds 20 °C (the sun through the windows lifts it a little at noon);
    // pre-heating on surplus and peers' PV keeps the houses warmer.
    assert!((mean_indoor[0] - 20.0).abs() < 0.1, "{mean_indoor:?}");
    assert!(mean_indoor[1] > mean_indoor[0] + 0.02, "{mean_indoor:?}");
}

#[test]
fn bad_heating_is_named() {
    let base = text("Thermostat", "Modern", "double-auction");
    let at = "households[0].heat_pump";
    rejects_text(&base.replace("control: Thermostat,", "control: Thermostat, cop: Some(Constant(0)),"), &[&format!("{at}.cop"), "out of range"]);
    rejects_text(&base.replace("control: Thermostat,", "control: Thermostat, cop_correction: 0,"), &[&format!("{at}.cop_correction")]);
    rejects_text(&base.replace("step_minutes: 15,", "step_minutes: 1440,"), &["step_minutes", "at most 60"]);
    rejects_text(&base.replace("control: Thermostat,", "control: Thermostat, cop: Some(Quadratic(a: 2.0, b: -0.1, c: 0.0)),"), &[&format!("{at}.cop"), "above 0"]);
    rejects_text(&base.replace("insulation: Modern", "insulation: Modern, comfort_min_c: 23, comfort_max_c: 19"), &[&format!("{at}.building.comfort_min_c"), "not below comfort_max_c"]);
    rejects_text(&base.replace("volume_l: 250", "volume_l: 60"), &["households[1].hot_water.volume_l", "largest draw"]);
    rejects_text(&base.replace("hot_water: (heater: HeatPump),", "hot_water: (heater: HeatPump), heat_pump_share: 2,"), &["households[0].heat_pump_share"]);
    rejects_text(&base.replace("currency: \"EUR\",", "currency: \"EUR\", weather: ClearSky,"), &["weather", "outdoor air temperature"]);
    rejects_text(&base.replace("hot_water: (profile: L, volume_l: 250, control: SolarAware)", "hot_water: (heater: HeatPump)"), &["households[1].hot_water.heater", "group's"]);
    // A single house's tank heated by a heat pump it does not have.
    rejects_text(&base.replace("    ],\n    market", "        House(id: \"x\", load: Archetype(kind: Family), hot_water: (heater: HeatPump)),\n    ],\n    market"), &["households[2].hot_water.heater", "heat_pump"]);
}
