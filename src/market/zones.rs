//! Network fees by zone: one mechanism for every rule.
//!
//! A household's zones come from its place on the grid (the same path the `hierarchical` rule
//! uses by default): its **feeder** is the first segment of its pole's id (`f2/l3/p1` → `f2`) or,
//! on explicit topologies without `/` in ids, the branch of the root it hangs from; its
//! **street** is the pole's id without the last segment (`f2/l3`; a village feeder is one
//! street). A delivery is *same street*, *same feeder* or *across feeders*, and pays that zone's
//! fee per kWh sent, known before clearing, to the network operator. The buyer pays it on top of
//! the energy price.
//!
//! - Rules that form pairs (auctions, `continuous`, `preference`, `hierarchical`, `nearest`)
//!   clear zone by zone, nearest first: each street's orders with every bid lowered by the street
//!   fee, then what is left in each feeder with the feeder fee, then everything left across
//!   feeders with the cross-feeder fee. So a bid must cover the ask plus the fee of the zone it
//!   trades in, and the rule's own guarantees (individual rationality, quantities) still hold
//!   with the fee included. A pair charges the fee of the zones it really crosses, which is never
//!   more than the fee its bid was lowered by (fees may not decrease outwards; validated).
//!   `nearest` thereby trades on the same zones, with no second, rule-specific charge.
//! - Rules that pool supply (`sdr`, `mmr`, `bill-sharing`) clear the whole community as before;
//!   each buyer's pool purchase pays the fee on the share of the pool's supply that comes from
//!   outside its street (feeder fee) or feeder (cross-feeder fee), by the sellers' sales.

use super::{Clearing, MarketContext, Order, OrderBook, Seller, TradingRule, MIN_TRADE_KWH};
use crate::base::money::PricePerKwh;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// Which zones a delivery crosses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ZoneRelation {
    SameStreet,
    SameFeeder,
    AcrossFeeders,
}

impl ZoneRelation {
    pub const ALL: [ZoneRelation; 3] = [ZoneRelation::SameStreet, ZoneRelation::SameFeeder, ZoneRelation::AcrossFeeders];
}

/// Fee per kWh sent, by the zones a delivery crosses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkFees {
    pub same_street: PricePerKwh,
    pub same_feeder: PricePerKwh,
    pub across_feeders: PricePerKwh,
}

impl NetworkFees {
    pub fn is_zero(&self) -> bool {
        *self == NetworkFees::default()
    }

    pub fn fee(&self, relation: ZoneRelation) -> PricePerKwh {
        match relation {
            ZoneRelation::SameStreet => self.same_street,
            ZoneRelation::SameFeeder => self.same_feeder,
            ZoneRelation::AcrossFeeders => self.across_feeders,
        }
    }
}

/// Every household's street and feeder, as small integers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Zones {
    street: Vec<u32>,
    feeder: Vec<u32>,
}

impl Zones {
    /// From each household's grid path, outermost first (`["f2", "f2/l3"]`): the feeder is the
    /// first element, the street the last. Households with no path share one zone.
    pub fn new(grid_paths: &[Vec<String>]) -> Zones {
        let mut ids: BTreeMap<&str, u32> = BTreeMap::new();
        let mut z = Zones::default();
        for p in grid_paths {
            let (first, last) = (p.first().map_or("", |s| s.as_str()), p.last().map_or("", |s| s.as_str()));
            for (name, out) in [(first, &mut z.feeder), (last, &mut z.street)] {
                let next = ids.len() as u32;
                out.push(*ids.entry(name).or_insert(next));
            }
        }
        z
    }

    pub fn relation(&self, a: u32, b: u32) -> ZoneRelation {
        let (a, b) = (a as usize, b as usize);
        if self.street.get(a) == self.street.get(b) {
            ZoneRelation::SameStreet
        } else if self.feeder.get(a) == self.feeder.get(b) {
            ZoneRelation::SameFeeder
        } else {
            ZoneRelation::AcrossFeeders
        }
    }

    /// The zone key of a household at a clearing level (across feeders: one zone).
    fn key(&self, household: u32, level: ZoneRelation) -> u32 {
        match level {
            ZoneRelation::SameStreet => self.street.get(household as usize).copied().unwrap_or(0),
            ZoneRelation::SameFeeder => self.feeder.get(household as usize).copied().unwrap_or(0),
            ZoneRelation::AcrossFeeders => 0,
        }
    }
}

