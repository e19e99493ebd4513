//! Trading rules and bidding strategies supplied while the program runs (the Python package's):
//! a rule registered here is found by name like a built-in one, and every clearing it returns is
//! checked before it is used; a strategy sets the bid and ask limits of the households it covers.
//!
//! The core owns the checks, so no caller can get an unchecked result into a run: each match
//! names a bid and an ask of the book as handed over, and must not over-fill either, must not
//! price above the bid or below the ask, and must carry finite, positive energy. The first match
//! that breaks one of these ends the run with an error naming the step (see
//! [`TradingRule::failure`]).

use super::registry::{ParamInfo, RuleInfo};
use super::{Clearing, MarketContext, Order, OrderBook, Trade, TradingRule, MIN_TRADE_KWH};
use crate::base::money::{Price, PricePerKwh};
use crate::environment::tariff::StepPrices;
use bevy::prelude::*;
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, RwLock};

/// A rule's match: `kwh` from the ask at `ask` to the bid at `bid` (positions in the book as the
/// rule received it), at `price_micros_per_kwh` (micro-units per kWh, exact: each payment is
/// rounded once from it, as for built-in rules).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Match {
    pub bid: usize,
    pub ask: usize,
    pub kwh: f64,
    pub price_micros_per_kwh: f64,
}

/// A clearing supplied from outside the crate. `Err` is the rule's own failure (an exception),
/// reported with the step.
pub trait ExternalClearing: Send + Sync {
    fn clear(&mut self, step: u64, prices: &StepPrices, bids: &[Order], asks: &[Order]) -> Result<Vec<Match>, String>;
}

/// Builds a fresh clearing for a run (once per run and per community using the rule).
pub type ClearingFactory = dyn Fn(&super::RuleSetup) -> Box<dyn ExternalClearing> + Send + Sync;

/// Registered rules: their (leaked, so `&'static` like the built-in ones) descriptions and
/// factories, in the order they were first registered.
static REGISTERED: RwLock<Vec<(&'static RuleInfo, Arc<ClearingFactory>)>> = RwLock::new(Vec::new());

/// Registers `name` (or replaces the factory of a rule registered before under it). A built-in
/// rule's name is refused. Returns the rule's description, found by [`super::registry::find`]
/// from now on.
pub fn register(name: &str, summary: &str, factory: Arc<ClearingFactory>) -> Result<&'static RuleInfo, String> {
    if name.is_empty() || name.chars().any(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        return Err(format!("rule name `{name}`: use letters, digits, `-` and `_`"));
    }
    if super::RULES.iter().any(|r| r.name == name) {
        return Err(format!("rule name `{name}` is a built-in rule's; choose another"));
    }
    let mut all = REGISTERED.write().unwrap_or_else(|e| e.into_inner());
    if let Some(entry) = all.iter_mut().find(|(info, _)| info.name == name) {
        entry.1 = factory;
        return Ok(entry.0);
    }
    let info: &'static RuleInfo = Box::leak(Box::new(RuleInfo {
        name: Box::leak(name.to_string().into_boxed_str()),
        summary: Box::leak(summary.to_string().into_boxed_str()),
        params: &[] as &'static [ParamInfo],
        build: unbuilt,
    }));
    all.push((info, factory));
    Ok(info)
}

/// A registered rule by name.
pub fn find(name: &str) -> Option<&'static RuleInfo> {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).iter().find(|(info, _)| info.name == name).map(|(info, _)| *info)
}

/// The registered rules' names, in registration order.
pub fn names() -> Vec<&'static str> {
    REGISTERED.read().unwrap_or_else(|e| e.into_inner()).iter().map(|(info, _)| info.name).collect()
}

/// The rule for `info` if it is a registered one, built for this run and wrapped in the checks.
pub(super) fn build(info: &'static RuleInfo, setup: &super::RuleSetup) -> Option<Box<dyn TradingRule>> {
    let factory = REGISTERED.read().unwrap_or_else(|e| e.into_inner()).iter().find(|(i, _)| std::ptr::eq(*i, info)).map(|(_, f)| f.clone())?;
    Some(Box::new(CheckedRule { info, inner: factory(setup), failure: None }))
}

