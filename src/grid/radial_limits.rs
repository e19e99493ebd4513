//! Line limits on a radial grid in one pass from the leaves up.
//!
//! On a tree the flow on the line above a node is its subtree's sum, so each line is fixed once,
//! deepest first, by cutting inside its subtree: battery offers first (always safe: the low end
//! of the range does not contain them), then PV surplus, or load for a line importing too much.
//! A cut is shared among the node itself and its child subtrees in proportion to what each can
//! give *without pushing a line inside it past its limit the other way* (cutting the PV of a
//! street that imports at its limit would overload it), so lines already fixed stay fixed. Cost
//! O(nodes) plus the subtrees of binding lines.

use super::flow::FlowModel;
use super::limits::{Keep, NodeOffer, CAPACITY_TOLERANCE_KW};

/// Which part of the offers a cut takes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cut {
    Battery,
    Surplus,
    Deficit,
}

/// Scratch for [`RadialLimits::apply`], reused every step.
#[derive(Debug, Default)]
pub struct RadialLimits {
    children_start: Vec<usize>,
    children: Vec<u32>,
    cap: Vec<f64>,
    /// Own remaining battery offer, surplus and deficit of each node, kW.
    own: Vec<[f64; 3]>,
    /// Subtree sums of `own`.
    sum: Vec<[f64; 3]>,
    /// What each subtree can give of surplus and of load without overloading a line inside it.
    safe_surplus: Vec<f64>,
    safe_shed: Vec<f64>,
    stack: Vec<(u32, f64)>,
    visited: Vec<u32>,
}

