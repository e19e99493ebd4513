//! The market: households' orders, clearing by a pluggable [`TradingRule`], and delivery of the
//! result (peer trades, then the grid or, on an island, curtailment and unserved demand).
//!
//! Adding a rule: one file implementing [`TradingRule`] with a `RULE: RuleInfo` that builds it
//! from a [`RuleSetup`], plus its name in the `rules!` list below. See `src/market/README.md`.

pub mod communities;
pub mod external;
pub mod locality;
pub mod losses;
pub mod membership;
pub mod pool;
pub mod preferences;
pub mod registry;
pub mod storage;
pub mod transport;
pub mod zones;

// Every trading rule, in the order `peergrid rules` lists them: a file in this folder each.
registry::rules! {
    grid_only,
    double_auction,
    pay_as_bid,
    continuous,
    sdr,
    mmr,
    bill_sharing,
    nearest,
    preference,
    hierarchical,
}

use crate::household::battery::{Battery, BatteryMarketPolicy};
use crate::household::{Household, HouseholdIds, Meter};
use crate::base::money::{Price, PricePerKwh};
use crate::base::seed::{rng, Stream};
use crate::environment::tariff::StepPrices;
use crate::base::time::SimClock;
use bevy::prelude::*;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Orders and trades below this energy are dropped, kWh (floating-point dust).
pub const MIN_TRADE_KWH: f64 = 1e-9;

/// What a seller offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OfferSource {
    /// PV surplus after own use and battery.
    Pv,
    /// Stored energy above the battery's market reserve.
    Battery,
}

impl OfferSource {
    pub fn label(self) -> &'static str {
        match self {
            OfferSource::Pv => "pv",
            OfferSource::Battery => "battery",
        }
    }
}

/// One bid (to buy) or ask (to sell) of a household for this step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Order {
    pub household: u32,
    pub kwh: f64,
    /// Highest price a buyer pays / lowest a seller accepts.
    pub limit: PricePerKwh,
    pub source: OfferSource,
}

/// This step's orders. Written by [`submit_orders`]; rules may reorder them in place.
#[derive(Resource, Debug, Default)]
pub struct OrderBook {
    pub bids: Vec<Order>,
    pub asks: Vec<Order>,
}

/// Who delivered a trade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seller {
    Household { index: u32, source: OfferSource },
    /// Rules that pool supply (no pairs); sellers then appear in [`Clearing::pool_sales`].
    Pool,
}

/// A delivery to a buyer at a price.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Trade {
    pub seller: Seller,
    pub buyer: u32,
    /// Energy delivered to the buyer. Rules write the energy matched; after the step's power
    /// flow, line losses on the way are taken off (see [`losses`]), so the seller sent
    /// `kwh + loss_kwh`.
    pub kwh: f64,
    /// Energy price per kWh, exact as the rule computed it (the network fee comes on top).
    pub price: Price,
    /// Energy lost on the lines between seller and buyer, kWh.
    pub loss_kwh: f64,
    /// Network fee per kWh sent, by the zones the delivery crosses (see [`zones`]).
    pub fee: PricePerKwh,
    /// How far `price` moves per unit of the rule's price-position parameter
    /// ([`registry::ParamInfo::price_position`]): the marginal bid less the marginal ask for a
    /// k-double auction; zero for rules without one.
    pub price_span: PricePerKwh,
}

impl Trade {
    /// A delivery of `kwh` from the household behind `ask` to `buyer`.
    pub fn between(ask: &Order, buyer: u32, kwh: f64, price: Price) -> Trade {
        Trade { seller: Seller::Household { index: ask.household, source: ask.source }, buyer, kwh, price, loss_kwh: 0.0, fee: PricePerKwh(0), price_span: PricePerKwh(0) }
    }

    /// A delivery from the pool (pooling rules).
    pub fn from_pool(buyer: u32, kwh: f64, price: Price) -> Trade {
        Trade { seller: Seller::Pool, buyer, kwh, price, loss_kwh: 0.0, fee: PricePerKwh(0), price_span: PricePerKwh(0) }
    }