/// `RuleInfo::build` of a registered rule, reached only by calling the field directly instead
/// of [`RuleInfo::create`]: a rule that fails at its first step, saying so.
fn unbuilt(_: &super::RuleSetup) -> Box<dyn TradingRule> {
    Box::new(Unbuilt)
}

struct Unbuilt;

impl TradingRule for Unbuilt {
    fn info(&self) -> &'static RuleInfo {
        &super::grid_only::RULE
    }
    fn clear(&mut self, _: &mut OrderBook, _: &MarketContext, _: &mut ChaCha8Rng, _: &mut Clearing) {}
    fn failure(&self) -> Option<String> {
        Some("a registered rule was built without its factory (use RuleInfo::create)".into())
    }
}

/// A registered rule in a run: calls the clearing, checks its matches and turns them into
/// trades. After a failure it clears nothing (the run stops at the end of the step).
struct CheckedRule {
    info: &'static RuleInfo,
    inner: Box<dyn ExternalClearing>,
    failure: Option<String>,
}

impl TradingRule for CheckedRule {
    fn info(&self) -> &'static RuleInfo {
        self.info
    }

    fn clear(&mut self, book: &mut OrderBook, ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        if self.failure.is_some() {
            return;
        }
        let checked = self.inner.clear(ctx.step, &ctx.prices, &book.bids, &book.asks).and_then(|matches| check(&book.bids, &book.asks, &matches).map(|()| matches));
        match checked {
            Ok(matches) => {
                // Dust is dropped, as the built-in rules drop it.
                let kept = matches.iter().filter(|m| m.kwh > MIN_TRADE_KWH);
                out.trades.extend(kept.map(|m| Trade::between(&book.asks[m.ask], book.bids[m.bid].household, m.kwh, Price::from_micros(m.price_micros_per_kwh))));
            }
            Err(e) => self.failure = Some(format!("rule `{}` at step {}: {e}", self.info.name, ctx.step)),
        }
    }

    fn failure(&self) -> Option<String> {
        self.failure.clone()
    }
}

/// Relative slack on an order's quantity for float sums of its parts (a rule splitting an order
/// over several matches adds them up in its own order).
pub const FILL_TOLERANCE: f64 = 1e-9;

/// Checks a rule's matches against the book: positions exist, energy is finite and positive,
/// each price is finite and between the ask's and the bid's limit, and no order is matched for
/// more than its quantity (within a relative [`FILL_TOLERANCE`]). The error names the first match
/// that fails (0-based) and why. A household matched with itself is allowed, as in the built-in
/// rules (its flexible bid and its battery's ask, say).
pub fn check(bids: &[Order], asks: &[Order], matches: &[Match]) -> Result<(), String> {
    let mut bid_kwh = vec![0.0; bids.len()];
    let mut ask_kwh = vec![0.0; asks.len()];
    for (n, m) in matches.iter().enumerate() {
        let bid = bids.get(m.bid).ok_or_else(|| format!("match {n} names bid {} but the book has {} bids", m.bid, bids.len()))?;
        let ask = asks.get(m.ask).ok_or_else(|| format!("match {n} names ask {} but the book has {} asks", m.ask, asks.len()))?;
        if !(m.kwh.is_finite() && m.kwh > 0.0) {
            return Err(format!("match {n} carries {} kWh: energy must be finite and positive", m.kwh));
        }
        if !m.price_micros_per_kwh.is_finite() {
            return Err(format!("match {n} has price {}: it must be finite", m.price_micros_per_kwh));
        }
        if m.price_micros_per_kwh > bid.limit.0 as f64 {
            return Err(format!("match {n} prices {} micro-units/kWh above bid {} (household {}) limit {}", m.price_micros_per_kwh, m.bid, bid.household, bid.limit.0));
        }
        if m.price_micros_per_kwh < ask.limit.0 as f64 {
            return Err(format!("match {n} prices {} micro-units/kWh below ask {} (household {}) limit {}", m.price_micros_per_kwh, m.ask, ask.household, ask.limit.0));
        }
        bid_kwh[m.bid] += m.kwh;
        ask_kwh[m.ask] += m.kwh;
        if bid_kwh[m.bid] > bid.kwh * (1.0 + FILL_TOLERANCE) {
            return Err(format!("match {n} over-fills bid {} (household {}): {} kWh matched of {} kWh", m.bid, bid.household, bid_kwh[m.bid], bid.kwh));
        }
        if ask_kwh[m.ask] > ask.kwh * (1.0 + FILL_TOLERANCE) {
            return Err(format!("match {n} over-fills ask {} (household {}): {} kWh matched of {} kWh", m.ask, ask.household, ask_kwh[m.ask], ask.kwh));
        }
    }
    Ok(())
}

