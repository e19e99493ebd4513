//! `mmr`: mid-market rate (Long et al. 2017, IEEE PES GM, 10.1109/PESGM.2017.8274546), pooled
//! (see [`super::pool`]). On net positions after own use, with S total supply and D total demand,
//! p_mid = (λb + λs)/2:
//! - S ≥ D: buyers pay p_mid; sellers get (D·p_mid + (S − D)·λs)/S on average (their unsold
//!   share is exported at λs);
//! - S < D: sellers get p_mid; buyers pay (S·p_mid + (D − S)·λb)/D on average (the rest is
//!   imported at λb).
//! Peer energy changes hands at p_mid, so the pool is budget balanced.

use crate::base::money::Price;
use super::pool::{clear_at_tariff, micro, PoolPrices};
use super::registry::RuleInfo;
use super::{Clearing, MarketContext, OrderBook, TradingRule};
use rand_chacha::ChaCha8Rng;

pub static RULE: RuleInfo = RuleInfo {
    name: "mmr",
    summary: "mid-market rate (Long et al. 2017): peer energy at (import + export) / 2, pooled pro rata",
    params: &[],
    build: |_| Box::new(Mmr),
};

pub struct Mmr;

/// MMR prices (micro-units per kWh): internal p_mid, and the papers' average buy and sell prices.
pub fn prices(s: f64, d: f64, lambda_b: f64, lambda_s: f64) -> Option<PoolPrices> {
    if d <= 0.0 || s <= 0.0 {
        return None;
    }
    let mid = (lambda_b + lambda_s) / 2.0;
    let (buy, sell) = if s >= d { (mid, (d * mid + (s - d) * lambda_s) / s) } else { ((s * mid + (d - s) * lambda_b) / d, mid) };
    Some(PoolPrices { internal: Price::from_micros(mid), buy: micro(buy), sell: micro(sell) })
}

impl TradingRule for Mmr {
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
        // λb = 0.30, λs = 0.06 ⇒ p_mid = 0.18.
        // S = 40 ≥ D = 10: buyers 0.18; sellers (10·0.18 + 30·0.06)/40 = (1.8 + 1.8)/40 = 0.09.
        let p = prices(40.0, 10.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.internal.micros(), p.buy.0, p.sell.0), (180_000, 180_000, 90_000));
        // S = 10 < D = 40: sellers 0.18; buyers (10·0.18 + 30·0.30)/40 = (1.8 + 9)/40 = 0.27.
        let p = prices(10.0, 40.0, 300_000.0, 60_000.0).unwrap();
        assert_eq!((p.buy.0, p.sell.0), (270_000, 180_000));
    }
}
