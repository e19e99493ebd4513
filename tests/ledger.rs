//! The ledger as an auditor meets it: verify, tamper detection (property test), audit, proofs,
//! fault injection, the treasury, and bad files.

mod common;
use common::*;
use peergrid::ledger::verify::{verify_path, Anchors, Failure, VerifyOptions};
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
    for f in ["summary.json", "households.csv", "trades.csv"] {
        std::fs::copy(dir.join(f), out.join(f)).unwrap();
    }
    std::fs::write(out.join("ledger.jsonl"), lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    (tmp, out)
}

fn verify_lines(lines: &[String]) -> Result<String, Failure> {
    let (_t, dir) = with_ledger(lines);
    verify_path(&dir, &VerifyOptions::default())
}

#[test]
fn an_untouched_run_verifies_with_missed_slots_fees_and_rewards() {
    let (_, dir, lines) = base();
    let verdict = verify_path(dir, &VerifyOptions::default()).unwrap();
    assert!(verdict.contains("match summary.json") && verdict.contains("match households.csv") && verdict.contains("trades.csv matches the ledger"), "{verdict}");
    assert!(verdict.contains("elections replayed") && verdict.contains("not anchored") && verdict.contains("from the public seed"), "{verdict}");
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
    GenesisFact(&'static str),
    /// A household renamed consistently everywhere it appears.
    RenameMember,
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
            let field = ["public_key", "id", "stake"][pick % 3];
            if !bump(&mut members_json[n], field, &[]) {
                return None;
            }
        }
        Edit::GenesisFact(f) => {
            let genesis = block.get_mut("genesis")?;
            if *f == "stake" {
                genesis["stake"] = Value::from(if genesis["stake"] == "Equal" { "Balance" } else { "Equal" });
            } else if !bump(genesis, f, &[]) {
                return None;
            }
        }
        Edit::RenameMember => {
            let name = &members[pick % members.len()];
            let quoted = format!("\"{name}\"");
            return Some(lines.iter().map(|l| l.replace(&quoted, &format!("\"{name}x\""))).collect());
        }
    }
    out[h] = serde_json::to_string(&block).unwrap();
    Some(out)
}

fn edit_strategy() -> impl Strategy<Value = Edit> {
    prop_oneof![
        prop::sample::select(vec!["hash", "prev_hash", "history_root", "merkle_root", "state_root", "election_root", "producer", "time", "step", "tx_count", "missed", "signature", "height"]).prop_map(Edit::HeaderField),
        prop::sample::select(vec!["amount", "kwh", "price", "fee", "buyer", "seller", "id", "step"]).prop_map(Edit::TxField),
        Just(Edit::SwapTxs),
        Just(Edit::DropTx),
        Just(Edit::DeleteLine),
        Just(Edit::DuplicateLine),
        Just(Edit::GenesisMember),
        prop::sample::select(vec!["seed", "witnesses", "votes_per_household", "max_transactions_per_block", "step_seconds", "stake", "scenario"]).prop_map(Edit::GenesisFact),
        Just(Edit::RenameMember),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(250))]

    #[test]
    fn every_single_edit_is_caught_at_the_right_block(edit in edit_strategy(), h_pick in 0usize..10_000, pick in 0usize..10_000) {
        let (_, _, lines) = base();
        let members: Vec<String> = ["a", "b", "g1", "g2", "g3", "g4"].iter().map(|s| s.to_string()).collect();
        let h = if matches!(edit, Edit::GenesisMember | Edit::GenesisFact(_) | Edit::RenameMember) { 0 } else { h_pick % lines.len() };
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
        // Every rejection names its line too.
        prop_assert!(err.line > 0, "{edit:?} at block {h}: {err} names no line");
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
    let head = summary(run_dir())["ledger"]["head_hash"].as_str().unwrap().to_string();
    let genesis = summary(run_dir())["ledger"]["genesis_hash"].as_str().unwrap().to_string();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &head]);
    assert!(v.status.success(), "{}", stderr(&v));
    assert!(stdout(&v).contains(&tx) && stdout(&v).contains("anchored") && stdout(&v).contains("consistency, not authorship"), "{}", stdout(&v));
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-genesis", &genesis]);
    assert!(v.status.success() && stdout(&v).contains("NOT anchored"), "{}", stdout(&v));
    // Without an anchor a proof proves nothing, and says so.
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1));
    assert!(stderr(&v).contains("--expect-head"), "{}", stderr(&v));
    let text = std::fs::read_to_string(&proof).unwrap();
    let forged = text.replacen("\"amount\": ", "\"amount\": 1", 1);
    std::fs::write(&proof, forged).unwrap();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &head]);
    assert_eq!(v.status.code(), Some(1));
    // The names a proof shows are bound by the hashes.
    let proof_json: Value = serde_json::from_str(&text).unwrap();
    let seller = proof_json["tx"]["seller"].as_str().unwrap().to_string();
    let renamed = text.replace(&format!("\"seller\": \"{seller}\""), "\"seller\": \"g9\"");
    assert_ne!(renamed, text);
    std::fs::write(&proof, renamed).unwrap();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &head]);
    assert_eq!(v.status.code(), Some(1), "{}", stdout(&v));
    assert_eq!(peergrid(&["verify", dir, "--expect-head", "beef"]).status.code(), Some(2));
    // A crafted member count is refused before anything is allocated for it.
    let mut huge: Value = serde_json::from_str(&text).unwrap();
    huge["genesis"]["members"] = Value::from(u32::MAX);
    std::fs::write(&proof, huge.to_string()).unwrap();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &head]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stderr(&v).contains("out of range"), "{}", stderr(&v));

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
    let verdict = verify_path(&out, &VerifyOptions::default()).unwrap();
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

