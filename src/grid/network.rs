//! The grid in the simulation: line limits before the market ([`limit_lines`]), and after
//! delivery the power flows, losses and voltages of the step ([`measure_flows`]), summed into
//! per-line statistics for `lines.csv` and `summary.json`.

use super::flow::{AcState, FlowModel, Flows};
use super::flow3::{Flow3Model, Flow3State};
use super::limits::{Keep, Limiter, NodeOffer};
use super::topology::{Phase, Topology};
use crate::base::exec::Pace;
use crate::environment::tariff::StepPrices;
use crate::household::side::{ConnectionCut, Side, StepOffer};
use crate::household::{Household, Meter};
use bevy::prelude::*;
use std::marker::PhantomData;

/// Default line-to-line voltage of the low-voltage network, V.
pub const DEFAULT_NOMINAL_VOLTAGE_V: f64 = 400.0;

/// The grid's systems: limits before the market, flows after delivery.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GridSystems {
    /// Line limits on the step's offers, after own use and battery, before orders.
    Limits,
    /// Flows, losses and voltages of what was delivered.
    Flows,
}

/// The network's settings for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NetworkConfig {
    pub nominal_voltage_v: f64,
    /// Curtail and shed so that no line exceeds its capacity (off: flows are only reported).
    pub enforce_line_limits: bool,
    /// The voltage band every node should stay within.
    pub voltage_band: VoltageBand,
    /// Curtail and shed so that every node stays within the band (radial grids).
    pub enforce_voltage_limits: bool,
    /// The network operator's export limit set each step from the feeder's headroom.
    pub dynamic_export: Option<DynamicExport>,
}

/// A dynamic export limit (a flexible export, or dynamic operating envelope, as SA Power
/// Networks offers from 1.5 kW up to 10 kW): each step the network operator sets one cap for
/// every house, the largest between `min_kw` and `max_kw` under which no bus's phase voltage
/// rises above the band's top when every house sends all it offers up to the cap (the high end
/// of the range, before any inverter's response), found by bisection to
/// [`ENVELOPE_RESOLUTION_KW`]; below `min_kw` the line and voltage limits cut the rest as
/// always. A house's own static cap still holds when lower.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DynamicExport {
    pub min_kw: f64,
    pub max_kw: f64,
}

/// How finely the dynamic export limit is found, kW.
pub const ENVELOPE_RESOLUTION_KW: f64 = 0.05;

/// Default allowed voltage deviation, per unit (EN 50160: ±10%).
pub const DEFAULT_VOLTAGE_TOLERANCE: f64 = 0.10;

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig { nominal_voltage_v: DEFAULT_NOMINAL_VOLTAGE_V, enforce_line_limits: true, voltage_band: VoltageBand::symmetric(DEFAULT_VOLTAGE_TOLERANCE), enforce_voltage_limits: true, dynamic_export: None }
    }
}

/// The allowed voltage range as deviations below and above nominal, per unit: a symmetric
/// tolerance (EN 50160's ±10%) or a band stated in volts (AS 61000.3.100's 216.2–253 V around
/// 230 V is 6% below and 10% above). Kept as deviations so a node's excess is `|v − 1|` less
/// the deviation on its side, as for a symmetric band.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VoltageBand {
    pub below_pu: f64,
    pub above_pu: f64,
    /// The band in phase-to-neutral volts as given, if it was.
    pub given_v: Option<(f64, f64)>,
}

impl VoltageBand {
    pub fn symmetric(tolerance_pu: f64) -> Self {
        VoltageBand { below_pu: tolerance_pu, above_pu: tolerance_pu, given_v: None }
    }

    /// The band from phase-to-neutral volts around `v_phase_nominal_v`.
    pub fn from_volts(min_v: f64, max_v: f64, v_phase_nominal_v: f64) -> Self {
        VoltageBand { below_pu: 1.0 - min_v / v_phase_nominal_v, above_pu: max_v / v_phase_nominal_v - 1.0, given_v: Some((min_v, max_v)) }
    }

    /// How far `v_pu` is outside the band (≤ 0 inside).
    pub fn excess_pu(&self, v_pu: f64) -> f64 {
        (v_pu - 1.0).abs() - if v_pu > 1.0 { self.above_pu } else { self.below_pu }
    }

    /// The narrower side's deviation: a node closer to nominal than this is inside.
    pub fn narrower_pu(&self) -> f64 {
        self.below_pu.min(self.above_pu)
    }

    pub fn min_pu(&self) -> f64 {
        1.0 - self.below_pu
    }

    pub fn max_pu(&self) -> f64 {
        1.0 + self.above_pu
    }
}

/// The electrical model, the households' nodes and per-step scratch.
#[derive(Resource)]
pub struct Network {
    pub model: FlowModel,
    pub capacity_kw: Vec<f64>,
    pub config: NetworkConfig,
    step_hours: f64,
    /// Grid node of each household, by household index.
    pub(crate) node_of: Vec<u32>,
    injection: Vec<f64>,
    pub flows: Flows,
    pub ac: AcState,
    /// Losses of each line in the step, kW.
    pub(crate) line_loss_kw: Vec<f64>,
    /// The unbalanced model (phases, reactive power, a transformer); `None`: balanced.
    pub three_phase: Option<ThreePhase>,
    /// Each household's export cap, kW (infinite: none), by household index.
    export_cap_kw: Vec<f64>,
    /// The inverters with grid-code curves (unbalanced networks).
    inverters: Vec<super::inverter::Inverter>,
    /// Whether any household's connection cuts its offer (an export cap or inverter curves).
    connections_limited: bool,
}

/// A household's connection agreement: its export cap and its inverter's curves.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdConnection {
    pub export_limit_kw: Option<f64>,
    pub inverter: Option<super::inverter::InverterDef>,
}

