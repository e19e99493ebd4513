//! `report.html`: one self-contained page (inline SVG and CSS, no scripts, no network) that a
//! planner can email. A run's report is built from the run's own output files, so it shows
//! exactly what they hold; `peergrid compare` writes one for its rules side by side.

pub mod charts;
mod map;

use charts::{hex, Series};
use plotters::style::RGBColor;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::Path;

const OWN_USE: RGBColor = RGBColor(253, 174, 97);
const P2P: RGBColor = RGBColor(26, 152, 80);
const BATTERY: RGBColor = RGBColor(117, 112, 179);
const GRID: RGBColor = RGBColor(69, 117, 180);
const EXPORT: RGBColor = RGBColor(145, 191, 219);
const PRICE: RGBColor = RGBColor(26, 152, 80);
const LOADING: RGBColor = RGBColor(215, 48, 39);
const SAVE: RGBColor = RGBColor(26, 152, 80);
const LOSE: RGBColor = RGBColor(215, 48, 39);
/// Bins of the household savings histogram.
const SAVINGS_BINS: usize = 20;

const STYLE: &str = "body{font-family:sans-serif;max-width:900px;margin:24px auto;color:#222;padding:0 12px}\
h1{margin-bottom:4px}h2{margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:180px;flex:1}\
.card .v{font-size:22px;font-weight:bold}.card .b{color:#666;font-size:13px}\
table{border-collapse:collapse;font-size:14px}td,th{border-bottom:1px solid #eee;padding:4px 10px;text-align:left}\
figure{margin:16px 0}.legend{font-size:13px;margin:4px 0}.legend span{margin-right:14px;white-space:nowrap}.legend i{display:inline-block;width:11px;height:11px;margin-right:5px;vertical-align:middle}figure svg{max-width:100%;height:auto}figcaption{color:#555;font-size:13px}.note{color:#666;font-size:13px}";

