//! `bill-sharing` (Long et al. 2017), pooled (see [`super::pool`]): energy inside the community
//! is free; each step the community's grid bill is shared by buyers in proportion to their net
//! imports (average buy price λb·max(D − S, 0)/D) and its grid revenue by sellers in proportion to
//! their net exports (average sell price λs·max(S − D, 0)/S).
//!
//! Individual rationality is exempt on the seller side by design: a seller can get less than λs
//! (nothing at all when demand absorbs all supply). Buyers never pay more than λb.

use super::pool::{clear_at_tariff, micro, PoolPrices};
use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, TradingRule};
use crate::base::money::Price;
use rand_chacha::ChaCha8Rng;

pub static RULE: RuleInfo = RuleInfo {
    name: "bill-sharing",
    summary: "bill sharing (Long et al. 2017): peer energy is free, grid bill and revenue shared pro rata",
    params: &[],
    build: |_| Box::new(BillSharing),
};

/// Rules exempt from sellers' individual rationality (tested in `tests/market_props.rs`).
pub const SELLER_IR_EXEMPT: bool = true;

pub struct BillSharing;

/// Bill-sharing prices (micro-units per kWh).
pub fn prices(s: f64, d: f64, lambda_b: f64, lambda_s: f64) -> Option<PoolPrices> {
    if d <= 0.0 || s <= 0.0 {
        return None;
    }
    let buy = lambda_b * (d - s).max(0.0) / d;
    let sell = lambda_s * (s - d).max(0.0) / s;
    Some(PoolPrices { internal: Price(0.0), buy: micro(buy), sell: micro(sell) })
}

impl TradingRule for BillSharing {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn pools(&self) -> bool {
        true
    }

    fn clear(&mut self, book: &mut OrderBook, ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        clear_at_tariff(book, ctx, out, SELLER_IR_EXEMPT, prices);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_from_the_paper_formulas() {
        // λb = 0.30, λs = 0.06; S = 10, D = 40: buyers 0.30·30/40 = 0.225, sellers 0.
        let p = prices(10.0, 40.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.internal.micros(), p.buy.0, p.sell.0), (0, 225_000, 0));
        // S = 40, D = 10: buyers 0, sellers 0.06·30/40 = 0.045.
        let p = prices(40.0, 10.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.buy.0, p.sell.0), (0, 45_000));
    }
}
