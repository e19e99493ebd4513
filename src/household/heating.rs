//! Heat pumps heating (and cooling) a house's building, every step, on its weather.
//!
//! - The building is the 5R1C model of [`super::building`], driven by the outdoor air
//!   temperature, the sun on its windows (facing the four directions equally) and constant
//!   internal gains; heat goes to the air node.
//! - The heat pump's coefficient of performance depends on the temperature lift ΔT = supply −
//!   source: COP = a + b·ΔT + c·ΔT² (Ruhnau, Hirth and Praktiknjo 2019, *Time series of heat
//!   demand and heat pump efficiency for energy system modeling*, Scientific Data 6:189: air
//!   source 6.08 − 0.09 ΔT + 0.0005 ΔT², ground source 10.29 − 0.21 ΔT + 0.0012 ΔT²), the
//!   source the outdoor air or the ground, the supply from a linear heating curve (the design
//!   supply temperature on the design day, the set-point when it is as warm outside). Cooling
//!   uses the same fit with the lift from a 18 °C chilled supply to the outdoor air. The
//!   pump's heat output is its capacity (default: EN 12831's design heat load) whatever the
//!   weather; a backup resistive heater covers what the pump cannot, at COP 1.
//! - `Thermostat` heats to the set-point (and cools to the top of the comfort band, with
//!   cooling); `SolarAware` does that as its must-run part and, while the outdoor air is below
//!   its heating limit (above the comfort band), pre-heats towards the top of the comfort band
//!   (pre-cools towards the set-point) on the household's own PV surplus, on a
//!   low import price (`preheat_price_per_kwh`), and with what it buys on the market through a
//!   flexible order (the rest of the way to the band's edge, at `flexible_price_per_kwh`): the
//!   building's mass is the store. It never pre-heats on the backup heater.
//!
//! A house with a heat pump has its archetype's heating removed from its electricity load (see
//! [`crate::household::load::heating_removed`]), so heat is not counted twice.
//!
//! Electricity for space heat and cooling is `Meter::heat_pump_kwh`, part of the load; the
//! grid-only baseline runs its own copy of a `SolarAware` pump (it has no market to buy from).

use super::building::{BuildingSpec, Rc5, Temperatures};
use super::hot_water::{step_draws, HotWater, TappingProfile};
use super::Meter;
use crate::base::time::SimClock;
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Where the heat pump takes its heat from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum HeatSource {
    #[default]
    AirSource,
    /// A borehole or ground collector at `ground_temp_c`.
    GroundSource,
}

impl HeatSource {
    /// Ruhnau et al. (2019)'s quadratic fits (a, b, c) of COP in the lift ΔT, K.
    pub fn ruhnau(self) -> (f64, f64, f64) {
        match self {
            HeatSource::AirSource => (6.08, -0.09, 0.0005),
            HeatSource::GroundSource => (10.29, -0.21, 0.0012),
        }
    }
}

/// How a heat pump is controlled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum HeatControl {
    #[default]
    Thermostat,
    /// Pre-heats or pre-cools within the comfort band on surplus, a low price or the market.
    SolarAware,
}

/// The COP curve: Ruhnau's fit for the source, or given.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
pub enum CopSpec {
    /// COP = a + b·ΔT + c·ΔT² in the lift ΔT, K.
    Quadratic { a: f64, b: f64, c: f64 },
    /// The same COP whatever the weather.
    Constant(f64),
}

/// Outdoor temperature below which a house is taken to be in its heating season, °C (a heating
/// curve's usual heating limit for a house of the 2000s: 15; older houses 15–17, passive 10–12).
pub const HEATING_LIMIT_C: f64 = 15.0;
/// A heat pump that heats a tank is sized to reheat a day's draws in this many hours, h.
pub const TANK_REHEAT_HOURS: f64 = 8.0;
/// Ruhnau et al. (2019)'s correction of manufacturers' COPs to field conditions.
pub const RUHNAU_FIELD_CORRECTION: f64 = 0.85;
/// Lifts the COP curve must hold positive over, K (a curve is checked at every whole kelvin).
pub const COP_CHECK_LIFT_K: std::ops::RangeInclusive<i32> = 0..=80;
/// Chilled supply of cooling, °C.
pub const COOLING_SUPPLY_C: f64 = 18.0;
/// The heating curve never asks less than this above the set-point, K.
const MIN_SUPPLY_ABOVE_SET_POINT_K: f64 = 5.0;
/// Lowest COP used (the fit's extrapolation far beyond its data), and highest.
const MIN_COP: f64 = 1.0;
const MAX_COP: f64 = 10.0;
/// Indoor temperatures within this of the band count as in it, K.
pub const COMFORT_TOLERANCE_K: f64 = 0.05;
const WATTS_PER_KW: f64 = 1000.0;

