//! Canonical byte encodings and hashes of the ledger. Documented in `docs/ledger.md`; pinned by
//! known-answer tests. Changing anything here changes every hash: bump the version tags.
//!
//! All integers are big-endian. Energies are integer micro-kWh, money integer micro-units; a
//! price per kWh is the IEEE-754 binary64 bits of the exact price a payment was computed from
//! (currency units per kWh; −0 written as +0), so every amount can be recomputed from it.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// Domain tags.
pub const HEADER_TAG: &[u8] = b"peergrid-block-v3";
pub const STATE_TAG: &[u8] = b"peergrid-state-v1";
pub const GENESIS_TAG: &[u8] = b"peergrid-genesis-v2";
pub const ELECTION_TAG: &[u8] = b"peergrid-election-v1";
pub const STAKES_TAG: &[u8] = b"peergrid-stakes-v1";
/// RFC 6962 leaf and node prefixes.
pub const LEAF_PREFIX: u8 = 0x00;
pub const NODE_PREFIX: u8 = 0x01;
/// Producer index of the genesis block.
pub const GENESIS_PRODUCER: u32 = u32::MAX;
/// Micro-units per unit, for energies and money.
pub const MICRO: f64 = 1_000_000.0;

/// A party to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AccountRef {
    Household(u32),
    Grid,
    Network,
    Fund,
    Pool,
    /// A community's treasury (runs with `communities`), numbered after the households: the
    /// run's `n` households are 0..n, its communities n, n + 1, ... in scenario order.
    Community(u32),
    /// Sells communities their batteries and buys them back at a default.
    Supplier,
}

/// The JSON name of a community's treasury account: `community:` and its id (household ids
/// cannot contain `:`).
pub fn community_account_name(id: &str) -> String {
    format!("community:{id}")
}

impl AccountRef {
    /// (tag, index) as hashed: households 0, grid 1, network operator 2, fund 3, pool 4,
    /// community treasuries 5, the battery supplier 6.
    pub fn code(self) -> (u8, u32) {
        match self {
            AccountRef::Household(i) => (0, i),
            AccountRef::Grid => (1, 0),
            AccountRef::Network => (2, 0),
            AccountRef::Fund => (3, 0),
            AccountRef::Pool => (4, 0),
            AccountRef::Community(i) => (5, i),
            AccountRef::Supplier => (6, 0),
        }
    }

    /// The name used in JSON for non-household accounts.
    pub fn system_name(self) -> Option<&'static str> {
        match self {
            AccountRef::Household(_) | AccountRef::Community(_) => None,
            AccountRef::Grid => Some("grid"),
            AccountRef::Network => Some("network"),
            AccountRef::Fund => Some("fund"),
            AccountRef::Pool => Some("pool"),
            AccountRef::Supplier => Some("supplier"),
        }
    }

    pub fn from_system_name(name: &str) -> Option<AccountRef> {
        match name {
            "grid" => Some(AccountRef::Grid),
            "network" => Some(AccountRef::Network),
            "fund" => Some(AccountRef::Fund),
            "pool" => Some(AccountRef::Pool),
            "supplier" => Some(AccountRef::Supplier),
            _ => None,
        }
    }
}

