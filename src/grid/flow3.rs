//! Three-phase unbalanced power flow on radial networks: a backward/forward sweep on each
//! line's phase-impedance matrix, with constant-power loads and generation per phase.
//!
//! Lines carry positive- and zero-sequence impedances; with the neutral and earth return folded
//! into the zero sequence (no explicit neutral, as pandapower's `runpp_3ph`), a line's phase
//! matrix has Zs = (Z0 + 2·Z1)/3 on its diagonal and Zm = (Z0 − Z1)/3 off it, so the drop is
//! (Zs − Zm)·I_p + Zm·(I_a + I_b + I_c). Loads are phase-to-neutral (wye) at constant P and Q.
//!
//! The source is the upstream grid behind the root: an ideal voltage, or a distribution
//! transformer in sequence components — positive and negative sequence through its
//! short-circuit impedance from an ideal source (no negative-sequence voltage upstream), zero
//! sequence through its low-voltage side's path to earth (Dyn: the delta holds the high-voltage
//! side's zero sequence at earth).

use super::topology::{Topology, Transformer};
use super::flow::FlowModel;

/// Largest change of any phase voltage between two sweeps that ends them, per unit.
pub const SWEEP3_TOLERANCE_PU: f64 = 1e-7;
/// Most sweeps of one step before it counts as not converged.
pub const SWEEP3_MAX_ITERATIONS: u32 = 100;

/// A complex number (re, im); the few operations the sweep needs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct C(pub f64, pub f64);

impl C {
    #[inline(always)]
    fn add(self, o: C) -> C {
        C(self.0 + o.0, self.1 + o.1)
    }
    #[inline(always)]
    fn sub(self, o: C) -> C {
        C(self.0 - o.0, self.1 - o.1)
    }
    #[inline(always)]
    fn mul(self, o: C) -> C {
        C(self.0 * o.0 - self.1 * o.1, self.0 * o.1 + self.1 * o.0)
    }
    #[inline(always)]
    fn scale(self, k: f64) -> C {
        C(self.0 * k, self.1 * k)
    }
    #[inline(always)]
    fn conj(self) -> C {
        C(self.0, -self.1)
    }
    /// The magnitude (no overflow guard: voltages and currents are far from f64's range, and
    /// `hypot` cost a third of the sweep).
    #[inline(always)]
    pub fn abs(self) -> f64 {
        self.norm2().sqrt()
    }
    #[inline(always)]
    fn norm2(self) -> f64 {
        self.0 * self.0 + self.1 * self.1
    }
    #[inline(always)]
    fn div(self, o: C) -> C {
        let d = o.0 * o.0 + o.1 * o.1;
        C((self.0 * o.0 + self.1 * o.1) / d, (self.1 * o.0 - self.0 * o.1) / d)
    }
    fn polar(r: f64, deg: f64) -> C {
        let (s, c) = deg.to_radians().sin_cos();
        C(r * c, r * s)
    }
}

/// The operator a = 1∠120°.
const A: C = C(-0.5, 0.866_025_403_784_438_6);
const A2: C = C(-0.5, -0.866_025_403_784_438_6);

/// Sequence components (zero, positive, negative) of phase values a, b, c.
pub fn sequences(v: [C; 3]) -> [C; 3] {
    let [a, b, c] = v;
    [a.add(b).add(c).scale(1.0 / 3.0), a.add(A.mul(b)).add(A2.mul(c)).scale(1.0 / 3.0), a.add(A2.mul(b)).add(A.mul(c)).scale(1.0 / 3.0)]
}

/// Phase values from sequence components.
fn phases(s: [C; 3]) -> [C; 3] {
    let [z, p, n] = s;
    [z.add(p).add(n), z.add(A2.mul(p)).add(A.mul(n)), z.add(A.mul(p)).add(A2.mul(n))]
}

/// Voltage unbalance factor, % (|V2| / |V1|, IEC 61000-4-30 and EN 50160).
pub fn unbalance_pct(v: [C; 3]) -> f64 {
    // The sequences' common factor 1/3 cancels in the ratio, and one square root does.
    let [a, b, c] = v;
    let positive = a.add(A.mul(b)).add(A2.mul(c)).norm2();
    let negative = a.add(A2.mul(b)).add(A.mul(c)).norm2();
    if positive > 0.0 { 100.0 * (negative / positive).sqrt() } else { 0.0 }
}

