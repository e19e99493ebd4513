//! The chain writer: hashes, signs and writes sealed blocks. With [`Sealer::Inline`] the step
//! does it as it seals each block. With [`Sealer::Pool`] it happens beside the simulation, so the
//! step does not wait for SHA-256 or disk: the step queues each sealed block, and a drain job on
//! the step's own rayon pool seals the queue in the time the step's parallel regions leave free
//! (see [`Shared::drain`]). Blocks are taken from the queue only under the writer's lock, so they
//! are sealed strictly in the order they were queued and the chain is identical whatever the
//! scheduling or the number of threads.

use super::encoding::{self, Hash, Header, State, Tx};
use super::json::{self, GenesisInfo};
use super::merkle;
use super::keys::KeySource;
use crate::base::exec::{Pace, Sealer};
use crate::base::time::TimeFrame;
use ed25519_dalek::{Signer, SigningKey};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::ThreadId;

/// Sealed blocks waiting for the writer; beyond this many the step seals the oldest itself, so
/// memory stays flat on long runs.
pub const QUEUE_BLOCKS: usize = 64;

/// Recently hashed blocks kept for live views (the demo's block feed).
pub const RECENT_BLOCKS: usize = 16;

/// A hashed block, as a live view shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub height: u64,
    pub hash: Hash,
    pub step: u64,
    pub producer: u32,
    pub transactions: u32,
}

/// The last [`RECENT_BLOCKS`] blocks, newest last, shared between the writer and readers.
pub type RecentBlocks = Arc<std::sync::Mutex<std::collections::VecDeque<BlockInfo>>>;

/// Leaves hashed between looks at the step's parallel regions (about 10 µs of hashing).
const PACE_LEAVES: usize = 64;

/// Blocks with more transactions than this hash their leaves in parallel, on pools of more than
/// [`SERIAL_POOL_THREADS`] threads.
const PARALLEL_LEAVES: usize = 2048;

/// On a pool this small, a block's leaves are hashed by the drain job alone: split up, their
/// pieces would also be taken by the step's thread whenever it waits in one of its joins.
const SERIAL_POOL_THREADS: usize = 2;

/// Reusable buffers for [`seal_block`].
pub struct Scratch<'a> {
    pub leaves: &'a mut Vec<Hash>,
    pub tree: &'a mut Vec<Hash>,
    pub enc: &'a mut Vec<u8>,
}

/// Seals a block from in-memory transactions: canonical encoding and leaf hashes (`ids`: the
/// household ids the encoding binds), Merkle root, state replay and state root, header hash and
/// the producer's signature. `header` brings everything else (height, links, roots of history
/// and election, step, time, producer, missed slots); `state` is the state before the block and
/// is advanced past it. The hashing steps aside for the simulation's parallel regions (`pace`).
/// Signs a block's communities' seals: given its header (roots set, seals not yet), the state
/// after it and each community's records since its last seal (reset for those it seals).
pub type SignSeals<'a> = &'a mut dyn FnMut(&Header, &State, &mut [u64]) -> Vec<encoding::Seal>;

#[allow(clippy::too_many_arguments)]
pub fn seal_block(
    txs: &[Tx],
    mut header: Header,
    ids: &[String],
    key: &SigningKey,
    state: &mut State,
    s: &mut Scratch,
    pace: &Pace,
    mut seals: Option<(&mut [u64], SignSeals)>,
) -> (Header, Hash, [u8; 64]) {
    s.leaves.clear();
    s.leaves.resize(txs.len(), [0; 32]);
    let hash_piece = |enc: &mut Vec<u8>, (txs, leaves): (&[Tx], &mut [Hash])| {
        pace.step_aside();
        for (tx, leaf) in txs.iter().zip(leaves) {
            *leaf = encoding::tx_leaf_hash(enc, tx, ids);
        }
    };
    if txs.len() <= PARALLEL_LEAVES || rayon::current_num_threads() <= SERIAL_POOL_THREADS {
        txs.chunks(PACE_LEAVES).zip(s.leaves.chunks_mut(PACE_LEAVES)).for_each(|piece| hash_piece(s.enc, piece));
    } else {
        // Large blocks: hash leaves in parallel (the order, so the root, is unchanged).
        txs.par_chunks(PACE_LEAVES).zip(s.leaves.par_chunks_mut(PACE_LEAVES)).for_each_init(|| Vec::with_capacity(256), hash_piece);
    }
    match seals.as_mut().map(|x| &mut *x.0) {
        // Runs with communities: each transaction counts among its communities' records.
        Some(records) if !records.is_empty() => {
            for tx in txs {
                state.count_records(tx, records);
                state.apply(tx);
            }
        }
        _ => {
            for tx in txs {
                state.apply(tx);
            }
        }
    }
    header.merkle_root = merkle::root_with(s.leaves, s.tree, || pace.step_aside());
    header.state_root = state.root();
    header.tx_count = txs.len() as u32;
    if let Some((records, sign)) = seals {
        header.seals = sign(&header, state, records);
    }
    let hash = header.hash();
    let signature = key.sign(&hash).to_bytes();
    (header, hash, signature)
}

