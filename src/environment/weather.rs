//! Environment: where the sun is and how cloudy it is, once per step for the whole community.
//!
//! Cloudiness is a clear-sky index k (GHI / clear-sky GHI). The synthetic model (the default)
//! draws each day's clearness index from the site's climate (`climate`) and turns it into the
//! day's k; the stochastic model draws a day
//! regime (clear, partly cloudy, overcast) by a Markov chain that repeats yesterday's regime with
//! probability `persistence` and otherwise draws from the regime shares; inside a day k follows an
//! AR(1) process around the regime's mean with a one-hour correlation time. All draws come from
//! the weather stream, exactly two per step, so nothing else (rule, households) can shift them.
//!
//! With measured daily exposure (`DailyExposure` weather) there is no randomness: each local
//! day's index is its measured exposure over the clear-sky model's for that day and place, so
//! the day's irradiance adds up to what was measured.

use crate::environment::measured::DailyExposure;
use crate::base::seed::{rng, Stream};
use crate::environment::climate::{DailyClearness, MonthlyTemperature};
use crate::environment::sky::Sky;
use crate::environment::solar::{SkyDiffuse, erbs, sun_position, sun_vector, Irradiance, SunPosition};
use crate::base::time::{SimClock, Zone};
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use std::sync::Arc;
use bevy::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Correlation time of the in-day cloud fluctuation, hours.
pub const CLOUD_CORRELATION_HOURS: f64 = 1.0;
/// The clear-sky index stays within these bounds (cloud enhancement allows a little above 1).
pub const MIN_CLEAR_SKY_INDEX: f64 = 0.05;
pub const MAX_CLEAR_SKY_INDEX: f64 = 1.05;

/// Day regimes: (mean clear-sky index, in-day standard deviation).
const CLEAR: (f64, f64) = (0.97, 0.03);
const PARTLY: (f64, f64) = (0.65, 0.20);
const OVERCAST: (f64, f64) = (0.30, 0.08);

/// Site of the community.
#[derive(Resource, Debug, Clone, Copy)]
pub struct Site {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub sky: Sky,
}

/// This step's sun and sky. Written by [`update_environment`]; read by PV generation.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct Environment {
    pub sun: SunPosition,
    /// Unit vector towards the sun (east, north, up).
    pub sun_vector: [f64; 3],
    pub clear_sky: Irradiance,
    pub clear_sky_index: f64,
    /// Irradiance after clouds.
    pub irradiance: Irradiance,
    /// Its diffuse part as the site's transposition model spreads it over the sky.
    pub sky_diffuse: SkyDiffuse,
    /// Air temperature (°C) and wind speed (m/s), when the weather has them (typical years and
    /// measured series; `Synthetic` weather has a temperature model and no wind).
    pub temp_air_c: Option<f64>,
    pub wind_speed_m_s: Option<f64>,
}

/// Largest clear-sky index a measured day may have (the model's clear day can fall short of a
/// very clear measured one).
pub const MAX_MEASURED_CLEAR_SKY_INDEX: f64 = 1.5;
/// Time step of the clear-sky day integral, minutes.
const CLEAR_SKY_INTEGRAL_MINUTES: i64 = 10;

/// State of the cloud process.
#[derive(Resource)]
pub struct Weather {
    pub spec: WeatherSpec,
    rng: ChaCha8Rng,
    regime: (f64, f64),
    day: Option<u64>,
    deviation: f64,
    /// Measured daily exposure by local date, kWh/m².
    exposure: Option<Arc<DailyExposure>>,
    /// The current local date and its measured clear-sky index.
    measured_day: Option<(NaiveDate, f64)>,
    /// Measured hourly weather (`Tmy3`).
    typical_year: Option<Arc<crate::environment::measured::TypicalYear>>,
    /// A measured series (`Measured`).
    series: Option<Arc<crate::environment::measured::IrradianceSeries>>,
    /// The climate of `Synthetic` weather, its daily chain, and the current local day with its
    /// clear-sky index.
    climate: Option<Arc<SyntheticClimate>>,
    daily: DailyClearness,
    synthetic_day: Option<(NaiveDate, f64)>,
}

