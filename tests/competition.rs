//! Communities competing for members: households' logit choices with a switching cost, and
//! members' referendums on their community's terms.

mod common;

use common::*;
use std::collections::HashMap;

/// Three communities on identical terms and households without panels: nothing is traded, every
/// option (each community, or staying free) offers a gain of exactly zero, so every move is the
/// logit's noise. Weekly rounds over 57 days: 8 rounds.
const IDENTICAL: &str = r#"(
    name: "identical-terms",
    seed: 11,
    start: "2024-04-01T00:00",
    timezone: "+10:00",
    step_minutes: 60,
    duration_days: 57,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    households: [
        Group(prefix: "a", count: 80, kwp: Fixed(5.0), pv_share: 0.0, member_of: "a"),
        Group(prefix: "b", count: 80, kwp: Fixed(5.0), pv_share: 0.0, member_of: "b"),
        Group(prefix: "c", count: 80, kwp: Fixed(5.0), pv_share: 0.0, member_of: "c"),
    ],
    communities: [
        (id: "a", rule: "double-auction", fee_policy: Fixed(rate: 0.02), period_days: 7),
        (id: "b", rule: "double-auction", fee_policy: Fixed(rate: 0.02), period_days: 7),
        (id: "c", rule: "double-auction", fee_policy: Fixed(rate: 0.02), period_days: 7),
    ],
    competition: (interval_days: 7, beta: Fixed(0.05), switching_cost: Fixed(40)),
    output: Aggregate,
)"#;

#[test]
fn with_identical_terms_moves_stay_within_the_logit_noise_floor() {
    let (_tmp, out) = run_text(IDENTICAL);
    // Four options of equal gain (three communities and staying free): a household leaves its
    // option with p = 3e^(−β·c) / (1 + 3e^(−β·c)), β·c = 2, in each of 8 rounds.
    let p = 3.0 * (-2.0f64).exp() / (1.0 + 3.0 * (-2.0f64).exp());
    let trials = 240.0 * 8.0;
    let (expected, sd) = (trials * p, (trials * p * (1.0 - p)).sqrt());
    let moves = Table::read(&out.join("switches.csv"));
    let choices: Vec<_> = moves.rows.iter().filter(|r| r["reason"] == "choice").collect();
    assert_eq!(choices.len(), moves.rows.len(), "no other moves");
    let n = choices.len() as f64;
    assert!((n - expected).abs() <= 4.0 * sd, "{n} moves; the noise floor is {expected:.1} ± {sd:.1}");
    // Every move expected no gain: the terms are identical.
    assert!(choices.iter().all(|r| Table::f(r, "gain") == 0.0));
    // Rounds at the start of days 7, 14, …, 56, in Sydney time.
    let days: std::collections::BTreeSet<&str> = choices.iter().map(|r| r["day"].as_str()).collect();
    assert_eq!(days.len(), 8, "{days:?}");
    assert_eq!(days.iter().next(), Some(&"2024-04-08"));
    // Moves go everywhere: to each community and to staying free.
    for to in ["a", "b", "c", ""] {
        assert!(choices.iter().any(|r| r["to"] == to), "nobody moved to `{to}`");
    }
}

/// Two communities with panels on most roofs, hourly steps, 28 days, weekly periods and rounds.
/// `dear` charges a fixed 15% on members' sales and its witnesses put a cut to 2% to the vote;
/// `cheap` has a flexible fee whose ceiling its members can vote down, by stake.
const TWO: &str = r#"(
    name: "two-competing",
    seed: 5,
    start: "2024-10-01T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 60,
    duration_days: 28,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    households: [
        Group(prefix: "d", count: 30, kwp: Normal(mean: 6.0, sd: 1.5), pv_share: 0.8, tilt_deg: 20, member_of: "dear"),
        Group(prefix: "k", count: 30, kwp: Normal(mean: 5.0, sd: 1.5), pv_share: 0.5, tilt_deg: 20, member_of: "cheap"),
        Group(prefix: "g", count: 20, kwp: Fixed(4.0), pv_share: 0.5, tilt_deg: 20),
    ],
    communities: [
        (id: "dear", rule: "double-auction", fee_policy: Fixed(rate: 0.15), period_days: 7, witnesses: 3,
         referendum: (proposals: [FeeRate(rate: 0.02)], quorum: 0.3)),
        (id: "cheap", rule: "sdr",
         fee_policy: Flexible(initial_rate: 0.05, min_rate: 0.01, max_rate: 0.2, target_runway_periods: 3),
         period_days: 7, witness_pay_per_period: 0.5, initial_fund: 30,
         referendum: (proposals: [FeeBounds(min_rate: 0.0, max_rate: 0.01)], proposed_by: Members(support: 0.05),
                      votes: ByStake, quorum: 0.1, majority: 0.6)),
    ],
    competition: (interval_days: 7, beta: Uniform(min: 0.1, max: 0.5), switching_cost: Normal(mean: 5, sd: 2),
                  vote_epsilon: Fixed(0.01), max_moves_per_round: 12),
)"#;

