use super::*;
use crate::base::time::Zone;
use chrono::{TimeZone, Utc};

fn write(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("ausgrid.csv");
    std::fs::write(&p, text).unwrap();
    (d, p)
}

/// A wide row: 48 values, `f(k)` for slot k.
fn wide_row(customer: u32, cat: &str, date: &str, f: impl Fn(usize) -> String) -> String {
    let values: Vec<String> = (0..SLOTS_PER_DAY).map(f).collect();
    format!("{customer},3.78,2076,{cat},{date},{},\n", values.join(","))
}

const TITLE: &str = "Solar home half-hour data - 1 July 2012 to 30 June 2013,,,\n";

fn header() -> String {
    let labels: Vec<String> = (0..SLOTS_PER_DAY).map(slot_end_label).collect();
    format!("Customer,Generator Capacity,Postcode,Consumption Category,date,{},Row Quality\n", labels.join(","))
}

#[test]
fn wide_values_are_labelled_by_the_end_of_their_half_hour() {
    let labels: Vec<String> = (0..SLOTS_PER_DAY).map(slot_end_label).collect();
    assert_eq!((labels[0].as_str(), labels[46].as_str(), labels[47].as_str()), ("0:30", "23:30", "0:00"));
    let text = format!("{TITLE}{}{}{}", header(), wide_row(1, "GC", "1/07/2012", |k| format!("{}", k as f64 / 100.0)), wide_row(1, "GG", "2/07/2012", |k| if k == 47 { "0.5".into() } else { "0".into() }));
    let (_d, p) = write(&text);
    let m = read(&p, None).unwrap();
    assert_eq!(m.capacity_kwp, Some(3.78));
    assert_eq!(m.first_day, NaiveDate::from_ymd_opt(2012, 7, 1));
    let gc = &m.series[&Category::Gc];
    assert_eq!((gc[0], gc[47]), (Some(0.0), Some(0.47)), "the first value is 00:00-00:30, the last (\"0:00\") 23:30-24:00");
    assert_eq!(m.series[&Category::Gg][SLOTS_PER_DAY + 47], Some(0.5));
    assert_eq!(m.len(), 2 * SLOTS_PER_DAY);
}

#[test]
fn reshaped_kw_become_kwh_per_half_hour() {
    let (_d, p) = write(",GC,GG\n2011-07-01 00:00:00,0.4,0.0\n2011-07-01 00:30:00,0.6,1.0\n");
    let m = read(&p, None).unwrap();
    assert_eq!(m.series[&Category::Gc], vec![Some(0.2), Some(0.3)]);
    assert_eq!(m.series[&Category::Gg], vec![Some(0.0), Some(0.5)]);
    assert!(!m.series.contains_key(&Category::Cl));
}

#[test]
fn short_gaps_are_interpolated_and_long_ones_take_the_day_before() {
    let mut s: Vec<Option<f64>> = (0..3 * SLOTS_PER_DAY).map(|k| Some(k as f64)).collect();
    s[10] = None;
    s[11] = None;
    for k in SLOTS_PER_DAY + 5..SLOTS_PER_DAY + 20 {
        s[k] = None;
    }
    assert_eq!(fill_series(&mut s), Ok(2 + 15));
    assert_eq!((s[10], s[11]), (Some(10.0), Some(11.0)));
    assert_eq!(s[SLOTS_PER_DAY + 7], Some(7.0), "a long gap takes the same half hour a day earlier");
    let mut empty = vec![None; 3];
    assert_eq!(fill_series(&mut empty), Err(0));
}

#[test]
fn missing_days_of_the_wide_form_are_filled_and_counted() {
    let text = format!("{}{}", wide_row(1, "GC", "1/07/2012", |_| "0.1".into()), wide_row(1, "GC", "3/07/2012", |_| "0.3".into()));
    let (_d, p) = write(&text);
    let m = read(&p, None).unwrap();
    assert_eq!(m.filled_slots, SLOTS_PER_DAY);
    assert_eq!(m.series[&Category::Gc][SLOTS_PER_DAY + 3], Some(0.1));
}

