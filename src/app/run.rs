//! `peergrid run`: simulates the scenario with its rule (and, in the same pass, the grid-only
//! baseline of every household), then writes the results atomically.

use crate::base::error::InputErrors;
use crate::household::Wallet;
use crate::ledger::Ledger;
use crate::market::registry::RuleInfo;
use crate::metrics::{Recorder, RunTotals};
use crate::base::money::Micros;
use crate::output::staging::{write_file, Staging};
use crate::scenario::{LoadDef, Scenario};
use crate::sim::{HouseholdResult, SimConfig, Simulation};
use crate::base::time::iso_with_offset;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Set by the Ctrl-C handler; runs stop at the next step and clean up.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

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
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("{0}")]
    Input(#[from] InputErrors),
    #[error("{0} already exists; pass --force to replace it, or choose another --out")]
    OutputExists(PathBuf),
    #[error("interrupted; no results were written")]
    Interrupted,
    #[error("{0}")]
    Failed(String),
}

fn failed(context: &str) -> impl Fn(std::io::Error) -> RunError + '_ {
    move |e| RunError::Failed(format!("{context}: {e}"))
}

/// Provenance of a result: what produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub peergrid_version: &'static str,
    pub git_commit: Option<&'static str>,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub overrides: Vec<String>,
}

/// The version of `summary.json`'s layout: a field that changes meaning gets a new version.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// `summary.json`. Field names are a contract: add, never rename.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    pub scenario: String,
    pub description: String,
    pub rule: &'static str,
    pub rule_params: BTreeMap<String, f64>,
    pub seed: u64,
    pub steps: u64,
    /// Which files the run wrote: `full`, or `aggregate` (no `trades.csv` nor `ledger.jsonl`).
    pub output_level: &'static str,
    pub step_minutes: u32,
    pub households: usize,
    pub start: String,
    pub grid_connected: bool,
    pub self_sufficiency: Option<f64>,
    pub self_consumption: Option<f64>,
    pub p2p_kwh: f64,
    pub community_bill: f64,
    pub baseline_bill: f64,
    pub savings_pct: Option<f64>,
    pub unserved_kwh: f64,
    pub baseline_unserved_kwh: f64,
    pub curtailed_kwh: f64,
    pub losses_kwh: f64,
    pub peak_grid_import_kw: f64,
    pub peak_grid_export_kw: f64,
    pub co2_avoided_kg: f64,
    pub pv_kwh: f64,
    pub load_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub battery_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    pub trades: u64,
    pub p2p_price_mean: Option<f64>,
    pub p2p_price_sd: Option<f64>,
    pub max_energy_imbalance_kwh: f64,
    /// Sum of every account's balance (households, grid, operator, fund, pool), micro-units: 0.
    pub money_balance_micros: i64,
    pub runtime_s: f64,
    pub household_steps_per_s: f64,
    /// The ledger's blocks, transactions, missed slots and head hash; `null` when it is off.
    pub ledger: Option<crate::ledger::LedgerSummary>,
    /// Peer energy matched at each community level, whole community first (rules that clear
    /// in levels, e.g. `hierarchical`; `null` otherwise), kWh.
    pub p2p_kwh_by_level: Option<Vec<f64>>,
    /// Highest flow over capacity of any line in any step (1 = at its limit).
    pub max_line_loading: f64,
    /// Steps in which a line limit cut offers (curtailed PV, withdrew battery offers, shed load).
    pub congested_steps: u64,
    /// The same for the grid-only baseline.
    pub baseline_congested_steps: u64,
    /// What the line and voltage limits cost: PV surplus curtailed and load shed for them, kWh.
    pub grid_limit_curtailed_kwh: f64,
    pub grid_limit_shed_kwh: f64,
    /// Steps in which the voltage band cut offers, and node-steps that would have left it.
    pub voltage_limited_steps: u64,
    pub voltage_violations_avoided: u64,
    /// Steps in which a delivered flow exceeded a capacity (0 when limits are enforced).
    pub overloaded_steps: u64,
    /// Lowest and highest node voltage, per unit (radial grids; `null` on meshed grids).
    pub min_voltage_pu: Option<f64>,
    pub max_voltage_pu: Option<f64>,
    pub line_limits_enforced: bool,
    pub voltage_limits_enforced: bool,
    /// Steps whose AC voltage sweep did not settle (radial grids loaded beyond what their
    /// cables carry at any voltage); their losses come from DC flows.
    pub ac_sweep_failed_steps: u64,
    /// Line losses of all flows, and of them those on peer deliveries (sent − delivered), kWh.
    pub network_losses_kwh: f64,
    pub p2p_losses_kwh: f64,
    /// Who paid for peer deliveries' losses: `seller`, `buyer` or `shared`.
    pub loss_bearer: &'static str,
    /// Network fees paid on peer deliveries to the network operator.
    pub network_fees: f64,
    pub provenance: Provenance,
}

