//! The grid-only baseline, simulated in the same pass as the run: the same PV and loads (read
//! from each household's [`Meter`]), its own copy of the battery under the same own-use policy
//! ([`own_use`]), and no peer trading: surplus is exported and deficit imported at the step's
//! tariff (on an island: curtailed and unserved). This is exactly what a separate run with the
//! `grid-only` rule computes (a test checks the bills agree to the micro-unit), at a fraction of
//! the cost, since weather, PV and load noise are not drawn twice.

use crate::battery::{own_use, Battery};
use crate::household::{Meter, Wallet};
use crate::tariff::StepPrices;
use bevy::prelude::*;

/// A household's baseline: battery, energy totals and money, and this step's exchange.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    pub battery: Option<Battery>,
    pub totals: Meter,
    pub wallet: Wallet,
    /// This step: surplus and deficit after own use, and what line limits cut of them.
    pub step_surplus_kwh: f64,
    pub step_deficit_kwh: f64,
    pub step_curtailed_kwh: f64,
    pub step_unserved_kwh: f64,
    /// Steps with unserved demand.
    pub loss_of_load_steps: u64,
}

/// Advances every household's baseline by the step's own use. Reads `Meter` (PV and load
/// only); writes `Baseline`. Runs in `SimSystems::OwnUseAndBattery`, after PV and load.
pub fn baseline_own_use(mut households: Query<(&Meter, &mut Baseline)>) {
    for (m, mut b) in &mut households {
        let b = &mut *b;
        let u = own_use(m.pv_kwh, m.load_kwh, b.battery.as_mut());
        let t = &mut b.totals;
        t.pv_kwh += m.pv_kwh;
        t.load_kwh += m.load_kwh;
        t.self_consumed_kwh += u.direct + u.charge;
        t.battery_charge_kwh += u.charge;
        t.battery_discharge_kwh += u.discharge;
        b.step_surplus_kwh = u.surplus;
        b.step_deficit_kwh = u.deficit;
        b.step_curtailed_kwh = 0.0;
        b.step_unserved_kwh = 0.0;
    }
}

/// Exchanges the baseline's surplus and deficit with the grid at the step's tariff, less what
/// line limits curtailed or shed (on an island: all curtailed and unserved). Reads `StepPrices`;
/// writes `Baseline`. Runs in `SimSystems::Settlement`, after the grid's limits.
pub fn settle_baseline(prices: Res<StepPrices>, mut households: Query<&mut Baseline>) {
    for mut b in &mut households {
        let b = &mut *b;
        let t = &mut b.totals;
        if prices.connected {
            let (export, import) = (b.step_surplus_kwh - b.step_curtailed_kwh, b.step_deficit_kwh - b.step_unserved_kwh);
            t.grid_export_kwh += export;
            t.grid_import_kwh += import;
            t.curtailed_kwh += b.step_curtailed_kwh;
            t.unserved_kwh += b.step_unserved_kwh;
            b.loss_of_load_steps += (b.step_unserved_kwh > crate::household::UNSERVED_EPSILON_KWH) as u64;
            if import > 0.0 {
                let amount = prices.import.amount_for(import);
                b.wallet.balance -= amount;
                b.wallet.grid_paid += amount;
            }
            if export > 0.0 {
                let amount = prices.export.amount_for(export);
                b.wallet.balance += amount;
                b.wallet.grid_received += amount;
            }
        } else {
            t.curtailed_kwh += b.step_surplus_kwh;
            t.unserved_kwh += b.step_deficit_kwh;
            b.loss_of_load_steps += (b.step_deficit_kwh > crate::household::UNSERVED_EPSILON_KWH) as u64;
        }
    }
}

/// The baseline: own use in `SimSystems::OwnUseAndBattery`, grid exchange in `Settlement`.
pub struct BaselinePlugin;

impl Plugin for BaselinePlugin {
    fn build(&self, app: &mut App) {
        use crate::sim::{SimStep, SimSystems};
        app.add_systems(SimStep, baseline_own_use.in_set(SimSystems::OwnUseAndBattery))
            .add_systems(SimStep, settle_baseline.in_set(SimSystems::Settlement));
    }
}
