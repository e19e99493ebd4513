//! Batteries that plan: `TariffArbitrage` and `Forecast` (see [`BatteryMode`]).
//!
//! `TariffArbitrage` needs no forecast: in a step whose import price is the lowest of the next
//! 24 h and, after the round trip's losses, below the dearest, it charges from the grid at full
//! power and holds what it has (no discharge); otherwise it runs as `SelfConsumption`. It knows
//! nothing of tomorrow's PV, so on a house whose PV fills the battery anyway it buys energy the
//! sun would have given: there `Forecast` is the policy to use.
//!
//! `Forecast` plans every hour over the next 24 h, in hourly blocks: forecasts of the
//! household's PV and load (net of what its car gives back) and the tariff's prices (known ahead)
//! give each hour's surplus and deficit. A greedy on sorted prices moves stored energy to where
//! it is worth most: deficits, dearest first, are served from the cheapest sources before them
//! (surplus PV at its export price, grid energy at its import price, each over its charging
//! efficiency; energy already stored last, since it can serve any deficit), while the battery
//! has room between the source and the deficit and a source is cheaper than the deficit's
//! import price times the discharge efficiency. An hour that buys from the grid does not also
//! discharge. Within the hour the plan becomes a [`Guide`]: the share of the surplus to store,
//! the share of the deficit to cover and the grid charge per step. It is a heuristic, not an
//! exact optimiser: a plan is kept only where, run as own use runs it, it costs less than
//! `SelfConsumption` on the same forecasts.
//!
//! Forecasts, a scenario choice (`battery_policy.forecast`): `Perfect` (the run's own PV and
//! load, computed a day ahead), `Persistence` (the same step yesterday), `Smoothed` (per step of
//! the day, exponential smoothing over days with weight [`SMOOTHING_WEIGHT`] on the latest day).
//! The current step is always measured. Each forecast's error is kept: the mean absolute error
//! of the forecast net load of each step (for `Perfect` the look-ahead's value for it, which
//! checks the look-ahead keeps step; for `Persistence` and `Smoothed` their forecast the day
//! before, from the second day on), against the mean absolute net load.

use super::battery::{Battery, BatteryMode, Guide, ENERGY_EPSILON_KWH};
use super::{Household, Meter};
use crate::base::time::{SimClock, TimeFrame};
use bevy::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Where a `Forecast` battery's forecasts of PV and load come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ForecastKind {
    #[default]
    Perfect,
    Persistence,
    Smoothed,
}

/// `Smoothed`: the weight of the latest day.
pub const SMOOTHING_WEIGHT: f64 = 0.3;
/// How far plans and price look-ahead reach, hours.
pub const HORIZON_HOURS: u64 = 24;

/// The run's forecast kind, a resource.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct ForecastSetting(pub ForecastKind);

/// `Perfect` forecasts: each planning household's PV and net load (kWh) for the steps from the
/// current one on, a day ahead; by household index (empty for the others). Written by the
/// simulation's look-ahead before the households' own use.
#[derive(Resource, Debug, Clone, Default)]
pub struct Lookahead {
    pub rows: Vec<VecDeque<(f64, f64)>>,
}

/// The run's import and export prices by step, micro-units per kWh (built on first use).
#[derive(Default)]
pub struct PricesAhead(Option<(Vec<i64>, Vec<i64>)>);

impl PricesAhead {
    fn get(&mut self, frame: TimeFrame, grid: &crate::environment::tariff::GridConnection) -> &(Vec<i64>, Vec<i64>) {
        self.0.get_or_insert_with(|| {
            (0..frame.total_steps)
                .map(|s| {
                    let at = SimClock::at(frame, s);
                    let p = grid.prices_at(s, at.local_mid_hour, at.is_weekend());
                    (p.import.0, p.export.0)
                })
                .unzip()
        })
    }
}

/// A household battery's plans (the run's and its grid-only baseline's: each has its own
/// battery), its forecast history and errors. Read and written by [`plan_batteries`]; the
/// guides read by own use.
#[derive(Component, Debug, Clone, Default)]
pub struct BatteryPlanner {
    /// This step's guides.
    pub run_guide: Guide,
    pub baseline_guide: Guide,
    run_plan: Vec<Guide>,
    baseline_plan: Vec<Guide>,
    /// What own use stored and discharged so far in the current block of each plan, kWh.
    pub run_done: (f64, f64),
    pub baseline_done: (f64, f64),
    plan_start: u64,
    planned: bool,
    /// Per step of the day: the last day's PV and net load, and their smoothed values.
    last_pv: Vec<f64>,
    last_load: Vec<f64>,
    smooth_pv: Vec<f64>,
    smooth_load: Vec<f64>,
    days_seen: u64,
    pub errors: ForecastErrors,
}

