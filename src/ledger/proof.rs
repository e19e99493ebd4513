//! Inclusion proofs: `peergrid prove` and `verify --proof`. A proof shows that one transaction
//! is in the chain that ends at an anchored head (or starts from an anchored genesis), signed by
//! its block's producer with the key the genesis block gave that member:
//! - the transaction's Merkle path to its block's `merkle_root`;
//! - the block's path to the head's `history_root` (every header commits to all earlier block
//!   hashes), and the genesis block's path to the same root;
//! - the producer's member record (id, public key, stake) and its path to the genesis
//!   `merkle_root`, with the genesis facts and their path.
//!
//! Every path is O(log n). Nothing in the proof is taken on trust: the key that checks the
//! signature is the one the anchored hashes lead to, never one the proof merely states.

use super::encoding::{self, hex, leaf_hash, parse_hash, AccountRef, Hash, Header, GENESIS_PRODUCER};
use super::json::{GenesisInfo, TxJson};
use super::merkle;
use super::verify::{short, tx_with_accounts, walk, Anchors, Failure};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The proof format's name, in every proof.
pub const PROOF_FORMAT: &str = "peergrid-proof-v2";

/// Most members a proof's genesis block may have (a scenario has far fewer; the genesis state
/// root is hashed over this many zero balances).
pub const MAX_MEMBERS: u32 = 10_000_000;

/// A transaction's proof of inclusion in an anchored chain.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    /// [`PROOF_FORMAT`].
    pub format: String,
    pub tx: TxJson,
    /// Account codes `[tag, index]` of seller and buyer, as hashed.
    pub seller_code: (u8, u32),
    pub buyer_code: (u8, u32),
    /// The transaction's position and path in its block's tree.
    pub leaf_index: usize,
    pub tree_size: usize,
    pub audit_path: Vec<String>,
    /// The header of the transaction's block.
    pub header: ProofHeader,
    /// The block's path in the head's history tree (empty when the block is the head).
    pub block_path: Vec<String>,
    pub head: ProofHeader,
    pub genesis: ProofGenesis,
    /// The genesis block's path in the head's history tree.
    pub genesis_path: Vec<String>,
    /// The block producer's record in the genesis block.
    pub producer_member: ProofMember,
}

/// A block header, every hashed field.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofHeader {
    pub height: u64,
    pub hash: String,
    pub prev_hash: String,
    pub history_root: String,
    pub merkle_root: String,
    pub state_root: String,
    pub election_root: String,
    pub step: u64,
    pub time_unix_s: i64,
    /// The producer's id and public key as the genesis block gives them (checked against the
    /// member record's path there, never taken on trust).
    pub producer: String,
    pub producer_index: u32,
    pub producer_public_key: String,
    pub tx_count: u32,
    pub missed_indices: Vec<u32>,
    pub signature: String,
    /// Communities' seals in the block (they are in its hash).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seals: Vec<ProofSeal>,
}

/// A community seal as its block's header hashes it (`docs/ledger.md`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProofSeal {
    pub community_index: u32,
    pub period: u64,
    pub witness_index: u32,
    pub records: u64,
    pub treasury_micro: i64,
    pub signature: String,
}

/// The genesis facts and what its header needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofGenesis {
    pub hash: String,
    pub time_unix_s: i64,
    pub members: u32,
    /// The genesis facts, as in `ledger.jsonl`.
    pub facts: GenesisInfo,
    /// The facts' path in the genesis tree (they are leaf 0).
    pub info_path: Vec<String>,
}

/// A member record of the genesis block and its path there (leaf `index` + 1).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofMember {
    pub index: u32,
    pub id: String,
    pub public_key: String,
    pub stake: u64,
    pub path: Vec<String>,
}

fn hexes(v: &[Hash]) -> Vec<String> {
    v.iter().map(|h| hex(h)).collect()
}

