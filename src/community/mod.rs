//! Communities households join by choice: membership, each community's treasury and its
//! flexible fee, the services the treasury pays for, and default.
//!
//! A community (the scenario's `communities`) has its own trading rule (its members trade with
//! each other, see `market::membership`), a treasury fed by a fee on its members' peer sales
//! (`settlement::community_funds`), witnesses its members elect each period, and services it
//! pays from the treasury. At the end of each of its periods it pays its obligations (witness
//! pay, then network-fee rebates, then the solidarity fund), sets the next period's fee from its
//! runway and churn ([`fee`]), and, after `default_after_periods` periods in a row in which it
//! could not pay them in full (it then pays none of them), defaults: its treasury is split among its members in proportion
//! to the fees they paid over the last 12 months and they become free households (grid-only).
//! Every payment is a `Payment` the ledger records. Runs after settlement, before the ledger.
//!
//! `docs/communities.md` documents the model and its constants.

pub mod choice;
pub mod fee;
pub mod referendum;

use crate::base::money::Micros;
use crate::base::seed::{rng, Stream};
use crate::base::time::{SimClock, TimeFrame};
use crate::environment::tariff::StepPrices;
use crate::household::{HouseholdEntities, MeterTotals, Wallet};
use crate::market::membership::{CommunityMarkets, Memberships};
use crate::market::storage::{CommunityStorage, StorageUnit};
use crate::market::registry::RuleInfo;
use crate::market::{Clearing, LossPolicy, MarketSetup, Seller};
use crate::settlement::{Account, Accounts, CommunityFunds, Payment, PaymentKind, Payout, StepPayments, PPM};
use bevy::prelude::*;
use choice::{ChoiceConfig, Published};
use fee::FeePolicy;
use referendum::{ReferendumConfig, Terms, Vote};
use std::collections::{BTreeMap, VecDeque};

/// Days over which a defaulted community's members' fees weigh their shares.
pub const DEFAULT_SHARE_WINDOW_DAYS: u64 = 365;

/// Energy spending above this share of income is energy hardship (Boardman 1991), ppm.
pub const HARDSHIP_SHARE_PPM: i64 = 100_000;

/// Votes each member casts in a community's witness election.
pub const VOTES_PER_MEMBER: usize = 3;

/// A rebate of members' network fees, paid from the treasury at each period's end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rebate {
    /// Share of each member's network fees of the period refunded, ppm.
    pub share_ppm: i64,
    /// Most paid in rebates per period (shares cut pro rata above it).
    pub budget: Micros,
}

/// A solidarity fund: members in energy hardship over the period (energy spending above
/// [`HARDSHIP_SHARE_PPM`] of their income) get the excess back, up to a budget per period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Solidarity {
    pub budget: Micros,
}

/// A battery the treasury buys from the supplier at the founding and operates for its members
/// (see `market::storage`).
#[derive(Debug, Clone, PartialEq)]
pub struct CommunityBattery {
    /// Its physics at the run's step length; starts at its initial charge.
    pub battery: crate::household::battery::Battery,
    pub cost: Micros,
    /// Its life: straight-line, its value is `cost` × the share of its life left.
    pub life_steps: u64,
    /// Where its buy and sell prices sit between the step's export and import price, ppm.
    pub buy_share_ppm: i64,
    pub sell_share_ppm: i64,
}

impl CommunityBattery {
    /// Its value `age_steps` after it was bought: cost × remaining life share, rounded down.
    pub fn value_after(&self, age_steps: u64) -> Micros {
        let left = self.life_steps.saturating_sub(age_steps);
        Micros((i128::from(self.cost.0) * i128::from(left) / i128::from(self.life_steps.max(1))) as i64)
    }
}

/// One community, resolved from the scenario.
#[derive(Debug, Clone)]
pub struct CommunityConfig {
    pub id: String,
    pub name: String,
    pub rule: &'static RuleInfo,
    pub params: BTreeMap<String, f64>,
    pub fee: FeePolicy,
    /// Steps in one of its periods (fee updates, payments, the default count).
    pub period_steps: u64,
    /// The step it is founded at (0: before the run).
    pub founded_step: u64,
    /// Paid into the treasury at its founding by its founding members, in equal shares.
    pub initial_fund: Micros,
    /// Witnesses its members elect each period.
    pub witnesses: u32,
    /// Paid to each witness per period.
    pub witness_pay: Micros,
    pub rebate: Option<Rebate>,
    pub solidarity: Option<Solidarity>,
    pub battery: Option<CommunityBattery>,
    /// Periods in a row with obligations unpaid after which it defaults.
    pub default_after_periods: u32,
    /// Its members' referendums on its terms.
    pub referendum: Option<ReferendumConfig>,
}

impl CommunityConfig {
    /// Its terms at the founding.
    pub fn terms(&self) -> Terms {
        let price_position = self.rule.params.iter().find(|p| p.price_position).map(|p| referendum::PricePosition { name: p.name, value: self.params.get(p.name).copied().unwrap_or(p.default) });
        Terms { fee: self.fee, rebate: self.rebate, solidarity: self.solidarity, price_position }
    }

    /// Its rule's parameters under `terms` (a referendum may have moved its price position).
    pub fn params_under(&self, terms: &Terms) -> BTreeMap<String, f64> {
        let mut params = self.params.clone();
        if let Some(p) = terms.price_position {
            params.insert(p.name.to_string(), p.value);
        }
        params
    }

    /// Its referendums may move its rule's price position.
    fn votes_on_prices(&self) -> bool {
        self.referendum.as_ref().is_some_and(|r| r.proposals.iter().any(|p| matches!(p, referendum::Proposal::RuleParam { .. })))
    }

    /// The most one period's obligations can be under `terms`: every witness paid and both
    /// services' budgets.
    pub fn period_reserve(&self, terms: &Terms) -> Micros {
        let witnesses = i128::from(self.witness_pay.0) * i128::from(self.witnesses);
        let services = terms.rebate.map_or(0, |r| r.budget.0) + terms.solidarity.map_or(0, |s| s.budget.0);
        Micros((witnesses + i128::from(services)).min(i128::from(i64::MAX)) as i64)
    }
}

/// A household moving between communities during the run (`None`: it leaves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MembershipChange {
    pub step: u64,
    pub household: u32,
    pub to: Option<u16>,
}

