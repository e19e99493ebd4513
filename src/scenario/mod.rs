//! Scenario files: parse (RON), validate (every problem named with its file and field or
//! line:column, and the allowed range), and resolve into a [`Scenario`] ready to simulate.

mod communities;
pub mod data;
pub mod examples;
pub mod generate;
pub mod imported;
mod measured;
pub mod scene;
pub mod schema;
mod set;
mod validate;
pub mod value;

use crate::base::error::{InputError, InputErrors, Location};
use crate::grid::generate::{generate as generate_layout, LayoutParams};
use crate::grid::topology::{Line, Node, Topology};
use crate::market::registry::{self, RuleInfo};
use crate::base::money::{Micros, PricePerKwh};
use crate::household::profile::ProfileTable;
use crate::scenario::data::profile::read_profile_file;
use crate::environment::tariff::{GridCharges, GridConnection, TouWindow};
use crate::base::time::{parse_local, TimeFrame, Zone};
use petgraph::graph::NodeIndex;
use schema::*;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use schema::{Archetype, BatterySpec, OutputLevel, ScenarioFile, TableFormat};
pub use set::{apply as apply_sets, FieldSet};
pub use crate::household::PvDef;
pub use crate::household::load::LoadDef;
pub use crate::market::communities::CommunityEvent;
pub use crate::market::communities::CommunityChange;

/// Minutes in a day; a step must divide it.
pub const MINUTES_PER_DAY: u32 = 1440;

/// What to do with the ledger, from the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LedgerMode {
    /// As the scenario says (default: build the ledger and write ledger.jsonl).
    On,
    /// No ledger at all.
    Off,
    /// Build, sign and chain every block but do not write ledger.jsonl (long runs).
    HeadOnly,
}

/// Overrides from the command line, applied before validation and recorded in `summary.json`.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub ledger: Option<LedgerMode>,
    pub rule: Option<String>,
    pub seed: Option<u64>,
    /// Simulate only the first N steps.
    pub steps: Option<u64>,
    /// Field changes (`--set path=value`), applied in order before the others.
    pub sets: Vec<FieldSet>,
    /// Which files to write (`--output`), instead of the scenario's `output`.
    pub output: Option<OutputLevel>,
    /// Which files the tables go to (`--format`), instead of the scenario's `format`.
    pub format: Option<TableFormat>,
    /// Also the per-household series (`--household-series`).
    pub household_series: bool,
    /// Also the per-line series (`--line-series`).
    pub line_series: bool,
    /// Accept a scenario whose run needs more memory than this machine allows
    /// (`--no-memory-check`).
    pub no_memory_check: bool,
    /// A scene's events and faults (`--scene`), added to the scenario's; its length is the
    /// run's unless `steps` is given.
    pub scene: Option<Arc<scene::Scene>>,
}

impl Overrides {
    /// `name=value` strings for provenance.
    pub fn describe(&self) -> Vec<String> {
        let mut v: Vec<String> = self.sets.iter().map(|s| format!("set {s}")).collect();
        if let Some(r) = &self.rule {
            v.push(format!("rule={r}"));
        }
        if let Some(s) = self.seed {
            v.push(format!("seed={s}"));
        }
        if let Some(s) = self.steps {
            v.push(format!("steps={s}"));
        }
        if let Some(l) = self.ledger {
            v.push(format!("ledger={l:?}"));
        }
        if let Some(o) = self.output {
            v.push(format!("output={}", o.label()));
        }
        if let Some(f) = self.format {
            v.push(format!("format={}", f.label()));
        }
        if self.household_series {
            v.push("household-series".to_string());
        }
        if self.line_series {
            v.push("line-series".to_string());
        }
        if let Some(s) = &self.scene {
            v.push(format!("scene={}", s.file.display()));
        }
        v
    }
}

/// A resolved household.
#[derive(Debug, Clone)]
pub struct HouseholdDef {
    pub id: String,
    pub node: NodeIndex,
    pub pv: Option<PvDef>,
    pub load: LoadDef,
    pub battery: Option<BatterySpec>,
    pub appliances: Vec<crate::household::appliance::ApplianceDef>,
    pub ev: Option<crate::household::vehicle::EvSpec>,
    pub heat_pump: Option<crate::household::heating::HeatPumpSpec>,
    pub hot_water: Option<crate::household::hot_water::HotWaterSpec>,
    pub bidding: schema::BiddingSpec,
    pub preferences: schema::PreferencesSpec,
    /// Community path, outermost first (resolved: from the scenario or from the grid).
    pub community: Vec<String>,
    /// Place on the grid, outermost first (feeder, then street): the zones of network fees.
    pub grid_path: Vec<String>,
    /// Cap on what it sends into the grid, kW.
    pub export_limit_kw: Option<f64>,
    /// Its PV inverter's grid-code curves (houses with PV).
    pub inverter: Option<crate::grid::inverter::InverterDef>,
}

/// Battery market policy, resolved.
#[derive(Debug, Clone, Copy)]
pub struct BatteryPolicy {
    pub market_reserve_soc: f64,
    pub market_offer_price: Option<PricePerKwh>,
    /// Where `Forecast` batteries' forecasts come from.
    pub forecast: crate::household::planning::ForecastKind,
}

/// A household's default community path from the grid: its pole's id without the last segment
/// (`f1/l3/p2` → `f1`, `f1/l3`: feeder, then lateral street), or the feeder (the node just below
/// the root on the breadth-first tree) when ids have no `/`.
fn grid_community(topology: &Topology, parents: &[Option<NodeIndex>], node: NodeIndex) -> Vec<String> {
    let g = &topology.graph;
    let pole = parents[node.index()].map(|p| g[p].id.as_str()).unwrap_or("");
    let mut parts: Vec<&str> = pole.split('/').collect();
    if parts.len() >= 2 {
        parts.pop();
        return (1..=parts.len()).map(|k| parts[..k].join("/")).collect();
    }
    let mut at = node;
    while let Some(p) = parents[at.index()] {
        if p == topology.root {
            return vec![g[at].id.clone()];
        }
        at = p;
    }
    Vec::new()
}