/// What a household brings to this step's market, as a bidding strategy sees it (kWh).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BidNeed {
    pub household: u32,
    pub deficit_kwh: f64,
    pub surplus_kwh: f64,
    pub battery_offer_kwh: f64,
    pub flexible_kwh: f64,
}

/// A bidding strategy supplied from outside the crate, for the households it covers: sets
/// `limits[i]` (bid, ask) for the needs it wants to price; a need left `None` keeps its
/// household's own strategy. Called once a step, with only its households that trade.
pub trait ExternalBidding: Send + Sync {
    fn covers(&self, household: u32) -> bool;
    fn limits(&mut self, step: u64, prices: &StepPrices, needs: &[BidNeed], limits: &mut [Option<(PricePerKwh, PricePerKwh)>]) -> Result<(), String>;
}

/// Builds a run's strategies (each run gets its own).
#[derive(Clone)]
pub struct StrategyFactory(pub Arc<dyn Fn() -> Vec<Box<dyn ExternalBidding>> + Send + Sync>);

impl std::fmt::Debug for StrategyFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StrategyFactory")
    }
}

/// The largest limit a strategy may set, micro-units per kWh (10,000 currency units per kWh):
/// beyond any tariff, and far from where a year of payments could overflow.
pub const MAX_LIMIT_MICROS: i64 = 10_000_000_000;

/// Bid and ask limits set from outside for this step, by household index (a learning
/// environment's actions), and strategies called each step. Read by `submit_orders`: a set limit
/// replaces the household's own strategy's (a stated price ceiling still caps the bid).
#[derive(Resource, Default)]
pub struct BidOverrides {
    /// Fixed limits by household index (empty or `None`: the household's own strategy).
    pub limits: Vec<Option<(PricePerKwh, PricePerKwh)>>,
    pub strategies: Vec<Box<dyn ExternalBidding>>,
    /// The first strategy failure, with its step; the run stops at the end of the step.
    pub failure: Option<String>,
    needs: Vec<BidNeed>,
    set: Vec<Option<(PricePerKwh, PricePerKwh)>>,
}

impl BidOverrides {
    /// Overrides by these strategies.
    pub fn with(strategies: Vec<Box<dyn ExternalBidding>>) -> BidOverrides {
        BidOverrides { strategies, ..Default::default() }
    }

    /// The limits a household bids this step, if set from outside.
    pub fn get(&self, household: u32) -> Option<(PricePerKwh, PricePerKwh)> {
        self.limits.get(household as usize).copied().flatten()
    }

