//! Community batteries: a battery a community's treasury owns and operates for its members.
//!
//! It stands at the grid's connection point (where distribution utilities put their community
//! batteries: at the LV transformer), so its exchanges travel the lines the grid's would and
//! leave line flows, limits and losses as they were. After the community's market has
//! cleared, it serves what is left of its members' deficits before the grid (on an island,
//! before they go unserved), then charges from what is left of their PV surplus before it is
//! exported (or curtailed): each member gets a share of the step's delivery in proportion to
//! its left deficit, and sends a share of the charge in proportion to its left surplus.
//!
//! Members pay the treasury for what it delivers at `export + sell_share × (import − export)`
//! per kWh and the treasury pays them `export + buy_share × (import − export)` per kWh for what
//! charges it (the step's tariff; on an island the surplus floor and the value of lost load).
//! It charges only what the treasury can pay for: its balance at the end of the previous step
//! above a reserve of one period's obligations at most.

use super::membership::Memberships;
use crate::base::money::{Micros, PricePerKwh};
use crate::environment::tariff::StepPrices;
use crate::household::battery::Battery;
use crate::household::Meter;
use bevy::prelude::*;

/// One community's battery while the run goes.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageUnit {
    pub battery: Battery,
    /// Where the price the treasury pays for a kWh charged, and the price a member pays for a
    /// kWh delivered, sit between the step's export and import price, ppm.
    pub buy_share_ppm: i64,
    pub sell_share_ppm: i64,
    /// Bought by the treasury (from then on it stands at the connection point, with what it
    /// holds, even after a default).
    pub bought: bool,
    /// Operated for the community's members (from the step after it was bought until the
    /// community defaults).
    pub operating: bool,
    /// Most the treasury can pay for charging this step: its balance at the end of the last step.
    pub budget: Micros,
    /// This step: its prices, members' left surplus and deficit, the AC energy it took and
    /// delivered.
    pub buy_price: PricePerKwh,
    pub sell_price: PricePerKwh,
    pub surplus_kwh: f64,
    pub deficit_kwh: f64,
    pub charged_kwh: f64,
    pub delivered_kwh: f64,
    members: u32,
}

impl StorageUnit {
    pub fn new(battery: Battery, buy_share_ppm: i64, sell_share_ppm: i64) -> StorageUnit {
        StorageUnit {
            battery,
            buy_share_ppm,
            sell_share_ppm,
            bought: false,
            operating: false,
            budget: Micros::ZERO,
            buy_price: PricePerKwh(0),
            sell_price: PricePerKwh(0),
            surplus_kwh: 0.0,
            deficit_kwh: 0.0,
            charged_kwh: 0.0,
            delivered_kwh: 0.0,
            members: 0,
        }
    }

    /// This step's conversion losses, kWh (AC side, by its efficiencies).
    pub fn conversion_losses_kwh(&self) -> f64 {
        self.charged_kwh * (1.0 - self.battery.eta_charge) + self.delivered_kwh * (1.0 / self.battery.eta_discharge - 1.0)
    }
}

/// A member's exchange with its community's battery in one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StorageExchange {
    pub household: u32,
    pub community: u16,
    /// Delivered to it, and taken from its surplus, kWh.
    pub bought_kwh: f64,
    pub sold_kwh: f64,
    pub buy_price: PricePerKwh,
    pub sell_price: PricePerKwh,
}

/// The communities' batteries (by community index; `None`: it has none) and the step's
/// exchanges with members. Inserted in runs whose communities have batteries; written by
/// delivery, read by settlement, the communities' books and metrics.
#[derive(Resource, Debug, Clone, Default)]
pub struct CommunityStorage {
    pub units: Vec<Option<StorageUnit>>,
    pub exchanges: Vec<StorageExchange>,
    /// Each household's surplus and deficit left after the market, this step (scratch).
    left_surplus_kwh: Vec<f64>,
    left_deficit_kwh: Vec<f64>,
}

impl CommunityStorage {
    pub fn new(units: Vec<Option<StorageUnit>>) -> CommunityStorage {
        CommunityStorage { units, ..Default::default() }
    }

    /// Energy stored in all that were bought, kWh.
    pub fn soc_kwh(&self) -> f64 {
        self.units.iter().flatten().filter(|u| u.bought).map(|u| u.battery.soc_kwh).sum()
    }

