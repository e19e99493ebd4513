//! What every command shares: running a simulation to the end (stopping cleanly on Ctrl-C),
//! and the error a command ends with.

use crate::base::error::InputErrors;
use crate::market::registry::RuleInfo;
use crate::output::compare::kpi_row;
use crate::output::summary::summarise;
use crate::scenario::{Overrides, Scenario};
use crate::sim::{SimConfig, SimOutcome, Simulation};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Set by the Ctrl-C handler; runs stop at the next step and clean up.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Input(#[from] InputErrors),
    #[error("{0} already exists; pass --force to replace it, or choose another --out")]
    OutputExists(PathBuf),
    #[error("interrupted; no results were written")]
    Interrupted,
    /// Another live run is writing the same output folder.
    #[error("{0}")]
    Busy(String),
    #[error("{0}")]
    Failed(String),
}

/// Claims `out_dir` and creates its staging folder: another run writing it now is [`RunError::Busy`],
/// and an existing folder without `force` is [`RunError::OutputExists`] (both checked under the
/// claim, so of two runs into one folder exactly one writes it).
pub fn claim_output(out_dir: &std::path::Path, force: bool) -> Result<crate::output::staging::Staging, RunError> {
    // `x/.` has a file name (`x`) but names the folder `x` itself from inside.
    let last = out_dir.as_os_str().to_string_lossy().trim_end_matches('/').rsplit('/').next().unwrap_or("").to_string();
    if out_dir.file_name().is_none() || last == "." || last == ".." {
        let message = "names no folder to write (`.`, `..` or `/`): choose a folder such as out/results";
        return Err(RunError::Input(InputErrors(vec![crate::base::error::InputError::file(out_dir, message)])));
    }
    if out_dir.exists() && !out_dir.is_dir() {
        let message = "is a file, not a folder: a command writes a folder of files (choose another --out)";
        return Err(RunError::Input(InputErrors(vec![crate::base::error::InputError::file(out_dir, message)])));
    }
    let staging = crate::output::staging::Staging::create(out_dir).map_err(|e| {
        if crate::output::staging::busy(&e) { RunError::Busy(e.to_string()) } else { RunError::Failed(format!("cannot create the output folder: {e}")) }
    })?;
    if out_dir.exists() && !force {
        return Err(RunError::OutputExists(out_dir.to_path_buf()));
    }
    Ok(staging)
}

/// Moves a command's finished results into place, unless a signal came while they were written
/// (then the staging folder goes and nothing is moved).
pub fn commit_output(staging: crate::output::staging::Staging) -> Result<PathBuf, RunError> {
    if INTERRUPTED.load(Ordering::SeqCst) {
        return Err(RunError::Interrupted);
    }
    staging.commit().map_err(|e| RunError::Failed(format!("moving results into place: {e}")))
}

/// A simulation config without a ledger.
pub fn config(scenario: &Arc<Scenario>, rule: &'static RuleInfo, params: BTreeMap<String, f64>) -> SimConfig {
    SimConfig { scenario: scenario.clone(), rule, rule_params: params, ledger: None }
}

/// Runs a simulation to the end. `on_step` is called after every step (progress); returns
/// `Err(Interrupted)` if Ctrl-C was pressed.
pub fn simulate(sim: &mut Simulation, mut on_step: impl FnMut(u64)) -> Result<SimOutcome, RunError> {
    while !sim.is_finished() {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        sim.step();
        if let Some(e) = sim.failure() {
            return Err(RunError::Failed(e));
        }
        on_step(sim.steps_done());
    }
    sim.outcome().map_err(RunError::Failed)
}

/// Runs a scenario with overrides (no files, no ledger) and returns its KPIs (`output::compare::KPIS`).
pub fn run_kpis(path: &Path, overrides: Overrides) -> Result<Vec<Option<f64>>, RunError> {
    let overrides = Overrides { ledger: Some(crate::scenario::LedgerMode::Off), ..overrides };
    let s = Arc::new(Scenario::load(path, &overrides)?);
    let started = Instant::now();
    let out = simulate(&mut Simulation::new(config(&s, s.rule, s.rule_params.clone())), |_| {})?;
    let summary = summarise(&s, &out, started.elapsed().as_secs_f64());
    let savings: Vec<f64> = out.households.iter().map(|h| (h.baseline.wallet.bill() - h.wallet.bill()).as_units()).collect();
    Ok(kpi_row(&summary, &savings))
}
