//! The grid in the simulation: line limits before the market ([`limit_lines`]), and after
//! delivery the power flows, losses and voltages of the step ([`measure_flows`]), summed into
//! per-line statistics for `lines.csv` and `summary.json`.

use super::flow::{AcState, FlowModel, Flows};
use super::limits::{Keep, Limiter, NodeOffer};
use super::topology::Topology;
use crate::household::baseline::BaselineExchange;
use crate::household::{Household, Meter};
use crate::base::exec::Pace;
use crate::environment::tariff::StepPrices;
use bevy::prelude::*;

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
    /// Allowed deviation from nominal voltage, per unit (0.1 = ±10%).
    pub voltage_tolerance: f64,
    /// Curtail and shed so that every node stays within the band (radial grids).
    pub enforce_voltage_limits: bool,
}

/// Default allowed voltage deviation, per unit (EN 50160: ±10%).
pub const DEFAULT_VOLTAGE_TOLERANCE: f64 = 0.10;

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig { nominal_voltage_v: DEFAULT_NOMINAL_VOLTAGE_V, enforce_line_limits: true, voltage_tolerance: DEFAULT_VOLTAGE_TOLERANCE, enforce_voltage_limits: true }
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
    offers: Vec<NodeOffer>,
    baseline_offers: Vec<NodeOffer>,
    limiter: Limiter,
    baseline_limiter: Limiter,
    injection: Vec<f64>,
    pub flows: Flows,
    pub ac: AcState,
    /// Losses of each line in the step, kW.
    pub(crate) line_loss_kw: Vec<f64>,
}

impl Network {
    /// The last step's net injection of each node (kW, + into the grid), by node index.
    pub fn injection_kw(&self) -> &[f64] {
        &self.injection
    }

