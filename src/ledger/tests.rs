//! Known-answer tests that pin the canonical encoding and the sealing of a block.

use super::encoding::*;
use super::merkle;

/// Household ids of the pinned examples.
fn ids() -> Vec<String> {
    ["no1", "h2", "h3", "sun4"].iter().map(|s| s.to_string()).collect()
}

fn sample_tx() -> Tx {
    Tx {
        kind: TxKind::P2p,
        step: 27,
        seq: 0,
        seller: AccountRef::Household(3),
        buyer: AccountRef::Household(1),
        kwh_micro: 5_540,
        price_bits: price_bits(0.12),
        amount_micro: 665,
        fee_micro: 7,
        import_kwh_micro: 0,
        loss_kwh_micro: 0,
        export_kwh_micro: 0,
    }
}

#[test]
fn transaction_encoding_is_pinned() {
    let mut buf = Vec::new();
    let mut id = String::new();
    sample_tx().write_id(&mut id);
    assert_eq!(id, "t27-0");
    encode_tx(&mut buf, &id, &sample_tx(), &ids());
    assert_eq!(
        hex(&buf),
        "01000000000000001b00057432372d300000000003000473756e3400000000010002683200000000000015a43fbeb851eb851eb8\
         0000000000000299000000000000000700000000000000000000000000000000"
    );
    assert_eq!(hex(&leaf_hash(&buf)), KAT_LEAF);
    assert_eq!(hex(&tx_leaf_hash(&mut buf, &sample_tx(), &ids())), KAT_LEAF);
}

/// The sealing path's one-pass leaf hash equals the documented encoding's, for every kind,
/// with and without line losses, and ids of every length.
#[test]
fn one_pass_leaf_hash_matches_the_encoding() {
    let (mut buf, mut one_pass, mut id) = (Vec::new(), Vec::new(), String::new());
    for (k, kind) in TxKind::ALL.into_iter().enumerate() {
        for (step, seq, loss) in [(0, 0, 0), (27, 3, 120), (35_039, 123_456, 0), (u64::MAX, u64::MAX, -1)] {
            let tx = Tx { kind, step, seq, loss_kwh_micro: loss, import_kwh_micro: k as i64, ..sample_tx() };
            id.clear();
            tx.write_id(&mut id);
            encode_tx(&mut buf, &id, &tx, &ids());
            assert_eq!(tx_leaf_hash(&mut one_pass, &tx, &ids()), leaf_hash(&buf), "{id}");
        }
    }
}

// Computed from docs/ledger.md by an independent implementation (Python's hashlib and struct),
// not by this code.
const KAT_LEAF: &str = "28da949c176d174fa49fcd968ace6ed57bd5e5a7c8a1ef7b5fa32deed84d8ec9";
const KAT_ROOT: &str = "db6de342916e26bf892ea78d9394fef287e99150dcb19502c12a140ca6cccbdd";
const KAT_STATE: &str = "80595b9328dbb4b58a6bcb93cfffd2c4424c9b7e8df350df16efad504cead107";
const KAT_ELECTION: &str = "b084023bb5dde232a90bad329d305dee7f6a7bad17688f76910b23cb60934dba";
const KAT_HEADER: &str = "e8883a7dc42e1fde1424d393b7ffde5d10213b9ce01aca03fe68f35a0aeeb014";
const KAT_GENESIS: &str = "41c93ffd59ed8d323f35d7f1c339c3c3f0b2f2c8ae7147f9ef09cd1e313729b0";

/// The root of zero balances is hashed without them, and equals theirs.
#[test]
fn zero_state_root_equals_the_root_of_zero_balances() {
    for n in [0, 1, 255, 256, 257, 10_000] {
        assert_eq!(State::zero_root(n), State::new(n).root(), "{n}");
    }
}

