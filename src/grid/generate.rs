//! Generated layouts with map coordinates: a street (one feeder), a village (feeders radiating
//! from the connection point, optionally tied into loops), a district (feeder trunks with
//! lateral streets). Houses get a node named after the household, on a service line to a pole.

use super::topology::{Line, Node, Topology};
use crate::grid::topology::NodeKind;
use petgraph::graph::NodeIndex;
use std::f64::consts::TAU;
use serde::{Deserialize, Serialize};

/// Parameters of a generated layout (see `TopologySpec::Generated`).
#[derive(Debug, Clone)]
pub struct LayoutParams {
    pub layout: Layout,
    pub feeders: u32,
    pub houses_per_feeder: u32,
    pub houses_per_lateral: u32,
    pub ties: u32,
    pub spacing_m: f64,
    pub service_length_m: f64,
    pub feeder_capacity_kw: f64,
    pub service_capacity_kw: f64,
    /// Root kind: `Substation` when grid-connected, `FeederHead` on an island.
    pub root_kind: NodeKind,
}

struct Builder<'a> {
    topo: Topology,
    p: &'a LayoutParams,
    lines: usize,
}

impl Builder<'_> {
    fn node(&mut self, id: String, kind: NodeKind, x_m: f64, y_m: f64) -> NodeIndex {
        // Infrastructure ids contain `/` (or are reserved words) and household ids may not, so ids
        // never clash; should one anyway, the node gets a unique suffix rather than aliasing.
        match self.topo.add_node(Node { id, kind, x_m, y_m }) {
            Ok(ix) => ix,
            Err(id) => {
                let unique = format!("{id}#{}", self.topo.graph.node_count());
                self.topo.add_node(Node { id: unique, kind, x_m, y_m }).expect("suffixed id is new")
            }
        }
    }

    /// A line of the given cable, its length from the map.
    fn cable(&mut self, a: NodeIndex, b: NodeIndex, capacity_kw: f64, (r, x): (f64, f64)) {
        let (na, nb) = (&self.topo.graph[a], &self.topo.graph[b]);
        let length_m = ((na.x_m - nb.x_m).powi(2) + (na.y_m - nb.y_m).powi(2)).sqrt();
        self.lines += 1;
        let id = format!("L{}", self.lines);
        self.topo.add_line(a, b, Line::new(id, length_m, capacity_kw, r, x));
    }

    /// A low-voltage line: a service cable to a house, feeder cable otherwise.
    fn line(&mut self, a: NodeIndex, b: NodeIndex, capacity_kw: f64) {
        use super::topology::cable::*;
        let service = self.topo.graph[a].kind == NodeKind::House || self.topo.graph[b].kind == NodeKind::House;
        self.cable(a, b, capacity_kw, if service { (SERVICE_R_OHM_PER_KM, SERVICE_X_OHM_PER_KM) } else { (FEEDER_R_OHM_PER_KM, FEEDER_X_OHM_PER_KM) });
    }

    /// A district trunk segment (medium voltage, referred to the low-voltage side).
    fn trunk(&mut self, a: NodeIndex, b: NodeIndex, capacity_kw: f64) {
        use super::topology::cable::*;
        self.cable(a, b, capacity_kw, (TRUNK_R_OHM_PER_KM, TRUNK_X_OHM_PER_KM));
    }

    /// A chain of poles from `head` along direction `(dx, dy)`, houses alternating on both sides.
    /// Returns the last pole.
    fn street(&mut self, tag: &str, head: NodeIndex, origin: (f64, f64), dir: (f64, f64), houses: &[String], out: &mut [NodeIndex], first: usize) -> NodeIndex {
        let (sx, sy) = (self.p.spacing_m, self.p.service_length_m);
        let normal = (-dir.1, dir.0);
        let mut prev = head;
        for (k, pair) in houses.chunks(2).enumerate() {
            let along = (k as f64 + 1.0) * sx;
            let (px, py) = (origin.0 + dir.0 * along, origin.1 + dir.1 * along);
            let pole = self.node(format!("{tag}/p{}", k + 1), NodeKind::Junction, px, py);
            self.line(prev, pole, self.p.feeder_capacity_kw);
            prev = pole;
            for (side, hid) in pair.iter().enumerate() {
                let s = if side == 0 { 1.0 } else { -1.0 };
                let h = self.node(hid.clone(), NodeKind::House, px + normal.0 * sy * s, py + normal.1 * sy * s);
                self.line(pole, h, self.p.service_capacity_kw);
                out[first + 2 * k + side] = h;
            }
        }
        prev
    }
}

