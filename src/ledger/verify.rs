//! Checking a ledger from its file alone: `peergrid verify`, `audit`, `prove`, `verify --proof`.
//!
//! Verification replays the chain block by block: recomputes every transaction's leaf and the
//! Merkle root, every header hash, checks heights, links and Ed25519 signatures against the
//! genesis members' keys, replays all balances and checks every state root. The first problem
//! is reported with its line and block height.

use super::encoding::{self, hex, leaf_hash, parse_hash, price_bits, to_micro, AccountRef, Hash, Header, State, Tx, TxKind, GENESIS_PRODUCER};
use super::json::{BlockJson, GenesisInfo, TxJson, GENESIS_NAME};
use super::merkle;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Where and what the first problem is.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub file: PathBuf,
    /// 1-based line of ledger.jsonl (0: not about a line).
    pub line: usize,
    /// Height of the bad block, when known.
    pub height: Option<u64>,
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.height, self.line) {
            (Some(h), l) if l > 0 => write!(f, "block {h} ({}, line {l}): {}", self.file.display(), self.message),
            (None, l) if l > 0 => write!(f, "{} line {l}: {}", self.file.display(), self.message),
            _ => write!(f, "{}: {}", self.file.display(), self.message),
        }
    }
}

/// Genesis members: ids, keys and the id → index map.
pub struct Members {
    pub ids: Vec<String>,
    pub keys: Vec<VerifyingKey>,
    index: HashMap<String, u32>,
}

impl Members {
    pub fn account(&self, name: &str) -> Option<AccountRef> {
        AccountRef::from_system_name(name).or_else(|| self.index.get(name).map(|i| AccountRef::Household(*i)))
    }

    pub fn name(&self, a: AccountRef) -> &str {
        super::json::account_name(a, &self.ids)
    }
}

/// Money and energy of one household, replayed from the ledger.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdTotals {
    pub p2p_bought_kwh_micro: i64,
    pub p2p_sold_kwh_micro: i64,
    pub p2p_paid: i64,
    pub p2p_received: i64,
    pub fees_paid: i64,
    /// Grid payments net of grid receipts.
    pub grid_net_paid: i64,
    pub grid_import_kwh_micro: i64,
    pub grid_export_kwh_micro: i64,
    pub rewards_received: i64,
    pub network_fees_paid: i64,
    pub transactions: u64,
}

/// What a verified chain holds.
pub struct ChainSummary {
    pub blocks: u64,
    pub transactions: u64,
    pub head: Hash,
    pub genesis: Hash,
    pub state: State,
    pub members: Members,
    pub totals: Vec<HouseholdTotals>,
    pub missed_slots: u64,
}

/// A verified block, handed to the caller's visitor.
pub struct VerifiedBlock<'a> {
    pub line: usize,
    pub json: &'a BlockJson,
    pub header: &'a Header,
    pub hash: Hash,
    pub txs: &'a [Tx],
    pub leaves: &'a [Hash],
}

fn fail(file: &Path, line: usize, height: Option<u64>, message: impl Into<String>) -> Failure {
    Failure { file: file.to_path_buf(), line, height, message: message.into() }
}

fn short(h: &Hash) -> String {
    hex(&h[..6])
}

/// Converts a JSON transaction to integer units (the hashed form).
pub fn tx_from_json(t: &TxJson, members: &Members) -> Result<Tx, String> {
    let seller = members.account(&t.seller).ok_or_else(|| format!("transaction {}: unknown seller `{}`", t.id, t.seller))?;
    let buyer = members.account(&t.buyer).ok_or_else(|| format!("transaction {}: unknown buyer `{}`", t.id, t.buyer))?;
    tx_with_accounts(t, seller, buyer)
}