/// A household's forecast errors over the run, kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ForecastErrors {
    pub abs_error_kwh: f64,
    pub abs_net_kwh: f64,
    pub steps: u64,
}

/// One hour of a plan: what the forecasts expect, and what the plan does, AC kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Block {
    pub steps: u32,
    pub surplus_kwh: f64,
    pub deficit_kwh: f64,
    pub import_price: f64,
    pub export_price: f64,
}

/// What a plan does in each block, AC kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BlockPlan {
    pub store_kwh: f64,
    pub grid_kwh: f64,
    pub discharge_kwh: f64,
}

/// The greedy plan of `b` over `blocks` (see the module's notes).
pub fn plan_blocks(b: &Battery, blocks: &[Block], allow_grid: bool) -> Vec<BlockPlan> {
    let n = blocks.len();
    let mut out = vec![BlockPlan::default(); n];
    if n == 0 {
        return out;
    }
    let (eta_c, eta_d) = (b.eta_charge, b.eta_discharge);
    let room = (b.capacity_kwh - b.min_soc_kwh).max(0.0);
    // Stored energy above the floor at each block boundary.
    let mut level = vec![(b.soc_kwh - b.min_soc_kwh).clamp(0.0, room); n + 1];
    let mut free_initial = level[0];
    let mut charged_ac = vec![0.0; n];
    let (max_c, max_d): (Vec<f64>, Vec<f64>) = blocks.iter().map(|k| (b.max_charge_kwh_per_step * f64::from(k.steps), b.max_discharge_kwh_per_step * f64::from(k.steps))).unzip();
    // Sources: (cost per stored kWh, block, is_grid), cheapest first, later first among equals.
    let mut sources: Vec<(f64, usize, bool)> = Vec::with_capacity(2 * n);
    for (i, k) in blocks.iter().enumerate() {
        if k.surplus_kwh > ENERGY_EPSILON_KWH {
            sources.push((k.export_price / eta_c, i, false));
        }
        if allow_grid {
            sources.push((k.import_price / eta_c, i, true));
        }
    }
    // Cheapest first; among equals the latest, which holds the energy for the shortest time
    // and leaves the earlier ones to the deficits only they can reach.
    sources.sort_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)).then(a.2.cmp(&b.2)));
    let mut sinks: Vec<usize> = (0..n).filter(|&i| blocks[i].deficit_kwh > ENERGY_EPSILON_KWH).collect();
    sinks.sort_by(|&a, &b| blocks[b].import_price.total_cmp(&blocks[a].import_price).then(a.cmp(&b)));
    for t in sinks {
        // A block that buys for later imports its own deficit too: a battery does not charge
        // from the grid and discharge in one step.
        if out[t].grid_kwh > 0.0 {
            continue;
        }
        let value = blocks[t].import_price * eta_d;
        let mut want = blocks[t].deficit_kwh.min(max_d[t]) / eta_d;
        for &(cost, s, grid) in &sources {
            if want <= ENERGY_EPSILON_KWH {
                break;
            }
            if cost >= value {
                continue;
            }
            // Grid energy must be bought in an earlier hour, and not in one the battery serves;
            // the hour's own surplus may serve it.
            if s > t || (grid && (s == t || out[s].discharge_kwh > 0.0)) {
                continue;
            }
            let charge_room_ac = max_c[s] - charged_ac[s];
            let avail_ac = if grid { charge_room_ac } else { charge_room_ac.min(blocks[s].surplus_kwh - out[s].store_kwh) };
            let headroom = level[s + 1..=t].iter().fold(f64::INFINITY, |m, l| m.min(room - l));
            let x = want.min(avail_ac * eta_c).min(headroom);
            if x <= ENERGY_EPSILON_KWH {
                continue;
            }
            for l in &mut level[s + 1..=t] {
                *l += x;
            }
            charged_ac[s] += x / eta_c;
            if grid {
                out[s].grid_kwh += x / eta_c;
            } else {
                out[s].store_kwh += x / eta_c;
            }
            out[t].discharge_kwh += x * eta_d;
            want -= x;
        }
        // What is stored already comes last: it can serve any deficit.
        let from_store = want.min(free_initial);
        if from_store > ENERGY_EPSILON_KWH {
            free_initial -= from_store;
            for l in &mut level[t + 1..] {
                *l -= from_store;
            }
            out[t].discharge_kwh += from_store * eta_d;
        }
    }
    out
}

