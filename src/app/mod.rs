//! The commands: `run`, `compare`, `sweep` and the command line that calls them.

pub mod cli;
pub mod compare;
pub mod driver;
pub mod run;
pub mod sweep;