    /// Calls every strategy with its households' needs (`all`: every household that trades this
    /// step) and writes what they set into `limits`. Prices are checked: a strategy's limit must
    /// be a finite price (any value; the rules' checks keep trades within the limits).
    pub fn run_strategies(&mut self, step: u64, prices: &StepPrices, all: &[BidNeed], households: usize) {
        if self.strategies.is_empty() || self.failure.is_some() {
            return;
        }
        self.limits.clear();
        self.limits.resize(households, None);
        let BidOverrides { strategies, limits, failure, needs, set, .. } = self;
        for (n, s) in strategies.iter_mut().enumerate() {
            needs.clear();
            needs.extend(all.iter().filter(|need| s.covers(need.household)));
            if needs.is_empty() {
                continue;
            }
            set.clear();
            set.resize(needs.len(), None);
            if let Err(e) = s.limits(step, prices, needs, set) {
                *failure = Some(format!("bidding strategy {n} at step {step}: {e}"));
                return;
            }
            for (need, l) in needs.iter().zip(set.iter()) {
                if let Some((bid, ask)) = *l {
                    if bid.0.abs() > MAX_LIMIT_MICROS || ask.0.abs() > MAX_LIMIT_MICROS {
                        *failure = Some(format!("bidding strategy {n} at step {step}: limits ({}, {}) micro-units/kWh for household {}: at most {MAX_LIMIT_MICROS} either way", bid.0, ask.0, need.household));
                        return;
                    }
                    limits[need.household as usize] = Some((bid, ask));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::OfferSource;

    fn order(household: u32, kwh: f64, limit: i64) -> Order {
        Order { household, kwh, limit: PricePerKwh(limit), source: OfferSource::Pv }
    }

    #[test]
    fn checks_name_the_match_and_what_it_breaks() {
        let bids = [order(0, 1.0, 300), order(1, 2.0, 200)];
        let asks = [order(2, 1.5, 100)];
        let ok = |bid, ask, kwh, price| Match { bid, ask, kwh, price_micros_per_kwh: price };
        assert_eq!(check(&bids, &asks, &[ok(0, 0, 1.0, 150.0), ok(1, 0, 0.5, 150.0)]), Ok(()));
        let err = |m: &[Match]| check(&bids, &asks, m).unwrap_err();
        assert!(err(&[ok(0, 0, 1.0, 150.0), ok(1, 0, 0.6, 150.0)]).starts_with("match 1 over-fills ask 0"));
        assert!(err(&[ok(0, 0, 1.2, 150.0)]).starts_with("match 0 over-fills bid 0"));
        assert!(err(&[ok(1, 0, 1.0, 250.0)]).contains("above bid 1"));
        assert!(err(&[ok(1, 0, 1.0, 99.5)]).contains("below ask 0"));
        assert!(err(&[ok(2, 0, 1.0, 150.0)]).contains("names bid 2"));
        assert!(err(&[ok(0, 0, f64::NAN, 150.0)]).contains("finite and positive"));
        assert!(err(&[ok(0, 0, -0.1, 150.0)]).contains("finite and positive"));
    }

    #[test]
    fn a_registered_rule_is_found_by_name_and_cannot_take_a_built_in_name() {
        struct Nothing;
        impl ExternalClearing for Nothing {
            fn clear(&mut self, _: u64, _: &StepPrices, _: &[Order], _: &[Order]) -> Result<Vec<Match>, String> {
                Ok(vec![Match { bid: 0, ask: 0, kwh: 5.0, price_micros_per_kwh: 150.0 }])
            }
        }
        assert!(register("double-auction", "", Arc::new(|_| Box::new(Nothing))).is_err());
        let info = register("test-overfill", "over-fills", Arc::new(|_| Box::new(Nothing))).unwrap();
        assert!(std::ptr::eq(super::super::registry::find("test-overfill").unwrap(), info));
        let mut rule = info.create(&super::super::RuleSetup::default());
        let mut book = OrderBook { bids: vec![order(0, 1.0, 300)], asks: vec![order(1, 1.0, 100)] };
        let ctx = MarketContext { step: 42, prices: StepPrices::default() };
        let mut out = Clearing::default();
        rule.clear(&mut book, &ctx, &mut crate::base::seed::rng(0, crate::base::seed::Stream::Market, 0), &mut out);
        assert!(out.trades.is_empty());
        assert_eq!(rule.failure().unwrap(), "rule `test-overfill` at step 42: match 0 over-fills bid 0 (household 0): 5 kWh matched of 1 kWh");
    }
}
