"""peergrid: a simulator of solar peer-to-peer energy trading in a smart grid, from Python.

- ``Scenario.load(path)``, ``.set(field, value)``, ``.check()``: scenario files, validated as the
  command line validates them (``ScenarioError`` carries its messages).
- ``run(scenario, ...) -> Results``: one run, by the command line's own code; the summary as a
  dict and the tables as ``pyarrow.Table`` (``.to_pandas()``, ``polars.from_arrow``).
- ``compare(scenario, rules, ...)``: several rules on identical inputs, one row per rule.
- ``register_rule(name, rule)``: a trading rule written in Python, used by name like a built-in
  one; ``run(..., bidding={...})``: bidding strategies written in Python.
- ``peergrid.env``: a PettingZoo ``ParallelEnv`` and a Gymnasium ``Env`` whose agents are
  households setting their bid and ask prices.

See docs/python.md in the repository for the conventions a rule follows.
"""

from __future__ import annotations

import fnmatch
import json
import tempfile
from pathlib import Path
from typing import Any, Mapping

from . import _peergrid
from ._peergrid import Book, Need, Order, Prices, RunError, Scenario, ScenarioError, register_rule, rules

__all__ = [
    "Book", "Need", "Order", "Prices", "Results", "RunError", "Scenario", "ScenarioError",
    "compare", "register_rule", "rules", "run",
]

#: The tables a run writes, as ``Results`` attributes (file name without extension).
TABLES = ("timeseries", "households", "trades", "lines", "household_timeseries")
#: Columns read as text from CSV tables (ids and local times).
CSV_TEXT_COLUMNS = ("time", "time_utc", "household", "seller", "buyer", "node", "community", "line", "from", "to", "id")
#: The files' formats ``run`` writes with ``out``.
FORMATS = ("parquet", "csv", "both")


class Results:
    """A run's results.

    ``summary`` is ``summary.json`` as a dict. ``timeseries``, ``households``, ``trades``,
    ``lines`` and ``household_timeseries`` are ``pyarrow.Table`` s with the columns of the files
    of the same names (docs/outputs.md: money in integer micro-units in Parquet), or ``None``
    where the run wrote no such table (``trades`` needs output level ``full``; ``lines`` a grid;
    ``household_timeseries`` ``household_series=True``). Each is read from the run's files when
    first used, then kept. ``path`` is the run's folder when ``out`` was given, else ``None``: the
    files are then in a temporary folder, removed when the results are (or by ``close()``, which
    reads every table first).
    """

    def __init__(self, folder: str | Path, temporary: tempfile.TemporaryDirectory | None = None):
        self._folder = Path(folder)
        self._temporary = temporary
        self._tables: dict[str, Any] = {}
        self.summary: dict = json.loads((self._folder / "summary.json").read_text())
        #: The files the run wrote.
        self.files: list[str] = sorted(p.name for p in self._folder.iterdir())

    @property
    def path(self) -> Path | None:
        return None if self._temporary is not None else self._folder

    def table(self, name: str):
        """The table ``name`` (a file name without extension): Parquet where it was written,
        else CSV; ``None`` if the run wrote neither."""
        if name not in self._tables:
            import pyarrow.csv
            import pyarrow.parquet

            parquet, csv = self._folder / f"{name}.parquet", self._folder / f"{name}.csv"
            if parquet.exists():
                self._tables[name] = pyarrow.parquet.read_table(parquet)
            elif csv.exists():
                # Ids and local times stay text (as written), not numbers or UTC timestamps.
                text = {c: pyarrow.string() for c in CSV_TEXT_COLUMNS}
                self._tables[name] = pyarrow.csv.read_csv(csv, convert_options=pyarrow.csv.ConvertOptions(column_types=text))
            elif self._temporary is not None and not self._folder.exists():
                raise RuntimeError("the results were closed: read tables before close()")
            else:
                self._tables[name] = None
        return self._tables[name]

    timeseries = property(lambda self: self.table("timeseries"), doc="Community totals per step.")
    households = property(lambda self: self.table("households"), doc="One row per household: totals, bills, savings.")
    trades = property(lambda self: self.table("trades"), doc="Every trade (output level full).")
    lines = property(lambda self: self.table("lines"), doc="One row per line: loading, losses, limits.")
    household_timeseries = property(lambda self: self.table("household_timeseries"), doc="Per household and step (household_series=True).")

    def close(self) -> None:
        """Reads every table, then removes the temporary folder (if any)."""
        for name in TABLES:
            self.table(name)
        if self._temporary is not None:
            self._temporary.cleanup()

    def __enter__(self) -> "Results":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        written = ", ".join(n for n in TABLES if f"{n}.parquet" in self.files or f"{n}.csv" in self.files)
        return f"Results({self.summary.get('scenario', '?')!r}, rule={self.summary.get('rule')!r}, tables: {written})"


def _scenario(scenario: "Scenario | str | Path") -> Scenario:
    return scenario if isinstance(scenario, Scenario) else Scenario.load(str(scenario))