/// A heat pump and the building it heats, as a scenario describes them.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HeatPumpSpec {
    pub building: BuildingSpec,
    pub source: HeatSource,
    /// Heat output, kW (default: the building's EN 12831 design heat load, plus a day's
    /// hot-water draws over [`TANK_REHEAT_HOURS`] when it heats the tank).
    pub capacity_kw: Option<f64>,
    /// Resistive backup heater, kW of heat at COP 1.
    pub backup_kw: f64,
    /// Default: Ruhnau's fit for the source.
    pub cop: Option<CopSpec>,
    /// Multiplies the curve's COP: Ruhnau et al. apply 0.85 to manufacturers' data for
    /// defrosting, cycling and auxiliary pumps in the field (1: the curve as it is).
    pub cop_correction: f64,
    /// Supply temperature on the design day, °C (35 floor heating, 45–55 radiators).
    pub design_supply_c: f64,
    /// Ground temperature of a ground source, °C.
    pub ground_temp_c: f64,
    /// Cools to the top of the comfort band when the house is warmer.
    pub cooling: bool,
    pub control: HeatControl,
    /// `SolarAware`: the flexible order's limit price per kWh (default: midway between the
    /// step's export and import price).
    pub flexible_price_per_kwh: Option<f64>,
    /// `SolarAware`: pre-heat from the grid when the import price is at or below this, per kWh.
    pub preheat_price_per_kwh: Option<f64>,
    /// `SolarAware` pre-heats only while the outdoor air is below this, °C (the heating limit
    /// temperature of heating curves: no storing heat on a summer night), and pre-cools only
    /// while it is above the comfort band.
    pub heating_limit_c: f64,
}

impl Default for HeatPumpSpec {
    fn default() -> Self {
        HeatPumpSpec {
            building: BuildingSpec::default(),
            source: HeatSource::AirSource,
            capacity_kw: None,
            backup_kw: 0.0,
            cop: None,
            cop_correction: RUHNAU_FIELD_CORRECTION,
            design_supply_c: 45.0,
            ground_temp_c: 10.0,
            cooling: false,
            control: HeatControl::Thermostat,
            flexible_price_per_kwh: None,
            preheat_price_per_kwh: None,
            heating_limit_c: HEATING_LIMIT_C,
        }
    }
}

impl HeatPumpSpec {
    pub fn cop_curve(&self) -> CopSpec {
        self.cop.unwrap_or_else(|| {
            let (a, b, c) = self.source.ruhnau();
            CopSpec::Quadratic { a, b, c }
        })
    }
}

impl CopSpec {
    /// The COP at lift `lift_k`, within [`MIN_COP`]..[`MAX_COP`] (lifts below zero count as zero).
    pub fn cop(self, lift_k: f64) -> f64 {
        let raw = match self {
            CopSpec::Quadratic { a, b, c } => {
                let d = lift_k.max(0.0);
                a + b * d + c * d * d
            }
            CopSpec::Constant(x) => x,
        };
        raw.clamp(MIN_COP, MAX_COP)
    }

    /// The lowest COP of the raw curve over the lifts a heat pump sees (for validation).
    pub fn lowest_raw(self) -> f64 {
        match self {
            CopSpec::Quadratic { a, b, c } => COP_CHECK_LIFT_K.map(f64::from).map(|d| a + b * d + c * d * d).fold(f64::INFINITY, f64::min),
            CopSpec::Constant(x) => x,
        }
    }
}

/// What a heat pump did over the run. Written by [`run_heating`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HeatingTotals {
    /// Electricity for space heating (pump and backup) and for cooling, kWh.
    pub heating_kwh: f64,
    pub cooling_kwh: f64,
    /// Heat delivered to the house by the pump and by the backup heater, and heat removed by
    /// cooling, kWh.
    pub heat_kwh: f64,
    pub backup_heat_kwh: f64,
    pub cool_kwh: f64,
    /// Heat the pump made for the hot-water tank, and the electricity it took, kWh.
    pub hot_water_heat_kwh: f64,
    pub hot_water_kwh: f64,
    /// Hours the indoor (operative) temperature was outside the comfort band (below it; above it
    /// only with cooling).
    pub comfort_violation_hours: f64,
    /// Indoor (operative) temperature summed over steps (for the mean) and its extremes, °C.
    pub indoor_sum_c: f64,
    pub steps: u64,
    pub indoor_min_c: f64,
    pub indoor_max_c: f64,
}

