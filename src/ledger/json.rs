//! `ledger.jsonl`: one block per line. Written by hand (fast: millions of transactions), read
//! with serde (strict: unknown fields are errors). Field names are a contract for other tools.
//!
//! Numbers are decimals of the hashed integer units (kWh, currency, currency per kWh), printed as
//! the shortest decimal that parses back to the same integer micro-units.

use super::encoding::{hex, AccountRef, Hash, Header, Tx};
use serde::Deserialize;
use std::fmt::Write;

/// What the genesis block records besides its members.
#[derive(Debug, Clone, PartialEq, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisInfo {
    pub scenario: String,
    pub seed: u64,
    pub witnesses: u32,
    /// Candidates each household votes for in an election.
    pub votes_per_household: u32,
    /// A block at the same step as the one before follows only a full one.
    pub max_transactions_per_block: u32,
    /// Seconds per step: block `time` is the genesis time plus `step` × this.
    pub step_seconds: u32,
    /// Steps in the run: every block's step is below it.
    pub steps: u64,
    pub stake: String,
    /// The ids of the run's communities, in order (empty: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub communities: Vec<String>,
}

/// An account's name in JSON. `ids`: the run's names, households then community treasuries
/// (`community:ID`).
pub fn account_name<'a>(a: AccountRef, ids: &'a [String]) -> &'a str {
    match a {
        AccountRef::Household(i) | AccountRef::Community(i) => ids.get(i as usize).map_or("?", String::as_str),
        other => other.system_name().unwrap_or("?"),
    }
}

/// Writes micro-units as the shortest exact decimal (`0.000665`, `0.12`, `3`), from the integer:
/// it reads back to the same micro-units and needs no float formatting.
pub fn num(out: &mut String, micro: i64) {
    if micro < 0 {
        out.push('-');
    }
    let a = micro.unsigned_abs();
    let (int, mut frac) = (a / 1_000_000, a % 1_000_000);
    int_(out, int);
    if frac > 0 {
        let mut digits = 6;
        while frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        out.push('.');
        let mut buf = itoa::Buffer::new();
        let f = buf.format(frac);
        for _ in f.len()..digits {
            out.push('0');
        }
        out.push_str(f);
    }
}

/// Appends an unsigned integer.
pub fn int_(out: &mut String, v: u64) {
    out.push_str(itoa::Buffer::new().format(v));
}

/// Appends one transaction object.
pub fn write_tx(out: &mut String, tx: &Tx, ids: &[String]) {
    out.push_str("{\"id\":\"");
    tx.write_id(out);
    out.push_str("\",\"kind\":\"");
    out.push_str(tx.kind.label());
    out.push_str("\",\"step\":");
    int_(out, tx.step);
    out.push_str(",\"seller\":\"");
    out.push_str(account_name(tx.seller, ids));
    out.push_str("\",\"buyer\":\"");
    out.push_str(account_name(tx.buyer, ids));
    out.push_str("\",\"kwh\":");
    num(out, tx.kwh_micro);
    out.push_str(",\"price\":");
    // The shortest decimal that reads back to the same binary64 (no exponent: valid JSON).
    let _ = std::fmt::Write::write_fmt(out, format_args!("{}", tx.price()));
    out.push_str(",\"amount\":");
    num(out, tx.amount_micro);
    out.push_str(",\"fee\":");
    num(out, tx.fee_micro);
    if tx.kind == super::encoding::TxKind::Grid {
        out.push_str(",\"import_kwh\":");
        num(out, tx.import_kwh_micro);
        out.push_str(",\"export_kwh\":");
        num(out, tx.export_kwh_micro);
    }
    if tx.loss_kwh_micro != 0 {
        out.push_str(",\"loss_kwh\":");
        num(out, tx.loss_kwh_micro);
    }
    out.push('}');
}

/// Appends the header fields shared by all blocks (without the closing brace).
fn write_header(out: &mut String, h: &Header, hash: &Hash, producer: &str, time: &str, signature: &str, ids: &[String]) {
    let _ = write!(
        out,
        "{{\"height\":{},\"hash\":\"{}\",\"prev_hash\":\"{}\",\"history_root\":\"{}\",\"merkle_root\":\"{}\",\"state_root\":\"{}\",\"election_root\":\"{}\",\"producer\":\"{}\",\"time\":\"{}\",\"step\":{},\"tx_count\":{},\"missed\":[",
        h.height,
        hex(hash),
        hex(&h.prev_hash),
        hex(&h.history_root),
        hex(&h.merkle_root),
        hex(&h.state_root),
        hex(&h.election_root),
        producer,
        time,
        h.step,
        h.tx_count
    );
    for (i, m) in h.missed.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "\"{}\"", ids[*m as usize]);
    }
    out.push(']');
    if !h.seals.is_empty() {
        out.push_str(",\"seals\":[");
        for (i, seal) in h.seals.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let name = |k: u32| ids.get(k as usize).map_or("?", String::as_str);
            let _ = write!(out, "{{\"community\":\"{}\",\"period\":{},\"witness\":\"{}\",\"records\":{},\"treasury\":", name(seal.community), seal.period, name(seal.witness), seal.records);
            num(out, seal.treasury);
            let _ = write!(out, ",\"signature\":\"{}\"}}", hex(&seal.signature));
        }
        out.push(']');
    }
    let _ = write!(out, ",\"signature\":\"{signature}\"");
}

