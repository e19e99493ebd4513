//! What every layer uses: simulated time, money in integer micro-units, seeded random streams,
//! the errors that name a bad input's file, line and field, bounded reading of input files, the `SimStep` schedule label, and
//! how the step's work is executed (`exec`), a written table read back as text (`table_rows`).

pub mod error;
pub mod exec;
pub mod input;
pub mod money;
pub mod schedule;
pub mod seed;
pub mod table_rows;
pub mod time;
