//! The create layer: turns a resolved scenario into the simulation's world, one entity per
//! household carrying each domain's components, and into each domain's config. The order of spawns and inserts fixes the
//! entities' tables, and so the order queries visit households in: keep it.

use crate::base::money::PricePerKwh;
use crate::base::seed::{rng, Stream};
use crate::grid::GridNode;
use crate::household::baseline::{BaselineExchange, BaselineOwnUse};
use crate::environment::weather::{EnvironmentConfig, Site};
use crate::grid::network::GridConfig;
use crate::household::battery::{Battery, BatteryMarketPolicy};
use crate::household::load::{LoadDef, LoadNoise, LoadSource};
use crate::household::{Household, HouseholdConfig, HouseholdEntities, LossOfLoad, Meter, MeterTotals, PvArray, Wallet};
use crate::market::locality::Locality;
use crate::market::preferences::Preferences;
use crate::market::registry::RuleInfo;
use crate::market::zones::{ZoneFees, Zones};
use crate::market::{Bidding, MarketConfig, PriceCeiling, RuleSetup};
use crate::scenario::Scenario;
use bevy::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

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
        if !h.appliances.is_empty() {
            e.insert(crate::household::appliance::Appliances { defs: h.appliances.clone(), planned: Vec::new() });
        }
        let car = h.ev.as_ref().map(|ev| crate::household::vehicle::Vehicle::new(ev, scenario.seed, i as u32, &scenario.frame));
        let baseline_car = car.as_ref().filter(|c| c.spec.policy == crate::household::vehicle::EvPolicy::Market).map(|c| Box::new(c.clone()));
        if let Some(car) = car {
            e.insert(car);
        }
        let tank_daily_kwh = h.hot_water.as_ref().filter(|w| w.heater == crate::household::hot_water::WaterHeater::HeatPump).map(|w| w.profile.daily_kwh() * w.daily_scale);
        let pump = h.heat_pump.as_ref().map(|p| crate::household::heating::HeatPump::new(p, tank_daily_kwh));
        let baseline_pump = pump.as_ref().filter(|p| p.spec.control == crate::household::heating::HeatControl::SolarAware).cloned();
        if let Some(p) = pump {
            e.insert(p);
        }
        let tank = h.hot_water.as_ref().map(crate::household::hot_water::HotWater::new);
        let baseline_tank = tank.as_ref().filter(|t| baseline_pump.is_some() && t.spec.heater == crate::household::hot_water::WaterHeater::HeatPump).cloned();
        if let Some(t) = tank {
            e.insert(t);
        }
        let battery = h.battery.as_ref().map(|b| Battery::from_spec(b, step_hours));
        if let Some(b) = battery {
            e.insert(b);
            if b.mode != crate::household::battery::BatteryMode::SelfConsumption {
                e.insert(crate::household::planning::BatteryPlanner::default());
            }
        }
        if let Some(pump) = baseline_pump {
            e.insert(crate::household::baseline::BaselineHeat { pump, tank: baseline_tank, step: None });
        }
        e.insert((BaselineOwnUse { battery, vehicle: baseline_car, ..Default::default() }, BaselineExchange::default()));
        entities.push(e.id());
    }
    world.insert_resource(HouseholdEntities(entities));
}

/// The environment's settings: time frame, grid connection and tariff, site and weather.
pub fn environment_config(s: &Scenario) -> EnvironmentConfig {
    EnvironmentConfig {
        frame: s.frame,
        grid: s.grid.clone(),
        site: Site { latitude_deg: s.latitude_deg, longitude_deg: s.longitude_deg, sky: s.sky },
        weather: s.weather.clone(),
        seed: s.seed,
        daily_exposure: s.daily_exposure.clone(),
        typical_year: s.typical_year.clone(),
        irradiance: s.irradiance.clone(),
        climate: s.climate.clone(),
        clouds: crate::environment::clouds::Clouds(s.clouds.clone()),
    }
}

/// The tariff's fixed charges (none on an island).
pub fn grid_charges(s: &Scenario) -> crate::environment::tariff::GridCharges {
    match &s.grid {
        crate::environment::tariff::GridConnection::Connected { charges, .. } => *charges,
        _ => Default::default(),
    }
}

/// The grid's emission factor: the scenario's series, else its flat factor.
pub fn emission_factors(s: &Scenario) -> crate::metrics::EmissionFactors {
    crate::metrics::EmissionFactors { flat_kg_per_kwh: s.emission_factor_kg_per_kwh, per_step: s.emission_factors.clone() }
}

/// The households' ids and the load profiles they read.
pub fn household_config(s: &Scenario) -> HouseholdConfig {
    HouseholdConfig { ids: Arc::new(s.households.iter().map(|h| h.id.clone()).collect()), profiles: s.profiles.clone(), seed: s.seed }
}

/// How batteries offer stored energy to the market.
pub fn battery_policy(s: &Scenario) -> BatteryMarketPolicy {
    BatteryMarketPolicy { market_reserve_soc: s.battery_policy.market_reserve_soc, offer_price: s.battery_policy.market_offer_price }
}

/// The grid's topology, the households' nodes and the network's settings.
pub fn grid_config(s: &Scenario) -> GridConfig {
    GridConfig { topology: s.topology.clone(), household_nodes: s.households.iter().map(|h| h.node).collect(), network: s.network, step_hours: s.frame.step_hours(),
        phases: s.phases.clone(),
        connections: s.households.iter().map(|h| crate::grid::network::HouseholdConnection { export_limit_kw: h.export_limit_kw, inverter: h.inverter.clone() }).collect(),
    }
}

/// The market's settings for `rule` with `params`: what the rule is built from (grid distances,
/// stated preferences, communities and their events), the zones of network fees, and who bears
/// line losses.
pub fn market_config(s: &Scenario, rule: &'static RuleInfo, params: BTreeMap<String, f64>) -> MarketConfig {
    let nodes: Vec<_> = s.households.iter().map(|h| h.node).collect();
    let stated: Vec<_> = s.households.iter().map(|h| (h.id.as_str(), &h.preferences)).collect();
    let setup = RuleSetup {
        params,
        locality: Some(Arc::new(Locality::new(&s.topology, &nodes))),
        preferences: Arc::new(Preferences::from_households(&stated)),
        communities: Arc::new(s.households.iter().map(|h| h.community.clone()).collect()),
        community_events: Arc::new(s.community_events.clone()),
    };
    let zones = Arc::new(ZoneFees { zones: Zones::new(&s.households.iter().map(|h| h.grid_path.clone()).collect::<Vec<_>>()), fees: s.network_fees });
    MarketConfig { rule, setup, seed: s.seed, zones, loss_bearer: s.loss_bearer, rule_switches: s.rule_switches.clone() }
}
