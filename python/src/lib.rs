//! `peergrid._peergrid`: the simulator's core for the Python package (`peergrid/__init__.py`
//! wraps it). Scenarios load and check with the CLI's messages; runs and comparisons go through
//! the CLI's own code into a folder the package reads back; trading rules and bidding strategies
//! written in Python plug into the core's registry and bid overrides (`market::external`), whose
//! checks every result passes; a session steps one simulation for the learning environment.

use peergrid::app::driver::RunError as CoreRunError;
use peergrid::base::money::PricePerKwh;
use peergrid::environment::tariff::StepPrices;
use peergrid::household::battery::Battery;
use peergrid::household::{Household, Meter, Wallet};
use peergrid::market::external::{self, BidNeed, ExternalBidding, ExternalClearing, Match, StrategyFactory};
use peergrid::market::{registry, Clearing, OfferSource};
use peergrid::scenario::{FieldSet, Overrides, Scenario as CoreScenario, TableFormat};
use peergrid::sim::Simulation;
use pyo3::create_exception;
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyList, PyType};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

create_exception!(_peergrid, ScenarioError, PyValueError, "The scenario, a `set` or an argument is not valid; the message is the CLI's (file, line, field).");
create_exception!(_peergrid, RunError, PyRuntimeError, "A run failed: a Python rule or strategy raised or broke the core's checks (the step is named), or files could not be written.");

fn input_error(e: impl std::fmt::Display) -> PyErr {
    ScenarioError::new_err(e.to_string())
}

fn run_error(e: CoreRunError) -> PyErr {
    match e {
        CoreRunError::Input(e) => input_error(e),
        CoreRunError::OutputExists(p) => ScenarioError::new_err(format!("{} already exists; pass force=True to replace it, or choose another out", p.display())),
        other => RunError::new_err(other.to_string()),
    }
}

/// A Python exception as one message: its type, text and traceback.
fn python_error(py: Python<'_>, e: PyErr) -> String {
    let trace = e.traceback(py).and_then(|t| t.format().ok()).unwrap_or_default();
    format!("{e}\n{trace}").trim_end().to_string()
}

/// A scenario file with the changes made to it (`set`), validated as the CLI validates it.
#[pyclass(module = "peergrid._peergrid", frozen)]
struct Scenario {
    path: PathBuf,
    sets: Vec<FieldSet>,
    loaded: Arc<CoreScenario>,
}

fn load(path: &std::path::Path, sets: &[FieldSet]) -> PyResult<Arc<CoreScenario>> {
    CoreScenario::load(path, &Overrides { sets: sets.to_vec(), ..Default::default() }).map(Arc::new).map_err(input_error)
}

/// A Python value as the text of a `--set` value: a bool, an integer or a float (numpy's too)
/// as a number, a string as given (the command line's text), a dict or list as JSON (which
/// the scenario's syntax reads for maps and lists of plain values), `None` as `None`.
fn value_text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = value.py();
    if value.is_none() {
        return Ok("None".into());
    }
    if value.is_instance_of::<pyo3::types::PyBool>() {
        return Ok(value.is_truthy()?.to_string());
    }
    if let Ok(s) = value.extract::<String>() {
        return Ok(s);
    }
    if let Ok(i) = value.extract::<i64>() {
        return Ok(i.to_string());
    }
    if let Ok(x) = value.extract::<f64>() {
        // Python's repr of a float: the shortest text that reads back to it.
        return Ok(pyo3::types::PyFloat::new(py, x).repr()?.to_string());
    }
    if value.is_instance_of::<pyo3::types::PyDict>() || value.is_instance_of::<pyo3::types::PyList>() || value.is_instance_of::<pyo3::types::PyTuple>() {
        return py.import("json")?.call_method1("dumps", (value,))?.extract();
    }
    Ok(value.str()?.to_string())
}

