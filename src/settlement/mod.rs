//! Settlement: every step's money moves as payments between accounts, in integer micro-units.
//! Households, the grid, the network operator, the community fund and the trading pool are all
//! accounts, so every payment has a payer and a payee and all balances always sum to zero.

pub mod community_funds;
pub mod treasury;

use crate::household::side::GridOnly;
use crate::household::{Household, HouseholdIds, Meter, Wallet};
use crate::market::{Clearing, Seller};
use crate::base::money::Micros;
use crate::base::time::SimClock;
use crate::environment::tariff::{GridCharges, StepPrices};
use chrono::Datelike;
use bevy::prelude::*;
pub use community_funds::CommunityFunds;
pub use treasury::{BlockRewards, FeePolicy, Treasury, TreasuryConfig, TreasurySystems, PPM};

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
    /// The treasury of the community with this index (scenarios with `communities`).
    Community(u16),
    /// Sells communities their batteries and buys them back at a default.
    Supplier,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentKind {
    PeerTrade,
    PoolPurchase,
    PoolSale,
    GridImport,
    GridExport,
    /// A buyer pays the network operator the fee on a peer delivery.
    NetworkFee,
    /// A community's treasury pays a member, for what `Payout` says.
    CommunityPayout(Payout),
    /// A founding member pays its share of a community's initial fund into the treasury.
    CommunityContribution,
    /// Not money: the payer joins the payee community (amount 0), recorded on its books.
    CommunityJoin,
    /// Not money: the payer leaves the payee community (amount 0).
    CommunityLeave,
    /// A member pays its community's treasury for energy from the community battery.
    CommunityBatterySale,
    /// A community's treasury pays a member for surplus that charged the community battery.
    CommunityBatteryCharge,
    /// A community's treasury buys its battery from the supplier, at its founding.
    CommunityBatteryPurchase,
    /// The supplier buys a defaulted community's battery back at its remaining value.
    CommunityBatteryBuyback,
    /// Not money: the payer member votes in the payee community's referendum (amount 0).
    CommunityVote { yes: bool },
    /// Not money: the outcome of a community's referendum (payer and payee: the community).
    CommunityReferendum { passed: bool },
    /// A household pays the grid the tariff's supply charge for a billing period (`kwh`: the
    /// days billed, `price`: the charge per day).
    SupplyCharge,
    /// A household pays the grid the tariff's demand charge for a billing period (`kwh`: its
    /// peak import in kW, `price`: the charge per kW for the part of the month billed).
    DemandCharge,
}

/// What a community's treasury pays a member for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payout {
    /// Its pay as one of the community's witnesses for a period.
    WitnessPay,
    /// Part of the network fees it paid in a period, back.
    Rebate,
    /// The solidarity fund's payment to a member in energy hardship.
    Solidarity,
    /// Its share of a defaulted community's assets.
    DefaultShare,
}

/// One transfer of money.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Payment {
    pub payer: Account,
    pub payee: Account,
    pub amount: Micros,
    pub kind: PaymentKind,
    pub kwh: f64,
    /// Price per kWh, exact (peer and pool payments; the tariff for grid payments, the fee per
    /// kWh for network fees).
    pub price: crate::base::money::Price,
    /// Part of `amount` the payee passes on to the community fund (peer trades only).
    pub fee: Micros,
    /// Peer and pool purchases: energy lost on the lines on the way (`kwh` is what arrived).
    pub loss_kwh: f64,
}

impl Payment {
    /// A transfer of money alone, no energy behind it (a community's treasury paying or being
    /// paid; with amount 0, a membership record).
    pub fn transfer(payer: Account, payee: Account, amount: Micros, kind: PaymentKind) -> Payment {
        Payment { payer, payee, amount, kind, kwh: 0.0, price: crate::base::money::Price(0.0), fee: Micros::ZERO, loss_kwh: 0.0 }
    }
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
    pub supplier: Micros,
}

impl Accounts {
    fn balance_mut(&mut self, a: Account) -> Option<&mut Micros> {
        match a {
            Account::Grid => Some(&mut self.grid),
            Account::NetworkOperator => Some(&mut self.network_operator),
            Account::CommunityFund => Some(&mut self.community_fund),
            Account::Pool => Some(&mut self.pool),
            Account::Supplier => Some(&mut self.supplier),
            Account::Household(_) | Account::Community(_) => None,
        }
    }

    pub fn total(&self) -> Micros {
        self.grid + self.network_operator + self.community_fund + self.pool + self.supplier
    }
}

/// Per-household peer money of the step (scratch, by household index).
#[derive(Resource, Debug, Default)]
pub struct PeerMoney {
    paid: Vec<i64>,
    received: Vec<i64>,
    fees: Vec<i64>,
    network_fees: Vec<i64>,
    /// Paid to and received from a community's treasury for community-battery energy.
    battery_paid: Vec<i64>,
    battery_received: Vec<i64>,
}