/// A block to hash, sign and write.
pub struct SealedBlock {
    pub step: u64,
    pub producer: u32,
    pub missed: Vec<u32>,
    /// The root of the election that gave the producer its slot.
    pub election_root: Hash,
    pub txs: Vec<Tx>,
    /// Communities whose period ended: their witnesses seal their records in this block.
    pub seal_requests: Vec<SealRequest>,
}

/// A community's period ended: its witnesses (household indices, members at its end) seal its
/// records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealRequest {
    pub community: u16,
    pub period: u64,
    pub witnesses: Vec<u32>,
}

/// What the writer knows when the run ends.
#[derive(Debug, Clone)]
pub struct ChainResult {
    pub height: u64,
    pub head: Hash,
    pub genesis: Hash,
    pub transactions: u64,
    pub missed_slots: u64,
    /// Balances after the last block (replayed from its transactions).
    pub state: State,
    pub error: Option<String>,
}

/// What the chain records of the run, and who signs.
pub struct ChainSetup {
    pub seed: u64,
    pub frame: TimeFrame,
    pub ids: Arc<Vec<String>>,
    /// The run's names as transactions show them: the household ids, then the community
    /// treasuries' (`community:ID`, for the ids in `info.communities`).
    pub names: Arc<Vec<String>>,
    pub info: GenesisInfo,
    /// Each member's fixed stake, in the genesis block.
    pub stakes: Vec<u64>,
    pub keys: KeySource,
}

struct Writer {
    recent: RecentBlocks,
    seed: u64,
    frame: TimeFrame,
    ids: Arc<Vec<String>>,
    names: Arc<Vec<String>>,
    state: State,
    /// Each community's records since its last seal.
    records: Vec<u64>,
    result: ChainResult,
    source: KeySource,
    keys: HashMap<u32, SigningKey>,
    /// Every block hash so far, as the leaves of a growing tree: the next header's history root.
    history: merkle::Frontier,
    stakes: Vec<u64>,
    out: Option<BufWriter<File>>,
    line: String,
    enc: Vec<u8>,
    leaves: Vec<Hash>,
    scratch: Vec<Hash>,
    pace: Pace,
    /// The genesis block, until it is built (by whoever first holds the writer).
    genesis: Option<GenesisInfo>,
}

/// Blocks waiting to be sealed, oldest first.
struct Queue {
    blocks: VecDeque<SealedBlock>,
    /// A drain job is queued or under way.
    draining: bool,
    /// The thread that queues blocks (the step's).
    step_thread: Option<ThreadId>,
}

/// What the step and the drain jobs share. The writer's lock orders the sealing: a block is
/// taken from the queue only under it, so blocks are sealed in the order they were queued.
struct Shared {
    queue: Mutex<Queue>,
    writer: Mutex<Writer>,
    finished: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Seals queued blocks until the queue is empty. Runs as a job on the step's rayon pool, so
    /// the pool's idle thread hashes between the step's parallel regions and takes their work
    /// as soon as one opens (the hashing looks for it every few microseconds).
    fn drain(self: Arc<Self>) {
        let here = Some(std::thread::current().id());
        if lock(&self.queue).step_thread == here && !self.finished.load(Ordering::Acquire) {
            // Picked up by the step's own thread while it waits in a join: hand the job on, so
            // the step does not seal a backlog before it goes on.
            crate::base::exec::beside(move || self.drain());
            return;
        }
        while self.seal_next(true) {}
    }

