//! Full-step throughput (household-steps per second) at 1,000, 10,000 and 100,000 households,
//! and every rule's clearing cost beside a plain sort.
//!
//! `cargo bench --bench step`; compare against a saved baseline with
//! `cargo bench --bench step -- --save-baseline before` and later `-- --baseline before`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peergrid::market::registry::{default_params, RULES};
use peergrid::market::{Clearing, MarketContext, OfferSource, Order, OrderBook, RuleSetup};
use peergrid::base::money::PricePerKwh;
use peergrid::base::seed::{rng, Stream};
use peergrid::environment::tariff::StepPrices;
use peergrid::testing;
use rand::RngExt;
use std::hint::black_box;

fn district(households: u32) -> String {
    format!(
        r#"(
        name: "bench", seed: 1, start: "2024-01-08T00:00", timezone: "Australia/Sydney", duration_days: 365,
        location: (latitude_deg: -33.9, longitude_deg: 151.0),
        grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
        households: [Group(prefix: "d", count: {households}, kwp: Normal(mean: 6.0, sd: 2.0), pv_share: 0.45, tilt_deg: 20,
                     battery_share: 0.2, battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0))],
        topology: Generated(layout: District, feeders: {feeders}),
    )"#,
        feeders = (households / 400).max(1)
    )
}

fn full_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("full_step");
    g.sample_size(10);
    for n in [1_000u32, 10_000, 100_000] {
        let mut sim = testing::simulation(&district(n));
        // Start at 10:00 local so the market is busy: half the households trade every step.
        for _ in 0..40 {
            sim.step();
        }
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("households", n), &n, |b, _| b.iter(|| sim.step()));
    }
    g.finish();
}

fn orders(n: usize, seed: u64) -> OrderBook {
    let mut r = rng(seed, Stream::Market, 0);
    let mut mk = |i: usize, lo: i64, hi: i64| Order { household: i as u32, kwh: r.random_range(0.01..2.0), limit: PricePerKwh(r.random_range(lo..hi)), source: OfferSource::Pv };
    OrderBook { bids: (0..n / 2).map(|i| mk(i, 100_000, 400_000)).collect(), asks: (n / 2..n).map(|i| mk(i, 20_000, 300_000)).collect() }
}

/// Every registered rule clearing 100 … 100,000 orders, beside a plain sort of the same orders.
fn clearing(c: &mut Criterion) {
    let ctx = MarketContext { step: 0, prices: StepPrices { import: PricePerKwh(300_000), export: PricePerKwh(50_000), connected: true } };
    let flat = Some(std::sync::Arc::new(peergrid::market::locality::Locality::flat(100_000)));
    for info in RULES {
        let mut g = c.benchmark_group(info.name);
        for n in [100usize, 1_000, 10_000, 100_000] {
            let book = orders(n, n as u64);
            g.throughput(Throughput::Elements(n as u64));
            g.bench_with_input(BenchmarkId::new("clear", n), &n, |b, _| {
                let mut rule = (info.build)(&RuleSetup { locality: flat.clone(), ..RuleSetup::with_params(default_params(info)) });
                let mut out = Clearing::default();
                b.iter(|| {
                    let mut bk = OrderBook { bids: book.bids.clone(), asks: book.asks.clone() };
                    out.clear();
                    rule.clear(&mut bk, &ctx, &mut rng(0, Stream::Market, 0), &mut out);
                    black_box(out.trades.len())
                })
            });
        }
        g.finish();
    }
    let mut g = c.benchmark_group("sort_only");
    for n in [100usize, 1_000, 10_000, 100_000] {
        let book = orders(n, n as u64);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("sort", n), &n, |b, _| {
            b.iter(|| {
                let mut bids = book.bids.clone();
                let mut asks = book.asks.clone();
                bids.sort_by(|a, b| b.limit.cmp(&a.limit));
                asks.sort_by(|a, b| a.limit.cmp(&b.limit));
                black_box((bids.len(), asks.len()))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, full_step, clearing);
criterion_main!(benches);
