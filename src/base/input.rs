//! Reading a user's file with bounds: its size and the length of its lines are checked before
//! anything big is allocated, so `/dev/zero`, a huge file or one endless line is an error naming
//! the file and the bound, not memory exhaustion.

use crate::base::error::{InputError, Location};
use std::io::Read;
use std::path::Path;

/// The largest data file read (profiles, weather, Ausgrid, emission factors, keystores). Ausgrid's
/// whole-year file for 300 customers is about 100 MB.
pub const MAX_DATA_FILE_BYTES: u64 = 512 << 20;
/// The largest scenario or sweep file (a feeder of 100,000 listed houses is about 20 MB).
pub const MAX_SCENARIO_FILE_BYTES: u64 = 64 << 20;
/// The longest line in any text file read (Ausgrid's wide rows are about 500 bytes).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads `path` (described as `what` in messages) as UTF-8 text of at most `max_bytes` bytes and
/// lines of at most [`MAX_LINE_BYTES`].
pub fn read_text(path: &Path, what: &str, max_bytes: u64) -> Result<String, InputError> {
    read(path, what, max_bytes, true)
}

/// As [`read_text`] for formats written on one line (JSON), whose lines are not bounded.
pub fn read_text_one_line(path: &Path, what: &str, max_bytes: u64) -> Result<String, InputError> {
    read(path, what, max_bytes, false)
}

fn read(path: &Path, what: &str, max_bytes: u64, bounded_lines: bool) -> Result<String, InputError> {
    let file = std::fs::File::open(path).map_err(|e| InputError::file(path, format!("cannot open {what}: {e}")))?;
    let too_big = || InputError::file(path, format!("{what} is larger than {} MiB, the most read", max_bytes >> 20));
    if let Ok(meta) = file.metadata() {
        if meta.is_dir() {
            return Err(InputError::file(path, format!("cannot read {what}: it is a folder")));
        }
        if meta.is_file() && meta.len() > max_bytes {
            return Err(too_big());
        }
    }
    let mut bytes = Vec::new();
    file.take(max_bytes + 1).read_to_end(&mut bytes).map_err(|e| InputError::file(path, format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big());
    }
    if bounded_lines {
        check_lines(path, &bytes)?;
    }
    String::from_utf8(bytes).map_err(|e| {
        let line = e.utf8_error().valid_up_to();
        InputError { file: path.into(), location: Location::LineColumn { line: 1 + e.as_bytes()[..line].iter().filter(|&&b| b == b'\n').count(), column: 1 }, message: format!("{what} is not UTF-8 text") }
    })
}

/// Every line of `bytes` is at most [`MAX_LINE_BYTES`] long.
fn check_lines(path: &Path, bytes: &[u8]) -> Result<(), InputError> {
    for (i, line) in bytes.split(|&b| b == b'\n').enumerate() {
        if line.len() > MAX_LINE_BYTES {
            return Err(InputError { file: path.into(), location: Location::LineColumn { line: i + 1, column: MAX_LINE_BYTES + 1 }, message: format!("the line is longer than {} KiB, the most read", MAX_LINE_BYTES >> 10) });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endless_and_oversized_inputs_are_errors() {
        let e = read_text(Path::new("/dev/zero"), "profile file", 1 << 20).unwrap_err();
        assert!(e.to_string().contains("larger than 1 MiB"), "{e}");
        let dir = std::env::temp_dir().join(format!("peergrid-input-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let long = dir.join("long.csv");
        std::fs::write(&long, format!("a,b\n{}\n", "x".repeat(MAX_LINE_BYTES + 1))).unwrap();
        let e = read_text(&long, "profile file", 64 << 20).unwrap_err();
        assert!(matches!(e.location, Location::LineColumn { line: 2, .. }) && e.message.contains("longer than"), "{e}");
        std::fs::write(&long, b"ok\n\xff\n").unwrap();
        assert!(matches!(read_text(&long, "x", 100).unwrap_err().location, Location::LineColumn { line: 2, .. }));
        std::fs::write(&long, "ok\n").unwrap();
        assert_eq!(read_text(&long, "x", 100).unwrap(), "ok\n");
        assert!(read_text(&dir, "x", 100).unwrap_err().message.contains("folder"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
