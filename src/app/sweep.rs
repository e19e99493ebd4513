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
use crate::output::sweep::{write_sweep_csv, SweepRow};
use crate::base::error::{InputError, InputErrors, Location};
use crate::output::staging::Staging;
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

/// A sweep, read and checked.
#[derive(Debug)]
pub struct Sweep {
    pub file: PathBuf,
    pub scenario: PathBuf,
    pub name: String,
    pub axes: Vec<String>,
    pub steps: Option<u64>,
    /// Every run of the sweep, in order.
    pub runs: Vec<SweepRun>,
}

fn sweep_error(path: &Path, location: Location, message: String) -> InputErrors {
    InputErrors(vec![InputError { file: path.into(), location, message }])
}

impl Sweep {
    /// Reads a sweep file and checks every run's scenario (so a typo fails before hours of work).
    pub fn load(path: &Path) -> Result<Sweep, InputErrors> {
        let text = std::fs::read_to_string(path).map_err(|e| sweep_error(path, Location::File, format!("cannot read sweep file: {e}")))?;
        let file: SweepFile = crate::scenario::ron_options().from_str(&text).map_err(|e| sweep_error(path, Location::LineColumn { line: e.span.start.line, column: e.span.start.col }, e.code.to_string()))?;
        if file.seeds == 0 {
            return Err(sweep_error(path, Location::Field("seeds".into()), "must be at least 1".into()));
        }
        for (i, a) in file.axes.iter().enumerate() {
            if a.values.is_empty() {
                return Err(sweep_error(path, Location::Field(format!("axes[{i}].values")), "needs at least one value".into()));
            }
        }
        let scenario = path.parent().unwrap_or(Path::new(".")).join(&file.scenario);
        let base = Scenario::load(&scenario, &Overrides { steps: file.steps, ..Default::default() })?;
        let combos = combinations(&file.axes);
        let mut runs = Vec::with_capacity(combos.len() * file.seeds as usize);
        for sets in combos {
            for k in 0..file.seeds as u64 {
                runs.push(SweepRun { run: runs.len() as u64, seed: base.seed + k, sets: sets.clone() });
            }
        }
        // Each combination validated once (seeds change no field), every problem reported at
        // once. A value that fails in every combination it is part of is reported as that axis
        // value (with the scenario's message for it); other failures as the runs that fail
        // (values fine together with some settings may clash with others).
        let failed: Vec<(&SweepRun, InputErrors)> = runs
            .iter()
            .filter(|r| r.seed == base.seed)
            .filter_map(|r| Scenario::load(&scenario, &Overrides { sets: r.sets.clone(), steps: Some(1), ..Default::default() }).err().map(|e| (r, e)))
            .collect();
        if !failed.is_empty() {
            let mut errors = Vec::new();
            let mut explained = vec![false; failed.len()];
            for (i, a) in file.axes.iter().enumerate() {
                for (j, v) in a.values.iter().enumerate() {
                    let set = FieldSet { path: a.set.clone(), value: v.to_string() };
                    let with = |r: &SweepRun| r.sets.get(i) == Some(&set);
                    let in_all_failing = runs.iter().filter(|r| r.seed == base.seed && with(r)).all(|r| failed.iter().any(|(f, _)| f.run == r.run));
                    if !in_all_failing {
                        continue;
                    }
                    let why = Scenario::load(&scenario, &Overrides { sets: vec![set.clone()], steps: Some(1), ..Default::default() }).err().or_else(|| failed.iter().find(|(f, _)| with(f)).map(|(_, e)| e.clone()));
                    for (k, (f, _)) in failed.iter().enumerate() {
                        explained[k] |= with(f);
                    }
                    errors.extend(why.into_iter().flat_map(|e| e.0).map(|x| InputError { file: path.into(), location: Location::Field(format!("axes[{i}].values[{j}]")), message: format!("`{set}`: {x}") }));
                }
            }
            for ((r, e), _) in failed.iter().zip(&explained).filter(|(_, done)| !**done) {
                let which = r.sets.iter().map(FieldSet::to_string).collect::<Vec<_>>().join(", ");
                errors.extend(e.0.iter().map(|x| InputError { file: path.into(), location: Location::Field("axes".into()), message: format!("run {} ({which}): {x}", r.run) }));
            }
            return Err(InputErrors(errors));
        }
        let name = path.file_stem().map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
        Ok(Sweep { file: path.into(), scenario, name, axes: file.axes.iter().map(|a| a.set.clone()).collect(), steps: file.steps, runs })
    }
}

