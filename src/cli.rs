//! The command line (clap). Exit codes: 0 success, 1 a failed run, 2 bad input or usage,
//! 130 interrupted.

use crate::error::{EXIT_BAD_INPUT, EXIT_FAILURE};
use crate::market::registry::RULES;
use crate::run::{run, RunError, RunOptions, INTERRUPTED};
use crate::scenario::{Overrides, Scenario};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Exit code after Ctrl-C (128 + SIGINT), as shells expect.
pub const EXIT_INTERRUPTED: u8 = 130;

#[derive(Parser, Debug)]
#[command(name = "peergrid", version, about = "Simulate solar peer-to-peer energy trading in a smart grid", long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario and write its results (summary.json, timeseries.csv, households.csv,
    /// trades.csv, topology.json) into a folder.
    Run(RunArgs),
    /// Validate a scenario file without running it.
    Check {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Check with this trading rule instead of the scenario's.
        #[arg(long)]
        rule: Option<String>,
    },
    /// List the trading rules with their parameters.
    Rules,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Output folder [default: out/<scenario name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Trading rule (see `peergrid rules`), instead of the scenario's.
    #[arg(long)]
    pub rule: Option<String>,
    /// Random seed, instead of the scenario's.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Simulate only the first N steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// Worker threads [default: all cores]. Results are identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar and no summary on stdout.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    match cli.command {
        Command::Run(args) => cmd_run(args),
        Command::Check { scenario, rule } => cmd_check(scenario, rule),
        Command::Rules => {
            print!("{}", rules_text());
            ExitCode::SUCCESS
        }
    }
}

/// The `peergrid rules` listing.
pub fn rules_text() -> String {
    let mut out = String::new();
    for r in RULES {
        out.push_str(&format!("{:<16} {}\n", r.name, r.summary));
        for p in r.params {
            out.push_str(&format!("{:<16}   param {} (default {}, {}..={}): {}\n", "", p.name, p.default, p.min, p.max, p.doc));
        }
    }
    out
}

fn load(path: &PathBuf, overrides: &Overrides) -> Result<Scenario, ExitCode> {
    Scenario::load(path, overrides).map_err(|errors| {
        eprintln!("{errors}");
        ExitCode::from(EXIT_BAD_INPUT)
    })
}

fn cmd_check(path: PathBuf, rule: Option<String>) -> ExitCode {
    let s = match load(&path, &Overrides { rule, ..Default::default() }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let batteries = s.households.iter().filter(|h| h.battery.is_some()).count();
    let pv = s.households.iter().filter(|h| h.pv.is_some()).count();
    let t = &s.topology;
    println!(
        "ok: {}: scenario `{}`, {} households ({pv} with PV, {batteries} with batteries), {} steps of {} min, rule {}, {}, topology {} nodes / {} lines ({})",
        path.display(),
        s.name,
        s.households.len(),
        s.frame.total_steps,
        s.frame.step_minutes,
        s.rule.name,
        if s.grid.is_connected() { "grid-connected" } else { "islanded" },
        t.graph.node_count(),
        t.graph.edge_count(),
        if t.is_radial() { "radial" } else { "meshed" },
    );
    ExitCode::SUCCESS
}

fn cmd_run(args: RunArgs) -> ExitCode {
    let overrides = Overrides { rule: args.rule.clone(), seed: args.seed, steps: args.steps };
    let scenario = match load(&args.scenario, &overrides) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1));
    if threads == 0 {
        eprintln!("error: --threads must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    // A second Ctrl-C while cleaning up kills the process the usual way.
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            std::process::exit(EXIT_INTERRUPTED as i32);
        }
    });
    let opts = RunOptions { out_dir: out_dir.clone(), force: args.force, threads, progress: !args.quiet };
    match run(scenario.clone(), &opts) {
        Ok(s) => {
            if !args.quiet {
                let pct = |x: Option<f64>| x.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "n/a".into());
                println!("wrote {}", out_dir.display());
                println!(
                    "  {} households × {} steps, rule {}, in {:.2} s ({:.2} M household-steps/s)",
                    s.households,
                    s.steps,
                    s.rule,
                    s.runtime_s,
                    s.household_steps_per_s / 1e6
                );
                println!("  self-sufficiency {}, self-consumption {}, P2P {:.1} kWh", pct(s.self_sufficiency), pct(s.self_consumption), s.p2p_kwh);
                if s.grid_connected {
                    println!(
                        "  community bill {:.2} vs grid-only {:.2} (savings {}), unserved {:.1} kWh, curtailed {:.1} kWh",
                        s.community_bill,
                        s.baseline_bill,
                        s.savings_pct.map(|v| format!("{v:.1}%")).unwrap_or_else(|| "n/a".into()),
                        s.unserved_kwh,
                        s.curtailed_kwh
                    );
                } else {
                    println!(
                        "  islanded: unserved {:.1} kWh (without trading {:.1} kWh), curtailed {:.1} kWh",
                        s.unserved_kwh, s.baseline_unserved_kwh, s.curtailed_kwh
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(RunError::Input(e)) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(e @ RunError::OutputExists(_)) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        Err(RunError::Interrupted) => {
            eprintln!("error: interrupted; no results were written");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