/// Kinds of transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxKind {
    /// A delivery between neighbours: buyer pays `amount` to the seller; the seller pays `fee`
    /// of it to the fund.
    P2p,
    /// A buyer pays the pool (pooling rules).
    PoolBuy,
    /// The pool pays a seller (pooling rules).
    PoolSell,
    /// A household's grid imports and exports since the last block, netted: buyer pays seller.
    Grid,
    /// The fund pays a block's producer.
    Reward,
    /// A buyer pays the network operator the fee on a peer delivery (`kwh` sent × `price`).
    NetworkFee,
    /// A community's treasury pays one of its witnesses its pay for a period.
    WitnessPay,
    /// A founding member pays its share of a community's initial fund into its treasury.
    Contribution,
    /// A household joins a community (amount 0): from this transaction on, the fees on its
    /// sales go to that community's treasury.
    Join,
    /// A household leaves a community (amount 0).
    Leave,
    /// A community's treasury refunds a member part of its network fees.
    Rebate,
    /// A community's solidarity fund pays a member in energy hardship.
    Solidarity,
    /// A defaulted community's treasury pays a member its share.
    DefaultShare,
    /// A member pays its community's treasury for energy from the community battery (seller:
    /// the treasury, buyer: the member).
    BatterySale,
    /// A community's treasury pays a member for surplus that charged its battery (seller: the
    /// member, buyer: the treasury).
    BatteryCharge,
    /// A community's treasury buys its battery from the supplier.
    BatteryPurchase,
    /// The supplier buys a defaulted community's battery back at its remaining value.
    BatteryBuyback,
    /// A member votes yes in its community's referendum (amount 0; seller: the community,
    /// buyer: the member).
    VoteYes,
    /// A member votes no (amount 0).
    VoteNo,
    /// A community's referendum passed (amount 0; seller and buyer: the community).
    ReferendumPassed,
    /// A community's referendum failed (amount 0).
    ReferendumFailed,
    /// A household pays the grid its tariff's supply charge for a billing period (seller: the
    /// grid; `kwh`: the days billed, `price`: the charge per day).
    SupplyCharge,
    /// A household pays the grid its tariff's demand charge for a billing period (seller: the
    /// grid; `kwh`: its peak import in kW, `price`: the charge per kW for the part of the month
    /// billed).
    DemandCharge,
}

impl TxKind {
    /// A community's treasury paying a member (seller: the member, buyer: the treasury).
    pub fn is_payout(self) -> bool {
        matches!(self, TxKind::WitnessPay | TxKind::Rebate | TxKind::Solidarity | TxKind::DefaultShare)
    }

    pub const ALL: [TxKind; 23] = [
        TxKind::P2p,
        TxKind::PoolBuy,
        TxKind::PoolSell,
        TxKind::Grid,
        TxKind::Reward,
        TxKind::NetworkFee,
        TxKind::WitnessPay,
        TxKind::Contribution,
        TxKind::Join,
        TxKind::Leave,
        TxKind::Rebate,
        TxKind::Solidarity,
        TxKind::DefaultShare,
        TxKind::BatterySale,
        TxKind::BatteryCharge,
        TxKind::BatteryPurchase,
        TxKind::BatteryBuyback,
        TxKind::VoteYes,
        TxKind::VoteNo,
        TxKind::ReferendumPassed,
        TxKind::ReferendumFailed,
        TxKind::SupplyCharge,
        TxKind::DemandCharge,
    ];

    pub fn code(self) -> u8 {
        match self {
            TxKind::P2p => 1,
            TxKind::PoolBuy => 2,
            TxKind::PoolSell => 3,
            TxKind::Grid => 4,
            TxKind::Reward => 5,
            TxKind::NetworkFee => 6,
            TxKind::WitnessPay => 7,
            TxKind::Contribution => 8,
            TxKind::Join => 9,
            TxKind::Leave => 10,
            TxKind::Rebate => 11,
            TxKind::Solidarity => 12,
            TxKind::DefaultShare => 13,
            TxKind::BatterySale => 14,
            TxKind::BatteryCharge => 15,
            TxKind::BatteryPurchase => 16,
            TxKind::BatteryBuyback => 17,
            TxKind::VoteYes => 18,
            TxKind::VoteNo => 19,
            TxKind::ReferendumPassed => 20,
            TxKind::ReferendumFailed => 21,
            TxKind::SupplyCharge => 22,
            TxKind::DemandCharge => 23,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TxKind::P2p => "p2p",
            TxKind::PoolBuy => "pool_buy",
            TxKind::PoolSell => "pool_sell",
            TxKind::Grid => "grid",
            TxKind::Reward => "reward",
            TxKind::NetworkFee => "network_fee",
            TxKind::WitnessPay => "witness_pay",
            TxKind::Contribution => "contribution",
            TxKind::Join => "join",
            TxKind::Leave => "leave",
            TxKind::Rebate => "rebate",
            TxKind::Solidarity => "solidarity",
            TxKind::DefaultShare => "default_share",
            TxKind::BatterySale => "battery_sale",
            TxKind::BatteryCharge => "battery_charge",
            TxKind::BatteryPurchase => "battery_purchase",
            TxKind::BatteryBuyback => "battery_buyback",
            TxKind::VoteYes => "vote_yes",
            TxKind::VoteNo => "vote_no",
            TxKind::ReferendumPassed => "referendum_passed",
            TxKind::ReferendumFailed => "referendum_failed",
            TxKind::SupplyCharge => "supply_charge",
            TxKind::DemandCharge => "demand_charge",
        }
    }

