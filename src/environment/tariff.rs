//! Grid prices per step: flat, time-of-use or dynamic (a price series) tariffs, or an island's
//! reference prices.

use crate::base::money::PricePerKwh;
use crate::base::time::SimClock;
use bevy::prelude::*;

/// A time-of-use window in local time (`from_hour` inclusive, `to_hour` exclusive, may wrap).
#[derive(Debug, Clone)]
pub struct TouWindow {
    pub from_hour: u32,
    pub to_hour: u32,
    pub import: PricePerKwh,
    pub export: Option<PricePerKwh>,
    pub weekdays_only: bool,
}

impl TouWindow {
    fn applies(&self, hour: f64, weekend: bool) -> bool {
        if self.weekdays_only && weekend {
            return false;
        }
        let (f, t) = (self.from_hour as f64, self.to_hour as f64);
        if f <= t { hour >= f && hour < t } else { hour >= f || hour < t }
    }
}

/// A dynamic tariff's price of every step of the run (from a price file).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceSeries {
    pub import: Vec<PricePerKwh>,
    pub export: Vec<PricePerKwh>,
}

impl PriceSeries {
    /// Its range and mean over the run, per kWh (for `check`).
    pub fn describe(&self) -> String {
        let stats = |v: &[PricePerKwh]| {
            let (lo, hi) = v.iter().fold((i64::MAX, i64::MIN), |a, p| (a.0.min(p.0), a.1.max(p.0)));
            let mean = v.iter().map(|p| p.0 as f64).sum::<f64>() / v.len().max(1) as f64;
            format!("{:.4}–{:.4} (mean {:.4})", lo as f64 / 1e6, hi as f64 / 1e6, mean / 1e6)
        };
        if self.import.is_empty() {
            return "no steps".to_string();
        }
        format!("import {}, export {} per kWh", stats(&self.import), stats(&self.export))
    }
}

/// How the community is connected, with its prices. A resource, fixed for the run.
#[derive(Resource, Debug, Clone)]
pub enum GridConnection {
    /// Flat prices, changed by the time-of-use windows that apply, or by step from a dynamic
    /// tariff's `series` (which the scenario never combines with windows).
    Connected { import: PricePerKwh, export: PricePerKwh, time_of_use: Vec<TouWindow>, series: Option<std::sync::Arc<PriceSeries>> },
    /// No grid: `value_of_lost_load` caps bids, `surplus_floor` is the least a seller accepts.
    Islanded { value_of_lost_load: PricePerKwh, surplus_floor: PricePerKwh },
}

/// This step's prices. Written by [`update_prices`]; read by orders, market and settlement.
/// On an island `import`/`export` hold the reference prices and `connected` is false.
#[derive(Resource, Debug, Clone, Copy, Default)]
pub struct StepPrices {
    pub import: PricePerKwh,
    pub export: PricePerKwh,
    pub connected: bool,
}

impl GridConnection {
    pub fn is_connected(&self) -> bool {
        matches!(self, GridConnection::Connected { .. })
    }

    /// The prices of `step`, which starts `local_hour` into a weekday or weekend day.
    pub fn prices_at(&self, step: u64, local_hour: f64, weekend: bool) -> StepPrices {
        match self {
            GridConnection::Connected { import, export, time_of_use, series } => {
                let (mut i, mut e) = (*import, *export);
                if let Some(s) = series {
                    let k = (step as usize).min(s.import.len().saturating_sub(1));
                    (i, e) = (s.import.get(k).copied().unwrap_or(i), s.export.get(k).copied().unwrap_or(e));
                }
                for w in time_of_use.iter().filter(|w| w.applies(local_hour, weekend)) {
                    i = w.import;
                    if let Some(x) = w.export {
                        e = x;
                    }
                }
                StepPrices { import: i, export: e, connected: true }
            }
            GridConnection::Islanded { value_of_lost_load, surplus_floor } => {
                StepPrices { import: *value_of_lost_load, export: *surplus_floor, connected: false }
            }
        }
    }
}

/// Sets [`StepPrices`] for the step from the local time. Reads `SimClock`, `GridConnection`.
pub fn update_prices(clock: Res<SimClock>, grid: Res<GridConnection>, mut prices: ResMut<StepPrices>) {
    *prices = grid.prices_at(clock.step, clock.local_mid_hour, clock.is_weekend());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_of_use_windows_wrap_midnight_and_skip_weekends() {
        let g = GridConnection::Connected {
            import: PricePerKwh(300_000),
            export: PricePerKwh(50_000),
            time_of_use: vec![
                TouWindow { from_hour: 22, to_hour: 7, import: PricePerKwh(150_000), export: None, weekdays_only: false },
                TouWindow { from_hour: 16, to_hour: 21, import: PricePerKwh(500_000), export: Some(PricePerKwh(100_000)), weekdays_only: true },
            ],
            series: None,
        };
        assert_eq!(g.prices_at(0, 23.5, false).import.0, 150_000);
        assert_eq!(g.prices_at(0, 3.0, true).import.0, 150_000);
        assert_eq!(g.prices_at(0, 17.0, false).export.0, 100_000);
        assert_eq!(g.prices_at(0, 17.0, true).import.0, 300_000);
        assert_eq!(g.prices_at(0, 12.0, false).import.0, 300_000);
    }
}