fn proof_header(h: &Header, hash: &Hash, signature: &str, m: &super::verify::Members) -> ProofHeader {
    let producer = h.producer as usize;
    ProofHeader {
        height: h.height,
        hash: hex(hash),
        prev_hash: hex(&h.prev_hash),
        history_root: hex(&h.history_root),
        merkle_root: hex(&h.merkle_root),
        state_root: hex(&h.state_root),
        election_root: hex(&h.election_root),
        step: h.step,
        time_unix_s: h.time_unix_s,
        producer: m.ids.get(producer).cloned().unwrap_or_else(|| super::json::GENESIS_NAME.into()),
        producer_index: h.producer,
        producer_public_key: m.keys.get(producer).map(|k| hex(k.as_bytes())).unwrap_or_default(),
        tx_count: h.tx_count,
        missed_indices: h.missed.clone(),
        signature: signature.to_string(),
        seals: h
            .seals
            .iter()
            .map(|s| ProofSeal { community_index: s.community, period: s.period, witness_index: s.witness, records: s.records, treasury_micro: s.treasury, signature: hex(&s.signature) })
            .collect(),
    }
}

/// Builds the proof of transaction `tx_id` from a verified ledger, against its last block.
pub fn prove(ledger: &Path, tx_id: &str) -> Result<Proof, Failure> {
    let mut found: Option<(Proof, u32)> = None;
    let mut blocks: Vec<Hash> = Vec::new();
    let mut head: Option<ProofHeader> = None;
    let mut genesis: Option<(ProofGenesis, Vec<Hash>)> = None;
    let chain = walk(ledger, |m, b| {
        blocks.push(leaf_hash(&b.hash));
        head = Some(proof_header(b.header, &b.hash, &b.json.signature, m));
        if b.header.height == 0 {
            let g = ProofGenesis {
                hash: hex(&b.hash),
                time_unix_s: b.header.time_unix_s,
                members: m.ids.len() as u32,
                facts: m.info.clone(),
                info_path: hexes(&merkle::proof(&m.leaves, 0)),
            };
            genesis = Some((g, m.leaves.clone()));
        }
        if found.is_some() {
            return;
        }
        if let Some(i) = b.json.transactions.iter().position(|t| t.id == tx_id) {
            let p = Proof {
                format: PROOF_FORMAT.into(),
                tx: b.json.transactions[i].clone(),
                seller_code: b.txs[i].seller.code(),
                buyer_code: b.txs[i].buyer.code(),
                leaf_index: i,
                tree_size: b.leaves.len(),
                audit_path: hexes(&merkle::proof(b.leaves, i)),
                header: proof_header(b.header, &b.hash, &b.json.signature, m),
                block_path: Vec::new(),
                head: proof_header(b.header, &b.hash, &b.json.signature, m),
                genesis: genesis.as_ref().expect("genesis comes first").0.clone(),
                genesis_path: Vec::new(),
                producer_member: ProofMember { index: b.header.producer, id: m.ids[b.header.producer as usize].clone(), public_key: hex(m.keys[b.header.producer as usize].as_bytes()), stake: m.stakes[b.header.producer as usize], path: Vec::new() },
            };
            found = Some((p, b.header.producer));
        }
    })?;
    let (mut p, producer) = found.ok_or_else(|| Failure::bad_input(ledger, format!("no transaction with id `{tx_id}`")))?;
    let head = head.expect("a verified chain has blocks");
    let size = head.height as usize;
    if p.header.height != head.height {
        p.block_path = hexes(&merkle::proof(&blocks[..size], p.header.height as usize));
    }
    p.genesis_path = hexes(&merkle::proof(&blocks[..size], 0));
    p.producer_member.path = hexes(&merkle::proof(&genesis.expect("genesis comes first").1, producer as usize + 1));
    p.head = head;
    debug_assert_eq!(hex(&chain.head), p.head.hash);
    Ok(p)
}

fn account_from_code((tag, index): (u8, u32)) -> Option<AccountRef> {
    Some(match tag {
        0 => AccountRef::Household(index),
        1 => AccountRef::Grid,
        2 => AccountRef::Network,
        3 => AccountRef::Fund,
        4 => AccountRef::Pool,
        5 => AccountRef::Community(index),
        6 => AccountRef::Supplier,
        _ => return None,
    })
}

