//! `peergrid sweep SWEEP.ron`: a grid of scenario variants (every combination of the axes'
//! values, each over `seeds` seeds) run in parallel into one tidy CSV, a row per run with its
//! settings and KPIs. `--shard K/N` runs only runs K, K+N, K+2N, ... so a sweep can be spread
//! over a cluster's job array and the CSVs concatenated (rows carry their run number).
//!
//! A sweep file:
//! ```ron
//! (
//!     scenario: "village.ron",   // relative to the sweep file
//!     axes: [
//!         (set: "households[0].battery_share", values: [0.0, 0.5, 1.0]),
//!         (set: "market.rule", values: ["double-auction", "sdr"]),
//!     ],
//!     seeds: 2,                   // default 1: the scenario's seed, then the next ones
//! )
//! ```

use crate::app::driver::run_kpis;
use crate::output::sweep::{write_sweep_table, SweepRow};
use crate::base::error::{InputError, InputErrors, Location};
use crate::app::driver::RunError;
use crate::scenario::{FieldSet, Overrides, Scenario};
use rayon::prelude::*;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The sweep file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepFile {
    /// Scenario file, relative to the sweep file.
    pub scenario: String,
    /// The settings varied; runs are every combination (the first axis varies slowest).
    pub axes: Vec<Axis>,
    /// Seeds per combination: the scenario's and the next ones.
    #[serde(default = "one")]
    pub seeds: u32,
    /// Simulate only the first N steps of each run.
    #[serde(default)]
    pub steps: Option<u64>,
}

fn one() -> u32 {
    1
}

/// One varied setting: a `--set` path and its values.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Axis {
    pub set: String,
    pub values: Vec<AxisValue>,
}

/// A value of an axis: a number, a boolean, or RON text (a word, `Fixed(4)`, `(a: 1)`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AxisValue {
    Bool(bool),
    Number(f64),
    Text(String),
}

impl std::fmt::Display for AxisValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AxisValue::Bool(b) => write!(f, "{b}"),
            AxisValue::Number(x) => write!(f, "{x}"),
            AxisValue::Text(t) => f.write_str(t),
        }
    }
}

/// Which runs this process does: those with `run % count == index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s.split_once('/').ok_or_else(|| format!("`{s}`: expected K/N, e.g. 0/4"))?;
        let (index, count): (u64, u64) = (k.trim().parse().map_err(|_| format!("`{k}` is not a shard number"))?, n.trim().parse().map_err(|_| format!("`{n}` is not a shard count"))?);
        if count == 0 || index >= count {
            return Err(format!("`{s}`: need 0 ≤ K < N"));
        }
        Ok(Shard { index, count })
    }
}

/// One run of the sweep.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// Place in the whole sweep (0-based), the same whatever the sharding.
    pub run: u64,
    pub seed: u64,
    pub sets: Vec<FieldSet>,
}

/// A sweep, read and checked. Its runs are numbered, not listed: run `i` is computed when it is
/// needed ([`Sweep::run_at`]), so a sweep costs memory for its axes only.
#[derive(Debug)]
pub struct Sweep {
    pub file: PathBuf,
    pub scenario: PathBuf,
    pub name: String,
    pub axes: Vec<String>,
    pub steps: Option<u64>,
    /// Each axis's settings, in order.
    values: Vec<Vec<FieldSet>>,
    seeds: u64,
    base_seed: u64,
    /// Runs in the whole sweep: every combination times `seeds`.
    pub run_count: u64,
    /// The scenario's `format`: `sweep.parquet` too unless it is `Csv`.
    pub format: crate::scenario::TableFormat,
}

/// The most runs a sweep may have (every combination times the seeds): a sweep's rows are held
/// until its CSV is written.
pub const MAX_SWEEP_RUNS: u64 = 1_000_000;
/// Sweeps of at most this many combinations have every combination checked before any runs
/// (larger ones have each value checked alone, and each run when it starts).
pub const MAX_CHECKED_COMBINATIONS: u64 = 4_096;

impl Sweep {
    /// Run `i` (0-based) of the whole sweep: the first axis varies slowest, the seed fastest.
    pub fn run_at(&self, i: u64) -> SweepRun {
        let mut rest = i / self.seeds;
        let mut sets: Vec<FieldSet> = self
            .values
            .iter()
            .rev()
            .map(|v| {
                let n = v.len() as u64;
                let s = v[(rest % n) as usize].clone();
                rest /= n;
                s
            })
            .collect();
        sets.reverse();
        SweepRun { run: i, seed: self.base_seed + i % self.seeds, sets }
    }

    /// The runs a shard does, in order: those with `run % count == index`.
    pub fn selected(&self, shard: Option<Shard>) -> impl Iterator<Item = u64> + '_ {
        let (first, step) = shard.map_or((0, 1), |s| (s.index, s.count));
        (first..self.run_count).step_by(step as usize)
    }
}

fn sweep_error(path: &Path, location: Location, message: String) -> InputErrors {
    InputErrors(vec![InputError { file: path.into(), location, message }])
}