def _name_of(rule: Any) -> str | None:
    """A rule's name: itself for a name, else a Python rule's ``name`` attribute (else its
    class's name)."""
    if rule is None or isinstance(rule, str):
        return rule
    return getattr(rule, "name", None) or (rule.__name__ if isinstance(rule, type) else type(rule).__name__)


def _rule_name(rule: Any) -> str | None:
    """A rule given by name, or a Python rule (class or object with ``clear``) registered under
    its name (``_name_of``), replacing a rule registered under that name before."""
    name = _name_of(rule)
    if rule is not None and not isinstance(rule, str):
        register_rule(name, rule)
    return name


def _strategies(scenario: Scenario, bidding: Mapping[Any, Any] | None) -> list[tuple[list[int], Any]]:
    """``{households: strategy}`` as (indices, strategy) pairs. A key is a household id, a
    pattern of ids (``"v0*"``, fnmatch) or a tuple of ids; no household may be in two."""
    if not bidding:
        return []
    ids = scenario.households
    index = {h: i for i, h in enumerate(ids)}
    taken: dict[int, Any] = {}
    pairs = []
    for key, strategy in bidding.items():
        if isinstance(key, str) and key in index:
            chosen = [index[key]]
        elif isinstance(key, str):
            chosen = [index[h] for h in fnmatch.filter(ids, key)]
        elif not isinstance(key, (tuple, frozenset)):
            raise ScenarioError(f"bidding: key {key!r}: use a household id, a pattern of ids or a tuple of ids")
        else:
            missing = [h for h in key if h not in index]
            if missing:
                raise ScenarioError(f"bidding: {missing[0]!r} is not a household of {scenario.name}")
            chosen = [index[h] for h in key]
        if not chosen:
            raise ScenarioError(f"bidding: {key!r} names no household of {scenario.name}")
        for i in chosen:
            if i in taken:
                raise ScenarioError(f"bidding: household {ids[i]!r} is in {taken[i]!r} and {key!r}")
            taken[i] = key
        pairs.append((chosen, strategy))
    return pairs


def run(
    scenario: "Scenario | str | Path",
    rule: Any = None,
    *,
    seed: int | None = None,
    steps: int | None = None,
    bidding: Mapping[Any, Any] | None = None,
    out: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
    household_series: bool = False,
    format: str = "parquet",
) -> Results:
    """Runs a scenario as ``peergrid run`` does and returns its results.

    ``rule``: a rule's name (built-in or registered) or a Python rule (registered on the way);
    default the scenario's. ``seed``, ``steps``: as ``--seed`` and ``--steps``. ``bidding``:
    bidding strategies written in Python, ``{households: strategy}`` (see docs/python.md).
    ``out``: keep the run's folder there (as the CLI writes it; ``force`` replaces one), in
    ``format`` ``"parquet"``, ``"csv"`` or ``"both"``; without it the files (Parquet) go to a
    temporary folder that lives as long as the results. ``threads``: worker threads (results are the same for any).
    Raises ``ScenarioError`` for bad input and ``RunError`` when a Python rule or strategy fails.
    """
    if format not in FORMATS:
        raise ScenarioError(f"format {format!r}: allowed: {', '.join(FORMATS)}")
    scenario = _scenario(scenario)
    strategies = _strategies(scenario, bidding)
    name = _rule_name(rule)
    kwargs = dict(rule=name, seed=seed, steps=steps, threads=threads, household_series=household_series, strategies=strategies)
    if out is not None:
        _peergrid.run(scenario, str(out), format=format, force=force, **kwargs)
        return Results(out)
    temporary = tempfile.TemporaryDirectory(prefix="peergrid-")
    folder = Path(temporary.name) / "run"
    _peergrid.run(scenario, str(folder), format="parquet", **kwargs)
    return Results(folder, temporary)


def compare(
    scenario: "Scenario | str | Path",
    rules: list[Any],
    *,
    seeds: int = 1,
    steps: int | None = None,
    out: str | Path | None = None,
    force: bool = False,
    threads: int | None = None,
):
    """Runs each rule on identical inputs, as ``peergrid compare`` does, over ``seeds`` seeds
    from the scenario's; returns ``compare.parquet`` as a ``pyarrow.Table`` (one row per rule:
    its KPIs and, over several seeds, their 95% confidence half-widths). Rules are names or
    Python rules. ``out`` keeps the folder (``compare.csv`` and ``compare.parquet``).
    """
    import pyarrow.parquet

    scenario = _scenario(scenario)
    names = [_name_of(r) for r in rules]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ScenarioError(f"compare: rule {repeated[0]!r} is given twice (give Python rules distinct `name` attributes)")
    names = [_rule_name(r) for r in rules]
    kwargs = dict(seeds=seeds, steps=steps, threads=threads, format="both" if out is not None else "parquet")
    if out is not None:
        _peergrid.compare(scenario, str(out), names, force=force, **kwargs)
        return pyarrow.parquet.read_table(Path(out) / "compare.parquet")
    with tempfile.TemporaryDirectory(prefix="peergrid-") as tmp:
        folder = Path(tmp) / "compare"
        _peergrid.compare(scenario, str(folder), names, **kwargs)
        return pyarrow.parquet.read_table(folder / "compare.parquet")
