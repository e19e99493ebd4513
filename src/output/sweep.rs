//! `sweep.csv` (and `sweep.parquet`): one row per run of a sweep, its axes' values and the KPIs of `compare.csv`.

use super::compare::KPIS;
use super::columnar::{currency_label, Cell, ColumnType, TableSchema, TableSink};
use std::path::Path;

/// One run's row: its number, seed, the value it gave each axis, and its KPIs (in [`KPIS`] order).
pub struct SweepRow<'a> {
    pub run: u64,
    pub seed: u64,
    pub values: Vec<&'a str>,
    pub kpis: Vec<Option<f64>>,
}

/// Writes `sweep.csv` (and `sweep.parquet` with `parquet`) into `dir`: `run,seed`, one column
/// per axis (named by its field), then the KPIs.
/// The error names the file.
pub fn write_sweep_table(dir: &Path, axes: &[String], rows: &[SweepRow], parquet: bool) -> Result<(), String> {
    // Typed by position: an axis may be named like another column (`seed`).
    let mut columns = vec![("run".to_string(), ColumnType::UInt), ("seed".to_string(), ColumnType::UInt)];
    columns.extend(axes.iter().map(|a| (a.clone(), ColumnType::Text)));
    columns.extend(KPIS.iter().map(|k| (k.to_string(), ColumnType::Float)));
    let mut sink = TableSink::create(dir, "sweep", &TableSchema::from_columns(columns), true, parquet, currency_label(None), &[]).map_err(|e| e.to_string())?;
    for r in rows {
        let mut row = vec![Cell::UInt(r.run), Cell::UInt(r.seed)];
        row.extend(r.values.iter().map(|v| Cell::Text(v)));
        row.extend(r.kpis.iter().map(|v| Cell::opt(*v)));
        sink.push(&row).map_err(|e| e.to_string())?;
    }
    sink.finish().map_err(|e| e.to_string())
}
