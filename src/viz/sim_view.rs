//! The simulation the demo drives, and the snapshot of it that the screen shows.

use crate::household::baseline::BaselineExchange;
use crate::household::battery::Battery;
use crate::household::{Household, Meter, Wallet};
use crate::ledger::chain::BlockInfo;
use crate::market::registry::{self, RuleInfo};
use crate::market::{Clearing, MarketSetup, Seller};
use crate::metrics::{RunTotals, StepTotals};
use crate::scenario::{Overrides, Scenario};
use crate::sim::{SimConfig, Simulation};
use crate::base::time::SimClock;
use crate::environment::weather::Environment;
use bevy::prelude::*;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Steps of production and consumption the panel's chart shows.
pub const CHART_STEPS: usize = 96;
/// Trades of the selected house kept for its details.
const SELECTED_TRADES: usize = 2;
/// Below this a household's energy in a step counts as none, kWh.
const STATE_EPSILON_KWH: f64 = 1e-6;
/// Steps a house that moved between communities stays marked on the map.
pub const MOVE_MARK_STEPS: u64 = 48;
/// Moves between communities listed in the panel.
const MOVES_SHOWN: usize = 2;

/// The simulation, as `peergrid run` builds it (no output files; the ledger kept in memory).
pub struct DemoSim {
    pub sim: Simulation,
    pub scenario: Arc<Scenario>,
    pub rule: &'static RuleInfo,
    path: PathBuf,
    /// Completed runs since start (a restart gets a new seed).
    pub restarts: u32,
    /// The scene whose events the simulation plays (`--scene`).
    scene: Option<Arc<crate::scenario::scene::Scene>>,
}

impl DemoSim {
    /// Loads and validates the scenario (with an optional rule and seed instead of its own, and
    /// a scene's events over the scene's steps).
    pub fn load(path: &Path, rule: Option<&str>, seed: Option<u64>, scene: Option<Arc<crate::scenario::scene::Scene>>) -> anyhow::Result<DemoSim> {
        let overrides = Overrides { rule: rule.map(str::to_string), seed, steps: scene.as_ref().and_then(|s| s.steps), scene: scene.clone(), ..Default::default() };
        let scenario = Arc::new(Scenario::load(path, &overrides).map_err(|e| anyhow::anyhow!("{e}"))?);
        let rule = scenario.rule;
        let sim = Self::build(&scenario, rule)?;
        Ok(DemoSim { sim, scenario, rule, path: path.to_path_buf(), restarts: 0, scene })
    }

    fn build(scenario: &Arc<Scenario>, rule: &'static RuleInfo) -> anyhow::Result<Simulation> {
        let params = if rule == scenario.rule { scenario.rule_params.clone() } else { registry::default_params(rule) };
        let ledger = match &scenario.ledger {
            Some(cfg) => Some(crate::ledger::Ledger::new(cfg.clone(), &scenario.ledger_setup(), None, crate::base::exec::Sealer::Pool)),
            None => None,
        };
        Ok(Simulation::new(SimConfig { scenario: scenario.clone(), rule, rule_params: params, ledger }))
    }

    /// Starts over with the next seed, keeping the current rule.
    pub fn restart_with_new_seed(&mut self) -> anyhow::Result<()> {
        let seed = self.scenario.seed.wrapping_add(1);
        let overrides = Overrides { rule: Some(self.rule.name.to_string()), seed: Some(seed), steps: self.scene.as_ref().and_then(|s| s.steps), scene: self.scene.clone(), ..Default::default() };
        let scenario = Arc::new(Scenario::load(&self.path, &overrides).map_err(|e| anyhow::anyhow!("{e}"))?);
        self.sim = Self::build(&scenario, self.rule)?;
        self.scenario = scenario;
        self.restarts += 1;
        Ok(())
    }

