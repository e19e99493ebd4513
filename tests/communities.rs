//! Communities households join by choice: memberships, books, fees, services and default.

mod common;

use common::*;
use peergrid::household::Wallet;
use peergrid::market::membership::Memberships;
use peergrid::market::{Clearing, Seller};
use peergrid::metrics::StepTotals;
use peergrid::settlement::{Account, Accounts, CommunityFunds, PaymentKind, Payout, StepPayments};
use peergrid::community::Communities;
use peergrid::market::storage::CommunityStorage;
use peergrid::testing;

/// Three communities and grid-only neighbours, 21 days at hourly steps: `a` runs well with
/// services and a community battery, `b` pools under bill sharing, `c` is founded on day 2 with a fee too low for its
/// witness pay and defaults.
const THREE: &str = r#"(
    name: "three-communities",
    seed: 3,
    start: "2024-04-01T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 60,
    duration_days: 21,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    households: [
        Group(prefix: "a", count: 12, kwp: Fixed(6.0), pv_share: 0.5, tilt_deg: 20, battery_share: 0.25,
              battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0),
              member_of: "a", income_per_year: Uniform(min: 2000, max: 12000)),
        Group(prefix: "b", count: 10, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20, member_of: "b"),
        Group(prefix: "c", count: 8, kwp: Fixed(4.0), pv_share: 0.5, tilt_deg: 20, member_of: "c"),
        Group(prefix: "g", count: 5, kwp: Fixed(4.0), pv_share: 0.6, tilt_deg: 20),
    ],
    network: (fees: (same_street_per_kwh: 0.02, same_feeder_per_kwh: 0.03)),
    communities: [
        (id: "a", rule: "double-auction",
         fee_policy: Flexible(initial_rate: 0.05, min_rate: 0.01, max_rate: 0.2, target_runway_periods: 3),
         period_days: 1, initial_fund: 540, witness_pay_per_period: 0.2,
         services: [NetworkFeeRebate(share: 0.5, budget_per_period: 0.3), Solidarity(budget_per_period: 0.5),
                    Battery(battery: (capacity_kwh: 20, max_charge_kw: 8, max_discharge_kw: 6), cost: 500, life_years: 8)]),
        (id: "b", rule: "bill-sharing", fee_policy: Fixed(rate: 0.02), period_days: 2, initial_fund: 5),
        (id: "c", rule: "pay-as-bid", fee_policy: Fixed(rate: 0.001), period_days: 1, initial_fund: 6,
         witnesses: 4, witness_pay_per_period: 1.0, default_after_periods: 2),
    ],
    events: [
        FoundCommunity(step: 48, community: "c"),
        SwitchCommunity(step: 100, household: "g1", to: Some("a")),
        SwitchCommunity(step: 150, household: "a01", to: Some("b")),
        SwitchCommunity(step: 200, household: "b01", to: None),
    ],
)"#;

fn money_total(sim: &mut peergrid::sim::Simulation) -> i64 {
    let w = sim.world_mut();
    let mut q = w.query::<&Wallet>();
    let households: i64 = q.iter(w).map(|w| w.balance.0).sum();
    households + w.resource::<Accounts>().total().0 + w.resource::<CommunityFunds>().total().0
}

#[test]
fn money_and_energy_are_conserved_across_communities_every_step() {
    let mut sim = testing::simulation(THREE);
    while !sim.is_finished() {
        sim.step();
        assert_eq!(money_total(&mut sim), 0, "step {}", sim.steps_done() - 1);
        check_energy_balance(&sim);
    }
    // Every treasury is what came in less what went out, to the micro-unit.
    let w = sim.world();
    let (k, funds) = (w.resource::<Communities>(), w.resource::<CommunityFunds>());
    for (c, s) in k.state.iter().enumerate() {
        let t = &s.totals;
        let battery_cost = k.config.communities[c].battery.as_ref().filter(|_| s.founded).map_or(peergrid::base::money::Micros::ZERO, |b| b.cost);
        let out = t.witness_paid + t.rebates_paid + t.solidarity_paid + t.default_paid + t.battery.purchases + battery_cost;
        let inflow = t.contributions + funds.fees_collected[c] + t.battery.sales + t.battery_bought_back;
        assert_eq!(funds.balance[c], inflow - out, "community {c}");
    }
    assert!(k.state[0].totals.battery.delivered_kwh > 0.0 && k.state[0].totals.battery.charged_kwh > 0.0, "a's battery worked");
}