#[pymethods]
impl Scenario {
    /// Reads and validates a scenario file; raises `ScenarioError` with the CLI's messages.
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Scenario> {
        // Absolute: runs read the file again, whatever the working folder is by then.
        let path = std::path::absolute(&path).unwrap_or(path);
        let loaded = load(&path, &[])?;
        Ok(Scenario { path, sets: Vec::new(), loaded })
    }

    /// A copy with one field changed, as `--set path=value` does (`value`: a number, bool, or
    /// the value's text as on the command line), validated; raises `ScenarioError`.
    fn set(&self, path: &str, value: &Bound<'_, PyAny>) -> PyResult<Scenario> {
        let set: FieldSet = format!("{path}={}", value_text(value)?).parse().map_err(ScenarioError::new_err)?;
        let mut sets = self.sets.clone();
        sets.push(set);
        let loaded = load(&self.path, &sets)?;
        Ok(Scenario { path: self.path.clone(), sets, loaded })
    }

    /// Validates the file (read again) with its changes, as `peergrid check` does; raises
    /// `ScenarioError`.
    fn check(&self) -> PyResult<()> {
        load(&self.path, &self.sets).map(|_| ())
    }

    #[getter]
    fn path(&self) -> PathBuf {
        self.path.clone()
    }
    /// The changes made, as `path=value` texts.
    #[getter]
    fn sets(&self) -> Vec<String> {
        self.sets.iter().map(|s| s.to_string()).collect()
    }
    #[getter]
    fn name(&self) -> String {
        self.loaded.name.clone()
    }
    #[getter]
    fn seed(&self) -> u64 {
        self.loaded.seed
    }
    #[getter]
    fn rule(&self) -> &'static str {
        self.loaded.rule.name
    }
    #[getter]
    fn steps(&self) -> u64 {
        self.loaded.frame.total_steps
    }
    #[getter]
    fn step_minutes(&self) -> u32 {
        self.loaded.frame.step_minutes
    }
    #[getter]
    fn currency(&self) -> Option<String> {
        self.loaded.currency.clone()
    }
    /// Household ids, in household order (the index an order's `household` gives).
    #[getter]
    fn households(&self) -> Vec<String> {
        self.loaded.households.iter().map(|h| h.id.clone()).collect()
    }

    fn __repr__(&self) -> String {
        let sets = if self.sets.is_empty() { String::new() } else { format!(", sets={:?}", self.sets()) };
        format!("Scenario({:?}, name={:?}, households={}, steps={}{sets})", self.path.display().to_string(), self.loaded.name, self.loaded.households.len(), self.loaded.frame.total_steps)
    }
}

fn table_format(format: &str) -> PyResult<TableFormat> {
    match format {
        "csv" => Ok(TableFormat::Csv),
        "parquet" => Ok(TableFormat::Parquet),
        "both" => Ok(TableFormat::Both),
        other => Err(ScenarioError::new_err(format!("format `{other}`: allowed: csv, parquet, both"))),
    }
}

fn thread_count(given: Option<usize>) -> PyResult<usize> {
    match given {
        Some(0) => Err(ScenarioError::new_err("threads must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)),
    }
}

/// How often a run started from Python looks for Ctrl-C.
const SIGNAL_CHECK: std::time::Duration = std::time::Duration::from_millis(100);

/// Runs `job` (a command) on a thread of its own with the GIL released, so rules and strategies
/// written in Python can run on the simulation's threads, while this thread looks for Python's
/// signals: Ctrl-C stops the job at its next step as it stops the command line (the staging
/// folder is removed, nothing is written) and raises `KeyboardInterrupt`.
/// A panic in the core (a bug) comes back as `RunError`, not as Python's `PanicException`.
fn interruptible<T: Send>(py: Python<'_>, job: impl FnOnce() -> Result<T, CoreRunError> + Send) -> PyResult<T> {
    use peergrid::app::driver::INTERRUPTED;
    use std::sync::atomic::Ordering;
    std::thread::scope(|scope| {
        let (done, mut result) = std::sync::mpsc::channel();
        scope.spawn(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job)).unwrap_or_else(|panic| {
                let why = panic.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| panic.downcast_ref::<String>().cloned()).unwrap_or_default();
                Err(CoreRunError::Failed(format!("internal error (a bug in peergrid, please report it): {why}")))
            });
            let _ = done.send(outcome);
        });
        let mut stopped: Option<PyErr> = None;
        loop {
            // The receiver goes into the GIL-free closure and comes back (it is not `Sync`).
            let (received, back) = py.detach(move || (result.recv_timeout(SIGNAL_CHECK), result));
            result = back;
            match received {
                Ok(outcome) => {
                    INTERRUPTED.store(false, Ordering::SeqCst);
                    return match stopped {
                        Some(signal) => Err(signal),
                        None => outcome.map_err(run_error),
                    };
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    if let (None, Err(signal)) = (&stopped, py.check_signals()) {
                        INTERRUPTED.store(true, Ordering::SeqCst);
                        stopped = Some(signal);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    INTERRUPTED.store(false, Ordering::SeqCst);
                    return Err(RunError::new_err("the run stopped without a result"));
                }
            }
        }
    })
}