/// Each household's connection as the three-phase flow sees it, by household index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HouseholdPhases {
    pub phase: Vec<Phase>,
    /// tan φ of the load (reactive power drawn per kW of load) and of PV output (reactive
    /// power absorbed per kW generated).
    pub load_tan_phi: Vec<f64>,
    pub pv_tan_phi: Vec<f64>,
}

/// The unbalanced flow's model, inputs and last results.
#[derive(Debug, Clone)]
pub struct ThreePhase {
    pub model: Flow3Model,
    pub households: HouseholdPhases,
    /// Per node and phase: P kW and Q kvar into the grid in the step.
    pub injection: Vec<[(f64, f64); 3]>,
    pub state: Flow3State,
    /// Current rating of each line per phase, A.
    pub rating_a: Vec<f64>,
    /// The transformer, if any: its loading is the highest winding current over its rating,
    /// on either side (pandapower's loading by current).
    pub transformer: Option<super::topology::Transformer>,
}

impl Network {
    /// The last step's net injection of each node (kW, + into the grid), by node index.
    pub fn injection_kw(&self) -> &[f64] {
        &self.injection
    }

    pub fn new(topology: &Topology, household_nodes: &[petgraph::graph::NodeIndex], config: NetworkConfig, step_hours: f64, phases: Option<&HouseholdPhases>, connections: &[HouseholdConnection]) -> Network {
        let model = FlowModel::new(topology);
        let three_phase = phases.map(|h| {
            let flow = Flow3Model::new(topology, &model, config.nominal_voltage_v);
            let v_phase = flow.v_phase;
            ThreePhase {
                model: flow,
                households: h.clone(),
                injection: Vec::new(),
                state: Flow3State::default(),
                rating_a: topology.graph.edge_weights().map(|l| l.max_i_a.unwrap_or(l.capacity_kw * 1000.0 / (3.0 * v_phase))).collect(),
                transformer: topology.transformer.clone(),
            }
        });
        let mut net = Network {
            model,
            capacity_kw: topology.graph.edge_weights().map(|l| l.capacity_kw).collect(),
            config,
            step_hours,
            node_of: household_nodes.iter().map(|n| n.index() as u32).collect(),
            injection: Vec::new(),
            flows: Flows::default(),
            ac: AcState::default(),
            line_loss_kw: Vec::new(),
            export_cap_kw: (0..household_nodes.len()).map(|i| connections.get(i).and_then(|c| c.export_limit_kw).unwrap_or(f64::INFINITY)).collect(),
            inverters: match phases {
                // Curves need voltages per phase: scenarios with inverters choose the unbalanced flow.
                None => Vec::new(),
                Some(h) => connections
                    .iter()
                    .enumerate()
                    .filter_map(|(i, c)| {
                        let def = c.inverter.as_ref()?;
                        Some(super::inverter::Inverter { household: i as u32, node: household_nodes[i].index() as u32, shares: h.phase[i].shares(), rated_kva: def.rated_kva, volt_var: def.volt_var.clone(), volt_watt: def.volt_watt.clone() })
                    })
                    .collect(),
            },
            three_phase,
            connections_limited: false,
        };
        net.connections_limited = !net.inverters.is_empty() || net.export_cap_kw.iter().any(|c| c.is_finite()) || config.dynamic_export.is_some();
        net
    }

    fn limits_connections(&self) -> bool {
        self.connections_limited
    }

    fn node(&self, household: u32) -> usize {
        self.node_of[household as usize] as usize
    }
}

/// What the grid did over the run so far, per line and in total.
#[derive(Resource, Debug, Clone, Default)]
pub struct LineStats {
    pub steps: u64,
    pub max_flow_kw: Vec<f64>,
    pub sum_abs_flow_kw: Vec<f64>,
    pub losses_kwh: Vec<f64>,
    /// Steps with a delivered flow above a capacity (0 when limits are enforced on a radial grid).
    pub overloaded_steps: u64,
    /// Lowest and highest node voltage of the balanced AC sweep, per unit (an unbalanced
    /// network's are in [`PhaseStats`]).
    pub min_voltage_pu: f64,
    pub max_voltage_pu: f64,
    /// Steps of a radial grid whose AC sweep did not settle (losses then from DC flows).
    pub sweep_failed_steps: u64,
    /// Network losses of the last step, kWh (read by metrics).
    pub step_losses_kwh: f64,
    /// Highest flow / capacity of any line in the last step (read by metrics).
    pub step_max_loading: f64,
}

impl LineStats {
    pub fn max_line_loading(&self, capacity_kw: &[f64]) -> f64 {
        self.max_flow_kw.iter().zip(capacity_kw).map(|(f, c)| f / c).fold(0.0, f64::max)
    }

    pub fn total_losses_kwh(&self) -> f64 {
        self.losses_kwh.iter().sum()
    }
}

/// What the unbalanced flow saw over the run, per node and line by phase.
#[derive(Resource, Debug, Clone, Default)]
pub struct PhaseStats {
    /// Lowest and highest phase-to-neutral voltage of each node by phase, per unit.
    pub min_voltage_pu: Vec<[f64; 3]>,
    pub max_voltage_pu: Vec<[f64; 3]>,
    /// Highest voltage unbalance factor of each node, %.
    pub max_unbalance_pct: Vec<f64>,
    /// Steps in which any phase of the node was outside the voltage band, and of them those
    /// with a phase below it and with a phase above it.
    pub steps_outside_band: Vec<u64>,
    pub steps_below_band: Vec<u64>,
    pub steps_above_band: Vec<u64>,
    /// Highest current of each line by phase over its rating.
    pub max_loading: Vec<[f64; 3]>,
    /// Losses of each line by phase, kWh.
    pub losses_kwh: Vec<[f64; 3]>,
    /// Highest transformer loading (highest phase current over rated), if there is one.
    pub transformer_max_loading: Option<f64>,
    /// Highest unbalance factor anywhere, %, and steps in which some node was above
    /// [`UNBALANCE_LIMIT_PCT`].
    pub max_unbalance_pct_any: f64,
    pub unbalance_steps: u64,
    /// Steps whose sweep did not converge.
    pub failed_steps: u64,
}

