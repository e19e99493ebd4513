#!/usr/bin/env python3
"""peergrid's OpenDSS import and unbalanced flow against the OpenDSS engine (dss-python).

Each case is a hand-written feeder in OpenDSS's text format (validation/opendss/<case>/Master.dss
and the files it redirects to). peergrid imports it with `topology: Import(file: "Master.dss",
format: OpenDss)`: every load becomes a household whose one-step profile is the load's kW (and,
for a few houses, PV exporting more than they use), at the load's power factor. `peergrid run
--trace-step 0` writes the per-phase voltages; the same files are compiled in OpenDSS, every
load set to what its household drew from the grid (kW less its PV, and the load's kvar) as
constant power (`model=1`, `vminpu=0.7 vmaxpu=1.3`: OpenDSS would otherwise turn loads outside
0.95–1.05 of their own kV into impedances), solved to a tolerance of 1e-9, and each bus's phase
voltages compared in volts:

- per-phase voltages within 0.1% (OpenDSS's `AllBusVolts`, node by node).

Cases: the IEEE European LV test feeder as OpenDSS publishes it (scenarios/feeders/
ieee-european-lv-dss: its source of 3000 A short-circuit current is not stiff, and its loads
sit on 230 V while the feeder runs near 250 V), a street fed straight from a stiff 416 V source (`Model=Ideal`; positional and abbreviated
properties, a `~` continuation, an `Edit`, line codes in km and a line with its own impedances, a
three-phase shop), and an 11/0.416 kV Dyn transformer (windings given one by one with `~`) behind
a 60 MVA source whose impedance counts (peergrid refers it through the transformer), with
`Redirect`s into a subfolder, `/* */` and `//` comments and tab-separated bus coordinates.

Usage: python validation/grid_opendss.py [--peergrid target/release/peergrid] [--markdown FILE]
Exit status 1 if any case misses a target.
"""

import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import dss
from dss import DSS

import harness
from harness import REPO

VOLTAGE_TOLERANCE = 0.001
STEP_HOURS = 0.25
FEEDERS = REPO / "validation" / "opendss"


def peergrid(binary, *args, cwd):
    out = subprocess.run([str(pathlib.Path(binary).resolve()), *args], cwd=cwd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"peergrid {' '.join(args)} failed:\n{out.stderr}")
    return out


def compile_dss(folder):
    """Compiles the feeder in OpenDSS, keeping this process's working directory."""
    here = os.getcwd()
    DSS.Text.Command = f'compile "{folder / "Master.dss"}"'
    os.chdir(here)


def loads_of(folder):
    """Each load's name as written, its kW and power factor, from OpenDSS."""
    compile_dss(folder)
    written = {}
    for f in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".dss", ".txt")):
        for m in re.finditer(r"(?im)^\s*new\s+load\.(\S+)", f.read_text()):
            written[m.group(1).lower()] = m.group(1)
    loads = DSS.ActiveCircuit.Loads
    out = []
    i = loads.First
    while i > 0:
        out.append((written[loads.Name], loads.kW, loads.PF))
        i = loads.Next
    return out


