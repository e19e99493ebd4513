//! EnergyPlus weather files (EPW), the form most typical-year files worldwide come in (IWEC,
//! TMYx, PVGIS, Meteonorm exports): a `LOCATION` line (city, state, country, source, WMO id,
//! latitude, longitude, time zone in hours from UTC, elevation), seven more header lines, then
//! hourly rows `year,month,day,hour,minute,…` with 35 fields. Each row's values are the hour
//! *ending* at `hour` (1–24) in local standard time, as pvlib's `read_epw` reads them (which
//! labels the row `hour − 1`, the start of its hour); no daylight saving. A typical year stitches
//! months from different years, so each row is used by month, day and hour whatever the run's
//! year; rows of 29 February (a real year's file) are skipped and the 28th is read instead.

use crate::base::error::{InputError, Location};
use crate::environment::measured::{day_of_year, Hour, TypicalYear, HOURS};
use std::path::Path;

/// Header lines before the first data row.
const HEADER_LINES: usize = 8;
/// Fields of a data row.
const FIELDS: usize = 35;
/// The columns read: position, pvlib's name, and the value EPW writes when it is missing.
const COLUMNS: [(usize, &str, f64); 5] = [
    (13, "ghi", 9999.0),
    (14, "dni", 9999.0),
    (15, "dhi", 9999.0),
    (6, "temp_air", 99.9),
    (21, "wind_speed", 999.0),
];

/// What the `LOCATION` line says.
#[derive(Debug, Clone, PartialEq)]
pub struct EpwLocation {
    pub city: String,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub utc_offset_hours: f64,
    pub altitude_m: f64,
}