/// The settlement's systems: money moves between accounts, after delivery, flows and line losses.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettlementSystems;

/// Money settlement, in [`SettlementSystems`], and the treasury's block rewards, in
/// [`TreasurySystems`]. The run's trades and grid exchange are settled beside a grid-only side
/// `B` (`sim` passes the baseline).
pub struct SettlementPlugin<B> {
    /// The community fund's fee and rewards, if the run has them.
    pub treasury: Option<TreasuryConfig>,
    /// The tariff's fixed charges and the number of households, if it has any.
    charges: Option<(GridCharges, usize)>,
    beside: std::marker::PhantomData<fn() -> B>,
}

impl<B: GridOnly> SettlementPlugin<B> {
    pub fn new(treasury: Option<TreasuryConfig>) -> Self {
        SettlementPlugin { treasury, charges: None, beside: std::marker::PhantomData }
    }

    /// With the tariff's fixed charges for `households` households (none: nothing billed).
    pub fn with_charges(self, charges: GridCharges, households: usize) -> Self {
        SettlementPlugin { charges: charges.any().then_some((charges, households)), ..self }
    }
}

impl<B: GridOnly> Plugin for SettlementPlugin<B> {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        if let Some((charges, n)) = self.charges {
            app.insert_resource(GridBilling::new(charges, n));
        }
        app.init_resource::<Accounts>()
            .insert_resource(Treasury::new(self.treasury))
            .init_resource::<BlockRewards>()
            .init_resource::<StepPayments>()
            .init_resource::<PeerMoney>()
            .init_resource::<CommunityFunds>()
            .add_systems(SimStep, (settle::<B>, bill_grid_charges::<B>).chain().in_set(SettlementSystems))
            .add_systems(SimStep, treasury::pay_block_rewards.in_set(TreasurySystems));
    }
}

