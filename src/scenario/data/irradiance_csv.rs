//! Measured irradiance as a CSV series: `time,ghi_w_m2` and optionally `dni_w_m2,dhi_w_m2`
//! (both or neither), `temp_air_c`, `wind_speed_m_s`. `time` is ISO 8601 with a UTC offset
//! (`2024-01-15T10:00:00+11:00`, `...Z`) or a local time in the scenario's time zone; each row's
//! values are the mean from its time until the next row's (the last row lasts as long as the one
//! before it). Rows must be in time order; any interval works (1 min to 1 h and more).

use crate::base::error::{InputError, Location};
use crate::base::time::{parse_local, Zone};
use crate::environment::measured::{IrradianceSeries, Sample};
use chrono::{DateTime, Utc};
use std::path::Path;

const REQUIRED: [&str; 2] = ["time", "ghi_w_m2"];
const OPTIONAL: [&str; 4] = ["dni_w_m2", "dhi_w_m2", "temp_air_c", "wind_speed_m_s"];

impl IrradianceSeries {
    pub fn read(path: &Path, zone: &Zone) -> Result<IrradianceSeries, InputError> {
        let text = crate::base::input::read_text(path, "irradiance file", crate::base::input::MAX_DATA_FILE_BYTES)?;
        Self::parse(&text, path, zone)
    }

    pub fn parse(text: &str, path: &Path, zone: &Zone) -> Result<IrradianceSeries, InputError> {
        let at = |line: u64, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line, field: field.into() }, message };
        let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let headers: Vec<String> = r.headers().map_err(|e| at(1, "header", e.to_string()))?.iter().map(str::to_string).collect();
        let column = |name: &str| headers.iter().position(|h| h == name);
        for name in REQUIRED {
            column(name).ok_or_else(|| at(1, name, format!("no `{name}` column (the header needs {} and may add {})", REQUIRED.join(","), OPTIONAL.join(","))))?;
        }
        let (time_col, ghi_col) = (column("time").unwrap_or(0), column("ghi_w_m2").unwrap_or(1));
        let (dni_col, dhi_col, temp_col, wind_col) = (column("dni_w_m2"), column("dhi_w_m2"), column("temp_air_c"), column("wind_speed_m_s"));
        if dni_col.is_some() != dhi_col.is_some() {
            return Err(at(1, "header", "give both `dni_w_m2` and `dhi_w_m2`, or neither (GHI is then split with Erbs)".into()));
        }
        let (mut times, mut samples) = (Vec::new(), Vec::new());
        let mut rec = csv::StringRecord::new();
        while let Some(line) = super::next_record(&mut r, &mut rec, path)? {
            let num = |col: usize, name: &str| -> Result<f64, InputError> {
                let v = rec.get(col).unwrap_or("");
                v.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| at(line, name, format!("`{v}` is not a number")))
            };
            let optional = |col: Option<usize>, name: &str| col.map(|c| num(c, name)).transpose();
            let t = parse_time(rec.get(time_col).unwrap_or(""), zone).map_err(|m| at(line, "time", m))?;
            if times.last().is_some_and(|&last| t <= last) {
                return Err(at(line, "time", format!("{t} is not after the row before it: rows must be in time order")));
            }
            let ghi_w_m2 = num(ghi_col, "ghi_w_m2")?;
            let beam_diffuse_w_m2 = match (optional(dni_col, "dni_w_m2")?, optional(dhi_col, "dhi_w_m2")?) {
                (Some(b), Some(d)) => Some((b, d)),
                _ => None,
            };
            times.push(t);
            samples.push(Sample { ghi_w_m2, beam_diffuse_w_m2, temp_air_c: optional(temp_col, "temp_air_c")?, wind_speed_m_s: optional(wind_col, "wind_speed_m_s")? });
        }
        if times.len() < 2 {
            return Err(InputError::file(path, "an irradiance series needs at least two rows"));
        }
        Ok(IrradianceSeries::new(times, samples))
    }
}

/// An instant with an offset, or a local time in `zone`.
pub fn parse_time(text: &str, zone: &Zone) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M%:z") {
        return Ok(t.with_timezone(&Utc));
    }
    let local = parse_local(text).map_err(|_| format!("`{text}` is not a time like 2024-01-15T10:00:00+11:00 or a local 2024-01-15T10:00"))?;
    zone.to_utc(local)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn zone() -> Zone {
        Zone::parse("Australia/Sydney").unwrap()
    }

    #[test]
    fn rows_hold_until_the_next_and_times_take_offsets_or_the_zone() {
        let text = "time,ghi_w_m2,temp_air_c\n2024-01-15T10:00:00+11:00,500,25\n2024-01-15T10:30,600,26\n2024-01-14T23:45:00Z,700,27\n";
        let s = IrradianceSeries::parse(text, Path::new("i.csv"), &zone()).unwrap();
        let utc = |h, m| Utc.with_ymd_and_hms(2024, 1, 14, h, m, 0).unwrap();
        assert_eq!(s.at(utc(23, 10)).map(|x| (x.ghi_w_m2, x.temp_air_c)), Some((500.0, Some(25.0))));
        assert_eq!(s.at(utc(23, 30)).map(|x| x.ghi_w_m2), Some(600.0));
        // The last row lasts as long as the one before it (15 min).
        assert_eq!(s.at(utc(23, 59)).map(|x| x.ghi_w_m2), Some(700.0));
        assert_eq!(s.at(Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap()), None);
        assert_eq!(s.at(utc(22, 59)), None);
        assert_eq!(s.span(), (utc(23, 0), Utc.with_ymd_and_hms(2024, 1, 15, 0, 0, 0).unwrap()));
        assert_eq!(s.at(utc(23, 10)).unwrap().beam_diffuse_w_m2, None);
    }

    #[test]
    fn bad_series_name_the_line_and_field() {
        let z = zone();
        let e = |text: &str| IrradianceSeries::parse(text, Path::new("i.csv"), &z).unwrap_err();
        assert_eq!(e("time,ghi_w_m2\n2024-01-15T10:00,5\n2024-01-15T10:15,x\n").location, Location::Row { line: 3, field: "ghi_w_m2".into() });
        assert_eq!(e("time,ghi_w_m2\n2024-01-15T10:00,5\n2024-01-15T09:15,6\n").location, Location::Row { line: 3, field: "time".into() });
        assert!(e("time,ghi\n").message.contains("no `ghi_w_m2` column"));
        assert!(e("time,ghi_w_m2,dni_w_m2\n").message.contains("both `dni_w_m2` and `dhi_w_m2`"));
        assert!(e("time,ghi_w_m2\nyesterday,5\n").message.contains("is not a time"));
    }
}
