//! Deferrable appliances: a washing machine, dishwasher or dryer runs on some days, once, for a
//! set energy and duration, starting and finishing within a daily window in local time. At the
//! first step of each local day every household plans the day's runs: whether each appliance
//! runs that day (a draw with probability `runs_per_week / 7` from the household's own stream),
//! and when, by its policy:
//!
//! - `Earliest`: at the window's start (as if started when the household asked for it);
//! - `Cheapest`: where the grid's import price summed over the run is least (the tariff is
//!   known ahead: flat, time-of-use or a price series);
//! - `Sunniest`: where the sun is highest over the run (Σ cos zenith at the steps' middles, the
//!   shape of clear-sky PV: no forecast of the weather).
//!
//! Ties go to the earliest start. A run's energy is spread evenly over its steps and adds to the
//! household's load, so PV, its battery and the market see it like any load; energy run later
//! than the earliest start counts as shifted.

use super::{Household, Meter};
use crate::base::seed::{rng, Stream};
use crate::base::time::SimClock;
use crate::environment::tariff::GridConnection;
use crate::environment::weather::Site;
use bevy::prelude::*;
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// Kinds of appliance, with typical energy per run, duration and runs per week as defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ApplianceKind {
    WashingMachine,
    Dishwasher,
    Dryer,
}

impl ApplianceKind {
    /// (kWh per run, hours per run, runs per week): typical of current appliances (a 40 °C
    /// wash, an eco dishwasher programme, a condenser dryer's cotton load); give the label's
    /// values where known.
    pub fn defaults(self) -> (f64, f64, f64) {
        match self {
            ApplianceKind::WashingMachine => (0.9, 2.0, 4.0),
            ApplianceKind::Dishwasher => (1.0, 2.0, 5.0),
            ApplianceKind::Dryer => (2.5, 1.5, 3.0),
        }
    }
}

/// When a run starts within its window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum AppliancePolicy {
    #[default]
    Earliest,
    Cheapest,
    Sunniest,
}

/// An appliance as a scenario describes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ApplianceSpec {
    pub kind: ApplianceKind,
    #[serde(default)]
    pub runs_per_week: Option<f64>,
    #[serde(default)]
    pub kwh_per_run: Option<f64>,
    #[serde(default)]
    pub hours_per_run: Option<f64>,
    #[serde(default)]
    pub policy: AppliancePolicy,
    /// The daily window in local hours: a run starts at or after `from_hour` and ends by
    /// `to_hour` (0..=24, `from_hour` < `to_hour`).
    #[serde(default = "default_from_hour")]
    pub from_hour: f64,
    #[serde(default = "default_to_hour")]
    pub to_hour: f64,
}

fn default_from_hour() -> f64 {
    8.0
}
fn default_to_hour() -> f64 {
    22.0
}

/// An appliance resolved for the run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ApplianceDef {
    pub kwh_per_run: f64,
    pub steps_per_run: u64,
    /// Chance it runs on a given day.
    pub daily_chance: f64,
    pub policy: AppliancePolicy,
    pub from_hour: f64,
    pub to_hour: f64,
}

impl ApplianceDef {
    /// From a validated spec at the run's step length.
    pub fn from_spec(s: &ApplianceSpec, step_minutes: u32) -> ApplianceDef {
        let (kwh, hours, runs) = s.kind.defaults();
        let hours = s.hours_per_run.unwrap_or(hours);
        ApplianceDef {
            kwh_per_run: s.kwh_per_run.unwrap_or(kwh),
            steps_per_run: ((hours * 60.0 / f64::from(step_minutes.max(1))).ceil() as u64).max(1),
            daily_chance: (s.runs_per_week.unwrap_or(runs) / 7.0).clamp(0.0, 1.0),
            policy: s.policy,
            from_hour: s.from_hour,
            to_hour: s.to_hour,
        }
    }
}

/// A run planned for today: steps `start..end`, energy per step, and whether it was moved from
/// its earliest start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedRun {
    pub start: u64,
    pub end: u64,
    pub kwh_per_step: f64,
    pub shifted: bool,
}

/// A household's appliances and today's runs. Read and written by [`run_appliances`].
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct Appliances {
    pub defs: Vec<ApplianceDef>,
    pub planned: Vec<PlannedRun>,
}