/// What anyone holding a run folder can do with seed-derived keys: re-hash and re-sign every
/// block after genesis (history roots, Merkle and state roots, links, signatures) after editing
/// some. `producer` may hand a block to another member (by height).
fn resign(lines: &[String], producer: Option<(u64, &str)>) -> Vec<String> {
    use ed25519_dalek::Signer;
    use peergrid::ledger::encoding::{leaf_hash, parse_hash, price_bits, to_micro, AccountRef, Header, State, Tx, TxKind};
    use peergrid::ledger::{encoding::encode_tx, json, merkle, validators::signing_key};
    let genesis: Value = serde_json::from_str(&lines[0]).unwrap();
    let seed = genesis["genesis"]["seed"].as_u64().unwrap();
    let ids: Vec<String> = genesis["genesis"]["members"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap().to_string()).collect();
    let index = |name: &str| ids.iter().position(|i| i == name).unwrap() as u32;
    let account = |name: &str| AccountRef::from_system_name(name).unwrap_or_else(|| AccountRef::Household(index(name)));
    let mut state = State::new(ids.len());
    let mut prev = parse_hash(genesis["hash"].as_str().unwrap()).unwrap();
    let mut history = merkle::Frontier::default();
    history.push(leaf_hash(&prev));
    let mut out = vec![lines[0].clone()];
    for line in &lines[1..] {
        let mut b: Value = serde_json::from_str(line).unwrap();
        let height = b["height"].as_u64().unwrap();
        if let Some((_, name)) = producer.filter(|(h, _)| *h == height) {
            b["producer"] = Value::from(name);
        }
        let (mut leaves, mut buf, mut txs) = (Vec::new(), Vec::new(), Vec::new());
        for t in b["transactions"].as_array().unwrap() {
            let f = |k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(0.0);
            let id = t["id"].as_str().unwrap();
            let tx = Tx {
                kind: TxKind::from_label(t["kind"].as_str().unwrap()).unwrap(),
                step: t["step"].as_u64().unwrap(),
                seq: id.rsplit('-').next().unwrap().parse().unwrap(),
                seller: account(t["seller"].as_str().unwrap()),
                buyer: account(t["buyer"].as_str().unwrap()),
                kwh_micro: to_micro(f("kwh")),
                price_bits: price_bits(f("price")),
                amount_micro: to_micro(f("amount")),
                fee_micro: to_micro(f("fee")),
                import_kwh_micro: to_micro(f("import_kwh")),
                export_kwh_micro: to_micro(f("export_kwh")),
                loss_kwh_micro: to_micro(f("loss_kwh")),
            };
            encode_tx(&mut buf, id, &tx, &ids);
            leaves.push(leaf_hash(&buf));
            state.apply(&tx);
            txs.push(tx);
        }
        let producer_name = b["producer"].as_str().unwrap().to_string();
        let producer = index(&producer_name);
        let header = Header {
            height,
            prev_hash: prev,
            history_root: history.root(),
            merkle_root: merkle::root(&leaves, &mut Vec::new()),
            state_root: state.root(),
            election_root: parse_hash(b["election_root"].as_str().unwrap()).unwrap(),
            step: b["step"].as_u64().unwrap(),
            time_unix_s: chrono::DateTime::parse_from_rfc3339(b["time"].as_str().unwrap()).unwrap().timestamp(),
            producer,
            tx_count: leaves.len() as u32,
            missed: b["missed"].as_array().unwrap().iter().map(|m| index(m.as_str().unwrap())).collect(),
            seals: Vec::new(),
        };
        let hash = header.hash();
        let signature = signing_key(seed, producer).sign(&hash).to_bytes();
        // Written the way peergrid writes a block (the attacker has the source too).
        let mut line = String::new();
        json::write_block(&mut line, &header, &hash, &producer_name, b["time"].as_str().unwrap(), &signature, &txs, &ids);
        history.push(leaf_hash(&hash));
        prev = hash;
        out.push(line.trim_end().to_string());
    }
    out
}

