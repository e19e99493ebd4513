//! The communities' outputs: `communities.csv` (a row per community per local day),
//! `switches.csv` (a row per move), `referendums.csv` (a row per referendum) and
//! `summary.json`'s `communities`.

use crate::base::money::Micros;
use crate::community::fee::rate_fraction;
use crate::community::{Communities, CommunityTotals};
use crate::scenario::Scenario;
use crate::settlement::CommunityFunds;
use crate::sim::HouseholdResult;
use serde::Serialize;
use std::path::Path;

/// Columns of `communities.csv` (a contract: add, never rename).
pub const COMMUNITY_COLUMNS: [&str; 23] = [
    "day", "community", "members", "joined", "left", "fee_rate", "treasury", "p2p_kwh", "buy_price_mean", "sell_price_mean", "services_paid", "proposals", "passed",
    "witness_paid", "fees_collected", "status", "name",
    // Its battery (empty when it has none).
    "battery_soc_kwh", "battery_value", "battery_delivered_kwh", "battery_charged_kwh", "battery_sales", "battery_purchases",
];

pub fn write_csv(dir: &Path, communities: &Communities) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("communities.csv"))?;
    w.write_record(COMMUNITY_COLUMNS)?;
    let cfg = &communities.config.communities;
    for r in &communities.log {
        let c = &cfg[r.community as usize];
        w.write_record([
            r.day.to_string(),
            c.id.clone(),
            r.members.to_string(),
            r.joined.to_string(),
            r.left.to_string(),
            rate_fraction(r.fee_rate_ppm).to_string(),
            r.treasury.to_decimal_string(),
            r.p2p_kwh.to_string(),
            r.buy_price_mean.map(|x| x.to_string()).unwrap_or_default(),
            r.sell_price_mean.map(|x| x.to_string()).unwrap_or_default(),
            r.services_paid.to_decimal_string(),
            r.proposals.to_string(),
            r.passed.to_string(),
            r.witness_paid.to_decimal_string(),
            r.fees_collected.to_decimal_string(),
            if r.active { "active" } else { "defaulted" }.to_string(),
            c.name.clone(),
            battery(r, |b| b.soc_kwh.to_string()),
            battery(r, |b| b.value.to_decimal_string()),
            battery(r, |b| b.delivered_kwh.to_string()),
            battery(r, |b| b.charged_kwh.to_string()),
            battery(r, |b| b.sales.to_decimal_string()),
            battery(r, |b| b.purchases.to_decimal_string()),
        ])?;
    }
    w.flush()
}

/// Columns of `switches.csv` (a contract: add, never rename).
pub const SWITCH_COLUMNS: [&str; 7] = ["day", "household", "from", "to", "gain", "step", "reason"];

/// Writes `switches.csv`: every move between communities (an empty `from`/`to`: free, dealing
/// with the grid), with what the household expected to gain (its choices only).
pub fn write_switches(dir: &Path, s: &Scenario, communities: &Communities) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("switches.csv"))?;
    w.write_record(SWITCH_COLUMNS)?;
    let cfg = &communities.config.communities;
    let id = |c: Option<u16>| c.map(|c| cfg[c as usize].id.clone()).unwrap_or_default();
    for m in &communities.moves {
        w.write_record([
            m.day.to_string(),
            s.households[m.household as usize].id.clone(),
            id(m.from),
            id(m.to),
            m.gain.map(|g| format!("{g:.6}")).unwrap_or_default(),
            m.step.to_string(),
            m.reason.label().to_string(),
        ])?;
    }
    w.flush()
}

/// Columns of `referendums.csv` (a contract: add, never rename).
pub const REFERENDUM_COLUMNS: [&str; 16] = ["day", "community", "period", "proposal", "yes", "no", "abstain", "yes_weight", "no_weight", "electorate_weight", "turnout", "passed", "fee_rate_next", "step", "quorum", "majority"];