/// The hashed form of a JSON transaction whose accounts are already resolved.
fn tx_with_accounts(t: &TxJson, seller: AccountRef, buyer: AccountRef) -> Result<Tx, String> {
    let kind = TxKind::from_label(&t.kind).ok_or_else(|| format!("transaction {}: unknown kind `{}`", t.id, t.kind))?;
    for (name, v) in [("kwh", t.kwh), ("price", t.price), ("amount", t.amount), ("fee", t.fee), ("loss_kwh", t.loss_kwh.unwrap_or(0.0))] {
        if !v.is_finite() || v < 0.0 {
            return Err(format!("transaction {}: `{name}` must be a number ≥ 0, got {v}", t.id));
        }
    }
    Ok(Tx {
        kind,
        step: t.step,
        seq: 0,
        seller,
        buyer,
        kwh_micro: to_micro(t.kwh),
        price_bits: price_bits(t.price),
        amount_micro: to_micro(t.amount),
        fee_micro: to_micro(t.fee),
        import_kwh_micro: t.import_kwh.map(to_micro).unwrap_or(0),
        export_kwh_micro: t.export_kwh.map(to_micro).unwrap_or(0),
        loss_kwh_micro: t.loss_kwh.map(to_micro).unwrap_or(0),
    })
}

fn time_unix(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp())
}

fn add_totals(totals: &mut [HouseholdTotals], tx: &Tx) {
    if let AccountRef::Household(i) = tx.seller {
        if let Some(s) = totals.get_mut(i as usize) {
            s.transactions += 1;
            match tx.kind {
                TxKind::P2p | TxKind::PoolSell => {
                    s.p2p_received += tx.amount_micro;
                    s.fees_paid += tx.fee_micro;
                    // A household's meter counts what it sent.
                    s.p2p_sold_kwh_micro += tx.kwh_micro + if tx.kind == TxKind::P2p { tx.loss_kwh_micro } else { 0 };
                }
                TxKind::Grid => {
                    s.grid_net_paid -= tx.amount_micro;
                    s.grid_import_kwh_micro += tx.import_kwh_micro;
                    s.grid_export_kwh_micro += tx.export_kwh_micro;
                }
                TxKind::Reward => s.rewards_received += tx.amount_micro,
                TxKind::PoolBuy | TxKind::NetworkFee => {}
            }
        }
    }
    if let AccountRef::Household(i) = tx.buyer {
        if let Some(b) = totals.get_mut(i as usize) {
            b.transactions += 1;
            match tx.kind {
                TxKind::P2p | TxKind::PoolBuy => {
                    b.p2p_paid += tx.amount_micro;
                    b.p2p_bought_kwh_micro += tx.kwh_micro;
                }
                TxKind::Grid => {
                    b.grid_net_paid += tx.amount_micro;
                    b.grid_import_kwh_micro += tx.import_kwh_micro;
                    b.grid_export_kwh_micro += tx.export_kwh_micro;
                }
                TxKind::NetworkFee => b.network_fees_paid += tx.amount_micro,
                TxKind::PoolSell | TxKind::Reward => {}
            }
        }
    }
}