/// Runs a scenario as `peergrid run` does, writing its folder `out` (the package reads it back).
/// `strategies`: (household indices, strategy class or object) pairs.
#[pyfunction]
#[pyo3(signature = (scenario, out, *, rule=None, seed=None, steps=None, threads=None, format="parquet", household_series=false, force=false, strategies=Vec::new()))]
#[allow(clippy::too_many_arguments)]
fn run(py: Python<'_>, scenario: &Scenario, out: PathBuf, rule: Option<String>, seed: Option<u64>, steps: Option<u64>, threads: Option<usize>, format: &str, household_series: bool, force: bool, strategies: Vec<(Vec<u32>, Py<PyAny>)>) -> PyResult<()> {
    let overrides = Overrides { rule, seed, steps, sets: scenario.sets.clone(), format: Some(table_format(format)?), household_series, ..Default::default() };
    let s = Arc::new(CoreScenario::load(&scenario.path, &overrides).map_err(input_error)?);
    let n = s.households.len();
    let ids = Arc::new(s.households.iter().map(|h| h.id.clone()).collect::<Vec<_>>());
    let mut groups = Vec::new();
    for (households, strategy) in strategies {
        let mut covers = vec![false; n];
        for h in households {
            *covers.get_mut(h as usize).ok_or_else(|| ScenarioError::new_err(format!("bidding: household index {h}: the scenario has {n} households")))? = true;
        }
        groups.push((Arc::new(covers), Arc::new(Source::of(py, strategy, "limits")?)));
    }
    let bidding = (!groups.is_empty()).then(|| {
        StrategyFactory(Arc::new(move || groups.iter().map(|(covers, source)| Box::new(PyStrategy { covers: covers.clone(), source: source.clone(), instance: None, ids: ids.clone() }) as Box<dyn ExternalBidding>).collect()))
    });
    let opts = peergrid::app::run::RunOptions { out_dir: out, force, threads: thread_count(threads)?, progress: false, trace_step: None, keys: None, bidding, replay: false };
    interruptible(py, || peergrid::app::run::run(s, &opts)).map(|_| ())
}

/// Compares rules on the scenario as `peergrid compare` does, writing `out/compare.*`.
#[pyfunction]
#[pyo3(signature = (scenario, out, rules, *, seeds=1, steps=None, threads=None, format="parquet", force=false))]
#[allow(clippy::too_many_arguments)]
fn compare(py: Python<'_>, scenario: &Scenario, out: PathBuf, rules: Vec<String>, seeds: u32, steps: Option<u64>, threads: Option<usize>, format: &str, force: bool) -> PyResult<()> {
    if seeds == 0 {
        return Err(ScenarioError::new_err("seeds must be at least 1"));
    }
    let rules = rules
        .iter()
        .map(|name| registry::find(name).ok_or_else(|| ScenarioError::new_err(format!("unknown rule `{name}`; allowed: {}", registry::names().join(", ")))))
        .collect::<PyResult<Vec<_>>>()?;
    if rules.is_empty() {
        return Err(ScenarioError::new_err("no rules to compare"));
    }
    let opts = peergrid::app::compare::CompareOptions { scenario: scenario.path.clone(), rules, seeds, steps, sets: scenario.sets.clone(), out_dir: out, force, threads: thread_count(threads)?, format: Some(table_format(format)?) };
    interruptible(py, || peergrid::app::compare::compare(&opts)).map(|_| ())
}

