//! Power flow on the grid, per step, from the net injection of every node (kW, positive into
//! the network); the root (grid connection point, or an island's hub) balances the rest.
//!
//! - **Radial networks**, exact active-power flows: the flow on the line above a node is the sum
//!   of the injections below it (one pass in reverse breadth-first order, O(nodes)).
//! - **Meshed networks**, DC power flow (flows in proportion to 1/reactance, lossless): solved by
//!   loop (mesh) analysis on a spanning tree. Each line outside the tree closes one loop; its flow
//!   is an unknown and Kirchhoff's voltage law around the loops gives a small symmetric positive
//!   definite system (one row per loop), factorised once by Cholesky. Per step: the tree's subtree
//!   sums, then O(loops²) plus the loops' lengths. Equal to the nodal DC formulation
//!   `B·θ = P` (same linear network), but without an n × n matrix.
//! - **Radial AC backward/forward sweep** (balanced three-phase, per-phase model, unity power
//!   factor): node voltages and line losses `3·|I|²·R`. Low-voltage lines are resistive, so
//!   exporting rooftop PV raises voltages along a feeder. Meshed networks report losses from the
//!   DC flows, `P²·R / V²`, and no voltages.

use super::Topology;

const NONE: u32 = u32::MAX;
/// Sweep stops when no voltage will move by more than this fraction of nominal: when the last
/// move was that small, or when the last move and the rate at which moves shrink (the sweep
/// converges geometrically) bound all further moves by it.
const SWEEP_TOLERANCE: f64 = 1e-7;
/// The rate of shrinking above which the bound is not trusted (the sweep then runs until a move
/// is within the tolerance).
const SWEEP_RATE_TRUSTED: f64 = 0.5;
const SWEEP_MAX_ITERATIONS: usize = 50;
const WATTS_PER_KW: f64 = 1000.0;

/// The network prepared for flow computations.
#[derive(Debug, Clone)]
pub struct FlowModel {
    pub nodes: usize,
    pub lines: usize,
    /// Depth-first preorder of the (breadth-first) spanning tree from the root, root first:
    /// parents come before children and each of the root's subtrees (a feeder) is a contiguous
    /// run of positions. Unreachable nodes are left out.
    order: Vec<u32>,
    /// Positions of each of the root's subtrees, in `order`: a radial grid's feeders are
    /// electrically independent behind the root's fixed voltage, so the AC sweep settles each on
    /// its own (in parallel, and only where the voltage screen asks for it).
    branches: Vec<std::ops::Range<usize>>,
    /// Each node's position in `order` (0 for unreachable nodes, which `order` does not hold).
    position: Vec<u32>,
    parent: Vec<u32>,
    /// The tree line from a node to its parent, and +1 if that line's (from, to) runs child →
    /// parent (−1 otherwise).
    parent_line: Vec<u32>,
    up_sign: Vec<f64>,
    /// Lines outside the spanning tree and, for each, its loop: (node whose parent line is in
    /// the loop, sign of child → parent flow in the loop's direction).
    cotree: Vec<u32>,
    loops: Vec<Vec<(u32, f64)>>,
    /// Cholesky factor (lower, row-major) of the loop matrix.
    loop_factor: Vec<f64>,
    r_ohm: Vec<f64>,
    x_ohm: Vec<f64>,
    /// (from, to) node of each line.
    endpoints: Vec<(u32, u32)>,
    /// By position in `order`: the parent's position and the impedance of the line to it.
    pos_parent: Vec<u32>,
    pos_r: Vec<f64>,
    pos_x: Vec<f64>,
    /// By position: the tree line to the parent and [`Self::up_sign`]; `loops` by position.
    pos_line: Vec<u32>,
    pos_sign: Vec<f64>,
    pos_loops: Vec<Vec<(u32, f64)>>,
}

/// Scratch and results of one step.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    /// Active power on each line, kW, positive in the line's from → to direction.
    pub line_kw: Vec<f64>,
    /// Power the root supplies to the network (negative: it takes the surplus), kW.
    pub root_kw: f64,
    /// Subtree sums (then flows to the parent) by position.
    subtree: Vec<f64>,
    loop_rhs: Vec<f64>,
    /// Scratch of [`FlowModel::linear_max_deviation_pu`], by position.
    deviation: Vec<f64>,
    /// Largest linearised voltage deviation in each branch (see [`FlowModel::branches`]), pu.
    pub branch_deviation_pu: Vec<f64>,
}

/// Scratch of [`FlowModel::linear_phase_deviation_pu`]: per position, the flow up on each
/// phase and each phase's deviation from nominal.
#[derive(Debug, Clone, Default)]
pub struct PhaseScratch {
    subtree: Vec<[f64; 3]>,
    deviation: Vec<[f64; 3]>,
}

/// Voltages and losses from the AC sweep.
#[derive(Debug, Clone, Default)]
pub struct AcState {
    /// Per-unit voltage magnitude of every node (1.0 = nominal; unreachable nodes 1.0).
    pub voltage_pu: Vec<f64>,
    /// Losses on each line, kW.
    pub line_loss_kw: Vec<f64>,
    pub iterations: usize,
    /// False when the sweep did not settle (demand beyond what the lines can carry at any
    /// voltage); voltages and losses are then not meaningful.
    pub converged: bool,
    /// Per position: per-phase injection (W), voltage and branch current; then the voltage
    /// (pu) and the loss on the line to the parent (kW), worked out by each branch's task.
    s: Vec<f64>,
    v_re: Vec<f64>,
    v_im: Vec<f64>,
    j_re: Vec<f64>,
    j_im: Vec<f64>,
    pos_voltage_pu: Vec<f64>,
    pos_loss_kw: Vec<f64>,
    /// Per branch: its last sweep settled, so its voltages are where the next sweep starts
    /// (injections change little from one step to the next: fewer iterations than from flat).
    warm: Vec<bool>,
}

