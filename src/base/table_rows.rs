//! A written table read back as rows of text, whether it was written as CSV or as Parquet
//! (`output::columnar`): each Parquet value is rendered as the CSV writer writes it (money as
//! its six-place decimal, UTC time as `time_utc`'s text, nulls empty, numbers as the shortest
//! decimal), so a checker of a run's files reads either. Columns the CSV writes with fixed
//! places (`clearing_price`, `lines.csv`'s flows) come back with the same value in shortest form.

use crate::base::money::Micros;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

/// The text of UTC times (`time_utc`): ISO 8601 in UTC, one zone for the whole file.
pub const TIME_UTC_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

enum Source {
    Csv(csv::StringRecordsIntoIter<File>),
    Parquet { reader: ParquetRecordBatchReader, batch: Option<RecordBatch>, row: usize, money: Vec<bool> },
}

/// The rows of a CSV or Parquet table, as text.
pub struct TableRows {
    pub header: Vec<String>,
    source: Source,
    buf: String,
}

impl TableRows {
    /// Opens `path`: Parquet when it ends in `.parquet`, else CSV.
    pub fn open(path: &Path) -> Result<TableRows, String> {
        if path.extension().is_some_and(|e| e == "parquet") {
            let file = File::open(path).map_err(|e| e.to_string())?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format!("not a complete Parquet file: {e}"))?;
            let schema = builder.schema().clone();
            let header = schema.fields().iter().map(|f| f.name().clone()).collect();
            let money = schema.fields().iter().map(|f| f.metadata().contains_key("unit")).collect();
            let reader = builder.build().map_err(|e| e.to_string())?;
            Ok(TableRows { header, source: Source::Parquet { reader, batch: None, row: 0, money }, buf: String::new() })
        } else {
            let mut r = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
            let header = r.headers().map_err(|e| format!("cannot read the header: {e}"))?.iter().map(String::from).collect();
            Ok(TableRows { header, source: Source::Csv(r.into_records()), buf: String::new() })
        }
    }
}

/// Appends the CSV text of `array[i]` to `out`.
fn render(array: &dyn Array, i: usize, money: bool, out: &mut String) -> Result<(), String> {
    if array.is_null(i) {
        return Ok(());
    }
    match array.data_type() {
        DataType::Int64 if money => Micros(array.as_primitive::<Int64Type>().value(i)).write_decimal(out),
        DataType::Int64 => out.push_str(itoa::Buffer::new().format(array.as_primitive::<Int64Type>().value(i))),
        DataType::UInt64 => out.push_str(itoa::Buffer::new().format(array.as_primitive::<UInt64Type>().value(i))),
        DataType::Float64 => write!(out, "{}", array.as_primitive::<Float64Type>().value(i)).map_err(|e| e.to_string())?,
        DataType::Float32 => write!(out, "{}", array.as_primitive::<Float32Type>().value(i)).map_err(|e| e.to_string())?,
        DataType::Utf8 => out.push_str(array.as_string::<i32>().value(i)),
        DataType::Dictionary(key, value) if **key == DataType::Int32 && **value == DataType::Utf8 => {
            let d = array.as_dictionary::<Int32Type>();
            out.push_str(d.values().as_string::<i32>().value(d.keys().value(i) as usize));
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let us = array.as_primitive::<TimestampMicrosecondType>().value(i);
            let t = chrono::DateTime::from_timestamp_micros(us).ok_or_else(|| format!("time {us} µs is out of range"))?;
            write!(out, "{}", t.format(TIME_UTC_FORMAT)).map_err(|e| e.to_string())?;
        }
        DataType::Boolean => out.push_str(if array.as_boolean().value(i) { "true" } else { "false" }),
        other => return Err(format!("a column of type {other}, which peergrid does not write")),
    }
    Ok(())
}

impl Iterator for TableRows {
    type Item = Result<csv::StringRecord, String>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Csv(rows) => rows.next().map(|r| r.map_err(|e| e.to_string())),
            Source::Parquet { reader, batch, row, money } => {
                while batch.as_ref().is_none_or(|b| *row >= b.num_rows()) {
                    match reader.next()? {
                        Ok(b) => {
                            *batch = Some(b);
                            *row = 0;
                        }
                        Err(e) => return Some(Err(e.to_string())),
                    }
                }
                let b = batch.as_ref()?;
                let mut record = csv::StringRecord::with_capacity(64, b.num_columns());
                for (c, column) in b.columns().iter().enumerate() {
                    self.buf.clear();
                    if let Err(e) = render(column.as_ref(), *row, money[c], &mut self.buf) {
                        return Some(Err(e));
                    }
                    record.push_field(&self.buf);
                }
                *row += 1;
                Some(Ok(record))
            }
        }
    }
}