/// The run's seed, for the appliances' streams.
#[derive(Resource, Debug, Clone, Copy)]
pub struct ApplianceSeed(pub u64);

/// One step of today as planning sees it: its number, local start and end hour (past 24 for a
/// step that ends after midnight), import price and sun.
#[derive(Debug, Clone, Copy)]
struct DayStep {
    step: u64,
    from_hour: f64,
    to_hour: f64,
    price: f64,
    sun: f64,
}

/// The steps that start on the local day of step `first`, from it on (to the run's end).
fn day_steps(clock: &SimClock, first: u64, grid: &GridConnection, site: &Site) -> Vec<DayStep> {
    let frame = clock.frame;
    let hour = |t: chrono::NaiveDateTime| {
        use chrono::Timelike;
        f64::from(t.hour()) + f64::from(t.minute()) / 60.0
    };
    let mut out = Vec::new();
    let date = clock.local_start.date();
    let mut at = SimClock::at(frame, first);
    while at.step < frame.total_steps && at.local_start.date() == date {
        let end = frame.zone.local(frame.step_start_utc(at.step + 1)).0;
        let to_hour = hour(end) + 24.0 * (end.date() - date).num_days() as f64;
        let price = grid.prices_at(at.step, at.local_mid_hour, at.is_weekend()).import.0 as f64;
        let sun = crate::environment::solar::sun_position(at.mid_utc, site.latitude_deg, site.longitude_deg).zenith_deg.to_radians().cos().max(0.0);
        out.push(DayStep { step: at.step, from_hour: hour(at.local_start), to_hour, price, sun });
        at = SimClock::at(frame, at.step + 1);
    }
    out
}

/// Where a run of `n` steps starts today under `def`: the index into `day` of its first step,
/// and whether that is later than its earliest possible start. `None`: it does not fit.
fn plan(def: &ApplianceDef, day: &[DayStep]) -> Option<(usize, bool)> {
    let n = def.steps_per_run as usize;
    let starts: Vec<usize> = (0..day.len().saturating_sub(n - 1)).filter(|&i| day[i].from_hour >= def.from_hour && day[i + n - 1].to_hour <= def.to_hour).collect();
    let earliest = *starts.first()?;
    let score = |i: usize, f: fn(&DayStep) -> f64| day[i..i + n].iter().map(f).sum::<f64>();
    let best = match def.policy {
        AppliancePolicy::Earliest => earliest,
        // Least cost, or most sun; the first of equals.
        AppliancePolicy::Cheapest => starts.iter().copied().fold(earliest, |b, i| if score(i, |d| d.price) < score(b, |d| d.price) { i } else { b }),
        AppliancePolicy::Sunniest => starts.iter().copied().fold(earliest, |b, i| if score(i, |d| d.sun) > score(b, |d| d.sun) { i } else { b }),
    };
    Some((best, best != earliest))
}

