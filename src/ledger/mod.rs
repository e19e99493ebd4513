//! The hash-chained trade ledger. Every step's payments become transactions (peer trades one by
//! one; grid imports and exports netted per household per block); blocks are sealed by elected
//! witnesses (delegated proof of stake), hash-chained with SHA-256, signed with Ed25519 and
//! streamed to `ledger.jsonl`. Anyone can check the file alone with `peergrid verify`.
//!
//! Encoding and hashes: [`encoding`] and `docs/ledger.md`. Runs in `LedgerSystems`,
//! after money settlement.

pub mod audit;
pub mod chain;
pub mod encoding;
pub mod json;
pub mod keys;
pub mod merkle;
pub mod proof;
pub mod validators;
pub mod verify;

use crate::base::money::Micros;
use crate::settlement::{BlockRewards, PaymentKind, StepPayments, TreasuryConfig, PPM};
use crate::base::time::{SimClock, TimeFrame};
use bevy::prelude::*;
use encoding::{from_micro, leaf_hash, price_bits, to_micro, AccountRef, Hash, Header, State, Tx, TxKind};
use json::GenesisInfo;
use std::sync::Arc;
use validators::{is_offline, stake_table, Fault, Schedule};
use serde::{Deserialize, Serialize};

/// The ledger's settings, resolved from the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerConfig {
    pub block_every_steps: u32,
    /// Grid exchange is netted over this many steps (0: over each block).
    pub grid_settlement_every_steps: u32,
    pub max_transactions_per_block: u32,
    pub witnesses: u32,
    pub stake: StakeKind,
    pub votes_per_household: u32,
    pub faults: Vec<Fault>,
    pub treasury: Option<TreasuryConfig>,
    pub write_jsonl: bool,
}

/// What the ledger needs to know of the run it records.
#[derive(Debug, Clone)]
pub struct LedgerSetup {
    /// The scenario's name, in the genesis block.
    pub scenario: String,
    pub seed: u64,
    pub frame: TimeFrame,
    /// Household ids, in household order.
    pub ids: Arc<Vec<String>>,
    /// Each household's PV peak power, kWp (0 without PV): the stake of `StakeKind::Kwp`.
    pub kwp: Vec<f64>,
    /// Who signs: seed-derived keys, or a keystore's.
    pub keys: keys::KeySource,
    /// The ids of the run's communities (`communities`), in order; empty without.
    pub communities: Vec<String>,
}

/// The ledger's facts for `summary.json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LedgerSummary {
    /// Blocks after the genesis block.
    pub blocks: u64,
    pub transactions: u64,
    pub missed_slots: u64,
    pub head_hash: String,
    pub genesis_hash: String,
    pub witnesses: Vec<String>,
    pub fund_balance: f64,
    pub fee_rate: f64,
    pub jsonl_written: bool,
}

#[derive(Debug, Clone, Copy, Default)]
struct GridAccount {
    net_micro: i64,
    import_kwh: f64,
    export_kwh: f64,
}

/// The ledger's side inside the simulation: collects transactions, decides when blocks are
/// sealed and by whom (elections, faults, rewards), and hands sealed blocks to the chain writer
/// ([`chain::Chain`]), which hashes, signs and writes them beside the step, on its pool.
#[derive(Resource)]
pub struct Ledger {
    cfg: LedgerConfig,
    ids: Arc<Vec<String>>,
    /// Each member's fixed stake, as in the genesis block.
    fixed_stakes: Vec<u64>,
    chain: chain::Chain,
    schedule: Schedule,
    /// Balances as of the sealed blocks (kept with `Balance` stake only: its elections use them).
    sealed: Option<State>,
    /// Slots missed while no witness was live and the transactions stayed pending: the next
    /// block's header lists them first.
    missed_carry: Vec<u32>,
    pending: Vec<Tx>,
    grid: Vec<GridAccount>,
    grid_touched: Vec<u32>,
    /// A grid settlement period has ended since the last one was settled.
    grid_due: bool,
    /// The fund's balance as of the sealed blocks (what the chain's state shows).
    fund_sealed: i64,
    /// The run has communities: fees go to their treasuries, not the fund.
    chain_has_communities: bool,
    /// Communities whose period ended since the last block: sealed in the next one.
    seal_requests: Vec<chain::SealRequest>,
    result: Option<chain::ChainResult>,
    pace: crate::base::exec::Pace,
}

