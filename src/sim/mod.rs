//! The simulation app: one Bevy schedule, [`SimStep`], run once per step. Each domain adds its
//! systems in its own set; this module only orders the sets, in the order of the data flow. The same plugin drives `peergrid run` (headless,
//! through [`Simulation`]) and any front end that steps it from its own loop.

pub mod create;
pub mod lookahead;

use crate::household::battery::BatteryPlugin;
use crate::household::{Household, HouseholdPlugin, MeterTotals, Wallet};
use crate::market::registry::RuleInfo;
use crate::market::MarketPlugin;
use crate::base::money::Micros;
use crate::metrics::{MetricsPlugin, RunTotals};
use crate::scenario::Scenario;
use crate::settlement::{Accounts, SettlementPlugin};
use crate::base::time::SimClock;
use crate::environment::weather::EnvironmentPlugin;
use crate::environment::EnvironmentSystems;
use crate::grid::network::GridSystems;
use crate::household::side::{Baseline, Run};
use crate::household::HouseholdSystems;
use crate::grid::network::{GridPlugin, LimitStats, SideLimits};
use crate::ledger::LedgerSystems;
use crate::market::MarketSystems;
use crate::metrics::MetricsSystems;
use crate::settlement::{SettlementSystems, TreasurySystems};
use bevy::ecs::schedule::SingleThreadedExecutor;
use bevy::prelude::*;
use std::collections::BTreeMap;
use std::sync::Arc;

pub use crate::base::schedule::SimStep;

/// Everything a simulation needs besides the scenario.
pub struct SimConfig {
    pub scenario: Arc<Scenario>,
    /// The rule to run (the scenario's, or another on the same inputs).
    pub rule: &'static RuleInfo,
    pub rule_params: BTreeMap<String, f64>,
    /// The ledger to keep, if any (started by the caller, who knows where it is written).
    pub ledger: Option<crate::ledger::Ledger>,
}

/// Installs the whole simulation into an app: the schedule and the order of the domains' sets,
/// the households, and every domain's plugin built from its config (`create`); the run and its
/// grid-only baseline are two sides of one pass (`household::side`).
pub struct SimPlugin {
    config: std::sync::Mutex<Option<SimConfig>>,
}

impl SimPlugin {
    pub fn new(config: SimConfig) -> Self {
        SimPlugin { config: std::sync::Mutex::new(Some(config)) }
    }
}

impl Plugin for SimPlugin {
    fn build(&self, app: &mut App) {
        let config = self.config.lock().ok().and_then(|mut c| c.take()).expect("SimPlugin is built once");
        let s = &config.scenario.clone();
        // Households first, into a world without resources: which archetypes exist before them
        // decides the order queries visit their tables in, and so the order of every sum over
        // households. Spawned first, that order depends on the households alone, not on which
        // resources the domains keep.
        create::spawn_households(app.world_mut(), s);
        let mut schedule = Schedule::new(SimStep);
        // One ordered thread: results must not depend on scheduling (see the guide's
        // determinism rules); the work per system is a tight loop over households.
        schedule.set_executor(SingleThreadedExecutor::new());
        app.add_schedule(schedule);
        // The data flow of a step: each domain's systems run in its own set, in this order.
        app.configure_sets(
            SimStep,
            (
                EnvironmentSystems,
                HouseholdSystems::GenerationAndLoad,
                lookahead::LookaheadSystems,
                HouseholdSystems::OwnUseAndBattery,
                GridSystems::Limits,
                crate::community::CommunitySystems::Membership,
                MarketSystems::Orders,
                MarketSystems::Clearing,
                MarketSystems::Delivery,
                GridSystems::Flows,
                MarketSystems::Losses,
                HouseholdSystems::AfterMarket,
                SettlementSystems,
                crate::community::CommunitySystems::Books,
                LedgerSystems,
                TreasurySystems,
                MetricsSystems,
            )
                .chain(),
        );
        let market = MarketPlugin(create::market_config(s, config.rule, config.rule_params));
        // The fund's fee and rewards follow the ledger's rounds: a run without a ledger has none.
        let settlement = SettlementPlugin::<Baseline>::new(config.ledger.as_ref().and_then(|l| l.treasury())).with_charges(create::grid_charges(s), s.households.len());
        // The grid limits and the settlement settles the run and its grid-only baseline as two
        // sides, side by side.
        app.add_plugins((
            EnvironmentPlugin(create::environment_config(s)),
            HouseholdPlugin(create::household_config(s)),
            BatteryPlugin(create::battery_policy(s), s.battery_policy.forecast),
            crate::household::baseline::BaselinePlugin,
            market,
            GridPlugin::<Run, Baseline>::new(create::grid_config(s)),
            settlement,
            MetricsPlugin(create::emission_factors(s)),
        ));
        lookahead::install(app, s);
        // The step's parallel regions, counted for the ledger's hashing to make way for.
        if let Some(c) = &s.communities {
            app.add_plugins(crate::community::CommunityPlugin((**c).clone()));
        }
        app.insert_resource(config.ledger.as_ref().map(|l| l.pace()).unwrap_or_default());
        if let Some(ledger) = config.ledger {
            app.add_plugins(crate::ledger::LedgerPlugin::new(ledger));
        }
    }
}

