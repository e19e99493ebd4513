//! Settlement: every step's money moves as payments between accounts, in integer micro-units.
//! Households, the grid, the network operator, the community fund and the trading pool are all
//! accounts, so every payment has a payer and a payee and all balances always sum to zero.

use crate::household::{Household, HouseholdIds, Meter, Wallet};
use crate::market::{Clearing, Seller};
use crate::money::Micros;
use crate::tariff::StepPrices;
use bevy::prelude::*;

/// An account that can pay or be paid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Account {
    Household(u32),
    /// The utility behind the grid connection.
    Grid,
    /// Collects network fees.
    NetworkOperator,
    /// The community's treasury.
    CommunityFund,
    /// Pooling rules' clearing account (balances to zero over each step when budget balanced).
    Pool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKind {
    PeerTrade,
    PoolPurchase,
    PoolSale,
    GridImport,
    GridExport,
}

/// One transfer of money.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Payment {
    pub payer: Account,
    pub payee: Account,
    pub amount: Micros,
    pub kind: PaymentKind,
    pub kwh: f64,
}

/// This step's payments, in settlement order (read by the ledger).
#[derive(Resource, Debug, Default)]
pub struct StepPayments(pub Vec<Payment>);

/// Balances of the accounts that are not households.
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq)]
pub struct Accounts {
    pub grid: Micros,
    pub network_operator: Micros,
    pub community_fund: Micros,
    pub pool: Micros,
}

impl Accounts {
    fn balance_mut(&mut self, a: Account) -> Option<&mut Micros> {
        match a {
            Account::Grid => Some(&mut self.grid),
            Account::NetworkOperator => Some(&mut self.network_operator),
            Account::CommunityFund => Some(&mut self.community_fund),
            Account::Pool => Some(&mut self.pool),
            Account::Household(_) => None,
        }
    }

    pub fn total(&self) -> Micros {
        self.grid + self.network_operator + self.community_fund + self.pool
    }
}

/// Per-household peer money of the step (scratch, by household index).
#[derive(Resource, Debug, Default)]
pub struct PeerMoney {
    paid: Vec<i64>,
    received: Vec<i64>,
}

/// Money settlement, in `SimSystems::Settlement`.
pub struct SettlementPlugin;

impl Plugin for SettlementPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Accounts>()
            .init_resource::<StepPayments>()
            .init_resource::<PeerMoney>()
            .add_systems(crate::sim::SimStep, settle.in_set(crate::sim::SimSystems::Settlement));
    }
}

/// Settles the step: buyers pay sellers (or the pool) for every trade, the pool pays its
/// sellers, households pay the grid for imports and the grid pays them for exports.
/// Reads `Clearing`, `StepPrices`, `Meter`; writes `Wallet`, `Accounts`, `StepPayments`.
/// Runs in `SimSystems::Settlement`, after delivery.
pub fn settle(
    clearing: Res<Clearing>,
    prices: Res<StepPrices>,
    ids: Res<HouseholdIds>,
    mut accounts: ResMut<Accounts>,
    mut payments: ResMut<StepPayments>,
    mut peer: ResMut<PeerMoney>,
    mut households: Query<(&Household, &Meter, &mut Wallet)>,
) {
    payments.0.clear();
    let n = ids.0.len();
    let peer = &mut *peer;
    for v in [&mut peer.paid, &mut peer.received] {
        v.clear();
        v.resize(n, 0);
    }
    for t in &clearing.trades {
        let amount = t.price.amount_for(t.kwh);
        let (payee, kind) = match t.seller {
            Seller::Household { index, .. } => {
                peer.received[index as usize] += amount.0;
                (Account::Household(index), PaymentKind::PeerTrade)
            }
            Seller::Pool => {
                accounts.pool += amount;
                (Account::Pool, PaymentKind::PoolPurchase)
            }
        };
        peer.paid[t.buyer as usize] += amount.0;
        payments.0.push(Payment { payer: Account::Household(t.buyer), payee, amount, kind, kwh: t.kwh });
    }
    for s in &clearing.pool_sales {
        let amount = s.price.amount_for(s.kwh);
        accounts.pool -= amount;
        peer.received[s.seller as usize] += amount.0;
        payments.0.push(Payment { payer: Account::Pool, payee: Account::Household(s.seller), amount, kind: PaymentKind::PoolSale, kwh: s.kwh });
    }
    for (h, m, mut w) in &mut households {
        let i = h.index as usize;
        let (paid, received) = (Micros(peer.paid[i]), Micros(peer.received[i]));
        w.p2p_paid += paid;
        w.p2p_received += received;
        w.balance += received - paid;
        if m.grid_import_kwh > 0.0 {
            let amount = prices.import.amount_for(m.grid_import_kwh);
            transfer(&mut accounts, &mut w, amount, true);
            payments.0.push(Payment { payer: Account::Household(h.index), payee: Account::Grid, amount, kind: PaymentKind::GridImport, kwh: m.grid_import_kwh });
        }
        if m.grid_export_kwh > 0.0 {
            let amount = prices.export.amount_for(m.grid_export_kwh);
            transfer(&mut accounts, &mut w, amount, false);
            payments.0.push(Payment { payer: Account::Grid, payee: Account::Household(h.index), amount, kind: PaymentKind::GridExport, kwh: m.grid_export_kwh });
        }
    }
}

fn transfer(accounts: &mut Accounts, w: &mut Wallet, amount: Micros, household_pays: bool) {
    let grid = accounts.balance_mut(Account::Grid).expect("grid is an account");
    if household_pays {
        w.balance -= amount;
        w.grid_paid += amount;
        *grid += amount;
    } else {
        w.balance += amount;
        w.grid_received += amount;
        *grid -= amount;
    }
}
