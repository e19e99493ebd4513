//! `compare.csv`: one row per rule, the mean of each KPI over the seeds and its 95% confidence
//! half-width.

use std::path::Path;

/// The KPIs compared, in `compare.csv` column order (a contract: add, never rename).
/// `p2p_kwh_level_N`: energy matched at community level N (0 = whole community, then feeder,
/// street), for rules that clear in levels (`hierarchical`); empty for the others.
pub const KPIS: [&str; 28] = [
    "self_sufficiency", "self_consumption", "p2p_kwh", "community_bill", "baseline_bill", "savings_pct", "unserved_kwh", "baseline_unserved_kwh",
    "curtailed_kwh", "losses_kwh", "peak_grid_import_kw", "peak_grid_export_kw", "co2_avoided_kg", "p2p_price_mean", "p2p_price_sd", "trades",
    "gini_savings", "share_worse_off", "max_line_loading", "congested_steps", "grid_limit_curtailed_kwh", "grid_limit_shed_kwh",
    "voltage_limited_steps", "p2p_losses_kwh", "network_fees", "p2p_kwh_level_0", "p2p_kwh_level_1", "p2p_kwh_level_2",
];

/// Per rule: (rule, seeds, [(mean, ci95)] per KPI).
pub type Table = Vec<(&'static str, u32, Vec<(Option<f64>, Option<f64>)>)>;

/// Writes the table as `compare.csv`: `rule,seeds`, the KPIs, then each KPI's `_ci95`.
pub fn write_compare_csv(path: &Path, table: &Table) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(path)?;
    let mut header = vec!["rule".to_string(), "seeds".to_string()];
    header.extend(KPIS.iter().map(|k| k.to_string()));
    header.extend(KPIS.iter().map(|k| format!("{k}_ci95")));
    w.write_record(&header)?;
    let fmt = |v: Option<f64>| v.map(|x| x.to_string()).unwrap_or_default();
    for (rule, seeds, cols) in table {
        let mut row = vec![rule.to_string(), seeds.to_string()];
        row.extend(cols.iter().map(|(m, _)| fmt(*m)));
        row.extend(cols.iter().map(|(_, ci)| fmt(*ci)));
        w.write_record(&row)?;
    }
    w.flush()
}
