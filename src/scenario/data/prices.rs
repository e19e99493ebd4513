//! A dynamic tariff: the grid's prices as a time series, a CSV
//! `time,import_price_per_kwh[,export_price_per_kwh]` (for example wholesale-linked retail prices
//! at 5 or 30 minutes), `time` as in the irradiance CSV (ISO 8601 with an offset, or local in the
//! scenario's time zone). Each row's prices hold from its time until the next row's, the last
//! row's until the run ends. A step's price is the time-weighted mean of the rows in force during
//! it, rounded to a micro-unit per kWh: 5-minute prices on 30-minute steps average six rows,
//! hourly prices on 30-minute steps hold for two steps.

use super::irradiance_csv::parse_time;
use crate::base::error::{InputError, Location};
use crate::base::money::PricePerKwh;
use crate::base::time::TimeFrame;
use crate::environment::tariff::PriceSeries;
use std::path::Path;

/// Largest price accepted, per kWh (as the flat prices).
pub const MAX_PRICE_PER_KWH: f64 = 1e4;

/// The prices of every step of `frame`, from the file; `flat_export` is the export price where
/// the file has no export column.
pub fn read(path: &Path, frame: &TimeFrame, flat_export: f64) -> Result<PriceSeries, InputError> {
    let text = crate::base::input::read_text(path, "price file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    parse(&text, path, frame, flat_export)
}

pub fn parse(text: &str, path: &Path, frame: &TimeFrame, flat_export: f64) -> Result<PriceSeries, InputError> {
    let at = |line: u64, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line, field: field.into() }, message };
    let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers: Vec<String> = r.headers().map_err(|e| at(1, "header", e.to_string()))?.iter().map(str::to_string).collect();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let missing = |name: &str| at(1, name, format!("no `{name}` column (the header needs time,import_price_per_kwh and may add export_price_per_kwh)"));
    let (time_col, import_col) = (column("time").ok_or_else(|| missing("time"))?, column("import_price_per_kwh").ok_or_else(|| missing("import_price_per_kwh"))?);
    let export_col = column("export_price_per_kwh");
    // (start, import, export) per row, prices in units per kWh.
    let mut rows: Vec<(chrono::DateTime<chrono::Utc>, f64, f64)> = Vec::new();
    let mut rec = csv::StringRecord::new();
    let price = |rec: &csv::StringRecord, line: u64, col: usize, field: &str| -> Result<f64, InputError> {
        let v = rec.get(col).unwrap_or("");
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && x < 0.0 => Err(at(line, field, format!("`{v}` is negative: negative grid prices are not modelled; give 0 or more"))),
            Ok(x) if x.is_finite() && x <= MAX_PRICE_PER_KWH => Ok(x + 0.0),
            _ => Err(at(line, field, format!("`{v}` is not a price in 0..={MAX_PRICE_PER_KWH} per kWh"))),
        }
    };
    while let Some(line) = super::next_record(&mut r, &mut rec, path)? {
        let t = parse_time(rec.get(time_col).unwrap_or(""), &frame.zone).map_err(|m| at(line, "time", m))?;
        if rows.last().is_some_and(|(last, ..)| t <= *last) {
            return Err(at(line, "time", format!("{t} is not after the row before it: rows must be in time order")));
        }
        let import = price(&rec, line, import_col, "import_price_per_kwh")?;
        let export = match export_col {
            Some(c) => price(&rec, line, c, "export_price_per_kwh")?,
            None => flat_export,
        };
        if export > import {
            let field = if export_col.is_some() { "export_price_per_kwh" } else { "import_price_per_kwh" };
            return Err(at(line, field, format!("the export price {export} exceeds the import price {import}: households could buy and sell back at a profit")));
        }
        rows.push((t, import, export));
    }
    let Some(&(first, ..)) = rows.first() else { return Err(InputError::file(path, "a price series needs at least one row")) };
    if first > frame.start_utc {
        return Err(InputError::file(path, format!("starts at {first}, after the run's start {}", frame.start_utc)));
    }
    // It must cover the run: the run may end at most one row interval (the file's last, or one
    // step for a single row) after the last row, whose price would otherwise hold on unseen.
    let last = rows[rows.len() - 1].0;
    let interval = if rows.len() > 1 { last - rows[rows.len() - 2].0 } else { chrono::Duration::minutes(i64::from(frame.step_minutes)) };
    let end = frame.step_start_utc(frame.total_steps);
    if end > last + interval {
        return Err(InputError::file(path, format!("ends with a row at {last}; the run goes on to {end}: add rows to cover it")));
    }
    let n = frame.total_steps as usize;
    let (mut import, mut export) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut k = 0;
    for step in 0..frame.total_steps {
        let (t0, t1) = (frame.step_start_utc(step), frame.step_start_utc(step + 1));
        while k + 1 < rows.len() && rows[k + 1].0 <= t0 {
            k += 1;
        }
        // The rows in force from t0 to t1, each weighted by its time within the step.
        let (mut sum_import, mut sum_export, mut j, mut from) = (0.0, 0.0, k, t0);
        while from < t1 {
            let until = rows.get(j + 1).map_or(t1, |r| r.0.min(t1));
            let seconds = (until - from).num_milliseconds() as f64 / 1000.0;
            sum_import += rows[j].1 * seconds;
            sum_export += rows[j].2 * seconds;
            from = until;
            j += 1;
        }
        let seconds = (t1 - t0).num_milliseconds() as f64 / 1000.0;
        import.push(PricePerKwh::from_units(sum_import / seconds));
        export.push(PricePerKwh::from_units(sum_export / seconds));
    }
    Ok(PriceSeries { import, export })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn frame(step_minutes: u32, total_steps: u64) -> TimeFrame {
        TimeFrame { start_utc: chrono::Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(), zone: crate::base::time::Zone::parse("UTC").unwrap(), step_minutes, total_steps }
    }

    #[test]
    fn a_step_takes_the_time_weighted_mean_of_the_rows_in_force() {
        // Hourly rows on 30-minute steps: each holds for two steps; the flat export fills in.
        let hourly = parse("time,import_price_per_kwh\n2024-01-01T00:00:00Z,0.2\n2024-01-01T01:00:00Z,0.4\n", Path::new("p.csv"), &frame(30, 4), 0.05).unwrap();
        assert_eq!(hourly.import.iter().map(|p| p.0).collect::<Vec<_>>(), vec![200_000, 200_000, 400_000, 400_000]);
        assert!(hourly.export.iter().all(|p| p.0 == 50_000));
        // 5-minute rows on 15-minute steps: three rows a step; a row from 00:20 covers two
        // thirds of the second step.
        let text = "time,import_price_per_kwh,export_price_per_kwh\n2024-01-01T00:00:00Z,0.30,0.10\n2024-01-01T00:05:00Z,0.60,0.10\n2024-01-01T00:10:00Z,0.00,0.00\n2024-01-01T00:20:00Z,0.90,0.30\n";
        let fine = parse(text, Path::new("p.csv"), &frame(15, 2), 0.05).unwrap();
        assert_eq!(fine.import.iter().map(|p| p.0).collect::<Vec<_>>(), vec![300_000, 600_000]);
        assert_eq!(fine.export.iter().map(|p| p.0).collect::<Vec<_>>(), vec![66_667, 200_000]);
    }

    #[test]
    fn bad_rows_are_named() {
        let f = frame(30, 2);
        let bad = |text: &str| parse(text, Path::new("p.csv"), &f, 0.05).unwrap_err();
        let negative = bad("time,import_price_per_kwh\n2024-01-01T00:00:00Z,-0.1\n");
        assert_eq!(negative.location, Location::Row { line: 2, field: "import_price_per_kwh".into() });
        assert!(negative.message.contains("negative"), "{}", negative.message);
        let above = bad("time,import_price_per_kwh,export_price_per_kwh\n2024-01-01T00:00:00Z,0.1,0.2\n");
        assert_eq!(above.location, Location::Row { line: 2, field: "export_price_per_kwh".into() });
        let cheap = bad("time,import_price_per_kwh\n2024-01-01T00:00:00Z,0.01\n");
        assert!(cheap.message.contains("exceeds the import price"), "{}", cheap.message);
        let order = bad("time,import_price_per_kwh\n2024-01-01T00:30:00Z,0.1\n2024-01-01T00:00:00Z,0.1\n");
        assert_eq!(order.location, Location::Row { line: 3, field: "time".into() });
        assert!(bad("time,import_price_per_kwh\n2024-01-01T00:10:00Z,0.1\n").message.contains("after the run's start"));
        assert_eq!(bad("time,price\n").location, Location::Row { line: 1, field: "import_price_per_kwh".into() });
        assert!(bad("time,import_price_per_kwh\n").message.contains("at least one row"));
        // Hourly rows ending at 00:00 cannot price a run that goes on past 01:00.
        let short = parse("time,import_price_per_kwh\n2024-01-01T00:00:00Z,0.1\n", Path::new("p.csv"), &frame(30, 3), 0.05).unwrap_err();
        assert!(short.message.contains("add rows to cover it"), "{}", short.message);
        let hourly = "time,import_price_per_kwh\n2024-01-01T00:00:00Z,0.1\n2024-01-01T01:00:00Z,0.2\n";
        assert!(parse(hourly, Path::new("p.csv"), &frame(30, 4), 0.05).is_ok(), "the last row's hour covers the run's last two steps");
        assert!(parse(hourly, Path::new("p.csv"), &frame(30, 5), 0.05).is_err());
    }
}
