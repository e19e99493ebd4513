//! Checking a ledger: `peergrid verify`, and the walk that `audit` and `prove` build on.
//!
//! Verification replays the chain block by block: recomputes every transaction's leaf (names
//! included) and the Merkle root, every header hash and history root, checks heights, links,
//! steps and times, replays every election and checks each block's producer and missed slots,
//! checks Ed25519 signatures against the genesis members' keys, checks every amount against its
//! kWh and price, replays all balances and checks every state root. The first problem is
//! reported with its line and block height. With a run folder it also checks `summary.json`,
//! `households.csv` and `trades.csv` against the chain; anchors (`--expect-head`,
//! `--expect-genesis`) tie the chain to hashes published when the run was made.

use super::encoding::{self, hex, leaf_hash, parse_hash, price_bits, to_micro, AccountRef, Hash, Header, State, Tx, TxKind, GENESIS_PRODUCER};
use super::json::{BlockJson, GenesisInfo, TxJson, GENESIS_NAME};
use super::merkle;
use super::validators::{stake_table, Schedule};
use super::StakeKind;
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
    /// The user asked for something the files do not have (an unknown id): bad input, not a
    /// failed check.
    pub bad_input: bool,
}

impl Failure {
    /// A request the files cannot answer (an unknown transaction or household).
    pub fn bad_input(file: &Path, message: impl Into<String>) -> Failure {
        Failure { bad_input: true, ..fail(file, 0, None, message) }
    }
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

/// Genesis members: ids, keys, fixed stakes and the id → index map, with the genesis facts.
pub struct Members {
    pub ids: Vec<String>,
    /// Names as transactions show them: `ids`, then the community treasuries (`community:ID`).
    pub names: Vec<String>,
    pub keys: Vec<VerifyingKey>,
    /// Fixed stakes in elections, as the genesis block records them.
    pub stakes: Vec<u64>,
    pub info: GenesisInfo,
    /// The genesis block's Merkle leaves: its facts, then one per member.
    pub leaves: Vec<Hash>,
    /// Members whose public key is the one derived from the genesis seed.
    pub seed_derived: usize,
    index: HashMap<String, u32>,
}

impl Members {
    pub fn account(&self, name: &str) -> Option<AccountRef> {
        AccountRef::from_system_name(name).or_else(|| self.index.get(name).map(|i| if (*i as usize) < self.ids.len() { AccountRef::Household(*i) } else { AccountRef::Community(*i) }))
    }

    pub fn name(&self, a: AccountRef) -> &str {
        super::json::account_name(a, &self.names)
    }

    /// The account of community `id`'s treasury, if the run has that community.
    pub fn community(&self, id: &str) -> Option<AccountRef> {
        self.account(&super::encoding::community_account_name(id)).filter(|a| matches!(a, AccountRef::Community(_)))
    }

    /// What the keys prove, in a sentence.
    pub fn key_note(&self) -> String {
        let n = self.ids.len();
        match self.seed_derived {
            0 => "keys from a keystore (none derives from the seed): each signature shows its producer's key signed the block".into(),
            k if k == n => format!("every key derives from the public seed {}: anyone who knows it can re-sign the chain, so the signatures prove consistency, not authorship (sign with a keystore: `peergrid keygen`, `run --keys`)", self.info.seed),
            k => format!("{k} of {n} members' keys derive from the public seed {}: their signatures prove consistency, not authorship", self.info.seed),
        }
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
    /// Paid to it by its community's treasury, and paid by it into one.
    pub community_received: i64,
    pub community_contributed: i64,
    /// Community-battery energy bought from and sold to its community's treasury, and the money.
    pub battery_bought_kwh_micro: i64,
    pub battery_sold_kwh_micro: i64,
    pub battery_paid: i64,
    pub battery_received: i64,
    /// The tariff's fixed charges paid to the grid.
    pub supply_charges: i64,
    pub demand_charges: i64,
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
    pub elections: u64,
    /// Periods each community's witnesses sealed, in scenario order.
    pub sealed_periods: Vec<u64>,
}

/// What `verify` keeps to check communities' seals: each community's records since its last
/// seal, the households that were its members during them, and its last sealed period.
#[derive(Default)]
struct CommunitySeals {
    records: Vec<u64>,
    members: Vec<std::collections::BTreeSet<u32>>,
    last_period: Vec<Option<u64>>,
    periods: Vec<u64>,
}

impl CommunitySeals {
    fn new(communities: usize) -> CommunitySeals {
        CommunitySeals { records: vec![0; communities], members: vec![Default::default(); communities], last_period: vec![None; communities], periods: vec![0; communities] }
    }

    /// Counts `tx` among its communities' records, and a joining household among the members.
    fn before(&mut self, state: &State, tx: &Tx) {
        state.count_records(tx, &mut self.records);
        if let (TxKind::Join, AccountRef::Community(c), AccountRef::Household(h)) = (tx.kind, tx.seller, tx.buyer)
            && let Some(k) = state.community_slot(c)
        {
            self.members[k].insert(h);
        }
    }

