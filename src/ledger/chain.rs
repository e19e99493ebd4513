//! The chain writer: hashes, signs and writes sealed blocks on its own thread, so the simulation
//! step never waits for SHA-256 or disk. Blocks are processed strictly in the order they were
//! sealed (one FIFO worker), so the chain is identical whatever the scheduling.

use super::encoding::{self, Hash, Header, State, Tx};
use super::json::{self, GenesisInfo};
use super::merkle;
use super::validators::signing_key;
use crate::pace::Pace;
use crate::time::TimeFrame;
use ed25519_dalek::{Signer, SigningKey};
use rayon::prelude::*;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Sealed blocks waiting for the writer; bounded so memory stays flat on long runs.
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

/// Nice value of the ledger's threads (the lowest priority): see [`yield_to_the_simulation`].
const LEDGER_NICE: i32 = 19;

/// Lowers the calling thread's priority to [`LEDGER_NICE`]. The ledger lags the step by up to
/// [`QUEUE_BLOCKS`] blocks and has CPU to spare over a day, but at normal priority it takes the
/// cores from the step's own threads at the busy hours (a rayon join then waits for a worker
/// that shares its core with the ledger): the district year ran 63 s with the ledger on and
/// 56 s with it off; at low priority about 60 s. The step still never runs ahead by more
/// than the queue, so the ledger cannot starve. Linux only (nice is per thread there); where
/// it is refused (a sandbox), nothing changes but the speed. A low priority does not stop a
/// running ledger thread from keeping a core the step's pool wants for a moment, so the
/// hashing also steps aside for the step's parallel regions ([`crate::pace`]).
fn yield_to_the_simulation() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, LEDGER_NICE);
    }
}

/// Leaves hashed between looks at the step's parallel regions (about 10 µs of hashing).
const PACE_LEAVES: usize = 64;

/// Blocks with more transactions than this hash their leaves in parallel.
const PARALLEL_LEAVES: usize = 2048;

/// Reusable buffers for [`seal_block`].
pub struct Scratch<'a> {
    pub leaves: &'a mut Vec<Hash>,
    pub tree: &'a mut Vec<Hash>,
    pub enc: &'a mut Vec<u8>,
}

/// Seals a block from in-memory transactions: canonical encoding and leaf hashes, Merkle root,
/// state replay and state root, header hash and the producer's signature. `state` is the state
/// before the block and is advanced past it. The hashing steps aside for the simulation's
/// parallel regions (`pace`).
#[allow(clippy::too_many_arguments)]
pub fn seal_block(
    txs: &[Tx],
    height: u64,
    prev_hash: Hash,
    step: u64,
    time_unix_s: i64,
    producer: u32,
    missed: Vec<u32>,
    key: &SigningKey,
    state: &mut State,
    s: &mut Scratch,
    pace: &Pace,
) -> (Header, Hash, [u8; 64]) {
    s.leaves.clear();
    s.leaves.resize(txs.len(), [0; 32]);
    let hash_piece = |enc: &mut Vec<u8>, (txs, leaves): (&[Tx], &mut [Hash])| {
        pace.step_aside();
        for (tx, leaf) in txs.iter().zip(leaves) {
            *leaf = encoding::tx_leaf_hash(enc, tx);
        }
    };
    if txs.len() <= PARALLEL_LEAVES {
        txs.chunks(PACE_LEAVES).zip(s.leaves.chunks_mut(PACE_LEAVES)).for_each(|piece| hash_piece(s.enc, piece));
    } else {
        // Large blocks: hash leaves in parallel (the order, so the root, is unchanged).
        txs.par_chunks(PACE_LEAVES).zip(s.leaves.par_chunks_mut(PACE_LEAVES)).for_each_init(|| Vec::with_capacity(256), hash_piece);
    }
    for tx in txs {
        state.apply(tx);
    }
    let header = Header {
        height,
        prev_hash,
        merkle_root: merkle::root_with(s.leaves, s.tree, || pace.step_aside()),
        state_root: state.root(),
        step,
        time_unix_s,
        producer,
        tx_count: txs.len() as u32,
        missed,
    };
    let hash = header.hash();
    let signature = key.sign(&hash).to_bytes();
    (header, hash, signature)
}

