//! Electric vehicles: charged at home by their policies, part of the load, never short when
//! they could have charged; the baseline charges them the same way.

mod common;

use common::*;

/// Twelve houses, half with panels and some with batteries, a dishwasher each, every other one
/// with a car; 30-minute steps for two weeks on a time-of-use tariff (dear 17–21, cheap 22–7).
const STREET: &str = r#"(
    name: "vehicles",
    seed: 5,
    start: "2024-01-08T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 30,
    duration_days: 14,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05,
        time_of_use: [(from_hour: 22, to_hour: 7, import_price_per_kwh: 0.15), (from_hour: 17, to_hour: 21, import_price_per_kwh: 0.45)]),
    households: [
        Group(prefix: "h", count: 12, kwp: Fixed(6.0), pv_share: 0.5, tilt_deg: 20,
              battery_share: 0.25, battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0),
              appliances: [(kind: Dishwasher)],
              ev: (battery_kwh: 60, charger_kw: 7.0, policy: POLICY, v2h: V2H), ev_share: 0.5),
    ],
    market: (rule: "RULE"),
)"#;

fn text(policy: &str, v2h: bool, rule: &str) -> String {
    STREET.replace("POLICY", policy).replace("V2H", &v2h.to_string()).replace("RULE", rule)
}

/// Checks every step's energy balance (the meters' and the load's origins) and returns the
/// summary.
fn balanced(dir: &std::path::Path) -> serde_json::Value {
    for r in &Table::read(&dir.join("timeseries.csv")).rows {
        let f = |c| Table::f(r, c);
        assert_step_balanced(r);
        assert!(f("load_kwh") + 1e-12 >= f("ev_kwh") + f("appliance_kwh"));
        assert!(f("ev_plugged") <= 12.0);
    }
    summary(dir)
}

