//! Parquet outputs (`--format parquet|both`, `--household-series`): every file read back equals
//! its CSV to the last digit, types are those docs/outputs.md gives, and a run cut short leaves
//! no Parquet file that reads as complete.
#![cfg(feature = "parquet")]

mod common;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, Field, TimeUnit};
use common::*;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use peergrid::base::money::Micros;
use std::path::Path;

fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap_or_else(|e| panic!("{}: {e}", path.display())).build().unwrap();
    reader.map(|b| b.unwrap()).collect()
}

/// Whether row `i` of `array` (of column `field`) is what the CSV says, to the last digit.
fn same_as_csv(field: &Field, array: &dyn Array, i: usize, text: &str) -> bool {
    if array.is_null(i) {
        return text.is_empty();
    }
    let float_eq = |a: f64, b: f64| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan());
    match array.data_type() {
        DataType::Int64 if field.metadata().contains_key("unit") => Micros(array.as_primitive::<Int64Type>().value(i)).to_decimal_string() == text,
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).to_string() == text,
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).to_string() == text,
        DataType::Float64 => text.parse::<f64>().is_ok_and(|t| float_eq(t, array.as_primitive::<Float64Type>().value(i))),
        DataType::Float32 => text.parse::<f32>().is_ok_and(|t| float_eq(f64::from(t), f64::from(array.as_primitive::<Float32Type>().value(i)))),
        DataType::Utf8 => array.as_string::<i32>().value(i) == text,
        DataType::Dictionary(_, _) => {
            let d = array.as_dictionary::<Int32Type>();
            d.values().as_string::<i32>().value(d.keys().value(i) as usize) == text
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if tz.as_ref() == "UTC" => {
            let us = array.as_primitive::<TimestampMicrosecondType>().value(i);
            chrono::DateTime::from_timestamp_micros(us).unwrap().format(peergrid::output::recorder::TIME_UTC_FORMAT).to_string() == text
        }
        DataType::Boolean => (if array.as_boolean().value(i) { "true" } else { "false" }) == text,
        other => panic!("{}: unexpected type {other}", field.name()),
    }
}

/// Asserts that `dir/NAME.parquet` holds `dir/NAME.csv`'s columns and rows; returns the rows.
fn assert_parquet_equals_csv(dir: &Path, name: &str) -> usize {
    let batches = read_parquet(&dir.join(format!("{name}.parquet")));
    let mut csv = csv::Reader::from_path(dir.join(format!("{name}.csv"))).unwrap();
    let header: Vec<String> = csv.headers().unwrap().iter().map(String::from).collect();
    let schema = batches.first().map(|b| b.schema()).expect("at least one batch");
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, header, "{name}: Parquet's columns are the CSV's, in order");
    let mut records = csv.records();
    let mut rows = 0;
    for batch in &batches {
        for i in 0..batch.num_rows() {
            let record = records.next().unwrap_or_else(|| panic!("{name}: more rows in Parquet than in the CSV")).unwrap();
            for (c, field) in schema.fields().iter().enumerate() {
                let text = &record[c];
                assert!(same_as_csv(field, batch.column(c).as_ref(), i, text), "{name} row {rows} column {}: Parquet {:?} ≠ CSV {text:?}", field.name(), batch.column(c).slice(i, 1));
            }
            rows += 1;
        }
    }
    assert!(records.next().is_none(), "{name}: more rows in the CSV than in Parquet");
    rows
}