/// The genesis block over its facts and members (public keys here are placeholders `[i + 1; 32]`).
#[test]
fn genesis_hash_is_pinned() {
    let info = super::json::GenesisInfo { scenario: "street".into(), seed: 7, witnesses: 3, votes_per_household: 2, max_transactions_per_block: 12, step_seconds: 900, steps: 96, stake: "Equal".into(), communities: Vec::new() };
    let keys: Vec<[u8; 32]> = (1..=4).map(|i| [i; 32]).collect();
    let leaves = super::genesis_leaves(&info, &ids(), &keys, &[1; 4]);
    let (_, hash) = super::genesis_header(merkle::root(&leaves, &mut Vec::new()), 4, 0, 1_705_240_800);
    assert_eq!(hex(&hash), KAT_GENESIS);
}

#[test]
fn small_ledger_hashes_are_pinned() {
    let mut buf = Vec::new();
    let txs = [sample_tx(), Tx { kind: TxKind::Grid, seq: 1, seller: AccountRef::Grid, buyer: AccountRef::Household(1), amount_micro: 300_000, fee_micro: 0, import_kwh_micro: 1_000_000, ..sample_tx() }];
    let mut leaves = Vec::new();
    let mut state = State::new(4);
    for tx in &txs {
        let mut id = String::new();
        tx.write_id(&mut id);
        encode_tx(&mut buf, &id, tx, &ids());
        leaves.push(leaf_hash(&buf));
        assert!(state.apply(tx));
    }
    assert_eq!(state.total(), 0);
    assert_eq!(state.households, vec![0, -300_665, 0, 658]);
    let root = merkle::root(&leaves, &mut Vec::new());
    assert_eq!(hex(&root), KAT_ROOT);
    assert_eq!(hex(&state.root()), KAT_STATE);
    let header = Header {
        height: 1,
        prev_hash: [7; 32],
        history_root: [5; 32],
        merkle_root: root,
        state_root: state.root(),
        election_root: election_root(0, &stake_root(&[1, 1, 1, 1]), &[2, 0]),
        step: 27,
        time_unix_s: 1_705_240_800,
        producer: 2,
        tx_count: 2,
        missed: vec![0],
        seals: Vec::new(),
    };
    assert_eq!(hex(&header.election_root), KAT_ELECTION);
    assert_eq!(hex(&header.hash()), KAT_HEADER);
}

/// The directly padded SHA-256 of short messages is SHA-256, at every length around its one-
/// and two-block boundaries and past them (where it hands over to the hasher).
#[test]
fn short_message_hash_is_sha256_at_every_length() {
    use sha2::{Digest, Sha256};
    let message: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
    for len in 0..=message.len() {
        let expected: Hash = Sha256::digest(&message[..len]).into();
        assert_eq!(sha256_short(&message[..len]), expected, "length {len}");
    }
}

/// A large block seals to the same header, hash, signature and state whether its leaves are
/// hashed by the drain job alone or in parallel (pools of more than two threads).
#[test]
fn a_large_block_seals_the_same_on_one_thread_and_four() {
    use super::chain::{seal_block, Scratch};
    let txs: Vec<Tx> = (0..5_000u32).map(|i| Tx { seq: u64::from(i), seller: AccountRef::Household(i % 40), amount_micro: 600 + i64::from(i), ..sample_tx() }).collect();
    let key = super::validators::signing_key(7, 3);
    let seal_on = |threads: usize| {
        let pool = crate::base::exec::pool(threads).expect("a pool");
        pool.install(|| {
            let (mut leaves, mut tree, mut enc) = (Vec::new(), Vec::new(), Vec::new());
            let mut state = State::new(40);
            let header = Header { height: 1, prev_hash: [9; 32], history_root: [0; 32], merkle_root: [0; 32], state_root: [0; 32], election_root: [0; 32], step: 40, time_unix_s: 0, producer: 3, tx_count: 0, missed: Vec::new(), seals: Vec::new() };
            let ids: Vec<String> = (0..40).map(|i| format!("h{i}")).collect();
            let sealed = seal_block(&txs, header, &ids, &key, &mut state, &mut Scratch { leaves: &mut leaves, tree: &mut tree, enc: &mut enc }, &crate::base::exec::Pace::default(), None);
            (sealed.1, sealed.2, state.root())
        })
    };
    assert_eq!(seal_on(1), seal_on(4));
}