impl FlowModel {
    pub fn new(topology: &Topology) -> FlowModel {
        let g = &topology.graph;
        let n = g.node_count();
        let mut parent = vec![NONE; n];
        let mut parent_line = vec![NONE; n];
        let mut up_sign = vec![0.0; n];
        let mut in_tree = vec![false; g.edge_count()];
        let mut order = Vec::with_capacity(n);
        let mut seen = vec![false; n];
        if n > 0 {
            let root = topology.root.index();
            seen[root] = true;
            order.push(root as u32);
            let mut k = 0;
            while k < order.len() {
                let v = order[k] as usize;
                k += 1;
                // Lines in index order, so the tree does not depend on petgraph's adjacency order.
                let mut edges: Vec<_> = g.edges(petgraph::graph::NodeIndex::new(v)).map(|e| petgraph::visit::EdgeRef::id(&e)).collect();
                edges.sort_unstable();
                for e in edges {
                    let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
                    let w = if a.index() == v { b.index() } else { a.index() };
                    if !seen[w] {
                        seen[w] = true;
                        parent[w] = v as u32;
                        parent_line[w] = e.index() as u32;
                        up_sign[w] = if a.index() == w { 1.0 } else { -1.0 };
                        in_tree[e.index()] = true;
                        order.push(w as u32);
                    }
                }
            }
        }
        let (order, branches) = preorder(&order, &parent);
        let r_ohm: Vec<f64> = g.edge_weights().map(|l| l.r_ohm).collect();
        let endpoints: Vec<(u32, u32)> = g
            .edge_indices()
            .map(|e| {
                let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
                (a.index() as u32, b.index() as u32)
            })
            .collect();
        let x_ohm: Vec<f64> = g.edge_weights().map(|l| l.x_ohm).collect();
        let mut depth = vec![0usize; n];
        for &v in order.iter().skip(1) {
            depth[v as usize] = depth[parent[v as usize] as usize] + 1;
        }
        let mut cotree = Vec::new();
        let mut loops = Vec::new();
        for e in g.edge_indices() {
            let (a, b) = g.edge_endpoints(e).expect("edge of this graph");
            if in_tree[e.index()] || !seen[a.index()] || !seen[b.index()] {
                continue;
            }
            // Loop: a → b on this line, then back from b to a through the tree.
            let (mut u, mut w) = (b.index(), a.index());
            let mut up = Vec::new();
            let mut down = Vec::new();
            while u != w {
                if depth[u] >= depth[w] {
                    up.push((u as u32, 1.0));
                    u = parent[u] as usize;
                } else {
                    down.push((w as u32, -1.0));
                    w = parent[w] as usize;
                }
            }
            up.extend(down);
            cotree.push(e.index() as u32);
            loops.push(up);
        }
        let mut position = vec![0u32; n];
        for (k, &v) in order.iter().enumerate() {
            position[v as usize] = k as u32;
        }
        let by_position = |f: &dyn Fn(usize) -> f64| -> Vec<f64> { order.iter().map(|&v| if parent[v as usize] == NONE { 0.0 } else { f(v as usize) }).collect() };
        let pos_r = by_position(&|v| r_ohm[parent_line[v] as usize]);
        let pos_x = by_position(&|v| x_ohm[parent_line[v] as usize]);
        let pos_parent = order.iter().map(|&v| if parent[v as usize] == NONE { 0 } else { position[parent[v as usize] as usize] }).collect();
        let pos_line = order.iter().map(|&v| if parent[v as usize] == NONE { 0 } else { parent_line[v as usize] }).collect();
        let pos_sign = order.iter().map(|&v| up_sign[v as usize]).collect();
        let pos_loops = loops.iter().map(|lp: &Vec<(u32, f64)>| lp.iter().map(|&(u, s)| (position[u as usize], s)).collect()).collect();
        let mut model = FlowModel {
            nodes: n,
            lines: g.edge_count(),
            order,
            branches,
            position,
            parent,
            parent_line,
            up_sign,
            cotree,
            loops,
            loop_factor: Vec::new(),
            r_ohm,
            x_ohm,
            endpoints,
            pos_parent,
            pos_r,
            pos_x,
            pos_line,
            pos_sign,
            pos_loops,
        };
        model.factor_loops();
        model
    }

    pub fn is_radial(&self) -> bool {
        self.cotree.is_empty()
    }

    /// Number of independent loops (lines outside the spanning tree).
    pub fn loop_count(&self) -> usize {
        self.cotree.len()
    }

    /// The line above `node` on the spanning tree and its child → parent sign.
    pub fn parent_line(&self, node: usize) -> Option<(usize, f64)> {
        (self.parent_line[node] != NONE).then(|| (self.parent_line[node] as usize, self.up_sign[node]))
    }

