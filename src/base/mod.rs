//! What every layer uses: simulated time, money in integer micro-units, seeded random streams,
//! the errors that name a bad input's file, line and field, bounded reading of input files, the `SimStep` schedule label, and
//! how the step's work is executed (`exec`).

pub mod error;
pub mod exec;
pub mod input;
pub mod money;
pub mod schedule;
pub mod seed;
pub mod time;