fn parse(s: &str, what: &str) -> Result<Hash, String> {
    parse_hash(s).ok_or(format!("{what} is not 64 hex digits"))
}

fn parse_path(v: &[String], what: &str) -> Result<Vec<Hash>, String> {
    v.iter().map(|x| parse(x, what)).collect()
}

/// The header a proof's header fields hash to, and that hash.
fn header_of(h: &ProofHeader) -> Result<(Header, Hash), String> {
    let header = Header {
        height: h.height,
        prev_hash: parse(&h.prev_hash, "prev_hash")?,
        history_root: parse(&h.history_root, "history_root")?,
        merkle_root: parse(&h.merkle_root, "merkle_root")?,
        state_root: parse(&h.state_root, "state_root")?,
        election_root: parse(&h.election_root, "election_root")?,
        step: h.step,
        time_unix_s: h.time_unix_s,
        producer: h.producer_index,
        tx_count: h.tx_count,
        missed: h.missed_indices.clone(),
        seals: h
            .seals
            .iter()
            .map(|s| {
                let signature = super::encoding::parse_hex(&s.signature).and_then(|v| <[u8; 64]>::try_from(v).ok()).ok_or("a seal's signature is not 128 hex digits")?;
                Ok(super::encoding::Seal { community: s.community_index, period: s.period, witness: s.witness_index, records: s.records, treasury: s.treasury_micro, signature })
            })
            .collect::<Result<_, String>>()?,
    };
    let hash = header.hash();
    if hash != parse(&h.hash, "hash")? {
        return Err(format!("the header of block {} does not hash to its stated hash", h.height));
    }
    Ok((header, hash))
}

