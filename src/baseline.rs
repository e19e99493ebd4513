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

/// A household's baseline: battery, energy totals and money.
#[derive(Component, Debug, Clone, Default, PartialEq)]
pub struct Baseline {
    pub battery: Option<Battery>,
    pub totals: Meter,
    pub wallet: Wallet,
}

/// Advances every household's baseline by the step. Reads `Meter` (PV and load only),
/// `StepPrices`; writes `Baseline`. Runs in `SimSystems::OwnUseAndBattery`, after PV and load.
pub fn baseline_step(prices: Res<StepPrices>, mut households: Query<(&Meter, &mut Baseline)>) {
    for (m, mut b) in &mut households {
        let b = &mut *b;
        let u = own_use(m.pv_kwh, m.load_kwh, b.battery.as_mut());
        let t = &mut b.totals;
        t.pv_kwh += m.pv_kwh;
        t.load_kwh += m.load_kwh;
        t.self_consumed_kwh += u.direct + u.charge;
        t.battery_charge_kwh += u.charge;
        t.battery_discharge_kwh += u.discharge;
        if prices.connected {
            t.grid_export_kwh += u.surplus;
            t.grid_import_kwh += u.deficit;
            if u.deficit > 0.0 {
                let amount = prices.import.amount_for(u.deficit);
                b.wallet.balance -= amount;
                b.wallet.grid_paid += amount;
            }
            if u.surplus > 0.0 {
                let amount = prices.export.amount_for(u.surplus);
                b.wallet.balance += amount;
                b.wallet.grid_received += amount;
            }
        } else {
            t.curtailed_kwh += u.surplus;
            t.unserved_kwh += u.deficit;
        }
    }
}

/// The baseline, in `SimSystems::OwnUseAndBattery`.
pub struct BaselinePlugin;

impl Plugin for BaselinePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(crate::sim::SimStep, baseline_step.in_set(crate::sim::SimSystems::OwnUseAndBattery));
    }
}
