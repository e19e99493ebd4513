//! Property tests of clearing: whatever the orders, every rule conserves energy, respects each
//! order's quantity and limit price, balances money between peers, and ignores book order.

use peergrid::market::registry::{default_params, RULES};
use peergrid::market::{Clearing, MarketContext, OfferSource, Order, OrderBook, Seller};
use peergrid::money::PricePerKwh;
use peergrid::seed::{rng, Stream};
use peergrid::tariff::StepPrices;
use proptest::prelude::*;

fn order_strategy(source: OfferSource) -> impl Strategy<Value = (f64, i64)> {
    let _ = source;
    (prop_oneof![Just(0.0), 1e-12..1e-6, 0.0..5.0, Just(1.0)], prop_oneof![Just(100_000i64), 0i64..500_000])
}

fn book(bids: &[(f64, i64)], asks: &[(f64, i64)]) -> OrderBook {
    let mk = |(i, &(kwh, price)): (usize, &(f64, i64)), offset: u32, source| Order { household: i as u32 + offset, kwh, limit: PricePerKwh(price), source };
    OrderBook {
        bids: bids.iter().enumerate().map(|x| mk(x, 0, OfferSource::Pv)).collect(),
        asks: asks.iter().enumerate().map(|x| mk(x, 1000, OfferSource::Pv)).collect(),
    }
}

fn clear(rule: &peergrid::market::registry::RuleInfo, mut b: OrderBook) -> Clearing {
    let mut out = Clearing::default();
    // Every household on one node: locality rules see all sellers as equally near.
    static FLAT: std::sync::OnceLock<std::sync::Arc<peergrid::market::nearest::Locality>> = std::sync::OnceLock::new();
    let flat = FLAT.get_or_init(|| std::sync::Arc::new(peergrid::market::nearest::Locality::flat(20_000))).clone();
    let ctx = MarketContext { step: 0, prices: StepPrices { import: PricePerKwh(300_000), export: PricePerKwh(50_000), connected: true }, locality: Some(flat) };
    (rule.build)(&default_params(rule)).clear(&mut b, &ctx, &mut rng(1, Stream::Market, 0), &mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn clearing_respects_orders(bids in prop::collection::vec(order_strategy(OfferSource::Pv), 0..40),
                                asks in prop::collection::vec(order_strategy(OfferSource::Pv), 0..40)) {
        for rule in RULES {
            let b = book(&bids, &asks);
            let out = clear(rule, OrderBook { bids: b.bids.clone(), asks: b.asks.clone() });
            let mut bought = vec![0.0; bids.len()];
            let mut sold = vec![0.0; asks.len()];
            // bill-sharing pays sellers less than their ask by design (documented exemption).
            let seller_ir = rule.name != "bill-sharing";
            for t in &out.trades {
                prop_assert!(t.kwh >= 0.0);
                let bid = bids[t.buyer as usize];
                prop_assert!(t.price.0 <= bid.1, "{}: buyer pays at most its bid", rule.name);
                bought[t.buyer as usize] += t.kwh;
                if let Seller::Household { index, .. } = t.seller {
                    let ask = asks[(index - 1000) as usize];
                    prop_assert!(!seller_ir || t.price.0 >= ask.1, "{}: seller gets at least its ask", rule.name);
                    sold[(index - 1000) as usize] += t.kwh;
                }
            }
            for s in &out.pool_sales {
                let ask = asks[(s.seller - 1000) as usize];
                prop_assert!(!seller_ir || s.price.0 >= ask.1, "{}: pooled seller gets at least its ask", rule.name);
                sold[(s.seller - 1000) as usize] += s.kwh;
            }
            for (i, b) in bought.iter().enumerate() { prop_assert!(*b <= bids[i].0 + 1e-9); }
            for (i, s) in sold.iter().enumerate() { prop_assert!(*s <= asks[i].0 + 1e-9); }
            let delivered: f64 = bought.iter().sum();
            let supplied: f64 = sold.iter().sum();
            prop_assert!((delivered - supplied).abs() < 1e-9, "energy conserved");
            // Independent of the book's order.
            let rev = clear(rule, OrderBook { bids: b.bids.iter().rev().cloned().collect(), asks: b.asks.iter().rev().cloned().collect() });
            prop_assert_eq!(&rev.trades, &out.trades);
            prop_assert_eq!(&rev.pool_sales, &out.pool_sales);
        }
    }
}

#[test]
fn thousands_of_identical_orders_clear_fully() {
    let bids = vec![(0.5, 300_000); 5000];
    let asks = vec![(0.25, 50_000); 10000];
    for rule in RULES {
        let out = clear(rule, book(&bids, &asks));
        let q: f64 = out.trades.iter().map(|t| t.kwh).sum();
        if rule.name != "grid-only" {
            assert!((q - 2500.0).abs() < 1e-6, "{}: {q}", rule.name);
        }
        let sold: f64 = out.trades.iter().filter(|t| matches!(t.seller, Seller::Household { .. })).map(|t| t.kwh).sum::<f64>() + out.pool_sales.iter().map(|s| s.kwh).sum::<f64>();
        assert!((sold - q).abs() < 1e-6, "{}: sold {sold} vs bought {q}", rule.name);
    }
}
