//! Measured weather in a run: a TMY3 year's hours reach the households as they are, and the
//! PV model derates hot cells.

mod common;

use common::*;
use std::path::Path;

/// A TMY3 file for a station at 36.1° N, 79.95° W (UTC−5): clear noons of `ghi_w_m2` from 09:00
/// to 15:00 (hours ending 10:00 to 15:00), all diffuse, at `temp_c`.
fn tmy3(dir: &Path, ghi_w_m2: f64, temp_c: f64) -> std::path::PathBuf {
    let mut s = String::from("723170,\"TEST\",NC,-5.0,36.100,-79.950,273\nDate (MM/DD/YYYY),Time (HH:MM),GHI (W/m^2),DNI (W/m^2),DHI (W/m^2),Dry-bulb (C),Wspd (m/s)\n");
    let days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (m, &n) in days.iter().enumerate() {
        for d in 1..=n {
            for h in 1..=24 {
                let g = if (10..=15).contains(&h) { ghi_w_m2 } else { 0.0 };
                s += &format!("{:02}/{d:02}/1991,{h:02}:00,{g},0,{g},{temp_c},1.0\n", m + 1);
            }
        }
    }
    let path = dir.join(format!("tmy-{ghi_w_m2}-{temp_c}.csv"));
    std::fs::write(&path, s).unwrap();
    path
}

