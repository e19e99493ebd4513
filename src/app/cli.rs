//! The command line (clap). Exit codes: 0 success, 1 a failed run, 2 bad input or usage,
//! 130 interrupted.

use crate::base::error::{EXIT_BAD_INPUT, EXIT_FAILURE};
use crate::market::registry::RULES;
use crate::app::driver::{RunError, INTERRUPTED};
use crate::app::run::{run, RunOptions};
use crate::scenario::{Overrides, Scenario};
use crate::viz::options::{DemoSpeed, DEMO_DEFAULT_THREADS};
use clap::{Args, Parser, Subcommand};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Prints to stdout like `println!`, but a closed pipe (`peergrid … | head`) ends the program
/// quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::app::cli::write_stdout(&format!($($arg)*), true)
    };
}

/// Like `print!` (no newline), with the same handling of a closed pipe.
macro_rules! say_raw {
    ($($arg:tt)*) => {
        $crate::app::cli::write_stdout(&format!($($arg)*), false)
    };
}

#[doc(hidden)]
pub fn write_stdout(text: &str, newline: bool) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let result = out.write_all(text.as_bytes()).and_then(|_| if newline { out.write_all(b"\n") } else { Ok(()) }).and_then(|_| out.flush());
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(EXIT_FAILURE as i32);
    }
}

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
    /// trades.csv, topology.json; with --format parquet the tables as .parquet) into a folder.
    Run(RunArgs),
    /// Validate a scenario file without running it.
    Check {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Check with this trading rule instead of the scenario's.
        #[arg(long)]
        rule: Option<String>,
        /// Change a field (repeatable): `--set households[0].battery.capacity_kwh=10`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<crate::scenario::FieldSet>,
    },
    /// List the trading rules with their parameters.
    Rules,
    /// Write the scenario's grid as JSON (nodes, lines with per-phase r and x in ohms, capacities,
    /// nominal voltage, where each household connects) for other power-flow tools.
    ExportGrid {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// JSON file to write.
        #[arg(long)]
        out: PathBuf,
        /// Change a field (repeatable), as for `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<crate::scenario::FieldSet>,
    },
    /// Compare trading rules on identical inputs (same weather, loads and grid), in parallel;
    /// writes DIR/compare.csv and prints the table.
    Compare(CompareArgs),
    /// Run a grid of scenario variants (SWEEP.ron: a scenario and axes of `--set` values) in
    /// parallel; writes DIR/sweep.csv, a row per run with its settings and KPIs.
    Sweep(SweepArgs),
    /// Check a ledger: every hash, link, signature, state root, election, step and amount; with
    /// a run folder also summary.json, households.csv and trades.csv (or trades.parquet) against it. Anchor it with
    /// --expect-head/--expect-genesis (hashes published when the run was made).
    Verify {
        /// A run folder or a ledger.jsonl file.
        #[arg(required_unless_present = "proof", conflicts_with = "proof")]
        path: Option<PathBuf>,
        /// Check a Merkle inclusion proof (from `peergrid prove`) against an anchor: the
        /// transaction's path to its block, the block's path to the head, the producer's key
        /// from the genesis block.
        #[arg(long, value_name = "FILE")]
        proof: Option<PathBuf>,
        /// Fail unless the chain ends in the block with this hash (64 hex digits).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Fail unless the chain starts from the genesis block with this hash (64 hex digits).
        #[arg(long, value_name = "HASH")]
        expect_genesis: Option<String>,
        /// Check the ledger alone: do not require summary.json, households.csv and trades.csv (or .parquet)
        /// beside it.
        #[arg(long)]
        ledger_only: bool,
    },
    /// Write one Ed25519 key pair per household of SCENARIO, from the operating system's
    /// randomness, into DIR (public_keys.csv to publish, secret_keys.csv to keep); `run --keys
    /// DIR` signs the ledger with them.
    Keygen {
        /// Scenario file (RON).
        scenario: PathBuf,
        /// Keystore folder to create.
        #[arg(long)]
        out: PathBuf,
        /// Change a field (repeatable), as for `run`.
        #[arg(long = "set", value_name = "PATH=VALUE")]
        sets: Vec<crate::scenario::FieldSet>,
        /// Replace the folder if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Remove what runs killed outright (SIGKILL, power loss) on this host left in DIR: their
    /// staging folders `.NAME.partial-PID` and lock files `.NAME.peergrid-lock`, putting back
    /// results they had moved aside. Runs do this by themselves in the folder they write into.
    Clean {
        /// The folder results are written into (the parent of each `--out`), e.g. `out`.
        dir: PathBuf,
    },
    /// A household's statement (trades, counterparties, energy, money) from the ledger alone.
    Audit {
        /// A run folder.
        dir: PathBuf,
        /// A household's statement.
        #[arg(long, required_unless_present = "community", conflicts_with = "community")]
        household: Option<String>,
        /// A community treasury's books: every inflow and outflow, checked against the outputs.
        #[arg(long)]
        community: Option<String>,
        /// List every transaction of the household (with --community: every fee too).
        #[arg(long)]
        trades: bool,
        /// Fail unless the chain ends in the block with this hash (as for `verify`).
        #[arg(long, value_name = "HASH")]
        expect_head: Option<String>,
        /// Fail unless the chain starts from the genesis block with this hash.
        #[arg(long, value_name = "HASH")]
        expect_genesis: Option<String>,
    },
    /// Live map of the grid for workshops: houses, lines, power moving, blocks being sealed
    /// (needs a build with `--features viz`).
    Demo(DemoArgs),
    /// Write DIR/replay.html from a run's output folder: the run animated in any browser (a
    /// self-contained page; the folder needs household_timeseries, from `run --replay` or
    /// `--household-series`).
    Replay {
        /// A `peergrid run` output folder.
        dir: PathBuf,
    },
    /// Write a Merkle inclusion proof of one transaction (JSON) for `verify --proof`.
    Prove {
        /// A run folder or a ledger.jsonl file.
        dir: PathBuf,
        /// Transaction id, e.g. t27-0.
        #[arg(long)]
        tx: String,
        /// Write the proof here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Trading rule to start with (R switches while it runs).
    #[arg(long)]
    pub rule: Option<String>,
    /// Random seed, instead of the scenario's (N restarts with the next one).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Steps per second to start with (keys 1-4 change it) [default: the scene's, else 10].
    #[arg(long, value_enum)]
    pub speed: Option<DemoSpeed>,
    /// Play a scene (`scenes/*.ron`): its events, captions and pauses, over its steps; with
    /// --screenshot and no --frames, the screenshot is taken at its end.
    #[arg(long, value_name = "FILE")]
    pub scene: Option<PathBuf>,
    /// Save every frame as DIR/frame-NNNNN.png, and DIR/demo.mp4 when ffmpeg is installed.
    #[arg(long, value_name = "DIR")]
    pub record: Option<PathBuf>,
    /// Window size, px.
    #[arg(long, default_value_t = 1280)]
    pub width: u32,
    #[arg(long, default_value_t = 720)]
    pub height: u32,
    /// Simulate this many steps before the first frame (e.g. to open at midday).
    #[arg(long, default_value_t = 0)]
    pub start_step: u64,
    /// Threads for the demo's task pools. The default leaves the other cores to the renderer
    /// (a software renderer such as Mesa's llvmpipe renders on the CPU).
    #[arg(long, default_value_t = DEMO_DEFAULT_THREADS)]
    pub threads: usize,
    /// Show this house's details from the start (its id in the scenario).
    #[arg(long, value_name = "HOUSE_ID")]
    pub select: Option<String>,
    /// Show N frames, print the frame rate and exit (with --screenshot: default 60).
    #[arg(long)]
    pub frames: Option<u64>,
    /// Save the window as PNG after the frames (and the houses' screen positions as FILE.json).
    #[arg(long, value_name = "FILE")]
    pub screenshot: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct CompareArgs {
    /// Scenario file (RON).
    pub scenario: PathBuf,
    /// Rules to compare, comma-separated [default: all rules].
    #[arg(long, value_delimiter = ',')]
    pub rules: Vec<String>,
    /// Repeat over N seeds (the scenario's seed and the next N − 1) and report means with 95%
    /// confidence intervals.
    #[arg(long, default_value_t = 1)]
    pub seeds: u32,
    /// Simulate only the first N steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Change a field of the scenario for every rule and seed (repeatable), validated like the
    /// file: `--set grid.import_price_per_kwh=0.35`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<crate::scenario::FieldSet>,
    /// Print nothing but errors (the files are written as usual).
    #[arg(long, short)]
    pub quiet: bool,
    /// Output folder [default: out/<scenario name>-compare].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the table as Parquet (`parquet` or `both`) [default: the scenario's `format`].
    #[arg(long, value_enum)]
    pub format: Option<crate::scenario::TableFormat>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// Worker threads [default: all cores]. Results are identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
}

#[derive(Args, Debug)]
pub struct SweepArgs {
    /// Sweep file (RON): `(scenario: "village.ron", axes: [(set: "market.rule", values: [...])], seeds: 1)`.
    pub sweep: PathBuf,
    /// Output folder [default: out/<sweep file name>, with -K-of-N for a shard].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write the table as Parquet (`parquet` or `both`) [default: the scenario's `format`].
    #[arg(long, value_enum)]
    pub format: Option<crate::scenario::TableFormat>,
    /// Run only runs K, K+N, K+2N, ... (0 ≤ K < N), e.g. one job of a cluster array.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<crate::app::sweep::Shard>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// Worker threads [default: all cores]. Results are identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
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
    /// Change a field of the scenario (repeatable), validated like the file:
    /// `--set households[0].battery.capacity_kwh=10`, `--set grid.import_price_per_kwh=0.35`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    pub sets: Vec<crate::scenario::FieldSet>,
    /// Replace the output folder if it exists.
    #[arg(long)]
    pub force: bool,
    /// Worker threads [default: all cores]. Results are identical for any value.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Ledger: `on` (as the scenario says), `off`, or `head-only` (build, sign and chain every
    /// block without writing ledger.jsonl).
    #[arg(long, value_enum)]
    pub ledger: Option<crate::scenario::LedgerMode>,
    /// Which files to write: `full` (every file), or `aggregate` (no trades.csv nor
    /// ledger.jsonl; the ledger is still built, signed and chained) [default: the scenario's
    /// `output`, else full].
    #[arg(long, value_enum)]
    pub output_level: Option<crate::scenario::OutputLevel>,
    /// Which files the tables go to: `csv`, `parquet` (timeseries, households, trades and lines
    /// as `.parquet`; no trades.csv) or `both` [default: the scenario's `format`, else csv].
    #[arg(long, value_enum)]
    pub format: Option<crate::scenario::TableFormat>,
    /// Also write household_timeseries (.parquet or .csv by --format): a row per household and
    /// step with pv_kwh, load_kwh, net_kwh, battery_soc_kwh and the bill so far.
    #[arg(long)]
    pub household_series: bool,
    /// Also write line_timeseries (.parquet or .csv by --format): a row per line and step with
    /// the flow on it, kW (positive from `from` to `to`, as topology.json lists the line).
    #[arg(long)]
    pub line_series: bool,
    /// Also write replay.html: the run animated in any browser, self-contained (turns on
    /// --household-series and --line-series, which it is built from).
    #[arg(long)]
    pub replay: bool,
    /// Play a scene's events (`scenes/*.ron`: clouds, witnesses offline, moves, rule switches)
    /// on the scenario, over the scene's steps unless --steps is given.
    #[arg(long, value_name = "FILE")]
    pub scene: Option<PathBuf>,
    /// Also write DIR/trace-step-N.json: step N's node injections, DC line flows, AC voltages
    /// and line losses (N from 0, as the `step` column of timeseries.csv), to compare with
    /// other power-flow tools (see `export-grid`).
    #[arg(long, value_name = "N")]
    pub trace_step: Option<u64>,
    /// Sign the ledger with the keystore in DIR (from `peergrid keygen`) instead of keys
    /// derived from the public seed.
    #[arg(long, value_name = "DIR")]
    pub keys: Option<PathBuf>,
    /// Run even when the run's estimated memory (printed by `check`) is more than this machine
    /// or its cgroup allows: for a machine whose memory is not what it reports.
    #[arg(long)]
    pub no_memory_check: bool,
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
        Command::Check { scenario, rule, sets } => cmd_check(scenario, rule, sets),
        Command::ExportGrid { scenario, out, sets } => cmd_export_grid(scenario, out, sets),
        Command::Sweep(args) => cmd_sweep(args),
        Command::Rules => {
            say_raw!("{}", rules_text());
            ExitCode::SUCCESS
        }
        Command::Compare(args) => cmd_compare(args),
        Command::Verify { path, proof, expect_head, expect_genesis, ledger_only } => cmd_verify(path, proof, VerifyFlags { expect_head, expect_genesis, ledger_only }),
        Command::Keygen { scenario, out, sets, force } => cmd_keygen(scenario, out, sets, force),
        Command::Clean { dir } => cmd_clean(&dir),
        Command::Audit { dir, household, community, trades, expect_head, expect_genesis } => {
            let anchors = match anchors(&expect_head, &expect_genesis) {
                Ok(a) => a,
                Err(code) => return code,
            };
            let statement = match (&household, &community) {
                (Some(h), _) => crate::ledger::audit::statement(&dir, h, trades, &anchors),
                (None, Some(c)) => crate::ledger::audit::community_statement(&dir, c, trades, &anchors),
                (None, None) => unreachable!("clap requires --household or --community"),
            };
            match statement {
                Ok(text) => {
                    say_raw!("{text}");
                    ExitCode::SUCCESS
                }
                Err(f) => ledger_failure(&f),
            }
        }
        Command::Prove { dir, tx, out } => cmd_prove(dir, tx, out),
        Command::Demo(args) => cmd_demo(args),
        Command::Replay { dir } => cmd_replay(&dir),
    }
}

fn cmd_replay(dir: &Path) -> ExitCode {
    match crate::output::replay::write_replay(dir) {
        Ok(path) => {
            say!("wrote {} ({})", path.display(), crate::output::format::bytes(std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)));
            if let Some(w) = crate::output::replay::size_warning(&path) {
                eprintln!("warning: {w}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

#[cfg(feature = "viz")]
fn cmd_demo(args: DemoArgs) -> ExitCode {
    let opts = crate::viz::DemoOptions {
        scenario: args.scenario,
        rule: args.rule,
        seed: args.seed,
        width: args.width,
        height: args.height,
        speed: args.speed,
        scene: args.scene,
        record: args.record,
        start_step: args.start_step,
        select: args.select,
        threads: args.threads,
        frames: args.frames,
        screenshot: args.screenshot,
    };
    match crate::viz::run_demo(opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

#[cfg(not(feature = "viz"))]
fn cmd_demo(args: DemoArgs) -> ExitCode {
    let _ = args;
    eprintln!("error: this peergrid was built without the live map; rebuild with `cargo build --release --features viz` (see the README's Demo section)");
    ExitCode::from(EXIT_FAILURE)
}

/// Missing files are bad input (2); anything wrong inside a ledger is a failed check (1).
fn ledger_failure(f: &crate::ledger::verify::Failure) -> ExitCode {
    eprintln!("FAIL: {f}");
    if f.bad_input || (f.line == 0 && f.height.is_none() && !f.file.exists()) { ExitCode::from(EXIT_BAD_INPUT) } else { ExitCode::from(EXIT_FAILURE) }
}

/// The largest proof file read (a proof is a few kilobytes: paths of O(log n) hashes).
const MAX_PROOF_BYTES: u64 = 16 << 20;

/// Reads at most `limit` bytes of `path`; more is an error (a file such as /dev/zero is not read
/// without limit).
fn read_bounded(path: &std::path::Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(std::fs::File::open(path)?, limit + 1), &mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(std::io::Error::other(format!("larger than {} MiB: not a proof", limit >> 20)));
    }
    Ok(bytes)
}

/// The anchors given as `--expect-head` and `--expect-genesis`; a malformed hash is bad input.
fn anchors(head: &Option<String>, genesis: &Option<String>) -> Result<crate::ledger::verify::Anchors, ExitCode> {
    let hash = |flag: &str, v: &Option<String>| match v {
        None => Ok(None),
        Some(s) => crate::ledger::encoding::parse_hash(&s.trim().to_ascii_lowercase()).map(Some).ok_or_else(|| {
            eprintln!("error: --{flag} `{s}` is not a block hash (64 hex digits)");
            ExitCode::from(EXIT_BAD_INPUT)
        }),
    };
    Ok(crate::ledger::verify::Anchors { head: hash("expect-head", head)?, genesis: hash("expect-genesis", genesis)? })
}

/// `verify`'s anchors and scope, as given on the command line.
struct VerifyFlags {
    expect_head: Option<String>,
    expect_genesis: Option<String>,
    ledger_only: bool,
}

fn cmd_verify(path: Option<PathBuf>, proof: Option<PathBuf>, flags: VerifyFlags) -> ExitCode {
    use crate::ledger::verify::VerifyOptions;
    let anchors = match anchors(&flags.expect_head, &flags.expect_genesis) {
        Ok(a) => a,
        Err(code) => return code,
    };
    if let Some(p) = proof {
        let parsed = read_bounded(&p, MAX_PROOF_BYTES)
            .map_err(|e| (EXIT_BAD_INPUT, format!("{}: cannot read: {e}", p.display())))
            .and_then(|b| serde_json::from_slice::<crate::ledger::proof::Proof>(&b).map_err(|e| (EXIT_FAILURE, format!("{}: not a proof (of this peergrid's format {}): {e}", p.display(), crate::ledger::proof::PROOF_FORMAT))));
        return match parsed.and_then(|proof| crate::ledger::proof::verify_proof(&proof, &anchors).map_err(|e| (EXIT_FAILURE, format!("{}: {e}", p.display())))) {
            Ok(verdict) => {
                say!("{verdict}");
                ExitCode::SUCCESS
            }
            Err((code, msg)) => {
                eprintln!("FAIL: {msg}");
                ExitCode::from(code)
            }
        };
    }
    let path = path.expect("clap requires a path without --proof");
    match crate::ledger::verify::verify_path(&path, &VerifyOptions { anchors, ledger_only: flags.ledger_only }) {
        Ok(verdict) => {
            say!("{verdict}");
            ExitCode::SUCCESS
        }
        Err(f) => ledger_failure(&f),
    }
}

fn cmd_prove(dir: PathBuf, tx: String, out: Option<PathBuf>) -> ExitCode {
    let ledger = if dir.is_dir() { dir.join("ledger.jsonl") } else { dir };
    match crate::ledger::proof::prove(&ledger, &tx) {
        Ok(proof) => {
            let text = serde_json::to_string_pretty(&proof).expect("a proof serialises");
            match out {
                Some(path) => {
                    if let Err(e) = crate::output::staging::write_to(&path, (text + "\n").as_bytes()) {
                        eprintln!("error: {}: {e}", path.display());
                        return ExitCode::from(EXIT_FAILURE);
                    }
                    say!("wrote {}", path.display());
                }
                None => say!("{text}"),
            }
            ExitCode::SUCCESS
        }
        Err(f) => ledger_failure(&f),
    }
}

/// The `peergrid rules` listing.
pub fn rules_text() -> String {
    let mut out = String::new();
    for r in RULES {
        out.push_str(&format!("{:<16} {}\n", r.name, r.summary));
        for p in r.params {
            let votable = if p.price_position { "; communities may vote on it (RuleParam)" } else { "" };
            out.push_str(&format!("{:<16}   param {} (default {}, {}..={}): {}{votable}\n", "", p.name, p.default, p.min, p.max, p.doc));
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

fn cmd_check(path: PathBuf, rule: Option<String>, sets: Vec<crate::scenario::FieldSet>) -> ExitCode {
    // Everything checked, and the memory a run needs printed, however big the scenario.
    let s = match load(&path, &Overrides { rule, sets, no_memory_check: true, ..Default::default() }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // PV from the model, or measured in a profile.
    let has_pv = |h: &crate::scenario::HouseholdDef| {
        h.pv.is_some() || matches!(h.load, crate::household::load::LoadDef::Profile { series } if s.profiles.series[series].pv_kwh.iter().any(|kwh| *kwh > 0.0))
    };
    let batteries = s.households.iter().filter(|h| h.battery.is_some()).count();
    let pv = s.households.iter().filter(|h| has_pv(h)).count();
    // Only planning batteries charge from the grid, and only where there is one.
    let connected = s.grid.is_connected();
    let stranded = s.households.iter().filter(|h| h.battery.as_ref().is_some_and(|b| b.policy == crate::household::battery::BatteryMode::SelfConsumption || !connected) && !has_pv(h)).count();
    let placement = match (batteries, stranded) {
        (0, _) => String::new(),
        (_, 0) => ", all on houses with PV or charging from the grid".to_string(),
        (_, n) => format!(", {n} of them on houses without PV (they never charge: batteries charge from their own PV, and only planning ones from a grid)"),
    };
    let vehicles = s.households.iter().filter(|h| h.ev.is_some()).count();
    let appliances = s.households.iter().filter(|h| !h.appliances.is_empty()).count();
    let placement = placement
        + &match (vehicles, appliances) {
            (0, 0) => String::new(),
            (v, 0) => format!("; {v} with an electric vehicle"),
            (0, a) => format!("; {a} with deferrable appliances"),
            (v, a) => format!("; {v} with an electric vehicle, {a} with deferrable appliances"),
        };
    let heat_pumps = s.households.iter().filter(|h| h.heat_pump.is_some()).count();
    let tanks = s.households.iter().filter(|h| h.hot_water.is_some()).count();
    let placement = placement
        + &match (heat_pumps, tanks) {
            (0, 0) => String::new(),
            (p, t) => format!("; {p} with a heat pump, {t} with a hot-water tank"),
        };
    let t = &s.topology;
    say!(
        "ok: {}: scenario `{}`, {} households ({pv} with PV, {batteries} with batteries{placement}), {} steps of {} min, {}, {}, topology {} nodes / {} lines ({})",
        path.display(),
        s.name,
        s.households.len(),
        s.frame.total_steps,
        s.frame.step_minutes,
        match &s.communities {
            Some(cs) if cs.forced_rule => format!("{} communities, all under rule {}", cs.communities.len(), s.rule.name),
            Some(cs) => format!("{} communities with their own rules", cs.communities.len()),
            None => format!("rule {}", s.rule.name),
        },
        if s.grid.is_connected() { "grid-connected" } else { "islanded" },
        t.graph.node_count(),
        t.graph.edge_count(),
        if t.is_radial() { "radial" } else { "meshed" },
    );
    let allowed = crate::base::exec::memory_allowed_bytes();
    let shown = allowed.map_or(String::new(), |b| format!(" (this machine allows {})", mib(b)));
    say!("  sky: {}", s.sky.describe());
    if let crate::environment::tariff::GridConnection::Connected { series: Some(p), .. } = &s.grid {
        say!("  tariff: dynamic, from the price file: {}", p.describe());
    }
    if let Some(c) = &s.climate {
        say!("  weather: synthetic; monthly clearness from {}; air temperature from {}", c.clearness_from, c.temperature_from);
        if let Some(w) = &c.warning {
            say!("  warning: {w}");
        }
    }
    if let Some(p) = &s.phases {
        let t = &s.topology;
        let count = |ph| p.phase.iter().filter(|x| **x == ph).count();
        use crate::grid::topology::Phase;
        say!("  phases: unbalanced three-phase flow; households on a {}, b {}, c {}, three-phase {}", count(Phase::A), count(Phase::B), count(Phase::C), count(Phase::Three));
        if let Some(tr) = &t.transformer {
            say!("  transformer: {} ({:.0} kVA, {:?}, {:.4}+j{:.4} Ω on the low-voltage side); supply at {:.4} pu", tr.id, tr.rated_kva, tr.vector_group, tr.r_ohm, tr.x_ohm, t.source_voltage_pu);
        }
    }
    for w in &s.import_warnings {
        say!("  warning: {w}");
    }
    if let Some(cs) = &s.communities {
        for (k, c) in cs.communities.iter().enumerate() {
            let members = cs.member_of.iter().filter(|m| **m == Some(k as u16)).count();
            let founded = if c.founded_step == 0 { String::new() } else { format!(", founded at step {}", c.founded_step) };
            let battery = c.battery.as_ref().map_or(String::new(), |b| format!(", a {} kWh battery bought for {:.2}", b.battery.capacity_kwh, b.cost.as_units()));
            say!("  community {} ({}): {members} members{founded}, rule {}, periods of {} steps, {} witnesses{battery}", c.id, c.name, c.rule.name, c.period_steps, c.witnesses);
            if c.founded_step + c.period_steps > s.frame.total_steps {
                say!("  warning: community {}'s first period ends after the run: it never pays its witnesses or services, never changes its fee and cannot default", c.id);
            }
        }
        let free = cs.member_of.iter().filter(|m| m.is_none()).count();
        let without = if s.grid.is_connected() { "they deal with the grid" } else { "they keep what they make: on an island, nobody trades with them" };
        say!("  {free} households in no community ({without})");
    }
    say!("  memory: about {} estimated for a run{shown}", mib(s.memory_estimate_bytes()));
    if allowed.is_some_and(|b| s.memory_estimate_bytes() > b) {
        say!("  warning: more than this machine allows: `run` stops unless given --no-memory-check");
    }
    ExitCode::SUCCESS
}

fn mib(bytes: u64) -> String {
    format!("{} MiB", bytes.div_ceil(1 << 20))
}


fn cmd_export_grid(path: PathBuf, out: PathBuf, sets: Vec<crate::scenario::FieldSet>) -> ExitCode {
    // No simulation: the scenario's size is no matter here.
    let s = match load(&path, &Overrides { sets, no_memory_check: true, ..Default::default() }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let written = crate::output::grid_export::grid_json(&s).map_err(std::io::Error::other).and_then(|bytes| crate::output::staging::write_atomically(&out, &bytes));
    match written {
        Ok(()) => {
            say!("wrote {} ({} nodes, {} lines)", out.display(), s.topology.graph.node_count(), s.topology.graph.edge_count());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            ExitCode::FAILURE
        }
    }
}

fn cmd_keygen(path: PathBuf, out: PathBuf, sets: Vec<crate::scenario::FieldSet>, force: bool) -> ExitCode {
    use crate::ledger::keys::{Keystore, PUBLIC_KEYS_FILE, SECRET_KEYS_FILE};
    let s = match load(&path, &Overrides { sets, no_memory_check: true, ..Default::default() }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let exists = || {
        eprintln!("error: {} exists; give --force to replace it (its keys would be lost: a ledger signed with them could no longer be extended)", out.display());
        ExitCode::from(EXIT_BAD_INPUT)
    };
    if out.exists() && !force {
        return exists();
    }
    // Checked again under the folder's lock: of two keygens into one folder, one writes it.
    let staging = match crate::app::driver::claim_output(&out, force) {
        Ok(s) => s,
        Err(RunError::OutputExists(_)) => return exists(),
        Err(e) => return run_failure(e),
    };
    let ids: Vec<String> = s.households.iter().map(|h| h.id.clone()).collect();
    let store = match Keystore::generate(ids.len()) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let (public, secret) = store.to_csv(&ids);
    let written = crate::output::staging::write_file(staging.path(), PUBLIC_KEYS_FILE, public.as_bytes())
        .and_then(|()| crate::output::staging::write_secret_file(staging.path(), SECRET_KEYS_FILE, secret.as_bytes()))
        .and_then(|()| staging.commit());
    match written {
        Ok(_) => {
            say!("wrote {}: {} key pairs ({PUBLIC_KEYS_FILE} to publish, {SECRET_KEYS_FILE} to keep: readable by you alone)", out.display(), ids.len());
            say!("  sign a run with them: peergrid run {} --keys {}", path.display(), out.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot write {}: {e}", out.display());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn cmd_clean(dir: &std::path::Path) -> ExitCode {
    if !dir.is_dir() {
        eprintln!("error: {}: not a folder", dir.display());
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    match crate::output::staging::remove_stale(dir) {
        Ok(done) => {
            for (path, what) in &done {
                match what {
                    crate::output::staging::Cleaned::Removed => say!("removed {}", path.display()),
                    crate::output::staging::Cleaned::PutBack => say!("put back {} (results a killed run had moved aside)", path.display()),
                }
            }
            say!("{}: {} left by dead runs removed or put back", dir.display(), done.len());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cleaning {}: {e}", dir.display());
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

fn cmd_compare(args: CompareArgs) -> ExitCode {
    stop_on_signals();
    let mut rules = Vec::new();
    for name in &args.rules {
        match crate::market::registry::find(name) {
            Some(r) => rules.push(r),
            None => {
                eprintln!("error: unknown rule `{name}`; allowed: {}", crate::market::registry::names().join(", "));
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        }
    }
    if rules.is_empty() {
        rules = RULES.to_vec();
    }
    if args.seeds == 0 {
        eprintln!("error: --seeds must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let scenario = match load(&args.scenario, &Overrides { sets: args.sets.clone(), steps: args.steps, ..Default::default() }) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let threads = default_threads(args.threads).max(1);
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("out").join(format!("{}-compare", scenario.name)));
    let opts = crate::app::compare::CompareOptions { scenario: args.scenario, rules, seeds: args.seeds, steps: args.steps, sets: args.sets, out_dir: out_dir.clone(), force: args.force, threads, format: args.format };
    match crate::app::compare::compare(&opts) {
        Ok(table) => {
            if !args.quiet {
                say_raw!("{}", crate::app::compare::render(&table));
                say!("wrote {}", out_dir.join("compare.csv").display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => run_failure(e),
    }
}

fn cmd_sweep(args: SweepArgs) -> ExitCode {
    stop_on_signals();
    let sweep = match crate::app::sweep::Sweep::load(&args.sweep) {
        Ok(mut s) => {
            s.format = args.format.unwrap_or(s.format);
            s
        }
        Err(errors) => {
            eprintln!("{errors}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let threads = default_threads(args.threads);
    if threads == 0 {
        eprintln!("error: --threads must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let default_dir = match args.shard {
        Some(s) => format!("{}-{}-of-{}", sweep.name, s.index, s.count),
        None => sweep.name.clone(),
    };
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("out").join(default_dir));
    if out_dir.exists() && !args.force {
        return run_failure(RunError::OutputExists(out_dir));
    }
    let todo = sweep.selected(args.shard).count() as u64;
    let bar = indicatif::ProgressBar::with_draw_target(Some(todo), indicatif::ProgressDrawTarget::hidden());
    if !args.quiet && std::io::stderr().is_terminal() {
        bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
        bar.set_style(indicatif::ProgressStyle::with_template("[{bar:40}] {pos}/{len} runs, eta {eta}").unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()));
    }
    match crate::app::sweep::run(&sweep, args.shard, &out_dir, args.force, threads, || bar.inc(1)) {
        Ok(n) => {
            bar.finish_and_clear();
            say!("{n} of {} runs; wrote {}", sweep.run_count, out_dir.join("sweep.csv").display());
            ExitCode::SUCCESS
        }
        Err(e) => run_failure(e),
    }
}

fn cmd_run(args: RunArgs) -> ExitCode {
    // Ctrl-C, SIGTERM or SIGHUP, from the start (loading a big scenario takes a while): the run
    // stops at the next step and removes its staging folder; a second signal changes nothing.
    stop_on_signals();
    let scene = match args.scene.as_deref().map(crate::scenario::scene::Scene::load).transpose() {
        Ok(s) => s.map(Arc::new),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_BAD_INPUT);
        }
    };
    let steps = args.steps.or(scene.as_ref().and_then(|s| s.steps));
    let overrides = Overrides { rule: args.rule.clone(), seed: args.seed, steps, ledger: args.ledger, sets: args.sets.clone(), output: args.output_level, format: args.format, household_series: args.household_series || args.replay, line_series: args.line_series || args.replay, no_memory_check: args.no_memory_check, scene };
    let scenario = match load(&args.scenario, &overrides) {
        Ok(s) => Arc::new(s),
        Err(code) => return code,
    };
    // A guessed climate changes every number: said even with --quiet.
    if let Some(w) = scenario.climate.as_ref().and_then(|c| c.warning.as_ref()) {
        eprintln!("warning: {w}");
    }
    // Parts of an imported network the model leaves out change what the flow sees.
    for w in &scenario.import_warnings {
        eprintln!("warning: {w}");
    }
    let out_dir = args.out.clone().unwrap_or_else(|| PathBuf::from("out").join(&scenario.name));
    let threads = default_threads(args.threads);
    if threads == 0 {
        eprintln!("error: --threads must be at least 1");
        return ExitCode::from(EXIT_BAD_INPUT);
    }
    let keys = match &args.keys {
        Some(dir) => match crate::ledger::keys::Keystore::read(dir, &scenario.households.iter().map(|h| h.id.clone()).collect::<Vec<_>>()) {
            Ok(k) => Some(Arc::new(k)),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_BAD_INPUT);
            }
        },
        None => None,
    };
    let opts = RunOptions { out_dir: out_dir.clone(), force: args.force, threads, progress: !args.quiet, trace_step: args.trace_step, keys, bidding: None, replay: args.replay };
    match run(scenario.clone(), &opts) {
        Ok(s) => {
            if let Some(w) = args.replay.then(|| crate::output::replay::size_warning(&out_dir.join(crate::output::replay::REPLAY_FILE))).flatten() {
                eprintln!("warning: {w}");
            }
            if !args.quiet {
                let pct = |x: Option<f64>| x.map(|v| format!("{:.1}%", v * 100.0)).unwrap_or_else(|| "n/a".into());
                say!("wrote {}", out_dir.display());
                let rules = match &s.communities {
                    Some(cs) => format!("{} communities ({})", cs.len(), cs.iter().map(|c| format!("{} {}", c.id, c.rule)).collect::<Vec<_>>().join(", ")),
                    None => format!("rule {}", s.rule),
                };
                say!("  {} households × {} steps, {rules}, in {:.2} s ({:.2} M household-steps/s)", s.households, s.steps, s.runtime_s, s.household_steps_per_s / 1e6);
                for c in s.communities.iter().flatten() {
                    let mut end = match c.status {
                        "defaulted" => format!("defaulted {}, {:.2} returned to its members", c.defaulted_day.as_deref().unwrap_or(""), c.default_paid),
                        other => format!("{other}, {} members", c.members_end),
                    };
                    if c.totals.refused_joins > 0 {
                        end.push_str(&format!(" ({} moves into it refused: not founded yet or defaulted)", c.totals.refused_joins));
                    }
                    say!("  community {}: {end}; fee {:.2}%, treasury {:.2}, fees {:.2}, paid witnesses {:.2} and services {:.2}", c.id, c.fee_rate * 100.0, c.treasury, c.fees_collected, c.witness_paid, c.services_paid);
                    if let Some(b) = &c.battery {
                        say!("    its battery: {:.1} kWh to members, {:.1} kWh from their surplus; members paid {:.2} for its energy and were paid {:.2} for charging it; worth {:.2} at the end", b.delivered_kwh, b.charged_kwh, b.sales, b.purchases, b.value_end);
                    }
                }
                if let Some(k) = s.competition.as_ref().filter(|k| k.choice || k.referendums > 0) {
                    say!(
                        "  competition: {} moves by households' choice in {} rounds (switches.csv); {} referendums, {} passed (referendums.csv)",
                        k.moves_by_choice,
                        k.rounds,
                        k.referendums,
                        k.referendums_passed
                    );
                }
                if let Some(cs) = s.communities.as_ref().filter(|cs| cs.iter().any(|c| c.equity_end != 0.0)) {
                    let (equity, savings) = cs.iter().fold((0.0, 0.0), |a, c| (a.0 + c.equity_end, a.1 + c.kpis.savings_with_equity));
                    say!("  communities own {equity:.2} at the end (treasuries and batteries); counting it, their members save {savings:.2} against the grid only (the bill below counts founding contributions as paid)");
                }
                say!("  self-sufficiency {}, self-consumption {}, P2P {:.1} kWh", pct(s.self_sufficiency), pct(s.self_consumption), s.p2p_kwh);
                if let Some(l) = &s.ledger {
                    say!(
                        "  ledger: {} blocks, {} transactions, {} missed slots, head {}{}",
                        l.blocks,
                        l.transactions,
                        l.missed_slots,
                        &l.head_hash[..16],
                        if l.jsonl_written { "" } else { " (ledger.jsonl not written)" }
                    );
                    say!("  ledger anchor to publish: head {} genesis {}", l.head_hash, l.genesis_hash);
                }
                let money = |v: f64| crate::output::format::money(v, s.currency.as_deref());
                if s.grid_connected {
                    say!(
                        "  community bill {} vs grid-only {}: saves {}{}, unserved {:.1} kWh, curtailed {:.1} kWh",
                        money(s.community_bill),
                        money(s.baseline_bill),
                        money(s.savings),
                        // A share of what the baseline paid for imports: its denominator does not
                        // vanish the way the baseline's net bill can.
                        s.savings_pct_of_baseline_import_cost.map(|v| format!(" ({v:.1}% of the grid-only import cost)")).unwrap_or_default(),
                        s.unserved_kwh,
                        s.curtailed_kwh
                    );
                } else {
                    say!(
                        "  islanded: unserved {:.1} kWh (without trading {:.1} kWh), curtailed {:.1} kWh",
                        s.unserved_kwh, s.baseline_unserved_kwh, s.curtailed_kwh
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => run_failure(e),
    }
}

/// Prints a failed run's error and maps it to the exit code: bad input and an existing output
/// folder are 2, Ctrl-C is 130, anything else 1.
fn run_failure(e: RunError) -> ExitCode {
    match e {
        RunError::Input(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        e @ RunError::OutputExists(_) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        RunError::Interrupted => {
            eprintln!("error: interrupted; no results were written");
            ExitCode::from(EXIT_INTERRUPTED)
        }
        RunError::Busy(why) => {
            eprintln!("error: {why}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
        e => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// How long a command has, after Ctrl-C, SIGTERM or SIGHUP, to stop by itself (at its next
/// step, or after the file it is writing) before its staging folders are removed and it exits.
const SIGNAL_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Ctrl-C, SIGTERM and SIGHUP: the command stops at the next step and removes its staging folder
/// (exit 130). A step or a write that takes longer than [`SIGNAL_GRACE`] is cut short: the
/// folders are removed here and the process exits. A second signal changes nothing.
fn stop_on_signals() {
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTED.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(SIGNAL_GRACE);
        // Results already in place: the command is finishing; let it.
        if crate::output::staging::abandon() {
            eprintln!("error: interrupted; no results were written");
            std::process::exit(i32::from(EXIT_INTERRUPTED));
        }
    });
}

/// `--threads` when not given: every core.
fn default_threads(given: Option<usize>) -> usize {
    given.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1))
}
