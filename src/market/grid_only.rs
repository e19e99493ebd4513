//! `grid-only`: no peer trading. Surplus is exported and deficit imported at the tariff (on an
//! island: curtailed and unserved). The baseline every run is compared against.

use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, TradingRule};
use rand_chacha::ChaCha8Rng;

pub static RULE: RuleInfo = RuleInfo {
    name: "grid-only",
    summary: "baseline: no peer trading; surplus exported and deficit imported at the tariff",
    params: &[],
    build: |_| Box::new(GridOnly),
};

pub struct GridOnly;

impl TradingRule for GridOnly {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn clear(&mut self, _book: &mut OrderBook, _ctx: &MarketContext, _rng: &mut ChaCha8Rng, _out: &mut Clearing) {}
}