    pub fn from_label(s: &str) -> Option<TxKind> {
        Self::ALL.into_iter().find(|k| k.label() == s)
    }
}

/// A transaction in integer units. Its id is `kind letter ‖ step ‖ - ‖ seq` (see [`Tx::write_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tx {
    pub kind: TxKind,
    pub step: u64,
    /// Number within (kind, step): trade number, household index, or block height.
    pub seq: u64,
    pub seller: AccountRef,
    pub buyer: AccountRef,
    pub kwh_micro: i64,
    /// [`price_bits`] of the price per kWh (currency units).
    pub price_bits: u64,
    pub amount_micro: i64,
    pub fee_micro: i64,
    /// Grid transactions: the gross energies behind the net amount.
    pub import_kwh_micro: i64,
    pub export_kwh_micro: i64,
    /// Peer deliveries: energy lost on the lines on the way (the seller sent `kwh` + this). Pool
    /// sales on an island: energy the seller sent on top of `kwh`, unpaid, to make up the
    /// pool's buyers' line losses.
    pub loss_kwh_micro: i64,
}

impl Tx {
    /// Writes the stable id (`t12-3`, `g12-40`, `r12-7`, `b12-0`, `s12-0`) into `out`.
    pub fn write_id(&self, out: &mut String) {
        out.push(self.id_letter() as char);
        out.push_str(itoa::Buffer::new().format(self.step));
        out.push('-');
        out.push_str(itoa::Buffer::new().format(self.seq));
    }

    /// The same id as bytes, appended to `out` (the leaf hash writes it in place).
    fn write_id_bytes(&self, out: &mut Vec<u8>) {
        out.push(self.id_letter());
        out.extend_from_slice(itoa::Buffer::new().format(self.step).as_bytes());
        out.push(b'-');
        out.extend_from_slice(itoa::Buffer::new().format(self.seq).as_bytes());
    }

    /// The id's first letter, by kind.
    pub fn id_letter(&self) -> u8 {
        match self.kind {
            TxKind::P2p => b't',
            TxKind::PoolBuy => b'b',
            TxKind::PoolSell => b's',
            TxKind::Grid => b'g',
            TxKind::Reward => b'r',
            TxKind::NetworkFee => b'n',
            TxKind::WitnessPay => b'w',
            TxKind::Contribution => b'c',
            TxKind::Join => b'j',
            TxKind::Leave => b'l',
            TxKind::Rebate => b'e',
            TxKind::Solidarity => b'h',
            TxKind::DefaultShare => b'd',
            TxKind::BatterySale => b'k',
            TxKind::BatteryCharge => b'q',
            TxKind::BatteryPurchase => b'a',
            TxKind::BatteryBuyback => b'v',
            TxKind::VoteYes => b'y',
            TxKind::VoteNo => b'x',
            TxKind::ReferendumPassed => b'p',
            TxKind::ReferendumFailed => b'f',
            TxKind::SupplyCharge => b'u',
            TxKind::DemandCharge => b'm',
        }
    }
}

/// The hashed form of a price per kWh: its binary64 bits, −0 as +0 (prices are finite).
pub fn price_bits(price_per_kwh: f64) -> u64 {
    (price_per_kwh + 0.0).to_bits()
}

impl Tx {
    /// The price per kWh, currency units.
    pub fn price(&self) -> f64 {
        f64::from_bits(self.price_bits)
    }
}

/// Rounds a decimal quantity (kWh or money units) to integer micro-units.
pub fn to_micro(x: f64) -> i64 {
    crate::base::money::round_to_i64(x * MICRO)
}

/// The decimal shown in JSON for micro-units (parses back to the same integer).
pub fn from_micro(x: i64) -> f64 {
    x as f64 / MICRO
}

