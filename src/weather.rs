//! Environment: where the sun is and how cloudy it is, once per step for the whole community.
//!
//! Cloudiness is a clear-sky index k (GHI / clear-sky GHI). The stochastic model draws a day
//! regime (clear, partly cloudy, overcast) by a Markov chain that repeats yesterday's regime with
//! probability `persistence` and otherwise draws from the regime shares; inside a day k follows an
//! AR(1) process around the regime's mean with a one-hour correlation time. All draws come from
//! the weather stream, exactly two per step, so nothing else (rule, households) can shift them.

use crate::scenario::schema::WeatherSpec;
use crate::seed::{rng, Stream};
use crate::solar::{clear_sky_solis, erbs, sun_position, sun_vector, Irradiance, SunPosition};
use crate::time::SimClock;
use bevy::prelude::*;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

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
}

/// State of the cloud process.
#[derive(Resource)]
pub struct Weather {
    pub spec: WeatherSpec,
    rng: ChaCha8Rng,
    regime: (f64, f64),
    day: Option<u64>,
    deviation: f64,
}

impl Weather {
    pub fn new(spec: WeatherSpec, seed: u64) -> Self {
        Weather { spec, rng: rng(seed, Stream::Weather, 0), regime: PARTLY, day: None, deviation: 0.0 }
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

/// Clock, prices, sun and weather, in `SimSystems::Environment`.
pub struct EnvironmentPlugin;

impl Plugin for EnvironmentPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(
            crate::sim::SimStep,
            (crate::time::advance_clock, crate::tariff::update_prices, update_environment).chain().in_set(crate::sim::SimSystems::Environment),
        );
    }
}

/// Computes the sun at the middle of the step and the cloudy-sky irradiance.
/// Reads `SimClock`, `Site`; writes `Weather`, `Environment`. Runs after the clock advances.
pub fn update_environment(clock: Res<SimClock>, site: Res<Site>, mut weather: ResMut<Weather>, mut env: ResMut<Environment>) {
    let sun = sun_position(clock.mid_utc, site.latitude_deg, site.longitude_deg);
    let clear_sky = clear_sky_solis(&sun);
    let k = weather.next_index(clock.day_index, clock.frame.step_hours());
    let irradiance = if matches!(weather.spec, WeatherSpec::ClearSky) { clear_sky } else { erbs(clear_sky.ghi * k, &sun) };
    *env = Environment { sun, sun_vector: sun_vector(&sun), clear_sky, clear_sky_index: k, irradiance };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_sky_weather_never_clouds() {
        let mut w = Weather::new(WeatherSpec::ClearSky, 1);
        assert_eq!(w.next_index(0, 0.25), 1.0);
    }

    #[test]
    fn stochastic_index_is_bounded_and_seeded() {
        let spec = WeatherSpec::default();
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
}