/// A block to hash, sign and write.
pub struct SealedBlock {
    pub step: u64,
    pub producer: u32,
    pub missed: Vec<u32>,
    pub txs: Vec<Tx>,
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

struct Writer {
    recent: RecentBlocks,
    seed: u64,
    frame: TimeFrame,
    ids: Arc<Vec<String>>,
    state: State,
    result: ChainResult,
    keys: HashMap<u32, SigningKey>,
    out: Option<BufWriter<File>>,
    line: String,
    enc: Vec<u8>,
    leaves: Vec<Hash>,
    scratch: Vec<Hash>,
    pace: Pace,
}

/// Handle to the writer thread.
pub struct Chain {
    sender: Option<SyncSender<SealedBlock>>,
    handle: Option<JoinHandle<ChainResult>>,
    recent: RecentBlocks,
}

impl Chain {
    /// Starts the writer, which first builds the genesis block (deriving every member's key, the
    /// slow part, so it overlaps with the simulation) and writes `dir/ledger.jsonl` when `dir` is
    /// given. The file is created here so that a bad folder is reported at once. Its hashing
    /// steps aside while the simulation's `pace` has a parallel region open.
    pub fn start(seed: u64, frame: TimeFrame, ids: Arc<Vec<String>>, info: GenesisInfo, dir: Option<&Path>, threads: usize, pace: Pace) -> std::io::Result<Chain> {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads.max(1))
            .thread_name(|i| format!("peergrid-ledger-{i}"))
            .start_handler(|_| yield_to_the_simulation())
            .build()
            .map_err(std::io::Error::other)?;
        let out = match dir {
            Some(d) => Some(BufWriter::with_capacity(1 << 20, File::create(d.join("ledger.jsonl"))?)),
            None => None,
        };
        let (sender, receiver) = sync_channel(QUEUE_BLOCKS);
        let recent = RecentBlocks::default();
        let recent_w = recent.clone();
        let handle = std::thread::Builder::new().name("peergrid-ledger".into()).spawn(move || {
            yield_to_the_simulation();
            let n = ids.len();
            let keys: Vec<[u8; 32]> = (0..n as u32).map(|i| signing_key(seed, i).verifying_key().to_bytes()).collect();
            let state = State::new(n);
            let (header, genesis) = super::genesis_header(&info, &ids, &keys, &state, frame.start_utc.timestamp());
            let mut writer = Writer {
                recent: recent_w,
                seed,
                frame,
                ids,
                result: ChainResult { height: 0, head: genesis, genesis, transactions: 0, missed_slots: 0, state: State::default(), error: None },
                state,
                keys: HashMap::new(),
                out,
                line: String::with_capacity(1 << 16),
                enc: Vec::with_capacity(256),
                leaves: Vec::new(),
                scratch: Vec::new(),
                pace,
            };
            if writer.out.is_some() {
                let (l, off) = frame.zone.local(frame.start_utc);
                json::write_genesis(&mut writer.line, &header, &genesis, &crate::time::iso_with_offset(l, off), &info, &writer.ids, &keys);
                writer.write_line();
            }
            pool.install(|| writer.run(receiver))
        })?;
        Ok(Chain { sender: Some(sender), handle: Some(handle), recent })
    }

    /// The last blocks hashed so far, newest last (the writer may lag the simulation by up to
    /// [`QUEUE_BLOCKS`] blocks).
    pub fn recent(&self) -> Vec<BlockInfo> {
        self.recent.lock().map(|r| r.iter().copied().collect()).unwrap_or_default()
    }

    /// Queues a sealed block (blocks while the queue is full).
    pub fn push(&mut self, block: SealedBlock) {
        if let Some(s) = &self.sender {
            if s.send(block).is_err() {
                // The writer stopped (it records why); nothing more to do here.
                self.sender = None;
            }
        }
    }

    /// Waits for every queued block to be written and returns the chain's final facts.
    pub fn finish(&mut self) -> ChainResult {
        self.sender = None;
        match self.handle.take().map(|h| h.join()) {
            Some(Ok(r)) => r,
            Some(Err(_)) => ChainResult { height: 0, head: [0; 32], genesis: [0; 32], transactions: 0, missed_slots: 0, state: State::default(), error: Some("the ledger writer stopped unexpectedly".into()) },
            None => ChainResult { height: 0, head: [0; 32], genesis: [0; 32], transactions: 0, missed_slots: 0, state: State::default(), error: Some("the ledger was already finished".into()) },
        }
    }
}

impl Drop for Chain {
    fn drop(&mut self) {
        self.sender = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
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

    fn run(mut self, receiver: Receiver<SealedBlock>) -> ChainResult {
        for block in receiver {
            self.append(block);
        }
        if let (Some(out), None) = (&mut self.out, &self.result.error) {
            if let Err(e) = out.flush() {
                self.result.error = Some(format!("writing ledger.jsonl: {e}"));
            }
        }
        self.result.state = self.state;
        self.result
    }

    fn append(&mut self, b: SealedBlock) {
        let seed = self.seed;
        let key = self.keys.entry(b.producer).or_insert_with(|| signing_key(seed, b.producer));
        let time_unix_s = self.frame.step_start_utc(b.step).timestamp();
        let (height, prev) = (self.result.height + 1, self.result.head);
        let (header, hash, signature) =
            seal_block(&b.txs, height, prev, b.step, time_unix_s, b.producer, b.missed, key, &mut self.state, &mut Scratch { leaves: &mut self.leaves, tree: &mut self.scratch, enc: &mut self.enc }, &self.pace);
        if self.keys.len() > 64 {
            self.keys.clear(); // only recent producers are worth keeping
        }
        if self.out.is_some() {
            let (l, o) = self.frame.zone.local(self.frame.step_start_utc(b.step));
            let time = crate::time::iso_with_offset(l, o);
            self.line.clear();
            json::write_block(&mut self.line, &header, &hash, &self.ids[b.producer as usize], &time, &signature, &b.txs, &self.ids);
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
