"""The package against the command line, Python rules and strategies against built-in ones, and
the core's checks on what Python returns."""

import json
import subprocess

import pandas as pd
import pyarrow as pa
import pytest

import peergrid
from peergrid.reference import KDoubleAuction

# summary.json fields that differ between two identical runs (wall-clock time and speed).
TIMING = {"runtime_s", "household_steps_per_s"}


def same_summary(a: dict, b: dict) -> None:
    """Equal but for timing and the files' format (and so the overrides that name it)."""

    def kept(s):
        s = {k: v for k, v in s.items() if k not in TIMING | {"format"}}
        s["provenance"] = {k: v for k, v in s["provenance"].items() if k != "overrides"}
        return s

    assert kept(a) == kept(b)


def test_cli_and_python_give_identical_results_on_the_village(village, cli, tmp_path):
    subprocess.run([cli, "run", village, "--out", str(tmp_path / "cli"), "--format", "both", "--quiet"], check=True)
    res = peergrid.run(village)
    same_summary(res.summary, json.loads((tmp_path / "cli" / "summary.json").read_text()))
    for name in ("timeseries", "households", "trades", "lines"):
        table = getattr(res, name)
        assert table is not None, name
        # The CLI's Parquet file, bit for bit as Arrow...
        assert table.equals(pa.parquet.read_table(tmp_path / "cli" / f"{name}.parquet")), name
        # ...and its CSV file to the last digit (CSV floats are written shortest-round-trip).
        from_csv = pd.read_csv(tmp_path / "cli" / f"{name}.csv", keep_default_na=False, na_values=[""])
        frame = table.to_pandas()
        assert list(frame.columns) == list(from_csv.columns), name
        for col in frame.columns:
            x, y = frame[col], from_csv[col]
            if isinstance(x.dtype, pd.DatetimeTZDtype):
                assert x.equals(pd.to_datetime(y, utc=True).astype(x.dtype)), (name, col)
            elif pd.api.types.is_integer_dtype(x) and pd.api.types.is_float_dtype(y):
                # Money: integer micro-units in Parquet, currency units in CSV.
                assert (x / 1e6).equals(y), (name, col)
            elif pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
                assert x.astype(float).equals(y.astype(float)), (name, col)
            else:
                assert x.astype(str).fillna("").tolist() == y.astype(str).fillna("").tolist(), (name, col)


def test_out_keeps_the_folder_the_cli_would_write(village, cli, tmp_path):
    res = peergrid.run(village, steps=96, out=tmp_path / "py", format="csv")
    subprocess.run([cli, "run", village, "--steps", "96", "--out", str(tmp_path / "cli"), "--quiet"], check=True)
    assert res.path == tmp_path / "py"
    for name in ("timeseries.csv", "households.csv", "trades.csv", "lines.csv", "ledger.jsonl"):
        assert (tmp_path / "py" / name).read_bytes() == (tmp_path / "cli" / name).read_bytes(), name
    with pytest.raises(peergrid.ScenarioError, match="already exists"):
        peergrid.run(village, steps=96, out=tmp_path / "py")


def test_a_python_k_double_auction_reproduces_the_built_in_one_to_the_micro_unit(village):
    peergrid.register_rule("py-double-auction", KDoubleAuction)
    py = peergrid.run(village, "py-double-auction")
    rust = peergrid.run(village, "double-auction")
    for name in ("timeseries", "households", "trades", "lines"):
        assert getattr(py, name).equals(getattr(rust, name)), name
    assert py.summary["rule"] == "py-double-auction"
    assert py.summary["ledger"]["head_hash"] == rust.summary["ledger"]["head_hash"]
    bills = py.households.to_pandas()
    assert bills["bill"].abs().sum() > 0


def test_another_k_and_a_rule_object_match_too(village):
    py = peergrid.run(village, KDoubleAuction(k=0.2), steps=192)
    rust = peergrid.run(peergrid.Scenario.load(village).set("market.params", "{\"k\": 0.2}"), "double-auction", steps=192)
    assert py.trades.equals(rust.trades)


class OverFill:
    """Sells every ask twice over to the first bid."""

    def clear(self, book):
        return [(0, j, 2 * a.kwh + 1.0, float(a.limit_micros)) for j, a in enumerate(book.asks)]


