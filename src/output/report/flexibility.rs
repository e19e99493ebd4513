//! The run report's flexibility section: what the households' flexible devices did (cars,
//! appliances, batteries buying from the grid, heat pumps and hot-water tanks), to which hours
//! of the day they moved energy, how warm the heated houses stayed, and what that was worth at
//! the tariff.

use super::charts::{self, Series};
use super::{card, drawn, figure, num, Csv};
use crate::output::format;
use plotters::style::RGBColor;
use serde_json::Value;
use std::fmt::Write as _;

/// Columns of timeseries.csv the section reads.
pub const COLUMNS: [&str; 9] = ["ev_kwh", "appliance_kwh", "grid_own_battery_kwh", "load_own_vehicle_kwh", "ev_plugged", "heat_pump_kwh", "hot_water_kwh", "mean_indoor_temp_c", "temp_air_c"];

const EV: RGBColor = RGBColor(0, 114, 178);
const APPLIANCES: RGBColor = RGBColor(230, 159, 0);
const GRID_CHARGE: RGBColor = RGBColor(0, 158, 115);
const V2H: RGBColor = RGBColor(204, 121, 167);
const HEAT_PUMP: RGBColor = RGBColor(213, 94, 0);
const HOT_WATER: RGBColor = RGBColor(86, 180, 233);
const OUTDOOR: RGBColor = RGBColor(120, 120, 120);

