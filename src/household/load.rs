//! Household loads: built-in archetypes with seeded noise, or a measured profile.
//!
//! An archetype is a 24-hour shape (weekday and weekend, mean 1 over the day) times a monthly
//! seasonal factor (mean 1 over the year; winter is the higher season, by hemisphere) times
//! `annual_kwh / 8760` kW. Each household shifts its shape by a fixed offset of up to
//! ±`MAX_SHIFT_HOURS` and multiplies it by log-normal AR(1) noise (mean 1) from its own stream.

use bevy::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};

pub const HOURS_PER_YEAR: f64 = 8760.0;
const HOURS_PER_DAY: f64 = 24.0;
/// Households' shapes are shifted by up to this many hours either way.
pub const MAX_SHIFT_HOURS: f64 = 1.0;
/// Standard deviation of the log of the noise multiplier.
pub const NOISE_SIGMA: f64 = 0.35;
/// Correlation time of the noise, hours.
pub const NOISE_CORRELATION_HOURS: f64 = 0.75;

/// Typical annual consumption of an archetype, kWh.
pub fn default_annual_kwh(kind: Archetype) -> f64 {
    match kind {
        Archetype::WorkingCouple => 4000.0,
        Archetype::Family => 6500.0,
        Archetype::Retired => 3500.0,
        Archetype::HomeOffice => 5500.0,
        Archetype::BdewH0 => BDEW_H0_DEFAULT_ANNUAL_KWH,
    }
}

/// Annual consumption of a `BdewH0` household unless stated, kWh (about a German household's).
pub const BDEW_H0_DEFAULT_ANNUAL_KWH: f64 = 3000.0;
/// The H0 table gives kW per this annual consumption, kWh.
const BDEW_REFERENCE_ANNUAL_KWH: f64 = 1000.0;
const QUARTERS_PER_DAY: usize = 96;
/// Days a southern-hemisphere site shifts the H0 calendar (its seasons and dynamisation).
const SOUTHERN_SHIFT_DAYS: i64 = 182;

/// The BDEW H0 standard load profile (BDEW/VDEW 1999, as oemof/demandlib publishes it; see
/// `assets/README.md`): kW per 1,000 kWh a year by season (winter, transition, summer), day type
/// (workday, Saturday, Sunday) and quarter hour from 00:00.
static BDEW_H0: std::sync::LazyLock<[[[f64; QUARTERS_PER_DAY]; 3]; 3]> = std::sync::LazyLock::new(|| {
    let mut table = [[[f64::NAN; QUARTERS_PER_DAY]; 3]; 3];
    let mut r = csv::Reader::from_reader(include_str!("../../assets/bdew_h0.csv").as_bytes());
    for rec in r.records() {
        let rec = rec.expect("the built-in H0 table is CSV");
        let season = ["winter", "transition", "summer"].iter().position(|x| *x == &rec[0]).expect("a season");
        let day = ["workday", "saturday", "sunday"].iter().position(|x| *x == &rec[1]).expect("a day type");
        let q: usize = rec[2].parse().expect("a quarter");
        table[season][day][q] = rec[3].parse().expect("a value");
    }
    assert!(table.iter().flatten().flatten().all(|x| x.is_finite()), "every H0 value is given");
    table
});

/// H0's season of a date: winter 1 November to 20 March, summer 15 May to 14 September, the rest
/// transition.
fn bdew_season(date: chrono::NaiveDate) -> usize {
    use chrono::Datelike;
    let md = (date.month(), date.day());
    if md <= (3, 20) || md >= (11, 1) {
        0
    } else if (5, 15) <= md && md <= (9, 14) {
        2
    } else {
        1
    }
}

/// BDEW's dynamisation factor of H0 on day `t` of the year (1..366): higher in winter.
pub fn bdew_dynamisation(t: u32) -> f64 {
    let t = f64::from(t);
    -3.92e-10 * t.powi(4) + 3.2e-7 * t.powi(3) - 7.02e-5 * t * t + 2.1e-3 * t + 1.24
}

