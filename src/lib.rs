//! peergrid: a simulator of solar peer-to-peer energy trading in a smart grid.
//!
//! The simulation core is headless: a Bevy ECS [`App`](bevy::app::App) stepped one interval at a
//! time. Every domain is a module exposing a `Plugin` and a public `SystemSet` that the others
//! order against; [`sim::SimSystems`] chains them once. The binary (`src/main.rs`) only parses the
//! command line and calls [`cli::main`].

pub mod ausgrid;
pub mod baseline;
pub mod battery;
pub mod cli;
pub mod compare;
pub mod error;
pub mod exposure;
pub mod grid;
pub mod household;
pub mod irradiance_csv;
pub mod ledger;
pub mod load;
pub mod market;
pub mod metrics;
pub mod money;
pub mod output;
pub mod pace;
pub mod profile;
pub mod report;
pub mod run;
pub mod scenario;
pub mod seed;
pub mod settlement;
pub mod tariff;
pub mod sim;
pub mod solar;
pub mod sweep;
pub mod testing;
pub mod time;
pub mod tmy3;
pub mod weather;
/// The live map for workshops (`peergrid demo`), behind the `viz` feature: the core never
/// depends on it.
#[cfg(feature = "viz")]
pub mod viz;

pub use error::InputError;
pub use scenario::Scenario;