/// An account as hashed: `tag u8 ‖ index u32 ‖ name_len u16 ‖ name` (the household id, or the
/// system account's name), so every name a record shows is bound by its hash.
fn account(buf: &mut Vec<u8>, a: AccountRef, name: &str) {
    let (tag, index) = a.code();
    buf.push(tag);
    buf.extend_from_slice(&index.to_be_bytes());
    buf.extend_from_slice(&(name.len() as u16).to_be_bytes());
    buf.extend_from_slice(name.as_bytes());
}

/// The canonical bytes of a transaction:
/// `kind u8 ‖ step u64 ‖ id_len u16 ‖ id ‖ seller ‖ buyer ‖ kwh i64 ‖ price u64 (binary64 bits) ‖
/// amount i64 ‖ fee i64 ‖ import_kwh i64 ‖ export_kwh i64 [‖ loss_kwh i64]`, each account
/// `tag u8 ‖ index u32 ‖ name_len u16 ‖ name` (`ids`: household ids by index).
/// `loss_kwh` is appended only when non-zero; the length prefixes and the fixed layout keep the
/// encoding unambiguous.
pub fn encode_tx(buf: &mut Vec<u8>, id: &str, tx: &Tx, ids: &[String]) {
    use super::json::account_name;
    encode_tx_named(buf, id, tx, [account_name(tx.seller, ids), account_name(tx.buyer, ids)]);
}

/// [`encode_tx`] with the seller's and buyer's names given.
pub fn encode_tx_named(buf: &mut Vec<u8>, id: &str, tx: &Tx, [seller, buyer]: [&str; 2]) {
    buf.clear();
    append_tx(buf, tx, [seller, buyer], |buf| buf.extend_from_slice(id.as_bytes()));
}

/// The leaf hash of a transaction with its own id, `leaf_hash(encode_tx(id, tx, ids))`, in one
/// pass: the prefix, the id and the fields go straight into `buf` and are hashed in one call
/// (the ledger's sealing does this for every transaction).
pub fn tx_leaf_hash(buf: &mut Vec<u8>, tx: &Tx, ids: &[String]) -> Hash {
    buf.clear();
    buf.push(LEAF_PREFIX);
    use super::json::account_name;
    append_tx(buf, tx, [account_name(tx.seller, ids), account_name(tx.buyer, ids)], |buf| tx.write_id_bytes(buf));
    sha256_short(buf)
}

/// Appends [`encode_tx`]'s bytes to `buf`, the id written by `write_id` (its length is filled in
/// after it).
fn append_tx(buf: &mut Vec<u8>, tx: &Tx, [seller, buyer]: [&str; 2], write_id: impl FnOnce(&mut Vec<u8>)) {
    buf.push(tx.kind.code());
    buf.extend_from_slice(&tx.step.to_be_bytes());
    let id_len_at = buf.len();
    buf.extend_from_slice(&[0, 0]);
    write_id(buf);
    let id_len = (buf.len() - id_len_at - 2) as u16;
    buf[id_len_at..id_len_at + 2].copy_from_slice(&id_len.to_be_bytes());
    account(buf, tx.seller, seller);
    account(buf, tx.buyer, buyer);
    buf.extend_from_slice(&tx.kwh_micro.to_be_bytes());
    buf.extend_from_slice(&tx.price_bits.to_be_bytes());
    for v in [tx.amount_micro, tx.fee_micro, tx.import_kwh_micro, tx.export_kwh_micro] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    if tx.loss_kwh_micro != 0 {
        buf.extend_from_slice(&tx.loss_kwh_micro.to_be_bytes());
    }
}

/// Leaf hash of encoded bytes: SHA-256(0x00 ‖ bytes).
pub fn leaf_hash(bytes: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(bytes);
    h.finalize().into()
}

/// Interior node: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    // One contiguous message and one call: the hasher's buffering of three small updates cost
    // about as much as a compression.
    let mut message = [0u8; 1 + 2 * 32];
    message[0] = NODE_PREFIX;
    message[1..33].copy_from_slice(left);
    message[33..].copy_from_slice(right);
    sha256_short(&message)
}

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const SHA256_IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// Longest message that pads into two 64-byte blocks (one byte of 0x80, eight of length).
const SHORT_MESSAGE_BYTES: usize = 2 * 64 - 9;