    /// Switches the trading rule; it clears from the next step on.
    pub fn set_rule(&mut self, rule: &'static RuleInfo) {
        let params = if rule == self.scenario.rule { self.scenario.rule_params.clone() } else { registry::default_params(rule) };
        let active = self.sim.world().resource::<MarketSetup>().build(rule, params);
        self.sim.world_mut().insert_resource(active);
        self.rule = rule;
    }
}

/// What a house is doing this step (its colour on the map).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HouseState {
    /// Exporting surplus (to peers or the grid).
    Surplus,
    /// Covering its own load from its PV and battery.
    #[default]
    SelfSufficient,
    /// Buying from peers or the grid.
    Buying,
    /// Part of its demand went unserved.
    Unserved,
}

impl HouseState {
    /// Every state, in the order palettes list their colours.
    pub const ALL: [HouseState; 4] = [HouseState::Surplus, HouseState::SelfSufficient, HouseState::Buying, HouseState::Unserved];

    /// Where this state sits in [`HouseState::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    fn of(m: &Meter) -> HouseState {
        if m.unserved_kwh > STATE_EPSILON_KWH {
            HouseState::Unserved
        } else if m.grid_export_kwh + m.p2p_sold_kwh > STATE_EPSILON_KWH {
            HouseState::Surplus
        } else if m.grid_import_kwh + m.p2p_bought_kwh > STATE_EPSILON_KWH {
            HouseState::Buying
        } else {
            HouseState::SelfSufficient
        }
    }
}

/// A house's electric vehicle this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CarState {
    Away,
    /// Home and plugged in, not charging.
    Plugged,
    Charging,
    /// Giving energy to the house (vehicle-to-home).
    Supplying,
}

impl CarState {
    pub const ALL: [CarState; 4] = [CarState::Away, CarState::Plugged, CarState::Charging, CarState::Supplying];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A house's heat pump this step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeatState {
    Idle,
    Heating,
    Cooling,
}