/// A validated scenario, ready to simulate.
#[derive(Clone)]
pub struct Scenario {
    pub file: PathBuf,
    /// SHA-256 (hex) of the scenario file's bytes.
    pub file_sha256: String,
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub frame: TimeFrame,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    /// The site's atmosphere and clear-sky model.
    pub sky: crate::environment::sky::Sky,
    pub grid: GridConnection,
    pub emission_factor_kg_per_kwh: f64,
    /// The emission factor of every step, from `emission_factor_file` (else the flat factor).
    pub emission_factors: Option<Arc<Vec<f64>>>,
    /// ISO 4217 code of the scenario's money, when it names one.
    pub currency: Option<String>,
    pub weather: WeatherSpec,
    pub households: Vec<HouseholdDef>,
    pub topology: Arc<Topology>,
    /// Each household's phase and power factors when the network is modelled unbalanced (an
    /// imported feeder, a household on one phase, or a power factor below 1); `None`: balanced.
    pub phases: Option<crate::grid::network::HouseholdPhases>,
    /// What an imported network file holds that the model leaves out, by element.
    pub import_warnings: Vec<String>,
    pub rule: &'static RuleInfo,
    pub rule_params: BTreeMap<String, f64>,
    pub battery_policy: BatteryPolicy,
    pub network: crate::grid::network::NetworkConfig,
    pub network_fees: crate::market::zones::NetworkFees,
    pub loss_bearer: crate::market::LossBearer,
    pub profiles: Arc<ProfileTable>,
    /// Measured daily solar exposure for every local date of the run (`DailyExposure` weather).
    pub daily_exposure: Option<Arc<crate::environment::measured::DailyExposure>>,
    /// The typical meteorological year of `Tmy3`, `Epw` or `PvgisTmy` weather.
    pub typical_year: Option<Arc<crate::environment::measured::TypicalYear>>,
    /// The climate of `Synthetic` weather.
    pub climate: Option<Arc<crate::environment::weather::SyntheticClimate>>,
    /// The series of `Measured` weather.
    pub irradiance: Option<Arc<crate::environment::measured::IrradianceSeries>>,
    /// The ledger's settings; `None` when the ledger is off.
    pub ledger: Option<crate::ledger::LedgerConfig>,
    /// Which files a run writes.
    pub output: OutputLevel,
    /// Which files the tables go to.
    pub format: TableFormat,
    /// Also a row per household and step.
    pub household_series: bool,
    /// Also a row per line and step.
    pub line_series: bool,
    pub overrides: Vec<String>,
    /// Community changes by step, sorted by step (then scenario order).
    pub community_events: Vec<CommunityEvent>,
    /// Communities households join by choice (`None`: everyone trades in the one market).
    pub communities: Option<Arc<crate::community::CommunitiesConfig>>,
    /// Clouds over parts of the grid (`Cloud` events).
    pub clouds: Arc<Vec<crate::environment::clouds::CloudShade>>,
    /// Changes of the trading rule (`SwitchRule` events), by step.
    pub rule_switches: Vec<(u64, &'static RuleInfo)>,
}

impl Scenario {
    /// What the ledger records of this run.
    pub fn ledger_setup(&self) -> crate::ledger::LedgerSetup {
        crate::ledger::LedgerSetup {
            scenario: self.name.clone(),
            seed: self.seed,
            frame: self.frame,
            ids: Arc::new(self.households.iter().map(|h| h.id.clone()).collect()),
            kwp: self.households.iter().map(|h| h.pv.map_or(0.0, |p| p.kwp)).collect(),
            keys: crate::ledger::keys::KeySource::Seed,
            communities: self.communities.as_ref().map(|c| c.communities.iter().map(|k| k.id.clone()).collect()).unwrap_or_default(),
        }
    }
}

impl std::fmt::Debug for Scenario {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scenario").field("name", &self.name).field("households", &self.households.len()).finish()
    }
}

impl Scenario {
    /// Reads, validates and resolves a scenario file.
    pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, InputErrors> {
        let text = crate::base::input::read_text(path, "scenario file", crate::base::input::MAX_SCENARIO_FILE_BYTES)?;
        Self::from_str(&text, path, overrides)
    }

    /// Parses scenario text as if read from `path` (profile files are relative to its folder).
    pub fn from_str(text: &str, path: &Path, overrides: &Overrides) -> Result<Scenario, InputErrors> {
        let file = parse(text, path)?;
        let file_rule = file.market.rule.clone();
        let mut file = set::apply(file, &overrides.sets).map_err(|m| InputErrors(vec![InputError { file: path.into(), location: Location::File, message: m }]))?;
        // As with --rule: the file's parameters belong to the file's rule (unless set too).
        if file.market.rule != file_rule && !overrides.sets.iter().any(|s| s.path.starts_with("market.params")) {
            file.market.params.clear();
        }
        if let Some(rule) = &overrides.rule {
            // The file's parameters belong to the file's rule; another rule runs on its defaults.
            if *rule != file.market.rule {
                file.market.params.clear();
            }
            file.market.rule = rule.clone();
        }
        if let Some(seed) = overrides.seed {
            file.seed = seed;
        }
        match overrides.ledger {
            Some(LedgerMode::Off) => file.ledger.enabled = false,
            Some(LedgerMode::HeadOnly) => file.ledger.write_jsonl = false,
            Some(LedgerMode::On) | None => {}
        }
        if let Some(o) = overrides.output {
            file.output = o;
        }
        if let Some(f) = overrides.format {
            file.format = f;
        }
        file.household_series |= overrides.household_series;
        file.line_series |= overrides.line_series;
        if file.output == OutputLevel::Aggregate {
            file.ledger.write_jsonl = false;
        }
        let origins = overrides.scene.as_ref().map(|s| s.apply(&mut file));
        // With communities, a rule given on the command line (`--rule`, or `--set market.rule`)
        // runs every community; the file's own `market.rule` is not used.
        let set_rule = file.market.rule != file_rule || overrides.sets.iter().any(|s| s.path == "market.rule");
        let forced_rule = overrides.rule.clone().or_else(|| set_rule.then(|| file.market.rule.clone()));
        let sha = crate::ledger::encoding::hex(&Sha256::digest(text.as_bytes()));
        let scenario = resolve(file, path, sha, overrides, forced_rule).map_err(|e| match &origins {
            Some(o) => o.remap(e),
            None => e,
        })?;
        if let Some(scene) = &overrides.scene {
            scene.check_selections(&scenario.households.iter().map(|h| h.id.clone()).collect::<Vec<_>>())?;
        }
        Ok(scenario)
    }

    /// About how many bytes a run of this scenario holds at its peak ([`memory_estimate_bytes`]).
    pub fn memory_estimate_bytes(&self) -> u64 {
        memory_estimate_bytes(self.households.len() as u64)
    }

    /// Household-steps simulated by this scenario.
    pub fn household_steps(&self) -> u64 {
        self.households.len() as u64 * self.frame.total_steps
    }
}

/// About how many bytes a run of `households` households holds at its peak, rounded up from
/// release builds: 6.5 KiB per household for city-100k (a week), 5.6 KiB for the 10k district
/// (every file; no more for four weeks than for one: memory follows households, not steps).
pub fn memory_estimate_bytes(households: u64) -> u64 {
    const BASE_BYTES: u64 = 64 << 20;
    const PER_HOUSEHOLD_BYTES: u64 = 8 << 10;
    BASE_BYTES.saturating_add(households.saturating_mul(PER_HOUSEHOLD_BYTES))
}

