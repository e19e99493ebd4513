//! Helpers for tests: build a small simulation from a scenario string, step it, inspect it.
//!
//! ```
//! use peergrid::testing;
//! let mut sim = testing::simulation(testing::STREET);
//! sim.step();
//! assert_eq!(sim.steps_done(), 1);
//! ```

use crate::market::registry;
use crate::app::run::config;
use crate::scenario::{Overrides, Scenario};
use crate::sim::Simulation;
use std::path::Path;
use std::sync::Arc;

/// A small grid-connected street: 6 houses (PV on most, two batteries), 2 days, 30-min steps.
pub const STREET: &str = r#"(
    name: "test-street",
    seed: 7,
    start: "2024-01-15T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 30,
    duration_days: 2,
    location: (latitude_deg: -33.87, longitude_deg: 151.21),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.06),
    households: [
        House(id: "a", pv: (kwp: 6.0), load: Archetype(kind: Retired), battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0)),
        House(id: "b", load: Archetype(kind: Family)),
        Group(prefix: "g", count: 4, kwp: Uniform(min: 2.0, max: 7.0), pv_share: 0.75, battery_share: 0.25,
              battery: (capacity_kwh: 5.0, max_charge_kw: 3.0, max_discharge_kw: 3.0)),
    ],
    topology: Generated(layout: Street),
)"#;

/// An island: 5 houses, batteries, no grid; 1 day of hourly steps.
pub const ISLAND: &str = r#"(
    name: "test-island",
    seed: 3,
    start: "2024-03-01T00:00",
    step_minutes: 60,
    duration_days: 1,
    location: (latitude_deg: 10.0, longitude_deg: 0.0),
    grid: Islanded(value_of_lost_load_per_kwh: 2.0, surplus_floor_per_kwh: 0.0),
    weather: ClearSky,
    households: [
        Group(prefix: "i", count: 5, kwp: Fixed(4.0), battery_share: 0.6,
              battery: (capacity_kwh: 8.0, max_charge_kw: 3.0, max_discharge_kw: 3.0, initial_soc: 0.9)),
    ],
)"#;

/// Parses and validates a scenario string (profile paths relative to the current folder).
/// Panics with the validation errors: for tests only.
pub fn scenario(ron: &str) -> Scenario {
    scenario_with(ron, &Overrides::default())
}

pub fn scenario_with(ron: &str, overrides: &Overrides) -> Scenario {
    Scenario::from_str(ron, Path::new("test.ron"), overrides).unwrap_or_else(|e| panic!("test scenario is invalid:\n{e}"))
}

/// A simulation of a scenario string with its own rule.
pub fn simulation(ron: &str) -> Simulation {
    let s = Arc::new(scenario(ron));
    Simulation::new(config(&s, s.rule, s.rule_params.clone()))
}

/// A simulation of a scenario string with another rule (default parameters).
pub fn simulation_with_rule(ron: &str, rule: &str) -> Simulation {
    let s = Arc::new(scenario(ron));
    let r = registry::find(rule).unwrap_or_else(|| panic!("no rule {rule}"));
    Simulation::new(config(&s, r, registry::default_params(r)))
}

/// A simulation of a scenario string with its ledger (writing `ledger.jsonl` into `dir`, if any).
pub fn simulation_with_ledger(ron: &str, dir: Option<&Path>) -> Simulation {
    let s = Arc::new(scenario(ron));
    let cfg = s.ledger.clone().expect("the scenario has its ledger on");
    let ledger = crate::ledger::Ledger::new(cfg, &s, dir).expect("ledger starts");
    Simulation::new(crate::sim::SimConfig { ledger: Some(ledger), ..config(&s, s.rule, s.rule_params.clone()) })
}

/// Runs a scenario string through `peergrid run` into `dir` (which must not exist).
pub fn run_into(ron: &str, dir: &Path) -> crate::app::run::Summary {
    let s = Arc::new(scenario(ron));
    let opts = crate::app::run::RunOptions { out_dir: dir.to_path_buf(), force: false, threads: 2, progress: false, trace_step: None };
    crate::app::run::run(s, &opts).unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// Runs a simulation to its end.
pub fn run_to_end(sim: &mut Simulation) {
    while !sim.is_finished() {
        sim.step();
    }
}