/// Energy (kWh) of an H0 household of `annual_kwh` in the local hours `from_hour..to_hour` of
/// `date` (a day of the week 0 = Monday): the quarter-hour powers integrated over the hours
/// (which may reach into the days either side; they keep this day's type), times the
/// dynamisation factor. A southern site reads the calendar half a year on.
pub fn bdew_h0_kwh(annual_kwh: f64, date: chrono::NaiveDate, weekday: u32, from_hour: f64, to_hour: f64, latitude_deg: f64) -> f64 {
    use chrono::Datelike;
    let date = if latitude_deg < 0.0 { date + chrono::Duration::days(SOUTHERN_SHIFT_DAYS) } else { date };
    let day = match weekday {
        0..=4 => 0,
        5 => 1,
        _ => 2,
    };
    let values = &BDEW_H0[bdew_season(date)][day];
    let (mut t, mut kwh) = (from_hour, 0.0);
    while t < to_hour {
        let quarter = (t * 4.0).floor();
        let end = ((quarter + 1.0) / 4.0).min(to_hour);
        kwh += values[(quarter as i64).rem_euclid(QUARTERS_PER_DAY as i64) as usize] * (end - t);
        t = end;
    }
    annual_kwh / BDEW_REFERENCE_ANNUAL_KWH * kwh * bdew_dynamisation(date.ordinal())
}

// Hourly shapes (relative; normalised to mean 1 when used), hour 0 = 00:00–01:00 local.
#[rustfmt::skip]
const WORKING_WEEKDAY: [f64; 24] = [0.45,0.4,0.38,0.38,0.4,0.55,1.3,1.8,1.3,0.6,0.5,0.5,0.5,0.5,0.5,0.6,0.9,1.6,2.3,2.4,2.1,1.7,1.1,0.7];
#[rustfmt::skip]
const WORKING_WEEKEND: [f64; 24] = [0.5,0.45,0.4,0.4,0.4,0.45,0.6,0.9,1.3,1.4,1.3,1.2,1.2,1.1,1.0,1.0,1.2,1.6,2.1,2.2,1.9,1.6,1.1,0.7];
#[rustfmt::skip]
const FAMILY_WEEKDAY: [f64; 24] = [0.5,0.45,0.42,0.42,0.45,0.6,1.4,1.9,1.4,0.8,0.7,0.7,0.75,0.75,0.8,1.2,1.5,2.0,2.5,2.4,2.0,1.5,1.0,0.7];
#[rustfmt::skip]
const FAMILY_WEEKEND: [f64; 24] = [0.55,0.5,0.45,0.45,0.45,0.5,0.8,1.3,1.6,1.6,1.4,1.4,1.5,1.3,1.2,1.2,1.4,1.9,2.3,2.2,1.8,1.4,1.0,0.7];
#[rustfmt::skip]
const RETIRED: [f64; 24] = [0.5,0.45,0.45,0.45,0.45,0.55,0.9,1.3,1.4,1.3,1.2,1.2,1.3,1.1,1.0,1.0,1.2,1.6,1.8,1.6,1.4,1.1,0.8,0.6];
#[rustfmt::skip]
const HOME_OFFICE: [f64; 24] = [0.45,0.4,0.4,0.4,0.4,0.5,0.9,1.3,1.3,1.3,1.3,1.2,1.3,1.3,1.3,1.2,1.2,1.6,2.0,1.9,1.6,1.3,0.9,0.6];
/// Seasonal factor by month for the northern hemisphere (January first); shifted by six months
/// in the south. Mean 1.
#[rustfmt::skip]
const SEASON_NORTH: [f64; 12] = [1.25,1.2,1.08,0.95,0.88,0.9,0.95,0.92,0.88,0.95,1.09,1.25];