    /// Seals the oldest queued block on the calling thread; false if there was none. For the
    /// drain job (`drainer`), also false once the chain is finished, and when it returns false
    /// the queue is marked as no longer drained, under the same lock that found it empty (so a
    /// block queued just after starts a new job).
    fn seal_next(&self, drainer: bool) -> bool {
        let mut w = lock(&self.writer);
        w.genesis();
        let next = {
            let mut q = lock(&self.queue);
            let next = if drainer && self.finished.load(Ordering::Acquire) { None } else { q.blocks.pop_front() };
            if drainer && next.is_none() {
                q.draining = false;
            }
            next
        };
        match next {
            Some(b) => {
                w.append_or_record_panic(b);
                true
            }
            None => false,
        }
    }
}

/// Handle to the chain: queues sealed blocks for the drain jobs.
pub struct Chain {
    shared: Arc<Shared>,
    recent: RecentBlocks,
    sealer: Sealer,
}

impl Chain {
    /// Starts the chain; streams every block to `out` (`ledger.jsonl`, created by the output
    /// layer) when given. The genesis block (deriving every member's
    /// key, the slow part) is built by the first drain job, on the step's pool, beside the
    /// simulation. Hashing looks at the simulation's `pace` between small pieces of work and
    /// runs the step's pending parallel work when a region is open.
    pub fn start(setup: ChainSetup, out: Option<File>, pace: Pace, sealer: Sealer) -> Chain {
        let ChainSetup { seed, frame, ids, names, info, stakes, keys } = setup;
        let communities = info.communities.len();
        let out = out.map(|f| BufWriter::with_capacity(1 << 20, f));
        let recent = RecentBlocks::default();
        let n = ids.len();
        let writer = Writer {
            recent: recent.clone(),
            seed,
            frame,
            ids,
            names,
            result: ChainResult { height: 0, head: [0; 32], genesis: [0; 32], transactions: 0, missed_slots: 0, state: State::default(), error: None },
            state: State::with_communities(n, communities),
            records: vec![0; communities],
            source: keys,
            keys: HashMap::new(),
            history: merkle::Frontier::default(),
            stakes,
            out,
            line: String::with_capacity(1 << 16),
            enc: Vec::with_capacity(256),
            leaves: Vec::new(),
            scratch: Vec::new(),
            pace,
            genesis: Some(info),
        };
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue { blocks: VecDeque::new(), draining: false, step_thread: None }),
            writer: Mutex::new(writer),
            finished: AtomicBool::new(false),
        });
        Chain { shared, recent, sealer }
    }

    /// The last blocks hashed so far, newest last (sealing may lag the simulation by up to
    /// [`QUEUE_BLOCKS`] blocks).
    pub fn recent(&self) -> Vec<BlockInfo> {
        self.recent.lock().map(|r| r.iter().copied().collect()).unwrap_or_default()
    }

    /// Queues a sealed block. [`Sealer::Inline`] seals it at once on the caller's thread; with
    /// [`Sealer::Pool`], when more than [`QUEUE_BLOCKS`] wait, the caller seals the oldest
    /// itself, so memory stays flat on long runs.
    pub fn push(&mut self, block: SealedBlock) {
        if self.sealer == Sealer::Inline {
            lock(&self.shared.queue).blocks.push_back(block);
            while self.shared.seal_next(false) {}
            return;
        }
        let (spawn, waiting) = {
            let mut q = lock(&self.shared.queue);
            q.step_thread = Some(std::thread::current().id());
            q.blocks.push_back(block);
            let spawn = !q.draining;
            q.draining = true;
            (spawn, q.blocks.len())
        };
        if spawn {
            let job = self.shared.clone();
            crate::base::exec::beside(move || job.drain());
        }
        if waiting > QUEUE_BLOCKS {
            self.shared.seal_next(false);
        }
    }

    /// Seals every queued block and returns the chain's final facts.
    pub fn finish(&mut self) -> ChainResult {
        while self.shared.seal_next(false) {}
        let mut w = lock(&self.shared.writer);
        w.genesis();
        self.shared.finished.store(true, Ordering::Release);
        w.finish()
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        // Blocks still queued are dropped (a run that failed or was interrupted).
        self.shared.finished.store(true, Ordering::Release);
    }
}

impl Writer {
    fn write_line(&mut self) {
        if let (Some(out), None) = (&mut self.out, &self.result.error) {
            if let Err(e) = out.write_all(self.line.as_bytes()) {
                self.result.error = Some(format!("writing ledger.jsonl: {e}"));
            }
        }
        self.line.clear();
    }