/// Rewrites the CSV file at `path`, changing the rows `edit` changes (it gets the header too).
fn patch_csv(path: &Path, mut edit: impl FnMut(&csv::StringRecord, &mut Vec<String>)) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&headers).unwrap();
    for row in r.records() {
        let mut fields: Vec<String> = row.unwrap().iter().map(String::from).collect();
        edit(&headers, &mut fields);
        w.write_record(&fields).unwrap();
    }
    std::fs::write(path, w.into_inner().unwrap()).unwrap();
}

fn col(headers: &csv::StringRecord, name: &str) -> usize {
    headers.iter().position(|h| h == name).unwrap()
}

/// The re-sign attack on a copy of the shared run: doubles the price and amount of the first
/// peer trade in the middle of the chain (the amount still follows from kWh × price), re-signs
/// the chain with the seed-derived keys and patches summary.json, households.csv and trades.csv
/// to match. Returns the copy's folder.
fn re_sign_attack(tmp: &Path) -> PathBuf {
    let (_, dir, lines) = base();
    let mut lines = lines.clone();
    // The first p2p trade in the second half of the chain.
    let (h, k, trade_number) = {
        let mut number = 0usize;
        let mut found = None;
        for (h, l) in lines.iter().enumerate().skip(1) {
            let b: Value = serde_json::from_str(l).unwrap();
            for (k, t) in b["transactions"].as_array().unwrap().iter().enumerate() {
                if t["kind"] == "p2p" {
                    if h >= lines.len() / 2 && found.is_none() {
                        found = Some((h, k, number));
                    }
                    number += 1;
                }
            }
        }
        found.expect("a trade in the second half")
    };
    let mut b: Value = serde_json::from_str(&lines[h]).unwrap();
    let t = &mut b["transactions"][k];
    let (price, amount) = (t["price"].as_f64().unwrap(), micros(&t["amount"].to_string()));
    let (seller, buyer) = (t["seller"].as_str().unwrap().to_string(), t["buyer"].as_str().unwrap().to_string());
    t["price"] = Value::from(2.0 * price);
    t["amount"] = Value::from(2.0 * amount as f64 / 1e6);
    lines[h] = serde_json::to_string(&b).unwrap();
    let forged = resign(&lines, None);

    let out = tmp.join("run");
    std::fs::create_dir(&out).unwrap();
    for f in ["summary.json", "households.csv", "trades.csv"] {
        std::fs::copy(dir.join(f), out.join(f)).unwrap();
    }
    std::fs::write(out.join("ledger.jsonl"), forged.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let head: Value = serde_json::from_str(forged.last().unwrap()).unwrap();
    let mut s = summary(dir);
    s["ledger"]["head_hash"] = head["hash"].clone();
    std::fs::write(out.join("summary.json"), serde_json::to_string_pretty(&s).unwrap()).unwrap();
    let money = |v: i64| format!("{:.6}", v as f64 / 1e6);
    patch_csv(&out.join("households.csv"), |hd, row| {
        let (id, delta) = (row[col(hd, "household")].clone(), amount);
        let mut add = |c: &str, d: i64| row[col(hd, c)] = money(micros(&row[col(hd, c)]) + d);
        if id == buyer {
            add("p2p_paid", delta);
            add("bill", delta);
        } else if id == seller {
            add("p2p_received", delta);
            add("bill", -delta);
        }
    });
    let mut number = 0usize;
    patch_csv(&out.join("trades.csv"), |hd, row| {
        if number == trade_number {
            row[col(hd, "price")] = (2.0 * price).to_string();
            row[col(hd, "amount")] = money(2 * amount);
        }
        number += 1;
    });
    out
}

/// With seed-derived keys a re-signed chain, with every side file patched, is consistent (and
/// `verify` says such keys prove no more); only the head published when the run was made
/// catches it.
#[test]
fn a_re_signed_chain_is_caught_by_the_published_head() {
    let tmp = tempfile::tempdir().unwrap();
    let forged = re_sign_attack(tmp.path());
    let verdict = verify_path(&forged, &VerifyOptions::default()).expect("a consistent forgery passes without an anchor");
    assert!(verdict.contains("consistency, not authorship") && verdict.contains("not anchored"), "{verdict}");
    let original = summary(run_dir())["ledger"]["head_hash"].as_str().unwrap().to_string();
    let anchors = Anchors { head: peergrid::ledger::encoding::parse_hash(&original), genesis: None };
    let err = verify_path(&forged, &VerifyOptions { anchors, ledger_only: false }).unwrap_err();
    assert!(err.message.contains("not the expected head") && err.message.contains("rewritten"), "{err}");
    let cli = peergrid(&["verify", forged.to_str().unwrap(), "--expect-head", &original]);
    assert_eq!(cli.status.code(), Some(1), "{}", stdout(&cli));
    assert!(stderr(&cli).starts_with("FAIL: block "), "{}", stderr(&cli));
    // The genesis is untouched, so anchoring only it does not catch the rewrite; the verdict
    // says the chain is not anchored at its head.
    let genesis = summary(run_dir())["ledger"]["genesis_hash"].as_str().unwrap().to_string();
    let v = peergrid(&["verify", forged.to_str().unwrap(), "--expect-genesis", &genesis]);
    assert!(v.status.success() && stdout(&v).contains("not anchored"), "{}", stdout(&v));
}

/// Re-signing cannot hand a block to a member the replayed election did not give its slot.
#[test]
fn a_block_re_signed_by_another_member_fails_the_replayed_election() {
    let (_, _, lines) = base();
    let h = lines.len() / 2;
    let b: Value = serde_json::from_str(&lines[h]).unwrap();
    let other = ["a", "b", "g1", "g2", "g3", "g4"].into_iter().find(|m| *m != b["producer"]).unwrap();
    let err = verify_lines(&resign(lines, Some((h as u64, other)))).unwrap_err();
    assert_eq!(err.height, Some(h as u64), "{err}");
    assert!(err.message.contains("is not the witness elected"), "{err}");
}

/// A proof built from scratch with its own key (a chain of the attacker's, signed with their own
/// keystore, holding a trade with the same id) verifies only against its own head.
#[test]
fn a_proof_forged_with_its_own_key_fails_against_the_published_head() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("s.ron");
    // The attacker's version of the run: the same households, a different seed and prices.
    std::fs::write(&s, scenario_text().replace("seed: 7,", "seed: 4242,")).unwrap();
    let keys = tmp.path().join("attacker-keys");
    assert!(peergrid(&["keygen", "--out", keys.to_str().unwrap(), s.to_str().unwrap()]).status.success());
    let theirs = tmp.path().join("theirs");
    run_ok(&s, &theirs, &["--keys", keys.to_str().unwrap()]);
    let tx = std::fs::read_to_string(theirs.join("ledger.jsonl")).unwrap().lines().find_map(|l| l.split("\"id\":\"").nth(1).filter(|_| l.contains("\"kind\":\"p2p\"")).map(|r| r.split('"').next().unwrap().to_string())).unwrap();
    let proof = tmp.path().join("forged.json");
    assert!(peergrid(&["prove", theirs.to_str().unwrap(), "--tx", &tx, "--out", proof.to_str().unwrap()]).status.success());
    let their_head = summary(&theirs)["ledger"]["head_hash"].as_str().unwrap().to_string();
    let ok = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &their_head]);
    assert!(ok.status.success() && !stdout(&ok).contains("not authorship"), "{}", stdout(&ok));
    let published = summary(run_dir())["ledger"]["head_hash"].as_str().unwrap().to_string();
    let v = peergrid(&["verify", "--proof", proof.to_str().unwrap(), "--expect-head", &published]);
    assert_eq!(v.status.code(), Some(1));
    assert!(stderr(&v).contains("not the expected head"), "{}", stderr(&v));
}

