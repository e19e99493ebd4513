//! The grid's emission factor as a time series: a CSV `time,kg_per_kwh` (typically hourly), `time`
//! as in the irradiance CSV (ISO 8601 with an offset, or local in the scenario's time zone). Each
//! row's factor holds from its time until the next row's; the last row's until the run ends.

use super::irradiance_csv::parse_time;
use crate::base::error::{InputError, Location};
use crate::base::time::TimeFrame;
use std::path::Path;

/// Largest factor accepted, kg CO₂ per kWh (as the flat `emission_factor_kg_per_kwh`).
pub const MAX_KG_PER_KWH: f64 = 5.0;

/// The factor of every step of `frame` (the row in force at the step's start), from the file.
pub fn read(path: &Path, frame: &TimeFrame) -> Result<Vec<f64>, InputError> {
    let text = crate::base::input::read_text(path, "emission factor file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    parse(&text, path, frame)
}

pub fn parse(text: &str, path: &Path, frame: &TimeFrame) -> Result<Vec<f64>, InputError> {
    let at = |line: u64, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line, field: field.into() }, message };
    let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().map_err(|e| at(1, "header", e.to_string()))?.iter().map(str::to_string).collect();
    let column = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| at(1, name, format!("no `{name}` column (the header needs time,kg_per_kwh)")));
    let (time_col, factor_col) = (column("time")?, column("kg_per_kwh")?);
    let mut rows: Vec<(chrono::DateTime<chrono::Utc>, f64)> = Vec::new();
    let mut rec = csv::StringRecord::new();
    while let Some(line) = super::next_record(&mut r, &mut rec, path)? {
        let t = parse_time(rec.get(time_col).unwrap_or(""), &frame.zone).map_err(|m| at(line, "time", m))?;
        if rows.last().is_some_and(|(last, _)| t <= *last) {
            return Err(at(line, "time", format!("{t} is not after the row before it: rows must be in time order")));
        }
        let v = rec.get(factor_col).unwrap_or("");
        let factor = v.parse::<f64>().ok().filter(|x| x.is_finite() && (0.0..=MAX_KG_PER_KWH).contains(x)).ok_or_else(|| at(line, "kg_per_kwh", format!("`{v}` is not a factor in 0..={MAX_KG_PER_KWH} kg/kWh")))?;
        rows.push((t, factor));
    }
    let Some(&(first, _)) = rows.first() else { return Err(InputError::file(path, "an emission factor series needs at least one row")) };
    if first > frame.start_utc {
        return Err(InputError::file(path, format!("starts at {first} (UTC), after the run's start {}", frame.start_utc)));
    }
    let mut out = Vec::with_capacity(frame.total_steps as usize);
    let mut k = 0;
    for step in 0..frame.total_steps {
        let t = frame.step_start_utc(step);
        while k + 1 < rows.len() && rows[k + 1].0 <= t {
            k += 1;
        }
        out.push(rows[k].1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_step_takes_the_factor_in_force_at_its_start() {
        use chrono::TimeZone;
        let frame = TimeFrame { start_utc: chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(), zone: crate::base::time::Zone::parse("UTC").unwrap(), step_minutes: 30, total_steps: 6 };
        let f = parse("time,kg_per_kwh\n2024-01-01T00:00:00Z,0.5\n2024-01-01T01:00:00Z,0.7\n2024-01-01T02:00:00Z,0.2\n", Path::new("e.csv"), &frame).unwrap();
        assert_eq!(f, vec![0.5, 0.5, 0.7, 0.7, 0.2, 0.2]);
        let late = parse("time,kg_per_kwh\n2024-01-01T01:00:00Z,0.5\n", Path::new("e.csv"), &frame).unwrap_err();
        assert!(late.message.contains("after the run's start"), "{}", late.message);
        let bad = parse("time,kg_per_kwh\n2024-01-01T00:00:00Z,9\n", Path::new("e.csv"), &frame).unwrap_err();
        assert_eq!(bad.location, Location::Row { line: 2, field: "kg_per_kwh".into() });
    }
}
