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
//!
//! Parquet is behind the default cargo feature `parquet` (the arrow crates cost minutes to
//! build): without it, a table asked for in Parquet is an error naming the file.

use crate::base::money::Micros;
pub use crate::scenario::TableFormat;
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
    values: Vec<Option<Arc<[String]>>>,
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
        let values: Arc<[String]> = values.iter().map(|v| v.as_ref().to_string()).collect();
        for (slot, (column, _)) in self.values.iter_mut().zip(&self.columns) {
            if column == name {
                *slot = Some(values.clone());
            }
        }
        self
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

#[cfg(feature = "parquet")]
mod parquet_file;
#[cfg(feature = "parquet")]
pub use parquet_file::ParquetTable;

/// A build without the feature `parquet`: every Parquet table is refused.
#[cfg(not(feature = "parquet"))]
pub struct ParquetTable;

#[cfg(not(feature = "parquet"))]
impl ParquetTable {
    pub fn create(_path: &Path, _schema: &TableSchema, _currency: &str, _dictionary: &[&str]) -> std::io::Result<ParquetTable> {
        Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "this peergrid was built without Parquet (the cargo feature `parquet`)"))
    }

    pub fn push(&mut self, _row: &[Cell]) -> std::io::Result<()> {
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Appends `cell`'s CSV text as the next field of `w`; `values`: the column's fixed values, for
/// a [`Cell::Key`].
pub fn write_csv_cell<W: std::io::Write>(w: &mut csv::Writer<W>, buf: &mut String, cell: Cell, values: Option<&[String]>) -> csv::Result<()> {
    match cell {
        Cell::Key(k) => match values.and_then(|v| v.get(k as usize)) {
            Some(v) => w.write_field(v),
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
    values: Vec<Option<Arc<[String]>>>,
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
