//! Batteries and the own-use policy.
//!
//! `SelfConsumption`, each step: PV first serves the household's own load; PV left over charges the battery
//! (up to its power and free capacity); demand left over is covered by discharging (down to
//! `min_soc`). What is left after that goes to the market. If the battery did not charge this
//! step, it also offers the energy stored above `market_reserve_soc` (and within its remaining
//! discharge power) to the market, so on an island full batteries serve neighbours.
//!
//! Charge and discharge are counted on the AC side; conversion losses are internal:
//! ΔSoC = Σcharge·η_c − Σdischarge/η_d with η_c = η_d = √(round-trip efficiency).
//!
//! `TariffArbitrage` and `Forecast` follow the same order but may hold stored energy for a
//! dearer step and charge from the grid ([`Guide`], see `planning`). Degradation, when given:
//! capacity fades linearly with equivalent full cycles (discharge throughput over the nominal
//! capacity), `fade_per_cycle` of the nominal capacity per cycle.

use crate::household::Meter;
use crate::base::money::PricePerKwh;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Tolerance for energy comparisons, kWh.
pub const ENERGY_EPSILON_KWH: f64 = 1e-12;

/// A household battery. Read and written by [`own_use_and_battery`] and market delivery.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct Battery {
    pub capacity_kwh: f64,
    /// Most AC energy in or out in one step, kWh.
    pub max_charge_kwh_per_step: f64,
    pub max_discharge_kwh_per_step: f64,
    pub eta_charge: f64,
    pub eta_discharge: f64,
    pub min_soc_kwh: f64,
    pub soc_kwh: f64,
    pub initial_soc_kwh: f64,
    pub mode: BatteryMode,
    /// Capacity when new, kWh, and the share of it lost per equivalent full cycle.
    pub nominal_kwh: f64,
    pub fade_per_cycle: f64,
    /// AC energy discharged so far, kWh (its cycles: this over `nominal_kwh`).
    pub discharged_kwh: f64,
}

/// How a battery is run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum BatteryMode {
    /// Own PV surplus in, own deficit out, at once.
    #[default]
    SelfConsumption,
    /// As `SelfConsumption`, and from the grid in steps cheap enough that the energy pays
    /// after round-trip losses at the dearest import price of the next 24 h, holding it for then.
    TariffArbitrage,
    /// Hourly plans over the next 24 h on forecasts of PV, load and prices (see `planning`).
    Forecast,
}

/// How a step's own use departs from `SelfConsumption`: the share of the PV surplus to store
/// and at most how much, the share of the deficit to cover and at most how much, and energy to
/// charge from the grid. `block_first`: the step opens a block of a plan (whose totals the
/// maxima are, less what the block's earlier steps did).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Guide {
    pub store_share: f64,
    pub store_max_kwh: f64,
    pub discharge_share: f64,
    pub discharge_max_kwh: f64,
    pub grid_charge_kwh: f64,
    pub block_first: bool,
}

impl Guide {
    pub const OWN_USE: Guide = Guide { store_share: 1.0, store_max_kwh: f64::INFINITY, discharge_share: 1.0, discharge_max_kwh: f64::INFINITY, grid_charge_kwh: 0.0, block_first: false };
}

impl Default for Guide {
    fn default() -> Self {
        Guide::OWN_USE
    }
}

impl Battery {
    pub fn from_spec(b: &BatterySpec, step_hours: f64) -> Self {
        let eta = b.round_trip_efficiency.sqrt();
        Battery {
            capacity_kwh: b.capacity_kwh,
            max_charge_kwh_per_step: b.max_charge_kw * step_hours,
            max_discharge_kwh_per_step: b.max_discharge_kw * step_hours,
            eta_charge: eta,
            eta_discharge: eta,
            min_soc_kwh: b.min_soc * b.capacity_kwh,
            soc_kwh: b.initial_soc * b.capacity_kwh,
            initial_soc_kwh: b.initial_soc * b.capacity_kwh,
            mode: b.policy,
            nominal_kwh: b.capacity_kwh,
            fade_per_cycle: b.fade_per_cycle,
            discharged_kwh: 0.0,
        }
    }

    /// Most AC energy the battery can take now, given what it already took this step.
    pub fn charge_room_kwh(&self, charged_kwh: f64) -> f64 {
        ((self.capacity_kwh - self.soc_kwh) / self.eta_charge).min(self.max_charge_kwh_per_step - charged_kwh).max(0.0)
    }