/// SHA-256 of `message`, padded here and compressed directly when it fits in two blocks (a tree
/// node, 65 bytes; a transaction's leaf, about 90): the same digest as `Sha256::digest`, without
/// copying through the hasher's buffer (sealing a 1,000-transaction block took 8% less,
/// `cargo bench --bench ledger`). Longer messages go through `Sha256::digest`.
pub fn sha256_short(message: &[u8]) -> Hash {
    let len = message.len();
    if len > SHORT_MESSAGE_BYTES {
        return Sha256::digest(message).into();
    }
    let mut blocks = [[0u8; 64]; 2];
    let n = if len + 9 <= 64 { 1 } else { 2 };
    let flat = blocks.as_flattened_mut();
    flat[..len].copy_from_slice(message);
    flat[len] = 0x80;
    flat[n * 64 - 8..n * 64].copy_from_slice(&(len as u64 * 8).to_be_bytes());
    let mut state = SHA256_IV;
    sha2::block_api::compress256(&mut state, &blocks[..n]);
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    out
}

/// The canonical bytes of a genesis member: `index u32 ‖ id_len u16 ‖ id ‖ public key (32) ‖
/// stake u64` (its fixed stake in elections: 1 with `Equal`, micro-kWp with `Kwp`, 0 with
/// `Balance`, whose stakes are the replayed balances).
pub fn encode_member(buf: &mut Vec<u8>, index: u32, id: &str, public_key: &[u8; 32], stake: u64) {
    buf.clear();
    buf.extend_from_slice(&index.to_be_bytes());
    buf.extend_from_slice(&(id.len() as u16).to_be_bytes());
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(public_key);
    buf.extend_from_slice(&stake.to_be_bytes());
}

/// A block header: what the block hash commits to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub height: u64,
    pub prev_hash: Hash,
    /// Merkle root (RFC 6962) over the hashes of every earlier block, genesis first: a block is
    /// proven to be in the chain that ends at an anchored head by a path to this root.
    pub history_root: Hash,
    pub merkle_root: Hash,
    pub state_root: Hash,
    /// [`election_root`] of the election that gave this block's producer its slot (zero in the
    /// genesis block).
    pub election_root: Hash,
    /// Step at whose end the block was sealed.
    pub step: u64,
    /// UTC Unix seconds of that step's start.
    pub time_unix_s: i64,
    /// Household index of the producer; [`GENESIS_PRODUCER`] for the genesis block.
    pub producer: u32,
    pub tx_count: u32,
    /// Witnesses whose slots were missed before this block.
    pub missed: Vec<u32>,
    /// Communities' seals on their records, by their own elected witnesses (runs with
    /// communities; empty in most blocks).
    pub seals: Vec<Seal>,
}

/// A community witness's seal on its community's records: the community's transactions since
/// its previous seal up to the end of this block (`records` of them: those with its treasury,
/// or one of its members at that point, as a party) and its treasury after the block. The
/// witness signs [`Seal::message`], which commits to the chain before the block (`prev_hash`)
/// and to the block's transactions and balances (`merkle_root`, `state_root`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seal {
    /// The community's account index (`Community(i)`).
    pub community: u32,
    /// The community's period this seal ends.
    pub period: u64,
    /// The witness's household index.
    pub witness: u32,
    pub records: u64,
    pub treasury: i64,
    pub signature: [u8; 64],
}

/// What a community witness signs.
pub const SEAL_TAG: &[u8] = b"peergrid-seal-v1";

impl Seal {
    /// `"peergrid-seal-v1" ‖ prev_hash ‖ merkle_root ‖ state_root ‖ community u32 ‖ period u64 ‖
    /// records u64 ‖ treasury i64` of the block `h` the seal is in.
    pub fn message(h: &Header, community: u32, period: u64, records: u64, treasury: i64) -> Vec<u8> {
        let mut b = Vec::with_capacity(SEAL_TAG.len() + 96 + 28);
        b.extend_from_slice(SEAL_TAG);
        b.extend_from_slice(&h.prev_hash);
        b.extend_from_slice(&h.merkle_root);
        b.extend_from_slice(&h.state_root);
        b.extend_from_slice(&community.to_be_bytes());
        b.extend_from_slice(&period.to_be_bytes());
        b.extend_from_slice(&records.to_be_bytes());
        b.extend_from_slice(&treasury.to_be_bytes());
        b
    }
}