/// The climate `Synthetic` weather draws from, resolved from the scenario and the table.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticClimate {
    /// Mean daily clearness index of each month.
    pub clearness: [f64; 12],
    pub temperature: Option<MonthlyTemperature>,
    /// Where each came from, for `check`.
    pub clearness_from: String,
    pub temperature_from: String,
    /// Set when no table place covers the site and the scenario gives no clearness.
    pub warning: Option<String>,
}

/// In-day standard deviation of the clear-sky index around the day's: 0.20 at 0.65 (partly
/// cloudy), falling to 0.03 on clear days (0.97) and 0.08 on overcast ones (0.30), as the day
/// regimes of `Stochastic`.
fn in_day_sd(k_day: f64) -> f64 {
    let width = if k_day < PARTLY.0 { 0.35 } else { 0.22 };
    PARTLY.1 * (-((k_day - PARTLY.0) / width).powi(2)).exp()
}

impl Weather {
    pub fn new(spec: WeatherSpec, seed: u64) -> Self {
        Weather { spec, rng: rng(seed, Stream::Weather, 0), regime: PARTLY, day: None, deviation: 0.0, exposure: None, measured_day: None, typical_year: None, series: None, climate: None, daily: DailyClearness::default(), synthetic_day: None }
    }

    /// Uses measured daily exposure instead of drawing clouds.
    pub fn with_exposure(mut self, exposure: Option<Arc<DailyExposure>>) -> Self {
        self.exposure = exposure;
        self
    }

    /// Uses a measured typical year's hours instead of drawing clouds.
    pub fn with_typical_year(mut self, year: Option<Arc<crate::environment::measured::TypicalYear>>) -> Self {
        self.typical_year = year;
        self
    }

    /// Draws `Synthetic` weather from this climate.
    pub fn with_climate(mut self, climate: Option<Arc<SyntheticClimate>>) -> Self {
        self.climate = climate;
        self
    }

    /// Advances `Synthetic` weather one step on local day `date`: a new day draws its
    /// clearness index from the chain and turns it into the day's clear-sky index (daily global
    /// = Kt × extraterrestrial); each step adds the in-day fluctuation. Two draws a step.
    fn next_synthetic(&mut self, date: NaiveDate, zone: &Zone, site: &Site, step_hours: f64) -> Option<f64> {
        let climate = self.climate.clone()?;
        let u: f64 = self.rng.random();
        let eps: f64 = StandardNormal.sample(&mut self.rng);
        let k_day = match self.synthetic_day {
            Some((d, k)) if d == date => k,
            _ => {
                let kt = self.daily.next(climate.clearness[date.month0() as usize], u);
                let (extraterrestrial, clear) = day_totals_kwh_m2(date, zone, site);
                // A day clearer than the clear-sky model (its turbidity is a monthly mean) keeps
                // its energy, as a measured day does.
                let k = if clear > 0.0 { (kt * extraterrestrial / clear).clamp(MIN_CLEAR_SKY_INDEX, MAX_MEASURED_CLEAR_SKY_INDEX) } else { MIN_CLEAR_SKY_INDEX };
                self.synthetic_day = Some((date, k));
                k
            }
        };
        let phi = (-step_hours / CLOUD_CORRELATION_HOURS).exp();
        self.deviation = phi * self.deviation + in_day_sd(k_day) * (1.0 - phi * phi).sqrt() * eps;
        Some((k_day + self.deviation).clamp(MIN_CLEAR_SKY_INDEX, MAX_CLEAR_SKY_INDEX.max(k_day)))
    }

    /// Air temperature of `Synthetic` weather at a local time.
    fn synthetic_temperature(&self, local: chrono::NaiveDateTime, hour: f64) -> Option<f64> {
        let t = self.climate.as_ref()?.temperature?;
        Some(t.at(local.ordinal(), chrono::NaiveDate::from_ymd_opt(local.year(), 2, 29).is_some(), hour))
    }

    /// Uses a measured irradiance series instead of drawing clouds.
    pub fn with_series(mut self, series: Option<Arc<crate::environment::measured::IrradianceSeries>>) -> Self {
        self.series = series;
        self
    }

