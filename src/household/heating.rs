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
//!   cooling); `SolarAware` does that as its must-run part and pre-heats towards the top of the
//!   comfort band (or pre-cools towards the set-point) on the household's own PV surplus, on a
//!   low import price (`preheat_price_per_kwh`), and with what it buys on the market through a
//!   flexible order (the rest of the way to the band's edge, at `flexible_price_per_kwh`): the
//!   building's mass is the store. It never pre-heats on the backup heater.
//!
//! A house with a heat pump has its archetype's heating removed from its electricity load (see
//! [`crate::household::load::heating_removed`]), so heat is not counted twice.
//!
//! Electricity for space heat and cooling is `Meter::heat_pump_kwh`, part of the load; the
//! grid-only baseline runs its own copy of a `SolarAware` pump (it has no market to buy from).

use super::building::{BuildingSpec, Rc5, StepInputs};
use super::hot_water::HotWater;
use super::{Household, Meter};
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
            CopSpec::Quadratic { a, b, c } => COP_CHECK_LIFT_K.map(|d| f64::from(d)).map(|d| a + b * d + c * d * d).fold(f64::INFINITY, f64::min),
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
    /// backup) per kWh of electricity for it (SEPEMO's SPF_H2 boundary, that of the Fraunhofer
    /// ISE field tests); `None` without heating.
    pub fn spf(&self) -> Option<f64> {
        let elec = self.heating_kwh + self.hot_water_kwh;
        (elec > 0.0).then(|| (self.heat_kwh + self.hot_water_heat_kwh) / elec)
    }
}

/// The step a heat pump is part way through: its inputs and decision, kept so that energy the
/// market delivers to its flexible order heats the building the same step.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct StepState {
    inputs: Option<StepInputs>,
    t_m_start: f64,
    /// Heat to the air from the pump (cooling negative) and the backup, W.
    pump_w: f64,
    backup_w: f64,
    cop: f64,
}