/// The cost of running `b` over `blocks` as `plans` say (`None`: as `SelfConsumption`), with
/// the energy left above its floor at the end valued at the cheapest import price seen (what
/// it saves at least when used later).
pub fn plan_cost(b: &Battery, blocks: &[Block], plans: Option<&[BlockPlan]>) -> f64 {
    let mut bat = *b;
    let mut cost = 0.0;
    for (i, k) in blocks.iter().enumerate() {
        let n = f64::from(k.steps.max(1));
        bat.max_charge_kwh_per_step = b.max_charge_kwh_per_step * n;
        bat.max_discharge_kwh_per_step = b.max_discharge_kwh_per_step * n;
        let (store, discharge, grid) = match plans.map(|p| p[i]) {
            Some(p) => (p.store_kwh.min(k.surplus_kwh), p.discharge_kwh.min(k.deficit_kwh), p.grid_kwh),
            None => (k.surplus_kwh, k.deficit_kwh, 0.0),
        };
        // As own use runs it: surplus, deficit, then the grid only when it did not discharge.
        let stored = bat.charge(store, 0.0);
        let delivered = bat.discharge(discharge, 0.0, bat.min_soc_kwh);
        let bought = if delivered > 0.0 { 0.0 } else { bat.charge(grid, stored) };
        cost += k.import_price * (k.deficit_kwh - delivered + bought) - k.export_price * (k.surplus_kwh - stored);
    }
    let cheapest = blocks.iter().map(|k| k.import_price).fold(f64::INFINITY, f64::min);
    cost - (bat.soc_kwh - b.min_soc_kwh).max(0.0) * b.eta_discharge * if cheapest.is_finite() { cheapest } else { 0.0 }
}

/// The plan for `b` over `blocks`: the greedy's, unless running as `SelfConsumption` costs no
/// more on the same forecasts (then `None`).
pub fn best_plan(b: &Battery, blocks: &[Block], allow_grid: bool) -> Option<Vec<BlockPlan>> {
    let plan = plan_blocks(b, blocks, allow_grid);
    (plan_cost(b, blocks, Some(&plan)) < plan_cost(b, blocks, None) - 1e-9).then_some(plan)
}

/// Guides for each step from `start` of `blocks` planned as `plans`.
fn guides(blocks: &[Block], plans: &[BlockPlan]) -> Vec<Guide> {
    let mut out = Vec::new();
    for (k, p) in blocks.iter().zip(plans) {
        // The block's totals, spent by its steps in turn (a share per step would lose what one
        // step's charging power cannot take); no cap where the plan takes all it expects.
        let cap = |x: f64, of: f64| if x + ENERGY_EPSILON_KWH >= of { f64::INFINITY } else { x };
        let g = Guide {
            store_share: 1.0,
            store_max_kwh: cap(p.store_kwh, k.surplus_kwh),
            discharge_share: 1.0,
            discharge_max_kwh: cap(p.discharge_kwh, k.deficit_kwh),
            grid_charge_kwh: p.grid_kwh / f64::from(k.steps.max(1)),
            block_first: false,
        };
        out.push(Guide { block_first: true, ..g });
        out.extend(std::iter::repeat_n(g, (k.steps as usize).saturating_sub(1)));
    }
    out
}

/// The guides of `b`'s best plan over `blocks` (none: run as `SelfConsumption`).
fn plan_guides(b: &Battery, blocks: &[Block], allow_grid: bool) -> Vec<Guide> {
    best_plan(b, blocks, allow_grid).map_or_else(Vec::new, |p| guides(blocks, &p))
}

/// `TariffArbitrage`'s guide at `step`: charge and hold in the cheapest steps of the next day
/// when the dearest pays for the losses.
fn arbitrage_guide(b: &Battery, step: u64, steps_ahead: u64, import: &[i64], connected: bool) -> Guide {
    let now = import.get(step as usize).copied().unwrap_or(i64::MAX) as f64;
    let end = ((step + steps_ahead) as usize).min(import.len());
    let ahead = import.get(step as usize + 1..end).unwrap_or_default();
    let dearest = ahead.iter().max().copied().unwrap_or(0) as f64;
    let cheapest = ahead.iter().min().copied().unwrap_or(i64::MAX) as f64;
    if connected && now <= cheapest && now < dearest * b.eta_charge * b.eta_discharge {
        Guide { discharge_share: 0.0, grid_charge_kwh: b.max_charge_kwh_per_step, ..Guide::OWN_USE }
    } else {
        Guide::OWN_USE
    }
}