impl Sweep {
    /// Reads a sweep file and checks every run's scenario (so a typo fails before hours of work).
    pub fn load(path: &Path) -> Result<Sweep, InputErrors> {
        let text = crate::base::input::read_text(path, "sweep file", crate::base::input::MAX_SCENARIO_FILE_BYTES).map_err(|e| InputErrors(vec![e]))?;
        let file: SweepFile = crate::scenario::ron_options().from_str(&text).map_err(|e| sweep_error(path, Location::LineColumn { line: e.span.start.line, column: e.span.start.col }, e.code.to_string()))?;
        if file.seeds == 0 {
            return Err(sweep_error(path, Location::Field("seeds".into()), "must be at least 1".into()));
        }
        for (i, a) in file.axes.iter().enumerate() {
            if a.values.is_empty() {
                return Err(sweep_error(path, Location::Field(format!("axes[{i}].values")), "needs at least one value".into()));
            }
        }
        let combos = file.axes.iter().try_fold(1u64, |n, a| n.checked_mul(a.values.len() as u64));
        let run_count = combos.and_then(|c| c.checked_mul(u64::from(file.seeds))).filter(|&n| n <= MAX_SWEEP_RUNS);
        let Some(run_count) = run_count else {
            let sizes = file.axes.iter().map(|a| a.values.len().to_string()).collect::<Vec<_>>().join(" × ");
            return Err(sweep_error(path, Location::Field("axes".into()), format!("{sizes} values × {} seeds is more than {MAX_SWEEP_RUNS} runs; split the sweep into several files", file.seeds)));
        };
        let scenario = path.parent().unwrap_or(Path::new(".")).join(&file.scenario);
        let base = Scenario::load(&scenario, &Overrides { steps: file.steps, ..Default::default() })?;
        let name = path.file_stem().map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
        let values = file.axes.iter().map(|a| a.values.iter().map(|v| FieldSet { path: a.set.clone(), value: v.to_string() }).collect()).collect();
        let sweep = Sweep { file: path.into(), scenario: scenario.clone(), name, axes: file.axes.iter().map(|a| a.set.clone()).collect(), steps: file.steps, values, seeds: u64::from(file.seeds), base_seed: base.seed, run_count, format: base.format };
        let combos = run_count / sweep.seeds;
        if combos > MAX_CHECKED_COMBINATIONS {
            // Each value alone; a clash between values shows when its run starts.
            let errors: Vec<InputError> = sweep
                .values
                .iter()
                .enumerate()
                .flat_map(|(i, vs)| vs.iter().enumerate().map(move |(j, set)| (i, j, set)))
                .filter_map(|(i, j, set)| Scenario::load(&scenario, &Overrides { sets: vec![set.clone()], steps: Some(1), ..Default::default() }).err().map(|e| (i, j, set, e)))
                .flat_map(|(i, j, set, e)| e.0.into_iter().map(move |x| InputError { file: path.into(), location: Location::Field(format!("axes[{i}].values[{j}]")), message: format!("`{}`: {x}", set.shown()) }))
                .collect();
            return if errors.is_empty() { Ok(sweep) } else { Err(InputErrors(errors)) };
        }
        let runs: Vec<SweepRun> = (0..combos).map(|c| sweep.run_at(c * sweep.seeds)).collect();
        // Each combination validated once (seeds change no field), every problem reported at
        // once. A value that fails in every combination it is part of is reported as that axis
        // value (with the scenario's message for it); other failures as the runs that fail
        // (values fine together with some settings may clash with others).
        let failed: Vec<(&SweepRun, InputErrors)> = runs
            .iter()
            .filter_map(|r| Scenario::load(&scenario, &Overrides { sets: r.sets.clone(), steps: Some(1), ..Default::default() }).err().map(|e| (r, e)))
            .collect();
        if !failed.is_empty() {
            let mut errors = Vec::new();
            let mut explained = vec![false; failed.len()];
            for (i, a) in file.axes.iter().enumerate() {
                for (j, v) in a.values.iter().enumerate() {
                    let set = FieldSet { path: a.set.clone(), value: v.to_string() };
                    let with = |r: &SweepRun| r.sets.get(i) == Some(&set);
                    let in_all_failing = runs.iter().filter(|r| with(r)).all(|r| failed.iter().any(|(f, _)| f.run == r.run));
                    if !in_all_failing {
                        continue;
                    }
                    let why = Scenario::load(&scenario, &Overrides { sets: vec![set.clone()], steps: Some(1), ..Default::default() }).err().or_else(|| failed.iter().find(|(f, _)| with(f)).map(|(_, e)| e.clone()));
                    for (k, (f, _)) in failed.iter().enumerate() {
                        explained[k] |= with(f);
                    }
                    errors.extend(why.into_iter().flat_map(|e| e.0).map(|x| InputError { file: path.into(), location: Location::Field(format!("axes[{i}].values[{j}]")), message: format!("`{}`: {x}", set.shown()) }));
                }
            }
            for ((r, e), _) in failed.iter().zip(&explained).filter(|(_, done)| !**done) {
                let which = r.sets.iter().map(FieldSet::shown).collect::<Vec<_>>().join(", ");
                errors.extend(e.0.iter().map(|x| InputError { file: path.into(), location: Location::Field("axes".into()), message: format!("run {} ({which}): {x}", r.run) }));
            }
            return Err(InputErrors(errors));
        }
        Ok(sweep)
    }
}

