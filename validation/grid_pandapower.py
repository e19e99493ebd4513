#!/usr/bin/env python3
"""peergrid's power flows against pandapower on the same network and the same injections.

For each case: `peergrid export-grid` writes the network, `peergrid run --trace-step N` the
injections, DC line flows, AC voltages and line losses of step N. This script builds the same
network in pandapower (a bus per node, the root as the slack at 1 pu, lines from their per-phase
r and x, no shunt capacitance), applies the injections as loads, and compares:

- DC line flows with `rundcpp` (targets: within 1e-6 kW, or 1e-6 relative);
- on radial networks, node voltages and line losses with `runpp` (targets: voltages within
  0.5%, total losses within 5%).

Usage: python validation/grid_pandapower.py [--peergrid target/release/peergrid] [--markdown FILE]
Exit status 1 if any case misses a target.
"""

import json
import subprocess
import sys

import pandapower as pp

import harness
from harness import REPO

# (label, scenario, extra `peergrid run` arguments, step to trace)
CASES = [
    ("street, midday (radial)", "scenarios/street.ron", [], 48),
    ("street, evening (radial)", "scenarios/street.ron", [], 76),
    ("congested feeder, midday (radial, at its limits)", "scenarios/congested-feeder.ron", [], 48),
    ("district, 800 houses on 2 feeders, midday (radial)", "scenarios/district-10k.ron",
     ["--set", "households[0].count=800", "--set", "topology.feeders=2"], 48),
    ("village, midday (meshed: four feeders, two tied)", "scenarios/village.ron", [], 52),
    ("village, evening (meshed)", "scenarios/village.ron", [], 76),
]

DC_TOLERANCE_KW = 1e-6
DC_TOLERANCE_REL = 1e-6
VOLTAGE_TOLERANCE = 0.005
LOSS_TOLERANCE = 0.05


def peergrid(binary, *args):
    out = subprocess.run([str(binary), *args], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"peergrid {' '.join(args)} failed:\n{out.stderr}")
    return out


def network(grid, trace):
    """The pandapower network of `grid` with `trace`'s injections (kW, + into the grid)."""
    net = pp.create_empty_network(sn_mva=1.0)
    vn_kv = grid["nominal_voltage_v"] / 1000.0
    bus = {n["id"]: pp.create_bus(net, vn_kv=vn_kv, name=n["id"]) for n in grid["nodes"]}
    pp.create_ext_grid(net, bus[grid["root"]], vm_pu=1.0, va_degree=0.0)
    for line in grid["lines"]:
        # Whole-line impedances as a 1 km line of that many ohms per km.
        pp.create_line_from_parameters(net, bus[line["from"]], bus[line["to"]], length_km=1.0,
                                       r_ohm_per_km=line["r_ohm"], x_ohm_per_km=line["x_ohm"],
                                       c_nf_per_km=0.0, max_i_ka=1e3, name=line["id"])
    for node in trace["nodes"]:
        if node["injection_kw"] != 0.0:
            pp.create_load(net, bus[node["id"]], p_mw=-node["injection_kw"] / 1000.0, q_mvar=0.0)
    return net


def compare(binary, label, scenario, extra, step, tmp):
    grid_file = tmp / "grid.json"
    peergrid(binary, "export-grid", scenario, "--out", str(grid_file), *extra)
    out_dir = tmp / "run"
    peergrid(binary, "run", scenario, "--out", str(out_dir), "--force", "--quiet", "--ledger", "off",
             "--output-level", "aggregate", "--steps", str(step + 1), "--trace-step", str(step), *extra)
    grid = json.loads(grid_file.read_text())
    trace = json.loads((out_dir / f"trace-step-{step}.json").read_text())
    net = network(grid, trace)
    row = {"case": label, "nodes": len(grid["nodes"]), "lines": len(grid["lines"]), "radial": grid["radial"]}

    pp.rundcpp(net)
    dc_abs, dc_rel, peak = 0.0, 0.0, 0.0
    for i, line in enumerate(trace["lines"]):
        theirs = net.res_line.p_from_mw.iat[i] * 1000.0
        diff = abs(line["flow_kw"] - theirs)
        dc_abs = max(dc_abs, diff)
        dc_rel = max(dc_rel, diff / max(abs(theirs), 1e-9))
        peak = max(peak, abs(theirs))
    row.update(peak_flow_kw=peak, dc_max_abs_kw=dc_abs, dc_max_rel=dc_rel)
    row["dc_ok"] = all(
        abs(l["flow_kw"] - net.res_line.p_from_mw.iat[i] * 1000.0) <= max(DC_TOLERANCE_KW, DC_TOLERANCE_REL * abs(l["flow_kw"]))
        for i, l in enumerate(trace["lines"]))

    if grid["radial"]:
        pp.runpp(net, tolerance_mva=1e-9, max_iteration=50, numba=False)
        v_dev = [abs(n["voltage_pu"] - net.res_bus.vm_pu.iat[i]) / net.res_bus.vm_pu.iat[i] for i, n in enumerate(trace["nodes"])]
        ours = sum(l["ac_loss_kw"] for l in trace["lines"])
        theirs = net.res_line.pl_mw.sum() * 1000.0
        row.update(v_max_dev=max(v_dev), v_mean_dev=sum(v_dev) / len(v_dev), v_min_pu=float(net.res_bus.vm_pu.min()),
                   v_max_pu=float(net.res_bus.vm_pu.max()), losses_kw=ours, pp_losses_kw=theirs,
                   loss_dev=abs(ours - theirs) / theirs if theirs > 0 else 0.0)
        row["ac_ok"] = row["v_max_dev"] <= VOLTAGE_TOLERANCE and row["loss_dev"] <= LOSS_TOLERANCE
    return row


def markdown(rows):
    lines = [
        "| case | nodes | DC: largest flow | DC: max abs. deviation | DC: max rel. deviation | AC: voltages (pandapower) | AC: max / mean voltage deviation | AC: losses peergrid / pandapower | |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ok = r["dc_ok"] and r.get("ac_ok", True)
        if r["radial"]:
            ac = (f"{r['v_min_pu']:.4f}–{r['v_max_pu']:.4f} pu", f"{r['v_max_dev']:.2e} / {r['v_mean_dev']:.2e}",
                  f"{r['losses_kw']:.4f} / {r['pp_losses_kw']:.4f} kW (rel. {r['loss_dev']:.1e})")
        else:
            ac = ("meshed: DC only", "", "")
        lines.append(f"| {r['case']} | {r['nodes']} | {r['peak_flow_kw']:.3f} kW | {r['dc_max_abs_kw']:.1e} kW | {r['dc_max_rel']:.1e} | "
                     f"{ac[0]} | {ac[1]} | {ac[2]} | {'ok' if ok else 'MISSED'} |")
    return "\n".join(lines) + "\n"


def check(binary, case, folder):
    row = compare(binary, *case, folder)
    return row["case"], row["dc_ok"] and row.get("ac_ok", True), row


if __name__ == "__main__":
    harness.run(__doc__, CASES, check,
                f"pandapower {pp.__version__}; targets: DC within {DC_TOLERANCE_KW:g} kW or {DC_TOLERANCE_REL:g} relative, "
                f"AC voltages within {VOLTAGE_TOLERANCE:.1%}, losses within {LOSS_TOLERANCE:.0%}", markdown)
