//! Errors a user can cause (bad scenario, missing file) versus failures of the run itself.
//!
//! Input errors always name the file, and a line:column or a field path, so a planner can fix the
//! file without reading code. The CLI maps them to exit code 2.

use std::path::PathBuf;

/// Exit code for bad input (same as clap's usage errors).
pub const EXIT_BAD_INPUT: u8 = 2;
/// Exit code for a failed run (I/O error, interrupted) or a failed verification.
pub const EXIT_FAILURE: u8 = 1;

/// Where in an input file a problem is.
#[derive(Debug, Clone, PartialEq)]
pub enum Location {
    /// 1-based line and column.
    LineColumn { line: usize, column: usize },
    /// A field path such as `households[3].battery.capacity_kwh`.
    Field(String),
    /// A CSV row (1-based line) and column name.
    Row { line: u64, field: String },
    /// The file as a whole (missing, unreadable).
    File,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::LineColumn { line, column } => write!(f, "{line}:{column}"),
            Location::Field(path) => write!(f, "field `{path}`"),
            Location::Row { line, field } => write!(f, "line {line}, field `{field}`"),
            Location::File => Ok(()),
        }
    }
}

/// One problem in a user's input.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub struct InputError {
    pub file: PathBuf,
    pub location: Location,
    pub message: String,
}

impl std::fmt::Display for InputError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.location {
            Location::File => write!(f, "{}: {}", self.file.display(), self.message),
            Location::LineColumn { .. } => {
                write!(f, "{}:{}: {}", self.file.display(), self.location, self.message)
            }
            loc => write!(f, "{}: {}: {}", self.file.display(), loc, self.message),
        }
    }
}

impl InputError {
    pub fn field(file: impl Into<PathBuf>, path: impl Into<String>, message: impl Into<String>) -> Self {
        InputError { file: file.into(), location: Location::Field(path.into()), message: message.into() }
    }

    pub fn file(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        InputError { file: file.into(), location: Location::File, message: message.into() }
    }
}

/// Several input errors found at once (validation reports all it finds, not only the first).
#[derive(Debug, Clone, thiserror::Error)]
pub struct InputErrors(pub Vec<InputError>);

impl std::fmt::Display for InputErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "error: {e}")?;
        }
        Ok(())
    }
}

impl From<InputError> for InputErrors {
    fn from(e: InputError) -> Self {
        InputErrors(vec![e])
    }
}