/// Runs the selected runs on `threads` threads and writes `out_dir/sweep.csv` (and
/// `sweep.parquet` by the sweep's `format`) atomically;
/// `progress` is told of each finished run.
pub fn run(sweep: &Sweep, shard: Option<Shard>, out_dir: &Path, force: bool, threads: usize, progress: impl Fn() + Sync) -> Result<usize, RunError> {
    let parquet = sweep.format.parquet();
    let staging = crate::app::driver::claim_output(out_dir, force)?;
    let selected: Vec<u64> = sweep.selected(shard).collect();
    let pool = crate::base::exec::pool(threads).map_err(RunError::Failed)?;
    // The first failing run stops the sweep (runs not started are not started), named by its
    // number and settings: a clash between values of a large sweep shows only here.
    let results: Result<Vec<Vec<Option<f64>>>, RunError> = pool.install(|| {
        selected
            .par_iter()
            .map(|&i| {
                let r = sweep.run_at(i);
                let out = run_kpis(&sweep.scenario, Overrides { sets: r.sets.clone(), seed: Some(r.seed), steps: sweep.steps, ..Default::default() }).map_err(|e| match e {
                    RunError::Input(errors) => {
                        let which = r.sets.iter().map(FieldSet::shown).collect::<Vec<_>>().join(", ");
                        RunError::Input(InputErrors(errors.0.into_iter().map(|x| InputError { file: sweep.file.clone(), location: Location::Field("axes".into()), message: format!("run {} ({which}): {x}", r.run) }).collect()))
                    }
                    e => e,
                });
                progress();
                out
            })
            .collect()
    });
    let results = results?;
    let runs: Vec<SweepRun> = selected.iter().map(|&i| sweep.run_at(i)).collect();
    let rows: Vec<SweepRow> = runs.iter().zip(results).map(|(r, kpis)| SweepRow { run: r.run, seed: r.seed, values: r.sets.iter().map(|s| s.value.as_str()).collect(), kpis }).collect();
    write_sweep_table(staging.path(), &sweep.axes, &rows, parquet).map_err(RunError::Failed)?;
    crate::app::driver::commit_output(staging)?;
    Ok(selected.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweep(values: &[&[f64]], seeds: u64) -> Sweep {
        let values: Vec<Vec<FieldSet>> = values.iter().enumerate().map(|(i, vs)| vs.iter().map(|v| FieldSet { path: ["a", "b", "c"][i].into(), value: v.to_string() }).collect()).collect();
        let run_count = values.iter().map(|v| v.len() as u64).product::<u64>() * seeds;
        Sweep { file: "s.ron".into(), scenario: "x.ron".into(), name: "s".into(), axes: vec![], steps: None, values, seeds, base_seed: 10, run_count, format: Default::default() }
    }

    #[test]
    fn runs_vary_the_last_axis_fastest_and_the_seed_faster() {
        let s = sweep(&[&[1.0, 2.0], &[0.5, 0.25, 0.0]], 1);
        let text: Vec<String> = (0..s.run_count).map(|i| s.run_at(i).sets.iter().map(FieldSet::to_string).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(text, ["a=1 b=0.5", "a=1 b=0.25", "a=1 b=0", "a=2 b=0.5", "a=2 b=0.25", "a=2 b=0"]);
        assert_eq!(sweep(&[], 1).run_count, 1, "no axes: the scenario itself");
        let s = sweep(&[&[1.0, 2.0]], 3);
        let runs: Vec<(u64, String)> = (0..s.run_count).map(|i| s.run_at(i)).map(|r| (r.seed, r.sets[0].to_string())).collect();
        assert_eq!(runs[4], (11, "a=2".to_string()));
        // Runs are numbered, not listed: any run is computed alone.
        let big = sweep(&[&[0.0; 30], &[0.0; 30], &[0.0; 30]], 1);
        assert_eq!(big.run_at(26_999).sets.len(), 3);
    }

    #[test]
    fn shards_partition_the_runs() {
        let s = sweep(&[&[0.0; 10]], 1);
        let mut seen: Vec<u64> = (0..3).flat_map(|k| s.selected(Some(Shard { index: k, count: 3 })).collect::<Vec<_>>()).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(s.selected(Some("1/4".parse().unwrap())).collect::<Vec<_>>(), [1, 5, 9]);
        assert!("4/4".parse::<Shard>().is_err() && "1".parse::<Shard>().is_err() && "a/2".parse::<Shard>().is_err());
    }
}
