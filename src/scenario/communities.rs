//! Checks and resolves `communities`, households' `member_of` and incomes, and the
//! `SwitchCommunity` and `FoundCommunity` events.

use super::generate::{check_dist_upto, draw, HouseDraft};
use super::schema::{CommunityFeeSpec, CompetitionSpec, EventSpec, ProposalSpec, ProposerSpec, ReferendumSpec, ScenarioFile, ServiceSpec, VotingSpec};
use super::validate::{check_id, check_rule_params_at, Bound, Validator};
use crate::base::money::Micros;
use crate::community::fee::FeePolicy;
use crate::base::seed::{rng, Stream};
use crate::community::choice::{ChoiceConfig, ChoicePreferences};
use crate::community::referendum::{Proposal, Proposer, ReferendumConfig};
use crate::community::{CommunitiesConfig, CommunityBattery, CommunityConfig, MembershipChange, Rebate, Solidarity};
use crate::market::registry;
use crate::settlement::PPM;
use std::collections::HashMap;

/// At most this many communities in one scenario.
pub const MAX_COMMUNITIES: usize = 1_000;
/// Longest community period, days (ten years).
const MAX_PERIOD_DAYS: f64 = 3_660.0;
/// Most money accepted for a fund, a budget or a pay, currency: with a thousand witnesses and
/// every budget at it, a period's obligations stay far inside i64 micro-units.
const MAX_MONEY: f64 = 1e9;
/// Longest target runway, periods.
const MAX_TARGET_RUNWAY_PERIODS: f64 = 1_000.0;
/// Largest controller gain.
const MAX_GAIN: f64 = 100.0;
/// Most witnesses a community elects.
const MAX_COMMUNITY_WITNESSES: u32 = 1_000;
/// Most periods in a row before a default.
const MAX_DEFAULT_AFTER_PERIODS: u32 = 10_000;

/// Longest life of a community battery, years.
const MAX_BATTERY_LIFE_YEARS: f64 = 100.0;
/// Largest β, per currency unit (at 100 a household follows a gain of a hundredth of a unit).
const MAX_BETA: f64 = 100.0;
/// Most proposals on a community's list.
const MAX_PROPOSALS: usize = 100;

fn ppm(rate: f64) -> i64 {
    (rate * PPM as f64).round() as i64
}