/// Fields that change from run to run of the same inputs (excluded from reproducibility checks).
pub const RUNTIME_FIELDS: [&str; 2] = ["runtime_s", "household_steps_per_s"];

/// Results of one simulation, as needed for reports.
pub struct SimOutcome {
    pub totals: RunTotals,
    pub households: Vec<HouseholdResult>,
    pub accounts_total: Micros,
    pub ledger: Option<crate::ledger::LedgerSummary>,
    pub lines: crate::grid::network::LineStats,
    pub levels: Vec<f64>,
}

/// Runs a simulation to the end. `on_step` is called after every step (progress); returns
/// `Err(Interrupted)` if Ctrl-C was pressed.
pub fn simulate(sim: &mut Simulation, mut on_step: impl FnMut(u64)) -> Result<SimOutcome, RunError> {
    while !sim.is_finished() {
        if INTERRUPTED.load(Ordering::Relaxed) {
            return Err(RunError::Interrupted);
        }
        sim.step();
        on_step(sim.steps_done());
    }
    let households = sim.household_results();
    let household_money: i64 = households.iter().map(|h| h.wallet.balance.0).sum();
    let fee_rate = sim.fee_rate_ppm();
    let ledger = match sim.take_ledger() {
        Some(mut l) => Some(l.summary(fee_rate).map_err(RunError::Failed)?),
        None => None,
    };
    let lines = sim.world().resource::<crate::grid::network::LineStats>().clone();
    let levels = sim.world().resource::<crate::metrics::LevelTotals>().0.clone();
    Ok(SimOutcome { totals: sim.run_totals(), accounts_total: Micros(household_money) + sim.accounts().total(), households, ledger, lines, levels })
}

/// A simulation config without a ledger.
pub fn config(scenario: &Arc<Scenario>, rule: &'static RuleInfo, params: BTreeMap<String, f64>) -> SimConfig {
    SimConfig { scenario: scenario.clone(), rule, rule_params: params, ledger: None }
}

