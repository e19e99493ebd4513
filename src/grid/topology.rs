//! Topology: nodes (substation, feeder heads, junctions, houses) and lines with length and
//! capacity, on an undirected petgraph graph.

use petgraph::graph::{NodeIndex, UnGraph};
use std::collections::{HashMap, VecDeque};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct Node {
    pub id: String,
    pub kind: NodeKind,
    pub x_m: f64,
    pub y_m: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Line {
    pub id: String,
    pub length_m: f64,
    pub capacity_kw: f64,
    /// Series resistance and reactance of the whole line (per phase), Ω.
    pub r_ohm: f64,
    pub x_ohm: f64,
    /// Zero-sequence resistance and reactance of the whole line (earth return folded in), Ω;
    /// `None`: as the positive sequence. Only the unbalanced flow reads them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r0_ohm: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub x0_ohm: Option<f64>,
    /// Thermal current rating per phase, A (`None`: from `capacity_kw` at nominal voltage).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_i_a: Option<f64>,
}

/// Typical low-voltage cables (per phase, Ω/km): a 95 mm² aluminium feeder and a 25 mm² copper
/// service cable. Low-voltage lines are mostly resistive (R/X ≈ 4 to 10).
pub mod cable {
    pub const FEEDER_R_OHM_PER_KM: f64 = 0.32;
    pub const FEEDER_X_OHM_PER_KM: f64 = 0.075;
    pub const SERVICE_R_OHM_PER_KM: f64 = 0.73;
    pub const SERVICE_X_OHM_PER_KM: f64 = 0.08;
    /// A district's feeder trunks are medium-voltage cables (240 mm² aluminium at 11 kV,
    /// 0.125 + j0.10 Ω/km) feeding low-voltage streets; the single-voltage model refers their
    /// impedance to the 400 V side by (0.4 / 11)², ignoring transformer impedance.
    pub const MV_TO_LV: f64 = (0.4 / 11.0) * (0.4 / 11.0);
    pub const TRUNK_R_OHM_PER_KM: f64 = 0.125 * MV_TO_LV;
    pub const TRUNK_X_OHM_PER_KM: f64 = 0.10 * MV_TO_LV;
    /// Reactance of a zero-length line, so DC power flow stays defined, Ω.
    pub const MIN_X_OHM: f64 = 1e-9;
}

impl Line {
    /// A line of `length_m` with per-km impedances.
    pub fn new(id: String, length_m: f64, capacity_kw: f64, r_ohm_per_km: f64, x_ohm_per_km: f64) -> Line {
        let km = length_m / 1000.0;
        Line { id, length_m, capacity_kw, r_ohm: r_ohm_per_km * km, x_ohm: (x_ohm_per_km * km).max(cable::MIN_X_OHM), r0_ohm: None, x0_ohm: None, max_i_a: None }
    }

    /// Zero-sequence impedance of the whole line, Ω (the positive sequence where not given).
    pub fn z0_ohm(&self) -> (f64, f64) {
        (self.r0_ohm.unwrap_or(self.r_ohm), self.x0_ohm.unwrap_or(self.x_ohm))
    }
}

/// Winding connection of a distribution transformer as the three-phase flow models it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum VectorGroup {
    /// Delta on the high-voltage side, earthed star on the low-voltage side: the delta
    /// circulates zero-sequence current, so the low-voltage side sees a zero-sequence path to
    /// earth and the high-voltage grid sees none.
    Dyn,
    /// Earthed star on both sides: zero sequence passes through to an earthed source.
    YNyn,
}

/// The distribution transformer at the root, seen from its low-voltage side: the network's
/// source is the upstream grid's voltage through this impedance.
#[derive(Debug, Clone, Serialize)]
pub struct Transformer {
    pub id: String,
    pub rated_kva: f64,
    /// Rated line-to-line voltage of the low-voltage winding, V (its rated current is
    /// `rated_kva` / (√3 · this)).
    pub rated_lv_v: f64,
    /// Rated line-to-line voltage of the high-voltage winding, V, and the high-voltage side's
    /// current per ampere on the low-voltage side (the turns ratio with taps applied).
    pub rated_hv_v: f64,
    pub hv_current_per_lv_a: f64,
    pub vector_group: VectorGroup,
    /// Phase shift of the low-voltage side against the high-voltage side, degrees (lagging).
    pub shift_deg: f64,
    /// Off-load ratio of the low-voltage side's no-load voltage to its nominal (taps applied).
    pub ratio_pu: f64,
    /// Short-circuit impedance referred to the low-voltage side, per phase, Ω.
    pub r_ohm: f64,
    pub x_ohm: f64,
    /// Zero-sequence impedance from the low-voltage terminals to earth, per phase, Ω (Dyn: the
    /// low-voltage leg plus the high-voltage leg in parallel with the zero-sequence magnetising
    /// branch, pandapower's T model).
    pub r0_ohm: f64,
    pub x0_ohm: f64,
}

/// The grid graph and its root (the grid connection point or, on an island, the main feeder head).
#[derive(Debug, Clone)]
pub struct Topology {
    pub graph: UnGraph<Node, Line>,
    pub root: NodeIndex,
    by_id: HashMap<String, NodeIndex>,
    /// The transformer feeding the root (imported feeders); `None`: the root is an ideal source.
    pub transformer: Option<Transformer>,
    /// Voltage of the upstream grid behind the root (or its transformer), per unit.
    pub source_voltage_pu: f64,
}

