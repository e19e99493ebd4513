//! `summary.json`: the run's headline figures, computed from the simulation's outcome.

use crate::base::money::Micros;
use crate::base::time::iso_with_offset;
use crate::scenario::Scenario;
use crate::sim::SimOutcome;
use serde::Serialize;
use std::collections::BTreeMap;

/// Provenance of a result: what produced it.
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    pub peergrid_version: &'static str,
    pub git_commit: Option<&'static str>,
    pub scenario_file: String,
    pub scenario_sha256: String,
    pub overrides: Vec<String>,
}

/// The version of `summary.json`'s layout: a field that changes meaning gets a new version.
pub const SUMMARY_SCHEMA_VERSION: u32 = 1;

/// `summary.json`. Field names are a contract: add, never rename.
/// How far `Forecast` batteries' forecasts of each step's net load (load − PV) were off, over
/// the steps after the first day: mean absolute error per household and step, kWh; the mean
/// absolute net load it compares with; their ratio (normalised MAE).
#[derive(Debug, Clone, Serialize)]
pub struct ForecastSummary {
    pub kind: String,
    pub households: usize,
    pub mae_kwh: f64,
    pub mean_abs_net_kwh: f64,
    pub nmae: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// [`SUMMARY_SCHEMA_VERSION`].
    pub schema_version: u32,
    pub scenario: String,
    pub description: String,
    pub rule: &'static str,
    pub rule_params: BTreeMap<String, f64>,
    /// The rules the market switched to during the run (`SwitchRule` events), by step.
    pub rule_switches: Vec<RuleSwitch>,
    /// The clouds the scenario's `Cloud` events passed over houses (the replay draws them).
    pub clouds: Vec<CloudPassage>,
    pub seed: u64,
    pub steps: u64,
    /// Which files the run wrote: `full`, or `aggregate` (no `trades.csv` nor `ledger.jsonl`).
    pub output_level: &'static str,
    /// Which files the tables went to: `csv`, `parquet` or `both`.
    pub format: &'static str,
    /// Whether `household_timeseries` was written.
    pub household_series: bool,
    pub step_minutes: u32,
    pub households: usize,
    pub start: String,
    pub grid_connected: bool,
    /// ISO 4217 code of every money figure (`null` when the scenario names none).
    pub currency: Option<String>,
    pub self_sufficiency: Option<f64>,
    pub self_consumption: Option<f64>,
    pub p2p_kwh: f64,
    pub community_bill: f64,
    pub baseline_bill: f64,
    pub savings_pct: Option<f64>,
    /// Baseline bill − community bill, currency (> 0: trading saves).
    pub savings: f64,
    /// What the baseline paid the grid for its imports, before export revenue, currency.
    pub baseline_import_cost: f64,
    /// `savings` over `baseline_import_cost`, in percent; `null` when the baseline imported
    /// nothing (an island, or a community that never needs the grid).
    pub savings_pct_of_baseline_import_cost: Option<f64>,
    /// The tariff's fixed charges paid to the grid, in the run and in the baseline, currency
    /// (in the bills above).
    pub supply_charges: f64,
    pub demand_charges: f64,
    /// Of `load_kwh`: deferrable appliances' runs, and what their policies moved later, kWh.
    pub appliance_kwh: f64,
    pub shifted_kwh: f64,
    /// Electric vehicles: how many; what their chargers drew at home (in `load_kwh`) and gave
    /// back to their houses (vehicle-to-home), kWh; the energy they lacked against their
    /// targets at departures (kWh of battery energy) and in how many of `ev_departures`; trip
    /// energy charged away from home; distance driven.
    pub vehicles: usize,
    pub ev_kwh: f64,
    pub ev_v2h_kwh: f64,
    pub ev_shortfall_kwh: f64,
    pub ev_short_departures: u64,
    pub ev_departures: u64,
    pub ev_away_kwh: f64,
    pub ev_km: f64,
    /// Energy in the cars' batteries at the end less at the start, kWh.
    pub ev_stored_change_kwh: f64,
    /// Imported into household batteries to charge them (`TariffArbitrage`, `Forecast`), kWh.
    pub battery_grid_charge_kwh: f64,
    /// Heat pumps: how many; their electricity for space heating and cooling and the tanks'
    /// for hot water (in `load_kwh`), kWh; heat they delivered (space and hot water, pump and
    /// backup), kWh; the seasonal performance factor over all of them (heat / electricity, for
    /// heating); hours houses spent outside their comfort band, summed; hot-water tanks, and
    /// the draws they were too cold for.
    pub heat_pumps: usize,
    pub heat_pump_kwh: f64,
    pub hot_water_kwh: f64,
    pub heat_delivered_kwh: f64,
    pub spf: Option<f64>,
    pub comfort_violation_hours: f64,
    /// Mean indoor (operative) temperature of the heat-pump houses over the run, °C.
    pub mean_indoor_temp_c: Option<f64>,
    pub hot_water_tanks: usize,
    pub hot_water_cold_draws: u64,
    /// `Forecast` batteries' forecasts, when the run has them.
    pub forecast: Option<ForecastSummary>,
    pub baseline_supply_charges: f64,
    pub baseline_demand_charges: f64,
    pub unserved_kwh: f64,
    pub baseline_unserved_kwh: f64,
    pub curtailed_kwh: f64,
    pub losses_kwh: f64,
    pub peak_grid_import_kw: f64,
    pub peak_grid_export_kw: f64,
    pub co2_avoided_kg: f64,
    /// What trading adds to what the grid-only baseline already avoids: (baseline import +
    /// unserved − the run's), both from the households' meters, × the emission factor.
    pub co2_avoided_vs_baseline_kg: f64,
    pub pv_kwh: f64,
    pub load_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub battery_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    pub trades: u64,
    pub p2p_price_mean: Option<f64>,
    pub p2p_price_sd: Option<f64>,
    pub max_energy_imbalance_kwh: f64,
    /// Sum of every account's balance (households, grid, operator, fund, pool), micro-units: 0.
    pub money_balance_micros: i64,
    pub runtime_s: f64,
    pub household_steps_per_s: f64,
    /// The ledger's blocks, transactions, missed slots and head hash; `null` when it is off.
    pub ledger: Option<crate::ledger::LedgerSummary>,
    /// Each community households join by choice: its final state and totals (`null` in runs
    /// without `communities`).
    pub communities: Option<Vec<super::communities::CommunitySummary>>,
    /// Moves between communities and referendums over the run (`null` without `communities`).
    pub competition: Option<super::communities::CompetitionSummary>,
    /// Peer energy matched at each community level, whole community first (rules that clear
    /// in levels, e.g. `hierarchical`; `null` otherwise), kWh.
    pub p2p_kwh_by_level: Option<Vec<f64>>,
    /// Highest flow over capacity of any line in any step (1 = at its limit).
    pub max_line_loading: f64,
    /// Steps in which a line limit cut offers (curtailed PV, withdrew battery offers, shed load).
    pub congested_steps: u64,
    /// The same for the grid-only baseline.
    pub baseline_congested_steps: u64,
    /// What the line and voltage limits cost: PV surplus curtailed and load shed for them, kWh.
    pub grid_limit_curtailed_kwh: f64,
    /// PV curtailed for households' export caps, and by their inverters' volt-watt ceilings
    /// (in `curtailed_kwh`), in the run and the grid-only baseline, kWh; the inverters'
    /// reactive energy absorbed, kvarh; and steps whose inverter responses had not settled.
    pub export_limited_kwh: f64,
    pub baseline_export_limited_kwh: f64,
    pub inverter_curtailed_kwh: f64,
    pub baseline_inverter_curtailed_kwh: f64,
    pub inverter_absorbed_kvarh: f64,
    pub inverter_unsettled_steps: u64,
    /// The dynamic export limit (when set): its mean and lowest over the steps it was set,
    /// kW, and the steps it was below its ceiling.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_export_limit_mean_kw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_export_limit_min_kw: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dynamic_export_limited_steps: Option<u64>,
    pub grid_limit_shed_kwh: f64,
    /// Steps in which the voltage band cut offers, and node-steps that would have left it.
    pub voltage_limited_steps: u64,
    pub voltage_violations_avoided: u64,
    /// Steps in which a delivered flow exceeded a capacity (0 when limits are enforced).
    pub overloaded_steps: u64,
    /// Lowest and highest node voltage, per unit (radial grids; `null` on meshed grids).
    pub min_voltage_pu: Option<f64>,
    pub max_voltage_pu: Option<f64>,
    pub line_limits_enforced: bool,
    pub voltage_limits_enforced: bool,
    /// Steps whose AC voltage sweep did not settle (radial grids loaded beyond what their
    /// cables carry at any voltage); their losses come from DC flows.
    pub ac_sweep_failed_steps: u64,
    /// `unbalanced` when the network is modelled per phase (phases, power factors, an imported
    /// feeder); absent for the balanced model, as the three fields after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phase_model: Option<&'static str>,
    /// Highest voltage unbalance factor |V2|/|V1| of any bus in any step, %.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_voltage_unbalance_pct: Option<f64>,
    /// Steps in which some bus's unbalance factor was above 2% (EN 50160's limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voltage_unbalance_steps: Option<u64>,
    /// Highest phase current of the transformer over its rated current (imported feeders with
    /// a transformer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transformer_max_loading: Option<f64>,
    /// The voltage band's half-width around nominal, per unit, that `buses.csv`'s
    /// `steps_outside_band` counts against (unbalanced runs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voltage_tolerance_pu: Option<f64>,
    /// The voltage band the limits hold and `buses.csv` counts against, per unit and in
    /// phase-to-neutral volts.
    pub voltage_band_min_pu: f64,
    pub voltage_band_max_pu: f64,
    pub voltage_band_min_v: f64,
    pub voltage_band_max_v: f64,
    /// Line losses of all flows, and of them those on peer deliveries (sent − delivered), kWh.
    pub network_losses_kwh: f64,
    pub p2p_losses_kwh: f64,
    /// Who paid for peer deliveries' losses: `seller`, `buyer` or `shared`.
    pub loss_bearer: &'static str,
    /// Network fees paid on peer deliveries to the network operator.
    pub network_fees: f64,
    /// The run's energy by origin and destination, kWh (the `timeseries.csv` columns of the
    /// same names, summed): what met the load, where the PV went, where stored energy went.
    pub energy_balance: BTreeMap<&'static str, f64>,
    pub provenance: Provenance,
}

