//! Everything a run leaves on disk: the staging folder renamed into place when complete, and the
//! HTML report.

pub mod compare;
pub mod grid_export;
pub mod report;
pub mod staging;