    /// Energy the seller sent, kWh.
    pub fn kwh_sent(&self) -> f64 {
        self.kwh + self.loss_kwh
    }

    /// The energy the buyer pays the energy price for, by who bears the losses.
    pub fn billed_kwh(&self, bearer: LossBearer) -> f64 {
        match bearer {
            LossBearer::Seller => self.kwh,
            LossBearer::Buyer => self.kwh_sent(),
            LossBearer::Shared => self.kwh + 0.5 * self.loss_kwh,
        }
    }
}

/// Who pays for the energy lost between seller and buyer (a market setting, for every rule):
/// the seller is paid only for what arrives, the buyer pays for what was sent, or they split
/// the loss half and half.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum LossBearer {
    #[default]
    Seller,
    Buyer,
    Shared,
}

impl LossBearer {
    pub fn label(self) -> &'static str {
        match self {
            LossBearer::Seller => "seller",
            LossBearer::Buyer => "buyer",
            LossBearer::Shared => "shared",
        }
    }
}

/// A seller's sale into a pool (pooling rules only).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolSale {
    pub seller: u32,
    pub source: OfferSource,
    pub kwh: f64,
    pub price: Price,
    /// On an island: energy the seller sent on top of `kwh` to make up the pool's buyers' line
    /// losses (unpaid: it would have been curtailed).
    pub made_up_kwh: f64,
}

/// The outcome of clearing one step. Written by [`clear_market`]; read by delivery, settlement
/// and metrics.
#[derive(Resource, Debug, Default)]
pub struct Clearing {
    pub trades: Vec<Trade>,
    pub pool_sales: Vec<PoolSale>,
    /// Rules with separate buyer and seller prices report them here.
    pub buy_price: Option<PricePerKwh>,
    pub sell_price: Option<PricePerKwh>,
    /// Energy matched at each community level (0 = whole community), by rules that clear in
    /// levels (`hierarchical`); empty otherwise.
    pub kwh_by_level: Vec<f64>,
}

impl Clearing {
    pub fn clear(&mut self) {
        self.trades.clear();
        self.pool_sales.clear();
        self.kwh_by_level.clear();
        self.buy_price = None;
        self.sell_price = None;
    }
}

/// What a rule builds itself from when it is created: once per run, and again when the demo
/// switches rules. A rule takes the parts it needs; a part that is missing (a book tested
/// without a grid) leaves it to treat every household alike.
#[derive(Debug, Clone, Default)]
pub struct RuleSetup {
    /// The rule's parameters, validated: every declared parameter is present.
    pub params: BTreeMap<String, f64>,
    /// Where households sit on the grid (grid distances), when there is a grid.
    pub locality: Option<Arc<locality::Locality>>,
    /// What households value besides price.
    pub preferences: Arc<preferences::Preferences>,
    /// Each household's community path, outermost first (none: one community).
    pub communities: Arc<Vec<Vec<String>>>,
    /// Households joining and leaving communities during the run, in step order.
    pub community_events: Arc<Vec<communities::CommunityEvent>>,
}

impl RuleSetup {
    /// A setup of parameters alone: no grid, no stated preferences, one community.
    pub fn with_params(params: BTreeMap<String, f64>) -> RuleSetup {
        RuleSetup { params, ..Default::default() }
    }
}

/// What a rule knows at each clearing besides the orders.
#[derive(Debug, Clone)]
pub struct MarketContext {
    pub step: u64,
    pub prices: StepPrices,
}

/// The households' zones and the network fee schedule, resolved once per run.
#[derive(Resource, Clone, Default)]
pub struct MarketZones(pub Arc<zones::ZoneFees>);

/// Who bears line losses on peer deliveries (the scenario's `market.loss_bearer`).
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossPolicy(pub LossBearer);

/// The most a household pays per kWh from peers (its stated price ceiling); caps its bids under
/// every rule.
#[derive(Component, Debug, Clone, Copy, PartialEq)]
pub struct PriceCeiling(pub PricePerKwh);

