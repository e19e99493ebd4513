//! Per-household profiles from a tidy CSV `household,step,load_kwh,pv_kwh` (one row per
//! household per step), so measured data or a paper's worked example can be replayed exactly.

use crate::base::error::{InputError, Location};
use crate::household::profile::ProfileSeries;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
struct Row {
    household: String,
    step: u64,
    load_kwh: f64,
    pv_kwh: f64,
}

/// One parsed profile file: household id → series.
pub type ProfileFile = BTreeMap<String, ProfileSeries>;

/// Reads a profile file, checking every row; `steps` is how many steps the run needs, and every
/// household in the file must cover steps `0..steps` exactly once.
pub fn read_profile_file(path: &Path, steps: u64) -> Result<ProfileFile, InputError> {
    let text = crate::base::input::read_text(path, "profile file", crate::base::input::MAX_DATA_FILE_BYTES)?;
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| InputError::file(path, format!("cannot read the header: {e}")))?.clone();
    for needed in ["household", "step", "load_kwh", "pv_kwh"] {
        if !headers.iter().any(|h| h == needed) {
            return Err(InputError::file(path, format!("missing column `{needed}` (need household,step,load_kwh,pv_kwh)")));
        }
    }
    // Rows are kept as read and laid out per household at the end, so memory follows the
    // file's size (a file of one row each for many households allocates no full series).
    let mut index: HashMap<String, u32> = HashMap::new();
    let mut rows: Vec<(u32, u64, f64, f64, u64)> = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, &headers, &e))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let row: Row = record.deserialize(Some(&headers)).map_err(|e| {
            let mut err = csv_error(path, &headers, &e);
            if let csv::ErrorKind::Deserialize { err: de, .. } = e.kind()
                && let Some(value) = de.field().and_then(|f| record.get(f as usize))
            {
                err.message = format!("`{value}` is not {}", if matches!(&err.location, Location::Row { field, .. } if field == "household") { "a household id" } else { "a number" });
            }
            err
        })?;
        let bad = |field: &str, msg: String| InputError { file: path.into(), location: Location::Row { line, field: field.into() }, message: msg };
        for (field, v) in [("load_kwh", row.load_kwh), ("pv_kwh", row.pv_kwh)] {
            if !v.is_finite() || v < 0.0 {
                return Err(bad(field, format!("must be a number ≥ 0, got {v}")));
            }
        }
        if row.step >= steps {
            continue; // rows past the run's end are allowed (a shorter run of a longer profile)
        }
        let next = index.len() as u32;
        let h = *index.entry(row.household).or_insert(next);
        rows.push((h, row.step, row.load_kwh, row.pv_kwh, line));
    }
    // By household, then step, then line: a step given twice is two neighbours, the later line
    // the one reported.
    rows.sort_unstable_by_key(|&(h, step, _, _, line)| (h, step, line));
    let mut by_index: Vec<Option<&String>> = vec![None; index.len()];
    for (id, &i) in &index {
        by_index[i as usize] = Some(id);
    }
    let mut out = BTreeMap::new();
    for household in rows.chunk_by(|a, b| a.0 == b.0) {
        let id = by_index[household[0].0 as usize].expect("every index has its id");
        let mut series = ProfileSeries { load_kwh: Vec::with_capacity(household.len()), pv_kwh: Vec::with_capacity(household.len()), ..Default::default() };
        for &(_, step, load_kwh, pv_kwh, line) in household {
            let expected = series.load_kwh.len() as u64;
            if step < expected {
                return Err(InputError { file: path.into(), location: Location::Row { line, field: "step".into() }, message: format!("household `{id}` has step {step} twice") });
            }
            if step > expected {
                return Err(InputError::file(path, format!("household `{id}` has no row for step {expected} (the run needs steps 0..{steps})")));
            }
            series.load_kwh.push(load_kwh);
            series.pv_kwh.push(pv_kwh);
        }
        if (series.load_kwh.len() as u64) < steps {
            return Err(InputError::file(path, format!("household `{id}` has no row for step {} (the run needs steps 0..{steps})", series.load_kwh.len())));
        }
        out.insert(id.clone(), series);
    }
    Ok(out)
}

/// A CSV error as the file, line and column it is about (the column by its header; a row
/// with too few fields names the first one missing).
fn csv_error(path: &Path, headers: &csv::StringRecord, e: &csv::Error) -> InputError {
    let column = |i: usize| headers.get(i).map_or_else(|| format!("column {}", i + 1), str::to_string);
    let line = e.position().map(|p| p.line()).unwrap_or(0);
    let (line, field, message) = match e.kind() {
        csv::ErrorKind::Deserialize { pos, err } => (pos.as_ref().map_or(line, |p| p.line()), err.field().map_or_else(|| "row".to_string(), |f| column(f as usize)), err.kind().to_string()),
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => {
            let line = pos.as_ref().map_or(line, |p| p.line());
            let field = if len < expected_len { column(*len as usize) } else { column(*expected_len as usize) };
            (line, field, format!("the row has {len} fields, the header {expected_len}"))
        }
        csv::ErrorKind::Utf8 { pos, err } => (pos.as_ref().map_or(line, |p| p.line()), column(err.field()), "is not valid UTF-8".to_string()),
        _ => (line, "row".to_string(), e.to_string()),
    };
    InputError { file: PathBuf::from(path), location: Location::Row { line, field }, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempdir::Dir, PathBuf) {
        let d = tempdir::Dir::new();
        let p = d.path().join("p.csv");
        std::fs::write(&p, text).unwrap();
        (d, p)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Self {
                static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
                let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let p = std::env::temp_dir().join(format!("peergrid-profile-test-{}-{n}", std::process::id()));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn reads_a_tidy_profile() {
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,1.0,0.0\na,1,0.5,2.0\nb,1,1,1\nb,0,2,0\n");
        let f = read_profile_file(&p, 2).unwrap();
        assert_eq!(f["a"].pv_kwh, vec![0.0, 2.0]);
        assert_eq!(f["b"].load_kwh, vec![2.0, 1.0]);
    }

    #[test]
    fn names_the_line_and_field_of_a_bad_value() {
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,1.0,0.0\na,1,x,2.0\n");
        let e = read_profile_file(&p, 2).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 3, field: "load_kwh".into() });
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,-1.0,0.0\n");
        assert!(read_profile_file(&p, 1).unwrap_err().message.contains("≥ 0"));
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,1.0,0.0\n");
        assert!(read_profile_file(&p, 2).unwrap_err().message.contains("no row for step 1"));
        // Columns in another order are named by the header, not by position.
        let (_d, p) = write("step,household,pv_kwh,load_kwh\n0,a,0.0,1.0\n1,a,oops,1.0\n");
        let e = read_profile_file(&p, 2).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 3, field: "pv_kwh".into() });
        assert!(e.message.contains("`oops` is not a number"), "{}", e.message);
        // A short row names its first missing column; a long one the first extra.
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,1.0\n");
        let e = read_profile_file(&p, 1).unwrap_err();
        assert_eq!(e.location, Location::Row { line: 2, field: "pv_kwh".into() });
        assert!(e.message.contains("3 fields, the header 4"), "{}", e.message);
        let (_d, p) = write("household,step,load_kwh,pv_kwh\na,0,1.0,0,9\n");
        assert_eq!(read_profile_file(&p, 1).unwrap_err().location, Location::Row { line: 2, field: "column 5".into() });
    }
}