/// RON as scenario and sweep files are read: optional fields without `Some(...)`, variants with
/// their fields directly.
pub fn ron_options() -> ron::Options {
    ron::Options::default()
        .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME | ron::extensions::Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Parses RON into the file schema; syntax errors and unknown fields carry line:column.
pub fn parse(text: &str, path: &Path) -> Result<ScenarioFile, InputErrors> {
    ron_options().from_str::<ScenarioFile>(text).map_err(|e| {
        InputErrors(vec![InputError {
            file: path.into(),
            location: Location::LineColumn { line: e.span.start.line, column: e.span.start.col },
            message: e.code.to_string(),
        }])
    })
}

fn resolve(file: ScenarioFile, path: &Path, file_sha256: String, overrides: &Overrides, forced_rule: Option<String>) -> Result<Scenario, InputErrors> {
    let mut v = validate::Validator::new(path);
    // Before anything is drawn for the households: a scenario too big for this machine stops here.
    // (Past MAX_HOUSEHOLDS, that bound is the message.)
    let households = file.household_count();
    if households <= generate::MAX_HOUSEHOLDS && !overrides.no_memory_check && validate::check_memory(&mut v, households) {
        v.finish()?;
    }
    validate::check_file(&mut v, &file);
    let imported = match &file.topology {
        TopologySpec::Import { file: f, format } => imported::read(f, *format, path.parent().unwrap_or(Path::new(".")), &mut v),
        _ => None,
    };
    let rule = registry::find(&file.market.rule);
    if rule.is_none() {
        v.err("market.rule", format!("unknown rule `{}`; allowed: {}", file.market.rule, registry::names().join(", ")));
    }
    let rule_params = rule.map(|r| validate::check_rule_params(&mut v, r, &file.market.params)).unwrap_or_default();
    let zone = Zone::parse(&file.timezone).map_err(|m| v.err("timezone", m)).ok();
    let local_start = parse_local(&file.start).map_err(|m| v.err("start", m)).ok();
    let step_minutes = file.step_minutes;
    let mut total_steps = validate::check_duration(&mut v, file.duration_days, step_minutes);
    // Events are checked against the scenario's own length: `--steps N` (and a sweep's check of
    // each combination) runs its first N steps, and events after them just do not happen.
    let scenario_steps = total_steps;
    if let Some(n) = overrides.steps {
        if n == 0 {
            v.err("--steps", "must be at least 1".to_string());
        } else if total_steps > 0 && n > total_steps {
            // A longer run needs a longer `duration_days`; cutting silently would hide that.
            v.err("--steps", format!("{n} is more than the scenario's {total_steps} steps ({} days at {step_minutes} min); raise duration_days instead", file.duration_days));
        }
        total_steps = total_steps.min(n);
    }
    let start_utc = match (zone, local_start) {
        (Some(z), Some(l)) => z.to_utc(l).map_err(|m| v.err("start", m)).ok(),
        _ => None,
    };
    // Households: expand groups (checked here with everything above, so all problems are
    // reported together), then load profiles and attach to the topology.
    let mut specs = generate::expand_households(&file, &mut v);
    let heated = specs.iter().any(|h| h.heat_pump.is_some());
    let heat_devices = heated || specs.iter().any(|h| h.hot_water.is_some());
    if heated && matches!(file.weather, WeatherSpec::Stochastic { .. } | WeatherSpec::ClearSky | WeatherSpec::DailyExposure { .. }) {
        v.err("weather", format!("heat pumps need the outdoor air temperature, which this weather does not give: {NEEDS_TEMPERATURE}"));
    }
    // The building and tank models are hourly: a longer step would sample a day's weather once.
    if heat_devices && step_minutes > MAX_HEATING_STEP_MINUTES {
        v.err("step_minutes", format!("{step_minutes} minutes is too long for heat pumps and hot-water tanks (hourly models): use at most {MAX_HEATING_STEP_MINUTES}"));
    }
    v.range("network.nominal_voltage_v", file.network.nominal_voltage_v, validate::Bound::Incl(100.0), validate::Bound::Incl(100_000.0), "V");
    if let Some(t) = file.network.voltage_tolerance {
        v.range("network.voltage_tolerance", t, validate::Bound::Above(0.0), validate::Bound::Incl(0.5), "(per unit)");
    }
    if let Some(pf) = file.network.load_power_factor {
        v.range("network.load_power_factor", pf, validate::Bound::Incl(0.5), validate::Bound::Incl(1.0), "");
    }
    v.range("network.pv_power_factor", file.network.pv_power_factor, validate::Bound::Incl(0.5), validate::Bound::Incl(1.0), "");
    validate::check_network_fees(&mut v, &file.network.fees);
    validate::check_connection(&mut v, "network", file.network.export_limit_kw, file.network.inverter.as_ref());
    if let Some(d) = file.network.dynamic_export_limit
        && v.range("network.dynamic_export_limit.min_kw", d.min_kw, validate::Bound::Incl(0.0), validate::Bound::Incl(1_000.0), "kW")
    {
        v.range("network.dynamic_export_limit.max_kw", d.max_kw, validate::Bound::Above(d.min_kw), validate::Bound::Incl(1_000.0), "kW (above min_kw)");
    }
    v.finish()?;
    let mut import_warnings = imported.as_ref().map(|i| i.net.warnings.clone()).unwrap_or_default();
    if let Some(imp) = &imported {
        import_warnings.extend(imported::attach_loads(imp, &mut specs, &mut v));
        v.finish()?;
    }
    let (Some(zone), Some(start_utc), Some(rule)) = (zone, start_utc, rule) else {
        unreachable!("errors above were reported by finish()")
    };
    let frame = TimeFrame { start_utc, zone, step_minutes, total_steps };
    let base_dir = path.parent().unwrap_or(Path::new("."));
    let (profiles, loads) = load_profiles(&specs, base_dir, &frame, file.seed, &mut v);
    let daily_exposure = load_exposure(&file.weather, base_dir, &frame, &mut v).map(Arc::new);
    let typical_year = load_typical_year(&file.weather, &file.location, base_dir, &mut v).map(Arc::new);
    let irradiance = load_irradiance(&file.weather, base_dir, &frame, &mut v).map(Arc::new);
    let climate = resolve_climate(&file.weather, &file.location, &mut v).map(Arc::new);
    if heated && (irradiance.as_ref().is_some_and(|s| !s.has_temperature()) || climate.as_ref().is_some_and(|c| c.temperature.is_none())) {
        v.err("weather", format!("heat pumps need the outdoor air temperature in every step, which this weather does not give: {NEEDS_TEMPERATURE}"));
    }
    let emission_factors = file.emission_factor_file.as_ref().and_then(|f| match data::emissions::read(&base_dir.join(f), &frame) {
        Ok(factors) => Some(Arc::new(factors)),
        Err(e) => {
            report_data_error(&mut v, "emission_factor_file", "emission factor file", e);
            None
        }
    });
    let price_series = match &file.grid {
        GridSpec::Connected { price_file: Some(f), export_price_per_kwh, .. } => match data::prices::read(&base_dir.join(f), &frame, *export_price_per_kwh) {
            Ok(series) => Some(Arc::new(series)),
            Err(e) => {
                report_data_error(&mut v, "grid.price_file", "price file", e);
                None
            }
        },
        _ => None,
    };
    v.finish()?;
    let ids: Vec<String> = specs.iter().map(|h| h.id.clone()).collect();
    let (topology, nodes, nominal_voltage_v) = build_topology(&file, &specs, &ids, imported.as_ref(), &mut v);
    if imported.is_some() && nominal_voltage_v != file.network.nominal_voltage_v {
        import_warnings.push(format!("network.nominal_voltage_v: the imported network's {nominal_voltage_v:.1} V replaces {} V", file.network.nominal_voltage_v));
    }
    // In volts around the network's nominal voltage (an imported network's own).
    let voltage_band = match file.network.voltage_band_v {
        None => crate::grid::network::VoltageBand::symmetric(file.network.voltage_tolerance.unwrap_or(crate::grid::network::DEFAULT_VOLTAGE_TOLERANCE)),
        Some(b) => {
            let v_phase = nominal_voltage_v / 3f64.sqrt();
            if file.network.voltage_tolerance.is_some() {
                v.err("network.voltage_band_v", "give the band either in volts (voltage_band_v) or per unit (voltage_tolerance), not both".to_string());
            }
            let nominal = format!("V (phase to neutral; nominal {v_phase:.1} V)");
            v.range("network.voltage_band_v.min", b.min, validate::Bound::Incl(0.5 * v_phase), validate::Bound::Above(v_phase), &nominal);
            v.range("network.voltage_band_v.max", b.max, validate::Bound::Above(v_phase), validate::Bound::Incl(1.5 * v_phase), &nominal);
            crate::grid::network::VoltageBand::from_volts(b.min, b.max, v_phase)
        }
    };
    let phases = household_phases(&file.network, &mut specs, imported.is_some());
    // A topology that could not be built (its errors are already given) is empty.
    let built = topology.graph.node_count() > 0;
    if built && file.network.dynamic_export_limit.is_some() && !topology.is_radial() {
        v.err("network.dynamic_export_limit", "a dynamic export limit is set from the feeder's voltages, which need a radial network (this one has loops)".to_string());
    }
    if built && phases.is_some() && !topology.is_radial() {
        v.err("network", "phases, power factors or inverter curves need the unbalanced three-phase flow, which needs a radial network (this one has loops)".to_string());
    }
    let ledger = validate::check_ledger(&mut v, &file.ledger, &ids);
    let community_events = resolve_events(&mut v, &file.events, &ids, scenario_steps);
    let clouds = Arc::new(resolve_clouds(&mut v, &file.events, &ids, &topology, &nodes, scenario_steps));
    let rule_switches = resolve_rule_switches(&mut v, &file, scenario_steps);
    let communities = communities::resolve(&mut v, &file, &specs, step_minutes, scenario_steps, forced_rule.as_deref()).map(Arc::new);
    v.finish()?;

    let parents = topology.bfs_parents();
    let households = specs
        .into_iter()
        .zip(loads)
        .zip(nodes)
        .map(|((h, load), node)| HouseholdDef {
            hot_water: h.hot_water.clone().or_else(|| storage_tank(&load, &profiles)),
            inverter: h.pv.as_ref().and_then(|pv| resolve_inverter(h.inverter.as_ref().or(file.network.inverter.as_ref())?, pv)),
            pv: h.pv.map(|p| resolve_pv(&p, file.location.latitude_deg)),
            id: h.id,
            node,
            load,
            battery: h.battery,
            appliances: h.appliances.iter().map(|a| crate::household::appliance::ApplianceDef::from_spec(a, step_minutes)).collect(),
            ev: h.ev,
            heat_pump: h.heat_pump,
            bidding: h.bidding,
            grid_path: grid_community(&topology, &parents, node),
            community: match &h.community {
                Some(c) => c.split('/').map(str::to_string).collect(),
                None => grid_community(&topology, &parents, node),
            },
            export_limit_kw: h.export_limit_kw.or(file.network.export_limit_kw),
            preferences: h.preferences,
        })
        .collect();

    let sky = {
        let l = &file.location;
        let turbidity = l.linke_turbidity.as_deref().and_then(|tl| <[f64; 12]>::try_from(tl).ok());
        crate::environment::sky::Sky::new(file.clear_sky, l.latitude_deg, l.longitude_deg, l.altitude_m, turbidity).with_transposition(file.transposition)
    };
    let grid = match &file.grid {
        GridSpec::Connected { import_price_per_kwh, export_price_per_kwh, time_of_use, supply_charge_per_day, demand_charge_per_kw_month, .. } => GridConnection::Connected {
            series: price_series,
            charges: GridCharges { supply_per_day: Micros::from_units(*supply_charge_per_day), demand_per_kw_month: Micros::from_units(*demand_charge_per_kw_month) },
            import: PricePerKwh::from_units(*import_price_per_kwh),
            export: PricePerKwh::from_units(*export_price_per_kwh),
            time_of_use: time_of_use
                .iter()
                .map(|w| TouWindow {
                    from_hour: w.from_hour,
                    to_hour: w.to_hour,
                    import: PricePerKwh::from_units(w.import_price_per_kwh),
                    export: w.export_price_per_kwh.map(PricePerKwh::from_units),
                    weekdays_only: w.weekdays_only,
                })
                .collect(),
        },
        GridSpec::Islanded { value_of_lost_load_per_kwh, surplus_floor_per_kwh } => GridConnection::Islanded {
            value_of_lost_load: PricePerKwh::from_units(*value_of_lost_load_per_kwh),
            surplus_floor: PricePerKwh::from_units(*surplus_floor_per_kwh),
        },
    };

    Ok(Scenario {
        file: path.to_path_buf(),
        file_sha256,
        name: file.name,
        description: file.description,
        seed: file.seed,
        frame,
        latitude_deg: file.location.latitude_deg,
        longitude_deg: file.location.longitude_deg,
        sky,
        grid,
        emission_factor_kg_per_kwh: file.emission_factor_kg_per_kwh,
        currency: file.currency,
        emission_factors,
        weather: file.weather,
        households,
        topology: Arc::new(topology),
        phases,
        import_warnings,
        rule,
        rule_params,
        network: crate::grid::network::NetworkConfig {
            nominal_voltage_v,
            enforce_line_limits: file.network.enforce_line_limits,
            voltage_band,
            dynamic_export: file.network.dynamic_export_limit.map(|d| crate::grid::network::DynamicExport { min_kw: d.min_kw, max_kw: d.max_kw }),
            enforce_voltage_limits: file.network.enforce_voltage_limits,
        },
        network_fees: {
            let [street, feeder, across] = file.network.fees.resolved();
            crate::market::zones::NetworkFees {
                same_street: PricePerKwh::from_units(street),
                same_feeder: PricePerKwh::from_units(feeder),
                across_feeders: PricePerKwh::from_units(across),
            }
        },
        loss_bearer: file.market.loss_bearer,
        battery_policy: BatteryPolicy {
            market_reserve_soc: file.battery_policy.market_reserve_soc,
            market_offer_price: file.battery_policy.market_offer_price_per_kwh.map(PricePerKwh::from_units),
            forecast: file.battery_policy.forecast,
        },
        profiles: Arc::new(profiles),
        daily_exposure,
        typical_year,
        irradiance,
        climate,
        ledger,
        output: file.output,
        format: file.format,
        household_series: file.household_series,
        line_series: file.line_series,
        overrides: overrides.describe(),
        community_events,
        communities,
        clouds,
        rule_switches,
    })
}

/// Checks and resolves the `Cloud` events: the houses under each.
fn resolve_clouds(v: &mut validate::Validator, events: &[EventSpec], ids: &[String], topology: &Topology, nodes: &[petgraph::graph::NodeIndex], total_steps: u64) -> Vec<crate::environment::clouds::CloudShade> {
    let index: HashMap<&str, u32> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i as u32)).collect();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let EventSpec::Cloud { step, steps, over, transmittance } = e else { continue };
        let at = format!("events[{i}]");
        if *step >= total_steps {
            v.err(&format!("{at}.step"), format!("{step} is after the run's last step ({})", total_steps.saturating_sub(1)));
        }
        if *steps == 0 {
            v.err(&format!("{at}.steps"), "a cloud lasts at least one step".to_string());
        }
        v.range(&format!("{at}.transmittance"), *transmittance, validate::Bound::Incl(0.0), validate::Bound::Incl(1.0), "(share of the irradiance let through)");
        let mut households: Vec<u32> = match over {
            CloudArea::Households(list) => {
                if list.is_empty() {
                    v.err(&format!("{at}.over"), "names no household".to_string());
                }
                list.iter()
                    .filter_map(|id| {
                        let h = index.get(id.as_str()).copied();
                        if h.is_none() {
                            v.err(&format!("{at}.over"), format!("no household has id `{id}`"));
                        }
                        h
                    })
                    .collect()
            }
            CloudArea::Near { node, radius_m } => {
                v.range(&format!("{at}.over.radius_m"), *radius_m, validate::Bound::Above(0.0), validate::Bound::Incl(1e6), "m");
                let Some(centre) = topology.node(node) else {
                    v.err(&format!("{at}.over.node"), format!("no grid node has id `{node}` (see topology.json)"));
                    continue;
                };
                let c = &topology.graph[centre];
                let under: Vec<u32> = nodes.iter().enumerate().filter(|(_, n)| topology.graph.node_weight(**n).is_some_and(|p| (p.x_m - c.x_m).hypot(p.y_m - c.y_m) <= *radius_m)).map(|(h, _)| h as u32).collect();
                if under.is_empty() && radius_m.is_finite() && *radius_m > 0.0 {
                    v.err(&format!("{at}.over.radius_m"), format!("no household lies within {radius_m} m of `{node}`"));
                }
                under
            }
        };
        households.sort_unstable();
        households.dedup();
        out.push(crate::environment::clouds::CloudShade { from_step: *step, to_step: step.saturating_add(*steps), transmittance: *transmittance, households });
    }
    out
}

