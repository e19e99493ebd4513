//! `compare.csv`: one row per rule, the mean of each KPI over the seeds and its 95% confidence
//! half-width. `sweep.csv` has the same KPIs, one row per run.
//!
//! Inequality of household savings uses a Gini coefficient normalised by the mean *absolute*
//! saving, G = ΣᵢΣⱼ|xᵢ − xⱼ| / (2n²·mean|x|): equal to the usual Gini when no one loses, still
//! defined (finite, ≥ 0, may exceed 1) when some households save and others lose, and 0 when
//! every household saves the same. It is undefined (empty) only when every saving is 0.

use super::columnar::{currency_label, Cell, ColumnType, TableSchema, TableSink};
use super::summary::Summary;
use std::path::Path;

/// Two-sided 95% Student t quantiles for 1..=30 degrees of freedom (then the normal 1.96).
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080,
    2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
];


/// The KPIs compared, in `compare.csv` column order (a contract: add, never rename).
/// `p2p_kwh_level_N`: energy matched at community level N (0 = whole community, then feeder,
/// street), for rules that clear in levels (`hierarchical`); empty for the others.
pub const KPIS: [&str; 49] = [
    "self_sufficiency", "self_consumption", "p2p_kwh", "community_bill", "baseline_bill", "savings_pct", "unserved_kwh", "baseline_unserved_kwh",
    "curtailed_kwh", "losses_kwh", "peak_grid_import_kw", "peak_grid_export_kw", "co2_avoided_kg", "p2p_price_mean", "p2p_price_sd", "trades",
    "gini_savings", "share_worse_off", "max_line_loading", "congested_steps", "grid_limit_curtailed_kwh", "grid_limit_shed_kwh",
    "voltage_limited_steps", "p2p_losses_kwh", "network_fees", "p2p_kwh_level_0", "p2p_kwh_level_1", "p2p_kwh_level_2",
    "savings", "baseline_import_cost", "savings_pct_of_baseline_import_cost", "co2_avoided_vs_baseline_kg",
    // Runs with communities (empty otherwise): moves by households' choice, referendums passed,
    // communities that defaulted, members of the largest at the end.
    "community_moves", "referendums_passed", "communities_defaulted", "largest_community_members",
    // Flexibility: the households' grid import, electric vehicles' home charging, what they
    // lacked at departures and gave back to their houses, grid energy bought into batteries,
    // appliance energy moved later, the tariff's fixed charges.
    "grid_import_kwh", "ev_kwh", "ev_shortfall_kwh", "ev_v2h_kwh", "battery_grid_charge_kwh", "shifted_kwh", "supply_charges", "demand_charges",
    // Heat: heat pumps' and hot-water tanks' electricity, the seasonal performance factor,
    // hours outside the comfort band, the heat-pump houses' mean indoor temperature.
    "heat_pump_kwh", "hot_water_kwh", "spf", "comfort_violation_hours", "mean_indoor_temp_c",
];

/// Gini of savings normalised by the mean absolute saving (see the module docs).
pub fn gini(savings: &[f64]) -> Option<f64> {
    let n = savings.len() as f64;
    let mean_abs = savings.iter().map(|x| x.abs()).sum::<f64>() / n;
    if savings.is_empty() || mean_abs == 0.0 {
        return None;
    }
    let mut x = savings.to_vec();
    x.sort_by(f64::total_cmp);
    // Σᵢ Σⱼ |xᵢ − xⱼ| = 2 Σᵢ (2i − n + 1)·x₍ᵢ₎ over the sorted values (0-based i).
    let pairs: f64 = x.iter().enumerate().map(|(i, v)| (2.0 * i as f64 - n + 1.0) * v).sum::<f64>() * 2.0;
    Some(pairs / (2.0 * n * n * mean_abs))
}

