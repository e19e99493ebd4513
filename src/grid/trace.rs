//! Where the power on each line comes from or goes to: the share of a line's flow that the grid
//! supplies (flowing away from the root) or takes (flowing towards it), by proportional sharing
//! (Bialek 1996: at every node the inflows mix, and each outflow carries the mix). The rest is
//! power between neighbours. The live map colours its particles by it.

/// A lossless DC solution has no loops of flow; a rounding that leaves one is cut there.
const FLOW_EPSILON_KW: f64 = 1e-9;

/// For each line (`ends[l]` = its two nodes, `flow_kw[l]` positive from the first to the second),
/// the share of its flow from or to the grid, 0–1. `injection_kw[n]` is what the households at
/// node `n` feed in (negative: they draw); the root exchanges the balance with the grid.
pub fn grid_shares(ends: &[(usize, usize)], flow_kw: &[f64], injection_kw: &[f64], root: usize) -> Vec<f64> {
    let n = injection_kw.len();
    let lines = ends.len();
    let mut out_lines: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut in_lines: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut indegree = vec![0u32; n];
    for (l, (&(a, b), &f)) in ends.iter().zip(flow_kw).enumerate() {
        if f.abs() < FLOW_EPSILON_KW || a >= n || b >= n {
            continue;
        }
        let (u, v) = if f > 0.0 { (a, b) } else { (b, a) };
        out_lines[u].push(l);
        in_lines[v].push(l);
        indegree[v] += 1;
    }
    // Kahn's order of the flow's directed graph; nodes left in a cycle come last.
    let mut order: Vec<usize> = (0..n).filter(|&v| indegree[v] == 0).collect();
    let mut head = 0;
    while head < order.len() {
        let v = order[head];
        head += 1;
        for &l in &out_lines[v] {
            let (a, b) = ends[l];
            let u = if a == v { b } else { a };
            indegree[u] -= 1;
            if indegree[u] == 0 {
                order.push(u);
            }
        }
    }
    if order.len() < n {
        order.extend((0..n).filter(|&v| indegree[v] > 0));
    }
    let amount = |l: usize| flow_kw[l].abs();
    // What the grid supplies at the root (negative: takes).
    let root_supply = if root < n { out_lines[root].iter().map(|&l| amount(l)).sum::<f64>() - in_lines[root].iter().map(|&l| amount(l)).sum::<f64>() - injection_kw[root] } else { 0.0 };
    let (mut from_grid, mut to_grid) = (vec![0.0; lines], vec![0.0; lines]);
    for &v in &order {
        let (mut total, mut grid) = (injection_kw[v].max(0.0), 0.0);
        if v == root && root_supply > 0.0 {
            total += root_supply;
            grid += root_supply;
        }
        for &l in &in_lines[v] {
            total += amount(l);
            grid += amount(l) * from_grid[l];
        }
        let share = if total > 0.0 { grid / total } else { 0.0 };
        for &l in &out_lines[v] {
            from_grid[l] = share;
        }
    }
    for &v in order.iter().rev() {
        let (mut total, mut grid) = ((-injection_kw[v]).max(0.0), 0.0);
        if v == root && root_supply < 0.0 {
            total -= root_supply;
            grid -= root_supply;
        }
        for &l in &out_lines[v] {
            total += amount(l);
            grid += amount(l) * to_grid[l];
        }
        let share = if total > 0.0 { grid / total } else { 0.0 };
        for &l in &in_lines[v] {
            to_grid[l] = share;
        }
    }
    from_grid.iter().zip(&to_grid).map(|(a, b)| (a + b).min(1.0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feeder_splits_peer_and_grid_power_in_proportion() {
        // root 0 – 1 – 2 – 3: node 3 exports 2 kW, node 1 draws 3 kW (2 from node 3, 1 from the
        // grid). Line 0 (0→1) is all grid; lines 1 and 2 (3→2→1) all peer power.
        let ends = [(0, 1), (1, 2), (2, 3)];
        let flows = [1.0, -2.0, -2.0];
        let injection = [0.0, -3.0, 0.0, 2.0];
        let s = grid_shares(&ends, &flows, &injection, 0);
        assert_eq!(s, vec![1.0, 0.0, 0.0]);
        // Node 3 exports 5 kW: 3 to node 1, 2 to the grid: every line carries its part.
        let s = grid_shares(&ends, &[-2.0, -5.0, -5.0], &[0.0, -3.0, 0.0, 5.0], 0);
        assert_eq!(s[0], 1.0);
        assert!((s[1] - 0.4).abs() < 1e-12 && (s[2] - 0.4).abs() < 1e-12, "{s:?}");
    }

    #[test]
    fn shares_stay_within_zero_and_one_on_a_meshed_grid() {
        // A loop 1–2–3 under the root, flows that satisfy the nodes' balances.
        let ends = [(0, 1), (1, 2), (2, 3), (3, 1)];
        let injection = [0.0, -1.0, 2.0, -4.0];
        let flows = [3.0, -0.5, 1.5, -2.5];
        let s = grid_shares(&ends, &flows, &injection, 0);
        assert!(s.iter().all(|x| (0.0..=1.0).contains(x)), "{s:?}");
        assert_eq!(s[0], 1.0);
    }
}
