//! The ledger as an auditor meets it: verify, tamper detection (property test), audit, proofs,
//! fault injection, the treasury, and bad files.

mod common;
use common::*;
use peergrid::ledger::verify::{verify_path, Failure};
use proptest::prelude::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// A small street with three witnesses (one offline for a while) and a treasury.
fn scenario_text() -> String {
    peergrid::testing::STREET.replace(
        "topology: Generated(layout: Street),",
        r#"topology: Generated(layout: Street),
    ledger: (witnesses: 3, max_transactions_per_block: 12, stake: Kwp,
             faults: [(witness: "a", from_step: 20, to_step: 70)],
             treasury: (fee_policy: Flexible(base_rate: 0.02, target_balance: 0.5, min_rate: 0.0, max_rate: 0.05),
                        producer_reward_per_block: 0.002)),"#,
    )
}

/// One run shared by the tests (read-only).
fn base() -> &'static (tempfile::TempDir, PathBuf, Vec<String>) {
    static RUN: OnceLock<(tempfile::TempDir, PathBuf, Vec<String>)> = OnceLock::new();
    RUN.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("run");
        peergrid::testing::run_into(&scenario_text(), &dir);
        let lines = std::fs::read_to_string(dir.join("ledger.jsonl")).unwrap().lines().map(String::from).collect();
        (tmp, dir, lines)
    })
}

