//! The run's tables at its end: `households` and `lines` (CSV, and Parquet by the format), and
//! `topology.json`.

use super::columnar::{currency_label, Cell, ColumnType, TableSchema, TableSink};
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

/// Columns `lines.csv` adds when the network is modelled per phase: each phase's highest
/// current over the line's rating, its losses, and the rating.
pub const LINE_PHASE_COLUMNS: [&str; 7] = ["max_loading_a", "max_loading_b", "max_loading_c", "losses_a_kwh", "losses_b_kwh", "losses_c_kwh", "rating_a"];

/// Writes `lines.csv` (and `lines.parquet` with `parquet`), with the per-phase columns when
/// `phases` is given.
pub fn write_lines(dir: &Path, s: &Scenario, stats: &crate::grid::network::LineStats, limits: &crate::grid::network::LimitStats, phases: Option<&crate::grid::network::PhaseStats>, parquet: bool) -> std::io::Result<()> {
    let kind = |name: &str| match name {
        "line" | "from" | "to" => ColumnType::Id,
        "congested_steps" => ColumnType::Int,
        _ => ColumnType::Float,
    };
    let columns: Vec<&str> = LINE_COLUMNS.iter().chain(phases.map_or(&[][..], |_| &LINE_PHASE_COLUMNS[..])).copied().collect();
    let mut sink = TableSink::create(dir, "lines", &TableSchema::new(&columns, kind), true, parquet, currency_label(s.currency.as_deref()), &[])?;
    let v_phase = s.network.nominal_voltage_v / 3f64.sqrt();
    let g = &s.topology.graph;
    let steps = stats.steps.max(1) as f64;
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
        let (l, k) = (&g[e], e.index());
        let max = stats.max_flow_kw.get(k).copied().unwrap_or(0.0);
        let mut row = vec![
            Cell::Text(&l.id),
            Cell::Text(&g[a].id),
            Cell::Text(&g[b].id),
            Cell::Float(l.capacity_kw),
            Cell::Fixed(max, 6),
            Cell::Fixed(stats.sum_abs_flow_kw.get(k).copied().unwrap_or(0.0) / steps, 6),
            Cell::Int(limits.congested_steps_by_line.get(k).copied().unwrap_or(0) as i64),
            Cell::Fixed(stats.losses_kwh.get(k).copied().unwrap_or(0.0), 6),
            Cell::Fixed(l.length_m, 3),
            Cell::Fixed(max / l.capacity_kw, 6),
        ];
        if let Some(p) = phases {
            let (loading, losses) = (p.max_loading[k], p.losses_kwh[k]);
            row.extend(loading.iter().map(|x| Cell::Fixed(*x, 6)));
            row.extend(losses.iter().map(|x| Cell::Fixed(*x, 6)));
            row.push(Cell::Fixed(l.max_i_a.unwrap_or(l.capacity_kw * 1000.0 / (3.0 * v_phase)), 3));
        }
        sink.push(&row)?;
    }
    sink.finish()
}

/// Columns of `buses.csv`, written when the network is modelled per phase (a contract: add,
/// never rename): each bus's lowest and highest phase voltage, its highest voltage unbalance
/// factor, and the steps in which any phase was outside the voltage band (below it, above it).
pub const BUS_COLUMNS: [&str; 15] = [
    "bus", "kind", "x_m", "y_m", "min_voltage_a_pu", "max_voltage_a_pu", "min_voltage_b_pu", "max_voltage_b_pu", "min_voltage_c_pu", "max_voltage_c_pu", "max_unbalance_pct",
    "steps_outside_band", "households", "steps_below_band", "steps_above_band",
];

