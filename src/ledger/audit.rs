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
    if t.community_received != 0 || t.community_contributed != 0 {
        let _ = writeln!(out, "  paid by its community {:.6}, contributed to one {:.6}", from_micro(t.community_received), from_micro(t.community_contributed));
    }
    if t.battery_bought_kwh_micro != 0 || t.battery_sold_kwh_micro != 0 {
        let _ = writeln!(
            out,
            "  community battery: bought {:.6} kWh, paid {:.6}; sold {:.6} kWh, received {:.6}",
            from_micro(t.battery_bought_kwh_micro),
            from_micro(t.battery_paid),
            from_micro(t.battery_sold_kwh_micro),
            from_micro(t.battery_received)
        );
    }
    if t.supply_charges != 0 || t.demand_charges != 0 {
        let _ = writeln!(out, "  tariff charges paid to the grid: supply {:.6}, demand {:.6}", from_micro(t.supply_charges), from_micro(t.demand_charges));
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

/// `peergrid audit DIR --community ID`: a community treasury's books from the ledger alone:
/// its members' joins and leaves, every inflow (fees on its members' sales while they were
/// members, founding contributions, its battery's sales and buy-back) and outflow (payouts, its
/// battery's purchase and charging), and its balance, checked against
/// `summary.json` and `communities.csv` when they are beside the ledger. `list` lists every
/// fee too (otherwise they are summed per member).
pub fn community_statement(dir: &Path, community: &str, list: bool, anchors: &Anchors) -> Result<String, Failure> {
    let ledger = if dir.is_dir() { dir.join("ledger.jsonl") } else { dir.to_path_buf() };
    if dir.is_dir() && !ledger.exists() && let Some(why) = super::verify::unwritten_ledger(dir, anchors)? {
        return Err(why);
    }
    let mut me: Option<AccountRef> = None;
    let mut members = std::collections::HashSet::new();
    let (mut fees, mut contributions, mut joins, mut leaves) = (0i64, 0i64, 0u64, 0u64);
    // Paid out, by kind: witness pay, rebates, solidarity, default shares.
    let mut paid: BTreeMap<&'static str, i64> = BTreeMap::new();
    // Its battery: sales to members and the buy-back in, charging and the purchase out.
    let (mut battery_sales, mut battery_buyback, mut battery_charges, mut battery_purchase) = (0i64, 0i64, 0i64, 0i64);
    let mut fee_by_member: BTreeMap<String, (i64, u64)> = BTreeMap::new();
    let mut sealed_periods: Vec<u64> = Vec::new();
    let mut listing = String::new();
    let chain = walk(&ledger, |m, b| {
        if me.is_none() {
            me = m.community(community);
        }
        let Some(me) = me else { return };
        // Its witnesses' seals (checked by the walk), listed after the block's records.
        let mut sealed_here = String::new();
        for (seal, json) in b.header.seals.iter().zip(&b.json.seals) {
            if AccountRef::Community(seal.community) == me {
                if !sealed_periods.contains(&seal.period) {
                    sealed_periods.push(seal.period);
                }
                let _ = writeln!(sealed_here, "  block {:>6}  seal of period {} by {} ({} records, treasury {})", b.header.height, seal.period, json.witness, seal.records, json.treasury);
            }
        }
        for (tx, json) in b.txs.iter().zip(&b.json.transactions) {
            let line = |listing: &mut String| {
                let _ = writeln!(listing, "  block {:>6}  {:<14} {:<12} {:<16} {:<16} {:>12.6}", b.header.height, json.id, json.kind, json.seller, json.buyer, json.amount);
            };
            match tx.kind {
                TxKind::Join | TxKind::Leave if tx.seller == me => {
                    if tx.kind == TxKind::Join {
                        members.insert(tx.buyer);
                        joins += 1;
                    } else {
                        members.remove(&tx.buyer);
                        leaves += 1;
                    }
                    line(&mut listing);
                }
                TxKind::Contribution if tx.seller == me => {
                    contributions += tx.amount_micro;
                    line(&mut listing);
                }
                TxKind::BatterySale | TxKind::BatteryBuyback if tx.seller == me => {
                    *if tx.kind == TxKind::BatterySale { &mut battery_sales } else { &mut battery_buyback } += tx.amount_micro;
                    if list || tx.kind == TxKind::BatteryBuyback {
                        line(&mut listing);
                    }
                }
                TxKind::BatteryCharge | TxKind::BatteryPurchase if tx.buyer == me => {
                    *if tx.kind == TxKind::BatteryCharge { &mut battery_charges } else { &mut battery_purchase } += tx.amount_micro;
                    if list || tx.kind == TxKind::BatteryPurchase {
                        line(&mut listing);
                    }
                }
                k if k.is_payout() && tx.buyer == me => {
                    *paid.entry(k.label()).or_default() += tx.amount_micro;
                    line(&mut listing);
                }
                TxKind::P2p | TxKind::PoolSell if tx.fee_micro != 0 && members.contains(&tx.seller) => {
                    fees += tx.fee_micro;
                    let e = fee_by_member.entry(json.seller.clone()).or_default();
                    e.0 += tx.fee_micro;
                    e.1 += 1;
                    if list {
                        let _ = writeln!(listing, "  block {:>6}  {:<14} {:<12} {:<16} {:<16} {:>12.6} (fee of a {} sale)", b.header.height, json.id, "fee", json.seller, community, json.fee, json.kind);
                    }
                }
                _ => {}
            }
        }
        listing.push_str(&sealed_here);
    })?;
    let me = me.ok_or_else(|| {
        let listed = &chain.members.info.communities;
        let known = if listed.is_empty() { "the run has no communities".to_string() } else { format!("its genesis block lists: {}", listed.join(", ")) };
        Failure::bad_input(&ledger, format!("no community `{community}` in the ledger ({known})"))
    })?;
    super::verify::check_anchors(&ledger, &chain, anchors, None)?;
    let AccountRef::Community(i) = me else { unreachable!("a community's account") };
    let balance = chain.state.communities[i as usize - chain.members.ids.len()];
    let mut out = String::new();
    let _ = writeln!(out, "Books of community {community}, from {} ({} blocks, verified)", ledger.display(), chain.blocks);
    let anchored = if anchors.head.is_some() { "anchored".to_string() } else { "NOT anchored: compare it with the head published for the run, or give --expect-head".to_string() };
    let _ = writeln!(out, "  chain head {} ({anchored}); {}", hex(&chain.head), chain.members.key_note());
    let _ = writeln!(out, "  members: {joins} joined, {leaves} left, {} at the end; {} periods sealed by its own witnesses", members.len(), sealed_periods.len());
    let _ = writeln!(out, "  in:  fees on members' sales {:>14.6}  founding contributions {:>12.6}", from_micro(fees), from_micro(contributions));
    let payouts: i64 = paid.values().sum();
    let by_kind = |k: TxKind| paid.get(k.label()).copied().unwrap_or(0);
    let (witness, rebates, solidarity, shares) = (by_kind(TxKind::WitnessPay), by_kind(TxKind::Rebate), by_kind(TxKind::Solidarity), by_kind(TxKind::DefaultShare));
    let _ = writeln!(out, "  out: witness pay {:>14.6}  rebates {:>12.6}  solidarity {:>12.6}  default shares {:>12.6}", from_micro(witness), from_micro(rebates), from_micro(solidarity), from_micro(shares));
    let any_battery = battery_purchase != 0 || battery_sales != 0 || battery_charges != 0;
    if any_battery {
        let _ = writeln!(
            out,
            "  battery: bought {:>12.6}  sales to members {:>12.6}  charging paid {:>12.6}  bought back {:>12.6}",
            from_micro(battery_purchase),
            from_micro(battery_sales),
            from_micro(battery_charges),
            from_micro(battery_buyback)
        );
    }
    let net = fees + contributions + battery_sales + battery_buyback - payouts - battery_charges - battery_purchase;
    let _ = writeln!(out, "  treasury {:.6} (in − out = {:.6})", from_micro(balance), from_micro(net));
    if net != balance {
        return Err(Failure { file: ledger, line: 0, height: None, message: format!("community {community}: its inflows less outflows are not its replayed balance"), bad_input: false });
    }
    if !fee_by_member.is_empty() {
        let _ = writeln!(out, "  fees by member (fees, sales):");
        for (name, (f, n)) in &fee_by_member {
            let _ = writeln!(out, "    {name:<14} {:>12.6} {n:>8}", from_micro(*f));
        }
    }
    out.push_str("  records (block, id, kind, seller, buyer, amount) and its witnesses' seals:\n");
    out.push_str(&listing);
    // What the run reported, beside the ledger.
    let summary = ledger.with_file_name("summary.json");
    if let Ok(bytes) = std::fs::read(&summary) {
        let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| Failure { file: summary.clone(), line: 0, height: None, message: format!("not JSON: {e}"), bad_input: false })?;
        let row = v.get("communities").and_then(|c| c.as_array()).and_then(|cs| cs.iter().find(|c| c.get("id").and_then(|x| x.as_str()) == Some(community)));
        let num = |k: &str| row.and_then(|r| r.get(k)).and_then(|x| x.as_f64()).map(super::encoding::to_micro);
        let battery = |k: &str| match row.and_then(|r| r.get("battery")).filter(|b| !b.is_null()) {
            Some(b) => b.get(k).and_then(|x| x.as_f64()).map(super::encoding::to_micro),
            None => Some(0),
        };
        let checks = [
            ("battery.cost", battery("cost"), battery_purchase),
            ("battery.sales", battery("sales"), battery_sales),
            ("battery.purchases", battery("purchases"), battery_charges),
            ("battery.bought_back", battery("bought_back"), battery_buyback),
            ("treasury", num("treasury"), balance),
            ("fees_collected", num("fees_collected"), fees),
            ("contributions", num("contributions"), contributions),
            ("witness_paid", num("witness_paid"), witness),
            ("rebates_paid", num("rebates_paid"), rebates),
            ("solidarity_paid", num("solidarity_paid"), solidarity),
            ("default_paid", num("default_paid"), shares),
        ];
        for (name, reported, books) in checks {
            if reported != Some(books) {
                return Err(Failure { file: summary, line: 0, height: None, message: format!("community {community}: {name} is {} in summary.json but {} on its books", reported.map_or("absent".into(), |r| from_micro(r).to_string()), from_micro(books)), bad_input: false });
            }
        }
        out.push_str("  matches summary.json: yes (treasury, fees, contributions, each kind of payout and its battery's money to the micro-unit)\n");
    }
    let csv = ledger.with_file_name("communities.csv");
    if csv.exists() {
        let sums = [("fees_collected", fees), ("witness_paid", witness), ("services_paid", rebates + solidarity), ("battery_sales", battery_sales), ("battery_purchases", battery_charges)];
        check_daily(&csv, community, balance, &sums)?;
        out.push_str("  matches communities.csv: yes (its last day's treasury; fees, witness pay, services and battery money summed over its days)\n");
    }
    Ok(out)
}