/// HTML-escapes text.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// A CSV file as columns by name.
struct Csv {
    columns: HashMap<String, Vec<String>>,
    rows: usize,
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
        Ok(Csv { columns, rows })
    }

    fn text(&self, col: &str) -> &[String] {
        self.columns.get(col).map_or(&[], Vec::as_slice)
    }

    /// A numeric column (empty cells are NaN; a missing column is all NaN).
    fn num(&self, col: &str) -> Vec<f64> {
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

fn fmt(x: Option<f64>, digits: usize, unit: &str) -> String {
    x.map_or("–".into(), |v| format!("{v:.digits$}{unit}"))
}

fn pct(x: Option<f64>) -> String {
    fmt(x.map(|v| v * 100.0), 1, "%")
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

/// Writes `dir/report.html` from the run's files in `dir`.
pub fn write_run_report(dir: &Path) -> Result<(), String> {
    let summary: Value = serde_json::from_slice(&std::fs::read(dir.join("summary.json")).map_err(|e| e.to_string())?).map_err(|e| e.to_string())?;
    let ts = Csv::read(&dir.join("timeseries.csv"), None)?;
    let hh = Csv::read(&dir.join("households.csv"), Some(&HOUSEHOLD_COLUMNS_USED))?;
    let lines = Csv::read(&dir.join("lines.csv"), Some(&[]))?;
    let file = std::io::BufReader::new(std::fs::File::open(dir.join("topology.json")).map_err(|e| format!("topology.json: {e}"))?);
    let topology: map::Topology = serde_json::from_reader(file).map_err(|e| format!("topology.json: {e}"))?;
    let html = run_html(&summary, &ts, &hh, &lines, &topology)?;
    std::fs::write(dir.join("report.html"), html).map_err(|e| format!("writing report.html: {e}"))
}

/// Columns of households.csv the run report reads.
const HOUSEHOLD_COLUMNS_USED: [&str; 11] = ["household", "node", "kwp", "battery_kwh", "grid_export_kwh", "p2p_sold_kwh", "grid_import_kwh", "p2p_bought_kwh", "savings", "data_source", "synthetic"];

fn run_html(summary: &Value, ts: &Csv, hh: &Csv, lines: &Csv, topology: &map::Topology) -> Result<String, String> {
    let name = summary["scenario"].as_str().unwrap_or("run");
    let mut h = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>peergrid report: {}</title><style>{STYLE}</style></head><body>\n", escape(name));
    let _ = writeln!(h, "<h1>{}</h1><p>{}</p>", escape(name), escape(summary["description"].as_str().unwrap_or("")));

    // Key facts.
    let kwp: f64 = hh.num("kwp").iter().filter(|v| v.is_finite()).sum();
    let with_pv = hh.num("kwp").iter().filter(|v| **v > 0.0).count();
    let battery_kwh: f64 = hh.num("battery_kwh").iter().filter(|v| v.is_finite()).sum();
    let with_battery = hh.num("battery_kwh").iter().filter(|v| **v > 0.0).count();
    let steps = summary["steps"].as_u64().unwrap_or(0);
    let step_minutes = summary["step_minutes"].as_u64().unwrap_or(15);
    let facts = [
        ("Households", format!("{} ({with_pv} with PV, {kwp:.1} kWp; {with_battery} with batteries, {battery_kwh:.1} kWh)", hh.rows)),
        ("Period", format!("{} steps of {step_minutes} min from {} ({:.1} days)", steps, summary["start"].as_str().unwrap_or("?"), steps as f64 * step_minutes as f64 / 1440.0)),
        ("Trading rule", format!("{} {}", summary["rule"].as_str().unwrap_or("?"), summary["rule_params"])),
        ("Grid", if summary["grid_connected"].as_bool().unwrap_or(true) { "connected".into() } else { "islanded (no grid connection)".into() }),
        ("Seed", summary["seed"].to_string()),
        ("Grid lines", format!("{} (highest loading {})", lines.rows, pct(num(summary, "max_line_loading")))),
    ];
    h.push_str("<h2>The scenario</h2><table>");
    for (k, v) in facts {
        let _ = write!(h, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    h.push_str("</table>\n");

    // KPI cards against the grid-only baseline.
    let bill = num(summary, "community_bill");
    let base = num(summary, "baseline_bill");
    h.push_str("<h2>Results against the grid-only baseline</h2><div class=\"cards\">");
    h.push_str(&card("Self-sufficiency", pct(num(summary, "self_sufficiency")), "1 − (grid import + unserved) / load".into()));
    h.push_str(&card("Self-consumption", pct(num(summary, "self_consumption")), "of the PV, used in the community".into()));
    h.push_str(&card("Traded between neighbours", fmt(num(summary, "p2p_kwh"), 0, " kWh"), format!("{} trades, mean price {}", summary["trades"], fmt(num(summary, "p2p_price_mean"), 3, ""))));
    h.push_str(&card("Community bill", fmt(bill, 2, ""), format!("grid only: {}", fmt(base, 2, ""))));
    let share = num(summary, "savings_pct_of_baseline_import_cost").map_or("no grid imports to compare with".into(), |v| format!("{v:.1}% of the grid-only import cost"));
    h.push_str(&card("Savings", fmt(num(summary, "savings"), 2, ""), share));
    h.push_str(&card("Unserved energy", fmt(num(summary, "unserved_kwh"), 1, " kWh"), format!("grid only: {}", fmt(num(summary, "baseline_unserved_kwh"), 1, " kWh"))));
    h.push_str(&card("Curtailed PV", fmt(num(summary, "curtailed_kwh"), 1, " kWh"), format!("losses {}", fmt(num(summary, "losses_kwh"), 1, " kWh"))));
    h.push_str(&card(
        "CO₂ avoided",
        fmt(num(summary, "co2_avoided_kg"), 0, " kg"),
        format!("{} more than grid only; peak import {}", fmt(num(summary, "co2_avoided_vs_baseline_kg"), 0, " kg"), fmt(num(summary, "peak_grid_import_kw"), 1, " kW")),
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
    let up = [
        Series { name: "own use of PV".into(), color: OWN_USE, values: daily("self_consumed_kwh") },
        Series { name: "bought from neighbours".into(), color: P2P, values: daily("p2p_kwh") },
        Series { name: "battery discharge".into(), color: BATTERY, values: daily("battery_discharge_kwh") },
        Series { name: "grid import".into(), color: GRID, values: daily("grid_import_kwh") },
    ];
    let down = [Series { name: "grid export".into(), color: EXPORT, values: daily("grid_export_kwh") }, Series { name: "battery charge".into(), color: RGBColor(188, 189, 220), values: daily("battery_charge_kwh") }];
    let labels: Vec<String> = days.iter().map(|d| d.get(5..).unwrap_or(d).to_string()).collect();
    let svg = charts::stacked_bars(&labels, &up, &down, "kWh per day")?;
    h.push_str("<h2>Energy</h2>");
    h.push_str(&figure("daily-energy", "Where the community's energy came from, day by day", &svg, &drawn(up.iter().chain(&down)), "Above zero: how the load was met. Below zero: surplus sent to the grid and into batteries."));

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
    h.push_str("<h2>Prices</h2>");
    if daily_price.iter().any(|p| p.is_finite()) {
        let price = [Series { name: "peer price, volume-weighted daily mean".into(), color: PRICE, values: daily_price }];
        let svg = charts::lines(&price, "day", "currency per kWh", &|i| labels.get(i).cloned().unwrap_or_default(), &[])?;
        h.push_str(&figure("p2p-price", "Peer-to-peer price over time", &svg, &drawn(&price), "Mean price of the energy traded between neighbours each day."));
    } else {
        h.push_str("<p class=\"note\">No energy was traded between neighbours (grid-only rule or no surplus).</p>");
    }

    // Who gains, who loses.
    let savings: Vec<f64> = hh.num("savings").into_iter().filter(|v| v.is_finite()).collect();
    let gainers = savings.iter().filter(|s| **s > 0.0).count();
    let losers = savings.iter().filter(|s| **s < 0.0).count();
    let svg = charts::histogram(&savings, SAVINGS_BINS, SAVE, LOSE, "saving against grid only (currency)")?;
    let present: Vec<(RGBColor, &str)> = [(SAVE, "save", gainers > 0 || savings.iter().any(|s| *s == 0.0)), (LOSE, "pay more", losers > 0)].iter().filter(|(_, _, p)| *p).map(|(c, n, _)| (*c, *n)).collect();
    h.push_str("<h2>Households</h2>");
    h.push_str(&figure("savings", "Distribution of household savings", &svg, &present, &format!("{gainers} households save, {losers} pay more than with the grid alone, {} unchanged.", savings.len() - gainers - losers)));

    // Batteries.
    if battery_kwh > 0.0 {
        let soc: Vec<f64> = ts.num("battery_soc_kwh").iter().map(|v| v / battery_kwh * 100.0).collect();
        let hours = step_minutes as f64 / 60.0;
        let soc = [Series { name: "stored energy, % of all batteries' capacity".into(), color: BATTERY, values: soc }];
        let svg = charts::lines(&soc, "day", "%", &|i| labels.get(day_of_step.get(i).copied().unwrap_or(0)).cloned().unwrap_or_default(), &[])?;
        h.push_str(&figure("battery-soc", "Battery state of charge", &svg, &drawn(&soc), &format!("Energy stored in the {with_battery} batteries ({battery_kwh:.1} kWh), {hours} h steps.")));
    }

    // Lines.
    if lines.rows > 0 {
        let loading = [Series { name: "most loaded line, % of its capacity".into(), color: LOADING, values: ts.num("max_line_loading").iter().map(|v| v * 100.0).collect() }];
        let svg = charts::lines(&loading, "day", "% of capacity", &|i| labels.get(day_of_step.get(i).copied().unwrap_or(0)).cloned().unwrap_or_default(), &[100.0])?;
        let caption = format!("Highest flow / capacity of any line at each step (grey: capacity); {} steps with a line limit binding.", summary["congested_steps"]);
        h.push_str("<h2>The grid</h2>");
        h.push_str(&figure("line-loading", "Line loading", &svg, &drawn(&loading), &caption));
    }

    // Map.
    // Columns parsed once (a district has 10,000 rows).
    let (export, sold, import, bought) = (hh.num("grid_export_kwh"), hh.num("p2p_sold_kwh"), hh.num("grid_import_kwh"), hh.num("p2p_bought_kwh"));
    let (nodes_of, ids) = (hh.text("node"), hh.text("household"));
    let houses: Vec<(String, String, f64)> = (0..hh.rows).map(|i| (nodes_of[i].clone(), ids[i].clone(), export[i] + sold[i] - import[i] - bought[i])).collect();
    let exporters = houses.iter().filter(|h| h.2 >= 0.0).count();
    let svg = map::svg(topology, &houses);
    let present: Vec<(RGBColor, &str)> = [(map::NET_EXPORTER, "net exporter", exporters > 0), (map::NET_IMPORTER, "net importer", exporters < houses.len())].iter().filter(|(_, _, p)| *p).map(|(c, n, _)| (*c, *n)).collect();
    h.push_str(&figure("map", "The grid, houses by net position over the run", &svg, &present, &format!(
            "Green: {exporters} houses sent more energy out than they took in; red: {} took more. Dark square: the grid connection.{}",
            houses.len() - exporters,
            if houses.len() > map::MAP_HOUSE_MARKS_MAX { " Each mark is a cell of neighbouring houses, coloured by their net position together (hover for the count)." } else { "" }
        )));

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

/// The compare report: for each headline KPI, a bar per rule (means over the seeds).
pub fn compare_html(scenario: &str, table: &crate::output::compare::Table) -> Result<String, String> {
    const SHOWN: [(&str, &str); 9] = [
        ("self_sufficiency", "Self-sufficiency"),
        ("savings", "Savings against grid only"),
        ("savings_pct_of_baseline_import_cost", "Savings, % of the grid-only import cost"),
        ("p2p_kwh", "Traded between neighbours, kWh"),
        ("p2p_price_mean", "Mean peer price"),
        ("gini_savings", "Inequality of savings (Gini)"),
        ("share_worse_off", "Share of households worse off"),
        ("unserved_kwh", "Unserved energy, kWh"),
        ("network_fees", "Network fees"),
    ];
    let rules: Vec<String> = table.iter().map(|(r, _, _)| r.to_string()).collect();
    let seeds = table.first().map_or(1, |t| t.1);
    let mut h = format!("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>peergrid compare: {}</title><style>{STYLE}</style></head><body>\n", escape(scenario));
    let _ = writeln!(h, "<h1>{}: trading rules compared</h1><p>The same weather, loads and grid for every rule; means over {seeds} seed(s).</p>", escape(scenario));
    let index: BTreeMap<&str, usize> = crate::output::compare::KPIS.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    for (key, title) in SHOWN {
        let values: Vec<f64> = table.iter().map(|(_, _, cols)| cols[index[key]].0.unwrap_or(f64::NAN)).collect();
        if !values.iter().any(|v| v.is_finite()) {
            continue; // e.g. no network fees in this scenario
        }
        let bars = [Series { name: title.into(), color: GRID, values }];
        let svg = charts::grouped_bars(&rules, &bars, title)?;
        h.push_str(&figure(key, title, &svg, &[(GRID, title)], ""));
    }
    h.push_str("<h2>All KPIs</h2><table><tr><th>KPI</th>");
    for r in &rules {
        let _ = write!(h, "<th>{}</th>", escape(r));
    }
    h.push_str("</tr>");
    for (i, k) in crate::output::compare::KPIS.iter().enumerate() {
        let _ = write!(h, "<tr><td>{k}</td>");
        for (_, _, cols) in table {
            let _ = write!(h, "<td>{}</td>", cols[i].0.map_or("–".into(), |v| format!("{v:.4}")));
        }
        h.push_str("</tr>");
    }
    h.push_str("</table></body></html>\n");
    Ok(h)
}