/// Every rule's name: built-in, then registered from Python.
#[pyfunction]
fn rules() -> Vec<&'static str> {
    registry::names()
}

/// A rule's or strategy's Python side: a class (a fresh instance for every run, made on its
/// first call) or an object (a deep copy of it for every run, so parallel runs of `compare`
/// and the communities of one run never share its state).
struct Source {
    object: Py<PyAny>,
    is_class: bool,
}

impl Source {
    fn of(py: Python<'_>, object: Py<PyAny>, method: &str) -> PyResult<Source> {
        let bound = object.bind(py);
        if !bound.hasattr(method)? {
            return Err(PyTypeError::new_err(format!("{} has no `{method}` method", bound.repr()?)));
        }
        let is_class = bound.is_instance_of::<PyType>();
        Ok(Source { object, is_class })
    }

    fn instance<'py>(&self, py: Python<'py>, made: &mut Option<Py<PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        if made.is_none() {
            let object = if self.is_class { self.object.bind(py).call0()? } else { py.import("copy")?.call_method1("deepcopy", (self.object.bind(py),))? };
            let object = object.unbind();
            *made = Some(object);
        }
        Ok(made.as_ref().map(|o| o.bind(py).clone()).unwrap_or_else(|| self.object.bind(py).clone()))
    }
}

/// One order of the book handed to a Python rule.
#[pyclass(module = "peergrid._peergrid", frozen, get_all)]
struct Order {
    /// The household's index (`Scenario.households[household]` is its id).
    household: u32,
    kwh: f64,
    /// The highest price a bid pays or the lowest an ask takes, micro-units per kWh.
    limit_micros: i64,
    /// "pv" or "battery" (asks; bids say "pv").
    source: &'static str,
}

#[pymethods]
impl Order {
    fn __repr__(&self) -> String {
        format!("Order(household={}, kwh={}, limit_micros={}, source={:?})", self.household, self.kwh, self.limit_micros, self.source)
    }
}

/// The step's book as a Python rule gets it: bids and asks in the order the core collected them
/// (not a merit order: households grouped by their kind, battery asks after PV asks; with
/// network fees, one zone's book at a time), and the step's grid prices.
#[pyclass(module = "peergrid._peergrid", frozen, get_all)]
struct Book {
    step: u64,
    import_micros: i64,
    export_micros: i64,
    connected: bool,
    bids: Py<PyList>,
    asks: Py<PyList>,
}

#[pymethods]
impl Book {
    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Book(step={}, bids={}, asks={})", self.step, self.bids.bind(py).len(), self.asks.bind(py).len())
    }
}

fn orders(py: Python<'_>, orders: &[peergrid::market::Order]) -> PyResult<Py<PyList>> {
    let items = orders.iter().map(|o| Order { household: o.household, kwh: o.kwh, limit_micros: o.limit.0, source: if o.source == OfferSource::Battery { "battery" } else { "pv" } });
    Ok(PyList::new(py, items.map(|o| Py::new(py, o)).collect::<PyResult<Vec<_>>>()?)?.unbind())
}

/// A rule registered from Python, in one run.
struct PyClearing {
    source: Arc<Source>,
    instance: Option<Py<PyAny>>,
}

