//! The grid for other tools: `peergrid export-grid` (the network as JSON) and
//! `peergrid run --trace-step N` (one step's injections, flows, voltages and losses), so the same
//! network can be solved in pandapower or any power-flow tool and compared
//! (`validation/grid_pandapower.py`). Both list nodes and lines in the same order as
//! `topology.json`; the field names are a contract (add, never rename).

use crate::base::schedule::SimStep;
use crate::grid::network::{GridSystems, Network};
use crate::grid::{GridTopology, Line, Topology};
use crate::market::MarketSystems;
use crate::scenario::Scenario;
use crate::base::time::SimClock;
use bevy::prelude::*;
use serde::Serialize;
use std::path::PathBuf;

/// Format tag of `export-grid` files.
pub const GRID_FORMAT: &str = "peergrid-grid/1";
/// Format tag of trace files.
pub const TRACE_FORMAT: &str = "peergrid-trace/1";

/// `export-grid`'s file: every node and line, the electrical base, and where households sit.
#[derive(Serialize)]
struct GridFile<'a> {
    format: &'static str,
    scenario: &'a str,
    /// Line-to-line voltage of the network, V (balanced three-phase; impedances per phase).
    nominal_voltage_v: f64,
    /// The grid connection (slack): held at nominal voltage, supplies or takes the balance.
    root: &'a str,
    radial: bool,
    /// Voltage of the upstream grid behind the root (or its transformer), per unit.
    source_voltage_pu: f64,
    /// Whether the run models the network per phase (phases, power factors, zero sequence).
    unbalanced: bool,
    /// The transformer feeding the root (imported feeders), its impedances referred to the
    /// low-voltage side.
    #[serde(skip_serializing_if = "Option::is_none")]
    transformer: Option<&'a crate::grid::topology::Transformer>,
    nodes: Vec<GridNode<'a>>,
    lines: Vec<GridLine<'a>>,
    households: Vec<HouseholdAt<'a>>,
}

#[derive(Serialize)]
struct GridNode<'a> {
    id: &'a str,
    kind: crate::grid::topology::NodeKind,
    x_m: f64,
    y_m: f64,
}

#[derive(Serialize)]
struct GridLine<'a> {
    id: &'a str,
    from: &'a str,
    to: &'a str,
    /// Series resistance and reactance of the whole line, per phase, Ω.
    r_ohm: f64,
    x_ohm: f64,
    capacity_kw: f64,
    length_m: f64,
    /// Zero-sequence resistance and reactance of the whole line, Ω (when the line has them;
    /// the unbalanced flow takes the positive sequence's otherwise).
    #[serde(skip_serializing_if = "Option::is_none")]
    r0_ohm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    x0_ohm: Option<f64>,
    /// Current rating per phase, A (imported lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    max_i_a: Option<f64>,
}

#[derive(Serialize)]
struct HouseholdAt<'a> {
    household: &'a str,
    node: &'a str,
    /// Unbalanced networks: the phase (`a`, `b`, `c` or `abc`) and the reactive power drawn by
    /// the load and absorbed by the PV per kW (tan φ).
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    load_tan_phi: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pv_tan_phi: Option<f64>,
}

fn lines(t: &Topology) -> impl Iterator<Item = (&str, &str, &Line)> {
    let g = &t.graph;
    g.edge_indices().map(move |e| {
        let (a, b) = g.edge_endpoints(e).expect("edge index from this graph");
        (g[a].id.as_str(), g[b].id.as_str(), &g[e])
    })
}

