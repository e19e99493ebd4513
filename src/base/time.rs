//! Simulated time: an integer step counter. Wall-clock time never enters the results.
//!
//! The scenario's start is local time in a zone; every step has a UTC start instant. The sun is
//! computed at the middle of the step in UTC; the `time` column shows the step's local start with
//! its UTC offset (ISO 8601), so daylight-saving changes are visible.

use bevy::prelude::*;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDateTime, Offset, TimeZone, Timelike, Utc};

/// A time zone: IANA (with daylight saving) or a fixed offset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Iana(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    /// Parses `UTC`, `Z`, an IANA name, or `+HH:MM` / `-HH:MM`.
    pub fn parse(text: &str) -> Result<Zone, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("utc") || t == "Z" {
            return Ok(Zone::Fixed(FixedOffset::east_opt(0).expect("zero offset is valid")));
        }
        if t.starts_with('+') || t.starts_with('-') {
            let sign = if t.starts_with('-') { -1 } else { 1 };
            let (h, m) = t[1..].split_once(':').ok_or_else(|| format!("offset `{t}` must look like +10:00"))?;
            let h: i32 = h.parse().map_err(|_| format!("bad hours in offset `{t}`"))?;
            let m: i32 = m.parse().map_err(|_| format!("bad minutes in offset `{t}`"))?;
            if h > 14 || m > 59 {
                return Err(format!("offset `{t}` is out of range -14:00..=+14:00"));
            }
            return FixedOffset::east_opt(sign * (h * 3600 + m * 60))
                .map(Zone::Fixed)
                .ok_or_else(|| format!("offset `{t}` is out of range"));
        }
        t.parse::<chrono_tz::Tz>()
            .map(Zone::Iana)
            .map_err(|_| format!("unknown time zone `{t}` (use an IANA name like `Australia/Sydney`, `UTC` or `+10:00`)"))
    }

    /// Local wall time and UTC offset (seconds) at a UTC instant.
    pub fn local(&self, utc: DateTime<Utc>) -> (NaiveDateTime, i32) {
        match self {
            Zone::Iana(tz) => {
                let l = utc.with_timezone(tz);
                (l.naive_local(), l.offset().fix().local_minus_utc())
            }
            Zone::Fixed(off) => {
                let l = utc.with_timezone(off);
                (l.naive_local(), off.local_minus_utc())
            }
        }
    }

    /// The UTC instant of a local wall time; an ambiguous time (clocks going back) takes the
    /// earlier instant, a time that does not exist (clocks going forward) is an error.
    pub fn to_utc(&self, local: NaiveDateTime) -> Result<DateTime<Utc>, String> {
        let r = match self {
            Zone::Iana(tz) => tz.from_local_datetime(&local).earliest().map(|d| d.with_timezone(&Utc)),
            Zone::Fixed(off) => off.from_local_datetime(&local).earliest().map(|d| d.with_timezone(&Utc)),
        };
        r.ok_or_else(|| format!("local time {local} does not exist in this time zone (daylight saving gap)"))
    }
}

/// Parses a local start `YYYY-MM-DDTHH:MM[:SS]`.
pub fn parse_local(text: &str) -> Result<NaiveDateTime, String> {
    NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M"))
        .map_err(|_| format!("`{text}` is not a local date-time like 2024-01-15T00:00"))
}

/// ISO 8601 text of a local time with its offset, e.g. `2024-01-15T00:00:00+11:00`.
pub fn iso_with_offset(local: NaiveDateTime, offset_s: i32) -> String {
    let sign = if offset_s < 0 { '-' } else { '+' };
    let a = offset_s.unsigned_abs();
    format!("{}{}{:02}:{:02}", local.format("%Y-%m-%dT%H:%M:%S"), sign, a / 3600, (a % 3600) / 60)
}

/// The run's fixed time frame.
#[derive(Debug, Clone, Copy)]
pub struct TimeFrame {
    pub start_utc: DateTime<Utc>,
    pub zone: Zone,
    pub step_minutes: u32,
    pub total_steps: u64,
}

impl TimeFrame {
    pub fn step_hours(&self) -> f64 {
        self.step_minutes as f64 / 60.0
    }

    pub fn step_start_utc(&self, step: u64) -> DateTime<Utc> {
        self.start_utc + chrono::Duration::minutes(self.step_minutes as i64 * step as i64)
    }

    /// The local date of the start of `step`.
    pub fn local_date(&self, step: u64) -> chrono::NaiveDate {
        self.zone.local(self.step_start_utc(step)).0.date()
    }
}

