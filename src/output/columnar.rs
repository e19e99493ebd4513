//! Tables written as rows of typed cells, to CSV, to Parquet, or to both: one row-building code
//! per table, so a Parquet file holds exactly what its CSV says.
//!
//! Parquet types, chosen for analysis (see `docs/outputs.md`): counts and steps `int64`; energies
//! and prices `float64` (the per-household series `float32`); money `int64` micro-units with the
//! unit in the field's metadata (`unit`, `scale`); UTC time `timestamp[us, tz=UTC]` beside the
//! local time as text; household, node and source ids dictionary-encoded (pandas reads them as
//! categories). A table is streamed in batches of [`BATCH_ROWS`] rows into row groups of
//! [`ROW_GROUP_ROWS`], so memory stays flat however long the run; the footer is written by
//! [`TableSink::finish`] alone, so a file cut short never reads as complete.

use crate::base::money::Micros;
pub use crate::scenario::TableFormat;
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

/// Rows gathered before they are handed to the Parquet encoder.
pub const BATCH_ROWS: usize = 64 * 1024;
/// Rows per Parquet row group (what a reader loads at once).
pub const ROW_GROUP_ROWS: usize = 1024 * 1024;

/// A column's type in Parquet (its CSV text is the cell's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// `int64`: steps, counts.
    Int,
    /// `uint64`: seeds.
    UInt,
    /// `float64`.
    Float,
    /// `float32` (the per-household series: half the size, 7 significant digits).
    Float32,
    /// `int64` micro-units of the currency.
    Money,
    /// `int64` micro-units of the currency per kWh.
    MoneyPerKwh,
    /// `utf8`.
    Text,
    /// `dictionary<int32, utf8>`: ids that repeat (households, nodes, sources).
    Id,
    /// `timestamp[us, tz=UTC]`.
    Utc,
    /// `bool`.
    Bool,
}

/// A table's columns: names (the CSV header) and Parquet types.
pub struct TableSchema {
    pub columns: Vec<(String, ColumnType)>,
    /// Per column: the fixed values of an `Id` column whose cells are [`Cell::Key`]s into them
    /// (no lookup of the text per row: the bulk tables' household ids).
    values: Vec<Option<Arc<StringArray>>>,
    /// Per column: whether it may hold nulls (empty CSV cells).
    nullable: Vec<bool>,
}

impl TableSchema {
    pub fn new<S: AsRef<str>>(names: &[S], kind: impl Fn(&str) -> ColumnType) -> TableSchema {
        Self::from_columns(names.iter().map(|n| (n.as_ref().to_string(), kind(n.as_ref()))).collect())
    }

    pub fn from_columns(columns: Vec<(String, ColumnType)>) -> TableSchema {
        let values = vec![None; columns.len()];
        let nullable = vec![true; columns.len()];
        TableSchema { columns, values, nullable }
    }

    /// Every column but those in `nullable` always has a value: Parquet marks them required
    /// (no definition levels to write or read).
    pub fn required_except(mut self, nullable: &[&str]) -> TableSchema {
        for (n, (column, _)) in self.nullable.iter_mut().zip(&self.columns) {
            *n = nullable.contains(&column.as_str());
        }
        self
    }

