//! `sdr`: supply-demand-ratio pricing (Liu et al. 2017, IEEE Trans. Power Systems,
//! 10.1109/TPWRS.2017.2649558), pooled (see [`super::pool`]).
//!
//! SDR = S / D (total sell over total buy after own use). With λb the grid import price and λs
//! the export price (an island's value of lost load and surplus floor):
//! - 0 ≤ SDR ≤ 1: sell price = λs·λb / ((λb − λs)·SDR + λs); buy price = sell·SDR + λb·(1 − SDR);
//! - SDR > 1: both prices are λs.
//!
//! Peer energy changes hands at the sell price; buyers' grid top-up at λb makes their average the
//! buy price. Edge cases: no buyers or no sellers (SDR 0 or undefined): no peer trade. λs = 0
//! (no feed-in tariff, or an island's floor of 0): the formula gives a sell price of 0 for every
//! SDR > 0, so peer energy is free and buyers pay λb·(1 − SDR); that is the paper's formula taken
//! at its limit, kept as is and documented rather than patched.

use crate::base::money::Price;
use super::pool::{clear_at_tariff, micro, PoolPrices};
use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, TradingRule};
use rand_chacha::ChaCha8Rng;

pub static RULE: RuleInfo = RuleInfo {
    name: "sdr",
    summary: "supply-demand-ratio pricing (Liu et al. 2017), pooled pro rata",
    params: &[],
    build: |_| Box::new(Sdr),
};

pub struct Sdr;

/// SDR prices (micro-units per kWh) for supply and demand.
pub fn prices(s: f64, d: f64, lambda_b: f64, lambda_s: f64) -> Option<PoolPrices> {
    if d <= 0.0 || s <= 0.0 {
        return None;
    }
    let sdr = s / d;
    let (sell, buy) = if sdr <= 1.0 {
        let sell = if lambda_s > 0.0 { lambda_s * lambda_b / ((lambda_b - lambda_s) * sdr + lambda_s) } else { 0.0 };
        (sell, sell * sdr + lambda_b * (1.0 - sdr))
    } else {
        (lambda_s, lambda_s)
    };
    Some(PoolPrices { internal: Price::from_micros(sell), buy: micro(buy), sell: micro(sell) })
}

impl TradingRule for Sdr {
    fn info(&self) -> &'static RuleInfo {
        &RULE
    }

    fn pools(&self) -> bool {
        true
    }

    fn clear(&mut self, book: &mut OrderBook, ctx: &MarketContext, _rng: &mut ChaCha8Rng, out: &mut Clearing) {
        clear_at_tariff(book, ctx, out, false, prices);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_computed_from_the_paper_formulas() {
        // λb = 0.30, λs = 0.06 (micro-units ×1e6), S = 30 kWh, D = 60 kWh ⇒ SDR = 0.5:
        // sell = 0.06·0.30 / (0.24·0.5 + 0.06) = 0.018 / 0.18 = 0.10; buy = 0.10·0.5 + 0.30·0.5 = 0.20.
        let p = prices(30.0, 60.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.sell.0, p.buy.0), (100_000, 200_000));
        // SDR = 1: the denominator is (λb − λs) + λs = λb, so sell = λs and buy = λs.
        let p = prices(10.0, 10.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.sell.0, p.buy.0), (60_000, 60_000));
        // SDR → 0 ⇒ sell → λb.
        let p = prices(1e-9, 10.0, 300_000.0, 60_000.0).unwrap();
        assert!((p.sell.0 - 300_000).abs() <= 1);
        // SDR > 1 ⇒ both λs.
        let p = prices(20.0, 10.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.sell.0, p.buy.0), (60_000, 60_000));
        // λs = 0 ⇒ free peer energy.
        let p = prices(5.0, 10.0, 300_000.0, 0.0).unwrap();
        assert_eq!((p.sell.0, p.buy.0), (0, 150_000));
        assert!(prices(5.0, 0.0, 1.0, 1.0).is_none());
    }
}