    fn any_operating(&self) -> bool {
        self.units.iter().flatten().any(|u| u.operating)
    }

    /// Starts the step: clears its figures and, when a battery operates, sizes the scratch for
    /// `households`. Returns whether any operates.
    pub(super) fn begin(&mut self, households: usize) -> bool {
        self.exchanges.clear();
        for u in self.units.iter_mut().flatten() {
            (u.surplus_kwh, u.deficit_kwh, u.charged_kwh, u.delivered_kwh, u.members) = (0.0, 0.0, 0.0, 0.0, 0);
        }
        if !self.any_operating() {
            return false;
        }
        for v in [&mut self.left_surplus_kwh, &mut self.left_deficit_kwh] {
            v.clear();
            v.resize(households, 0.0);
        }
        true
    }

    /// Notes what the market left of household `index`'s surplus and deficit.
    pub(super) fn note_left(&mut self, index: u32, surplus_kwh: f64, deficit_kwh: f64) {
        self.left_surplus_kwh[index as usize] = surplus_kwh;
        self.left_deficit_kwh[index as usize] = deficit_kwh;
    }

    /// Runs each operating battery on its members' left surplus and deficit: discharges to the
    /// deficit, then charges from the surplus as far as its power, its energy and the treasury's
    /// budget allow.
    pub(super) fn operate(&mut self, members: &Memberships, prices: &StepPrices) {
        for (h, m) in members.0.iter().enumerate() {
            if let Some(u) = m.and_then(|c| self.units.get_mut(c as usize)).and_then(Option::as_mut).filter(|u| u.operating) {
                u.surplus_kwh += self.left_surplus_kwh[h];
                u.deficit_kwh += self.left_deficit_kwh[h];
                u.members += 1;
            }
        }
        let spread = (prices.import.0 - prices.export.0).max(0);
        let at = |share_ppm: i64| PricePerKwh(prices.export.0 + (i128::from(spread) * i128::from(share_ppm) / i128::from(crate::base::money::PPM)) as i64);
        for u in self.units.iter_mut().flatten().filter(|u| u.operating) {
            u.buy_price = at(u.buy_share_ppm);
            u.sell_price = at(u.sell_share_ppm);
            let floor = u.battery.min_soc_kwh;
            u.delivered_kwh = u.battery.discharge(u.deficit_kwh, 0.0, floor);
            // Each member's payment is rounded once: with one micro-unit per member kept back,
            // the rounded payments stay within the budget.
            let affordable_kwh = match u.buy_price.0 {
                p if p > 0 => (u.budget.0 - i64::from(u.members)).max(0) as f64 / p as f64,
                _ => f64::INFINITY,
            };
            u.charged_kwh = u.battery.charge(u.surplus_kwh.min(affordable_kwh), 0.0);
        }
    }

    /// Household `index`'s share of its community battery's step, booked on its meter: what it
    /// delivered replaces grid import (on an island, unserved demand), what it took replaces
    /// export (on an island, curtailment). Returns the kWh taken from its surplus.
    pub(super) fn book(&mut self, index: u32, community: Option<u16>, m: &mut Meter, connected: bool) -> f64 {
        let Some(c) = community else { return 0.0 };
        let Some(u) = self.units.get(c as usize).and_then(Option::as_ref).filter(|u| u.operating) else { return 0.0 };
        let (left_surplus, left_deficit) = (self.left_surplus_kwh[index as usize], self.left_deficit_kwh[index as usize]);
        let bought = if u.deficit_kwh > 0.0 { (u.delivered_kwh * left_deficit / u.deficit_kwh).min(left_deficit) } else { 0.0 };
        let sold = if u.surplus_kwh > 0.0 { (u.charged_kwh * left_surplus / u.surplus_kwh).min(left_surplus) } else { 0.0 };
        if bought <= 0.0 && sold <= 0.0 {
            return 0.0;
        }
        m.community_battery_bought_kwh = bought;
        m.community_battery_sold_kwh = sold;
        if connected {
            m.grid_import_kwh -= bought;
            m.grid_export_kwh -= sold;
        } else {
            m.unserved_kwh -= bought;
            m.curtailed_kwh -= sold;
        }
        self.exchanges.push(StorageExchange { household: index, community: c, bought_kwh: bought, sold_kwh: sold, buy_price: u.buy_price, sell_price: u.sell_price });
        sold
    }
}