/// A household's results at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct HouseholdResult {
    pub index: u32,
    pub totals: crate::household::Meter,
    /// Steps in which part of its demand went unserved.
    pub loss_of_load_steps: u64,
    pub wallet: Wallet,
    pub battery_soc_kwh: Option<(f64, f64)>,
    /// Its battery's capacity at the end (below the nominal with degradation).
    pub battery_capacity_end_kwh: Option<f64>,
    /// How far its battery's forecasts were off (`Forecast` batteries).
    pub forecast_errors: Option<crate::household::planning::ForecastErrors>,
    /// What its electric vehicle did, if it has one.
    pub vehicle: Option<crate::household::vehicle::VehicleTotals>,
    /// What its heat pump did (and its design heat load, W), and its hot-water tank.
    pub heating: Option<(crate::household::heating::HeatingTotals, f64)>,
    pub hot_water: Option<crate::household::hot_water::HotWaterTotals>,
    /// The same household under the grid-only baseline.
    pub baseline: crate::household::baseline::BaselineResult,
}

/// Results of one simulation at its end, as outputs need them.
pub struct SimOutcome {
    pub totals: RunTotals,
    pub households: Vec<HouseholdResult>,
    pub accounts_total: Micros,
    pub ledger: Option<crate::ledger::LedgerSummary>,
    pub lines: crate::grid::network::LineStats,
    /// What the line and voltage limits did to the run's offers, and to the baseline's.
    pub limits: LimitStats,
    pub baseline_limits: LimitStats,
    pub levels: Vec<f64>,
    /// The communities' books, treasuries and memberships at the end, in runs with communities.
    pub communities: Option<(crate::community::Communities, crate::settlement::CommunityFunds, crate::market::membership::Memberships)>,
    /// Per-phase statistics of an unbalanced network.
    pub phases: Option<crate::grid::network::PhaseStats>,
}

/// A headless simulation: an app with [`SimPlugin`], stepped on demand.
pub struct Simulation {
    pub app: App,
    total_steps: u64,
}

impl Simulation {
    pub fn new(config: SimConfig) -> Simulation {
        let total_steps = config.scenario.frame.total_steps;
        let mut app = App::empty();
        app.add_plugins(SimPlugin::new(config));
        Simulation { app, total_steps }
    }

    /// Runs one step.
    pub fn step(&mut self) {
        self.app.world_mut().run_schedule(SimStep);
    }

    pub fn steps_done(&self) -> u64 {
        self.app.world().resource::<SimClock>().next_step
    }

    pub fn is_finished(&self) -> bool {
        self.steps_done() >= self.total_steps
    }

    pub fn total_steps(&self) -> u64 {
        self.total_steps
    }

    pub fn world(&self) -> &World {
        self.app.world()
    }

    pub fn world_mut(&mut self) -> &mut World {
        self.app.world_mut()
    }

    pub fn run_totals(&self) -> RunTotals {
        *self.app.world().resource::<RunTotals>()
    }

    pub fn accounts(&self) -> Accounts {
        *self.app.world().resource::<Accounts>()
    }