/// Checks and resolves the `SwitchRule` events, in step order.
fn resolve_rule_switches(v: &mut validate::Validator, file: &ScenarioFile, total_steps: u64) -> Vec<(u64, &'static RuleInfo)> {
    let mut out = Vec::new();
    for (i, e) in file.events.iter().enumerate() {
        let EventSpec::SwitchRule { step, rule } = e else { continue };
        let at = format!("events[{i}]");
        if *step >= total_steps {
            v.err(&format!("{at}.step"), format!("{step} is after the run's last step ({})", total_steps.saturating_sub(1)));
        }
        if !file.communities.is_empty() {
            v.err(&at, "each community trades by its own rule: switch one with a referendum (`communities`), not the market's".to_string());
        }
        match crate::market::registry::find(rule) {
            Some(info) => out.push((*step, info)),
            None => v.err(&format!("{at}.rule"), format!("no trading rule `{rule}` (see `peergrid rules`)")),
        }
    }
    out.sort_by_key(|(step, _)| *step);
    out
}

/// Checks and resolves the scenario's events (household ids and community paths).
fn resolve_events(v: &mut validate::Validator, events: &[EventSpec], ids: &[String], total_steps: u64) -> Vec<CommunityEvent> {
    let index: HashMap<&str, u32> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i as u32)).collect();
    let mut out = Vec::new();
    for (i, e) in events.iter().enumerate() {
        let at = format!("events[{i}]");
        let (step, household) = match e {
            EventSpec::JoinCommunity { step, household, .. } | EventSpec::LeaveCommunity { step, household } => (*step, household),
            // Communities households join by choice: see `communities`.
            EventSpec::SwitchCommunity { .. } | EventSpec::FoundCommunity { .. } | EventSpec::Cloud { .. } | EventSpec::SwitchRule { .. } => continue,
        };
        if step >= total_steps {
            v.err(&format!("{at}.step"), format!("{step} is after the run's last step ({})", total_steps.saturating_sub(1)));
        }
        let Some(&h) = index.get(household.as_str()) else {
            v.err(&format!("{at}.household"), format!("no household has id `{household}`"));
            continue;
        };
        let change = match e {
            EventSpec::JoinCommunity { community, .. } => {
                generate::check_community(v, &at, &Some(community.clone()));
                CommunityChange::Join(community.split('/').map(str::to_string).collect())
            }
            EventSpec::LeaveCommunity { .. } => CommunityChange::Leave,
            EventSpec::SwitchCommunity { .. } | EventSpec::FoundCommunity { .. } | EventSpec::Cloud { .. } | EventSpec::SwitchRule { .. } => continue,
        };
        out.push(CommunityEvent { step, household: h, change });
    }
    out.sort_by_key(|e| e.step);
    out
}

