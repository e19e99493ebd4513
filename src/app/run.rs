//! `peergrid run`: simulates the scenario with its rule (and, in the same pass, the grid-only
//! baseline of every household), then writes the results atomically.

use super::driver::{claim_output, commit_output, config, simulate, RunError};
use crate::base::error::InputErrors;
use crate::ledger::Ledger;
use crate::output::recorder::{self, Recorder};
use crate::output::summary::{summarise, Summary};
use crate::scenario::Scenario;
use crate::sim::{SimConfig, SimOutcome, Simulation};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs longer than this show a progress bar (on a terminal).
pub const PROGRESS_DELAY: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub out_dir: PathBuf,
    pub force: bool,
    pub threads: usize,
    pub progress: bool,
    /// Also write `trace-step-N.json` for this step (0-based).
    pub trace_step: Option<u64>,
    /// Sign the ledger with a keystore's keys instead of seed-derived ones.
    pub keys: Option<Arc<crate::ledger::keys::Keystore>>,
    /// Bidding strategies supplied from outside (the Python package's), built for the run.
    pub bidding: Option<crate::market::external::StrategyFactory>,
    /// Also write `replay.html` (the scenario must have its household series on).
    pub replay: bool,
}

fn failed(context: &str) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Failed(format!("{context}: {e}"))
}

/// Runs the scenario and its baseline and writes the output folder. Returns the summary.
pub fn run(scenario: Arc<Scenario>, opts: &RunOptions) -> Result<Summary, RunError> {
    if let Some(step) = opts.trace_step.filter(|&n| n >= scenario.frame.total_steps) {
        let message = format!("--trace-step {step}: the run has {} steps (0 to {})", scenario.frame.total_steps, scenario.frame.total_steps.saturating_sub(1));
        return Err(RunError::Input(InputErrors(vec![crate::base::error::InputError::file(&scenario.file, message)])));
    }
    let started = Instant::now();
    let staging = claim_output(&opts.out_dir, opts.force)?;
    let record = recorder::RecordOptions {
        trades: scenario.output == crate::scenario::OutputLevel::Full,
        household_series: scenario.household_series,
        line_series: scenario.line_series,
        format: scenario.format,
        vehicle_columns: scenario.households.iter().any(|h| h.ev.is_some()),
        heat_pump_columns: scenario.households.iter().any(|h| h.heat_pump.is_some()),
    };
    let ids: Vec<String> = scenario.households.iter().map(|h| h.id.clone()).collect();
    let line_ids: Vec<String> = scenario.topology.graph.edge_weights().map(|l| l.id.clone()).collect();
    let recorder = Recorder::create(staging.path(), record, &ids, &line_ids, scenario.currency.as_deref()).map_err(failed("cannot create output files"))?;
    let ledger = match &scenario.ledger {
        Some(cfg) => {
            let jsonl = crate::output::ledger_file(staging.path(), cfg).map_err(failed("cannot create ledger.jsonl"))?;
            let mut setup = scenario.ledger_setup();
            if let Some(store) = &opts.keys {
                setup.keys = crate::ledger::keys::KeySource::Store(store.clone());
            }
            Some(Ledger::new(cfg.clone(), &setup, jsonl, crate::base::exec::Sealer::Pool))
        }
        None => None,
    };

    let bar = indicatif::ProgressBar::with_draw_target(Some(scenario.frame.total_steps), indicatif::ProgressDrawTarget::hidden());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} [{bar:40}] {pos}/{len} steps, {per_sec}, eta {eta}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(scenario.name.clone());
    let show_bar = opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let mut bar_shown = false;
    let on_step = |done: u64| {
        if show_bar && !bar_shown && started.elapsed() > PROGRESS_DELAY {
            bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            bar_shown = true;
        }
        if bar_shown && done % 16 == 0 {
            bar.set_position(done);
        }
    };
    let trace_dir = staging.path().to_path_buf();
    // Each simulation is built on the thread that runs it (a Bevy App is not Send).
    let main_job = || -> Result<SimOutcome, RunError> {
        let mut sim = Simulation::new(SimConfig { ledger, ..config(&scenario, scenario.rule, scenario.rule_params.clone()) });
        recorder::attach(&mut sim.app, recorder);
        if let Some(factory) = &opts.bidding {
            sim.world_mut().insert_resource(crate::market::external::BidOverrides::with((factory.0)()));
        }
        if let Some(step) = opts.trace_step {
            sim.world_mut().insert_resource(crate::output::grid_export::TraceRequest { step, dir: trace_dir.clone(), written: false, error: None });
            sim.app.add_plugins(crate::output::grid_export::TracePlugin);
        }
        let out = simulate(&mut sim, on_step)?;
        if let Some(rec) = recorder::detach(sim.world_mut()) {
            rec.finish().map_err(|e| RunError::Failed(format!("writing results: {e}")))?;
        }
        if let Some(trace) = sim.world_mut().remove_resource::<crate::output::grid_export::TraceRequest>() {
            if let Some(e) = trace.error {
                return Err(RunError::Failed(e));
            }
        }
        Ok(out)
    };
    // The step's systems run in order on this pool's threads, splitting work that is independent
    // (a radial grid's feeders) over `--threads`; the ledger's blocks are sealed by jobs on the
    // same pool, in the time the step leaves its threads free.
    let pool = crate::base::exec::pool(opts.threads).map_err(RunError::Failed)?;
    let main_out = pool.install(main_job);
    bar.finish_and_clear();
    let main_out = main_out?;

    let runtime_s = started.elapsed().as_secs_f64();
    let summary = summarise(&scenario, &main_out, runtime_s);
    crate::output::write_run_files(staging.path(), &scenario, &main_out, &summary).map_err(RunError::Failed)?;
    if opts.replay {
        crate::output::replay::write_replay(staging.path()).map_err(|e| RunError::Failed(format!("writing replay.html: {e}")))?;
    }
    commit_output(staging)?;
    Ok(summary)
}