fn hourly_shape(kind: Archetype, weekend: bool) -> &'static [f64; 24] {
    match (kind, weekend) {
        (Archetype::WorkingCouple, false) => &WORKING_WEEKDAY,
        (Archetype::WorkingCouple, true) => &WORKING_WEEKEND,
        (Archetype::Family, false) => &FAMILY_WEEKDAY,
        (Archetype::Family, true) => &FAMILY_WEEKEND,
        (Archetype::Retired, _) => &RETIRED,
        (Archetype::HomeOffice, false) => &HOME_OFFICE,
        (Archetype::HomeOffice, true) => &FAMILY_WEEKEND,
        // H0 has its own quarter-hour table (`bdew_h0_kwh`); `archetype_kwh` never shapes it
        // here, and a mean-1 stand-in keeps this total.
        (Archetype::BdewH0, w) => hourly_shape(Archetype::Family, w),
    }
}

const ARCHETYPES: [Archetype; 4] = [Archetype::WorkingCouple, Archetype::Family, Archetype::Retired, Archetype::HomeOffice];

/// Shapes normalised to mean 1, by (archetype, weekend), computed once (this is the hot loop).
static NORMALISED: std::sync::LazyLock<[[[f64; 24]; 2]; 4]> = std::sync::LazyLock::new(|| {
    let mut out = [[[0.0; 24]; 2]; 4];
    for (a, kind) in ARCHETYPES.iter().enumerate() {
        assert_eq!(*kind as usize, a, "ARCHETYPES is in declaration order");
        for (w, weekend) in [false, true].into_iter().enumerate() {
            let s = hourly_shape(*kind, weekend);
            let mean = s.iter().sum::<f64>() / 24.0;
            out[a][w] = s.map(|v| v / mean);
        }
    }
    out
});

/// The shape's value at a local hour (linear between hour centres), normalised to mean 1.
pub fn shape_at(kind: Archetype, weekend: bool, hour: f64) -> f64 {
    let kind = if kind == Archetype::BdewH0 { Archetype::Family } else { kind };
    let s = &NORMALISED[kind as usize][weekend as usize];
    let x = wrap_day_hours(hour - 0.5);
    let i = x as usize % 24;
    let f = x - i as f64;
    s[i] * (1.0 - f) + s[(i + 1) % 24] * f
}

/// `hours.rem_euclid(24.0)`, to the bit, without the `fmod` call (a shifted local hour is
/// always within a day of the range, and this runs for every household every step).
fn wrap_day_hours(hours: f64) -> f64 {
    if (0.0..HOURS_PER_DAY).contains(&hours) {
        hours
    } else if hours > -HOURS_PER_DAY && hours < 0.0 {
        // What `rem_euclid` computes here: the remainder is `hours` itself, made positive (at
        // exactly −24 the remainder is −0, which `rem_euclid` keeps).
        hours + HOURS_PER_DAY
    } else {
        hours.rem_euclid(HOURS_PER_DAY)
    }
}

/// Seasonal factor for a local month (1..=12) at a latitude.
pub fn season_factor(month: u32, latitude_deg: f64) -> f64 {
    let m = (month.clamp(1, 12) - 1) as usize;
    let idx = if latitude_deg >= 0.0 { m } else { (m + 6) % 12 };
    let mean = SEASON_NORTH.iter().sum::<f64>() / 12.0;
    SEASON_NORTH[idx] / mean
}

/// Months whose seasonal factor is taken as free of heating: May to September (northern).
const NON_HEATING_MONTHS_NORTH: [usize; 5] = [4, 5, 6, 7, 8];

/// The share of an archetype's load left when the house heats with a heat pump: the seasonal
/// factor above its highest in the non-heating months (May–September in the north) is taken as
/// electric heating and removed, so the heat pump's electricity does not count it twice. (BDEW
/// H0 leaves electric heating out already: BDEW profiles it separately.)
pub fn heating_removed(kind: Archetype, month: u32, latitude_deg: f64) -> f64 {
    if kind == Archetype::BdewH0 {
        return 1.0;
    }
    let m = (month.clamp(1, 12) - 1) as usize;
    let idx = if latitude_deg >= 0.0 { m } else { (m + 6) % 12 };
    let summer = NON_HEATING_MONTHS_NORTH.iter().map(|&i| SEASON_NORTH[i]).fold(0.0, f64::max);
    SEASON_NORTH[idx].min(summer) / SEASON_NORTH[idx]
}