/// Voltage unbalance factor EN 50160 allows (95% of 10-minute means), %.
pub const UNBALANCE_LIMIT_PCT: f64 = 2.0;

impl PhaseStats {
    fn new(nodes: usize, lines: usize) -> Self {
        PhaseStats {
            min_voltage_pu: vec![[f64::INFINITY; 3]; nodes],
            max_voltage_pu: vec![[0.0; 3]; nodes],
            max_unbalance_pct: vec![0.0; nodes],
            steps_outside_band: vec![0; nodes],
            steps_below_band: vec![0; nodes],
            steps_above_band: vec![0; nodes],
            max_loading: vec![[0.0; 3]; lines],
            losses_kwh: vec![[0.0; 3]; lines],
            ..Default::default()
        }
    }
}

/// One side's line limits: its offers per node, its limiter, and what the limits cost it.
#[derive(Resource)]
pub struct SideLimits<S> {
    offers: Vec<NodeOffer>,
    /// Unbalanced networks: each node's offers on phases a, b, c as shares, and the voltage
    /// limit's three-phase flow.
    shares: Vec<[f64; 3]>,
    flow3: super::flow3::Flow3State,
    limiter: Limiter,
    pub stats: LimitStats,
    /// Households' offers by household index, and their connections' cuts (export caps,
    /// inverters), when any connection limits its offer.
    households: Vec<StepOffer>,
    cuts: Vec<ConnectionCut>,
    inverters: InverterScratch,
    side: PhantomData<fn() -> S>,
}

/// The connections' solves for one side: the dynamic export limit's flows, and the inverters'
/// flow state, inputs and response.
#[derive(Default)]
struct InverterScratch {
    envelope: Vec<[(f64, f64); 3]>,
    envelope_state: super::flow3::Flow3State,
    envelope_kw: Vec<f64>,
    envelope_ac: AcState,
    state: super::flow3::Flow3State,
    base: Vec<[(f64, f64); 3]>,
    export_kw: Vec<f64>,
    pv_kw: Vec<f64>,
    response: super::inverter::Response,
    /// The step's reactive power by node and phase with the inverters'.
    q_kvar: Vec<[f64; 3]>,
}

impl<S> SideLimits<S> {
    fn new(lines: usize) -> Self {
        SideLimits {
            offers: Vec::new(),
            shares: Vec::new(),
            flow3: Default::default(),
            limiter: Limiter::default(),
            stats: LimitStats { congested_steps_by_line: vec![0; lines], ..Default::default() },
            households: Vec::new(),
            cuts: Vec::new(),
            inverters: InverterScratch::default(),
            side: PhantomData,
        }
    }
}

/// What line and voltage limits did to one side's offers over the run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitStats {
    /// Steps in which any line's limit cut offers.
    pub congested_steps: u64,
    /// Steps in which each line's limit cut offers, by line index.
    pub congested_steps_by_line: Vec<u64>,
    /// Surplus curtailed and load shed for the limits, kWh.
    pub curtailed_kwh: f64,
    pub shed_kwh: f64,
    /// Steps in which the voltage band cut offers, and node-steps that would have been outside it.
    pub voltage_limited_steps: u64,
    pub voltage_violations_avoided: u64,
    /// PV curtailed for export caps and by inverters' volt-watt ceilings, kWh.
    pub export_limited_kwh: f64,
    pub inverter_curtailed_kwh: f64,
    /// Steps whose inverter responses had not settled (see `grid::inverter`).
    pub inverter_unsettled_steps: u64,
    /// The dynamic export limit: steps it was set (some house offered more than its floor),
    /// their sum and lowest, kW, and steps it was below its ceiling.
    pub envelope_steps: u64,
    pub envelope_sum_kw: f64,
    pub envelope_min_kw: Option<f64>,
    pub envelope_limited_steps: u64,
}

/// What the grid is built from: its topology, each household's node (by household index), the
/// network's settings and the step's length.
#[derive(Debug, Clone)]
pub struct GridConfig {
    pub topology: std::sync::Arc<Topology>,
    pub household_nodes: Vec<petgraph::graph::NodeIndex>,
    pub network: NetworkConfig,
    pub step_hours: f64,
    /// Phases and power factors: the unbalanced three-phase flow (radial networks); `None`:
    /// every household three-phase at unity power factor, the balanced flow.
    pub phases: Option<HouseholdPhases>,
    /// Each household's export cap and inverter curves, by household index.
    pub connections: Vec<HouseholdConnection>,
}

/// Adds the network to the simulation, limiting the offers of two sides side by side (`sim`
/// passes the run and its baseline; the grid knows neither).
pub struct GridPlugin<A, B> {
    config: GridConfig,
    sides: PhantomData<fn() -> (A, B)>,
}

impl<A: Side, B: Side> GridPlugin<A, B> {
    pub fn new(config: GridConfig) -> Self {
        GridPlugin { config, sides: PhantomData }
    }
}

