//! Grid prices per step: flat, time-of-use or dynamic (a price series) tariffs, or an island's
//! reference prices.

use crate::base::money::{Micros, Price, PricePerKwh};
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

/// Fixed charges of the tariff, billed at the end of every local calendar month (and of the run):
/// a supply charge per day connected, and a demand charge per kW of the household's highest
/// import in the month (its highest step energy over the step's hours).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GridCharges {
    pub supply_per_day: Micros,
    /// Per kW of peak import, for a whole month.
    pub demand_per_kw_month: Micros,
}

/// One household's charges for one billing period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PeriodCharges {
    pub supply: Micros,
    pub peak_kw: f64,
    /// The demand charge per kW for the part of the month billed.
    pub demand_price_per_kw: Price,
    pub demand: Micros,
}

impl GridCharges {
    pub fn any(&self) -> bool {
        self.supply_per_day.0 > 0 || self.demand_per_kw_month.0 > 0
    }

    /// The charges for `days` of a month of `month_days` days with a peak import of `peak_kw`:
    /// the supply charge for each day, the demand charge on the peak pro rata to the share of
    /// the month billed (so a week's run carries a week's share). Each rounded once.
    pub fn period(&self, days: f64, month_days: u32, peak_kw: f64) -> PeriodCharges {
        let supply = Price(self.supply_per_day.as_units()).amount_for(days);
        let demand_price_per_kw = Price(self.demand_per_kw_month.as_units() * days / f64::from(month_days.max(1)));
        PeriodCharges { supply, peak_kw, demand_price_per_kw, demand: demand_price_per_kw.amount_for(peak_kw) }
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
    Connected { import: PricePerKwh, export: PricePerKwh, time_of_use: Vec<TouWindow>, series: Option<std::sync::Arc<PriceSeries>>, charges: GridCharges },
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
            GridConnection::Connected { import, export, time_of_use, series, .. } => {
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
            charges: GridCharges::default(),
        };
        assert_eq!(g.prices_at(0, 23.5, false).import.0, 150_000);
        assert_eq!(g.prices_at(0, 3.0, true).import.0, 150_000);
        assert_eq!(g.prices_at(0, 17.0, false).export.0, 100_000);
        assert_eq!(g.prices_at(0, 17.0, true).import.0, 300_000);
        assert_eq!(g.prices_at(0, 12.0, false).import.0, 300_000);
    }

    #[test]
    fn charges_are_pro_rata_to_the_days_billed() {
        let c = GridCharges { supply_per_day: Micros(1_100_000), demand_per_kw_month: Micros(12_000_000) };
        // Two days of a 31-day month, peak 5 kW: supply 2.20, demand 12 × 5 × 2 / 31 = 3.870968.
        let p = c.period(2.0, 31, 5.0);
        assert_eq!((p.supply.0, p.demand.0), (2_200_000, 3_870_968));
        // A whole month: the full demand charge.
        assert_eq!(c.period(30.0, 30, 2.5).demand.0, 30_000_000);
        assert!(!GridCharges::default().any());
    }
}
