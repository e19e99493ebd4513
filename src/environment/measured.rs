//! Measured weather the environment replays: daily solar exposure, a typical meteorological
//! year, and an irradiance series. `scenario::data` reads the files into these.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};
use std::collections::BTreeMap;

/// Daily exposure by local date, kWh/m².
pub type DailyExposure = BTreeMap<NaiveDate, f64>;

/// Hours in a typical year (no 29 February).
pub const HOURS: usize = 8760;
/// Days of each month in a typical year.
pub const MONTH_DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// One hour of measured weather.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Hour {
    pub ghi_w_m2: f64,
    pub dni_w_m2: f64,
    pub dhi_w_m2: f64,
    pub temp_air_c: f64,
    pub wind_speed_m_s: f64,
}

/// A typical year: the station and its 8,760 hours, in local standard time.
#[derive(Debug, Clone, PartialEq)]
pub struct TypicalYear {
    pub station: String,
    /// Local standard time of the file, hours east of UTC (no daylight saving).
    pub utc_offset_hours: f64,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    hours: Vec<Hour>,
}

/// Day of a typical year (0..365) for a month and day; 29 February reads 28 February.
pub fn day_of_year(month: u32, day: u32) -> Option<usize> {
    let m = month.checked_sub(1)? as usize;
    let days = *MONTH_DAYS.get(m)?;
    let day = if month == 2 && day == 29 { 28 } else { day };
    (1..=days).contains(&day).then(|| MONTH_DAYS[..m].iter().sum::<u32>() as usize + day as usize - 1)
}

impl TypicalYear {
    /// A typical year from its station and its 8,760 hours in local standard time (hour ending
    /// 01:00 of 1 January first).
    pub fn new(station: String, utc_offset_hours: f64, latitude_deg: f64, longitude_deg: f64, hours: Vec<Hour>) -> TypicalYear {
        assert_eq!(hours.len(), HOURS, "a typical year has {HOURS} hours");
        TypicalYear { station, utc_offset_hours, latitude_deg, longitude_deg, hours }
    }

    /// The hour holding the instant `t`.
    pub fn at(&self, t: DateTime<Utc>) -> Hour {
        let local = t.naive_utc() + Duration::seconds((self.utc_offset_hours * 3600.0).round() as i64);
        let day = day_of_year(local.month(), local.day()).unwrap_or(0);
        self.hours[day * 24 + local.hour() as usize]
    }
}

/// One row of measured weather; what the file does not give is `None`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub ghi_w_m2: f64,
    /// Beam (normal) and diffuse (horizontal) irradiance, when the file has both.
    pub beam_diffuse_w_m2: Option<(f64, f64)>,
    pub temp_air_c: Option<f64>,
    pub wind_speed_m_s: Option<f64>,
}

/// A measured series, in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct IrradianceSeries {
    times: Vec<DateTime<Utc>>,
    samples: Vec<Sample>,
}

impl IrradianceSeries {
    /// A series from rows in time order (at least one).
    pub fn new(times: Vec<DateTime<Utc>>, samples: Vec<Sample>) -> IrradianceSeries {
        assert!(!times.is_empty() && times.len() == samples.len() && times.is_sorted(), "a series has rows in time order");
        IrradianceSeries { times, samples }
    }

    /// Whether every row gives the air temperature.
    pub fn has_temperature(&self) -> bool {
        self.samples.iter().all(|s| s.temp_air_c.is_some())
    }

    /// The sample holding the instant `t`, or `None` outside the series.
    pub fn at(&self, t: DateTime<Utc>) -> Option<Sample> {
        let k = self.times.partition_point(|&s| s <= t).checked_sub(1)?;
        let end = match self.times.get(k + 1) {
            Some(&next) => next,
            None => self.times[k] + (self.times[k] - self.times[k.saturating_sub(1)]),
        };
        (t < end).then(|| self.samples[k])
    }

    /// First instant covered and the end of the last row.
    pub fn span(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        let n = self.times.len();
        (self.times[0], self.times[n - 1] + (self.times[n - 1] - self.times[n.saturating_sub(2)]))
    }
}