/// The communities of a run, resolved from the scenario.
#[derive(Debug, Clone)]
pub struct CommunitiesConfig {
    pub communities: Vec<CommunityConfig>,
    /// Each household's community at the start (or, for a community founded later, from its
    /// founding), by household index.
    pub member_of: Vec<Option<u16>>,
    /// Each household's income per year (the solidarity fund's criterion), by household index.
    pub income_per_year: Vec<Option<Micros>>,
    /// Moves during the run, by step.
    pub changes: Vec<MembershipChange>,
    /// Each household's election stake (its PV, µkWp; all zero: equal stakes).
    pub stakes: Vec<u64>,
    pub seed: u64,
    /// Every community runs one rule given on the command line (`--rule`).
    pub forced_rule: bool,
    /// Households choose their community at intervals (none: they move only by events).
    pub choice: Option<ChoiceConfig>,
    /// Each household's ε in referendums, currency.
    pub vote_epsilon: Vec<f64>,
}

/// Why a household moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveReason {
    /// Its community was founded during the run.
    Founding,
    /// A `SwitchCommunity` event.
    Event,
    /// Its own choice in a round.
    Choice,
    /// Its community defaulted.
    Default,
}

impl MoveReason {
    pub fn label(self) -> &'static str {
        match self {
            MoveReason::Founding => "founding",
            MoveReason::Event => "event",
            MoveReason::Choice => "choice",
            MoveReason::Default => "default",
        }
    }
}

/// A household's move: a row of `switches.csv`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoveRow {
    /// Local date of the step it moved at.
    pub day: chrono::NaiveDate,
    pub step: u64,
    pub household: u32,
    pub from: Option<u16>,
    pub to: Option<u16>,
    /// What it expected to gain over an interval like the last, before the switching cost,
    /// currency (choices only).
    pub gain: Option<f64>,
    pub reason: MoveReason,
}

/// A referendum: a row of `referendums.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReferendumRow {
    pub day: chrono::NaiveDate,
    pub step: u64,
    pub community: u16,
    pub period: u64,
    pub proposal: referendum::Proposal,
    pub tally: referendum::Tally,
    /// The fee rate set for the next period, ppm.
    pub fee_rate_ppm: i64,
}

/// A day's figures of one community: a row of `communities.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct DayRow {
    /// Local date.
    pub day: chrono::NaiveDate,
    pub community: u16,
    pub members: u32,
    pub joined: u32,
    pub left: u32,
    pub fee_rate_ppm: i64,
    pub treasury: Micros,
    pub p2p_kwh: f64,
    /// Mean price members paid for peer energy, per kWh (None: no purchases that day).
    pub buy_price_mean: Option<f64>,
    /// Mean price members received for peer energy after the community's fee, per kWh.
    pub sell_price_mean: Option<f64>,
    /// Rebates and solidarity payments.
    pub services_paid: Micros,
    pub witness_paid: Micros,
    pub fees_collected: Micros,
    pub active: bool,
    /// Referendums held that day, and passed.
    pub proposals: u32,
    pub passed: u32,
    /// Its battery, if it has one: energy stored and value at the day's end, energy delivered
    /// to and taken from members, what members paid for it and were paid.
    pub battery: Option<BatteryDay>,
}

/// A day of a community battery.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BatteryDay {
    pub soc_kwh: f64,
    pub value: Micros,
    pub delivered_kwh: f64,
    pub charged_kwh: f64,
    pub sales: Micros,
    pub purchases: Micros,
}

#[derive(Debug, Clone, Default)]
struct DayStats {
    joined: u32,
    left: u32,
    /// Peer energy members bought (as it arrived), and what they paid for it.
    p2p_kwh: f64,
    bought: i64,
    sold_kwh: f64,
    sold: i64,
    services: i64,
    witness: i64,
    fees_at_start: i64,
    battery: BatteryDay,
    proposals: u32,
    passed: u32,
}

/// What a community has done over the run (`summary.json`'s `communities`).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct CommunityTotals {
    pub joined: u32,
    pub left: u32,
    pub p2p_kwh: f64,
    pub periods: u32,
    /// Periods whose obligations it could not pay in full.
    pub shortfall_periods: u32,
    #[serde(skip)]
    pub contributions: Micros,
    #[serde(skip)]
    pub witness_paid: Micros,
    #[serde(skip)]
    pub rebates_paid: Micros,
    #[serde(skip)]
    pub solidarity_paid: Micros,
    #[serde(skip)]
    pub default_paid: Micros,
    /// Its battery over the run (none: zero).
    #[serde(skip)]
    pub battery: BatteryDay,
    /// What the supplier paid for its battery at its default.
    #[serde(skip)]
    pub battery_bought_back: Micros,
    /// Members helped by the solidarity fund, counted once per period.
    pub hardship_cases: u32,
    /// Moves into it refused because it was not founded yet or had defaulted.
    pub refused_joins: u32,
    /// Periods whose records its witnesses sealed on the chain.
    pub seals: u32,
    /// Referendums held, and passed.
    pub proposals: u32,
    pub passed: u32,
}

/// One community's state during the run.
#[derive(Debug, Clone)]
pub struct CommunityState {
    pub founded: bool,
    /// The step at whose end it defaulted.
    pub defaulted_step: Option<u64>,
    pub members: u32,
    /// This period's witnesses (household indices).
    pub witnesses: Vec<u32>,
    pub period: u64,
    members_at_period_start: u32,
    joined_this_period: u32,
    left_this_period: u32,
    /// Obligations due in the last periods (the runway's denominator).
    pub recent_obligations: VecDeque<Micros>,
    /// Periods in a row with obligations unpaid.
    pub unpaid_streak: u32,
    /// Its battery was bought at its founding (a community whose founding fund was not paid in
    /// has none).
    pub battery_bought: bool,
    /// Its terms now (its referendums change them).
    pub terms: Terms,
    /// A referendum moved its rule's price position: the rule is rebuilt before the next
    /// clearing.
    rule_changed: bool,
    /// Its figures since the last choice round.
    pub published: Published,
    /// Fees each member paid in each recent period (the default's weights), newest last:
    /// (period end step, (household, fees)).
    fee_history: VecDeque<(u64, Vec<(u32, i64)>)>,
    day: DayStats,
    pub totals: CommunityTotals,
}

impl CommunityState {
    fn new(terms: Terms) -> CommunityState {
        CommunityState {
            terms,
            rule_changed: false,
            published: Published::default(),
            founded: false,
            defaulted_step: None,
            members: 0,
            witnesses: Vec::new(),
            period: 0,
            members_at_period_start: 0,
            joined_this_period: 0,
            left_this_period: 0,
            recent_obligations: VecDeque::new(),
            unpaid_streak: 0,
            battery_bought: false,
            fee_history: VecDeque::new(),
            day: DayStats::default(),
            totals: CommunityTotals::default(),
        }
    }

    pub fn active(&self) -> bool {
        self.founded && self.defaulted_step.is_none()
    }
}