impl HeatingTotals {
    /// Seasonal performance factor: heat delivered (space heat and hot water, by pump and
    /// backup) per kWh of electricity for it (SEPEMO's SPF_H3 boundary, backup heaters in, as the
    /// Fraunhofer ISE field tests count); `None` without heating.
    pub fn spf(&self) -> Option<f64> {
        let elec = self.heating_kwh + self.hot_water_kwh;
        (elec > 0.0).then(|| (self.heat_kwh + self.hot_water_heat_kwh) / elec)
    }
}

/// The two temperatures a heat pump decides on: the mass's at the step's end and the step's
/// mean operative temperature, °C (or their responses to one unit of an input).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Nodes {
    m_end: f64,
    op: f64,
}

impl Nodes {
    fn of(t: &Temperatures) -> Nodes {
        Nodes { m_end: t.t_m_end, op: t.t_op }
    }

    fn plus(self, unit: Nodes, k: f64) -> Nodes {
        Nodes { m_end: self.m_end + k * unit.m_end, op: self.op + k * unit.op }
    }
}

/// The step a heat pump is part way through: its free-floating temperatures and decision,
/// kept so that energy the market delivers to its flexible order heats the building the same
/// step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct StepState {
    /// The step's length, h (0 before the first step).
    hours: f64,
    /// The step's temperatures without heating, and whether [`HeatPump::begin_step`] set them
    /// for a step not yet decided.
    free: Nodes,
    begun: bool,
    /// Heat to the air from the pump (cooling negative) and the backup, W; whether it cools.
    pump_w: f64,
    cooling: bool,
    backup_w: f64,
    cop: f64,
    /// The step's COPs of heating (to the heating curve's supply) and of cooling.
    heat_cop: f64,
    cool_cop: f64,
}

/// What a step reads of a heat pump's spec, kept together: the pumps of a district and their
/// baseline copies are gone over several times a step, and each pass then reads a few cache
/// lines of a pump rather than the whole spec.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Controls {
    set_point_c: f64,
    comfort_min_c: f64,
    comfort_max_c: f64,
    /// The heating curve: the design day's outdoor and supply temperatures, °C.
    design_outdoor_c: f64,
    design_supply_c: f64,
    /// The heat source's temperature when fixed (ground source), else the outdoor air's.
    fixed_source_c: Option<f64>,
    cop_curve: CopSpec,
    cop_correction: f64,
    backup_w: f64,
    heating_limit_c: f64,
    /// Pre-heats from the grid at or below this import price, micro-units per kWh.
    preheat_price: Option<i64>,
    /// Its flexible order's limit price, micro-units per kWh (`None`: midway between the step's
    /// export and import price).
    flexible_price: Option<i64>,
    cooling: bool,
    solar_aware: bool,
}

impl Controls {
    fn of(spec: &HeatPumpSpec) -> Controls {
        let b = &spec.building;
        Controls {
            set_point_c: b.set_point_c,
            comfort_min_c: b.comfort_min_c,
            comfort_max_c: b.comfort_max_c,
            design_outdoor_c: b.design_outdoor_c,
            design_supply_c: spec.design_supply_c,
            fixed_source_c: (spec.source == HeatSource::GroundSource).then_some(spec.ground_temp_c),
            cop_curve: spec.cop_curve(),
            cop_correction: spec.cop_correction,
            backup_w: spec.backup_kw * WATTS_PER_KW,
            heating_limit_c: spec.heating_limit_c,
            preheat_price: spec.preheat_price_per_kwh.map(|p| crate::base::money::PricePerKwh::from_units(p).0),
            flexible_price: spec.flexible_price_per_kwh.map(|p| crate::base::money::PricePerKwh::from_units(p).0),
            cooling: spec.cooling,
            solar_aware: spec.control == HeatControl::SolarAware,
        }
    }
}

/// A household's heat pump and building. Read and written by [`run_heating`].
#[derive(Component, Debug, Clone)]
pub struct HeatPump {
    /// As the scenario gave it, and the building's model (both read only at the start and where
    /// the step's length changes: a step reads `ctl`).
    pub spec: Box<HeatPumpSpec>,
    pub building: Box<Rc5>,
    ctl: Controls,
    /// Heat output, W.
    pub capacity_w: f64,
    pub design_heat_load_w: f64,
    /// The mass's temperature at the step's start, and the step's mean indoor (operative)
    /// temperature, °C.
    pub t_m_c: f64,
    pub indoor_c: f64,
    /// `SolarAware`: this step's flexible order, kWh of electricity.
    pub flexible_kwh: f64,
    /// The household's load this step before the pump's and the tank's (what the baseline's
    /// copy decides on).
    pub load_before_kwh: f64,
    /// Electricity this step: space heating and cooling, kWh.
    pub step_kwh: f64,
    pub totals: HeatingTotals,
    /// The step's weather and the heat its pump gave the hot-water tank, W (what the
    /// baseline's copy decides on).
    pub step_weather: Option<HeatWeather>,
    pub step_hot_water_w: f64,
    step: StepState,
    /// The building's response over a step to each of its inputs (the mass's temperature at
    /// the start, outdoor air, internal and solar gains, a watt of heating), and the step's
    /// length it is for, h: the model is linear, so a step is five multiply-adds a node.
    unit: Option<(f64, [Nodes; 5])>,
    /// Internal gains, W, and the windows' solar aperture (solar factor × area), m².
    internal_w: f64,
    solar_aperture_m2: f64,
    /// The mass's temperature at this step's start, and the step's must-run result before any
    /// flexible delivery (mass at the end, indoor, electricity): what a baseline copy in the same
    /// state takes over without computing it ([`HeatPump::follow`]).
    start_t_m_c: f64,
    must_run: (f64, f64, f64),
}

