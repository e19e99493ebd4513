//! The world outside the households: weather and the sun's position, PV output, and the step's
//! grid prices.

use bevy::prelude::SystemSet;

pub mod climate;
pub mod clouds;
pub mod measured;
pub mod sky;
pub mod solar;
pub mod tariff;
pub mod weather;

/// The environment's systems: clock, prices, sun and weather, first in every step.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct EnvironmentSystems;