/// Mean and 95% confidence half-width (Student t) of the present values.
pub fn mean_ci95(values: &[Option<f64>]) -> (Option<f64>, Option<f64>) {
    let v: Vec<f64> = values.iter().flatten().copied().collect();
    if v.is_empty() {
        return (None, None);
    }
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    if v.len() < 2 {
        return (Some(mean), None);
    }
    let sd = (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = T_975.get(v.len() - 2).copied().unwrap_or(1.96);
    (Some(mean), Some(t * sd / n.sqrt()))
}

/// A run's [`KPIS`], from its summary and each household's savings against the baseline.
pub fn kpi_row(s: &Summary, savings: &[f64]) -> Vec<Option<f64>> {
    let worse = savings.iter().filter(|x| **x < 0.0).count() as f64 / savings.len().max(1) as f64;
    let level = |k: usize| s.p2p_kwh_by_level.as_ref().and_then(|l| l.get(k).copied());
    vec![
        s.self_sufficiency,
        s.self_consumption,
        Some(s.p2p_kwh),
        Some(s.community_bill),
        Some(s.baseline_bill),
        // Not where the grid-only bill is near zero (a share of it means nothing).
        s.savings_pct.filter(|_| s.baseline_bill.abs() >= SAVINGS_PCT_MIN_BILL_SHARE * s.baseline_import_cost && s.baseline_import_cost > 0.0),
        Some(s.unserved_kwh),
        Some(s.baseline_unserved_kwh),
        Some(s.curtailed_kwh),
        Some(s.losses_kwh),
        Some(s.peak_grid_import_kw),
        Some(s.peak_grid_export_kw),
        Some(s.co2_avoided_kg),
        s.p2p_price_mean,
        s.p2p_price_sd,
        Some(s.trades as f64),
        gini(savings),
        Some(worse),
        Some(s.max_line_loading),
        Some(s.congested_steps as f64),
        Some(s.grid_limit_curtailed_kwh),
        Some(s.grid_limit_shed_kwh),
        Some(s.voltage_limited_steps as f64),
        Some(s.p2p_losses_kwh),
        Some(s.network_fees),
        level(0),
        level(1),
        level(2),
        Some(s.savings),
        Some(s.baseline_import_cost),
        s.savings_pct_of_baseline_import_cost,
        Some(s.co2_avoided_vs_baseline_kg),
        s.competition.as_ref().map(|c| c.moves_by_choice as f64),
        s.competition.as_ref().map(|c| c.referendums_passed as f64),
        s.competition.as_ref().map(|c| c.communities_defaulted as f64),
        s.competition.as_ref().map(|c| f64::from(c.largest_community_members)),
        Some(s.grid_import_kwh),
        Some(s.ev_kwh),
        Some(s.ev_shortfall_kwh),
        Some(s.ev_v2h_kwh),
        Some(s.battery_grid_charge_kwh),
        Some(s.shifted_kwh),
        Some(s.supply_charges),
        Some(s.demand_charges),
        Some(s.heat_pump_kwh),
        Some(s.hot_water_kwh),
        s.spf,
        Some(s.comfort_violation_hours),
        s.mean_indoor_temp_c,
    ]
}

/// The position of a KPI in [`KPIS`].
pub fn kpi_index(name: &str) -> usize {
    KPIS.iter().position(|k| *k == name).unwrap_or_else(|| panic!("{name} is not a KPI"))
}

/// A grid-only bill smaller than this share of the grid-only import cost is too close to zero
/// (export revenue nearly paying for the imports) for savings in percent of it to mean anything.
pub const SAVINGS_PCT_MIN_BILL_SHARE: f64 = 0.1;

/// One rule's KPIs over its seeds, each with its 95% confidence half-width: means, except the
/// savings in percent, which are ratios of the sums over the seeds (a mean of percentages
/// would weigh a seed with a tiny denominator like any other) and have no interval:
/// `savings_pct_of_baseline_import_cost` whenever the baseline imported, `savings_pct` only
/// where the grid-only bill is not near zero ([`SAVINGS_PCT_MIN_BILL_SHARE`]).
pub fn over_seeds(runs: &[&[Option<f64>]]) -> Vec<(Option<f64>, Option<f64>)> {
    let column = |c: usize| runs.iter().map(|r| r[c]).collect::<Vec<_>>();
    let mut cols: Vec<_> = (0..KPIS.len()).map(|c| mean_ci95(&column(c))).collect();
    let sum = |name: &str| column(kpi_index(name)).into_iter().sum::<Option<f64>>();
    let (savings, cost, bill) = (sum("savings"), sum("baseline_import_cost"), sum("baseline_bill"));
    cols[kpi_index("savings_pct_of_baseline_import_cost")] = (savings.zip(cost).filter(|(_, cost)| *cost > 0.0).map(|(s, cost)| s / cost * 100.0), None);
    let meaningful = |(_, bill): &(f64, f64)| cost.is_some_and(|c| bill.abs() >= SAVINGS_PCT_MIN_BILL_SHARE * c && c > 0.0);
    cols[kpi_index("savings_pct")] = (savings.zip(bill).filter(meaningful).map(|(s, bill)| s / bill.abs() * 100.0), None);
    cols
}

/// Per rule: (rule, seeds, [(mean, ci95)] per KPI).
pub type Table = Vec<(&'static str, u32, Vec<(Option<f64>, Option<f64>)>)>;

/// Writes the table as `compare.csv` (and `compare.parquet` with `parquet`): `rule,seeds`, the
/// KPIs, then each KPI's `_ci95`.
pub fn write_compare_table(dir: &Path, table: &Table, parquet: bool) -> std::io::Result<()> {
    let mut header = vec!["rule".to_string(), "seeds".to_string()];
    header.extend(KPIS.iter().map(|k| k.to_string()));
    header.extend(KPIS.iter().map(|k| format!("{k}_ci95")));
    let kind = |name: &str| match name {
        "rule" => ColumnType::Text,
        "seeds" => ColumnType::Int,
        _ => ColumnType::Float,
    };
    let mut sink = TableSink::create(dir, "compare", &TableSchema::new(&header, kind), true, parquet, currency_label(None), &[])?;
    for (rule, seeds, cols) in table {
        let mut row = vec![Cell::Text(rule), Cell::Int(i64::from(*seeds))];
        row.extend(cols.iter().map(|(m, _)| Cell::opt(*m)));
        row.extend(cols.iter().map(|(_, ci)| Cell::opt(*ci)));
        sink.push(&row)?;
    }
    sink.finish()
}

/// Writes `compare.csv` (and `compare.parquet` with `parquet`) and the comparison's
/// `report.html` into `dir`. The error names the file.
pub fn write_compare_files(dir: &Path, scenario: &str, currency: Option<&str>, table: &Table, parquet: bool) -> Result<(), String> {
    write_compare_table(dir, table, parquet).map_err(|e| e.to_string())?;
    let html = super::report::compare_html(scenario, currency, table).map_err(|e| format!("writing report.html: {e}"))?;
    std::fs::write(dir.join("report.html"), html).map_err(|e| format!("writing report.html: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_is_classic_for_gains_and_defined_for_losses() {
        assert_eq!(gini(&[1.0, 1.0, 1.0]), Some(0.0));
        // Classic Gini of (0, 0, 0, 4) is 0.75.
        assert!((gini(&[0.0, 0.0, 0.0, 4.0]).unwrap() - 0.75).abs() < 1e-12);
        let mixed = gini(&[-2.0, 1.0, 3.0]).unwrap();
        assert!(mixed.is_finite() && mixed > 0.0);
        assert_eq!(gini(&[0.0, 0.0]), None);
    }

    #[test]
    fn the_share_over_seeds_is_a_ratio_of_sums() {
        let row = |savings: f64, cost: f64| {
            let mut r = vec![None; KPIS.len()];
            let at = kpi_index;
            (r[at("savings")], r[at("baseline_import_cost")], r[at("savings_pct_of_baseline_import_cost")]) = (Some(savings), Some(cost), (cost > 0.0).then(|| savings / cost * 100.0));
            r[at("baseline_bill")] = Some(cost * 0.5);
            r
        };
        // 10 of 100, and 5 of 0.01 (500 times its import cost): the mean of the percentages is
        // 25,005%; the ratio of the sums 14.85%.
        let (a, b) = (row(10.0, 100.0), row(5.0, 0.01));
        let cols = over_seeds(&[&a, &b]);
        let share = cols[kpi_index("savings_pct_of_baseline_import_cost")];
        assert!((share.0.unwrap() - 15.0 / 100.01 * 100.0).abs() < 1e-9 && share.1.is_none(), "{share:?}");
        assert_eq!(cols[kpi_index("savings")].0, Some(7.5));
        let pct = cols[kpi_index("savings_pct")];
        assert!((pct.0.unwrap() - 15.0 / 50.005 * 100.0).abs() < 1e-9 && pct.1.is_none(), "{pct:?}");
    }

    #[test]
    fn savings_in_percent_of_a_near_zero_bill_are_not_reported() {
        let mut r = vec![None; KPIS.len()];
        // Export revenue pays for nearly all the imports: a bill of 0.5 on imports of 100.
        (r[kpi_index("savings")], r[kpi_index("baseline_import_cost")], r[kpi_index("baseline_bill")], r[kpi_index("savings_pct")]) = (Some(3.0), Some(100.0), Some(0.5), Some(600.0));
        let cols = over_seeds(&[&r]);
        assert_eq!(cols[kpi_index("savings_pct")], (None, None));
        assert_eq!(cols[kpi_index("savings_pct_of_baseline_import_cost")].0, Some(3.0));
    }

    #[test]
    fn confidence_interval_uses_student_t() {
        let (m, ci) = mean_ci95(&[Some(1.0), Some(2.0), Some(3.0)]);
        assert_eq!(m, Some(2.0));
        assert!((ci.unwrap() - 4.303 * 1.0 / 3f64.sqrt()).abs() < 1e-9);
        assert_eq!(mean_ci95(&[Some(5.0)]), (Some(5.0), None));
    }
}