impl ExternalClearing for PyClearing {
    fn clear(&mut self, step: u64, prices: &StepPrices, bids: &[peergrid::market::Order], asks: &[peergrid::market::Order]) -> Result<Vec<Match>, String> {
        Python::attach(|py| {
            let mut matched = || -> PyResult<Vec<Match>> {
                let rule = self.source.instance(py, &mut self.instance)?;
                let book = Book { step, import_micros: prices.import.0, export_micros: prices.export.0, connected: prices.connected, bids: orders(py, bids)?, asks: orders(py, asks)? };
                let result = rule.call_method1("clear", (book,))?;
                let mut matches = Vec::new();
                for (n, item) in result.try_iter()?.enumerate() {
                    let item = item?;
                    let fields = sequence(&item, 4, || format!("match {n}: expected (bid, ask, kwh, price_micros_per_kwh)"))?;
                    let (bid, ask) = (fields[0].extract::<usize>()?, fields[1].extract::<usize>()?);
                    matches.push(Match { bid, ask, kwh: fields[2].extract()?, price_micros_per_kwh: fields[3].extract()? });
                }
                Ok(matches)
            };
            matched().map_err(|e| python_error(py, e))
        })
    }
}

/// Registers a trading rule written in Python under `name`: a class (one instance per run) or
/// an object with `clear(book) -> [(bid, ask, kwh, price_micros_per_kwh), ...]`.
#[pyfunction]
#[pyo3(signature = (name, rule, summary=None))]
fn register_rule(py: Python<'_>, name: &str, rule: Py<PyAny>, summary: Option<String>) -> PyResult<()> {
    let source = Arc::new(Source::of(py, rule, "clear")?);
    let summary = summary.unwrap_or_else(|| "a rule written in Python".into());
    external::register(name, &summary, Arc::new(move |_| Box::new(PyClearing { source: source.clone(), instance: None }))).map(|_| ()).map_err(ScenarioError::new_err)
}

/// What a household brings to the step's market, as a Python strategy sees it.
#[pyclass(module = "peergrid._peergrid", frozen, get_all)]
struct Need {
    household: u32,
    id: String,
    deficit_kwh: f64,
    surplus_kwh: f64,
    battery_offer_kwh: f64,
    flexible_kwh: f64,
}

#[pymethods]
impl Need {
    fn __repr__(&self) -> String {
        format!("Need(id={:?}, deficit_kwh={}, surplus_kwh={}, battery_offer_kwh={}, flexible_kwh={})", self.id, self.deficit_kwh, self.surplus_kwh, self.battery_offer_kwh, self.flexible_kwh)
    }
}

/// The step's grid prices, micro-units per kWh.
#[pyclass(module = "peergrid._peergrid", frozen, get_all)]
struct Prices {
    import_micros: i64,
    export_micros: i64,
    connected: bool,
}

/// A bidding strategy written in Python, for its households, in one run.
struct PyStrategy {
    covers: Arc<Vec<bool>>,
    source: Arc<Source>,
    instance: Option<Py<PyAny>>,
    ids: Arc<Vec<String>>,
}

/// A limit from Python, micro-units per kWh (rounded to a whole micro-unit; the core bounds it).
fn micros(value: f64, what: &str) -> PyResult<PricePerKwh> {
    if !value.is_finite() {
        return Err(PyValueError::new_err(format!("{what} limit {value}: must be a finite price in micro-units per kWh")));
    }
    Ok(PricePerKwh(value.round() as i64))
}

/// The `n` items of a tuple, list or other sequence (a numpy row too).
fn sequence<'py>(item: &Bound<'py, PyAny>, n: usize, what: impl Fn() -> String) -> PyResult<Vec<Bound<'py, PyAny>>> {
    let fields: Vec<Bound<'py, PyAny>> = item.try_iter().map_err(|_| PyTypeError::new_err(what()))?.collect::<PyResult<_>>()?;
    if fields.len() != n {
        return Err(PyTypeError::new_err(format!("{}: got {} items", what(), fields.len())));
    }
    Ok(fields)
}

impl ExternalBidding for PyStrategy {
    fn covers(&self, household: u32) -> bool {
        self.covers.get(household as usize).copied().unwrap_or(false)
    }