/// Writes `buses.csv` (and `buses.parquet` with `parquet`).
pub fn write_buses(dir: &Path, s: &Scenario, p: &crate::grid::network::PhaseStats, parquet: bool) -> std::io::Result<()> {
    let kind = |name: &str| match name {
        "bus" | "kind" => ColumnType::Id,
        "steps_outside_band" | "households" | "steps_below_band" | "steps_above_band" => ColumnType::Int,
        _ => ColumnType::Float,
    };
    let mut sink = TableSink::create(dir, "buses", &TableSchema::new(&BUS_COLUMNS, kind), true, parquet, currency_label(s.currency.as_deref()), &[])?;
    let g = &s.topology.graph;
    let mut households = vec![0i64; g.node_count()];
    for h in &s.households {
        households[h.node.index()] += 1;
    }
    let reach = s.topology.reachable_from_root();
    for n in g.node_indices() {
        let (node, i) = (&g[n], n.index());
        if !reach[i] || p.max_voltage_pu[i][0] == 0.0 {
            continue; // never solved (every step's sweep failed)
        }
        let (low, high) = (p.min_voltage_pu[i], p.max_voltage_pu[i]);
        sink.push(&[
            Cell::Text(&node.id),
            Cell::Text(node.kind.label()),
            Cell::Fixed(node.x_m, 3),
            Cell::Fixed(node.y_m, 3),
            Cell::Fixed(low[0], 6),
            Cell::Fixed(high[0], 6),
            Cell::Fixed(low[1], 6),
            Cell::Fixed(high[1], 6),
            Cell::Fixed(low[2], 6),
            Cell::Fixed(high[2], 6),
            Cell::Fixed(p.max_unbalance_pct[i], 4),
            Cell::Int(p.steps_outside_band[i] as i64),
            Cell::Int(households[i]),
            Cell::Int(p.steps_below_band[i] as i64),
            Cell::Int(p.steps_above_band[i] as i64),
        ])?;
    }
    sink.finish()
}

/// Columns of `households.csv` (a contract: add, never rename).
pub const HOUSEHOLD_COLUMNS: [&str; 78] = [
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
    "export_limited_kwh", "inverter_curtailed_kwh", "inverter_q_kvarh", "inverter_absorbed_kvarh", "baseline_export_limited_kwh", "baseline_inverter_curtailed_kwh",
    "export_limited_value", "inverter_curtailed_value",
];

/// Parquet types of `households.csv`'s columns (see `columnar`).
fn household_column_type(name: &str) -> ColumnType {
    match name {
        "household" | "load_source" | "node" | "data_source" | "member_of" => ColumnType::Id,
        "synthetic" => ColumnType::Bool,
        "switches" | "ev_short_departures" | "hot_water_cold_draws" => ColumnType::Int,
        "bill" | "baseline_bill" | "savings" | "p2p_paid" | "p2p_received" | "grid_paid" | "grid_received" | "fees_paid" | "rewards_received" | "network_fees_paid"
        | "community_received" | "community_contributed" | "community_battery_paid" | "community_battery_received" | "supply_charge" | "demand_charge" | "export_limited_value"
        | "inverter_curtailed_value" => ColumnType::Money,
        _ => ColumnType::Float,
    }
}

