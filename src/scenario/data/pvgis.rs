//! Typical meteorological years from the EU's PVGIS (`tmy` tool), in the three forms it
//! downloads, chosen by the file's extension as pvlib's `read_pvgis_tmy` does:
//!
//! - CSV: `Latitude (decimal degrees): …`, `Longitude …`, `Elevation (m): …` lines (and
//!   optionally `Irradiance Time Offset (h): …`), the months' source years, the header
//!   `time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP`, 8,760 rows `YYYYMMDD:HHMM,…`,
//!   then a legend.
//! - JSON: the same in `inputs.location` and `outputs.tmy_hourly`.
//! - EPW: read as any EPW file (see `epw`).
//!
//! Times are UTC; a row labelled `HH:00` is used for the hour from `HH:00` (pvlib's label). PVGIS
//! computes each hour's irradiance at `HH:00` plus the stated time offset, within that hour. Each
//! row is used by month, day and hour whatever the run's year (the months come from different
//! years); the 28th of February is read for the 29th.

use crate::base::error::{InputError, Location};
use crate::environment::measured::{day_of_year, Hour, TypicalYear, HOURS};
use std::path::Path;

/// The columns read, by PVGIS name (pvlib's names: ghi, dni, dhi, temp_air, wind_speed).
const COLUMNS: [&str; 5] = ["G(h)", "Gb(n)", "Gd(h)", "T2m", "WS10m"];
const TIME: &str = "time(UTC)";
/// The largest PVGIS JSON read (a typical year is about 1.5 MB; parsed whole, it takes some ten
/// times its size in memory).
const MAX_JSON_BYTES: u64 = 16 << 20;

/// Where the typical year is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvgisLocation {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub altitude_m: f64,
}

/// Reads a PVGIS typical year (`.csv`, `.json` or `.epw`); errors name the file, line and column.
pub fn read(path: &Path) -> Result<(TypicalYear, PvgisLocation), InputError> {
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if extension == "epw" {
        let (year, l) = super::epw::read(path)?;
        return Ok((year, PvgisLocation { latitude_deg: l.latitude_deg, longitude_deg: l.longitude_deg, altitude_m: l.altitude_m }));
    }
    match extension.as_str() {
        "csv" => parse_csv(&crate::base::input::read_text(path, "PVGIS file", crate::base::input::MAX_DATA_FILE_BYTES)?, path),
        // PVGIS writes its JSON on one line.
        "json" => parse_json(&crate::base::input::read_text_one_line(path, "PVGIS file", MAX_JSON_BYTES)?, path),
        _ => Err(InputError::file(path, "a PVGIS typical year is a .csv, .json or .epw file (as PVGIS names its downloads)")),
    }
}

/// A UTC timestamp `YYYYMMDD:HHMM` as (day of a typical year, hour); `None` for 29 February.
fn slot(time: &str) -> Result<Option<usize>, ()> {
    let (date, hm) = time.trim().split_once(':').ok_or(())?;
    if date.len() != 8 || hm.len() != 4 || !hm.ends_with("00") || !date.bytes().chain(hm.bytes()).all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let (month, day): (u32, u32) = (date[4..6].parse().map_err(|_| ())?, date[6..8].parse().map_err(|_| ())?);
    let hour: usize = hm[..2].parse().map_err(|_| ())?;
    if hour > 23 || date[..4].parse::<u32>().is_err() {
        return Err(());
    }
    if month == 2 && day == 29 {
        return Ok(None);
    }
    Ok(Some(day_of_year(month, day).ok_or(())? * 24 + hour))
}

/// Irradiance, air temperature and wind within what the Earth has (index of the bad value and
/// the message otherwise): GHI, DNI, DHI, air temperature, wind.
pub fn check_values(v: &[f64; 5]) -> Result<(), (usize, String)> {
    const BOUNDS: [(f64, f64, &str); 5] = [(-10.0, 1_500.0, "W/m²"), (-10.0, 1_500.0, "W/m²"), (-10.0, 1_500.0, "W/m²"), (-90.0, 65.0, "°C"), (0.0, 120.0, "m/s")];
    for (k, (x, (lo, hi, unit))) in v.iter().zip(BOUNDS).enumerate() {
        if !(lo..=hi).contains(x) {
            return Err((k, format!("{x} {unit} is outside {lo}..{hi} {unit}")));
        }
    }
    Ok(())
}

/// Gathers the hours into a typical year, all 8,760 of them present once.
struct Hours {
    hours: Vec<Option<Hour>>,
}