/// A transformer's loading: its highest winding current over rated, of the low-voltage phase
/// currents `lv` and the high-voltage line currents they cause (positive and negative sequence
/// through the turns ratio, shifted by the vector group's angle in opposite directions; the
/// zero sequence too where a YNyn passes it, a Dyn's delta keeps it).
pub fn transformer_loading(t: &Transformer, lv: [C; 3]) -> f64 {
    let [i0, i1, i2] = sequences(lv);
    let k = t.hv_current_per_lv_a;
    let through = if t.vector_group == super::topology::VectorGroup::YNyn { i0.scale(k) } else { C::default() };
    // The vector group's shift turns the positive sequence one way and the negative the other.
    let hv = phases([through, i1.mul(C::polar(k, t.shift_deg)), i2.mul(C::polar(k, -t.shift_deg))]);
    let rated_lv = t.rated_kva * 1000.0 / (3f64.sqrt() * t.rated_lv_v);
    let rated_hv = t.rated_kva * 1000.0 / (3f64.sqrt() * t.rated_hv_v);
    let lv_max = lv.iter().map(|i| i.abs()).fold(0.0, f64::max);
    let hv_max = hv.iter().map(|i| i.abs()).fold(0.0, f64::max);
    (lv_max / rated_lv).max(hv_max / rated_hv)
}

/// The radial network prepared for the three-phase sweep.
#[derive(Debug, Clone)]
pub struct Flow3Model {
    /// Nodes in an order where parents come first (the root at 0), and by position: the
    /// parent's position, the line to it, and that line's (Zs − Zm) and Zm, Ω.
    order: Vec<u32>,
    parent: Vec<u32>,
    line: Vec<u32>,
    z_self: Vec<C>,
    z_mutual: Vec<C>,
    /// Phase-to-neutral nominal voltage, V.
    pub v_phase: f64,
    /// How much further than its own current alone can move it a line's phase voltage may move
    /// through the mutual coupling of its phases: the largest `1 + |Z0 − Z1| / |Z1|` of any line
    /// (from Z1·I_k + Zm·ΣI with |I_j| ≤ max |I|), at least 1. The voltage limits' screen.
    pub coupling_factor: f64,
    /// No-load source voltage (positive sequence, phase a) at the root, V.
    source: C,
    /// Transformer short-circuit impedance (positive = negative sequence) and zero-sequence
    /// impedance to earth at the root, Ω; `None` for an ideal source.
    transformer: Option<(C, C)>,
    nodes: usize,
    lines: usize,
    /// Positions of each of the root's subtrees: behind an ideal source (no transformer) the
    /// feeders are independent and settle in parallel.
    branches: Vec<std::ops::Range<usize>>,
}

/// Results of one step's three-phase flow.
#[derive(Debug, Clone, Default)]
pub struct Flow3State {
    /// Phase-to-neutral voltages by node, V (unreachable nodes: 0).
    pub voltage: Vec<[C; 3]>,
    /// Current in each line from the parent's end towards the child's, by line, A.
    pub current: Vec<[C; 3]>,
    /// Each line's losses by phase, kW (pandapower's per-phase definition: Re((V_from − V_to)
    /// · conj(I)), which mutual coupling can make negative on a lightly loaded phase).
    pub loss_kw: Vec<[f64; 3]>,
    /// Current the network draws through the root, A.
    pub source_current: [C; 3],
    pub iterations: u32,
    pub converged: bool,
    /// Per position: consumption S = −(P + jQ) per phase, VA.
    s: Vec<[C; 3]>,
    /// Per position: voltages and currents in sweep order.
    v: Vec<[C; 3]>,
    j: Vec<[C; 3]>,
}

impl Flow3State {
    /// Magnitude of each phase voltage of `node`, per unit of `v_phase`.
    pub fn voltage_pu(&self, node: usize, v_phase: f64) -> [f64; 3] {
        self.voltage[node].map(|v| v.abs() / v_phase)
    }
}