/// Builds the layout for households `ids` (in household order); returns the topology and each
/// household's node.
pub fn generate(p: &LayoutParams, ids: &[String]) -> (Topology, Vec<NodeIndex>) {
    let mut b = Builder { topo: Topology::new(), p, lines: 0 };
    let root_id = if p.root_kind == NodeKind::Substation { "substation" } else { "hub" };
    let root = b.node(root_id.to_string(), p.root_kind, 0.0, 0.0);
    b.topo.root = root;
    let mut out = vec![root; ids.len()];
    let n = ids.len();
    let feeders = match (p.layout, p.feeders) {
        (Layout::Street, _) => 1,
        (_, 0) => n.div_ceil(p.houses_per_feeder.max(1) as usize).max(1),
        (_, f) => f as usize,
    };
    let mut ends = Vec::with_capacity(feeders);
    for f in 0..feeders {
        let (lo, hi) = (f * n / feeders, (f + 1) * n / feeders);
        let tag = format!("f{}", f + 1);
        match p.layout {
            Layout::Street | Layout::Village => {
                let angle = TAU * f as f64 / feeders as f64;
                let dir = (angle.cos(), angle.sin());
                let head = b.node(format!("{tag}/head"), NodeKind::FeederHead, dir.0 * p.spacing_m * 0.5, dir.1 * p.spacing_m * 0.5);
                b.line(root, head, p.feeder_capacity_kw);
                let origin = (dir.0 * p.spacing_m * 0.5, dir.1 * p.spacing_m * 0.5);
                ends.push(b.street(&tag, head, origin, dir, &ids[lo..hi], &mut out, lo));
            }
            Layout::District => {
                // Trunks side by side along x, running north; laterals alternate east and west.
                let per_lateral = p.houses_per_lateral.max(1) as usize;
                let lateral_len = (per_lateral as f64 / 2.0).ceil() * p.spacing_m;
                let trunk_x = (f as f64 - (feeders as f64 - 1.0) / 2.0) * (2.0 * lateral_len + 4.0 * p.service_length_m);
                let head = b.node(format!("{tag}/head"), NodeKind::FeederHead, trunk_x, p.spacing_m);
                b.trunk(root, head, p.feeder_capacity_kw);
                let mut trunk = head;
                let trunk_step = 2.0 * p.service_length_m + p.spacing_m;
                for (k, chunk) in ids[lo..hi].chunks(per_lateral).enumerate() {
                    let y = p.spacing_m + (k as f64 + 1.0) * trunk_step;
                    let pole = b.node(format!("{tag}/t{}", k + 1), NodeKind::Junction, trunk_x, y);
                    b.trunk(trunk, pole, p.feeder_capacity_kw);
                    trunk = pole;
                    let dir = if k % 2 == 0 { (1.0, 0.0) } else { (-1.0, 0.0) };
                    let first = lo + k * per_lateral;
                    b.street(&format!("{tag}/l{}", k + 1), pole, (trunk_x, y), dir, chunk, &mut out, first);
                }
                ends.push(trunk);
            }
        }
    }
    if p.layout == Layout::Village && feeders >= 2 {
        for t in 0..(p.ties as usize).min(feeders) {
            let (a, c) = (ends[t], ends[(t + 1) % feeders]);
            if a != c && !b.topo.graph.contains_edge(a, c) {
                b.line(a, c, p.feeder_capacity_kw);
            }
        }
    }
    (b.topo, out)
}


#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum Layout {
    /// One feeder along a street, houses on both sides.
    Street,
    /// Several feeders radiating from the connection point; `ties` close loops between them.
    Village,
    /// Feeder trunks with lateral streets of houses.
    District,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(layout: Layout, ties: u32) -> LayoutParams {
        LayoutParams {
            layout,
            feeders: 3,
            houses_per_feeder: 40,
            houses_per_lateral: 4,
            ties,
            spacing_m: 30.0,
            service_length_m: 15.0,
            feeder_capacity_kw: 400.0,
            service_capacity_kw: 25.0,
            root_kind: NodeKind::Substation,
        }
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("h{i:02}")).collect()
    }

    #[test]
    fn every_layout_connects_every_house() {
        for layout in [Layout::Street, Layout::Village, Layout::District] {
            let (t, nodes) = generate(&params(layout, 0), &ids(25));
            let reach = t.reachable_from_root();
            assert!(nodes.iter().all(|n| reach[n.index()]), "{layout:?}");
            assert!(t.is_radial(), "{layout:?} without ties is radial");
            assert_eq!(t.graph[nodes[7]].id, "h07");
        }
    }

    #[test]
    fn ties_make_a_village_meshed() {
        let (t, _) = generate(&params(Layout::Village, 1), &ids(12));
        assert!(!t.is_radial());
    }
}