/// The communities of the run: their settings, state and daily log; each household's time in
/// communities and its moves.
#[derive(Resource, Debug, Clone)]
pub struct Communities {
    pub config: std::sync::Arc<CommunitiesConfig>,
    pub state: Vec<CommunityState>,
    pub log: Vec<DayRow>,
    /// Steps each household spent in a community.
    pub member_steps: Vec<u64>,
    /// Times each household changed community during the run (joining, leaving, switching,
    /// freed by a default; not its membership at the start).
    pub switches: Vec<u32>,
    /// The last community each household belonged to (its KPIs go to that community's).
    pub last_community: Vec<Option<u16>>,
    /// The step since which each household is in its current community.
    joined_at: Vec<u64>,
    /// Each household's wallet at the start of its community's period (or when it joined).
    period_start: Vec<Wallet>,
    /// Each household's purchases and sales since then, weighted by their trades' price spans
    /// ([`referendum::MemberPeriod::bought_span`]); kept only when a community's referendums
    /// may move its rule's price position (`tracks_spans`).
    period_span: Vec<(f64, f64)>,
    tracks_spans: bool,
    /// This step's joins and leaves (household, community, joined), for its books: recorded
    /// before the step's trades.
    moved: Vec<(u32, u16, bool)>,
    next_change: usize,
    /// Every move during the run, in order.
    pub moves: Vec<MoveRow>,
    /// Every referendum held, in order.
    pub referendums: Vec<ReferendumRow>,
    /// Choice rounds held.
    pub rounds: u64,
    /// Each household's deficit and surplus totals at the last choice round, kWh.
    energy_at_round: Vec<(f64, f64)>,
}

impl Communities {
    pub fn new(config: CommunitiesConfig) -> Communities {
        let n = config.member_of.len();
        let tracks_spans = config.communities.iter().any(CommunityConfig::votes_on_prices);
        Communities {
            state: config.communities.iter().map(|c| CommunityState::new(c.terms())).collect(),
            config: std::sync::Arc::new(config),
            log: Vec::new(),
            member_steps: vec![0; n],
            switches: vec![0; n],
            last_community: vec![None; n],
            joined_at: vec![0; n],
            period_start: vec![Wallet::default(); n],
            tracks_spans,
            period_span: vec![(0.0, 0.0); n],
            moved: Vec::new(),
            next_change: 0,
            moves: Vec::new(),
            referendums: Vec::new(),
            rounds: 0,
            energy_at_round: vec![(0.0, 0.0); n],
        }
    }
}

/// The communities' systems, in this order in every step.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommunitySystems {
    /// Foundings and moves, before households place their orders.
    Membership,
    /// Founding funds, the day's figures, period ends (payments, fee, default), after
    /// settlement and before the ledger records the step's payments.
    Books,
}

/// Communities, for runs that have them: memberships, each community's market, treasuries and
/// books.
pub struct CommunityPlugin(pub CommunitiesConfig);

impl Plugin for CommunityPlugin {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        let c = &self.0;
        let rates = c.communities.iter().map(|k| k.fee.initial_ppm()).collect();
        let units: Vec<_> = c.communities.iter().map(|k| k.battery.as_ref().map(|b| StorageUnit::new(b.battery, b.buy_share_ppm, b.sell_share_ppm))).collect();
        if units.iter().any(Option::is_some) {
            app.insert_resource(CommunityStorage::new(units));
        }
        app.insert_resource(Memberships(vec![None; c.member_of.len()]))
            .insert_resource(CommunityMarkets::new(c.communities.iter().map(|_| None).collect()))
            .insert_resource(CommunityFunds::new(rates))
            .insert_resource(Communities::new(c.clone()))
            .add_systems(SimStep, apply_membership.in_set(CommunitySystems::Membership))
            .add_systems(SimStep, keep_books.in_set(CommunitySystems::Books));
    }
}

/// Founds the communities due this step (their founding members join; their rule starts),
/// applies the step's moves, and at each choice round lets every household choose its
/// community ([`choice`]). Reads `SimClock`, `MarketSetup`, `Wallet`, `MeterTotals` (the
/// interval's energy), `CommunityFunds` (the published fees); writes `Communities`,
/// `Memberships`, `CommunityMarkets`. Runs in `CommunitySystems::Membership`, before orders.
#[allow(clippy::too_many_arguments)]
pub fn apply_membership(
    clock: Res<SimClock>,
    setup: Res<MarketSetup>,
    entities: Res<HouseholdEntities>,
    funds: Res<CommunityFunds>,
    wallets: Query<&Wallet>,
    meters: Query<&MeterTotals>,
    mut communities: ResMut<Communities>,
    mut members: ResMut<Memberships>,
    mut markets: ResMut<CommunityMarkets>,
) {
    let step = clock.step;
    let day = clock.frame.local_date(step);
    let k = &mut *communities;
    let config = k.config.clone();
    let wallet = |h: usize| entities.0.get(h).and_then(|e| wallets.get(*e).ok()).copied().unwrap_or_default();
    let record = |k: &mut Communities, household: usize, from: Option<u16>, to: Option<u16>, gain: Option<f64>, reason: MoveReason| {
        k.moves.push(MoveRow { day, step, household: household as u32, from, to, gain, reason });
    };
    for (c, cfg) in config.communities.iter().enumerate() {
        let s = &mut k.state[c];
        if s.rule_changed && s.active() {
            markets.rules[c] = Some(setup.build(cfg.rule, cfg.params_under(&s.terms)).0);
        }
        s.rule_changed = false;
    }
    for (c, cfg) in config.communities.iter().enumerate() {
        if cfg.founded_step != step || k.state[c].founded {
            continue;
        }
        k.state[c].founded = true;
        markets.rules[c] = Some(setup.build(cfg.rule, cfg.params.clone()).0);
        for (h, m) in config.member_of.iter().enumerate() {
            if *m == Some(c as u16) && members.0[h].is_none() {
                join(k, &mut members, h, c as u16, step, wallet(h));
                if step > 0 {
                    k.switches[h] += 1;
                    record(k, h, None, Some(c as u16), None, MoveReason::Founding);
                }
            }
        }
        let s = &mut k.state[c];
        s.members_at_period_start = s.members;
        s.joined_this_period = 0;
        s.witnesses = elect_witnesses(&config, &members, c, 0);
    }
    while let Some(change) = config.changes.get(k.next_change).filter(|ch| ch.step <= step) {
        k.next_change += 1;
        let h = change.household as usize;
        if change.to == members.0[h] {
            continue;
        }
        if let Some(c) = change.to.filter(|c| !k.state[*c as usize].active()) {
            k.state[c as usize].totals.refused_joins += 1;
            continue;
        }
        let from = members.0[h];
        move_household(k, &mut members, h, change.to, step, wallet(h));
        record(k, h, from, change.to, None, MoveReason::Event);
    }
    if let Some(choice) = config.choice.as_ref()
        && step > 0
        && step.is_multiple_of(choice.interval_steps)
    {
        let energy = |h: usize| entities.0.get(h).and_then(|e| meters.get(*e).ok()).map_or((0.0, 0.0), |m| (m.0.deficit_kwh, m.0.surplus_kwh));
        let moves = choose(k, choice, &config, step, &members, &funds.fee_rate_ppm, energy);
        for (h, to, gain) in moves {
            let from = members.0[h as usize];
            move_household(k, &mut members, h as usize, to, step, wallet(h as usize));
            record(k, h as usize, from, to, Some(gain), MoveReason::Choice);
        }
    }
}

