//! Clouds over part of the grid, from the scenario's `Cloud` events: for a while the houses
//! under one receive only a share of the global horizontal irradiance, while the rest of the
//! grid keeps the sky the weather gives (a regional dip that shifts who has surplus).

use bevy::prelude::Resource;
use std::sync::Arc;

/// One cloud: the household indices (ascending) under it over `[from_step, to_step)`.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudShade {
    pub from_step: u64,
    /// Exclusive.
    pub to_step: u64,
    /// Share of the global horizontal irradiance that reaches the houses under it, 0–1.
    pub transmittance: f64,
    pub households: Vec<u32>,
}

/// The run's clouds, read by PV generation.
#[derive(Resource, Debug, Clone, Default)]
pub struct Clouds(pub Arc<Vec<CloudShade>>);

impl Clouds {
    /// The share of the irradiance reaching household `household` at `step` (clouds that
    /// overlap multiply), or `None` under an open sky.
    pub fn transmittance(&self, step: u64, household: u32) -> Option<f64> {
        let mut share = None;
        for c in self.0.iter() {
            if (c.from_step..c.to_step).contains(&step) && c.households.binary_search(&household).is_ok() {
                share = Some(share.unwrap_or(1.0) * c.transmittance);
            }
        }
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cloud_shades_its_houses_in_its_steps_and_overlaps_multiply() {
        let clouds = Clouds(Arc::new(vec![
            CloudShade { from_step: 10, to_step: 20, transmittance: 0.5, households: vec![1, 3] },
            CloudShade { from_step: 15, to_step: 16, transmittance: 0.4, households: vec![3] },
        ]));
        assert_eq!(clouds.transmittance(9, 1), None);
        assert_eq!(clouds.transmittance(10, 1), Some(0.5));
        assert_eq!(clouds.transmittance(10, 2), None);
        assert_eq!(clouds.transmittance(15, 3), Some(0.5 * 0.4));
        assert_eq!(clouds.transmittance(20, 1), None);
    }
}