impl Ledger {
    /// Starts a chain, sealed by `sealer`; streams it to `jsonl` (`ledger.jsonl`, opened by the
    /// output layer when the config writes it) when given.
    pub fn new(cfg: LedgerConfig, setup: &LedgerSetup, jsonl: Option<std::fs::File>, sealer: crate::base::exec::Sealer) -> Ledger {
        let ids = setup.ids.clone();
        let n = ids.len();
        let info = GenesisInfo {
            scenario: setup.scenario.clone(),
            seed: setup.seed,
            witnesses: cfg.witnesses,
            votes_per_household: cfg.votes_per_household,
            max_transactions_per_block: cfg.max_transactions_per_block,
            step_seconds: setup.frame.step_minutes * 60,
            steps: setup.frame.total_steps,
            stake: format!("{:?}", cfg.stake),
            communities: setup.communities.clone(),
        };
        let names: Arc<Vec<String>> = Arc::new(ids.iter().cloned().chain(setup.communities.iter().map(|c| encoding::community_account_name(c))).collect());
        let fixed_stakes: Vec<u64> = match cfg.stake {
            StakeKind::Equal => vec![1; n],
            StakeKind::Kwp => setup.kwp.iter().map(|&kwp| to_micro(kwp).max(0) as u64).collect(),
            StakeKind::Balance => vec![0; n],
        };
        let pace = crate::base::exec::Pace::default();
        let chain = chain::Chain::start(chain::ChainSetup { seed: setup.seed, frame: setup.frame, ids: ids.clone(), names, info, stakes: fixed_stakes.clone(), keys: setup.keys.clone() }, jsonl, pace.clone(), sealer);
        Ledger {
            schedule: Schedule::new(cfg.witnesses, cfg.votes_per_household, setup.seed),
            sealed: (cfg.stake == StakeKind::Balance).then(|| State::with_communities(n, setup.communities.len())),
            missed_carry: Vec::new(),
            fixed_stakes,
            cfg,
            ids,
            chain,
            pending: Vec::new(),
            grid: vec![GridAccount::default(); n],
            grid_touched: Vec::new(),
            grid_due: false,
            fund_sealed: 0,
            chain_has_communities: !setup.communities.is_empty(),
            seal_requests: Vec::new(),
            result: None,
            pace,
        }
    }

    /// The community fund's treasury this ledger's blocks pay rewards from, if any.
    /// Community `community`'s `period` ended: `witnesses` (its elected witnesses, members at its
    /// end) seal its records in the next block (sealed at this step). Returns false when an
    /// earlier period of it is still waiting for a block (every ledger witness offline): the
    /// one seal then covers both, signed by the later period's witnesses.
    pub fn request_seal(&mut self, community: u16, period: u64, witnesses: Vec<u32>) -> bool {
        let request = chain::SealRequest { community, period, witnesses };
        match self.seal_requests.iter_mut().find(|r| r.community == community) {
            Some(waiting) => {
                *waiting = request;
                false
            }
            None => {
                self.seal_requests.push(request);
                true
            }
        }
    }

    pub fn treasury(&self) -> Option<TreasuryConfig> {
        self.cfg.treasury
    }

    /// The count of the step's parallel regions that this ledger's hashing steps aside for: the
    /// simulation that keeps the ledger opens its regions on it (`crate::base::exec`).
    pub fn pace(&self) -> crate::base::exec::Pace {
        self.pace.clone()
    }

    /// The last blocks hashed so far, newest last (for live views).
    pub fn recent_blocks(&self) -> Vec<chain::BlockInfo> {
        self.chain.recent()
    }

    /// Household ids, by index.
    pub fn member_id(&self, index: u32) -> &str {
        self.ids.get(index as usize).map_or("?", |s| s.as_str())
    }

    /// Waits for the writer to finish; returns the first error seen. Idempotent.
    pub fn finish(&mut self) -> Result<&chain::ChainResult, String> {
        if self.result.is_none() {
            self.result = Some(self.chain.finish());
        }
        let r = self.result.as_ref().expect("just set");
        match &r.error {
            Some(e) => Err(e.clone()),
            None => Ok(r),
        }
    }