/// Zones and the fee schedule of a run.
#[derive(Debug, Clone, Default)]
pub struct ZoneFees {
    pub zones: Zones,
    pub fees: NetworkFees,
}

/// Reused buffers of zonal clearing.
#[derive(Debug, Default)]
pub struct ZoneScratch {
    bids: Vec<Order>,
    asks: Vec<Order>,
    sub: OrderBook,
    out: Clearing,
}

/// Clears a pair-forming rule zone by zone (see the module docs), appending to `out`.
pub fn clear_by_zone(rule: &mut dyn TradingRule, book: &OrderBook, ctx: &MarketContext, rng: &mut ChaCha8Rng, out: &mut Clearing, zf: &ZoneFees, s: &mut ZoneScratch) {
    s.bids.clone_from(&book.bids);
    s.asks.clone_from(&book.asks);
    for level in ZoneRelation::ALL {
        let fee = zf.fees.fee(level).0;
        let key = |o: &Order| (zf.zones.key(o.household, level), o.household, o.source);
        s.bids.sort_unstable_by_key(key);
        s.asks.sort_unstable_by_key(key);
        let (mut i, mut j) = (0, 0);
        while i < s.bids.len() && j < s.asks.len() {
            let (kb, ka) = (key(&s.bids[i]).0, key(&s.asks[j]).0);
            if kb != ka {
                if kb < ka { i += 1 } else { j += 1 }
                continue;
            }
            let i_end = i + s.bids[i..].iter().take_while(|o| key(o).0 == kb).count();
            let j_end = j + s.asks[j..].iter().take_while(|o| key(o).0 == kb).count();
            s.sub.bids.clear();
            s.sub.bids.extend(s.bids[i..i_end].iter().map(|o| Order { limit: PricePerKwh(o.limit.0 - fee), ..*o }));
            s.sub.asks.clear();
            s.sub.asks.extend_from_slice(&s.asks[j..j_end]);
            s.out.clear();
            rule.clear(&mut s.sub, ctx, rng, &mut s.out);
            take_matched(&s.out, &mut s.bids[i..i_end], &mut s.asks[j..j_end]);
            out.trades.extend(s.out.trades.iter().filter(|t| t.kwh > 0.0).copied());
            if out.kwh_by_level.len() < s.out.kwh_by_level.len() {
                out.kwh_by_level.resize(s.out.kwh_by_level.len(), 0.0);
            }
            for (total, kwh) in out.kwh_by_level.iter_mut().zip(&s.out.kwh_by_level) {
                *total += kwh;
            }
            (i, j) = (i_end, j_end);
        }
        s.bids.retain(|o| o.kwh > MIN_TRADE_KWH);
        s.asks.retain(|o| o.kwh > MIN_TRADE_KWH);
        if s.bids.is_empty() || s.asks.is_empty() {
            break;
        }
    }
}

/// Takes what the zone's trades matched off its orders (sorted by household and source).
fn take_matched(out: &Clearing, bids: &mut [Order], asks: &mut [Order]) {
    for t in &out.trades {
        if let Ok(k) = bids.binary_search_by_key(&t.buyer, |o| o.household) {
            bids[k].kwh -= t.kwh;
        }
        if let Seller::Household { index, source } = t.seller {
            if let Ok(k) = asks.binary_search_by_key(&(index, source), |o| (o.household, o.source)) {
                asks[k].kwh -= t.kwh;
            }
        }
    }
}

