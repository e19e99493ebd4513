//! `continuous`: a continuous double auction with an order book and price-time priority. Within a
//! step the orders arrive one by one in a random order drawn from the step's seeded market
//! stream (after a canonical sort, so the result does not depend on how the book was filled). An
//! arriving order trades against the best resting orders on the other side while prices cross,
//! at the resting order's price (the standard CDA rule); what is left rests in the book.

use super::registry::RuleInfo;
use super::{Clearing, MarketContext, Order, OrderBook, Trade, TradingRule, MIN_TRADE_KWH};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub static RULE: RuleInfo = RuleInfo {
    name: "continuous",
    summary: "continuous double auction: seeded arrival order, price-time priority, trades at the resting price",
    params: &[],
    build: |_| Box::new(Continuous::default()),
};

#[derive(Default)]
pub struct Continuous {
    arrivals: Vec<(bool, Order)>,
}

/// A resting order: priority by price, then by arrival (earlier first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Resting {
    price_key: i64,
    arrival: Reverse<u64>,
    index: usize,
}

impl TradingRule for Continuous {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn clear(&mut self, book: &mut OrderBook, _ctx: &MarketContext, rng: &mut ChaCha8Rng, out: &mut Clearing) {
        self.arrivals.clear();
        self.arrivals.extend(book.bids.iter().map(|o| (true, *o)));
        self.arrivals.extend(book.asks.iter().map(|o| (false, *o)));
        self.arrivals.sort_unstable_by(|a, b| (a.0, a.1.household, a.1.source).cmp(&(b.0, b.1.household, b.1.source)));
        self.arrivals.shuffle(rng);
        let mut left: Vec<f64> = self.arrivals.iter().map(|(_, o)| o.kwh).collect();
        // Best bid = highest price; best ask = lowest price (stored negated).
        let mut bids: BinaryHeap<Resting> = BinaryHeap::new();
        let mut asks: BinaryHeap<Resting> = BinaryHeap::new();
        for (t, &(is_bid, order)) in self.arrivals.iter().enumerate() {
            let (book_other, crosses): (&mut BinaryHeap<Resting>, fn(i64, i64) -> bool) =
                if is_bid { (&mut asks, |mine, best| mine >= -best) } else { (&mut bids, |mine, best| mine <= best) };
            while left[t] > MIN_TRADE_KWH {
                let Some(best) = book_other.peek().copied() else { break };
                if !crosses(order.limit.0, best.price_key) {
                    break;
                }
                let q = left[t].min(left[best.index]);
                let resting = self.arrivals[best.index].1;
                let (buyer, seller) = if is_bid { (order, resting) } else { (resting, order) };
                out.trades.push(Trade::between(&seller, buyer.household, q, resting.limit.into()));
                left[t] -= q;
                left[best.index] -= q;
                if left[best.index] <= MIN_TRADE_KWH {
                    book_other.pop();
                }
            }
            if left[t] > MIN_TRADE_KWH {
                let key = if is_bid { order.limit.0 } else { -order.limit.0 };
                let own = if is_bid { &mut bids } else { &mut asks };
                own.push(Resting { price_key: key, arrival: Reverse(t as u64), index: t });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::OfferSource;
    use crate::base::money::PricePerKwh;
    use crate::environment::tariff::StepPrices;

    #[test]
    fn resting_price_and_priority() {
        let o = |h, kwh, p| Order { household: h, kwh, limit: PricePerKwh(p), source: OfferSource::Pv };
        let mut book = OrderBook { bids: vec![o(1, 1.0, 30), o(2, 1.0, 25)], asks: vec![o(3, 1.5, 10)] };
        let mut out = Clearing::default();
        let ctx = MarketContext { step: 0, prices: StepPrices::default() };
        Continuous::default().clear(&mut book, &ctx, &mut crate::base::seed::rng(5, crate::base::seed::Stream::Market, 0), &mut out);
        let total: f64 = out.trades.iter().map(|t| t.kwh).sum();
        assert!((total - 1.5).abs() < 1e-12, "all supply trades: {:?}", out.trades);
        for t in &out.trades {
            assert!([10, 30, 25].contains(&t.price.micros()), "a resting order's price");
        }
    }
}
