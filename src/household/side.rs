//! The two sides one pass simulates: the run ([`Run`]: households trading under the scenario's
//! rule, metered in [`Meter`]) and its grid-only baseline ([`Baseline`]: the same households
//! with no market, in [`BaselineExchange`]). The grid limits each side's offers and the
//! settlement settles a grid-only side through these traits, without knowing which side is
//! which; `sim` wires the two in.

use super::baseline::BaselineExchange;
use super::Meter;
use crate::base::money::Micros;
use bevy::ecs::component::Mutable;
use bevy::prelude::*;

/// A household's offer after own use in a step, kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StepOffer {
    pub surplus_kwh: f64,
    /// Stored energy offered to the market (0 for a side without a market).
    pub battery_kwh: f64,
    pub deficit_kwh: f64,
}

/// Fractions of an offer that line limits leave (1 = untouched).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Keep {
    pub surplus: f64,
    pub battery: f64,
    pub deficit: f64,
}

impl Default for Keep {
    fn default() -> Self {
        Keep { surplus: 1.0, battery: 1.0, deficit: 1.0 }
    }
}

/// What a house's connection takes off its offer before the line limits, kWh: its export cap
/// and its inverter's volt-watt ceiling (both curtail PV surplus), the most of its battery offer
/// the cap leaves room for, its inverter's reactive energy (+ supplied, − absorbed), kvarh, and
/// the step's export tariff, which values what was curtailed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConnectionCut {
    pub export_kwh: f64,
    pub inverter_kwh: f64,
    pub battery_max_kwh: f64,
    pub q_kvarh: f64,
    pub export_price: crate::base::money::PricePerKwh,
}

impl Default for ConnectionCut {
    fn default() -> Self {
        ConnectionCut { export_kwh: 0.0, inverter_kwh: 0.0, battery_max_kwh: f64::INFINITY, q_kvarh: 0.0, export_price: crate::base::money::PricePerKwh::from_units(0.0) }
    }
}

/// One side of the simulation: where its households' step offers live and how a limit cuts them.
pub trait Side: Send + Sync + 'static {
    /// The component with the side's step offer.
    type Exchange: Component<Mutability = Mutable>;
    /// Whether the side's exchanges use the lines on an island: peer trades do; a grid-only
    /// exchange has no grid to go to there, so nothing flows and no limit applies.
    const FLOWS_ON_ISLAND: bool;
    /// The step's offer.
    fn offer(x: &Self::Exchange) -> StepOffer;
    /// Keeps `keep` of the offer: the rest of the surplus is curtailed, of the deficit shed, of
    /// the battery offer withdrawn. Returns (curtailed, shed), kWh.
    fn keep(x: &mut Self::Exchange, keep: Keep) -> (f64, f64);
    /// Takes the connection's cuts off the offer (curtailed, attributed to the cap and the
    /// inverter), before [`Self::keep`].
    fn limit_connection(x: &mut Self::Exchange, cut: &ConnectionCut);
}

/// A side with no market: everything it offers goes to or comes from the grid, at the tariff.
pub trait GridOnly: Side {
    /// Closes the step's energy: what the limits left is exported and imported (connected),
    /// or curtailed and unserved (island). Returns the energy to bill, (import, export), kWh.
    fn close_step(x: &mut Self::Exchange, connected: bool) -> (f64, f64);
    /// Books the step's grid payments: `paid` for the import, `received` for the export.
    fn pay(x: &mut Self::Exchange, paid: Micros, received: Micros);
    /// What it imported from the grid in the step just closed, kWh.
    fn step_import_kwh(x: &Self::Exchange) -> f64;
    /// Books the tariff's fixed charges of a billing period.
    fn charge(x: &mut Self::Exchange, amount: Micros);
}

/// The run: households under the scenario's rule.
pub struct Run;

impl Side for Run {
    type Exchange = Meter;
    const FLOWS_ON_ISLAND: bool = true;

    /// Flexible orders (cars', heat pumps') count as demand the wires must carry.
    fn offer(m: &Meter) -> StepOffer {
        StepOffer { surplus_kwh: m.surplus_kwh, battery_kwh: m.battery_offer_kwh, deficit_kwh: m.deficit_kwh + m.flexible_kwh }
    }

