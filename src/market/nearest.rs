//! `nearest`: locality matching. Buyers take turns (in a random order drawn from the step's
//! seeded market stream) and are served first by the sellers nearest to them on the grid:
//! nearness is the lowest common ancestor on the tree of shortest paths from the grid's root, so
//! a seller on the same pole comes before one on the same street, before one on the same feeder,
//! before one across feeders; ties go to the lower seller index. Every trade is at one price
//! between the grid prices, `p = λs + α·(λb − λs)` (parameter `alpha`, default 0.5); orders whose
//! limits cannot accept `p` do not take part. Network fees by zone and line losses come with the
//! grid issue's shared mechanism, so there is no second, rule-specific charge here.
//!
//! Cost per step: each seller is listed under each of its ancestors (O(sellers × depth)); each
//! node keeps a cursor past exhausted sellers, so buyers scan each list once (O(orders × depth)).

use super::locality::Locality;
use super::registry::{ParamInfo, RuleInfo};
use super::{Clearing, MarketContext, Order, OrderBook, Trade, TradingRule, MIN_TRADE_KWH};
use crate::base::money::Price;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

pub static RULE: RuleInfo = RuleInfo {
    name: "nearest",
    summary: "locality matching: buyers served first by the nearest sellers on the grid, at one price",
    // Not a price position: the price also decides which asks and bids take part.
    params: &[ParamInfo { name: "alpha", default: 0.5, min: 0.0, max: 1.0, doc: "price position between export (0) and import (1) price", price_position: false }],
    build: |setup| Box::new(Nearest { alpha: setup.params.get("alpha").copied().unwrap_or(0.5), locality: setup.locality.clone(), ..Default::default() }),
};

#[derive(Default)]
pub struct Nearest {
    pub alpha: f64,
    /// Grid distances (none: no grid, and nothing trades).
    pub locality: Option<Arc<Locality>>,
    sellers_at: Vec<Vec<usize>>,
    cursor: Vec<usize>,
    touched: Vec<u32>,
    left: Vec<f64>,
    buyers: Vec<Order>,
}

impl TradingRule for Nearest {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn clear(&mut self, book: &mut OrderBook, ctx: &MarketContext, rng: &mut ChaCha8Rng, out: &mut Clearing) {
        let Some(locality) = self.locality.clone() else { return };
        let (b, s) = (ctx.prices.import.0, ctx.prices.export.0);
        let price = Price::from_micros(s as f64 + self.alpha * (b - s).max(0) as f64);
        book.asks.sort_unstable_by(|x, y| (x.household, x.source).cmp(&(y.household, y.source)));
        if self.sellers_at.len() < locality.nodes {
            self.sellers_at.resize_with(locality.nodes, Vec::new);
            self.cursor.resize(locality.nodes, 0);
        }
        for n in self.touched.drain(..) {
            self.sellers_at[n as usize].clear();
            self.cursor[n as usize] = 0;
        }
        self.left.clear();
        for (k, ask) in book.asks.iter().enumerate() {
            self.left.push(if Price::from(ask.limit) <= price { ask.kwh } else { 0.0 });
            if Price::from(ask.limit) > price {
                continue;
            }
            for node in locality.ancestors(ask.household) {
                let list = &mut self.sellers_at[node as usize];
                if list.is_empty() {
                    self.touched.push(node);
                }
                list.push(k);
            }
        }
        self.buyers.clear();
        self.buyers.extend(book.bids.iter().filter(|o| Price::from(o.limit) >= price).copied());
        self.buyers.sort_unstable_by_key(|o| o.household);
        self.buyers.shuffle(rng);
        for bid in &self.buyers {
            let mut need = bid.kwh;
            for node in locality.ancestors(bid.household) {
                let (list, cursor) = (&self.sellers_at[node as usize], &mut self.cursor[node as usize]);
                while need > MIN_TRADE_KWH && *cursor < list.len() {
                    let k = list[*cursor];
                    let q = need.min(self.left[k]);
                    if q > MIN_TRADE_KWH {
                        let ask = book.asks[k];
                        out.trades.push(Trade::between(&ask, bid.household, q, price));
                        need -= q;
                        self.left[k] -= q;
                    }
                    if self.left[k] <= MIN_TRADE_KWH {
                        *cursor += 1;
                    }
                }
                if need <= MIN_TRADE_KWH {
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::money::PricePerKwh;
    use crate::grid::generate::{generate, LayoutParams};
    use crate::market::{OfferSource, Seller};
    use crate::grid::generate::Layout;
    use crate::grid::topology::NodeKind;
    use crate::environment::tariff::StepPrices;
    use std::sync::Arc;

    #[test]
    fn neighbours_on_the_same_feeder_are_served_first() {
        // Two feeders of 4 houses: h0..h3 on feeder 1, h4..h7 on feeder 2.
        let ids: Vec<String> = (0..8).map(|i| format!("h{i}")).collect();
        let p = LayoutParams {
            layout: Layout::Village,
            feeders: 2,
            houses_per_feeder: 4,
            houses_per_lateral: 4,
            ties: 0,
            spacing_m: 30.0,
            service_length_m: 15.0,
            feeder_capacity_kw: 400.0,
            service_capacity_kw: 25.0,
            root_kind: NodeKind::Substation,
        };
        let (topo, nodes) = generate(&p, &ids);
        let locality = Arc::new(Locality::new(&topo, &nodes));
        let o = |h, kwh, limit| Order { household: h, kwh, limit: PricePerKwh(limit), source: OfferSource::Pv };
        // h1 (feeder 1) and h6 (feeder 2) both sell 1 kWh at the same price; buyer h5 (feeder 2)
        // needs 1 kWh and gets it from h6, its neighbour, although h1 has the lower index.
        let mut book = OrderBook { bids: vec![o(5, 1.0, 300)], asks: vec![o(1, 1.0, 60), o(6, 1.0, 60)] };
        let ctx = MarketContext { step: 0, prices: StepPrices { import: PricePerKwh(300), export: PricePerKwh(60), connected: true } };
        let mut out = Clearing::default();
        Nearest { alpha: 0.5, locality: Some(locality), ..Default::default() }.clear(&mut book, &ctx, &mut crate::base::seed::rng(1, crate::base::seed::Stream::Market, 0), &mut out);
        assert_eq!(out.trades.len(), 1);
        assert_eq!(out.trades[0].seller, Seller::Household { index: 6, source: OfferSource::Pv });
        assert_eq!(out.trades[0].price.micros(), 180);
    }
}