/// Reads measured daily exposure and covers every local date of the run with it.
fn load_exposure(weather: &WeatherSpec, base_dir: &Path, frame: &TimeFrame, v: &mut validate::Validator) -> Option<crate::environment::measured::DailyExposure> {
    let WeatherSpec::DailyExposure { files } = weather else { return None };
    let mut data = crate::environment::measured::DailyExposure::new();
    for (year, file) in files {
        let full = base_dir.join(file);
        if let Err(e) = crate::scenario::data::exposure::read_year(&full, *year, &mut data) {
            report_data_error(v, &format!("weather.files[{year}]"), "solar exposure file", e);
        }
    }
    let first = frame.zone.local(frame.start_utc).0.date();
    let last = frame.local_date(frame.total_steps.saturating_sub(1));
    match crate::scenario::data::exposure::cover(&data, first, last) {
        Ok(days) => Some(days),
        Err(missing) if !data.is_empty() || files.is_empty() => {
            v.err("weather.files", format!("no measured exposure within {} days of {missing} (the run covers {first} to {last})", crate::scenario::data::exposure::MAX_FILL_DAYS));
            None
        }
        Err(_) => None, // the files' own errors are reported above
    }
}

/// The tank that replaces a measured controlled load (`controlled_load: Storage`): profile M's
/// draws scaled to the measured energy a day less the tank's standing losses at its set-point,
/// the element as strong as the largest measured step, heating on PV surplus first.
fn storage_tank(load: &LoadDef, profiles: &ProfileTable) -> Option<crate::household::hot_water::HotWaterSpec> {
    use crate::household::hot_water::HotWaterSpec;
    let LoadDef::Profile { series } = load else { return None };
    let (kwh_per_day, max_kw) = profiles.series.get(*series)?.controlled_load?;
    let base = HotWaterSpec { control: crate::household::heating::HeatControl::SolarAware, ..HotWaterSpec::default() };
    let losses_per_day = base.standing_loss_w_per_k * (base.set_point_c - base.ambient_c) * 24.0 / 1000.0;
    let daily_scale = ((kwh_per_day - losses_per_day).max(0.0) / base.profile.daily_kwh()).min(MAX_STORAGE_DAILY_SCALE);
    Some(HotWaterSpec { daily_scale, element_kw: max_kw.max(MIN_STORAGE_ELEMENT_KW), ..base })
}