/// Settles the step: buyers pay sellers (or the pool) for every trade, for the energy the loss
/// policy bills them (delivered, sent, or between), and the network operator its fee on the
/// energy sent; sellers pass the community fund's fee on; the pool pays its sellers;
/// members and their community's treasury pay each other for community-battery energy;
/// households pay the grid for imports and the grid pays them for exports.
/// Reads `Clearing`, `CommunityStorage`, `StepPrices`, `Treasury`, `LossPolicy`, `Meter`; writes `Wallet`,
/// `Accounts`, `CommunityFunds` (fees of members' trades), `StepPayments`, and the grid-only side's exchange (beside the rest, on the pool,
/// as a `Pace` region: see [`settle_grid_only`]). Runs in `SettlementSystems`, after delivery,
/// flows and line losses.
#[allow(clippy::too_many_arguments)]
pub fn settle<B: GridOnly>(
    clearing: Res<Clearing>,
    losses: Option<Res<crate::market::LossPolicy>>,
    prices: Res<StepPrices>,
    treasury: Res<Treasury>,
    mut funds: ResMut<CommunityFunds>,
    memberships: Res<crate::market::membership::Memberships>,
    storage: Option<Res<crate::market::storage::CommunityStorage>>,
    ids: Res<HouseholdIds>,
    mut accounts: ResMut<Accounts>,
    mut payments: ResMut<StepPayments>,
    mut peer: ResMut<PeerMoney>,
    mut households: Query<(&Household, &Meter, &mut Wallet)>,
    pace: Res<crate::base::exec::Pace>,
    mut beside: Query<&mut B::Exchange>,
) {
    // The grid-only side's exchange is independent of the run's money: it is settled beside
    // it, on the pool, so the step's thread does not also carry a loop over every household.
    let run = || {
        payments.0.clear();
        let n = ids.0.len();
        let peer = &mut *peer;
        let bearer = losses.map(|l| l.0).unwrap_or_default();
        for v in [&mut peer.paid, &mut peer.received, &mut peer.fees, &mut peer.network_fees, &mut peer.battery_paid, &mut peer.battery_received] {
            v.clear();
            v.resize(n, 0);
        }
        for t in &clearing.trades {
            let amount = t.price.amount_for(t.billed_kwh(bearer));
            let (payee, kind, fee) = match t.seller {
                Seller::Household { index, .. } => {
                    // With communities, the fee goes to the seller's community's treasury (both
                    // sides of a trade are members of it); otherwise to the one community fund.
                    let fee = match memberships.of(index) {
                        Some(c) => funds.collect(c, amount),
                        None => {
                            let fee = treasury.fee_on(amount);
                            accounts.community_fund += fee;
                            fee
                        }
                    };
                    peer.received[index as usize] += amount.0;
                    peer.fees[index as usize] += fee.0;
                    (Account::Household(index), PaymentKind::PeerTrade, fee)
                }
                Seller::Pool => {
                    accounts.pool += amount;
                    (Account::Pool, PaymentKind::PoolPurchase, Micros::ZERO)
                }
            };
            peer.paid[t.buyer as usize] += amount.0;
            payments.0.push(Payment { payer: Account::Household(t.buyer), payee, amount, kind, kwh: t.kwh, price: t.price, fee, loss_kwh: t.loss_kwh });
            if t.fee.0 > 0 {
                let charge = t.fee.amount_for(t.kwh_sent());
                peer.network_fees[t.buyer as usize] += charge.0;
                accounts.network_operator += charge;
                payments.0.push(Payment {
                    payer: Account::Household(t.buyer),
                    payee: Account::NetworkOperator,
                    amount: charge,
                    kind: PaymentKind::NetworkFee,
                    kwh: t.kwh_sent(),
                    price: t.fee.into(),
                    fee: Micros::ZERO,
                    loss_kwh: 0.0,
                });
            }
        }
        for s in &clearing.pool_sales {
            let amount = s.price.amount_for(s.kwh);
            accounts.pool -= amount;
            peer.received[s.seller as usize] += amount.0;
            // A community's fee is on every sale of its members, to peers or into its pool.
            let fee = memberships.of(s.seller).map_or(Micros::ZERO, |c| funds.collect(c, amount));
            peer.fees[s.seller as usize] += fee.0;
            payments.0.push(Payment { payer: Account::Pool, payee: Account::Household(s.seller), amount, kind: PaymentKind::PoolSale, kwh: s.kwh, price: s.price, fee, loss_kwh: s.made_up_kwh });
        }
        for x in storage.iter().flat_map(|s| &s.exchanges) {
            let (h, c) = (Account::Household(x.household), Account::Community(x.community));
            let treasury = &mut funds.balance[x.community as usize];
            // Recorded even when the amount rounds to nothing: the energy moved (the ledger checks
            // members' battery energy against households.csv).
            if x.bought_kwh > 0.0 {
                let amount = x.sell_price.amount_for(x.bought_kwh);
                peer.battery_paid[x.household as usize] += amount.0;
                *treasury += amount;
                payments.0.push(Payment { kwh: x.bought_kwh, price: x.sell_price.into(), ..Payment::transfer(h, c, amount, PaymentKind::CommunityBatterySale) });
            }
            if x.sold_kwh > 0.0 {
                let amount = x.buy_price.amount_for(x.sold_kwh);
                peer.battery_received[x.household as usize] += amount.0;
                *treasury -= amount;
                payments.0.push(Payment { kwh: x.sold_kwh, price: x.buy_price.into(), ..Payment::transfer(c, h, amount, PaymentKind::CommunityBatteryCharge) });
            }
        }
        for (h, m, mut w) in &mut households {
            let i = h.index as usize;
            let (battery_paid, battery_received) = (Micros(peer.battery_paid[i]), Micros(peer.battery_received[i]));
            w.community_battery_paid += battery_paid;
            w.community_battery_received += battery_received;
            w.balance += battery_received - battery_paid;
            let (paid, received, fees, network) = (Micros(peer.paid[i]), Micros(peer.received[i]), Micros(peer.fees[i]), Micros(peer.network_fees[i]));
            w.p2p_paid += paid;
            w.p2p_received += received;
            w.fees_paid += fees;
            w.network_fees_paid += network;
            w.balance += received - paid - fees - network;
            if m.grid_import_kwh > 0.0 {
                let amount = prices.import.amount_for(m.grid_import_kwh);
                transfer(&mut accounts, &mut w, amount, true);
                payments.0.push(Payment {
                    payer: Account::Household(h.index),
                    payee: Account::Grid,
                    amount,
                    kind: PaymentKind::GridImport,
                    kwh: m.grid_import_kwh,
                    price: prices.import.into(),
                    fee: Micros::ZERO,
                    loss_kwh: 0.0,
                });
            }
            if m.grid_export_kwh > 0.0 {
                let amount = prices.export.amount_for(m.grid_export_kwh);
                transfer(&mut accounts, &mut w, amount, false);
                payments.0.push(Payment {
                    payer: Account::Grid,
                    payee: Account::Household(h.index),
                    amount,
                    kind: PaymentKind::GridExport,
                    kwh: m.grid_export_kwh,
                    price: prices.export.into(),
                    fee: Micros::ZERO,
                    loss_kwh: 0.0,
                });
            }
        }
    };
    pace.join(run, || settle_grid_only::<B>(&prices, &mut beside));
}

