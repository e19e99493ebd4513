//! A written table read back as rows of text, whether it was written as CSV or as Parquet
//! (`output::columnar`): each Parquet value is rendered as the CSV writer writes it (money as
//! its six-place decimal, UTC time as `time_utc`'s text, nulls empty, numbers as the shortest
//! decimal), so a checker of a run's files reads either. Columns the CSV writes with fixed
//! places (`clearing_price`, `lines.csv`'s flows) come back with the same value in shortest form.

use std::fs::File;
use std::path::Path;

#[cfg(feature = "parquet")]
mod parquet_rows;

/// The text of UTC times (`time_utc`): ISO 8601 in UTC, one zone for the whole file.
pub const TIME_UTC_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

enum Source {
    Csv(csv::StringRecordsIntoIter<File>),
    #[cfg(feature = "parquet")]
    Parquet(parquet_rows::ParquetRows),
}

/// The rows of a CSV or Parquet table, as text.
pub struct TableRows {
    pub header: Vec<String>,
    source: Source,
}

impl TableRows {
    /// Opens `path`: Parquet when it ends in `.parquet`, else CSV.
    pub fn open(path: &Path) -> Result<TableRows, String> {
        #[cfg(not(feature = "parquet"))]
        if path.extension().is_some_and(|e| e == "parquet") {
            return Err("this peergrid was built without Parquet (the cargo feature `parquet`)".into());
        }
        #[cfg(feature = "parquet")]
        if path.extension().is_some_and(|e| e == "parquet") {
            let (header, rows) = parquet_rows::ParquetRows::open(path)?;
            return Ok(TableRows { header, source: Source::Parquet(rows) });
        }
        let mut r = csv::Reader::from_path(path).map_err(|e| e.to_string())?;
        let header = r.headers().map_err(|e| format!("cannot read the header: {e}"))?.iter().map(String::from).collect();
        Ok(TableRows { header, source: Source::Csv(r.into_records()) })
    }
}

impl Iterator for TableRows {
    type Item = Result<csv::StringRecord, String>;

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.source {
            Source::Csv(rows) => rows.next().map(|r| r.map_err(|e| e.to_string())),
            #[cfg(feature = "parquet")]
            Source::Parquet(rows) => rows.next_row(),
        }
    }
}