    /// Measured irradiance, air temperature and wind at `t`, from a TMY3 year or a series
    /// (a series without beam and diffuse is split with Erbs); `None` for modelled weather.
    fn measured(&self, t: DateTime<Utc>, sun: &SunPosition) -> Option<(Irradiance, Option<f64>, Option<f64>)> {
        if let Some(year) = &self.typical_year {
            let h = year.at(t);
            return Some((Irradiance { ghi: h.ghi_w_m2.max(0.0), dni: h.dni_w_m2.max(0.0), dhi: h.dhi_w_m2.max(0.0) }, Some(h.temp_air_c), Some(h.wind_speed_m_s)));
        }
        // Coverage is checked when the scenario is read; outside it the sky is dark.
        let s = self.series.as_ref()?.at(t).unwrap_or(crate::environment::measured::Sample { ghi_w_m2: 0.0, beam_diffuse_w_m2: None, temp_air_c: None, wind_speed_m_s: None });
        let ghi = s.ghi_w_m2.max(0.0);
        let irradiance = match s.beam_diffuse_w_m2 {
            Some((dni, dhi)) => Irradiance { ghi, dni: dni.max(0.0), dhi: dhi.max(0.0) },
            None => erbs(ghi, sun),
        };
        Some((irradiance, s.temp_air_c, s.wind_speed_m_s))
    }

    /// The clear-sky index of a measured local day: measured exposure / clear-sky exposure.
    fn measured_index(&mut self, date: NaiveDate, zone: &Zone, site: &Site) -> Option<f64> {
        if let Some((d, k)) = self.measured_day {
            if d == date {
                return Some(k);
            }
        }
        let measured = *self.exposure.as_ref()?.get(&date)?;
        let clear = clear_sky_day_kwh_m2(date, zone, site);
        let k = if clear > 0.0 { (measured / clear).clamp(0.0, MAX_MEASURED_CLEAR_SKY_INDEX) } else { 0.0 };
        self.measured_day = Some((date, k));
        Some(k)
    }

    /// Advances one step and returns the clear-sky index.
    pub fn next_index(&mut self, day: u64, step_hours: f64) -> f64 {
        let WeatherSpec::Stochastic { clear_day_share, overcast_day_share, persistence } = self.spec else {
            return 1.0;
        };
        let u_regime: f64 = self.rng.random();
        let u_keep: f64 = self.rng.random();
        let eps: f64 = StandardNormal.sample(&mut self.rng);
        if self.day != Some(day) {
            let first = self.day.is_none();
            self.day = Some(day);
            if first || u_keep >= persistence {
                self.regime = if u_regime < clear_day_share {
                    CLEAR
                } else if u_regime < clear_day_share + overcast_day_share {
                    OVERCAST
                } else {
                    PARTLY
                };
            }
        }
        let phi = (-step_hours / CLOUD_CORRELATION_HOURS).exp();
        self.deviation = phi * self.deviation + self.regime.1 * (1.0 - phi * phi).sqrt() * eps;
        (self.regime.0 + self.deviation).clamp(MIN_CLEAR_SKY_INDEX, MAX_CLEAR_SKY_INDEX)
    }
}

/// Clear-sky global horizontal exposure of a local day at the site, kWh/m² (the site's model,
/// integrated in [`CLEAR_SKY_INTEGRAL_MINUTES`] steps at their midpoints).
pub fn clear_sky_day_kwh_m2(date: NaiveDate, zone: &Zone, site: &Site) -> f64 {
    day_totals_kwh_m2(date, zone, site).1
}

