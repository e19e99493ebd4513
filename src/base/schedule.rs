//! The schedule every domain adds its systems to.

use bevy::ecs::schedule::ScheduleLabel;

/// The schedule that advances the simulation by one step. Each domain adds its systems to it in
/// its own `SystemSet`; `sim` orders the domains' sets (a layer above, such as the output's
/// recorder, orders its own set after them).
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SimStep;
