//! Metrics: community totals per step and over the run, and per-household totals (the streamed
//! rows of `timeseries.csv` and `trades.csv` are written from them by `output::recorder`).
//!
//! Sums run over the household query in its iteration order, which depends only on the spawn
//! order of the scenario (single-threaded, same archetypes), so results are identical whatever
//! the thread count.

use crate::household::{Household, Meter, MeterTotals};
use crate::market::{Clearing, LossPolicy};
use crate::base::money::Micros;
use crate::base::time::SimClock;
use bevy::prelude::*;

/// Community totals of one step, kWh (the `timeseries.csv` row).
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTotals {
    pub step: u64,
    pub pv_kwh: f64,
    pub load_kwh: f64,
    pub self_consumed_kwh: f64,
    pub p2p_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub battery_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    pub curtailed_kwh: f64,
    pub unserved_kwh: f64,
    /// Battery and network losses.
    pub losses_kwh: f64,
    /// Of `losses_kwh`: lost on the lines (all flows) and, of that, on peer deliveries.
    pub network_losses_kwh: f64,
    pub p2p_losses_kwh: f64,
    /// Money paid for peer energy this step (at the energy price, for the energy delivered).
    pub p2p_value: Micros,
    /// Network fees paid on peer deliveries.
    pub network_fees: Micros,
    /// What the households paid on balance this step (grid, peers outside the community's
    /// accounts, fees; less rewards), and what they would have paid with the grid only.
    pub community_bill: Micros,
    pub baseline_bill: Micros,
    pub trades: u64,
    /// Energy stored in all batteries at the end of the step, kWh (a level, not summed over a run).
    pub battery_soc_kwh: f64,
    /// Highest flow / capacity of any line in the step (a level, not summed over a run).
    pub max_line_loading: f64,
    /// What met the load, where the PV went and what happened to stored energy.
    pub balance: EnergyBalance,
    /// Of `load_kwh`: deferrable appliances' runs, and of those what ran later than its earliest
    /// start.
    pub appliance_kwh: f64,
    pub shifted_kwh: f64,
    /// Of `load_kwh`: electric vehicles charging at home; and what vehicles delivered to their
    /// houses (vehicle-to-home, a source).
    pub ev_kwh: f64,
    pub ev_discharge_kwh: f64,
    /// Electric vehicles plugged in at the step (a level, not summed over a run).
    pub ev_plugged: u64,
    /// Of `load_kwh`: heat pumps heating and cooling houses, and hot-water tanks.
    pub heat_pump_kwh: f64,
    pub hot_water_kwh: f64,
    /// Mean indoor (operative) temperature of the houses with a heat pump, °C (a level; `None`
    /// without heat pumps), and the number of them running this step.
    pub mean_indoor_temp_c: Option<f64>,
    pub heat_pumps_running: u64,
}

/// The step's energy by origin and destination, kWh, so that a chart of it closes:
/// - what met the load: `load_own_pv + load_own_battery + load_peer_pv + load_peer_battery +
///   load_grid + load_unserved = load_kwh`;
/// - where the PV went: `load_own_pv + pv_own_battery + load_peer_pv + pv_grid + curtailed_kwh +
///   pv_line_losses = pv_kwh`;
/// - stored energy: `pv_own_battery + grid_own_battery + pv_community_battery = load_own_battery +
///   load_peer_battery + load_community_battery + battery_line_losses +
///   battery_conversion_losses + battery_stored_change`;
///
/// and the first two sums also count `load_community_battery` and `pv_community_battery`
/// (communities' batteries, see `market::storage`: zero in runs without them), and the load's
/// `load_own_vehicle` (vehicle-to-home).
///
/// Peer energy is split by the seller's source (`trades.csv`'s `seller_source`; a pool's
/// deliveries by its sellers' shares). Line losses on peer deliveries are what each source sent
/// less what arrived from it: on an island a seller makes a delivery's loss up from unsold PV,
/// then its battery, and that energy counts as lost from the source it came from. Losses of the
/// flows to and from the grid the grid supplies (on an island: surplus that would have been
/// curtailed, in `pv_line_losses`, else unserved energy beyond `load_unserved`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct EnergyBalance {
    pub load_own_pv_kwh: f64,
    pub load_own_battery_kwh: f64,
    pub load_peer_pv_kwh: f64,
    pub load_peer_battery_kwh: f64,
    /// Energy the households' meters took from the grid (without network losses).
    pub load_grid_kwh: f64,
    /// Demand the households went without (without losses an island could not supply).
    pub load_unserved_kwh: f64,
    pub pv_own_battery_kwh: f64,
    pub pv_grid_kwh: f64,
    pub pv_line_losses_kwh: f64,
    /// Charge and discharge conversion losses (AC side, by the batteries' efficiencies).
    pub battery_conversion_losses_kwh: f64,
    pub battery_line_losses_kwh: f64,
    /// Change of the energy stored in all batteries (negative when they gave more than they took).
    pub battery_stored_change_kwh: f64,
    /// Load met by community batteries, and PV surplus that charged them.
    pub load_community_battery_kwh: f64,
    pub pv_community_battery_kwh: f64,
    /// Load met by the household's own electric vehicle (vehicle-to-home).
    pub load_own_vehicle_kwh: f64,
    /// Imported from the grid into the households' own batteries (not load).
    pub grid_own_battery_kwh: f64,
}