    /// The chain's facts for `summary.json` (call after [`Ledger::finish`]).
    pub fn summary(&mut self, fee_rate_ppm: i64) -> Result<LedgerSummary, String> {
        let write_jsonl = self.cfg.write_jsonl;
        let witnesses = self.schedule.witnesses().iter().map(|w| self.ids[*w as usize].clone()).collect();
        let r = self.finish()?;
        Ok(LedgerSummary {
            blocks: r.height,
            transactions: r.transactions,
            missed_slots: r.missed_slots,
            head_hash: encoding::hex(&r.head),
            genesis_hash: encoding::hex(&r.genesis),
            witnesses,
            fund_balance: Micros(r.state.fund).as_units(),
            fee_rate: fee_rate_ppm as f64 / PPM as f64,
            jsonl_written: write_jsonl,
        })
    }

    /// Takes the schedule's next slot; an election held for it uses the stakes as of the sealed
    /// blocks.
    fn take_slot(&mut self) -> (u32, bool) {
        let Ledger { schedule, fixed_stakes, sealed, cfg, .. } = self;
        schedule.take_slot(|| stake_table(cfg.stake, fixed_stakes, sealed.as_ref().map_or(&[][..], |s| &s.households)))
    }

    /// The next live witness for a block at `step`, recording missed slots; `None` if all are
    /// offline. A new round's election uses the stakes as of the sealed blocks, and tells the
    /// treasury the fund's sealed balance (its next fee rate follows from it).
    fn next_producer(&mut self, step: u64, rewards: &mut BlockRewards, missed: &mut Vec<u32>) -> Option<u32> {
        for _ in 0..self.schedule.round_slots() {
            let (w, elected) = self.take_slot();
            if elected && self.cfg.treasury.is_some() {
                rewards.round_started_with_fund = Some(Micros(self.fund_sealed));
            }
            if is_offline(&self.cfg.faults, w, step) {
                missed.push(w);
            } else {
                return Some(w);
            }
        }
        None
    }

    /// Turns the grid accounts since the last block into one netted transaction per household.
    fn net_grid(&mut self, step: u64) {
        self.grid_touched.sort_unstable();
        for &h in &self.grid_touched {
            let g = std::mem::take(&mut self.grid[h as usize]);
            let (import, export) = (to_micro(g.import_kwh), to_micro(g.export_kwh));
            if g.net_micro == 0 && import == 0 && export == 0 {
                continue;
            }
            let (seller, buyer) = if g.net_micro >= 0 { (AccountRef::Grid, AccountRef::Household(h)) } else { (AccountRef::Household(h), AccountRef::Grid) };
            let kwh = (import - export).abs();
            let amount = g.net_micro.abs();
            // The netted amount over the netted energy (a mean of the tariffs behind it).
            let price = if kwh > 0 { from_micro(amount) / from_micro(kwh) } else { 0.0 };
            self.pending.push(Tx {
                kind: TxKind::Grid,
                step,
                seq: h as u64,
                seller,
                buyer,
                kwh_micro: kwh,
                price_bits: price_bits(price),
                amount_micro: amount,
                fee_micro: 0,
                import_kwh_micro: import,
                export_kwh_micro: export,
                loss_kwh_micro: 0,
            });
        }
        self.grid_touched.clear();
    }

