//! Readers of measured data a scenario refers to: Ausgrid's solar homes, daily solar exposure,
//! TMY3 typical years, irradiance series and per-household profile files.

pub mod ausgrid;
pub mod emissions;
pub mod exposure;
pub mod irradiance_csv;
pub mod profile;
pub mod tmy3;