    /// Every household's totals, in household order.
    pub fn household_results(&mut self) -> Vec<HouseholdResult> {
        let world = self.app.world_mut();
        let mut q = world.query::<(&Household, &MeterTotals, &crate::household::LossOfLoad, &Wallet, Option<&crate::household::battery::Battery>, &crate::household::baseline::BaselineOwnUse, &crate::household::baseline::BaselineExchange, Option<&crate::household::vehicle::Vehicle>, Option<&crate::household::planning::BatteryPlanner>, Option<&crate::household::heating::HeatPump>, Option<&crate::household::hot_water::HotWater>)>();
        let mut out: Vec<HouseholdResult> = q
            .iter(world)
            .map(|(h, t, lol, w, b, own, x, v, planner, pump, tank)| HouseholdResult {
                heating: pump.map(|p| (p.totals, p.design_heat_load_w)),
                hot_water: tank.map(|t| t.totals),
                battery_capacity_end_kwh: b.map(|b| b.capacity_kwh),
                forecast_errors: planner.map(|p| p.errors).filter(|e| e.steps > 0),
                vehicle: v.map(|v| v.totals),
                index: h.index,
                totals: t.0,
                loss_of_load_steps: lol.steps,
                wallet: *w,
                battery_soc_kwh: b.map(|b| (b.initial_soc_kwh, b.soc_kwh)),
                baseline: crate::household::baseline::BaselineResult::from_parts(own, x),
            })
            .collect();
        out.sort_by_key(|r| r.index);
        // The baseline's fixed charges are kept apart from its exchange (read by the hot loops).
        if let Some(b) = world.get_resource::<crate::settlement::GridBilling>() {
            for r in &mut out {
                (r.baseline.wallet.supply_charges, r.baseline.wallet.demand_charges) = b.baseline_charges[r.index as usize];
            }
        }
        out
    }

    /// Why the run cannot go on: a registered trading rule's result failed the core's checks,
    /// or a rule or bidding strategy supplied from outside failed (see `market::external`).
    pub fn failure(&self) -> Option<String> {
        let world = self.app.world();
        let active = world.get_resource::<crate::market::ActiveRule>().and_then(|r| r.0.failure());
        let communities = || world.get_resource::<crate::market::membership::CommunityMarkets>().and_then(|m| m.rules.iter().flatten().find_map(|r| r.failure()));
        let bidding = || world.get_resource::<crate::market::external::BidOverrides>().and_then(|o| o.failure.clone());
        active.or_else(communities).or_else(bidding)
    }

    /// Takes the ledger out at the end of a run (to flush it and read its summary).
    pub fn take_ledger(&mut self) -> Option<crate::ledger::Ledger> {
        self.app.world_mut().remove_resource::<crate::ledger::Ledger>()
    }

    pub fn fee_rate_ppm(&self) -> i64 {
        self.app.world().get_resource::<crate::settlement::Treasury>().map(|t| t.fee_rate_ppm).unwrap_or(0)
    }

    /// The results at the end of the run: every household's, the run's totals and lines, and
    /// the ledger's summary (its writer is finished first; its first error is returned).
    pub fn outcome(&mut self) -> Result<SimOutcome, String> {
        let households = self.household_results();
        let household_money: i64 = households.iter().map(|h| h.wallet.balance.0).sum();
        let fee_rate = self.fee_rate_ppm();
        let ledger = match self.take_ledger() {
            Some(mut l) => Some(l.summary(fee_rate)?),
            None => None,
        };
        let lines = self.world().resource::<crate::grid::network::LineStats>().clone();
        let levels = self.world().resource::<crate::metrics::LevelTotals>().0.clone();
        let limits = self.world().resource::<SideLimits<Run>>().stats.clone();
        let baseline_limits = self.world().resource::<SideLimits<Baseline>>().stats.clone();
        let funds = self.world().resource::<crate::settlement::CommunityFunds>().clone();
        let members = self.world().resource::<crate::market::membership::Memberships>();
        let communities = self.world().get_resource::<crate::community::Communities>().map(|c| (c.clone(), funds.clone(), members.clone()));
        let phases = self.world().get_resource::<crate::grid::network::PhaseStats>().cloned();
        Ok(SimOutcome { totals: self.run_totals(), accounts_total: Micros(household_money) + self.accounts().total() + funds.total(), households, ledger, lines, limits, baseline_limits, levels, communities, phases })
    }
}