/// Bounds of the storage model of a measured controlled load: the element at least this
/// strong, kW, and the draws at most this many times profile M's (a larger tank would be
/// needed beyond).
const MIN_STORAGE_ELEMENT_KW: f64 = 1.0;
const MAX_STORAGE_DAILY_SCALE: f64 = 2.5;

/// The weathers that give the air temperature heat pumps need.
const NEEDS_TEMPERATURE: &str = "use `Synthetic` (monthly temperatures from the climate table or `monthly_temp_air_c` and `daily_temp_range_c`), `Epw`, `Tmy3`, `PvgisTmy`, or `Measured` with a `temp_air_c` column in every row";
/// Longest step heat pumps and tanks accept, minutes.
const MAX_HEATING_STEP_MINUTES: u32 = 60;

/// Station within this many degrees of the scenario's location (else the sun and the measured
/// irradiance disagree).
const TMY3_LOCATION_TOLERANCE_DEG: f64 = 1.0;

/// The climate `Synthetic` weather draws from: the scenario's months where given, else the
/// climate table's nearest place (temperatures from the nearest place that has them).
fn resolve_climate(weather: &WeatherSpec, location: &schema::LocationSpec, v: &mut validate::Validator) -> Option<crate::environment::weather::SyntheticClimate> {
    use crate::environment::climate::{nearest_place, MonthlyTemperature, FALLBACK_CLEARNESS};
    let WeatherSpec::Synthetic { monthly_clearness, monthly_temp_air_c, daily_temp_range_c } = weather else { return None };
    let months = |v: &mut validate::Validator, name: &str, values: &Option<Vec<f64>>, lo: f64, hi: f64| -> Option<[f64; 12]> {
        let values = values.as_ref()?;
        let field = format!("weather.{name}");
        if values.len() != 12 {
            v.err(&field, format!("{} values: give 12, one per month from January", values.len()));
            return None;
        }
        let ok = values.iter().enumerate().fold(true, |ok, (i, x)| v.range(&format!("{field}[{i}]"), *x, validate::Bound::Incl(lo), validate::Bound::Incl(hi), "") && ok);
        ok.then(|| values.clone().try_into().expect("12 values"))
    };
    let given_kt = months(v, "monthly_clearness", monthly_clearness, 0.05, 0.85);
    let given_mean = months(v, "monthly_temp_air_c", monthly_temp_air_c, -60.0, 50.0);
    let given_range = months(v, "daily_temp_range_c", daily_temp_range_c, 0.0, 40.0);
    if monthly_temp_air_c.is_some() != daily_temp_range_c.is_some() {
        v.err("weather.monthly_temp_air_c", "give `monthly_temp_air_c` and `daily_temp_range_c` together".to_string());
    }
    let (lat, lon) = (location.latitude_deg, location.longitude_deg);
    let place = nearest_place(lat, lon, |_| true);
    let from = |p: &crate::environment::climate::ClimatePlace, d: f64| format!("{} ({:.0} km away; {})", p.place, d, p.source);
    let mut warning = None;
    let (clearness, clearness_from) = match (given_kt, place) {
        (Some(kt), _) => (kt, "the scenario".to_string()),
        (None, Some((p, d))) => (p.clearness, from(p, d)),
        (None, None) => {
            warning = Some(format!(
                "no place of the climate table is within {:.0} km of latitude {lat}, longitude {lon}: the synthetic weather uses a clearness index of {FALLBACK_CLEARNESS} in every month. Give `weather: Synthetic(monthly_clearness: [...])` (e.g. NASA POWER's ALLSKY_KT or PVGIS's monthly data) or a typical year: `weather: PvgisTmy(file: ...)` or `Epw(file: ...)`",
                crate::environment::climate::CLIMATE_COVERAGE_KM
            ));
            ([FALLBACK_CLEARNESS; 12], "no table place covers the site".to_string())
        }
    };
    let (temperature, temperature_from) = match given_mean.zip(given_range) {
        Some((mean_c, daily_range_c)) => (Some(MonthlyTemperature { mean_c, daily_range_c }), "the scenario".to_string()),
        None => match nearest_place(lat, lon, |p| p.temperature.is_some()) {
            Some((p, d)) => (p.temperature, from(p, d)),
            None => (None, "none (no table place with temperatures covers the site; PV is not derated)".to_string()),
        },
    };
    Some(crate::environment::weather::SyntheticClimate { clearness, temperature, clearness_from, temperature_from, warning })
}

/// The array a house states: with `losses` or `inverter_ac_kw`, PVWatts' chain (the loss
/// budget, by default PVWatts', then its inverter, by default kWp / 1.2); otherwise one
/// performance ratio (default 0.8). Facing the equator unless `azimuth_deg` is given.
fn resolve_pv(p: &schema::PvSpec, latitude_deg: f64) -> PvDef {
    let itemised = p.losses.is_some() || p.inverter_ac_kw.is_some();
    PvDef {
        kwp: p.kwp,
        tilt_deg: p.tilt_deg,
        azimuth_deg: p.azimuth_deg.unwrap_or(if latitude_deg >= 0.0 { 180.0 } else { 0.0 }),
        performance_ratio: if itemised { 1.0 } else { p.performance_ratio.unwrap_or(crate::household::DEFAULT_PERFORMANCE_RATIO) },
        temperature_coefficient_per_c: p.temperature_coefficient_per_c,
        dc_kept: if itemised { p.losses.unwrap_or_default().kept() } else { 1.0 },
        inverter_ac_kw: itemised.then(|| p.inverter_ac_kw.unwrap_or(p.kwp / crate::household::DEFAULT_DC_AC_RATIO)),
        shading: p.shading,
    }
}

fn load_typical_year(weather: &WeatherSpec, location: &schema::LocationSpec, base_dir: &Path, v: &mut validate::Validator) -> Option<crate::environment::measured::TypicalYear> {
    type Reader = fn(&Path) -> Result<crate::environment::measured::TypicalYear, crate::base::error::InputError>;
    let (file, kind, read): (_, _, Reader) = match weather {
        WeatherSpec::Tmy3 { file } => (file, "TMY3 file", crate::environment::measured::TypicalYear::read),
        WeatherSpec::Epw { file } => (file, "EPW file", |p| crate::scenario::data::epw::read(p).map(|(year, _)| year)),
        WeatherSpec::PvgisTmy { file } => (file, "PVGIS file", |p| crate::scenario::data::pvgis::read(p).map(|(year, _)| year)),
        _ => return None,
    };
    match read(&base_dir.join(file)) {
        Ok(y) => {
            if (y.latitude_deg - location.latitude_deg).abs() > TMY3_LOCATION_TOLERANCE_DEG || (y.longitude_deg - location.longitude_deg).abs() > TMY3_LOCATION_TOLERANCE_DEG {
                v.err("location", format!("the {} station {} is at latitude {}, longitude {}: set the scenario's location to the station's (within {TMY3_LOCATION_TOLERANCE_DEG}°)", kind.trim_end_matches(" file"), y.station, y.latitude_deg, y.longitude_deg));
            }
            Some(y)
        }
        Err(e) => {
            report_data_error(v, "weather.file", kind, e);
            None
        }
    }
}