/// Where a household's consumption comes from.
#[derive(Component, Debug, Clone, Copy)]
pub enum LoadSource {
    Archetype { kind: Archetype, annual_kwh: f64, shift_hours: f64 },
    /// Row of [`crate::household::profile::ProfileTable`]; the profile also gives PV.
    Profile { series: usize },
}

/// A household's own noise stream and AR(1) state.
#[derive(Component)]
pub struct LoadNoise {
    rng: ChaCha8Rng,
    state: f64,
}

impl LoadNoise {
    /// Seeds the noise; draws the household's shape shift first. Returns (noise, shift).
    pub fn new(mut rng: ChaCha8Rng) -> (Self, f64) {
        let shift = rng.random_range(-MAX_SHIFT_HOURS..=MAX_SHIFT_HOURS);
        let z: f64 = StandardNormal.sample(&mut rng);
        let state = NOISE_SIGMA * z;
        (LoadNoise { rng, state }, shift)
    }

    /// Next multiplier (mean 1). One draw per step.
    pub fn next_multiplier(&mut self, step: &NoiseStep) -> f64 {
        let eps: f64 = StandardNormal.sample(&mut self.rng);
        self.state = step.phi * self.state + step.innovation_sd * eps;
        (self.state - NOISE_SIGMA * NOISE_SIGMA / 2.0).exp()
    }
}

/// Steps of noise drawn ahead per household in one go.
pub const NOISE_LOOKAHEAD_STEPS: usize = 16;

/// Every household's next [`NOISE_LOOKAHEAD_STEPS`] noise multipliers, drawn a batch at a time.
/// Drawing one multiplier per household per step walked all the generators (320 bytes each)
/// every step, mostly from memory; drawing a batch per household keeps its generator in cache,
/// and the step then reads one contiguous row. Each household's stream is consumed in the same
/// order, so the loads are exactly those of drawing step by step.
#[derive(Debug, Default)]
pub struct NoiseAhead {
    /// Row `k` (the `k`-th step of the batch) holds every household's multiplier, by index.
    multipliers: Vec<f64>,
    households: usize,
    /// Rows of the batch already used (`NOISE_LOOKAHEAD_STEPS` when it is spent).
    used: usize,
}

impl NoiseAhead {
    /// The multipliers of the next step, by household index. When the batch is spent, `draw`
    /// returns the next batch: (household index, its next [`NOISE_LOOKAHEAD_STEPS`] multipliers
    /// from [`LoadNoise::draw_ahead`]) for every household with noise.
    pub fn next_step(&mut self, households: usize, draw: impl FnOnce() -> Vec<(usize, Lookahead)>) -> &[f64] {
        let n = households;
        if self.households != n || self.used == NOISE_LOOKAHEAD_STEPS {
            self.households = n;
            self.multipliers.resize(n * NOISE_LOOKAHEAD_STEPS, 1.0);
            for (index, ahead) in draw() {
                for (k, m) in ahead.into_iter().enumerate() {
                    self.multipliers[k * n + index] = m;
                }
            }
            self.used = 0;
        }
        self.used += 1;
        &self.multipliers[(self.used - 1) * n..self.used * n]
    }
}

/// One household's next multipliers, in step order.
pub type Lookahead = [f64; NOISE_LOOKAHEAD_STEPS];

impl LoadNoise {
    /// The next [`NOISE_LOOKAHEAD_STEPS`] multipliers, drawn in order.
    pub fn draw_ahead(&mut self, step: &NoiseStep) -> Lookahead {
        std::array::from_fn(|_| self.next_multiplier(step))
    }
}