impl EnergyBalance {
    /// Column names in `timeseries.csv`, in the order of [`EnergyBalance::values`].
    /// The first [`EnergyBalance::FIRST_COLUMNS`] sit together in `timeseries.csv`; the later
    /// ones were added at its end.
    pub const COLUMNS: [&'static str; 16] = [
        "load_own_pv_kwh", "load_own_battery_kwh", "load_peer_pv_kwh", "load_peer_battery_kwh", "load_grid_kwh", "load_unserved_kwh",
        "pv_own_battery_kwh", "pv_grid_kwh", "pv_line_losses_kwh", "battery_conversion_losses_kwh", "battery_line_losses_kwh",
        "battery_stored_change_kwh", "load_community_battery_kwh", "pv_community_battery_kwh",
        "load_own_vehicle_kwh", "grid_own_battery_kwh",
    ];
    pub const FIRST_COLUMNS: usize = 12;
    /// The columns up to here sit before `appliance_kwh` in `timeseries.csv`; the rest after
    /// `ev_kwh`.
    pub const BEFORE_APPLIANCES: usize = 14;

    pub fn values(&self) -> [f64; 16] {
        [
            self.load_own_pv_kwh, self.load_own_battery_kwh, self.load_peer_pv_kwh, self.load_peer_battery_kwh, self.load_grid_kwh,
            self.load_unserved_kwh, self.pv_own_battery_kwh, self.pv_grid_kwh, self.pv_line_losses_kwh,
            self.battery_conversion_losses_kwh, self.battery_line_losses_kwh, self.battery_stored_change_kwh,
            self.load_community_battery_kwh, self.pv_community_battery_kwh, self.load_own_vehicle_kwh, self.grid_own_battery_kwh,
        ]
    }

    fn from_values(v: [f64; 16]) -> Self {
        let [load_own_pv_kwh, load_own_battery_kwh, load_peer_pv_kwh, load_peer_battery_kwh, load_grid_kwh, load_unserved_kwh, pv_own_battery_kwh, pv_grid_kwh, pv_line_losses_kwh, battery_conversion_losses_kwh, battery_line_losses_kwh, battery_stored_change_kwh, load_community_battery_kwh, pv_community_battery_kwh, load_own_vehicle_kwh, grid_own_battery_kwh] = v;
        EnergyBalance {
            load_own_pv_kwh, load_own_battery_kwh, load_peer_pv_kwh, load_peer_battery_kwh, load_grid_kwh, load_unserved_kwh,
            pv_own_battery_kwh, pv_grid_kwh, pv_line_losses_kwh, battery_conversion_losses_kwh, battery_line_losses_kwh, battery_stored_change_kwh,
            load_community_battery_kwh, pv_community_battery_kwh, load_own_vehicle_kwh, grid_own_battery_kwh,
        }
    }

    fn add(&mut self, o: &EnergyBalance) {
        let (a, b) = (self.values(), o.values());
        *self = EnergyBalance::from_values(std::array::from_fn(|i| a[i] + b[i]));
    }
}

impl StepTotals {
    /// The energy balance residual: PV + import + discharge + vehicle-to-home + unserved − (load + export + charge
    /// + curtailed + losses). Zero up to rounding.
    pub fn imbalance_kwh(&self) -> f64 {
        (self.pv_kwh + self.grid_import_kwh + self.battery_discharge_kwh + self.ev_discharge_kwh + self.unserved_kwh)
            - (self.load_kwh + self.grid_export_kwh + self.battery_charge_kwh + self.curtailed_kwh + self.losses_kwh)
    }

    /// Volume-weighted mean peer price, per kWh; `None` when nothing traded.
    pub fn clearing_price(&self) -> Option<f64> {
        (self.p2p_kwh > 0.0).then(|| self.p2p_value.as_units() / self.p2p_kwh)
    }
}

