#!/usr/bin/env python3
"""Totals of an Ausgrid solar-home file, summed straight from the raw CSV, independently of
peergrid's reader: the reference for tests/ausgrid.rs.

usage: ausgrid_totals.py FILE [CUSTOMER]
prints JSON: {"days": ..., "gc_kwh": ..., "cl_kwh": ..., "gg_kwh": ...}

Reshaped form (timestamp,GC,GG in kW, mean over each half hour): kWh = kW x 0.5 h.
Original wide form (customer, capacity, postcode, category, date, 48 values in kWh): summed.
"""
import csv
import json
import sys

path = sys.argv[1]
customer = sys.argv[2] if len(sys.argv) > 2 else None
totals = {"GC": 0.0, "CL": 0.0, "GG": 0.0}
days = set()
with open(path, newline="") as f:
    rows = list(csv.reader(f))
if rows and len(rows[0]) > 1 and rows[0][1].strip() in totals:
    header = [h.strip() for h in rows[0]]
    for row in rows[1:]:
        if not row:
            continue
        days.add(row[0][:10])
        for i, name in enumerate(header):
            if name in totals and row[i].strip():
                totals[name] += float(row[i]) * 0.5
else:
    for row in rows:
        if not row or not row[0].strip().isdigit():
            continue  # title and header lines
        if customer is not None and row[0].strip() != customer:
            continue
        days.add(row[4].strip())
        totals[row[3].strip()] += sum(float(v) for v in row[5:53] if v.strip())
print(json.dumps({"days": len(days), "gc_kwh": totals["GC"], "cl_kwh": totals["CL"], "gg_kwh": totals["GG"]}))
