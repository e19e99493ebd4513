//! What households value in a trade besides price, as they state it: premiums for green, local
//! and favourite-neighbour energy, and a price ceiling.

use crate::base::money::PricePerKwh;
use serde::{Deserialize, Serialize};

/// What a household values in a trade besides price. The `preference` rule matches on the
/// premiums; the price ceiling caps the household's bids under every rule. Premiums never make a
/// household pay above its bid or sell below its ask: they decide who trades with whom.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PreferencesSpec {
    /// Most the household pays per kWh for peer energy, currency/kWh (default: its bid).
    #[serde(default)]
    pub price_ceiling_per_kwh: Option<f64>,
    /// Extra value of energy from a seller's panels this step (not from a battery), currency/kWh.
    #[serde(default)]
    pub green_premium_per_kwh: f64,
    /// Extra value of trading with a near household, currency/kWh, scaled by grid closeness
    /// (1 on the same node, 0 through the root). Applies to buying and selling.
    #[serde(default)]
    pub local_premium_per_kwh: f64,
    /// Household ids this household prefers to trade with (buying or selling).
    #[serde(default)]
    pub favourites: Vec<String>,
    /// Extra value of trading with a favourite, currency/kWh.
    #[serde(default)]
    pub favourite_premium_per_kwh: f64,
}

/// One household's stated premiums, in micro-units per kWh, favourites by household index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdPreferences {
    pub green: i64,
    pub local: i64,
    pub favourite: i64,
    /// Sorted household indices.
    pub favourites: Vec<u32>,
}

/// Every household's preferences, by household index.
#[derive(Debug, Clone, Default)]
pub struct Preferences(pub Vec<HouseholdPreferences>);

impl Preferences {
    /// Resolves each household's stated preferences, `(id, stated)` in household order
    /// (favourite ids were checked to exist).
    pub fn from_households(households: &[(&str, &PreferencesSpec)]) -> Preferences {
        let index: std::collections::HashMap<&str, u32> = households.iter().enumerate().map(|(i, (id, _))| (*id, i as u32)).collect();
        let per_kwh = |x: f64| PricePerKwh::from_units(x).0;
        Preferences(
            households
                .iter()
                .map(|(_, p)| {
                    let mut favourites: Vec<u32> = p.favourites.iter().filter_map(|f| index.get(f.as_str()).copied()).collect();
                    favourites.sort_unstable();
                    favourites.dedup();
                    HouseholdPreferences { green: per_kwh(p.green_premium_per_kwh), local: per_kwh(p.local_premium_per_kwh), favourite: per_kwh(p.favourite_premium_per_kwh), favourites }
                })
                .collect(),
        )
    }

    /// A household's preferences (none for a household it does not know).
    pub fn of(&self, household: u32) -> Option<&HouseholdPreferences> {
        self.0.get(household as usize)
    }
}