/// Household `h` leaves its community (if any) and joins `to` (if any) at the start of `step`.
fn move_household(k: &mut Communities, members: &mut Memberships, h: usize, to: Option<u16>, step: u64, wallet: Wallet) {
    if let Some(old) = members.0[h] {
        leave(k, members, h, old, step);
    }
    if let Some(c) = to {
        join(k, members, h, c, step, wallet);
    }
    k.switches[h] += 1;
}

/// A choice round at the start of `step`: each household's energy since the last round
/// (`energy(h)`: its deficit and surplus totals, kWh), every active community's offer from its
/// figures since then at its current fee, and each household's draw from its own stream.
/// Returns the moves (household, to, expected gain), in household order, at most
/// `max_moves_per_round` of them (the largest gains first). Resets the published figures.
fn choose(k: &mut Communities, choice: &ChoiceConfig, config: &CommunitiesConfig, step: u64, members: &Memberships, fee_ppm: &[i64], energy: impl Fn(usize) -> (f64, f64)) -> Vec<(u32, Option<u16>, f64)> {
    use rand::RngExt;
    let n = members.0.len();
    let kc = config.communities.len();
    let round = step / choice.interval_steps;
    k.rounds += 1;
    // Each household's energy of the interval, and its community's totals.
    let mut used = Vec::with_capacity(n);
    let (mut deficit, mut surplus, mut count) = (vec![0.0; kc], vec![0.0; kc], vec![0u32; kc]);
    for (h, last) in k.energy_at_round.iter_mut().enumerate() {
        let now = energy(h);
        let e = ((now.0 - last.0).max(0.0), (now.1 - last.1).max(0.0));
        *last = now;
        if let Some(c) = members.0[h] {
            deficit[c as usize] += e.0;
            surplus[c as usize] += e.1;
            count[c as usize] += 1;
        }
        used.push(e);
    }
    let offers: Vec<Option<choice::Offer>> = (0..kc).map(|c| k.state[c].active().then(|| k.state[c].published.offer(fee_ppm[c], deficit[c], surplus[c], count[c]))).collect();
    let mut gains: Vec<Option<f64>> = Vec::with_capacity(kc + 1);
    let mut p = Vec::with_capacity(kc + 1);
    let mut favourites = vec![0u32; kc];
    let mut moves = Vec::new();
    for (h, prefs) in choice.preferences.iter().enumerate().take(n) {
        favourites.iter_mut().for_each(|x| *x = 0);
        for f in &prefs.favourites {
            if let Some(c) = members.of(*f) {
                favourites[c as usize] += 1;
            }
        }
        let (d, s) = used[h];
        gains.clear();
        gains.push(Some(0.0));
        gains.extend(offers.iter().enumerate().map(|(c, o)| o.map(|o| o.gain(d, s, prefs, f64::from(favourites[c]) / prefs.favourites.len().max(1) as f64))));
        let current = members.0[h].map_or(0, |c| c as usize + 1);
        choice::probabilities(&gains, current, choice.beta[h], choice.switching_cost[h], &mut p);
        let u: f64 = rng(config.seed, Stream::CommunityChoice, (round << 32) | h as u64).random();
        let j = choice::pick(&p, u);
        if j != current {
            let gain = gains[j].unwrap_or(0.0) - gains[current].unwrap_or(0.0);
            moves.push((h as u32, (j > 0).then(|| (j - 1) as u16), gain));
        }
    }
    if let Some(max) = choice.max_moves_per_round.map(|m| m as usize).filter(|m| moves.len() > *m) {
        moves.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
        moves.truncate(max);
        moves.sort_by_key(|m| m.0);
    }
    for s in &mut k.state {
        s.published = Published::default();
    }
    moves
}

fn join(k: &mut Communities, members: &mut Memberships, h: usize, c: u16, step: u64, wallet: Wallet) {
    members.0[h] = Some(c);
    k.moved.push((h as u32, c, true));
    k.last_community[h] = Some(c);
    k.joined_at[h] = step;
    k.period_start[h] = wallet;
    k.period_span[h] = (0.0, 0.0);
    let s = &mut k.state[c as usize];
    s.members += 1;
    s.joined_this_period += 1;
    s.day.joined += 1;
    s.totals.joined += 1;
}

/// Household `h` leaves community `c` at the start of `step` (or, freed by a default, at the
/// end of `step - 1`).
fn leave(k: &mut Communities, members: &mut Memberships, h: usize, c: u16, step: u64) {
    members.0[h] = None;
    k.moved.push((h as u32, c, false));
    k.member_steps[h] += step - k.joined_at[h];
    let s = &mut k.state[c as usize];
    s.members -= 1;
    s.day.left += 1;
    s.left_this_period += 1;
    s.totals.left += 1;
}

/// The witnesses community `c`'s members elect for `period`: stake-weighted approval voting as
/// the ledger's (`ledger::validators`), among members only, on the community's own stream.
fn elect_witnesses(config: &CommunitiesConfig, members: &Memberships, c: usize, period: u64) -> Vec<u32> {
    let k = config.communities[c].witnesses as usize;
    let ids = members.members_of(c as u16);
    if k == 0 || ids.is_empty() {
        return Vec::new();
    }
    let stakes: Vec<u64> = ids.iter().map(|h| config.stakes[*h as usize]).collect();
    let mut r = rng(config.seed, Stream::CommunityElection, ((c as u64) << 32) | period);
    crate::ledger::validators::elect_with(&stakes, k, VOTES_PER_MEMBER, &mut r).into_iter().map(|i| ids[i as usize]).collect()
}

/// Splits `total` into parts proportional to `weights` (all zero: equal parts), each rounded
/// down, the micro-units left over going one each to the largest remainders (ties: the earlier
/// entry), so the parts sum to `total` exactly.
pub fn split_proportional(total: i64, weights: &[i64]) -> Vec<i64> {
    if weights.is_empty() || total <= 0 {
        return vec![0; weights.len()];
    }
    let equal = weights.iter().all(|w| *w <= 0);
    let w: Vec<i128> = weights.iter().map(|x| if equal { 1 } else { i128::from((*x).max(0)) }).collect();
    let sum: i128 = w.iter().sum();
    let mut parts: Vec<i64> = Vec::with_capacity(w.len());
    let mut rema: Vec<(i128, usize)> = Vec::with_capacity(w.len());
    for (i, wi) in w.iter().enumerate() {
        let exact = i128::from(total) * wi;
        parts.push((exact / sum) as i64);
        rema.push((exact % sum, i));
    }
    let left = total - parts.iter().sum::<i64>();
    rema.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (_, i) in rema.into_iter().take(left as usize) {
        parts[i] += 1;
    }
    parts
}