/// Settles a grid-only side's step: what its limits left is exchanged with the grid at the
/// step's tariff (on an island nothing is), each payment rounded once from the exact price.
pub fn settle_grid_only<S: GridOnly>(prices: &StepPrices, households: &mut Query<&mut S::Exchange>) {
    for mut x in households.iter_mut() {
        let (import_kwh, export_kwh) = S::close_step(&mut x, prices.connected);
        let paid = if import_kwh > 0.0 { prices.import.amount_for(import_kwh) } else { Micros::ZERO };
        let received = if export_kwh > 0.0 { prices.export.amount_for(export_kwh) } else { Micros::ZERO };
        S::pay(&mut x, paid, received);
    }
}

/// The tariff's fixed charges over the current billing period (a local calendar month, cut at
/// the run's start and end): when it began, and each household's highest import so far in the
/// run and in the baseline, kWh in a step. Present only when the tariff has such charges.
#[derive(Resource, Debug, Clone)]
pub struct GridBilling {
    pub charges: GridCharges,
    first_step: u64,
    peak_kwh: Vec<f64>,
    baseline_peak_kwh: Vec<f64>,
    /// The baseline's supply and demand charges over the run, by household index.
    pub baseline_charges: Vec<(Micros, Micros)>,
}

impl GridBilling {
    pub fn new(charges: GridCharges, households: usize) -> GridBilling {
        GridBilling { charges, first_step: 0, peak_kwh: vec![0.0; households], baseline_peak_kwh: vec![0.0; households], baseline_charges: vec![(Micros::ZERO, Micros::ZERO); households] }
    }
}

/// Bills the tariff's fixed charges at the end of each local calendar month and of the run:
/// every household pays the grid its supply charge for the days billed and its demand charge
/// on its highest step import of the period (both pro rata to the share of the month billed),
/// and its baseline pays the same on the baseline's own peak. Reads `SimClock`, `Meter`;
/// writes `GridBilling`, `Wallet`, `Accounts`, `StepPayments`, the grid-only side's exchange.
/// Runs in `SettlementSystems`, after [`settle`]; does nothing without `GridBilling`.
pub fn bill_grid_charges<B: GridOnly>(
    clock: Res<SimClock>,
    billing: Option<ResMut<GridBilling>>,
    mut accounts: ResMut<Accounts>,
    mut payments: ResMut<StepPayments>,
    mut households: Query<(&Household, &Meter, &mut Wallet, &mut B::Exchange)>,
) {
    let Some(mut billing) = billing else { return };
    let b = &mut *billing;
    // Peaks matter only to a demand charge: without one this step-by-step pass is skipped.
    if b.charges.demand_per_kw_month.0 > 0 {
        for (h, m, _, x) in &households {
            let i = h.index as usize;
            b.peak_kwh[i] = b.peak_kwh[i].max(m.grid_import_kwh);
            b.baseline_peak_kwh[i] = b.baseline_peak_kwh[i].max(B::step_import_kwh(x));
        }
    }
    let (frame, step) = (&clock.frame, clock.step);
    let date = frame.local_date(step);
    if step + 1 < frame.total_steps && frame.local_date(step + 1).month() == date.month() {
        return;
    }
    let step_hours = frame.step_hours();
    // Calendar days on the local clock, so a month with a daylight-saving change still bills
    // its days (its 719 or 745 hours are 30 or 31 days).
    let wall = |s: u64| frame.zone.local(frame.step_start_utc(s)).0;
    let days = (wall(step + 1) - wall(b.first_step)).num_seconds() as f64 / 86_400.0;
    let month_days = date.num_days_in_month().into();
    for (h, _, mut w, mut x) in &mut households {
        let i = h.index as usize;
        let run = b.charges.period(days, month_days, b.peak_kwh[i] / step_hours);
        for (amount, kind, quantity, price) in [(run.supply, PaymentKind::SupplyCharge, days, b.charges.supply_per_day.as_units()), (run.demand, PaymentKind::DemandCharge, run.peak_kw, run.demand_price_per_kw.0)] {
            if amount.0 <= 0 {
                continue;
            }
            w.balance -= amount;
            *if kind == PaymentKind::SupplyCharge { &mut w.supply_charges } else { &mut w.demand_charges } += amount;
            *accounts.balance_mut(Account::Grid).expect("grid is an account") += amount;
            payments.0.push(Payment { payer: Account::Household(h.index), payee: Account::Grid, amount, kind, kwh: quantity, price: crate::base::money::Price(price), fee: Micros::ZERO, loss_kwh: 0.0 });
        }
        let base = b.charges.period(days, month_days, b.baseline_peak_kwh[i] / step_hours);
        B::charge(&mut x, base.supply + base.demand);
        let c = &mut b.baseline_charges[i];
        (c.0, c.1) = (c.0 + base.supply, c.1 + base.demand);
        (b.peak_kwh[i], b.baseline_peak_kwh[i]) = (0.0, 0.0);
    }
    b.first_step = step + 1;
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