class AboveTheBid:
    def clear(self, book):
        return [(0, 0, min(book.bids[0].kwh, book.asks[0].kwh), book.bids[0].limit_micros + 1.0)]


class Raises:
    def clear(self, book):
        if book.step >= 40:
            raise ValueError("no market today")
        return []


@pytest.mark.parametrize("rule, message", [(OverFill, r"over-fills (bid|ask) 0"), (AboveTheBid, r"above bid 0"), (Raises, r"ValueError: no market today")])
def test_a_rule_that_breaks_the_checks_is_rejected_naming_the_step(village, rule, message):
    peergrid.register_rule("broken", rule)
    with pytest.raises(peergrid.RunError, match=rf"rule `broken` at step \d+: .*{message}") as err:
        peergrid.run(village, "broken", steps=192)
    step = int(str(err.value).split("at step ")[1].split(":")[0])
    assert 0 <= step < 192


def test_built_in_names_cannot_be_taken():
    with pytest.raises(peergrid.ScenarioError, match="built-in"):
        peergrid.register_rule("double-auction", KDoubleAuction)
    with pytest.raises(TypeError, match="clear"):
        peergrid.register_rule("nothing", object())


class Markup:
    """The built-in `Markup(m)` strategy: bid import − m·spread, ask export + m·spread, rounded
    half away from zero to a micro-unit."""

    def __init__(self, m):
        self.m = m

    def limits(self, step, prices, needs):
        spread = max(prices.import_micros - prices.export_micros, 0)
        shift = int(self.m * spread + 0.5)
        return [(prices.import_micros - shift, prices.export_micros + shift)] * len(needs)


def test_a_python_bidding_strategy_reproduces_the_built_in_markup(village):
    scenario = peergrid.Scenario.load(village)
    built_in = peergrid.run(scenario.set("households[0].bidding", "Markup(0.25)"), steps=288)
    python = peergrid.run(scenario, steps=288, bidding={"v*": Markup(0.25)})
    assert python.households.equals(built_in.households)
    assert python.trades.equals(built_in.trades)
    truthful = peergrid.run(scenario, steps=288)
    assert not python.trades.equals(truthful.trades)


def test_strategies_per_group_and_their_errors(village):
    class Silent:
        def limits(self, step, prices, needs):
            return [None] * len(needs)

    class Short:
        def limits(self, step, prices, needs):
            return []

    s = peergrid.Scenario.load(village)
    same = peergrid.run(s, steps=96, bidding={("v001", "v002"): Silent, "v1*": Silent()})
    assert same.trades.equals(peergrid.run(s, steps=96).trades)
    with pytest.raises(peergrid.RunError, match=r"bidding strategy 0 at step \d+: .*returned 0 items"):
        peergrid.run(s, steps=96, bidding={"v*": Short()})
    with pytest.raises(peergrid.ScenarioError, match="names no household"):
        peergrid.run(s, steps=96, bidding={"x*": Silent()})
    with pytest.raises(peergrid.ScenarioError, match="is in"):
        peergrid.run(s, steps=96, bidding={"v00*": Silent(), "v001": Silent()})


def test_scenario_set_and_check_raise_the_cli_messages(village):
    s = peergrid.Scenario.load(village)
    assert s.name == "village" and len(s.households) == 150 and s.steps == 2880
    changed = s.set("duration_days", 2)
    assert changed.steps == 192 and s.steps == 2880
    assert changed.sets == ["duration_days=2"]
    changed.check()
    with pytest.raises(peergrid.ScenarioError, match=r"village.ron.*step_minutes"):
        s.set("step_minutes", 7)
    with pytest.raises(peergrid.ScenarioError, match="unknown rule"):
        peergrid.run(s, "no-such-rule", steps=4)
    with pytest.raises(peergrid.ScenarioError):
        peergrid.Scenario.load("does/not/exist.ron")


def test_compare_tabulates_rules_including_python_ones(village):
    table = peergrid.compare(village, ["double-auction", KDoubleAuction, "pay-as-bid"], steps=192)
    frame = table.to_pandas().set_index("rule")
    assert list(frame.index) == ["double-auction", "py-double-auction", "pay-as-bid"]
    numbers = frame.select_dtypes("number")
    assert numbers.loc["double-auction"].equals(numbers.loc["py-double-auction"])