/// Writes `referendums.csv`: every referendum, its tally and the fee set for the next period.
pub fn write_referendums(dir: &Path, communities: &Communities) -> std::io::Result<()> {
    let mut w = csv::Writer::from_path(dir.join("referendums.csv"))?;
    w.write_record(REFERENDUM_COLUMNS)?;
    let cfg = &communities.config.communities;
    for r in &communities.referendums {
        let t = &r.tally;
        let rules = cfg[r.community as usize].referendum.as_ref();
        let turnout = if t.electorate_weight > 0 { (t.yes_weight + t.no_weight) as f64 / t.electorate_weight as f64 } else { 0.0 };
        w.write_record([
            r.day.to_string(),
            cfg[r.community as usize].id.clone(),
            r.period.to_string(),
            r.proposal.label(),
            t.yes.to_string(),
            t.no.to_string(),
            t.abstain.to_string(),
            t.yes_weight.to_string(),
            t.no_weight.to_string(),
            t.electorate_weight.to_string(),
            format!("{turnout:.6}"),
            t.passed.to_string(),
            rate_fraction(r.fee_rate_ppm).to_string(),
            r.step.to_string(),
            rules.map_or(String::new(), |x| rate_fraction(x.quorum_ppm).to_string()),
            rules.map_or(String::new(), |x| rate_fraction(x.majority_ppm).to_string()),
        ])?;
    }
    w.flush()
}

fn battery(r: &crate::community::DayRow, f: impl Fn(&crate::community::BatteryDay) -> String) -> String {
    r.battery.as_ref().map(f).unwrap_or_default()
}

/// One community at the end of the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommunitySummary {
    pub id: String,
    pub name: String,
    pub rule: &'static str,
    /// Its rule's parameters at the end (a referendum may have changed them).
    pub params_end: std::collections::BTreeMap<String, f64>,
    /// `active`, `defaulted`, or `not founded` (founded after the run's last step).
    pub status: &'static str,
    pub founded_step: u64,
    /// Local date of the day it defaulted.
    pub defaulted_day: Option<String>,
    pub members_end: u32,
    pub fee_rate: f64,
    pub treasury: f64,
    pub fees_collected: f64,
    pub contributions: f64,
    pub witness_paid: f64,
    pub rebates_paid: f64,
    pub solidarity_paid: f64,
    /// Rebates and solidarity payments.
    pub services_paid: f64,
    /// Its treasury split among its members when it defaulted.
    pub default_paid: f64,
    /// What it owns at the end, its members' together: its treasury and its battery's value.
    pub equity_end: f64,
    pub witnesses: Vec<String>,
    /// Its battery, if it has one.
    pub battery: Option<BatterySummary>,
    #[serde(flatten)]
    pub totals: CommunityTotals,
    /// Against the grid-only baseline, for the households whose last community it was.
    pub kpis: CommunityKpis,
}

/// A community's battery over the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BatterySummary {
    pub capacity_kwh: f64,
    pub cost: f64,
    pub life_years: f64,
    /// Energy it delivered to members and took from their surplus, kWh.
    pub delivered_kwh: f64,
    pub charged_kwh: f64,
    /// What members paid the treasury for its energy, and what the treasury paid them for
    /// charging it.
    pub sales: f64,
    pub purchases: f64,
    pub soc_end_kwh: f64,
    /// Its value at the end (cost × share of its life left; 0 once bought back).
    pub value_end: f64,
    /// What the supplier paid for it at a default.
    pub bought_back: f64,
}

/// A community's members' results against the grid-only baseline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CommunityKpis {
    pub households: u32,
    pub bill: f64,
    pub baseline_bill: f64,
    /// baseline_bill − bill, currency (> 0: membership saved). Founding contributions count as
    /// paid.
    pub savings: f64,
    /// `savings` + the community's `equity_end` (what the members own together at the end).
    pub savings_with_equity: f64,
    pub self_sufficiency: Option<f64>,
    pub baseline_self_sufficiency: Option<f64>,
}

