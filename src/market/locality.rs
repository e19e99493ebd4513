//! Where households sit on the grid, as market rules see it: each household's node and its
//! ancestors on the tree of shortest paths from the grid's root (grid distances).

/// For every household, its grid node, and for every node its parent on the tree of shortest
/// paths (breadth-first from the root, lower node index first on ties), its depth and its
/// ancestors 2, 4, 8, … levels up: memory O(nodes × log depth) however deep the tree (a long street
/// feeder), and any ancestor in O(log depth).
#[derive(Debug, Clone, Default)]
pub struct Locality {
    pub nodes: usize,
    /// Parent of each node; `NONE` for the root and for nodes the root does not reach.
    parent: Vec<u32>,
    depth: Vec<u32>,
    /// `jump[k][v]`: the ancestor 2^(k+1) levels above `v`, or `NONE`.
    jump: Vec<Vec<u32>>,
    household_node: Vec<u32>,
}

const NONE: u32 = u32::MAX;

impl Locality {
    pub fn new(topology: &crate::grid::Topology, household_nodes: &[petgraph::graph::NodeIndex]) -> Locality {
        let g = &topology.graph;
        let n = g.node_count();
        let mut parent = vec![NONE; n];
        let mut depth = vec![0u32; n];
        let mut seen = vec![false; n];
        let mut queue = std::collections::VecDeque::from([topology.root]);
        if n > 0 {
            seen[topology.root.index()] = true;
        }
        while let Some(v) = queue.pop_front() {
            let mut next: Vec<_> = g.neighbors(v).filter(|w| !seen[w.index()]).collect();
            next.sort_unstable();
            for w in next {
                if !seen[w.index()] {
                    seen[w.index()] = true;
                    parent[w.index()] = v.index() as u32;
                    depth[w.index()] = depth[v.index()] + 1;
                    queue.push_back(w);
                }
            }
        }
        let deepest = depth.iter().copied().max().unwrap_or(0);
        let mut jump: Vec<Vec<u32>> = Vec::new();
        while (2u64 << jump.len()) <= u64::from(deepest) {
            let below = jump.last().unwrap_or(&parent);
            let next = below.iter().map(|&a| if a == NONE { NONE } else { below[a as usize] }).collect();
            jump.push(next);
        }
        Locality { nodes: n, parent, depth, jump, household_node: household_nodes.iter().map(|v| v.index() as u32).collect() }
    }

    /// The ancestor `levels` above node `v` (`NONE` past the top).
    fn up(&self, mut v: u32, levels: u32) -> u32 {
        let mut k = 0;
        let mut rest = levels;
        while rest > 0 && v != NONE {
            if rest & 1 == 1 {
                v = if k == 0 { self.parent[v as usize] } else { self.jump.get(k - 1).map_or(NONE, |j| j[v as usize]) };
            }
            rest >>= 1;
            k += 1;
        }
        v
    }

    /// `households` households all on one node (for tests and benches of the rule alone).
    pub fn flat(households: usize) -> Locality {
        Locality { nodes: 1, parent: vec![NONE], depth: vec![0], jump: Vec::new(), household_node: vec![0; households] }
    }

    /// How near two households are on the tree: the depth of their lowest common ancestor over
    /// the deeper household's depth (1 on the same node, 0 when the path goes through the root).
    pub fn closeness(&self, a: u32, b: u32) -> f64 {
        let (Some(&x), Some(&y)) = (self.household_node.get(a as usize), self.household_node.get(b as usize)) else { return 1.0 };
        let (dx, dy) = (self.depth[x as usize], self.depth[y as usize]);
        let deepest = dx.max(dy);
        if deepest == 0 {
            return 1.0;
        }
        // Lift the deeper one to the other's depth, then both, by halving jumps, to just below
        // where they meet (or to their tops when they never do).
        let (mut x, mut y) = (self.up(x, dx.saturating_sub(dy)), self.up(y, dy.saturating_sub(dx)));
        if x != y {
            for k in (0..=self.jump.len()).rev() {
                let step = |v: u32| if k == 0 { self.parent[v as usize] } else { self.jump[k - 1][v as usize] };
                let (a, b) = (step(x), step(y));
                if a != b && a != NONE && b != NONE {
                    (x, y) = (a, b);
                }
            }
            if self.parent[x as usize] != NONE && self.parent[y as usize] != NONE {
                (x, y) = (self.parent[x as usize], self.parent[y as usize]);
            }
        }
        // Ancestors shared, counting the root: the meeting node's depth + 1; none if they never meet.
        let shared = if x == y { self.depth[x as usize] + 1 } else { 0 };
        shared.saturating_sub(1) as f64 / deepest as f64
    }

    /// The node at tree depth `d` (the root is at 0) on the household's path to the root, if the
    /// household is that deep.
    pub fn ancestor_at_depth(&self, household: u32, d: usize) -> Option<u32> {
        let start = *self.household_node.get(household as usize)?;
        let below = (self.depth[start as usize] as usize).checked_sub(d)?;
        Some(self.up(start, below as u32)).filter(|&v| v != NONE)
    }

    /// The household's node first, then its ancestors up to the root.
    pub fn ancestors(&self, household: u32) -> impl Iterator<Item = u32> + '_ {
        let start = self.household_node.get(household as usize).copied().unwrap_or(NONE);
        std::iter::successors((start != NONE).then_some(start), |&v| Some(self.parent[v as usize]).filter(|&p| p != NONE))
    }
}