/// Totals over the run so far.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTotals {
    pub steps: u64,
    pub sum: StepTotals,
    pub peak_grid_import_kw: f64,
    pub peak_grid_export_kw: f64,
    /// Largest |energy balance residual| of any step, kWh.
    pub max_imbalance_kwh: f64,
    pub p2p_price_sum: f64,
    pub p2p_price_sq_sum: f64,
    pub p2p_price_steps: u64,
    /// Σ over steps of (load − grid import − unserved) × the step's emission factor, kg.
    pub co2_locally_met_kg: f64,
    /// Σ over steps of (grid-only import + unserved − the run's, at the households' meters) ×
    /// the step's emission factor, kg.
    pub co2_avoided_vs_baseline_kg: f64,
    /// The grid-only baseline's import + unserved so far, kWh (its step values are differences).
    pub baseline_import_unserved_kwh: f64,
}

/// The grid's emission factor, kg CO₂ per kWh: flat, or one value per step from a series.
#[derive(Resource, Debug, Clone, Default)]
pub struct EmissionFactors {
    pub flat_kg_per_kwh: f64,
    pub per_step: Option<std::sync::Arc<Vec<f64>>>,
}

impl EmissionFactors {
    pub fn at(&self, step: u64) -> f64 {
        self.per_step.as_ref().and_then(|f| f.get(step as usize).copied()).unwrap_or(self.flat_kg_per_kwh)
    }
}

/// The metrics' systems: community totals, last in the simulation's own sets (a recorder, when
/// attached, writes its rows after them).
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricsSystems;

/// Community totals, in [`MetricsSystems`], with the grid's emission factors.
pub struct MetricsPlugin(pub EmissionFactors);

impl Plugin for MetricsPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.0.clone())
            .init_resource::<StepTotals>()
            .init_resource::<RunTotals>()
            .init_resource::<LevelTotals>()
            .add_systems(crate::base::schedule::SimStep, (record_step, sum_levels).in_set(MetricsSystems));
    }
}

/// Peer energy matched at each community level over the run (level 0 = whole community), for
/// rules that clear in levels; empty otherwise.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct LevelTotals(pub Vec<f64>);

/// Adds the step's per-level matches. Reads `Clearing`; writes `LevelTotals`. Runs in
/// `MetricsSystems`.
pub fn sum_levels(clearing: Res<Clearing>, mut levels: ResMut<LevelTotals>) {
    if levels.0.len() < clearing.kwh_by_level.len() {
        levels.0.resize(clearing.kwh_by_level.len(), 0.0);
    }
    for (total, kwh) in levels.0.iter_mut().zip(&clearing.kwh_by_level) {
        *total += kwh;
    }
}

