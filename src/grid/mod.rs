//! The distribution grid the households sit on: a petgraph topology, generated or listed in the
//! scenario; its power flows, line and voltage limits on what households may exchange, and the
//! losses on the way.

pub mod flow;
pub mod flow3;
pub mod generate;
pub mod inverter;
pub mod limits;
pub mod network;
pub mod radial_limits;
pub mod topology;
pub mod trace;

use bevy::prelude::*;
use std::sync::Arc;

pub use topology::{Line, Node, Topology};

/// The run's topology, shared read-only by all systems.
#[derive(Resource, Clone)]
pub struct GridTopology(pub Arc<Topology>);

/// Grid node a household is connected to. Set at spawn; read by delivery and reports.
#[derive(Component, Debug, Clone, Copy)]
pub struct GridNode(pub petgraph::graph::NodeIndex);

/// `*max = max.max(x)` for a running maximum that is never NaN (it starts at a number and only
/// takes values of `x` that compare greater): the same result, since `f64::max` also ignores a
/// NaN `x`, without the NaN handling that `f64::max` puts on a loop's dependency chain.
#[inline(always)]
pub(crate) fn raise_max(max: &mut f64, x: f64) {
    if x > *max {
        *max = x;
    }
}

/// `*min = min.min(x)` for a running minimum that is never NaN, as [`raise_max`].
#[inline(always)]
pub(crate) fn lower_min(min: &mut f64, x: f64) {
    if x < *min {
        *min = x;
    }
}

/// `nodes` nodes (node 0, the root, a substation) joined by `lines` (from, to, R Ω, X Ω,
/// capacity kW): small grids for the flow and limit tests.
#[cfg(test)]
pub(crate) fn test_net(nodes: usize, lines: &[(usize, usize, f64, f64, f64)]) -> Topology {
    use crate::grid::topology::NodeKind;
    let mut t = Topology::new();
    let ix: Vec<_> = (0..nodes)
        .map(|i| t.add_node(Node { id: format!("n{i}"), kind: if i == 0 { NodeKind::Substation } else { NodeKind::Junction }, x_m: 0.0, y_m: 0.0 }).expect("unique ids"))
        .collect();
    for (k, &(a, b, r_ohm, x_ohm, capacity_kw)) in lines.iter().enumerate() {
        t.add_line(ix[a], ix[b], Line { id: format!("L{k}"), length_m: 100.0, capacity_kw, r_ohm, x_ohm, r0_ohm: None, x0_ohm: None, max_i_a: None });
    }
    t
}
