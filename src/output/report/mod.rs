//! `report.html`: one self-contained page (inline SVG and CSS, no scripts, no network) that a
//! planner can email. A run's report is built from the run's own output files, so it shows
//! exactly what they hold; `peergrid compare` writes one for its rules side by side.

pub mod charts;
mod communities;
mod flexibility;
mod map;

use crate::output::format;
use charts::{hex, Series};
use plotters::style::RGBColor;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

// Colours: Okabe and Ito's colour-blind-safe palette (2008); no meaning rests on red against
// green. A colour names one origin or destination of energy on every chart.
const OWN_PV: RGBColor = RGBColor(240, 228, 66);
const OWN_BATTERY: RGBColor = RGBColor(0, 158, 115);
const PEER_PV: RGBColor = RGBColor(230, 159, 0);
const PEER_BATTERY: RGBColor = RGBColor(204, 121, 167);
const GRID: RGBColor = RGBColor(0, 114, 178);
const UNSERVED: RGBColor = RGBColor(0, 0, 0);
const CURTAILED: RGBColor = RGBColor(153, 153, 153);
const LINE_LOSSES: RGBColor = RGBColor(86, 180, 233);
const CONVERSION: RGBColor = RGBColor(213, 94, 0);
const STORED: RGBColor = RGBColor(120, 94, 60);
const STORED_UP: RGBColor = RGBColor(190, 170, 140);
const COMMUNITY_BATTERY: RGBColor = RGBColor(0, 80, 60);
const OWN_CAR: RGBColor = RGBColor(110, 60, 150);
const BATTERY: RGBColor = OWN_BATTERY;
const PRICE: RGBColor = RGBColor(0, 0, 0);
/// The grid's other price: a darker shade of the grid's blue.
const GRID_EXPORT_PRICE: RGBColor = RGBColor(0, 56, 100);
const LOADING: RGBColor = RGBColor(213, 94, 0);
const SAVE: RGBColor = RGBColor(0, 114, 178);
const LOSE: RGBColor = RGBColor(213, 94, 0);
/// Bins of the household savings histogram.
const SAVINGS_BINS: usize = 20;

const STYLE: &str = "body{font-family:sans-serif;max-width:900px;margin:24px auto;color:#222;padding:0 12px}\
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:180px;flex:1}\
.card .v{font-size:22px;font-weight:bold}.card .b{color:#666;font-size:13px}\
table{border-collapse:collapse;font-size:14px}td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:left}\
figure{margin:16px 0}.legend{font-size:13px;margin:4px 0}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:middle}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:13px}table.kpis{margin-bottom:18px}table.kpis td{white-space:nowrap}table.data{font-size:12px}section.community table.data{margin-bottom:14px}.note{color:#666;font-size:13px}";

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A CSV file as columns by name.
struct Csv {
    columns: HashMap<String, Vec<String>>,
    rows: usize,
    /// The columns asked for (`None`: all), so that reading one not asked for is caught.
    kept: Option<Vec<String>>,
}

impl Csv {
    /// Reads the columns in `keep` (all with `None`): a city's households.csv has 100,000 rows
    /// of 33 columns, of which the report uses 11.
    fn read(path: &Path, keep: Option<&[&str]>) -> Result<Csv, String> {
        let mut r = csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let headers: Vec<Option<String>> = r.headers().map_err(|e| e.to_string())?.iter().map(|h| keep.is_none_or(|k| k.contains(&h)).then(|| h.to_string())).collect();
        let mut columns: HashMap<String, Vec<String>> = headers.iter().flatten().map(|h| (h.clone(), Vec::new())).collect();
        let mut rows = 0;
        let mut rec = csv::StringRecord::new();
        while r.read_record(&mut rec).map_err(|e| format!("{}: {e}", path.display()))? {
            for (h, v) in headers.iter().zip(rec.iter()) {
                if let Some(h) = h {
                    columns.get_mut(h).expect("header known").push(v.to_string());
                }
            }
            rows += 1;
        }
        Ok(Csv { columns, rows, kept: keep.map(|k| k.iter().map(|c| c.to_string()).collect()) })
    }

    fn text(&self, col: &str) -> &[String] {
        self.asked(col);
        self.columns.get(col).map_or(&[], Vec::as_slice)
    }

    /// Debug builds check that a column read was asked for (a file may lack it: then it reads
    /// as empty).
    fn asked(&self, col: &str) {
        debug_assert!(self.kept.as_ref().is_none_or(|k| k.iter().any(|c| c == col)), "column {col} read but not kept");
    }

    /// A numeric column (empty cells are NaN; a missing column is all NaN).
    fn num(&self, col: &str) -> Vec<f64> {
        self.asked(col);
        match self.columns.get(col) {
            Some(v) => v.iter().map(|s| s.parse().unwrap_or(f64::NAN)).collect(),
            None => vec![f64::NAN; self.rows],
        }
    }
}

/// A chart with its title, legend (the series drawn) and caption.
fn figure(id: &str, title: &str, svg: &str, series: &[(RGBColor, &str)], caption: &str) -> String {
    let colors: Vec<String> = series.iter().map(|(c, _)| hex(*c)).collect();
    let legend: String = series.iter().map(|(c, name)| format!("<span><i style=\"background:{}\"></i>{}</span>", hex(*c), escape(name))).collect();
    format!(
        "<figure class=\"chart\" id=\"{id}\" data-series=\"{}\"><h3>{}</h3><div class=\"legend\">{legend}</div>{svg}<figcaption>{}</figcaption></figure>\n",
        colors.join(","),
        escape(title),
        escape(caption)
    )
}

/// The legend entries of the series that have any data.
fn drawn<'a>(series: impl IntoIterator<Item = &'a Series>) -> Vec<(RGBColor, &'a str)> {
    series.into_iter().filter(|s| s.values.iter().any(|v| v.is_finite() && *v != 0.0)).map(|s| (s.color, s.name.as_str())).collect()
}