/// A trading rule: turns the order book into trades. Rules must respect every order's quantity
/// and limit price (individual rationality) and must not depend on the order of the book.
/// `Any` lets a test look inside the rule in force.
pub trait TradingRule: std::any::Any + Send + Sync {
    fn info(&self) -> &'static registry::RuleInfo;
    /// Called at the start of every step's clearing, before `clear` and also in steps with
    /// nothing to clear: where a rule applies what changes during the run (community events).
    fn begin_step(&mut self, _step: u64) {}
    /// True for rules that pool supply (no pairs): network fees are then charged on the
    /// share of energy crossing zones instead of clearing zone by zone.
    fn pools(&self) -> bool {
        false
    }
    /// Clears one step. `rng` is this step's market stream; `out` is empty on entry.
    fn clear(&mut self, book: &mut OrderBook, ctx: &MarketContext, rng: &mut ChaCha8Rng, out: &mut Clearing);
    /// Why the rule stopped clearing, naming the step (a registered rule whose result failed
    /// the core's checks, see [`external`]); the run ends with it as an error.
    fn failure(&self) -> Option<String> {
        None
    }
}

/// The rule in force; replace it to switch rules between steps.
#[derive(Resource)]
pub struct ActiveRule(pub Box<dyn TradingRule>);

/// The scenario seed, for the per-step market stream.
#[derive(Resource, Debug, Clone, Copy)]
pub struct MarketSeed(pub u64);

/// The run's rule setup without a rule's parameters: what a new rule is built from when the
/// rule in force is switched.
#[derive(Resource, Debug, Clone)]
pub struct MarketSetup(pub RuleSetup);

impl MarketSetup {
    /// `rule` with `params`, built for this run.
    pub fn build(&self, rule: &'static registry::RuleInfo, params: BTreeMap<String, f64>) -> ActiveRule {
        ActiveRule(rule.create(&RuleSetup { params, ..self.0.clone() }))
    }
}