    /// Checks a block's seals against the replay (`header` without its seals, `state` after the
    /// block) and returns them: each signed by a household that was a member of the community
    /// during the records it seals, with its key from the genesis block, over the community's
    /// record count and treasury; periods move forward.
    fn check(&mut self, list: &[super::json::SealJson], header: &Header, state: &State, m: &Members) -> Result<Vec<encoding::Seal>, String> {
        let mut out = Vec::with_capacity(list.len());
        let mut sealed_here: Vec<(usize, u64)> = Vec::new();
        for j in list {
            let community = match m.account(&j.community) {
                Some(AccountRef::Community(i)) => i,
                _ => return Err(format!("seal of `{}`: not a community's account", j.community)),
            };
            let k = state.community_slot(community).ok_or_else(|| format!("seal of `{}`: not a community's account", j.community))?;
            let Some(AccountRef::Household(witness)) = m.account(&j.witness) else { return Err(format!("seal of {} by `{}`: not a member", j.community, j.witness)) };
            let this_block = sealed_here.iter().find(|(c, _)| *c == k).map(|x| x.1);
            match (this_block, self.last_period[k]) {
                (Some(p), _) if p != j.period => return Err(format!("seals of {} in one block name periods {p} and {}", j.community, j.period)),
                (None, Some(last)) if j.period <= last => return Err(format!("seal of {} for period {} does not follow its last sealed period {last}", j.community, j.period)),
                _ => {}
            }
            if !self.members[k].contains(&witness) && state.member_of.get(witness as usize) != Some(&(k as u32)) {
                return Err(format!("seal of {} by {}: it was not a member of the community during the records it seals", j.community, j.witness));
            }
            if j.records != self.records[k] {
                return Err(format!("seal of {} by {} counts {} records; the chain has {} since its last seal", j.community, j.witness, j.records, self.records[k]));
            }
            let treasury = encoding::to_micro(j.treasury);
            if treasury != state.communities[k] {
                return Err(format!("seal of {} by {} gives its treasury as {}; the replayed balance is {}", j.community, j.witness, j.treasury, encoding::from_micro(state.communities[k])));
            }
            let signature: [u8; 64] = encoding::parse_hex(&j.signature).and_then(|v| v.try_into().ok()).ok_or_else(|| format!("seal of {} by {}: `signature` is not 128 hex digits", j.community, j.witness))?;
            let message = encoding::Seal::message(header, community, j.period, j.records, treasury);
            if m.keys[witness as usize].verify(&message, &Signature::from_bytes(&signature)).is_err() {
                return Err(format!("seal of {} by {}: the signature is not {}'s over the seal", j.community, j.witness, j.witness));
            }
            if this_block.is_some() && out.iter().any(|s: &encoding::Seal| s.community == community && s.witness == witness) {
                return Err(format!("seal of {} by {} appears twice in the block", j.community, j.witness));
            }
            if this_block.is_none() {
                sealed_here.push((k, j.period));
            }
            out.push(encoding::Seal { community, period: j.period, witness, records: j.records, treasury, signature });
        }
        for (k, period) in sealed_here {
            self.records[k] = 0;
            self.last_period[k] = Some(period);
            self.periods[k] += 1;
            self.members[k] = (0..state.member_of.len() as u32).filter(|h| state.member_of[*h as usize] == k as u32).collect();
        }
        Ok(out)
    }
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
    Failure { file: file.to_path_buf(), line, height, message: message.into(), bad_input: false }
}

pub(super) fn short(h: &Hash) -> String {
    hex(&h[..6])
}

/// Converts a JSON transaction to integer units (the hashed form).
pub fn tx_from_json(t: &TxJson, members: &Members) -> Result<Tx, String> {
    let seller = members.account(&t.seller).ok_or_else(|| format!("transaction {}: unknown seller `{}`", t.id, t.seller))?;
    let buyer = members.account(&t.buyer).ok_or_else(|| format!("transaction {}: unknown buyer `{}`", t.id, t.buyer))?;
    tx_with_accounts(t, seller, buyer)
}

/// The hashed form of a JSON transaction whose accounts are already resolved.
pub(super) fn tx_with_accounts(t: &TxJson, seller: AccountRef, buyer: AccountRef) -> Result<Tx, String> {
    let kind = TxKind::from_label(&t.kind).ok_or_else(|| format!("transaction {}: unknown kind `{}`", t.id, t.kind))?;
    let gross = [("import_kwh", t.import_kwh.unwrap_or(0.0)), ("export_kwh", t.export_kwh.unwrap_or(0.0))];
    for (name, v) in [("kwh", t.kwh), ("price", t.price), ("amount", t.amount), ("fee", t.fee), ("loss_kwh", t.loss_kwh.unwrap_or(0.0)), gross[0], gross[1]] {
        if !v.is_finite() || v < 0.0 {
            return Err(format!("transaction {}: `{name}` must be a number ≥ 0, got {v}", t.id));
        }
    }
    Ok(Tx {
        kind,
        step: t.step,
        // The number of its id (`t27-3`: 3), which the id check holds to its form.
        seq: t.id.rsplit('-').next().and_then(|n| n.parse().ok()).unwrap_or(0),
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
                    // A household's meter counts what it sent (a pool seller's `loss_kwh`: what
                    // it sent to make up the buyers' losses on an island).
                    s.p2p_sold_kwh_micro += tx.kwh_micro + tx.loss_kwh_micro;
                }
                TxKind::Grid => {
                    s.grid_net_paid -= tx.amount_micro;
                    s.grid_import_kwh_micro += tx.import_kwh_micro;
                    s.grid_export_kwh_micro += tx.export_kwh_micro;
                }
                TxKind::Reward => s.rewards_received += tx.amount_micro,
                TxKind::WitnessPay | TxKind::Rebate | TxKind::Solidarity | TxKind::DefaultShare => s.community_received += tx.amount_micro,
                TxKind::BatteryCharge => {
                    s.battery_received += tx.amount_micro;
                    s.battery_sold_kwh_micro += tx.kwh_micro;
                }
                TxKind::PoolBuy
                | TxKind::NetworkFee
                | TxKind::Contribution
                | TxKind::Join
                | TxKind::Leave
                | TxKind::BatterySale
                | TxKind::BatteryPurchase
                | TxKind::BatteryBuyback
                | TxKind::VoteYes
                | TxKind::VoteNo
                | TxKind::ReferendumPassed
                | TxKind::ReferendumFailed
                | TxKind::SupplyCharge
                | TxKind::DemandCharge => {}
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
                TxKind::SupplyCharge => b.supply_charges += tx.amount_micro,
                TxKind::DemandCharge => b.demand_charges += tx.amount_micro,
                TxKind::Contribution => b.community_contributed += tx.amount_micro,
                TxKind::BatterySale => {
                    b.battery_paid += tx.amount_micro;
                    b.battery_bought_kwh_micro += tx.kwh_micro;
                }
                TxKind::PoolSell
                | TxKind::Reward
                | TxKind::WitnessPay
                | TxKind::Rebate
                | TxKind::Solidarity
                | TxKind::DefaultShare
                | TxKind::Join
                | TxKind::Leave
                | TxKind::BatteryCharge
                | TxKind::BatteryPurchase
                | TxKind::BatteryBuyback
                | TxKind::VoteYes
                | TxKind::VoteNo
                | TxKind::ReferendumPassed
                | TxKind::ReferendumFailed => {}
            }
        }
    }
}

/// In a run with communities, who may be party to what, given the memberships before `tx`:
/// peers trade only inside one community, only members buy from or sell into a pool, and a
/// treasury pays and is paid by its own members only.
fn check_membership(state: &State, tx: &Tx) -> Result<(), String> {
    use AccountRef::*;
    let of = |a: AccountRef| match a {
        Household(h) => state.member_of.get(h as usize).copied().filter(|k| *k != encoding::NO_COMMUNITY),
        _ => None,
    };
    let treasury = |a: AccountRef| match a {
        Community(i) => state.community_slot(i).map(|k| k as u32),
        _ => None,
    };
    let ok = match tx.kind {
        TxKind::P2p => of(tx.seller).is_some() && of(tx.seller) == of(tx.buyer),
        TxKind::PoolBuy => of(tx.buyer).is_some(),
        TxKind::PoolSell => of(tx.seller).is_some(),
        k if k.is_payout() => of(tx.seller).is_some() && of(tx.seller) == treasury(tx.buyer),
        TxKind::Contribution | TxKind::BatterySale | TxKind::VoteYes | TxKind::VoteNo => of(tx.buyer).is_some() && of(tx.buyer) == treasury(tx.seller),
        TxKind::BatteryCharge => of(tx.seller).is_some() && of(tx.seller) == treasury(tx.buyer),
        _ => true,
    };
    if ok { Ok(()) } else { Err(format!("a {} between parties that are not members of one community", tx.kind.label())) }
}