fn load_irradiance(weather: &WeatherSpec, base_dir: &Path, frame: &TimeFrame, v: &mut validate::Validator) -> Option<crate::environment::measured::IrradianceSeries> {
    let WeatherSpec::Measured { file } = weather else { return None };
    match crate::environment::measured::IrradianceSeries::read(&base_dir.join(file), &frame.zone) {
        Ok(series) => {
            let (first, end) = series.span();
            let (run_start, run_end) = (frame.start_utc, frame.step_start_utc(frame.total_steps));
            if first > run_start || end < run_end {
                v.err("weather.file", format!("{file} covers {first} to {end} (UTC); the run needs {run_start} to {run_end}"));
            }
            Some(series)
        }
        Err(e) => {
            report_data_error(v, "weather.file", "irradiance file", e);
            None
        }
    }
}

/// Reports a data file's error: one that cannot be read is the scenario's mistake, so the
/// scenario's `field` naming the file is given too; one inside the file names its line and column.
fn report_data_error(v: &mut validate::Validator, field: &str, what: &str, e: InputError) {
    if e.location == Location::File {
        v.err(field, format!("{what} {}: {}", e.file.display(), e.message));
    } else {
        v.push(e);
    }
}

/// Reads every profile file once and resolves each household's load source.
fn load_profiles(specs: &[generate::HouseDraft], base_dir: &Path, frame: &TimeFrame, seed: u64, v: &mut validate::Validator) -> (ProfileTable, Vec<LoadDef>) {
    let steps = frame.total_steps;
    let mut files: HashMap<PathBuf, Option<crate::scenario::data::profile::ProfileFile>> = HashMap::new();
    let mut measured: HashMap<(PathBuf, Option<u32>), Option<crate::scenario::data::ausgrid::Measured>> = HashMap::new();
    let mut table = ProfileTable::default();
    let mut loads = Vec::with_capacity(specs.len());
    for (index, h) in specs.iter().enumerate() {
        match &h.load {
            generate::LoadDraft::Archetype { kind, annual_kwh } => loads.push(LoadDef::Archetype { kind: *kind, annual_kwh: *annual_kwh }),
            generate::LoadDraft::Profile { file, household } => {
                let full = base_dir.join(file);
                let parsed = files.entry(full.clone()).or_insert_with(|| read_profile_file(&full, steps).map_err(|e| report_data_error(v, &format!("{}.load.file", h.path), "profile", e)).ok());
                let key = household.as_deref().unwrap_or(&h.id);
                match parsed.as_ref().map(|f| f.get(key)) {
                    Some(Some(series)) => {
                        table.series.push(series.clone());
                        loads.push(LoadDef::Profile { series: table.series.len() - 1 });
                    }
                    Some(None) => {
                        v.err(&format!("{}.load.household", h.path), format!("profile file {} has no household `{key}`", full.display()));
                        loads.push(LoadDef::Profile { series: 0 });
                    }
                    None => loads.push(LoadDef::Profile { series: 0 }),
                }
            }
            generate::LoadDraft::Ausgrid(d) => {
                let full = base_dir.join(&d.file);
                let data = measured.entry((full.clone(), d.customer)).or_insert_with(|| crate::scenario::data::ausgrid::read(&full, d.customer).map_err(|e| report_data_error(v, &format!("{}.load.file", h.path), "Ausgrid file", e)).ok());
                if let Some(data) = data {
                    match measured::series(d, data, h.pv.as_ref().map(|p| p.kwp), frame, seed, index as u64) {
                        Ok(series) => table.series.push(series),
                        Err(m) => v.err(&format!("{}.load", h.path), format!("Ausgrid file {}: {m}", full.display())),
                    }
                }
                loads.push(LoadDef::Profile { series: table.series.len().saturating_sub(1) });
            }
        }
    }
    (table, loads)
}

/// A house's inverter curves; none when it gives neither curve.
fn resolve_inverter(spec: &schema::InverterSpec, pv: &schema::PvSpec) -> Option<crate::grid::inverter::InverterDef> {
    use crate::grid::inverter::{CurveSet, Curve};
    let curve = |c: &schema::CurveSpec, volt_var: bool| {
        let set = match c {
            schema::CurveSpec::AustraliaA => CurveSet::AustraliaA,
            schema::CurveSpec::AustraliaB => CurveSet::AustraliaB,
            schema::CurveSpec::En50549Example => CurveSet::En50549Example,
            schema::CurveSpec::Points(p) => return Curve(p.iter().map(|&(v, pct)| (v, pct / 100.0)).collect()),
        };
        if volt_var { set.volt_var() } else { set.volt_watt() }
    };
    (spec.volt_var.is_some() || spec.volt_watt.is_some()).then(|| crate::grid::inverter::InverterDef {
        // As the PV model clips: its inverter's rating, PVWatts' kWp / 1.2 with itemised losses.
        rated_kva: spec.rated_kva.or(pv.inverter_ac_kw).unwrap_or(if pv.losses.is_some() { pv.kwp / crate::household::DEFAULT_DC_AC_RATIO } else { pv.kwp }),
        volt_var: spec.volt_var.as_ref().map(|c| curve(c, true)),
        volt_watt: spec.volt_watt.as_ref().map(|c| curve(c, false)),
    })
}

/// Each household's phase and tan φ, resolved in `specs` (the phase given, an imported
/// load's, or `network.phases`; the load's power factor from `network`, an imported load's, or
/// 1), and the unbalanced model's inputs when anything is unbalanced or the feeder imported.
fn household_phases(net: &NetworkSpec, specs: &mut [generate::HouseDraft], imported: bool) -> Option<crate::grid::network::HouseholdPhases> {
    use crate::grid::topology::Phase;
    let tan = |pf: f64| (1.0 - pf * pf).max(0.0).sqrt() / pf;
    for (i, h) in specs.iter_mut().enumerate() {
        h.phase = Some(h.phase.unwrap_or(match net.phases {
            PhaseAssignment::ThreePhase => Phase::Three,
            PhaseAssignment::RoundRobin => [Phase::A, Phase::B, Phase::C][i % 3],
        }));
        h.load_tan_phi = Some(match net.load_power_factor {
            Some(pf) => tan(pf),
            None => h.load_tan_phi.unwrap_or(0.0),
        });
    }
    // Inverter curves read the voltage at their phase: they need the flow per phase. Volt-var
    // sets the reactive power in place of the fixed power factor.
    fn inverter<'a>(h: &'a generate::HouseDraft, net: &'a NetworkSpec) -> Option<&'a schema::InverterSpec> {
        h.pv.as_ref().and(h.inverter.as_ref().or(net.inverter.as_ref())).filter(|i| i.volt_var.is_some() || i.volt_watt.is_some())
    }
    let phases = crate::grid::network::HouseholdPhases {
        phase: specs.iter().map(|h| h.phase.unwrap_or_default()).collect(),
        load_tan_phi: specs.iter().map(|h| h.load_tan_phi.unwrap_or(0.0)).collect(),
        pv_tan_phi: specs.iter().map(|h| if inverter(h, net).is_some_and(|i| i.volt_var.is_some()) { 0.0 } else { tan(net.pv_power_factor) }).collect(),
    };
    let unbalanced = imported || specs.iter().any(|h| inverter(h, net).is_some()) || phases.phase.iter().any(|p| *p != Phase::Three) || phases.load_tan_phi.iter().chain(&phases.pv_tan_phi).any(|t| *t != 0.0);
    unbalanced.then_some(phases)
}