fn num(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

fn card(title: &str, value: String, below: String) -> String {
    format!("<div class=\"card\"><div>{}</div><div class=\"v\">{}</div><div class=\"b\">{}</div></div>", escape(title), escape(&value), escape(&below))
}

/// Sums a per-step column by local day (the `time` column's date).
fn by_day(days: &[String], values: &[f64], day_of_step: &[usize]) -> Vec<f64> {
    let mut out = vec![0.0; days.len()];
    for (v, d) in values.iter().zip(day_of_step) {
        if v.is_finite() {
            out[*d] += v;
        }
    }
    out
}

/// The daily energy balance: above zero what met the load, below zero where the PV went, and
/// (when there are batteries) where the stored energy went; with the figures behind the bars.
/// Each day's stacks add up to its load and PV (`metrics::EnergyBalance`), which a test checks
/// from the `data-kwh` attributes.
fn energy_balance(days: &[String], labels: &[String], daily: &dyn Fn(&str) -> Vec<f64>, island: bool) -> Result<String, String> {
    let series = |name: &str, color: RGBColor, col: &str| Series { name: name.into(), color, values: daily(col) };
    let up = [
        series("own PV, used directly", OWN_PV, "load_own_pv_kwh"),
        series("own battery", OWN_BATTERY, "load_own_battery_kwh"),
        series("own car", OWN_CAR, "load_own_vehicle_kwh"),
        series("neighbours' PV", PEER_PV, "load_peer_pv_kwh"),
        series("neighbours' batteries", PEER_BATTERY, "load_peer_battery_kwh"),
        series("community batteries", COMMUNITY_BATTERY, "load_community_battery_kwh"),
        series("grid", GRID, "load_grid_kwh"),
        series("unserved", UNSERVED, "load_unserved_kwh"),
    ];
    let down = [
        series("PV to own load", OWN_PV, "load_own_pv_kwh"),
        series("PV into own battery", OWN_BATTERY, "pv_own_battery_kwh"),
        series("PV to neighbours", PEER_PV, "load_peer_pv_kwh"),
        series("PV into community batteries", COMMUNITY_BATTERY, "pv_community_battery_kwh"),
        series("PV to the grid", GRID, "pv_grid_kwh"),
        series("PV curtailed", CURTAILED, "curtailed_kwh"),
        series("PV lost on the lines", LINE_LOSSES, "pv_line_losses_kwh"),
    ];
    let mut h = String::new();
    // The legend lists each colour once: the same colour is the same origin or destination.
    let legend: Vec<(RGBColor, &str)> = {
        let mut seen = Vec::new();
        let names = [(OWN_PV, "own PV"), (OWN_BATTERY, "own battery"), (OWN_CAR, "own car"), (PEER_PV, "neighbours' PV"), (PEER_BATTERY, "neighbours' batteries"), (COMMUNITY_BATTERY, "community batteries"), (GRID, "grid"), (UNSERVED, "unserved"), (CURTAILED, "curtailed"), (LINE_LOSSES, "lost on the lines")];
        for (c, n) in names {
            if up.iter().chain(&down).any(|s| s.color == c && s.values.iter().any(|v| *v != 0.0)) {
                seen.push((c, n));
            }
        }
        seen
    };
    let svg = charts::stacked_bars(labels, &up, &down, "kWh per day (below zero: where the PV went)")?;
    let caption = if island {
        "Above zero: what met the households' load each day (unserved: demand nobody could supply). Below zero: where the PV went (curtailed: surplus nobody could use). Each day's bars add up to its load and its PV."
    } else {
        "Above zero: what met the households' load each day. Below zero: where the PV went. Each day's bars add up to its load and its PV; network losses of the grid's own flows are supplied by the grid and not shown."
    };
    h.push_str(&figure("daily-energy", "What met the load, and where the PV went, day by day", &svg, &legend, caption));
    let stored = daily("battery_stored_change_kwh");
    let mut battery = Vec::new();
    if daily("pv_own_battery_kwh").iter().chain(&daily("pv_community_battery_kwh")).chain(&daily("grid_own_battery_kwh")).chain(&stored).any(|v| *v != 0.0) {
        let positive = |v: &Vec<f64>, sign: f64| v.iter().map(|x| (sign * x).max(0.0)).collect::<Vec<f64>>();
        let b_up = [
            series("charged from own PV", OWN_PV, "pv_own_battery_kwh"),
            series("charged from the grid", GRID, "grid_own_battery_kwh"),
            series("charged from members' PV (community batteries)", PEER_PV, "pv_community_battery_kwh"),
            Series { name: "drawn from storage".into(), color: STORED, values: positive(&stored, -1.0) },
        ];
        let b_down = [
            series("to own load", OWN_BATTERY, "load_own_battery_kwh"),
            series("to neighbours", PEER_BATTERY, "load_peer_battery_kwh"),
            series("to members (community batteries)", COMMUNITY_BATTERY, "load_community_battery_kwh"),
            series("lost on the lines", LINE_LOSSES, "battery_line_losses_kwh"),
            series("conversion losses", CONVERSION, "battery_conversion_losses_kwh"),
            Series { name: "added to storage".into(), color: STORED_UP, values: positive(&stored, 1.0) },
        ];
        let svg = charts::stacked_bars(labels, &b_up, &b_down, "kWh per day")?;
        h.push_str(&figure("battery-energy", "Batteries: what went in and where it went", &svg, &drawn(b_up.iter().chain(&b_down)), "Above zero: energy into the batteries and energy drawn from what they held. Below zero: where it went, including the round-trip (conversion) losses and the change in what they hold."));
        battery.extend(b_up.into_iter().chain(b_down));
    }
    // The figures behind the bars, exact in `data-kwh`.
    let columns: Vec<(&str, &Series)> = up.iter().map(|s| ("load", s)).chain(down.iter().map(|s| ("pv", s))).chain(battery.iter().map(|s| ("battery", s))).collect();
    h.push_str("<details><summary>The daily figures behind these charts (kWh)</summary><table class=\"data\" id=\"daily-energy-table\"><tr><th>day</th>");
    for (side, s) in &columns {
        let _ = write!(h, "<th data-side=\"{side}\">{}</th>", escape(&s.name));
    }
    h.push_str("</tr>");
    for (i, day) in days.iter().enumerate() {
        let _ = write!(h, "<tr data-day=\"{day}\"><td>{}</td>", escape(&labels[i]));
        for (side, s) in &columns {
            let _ = write!(h, "<td data-side=\"{side}\" data-kwh=\"{}\">{}</td>", s.values[i], format::number(s.values[i], 1));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></details>\n");
    Ok(h)
}

/// Savings by group of households: what they own (PV, battery, both, neither) and their load
/// archetype (or data source), as a table and a chart of the mean saving.
fn who_gains(hh: &Csv, currency: Option<&str>, island: bool) -> Result<String, String> {
    let (kwp, pv, battery, savings, bill, base) = (hh.num("kwp"), hh.num("pv_kwh"), hh.num("battery_kwh"), hh.num("savings"), hh.num("bill"), hh.num("baseline_bill"));
    let source = hh.text("load_source");
    let owns = |i: usize| match (kwp[i] > 0.0 || pv[i] > 0.0, battery[i] > 0.0) {
        (true, true) => "PV and battery",
        (true, false) => "PV only",
        (false, true) => "battery only",
        (false, false) => "neither PV nor battery",
    };
    let mut h = String::new();
    let against = if island { "without trading" } else { "grid only" };
    for (id, title, key) in [("gains-by-equipment", "Who gains: by what households own", 0), ("gains-by-archetype", "Who gains: by household type", 1)] {
        // Group → (households, Σ bill, Σ baseline bill, Σ savings, worse off), in first-seen order.
        let mut groups: Vec<(String, [f64; 4], usize)> = Vec::new();
        for i in 0..hh.rows {
            let name = if key == 0 { owns(i).to_string() } else { source.get(i).cloned().unwrap_or_default() };
            let g = match groups.iter().position(|g| g.0 == name) {
                Some(k) => k,
                None => {
                    groups.push((name, [0.0; 4], 0));
                    groups.len() - 1
                }
            };
            let e = &mut groups[g];
            e.1[0] += 1.0;
            e.1[1] += bill[i];
            e.1[2] += base[i];
            e.1[3] += savings[i];
            e.2 += (savings[i] < 0.0) as usize;
        }
        if key == 0 {
            let order = ["PV and battery", "PV only", "battery only", "neither PV nor battery"];
            groups.sort_by_key(|g| order.iter().position(|o| *o == g.0));
        }
        if groups.len() < 2 {
            continue; // one group: the distribution above says it all
        }
        let _ = write!(h, "<h3>{title}</h3><table class=\"kpis\" id=\"{id}-table\"><tr><th>group</th><th>households</th><th>mean bill</th><th>mean bill, {against}</th><th>mean saving</th><th>total saving</th><th>worse off</th></tr>");
        for (name, [n, b, base, s], worse) in &groups {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(name),
                format::count(*n as u64),
                format::money(b / n, currency),
                format::money(base / n, currency),
                format::money(s / n, currency),
                format::money(*s, currency),
                format::count(*worse as u64)
            );
        }
        h.push_str("</table>");
        let names: Vec<String> = groups.iter().map(|g| g.0.clone()).collect();
        let means: Vec<f64> = groups.iter().map(|g| g.1[3] / g.1[0]).collect();
        if means.iter().any(|m| *m != 0.0) {
            let labels: Vec<String> = means.iter().map(|m| format::money(*m, currency)).collect();
            let bars = [Series { name: "mean saving per household".into(), color: SAVE, values: means }];
            let svg = charts::grouped_bars(&names, &bars, currency.unwrap_or("currency"), Some(&labels))?;
            h.push_str(&figure(id, &format!("Mean saving against {against}"), &svg, &drawn(&bars), "Per household of each group; the table above has the bills behind it."));
        }
    }
    Ok(h)
}

/// Energy, bills and peer trade per calendar month (local time).
fn monthly(ts: &Csv, months: &[&str], currency: Option<&str>, island: bool) -> String {
    let month_of: Vec<usize> = ts.text("time").iter().map(|t| months.iter().position(|m| t.starts_with(m)).unwrap_or(0)).collect();
    let sum = |col: &str| {
        let mut out = vec![0.0; months.len()];
        for (v, m) in ts.num(col).iter().zip(&month_of) {
            if v.is_finite() {
                out[*m] += v;
            }
        }
        out
    };
    let mut cols: Vec<(&str, Vec<f64>, bool)> = vec![("load kWh", sum("load_kwh"), false), ("PV kWh", sum("pv_kwh"), false), ("P2P kWh", sum("p2p_kwh"), false)];
    if !island {
        cols.push(("import kWh", sum("grid_import_kwh"), false));
        cols.push(("export kWh", sum("grid_export_kwh"), false));
    }
    cols.push(("unserved kWh", sum("unserved_kwh"), false));
    let (bill, base) = (sum("community_bill"), sum("baseline_bill"));
    if !island {
        cols.push(("community bill", bill.clone(), true));
        cols.push(("grid-only bill", base.clone(), true));
        cols.push(("savings", base.iter().zip(&bill).map(|(b, c)| b - c).collect(), true));
    }
    let mut h = String::from("<h2>Month by month</h2><table class=\"data\" id=\"monthly-table\"><tr><th>month</th>");
    for (name, ..) in &cols {
        let _ = write!(h, "<th>{}</th>", escape(name));
    }
    h.push_str("</tr>");
    for (i, m) in months.iter().enumerate() {
        let _ = write!(h, "<tr><td>{}</td>", escape(&format::month(m)));
        for (_, v, money) in &cols {
            let _ = write!(h, "<td>{}</td>", if *money { format::money(v[i], currency) } else { format::number(v[i], 0) });
        }
        h.push_str("</tr>");
    }
    h.push_str("</table><p class=\"note\">P2P: energy delivered between neighbours. Months in local time.</p>\n");
    h
}

/// Writes `dir/report.html` from the run's files in `dir`.
pub fn write_run_report(dir: &Path) -> Result<(), String> {
    let summary: Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let mut ts_columns = TIMESERIES_COLUMNS_USED.to_vec();
    ts_columns.extend(crate::metrics::EnergyBalance::COLUMNS);
    ts_columns.extend(flexibility::COLUMNS);
    let ts = Csv::read(&dir.join("timeseries.csv"), Some(&ts_columns))?;
    let hh = Csv::read(&dir.join("households.csv"), Some(&HOUSEHOLD_COLUMNS_USED))?;
    let lines = Csv::read(&dir.join("lines.csv"), Some(&["line", "max_loading"]))?;
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("topology.json")).map_err(|e| format!("topology.json: {e}"))?);
    let topology: map::Topology = serde_json::from_reader(file).map_err(|e| format!("topology.json: {e}"))?;
    let communities = communities::section(dir, &summary)?;
    let after_map = phase_map_section(dir, &summary, &topology)? + &communities;
    let html = run_html(&summary, &ts, &hh, &lines, &topology, &after_map)?;
    std::fs::write(dir.join("report.html"), html).map_err(|e| format!("writing report.html: {e}"))
}