impl Header {
    /// `"peergrid-block-v3" ‖ height u64 ‖ prev_hash ‖ history_root ‖ merkle_root ‖ state_root ‖
    /// election_root ‖ step u64 ‖ time i64 ‖ producer u32 ‖ tx_count u32 ‖ missed_count u32 ‖
    /// missed u32 × count`, then, only when the block has seals, `‖ seal_count u32 ‖ (community
    /// u32 ‖ period u64 ‖ witness u32 ‖ records u64 ‖ treasury i64 ‖ signature 64 bytes) × count`.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(HEADER_TAG.len() + 204 + 4 * self.missed.len());
        b.extend_from_slice(HEADER_TAG);
        b.extend_from_slice(&self.height.to_be_bytes());
        b.extend_from_slice(&self.prev_hash);
        b.extend_from_slice(&self.history_root);
        b.extend_from_slice(&self.merkle_root);
        b.extend_from_slice(&self.state_root);
        b.extend_from_slice(&self.election_root);
        b.extend_from_slice(&self.step.to_be_bytes());
        b.extend_from_slice(&self.time_unix_s.to_be_bytes());
        b.extend_from_slice(&self.producer.to_be_bytes());
        b.extend_from_slice(&self.tx_count.to_be_bytes());
        b.extend_from_slice(&(self.missed.len() as u32).to_be_bytes());
        for m in &self.missed {
            b.extend_from_slice(&m.to_be_bytes());
        }
        if !self.seals.is_empty() {
            b.extend_from_slice(&(self.seals.len() as u32).to_be_bytes());
            for s in &self.seals {
                b.extend_from_slice(&s.community.to_be_bytes());
                b.extend_from_slice(&s.period.to_be_bytes());
                b.extend_from_slice(&s.witness.to_be_bytes());
                b.extend_from_slice(&s.records.to_be_bytes());
                b.extend_from_slice(&s.treasury.to_be_bytes());
                b.extend_from_slice(&s.signature);
            }
        }
        b
    }

    pub fn hash(&self) -> Hash {
        Sha256::digest(self.encode()).into()
    }

}

/// Balances of every account after a block, and which community each household is in.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub households: Vec<i64>,
    pub grid: i64,
    pub network: i64,
    pub fund: i64,
    pub pool: i64,
    /// The battery supplier (runs with communities).
    pub supplier: i64,
    /// Each community's treasury, in scenario order (empty in runs without communities).
    pub communities: Vec<i64>,
    /// Each household's community (index into `communities`), [`NO_COMMUNITY`] when none.
    pub member_of: Vec<u32>,
}

/// `State::member_of` of a household in no community.
pub const NO_COMMUNITY: u32 = u32::MAX;

impl State {
    pub fn new(households: usize) -> Self {
        State::with_communities(households, 0)
    }

    /// Zero balances for `households` households and `communities` treasuries, nobody a member.
    pub fn with_communities(households: usize, communities: usize) -> Self {
        let member_of = if communities > 0 { vec![NO_COMMUNITY; households] } else { Vec::new() };
        State { households: vec![0; households], communities: vec![0; communities], member_of, ..Default::default() }
    }

    /// The index into `communities` of account `Community(i)`, if it exists.
    pub fn community_slot(&self, i: u32) -> Option<usize> {
        (i as usize).checked_sub(self.households.len()).filter(|k| *k < self.communities.len())
    }

    fn slot(&mut self, a: AccountRef) -> Option<&mut i64> {
        match a {
            AccountRef::Household(i) => self.households.get_mut(i as usize),
            AccountRef::Grid => Some(&mut self.grid),
            AccountRef::Network => Some(&mut self.network),
            AccountRef::Fund => Some(&mut self.fund),
            AccountRef::Pool => Some(&mut self.pool),
            AccountRef::Supplier => (!self.communities.is_empty()).then_some(&mut self.supplier),
            AccountRef::Community(i) => {
                let k = self.community_slot(i)?;
                self.communities.get_mut(k)
            }
        }
    }

