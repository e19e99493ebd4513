//! Ausgrid's "Solar home electricity data" (Sydney households with rooftop PV; data by Ausgrid,
//! published for research), read into half-hourly energies and resampled to a scenario's steps.
//!
//! Two forms are read, told apart by their first lines:
//! - the original wide CSV: `customer, generator capacity, postcode, category, date, 48 values,
//!   [row quality]`, one row per customer, category (GC general consumption, CL controlled load,
//!   GG gross generation) and day; values are kWh per half hour labelled by the interval's end,
//!   so the first is 00:00–00:30 and "0:00" is the day's last slot. An optional title line and
//!   header line come first.
//! - the reshaped per-customer CSV: `timestamp,GC,GG[,CL]`, timestamps at the start of each half
//!   hour, values in kW (mean over the half hour).
//!
//! Times are the meters' clock, which does not follow daylight saving (every day has 48 slots);
//! the reader takes it as a fixed UTC offset (by default +10:00, Australian Eastern Standard
//! Time), so a scenario in `Australia/Sydney` gets the right half hours across its DST changes.

use crate::base::error::{InputError, Location};
use crate::base::time::TimeFrame;
use chrono::{Duration, FixedOffset, NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;
use std::path::Path;

/// Length of one measured slot.
pub const SLOT_MINUTES: i64 = 30;
/// Slots in a day of the meter's clock.
pub const SLOTS_PER_DAY: usize = 48;
/// Hours in a measured slot (kW mean × this = kWh).
const SLOT_HOURS: f64 = SLOT_MINUTES as f64 / 60.0;
/// Gaps up to this many slots are bridged by a straight line between their neighbours.
const MAX_INTERPOLATED_SLOTS: usize = 4;
/// Longer gaps take the same half hour from the nearest day with data, at most this far.
const MAX_FILL_DAYS: i64 = 7;
/// The most days a file's dates may span (the series is laid out from the first day to the
/// last, so a stray far date would otherwise take gigabytes): twenty years.
const MAX_SPAN_DAYS: i64 = 20 * 366;

/// An error at the line of the latest date when the dates span more than [`MAX_SPAN_DAYS`].
fn check_span(path: &Path, first: NaiveDate, latest: Option<(usize, NaiveDate)>, field: &str) -> Result<(), InputError> {
    match latest {
        Some((line_no, last)) if (last - first).num_days() > MAX_SPAN_DAYS => {
            Err(row_error(path, line_no, field, format!("{last} is {} days after the first date, {first}: a file spans at most {MAX_SPAN_DAYS} days", (last - first).num_days())))
        }
        _ => Ok(()),
    }
}
/// Columns before the 48 values in the wide format.
const WIDE_LEADING_COLUMNS: usize = 5;

/// Which measured quantity a series holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    /// General consumption.
    Gc,
    /// Controlled load (e.g. off-peak hot water).
    Cl,
    /// Gross generation of the PV system.
    Gg,
}

impl Category {
    fn parse(s: &str) -> Option<Category> {
        match s.trim() {
            "GC" => Some(Category::Gc),
            "CL" => Some(Category::Cl),
            "GG" => Some(Category::Gg),
            _ => None,
        }
    }
}

/// One customer's measured data, kWh per half hour from `first_day` 00:00 (meter clock);
/// `None` where the file has no value.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub capacity_kwp: Option<f64>,
    pub first_day: Option<NaiveDate>,
    pub series: BTreeMap<Category, Vec<Option<f64>>>,
    /// Slots filled in by [`Measured::fill_gaps`].
    pub filled_slots: usize,
}

impl Measured {
    fn put(&mut self, category: Category, slot: usize, kwh: f64) -> bool {
        let s = self.series.entry(category).or_default();
        if s.len() <= slot {
            s.resize(slot + 1, None);
        }
        let fresh = s[slot].is_none();
        s[slot] = Some(kwh);
        fresh
    }