/// Unbalanced runs: the map of per-phase voltage problems from `buses.csv` (empty without it).
fn phase_map_section(dir: &Path, summary: &Value, topology: &map::Topology) -> Result<String, String> {
    let path = dir.join("buses.csv");
    if !path.exists() {
        return Ok(String::new());
    }
    let columns = ["bus", "min_voltage_a_pu", "max_voltage_a_pu", "min_voltage_b_pu", "max_voltage_b_pu", "min_voltage_c_pu", "max_voltage_c_pu", "max_unbalance_pct"];
    let csv = Csv::read(&path, Some(&columns))?;
    let col = |name: &str| csv.num(name);
    let (lo, hi) = ([col("min_voltage_a_pu"), col("min_voltage_b_pu"), col("min_voltage_c_pu")], [col("max_voltage_a_pu"), col("max_voltage_b_pu"), col("max_voltage_c_pu")]);
    let unbalance = col("max_unbalance_pct");
    let buses: Vec<map::BusVoltage> = csv.text("bus").iter().enumerate().map(|(i, id)| map::BusVoltage { id: id.clone(), min_pu: [0, 1, 2].map(|k| lo[k][i]), max_pu: [0, 1, 2].map(|k| hi[k][i]), max_unbalance_pct: unbalance[i] }).collect();
    let tolerance = num(summary, "voltage_tolerance_pu").unwrap_or(crate::grid::network::DEFAULT_VOLTAGE_TOLERANCE);
    let (low, high) = (num(summary, "voltage_band_min_pu").unwrap_or(1.0 - tolerance), num(summary, "voltage_band_max_pu").unwrap_or(1.0 + tolerance));
    let limit = crate::grid::network::UNBALANCE_LIMIT_PCT;
    let m = map::draw_phase_voltages(topology, &buses, (low, high), limit);
    let band = match (num(summary, "voltage_band_min_v"), num(summary, "voltage_band_max_v")) {
        (Some(lo_v), Some(hi_v)) => format!("{}–{} V ({}–{} pu)", format::number(lo_v, 1), format::number(hi_v, 1), format::number(low, 3), format::number(high, 3)),
        _ => format!("{}–{} pu", format::number(low, 3), format::number(high, 3)),
    };
    let highest = buses.iter().map(|b| b.max_unbalance_pct).fold(0.0, f64::max);
    let mut caption = if m.outside == 0 && m.unbalanced == 0 {
        format!("No bus left the band {band} on any phase, and no bus's voltage unbalance went above {}% (EN 50160); the highest was {}%.", format::number(limit, 0), format::number(highest, 2))
    } else {
        format!(
            "Buses where a phase's voltage left the band {band} at some step: three bars for phases a, b, c (left to right), orange above the band, blue below, purple both ways, grey within. {} of {} buses left it (phase a {}, b {}, c {}); {} went above {}% voltage unbalance (EN 50160; dashed ring), the highest {}%. Hover a mark for its buses' voltages.",
            format::count(m.outside as u64),
            format::count(buses.len() as u64),
            format::count(m.outside_by_phase[0] as u64),
            format::count(m.outside_by_phase[1] as u64),
            format::count(m.outside_by_phase[2] as u64),
            format::count(m.unbalanced as u64),
            format::number(limit, 0),
            format::number(highest, 2),
        )
    };
    if m.merged {
        caption.push_str(" Many buses: marks in the same small cell are merged (their phases' marks combined).");
    }
    if m.stretched {
        caption.push_str(" A schematic: the thin feeder is stretched across to fill the frame.");
    }
    if m.outside == 0 && m.unbalanced == 0 {
        // Nothing to mark: the sentence says it without an empty map.
        return Ok(format!("<h3 id=\"phase-voltages\">Voltage by phase</h3><p class=\"note\">{}</p>\n", escape(&caption)));
    }
    let legend: Vec<(RGBColor, &str)> = m.legend.iter().map(|(c, n)| (*c, n.as_str())).collect();
    Ok(figure("phase-voltages", "Voltage by phase", &m.svg, &legend, &caption))
}

