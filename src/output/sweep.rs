//! `sweep.csv`: one row per run of a sweep, its axes' values and the KPIs of `compare.csv`.

use super::compare::KPIS;
use std::path::Path;

/// One run's row: its number, seed, the value it gave each axis, and its KPIs (in [`KPIS`] order).
pub struct SweepRow<'a> {
    pub run: u64,
    pub seed: u64,
    pub values: Vec<&'a str>,
    pub kpis: Vec<Option<f64>>,
}

/// Writes `sweep.csv`: `run,seed`, one column per axis (named by its field), then the KPIs.
pub fn write_sweep_csv(path: &Path, axes: &[String], rows: &[SweepRow]) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["run".to_string(), "seed".to_string()];
    header.extend(axes.iter().cloned());
    header.extend(KPIS.iter().map(|k| k.to_string()));
    w.write_record(&header)?;
    for r in rows {
        let mut row = vec![r.run.to_string(), r.seed.to_string()];
        row.extend(r.values.iter().map(|v| v.to_string()));
        row.extend(r.kpis.iter().map(|v| v.map(|x| x.to_string()).unwrap_or_default()));
        w.write_record(&row)?;
    }
    w.flush()
}