impl Flow3Model {
    /// The three-phase model of a radial `topology` at line-to-line voltage `nominal_voltage_v`.
    pub fn new(topology: &Topology, model: &FlowModel, nominal_voltage_v: f64) -> Flow3Model {
        let g = &topology.graph;
        let order: Vec<u32> = model.order().map(|v| v as u32).collect();
        let mut position = vec![0u32; g.node_count()];
        for (p, &v) in order.iter().enumerate() {
            position[v as usize] = p as u32;
        }
        let n = order.len();
        let (mut parent, mut line, mut z_self, mut z_mutual) = (vec![0u32; n], vec![0u32; n], vec![C::default(); n], vec![C::default(); n]);
        let mut coupling_factor: f64 = 1.0;
        for (p, &v) in order.iter().enumerate().skip(1) {
            let (l, _) = model.parent_line(v as usize).expect("every node after the root has a parent line");
            parent[p] = position[model.parent(v as usize).expect("a parent")];
            line[p] = l as u32;
            let e = &g[petgraph::graph::EdgeIndex::new(l)];
            let (z1, (r0, x0)) = (C(e.r_ohm, e.x_ohm), e.z0_ohm());
            let z0 = C(r0, x0);
            let zs = z0.add(z1.scale(2.0)).scale(1.0 / 3.0);
            let zm = z0.sub(z1).scale(1.0 / 3.0);
            z_self[p] = zs.sub(zm);
            z_mutual[p] = zm;
            if z1.abs() > 0.0 {
                coupling_factor = coupling_factor.max(1.0 + z0.sub(z1).abs() / z1.abs());
            }
        }
        let v_phase = nominal_voltage_v / 3f64.sqrt();
        let (ratio, shift) = topology.transformer.as_ref().map_or((1.0, 0.0), |t| (t.ratio_pu, t.shift_deg));
        Flow3Model {
            order,
            parent,
            line,
            z_self,
            z_mutual,
            v_phase,
            coupling_factor,
            source: C::polar(topology.source_voltage_pu * ratio * v_phase, -shift),
            transformer: topology.transformer.as_ref().map(|t: &Transformer| (C(t.r_ohm, t.x_ohm), C(t.r0_ohm, t.x0_ohm))),
            nodes: g.node_count(),
            lines: g.edge_count(),
            branches: model.branches().to_vec(),
        }
    }

    /// One feeder (positions `range`, all below the root) swept to convergence behind the
    /// root's fixed voltage `root`; `s`, `v`, `j` are the feeder's slices. Returns the sweeps
    /// and whether it converged.
    fn sweep_feeder(&self, range: std::ops::Range<usize>, root: [C; 3], s: &[[C; 3]], v: &mut [[C; 3]], j: &mut [[C; 3]]) -> (u32, bool) {
        let start = range.start;
        let tolerance_v = SWEEP3_TOLERANCE_PU * self.v_phase;
        let parent = &self.parent[range.clone()];
        let (z_self, z_mutual) = (&self.z_self[range.clone()], &self.z_mutual[range]);
        for iteration in 1..=SWEEP3_MAX_ITERATIONS {
            for ((jp, sp), vp) in j.iter_mut().zip(s).zip(v.iter()) {
                *jp = [0, 1, 2].map(|k| if sp[k] == C::default() { C::default() } else { sp[k].div(vp[k]).conj() });
            }
            for i in (0..j.len()).rev() {
                let up = parent[i] as usize;
                if up >= start {
                    let jp = j[i];
                    for (sum, add) in j[up - start].iter_mut().zip(jp) {
                        *sum = sum.add(add);
                    }
                }
            }
            let mut moved: f64 = 0.0;
            for i in 0..v.len() {
                let up = parent[i] as usize;
                let vu = if up >= start { v[up - start] } else { root };
                let jp = j[i];
                let common = z_mutual[i].mul(jp[0].add(jp[1]).add(jp[2]));
                for k in 0..3 {
                    let x = vu[k].sub(z_self[i].mul(jp[k])).sub(common);
                    moved = moved.max(x.sub(v[i][k]).norm2());
                    v[i][k] = x;
                }
            }
            if !moved.is_finite() || moved > self.v_phase * self.v_phase {
                return (iteration, false);
            }
            if moved <= tolerance_v * tolerance_v {
                return (iteration, true);
            }
        }
        (SWEEP3_MAX_ITERATIONS, false)
    }

