"""Every trading rule, and one written in Python, on identical inputs: a pandas table and a chart.

    python python/examples/compare_rules.py [SCENARIO] [--seeds N] [--chart FILE.png]

Runs each built-in rule and `peergrid.reference.KDoubleAuction` (the double auction written in
Python, which must give the same numbers as the built-in one) on the scenario's weather, loads and
grid, prints the key figures per rule and draws savings and self-sufficiency (matplotlib, if
installed).
"""

import argparse
from pathlib import Path

import peergrid
from peergrid.reference import KDoubleAuction

ROOT = Path(__file__).resolve().parents[2]

parser = argparse.ArgumentParser()
parser.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "village.ron"))
parser.add_argument("--seeds", type=int, default=1)
parser.add_argument("--chart", default="compare_rules.png")
args = parser.parse_args()

scenario = peergrid.Scenario.load(args.scenario)
rules = [r for r in peergrid.rules() if r != "grid-only"] + [KDoubleAuction]
table = peergrid.compare(scenario, rules, seeds=args.seeds).to_pandas().set_index("rule")

shown = ["savings", "self_sufficiency", "self_consumption", "p2p_kwh", "p2p_price_mean", "gini_savings", "share_worse_off"]
shown = [c for c in shown if c in table.columns]
print(f"{scenario.name}: {len(scenario.households)} households, {scenario.steps} steps, {args.seeds} seed(s)")
print(table[shown].sort_values(shown[0], ascending=False).to_string(float_format=lambda x: f"{x:,.3f}"))

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("(matplotlib is not installed: no chart)")
else:
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ordered = table.sort_values(shown[0])
    ordered[shown[0]].plot.barh(ax=axes[0], title=f"{shown[0]} ({scenario.currency or 'currency'})")
    ordered[shown[1]].plot.barh(ax=axes[1], title=shown[1])
    fig.tight_layout()
    fig.savefig(args.chart, dpi=120)
    print(f"wrote {args.chart}")