fn ledger_txs(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap();
    text.lines().flat_map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["transactions"].as_array().cloned().unwrap_or_default()).collect()
}

#[test]
fn referendum_tallies_are_the_votes_on_the_books_and_a_passed_fee_applies_next_period() {
    let (_tmp, out) = run_text(TWO);
    let o = peergrid(&["verify", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let refs = Table::read(&out.join("referendums.csv"));
    assert!(!refs.rows.is_empty(), "referendums were held");
    let txs = ledger_txs(&out);
    // Stakes: the members' PV, µkWp, from households.csv.
    let households = Table::read(&out.join("households.csv"));
    let stake: HashMap<String, u64> = households.rows.iter().map(|r| (r["household"].clone(), (Table::f(r, "kwp") * 1e6).round() as u64)).collect();
    // Recount each referendum from the chain: its votes are the vote records at its step, and
    // its outcome follows from them under its community's quorum and majority.
    let mut outcomes: Vec<(String, u64, bool)> = txs
        .iter()
        .filter_map(|t| {
            let k = t["kind"].as_str()?;
            let passed = match k {
                "referendum_passed" => true,
                "referendum_failed" => false,
                _ => return None,
            };
            Some((t["seller"].as_str()?.trim_start_matches("community:").to_string(), t["step"].as_u64()?, passed))
        })
        .collect();
    outcomes.sort();
    assert_eq!(outcomes.len(), refs.rows.len(), "one outcome on the books per referendum");
    for (c, step, passed) in &outcomes {
        let votes: Vec<&serde_json::Value> = txs.iter().filter(|t| t["step"].as_u64() == Some(*step) && t["seller"] == format!("community:{c}") && t["kind"].as_str().is_some_and(|k| k.starts_with("vote_"))).collect();
        let yes: Vec<&str> = votes.iter().filter(|t| t["kind"] == "vote_yes").map(|t| t["buyer"].as_str().unwrap()).collect();
        let no: Vec<&str> = votes.iter().filter(|t| t["kind"] == "vote_no").map(|t| t["buyer"].as_str().unwrap()).collect();
        let row = refs.rows.iter().find(|r| r["community"] == *c && r["step"].parse::<u64>().unwrap() == *step).expect("a row for each outcome");
        assert_eq!(row["yes"].parse::<usize>().unwrap(), yes.len(), "{c} at {step}");
        assert_eq!(row["no"].parse::<usize>().unwrap(), no.len(), "{c} at {step}");
        assert_eq!(row["passed"] == "true", *passed);
        let (yw, nw, ew): (u64, u64, u64) = (row["yes_weight"].parse().unwrap(), row["no_weight"].parse().unwrap(), row["electorate_weight"].parse().unwrap());
        let (quorum, majority) = if c == "dear" { (0.3, 0.5) } else { (0.1, 0.6) };
        if c == "cheap" {
            // By stake: each vote weighs its voter's PV.
            assert_eq!(yw, yes.iter().map(|h| stake[*h]).sum::<u64>());
            assert_eq!(nw, no.iter().map(|h| stake[*h]).sum::<u64>());
        } else {
            assert_eq!((yw, nw), (yes.len() as u64, no.len() as u64));
        }
        let cast = (yw + nw) as f64;
        assert_eq!(*passed, cast > 0.0 && cast >= quorum * ew as f64 && yw as f64 > majority * cast, "{row:?}");
    }
    // `dear`'s sellers voted their fee down; from the next day on it charges 2%.
    let first = refs.rows.iter().find(|r| r["community"] == "dear").expect("dear held a referendum");
    assert_eq!(first["passed"], "true", "{first:?}");
    assert_eq!(Table::f(first, "fee_rate_next"), 0.02);
    let days = Table::read(&out.join("communities.csv"));
    let dear: Vec<_> = days.rows.iter().filter(|r| r["community"] == "dear").collect();
    let i = dear.iter().position(|r| r["day"] == first["day"]).unwrap();
    assert_eq!(Table::f(dear[i], "proposals"), 1.0);
    assert_eq!(Table::f(dear[i], "passed"), 1.0);
    assert_eq!(Table::f(dear[i], "fee_rate"), 0.02, "the day's row shows the fee set for the next period");
    assert!(dear[..i].iter().all(|r| Table::f(r, "fee_rate") == 0.15));
    // Nothing more to vote on once it is the fee.
    assert_eq!(refs.rows.iter().filter(|r| r["community"] == "dear").count(), 1);
    let s = summary(&out);
    assert_eq!(s["communities"][0]["proposals"], 1);
    assert_eq!(s["communities"][0]["passed"], 1);
    // Choices: at most 12 moves a round, each with the gain the household expected.
    let moves = Table::read(&out.join("switches.csv"));
    assert_eq!(moves.headers[..5], ["day", "household", "from", "to", "gain"]);
    let mut per_day: HashMap<&str, usize> = HashMap::new();
    for r in moves.rows.iter().filter(|r| r["reason"] == "choice") {
        *per_day.entry(r["day"].as_str()).or_default() += 1;
        assert!(!r["gain"].is_empty());
    }
    assert!(!per_day.is_empty() && per_day.values().all(|n| *n <= 12), "{per_day:?}");
    // Each community's books from the chain alone match what the run reported.
    for id in ["dear", "cheap"] {
        let o = peergrid(&["audit", out.to_str().unwrap(), "--community", id]);
        let text = stdout(&o);
        assert!(o.status.success() && text.contains("matches summary.json: yes") && text.contains("matches communities.csv: yes"), "{text}{}", stderr(&o));
    }
}

#[test]
fn choices_and_referendums_are_byte_identical_at_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("two.ron");
    std::fs::write(&path, TWO).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&path, &a, &["--threads", "1"]);
    run_ok(&path, &b, &["--threads", "2"]);
    for f in ["switches.csv", "referendums.csv", "communities.csv", "households.csv", "ledger.jsonl", "trades.csv"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs between 1 and 2 threads");
    }
    assert_eq!(summary_without_runtime(&a), summary_without_runtime(&b));
}