/// Whether `amount` (micro-units) follows from `kwh_micro` × `price` under the documented
/// rounding. The amount was rounded once from the exact billed kWh × price; the billed kWh lies
/// between the kWh delivered and the kWh sent (delivered + `loss_micro`: who bears line losses
/// is a market setting), and the ledger holds both rounded to micro-kWh (a loss below half a
/// micro-kWh shows as none). So the amount lies within half a micro-unit of that range at the
/// price, widened by the two kWh roundings.
pub fn amount_follows(amount: i64, kwh_micro: i64, loss_micro: i64, price: f64) -> bool {
    let low = (kwh_micro as f64 - 0.5) * price - 0.5;
    let high = (kwh_micro as f64 + loss_micro as f64 + 1.0) * price + 0.5;
    let slack = 1e-9 * high.abs();
    (low - slack..=high + slack).contains(&(amount as f64))
}

/// Which parties each kind of transaction has, and whether its amount follows from its fields;
/// `producer` is the block's. The message names the transaction.
fn check_tx(t: &TxJson, tx: &Tx, producer: u32, block_step: u64) -> Result<(), String> {
    use AccountRef::*;
    let id = &t.id;
    if tx.step > block_step {
        return Err(format!("transaction {id} is at step {}, after its block's step {block_step}", tx.step));
    }
    let parties_ok = match tx.kind {
        TxKind::P2p => matches!((tx.seller, tx.buyer), (Household(s), Household(b)) if s != b),
        TxKind::PoolBuy => matches!((tx.seller, tx.buyer), (Pool, Household(_))),
        TxKind::PoolSell => matches!((tx.seller, tx.buyer), (Household(_), Pool)),
        TxKind::NetworkFee => matches!((tx.seller, tx.buyer), (Network, Household(_))),
        TxKind::Reward => matches!((tx.seller, tx.buyer), (Household(_), Fund)),
        TxKind::WitnessPay | TxKind::Rebate | TxKind::Solidarity | TxKind::DefaultShare => matches!((tx.seller, tx.buyer), (Household(_), Community(_))),
        TxKind::Contribution | TxKind::Join | TxKind::Leave | TxKind::BatterySale | TxKind::VoteYes | TxKind::VoteNo => matches!((tx.seller, tx.buyer), (Community(_), Household(_))),
        TxKind::ReferendumPassed | TxKind::ReferendumFailed => matches!((tx.seller, tx.buyer), (Community(a), Community(b)) if a == b),
        TxKind::BatteryCharge => matches!((tx.seller, tx.buyer), (Household(_), Community(_))),
        TxKind::BatteryPurchase => matches!((tx.seller, tx.buyer), (Supplier, Community(_))),
        TxKind::BatteryBuyback => matches!((tx.seller, tx.buyer), (Community(_), Supplier)),
        TxKind::Grid => matches!((tx.seller, tx.buyer), (Grid, Household(_)) | (Household(_), Grid)),
        TxKind::SupplyCharge | TxKind::DemandCharge => matches!((tx.seller, tx.buyer), (Grid, Household(_))),
    };
    if !parties_ok {
        return Err(format!("transaction {id}: a {} transaction cannot have seller `{}` and buyer `{}`", t.kind, t.seller, t.buyer));
    }
    // Ids are the kind's letter, the step and a number (`t27-3`): one per transaction.
    let prefix = format!("{}{}-", tx.id_letter() as char, tx.step);
    if !t.id.strip_prefix(&prefix).is_some_and(|n| (1..=20).contains(&n.len()) && n.bytes().all(|c| c.is_ascii_digit())) {
        return Err(format!("transaction id `{id}` is not `{prefix}N` (its kind's letter, its step, a number)"));
    }
    if tx.kind != TxKind::Grid && (tx.import_kwh_micro != 0 || tx.export_kwh_micro != 0) {
        return Err(format!("transaction {id}: only grid settlements have import_kwh and export_kwh"));
    }
    if tx.fee_micro > 0 && !matches!(tx.kind, TxKind::P2p | TxKind::PoolSell) {
        return Err(format!("transaction {id}: only peer deliveries and sales into a pool pay a fee to the fund"));
    }
    if tx.fee_micro > tx.amount_micro {
        return Err(format!("transaction {id}: the fee {} is more than the amount {}", t.fee, t.amount));
    }
    let price = tx.price();
    match tx.kind {
        TxKind::P2p | TxKind::PoolBuy | TxKind::PoolSell | TxKind::NetworkFee | TxKind::BatterySale | TxKind::BatteryCharge => {
            let loss = if tx.kind == TxKind::P2p { tx.loss_kwh_micro } else { 0 };
            if !amount_follows(tx.amount_micro, tx.kwh_micro, loss, price) {
                return Err(format!("transaction {id}: amount {} does not follow from {} kWh × {} per kWh", t.amount, t.kwh, t.price));
            }
        }
        TxKind::Grid => {
            if tx.kwh_micro != (tx.import_kwh_micro - tx.export_kwh_micro).abs() {
                return Err(format!("transaction {id}: kwh {} is not |import_kwh − export_kwh|", t.kwh));
            }
            let mean = if tx.kwh_micro > 0 { encoding::from_micro(tx.amount_micro) / encoding::from_micro(tx.kwh_micro) } else { 0.0 };
            if tx.price_bits != price_bits(mean) {
                return Err(format!("transaction {id}: price {} is not amount / kWh ({mean})", t.price));
            }
        }
        TxKind::Reward => {
            if tx.seller != Household(producer) {
                return Err(format!("transaction {id}: a block reward goes to its block's producer, not `{}`", t.seller));
            }
        }
        TxKind::WitnessPay | TxKind::Rebate | TxKind::Solidarity | TxKind::DefaultShare | TxKind::Contribution | TxKind::BatteryPurchase | TxKind::BatteryBuyback => {
            if tx.kwh_micro != 0 || tx.amount_micro <= 0 {
                return Err(format!("transaction {id}: a community payment moves a positive amount and no energy"));
            }
        }
        TxKind::SupplyCharge | TxKind::DemandCharge => {
            // The amount was rounded once from days × charge per day, or peak kW × charge per kW.
            if tx.amount_micro <= 0 || tx.kwh_micro <= 0 || !amount_follows(tx.amount_micro, tx.kwh_micro, 0, price) {
                return Err(format!("transaction {id}: amount {} does not follow from {} × {} (a charge is positive)", t.amount, t.kwh, t.price));
            }
        }
        TxKind::Join | TxKind::Leave | TxKind::VoteYes | TxKind::VoteNo | TxKind::ReferendumPassed | TxKind::ReferendumFailed => {
            if tx.kwh_micro != 0 || tx.amount_micro != 0 {
                return Err(format!("transaction {id}: a {} moves no money and no energy", t.kind));
            }
        }
    }
    Ok(())
}