#[test]
fn bad_input_names_the_line_and_column() {
    let text = format!("{TITLE}{}{}", header(), wide_row(1, "GC", "1/07/2012", |k| if k == 47 { "x".into() } else { "0".into() }));
    let (_d, p) = write(&text);
    let e = read(&p, None).unwrap_err();
    assert_eq!(e.location, Location::Row { line: 3, field: "0:00".into() });
    let (_d, p) = write(&format!("{}{}", wide_row(1, "GC", "1/07/2012", |_| "0".into()), wide_row(2, "GC", "1/07/2012", |_| "0".into())));
    assert!(read(&p, None).unwrap_err().message.contains("say which with `customer`"));
    assert!(read(&p, Some(3)).unwrap_err().message.contains("no half-hour data for customer 3"));
    let (_d, p) = write(",GC,GG\n2011-07-01 00:10:00,0.4,0.0\n");
    assert_eq!(read(&p, None).unwrap_err().location, Location::Row { line: 2, field: "timestamp".into() });
    let (_d, p) = write(",GC,GG\n2011-07-01 00:00:00,-1,0.0\n");
    assert!(read(&p, None).unwrap_err().to_string().contains("GC"));
}

fn frame(start_utc: chrono::DateTime<Utc>, step_minutes: u32, total_steps: u64) -> TimeFrame {
    TimeFrame { start_utc, zone: Zone::parse("Australia/Sydney").unwrap(), step_minutes, total_steps }
}

const AEST: Mapping = Mapping { meter_offset: FixedOffset::east_opt(10 * 3600).unwrap(), day_shift: 0 };

#[test]
fn resampling_splits_and_merges_half_hours_on_the_meter_clock() {
    let m = Measured { first_day: NaiveDate::from_ymd_opt(2012, 1, 1), ..Default::default() };
    let s: Vec<Option<f64>> = (0..2 * SLOTS_PER_DAY).map(|k| Some(k as f64)).collect();
    // 2012-01-01 00:00 AEST is 2011-12-31 14:00 UTC.
    let start = Utc.with_ymd_and_hms(2011, 12, 31, 14, 0, 0).unwrap();
    assert_eq!(resample(&m, &s, &frame(start, 15, 4), AEST).unwrap(), vec![0.0, 0.0, 0.5, 0.5]);
    assert_eq!(resample(&m, &s, &frame(start, 60, 2), AEST).unwrap(), vec![1.0, 5.0]);
    let shifted = Mapping { day_shift: 1, ..AEST };
    assert_eq!(resample(&m, &s, &frame(start, 30, 1), shifted).unwrap(), vec![48.0]);
    let e = resample(&m, &s, &frame(start, 30, 3 * SLOTS_PER_DAY as u64), AEST).unwrap_err();
    assert!(e.contains("2012-01-03") && e.contains("2012-01-01 to 2012-01-02"), "{e}");
}

#[test]
fn energy_is_kept_whatever_the_step() {
    let m = Measured { first_day: NaiveDate::from_ymd_opt(2012, 1, 1), ..Default::default() };
    let s: Vec<Option<f64>> = (0..4 * SLOTS_PER_DAY).map(|k| Some((k % 7) as f64 * 0.1)).collect();
    let start = Utc.with_ymd_and_hms(2011, 12, 31, 14, 0, 0).unwrap();
    let day: f64 = s[..SLOTS_PER_DAY].iter().flatten().sum();
    for step in [5, 10, 15, 20, 30, 60, 120] {
        let steps = 24 * 60 / step as u64;
        let got: f64 = resample(&m, &s, &frame(start, step, steps), AEST).unwrap().iter().sum();
        assert!((got - day).abs() < 1e-9, "{step} min: {got} vs {day}");
    }
}

/// The shared Ausgrid files, when present beside the repository.
fn shared(path: &str) -> Option<std::path::PathBuf> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/ausgrid").join(path);
    p.exists().then_some(p)
}

#[test]
fn reads_the_shared_ausgrid_files() {
    let Some(reshaped) = shared("customer12_2011-2012/data_2011-2012.csv") else { return };
    let m = read(&reshaped, None).unwrap();
    assert_eq!((m.len(), m.filled_slots, m.first_day), (366 * SLOTS_PER_DAY, 0, NaiveDate::from_ymd_opt(2011, 7, 1)));
    let Some(wide) = shared("customer1_2012-2013_original_format/2012-2013 Solar home electricity data v2 (truncated).csv") else { return };
    let m = read(&wide, Some(1)).unwrap();
    assert_eq!(m.capacity_kwp, Some(3.78));
    assert_eq!(m.len(), 166 * SLOTS_PER_DAY);
    assert!(m.series.contains_key(&Category::Cl) && m.total_kwh(Category::Gg) > 0.0);
}