    /// What the limits cut of the demand comes off the flexible orders first (it shifts,
    /// nothing goes unserved), then off the load.
    fn keep(m: &mut Meter, k: Keep) -> (f64, f64) {
        let cut = m.surplus_kwh * (1.0 - k.surplus);
        let cut_demand = (m.deficit_kwh + m.flexible_kwh) * (1.0 - k.deficit);
        let flexible_cut = cut_demand.min(m.flexible_kwh);
        let shed = cut_demand - flexible_cut;
        m.flexible_kwh -= flexible_cut;
        // A car's order is cut before a heat pump's.
        m.heat_flexible_kwh = m.heat_flexible_kwh.min(m.flexible_kwh);
        m.curtailed_kwh += cut;
        m.surplus_kwh -= cut;
        m.unserved_kwh += shed;
        m.deficit_kwh -= shed;
        m.battery_offer_kwh *= k.battery;
        (cut, shed)
    }

    fn limit_connection(m: &mut Meter, c: &ConnectionCut) {
        let cut = c.export_kwh + c.inverter_kwh;
        m.surplus_kwh -= cut;
        m.curtailed_kwh += cut;
        m.export_limited_kwh += c.export_kwh;
        m.inverter_curtailed_kwh += c.inverter_kwh;
        m.export_limited_value += c.export_price.amount_for(c.export_kwh);
        m.inverter_curtailed_value += c.export_price.amount_for(c.inverter_kwh);
        m.battery_offer_kwh = m.battery_offer_kwh.min(c.battery_max_kwh);
        m.inverter_q_kvarh += c.q_kvarh;
        m.inverter_absorbed_kvarh += (-c.q_kvarh).max(0.0);
    }
}

/// The grid-only baseline: the same households, no market (see [`super::baseline`]).
pub struct Baseline;

impl Side for Baseline {
    type Exchange = BaselineExchange;
    const FLOWS_ON_ISLAND: bool = false;

    fn offer(x: &BaselineExchange) -> StepOffer {
        StepOffer { surplus_kwh: x.step_surplus_kwh, battery_kwh: 0.0, deficit_kwh: x.step_deficit_kwh }
    }

    fn keep(x: &mut BaselineExchange, k: Keep) -> (f64, f64) {
        let (cut, shed) = (x.step_surplus_kwh * (1.0 - k.surplus), x.step_deficit_kwh * (1.0 - k.deficit));
        // Limits cut once a step, so the step's cut is this one.
        x.step_curtailed_kwh = cut;
        x.step_unserved_kwh = shed;
        (cut, shed)
    }

    /// A grid-only house has no battery offer; its cuts are curtailment, as the limits'.
    fn limit_connection(x: &mut BaselineExchange, c: &ConnectionCut) {
        let cut = c.export_kwh + c.inverter_kwh;
        x.step_surplus_kwh -= cut;
        x.curtailed_kwh += cut;
        x.export_limited_kwh += c.export_kwh;
        x.inverter_curtailed_kwh += c.inverter_kwh;
    }
}

impl GridOnly for Baseline {
    fn close_step(x: &mut BaselineExchange, connected: bool) -> (f64, f64) {
        if connected {
            let (export, import) = (x.step_surplus_kwh - x.step_curtailed_kwh, x.step_deficit_kwh - x.step_unserved_kwh + x.step_grid_charge_kwh);
            x.grid_export_kwh += export;
            x.grid_import_kwh += import;
            x.curtailed_kwh += x.step_curtailed_kwh;
            x.unserved_kwh += x.step_unserved_kwh;
            x.loss_of_load_steps += (x.step_unserved_kwh > super::UNSERVED_EPSILON_KWH) as u64;
            (import, export)
        } else {
            x.curtailed_kwh += x.step_surplus_kwh;
            x.unserved_kwh += x.step_deficit_kwh;
            x.loss_of_load_steps += (x.step_deficit_kwh > super::UNSERVED_EPSILON_KWH) as u64;
            (0.0, 0.0)
        }
    }

    fn pay(x: &mut BaselineExchange, paid: Micros, received: Micros) {
        x.balance += received - paid;
        x.grid_paid += paid;
        x.grid_received += received;
    }

    fn step_import_kwh(x: &BaselineExchange) -> f64 {
        x.step_deficit_kwh - x.step_unserved_kwh
    }

    fn charge(x: &mut BaselineExchange, amount: Micros) {
        x.balance -= amount;
    }
}
