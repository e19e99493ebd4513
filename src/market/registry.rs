//! Every trading rule, by name. The rules are listed once, in `rules!` in the market's `mod.rs`:
//! adding a rule is its file in `src/market/` and one line there.

pub use super::RULES;
use super::{RuleSetup, TradingRule};
use std::collections::BTreeMap;

/// Declares each rule's module (a file in `src/market/` with a `pub static RULE: RuleInfo`) and
/// [`RULES`], in the order given.
macro_rules! rules {
    ($($rule:ident,)*) => {
        $(pub mod $rule;)*

        /// All rules, in the order `peergrid rules` lists them.
        pub static RULES: &[&registry::RuleInfo] = &[$(&$rule::RULE),*];
    };
}
pub(crate) use rules;

/// A rule parameter with its default and allowed range.
#[derive(Debug)]
pub struct ParamInfo {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
    /// The parameter only places each trade's price between two bounds the clearing sets,
    /// linearly (price = low + value × (high − low)), and never decides which orders trade: such
    /// a rule writes high − low into every trade's [`Trade::price_span`](super::Trade), so a
    /// community's member can re-price its last period under another value exactly, and may
    /// vote on it (`RuleParam` referendums).
    pub price_position: bool,
}

/// A rule's name (as used in scenario files and `--rule`), description, parameters and builder.
pub struct RuleInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamInfo],
    /// Builds the rule from the run's setup; `setup.params` are validated (every declared
    /// parameter is present).
    pub build: fn(&RuleSetup) -> Box<dyn TradingRule>,
}

impl RuleInfo {
    /// Builds the rule from the run's setup: a built-in rule from `build`, a rule registered
    /// while the program runs from its factory, wrapped in the core's checks (see
    /// [`external`](super::external)).
    pub fn create(&'static self, setup: &RuleSetup) -> Box<dyn TradingRule> {
        super::external::build(self, setup).unwrap_or_else(|| (self.build)(setup))
    }
}

impl std::fmt::Debug for RuleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for RuleInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// A rule by name: a built-in one, or one registered while the program runs.
pub fn find(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().copied().find(|r| r.name == name).or_else(|| super::external::find(name))
}

/// Every rule's name: the built-in ones, then those registered while the program runs.
pub fn names() -> Vec<&'static str> {
    RULES.iter().map(|r| r.name).chain(super::external::names()).collect()
}

/// The rule's parameters with defaults for those not given.
pub fn default_params(rule: &RuleInfo) -> BTreeMap<String, f64> {
    rule.params.iter().map(|p| (p.name.to_string(), p.default)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::money::PricePerKwh;
    use crate::base::seed::{rng, Stream};
    use crate::environment::tariff::StepPrices;
    use crate::market::{Clearing, MarketContext, OfferSource, Order, OrderBook};
    use rand::RngExt;

    /// What a price position promises (and community referendums rely on): another value
    /// matches the same orders, and moves each trade's price by the change times its span.
    #[test]
    fn a_price_position_moves_prices_by_their_span_and_nothing_else() {
        let ctx = MarketContext { step: 0, prices: StepPrices { import: PricePerKwh(300_000), export: PricePerKwh(50_000), connected: true } };
        let positions: Vec<(&RuleInfo, &ParamInfo)> = RULES.iter().flat_map(|r| r.params.iter().filter(|p| p.price_position).map(move |p| (*r, p))).collect();
        assert!(positions.len() >= 2, "double-auction and hierarchical have one");
        let mut draws = rng(7, Stream::Market, 0);
        for round in 0..200u32 {
            let order = |r: &mut rand_chacha::ChaCha8Rng, h: u32| Order { household: h, kwh: r.random_range(0.01..3.0), limit: PricePerKwh(r.random_range(40_000..320_000)), source: OfferSource::Pv };
            let bids: Vec<Order> = (0..draws.random_range(0..30u32)).map(|h| order(&mut draws, h)).collect();
            let asks: Vec<Order> = (0..draws.random_range(0..30u32)).map(|h| order(&mut draws, 100 + h)).collect();
            for (rule, param) in &positions {
                let clear = |value: f64| {
                    let mut built = (rule.build)(&crate::market::RuleSetup::with_params([(param.name.to_string(), value)].into()));
                    let mut book = OrderBook { bids: bids.clone(), asks: asks.clone() };
                    let mut out = Clearing::default();
                    built.clear(&mut book, &ctx, &mut rng(1, Stream::Market, u64::from(round)), &mut out);
                    out.trades
                };
                let (low, high) = (clear(param.min + 0.2 * (param.max - param.min)), clear(param.max));
                assert_eq!(low.len(), high.len(), "{}: {round}", rule.name);
                let delta = 0.8 * (param.max - param.min);
                for (a, b) in low.iter().zip(&high) {
                    assert_eq!((a.seller, a.buyer, a.kwh, a.price_span), (b.seller, b.buyer, b.kwh, b.price_span), "{}: {round}", rule.name);
                    let moved = (b.price.0 - a.price.0) * 1e6;
                    assert!((moved - delta * a.price_span.0 as f64).abs() < 1e-6, "{}: {moved} for span {:?}", rule.name, a.price_span);
                }
            }
        }
    }
}
