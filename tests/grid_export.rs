//! `peergrid export-grid` and `run --trace-step`: the grid and one step's flows for other
//! power-flow tools (validation/grid_pandapower.py compares them with pandapower).

mod common;

use common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn ids(v: &Value) -> Vec<&str> {
    v.as_array().unwrap().iter().map(|x| x["id"].as_str().unwrap()).collect()
}

#[test]
fn export_grid_lists_the_runs_nodes_and_lines_with_impedances() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("grid.json");
    let o = peergrid(&["export-grid", scenario("village.ron").to_str().unwrap(), "--out", file.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let g = json(&file);
    let run = tmp.path().join("run");
    run_ok(&scenario("village.ron"), &run, &["--steps", "1"]);
    let topology = json(&run.join("topology.json"));
    assert_eq!(g["format"], "peergrid-grid/1");
    assert_eq!(ids(&g["nodes"]), ids(&topology["nodes"]), "same nodes, same order as topology.json");
    assert_eq!(ids(&g["lines"]), ids(&topology["lines"]));
    assert_eq!((g["root"].as_str(), g["radial"].as_bool()), (topology["root"].as_str(), Some(false)), "the village has a tie");
    assert_eq!(g["nominal_voltage_v"], 400.0);
    for l in g["lines"].as_array().unwrap() {
        assert!(l["r_ohm"].as_f64().unwrap() > 0.0 && l["x_ohm"].as_f64().unwrap() > 0.0 && l["capacity_kw"].as_f64().unwrap() > 0.0, "{l}");
    }
    let nodes: Vec<&str> = ids(&g["nodes"]);
    let households = g["households"].as_array().unwrap();
    assert_eq!(households.len(), 150);
    assert!(households.iter().all(|h| nodes.contains(&h["node"].as_str().unwrap())));
    // --set reaches the exported grid too; a bad file is bad input and writes nothing.
    let o = peergrid(&["export-grid", scenario("village.ron").to_str().unwrap(), "--out", file.to_str().unwrap(), "--set", "network.nominal_voltage_v=230"]);
    assert!(o.status.success() && json(&file)["nominal_voltage_v"] == 230.0, "{}", stderr(&o));
    let bad = tmp.path().join("bad.json");
    let o = peergrid(&["export-grid", scenario("village.ron").to_str().unwrap(), "--out", bad.to_str().unwrap(), "--set", "network.nominal_voltage_v=-1"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("nominal_voltage_v") && !bad.exists());
}

#[test]
fn a_traced_step_balances_at_every_node_and_matches_the_timeseries() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    run_ok(&scenario("street.ron"), &out, &["--steps", "60", "--trace-step", "48"]);
    let t = json(&out.join("trace-step-48.json"));
    assert_eq!((t["format"].as_str(), t["step"].as_u64(), t["radial"].as_bool(), t["ac_converged"].as_bool()), (Some("peergrid-trace/1"), Some(48), Some(true), Some(true)));
    let ts = Table::read(&out.join("timeseries.csv"));
    assert_eq!(t["time"].as_str().unwrap(), ts.rows[48]["time"]);
    // Kirchhoff's current law at every node: injection + flows in − flows out = 0 (the root
    // also gets what it supplies).
    let mut net: HashMap<&str, f64> = t["nodes"].as_array().unwrap().iter().map(|n| (n["id"].as_str().unwrap(), n["injection_kw"].as_f64().unwrap())).collect();
    *net.get_mut(t["root"].as_str().unwrap()).unwrap() += t["root_kw"].as_f64().unwrap();
    let mut losses_kw = 0.0;
    for l in t["lines"].as_array().unwrap() {
        let f = l["flow_kw"].as_f64().unwrap();
        *net.get_mut(l["from"].as_str().unwrap()).unwrap() -= f;
        *net.get_mut(l["to"].as_str().unwrap()).unwrap() += f;
        losses_kw += l["ac_loss_kw"].as_f64().unwrap();
    }
    assert!(net.values().all(|x| x.abs() < 1e-9), "{net:?}");
    let injected: f64 = t["nodes"].as_array().unwrap().iter().map(|n| n["injection_kw"].as_f64().unwrap().abs()).sum();
    assert!(injected > 1.0, "a midday step moves power: {injected} kW");
    for n in t["nodes"].as_array().unwrap() {
        let v = n["voltage_pu"].as_f64().unwrap();
        assert!((0.9..=1.1).contains(&v), "{n}");
    }
    let step_hours = 0.25;
    let recorded = Table::f(&ts.rows[48], "network_losses_kwh");
    assert!((losses_kw * step_hours - recorded).abs() < 1e-9, "trace {losses_kw} kW vs timeseries {recorded} kWh");
}

#[test]
fn a_trace_step_past_the_end_is_bad_input_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "10", "--trace-step", "10"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("street.ron") && stderr(&o).contains("--trace-step 10: the run has 10 steps (0 to 9)"), "{}", stderr(&o));
    assert!(!out.exists());
}