    /// Applies a transaction: the buyer pays `amount` to the seller, the seller pays `fee` to
    /// the fund, or, when the seller is a household in a community, to that community's
    /// treasury. `join` and `leave` change the household's community; votes and referendum
    /// outcomes move nothing. Returns false if an account does not exist, a balance would
    /// overflow, a household joins while in a community or leaves one it is not in, or votes in
    /// a community it is not in.
    pub fn apply(&mut self, tx: &Tx) -> bool {
        // Checked: a crafted amount must not wrap a balance around.
        fn add(v: &mut i64, d: Option<i64>) -> bool {
            match d.and_then(|d| v.checked_add(d)) {
                Some(x) => {
                    *v = x;
                    true
                }
                None => false,
            }
        }
        if matches!(tx.kind, TxKind::Join | TxKind::Leave) {
            let (AccountRef::Community(c), AccountRef::Household(h)) = (tx.seller, tx.buyer) else { return false };
            let (Some(k), Some(m)) = (self.community_slot(c), self.member_of.get_mut(h as usize)) else { return false };
            return match tx.kind {
                TxKind::Join if *m == NO_COMMUNITY => {
                    *m = k as u32;
                    true
                }
                TxKind::Leave if *m == k as u32 => {
                    *m = NO_COMMUNITY;
                    true
                }
                _ => false,
            };
        }
        // A vote is a member's, in its own community's referendum; an outcome is its community's.
        if matches!(tx.kind, TxKind::VoteYes | TxKind::VoteNo) {
            let (AccountRef::Community(c), AccountRef::Household(h)) = (tx.seller, tx.buyer) else { return false };
            return self.community_slot(c).is_some_and(|k| self.member_of.get(h as usize) == Some(&(k as u32)));
        }
        if matches!(tx.kind, TxKind::ReferendumPassed | TxKind::ReferendumFailed) {
            return matches!((tx.seller, tx.buyer), (AccountRef::Community(a), AccountRef::Community(b)) if a == b && self.community_slot(a).is_some());
        }
        let (amount, fee) = (tx.amount_micro, tx.fee_micro);
        let community = match tx.seller {
            AccountRef::Household(h) => self.member_of.get(h as usize).copied().filter(|k| *k != NO_COMMUNITY),
            _ => None,
        };
        self.slot(tx.buyer).is_some_and(|b| add(b, amount.checked_neg()))
            && self.slot(tx.seller).is_some_and(|s| add(s, amount.checked_sub(fee)))
            && match community {
                Some(k) => add(&mut self.communities[k as usize], Some(fee)),
                None => add(&mut self.fund, Some(fee)),
            }
    }

    /// Counts `tx` among the records of the communities it belongs to, by slot: its treasury's,
    /// and those its household parties are members of before it.
    pub fn count_records(&self, tx: &Tx, records: &mut [u64]) {
        let of = |a: AccountRef| match a {
            AccountRef::Household(h) => self.member_of.get(h as usize).copied().filter(|k| *k != NO_COMMUNITY).map(|k| k as usize),
            AccountRef::Community(i) => self.community_slot(i),
            _ => None,
        };
        let (s, b) = (of(tx.seller), of(tx.buyer));
        for k in [s, b.filter(|b| Some(*b) != s)].into_iter().flatten() {
            if let Some(r) = records.get_mut(k) {
                *r += 1;
            }
        }
    }

    /// Sum of all balances (always zero: every payment has a payer and a payee).
    pub fn total(&self) -> i128 {
        self.households.iter().chain(&self.communities).map(|v| i128::from(*v)).sum::<i128>() + [self.grid, self.network, self.fund, self.pool, self.supplier].iter().map(|v| i128::from(*v)).sum::<i128>()
    }

    /// The root of `households` zero balances (a genesis state), without allocating them.
    pub fn zero_root(households: usize) -> Hash {
        let mut h = Sha256::new();
        h.update(STATE_TAG);
        h.update((households as u32).to_be_bytes());
        let zeros = [0u8; 8 * 256];
        let mut left = households * 8 + 4 * 8;
        while left > 0 {
            let n = left.min(zeros.len());
            h.update(&zeros[..n]);
            left -= n;
        }
        h.finalize().into()
    }