/// Reads an EPW file; errors name the file, line and column.
pub fn read(path: &Path) -> Result<(TypicalYear, EpwLocation), InputError> {
    let text = crate::base::input::read_text(path, "EPW file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<(TypicalYear, EpwLocation), InputError> {
    let at = |line: usize, field: &str, message: String| InputError { file: path.into(), location: Location::Row { line: line as u64, field: field.into() }, message };
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let loc: Vec<&str> = first.split(',').map(str::trim).collect();
    if loc.first() != Some(&"LOCATION") || loc.len() < 10 {
        return Err(at(1, "LOCATION", "expected an EnergyPlus weather file: its first line is `LOCATION,city,state,country,source,WMO,latitude,longitude,time zone,elevation`".into()));
    }
    let number = |i: usize, name: &str| -> Result<f64, InputError> {
        loc[i].parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| at(1, name, format!("`{}` is not a number", loc[i])))
    };
    let location = EpwLocation { city: loc[1].to_string(), latitude_deg: number(6, "latitude")?, longitude_deg: number(7, "longitude")?, utc_offset_hours: number(8, "time zone")?, altitude_m: number(9, "elevation")? };
    if !(-90.0..=90.0).contains(&location.latitude_deg) || !(-180.0..=180.0).contains(&location.longitude_deg) || !(-14.0..=14.0).contains(&location.utc_offset_hours) {
        return Err(at(1, "LOCATION", format!("latitude {}, longitude {}, time zone {} are not a place on Earth", location.latitude_deg, location.longitude_deg, location.utc_offset_hours)));
    }
    let mut hours = vec![None; HOURS];
    for (i, line) in lines.enumerate().skip(HEADER_LINES - 1) {
        let n = i + 2;
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < FIELDS - 1 {
            return Err(at(n, "row", format!("{} fields; an EPW data row has {FIELDS}", f.len())));
        }
        let int = |k: usize, name: &str| f[k].trim().parse::<u32>().map_err(|_| at(n, name, format!("`{}` is not a whole number", f[k])));
        let (month, day, hour) = (int(1, "month")?, int(2, "day")?, int(3, "hour")?);
        if month == 2 && day == 29 {
            continue;
        }
        let doy = day_of_year(month, day).ok_or_else(|| at(n, "day", format!("{month}/{day} is not a day of the year")))?;
        if !(1..=24).contains(&hour) {
            return Err(at(n, "hour", format!("{hour} is not an hour 1 to 24 (EPW hours end at the hour)")));
        }
        let mut v = [0.0; COLUMNS.len()];
        for (k, &(col, name, missing)) in COLUMNS.iter().enumerate() {
            let raw = f[col].trim();
            let x: f64 = raw.parse().ok().filter(|x: &f64| x.is_finite()).ok_or_else(|| at(n, name, format!("`{raw}` is not a number")))?;
            if x >= missing {
                return Err(at(n, name, format!("{raw} marks a missing value; fill the gap (or use a complete typical year)")));
            }
            v[k] = x;
        }
        super::pvgis::check_values(&v).map_err(|(k, m)| at(n, COLUMNS[k].1, m))?;
        let slot = &mut hours[doy * 24 + hour as usize - 1];
        if slot.is_some() {
            return Err(at(n, "hour", format!("{month}/{day} hour {hour} appears twice")));
        }
        *slot = Some(Hour { ghi_w_m2: v[0], dni_w_m2: v[1], dhi_w_m2: v[2], temp_air_c: v[3], wind_speed_m_s: v[4] });
    }
    let missing = hours.iter().filter(|h| h.is_none()).count();
    if missing > 0 {
        return Err(InputError::file(path, format!("an EPW typical year has {HOURS} hours; {missing} are missing")));
    }
    let year = TypicalYear::new(location.city.clone(), location.utc_offset_hours, location.latitude_deg, location.longitude_deg, hours.into_iter().flatten().collect());
    Ok((year, location))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::environment::measured::MONTH_DAYS;
    use chrono::{TimeZone, Utc};

    /// An EPW file whose GHI is day-of-year × 10 + hour (modulo 1400), air temperature the hour.
    pub(crate) fn file() -> String {
        let mut s = String::from("LOCATION,AMSTERDAM,-,NLD,IWEC Data,062400,52.30,4.77,1.0,-2.0\n");
        for h in ["DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0", "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,x", "COMMENTS 2,y", "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31"] {
            s += h;
            s += "\n";
        }
        for (m, &days) in MONTH_DAYS.iter().enumerate() {
            for d in 1..=days {
                for h in 1..=24 {
                    let doy = day_of_year(m as u32 + 1, d).unwrap();
                    let mut f = vec!["0".to_string(); FIELDS];
                    f[0] = "1995".into();
                    f[1] = (m + 1).to_string();
                    f[2] = d.to_string();
                    f[3] = h.to_string();
                    f[4] = "60".into();
                    f[5] = "C9C9".into();
                    f[6] = h.to_string();
                    f[13] = ((doy * 10 + h as usize) % 1400).to_string();
                    f[14] = "1".into();
                    f[15] = "2".into();
                    f[21] = "3.5".into();
                    s += &f.join(",");
                    s += "\n";
                }
            }
        }
        s
    }

    #[test]
    fn hours_end_at_their_label_in_local_standard_time() {
        let (y, loc) = parse(&file(), Path::new("a.epw")).unwrap();
        assert_eq!((loc.city.as_str(), loc.latitude_deg, loc.utc_offset_hours, loc.altitude_m), ("AMSTERDAM", 52.3, 1.0, -2.0));
        // 10:30 UTC on 2 January is 11:30 local standard time: the hour ending 12 of day 1.
        let h = y.at(Utc.with_ymd_and_hms(2023, 1, 2, 10, 30, 0).unwrap());
        assert_eq!((h.ghi_w_m2, h.temp_air_c, h.wind_speed_m_s, h.dni_w_m2, h.dhi_w_m2), (22.0, 12.0, 3.5, 1.0, 2.0));
    }

    #[test]
    fn bad_files_name_the_line_and_column() {
        let bad = file().replacen("1995,1,1,3,60,C9C9,3,0,0,0,0,0,0,3,", "1995,1,1,3,60,C9C9,3,0,0,0,0,0,0,x,", 1);
        let e = parse(&bad, Path::new("a.epw")).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 11, field: "ghi".into() });
        let gap = file().replacen("1995,1,1,3,60,C9C9,3,0,0,0,0,0,0,3,", "1995,1,1,3,60,C9C9,3,0,0,0,0,0,0,9999,", 1);
        assert!(parse(&gap, Path::new("a.epw")).unwrap_err().message.contains("missing value"));
        let short: String = file().lines().take(100).map(|l| format!("{l}\n")).collect();
        assert!(parse(&short, Path::new("a.epw")).unwrap_err().message.contains("8760 hours; 8668 are missing"));
        assert_eq!(parse("not a weather file\n", Path::new("a.epw")).unwrap_err().location, Location::Row { line: 1, field: "LOCATION".into() });
    }
}