impl<A: Side, B: Side> Plugin for GridPlugin<A, B> {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        let c = &self.config;
        let network = Network::new(&c.topology, &c.household_nodes, c.network, c.step_hours, c.phases.as_ref(), &c.connections);
        let lines = network.capacity_kw.len();
        if c.phases.is_some() {
            app.insert_resource(PhaseStats::new(network.model.nodes, lines)).init_resource::<StepReactive>().init_resource::<InverterReactive>();
            app.add_systems(SimStep, reactive_power.in_set(GridSystems::Limits).before(limit_lines::<A, B>));
        }
        app.insert_resource(super::GridTopology(c.topology.clone())).insert_resource(network);
        app.insert_resource(LineStats {
            max_flow_kw: vec![0.0; lines],
            sum_abs_flow_kw: vec![0.0; lines],
            losses_kwh: vec![0.0; lines],
            min_voltage_pu: 1.0,
            max_voltage_pu: 1.0,
            ..Default::default()
        })
        .insert_resource(SideLimits::<A>::new(lines))
        .insert_resource(SideLimits::<B>::new(lines))
        .add_systems(SimStep, limit_lines::<A, B>.in_set(GridSystems::Limits))
        .add_systems(SimStep, measure_flows.in_set(GridSystems::Flows));
    }
}

/// Applies the households' connection cuts (export caps, inverter curves) and the line and
/// voltage limits to this step's offers of two independent sides (the run and its grid-only
/// baseline): battery offers withdrawn, PV surplus curtailed, load shed (see `grid::limits`).
/// Reads `StepPrices`, `Network`, `StepReactive`; writes each side's exchange component
/// (through [`Side::limit_connection`] and [`Side::keep`]), its `SideLimits`, and the run's
/// inverters' reactive power (`InverterReactive`); the two sides side by side are a `Pace`
/// region. Runs in `GridSystems::Limits`, after own use and battery, before orders.
#[allow(clippy::type_complexity, clippy::too_many_arguments)]
pub fn limit_lines<A: Side, B: Side>(
    prices: Res<StepPrices>,
    pace: Res<Pace>,
    net: Res<Network>,
    mut a: ResMut<SideLimits<A>>,
    mut b: ResMut<SideLimits<B>>,
    mut households: Query<(&Household, &mut A::Exchange, &mut B::Exchange)>,
    reactive: Option<Res<StepReactive>>,
    inverter_q: Option<ResMut<InverterReactive>>,
) {
    let cfg = net.config;
    let connections = net.limits_connections();
    if !cfg.enforce_line_limits && !cfg.enforce_voltage_limits && !connections {
        return;
    }
    let step = reactive.as_deref();
    // Plain references: `ResMut`'s change tick would be stored on every access in the loops.
    let (a, b) = (&mut *a, &mut *b);
    let households_ro = households.as_readonly();
    let offers_a = |(h, x, _): (&Household, &A::Exchange, &B::Exchange)| (h.index, A::offer(x));
    let offers_b = |(h, _, x): (&Household, &A::Exchange, &B::Exchange)| (h.index, B::offer(x));
    // The sides are independent: each gathers its offers and applies its limits side by side
    // on the `--threads` pool.
    let ((active_a, avoided_a), (active_b, avoided_b)) = pace.join(|| limit_side::<A>(&net, &prices, a, step, households_ro.iter().map(offers_a)), || limit_side::<B>(&net, &prices, b, step, households_ro.iter().map(offers_b)));
    if connections {
        // The connections' cuts come first: the limits worked on what they left.
        let h = net.step_hours;
        for (hh, mut xa, mut xb) in &mut households {
            let i = hh.index as usize;
            if active_a && a.cuts[i] != ConnectionCut::default() {
                A::limit_connection(&mut xa, &ConnectionCut { export_price: prices.export, ..a.cuts[i] });
            }
            if active_b && b.cuts[i] != ConnectionCut::default() {
                B::limit_connection(&mut xb, &ConnectionCut { export_price: prices.export, ..b.cuts[i] });
            }
        }
        // The run's inverters' reactive power flows in the delivered flow too.
        if let Some(mut q) = inverter_q {
            q.0.clear();
            q.0.resize(net.node_of.len(), 0.0);
            if active_a {
                for (slot, c) in q.0.iter_mut().zip(&a.cuts) {
                    *slot = c.q_kvarh / h;
                }
            }
        }
    }
    if active_a && cut_offers(a, avoided_a) {
        for (hh, x, _) in &mut households {
            a.stats.keep_offer::<A>(a.limiter.keep[net.node(hh.index)], x);
        }
    }
    if active_b && cut_offers(b, avoided_b) {
        for (hh, _, x) in &mut households {
            b.stats.keep_offer::<B>(b.limiter.keep[net.node(hh.index)], x);
        }
    }
}

impl LimitStats {
    /// Keeps `k` of one household's offer on side `S`, counting what was cut. Only an offer
    /// that is cut is written (its change tick is not touched otherwise).
    fn keep_offer<S: Side>(&mut self, k: Keep, mut x: Mut<S::Exchange>) {
        if k != Keep::default() {
            let (cut, shed) = S::keep(&mut x, k);
            self.curtailed_kwh += cut;
            self.shed_kwh += shed;
        }
    }
}

