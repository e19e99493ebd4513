//! `peergrid compare`: runs several rules on identical inputs (same scenario and seed: the same
//! weather, loads and grid) in parallel and tabulates their KPIs, optionally over several seeds
//! with 95% confidence intervals.
//!
//! Inequality of household savings uses a Gini coefficient normalised by the mean *absolute*
//! saving, G = ΣᵢΣⱼ|xᵢ − xⱼ| / (2n²·mean|x|): equal to the usual Gini when no one loses, still
//! defined (finite, ≥ 0, may exceed 1) when some households save and others lose, and 0 when
//! every household saves the same. It is undefined (empty) only when every saving is 0.

use crate::market::registry::RuleInfo;
use crate::output::compare::{write_compare_csv, Table, KPIS};
use crate::output::staging::Staging;
use crate::app::run::{config, simulate, summarise, RunError, Summary};
use crate::scenario::{Overrides, Scenario};
use crate::sim::Simulation;
use rayon::prelude::*;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

/// Two-sided 95% Student t quantiles for 1..=30 degrees of freedom (then the normal 1.96).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
    2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/// One rule on one seed.
#[derive(Debug, Clone)]
pub struct RunKpis {
    pub rule: &'static str,
    pub seed: u64,
    pub values: Vec<Option<f64>>,
}

/// Gini of savings normalised by the mean absolute saving (see the module docs).
pub fn gini(savings: &[f64]) -> Option<f64> {
    let n = savings.len() as f64;
    let mean_abs = savings.iter().map(|x| x.abs()).sum::<f64>() / n;
    if savings.is_empty() || mean_abs == 0.0 {
        return None;
    }
    let mut x = savings.to_vec();
    x.sort_by(f64::total_cmp);
    // Σᵢ Σⱼ |xᵢ − xⱼ| = 2 Σᵢ (2i − n + 1)·x₍ᵢ₎ over the sorted values (0-based i).
    let pairs: f64 = x.iter().enumerate().map(|(i, v)| (2.0 * i as f64 - n + 1.0) * v).sum::<f64>() * 2.0;
    Some(pairs / (2.0 * n * n * mean_abs))
}

/// Mean and 95% confidence half-width (Student t) of the present values.
pub fn mean_ci95(values: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return (None, None);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (Some(mean), None);
    }
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = T_975.get(v.len() - 2).copied().unwrap_or(1.96);
    (Some(mean), Some(t * sd / n.sqrt()))
}

fn kpis(s: &Summary, savings: &[f64]) -> Vec<Option<f64>> {
    let worse = savings.iter().filter(|x| **x < 0.0).count() as f64 / savings.len().max(1) as f64;
    let level = |k: usize| s.p2p_kwh_by_level.as_ref().and_then(|l| l.get(k).copied());
    vec![
        s.self_sufficiency,
        s.self_consumption,
        Some(s.p2p_kwh),
        Some(s.community_bill),
        Some(s.baseline_bill),
        s.savings_pct,
        Some(s.unserved_kwh),
        Some(s.baseline_unserved_kwh),
        Some(s.curtailed_kwh),
        Some(s.losses_kwh),
        Some(s.peak_grid_import_kw),
        Some(s.peak_grid_export_kw),
        Some(s.co2_avoided_kg),
        s.p2p_price_mean,
        s.p2p_price_sd,
        Some(s.trades as f64),
        gini(savings),
        Some(worse),
        Some(s.max_line_loading),
        Some(s.congested_steps as f64),
        Some(s.grid_limit_curtailed_kwh),
        Some(s.grid_limit_shed_kwh),
        Some(s.voltage_limited_steps as f64),
        Some(s.p2p_losses_kwh),
        Some(s.network_fees),
        level(0),
        level(1),
        level(2),
    ]
}

/// Runs one rule on one seed (no files, no ledger) and returns its KPIs.
pub fn run_one(path: &Path, rule: &'static RuleInfo, seed: u64, steps: Option<u64>) -> Result<RunKpis, RunError> {
    let overrides = Overrides { rule: Some(rule.name.to_string()), seed: Some(seed), steps, ..Default::default() };
    Ok(RunKpis { rule: rule.name, seed, values: run_kpis(path, overrides)? })
}

/// Runs a scenario with overrides (no files, no ledger) and returns its [`KPIS`].
pub fn run_kpis(path: &Path, overrides: Overrides) -> Result<Vec<Option<f64>>, RunError> {
    let overrides = Overrides { ledger: Some(crate::scenario::LedgerMode::Off), ..overrides };
    let s = Arc::new(Scenario::load(path, &overrides)?);
    let started = Instant::now();
    let out = simulate(&mut Simulation::new(config(&s, s.rule, s.rule_params.clone())), |_| {})?;
    let summary = summarise(&s, &out, started.elapsed().as_secs_f64());
    let savings: Vec<f64> = out.households.iter().map(|h| (h.baseline.wallet.bill() - h.wallet.bill()).as_units()).collect();
    Ok(kpis(&summary, &savings))
}