/// The genesis block's facts and members, checked against its hashes.
fn read_genesis(b: &BlockJson, at: &dyn Fn(String) -> Failure, time_unix_s: i64, claimed: Hash) -> Result<(Members, State, Header), Failure> {
    let g = b.genesis.as_ref().ok_or_else(|| at("the first block must be the genesis block (with `genesis`)".into()))?;
    if b.producer != GENESIS_NAME || !b.transactions.is_empty() || !b.missed.is_empty() || !b.signature.is_empty() || b.tx_count != 0 || b.step != 0 {
        return Err(at("the genesis block has a producer, transactions, missed slots or a signature".into()));
    }
    let n = g.members.len();
    let (mut ids, mut keys, mut raw_keys, mut stakes) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut index = HashMap::new();
    let mut seed_derived = 0;
    for (k, m) in g.members.iter().enumerate() {
        let bytes: [u8; 32] = encoding::parse_hex(&m.public_key).and_then(|v| v.try_into().ok()).ok_or_else(|| at(format!("member {}: public key is not 64 hex digits", m.id)))?;
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| at(format!("member {}: not an Ed25519 public key", m.id)))?;
        if index.insert(m.id.clone(), k as u32).is_some() || AccountRef::from_system_name(&m.id).is_some() || m.id == GENESIS_NAME {
            return Err(at(format!("member id `{}` is duplicated or reserved", m.id)));
        }
        seed_derived += usize::from(super::keys::is_seed_derived(g.seed, k as u32, &bytes));
        ids.push(m.id.clone());
        keys.push(key);
        raw_keys.push(bytes);
        stakes.push(m.stake);
    }
    let info = g.info();
    let state = State::with_communities(n, info.communities.len());
    let mut names = ids.clone();
    for (c, id) in info.communities.iter().enumerate() {
        let name = super::encoding::community_account_name(id);
        if index.insert(name.clone(), (n + c) as u32).is_some() || id.is_empty() || id.contains(':') {
            return Err(at(format!("community id `{id}` is duplicated or not an id")));
        }
        names.push(name);
    }
    let leaves = super::genesis_leaves(&info, &ids, &raw_keys, &stakes);
    let (header, hash) = super::genesis_header(merkle::root(&leaves, &mut Vec::new()), n, info.communities.len(), time_unix_s);
    let field = |name: &str, v: &str, want: &Hash| match parse_hash(v) {
        Some(h) if h == *want => Ok(()),
        Some(_) => Err(at(format!("genesis `{name}` does not match its members and facts"))),
        None => Err(at(format!("`{name}` is not 64 hex digits"))),
    };
    field("merkle_root", &b.merkle_root, &header.merkle_root)?;
    field("state_root", &b.state_root, &header.state_root)?;
    field("history_root", &b.history_root, &header.history_root)?;
    field("election_root", &b.election_root, &header.election_root)?;
    if hash != claimed {
        return Err(at(format!("hash {} does not match the header ({})", short(&claimed), short(&hash))));
    }
    if g.witnesses == 0 || g.step_seconds == 0 || g.max_transactions_per_block == 0 || n == 0 {
        return Err(at("the genesis block has no members, witnesses, step length or block size".into()));
    }
    Ok((Members { ids, names, keys, stakes, info, leaves, seed_derived, index }, state, header))
}

/// Whether a line is exactly as peergrid writes its block (`canon`, with its newline): every
/// value shown is the hashed one, in one spelling (no extra decimals, upper-case hex, spaces,
/// reordered or explicit default fields).
fn canonical(line: &str, canon: &str) -> Result<(), String> {
    let canon = canon.strip_suffix('\n').unwrap_or(canon);
    if line == canon {
        return Ok(());
    }
    let at = line.bytes().zip(canon.bytes()).position(|(a, b)| a != b).unwrap_or(line.len().min(canon.len()));
    let from = (0..=at.saturating_sub(40)).rev().find(|i| line.is_char_boundary(*i)).unwrap_or(0);
    let to = (at + 40..=line.len()).find(|i| line.is_char_boundary(*i)).unwrap_or(line.len());
    Err(format!("the line is not written the way peergrid writes it (byte {at}, in `…{}…`): a value is spelled differently from what is hashed, or a field is out of place", &line[from..to]))
}

/// The stake kind the genesis block names.
fn stake_kind(name: &str) -> Option<StakeKind> {
    [StakeKind::Equal, StakeKind::Kwp, StakeKind::Balance].into_iter().find(|k| format!("{k:?}") == name)
}

/// The longest block line read: a block of the most transactions a scenario allows
/// (`ledger.max_transactions_per_block`) at about 200 bytes each, or a genesis block of a
/// million members, fits well within it.
pub const MAX_LINE_BYTES: usize = 512 << 20;

