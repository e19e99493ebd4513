"""What the validation scripts share: the command line, a temporary folder per case, the report."""

import argparse
import pathlib
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parent.parent


def data_dir():
    """The folder of pvlib's test data: `--data DIR` (taken out of the command line), else
    `target/validation-data`, where `.ci/run` extracts them."""
    if "--data" in sys.argv:
        i = sys.argv.index("--data")
        # Absolute: scenarios name their weather files relative to themselves.
        folder = pathlib.Path(sys.argv[i + 1]).resolve()
        del sys.argv[i:i + 2]
        return folder
    return REPO / "target" / "validation-data"


def run(doc, cases, check, heading, table):
    """Parses `--peergrid` and `--markdown`, runs `check(binary, case, folder)` for each case
    (returning its label, whether it met its targets, and its row), prints `heading` and
    `table(rows)`, and exits 1 if any case missed a target."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--peergrid", default=str(REPO / "target" / "release" / "peergrid"))
    ap.add_argument("--markdown", help="also write the table to this file")
    args = ap.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, case in enumerate(cases):
            folder = pathlib.Path(tmp) / str(i)
            folder.mkdir()
            results.append(check(args.peergrid, case, folder))
    text = table([row for _, _, row in results])
    print(heading + "\n")
    print(text)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(text)
    missed = [label for label, ok, _ in results if not ok]
    if missed:
        sys.exit(f"missed a target: {', '.join(missed)}")


def timeseries(binary, scenario, out):
    """Runs `peergrid run scenario --out out` (ledger off) and returns timeseries.csv's rows."""
    import csv
    import subprocess

    result = subprocess.run([str(binary), "run", str(scenario), "--out", str(out), "--force", "--quiet", "--ledger", "off"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"peergrid failed on {scenario}:\n{result.stderr}")
    with open(pathlib.Path(out) / "timeseries.csv", newline="") as f:
        return list(csv.DictReader(f))