/// The market's settings for a run, resolved from the scenario.
#[derive(Debug, Clone)]
pub struct MarketConfig {
    pub rule: &'static registry::RuleInfo,
    /// The setup the rule is built from, with its parameters.
    pub setup: RuleSetup,
    /// The scenario's seed (the market's streams derive from it).
    pub seed: u64,
    /// The households' zones and the network fee schedule.
    pub zones: Arc<zones::ZoneFees>,
    pub loss_bearer: LossBearer,
    /// Rules the market switches to during the run, by step (ascending).
    pub rule_switches: Vec<(u64, &'static registry::RuleInfo)>,
}

/// The rules the market switches to, by step (ascending), and the rule and parameters it started
/// with (a switch back to it takes them again).
#[derive(Resource, Debug, Clone)]
pub struct RuleSwitches {
    pub switches: Vec<(u64, &'static registry::RuleInfo)>,
    pub initial: (&'static registry::RuleInfo, BTreeMap<String, f64>),
}

/// Switches the trading rule at the steps the scenario's `SwitchRule` events give; it clears
/// from that step on. Reads `SimClock`, `RuleSwitches`, `MarketSetup`; writes `ActiveRule`.
/// Runs in `MarketSystems::Orders`, before the orders.
pub fn switch_rule(clock: Res<SimClock>, switches: Res<RuleSwitches>, setup: Res<MarketSetup>, mut active: ResMut<ActiveRule>) {
    for (_, rule) in switches.switches.iter().filter(|(step, _)| *step == clock.step) {
        let params = if *rule == switches.initial.0 { switches.initial.1.clone() } else { registry::default_params(rule) };
        *active = setup.build(rule, params);
    }
}

/// Per-household deliveries of the step, by household index (scratch reused every step).
#[derive(Resource, Debug, Default)]
pub struct Deliveries {
    pub bought_kwh: Vec<f64>,
    /// On an island: PV surplus nobody bought (curtailed), which can make up line losses.
    pub unsold_kwh: Vec<f64>,
    pub sold_pv_kwh: Vec<f64>,
    pub sold_battery_kwh: Vec<f64>,
}

/// The market's systems, in this order in every step.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MarketSystems {
    /// Households' bids and asks.
    Orders,
    /// The trading rule clears the book.
    Clearing,
    /// Peer deliveries, then grid import/export (or unserved/curtailed on an island).
    Delivery,
    /// Line losses taken off the step's deliveries, once the grid has solved the step's flows.
    Losses,
}

/// Orders, clearing, delivery and line losses, in their `MarketSystems` sets, for the rule and
/// settings of a [`MarketConfig`].
pub struct MarketPlugin(pub MarketConfig);

impl Plugin for MarketPlugin {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        let c = &self.0;
        let setup = MarketSetup(RuleSetup { params: BTreeMap::new(), ..c.setup.clone() });
        app.insert_resource(setup.build(c.rule, c.setup.params.clone()))
            .insert_resource(setup)
            .insert_resource(MarketSeed(c.seed))
            .insert_resource(MarketZones(c.zones.clone()))
            .insert_resource(LossPolicy(c.loss_bearer))
            .init_resource::<OrderBook>()
            .init_resource::<Clearing>()
            .init_resource::<Deliveries>()
            .init_resource::<membership::Memberships>()
            .insert_resource(RuleSwitches { switches: c.rule_switches.clone(), initial: (c.rule, c.setup.params.clone()) })
            .add_systems(SimStep, (switch_rule, submit_orders).chain().in_set(MarketSystems::Orders))
            .add_systems(SimStep, clear_market.in_set(MarketSystems::Clearing))
            .add_systems(SimStep, deliver.in_set(MarketSystems::Delivery))
            .add_systems(SimStep, losses::attribute_trade_losses.in_set(MarketSystems::Losses));
    }
}

/// A household's bidding strategy (see `BiddingSpec` in the scenario schema).
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct Bidding(pub BiddingSpec);

impl Bidding {
    /// (bid, ask) limits for this step. `draw(side)` is the household's keyed uniform draw.
    pub fn limits(&self, prices: &StepPrices, draw: impl Fn(u64) -> f64) -> (PricePerKwh, PricePerKwh) {
        let (b, s) = (prices.import.0, prices.export.0);
        let spread = (b - s).max(0) as f64;
        match self.0 {
            BiddingSpec::Truthful => (prices.import, prices.export),
            BiddingSpec::Markup(m) => (PricePerKwh(b - (m * spread).round() as i64), PricePerKwh(s + (m * spread).round() as i64)),
            BiddingSpec::ZeroIntelligence => (PricePerKwh(s + (draw(0) * spread) as i64), PricePerKwh(s + (draw(1) * spread) as i64)),
        }
    }
}

/// Households' orders: deficits are bid and PV surplus asked at their strategy's limits
/// (truthful: the import and export price; on an island the value of lost load and the surplus
/// floor); batteries ask the policy's offer price. Zero-intelligence draws are keyed by (step,
/// household, side), so they do not depend on iteration order.
/// A stated price ceiling lowers the bid. Limits set from outside ([`external::BidOverrides`]:
/// a learning environment's actions, strategies written in Python) replace the household's own.
/// Reads `Meter`, `Bidding`, `PriceCeiling`, `StepPrices`, `BatteryMarketPolicy`, `SimClock`, `MarketSeed`;
/// writes `OrderBook` and `BidOverrides` (its strategies' limits). Runs in `MarketSystems::Orders`,
/// after own use and battery.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub fn submit_orders(
    prices: Res<StepPrices>,
    policy: Res<BatteryMarketPolicy>,
    clock: Res<SimClock>,
    seed: Res<MarketSeed>,
    mut book: ResMut<OrderBook>,
    mut battery_asks: Local<Vec<Order>>,
    mut needs: Local<Vec<external::BidNeed>>,
    mut overrides: Option<ResMut<external::BidOverrides>>,
    households: Query<(&Household, &Meter, &Bidding, Option<&PriceCeiling>, Option<&crate::household::vehicle::Vehicle>, Option<&crate::household::heating::HeatPump>)>,
) {
    book.bids.clear();
    book.asks.clear();
    battery_asks.clear();
    let trades = |m: &Meter| m.deficit_kwh > MIN_TRADE_KWH || m.surplus_kwh > MIN_TRADE_KWH || m.battery_offer_kwh > MIN_TRADE_KWH || m.flexible_kwh > MIN_TRADE_KWH;
    if let Some(o) = overrides.as_deref_mut().filter(|o| !o.strategies.is_empty()) {
        needs.clear();
        needs.extend(households.iter().filter(|(_, m, ..)| trades(m)).map(|(h, m, ..)| external::BidNeed { household: h.index, deficit_kwh: m.deficit_kwh, surplus_kwh: m.surplus_kwh, battery_offer_kwh: m.battery_offer_kwh, flexible_kwh: m.flexible_kwh }));
        needs.sort_by_key(|n| n.household);
        o.run_strategies(clock.step, &prices, &needs, households.iter().count());
    }
    let overrides = overrides.as_deref();
    let battery_price = policy.offer_price.unwrap_or(PricePerKwh((prices.import.0 + prices.export.0) / 2));
    let key = rand::Rng::next_u64(&mut rng(seed.0, Stream::Bids, clock.step));
    for (h, m, bidding, ceiling, car, pump) in &households {
        let flexible = m.flexible_kwh;
        if !trades(m) {
            continue;
        }
        let own = || bidding.limits(&prices, |side| crate::base::seed::keyed_unit(key, h.index as u64 * 2 + side));
        let (bid, ask) = overrides.and_then(|o| o.get(h.index)).unwrap_or_else(own);
        let bid = ceiling.map_or(bid, |c| bid.min(c.0));
        if m.deficit_kwh > MIN_TRADE_KWH {
            book.bids.push(Order { household: h.index, kwh: m.deficit_kwh, limit: bid, source: OfferSource::Pv });
        }
        // Flexible orders, below the must-run bid: what a car does not get, it shifts; what a
        // heat pump does not get, it does not pre-heat.
        let midway = PricePerKwh((prices.import.0 + prices.export.0) / 2);
        let heat = m.heat_flexible_kwh.min(flexible);
        if let (Some(p), true) = (pump, heat > MIN_TRADE_KWH) {
            book.bids.push(Order { household: h.index, kwh: heat, limit: p.flexible_limit(midway).min(bid), source: OfferSource::Pv });
        }
        if let (Some(c), true) = (car, flexible - heat > MIN_TRADE_KWH) {
            let limit = c.spec.flexible_price_per_kwh.map_or(midway, PricePerKwh::from_units);
            book.bids.push(Order { household: h.index, kwh: flexible - heat, limit: limit.min(bid), source: OfferSource::Pv });
        }
        if m.surplus_kwh > MIN_TRADE_KWH {
            book.asks.push(Order { household: h.index, kwh: m.surplus_kwh, limit: ask, source: OfferSource::Pv });
        }
        if m.battery_offer_kwh > MIN_TRADE_KWH {
            battery_asks.push(Order { household: h.index, kwh: m.battery_offer_kwh, limit: battery_price, source: OfferSource::Battery });
        }
    }
    // Battery asks after the PV asks: with truthful limits the book is then a few runs already
    // in merit order (one per archetype), which the merit-order sort merges in a couple of passes.
    book.asks.append(&mut battery_asks);
}