    /// Most AC energy the battery can deliver now without going below `floor_kwh` of stored energy.
    pub fn discharge_room_kwh(&self, discharged_kwh: f64, floor_kwh: f64) -> f64 {
        ((self.soc_kwh - floor_kwh) * self.eta_discharge).min(self.max_discharge_kwh_per_step - discharged_kwh).max(0.0)
    }

    /// Charges with up to `offered_kwh` AC; returns what was taken.
    pub fn charge(&mut self, offered_kwh: f64, charged_kwh: f64) -> f64 {
        let e = offered_kwh.min(self.charge_room_kwh(charged_kwh)).max(0.0);
        self.soc_kwh = (self.soc_kwh + e * self.eta_charge).min(self.capacity_kwh);
        e
    }

    /// Discharges up to `wanted_kwh` AC, not below `floor_kwh` stored; returns what was delivered.
    pub fn discharge(&mut self, wanted_kwh: f64, discharged_kwh: f64, floor_kwh: f64) -> f64 {
        let e = wanted_kwh.min(self.discharge_room_kwh(discharged_kwh, floor_kwh)).max(0.0);
        self.soc_kwh = (self.soc_kwh - e / self.eta_discharge).max(0.0);
        self.discharged_kwh += e;
        if self.fade_per_cycle > 0.0 {
            let cycles = self.discharged_kwh / self.nominal_kwh;
            self.capacity_kwh = (self.nominal_kwh * (1.0 - self.fade_per_cycle * cycles)).max(self.min_soc_kwh);
            self.soc_kwh = self.soc_kwh.min(self.capacity_kwh);
        }
        e
    }

    /// Equivalent full cycles so far.
    pub fn cycles(&self) -> f64 {
        if self.nominal_kwh > 0.0 { self.discharged_kwh / self.nominal_kwh } else { 0.0 }
    }
}

/// The battery market policy, a resource fixed for the run.
#[derive(Resource, Debug, Clone, Copy)]
pub struct BatteryMarketPolicy {
    /// Fraction of capacity kept for the household's own use.
    pub market_reserve_soc: f64,
    /// Ask price for stored energy; `None`: midway between import and export price.
    pub offer_price: Option<PricePerKwh>,
}

/// The result of own use and the battery for one household and step, kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct OwnUse {
    /// PV used directly by the household.
    pub direct: f64,
    /// Stored from its own PV.
    pub charge: f64,
    /// Imported from the grid to charge it.
    pub grid_charge: f64,
    pub discharge: f64,
    /// PV left for the market.
    pub surplus: f64,
    /// Demand left for the market.
    pub deficit: f64,
}

/// Own use first, then the battery (the documented policy). Shared by the run and its grid-only
/// baseline so both follow exactly the same arithmetic.
pub fn own_use(pv_kwh: f64, load_kwh: f64, battery: Option<&mut Battery>) -> OwnUse {
    own_use_guided(pv_kwh, load_kwh, battery, Guide::OWN_USE)
}

/// Own use first, then the battery as `guide` says: it stores its share of the surplus, covers
/// its share of the deficit, then takes up to `grid_charge_kwh` from the grid (outside the
/// market: imported on top of the deficit).
pub fn own_use_guided(pv_kwh: f64, load_kwh: f64, battery: Option<&mut Battery>, guide: Guide) -> OwnUse {
    let direct = pv_kwh.min(load_kwh);
    let mut surplus = pv_kwh - direct;
    let mut deficit = load_kwh - direct;
    let (mut charge, mut discharge, mut grid_charge) = (0.0, 0.0, 0.0);
    if let Some(b) = battery {
        if surplus > 0.0 && guide.store_share > 0.0 {
            charge = b.charge((surplus * guide.store_share.min(1.0)).min(guide.store_max_kwh), 0.0);
            surplus -= charge;
        }
        if deficit > 0.0 && guide.discharge_share > 0.0 {
            let floor = b.min_soc_kwh;
            discharge = b.discharge((deficit * guide.discharge_share.min(1.0)).min(guide.discharge_max_kwh), 0.0, floor);
            deficit -= discharge;
        }
        if guide.grid_charge_kwh > 0.0 && discharge <= 0.0 {
            grid_charge = b.charge(guide.grid_charge_kwh, charge);
        }
    }
    OwnUse { direct, charge, grid_charge, discharge, surplus: surplus.max(0.0), deficit: deficit.max(0.0) }
}

/// Plans, own use and battery, in `HouseholdSystems::OwnUseAndBattery`, with the run's forecast
/// kind.
pub struct BatteryPlugin(pub BatteryMarketPolicy, pub super::planning::ForecastKind);

