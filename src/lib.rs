//! peergrid: a simulator of solar peer-to-peer energy trading in a smart grid.
//!
//! The simulation core is headless: a Bevy ECS [`App`](bevy::app::App) stepped one interval at a
//! time. The module tree reads as the data flow, bottom to top; a module imports only from its
//! own layer and the layers below it (`tests/architecture.rs` checks it):
//!
//! - [`base`]: time, money, seeds, input errors, the `SimStep` schedule label, and how the step's
//!   work is executed (`exec`: the commands' pools, the ledger's sealing, pacing).
//! - [`environment`]: weather, sun and PV, tariffs.
//! - [`household`]: households, loads, batteries, the grid-only baseline; the run and the
//!   baseline as two sides of one pass (`side`).
//! - [`grid`]: topology, power flows, line and voltage limits.
//! - [`market`]: bids and asks, the trading rules and their registry.
//! - [`settlement`]: payments between accounts; the treasury's fees and block rewards.
//! - [`ledger`]: the hash-chained record of every step's trades.
//! - [`community`]: communities households join by choice: membership, their treasuries' fees,
//!   services and default.
//! - [`metrics`]: community totals per step and over the run.
//! - [`scenario`]: the scenario file, its validation and the measured data it reads.
//! - [`sim`]: the app: the world built from a scenario (`create`), the domains' plugins and the
//!   order of their sets.
//! - [`output`]: staging folders, files and the HTML report.
//! - [`viz`]: the live map (its window behind the feature `viz`); the core never depends on it.
//! - [`app`]: the commands (`run`, `compare`, `sweep`, ...) and the command line.
//! - [`testing`]: small simulations built from scenario strings, for tests.
//!
//! The binary (`src/main.rs`) only calls [`app::cli::main`].

pub mod base;
pub mod environment;
pub mod household;
pub mod grid;
pub mod market;
pub mod settlement;
pub mod ledger;
pub mod community;
pub mod metrics;
pub mod scenario;
pub mod sim;
pub mod output;
/// The live map for workshops (`peergrid demo`); its window is behind the `viz` feature, and the
/// core never depends on it.
pub mod viz;
pub mod app;
pub mod testing;

pub use base::error::InputError;
pub use scenario::Scenario;
