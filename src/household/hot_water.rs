//! Domestic hot water: a storage tank, drawn on by the tapping profiles of the EU's water-heater
//! Ecodesign regulation, heated by a resistive element or the house's heat pump.
//!
//! - Draws: Commission Regulation (EU) No 814/2013, Annex III, Table 1 (the same table as
//!   812/2013's labelling rules and EN 16147), profiles `M` (5.845 kWh a day, 23 draws) and `L`
//!   (11.655 kWh, 24 draws): each draw's time, energy and the temperature it needs (25 °C for
//!   small draws, 40 °C for showers and baths, 55 °C for dishwashing), every day, scaled by
//!   `daily_scale`.
//! - Tank: one fully mixed node of `volume_l` litres (1.163 Wh per litre and kelvin); a draw
//!   takes its energy out and cold water in; standing losses `standing_loss_w_per_k` × (tank −
//!   room). A mixed tank is the cautious choice: a stratified one delivers hot water a little
//!   longer.
//! - A draw the tank is too cold for (the water it delivers, cooling through the draw, averages
//!   below the draw's temperature; the step's heating counted after its draws) is reported:
//!   counted in `cold_draws` and its energy in `short_kwh`. The tank is never colder than the
//!   mains water.
//! - `Thermostat`: heats at full power when the tank falls `hysteresis_c` below its set-point,
//!   back to the set-point. `SolarAware`: that, and heats up to `max_temp_c` on the household's
//!   own PV surplus. The element converts at 100%; a heat pump at its COP for a supply
//!   5 K above the set-point, with what its capacity has left after holding the room's
//!   set-point (space heating first: the 5R1C air node has no heat capacity of its own, so a
//!   step without heating would drop the room at once).
//!
//! This is also the storage model behind an Ausgrid house's controlled load (off-peak hot
//! water) when `controlled_load: Storage`: the measured daily energy sets the draws.

use super::heating::{HeatControl, HeatPump, HeatWeather};
use bevy::prelude::*;
use serde::{Deserialize, Serialize};

/// Water's volumetric heat capacity, kWh per litre and kelvin.
pub const WATER_KWH_PER_LITRE_K: f64 = 1.163e-3;
/// A heat pump heats water to this above the tank's set-point, K.
pub const SINK_ABOVE_SET_POINT_K: f64 = 5.0;
const WATTS_PER_KW: f64 = 1000.0;

/// One draw of a tapping profile: local minute of the day, energy (kWh) and the temperature it
/// needs (°C).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub minute: u32,
    pub kwh: f64,
    pub temp_c: f64,
}

const fn draw(hour: u32, minute: u32, kwh: f64, temp_c: f64) -> Draw {
    Draw { minute: hour * 60 + minute, kwh, temp_c }
}

/// Reg. 814/2013 Annex III Table 1, profile M (the temperature a draw needs: its useful
/// temperature, or its peak temperature where it has one).
pub const PROFILE_M: [Draw; 23] = [
    draw(7, 0, 0.105, 25.0), draw(7, 5, 1.4, 40.0), draw(7, 30, 0.105, 25.0), draw(8, 1, 0.105, 25.0), draw(8, 15, 0.105, 25.0),
    draw(8, 30, 0.105, 25.0), draw(8, 45, 0.105, 25.0), draw(9, 0, 0.105, 25.0), draw(9, 30, 0.105, 25.0), draw(10, 30, 0.105, 40.0),
    draw(11, 30, 0.105, 25.0), draw(11, 45, 0.105, 25.0), draw(12, 45, 0.315, 55.0), draw(14, 30, 0.105, 25.0), draw(15, 30, 0.105, 25.0),
    draw(16, 30, 0.105, 25.0), draw(18, 0, 0.105, 25.0), draw(18, 15, 0.105, 40.0), draw(18, 30, 0.105, 40.0), draw(19, 0, 0.105, 25.0),
    draw(20, 30, 0.735, 55.0), draw(21, 15, 0.105, 25.0), draw(21, 30, 1.4, 40.0),
];

