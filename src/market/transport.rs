//! Maximum-surplus transportation: ship energy from sellers to buyers so that the summed surplus
//! `Σ w[i][j]·x[i][j]` is as large as possible, where buyer `i` needs `need[i]` kWh, seller `j`
//! offers `supply[j]` kWh, and `w[i][j]` is the pair's surplus per kWh (integer micro-units;
//! `None` for pairs that may not trade). Pairs with zero surplus still trade (more energy stays
//! in the community at no loss to anyone).
//!
//! Method: primal-dual min-cost flow on the bipartite network source → buyers → sellers → sink
//! with costs `−w`: Dijkstra on reduced costs sets Johnson potentials (the first ones come from
//! the network being acyclic), then depth-first search pushes flow along every path of zero
//! reduced cost; this repeats until the cheapest augmenting path would lose surplus. Each
//! augmentation is exact and pushes the path's bottleneck, so the optimum is reached; integer
//! quantities give an integer optimum. Dense: a Dijkstra phase costs O(buyers × sellers) and
//! there is one per distinct path cost, so books of up to some ten thousand pairs (see
//! `preference` for larger ones).

use super::MIN_TRADE_KWH;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

const UNREACHED: i64 = i64::MAX / 4;
const NO_PREV: u32 = u32::MAX;

/// Reusable scratch for [`Transport::solve`].
#[derive(Debug, Default)]
pub struct Transport {
    cost: Vec<Option<i64>>,
    flow: Vec<f64>,
    need_left: Vec<f64>,
    supply_left: Vec<f64>,
    potential: Vec<i64>,
    dist: Vec<i64>,
    prev: Vec<u32>,
    done: Vec<bool>,
    cursor: Vec<usize>,
    stack: Vec<usize>,
    heap: BinaryHeap<Reverse<(i64, u32)>>,
    dead: Vec<bool>,
    explored: Vec<usize>,
}

impl Transport {
    /// Solves one problem; returns the flows, row-major `[buyer * sellers + seller]`.
    /// `max_augmentations` bounds the work in degenerate cases (what is left stays unmatched).
    pub fn solve(&mut self, need: &[f64], supply: &[f64], weight: impl Fn(usize, usize) -> Option<i64>, max_augmentations: usize) -> &[f64] {
        let (nb, ns) = (need.len(), supply.len());
        let sink = nb + ns;
        self.cost.clear();
        self.cost.extend((0..nb * ns).map(|k| weight(k / ns.max(1), k % ns.max(1)).map(|w| -w)));
        self.flow.clear();
        self.flow.resize(nb * ns, 0.0);
        self.need_left.clear();
        self.need_left.extend_from_slice(need);
        self.supply_left.clear();
        self.supply_left.extend_from_slice(supply);
        // Potentials: buyers 0, each seller its cheapest incoming arc, the sink its cheapest seller.
        self.potential.clear();
        self.potential.resize(sink + 1, 0);
        let mut sink_potential = UNREACHED;
        for j in 0..ns {
            let best = (0..nb).filter_map(|i| self.cost[i * ns + j]).min();
            self.potential[nb + j] = best.unwrap_or(0);
            if let Some(b) = best {
                sink_potential = sink_potential.min(b);
            }
        }
        if sink_potential == UNREACHED {
            return &self.flow;
        }
        self.potential[sink] = sink_potential;
        // Primal-dual: each Dijkstra phase sets potentials so that shortest paths have zero
        // reduced cost, then augments along such paths until none is left. Books where many
        // pairs have the same surplus need few phases.
        let mut augmentations = 0;
        while augmentations < max_augmentations && self.shortest_paths(nb, ns) {
            let cap = self.dist[sink];
            for v in 0..=sink {
                self.potential[v] += self.dist[v].min(cap);
            }
            // The shortest path's real cost (the source's potential stays 0); a positive cost
            // would lose surplus.
            if self.potential[sink] > 0 {
                break;
            }
            self.dead.clear();
            self.dead.resize(sink + 1, false);
            while augmentations < max_augmentations && self.admissible_path(nb, ns) {
                self.augment(nb, ns);
                augmentations += 1;
            }
        }
        &self.flow
    }