/// Columns of timeseries.csv the run report reads (with the energy balance's): a year at 15 min
/// is 35,040 rows.
const TIMESERIES_COLUMNS_USED: [&str; 15] = [
    "time", "load_kwh", "pv_kwh", "p2p_kwh", "grid_import_kwh", "grid_export_kwh", "unserved_kwh", "curtailed_kwh", "clearing_price",
    "battery_soc_kwh", "max_line_loading", "grid_import_price", "grid_export_price", "community_bill", "baseline_bill",
];

/// Columns of households.csv the run report reads.
const HOUSEHOLD_COLUMNS_USED: [&str; 18] = [
    "household", "node", "kwp", "battery_kwh", "grid_export_kwh", "p2p_sold_kwh", "grid_import_kwh", "p2p_bought_kwh", "savings", "data_source", "synthetic",
    "loss_of_load_hours", "baseline_loss_of_load_hours", "unserved_kwh", "load_source", "bill", "baseline_bill", "pv_kwh",
];

/// `after_map`: the sections that follow the grid's map, in order (voltage by phase on
/// unbalanced runs, the run's communities; empty without).
fn run_html(summary: &Value, ts: &Csv, hh: &Csv, lines: &Csv, topology: &map::Topology, after_map: &str) -> Result<String, String> {
    let name = summary["scenario"].as_str().unwrap_or("run");
    let island = !summary["grid_connected"].as_bool().unwrap_or(true);
    let mut h = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>peergrid report: {}</title><style>{STYLE}</style></head><body>\n", escape(name));
    let _ = writeln!(h, "<h1>{}</h1><p>{}</p>", escape(name), escape(summary["description"].as_str().unwrap_or("")));

    // Key facts.
    let kwp: f64 = hh.num("kwp").iter().filter(|v| v.is_finite()).sum();
    // PV from the model or measured in a profile (whose `kwp` may be 0).
    let with_pv = hh.num("pv_kwh").iter().zip(hh.num("kwp")).filter(|(e, k)| **e > 0.0 || *k > 0.0).count();
    let battery_kwh: f64 = hh.num("battery_kwh").iter().filter(|v| v.is_finite()).sum();
    let with_battery = hh.num("battery_kwh").iter().filter(|v| **v > 0.0).count();
    let steps = summary["steps"].as_u64().unwrap_or(0);
    let step_minutes = summary["step_minutes"].as_u64().unwrap_or(15);
    let currency = summary["currency"].as_str();
    let money = |key: &str| num(summary, key).map_or("–".into(), |v| format::money(v, currency));
    let kwh = |key: &str, digits: usize| num(summary, key).map_or("–".into(), |v| format!("{} kWh", format::number(v, digits)));
    let start = summary["start"].as_str().unwrap_or("?");
    let params = format::params(&summary["rule_params"]);
    let facts = [
        ("Households", format!("{} ({} with PV, {} kWp; {} with batteries, {} kWh)", format::count(hh.rows as u64), format::count(with_pv as u64), format::number(kwp, 1), format::count(with_battery as u64), format::number(battery_kwh, 1))),
        ("Period", format!("{} from {} ({} steps of {step_minutes} min)", format::duration(steps * step_minutes), format::date_time(start), format::count(steps))),
        (
            "Trading rule",
            match summary.get("communities").and_then(Value::as_array) {
                Some(cs) => format!("each community its own: {}; households in none deal with the grid", cs.iter().map(|c| format!("{} {}", c["id"].as_str().unwrap_or("?"), c["rule"].as_str().unwrap_or("?"))).collect::<Vec<_>>().join(", ")),
                None if params.is_empty() => summary["rule"].as_str().unwrap_or("?").to_string(),
                None => format!("{} ({params})", summary["rule"].as_str().unwrap_or("?")),
            },
        ),
        ("Grid", if island { "none: an island, with no grid connection".into() } else { "connected".into() }),
        ("Money", currency.map_or("amounts in the scenario's currency units (it names no currency)".into(), |c| format!("{c}; settled in millionths, shown to the currency's minor unit"))),
        ("Seed", summary["seed"].to_string()),
        ("Grid lines", format!("{} (highest loading {})", format::count(lines.rows as u64), num(summary, "max_line_loading").map_or("–".into(), |v| format::percent(v, 1)))),
    ];
    h.push_str("<h2>The scenario</h2><table>");
    for (k, v) in facts {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    h.push_str("</table>\n");

    let share = |key: &str| num(summary, key).map_or("–".into(), |v| format::percent(v, 1));
    let trades = format!("{} trades, mean price {}", format::count(summary["trades"].as_u64().unwrap_or(0)), num(summary, "p2p_price_mean").map_or("–".into(), |p| format::price(p, currency)));
    if island {
        // On an island nothing is bought from a grid: what trading changes is who goes without.
        let lol = |col: &str| hh.num(col).iter().filter(|v| v.is_finite()).sum::<f64>();
        h.push_str("<h2>Results against the same island without trading</h2><div class=\"cards\">");
        h.push_str(&card("Unserved energy", kwh("unserved_kwh", 1), format!("without trading: {}", kwh("baseline_unserved_kwh", 1))));
        h.push_str(&card("Loss-of-load hours", format!("{} h", format::number(lol("loss_of_load_hours"), 1)), format!("summed over households; without trading: {} h", format::number(lol("baseline_loss_of_load_hours"), 1))));
        h.push_str(&card("Self-sufficiency", share("self_sufficiency"), "1 − unserved / load".into()));
        h.push_str(&card("Traded between neighbours", kwh("p2p_kwh", 0), trades));
        h.push_str(&card("Curtailed PV", kwh("curtailed_kwh", 1), format!("line losses {}", kwh("losses_kwh", 1))));
    } else {
        h.push_str("<h2>Results against the grid-only baseline</h2><div class=\"cards\">");
        h.push_str(&card("Self-sufficiency", share("self_sufficiency"), "1 − (grid import + unserved) / load".into()));
        h.push_str(&card("Self-consumption", share("self_consumption"), "of the PV, used in the community".into()));
        h.push_str(&card("Traded between neighbours", kwh("p2p_kwh", 0), trades));
        // Fixed tariff charges, when the tariff has them: part of both bills.
        let fixed = ["supply_charges", "demand_charges"].iter().map(|k| num(summary, k).unwrap_or(0.0)).sum::<f64>();
        let charges = if fixed > 0.0 {
            format!("; both include the tariff's supply charges ({}, grid only {}) and demand charges ({}, grid only {})", money("supply_charges"), money("baseline_supply_charges"), money("demand_charges"), money("baseline_demand_charges"))
        } else {
            String::new()
        };
        h.push_str(&card("Community bill", money("community_bill"), format!("grid only: {}{charges}", money("baseline_bill"))));
        let of_import = num(summary, "savings_pct_of_baseline_import_cost").map_or("no grid imports to compare with".into(), |v| format!("{}% of the grid-only import cost", format::number(v, 1)));
        // With communities, founding contributions count as paid: say what their members own.
        let equity: f64 = summary["communities"].as_array().map_or(0.0, |cs| cs.iter().filter_map(|c| num(c, "equity_end")).sum());
        let below = if equity != 0.0 { format!("{of_import}; communities own {} at the end (see Communities)", format::money(equity, currency)) } else { of_import };
        h.push_str(&card("Savings", money("savings"), below));
        h.push_str(&card("Unserved energy", kwh("unserved_kwh", 1), format!("grid only: {}", kwh("baseline_unserved_kwh", 1))));
        h.push_str(&card("Curtailed PV", kwh("curtailed_kwh", 1), format!("line losses {}; peak grid import {} kW", kwh("losses_kwh", 1), num(summary, "peak_grid_import_kw").map_or("–".into(), |v| format::number(v, 1)))));
    }
    h.push_str(&card(
        "CO₂ avoided",
        num(summary, "co2_avoided_kg").map_or("–".into(), |v| format!("{} kg", format::number(v, 0))),
        if island {
            "all load served on the island, against the scenario's grid emission factor".into()
        } else {
            match num(summary, "co2_avoided_vs_baseline_kg") {
                Some(v) if v >= 0.0 => format!("{} kg more than grid only avoids", format::number(v, 0)),
                Some(v) => format!("{} kg less than grid only avoids", format::number(-v, 0)),
                None => "–".into(),
            }
        },
    ));
    h.push_str("</div>\n");

    // Daily energy.
    let time = ts.text("time");
    let mut days: Vec<String> = Vec::new();
    let mut day_of_step = Vec::with_capacity(time.len());
    for t in time {
        let d = t.get(..10).unwrap_or(t).to_string();
        if days.last() != Some(&d) {
            days.push(d);
        }
        day_of_step.push(days.len() - 1);
    }
    let daily = |col: &str| by_day(&days, &ts.num(col), &day_of_step);
    let labels: Vec<String> = days.iter().map(|d| format::short_date(d)).collect();
    h.push_str("<h2>Energy</h2>");
    h.push_str(&energy_balance(&days, &labels, &daily, island)?);
    h.push_str(&flexibility::section(summary, ts, island)?);

    // Price.
    let (price, kwh) = (ts.num("clearing_price"), ts.num("p2p_kwh"));
    let mut value = vec![0.0; days.len()];
    let mut volume = vec![0.0; days.len()];
    for ((p, q), d) in price.iter().zip(&kwh).zip(&day_of_step) {
        if p.is_finite() && q.is_finite() {
            value[*d] += p * q;
            volume[*d] += q;
        }
    }
    let daily_price: Vec<f64> = value.iter().zip(&volume).map(|(v, q)| if *q > 0.0 { v / q } else { f64::NAN }).collect();
    // The tariff's daily means (time-weighted), as reference lines.
    let daily_mean = |col: &str| {
        let (mut sum, mut n) = (vec![0.0; days.len()], vec![0u32; days.len()]);
        for (v, d) in ts.num(col).iter().zip(&day_of_step) {
            if v.is_finite() {
                sum[*d] += v;
                n[*d] += 1;
            }
        }
        sum.iter().zip(&n).map(|(s, n)| if *n > 0 { s / *n as f64 } else { f64::NAN }).collect::<Vec<f64>>()
    };
    h.push_str("<h2>Prices</h2>");
    if daily_price.iter().any(|p| p.is_finite()) {
        let mut price = vec![Series { name: "peer price, volume-weighted daily mean".into(), color: PRICE, values: daily_price }];
        for (name, color, col) in [("grid import price, daily mean", GRID, "grid_import_price"), ("grid export price, daily mean", GRID_EXPORT_PRICE, "grid_export_price")] {
            let values = daily_mean(col);
            if values.iter().any(|v| v.is_finite()) {
                price.push(Series { name: name.into(), color, values });
            }
        }
        let unit = format!("{} per kWh", currency.unwrap_or("currency"));
        // From zero: a narrow band of prices is not drawn as a steep swing.
        let svg = charts::lines(&price, "day", &unit, &|i| labels.get(i).cloned().unwrap_or_default(), &[0.0])?;
        let caption = if island { "Mean price of the energy traded between neighbours each day." } else { "Mean price of the energy traded between neighbours each day, between the grid's export and import prices." };
        h.push_str(&figure("p2p-price", "Peer-to-peer price over time", &svg, &drawn(&price), caption));
    } else {
        h.push_str("<p class=\"note\">No energy was traded between neighbours (grid-only rule or no surplus).</p>");
    }

    // Who gains, who loses.
    let savings: Vec<f64> = hh.num("savings").into_iter().filter(|v| v.is_finite()).collect();
    let gainers = savings.iter().filter(|s| **s > 0.0).count();
    let losers = savings.iter().filter(|s| **s < 0.0).count();
    h.push_str("<h2>Households</h2>");
    if gainers + losers == 0 {
        h.push_str("<p class=\"note\">No household's bill differs from what it would pay without trading, so there is no distribution of savings to show.</p>");
    } else {
        let x_label = format!("saving against {} ({})", if island { "no trading" } else { "grid only" }, currency.unwrap_or("currency"));
        let svg = charts::histogram(&savings, SAVINGS_BINS, SAVE, LOSE, &x_label)?;
        let present: Vec<(RGBColor, &str)> = [(SAVE, "save", gainers > 0 || savings.iter().any(|s| *s == 0.0)), (LOSE, "pay more", losers > 0)].iter().filter(|(_, _, p)| *p).map(|(c, n, _)| (*c, *n)).collect();
        let caption = format!("{} households save, {} pay more than {}, {} unchanged.", format::count(gainers as u64), format::count(losers as u64), if island { "without trading" } else { "with the grid alone" }, format::count((savings.len() - gainers - losers) as u64));
        h.push_str(&figure("savings", "Distribution of household savings", &svg, &present, &caption));
    }

    h.push_str(&who_gains(hh, currency, island)?);

    // Month by month, for runs longer than a month.
    let months: Vec<&str> = {
        let mut m: Vec<&str> = time.iter().filter_map(|t| t.get(..7)).collect();
        m.dedup();
        m
    };
    if days.len() > 31 && months.len() > 1 {
        h.push_str(&monthly(ts, &months, currency, island));
    }

    // Batteries.
    if battery_kwh > 0.0 {
        let soc: Vec<f64> = ts.num("battery_soc_kwh").iter().map(|v| v / battery_kwh * 100.0).collect();
        let hours = step_minutes as f64 / 60.0;
        let soc = [Series { name: "stored energy, % of all batteries' capacity".into(), color: BATTERY, values: soc }];
        let svg = charts::lines(&soc, "day", "%", &|i| labels.get(day_of_step.get(i).copied().unwrap_or(0)).cloned().unwrap_or_default(), &[])?;
        h.push_str(&figure("battery-soc", "Battery state of charge", &svg, &drawn(&soc), &format!("Energy stored in the {} batteries ({} kWh), {hours} h steps.", format::count(with_battery as u64), format::number(battery_kwh, 1))));
    }

    // Lines.
    if lines.rows > 0 {
        let loading = [Series { name: "most loaded line, % of its capacity".into(), color: LOADING, values: ts.num("max_line_loading").iter().map(|v| v * 100.0).collect() }];
        let svg = charts::lines(&loading, "day", "% of capacity", &|i| labels.get(day_of_step.get(i).copied().unwrap_or(0)).cloned().unwrap_or_default(), &[100.0])?;
        let caption = format!("Highest flow / capacity of any line at each step (grey: capacity); {} steps with a line limit binding.", format::count(summary["congested_steps"].as_u64().unwrap_or(0)));
        h.push_str("<h2>The grid</h2>");
        h.push_str(&figure("line-loading", "Line loading", &svg, &drawn(&loading), &caption));
    }

    // Map. Columns parsed once (a district has 10,000 rows).
    let (export, sold, import, bought, unserved) = (hh.num("grid_export_kwh"), hh.num("p2p_sold_kwh"), hh.num("grid_import_kwh"), hh.num("p2p_bought_kwh"), hh.num("unserved_kwh"));
    let (nodes_of, ids) = (hh.text("node"), hh.text("household"));
    let houses: Vec<map::House> = (0..hh.rows)
        .map(|i| map::House { node: nodes_of[i].clone(), id: ids[i].clone(), net_kwh: export[i] + sold[i] - import[i] - bought[i], unserved_kwh: unserved[i] })
        .collect();
    let exporters = houses.iter().filter(|h| h.net_kwh >= 0.0).count();
    let short = houses.iter().filter(|h| h.unserved_kwh > 0.01).count();
    let (line_ids, max_loading) = (lines.text("line"), lines.num("max_loading"));
    let loading: HashMap<&str, f64> = line_ids.iter().map(String::as_str).zip(max_loading).collect();
    let m = map::draw(topology, &houses, &loading);
    let legend: Vec<(RGBColor, &str)> = m.legend.iter().map(|(c, n)| (*c, n.as_str())).collect();
    let mut caption = format!(
        "{} of the {} houses sent more energy out than they took in, {} took more. Colours run from orange (took most) through near-white (about even: within a tenth of the scale) to purple (sent most out); the scale runs to ±{} kWh. Lines by their highest loading; black square: {}.",
        format::count(exporters as u64),
        format::count(houses.len() as u64),
        format::count((houses.len() - exporters) as u64),
        format::number(m.scale_kwh, 0),
        if island { "the island's hub" } else { "the grid connection" },
    );
    if short > 0 {
        caption.push_str(&format!(" {} houses went short at some point (ringed).", format::count(short as u64)));
    }
    if let Some(cells) = m.cells {
        caption.push_str(&format!(" With more than {} houses each mark is one of {} cells of neighbouring houses, coloured by their mean (hover for its counts).", format::count(map::MAP_HOUSE_MARKS_MAX as u64), format::count(cells as u64)));
    }
    if m.stretched {
        caption.push_str(" A schematic: the thin feeder is stretched across to fill the frame.");
    }
    h.push_str(&figure("map", "The grid, houses by net energy over the run", &m.svg, &legend, &caption));

    h.push_str(after_map);

    // Ledger.
    h.push_str("<h2>Ledger</h2>");
    match summary.get("ledger").filter(|l| !l.is_null()) {
        Some(l) => {
            let _ = write!(
                h,
                "<table><tr><th>Blocks</th><td>{}</td></tr><tr><th>Transactions</th><td>{}</td></tr><tr><th>Head hash</th><td><code>{}</code></td></tr><tr><th>Validators</th><td>{}</td></tr><tr><th>Missed slots</th><td>{}</td></tr></table><p class=\"note\">{}</p>",
                l["blocks"],
                l["transactions"],
                escape(l["head_hash"].as_str().unwrap_or("")),
                escape(&l["witnesses"].as_array().map(|w| w.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")).unwrap_or_default()),
                l["missed_slots"],
                if l["jsonl_written"].as_bool() == Some(false) {
                    "Every block was built, signed and chained, but ledger.jsonl was not written (output level aggregate, or --ledger head-only); rerun with the full output level to audit it."
                } else {
                    "Check it with <code>peergrid verify</code> on this folder."
                }
            );
        }
        None => h.push_str("<p class=\"note\">The ledger was off for this run.</p>"),
    }
    if hh.text("data_source").iter().any(|s| s.starts_with("ausgrid")) {
        h.push_str("<p class=\"note\">Household data: Ausgrid, Solar home electricity data, published for research.</p>");
    }
    let _ = write!(h, "<p class=\"note\">Written by peergrid {} from this folder's summary.json, timeseries.csv, households.csv, lines.csv and topology.json.</p></body></html>\n", env!("CARGO_PKG_VERSION"));
    Ok(h)
}

/// How the compare page writes a KPI: shares as percentages, money in the currency, counts as
/// integers.
#[derive(Clone, Copy)]
enum Unit {
    Share,
    Percent,
    Money,
    Price,
    Kwh,
    Kw,
    Kg,
    Count,
    Ratio,
}

fn kpi_unit(key: &str) -> Unit {
    match key {
        "self_sufficiency" | "self_consumption" | "share_worse_off" | "max_line_loading" => Unit::Share,
        "savings_pct" | "savings_pct_of_baseline_import_cost" => Unit::Percent,
        "community_bill" | "baseline_bill" | "savings" | "baseline_import_cost" | "network_fees" => Unit::Money,
        "p2p_price_mean" | "p2p_price_sd" => Unit::Price,
        "peak_grid_import_kw" | "peak_grid_export_kw" => Unit::Kw,
        "co2_avoided_kg" | "co2_avoided_vs_baseline_kg" => Unit::Kg,
        "trades" | "congested_steps" | "voltage_limited_steps" => Unit::Count,
        "gini_savings" => Unit::Ratio,
        _ => Unit::Kwh,
    }
}

/// A KPI value for people (the table and the bars' labels).
fn kpi_text(key: &str, v: f64, currency: Option<&str>) -> String {
    match kpi_unit(key) {
        Unit::Share => format::percent(v, 1),
        Unit::Percent => format!("{}%", format::number(v, 1)),
        Unit::Money => format::money(v, currency),
        Unit::Price => format::price(v, currency),
        Unit::Kwh => format!("{} kWh", format::number(v, if v.abs() >= 100.0 { 0 } else { 1 })),
        Unit::Kw => format!("{} kW", format::number(v, 1)),
        Unit::Kg => format!("{} kg", format::number(v, 0)),
        Unit::Count => format::number(v, if v.fract() == 0.0 { 0 } else { 1 }),
        Unit::Ratio => format::number(v, 3),
    }
}

/// The compare report: for each headline KPI, a bar per rule (means over the seeds) with its
/// value written on it, then every KPI in a table that wraps to the page.
pub fn compare_html(scenario: &str, currency: Option<&str>, table: &crate::output::compare::Table) -> Result<String, String> {
    const SHOWN: [(&str, &str); 9] = [
        ("self_sufficiency", "Self-sufficiency"),
        ("savings", "Savings against grid only"),
        ("savings_pct_of_baseline_import_cost", "Savings, % of the grid-only import cost"),
        ("p2p_kwh", "Traded between neighbours"),
        ("p2p_price_mean", "Mean peer price"),
        ("gini_savings", "Inequality of savings (Gini)"),
        ("share_worse_off", "Share of households worse off"),
        ("unserved_kwh", "Unserved energy"),
        ("network_fees", "Network fees"),
    ];
    let rules: Vec<String> = table.iter().map(|(r, _, _)| r.to_string()).collect();
    let seeds = table.first().map_or(1, |t| t.1);
    let mut h = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>peergrid compare: {}</title><style>{STYLE}</style></head><body>\n", escape(scenario));
    let _ = writeln!(
        h,
        "<h1>{}: trading rules compared</h1><p>The same weather, loads and grid for every rule; means over {} seed{}{}.</p>",
        escape(scenario),
        seeds,
        if seeds == 1 { "" } else { "s" },
        currency.map_or(String::new(), |c| format!("; money in {c}"))
    );
    let index: BTreeMap<&str, usize> = crate::output::compare::KPIS.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut skipped = Vec::new();
    for (key, title) in SHOWN {
        let values: Vec<f64> = table.iter().map(|(_, _, cols)| cols[index[key]].0.unwrap_or(f64::NAN)).collect();
        if !values.iter().any(|v| v.is_finite() && *v != 0.0) {
            skipped.push(title);
            continue;
        }
        let scale = if matches!(kpi_unit(key), Unit::Share) { 100.0 } else { 1.0 };
        let bars = [Series { name: title.into(), color: GRID, values: values.iter().map(|v| v * scale).collect() }];
        let labels: Vec<String> = values.iter().map(|v| if v.is_finite() { kpi_text(key, *v, currency) } else { "–".into() }).collect();
        let axis = match kpi_unit(key) {
            Unit::Share | Unit::Percent => "%".to_string(),
            Unit::Money => currency.unwrap_or("currency").to_string(),
            Unit::Price => format!("{} per kWh", currency.unwrap_or("currency")),
            Unit::Kwh => "kWh".into(),
            _ => String::new(),
        };
        let svg = charts::grouped_bars(&rules, &bars, &axis, Some(&labels))?;
        h.push_str(&figure(key, title, &svg, &[(GRID, title)], ""));
    }
    if !skipped.is_empty() {
        let _ = writeln!(h, "<p class=\"note\">Not drawn, zero or not defined for every rule: {}.</p>", escape(&skipped.join(", ").to_lowercase()));
    }
    // Rules as columns, in blocks of at most RULES_PER_TABLE so the page never overflows.
    const RULES_PER_TABLE: usize = 5;
    h.push_str("<h2>All KPIs</h2>");
    for block in (0..table.len()).collect::<Vec<_>>().chunks(RULES_PER_TABLE) {
        h.push_str("<table class=\"kpis\"><tr><th>KPI</th>");
        for &r in block {
            let _ = write!(h, "<th>{}</th>", escape(&rules[r]));
        }
        h.push_str("</tr>");
        for (i, k) in crate::output::compare::KPIS.iter().enumerate() {
            let _ = write!(h, "<tr><td>{k}</td>");
            for &r in block {
                let _ = write!(h, "<td>{}</td>", table[r].2[i].0.map_or("–".into(), |v| escape(&kpi_text(k, v, currency))));
            }
            h.push_str("</tr>");
        }
        h.push_str("</table>");
    }
    h.push_str("<p class=\"note\">The same figures, unrounded, are in compare.csv.</p></body></html>\n");
    Ok(h)
}