#[test]
fn bad_competition_input_is_named() {
    rejects_text(&TWO.replacen("quorum: 0.3", "quorum: 1.5", 1), &["communities[0].referendum.quorum", "1.5"]);
    rejects_text(&TWO.replacen("beta: Uniform(min: 0.1, max: 0.5)", "beta: Fixed(-0.1)", 1), &["competition.beta", "-0.1"]);
    rejects_text(&TWO.replacen("beta: Uniform(min: 0.1, max: 0.5)", "beta: Normal(mean: -1, sd: 0.1)", 1), &["competition.beta.mean"]);
    rejects_text(&TWO.replacen("interval_days: 7", "interval_days: 0.02", 1), &["competition.interval_days", "shorter than one 60-minute step"]);
    rejects_text(&TWO.replacen("interval_days: 7", "interval_days: 1.5001", 1), &["competition.interval_days", "whole number"]);
    rejects_text(&TWO.replacen("majority: 0.6", "majority: 0.4", 1), &["communities[1].referendum.majority"]);
    rejects_text(&TWO.replacen("FeeRate(rate: 0.02)", "FeeBounds(min_rate: 0.0, max_rate: 0.1)", 1), &["communities[0].referendum.proposals[0]", "Fixed"]);
    rejects_text(&TWO.replacen("support: 0.05", "support: 0", 1), &["communities[1].referendum.proposed_by.support"]);
    rejects_text(&TWO.replacen("FeeRate(rate: 0.02)", "RebateBudget(budget_per_period: 5)", 1), &["communities[0].referendum.proposals[0]", "no NetworkFeeRebate"]);
    rejects_text(&TWO.replacen("max_moves_per_round: 12", "max_moves_per_round: 0", 1), &["competition.max_moves_per_round", "at least 1"]);
    rejects_text(&TWO.replacen("period_days: 7, witnesses: 3,", "period_days: 7, witnesses: 0,", 1), &["communities[0].referendum.proposed_by", "no `witnesses`"]);
    // Choosing needs communities to choose between.
    let none = IDENTICAL.replace(r#", member_of: "a""#, "").replace(r#", member_of: "b""#, "").replace(r#", member_of: "c""#, "");
    let none = none[..none.find("    communities: [").unwrap()].to_string() + &none[none.find("    competition:").unwrap()..];
    rejects_text(&none, &["competition", "no `communities`"]);
}

/// One double-auction community over two weekly periods, hourly steps, its members voting by
/// stake (their PV: sellers, mostly) at the first period's end on moving the price from the
/// middle of each clearing's spread (k 0.5) towards the marginal bid (k 0.9). Every member votes
/// (ε 0); choices never come within the run.
const PRICE_VOTE: &str = r#"(
    name: "price-vote",
    seed: 3,
    start: "2024-10-01T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 60,
    duration_days: 14,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    households: [
        Group(prefix: "m", count: 40, kwp: Normal(mean: 5.0, sd: 1.5), pv_share: 0.5, tilt_deg: 20, member_of: "one"),
    ],
    communities: [
        (id: "one", rule: "double-auction", params: {"k": 0.5}, fee_policy: Fixed(rate: 0.04), period_days: 7,
         referendum: (proposals: [RuleParam(name: "k", value: 0.9)], proposed_by: Members(support: 0.01), votes: ByStake, quorum: 0.0)),
    ],
    competition: (interval_days: 28, beta: Fixed(0.1), switching_cost: Fixed(5), vote_epsilon: Fixed(0)),
)"#;