/// A copy of the run folder with `lines` as its ledger.
fn with_ledger(lines: &[String]) -> (tempfile::TempDir, PathBuf) {
    let (_, dir, _) = base();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    std::fs::create_dir(&out).unwrap();
    for f in ["summary.json", "households.csv"] {
        std::fs::copy(dir.join(f), out.join(f)).unwrap();
    }
    std::fs::write(out.join("ledger.jsonl"), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    (tmp, out)
}

fn verify_lines(lines: &[String]) -> Result<String, Failure> {
    let (_t, dir) = with_ledger(lines);
    verify_path(&dir)
}

#[test]
fn an_untouched_run_verifies_with_missed_slots_fees_and_rewards() {
    let (_, dir, lines) = base();
    let verdict = verify_path(dir).unwrap();
    assert!(verdict.contains("matches summary.json") && verdict.contains("match households.csv"), "{verdict}");
    let s = summary(dir);
    let ledger = &s["ledger"];
    assert!(ledger["missed_slots"].as_u64().unwrap() > 0, "the offline witness missed slots");
    assert_eq!(ledger["blocks"].as_u64().unwrap() as usize, lines.len() - 1);
    assert!(ledger["fund_balance"].as_f64().unwrap() >= 0.0);
    // No trade is lost: every trades.csv row is a p2p transaction in the ledger.
    let trades = Table::read(&dir.join("trades.csv")).rows.len();
    let p2p = lines.iter().map(|l| l.matches("\"kind\":\"p2p\"").count()).sum::<usize>();
    assert_eq!(p2p, trades);
    assert!(lines.iter().any(|l| l.contains("\"kind\":\"reward\"")));
    // Money: buyers pay = sellers receive + fees into the fund.
    let hh = Table::read(&dir.join("households.csv"));
    let sum = |c: &str| hh.rows.iter().map(|r| micros(&r[c])).sum::<i64>();
    assert!(sum("fees_paid") > 0);
    assert_eq!(sum("p2p_paid"), sum("p2p_received"));
    let fund = (ledger["fund_balance"].as_f64().unwrap() * 1e6).round() as i64;
    assert_eq!(fund, sum("fees_paid") - sum("rewards_received"));
}

#[derive(Debug, Clone)]
enum Edit {
    HeaderField(&'static str),
    TxField(&'static str),
    SwapTxs,
    DropTx,
    DeleteLine,
    DuplicateLine,
    GenesisMember,
}

fn bump(v: &mut Value, field: &str, members: &[String]) -> bool {
    let Some(x) = v.get_mut(field) else { return false };
    match x {
        Value::Number(n) if n.is_u64() => *x = Value::from(n.as_u64().unwrap() + 1),
        Value::Number(n) => *x = Value::from(n.as_f64().unwrap() + 0.000_001),
        Value::String(s) if field == "time" => *s = s.replacen("T", "T1", 1).replacen("T1", "T", 0).replace(":00+", ":01+"),
        Value::String(s) if s.len() == 64 || s.len() == 128 => {
            let c = if s.starts_with('0') { "1" } else { "0" };
            s.replace_range(0..1, c);
        }
        Value::String(s) if members.contains(s) => *s = members.iter().find(|m| *m != s).unwrap().clone(),
        Value::String(s) => s.push('x'),
        Value::Array(a) if field == "missed" => {
            if a.is_empty() {
                a.push(Value::String(members[0].clone()))
            } else {
                a.pop();
            }
        }
        _ => return false,
    }
    true
}

/// Applies an edit to block `h`; returns the edited lines, or None if the edit does not apply.
fn apply(lines: &[String], h: usize, edit: &Edit, pick: usize, members: &[String]) -> Option<Vec<String>> {
    let mut out = lines.to_vec();
    let mut block: Value = serde_json::from_str(&lines[h]).unwrap();
    match edit {
        Edit::HeaderField(f) => {
            if h == 0 && matches!(*f, "signature" | "producer" | "missed" | "tx_count" | "step") {
                return None; // genesis has none of these to change meaningfully
            }
            if !bump(&mut block, f, members) {
                return None;
            }
        }
        Edit::TxField(f) => {
            let txs = block["transactions"].as_array_mut()?;
            if txs.is_empty() {
                return None;
            }
            let n = pick % txs.len();
            if !bump(&mut txs[n], f, members) {
                return None;
            }
        }
        Edit::SwapTxs => {
            let txs = block["transactions"].as_array_mut()?;
            if txs.len() < 2 {
                return None;
            }
            let i = pick % (txs.len() - 1);
            txs.swap(i, i + 1);
        }
        Edit::DropTx => {
            let txs = block["transactions"].as_array_mut()?;
            if txs.is_empty() {
                return None;
            }
            txs.remove(pick % txs.len());
        }
        Edit::DeleteLine => {
            out.remove(h);
            return Some(out);
        }
        Edit::DuplicateLine => {
            out.insert(h, lines[h].clone());
            return Some(out);
        }
        Edit::GenesisMember => {
            let members_json = block.pointer_mut("/genesis/members")?.as_array_mut()?;
            let n = pick % members_json.len();
            let field = if pick % 2 == 0 { "public_key" } else { "id" };
            if !bump(&mut members_json[n], field, &[]) {
                return None;
            }
        }
    }
    out[h] = serde_json::to_string(&block).unwrap();
    Some(out)
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        prop::sample::select(vec!["hash", "prev_hash", "merkle_root", "state_root", "producer", "time", "step", "tx_count", "missed", "signature", "height"]).prop_map(Edit::HeaderField),
        prop::sample::select(vec!["amount", "kwh", "price", "fee", "buyer", "seller", "id", "step"]).prop_map(Edit::TxField),
        Just(Edit::SwapTxs),
        Just(Edit::DropTx),
        Just(Edit::DeleteLine),
        Just(Edit::DuplicateLine),
        Just(Edit::GenesisMember),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(250))]

    #[test]
    fn every_single_edit_is_caught_at_the_right_block(edit in edit_strategy(), h_pick in 0usize..10_000, pick in 0usize..10_000) {
        let (_, _, lines) = base();
        let members: Vec<String> = ["a", "b", "g1", "g2", "g3", "g4"].iter().map(|s| s.to_string()).collect();
        let h = if matches!(edit, Edit::GenesisMember) { 0 } else { h_pick % lines.len() };
        let Some(edited) = apply(lines, h, &edit, pick, &members) else { return Ok(()) };
        prop_assume!(edited != *lines);
        let err = verify_lines(&edited).expect_err("an edited ledger must not verify");
        let reported = err.height;
        let structural = matches!(edit, Edit::DeleteLine | Edit::DuplicateLine | Edit::HeaderField("height"));
        let last_line_deleted = matches!(edit, Edit::DeleteLine) && h == lines.len() - 1;
        prop_assert!(
            reported == Some(h as u64) || (structural && reported.is_some_and(|r| r.abs_diff(h as u64) <= 1)) || last_line_deleted,
            "{edit:?} at block {h} reported as {err}"
        );
    }
}

#[test]
fn bad_files_give_clear_errors_not_panics() {
    let (_, _, lines) = base();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![lines[0][..lines[0].len() / 2].to_string()], "not a valid block"),
        (vec!["hello".to_string()], "not a valid block"),
        (vec![lines[0].replacen("\"height\":0", "\"height\":\"zero\"", 1)], "not a valid block"),
        (vec![lines[0].clone(), String::new()], "empty line"),
        (lines[1..].to_vec(), "height"),
        (vec![], "empty"),
    ];
    for (content, expect) in cases {
        let err = verify_lines(&content).expect_err("bad file");
        assert!(err.to_string().contains(expect), "expected `{expect}` in: {err}");
    }
}