/// The step's energy balance closes three ways (what met the load, where the PV went, stored
/// energy), community batteries included.
fn check_energy_balance(sim: &peergrid::sim::Simulation) {
    let t = *sim.world().resource::<StepTotals>();
    let e = t.balance;
    let load = e.load_own_pv_kwh + e.load_own_battery_kwh + e.load_peer_pv_kwh + e.load_peer_battery_kwh + e.load_community_battery_kwh + e.load_grid_kwh + e.load_unserved_kwh;
    assert!((load - t.load_kwh).abs() < 1e-9, "step {}: load {load} vs {}", t.step, t.load_kwh);
    let pv = e.load_own_pv_kwh + e.pv_own_battery_kwh + e.pv_community_battery_kwh + e.load_peer_pv_kwh + e.pv_grid_kwh + t.curtailed_kwh + e.pv_line_losses_kwh;
    assert!((pv - t.pv_kwh).abs() < 1e-9, "step {}: PV {pv} vs {}", t.step, t.pv_kwh);
    let stored = e.load_own_battery_kwh + e.load_peer_battery_kwh + e.load_community_battery_kwh + e.battery_line_losses_kwh + e.battery_conversion_losses_kwh + e.battery_stored_change_kwh;
    let into = e.pv_own_battery_kwh + e.pv_community_battery_kwh;
    assert!((stored - into).abs() < 1e-9, "step {}: stored {stored} vs {into}", t.step);
    assert!(t.imbalance_kwh().abs() < 1e-9, "step {}: imbalance {}", t.step, t.imbalance_kwh());
}

/// An island where two communities pool their members' sales (SDR and MMR): each pool's losses
/// are made up by its own sellers.
const TWO_POOLS: &str = r#"(
    name: "two-pools",
    seed: 5,
    start: "2024-01-10T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 60,
    duration_days: 4,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Islanded(value_of_lost_load_per_kwh: 1.5, surplus_floor_per_kwh: 0.02),
    households: [
        Group(prefix: "p", count: 8, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20, battery_share: 0.25,
              battery: (capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0), member_of: "p"),
        Group(prefix: "q", count: 8, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20, member_of: "q"),
    ],
    topology: Generated(layout: Street, spacing_m: 60),
    communities: [
        (id: "p", rule: "sdr", fee_policy: Fixed(rate: 0.01), period_days: 1),
        (id: "q", rule: "mmr", fee_policy: Fixed(rate: 0.01), period_days: 1),
    ],
)"#;

#[test]
fn two_pooling_communities_on_an_island_keep_their_pools_apart() {
    let mut sim = testing::simulation(TWO_POOLS);
    let mut made_up = [0.0f64; 2];
    while !sim.is_finished() {
        sim.step();
        assert_eq!(money_total(&mut sim), 0);
        let w = sim.world();
        let t = *w.resource::<StepTotals>();
        let e = t.balance;
        let pv = e.load_own_pv_kwh + e.pv_own_battery_kwh + e.load_peer_pv_kwh + e.pv_grid_kwh + t.curtailed_kwh + e.pv_line_losses_kwh;
        assert!((pv - t.pv_kwh).abs() < 1e-9, "step {}: PV {pv} vs {}", t.step, t.pv_kwh);
        let _ = e;
        let m = w.resource::<Memberships>();
        let c = w.resource::<Clearing>();
        for s in &c.pool_sales {
            made_up[m.of(s.seller).unwrap() as usize] += s.made_up_kwh;
        }
        // What each community's pool buyers lost, its own sellers made up (or it went short).
        for k in 0..2u16 {
            let lost: f64 = c.trades.iter().filter(|t| matches!(t.seller, Seller::Pool) && m.of(t.buyer) == Some(k)).map(|t| t.loss_kwh).sum();
            let sent: f64 = c.pool_sales.iter().filter(|s| m.of(s.seller) == Some(k)).map(|s| s.made_up_kwh).sum();
            assert!(sent <= lost + 1e-12, "community {k}: its sellers made up {sent} for {lost} lost");
        }
    }
    assert!(made_up.iter().all(|x| *x > 0.0), "both pools made up losses: {made_up:?}");
}