/// Sets every trade's network fee: a pair's by the zones it crosses; a pool purchase's by the
/// shares of the pool's supply from the buyer's street, the rest of its feeder and beyond.
pub fn charge_fees(out: &mut Clearing, zf: &ZoneFees) {
    let z = &zf.zones;
    let sold: f64 = out.pool_sales.iter().map(|s| s.kwh).sum();
    let (mut by_street, mut by_feeder) = (BTreeMap::<u32, f64>::new(), BTreeMap::<u32, f64>::new());
    for s in &out.pool_sales {
        *by_street.entry(z.key(s.seller, ZoneRelation::SameStreet)).or_default() += s.kwh;
        *by_feeder.entry(z.key(s.seller, ZoneRelation::SameFeeder)).or_default() += s.kwh;
    }
    let f = |r| zf.fees.fee(r).0 as f64;
    for t in &mut out.trades {
        t.fee = match t.seller {
            Seller::Household { index, .. } => zf.fees.fee(z.relation(index, t.buyer)),
            Seller::Pool if sold > 0.0 => {
                let street = by_street.get(&z.key(t.buyer, ZoneRelation::SameStreet)).copied().unwrap_or(0.0) / sold;
                let feeder = by_feeder.get(&z.key(t.buyer, ZoneRelation::SameFeeder)).copied().unwrap_or(0.0) / sold;
                let fee = street * f(ZoneRelation::SameStreet) + (feeder - street) * f(ZoneRelation::SameFeeder) + (1.0 - feeder) * f(ZoneRelation::AcrossFeeders);
                PricePerKwh(fee.round() as i64)
            }
            Seller::Pool => PricePerKwh(0),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::double_auction::DoubleAuction;
    use crate::market::{OfferSource, PoolSale, Trade};
    use crate::environment::tariff::StepPrices;

    fn paths() -> Vec<Vec<String>> {
        // h0, h1 on street f1/l1; h2 on f1/l2; h3 on f2/l1.
        let p = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        vec![p("f1", "f1/l1"), p("f1", "f1/l1"), p("f1", "f1/l2"), p("f2", "f2/l1")]
    }

    fn zf(street: i64, feeder: i64, across: i64) -> ZoneFees {
        ZoneFees { zones: Zones::new(&paths()), fees: NetworkFees { same_street: PricePerKwh(street), same_feeder: PricePerKwh(feeder), across_feeders: PricePerKwh(across) } }
    }

    fn order(household: u32, kwh: f64, price: i64) -> Order {
        Order { household, kwh, limit: PricePerKwh(price), source: OfferSource::Pv }
    }

    #[test]
    fn relations_follow_the_grid_paths() {
        let z = Zones::new(&paths());
        assert_eq!(z.relation(0, 1), ZoneRelation::SameStreet);
        assert_eq!(z.relation(0, 2), ZoneRelation::SameFeeder);
        assert_eq!(z.relation(2, 3), ZoneRelation::AcrossFeeders);
    }

    #[test]
    fn bids_must_cover_the_ask_plus_the_fee_of_their_zone() {
        // Buyer h0 bids 100 for 2 kWh. Sellers: h3 (other feeder) asks 50, h2 (same feeder) 70,
        // h1 (same street) 95. Fees: street 10, feeder 20, across 60.
        // Street: 100 − 10 = 90 < 95, no trade. Feeder: 100 − 20 = 80 ≥ 70: 1 kWh from h2.
        // Across: 100 − 60 = 40 < 50: none. So h0 gets 1 kWh, from h2, paying fee 20.
        let book = OrderBook { bids: vec![order(0, 2.0, 100)], asks: vec![order(3, 1.0, 50), order(2, 1.0, 70), order(1, 1.0, 95)] };
        let ctx = MarketContext { step: 0, prices: StepPrices::default() };
        let (mut out, z) = (Clearing::default(), zf(10, 20, 60));
        let mut rule = DoubleAuction { k: 0.5 };
        clear_by_zone(&mut rule, &book, &ctx, &mut crate::base::seed::rng(0, crate::base::seed::Stream::Market, 0), &mut out, &z, &mut ZoneScratch::default());
        charge_fees(&mut out, &z);
        assert_eq!(out.trades.len(), 1);
        let t = out.trades[0];
        assert_eq!((t.seller, t.kwh, t.fee), (Seller::Household { index: 2, source: OfferSource::Pv }, 1.0, PricePerKwh(20)));
        // Price between the ask and the bid less the fee: 70 + 0.5·(80 − 70) = 75; 75 + 20 ≤ 100.
        assert_eq!(t.price.micros(), 75);
    }

    #[test]
    fn pool_buyers_pay_by_where_the_supply_comes_from() {
        // h1 sells 1 kWh (h0's street), h2 1 kWh (h0's feeder), h3 2 kWh (other feeder).
        // h0's fee: 1/4·10 + 1/4·20 + 2/4·60 = 37.5 → 38.
        let sale = |seller, kwh| PoolSale { seller, source: OfferSource::Pv, kwh, price: PricePerKwh(1).into(), made_up_kwh: 0.0 };
        let mut out = Clearing { pool_sales: vec![sale(1, 1.0), sale(2, 1.0), sale(3, 2.0)], ..Default::default() };
        out.trades.push(Trade::from_pool(0, 4.0, PricePerKwh(1).into()));
        charge_fees(&mut out, &zf(10, 20, 60));
        assert_eq!(out.trades[0].fee, PricePerKwh(38));
    }
}