/// Keeps the communities' books: founding funds, the day's figures from the step's payments, and
/// at each period's end witness pay, services, the next fee and default. Reads `SimClock`,
/// `StepPayments` (settled), `Clearing` (its trades' price spans), `LossPolicy`, `Memberships`; writes `Communities`, `CommunityFunds`, `Wallet`,
/// `StepPayments` (the treasuries' payments, for the ledger), `Accounts` (the battery supplier),
/// `CommunityStorage` (the next step's budgets; a default stops a battery), `Ledger` (its
/// witnesses' seals at each period's end), `Memberships` and
/// `CommunityMarkets` (a default). Runs in `CommunitySystems::Books`, after settlement.
#[allow(clippy::too_many_arguments)]
pub fn keep_books(
    clock: Res<SimClock>,
    prices: Res<StepPrices>,
    clearing: Res<Clearing>,
    losses: Option<Res<LossPolicy>>,
    entities: Res<HouseholdEntities>,
    mut communities: ResMut<Communities>,
    mut funds: ResMut<CommunityFunds>,
    mut accounts: ResMut<Accounts>,
    mut storage: Option<ResMut<CommunityStorage>>,
    mut ledger: Option<ResMut<crate::ledger::Ledger>>,
    mut members: ResMut<Memberships>,
    mut markets: ResMut<CommunityMarkets>,
    mut payments: ResMut<StepPayments>,
    mut wallets: Query<&mut Wallet>,
) {
    let step = clock.step;
    let k = &mut *communities;
    let config = k.config.clone();
    // The step's joins and leaves go on the books before its trades: from them on, a member's
    // fees are its community's.
    let records: Vec<Payment> = k.moved.drain(..).map(|(h, c, joined)| membership_record(h, c, joined)).collect();
    payments.0.splice(0..0, records);
    // The founding fund: founding members pay equal shares (the remainder to the first ones).
    for (c, cfg) in config.communities.iter().enumerate() {
        if cfg.founded_step != step || cfg.initial_fund.0 <= 0 {
            continue;
        }
        let founders = members.members_of(c as u16);
        let shares = split_proportional(cfg.initial_fund.0, &vec![1; founders.len()]);
        for (h, amount) in founders.iter().zip(shares) {
            let amount = Micros(amount);
            if let Some(mut w) = entities.0.get(*h as usize).and_then(|e| wallets.get_mut(*e).ok()) {
                w.balance -= amount;
                w.community_contributed += amount;
            }
            funds.balance[c] += amount;
            k.state[c].totals.contributions += amount;
            payments.0.push(Payment::transfer(Account::Household(*h), Account::Community(c as u16), amount, PaymentKind::CommunityContribution));
        }
    }
    // The battery, bought from the supplier out of the founding fund (the scenario's checks
    // hold its cost within the fund), if the fund was paid in: a community whose founders all
    // left before its founding has none to buy it with, and goes without. It operates from the
    // next step.
    for (c, cfg) in config.communities.iter().enumerate() {
        let Some(b) = cfg.battery.as_ref().filter(|_| cfg.founded_step == step) else { continue };
        let Some(unit) = storage.as_deref_mut().and_then(|s| s.units[c].as_mut()) else { continue };
        if funds.balance[c] < b.cost {
            continue;
        }
        if b.cost.0 > 0 {
            funds.balance[c] -= b.cost;
            accounts.supplier += b.cost;
            payments.0.push(Payment::transfer(Account::Community(c as u16), Account::Supplier, b.cost, PaymentKind::CommunityBatteryPurchase));
        }
        (unit.bought, unit.operating) = (true, true);
        k.state[c].battery_bought = true;
    }
    // The step's peer money, by the buyer's and the seller's community; what the grid would
    // have charged or paid for the same energy goes into the figures households choose by.
    let (import, export) = (prices.import.0 as f64, prices.export.0 as f64);
    for p in &payments.0 {
        let (buyer, seller) = match (p.payer, p.payee) {
            (Account::Household(b), Account::Household(s)) if p.kind == PaymentKind::PeerTrade => (Some(b), Some(s)),
            (Account::Household(b), Account::Pool) => (Some(b), None),
            (Account::Pool, Account::Household(s)) => (None, Some(s)),
            (Account::Household(b), _) if p.kind == PaymentKind::NetworkFee => {
                if let Some(c) = members.of(b) {
                    k.state[c as usize].published.bought_paid += p.amount.0;
                }
                continue;
            }
            (Account::Household(_), Account::Community(c)) | (Account::Community(c), Account::Household(_))
                if matches!(p.kind, PaymentKind::CommunityBatterySale | PaymentKind::CommunityBatteryCharge) =>
            {
                let s = &mut k.state[c as usize];
                let (d, pb) = (&mut s.day.battery, &mut s.published);
                if p.kind == PaymentKind::CommunityBatterySale {
                    d.delivered_kwh += p.kwh;
                    d.sales += p.amount;
                    pb.bought_kwh += p.kwh;
                    pb.bought_paid += p.amount.0;
                    pb.bought_grid_value += p.kwh * import;
                } else {
                    d.charged_kwh += p.kwh;
                    d.purchases += p.amount;
                    pb.sold_kwh += p.kwh;
                    pb.sold_fee_free += p.amount.0;
                    pb.sold_grid_value += p.kwh * export;
                }
                continue;
            }
            _ => continue,
        };
        if let Some(c) = buyer.and_then(|b| members.of(b)) {
            let s = &mut k.state[c as usize];
            s.day.p2p_kwh += p.kwh;
            s.day.bought += p.amount.0;
            s.published.bought_kwh += p.kwh;
            s.published.bought_paid += p.amount.0;
            s.published.bought_grid_value += p.kwh * import;
        }
        if let Some(c) = seller.and_then(|s| members.of(s)) {
            let s = &mut k.state[c as usize];
            let sent = p.kwh + if p.kind == PaymentKind::PoolSale { 0.0 } else { p.loss_kwh };
            s.day.sold_kwh += sent;
            s.day.sold += p.amount.0 - p.fee.0;
            s.published.sold_kwh += sent;
            s.published.sold_gross += p.amount.0;
            s.published.sold_grid_value += sent * export;
        }
    }
    // What each member's purchases and sales would move by with the rule's price position.
    if k.tracks_spans {
        let bearer = losses.map(|l| l.0).unwrap_or_default();
        for t in clearing.trades.iter().filter(|t| t.price_span.0 != 0) {
            let Seller::Household { index: seller, .. } = t.seller else { continue };
            let weight = t.price_span.0 as f64 * t.billed_kwh(bearer);
            k.period_span[t.buyer as usize].0 += weight;
            k.period_span[seller as usize].1 += weight;
        }
    }
    let frame = &clock.frame;
    for (c, cfg) in config.communities.iter().enumerate() {
        if !k.state[c].active() || step < cfg.founded_step || !(step + 1 - cfg.founded_step).is_multiple_of(cfg.period_steps) {
            continue;
        }
        let mut ledgers = Books { funds: &mut funds, ledger: ledger.as_deref_mut(), accounts: &mut accounts, storage: storage.as_deref_mut(), payments: &mut payments.0 };
        end_period(k, c, step, frame, &config, &mut ledgers, &mut members, &mut markets, &entities, &mut wallets);
    }
    // What each treasury can pay for charging its battery in the next step: its balance above
    // a reserve of one period's obligations at most (all witnesses paid, both services' budgets),
    // so that charging never leaves it short of them.
    for (c, u) in storage.iter_mut().flat_map(|s| s.units.iter_mut()).enumerate().filter_map(|(c, u)| Some((c, u.as_mut()?))) {
        u.budget = Micros((funds.balance[c] - config.communities[c].period_reserve(&k.state[c].terms)).0.max(0));
    }
    // The day's rows, at the last step of each local day (and of the run): every community
    // founded by then, including on the day it defaulted.
    let last = step + 1 >= frame.total_steps;
    if last || frame.local_date(step + 1) != frame.local_date(step) {
        let day = frame.local_date(step);
        let day_start = step + 1 - steps_today(frame, step);
        for (c, s) in k.state.iter_mut().enumerate() {
            if !s.founded || s.defaulted_step.is_some_and(|d| d < day_start) {
                continue;
            }
            let d = std::mem::take(&mut s.day);
            let fees_now = funds.fees_collected[c].0;
            let battery = config.communities[c].battery.as_ref().filter(|_| s.battery_bought).map(|b| {
                let unit = storage.as_deref().and_then(|st| st.units[c].as_ref());
                let age = s.defaulted_step.unwrap_or(step) + 1 - config.communities[c].founded_step;
                let value = if s.defaulted_step.is_some() { Micros::ZERO } else { b.value_after(age) };
                BatteryDay { soc_kwh: unit.map_or(0.0, |u| u.battery.soc_kwh), value, ..d.battery }
            });
            if let Some(b) = &battery {
                let t = &mut s.totals.battery;
                t.delivered_kwh += b.delivered_kwh;
                t.charged_kwh += b.charged_kwh;
                t.sales += b.sales;
                t.purchases += b.purchases;
                (t.soc_kwh, t.value) = (b.soc_kwh, b.value);
            }
            k.log.push(DayRow {
                day,
                community: c as u16,
                members: s.members,
                joined: d.joined,
                left: d.left,
                fee_rate_ppm: funds.fee_rate_ppm[c],
                treasury: funds.balance[c],
                p2p_kwh: d.p2p_kwh,
                buy_price_mean: (d.p2p_kwh > 0.0).then(|| d.bought as f64 / 1e6 / d.p2p_kwh),
                sell_price_mean: (d.sold_kwh > 0.0).then(|| d.sold as f64 / 1e6 / d.sold_kwh),
                services_paid: Micros(d.services),
                witness_paid: Micros(d.witness),
                fees_collected: Micros(fees_now - d.fees_at_start),
                active: s.active(),
                proposals: d.proposals,
                passed: d.passed,
                battery,
            });
            s.totals.p2p_kwh += d.p2p_kwh;
            s.day.fees_at_start = fees_now;
        }
    }
    if last {
        for h in 0..members.0.len() {
            if members.0[h].is_some() {
                k.member_steps[h] += step + 1 - k.joined_at[h];
                k.joined_at[h] = step + 1;
            }
        }
    }
}