/// Reads and verifies a ledger file, calling `visit` for every verified block (genesis too).
pub fn walk(path: &Path, mut visit: impl FnMut(&Members, &VerifiedBlock)) -> Result<ChainSummary, Failure> {
    let file = std::fs::File::open(path).map_err(|e| fail(path, 0, None, format!("cannot open: {e}")))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut members: Option<Members> = None;
    let mut state = State::default();
    let mut totals = Vec::new();
    let (mut prev, mut genesis, mut expected_height) = ([0u8; 32], [0u8; 32], 0u64);
    let (mut transactions, mut missed_slots) = (0u64, 0u64);
    let (mut enc, mut leaves, mut scratch, mut txs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut lines = 0usize;
    for (i, line) in reader.lines().enumerate() {
        let n = i + 1;
        lines = n;
        let line = line.map_err(|e| fail(path, n, Some(expected_height), format!("cannot read: {e}")))?;
        if line.trim().is_empty() {
            return Err(fail(path, n, Some(expected_height), "empty line"));
        }
        let b: BlockJson = serde_json::from_str(&line).map_err(|e| fail(path, n, Some(expected_height), format!("not a valid block: {e}")))?;
        let at = |msg: String| fail(path, n, Some(b.height), msg);
        if b.height != expected_height {
            return Err(fail(path, n, Some(expected_height), format!("height is {}, expected {expected_height} (a block is missing, duplicated or out of order)", b.height)));
        }
        let claimed = parse_hash(&b.hash).ok_or_else(|| at("`hash` is not 64 hex digits".into()))?;
        let prev_hash = parse_hash(&b.prev_hash).ok_or_else(|| at("`prev_hash` is not 64 hex digits".into()))?;
        let merkle_claimed = parse_hash(&b.merkle_root).ok_or_else(|| at("`merkle_root` is not 64 hex digits".into()))?;
        let state_claimed = parse_hash(&b.state_root).ok_or_else(|| at("`state_root` is not 64 hex digits".into()))?;
        let time_unix_s = time_unix(&b.time).ok_or_else(|| at(format!("`time` {} is not an ISO 8601 time with offset", b.time)))?;
        if prev_hash != prev {
            return Err(at(format!("prev_hash {} does not link to the previous block {}", short(&prev_hash), short(&prev))));
        }
        txs.clear();
        leaves.clear();
        let (producer, missed) = if b.height == 0 {
            let g = b.genesis.as_ref().ok_or_else(|| at("the first block must be the genesis block (with `genesis`)".into()))?;
            if b.producer != GENESIS_NAME || !b.transactions.is_empty() || !b.missed.is_empty() || !b.signature.is_empty() || b.tx_count != 0 || b.step != 0 {
                return Err(at("the genesis block has a producer, transactions, missed slots or a signature".into()));
            }
            let mut ids = Vec::with_capacity(g.members.len());
            let mut keys = Vec::with_capacity(g.members.len());
            let mut raw_keys = Vec::with_capacity(g.members.len());
            let mut index = HashMap::new();
            for (k, m) in g.members.iter().enumerate() {
                let bytes: [u8; 32] = encoding::parse_hex(&m.public_key).and_then(|v| v.try_into().ok()).ok_or_else(|| at(format!("member {}: public key is not 64 hex digits", m.id)))?;
                let key = VerifyingKey::from_bytes(&bytes).map_err(|_| at(format!("member {}: not an Ed25519 public key", m.id)))?;
                if index.insert(m.id.clone(), k as u32).is_some() || AccountRef::from_system_name(&m.id).is_some() {
                    return Err(at(format!("member id `{}` is duplicated or reserved", m.id)));
                }
                ids.push(m.id.clone());
                keys.push(key);
                raw_keys.push(bytes);
            }
            state = State::new(ids.len());
            totals = vec![HouseholdTotals::default(); ids.len()];
            let info = GenesisInfo { scenario: g.scenario.clone(), seed: g.seed, witnesses: g.witnesses, stake: g.stake.clone() };
            let (header, hash) = super::genesis_header(&info, &ids, &raw_keys, &state, time_unix_s);
            if header.merkle_root != merkle_claimed {
                return Err(at(format!("genesis merkle root {} does not match its members ({})", short(&merkle_claimed), short(&header.merkle_root))));
            }
            if header.state_root != state_claimed {
                return Err(at("genesis state root is not that of zero balances".into()));
            }
            if hash != claimed {
                if header.hash_v1() == claimed {
                    return Err(at("this ledger was written with ledger encoding version 1 (an older peergrid, prices hashed as micro-units); this build verifies version 2: rerun the scenario to write one".into()));
                }
                return Err(at(format!("hash {} does not match the header ({})", short(&claimed), short(&hash))));
            }
            members = Some(Members { ids, keys, index });
            let m = members.as_ref().expect("just set");
            genesis = hash;
            visit(m, &VerifiedBlock { line: n, json: &b, header: &header, hash, txs: &[], leaves: &[] });
            prev = hash;
            expected_height = 1;
            continue;
        } else {
            let m = members.as_ref().expect("genesis was read first");
            if b.genesis.is_some() {
                return Err(at("only block 0 may carry `genesis`".into()));
            }
            let p = match m.account(&b.producer) {
                Some(AccountRef::Household(p)) => p,
                _ => return Err(at(format!("producer `{}` is not a member", b.producer))),
            };
            let mut missed = Vec::with_capacity(b.missed.len());
            for w in &b.missed {
                match m.account(w) {
                    Some(AccountRef::Household(x)) => missed.push(x),
                    _ => return Err(at(format!("missed witness `{w}` is not a member"))),
                }
            }
            (p, missed)
        };
        let m = members.as_ref().expect("genesis was read first");
        for t in &b.transactions {
            let tx = tx_from_json(t, m).map_err(at)?;
            encoding::encode_tx(&mut enc, &t.id, &tx);
            leaves.push(leaf_hash(&enc));
            txs.push(tx);
        }
        if b.tx_count as usize != txs.len() {
            return Err(at(format!("tx_count is {} but the block has {} transactions", b.tx_count, txs.len())));
        }
        let merkle_root = merkle::root(&leaves, &mut scratch);
        if merkle_root != merkle_claimed {
            return Err(at(format!("merkle root {} does not match the transactions ({}): a transaction was changed, added, removed or reordered", short(&merkle_claimed), short(&merkle_root))));
        }
        for tx in &txs {
            if !state.apply(tx) {
                return Err(at("a transaction names an account that does not exist".into()));
            }
            add_totals(&mut totals, tx);
        }
        let state_root = state.root();
        if state_root != state_claimed {
            return Err(at(format!("state root {} does not match the replayed balances ({})", short(&state_claimed), short(&state_root))));
        }
        let header = Header { height: b.height, prev_hash, merkle_root, state_root, step: b.step, time_unix_s, producer, tx_count: b.tx_count, missed };
        let hash = header.hash();
        if hash != claimed {
            return Err(at(format!("hash {} does not match the header ({}): a header field was changed", short(&claimed), short(&hash))));
        }
        let sig_bytes: [u8; 64] = encoding::parse_hex(&b.signature).and_then(|v| v.try_into().ok()).ok_or_else(|| at("`signature` is not 128 hex digits".into()))?;
        if m.keys[producer as usize].verify(&hash, &Signature::from_bytes(&sig_bytes)).is_err() {
            return Err(at(format!("signature is not {}'s signature of the block hash", b.producer)));
        }
        if producer == GENESIS_PRODUCER {
            return Err(at("producer index is reserved".into()));
        }
        visit(m, &VerifiedBlock { line: n, json: &b, header: &header, hash, txs: &txs, leaves: &leaves });
        transactions += txs.len() as u64;
        missed_slots += header.missed.len() as u64;
        prev = hash;
        expected_height += 1;
    }
    let members = members.ok_or_else(|| fail(path, lines, None, "the ledger is empty (no genesis block)"))?;
    Ok(ChainSummary { blocks: expected_height - 1, transactions, head: prev, genesis, state, members, totals, missed_slots })
}

/// The verdict of `peergrid verify PATH`.
pub fn verify_path(path: &Path) -> Result<String, Failure> {
    let (ledger, dir) = if path.is_dir() { (path.join("ledger.jsonl"), Some(path)) } else { (path.to_path_buf(), None) };
    let chain = walk(&ledger, |_, _| {})?;
    if chain.state.total() != 0 {
        return Err(fail(&ledger, 0, Some(chain.blocks), format!("balances sum to {} micro-units, not 0", chain.state.total())));
    }
    let mut also = Vec::new();
    if let Some(dir) = dir {
        if let Some(msg) = check_summary(dir, &chain)? {
            also.push(msg);
        }
        if let Some(msg) = check_households(dir, &chain)? {
            also.push(msg);
        }
    }
    let also = if also.is_empty() { String::new() } else { format!("; {}", also.join("; ")) };
    Ok(format!(
        "OK: {}: {} blocks after genesis, {} transactions, {} members, {} missed slots; every hash, link, signature and state root checks; head {}{also}",
        ledger.display(),
        chain.blocks,
        chain.transactions,
        chain.members.ids.len(),
        chain.missed_slots,
        hex(&chain.head)
    ))
}

fn check_summary(dir: &Path, chain: &ChainSummary) -> Result<Option<String>, Failure> {
    let path = dir.join("summary.json");
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| fail(&path, 0, None, format!("not JSON: {e}")))?;
    let head = v.pointer("/ledger/head_hash").and_then(|h| h.as_str()).ok_or_else(|| fail(&path, 0, None, "has no ledger.head_hash"))?;
    if head != hex(&chain.head) {
        return Err(fail(
            &dir.join("ledger.jsonl"),
            0,
            Some(chain.blocks),
            format!("the last block's hash {} is not the head hash {} in summary.json: blocks were removed from the end, or the file belongs to another run", short(&chain.head), &head[..head.len().min(12)]),
        ));
    }
    Ok(Some("head matches summary.json".into()))
}