/// The noise's AR(1) coefficients for a step length, the same for every household (worked
/// out once per step rather than per household: an `exp` and a `sqrt` saved 10,000 times).
#[derive(Debug, Clone, Copy)]
pub struct NoiseStep {
    phi: f64,
    innovation_sd: f64,
}

impl NoiseStep {
    pub fn new(step_hours: f64) -> NoiseStep {
        let phi = (-step_hours / NOISE_CORRELATION_HOURS).exp();
        NoiseStep { phi, innovation_sd: NOISE_SIGMA * (1.0 - phi * phi).sqrt() }
    }
}

/// The local calendar of a step, as the archetypes read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoadStep {
    /// Local hour of the step's middle (0..24).
    pub mid_hour: f64,
    pub date: chrono::NaiveDate,
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u32,
    pub month: u32,
    pub step_hours: f64,
}

/// kWh consumed in a step by an archetype household (before noise), its day shifted by
/// `shift_hours`.
pub fn archetype_kwh(kind: Archetype, annual_kwh: f64, shift_hours: f64, step: &LoadStep, latitude_deg: f64) -> f64 {
    let hour = step.mid_hour - shift_hours;
    match kind {
        Archetype::BdewH0 => bdew_h0_kwh(annual_kwh, step.date, step.weekday, hour - step.step_hours / 2.0, hour + step.step_hours / 2.0, latitude_deg),
        _ => annual_kwh / HOURS_PER_YEAR * shape_at(kind, step.weekday >= 5, hour) * season_factor(step.month, latitude_deg) * step.step_hours,
    }
}


/// Built-in household load shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Archetype {
    /// Out during weekday working hours; morning and evening peaks.
    WorkingCouple,
    /// Children at home after school; high evening peak.
    Family,
    /// At home all day; flatter daytime use.
    Retired,
    /// Someone works from home: daytime base load.
    HomeOffice,
    /// The German standard household profile (BDEW H0) with its dynamisation: quarter-hour
    /// powers by season and day type (workday, Saturday, Sunday), scaled to `annual_kwh`.
    BdewH0,
}


/// Where a household's load (and, for profiles, PV) comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadDef {
    Archetype { kind: Archetype, annual_kwh: f64 },
    /// Index into the scenario's profiles (a row of [`ProfileTable`](super::profile::ProfileTable)).
    Profile { series: usize },
}

#[cfg(test)]
mod tests {
    use chrono::{Datelike, NaiveDate};

    #[test]
    fn bdew_h0_reads_its_table_by_season_day_and_quarter() {
        // Monday 2 January 2023, 00:00-00:15: winter workday, 67.6 W per 1,000 kWh a year.
        let monday = NaiveDate::from_ymd_opt(2023, 1, 2).unwrap();
        let kwh = bdew_h0_kwh(3000.0, monday, 0, 0.0, 0.25, 52.5);
        assert!((kwh - 3.0 * 0.0676 * 0.25 * bdew_dynamisation(2)).abs() < 1e-12, "{kwh}");
        // An hour is its four quarters; a Saturday in July reads the summer Saturday.
        let quarters: f64 = (0..4).map(|q| bdew_h0_kwh(1000.0, monday, 0, 7.0 + q as f64 / 4.0, 7.25 + q as f64 / 4.0, 52.5)).sum();
        assert!((bdew_h0_kwh(1000.0, monday, 0, 7.0, 8.0, 52.5) - quarters).abs() < 1e-12);
        let saturday = NaiveDate::from_ymd_opt(2023, 7, 15).unwrap();
        assert!((bdew_h0_kwh(1000.0, saturday, 5, 0.0, 0.25, 52.5) - 0.08984 * 0.25 * bdew_dynamisation(196)).abs() < 1e-12);
        // South of the equator the calendar is half a year on: January is H0's July.
        let south = bdew_h0_kwh(1000.0, NaiveDate::from_ymd_opt(2023, 1, 16).unwrap(), 0, 12.0, 13.0, -33.9);
        let north = bdew_h0_kwh(1000.0, NaiveDate::from_ymd_opt(2023, 7, 17).unwrap(), 0, 12.0, 13.0, 52.5);
        assert!((south - north).abs() < 1e-12);
    }

