//! A community's fee on its members' peer sales, set each period from the state of its
//! treasury: the better it is run, the lower the fee.
//!
//! Flexible policy (`docs/communities.md`): runway R = treasury balance ÷ mean obligations of
//! the last [`RUNWAY_PERIODS`] periods (in periods); the next fee is
//! clamp(fee × (1 + g·(R* − R)/R* + c·churn), fee_min, fee_max), where R* is the target runway,
//! g the runway gain, c the churn gain and churn the share of members who left last period; the
//! factor is bounded to 1 ± [`MAX_CHANGE_PER_PERIOD`] (EIP-1559's bounded base-fee update).

use crate::base::money::Micros;
use crate::settlement::PPM;

/// Periods of obligations the runway is measured against.
pub const RUNWAY_PERIODS: usize = 3;

/// Most the fee moves in one period, as a share of itself: 1/8, as EIP-1559's base fee.
pub const MAX_CHANGE_PER_PERIOD: f64 = 0.125;

/// How a community's fee rate is set, in ppm of the trade amount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeePolicy {
    Fixed { rate_ppm: i64 },
    Flexible {
        initial_ppm: i64,
        min_ppm: i64,
        max_ppm: i64,
        /// R*, periods.
        target_runway_periods: f64,
        /// g.
        runway_gain: f64,
        /// c.
        churn_gain: f64,
    },
}

impl FeePolicy {
    /// The rate of the first period.
    pub fn initial_ppm(&self) -> i64 {
        match *self {
            FeePolicy::Fixed { rate_ppm } => rate_ppm,
            FeePolicy::Flexible { initial_ppm, min_ppm, max_ppm, .. } => initial_ppm.clamp(min_ppm, max_ppm),
        }
    }

    /// The next period's rate after a period at `fee_ppm` that ended with `runway` (None: no
    /// obligations, an unbounded runway) and `churn` (share of members who left, 0..1).
    /// A rate the controller raises moves by at least 1 ppm, so a fee at zero can rise.
    pub fn next_ppm(&self, fee_ppm: i64, runway: Option<f64>, churn: f64) -> i64 {
        match *self {
            FeePolicy::Fixed { rate_ppm } => rate_ppm,
            FeePolicy::Flexible { min_ppm, max_ppm, target_runway_periods, runway_gain, churn_gain, .. } => {
                let pressure = match runway {
                    Some(r) => runway_gain * (target_runway_periods - r) / target_runway_periods,
                    None => f64::NEG_INFINITY,
                } + churn_gain * churn;
                let factor = (1.0 + pressure).clamp(1.0 - MAX_CHANGE_PER_PERIOD, 1.0 + MAX_CHANGE_PER_PERIOD);
                let mut next = (fee_ppm as f64 * factor).round() as i64;
                if factor > 1.0 && next == fee_ppm {
                    next += 1;
                }
                next.clamp(min_ppm, max_ppm)
            }
        }
    }
}

/// Runway in periods: `balance` ÷ the mean of `recent` obligations (the last
/// [`RUNWAY_PERIODS`] at most); None when they are all zero.
pub fn runway(balance: Micros, recent: &[Micros]) -> Option<f64> {
    let recent = &recent[recent.len().saturating_sub(RUNWAY_PERIODS)..];
    let total: i128 = recent.iter().map(|m| i128::from(m.0)).sum();
    (total > 0).then(|| balance.0 as f64 / (total as f64 / recent.len() as f64))
}

/// A rate in ppm as the fraction shown in outputs.
pub fn rate_fraction(ppm: i64) -> f64 {
    ppm as f64 / PPM as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flexible() -> FeePolicy {
        FeePolicy::Flexible { initial_ppm: 20_000, min_ppm: 5_000, max_ppm: 50_000, target_runway_periods: 3.0, runway_gain: 0.5, churn_gain: 1.0 }
    }

    /// By hand: R* = 3, g = 0.5, c = 1.
    /// 1. R = 1.5, churn 0: 1 + 0.5·1.5/3 = 1.25 → bounded 1.125: 20,000 → 22,500.
    /// 2. R = 2.7, churn 0: 1 + 0.5·0.3/3 = 1.05: 22,500 → 23,625.
    /// 3. R = 3.6, churn 0.02: 1 − 0.5·0.6/3 + 0.02 = 0.92: 23,625 → 21,735.
    /// 4. no obligations: bounded 0.875: 21,735 → 19,018.125 → 19,018.
    /// 5. R = 0, churn 0.5: 1 + 0.5 + 0.5 → 1.125: 19,018 → 21,395.25 → 21,395.
    /// 6. R = 9 (far above target) from 5,500: 0.875 → 4,812.5 → clamped to the 5,000 floor.
    #[test]
    fn flexible_fee_follows_a_hand_computed_sequence() {
        let p = flexible();
        assert_eq!(p.initial_ppm(), 20_000);
        let mut fee = p.initial_ppm();
        for (runway, churn, want) in [(Some(1.5), 0.0, 22_500), (Some(2.7), 0.0, 23_625), (Some(3.6), 0.02, 21_735), (None, 0.0, 19_018), (Some(0.0), 0.5, 21_395)] {
            fee = p.next_ppm(fee, runway, churn);
            assert_eq!(fee, want, "runway {runway:?}, churn {churn}");
        }
        assert_eq!(p.next_ppm(5_500, Some(9.0), 0.0), 5_000);
        assert_eq!(p.next_ppm(49_000, Some(0.0), 0.0), 50_000, "the ceiling holds");
    }

    #[test]
    fn a_zero_fee_can_rise_and_a_fixed_fee_stays() {
        let p = FeePolicy::Flexible { initial_ppm: 0, min_ppm: 0, max_ppm: 10_000, target_runway_periods: 2.0, runway_gain: 1.0, churn_gain: 0.0 };
        assert_eq!(p.next_ppm(0, Some(0.5), 0.0), 1);
        assert_eq!(p.next_ppm(8, Some(0.5), 0.0), 9);
        assert_eq!(FeePolicy::Fixed { rate_ppm: 7 }.next_ppm(7, Some(0.0), 1.0), 7);
    }

    #[test]
    fn runway_is_the_balance_over_mean_recent_obligations() {
        let m = |x: i64| Micros(x);
        assert_eq!(runway(m(600), &[m(100), m(200), m(300)]), Some(3.0));
        // Only the last three periods count.
        assert_eq!(runway(m(600), &[m(1_000_000), m(100), m(200), m(300)]), Some(3.0));
        assert_eq!(runway(m(600), &[m(0), m(0)]), None);
        assert_eq!(runway(m(600), &[]), None);
    }
}
