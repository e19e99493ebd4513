//! Line losses of peer deliveries: delivered kWh = sent kWh − losses on the path.
//!
//! The step's power flow gives every line's loss and flow. A line's *average loss factor* is
//! its loss over the energy crossing it (`α = loss / |flow|`), and a delivery loses, on each line
//! of its path on the grid's spanning tree, that fraction of what it sends: `loss = sent · Σ α`
//! (pro rata by use, the average-loss-factor allocation). A pool purchase's path is the pool's
//! sellers weighted by their sales. Counterflows make a line's trades exceed its net flow, so
//! when the deliveries' losses would add up to more than the network's, all are scaled down to
//! it; the rest of the network's losses (of flows to and from the grid) stay at the connection
//! point (supplied by the grid; on an island from surplus, else unserved).
//!
//! Who makes the lost energy up: grid-connected, the buyer's shortfall comes from the grid (its
//! withdrawal is its own deficit whoever supplies it, so the step's flows stand). On an island
//! the seller sends more, from PV surplus nobody bought, then from its battery's remaining
//! discharge (a pool's sellers in turn for pool deliveries); what none can make up leaves the
//! buyer short (unserved). The extra sent on an island shifts flows by a fraction of the losses
//! (second order; not re-solved). Who pays for the lost energy is the market's `loss_bearer`
//! (see `settlement`).

use crate::grid::flow::{FlowModel, Flows};
use crate::grid::network::{LineStats, Network};
use crate::household::battery::Battery;
use crate::household::{Household, Meter};
use super::{Clearing, Deliveries, Seller};
use crate::environment::tariff::StepPrices;
use bevy::prelude::*;

/// Flows below this are treated as zero when forming loss factors, kW.
const MIN_FLOW_KW: f64 = 1e-9;
/// [`PathLosses::feeder`] of the root and of unreachable nodes.
const NO_FEEDER: u32 = u32::MAX;

/// Loss factors along the spanning tree, rebuilt every step.
#[derive(Debug, Clone, Default)]
pub struct PathLosses {
    /// Loss factor of the tree line above each node.
    alpha: Vec<f64>,
    /// Sum of loss factors from the root to each node.
    to_root: Vec<f64>,
    depth: Vec<u32>,
    /// The root's child above each node (its feeder's head; `NO_FEEDER` for the root and
    /// unreachable nodes): nodes on different feeders meet at the root.
    feeder: Vec<u32>,
    /// `up[k][v]`: the 2^k-th ancestor of v (the root's is the root), for O(log depth) common
    /// ancestors; built once.
    up: Vec<Vec<u32>>,
    /// Pool sellers' share of sales below each node (pool deliveries).
    weight_below: Vec<f64>,
    /// Σ over the lines from the root to each node of loss factor × pool share below the line.
    shared_to_root: Vec<f64>,
    pool_mean_to_root: f64,
}

impl PathLosses {
    /// Loss factors from the step's flows and per-line losses (kW).
    pub fn update(&mut self, model: &FlowModel, flows: &Flows, line_loss_kw: &[f64]) {
        let n = model.nodes;
        for v in [&mut self.alpha, &mut self.to_root] {
            v.clear();
            v.resize(n, 0.0);
        }
        if self.depth.len() != n {
            self.build_ancestors(model);
        }
        for v in model.order() {
            let (Some(p), Some((e, _))) = (model.parent(v), model.parent_line(v)) else { continue };
            let flow = flows.line_kw[e].abs();
            self.alpha[v] = if flow > MIN_FLOW_KW { (line_loss_kw[e] / flow).clamp(0.0, 1.0) } else { 0.0 };
            self.to_root[v] = self.to_root[p] + self.alpha[v];
        }
    }

    fn build_ancestors(&mut self, model: &FlowModel) {
        let n = model.nodes;
        self.depth = vec![0; n];
        self.feeder = vec![NO_FEEDER; n];
        let mut first: Vec<u32> = (0..n as u32).collect();
        for v in model.order() {
            if let Some(p) = model.parent(v) {
                self.depth[v] = self.depth[p] + 1;
                first[v] = p as u32;
                self.feeder[v] = if self.depth[p] == 0 { v as u32 } else { self.feeder[p] };
            }
        }
        let max_depth = self.depth.iter().copied().max().unwrap_or(0);
        self.up = vec![first];
        while (1u32 << self.up.len()) <= max_depth {
            let prev = self.up.last().expect("one level");
            let next = (0..n).map(|v| prev[prev[v] as usize]).collect();
            self.up.push(next);
        }
    }

