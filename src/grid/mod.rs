//! The distribution grid the households sit on: a petgraph topology, generated or listed in the
//! scenario. In this version lines are loaded, validated and written out (`topology.json`);
//! they do not yet constrain trades.

pub mod flow;
pub mod generate;
pub mod limits;
pub mod network;
pub mod radial_limits;
pub mod topology;

use bevy::prelude::*;
use std::sync::Arc;

pub use topology::{Line, Node, Topology};

/// The run's topology, shared read-only by all systems.
#[derive(Resource, Clone)]
pub struct GridTopology(pub Arc<Topology>);

/// Grid node a household is connected to. Set at spawn; read by delivery and reports.
#[derive(Component, Debug, Clone, Copy)]
pub struct GridNode(pub petgraph::graph::NodeIndex);