/// Plans the batteries that plan: at every step for `TariffArbitrage`, every hour for
/// `Forecast` (first updating the forecasts' history with the step's measured PV and load).
/// Reads `SimClock`, `GridConnection`, `ForecastSetting`, `Lookahead`, `Meter`, `Battery`,
/// `BaselineOwnUse`; writes `BatteryPlanner`. Runs in `HouseholdSystems::OwnUseAndBattery`,
/// before own use.
#[allow(clippy::type_complexity)]
pub fn plan_batteries(
    clock: Res<SimClock>,
    grid: Res<crate::environment::tariff::GridConnection>,
    setting: Res<ForecastSetting>,
    lookahead: Option<Res<Lookahead>>,
    mut prices: Local<PricesAhead>,
    mut households: Query<(&Household, &Meter, &Battery, &super::baseline::BaselineOwnUse, &mut BatteryPlanner)>,
) {
    if households.is_empty() {
        return;
    }
    let frame = clock.frame;
    let step = clock.step;
    let connected = grid.is_connected();
    let per_day = (24 * 60 / u64::from(frame.step_minutes.max(1))).max(1);
    let per_block = (60 / u64::from(frame.step_minutes.max(1))).max(1);
    let horizon = (HORIZON_HOURS * 60 / u64::from(frame.step_minutes.max(1))).max(1);
    let (import, export) = prices.get(frame, &grid);
    let replan = step.is_multiple_of(per_block);
    for (h, m, battery, baseline, mut p) in &mut households {
        let p = &mut *p;
        let pv = m.pv_kwh;
        let load = m.net_load_kwh();
        let slot = (step % per_day) as usize;
        if p.last_pv.len() != per_day as usize {
            p.last_pv = vec![0.0; per_day as usize];
            p.last_load = vec![0.0; per_day as usize];
            p.smooth_pv = vec![0.0; per_day as usize];
            p.smooth_load = vec![0.0; per_day as usize];
        }
        let row = lookahead.as_ref().and_then(|l| l.rows.get(h.index as usize));
        // The error of the forecast this step had: the look-ahead's value for it (from the
        // first step), or a day ago (after the first day).
        let predicted = match setting.0 {
            ForecastKind::Perfect => row.and_then(|r| r.front()).map(|(f_pv, f_load)| f_load - f_pv),
            ForecastKind::Persistence => (step >= per_day).then(|| p.last_load[slot] - p.last_pv[slot]),
            ForecastKind::Smoothed => (step >= per_day).then(|| p.smooth_load[slot] - p.smooth_pv[slot]),
        };
        if let (BatteryMode::Forecast, Some(predicted)) = (battery.mode, predicted) {
            p.errors.abs_error_kwh += (predicted - (load - pv)).abs();
            p.errors.abs_net_kwh += (load - pv).abs();
            p.errors.steps += 1;
        }
        let w = if step < per_day { 1.0 } else { SMOOTHING_WEIGHT };
        p.smooth_pv[slot] += w * (pv - p.smooth_pv[slot]);
        p.smooth_load[slot] += w * (load - p.smooth_load[slot]);
        p.last_pv[slot] = pv;
        p.last_load[slot] = load;
        p.days_seen = step / per_day;
        match battery.mode {
            BatteryMode::SelfConsumption => {
                (p.run_guide, p.baseline_guide) = (Guide::OWN_USE, Guide::OWN_USE);
            }
            BatteryMode::TariffArbitrage => {
                p.run_guide = arbitrage_guide(battery, step, horizon, import, connected);
                p.baseline_guide = baseline.battery.as_ref().map_or(Guide::OWN_USE, |b| arbitrage_guide(b, step, horizon, import, connected));
            }
            BatteryMode::Forecast => {
                if replan || !p.planned {
                    let end = (step + horizon).min(frame.total_steps);
                    let forecast = |s: u64| -> (f64, f64) {
                        if s == step {
                            return (pv, load);
                        }
                        match setting.0 {
                            ForecastKind::Perfect => row.and_then(|r| r.get((s - step) as usize)).copied().unwrap_or((0.0, 0.0)),
                            ForecastKind::Persistence => {
                                let k = (s % per_day) as usize;
                                (p.last_pv[k], p.last_load[k])
                            }
                            ForecastKind::Smoothed => {
                                let k = (s % per_day) as usize;
                                (p.smooth_pv[k], p.smooth_load[k])
                            }
                        }
                    };
                    let mut blocks = Vec::new();
                    let mut s = step;
                    while s < end {
                        let block_end = ((s / per_block + 1) * per_block).min(end);
                        let mut k = Block { steps: (block_end - s) as u32, ..Default::default() };
                        for t in s..block_end {
                            let (f_pv, f_load) = forecast(t);
                            let net = f_load - f_pv;
                            k.surplus_kwh += (-net).max(0.0);
                            k.deficit_kwh += net.max(0.0);
                            k.import_price += import[t as usize] as f64;
                            k.export_price += export[t as usize] as f64;
                        }
                        k.import_price /= f64::from(k.steps);
                        k.export_price /= f64::from(k.steps);
                        blocks.push(k);
                        s = block_end;
                    }
                    p.run_plan = plan_guides(battery, &blocks, connected);
                    p.baseline_plan = baseline.battery.as_ref().map_or_else(Vec::new, |b| plan_guides(b, &blocks, connected));
                    p.plan_start = step;
                    p.planned = true;
                }
                let i = (step - p.plan_start) as usize;
                let spend = |g: Option<&Guide>, done: &mut (f64, f64)| {
                    let mut g = g.copied().unwrap_or_default();
                    if g.block_first {
                        *done = (0.0, 0.0);
                    }
                    g.store_max_kwh = (g.store_max_kwh - done.0).max(0.0);
                    g.discharge_max_kwh = (g.discharge_max_kwh - done.1).max(0.0);
                    g
                };
                p.run_guide = spend(p.run_plan.get(i), &mut p.run_done);
                p.baseline_guide = spend(p.baseline_plan.get(i), &mut p.baseline_done);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::household::battery::BatterySpec;

    fn battery(soc: f64) -> Battery {
        let spec = BatterySpec { capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0, round_trip_efficiency: 0.81, initial_soc: soc, min_soc: 0.0, policy: BatteryMode::Forecast, fade_per_cycle: 0.0 };
        Battery::from_spec(&spec, 1.0)
    }

    fn block(surplus: f64, deficit: f64, import: f64) -> Block {
        Block { steps: 1, surplus_kwh: surplus, deficit_kwh: deficit, import_price: import, export_price: 0.05 }
    }

    #[test]
    fn stored_energy_waits_for_the_dearest_hours() {
        // 4 kWh stored; deficits of 4 kWh at 0.20 now and 4 kWh at 0.50 later: the energy is
        // kept for the dear hour.
        let b = battery(0.4);
        let plan = plan_blocks(&b, &[block(0.0, 4.0, 0.20), block(0.0, 4.0, 0.50)], false);
        assert!(plan[0].discharge_kwh.abs() < 1e-12);
        assert!((plan[1].discharge_kwh - 4.0 * 0.9).abs() < 1e-9);
    }

    #[test]
    fn it_buys_cheap_grid_energy_only_when_it_pays_after_losses() {
        let b = battery(0.0);
        // 0.15 at night, 0.45 at the peak: 0.15 / 0.81 < 0.45, so it charges for the peak.
        let plan = plan_blocks(&b, &[block(0.0, 0.0, 0.15), block(0.0, 3.0, 0.45)], true);
        assert!((plan[1].discharge_kwh - 3.0).abs() < 1e-9);
        assert!((plan[0].grid_kwh - 3.0 / 0.81).abs() < 1e-9);
        // 0.30 against 0.33: losses eat the difference.
        let plan = plan_blocks(&b, &[block(0.0, 0.0, 0.30), block(0.0, 3.0, 0.33)], true);
        assert_eq!(plan[0].grid_kwh, 0.0);
        // Surplus PV at 0.05 is cheaper than the grid and is stored first.
        let plan = plan_blocks(&b, &[block(2.0, 0.0, 0.15), block(0.0, 3.0, 0.45)], true);
        assert!((plan[0].store_kwh - 2.0).abs() < 1e-9);
        assert!((plan[0].grid_kwh - (3.0 / 0.9 - 2.0 * 0.9) / 0.9).abs() < 1e-9);
    }

    #[test]
    fn the_battery_never_overfills_between_source_and_sink() {
        // Full battery, surplus now, deficit later: no room to store more before the deficit.
        let b = battery(1.0);
        let plan = plan_blocks(&b, &[block(5.0, 0.0, 0.3), block(0.0, 2.0, 0.3)], false);
        assert_eq!(plan[0].store_kwh, 0.0);
        assert!((plan[1].discharge_kwh - 2.0).abs() < 1e-9);
    }
}