impl HeatState {
    pub const ALL: [HeatState; 3] = [HeatState::Idle, HeatState::Heating, HeatState::Cooling];

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A house this step, and its day so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct HouseView {
    pub state: HouseState,
    /// Battery state of charge, 0..1.
    pub soc: Option<f32>,
    /// Its car and the car's state of charge, 0..1.
    pub car: Option<(CarState, f32)>,
    /// Its heat pump and the indoor (operative) temperature, °C.
    pub heat: Option<(HeatState, f32)>,
    pub meter: Meter,
    pub today: Meter,
    pub bill: f64,
    pub baseline_bill: f64,
    /// Its community now (none: it deals with the grid alone).
    pub community: Option<u16>,
}

/// Everything the screen shows, copied from the simulation after it steps.
#[derive(Resource, Default)]
pub struct View {
    /// Changes whenever the snapshot does.
    pub version: u64,
    pub step: u64,
    pub total_steps: u64,
    pub finished: bool,
    /// The local time ("11:30") and date ("Tue 16 Jan 2024") apart, for the panel's clock.
    pub local_time: String,
    pub date_label: String,
    pub local_hour: f64,
    pub ghi_w_m2: f64,
    pub sun_elevation_deg: f64,
    pub sun_azimuth_deg: f64,
    pub houses: Vec<HouseView>,
    pub line_kw: Vec<f64>,
    /// Share of each line's flow from or to the grid (the rest is between neighbours).
    pub line_grid_share: Vec<f64>,
    pub step_totals: StepTotals,
    pub run: RunTotals,
    pub community_bill: f64,
    pub baseline_bill: f64,
    /// What the baseline has paid the grid for imports so far, before export revenue.
    pub baseline_import_cost: f64,
    /// ISO 4217 code of the scenario's money, when it names one.
    pub currency: Option<String>,
    pub network_fees: f64,
    /// (PV kWh, load kWh) of the last [`CHART_STEPS`] steps, oldest first.
    pub history: VecDeque<(f64, f64)>,
    pub blocks: Vec<(BlockInfo, String)>,
    pub selected: Option<u32>,
    pub selected_trades: VecDeque<String>,
    /// The run's communities, by index (empty: none).
    pub communities: Vec<String>,
    /// Houses coloured by their community rather than by what they do this step.
    pub by_community: bool,
    /// Houses that moved between communities in the last [`MOVE_MARK_STEPS`] steps, and when.
    pub moved: Vec<(u32, u64)>,
    /// The latest moves, for the panel, newest last.
    pub recent_moves: VecDeque<String>,
    moves_seen: usize,
    day: Option<chrono::NaiveDate>,
    /// Each line's end nodes (node indices), from the topology once: `grid::trace` needs them
    /// at every refresh.
    line_ends: Vec<(usize, usize)>,
}

impl View {
    /// Forgets the run (after a restart).
    pub fn reset(&mut self) {
        let (version, selected, by_community) = (self.version, self.selected, self.by_community);
        *self = View { version: version + 1, selected, by_community, ..Default::default() };
    }
}

/// Records what happened in the step just simulated (called after every step, so the day's
/// energy and the chart miss no step at any speed).
pub fn after_step(sim: &mut DemoSim, view: &mut View) {
    let world = sim.sim.world_mut();
    let clock = world.resource::<SimClock>();
    let day = clock.local_start.date();
    let new_day = view.day != Some(day);
    view.day = Some(day);
    let t = *world.resource::<StepTotals>();
    if view.history.len() == CHART_STEPS {
        view.history.pop_front();
    }
    view.history.push_back((t.pv_kwh, t.load_kwh));
    let n = sim.scenario.households.len();
    view.houses.resize(n, HouseView::default());
    let mut q = world.query::<(&Household, &Meter)>();
    for (h, m) in q.iter(world) {
        let v = &mut view.houses[h.index as usize];
        if new_day {
            v.today = Meter::default();
        }
        v.today.accumulate(m);
    }
    let step = world.resource::<SimClock>().step;
    view.moved.retain(|(_, at)| at + MOVE_MARK_STEPS > step);
    if let Some(k) = world.get_resource::<crate::community::Communities>() {
        let ids = &sim.scenario.households;
        let name = |c: Option<u16>| c.map_or("free".to_string(), |c| k.config.communities[c as usize].id.clone());
        for m in k.moves.get(view.moves_seen..).unwrap_or_default() {
            view.moved.push((m.household, m.step));
            if view.recent_moves.len() == MOVES_SHOWN {
                view.recent_moves.pop_front();
            }
            let gain = m.gain.map_or(String::new(), |g| format!(" ({g:+.2})"));
            view.recent_moves.push_back(format!("{} {} {} -> {}{gain}", m.day.format("%d %b"), ids[m.household as usize].id, name(m.from), name(m.to)));
        }
        view.moves_seen = k.moves.len();
    }
    if let Some(sel) = view.selected {
        let ids = &sim.scenario.households;
        let price = |p: f64| crate::output::format::price(p, sim.scenario.currency.as_deref());
        for tr in &world.resource::<Clearing>().trades {
            let seller = match tr.seller {
                Seller::Household { index, .. } => Some(index),
                Seller::Pool => None,
            };
            let line = if tr.buyer == sel {
                format!("bought {:.3} kWh from {} at {}", tr.kwh, seller.map_or("the pool", |s| ids[s as usize].id.as_str()), price(tr.price.as_units()))
            } else if seller == Some(sel) {
                format!("sold {:.3} kWh to {} at {}", tr.kwh_sent(), ids[tr.buyer as usize].id, price(tr.price.as_units()))
            } else {
                continue;
            };
            if view.selected_trades.len() == SELECTED_TRADES {
                view.selected_trades.pop_front();
            }
            view.selected_trades.push_back(line);
        }
    }
}

/// Copies the simulation's state into `view` (once per frame in which it stepped).
pub fn refresh(sim: &mut DemoSim, view: &mut View) {
    let total_steps = sim.sim.total_steps();
    let finished = sim.sim.is_finished();
    let world = sim.sim.world_mut();
    let clock = world.resource::<SimClock>();
    view.step = clock.step;
    view.total_steps = total_steps;
    view.finished = finished;
    view.local_time = format!("{}", clock.local_start.format("%H:%M"));
    view.date_label = format!("{}", clock.local_start.format("%a %-d %b %Y"));
    view.local_hour = clock.local_start.and_utc().timestamp().rem_euclid(86_400) as f64 / 3600.0;
    let env = world.resource::<Environment>();
    view.ghi_w_m2 = env.irradiance.ghi;
    view.sun_elevation_deg = 90.0 - env.sun.apparent_zenith_deg;
    view.sun_azimuth_deg = env.sun.azimuth_deg;
    view.step_totals = *world.resource::<StepTotals>();
    view.run = *world.resource::<RunTotals>();
    let network = world.resource::<crate::grid::network::Network>();
    view.line_kw.clone_from(&network.flows.line_kw);
    let topo = &sim.scenario.topology;
    if view.line_ends.len() != topo.graph.edge_count() {
        view.line_ends = topo.graph.edge_indices().filter_map(|e| topo.graph.edge_endpoints(e)).map(|(a, b)| (a.index(), b.index())).collect();
    }
    view.line_grid_share = crate::grid::trace::grid_shares(&view.line_ends, &view.line_kw, network.injection_kw(), topo.root.index());
    let n = sim.scenario.households.len();
    view.houses.resize(n, HouseView::default());
    if view.communities.is_empty() && let Some(c) = &sim.scenario.communities {
        view.communities = c.communities.iter().map(|k| k.id.clone()).collect();
        view.by_community = true;
    }
    if let Some(m) = world.get_resource::<crate::market::membership::Memberships>() {
        for (v, c) in view.houses.iter_mut().zip(&m.0) {
            v.community = *c;
        }
    }
    let (mut bill, mut baseline, mut fees, mut import_cost) = (0.0, 0.0, 0.0, 0.0);
    let mut q = world.query::<(&Household, &Meter, Option<&Battery>, &Wallet, &BaselineExchange, Option<&crate::household::vehicle::Vehicle>, Option<&crate::household::heating::HeatPump>)>();
    for (h, m, b, w, base, car, pump) in q.iter(world) {
        let v = &mut view.houses[h.index as usize];
        v.state = HouseState::of(m);
        v.car = car.map(|c| {
            let state = if !c.plugged {
                CarState::Away
            } else if m.ev_kwh > STATE_EPSILON_KWH {
                CarState::Charging
            } else if m.ev_discharge_kwh > STATE_EPSILON_KWH {
                CarState::Supplying
            } else {
                CarState::Plugged
            };
            (state, (c.soc_kwh / c.spec.battery_kwh.max(1e-9)) as f32)
        });
        v.heat = pump.map(|p| {
            let state = if m.heat_pump_kwh <= STATE_EPSILON_KWH {
                HeatState::Idle
            } else if p.cooling_now() {
                HeatState::Cooling
            } else {
                HeatState::Heating
            };
            (state, p.indoor_c as f32)
        });
        v.meter = *m;
        v.soc = b.map(|b| (b.soc_kwh / b.capacity_kwh.max(1e-9)) as f32);
        v.bill = w.bill().as_units();
        v.baseline_bill = base.bill().as_units();
        bill += v.bill;
        baseline += v.baseline_bill;
        fees += w.network_fees_paid.as_units();
        import_cost += base.grid_paid.as_units();
    }
    view.community_bill = bill;
    view.baseline_bill = baseline;
    view.baseline_import_cost = import_cost;
    view.currency.clone_from(&sim.scenario.currency);
    view.network_fees = fees;
    view.blocks = world
        .get_resource::<crate::ledger::Ledger>()
        .map(|l| l.recent_blocks().into_iter().map(|b| (b, l.member_id(b.producer).to_string())).collect())
        .unwrap_or_default();
    view.version += 1;
}