/// `rule` of a run whose communities each run their own rule.
pub const BY_COMMUNITY: &str = "by-community";

/// Fields that change from run to run of the same inputs (excluded from reproducibility checks).
pub const RUNTIME_FIELDS: [&str; 2] = ["runtime_s", "household_steps_per_s"];

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

pub fn summarise(s: &Scenario, main: &SimOutcome, runtime_s: f64) -> Summary {
    let t = &main.totals;
    let sum = &t.sum;
    let bill = main.households.iter().fold(Micros::ZERO, |acc, h| acc + h.wallet.bill());
    let baseline_bill = main.households.iter().fold(Micros::ZERO, |acc, h| acc + h.baseline.wallet.bill());
    let baseline_unserved_kwh: f64 = main.households.iter().map(|h| h.baseline.totals.unserved_kwh).sum();
    let baseline_import_cost = main.households.iter().fold(Micros::ZERO, |acc, h| acc + h.baseline.wallet.grid_paid);
    let charges = |f: fn(&crate::household::Wallet) -> Micros, baseline: bool| main.households.iter().fold(Micros::ZERO, |acc, h| acc + f(if baseline { &h.baseline.wallet } else { &h.wallet })).as_units();
    // Demand served by local PV and batteries instead of the grid. Against the baseline, both
    // sides from the households' meters: the baseline's line losses are not simulated, so the
    // run's are left out too.
    // Step by step, at each step's emission factor (flat, or the scenario's series).
    let co2_avoided_kg = t.co2_locally_met_kg.max(0.0);
    // In household order, so the sum is the same in every run.
    let heat = |f: fn(&crate::household::heating::HeatingTotals) -> f64| main.households.iter().filter_map(|h| h.heating.as_ref()).map(|(t, _)| f(t)).sum::<f64>();
    let ev = |f: fn(&crate::household::vehicle::VehicleTotals) -> f64| main.households.iter().filter_map(|h| h.vehicle.as_ref()).map(f).sum::<f64>();
    let co2_avoided_vs_baseline_kg = t.co2_avoided_vs_baseline_kg;
    let price_mean = (t.p2p_price_steps > 0).then(|| t.p2p_price_sum / t.p2p_price_steps as f64);
    let price_sd = price_mean.map(|m| (t.p2p_price_sq_sum / t.p2p_price_steps as f64 - m * m).max(0.0).sqrt());
    let start = {
        let (l, o) = s.frame.zone.local(s.frame.start_utc);
        iso_with_offset(l, o)
    };
    let line_capacity: Vec<f64> = s.topology.graph.edge_weights().map(|l| l.capacity_kw).collect();
    let radial = s.topology.is_radial();
    let band = s.network.voltage_band;
    let v_phase = s.network.nominal_voltage_v / 3f64.sqrt();
    Summary {
        schema_version: SUMMARY_SCHEMA_VERSION,
        scenario: s.name.clone(),
        description: s.description.clone(),
        // With communities, each runs its own rule (listed in `communities`) unless `--rule`
        // gave one for all.
        rule: if s.communities.as_ref().is_some_and(|c| !c.forced_rule) { BY_COMMUNITY } else { s.rule.name },
        rule_params: if s.communities.as_ref().is_some_and(|c| !c.forced_rule) { BTreeMap::new() } else { s.rule_params.clone() },
        rule_switches: s.rule_switches.iter().map(|(step, rule)| RuleSwitch { step: *step, rule: rule.name }).collect(),
        clouds: s
            .clouds
            .iter()
            .map(|c| CloudPassage { step: c.from_step, steps: c.to_step - c.from_step, transmittance: c.transmittance, households: c.households.iter().map(|&h| s.households[h as usize].id.clone()).collect() })
            .collect(),
        seed: s.seed,
        steps: t.steps,
        output_level: s.output.label(),
        format: s.format.label(),
        household_series: s.household_series,
        step_minutes: s.frame.step_minutes,
        households: s.households.len(),
        start,
        grid_connected: s.grid.is_connected(),
        currency: s.currency.clone(),
        self_sufficiency: ratio(sum.load_kwh - sum.grid_import_kwh - sum.unserved_kwh, sum.load_kwh),
        self_consumption: ratio(sum.pv_kwh - sum.grid_export_kwh - sum.curtailed_kwh, sum.pv_kwh),
        p2p_kwh: sum.p2p_kwh,
        community_bill: bill.as_units(),
        baseline_bill: baseline_bill.as_units(),
        savings_pct: (baseline_bill.0 != 0).then(|| (baseline_bill.0 - bill.0) as f64 / (baseline_bill.0 as f64).abs() * 100.0),
        savings: (baseline_bill - bill).as_units(),
        baseline_import_cost: baseline_import_cost.as_units(),
        savings_pct_of_baseline_import_cost: (baseline_import_cost.0 > 0).then(|| (baseline_bill.0 - bill.0) as f64 / baseline_import_cost.0 as f64 * 100.0),
        appliance_kwh: sum.appliance_kwh,
        shifted_kwh: sum.shifted_kwh,
        vehicles: main.households.iter().filter(|h| h.vehicle.is_some()).count(),
        ev_kwh: ev(|v| v.charged_kwh),
        ev_v2h_kwh: ev(|v| v.v2h_kwh),
        ev_shortfall_kwh: ev(|v| v.shortfall_kwh),
        ev_short_departures: main.households.iter().filter_map(|h| h.vehicle).map(|v| v.short_departures).sum(),
        ev_departures: main.households.iter().filter_map(|h| h.vehicle).map(|v| v.departures).sum(),
        ev_away_kwh: ev(|v| v.away_kwh),
        ev_km: ev(|v| v.km),
        ev_stored_change_kwh: ev(|v| v.soc_end_kwh - v.soc_start_kwh),
        battery_grid_charge_kwh: main.households.iter().map(|h| h.totals.battery_grid_charge_kwh).sum(),
        heat_pumps: main.households.iter().filter(|h| h.heating.is_some()).count(),
        heat_pump_kwh: sum.heat_pump_kwh,
        hot_water_kwh: sum.hot_water_kwh,
        heat_delivered_kwh: heat(|t| t.heat_kwh + t.hot_water_heat_kwh),
        spf: {
            let elec = heat(|t| t.heating_kwh + t.hot_water_kwh);
            (elec > 0.0).then(|| heat(|t| t.heat_kwh + t.hot_water_heat_kwh) / elec)
        },
        comfort_violation_hours: heat(|t| t.comfort_violation_hours),
        mean_indoor_temp_c: {
            let (sum, steps) = main.households.iter().filter_map(|h| h.heating.as_ref()).fold((0.0, 0u64), |(a, n), (t, _)| (a + t.indoor_sum_c, n + t.steps));
            (steps > 0).then(|| sum / steps as f64)
        },
        hot_water_tanks: main.households.iter().filter(|h| h.hot_water.is_some()).count(),
        hot_water_cold_draws: main.households.iter().filter_map(|h| h.hot_water).map(|t| t.cold_draws).sum(),
        forecast: {
            let e: Vec<_> = main.households.iter().filter_map(|h| h.forecast_errors).collect();
            let (err, net, steps) = e.iter().fold((0.0, 0.0, 0u64), |(a, b, n), x| (a + x.abs_error_kwh, b + x.abs_net_kwh, n + x.steps));
            (steps > 0).then(|| ForecastSummary {
                kind: format!("{:?}", s.battery_policy.forecast),
                households: e.len(),
                mae_kwh: err / steps as f64,
                mean_abs_net_kwh: net / steps as f64,
                nmae: (net > 0.0).then(|| err / net),
            })
        },
        supply_charges: charges(|w| w.supply_charges, false),
        demand_charges: charges(|w| w.demand_charges, false),
        baseline_supply_charges: charges(|w| w.supply_charges, true),
        baseline_demand_charges: charges(|w| w.demand_charges, true),
        unserved_kwh: sum.unserved_kwh,
        baseline_unserved_kwh,
        curtailed_kwh: sum.curtailed_kwh,
        losses_kwh: sum.losses_kwh,
        peak_grid_import_kw: t.peak_grid_import_kw,
        peak_grid_export_kw: t.peak_grid_export_kw,
        co2_avoided_kg,
        co2_avoided_vs_baseline_kg,
        pv_kwh: sum.pv_kwh,
        load_kwh: sum.load_kwh,
        grid_import_kwh: sum.grid_import_kwh,
        grid_export_kwh: sum.grid_export_kwh,
        battery_charge_kwh: sum.battery_charge_kwh,
        battery_discharge_kwh: sum.battery_discharge_kwh,
        trades: sum.trades,
        p2p_price_mean: price_mean,
        p2p_price_sd: price_sd,
        max_energy_imbalance_kwh: t.max_imbalance_kwh,
        money_balance_micros: main.accounts_total.0,
        runtime_s,
        household_steps_per_s: s.households.len() as f64 * t.steps as f64 / runtime_s.max(1e-9),
        ledger: main.ledger.clone(),
        communities: main.communities.as_ref().map(|(c, f, _)| super::communities::summarise(s, c, f, &main.households)),
        competition: main.communities.as_ref().map(|(c, _, _)| super::communities::competition(c)),
        p2p_kwh_by_level: (!main.levels.is_empty()).then(|| main.levels.clone()),
        max_line_loading: main.lines.max_line_loading(&line_capacity),
        congested_steps: main.limits.congested_steps,
        baseline_congested_steps: main.baseline_limits.congested_steps,
        grid_limit_curtailed_kwh: main.limits.curtailed_kwh,
        export_limited_kwh: main.limits.export_limited_kwh,
        baseline_export_limited_kwh: main.baseline_limits.export_limited_kwh,
        inverter_curtailed_kwh: main.limits.inverter_curtailed_kwh,
        baseline_inverter_curtailed_kwh: main.baseline_limits.inverter_curtailed_kwh,
        inverter_absorbed_kvarh: main.households.iter().map(|h| h.totals.inverter_absorbed_kvarh).sum(),
        inverter_unsettled_steps: main.limits.inverter_unsettled_steps,
        dynamic_export_limit_mean_kw: s.network.dynamic_export.map(|d| if main.limits.envelope_steps > 0 { main.limits.envelope_sum_kw / main.limits.envelope_steps as f64 } else { d.max_kw }),
        dynamic_export_limit_min_kw: s.network.dynamic_export.map(|d| main.limits.envelope_min_kw.unwrap_or(d.max_kw)),
        dynamic_export_limited_steps: s.network.dynamic_export.map(|_| main.limits.envelope_limited_steps),
        grid_limit_shed_kwh: main.limits.shed_kwh,
        voltage_limited_steps: main.limits.voltage_limited_steps,
        voltage_violations_avoided: main.limits.voltage_violations_avoided,
        overloaded_steps: main.lines.overloaded_steps,
        // Unbalanced: every phase of every bus solved (the balanced root sits at 1 pu; a
        // transformer's supply need not).
        min_voltage_pu: match &main.phases {
            Some(p) => p.min_voltage_pu.iter().flatten().copied().filter(|v| v.is_finite()).reduce(f64::min),
            None => radial.then_some(main.lines.min_voltage_pu),
        },
        max_voltage_pu: match &main.phases {
            Some(p) => p.max_voltage_pu.iter().flatten().copied().filter(|v| *v > 0.0).reduce(f64::max),
            None => radial.then_some(main.lines.max_voltage_pu),
        },
        line_limits_enforced: s.network.enforce_line_limits,
        voltage_limits_enforced: s.network.enforce_voltage_limits,
        ac_sweep_failed_steps: main.lines.sweep_failed_steps,
        phase_model: main.phases.as_ref().map(|_| "unbalanced"),
        max_voltage_unbalance_pct: main.phases.as_ref().map(|p| p.max_unbalance_pct_any),
        voltage_unbalance_steps: main.phases.as_ref().map(|p| p.unbalance_steps),
        transformer_max_loading: main.phases.as_ref().and_then(|p| p.transformer_max_loading),
        // A half-width only where the band is symmetric.
        voltage_tolerance_pu: main.phases.as_ref().filter(|_| band.below_pu == band.above_pu).map(|_| band.above_pu),
        voltage_band_min_pu: band.min_pu(),
        voltage_band_max_pu: band.max_pu(),
        voltage_band_min_v: band.given_v.map_or(band.min_pu() * v_phase, |v| v.0),
        voltage_band_max_v: band.given_v.map_or(band.max_pu() * v_phase, |v| v.1),
        network_losses_kwh: sum.network_losses_kwh,
        p2p_losses_kwh: sum.p2p_losses_kwh,
        loss_bearer: s.loss_bearer.label(),
        network_fees: sum.network_fees.as_units(),
        energy_balance: crate::metrics::EnergyBalance::COLUMNS.into_iter().zip(sum.balance.values()).collect(),
        provenance: Provenance {
            peergrid_version: env!("CARGO_PKG_VERSION"),
            git_commit: Some(env!("PEERGRID_GIT_COMMIT")).filter(|c| !c.is_empty()),
            scenario_file: s.file.display().to_string(),
            scenario_sha256: s.file_sha256.clone(),
            overrides: s.overrides.clone(),
        },
    }
}


/// A cloud over houses during the run (`summary.json`'s `clouds`): from `step` for `steps`
/// steps, `transmittance` of the irradiance reaching the `households` under it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CloudPassage {
    pub step: u64,
    pub steps: u64,
    pub transmittance: f64,
    pub households: Vec<String>,
}

/// A change of the market's rule during the run (`summary.json`'s `rule_switches`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleSwitch {
    pub step: u64,
    pub rule: &'static str,
}