/// The step's weather and prices as heat pumps see them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatWeather {
    pub t_out_c: f64,
    /// Mean irradiance on a vertical window facing north, east, south and west, W/m².
    pub vertical_w_m2: f64,
    pub hours: f64,
    /// Import price of the step, micro-units per kWh.
    pub import_price: i64,
}

impl HeatPump {
    /// A heat pump; `tank_daily_kwh` is the daily draw of the hot-water tank it heats, if any.
    pub fn new(spec: &HeatPumpSpec, tank_daily_kwh: Option<f64>) -> HeatPump {
        let building = Rc5::from_spec(&spec.building);
        let design = building.design_heat_load_w(spec.building.set_point_c, spec.building.design_outdoor_c);
        // Sized to the design load, and with a tank to heat, to reheat a day's draws in a third
        // of a day on top (the rule of thumb of VDI 4645's sizing).
        let sized = design + tank_daily_kwh.unwrap_or(0.0) / TANK_REHEAT_HOURS * WATTS_PER_KW;
        let t0 = spec.building.set_point_c;
        HeatPump {
            spec: Box::new(spec.clone()),
            building: Box::new(building),
            ctl: Controls::of(spec),
            capacity_w: spec.capacity_kw.map_or(sized, |kw| kw * WATTS_PER_KW),
            design_heat_load_w: design,
            t_m_c: t0,
            indoor_c: t0,
            flexible_kwh: 0.0,
            load_before_kwh: 0.0,
            step_kwh: 0.0,
            totals: HeatingTotals { indoor_min_c: f64::INFINITY, indoor_max_c: f64::NEG_INFINITY, ..Default::default() },
            step_weather: None,
            step_hot_water_w: 0.0,
            step: StepState::default(),
            unit: None,
            start_t_m_c: t0,
            must_run: (t0, t0, 0.0),
            internal_w: spec.building.internal_gains_w_per_m2 * spec.building.floor_area_m2,
            solar_aperture_m2: spec.building.solar_factor * spec.building.window_m2(),
        }
    }

    /// `SolarAware`: its flexible order's limit price (`flexible_price_per_kwh`, else `midway`).
    pub fn flexible_limit(&self, midway: crate::base::money::PricePerKwh) -> crate::base::money::PricePerKwh {
        self.ctl.flexible_price.map_or(midway, crate::base::money::PricePerKwh)
    }

    /// Supply temperature of the heating curve at outdoor `t_out_c`, °C.
    pub fn supply_c(&self, t_out_c: f64) -> f64 {
        let c = &self.ctl;
        let span = (c.set_point_c - c.design_outdoor_c).max(1.0);
        let f = ((c.set_point_c - t_out_c) / span).clamp(0.0, 1.0);
        (c.set_point_c + (c.design_supply_c - c.set_point_c) * f).max(c.set_point_c + MIN_SUPPLY_ABOVE_SET_POINT_K)
    }

    /// Temperature of the heat source, °C.
    fn source_c(&self, t_out_c: f64) -> f64 {
        self.ctl.fixed_source_c.unwrap_or(t_out_c)
    }

    /// COP of heating to `supply_c` from outdoor `t_out_c` (at least 1: never worse than a
    /// resistive heater).
    pub fn heating_cop(&self, t_out_c: f64, supply_c: f64) -> f64 {
        (self.ctl.cop_curve.cop(supply_c - self.source_c(t_out_c)) * self.ctl.cop_correction).max(MIN_COP)
    }

    /// COP (energy efficiency ratio) of cooling at outdoor `t_out_c`.
    pub fn cooling_cop(&self, t_out_c: f64) -> f64 {
        (self.ctl.cop_curve.cop(self.source_c(t_out_c) - COOLING_SUPPLY_C) * self.ctl.cop_correction).max(MIN_COP)
    }