/// Appends a block line (with its newline).
#[allow(clippy::too_many_arguments)]
pub fn write_block(out: &mut String, h: &Header, hash: &Hash, producer: &str, time: &str, signature: &[u8], txs: &[Tx], ids: &[String]) {
    write_header(out, h, hash, producer, time, &hex(signature), ids);
    out.push_str(",\"transactions\":[");
    write_txs(out, txs, ids);
    out.push_str("]}\n");
}

/// Transactions per chunk when a large block is formatted in parallel.
const PARALLEL_CHUNK: usize = 4096;

/// Appends comma-separated transactions; large blocks are formatted in parallel chunks and
/// joined in order (the bytes are the same as formatting them one by one).
pub fn write_txs(out: &mut String, txs: &[Tx], ids: &[String]) {
    use rayon::prelude::*;
    let one = |s: &mut String, part: &[Tx]| {
        for (i, tx) in part.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_tx(s, tx, ids);
        }
    };
    if txs.len() <= PARALLEL_CHUNK {
        one(out, txs);
        return;
    }
    let parts: Vec<String> = txs
        .par_chunks(PARALLEL_CHUNK)
        .map(|part| {
            let mut s = String::with_capacity(part.len() * 140);
            one(&mut s, part);
            s
        })
        .collect();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(p);
    }
}

/// Appends the genesis line: members (id, public key, fixed stake) and the run's facts.
#[allow(clippy::too_many_arguments)]
pub fn write_genesis(out: &mut String, h: &Header, hash: &Hash, time: &str, info: &GenesisInfo, ids: &[String], keys: &[[u8; 32]], stakes: &[u64]) {
    write_header(out, h, hash, GENESIS_NAME, time, "", ids);
    let _ = write!(
        out,
        ",\"transactions\":[],\"genesis\":{{\"scenario\":{},\"seed\":{},\"witnesses\":{},\"votes_per_household\":{},\"max_transactions_per_block\":{},\"step_seconds\":{},\"steps\":{},\"stake\":\"{}\",\"members\":[",
        serde_json::Value::String(info.scenario.clone()),
        info.seed,
        info.witnesses,
        info.votes_per_household,
        info.max_transactions_per_block,
        info.step_seconds,
        info.steps,
        info.stake
    );
    if !info.communities.is_empty() {
        // Before the members: `members` stays the last field.
        out.truncate(out.len() - ",\"members\":[".len());
        out.push_str(",\"communities\":");
        out.push_str(&serde_json::to_string(&info.communities).unwrap_or_default());
        out.push_str(",\"members\":[");
    }
    for (i, ((id, key), stake)) in ids.iter().zip(keys).zip(stakes).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"id\":\"{id}\",\"public_key\":\"{}\",\"stake\":{stake}}}", hex(key));
    }
    out.push_str("]}}\n");
}

/// Producer name of the genesis block.
pub const GENESIS_NAME: &str = "genesis";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlockJson {
    pub height: u64,
    pub hash: String,
    pub prev_hash: String,
    pub history_root: String,
    pub merkle_root: String,
    pub state_root: String,
    pub election_root: String,
    pub producer: String,
    pub time: String,
    pub step: u64,
    pub tx_count: u32,
    pub missed: Vec<String>,
    /// Communities' seals (runs with communities, blocks that end a community's period).
    #[serde(default)]
    pub seals: Vec<SealJson>,
    pub signature: String,
    pub transactions: Vec<TxJson>,
    #[serde(default)]
    pub genesis: Option<GenesisJson>,
}

/// A community witness's seal, as a block line shows it.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SealJson {
    pub community: String,
    pub period: u64,
    pub witness: String,
    pub records: u64,
    pub treasury: f64,
    pub signature: String,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TxJson {
    pub id: String,
    pub kind: String,
    pub step: u64,
    pub seller: String,
    pub buyer: String,
    pub kwh: f64,
    pub price: f64,
    pub amount: f64,
    pub fee: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import_kwh: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_kwh: Option<f64>,
    /// Peer deliveries with line losses: energy lost on the way, kWh (`kwh` is what arrived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_kwh: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisJson {
    pub scenario: String,
    pub seed: u64,
    pub witnesses: u32,
    pub votes_per_household: u32,
    pub max_transactions_per_block: u32,
    pub step_seconds: u32,
    pub steps: u64,
    pub stake: String,
    /// Runs with communities: their ids.
    #[serde(default)]
    pub communities: Vec<String>,
    pub members: Vec<MemberJson>,
}

impl GenesisJson {
    /// The genesis facts, as hashed.
    pub fn info(&self) -> GenesisInfo {
        GenesisInfo {
            scenario: self.scenario.clone(),
            seed: self.seed,
            witnesses: self.witnesses,
            votes_per_household: self.votes_per_household,
            max_transactions_per_block: self.max_transactions_per_block,
            step_seconds: self.step_seconds,
            steps: self.steps,
            stake: self.stake.clone(),
            communities: self.communities.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberJson {
    pub id: String,
    pub public_key: String,
    pub stake: u64,
}

#[cfg(test)]
mod tests {
    #[test]
    fn decimals_are_exact_and_short() {
        for (micro, text) in [(0, "0"), (665, "0.000665"), (120_000, "0.12"), (3_000_000, "3"), (-1_500_000, "-1.5"), (98_056, "0.098056")] {
            let mut s = String::new();
            super::num(&mut s, micro);
            assert_eq!(s, text);
            assert_eq!(crate::ledger::encoding::to_micro(s.parse().unwrap()), micro);
        }
    }
}