#[test]
fn members_trade_only_inside_their_community_and_belong_to_one_at_a_time() {
    let mut sim = testing::simulation(THREE);
    let mut trades = [0usize; 3];
    while !sim.is_finished() {
        sim.step();
        let w = sim.world();
        let m = w.resource::<Memberships>();
        let k = w.resource::<Communities>();
        for (c, s) in k.state.iter().enumerate() {
            assert_eq!(s.members as usize, m.0.iter().filter(|x| **x == Some(c as u16)).count(), "community {c}: its count is its members");
        }
        for t in &w.resource::<Clearing>().trades {
            let buyer = m.of(t.buyer).expect("only members buy from peers");
            if let Seller::Household { index, .. } = t.seller {
                assert_eq!(m.of(index), Some(buyer), "seller and buyer are in the same community");
            }
            trades[buyer as usize] += 1;
        }
        for s in &w.resource::<Clearing>().pool_sales {
            assert!(m.of(s.seller).is_some(), "only members sell into a pool");
        }
    }
    assert!(trades.iter().all(|n| *n > 0), "every community traded: {trades:?}");
    let k = sim.world().resource::<Communities>();
    let ids: Vec<&str> = k.config.communities.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "c"]);
    // g1 joined a; a01 moved to b; b01 left: three moves, each counted once; c's eight founders
    // joined on day 3 and were freed by its default.
    assert_eq!(k.switches.iter().sum::<u32>(), 3 + 8 * 2);
    assert_eq!(k.state[0].defaulted_step, None, "a is run well");
}

#[test]
fn a_default_returns_the_treasury_to_members_by_fees_paid_and_frees_them() {
    let mut sim = testing::simulation(THREE);
    let mut before = None;
    let mut defaulted_at = None;
    while !sim.is_finished() {
        let treasury = sim.world().resource::<CommunityFunds>().balance.get(2).copied();
        sim.step();
        let w = sim.world();
        let k = w.resource::<Communities>();
        if defaulted_at.is_none() && k.state[2].defaulted_step.is_some() {
            defaulted_at = Some(sim.steps_done() - 1);
            let funds = w.resource::<CommunityFunds>();
            assert_eq!(funds.balance[2].0, 0, "nothing is left in a defaulted treasury");
            // What it held before the step, plus the step's fees, went to its members in full.
            let fees_this_step: i64 = w.resource::<StepPayments>().0.iter().filter(|p| p.fee.0 > 0 && matches!(p.payee, Account::Household(h) if k.last_community[h as usize] == Some(2))).map(|p| p.fee.0).sum();
            let shares: i64 = w.resource::<StepPayments>().0.iter().filter(|p| p.kind == PaymentKind::CommunityPayout(Payout::DefaultShare) && p.payer == Account::Community(2)).map(|p| p.amount.0).sum();
            before = Some((treasury.unwrap().0 + fees_this_step, shares));
            assert_eq!(k.state[2].totals.default_paid.0, shares);
            let m = w.resource::<Memberships>();
            assert!(m.0.iter().all(|x| *x != Some(2)), "its members are free");
        }
    }
    let (held, shares) = before.expect("community c defaulted");
    assert!(held > 0, "it still held money when it defaulted");
    assert_eq!(held, shares, "every micro-unit of its treasury went to its members");
    // Founded at step 48 with daily periods: its fund pays its first period's witnesses, then two
    // periods go unpaid and it defaults at the end of its third.
    assert_eq!(defaulted_at, Some(48 + 3 * 24 - 1));
    // Its market is closed: nobody trades as a member of c afterwards.
    let k = sim.world().resource::<Communities>();
    assert_eq!(k.state[2].members, 0);
}