/// Clears the book with the active rule, or, in runs with communities, each community's members'
/// orders with its own rule (see [`membership`]); with network fees, pair-forming rules clear
/// zone by zone and every trade gets its fee (see [`zones`]). Reads `OrderBook`, `StepPrices`,
/// `SimClock`, `MarketSeed`, `MarketZones`, `Memberships`; writes `Clearing` and `ActiveRule` or
/// `CommunityMarkets` (their step hooks). Runs in
/// `MarketSystems::Clearing`, after orders.
#[allow(clippy::too_many_arguments)]
pub fn clear_market(
    clock: Res<SimClock>,
    prices: Res<StepPrices>,
    seed: Res<MarketSeed>,
    zones: Option<Res<MarketZones>>,
    mut scratch: Local<zones::ZoneScratch>,
    mut rule: ResMut<ActiveRule>,
    mut book: ResMut<OrderBook>,
    mut clearing: ResMut<Clearing>,
    communities: Option<ResMut<membership::CommunityMarkets>>,
    members: Res<membership::Memberships>,
) {
    clearing.clear();
    let ctx = MarketContext { step: clock.step, prices: *prices };
    if let Some(mut markets) = communities {
        markets.clear(&book, &members, &ctx, seed.0, zones.as_ref().map(|z| &*z.0), &mut scratch, &mut clearing);
        return;
    }
    rule.0.begin_step(clock.step);
    if book.bids.is_empty() || book.asks.is_empty() {
        return;
    }
    let mut rng = rng(seed.0, Stream::Market, clock.step);
    clear_book(&mut *rule.0, &mut book, &ctx, &mut rng, &mut clearing, zones.as_ref().map(|z| &*z.0), &mut scratch);
}