/// Checks a community's rows of `communities.csv` against its books: the last day's treasury,
/// and each of `sums` (a column, its total on the books) summed over its days.
fn check_daily(csv: &Path, community: &str, balance: i64, sums: &[(&str, i64)]) -> Result<(), Failure> {
    let bad = |m: String| Failure { file: csv.to_path_buf(), line: 0, height: None, message: format!("community {community}: {m}"), bad_input: false };
    let mut r = csv::Reader::from_path(csv).map_err(|e| bad(format!("cannot read: {e}")))?;
    let headers = r.headers().map_err(|e| bad(e.to_string()))?.clone();
    let col = |name: &str| headers.iter().position(|h| h == name).ok_or_else(|| bad(format!("no column `{name}`")));
    let (id_col, treasury_col) = (col("community")?, col("treasury")?);
    let cols: Vec<usize> = sums.iter().map(|(name, _)| col(name)).collect::<Result<_, _>>()?;
    let mut totals = vec![0i64; sums.len()];
    let mut last = None;
    for rec in r.records() {
        let rec = rec.map_err(|e| bad(e.to_string()))?;
        if rec.get(id_col) != Some(community) {
            continue;
        }
        let money = |i: usize| rec.get(i).and_then(|v| v.parse::<f64>().ok()).map(super::encoding::to_micro);
        for (t, c) in totals.iter_mut().zip(&cols) {
            *t += money(*c).unwrap_or(0);
        }
        last = money(treasury_col);
    }
    // A community never founded has no rows and an empty treasury.
    if last.unwrap_or(0) != balance || (last.is_none() && balance != 0) {
        return Err(bad(format!("its last day's treasury is not its balance on the books ({})", from_micro(balance))));
    }
    for ((name, books), total) in sums.iter().zip(totals) {
        if total != *books {
            return Err(bad(format!("{name} adds up to {} over its days but {} on its books", from_micro(total), from_micro(*books))));
        }
    }
    Ok(())
}
