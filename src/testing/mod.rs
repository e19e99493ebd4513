//! Helpers for tests: build a small simulation from a scenario string, step it, inspect it.
//!
//! ```
//! use peergrid::testing;
//! let mut sim = testing::simulation(testing::STREET);
//! sim.step();
//! assert_eq!(sim.steps_done(), 1);
//! ```

use crate::base::exec::Sealer;
use crate::market::registry;
use crate::app::driver::config;
use crate::scenario::{Overrides, Scenario};
use crate::sim::Simulation;
use std::path::Path;
use std::sync::Arc;

pub use crate::scenario::examples::{ISLAND, STREET};

pub mod fuzz;

/// Parses and validates a scenario string (profile paths relative to the current folder).
/// Panics with the validation errors: for tests only.
pub fn scenario(ron: &str) -> Scenario {
    crate::scenario::examples::parse(ron, &Overrides::default())
}

/// [`scenario`] with command-line overrides.
pub fn scenario_with(ron: &str, overrides: &Overrides) -> Scenario {
    crate::scenario::examples::parse(ron, overrides)
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

/// A simulation of a scenario string with its ledger (writing `ledger.jsonl` into `dir`, if any),
/// sealed inline.
pub fn simulation_with_ledger(ron: &str, dir: Option<&Path>) -> Simulation {
    simulation_with_ledger_sealed(ron, dir, Sealer::Inline)
}

/// [`simulation_with_ledger`] with the ledger's blocks sealed by `sealer`.
pub fn simulation_with_ledger_sealed(ron: &str, dir: Option<&Path>, sealer: Sealer) -> Simulation {
    let s = Arc::new(scenario(ron));
    let cfg = s.ledger.clone().expect("the scenario has its ledger on");
    let jsonl = dir.and_then(|d| crate::output::ledger_file(d, &cfg).expect("ledger.jsonl can be created"));
    let ledger = crate::ledger::Ledger::new(cfg, &s.ledger_setup(), jsonl, sealer);
    Simulation::new(crate::sim::SimConfig { ledger: Some(ledger), ..config(&s, s.rule, s.rule_params.clone()) })
}

/// Runs a scenario string through `peergrid run` into `dir` (which must not exist).
pub fn run_into(ron: &str, dir: &Path) -> crate::output::summary::Summary {
    let s = Arc::new(scenario(ron));
    let opts = crate::app::run::RunOptions { out_dir: dir.to_path_buf(), force: false, threads: 2, progress: false, trace_step: None, keys: None, bidding: None, replay: false };
    crate::app::run::run(s, &opts).unwrap_or_else(|e| panic!("run failed: {e}"))
}

/// Runs a simulation to its end.
pub fn run_to_end(sim: &mut Simulation) {
    while !sim.is_finished() {
        sim.step();
    }
}