/// Extraterrestrial and clear-sky global horizontal irradiation of a local day at the site,
/// kWh/m², integrated as [`clear_sky_day_kwh_m2`].
pub fn day_totals_kwh_m2(date: NaiveDate, zone: &Zone, site: &Site) -> (f64, f64) {
    let midnight = |d: NaiveDate| zone.to_utc(d.and_time(NaiveTime::MIN)).unwrap_or_else(|_| d.and_time(NaiveTime::MIN).and_utc());
    let (start, end) = (midnight(date), midnight(date + Duration::days(1)));
    let dt = Duration::minutes(CLEAR_SKY_INTEGRAL_MINUTES);
    let hours = CLEAR_SKY_INTEGRAL_MINUTES as f64 / 60.0;
    let mut t = start;
    let (mut extraterrestrial, mut clear) = (0.0, 0.0);
    while t < end {
        let sun = sun_position(t + dt / 2, site.latitude_deg, site.longitude_deg);
        extraterrestrial += sun.dni_extra_w_m2 * (sun.zenith_deg.to_radians().cos()).max(0.0) * hours;
        clear += site.sky.clear_sky(t + dt / 2, &sun).ghi * hours;
        t += dt;
    }
    (extraterrestrial / 1000.0, clear / 1000.0)
}

/// Clock, prices, sun and weather, in [`EnvironmentSystems`](super::EnvironmentSystems).
pub struct EnvironmentPlugin(pub EnvironmentConfig);

/// What the environment is built from: the run's time frame, its grid connection and tariff,
/// the site, and the weather (modelled from `weather` and `seed`, or measured).
#[derive(Debug, Clone)]
pub struct EnvironmentConfig {
    pub frame: crate::base::time::TimeFrame,
    pub grid: crate::environment::tariff::GridConnection,
    pub site: Site,
    pub weather: WeatherSpec,
    pub seed: u64,
    pub daily_exposure: Option<Arc<DailyExposure>>,
    pub typical_year: Option<Arc<crate::environment::measured::TypicalYear>>,
    pub irradiance: Option<Arc<crate::environment::measured::IrradianceSeries>>,
    pub climate: Option<Arc<SyntheticClimate>>,
    /// Clouds over parts of the grid (scenario events).
    pub clouds: crate::environment::clouds::Clouds,
}

impl Plugin for EnvironmentPlugin {
    fn build(&self, app: &mut App) {
        let c = &self.0;
        let weather = Weather::new(c.weather.clone(), c.seed).with_exposure(c.daily_exposure.clone()).with_typical_year(c.typical_year.clone()).with_series(c.irradiance.clone()).with_climate(c.climate.clone());
        app.insert_resource(SimClock::new(c.frame))
            .insert_resource(c.grid.clone())
            .insert_resource(crate::environment::tariff::StepPrices::default())
            .insert_resource(c.site)
            .insert_resource(weather)
            .insert_resource(c.clouds.clone())
            .insert_resource(Environment::default());
        app.add_systems(
            crate::base::schedule::SimStep,
            (crate::base::time::advance_clock, crate::environment::tariff::update_prices, update_environment).chain().in_set(super::EnvironmentSystems),
        );
    }
}

/// Computes the sun at the middle of the step and the cloudy-sky irradiance.
/// Measured hours (`Tmy3`) are used as they are. Reads `SimClock`, `Site`; writes `Weather`,
/// `Environment`. Runs after the clock advances.
pub fn update_environment(clock: Res<SimClock>, site: Res<Site>, mut weather: ResMut<Weather>, mut env: ResMut<Environment>) {
    let sun = sun_position(clock.mid_utc, site.latitude_deg, site.longitude_deg);
    let clear_sky = site.sky.clear_sky(clock.mid_utc, &sun);
    if let Some((irradiance, temp_air_c, wind_speed_m_s)) = weather.measured(clock.mid_utc, &sun) {
        // Measured components as they are; the index only describes them (for reports).
        let k = if clear_sky.ghi > 0.0 { irradiance.ghi / clear_sky.ghi } else { 0.0 };
        let sky_diffuse = SkyDiffuse::new(site.sky.transposition, &irradiance, &sun);
        *env = Environment { sun, sun_vector: sun_vector(&sun), clear_sky, clear_sky_index: k, irradiance, sky_diffuse, temp_air_c, wind_speed_m_s };
        return;
    }
    let date = clock.local_start.date();
    let measured = weather.measured_index(date, &clock.frame.zone, &site);
    let synthetic = if measured.is_none() { weather.next_synthetic(date, &clock.frame.zone, &site, clock.frame.step_hours()) } else { None };
    let k = measured.or(synthetic).unwrap_or_else(|| weather.next_index(clock.day_index, clock.frame.step_hours()));
    let irradiance = if matches!(weather.spec, WeatherSpec::ClearSky) { clear_sky } else { erbs(clear_sky.ghi * k, &sun) };
    let sky_diffuse = SkyDiffuse::new(site.sky.transposition, &irradiance, &sun);
    let temp_air_c = weather.synthetic_temperature(clock.local_start, clock.local_mid_hour);
    *env = Environment { sun, sun_vector: sun_vector(&sun), clear_sky, clear_sky_index: k, irradiance, sky_diffuse, temp_air_c, wind_speed_m_s: None };
}


