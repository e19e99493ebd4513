//! Measured daily global solar exposure (kWh/m²/day), as the Bureau of Meteorology publishes it
//! per station and year: a header of month names and a row per day of the month (1..31), empty
//! where the day does not exist or was not measured. It scales the clear-sky model day by day
//! (see [`crate::environment::weather`]), instead of the stochastic weather.

use crate::base::error::{InputError, Location};
use chrono::{Duration, NaiveDate};
use std::path::Path;

/// Months in a year's file, in column order.
const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
/// Most global exposure a day can have anywhere on Earth, with margin, kWh/m².
pub const MAX_DAILY_EXPOSURE_KWH_M2: f64 = 15.0;
/// A day without a value takes the nearest measured day's, at most this far.
pub const MAX_FILL_DAYS: i64 = 3;

pub use crate::environment::measured::DailyExposure;

/// Reads one year's file into `out`.
pub fn read_year(path: &Path, year: i32, out: &mut DailyExposure) -> Result<(), InputError> {
    let text = crate::base::input::read_text(path, "solar exposure file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, l)| l.trim_start_matches('\u{feff}')).unwrap_or("");
    let months: Vec<&str> = header.split(',').map(str::trim).collect();
    if months != MONTHS {
        return Err(InputError { file: path.into(), location: Location::Row { line: 1, field: "header".into() }, message: format!("expected the month columns {}, got `{header}`", MONTHS.join(",")) });
    }
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let day = i as u32; // the row after the header is day 1
        for (m, value) in line.split(',').enumerate().take(MONTHS.len()) {
            let bad = |message: String| InputError { file: path.into(), location: Location::Row { line: i as u64 + 1, field: MONTHS[m].into() }, message };
            let v = value.trim();
            if v.is_empty() {
                continue;
            }
            let kwh_m2: f64 = v.parse().ok().filter(|x: &f64| x.is_finite() && (0.0..=MAX_DAILY_EXPOSURE_KWH_M2).contains(x)).ok_or_else(|| bad(format!("expected kWh/m² in 0..{MAX_DAILY_EXPOSURE_KWH_M2}, got `{v}`")))?;
            let date = NaiveDate::from_ymd_opt(year, m as u32 + 1, day).ok_or_else(|| bad(format!("{} {day} {year} is not a date but has a value", MONTHS[m])))?;
            out.insert(date, kwh_m2);
        }
    }
    Ok(())
}

/// The exposure of every date from `first` to `last`, a missing day taking the nearest measured
/// one (the earlier on a tie); the first date that cannot be covered is the error.
pub fn cover(data: &DailyExposure, first: NaiveDate, last: NaiveDate) -> Result<DailyExposure, NaiveDate> {
    let mut out = DailyExposure::new();
    let mut d = first;
    while d <= last {
        let near = (0..=MAX_FILL_DAYS).find_map(|k| data.get(&(d - Duration::days(k))).or_else(|| data.get(&(d + Duration::days(k)))));
        out.insert(d, *near.ok_or(d)?);
        d += Duration::days(1);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("expo.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    const HEADER: &str = "\u{feff}Jan,Feb,Mar,Apr,May,Jun,Jul,Aug,Sep,Oct,Nov,Dec\n";

    #[test]
    fn reads_a_year_by_month_columns() {
        let (_d, p) = write(&format!("{HEADER}9.4,1.3,2.8,5.2,4.2,2.5,2,3.5,3.9,6.1,2.5,5.7\n9.1,,0.6,4.7,4.2,1.2,2.6,3.6,4.7,5.7,7.7,3.6\n"));
        let mut e = DailyExposure::new();
        read_year(&p, 2012, &mut e).unwrap();
        assert_eq!(e.len(), 23);
        assert_eq!(e[&NaiveDate::from_ymd_opt(2012, 12, 2).unwrap()], 3.6);
        let all = cover(&e, NaiveDate::from_ymd_opt(2012, 2, 1).unwrap(), NaiveDate::from_ymd_opt(2012, 2, 3).unwrap()).unwrap();
        assert_eq!(all.values().copied().collect::<Vec<_>>(), vec![1.3, 1.3, 1.3], "Feb 2 and 3 take Feb 1's");
        assert_eq!(cover(&e, NaiveDate::from_ymd_opt(2012, 2, 1).unwrap(), NaiveDate::from_ymd_opt(2012, 2, 6).unwrap()), Err(NaiveDate::from_ymd_opt(2012, 2, 5).unwrap()));
    }

    #[test]
    fn names_line_and_month_of_a_bad_value() {
        let (_d, p) = write(&format!("{HEADER}9.4,1.3,2.8,5.2,4.2,2.5,2,3.5,3.9,6.1,2.5,5.7\n9.1,x,0.6,4.7,4.2,1.2,2.6,3.6,4.7,5.7,7.7,3.6\n"));
        let e = read_year(&p, 2012, &mut DailyExposure::new()).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 3, field: "Feb".into() });
        let rows: String = (0..30).map(|_| "1,1,1,1,1,1,1,1,1,1,1,1\n").collect();
        let (_d, p) = write(&format!("{HEADER}{rows}"));
        assert!(read_year(&p, 2013, &mut DailyExposure::new()).unwrap_err().message.contains("Feb 29 2013 is not a date"));
        let (_d, p) = write("Jan,Feb\n1,2\n");
        assert!(read_year(&p, 2013, &mut DailyExposure::new()).unwrap_err().message.contains("month columns"));
    }

    #[test]
    fn reads_the_shared_sydney_files() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/solar_exposure_nsw");
        if !dir.exists() {
            return;
        }
        let mut e = DailyExposure::new();
        for year in [2012, 2013] {
            read_year(&dir.join(format!("Sol_expo_Sydney_{year}_kwh_csv.csv")), year, &mut e).unwrap();
        }
        assert!(e.len() > 700, "{}", e.len());
        let mean = e.values().sum::<f64>() / e.len() as f64;
        assert!((3.0..6.0).contains(&mean), "Sydney's mean daily exposure {mean} kWh/m²");
    }
}