/// Reads and verifies a ledger file, calling `visit` for every verified block (genesis too).
pub fn walk(path: &Path, mut visit: impl FnMut(&Members, &VerifiedBlock)) -> Result<ChainSummary, Failure> {
    let file = std::fs::File::open(path).map_err(|e| fail(path, 0, None, format!("cannot open: {e}")))?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut members: Option<Members> = None;
    let mut state = State::default();
    let mut totals = Vec::new();
    let mut seals = CommunitySeals::default();
    let (mut prev, mut genesis, mut expected_height) = ([0u8; 32], [0u8; 32], 0u64);
    let (mut transactions, mut missed_slots, mut elections) = (0u64, 0u64, 0u64);
    let (mut enc, mut leaves, mut scratch, mut txs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut history = merkle::Frontier::default();
    let mut schedule = Schedule::new(1, 0, 0);
    let mut kind = StakeKind::Equal;
    let (mut genesis_time, mut prev_step, mut prev_full) = (0i64, 0u64, false);
    let mut lines = 0usize;
    let mut canon = String::new();
    let mut step_ids: std::collections::HashSet<String> = std::collections::HashSet::new();
    let mut reader = reader;
    let mut bytes = Vec::new();
    loop {
        let n = lines + 1;
        bytes.clear();
        // One line at most MAX_LINE_BYTES (a file without newlines is not read without limit).
        let read = std::io::Read::take(&mut reader, MAX_LINE_BYTES as u64 + 1).read_until(b'\n', &mut bytes).map_err(|e| fail(path, n, Some(expected_height), format!("cannot read: {e}")))?;
        if read == 0 {
            break;
        }
        lines = n;
        if bytes.len() > MAX_LINE_BYTES {
            return Err(fail(path, n, Some(expected_height), format!("the line is longer than {} MiB: not a peergrid ledger", MAX_LINE_BYTES >> 20)));
        }
        let line = std::str::from_utf8(bytes.strip_suffix(b"\n").unwrap_or(&bytes)).map_err(|_| fail(path, n, Some(expected_height), "not UTF-8 text"))?;
        if line.trim().is_empty() {
            return Err(fail(path, n, Some(expected_height), "empty line"));
        }
        let b: BlockJson = serde_json::from_str(line).map_err(|e| {
            let older = n == 1 && serde_json::from_str::<serde_json::Value>(line).is_ok_and(|v| v.get("hash").is_some() && v.get("history_root").is_none());
            let message = if older {
                "this ledger was written by an older peergrid (ledger encoding version 1 or 2: no history or election roots, names not hashed); this build verifies version 3: rerun the scenario to write one".to_string()
            } else {
                format!("not a valid block: {e}")
            };
            fail(path, n, Some(expected_height), message)
        })?;
        let at = |msg: String| fail(path, n, Some(b.height), msg);
        if b.height != expected_height {
            return Err(fail(path, n, Some(expected_height), format!("height is {}, expected {expected_height} (a block is missing, duplicated or out of order)", b.height)));
        }
        let parse = |v: &str, name: &str| parse_hash(v).ok_or_else(|| at(format!("`{name}` is not 64 hex digits")));
        let claimed = parse(&b.hash, "hash")?;
        let prev_hash = parse(&b.prev_hash, "prev_hash")?;
        let history_claimed = parse(&b.history_root, "history_root")?;
        let merkle_claimed = parse(&b.merkle_root, "merkle_root")?;
        let state_claimed = parse(&b.state_root, "state_root")?;
        let election_claimed = parse(&b.election_root, "election_root")?;
        let time_unix_s = time_unix(&b.time).ok_or_else(|| at(format!("`time` {} is not an ISO 8601 time with offset", b.time)))?;
        if prev_hash != prev {
            return Err(at(format!("prev_hash {} does not link to the previous block {}", short(&prev_hash), short(&prev))));
        }
        txs.clear();
        leaves.clear();
        if b.height == 0 {
            let (m, s, header) = read_genesis(&b, &at, time_unix_s, claimed)?;
            kind = stake_kind(&m.info.stake).ok_or_else(|| at(format!("stake `{}` is not Equal, Kwp or Balance", m.info.stake)))?;
            schedule = Schedule::new(m.info.witnesses, m.info.votes_per_household, m.info.seed);
            genesis_time = time_unix_s;
            state = s;
            seals = CommunitySeals::new(state.communities.len());
            totals = vec![HouseholdTotals::default(); m.ids.len()];
            genesis = claimed;
            let keys: Vec<[u8; 32]> = m.keys.iter().map(|k| k.to_bytes()).collect();
            canon.clear();
            super::json::write_genesis(&mut canon, &header, &claimed, &b.time, &m.info, &m.ids, &keys, &m.stakes);
            canonical(line, &canon).map_err(at)?;
            visit(&m, &VerifiedBlock { line: n, json: &b, header: &header, hash: claimed, txs: &[], leaves: &[] });
            members = Some(m);
            history.push(leaf_hash(&claimed));
            prev = claimed;
            expected_height = 1;
            continue;
        }
        let m = members.as_ref().expect("genesis was read first");
        if b.genesis.is_some() {
            return Err(at("only block 0 may carry `genesis`".into()));
        }
        if history_claimed != history.root() {
            return Err(at(format!("history root {} does not commit to the {} blocks before it", short(&history_claimed), history.len())));
        }
        // Steps move forward; a block at the step of the one before follows only a full one.
        if b.height > 1 && (b.step < prev_step || (b.step == prev_step && !prev_full)) {
            return Err(at(format!("step {} does not move forward from the previous block's step {prev_step} (two blocks share a step only when the first is full)", b.step)));
        }
        if b.step >= m.info.steps {
            return Err(at(format!("step {} is past the run's {} steps", b.step, m.info.steps)));
        }
        let expected_time = genesis_time + b.step as i64 * i64::from(m.info.step_seconds);
        if time_unix_s != expected_time {
            return Err(at(format!("time {} is not the start of step {} ({} s after the genesis time)", b.time, b.step, expected_time - genesis_time)));
        }
        let household = |name: &str, what: &str| match m.account(name) {
            Some(AccountRef::Household(p)) => Ok(p),
            _ => Err(at(format!("{what} `{name}` is not a member"))),
        };
        let producer = household(&b.producer, "producer")?;
        let mut missed = Vec::with_capacity(b.missed.len());
        for w in &b.missed {
            missed.push(household(w, "missed witness")?);
        }
        // Replay the schedule: every missed slot, then the producer's.
        let stakes = || stake_table(kind, &m.stakes, &state.households);
        for (k, &w) in missed.iter().enumerate() {
            let (due, elected) = schedule.take_slot(stakes);
            elections += u64::from(elected);
            if due != w {
                return Err(at(format!("missed witness {} (slot {} of the list) was not due: the replayed election gives slot {} to {}", b.missed[k], k + 1, schedule.slots_taken() - 1, m.ids[due as usize])));
            }
        }
        let (due, elected) = schedule.take_slot(stakes);
        elections += u64::from(elected);
        if due != producer {
            // Only the backup sealer, only at the run's last step, only after a round of misses.
            // (No block can follow it at another step: none is past the run's last.)
            let backup = producer == super::BACKUP_SEALER && b.step + 1 == m.info.steps && missed.len() as u64 >= schedule.round_slots();
            if !backup {
                return Err(at(format!("producer {} is not the witness elected for this slot ({} is, slot {})", b.producer, m.ids[due as usize], schedule.slots_taken() - 1)));
            }
        }
        if election_claimed != schedule.election_root() {
            return Err(at(format!("election root {} is not that of the replayed election ({})", short(&election_claimed), short(&schedule.election_root()))));
        }
        // Ids are unique among the blocks of a step (a block split over several shares one).
        if b.step != prev_step || b.height == 1 {
            step_ids.clear();
        }
        for t in &b.transactions {
            if !step_ids.insert(t.id.clone()) {
                return Err(at(format!("transaction id {} appears twice", t.id)));
            }
            let tx = tx_from_json(t, m).map_err(at)?;
            check_tx(t, &tx, producer, b.step).map_err(at)?;
            encoding::encode_tx(&mut enc, &t.id, &tx, &m.names);
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
        for (tx, t) in txs.iter().zip(&b.transactions) {
            if !state.communities.is_empty() {
                check_membership(&state, tx).map_err(|m| at(format!("transaction {}: {m}", t.id)))?;
            }
            if !state.communities.is_empty() {
                seals.before(&state, tx);
            }
            if !state.apply(tx) {
                let why = if matches!(tx.kind, TxKind::Join | TxKind::Leave) {
                    "joins a community while in one, or leaves one it is not in"
                } else if matches!(tx.kind, TxKind::VoteYes | TxKind::VoteNo | TxKind::ReferendumPassed | TxKind::ReferendumFailed) {
                    "votes in a community it is not a member of, or names a community that does not exist"
                } else { "names an account that does not exist, or moves more money than a balance can hold" };
                return Err(at(format!("transaction {} {why}", t.id)));
            }
            add_totals(&mut totals, tx);
        }
        if state.fund < 0 {
            return Err(at(format!("the community fund's balance goes negative ({})", encoding::from_micro(state.fund))));
        }
        if let Some(k) = state.communities.iter().position(|b| *b < 0) {
            return Err(at(format!("community {}'s treasury goes negative ({})", m.info.communities[k], encoding::from_micro(state.communities[k]))));
        }
        let state_root = state.root();
        if state_root != state_claimed {
            return Err(at(format!("state root {} does not match the replayed balances ({})", short(&state_claimed), short(&state_root))));
        }
        let mut header = Header { height: b.height, prev_hash, history_root: history_claimed, merkle_root, state_root, election_root: election_claimed, step: b.step, time_unix_s, producer, tx_count: b.tx_count, missed, seals: Vec::new() };
        header.seals = seals.check(&b.seals, &header, &state, m).map_err(at)?;
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
        canon.clear();
        super::json::write_block(&mut canon, &header, &hash, &b.producer, &b.time, &sig_bytes, &txs, &m.names);
        canonical(line, &canon).map_err(at)?;
        visit(m, &VerifiedBlock { line: n, json: &b, header: &header, hash, txs: &txs, leaves: &leaves });
        transactions += txs.len() as u64;
        missed_slots += header.missed.len() as u64;
        prev_full = u64::from(b.tx_count) + 1 >= u64::from(m.info.max_transactions_per_block);
        prev_step = b.step;
        history.push(leaf_hash(&hash));
        prev = hash;
        expected_height += 1;
    }
    let members = members.ok_or_else(|| fail(path, lines, None, "the ledger is empty (no genesis block)"))?;
    Ok(ChainSummary { blocks: expected_height - 1, transactions, head: prev, genesis, state, members, totals, missed_slots, elections, sealed_periods: seals.periods })
}

/// Hashes published when the run was made, to check a chain (or a proof) against.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Anchors {
    pub head: Option<Hash>,
    pub genesis: Option<Hash>,
}

impl Anchors {
    pub fn is_empty(&self) -> bool {
        self.head.is_none() && self.genesis.is_none()
    }
}

/// How `peergrid verify PATH` checks.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct VerifyOptions {
    pub anchors: Anchors,
    /// Check the ledger alone, without the run's other files.
    pub ledger_only: bool,
}