fn check_households(dir: &Path, chain: &ChainSummary) -> Result<Option<String>, Failure> {
    let path = dir.join("households.csv");
    if !path.exists() {
        return Ok(None);
    }
    let rows = read_households(&path)?;
    let ledger = dir.join("ledger.jsonl");
    if rows.len() != chain.members.ids.len() {
        return Err(fail(&path, 0, None, format!("has {} households, the ledger {}", rows.len(), chain.members.ids.len())));
    }
    for (i, row) in rows.iter().enumerate() {
        let id = &chain.members.ids[i];
        if &row.household != id {
            return Err(fail(&path, i + 2, None, format!("household {} is `{}` in the ledger", row.household, id)));
        }
        if let Some(problem) = compare(row, &chain.totals[i], chain.state.households[i]) {
            return Err(fail(&ledger, 0, None, format!("household {id}: {problem} (households.csv line {})", i + 2)));
        }
    }
    Ok(Some(format!("per-household totals match households.csv ({} households)", rows.len())))
}

/// A `households.csv` row, the columns the ledger can check.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct HouseholdRow {
    pub household: String,
    pub p2p_bought_kwh: f64,
    pub p2p_sold_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub bill: String,
    pub p2p_paid: String,
    pub p2p_received: String,
    pub grid_paid: String,
    pub grid_received: String,
    pub fees_paid: String,
    pub rewards_received: String,
    /// Absent in files written before network fees existed.
    #[serde(default)]
    pub network_fees_paid: Option<String>,
}