/// Steps of `step`'s local day up to and including it.
fn steps_today(frame: &TimeFrame, step: u64) -> u64 {
    let day = frame.local_date(step);
    let mut n = 1;
    while n <= step && frame.local_date(step - n) == day {
        n += 1;
    }
    n
}

/// The accounts a period's end moves money between.
struct Books<'a> {
    funds: &'a mut CommunityFunds,
    ledger: Option<&'a mut crate::ledger::Ledger>,
    accounts: &'a mut Accounts,
    storage: Option<&'a mut CommunityStorage>,
    payments: &'a mut Vec<Payment>,
}

/// Ends community `c`'s period at the end of `step`: pays witnesses, rebates and the solidarity
/// fund when the treasury can pay them all, otherwise none of them and counts a missed period; defaults after too many in a row, otherwise sets the next fee and elects the next
/// period's witnesses.
#[allow(clippy::too_many_arguments)]
fn end_period(
    k: &mut Communities,
    c: usize,
    step: u64,
    frame: &TimeFrame,
    config: &CommunitiesConfig,
    books: &mut Books,
    members: &mut Memberships,
    markets: &mut CommunityMarkets,
    entities: &HouseholdEntities,
    wallets: &mut Query<&mut Wallet>,
) {
    let cfg = &config.communities[c];
    let ids = members.members_of(c as u16);
    let wallet_of = |wallets: &Query<&mut Wallet>, h: u32| entities.0.get(h as usize).and_then(|e| wallets.get(*e).ok()).copied().unwrap_or_default();
    // Each member's period, from its wallet now against its wallet at the period's start.
    let terms = k.state[c].terms;
    let mut fees_paid = Vec::with_capacity(ids.len());
    let mut period = Vec::with_capacity(ids.len());
    // A member's solidarity allowance covers its own time in the community this period.
    let period_first_step = step + 1 - cfg.period_steps;
    for h in &ids {
        let (now, then) = (wallet_of(wallets, *h), k.period_start[*h as usize]);
        fees_paid.push((*h, (now.fees_paid - then.fees_paid).0));
        let network_fees = (now.network_fees_paid - then.network_fees_paid).0;
        let spent = (now.energy_spending() - then.energy_spending()).0;
        let rebate_claim = terms.rebate.map_or(0, |r| (i128::from(network_fees) * i128::from(r.share_ppm) / i128::from(PPM)) as i64).max(0);
        let solidarity_margin = config.income_per_year[*h as usize].filter(|_| terms.solidarity.is_some()).map(|income| {
            let steps = step + 1 - k.joined_at[*h as usize].max(period_first_step);
            let days = steps as f64 * frame.step_hours() / 24.0;
            let allowance = (income.0 as f64 * days / 365.0 * HARDSHIP_SHARE_PPM as f64 / PPM as f64).round() as i64;
            spent - allowance
        });
        let solidarity_claim = solidarity_margin.map_or(0, |x| x.max(0));
        let (bought_span, sold_span) = k.period_span[*h as usize];
        period.push(referendum::MemberPeriod { household: *h, sales: (now.p2p_received - then.p2p_received).0, rebate_claim, solidarity_claim, solidarity_margin, bought_span, sold_span });
    }
    // Obligations, in order of priority.
    let witness_due: Vec<(u32, i64)> = k.state[c].witnesses.iter().filter(|w| members.of(**w) == Some(c as u16)).map(|w| (*w, cfg.witness_pay.0)).collect();
    let claims = |f: fn(&referendum::MemberPeriod) -> i64| -> Vec<(u32, i64)> { period.iter().map(|m| (m.household, f(m))).filter(|x| x.1 > 0).collect() };
    let rebate_due = terms.rebate.map_or_else(Vec::new, |r| cap_to_budget(claims(|m| m.rebate_claim), r.budget));
    let solidarity_due = terms.solidarity.map_or_else(Vec::new, |sf| cap_to_budget(claims(|m| m.solidarity_claim), sf.budget));
    // All or nothing: a treasury that cannot pay the period's obligations in full pays none of
    // them (witnesses go unpaid, services are suspended) and counts a missed period.
    // In i128: a thousand witnesses at the largest pay would overflow i64 micro-units.
    let due: i128 = [&witness_due, &rebate_due, &solidarity_due].iter().flat_map(|v| v.iter()).map(|x| i128::from(x.1)).sum();
    let can_pay = due <= i128::from(books.funds.balance[c].0);
    if can_pay {
        for (why, list) in [(Payout::WitnessPay, &witness_due), (Payout::Rebate, &rebate_due), (Payout::Solidarity, &solidarity_due)] {
            for &(h, amount) in list.iter() {
                if amount <= 0 {
                    continue;
                }
                payout(books.funds, c, h, Micros(amount), why, entities, wallets, books.payments);
                let s = &mut k.state[c];
                match why {
                    Payout::WitnessPay => {
                        s.totals.witness_paid += Micros(amount);
                        s.day.witness += amount;
                    }
                    Payout::Rebate => {
                        s.totals.rebates_paid += Micros(amount);
                        s.day.services += amount;
                        s.published.services += amount;
                    }
                    _ => {
                        s.totals.solidarity_paid += Micros(amount);
                        s.totals.hardship_cases += 1;
                        s.day.services += amount;
                        s.published.services += amount;
                    }
                }
            }
        }
    }
    // Its witnesses seal its records of the period in the next block: those still members.
    let signers: Vec<u32> = k.state[c].witnesses.iter().copied().filter(|w| members.of(*w) == Some(c as u16)).collect();
    if let Some(ledger) = books.ledger.as_deref_mut() && !signers.is_empty() && ledger.request_seal(c as u16, k.state[c].period, signers) {
        k.state[c].totals.seals += 1;
    }
    let s = &mut k.state[c];
    s.totals.periods += 1;
    s.recent_obligations.push_back(Micros(due.min(i128::from(i64::MAX)) as i64));
    while s.recent_obligations.len() > fee::RUNWAY_PERIODS {
        s.recent_obligations.pop_front();
    }
    // Fees of the last 12 months, for a default's shares.
    s.fee_history.push_back((step, fees_paid.iter().copied().filter(|x| x.1 > 0).collect()));
    let window = DEFAULT_SHARE_WINDOW_DAYS * 1440 / u64::from(frame.step_minutes);
    while s.fee_history.front().is_some_and(|(end, _)| end + window <= step) {
        s.fee_history.pop_front();
    }
    if !can_pay {
        s.totals.shortfall_periods += 1;
        s.unpaid_streak += 1;
    } else {
        s.unpaid_streak = 0;
    }
    if s.unpaid_streak >= cfg.default_after_periods {
        default(k, c, step, frame, &ids, books, members, markets, entities, wallets);
        return;
    }
    // Of everyone who was a member during the period, the share who left.
    let were_members = s.members_at_period_start + s.joined_this_period;
    let churn = if were_members > 0 { f64::from(s.left_this_period) / f64::from(were_members) } else { 0.0 };
    let runway = fee::runway(books.funds.balance[c], s.recent_obligations.make_contiguous());
    let fee_state = referendum::FeeState { fee_ppm: books.funds.fee_rate_ppm[c], runway, churn };
    let held = cfg.referendum.as_ref().and_then(|r| hold_referendum(k, c, step, frame, r, config, fee_state, &period, books.payments));
    books.funds.fee_rate_ppm[c] = k.state[c].terms.fee.next_ppm(fee_state.fee_ppm, runway, churn);
    if let Some(row) = held {
        k.referendums.push(ReferendumRow { fee_rate_ppm: books.funds.fee_rate_ppm[c], ..row });
    }
    let s = &mut k.state[c];
    s.period += 1;
    s.members_at_period_start = s.members;
    s.joined_this_period = 0;
    s.left_this_period = 0;
    let period = s.period;
    for h in &ids {
        k.period_start[*h as usize] = wallet_of(wallets, *h);
        k.period_span[*h as usize] = (0.0, 0.0);
    }
    k.state[c].witnesses = elect_witnesses(config, members, c, period);
}