    /// Behind an ideal source: every feeder on its own, in parallel on the current rayon pool;
    /// then the root's own current and the feeders' into it.
    fn solve_feeders(&self, state: &mut Flow3State, sweep: &(dyn Fn(usize) -> bool + Sync)) {
        use rayon::prelude::*;
        let root = [self.source, A2.mul(self.source), A.mul(self.source)];
        state.v[0] = root;
        let (mut v, mut j, mut s) = (&mut state.v[1..], &mut state.j[1..], &state.s[1..]);
        let mut work = Vec::with_capacity(self.branches.len());
        for (b, r) in self.branches.iter().enumerate() {
            let (vb, vrest) = std::mem::take(&mut v).split_at_mut(r.len());
            let (jb, jrest) = std::mem::take(&mut j).split_at_mut(r.len());
            let (sb, srest) = s.split_at(r.len());
            (v, j, s) = (vrest, jrest, srest);
            if sweep(b) {
                work.push((r.clone(), vb, jb, sb));
            }
        }
        let results: Vec<(u32, bool)> = work.into_par_iter().map(|(r, vb, jb, sb)| self.sweep_feeder(r, root, sb, vb, jb)).collect();
        state.iterations = results.iter().map(|r| r.0).max().unwrap_or(1);
        state.converged = results.iter().all(|r| r.1);
        let s0 = state.s[0];
        let mut j0 = [0, 1, 2].map(|k| if s0[k] == C::default() { C::default() } else { s0[k].div(root[k]).conj() });
        for r in &self.branches {
            for (sum, add) in j0.iter_mut().zip(state.j[r.start]) {
                *sum = sum.add(add);
            }
        }
        state.j[0] = j0;
    }

    /// The root's voltage with nothing drawn, per unit (supply and transformer ratio).
    pub fn no_load_pu(&self) -> f64 {
        self.source.abs() / self.v_phase
    }

    /// Solves the flow for `injection` (per node and phase: P kW and Q kvar into the grid),
    /// warm-started from `state`'s last voltages when it holds a settled step.
    pub fn solve(&self, injection: &[[(f64, f64); 3]], state: &mut Flow3State) {
        self.solve_where(injection, state, &|_| true);
    }