/// Gathers one side's offers, takes its connections' cuts (export caps, then inverters), and
/// applies its limits. Returns whether the side's power flows this step (a grid-only side on an
/// island has nothing to limit), and the node-steps the voltage band avoided (when enforced).
fn limit_side<S: Side>(net: &Network, prices: &StepPrices, side: &mut SideLimits<S>, step: Option<&StepReactive>, households: impl Iterator<Item = (u32, StepOffer)>) -> (bool, Option<u64>) {
    let (nodes, lines, cfg) = (net.model.nodes, net.capacity_kw.len(), net.config);
    let active = prices.connected || S::FLOWS_ON_ISLAND;
    // `Limiter::apply` starts by resetting its limiter; a limiter it does not run is reset here.
    if !(cfg.enforce_line_limits && active) {
        side.limiter.reset(nodes, lines);
    }
    if !active {
        return (false, None);
    }
    let q_kvar = step.map_or(&[][..], |r| &r.q_kvar[..]);
    let q_kvar = if net.limits_connections() {
        side.households.clear();
        side.households.resize(net.node_of.len(), StepOffer::default());
        for (index, o) in households {
            side.households[index as usize] = o;
        }
        limit_connections(net, side, prices.connected, step);
        if net.inverters.is_empty() { q_kvar } else { &side.inverters.q_kvar[..] }
    } else {
        gather(net, side, households);
        q_kvar
    };
    if !(cfg.enforce_line_limits || cfg.enforce_voltage_limits) {
        return (true, None);
    }
    if cfg.enforce_line_limits {
        let ok = match &net.three_phase {
            None => side.limiter.apply(&net.model, &net.capacity_kw, &side.offers, prices.connected),
            Some(_) => side.limiter.apply_3ph(&net.model, &net.capacity_kw, &side.offers, &side.shares, prices.connected),
        };
        // Balanced radial limits always settle; per phase, a cut for one phase moves a node's
        // other phases too, and a rare step ends in the uniform scale-down (within limits).
        debug_assert!(ok || !net.model.is_radial() || net.three_phase.is_some(), "radial limits always settle");
    }
    let avoided = cfg.enforce_voltage_limits.then(|| match &net.three_phase {
        None => side.limiter.limit_voltage(&net.model, &side.offers, prices.connected, cfg.nominal_voltage_v, cfg.voltage_band),
        Some(three) => side.limiter.limit_voltage_3ph(&net.model, three, &mut side.flow3, &side.offers, &side.shares, q_kvar, prices.connected, cfg.nominal_voltage_v, cfg.voltage_band),
    });
    (true, avoided)
}

/// Sums the households' offers per node (and their shares on each phase) into the side's.
fn gather<S>(net: &Network, side: &mut SideLimits<S>, households: impl Iterator<Item = (u32, StepOffer)>) {
    let nodes = net.model.nodes;
    match &net.three_phase {
        None => gather_offers(&mut side.offers, nodes, &net.node_of, net.step_hours, households),
        Some(three) => gather_offers_3ph(&mut side.offers, &mut side.shares, nodes, &net.node_of, &three.households.phase, net.step_hours, households),
    }
}

/// Each household's connection cuts, into `side.cuts` and off `side.households`' offers: the
/// export cap curtails surplus above it and leaves the battery offer only the room below it;
/// then the inverters respond to the voltage at the high end of the range (see
/// `grid::inverter`). Gathers the node offers from what is left.
fn limit_connections<S>(net: &Network, side: &mut SideLimits<S>, connected: bool, step: Option<&StepReactive>) {
    let h = net.step_hours;
    side.cuts.clear();
    side.cuts.resize(net.node_of.len(), ConnectionCut::default());
    for ((o, c), &cap_kw) in side.households.iter_mut().zip(&mut side.cuts).zip(&net.export_cap_kw) {
        if cap_kw.is_finite() {
            side.stats.export_limited_kwh += cap_export(o, c, cap_kw * h);
        }
    }
    if let Some(d) = net.config.dynamic_export
        && let Some(cap_kw) = envelope(net, side, connected, step, d)
    {
        let s = &mut side.stats;
        s.envelope_steps += 1;
        s.envelope_sum_kw += cap_kw;
        s.envelope_min_kw = Some(s.envelope_min_kw.map_or(cap_kw, |m| m.min(cap_kw)));
        s.envelope_limited_steps += (cap_kw < d.max_kw) as u64;
        for (o, c) in side.households.iter_mut().zip(&mut side.cuts) {
            s.export_limited_kwh += cap_export(o, c, cap_kw * h);
        }
    }
    gather_households(net, side);
    let (Some(three), Some(step)) = (&net.three_phase, step) else { return };
    if net.inverters.is_empty() {
        return;
    }
    // The flow without the inverters' response at the high end: every node's offers on its
    // phases, the loads' (and fixed power factors') reactive power.
    let inv = &mut side.inverters;
    inv.q_kvar.clone_from(&step.q_kvar);
    let end = super::limits::EndOfRange::new(connected, true);
    inv.base.clear();
    inv.base.extend(side.offers.iter().zip(&side.shares).zip(&step.q_kvar).map(|((o, s), q)| {
        let p = end.injection(o, &super::limits::Keep::default());
        [0, 1, 2].map(|k| (s[k] * p, q[k]))
    }));
    inv.export_kw.clear();
    inv.pv_kw.clear();
    for i in &net.inverters {
        let k = i.household as usize;
        inv.export_kw.push(side.households[k].surplus_kwh / h);
        // What the export cap already took is not generated.
        inv.pv_kw.push(step.pv_kw[k] - side.cuts[k].export_kwh / h);
    }
    // Inverters respond while they generate: at night they are off.
    if inv.pv_kw.iter().all(|p| *p <= 0.0) {
        return;
    }
    super::inverter::solve(&three.model, &mut inv.state, &inv.base, &net.inverters, &inv.export_kw, &inv.pv_kw, &mut inv.response);
    side.stats.inverter_unsettled_steps += !inv.response.settled as u64;
    let r = &inv.response;
    for (k, i) in net.inverters.iter().enumerate() {
        let c = &mut side.cuts[i.household as usize];
        c.inverter_kwh = r.curtailed_kw[k] * h;
        c.q_kvarh = r.q_kvar[k] * h;
        side.stats.inverter_curtailed_kwh += c.inverter_kwh;
        let o = &mut side.households[i.household as usize];
        o.surplus_kwh = (o.surplus_kwh - c.inverter_kwh).max(0.0);
        for (slot, share) in inv.q_kvar[i.node as usize].iter_mut().zip(i.shares) {
            *slot += share * r.q_kvar[k];
        }
    }
    gather_households(net, side);
}