impl Topology {
    pub fn new() -> Self {
        Topology { graph: UnGraph::default(), root: NodeIndex::new(0), by_id: HashMap::new(), transformer: None, source_voltage_pu: 1.0 }
    }

    /// Adds a node; returns `Err` with the id if it is taken.
    pub fn add_node(&mut self, node: Node) -> Result<NodeIndex, String> {
        if self.by_id.contains_key(&node.id) {
            return Err(node.id);
        }
        let id = node.id.clone();
        let ix = self.graph.add_node(node);
        self.by_id.insert(id, ix);
        Ok(ix)
    }

    pub fn add_line(&mut self, from: NodeIndex, to: NodeIndex, line: Line) {
        self.graph.add_edge(from, to, line);
    }

    pub fn node(&self, id: &str) -> Option<NodeIndex> {
        self.by_id.get(id).copied()
    }

    /// Each node's parent on the breadth-first tree from the root (lower index first on ties);
    /// `None` for the root and unreachable nodes.
    pub fn bfs_parents(&self) -> Vec<Option<NodeIndex>> {
        let mut parent = vec![None; self.graph.node_count()];
        let mut seen = vec![false; self.graph.node_count()];
        if self.graph.node_count() == 0 {
            return parent;
        }
        let mut queue = VecDeque::from([self.root]);
        seen[self.root.index()] = true;
        while let Some(n) = queue.pop_front() {
            let mut next: Vec<_> = self.graph.neighbors(n).filter(|m| !seen[m.index()]).collect();
            next.sort_unstable();
            next.dedup();
            for m in next {
                seen[m.index()] = true;
                parent[m.index()] = Some(n);
                queue.push_back(m);
            }
        }
        parent
    }

    /// Nodes reachable from the root, as a mask by node index.
    pub fn reachable_from_root(&self) -> Vec<bool> {
        self.bfs_parents().iter().enumerate().map(|(i, p)| p.is_some() || i == self.root.index()).collect()
    }

    /// True when the graph has no cycles (a radial network).
    pub fn is_radial(&self) -> bool {
        self.graph.edge_count() + 1 == self.graph.node_count() && !petgraph::algo::is_cyclic_undirected(&self.graph)
    }

    /// Writes `topology.json`: nodes with map coordinates and lines with their end nodes.
    /// Streamed from borrowed fields (a JSON tree of a 100,000-house city would take ~300 MB).
    pub fn write_json(&self, w: impl std::io::Write) -> serde_json::Result<()> {
        /// Keys in alphabetical order: the file's layout is a contract with its readers.
        #[derive(Serialize)]
        struct JsonLine<'a> {
            capacity_kw: f64,
            from: &'a str,
            id: &'a str,
            length_m: f64,
            r_ohm: f64,
            to: &'a str,
            x_ohm: f64,
        }
        #[derive(Serialize)]
        struct JsonTopology<'a, N: Serialize, L: Serialize> {
            lines: L,
            nodes: N,
            radial: bool,
            root: &'a str,
        }
        let g = &self.graph;
        let lines = g.edge_indices().map(|e| {
            let (a, b) = g.edge_endpoints(e).expect("edge index from this graph");
            let l = &g[e];
            JsonLine { capacity_kw: l.capacity_kw, from: &g[a].id, id: &l.id, length_m: l.length_m, r_ohm: l.r_ohm, to: &g[b].id, x_ohm: l.x_ohm }
        });
        let doc = JsonTopology { lines: Seq(std::cell::Cell::new(Some(lines))), nodes: Seq(std::cell::Cell::new(Some(g.node_weights()))), radial: self.is_radial(), root: &g[self.root].id };
        serde_json::to_writer_pretty(w, &doc)
    }
}

/// Serialises an iterator as a JSON array without collecting it (once).
struct Seq<I>(std::cell::Cell<Option<I>>);

impl<I: Iterator<Item = T>, T: Serialize> Serialize for Seq<I> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0.take() {
            Some(it) => s.collect_seq(it),
            None => Err(serde::ser::Error::custom("sequence serialised twice")),
        }
    }
}

impl Default for Topology {
    fn default() -> Self {
        Self::new()
    }
}

/// The phase a household is connected to: one of three (a single-phase connection, as most
/// houses on low-voltage feeders) or all three evenly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
pub enum Phase {
    A,
    B,
    C,
    #[default]
    Three,
}

impl Phase {
    /// The share of the household's power on each of phases a, b and c.
    pub fn shares(self) -> [f64; 3] {
        match self {
            Phase::A => [1.0, 0.0, 0.0],
            Phase::B => [0.0, 1.0, 0.0],
            Phase::C => [0.0, 0.0, 1.0],
            Phase::Three => [1.0 / 3.0; 3],
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::A => "a",
            Phase::B => "b",
            Phase::C => "c",
            Phase::Three => "abc",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum NodeKind {
    /// The grid connection point (only meaningful when grid-connected).
    Substation,
    FeederHead,
    Junction,
    House,
}

impl NodeKind {
    /// The kind as tables write it (`buses.csv`'s `kind`).
    pub fn label(self) -> &'static str {
        match self {
            NodeKind::Substation => "substation",
            NodeKind::FeederHead => "feeder_head",
            NodeKind::Junction => "junction",
            NodeKind::House => "house",
        }
    }
}
