//! The schedule every domain adds its systems to.

use bevy::ecs::schedule::ScheduleLabel;

/// The schedule that advances the simulation by one step. Each domain adds its systems to it in
/// its own `SystemSet`; `sim` orders those sets.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimStep;