    /// Slots covered (the longest series).
    pub fn len(&self) -> usize {
        self.series.values().map(Vec::len).max().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total of a category, kWh (gaps count as nothing).
    pub fn total_kwh(&self, c: Category) -> f64 {
        self.series.get(&c).map_or(0.0, |s| s.iter().flatten().sum())
    }

    /// Bridges gaps in every series: short ones by linear interpolation, longer ones with the
    /// same half hour of the nearest day that has it. Fails when a gap is too far from data.
    pub fn fill_gaps(&mut self) -> Result<(), String> {
        let n = self.len();
        let mut filled = 0;
        for (c, s) in self.series.iter_mut() {
            s.resize(n, None);
            filled += fill_series(s).map_err(|slot| format!("{c:?} has no value within {MAX_FILL_DAYS} days of half hour {slot} (day {}, slot {})", slot / SLOTS_PER_DAY, slot % SLOTS_PER_DAY))?;
        }
        self.filled_slots = filled;
        Ok(())
    }
}

/// Fills one series in place; returns the slots filled, or the first slot it could not fill.
fn fill_series(s: &mut [Option<f64>]) -> Result<usize, usize> {
    let original: Vec<Option<f64>> = s.to_vec();
    let mut filled = 0;
    let mut i = 0;
    while i < s.len() {
        if original[i].is_some() {
            i += 1;
            continue;
        }
        let end = (i..s.len()).find(|&k| original[k].is_some()).unwrap_or(s.len());
        let (before, after) = (i.checked_sub(1).and_then(|k| original[k]), original.get(end).copied().flatten());
        let run = end - i;
        for k in i..end {
            s[k] = match (before, after) {
                (Some(a), Some(b)) if run <= MAX_INTERPOLATED_SLOTS => Some(a + (b - a) * (k + 1 - i) as f64 / (run + 1) as f64),
                _ => same_slot_nearby(&original, k),
            };
            if s[k].is_none() {
                return Err(k);
            }
        }
        filled += run;
        i = end;
    }
    Ok(filled)
}

fn same_slot_nearby(s: &[Option<f64>], k: usize) -> Option<f64> {
    (1..=MAX_FILL_DAYS).find_map(|d| {
        let back = (k as i64 - d * SLOTS_PER_DAY as i64).try_into().ok().and_then(|j: usize| s[j]);
        back.or_else(|| s.get(k + d as usize * SLOTS_PER_DAY).copied().flatten())
    })
}

/// Reads one customer from an Ausgrid file (either form). `customer` picks rows of the wide
/// form (required when it holds several customers); the reshaped form holds one customer.
pub fn read(path: &Path, customer: Option<u32>) -> Result<Measured, InputError> {
    let text = crate::base::input::read_text(path, "Ausgrid file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let mut m = if first.split(',').nth(1).is_some_and(|f| Category::parse(f).is_some()) { read_reshaped(path, &text)? } else { read_wide(path, &text, customer)? };
    if m.is_empty() {
        let who = customer.map_or(String::new(), |c| format!(" for customer {c}"));
        return Err(InputError::file(path, format!("no half-hour data{who}")));
    }
    m.fill_gaps().map_err(|e| InputError::file(path, e))?;
    Ok(m)
}

fn row_error(path: &Path, line: usize, field: &str, message: String) -> InputError {
    InputError { file: path.into(), location: Location::Row { line: line as u64, field: field.into() }, message }
}

fn number(path: &Path, line: usize, field: &str, text: &str) -> Result<Option<f64>, InputError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(Some(v)),
        _ => Err(row_error(path, line, field, format!("expected a number ≥ 0, got `{t}`"))),
    }
}

fn read_wide(path: &Path, text: &str, customer: Option<u32>) -> Result<Measured, InputError> {
    let mut m = Measured::default();
    let mut days: Vec<(usize, u32, Category, NaiveDate, Vec<&str>)> = Vec::new();
    let mut customers = std::collections::BTreeSet::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let fields: Vec<&str> = line.split(',').collect();
        let Ok(id) = fields[0].trim().parse::<u32>() else {
            // The title and header lines (and blank lines) carry no customer number.
            if i < 2 || line.trim().is_empty() {
                continue;
            }
            return Err(row_error(path, line_no, "Customer", format!("expected a customer number, got `{}`", fields[0].trim())));
        };
        if fields.len() < WIDE_LEADING_COLUMNS + SLOTS_PER_DAY {
            return Err(row_error(path, line_no, "0:00", format!("expected {} half-hour values after the date, found {}", SLOTS_PER_DAY, fields.len().saturating_sub(WIDE_LEADING_COLUMNS))));
        }
        customers.insert(id);
        if customer.is_some_and(|c| c != id) {
            continue;
        }
        let category = Category::parse(fields[3]).ok_or_else(|| row_error(path, line_no, "Consumption Category", format!("expected GC, CL or GG, got `{}`", fields[3].trim())))?;
        let date = NaiveDate::parse_from_str(fields[4].trim(), "%d/%m/%Y").map_err(|_| row_error(path, line_no, "date", format!("expected a date like 1/07/2012, got `{}`", fields[4].trim())))?;
        if let Some(cap) = number(path, line_no, "Generator Capacity", fields[1])? {
            m.capacity_kwp.get_or_insert(cap);
        }
        days.push((line_no, id, category, date, fields[WIDE_LEADING_COLUMNS..WIDE_LEADING_COLUMNS + SLOTS_PER_DAY].to_vec()));
    }
    if customer.is_none() && customers.len() > 1 {
        let list: Vec<String> = customers.iter().take(5).map(u32::to_string).collect();
        return Err(InputError::file(path, format!("holds {} customers ({}...): say which with `customer`", customers.len(), list.join(", "))));
    }
    m.first_day = days.iter().map(|d| d.3).min();
    let Some(first) = m.first_day else { return Ok(m) };
    check_span(path, first, days.iter().map(|d| (d.0, d.3)).max_by_key(|d| d.1), "date")?;
    for (line_no, _, category, date, values) in days {
        let day = (date - first).num_days() as usize;
        for (k, v) in values.iter().enumerate() {
            // Labels run 0:30, 1:00, ..., 23:30, 0:00: value k ends at (k + 1) half hours.
            let label = slot_end_label(k);
            if let Some(kwh) = number(path, line_no, &label, v)? {
                if !m.put(category, day * SLOTS_PER_DAY + k, kwh) {
                    return Err(row_error(path, line_no, "date", format!("{category:?} for {date} appears twice")));
                }
            }
        }
    }
    Ok(m)
}