    /// Appends a block; a panic while sealing is recorded as the chain's error (the run then
    /// reports it) instead of ending the pool's thread.
    fn append_or_record_panic(&mut self, b: SealedBlock) {
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.append(b))).is_err() {
            self.result.error.get_or_insert_with(|| "the ledger writer stopped unexpectedly".into());
        }
    }

    /// Builds and writes the genesis block if it is not built yet.
    fn genesis(&mut self) {
        let Some(info) = self.genesis.take() else { return };
        let n = self.ids.len();
        let mut keys: Vec<[u8; 32]> = Vec::with_capacity(n);
        for i in 0..n as u32 {
            if i as usize % PACE_LEAVES == 0 {
                self.pace.step_aside();
            }
            keys.push(self.source.signing_key(self.seed, i).verifying_key().to_bytes());
        }
        let leaves = super::genesis_leaves(&info, &self.ids, &keys, &self.stakes);
        let (header, genesis) = super::genesis_header(merkle::root(&leaves, &mut self.scratch), n, info.communities.len(), self.frame.start_utc.timestamp());
        (self.result.head, self.result.genesis) = (genesis, genesis);
        self.history.push(encoding::leaf_hash(&genesis));
        if self.out.is_some() {
            let (l, off) = self.frame.zone.local(self.frame.start_utc);
            json::write_genesis(&mut self.line, &header, &genesis, &crate::base::time::iso_with_offset(l, off), &info, &self.ids, &keys, &self.stakes);
            self.write_line();
        }
    }

    /// Flushes `ledger.jsonl` and returns the chain's facts.
    fn finish(&mut self) -> ChainResult {
        if let (Some(out), None) = (&mut self.out, &self.result.error) {
            if let Err(e) = out.flush() {
                self.result.error = Some(format!("writing ledger.jsonl: {e}"));
            }
        }
        self.out = None;
        let mut r = self.result.clone();
        r.state = self.state.clone();
        r
    }

    fn append(&mut self, b: SealedBlock) {
        let (seed, source) = (self.seed, &self.source);
        let key = self.keys.entry(b.producer).or_insert_with(|| source.signing_key(seed, b.producer));
        let time_unix_s = self.frame.step_start_utc(b.step).timestamp();
        let height = self.result.height + 1;
        let template = Header {
            height,
            prev_hash: self.result.head,
            history_root: self.history.root(),
            merkle_root: [0; 32],
            state_root: [0; 32],
            election_root: b.election_root,
            step: b.step,
            time_unix_s,
            producer: b.producer,
            tx_count: 0,
            missed: b.missed,
            seals: Vec::new(),
        };
        let n = self.ids.len() as u32;
        let requests = b.seal_requests;
        let mut sign = |h: &Header, state: &State, records: &mut [u64]| {
            let mut seals = Vec::new();
            for r in &requests {
                let k = r.community as usize;
                let (Some(count), Some(&treasury)) = (records.get(k).copied(), state.communities.get(k)) else { continue };
                let community = n + u32::from(r.community);
                let message = encoding::Seal::message(h, community, r.period, count, treasury);
                for &w in &r.witnesses {
                    let signature = source.signing_key(seed, w).sign(&message).to_bytes();
                    seals.push(encoding::Seal { community, period: r.period, witness: w, records: count, treasury, signature });
                }
                if !r.witnesses.is_empty() {
                    records[k] = 0;
                }
            }
            seals
        };
        let seals: Option<(&mut [u64], SignSeals)> = Some((&mut self.records, &mut sign));
        let (header, hash, signature) = seal_block(&b.txs, template, &self.names, key, &mut self.state, &mut Scratch { leaves: &mut self.leaves, tree: &mut self.scratch, enc: &mut self.enc }, &self.pace, seals);
        self.history.push(encoding::leaf_hash(&hash));
        if self.keys.len() > 64 {
            self.keys.clear(); // only recent producers are worth keeping
        }
        if self.out.is_some() {
            let (l, o) = self.frame.zone.local(self.frame.step_start_utc(b.step));
            let time = crate::base::time::iso_with_offset(l, o);
            self.line.clear();
            json::write_block(&mut self.line, &header, &hash, &self.ids[b.producer as usize], &time, &signature, &b.txs, &self.names);
            self.write_line();
        }
        let r = &mut self.result;
        r.head = hash;
        r.height += 1;
        r.transactions += b.txs.len() as u64;
        r.missed_slots += header.missed.len() as u64;
        if let Ok(mut recent) = self.recent.lock() {
            if recent.len() == RECENT_BLOCKS {
                recent.pop_front();
            }
            recent.push_back(BlockInfo { height, hash, step: b.step, producer: b.producer, transactions: b.txs.len() as u32 });
        }
    }
}
