//! Readers of measured data a scenario refers to: Ausgrid's solar homes, daily solar exposure,
//! typical years (TMY3, EPW, PVGIS), irradiance series, grid price series and per-household
//! profile files.

pub mod ausgrid;
pub mod emissions;
pub mod epw;
pub mod exposure;
pub mod irradiance_csv;
pub mod opendss;
pub mod pandapower;
pub mod prices;
pub mod profile;
pub mod pvgis;
pub mod tmy3;

use crate::base::error::{InputError, Location};
use std::path::Path;

/// Reads the next record of `r` into `rec`: its line, or `None` at the end of the file. A
/// malformed record is an error naming the file and line.
pub fn next_record<R: std::io::Read>(r: &mut csv::Reader<R>, rec: &mut csv::StringRecord, path: &Path) -> Result<Option<u64>, InputError> {
    match r.read_record(rec) {
        Ok(false) => Ok(None),
        Ok(true) => Ok(Some(rec.position().map_or(0, |p| p.line()))),
        Err(e) => Err(InputError { file: path.into(), location: Location::Row { line: r.position().line(), field: "row".into() }, message: e.to_string() }),
    }
}
