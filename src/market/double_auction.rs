//! `double-auction`: a uniform-price (pay-as-clear) call market among households, with the grid
//! as the outside option.
//!
//! Bids are sorted by price, highest first, asks lowest first (PV before battery at equal price;
//! ties by household index, so the result does not depend on the book's order). Bids and asks are
//! matched down the merit order while the bid covers the ask. Every trade clears at one price,
//! `p = a + k·(b − a)` between the last matched ask `a` and the last matched bid `b`
//! (k-double auction: k = 0 favours buyers, k = 1 sellers), rounded to a micro-unit. So no buyer
//! pays more than its bid and no seller gets less than its ask. Deliveries are paired in merit
//! order; a partially matched order is split across rows.

use super::registry::{ParamInfo, RuleInfo};
use super::{Clearing, MarketContext, Order, OrderBook, Trade, TradingRule, MIN_TRADE_KWH};
use crate::base::money::{Price, PricePerKwh};
use rand_chacha::ChaCha8Rng;
use std::cmp::Ordering;

pub static RULE: RuleInfo = RuleInfo {
    name: "double-auction",
    summary: "uniform-price (pay-as-clear) call market; clearing price between the marginal ask and bid",
    params: &[ParamInfo { name: "k", default: 0.5, min: 0.0, max: 1.0, doc: "position of the price between the marginal ask (0) and bid (1)", price_position: true }],
    build: |setup| Box::new(DoubleAuction { k: setup.params.get("k").copied().unwrap_or(0.5) }),
};

pub struct DoubleAuction {
    pub k: f64,
}

/// Merit order of bids: highest price first, ties by household.
pub fn bid_order(a: &Order, b: &Order) -> Ordering {
    b.limit.cmp(&a.limit).then(a.household.cmp(&b.household))
}

/// Merit order of asks: lowest price first, PV before battery, ties by household.
pub fn ask_order(a: &Order, b: &Order) -> Ordering {
    a.limit.cmp(&b.limit).then(a.source.cmp(&b.source)).then(a.household.cmp(&b.household))
}

/// Sorts the book into merit order and walks it: while the best remaining bid covers the best
/// remaining ask, `matched(bid, ask, kwh)` is called for the quantity they exchange (partially
/// matched orders continue with the next counterpart). Shared by the uniform-price and the
/// pay-as-bid auctions, which differ only in the price they set.
pub fn match_merit_order(book: &mut OrderBook, mut matched: impl FnMut(&Order, &Order, f64)) {
    match_merit_order_at(book, |bids, asks, i, j, kwh| matched(&bids[i], &asks[j], kwh));
}

/// [`match_merit_order`], telling the positions of the pair in the sorted book as well.
pub fn match_merit_order_at(book: &mut OrderBook, mut matched: impl FnMut(&[Order], &[Order], usize, usize, f64)) {
    // Both orders are total (ties end at the household), so a stable sort gives the same
    // result as an unstable one; the stable sort finds the runs `submit_orders` leaves (each
    // archetype's households in index order) and merges them in a couple of passes, where a
    // quicksort of 10,000 orders makes some log2(10,000) ≈ 13.
    book.bids.sort_by(bid_order);
    book.asks.sort_by(ask_order);
    let (bids, asks) = (&book.bids, &book.asks);
    let (mut i, mut j) = (0, 0);
    let (mut bid_left, mut ask_left) = (bids.first().map_or(0.0, |o| o.kwh), asks.first().map_or(0.0, |o| o.kwh));
    while i < bids.len() && j < asks.len() && bids[i].limit >= asks[j].limit {
        let q = bid_left.min(ask_left);
        if q > MIN_TRADE_KWH {
            matched(bids, asks, i, j, q);
        }
        bid_left -= q;
        ask_left -= q;
        if bid_left <= MIN_TRADE_KWH {
            i += 1;
            bid_left = bids.get(i).map_or(0.0, |o| o.kwh);
        }
        if ask_left <= MIN_TRADE_KWH {
            j += 1;
            ask_left = asks.get(j).map_or(0.0, |o| o.kwh);
        }
    }
}