/// A keystore run: keys from the operating system, secret keys in no output, a chain that
/// cannot be re-signed by re-deriving keys from the seed.
#[test]
fn a_keystore_chain_cannot_be_re_signed_from_the_seed() {
    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("s.ron");
    std::fs::write(&s, scenario_text()).unwrap();
    let keys = tmp.path().join("keys");
    let k = peergrid(&["keygen", "--out", keys.to_str().unwrap(), s.to_str().unwrap()]);
    assert!(k.status.success(), "{}", stderr(&k));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(keys.join("secret_keys.csv")).unwrap().permissions().mode() & 0o777, 0o600);
    }
    assert_eq!(peergrid(&["keygen", "--out", keys.to_str().unwrap(), s.to_str().unwrap()]).status.code(), Some(2), "an existing keystore is kept");
    let out = tmp.path().join("run");
    run_ok(&s, &out, &["--keys", keys.to_str().unwrap()]);
    let v = peergrid(&["verify", out.to_str().unwrap()]);
    assert!(v.status.success() && stdout(&v).contains("keys from a keystore"), "{}{}", stdout(&v), stderr(&v));
    // The genesis block holds the keystore's public keys; no output holds a secret key.
    let public = Table::read(&keys.join("public_keys.csv"));
    let lines: Vec<String> = std::fs::read_to_string(out.join("ledger.jsonl")).unwrap().lines().map(String::from).collect();
    for row in &public.rows {
        assert!(lines[0].contains(&format!("\"id\":\"{}\",\"public_key\":\"{}\"", row["household"], row["public_key"])));
    }
    let secrets = Table::read(&keys.join("secret_keys.csv"));
    for entry in std::fs::read_dir(&out).unwrap() {
        let text = String::from_utf8_lossy(&std::fs::read(entry.unwrap().path()).unwrap()).into_owned();
        assert!(secrets.rows.iter().all(|r| !text.contains(&r["secret_key"])), "a secret key in the output");
    }
    // Re-signed with keys derived from the seed, the chain no longer verifies.
    let forged = resign(&lines, None);
    std::fs::write(out.join("ledger.jsonl"), forged.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let err = verify_path(&out, &VerifyOptions::default()).unwrap_err();
    assert_eq!(err.height, Some(1), "{err}");
    assert!(err.message.contains("signature is not"), "{err}");
    // A keystore of another scenario's households is bad input, named by file, line and field.
    let other = tmp.path().join("other.ron");
    std::fs::write(&other, scenario_text().replace("House(id: \"b\"", "House(id: \"z\"")).unwrap();
    let bad = peergrid(&["run", other.to_str().unwrap(), "--out", tmp.path().join("x").to_str().unwrap(), "--keys", keys.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("secret_keys.csv") && stderr(&bad).contains("field `household`"), "{}", stderr(&bad));
    assert!(!tmp.path().join("x").exists());
}

/// `verify DIR` checks every side file and says what it could not: a missing one is an error
/// unless `--ledger-only`; trades.csv is checked row by row; a run that did not write its
/// ledger is explained, not reported as a missing file.
#[test]
fn verify_checks_the_side_files_or_says_why_not() {
    let (_, _, lines) = base();
    let (_t, copy) = with_ledger(lines);
    std::fs::remove_file(copy.join("summary.json")).unwrap();
    let err = verify_path(&copy, &VerifyOptions::default()).unwrap_err();
    assert!(err.to_string().contains("summary.json") && err.message.contains("--ledger-only"), "{err}");
    assert!(verify_path(&copy, &VerifyOptions { ledger_only: true, ..Default::default() }).is_ok());
    // Ten blocks dropped from the end, summary.json gone: only --ledger-only passes it, unanchored.
    let (_t2, short) = with_ledger(&lines[..lines.len() - 10]);
    std::fs::remove_file(short.join("summary.json")).unwrap();
    assert!(verify_path(&short, &VerifyOptions::default()).is_err());
    let head = peergrid::ledger::encoding::parse_hash(summary(run_dir())["ledger"]["head_hash"].as_str().unwrap());
    let err = verify_path(&short, &VerifyOptions { ledger_only: true, anchors: Anchors { head, genesis: None } }).unwrap_err();
    assert!(err.message.contains("not the expected head"), "{err}");

    let (_t3, edited) = with_ledger(lines);
    let mut first = true;
    patch_csv(&edited.join("trades.csv"), |hd, row| {
        if std::mem::take(&mut first) {
            row[col(hd, "kwh")] = format!("{}", row[col(hd, "kwh")].parse::<f64>().unwrap() * 1.5);
        }
    });
    let err = verify_path(&edited, &VerifyOptions::default()).unwrap_err();
    assert!(err.file.ends_with("trades.csv") && err.line == 2, "{err}");
    for column in ["kwh_sent", "loss_kwh"] {
        let (_t, edited) = with_ledger(lines);
        let mut first = true;
        patch_csv(&edited.join("trades.csv"), |hd, row| {
            if std::mem::take(&mut first) {
                row[col(hd, column)] = "0.5".into();
            }
        });
        let err = verify_path(&edited, &VerifyOptions::default()).unwrap_err();
        assert!(err.file.ends_with("trades.csv") && err.line == 2, "{column}: {err}");
    }

    let tmp = tempfile::tempdir().unwrap();
    let s = tmp.path().join("s.ron");
    std::fs::write(&s, scenario_text()).unwrap();
    let agg = tmp.path().join("agg");
    run_ok(&s, &agg, &["--output-level", "aggregate"]);
    let head = summary(&agg)["ledger"]["head_hash"].as_str().unwrap().to_string();
    let v = peergrid(&["verify", agg.to_str().unwrap(), "--expect-head", &head]);
    assert_ne!(v.status.code(), Some(0));
    assert!(stderr(&v).contains("not written") && stderr(&v).contains("its head matches --expect-head") && stderr(&v).contains("--output-level full"), "{}", stderr(&v));
    let a = peergrid(&["audit", agg.to_str().unwrap(), "--household", "a"]);
    assert!(stderr(&a).contains("not written"), "{}", stderr(&a));
}

/// Every way of sealing replays and verifies: stakes by balance (elections follow the replayed
/// balances), blocks split within a step, a sealing period, a daily grid settlement, witnesses
/// all offline for a while (missed slots carried to the next block) and at the end (a household
/// outside the schedule seals the last blocks).
#[test]
fn every_way_of_sealing_replays_and_verifies() {
    let everyone_offline = |from: u64, to: u64| ["a", "b", "g1", "g2", "g3", "g4"].map(|w| format!("(witness: \"{w}\", from_step: {from}, to_step: {to})")).join(", ");
    let variants = [
        "stake: Balance, witnesses: 2, max_transactions_per_block: 5, treasury: (fee_policy: Fixed(rate: 0.05), producer_reward_per_block: 0.001)".to_string(),
        "stake: Kwp, witnesses: 4, votes_per_household: 1, block_every_steps: 3, grid_settlement_every_steps: 48".to_string(),
        format!("stake: Balance, witnesses: 3, max_transactions_per_block: 4, faults: [{}, {}]", everyone_offline(30, 40), everyone_offline(90, 96)),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (i, ledger) in variants.iter().enumerate() {
        let s = tmp.path().join(format!("s{i}.ron"));
        std::fs::write(&s, peergrid::testing::STREET.replace("topology: Generated(layout: Street),", &format!("topology: Generated(layout: Street),\n    ledger: ({ledger}),"))).unwrap();
        let out = tmp.path().join(format!("run{i}"));
        run_ok(&s, &out, &[]);
        let verdict = verify_path(&out, &VerifyOptions::default()).unwrap_or_else(|e| panic!("{ledger}: {e}"));
        assert!(verdict.contains("elections replayed"), "{verdict}");
        if i == 2 {
            let missed = summary(&out)["ledger"]["missed_slots"].as_u64().unwrap();
            assert!(missed >= 6, "{missed} missed slots");
        }
    }
}

/// Bad input to the ledger commands is exit 2 or a clear failure, never a panic: an unknown
/// transaction id, a head hash in summary.json that is not hex (multibyte text).
#[test]
fn ledger_commands_take_bad_input_without_panicking() {
    let dir = run_dir().to_str().unwrap();
    let nope = peergrid(&["prove", dir, "--tx", "nope"]);
    assert_eq!(nope.status.code(), Some(2), "{}", stderr(&nope));
    assert!(stderr(&nope).contains("no transaction with id `nope`"));
    let (_, _, lines) = base();
    let (_t, copy) = with_ledger(lines);
    let mut s = summary(&copy);
    s["ledger"]["head_hash"] = Value::from("ééééééééééééééééééé");
    std::fs::write(copy.join("summary.json"), s.to_string()).unwrap();
    let v = peergrid(&["verify", copy.to_str().unwrap()]);
    assert_eq!(v.status.code(), Some(1), "{}", stderr(&v));
    assert!(stderr(&v).contains("ééé") && !stderr(&v).contains("panicked"), "{}", stderr(&v));
}

/// A member cannot claim the backup sealer's place: listing a full round of missed witnesses
/// does not let any other member seal a block, anywhere in the chain.
#[test]
fn a_member_cannot_seal_by_claiming_every_witness_missed() {
    let (_, _, lines) = base();
    let h = lines.len() / 2;
    let mut edited: Vec<String> = lines[..=h].to_vec();
    let mut b: Value = serde_json::from_str(&edited[h]).unwrap();
    let producer = b["producer"].as_str().unwrap().to_string();
    let other = ["a", "b", "g1", "g2", "g3", "g4"].into_iter().find(|m| *m != producer).unwrap();
    b["missed"] = Value::from(vec![producer.clone(), producer.clone(), producer]);
    b["producer"] = Value::from(other);
    edited[h] = b.to_string();
    let err = verify_lines(&resign(&edited, None)).unwrap_err();
    assert_eq!(err.height, Some(h as u64), "{err}");
}

/// What a line shows is what is hashed: the same values spelled differently (a space, upper-case
/// hex, a trailing zero) are rejected.
#[test]
fn a_value_spelled_differently_from_the_hashed_one_is_rejected() {
    let (_, _, lines) = base();
    let h = lines.iter().position(|l| l.contains("\"kind\":\"p2p\"")).unwrap();
    let line = &lines[h];
    let root = line.find("\"merkle_root\":\"").unwrap() + 15;
    let mut upper = line.clone();
    upper.replace_range(root..root + 64, &line[root..root + 64].to_uppercase());
    let amount = line.find("\"amount\":").unwrap() + 9;
    let end = amount + line[amount..].find(',').unwrap();
    let mut zero = line.clone();
    zero.insert_str(end, if line[amount..end].contains('.') { "0" } else { ".0" });
    for respelled in [line.replacen("\"tx_count\":", "\"tx_count\": ", 1), upper, zero] {
        assert_ne!(&respelled, line);
        let mut edited = lines.clone();
        edited[h] = respelled;
        let err = verify_lines(&edited).unwrap_err();
        assert!(err.height == Some(h as u64) && err.message.contains("not written the way peergrid writes it"), "{err}");
    }
}