#[test]
fn every_parquet_file_equals_its_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let both = tmp.path().join("both");
    // Two days of the village: trades, batteries, money, a grid tariff, every table.
    run_ok(&scenario("village.ron"), &both, &["--steps", "192", "--format", "both", "--household-series"]);
    let count = |name: &str| assert_parquet_equals_csv(&both, name);
    assert_eq!(count("timeseries"), 192);
    assert!(count("trades") > 1000);
    assert_eq!(count("households"), 150);
    assert!(count("lines") > 100);
    assert_eq!(count("household_timeseries"), 150 * 192);

    // Types chosen for analysis (docs/outputs.md).
    let schema = |name: &str| read_parquet(&both.join(format!("{name}.parquet")))[0].schema();
    let households = schema("households");
    let bill = households.field_with_name("bill").unwrap();
    assert_eq!(bill.data_type(), &DataType::Int64);
    assert_eq!(bill.metadata().get("unit").map(String::as_str), Some("AUD micro-units"));
    assert!(matches!(households.field_with_name("household").unwrap().data_type(), DataType::Dictionary(_, _)));
    assert_eq!(households.field_with_name("synthetic").unwrap().data_type(), &DataType::Boolean);
    let ts = schema("timeseries");
    assert_eq!(ts.field_with_name("time_utc").unwrap().data_type(), &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())));
    assert_eq!(ts.field_with_name("time").unwrap().data_type(), &DataType::Utf8);
    assert_eq!(ts.field_with_name("buy_price").unwrap().metadata().get("unit").map(String::as_str), Some("AUD micro-units per kWh"));
    assert_eq!(schema("household_timeseries").field_with_name("pv_kwh").unwrap().data_type(), &DataType::Float32);

    // `--format parquet`: the same Parquet files, byte for byte, and no trades.csv (the small
    // CSVs the report is built from stay).
    let parquet = tmp.path().join("parquet");
    run_ok(&scenario("village.ron"), &parquet, &["--steps", "192", "--format", "parquet", "--household-series"]);
    for name in ["timeseries", "trades", "households", "lines", "household_timeseries"] {
        let file = format!("{name}.parquet");
        assert_eq!(std::fs::read(both.join(&file)).unwrap(), std::fs::read(parquet.join(&file)).unwrap(), "{file}");
    }
    assert!(!parquet.join("trades.csv").exists() && !parquet.join("household_timeseries.csv").exists());
    for kept in ["timeseries.csv", "households.csv", "lines.csv", "report.html"] {
        assert!(parquet.join(kept).is_file(), "{kept}");
    }
    // `verify` checks the ledger against trades.parquet when there is no trades.csv.
    let o = peergrid(&["verify", parquet.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("trades.parquet matches the ledger"), "{}", stdout(&o));
}