#[test]
fn outputs_are_byte_identical_at_one_and_two_threads() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("three.ron");
    std::fs::write(&path, THREE).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&path, &a, &["--threads", "1"]);
    run_ok(&path, &b, &["--threads", "2"]);
    for f in ["communities.csv", "households.csv", "timeseries.csv", "trades.csv", "ledger.jsonl"] {
        assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{f} differs between 1 and 2 threads");
    }
    let s = |d: &std::path::Path| {
        let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("summary.json")).unwrap()).unwrap();
        for f in ["runtime_s", "household_steps_per_s"] {
            v.as_object_mut().unwrap().remove(f);
        }
        v
    };
    assert_eq!(s(&a), s(&b));
    // The chain with the treasuries' payments verifies, and matches households.csv.
    let o = peergrid(&["verify", a.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Each treasury's books from the chain alone match what the run reported.
    for id in ["a", "b", "c"] {
        let o = peergrid(&["audit", a.to_str().unwrap(), "--community", id]);
        assert!(o.status.success(), "{}", stderr(&o));
        let text = stdout(&o);
        assert!(text.contains("matches summary.json: yes") && text.contains("matches communities.csv: yes"), "{text}");
    }
    // Each community's witnesses sealed its records at every period end they were members at.
    let said = stdout(&peergrid(&["verify", a.to_str().unwrap()]));
    assert!(said.contains("community seal") && said.contains("records sealed") && said.contains("times by their own witnesses"), "{said}");
    let summary = s(&a);
    for c in summary["communities"].as_array().unwrap() {
        assert!(c["seals"].as_u64().unwrap() > 0 && c["seals"].as_u64() <= c["periods"].as_u64(), "{c}");
    }
    // A seal altered, signed by someone outside the community, or missing from the run's count
    // is caught.
    let ledger = std::fs::read_to_string(a.join("ledger.jsonl")).unwrap();
    let sealed = ledger.lines().find(|l| l.contains("\"seals\":[")).expect("a block with seals").to_string();
    let records: serde_json::Value = serde_json::from_str(&sealed).unwrap();
    let first = &records["seals"][0];
    let n = first["records"].as_u64().unwrap();
    let witness = first["witness"].as_str().unwrap().to_string();
    let tampered = |from: &str, to: &str, expect: &str| {
        let dir = tmp.path().join("t");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("ledger.jsonl"), ledger.replacen(&sealed, &sealed.replacen(from, to, 1), 1)).unwrap();
        let o = peergrid(&["verify", dir.join("ledger.jsonl").to_str().unwrap(), "--ledger-only"]);
        let said = format!("{}{}", stdout(&o), stderr(&o));
        assert_eq!(o.status.code(), Some(1), "{said}");
        assert!(said.contains(expect), "{said}");
    };
    tampered(&format!("\"records\":{n}"), &format!("\"records\":{}", n + 1), "records");
    tampered(&format!("\"witness\":\"{witness}\""), "\"witness\":\"g1\"", "not a member of the community");
    let o = peergrid(&["audit", a.to_str().unwrap(), "--community", "nope"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // A treasury changed in summary.json is caught by verify.
    let text = std::fs::read_to_string(a.join("summary.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let t = v["communities"][0]["treasury"].as_f64().unwrap();
    v["communities"][0]["treasury"] = serde_json::json!(t + 0.000001);
    std::fs::write(b.join("summary.json"), serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    let o = peergrid(&["verify", b.to_str().unwrap()]);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert_eq!(o.status.code(), Some(1), "{said}");
    assert!(said.contains("community a's treasury"), "{said}");
    // communities.csv: a row per community per day from its founding to its default.
    let csv = std::fs::read_to_string(a.join("communities.csv")).unwrap();
    let header = csv.lines().next().unwrap();
    assert!(header.starts_with("day,community,members,joined,left,fee_rate,treasury,p2p_kwh,buy_price_mean,sell_price_mean,services_paid,proposals,passed"), "{header}");
    let rows = |id: &str| csv.lines().skip(1).filter(|l| l.split(',').nth(1) == Some(id)).count();
    assert_eq!(rows("a"), 21);
    assert_eq!(rows("c"), 3, "founded on day 3, defaulted at the end of day 5: no rows before or after");
    let summary = s(&a);
    let cs = summary["communities"].as_array().unwrap();
    assert_eq!(cs[2]["status"], "defaulted");
    assert!(cs[0]["solidarity_paid"].as_f64().unwrap() > 0.0, "the solidarity fund helped someone");
    assert!(cs[0]["rebates_paid"].as_f64().unwrap() > 0.0, "rebates were paid");
    let hh = std::fs::read_to_string(a.join("households.csv")).unwrap();
    assert!(hh.lines().next().unwrap().contains("member_of,community_days,switches,community_received,community_contributed"));
    let battery = &cs[0]["battery"];
    assert!(battery["sales"].as_f64().unwrap() > 0.0 && battery["value_end"].as_f64().unwrap() < 500.0, "{battery}");
    assert!(cs[1]["battery"].is_null());
}

/// Checks `run` rejects THREE as `edit`ed (see `rejects_text`).
fn rejects(edit: impl Fn(&str) -> String, expect: &[&str]) {
    rejects_text(&edit(THREE), expect);
}

#[test]
fn bad_community_input_is_named_and_nothing_is_written() {
    rejects(|t| t.replacen(r#"member_of: "b")"#, r#"member_of: "z")"#, 1), &["households[1] (house 1).member_of", "no community has id `z`"]);
    rejects(|t| t.replacen("min_rate: 0.01, max_rate: 0.2", "min_rate: 0.2, max_rate: 0.01", 1), &["communities[0].fee_policy.max_rate", "reversed"]);
    rejects(|t| t.replacen("target_runway_periods: 3", "target_runway_periods: -1", 1), &["communities[0].fee_policy.target_runway_periods"]);
    rejects(|t| t.replacen(r#"(id: "b""#, r#"(id: "a""#, 1), &["communities[1].id", "also the id of communities[0]"]);
    rejects(|t| t.replacen(r#"to: Some("a")"#, r#"to: Some("q")"#, 1), &["events[1].to", "no community has id `q`"]);
    rejects(|t| t.replacen("period_days: 2", "period_days: 0.01", 1), &["communities[1].period_days", "whole number"]);
}

#[test]
fn one_rule_for_every_community_from_the_command_line_and_sweeps() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("three.ron");
    std::fs::write(&path, THREE).unwrap();
    let out = tmp.path().join("sdr");
    run_ok(&path, &out, &["--rule", "sdr", "--steps", "72"]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["rule"], "sdr");
    assert!(v["communities"].as_array().unwrap().iter().all(|c| c["rule"] == "sdr"), "{}", v["communities"]);
    // Without --rule: each community's own, and `rule` says so.
    let own = tmp.path().join("own");
    run_ok(&path, &own, &["--steps", "72"]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(own.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["rule"], "by-community");
    let rules: Vec<&str> = v["communities"].as_array().unwrap().iter().map(|c| c["rule"].as_str().unwrap()).collect();
    assert_eq!(rules, ["double-auction", "bill-sharing", "pay-as-bid"]);
    // A sweep checks each combination on one step: events later in the run are fine.
    let sweep = tmp.path().join("s.sweep.ron");
    std::fs::write(&sweep, r#"(scenario: "three.ron", axes: [(set: "market.rule", values: ["double-auction", "sdr"]), (set: "communities[0].period_days", values: [1, 2])], steps: 30)"#).unwrap();
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", tmp.path().join("sw").to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = std::fs::read_to_string(tmp.path().join("sw/sweep.csv")).unwrap();
    assert_eq!(rows.lines().count(), 5, "{rows}");
    // The file's own market rule would be ignored: refused.
    rejects_text(&THREE.replacen("    communities: [", "    market: (rule: \"sdr\"),\n    communities: [", 1), &["market.rule", "each community names its own"]);
}

#[test]
fn a_move_at_step_0_is_the_starting_membership_and_moves_into_closed_communities_are_counted() {
    let text = THREE.replacen(r#"SwitchCommunity(step: 100, household: "g1", to: Some("a")),"#, r#"SwitchCommunity(step: 0, household: "a02", to: Some("b")), SwitchCommunity(step: 20, household: "g2", to: Some("c")),"#, 1);
    let mut sim = testing::simulation(&text);
    testing::run_to_end(&mut sim);
    let k = sim.world().resource::<Communities>();
    let a02 = 1;
    assert_eq!(k.switches[a02], 0, "a02 started in b");
    assert_eq!(k.last_community[a02], Some(1));
    assert_eq!(k.state[0].totals.left, 1, "only a01 left a");
    assert_eq!(k.state[2].totals.refused_joins, 1, "g2 could not join c before its founding");
}

/// Two communities with batteries on an island, 6 days at hourly steps: `w` runs well; `d`
/// promises its witnesses more than its fees bring in, defaults, and sells its battery back.
const BATTERIES: &str = r#"(
    name: "community-batteries",
    seed: 11,
    start: "2024-01-10T00:00",
    timezone: "Australia/Sydney",
    step_minutes: 60,
    duration_days: 6,
    location: (latitude_deg: -33.9, longitude_deg: 151.2),
    grid: Islanded(value_of_lost_load_per_kwh: 1.2, surplus_floor_per_kwh: 0.02),
    households: [
        Group(prefix: "w", count: 10, kwp: Fixed(6.0), pv_share: 0.6, tilt_deg: 20, member_of: "w"),
        Group(prefix: "d", count: 6, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20, member_of: "d"),
        Group(prefix: "g", count: 4, kwp: Fixed(5.0), pv_share: 0.5, tilt_deg: 20),
    ],
    topology: Generated(layout: Street, spacing_m: 40),
    communities: [
        (id: "w", rule: "double-auction", fee_policy: Fixed(rate: 0.05), period_days: 1, initial_fund: 300,
         services: [Battery(battery: (capacity_kwh: 30, max_charge_kw: 10, max_discharge_kw: 10, initial_soc: 0.2), cost: 290, life_years: 1)]),
        (id: "d", rule: "pay-as-bid", fee_policy: Fixed(rate: 0.0), period_days: 1, initial_fund: 250,
         witnesses: 2, witness_pay_per_period: 100, default_after_periods: 2,
         services: [Battery(battery: (capacity_kwh: 15, max_charge_kw: 5, max_discharge_kw: 5), cost: 200, life_years: 2, buy_share: 0.1, sell_share: 0.5)]),
    ],
)"#;

#[test]
fn community_batteries_serve_members_only_within_their_limits_and_are_sold_back_at_a_default() {
    let mut sim = testing::simulation(BATTERIES);
    let mut served = [0.0f64; 2];
    let mut defaulted = None;
    while !sim.is_finished() {
        let held = sim.world().resource::<CommunityFunds>().balance.get(1).copied();
        sim.step();
        let step = sim.steps_done() - 1;
        assert_eq!(money_total(&mut sim), 0, "step {step}");
        check_energy_balance(&sim);
        let non_members: Vec<u32> = {
            let w = sim.world();
            let k = w.resource::<Communities>();
            (0..k.last_community.len() as u32).filter(|h| k.last_community[*h as usize].is_none()).collect()
        };
        let mut q = sim.world_mut().query::<(&peergrid::household::Household, &peergrid::household::Meter)>();
        for (h, meter) in q.iter(sim.world()) {
            if non_members.contains(&h.index) {
                assert_eq!((meter.community_battery_bought_kwh, meter.community_battery_sold_kwh), (0.0, 0.0), "step {step}: {} is no member", h.index);
            }
        }
        let w = sim.world();
        let (storage, funds) = (w.resource::<CommunityStorage>(), w.resource::<CommunityFunds>());
        assert!(funds.balance.iter().all(|b| b.0 >= 0), "step {step}: a treasury went negative: {:?}", funds.balance);
        for (c, u) in storage.units.iter().enumerate() {
            let u = u.as_ref().expect("both have a battery");
            let b = &u.battery;
            assert!(b.soc_kwh >= b.min_soc_kwh - 1e-9 && b.soc_kwh <= b.capacity_kwh + 1e-9, "step {step}: community {c} stores {}", b.soc_kwh);
            assert!(u.charged_kwh <= b.max_charge_kwh_per_step + 1e-9 && u.delivered_kwh <= b.max_discharge_kwh_per_step + 1e-9);
            served[c] += u.delivered_kwh;
        }
        let k = w.resource::<Communities>();
        if defaulted.is_none() && k.state[1].defaulted_step.is_some() {
            let cfg = k.config.communities[1].battery.as_ref().unwrap();
            // Bought at step 0; sold back after step + 1 steps of a two-year life.
            let value = cfg.cost.0 as i128 * (cfg.life_steps - (step + 1)) as i128 / cfg.life_steps as i128;
            assert_eq!(k.state[1].totals.battery_bought_back.0 as i128, value, "cost × remaining life share, rounded down");
            let p = w.resource::<StepPayments>();
            let buyback: i64 = p.0.iter().filter(|p| p.kind == PaymentKind::CommunityBatteryBuyback).map(|p| p.amount.0).sum();
            let shares: i64 = p.0.iter().filter(|p| p.kind == PaymentKind::CommunityPayout(Payout::DefaultShare)).map(|p| p.amount.0).sum();
            let battery_money: i64 = p.0.iter().filter(|p| p.payer == Account::Community(1) || p.payee == Account::Community(1)).map(|p| match p.kind {
                PaymentKind::CommunityBatterySale => p.amount.0,
                PaymentKind::CommunityBatteryCharge => -p.amount.0,
                _ => 0,
            }).sum();
            assert_eq!(buyback as i128, value);
            assert_eq!(shares, held.unwrap().0 + battery_money + buyback, "the treasury and the battery's value went to the members, to the micro-unit");
            assert_eq!(funds.balance[1].0, 0);
            assert!(!w.resource::<CommunityStorage>().units[1].as_ref().unwrap().operating, "the sold battery stands idle");
            defaulted = Some(step);
        }
    }
    assert!(defaulted.is_some(), "d defaulted");
    assert!(served.iter().all(|x| *x > 0.0), "both batteries served members: {served:?}");
    // The outputs verify, and each treasury's books match them, battery money included.
    let (_tmp, out) = run_and_verify(BATTERIES);
    for id in ["w", "d"] {
        let o = peergrid(&["audit", out.to_str().unwrap(), "--community", id]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).contains("battery: bought"), "{}", stdout(&o));
    }
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert!(v["communities"][1]["battery"]["bought_back"].as_f64().unwrap() > 0.0);
}

/// Runs a scenario text into a temporary folder and checks `verify` passes on it.
fn run_and_verify(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let (tmp, out) = run_text(text);
    let o = peergrid(&["verify", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    (tmp, out)
}

#[test]
fn every_period_is_sealed_in_a_block_at_its_end_whatever_the_block_cadence() {
    // Blocks every two days, daily periods, an island with quiet nights: each period end seals
    // a block of its own at its step.
    let (_tmp, out) = run_and_verify(&BATTERIES.replacen("    communities: [", "    ledger: (block_every_steps: 48),\n    communities: [", 1));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    for c in v["communities"].as_array().unwrap() {
        assert_eq!(c["seals"], c["periods"], "{c}");
    }
    let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
    let steps: Vec<u64> = ledger.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()).filter(|b| b.get("seals").is_some()).map(|b| b["step"].as_u64().unwrap()).collect();
    assert_eq!(&steps[..3], &[23, 47, 71], "sealed at the end of each daily period");
}

#[test]
fn bad_community_battery_input_is_named() {
    rejects_text(&BATTERIES.replacen("cost: 290", "cost: 301", 1), &["communities[0].services[0].cost", "initial_fund"]);
    rejects_text(&BATTERIES.replacen("life_years: 1)", "life_years: 0)", 1), &["communities[0].services[0].life_years"]);
    rejects_text(&BATTERIES.replacen("sell_share: 0.5", "sell_share: 1.5", 1), &["communities[1].services[0].sell_share"]);
    rejects_text(&BATTERIES.replacen("capacity_kwh: 15", "capacity_kwh: -1", 1), &["communities[1].services[0].battery.capacity_kwh"]);
}
