//! Everything a command leaves on disk, written from here alone: the staging folder renamed
//! into place when complete, the streamed rows, the tables and summary at the end, the HTML
//! reports, `compare.csv`, and the grid's JSON exports.

pub mod columnar;
pub mod communities;
pub mod compare;
pub mod grid_export;
pub mod recorder;
pub mod format;
pub mod replay;
pub mod report;
pub mod staging;
pub mod summary;
pub mod sweep;
pub mod tables;

use crate::scenario::Scenario;
use crate::sim::SimOutcome;
use std::path::Path;

/// Creates `dir/ledger.jsonl` for a ledger under `cfg` to stream its blocks to, or `None` when
/// the config does not write it (`write_jsonl` off: output level `aggregate`, or the ledger's
/// head only).
pub fn ledger_file(dir: &Path, cfg: &crate::ledger::LedgerConfig) -> std::io::Result<Option<std::fs::File>> {
    cfg.write_jsonl.then(|| std::fs::File::create(dir.join("ledger.jsonl"))).transpose()
}

/// The error of a file that could not be written.
fn failed(file: &'static str) -> impl Fn(std::io::Error) -> String {
    move |e| format!("writing {file}: {e}")
}

/// Writes a run's files at its end into `dir` (`timeseries.csv`, `trades.csv` and
/// `ledger.jsonl` were streamed there while it ran): `households.csv`, `communities.csv`,
/// `switches.csv` and `referendums.csv` (runs with communities), `topology.json`,
/// `lines.csv`, `summary.json`, then `report.html` from them. The error names the file.
pub fn write_run_files(dir: &Path, s: &Scenario, outcome: &SimOutcome, summary: &summary::Summary) -> Result<(), String> {
    let parquet = s.format.parquet();
    tables::write_households(dir, s, &outcome.households, outcome.communities.as_ref().map(|(c, _, m)| (c, m)), parquet).map_err(|e| e.to_string())?;
    if let Some((c, _, _)) = &outcome.communities {
        communities::write_csv(dir, c).map_err(failed("communities.csv"))?;
        communities::write_switches(dir, s, c).map_err(failed("switches.csv"))?;
        communities::write_referendums(dir, c).map_err(failed("referendums.csv"))?;
    }
    tables::write_topology(dir, s).map_err(failed("topology.json"))?;
    tables::write_lines(dir, s, &outcome.lines, &outcome.limits, outcome.phases.as_ref(), parquet).map_err(|e| e.to_string())?;
    if let Some(p) = &outcome.phases {
        tables::write_buses(dir, s, p, parquet).map_err(|e| e.to_string())?;
    }
    let json = serde_json::to_vec_pretty(summary).map_err(|e| format!("writing summary.json: {e}"))?;
    staging::write_file(dir, "summary.json", &json).map_err(failed("summary.json"))?;
    report::write_run_report(dir).map_err(|e| format!("writing report.html: {e}"))
}