    /// Starts a step on its weather: the building's free-floating temperatures, from which
    /// every decision of the step follows (the model is linear in the heat). [`advance`]
    /// calls it when it has not been.
    ///
    /// [`advance`]: HeatPump::advance
    pub fn begin_step(&mut self, w: &HeatWeather) {
        if self.unit.is_none_or(|(h, _)| h != w.hours) {
            self.unit = Some((w.hours, self.building.responses(w.hours).map(|t| Nodes::of(&t))));
        }
        self.start_t_m_c = self.t_m_c;
        let Some((_, r)) = &self.unit else { return };
        let free = Nodes::default().plus(r[0], self.t_m_c).plus(r[1], w.t_out_c).plus(r[2], self.internal_w).plus(r[3], self.solar_aperture_m2 * w.vertical_w_m2);
        let heat_cop = self.heating_cop(w.t_out_c, self.supply_c(w.t_out_c));
        let cool_cop = if self.ctl.cooling { self.cooling_cop(w.t_out_c) } else { MIN_COP };
        self.step = StepState { hours: w.hours, free, begun: true, pump_w: 0.0, cooling: false, backup_w: 0.0, cop: 1.0, heat_cop, cool_cop };
    }

    /// This step's heat to the air, W, that makes the operative temperature `target_c`
    /// (negative: cooling), after [`HeatPump::begin_step`].
    fn power_to(&self, target_c: f64) -> f64 {
        match &self.unit {
            Some((_, r)) => (target_c - self.step.free.op) / r[4].op,
            None => 0.0,
        }
    }

    /// Heat the house needs this step to hold its set-point, within the pump's capacity, W
    /// (space heating comes before the hot-water tank), after [`HeatPump::begin_step`].
    pub fn space_need_w(&self) -> f64 {
        let b = &self.ctl;
        if b.cooling && self.step.free.op > b.comfort_max_c - COMFORT_TOLERANCE_K {
            return (-self.power_to(b.comfort_max_c)).clamp(0.0, self.capacity_w);
        }
        self.power_to(b.set_point_c).clamp(0.0, self.capacity_w)
    }

    /// The electricity the must-run space heat (or cooling) takes this step, kWh, after
    /// [`HeatPump::begin_step`] (what a tank's solar boost leaves it).
    pub fn space_need_kwh(&self, w: &HeatWeather) -> f64 {
        let b = &self.ctl;
        let cooling = b.cooling && self.step.free.op > b.comfort_max_c - COMFORT_TOLERANCE_K;
        let cop = if cooling { self.step.cool_cop } else { self.step.heat_cop };
        self.space_need_w() / cop * w.hours / WATTS_PER_KW
    }


    /// One step. `hot_water_w` of the pump's output goes to the tank first. Decides the
    /// must-run heat, pre-heats on `surplus_kwh` (the household's PV left after its load) and
    /// a low price, sets the flexible order, and returns the electricity, kWh.
    pub fn advance(&mut self, w: &HeatWeather, hot_water_w: f64, surplus_kwh: f64) -> f64 {
        self.step_weather = Some(*w);
        self.step_hot_water_w = hot_water_w;
        if !self.step.begun {
            self.begin_step(w);
        }
        self.step.begun = false;
        let b = self.ctl;
        let pump_w = (self.capacity_w - hot_water_w).max(0.0);
        let free_air = self.step.free.op;
        let need_w = self.power_to(b.set_point_c);
        self.flexible_kwh = 0.0;
        let (preheat, precool) = (b.solar_aware && w.t_out_c < b.heating_limit_c, b.solar_aware && w.t_out_c > b.comfort_max_c);
        let cheap = b.preheat_price.is_some_and(|p| w.import_price <= p);
        let (pump, backup, cop, cooling);
        // What pre-heating may take of the household's own PV: what is left after the must-run
        // heat (the surplus given is after the house's load and tank).
        let own_kwh = |must_kwh: f64| (surplus_kwh - must_kwh).max(0.0);
        if free_air < b.set_point_c + COMFORT_TOLERANCE_K || (preheat && free_air < b.comfort_max_c) {
            cop = self.step.heat_cop;
            let must = need_w.max(0.0);
            let must_pump = must.min(pump_w);
            backup = (must - must_pump).min(b.backup_w);
            let mut p = must_pump;
            if preheat {
                // Pre-heat to the top of the band with what the pump has left.
                let top = self.power_to(b.comfort_max_c).clamp(must_pump, pump_w);
                let room_kwh = (top - must_pump) / cop * w.hours / WATTS_PER_KW;
                let must_kwh = (must_pump / cop + backup) * w.hours / WATTS_PER_KW;
                let own = if cheap { room_kwh } else { own_kwh(must_kwh).min(room_kwh) };
                p += own * cop / w.hours * WATTS_PER_KW;
                self.flexible_kwh = (room_kwh - own).max(0.0);
            }
            (pump, cooling) = (p, false);
        } else if b.cooling && free_air > b.comfort_max_c - COMFORT_TOLERANCE_K {
            cop = self.step.cool_cop;
            let must = (-self.power_to(b.comfort_max_c)).clamp(0.0, pump_w);
            let mut p = must;
            if precool {
                let bottom = (-self.power_to(b.set_point_c)).clamp(must, pump_w);
                let room_kwh = (bottom - must) / cop * w.hours / WATTS_PER_KW;
                let own = if cheap { room_kwh } else { own_kwh(must / cop * w.hours / WATTS_PER_KW).min(room_kwh) };
                p += own * cop / w.hours * WATTS_PER_KW;
                self.flexible_kwh = (room_kwh - own).max(0.0);
            }
            (pump, backup, cooling) = (-p, 0.0, true);
        } else {
            (pump, backup, cop, cooling) = (0.0, 0.0, 1.0, false);
        }
        self.step.cooling = cooling;
        (self.step.pump_w, self.step.backup_w, self.step.cop) = (pump, backup, cop);
        let e = self.settle();
        self.must_run = (self.t_m_c, self.indoor_c, e);
        e
    }