#[test]
fn the_energy_balance_closes_with_every_device() {
    for (policy, v2h) in [("Immediate", false), ("SolarFirst", true), ("PriceAware", true)] {
        let (_t, out) = run_text(&text(policy, v2h, "double-auction"));
        let s = balanced(&out);
        // Each house owns a car with probability one half.
        assert!((3..=9).contains(&s["vehicles"].as_u64().unwrap()), "{policy}");
        assert!(s["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-9);
        // About 5 cars × 14 days × 33 km × 0.17 kWh/km ÷ 0.9 charged at home.
        let ev = s["ev_kwh"].as_f64().unwrap();
        assert!((200.0..800.0).contains(&ev), "{policy}: {ev}");
        assert_eq!(s["ev_short_departures"], 0, "{policy}");
        let hh = Table::read(&out.join("households.csv"));
        let per_house: f64 = hh.rows.iter().map(|r| Table::f(r, "ev_kwh")).sum();
        assert!((per_house - ev).abs() < 1e-6);
        if v2h && policy == "SolarFirst" {
            assert!(s["ev_v2h_kwh"].as_f64().unwrap() > 0.0, "cars filled with PV give some back in the evening");
        }
    }
}

#[test]
fn the_baseline_charges_the_same_cars() {
    // Under grid-only the run and its baseline have the same devices and policies: the same bills.
    for policy in ["SolarFirst", "PriceAware"] {
        let (_t, out) = run_text(&text(policy, true, "grid-only"));
        for r in &Table::read(&out.join("households.csv")).rows {
            assert_eq!(micros(&r["bill"]), micros(&r["baseline_bill"]), "{policy} {}", r["household"]);
        }
    }
}

#[test]
fn smart_charging_costs_less_than_immediate_and_threads_do_not_change_it() {
    let tmp = tempfile::tempdir().unwrap();
    let bills: Vec<f64> = ["Immediate", "PriceAware"]
        .iter()
        .map(|p| {
            let path = tmp.path().join(format!("{p}.ron"));
            std::fs::write(&path, text(p, false, "grid-only")).unwrap();
            let (a, b) = (tmp.path().join(format!("{p}-1")), tmp.path().join(format!("{p}-2")));
            run_ok(&path, &a, &["--threads", "1"]);
            run_ok(&path, &b, &["--threads", "2"]);
            for f in ["timeseries.csv", "households.csv"] {
                assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{p} {f}");
            }
            summary(&a)["community_bill"].as_f64().unwrap()
        })
        .collect();
    assert!(bills[1] < bills[0], "PriceAware {} vs Immediate {}", bills[1], bills[0]);
}

#[test]
fn bad_vehicles_are_named() {
    let base = text("SolarFirst", false, "double-auction");
    let at = "households[0].ev";
    rejects_text(&base.replace("charger_kw: 7.0,", "charger_kw: 7.0, departure_hour: 19, arrival_hour: 8,"), &[&format!("{at}.departure_hour"), "not before arrival_hour"]);
    rejects_text(&base.replace("charger_kw: 7.0,", "charger_kw: 7.0, kwh_per_km: -0.2,"), &[&format!("{at}.kwh_per_km")]);
    rejects_text(&base.replace("charger_kw: 7.0,", "charger_kw: 11.0,"), &[&format!("{at}.charger_kw"), "phases: Three"]);
    rejects_text(&base.replace("ev_share: 0.5", "ev_share: 1.5"), &["households[0].ev_share"]);
    rejects_text(&base.replace("battery_kwh: 60,", "battery_kwh: 60, target_soc: 0,"), &[&format!("{at}.target_soc")]);
}

/// A car at home from 10:00 among six houses with large PV and no batteries, a sunny January
/// week: its flexible orders buy the neighbours' midday surplus.
const NEIGHBOURS: &str = r#"(
    name: "flexible",
    seed: 3,
    start: "2024-01-08T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 30,
    duration_days: 7,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    households: [
        House(id: "car", load: Archetype(kind: Retired),
              ev: (battery_kwh: 60, charger_kw: 7.0, daily_km: 80, departure_hour: 6, arrival_hour: 10,
                   departure_spread_hours: 0, arrival_spread_hours: 0, policy: POLICY)),
        Group(prefix: "pv", count: 6, kwp: Fixed(8.0), tilt_deg: 20),
    ],
    market: (rule: "RULE"),
)"#;

#[test]
fn a_flexible_order_buys_the_neighbours_surplus_and_shifts_what_it_does_not_get() {
    let run = |policy: &str, rule: &str| run_text(&NEIGHBOURS.replace("POLICY", policy).replace("RULE", rule));
    let car = |dir: &std::path::Path| Table::read(&dir.join("households.csv")).rows.into_iter().find(|r| r["household"] == "car").unwrap();
    let (_a, solar) = run("SolarFirst", "double-auction");
    let (_b, market) = run("Market", "double-auction");
    let (s, m) = (car(&solar), car(&market));
    let s_market = balanced(&market);
    assert_eq!(s_market["ev_short_departures"], 0);
    assert!(Table::f(&m, "p2p_bought_kwh") > Table::f(&s, "p2p_bought_kwh") + 20.0, "flexible orders buy from neighbours: {} vs {}", Table::f(&m, "p2p_bought_kwh"), Table::f(&s, "p2p_bought_kwh"));
    assert!(Table::f(&m, "grid_import_kwh") < Table::f(&s, "grid_import_kwh"));
    assert!(micros(&m["bill"]) < micros(&s["bill"]));
    // Both end the run with the car at its target, having charged about the same.
    assert!((Table::f(&m, "ev_kwh") - Table::f(&s, "ev_kwh")).abs() < 1.0);
    // Without a market nothing fills the flexible orders: the run is its own baseline.
    let (_c, alone) = run("Market", "grid-only");
    let a = car(&alone);
    assert_eq!(micros(&a["bill"]), micros(&a["baseline_bill"]));
    assert_eq!(Table::f(&a, "p2p_bought_kwh"), 0.0);
    balanced(&alone);
}

#[test]
fn cars_run_on_steps_of_a_day() {
    // One step a day: the car leaves and comes back at step boundaries, nothing breaks.
    let text = text("SolarFirst", true, "double-auction").replace("step_minutes: 30,", "step_minutes: 1440,").replace("appliances: [(kind: Dishwasher)],", "");
    let (_t, out) = run_text(&text);
    balanced(&out);
}

#[test]
fn line_limits_cut_flexible_orders_before_any_load() {
    // 4 kW service lines: a 7 kW charger's flexible order would overload them.
    let text = NEIGHBOURS.replace("POLICY", "Market").replace("RULE", "double-auction").replace(
        "    market: (rule: \"double-auction\"),",
        "    topology: Generated(layout: Street, spacing_m: 25, feeder_capacity_kw: 200, service_capacity_kw: 4),\n    market: (rule: \"double-auction\"),",
    );
    let (_t, out) = run_text(&text);
    let s = balanced(&out);
    assert_eq!(s["overloaded_steps"], 0, "max loading {}", s["max_line_loading"]);
    assert!(s["max_line_loading"].as_f64().unwrap() <= 1.0 + 1e-9);
    assert!(s["congested_steps"].as_u64().unwrap() > 0, "the limits bind");
    let car = Table::read(&out.join("households.csv")).rows.into_iter().find(|r| r["household"] == "car").unwrap();
    assert!(Table::f(&car, "p2p_bought_kwh") > 60.0, "it still buys from its neighbours within the limits");
}