    #[test]
    fn a_bdew_h0_year_is_its_annual_consumption() {
        // BDEW's H0 with dynamisation sums to about 1,000 kWh a year per 1,000 kWh: 997.449 in
        // 2023 (summed independently from the same table).
        let mut total = 0.0;
        let mut date = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        while date.year() == 2023 {
            let weekday = date.weekday().num_days_from_monday();
            let step = LoadStep { mid_hour: 0.0, date, weekday, month: date.month(), step_hours: 0.25 };
            for q in 0..96 {
                total += archetype_kwh(Archetype::BdewH0, 1000.0, 0.0, &LoadStep { mid_hour: q as f64 / 4.0 + 0.125, ..step }, 52.5);
            }
            date = date.succ_opt().unwrap();
        }
        assert!((total - 997.4492992857947).abs() < 1e-6, "{total}");
    }

    use super::*;

    #[test]
    fn day_wrap_matches_rem_euclid_to_the_bit() {
        let edges = [-48.5, -24.0, -23.999_999_999_999_996, -1e-300, -0.0, 0.0, 1e-300, 0.5, 23.999_999_999_999_996, 24.0, 24.5, 47.9, 1e9, f64::MIN_POSITIVE];
        let sweep = (-3000..3000).map(|i| i as f64 * 0.017_3);
        for h in edges.into_iter().chain(sweep) {
            assert_eq!(wrap_day_hours(h).to_bits(), h.rem_euclid(24.0).to_bits(), "{h}");
        }
    }

    #[test]
    fn shapes_average_to_one() {
        for kind in [Archetype::WorkingCouple, Archetype::Family, Archetype::Retired, Archetype::HomeOffice] {
            for weekend in [false, true] {
                let mean: f64 = (0..2400).map(|i| shape_at(kind, weekend, i as f64 / 100.0)).sum::<f64>() / 2400.0;
                assert!((mean - 1.0).abs() < 1e-3, "{kind:?} {weekend}: {mean}");
            }
        }
        let year: f64 = (1..=12).map(|m| season_factor(m, -33.0)).sum::<f64>() / 12.0;
        assert!((year - 1.0).abs() < 1e-12);
        assert!(season_factor(7, -33.0) > season_factor(1, -33.0), "July is winter in the south");
    }

    #[test]
    fn drawing_ahead_gives_the_step_by_step_multipliers() {
        let step = NoiseStep::new(0.25);
        let new = |i| LoadNoise::new(crate::base::seed::rng(7, crate::base::seed::Stream::Load, i)).0;
        let mut one_by_one: Vec<LoadNoise> = (0..3).map(new).collect();
        let mut batched: Vec<LoadNoise> = (0..3).map(new).collect();
        let mut ahead = NoiseAhead::default();
        for _ in 0..(2 * NOISE_LOOKAHEAD_STEPS + 3) {
            let row = ahead.next_step(3, || batched.iter_mut().enumerate().map(|(i, n)| (i, n.draw_ahead(&step))).collect()).to_vec();
            let expected: Vec<f64> = one_by_one.iter_mut().map(|n| n.next_multiplier(&step)).collect();
            assert_eq!(row, expected);
        }
    }

    #[test]
    fn noise_has_mean_one() {
        let (mut n, shift) = LoadNoise::new(crate::base::seed::rng(1, crate::base::seed::Stream::Load, 0));
        assert!(shift.abs() <= MAX_SHIFT_HOURS);
        let mean = (0..200_000).map(|_| n.next_multiplier(&NoiseStep::new(0.25))).sum::<f64>() / 200_000.0;
        assert!((mean - 1.0).abs() < 0.03, "{mean}");
    }
}