    /// Seals everything pending into one or more blocks; each block's reward (producer, amount)
    /// goes to `rewards` for the treasury to pay.
    fn seal(&mut self, step: u64, last: bool, rewards: &mut BlockRewards) {
        if std::mem::take(&mut self.grid_due) {
            self.net_grid(step);
        }
        // A block with communities' seals and no transactions is sealed too (a period can end in
        // a step without any, e.g. on an island at night).
        if self.pending.is_empty() && self.seal_requests.is_empty() {
            return;
        }
        let reward = self.cfg.treasury.map(|t| t.producer_reward).unwrap_or(Micros::ZERO);
        let cap = (self.cfg.max_transactions_per_block as usize).saturating_sub(usize::from(reward.0 > 0)).max(1);
        // The next step's transactions go to a vector of this one's size: no regrowing.
        let capacity = self.pending.len();
        let mut txs = std::mem::replace(&mut self.pending, Vec::with_capacity(capacity));
        let mut start = 0;
        let mut first = true;
        while first || start < txs.len() {
            first = false;
            let mut missed = std::mem::take(&mut self.missed_carry);
            let producer = match self.next_producer(step, rewards, &mut missed) {
                Some(p) => p,
                // Final flush with every witness offline: the first household, the run's
                // backup sealer, seals (in a slot of its own, so the schedule stays the same for
                // every block; `verify` allows it at the last step only).
                None if last => {
                    self.take_slot();
                    BACKUP_SEALER
                }
                None => {
                    // No live witness: keep the rest pending; no trade is lost, and the next
                    // block lists the missed slots.
                    self.missed_carry = missed;
                    self.pending = txs.split_off(start);
                    return;
                }
            };
            let end = (start + cap).min(txs.len());
            // A block that takes everything pending takes the vector itself, not a copy.
            let last_batch = end == txs.len();
            let mut block: Vec<Tx> = if start == 0 && end == txs.len() { std::mem::take(&mut txs) } else { txs[start..end].to_vec() };
            // With communities, every fee is a community's (`ledger.treasury` is refused then).
            if self.chain_has_communities {
                self.fund_sealed = 0;
            } else {
                self.fund_sealed += block.iter().map(|t| t.fee_micro).sum::<i64>();
            }
            if reward.0 > 0 && self.fund_sealed > 0 {
                let amount = reward.0.min(self.fund_sealed);
                self.fund_sealed -= amount;
                block.push(Tx {
                    kind: TxKind::Reward,
                    step,
                    seq: self.schedule.slots_taken(),
                    seller: AccountRef::Household(producer),
                    buyer: AccountRef::Fund,
                    kwh_micro: 0,
                    price_bits: price_bits(0.0),
                    amount_micro: amount,
                    fee_micro: 0,
                    import_kwh_micro: 0,
                    export_kwh_micro: 0,
                    loss_kwh_micro: 0,
                });
                rewards.due.push((producer, Micros(amount)));
            }
            if let Some(sealed) = &mut self.sealed {
                for tx in &block {
                    sealed.apply(tx);
                }
            }
            // Communities' seals go in the last block of the batch: it ends their period's records.
            let seal_requests = if last_batch { std::mem::take(&mut self.seal_requests) } else { Vec::new() };
            self.chain.push(chain::SealedBlock { step, producer, missed, election_root: self.schedule.election_root(), txs: block, seal_requests });
            start = end;
        }
    }
}

/// The household that seals the last step's blocks when every witness is offline then.
pub const BACKUP_SEALER: u32 = 0;

/// The genesis block's leaves: its facts, then one per member (id, public key, fixed stake).
pub fn genesis_leaves(info: &GenesisInfo, ids: &[String], keys: &[[u8; 32]], stakes: &[u64]) -> Vec<Hash> {
    let mut buf = Vec::new();
    let mut leaves = Vec::with_capacity(ids.len() + 1);
    encoding::encode_genesis_info(&mut buf, info);
    leaves.push(leaf_hash(&buf));
    for (i, ((id, key), stake)) in ids.iter().zip(keys).zip(stakes).enumerate() {
        encoding::encode_member(&mut buf, i as u32, id, key, *stake);
        leaves.push(leaf_hash(&buf));
    }
    leaves
}

/// The genesis header over the root of its leaves ([`genesis_leaves`]), `members` and
/// `communities` zero balances and the run's start time.
pub fn genesis_header(merkle_root: Hash, members: usize, communities: usize, time_unix_s: i64) -> (Header, Hash) {
    let state_root = if communities == 0 { State::zero_root(members) } else { State::with_communities(members, communities).root() };
    let header = Header {
        height: 0,
        prev_hash: [0; 32],
        history_root: merkle::Frontier::default().root(),
        merkle_root,
        state_root,
        election_root: [0; 32],
        step: 0,
        time_unix_s,
        producer: encoding::GENESIS_PRODUCER,
        tx_count: 0,
        missed: Vec::new(),
        seals: Vec::new(),
    };
    let hash = header.hash();
    (header, hash)
}