pub fn read_households(path: &Path) -> Result<Vec<HouseholdRow>, Failure> {
    let mut r = csv::Reader::from_path(path).map_err(|e| fail(path, 0, None, format!("cannot read: {e}")))?;
    r.deserialize().enumerate().map(|(i, row)| row.map_err(|e| fail(path, i + 2, None, format!("bad row: {e}")))).collect()
}

fn money(s: &str) -> Option<i64> {
    s.parse::<f64>().ok().map(to_micro)
}

/// Compares a households.csv row with the ledger's totals; money exactly, energy to the ledger's
/// rounding (half a micro-kWh per transaction).
pub fn compare(row: &HouseholdRow, t: &HouseholdTotals, balance: i64) -> Option<String> {
    let exact = [
        ("bill", money(&row.bill), -balance),
        ("p2p_paid", money(&row.p2p_paid), t.p2p_paid),
        ("p2p_received", money(&row.p2p_received), t.p2p_received),
        ("fees_paid", money(&row.fees_paid), t.fees_paid),
        ("rewards_received", money(&row.rewards_received), t.rewards_received),
        ("network_fees_paid", row.network_fees_paid.as_deref().map_or(Some(0), money), t.network_fees_paid),
        ("grid_paid − grid_received", money(&row.grid_paid).zip(money(&row.grid_received)).map(|(a, b)| a - b), t.grid_net_paid),
    ];
    for (name, csv, ledger) in exact {
        if csv != Some(ledger) {
            return Some(format!("{name} is {} in households.csv but {} in the ledger", csv.map(|v| encoding::from_micro(v).to_string()).unwrap_or("?".into()), encoding::from_micro(ledger)));
        }
    }
    let tolerance = 1e-6 * (t.transactions as f64 + 1.0);
    let energy = [
        ("p2p_bought_kwh", row.p2p_bought_kwh, t.p2p_bought_kwh_micro),
        ("p2p_sold_kwh", row.p2p_sold_kwh, t.p2p_sold_kwh_micro),
        ("grid_import_kwh", row.grid_import_kwh, t.grid_import_kwh_micro),
        ("grid_export_kwh", row.grid_export_kwh, t.grid_export_kwh_micro),
    ];
    for (name, csv, ledger) in energy {
        if (csv - encoding::from_micro(ledger)).abs() > tolerance {
            return Some(format!("{name} is {csv} in households.csv but {} in the ledger", encoding::from_micro(ledger)));
        }
    }
    None
}

/// A Merkle inclusion proof of one transaction, checkable against its block header alone.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub tx: TxJson,
    /// Account codes `[tag, index]` of seller and buyer, as hashed.
    pub seller_code: (u8, u32),
    pub buyer_code: (u8, u32),
    pub leaf_index: usize,
    pub tree_size: usize,
    pub audit_path: Vec<String>,
    pub header: ProofHeader,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofHeader {
    pub height: u64,
    pub hash: String,
    pub prev_hash: String,
    pub merkle_root: String,
    pub state_root: String,
    pub step: u64,
    pub time_unix_s: i64,
    pub producer: String,
    pub producer_index: u32,
    pub producer_public_key: String,
    pub tx_count: u32,
    pub missed_indices: Vec<u32>,
    pub signature: String,
}