    /// SHA-256(`"peergrid-state-v1" ‖ n u32 ‖ n × household balance i64 ‖ grid ‖ network ‖ fund ‖ pool`
    /// [‖ k u32 ‖ k × community treasury i64 ‖ supplier i64]`), the part in brackets only in runs
    /// with `k` > 0 communities.
    pub fn root(&self) -> Hash {
        let mut h = Sha256::new();
        h.update(STATE_TAG);
        h.update((self.households.len() as u32).to_be_bytes());
        update_words(&mut h, &self.households, i64::to_be_bytes);
        for v in [self.grid, self.network, self.fund, self.pool] {
            h.update(v.to_be_bytes());
        }
        if !self.communities.is_empty() {
            h.update((self.communities.len() as u32).to_be_bytes());
            update_words(&mut h, &self.communities, i64::to_be_bytes);
            h.update(self.supplier.to_be_bytes());
        }
        h.finalize().into()
    }
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses 64 hex digits.
pub fn parse_hash(s: &str) -> Option<Hash> {
    let v = parse_hex(s)?;
    v.try_into().ok()
}

pub fn parse_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| s.get(i..i + 2).and_then(|b| u8::from_str_radix(b, 16).ok())).collect()
}

/// The canonical bytes of the genesis facts: `"peergrid-genesis-v2" ‖ seed u64 ‖ witnesses u32 ‖
/// votes_per_household u32 ‖ max_transactions_per_block u32 ‖ step_seconds u32 ‖ steps u64 ‖
/// scenario_len u16 ‖ scenario ‖ stake_len u16 ‖ stake`.
pub fn encode_genesis_info(buf: &mut Vec<u8>, info: &super::json::GenesisInfo) {
    buf.clear();
    buf.extend_from_slice(GENESIS_TAG);
    buf.extend_from_slice(&info.seed.to_be_bytes());
    for v in [info.witnesses, info.votes_per_household, info.max_transactions_per_block, info.step_seconds] {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    buf.extend_from_slice(&info.steps.to_be_bytes());
    for s in [&info.scenario, &info.stake] {
        buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
        buf.extend_from_slice(s.as_bytes());
    }
    // Runs with communities: their ids, in order (`k u32 ‖ k × (len u16 ‖ id)`).
    if !info.communities.is_empty() {
        buf.extend_from_slice(&(info.communities.len() as u32).to_be_bytes());
        for s in &info.communities {
            buf.extend_from_slice(&(s.len() as u16).to_be_bytes());
            buf.extend_from_slice(s.as_bytes());
        }
    }
}

/// Feeds `values` to `h` as 8-byte big-endian words, in chunks to keep the buffer small and the
/// calls few.
fn update_words<T: Copy>(h: &mut Sha256, values: &[T], be_bytes: impl Fn(T) -> [u8; 8]) {
    let mut chunk = [0u8; 8 * 256];
    for part in values.chunks(256) {
        for (i, v) in part.iter().enumerate() {
            chunk[i * 8..i * 8 + 8].copy_from_slice(&be_bytes(*v));
        }
        h.update(&chunk[..part.len() * 8]);
    }
}

/// The root of a stake table: SHA-256(`"peergrid-stakes-v1" ‖ n u32 ‖ n × stake u64`), stakes in
/// household order.
pub fn stake_root(stakes: &[u64]) -> Hash {
    let mut h = Sha256::new();
    h.update(STAKES_TAG);
    h.update((stakes.len() as u32).to_be_bytes());
    update_words(&mut h, stakes, u64::to_be_bytes);
    h.finalize().into()
}

/// The root of an election: SHA-256(`"peergrid-election-v1" ‖ round u64 ‖ stake root (32) ‖ k u32 ‖
/// k × witness u32`), over the root of the stake table it used ([`stake_root`]) and the
/// witnesses it elected, in slot order.
pub fn election_root(round: u64, stake_root: &Hash, witnesses: &[u32]) -> Hash {
    let mut h = Sha256::new();
    h.update(ELECTION_TAG);
    h.update(round.to_be_bytes());
    h.update(stake_root);
    h.update((witnesses.len() as u32).to_be_bytes());
    for w in witnesses {
        h.update(w.to_be_bytes());
    }
    h.finalize().into()
}