#[test]
fn compare_and_sweep_tables_in_parquet() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let street = scenario("street.ron");
    let o = peergrid(&["compare", street.to_str().unwrap(), "--rules", "double-auction,grid-only", "--steps", "48", "--format", "parquet", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(assert_parquet_equals_csv(&out, "compare"), 2);

    let sweep = tmp.path().join("s.ron");
    std::fs::write(&sweep, format!("(scenario: {:?}, steps: 24, axes: [(set: \"market.rule\", values: [\"double-auction\", \"grid-only\"])], seeds: 2)", street.to_str().unwrap())).unwrap();
    let out = tmp.path().join("sweep");
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--format", "both", "--quiet", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(assert_parquet_equals_csv(&out, "sweep"), 4);

    // An axis named like a fixed column (`seed`) is still a column of its own, of text.
    std::fs::write(&sweep, format!("(scenario: {:?}, steps: 8, axes: [(set: \"seed\", values: [3, 4])])", street.to_str().unwrap())).unwrap();
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--format", "parquet", "--quiet", "--force", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(assert_parquet_equals_csv(&out, "sweep"), 2);
}

/// The scenario's own `format` and `household_series` fields, here set with `--set`, and the
/// summary saying what was written.
#[test]
fn the_scenario_chooses_the_format() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    run_ok(&scenario("street.ron"), &out, &["--steps", "8", "--set", "format=Parquet", "--set", "household_series=true"]);
    for file in ["timeseries.parquet", "trades.parquet", "households.parquet", "lines.parquet", "household_timeseries.parquet", "timeseries.csv"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    assert!(!out.join("trades.csv").exists());
    let s = summary(&out);
    assert_eq!((s["format"].as_str(), s["household_series"].as_bool()), (Some("parquet"), Some(true)));
}

/// A run killed outright mid-way leaves its staging folder, whose Parquet files have no footer:
/// no reader takes them as complete, and the destination folder does not exist.
#[test]
fn a_killed_run_leaves_no_parquet_file_that_looks_complete() {
    let tmp = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(scenario("district-10k.ron")).unwrap().replace("duration_days: 7", "duration_days: 365");
    let scen = tmp.path().join("year.ron");
    std::fs::write(&scen, text).unwrap();
    let out = tmp.path().join("year");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peergrid"))
        .args(["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet", "--format", "parquet", "--household-series", "--ledger", "head-only"])
        .spawn()
        .unwrap();
    // Until the series has written its first row group (10,000 rows a step).
    let started = std::time::Instant::now();
    let partial = || std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().path()).find(|p| p.file_name().unwrap().to_string_lossy().starts_with(".year.partial-"));
    while started.elapsed() < std::time::Duration::from_secs(120) {
        if partial().is_some_and(|p| std::fs::metadata(p.join("household_timeseries.parquet")).is_ok_and(|m| m.len() > 0)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(std::process::Command::new("kill").args(["-KILL", &child.id().to_string()]).status().unwrap().success());
    child.wait().unwrap();
    assert!(!out.exists(), "the destination appears only when the run is complete");
    let staging = partial().expect("a run killed outright leaves its staging folder");
    let mut seen = 0;
    for entry in std::fs::read_dir(&staging).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "parquet") {
            let file = std::fs::File::open(&path).unwrap();
            assert!(ParquetRecordBatchReaderBuilder::try_new(file).is_err(), "{} reads as a complete Parquet file", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 2, "the streamed tables were open");
    assert!(std::fs::metadata(staging.join("household_timeseries.parquet")).unwrap().len() > 0, "the kill came after the first row group");
}

/// Runs with cars or heat pumps add their columns to the household series (empty for houses
/// without one), Parquet equal to the CSV, and the households' rows sum to `timeseries`.
#[test]
fn the_household_series_carries_cars_and_heat_pumps() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, extra) in [("electric-street.ron", &["ev_soc_kwh", "ev_plugged", "ev_charge_kwh", "ev_discharge_kwh"][..]), ("heated-street.ron", &["heat_pump_kwh", "heat_pump_cooling", "indoor_c"][..])] {
        let out = tmp.path().join(name);
        run_ok(&scenario(name), &out, &["--steps", "96", "--format", "both", "--household-series"]);
        assert_eq!(assert_parquet_equals_csv(&out, "household_timeseries"), 12 * 96);
        let mut series = csv::Reader::from_path(out.join("household_timeseries.csv")).unwrap();
        let header: Vec<String> = series.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(&header[8..], extra, "{name}: the devices' columns follow the eight of every run");
        let col = |c: &str| header.iter().position(|h| h == c).unwrap();
        // Per step: (what the devices drew, how many cars plugged in or pumps running).
        let mut per_step = vec![(0.0f64, 0u64); 96];
        let (mut with, mut without) = (0, 0);
        for rec in series.records() {
            let rec = rec.unwrap();
            let step: usize = rec[col("step")].parse().unwrap();
            if rec[col(extra[0])].is_empty() {
                assert!(extra.iter().all(|c| rec[col(c)].is_empty()), "{name}: a house without the device has none of its columns");
                without += 1;
                continue;
            }
            with += 1;
            let (kwh, flag) = if extra[0] == "ev_soc_kwh" { (rec[col("ev_charge_kwh")].parse::<f64>().unwrap(), rec[col("ev_plugged")].parse::<u64>().unwrap()) } else {
                let kwh: f64 = rec[col("heat_pump_kwh")].parse().unwrap();
                assert!(["0", "1"].contains(&&rec[col("heat_pump_cooling")]));
                let indoor: f64 = rec[col("indoor_c")].parse().unwrap();
                assert!((5.0..40.0).contains(&indoor), "{name}: indoor {indoor} °C");
                (kwh, u64::from(kwh > 0.0))
            };
            assert!(flag <= 1 && kwh >= 0.0);
            per_step[step].0 += kwh;
            per_step[step].1 += flag;
        }
        assert!(with > 0 && without > 0, "{name}: houses with and without the device");
        let mut ts = csv::Reader::from_path(out.join("timeseries.csv")).unwrap();
        let ts_header: Vec<String> = ts.headers().unwrap().iter().map(String::from).collect();
        let (kwh_col, count_col) = if extra[0] == "ev_soc_kwh" { ("ev_kwh", "ev_plugged") } else { ("heat_pump_kwh", "heat_pumps_running") };
        let tc = |c: &str| ts_header.iter().position(|h| h == c).unwrap();
        for (step, rec) in ts.records().enumerate() {
            let rec = rec.unwrap();
            let total: f64 = rec[tc(kwh_col)].parse().unwrap();
            assert!((total - per_step[step].0).abs() <= 1e-5 * total.max(1.0), "{name} step {step}: {kwh_col} {total} against the houses' {}", per_step[step].0);
            assert_eq!(rec[tc(count_col)].parse::<u64>().unwrap(), per_step[step].1, "{name} step {step}: {count_col}");
        }
    }
    // Without either device, the series keeps its eight columns.
    let village = tmp.path().join("village");
    run_ok(&scenario("village.ron"), &village, &["--steps", "4", "--household-series"]);
    let mut series = csv::Reader::from_path(village.join("household_timeseries.csv")).unwrap();
    assert_eq!(series.headers().unwrap().len(), 8);
}
