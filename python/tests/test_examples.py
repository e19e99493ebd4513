"""The example scripts run (shortened where they train)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("script, args, expect", [
    ("custom_rule.py", [], "the greedy rule is stopped: rule `Greedy` at step"),
    ("compare_rules.py", ["--chart", "{tmp}/chart.png"], "py-double-auction"),
    ("learn_bidding.py", ["--agents", "3", "--episodes", "4", "--days", "1"], "all learners:"),
])
def test_an_example_runs(script, args, expect, tmp_path):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    out = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert expect in out.stdout