    fn limits(&mut self, step: u64, prices: &StepPrices, needs: &[BidNeed], limits: &mut [Option<(PricePerKwh, PricePerKwh)>]) -> Result<(), String> {
        Python::attach(|py| {
            let mut set = || -> PyResult<()> {
                let strategy = self.source.instance(py, &mut self.instance)?;
                let items = needs.iter().map(|n| {
                    let id = self.ids.get(n.household as usize).cloned().unwrap_or_default();
                    Py::new(py, Need { household: n.household, id, deficit_kwh: n.deficit_kwh, surplus_kwh: n.surplus_kwh, battery_offer_kwh: n.battery_offer_kwh, flexible_kwh: n.flexible_kwh })
                });
                let list = PyList::new(py, items.collect::<PyResult<Vec<_>>>()?)?;
                let prices = Prices { import_micros: prices.import.0, export_micros: prices.export.0, connected: prices.connected };
                let result = strategy.call_method1("limits", (step, prices, list))?;
                let mut given = 0;
                for (i, item) in result.try_iter()?.enumerate() {
                    let item = item?;
                    given += 1;
                    let Some(slot) = limits.get_mut(i) else { continue };
                    if !item.is_none() {
                        let pair = sequence(&item, 2, || format!("limits for need {i}: expected (bid_micros, ask_micros) or None"))?;
                        *slot = Some((micros(pair[0].extract()?, "bid")?, micros(pair[1].extract()?, "ask")?));
                    }
                }
                if given != needs.len() {
                    return Err(PyValueError::new_err(format!("limits() returned {given} items for {} needs: one (bid, ask) or None per need", needs.len())));
                }
                Ok(())
            };
            set().map_err(|e| python_error(py, e))
        })
    }
}

/// The environment's actions: each agent's bid and ask as fractions of the step's spread between
/// the export and the import price (0: the export price, 1: the import price).
struct Fractions {
    /// Agent position by household index.
    agent_of: Arc<Vec<Option<usize>>>,
    actions: Arc<Mutex<Vec<(f64, f64)>>>,
}

impl ExternalBidding for Fractions {
    fn covers(&self, household: u32) -> bool {
        self.agent_of.get(household as usize).is_some_and(Option::is_some)
    }

    fn limits(&mut self, _step: u64, prices: &StepPrices, needs: &[BidNeed], limits: &mut [Option<(PricePerKwh, PricePerKwh)>]) -> Result<(), String> {
        let actions = self.actions.lock().map_err(|_| "actions lock poisoned".to_string())?;
        let spread = (prices.import.0 - prices.export.0).max(0) as f64;
        let at = |f: f64| PricePerKwh(prices.export.0 + (f.clamp(0.0, 1.0) * spread).round() as i64);
        for (need, slot) in needs.iter().zip(limits.iter_mut()) {
            if let Some(&(bid, ask)) = self.agent_of.get(need.household as usize).copied().flatten().and_then(|a| actions.get(a)) {
                *slot = Some((at(bid), at(ask)));
            }
        }
        Ok(())
    }
}

/// What an agent observes, in this order (see `peergrid.env`).
const OBSERVATION: [&str; 9] = ["pv_kwh", "load_kwh", "net_kwh", "battery_soc", "import_price", "export_price", "market_price", "market_kwh", "time_of_day"];

type AgentQuery = (&'static Household, &'static Meter, &'static Wallet, Option<&'static Battery>);

/// One simulation stepped from Python (the learning environment): chosen households' bid and ask
/// limits are set each step; their state, the tariff and the step's market figures are read back.
#[pyclass(module = "peergrid._peergrid", unsendable)]
struct Session {
    path: PathBuf,
    sets: Vec<FieldSet>,
    rule: Option<String>,
    steps: Option<u64>,
    agents: Vec<u32>,
    agent_of: Arc<Vec<Option<usize>>>,
    actions: Arc<Mutex<Vec<(f64, f64)>>>,
    /// The last scenario loaded, by seed (a reset with the same seed does not load it again).
    loaded: Option<(u64, Arc<CoreScenario>)>,
    /// The seed of an episode reset without one: the scenario's at first, then one more than
    /// the last episode's.
    next_seed: u64,
    sim: Option<Simulation>,
    query: Option<bevy::ecs::query::QueryState<AgentQuery>>,
    balances: Vec<i64>,
    observation: Vec<f64>,
}