    /// The `Id` column `name` takes [`Cell::Key`]s into `values`.
    pub fn with_values<S: AsRef<str>>(mut self, name: &str, values: &[S]) -> TableSchema {
        let values = Arc::new(StringArray::from_iter_values(values.iter().map(|v| v.as_ref())));
        for (slot, (column, _)) in self.values.iter_mut().zip(&self.columns) {
            if column == name {
                *slot = Some(values.clone());
            }
        }
        self
    }

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

/// One value of a row, with its CSV text and its Parquet value.
#[derive(Debug, Clone, Copy)]
pub enum Cell<'a> {
    /// The `k`-th of an `Id` column's fixed values ([`TableSchema::with_values`]).
    Key(u32),
    Int(i64),
    UInt(u64),
    /// Written as the shortest decimal that reads back to the same `f64`.
    Float(f64),
    /// Written as the shortest decimal that reads back to the same `f32`.
    F32(f32),
    /// Written with this many decimals; Parquet holds the value of that text.
    Fixed(f64, usize),
    Money(Micros),
    Text(&'a str),
    /// A UTC instant, µs since 1970, and its CSV text.
    Utc(i64, &'a str),
    Bool(bool),
    /// An empty CSV field, a Parquet null.
    Null,
}

impl Cell<'_> {
    /// `Float(v)`, or `Null` for `None`.
    pub fn opt(v: Option<f64>) -> Cell<'static> {
        v.map_or(Cell::Null, Cell::Float)
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
        let builders = schema.columns.iter().zip(&schema.values).map(|(&(_, kind), values)| Builder::new(kind, values.as_ref())).collect();
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

/// Appends `cell`'s CSV text as the next field of `w`; `values`: the column's fixed values, for
/// a [`Cell::Key`].
pub fn write_csv_cell<W: std::io::Write>(w: &mut csv::Writer<W>, buf: &mut String, cell: Cell, values: Option<&StringArray>) -> csv::Result<()> {
    match cell {
        Cell::Key(k) => match values.filter(|v| (k as usize) < v.len()) {
            Some(v) => w.write_field(v.value(k as usize)),
            None => Err(std::io::Error::other(format!("key {k} of a column without that many values")).into()),
        },
        Cell::Int(v) => w.write_field(itoa::Buffer::new().format(v)),
        Cell::UInt(v) => w.write_field(itoa::Buffer::new().format(v)),
        Cell::Float(v) => {
            buf.clear();
            let _ = write!(buf, "{v}");
            w.write_field(buf.as_bytes())
        }
        Cell::F32(v) => {
            buf.clear();
            let _ = write!(buf, "{v}");
            w.write_field(buf.as_bytes())
        }
        Cell::Fixed(v, digits) => {
            buf.clear();
            let _ = write!(buf, "{v:.digits$}");
            w.write_field(buf.as_bytes())
        }
        Cell::Money(m) => {
            buf.clear();
            m.write_decimal(buf);
            w.write_field(buf.as_bytes())
        }
        Cell::Text(s) | Cell::Utc(_, s) => w.write_field(s),
        Cell::Bool(v) => w.write_field(if v { "true" } else { "false" }),
        Cell::Null => w.write_field(""),
    }
}

/// A table written as CSV, Parquet or both, one row at a time. Its errors name the file
/// ("writing trades.parquet: …").
pub struct TableSink {
    name: String,
    values: Vec<Option<Arc<StringArray>>>,
    csv: Option<csv::Writer<BufWriter<File>>>,
    parquet: Option<ParquetTable>,
    buf: String,
}

/// `e` with the file it happened to: "writing NAME.EXT: e".
fn in_file(name: &str, ext: &str) -> impl Fn(std::io::Error) -> std::io::Error {
    move |e| std::io::Error::new(e.kind(), format!("writing {name}.{ext}: {e}"))
}

impl TableSink {
    /// Creates `dir/NAME.csv` and/or `dir/NAME.parquet` (by `csv` and `parquet`) and writes the
    /// CSV header.
    pub fn create(dir: &Path, name: &str, schema: &TableSchema, csv: bool, parquet: bool, currency: &str, dictionary: &[&str]) -> std::io::Result<TableSink> {
        let csv = match csv {
            true => {
                let open = || -> std::io::Result<_> {
                    let mut w = csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 16, File::create(dir.join(format!("{name}.csv")))?));
                    w.write_record(schema.columns.iter().map(|c| c.0.as_str()))?;
                    Ok(w)
                };
                Some(open().map_err(in_file(name, "csv"))?)
            }
            false => None,
        };
        let parquet = match parquet {
            true => Some(ParquetTable::create(&dir.join(format!("{name}.parquet")), schema, currency, dictionary).map_err(in_file(name, "parquet"))?),
            false => None,
        };
        Ok(TableSink { name: name.to_string(), values: schema.values.clone(), csv, parquet, buf: String::new() })
    }

    pub fn push(&mut self, row: &[Cell]) -> std::io::Result<()> {
        if let Some(w) = &mut self.csv {
            let mut written = || -> csv::Result<()> {
                for (&cell, values) in row.iter().zip(&self.values) {
                    write_csv_cell(w, &mut self.buf, cell, values.as_deref())?;
                }
                w.write_record(None::<&[u8]>)
            };
            written().map_err(|e| in_file(&self.name, "csv")(e.into()))?;
        }
        if let Some(p) = &mut self.parquet {
            p.push(row).map_err(in_file(&self.name, "parquet"))?;
        }
        Ok(())
    }

    /// Flushes the CSV and completes the Parquet file.
    pub fn finish(self) -> std::io::Result<()> {
        if let Some(mut w) = self.csv {
            w.flush().map_err(in_file(&self.name, "csv"))?;
        }
        match self.parquet {
            Some(p) => p.finish().map_err(in_file(&self.name, "parquet")),
            None => Ok(()),
        }
    }
}

/// The money columns' currency label in Parquet metadata ("currency" when the scenario names none).
pub fn currency_label(currency: Option<&str>) -> &str {
    currency.unwrap_or("currency")
}
