//! The grid-only baseline, simulated in the same pass as the run: the same PV and loads (read
//! from each household's [`Meter`]), its own copy of the battery under the same own-use policy
//! ([`crate::household::battery::own_use`], guided by the same plans), and no peer trading: surplus is exported and deficit imported at the step's
//! tariff (on an island: curtailed and unserved). This is exactly what a separate run with the
//! `grid-only` rule computes (a test checks the bills agree to the micro-unit), at a fraction of
//! the cost, since weather, PV and load noise are not drawn twice.

use crate::household::battery::{own_use_guided, Battery, Guide};
use crate::household::hot_water::{step_draws, Draw, TappingProfile};
use crate::household::{Meter, Wallet};
use crate::base::money::Micros;
use bevy::prelude::*;

/// A household's grid-only baseline over the run, as results report it (assembled from its
/// [`BaselineOwnUse`] and [`BaselineExchange`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BaselineResult {
    pub battery: Option<Battery>,
    pub totals: Meter,
    pub wallet: Wallet,
    /// The last step: surplus and deficit after own use, and what line limits cut of them.
    pub step_surplus_kwh: f64,
    pub step_deficit_kwh: f64,
    pub step_curtailed_kwh: f64,
    pub step_unserved_kwh: f64,
    /// Steps with unserved demand.
    pub loss_of_load_steps: u64,
}

impl BaselineResult {
    /// The baseline as results report it.
    pub fn from_parts(own: &BaselineOwnUse, x: &BaselineExchange) -> BaselineResult {
        let mut totals = own.totals;
        (totals.grid_export_kwh, totals.grid_import_kwh, totals.curtailed_kwh, totals.unserved_kwh) = (x.grid_export_kwh, x.grid_import_kwh, x.curtailed_kwh, x.unserved_kwh);
        (totals.export_limited_kwh, totals.inverter_curtailed_kwh) = (x.export_limited_kwh, x.inverter_curtailed_kwh);
        BaselineResult {
            battery: own.battery,
            totals,
            wallet: Wallet { balance: x.balance, grid_paid: x.grid_paid, grid_received: x.grid_received, ..Default::default() },
            step_surplus_kwh: x.step_surplus_kwh,
            step_deficit_kwh: x.step_deficit_kwh,
            step_curtailed_kwh: x.step_curtailed_kwh,
            step_unserved_kwh: x.step_unserved_kwh,
            loss_of_load_steps: x.loss_of_load_steps,
        }
    }
}

/// A household's baseline own use: its copy of the battery, and the sums of PV, load, own use
/// and battery energy (the other fields of `totals` stay zero; see [`BaselineExchange`]).
#[derive(Component, Debug, Clone, Default)]
pub struct BaselineOwnUse {
    pub battery: Option<Battery>,
    /// Its own copy of a car that bids on the market (`EvPolicy::Market`): without a market it
    /// charges only its PV surplus and what least laxity forces, so it drifts from the run's.
    /// Other cars charge the same in both and are not copied.
    pub vehicle: Option<Box<super::vehicle::Vehicle>>,
    pub totals: Meter,
}

/// A household's baseline copy of its heat pump when the run's bids on the market
/// (`HeatControl::SolarAware`): without a market it heats only on its PV and the price, so it
/// drifts from the run's. Other pumps heat the same in both and are not copied. A component of
/// its own (not inside [`BaselineOwnUse`]) so the copies lie together and a pass over them reads
/// them in order.
#[derive(Component, Debug, Clone)]
pub struct BaselineHeat {
    pub pump: super::heating::HeatPump,
    /// And of the hot-water tank such a pump heats (the pump's spare capacity heats it).
    pub tank: Option<super::hot_water::HotWater>,
    /// This step's load with them ([`baseline_heating`]).
    pub step: Option<BaselineHeatStep>,
}

/// A household's baseline exchange with the grid: this step's surplus and deficit and what line
/// limits cut of them, and their sums and money over the run. Apart from [`BaselineOwnUse`] so
/// that the passes over every household that need only this (the settlement, the line limits'
/// offers) read 96 bytes each, not the 300 of the whole baseline.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct BaselineExchange {
    pub step_surplus_kwh: f64,
    pub step_deficit_kwh: f64,
    /// Imported this step to charge its battery (outside the market and the limits).
    pub step_grid_charge_kwh: f64,
    pub step_curtailed_kwh: f64,
    pub step_unserved_kwh: f64,
    pub grid_export_kwh: f64,
    pub grid_import_kwh: f64,
    pub curtailed_kwh: f64,
    /// Of `curtailed_kwh`: for its export cap and by its inverter's volt-watt ceiling.
    pub export_limited_kwh: f64,
    pub inverter_curtailed_kwh: f64,
    pub unserved_kwh: f64,
    pub balance: Micros,
    pub grid_paid: Micros,
    pub grid_received: Micros,
    /// Steps with unserved demand.
    pub loss_of_load_steps: u64,
}