/// Every combination of the axes' values, first axis slowest.
fn combinations(axes: &[Axis]) -> Vec<Vec<FieldSet>> {
    let mut out: Vec<Vec<FieldSet>> = vec![Vec::new()];
    for a in axes {
        out = out.into_iter().flat_map(|prefix| a.values.iter().map(move |v| [prefix.clone(), vec![FieldSet { path: a.set.clone(), value: v.to_string() }]].concat())).collect();
    }
    out
}

/// The runs a shard does.
pub fn select(runs: &[SweepRun], shard: Option<Shard>) -> Vec<&SweepRun> {
    runs.iter().filter(|r| shard.is_none_or(|s| r.run % s.count == s.index)).collect()
}

/// Runs the selected runs on `threads` threads and writes `out_dir/sweep.csv` atomically;
/// `progress` is told of each finished run.
pub fn run(sweep: &Sweep, shard: Option<Shard>, out_dir: &Path, threads: usize, progress: impl Fn() + Sync) -> Result<usize, RunError> {
    let selected = select(&sweep.runs, shard);
    let pool = crate::base::exec::pool(threads).map_err(RunError::Failed)?;
    let results: Vec<Result<Vec<Option<f64>>, RunError>> = pool.install(|| {
        selected
            .par_iter()
            .map(|r| {
                let out = run_kpis(&sweep.scenario, Overrides { sets: r.sets.clone(), seed: Some(r.seed), steps: sweep.steps, ..Default::default() });
                progress();
                out
            })
            .collect()
    });
    let results: Vec<Vec<Option<f64>>> = results.into_iter().collect::<Result<_, _>>()?;
    let rows: Vec<SweepRow> = selected.iter().zip(results).map(|(r, kpis)| SweepRow { run: r.run, seed: r.seed, values: r.sets.iter().map(|s| s.value.as_str()).collect(), kpis }).collect();
    let staging = Staging::create(out_dir).map_err(|e| RunError::Failed(format!("cannot create the output folder: {e}")))?;
    write_sweep_csv(&staging.path().join("sweep.csv"), &sweep.axes, &rows).map_err(|e| RunError::Failed(format!("writing sweep.csv: {e}")))?;
    staging.commit().map_err(|e| RunError::Failed(format!("moving results into place: {e}")))?;
    Ok(selected.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis(set: &str, values: &[f64]) -> Axis {
        Axis { set: set.into(), values: values.iter().map(|v| AxisValue::Number(*v)).collect() }
    }

    #[test]
    fn combinations_vary_the_last_axis_fastest() {
        let c = combinations(&[axis("a", &[1.0, 2.0]), axis("b", &[0.5, 0.25, 0.0])]);
        let text: Vec<String> = c.iter().map(|s| s.iter().map(FieldSet::to_string).collect::<Vec<_>>().join(" ")).collect();
        assert_eq!(text, ["a=1 b=0.5", "a=1 b=0.25", "a=1 b=0", "a=2 b=0.5", "a=2 b=0.25", "a=2 b=0"]);
        assert_eq!(combinations(&[]).len(), 1, "no axes: the scenario itself");
    }

    #[test]
    fn shards_partition_the_runs() {
        let runs: Vec<SweepRun> = (0..10).map(|run| SweepRun { run, seed: 0, sets: vec![] }).collect();
        let mut seen: Vec<u64> = (0..3).flat_map(|k| select(&runs, Some(Shard { index: k, count: 3 })).into_iter().map(|r| r.run)).collect();
        seen.sort();
        assert_eq!(seen, (0..10).collect::<Vec<_>>());
        assert_eq!(select(&runs, Some("1/4".parse().unwrap())).iter().map(|r| r.run).collect::<Vec<_>>(), [1, 5, 9]);
        assert!("4/4".parse::<Shard>().is_err() && "1".parse::<Shard>().is_err() && "a/2".parse::<Shard>().is_err());
    }
}