/// Records the step's payments and seals blocks when due; the treasury pays the blocks' rewards
/// it reports. Reads `StepPayments`, `SimClock`; writes `Ledger`
/// and `BlockRewards`. Runs in `LedgerSystems`, after `settle`.
pub fn record_and_seal(clock: Res<SimClock>, payments: Res<StepPayments>, mut ledger: ResMut<Ledger>, mut rewards: ResMut<BlockRewards>) {
    let step = clock.step;
    let l = &mut *ledger;
    let mut seq = 0u64;
    let mut traded = false;
    for p in &payments.0 {
        let household = |a: crate::settlement::Account| match a {
            crate::settlement::Account::Household(i) => i,
            _ => u32::MAX,
        };
        match p.kind {
            PaymentKind::PeerTrade | PaymentKind::PoolPurchase | PaymentKind::PoolSale | PaymentKind::NetworkFee => {
                let (kind, seller, buyer) = match p.kind {
                    PaymentKind::PeerTrade => (TxKind::P2p, AccountRef::Household(household(p.payee)), AccountRef::Household(household(p.payer))),
                    PaymentKind::PoolPurchase => (TxKind::PoolBuy, AccountRef::Pool, AccountRef::Household(household(p.payer))),
                    PaymentKind::NetworkFee => (TxKind::NetworkFee, AccountRef::Network, AccountRef::Household(household(p.payer))),
                    _ => (TxKind::PoolSell, AccountRef::Household(household(p.payee)), AccountRef::Pool),
                };
                l.pending.push(Tx {
                    kind,
                    step,
                    seq,
                    seller,
                    buyer,
                    kwh_micro: to_micro(p.kwh),
                    price_bits: price_bits(p.price.0),
                    amount_micro: p.amount.0,
                    fee_micro: p.fee.0,
                    import_kwh_micro: 0,
                    export_kwh_micro: 0,
                    loss_kwh_micro: to_micro(p.loss_kwh),
                });
                seq += 1;
                traded = true;
            }
            PaymentKind::CommunityPayout(_)
            | PaymentKind::CommunityContribution
            | PaymentKind::CommunityJoin
            | PaymentKind::CommunityLeave
            | PaymentKind::CommunityVote { .. }
            | PaymentKind::CommunityReferendum { .. } => {
                // A community's treasury is account `Community(n + c)`.
                let community = |a: crate::settlement::Account| match a {
                    crate::settlement::Account::Community(c) => AccountRef::Community(l.ids.len() as u32 + u32::from(c)),
                    _ => AccountRef::Fund,
                };
                let (kind, seller, buyer) = match p.kind {
                    PaymentKind::CommunityPayout(why) => {
                        let kind = match why {
                            crate::settlement::Payout::WitnessPay => TxKind::WitnessPay,
                            crate::settlement::Payout::Rebate => TxKind::Rebate,
                            crate::settlement::Payout::Solidarity => TxKind::Solidarity,
                            crate::settlement::Payout::DefaultShare => TxKind::DefaultShare,
                        };
                        (kind, AccountRef::Household(household(p.payee)), community(p.payer))
                    }
                    PaymentKind::CommunityContribution => (TxKind::Contribution, community(p.payee), AccountRef::Household(household(p.payer))),
                    PaymentKind::CommunityJoin => (TxKind::Join, community(p.payee), AccountRef::Household(household(p.payer))),
                    PaymentKind::CommunityVote { yes } => (if yes { TxKind::VoteYes } else { TxKind::VoteNo }, community(p.payee), AccountRef::Household(household(p.payer))),
                    PaymentKind::CommunityReferendum { passed } => (if passed { TxKind::ReferendumPassed } else { TxKind::ReferendumFailed }, community(p.payee), community(p.payer)),
                    _ => (TxKind::Leave, community(p.payee), AccountRef::Household(household(p.payer))),
                };
                l.pending.push(Tx { kind, step, seq, seller, buyer, kwh_micro: 0, price_bits: price_bits(0.0), amount_micro: p.amount.0, fee_micro: 0, import_kwh_micro: 0, export_kwh_micro: 0, loss_kwh_micro: 0 });
                seq += 1;
                traded = true;
            }
            PaymentKind::CommunityBatterySale | PaymentKind::CommunityBatteryCharge | PaymentKind::CommunityBatteryPurchase | PaymentKind::CommunityBatteryBuyback => {
                let account = |a: crate::settlement::Account| match a {
                    crate::settlement::Account::Community(c) => AccountRef::Community(l.ids.len() as u32 + u32::from(c)),
                    crate::settlement::Account::Household(i) => AccountRef::Household(i),
                    _ => AccountRef::Supplier,
                };
                // The seller is who is paid.
                let kind = match p.kind {
                    PaymentKind::CommunityBatterySale => TxKind::BatterySale,
                    PaymentKind::CommunityBatteryCharge => TxKind::BatteryCharge,
                    PaymentKind::CommunityBatteryPurchase => TxKind::BatteryPurchase,
                    _ => TxKind::BatteryBuyback,
                };
                let (seller, buyer) = (account(p.payee), account(p.payer));
                l.pending.push(Tx { kind, step, seq, seller, buyer, kwh_micro: to_micro(p.kwh), price_bits: price_bits(p.price.0), amount_micro: p.amount.0, fee_micro: 0, import_kwh_micro: 0, export_kwh_micro: 0, loss_kwh_micro: 0 });
                seq += 1;
                traded = true;
            }
            PaymentKind::SupplyCharge | PaymentKind::DemandCharge => {
                let kind = if p.kind == PaymentKind::SupplyCharge { TxKind::SupplyCharge } else { TxKind::DemandCharge };
                let buyer = AccountRef::Household(household(p.payer));
                l.pending.push(Tx { kind, step, seq, seller: AccountRef::Grid, buyer, kwh_micro: to_micro(p.kwh), price_bits: price_bits(p.price.0), amount_micro: p.amount.0, fee_micro: 0, import_kwh_micro: 0, export_kwh_micro: 0, loss_kwh_micro: 0 });
                seq += 1;
                traded = true;
            }
            PaymentKind::GridImport | PaymentKind::GridExport => {
                let h = if p.kind == PaymentKind::GridImport { household(p.payer) } else { household(p.payee) };
                let g = &mut l.grid[h as usize];
                if g.import_kwh == 0.0 && g.export_kwh == 0.0 && g.net_micro == 0 {
                    l.grid_touched.push(h);
                }
                if p.kind == PaymentKind::GridImport {
                    g.net_micro += p.amount.0;
                    g.import_kwh += p.kwh;
                } else {
                    g.net_micro -= p.amount.0;
                    g.export_kwh += p.kwh;
                }
            }
        }
    }
    let last = step + 1 >= clock.frame.total_steps;
    let grid_every = l.cfg.grid_settlement_every_steps as u64;
    l.grid_due |= last || grid_every == 0 || (step + 1) % grid_every == 0;
    let every = l.cfg.block_every_steps as u64;
    // A community's period end seals a block at its step: its witnesses' seals go in it.
    let due = last || !l.seal_requests.is_empty() || if every == 0 { traded } else { (step + 1) % every == 0 };
    if due {
        l.seal(step, last, &mut rewards);
    }
}

/// The ledger's systems: the step's records and the block they seal, after the settlement.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct LedgerSystems;

/// Adds a ledger to a simulation (after settlement). The ledger is started by the caller, who
/// knows where it is written and how it is sealed.
pub struct LedgerPlugin {
    ledger: std::sync::Mutex<Option<Ledger>>,
}

impl LedgerPlugin {
    pub fn new(ledger: Ledger) -> Self {
        LedgerPlugin { ledger: std::sync::Mutex::new(Some(ledger)) }
    }
}

impl Plugin for LedgerPlugin {
    fn build(&self, app: &mut App) {
        if let Some(ledger) = self.ledger.lock().ok().and_then(|mut l| l.take()) {
            app.insert_resource(ledger);
        }
        app.init_resource::<BlockRewards>();
        app.add_systems(crate::base::schedule::SimStep, record_and_seal.in_set(LedgerSystems));
    }
}



/// What a household's vote weighs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum StakeKind {
    #[default]
    Equal,
    /// Installed PV, kWp.
    Kwp,
    /// Positive wallet balance (what it has earned so far).
    Balance,
}

#[cfg(test)]
mod tests;
