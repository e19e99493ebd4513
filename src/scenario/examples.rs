//! Small example scenarios as strings, for tests and documentation examples.

use super::{Overrides, Scenario};
use std::path::Path;

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
pub fn parse(ron: &str, overrides: &Overrides) -> Scenario {
    Scenario::from_str(ron, Path::new("test.ron"), overrides).unwrap_or_else(|e| panic!("test scenario is invalid:\n{e}"))
}
