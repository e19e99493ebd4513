//! Range and consistency checks on a parsed scenario file. Every check names the field path and
//! the allowed range, and all problems are reported together.

use super::schema::*;
use crate::base::error::{InputError, InputErrors};
use crate::market::registry::RuleInfo;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Longest run accepted, in days (ten years).
pub const MAX_DURATION_DAYS: f64 = 3660.0;
/// Ids that name accounts or pooled counterparts in outputs.
pub const RESERVED_IDS: [&str; 7] = ["grid", "pool", "network", "fund", "substation", "hub", "supplier"];

#[derive(Debug, Clone, Copy)]
pub enum Bound {
    Incl(f64),
    /// Exclusive.
    Above(f64),
}

pub struct Validator {
    file: PathBuf,
    errors: Vec<InputError>,
}

impl Validator {
    pub fn new(file: &Path) -> Self {
        Validator { file: file.to_path_buf(), errors: Vec::new() }
    }

    pub fn push(&mut self, e: InputError) {
        self.errors.push(e);
    }

    pub fn err(&mut self, field: &str, message: String) {
        self.errors.push(InputError::field(&self.file, field, message));
    }

    /// Checks `lo ≤ value ≤ hi` (or exclusive bounds) and that `value` is finite.
    pub fn range(&mut self, field: &str, value: f64, lo: Bound, hi: Bound, unit: &str) -> bool {
        let ok_lo = match lo {
            Bound::Incl(l) => value >= l,
            Bound::Above(l) => value > l,
        };
        let ok_hi = match hi {
            Bound::Incl(h) => value <= h,
            Bound::Above(h) => value < h,
        };
        if value.is_finite() && ok_lo && ok_hi {
            return true;
        }
        let lo_txt = match lo {
            Bound::Incl(l) => format!("{l} ≤"),
            Bound::Above(l) => format!("{l} <"),
        };
        let hi_txt = match hi {
            Bound::Incl(h) => format!("≤ {h}"),
            Bound::Above(h) => format!("< {h}"),
        };
        let unit = if unit.is_empty() { String::new() } else { format!(" {unit}") };
        self.err(field, format!("{value}{unit} is out of range: allowed {lo_txt} value {hi_txt}{unit}"));
        false
    }

    pub fn fraction(&mut self, field: &str, value: f64) -> bool {
        self.range(field, value, Bound::Incl(0.0), Bound::Incl(1.0), "")
    }

    pub fn finish(&mut self) -> Result<(), InputErrors> {
        if self.errors.is_empty() { Ok(()) } else { Err(InputErrors(std::mem::take(&mut self.errors))) }
    }
}

/// Number of steps in the run, or 0 after reporting an error.
pub fn check_duration(v: &mut Validator, duration_days: f64, step_minutes: u32) -> u64 {
    if step_minutes == 0 || super::MINUTES_PER_DAY % step_minutes != 0 {
        v.err("step_minutes", format!("{step_minutes} must divide a day (1440 minutes): e.g. 5, 10, 15, 30 or 60"));
        return 0;
    }
    if !v.range("duration_days", duration_days, Bound::Above(0.0), Bound::Incl(MAX_DURATION_DAYS), "days") {
        return 0;
    }
    let exact = duration_days * super::MINUTES_PER_DAY as f64 / step_minutes as f64;
    let steps = exact.round();
    if (exact - steps).abs() > 1e-6 || steps < 1.0 {
        v.err("duration_days", format!("{duration_days} days is not a whole number of {step_minutes}-minute steps"));
        return 0;
    }
    steps as u64
}

/// Altitudes a site may have, m: the shore of the Dead Sea to above the highest towns.
const MIN_ALTITUDE_M: f64 = -450.0;
const MAX_ALTITUDE_M: f64 = 6_000.0;