/// Clears one book with `rule`: with network fees, pair-forming rules clear zone by zone and
/// every trade gets its fee (see [`zones`]). The path every run takes; `out` is empty on entry.
pub fn clear_book(
    rule: &mut dyn TradingRule,
    book: &mut OrderBook,
    ctx: &MarketContext,
    rng: &mut ChaCha8Rng,
    out: &mut Clearing,
    zones: Option<&zones::ZoneFees>,
    scratch: &mut zones::ZoneScratch,
) {
    let zf = zones.filter(|z| !z.fees.is_zero());
    match zf {
        Some(zf) if !rule.pools() => zones::clear_by_zone(rule, book, ctx, rng, out, zf, scratch),
        _ => rule.clear(book, ctx, rng, out),
    }
    // Rules skip dust themselves (a pool must keep every share to stay balanced).
    out.trades.retain(|t| t.kwh > 0.0);
    if let Some(zf) = zf {
        zones::charge_fees(out, zf);
    }
}

/// Applies the clearing: peer deliveries, battery discharge for stored energy sold, community
/// batteries (see [`storage`]) and the rest to or from the grid (on an island: curtailed or
/// unserved). Reads `Clearing`, `StepPrices`, `Memberships`; writes `Meter`, `Battery`,
/// `Deliveries`, `CommunityStorage`. Runs in `MarketSystems::Delivery`, after clearing.
#[allow(clippy::type_complexity)]
pub fn deliver(
    prices: Res<StepPrices>,
    clearing: Res<Clearing>,
    ids: Res<HouseholdIds>,
    members: Res<membership::Memberships>,
    mut scratch: ResMut<Deliveries>,
    mut storage: Option<ResMut<storage::CommunityStorage>>,
    mut households: Query<(&Household, &mut Meter, Option<&mut Battery>, Option<&mut crate::household::vehicle::Vehicle>, Option<&mut crate::household::heating::HeatPump>)>,
) {
    let n = ids.0.len();
    let d = &mut *scratch;
    for v in [&mut d.bought_kwh, &mut d.unsold_kwh, &mut d.sold_pv_kwh, &mut d.sold_battery_kwh] {
        v.clear();
        v.resize(n, 0.0);
    }
    let mut credit_sale = |index: u32, source: OfferSource, kwh: f64| match source {
        OfferSource::Pv => d.sold_pv_kwh[index as usize] += kwh,
        OfferSource::Battery => d.sold_battery_kwh[index as usize] += kwh,
    };
    for t in &clearing.trades {
        if let Seller::Household { index, source } = t.seller {
            credit_sale(index, source, t.kwh);
        }
    }
    for s in &clearing.pool_sales {
        credit_sale(s.seller, s.source, s.kwh);
    }
    for t in &clearing.trades {
        d.bought_kwh[t.buyer as usize] += t.kwh;
    }
    // Community batteries take what the market left of their members' surplus and deficit.
    let mut storage = storage.as_deref_mut().and_then(|s| s.begin(n).then_some(s));
    for (h, mut m, battery, car, pump) in &mut households {
        let i = h.index as usize;
        let (bought, sold_pv, sold_battery) = (d.bought_kwh[i], d.sold_pv_kwh[i], d.sold_battery_kwh[i]);
        // What it bought beyond its deficit filled its car's flexible order (the must-run bid
        // is the dearer, so it fills first): the car charges it, as load.
        // The flexible orders in the order a rule fills them: the dearer limit first (the
        // heat pump's on a tie).
        // (Only when it bought beyond its deficit: else there is nothing to deliver, and most
        // households' devices are not read at all.)
        let midway = PricePerKwh((prices.import.0 + prices.export.0) / 2);
        let beyond = bought > m.deficit_kwh;
        let pump_limit = pump.as_ref().filter(|_| beyond).map_or(midway, |p| p.flexible_limit(midway));
        let car_limit = car.as_ref().filter(|_| beyond).map_or(midway, |c| c.spec.flexible_price_per_kwh.map_or(midway, PricePerKwh::from_units));
        let (mut pump, mut car) = (pump, car);
        for heat_first in [pump_limit >= car_limit, pump_limit < car_limit].into_iter().filter(|_| beyond) {
            if heat_first {
                if let Some(p) = pump.as_mut().filter(|_| m.heat_flexible_kwh > 0.0 && bought > m.deficit_kwh) {
                    let taken = p.take_flexible((bought - m.deficit_kwh).min(m.heat_flexible_kwh));
                    m.load_kwh += taken;
                    m.heat_pump_kwh += taken;
                    m.deficit_kwh += taken;
                }
            } else if let Some(c) = car.as_mut().filter(|_| m.flexible_kwh - m.heat_flexible_kwh > 0.0 && bought > m.deficit_kwh) {
                let taken = c.take_flexible((bought - m.deficit_kwh).min(m.flexible_kwh - m.heat_flexible_kwh));
                m.load_kwh += taken;
                m.ev_kwh += taken;
                m.deficit_kwh += taken;
            }
        }
        if let Some(s) = storage.as_deref_mut() {
            s.note_left(h.index, (m.surplus_kwh - sold_pv).max(0.0), (m.deficit_kwh - bought).max(0.0));
        }
        // Only a battery that discharges is written (its change tick is not touched otherwise).
        let battery = battery.filter(|_| sold_battery > 0.0).map(Mut::into_inner);
        let unsold = m.book_deliveries(battery, bought, sold_pv, sold_battery, prices.connected);
        if !prices.connected {
            d.unsold_kwh[i] = unsold;
        }
    }
    if let Some(s) = storage {
        s.operate(&members, &prices);
        for (h, mut m, _, _, _) in &mut households {
            let taken = s.book(h.index, members.of(h.index), &mut m, prices.connected);
            if !prices.connected {
                d.unsold_kwh[h.index as usize] -= taken;
            }
        }
    }
}


