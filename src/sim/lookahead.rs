//! `Perfect` forecasts for `Forecast` batteries: a second, headless copy of the environment and
//! the households' generation and load (with their appliances and cars) runs a day ahead of the
//! simulation, from the same seeds, so its PV and load are the run's own. Nothing downstream of
//! them (market, batteries, ledger) feeds back into them, which is what makes the copy exact.

use super::create;
use crate::base::schedule::SimStep;
use crate::base::time::SimClock;
use crate::environment::weather::EnvironmentPlugin;
use crate::environment::EnvironmentSystems;
use crate::household::battery::BatteryMode;
use crate::household::planning::{ForecastKind, Lookahead, HORIZON_HOURS};
use crate::household::{Household, HouseholdPlugin, HouseholdSystems, Meter};
use crate::scenario::Scenario;
use bevy::ecs::schedule::SingleThreadedExecutor;
use bevy::prelude::*;
use std::collections::VecDeque;

/// The look-ahead's system, between the households' generation and their own use.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct LookaheadSystems;

/// The copy a day ahead: its app, the next step it runs, which households it reports, and the
/// first step the look-ahead's rows hold.
pub struct Shadow {
    app: App,
    next: u64,
    wanted: Vec<bool>,
    first: u64,
    horizon: u64,
    total: u64,
}

/// Adds the look-ahead to `app` when some battery plans on `Perfect` forecasts.
pub fn install(app: &mut App, s: &Scenario) {
    let wanted: Vec<bool> = s.households.iter().map(|h| h.battery.as_ref().is_some_and(|b| b.policy == BatteryMode::Forecast)).collect();
    if s.battery_policy.forecast != ForecastKind::Perfect || !wanted.contains(&true) {
        return;
    }
    let mut shadow = App::empty();
    create::spawn_households(shadow.world_mut(), s);
    let mut schedule = Schedule::new(SimStep);
    schedule.set_executor(SingleThreadedExecutor::new());
    shadow.add_schedule(schedule);
    shadow.configure_sets(SimStep, (EnvironmentSystems, HouseholdSystems::GenerationAndLoad).chain());
    shadow.add_plugins((EnvironmentPlugin(create::environment_config(s)), HouseholdPlugin(create::household_config(s))));
    shadow.insert_resource(crate::base::exec::Pace::default());
    let horizon = (HORIZON_HOURS * 60 / u64::from(s.frame.step_minutes.max(1))).max(1);
    app.insert_non_send(Shadow { app: shadow, next: 0, wanted, first: 0, horizon, total: s.frame.total_steps });
    app.insert_resource(Lookahead { rows: vec![VecDeque::new(); s.households.len()] });
    app.add_systems(SimStep, look_ahead.in_set(LookaheadSystems));
}

/// Runs the copy up to a day past the current step and keeps each planning household's PV and
/// net load from the current step on. Reads `SimClock`; writes `Shadow`, `Lookahead`. Runs in
/// [`LookaheadSystems`], after the households' generation and load.
pub fn look_ahead(clock: Res<SimClock>, mut shadow: NonSendMut<Shadow>, mut look: ResMut<Lookahead>) {
    let shadow = &mut *shadow;
    let step = clock.step;
    while shadow.first < step {
        for row in &mut look.rows {
            row.pop_front();
        }
        shadow.first += 1;
    }
    let until = (step + shadow.horizon).min(shadow.total);
    while shadow.next < until {
        let world = shadow.app.world_mut();
        world.run_schedule(SimStep);
        let mut q = world.query::<(&Household, &Meter)>();
        for (h, m) in q.iter(world) {
            if shadow.wanted[h.index as usize] {
                look.rows[h.index as usize].push_back((m.pv_kwh, m.net_load_kwh()));
            }
        }
        shadow.next += 1;
    }
}