def test_ctrl_c_stops_a_run_and_leaves_no_folder(village, tmp_path):
    import _thread
    import time

    class InterruptedAuction(KDoubleAuction):
        """Presses Ctrl-C at step 8, then clears slowly, so the run cannot finish before the
        signal is seen (a whole month with a Python rule takes only ~0.3 s on a fast machine)."""

        def __init__(self):
            super().__init__()
            self.steps = 0

        def clear(self, book):
            self.steps += 1
            if self.steps == 8:
                _thread.interrupt_main()
            if self.steps >= 8:
                time.sleep(0.005)
            return super().clear(book)

    peergrid.register_rule("interrupted-double-auction", InterruptedAuction)
    with pytest.raises(KeyboardInterrupt):
        peergrid.run(village, "interrupted-double-auction", out=tmp_path / "run")
    # A run that went on to its end would have written its folder.
    assert list(tmp_path.iterdir()) == []
    # The next run is not stopped by the last one's signal.
    assert peergrid.run(village, steps=8).summary["steps"] == 8


def test_results_read_tables_when_used_and_close_removes_the_temporary_folder(village, cli, tmp_path):
    res = peergrid.run(village, steps=8)
    assert res.path is None and "trades.parquet" in res.files
    res.close()
    assert res.trades is not None and res.trades.num_rows == res.summary["trades"]
    subprocess.run([cli, "run", village, "--steps", "8", "--out", str(tmp_path / "cli"), "--quiet"], check=True)
    from_cli = peergrid.Results(tmp_path / "cli")
    assert from_cli.path == tmp_path / "cli"
    assert from_cli.trades.num_rows == res.trades.num_rows and from_cli.household_timeseries is None


def test_values_matches_and_limits_come_as_python_or_numpy_values(village):
    import numpy as np

    s = peergrid.Scenario.load(village)
    assert s.set("households[0].pv_share", np.float64(0.5)).sets == ["households[0].pv_share=0.5"]
    assert s.set("duration_days", np.int64(3)).steps == 288
    assert s.set("market.params", {"k": 0.25}).sets == ['market.params={"k": 0.25}']

    class AsLists(KDoubleAuction):
        def clear(self, book):
            return [list(m) for m in super().clear(book)]

    class NumpyMarkup(Markup):
        def limits(self, step, prices, needs):
            return np.array(super().limits(step, prices, needs), dtype=np.int64)

    assert peergrid.run(village, AsLists, steps=192).trades.equals(peergrid.run(village, "double-auction", steps=192).trades)
    assert peergrid.run(village, steps=96, bidding={"v*": NumpyMarkup(0.25)}).trades.equals(peergrid.run(village, steps=96, bidding={"v*": Markup(0.25)}).trades)


def test_absurd_limits_stop_the_run(village):
    class Absurd:
        def limits(self, step, prices, needs):
            return [(1e15, 0)] * len(needs)

    with pytest.raises(peergrid.RunError, match=r"bidding strategy 0 at step \d+: limits .* at most 10000000000"):
        peergrid.run(village, steps=96, bidding={"v*": Absurd()})


def test_a_rule_object_is_copied_for_each_run(village):
    class Counting(KDoubleAuction):
        name = "counting"

        def __init__(self):
            super().__init__()
            self.calls = 0

        def clear(self, book):
            self.calls += 1
            return super().clear(book)

    rule = Counting()
    table = peergrid.compare(village, [rule], seeds=2, steps=192, threads=2)
    assert rule.calls == 0 and table.num_rows == 1


def test_bad_keys_formats_and_csv_folders(village, tmp_path):
    class Silent:
        def limits(self, step, prices, needs):
            return [None] * len(needs)

    with pytest.raises(peergrid.ScenarioError, match="use a household id"):
        peergrid.run(village, steps=8, bidding={3: Silent()})
    with pytest.raises(peergrid.ScenarioError, match="format 'xlsx'"):
        peergrid.run(village, steps=8, format="xlsx")
    res = peergrid.run(village, steps=96, out=tmp_path / "csv", format="csv")
    assert res.timeseries.schema.field("time").type == pa.string()
    assert res.households.schema.field("household").type == pa.string()
    assert res.households.column("bill").type == pa.float64()
