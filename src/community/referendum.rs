//! Referendums on a community's terms: at each period's end the first of its proposals that is
//! put forward goes to a vote of its members. Each member re-prices its own bill of the period
//! just ended under the proposal and votes yes when it falls by more than its ε, no when it
//! rises by more than ε, and stays away otherwise (voting costs ε). It passes with a turnout of
//! at least the quorum and more than the majority of the votes cast, and applies from the next
//! period. `docs/communities.md` documents the model; this module holds its arithmetic.
//!
//! The rule's price position (`k` of a k-double auction) is re-priced exactly: it moves every
//! trade's price by the change times the trade's span and never which orders trade, so a
//! member's purchases and sales of the period move by the change times their spans summed
//! (to within a micro-unit per trade, each payment being rounded once).

use super::fee::FeePolicy;
use super::{cap_to_budget, Rebate, Solidarity};
use crate::base::money::Micros;
use crate::settlement::PPM;

/// A community's terms that referendums can change.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Terms {
    pub fee: FeePolicy,
    pub rebate: Option<Rebate>,
    pub solidarity: Option<Solidarity>,
    /// Its rule's price-position parameter and value, when the rule has one
    /// ([`crate::market::registry::ParamInfo::price_position`]).
    pub price_position: Option<PricePosition>,
}

/// A rule parameter that places each trade's price between two bounds, and its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricePosition {
    pub name: &'static str,
    pub value: f64,
}

/// A change to a community's terms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Proposal {
    FeeRate { rate_ppm: i64 },
    FeeBounds { min_ppm: i64, max_ppm: i64 },
    FeeGains { runway_gain: f64, churn_gain: f64 },
    RebateBudget(Micros),
    SolidarityBudget(Micros),
    /// The rule's price-position parameter (validated against the community's rule).
    RuleParam { name: &'static str, value: f64 },
}

impl Proposal {
    /// The terms with this change, or None when it changes nothing (or does not apply to them).
    pub fn apply(&self, t: &Terms) -> Option<Terms> {
        let mut n = *t;
        match (*self, &mut n.fee) {
            (Proposal::FeeRate { rate_ppm }, FeePolicy::Fixed { rate_ppm: r }) => *r = rate_ppm,
            (Proposal::FeeBounds { min_ppm, max_ppm }, FeePolicy::Flexible { min_ppm: lo, max_ppm: hi, .. }) => (*lo, *hi) = (min_ppm, max_ppm),
            (Proposal::FeeGains { runway_gain, churn_gain }, FeePolicy::Flexible { runway_gain: g, churn_gain: c, .. }) => (*g, *c) = (runway_gain, churn_gain),
            (Proposal::RebateBudget(b), _) => n.rebate.as_mut()?.budget = b,
            (Proposal::SolidarityBudget(b), _) => n.solidarity.as_mut()?.budget = b,
            (Proposal::RuleParam { name, value }, _) => n.price_position.as_mut().filter(|p| p.name == name)?.value = value,
            _ => return None,
        }
        (n != *t).then_some(n)
    }

    /// How it reads in `referendums.csv` and the report.
    pub fn label(&self) -> String {
        // Percent to four places at most (a rate is whole ppm), trailing zeros dropped.
        let pct = |ppm: i64| {
            let s = format!("{:.4}", ppm as f64 / 10_000.0);
            format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
        };
        let money = |m: Micros| format!("{:.2}", m.0 as f64 / 1e6);
        match *self {
            Proposal::FeeRate { rate_ppm } => format!("fee rate {}", pct(rate_ppm)),
            Proposal::FeeBounds { min_ppm, max_ppm } => format!("fee bounds {}–{}", pct(min_ppm), pct(max_ppm)),
            Proposal::FeeGains { runway_gain, churn_gain } => format!("fee gains runway {runway_gain}, churn {churn_gain}"),
            Proposal::RebateBudget(b) => format!("rebate budget {}", money(b)),
            Proposal::SolidarityBudget(b) => format!("solidarity budget {}", money(b)),
            Proposal::RuleParam { name, value } => format!("rule {name} {value}"),
        }
    }
}

/// Who puts a proposal to the vote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Proposer {
    /// A majority of the witnesses would vote yes.
    Witnesses,
    /// Members who would vote yes are at least this share of members, ppm.
    Members { support_ppm: i64 },
}

/// A community's referendum settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferendumConfig {
    pub proposals: Vec<Proposal>,
    pub proposer: Proposer,
    /// Votes weigh by stake (PV) rather than one per member.
    pub by_stake: bool,
    /// Least turnout, ppm of the electorate's weight.
    pub quorum_ppm: i64,
    /// Share of the votes cast yes must exceed, ppm.
    pub majority_ppm: i64,
}