fn build_topology(file: &ScenarioFile, specs: &[generate::HouseDraft], ids: &[String], imported: Option<&imported::Imported>, v: &mut validate::Validator) -> (Topology, Vec<NodeIndex>, f64) {
    let connected = matches!(file.grid, GridSpec::Connected { .. });
    let nominal_voltage_v = file.network.nominal_voltage_v;
    match &file.topology {
        TopologySpec::Generated { layout, feeders, houses_per_feeder, houses_per_lateral, ties, spacing_m, service_length_m, feeder_capacity_kw, service_capacity_kw } => {
            for h in specs.iter().filter(|h| h.node.is_some()) {
                v.err(&format!("{}.node", h.path), "a generated topology places households itself; remove `node` or use an Explicit topology".to_string());
            }
            let params = LayoutParams {
                layout: *layout,
                feeders: *feeders,
                houses_per_feeder: *houses_per_feeder,
                houses_per_lateral: *houses_per_lateral,
                ties: *ties,
                spacing_m: *spacing_m,
                service_length_m: *service_length_m,
                feeder_capacity_kw: *feeder_capacity_kw,
                service_capacity_kw: *service_capacity_kw,
                root_kind: if connected { NodeKind::Substation } else { NodeKind::FeederHead },
            };
            let (topo, nodes) = generate_layout(&params, ids);
            (topo, nodes, nominal_voltage_v)
        }
        TopologySpec::Import { .. } => {
            let Some(imp) = imported else { return (Topology::new(), vec![NodeIndex::new(0); specs.len()], nominal_voltage_v) };
            let load_buses = imp.net.loads.iter().map(|l| l.bus).collect();
            let Some((topo, kv)) = imported::build(imp, connected, &load_buses, v) else { return (Topology::new(), vec![NodeIndex::new(0); specs.len()], nominal_voltage_v) };
            let nodes = place_households(&topo, true, specs, v, "an imported topology: a House that is not a load of the file");
            (topo, nodes, kv)
        }
        TopologySpec::Explicit { nodes, lines } => {
            let mut topo = Topology::new();
            for (i, n) in nodes.iter().enumerate() {
                if topo.add_node(Node { id: n.id.clone(), kind: n.kind, x_m: n.x_m, y_m: n.y_m }).is_err() {
                    v.err(&format!("topology.nodes[{i}].id"), format!("node id `{}` is used twice", n.id));
                }
            }
            let root = nodes
                .iter()
                .find(|n| n.kind == NodeKind::Substation)
                .or_else(|| nodes.iter().find(|n| n.kind == NodeKind::FeederHead))
                .and_then(|n| topo.node(&n.id));
            match root {
                Some(r) => topo.root = r,
                None => v.err("topology.nodes", "needs a Substation (grid connection point) or a FeederHead node as its root".to_string()),
            }
            for (i, l) in lines.iter().enumerate() {
                let at = |field: &str| format!("topology.lines[{i}].{field}");
                let from = topo.node(&l.from);
                let to = topo.node(&l.to);
                if from.is_none() {
                    v.err(&at("from"), format!("unknown node `{}`", l.from));
                }
                if to.is_none() {
                    v.err(&at("to"), format!("unknown node `{}`", l.to));
                }
                v.range(&at("capacity_kw"), l.capacity_kw, validate::Bound::Above(0.0), validate::Bound::Incl(1e7), "kW");
                v.range(&at("length_m"), l.length_m, validate::Bound::Incl(0.0), validate::Bound::Incl(1e6), "m");
                use crate::grid::topology::cable::{FEEDER_R_OHM_PER_KM, FEEDER_X_OHM_PER_KM};
                let r = l.r_ohm_per_km.unwrap_or(FEEDER_R_OHM_PER_KM);
                let x = l.x_ohm_per_km.unwrap_or(FEEDER_X_OHM_PER_KM);
                v.range(&at("r_ohm_per_km"), r, validate::Bound::Incl(0.0), validate::Bound::Incl(100.0), "Ω/km");
                v.range(&at("x_ohm_per_km"), x, validate::Bound::Incl(0.0), validate::Bound::Incl(100.0), "Ω/km");
                if from.is_some() && from == to {
                    v.err(&at("to"), format!("line joins `{}` to itself", l.to));
                }
                if let (Some(a), Some(b)) = (from, to) {
                    let id = l.id.clone().unwrap_or_else(|| format!("L{}", i + 1));
                    let mut line = Line::new(id, l.length_m, l.capacity_kw, r, x);
                    for (field, z, slot) in [("r0_ohm_per_km", l.r0_ohm_per_km, &mut line.r0_ohm), ("x0_ohm_per_km", l.x0_ohm_per_km, &mut line.x0_ohm)] {
                        if let Some(z) = z {
                            v.range(&at(field), z, validate::Bound::Incl(0.0), validate::Bound::Incl(100.0), "Ω/km");
                            *slot = Some(z * l.length_m / 1000.0);
                        }
                    }
                    topo.add_line(a, b, line);
                }
            }
            let out = place_households(&topo, root.is_some(), specs, v, "an Explicit topology: every household");
            (topo, out, nominal_voltage_v)
        }
    }
}

/// Each household's node by its `node` (a node id of `topo`), which must reach the root.
fn place_households(topo: &Topology, has_root: bool, specs: &[generate::HouseDraft], v: &mut validate::Validator, needs_node: &str) -> Vec<NodeIndex> {
            let mut out = Vec::with_capacity(specs.len());
            let reach = topo.reachable_from_root();
            for h in specs {
                match h.node.as_deref() {
                    None => v.err(&format!("{}.node", h.path), format!("with {needs_node} needs `node`")),
                    Some(n) => match topo.node(n) {
                        None => v.err(&format!("{}.node", h.path), format!("household `{}` is on node `{n}`, which does not exist in topology.nodes", h.id)),
                        Some(ix) => {
                            if has_root && !reach[ix.index()] {
                                v.err(&format!("{}.node", h.path), format!("household `{}` on node `{n}` is not connected to the root `{}`", h.id, topo.graph[topo.root].id));
                            }
                            out.push(ix);
                            continue;
                        }
                    },
                }
                out.push(NodeIndex::new(0));
            }
            out
}

#[cfg(test)]
mod tests;