/// `communities`: the run's communities and memberships at the end, when it has them (else the
/// community columns are empty or zero). Writes `households.csv` (and `households.parquet`
/// with `parquet`).
pub fn write_households(dir: &Path, s: &Scenario, main: &[HouseholdResult], communities: Option<(&crate::community::Communities, &crate::market::membership::Memberships)>, parquet: bool) -> std::io::Result<()> {
    use Cell::{Float, Money};
    let mut sink = TableSink::create(dir, "households", &TableSchema::new(&HOUSEHOLD_COLUMNS, household_column_type), true, parquet, currency_label(s.currency.as_deref()), &[])?;
    for (h, r) in s.households.iter().zip(main) {
        let b = &r.baseline;
        let m = &r.totals;
        let Wallet { p2p_paid, p2p_received, grid_paid, grid_received, fees_paid, rewards_received, network_fees_paid, community_received, community_contributed, community_battery_paid, community_battery_received, supply_charges, demand_charges, .. } = r.wallet;
        let i = r.index as usize;
        let member_of = communities.and_then(|(c, m)| m.of(r.index).map(|k| c.config.communities[k as usize].id.as_str()));
        let community_days = communities.map_or(0.0, |(c, _)| c.member_steps[i] as f64 * s.frame.step_hours() / 24.0);
        let switches = communities.map_or(0, |(c, _)| c.switches[i]);
        let source = match h.load {
            LoadDef::Archetype { kind, .. } => format!("{kind:?}"),
            LoadDef::Profile { series } if s.profiles.series[series].source.starts_with("ausgrid") => "ausgrid".to_string(),
            LoadDef::Profile { .. } => "profile".to_string(),
        };
        let data_source = match h.load {
            LoadDef::Profile { series } => s.profiles.series[series].source.as_str(),
            LoadDef::Archetype { .. } => "",
        };
        let ev = r.vehicle.unwrap_or_default();
        // Heat pump columns: empty for a house without one.
        let heat = |f: fn(&crate::household::heating::HeatingTotals, f64) -> f64| Cell::opt(r.heating.map(|(t, d)| f(&t, d)));
        let synthetic = matches!(h.load, LoadDef::Profile { series } if s.profiles.series[series].synthetic);
        let row = [
            Cell::Text(&h.id),
            Float(m.pv_kwh),
            Float(m.load_kwh),
            Float(m.self_consumed_kwh),
            Float(m.p2p_bought_kwh),
            Float(m.p2p_sold_kwh),
            Float(m.grid_import_kwh),
            Float(m.grid_export_kwh),
            Float(m.battery_charge_kwh),
            Float(m.battery_discharge_kwh),
            Float(m.curtailed_kwh),
            Float(m.unserved_kwh),
            Money(r.wallet.bill()),
            Money(b.wallet.bill()),
            Money(b.wallet.bill() - r.wallet.bill()),
            Money(p2p_paid),
            Money(p2p_received),
            Money(grid_paid),
            Money(grid_received),
            Float(b.totals.unserved_kwh),
            Float(h.pv.map(|p| p.kwp).unwrap_or(0.0)),
            Float(h.battery.as_ref().map(|b| b.capacity_kwh).unwrap_or(0.0)),
            Cell::opt(r.battery_soc_kwh.map(|(a, _)| a)),
            Cell::opt(r.battery_soc_kwh.map(|(_, b)| b)),
            Cell::Text(&source),
            Cell::Text(&s.topology.graph[h.node].id),
            Money(fees_paid),
            Money(rewards_received),
            Float(r.loss_of_load_steps as f64 * s.frame.step_hours()),
            Float(b.loss_of_load_steps as f64 * s.frame.step_hours()),
            Money(network_fees_paid),
            if data_source.is_empty() { Cell::Null } else { Cell::Text(data_source) },
            Cell::Bool(synthetic),
            member_of.map_or(Cell::Null, Cell::Text),
            Float(community_days),
            Cell::Int(switches as i64),
            Money(community_received),
            Money(community_contributed),
            Float(m.community_battery_bought_kwh),
            Float(m.community_battery_sold_kwh),
            Money(community_battery_paid),
            Money(community_battery_received),
            Money(supply_charges),
            Money(demand_charges),
            // Equivalent full cycles: what it delivered (AC) over its capacity.
            Float(h.battery.as_ref().filter(|b| b.capacity_kwh > 0.0).map_or(0.0, |b| m.battery_discharge_kwh / b.capacity_kwh)),
            Float(m.appliance_kwh),
            Float(m.shifted_kwh),
            Float(ev.charged_kwh),
            Float(ev.shortfall_kwh),
            Float(ev.v2h_kwh),
            Float(ev.away_kwh),
            Float(ev.km),
            Cell::Int(ev.short_departures as i64),
            Float(m.battery_grid_charge_kwh),
            Cell::opt(r.battery_capacity_end_kwh),
            Cell::opt(r.forecast_errors.map(|e| e.abs_error_kwh / e.steps as f64)),
            Cell::opt(r.vehicle.map(|v| v.soc_start_kwh)),
            Cell::opt(r.vehicle.map(|v| v.soc_end_kwh)),
            Float(m.heat_pump_kwh),
            Float(m.hot_water_kwh),
            heat(|t, _| t.comfort_violation_hours),
            Cell::opt(r.heating.and_then(|(t, _)| t.spf())),
            heat(|t, _| t.heat_kwh + t.hot_water_heat_kwh),
            heat(|t, _| t.backup_heat_kwh),
            heat(|t, _| t.cooling_kwh),
            heat(|t, _| if t.steps > 0 { t.indoor_sum_c / t.steps as f64 } else { f64::NAN }),
            heat(|t, _| t.indoor_min_c),
            heat(|_, design_w| design_w / 1000.0),
            r.hot_water.map_or(Cell::Null, |t| Cell::Int(t.cold_draws as i64)),
            Cell::opt(r.hot_water.map(|t| t.short_kwh)),
            Float(m.export_limited_kwh),
            Float(m.inverter_curtailed_kwh),
            Float(m.inverter_q_kvarh),
            Float(m.inverter_absorbed_kvarh),
            Float(b.totals.export_limited_kwh),
            Float(b.totals.inverter_curtailed_kwh),
            Money(m.export_limited_value),
            Money(m.inverter_curtailed_value),
        ];
        sink.push(&row)?;
    }
    sink.finish()
}