    pub fn new(topology: &Topology, household_nodes: &[petgraph::graph::NodeIndex], config: NetworkConfig, step_hours: f64) -> Network {
        Network {
            model: FlowModel::new(topology),
            capacity_kw: topology.graph.edge_weights().map(|l| l.capacity_kw).collect(),
            config,
            step_hours,
            node_of: household_nodes.iter().map(|n| n.index() as u32).collect(),
            offers: Vec::new(),
            baseline_offers: Vec::new(),
            limiter: Limiter::default(),
            baseline_limiter: Limiter::default(),
            injection: Vec::new(),
            flows: Flows::default(),
            ac: AcState::default(),
            line_loss_kw: Vec::new(),
        }
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
    /// Steps in which the line's limit cut offers (of the run, not the baseline).
    pub congested_steps: Vec<u64>,
    pub losses_kwh: Vec<f64>,
    /// Steps in which any line's limit was binding.
    pub any_congested_steps: u64,
    /// The same for the grid-only baseline.
    pub baseline_congested_steps: u64,
    /// Energy the line and voltage limits took out of the market: surplus curtailed and load
    /// shed, kWh.
    pub limit_curtailed_kwh: f64,
    pub limit_shed_kwh: f64,
    /// Steps in which the voltage band cut offers, and node-steps that would have been outside it.
    pub voltage_limited_steps: u64,
    pub voltage_violations_avoided: u64,
    /// Steps with a delivered flow above a capacity (0 when limits are enforced on a radial grid).
    pub overloaded_steps: u64,
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

/// Adds the network to the simulation. Needs the `Network` resource.
pub struct GridPlugin;

impl Plugin for GridPlugin {
    fn build(&self, app: &mut App) {
        use crate::base::schedule::SimStep;
        let lines = app.world().resource::<Network>().capacity_kw.len();
        app.insert_resource(LineStats {
            max_flow_kw: vec![0.0; lines],
            sum_abs_flow_kw: vec![0.0; lines],
            congested_steps: vec![0; lines],
            losses_kwh: vec![0.0; lines],
            min_voltage_pu: 1.0,
            max_voltage_pu: 1.0,
            ..Default::default()
        })
        .add_systems(SimStep, limit_lines.in_set(GridSystems::Limits))
        .add_systems(SimStep, measure_flows.in_set(GridSystems::Flows));
    }
}

/// Applies line limits to this step's offers, for the run and for its grid-only baseline:
/// battery offers withdrawn, PV surplus curtailed, load shed (see `grid::limits`). Reads
/// `StepPrices`; writes `Meter` (surplus, deficit, battery offer, curtailed, unserved),
/// `BaselineExchange` (its step's surplus and deficit) and `LineStats`; the two limiters side by side
/// are a `Pace` region. Runs in `GridSystems::Limits`, after own use and battery, before
/// orders.
pub fn limit_lines(prices: Res<StepPrices>, pace: Res<Pace>, mut net: ResMut<Network>, mut stats: ResMut<LineStats>, mut households: Query<(&Household, &mut Meter, &mut BaselineExchange)>) {
    // Plain references: `ResMut`'s change tick would be stored on every access in the loops.
    let (net, stats) = (&mut *net, &mut *stats);
    // `Limiter::apply` starts by resetting its limiter; a limiter it does not run is reset here.
    let (nodes, lines) = (net.model.nodes, net.capacity_kw.len());
    if !net.config.enforce_line_limits {
        net.limiter.reset(nodes, lines);
    }
    if !(net.config.enforce_line_limits && prices.connected) {
        net.baseline_limiter.reset(nodes, lines);
    }
    if !net.config.enforce_line_limits && !net.config.enforce_voltage_limits {
        return;
    }
    let (h, cfg) = (net.step_hours, net.config);
    // The run and its baseline are independent: each gathers its offers and applies its limits
    // side by side on the `--threads` pool.
    let Network { model, capacity_kw, offers, baseline_offers, limiter, baseline_limiter, node_of, .. } = net;
    let households_ro = households.as_readonly();
    let run = || {
        gather_offers(offers, nodes, node_of, &households_ro, |m, _| NodeOffer { surplus_kw: m.surplus_kwh / h, battery_kw: m.battery_offer_kwh / h, deficit_kw: m.deficit_kwh / h });
        if cfg.enforce_line_limits {
            let ok = limiter.apply(model, capacity_kw, offers, prices.connected);
            debug_assert!(ok || !model.is_radial(), "radial limits always settle");
        }
        cfg.enforce_voltage_limits.then(|| limiter.limit_voltage(model, offers, prices.connected, cfg.nominal_voltage_v, cfg.voltage_tolerance))
    };
    let baseline = || {
        // It exchanges everything with the grid; on an island nothing flows, so it has no
        // limits to apply.
        if prices.connected {
            gather_offers(baseline_offers, nodes, node_of, &households_ro, |_, b| NodeOffer { surplus_kw: b.step_surplus_kwh / h, battery_kw: 0.0, deficit_kw: b.step_deficit_kwh / h });
            if cfg.enforce_line_limits {
                baseline_limiter.apply(model, capacity_kw, baseline_offers, true);
            }
            if cfg.enforce_voltage_limits {
                baseline_limiter.limit_voltage(model, baseline_offers, true, cfg.nominal_voltage_v, cfg.voltage_tolerance);
            }
        }
    };
    let (avoided, ()) = pace.region(|| rayon::join(run, baseline));
    if let Some(avoided) = avoided {
        stats.voltage_violations_avoided += avoided;
        stats.voltage_limited_steps += net.limiter.voltage_binding as u64;
    }
    let any = net.limiter.binding.iter().any(|b| *b);
    stats.any_congested_steps += any as u64;
    if any || net.limiter.voltage_binding {
        for (hh, mut m, _) in &mut households {
            let k = net.limiter.keep[net.node(hh.index)];
            if k != Keep::default() {
                let (cut, shed) = (m.surplus_kwh * (1.0 - k.surplus), m.deficit_kwh * (1.0 - k.deficit));
                m.curtailed_kwh += cut;
                m.surplus_kwh -= cut;
                m.unserved_kwh += shed;
                m.deficit_kwh -= shed;
                m.battery_offer_kwh *= k.battery;
                stats.limit_curtailed_kwh += cut;
                stats.limit_shed_kwh += shed;
            }
        }
    }
    if prices.connected {
        let congested = net.baseline_limiter.binding.iter().any(|b| *b);
        stats.baseline_congested_steps += congested as u64;
        if congested || net.baseline_limiter.voltage_binding {
            for (hh, _, mut b) in &mut households {
                let k = net.baseline_limiter.keep[net.node(hh.index)];
                b.step_curtailed_kwh = b.step_surplus_kwh * (1.0 - k.surplus);
                b.step_unserved_kwh = b.step_deficit_kwh * (1.0 - k.deficit);
            }
        }
    }
}

/// Sums each node's households' offers (kW) into `offers`, by node index.
fn gather_offers(offers: &mut Vec<NodeOffer>, nodes: usize, node_of: &[u32], households: &Query<(&Household, &Meter, &BaselineExchange)>, offer_of: impl Fn(&Meter, &BaselineExchange) -> NodeOffer) {
    offers.clear();
    offers.resize(nodes, NodeOffer::default());
    for (hh, m, b) in households {
        let o = &mut offers[node_of[hh.index as usize] as usize];
        let add = offer_of(m, b);
        o.surplus_kw += add.surplus_kw;
        o.battery_kw += add.battery_kw;
        o.deficit_kw += add.deficit_kw;
    }
}

/// Flows of what was delivered: node injections from the households' meters (exports and peer
/// sales in, imports and peer purchases out), DC or radial flows, the AC sweep's voltages and
/// losses on radial grids (DC losses on meshed ones). Reads `Meter`; writes `Network` (flows)
/// and `LineStats`; the sweep over feeders is a `Pace` region. Runs in `GridSystems::Flows`,
/// after delivery.
pub fn measure_flows(pace: Res<Pace>, mut net: ResMut<Network>, mut stats: ResMut<LineStats>, households: Query<(&Household, &Meter)>) {
    // Plain references: `ResMut`'s change tick would be stored on every access in the loops.
    let (net, stats) = (&mut *net, &mut *stats);
    let h = net.step_hours;
    net.injection.clear();
    net.injection.resize(net.model.nodes, 0.0);
    for (hh, m) in &households {
        let node = net.node_of[hh.index as usize] as usize;
        net.injection[node] += (m.grid_export_kwh + m.p2p_sold_kwh - m.grid_import_kwh - m.p2p_bought_kwh) / h;
    }
    net.model.solve(&net.injection, &mut net.flows);
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
    if net.limiter.binding.iter().any(|b| *b) {
        for (steps, &binding) in stats.congested_steps.iter_mut().zip(&net.limiter.binding) {
            *steps += binding as u64;
        }
    }
    stats.overloaded_steps += overloaded as u64;
    stats.step_losses_kwh = step_losses;
    stats.step_max_loading = step_loading;
}