#[test]
fn dropping_the_tail_is_caught_by_the_head_hash() {
    let (_, _, lines) = base();
    let err = verify_lines(&lines[..lines.len() - 1]).unwrap_err();
    assert!(err.message.contains("head hash"), "{err}");
}

fn run_dir() -> &'static Path {
    &base().1
}

#[test]
fn cli_verify_audit_prove() {
    let dir = run_dir().to_str().unwrap();
    let ok = peergrid(&["verify", dir]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    assert!(stdout(&ok).starts_with("OK: "));

    let audit = peergrid(&["audit", dir, "--household", "b", "--trades"]);
    assert!(audit.status.success(), "{}", stderr(&audit));
    let text = stdout(&audit);
    assert!(text.contains("matches households.csv: yes") && text.contains("counterparties"), "{text}");

    let tmp = tempfile::tempdir().unwrap();
    let proof = tmp.path().join("proof.json");
    let tx = base().2.iter().find_map(|l| l.split("\"id\":\"").nth(1).filter(|_| l.contains("\"kind\":\"p2p\"")).map(|r| r.split('"').next().unwrap().to_string())).unwrap();
    let p = peergrid(&["prove", dir, "--tx", &tx, "--out", proof.to_str().unwrap()]);
    assert!(p.status.success(), "{}", stderr(&p));
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap()]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stdout(&v).contains(&tx));
    let forged = std::fs::read_to_string(&proof).unwrap().replacen("\"amount\": ", "\"amount\": 1", 1);
    std::fs::write(&proof, forged).unwrap();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1));

    let (_t, edited) = with_ledger(&base().2.iter().map(|l| l.replacen("\"kwh\":", "\"kwh\":1", 1)).collect::<Vec<_>>());
    let bad = peergrid(&["verify", edited.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).starts_with("FAIL: block "), "{}", stderr(&bad));
    assert_eq!(peergrid(&["verify", "/no/such/run"]).status.code(), Some(2));
}

#[test]
fn head_only_builds_the_same_chain_without_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("s.ron");
    std::fs::write(&s, scenario_text()).unwrap();
    let out = tmp.path().join("head");
    run_ok(&s, &out, &["--ledger", "head-only"]);
    assert!(!out.join("ledger.jsonl").exists());
    assert_eq!(summary(&out)["ledger"]["head_hash"], summary(run_dir())["ledger"]["head_hash"]);
    let off = tmp.path().join("off");
    run_ok(&s, &off, &["--ledger", "off"]);
    assert!(summary(&off)["ledger"].is_null());
}

#[test]
fn grid_exchange_netted_daily_verifies_with_one_settlement_per_household_and_day() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("s.ron");
    // 30-minute steps: 48 a day. Blocks still sealed at every step with trades.
    std::fs::write(&s, scenario_text().replace("ledger: (witnesses: 3,", "ledger: (grid_settlement_every_steps: 48, witnesses: 3,")).unwrap();
    let out = tmp.path().join("daily");
    run_ok(&s, &out, &[]);
    let verdict = verify_path(&out).unwrap();
    assert!(verdict.contains("match households.csv"), "{verdict}");
    let ledger = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap();
    let grid_txs: Vec<Value> = ledger
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .flat_map(|b| b["transactions"].as_array().cloned().unwrap_or_default())
        .filter(|t| t["kind"] == "grid")
        .collect();
    // Two days, six households: at most one settlement per household and day.
    assert!(!grid_txs.is_empty() && grid_txs.len() <= 12, "{} grid settlements", grid_txs.len());
    let per_block = summary(run_dir())["ledger"]["transactions"].as_u64().unwrap();
    assert!(summary(&out)["ledger"]["transactions"].as_u64().unwrap() < per_block);
}