/// The files of a run folder that `verify` checks against the ledger (the trades as CSV, or as
/// Parquet when the run wrote no CSV of them).
const SIDE_FILES: [&str; 3] = ["summary.json", "households.csv", "trades.csv"];

/// The run's trades tables: `trades.csv` and `trades.parquet`, those written (`trades.csv`
/// when neither was, to be reported missing).
fn trades_files(dir: &Path) -> Vec<PathBuf> {
    let files: Vec<PathBuf> = ["trades.csv", "trades.parquet"].iter().map(|f| dir.join(f)).filter(|f| f.exists()).collect();
    if files.is_empty() { vec![dir.join("trades.csv")] } else { files }
}

/// The verdict of `peergrid verify PATH`.
pub fn verify_path(path: &Path, opts: &VerifyOptions) -> Result<String, Failure> {
    if !path.exists() {
        return Err(fail(path, 0, None, "no such file or folder"));
    }
    let (ledger, dir) = if path.is_dir() { (path.join("ledger.jsonl"), path.to_path_buf()) } else { (path.to_path_buf(), path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)) };
    if !ledger.exists() && path.is_dir() && let Some(verdict) = unwritten_ledger(&dir, &opts.anchors)? {
        return Err(verdict);
    }
    if !opts.ledger_only {
        if let Some(missing) = SIDE_FILES.iter().map(|f| if *f == "trades.csv" { trades_files(&dir).swap_remove(0) } else { dir.join(f) }).find(|f| !f.exists()) {
            return Err(fail(&missing, 0, None, format!("is missing: `verify` checks it against the ledger (give --ledger-only to check {} alone)", ledger.display())));
        }
    }
    let mut trades: Vec<TradesCheck> = if opts.ledger_only { Vec::new() } else { trades_files(&dir).iter().map(|f| TradesCheck::open(f)).collect::<Result<_, _>>()? };
    let mut trade_problem: Option<Failure> = None;
    let mut head_seen_at: Option<u64> = None;
    let chain = walk(&ledger, |_, b| {
        if opts.anchors.head == Some(b.hash) {
            head_seen_at = Some(b.header.height);
        }
        for t in &mut trades {
            if trade_problem.is_none() {
                trade_problem = t.block(b).err();
            }
        }
    })?;
    if let Some(p) = trade_problem {
        return Err(p);
    }
    let mut also = Vec::new();
    also.extend(check_anchors(&ledger, &chain, &opts.anchors, head_seen_at)?);
    if chain.state.total() != 0 {
        return Err(fail(&ledger, 0, Some(chain.blocks), format!("balances sum to {} micro-units, not 0", chain.state.total())));
    }
    for t in &mut trades {
        also.push(t.finish(&ledger)?);
    }
    if !opts.ledger_only {
        also.push(check_summary(&dir, &chain, opts.anchors.head.is_some())?);
        also.push(check_households(&dir, &chain)?);
    }
    let anchored = match opts.anchors {
        Anchors { head: Some(_), .. } => format!("anchored: head {} is the one expected", hex(&chain.head)),
        Anchors { head: None, genesis: Some(_) } => format!("anchored at its genesis only, its head is not anchored: compare head {} with the one published for this run, or give --expect-head", hex(&chain.head)),
        Anchors { head: None, genesis: None } => format!("not anchored: compare head {} with the one published for this run, or give --expect-head", hex(&chain.head)),
    };
    also.push(chain.members.key_note());
    let seals = if chain.sealed_periods.iter().any(|n| *n > 0) { ", community seal" } else { "" };
    Ok(format!(
        "OK: {}: {} blocks after genesis, {} transactions, {} members, {} elections replayed, {} missed slots; every hash, link, step, time, election, producer, signature{seals}, amount and state root checks; {anchored}; {}",
        ledger.display(),
        chain.blocks,
        chain.transactions,
        chain.members.ids.len(),
        chain.elections,
        chain.missed_slots,
        also.join("; ")
    ))
}

/// Checks a verified chain against the anchors; `head_seen_at` is the height of the block whose
/// hash is the anchored head, if the walk met one. Returns what matched.
pub fn check_anchors(ledger: &Path, chain: &ChainSummary, anchors: &Anchors, head_seen_at: Option<u64>) -> Result<Vec<String>, Failure> {
    let mut matched = Vec::new();
    if let Some(g) = anchors.genesis {
        if chain.genesis != g {
            return Err(fail(ledger, 1, Some(0), format!("the genesis block's hash {} is not the expected genesis {}: this chain does not start from the anchored one", hex(&chain.genesis), hex(&g))));
        }
        matched.push("genesis matches --expect-genesis".to_string());
    }
    if let Some(h) = anchors.head {
        if chain.head != h {
            let why = match head_seen_at {
                Some(at) => format!("the anchored head is block {at}; the {} blocks after it were appended later", chain.blocks - at),
                None => "no block of this chain has that hash: blocks were dropped from the end or rewritten, or the file belongs to another run".to_string(),
            };
            return Err(fail(ledger, chain.blocks as usize + 1, Some(chain.blocks), format!("the last block's hash {} is not the expected head {}: {why}", hex(&chain.head), hex(&h))));
        }
        matched.push("head matches --expect-head".to_string());
    }
    Ok(matched)
}

