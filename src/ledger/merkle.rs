//! Merkle trees as in RFC 6962 (Certificate Transparency): leaves SHA-256(0x00 ‖ data), nodes
//! SHA-256(0x01 ‖ left ‖ right), the empty tree SHA-256(""). Built bottom-up: a node left without
//! a sibling at the end of a level moves up unchanged, which gives the same tree as RFC 6962's
//! split at the largest power of two.

use super::encoding::{node_hash, Hash};
use sha2::{Digest, Sha256};

/// Root of the tree over `leaves`, reusing `scratch`.
pub fn root(leaves: &[Hash], scratch: &mut Vec<Hash>) -> Hash {
    root_with(leaves, scratch, || ())
}

/// Nodes hashed between calls of [`root_with`]'s `between` (about 10 µs of hashing).
pub const NODES_BETWEEN: usize = 128;

/// [`root`], calling `between` before every [`NODES_BETWEEN`] nodes of a level (the ledger's
/// writer steps aside there for the simulation's parallel regions, `crate::base::exec`).
pub fn root_with(leaves: &[Hash], scratch: &mut Vec<Hash>, mut between: impl FnMut()) -> Hash {
    if leaves.is_empty() {
        return Sha256::digest([]).into();
    }
    scratch.clear();
    scratch.extend_from_slice(leaves);
    let mut n = scratch.len();
    while n > 1 {
        let mut w = 0;
        let mut r = 0;
        while r < n {
            if w % NODES_BETWEEN == 0 {
                between();
            }
            scratch[w] = if r + 1 < n { node_hash(&scratch[r], &scratch[r + 1]) } else { scratch[r] };
            w += 1;
            r += 2;
        }
        n = w;
    }
    scratch[0]
}

/// A Merkle tree that grows one leaf at a time, kept as its peaks (the roots of its perfect
/// subtrees, largest first: a Merkle mountain range). Its root is the RFC 6962 root of the
/// same leaves ([`root`]), bagged from the right; a push and a root cost O(log n) hashes.
#[derive(Debug, Clone, Default)]
pub struct Frontier {
    /// (leaves under it, hash), sizes strictly decreasing.
    peaks: Vec<(u64, Hash)>,
    len: u64,
}

impl Frontier {
    pub fn push(&mut self, leaf: Hash) {
        self.peaks.push((1, leaf));
        self.len += 1;
        while let [.., (a, left), (b, right)] = self.peaks[..] {
            if a != b {
                break;
            }
            self.peaks.truncate(self.peaks.len() - 2);
            self.peaks.push((a + b, node_hash(&left, &right)));
        }
    }

    /// Leaves pushed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(&(_, mut acc)) = peaks.next() else { return Sha256::digest([]).into() };
        for (_, p) in peaks {
            acc = node_hash(p, &acc);
        }
        acc
    }
}

/// The audit path of leaf `index`: sibling hashes from the bottom up (levels where the node has
/// no sibling contribute nothing).
pub fn proof(leaves: &[Hash], index: usize) -> Vec<Hash> {
    let mut level: Vec<Hash> = leaves.to_vec();
    let mut i = index;
    let mut path = Vec::new();
    while level.len() > 1 {
        let sibling = if i % 2 == 1 { Some(i - 1) } else if i + 1 < level.len() { Some(i + 1) } else { None };
        if let Some(s) = sibling {
            path.push(level[s]);
        }
        level = level.chunks(2).map(|c| if c.len() == 2 { node_hash(&c[0], &c[1]) } else { c[0] }).collect();
        i /= 2;
    }
    path
}

/// Recomputes the root from a leaf hash, its index, the tree size and its audit path.
/// Returns `None` when the path has the wrong length for that position.
pub fn root_from_proof(leaf: Hash, index: usize, size: usize, path: &[Hash]) -> Option<Hash> {
    if index >= size {
        return None;
    }
    let (mut h, mut i, mut n, mut p) = (leaf, index, size, 0);
    while n > 1 {
        if i % 2 == 1 {
            h = node_hash(path.get(p)?, &h);
            p += 1;
        } else if i + 1 < n {
            h = node_hash(&h, path.get(p)?);
            p += 1;
        }
        i /= 2;
        n = n.div_ceil(2);
    }
    (p == path.len()).then_some(h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::encoding::leaf_hash;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(&[i as u8])).collect()
    }

    /// RFC 6962's recursive definition, for comparison.
    fn mth(d: &[Hash]) -> Hash {
        match d.len() {
            0 => Sha256::digest([]).into(),
            1 => d[0],
            n => {
                let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&d[..k]), &mth(&d[k..]))
            }
        }
    }

    #[test]
    fn bottom_up_equals_rfc6962() {
        let mut s = Vec::new();
        for n in 0..40 {
            assert_eq!(root(&leaves(n), &mut s), mth(&leaves(n)), "n = {n}");
        }
    }

    #[test]
    fn a_growing_frontier_has_the_rfc6962_root_at_every_size() {
        let mut f = Frontier::default();
        assert_eq!(f.root(), mth(&[]));
        let l = leaves(70);
        for n in 1..=l.len() {
            f.push(l[n - 1]);
            assert_eq!(f.root(), mth(&l[..n]), "n = {n}");
        }
    }

    #[test]
    fn every_proof_verifies_and_a_wrong_leaf_does_not() {
        let mut s = Vec::new();
        for n in 1..20 {
            let l = leaves(n);
            let r = root(&l, &mut s);
            for i in 0..n {
                let p = proof(&l, i);
                assert_eq!(root_from_proof(l[i], i, n, &p), Some(r), "n {n} i {i}");
                assert_ne!(root_from_proof(leaf_hash(b"x"), i, n, &p), Some(r));
            }
        }
    }
}
