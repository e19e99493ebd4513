//! Typical meteorological year files in NREL's TMY3 format (as pvlib ships, e.g.
//! `pvlib/data/723170TYA.CSV`): a station line (id, name, state, time zone in hours from UTC,
//! latitude, longitude, elevation), a header line, then 8,760 hourly rows
//! `MM/DD/YYYY,HH:MM,...` whose values are the hour *ending* at that local standard time
//! (`01:00` is 00:00–01:00; `24:00` the day's last hour). A typical year stitches months from
//! different years, so a run uses each row by month, day and hour, whatever the run's year.

use crate::base::error::{InputError, Location};
use crate::environment::measured::{day_of_year, Hour, TypicalYear, HOURS};
use std::path::Path;

const COLUMNS: [&str; 5] = ["GHI (W/m^2)", "DNI (W/m^2)", "DHI (W/m^2)", "Dry-bulb (C)", "Wspd (m/s)"];

impl TypicalYear {
    /// Reads a TMY3 file; errors name the file, line and column.
    pub fn read(path: &Path) -> Result<TypicalYear, InputError> {
        let text = crate::base::input::read_text(path, "TMY3 file", crate::base::input::MAX_DATA_FILE_BYTES)?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<TypicalYear, InputError> {
        let at = |line: usize, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line: line as u64, field: field.into() }, message };
        let mut lines = text.lines();
        let station: Vec<String> = csv_fields(lines.next().unwrap_or(""));
        let number = |i: usize, name: &str| -> Result<f64, InputError> {
            let v = station.get(i).map(String::as_str).unwrap_or("");
            v.trim().parse().map_err(|_| at(1, name, format!("expected the station line of a TMY3 file (id, name, state, time zone, latitude, longitude, elevation); `{name}` is `{v}`")))
        };
        let (utc_offset_hours, latitude_deg, longitude_deg) = (number(3, "time zone")?, number(4, "latitude")?, number(5, "longitude")?);
        let header = csv_fields(lines.next().unwrap_or(""));
        let mut index = [0usize; COLUMNS.len()];
        for (k, name) in COLUMNS.iter().enumerate() {
            index[k] = header.iter().position(|h| h == name).ok_or_else(|| at(2, name, format!("no `{name}` column in the header")))?;
        }
        let mut hours = vec![None; HOURS];
        for (i, line) in lines.enumerate() {
            let n = i + 3;
            if line.trim().is_empty() {
                continue;
            }
            let f = csv_fields(line);
            let field = |k: usize| f.get(k).map(String::as_str).unwrap_or("");
            let (date, time) = (field(0), field(1));
            let bad_date = || at(n, "Date (MM/DD/YYYY)", format!("`{date} {time}` is not a date and an hour 01:00 to 24:00"));
            let mut d = date.split('/').map(|p| p.parse::<u32>().ok());
            let (Some(Some(month)), Some(Some(day))) = (d.next(), d.next()) else { return Err(bad_date()) };
            let hour_ending: usize = time.strip_suffix(":00").and_then(|h| h.parse().ok()).filter(|h| (1..=24).contains(h)).ok_or_else(bad_date)?;
            let doy = day_of_year(month, day).filter(|_| !(month == 2 && day == 29)).ok_or_else(bad_date)?;
            let mut v = [0.0; COLUMNS.len()];
            for (k, name) in COLUMNS.iter().enumerate() {
                v[k] = field(index[k]).trim().parse().map_err(|_| at(n, name, format!("`{}` is not a number", field(index[k]))))?;
            }
            hours[doy * 24 + hour_ending - 1] = Some(Hour { ghi_w_m2: v[0], dni_w_m2: v[1], dhi_w_m2: v[2], temp_air_c: v[3], wind_speed_m_s: v[4] });
        }
        let missing = hours.iter().filter(|h| h.is_none()).count();
        if missing > 0 {
            return Err(InputError::file(path, format!("a TMY3 file has {HOURS} hours; {missing} are missing")));
        }
        Ok(TypicalYear::new(station.get(1).cloned().unwrap_or_default(), utc_offset_hours, latitude_deg, longitude_deg, hours.into_iter().flatten().collect()))
    }
}

/// The fields of a CSV line (quotes removed).
fn csv_fields(line: &str) -> Vec<String> {
    let mut r = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(line.as_bytes());
    r.records().next().and_then(Result::ok).map(|rec| rec.iter().map(str::to_string).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::environment::measured::MONTH_DAYS;
    use chrono::{TimeZone, Utc};

    /// A TMY3 file whose GHI is day-of-year × 100 + hour ending, and air temperature the hour.
    fn file() -> String {
        let mut s = String::from("723170,\"TEST STATION\",NC,-5.0,36.100,-79.950,273\nDate (MM/DD/YYYY),Time (HH:MM),GHI (W/m^2),DNI (W/m^2),DHI (W/m^2),Dry-bulb (C),Wspd (m/s)\n");
        for (m, &days) in MONTH_DAYS.iter().enumerate() {
            for d in 1..=days {
                for h in 1..=24 {
                    let doy = day_of_year(m as u32 + 1, d).unwrap();
                    s += &format!("{:02}/{:02}/1990,{h:02}:00,{},1,2,{h},3.5\n", m + 1, d, doy * 100 + h);
                }
            }
        }
        s
    }

    #[test]
    fn hours_are_read_by_local_standard_time_hour_ending() {
        let y = TypicalYear::parse(&file(), Path::new("t.csv")).unwrap();
        assert_eq!((y.utc_offset_hours, y.latitude_deg, y.station.as_str()), (-5.0, 36.1, "TEST STATION"));
        // 10:30 UTC on 2 January is 05:30 local standard time: the hour ending 06:00 of day 1.
        let h = y.at(Utc.with_ymd_and_hms(2023, 1, 2, 10, 30, 0).unwrap());
        assert_eq!((h.ghi_w_m2, h.temp_air_c, h.wind_speed_m_s), (106.0, 6.0, 3.5));
        // 04:59 UTC on 1 January is 23:59 on 31 December locally: the year's last hour.
        assert_eq!(y.at(Utc.with_ymd_and_hms(2023, 1, 1, 4, 59, 0).unwrap()).ghi_w_m2, 364.0 * 100.0 + 24.0);
        // Leap years read 28 February for the 29th, whatever the run's year.
        assert_eq!(y.at(Utc.with_ymd_and_hms(2024, 2, 29, 17, 0, 0).unwrap()).ghi_w_m2, 58.0 * 100.0 + 13.0);
    }

    #[test]
    fn bad_files_name_the_line_and_column() {
        let text = file().replacen("01/01/1990,03:00,3,", "01/01/1990,03:00,x,", 1);
        let e = TypicalYear::parse(&text, Path::new("t.csv")).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 5, field: "GHI (W/m^2)".into() });
        let short: String = file().lines().take(100).map(|l| format!("{l}\n")).collect();
        assert!(TypicalYear::parse(&short, Path::new("t.csv")).unwrap_err().message.contains("8760 hours; 8662 are missing"));
        let e = TypicalYear::parse("not a station\n", Path::new("t.csv")).unwrap_err();
        assert!(e.message.contains("station line"), "{e:?}");
    }
}