#[pymethods]
impl Session {
    #[new]
    #[pyo3(signature = (scenario, agents, *, rule=None, steps=None))]
    fn new(scenario: &Scenario, agents: Vec<String>, rule: Option<String>, steps: Option<u64>) -> PyResult<Session> {
        let ids: Vec<&str> = scenario.loaded.households.iter().map(|h| h.id.as_str()).collect();
        let mut agent_of = vec![None; ids.len()];
        let mut indices = Vec::new();
        for (a, id) in agents.iter().enumerate() {
            let i = ids.iter().position(|h| h == id).ok_or_else(|| ScenarioError::new_err(format!("agent `{id}` is not a household of {}", scenario.loaded.name)))?;
            if agent_of[i].is_some() {
                return Err(ScenarioError::new_err(format!("agent `{id}` is listed twice")));
            }
            agent_of[i] = Some(a);
            indices.push(i as u32);
        }
        if indices.is_empty() {
            return Err(ScenarioError::new_err("no agents: name at least one household"));
        }
        let n = indices.len();
        Ok(Session {
            path: scenario.path.clone(),
            sets: scenario.sets.clone(),
            rule,
            steps,
            agents: indices,
            agent_of: Arc::new(agent_of),
            actions: Arc::new(Mutex::new(vec![(1.0, 0.0); n])),
            loaded: None,
            next_seed: scenario.loaded.seed,
            sim: None,
            query: None,
            balances: vec![0; n],
            observation: Vec::new(),
        })
    }