fn scenario_with(dir: &Path, weather_file: &Path, gamma: f64, lat: f64) -> std::path::PathBuf {
    let text = format!(
        r#"(
    name: "tmy", start: "2023-06-01T00:00", timezone: "-05:00", step_minutes: 15, duration_days: 2,
    location: (latitude_deg: {lat}, longitude_deg: -79.95),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    weather: Tmy3(file: "{}"),
    households: [House(id: "pv", pv: (kwp: 4.0, tilt_deg: 0, performance_ratio: 1.0, temperature_coefficient_per_c: {gamma}), load: Archetype(kind: Family))],
    topology: Generated(layout: Street),
)"#,
        weather_file.file_name().unwrap().to_str().unwrap()
    );
    let path = dir.join(format!("tmy-{gamma}-{lat}.ron"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_tmy3_year_reaches_the_panels_hour_by_hour() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmy3(tmp.path(), 800.0, 25.0);
    let out = tmp.path().join("out");
    run_ok(&scenario_with(tmp.path(), &file, -0.004, 36.1), &out, &["--ledger", "off"]);
    let ts = Table::read(&out.join("timeseries.csv"));
    // 15-minute steps from 09:00 to 15:00 local standard time see the measured 800 W/m².
    for (i, r) in ts.rows.iter().enumerate() {
        let hour = (i % 96) as f64 / 4.0;
        let want = if (9.0..15.0).contains(&hour) { 800.0 } else { 0.0 };
        assert_eq!(Table::f(r, "ghi_w_m2"), want, "step {i}");
    }
    // A flat 4 kWp array at 25 °C air: cells at 25 + 800 / (25 + 6.84) °C.
    let t_cell = 25.0 + 800.0 / (25.0 + 6.84);
    let want_kwh = 2.0 * 6.0 * 4.0 * 0.8 * (1.0 - 0.004 * (t_cell - 25.0));
    let pv: f64 = ts.column("pv_kwh").iter().sum();
    assert!((pv - want_kwh).abs() < 1e-9, "{pv} vs {want_kwh}");
}

#[test]
fn hot_cells_make_less_and_no_coefficient_means_no_derating() {
    let tmp = tempfile::tempdir().unwrap();
    let (mild, hot) = (tmy3(tmp.path(), 800.0, 10.0), tmy3(tmp.path(), 800.0, 40.0));
    let pv = |file: &Path, gamma: f64, name: &str| {
        let out = tmp.path().join(name);
        run_ok(&scenario_with(tmp.path(), file, gamma, 36.1), &out, &["--ledger", "off"]);
        Table::read(&out.join("timeseries.csv")).column("pv_kwh").iter().sum::<f64>()
    };
    let (a, b) = (pv(&mild, -0.004, "mild"), pv(&hot, -0.004, "hot"));
    assert!((a / b - (1.0 - 0.004 * (10.0 + 800.0 / 31.84 - 25.0)) / (1.0 - 0.004 * (40.0 + 800.0 / 31.84 - 25.0))).abs() < 1e-12, "{a} {b}");
    assert_eq!(pv(&mild, 0.0, "mild0"), pv(&hot, 0.0, "hot0"), "without a coefficient, temperature does not matter");
}

#[test]
fn a_tmy3_station_far_from_the_scenario_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmy3(tmp.path(), 800.0, 25.0);
    let o = peergrid(&["check", scenario_with(tmp.path(), &file, 0.0, -33.9).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("field `location`") && stderr(&o).contains("TMY3 station"), "{}", stderr(&o));
    let o = peergrid(&["check", scenario_with(tmp.path(), &tmp.path().join("missing.csv"), 0.0, 36.1).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("weather.file") && stderr(&o).contains("missing.csv"), "{}", stderr(&o));
}

/// The `tmy3` year as an EPW file (hour-ending rows in local standard time) and as a PVGIS CSV
/// (rows labelled with the UTC hour they start).
fn epw_and_pvgis(dir: &Path, ghi_w_m2: f64, temp_c: f64) -> (std::path::PathBuf, std::path::PathBuf) {
    let mut epw = String::from("LOCATION,TEST,NC,USA,TMY3,723170,36.10,-79.95,-5.0,273\n");
    for h in ["DESIGN CONDITIONS,0", "TYPICAL/EXTREME PERIODS,0", "GROUND TEMPERATURES,0", "HOLIDAYS/DAYLIGHT SAVINGS,No,0,0,0", "COMMENTS 1,", "COMMENTS 2,", "DATA PERIODS,1,1,Data,Sunday, 1/ 1,12/31"] {
        epw += &format!("{h}\n");
    }
    let mut pvgis = String::from("Latitude (decimal degrees): 36.100\nLongitude (decimal degrees): -79.950\nElevation (m): 273.0\ntime(UTC),T2m,RH,G(h),Gb(n),Gd(h),IR(h),WS10m,WD10m,SP\n");
    let days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let start = chrono::NaiveDate::from_ymd_opt(2021, 1, 1).unwrap().and_hms_opt(0, 0, 0).unwrap();
    let mut k = 0;
    for (m, &n) in days.iter().enumerate() {
        for d in 1..=n {
            for h in 1..=24 {
                let g = if (10..=15).contains(&h) { ghi_w_m2 } else { 0.0 };
                epw += &format!("1991,{},{d},{h},60,C9C9,{temp_c},0,50,100000,0,0,0,{g},0,{g},0,0,0,0,0,1.0,0,0,0,0,0,0,0,0,0,0,0,0,0\n", m + 1);
                // The local hour ending at h starts at h - 1 local = h + 4 UTC.
                let utc = start + chrono::Duration::hours(k + 5);
                pvgis += &format!("{},{temp_c},50,{g},0,{g},300,1.0,0,100000\n", utc.format("2021%m%d:%H00"));
                k += 1;
            }
        }
    }
    let (e, p) = (dir.join("year.epw"), dir.join("year.csv"));
    std::fs::write(&e, epw).unwrap();
    std::fs::write(&p, pvgis).unwrap();
    (e, p)
}

#[test]
fn epw_and_pvgis_years_read_as_the_same_tmy3_year() {
    let tmp = tempfile::tempdir().unwrap();
    let tmy = tmy3(tmp.path(), 700.0, 30.0);
    let (epw, pvgis) = epw_and_pvgis(tmp.path(), 700.0, 30.0);
    let run = |weather: String, name: &str| {
        let scenario = scenario_with(tmp.path(), &tmy, -0.004, 36.1);
        let text = std::fs::read_to_string(&scenario).unwrap().replace(&format!("Tmy3(file: \"{}\")", tmy.file_name().unwrap().to_str().unwrap()), &weather);
        let path = tmp.path().join(format!("{name}.ron"));
        std::fs::write(&path, text).unwrap();
        let out = tmp.path().join(name);
        run_ok(&path, &out, &["--ledger", "off"]);
        let ts = Table::read(&out.join("timeseries.csv"));
        (ts.column("ghi_w_m2"), ts.column("pv_kwh"), ts.column("temp_air_c"))
    };
    let want = run(format!("Tmy3(file: \"{}\")", tmy.display()), "tmy3");
    assert!(want.0.contains(&700.0) && want.2.iter().all(|t| *t == 30.0));
    assert_eq!(run(format!("Epw(file: \"{}\")", epw.display()), "epw"), want);
    assert_eq!(run(format!("PvgisTmy(file: \"{}\")", pvgis.display()), "pvgis"), want);
    // A bad value names the file, line and column, and nothing is written.
    let bad = std::fs::read_to_string(&epw).unwrap().replacen(",1.0,0,0,0", ",x,0,0,0", 1);
    std::fs::write(&epw, bad).unwrap();
    let scenario = tmp.path().join("epw.ron");
    let o = peergrid(&["run", scenario.to_str().unwrap(), "--out", tmp.path().join("bad").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("year.epw") && stderr(&o).contains("line 9") && stderr(&o).contains("wind_speed"), "{}", stderr(&o));
    assert!(!tmp.path().join("bad").exists());
}

/// A 10-minute series from 2023-06-01 00:00 (UTC−5) for `days` days: 600 W/m² from 10:00 to
/// 14:00, with beam and diffuse columns (all diffuse) when `components`.
fn series(dir: &Path, days: i64, components: bool) -> std::path::PathBuf {
    let mut s = String::from(if components { "time,ghi_w_m2,dni_w_m2,dhi_w_m2,temp_air_c\n" } else { "time,ghi_w_m2\n" });
    for k in 0..days * 144 {
        let (h, m) = ((k % 144) / 6, (k % 6) * 10);
        let g = if (10..14).contains(&h) { 600.0 } else { 0.0 };
        let day = 1 + k / 144;
        s += &format!("2023-06-{day:02}T{h:02}:{m:02}:00-05:00,{g}");
        s += &if components { format!(",0,{g},20\n") } else { "\n".into() };
    }
    let path = dir.join(format!("series-{days}-{components}.csv"));
    std::fs::write(&path, s).unwrap();
    path
}

fn measured_scenario(dir: &Path, file: &Path, days: u32) -> std::path::PathBuf {
    let text = format!(
        r#"(
    name: "measured", start: "2023-06-01T00:00", timezone: "-05:00", step_minutes: 15, duration_days: {days},
    location: (latitude_deg: 36.1, longitude_deg: -79.95),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    weather: Measured(file: "{}"),
    households: [House(id: "pv", pv: (kwp: 4.0, tilt_deg: 30, azimuth_deg: 180), load: Archetype(kind: Family))],
    topology: Generated(layout: Street),
)"#,
        file.file_name().unwrap().to_str().unwrap()
    );
    let path = dir.join(format!("measured-{days}-{}.ron", file.file_stem().unwrap().to_str().unwrap()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_measured_series_drives_the_sky_and_must_cover_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    for components in [true, false] {
        let out = tmp.path().join(format!("out-{components}"));
        run_ok(&measured_scenario(tmp.path(), &series(tmp.path(), 2, components), 2), &out, &["--ledger", "off"]);
        let ts = Table::read(&out.join("timeseries.csv"));
        for (i, r) in ts.rows.iter().enumerate() {
            let hour = (i % 96) as f64 / 4.0 + 0.125;
            let want = if (10.0..14.0).contains(&hour) { 600.0 } else { 0.0 };
            assert_eq!(Table::f(r, "ghi_w_m2"), want, "step {i}");
            let (dni, dhi) = (Table::f(r, "dni_w_m2"), Table::f(r, "dhi_w_m2"));
            if components {
                assert_eq!((dni, dhi), (0.0, want), "the file's split is used as it is");
            } else if want > 0.0 {
                assert!(dhi > 0.0 && dhi < want && dni > 0.0, "GHI alone is split with Erbs: {dni} {dhi}");
            }
        }
    }
    let o = peergrid(&["check", measured_scenario(tmp.path(), &series(tmp.path(), 2, true), 3).to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("field `weather.file`") && stderr(&o).contains("the run needs"), "{}", stderr(&o));
}