/// The run's communities, or `None` when the scenario has none (then `member_of` and the
/// community events are errors). `rule_override` is `--rule`: every community then trades under
/// it, with its default parameters.
pub fn resolve(v: &mut Validator, file: &ScenarioFile, drafts: &[HouseDraft], step_minutes: u32, total_steps: u64, rule_override: Option<&str>) -> Option<CommunitiesConfig> {
    // The first community of each id (a duplicate is reported below).
    let mut index: HashMap<&str, u16> = HashMap::new();
    for (i, c) in file.communities.iter().enumerate() {
        index.entry(c.id.as_str()).or_insert(i as u16);
    }
    if file.communities.len() > MAX_COMMUNITIES {
        v.err("communities", format!("{} communities; at most {MAX_COMMUNITIES}", file.communities.len()));
        return None;
    }
    // A group's houses share its `member_of`: an unknown id is reported once, at its first house.
    let mut reported = std::collections::HashSet::new();
    let member_of: Vec<Option<u16>> = drafts
        .iter()
        .map(|h| {
            let id = h.member_of.as_deref()?;
            let found = index.get(id).copied();
            let entry = h.path.split(' ').next().unwrap_or(&h.path);
            if found.is_none() && reported.insert(entry.to_string()) {
                let known = if file.communities.is_empty() { "the scenario has no `communities`".to_string() } else { format!("communities: {}", file.communities.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")) };
                v.err(&format!("{}.member_of", h.path), format!("no community has id `{id}`; {known}"));
            }
            found
        })
        .collect();
    let mut founded: Vec<Option<u64>> = vec![None; file.communities.len()];
    let ids: HashMap<&str, u32> = drafts.iter().enumerate().map(|(i, h)| (h.id.as_str(), i as u32)).collect();
    let mut changes = Vec::new();
    for (i, e) in file.events.iter().enumerate() {
        let at = format!("events[{i}]");
        let community = |v: &mut Validator, field: &str, id: &str| {
            let c = index.get(id).copied();
            if c.is_none() {
                v.err(&format!("{at}.{field}"), format!("no community has id `{id}`"));
            }
            c
        };
        match e {
            EventSpec::SwitchCommunity { step, household, to } => {
                let h = ids.get(household.as_str()).copied();
                if h.is_none() {
                    v.err(&format!("{at}.household"), format!("no household has id `{household}`"));
                }
                let to_c = to.as_deref().map(|id| community(v, "to", id));
                if *step >= total_steps {
                    v.err(&format!("{at}.step"), format!("{step} is after the run's last step ({})", total_steps.saturating_sub(1)));
                }
                if let (Some(h), Some(to)) = (h, to_c.map_or(Some(None), |c| c.map(Some))) {
                    changes.push(MembershipChange { step: *step, household: h, to });
                }
            }
            EventSpec::FoundCommunity { step, community: id } => {
                if *step >= total_steps {
                    v.err(&format!("{at}.step"), format!("{step} is after the run's last step ({})", total_steps.saturating_sub(1)));
                }
                if let Some(c) = community(v, "community", id) && founded[c as usize].replace(*step).is_some() {
                    v.err(&format!("{at}.community"), format!("community `{id}` is founded twice"));
                }
            }
            EventSpec::JoinCommunity { .. } | EventSpec::LeaveCommunity { .. } | EventSpec::Cloud { .. } | EventSpec::SwitchRule { .. } => {}
        }
    }
    changes.sort_by_key(|c| c.step);
    // Moves at step 0 into communities there from the start (or out) are the starting membership.
    let mut member_of = member_of;
    changes.retain(|ch| {
        let at_start = ch.step == 0 && ch.to.is_none_or(|c| founded[c as usize].unwrap_or(0) == 0);
        if at_start {
            member_of[ch.household as usize] = ch.to;
        }
        !at_start
    });
    if file.communities.is_empty() {
        if file.competition.is_some() {
            v.err("competition", "the scenario has no `communities` to choose between".to_string());
        }
        return None;
    }
    if rule_override.is_none() && (file.market.rule != super::schema::MarketSpec::default().rule || !file.market.params.is_empty()) {
        v.err("market.rule", "with `communities`, each community names its own `rule` and `params`; remove `market.rule` and `market.params` (`--rule NAME` runs every community under one rule)".to_string());
    }
    if file.ledger.treasury.is_some() {
        v.err("ledger.treasury", "with `communities`, each community's `fee_policy` sets its own treasury's fee; remove `ledger.treasury`".to_string());
    }
    let mut communities = Vec::new();
    let mut seen = HashMap::new();
    for (i, c) in file.communities.iter().enumerate() {
        let at = format!("communities[{i}]");
        if check_id(v, &format!("{at}.id"), &c.id) && let Some(first) = seen.insert(c.id.as_str(), i) {
            v.err(&format!("{at}.id"), format!("`{}` is also the id of communities[{first}]", c.id));
            continue;
        }
        let rule_name = rule_override.unwrap_or(&c.rule);
        let rule = registry::find(rule_name);
        if rule.is_none() {
            v.err(&format!("{at}.rule"), format!("unknown rule `{rule_name}`; allowed: {}", registry::names().join(", ")));
        }
        let params = match (rule, rule_override) {
            (Some(r), None) => check_rule_params_at(v, &format!("{at}.params"), r, &c.params),
            (Some(r), Some(_)) => check_rule_params_at(v, &format!("{at}.params"), r, &Default::default()),
            (None, _) => Default::default(),
        };
        let fee = match c.fee_policy {
            CommunityFeeSpec::Fixed { rate } => {
                v.fraction(&format!("{at}.fee_policy.rate"), rate);
                FeePolicy::Fixed { rate_ppm: ppm(rate) }
            }
            CommunityFeeSpec::Flexible { initial_rate, min_rate, max_rate, target_runway_periods, runway_gain, churn_gain } => {
                let f = format!("{at}.fee_policy");
                v.fraction(&format!("{f}.min_rate"), min_rate);
                if v.fraction(&format!("{f}.max_rate"), max_rate) && max_rate < min_rate {
                    v.err(&format!("{f}.max_rate"), format!("{max_rate} is below min_rate {min_rate}: the bounds are reversed"));
                } else {
                    v.range(&format!("{f}.initial_rate"), initial_rate, Bound::Incl(min_rate.max(0.0)), Bound::Incl(max_rate.min(1.0)), "(between min_rate and max_rate)");
                }
                v.range(&format!("{f}.target_runway_periods"), target_runway_periods, Bound::Above(0.0), Bound::Incl(MAX_TARGET_RUNWAY_PERIODS), "periods");
                v.range(&format!("{f}.runway_gain"), runway_gain, Bound::Incl(0.0), Bound::Incl(MAX_GAIN), "");
                v.range(&format!("{f}.churn_gain"), churn_gain, Bound::Incl(0.0), Bound::Incl(MAX_GAIN), "");
                FeePolicy::Flexible { initial_ppm: ppm(initial_rate), min_ppm: ppm(min_rate), max_ppm: ppm(max_rate), target_runway_periods, runway_gain, churn_gain }
            }
        };
        let mut period_steps = 1;
        if v.range(&format!("{at}.period_days"), c.period_days, Bound::Above(0.0), Bound::Incl(MAX_PERIOD_DAYS), "days") {
            let steps = c.period_days * 1440.0 / f64::from(step_minutes.max(1));
            if (steps - steps.round()).abs() > 1e-9 || steps.round() < 1.0 {
                v.err(&format!("{at}.period_days"), format!("{} days is not a whole number of {step_minutes}-minute steps", c.period_days));
            }
            period_steps = (steps.round() as u64).max(1);
        }
        let money = |v: &mut Validator, field: &str, x: f64| {
            v.range(&format!("{at}.{field}"), x, Bound::Incl(0.0), Bound::Incl(MAX_MONEY), "");
            Micros::from_units(x.clamp(0.0, MAX_MONEY))
        };
        let initial_fund = money(v, "initial_fund", c.initial_fund);
        let witness_pay = money(v, "witness_pay_per_period", c.witness_pay_per_period);
        if c.witnesses > MAX_COMMUNITY_WITNESSES {
            v.err(&format!("{at}.witnesses"), format!("{} is out of range 0..={MAX_COMMUNITY_WITNESSES}", c.witnesses));
        }
        if c.default_after_periods == 0 || c.default_after_periods > MAX_DEFAULT_AFTER_PERIODS {
            v.err(&format!("{at}.default_after_periods"), format!("{} is out of range 1..={MAX_DEFAULT_AFTER_PERIODS}", c.default_after_periods));
        }
        let (mut rebate, mut solidarity, mut battery) = (None, None, None);
        for (j, s) in c.services.iter().enumerate() {
            let sat = format!("services[{j}]");
            match *s {
                ServiceSpec::NetworkFeeRebate { share, budget_per_period } => {
                    v.fraction(&format!("{at}.{sat}.share"), share);
                    let budget = money(v, &format!("{sat}.budget_per_period"), budget_per_period);
                    if rebate.replace(Rebate { share_ppm: ppm(share.clamp(0.0, 1.0)), budget }).is_some() {
                        v.err(&format!("{at}.{sat}"), "a second NetworkFeeRebate; give one".to_string());
                    }
                }
                ServiceSpec::Solidarity { budget_per_period } => {
                    let budget = money(v, &format!("{sat}.budget_per_period"), budget_per_period);
                    if solidarity.replace(Solidarity { budget }).is_some() {
                        v.err(&format!("{at}.{sat}"), "a second Solidarity fund; give one".to_string());
                    }
                }
                ServiceSpec::Battery { battery: ref spec, cost, life_years, buy_share, sell_share } => {
                    super::validate::check_battery(v, &format!("{at}.{sat}.battery"), spec);
                    let cost_micros = money(v, &format!("{sat}.cost"), cost);
                    if cost_micros > initial_fund {
                        v.err(&format!("{at}.{sat}.cost"), format!("{cost} is more than the community's initial_fund {}: the battery is bought from it at the founding", c.initial_fund));
                    }
                    v.range(&format!("{at}.{sat}.life_years"), life_years, Bound::Above(0.0), Bound::Incl(MAX_BATTERY_LIFE_YEARS), "years");
                    v.fraction(&format!("{at}.{sat}.buy_share"), buy_share);
                    if v.fraction(&format!("{at}.{sat}.sell_share"), sell_share) && sell_share < buy_share {
                        v.err(&format!("{at}.{sat}.sell_share"), format!("{sell_share} is below buy_share {buy_share}: the treasury would sell members the battery's energy for less than it pays them for it"));
                    }
                    let life_steps = (life_years.clamp(0.0, MAX_BATTERY_LIFE_YEARS) * 365.0 * 1440.0 / f64::from(step_minutes.max(1))).round().max(1.0) as u64;
                    let b = CommunityBattery {
                        battery: crate::household::battery::Battery::from_spec(spec, f64::from(step_minutes) / 60.0),
                        cost: cost_micros,
                        life_steps,
                        buy_share_ppm: ppm(buy_share.clamp(0.0, 1.0)),
                        sell_share_ppm: ppm(sell_share.clamp(0.0, 1.0)),
                    };
                    if battery.replace(b).is_some() {
                        v.err(&format!("{at}.{sat}"), "a second Battery; give one".to_string());
                    }
                }
            }
        }
        let founding: Vec<usize> = member_of.iter().enumerate().filter(|(_, m)| **m == Some(i as u16)).map(|(h, _)| h).collect();
        if initial_fund.0 > 0 && founding.is_empty() {
            v.err(&format!("{at}.initial_fund"), format!("community `{}` has no members (`member_of`) to pay its initial fund", c.id));
        }
        if solidarity.is_some() && founding.iter().all(|h| drafts[*h].income_per_year.is_none()) && !founding.is_empty() {
            v.err(&format!("{at}.services"), "a Solidarity fund needs its members' `income_per_year`; none of them has one".to_string());
        }
        let referendum = c.referendum.as_ref().map(|r| check_referendum(v, &format!("{at}.referendum"), r, rule, rule_override.is_some(), &fee, rebate.is_some(), solidarity.is_some()));
        if c.witnesses == 0 && c.referendum.as_ref().is_some_and(|r| r.proposed_by == ProposerSpec::Witnesses) {
            v.err(&format!("{at}.referendum.proposed_by"), "Witnesses, but the community elects no `witnesses`: nothing would ever be put to the vote (give witnesses, or `Members(support)`)".to_string());
        }
        let Some(rule) = rule else { continue };
        communities.push(CommunityConfig {
            id: c.id.clone(),
            name: if c.name.is_empty() { c.id.clone() } else { c.name.clone() },
            rule,
            params,
            fee,
            period_steps,
            founded_step: founded[i].unwrap_or(0),
            initial_fund,
            witnesses: c.witnesses,
            witness_pay,
            rebate,
            solidarity,
            battery,
            default_after_periods: c.default_after_periods,
            referendum,
        });
    }
    // Each household's β, switching cost and ε, in that order on its own stream, so that its
    // draws do not depend on the others'; without `competition`, the default ε alone.
    let loyalty: Vec<(f64, f64, f64)> = (0..drafts.len())
        .map(|h| {
            let mut r = rng(file.seed, Stream::Loyalty, h as u64);
            match &file.competition {
                Some(k) => {
                    let beta = draw(&k.beta, &mut r).clamp(0.0, MAX_BETA);
                    let cost = draw(&k.switching_cost, &mut r).clamp(0.0, MAX_MONEY);
                    (beta, cost, draw(&k.vote_epsilon, &mut r).clamp(0.0, MAX_MONEY))
                }
                None => (0.0, 0.0, draw(&super::schema::default_vote_epsilon(), &mut r)),
            }
        })
        .collect();
    let choice = file.competition.as_ref().map(|k| resolve_choice(v, k, drafts, &ids, step_minutes, &loyalty));
    Some(CommunitiesConfig {
        choice,
        vote_epsilon: loyalty.iter().map(|l| l.2).collect(),
        forced_rule: rule_override.is_some(),
        communities,
        member_of,
        income_per_year: drafts.iter().map(|h| h.income_per_year.map(|x| Micros::from_units(x.clamp(0.0, MAX_MONEY)))).collect(),
        changes,
        stakes: drafts.iter().map(|h| h.pv.as_ref().map_or(0, |p| (p.kwp.clamp(0.0, 1e9) * 1e6).round() as u64)).collect(),
        seed: file.seed,
    })
}

/// Checks `competition`; each household's β and switching cost are the first two of its
/// `loyalty` draws.
fn resolve_choice(v: &mut Validator, k: &CompetitionSpec, drafts: &[HouseDraft], ids: &HashMap<&str, u32>, step_minutes: u32, loyalty: &[(f64, f64, f64)]) -> ChoiceConfig {
    let mut interval_steps = 1;
    if v.range("competition.interval_days", k.interval_days, Bound::Above(0.0), Bound::Incl(MAX_PERIOD_DAYS), "days") {
        let steps = k.interval_days * 1440.0 / f64::from(step_minutes.max(1));
        if steps.round() < 1.0 {
            v.err("competition.interval_days", format!("{} days is shorter than one {step_minutes}-minute step", k.interval_days));
        } else if (steps - steps.round()).abs() > 1e-9 {
            v.err("competition.interval_days", format!("{} days is not a whole number of {step_minutes}-minute steps", k.interval_days));
        }
        interval_steps = (steps.round() as u64).max(1);
    }
    check_dist_upto(v, "competition.beta", &k.beta, "per currency unit", MAX_BETA);
    check_dist_upto(v, "competition.switching_cost", &k.switching_cost, "", MAX_MONEY);
    check_dist_upto(v, "competition.vote_epsilon", &k.vote_epsilon, "", MAX_MONEY);
    if k.max_moves_per_round == Some(0) {
        v.err("competition.max_moves_per_round", "0 would keep everyone where they are; give at least 1, or leave it out for no limit".to_string());
    }
    let (beta, switching_cost) = loyalty.iter().map(|l| (l.0, l.1)).unzip();
    let preferences = drafts
        .iter()
        .map(|h| {
            let p = &h.preferences;
            let mut favourites: Vec<u32> = p.favourites.iter().filter_map(|f| ids.get(f.as_str()).copied()).collect();
            favourites.sort_unstable();
            favourites.dedup();
            ChoicePreferences { green_per_kwh: p.green_premium_per_kwh, local_per_kwh: p.local_premium_per_kwh, favourite_per_kwh: p.favourite_premium_per_kwh, favourites }
        })
        .collect();
    ChoiceConfig { interval_steps, max_moves_per_round: k.max_moves_per_round, beta, switching_cost, preferences }
}

/// Checks a community's `referendum` against its rule, fee policy and services. With the rule
/// `forced` by `--rule` (every community under one rule, as `compare` and sweeps run them), a
/// `RuleParam` proposal that rule has no price position for is left out rather than refused.
#[allow(clippy::too_many_arguments)]
fn check_referendum(v: &mut Validator, at: &str, r: &ReferendumSpec, rule: Option<&'static registry::RuleInfo>, forced: bool, fee: &FeePolicy, rebate: bool, solidarity: bool) -> ReferendumConfig {
    v.range(&format!("{at}.quorum"), r.quorum, Bound::Incl(0.0), Bound::Incl(1.0), "(the share of the electorate, members or their stake, that must vote; 1 = 100%)");
    if v.range(&format!("{at}.majority"), r.majority, Bound::Incl(0.5), Bound::Incl(1.0), "(the share of the votes cast yes must exceed)") && r.majority >= 1.0 {
        v.err(&format!("{at}.majority"), "1 would never pass: yes must exceed this share of the votes cast; give 0.5 to below 1".to_string());
    }
    if r.proposals.is_empty() {
        v.err(&format!("{at}.proposals"), "no proposals; list the changes members can vote on".to_string());
    }
    if r.proposals.len() > MAX_PROPOSALS {
        v.err(&format!("{at}.proposals"), format!("{} proposals; at most {MAX_PROPOSALS}", r.proposals.len()));
    }
    let flexible = matches!(fee, FeePolicy::Flexible { .. });
    let mut proposals = Vec::new();
    for (i, p) in r.proposals.iter().enumerate().take(MAX_PROPOSALS) {
        let pat = format!("{at}.proposals[{i}]");
        let proposal = match *p {
            ProposalSpec::RuleParam { ref name, value } => {
                let Some(rule) = rule else { continue };
                if forced && !rule.params.iter().any(|x| x.name == name && x.price_position) {
                    continue;
                }
                let Some(param) = rule.params.iter().find(|x| x.name == name) else {
                    let known: Vec<&str> = rule.params.iter().map(|x| x.name).collect();
                    v.err(&format!("{pat}.name"), format!("`{}` has no parameter `{name}`; its parameters: {}", rule.name, if known.is_empty() { "none".to_string() } else { known.join(", ") }));
                    continue;
                };
                if !param.price_position {
                    let able: Vec<String> = registry::RULES.iter().flat_map(|r| r.params.iter().filter(|x| x.price_position).map(move |x| format!("{} of {}", x.name, r.name))).collect();
                    v.err(&format!("{pat}.name"), format!("`{name}` of `{}` changes which orders trade, not only their price, so members cannot re-price their last period under another value; referendums can change {}", rule.name, able.join(", ")));
                    continue;
                }
                v.range(&format!("{pat}.value"), value, Bound::Incl(param.min), Bound::Incl(param.max), "");
                Proposal::RuleParam { name: param.name, value: value.clamp(param.min, param.max) }
            }
            ProposalSpec::FeeRate { rate } => {
                if flexible {
                    v.err(&pat, "FeeRate changes a Fixed fee policy; this community's is Flexible (propose FeeBounds or FeeGains)".to_string());
                }
                v.fraction(&format!("{pat}.rate"), rate);
                Proposal::FeeRate { rate_ppm: ppm(rate.clamp(0.0, 1.0)) }
            }
            ProposalSpec::FeeBounds { min_rate, max_rate } => {
                if !flexible {
                    v.err(&pat, "FeeBounds changes a Flexible fee policy; this community's is Fixed (propose FeeRate)".to_string());
                }
                v.fraction(&format!("{pat}.min_rate"), min_rate);
                if v.fraction(&format!("{pat}.max_rate"), max_rate) && max_rate < min_rate {
                    v.err(&format!("{pat}.max_rate"), format!("{max_rate} is below min_rate {min_rate}: the bounds are reversed"));
                }
                Proposal::FeeBounds { min_ppm: ppm(min_rate.clamp(0.0, 1.0)), max_ppm: ppm(max_rate.clamp(0.0, 1.0)) }
            }
            ProposalSpec::FeeGains { runway_gain, churn_gain } => {
                if !flexible {
                    v.err(&pat, "FeeGains changes a Flexible fee policy; this community's is Fixed (propose FeeRate)".to_string());
                }
                v.range(&format!("{pat}.runway_gain"), runway_gain, Bound::Incl(0.0), Bound::Incl(MAX_GAIN), "");
                v.range(&format!("{pat}.churn_gain"), churn_gain, Bound::Incl(0.0), Bound::Incl(MAX_GAIN), "");
                Proposal::FeeGains { runway_gain: runway_gain.clamp(0.0, MAX_GAIN), churn_gain: churn_gain.clamp(0.0, MAX_GAIN) }
            }
            ProposalSpec::RebateBudget { budget_per_period } | ProposalSpec::SolidarityBudget { budget_per_period } => {
                let is_rebate = matches!(p, ProposalSpec::RebateBudget { .. });
                if is_rebate && !rebate || !is_rebate && !solidarity {
                    v.err(&pat, format!("the community has no {} service to change the budget of", if is_rebate { "NetworkFeeRebate" } else { "Solidarity" }));
                }
                v.range(&format!("{pat}.budget_per_period"), budget_per_period, Bound::Incl(0.0), Bound::Incl(MAX_MONEY), "");
                let b = Micros::from_units(budget_per_period.clamp(0.0, MAX_MONEY));
                if is_rebate { Proposal::RebateBudget(b) } else { Proposal::SolidarityBudget(b) }
            }
        };
        proposals.push(proposal);
    }
    let proposer = match r.proposed_by {
        ProposerSpec::Witnesses => Proposer::Witnesses,
        ProposerSpec::Members { support } => {
            v.range(&format!("{at}.proposed_by.support"), support, Bound::Above(0.0), Bound::Incl(1.0), "(a share of the members)");
            Proposer::Members { support_ppm: ppm(support.clamp(0.0, 1.0)) }
        }
    };
    ReferendumConfig { proposals, proposer, by_stake: r.votes == VotingSpec::ByStake, quorum_ppm: ppm(r.quorum.clamp(0.0, 1.0)), majority_ppm: ppm(r.majority.clamp(0.5, 1.0)) }
}
