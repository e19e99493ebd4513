"""Parquet outputs read by pandas and pyarrow equal their CSVs to the last digit.

Runs two days of scenarios/village.ron with `--format both --household-series` and, for each
table, reads the Parquet file with pandas (pyarrow engine) and the CSV as text, then checks every
value: integers and text exactly, floats bit for bit against Python's correctly rounded parse of
the CSV text, money (int64 micro-units, the unit in the field's metadata) against the CSV's
six-place decimal, UTC times against the CSV's ISO text, nulls against empty fields.

    python validation/parquet_pandas.py --peergrid target/release/peergrid
"""

import argparse
import math
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
TABLES = ["timeseries", "trades", "households", "lines", "household_timeseries"]


def decimal_micros(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    whole, frac = divmod(abs(int(micros)), 1_000_000)
    return f"{sign}{whole}.{frac:06d}"


def same(kind, value, text: str) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value) and text == ""):
        return text == ""
    if pd.isna(value) and not isinstance(value, float):
        return text == ""
    if kind == "money":
        return decimal_micros(value) == text
    if kind == "float64":
        t = float(text)
        return (math.isnan(t) and math.isnan(value)) or t == value
    if kind == "float32":
        t = np.float32(text)
        return (np.isnan(t) and np.isnan(value)) or t == np.float32(value)
    if kind == "int":
        return str(int(value)) == text
    if kind == "bool":
        return ("true" if value else "false") == text
    if kind == "utc":
        return value.strftime("%Y-%m-%dT%H:%M:%SZ") == text
    return str(value) == text


def kinds(path: Path) -> dict:
    out = {}
    for field in pq.read_schema(path):
        t = str(field.type)
        meta = field.metadata or {}
        if b"unit" in meta:
            out[field.name] = "money"
        elif t == "double":
            out[field.name] = "float64"
        elif t == "float":
            out[field.name] = "float32"
        elif t in ("int64", "uint64"):
            out[field.name] = "int"
        elif t == "bool":
            out[field.name] = "bool"
        elif t.startswith("timestamp"):
            assert t == "timestamp[us, tz=UTC]", t
            out[field.name] = "utc"
        else:
            out[field.name] = "text"
    return out


def check(dir: Path, name: str) -> int:
    pqf = dir / f"{name}.parquet"
    df = pd.read_parquet(pqf)
    csv = pd.read_csv(dir / f"{name}.csv", dtype=str, keep_default_na=False)
    assert list(df.columns) == list(csv.columns), f"{name}: columns differ"
    assert len(df) == len(csv), f"{name}: {len(df)} rows in Parquet, {len(csv)} in the CSV"
    ks = kinds(pqf)
    for col in df.columns:
        k = ks[col]
        values = df[col].astype(object).where(df[col].notna(), None) if k in ("money", "int", "bool", "text", "utc") else df[col].to_numpy()
        for i, (v, t) in enumerate(zip(values, csv[col])):
            if v is not None and k in ("float64", "float32") and np.isnan(v) and t == "":
                continue
            if not same(k, v, t):
                sys.exit(f"FAIL {name} row {i} column {col}: Parquet {v!r} != CSV {t!r}")
    return len(df)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--peergrid", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "village"
        subprocess.run(
            [args.peergrid, "run", str(ROOT / "scenarios/village.ron"), "--steps", "192", "--format", "both",
             "--household-series", "--out", str(out), "--quiet"],
            check=True,
        )
        for name in TABLES:
            rows = check(out, name)
            print(f"{name}.parquet equals {name}.csv: {rows} rows, {len(pd.read_parquet(out / f'{name}.parquet').columns)} columns")
    print("OK: every Parquet file equals its CSV to the last digit (pandas", pd.__version__, ")")


if __name__ == "__main__":
    main()