/// The scenario's grid as `export-grid` writes it (pretty JSON).
pub fn grid_json(s: &Scenario) -> serde_json::Result<Vec<u8>> {
    let t = &s.topology;
    let g = &t.graph;
    let file = GridFile {
        format: GRID_FORMAT,
        scenario: &s.name,
        nominal_voltage_v: s.network.nominal_voltage_v,
        root: &g[t.root].id,
        radial: t.is_radial(),
        source_voltage_pu: t.source_voltage_pu,
        unbalanced: s.phases.is_some(),
        transformer: t.transformer.as_ref(),
        nodes: g.node_weights().map(|n| GridNode { id: &n.id, kind: n.kind, x_m: n.x_m, y_m: n.y_m }).collect(),
        lines: lines(t).map(|(from, to, l)| GridLine { id: &l.id, from, to, r_ohm: l.r_ohm, x_ohm: l.x_ohm, capacity_kw: l.capacity_kw, length_m: l.length_m, r0_ohm: l.r0_ohm, x0_ohm: l.x0_ohm, max_i_a: l.max_i_a }).collect(),
        households: s
            .households
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let p = s.phases.as_ref();
                HouseholdAt { household: &h.id, node: &g[h.node].id, phase: p.map(|p| p.phase[i].label()), load_tan_phi: p.map(|p| p.load_tan_phi[i]), pv_tan_phi: p.map(|p| p.pv_tan_phi[i]) }
            })
            .collect(),
    };
    serde_json::to_vec_pretty(&file)
}

/// Asks the run to write `dir/trace-step-N.json` after step `step`'s flows.
#[derive(Resource, Debug)]
pub struct TraceRequest {
    pub step: u64,
    pub dir: PathBuf,
    /// Set once written; a write error is kept for the end of the run (systems cannot fail).
    pub written: bool,
    pub error: Option<String>,
}

/// The trace file name for a step.
pub fn trace_file_name(step: u64) -> String {
    format!("trace-step-{step}.json")
}

#[derive(Serialize)]
struct TraceFile<'a> {
    format: &'static str,
    step: u64,
    /// Local start of the step (as in `timeseries.csv`).
    time: String,
    nominal_voltage_v: f64,
    root: &'a str,
    radial: bool,
    /// Power the root supplies to the network (negative: it takes the surplus), DC, kW.
    root_kw: f64,
    /// Whether the AC sweep settled (radial grids); voltages and AC losses are `null` otherwise.
    ac_converged: bool,
    nodes: Vec<TraceNode<'a>>,
    lines: Vec<TraceLine<'a>>,
    /// The unbalanced three-phase flow (phases, reactive power, a transformer); absent when the
    /// network is modelled balanced.
    #[serde(skip_serializing_if = "Option::is_none")]
    three_phase: Option<TraceThreePhase<'a>>,
}

/// The step's unbalanced flow: per node and phase (a, b, c), per line and phase.
#[derive(Serialize)]
struct TraceThreePhase<'a> {
    converged: bool,
    iterations: u32,
    /// Current the network draws through its supply (the transformer's low-voltage side), A.
    source_current_a: [f64; 3],
    /// The transformer's highest winding current over rated (absent without a transformer).
    #[serde(skip_serializing_if = "Option::is_none")]
    transformer_loading: Option<f64>,
    nodes: Vec<TraceNode3<'a>>,
    lines: Vec<TraceLine3<'a>>,
}

#[derive(Serialize)]
struct TraceNode3<'a> {
    id: &'a str,
    /// Active and reactive power into the grid, kW and kvar, by phase.
    p_kw: [f64; 3],
    q_kvar: [f64; 3],
    /// Phase-to-neutral voltage magnitude (per unit of nominal / √3) and angle (degrees).
    voltage_pu: [f64; 3],
    angle_deg: [f64; 3],
    /// Voltage unbalance factor |V2|/|V1|, %.
    unbalance_pct: f64,
    /// Households connected on phases a, b, c (a three-phase one counts on each).
    households: [u32; 3],
}

#[derive(Serialize)]
struct TraceLine3<'a> {
    id: &'a str,
    /// Zero-sequence resistance and reactance the flow used (the positive sequence's where the
    /// line gives none), Ω.
    r0_ohm: f64,
    x0_ohm: f64,
    /// Current magnitude by phase, A.
    current_a: [f64; 3],
    /// Losses by phase, kW (Re((V_from − V_to)·conj(I)); mutual coupling can make one negative).
    loss_kw: [f64; 3],
}

#[derive(Serialize)]
struct TraceNode<'a> {
    id: &'a str,
    /// Net power the node's households put into the grid (exports and peer sales minus imports
    /// and peer purchases), kW.
    injection_kw: f64,
    /// AC voltage magnitude, per unit of nominal.
    voltage_pu: Option<f64>,
}