/// A run folder without `ledger.jsonl`: says why (an aggregate-level or head-only run built the
/// ledger but did not write it; a run without a ledger has none) and checks what
/// `summary.json` records. `None` when there is no summary to explain it.
pub fn unwritten_ledger(dir: &Path, anchors: &Anchors) -> Result<Option<Failure>, Failure> {
    let path = dir.join("summary.json");
    let Ok(bytes) = std::fs::read(&path) else { return Ok(None) };
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| fail(&path, 0, None, format!("not JSON: {e}")))?;
    let ledger = dir.join("ledger.jsonl");
    let Some(l) = v.get("ledger").filter(|l| !l.is_null()) else {
        return Ok(Some(fail(&ledger, 0, None, "this run has no ledger (it ran with the ledger off): there is nothing to verify")));
    };
    let text = |k: &str| l.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string();
    let (head, genesis) = (text("head_hash"), text("genesis_hash"));
    let level = v.pointer("/settings/output_level").or_else(|| v.get("output_level")).and_then(|x| x.as_str()).unwrap_or("aggregate");
    let mut message = format!(
        "was not written (output level `{level}` or `--ledger head-only`): the run built, signed and chained the ledger without writing it, so there is nothing to replay. summary.json records {} blocks, {} transactions, head {head}, genesis {genesis}",
        l.get("blocks").and_then(|x| x.as_u64()).unwrap_or(0),
        l.get("transactions").and_then(|x| x.as_u64()).unwrap_or(0)
    );
    for (name, want, got) in [("head", anchors.head, &head), ("genesis", anchors.genesis, &genesis)] {
        if let Some(w) = want {
            message.push_str(&if hex(&w) == *got { format!("; its {name} matches --expect-{name}") } else { format!("; its {name} is NOT the expected {}", hex(&w)) });
        }
    }
    message.push_str(". Rerun with `--output-level full` to write ledger.jsonl: the same seed gives the same chain.");
    // A mismatched anchor is a failed check of summary.json; otherwise there was nothing to check.
    let mismatch = message.contains("is NOT the expected");
    Ok(Some(fail(if mismatch { &path } else { &ledger }, 0, None, message)))
}

/// `trades.csv` checked row by row against the ledger's deliveries (p2p and pool purchases,
/// in order), streamed: step, seller, buyer, kWh, price and amount, and every amount exactly
/// from the row's kWh and price.
struct TradesCheck {
    path: PathBuf,
    rows: crate::base::table_rows::TableRows,
    cols: [usize; 9],
    line: u64,
    /// The network fee of the last row, which the next network-fee transaction must pay.
    last_network_fee: Option<i64>,
    matched: u64,
}

