//! Where households sit on the grid, as market rules see it: each household's node and its
//! ancestors on the tree of shortest paths from the grid's root (grid distances).

/// For every household, its grid node and the node's ancestors up to the root, on the tree of
/// shortest paths (breadth-first from the root, lower node index first on ties).
#[derive(Debug, Clone, Default)]
pub struct Locality {
    pub nodes: usize,
    chains: Vec<Vec<u32>>,
}

impl Locality {
    pub fn new(topology: &crate::grid::Topology, household_nodes: &[petgraph::graph::NodeIndex]) -> Locality {
        let g = &topology.graph;
        let n = g.node_count();
        let mut parent = vec![u32::MAX; n];
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
                    queue.push_back(w);
                }
            }
        }
        let chains = household_nodes
            .iter()
            .map(|start| {
                let mut chain = vec![start.index() as u32];
                let mut v = start.index();
                while parent[v] != u32::MAX {
                    v = parent[v] as usize;
                    chain.push(v as u32);
                }
                chain
            })
            .collect();
        Locality { nodes: n, chains }
    }

    /// `households` households all on one node (for tests and benches of the rule alone).
    pub fn flat(households: usize) -> Locality {
        Locality { nodes: 1, chains: vec![vec![0]; households] }
    }

    /// How near two households are on the tree: the depth of their lowest common ancestor over
    /// the deeper household's depth (1 on the same node, 0 when the path goes through the root).
    pub fn closeness(&self, a: u32, b: u32) -> f64 {
        let (ca, cb) = (self.ancestors(a), self.ancestors(b));
        let shared = ca.iter().rev().zip(cb.iter().rev()).take_while(|(x, y)| x == y).count();
        let deepest = ca.len().max(cb.len()).saturating_sub(1);
        if deepest == 0 { 1.0 } else { shared.saturating_sub(1) as f64 / deepest as f64 }
    }

    /// The household's node first, then its ancestors up to the root.
    pub fn ancestors(&self, household: u32) -> &[u32] {
        self.chains.get(household as usize).map(|c| &c[..]).unwrap_or(&[])
    }
}