    /// Whether this copy starts the step in the state the run's pump did, bit for bit.
    pub fn follows(&self, run: &HeatPump) -> bool {
        self.t_m_c.to_bits() == run.start_t_m_c.to_bits()
    }

    /// A copy of the run's pump (the baseline's) that starts this step in the state the run's
    /// did, bit for bit, ends it as the run's must-run part did (the same weather, tank and
    /// surplus give the same decision): takes that over and returns its electricity, kWh;
    /// `None` when the states differ.
    pub fn follow(&mut self, run: &HeatPump) -> Option<f64> {
        if !self.follows(run) {
            return None;
        }
        (self.t_m_c, self.indoor_c, self.step_kwh) = run.must_run;
        self.start_t_m_c = run.start_t_m_c;
        self.step.begun = false;
        Some(self.step_kwh)
    }


    /// The building's temperatures for the step's decision; returns its electricity, kWh.
    fn settle(&mut self) -> f64 {
        let Some((_, r)) = &self.unit else { return 0.0 };
        let s = self.step;
        let t = s.free.plus(r[4], s.pump_w + s.backup_w);
        self.t_m_c = t.m_end;
        self.indoor_c = t.op;
        let elec_kwh = (s.pump_w.abs() / s.cop + s.backup_w) * s.hours / WATTS_PER_KW;
        self.step_kwh = elec_kwh;
        elec_kwh
    }

    /// Whether this step it cools (else it heats or is idle).
    pub fn cooling_now(&self) -> bool {
        self.step.cooling
    }

    /// Adds the step to the totals (once, after the market).
    pub fn close_step(&mut self) {
        let s = self.step;
        if s.hours <= 0.0 {
            return;
        }
        let t = &mut self.totals;
        let h = s.hours;
        if !s.cooling {
            t.heating_kwh += self.step_kwh;
            t.heat_kwh += (s.pump_w + s.backup_w) * h / WATTS_PER_KW;
            t.backup_heat_kwh += s.backup_w * h / WATTS_PER_KW;
        } else {
            t.cooling_kwh += self.step_kwh;
            t.cool_kwh += -s.pump_w * h / WATTS_PER_KW;
        }
        let b = &self.ctl;
        let low = self.indoor_c < b.comfort_min_c - COMFORT_TOLERANCE_K;
        let high = b.cooling && self.indoor_c > b.comfort_max_c + COMFORT_TOLERANCE_K;
        if low || high {
            t.comfort_violation_hours += h;
        }
        t.indoor_sum_c += self.indoor_c;
        t.steps += 1;
        t.indoor_min_c = t.indoor_min_c.min(self.indoor_c);
        t.indoor_max_c = t.indoor_max_c.max(self.indoor_c);
    }

    /// `SolarAware`: runs `kwh` more of electricity from the market on its flexible order
    /// (the building warms or cools further this step); returns what it took.
    pub fn take_flexible(&mut self, kwh: f64) -> f64 {
        let e = kwh.min(self.flexible_kwh).max(0.0);
        if e <= 0.0 {
            return 0.0;
        }
        if self.step.hours <= 0.0 {
            return 0.0;
        }
        let extra_w = e * self.step.cop / self.step.hours * WATTS_PER_KW;
        if self.step.cooling {
            self.step.pump_w -= extra_w;
        } else {
            self.step.pump_w += extra_w;
        }
        self.flexible_kwh -= e;
        self.settle();
        e
    }
}

/// The step's weather for heat pumps: air temperature (the last known when the weather has
/// none this step), irradiance on vertical windows. Kept between steps.
#[derive(Default)]
pub struct HeatingWeather {
    last_t_out_c: Option<f64>,
}