/// Runs the scenario and its baseline and writes the output folder. Returns the summary.
pub fn run(scenario: Arc<Scenario>, opts: &RunOptions) -> Result<Summary, RunError> {
    if opts.out_dir.exists() && !opts.force {
        return Err(RunError::OutputExists(opts.out_dir.clone()));
    }
    if let Some(step) = opts.trace_step.filter(|&n| n >= scenario.frame.total_steps) {
        let message = format!("--trace-step {step}: the run has {} steps (0 to {})", scenario.frame.total_steps, scenario.frame.total_steps.saturating_sub(1));
        return Err(RunError::Input(InputErrors(vec![crate::base::error::InputError::file(&scenario.file, message)])));
    }
    let started = Instant::now();
    let staging = Staging::create(&opts.out_dir).map_err(failed("cannot create the output folder"))?;
    let recorder = Recorder::create(staging.path(), scenario.output == crate::scenario::OutputLevel::Full).map_err(failed("cannot create output files"))?;
    let ledger = match &scenario.ledger {
        Some(cfg) => Some(Ledger::new(cfg.clone(), &scenario.ledger_setup(), Some(staging.path()), crate::base::exec::Sealer::Pool).map_err(failed("cannot create ledger.jsonl"))?),
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
        sim.record(recorder);
        if let Some(step) = opts.trace_step {
            sim.world_mut().insert_resource(crate::output::grid_export::TraceRequest { step, dir: trace_dir.clone(), written: false, error: None });
            sim.app.add_plugins(crate::output::grid_export::TracePlugin);
        }
        let out = simulate(&mut sim, on_step)?;
        if let Some(mut rec) = sim.take_recorder() {
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
    let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.threads.max(1)).build().map_err(|e| RunError::Failed(e.to_string()))?;
    let main_out = pool.install(main_job);
    bar.finish_and_clear();
    let main_out = main_out?;

    let runtime_s = started.elapsed().as_secs_f64();
    let summary = summarise(&scenario, &main_out, runtime_s);
    let dir = staging.path();
    write_households(dir, &scenario, &main_out.households).map_err(failed("writing households.csv"))?;
    write_topology(dir, &scenario).map_err(failed("writing topology.json"))?;
    write_lines(dir, &scenario, &main_out.lines).map_err(failed("writing lines.csv"))?;
    let json = serde_json::to_vec_pretty(&summary).map_err(|e| RunError::Failed(e.to_string()))?;
    write_file(dir, "summary.json", &json).map_err(failed("writing summary.json"))?;
    crate::output::report::write_run_report(dir).map_err(|e| RunError::Failed(format!("writing report.html: {e}")))?;
    staging.commit().map_err(failed("moving results into place"))?;
    Ok(summary)
}

fn write_topology(dir: &Path, s: &Scenario) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("topology.json"))?);
    s.topology.write_json(&mut w).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut w)
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