/// Caps what a house sends at `cap_kwh`: its surplus above it is cut (added to the cut's
/// `export_kwh`, and returned), its battery offer keeps only the room left.
fn cap_export(o: &mut StepOffer, c: &mut ConnectionCut, cap_kwh: f64) -> f64 {
    let cut = (o.surplus_kwh - cap_kwh).max(0.0);
    o.surplus_kwh -= cut;
    c.export_kwh += cut;
    c.battery_max_kwh = c.battery_max_kwh.min((cap_kwh - o.surplus_kwh).max(0.0));
    o.battery_kwh = o.battery_kwh.min(c.battery_max_kwh);
    cut
}

/// The step's dynamic export limit, kW (see [`DynamicExport`]); `None` when no house offers
/// more than the floor (nothing to limit).
fn envelope<S>(net: &Network, side: &mut SideLimits<S>, connected: bool, step: Option<&StepReactive>, d: DynamicExport) -> Option<f64> {
    let floor_kwh = d.min_kw * net.step_hours;
    if side.households.iter().all(|o| o.surplus_kwh + o.battery_kwh <= floor_kwh) {
        return None;
    }
    let mut over = |cap_kw: f64| rises_above_band(net, side, connected, step, cap_kw);
    if !over(d.max_kw) {
        return Some(d.max_kw);
    }
    if over(d.min_kw) {
        return Some(d.min_kw);
    }
    let (mut lo, mut hi) = (d.min_kw, d.max_kw);
    while hi - lo > ENVELOPE_RESOLUTION_KW {
        let mid = 0.5 * (lo + hi);
        if over(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(lo)
}

/// Whether some bus's phase voltage rises above the band's top when every house sends all it
/// offers up to `cap_kw` (and, grid-connected, draws its deficit): the unbalanced flow with
/// the step's reactive power, or the balanced sweep; a meshed network has no voltages (never).
fn rises_above_band<S>(net: &Network, side: &mut SideLimits<S>, connected: bool, step: Option<&StepReactive>, cap_kw: f64) -> bool {
    let h = net.step_hours;
    let cap = cap_kw * h;
    let top = net.config.voltage_band.max_pu() + super::limits::VOLTAGE_TOLERANCE_PU;
    let sent_kw = |o: &StepOffer| {
        let surplus = o.surplus_kwh.min(cap);
        let sent = surplus + o.battery_kwh.min(cap - surplus);
        (sent - if connected { o.deficit_kwh } else { 0.0 }) / h
    };
    let scratch = &mut side.inverters;
    match (&net.three_phase, step) {
        (Some(three), Some(step)) => {
            scratch.envelope.clear();
            scratch.envelope.extend(step.q_kvar.iter().map(|q| q.map(|q| (0.0, q))));
            for (i, o) in side.households.iter().enumerate() {
                let p = sent_kw(o);
                for (slot, share) in scratch.envelope[net.node_of[i] as usize].iter_mut().zip(three.households.phase[i].shares()) {
                    slot.0 += share * p;
                }
            }
            let st = &mut scratch.envelope_state;
            three.model.solve(&scratch.envelope, st);
            // No voltage solution: far too much.
            !st.converged || (0..net.model.nodes).any(|n| st.voltage_pu(n, three.model.v_phase).iter().any(|v| *v > top))
        }
        _ if net.model.is_radial() => {
            scratch.envelope_kw.clear();
            scratch.envelope_kw.resize(net.model.nodes, 0.0);
            for (i, o) in side.households.iter().enumerate() {
                scratch.envelope_kw[net.node_of[i] as usize] += sent_kw(o);
            }
            net.model.sweep(&scratch.envelope_kw, net.config.nominal_voltage_v, &mut scratch.envelope_ac);
            !scratch.envelope_ac.converged || scratch.envelope_ac.voltage_pu.iter().any(|v| *v > top)
        }
        _ => false,
    }
}

/// [`gather`] from the side's per-household offers.
fn gather_households<S>(net: &Network, side: &mut SideLimits<S>) {
    let hh = std::mem::take(&mut side.households);
    gather(net, side, hh.iter().enumerate().map(|(i, o)| (i as u32, *o)));
    side.households = hh;
}

/// Counts the step's binding limits of one side; returns whether any offer must be cut.
fn cut_offers<S>(side: &mut SideLimits<S>, avoided: Option<u64>) -> bool {
    let (limiter, stats) = (&side.limiter, &mut side.stats);
    if let Some(avoided) = avoided {
        stats.voltage_violations_avoided += avoided;
        stats.voltage_limited_steps += limiter.voltage_binding as u64;
    }
    let any = limiter.binding.iter().any(|b| *b);
    stats.congested_steps += any as u64;
    if any {
        for (steps, &binding) in stats.congested_steps_by_line.iter_mut().zip(&limiter.binding) {
            *steps += binding as u64;
        }
    }
    any || limiter.voltage_binding
}

/// Sums each node's households' offers (kW) into `offers`, by node index.
fn gather_offers(offers: &mut Vec<NodeOffer>, nodes: usize, node_of: &[u32], step_hours: f64, households: impl Iterator<Item = (u32, StepOffer)>) {
    offers.clear();
    offers.resize(nodes, NodeOffer::default());
    for (index, add) in households {
        let o = &mut offers[node_of[index as usize] as usize];
        o.surplus_kw += add.surplus_kwh / step_hours;
        o.battery_kw += add.battery_kwh / step_hours;
        o.deficit_kw += add.deficit_kwh / step_hours;
    }
}

/// A household's reactive power into the grid, kvar: its load draws `load_tan_phi` per kW, its
/// PV absorbs `pv_tan_phi` per kW generated.
fn household_q_kvar(hp: &HouseholdPhases, index: usize, load_kw: f64, pv_kw: f64) -> f64 {
    -load_kw * hp.load_tan_phi[index] - pv_kw * hp.pv_tan_phi[index]
}

/// Unbalanced networks: each node's reactive power by phase in the step (kvar into the grid),
/// for the voltage limits, and each household's PV output (kW, by household index), for its
/// inverter's curves.
#[derive(Resource, Debug, Default)]
pub struct StepReactive {
    pub q_kvar: Vec<[f64; 3]>,
    pub pv_kw: Vec<f64>,
}

/// The run's inverters' reactive power in the step, kvar into the grid, by household index:
/// solved before the market, it flows in the delivered flow.
#[derive(Resource, Debug, Default)]
pub struct InverterReactive(pub Vec<f64>);

/// Sums the step's reactive power per node and phase from the households' load and PV before
/// the market (both sides' loads and PV draw the same): through the lines' coupling it moves
/// the other phases' voltages. Reads `Meter`, `Network`; writes `StepReactive`. Runs in
/// `GridSystems::Limits`, before [`limit_lines`].
pub fn reactive_power(net: Res<Network>, mut out: ResMut<StepReactive>, meters: Query<(&Household, &Meter)>) {
    let Some(three) = &net.three_phase else { return };
    let out = &mut *out;
    let (q, pv) = (&mut out.q_kvar, &mut out.pv_kw);
    q.clear();
    q.resize(net.model.nodes, [0.0; 3]);
    pv.clear();
    pv.resize(net.node_of.len(), 0.0);
    let hp = &three.households;
    for (hh, m) in &meters {
        let i = hh.index as usize;
        pv[i] = m.pv_kwh / net.step_hours;
        let kvar = household_q_kvar(hp, i, m.load_kwh / net.step_hours, m.pv_kwh / net.step_hours);
        for (slot, share) in q[net.node_of[i] as usize].iter_mut().zip(hp.phase[i].shares()) {
            *slot += share * kvar;
        }
    }
}

/// [`gather_offers`], and each node's share of its offers on each phase (by the size of its
/// households' offers; a node without any takes its households' phases evenly).
#[allow(clippy::too_many_arguments)]
fn gather_offers_3ph(offers: &mut Vec<NodeOffer>, shares: &mut Vec<[f64; 3]>, nodes: usize, node_of: &[u32], phase_of: &[super::topology::Phase], step_hours: f64, households: impl Iterator<Item = (u32, StepOffer)>) {
    shares.clear();
    shares.resize(nodes, [0.0; 3]);
    let mut present = vec![[0.0f64; 3]; nodes];
    let households = households.inspect(|(index, add)| {
        let node = node_of[*index as usize] as usize;
        let size = (add.surplus_kwh + add.battery_kwh.abs() + add.deficit_kwh) / step_hours;
        for (k, share) in phase_of[*index as usize].shares().into_iter().enumerate() {
            shares[node][k] += share * size;
            present[node][k] += share;
        }
    });
    gather_offers(offers, nodes, node_of, step_hours, households);
    for (s, p) in shares.iter_mut().zip(&present) {
        let total: f64 = s.iter().sum();
        let base = if total > 0.0 { *s } else { *p };
        let sum: f64 = base.iter().sum();
        *s = if sum > 0.0 { base.map(|x| x / sum) } else { [1.0 / 3.0; 3] };
    }
}

/// Flows of what was delivered: node injections from the households' meters (exports, peer
/// sales and community-battery charging in, imports, peer and community-battery purchases out), DC or radial flows, the AC sweep's voltages and
/// losses on radial grids (DC losses on meshed ones). Reads `Meter`; writes `Network` (flows)
/// and `LineStats`; the sweep over feeders is a `Pace` region. Runs in `GridSystems::Flows`,
/// after delivery.
pub fn measure_flows(pace: Res<Pace>, mut net: ResMut<Network>, mut stats: ResMut<LineStats>, phase_stats: Option<ResMut<PhaseStats>>, inverter_q: Option<Res<InverterReactive>>, households: Query<(&Household, &Meter)>) {
    // Plain references: `ResMut`'s change tick would be stored on every access in the loops.
    let (net, stats) = (&mut *net, &mut *stats);
    let h = net.step_hours;
    net.injection.clear();
    net.injection.resize(net.model.nodes, 0.0);
    for (hh, m) in &households {
        net.injection[net.node_of[hh.index as usize] as usize] += delivered_kw(m, h);
    }
    net.model.solve(&net.injection, &mut net.flows);
    if let (Some(three), Some(mut ps)) = (net.three_phase.as_mut(), phase_stats) {
        // The feeders settle in parallel: a `Pace` region, as the balanced sweep.
        let inverter_q = inverter_q.as_ref().map_or(&[][..], |q| &q.0[..]);
        pace.region(|| measure_three_phase(three, &mut ps, &net.node_of, h, net.config.voltage_band, inverter_q, &households));
        let st = &three.state;
        if st.converged {
            net.line_loss_kw.clear();
            // The run's lowest and highest voltages come from `PhaseStats`, per bus and phase.
            net.line_loss_kw.extend(st.loss_kw.iter().map(|l| l[0] + l[1] + l[2]));
        } else {
            // As the balanced flow: no voltage solution, losses from the DC flows.
            stats.sweep_failed_steps += 1;
            net.model.dc_losses_kw(&net.flows, net.config.nominal_voltage_v, &mut net.line_loss_kw);
        }
    } else {
        measure_balanced(&pace, net, stats);
    }
    stats.steps += 1;
    let mut overloaded = false;
    let mut step_losses = 0.0;
    let mut step_loading: f64 = 0.0;
    let per_line = stats.max_flow_kw.iter_mut().zip(stats.sum_abs_flow_kw.iter_mut()).zip(stats.losses_kwh.iter_mut());
    for (((&flow_kw, &capacity_kw), &loss_kw), ((max_kw, sum_abs_kw), losses_kwh)) in net.flows.line_kw.iter().zip(&net.capacity_kw).zip(&net.line_loss_kw).zip(per_line) {
        let f = flow_kw.abs();
        super::raise_max(&mut step_loading, f / capacity_kw);
        super::raise_max(max_kw, f);
        *sum_abs_kw += f;
        overloaded |= f > capacity_kw + super::limits::CAPACITY_TOLERANCE_KW;
        let loss = loss_kw * h;
        *losses_kwh += loss;
        step_losses += loss;
    }
    stats.overloaded_steps += overloaded as u64;
    stats.step_losses_kwh = step_losses;
    stats.step_max_loading = step_loading;
}

/// What a household delivered into the grid in the step (sent less received), kW. A community
/// battery stands at the root, which balances the network: only its members' side of its
/// exchanges enters the flows.
fn delivered_kw(m: &Meter, step_hours: f64) -> f64 {
    let sent = m.grid_export_kwh + m.p2p_sold_kwh + m.community_battery_sold_kwh;
    let received = m.grid_import_kwh + m.p2p_bought_kwh + m.community_battery_bought_kwh;
    (sent - received) / step_hours
}

/// The balanced flow's voltages and losses: the AC sweep on radial grids, DC losses on meshed
/// ones or when the sweep fails.
fn measure_balanced(pace: &Pace, net: &mut Network, stats: &mut LineStats) {
    let swept = net.model.is_radial() && {
        pace.region(|| net.model.sweep(&net.injection, net.config.nominal_voltage_v, &mut net.ac));
        net.ac.converged
    };
    if swept {
        net.line_loss_kw.clone_from(&net.ac.line_loss_kw);
        let (mut low, mut high) = (stats.min_voltage_pu, stats.max_voltage_pu);
        for &v in &net.ac.voltage_pu {
            super::lower_min(&mut low, v);
            super::raise_max(&mut high, v);
        }
        (stats.min_voltage_pu, stats.max_voltage_pu) = (low, high);
    } else {
        stats.sweep_failed_steps += net.model.is_radial() as u64;
        net.model.dc_losses_kw(&net.flows, net.config.nominal_voltage_v, &mut net.line_loss_kw);
    }
}

/// The step's unbalanced flow: each household's P (what it sent less what it received, as the
/// balanced flow) and Q (its load's and its PV's reactive power) on its phase, the sweep, and
/// the per-phase statistics.
#[allow(clippy::too_many_arguments)]
fn measure_three_phase(three: &mut ThreePhase, ps: &mut PhaseStats, node_of: &[u32], step_hours: f64, band: VoltageBand, inverter_q_kvar: &[f64], households: &Query<(&Household, &Meter)>) {
    let nodes = ps.min_voltage_pu.len();
    three.injection.clear();
    three.injection.resize(nodes, [(0.0, 0.0); 3]);
    let hp = &three.households;
    for (hh, m) in households {
        let i = hh.index as usize;
        let p_kw = delivered_kw(m, step_hours);
        let load_kw = (m.load_kwh - m.unserved_kwh).max(0.0) / step_hours;
        let pv_kw = (m.pv_kwh - m.curtailed_kwh).max(0.0) / step_hours;
        let q_kvar = household_q_kvar(hp, i, load_kw, pv_kw) + inverter_q_kvar.get(i).copied().unwrap_or(0.0);
        let slot = &mut three.injection[node_of[i] as usize];
        for (k, share) in hp.phase[i].shares().into_iter().enumerate() {
            slot[k].0 += share * p_kw;
            slot[k].1 += share * q_kvar;
        }
    }
    three.model.solve(&three.injection, &mut three.state);
    let st = &three.state;
    if !st.converged {
        ps.failed_steps += 1;
        return;
    }
    let v_phase = three.model.v_phase;
    let mut unbalanced = false;
    for node in 0..nodes {
        if st.voltage[node][0] == Default::default() {
            continue; // not reached from the root
        }
        let v = st.voltage_pu(node, v_phase);
        let (low, high) = (&mut ps.min_voltage_pu[node], &mut ps.max_voltage_pu[node]);
        for k in 0..3 {
            super::lower_min(&mut low[k], v[k]);
            super::raise_max(&mut high[k], v[k]);
        }
        // Outside as the voltage limits see it: beyond the band by more than their tolerance.
        let outside = v.map(|x| band.excess_pu(x) > super::limits::VOLTAGE_TOLERANCE_PU);
        let below = outside.iter().zip(v).any(|(&o, x)| o && x < 1.0);
        let above = outside.iter().zip(v).any(|(&o, x)| o && x > 1.0);
        ps.steps_outside_band[node] += (below || above) as u64;
        ps.steps_below_band[node] += below as u64;
        ps.steps_above_band[node] += above as u64;
        let u = super::flow3::unbalance_pct(st.voltage[node]);
        super::raise_max(&mut ps.max_unbalance_pct[node], u);
        super::raise_max(&mut ps.max_unbalance_pct_any, u);
        unbalanced |= u > UNBALANCE_LIMIT_PCT;
    }
    ps.unbalance_steps += unbalanced as u64;
    for (l, (current, loss)) in st.current.iter().zip(&st.loss_kw).enumerate() {
        let rating = three.rating_a[l];
        for k in 0..3 {
            super::raise_max(&mut ps.max_loading[l][k], current[k].abs() / rating);
            ps.losses_kwh[l][k] += loss[k] * step_hours;
        }
    }
    if let Some(t) = &three.transformer {
        let loading = super::flow3::transformer_loading(t, st.source_current);
        let max = ps.transformer_max_loading.get_or_insert(0.0);
        super::raise_max(max, loading);
    }
}