/// Plans each household's appliance runs at the first step of every local day, and adds the
/// energy of the runs under way to its load (`Meter::load_kwh`, `appliance_kwh`,
/// `shifted_kwh`). Reads `SimClock`, `GridConnection`, `Site`, `ApplianceSeed`; writes
/// `Appliances`, `Meter`. Runs in `HouseholdSystems::GenerationAndLoad`, after PV and load are
/// measured.
pub fn run_appliances(
    clock: Res<SimClock>,
    grid: Res<GridConnection>,
    site: Res<Site>,
    seed: Res<ApplianceSeed>,
    mut planned_day: Local<Option<chrono::NaiveDate>>,
    mut households: Query<(&Household, &mut Appliances, &mut Meter)>,
) {
    if households.is_empty() {
        return;
    }
    let step = clock.step;
    // A day's steps are those that start on its date (a step across midnight belongs to the
    // day it starts in).
    let date = clock.local_start.date();
    if *planned_day != Some(date) {
        *planned_day = Some(date);
        let day = day_steps(&clock, step, &grid, &site);
        let day_number = (date - clock.frame.zone.local(clock.frame.start_utc).0.date()).num_days().max(0) as u64;
        for (h, mut a, _) in &mut households {
            let a = &mut *a;
            a.planned.clear();
            for (k, def) in a.defs.iter().enumerate() {
                // A stream per (household, day, appliance): one's draws never shift another's.
                let mut r = rng(seed.0, Stream::Appliances, (u64::from(h.index) << 32) | (day_number << 8) | k as u64);
                if r.random::<f64>() >= def.daily_chance {
                    continue;
                }
                if let Some((i, shifted)) = plan(def, &day) {
                    let start = day[i].step;
                    a.planned.push(PlannedRun { start, end: start + def.steps_per_run, kwh_per_step: def.kwh_per_run / def.steps_per_run as f64, shifted });
                }
            }
        }
    }
    for (_, a, mut m) in &mut households {
        for run in a.planned.iter().filter(|r| (r.start..r.end).contains(&step)) {
            m.load_kwh += run.kwh_per_step;
            m.appliance_kwh += run.kwh_per_step;
            if run.shifted {
                m.shifted_kwh += run.kwh_per_step;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> Vec<DayStep> {
        // Hourly steps from 00:00; dear from 17:00 to 21:00, cheap from 22:00; the sun peaks at
        // noon.
        (0..24u64)
            .map(|h| {
                let hour = h as f64;
                let price = if (17.0..21.0).contains(&hour) { 0.5 } else if !(7.0..22.0).contains(&hour) { 0.15 } else { 0.3 };
                DayStep { step: h, from_hour: hour, to_hour: hour + 1.0, price, sun: (1.0 - ((hour + 0.5 - 12.0) / 6.0).powi(2)).max(0.0) }
            })
            .collect()
    }

    fn def(policy: AppliancePolicy, from_hour: f64, to_hour: f64) -> ApplianceDef {
        ApplianceDef { kwh_per_run: 1.0, steps_per_run: 2, daily_chance: 1.0, policy, from_hour, to_hour }
    }

    #[test]
    fn each_policy_starts_where_it_should_within_the_window() {
        let d = day();
        assert_eq!(plan(&def(AppliancePolicy::Earliest, 8.0, 22.0), &d), Some((8, false)));
        // The cheapest two hours in 08:00–22:00 are the first two at 0.30 (ties go early).
        assert_eq!(plan(&def(AppliancePolicy::Cheapest, 8.0, 22.0), &d), Some((8, false)));
        // In 16:00–24:00 the cheap hours are 22:00–24:00.
        assert_eq!(plan(&def(AppliancePolicy::Cheapest, 16.0, 24.0), &d), Some((22, true)));
        // The sun is highest over 11:00–13:00.
        assert_eq!(plan(&def(AppliancePolicy::Sunniest, 8.0, 22.0), &d), Some((11, true)));
        // A window shorter than the run, or past the day's end, fits nothing.
        assert_eq!(plan(&def(AppliancePolicy::Earliest, 23.0, 24.0), &d), None);
        assert_eq!(plan(&def(AppliancePolicy::Earliest, 8.0, 22.0), &d[..9]), None);
        // Half-hour steps from 21:30, the last across midnight (it ends at 24.5 h): a window to
        // 24 h cannot use it.
        let late: Vec<DayStep> = (0..6u64).map(|k| DayStep { step: k, from_hour: 21.5 + 0.5 * k as f64, to_hour: 22.0 + 0.5 * k as f64, price: 0.0, sun: 0.0 }).collect();
        let two = ApplianceDef { steps_per_run: 4, ..def(AppliancePolicy::Earliest, 22.0, 24.0) };
        assert_eq!(plan(&two, &late), Some((1, false)));
        assert_eq!(plan(&ApplianceDef { steps_per_run: 5, ..two }, &late), None);
    }

    #[test]
    fn defaults_follow_the_kind_and_the_step() {
        let s = ApplianceSpec { kind: ApplianceKind::Dryer, runs_per_week: None, kwh_per_run: None, hours_per_run: None, policy: AppliancePolicy::Sunniest, from_hour: 8.0, to_hour: 22.0 };
        let d = ApplianceDef::from_spec(&s, 60);
        assert_eq!((d.kwh_per_run, d.steps_per_run), (2.5, 2), "1.5 h takes two hourly steps");
        assert!((d.daily_chance - 3.0 / 7.0).abs() < 1e-12);
        assert_eq!(ApplianceDef::from_spec(&s, 15).steps_per_run, 6);
    }
}
