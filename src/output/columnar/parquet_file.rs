//! The Parquet side of [`super`]: a table's rows gathered into Arrow arrays and streamed to a
//! Parquet file by an encoder thread (built with the default feature `parquet`).

use super::{Cell, ColumnType, TableSchema, BATCH_ROWS, ROW_GROUP_ROWS};
use arrow_array::builder::{BooleanBuilder, Float32Builder, Float64Builder, Int32Builder, Int64Builder, StringBuilder, StringDictionaryBuilder, TimestampMicrosecondBuilder, UInt64Builder};
use arrow_array::types::Int32Type;
use arrow_array::{Array, ArrayRef, DictionaryArray, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::sync::Arc;

impl TableSchema {
    fn arrow(&self, currency: &str) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .zip(&self.nullable)
            .map(|((name, kind), &nullable)| {
                let (data_type, unit) = match *kind {
                    ColumnType::Int => (DataType::Int64, None),
                    ColumnType::UInt => (DataType::UInt64, None),
                    ColumnType::Float => (DataType::Float64, None),
                    ColumnType::Float32 => (DataType::Float32, None),
                    ColumnType::Money => (DataType::Int64, Some(format!("{currency} micro-units"))),
                    ColumnType::MoneyPerKwh => (DataType::Int64, Some(format!("{currency} micro-units per kWh"))),
                    ColumnType::Text => (DataType::Utf8, None),
                    ColumnType::Id => (DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)), None),
                    ColumnType::Utc => (DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), None),
                    ColumnType::Bool => (DataType::Boolean, None),
                };
                let field = Field::new(name, data_type, nullable);
                match unit {
                    Some(unit) => field.with_metadata(HashMap::from([("unit".to_string(), unit), ("scale".to_string(), "1e-6".to_string())])),
                    None => field,
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// A column being gathered for the next batch.
enum Builder {
    Keyed(Int32Builder, Arc<StringArray>),
    Int(Int64Builder),
    UInt(UInt64Builder),
    Float(Float64Builder),
    Float32(Float32Builder),
    Money(Int64Builder),
    Text(StringBuilder),
    Id(StringDictionaryBuilder<Int32Type>),
    Utc(TimestampMicrosecondBuilder),
    Bool(BooleanBuilder),
}

impl Builder {
    /// A builder with room for a whole batch (no regrowing while it fills).
    fn new(kind: ColumnType, values: Option<&Arc<StringArray>>) -> Builder {
        const N: usize = BATCH_ROWS;
        match (kind, values) {
            (ColumnType::Id, Some(values)) => Builder::Keyed(Int32Builder::with_capacity(N), values.clone()),
            (ColumnType::Int, _) => Builder::Int(Int64Builder::with_capacity(N)),
            (ColumnType::UInt, _) => Builder::UInt(UInt64Builder::with_capacity(N)),
            (ColumnType::Float, _) => Builder::Float(Float64Builder::with_capacity(N)),
            (ColumnType::Float32, _) => Builder::Float32(Float32Builder::with_capacity(N)),
            (ColumnType::Money | ColumnType::MoneyPerKwh, _) => Builder::Money(Int64Builder::with_capacity(N)),
            (ColumnType::Text, _) => Builder::Text(StringBuilder::new()),
            (ColumnType::Id, None) => Builder::Id(StringDictionaryBuilder::new()),
            (ColumnType::Utc, _) => Builder::Utc(TimestampMicrosecondBuilder::with_capacity(N).with_timezone("UTC")),
            (ColumnType::Bool, _) => Builder::Bool(BooleanBuilder::new()),
        }
    }

    /// Appends `cell`; a cell of another kind than the column's is a bug in the table's code.
    fn push(&mut self, cell: Cell, buf: &mut String) -> Result<(), String> {
        match (self, cell) {
            (b, Cell::Null) => b.push_null(),
            (Builder::Keyed(b, values), Cell::Key(k)) if (k as usize) < values.len() => b.append_value(k as i32),
            (Builder::Int(b), Cell::Int(v)) => b.append_value(v),
            (Builder::UInt(b), Cell::UInt(v)) => b.append_value(v),
            (Builder::Float(b), Cell::Float(v)) => b.append_value(v),
            (Builder::Float(b), Cell::Fixed(v, digits)) => b.append_value(fixed_value(v, digits, buf)),
            (Builder::Float32(b), Cell::F32(v)) => b.append_value(v),
            (Builder::Money(b), Cell::Money(m)) => b.append_value(m.0),
            (Builder::Text(b), Cell::Text(s)) => b.append_value(s),
            (Builder::Id(b), Cell::Text(s)) => {
                b.append(s).map_err(|e| e.to_string())?;
            }
            (Builder::Utc(b), Cell::Utc(us, _)) => b.append_value(us),
            (Builder::Bool(b), Cell::Bool(v)) => b.append_value(v),
            (_, cell) => return Err(format!("a {cell:?} cell in a column of another type")),
        }
        Ok(())
    }

    fn push_null(&mut self) {
        match self {
            Builder::Keyed(b, _) => b.append_null(),
            Builder::Int(b) | Builder::Money(b) => b.append_null(),
            Builder::UInt(b) => b.append_null(),
            Builder::Float(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Text(b) => b.append_null(),
            Builder::Id(b) => b.append_null(),
            Builder::Utc(b) => b.append_null(),
            Builder::Bool(b) => b.append_null(),
        }
    }

    /// The batch's array; the builder is left empty, with room for the next batch.
    fn finish(&mut self) -> ArrayRef {
        const N: usize = BATCH_ROWS;
        match self {
            Builder::Keyed(b, values) => {
                let keys = std::mem::replace(b, Int32Builder::with_capacity(N)).finish();
                // Keys were checked against the values as they came.
                Arc::new(DictionaryArray::<Int32Type>::new(keys, values.clone() as ArrayRef))
            }
            Builder::Int(b) | Builder::Money(b) => Arc::new(std::mem::replace(b, Int64Builder::with_capacity(N)).finish()),
            Builder::UInt(b) => Arc::new(std::mem::replace(b, UInt64Builder::with_capacity(N)).finish()),
            Builder::Float(b) => Arc::new(std::mem::replace(b, Float64Builder::with_capacity(N)).finish()),
            Builder::Float32(b) => Arc::new(std::mem::replace(b, Float32Builder::with_capacity(N)).finish()),
            Builder::Text(b) => Arc::new(b.finish()),
            Builder::Id(b) => Arc::new(b.finish()),
            Builder::Utc(b) => Arc::new(std::mem::replace(b, TimestampMicrosecondBuilder::with_capacity(N).with_timezone("UTC")).finish()),
            Builder::Bool(b) => Arc::new(b.finish()),
        }
    }
}

/// The value of `v` written with `digits` decimals, as a reader of the CSV gets it.
fn fixed_value(v: f64, digits: usize, buf: &mut String) -> f64 {
    buf.clear();
    let _ = write!(buf, "{v:.digits$}");
    buf.parse().unwrap_or(v)
}

/// Batches in flight between a table and its encoding thread: bounds memory.
const BATCHES_IN_FLIGHT: usize = 2;

/// A Parquet file being streamed: rows gathered here, encoded and compressed on a thread of its
/// own (while the simulation goes on), in the order they came.
pub struct ParquetTable {
    /// Batches for the encoder; `None` sent last asks for the footer (a table dropped without
    /// [`ParquetTable::finish`] leaves a file without one, which no reader takes as complete).
    batches: Option<std::sync::mpsc::SyncSender<Option<RecordBatch>>>,
    encoder: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    schema: SchemaRef,
    builders: Vec<Builder>,
    rows: usize,
    buf: String,
}

impl ParquetTable {
    /// Creates `path` for `schema`, money in `currency`. `dictionary`: the columns whose values
    /// repeat enough for dictionary encoding besides the ids (for example the step of a
    /// per-household series).
    pub fn create(path: &Path, schema: &TableSchema, currency: &str, dictionary: &[&str]) -> std::io::Result<ParquetTable> {
        let arrow = schema.arrow(currency);
        // Dictionary encoding only where values repeat: on floats it is built, found too large
        // and dropped for every page, at a cost.
        let mut props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(false)
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_created_by(format!("peergrid {}", env!("CARGO_PKG_VERSION")));
        for (name, kind) in &schema.columns {
            if *kind == ColumnType::Id || dictionary.contains(&name.as_str()) {
                props = props.set_column_dictionary_enabled(ColumnPath::from(name.as_str()), true);
            }
        }
        let file = BufWriter::with_capacity(1 << 20, File::create(path)?);
        let mut writer = ArrowWriter::try_new(file, arrow.clone(), Some(props.build())).map_err(std::io::Error::other)?;
        let (batches, received) = std::sync::mpsc::sync_channel::<Option<RecordBatch>>(BATCHES_IN_FLIGHT);
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let encoder = std::thread::Builder::new().name(format!("parquet {name}")).spawn(move || -> std::io::Result<()> {
            for batch in received {
                match batch {
                    Some(batch) => writer.write(&batch).map_err(std::io::Error::other)?,
                    None => {
                        let mut file = writer.into_inner().map_err(std::io::Error::other)?;
                        return std::io::Write::flush(&mut file);
                    }
                }
            }
            Ok(())
        })?;
        let arrays: Vec<Option<Arc<StringArray>>> = schema.values.iter().map(|v| v.as_ref().map(|v| Arc::new(StringArray::from_iter_values(v.iter())))).collect();
        let builders = schema.columns.iter().zip(&arrays).map(|(&(_, kind), values)| Builder::new(kind, values.as_ref())).collect();
        Ok(ParquetTable { batches: Some(batches), encoder: Some(encoder), schema: arrow, builders, rows: 0, buf: String::new() })
    }

    pub fn push(&mut self, row: &[Cell]) -> std::io::Result<()> {
        debug_assert_eq!(row.len(), self.builders.len());
        for (b, &cell) in self.builders.iter_mut().zip(row) {
            b.push(cell, &mut self.buf).map_err(std::io::Error::other)?;
        }
        self.rows += 1;
        if self.rows == BATCH_ROWS {
            self.send_batch()?;
        }
        Ok(())
    }

    fn send_batch(&mut self) -> std::io::Result<()> {
        if self.rows == 0 {
            return Ok(());
        }
        let columns: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(self.schema.clone(), columns).map_err(std::io::Error::other)?;
        self.rows = 0;
        self.send(Some(batch))
    }

    fn send(&mut self, message: Option<RecordBatch>) -> std::io::Result<()> {
        match self.batches.as_ref().map(|b| b.send(message)) {
            Some(Ok(())) => Ok(()),
            // The encoder stopped: its error says why.
            _ => Err(self.join().err().unwrap_or_else(|| std::io::Error::other("the Parquet encoder stopped"))),
        }
    }

    /// Ends the encoder's input and waits for it.
    fn join(&mut self) -> std::io::Result<()> {
        self.batches = None;
        match self.encoder.take().map(|h| h.join()) {
            Some(Ok(result)) => result,
            Some(Err(panic)) => {
                let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
                Err(std::io::Error::other(format!("the Parquet encoder failed: {why}")))
            }
            None => Ok(()),
        }
    }

    /// Writes the last rows and the footer: only now is the file a readable Parquet file.
    pub fn finish(mut self) -> std::io::Result<()> {
        self.send_batch()?;
        self.send(None)?;
        self.join()
    }
}

impl Drop for ParquetTable {
    /// A table dropped unfinished (a failed or stopped run): the encoder ends without a footer,
    /// and is waited for, so it writes nothing once its folder is being removed.
    fn drop(&mut self) {
        let _ = self.join();
    }
}