#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum WeatherSpec {
    /// No clouds at all: deterministic.
    ClearSky,
    /// Seeded weather of the site's climate (the default): each day's clearness index from
    /// Aguiar et al.'s Markov chains for the month's mean (from `monthly_clearness`, else the
    /// climate table's nearest place within 500 km), an AR(1) fluctuation inside the day, and
    /// air temperature from the monthly means and daily ranges (given, or the table's).
    Synthetic {
        /// Mean daily clearness index Kt of each month (daily global / extraterrestrial
        /// horizontal irradiation), January first.
        #[serde(default)]
        monthly_clearness: Option<Vec<f64>>,
        /// Mean air temperature of each month, °C, January first.
        #[serde(default)]
        monthly_temp_air_c: Option<Vec<f64>>,
        /// Mean daily temperature range (maximum − minimum) of each month, °C.
        #[serde(default)]
        daily_temp_range_c: Option<Vec<f64>>,
    },
    /// Seeded cloudiness: a day regime (clear, partly cloudy, overcast) drawn by a Markov chain,
    /// with an AR(1) fluctuation of the clear-sky index inside the day.
    Stochastic {
        #[serde(default = "WeatherSpec::default_clear_share")]
        clear_day_share: f64,
        #[serde(default = "WeatherSpec::default_overcast_share")]
        overcast_day_share: f64,
        /// Probability that a day repeats the previous day's regime.
        #[serde(default = "WeatherSpec::default_persistence")]
        persistence: f64,
    },
    /// Measured daily global solar exposure, kWh/m²/day: one file per year in the Bureau of
    /// Meteorology's layout (a column per month, a row per day), paths relative to the scenario
    /// file. Each day's clear-sky irradiance is scaled to the measured total.
    DailyExposure { files: BTreeMap<i32, String> },
    /// A measured typical meteorological year in NREL's TMY3 format (hourly GHI, DNI, DHI, air
    /// temperature and wind; e.g. pvlib's `pvlib/data/723170TYA.CSV`), path relative to the
    /// scenario file. Each hour is used by month, day and hour in the file's local standard time,
    /// whatever the run's year; `location` must be the station's (within 1°).
    Tmy3 { file: String },
    /// An EnergyPlus weather file (EPW: IWEC, TMYx, Meteonorm or PVGIS exports): hourly GHI, DNI,
    /// DHI, air temperature and wind, each row the hour ending at its `hour` in the file's local
    /// standard time; used by month, day and hour whatever the run's year. Path relative to the
    /// scenario file; `location` must be the station's (within 1°).
    Epw { file: String },
    /// A typical year from PVGIS (`.csv`, `.json` or `.epw` as downloaded): hourly GHI, DNI, DHI,
    /// air temperature and wind, rows labelled with the UTC hour they start. Path relative to the
    /// scenario file; `location` must be the file's (within 1°).
    PvgisTmy { file: String },
    /// A measured series: a CSV with `time,ghi_w_m2` and optionally `dni_w_m2,dhi_w_m2`,
    /// `temp_air_c`, `wind_speed_m_s`; each row holds until the next; `time` with a UTC offset or
    /// local in `timezone`; path relative to the scenario file. It must cover the whole run.
    Measured { file: String },
}

impl WeatherSpec {
    fn default_clear_share() -> f64 {
        0.5
    }
    fn default_overcast_share() -> f64 {
        0.2
    }
    fn default_persistence() -> f64 {
        0.5
    }
}