/// The current step and what the other systems need to know about it. Written by
/// [`advance_clock`] at the start of every step; read by everyone.
#[derive(Resource, Debug, Clone)]
pub struct SimClock {
    pub frame: TimeFrame,
    /// Step being simulated (0-based).
    pub step: u64,
    /// UTC instant of the middle of the step (the sun is computed there).
    pub mid_utc: DateTime<Utc>,
    /// Local start of the step.
    pub local_start: NaiveDateTime,
    pub utc_offset_s: i32,
    /// Local hour of the middle of the step, 0.0..24.0.
    pub local_mid_hour: f64,
    /// Local day of the week of the step's middle, Monday = 0.
    pub local_weekday: u32,
    /// Local month of the step's middle, 1..=12.
    pub local_month: u32,
    /// Days since the start of the run (local calendar), used for day-level weather regimes.
    pub day_index: u64,
    /// Steps run so far (the next step to simulate).
    pub next_step: u64,
}

impl SimClock {
    pub fn new(frame: TimeFrame) -> Self {
        let mut c = SimClock {
            frame,
            step: 0,
            mid_utc: frame.start_utc,
            local_start: frame.start_utc.naive_utc(),
            utc_offset_s: 0,
            local_mid_hour: 0.0,
            local_weekday: 0,
            local_month: 1,
            day_index: 0,
            next_step: 0,
        };
        c.set_step(0);
        c
    }

    /// The clock at `step` of `frame` (for planning ahead).
    pub fn at(frame: TimeFrame, step: u64) -> Self {
        let mut c = SimClock::new(frame);
        c.set_step(step);
        c
    }

    fn set_step(&mut self, step: u64) {
        let start = self.frame.start_utc;
        let step_start = self.frame.step_start_utc(step);
        self.step = step;
        self.mid_utc = step_start + chrono::Duration::seconds(self.frame.step_minutes as i64 * 30);
        let (local_start, offset) = self.frame.zone.local(step_start);
        let (local_mid, _) = self.frame.zone.local(self.mid_utc);
        let (local_first, _) = self.frame.zone.local(start);
        self.local_start = local_start;
        self.utc_offset_s = offset;
        self.local_mid_hour = local_mid.hour() as f64 + local_mid.minute() as f64 / 60.0 + local_mid.second() as f64 / 3600.0;
        self.local_weekday = local_mid.weekday().num_days_from_monday();
        self.local_month = local_mid.month();
        self.day_index = (local_mid.date() - local_first.date()).num_days().max(0) as u64;
    }

    /// ISO 8601 local start of the current step with its offset.
    pub fn time_label(&self) -> String {
        iso_with_offset(self.local_start, self.utc_offset_s)
    }

    pub fn is_weekend(&self) -> bool {
        self.local_weekday >= 5
    }
}

/// Advances [`SimClock`] to the next step. Reads and writes `SimClock`; runs first in every step.
pub fn advance_clock(mut clock: ResMut<SimClock>) {
    let step = clock.next_step;
    clock.set_step(step);
    clock.next_step = step + 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sydney_offset_changes_with_daylight_saving() {
        let zone = Zone::parse("Australia/Sydney").unwrap();
        let jan = zone.to_utc(parse_local("2024-01-15T00:00").unwrap()).unwrap();
        let jul = zone.to_utc(parse_local("2024-07-15T00:00").unwrap()).unwrap();
        assert_eq!(zone.local(jan).1, 11 * 3600);
        assert_eq!(zone.local(jul).1, 10 * 3600);
        let (l, o) = zone.local(jan);
        assert_eq!(iso_with_offset(l, o), "2024-01-15T00:00:00+11:00");
    }

    #[test]
    fn fixed_offsets_and_errors() {
        assert_eq!(Zone::parse("-03:30").unwrap(), Zone::Fixed(FixedOffset::west_opt(3 * 3600 + 1800).unwrap()));
        assert!(Zone::parse("Mars/Olympus").is_err());
        assert!(parse_local("2024-13-01T00:00").is_err());
    }

    #[test]
    fn clock_counts_days_in_local_time() {
        let zone = Zone::parse("+10:00").unwrap();
        let start = zone.to_utc(parse_local("2024-03-01T00:00").unwrap()).unwrap();
        let frame = TimeFrame { start_utc: start, zone, step_minutes: 60, total_steps: 48 };
        let mut c = SimClock::new(frame);
        c.set_step(25);
        assert_eq!(c.day_index, 1);
        assert!((c.local_mid_hour - 1.5).abs() < 1e-9);
        assert_eq!(c.time_label(), "2024-03-02T01:00:00+10:00");
    }
}