/// Builds the proof of transaction `tx_id` from a verified ledger.
pub fn prove(ledger: &Path, tx_id: &str) -> Result<Proof, Failure> {
    let mut found: Option<Proof> = None;
    walk(ledger, |m, b| {
        if found.is_some() {
            return;
        }
        if let Some(i) = b.json.transactions.iter().position(|t| t.id == tx_id) {
            let h = b.header;
            found = Some(Proof {
                tx: b.json.transactions[i].clone(),
                seller_code: b.txs[i].seller.code(),
                buyer_code: b.txs[i].buyer.code(),
                leaf_index: i,
                tree_size: b.leaves.len(),
                audit_path: merkle::proof(b.leaves, i).iter().map(|x| hex(x)).collect(),
                header: ProofHeader {
                    height: h.height,
                    hash: hex(&b.hash),
                    prev_hash: hex(&h.prev_hash),
                    merkle_root: hex(&h.merkle_root),
                    state_root: hex(&h.state_root),
                    step: h.step,
                    time_unix_s: h.time_unix_s,
                    producer: b.json.producer.clone(),
                    producer_index: h.producer,
                    producer_public_key: hex(m.keys[h.producer as usize].as_bytes()),
                    tx_count: h.tx_count,
                    missed_indices: h.missed.clone(),
                    signature: b.json.signature.clone(),
                },
            });
        }
    })?;
    found.ok_or_else(|| fail(ledger, 0, None, format!("no transaction with id `{tx_id}`")))
}

fn account_from_code((tag, index): (u8, u32)) -> Option<AccountRef> {
    Some(match tag {
        0 => AccountRef::Household(index),
        1 => AccountRef::Grid,
        2 => AccountRef::Network,
        3 => AccountRef::Fund,
        4 => AccountRef::Pool,
        _ => return None,
    })
}

/// Checks a proof against its header alone (a light client's check). Returns the verdict.
pub fn verify_proof(p: &Proof) -> Result<String, String> {
    let h = &p.header;
    let (seller, buyer) = (account_from_code(p.seller_code).ok_or("bad seller code")?, account_from_code(p.buyer_code).ok_or("bad buyer code")?);
    let tx = tx_with_accounts(&p.tx, seller, buyer)?;
    let mut enc = Vec::new();
    encoding::encode_tx(&mut enc, &p.tx.id, &tx);
    let path: Option<Vec<Hash>> = p.audit_path.iter().map(|x| parse_hash(x)).collect();
    let path = path.ok_or("audit path entries must be 64 hex digits")?;
    let root = merkle::root_from_proof(leaf_hash(&enc), p.leaf_index, p.tree_size, &path).ok_or("the audit path has the wrong length for this position")?;
    let parse = |s: &str, what: &str| parse_hash(s).ok_or(format!("{what} is not 64 hex digits"));
    if root != parse(&h.merkle_root, "merkle_root")? {
        return Err(format!("the transaction and audit path give root {}, not the header's merkle root", short(&root)));
    }
    if p.tree_size != h.tx_count as usize {
        return Err("tree size differs from the header's tx_count".into());
    }
    let header = Header {
        height: h.height,
        prev_hash: parse(&h.prev_hash, "prev_hash")?,
        merkle_root: root,
        state_root: parse(&h.state_root, "state_root")?,
        step: h.step,
        time_unix_s: h.time_unix_s,
        producer: h.producer_index,
        tx_count: h.tx_count,
        missed: h.missed_indices.clone(),
    };
    let hash = header.hash();
    if hash != parse(&h.hash, "hash")? {
        return Err("the header does not hash to its block hash".into());
    }
    let key: [u8; 32] = encoding::parse_hex(&h.producer_public_key).and_then(|v| v.try_into().ok()).ok_or("producer public key is not 64 hex digits")?;
    let key = VerifyingKey::from_bytes(&key).map_err(|_| "not an Ed25519 public key")?;
    let sig: [u8; 64] = encoding::parse_hex(&h.signature).and_then(|v| v.try_into().ok()).ok_or("signature is not 128 hex digits")?;
    key.verify(&hash, &Signature::from_bytes(&sig)).map_err(|_| "the block signature does not verify with the producer's key")?;
    Ok(format!("OK: transaction {} is in block {} (hash {}), sealed and signed by {}", p.tx.id, h.height, h.hash, h.producer))
}