#[derive(Serialize)]
struct TraceLine<'a> {
    id: &'a str,
    from: &'a str,
    to: &'a str,
    /// DC active-power flow, kW, positive from `from` to `to` (radial: exact active power).
    flow_kw: f64,
    /// AC line losses, kW.
    ac_loss_kw: Option<f64>,
}

/// Writes `--trace-step`'s file: add it to a simulation with a [`TraceRequest`].
pub struct TracePlugin;

impl Plugin for TracePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(SimStep, write_trace.after(GridSystems::Flows).before(MarketSystems::Losses));
    }
}

/// Writes the requested step's trace. Reads `Network` (injections, DC flows, the AC sweep),
/// `GridTopology`, `SimClock`; writes `TraceRequest`. Runs after `GridSystems::Flows`, before the
/// market takes line losses off the trades.
pub fn write_trace(clock: Res<SimClock>, net: Res<Network>, topology: Res<GridTopology>, request: Option<ResMut<TraceRequest>>) {
    let Some(mut request) = request else { return };
    if request.written || clock.step != request.step {
        return;
    }
    let t = &topology.0;
    let g = &t.graph;
    let ac = net.model.is_radial() && net.ac.converged;
    let file = TraceFile {
        format: TRACE_FORMAT,
        step: clock.step,
        time: clock.time_label(),
        nominal_voltage_v: net.config.nominal_voltage_v,
        root: &g[t.root].id,
        radial: net.model.is_radial(),
        root_kw: net.flows.root_kw,
        ac_converged: ac,
        nodes: g
            .node_indices()
            .map(|n| TraceNode { id: &g[n].id, injection_kw: net.injection_kw()[n.index()], voltage_pu: ac.then(|| net.ac.voltage_pu[n.index()]) })
            .collect(),
        lines: lines(t)
            .enumerate()
            .map(|(e, (from, to, l))| TraceLine { id: &l.id, from, to, flow_kw: net.flows.line_kw[e], ac_loss_kw: ac.then(|| net.ac.line_loss_kw[e]) })
            .collect(),
        three_phase: net.three_phase.as_ref().map(|three| {
            let st = &three.state;
            let v_phase = three.model.v_phase;
            let mut households = vec![[0u32; 3]; g.node_count()];
            for (phase, &node) in three.households.phase.iter().zip(&net.node_of) {
                for (count, share) in households[node as usize].iter_mut().zip(phase.shares()) {
                    *count += (share > 0.0) as u32;
                }
            }
            TraceThreePhase {
                converged: st.converged,
                iterations: st.iterations,
                source_current_a: st.source_current.map(|i| i.abs()),
                transformer_loading: three.transformer.as_ref().map(|t| crate::grid::flow3::transformer_loading(t, st.source_current)),
                nodes: g
                    .node_indices()
                    .map(|n| {
                        let (i, v) = (n.index(), st.voltage[n.index()]);
                        TraceNode3 {
                            id: &g[n].id,
                            p_kw: three.injection[i].map(|x| x.0),
                            q_kvar: three.injection[i].map(|x| x.1),
                            voltage_pu: v.map(|x| x.abs() / v_phase),
                            angle_deg: v.map(|x| x.1.atan2(x.0).to_degrees()),
                            unbalance_pct: crate::grid::flow3::unbalance_pct(v),
                            households: households[i],
                        }
                    })
                    .collect(),
                lines: lines(t)
                    .enumerate()
                    .map(|(e, (_, _, l))| {
                        let (r0_ohm, x0_ohm) = l.z0_ohm();
                        TraceLine3 { id: &l.id, r0_ohm, x0_ohm, current_a: st.current[e].map(|x| x.abs()), loss_kw: st.loss_kw[e] }
                    })
                    .collect(),
            }
        }),
    };
    let path = request.dir.join(trace_file_name(request.step));
    request.written = true;
    if let Err(e) = serde_json::to_vec_pretty(&file).map_err(std::io::Error::other).and_then(|bytes| std::fs::write(&path, bytes)) {
        request.error = Some(format!("writing {}: {e}", path.display()));
    }
}