impl Hours {
    fn put(&mut self, time: &str, values: [f64; 5], at: impl Fn(&str, String) -> InputError) -> Result<(), InputError> {
        let bad = || at(TIME, format!("`{time}` is not a time `YYYYMMDD:HH00`"));
        let Some(i) = slot(time).map_err(|_| bad())? else { return Ok(()) };
        if self.hours[i].replace(Hour { ghi_w_m2: values[0], dni_w_m2: values[1], dhi_w_m2: values[2], temp_air_c: values[3], wind_speed_m_s: values[4] }).is_some() {
            return Err(at(TIME, format!("`{time}` appears twice (by month, day and hour)")));
        }
        Ok(())
    }

    fn year(self, path: &Path, location: PvgisLocation) -> Result<(TypicalYear, PvgisLocation), InputError> {
        let missing = self.hours.iter().filter(|h| h.is_none()).count();
        if missing > 0 {
            return Err(InputError::file(path, format!("a PVGIS typical year has {HOURS} hours; {missing} are missing")));
        }
        let station = format!("PVGIS {:.3}, {:.3}", location.latitude_deg, location.longitude_deg);
        Ok((TypicalYear::new(station, 0.0, location.latitude_deg, location.longitude_deg, self.hours.into_iter().flatten().collect()), location))
    }
}

pub fn parse_csv(text: &str, path: &Path) -> Result<(TypicalYear, PvgisLocation), InputError> {
    let at = |line: usize, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line: line as u64, field: field.into() }, message };
    let (mut lat, mut lon, mut elevation) = (None, None, None);
    let mut lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    let mut header = None;
    for (n, line) in lines.by_ref() {
        if line.starts_with(TIME) {
            header = Some((n, line));
            break;
        }
        if let Some((key, value)) = line.split_once(':') {
            let target = match key.trim() {
                k if k.starts_with("Latitude") => &mut lat,
                k if k.starts_with("Longitude") => &mut lon,
                k if k.starts_with("Elevation") => &mut elevation,
                _ => continue,
            };
            *target = Some(value.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| at(n, key.trim(), format!("`{}` is not a number", value.trim())))?);
        }
    }
    let Some((header_line, header)) = header else {
        return Err(at(1, TIME, format!("no `{TIME},…` header: expected a PVGIS typical year (tmy) CSV")));
    };
    let (Some(latitude_deg), Some(longitude_deg)) = (lat, lon) else {
        return Err(at(1, "Latitude", "no `Latitude (decimal degrees): …` and `Longitude (decimal degrees): …` lines before the header".into()));
    };
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let mut index = [0usize; COLUMNS.len()];
    for (k, name) in COLUMNS.iter().enumerate() {
        index[k] = names.iter().position(|h| h == name).ok_or_else(|| at(header_line, name, format!("no `{name}` column in the header")))?;
    }
    let mut hours = Hours { hours: vec![None; HOURS] };
    for (n, line) in lines {
        // The rows end at a blank line or the legend (`T2m: 2-m air temperature ...`).
        if !line.starts_with(|c: char| c.is_ascii_digit()) {
            break;
        }
        let f: Vec<&str> = line.split(',').collect();
        let mut v = [0.0; COLUMNS.len()];
        for (k, name) in COLUMNS.iter().enumerate() {
            let raw = f.get(index[k]).map_or("", |x| x.trim());
            v[k] = raw.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| at(n, name, format!("`{raw}` is not a number")))?;
        }
        check_values(&v).map_err(|(k, m)| at(n, COLUMNS[k], m))?;
        hours.put(f[0], v, |field, m| at(n, field, m))?;
    }
    hours.year(path, PvgisLocation { latitude_deg, longitude_deg, altitude_m: elevation.unwrap_or(0.0) })
}

