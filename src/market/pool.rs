//! Pooled clearing shared by `sdr`, `mmr` and `bill-sharing`: supply and demand meet in a
//! community pool; min(S, D) is shared pro rata (each buyer gets its demand × min(S,D)/D, each
//! seller sells its supply × min(S,D)/S) at one internal price, and the grid covers the rest at
//! its tariff. A buyer's average price over all its demand is then exactly the paper's buy price,
//! and a seller's average over all its supply the paper's sell price.
//!
//! Orders whose limits cannot accept the internal price (a bid below it, an ask above it) stay
//! out of the pool; the price is recomputed without them until no order is excluded.

use super::{Clearing, Order, OrderBook, PoolSale, Trade, MIN_TRADE_KWH};
use crate::base::money::{Price, PricePerKwh};

/// Rounds of excluding incompatible orders before giving up on the remaining ones.
const MAX_EXCLUSION_ROUNDS: usize = 8;

/// The internal price for supply `s_kwh` and demand `d_kwh`; `None` when nothing should trade.
pub type PriceFn<'a> = dyn Fn(f64, f64) -> Option<PoolPrices> + 'a;

/// The pool's internal price and the paper's reported buy/sell prices (for `timeseries.csv`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoolPrices {
    /// What pool trades settle at, exact.
    pub internal: Price,
    pub buy: PricePerKwh,
    pub sell: PricePerKwh,
}

/// Clears the book through the pool. `exempt_sellers`: the rule may pay sellers less than their
/// ask (bill sharing), so asks are never excluded.
pub fn clear_pooled(book: &mut OrderBook, out: &mut Clearing, exempt_sellers: bool, price: &PriceFn) {
    // A canonical order makes the pro-rata sums independent of how the book was filled.
    book.bids.sort_unstable_by(|a, b| a.household.cmp(&b.household).then(a.source.cmp(&b.source)));
    book.asks.sort_unstable_by(|a, b| a.household.cmp(&b.household).then(a.source.cmp(&b.source)));
    let mut bid_in = vec![true; book.bids.len()];
    let mut ask_in = vec![true; book.asks.len()];
    let mut prices = None;
    for _ in 0..MAX_EXCLUSION_ROUNDS {
        let sum = |orders: &[Order], keep: &[bool]| orders.iter().zip(keep).filter(|(_, k)| **k).map(|(o, _)| o.kwh).sum::<f64>();
        let (s, d) = (sum(&book.asks, &ask_in), sum(&book.bids, &bid_in));
        prices = if s > MIN_TRADE_KWH && d > MIN_TRADE_KWH { price(s, d) } else { None };
        let Some(p) = prices else { break };
        let mut changed = false;
        for (o, k) in book.bids.iter().zip(bid_in.iter_mut()) {
            if *k && Price::from(o.limit) < p.internal {
                *k = false;
                changed = true;
            }
        }
        if !exempt_sellers {
            for (o, k) in book.asks.iter().zip(ask_in.iter_mut()) {
                if *k && Price::from(o.limit) > p.internal {
                    *k = false;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
        prices = None;
    }
    let Some(p) = prices else { return };
    let sum = |orders: &[Order], keep: &[bool]| orders.iter().zip(keep).filter(|(_, k)| **k).map(|(o, _)| o.kwh).sum::<f64>();
    let (s, d) = (sum(&book.asks, &ask_in), sum(&book.bids, &bid_in));
    let traded = s.min(d);
    let (buy_share, sell_share) = (traded / d, traded / s);
    for (o, _) in book.bids.iter().zip(&bid_in).filter(|(_, k)| **k) {
        // No dust filter on shares: dropping a tiny share on one side only would break the
        // energy balance between buyers and sellers.
        let kwh = (o.kwh * buy_share).min(o.kwh);
        if kwh > 0.0 {
            out.trades.push(Trade::from_pool(o.household, kwh, p.internal));
        }
    }
    for (o, _) in book.asks.iter().zip(&ask_in).filter(|(_, k)| **k) {
        let kwh = (o.kwh * sell_share).min(o.kwh);
        if kwh > 0.0 {
            out.pool_sales.push(PoolSale { seller: o.household, source: o.source, kwh, price: p.internal, made_up_kwh: 0.0 });
        }
    }
    out.buy_price = Some(p.buy);
    out.sell_price = Some(p.sell);
}

/// Clears the book through the pool at prices `prices(S, D, λb, λs)` from this step's tariff
/// (micro-units per kWh): what every pooled rule does, given its own price formula.
pub fn clear_at_tariff(book: &mut OrderBook, ctx: &super::MarketContext, out: &mut Clearing, exempt_sellers: bool, prices: fn(f64, f64, f64, f64) -> Option<PoolPrices>) {
    let (b, s) = (ctx.prices.import.0 as f64, ctx.prices.export.0 as f64);
    clear_pooled(book, out, exempt_sellers, &|sup, dem| prices(sup, dem, b, s));
}

/// A price in micro-units per kWh from a decimal formula (rounded).
pub fn micro(x: f64) -> PricePerKwh {
    PricePerKwh(x.round() as i64)
}