    /// The observation's fields, in order.
    #[staticmethod]
    fn observation_names() -> Vec<&'static str> {
        OBSERVATION.to_vec()
    }

    /// Steps in an episode.
    #[getter]
    fn episode_steps(&mut self) -> PyResult<u64> {
        let seed = self.loaded.as_ref().map_or(self.next_seed, |(s, _)| *s);
        Ok(self.scenario(seed)?.frame.total_steps)
    }

    /// Starts an episode with `seed` (without one: the scenario's seed for the first episode,
    /// then one more than the last episode's); returns the agents' first observation,
    /// flat (agents × fields): no step has run, so only the time of day is set.
    #[pyo3(signature = (seed=None))]
    fn reset(&mut self, seed: Option<u64>) -> PyResult<Vec<f64>> {
        let seed = seed.unwrap_or(self.next_seed);
        self.next_seed = seed.wrapping_add(1);
        let scenario = self.scenario(seed)?;
        let config = peergrid::app::driver::config(&scenario, scenario.rule, scenario.rule_params.clone());
        let mut sim = Simulation::new(config);
        let strategy = Fractions { agent_of: self.agent_of.clone(), actions: self.actions.clone() };
        sim.world_mut().insert_resource(external::BidOverrides::with(vec![Box::new(strategy)]));
        self.query = Some(sim.world_mut().query::<AgentQuery>());
        self.balances.iter_mut().for_each(|b| *b = 0);
        self.observation = vec![0.0; self.agents.len() * OBSERVATION.len()];
        let tod = time_of_day(&scenario, 0);
        for chunk in self.observation.chunks_mut(OBSERVATION.len()) {
            chunk[8] = tod;
        }
        self.sim = Some(sim);
        Ok(self.observation.clone())
    }

    /// Runs one step with the agents' (bid, ask) fractions of the spread; returns the
    /// observation (flat), each agent's reward (the change in its money this step, currency
    /// units) and whether the episode is over.
    fn step(&mut self, actions: Vec<(f64, f64)>) -> PyResult<(Vec<f64>, Vec<f64>, bool)> {
        if actions.len() != self.agents.len() {
            return Err(PyValueError::new_err(format!("{} actions for {} agents", actions.len(), self.agents.len())));
        }
        if actions.iter().any(|(b, a)| !b.is_finite() || !a.is_finite()) {
            return Err(PyValueError::new_err("actions must be finite"));
        }
        let Some((_, scenario)) = self.loaded.clone() else {
            return Err(PyRuntimeError::new_err("call reset() before step()"));
        };
        let (Some(sim), Some(query)) = (self.sim.as_mut(), self.query.as_mut()) else {
            return Err(PyRuntimeError::new_err("call reset() before step()"));
        };
        if sim.is_finished() {
            return Err(PyRuntimeError::new_err("the episode is over: call reset()"));
        }
        self.actions.lock().map_err(|_| PyRuntimeError::new_err("actions lock poisoned"))?.copy_from_slice(&actions);
        sim.step();
        if let Some(e) = sim.failure() {
            return Err(RunError::new_err(e));
        }
        let world = sim.world();
        let prices = *world.resource::<StepPrices>();
        let clearing = world.resource::<Clearing>();
        let (kwh, value): (f64, f64) = clearing.trades.iter().fold((0.0, 0.0), |(k, v), t| (k + t.kwh, v + t.kwh * t.price.0));
        let market_price = if kwh > 0.0 { value / kwh } else { 0.0 };
        let tod = time_of_day(&scenario, sim.steps_done());
        let mut rewards = vec![0.0; self.agents.len()];
        let width = OBSERVATION.len();
        for (h, m, w, battery) in query.iter(world) {
            let Some(a) = self.agent_of.get(h.index as usize).copied().flatten() else { continue };
            rewards[a] = (w.balance.0 - self.balances[a]) as f64 / 1e6;
            self.balances[a] = w.balance.0;
            let soc = battery.map_or(0.0, |b| if b.capacity_kwh > 0.0 { b.soc_kwh / b.capacity_kwh } else { 0.0 });
            let o = &mut self.observation[a * width..(a + 1) * width];
            o.copy_from_slice(&[m.pv_kwh, m.load_kwh, m.deficit_kwh - m.surplus_kwh, soc, prices.import.as_units(), prices.export.as_units(), market_price, kwh, tod]);
        }
        Ok((self.observation.clone(), rewards, sim.is_finished()))
    }
}

impl Session {
    fn scenario(&mut self, seed: u64) -> PyResult<Arc<CoreScenario>> {
        if let Some((_, loaded)) = self.loaded.as_ref().filter(|(s, _)| *s == seed) {
            return Ok(loaded.clone());
        }
        let overrides = Overrides { rule: self.rule.clone(), seed: Some(seed), steps: self.steps, sets: self.sets.clone(), ledger: Some(peergrid::scenario::LedgerMode::Off), ..Default::default() };
        let loaded = Arc::new(CoreScenario::load(&self.path, &overrides).map_err(input_error)?);
        self.loaded = Some((seed, loaded.clone()));
        Ok(loaded)
    }
}

/// The local time of day at the start of `step`, as a fraction of the day.
fn time_of_day(s: &CoreScenario, step: u64) -> f64 {
    use chrono::Timelike;
    let (local, _) = s.frame.zone.local(s.frame.step_start_utc(step));
    f64::from(local.time().num_seconds_from_midnight()) / 86_400.0
}

#[pymodule]
fn _peergrid(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ScenarioError", py.get_type::<ScenarioError>())?;
    m.add("RunError", py.get_type::<RunError>())?;
    m.add_class::<Scenario>()?;
    m.add_class::<Book>()?;
    m.add_class::<Order>()?;
    m.add_class::<Need>()?;
    m.add_class::<Prices>()?;
    m.add_class::<Session>()?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(compare, m)?)?;
    m.add_function(wrap_pyfunction!(rules, m)?)?;
    m.add_function(wrap_pyfunction!(register_rule, m)?)?;
    m.add("OBSERVATION", OBSERVATION.to_vec())?;
    Ok(())
}