#[test]
fn ledger_balances_equal_wallets_at_the_end() {
    let text = peergrid::testing::STREET.replace("topology: Generated(layout: Street),", "topology: Generated(layout: Street),\n    ledger: (witnesses: 2, treasury: (fee_policy: Fixed(rate: 0.02), producer_reward_per_block: 0.0001)),");
    let mut sim = peergrid::testing::simulation_with_ledger(&text, None);
    peergrid::testing::run_to_end(&mut sim);
    let results = sim.household_results();
    let accounts = sim.accounts();
    let mut ledger = sim.take_ledger().expect("the simulation keeps a ledger");
    let state = ledger.finish().expect("the chain is written").state.clone();
    let wallets: Vec<i64> = results.iter().map(|r| r.wallet.balance.0).collect();
    assert_eq!(state.households, wallets);
    assert_eq!(state.fund, accounts.community_fund.0);
    assert_eq!(state.grid, accounts.grid.0);
    assert!(state.fund > 0, "fees reach the fund");
    assert!(results.iter().any(|r| r.wallet.rewards_received.0 > 0), "producers are rewarded");
    assert!(results.iter().any(|r| r.wallet.fees_paid.0 > 0), "sellers pay fees");
}

/// The simulation's parallel regions are counted on its own ledger's `Pace`, so the ledger's
/// hashing steps aside for them (and for no other simulation's).
#[test]
fn the_simulation_opens_its_regions_on_its_ledgers_pace() {
    let text = peergrid::testing::STREET.replace("topology: Generated(layout: Street),", "topology: Generated(layout: Street),\n    ledger: (witnesses: 2),");
    let mut sim = peergrid::testing::simulation_with_ledger(&text, None);
    let other = peergrid::testing::simulation_with_ledger(&text, None);
    let ledger = sim.take_ledger().expect("the simulation keeps a ledger");
    let pace = sim.world().resource::<peergrid::base::exec::Pace>();
    assert_eq!(pace.region(|| (ledger.pace().open_regions(), other.world().resource::<peergrid::base::exec::Pace>().open_regions())), (1, 0));
}

/// The chain is the same whoever seals its blocks: the step itself as it seals each block (the
/// inline sealer), a drain job beside the step (the pool sealer on a 2-thread pool), the step
/// once the queue is full (a 1-thread pool, where the drain job never gets a thread before the
/// end), or rayon's global pool (no pool installed).
#[test]
fn the_chain_is_the_same_whoever_seals_its_blocks() {
    use peergrid::base::exec::Sealer;
    let text = peergrid::testing::STREET
        .replace("duration_days: 2,", "duration_days: 4,")
        .replace("topology: Generated(layout: Street),", "topology: Generated(layout: Street),\n    ledger: (witnesses: 2),");
    let chain = |sealer: Sealer| {
        let mut sim = peergrid::testing::simulation_with_ledger_sealed(&text, None, sealer);
        peergrid::testing::run_to_end(&mut sim);
        let mut ledger = sim.take_ledger().expect("the simulation keeps a ledger");
        let r = ledger.finish().expect("the chain is written");
        (r.height, r.head, r.transactions, r.state.clone())
    };
    let on = |threads: usize| rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a pool").install(|| chain(Sealer::Pool));
    let reference = chain(Sealer::Inline);
    assert!(reference.0 > peergrid::ledger::chain::QUEUE_BLOCKS as u64, "more blocks than the queue holds: {}", reference.0);
    assert_eq!(chain(Sealer::Pool), reference);
    assert_eq!(on(1), reference);
    assert_eq!(on(2), reference);
}