impl Default for WeatherSpec {
    fn default() -> Self {
        WeatherSpec::Synthetic { monthly_clearness: None, monthly_temp_air_c: None, daily_temp_range_c: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_day_in_sydney_gets_what_the_sky_can_give() {
        let sky = Sky::new(crate::environment::sky::ClearSkyModel::Ineichen, -33.86, 151.2, 0.0, None);
        let sydney = Site { latitude_deg: -33.86, longitude_deg: 151.2, sky };
        let zone = Zone::parse("Australia/Sydney").unwrap();
        let summer = clear_sky_day_kwh_m2(NaiveDate::from_ymd_opt(2012, 1, 1).unwrap(), &zone, &sydney);
        let winter = clear_sky_day_kwh_m2(NaiveDate::from_ymd_opt(2012, 6, 21).unwrap(), &zone, &sydney);
        // Sydney's clearest days measure about 9 kWh/m² in January and 3.5 in June.
        assert!((8.0..10.0).contains(&summer) && (3.0..4.5).contains(&winter), "{summer} {winter}");
    }

    #[test]
    fn clear_sky_weather_never_clouds() {
        let mut w = Weather::new(WeatherSpec::ClearSky, 1);
        assert_eq!(w.next_index(0, 0.25), 1.0);
    }

    #[test]
    fn stochastic_index_is_bounded_and_seeded() {
        let spec = WeatherSpec::Stochastic { clear_day_share: 0.5, overcast_day_share: 0.2, persistence: 0.5 };
        let run = |seed| {
            let mut w = Weather::new(spec.clone(), seed);
            (0..960).map(|s| w.next_index(s / 96, 0.25)).collect::<Vec<_>>()
        };
        let a = run(3);
        assert_eq!(a, run(3));
        assert_ne!(a, run(4));
        assert!(a.iter().all(|k| (MIN_CLEAR_SKY_INDEX..=MAX_CLEAR_SKY_INDEX).contains(k)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!(mean > 0.4 && mean < 1.0, "mean {mean}");
    }

    #[test]
    fn synthetic_days_keep_the_climate_and_the_seed() {
        let sky = Sky::new(crate::environment::sky::ClearSkyModel::Ineichen, -33.86, 151.2, 0.0, None);
        let site = Site { latitude_deg: -33.86, longitude_deg: 151.2, sky };
        let zone = Zone::parse("Australia/Sydney").unwrap();
        let place = crate::environment::climate::nearest_place(-33.86, 151.2, |_| true).unwrap().0;
        let climate = SyntheticClimate { clearness: place.clearness, temperature: place.temperature, clearness_from: String::new(), temperature_from: String::new(), warning: None };
        let days = |seed| {
            let mut w = Weather::new(WeatherSpec::default(), seed).with_climate(Some(Arc::new(climate.clone())));
            let start = NaiveDate::from_ymd_opt(2021, 1, 1).unwrap();
            (0..730).map(|d| {
                let date = start + Duration::days(d);
                let k = w.next_synthetic(date, &zone, &site, 24.0).unwrap();
                (date, k, w.synthetic_day.unwrap().1)
            }).collect::<Vec<_>>()
        };
        let a = days(4);
        assert_eq!(a, days(4));
        assert_ne!(a, days(5));
        // Two years of January days: their clear-sky indices turn back into about the month's Kt.
        let (mut got, mut want) = (0.0, 0.0);
        for (date, _, k_day) in a.iter().filter(|(d, ..)| d.month() == 1) {
            let (extraterrestrial, clear) = day_totals_kwh_m2(*date, &zone, &site);
            got += k_day * clear;
            want += place.clearness[0] * extraterrestrial;
        }
        assert!((got / want - 1.0).abs() < 0.1, "{got} vs {want}");
        let w = Weather::new(WeatherSpec::default(), 1).with_climate(Some(Arc::new(climate)));
        let noon = NaiveDate::from_ymd_opt(2021, 7, 1).unwrap().and_hms_opt(15, 0, 0).unwrap();
        let t = w.synthetic_temperature(noon, 15.0).unwrap();
        assert!((10.0..25.0).contains(&t), "a July afternoon in Sydney: {t} °C");
    }
}