/// Reg. 814/2013 Annex III Table 1, profile L.
pub const PROFILE_L: [Draw; 24] = [
    draw(7, 0, 0.105, 25.0), draw(7, 5, 1.4, 40.0), draw(7, 30, 0.105, 25.0), draw(7, 45, 0.105, 25.0), draw(8, 5, 3.605, 40.0),
    draw(8, 25, 0.105, 25.0), draw(8, 30, 0.105, 25.0), draw(8, 45, 0.105, 25.0), draw(9, 0, 0.105, 25.0), draw(9, 30, 0.105, 25.0),
    draw(10, 30, 0.105, 40.0), draw(11, 30, 0.105, 25.0), draw(11, 45, 0.105, 25.0), draw(12, 45, 0.315, 55.0), draw(14, 30, 0.105, 25.0),
    draw(15, 30, 0.105, 25.0), draw(16, 30, 0.105, 25.0), draw(18, 0, 0.105, 25.0), draw(18, 15, 0.105, 40.0), draw(18, 30, 0.105, 40.0),
    draw(19, 0, 0.105, 25.0), draw(20, 30, 0.735, 55.0), draw(21, 0, 3.605, 40.0), draw(21, 30, 0.105, 25.0),
];

/// A tapping profile of Reg. 814/2013.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum TappingProfile {
    #[default]
    M,
    L,
}

impl TappingProfile {
    pub fn draws(self) -> &'static [Draw] {
        match self {
            TappingProfile::M => &PROFILE_M,
            TappingProfile::L => &PROFILE_L,
        }
    }

    /// The temperature its hottest draws need, °C.
    pub fn hottest_draw_c(self) -> f64 {
        self.draws().iter().map(|d| d.temp_c).fold(0.0, f64::max)
    }

    /// Energy of a day's draws, kWh (Qref: 5.845 and 11.655).
    pub fn daily_kwh(self) -> f64 {
        self.draws().iter().map(|d| d.kwh).sum()
    }
}

/// What heats the tank.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum WaterHeater {
    #[default]
    Element,
    /// The house's heat pump (it needs one).
    HeatPump,
}

/// A hot-water tank as a scenario describes it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HotWaterSpec {
    pub profile: TappingProfile,
    /// Multiplies every draw (a household that uses more or less than the profile).
    pub daily_scale: f64,
    pub volume_l: f64,
    pub set_point_c: f64,
    /// The thermostat heats when the tank is this far below the set-point, K.
    pub hysteresis_c: f64,
    /// `SolarAware` heats up to this on PV surplus, °C.
    pub max_temp_c: f64,
    pub cold_water_c: f64,
    /// Temperature around the tank, °C.
    pub ambient_c: f64,
    pub standing_loss_w_per_k: f64,
    pub heater: WaterHeater,
    /// The element's power, kW.
    pub element_kw: f64,
    pub control: HeatControl,
    /// Temperature at the run's start (default: the set-point), °C.
    pub initial_temp_c: Option<f64>,
}

impl Default for HotWaterSpec {
    fn default() -> Self {
        HotWaterSpec {
            profile: TappingProfile::M,
            daily_scale: 1.0,
            volume_l: 200.0,
            set_point_c: 60.0,
            hysteresis_c: 3.0,
            max_temp_c: 70.0,
            cold_water_c: 10.0,
            ambient_c: 20.0,
            standing_loss_w_per_k: 1.5,
            heater: WaterHeater::Element,
            element_kw: 3.0,
            control: HeatControl::Thermostat,
            initial_temp_c: None,
        }
    }
}

impl HotWaterSpec {
    /// Heat capacity of the tank's water, kWh/K.
    pub fn capacity_kwh_per_k(&self) -> f64 {
        self.volume_l * WATER_KWH_PER_LITRE_K
    }

    /// The largest draw (scaled) and what a full tank holds above its temperature, kWh.
    pub fn largest_draw(&self) -> (Draw, f64) {
        let d = self.profile.draws().iter().copied().max_by(|a, b| a.kwh.total_cmp(&b.kwh)).unwrap_or(Draw { minute: 0, kwh: 0.0, temp_c: 0.0 });
        let d = Draw { kwh: d.kwh * self.daily_scale, ..d };
        (d, self.capacity_kwh_per_k() * (self.set_point_c - d.temp_c))
    }
}

/// What a tank did over the run. Written by [`HotWater::advance`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct HotWaterTotals {
    /// Electricity for it, kWh (element, or the heat pump's share).
    pub electricity_kwh: f64,
    pub heat_kwh: f64,
    pub drawn_kwh: f64,
    pub standing_loss_kwh: f64,
    /// Draws the tank was too cold for, and their energy.
    pub cold_draws: u64,
    pub short_kwh: f64,
    pub min_temp_c: f64,
}