#[test]
fn members_vote_on_the_rule_price_as_a_run_at_that_price_bills_them() {
    let (_tmp, a) = run_text(PRICE_VOTE);
    let (_tmp_b, b) = run_text(&PRICE_VOTE.replace(r#"{"k": 0.5}"#, r#"{"k": 0.9}"#));
    let refs = Table::read(&a.join("referendums.csv"));
    assert_eq!(refs.rows.len(), 1, "one referendum, at the first period's end: {:?}", refs.rows);
    assert_eq!((refs.rows[0]["proposal"].as_str(), refs.rows[0]["step"].as_str(), refs.rows[0]["passed"].as_str()), ("rule k 0.9", "167", "true"));
    assert!(Table::read(&b.join("referendums.csv")).rows.is_empty(), "nothing to vote on at k 0.9");
    // From the second period on the community clears at k 0.9: its trades are those of the run
    // at k 0.9 throughout.
    let second = |dir: &std::path::Path| -> Vec<HashMap<String, String>> { Table::read(&dir.join("trades.csv")).rows.into_iter().filter(|r| r["step"].parse::<u64>().unwrap() >= 168).collect() };
    let (after_vote, at_nine_throughout) = (second(&a), second(&b));
    assert!(!after_vote.is_empty());
    assert!(after_vote == at_nine_throughout, "the second period's trades differ from those at k 0.9");
    // The same orders match at either k, so each member's peer spending in the run at k 0.9 less
    // that at k 0.5 (the first period's, the second being the same) is what re-pricing the period
    // predicted: its vote's sign.
    let spending = |dir: &std::path::Path| -> HashMap<String, f64> {
        Table::read(&dir.join("households.csv")).rows.iter().map(|r| (r["household"].clone(), Table::f(r, "p2p_paid") - Table::f(r, "p2p_received") + Table::f(r, "fees_paid"))).collect()
    };
    let (at_half, at_nine) = (spending(&a), spending(&b));
    let txs = ledger_txs(&a);
    let vote_of = |h: &str| txs.iter().find(|t| t["buyer"] == h && t["kind"].as_str().is_some_and(|k| k.starts_with("vote_"))).map(|t| t["kind"].as_str().unwrap().to_string());
    let (mut yes, mut no) = (0, 0);
    for (h, s) in &at_half {
        let change = at_nine[h] - s;
        let vote = vote_of(h);
        if change < -1e-3 {
            assert_eq!(vote.as_deref(), Some("vote_yes"), "{h}: {change:+.6} at k 0.9");
            yes += 1;
        } else if change > 1e-3 {
            assert_eq!(vote.as_deref(), Some("vote_no"), "{h}: {change:+.6} at k 0.9");
            no += 1;
        } else if change == 0.0 {
            assert_eq!(vote, None, "{h} traded nothing and abstains");
        }
    }
    assert!(yes > 0 && no > 0, "sellers gain and buyers lose from a higher k: {yes} yes, {no} no");
    assert_eq!(summary(&a)["communities"][0]["params_end"]["k"], 0.9);
    assert_eq!(summary(&b)["communities"][0]["params_end"]["k"], 0.9);
}

#[test]
fn only_a_price_position_is_votable() {
    let at = "communities[0].referendum.proposals[0]";
    rejects_text(&PRICE_VOTE.replace(r#"name: "k", value: 0.9"#, r#"name: "kk", value: 0.9"#), &[&format!("{at}.name"), "no parameter `kk`", "k"]);
    rejects_text(&PRICE_VOTE.replace(r#"name: "k", value: 0.9"#, r#"name: "k", value: 1.5"#), &[&format!("{at}.value"), "1.5"]);
    let nearest = PRICE_VOTE.replace(r#"rule: "double-auction", params: {"k": 0.5}"#, r#"rule: "nearest""#).replace(r#"name: "k""#, r#"name: "alpha""#);
    rejects_text(&nearest, &[&format!("{at}.name"), "`alpha` of `nearest` changes which orders trade", "k of double-auction"]);
    rejects_text(&PRICE_VOTE.replace(r#"rule: "double-auction", params: {"k": 0.5}"#, r#"rule: "sdr""#), &[&format!("{at}.name"), "`sdr` has no parameter `k`; its parameters: none"]);
    // Under `--rule` (as compare and sweeps run every community), a proposal the forced rule
    // cannot put to a vote is left out.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("s.ron"), PRICE_VOTE).unwrap();
    let o = peergrid_in(tmp.path(), &["run", "s.ron", "--rule", "sdr", "--out", "o", "--steps", "48", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(Table::read(&tmp.path().join("o/referendums.csv")).rows.is_empty());
}