    /// Lowest common ancestor of two nodes on the tree.
    fn common_ancestor(&self, a: usize, b: usize) -> usize {
        let (mut x, mut y) = if self.depth[a] >= self.depth[b] { (a, b) } else { (b, a) };
        let diff = self.depth[x] - self.depth[y];
        for (k, level) in self.up.iter().enumerate() {
            if diff >> k & 1 == 1 {
                x = level[x] as usize;
            }
        }
        if x == y {
            return x;
        }
        for level in self.up.iter().rev() {
            if level[x] != level[y] {
                (x, y) = (level[x] as usize, level[y] as usize);
            }
        }
        self.up[0][x] as usize
    }

    /// Fraction of what is sent from node `a` that is lost on the way to node `b`.
    pub fn pair(&self, a: usize, b: usize) -> f64 {
        let (fa, fb) = (self.feeder[a], self.feeder[b]);
        // Most trades cross feeders; their paths meet at the root, whose sum is zero.
        let lca = if fa != fb && fa != NO_FEEDER && fb != NO_FEEDER { self.up[0][fa as usize] as usize } else { self.common_ancestor(a, b) };
        (self.to_root[a] + self.to_root[b] - 2.0 * self.to_root[lca]).clamp(0.0, 1.0)
    }

    /// Prepares pool deliveries: `sales` as (node, kWh) of the pool's sellers.
    pub fn set_pool(&mut self, model: &FlowModel, sales: impl Iterator<Item = (usize, f64)>) {
        self.weight_below.clear();
        self.weight_below.resize(model.nodes, 0.0);
        let mut total = 0.0;
        let mut mean = 0.0;
        for (node, kwh) in sales {
            self.weight_below[node] += kwh;
            total += kwh;
            mean += kwh * self.to_root[node];
        }
        self.shared_to_root.clear();
        self.shared_to_root.resize(model.nodes, 0.0);
        if total <= 0.0 {
            self.pool_mean_to_root = 0.0;
            return;
        }
        self.pool_mean_to_root = mean / total;
        // Children come after parents in breadth-first order: sum bottom-up, then normalise.
        for v in model.order().rev() {
            if let Some(p) = model.parent(v) {
                let w = self.weight_below[v];
                self.weight_below[p] += w;
            }
        }
        self.weight_below.iter_mut().for_each(|w| *w /= total);
        // Shared part of the path to a buyer, summed down from the root (O(1) per buyer).
        for v in model.order() {
            if let Some(p) = model.parent(v) {
                self.shared_to_root[v] = self.shared_to_root[p] + self.alpha[v] * self.weight_below[v];
            }
        }
    }

    /// Expected loss fraction of a pool delivery to node `b`: Σ over sellers s of their share ×
    /// the loss on the path s → b. The path shares b's line to the root where s is below it.
    pub fn pool(&self, b: usize) -> f64 {
        (self.pool_mean_to_root + self.to_root[b] - 2.0 * self.shared_to_root[b]).clamp(0.0, 1.0)
    }
}

/// Per-household scratch of [`attribute_trade_losses`], kWh.
#[derive(Debug, Default)]
pub struct LossScratch {
    paths: PathLosses,
    buyer_short: Vec<f64>,
    /// Island sellers: unsold PV and battery discharge room left to make losses up, and what
    /// they made up from each.
    pv_spare: Vec<f64>,
    battery_room: Vec<f64>,
    from_pv: Vec<f64>,
    from_battery: Vec<f64>,
}

impl LossScratch {
    fn reset(&mut self, n: usize) {
        for v in [&mut self.buyer_short, &mut self.pv_spare, &mut self.battery_room, &mut self.from_pv, &mut self.from_battery] {
            v.clear();
            v.resize(n, 0.0);
        }
    }

    /// Makes up to `kwh` of losses from `seller`'s spare PV, then battery; returns how much.
    fn make_up(&mut self, seller: usize, kwh: f64) -> f64 {
        let pv = kwh.min(self.pv_spare[seller]);
        let battery = (kwh - pv).min(self.battery_room[seller]);
        self.pv_spare[seller] -= pv;
        self.battery_room[seller] -= battery;
        self.from_pv[seller] += pv;
        self.from_battery[seller] += battery;
        pv + battery
    }
}