impl TradingRule for DoubleAuction {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn clear(&mut self, book: &mut OrderBook, _ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        let mut marginal: Option<(PricePerKwh, PricePerKwh)> = None;
        match_merit_order(book, |bid, ask, kwh| {
            out.trades.push(Trade::between(ask, bid.household, kwh, Price(0.0)));
            marginal = Some((ask.limit, bid.limit));
        });
        if let Some((a, b)) = marginal {
            let price = Price::from_micros(a.0 as f64 + self.k * (b.0 - a.0) as f64);
            for t in &mut out.trades {
                t.price = price;
                t.price_span = PricePerKwh(b.0 - a.0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::OfferSource;
    use crate::environment::tariff::StepPrices;

    fn order(household: u32, kwh: f64, price: i64) -> Order {
        Order { household, kwh, limit: PricePerKwh(price), source: OfferSource::Pv }
    }

    fn run(bids: Vec<Order>, asks: Vec<Order>, k: f64) -> Clearing {
        let mut book = OrderBook { bids, asks };
        let mut out = Clearing::default();
        let ctx = MarketContext { step: 0, prices: StepPrices::default() };
        DoubleAuction { k }.clear(&mut book, &ctx, &mut crate::base::seed::rng(0, crate::base::seed::Stream::Market, 0), &mut out);
        out
    }

    #[test]
    fn hand_computed_uniform_price() {
        // Bids 3 kWh @ 30, 2 kWh @ 20; asks 2 kWh @ 5, 2 kWh @ 25.
        // Merit order: bid 30 meets ask 5 (2 kWh), bid 30 meets ask 25 (1 kWh); bid 20 < ask 25.
        // Marginal ask 25, marginal bid 30, k = 0.5 ⇒ price 27.5 → 28 (half away from zero).
        let c = run(vec![order(1, 3.0, 30), order(2, 2.0, 20)], vec![order(3, 2.0, 5), order(4, 2.0, 25)], 0.5);
        assert_eq!(c.trades.len(), 2);
        assert_eq!(c.trades.iter().map(|t| t.kwh).sum::<f64>(), 3.0);
        assert!(c.trades.iter().all(|t| t.price.micros() == 28 && t.buyer == 1));
    }

    #[test]
    fn no_trade_when_bids_are_below_asks() {
        let c = run(vec![order(1, 1.0, 10)], vec![order(2, 1.0, 11)], 0.5);
        assert!(c.trades.is_empty());
    }

    #[test]
    fn merit_orders_are_total_so_any_book_order_sorts_the_same() {
        // Ties everywhere: equal limits, and a PV and a battery ask from the same households.
        let asks: Vec<Order> = (0..30u32)
            .flat_map(|h| [Order { household: h, kwh: 1.0, limit: PricePerKwh(50), source: OfferSource::Pv }, Order { household: h, kwh: 0.5, limit: PricePerKwh(50), source: OfferSource::Battery }])
            .collect();
        let bids: Vec<Order> = (0..30u32).map(|h| order(100 + h, 1.0, 300 - (h as i64 % 3))).collect();
        let sorted = |mut v: Vec<Order>, f: fn(&Order, &Order) -> Ordering| {
            v.sort_by(f);
            v
        };
        let (want_bids, want_asks) = (sorted(bids.clone(), bid_order), sorted(asks.clone(), ask_order));
        let mut r = crate::base::seed::rng(7, crate::base::seed::Stream::Market, 0);
        for _ in 0..20 {
            use rand::seq::SliceRandom;
            let (mut b, mut a) = (bids.clone(), asks.clone());
            b.shuffle(&mut r);
            a.shuffle(&mut r);
            assert_eq!(sorted(b.clone(), bid_order), want_bids);
            assert_eq!(sorted(a.clone(), ask_order), want_asks);
            b.sort_unstable_by(bid_order);
            a.sort_unstable_by(ask_order);
            assert_eq!((b, a), (want_bids.clone(), want_asks.clone()), "the stable and the unstable sort agree");
        }
    }

    #[test]
    fn independent_of_book_order() {
        let bids = vec![order(1, 1.0, 30), order(2, 1.5, 30), order(5, 0.5, 30)];
        let asks = vec![order(3, 1.2, 8), order(4, 1.0, 8)];
        let a = run(bids.clone(), asks.clone(), 0.5);
        let b = run(bids.into_iter().rev().collect(), asks.into_iter().rev().collect(), 0.5);
        assert_eq!(a.trades, b.trades);
    }
}