    fn reduced(&self, u: usize, v: usize, cost: i64) -> i64 {
        cost + self.potential[u] - self.potential[v]
    }

    /// Depth-first search for a source–sink path of zero reduced cost with room on every arc;
    /// leaves it in `prev` for [`Self::augment`]. Nodes a failed search explored cannot reach
    /// the sink for the rest of the phase (augmenting only adds arcs between nodes of the path,
    /// which could reach it), so they are marked dead and never searched again.
    fn admissible_path(&mut self, nb: usize, ns: usize) -> bool {
        let sink = nb + ns;
        self.done.clear();
        self.done.resize(sink + 1, false);
        self.prev.clear();
        self.prev.resize(sink + 1, NO_PREV);
        self.cursor.clear();
        self.cursor.resize(sink, 0);
        let mut stack = std::mem::take(&mut self.stack);
        let mut found = false;
        'starts: for start in 0..nb {
            if self.done[start] || self.dead[start] || self.need_left[start] <= MIN_TRADE_KWH || self.potential[start] != 0 {
                continue;
            }
            self.done[start] = true;
            self.explored.push(start);
            stack.clear();
            stack.push(start);
            'search: while let Some(&u) = stack.last() {
                if u < nb {
                    while self.cursor[u] < ns {
                        let j = self.cursor[u];
                        self.cursor[u] += 1;
                        let v = nb + j;
                        if let Some(c) = self.cost[u * ns + j] {
                            if !self.done[v] && !self.dead[v] && self.reduced(u, v, c) == 0 {
                                self.done[v] = true;
                                self.explored.push(v);
                                self.prev[v] = u as u32;
                                stack.push(v);
                                continue 'search;
                            }
                        }
                    }
                } else {
                    let j = u - nb;
                    if self.cursor[u] == 0 {
                        self.cursor[u] = 1;
                        if self.supply_left[j] > MIN_TRADE_KWH && self.reduced(u, sink, 0) == 0 {
                            self.prev[sink] = u as u32;
                            found = true;
                            break 'starts;
                        }
                    }
                    while self.cursor[u] <= nb {
                        let i = self.cursor[u] - 1;
                        self.cursor[u] += 1;
                        if !self.done[i] && !self.dead[i] && self.flow[i * ns + j] > MIN_TRADE_KWH {
                            let c = self.cost[i * ns + j].expect("flow only on allowed pairs");
                            if self.reduced(u, i, -c) == 0 {
                                self.done[i] = true;
                                self.explored.push(i);
                                self.prev[i] = u as u32;
                                stack.push(i);
                                continue 'search;
                            }
                        }
                    }
                }
                stack.pop();
            }
            // This start failed after exploring everything it could reach.
            for &v in &self.explored {
                self.dead[v] = true;
            }
            self.explored.clear();
        }
        self.explored.clear();
        self.stack = stack;
        found
    }

    /// Dijkstra (binary heap) from the source on reduced costs. Returns whether the sink was reached.
    fn shortest_paths(&mut self, nb: usize, ns: usize) -> bool {
        let sink = nb + ns;
        self.dist.clear();
        self.dist.resize(sink + 1, UNREACHED);
        self.prev.clear();
        self.prev.resize(sink + 1, NO_PREV);
        self.done.clear();
        self.done.resize(sink + 1, false);
        let mut heap = std::mem::take(&mut self.heap);
        heap.clear();
        for i in 0..nb {
            if self.need_left[i] > MIN_TRADE_KWH {
                self.dist[i] = -self.potential[i];
                heap.push(Reverse((self.dist[i], i as u32)));
            }
        }
        loop {
            let Some(Reverse((d, u))) = heap.pop() else {
                self.heap = heap;
                return false;
            };
            let u = u as usize;
            if self.done[u] || d != self.dist[u] {
                continue;
            }
            if u == sink {
                self.heap = heap;
                return true;
            }
            self.done[u] = true;
            if u < nb {
                for j in 0..ns {
                    if let Some(c) = self.cost[u * ns + j] {
                        self.relax(u, nb + j, c, &mut heap);
                    }
                }
            } else {
                let j = u - nb;
                if self.supply_left[j] > MIN_TRADE_KWH {
                    self.relax(u, sink, 0, &mut heap);
                }
                for i in 0..nb {
                    if self.flow[i * ns + j] > MIN_TRADE_KWH {
                        let c = self.cost[i * ns + j].expect("flow only on allowed pairs");
                        self.relax(u, i, -c, &mut heap);
                    }
                }
            }
        }
    }

    fn relax(&mut self, u: usize, v: usize, cost: i64, heap: &mut BinaryHeap<Reverse<(i64, u32)>>) {
        if self.done[v] {
            return;
        }
        let d = self.dist[u] + self.reduced(u, v, cost);
        debug_assert!(d >= self.dist[u], "reduced costs stay non-negative");
        if d < self.dist[v] {
            self.dist[v] = d;
            self.prev[v] = u as u32;
            heap.push(Reverse((d, v as u32)));
        }
    }

    /// Pushes the bottleneck along the path found by [`Self::shortest_paths`].
    fn augment(&mut self, nb: usize, ns: usize) {
        let sink = nb + ns;
        let last_seller = self.prev[sink] as usize - nb;
        let mut q = self.supply_left[last_seller];
        let mut v = self.prev[sink] as usize;
        loop {
            let b = self.prev[v] as usize; // buyer before seller v
            let from = self.prev[b];
            if from == NO_PREV {
                q = q.min(self.need_left[b]);
                break;
            }
            q = q.min(self.flow[b * ns + (from as usize - nb)]); // reverse arc seller → buyer
            v = from as usize;
        }
        self.supply_left[last_seller] -= q;
        let mut v = self.prev[sink] as usize;
        loop {
            let b = self.prev[v] as usize;
            self.flow[b * ns + (v - nb)] += q;
            let from = self.prev[b];
            if from == NO_PREV {
                self.need_left[b] -= q;
                break;
            }
            self.flow[b * ns + (from as usize - nb)] -= q;
            v = from as usize;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total(flow: &[f64], ns: usize, w: &dyn Fn(usize, usize) -> Option<i64>) -> f64 {
        flow.iter().enumerate().map(|(k, x)| x * w(k / ns, k % ns).unwrap_or(0) as f64).sum()
    }

    #[test]
    fn takes_the_better_assignment_not_the_greedy_one() {
        // Greedy would give buyer 0 seller 0 (10) and leave buyer 1 with seller 1 (1): 11.
        // The optimum crosses: 0→1 (9) + 1→0 (9) = 18.
        let w = |i: usize, j: usize| Some([[10, 9], [9, 1]][i][j]);
        let mut t = Transport::default();
        let flow = t.solve(&[1.0, 1.0], &[1.0, 1.0], w, 100).to_vec();
        assert_eq!(flow, vec![0.0, 1.0, 1.0, 0.0]);
        assert_eq!(total(&flow, 2, &w), 18.0);
    }

    #[test]
    fn forbidden_and_losing_pairs_do_not_trade() {
        let w = |i: usize, j: usize| [[None, Some(-5)], [Some(0), None]][i][j];
        let mut t = Transport::default();
        let flow = t.solve(&[2.0, 2.0], &[1.0, 3.0], w, 100).to_vec();
        assert_eq!(flow, vec![0.0, 0.0, 1.0, 0.0], "zero surplus trades, negative does not");
    }

    #[test]
    fn matches_brute_force_on_unit_assignments() {
        // All 3×3 weight patterns from a small set: the optimum equals the best permutation.
        let vals = [-2i64, 0, 3, 7];
        let mut seed = 1u64;
        for _ in 0..500 {
            let mut w = [[0i64; 3]; 3];
            for row in &mut w {
                for c in row.iter_mut() {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    *c = vals[(seed >> 33) as usize % vals.len()];
                }
            }
            let wf = |i: usize, j: usize| Some(w[i][j]);
            let mut t = Transport::default();
            let got = total(t.solve(&[1.0; 3], &[1.0; 3], wf, 100), 3, &wf);
            let mut best = 0i64;
            for p in [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]] {
                // Partial assignments: each buyer may also stay out (pair value clipped at 0).
                best = best.max((0..3).map(|i| w[i][p[i]].max(0)).sum());
            }
            assert_eq!(got, best as f64, "{w:?}");
        }
    }
}