/// Takes the line losses on the way off every peer delivery (see the module docs): the trade's
/// `kwh` becomes what arrived and `loss_kwh` what was lost; buyers' shortfalls come from the
/// grid or, on an island, are made up by sellers or left unserved; each community pools its own
/// members' sales. Reads `Network` (the step's flows and losses), `LineStats`, `StepPrices`,
/// `Deliveries`, `Memberships`; writes `Clearing` (trades),
/// `Meter` and `Battery`. Runs in `MarketSystems::Losses`, after the grid's flows.
#[allow(clippy::too_many_arguments)]
pub fn attribute_trade_losses(
    prices: Res<StepPrices>,
    stats: Res<LineStats>,
    deliveries: Res<Deliveries>,
    net: Res<Network>,
    mut scratch: Local<LossScratch>,
    mut clearing: ResMut<Clearing>,
    members: Res<super::membership::Memberships>,
    mut households: Query<(&Household, &mut Meter, Option<&mut Battery>)>,
) {
    if clearing.trades.is_empty() || stats.step_losses_kwh <= 0.0 {
        return;
    }
    let (model, node_of, s) = (&net.model, &net.node_of, &mut *scratch);
    let Clearing { trades, pool_sales, .. } = &mut *clearing;
    s.paths.update(model, &net.flows, &net.line_loss_kw);
    // Each community pools its own members' sales (without communities: one pool); a pool's
    // buyers are its community's members.
    let mut pools: Vec<Option<u16>> = Vec::new();
    for p in pool_sales.iter() {
        let g = members.of(p.seller);
        if !pools.contains(&g) {
            pools.push(g);
        }
    }
    if pools.len() <= 1 {
        if !pool_sales.is_empty() {
            s.paths.set_pool(model, pool_sales.iter().map(|p| (node_of[p.seller as usize] as usize, p.kwh)));
        }
        for t in trades.iter_mut().filter(|t| matches!(t.seller, Seller::Pool)) {
            t.loss_kwh = t.kwh * s.paths.pool(node_of[t.buyer as usize] as usize);
        }
    } else {
        for g in &pools {
            s.paths.set_pool(model, pool_sales.iter().filter(|p| members.of(p.seller) == *g).map(|p| (node_of[p.seller as usize] as usize, p.kwh)));
            for t in trades.iter_mut().filter(|t| matches!(t.seller, Seller::Pool) && members.of(t.buyer) == *g) {
                t.loss_kwh = t.kwh * s.paths.pool(node_of[t.buyer as usize] as usize);
            }
        }
    }
    let mut total = 0.0;
    for t in trades.iter_mut() {
        if let Seller::Household { index, .. } = t.seller {
            t.loss_kwh = t.kwh * s.paths.pair(node_of[index as usize] as usize, node_of[t.buyer as usize] as usize);
        }
        total += t.loss_kwh;
    }
    // Counterflows: trades' shares may not add up to more than the network lost.
    let scale = if total > stats.step_losses_kwh { stats.step_losses_kwh / total } else { 1.0 };
    s.reset(node_of.len());
    if !prices.connected {
        s.pv_spare.copy_from_slice(&deliveries.unsold_kwh[..node_of.len()]);
        for (h, m, battery) in &households {
            if let Some(b) = battery {
                s.battery_room[h.index as usize] = b.discharge_room_kwh(m.battery_discharge_kwh, b.min_soc_kwh);
            }
        }
    }
    // Where each pool's make-up has got to in `pool_sales` (on an island).
    let mut pool_cursor = vec![0usize; pools.len().max(1)];
    for t in trades.iter_mut() {
        t.loss_kwh *= scale;
        let made_up = match t.seller {
            _ if prices.connected => 0.0,
            Seller::Household { index, .. } => s.make_up(index as usize, t.loss_kwh),
            Seller::Pool => {
                let g = if pools.len() > 1 { members.of(t.buyer) } else { pools.first().copied().flatten() };
                let cursor = &mut pool_cursor[pools.iter().position(|p| *p == g).unwrap_or(0)];
                let mut c = 0.0;
                while c < t.loss_kwh && *cursor < pool_sales.len() {
                    let sale = &mut pool_sales[*cursor];
                    if pools.len() > 1 && members.of(sale.seller) != g {
                        *cursor += 1;
                        continue;
                    }
                    let sent = s.make_up(sale.seller as usize, t.loss_kwh - c);
                    sale.made_up_kwh += sent;
                    c += sent;
                    if c < t.loss_kwh {
                        *cursor += 1;
                    }
                }
                c
            }
        };
        t.kwh += made_up - t.loss_kwh;
        s.buyer_short[t.buyer as usize] += t.loss_kwh - made_up;
    }
    for (h, mut m, battery) in &mut households {
        let i = h.index as usize;
        let (short, pv, from_battery) = (s.buyer_short[i], s.from_pv[i], s.from_battery[i]);
        // Only a battery that discharges is written (its change tick is not touched otherwise).
        let battery = battery.filter(|_| from_battery > 0.0).map(Mut::into_inner);
        m.book_delivery_losses(battery, pv, from_battery, short, prices.connected);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::test_net;

    /// Root 0 — 1 — 2, and 1 — 3: a small tree with hand-set loss factors.
    fn setup() -> (FlowModel, PathLosses) {
        let t = test_net(4, &[(0, 1, 0.1, 0.1, 100.0), (1, 2, 0.1, 0.1, 100.0), (1, 3, 0.1, 0.1, 100.0)]);
        let model = FlowModel::new(&t);
        // Flows 10, 4, 2 kW with losses 0.1, 0.08, 0.02 kW: α = 0.01, 0.02, 0.01.
        let mut flows = Flows::default();
        flows.line_kw = vec![10.0, -4.0, 2.0];
        let mut p = PathLosses::default();
        p.update(&model, &flows, &[0.1, 0.08, 0.02]);
        (model, p)
    }

    #[test]
    fn a_pair_loses_the_loss_factors_of_its_path() {
        let (_, p) = setup();
        assert!((p.pair(2, 3) - 0.03).abs() < 1e-12, "2 → 1 → 3: 0.02 + 0.01");
        assert!((p.pair(2, 0) - 0.03).abs() < 1e-12, "2 → 1 → 0: 0.02 + 0.01");
        assert_eq!(p.pair(3, 3), 0.0);
    }

    #[test]
    fn paths_across_feeders_meet_at_the_root() {
        // Two feeders: 0 — 1 — 2 and 0 — 3 — 4; α = 0.01, 0.02, 0.03, 0.04.
        let t = test_net(5, &[(0, 1, 0.1, 0.1, 100.0), (1, 2, 0.1, 0.1, 100.0), (0, 3, 0.1, 0.1, 100.0), (3, 4, 0.1, 0.1, 100.0)]);
        let model = FlowModel::new(&t);
        let mut flows = Flows::default();
        flows.line_kw = vec![1.0; 4];
        let mut p = PathLosses::default();
        p.update(&model, &flows, &[0.01, 0.02, 0.03, 0.04]);
        assert!((p.pair(2, 4) - 0.10).abs() < 1e-12, "2 → 1 → 0 → 3 → 4");
        assert!((p.pair(1, 3) - 0.04).abs() < 1e-12);
        for a in 0..5 {
            for b in 0..5 {
                let lca = p.common_ancestor(a, b);
                let by_ancestor = (p.to_root[a] + p.to_root[b] - 2.0 * p.to_root[lca]).clamp(0.0, 1.0);
                assert_eq!(p.pair(a, b), by_ancestor, "{a} → {b}");
            }
        }
    }

    #[test]
    fn a_pool_delivery_loses_the_sales_weighted_mean_of_its_paths() {
        let (m, mut p) = setup();
        // Sellers at 3 (1 kWh) and 0 (3 kWh); buyer at 2: 1/4 · 0.03 + 3/4 · 0.03 = 0.03.
        p.set_pool(&m, [(3, 1.0), (0, 3.0)].into_iter());
        assert!((p.pool(2) - 0.03).abs() < 1e-12);
        // Buyer at 3: 1/4 · 0 + 3/4 · 0.02 (3 → 1 → 0) = 0.015.
        let expected = 0.25 * p.pair(3, 3) + 0.75 * p.pair(0, 3);
        assert!((p.pool(3) - expected).abs() < 1e-12, "{} vs {expected}", p.pool(3));
    }
}