impl TradesCheck {
    const COLUMNS: [&'static str; 9] = ["step", "seller", "buyer", "kwh", "price", "amount", "kwh_sent", "network_fee", "loss_kwh"];

    fn open(path: &Path) -> Result<TradesCheck, Failure> {
        let rows = crate::base::table_rows::TableRows::open(path).map_err(|e| fail(path, 0, None, format!("cannot read: {e}")))?;
        let mut cols = [0; 9];
        for (c, name) in cols.iter_mut().zip(Self::COLUMNS) {
            *c = rows.header.iter().position(|h| h == name).ok_or_else(|| fail(path, 1, None, format!("has no `{name}` column")))?;
        }
        // Positions are CSV lines (the header is line 1), or Parquet rows from 1.
        let line = u64::from(path.extension().is_none_or(|e| e != "parquet"));
        Ok(TradesCheck { path: path.to_path_buf(), rows, cols, line, last_network_fee: None, matched: 0 })
    }

    fn block(&mut self, b: &VerifiedBlock) -> Result<(), Failure> {
        for (tx, t) in b.txs.iter().zip(&b.json.transactions) {
            match tx.kind {
                TxKind::P2p | TxKind::PoolBuy => {
                    self.no_fee_owed()?;
                    self.trade(tx, t, b.header.height)?;
                }
                TxKind::NetworkFee => match self.last_network_fee.take() {
                    Some(fee) if fee == tx.amount_micro => {}
                    Some(fee) => return Err(fail(&self.path, self.line as usize, None, format!("network_fee is {} but the ledger's transaction {} (block {}) charges {}", encoding::from_micro(fee), t.id, b.header.height, t.amount))),
                    None => return Err(fail(&self.path, self.line as usize, None, format!("the ledger's network fee {} (block {}) follows no delivery of this file", t.id, b.header.height))),
                },
                _ => {}
            }
        }
        Ok(())
    }

    /// The last row's network fee, when it is not 0, was charged by a network-fee transaction.
    fn no_fee_owed(&mut self) -> Result<(), Failure> {
        match self.last_network_fee.take() {
            Some(fee) if fee > 0 => Err(fail(&self.path, self.line as usize, None, format!("network_fee is {} but the ledger charges no network fee for this delivery", encoding::from_micro(fee)))),
            _ => Ok(()),
        }
    }

    fn trade(&mut self, tx: &Tx, t: &TxJson, height: u64) -> Result<(), Failure> {
        self.line += 1;
        let line = self.line as usize;
        let row = match self.rows.next() {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(fail(&self.path, line, None, format!("not a row of the table: {e}"))),
            None => return Err(fail(&self.path, line, None, format!("ends before the ledger's transaction {} (block {height}): a trade is missing", t.id))),
        };
        let get = |k: usize| row.get(self.cols[k]).unwrap_or("");
        let num = |k: usize| get(k).parse::<f64>().ok().filter(|v| v.is_finite());
        let bad = |what: String| fail(&self.path, line, None, format!("{what} (the ledger's transaction {} in block {height})", t.id));
        if get(0).parse::<u64>().ok() != Some(tx.step) || get(1) != t.seller || get(2) != t.buyer {
            return Err(bad(format!("trade at step {}, {} → {} is not the ledger's at step {}, {} → {}", get(0), get(1), get(2), tx.step, t.seller, t.buyer)));
        }
        let (Some(kwh), Some(price), Some(amount), Some(sent), Some(fee), Some(loss)) = (num(3), num(4), num(5), num(6), num(7), num(8)) else {
            return Err(bad("`kwh`, `price`, `amount`, `kwh_sent`, `network_fee` or `loss_kwh` is not a number".into()));
        };
        if to_micro(kwh) != tx.kwh_micro || price_bits(price) != tx.price_bits || to_micro(amount) != tx.amount_micro || to_micro(loss) != tx.loss_kwh_micro {
            return Err(bad(format!("kwh {kwh}, price {price}, amount {amount}, loss_kwh {loss} differ from the ledger's {}, {}, {}, {}", t.kwh, t.price, t.amount, t.loss_kwh.unwrap_or(0.0))));
        }
        if kwh + loss != sent || fee < 0.0 {
            return Err(bad(format!("kwh_sent {sent} is not kwh + loss_kwh ({}), or network_fee {fee} is negative", kwh + loss)));
        }
        // Each payment was rounded once from the exact billed kWh × price; the billed kWh is
        // what was delivered, what was sent, or delivered plus half the loss (who bears line
        // losses is a market setting).
        let rounded = |k: f64| crate::base::money::Price(price).amount_for(k).0;
        if ![kwh, sent, kwh + 0.5 * loss].into_iter().any(|billed| rounded(billed) == tx.amount_micro) {
            return Err(bad(format!("amount {amount} is not {kwh} kWh delivered (or {sent} kWh sent, or the loss shared) × {price}, rounded to a micro-unit")));
        }
        self.last_network_fee = Some(to_micro(fee));
        self.matched += 1;
        Ok(())
    }

    fn finish(&mut self, ledger: &Path) -> Result<String, Failure> {
        self.no_fee_owed()?;
        match self.rows.next() {
            Some(Ok(_)) => return Err(fail(&self.path, self.line as usize + 1, None, format!("has trades after the last one in {}", ledger.display()))),
            Some(Err(e)) => return Err(fail(&self.path, self.line as usize + 1, None, format!("not a row of the table: {e}"))),
            None => {}
        }
        let name = self.path.file_name().map_or_else(|| "trades.csv".into(), |n| n.to_string_lossy());
        Ok(format!("{name} matches the ledger ({} trades, every amount exact from its kWh and price)", self.matched))
    }
}

/// `anchored`: the chain's head was checked against an anchor, so a different head in
/// summary.json means summary.json was changed, not the ledger.
fn check_summary(dir: &Path, chain: &ChainSummary, anchored: bool) -> Result<String, Failure> {
    let path = dir.join("summary.json");
    let bytes = std::fs::read(&path).map_err(|e| fail(&path, 0, None, format!("cannot read: {e}")))?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| fail(&path, 0, None, format!("not JSON: {e}")))?;
    let field = |k: &str| v.pointer(&format!("/ledger/{k}")).ok_or_else(|| fail(&path, 0, None, format!("has no ledger.{k}")));
    let head = field("head_hash")?.as_str().unwrap_or("");
    if head != hex(&chain.head) && anchored {
        return Err(fail(&path, 0, None, format!("ledger.head_hash {} is not the anchored head the ledger ends in: summary.json was changed", head.chars().take(12).collect::<String>())));
    }
    if head != hex(&chain.head) {
        return Err(fail(
            &dir.join("ledger.jsonl"),
            chain.blocks as usize + 1,
            Some(chain.blocks),
            format!("the last block's hash {} is not the head hash {} in summary.json: blocks were removed from the end, or the file belongs to another run", short(&chain.head), head.chars().take(12).collect::<String>()),
        ));
    }
    let genesis = field("genesis_hash")?.as_str().unwrap_or("");
    let counts = (field("blocks")?.as_u64(), field("transactions")?.as_u64());
    if genesis != hex(&chain.genesis) || counts != (Some(chain.blocks), Some(chain.transactions)) {
        return Err(fail(&path, 0, None, format!("ledger.genesis_hash, blocks or transactions differ from the ledger's {}, {}, {}", hex(&chain.genesis), chain.blocks, chain.transactions)));
    }
    // Each community's treasury, as the chain's replayed balances give it.
    let ids = &chain.members.info.communities;
    if !ids.is_empty() {
        let listed = v.get("communities").and_then(|c| c.as_array()).ok_or_else(|| fail(&path, 0, None, "has no `communities`, but the ledger has communities"))?;
        for (k, id) in ids.iter().enumerate() {
            let row = listed.iter().find(|c| c.get("id").and_then(|x| x.as_str()) == Some(id.as_str()));
            let treasury = row.and_then(|c| c.get("treasury")).and_then(|x| x.as_f64()).map(encoding::to_micro);
            if treasury != Some(chain.state.communities[k]) {
                return Err(fail(&path, 0, None, format!("community {id}'s treasury is {} in the ledger, not {}", encoding::from_micro(chain.state.communities[k]), treasury.map_or("absent".into(), |t| encoding::from_micro(t).to_string()))));
            }
            // Every period the run says its witnesses sealed is sealed on the chain.
            let seals = row.and_then(|c| c.get("seals")).and_then(|x| x.as_u64());
            if seals != Some(chain.sealed_periods[k]) {
                return Err(fail(&path, 0, None, format!("community {id}: {} of its periods are sealed by its witnesses in the ledger, not {}", chain.sealed_periods[k], seals.map_or("absent".into(), |s| s.to_string()))));
            }
        }
        let sealed: u64 = chain.sealed_periods.iter().sum();
        return Ok(format!("head, genesis, counts and {} community treasuries match summary.json; communities' records sealed {sealed} times by their own witnesses", ids.len()));
    }
    Ok("head, genesis and counts match summary.json".into())
}

fn check_households(dir: &Path, chain: &ChainSummary) -> Result<String, Failure> {
    let path = dir.join("households.csv");
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
    Ok(format!("per-household totals match households.csv ({} households)", rows.len()))
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
    /// Absent in files written before communities existed.
    #[serde(default)]
    pub community_received: Option<String>,
    #[serde(default)]
    pub community_contributed: Option<String>,
    /// Absent in files written before community batteries existed.
    #[serde(default)]
    pub community_battery_bought_kwh: Option<f64>,
    #[serde(default)]
    pub community_battery_sold_kwh: Option<f64>,
    #[serde(default)]
    pub community_battery_paid: Option<String>,
    #[serde(default)]
    pub community_battery_received: Option<String>,
    /// Absent in files written before fixed tariff charges existed.
    #[serde(default)]
    pub supply_charge: Option<String>,
    #[serde(default)]
    pub demand_charge: Option<String>,
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
        ("community_received", row.community_received.as_deref().map_or(Some(0), money), t.community_received),
        ("community_contributed", row.community_contributed.as_deref().map_or(Some(0), money), t.community_contributed),
        ("community_battery_paid", row.community_battery_paid.as_deref().map_or(Some(0), money), t.battery_paid),
        ("community_battery_received", row.community_battery_received.as_deref().map_or(Some(0), money), t.battery_received),
        ("supply_charge", row.supply_charge.as_deref().map_or(Some(0), money), t.supply_charges),
        ("demand_charge", row.demand_charge.as_deref().map_or(Some(0), money), t.demand_charges),
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
        ("community_battery_bought_kwh", row.community_battery_bought_kwh.unwrap_or(0.0), t.battery_bought_kwh_micro),
        ("community_battery_sold_kwh", row.community_battery_sold_kwh.unwrap_or(0.0), t.battery_sold_kwh_micro),
    ];
    for (name, csv, ledger) in energy {
        if (csv - encoding::from_micro(ledger)).abs() > tolerance {
            return Some(format!("{name} is {csv} in households.csv but {} in the ledger", encoding::from_micro(ledger)));
        }
    }
    None
}