pub fn summarise(s: &Scenario, main: &SimOutcome, runtime_s: f64) -> Summary {
    let t = &main.totals;
    let sum = &t.sum;
    let bill = main.households.iter().fold(Micros::ZERO, |acc, h| acc + h.wallet.bill());
    let baseline_bill = main.households.iter().fold(Micros::ZERO, |acc, h| acc + h.baseline.wallet.bill());
    let baseline_unserved_kwh: f64 = main.households.iter().map(|h| h.baseline.totals.unserved_kwh).sum();
    let price_mean = (t.p2p_price_steps > 0).then(|| t.p2p_price_sum / t.p2p_price_steps as f64);
    let price_sd = price_mean.map(|m| (t.p2p_price_sq_sum / t.p2p_price_steps as f64 - m * m).max(0.0).sqrt());
    let start = {
        let (l, o) = s.frame.zone.local(s.frame.start_utc);
        iso_with_offset(l, o)
    };
    let line_capacity: Vec<f64> = s.topology.graph.edge_weights().map(|l| l.capacity_kw).collect();
    let radial = s.topology.is_radial();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: s.name.clone(),
        description: s.description.clone(),
        rule: s.rule.name,
        rule_params: s.rule_params.clone(),
        seed: s.seed,
        steps: t.steps,
        output_level: s.output.label(),
        step_minutes: s.frame.step_minutes,
        households: s.households.len(),
        start,
        grid_connected: s.grid.is_connected(),
        self_sufficiency: ratio(sum.load_kwh - sum.grid_import_kwh - sum.unserved_kwh, sum.load_kwh),
        self_consumption: ratio(sum.pv_kwh - sum.grid_export_kwh - sum.curtailed_kwh, sum.pv_kwh),
        p2p_kwh: sum.p2p_kwh,
        community_bill: bill.as_units(),
        baseline_bill: baseline_bill.as_units(),
        savings_pct: (baseline_bill.0 != 0).then(|| (baseline_bill.0 - bill.0) as f64 / (baseline_bill.0 as f64).abs() * 100.0),
        unserved_kwh: sum.unserved_kwh,
        baseline_unserved_kwh,
        curtailed_kwh: sum.curtailed_kwh,
        losses_kwh: sum.losses_kwh,
        peak_grid_import_kw: t.peak_grid_import_kw,
        peak_grid_export_kw: t.peak_grid_export_kw,
        co2_avoided_kg: (sum.load_kwh - sum.grid_import_kwh - sum.unserved_kwh).max(0.0) * s.emission_factor_kg_per_kwh,
        pv_kwh: sum.pv_kwh,
        load_kwh: sum.load_kwh,
        grid_import_kwh: sum.grid_import_kwh,
        grid_export_kwh: sum.grid_export_kwh,
        battery_charge_kwh: sum.battery_charge_kwh,
        battery_discharge_kwh: sum.battery_discharge_kwh,
        trades: sum.trades,
        p2p_price_mean: price_mean,
        p2p_price_sd: price_sd,
        max_energy_imbalance_kwh: t.max_imbalance_kwh,
        money_balance_micros: main.accounts_total.0,
        runtime_s,
        household_steps_per_s: s.households.len() as f64 * t.steps as f64 / runtime_s.max(1e-9),
        ledger: main.ledger.clone(),
        p2p_kwh_by_level: (!main.levels.is_empty()).then(|| main.levels.clone()),
        max_line_loading: main.lines.max_line_loading(&line_capacity),
        congested_steps: main.lines.any_congested_steps,
        baseline_congested_steps: main.lines.baseline_congested_steps,
        grid_limit_curtailed_kwh: main.lines.limit_curtailed_kwh,
        grid_limit_shed_kwh: main.lines.limit_shed_kwh,
        voltage_limited_steps: main.lines.voltage_limited_steps,
        voltage_violations_avoided: main.lines.voltage_violations_avoided,
        overloaded_steps: main.lines.overloaded_steps,
        min_voltage_pu: radial.then_some(main.lines.min_voltage_pu),
        max_voltage_pu: radial.then_some(main.lines.max_voltage_pu),
        line_limits_enforced: s.network.enforce_line_limits,
        voltage_limits_enforced: s.network.enforce_voltage_limits,
        ac_sweep_failed_steps: main.lines.sweep_failed_steps,
        network_losses_kwh: sum.network_losses_kwh,
        p2p_losses_kwh: sum.p2p_losses_kwh,
        loss_bearer: s.loss_bearer.label(),
        network_fees: sum.network_fees.as_units(),
        provenance: Provenance {
            peergrid_version: env!("CARGO_PKG_VERSION"),
            git_commit: Some(env!("PEERGRID_GIT_COMMIT")).filter(|c| !c.is_empty()),
            scenario_file: s.file.display().to_string(),
            scenario_sha256: s.file_sha256.clone(),
            overrides: s.overrides.clone(),
        },
    }
}

/// Columns of `lines.csv` (a contract: add, never rename). Flows are absolute kW.
pub const LINE_COLUMNS: [&str; 10] = ["line", "from", "to", "capacity_kw", "max_flow_kw", "mean_flow_kw", "congested_steps", "losses_kwh", "length_m", "max_loading"];

fn write_lines(dir: &Path, s: &Scenario, stats: &crate::grid::network::LineStats) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("lines.csv"))?;
    w.write_record(LINE_COLUMNS)?;
    let g = &s.topology.graph;
    let steps = stats.steps.max(1) as f64;
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
        let (l, k) = (&g[e], e.index());
        let max = stats.max_flow_kw.get(k).copied().unwrap_or(0.0);
        w.write_record([
            l.id.clone(),
            g[a].id.clone(),
            g[b].id.clone(),
            l.capacity_kw.to_string(),
            format!("{max:.6}"),
            format!("{:.6}", stats.sum_abs_flow_kw.get(k).copied().unwrap_or(0.0) / steps),
            stats.congested_steps.get(k).copied().unwrap_or(0).to_string(),
            format!("{:.6}", stats.losses_kwh.get(k).copied().unwrap_or(0.0)),
            format!("{:.3}", l.length_m),
            format!("{:.6}", max / l.capacity_kw),
        ])?;
    }
    w.flush()
}