/// Community `c`'s referendum at the end of `step`: the first of its proposals that changes its
/// terms and is put forward (by a majority of its witnesses, or by enough members, each as it
/// would vote) goes to a vote of its `members` (their period in `period`); the votes and the
/// outcome go on its books, and a proposal that passes becomes its terms for the next period.
/// Returns its row (its `fee_rate_ppm` the fee before; the caller sets the next).
#[allow(clippy::too_many_arguments)]
fn hold_referendum(k: &mut Communities, c: usize, step: u64, frame: &TimeFrame, r: &ReferendumConfig, config: &CommunitiesConfig, fee: referendum::FeeState, period: &[referendum::MemberPeriod], payments: &mut Vec<Payment>) -> Option<ReferendumRow> {
    if period.is_empty() {
        return None;
    }
    let now = k.state[c].terms;
    let witnesses: Vec<usize> = k.state[c].witnesses.iter().filter_map(|w| period.iter().position(|m| m.household == *w)).collect();
    for proposal in &r.proposals {
        let Some(new) = proposal.apply(&now) else { continue };
        let changes = referendum::bill_changes(&now, &new, fee, period);
        let votes: Vec<Vote> = period.iter().zip(&changes).map(|(m, d)| referendum::vote(*d, config.vote_epsilon[m.household as usize])).collect();
        let put_forward = match r.proposer {
            referendum::Proposer::Witnesses => !witnesses.is_empty() && 2 * witnesses.iter().filter(|i| votes[**i] == Vote::Yes).count() > witnesses.len(),
            referendum::Proposer::Members { support_ppm } => {
                let yes = votes.iter().filter(|v| **v == Vote::Yes).count() as i128;
                yes > 0 && yes * i128::from(PPM) >= period.len() as i128 * i128::from(support_ppm)
            }
        };
        if !put_forward {
            continue;
        }
        let weights: Vec<u64> = period.iter().map(|m| config.stakes[m.household as usize]).collect();
        let tally = referendum::tally(&votes, &weights, r);
        // On the books: each vote cast, then the outcome.
        for (m, v) in period.iter().zip(&votes) {
            if *v != Vote::Abstain {
                payments.push(Payment::transfer(Account::Household(m.household), Account::Community(c as u16), Micros::ZERO, PaymentKind::CommunityVote { yes: *v == Vote::Yes }));
            }
        }
        payments.push(Payment::transfer(Account::Community(c as u16), Account::Community(c as u16), Micros::ZERO, PaymentKind::CommunityReferendum { passed: tally.passed }));
        let s = &mut k.state[c];
        s.day.proposals += 1;
        s.totals.proposals += 1;
        if tally.passed {
            s.day.passed += 1;
            s.totals.passed += 1;
            s.rule_changed = new.price_position != s.terms.price_position;
            s.terms = new;
        }
        return Some(ReferendumRow { day: frame.local_date(step), step, community: c as u16, period: k.state[c].period, proposal: *proposal, tally, fee_rate_ppm: fee.fee_ppm });
    }
    None
}

