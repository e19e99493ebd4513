//! Sealing blocks from in-memory transactions (canonical encoding, leaf hashes, Merkle tree,
//! state root, header hash, Ed25519 signature) against raw `sha2` over the same input.
//!
//! Two raw references: `raw_same_messages` hashes exactly the messages sealing hashes (every
//! leaf, every tree node, the state and the header, each as its own SHA-256), and
//! `raw_one_stream` hashes the same number of bytes as one stream (no per-message padding).
//! Sealing as the chain writer does it also roots the history of earlier blocks and adds the
//! block to it (about 18,000 blocks before it, a district year).
//! `cargo bench --bench ledger`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peergrid::ledger::chain::{seal_block, Scratch};
use peergrid::ledger::encoding::{encode_tx, leaf_hash, price_bits, AccountRef, Header, State, Tx, TxKind};
use peergrid::ledger::merkle::Frontier;
use peergrid::ledger::validators::signing_key;
use peergrid::base::exec::Pace;
use sha2::{Digest, Sha256};
use std::hint::black_box;

const HOUSEHOLDS: u32 = 10_000;

fn txs(n: usize) -> Vec<Tx> {
    (0..n)
        .map(|i| Tx {
            kind: TxKind::P2p,
            step: 40,
            seq: i as u64,
            seller: AccountRef::Household((i as u32 * 7) % HOUSEHOLDS),
            buyer: AccountRef::Household((i as u32 * 13 + 1) % HOUSEHOLDS),
            kwh_micro: 98_056 + i as i64,
            price_bits: price_bits(0.18),
            amount_micro: 17_650,
            fee_micro: 0,
            import_kwh_micro: 0,
            export_kwh_micro: 0,
            loss_kwh_micro: 0,
        })
        .collect()
}

/// The messages sealing hashes, as (count, bytes each) groups, and their total bytes.
/// Household ids as a generated district names them.
fn ids() -> Vec<String> {
    (0..HOUSEHOLDS).map(|i| format!("h{i:05}")).collect()
}

/// Blocks before the sealed one, in the history tree.
const EARLIER_BLOCKS: u64 = 18_000;

fn messages(txs: &[Tx], ids: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut enc = Vec::new();
    let mut id = String::new();
    for tx in txs {
        id.clear();
        tx.write_id(&mut id);
        encode_tx(&mut enc, &id, tx, ids);
        let mut m = vec![0u8];
        m.extend_from_slice(&enc);
        out.push(m);
    }
    out.extend((1..txs.len()).map(|_| vec![1u8; 65])); // tree nodes
    out.push(vec![0u8; 17 + 4 + 8 * HOUSEHOLDS as usize + 32]); // state root
    out.push(vec![0u8; 17 + 8 + 160 + 8 + 8 + 4 + 4 + 4]); // header
    out
}

fn sealing(c: &mut Criterion) {
    let mut g = c.benchmark_group("seal");
    g.sample_size(20);
    let key = signing_key(1, 0);
    let ids = ids();
    let mut history = Frontier::default();
    for i in 0..EARLIER_BLOCKS {
        history.push(leaf_hash(&i.to_be_bytes()));
    }
    for n in [1_000usize, 10_000] {
        let block = txs(n);
        let msgs = messages(&block, &ids);
        let bytes: usize = msgs.iter().map(|m| m.len()).sum();
        g.throughput(Throughput::Bytes(bytes as u64));
        let (mut leaves, mut tree, mut enc) = (Vec::new(), Vec::new(), Vec::new());
        let base = State::new(HOUSEHOLDS as usize);
        g.bench_with_input(BenchmarkId::new("seal_block", n), &n, |b, _| {
            b.iter(|| {
                let mut state = base.clone();
                let mut s = Scratch { leaves: &mut leaves, tree: &mut tree, enc: &mut enc };
                let header = Header { height: 1, prev_hash: [0; 32], history_root: history.root(), merkle_root: [0; 32], state_root: [0; 32], election_root: [0; 32], step: 40, time_unix_s: 0, producer: 0, tx_count: 0, missed: Vec::new(), seals: Vec::new() };
                let sealed = seal_block(&block, header, &ids, &key, &mut state, &mut s, &Pace::default(), None);
                let mut grown = history.clone();
                grown.push(leaf_hash(&sealed.1));
                black_box((sealed, grown.len()))
            })
        });
        g.bench_with_input(BenchmarkId::new("raw_same_messages", n), &n, |b, _| {
            b.iter(|| {
                let mut last = [0u8; 32];
                for m in &msgs {
                    last = Sha256::digest(m).into();
                }
                black_box(last)
            })
        });
        let stream = vec![0x5au8; bytes];
        g.bench_with_input(BenchmarkId::new("raw_one_stream", n), &n, |b, _| b.iter(|| black_box(Sha256::digest(&stream))));
    }
    g.finish();
}

criterion_group!(benches, sealing);
criterion_main!(benches);