/// A household's hot-water tank. Read and written by [`crate::household::heating::run_heating`].
#[derive(Component, Debug, Clone)]
pub struct HotWater {
    pub spec: HotWaterSpec,
    pub temp_c: f64,
    /// Heating (the thermostat switched on and the set-point not yet reached).
    pub heating: bool,
    pub totals: HotWaterTotals,
    /// The temperature and thermostat at this step's start (what a copy follows on).
    start: (f64, bool),
    /// Heat put into it this step, kWh (heat pump or element).
    pub step_heat_kwh: f64,
}

impl HotWater {
    pub fn new(spec: &HotWaterSpec) -> HotWater {
        let t = spec.initial_temp_c.unwrap_or(spec.set_point_c);
        HotWater { spec: spec.clone(), temp_c: t, heating: false, totals: HotWaterTotals { min_temp_c: t, ..Default::default() }, start: (t, false), step_heat_kwh: 0.0 }
    }

    /// Whether this copy starts the step as the run's tank did, bit for bit.
    pub fn follows(&self, run: &HotWater) -> bool {
        self.temp_c.to_bits() == run.start.0.to_bits() && self.heating == run.start.1
    }

    /// A copy of the run's tank (the baseline's) that starts this step as the run's did, bit
    /// for bit, ends it as the run's did when its heat pump copy did too (a tank never depends
    /// on the market): takes that over. Returns whether it could.
    pub fn follow(&mut self, run: &HotWater) -> bool {
        if !self.follows(run) {
            return false;
        }
        (self.temp_c, self.heating, self.start) = (run.temp_c, run.heating, run.start);
        true
    }

    /// One step: the thermostat (and `SolarAware`'s surplus boost on `surplus_kwh`) decides the
    /// heat, the draws take theirs, the tank loses some. Returns the electricity (kWh) and, when
    /// the house's heat pump heats it, the pump's heat output to it (W).
    pub fn advance(&mut self, w: &HeatWeather, start: chrono::NaiveTime, pump: Option<(&HeatPump, f64)>, surplus_kwh: f64) -> (f64, f64) {
        let draws = step_draws(self.spec.profile, start, w.hours);
        self.advance_with(w, &draws, pump, surplus_kwh)
    }

    /// [`HotWater::advance`] with the step's draws of its profile already found (unscaled:
    /// [`step_draws`]; every tank of a profile shares them).
    pub fn advance_with(&mut self, w: &HeatWeather, draws: &[Draw], pump: Option<(&HeatPump, f64)>, surplus_kwh: f64) -> (f64, f64) {
        self.start = (self.temp_c, self.heating);
        let s = &self.spec;
        let h = w.hours;
        let c = s.capacity_kwh_per_k();
        let scale = s.daily_scale;
        let draws = draws.iter().map(|d| Draw { kwh: d.kwh * scale, ..*d });
        let drawn: f64 = draws.clone().map(|d| d.kwh).sum();
        let loss = s.standing_loss_w_per_k * (self.temp_c - s.ambient_c).max(0.0) * h / WATTS_PER_KW;
        // What heats it: the element, or the heat pump's spare capacity with the element as
        // its backup for the thermostat's need (an immersion heater in the tank).
        let (max_heat_kwh, cop, backup_kwh) = match (s.heater, pump) {
            (WaterHeater::HeatPump, Some((p, spare_w))) => (spare_w.max(0.0) * h / WATTS_PER_KW, p.heating_cop(w.t_out_c, s.set_point_c + SINK_ABOVE_SET_POINT_K), s.element_kw * h),
            _ => (s.element_kw * h, 1.0, 0.0),
        };
        if self.temp_c < s.set_point_c - s.hysteresis_c {
            self.heating = true;
        }
        let (mut heat, mut backup) = (0.0, 0.0);
        if self.heating {
            let need = (c * (s.set_point_c - self.temp_c) + drawn + loss).max(0.0);
            heat = need.min(max_heat_kwh);
            // The element steps in only when the tank is too cold for the profile's hottest
            // draws: the pump has the time to reheat it otherwise.
            if self.temp_c < s.profile.hottest_draw_c() {
                backup = (need - heat).min(backup_kwh);
            }
        }
        if s.control == HeatControl::SolarAware && surplus_kwh > 0.0 {
            let to_max = (c * (s.max_temp_c - self.temp_c) + drawn + loss).max(0.0);
            let extra = (surplus_kwh * cop).min(to_max - heat - backup).min(max_heat_kwh - heat).max(0.0);
            heat += extra;
        }
        let pump_heat = heat;
        let heat = heat + backup;
        let end = self.temp_c + (heat - drawn - loss) / c;
        let end = end.max(s.cold_water_c);
        if end >= s.set_point_c - 1e-9 {
            self.heating = false;
        }
        // Each draw gets the mixed tank's water as it cools through the draw: short when that
        // averages below the draw's temperature (the step's heating counted after its draws).
        let mut t_before = self.temp_c;
        for d in draws {
            let mean_c = t_before - d.kwh / (2.0 * c);
            if mean_c < d.temp_c - 1e-9 {
                self.totals.cold_draws += 1;
                self.totals.short_kwh += d.kwh;
            }
            t_before -= d.kwh / c;
        }
        self.temp_c = end;
        let elec = pump_heat / cop + backup;
        self.step_heat_kwh = heat;
        let t = &mut self.totals;
        t.electricity_kwh += elec;
        t.heat_kwh += heat;
        t.drawn_kwh += drawn;
        t.standing_loss_kwh += loss;
        t.min_temp_c = t.min_temp_c.min(end);
        let pump_w = if s.heater == WaterHeater::HeatPump && pump.is_some() { pump_heat / h * WATTS_PER_KW } else { 0.0 };
        (elec, pump_w)
    }
}