impl Plugin for BatteryPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(self.0).insert_resource(super::planning::ForecastSetting(self.1));
        app.add_systems(crate::base::schedule::SimStep, (super::planning::plan_batteries, own_use_and_battery).chain().in_set(super::HouseholdSystems::OwnUseAndBattery));
    }
}

/// Own use first, then the battery; fills `self_consumed`, `battery_*`, `surplus`, `deficit` and
/// `battery_offer` of each [`Meter`]. Reads `BatteryMarketPolicy`; writes `Meter`,
/// `Battery`. Runs in `HouseholdSystems::OwnUseAndBattery`, after PV and load are measured.
pub fn own_use_and_battery(policy: Res<BatteryMarketPolicy>, mut households: Query<(&mut Meter, Option<&mut Battery>, Option<&mut super::planning::BatteryPlanner>)>) {
    for (mut m, mut battery, planner) in &mut households {
        let guide = planner.as_ref().map_or(Guide::OWN_USE, |p| p.run_guide);
        let u = own_use_guided(m.pv_kwh, m.net_load_kwh(), battery.as_deref_mut(), guide);
        if let Some(mut p) = planner {
            p.run_done.0 += u.charge;
            p.run_done.1 += u.discharge;
        }
        let mut offer = 0.0;
        if let Some(b) = battery {
            // A planning battery keeps its energy for the household's own plan (it would sell
            // energy bought for a dear hour at less than that hour's price).
            let holds = b.mode != BatteryMode::SelfConsumption;
            if !holds && u.charge <= ENERGY_EPSILON_KWH && u.deficit <= ENERGY_EPSILON_KWH {
                let reserve = (policy.market_reserve_soc * b.capacity_kwh).max(b.min_soc_kwh);
                offer = b.discharge_room_kwh(u.discharge, reserve);
            }
        }
        m.self_consumed_kwh = u.direct + u.charge;
        m.battery_charge_kwh = u.charge + u.grid_charge;
        m.battery_grid_charge_kwh = u.grid_charge;
        m.battery_discharge_kwh = u.discharge;
        m.surplus_kwh = u.surplus;
        m.deficit_kwh = u.deficit;
        m.battery_offer_kwh = offer;
    }
}

/// A battery as a scenario describes it: capacity, power limits and efficiency.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatterySpec {
    pub capacity_kwh: f64,
    pub max_charge_kw: f64,
    pub max_discharge_kw: f64,
    #[serde(default = "default_round_trip_efficiency")]
    pub round_trip_efficiency: f64,
    /// Fraction of capacity at the start.
    #[serde(default = "default_initial_soc")]
    pub initial_soc: f64,
    /// Fraction of capacity never discharged below.
    #[serde(default = "default_min_soc")]
    pub min_soc: f64,
    /// How it is run.
    #[serde(default)]
    pub policy: BatteryMode,
    /// Capacity lost per equivalent full cycle, share of the nominal capacity (0: no fade).
    #[serde(default)]
    pub fade_per_cycle: f64,
}

fn default_round_trip_efficiency() -> f64 {
    0.9
}
fn default_initial_soc() -> f64 {
    0.5
}
fn default_min_soc() -> f64 {
    0.1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> BatterySpec {
        BatterySpec { capacity_kwh: 10.0, max_charge_kw: 4.0, max_discharge_kw: 5.0, round_trip_efficiency: 0.81, initial_soc: 0.5, min_soc: 0.1, policy: BatteryMode::SelfConsumption, fade_per_cycle: 0.0 }
    }

    #[test]
    fn state_of_charge_follows_efficiencies() {
        let mut b = Battery::from_spec(&spec(), 0.5);
        let (mut charged, mut discharged) = (0.0, 0.0);
        let c = b.charge(3.0, 0.0);
        assert!((c - 2.0).abs() < 1e-12, "limited by 4 kW × 0.5 h");
        charged += c;
        let d = b.discharge(1.0, 0.0, b.min_soc_kwh);
        discharged += d;
        let expected = 5.0 + charged * 0.9 - discharged / 0.9;
        assert!((b.soc_kwh - expected).abs() < 1e-12);
    }

    #[test]
    fn never_leaves_its_limits() {
        let mut b = Battery::from_spec(&spec(), 1.0);
        for _ in 0..10 {
            b.charge(100.0, 0.0);
        }
        assert!((b.soc_kwh - 10.0).abs() < 1e-9);
        for _ in 0..10 {
            b.discharge(100.0, 0.0, b.min_soc_kwh);
        }
        assert!((b.soc_kwh - 1.0).abs() < 1e-9);
        assert_eq!(b.discharge(1.0, 0.0, b.min_soc_kwh), 0.0);
    }
}