    /// Nodes in breadth-first order from the root.
    pub fn order(&self) -> impl DoubleEndedIterator<Item = usize> + '_ {
        self.order.iter().map(|&v| v as usize)
    }

    pub fn parent(&self, node: usize) -> Option<usize> {
        (self.parent[node] != NONE).then(|| self.parent[node] as usize)
    }

    /// Loop matrix `M[c][d] = x_c·δ + Σ x_u·s_cu·s_du` and its Cholesky factor.
    fn factor_loops(&mut self) {
        let l = self.cotree.len();
        let mut m = vec![0.0; l * l];
        let mut signs = vec![0.0; self.nodes];
        for c in 0..l {
            m[c * l + c] += self.x_ohm[self.cotree[c] as usize];
            for &(u, s) in &self.loops[c] {
                signs[u as usize] = s;
            }
            for d in 0..l {
                for &(u, s) in &self.loops[d] {
                    let sc = signs[u as usize];
                    if sc != 0.0 {
                        m[c * l + d] += self.x_ohm[self.parent_line[u as usize] as usize] * sc * s;
                    }
                }
            }
            for &(u, _) in &self.loops[c] {
                signs[u as usize] = 0.0;
            }
        }
        // Cholesky, in place (lower triangle). M is symmetric positive definite: the reactances
        // are positive and the loops independent.
        for j in 0..l {
            let mut d = m[j * l + j];
            for k in 0..j {
                d -= m[j * l + k] * m[j * l + k];
            }
            let d = d.max(f64::MIN_POSITIVE).sqrt();
            m[j * l + j] = d;
            for i in j + 1..l {
                let mut s = m[i * l + j];
                for k in 0..j {
                    s -= m[i * l + k] * m[j * l + k];
                }
                m[i * l + j] = s / d;
            }
        }
        self.loop_factor = m;
    }

    /// DC flows for the given node injections (kW); radial networks get exact active-power flows.
    pub fn solve(&self, injection_kw: &[f64], out: &mut Flows) {
        // Subtree sums by position: parents before children, so one backward pass over
        // contiguous arrays.
        let m = self.order.len();
        let sub = &mut out.subtree;
        sub.clear();
        sub.extend(self.order.iter().map(|&v| injection_kw.get(v as usize).copied().unwrap_or(0.0)));
        sum_to_parents(m, |k| self.pos_parent[k] as usize, [sub]);
        out.root_kw = if m > 0 { -sub[0] } else { 0.0 };
        out.line_kw.clear();
        out.line_kw.resize(self.lines, 0.0);
        let l = self.cotree.len();
        if l > 0 {
            // rhs_c = −Σ x_u·s_cu·subtree_u, then M·f = rhs by the Cholesky factor.
            let rhs = &mut out.loop_rhs;
            rhs.clear();
            for lp in &self.pos_loops {
                rhs.push(-lp.iter().map(|&(k, s)| self.pos_x[k as usize] * s * sub[k as usize]).sum::<f64>());
            }
            let f = &self.loop_factor;
            for i in 0..l {
                let s: f64 = (0..i).map(|k| f[i * l + k] * rhs[k]).sum();
                rhs[i] = (rhs[i] - s) / f[i * l + i];
            }
            for i in (0..l).rev() {
                let s: f64 = (i + 1..l).map(|k| f[k * l + i] * rhs[k]).sum();
                rhs[i] = (rhs[i] - s) / f[i * l + i];
            }
            for (c, lp) in self.pos_loops.iter().enumerate() {
                out.line_kw[self.cotree[c] as usize] = rhs[c];
                for &(k, s) in lp {
                    sub[k as usize] += s * rhs[c];
                }
            }
        }
        for ((&e, &sign), &flow) in self.pos_line.iter().zip(&self.pos_sign).zip(sub.iter()).skip(1) {
            out.line_kw[e as usize] = sign * flow;
        }
    }

    /// Radial grids: each line's flows on phases a, b, c (kW, from → to) for the node
    /// injections split by `shares` (per node) and multiplied by `scale`, as three
    /// [`Self::solve`]s give them but in one pass over the tree.
    pub fn radial_phase_flows(&self, injection_kw: &[f64], shares: &[[f64; 3]], scale: f64, scratch: &mut Vec<[f64; 3]>, line_kw: &mut Vec<[f64; 3]>) {
        self.phase_subtree_sums(injection_kw, shares, scale, scratch);
        line_kw.clear();
        line_kw.resize(self.lines, [0.0; 3]);
        for ((&e, &sign), flow) in self.pos_line.iter().zip(&self.pos_sign).zip(scratch.iter()).skip(1) {
            line_kw[e as usize] = flow.map(|f| sign * f);
        }
    }

    /// Each position's subtree sum of the injections split by `shares` and multiplied by
    /// `scale`, per phase: the flow up from that position on each phase.
    fn phase_subtree_sums(&self, injection_kw: &[f64], shares: &[[f64; 3]], scale: f64, sub: &mut Vec<[f64; 3]>) {
        debug_assert!(self.is_radial());
        sub.clear();
        sub.extend(self.order.iter().map(|&v| {
            let v = v as usize;
            let p = injection_kw.get(v).copied().unwrap_or(0.0);
            shares[v].map(|s| scale * s * p)
        }));
        // Children into parents in the order `sum_to_parents` adds them.
        for k in (1..sub.len()).rev() {
            let (p, child) = (self.pos_parent[k] as usize, sub[k]);
            for (sum, add) in sub[p].iter_mut().zip(child) {
                *sum += add;
            }
        }
    }

    /// [`Self::linear_max_deviation_pu`] phase by phase, for node injections split by `shares`:
    /// each phase's flow counts three times (a kW on one phase moves that phase's voltage about
    /// three times as far as a kW spread over three), so phases that cancel in the total do
    /// not hide their deviations. `branch_out` gets each branch's largest deviation of any
    /// phase; returns the largest of all.
    pub fn linear_phase_deviation_pu(&self, injection_kw: &[f64], shares: &[[f64; 3]], nominal_voltage_v: f64, scratch: &mut PhaseScratch, branch_out: &mut Vec<f64>) -> f64 {
        let scale = WATTS_PER_KW / nominal_voltage_v.powi(2);
        self.phase_subtree_sums(injection_kw, shares, 3.0, &mut scratch.subtree);
        let (up_kw, dev) = (&scratch.subtree, &mut scratch.deviation);
        dev.clear();
        dev.resize(up_kw.len(), [0.0; 3]);
        branch_out.clear();
        for range in &self.branches {
            let mut worst: f64 = 0.0;
            for k in range.clone() {
                let above = dev[self.pos_parent[k] as usize];
                for (i, d) in dev[k].iter_mut().enumerate() {
                    *d = above[i] + self.pos_r[k] * up_kw[k][i] * scale;
                    super::raise_max(&mut worst, d.abs());
                }
            }
            branch_out.push(worst);
        }
        branch_out.iter().fold(0.0, |a, &b| a.max(b))
    }

    /// How the flow on `line` (in its from → to direction) changes per kW injected at each node
    /// (withdrawn at the root): the line's row of the power transfer distribution factors. By
    /// reciprocity it is the node angles of a unit transfer from the line's `from` to its `to`
    /// node, over the line's reactance: one flow solve and a walk down the tree, O(nodes).
    pub fn sensitivity(&self, line: usize, unit: &mut Vec<f64>, scratch: &mut Flows, out: &mut Vec<f64>) {
        let (a, b) = self.endpoints[line];
        unit.clear();
        unit.resize(self.nodes, 0.0);
        unit[a as usize] += 1.0;
        unit[b as usize] -= 1.0;
        self.solve(unit, scratch);
        out.clear();
        out.resize(self.nodes, 0.0);
        // Angle of a child = parent's + x·(flow child → parent); the root's is 0.
        for &v in self.order.iter().skip(1) {
            let v = v as usize;
            let e = self.parent_line[v] as usize;
            out[v] = out[self.parent[v] as usize] + self.x_ohm[e] * self.up_sign[v] * scratch.line_kw[e];
        }
        let x = self.x_ohm[line];
        out.iter_mut().for_each(|t| *t /= x);
    }

    /// Largest deviation from nominal (per unit) of any node in the linearised DistFlow
    /// approximation, `ΔV = Σ R·P·1000 / V²` along the path from the root, from radial `flows`:
    /// O(nodes), a cheap screen before the AC sweep. Its error is second order in the deviation
    /// (about 1% of nominal at a 10% deviation).
    pub fn linear_max_deviation_pu(&self, flows: &mut Flows, nominal_voltage_v: f64) -> f64 {
        let scale = WATTS_PER_KW / nominal_voltage_v.powi(2);
        let m = self.order.len();
        let dev = &mut flows.deviation;
        dev.clear();
        dev.resize(m, 0.0);
        flows.branch_deviation_pu.clear();
        // The flow up from position k (child → parent; export raises the child's voltage) is the
        // line's flow times the line's up sign, which is the subtree sum by position: the same
        // number (the sign is ±1), read in order instead of through node and line indices.
        let up_kw = &flows.subtree;
        for range in &self.branches {
            let mut worst: f64 = 0.0;
            for k in range.clone() {
                dev[k] = dev[self.pos_parent[k] as usize] + self.pos_r[k] * up_kw[k] * scale;
                super::raise_max(&mut worst, dev[k].abs());
            }
            flows.branch_deviation_pu.push(worst);
        }
        flows.branch_deviation_pu.iter().fold(0.0, |a, &b| a.max(b))
    }

    /// How a node's voltage (per unit) rises per kW injected at each node of its branch, on a
    /// radial grid with resistive lines: the resistance of the path the two share from the
    /// root, `R·1000 / V²` (linearised DistFlow, unity power factor). Nodes of other branches do
    /// not move it (the root's voltage is fixed). Writes `out` in the order of the returned
    /// nodes; O(branch).
    pub fn voltage_sensitivity(&self, node: usize, nominal_voltage_v: f64, out: &mut Vec<f64>) -> BranchNodes<'_> {
        out.clear();
        let Some(range) = self.branch_of(node) else { return self.order[0..0].iter().copied() };
        let (start, n) = (range.start, range.len());
        // Positions on the node's path from the root, local to its branch.
        let mut on_path = vec![false; n];
        let mut k = self.position[node] as usize;
        while k >= start {
            on_path[k - start] = true;
            k = self.pos_parent[k] as usize;
        }
        let scale = WATTS_PER_KW / nominal_voltage_v.powi(2);
        // Resistance from the root to each position, and to where each leaves the node's path.
        let mut to_root = vec![0.0; n];
        let mut shared = vec![0.0; n];
        for i in 0..n {
            let k = start + i;
            let p = (self.pos_parent[k] as usize).checked_sub(start);
            let (p_root, p_shared) = p.map_or((0.0, 0.0), |p| (to_root[p], shared[p]));
            to_root[i] = p_root + self.pos_r[k];
            shared[i] = if on_path[i] { to_root[i] } else { p_shared };
            out.push(shared[i] * scale);
        }
        self.order[range].iter().copied()
    }

    /// The branch (root's subtree) holding `node`; `None` for the root and unreachable nodes.
    pub fn branch_of(&self, node: usize) -> Option<std::ops::Range<usize>> {
        let k = *self.position.get(node)? as usize;
        if k == 0 || self.order.get(k) != Some(&(node as u32)) {
            return None;
        }
        let b = self.branches.partition_point(|r| r.end <= k);
        self.branches.get(b).cloned()
    }

    /// The nodes of branch `b`.
    pub fn branch_nodes(&self, b: usize) -> impl Iterator<Item = usize> + '_ {
        self.order[self.branches[b].clone()].iter().map(|&v| v as usize)
    }

    /// Line losses from DC flows, `P²·R / V²` (three-phase, line-to-line voltage), kW.
    pub fn dc_losses_kw(&self, flows: &Flows, nominal_voltage_v: f64, out: &mut Vec<f64>) {
        out.clear();
        out.extend(flows.line_kw.iter().zip(&self.r_ohm).map(|(p, r)| (p * WATTS_PER_KW).powi(2) * r / nominal_voltage_v.powi(2) / WATTS_PER_KW));
    }

    /// The root's subtrees (feeders) as ranges of positions.
    pub fn branches(&self) -> &[std::ops::Range<usize>] {
        &self.branches
    }

    /// AC backward/forward sweep on a radial network: per-phase voltages with the root held at
    /// nominal (`nominal_voltage_v` line to line), unity power factor injections.
    pub fn sweep(&self, injection_kw: &[f64], nominal_voltage_v: f64, ac: &mut AcState) {
        self.sweep_branches(injection_kw, nominal_voltage_v, ac, |_| true);
    }

    /// The sweep on the branches `selected` by index (the others read 1 pu and no losses).
    /// Branches run in parallel on the current rayon pool; each settles on its own, so the
    /// result does not depend on the number of threads.
    pub fn sweep_branches(&self, injection_kw: &[f64], nominal_voltage_v: f64, ac: &mut AcState, selected: impl Fn(usize) -> bool + Sync) {
        use rayon::prelude::*;
        let m = self.order.len();
        let v_phase = nominal_voltage_v / 3f64.sqrt();
        ac.s.clear();
        ac.s.extend(self.order.iter().map(|&v| injection_kw.get(v as usize).copied().unwrap_or(0.0) * WATTS_PER_KW / 3.0));
        // Every branch's task writes all of its positions before reading them, so the arrays
        // are only sized, not cleared, each step.
        if ac.v_re.len() != m || ac.warm.len() != self.branches.len() {
            ac.warm.clear();
            ac.warm.resize(self.branches.len(), false);
        }
        for x in [&mut ac.v_re, &mut ac.v_im, &mut ac.j_re, &mut ac.j_im, &mut ac.pos_voltage_pu, &mut ac.pos_loss_kw] {
            x.resize(m, 0.0);
        }
        let mut work = Vec::with_capacity(self.branches.len());
        if m > 0 {
            let mut rest = [&mut ac.v_re[1..], &mut ac.v_im[1..], &mut ac.j_re[1..], &mut ac.j_im[1..], &mut ac.pos_voltage_pu[1..], &mut ac.pos_loss_kw[1..]];
            for (b, range) in self.branches.iter().enumerate() {
                let [v_re, v_im, j_re, j_im, voltage_pu, loss_kw] = rest.each_mut().map(|x| {
                    let (head, tail) = std::mem::take(x).split_at_mut(range.len());
                    *x = tail;
                    head
                });
                work.push((b, range.start, ac.warm[b], Branch { v_re, v_im, j_re, j_im, voltage_pu, loss_kw }));
            }
        }
        let s = &ac.s;
        let settled: Vec<(bool, usize)> = work.into_par_iter().map(|(b, start, warm, mut br)| if selected(b) { self.sweep_branch(start, s, v_phase, warm, &mut br) } else { (true, 0) }).collect();
        for (b, r) in settled.iter().enumerate() {
            if selected(b) {
                ac.warm[b] = r.0;
            }
        }
        ac.converged = settled.iter().all(|r| r.0);
        ac.iterations = settled.iter().map(|r| r.1).max().unwrap_or(0);
        if m > 0 {
            (ac.v_re[0], ac.v_im[0]) = (v_phase, 0.0);
        }
        ac.voltage_pu.clear();
        ac.voltage_pu.resize(self.nodes, 1.0);
        ac.line_loss_kw.clear();
        ac.line_loss_kw.resize(self.lines, 0.0);
        for (b, range) in self.branches.iter().enumerate() {
            if !selected(b) {
                continue;
            }
            for k in range.clone() {
                ac.voltage_pu[self.order[k] as usize] = ac.pos_voltage_pu[k];
                ac.line_loss_kw[self.pos_line[k] as usize] = ac.pos_loss_kw[k];
            }
        }
    }

    /// One branch's sweep, positions `start..start + len` (its head's parent is the root, held
    /// at `v_phase`), from its last settled voltages if `warm`, else from flat. Returns whether it
    /// settled and the iterations taken.
    fn sweep_branch(&self, start: usize, s: &[f64], v_phase: f64, warm: bool, br: &mut Branch) -> (bool, usize) {
        let n = br.v_re.len();
        if !warm {
            br.v_re.fill(v_phase);
            br.v_im.fill(0.0);
        }
        if n == 0 {
            // Nothing to sweep: settled in the first iteration, as the loop below would report.
            return self.branch_results(start, v_phase, br, (true, 1));
        }
        // The branch's slices, all of length `n`: the loops index them without bounds checks
        // (only the parent index is checked).
        let (s, r_ohm, x_ohm, pos_parent) = (&s[start..start + n], &self.pos_r[start..start + n], &self.pos_x[start..start + n], &self.pos_parent[start..start + n]);
        // Local index of a position's parent; the head's (the root) is never read through it.
        let parent = |k: usize| (pos_parent[k] as usize).wrapping_sub(start);
        let mut last_moved = f64::NAN; // no rate before the second move
        for it in 0..SWEEP_MAX_ITERATIONS {
            // Backward: current injected at each node, I = conj(S / V) = s·V/|V|² for real s,
            // summed towards the root.
            {
                let (v_re, v_im, j_re, j_im) = (&br.v_re[..n], &br.v_im[..n], &mut br.j_re[..n], &mut br.j_im[..n]);
                for k in 0..n {
                    let (vr, vi) = (v_re[k], v_im[k]);
                    let g = s[k] / (vr * vr + vi * vi);
                    j_re[k] = g * vr;
                    j_im[k] = g * vi;
                }
            }
            sum_to_parents(n, parent, [&mut *br.j_re, &mut *br.j_im]);
            // Forward: V_child = V_parent + Z·J (current J flows child → parent); the head's
            // parent is the root, at `v_phase`.
            let (v_re, v_im, j_re, j_im) = (&mut br.v_re[..n], &mut br.v_im[..n], &br.j_re[..n], &br.j_im[..n]);
            let mut moved: f64 = 0.0;
            let mut step = |k: usize, pr: f64, pi: f64, v_re: &mut [f64], v_im: &mut [f64]| {
                let (r, x) = (r_ohm[k], x_ohm[k]);
                let (jr, ji) = (j_re[k], j_im[k]);
                let nr = pr + r * jr - x * ji;
                let ni = pi + r * ji + x * jr;
                super::raise_max(&mut moved, (nr - v_re[k]).abs() + (ni - v_im[k]).abs());
                v_re[k] = nr;
                v_im[k] = ni;
            };
            step(0, v_phase, 0.0, v_re, v_im);
            for k in 1..n {
                let p = parent(k);
                let (pr, pi) = (v_re[p], v_im[p]);
                step(k, pr, pi, v_re, v_im);
            }
            // Moves shrink by about `rate` each iteration: the ones still to come add up to
            // `moved·rate / (1 − rate)` at most.
            let rate = moved / last_moved;
            if moved <= SWEEP_TOLERANCE * v_phase || (rate < SWEEP_RATE_TRUSTED && moved * rate / (1.0 - rate) <= SWEEP_TOLERANCE * v_phase) {
                return self.branch_results(start, v_phase, br, (true, it + 1));
            }
            last_moved = moved;
            if !moved.is_finite() || moved > v_phase {
                return self.branch_results(start, v_phase, br, (false, it + 1)); // diverging
            }
        }
        self.branch_results(start, v_phase, br, (false, SWEEP_MAX_ITERATIONS))
    }

    /// A swept branch's voltages (pu) and line losses (kW) by position; passes `settled` on.
    fn branch_results(&self, start: usize, v_phase: f64, br: &mut Branch, settled: (bool, usize)) -> (bool, usize) {
        let n = br.v_re.len();
        let (v_re, v_im, j_re, j_im, r_ohm) = (&br.v_re[..n], &br.v_im[..n], &br.j_re[..n], &br.j_im[..n], &self.pos_r[start..start + n]);
        for (k, (voltage_pu, loss_kw)) in br.voltage_pu[..n].iter_mut().zip(&mut br.loss_kw[..n]).enumerate() {
            *voltage_pu = (v_re[k] * v_re[k] + v_im[k] * v_im[k]).sqrt() / v_phase;
            *loss_kw = 3.0 * (j_re[k].powi(2) + j_im[k].powi(2)) * r_ohm[k] / WATTS_PER_KW;
        }
        settled
    }
}