/// Outdoor temperature assumed until the weather gives one, °C.
const UNKNOWN_OUTDOOR_C: f64 = 10.0;

/// Runs every house's hot-water tank and heat pump on the step's weather, the household's PV
/// left after its load so far, and the import price, adding their electricity to the load
/// (`Meter::load_kwh`, `heat_pump_kwh`, `hot_water_kwh`) and a `SolarAware` pump's flexible
/// order to `Meter::flexible_kwh`. Reads `Environment`, `SimClock`, `StepPrices`; writes
/// `HeatPump`, `HotWater`, `Meter`. Runs in `HouseholdSystems::GenerationAndLoad`, after the
/// appliances and before the vehicles. Houses are split over the `--threads` pool as a `Pace`
/// region: each reads only its own components and the step's shared weather and draws, so the
/// split does not change a number.
#[allow(clippy::type_complexity)]
pub fn run_heating(
    env: Res<crate::environment::weather::Environment>,
    clock: Res<SimClock>,
    prices: Res<crate::environment::tariff::StepPrices>,
    pace: Res<crate::base::exec::Pace>,
    mut state: Local<HeatingWeather>,
    mut households: Query<(Option<&mut HeatPump>, Option<&mut HotWater>, &mut Meter), Or<(With<HeatPump>, With<HotWater>)>>,
) {
    use rayon::prelude::*;
    if households.is_empty() {
        return;
    }
    let w = step_weather(&env, &clock, prices.import.0, &mut state);
    // The step's draws of each profile, shared by every tank of it.
    let start = clock.local_start.time();
    let draws = [TappingProfile::M, TappingProfile::L].map(|p| step_draws(p, start, w.hours));
    let mut houses: Vec<_> = households.iter_mut().collect();
    pace.region(|| houses.par_iter_mut().for_each(|(pump, tank, m)| heat_house(&w, &draws, pump.as_deref_mut(), tank.as_deref_mut(), m)));
}

/// One house's step of [`run_heating`]: its tank on the pump's spare capacity, then its pump.
fn heat_house(w: &HeatWeather, draws: &[Vec<super::hot_water::Draw>; 2], mut pump: Option<&mut HeatPump>, tank: Option<&mut HotWater>, m: &mut Meter) {
    let before = m.load_kwh;
    if let Some(p) = pump.as_deref_mut() {
        p.load_before_kwh = before;
    }
    let (mut tank_by_pump, mut hw_heat_kwh) = (false, 0.0);
    let (hw_kwh, hw_w) = match tank {
        Some(t) => {
            tank_by_pump = t.spec.heater == super::hot_water::WaterHeater::HeatPump;
            let (spare_w, space_kwh) = pump.as_deref_mut().map_or((0.0, 0.0), |p| {
                p.begin_step(w);
                (p.capacity_w - p.space_need_w(), p.space_need_kwh(w))
            });
            let d = &draws[usize::from(t.spec.profile == TappingProfile::L)];
            let r = t.advance_with(w, d, pump.as_deref().map(|p| (p, spare_w)), (m.pv_kwh - before - space_kwh).max(0.0));
            hw_heat_kwh = t.step_heat_kwh;
            r
        }
        None => (0.0, 0.0),
    };
    if let (Some(p), true) = (pump.as_deref_mut(), hw_w > 0.0 || tank_by_pump) {
        // A tank the pump heats counts in its seasonal performance with its backup element.
        p.totals.hot_water_kwh += hw_kwh;
        p.totals.hot_water_heat_kwh += hw_heat_kwh;
    }
    let hp_kwh = pump.as_deref_mut().map_or(0.0, |p| p.advance(w, hw_w, (m.pv_kwh - before - hw_kwh).max(0.0)));
    m.load_kwh += hw_kwh + hp_kwh;
    m.hot_water_kwh = hw_kwh;
    m.heat_pump_kwh = hp_kwh;
    m.heat_flexible_kwh = pump.as_deref().map_or(0.0, |p| p.flexible_kwh);
    m.flexible_kwh += m.heat_flexible_kwh;
}

/// The step's weather for heat pumps and tanks.
pub fn step_weather(env: &crate::environment::weather::Environment, clock: &SimClock, import_price: i64, state: &mut HeatingWeather) -> HeatWeather {
    let t_out_c = env.temp_air_c.or(state.last_t_out_c).unwrap_or(UNKNOWN_OUTDOOR_C);
    state.last_t_out_c = Some(t_out_c);
    let vertical_w_m2 = [0.0, 90.0, 180.0, 270.0].iter().map(|az| crate::environment::solar::Surface::new(90.0, *az).poa(&env.irradiance, &env.sky_diffuse, &env.sun_vector)).sum::<f64>() / 4.0;
    HeatWeather { t_out_c, vertical_w_m2, hours: clock.frame.step_hours(), import_price }
}