/// What a member did in the period just ended that proposals re-price: its peer sales before
/// the fee, its claims on the services before they were cut to their budgets, and its peer
/// purchases and sales weighted by each trade's price span.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MemberPeriod {
    pub household: u32,
    pub sales: i64,
    pub rebate_claim: i64,
    pub solidarity_claim: i64,
    /// Its energy spending less its hardship allowance (`solidarity_claim` is this when
    /// positive); `None` when it cannot claim (no income, or no fund).
    pub solidarity_margin: Option<i64>,
    /// Σ price span × billed kWh of its purchases and of its sales, micro-units per unit of the
    /// price position: what they would cost and earn more per unit more of it.
    pub bought_span: f64,
    pub sold_span: f64,
}

/// Where the fee controller stood at the period's end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeeState {
    pub fee_ppm: i64,
    pub runway: Option<f64>,
    pub churn: f64,
}

/// Each member's bill of the period re-priced under `new` rather than `now`, micro-units (< 0:
/// cheaper): its purchases and sales at the rule's new price position, its sales at the next
/// fee each policy would set, and what the services would have paid it within each budget
/// (its solidarity claim on its re-priced spending).
pub fn bill_changes(now: &Terms, new: &Terms, fee: FeeState, members: &[MemberPeriod]) -> Vec<i64> {
    let next = |t: &Terms| t.fee.next_ppm(fee.fee_ppm, fee.runway, fee.churn);
    let (next_new, fee_delta) = (next(new), next(new) - next(now));
    let position_delta = match (now.price_position, new.price_position) {
        (Some(a), Some(b)) => b.value - a.value,
        _ => 0.0,
    };
    // Energy spending: dearer purchases, dearer sales less the fee on what they add, and the
    // next fee on the period's sales.
    let energy: Vec<i64> = members
        .iter()
        .map(|m| {
            let (bought, sold) = ((position_delta * m.bought_span).round() as i64, (position_delta * m.sold_span).round() as i64);
            let fees = (i128::from(m.sales) * i128::from(fee_delta) + i128::from(sold) * i128::from(next_new)) / i128::from(PPM);
            bought - sold + fees as i64
        })
        .collect();
    let paid = |budget: Option<Micros>, claims: &dyn Fn(usize, &MemberPeriod) -> i64| -> Vec<i64> {
        match budget {
            Some(b) => cap_to_budget(members.iter().enumerate().map(|(i, m)| (m.household, claims(i, m))).collect(), b).into_iter().map(|x| x.1).collect(),
            None => vec![0; members.len()],
        }
    };
    let (rebate_now, rebate_new) = (paid(now.rebate.map(|r| r.budget), &|_, m| m.rebate_claim), paid(new.rebate.map(|r| r.budget), &|_, m| m.rebate_claim));
    let sol_now = paid(now.solidarity.map(|s| s.budget), &|_, m| m.solidarity_claim);
    let sol_new = paid(new.solidarity.map(|s| s.budget), &|i, m| m.solidarity_margin.map_or(0, |x| x.saturating_add(energy[i]).max(0)));
    (0..members.len()).map(|i| energy[i] - (rebate_new[i] - rebate_now[i]) - (sol_new[i] - sol_now[i])).collect()
}

/// A member's vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vote {
    Yes,
    No,
    Abstain,
}

/// How a member with indifference `epsilon` (currency) votes on a change of `bill_change`
/// (micro-units) to its bill.
pub fn vote(bill_change: i64, epsilon: f64) -> Vote {
    let eps = (epsilon.max(0.0) * 1e6).round() as i64;
    if bill_change < -eps {
        Vote::Yes
    } else if bill_change > eps {
        Vote::No
    } else {
        Vote::Abstain
    }
}

/// A referendum's count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: u32,
    pub no: u32,
    pub abstain: u32,
    /// Weights (1 per member, or its stake).
    pub yes_weight: u64,
    pub no_weight: u64,
    pub electorate_weight: u64,
    pub passed: bool,
}