/// Adds each position's values into its parent's, from the last position up to 1 (children
/// come after their parents, so every node is complete when it is added). The sum just stored
/// stays in registers: in depth-first order a node's parent is usually the position just above
/// it, whose load would otherwise wait on that store. The additions and their order are those of
/// `values[p] += values[k]`, so the results are the same to the bit.
fn sum_to_parents<const N: usize>(n: usize, parent: impl Fn(usize) -> usize, values: [&mut [f64]; N]) {
    let mut held = usize::MAX;
    let mut held_sum = [0.0; N];
    for k in (1..n).rev() {
        let p = parent(k);
        let child: [f64; N] = std::array::from_fn(|i| if held == k { held_sum[i] } else { values[i][k] });
        let base: [f64; N] = std::array::from_fn(|i| if held == p { held_sum[i] } else { values[i][p] });
        held = p;
        for i in 0..N {
            held_sum[i] = base[i] + child[i];
            values[i][p] = held_sum[i];
        }
    }
}

/// The nodes of a branch, in position order.
pub type BranchNodes<'a> = std::iter::Copied<std::slice::Iter<'a, u32>>;

/// A branch's share of the sweep's arrays.
struct Branch<'a> {
    v_re: &'a mut [f64],
    v_im: &'a mut [f64],
    j_re: &'a mut [f64],
    j_im: &'a mut [f64],
    voltage_pu: &'a mut [f64],
    loss_kw: &'a mut [f64],
}

