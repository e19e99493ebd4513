//! `peergrid compare`: runs several rules on identical inputs (same scenario and seed: the same
//! weather, loads and grid) in parallel and tabulates their KPIs (`output::compare`), optionally
//! over several seeds with 95% confidence intervals.

use crate::market::registry::RuleInfo;
use super::driver::{run_kpis, RunError};
use crate::output::compare::{kpi_index, over_seeds, write_compare_files, Table};
use crate::scenario::{FieldSet, Overrides, Scenario};
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// One rule on one seed.
#[derive(Debug, Clone)]
pub struct RunKpis {
    pub rule: &'static str,
    pub seed: u64,
    pub values: Vec<Option<f64>>,
}

/// Runs one rule on one seed (no files, no ledger) and returns its KPIs.
pub fn run_one(path: &Path, rule: &'static RuleInfo, seed: u64, steps: Option<u64>, sets: &[FieldSet]) -> Result<RunKpis, RunError> {
    let overrides = Overrides { rule: Some(rule.name.to_string()), seed: Some(seed), steps, sets: sets.to_vec(), ..Default::default() };
    Ok(RunKpis { rule: rule.name, seed, values: run_kpis(path, overrides)? })
}

/// What `compare` needs.
pub struct CompareOptions {
    pub scenario: PathBuf,
    pub rules: Vec<&'static RuleInfo>,
    pub seeds: u32,
    pub steps: Option<u64>,
    /// `--set` changes applied to every run.
    pub sets: Vec<FieldSet>,
    pub out_dir: PathBuf,
    pub force: bool,
    pub threads: usize,
    /// `--format`, instead of the scenario's: `compare.parquet` too unless `Csv`.
    pub format: Option<crate::scenario::TableFormat>,
}

/// Runs the comparison and writes `DIR/compare.csv` atomically. Returns the table.
pub fn compare(opts: &CompareOptions) -> Result<Table, RunError> {
    if opts.out_dir.exists() && !opts.force {
        return Err(RunError::OutputExists(opts.out_dir.clone()));
    }
    let base = Scenario::load(&opts.scenario, &Overrides { steps: opts.steps, sets: opts.sets.clone(), ..Default::default() }).map_err(RunError::Input)?;
    if !base.rule_switches.is_empty() {
        let message = "has SwitchRule events: compare runs each rule over the whole run (remove them to compare)";
        return Err(RunError::Input(crate::base::error::InputErrors(vec![crate::base::error::InputError::field(&opts.scenario, "events", message)])));
    }
    let staging = crate::app::driver::claim_output(&opts.out_dir, opts.force)?;
    let jobs: Vec<(&'static RuleInfo, u64)> = opts.rules.iter().flat_map(|r| (0..opts.seeds as u64).map(move |k| (*r, base.seed + k))).collect();
    let pool = crate::base::exec::pool(opts.threads).map_err(RunError::Failed)?;
    let results: Vec<Result<RunKpis, RunError>> = pool.install(|| jobs.par_iter().map(|(r, seed)| run_one(&opts.scenario, r, *seed, opts.steps, &opts.sets)).collect());
    let results: Vec<RunKpis> = results.into_iter().collect::<Result<_, _>>()?;
    let table: Table = opts
        .rules
        .iter()
        .map(|r| {
            let mine: Vec<&[Option<f64>]> = results.iter().filter(|k| k.rule == r.name).map(|k| k.values.as_slice()).collect();
            (r.name, opts.seeds, over_seeds(&mine))
        })
        .collect();
    let parquet = opts.format.unwrap_or(base.format).parquet();
    write_compare_files(staging.path(), &base.name, base.currency.as_deref(), &table, parquet).map_err(RunError::Failed)?;
    crate::app::driver::commit_output(staging)?;
    Ok(table)
}

/// The table printed by `peergrid compare`.
pub fn render(table: &Table) -> String {
    let pick = |cols: &Vec<(Option<f64>, Option<f64>)>, name: &str, scale: f64, digits: usize| {
        let i = kpi_index(name);
        match cols[i] {
            (Some(m), Some(ci)) => format!("{:.*} ±{:.*}", digits, m * scale, digits, ci * scale),
            (Some(m), None) => format!("{:.*}", digits, m * scale),
            _ => "n/a".into(),
        }
    };
    let mut out = format!(
        "{:<16} {:>16} {:>16} {:>11} {:>14} {:>14} {:>12} {:>12} {:>12}\n",
        "rule", "self-suff. %", "saves", "% of import", "P2P kWh", "price mean", "unserved", "gini", "worse off %"
    );
    for (rule, _, cols) in table {
        out.push_str(&format!(
            "{:<16} {:>16} {:>16} {:>11} {:>14} {:>14} {:>12} {:>12} {:>12}\n",
            rule,
            pick(cols, "self_sufficiency", 100.0, 1),
            pick(cols, "savings", 1.0, 2),
            pick(cols, "savings_pct_of_baseline_import_cost", 1.0, 1),
            pick(cols, "p2p_kwh", 1.0, 0),
            pick(cols, "p2p_price_mean", 1.0, 4),
            pick(cols, "unserved_kwh", 1.0, 1),
            pick(cols, "gini_savings", 1.0, 3),
            pick(cols, "share_worse_off", 100.0, 1),
        ));
    }
    out
}
