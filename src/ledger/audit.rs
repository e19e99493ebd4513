//! `peergrid audit DIR --household ID`: a household's statement from the ledger alone.

use super::encoding::{from_micro, AccountRef, TxKind};
use super::encoding::hex;
use super::verify::{compare, read_households, walk, Anchors, Failure, HouseholdTotals};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::Path;

#[derive(Default)]
struct Counterparty {
    bought_kwh: i64,
    sold_kwh: i64,
    paid: i64,
    received: i64,
    trades: u64,
}

/// The statement text; `trades` lists every transaction of the household.
/// The statement is of a chain checked against `anchors` (when given); it says whether it is.
pub fn statement(dir: &Path, household: &str, trades: bool, anchors: &Anchors) -> Result<String, Failure> {
    let ledger = if dir.is_dir() { dir.join("ledger.jsonl") } else { dir.to_path_buf() };
    if dir.is_dir() && !ledger.exists() && let Some(why) = super::verify::unwritten_ledger(dir, anchors)? {
        return Err(why);
    }
    let mut who: Option<u32> = None;
    let mut parties: BTreeMap<String, Counterparty> = BTreeMap::new();
    let mut listing = String::new();
    let chain = walk(&ledger, |m, b| {
        if who.is_none() {
            who = m.account(household).and_then(|a| match a {
                AccountRef::Household(i) => Some(i),
                _ => None,
            });
        }
        let Some(me) = who else { return };
        for (tx, json) in b.txs.iter().zip(&b.json.transactions) {
            let (mine_as_seller, mine_as_buyer) = (tx.seller == AccountRef::Household(me), tx.buyer == AccountRef::Household(me));
            if !mine_as_seller && !mine_as_buyer {
                continue;
            }
            if trades {
                let _ = writeln!(listing, "  block {:>6}  {:<14} {:<9} seller {:<12} buyer {:<12} {:>10.6} kWh @ {:.6} = {:.6} fee {:.6}", b.header.height, json.id, json.kind, json.seller, json.buyer, json.kwh, json.price, json.amount, json.fee);
            }
            if matches!(tx.kind, TxKind::P2p | TxKind::PoolBuy | TxKind::PoolSell) {
                let other = if mine_as_seller { m.name(tx.buyer) } else { m.name(tx.seller) }.to_string();
                let c = parties.entry(other).or_default();
                c.trades += 1;
                if mine_as_seller {
                    c.sold_kwh += tx.kwh_micro;
                    c.received += tx.amount_micro;
                } else {
                    c.bought_kwh += tx.kwh_micro;
                    c.paid += tx.amount_micro;
                }
            }
        }
    })?;
    let me = who.ok_or_else(|| Failure::bad_input(&ledger, format!("no household `{household}` in the ledger")))?;
    let t: &HouseholdTotals = &chain.totals[me as usize];
    let balance = chain.state.households[me as usize];
    let mut out = String::new();
    super::verify::check_anchors(&ledger, &chain, anchors, None)?;
    let _ = writeln!(out, "Statement of household {household}, from {} ({} blocks, verified)", ledger.display(), chain.blocks);
    let anchored = if anchors.head.is_some() { "anchored".to_string() } else { "NOT anchored: compare it with the head published for the run, or give --expect-head".to_string() };
    let _ = writeln!(out, "  chain head {} ({anchored}); {}", hex(&chain.head), chain.members.key_note());
    let _ = writeln!(out, "  peer energy bought {:>12.6} kWh, paid     {:>14.6}", from_micro(t.p2p_bought_kwh_micro), from_micro(t.p2p_paid));
    let _ = writeln!(out, "  peer energy sold   {:>12.6} kWh, received {:>14.6} (fees to the fund {:.6})", from_micro(t.p2p_sold_kwh_micro), from_micro(t.p2p_received), from_micro(t.fees_paid));
    let _ = writeln!(
        out,
        "  grid imported      {:>12.6} kWh, exported {:.6} kWh, net paid {:.6}",
        from_micro(t.grid_import_kwh_micro),
        from_micro(t.grid_export_kwh_micro),
        from_micro(t.grid_net_paid)
    );
    let _ = writeln!(out, "  block rewards received {:.6}", from_micro(t.rewards_received));
    if t.network_fees_paid != 0 {
        let _ = writeln!(out, "  network fees paid {:.6}", from_micro(t.network_fees_paid));
    }
    let _ = writeln!(out, "  balance {:.6}, bill {:.6} ({} transactions)", from_micro(balance), from_micro(-balance), t.transactions);
    if !parties.is_empty() {
        let _ = writeln!(out, "  counterparties (bought kWh, paid, sold kWh, received, trades):");
        for (name, c) in &parties {
            let _ = writeln!(out, "    {name:<14} {:>12.6} {:>12.6} {:>12.6} {:>12.6} {:>6}", from_micro(c.bought_kwh), from_micro(c.paid), from_micro(c.sold_kwh), from_micro(c.received), c.trades);
        }
    }
    if trades {
        out.push_str("  transactions:\n");
        out.push_str(&listing);
    }
    let csv = ledger.with_file_name("households.csv");
    if csv.exists() {
        let rows = read_households(&csv)?;
        let row = rows.iter().find(|r| r.household == household);
        match row.map(|r| compare(r, t, balance)) {
            Some(None) => out.push_str("  matches households.csv: yes (money exact, energy to the ledger's micro-kWh rounding)\n"),
            Some(Some(problem)) => {
                return Err(Failure { file: csv, line: 0, height: None, message: format!("household {household}: {problem}"), bad_input: false });
            }
            None => return Err(Failure { file: csv, line: 0, height: None, message: format!("no household `{household}`"), bad_input: false }),
        }
    }
    Ok(out)
}
