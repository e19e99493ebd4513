//! Households choosing their community: every `interval_steps` each household prices its own
//! energy of the interval in every open community from that community's published figures, adds
//! its preferences, and chooses by a logit with a switching cost (McFadden 1974; switching costs
//! as in Klemperer 1995):
//!
//! P(j) = exp(β·U_j) / Σ_k exp(β·U_k),  U_j = gain_j − switching_cost·[j ≠ current],
//!
//! over "stay free" (grid only, gain 0) and every active community. `docs/communities.md`
//! documents the model; this module holds its arithmetic, free of the ECS.

use crate::settlement::PPM;

/// What the households choose with, resolved from the scenario's `competition`.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceConfig {
    /// Steps between rounds (the first round at this step).
    pub interval_steps: u64,
    /// Most households moving in one round (the largest gains first).
    pub max_moves_per_round: Option<u32>,
    /// β of each household, per currency unit.
    pub beta: Vec<f64>,
    /// Switching cost of each household, currency.
    pub switching_cost: Vec<f64>,
    /// Each household's premiums and favourites (what it values besides money).
    pub preferences: Vec<ChoicePreferences>,
}

/// What a household values in a community besides money, from its stated preferences.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChoicePreferences {
    /// Green premium, currency per kWh of peer (PV) energy bought.
    pub green_per_kwh: f64,
    /// Local premium, currency per kWh traded with peers (bought or sold).
    pub local_per_kwh: f64,
    /// Favourite premium, currency per kWh of its energy, times the share of its favourites in
    /// the community.
    pub favourite_per_kwh: f64,
    /// Its favourites, by household index.
    pub favourites: Vec<u32>,
}

/// What one community's members did over the last interval, from its books: the figures every
/// household can read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Published {
    /// Energy members bought from members (peers, the pool, the community battery), kWh.
    pub bought_kwh: f64,
    /// What they paid for it, network fees included, micro-units.
    pub bought_paid: i64,
    /// What the grid would have charged for it, micro-units.
    pub bought_grid_value: f64,
    /// Energy members sold to members, kWh.
    pub sold_kwh: f64,
    /// What buyers paid for it before the community's fee (peer and pool sales), micro-units.
    pub sold_gross: i64,
    /// Paid for surplus that charged the community battery (no fee on it), micro-units.
    pub sold_fee_free: i64,
    /// What the grid would have paid for all of it, micro-units.
    pub sold_grid_value: f64,
    /// Rebates and solidarity payments, micro-units.
    pub services: i64,
}

/// A community's offer to a household, per kWh of the household's own energy.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Offer {
    /// Saved against the grid per kWh of deficit, currency.
    pub saving_per_deficit_kwh: f64,
    /// Earned above the grid's export price per kWh of surplus, after the fee, currency.
    pub earning_per_surplus_kwh: f64,
    /// Share of members' deficit met by members.
    pub peer_share_of_deficit: f64,
    /// Share of members' surplus sold to members.
    pub peer_share_of_surplus: f64,
    /// Services paid per member over the interval, currency.
    pub services_per_member: f64,
}

impl Published {
    /// The offer these figures make at a fee of `fee_ppm` on sales, given what members needed
    /// (`deficit_kwh`) and had left over (`surplus_kwh`) and how many they were.
    pub fn offer(&self, fee_ppm: i64, deficit_kwh: f64, surplus_kwh: f64, members: u32) -> Offer {
        let per = |x: f64, kwh: f64| if kwh > 0.0 { x / kwh } else { 0.0 };
        let keep = 1.0 - fee_ppm.clamp(0, PPM) as f64 / PPM as f64;
        let earned = self.sold_gross as f64 * keep + self.sold_fee_free as f64 - self.sold_grid_value;
        Offer {
            saving_per_deficit_kwh: per((self.bought_grid_value - self.bought_paid as f64) / 1e6, deficit_kwh),
            earning_per_surplus_kwh: per(earned / 1e6, surplus_kwh),
            peer_share_of_deficit: per(self.bought_kwh, deficit_kwh).min(1.0),
            peer_share_of_surplus: per(self.sold_kwh, surplus_kwh).min(1.0),
            services_per_member: if members > 0 { self.services as f64 / 1e6 / f64::from(members) } else { 0.0 },
        }
    }
}

impl Offer {
    /// What the household gains in this community over an interval like the last, currency:
    /// money against the grid, then its preferences; `favourites_share` is the share of its
    /// favourites who are members.
    pub fn gain(&self, deficit_kwh: f64, surplus_kwh: f64, prefs: &ChoicePreferences, favourites_share: f64) -> f64 {
        let peer_bought = deficit_kwh * self.peer_share_of_deficit;
        let peer_sold = surplus_kwh * self.peer_share_of_surplus;
        deficit_kwh * self.saving_per_deficit_kwh
            + surplus_kwh * self.earning_per_surplus_kwh
            + self.services_per_member
            + prefs.green_per_kwh * peer_bought
            + prefs.local_per_kwh * (peer_bought + peer_sold)
            + prefs.favourite_per_kwh * (deficit_kwh + surplus_kwh) * favourites_share
    }
}