/// The section, or nothing when the run has no flexible devices.
pub fn section(summary: &Value, ts: &Csv, island: bool) -> Result<String, String> {
    let vehicles = summary["vehicles"].as_u64().unwrap_or(0);
    let appliance_kwh = num(summary, "appliance_kwh").unwrap_or(0.0);
    let grid_charge_kwh = num(summary, "battery_grid_charge_kwh").unwrap_or(0.0);
    let forecast = summary.get("forecast").filter(|f| !f.is_null());
    let heat_pumps = summary["heat_pumps"].as_u64().unwrap_or(0);
    let tanks = summary["hot_water_tanks"].as_u64().unwrap_or(0);
    if vehicles == 0 && appliance_kwh <= 0.0 && grid_charge_kwh <= 0.0 && forecast.is_none() && heat_pumps == 0 && tanks == 0 {
        return Ok(String::new());
    }
    let currency = summary["currency"].as_str();
    let kwh = |key: &str| num(summary, key).map_or("–".into(), |v| format!("{} kWh", format::number(v, 1)));
    let mut h = String::from("<h2>Flexibility</h2><div class=\"cards\">");
    if vehicles > 0 {
        let short = summary["ev_short_departures"].as_u64().unwrap_or(0);
        let departures = summary["ev_departures"].as_u64().unwrap_or(0);
        h.push_str(&card(
            "Electric vehicles",
            format!("{} charged at home", kwh("ev_kwh")),
            format!("{vehicles} cars, {} km; {} given back to their houses", format::number(num(summary, "ev_km").unwrap_or(0.0), 0), kwh("ev_v2h_kwh")),
        ));
        h.push_str(&card(
            "Short at departure",
            kwh("ev_shortfall_kwh"),
            format!("{short} of {departures} departures below target; {} charged away from home", kwh("ev_away_kwh")),
        ));
    }
    if heat_pumps > 0 {
        let spf = num(summary, "spf").map_or("–".into(), |v| format::number(v, 2));
        h.push_str(&card(
            "Heat pumps",
            format!("{} of heat", kwh("heat_delivered_kwh")),
            format!("{heat_pumps} houses, their tanks included; seasonal performance factor {spf}; space heating and cooling took {} of electricity", kwh("heat_pump_kwh")),
        ));
        let indoor = num(summary, "mean_indoor_temp_c").map_or("–".into(), |v| format!("{} °C", format::number(v, 1)));
        h.push_str(&card(
            "Comfort",
            format!("{} h outside the band", format::number(num(summary, "comfort_violation_hours").unwrap_or(0.0), 1)),
            format!("summed over the heated houses; mean indoor (operative) temperature {indoor}"),
        ));
    }
    if tanks > 0 {
        let cold = summary["hot_water_cold_draws"].as_u64().unwrap_or(0);
        h.push_str(&card("Hot water", kwh("hot_water_kwh"), format!("{tanks} tanks (element or heat pump); {cold} draws found the tank too cold")));
    }
    if appliance_kwh > 0.0 {
        h.push_str(&card("Appliances", kwh("appliance_kwh"), format!("{} of it run later than asked, by their policies", kwh("shifted_kwh"))));
    }
    if grid_charge_kwh > 0.0 {
        h.push_str(&card("Batteries charged from the grid", kwh("battery_grid_charge_kwh"), "by their plans, in cheap hours".into()));
    }
    if let Some(f) = forecast {
        let nmae = f["nmae"].as_f64().map_or("–".into(), |v| format::percent(v, 1));
        h.push_str(&card(
            "Battery forecasts",
            format!("{} off", nmae),
            format!("{} forecasts of net load: mean absolute error {} kWh a step per household", f["kind"].as_str().unwrap_or("?"), format::number(f["mae_kwh"].as_f64().unwrap_or(0.0), 3)),
        ));
    }
    h.push_str("</div>\n");

    // To when: mean energy by hour of the day (local).
    let hours: Vec<Option<usize>> = ts.text("time").iter().map(|t| t.get(11..13).and_then(|x| x.parse().ok())).collect();
    let days = {
        let mut d: Vec<&str> = ts.text("time").iter().filter_map(|t| t.get(..10)).collect();
        d.dedup();
        d.len().max(1) as f64
    };
    let by_hour = |col: &str| {
        let mut out = vec![0.0; 24];
        for (v, h) in ts.num(col).iter().zip(&hours) {
            if let (true, Some(h)) = (v.is_finite(), h) {
                out[(*h).min(23)] += v / days;
            }
        }
        out
    };
    let series: Vec<Series> = [("cars charging at home", EV, "ev_kwh"), ("appliances", APPLIANCES, "appliance_kwh"), ("batteries charging from the grid", GRID_CHARGE, "grid_own_battery_kwh"), ("cars supplying their houses", V2H, "load_own_vehicle_kwh"), ("heat pumps", HEAT_PUMP, "heat_pump_kwh"), ("hot-water tanks", HOT_WATER, "hot_water_kwh")]
        .into_iter()
        .map(|(name, color, col)| Series { name: name.into(), color, values: by_hour(col) })
        .filter(|s| s.values.iter().any(|v| *v > 0.0))
        .collect();
    if !series.is_empty() {
        let svg = charts::lines(&series, "hour of the day (local)", "kWh per day in that hour", &|i| format!("{i:02}"), &[0.0])?;
        h.push_str(&figure("flexibility-hours", "When the flexible loads ran", &svg, &drawn(&series), "Energy of each flexible load by hour of the day, averaged over the run's days, summed over households."));
    }
    if heat_pumps > 0 {
        // Indoor against outdoor, hour by hour (every step's mean over the hour's steps).
        let per_hour = |col: &str| -> Vec<f64> {
            let v = ts.num(col);
            let steps = (v.len() / (days as usize * 24).max(1)).max(1);
            v.chunks(steps).map(|c| c.iter().sum::<f64>() / c.len() as f64).collect()
        };
        let temps: Vec<Series> = [("mean indoor (heat-pump houses)", HEAT_PUMP, "mean_indoor_temp_c"), ("outdoor air", OUTDOOR, "temp_air_c")]
            .into_iter()
            .map(|(name, color, col)| Series { name: name.into(), color, values: per_hour(col) })
            .filter(|s| s.values.iter().any(|v| v.is_finite()))
            .collect();
        let svg = charts::lines(&temps, "hour of the run", "°C", &|i| format!("{i}"), &[0.0])?;
        h.push_str(&figure("flexibility-indoor", "How warm the heated houses stayed", &svg, &drawn(&temps), "Mean indoor (operative) temperature of the houses with a heat pump, and the outdoor air, hour by hour."));
    }

    // What it was worth: the import price each load paid on average against the tariff's
    // time-weighted mean.
    if !island {
        let price = ts.num("grid_import_price");
        let mean: f64 = {
            let p: Vec<f64> = price.iter().copied().filter(|p| p.is_finite()).collect();
            p.iter().sum::<f64>() / p.len().max(1) as f64
        };
        let mut rows = String::new();
        for (name, col) in [("cars charging at home", "ev_kwh"), ("appliances", "appliance_kwh"), ("batteries charging from the grid", "grid_own_battery_kwh"), ("heat pumps", "heat_pump_kwh"), ("hot-water tanks", "hot_water_kwh")] {
            let e = ts.num(col);
            let (energy, cost) = e.iter().zip(&price).filter(|(e, p)| e.is_finite() && p.is_finite()).fold((0.0, 0.0), |(k, c), (e, p)| (k + e, c + e * p));
            if energy <= 0.0 {
                continue;
            }
            let paid = cost / energy;
            let _ = write!(
                rows,
                "<tr><td>{name}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                format::number(energy, 1),
                format::number(paid, 4),
                format::money((mean - paid) * energy, currency)
            );
        }
        if !rows.is_empty() {
            let _ = writeln!(
                h,
                "<table class=\"data\" id=\"flexibility-value\"><tr><th>load</th><th>kWh</th><th>import price where it ran, per kWh</th><th>against the mean import price ({})</th></tr>{rows}</table>\
                 <p class=\"note\">The last column is what running at those hours saved (above zero) or cost against the same energy bought at the tariff's mean import price; what the household used from its own PV or neighbours counts at the import price it replaced. The grid-only baseline runs the same devices, so none of this is in the savings from trading.</p>",
                format::number(mean, 4)
            );
        }
    }
    Ok(h)
}