pub fn parse_json(text: &str, path: &Path) -> Result<(TypicalYear, PvgisLocation), InputError> {
    let json: serde_json::Value = serde_json::from_str(text).map_err(|e| InputError { file: path.into(), location: Location::LineColumn { line: e.line(), column: e.column() }, message: e.to_string() })?;
    let field = |name: &str, message: String| InputError { file: path.into(), location: Location::Field(name.into()), message };
    let place = &json["inputs"]["location"];
    let number = |v: &serde_json::Value, name: &str| v.as_f64().ok_or_else(|| field(name, "expected a number".into()));
    let location = PvgisLocation {
        latitude_deg: number(&place["latitude"], "inputs.location.latitude")?,
        longitude_deg: number(&place["longitude"], "inputs.location.longitude")?,
        altitude_m: place["elevation"].as_f64().unwrap_or(0.0),
    };
    let rows = json["outputs"]["tmy_hourly"].as_array().ok_or_else(|| field("outputs.tmy_hourly", "no hourly rows: expected a PVGIS typical year (tmy) JSON".into()))?;
    let mut hours = Hours { hours: vec![None; HOURS] };
    for (i, row) in rows.iter().enumerate() {
        let name = |c: &str| format!("outputs.tmy_hourly[{i}].{c}");
        let mut v = [0.0; COLUMNS.len()];
        for (k, c) in COLUMNS.iter().enumerate() {
            v[k] = number(&row[c], &name(c))?;
        }
        check_values(&v).map_err(|(k, m)| field(&name(COLUMNS[k]), m))?;
        let time = row[TIME].as_str().ok_or_else(|| field(&name(TIME), "expected a time `YYYYMMDD:HH00`".into()))?;
        hours.put(time, v, |c, m| field(&name(c), m))?;
    }
    hours.year(path, location)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::measured::MONTH_DAYS;
    use chrono::{TimeZone, Utc};

    /// A PVGIS CSV whose GHI is day-of-year × 100 + hour (UTC; modulo 1400), air temperature the
    /// hour.
    fn csv() -> String {
        let mut s = String::from("Latitude (decimal degrees): 45.000\nLongitude (decimal degrees): 8.000\nElevation (m): 250.0\nIrradiance Time Offset (h): 0.1761\nmonth,year\n");
        for m in 1..=12 {
            s += &format!("{m},2018\n");
        }
        s += "time(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP\n";
        for (m, &days) in MONTH_DAYS.iter().enumerate() {
            for d in 1..=days {
                for h in 0..24 {
                    let doy = day_of_year(m as u32 + 1, d).unwrap();
                    s += &format!("2018{:02}{d:02}:{h:02}00,{h},80,{},1,2,300,3.5,200,100000\n", m + 1, (doy * 100 + h) % 1400);
                }
            }
        }
        s + "T2m: 2-m air temperature (degree Celsius)\nG(h): Global irradiance on the horizontal plane (W/m2)\n"
    }

    #[test]
    fn rows_are_utc_hours_from_their_label() {
        let (y, loc) = parse_csv(&csv(), Path::new("tmy.csv")).unwrap();
        assert_eq!(loc, PvgisLocation { latitude_deg: 45.0, longitude_deg: 8.0, altitude_m: 250.0 });
        let h = y.at(Utc.with_ymd_and_hms(2023, 1, 2, 10, 30, 0).unwrap());
        assert_eq!((h.ghi_w_m2, h.temp_air_c, h.dni_w_m2, h.dhi_w_m2, h.wind_speed_m_s), (110.0, 10.0, 1.0, 2.0, 3.5));
    }

    #[test]
    fn json_reads_as_the_csv() {
        let (csv_year, _) = parse_csv(&csv(), Path::new("tmy.csv")).unwrap();
        let mut rows = Vec::new();
        for (m, &days) in MONTH_DAYS.iter().enumerate() {
            for d in 1..=days {
                for h in 0..24 {
                    let doy = day_of_year(m as u32 + 1, d).unwrap();
                    rows.push(serde_json::json!({"time(UTC)": format!("2018{:02}{d:02}:{h:02}00", m + 1), "T2m": h, "G(h)": (doy * 100 + h) % 1400, "Gb(n)": 1, "Gd(h)": 2, "WS10m": 3.5}));
                }
            }
        }
        let json = serde_json::json!({"inputs": {"location": {"latitude": 45.0, "longitude": 8.0, "elevation": 250.0}}, "outputs": {"tmy_hourly": rows}});
        let (json_year, _) = parse_json(&json.to_string(), Path::new("tmy.json")).unwrap();
        assert_eq!(json_year, csv_year);
    }

    #[test]
    fn bad_files_name_the_line_and_column() {
        let bad = csv().replacen("20180101:0300,3,80,3,", "20180101:0300,3,80,x,", 1);
        assert_eq!(parse_csv(&bad, Path::new("t.csv")).unwrap_err().location, Location::Row { line: 22, field: "G(h)".into() });
        let bad = csv().replacen("20180101:0300", "2018-01-01 03:00", 1);
        assert_eq!(parse_csv(&bad, Path::new("t.csv")).unwrap_err().location, Location::Row { line: 22, field: TIME.into() });
        // A character of several bytes where a digit belongs is an error, not a crash.
        let odd = csv().replacen("20180101:0300", "202é101:0300", 1);
        assert_eq!(parse_csv(&odd, Path::new("t.csv")).unwrap_err().location, Location::Row { line: 22, field: TIME.into() });
        let hot = csv().replacen("20180101:0300,3,", "20180101:0300,9999,", 1);
        assert!(parse_csv(&hot, Path::new("t.csv")).unwrap_err().message.contains("outside"));
        let twice = csv().replacen("20180101:0300", "20180101:0200", 1);
        assert!(parse_csv(&twice, Path::new("t.csv")).unwrap_err().message.contains("appears twice"));
        assert!(parse_csv("hello\n", Path::new("t.csv")).unwrap_err().message.contains("header"));
        assert!(read(Path::new("tmy.txt")).is_err());
    }
}
