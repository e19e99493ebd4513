//! Power flow per step: radial subtree sums, the AC sweep and the line limits on a generated
//! district; DC flow by loop analysis on a meshed village. `cargo bench --bench flows`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peergrid::grid::flow::{AcState, FlowModel, Flows};
use peergrid::grid::flow3::{Flow3Model, Flow3State};
use peergrid::grid::topology::Phase;
use peergrid::grid::generate::{generate, LayoutParams};
use peergrid::grid::limits::{Limiter, NodeOffer};
use peergrid::scenario::schema::{Layout, NodeKind};
use std::hint::black_box;

fn layout(layout: Layout, houses: usize, feeders: u32, ties: u32) -> (peergrid::grid::Topology, Vec<petgraph::graph::NodeIndex>) {
    let ids: Vec<String> = (0..houses).map(|i| format!("h{i}")).collect();
    let p = LayoutParams {
        layout,
        feeders,
        houses_per_feeder: 40,
        houses_per_lateral: 20,
        ties,
        spacing_m: 30.0,
        service_length_m: 15.0,
        feeder_capacity_kw: 1500.0,
        service_capacity_kw: 20.0,
        root_kind: NodeKind::Substation,
    };
    generate(&p, &ids)
}

/// Midday-like injections: every third house exports 4 kW, the others draw 1 kW.
fn injections(nodes: usize, houses: &[petgraph::graph::NodeIndex]) -> Vec<f64> {
    let mut inj = vec![0.0; nodes];
    for (i, n) in houses.iter().enumerate() {
        inj[n.index()] += if i % 3 == 0 { 4.0 } else { -1.0 };
    }
    inj
}

fn flows(c: &mut Criterion) {
    let mut g = c.benchmark_group("flows");
    for houses in [1_000usize, 10_000] {
        let (topo, nodes) = layout(Layout::District, houses, (houses / 400).max(1) as u32, 0);
        let m = FlowModel::new(&topo);
        let inj = injections(m.nodes, &nodes);
        g.throughput(Throughput::Elements(m.nodes as u64));
        let mut f = Flows::default();
        g.bench_with_input(BenchmarkId::new("radial_solve", houses), &houses, |b, _| b.iter(|| m.solve(black_box(&inj), &mut f)));
        let mut ac = AcState::default();
        g.bench_with_input(BenchmarkId::new("radial_ac_sweep", houses), &houses, |b, _| b.iter(|| m.sweep(black_box(&inj), 400.0, &mut ac)));
        let cap: Vec<f64> = topo.graph.edge_weights().map(|l| l.capacity_kw).collect();
        let offers: Vec<NodeOffer> = inj.iter().map(|&x| NodeOffer { surplus_kw: x.max(0.0), battery_kw: 0.0, deficit_kw: (-x).max(0.0) }).collect();
        let mut l = Limiter::default();
        g.bench_with_input(BenchmarkId::new("limits_within_capacity", houses), &houses, |b, _| b.iter(|| l.apply(&m, &cap, black_box(&offers), true)));
    }
    // A meshed village: 8 feeders of 40 houses, 8 ties (8 loops).
    let (topo, nodes) = layout(Layout::Village, 320, 8, 8);
    let m = FlowModel::new(&topo);
    let inj = injections(m.nodes, &nodes);
    let mut f = Flows::default();
    g.throughput(Throughput::Elements(m.nodes as u64));
    g.bench_function(BenchmarkId::new("meshed_dc_solve", format!("{}loops", m.loop_count())), |b| b.iter(|| m.solve(black_box(&inj), &mut f)));

    // The three-phase unbalanced sweep, cold (from the no-load voltages) as a step after a
    // large change: the 10,000-house district with houses on a, b, c in turn, and the IEEE
    // European LV feeder (its transformer at the root) with its houses on the file's phases.
    let (topo, houses) = layout(Layout::District, 10_000, 25, 0);
    let m = FlowModel::new(&topo);
    let three = Flow3Model::new(&topo, &m, 400.0);
    let inj = phase_injections(m.nodes, houses.iter().enumerate().map(|(i, n)| (*n, [Phase::A, Phase::B, Phase::C][i % 3])));
    g.throughput(Throughput::Elements(m.nodes as u64));
    g.bench_function(BenchmarkId::new("three_phase_sweep", "district-10k"), |b| b.iter(|| cold_sweep(&three, black_box(&inj))));
    let ieee = peergrid::scenario::Scenario::load(std::path::Path::new("scenarios/ieee-european-lv.ron"), &Default::default()).expect("the shipped IEEE scenario loads");
    let m = FlowModel::new(&ieee.topology);
    let three = Flow3Model::new(&ieee.topology, &m, ieee.network.nominal_voltage_v);
    let phases = &ieee.phases.as_ref().expect("an imported feeder is unbalanced").phase;
    let inj = phase_injections(m.nodes, ieee.households.iter().zip(phases).map(|(h, p)| (h.node, *p)));
    g.throughput(Throughput::Elements(m.nodes as u64));
    g.bench_function(BenchmarkId::new("three_phase_sweep", "ieee-european-lv"), |b| b.iter(|| cold_sweep(&three, black_box(&inj))));
    g.finish();
}

/// Per node and phase (P kW, Q kvar): as [`injections`], on each house's phase, loads at power
/// factor 0.95.
fn phase_injections(nodes: usize, houses: impl Iterator<Item = (petgraph::graph::NodeIndex, Phase)>) -> Vec<[(f64, f64); 3]> {
    let mut inj = vec![[(0.0, 0.0); 3]; nodes];
    for (i, (n, phase)) in houses.enumerate() {
        let p = if i % 3 == 0 { 4.0 } else { -1.0 };
        let q = if p < 0.0 { p * 0.33 } else { 0.0 };
        for (slot, share) in inj[n.index()].iter_mut().zip(phase.shares()) {
            slot.0 += share * p;
            slot.1 += share * q;
        }
    }
    inj
}

fn cold_sweep(three: &Flow3Model, inj: &[[(f64, f64); 3]]) -> u32 {
    let mut state = Flow3State::default();
    three.solve(inj, &mut state);
    assert!(state.converged);
    state.iterations
}

criterion_group!(benches, flows);
criterion_main!(benches);
