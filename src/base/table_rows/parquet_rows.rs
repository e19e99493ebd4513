//! Parquet files read back as rows of text (built with the default feature `parquet`).

use super::TIME_UTC_FORMAT;
use crate::base::money::Micros;
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType, UInt64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;

/// A Parquet file's rows, a batch at a time.
pub struct ParquetRows {
    reader: ParquetRecordBatchReader,
    batch: Option<RecordBatch>,
    row: usize,
    /// Per column: money (integer micro-units written as a decimal).
    money: Vec<bool>,
    buf: String,
}

impl ParquetRows {
    /// Opens `path`; returns its header too.
    pub fn open(path: &Path) -> Result<(Vec<String>, ParquetRows), String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| format!("not a complete Parquet file: {e}"))?;
        let schema = builder.schema().clone();
        let header = schema.fields().iter().map(|f| f.name().clone()).collect();
        let money = schema.fields().iter().map(|f| f.metadata().contains_key("unit")).collect();
        let reader = builder.build().map_err(|e| e.to_string())?;
        Ok((header, ParquetRows { reader, batch: None, row: 0, money, buf: String::new() }))
    }

    pub fn next_row(&mut self) -> Option<Result<csv::StringRecord, String>> {
        while self.batch.as_ref().is_none_or(|b| self.row >= b.num_rows()) {
            match self.reader.next()? {
                Ok(b) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
                Err(e) => return Some(Err(e.to_string())),
            }
        }
        let b = self.batch.as_ref()?;
        let mut record = csv::StringRecord::with_capacity(64, b.num_columns());
        for (c, column) in b.columns().iter().enumerate() {
            self.buf.clear();
            if let Err(e) = render(column.as_ref(), self.row, self.money[c], &mut self.buf) {
                return Some(Err(e));
            }
            record.push_field(&self.buf);
        }
        self.row += 1;
        Some(Ok(record))
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