/// Closes every heat pump's step after the market (its flexible order settled), split over the
/// `--threads` pool as a `Pace` region (each pump only its own). Writes `HeatPump`; runs in
/// `HouseholdSystems::AfterMarket`.
pub fn close_heating_steps(pace: Res<crate::base::exec::Pace>, mut pumps: Query<&mut HeatPump>) {
    use rayon::prelude::*;
    if pumps.is_empty() {
        return;
    }
    let mut pumps: Vec<_> = pumps.iter_mut().collect();
    pace.region(|| pumps.par_iter_mut().for_each(|p| p.close_step()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weather(t_out_c: f64) -> HeatWeather {
        HeatWeather { t_out_c, vertical_w_m2: 0.0, hours: 1.0, import_price: 300_000 }
    }

    #[test]
    fn ruhnau_air_source_cop_at_known_lifts() {
        let c = HeatPumpSpec::default().cop_curve();
        assert!((c.cop(40.0) - 3.28).abs() < 1e-12);
        assert!((HeatPump::new(&HeatPumpSpec::default(), None).heating_cop(0.0, 40.0) - 3.28 * 0.85).abs() < 1e-12);
        assert!((c.cop(20.0) - 4.48).abs() < 1e-12);
        // The heating curve: the design supply on the design day, less when milder.
        let p = HeatPump::new(&HeatPumpSpec::default(), None);
        assert_eq!(p.supply_c(-10.0), 45.0);
        assert!((p.supply_c(5.0) - 32.5).abs() < 1e-12);
        assert_eq!(p.supply_c(20.0), 25.0);
    }

    #[test]
    fn thermostat_holds_the_band_on_the_design_day() {
        let spec = HeatPumpSpec::default();
        let mut p = HeatPump::new(&spec, None);
        // Two design days with no sun: the pump sized to the design load holds the set-point.
        for _ in 0..48 {
            p.advance(&weather(spec.building.design_outdoor_c), 0.0, 0.0);
            p.close_step();
        }
        assert_eq!(p.totals.comfort_violation_hours, 0.0);
        assert!((p.indoor_c - 20.0).abs() < 1e-6, "{}", p.indoor_c);
        // The internal gains mean it needs less than the design load.
        assert!(p.step_kwh * p.heating_cop(-10.0, 45.0) * 1000.0 < p.design_heat_load_w);
        // Half the capacity cannot: the air falls below the band and it is reported.
        let mut small = HeatPump::new(&HeatPumpSpec { capacity_kw: Some(p.design_heat_load_w / 2000.0), ..spec }, None);
        for _ in 0..48 {
            small.advance(&weather(-10.0), 0.0, 0.0);
            small.close_step();
        }
        assert!(small.totals.comfort_violation_hours > 10.0);
    }

    #[test]
    fn solar_aware_preheats_on_surplus_and_bids_the_rest() {
        let spec = HeatPumpSpec { control: HeatControl::SolarAware, ..HeatPumpSpec::default() };
        let mut t = HeatPump::new(&HeatPumpSpec { control: HeatControl::Thermostat, ..spec.clone() }, None);
        let mut s = HeatPump::new(&spec, None);
        let e_t = t.advance(&weather(0.0), 0.0, 0.5);
        let e_s = s.advance(&weather(0.0), 0.0, 0.5);
        // It pre-heats on what its own PV leaves after its must-run heat, no more.
        assert!(e_t < 0.5 && (e_s - 0.5).abs() < 1e-9, "the surplus runs the pump: {e_s} vs {e_t}");
        assert!(s.indoor_c > t.indoor_c);
        assert!(s.flexible_kwh > 0.0);
        let f = s.flexible_kwh;
        assert_eq!(s.take_flexible(f + 1.0), f);
        // It heats to the top of the band as far as the pump's capacity goes.
        let cop = s.heating_cop(0.0, s.supply_c(0.0));
        let out_w = s.step_kwh * cop * 1000.0;
        assert!(s.indoor_c <= 24.0 + 1e-9 && (s.indoor_c > 24.0 - 1e-6 || (out_w - s.capacity_w).abs() < 1e-6), "{} °C, {out_w} W", s.indoor_c);
        // Stored heat: the next cold hours it needs less than the thermostat.
        t.close_step();
        s.close_step();
        let (mut a, mut b) = (0.0, 0.0);
        for _ in 0..3 {
            a += t.advance(&weather(0.0), 0.0, 0.0);
            b += s.advance(&weather(0.0), 0.0, 0.0);
        }
        assert!(b < a, "{b} vs {a}");
    }
}