/// Counts `votes` with `weights` (all zero: one each) under `cfg`'s quorum and majority.
pub fn tally(votes: &[Vote], weights: &[u64], cfg: &ReferendumConfig) -> Tally {
    let equal = !cfg.by_stake || weights.iter().all(|w| *w == 0);
    let mut t = Tally::default();
    for (i, v) in votes.iter().enumerate() {
        let w = if equal { 1 } else { weights[i] };
        t.electorate_weight += w;
        match v {
            Vote::Yes => {
                t.yes += 1;
                t.yes_weight += w;
            }
            Vote::No => {
                t.no += 1;
                t.no_weight += w;
            }
            Vote::Abstain => t.abstain += 1,
        }
    }
    let cast = u128::from(t.yes_weight + t.no_weight);
    let quorate = cast * PPM as u128 >= u128::from(t.electorate_weight) * cfg.quorum_ppm as u128 && cast > 0;
    t.passed = quorate && u128::from(t.yes_weight) * PPM as u128 > cast * cfg.majority_ppm as u128;
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(quorum_ppm: i64, majority_ppm: i64) -> ReferendumConfig {
        ReferendumConfig { proposals: Vec::new(), proposer: Proposer::Witnesses, by_stake: false, quorum_ppm, majority_ppm }
    }

    #[test]
    fn votes_follow_the_bill() {
        assert_eq!(vote(-2_000_000, 1.0), Vote::Yes);
        assert_eq!(vote(-1_000_000, 1.0), Vote::Abstain);
        assert_eq!(vote(1_000_001, 1.0), Vote::No);
        assert_eq!(vote(-1, 0.0), Vote::Yes);
        assert_eq!(vote(0, 0.0), Vote::Abstain);
    }

    #[test]
    fn quorum_and_majority() {
        use Vote::*;
        // 3 of 10 vote: 30% turnout.
        let v = [Yes, Yes, No, Abstain, Abstain, Abstain, Abstain, Abstain, Abstain, Abstain];
        assert!(tally(&v, &[0; 10], &cfg(300_000, 500_000)).passed);
        assert!(!tally(&v, &[0; 10], &cfg(300_001, 500_000)).passed);
        // 2 of 3 is not more than two thirds.
        assert!(!tally(&v, &[0; 10], &cfg(0, 666_667)).passed);
        // A tie fails.
        assert!(!tally(&[Yes, No], &[0; 2], &cfg(0, 500_000)).passed);
        // By stake: the one big yes outweighs two small noes.
        let c = ReferendumConfig { by_stake: true, ..cfg(0, 500_000) };
        let t = tally(&[Yes, No, No], &[10, 3, 3], &c);
        assert!(t.passed && t.yes == 1 && t.no == 2 && t.yes_weight == 10);
        // Nobody votes: nothing passes, whatever the quorum.
        assert!(!tally(&[Abstain, Abstain], &[0; 2], &cfg(0, 500_000)).passed);
    }

    #[test]
    fn a_lower_fee_lowers_sellers_bills_and_a_bigger_budget_raises_rebates() {
        let now = Terms { fee: FeePolicy::Fixed { rate_ppm: 50_000 }, rebate: Some(Rebate { share_ppm: 500_000, budget: Micros(1_000_000) }), solidarity: None, price_position: None };
        let members = [MemberPeriod { household: 0, sales: 10_000_000, ..Default::default() }, MemberPeriod { household: 1, rebate_claim: 2_000_000, ..Default::default() }];
        let state = FeeState { fee_ppm: 50_000, runway: None, churn: 0.0 };
        let cut = Proposal::FeeRate { rate_ppm: 20_000 }.apply(&now).unwrap();
        assert_eq!(bill_changes(&now, &cut, state, &members), vec![-300_000, 0]);
        let budget = Proposal::RebateBudget(Micros(3_000_000)).apply(&now).unwrap();
        assert_eq!(bill_changes(&now, &budget, state, &members), vec![0, -1_000_000]);
        assert_eq!(Proposal::FeeRate { rate_ppm: 50_000 }.apply(&now), None, "no change");
        assert_eq!(Proposal::FeeRate { rate_ppm: 70_000 }.label(), "fee rate 7%");
        assert_eq!(Proposal::FeeBounds { min_ppm: 125, max_ppm: 1_000_000 }.label(), "fee bounds 0.0125%–100%");
        assert_eq!(Proposal::RebateBudget(Micros(60_000_000)).label(), "rebate budget 60.00");
        assert_eq!(Proposal::FeeBounds { min_ppm: 0, max_ppm: 1 }.apply(&now), None, "not a flexible fee");
    }

    #[test]
    fn a_higher_price_position_costs_buyers_and_pays_sellers_less_the_fee() {
        // k 0.5 → 0.7 in a double auction. Member 0 bought 10 kWh across a spread of 100 µ/kWh
        // (span sum 1,000 µ per unit of k): 0.2 × 1,000 = 200 µ dearer. Member 1 sold the same:
        // 200 µ more, less the 5% fee on it (10 µ). Member 2 is in hardship: its claim grows by
        // its dearer purchases, and the fund (budget ample) pays that back.
        let now = Terms {
            fee: FeePolicy::Fixed { rate_ppm: 50_000 },
            rebate: None,
            solidarity: Some(Solidarity { budget: Micros(1_000_000_000) }),
            price_position: Some(PricePosition { name: "k", value: 0.5 }),
        };
        let members = [
            MemberPeriod { household: 0, bought_span: 1_000.0, solidarity_margin: Some(-5_000), ..Default::default() },
            MemberPeriod { household: 1, sales: 100_000, sold_span: 1_000.0, ..Default::default() },
            MemberPeriod { household: 2, bought_span: 1_000.0, solidarity_claim: 3_000, solidarity_margin: Some(3_000), ..Default::default() },
        ];
        let state = FeeState { fee_ppm: 50_000, runway: None, churn: 0.0 };
        let up = Proposal::RuleParam { name: "k", value: 0.7 }.apply(&now).unwrap();
        assert_eq!(bill_changes(&now, &up, state, &members), vec![200, -190, 0]);
        assert_eq!(Proposal::RuleParam { name: "alpha", value: 0.7 }.apply(&now), None, "not this rule's parameter");
        assert_eq!(Proposal::RuleParam { name: "k", value: 0.5 }.apply(&now), None, "no change");
        assert_eq!(Proposal::RuleParam { name: "k", value: 0.7 }.label(), "rule k 0.7");
    }
}