impl BaselineExchange {
    /// The baseline's bill so far.
    pub fn bill(&self) -> Micros {
        -self.balance
    }
}

/// What a household's baseline loads this step where its heat pump is its own copy (see
/// [`baseline_heating`]): the load, the pump's and the tank's electricity, kWh, and the load before
/// the car's charging when it has a car.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BaselineHeatStep {
    pub load_kwh: f64,
    pub heat_pump_kwh: f64,
    pub hot_water_kwh: f64,
    pub car_before_kwh: Option<f64>,
}

/// Advances the baseline's own copies of `SolarAware` heat pumps and their tanks by the step,
/// in the run's order (the tank on the pump's spare capacity, then the pump), and sets
/// `BaselineHeat::step` for [`baseline_own_use`]. Reads `SimClock`, `Meter`, the run's
/// `HeatPump`, `HotWater` and `Vehicle`; writes `BaselineHeat`. Runs in
/// `HouseholdSystems::OwnUseAndBattery`, before [`baseline_own_use`]. Houses are split over the
/// `--threads` pool as a `Pace` region (each reads and writes only its own).
#[allow(clippy::type_complexity)]
pub fn baseline_heating(
    clock: Res<crate::base::time::SimClock>,
    pace: Res<crate::base::exec::Pace>,
    mut households: Query<(&Meter, &mut BaselineHeat, &super::heating::HeatPump, Option<&super::hot_water::HotWater>, Option<&super::vehicle::Vehicle>)>,
) {
    use rayon::prelude::*;
    if households.is_empty() {
        return;
    }
    // The step's draws of each profile, shared by every tank of it (as in the run).
    let start = clock.local_start.time();
    let hours = clock.frame.step_hours();
    let draws = [TappingProfile::M, TappingProfile::L].map(|p| step_draws(p, start, hours));
    let mut houses: Vec<_> = households.iter_mut().collect();
    pace.region(|| {
        houses.par_iter_mut().for_each(|(m, copy, run, run_tank, run_car)| {
            let copy = &mut **copy;
            copy.step = heat_copy_step(&draws, m, &mut copy.pump, copy.tank.as_mut(), run, *run_tank, run_car.map(|c| c.load_before_kwh));
        })
    });
}

/// One house's step of [`baseline_heating`]; `None` before the run's pump has had a step.
#[allow(clippy::too_many_arguments)]
fn heat_copy_step(
    draws: &[Vec<Draw>; 2],
    m: &Meter,
    pump: &mut super::heating::HeatPump,
    mut tank: Option<&mut super::hot_water::HotWater>,
    run: &super::heating::HeatPump,
    run_tank: Option<&super::hot_water::HotWater>,
    car_before: Option<f64>,
) -> Option<BaselineHeatStep> {
    let w = run.step_weather?;
    // The run's order: the tank on the pump's spare capacity, then the pump.
    let before = run.load_before_kwh;
    // Where the copies start the step as the run's did, they end it as the run's must-run part
    // did: taken over, not computed again.
    let tank_follows = match (tank.as_deref(), run_tank) {
        (Some(tank), Some(r)) => tank.follows(r),
        (None, _) => true,
        (Some(_), None) => false,
    };
    let followed = if tank_follows && pump.follows(run) {
        if let (Some(tank), Some(r)) = (tank.as_deref_mut(), run_tank) {
            tank.follow(r);
        }
        pump.follow(run).map(|e| (m.hot_water_kwh, e))
    } else {
        None
    };
    let (hw_kwh, e) = match followed {
        Some(f) => f,
        None => {
            let (hw_kwh, hw_w) = match tank {
                Some(tank) => {
                    pump.begin_step(&w);
                    let spare_w = pump.capacity_w - pump.space_need_w();
                    let space_kwh = pump.space_need_kwh(&w);
                    let d = &draws[usize::from(tank.spec.profile == TappingProfile::L)];
                    tank.advance_with(&w, d, Some((&*pump, spare_w)), (m.pv_kwh - before - space_kwh).max(0.0))
                }
                None => (m.hot_water_kwh, run.step_hot_water_w),
            };
            (hw_kwh, pump.advance(&w, hw_w, (m.pv_kwh - before - hw_kwh).max(0.0)))
        }
    };
    // The run's own load when the copies did the same (bit for bit).
    if e == m.heat_pump_kwh && hw_kwh == m.hot_water_kwh {
        return Some(BaselineHeatStep { load_kwh: m.load_kwh, heat_pump_kwh: m.heat_pump_kwh, hot_water_kwh: m.hot_water_kwh, car_before_kwh: car_before });
    }
    let load_kwh = before + hw_kwh + e + (m.load_kwh - before - m.hot_water_kwh - m.heat_pump_kwh);
    Some(BaselineHeatStep { load_kwh, heat_pump_kwh: e, hot_water_kwh: hw_kwh, car_before_kwh: car_before.map(|_| before + hw_kwh + e) })
}