    /// [`Self::solve`] sweeping only the feeders (by index in the model's branches) that
    /// `sweep` picks, when no transformer couples them (behind one, all are swept). Only the
    /// swept feeders' results are valid: the others' currents and losses are zero, their
    /// voltages left from an earlier solve (or at no load), and `converged` is theirs alone.
    pub fn solve_where(&self, injection: &[[(f64, f64); 3]], state: &mut Flow3State, sweep: &(dyn Fn(usize) -> bool + Sync)) {
        let n = self.order.len();
        let warm = state.converged && state.v.len() == n;
        state.s.clear();
        state.s.extend(self.order.iter().map(|&v| injection[v as usize].map(|(p, q)| C(-p * 1000.0, -q * 1000.0))));
        state.j.clear();
        state.j.resize(n, [C::default(); 3]);
        if !warm {
            let e = self.source;
            state.v.clear();
            state.v.resize(n, [e, A2.mul(e), A.mul(e)]);
        }
        let tolerance_v = SWEEP3_TOLERANCE_PU * self.v_phase;
        state.converged = false;
        state.iterations = 0;
        if self.transformer.is_none() {
            self.solve_feeders(state, sweep);
        }
        while self.transformer.is_some() && state.iterations < SWEEP3_MAX_ITERATIONS {
            state.iterations += 1;
            // Backward: each node's own current, then summed up the tree.
            for p in 0..n {
                let (s, v) = (state.s[p], state.v[p]);
                state.j[p] = [0, 1, 2].map(|k| if s[k] == C::default() { C::default() } else { s[k].div(v[k]).conj() });
            }
            for p in (1..n).rev() {
                let (up, jp) = (self.parent[p] as usize, state.j[p]);
                for (sum, add) in state.j[up].iter_mut().zip(jp) {
                    *sum = sum.add(add);
                }
            }
            // The root's voltage from the source and what the network draws.
            let root = match self.transformer {
                None => [self.source, A2.mul(self.source), A.mul(self.source)],
                Some((z1, z0)) => {
                    let [i0, i1, i2] = sequences(state.j[0]);
                    phases([C::default().sub(z0.mul(i0)), self.source.sub(z1.mul(i1)), C::default().sub(z1.mul(i2))])
                }
            };
            // Largest squared move of any phase voltage in this sweep.
            let mut moved: f64 = 0.0;
            for (new, old) in root.iter().zip(state.v[0]) {
                moved = moved.max(new.sub(old).norm2());
            }
            state.v[0] = root;
            // Forward: each node's voltage from its parent's and its line's drop.
            for p in 1..n {
                let (up, jp) = (self.parent[p] as usize, state.j[p]);
                let (zs, zm) = (self.z_self[p], self.z_mutual[p]);
                let common = zm.mul(jp[0].add(jp[1]).add(jp[2]));
                let vu = state.v[up];
                for k in 0..3 {
                    let v = vu[k].sub(zs.mul(jp[k])).sub(common);
                    moved = moved.max(v.sub(state.v[p][k]).norm2());
                    state.v[p][k] = v;
                }
            }
            if !moved.is_finite() || moved > self.v_phase * self.v_phase {
                break; // diverging (far too much load for the network)
            }
            if moved <= tolerance_v * tolerance_v {
                state.converged = true;
                break;
            }
        }
        // Every reached node and every line of a radial network is written below; the rest
        // (unreachable nodes) stays zero from the first step.
        state.voltage.resize(self.nodes, [C::default(); 3]);
        state.current.resize(self.lines, [C::default(); 3]);
        state.loss_kw.resize(self.lines, [0.0; 3]);
        for p in 0..n {
            state.voltage[self.order[p] as usize] = state.v[p];
        }
        state.source_current = state.j[0];
        for p in 1..n {
            let (l, up) = (self.line[p] as usize, self.parent[p] as usize);
            state.current[l] = state.j[p];
            state.loss_kw[l] = [0, 1, 2].map(|k| state.v[up][k].sub(state.v[p][k]).mul(state.j[p][k].conj()).0 / 1000.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::test_net;

    /// One line, one phase loaded: the drop on the loaded phase is Zs·I and the other phases
    /// move by Zm·I, with I = S / V solved by hand for the two-node case.
    #[test]
    fn single_phase_load_moves_all_three_phases_by_the_mutual_impedance() {
        let mut t = test_net(2, &[(0, 1, 0.1, 0.02, 100.0)]);
        let e = petgraph::graph::EdgeIndex::new(0);
        t.graph[e].r0_ohm = Some(0.4);
        t.graph[e].x0_ohm = Some(0.08);
        let model = FlowModel::new(&t);
        let m = Flow3Model::new(&t, &model, 400.0);
        let mut inj = vec![[(0.0, 0.0); 3]; 2];
        inj[1][0] = (-5.0, 0.0); // 5 kW load on phase a
        let mut s = Flow3State::default();
        m.solve(&inj, &mut s);
        assert!(s.converged);
        let (zs, zm) = (C(0.2, 0.04), C(0.1, 0.02));
        let i = s.current[0][0];
        // The load's power at its own voltage.
        let sl = s.voltage[1][0].mul(i.conj());
        assert!((sl.0 - 5000.0).abs() < 1e-3 && sl.1.abs() < 1e-3, "{sl:?}");
        let src = m.source;
        assert!(src.sub(zs.mul(i)).sub(s.voltage[1][0]).abs() < 1e-6);
        assert!(A2.mul(src).sub(zm.mul(i)).sub(s.voltage[1][1]).abs() < 1e-6);
        assert!(A.mul(src).sub(zm.mul(i)).sub(s.voltage[1][2]).abs() < 1e-6);
        // Losses: all on the loaded phase (the others carry no current); the total is the
        // power the source sends less the power delivered.
        let sent = src.mul(i.conj()).0;
        assert!((s.loss_kw[0][0] + s.loss_kw[0][1] + s.loss_kw[0][2] - (sent - 5000.0) / 1000.0).abs() < 1e-6);
        assert!(unbalance_pct(s.voltage[1]) > 0.1 && unbalance_pct(s.voltage[0]) < 1e-9);
    }

    /// Balanced loads see the positive sequence only: the sweep gives the balanced drop.
    #[test]
    fn balanced_loads_ignore_the_zero_sequence() {
        let mut t = test_net(2, &[(0, 1, 0.1, 0.02, 100.0)]);
        t.graph[petgraph::graph::EdgeIndex::new(0)].r0_ohm = Some(5.0);
        let model = FlowModel::new(&t);
        let m = Flow3Model::new(&t, &model, 400.0);
        let mut inj = vec![[(0.0, 0.0); 3]; 2];
        inj[1] = [(-3.0, -1.0); 3];
        let mut s = Flow3State::default();
        m.solve(&inj, &mut s);
        assert!(s.converged);
        let v = s.voltage_pu(1, m.v_phase);
        assert!((v[0] - v[1]).abs() < 1e-12 && (v[1] - v[2]).abs() < 1e-12);
        assert!(unbalance_pct(s.voltage[1]) < 1e-9);
    }

    #[test]
    fn sequences_round_trip() {
        let v = [C(230.0, 1.0), C(-110.0, -200.0), C(-120.0, 190.0)];
        let back = phases(sequences(v));
        for k in 0..3 {
            assert!(back[k].sub(v[k]).abs() < 1e-9);
        }
    }
}