/// Sums the step over households, updates run totals and per-household totals. Reads `Meter`,
/// `Wallet`, `BaselineExchange`, `Clearing`, `SimClock`, `StepPrices`, `EmissionFactors`,
/// `LineStats` (network losses), `CommunityStorage`; writes `MeterTotals`,
/// `LossOfLoad`, `StepTotals`, `RunTotals`. Runs in `MetricsSystems`, after the treasury.
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub fn record_step(
    clock: Res<SimClock>,
    clearing: Res<Clearing>,
    mut step: ResMut<StepTotals>,
    mut run: ResMut<RunTotals>,
    prices: Res<crate::environment::tariff::StepPrices>,
    emissions: Res<EmissionFactors>,
    losses: Option<Res<LossPolicy>>,
    lines: Option<Res<crate::grid::network::LineStats>>,
    storage: Option<Res<crate::market::storage::CommunityStorage>>,
    mut households: Query<(
        &Household,
        &Meter,
        &mut MeterTotals,
        &mut crate::household::LossOfLoad,
        Option<&crate::household::battery::Battery>,
        &crate::household::Wallet,
        &crate::household::baseline::BaselineExchange,
        Option<&crate::household::vehicle::Vehicle>,
        Option<&crate::household::heating::HeatPump>,
    )>,
) {
    let mut t = StepTotals { step: clock.step, ..Default::default() };
    let (mut sent_kwh, mut sent_battery_kwh) = (0.0, 0.0);
    let (mut bill_so_far, mut baseline_so_far) = (Micros::ZERO, Micros::ZERO);
    let mut baseline_import_unserved_kwh = 0.0;
    let (mut indoor_sum_c, mut pumps) = (0.0, 0u64);
    for (_, m, mut total, mut lol, battery, wallet, baseline, vehicle, pump) in &mut households {
        t.ev_plugged += u64::from(vehicle.is_some_and(|v| v.plugged));
        if let Some(p) = pump {
            indoor_sum_c += p.indoor_c;
            pumps += 1;
            t.heat_pumps_running += u64::from(m.heat_pump_kwh > 0.0);
        }
        t.heat_pump_kwh += m.heat_pump_kwh;
        t.hot_water_kwh += m.hot_water_kwh;
        bill_so_far += wallet.bill();
        baseline_so_far += Micros(-baseline.balance.0);
        baseline_import_unserved_kwh += baseline.grid_import_kwh + baseline.unserved_kwh;
        let e = &mut t.balance;
        if let Some(b) = battery {
            t.battery_soc_kwh += b.soc_kwh;
            let conversion = m.battery_charge_kwh * (1.0 - b.eta_charge) + m.battery_discharge_kwh * (1.0 / b.eta_discharge - 1.0);
            e.battery_conversion_losses_kwh += conversion;
            e.battery_stored_change_kwh += m.battery_charge_kwh - m.battery_discharge_kwh - conversion;
        }
        e.load_own_pv_kwh += m.self_consumed_kwh - (m.battery_charge_kwh - m.battery_grid_charge_kwh);
        e.load_own_battery_kwh += m.battery_discharge_kwh - m.p2p_sold_battery_kwh;
        e.load_grid_kwh += m.grid_import_kwh - m.battery_grid_charge_kwh;
        e.grid_own_battery_kwh += m.battery_grid_charge_kwh;
        e.load_unserved_kwh += m.unserved_kwh;
        e.pv_own_battery_kwh += m.battery_charge_kwh - m.battery_grid_charge_kwh;
        e.pv_grid_kwh += m.grid_export_kwh;
        e.load_community_battery_kwh += m.community_battery_bought_kwh;
        e.pv_community_battery_kwh += m.community_battery_sold_kwh;
        sent_kwh += m.p2p_sold_kwh;
        sent_battery_kwh += m.p2p_sold_battery_kwh;
        lol.steps += (m.unserved_kwh > crate::household::UNSERVED_EPSILON_KWH) as u64;
        t.pv_kwh += m.pv_kwh;
        t.load_kwh += m.load_kwh;
        t.self_consumed_kwh += m.self_consumed_kwh;
        t.grid_import_kwh += m.grid_import_kwh;
        t.grid_export_kwh += m.grid_export_kwh;
        t.battery_charge_kwh += m.battery_charge_kwh;
        t.battery_discharge_kwh += m.battery_discharge_kwh;
        t.curtailed_kwh += m.curtailed_kwh;
        t.unserved_kwh += m.unserved_kwh;
        t.losses_kwh += m.losses_kwh;
        t.appliance_kwh += m.appliance_kwh;
        t.shifted_kwh += m.shifted_kwh;
        t.ev_kwh += m.ev_kwh;
        t.ev_discharge_kwh += m.ev_discharge_kwh;
        e.load_own_vehicle_kwh += m.ev_discharge_kwh;
        total.0.accumulate(m);
    }
    t.mean_indoor_temp_c = (pumps > 0).then(|| indoor_sum_c / pumps as f64);
    // Community batteries: charged and discharged on the AC side at the members' meters.
    if let Some(storage) = storage {
        let e = &mut t.balance;
        let conversion: f64 = storage.units.iter().flatten().map(|u| u.conversion_losses_kwh()).sum();
        t.battery_soc_kwh += storage.soc_kwh();
        t.battery_charge_kwh += e.pv_community_battery_kwh;
        t.battery_discharge_kwh += e.load_community_battery_kwh;
        e.battery_conversion_losses_kwh += conversion;
        e.battery_stored_change_kwh += e.pv_community_battery_kwh - e.load_community_battery_kwh - conversion;
    }
    let bearer = losses.map(|l| l.0).unwrap_or_default();
    // A pool's deliveries come from its sellers' PV and batteries in proportion to their sales.
    let (mut pool_kwh, mut pool_battery_kwh) = (0.0, 0.0);
    for s in &clearing.pool_sales {
        pool_kwh += s.kwh;
        pool_battery_kwh += if s.source == crate::market::OfferSource::Battery { s.kwh } else { 0.0 };
    }
    let pool_battery_share = if pool_kwh > 0.0 { pool_battery_kwh / pool_kwh } else { 0.0 };
    for tr in &clearing.trades {
        t.balance.load_peer_battery_kwh += match tr.seller {
            crate::market::Seller::Household { source: crate::market::OfferSource::Battery, .. } => tr.kwh,
            crate::market::Seller::Household { .. } => 0.0,
            crate::market::Seller::Pool => tr.kwh * pool_battery_share,
        };
        t.p2p_kwh += tr.kwh;
        t.p2p_losses_kwh += tr.loss_kwh;
        t.p2p_value += tr.price.amount_for(tr.billed_kwh(bearer));
        t.network_fees += tr.fee.amount_for(tr.kwh_sent());
    }
    t.trades = clearing.trades.len() as u64;
    t.community_bill = bill_so_far - run.sum.community_bill;
    t.baseline_bill = baseline_so_far - run.sum.baseline_bill;
    let e = &mut t.balance;
    e.load_peer_pv_kwh = t.p2p_kwh - e.load_peer_battery_kwh;
    e.pv_line_losses_kwh = (sent_kwh - sent_battery_kwh) - e.load_peer_pv_kwh;
    e.battery_line_losses_kwh = sent_battery_kwh - e.load_peer_battery_kwh;
    // Network losses: those of peer deliveries are already in the buyers' meters (their grid
    // import, or on an island their unserved demand). The rest the grid supplies at the
    // connection point (so the community's grid import, measured there, exceeds the sum of the
    // households' meters); on an island it takes surplus that would have been curtailed, and
    // what that cannot cover is unserved.
    if let Some(lines) = lines {
        t.network_losses_kwh = lines.step_losses_kwh;
        t.max_line_loading = lines.step_max_loading;
        t.losses_kwh += lines.step_losses_kwh;
        let loss = (lines.step_losses_kwh - t.p2p_losses_kwh).max(0.0);
        if prices.connected {
            t.grid_import_kwh += loss;
        } else {
            let covered = loss.min(t.curtailed_kwh);
            t.curtailed_kwh -= covered;
            t.balance.pv_line_losses_kwh += covered;
            t.unserved_kwh += loss - covered;
        }
    }
    let dt = clock.frame.step_hours();
    let r = &mut *run;
    let factor = emissions.at(clock.step);
    r.co2_locally_met_kg += (t.load_kwh - t.grid_import_kwh - t.unserved_kwh) * factor;
    let baseline_step = baseline_import_unserved_kwh - r.baseline_import_unserved_kwh;
    r.baseline_import_unserved_kwh = baseline_import_unserved_kwh;
    r.co2_avoided_vs_baseline_kg += (baseline_step - t.balance.load_grid_kwh - t.balance.load_unserved_kwh) * factor;
    r.steps += 1;
    r.peak_grid_import_kw = r.peak_grid_import_kw.max(t.grid_import_kwh / dt);
    r.peak_grid_export_kw = r.peak_grid_export_kw.max(t.grid_export_kwh / dt);
    r.max_imbalance_kwh = r.max_imbalance_kwh.max(t.imbalance_kwh().abs());
    if let Some(p) = t.clearing_price() {
        r.p2p_price_sum += p;
        r.p2p_price_sq_sum += p * p;
        r.p2p_price_steps += 1;
    }
    let s = &mut r.sum;
    s.pv_kwh += t.pv_kwh;
    s.load_kwh += t.load_kwh;
    s.self_consumed_kwh += t.self_consumed_kwh;
    s.p2p_kwh += t.p2p_kwh;
    s.grid_import_kwh += t.grid_import_kwh;
    s.grid_export_kwh += t.grid_export_kwh;
    s.battery_charge_kwh += t.battery_charge_kwh;
    s.battery_discharge_kwh += t.battery_discharge_kwh;
    s.curtailed_kwh += t.curtailed_kwh;
    s.unserved_kwh += t.unserved_kwh;
    s.losses_kwh += t.losses_kwh;
    s.network_losses_kwh += t.network_losses_kwh;
    s.p2p_losses_kwh += t.p2p_losses_kwh;
    s.p2p_value += t.p2p_value;
    s.network_fees += t.network_fees;
    s.community_bill += t.community_bill;
    s.baseline_bill += t.baseline_bill;
    s.trades += t.trades;
    s.appliance_kwh += t.appliance_kwh;
    s.shifted_kwh += t.shifted_kwh;
    s.ev_kwh += t.ev_kwh;
    s.ev_discharge_kwh += t.ev_discharge_kwh;
    s.ev_plugged = t.ev_plugged;
    s.heat_pump_kwh += t.heat_pump_kwh;
    s.hot_water_kwh += t.hot_water_kwh;
    s.balance.add(&t.balance);
    *step = t;
}