/// The wide format's column label of value `k` (the end of its half hour).
fn slot_end_label(k: usize) -> String {
    let end = (k + 1) * SLOT_MINUTES as usize % (24 * 60);
    format!("{}:{:02}", end / 60, end % 60)
}

fn read_reshaped(path: &Path, text: &str) -> Result<Measured, InputError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().unwrap_or((0, ""));
    let columns: Vec<(usize, Category)> = header.split(',').enumerate().filter_map(|(i, h)| Category::parse(h).map(|c| (i, c))).collect();
    let mut m = Measured::default();
    let mut rows = Vec::new();
    for (i, line) in lines {
        let fields: Vec<&str> = line.split(',').collect();
        let ts = NaiveDateTime::parse_from_str(fields[0].trim(), "%Y-%m-%d %H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(fields[0].trim(), "%Y-%m-%d %H:%M"))
            .map_err(|_| row_error(path, i + 1, "timestamp", format!("expected a time like 2011-07-01 00:30:00, got `{}`", fields[0].trim())))?;
        rows.push((i + 1, ts, fields));
    }
    let Some(first) = rows.iter().map(|r| r.1.date()).min() else { return Ok(m) };
    check_span(path, first, rows.iter().map(|r| (r.0, r.1.date())).max_by_key(|d| d.1), "timestamp")?;
    m.first_day = Some(first);
    let origin = first.and_hms_opt(0, 0, 0).expect("midnight exists");
    for (line_no, ts, fields) in rows {
        let minutes = (ts - origin).num_minutes();
        if minutes % SLOT_MINUTES != 0 {
            return Err(row_error(path, line_no, "timestamp", format!("{ts} is not on a half hour")));
        }
        for &(col, category) in &columns {
            let name = format!("{category:?}").to_uppercase();
            let kw = number(path, line_no, &name, fields.get(col).copied().unwrap_or(""))?;
            if let Some(kw) = kw {
                if !m.put(category, (minutes / SLOT_MINUTES) as usize, kw * SLOT_HOURS) {
                    return Err(row_error(path, line_no, "timestamp", format!("{ts} appears twice")));
                }
            }
        }
    }
    Ok(m)
}

/// How the measured data maps to the scenario's steps.
#[derive(Debug, Clone, Copy)]
pub struct Mapping {
    /// UTC offset of the meters' clock.
    pub meter_offset: FixedOffset,
    /// Read the data this many days later than the scenario's date (0: the same day).
    pub day_shift: i64,
}

/// Energy per scenario step from a half-hourly series: each step takes the part of every slot
/// it overlaps. Fails, naming the first date missing, when the run reaches beyond the data.
pub fn resample(m: &Measured, series: &[Option<f64>], frame: &TimeFrame, map: Mapping) -> Result<Vec<f64>, String> {
    let first = m.first_day.ok_or("no data")?;
    let origin = first.and_hms_opt(0, 0, 0).expect("midnight exists");
    let step = frame.step_minutes as i64;
    let mut out = Vec::with_capacity(frame.total_steps as usize);
    for k in 0..frame.total_steps {
        let local = frame.step_start_utc(k).with_timezone(&map.meter_offset).naive_local() + Duration::days(map.day_shift);
        let a = (local - origin).num_minutes();
        let b = a + step;
        let mut kwh = 0.0;
        let mut slot = a.div_euclid(SLOT_MINUTES);
        while slot * SLOT_MINUTES < b {
            let value = usize::try_from(slot).ok().and_then(|s| series.get(s)).copied().flatten();
            let Some(v) = value else {
                let last = first + Duration::days(series.len() as i64 / SLOTS_PER_DAY as i64 - 1);
                return Err(format!("the run needs data for {} (meter time), the file covers {first} to {last}", (origin + Duration::minutes(slot * SLOT_MINUTES)).date()));
            };
            let overlap = b.min((slot + 1) * SLOT_MINUTES) - a.max(slot * SLOT_MINUTES);
            kwh += v * overlap as f64 / SLOT_MINUTES as f64;
            slot += 1;
        }
        out.push(kwh);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
