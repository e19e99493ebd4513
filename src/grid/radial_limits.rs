//! Line limits on a radial grid in one pass from the leaves up.
//!
//! On a tree the flow on the line above a node is its subtree's sum, so each line is fixed once,
//! deepest first, by cutting inside its subtree: battery offers first (always safe: the low end
//! of the range does not contain them), then PV surplus, or load for a line importing too much.
//! A cut is shared among the node itself and its child subtrees in proportion to what each can
//! give *without pushing a line inside it past its limit the other way* (cutting the PV of a
//! street that imports at its limit would overload it), so lines already fixed stay fixed.
//!
//! A cut is not walked down the subtree at once: each child subtree's share is left on its top
//! node as a pending amount (a tag) and its totals updated as the walk would leave them; the tags
//! are handed down once, top-down, at the end. Proportional shares compose (two cuts of y1 and y2
//! split like one of y1 + y2 over the same weights), so this gives the walk's result, and a long
//! feeder whose every line binds costs O(nodes) instead of O(nodes × depth). Three cases still
//! walk the subtree, exactly as before: a share larger than what the subtree can give safely; a
//! share of surplus or load taken by plain amounts because the line needs more than is safe; and a
//! load shed at a line whose surplus or battery offers were cut in the same fix (the shed weights
//! depend on that cut all the way down). `fallbacks` counts them.

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
    /// `safe_surplus` and `safe_shed` before they are bounded by the line's room.
    tot_surplus: Vec<f64>,
    tot_shed: Vec<f64>,
    /// Amounts of each part still to be taken out of the node's subtree (handed down by `push`).
    tag: Vec<[f64; 3]>,
    /// The tree in depth-first preorder, each node's place in it and its subtree's size: a subtree
    /// is `order[pos..pos + size]`.
    order: Vec<u32>,
    pos: Vec<u32>,
    size: Vec<u32>,
    /// Parts cut at the line being fixed (bit per `Cut`).
    cut_here: u8,
    stack: Vec<(u32, f64)>,
    visited: Vec<u32>,
    /// Walk every cut down at once, as the reference (tests compare the two).
    pub eager: bool,
    /// Cuts that walked a subtree (see the module's notes), since the scratch was made.
    pub fallbacks: u64,
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
        self.tot_surplus.clear();
        self.tot_surplus.resize(n, 0.0);
        self.tot_shed.clear();
        self.tot_shed.resize(n, 0.0);
        self.tag.clear();
        self.tag.resize(n, [0.0; 3]);
        for v in model.order().rev() {
            self.refresh(v, connected);
            let Some((line, _)) = model.parent_line(v) else { continue };
            let cap = self.cap[v];
            self.cut_here = 0;
            // A shed raises the high end again, so alternate until both ends hold (twice suffices:
            // battery cuts never lower the low end).
            for _ in 0..4 {
                let (hi, lo) = self.ends(v, connected);
                if hi > cap + CAPACITY_TOLERANCE_KW {
                    binding[line] = true;
                    let from_battery = (hi - cap).min(self.sum[v][0]);
                    self.cut(v, Cut::Battery, from_battery, connected);
                    let rest = hi - cap - from_battery;
                    if rest > 0.0 {
                        self.cut(v, Cut::Surplus, rest.min(self.sum[v][1]), connected);
                    }
                    continue;
                }
                if lo < -cap - CAPACITY_TOLERANCE_KW {
                    binding[line] = true;
                    self.cut(v, Cut::Deficit, (-cap - lo).min(self.sum[v][2]), connected);
                    continue;
                }
                break;
            }
        }
        for k in 0..self.order.len() {
            let u = self.order[k] as usize;
            self.push(u);
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
        self.order = model.order().map(|v| v as u32).collect();
        self.pos = vec![0; n];
        self.size = vec![1; n];
        for (k, &v) in self.order.iter().enumerate() {
            self.pos[v as usize] = k as u32;
        }
        for v in model.order().rev() {
            if let Some(p) = model.parent(v) {
                self.size[p] += self.size[v];
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
        self.tot_surplus[v] = surplus;
        self.tot_shed[v] = shed;
        self.bound_safe(v, connected);
    }

    /// A node's safe amounts from its totals and its sums.
    fn bound_safe(&mut self, v: usize, connected: bool) {
        let (hi, lo) = self.ends(v, connected);
        let cap = self.cap[v];
        // Grid-connected, cutting surplus lowers the low end and shedding raises the high end;
        // on an island the ends do not mix, so only what is there bounds them.
        self.safe_surplus[v] = if connected { self.tot_surplus[v].min(lo + cap) } else { self.tot_surplus[v] }.max(0.0);
        self.safe_shed[v] = if connected { self.tot_shed[v].min(cap - hi) } else { self.tot_shed[v] }.max(0.0);
    }

    /// What child subtree `c` gives of a part, as the weight of its share.
    fn give(&self, c: usize, cut: Cut) -> f64 {
        match cut {
            Cut::Battery => self.sum[c][0],
            Cut::Surplus => self.safe_surplus[c],
            Cut::Deficit => self.safe_shed[c],
        }
    }

    /// What a node and its children can give of a part by their weights.
    fn weights(&self, u: usize, cut: Cut) -> f64 {
        self.own[u][cut as usize] + self.kids(u).iter().map(|&c| self.give(c as usize, cut)).sum::<f64>()
    }

    /// Takes `amount` of the part out of the subtree of `v` (the line above it binds): `v`'s own
    /// offers and each child's share as `allocate` would, but each child's share left as a tag.
    fn cut(&mut self, v: usize, cut: Cut, amount: f64, connected: bool) {
        if self.eager {
            return self.allocate(v, cut, amount, connected);
        }
        if amount <= 0.0 {
            return;
        }
        let part = cut as usize;
        if connected && cut == Cut::Deficit && self.cut_here & (1 << Cut::Battery as u8 | 1 << Cut::Surplus as u8) != 0 {
            // The shed weights below were changed by the cut just made here: hand it down first.
            self.fallbacks += 1;
            for i in self.children_start[v]..self.children_start[v + 1] {
                self.materialise(self.children[i] as usize, connected);
            }
        }
        self.cut_here |= 1 << part;
        let own = self.own[v][part];
        let by_weights = self.weights(v, cut);
        // As in `allocate`: beyond what is safe, shares by plain amounts.
        let (weights_safe, total) = if by_weights >= amount - 1e-12 { (true, by_weights) } else { (false, self.sum[v][part]) };
        if total > 0.0 {
            let f = (amount / total).min(1.0);
            self.own[v][part] -= own * f;
            for i in self.children_start[v]..self.children_start[v + 1] {
                let c = self.children[i] as usize;
                let y = if weights_safe { self.give(c, cut) } else { self.sum[c][part] } * f;
                if y <= 0.0 {
                    continue;
                }
                let can = match cut {
                    Cut::Battery => f64::INFINITY,
                    Cut::Surplus => self.tot_surplus[c],
                    Cut::Deficit => self.tot_shed[c],
                };
                // Walked: a share beyond what the subtree gives safely, and any share of surplus
                // or load taken by plain amounts (it may enter a subtree whose line was fixed the
                // other way, where the safe amounts below are stale).
                let has_kids = self.children_start[c] != self.children_start[c + 1];
                if has_kids && cut != Cut::Battery && (y > can + 1e-12 || !weights_safe) {
                    self.fallbacks += 1;
                    self.materialise(c, connected);
                    self.allocate(c, cut, y, connected);
                    continue;
                }
                // The subtree gives y exactly, each safe amount below falling by its share.
                self.tag[c][part] += y;
                self.sum[c][part] -= y;
                match cut {
                    Cut::Battery => {}
                    Cut::Surplus => self.tot_surplus[c] -= y,
                    Cut::Deficit => self.tot_shed[c] -= y,
                }
                self.bound_safe(c, connected);
            }
        }
        self.refresh(v, connected);
    }

    /// Hands a node's tags to its own offers and its children, by the weights they had when the
    /// tags were made (nothing below has changed since).
    fn push(&mut self, u: usize) {
        for cut in [Cut::Battery, Cut::Surplus, Cut::Deficit] {
            let part = cut as usize;
            let y = std::mem::take(&mut self.tag[u][part]);
            if y <= 0.0 {
                continue;
            }
            let total = self.weights(u, cut);
            if total <= 0.0 {
                continue;
            }
            let f = (y / total).min(1.0);
            self.own[u][part] -= self.own[u][part] * f;
            for i in self.children_start[u]..self.children_start[u + 1] {
                let c = self.children[i] as usize;
                let w = self.give(c, cut) * f;
                if w > 0.0 {
                    self.tag[c][part] += w;
                    match cut {
                        Cut::Battery => self.sum[c][0] -= w,
                        Cut::Surplus => self.safe_surplus[c] -= w,
                        Cut::Deficit => self.safe_shed[c] -= w,
                    }
                }
            }
        }
    }

    /// Hands down every tag in the subtree of `c` and recomputes its sums, so it can be walked.
    fn materialise(&mut self, c: usize, connected: bool) {
        let (from, to) = (self.pos[c] as usize, (self.pos[c] + self.size[c]) as usize);
        for k in from..to {
            self.push(self.order[k] as usize);
        }
        for k in (from..to).rev() {
            self.refresh(self.order[k] as usize, connected);
        }
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
            let own = self.own[u][part];
            let total = self.weights(u, cut);
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
                let w = if weights_safe { self.give(c, cut) } else { self.sum[c][part] };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::test_net;
    use rand::{RngExt, SeedableRng};

    /// Kept fractions from the lazy and the eager (walking) versions, and the lazy one's fallbacks.
    fn both(parents: &[usize], caps: &[f64], offers: &[NodeOffer], connected: bool) -> (Vec<Keep>, Vec<Keep>, u64) {
        let lines: Vec<(usize, usize, f64, f64, f64)> = (1..parents.len()).map(|v| (parents[v], v, 0.01, 0.01, caps[v - 1])).collect();
        let model = FlowModel::new(&test_net(parents.len(), &lines));
        let mut out = Vec::new();
        let mut fallbacks = 0;
        for eager in [false, true] {
            let mut r = RadialLimits { eager, ..Default::default() };
            let mut keep = vec![Keep { battery: 1.0, surplus: 1.0, deficit: 1.0 }; offers.len()];
            let mut binding = vec![false; lines.len()];
            r.apply(&model, caps, offers, connected, &mut keep, &mut binding);
            out.push(keep);
            fallbacks = fallbacks.max(r.fallbacks * u64::from(!eager));
        }
        let eager = out.pop().unwrap();
        (out.pop().unwrap(), eager, fallbacks)
    }

    fn max_difference(a: &[Keep], b: &[Keep]) -> f64 {
        a.iter().zip(b).map(|(x, y)| (x.battery - y.battery).abs().max((x.surplus - y.surplus).abs()).max((x.deficit - y.deficit).abs())).fold(0.0, f64::max)
    }

    #[test]
    fn tags_give_what_walking_every_cut_down_gives() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for case in 0..3000 {
            let n = 3 + rng.random_range(0..(if case % 2 == 0 { 40 } else { 200 }));
            // Bushy trees, and deep ones (mostly chains, as a street's feeder).
            let deep = case % 3 == 2;
            let parents: Vec<usize> = (0..n).map(|v| if v == 0 { 0 } else if deep && rng.random::<f64>() < 0.7 { v - 1 } else { rng.random_range(0..v) }).collect();
            let caps: Vec<f64> = (1..n).map(|_| 2.0 + rng.random::<f64>() * 20.0).collect();
            let offers: Vec<NodeOffer> = (0..n)
                .map(|_| {
                    let mut part = |p: f64, scale: f64| if rng.random::<f64>() < p { rng.random::<f64>() * scale } else { 0.0 };
                    NodeOffer { battery_kw: part(0.6, 15.0), surplus_kw: part(0.4, 8.0), deficit_kw: part(0.7, 12.0) }
                })
                .collect();
            for connected in [true, false] {
                let (lazy, eager, _) = both(&parents, &caps, &offers, connected);
                let d = max_difference(&lazy, &eager);
                assert!(d < 1e-9, "case {case}, connected {connected}: kept fractions differ by {d}");
            }
        }
    }

    #[test]
    fn a_long_street_whose_every_line_binds_walks_nothing() {
        // 1,000 poles in a chain, two houses on each: at noon every feeder segment near the root
        // exports past its 200 kW; at night every one imports past it.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut parents = vec![0];
        let mut caps = Vec::new();
        let mut prev = 0;
        for _ in 0..1000 {
            let pole = parents.len();
            parents.push(prev);
            caps.push(200.0);
            prev = pole;
            for _ in 0..2 {
                parents.push(pole);
                caps.push(20.0);
            }
        }
        let is_house = |v: usize| v > 0 && v % 3 != 1;
        let noon: Vec<NodeOffer> = (0..parents.len()).map(|v| NodeOffer { battery_kw: if is_house(v) && rng.random::<f64>() < 0.25 { rng.random::<f64>() * 5.0 } else { 0.0 }, surplus_kw: if is_house(v) { rng.random::<f64>() * 6.0 } else { 0.0 }, deficit_kw: 0.0 }).collect();
        let night: Vec<NodeOffer> = (0..parents.len()).map(|v| NodeOffer { battery_kw: 0.0, surplus_kw: 0.0, deficit_kw: if is_house(v) { 0.3 + rng.random::<f64>() } else { 0.0 } }).collect();
        for offers in [noon, night] {
            let (lazy, eager, fallbacks) = both(&parents, &caps, &offers, true);
            assert!(max_difference(&lazy, &eager) < 1e-9);
            assert_eq!(fallbacks, 0);
            assert!(lazy.iter().any(|k| k.surplus < 1.0 || k.deficit < 1.0), "the limits bind");
        }
    }
}