/// How a household prices its orders (separate from the trading rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
pub enum BiddingSpec {
    /// Reservation prices from the tariff: bid the import price, ask the export price.
    #[default]
    Truthful,
    /// Zero-intelligence constrained (Gode and Sunder 1993): a random price each step between
    /// the export and import price, so never a loss against the grid.
    ZeroIntelligence,
    /// Fixed markup: ask export + m·(import − export), bid import − m·(import − export).
    Markup(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_stay_between_the_grid_prices() {
        let p = StepPrices { import: PricePerKwh(300_000), export: PricePerKwh(60_000), connected: true };
        assert_eq!(Bidding(BiddingSpec::Truthful).limits(&p, |_| 0.5), (PricePerKwh(300_000), PricePerKwh(60_000)));
        // Markup 0.25 of the 0.24 spread: bid 0.30 − 0.06 = 0.24, ask 0.06 + 0.06 = 0.12.
        assert_eq!(Bidding(BiddingSpec::Markup(0.25)).limits(&p, |_| 0.5), (PricePerKwh(240_000), PricePerKwh(120_000)));
        for u in [0.0, 0.3, 0.999_999] {
            let (bid, ask) = Bidding(BiddingSpec::ZeroIntelligence).limits(&p, |_| u);
            assert!((60_000..=300_000).contains(&bid.0) && (60_000..=300_000).contains(&ask.0));
        }
    }
}
