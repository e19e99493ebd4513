//! `hierarchical`: communities of communities. Each household belongs to nested communities
//! (scenario field `community`, e.g. `"north/elm-street"`; by default from the grid: feeder, then
//! lateral street). Every smallest community first clears its own members' orders as a k-double
//! auction (one price per community, between its marginal ask and bid); what is left is passed
//! up one level and cleared there among all its sub-communities' leftovers, and so on up to the
//! whole community. `Clearing::kwh_by_level` reports how much energy each level matched (level 0
//! is the whole community), so a run shows what each level adds.

use super::double_auction::match_merit_order_at;
use super::communities::{Communities, CommunityChange, CommunityEvent};
use super::registry::{ParamInfo, RuleInfo};
use super::{Clearing, MarketContext, Order, OrderBook, RuleSetup, Trade, TradingRule, MIN_TRADE_KWH};
use crate::base::money::{Price, PricePerKwh};
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::sync::Arc;

pub static RULE: RuleInfo = RuleInfo {
    name: "hierarchical",
    summary: "communities of communities: each street clears first, leftovers go up to the feeder, then the whole community",
    params: &[ParamInfo { name: "k", default: 0.5, min: 0.0, max: 1.0, doc: "position of each community's price between its marginal ask (0) and bid (1)", price_position: true }],
    build: |setup| Box::new(Hierarchical::new(setup.params.get("k").copied().unwrap_or(0.5), setup)),
};

pub struct Hierarchical {
    pub k: f64,
    /// Every household's community path now (changed by events).
    paths: Vec<Vec<String>>,
    /// The run's community events, in step order, and how many are applied.
    events: Arc<Vec<CommunityEvent>>,
    applied: usize,
    communities: Communities,
}

impl Hierarchical {
    /// The rule with the run's communities and their events (none: one community).
    pub fn new(k: f64, setup: &RuleSetup) -> Hierarchical {
        let paths = setup.communities.to_vec();
        let communities = Communities::new(&paths);
        Hierarchical { k, paths, events: setup.community_events.clone(), applied: 0, communities }
    }

    /// The communities households belong to now.
    pub fn communities(&self) -> &Communities {
        &self.communities
    }
}

impl TradingRule for Hierarchical {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    /// Applies the community events due at this step (joins and leaves) and rebuilds the
    /// communities.
    fn begin_step(&mut self, step: u64) {
        let mut changed = false;
        while let Some(e) = self.events.get(self.applied).filter(|e| e.step <= step) {
            self.applied += 1;
            if let Some(path) = self.paths.get_mut(e.household as usize) {
                match &e.change {
                    CommunityChange::Join(p) => *path = p.clone(),
                    CommunityChange::Leave => {
                        path.pop();
                    }
                }
                changed = true;
            }
        }
        if changed {
            self.communities = Communities::new(&self.paths);
        }
    }

    fn clear(&mut self, book: &mut OrderBook, _ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        let communities = &self.communities;
        out.kwh_by_level.clear();
        out.kwh_by_level.resize(communities.levels(), 0.0);
        // Orders wait at their smallest community; each community, deepest first, clears what
        // waits there and passes the rest to its parent (the next in the household's chain).
        let mut waiting: BTreeMap<(std::cmp::Reverse<u8>, u32), OrderBook> = BTreeMap::new();
        let start = |o: &Order| {
            let c = communities.of(o.household)[0];
            (std::cmp::Reverse(communities.depth[c as usize]), c)
        };
        for o in &book.bids {
            waiting.entry(start(o)).or_default().bids.push(*o);
        }
        for o in &book.asks {
            waiting.entry(start(o)).or_default().asks.push(*o);
        }
        while let Some(((std::cmp::Reverse(depth), c), mut sub)) = waiting.pop_first() {
            let first = out.trades.len();
            let mut marginal = None;
            let (mut bought, mut sold) = (vec![0.0; sub.bids.len()], vec![0.0; sub.asks.len()]);
            match_merit_order_at(&mut sub, |bids, asks, i, j, kwh| {
                let (bid, ask) = (&bids[i], &asks[j]);
                out.trades.push(Trade::between(ask, bid.household, kwh, Price(0.0)));
                marginal = Some((ask.limit, bid.limit));
                bought[i] += kwh;
                sold[j] += kwh;
            });
            if let Some((a, b)) = marginal {
                let price = Price::from_micros(a.0 as f64 + self.k * (b.0 - a.0) as f64);
                for t in &mut out.trades[first..] {
                    t.price = price;
                    t.price_span = PricePerKwh(b.0 - a.0);
                    out.kwh_by_level[depth as usize] += t.kwh;
                }
            }
            if depth == 0 {
                continue; // the whole community: what is left goes to the grid
            }
            // Leftovers go up one level, to the next community in each household's chain.
            let up = |o: &Order| {
                let chain = communities.of(o.household);
                let at = chain.iter().position(|&x| x == c).map_or(chain.len() - 1, |p| (p + 1).min(chain.len() - 1));
                let parent = chain[at];
                (std::cmp::Reverse(communities.depth[parent as usize]), parent)
            };
            for (mut o, q) in sub.bids.into_iter().zip(bought) {
                o.kwh -= q;
                if o.kwh > MIN_TRADE_KWH {
                    waiting.entry(up(&o)).or_default().bids.push(o);
                }
            }
            for (mut o, q) in sub.asks.into_iter().zip(sold) {
                o.kwh -= q;
                if o.kwh > MIN_TRADE_KWH {
                    waiting.entry(up(&o)).or_default().asks.push(o);
                }
            }
        }
    }
}



#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::money::PricePerKwh;
    use crate::market::OfferSource;
    use crate::environment::tariff::StepPrices;
    use std::sync::Arc;

    #[test]
    fn streets_clear_first_and_leftovers_go_up() {
        // Street A: h0 sells 2 kWh at 0.10, h1 buys 1 kWh at 0.30. Street B: h2 buys 2 kWh at
        // 0.25. Both streets on feeder F. Street A clears 1 kWh at (0.10 + 0.30)/2 = 0.20; the
        // leftover kWh of h0 meets h2 on the feeder at (0.10 + 0.25)/2 = 0.175.
        let paths = vec![vec!["F".to_string(), "F/A".into()], vec!["F".into(), "F/A".into()], vec!["F".into(), "F/B".into()]];
        let ctx = MarketContext { step: 0, prices: StepPrices { import: PricePerKwh(300_000), export: PricePerKwh(50_000), connected: true } };
        let setup = RuleSetup { communities: Arc::new(paths), ..Default::default() };
        let o = |h, kwh, p| Order { household: h, kwh, limit: PricePerKwh(p), source: OfferSource::Pv };
        let mut book = OrderBook { bids: vec![o(1, 1.0, 300_000), o(2, 2.0, 250_000)], asks: vec![o(0, 2.0, 100_000)] };
        let mut out = Clearing::default();
        Hierarchical::new(0.5, &setup).clear(&mut book, &ctx, &mut crate::base::seed::rng(1, crate::base::seed::Stream::Market, 0), &mut out);
        let got: Vec<_> = out.trades.iter().map(|t| (t.buyer, t.kwh, t.price.micros())).collect();
        assert_eq!(got, vec![(1, 1.0, 200_000), (2, 1.0, 175_000)]);
        assert_eq!(out.kwh_by_level, vec![0.0, 1.0, 1.0], "whole community, feeder, street");
    }
}
