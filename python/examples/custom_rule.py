"""A trading rule written in Python, registered by name and compared with the built-in ones.

    python python/examples/custom_rule.py [SCENARIO]

`MidpointPairs` walks the merit order like the double auction but prices every match at the
midpoint of its own bid and ask (discriminatory pricing: each pair splits its own surplus). The
core checks every match it returns (no order over-filled, no buyer above its bid, no seller below
its ask); the second part shows a broken rule being stopped with the step named.
"""

import sys
from pathlib import Path

import peergrid
from peergrid.reference import merit_order_matches

ROOT = Path(__file__).resolve().parents[2]


class MidpointPairs:
    name = "midpoint-pairs"

    def clear(self, book):
        out = []
        for i, j, kwh in merit_order_matches(book):
            bid, ask = book.bids[i].limit_micros, book.asks[j].limit_micros
            out.append((i, j, kwh, (bid + ask) / 2))
        return out


class Greedy:
    """Sells every ask to the first bid, whatever its size: over-fills."""

    def clear(self, book):
        return [(0, j, ask.kwh, float(ask.limit_micros)) for j, ask in enumerate(book.asks)]


scenario = peergrid.Scenario.load(sys.argv[1] if len(sys.argv) > 1 else ROOT / "scenarios" / "village.ron")
peergrid.register_rule("midpoint-pairs", MidpointPairs, summary="pay-as-bid at each pair's midpoint")
table = peergrid.compare(scenario, ["double-auction", "pay-as-bid", "midpoint-pairs"]).to_pandas().set_index("rule")
print(table[["savings", "self_sufficiency", "p2p_kwh", "p2p_price_mean"]].to_string(float_format=lambda x: f"{x:,.3f}"))

res = peergrid.run(scenario, MidpointPairs)
bills = res.households.to_pandas()
print(f"\nmidpoint-pairs: {res.trades.num_rows:,} trades; households' bills {bills['bill'].sum() / 1e6:,.2f} {scenario.currency}")

try:
    peergrid.run(scenario, Greedy, steps=200)
except peergrid.RunError as e:
    print(f"\nthe greedy rule is stopped: {str(e).splitlines()[0]}")
