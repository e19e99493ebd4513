//! The create layer: turns a resolved scenario into the simulation's world, one entity per
//! household carrying each domain's components. The order of spawns and inserts fixes the
//! entities' tables, and so the order queries visit households in: keep it.

use crate::base::money::PricePerKwh;
use crate::base::seed::{rng, Stream};
use crate::grid::GridNode;
use crate::household::baseline::{BaselineExchange, BaselineOwnUse};
use crate::household::battery::Battery;
use crate::household::load::{LoadDef, LoadNoise, LoadSource};
use crate::household::{Household, HouseholdEntities, LossOfLoad, Meter, MeterTotals, PvArray, Wallet};
use crate::market::{Bidding, PriceCeiling};
use crate::scenario::Scenario;
use bevy::prelude::*;

/// Spawns one entity per household, in scenario order.
pub fn spawn_households(world: &mut World, scenario: &Scenario) {
    let step_hours = scenario.frame.step_hours();
    let mut entities = Vec::with_capacity(scenario.households.len());
    for (i, h) in scenario.households.iter().enumerate() {
        let (noise, shift) = LoadNoise::new(rng(scenario.seed, Stream::Load, i as u64));
        let source = match h.load {
            LoadDef::Archetype { kind, annual_kwh } => LoadSource::Archetype { kind, annual_kwh, shift_hours: shift },
            LoadDef::Profile { series } => LoadSource::Profile { series },
        };
        let mut e = world.spawn((
            Household { index: i as u32 },
            source,
            noise,
            Meter::default(),
            MeterTotals::default(),
            LossOfLoad::default(),
            Wallet::default(),
            GridNode(h.node),
            Bidding(h.bidding),
        ));
        if let Some(c) = h.preferences.price_ceiling_per_kwh {
            e.insert(PriceCeiling(PricePerKwh::from_units(c)));
        }
        if let Some(pv) = h.pv {
            e.insert(PvArray::new(&pv));
        }
        let battery = h.battery.as_ref().map(|b| Battery::from_spec(b, step_hours));
        if let Some(b) = battery {
            e.insert(b);
        }
        e.insert((BaselineOwnUse { battery, ..Default::default() }, BaselineExchange::default()));
        entities.push(e.id());
    }
    world.insert_resource(HouseholdEntities(entities));
}