pub fn summarise(s: &Scenario, communities: &Communities, funds: &CommunityFunds, households: &[HouseholdResult]) -> Vec<CommunitySummary> {
    let units = |m: Micros| m.0 as f64 / 1e6;
    communities
        .config
        .communities
        .iter()
        .enumerate()
        .map(|(c, cfg)| {
            let st = &communities.state[c];
            let t = &st.totals;
            let mine: Vec<&HouseholdResult> = households.iter().filter(|h| communities.last_community[h.index as usize] == Some(c as u16)).collect();
            let bill = mine.iter().fold(Micros::ZERO, |a, h| a + h.wallet.bill());
            let baseline_bill = mine.iter().fold(Micros::ZERO, |a, h| a + h.baseline.wallet.bill());
            let share = |load: f64, import: f64, unserved: f64| (load > 0.0).then(|| 1.0 - (import + unserved) / load);
            let (load, import, unserved) = mine.iter().fold((0.0, 0.0, 0.0), |a, h| (a.0 + h.totals.load_kwh, a.1 + h.totals.grid_import_kwh, a.2 + h.totals.unserved_kwh));
            let (b_load, b_import, b_unserved) = mine.iter().fold((0.0, 0.0, 0.0), |a, h| (a.0 + h.baseline.totals.load_kwh, a.1 + h.baseline.totals.grid_import_kwh, a.2 + h.baseline.totals.unserved_kwh));
            CommunitySummary {
                id: cfg.id.clone(),
                name: cfg.name.clone(),
                rule: cfg.rule.name,
                params_end: cfg.params_under(&st.terms),
                status: if st.defaulted_step.is_some() {
                    "defaulted"
                } else if st.founded {
                    "active"
                } else {
                    "not founded"
                },
                founded_step: cfg.founded_step,
                defaulted_day: st.defaulted_step.map(|d| s.frame.local_date(d).to_string()),
                members_end: st.members,
                fee_rate: rate_fraction(funds.fee_rate_ppm[c]),
                treasury: units(funds.balance[c]),
                fees_collected: units(funds.fees_collected[c]),
                contributions: units(t.contributions),
                witness_paid: units(t.witness_paid),
                rebates_paid: units(t.rebates_paid),
                solidarity_paid: units(t.solidarity_paid),
                services_paid: units(t.rebates_paid + t.solidarity_paid),
                default_paid: units(t.default_paid),
                equity_end: units(funds.balance[c] + t.battery.value),
                witnesses: st.witnesses.iter().map(|w| s.households[*w as usize].id.clone()).collect(),
                battery: cfg.battery.as_ref().filter(|_| st.battery_bought).map(|b| BatterySummary {
                    capacity_kwh: b.battery.capacity_kwh,
                    cost: units(b.cost),
                    life_years: b.life_steps as f64 * s.frame.step_hours() / (365.0 * 24.0),
                    delivered_kwh: t.battery.delivered_kwh,
                    charged_kwh: t.battery.charged_kwh,
                    sales: units(t.battery.sales),
                    purchases: units(t.battery.purchases),
                    soc_end_kwh: t.battery.soc_kwh,
                    value_end: units(t.battery.value),
                    bought_back: units(t.battery_bought_back),
                }),
                totals: t.clone(),
                kpis: CommunityKpis {
                    households: mine.len() as u32,
                    bill: units(bill),
                    baseline_bill: units(baseline_bill),
                    savings: units(baseline_bill - bill),
                    savings_with_equity: units(baseline_bill - bill + funds.balance[c] + t.battery.value),
                    self_sufficiency: share(load, import, unserved),
                    baseline_self_sufficiency: share(b_load, b_import, b_unserved),
                },
            }
        })
        .collect()
}

/// Moves between communities and referendums over a run (`summary.json`'s `competition`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CompetitionSummary {
    /// Households' choices are on (`competition` in the scenario).
    pub choice: bool,
    /// Choice rounds held.
    pub rounds: u64,
    /// Moves: all of them, and by why (`switches.csv`'s `reason`).
    pub moves: u64,
    pub moves_by_choice: u64,
    pub moves_by_event: u64,
    pub moves_by_founding: u64,
    pub freed_by_default: u64,
    pub referendums: u64,
    pub referendums_passed: u64,
    pub communities_defaulted: u64,
    /// Members of the largest community at the end.
    pub largest_community_members: u32,
}

pub fn competition(k: &Communities) -> CompetitionSummary {
    use crate::community::MoveReason;
    let count = |r: MoveReason| k.moves.iter().filter(|m| m.reason == r).count() as u64;
    CompetitionSummary {
        choice: k.config.choice.is_some(),
        rounds: k.rounds,
        moves: k.moves.len() as u64,
        moves_by_choice: count(MoveReason::Choice),
        moves_by_event: count(MoveReason::Event),
        moves_by_founding: count(MoveReason::Founding),
        freed_by_default: count(MoveReason::Default),
        referendums: k.referendums.len() as u64,
        referendums_passed: k.referendums.iter().filter(|r| r.tally.passed).count() as u64,
        communities_defaulted: k.state.iter().filter(|s| s.defaulted_step.is_some()).count() as u64,
        largest_community_members: k.state.iter().filter(|s| s.active()).map(|s| s.members).max().unwrap_or(0),
    }
}