/// What `compare` needs.
pub struct CompareOptions {
    pub scenario: PathBuf,
    pub rules: Vec<&'static RuleInfo>,
    pub seeds: u32,
    pub steps: Option<u64>,
    pub out_dir: PathBuf,
    pub force: bool,
    pub threads: usize,
}

/// Runs the comparison and writes `DIR/compare.csv` atomically. Returns the table.
pub fn compare(opts: &CompareOptions) -> Result<Table, RunError> {
    if opts.out_dir.exists() && !opts.force {
        return Err(RunError::OutputExists(opts.out_dir.clone()));
    }
    let base = Scenario::load(&opts.scenario, &Overrides { steps: opts.steps, ..Default::default() }).map_err(RunError::Input)?;
    let jobs: Vec<(&'static RuleInfo, u64)> = opts.rules.iter().flat_map(|r| (0..opts.seeds as u64).map(move |k| (*r, base.seed + k))).collect();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.threads.max(1)).build().map_err(|e| RunError::Failed(e.to_string()))?;
    let results: Vec<Result<RunKpis, RunError>> = pool.install(|| jobs.par_iter().map(|(r, seed)| run_one(&opts.scenario, r, *seed, opts.steps)).collect());
    let results: Vec<RunKpis> = results.into_iter().collect::<Result<_, _>>()?;
    let table: Table = opts
        .rules
        .iter()
        .map(|r| {
            let mine: Vec<&RunKpis> = results.iter().filter(|k| k.rule == r.name).collect();
            let cols = (0..KPIS.len()).map(|c| mean_ci95(&mine.iter().map(|k| k.values[c]).collect::<Vec<_>>())).collect();
            (r.name, opts.seeds, cols)
        })
        .collect();
    let staging = Staging::create(&opts.out_dir).map_err(|e| RunError::Failed(format!("cannot create the output folder: {e}")))?;
    write_compare_csv(&staging.path().join("compare.csv"), &table).map_err(|e| RunError::Failed(format!("writing compare.csv: {e}")))?;
    let html = crate::output::report::compare_html(&base.name, &table).map_err(|e| RunError::Failed(format!("writing report.html: {e}")))?;
    std::fs::write(staging.path().join("report.html"), html).map_err(|e| RunError::Failed(format!("writing report.html: {e}")))?;
    staging.commit().map_err(|e| RunError::Failed(format!("moving results into place: {e}")))?;
    Ok(table)
}

/// The table printed by `peergrid compare`.
pub fn render(table: &Table) -> String {
    let pick = |cols: &Vec<(Option<f64>, Option<f64>)>, name: &str, scale: f64, digits: usize| {
        let i = KPIS.iter().position(|k| *k == name).expect("known KPI");
        match cols[i] {
            (Some(m), Some(ci)) => format!("{:.*} ±{:.*}", digits, m * scale, digits, ci * scale),
            (Some(m), None) => format!("{:.*}", digits, m * scale),
            _ => "n/a".into(),
        }
    };
    let mut out = format!(
        "{:<16} {:>16} {:>16} {:>14} {:>14} {:>12} {:>12} {:>12}\n",
        "rule", "self-suff. %", "savings %", "P2P kWh", "price mean", "unserved", "gini", "worse off %"
    );
    for (rule, _, cols) in table {
        out.push_str(&format!(
            "{:<16} {:>16} {:>16} {:>14} {:>14} {:>12} {:>12} {:>12}\n",
            rule,
            pick(cols, "self_sufficiency", 100.0, 1),
            pick(cols, "savings_pct", 1.0, 1),
            pick(cols, "p2p_kwh", 1.0, 0),
            pick(cols, "p2p_price_mean", 1.0, 4),
            pick(cols, "unserved_kwh", 1.0, 1),
            pick(cols, "gini_savings", 1.0, 3),
            pick(cols, "share_worse_off", 100.0, 1),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_is_classic_for_gains_and_defined_for_losses() {
        assert_eq!(gini(&[1.0, 1.0, 1.0]), Some(0.0));
        // Classic Gini of (0, 0, 0, 4) is 0.75.
        assert!((gini(&[0.0, 0.0, 0.0, 4.0]).unwrap() - 0.75).abs() < 1e-12);
        let mixed = gini(&[-2.0, 1.0, 3.0]).unwrap();
        assert!(mixed.is_finite() && mixed > 0.0);
        assert_eq!(gini(&[0.0, 0.0]), None);
    }

    #[test]
    fn confidence_interval_uses_student_t() {
        let (m, ci) = mean_ci95(&[Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(m, Some(2.0));
        assert!((ci.unwrap() - 4.303 * 1.0 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(mean_ci95(&[Some(5.0)]), (Some(5.0), None));
    }
}
