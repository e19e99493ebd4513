//! Delegated proof of stake: households vote with their stake for witnesses, the top K produce
//! blocks in round-robin order and are re-elected at the start of every round (K slots).
//!
//! Voting: each household with stake s > 0 casts s for each of `votes_per_household` candidates,
//! drawn (with replacement) from all households with probability proportional to their own stake
//! (people trust those with a larger stake), from the round's seeded ledger stream. The K
//! candidates with most votes win (ties by household index). With no stake at all, every
//! household counts as stake 1.
//!
//! The election of each round is replayable: stakes are the members' fixed stakes in the genesis
//! block, or (`Balance`) their balances as replayed from the sealed blocks, so `verify` re-runs
//! every election and checks each block's producer and missed slots ([`Schedule`]).
//!
//! Seed-derived keys (the default): household i's Ed25519 secret key is SHA-256(`"peergrid/v1/key"`
//! ‖ seed u64 LE ‖ i u32 LE). Runs are reproducible with them, but anyone who knows the seed
//! (printed in the genesis block) can sign: such a chain proves consistency, not authorship. A
//! keystore ([`super::keys`]) gives keys from the operating system's randomness instead.

use super::encoding::{election_root, stake_root, Hash};
use crate::base::seed::{rng, Stream};
use ed25519_dalek::SigningKey;
use rand::RngExt;
use sha2::{Digest, Sha256};

/// The signing key of household `index`.
pub fn signing_key(seed: u64, index: u32) -> SigningKey {
    let mut h = Sha256::new();
    h.update(b"peergrid/v1/key");
    h.update(seed.to_le_bytes());
    h.update(index.to_le_bytes());
    let secret: [u8; 32] = h.finalize().into();
    SigningKey::from_bytes(&secret)
}

/// Elects `k` witnesses from `stakes` for round `round`.
pub fn elect(stakes: &[u64], k: usize, votes_per_household: usize, seed: u64, round: u64) -> Vec<u32> {
    elect_with(stakes, k, votes_per_household, &mut rng(seed, Stream::Ledger, round))
}

/// Elects `k` witnesses from `stakes` with the votes drawn from `r`: each voter with stake casts
/// `votes_per_household` votes, each for a candidate drawn in proportion to stake and weighted
/// by its own stake; the `k` with most votes win (ties: more stake, then lower index).
pub fn elect_with(stakes: &[u64], k: usize, votes_per_household: usize, r: &mut rand_chacha::ChaCha8Rng) -> Vec<u32> {
    let n = stakes.len();
    let k = k.min(n);
    let equal;
    let stakes = if stakes.iter().all(|s| *s == 0) {
        equal = vec![1u64; n];
        &equal[..]
    } else {
        stakes
    };
    let uniform = stakes.iter().all(|s| *s == stakes[0]);
    let mut cumulative = Vec::with_capacity(if uniform { 0 } else { n });
    let mut total: u128 = 0;
    for s in stakes {
        total += *s as u128;
        if !uniform {
            cumulative.push(total);
        }
    }
    let mut votes = vec![0u128; n];
    for s in stakes.iter().filter(|s| **s > 0) {
        for _ in 0..votes_per_household {
            // Equal stakes: a uniform draw is the same distribution, without the search.
            let candidate = if uniform {
                r.random_range(0..n)
            } else {
                let x = r.random_range(0..total);
                cumulative.partition_point(|c| *c <= x)
            };
            votes[candidate] += *s as u128;
        }
    }
    let rank = |a: &u32, b: &u32| votes[*b as usize].cmp(&votes[*a as usize]).then(stakes[*b as usize].cmp(&stakes[*a as usize])).then(a.cmp(b));
    top_k(n, k, rank)
}

/// Up to this many witnesses are kept by insertion in one pass over the households; more by
/// selection.
const INSERTION_MAX_K: usize = 64;