pub fn check_file(v: &mut Validator, f: &ScenarioFile) {
    if let Some(version) = f.schema_version.filter(|&x| x != SCENARIO_SCHEMA_VERSION) {
        v.err("schema_version", format!("{version} is not a version this build reads: it reads scenario files of version {SCENARIO_SCHEMA_VERSION}"));
    }
    if f.name.trim().is_empty() || f.name.contains(['/', '\\']) || f.name == "." || f.name == ".." {
        v.err("name", format!("`{}` cannot name an output folder: use letters, digits, `-`, `_`", f.name));
    }
    v.range("location.latitude_deg", f.location.latitude_deg, Bound::Incl(-90.0), Bound::Incl(90.0), "°");
    v.range("location.longitude_deg", f.location.longitude_deg, Bound::Incl(-180.0), Bound::Incl(180.0), "°");
    v.range("location.altitude_m", f.location.altitude_m, Bound::Incl(MIN_ALTITUDE_M), Bound::Incl(MAX_ALTITUDE_M), "m");
    if f.location.linke_turbidity.is_some() && f.clear_sky != ClearSkyModel::Ineichen {
        v.err("location.linke_turbidity", "is used by the `Ineichen` clear sky only".to_string());
    }
    if let Some(tl) = &f.location.linke_turbidity {
        if tl.len() != 12 {
            v.err("location.linke_turbidity", format!("{} values: give 12, one per month from January", tl.len()));
        }
        for (i, x) in tl.iter().enumerate() {
            v.range(&format!("location.linke_turbidity[{i}]"), *x, Bound::Incl(1.0), Bound::Incl(10.0), "");
        }
    }
    if let Some(code) = f.currency.as_ref().filter(|c| c.len() != 3 || !c.bytes().all(|b| b.is_ascii_uppercase())) {
        v.err("currency", format!("`{code}` is not an ISO 4217 code: three capital letters, e.g. AUD, EUR, USD"));
    }
    v.range("emission_factor_kg_per_kwh", f.emission_factor_kg_per_kwh, Bound::Incl(0.0), Bound::Incl(5.0), "kg/kWh");
    match &f.grid {
        GridSpec::Connected { import_price_per_kwh, export_price_per_kwh, time_of_use, price_file, supply_charge_per_day, demand_charge_per_kw_month } => {
            check_prices(v, "grid", *import_price_per_kwh, *export_price_per_kwh);
            v.range("grid.supply_charge_per_day", *supply_charge_per_day, Bound::Incl(0.0), Bound::Incl(1e4), "per day");
            v.range("grid.demand_charge_per_kw_month", *demand_charge_per_kw_month, Bound::Incl(0.0), Bound::Incl(1e4), "per kW and month");
            if price_file.is_some() && !time_of_use.is_empty() {
                v.err("grid.price_file", "give either time_of_use windows or a price_file: the file's prices already vary by step".to_string());
            }
            for (i, w) in time_of_use.iter().enumerate() {
                let at = |x: &str| format!("grid.time_of_use[{i}].{x}");
                if w.from_hour > 23 {
                    v.err(&at("from_hour"), format!("{} is out of range 0..=23", w.from_hour));
                }
                if w.to_hour > 24 || w.to_hour == w.from_hour {
                    v.err(&at("to_hour"), format!("{} must be in 0..=24 and differ from from_hour", w.to_hour));
                }
                check_prices(v, &format!("grid.time_of_use[{i}]"), w.import_price_per_kwh, w.export_price_per_kwh.unwrap_or(*export_price_per_kwh));
            }
        }
        GridSpec::Islanded { value_of_lost_load_per_kwh, surplus_floor_per_kwh } => {
            v.range("grid.surplus_floor_per_kwh", *surplus_floor_per_kwh, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh");
            v.range("grid.value_of_lost_load_per_kwh", *value_of_lost_load_per_kwh, Bound::Above(*surplus_floor_per_kwh), Bound::Incl(1e4), "per kWh");
        }
    }
    if let WeatherSpec::Stochastic { clear_day_share, overcast_day_share, persistence } = f.weather {
        v.fraction("weather.clear_day_share", clear_day_share);
        v.fraction("weather.overcast_day_share", overcast_day_share);
        v.fraction("weather.persistence", persistence);
        if clear_day_share + overcast_day_share > 1.0 + 1e-9 {
            v.err("weather.overcast_day_share", format!("clear_day_share + overcast_day_share = {} must not exceed 1", clear_day_share + overcast_day_share));
        }
    }
    if f.households.is_empty() {
        v.err("households", "needs at least one household".to_string());
    }
    if let TopologySpec::Generated { houses_per_feeder, houses_per_lateral, spacing_m, service_length_m, feeder_capacity_kw, service_capacity_kw, .. } = &f.topology {
        if *houses_per_feeder == 0 {
            v.err("topology.houses_per_feeder", "must be at least 1".to_string());
        }
        if *houses_per_lateral == 0 {
            v.err("topology.houses_per_lateral", "must be at least 1".to_string());
        }
        v.range("topology.spacing_m", *spacing_m, Bound::Above(0.0), Bound::Incl(1e4), "m");
        v.range("topology.service_length_m", *service_length_m, Bound::Above(0.0), Bound::Incl(1e4), "m");
        v.range("topology.feeder_capacity_kw", *feeder_capacity_kw, Bound::Above(0.0), Bound::Incl(1e7), "kW");
        v.range("topology.service_capacity_kw", *service_capacity_kw, Bound::Above(0.0), Bound::Incl(1e7), "kW");
    }
    v.fraction("battery_policy.market_reserve_soc", f.battery_policy.market_reserve_soc);
    if let Some(p) = f.battery_policy.market_offer_price_per_kwh {
        v.range("battery_policy.market_offer_price_per_kwh", p, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh");
    }
}

fn check_prices(v: &mut Validator, at: &str, import: f64, export: f64) {
    v.range(&format!("{at}.import_price_per_kwh"), import, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh");
    if v.range(&format!("{at}.export_price_per_kwh"), export, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh") && export > import {
        v.err(&format!("{at}.export_price_per_kwh"), format!("{export} exceeds the import price {import}: households could buy and sell back at a profit"));
    }
}

pub fn check_pv(v: &mut Validator, at: &str, kwp: f64, tilt: f64, azimuth: Option<f64>, pr: Option<f64>, gamma_per_c: f64) {
    v.range(&format!("{at}.temperature_coefficient_per_c"), gamma_per_c, Bound::Incl(-0.02), Bound::Incl(0.0), "per °C");
    v.range(&format!("{at}.kwp"), kwp, Bound::Incl(0.0), Bound::Incl(10_000.0), "kWp");
    v.range(&format!("{at}.tilt_deg"), tilt, Bound::Incl(0.0), Bound::Incl(90.0), "°");
    if let Some(a) = azimuth {
        v.range(&format!("{at}.azimuth_deg"), a, Bound::Incl(0.0), Bound::Above(360.0), "°");
    }
    if let Some(pr) = pr {
        v.range(&format!("{at}.performance_ratio"), pr, Bound::Above(0.0), Bound::Incl(1.0), "");
    }
}

/// The loss budget, the inverter and shade of an array; `performance_ratio` lumps them all, so
/// not both.
pub fn check_pv_losses(v: &mut Validator, at: &str, pr: Option<f64>, losses: Option<&LossBudget>, inverter: Option<(&str, f64)>) {
    if let Some(l) = losses {
        for (name, pct) in l.items() {
            v.range(&format!("{at}.losses.{name}"), pct, Bound::Incl(0.0), Bound::Above(100.0), "%");
        }
    }
    if let Some((name, x)) = inverter {
        v.range(&format!("{at}.{name}"), x, Bound::Above(0.0), Bound::Incl(1e5), "");
    }
    if pr.is_some() && (losses.is_some() || inverter.is_some()) {
        v.err(&format!("{at}.performance_ratio"), "lumps every loss after the panels: give it, or `losses` and the inverter, not both".to_string());
    }
}

pub fn check_battery(v: &mut Validator, at: &str, b: &BatterySpec) {
    v.range(&format!("{at}.capacity_kwh"), b.capacity_kwh, Bound::Above(0.0), Bound::Incl(1e5), "kWh");
    v.range(&format!("{at}.max_charge_kw"), b.max_charge_kw, Bound::Above(0.0), Bound::Incl(1e5), "kW");
    v.range(&format!("{at}.max_discharge_kw"), b.max_discharge_kw, Bound::Above(0.0), Bound::Incl(1e5), "kW");
    v.range(&format!("{at}.round_trip_efficiency"), b.round_trip_efficiency, Bound::Above(0.0), Bound::Incl(1.0), "");
    v.range(&format!("{at}.fade_per_cycle"), b.fade_per_cycle, Bound::Incl(0.0), Bound::Incl(0.01), "per cycle");
    if v.range(&format!("{at}.min_soc"), b.min_soc, Bound::Incl(0.0), Bound::Above(1.0), "") {
        v.range(&format!("{at}.initial_soc"), b.initial_soc, Bound::Incl(b.min_soc), Bound::Incl(1.0), "");
    }
}

/// Largest car battery accepted, kWh, and longest mean daily distance, km.
const MAX_EV_BATTERY_KWH: f64 = 300.0;
const MAX_DAILY_KM: f64 = 2000.0;

/// Checks an electric vehicle: sizes, a charger its supply can feed, a trip that leaves before
/// it comes back.
pub fn check_ev(v: &mut Validator, at: &str, e: &crate::household::vehicle::EvSpec) {
    let f = |x: &str| format!("{at}.{x}");
    v.range(&f("battery_kwh"), e.battery_kwh, Bound::Above(0.0), Bound::Incl(MAX_EV_BATTERY_KWH), "kWh");
    let max_kw = e.phases.max_kw();
    if v.range(&f("charger_kw"), e.charger_kw, Bound::Above(0.0), Bound::Incl(1e5), "kW") && e.charger_kw > max_kw {
        v.err(&f("charger_kw"), format!("{} kW is more than a {:?}-phase home charger draws ({max_kw} kW at 32 A): lower it or set `phases: Three`", e.charger_kw, e.phases));
    }
    v.range(&f("kwh_per_km"), e.kwh_per_km, Bound::Above(0.0), Bound::Incl(1.0), "kWh/km");
    v.range(&f("charging_efficiency"), e.charging_efficiency, Bound::Above(0.0), Bound::Incl(1.0), "");
    v.range(&f("daily_km"), e.daily_km, Bound::Incl(0.0), Bound::Incl(MAX_DAILY_KM), "km");
    v.range(&f("daily_km_spread"), e.daily_km_spread, Bound::Incl(0.0), Bound::Incl(2.0), "");
    let dep = v.range(&f("departure_hour"), e.departure_hour, Bound::Incl(0.0), Bound::Above(24.0), "h");
    let arr = v.range(&f("arrival_hour"), e.arrival_hour, Bound::Incl(0.0), Bound::Above(24.0), "h");
    if dep && arr && e.departure_hour >= e.arrival_hour {
        v.err(
            &f("departure_hour"),
            format!("{} is not before arrival_hour {}: the car leaves home at departure_hour and comes back the same day at arrival_hour (local hours)", e.departure_hour, e.arrival_hour),
        );
    }
    v.range(&f("departure_spread_hours"), e.departure_spread_hours, Bound::Incl(0.0), Bound::Incl(12.0), "h");
    v.range(&f("arrival_spread_hours"), e.arrival_spread_hours, Bound::Incl(0.0), Bound::Incl(12.0), "h");
    v.range(&f("target_soc"), e.target_soc, Bound::Above(0.0), Bound::Incl(1.0), "");
    v.fraction(&f("initial_soc"), e.initial_soc);
    v.fraction(&f("away_share"), e.away_share);
    if let Some(p) = e.flexible_price_per_kwh {
        v.range(&f("flexible_price_per_kwh"), p, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh");
    }
}

/// Largest export cap and inverter rating, kW (a street's transformer, not a house).
const MAX_CONNECTION_KW: f64 = 1_000.0;

/// A house's (or group's, or the network's default) export cap and inverter curves: the cap
/// and rating positive, each curve at least two points in ascending voltage between 100 and
/// 400 V, volt-var between −100% and +100% of rated, volt-watt between 0 and 100%.
pub fn check_connection(v: &mut Validator, at: &str, export_limit_kw: Option<f64>, inverter: Option<&InverterSpec>) {
    if let Some(cap) = export_limit_kw {
        v.range(&format!("{at}.export_limit_kw"), cap, Bound::Incl(0.0), Bound::Incl(MAX_CONNECTION_KW), "kW");
    }
    let Some(inv) = inverter else { return };
    if let Some(kva) = inv.rated_kva {
        v.range(&format!("{at}.inverter.rated_kva"), kva, Bound::Above(0.0), Bound::Incl(MAX_CONNECTION_KW), "kVA");
    }
    for (name, curve, lo) in [("volt_var", &inv.volt_var, -100.0), ("volt_watt", &inv.volt_watt, 0.0)] {
        let Some(CurveSpec::Points(points)) = curve else { continue };
        let field = format!("{at}.inverter.{name}");
        if points.len() < 2 {
            v.err(&field, format!("give at least two (volts, percent) points, not {}", points.len()));
            continue;
        }
        for (i, &(volts, pct)) in points.iter().enumerate() {
            v.range(&format!("{field}[{i}].0"), volts, Bound::Incl(100.0), Bound::Incl(400.0), "V (phase to neutral)");
            v.range(&format!("{field}[{i}].1"), pct, Bound::Incl(lo), Bound::Incl(100.0), "% of rated");
        }
        if points.windows(2).any(|w| w[1].0 <= w[0].0) {
            v.err(&field, "the points' voltages must rise from one point to the next".to_string());
        }
    }
}

/// Checks a heat pump with its building and a hot-water tank: sizes, a COP curve that stays
/// positive, a comfort band that holds the set-point, a tank that holds its largest draw, a tank
/// heated by a heat pump the house has (`house`: a house's spec; a group places such tanks only
/// on its heat-pump houses).
pub fn check_heating(v: &mut Validator, at: &str, hp: Option<&crate::household::heating::HeatPumpSpec>, hw: Option<&crate::household::hot_water::HotWaterSpec>, house: bool) {
    use crate::household::heating::CopSpec;
    if let Some(p) = hp {
        let f = |x: &str| format!("{at}.heat_pump.{x}");
        let b = &p.building;
        let area = v.range(&f("building.floor_area_m2"), b.floor_area_m2, Bound::Above(0.0), Bound::Incl(100_000.0), "m²");
        if let Some(h) = b.heat_loss_w_per_k
            && area
        {
            // Above this the opaque envelope would conduct more than the mass can pass on.
            v.range(&f("building.heat_loss_w_per_k"), h, Bound::Above(0.0), Bound::Incl(10.0 * b.floor_area_m2), "W/K");
        }
        if let Some(a) = b.window_area_m2 {
            v.range(&f("building.window_area_m2"), a, Bound::Incl(0.0), Bound::Incl(b.floor_area_m2.max(0.0) * 2.0), "m²");
        }
        v.fraction(&f("building.solar_factor"), b.solar_factor);
        v.range(&f("building.internal_gains_w_per_m2"), b.internal_gains_w_per_m2, Bound::Incl(0.0), Bound::Incl(100.0), "W/m²");
        let band = [("set_point_c", b.set_point_c), ("comfort_min_c", b.comfort_min_c), ("comfort_max_c", b.comfort_max_c)];
        if band.iter().fold(true, |ok, (n, x)| v.range(&f(&format!("building.{n}")), *x, Bound::Incl(0.0), Bound::Incl(40.0), "°C") && ok) {
            if b.comfort_min_c >= b.comfort_max_c {
                v.err(&f("building.comfort_min_c"), format!("{} is not below comfort_max_c {}: the comfort band is comfort_min_c..comfort_max_c", b.comfort_min_c, b.comfort_max_c));
            } else if b.set_point_c < b.comfort_min_c || b.set_point_c > b.comfort_max_c {
                v.err(&f("building.set_point_c"), format!("{} is outside the comfort band {}..{} °C", b.set_point_c, b.comfort_min_c, b.comfort_max_c));
            }
        }
        if v.range(&f("building.design_outdoor_c"), b.design_outdoor_c, Bound::Incl(-60.0), Bound::Incl(40.0), "°C") && b.design_outdoor_c >= b.set_point_c {
            v.err(&f("building.design_outdoor_c"), format!("{} is not below the set-point {}: the design day is the cold day the heating is sized for", b.design_outdoor_c, b.set_point_c));
        }
        if let Some(c) = p.capacity_kw {
            v.range(&f("capacity_kw"), c, Bound::Above(0.0), Bound::Incl(10_000.0), "kW");
        }
        v.range(&f("backup_kw"), p.backup_kw, Bound::Incl(0.0), Bound::Incl(10_000.0), "kW");
        if v.range(&f("design_supply_c"), p.design_supply_c, Bound::Incl(20.0), Bound::Incl(90.0), "°C") && p.design_supply_c <= b.set_point_c {
            v.err(&f("design_supply_c"), format!("{} is not above the set-point {}: the heating water must be warmer than the room", p.design_supply_c, b.set_point_c));
        }
        v.range(&f("ground_temp_c"), p.ground_temp_c, Bound::Incl(-20.0), Bound::Incl(40.0), "°C");
        v.range(&f("heating_limit_c"), p.heating_limit_c, Bound::Incl(-30.0), Bound::Incl(40.0), "°C");
        v.range(&f("cop_correction"), p.cop_correction, Bound::Above(0.0), Bound::Incl(1.5), "");
        match p.cop {
            Some(CopSpec::Constant(x)) => {
                // Below 1 it would be worse than a resistive heater; the model keeps COPs in 1..10.
                v.range(&f("cop"), x, Bound::Incl(1.0), Bound::Incl(10.0), "");
            }
            Some(c @ CopSpec::Quadratic { a, b, c: c2 }) => {
                let lowest = c.lowest_raw();
                if ![a, b, c2].iter().all(|x| x.is_finite()) || lowest <= 0.0 {
                    v.err(&f("cop"), format!("the curve falls to COP {lowest:.2} within lifts of 0–80 K: a heat pump's COP must stay above 0"));
                }
            }
            None => {}
        }
        for (name, p) in [("flexible_price_per_kwh", p.flexible_price_per_kwh), ("preheat_price_per_kwh", p.preheat_price_per_kwh)] {
            if let Some(p) = p {
                v.range(&f(name), p, Bound::Incl(0.0), Bound::Incl(1e4), "per kWh");
            }
        }
    }
    if let Some(w) = hw {
        use crate::household::hot_water::WaterHeater;
        let f = |x: &str| format!("{at}.hot_water.{x}");
        let ok = [
            v.range(&f("volume_l"), w.volume_l, Bound::Above(0.0), Bound::Incl(100_000.0), "l"),
            v.range(&f("set_point_c"), w.set_point_c, Bound::Above(w.cold_water_c), Bound::Incl(95.0), "°C"),
            v.range(&f("cold_water_c"), w.cold_water_c, Bound::Incl(0.0), Bound::Incl(30.0), "°C"),
            v.range(&f("daily_scale"), w.daily_scale, Bound::Incl(0.0), Bound::Incl(100.0), ""),
        ]
        .iter()
        .all(|x| *x);
        v.range(&f("hysteresis_c"), w.hysteresis_c, Bound::Incl(0.0), Bound::Incl(30.0), "K");
        v.range(&f("ambient_c"), w.ambient_c, Bound::Incl(-20.0), Bound::Incl(50.0), "°C");
        v.range(&f("standing_loss_w_per_k"), w.standing_loss_w_per_k, Bound::Incl(0.0), Bound::Incl(1000.0), "W/K");
        v.range(&f("element_kw"), w.element_kw, Bound::Above(0.0), Bound::Incl(1000.0), "kW");
        if v.range(&f("max_temp_c"), w.max_temp_c, Bound::Incl(0.0), Bound::Incl(95.0), "°C") && w.max_temp_c < w.set_point_c {
            v.err(&f("max_temp_c"), format!("{} is below the set-point {}", w.max_temp_c, w.set_point_c));
        }
        if let Some(t) = w.initial_temp_c {
            v.range(&f("initial_temp_c"), t, Bound::Incl(w.cold_water_c), Bound::Incl(w.max_temp_c.max(w.set_point_c)), "°C");
        }
        if ok {
            let (d, holds) = w.largest_draw();
            if holds < d.kwh {
                v.err(
                    &f("volume_l"),
                    format!(
                        "{} l at {} °C holds {holds:.2} kWh above {} °C, less than the profile's largest draw ({:.3} kWh at {}:{:02}): make the tank larger or hotter",
                        w.volume_l, w.set_point_c, d.temp_c, d.kwh, d.minute / 60, d.minute % 60
                    ),
                );
            }
        }
        if w.heater == WaterHeater::HeatPump && hp.is_none() {
            let whose = if house { "the house's" } else { "the group's" };
            v.err(&f("heater"), format!("`HeatPump` needs {whose} `heat_pump`; use `Element` or give one"));
        }
    }
}

/// Most appliances one household lists.
pub const MAX_APPLIANCES: usize = 16;

/// Checks a house's or group's `appliances` against the run's steps: runs take whole steps on
/// the step grid counted from local midnight, so the run must start on it and windows must lie
/// on it.
pub fn check_appliances(v: &mut Validator, at: &str, list: &[crate::household::appliance::ApplianceSpec], file: &ScenarioFile) {
    use chrono::Timelike;
    let step_minutes = file.step_minutes.max(1);
    if list.len() > MAX_APPLIANCES {
        v.err(&format!("{at}.appliances"), format!("{} appliances; at most {MAX_APPLIANCES}", list.len()));
    }
    if let Ok(start) = crate::base::time::parse_local(&file.start).map(|t| t.time())
        && !list.is_empty()
        && !(start.hour() * 60 + start.minute()).is_multiple_of(step_minutes)
    {
        v.err(&format!("{at}.appliances"), format!("the run starts at {}, off the {step_minutes}-minute step grid from midnight that appliance windows lie on: start it on the grid", start.format("%H:%M")));
    }
    for (i, a) in list.iter().enumerate().take(MAX_APPLIANCES) {
        let f = |x: &str| format!("{at}.appliances[{i}].{x}");
        let (kwh, hours, runs) = a.kind.defaults();
        v.range(&f("runs_per_week"), a.runs_per_week.unwrap_or(runs), Bound::Incl(0.0), Bound::Incl(7.0), "");
        v.range(&f("kwh_per_run"), a.kwh_per_run.unwrap_or(kwh), Bound::Above(0.0), Bound::Incl(100.0), "kWh");
        let hours = a.hours_per_run.unwrap_or(hours);
        let ok_hours = v.range(&f("hours_per_run"), hours, Bound::Above(0.0), Bound::Incl(24.0), "h");
        // Runs take whole steps, which start on the step grid from midnight: a window's ends
        // must lie on it, and it must hold the run rounded up to whole steps.
        let step_hours = f64::from(step_minutes) / 60.0;
        let on_grid = |x: f64| ((x / step_hours) - (x / step_hours).round()).abs() < 1e-9;
        let mut ok = v.range(&f("from_hour"), a.from_hour, Bound::Incl(0.0), Bound::Above(24.0), "");
        ok &= v.range(&f("to_hour"), a.to_hour, Bound::Above(0.0), Bound::Incl(24.0), "");
        for (name, x) in [("from_hour", a.from_hour), ("to_hour", a.to_hour)] {
            if ok && !on_grid(x) {
                v.err(&f(name), format!("{x} is not on the {step_minutes}-minute step grid: runs start and end with steps"));
                ok = false;
            }
        }
        if ok && a.to_hour <= a.from_hour {
            v.err(&f("to_hour"), format!("{} is not after from_hour {}: the window is one stretch of a day", a.to_hour, a.from_hour));
        } else if ok && ok_hours {
            // The steps the run takes, as the household will plan it.
            let run_hours = crate::household::appliance::ApplianceDef::from_spec(a, step_minutes).steps_per_run as f64 * step_hours;
            if a.to_hour - a.from_hour < run_hours - 1e-9 {
                v.err(&f("to_hour"), format!("the window {}–{} h is shorter than the run's {run_hours} h (its {hours} h in whole {step_minutes}-minute steps)", a.from_hour, a.to_hour));
            }
        }
    }
}

pub fn check_id(v: &mut Validator, at: &str, id: &str) -> bool {
    if id.len() > MAX_ID_BYTES {
        v.err(at, format!("the id is {} characters long; at most {MAX_ID_BYTES}", id.len()));
        return false;
    }
    let ok_chars = !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !ok_chars {
        v.err(at, format!("`{id}` is not a valid id: use letters, digits, `_`, `-`, `.`"));
    } else if RESERVED_IDS.contains(&id) {
        v.err(at, format!("`{id}` is reserved (it names an account or a node); reserved: {}", RESERVED_IDS.join(", ")));
    }
    ok_chars
}

/// Adds an error (and says so) when a run of `households` households needs more memory than
/// this machine, or its cgroup, allows.
pub fn check_memory(v: &mut Validator, households: u64) -> bool {
    let (need, Some(allowed)) = (super::memory_estimate_bytes(households), crate::base::exec::memory_allowed_bytes()) else { return false };
    if need <= allowed {
        return false;
    }
    v.err(
        "households",
        format!("{households} households need about {} MiB of memory; this machine (or its cgroup's memory.max) allows {} MiB. Simulate fewer households, or on a machine with more memory run with --no-memory-check", need >> 20, allowed >> 20),
    );
    true
}

/// The longest id (household, node, community): ids are repeated in every output row.
pub const MAX_ID_BYTES: usize = 64;

/// Checks a rule's parameters against its declared ranges and fills in defaults.
pub fn check_rule_params(v: &mut Validator, rule: &RuleInfo, given: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    check_rule_params_at(v, "market.params", rule, given)
}

/// As [`check_rule_params`], for parameters given at `at` (`communities[1].params`).
pub fn check_rule_params_at(v: &mut Validator, at: &str, rule: &RuleInfo, given: &BTreeMap<String, f64>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for p in rule.params {
        out.insert(p.name.to_string(), p.default);
    }
    for (name, value) in given {
        match rule.params.iter().find(|p| p.name == name) {
            Some(p) => {
                v.range(&format!("{at}.{name}"), *value, Bound::Incl(p.min), Bound::Incl(p.max), "");
                out.insert(name.clone(), *value);
            }
            None => {
                let known: Vec<_> = rule.params.iter().map(|p| p.name).collect();
                let known = if known.is_empty() { "none".to_string() } else { known.join(", ") };
                v.err(&format!("{at}.{name}"), format!("rule `{}` has no parameter `{name}`; its parameters: {known}", rule.name));
            }
        }
    }
    out
}

/// Checks the ledger section and resolves it (`None` when disabled).
pub fn check_ledger(v: &mut Validator, l: &LedgerSpec, ids: &[String]) -> Option<crate::ledger::LedgerConfig> {
    use crate::ledger::{validators::Fault, LedgerConfig};
    use crate::settlement::{FeePolicy, TreasuryConfig, PPM};
    use crate::base::money::Micros;
    if !l.enabled {
        return None;
    }
    let witnesses = l.witnesses.unwrap_or(DEFAULT_WITNESSES.min(ids.len() as u32));
    if witnesses == 0 || witnesses as usize > ids.len() {
        v.err("ledger.witnesses", format!("{witnesses} is out of range 1..={} (the number of households)", ids.len()));
    }
    if l.max_transactions_per_block == 0 || l.max_transactions_per_block > MAX_TRANSACTIONS_PER_BLOCK {
        v.err("ledger.max_transactions_per_block", format!("{} is out of range 1..={MAX_TRANSACTIONS_PER_BLOCK}", l.max_transactions_per_block));
    }
    if l.votes_per_household == 0 || l.votes_per_household > MAX_VOTES_PER_HOUSEHOLD {
        v.err("ledger.votes_per_household", format!("{} is out of range 1..={MAX_VOTES_PER_HOUSEHOLD}", l.votes_per_household));
    }
    let mut faults = Vec::new();
    for (i, f) in l.faults.iter().enumerate() {
        match ids.iter().position(|id| *id == f.witness) {
            Some(h) => faults.push(Fault { household: h as u32, from_step: f.from_step, to_step: f.to_step }),
            None => v.err(&format!("ledger.faults[{i}].witness"), format!("no household `{}`", f.witness)),
        }
        if f.to_step <= f.from_step {
            v.err(&format!("ledger.faults[{i}].to_step"), format!("{} must be after from_step {}", f.to_step, f.from_step));
        }
    }
    let ppm = |x: f64| (x * PPM as f64).round() as i64;
    let treasury = l.treasury.as_ref().map(|t| {
        v.range("ledger.treasury.producer_reward_per_block", t.producer_reward_per_block, Bound::Incl(0.0), Bound::Incl(1e6), "per block");
        let policy = match t.fee_policy {
            FeePolicySpec::Fixed { rate } => {
                v.fraction("ledger.treasury.fee_policy.rate", rate);
                FeePolicy::Fixed { rate_ppm: ppm(rate) }
            }
            FeePolicySpec::Flexible { base_rate, target_balance, min_rate, max_rate } => {
                v.fraction("ledger.treasury.fee_policy.base_rate", base_rate);
                v.fraction("ledger.treasury.fee_policy.min_rate", min_rate);
                v.range("ledger.treasury.fee_policy.max_rate", max_rate, Bound::Incl(min_rate.max(0.0)), Bound::Incl(1.0), "");
                v.range("ledger.treasury.fee_policy.target_balance", target_balance, Bound::Above(0.0), Bound::Incl(1e12), "");
                FeePolicy::Flexible { base_ppm: ppm(base_rate), target: Micros::from_units(target_balance), min_ppm: ppm(min_rate), max_ppm: ppm(max_rate) }
            }
        };
        TreasuryConfig { policy, producer_reward: Micros::from_units(t.producer_reward_per_block) }
    });
    Some(LedgerConfig {
        block_every_steps: l.block_every_steps,
        grid_settlement_every_steps: l.grid_settlement_every_steps,
        max_transactions_per_block: l.max_transactions_per_block,
        witnesses,
        stake: l.stake,
        votes_per_household: l.votes_per_household,
        faults,
        treasury,
        write_jsonl: l.write_jsonl,
    })
}

/// Network fees: each between 0 and the price bound, and not decreasing outwards (zonal
/// clearing lowers a bid by its zone's fee and charges the fee of the zones really crossed).
pub fn check_network_fees(v: &mut Validator, fees: &NetworkFeesSpec) {
    let [street, feeder, across] = fees.resolved();
    let fields = [("same_street_per_kwh", street), ("same_feeder_per_kwh", feeder), ("across_feeders_per_kwh", across)];
    let mut ok = true;
    for (name, value) in fields {
        ok &= v.range(&format!("network.fees.{name}"), value, Bound::Incl(0.0), Bound::Incl(MAX_NETWORK_FEE_PER_KWH), "per kWh");
    }
    if ok {
        for pair in fields.windows(2) {
            if pair[1].1 < pair[0].1 {
                v.err(&format!("network.fees.{}", pair[1].0), format!("is {} but must be at least {} ({}): fees may not decrease outwards", pair[1].1, pair[0].0, pair[0].1));
            }
        }
    }
}

/// Most candidates a household votes for (an election draws this many per household).
pub const MAX_VOTES_PER_HOUSEHOLD: u32 = 1_000;

/// Most transactions in one block: a block line of `ledger.jsonl` stays within what `verify`
/// reads ([`crate::ledger::verify::MAX_LINE_BYTES`]).
pub const MAX_TRANSACTIONS_PER_BLOCK: u32 = 1_000_000;

/// Largest network fee accepted, per kWh (currency units).
pub const MAX_NETWORK_FEE_PER_KWH: f64 = 10.0;