/// Depth-first preorder of the tree given by `parent` over the breadth-first `bfs` order
/// (children in breadth-first order), and the position ranges of the root's subtrees.
fn preorder(bfs: &[u32], parent: &[u32]) -> (Vec<u32>, Vec<std::ops::Range<usize>>) {
    let Some(&root) = bfs.first() else { return (Vec::new(), Vec::new()) };
    let mut children: Vec<Vec<u32>> = vec![Vec::new(); parent.len()];
    for &v in &bfs[1..] {
        children[parent[v as usize] as usize].push(v);
    }
    let mut order = Vec::with_capacity(bfs.len());
    let mut branches = Vec::with_capacity(children[root as usize].len());
    order.push(root);
    for &head in &children[root as usize] {
        let start = order.len();
        let mut stack = vec![head];
        while let Some(v) = stack.pop() {
            order.push(v);
            stack.extend(children[v as usize].iter().rev());
        }
        branches.push(start..order.len());
    }
    (order, branches)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A test grid whose lines all carry 100 kW.
    fn net(nodes: usize, lines: &[(usize, usize, f64, f64)]) -> Topology {
        crate::grid::test_net(nodes, &lines.iter().map(|&(a, b, r, x)| (a, b, r, x, 100.0)).collect::<Vec<_>>())
    }

    /// Kirchhoff's current law: what enters each node equals what leaves it.
    fn assert_kcl(t: &Topology, inj: &[f64], f: &Flows) {
        let mut net = inj.to_vec();
        net[0] += f.root_kw;
        for e in t.graph.edge_indices() {
            let (a, b) = t.graph.edge_endpoints(e).unwrap();
            net[a.index()] -= f.line_kw[e.index()];
            net[b.index()] += f.line_kw[e.index()];
        }
        assert!(net.iter().all(|x| x.abs() < 1e-9), "KCL: {net:?}");
    }

    #[test]
    fn phase_flows_in_one_pass_match_three_solves() {
        let t = net(6, &[(0, 1, 0.1, 0.1), (1, 2, 0.1, 0.1), (1, 3, 0.1, 0.1), (0, 4, 0.1, 0.1), (4, 5, 0.1, 0.1)]);
        let m = FlowModel::new(&t);
        let inj = [0.0, 2.0, -5.0, 7.5, 1.0, -3.0];
        let shares = [[1.0 / 3.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5], [0.0, 0.0, 1.0], [1.0 / 3.0; 3]];
        let (mut scratch, mut lines) = (Vec::new(), Vec::new());
        m.radial_phase_flows(&inj, &shares, 3.0, &mut scratch, &mut lines);
        for k in 0..3 {
            let phase: Vec<f64> = inj.iter().zip(&shares).map(|(p, s)| 3.0 * s[k] * p).collect();
            let mut f = Flows::default();
            m.solve(&phase, &mut f);
            assert_eq!(f.line_kw, lines.iter().map(|l| l[k]).collect::<Vec<_>>(), "phase {k}");
        }
    }

    #[test]
    fn phases_that_cancel_in_total_keep_their_deviations() {
        // Root – 1 – 2 and 1 – 3: node 2 exports 10 kW on phase a, node 3 draws 10 kW on b.
        // The line 0–1 carries nothing in total, but 30 kW-equivalents on each of a and b.
        let t = net(4, &[(0, 1, 0.1, 0.01), (1, 2, 0.1, 0.01), (1, 3, 0.1, 0.01)]);
        let m = FlowModel::new(&t);
        let inj = [0.0, 0.0, 10.0, -10.0];
        let shares = [[1.0 / 3.0; 3], [1.0 / 3.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
        let mut f = Flows::default();
        m.solve(&inj, &mut f);
        let net_estimate = m.linear_max_deviation_pu(&mut f, 400.0);
        let (mut scratch, mut branches) = (PhaseScratch::default(), Vec::new());
        let phase_estimate = m.linear_phase_deviation_pu(&inj, &shares, 400.0, &mut scratch, &mut branches);
        // Net: only the 0.1 Ω of each lateral sees 10 kW: 0.1·10 kW·1000/400² = 0.625%.
        assert!((net_estimate - 0.00625).abs() < 1e-12, "{net_estimate}");
        // Per phase: node 2's phase a rises over both lines by 0.2·30·1000/400² = 3.75%.
        assert!((phase_estimate - 0.0375).abs() < 1e-12, "{phase_estimate}");
        assert_eq!(branches.len(), 1);
    }

    #[test]
    fn feeders_sweep_on_their_own_behind_the_fixed_root() {
        // Two feeders from root 0: 0–1–2 and 0–3–4 (node ids interleaved on purpose), each
        // a contiguous run of positions; sweeping one alone gives the same voltages there as
        // sweeping both, since the root holds the voltage.
        let t = net(5, &[(0, 1, 0.2, 0.05), (0, 3, 0.2, 0.05), (1, 2, 0.3, 0.05), (3, 4, 0.3, 0.05)]);
        let m = FlowModel::new(&t);
        assert_eq!(m.branches(), &[1..3, 3..5]);
        assert_eq!(m.branch_nodes(0).collect::<Vec<_>>(), vec![1, 2]);
        assert_eq!(m.branch_nodes(1).collect::<Vec<_>>(), vec![3, 4]);
        let inj = [0.0, -3.0, 8.0, 2.0, -6.0];
        let (mut both, mut one) = (AcState::default(), AcState::default());
        m.sweep(&inj, 400.0, &mut both);
        m.sweep_branches(&inj, 400.0, &mut one, |b| b == 1);
        assert!(both.converged && one.converged);
        assert!(both.voltage_pu[2] > 1.0 && both.voltage_pu[4] < 1.0, "export raises, load lowers: {:?}", both.voltage_pu);
        assert_eq!(&one.voltage_pu[3..], &both.voltage_pu[3..]);
        assert_eq!(&one.voltage_pu[..3], &[1.0; 3], "the unselected feeder is not swept");
        assert_eq!(one.line_loss_kw[1], both.line_loss_kw[1]);
        // A voltage's sensitivity: its own feeder's nodes only, by shared resistance.
        let mut sens = Vec::new();
        let nodes: Vec<u32> = m.voltage_sensitivity(4, 400.0, &mut sens).collect();
        assert_eq!(nodes, vec![3, 4]);
        assert!(sens[1] > sens[0] && sens[0] > 0.0, "{sens:?}");
    }

    #[test]
    fn radial_flows_are_subtree_sums() {
        // 0 (root) – 1 – 2, 1 – 3; node 2 exports 5 kW, node 3 draws 2 kW.
        // Line 1–2 carries 5 kW towards 1 (its from → to is 1 → 2, so −5); line 1–3 carries 2 kW
        // from 1 to 3 (+2); line 0–1 carries the net 3 kW towards the root (−3); the root takes 3.
        let t = net(4, &[(0, 1, 0.01, 0.01), (1, 2, 0.01, 0.01), (1, 3, 0.01, 0.01)]);
        let m = FlowModel::new(&t);
        let inj = [0.0, 0.0, 5.0, -2.0];
        let mut f = Flows::default();
        m.solve(&inj, &mut f);
        assert_eq!(f.line_kw, vec![-3.0, -5.0, 2.0]);
        assert_eq!(f.root_kw, -3.0);
        assert_kcl(&t, &inj, &f);
    }

    #[test]
    fn dc_flows_match_a_hand_solved_three_bus_loop() {
        // Triangle 0–1 (x = 1), 1–2 (x = 2), 0–2 (x = 1); node 2 draws 10 kW from the root 0.
        // Two paths from 0 to 2: direct (x = 1) and via 1 (x = 1 + 2 = 3), so the direct line
        // carries 10·3/4 = 7.5 kW and the other path 2.5 kW.
        let t = net(3, &[(0, 1, 0.0, 1.0), (1, 2, 0.0, 2.0), (0, 2, 0.0, 1.0)]);
        let m = FlowModel::new(&t);
        assert_eq!(m.loop_count(), 1);
        let inj = [0.0, 0.0, -10.0];
        let mut f = Flows::default();
        m.solve(&inj, &mut f);
        let want = [2.5, 2.5, 7.5];
        for (got, want) in f.line_kw.iter().zip(want) {
            assert!((got - want).abs() < 1e-12, "{:?}", f.line_kw);
        }
        assert_kcl(&t, &inj, &f);
    }

    #[test]
    fn dc_flows_satisfy_both_kirchhoff_laws_on_a_grid_with_several_loops() {
        // 3 × 3 mesh, root in a corner, mixed injections.
        let mut lines = Vec::new();
        for r in 0..3 {
            for c in 0..3 {
                let v = r * 3 + c;
                if c < 2 {
                    lines.push((v, v + 1, 0.1, 0.5 + v as f64 * 0.1));
                }
                if r < 2 {
                    lines.push((v, v + 3, 0.1, 0.7 + v as f64 * 0.05));
                }
            }
        }
        let t = net(9, &lines);
        let m = FlowModel::new(&t);
        assert_eq!(m.loop_count(), 4);
        let inj = [0.0, 3.0, -4.0, 1.5, -2.0, 6.0, -1.0, 0.5, -7.0];
        let mut f = Flows::default();
        m.solve(&inj, &mut f);
        assert_kcl(&t, &inj, &f);
        // KVL: angles θ with θ_from − θ_to = x·P exist (walk the tree, check every line).
        let mut theta = vec![f64::NAN; 9];
        theta[0] = 0.0;
        for v in m.order().skip(1) {
            let (e, _) = m.parent_line(v).unwrap();
            let (a, b) = t.graph.edge_endpoints(petgraph::graph::EdgeIndex::new(e)).unwrap();
            let drop = t.graph[petgraph::graph::EdgeIndex::new(e)].x_ohm * f.line_kw[e];
            theta[v] = if a.index() == v { theta[b.index()] + drop } else { theta[a.index()] - drop };
        }
        for e in t.graph.edge_indices() {
            let (a, b) = t.graph.edge_endpoints(e).unwrap();
            let resid = theta[a.index()] - theta[b.index()] - t.graph[e].x_ohm * f.line_kw[e.index()];
            assert!(resid.abs() < 1e-9, "KVL on line {}: {resid}", e.index());
        }
    }

    #[test]
    fn sensitivities_predict_the_flow_change() {
        // Meshed 3 × 3 grid: injecting 1 kW at any node changes each line's flow by its factor.
        let mut lines = Vec::new();
        for v in 0..9 {
            if v % 3 < 2 {
                lines.push((v, v + 1, 0.1, 0.3 + v as f64 * 0.1));
            }
            if v < 6 {
                lines.push((v, v + 3, 0.1, 0.4 + v as f64 * 0.07));
            }
        }
        let t = net(9, &lines);
        let m = FlowModel::new(&t);
        let base = [0.0, 1.0, -2.0, 0.5, 3.0, -1.0, 0.0, 2.0, -4.0];
        let (mut f0, mut f1, mut scratch) = (Flows::default(), Flows::default(), Flows::default());
        m.solve(&base, &mut f0);
        let (mut unit, mut s) = (Vec::new(), Vec::new());
        for line in 0..m.lines {
            m.sensitivity(line, &mut unit, &mut scratch, &mut s);
            for node in 1..9 {
                let mut inj = base;
                inj[node] += 1.0;
                m.solve(&inj, &mut f1);
                assert!((f1.line_kw[line] - f0.line_kw[line] - s[node]).abs() < 1e-9, "line {line} node {node}");
            }
        }
    }

    #[test]
    fn exporting_pv_raises_the_feeder_voltage_and_losses_follow_the_current() {
        // Root – 1 – 2, each line 0.1 Ω, no reactance; node 2 exports 20 kW at 400 V, so per
        // phase 6,666.7 W at V₂ with I = 6,666.7 / V₂ and V₂ = 230.94 + 0.2·I:
        // V₂² − 230.94·V₂ − 1,333.3 = 0 → V₂ = 236.58 V = 1.02441 pu, I = 28.18 A,
        // losses 3·I²·0.2 Ω = 476.5 W.
        let t = net(3, &[(0, 1, 0.1, 0.0), (1, 2, 0.1, 0.0)]);
        let m = FlowModel::new(&t);
        let mut ac = AcState::default();
        m.sweep(&[0.0, 0.0, 20.0], 400.0, &mut ac);
        assert!((ac.voltage_pu[2] - 1.02441).abs() < 1e-5, "{:?}", ac.voltage_pu);
        assert!(ac.voltage_pu[1] > 1.0 && ac.voltage_pu[1] < ac.voltage_pu[2]);
        let losses: f64 = ac.line_loss_kw.iter().sum();
        assert!((losses - 0.4765).abs() < 5e-4, "{losses}");
        // A load lowers it instead.
        m.sweep(&[0.0, 0.0, -20.0], 400.0, &mut ac);
        assert!(ac.voltage_pu[2] < 0.98);
    }

    #[test]
    fn a_sweep_starts_from_the_last_settled_voltages_and_lands_on_the_same_answer() {
        let t = net(5, &[(0, 1, 0.2, 0.05), (0, 3, 0.2, 0.05), (1, 2, 0.3, 0.05), (3, 4, 0.3, 0.05)]);
        let m = FlowModel::new(&t);
        let next = [0.0, -3.2, 7.5, 2.1, -6.3];
        let (mut warm, mut cold) = (AcState::default(), AcState::default());
        m.sweep(&[0.0, -3.0, 8.0, 2.0, -6.0], 400.0, &mut warm);
        m.sweep(&next, 400.0, &mut warm);
        m.sweep(&next, 400.0, &mut cold);
        assert!(warm.converged && cold.converged);
        assert!(warm.iterations < cold.iterations, "warm {} cold {}", warm.iterations, cold.iterations);
        for (w, c) in warm.voltage_pu.iter().zip(&cold.voltage_pu) {
            assert!((w - c).abs() < 10.0 * SWEEP_TOLERANCE, "{:?} {:?}", warm.voltage_pu, cold.voltage_pu);
        }
        // A sweep that does not settle is not a start: the next one begins flat, as a new one.
        m.sweep(&[0.0, -1e6, 0.0, -1e6, 0.0], 400.0, &mut warm);
        assert!(!warm.converged);
        m.sweep(&next, 400.0, &mut warm);
        assert_eq!(warm.voltage_pu, cold.voltage_pu);
        assert_eq!(warm.line_loss_kw, cold.line_loss_kw);
    }
}