/// The first `k` of `0..n` in the total order `rank`, in that order. The order is total (ties
/// end at the household index), so the result is unique however it is found: for a few
/// witnesses, one pass that keeps the best `k` so far and compares most households with the
/// `k`-th alone (an election then costs a pass, not a selection over 10,000 households with
/// each comparison two indirect loads); for many, selection and a sort.
fn top_k(n: usize, k: usize, rank: impl Fn(&u32, &u32) -> std::cmp::Ordering) -> Vec<u32> {
    use std::cmp::Ordering::Less;
    if k <= INSERTION_MAX_K {
        let mut top: Vec<u32> = Vec::with_capacity(k + 1);
        for i in 0..n as u32 {
            if top.len() == k {
                match top.last() {
                    Some(last) if rank(&i, last) == Less => {
                        top.pop();
                    }
                    _ => continue,
                }
            }
            let at = top.partition_point(|t| rank(t, &i) == Less);
            top.insert(at, i);
        }
        return top;
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    if k < n {
        order.select_nth_unstable_by(k, &rank);
        order.truncate(k);
    }
    order.sort_by(&rank);
    order
}

/// The slot schedule: which witness seals each slot. A round is `witnesses` slots; its
/// witnesses are elected at its first slot. The ledger takes a slot for every attempt to seal
/// (missed or not), and `verify` replays the same sequence from the headers.
#[derive(Debug, Clone)]
pub struct Schedule {
    k: u64,
    votes: usize,
    seed: u64,
    slot: u64,
    witnesses: Vec<u32>,
    election_root: Hash,
    /// The last stake table and its root: fixed stakes are hashed once, not every round.
    table: Vec<u64>,
    table_root: Hash,
}

impl Schedule {
    pub fn new(witnesses: u32, votes_per_household: u32, seed: u64) -> Schedule {
        Schedule { k: u64::from(witnesses.max(1)), votes: votes_per_household as usize, seed, slot: 0, witnesses: Vec::new(), election_root: [0; 32], table: Vec::new(), table_root: stake_root(&[]) }
    }

    /// Slots per round.
    pub fn round_slots(&self) -> u64 {
        self.k
    }

    /// Takes the next slot and returns its witness, electing the round's witnesses first when
    /// the slot starts a round (`stakes` gives the stake table then; the returned flag says an
    /// election was held).
    pub fn take_slot(&mut self, stakes: impl FnOnce() -> Vec<u64>) -> (u32, bool) {
        let elected = self.slot.is_multiple_of(self.k) || self.witnesses.is_empty();
        if elected {
            let round = self.slot / self.k;
            let table = stakes();
            if table != self.table {
                self.table_root = stake_root(&table);
                self.table = table;
            }
            self.witnesses = elect(&self.table, self.k as usize, self.votes, self.seed, round);
            self.election_root = election_root(round, &self.table_root, &self.witnesses);
        }
        let w = self.witnesses.get((self.slot % self.witnesses.len().max(1) as u64) as usize).copied().unwrap_or(0);
        self.slot += 1;
        (w, elected)
    }

    /// Slots taken so far.
    pub fn slots_taken(&self) -> u64 {
        self.slot
    }

    /// The root of the latest election ([`election_root`]).
    pub fn election_root(&self) -> Hash {
        self.election_root
    }

    /// The current round's witnesses, in slot order.
    pub fn witnesses(&self) -> &[u32] {
        &self.witnesses
    }
}

/// The stake table of an election: the members' fixed stakes, or with `Balance` their positive
/// balances.
pub fn stake_table(kind: super::StakeKind, fixed: &[u64], balances: &[i64]) -> Vec<u64> {
    match kind {
        super::StakeKind::Balance => balances.iter().map(|b| (*b).max(0) as u64).collect(),
        _ => fixed.to_vec(),
    }
}

/// A witness offline over `[from_step, to_step)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub household: u32,
    pub from_step: u64,
    pub to_step: u64,
}

pub fn is_offline(faults: &[Fault], household: u32, step: u64) -> bool {
    faults.iter().any(|f| f.household == household && (f.from_step..f.to_step).contains(&step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn election_is_seeded_and_favours_stake() {
        let stakes: Vec<u64> = (0..50).map(|i| if i < 5 { 1000 } else { 1 }).collect();
        let w = elect(&stakes, 5, 3, 9, 0);
        assert_eq!(w, elect(&stakes, 5, 3, 9, 0));
        assert_eq!(w.len(), 5);
        assert!(w.iter().filter(|i| **i < 5).count() >= 4, "{w:?}");
        let none = elect(&vec![0; 10], 3, 2, 1, 0);
        assert_eq!(none.len(), 3);
    }

    /// One pass and selection find the same witnesses, in the same order, with many ties.
    #[test]
    fn top_k_by_insertion_equals_selection() {
        use rand::{RngExt, SeedableRng};
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for _ in 0..200 {
            let n = r.random_range(0..300usize);
            let votes: Vec<u32> = (0..n).map(|_| r.random_range(0..4)).collect();
            let rank = |a: &u32, b: &u32| votes[*b as usize].cmp(&votes[*a as usize]).then(a.cmp(b));
            for k in [0, 1, 2, 5, 21, INSERTION_MAX_K, n] {
                let k = k.min(n);
                let mut all: Vec<u32> = (0..n as u32).collect();
                all.sort_by(rank);
                all.truncate(k);
                assert_eq!(top_k(n, k, rank), all, "n {n} k {k}");
            }
        }
    }

    #[test]
    fn keys_are_deterministic_and_distinct() {
        assert_eq!(signing_key(1, 2).to_bytes(), signing_key(1, 2).to_bytes());
        assert_ne!(signing_key(1, 2).verifying_key(), signing_key(1, 3).verifying_key());
    }
}