impl RadialLimits {
    /// Cuts `offers` so no line of the radial `model` exceeds `capacity_kw` at either end of the
    /// range; writes the kept fractions into `keep` and marks `binding` lines.
    pub fn apply(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], connected: bool, keep: &mut [Keep], binding: &mut [bool]) {
        let n = offers.len();
        if self.children_start.len() != n + 1 {
            self.build_children(model, capacity_kw, n); // the grid never changes during a run
        }
        self.own.clear();
        self.own.extend(offers.iter().map(|o| [o.battery_kw, o.surplus_kw, o.deficit_kw]));
        self.sum.clear();
        self.sum.resize(n, [0.0; 3]);
        self.safe_surplus.clear();
        self.safe_surplus.resize(n, 0.0);
        self.safe_shed.clear();
        self.safe_shed.resize(n, 0.0);
        for v in model.order().rev() {
            self.refresh(v, connected);
            let Some((line, _)) = model.parent_line(v) else { continue };
            let cap = self.cap[v];
            // A shed raises the high end again, so alternate until both ends hold (twice suffices:
            // battery cuts never lower the low end).
            for _ in 0..4 {
                let (hi, lo) = self.ends(v, connected);
                if hi > cap + CAPACITY_TOLERANCE_KW {
                    binding[line] = true;
                    let from_battery = (hi - cap).min(self.sum[v][0]);
                    self.allocate(v, Cut::Battery, from_battery, connected);
                    let rest = hi - cap - from_battery;
                    if rest > 0.0 {
                        self.allocate(v, Cut::Surplus, rest.min(self.sum[v][1]), connected);
                    }
                    continue;
                }
                if lo < -cap - CAPACITY_TOLERANCE_KW {
                    binding[line] = true;
                    self.allocate(v, Cut::Deficit, (-cap - lo).min(self.sum[v][2]), connected);
                    continue;
                }
                break;
            }
        }
        for (v, k) in keep.iter_mut().enumerate() {
            let frac = |now: f64, was: f64| if was > 0.0 { (now / was).clamp(0.0, 1.0) } else { 1.0 };
            *k = Keep { battery: frac(self.own[v][0], offers[v].battery_kw), surplus: frac(self.own[v][1], offers[v].surplus_kw), deficit: frac(self.own[v][2], offers[v].deficit_kw) };
        }
    }

    fn build_children(&mut self, model: &FlowModel, capacity_kw: &[f64], n: usize) {
        let mut count = vec![0usize; n + 1];
        self.cap.clear();
        self.cap.resize(n, f64::INFINITY);
        for v in model.order() {
            if let (Some(p), Some((line, _))) = (model.parent(v), model.parent_line(v)) {
                count[p + 1] += 1;
                self.cap[v] = capacity_kw[line];
            }
        }
        for i in 0..n {
            count[i + 1] += count[i];
        }
        self.children_start.clone_from(&count);
        self.children.clear();
        self.children.resize(count[n], 0);
        for v in model.order() {
            if let Some(p) = model.parent(v) {
                self.children[count[p]] = v as u32;
                count[p] += 1;
            }
        }
    }

    fn kids(&self, v: usize) -> &[u32] {
        &self.children[self.children_start[v]..self.children_start[v + 1]]
    }

    /// The subtree's injection at the high and low end of its range.
    fn ends(&self, v: usize, connected: bool) -> (f64, f64) {
        let [b, s, d] = self.sum[v];
        if connected { (s + b - d, s - d) } else { (s + b, -d) }
    }

    /// Recomputes a node's sums and safe amounts from its own offers and its children.
    fn refresh(&mut self, v: usize, connected: bool) {
        let mut sum = self.own[v];
        let (mut surplus, mut shed) = (self.own[v][1], self.own[v][2]);
        for &c in self.kids(v) {
            let c = c as usize;
            for k in 0..3 {
                sum[k] += self.sum[c][k];
            }
            surplus += self.safe_surplus[c];
            shed += self.safe_shed[c];
        }
        self.sum[v] = sum;
        let (hi, lo) = self.ends(v, connected);
        let cap = self.cap[v];
        // Grid-connected, cutting surplus lowers the low end and shedding raises the high end;
        // on an island the ends do not mix, so only what is there bounds them.
        self.safe_surplus[v] = if connected { surplus.min(lo + cap) } else { surplus }.max(0.0);
        self.safe_shed[v] = if connected { shed.min(cap - hi) } else { shed }.max(0.0);
    }

    /// Takes `amount` of the part out of the subtree of `v`, shared in proportion to what the node
    /// and each child subtree can give, then refreshes the sums on the way back up.
    fn allocate(&mut self, v: usize, cut: Cut, amount: f64, connected: bool) {
        if amount <= 0.0 {
            return;
        }
        self.stack.clear();
        self.visited.clear();
        self.stack.push((v as u32, amount));
        while let Some((u, x)) = self.stack.pop() {
            let u = u as usize;
            self.visited.push(u as u32);
            let part = cut as usize;
            let give = |s: &Self, c: usize| match cut {
                Cut::Battery => s.sum[c][0],
                Cut::Surplus => s.safe_surplus[c],
                Cut::Deficit => s.safe_shed[c],
            };
            let own = self.own[u][part];
            let total: f64 = own + self.kids(u).iter().map(|&c| give(self, c as usize)).sum::<f64>();
            // The node at the top may have to give beyond what is safe below it; then its own
            // offers and the children share the rest by their plain amounts.
            let (weights_safe, total) = if total >= x - 1e-12 { (true, total) } else { (false, self.sum[u][part]) };
            if total <= 0.0 {
                continue;
            }
            let f = (x / total).min(1.0);
            self.own[u][part] -= own * f;
            for i in self.children_start[u]..self.children_start[u + 1] {
                let c = self.children[i] as usize;
                let w = if weights_safe { give(self, c) } else { self.sum[c][part] };
                if w * f > 0.0 {
                    self.stack.push((c as u32, w * f));
                }
            }
        }
        // Parents were visited before their children: refresh in reverse.
        for k in (0..self.visited.len()).rev() {
            let u = self.visited[k] as usize;
            self.refresh(u, connected);
        }
    }
}
