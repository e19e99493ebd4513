//! `pay-as-bid`: discriminatory matching. Bids highest first and asks lowest first are matched
//! down the merit order (as in the double auction) while the bid covers the ask; every matched
//! pair trades at the buyer's own bid, so buyers pay what they bid and sellers get at least their
//! ask.

use super::double_auction::match_merit_order;
use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, Trade, TradingRule};
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
        match_merit_order(book, |bid, ask, kwh| {
            out.trades.push(Trade::between(ask, bid.household, kwh, bid.limit.into()));
        });
    }
}