def compare(binary, label, case, pv, folder):
    # A case is a folder of validation/opendss, or a path.
    source = case if isinstance(case, pathlib.Path) else FEEDERS / case
    feeder = folder / source.name
    shutil.copytree(source, feeder)
    loads = loads_of(feeder)
    rows = [f"{name},0,{kw * STEP_HOURS!r},{pv.get(name, 0.0) * STEP_HOURS!r}" for name, kw, _ in loads]
    (feeder / "profile.csv").write_text("household,step,load_kwh,pv_kwh\n" + "\n".join(rows) + "\n")
    houses = "\n".join(f'        House(id: "{name}", load: Profile(file: "profile.csv")),' for name, _, _ in loads)
    (feeder / "scenario.ron").write_text(f"""(
    name: "feeder", seed: 1, start: "2024-01-15T12:00", timezone: "Europe/London", step_minutes: {int(STEP_HOURS * 60)},
    duration_days: 1, location: (latitude_deg: 51.5, longitude_deg: -0.1),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.06),
    households: [
{houses}
    ],
    topology: Import(file: "Master.dss", format: OpenDss),
    network: (enforce_line_limits: false, enforce_voltage_limits: false),
    market: (rule: "double-auction"),
)
""")
    peergrid(binary, "run", "scenario.ron", "--out", "run", "--force", "--quiet", "--ledger", "off", "--output-level", "aggregate",
             "--steps", "1", "--trace-step", "0", cwd=feeder)
    trace = json.loads((feeder / "run" / "trace-step-0.json").read_text())
    v_phase = trace["nominal_voltage_v"] / math.sqrt(3.0)
    three = trace["three_phase"]
    ours = {n["id"]: [v * v_phase for v in n["voltage_pu"]] for n in three["nodes"]}

    compile_dss(feeder)
    DSS.Text.Command = "batchedit load..* model=1 vminpu=0.7 vmaxpu=1.3"
    for name, kw, pf in loads:
        kvar = kw * math.sqrt(max(0.0, 1.0 - pf * pf)) / abs(pf) * math.copysign(1.0, pf)
        DSS.Text.Command = f"edit load.{name} kW={kw - pv.get(name, 0.0)!r} kvar={kvar!r}"
    DSS.Text.Command = "set tolerance=1e-9"
    DSS.Text.Command = "set maxiterations=100"
    DSS.ActiveCircuit.Solution.Solve()
    c = DSS.ActiveCircuit
    volts = c.AllBusVolts
    theirs = {}
    for name, re_, im in zip(c.AllNodeNames, volts[0::2], volts[1::2]):
        bus, node = name.split(".")
        theirs.setdefault(bus, {})[int(node)] = math.hypot(re_, im)
    v_dev, compared, v_lo, v_hi = 0.0, 0, 1e9, 0.0
    for bus, nodes in theirs.items():
        if bus not in ours:
            continue  # the transformer's high-voltage bus
        for k in (1, 2, 3):
            v_dev = max(v_dev, abs(ours[bus][k - 1] - nodes[k]) / nodes[k])
            v_lo, v_hi = min(v_lo, nodes[k]), max(v_hi, nodes[k])
            compared += 1
    row = {"case": label, "buses": len(ours), "loads": len(loads), "nodes": compared, "v_lo": v_lo, "v_hi": v_hi, "v_dev": v_dev,
           "converged": c.Solution.Converged and three["converged"], "sweeps": three["iterations"]}
    row["ok"] = row["converged"] and compared == 3 * len(ours) and v_dev <= VOLTAGE_TOLERANCE
    return row


def markdown(rows):
    lines = [
        "| case | buses | loads | phase voltages compared | lowest / highest (OpenDSS) | max voltage deviation | sweeps | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['case']} | {r['buses']} | {r['loads']} | {r['nodes']} | {r['v_lo']:.2f} / {r['v_hi']:.2f} V | {r['v_dev']:.1e} | "
                     f"{r['sweeps']} | {'ok' if r['ok'] else 'MISSED'} |")
    return "\n".join(lines) + "\n"


CASES = [
    ("street on a stiff 416 V source (4 single-phase houses, a three-phase shop, PV exporting on phase c)", "lv-street", {"H3": 7.0}),
    ("11/0.416 kV Dyn transformer behind a 60 MVA source (8 loads, PV exporting on phase a)", "lv-transformer", {"L4": 9.0, "L5": 6.0}),
    ("IEEE European LV test feeder, its Master.dss (906 buses, 55 loads, 800 kVA Dyn behind a 57 MVA source)",
     REPO / "scenarios" / "feeders" / "ieee-european-lv-dss", {"LOAD1": 6.0, "LOAD2": 5.0, "LOAD34": 8.0}),
]


def check(binary, case, folder):
    # OpenDSS's `compile` changes the process's working directory.
    row = compare(pathlib.Path(binary).resolve(), *case, folder)
    return row["case"], row["ok"], row


if __name__ == "__main__":
    harness.run(__doc__, CASES, check, f"OpenDSS engine (dss-python {dss.__version__}); target: per-phase voltages within {VOLTAGE_TOLERANCE:.1%}", markdown)
