//! The world outside the households: weather and the sun's position, PV output, and the step's
//! grid prices.

pub mod solar;
pub mod tariff;
pub mod weather;