/// Logit choice probabilities over `gains` (in option order) for a household now at option
/// `current`, with `beta` and `switching_cost`: written to `out`. Options with a gain of `None`
/// (closed communities) get 0. Stable: exponents are taken relative to the largest.
pub fn probabilities(gains: &[Option<f64>], current: usize, beta: f64, switching_cost: f64, out: &mut Vec<f64>) {
    out.clear();
    let utility = |j: usize, g: f64| beta * (g - if j == current { 0.0 } else { switching_cost });
    let top = gains.iter().enumerate().filter_map(|(j, g)| g.map(|g| utility(j, g))).fold(f64::NEG_INFINITY, f64::max);
    out.extend(gains.iter().enumerate().map(|(j, g)| g.map_or(0.0, |g| (utility(j, g) - top).exp())));
    let total: f64 = out.iter().sum();
    if total > 0.0 && total.is_finite() {
        out.iter_mut().for_each(|p| *p /= total);
    }
}

/// The option a uniform draw `u` in [0, 1) picks from `probabilities` (inverse CDF in option
/// order; rounding at the top end falls to the last option with a positive probability).
pub fn pick(probabilities: &[f64], u: f64) -> usize {
    let mut acc = 0.0;
    let mut last = 0;
    for (j, p) in probabilities.iter().enumerate() {
        if *p <= 0.0 {
            continue;
        }
        acc += p;
        last = j;
        if u < acc {
            return j;
        }
    }
    last
}

/// Expected share of households that switch in a round when every option offers the same gain:
/// with `options` open options (staying free included), 1 − 1/(1 + (options − 1)·e^(−β·cost)).
/// The noise floor of the logit.
pub fn noise_floor(options: usize, beta: f64, switching_cost: f64) -> f64 {
    let others = (options.saturating_sub(1)) as f64 * (-beta * switching_cost).exp();
    others / (1.0 + others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_gains_give_the_noise_floor() {
        let mut p = Vec::new();
        probabilities(&[Some(5.0), Some(5.0), Some(5.0), None], 1, 0.05, 100.0, &mut p);
        let stay = 1.0 / (1.0 + 2.0 * (-5.0f64).exp());
        assert!((p[1] - stay).abs() < 1e-12);
        assert!((1.0 - p[1] - noise_floor(3, 0.05, 100.0)).abs() < 1e-12);
        assert_eq!(p[3], 0.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn huge_utilities_stay_finite() {
        let mut p = Vec::new();
        probabilities(&[Some(1e6), Some(0.0)], 1, 10.0, 0.0, &mut p);
        assert_eq!(p, vec![1.0, 0.0]);
        assert_eq!(pick(&p, 0.999_999), 0);
    }

    #[test]
    fn pick_follows_the_cumulative_sum() {
        let p = [0.2, 0.0, 0.5, 0.3];
        assert_eq!(pick(&p, 0.0), 0);
        assert_eq!(pick(&p, 0.19), 0);
        assert_eq!(pick(&p, 0.2), 2);
        assert_eq!(pick(&p, 0.69), 2);
        assert_eq!(pick(&p, 0.7), 3);
        assert_eq!(pick(&p, 1.0), 3);
    }

    fn published() -> impl Strategy<Value = Published> {
        (0.0..1e3f64, 0i64..500_000_000, 0.0..5e8f64, 0.0..1e3f64, 0i64..500_000_000, 0i64..50_000_000, 0.0..2e8f64, 0i64..50_000_000).prop_map(|(bk, bp, bv, sk, sg, sf, sv, sv2)| Published {
            bought_kwh: bk,
            bought_paid: bp,
            bought_grid_value: bv,
            sold_kwh: sk,
            sold_gross: sg,
            sold_fee_free: sf,
            sold_grid_value: sv,
            services: sv2,
        })
    }

    proptest! {
        /// With the published figures fixed, raising one community's fee never raises the
        /// probability that a household chooses it, whatever the household, its preferences,
        /// its current community and the other communities.
        #[test]
        fn a_higher_fee_never_attracts(
            figures in proptest::collection::vec(published(), 1..5),
            fees in proptest::collection::vec(0i64..=PPM, 5),
            which in 0usize..5,
            raise in 1i64..PPM,
            deficit in 0.0..500.0f64,
            surplus in 0.0..500.0f64,
            current in 0usize..6,
            beta in 0.0..1.0f64,
            cost in 0.0..300.0f64,
            green in 0.0..0.1f64,
            members in 1u32..200,
        ) {
            let which = which % figures.len();
            let prefs = ChoicePreferences { green_per_kwh: green, local_per_kwh: green / 2.0, ..Default::default() };
            let gains = |fees: &[i64]| -> Vec<Option<f64>> {
                std::iter::once(Some(0.0)).chain(figures.iter().enumerate().map(|(c, f)| Some(f.offer(fees[c], 400.0, 300.0, members).gain(deficit, surplus, &prefs, 0.0)))).collect()
            };
            let current = current % (figures.len() + 1);
            let (mut before, mut after) = (Vec::new(), Vec::new());
            probabilities(&gains(&fees), current, beta, cost, &mut before);
            let mut raised = fees.clone();
            raised[which] = (raised[which] + raise).min(PPM);
            probabilities(&gains(&raised), current, beta, cost, &mut after);
            prop_assert!(after[which + 1] <= before[which + 1] + 1e-12, "P rose from {} to {}", before[which + 1], after[which + 1]);
        }
    }
}