/// Checks a proof against `anchors` (at least one). Returns the verdict.
pub fn verify_proof(p: &Proof, anchors: &Anchors) -> Result<String, String> {
    if p.format != PROOF_FORMAT {
        return Err(format!("format `{}` is not {PROOF_FORMAT} (write the proof again with this peergrid's `prove`)", p.format));
    }
    // The transaction, names included, up to its block's header.
    let (seller, buyer) = (account_from_code(p.seller_code).ok_or("bad seller code")?, account_from_code(p.buyer_code).ok_or("bad buyer code")?);
    let tx = tx_with_accounts(&p.tx, seller, buyer)?;
    let mut enc = Vec::new();
    encoding::encode_tx_named(&mut enc, &p.tx.id, &tx, [&p.tx.seller, &p.tx.buyer]);
    let path = parse_path(&p.audit_path, "audit path entries")?;
    let root = merkle::root_from_proof(leaf_hash(&enc), p.leaf_index, p.tree_size, &path).ok_or("the transaction's audit path has the wrong length for its position")?;
    let (block, block_hash) = header_of(&p.header)?;
    if root != block.merkle_root || p.tree_size != block.tx_count as usize {
        return Err(format!("the transaction and its audit path give root {}, not block {}'s merkle root", short(&root), block.height));
    }
    // The genesis block: its facts and the producer's record, up to its hash.
    let g = &p.genesis;
    if g.members == 0 || g.members > MAX_MEMBERS {
        return Err(format!("the genesis block's {} members are out of range 1..={MAX_MEMBERS}", g.members));
    }
    encoding::encode_genesis_info(&mut enc, &g.facts);
    let leaves = g.members as usize + 1;
    let genesis_root = merkle::root_from_proof(leaf_hash(&enc), 0, leaves, &parse_path(&g.info_path, "genesis info path entries")?).ok_or("the genesis facts' path has the wrong length")?;
    let m = &p.producer_member;
    let key_bytes: [u8; 32] = encoding::parse_hex(&m.public_key).and_then(|v| v.try_into().ok()).ok_or("the producer's public key is not 64 hex digits")?;
    encoding::encode_member(&mut enc, m.index, &m.id, &key_bytes, m.stake);
    let member_root = merkle::root_from_proof(leaf_hash(&enc), m.index as usize + 1, leaves, &parse_path(&m.path, "member path entries")?).ok_or("the producer's member path has the wrong length for its position")?;
    if member_root != genesis_root {
        return Err(format!("member {} (with this public key) is not in the genesis block the proof names", m.id));
    }
    let (_, genesis_hash) = super::genesis_header(genesis_root, g.members as usize, g.facts.communities.len(), g.time_unix_s);
    if genesis_hash != parse(&g.hash, "genesis hash")? {
        return Err("the genesis facts and members do not hash to the genesis hash".into());
    }
    // Both blocks in the head's history.
    let (head, head_hash) = header_of(&p.head)?;
    let in_history = |leaf: Hash, index: u64, path: &[String], what: &str| -> Result<(), String> {
        let root = merkle::root_from_proof(leaf_hash(&leaf), index as usize, head.height as usize, &parse_path(path, "history path entries")?);
        if root != Some(head.history_root) {
            return Err(format!("{what} is not in the history of head {} (block {})", short(&head_hash), head.height));
        }
        Ok(())
    };
    if block.height == head.height {
        if block_hash != head_hash {
            return Err("the block is at the head's height but is not the head".into());
        }
    } else {
        in_history(block_hash, block.height, &p.block_path, &format!("block {}", block.height))?;
    }
    in_history(genesis_hash, 0, &p.genesis_path, "the genesis block")?;
    // The producer's signature, with the key the genesis block gave it.
    if block.producer != m.index || block.producer == GENESIS_PRODUCER {
        return Err(format!("block {} was produced by member {}, not by {} (index {})", block.height, block.producer, m.id, m.index));
    }
    let key = VerifyingKey::from_bytes(&key_bytes).map_err(|_| "the producer's key is not an Ed25519 public key")?;
    if p.header.producer != m.id || p.header.producer_public_key != m.public_key {
        return Err(format!("the header names producer {} with key {}, not the member {} the genesis block gives", p.header.producer, p.header.producer_public_key, m.id));
    }
    let sig: [u8; 64] = encoding::parse_hex(&p.header.signature).and_then(|v| v.try_into().ok()).ok_or("the block's signature is not 128 hex digits")?;
    key.verify(&block_hash, &Signature::from_bytes(&sig)).map_err(|_| format!("the block's signature does not verify with {}'s key from the genesis block", m.id))?;
    // The anchors.
    if anchors.is_empty() {
        return Err(format!("a proof proves nothing on its own (anyone can build a consistent one): give --expect-head with the head published for the run (this proof leads to head {}) or --expect-genesis", hex(&head_hash)));
    }
    let mut anchored = Vec::new();
    if let Some(h) = anchors.head {
        if h != head_hash {
            return Err(format!("the proof leads to head {}, not the expected head {}", hex(&head_hash), hex(&h)));
        }
        anchored.push(format!("in the chain whose head is {} (block {}, anchored)", hex(&head_hash), head.height));
    } else {
        anchored.push(format!("in a chain whose head {} is NOT anchored (compare it with the published head, or give --expect-head)", hex(&head_hash)));
    }
    if let Some(gh) = anchors.genesis {
        if gh != genesis_hash {
            return Err(format!("the proof's genesis block is {}, not the expected genesis {}", hex(&genesis_hash), hex(&gh)));
        }
        anchored.push("from the anchored genesis".into());
    }
    let keys = if super::keys::is_seed_derived(g.facts.seed, m.index, &key_bytes) {
        format!("; note: {}'s key derives from the public seed {}, so this proves consistency, not authorship", m.id, g.facts.seed)
    } else {
        String::new()
    };
    Ok(format!(
        "OK: transaction {} ({} → {}, {} kWh, amount {}) is in block {} (hash {}), {}, signed by {} with its key from the genesis block{keys}",
        p.tx.id,
        p.tx.seller,
        p.tx.buyer,
        p.tx.kwh,
        p.tx.amount,
        block.height,
        hex(&block_hash),
        anchored.join(" "),
        m.id
    ))
}