/// Cuts claims to a budget: all of them when they fit, otherwise pro rata to the budget.
fn cap_to_budget(wanted: Vec<(u32, i64)>, budget: Micros) -> Vec<(u32, i64)> {
    let total: i64 = wanted.iter().map(|x| x.1).sum();
    if total <= budget.0 {
        return wanted;
    }
    let parts = split_proportional(budget.0, &wanted.iter().map(|x| x.1).collect::<Vec<_>>());
    wanted.into_iter().zip(parts).map(|((h, _), p)| (h, p)).collect()
}

/// A join or leave on the books: not money (amount 0), from the household to its community.
fn membership_record(h: u32, c: u16, joined: bool) -> Payment {
    let kind = if joined { PaymentKind::CommunityJoin } else { PaymentKind::CommunityLeave };
    Payment::transfer(Account::Household(h), Account::Community(c), Micros::ZERO, kind)
}

#[allow(clippy::too_many_arguments)]
fn payout(funds: &mut CommunityFunds, c: usize, h: u32, amount: Micros, why: Payout, entities: &HouseholdEntities, wallets: &mut Query<&mut Wallet>, payments: &mut Vec<Payment>) {
    let Some(mut w) = entities.0.get(h as usize).and_then(|e| wallets.get_mut(*e).ok()) else { return };
    w.balance += amount;
    w.community_received += amount;
    funds.balance[c] -= amount;
    payments.push(Payment::transfer(Account::Community(c as u16), Account::Household(h), amount, PaymentKind::CommunityPayout(why)));
}

/// Community `c` defaults at the end of `step`: the supplier buys its battery back at its
/// remaining value (cost × the share of its life left; it stays where it is, idle), then its
/// treasury goes to its members in proportion to the fees they paid over the last 12 months
/// (equal shares when none paid any), every share a payment; its members become free
/// households and its market closes.
#[allow(clippy::too_many_arguments)]
fn default(k: &mut Communities, c: usize, step: u64, frame: &TimeFrame, ids: &[u32], books: &mut Books, members: &mut Memberships, markets: &mut CommunityMarkets, entities: &HouseholdEntities, wallets: &mut Query<&mut Wallet>) {
    let cfg = &k.config.communities[c];
    if let Some(b) = cfg.battery.as_ref().filter(|_| k.state[c].battery_bought) {
        let value = b.value_after(step + 1 - cfg.founded_step);
        if let Some(u) = books.storage.as_deref_mut().and_then(|s| s.units[c].as_mut()) {
            u.operating = false;
        }
        if value.0 > 0 {
            books.accounts.supplier -= value;
            books.funds.balance[c] += value;
            books.payments.push(Payment::transfer(Account::Supplier, Account::Community(c as u16), value, PaymentKind::CommunityBatteryBuyback));
            k.state[c].totals.battery_bought_back = value;
        }
    }
    let mut fees: BTreeMap<u32, i64> = ids.iter().map(|h| (*h, 0)).collect();
    for (_, period) in &k.state[c].fee_history {
        for (h, f) in period {
            if let Some(x) = fees.get_mut(h) {
                *x += f;
            }
        }
    }
    let weights: Vec<i64> = ids.iter().map(|h| fees[h]).collect();
    let shares = split_proportional(books.funds.balance[c].0, &weights);
    for (h, amount) in ids.iter().zip(shares) {
        if amount > 0 {
            payout(books.funds, c, *h, Micros(amount), Payout::DefaultShare, entities, wallets, books.payments);
            k.state[c].totals.default_paid += Micros(amount);
        }
    }
    // Free from the start of the next step.
    let day = frame.local_date(step + 1);
    for h in ids {
        leave(k, members, *h as usize, c as u16, step + 1);
        k.switches[*h as usize] += 1;
        k.moves.push(MoveRow { day, step: step + 1, household: *h, from: Some(c as u16), to: None, gain: None, reason: MoveReason::Default });
    }
    // Freed at the end of this step: on the books after the shares.
    books.payments.extend(k.moved.drain(..).map(|(h, c, joined)| membership_record(h, c, joined)));
    k.state[c].defaulted_step = Some(step);
    markets.rules[c] = None;
}

#[cfg(test)]
mod tests {
    use super::split_proportional;

    #[test]
    fn proportional_split_is_exact_to_the_micro_unit() {
        // 100 in 1 : 2 : 3 → 16.67, 33.33, 50: floors 16, 33, 50, one left to the largest
        // remainder (the first: 2/3 of a unit).
        assert_eq!(split_proportional(100, &[1, 2, 3]), vec![17, 33, 50]);
        // Nobody paid fees: equal shares, the remainder to the first.
        assert_eq!(split_proportional(10, &[0, 0, 0]), vec![4, 3, 3]);
        assert_eq!(split_proportional(0, &[5, 5]), vec![0, 0]);
        assert_eq!(split_proportional(7, &[]), Vec::<i64>::new());
        for total in [1, 999_999, 123_456_789_012] {
            let w = [3, 0, 17, 1_000_000_007, 5];
            let parts = split_proportional(total, &w);
            assert_eq!(parts.iter().sum::<i64>(), total);
            assert_eq!(parts[1], 0, "no fees, no share");
        }
    }
}