/// A household's heat pump and building. Read and written by [`run_heating`].
#[derive(Component, Debug, Clone)]
pub struct HeatPump {
    pub spec: HeatPumpSpec,
    pub building: Rc5,
    pub cop_curve: CopSpec,
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
            spec: spec.clone(),
            building,
            cop_curve: spec.cop_curve(),
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
        }
    }

    /// Supply temperature of the heating curve at outdoor `t_out_c`, °C.
    pub fn supply_c(&self, t_out_c: f64) -> f64 {
        let b = &self.spec.building;
        let span = (b.set_point_c - b.design_outdoor_c).max(1.0);
        let f = ((b.set_point_c - t_out_c) / span).clamp(0.0, 1.0);
        (b.set_point_c + (self.spec.design_supply_c - b.set_point_c) * f).max(b.set_point_c + MIN_SUPPLY_ABOVE_SET_POINT_K)
    }

    /// Temperature of the heat source, °C.
    fn source_c(&self, t_out_c: f64) -> f64 {
        match self.spec.source {
            HeatSource::AirSource => t_out_c,
            HeatSource::GroundSource => self.spec.ground_temp_c,
        }
    }

    /// COP of heating to `supply_c` from outdoor `t_out_c` (at least 1: never worse than a
    /// resistive heater).
    pub fn heating_cop(&self, t_out_c: f64, supply_c: f64) -> f64 {
        (self.cop_curve.cop(supply_c - self.source_c(t_out_c)) * self.spec.cop_correction).max(MIN_COP)
    }

    /// COP (energy efficiency ratio) of cooling at outdoor `t_out_c`.
    pub fn cooling_cop(&self, t_out_c: f64) -> f64 {
        (self.cop_curve.cop(self.source_c(t_out_c) - COOLING_SUPPLY_C) * self.spec.cop_correction).max(MIN_COP)
    }

    /// Heat the house needs this step to hold its set-point, within the pump's capacity, W
    /// (space heating comes before the hot-water tank).
    pub fn space_need_w(&self, w: &HeatWeather) -> f64 {
        let x = self.inputs(w);
        self.building.power_for_operative(self.t_m_c, &x, self.spec.building.set_point_c).0.clamp(0.0, self.capacity_w)
    }

    fn inputs(&self, w: &HeatWeather) -> StepInputs {
        let b = &self.spec.building;
        StepInputs { t_out_c: w.t_out_c, internal_w: b.internal_gains_w_per_m2 * b.floor_area_m2, solar_w: b.solar_factor * self.window_area_m2() * w.vertical_w_m2, hours: w.hours }
    }

    /// One step. `hot_water_w` of the pump's output goes to the tank first. Decides the
    /// must-run heat, pre-heats on `surplus_kwh` (the household's PV left after its load) and
    /// a low price, sets the flexible order, and returns the electricity, kWh.
    pub fn advance(&mut self, w: &HeatWeather, hot_water_w: f64, surplus_kwh: f64) -> f64 {
        self.step_weather = Some(*w);
        self.step_hot_water_w = hot_water_w;
        let b = self.spec.building.clone();
        let x = self.inputs(w);
        let t_m0 = self.t_m_c;
        let pump_w = (self.capacity_w - hot_water_w).max(0.0);
        let (need_w, free_air) = self.building.power_for_operative(t_m0, &x, b.set_point_c);
        self.flexible_kwh = 0.0;
        let solar_aware = self.spec.control == HeatControl::SolarAware;
        let cheap = self.spec.preheat_price_per_kwh.is_some_and(|p| w.import_price <= crate::base::money::PricePerKwh::from_units(p).0);
        let (pump, backup, cop);
        if free_air < b.set_point_c + COMFORT_TOLERANCE_K || (solar_aware && free_air < b.comfort_max_c) {
            cop = self.heating_cop(w.t_out_c, self.supply_c(w.t_out_c));
            let must = need_w.max(0.0);
            let must_pump = must.min(pump_w);
            backup = (must - must_pump).min(self.spec.backup_kw * WATTS_PER_KW);
            let mut p = must_pump;
            if solar_aware {
                // Pre-heat to the top of the band with what the pump has left.
                let top = self.building.power_for_operative(t_m0, &x, b.comfort_max_c).0.clamp(must_pump, pump_w);
                let room_kwh = (top - must_pump) / cop * w.hours / WATTS_PER_KW;
                let own = if cheap { room_kwh } else { surplus_kwh.clamp(0.0, room_kwh) };
                p += own * cop / w.hours * WATTS_PER_KW;
                self.flexible_kwh = (room_kwh - own).max(0.0);
            }
            pump = p;
        } else if self.spec.cooling && free_air > b.comfort_max_c - COMFORT_TOLERANCE_K {
            cop = self.cooling_cop(w.t_out_c);
            let must = (-self.building.power_for_operative(t_m0, &x, b.comfort_max_c).0).clamp(0.0, self.capacity_w);
            let mut p = must;
            if solar_aware {
                let bottom = (-self.building.power_for_operative(t_m0, &x, b.set_point_c).0).clamp(must, self.capacity_w);
                let room_kwh = (bottom - must) / cop * w.hours / WATTS_PER_KW;
                let own = if cheap { room_kwh } else { surplus_kwh.clamp(0.0, room_kwh) };
                p += own * cop / w.hours * WATTS_PER_KW;
                self.flexible_kwh = (room_kwh - own).max(0.0);
            }
            pump = -p;
            backup = 0.0;
        } else {
            (pump, backup, cop) = (0.0, 0.0, 1.0);
        }
        self.step = StepState { inputs: Some(x), t_m_start: t_m0, pump_w: pump, backup_w: backup, cop };
        self.settle()
    }

    fn window_area_m2(&self) -> f64 {
        let b = &self.spec.building;
        b.window_area_m2.unwrap_or(b.insulation.envelope().2 * b.floor_area_m2)
    }

    /// The building's temperatures for the step's decision; returns its electricity, kWh.
    fn settle(&mut self) -> f64 {
        let Some(x) = self.step.inputs else { return 0.0 };
        let s = self.step;
        let t = self.building.temperatures(s.t_m_start, &x, s.pump_w + s.backup_w);
        self.t_m_c = t.t_m_end;
        self.indoor_c = t.t_op;
        let elec_kwh = (s.pump_w.abs() / s.cop + s.backup_w) * x.hours / WATTS_PER_KW;
        self.step_kwh = elec_kwh;
        elec_kwh
    }

    /// Adds the step to the totals (once, after the market).
    pub fn close_step(&mut self) {
        let Some(x) = self.step.inputs else { return };
        let s = self.step;
        let t = &mut self.totals;
        let h = x.hours;
        if s.pump_w >= 0.0 {
            t.heating_kwh += self.step_kwh;
            t.heat_kwh += (s.pump_w + s.backup_w) * h / WATTS_PER_KW;
            t.backup_heat_kwh += s.backup_w * h / WATTS_PER_KW;
        } else {
            t.cooling_kwh += self.step_kwh;
            t.cool_kwh += -s.pump_w * h / WATTS_PER_KW;
        }
        let b = &self.spec.building;
        let low = self.indoor_c < b.comfort_min_c - COMFORT_TOLERANCE_K;
        let high = self.spec.cooling && self.indoor_c > b.comfort_max_c + COMFORT_TOLERANCE_K;
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
        let Some(x) = self.step.inputs else { return 0.0 };
        let extra_w = e * self.step.cop / x.hours * WATTS_PER_KW;
        if self.step.pump_w >= 0.0 {
            self.step.pump_w += extra_w;
        } else {
            self.step.pump_w -= extra_w;
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
/// appliances and before the vehicles.
#[allow(clippy::type_complexity)]
pub fn run_heating(
    env: Res<crate::environment::weather::Environment>,
    clock: Res<SimClock>,
    prices: Res<crate::environment::tariff::StepPrices>,
    mut state: Local<HeatingWeather>,
    mut households: Query<(&Household, Option<&mut HeatPump>, Option<&mut HotWater>, &mut Meter), Or<(With<HeatPump>, With<HotWater>)>>,
) {
    if households.is_empty() {
        return;
    }
    let w = step_weather(&env, &clock, prices.import.0, &mut state);
    for (_, mut pump, tank, mut m) in &mut households {
        let before = m.load_kwh;
        if let Some(p) = pump.as_deref_mut() {
            p.load_before_kwh = before;
        }
        let (hw_kwh, hw_w) = match tank {
            Some(mut t) => {
                let spare_w = pump.as_deref().map_or(0.0, |p| p.capacity_w - p.space_need_w(&w));
                t.advance(&w, clock.local_start.time(), pump.as_deref().map(|p| (p, spare_w)), (m.pv_kwh - before).max(0.0))
            }
            None => (0.0, 0.0),
        };
        if let Some(p) = pump.as_deref_mut() {
            p.totals.hot_water_kwh += if hw_w > 0.0 { hw_kwh } else { 0.0 };
            p.totals.hot_water_heat_kwh += hw_w * w.hours / WATTS_PER_KW;
        }
        let hp_kwh = pump.as_deref_mut().map_or(0.0, |p| p.advance(&w, hw_w, (m.pv_kwh - before - hw_kwh).max(0.0)));
        m.load_kwh += hw_kwh + hp_kwh;
        m.hot_water_kwh = hw_kwh;
        m.heat_pump_kwh = hp_kwh;
        m.heat_flexible_kwh = pump.as_deref().map_or(0.0, |p| p.flexible_kwh);
        m.flexible_kwh += m.heat_flexible_kwh;
    }
}

/// The step's weather for heat pumps and tanks.
pub fn step_weather(env: &crate::environment::weather::Environment, clock: &SimClock, import_price: i64, state: &mut HeatingWeather) -> HeatWeather {
    let t_out_c = env.temp_air_c.or(state.last_t_out_c).unwrap_or(UNKNOWN_OUTDOOR_C);
    state.last_t_out_c = Some(t_out_c);
    let vertical_w_m2 = [0.0, 90.0, 180.0, 270.0].iter().map(|az| crate::environment::solar::Surface::new(90.0, *az).poa(&env.irradiance, &env.sky_diffuse, &env.sun_vector)).sum::<f64>() / 4.0;
    HeatWeather { t_out_c, vertical_w_m2, hours: clock.frame.step_hours(), import_price }
}

/// Closes every heat pump's step after the market (its flexible order settled). Writes
/// `HeatPump`; runs in the market's delivery set, after deliveries.
pub fn close_heating_steps(mut pumps: Query<&mut HeatPump>) {
    for mut p in &mut pumps {
        p.close_step();
    }
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
        assert!((e_s - e_t - 0.5).abs() < 1e-9, "the surplus runs the pump: {e_s} vs {e_t}");
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