/// Advances every household's baseline by the step's own use. Reads `SimClock`, `Meter` (PV,
/// load and the devices' parts of it), the run's `Vehicle` and `BaselineHeat::step`; writes
/// `BaselineOwnUse`, its car's copy, `BatteryPlanner`'s baseline counts and this step's surplus
/// and deficit in `BaselineExchange`. Runs in `HouseholdSystems::OwnUseAndBattery`, after PV and
/// load and [`baseline_heating`].
#[allow(clippy::type_complexity)]
pub fn baseline_own_use(
    clock: Res<crate::base::time::SimClock>,
    mut households: Query<(&Meter, &mut BaselineOwnUse, &mut BaselineExchange, Option<&mut super::planning::BatteryPlanner>, Option<&super::vehicle::Vehicle>, Option<&BaselineHeat>)>,
) {
    for (m, mut own, mut x, planner, run_car, heat_copy) in &mut households {
        let own = &mut *own;
        // Its own heat pump's load when the run's bids on the market; else the run's heating.
        let (load, heat, hot, car_before) = match heat_copy.and_then(|c| c.step) {
            Some(h) => (h.load_kwh, h.heat_pump_kwh, h.hot_water_kwh, h.car_before_kwh),
            None => (m.load_kwh, m.heat_pump_kwh, m.hot_water_kwh, run_car.map(|c| c.load_before_kwh)),
        };
        // Its own car when the run's bids on the market; else the run's charging.
        let (load, ev, v2h) = match own.vehicle.as_deref_mut() {
            Some(car) => {
                let before = car_before.unwrap_or(load - m.ev_kwh);
                let (c, d) = car.advance(&clock.frame, clock.step, m.pv_kwh, before, &|_| i64::MAX);
                // The run's own load when the two cars did the same (bit for bit, so a battery
                // planned on it decides the same).
                if c == m.ev_kwh && d == m.ev_discharge_kwh && load == m.load_kwh { (m.load_kwh, c, d) } else { (before + c, c, d) }
            }
            None => (load, m.ev_kwh, m.ev_discharge_kwh),
        };
        let guide = planner.as_ref().map_or(Guide::OWN_USE, |p| p.baseline_guide);
        let u = own_use_guided(m.pv_kwh, load - v2h, own.battery.as_mut(), guide);
        if let Some(mut p) = planner {
            p.baseline_done.0 += u.charge;
            p.baseline_done.1 += u.discharge;
        }
        let t = &mut own.totals;
        t.pv_kwh += m.pv_kwh;
        t.load_kwh += load;
        t.ev_kwh += ev;
        t.ev_discharge_kwh += v2h;
        t.heat_pump_kwh += heat;
        t.hot_water_kwh += hot;
        t.self_consumed_kwh += u.direct + u.charge;
        t.battery_charge_kwh += u.charge + u.grid_charge;
        t.battery_grid_charge_kwh += u.grid_charge;
        t.battery_discharge_kwh += u.discharge;
        x.step_surplus_kwh = u.surplus;
        x.step_deficit_kwh = u.deficit;
        x.step_grid_charge_kwh = u.grid_charge;
        x.step_curtailed_kwh = 0.0;
        x.step_unserved_kwh = 0.0;
    }
}

/// The baseline's own use, in `HouseholdSystems::OwnUseAndBattery`. Its offers are limited by the
/// grid and settled by the settlement as the [`super::side::Baseline`] side.
pub struct BaselinePlugin;

impl Plugin for BaselinePlugin {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        use super::HouseholdSystems;
        app.add_systems(SimStep, (baseline_heating, baseline_own_use).chain().in_set(HouseholdSystems::OwnUseAndBattery).after(super::planning::plan_batteries));
    }
}