/// Columns of `households.csv` (a contract: add, never rename).
pub const HOUSEHOLD_COLUMNS: [&str; 33] = [
    "household", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_bought_kwh", "p2p_sold_kwh", "grid_import_kwh", "grid_export_kwh",
    "battery_charge_kwh", "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "bill", "baseline_bill", "savings", "p2p_paid",
    "p2p_received", "grid_paid", "grid_received", "baseline_unserved_kwh", "kwp", "battery_kwh", "soc_start_kwh", "soc_end_kwh", "load_source",
    "node", "fees_paid", "rewards_received", "loss_of_load_hours", "baseline_loss_of_load_hours", "network_fees_paid",
    "data_source", "synthetic",
];

fn write_households(dir: &Path, s: &Scenario, main: &[HouseholdResult]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("households.csv"))?;
    w.write_record(HOUSEHOLD_COLUMNS)?;
    for (h, r) in s.households.iter().zip(main) {
        let b = &r.baseline;
        let m = &r.totals;
        let Wallet { p2p_paid, p2p_received, grid_paid, grid_received, fees_paid, rewards_received, network_fees_paid, .. } = r.wallet;
        let (soc0, soc1) = r.battery_soc_kwh.map(|(a, b)| (a.to_string(), b.to_string())).unwrap_or_default();
        let source = match h.load {
            LoadDef::Archetype { kind, .. } => format!("{kind:?}"),
            LoadDef::Profile { series } if s.profiles.series[series].source.starts_with("ausgrid") => "ausgrid".to_string(),
            LoadDef::Profile { .. } => "profile".to_string(),
        };
        let data_source = match h.load {
            LoadDef::Profile { series } => s.profiles.series[series].source.clone(),
            LoadDef::Archetype { .. } => String::new(),
        };
        let synthetic = matches!(h.load, LoadDef::Profile { series } if s.profiles.series[series].synthetic);
        let row: Vec<String> = vec![
            h.id.clone(),
            m.pv_kwh.to_string(),
            m.load_kwh.to_string(),
            m.self_consumed_kwh.to_string(),
            m.p2p_bought_kwh.to_string(),
            m.p2p_sold_kwh.to_string(),
            m.grid_import_kwh.to_string(),
            m.grid_export_kwh.to_string(),
            m.battery_charge_kwh.to_string(),
            m.battery_discharge_kwh.to_string(),
            m.curtailed_kwh.to_string(),
            m.unserved_kwh.to_string(),
            r.wallet.bill().to_decimal_string(),
            b.wallet.bill().to_decimal_string(),
            (b.wallet.bill() - r.wallet.bill()).to_decimal_string(),
            p2p_paid.to_decimal_string(),
            p2p_received.to_decimal_string(),
            grid_paid.to_decimal_string(),
            grid_received.to_decimal_string(),
            b.totals.unserved_kwh.to_string(),
            h.pv.map(|p| p.kwp).unwrap_or(0.0).to_string(),
            h.battery.as_ref().map(|b| b.capacity_kwh).unwrap_or(0.0).to_string(),
            soc0,
            soc1,
            source,
            s.topology.graph[h.node].id.clone(),
            fees_paid.to_decimal_string(),
            rewards_received.to_decimal_string(),
            (r.loss_of_load_steps as f64 * s.frame.step_hours()).to_string(),
            (b.loss_of_load_steps as f64 * s.frame.step_hours()).to_string(),
            network_fees_paid.to_decimal_string(),
            data_source,
            synthetic.to_string(),
        ];
        w.write_record(&row)?;
    }
    w.flush()
}
