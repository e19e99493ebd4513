//! `pay-as-bid`: discriminatory matching. Bids highest first and asks lowest first are matched
//! down the merit order (as in the double auction) while the bid covers the ask; every matched
//! pair trades at the buyer's own bid, so buyers pay what they bid and sellers get at least their
//! ask.

use super::double_auction::{ask_order, bid_order};
use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, Seller, Trade, TradingRule, MIN_TRADE_KWH};
use rand_chacha::ChaCha8Rng;

pub static RULE: RuleInfo = RuleInfo {
    name: "pay-as-bid",
    summary: "discriminatory matching of sorted bids and asks; each pair trades at the buyer's bid",
    params: &[],
    build: |_| Box::new(PayAsBid),
};

pub struct PayAsBid;

impl TradingRule for PayAsBid {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn clear(&mut self, book: &mut OrderBook, _ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        book.bids.sort_unstable_by(bid_order);
        book.asks.sort_unstable_by(ask_order);
        let (bids, asks) = (&book.bids, &book.asks);
        let (mut i, mut j) = (0, 0);
        let (mut bid_left, mut ask_left) = (bids.first().map_or(0.0, |o| o.kwh), asks.first().map_or(0.0, |o| o.kwh));
        while i < bids.len() && j < asks.len() && bids[i].limit >= asks[j].limit {
            let q = bid_left.min(ask_left);
            if q > MIN_TRADE_KWH {
                out.trades.push(Trade { seller: Seller::Household { index: asks[j].household, source: asks[j].source }, buyer: bids[i].household, kwh: q, price: bids[i].limit });
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
}
