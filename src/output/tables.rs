//! The run's tables at its end: `households.csv`, `lines.csv` and `topology.json`.

use crate::household::Wallet;
use crate::scenario::{LoadDef, Scenario};
use crate::sim::HouseholdResult;
use std::path::Path;

pub fn write_topology(dir: &Path, s: &Scenario) -> std::io::Result<()> {
    let mut w = std::io::BufWriter::new(std::fs::File::create(dir.join("topology.json"))?);
    s.topology.write_json(&mut w).map_err(std::io::Error::other)?;
    std::io::Write::flush(&mut w)
}

/// Columns of `lines.csv` (a contract: add, never rename). Flows are absolute kW.
pub const LINE_COLUMNS: [&str; 10] = ["line", "from", "to", "capacity_kw", "max_flow_kw", "mean_flow_kw", "congested_steps", "losses_kwh", "length_m", "max_loading"];

pub fn write_lines(dir: &Path, s: &Scenario, stats: &crate::grid::network::LineStats, limits: &crate::grid::network::LimitStats) -> std::io::Result<()> {
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
            limits.congested_steps_by_line.get(k).copied().unwrap_or(0).to_string(),
            format!("{:.6}", stats.losses_kwh.get(k).copied().unwrap_or(0.0)),
            format!("{:.3}", l.length_m),
            format!("{:.6}", max / l.capacity_kw),
        ])?;
    }
    w.flush()
}

/// Columns of `households.csv` (a contract: add, never rename).
pub const HOUSEHOLD_COLUMNS: [&str; 70] = [
    "household", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_bought_kwh", "p2p_sold_kwh", "grid_import_kwh", "grid_export_kwh",
    "battery_charge_kwh", "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "bill", "baseline_bill", "savings", "p2p_paid",
    "p2p_received", "grid_paid", "grid_received", "baseline_unserved_kwh", "kwp", "battery_kwh", "soc_start_kwh", "soc_end_kwh", "load_source",
    "node", "fees_paid", "rewards_received", "loss_of_load_hours", "baseline_loss_of_load_hours", "network_fees_paid",
    "data_source", "synthetic", "member_of", "community_days", "switches", "community_received", "community_contributed",
    "community_battery_bought_kwh", "community_battery_sold_kwh", "community_battery_paid", "community_battery_received",
    "supply_charge", "demand_charge", "battery_cycles", "appliance_kwh", "shifted_kwh",
    "ev_kwh", "ev_shortfall_kwh", "ev_v2h_kwh", "ev_away_kwh", "ev_km", "ev_short_departures",
    "battery_grid_charge_kwh", "battery_capacity_end_kwh", "forecast_mae_kwh", "ev_soc_start_kwh", "ev_soc_end_kwh",
    "heat_pump_kwh", "hot_water_kwh", "comfort_violation_hours", "spf", "heat_delivered_kwh", "backup_heat_kwh", "cooling_kwh",
    "mean_indoor_temp_c", "min_indoor_temp_c", "design_heat_load_kw", "hot_water_cold_draws", "hot_water_short_kwh",
];

/// `communities`: the run's communities and memberships at the end, when it has them (else the
/// community columns are empty or zero).
pub fn write_households(dir: &Path, s: &Scenario, main: &[HouseholdResult], communities: Option<(&crate::community::Communities, &crate::market::membership::Memberships)>) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("households.csv"))?;
    w.write_record(HOUSEHOLD_COLUMNS)?;
    for (h, r) in s.households.iter().zip(main) {
        let b = &r.baseline;
        let m = &r.totals;
        let Wallet { p2p_paid, p2p_received, grid_paid, grid_received, fees_paid, rewards_received, network_fees_paid, community_received, community_contributed, community_battery_paid, community_battery_received, supply_charges, demand_charges, .. } = r.wallet;
        let i = r.index as usize;
        let member_of = communities.and_then(|(c, m)| m.of(r.index).map(|k| c.config.communities[k as usize].id.clone())).unwrap_or_default();
        let community_days = communities.map_or(0.0, |(c, _)| c.member_steps[i] as f64 * s.frame.step_hours() / 24.0);
        let switches = communities.map_or(0, |(c, _)| c.switches[i]);
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
        let ev = r.vehicle.unwrap_or_default();
        // Heat pump columns: empty for a house without one.
        let heat = |f: fn(&crate::household::heating::HeatingTotals, f64) -> f64| r.heating.map(|(t, d)| f(&t, d).to_string()).unwrap_or_default();
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
            member_of,
            community_days.to_string(),
            switches.to_string(),
            community_received.to_decimal_string(),
            community_contributed.to_decimal_string(),
            m.community_battery_bought_kwh.to_string(),
            m.community_battery_sold_kwh.to_string(),
            community_battery_paid.to_decimal_string(),
            community_battery_received.to_decimal_string(),
            supply_charges.to_decimal_string(),
            demand_charges.to_decimal_string(),
            // Equivalent full cycles: what it delivered (AC) over its capacity.
            h.battery.as_ref().filter(|b| b.capacity_kwh > 0.0).map_or(0.0, |b| m.battery_discharge_kwh / b.capacity_kwh).to_string(),
            m.appliance_kwh.to_string(),
            m.shifted_kwh.to_string(),
            ev.charged_kwh.to_string(),
            ev.shortfall_kwh.to_string(),
            ev.v2h_kwh.to_string(),
            ev.away_kwh.to_string(),
            ev.km.to_string(),
            ev.short_departures.to_string(),
            m.battery_grid_charge_kwh.to_string(),
            r.battery_capacity_end_kwh.map(|c| c.to_string()).unwrap_or_default(),
            r.forecast_errors.map(|e| (e.abs_error_kwh / e.steps as f64).to_string()).unwrap_or_default(),
            r.vehicle.map(|v| v.soc_start_kwh.to_string()).unwrap_or_default(),
            r.vehicle.map(|v| v.soc_end_kwh.to_string()).unwrap_or_default(),
            m.heat_pump_kwh.to_string(),
            m.hot_water_kwh.to_string(),
            heat(|t, _| t.comfort_violation_hours),
            r.heating.and_then(|(t, _)| t.spf()).map(|x| x.to_string()).unwrap_or_default(),
            heat(|t, _| t.heat_kwh + t.hot_water_heat_kwh),
            heat(|t, _| t.backup_heat_kwh),
            heat(|t, _| t.cooling_kwh),
            heat(|t, _| if t.steps > 0 { t.indoor_sum_c / t.steps as f64 } else { f64::NAN }),
            heat(|t, _| t.indoor_min_c),
            heat(|_, design_w| design_w / 1000.0),
            r.hot_water.map(|t| t.cold_draws.to_string()).unwrap_or_default(),
            r.hot_water.map(|t| t.short_kwh.to_string()).unwrap_or_default(),
        ];
        w.write_record(&row)?;
    }
    w.flush()
}