/// The draws in the step that starts at local time `start` and lasts `hours`.
/// A profile's draws in the step that starts at local time `start` and lasts `hours`
/// (unscaled; a step that runs past midnight takes the next day's first draws too).
pub fn step_draws(profile: TappingProfile, start: chrono::NaiveTime, hours: f64) -> Vec<Draw> {
    use chrono::Timelike;
    let from = start.num_seconds_from_midnight() / 60;
    let len = (hours * 60.0).round() as u32;
    profile
        .draws()
        .iter()
        .filter(|d| {
            let m = if d.minute < from { d.minute + 24 * 60 } else { d.minute };
            m < from + len
        })
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w() -> HeatWeather {
        HeatWeather { t_out_c: 5.0, vertical_w_m2: 0.0, hours: 0.25, import_price: 0 }
    }

    #[test]
    fn the_profiles_hold_the_regulations_daily_energy() {
        assert!((TappingProfile::M.daily_kwh() - 5.845).abs() < 1e-9);
        assert!((TappingProfile::L.daily_kwh() - 11.655).abs() < 1e-9);
    }

    /// Drives a tank a week on 15-minute steps; returns it and the electricity.
    fn week(spec: &HotWaterSpec) -> (HotWater, f64) {
        let mut t = HotWater::new(spec);
        let mut elec = 0.0;
        for step in 0..7 * 96 {
            let start = chrono::NaiveTime::from_num_seconds_from_midnight_opt((step % 96) * 900, 0).unwrap();
            let before = t.temp_c;
            let (e, _) = t.advance(&w(), start, None, 0.0);
            assert!(e >= 0.0 && e <= spec.element_kw * 0.25 + 1e-12);
            // Its energy adds up: heat in − drawn (or short) − losses = stored change.
            assert!(t.temp_c >= spec.cold_water_c && t.temp_c <= spec.max_temp_c.max(spec.set_point_c) + 1e-9, "{before} → {}", t.temp_c);
            elec += e;
        }
        (t, elec)
    }

    #[test]
    fn a_thermostat_tank_meets_every_draw_and_a_weak_one_reports_its_cold_draws() {
        let (t, elec) = week(&HotWaterSpec::default());
        assert_eq!(t.totals.cold_draws, 0);
        let stored = (t.temp_c - 60.0) * HotWaterSpec::default().capacity_kwh_per_k();
        assert!((elec - t.totals.drawn_kwh - t.totals.standing_loss_kwh - stored).abs() < 1e-9);
        assert!((t.totals.drawn_kwh - 7.0 * 5.845).abs() < 1e-9);
        // A 300 W element cannot keep up with profile L: the tank falls below its draws'
        // temperatures, and every such draw is reported.
        let (t, _) = week(&HotWaterSpec { profile: TappingProfile::L, element_kw: 0.3, ..HotWaterSpec::default() });
        assert!(t.totals.cold_draws > 7 && t.totals.short_kwh > 0.0 && t.totals.min_temp_c < 40.0);
    }
}
