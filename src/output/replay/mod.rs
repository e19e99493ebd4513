//! `replay.html`: a run animated in any browser, built from the run's own output folder (like
//! `report.html`). One self-contained page: the script, the style and the data are inline, nothing
//! is fetched, so it works from a file or a USB stick. The data are the household series
//! (`household_timeseries`), the step totals (`timeseries`), the households and the topology,
//! and the ledger's blocks; the page derives the line flows from the houses' net power.
//!
//! Each value is quantised to a byte relative to the largest of its house or line, and long runs
//! are thinned: consecutive steps are averaged into one frame so that the page stays under
//! [`MAX_PAGE_BYTES`] (a byte per frame for each house's net power and load, each PV house's
//! output, each battery's charge and each line's flow, in Base64), which keeps the village over a
//! month in full (3.2 MB) and thins the 10,000-house district's week to 75-minute frames.

use crate::base::table_rows::TableRows;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// The page's file name in the output folder (a contract).
pub const REPLAY_FILE: &str = "replay.html";
/// The page's size the thinning aims below, bytes.
pub const MAX_PAGE_BYTES: u64 = 9_600_000;
/// The size a page should stay under, bytes: past it (runs of some 40,000 houses and more,
/// whose houses and lines alone take that much) the commands warn.
pub const PAGE_SIZE_GOAL_BYTES: u64 = 10_000_000;

/// A warning when the page at `path` is over [`PAGE_SIZE_GOAL_BYTES`].
pub fn size_warning(path: &Path) -> Option<String> {
    let size = std::fs::metadata(path).ok()?.len();
    (size > PAGE_SIZE_GOAL_BYTES).then(|| format!("{} is {:.1} MB: the run's houses and lines alone take more than 10 MB, so a browser may be slow to open it", path.display(), size as f64 / 1e6))
}
/// About what a frame's step totals take in the page's JSON, bytes.
const SERIES_BYTES_PER_FRAME: u64 = 240;
const PAGE_HTML: &str = include_str!("page.html");
const PAGE_JS: &str = include_str!("replay.js");
const PAGE_CSS: &str = include_str!("replay.css");

/// What the page shows of a household (static over the run).
#[derive(Serialize)]
struct House {
    id: String,
    /// Index into `nodes`, or none when the topology does not hold its node.
    node: Option<usize>,
    kwp: f64,
    battery_kwh: f64,
    ev: bool,
    heat_pump: bool,
    /// Index into `communities` of its community at the end of the run.
    community: Option<usize>,
    bill: Option<f64>,
    savings: Option<f64>,
    /// The scales of its quantised series: the largest value over the frames, kW (kWh for the
    /// state of charge).
    pv_max_kw: f32,
    load_max_kw: f32,
    net_max_kw: f32,
    soc_max_kwh: f32,
    /// PV by kWp, or possibly in a measured profile: its PV is carried.
    #[serde(skip)]
    may_have_pv: bool,
}

#[derive(Serialize)]
struct NodeOut {
    x: f64,
    y: f64,
}

#[derive(Serialize)]
struct LineOut {
    #[serde(skip)]
    id: String,
    from: usize,
    to: usize,
    capacity_kw: Option<f64>,
    /// The scale of its quantised flow: the largest magnitude over the frames, kW.
    flow_max_kw: f32,
}

/// The step totals by frame (averages over the frame's steps; power in kW).
#[derive(Serialize, Default)]
struct Series {
    time: Vec<String>,
    pv_kw: Vec<f32>,
    load_kw: Vec<f32>,
    p2p_kw: Vec<f32>,
    import_kw: Vec<f32>,
    export_kw: Vec<f32>,
    unserved_kw: Vec<f32>,
    clearing_price: Vec<Option<f32>>,
    buy_price: Vec<Option<f32>>,
    sell_price: Vec<Option<f32>>,
    trades: Vec<u32>,
    ghi_w_m2: Vec<f32>,
    sun_zenith_deg: Vec<Option<f32>>,
    sun_azimuth_deg: Vec<Option<f32>>,
}

/// Blocks sealed in a frame.
#[derive(Serialize)]
struct FrameBlocks {
    frame: usize,
    count: u32,
    transactions: u64,
    /// The last block of the frame: its height and producer.
    height: u64,
    producer: String,
}

#[derive(Serialize)]
struct Data {
    scenario: String,
    rule: String,
    /// The rules the market switched to (`SwitchRule` events), from summary.json.
    rule_switches: serde_json::Value,
    /// The clouds over houses (summary.json's `clouds`), in frames.
    clouds: Vec<CloudOut>,
    seed: u64,
    currency: String,
    grid_connected: bool,
    step_minutes: f64,
    steps: u64,
    /// Steps averaged into one frame.
    frame_steps: u64,
    frames: usize,
    root: Option<usize>,
    /// Nodes, lines and houses as columns (an array per field): 10,000 houses' field names
    /// would cost a megabyte.
    nodes: serde_json::Value,
    lines: serde_json::Value,
    communities: Vec<String>,
    houses: serde_json::Value,
    series: Series,
    blocks: Vec<FrameBlocks>,
    /// Base64 of frame-major bytes (frame × houses + house): load and state of charge as 0–255
    /// of the house's largest, net power as −127–127 (signed) of its largest magnitude, drawn
    /// positive. PV covers the houses of `pv_houses` only (frame × their count + position),
    /// the state of charge those of `battery_houses`.
    pv: String,
    pv_houses: Vec<u32>,
    battery_houses: Vec<u32>,
    load: String,
    net: String,
    soc: String,
    /// Base64 of frame-major bytes (frame × lines + line): each line's flow as −127–127 of its
    /// largest magnitude, positive from `from` to `to` (`line_timeseries`); none without it.
    flow: Option<String>,
    /// The houses with a car and with a heat pump, and base64 of frame-major bytes (frame ×
    /// their count + position): each one's [`VehicleState`] or [`HeatState`] at the frame's last
    /// step; none when the series has no such columns (a run without the devices).
    ev_houses: Vec<u32>,
    ev_state: Option<String>,
    heat_houses: Vec<u32>,
    heat_state: Option<String>,
}

/// A cloud as the page draws it: over the houses `houses` (indices) from frame `from` to `to`
/// (inclusive), letting `transmittance` of the sun through.
#[derive(Serialize)]
struct CloudOut {
    from: u64,
    to: u64,
    transmittance: f64,
    houses: Vec<u32>,
}

/// A car at a frame, as the page draws it (the live map's colours).
#[derive(Clone, Copy)]
#[repr(u8)]
enum VehicleState {
    Away = 0,
    Plugged = 1,
    Charging = 2,
    Supplying = 3,
}

/// A heat pump at a frame.
#[derive(Clone, Copy)]
#[repr(u8)]
enum HeatState {
    Idle = 0,
    Heating = 1,
    Cooling = 2,
}

/// Below this a device's energy in a step counts as none, kWh (the series' single precision).
const DEVICE_IDLE_KWH: f64 = 1e-6;

#[derive(Deserialize)]
struct Topology {
    root: String,
    nodes: Vec<TopoNode>,
    lines: Vec<TopoLine>,
}

#[derive(Deserialize)]
struct TopoNode {
    id: String,
    x_m: f64,
    y_m: f64,
}

#[derive(Deserialize)]
struct TopoLine {
    id: String,
    from: String,
    to: String,
    #[serde(default)]
    capacity_kw: Option<f64>,
}

/// A block's header fields the page shows (`ledger.jsonl`).
#[derive(Deserialize)]
struct BlockHeader {
    height: u64,
    producer: String,
    step: u64,
    tx_count: u64,
}

/// A table with a row per step and `per_step` item holds every row: a truncated file (or a
/// `steps` in summary.json that is not the run's) is an error naming it.
fn complete(path: &Path, rows: u64, steps: u64, per_step: u64, items: &str) -> Result<(), String> {
    let want = steps as u128 * per_step as u128;
    if rows as u128 != want {
        return Err(format!("{}: {rows} rows, where summary.json's {steps} steps × {per_step} {items} make {want}: the file is incomplete, or not of this run", path.display()));
    }
    Ok(())
}

/// Rows as columns: `{"field": [value of row 0, …], …}`.
fn columns<T: Serialize>(rows: &[T]) -> serde_json::Value {
    let mut out = serde_json::Map::new();
    for (i, row) in rows.iter().enumerate() {
        let serde_json::Value::Object(fields) = serde_json::to_value(row).unwrap_or_default() else { continue };
        for (k, v) in fields {
            let column = out.entry(k).or_insert_with(|| serde_json::Value::Array(vec![serde_json::Value::Null; i]));
            if let serde_json::Value::Array(a) = column {
                a.push(v);
            }
        }
    }
    serde_json::Value::Object(out)
}

/// `v` to four significant digits (a scale a byte multiplies: more would be noise).
fn significant(v: f32) -> f32 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f32.powi(3 - v.abs().log10().floor() as i32);
    // Rounded up: the scale must not fall below the largest value it scales.
    (v * scale).ceil() / scale
}

/// The table `name` in `dir`, as CSV or Parquet (whichever the run wrote).
fn table(dir: &Path, name: &str) -> Option<PathBuf> {
    ["csv", "parquet"].into_iter().map(|ext| dir.join(format!("{name}.{ext}"))).find(|p| p.is_file())
}

/// Opens a table and maps its header to column positions; names the file on error.
fn open(path: &Path) -> Result<(TableRows, HashMap<String, usize>), String> {
    let rows = TableRows::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let columns = rows.header.iter().enumerate().map(|(i, h)| (h.clone(), i)).collect();
    Ok((rows, columns))
}

/// summary.json's clouds in frames, over the houses the run lists (folders written before the
/// field have none; a cloud of no known house is left out).
fn clouds(summary: &serde_json::Value, house_index: &HashMap<&str, usize>, frame_steps: u64) -> Vec<CloudOut> {
    let Some(list) = summary.get("clouds").and_then(|c| c.as_array()) else { return Vec::new() };
    list.iter()
        .filter_map(|c| {
            let (step, steps) = (c.get("step")?.as_u64()?, c.get("steps")?.as_u64()?.max(1));
            let houses: Vec<u32> = c.get("households")?.as_array()?.iter().filter_map(|h| house_index.get(h.as_str()?).map(|&i| i as u32)).collect();
            let last = step.saturating_add(steps - 1);
            (!houses.is_empty()).then(|| CloudOut { from: step / frame_steps, to: last / frame_steps, transmittance: c.get("transmittance").and_then(|t| t.as_f64()).unwrap_or(0.0), houses })
        })
        .collect()
}

fn column(columns: &HashMap<String, usize>, path: &Path, name: &str) -> Result<usize, String> {
    columns.get(name).copied().ok_or_else(|| format!("{}: no column `{name}`", path.display()))
}

fn parse_f64(cell: &str) -> Option<f64> {
    cell.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Writes `dir/replay.html` from the run's files in `dir` and returns its path. The error names
/// the file that is missing or unreadable.
pub fn write_replay(dir: &Path) -> Result<PathBuf, String> {
    let html = build(dir)?;
    let path = dir.join(REPLAY_FILE);
    // Written beside and renamed: never a half-written page under the contract's name.
    let partial = dir.join(format!(".{REPLAY_FILE}.partial"));
    std::fs::write(&partial, html).map_err(|e| format!("writing {}: {e}", partial.display()))?;
    std::fs::rename(&partial, &path).map_err(|e| {
        let _ = std::fs::remove_file(&partial);
        format!("writing {}: {e}", path.display())
    })?;
    Ok(path)
}

/// The page, built from the files in `dir`.
pub fn build(dir: &Path) -> Result<String, String> {
    if !dir.is_dir() {
        return Err(format!("{}: not a folder (give a `peergrid run` output folder)", dir.display()));
    }
    let summary_path = dir.join("summary.json");
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary_path).map_err(|e| format!("{}: {e} (give a `peergrid run` output folder)", summary_path.display()))?)
        .map_err(|e| format!("{}: {e}", summary_path.display()))?;
    let text = |k: &str| summary.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let steps = summary.get("steps").and_then(|v| v.as_u64()).ok_or_else(|| format!("{}: no `steps`", summary_path.display()))?;
    let step_minutes = summary.get("step_minutes").and_then(|v| v.as_f64()).filter(|m| *m > 0.0).ok_or_else(|| format!("{}: no `step_minutes`", summary_path.display()))?;
    let step_h = step_minutes / 60.0;

    let Some(series_path) = table(dir, "household_timeseries") else {
        return Err(format!(
            "{}: no household_timeseries.csv or .parquet: the replay animates each house, so run with `--replay` (or `--household-series`, then `peergrid replay {}`)",
            dir.display(),
            dir.display()
        ));
    };
    let topology_path = dir.join("topology.json");
    let topology: Topology = serde_json::from_slice(&std::fs::read(&topology_path).map_err(|e| format!("{}: {e}", topology_path.display()))?).map_err(|e| format!("{}: {e}", topology_path.display()))?;
    let node_index: HashMap<&str, usize> = topology.nodes.iter().enumerate().map(|(i, n)| (n.id.as_str(), i)).collect();
    let mut lines = Vec::with_capacity(topology.lines.len());
    for l in &topology.lines {
        let (Some(&from), Some(&to)) = (node_index.get(l.from.as_str()), node_index.get(l.to.as_str())) else {
            return Err(format!("{}: line {} joins a node it does not list", topology_path.display(), l.id));
        };
        lines.push(LineOut { id: l.id.clone(), from, to, capacity_kw: l.capacity_kw.filter(|c| c.is_finite() && *c > 0.0), flow_max_kw: 0.0 });
    }
    let root = node_index.get(topology.root.as_str()).copied();

    let (mut houses, communities) = read_households(dir, &node_index)?;
    let n = houses.len();
    if n == 0 {
        return Err(format!("{}: no households", dir.display()));
    }
    let line_series = table(dir, "line_timeseries");
    let pv_houses: Vec<u32> = (0..n as u32).filter(|&h| houses[h as usize].may_have_pv).collect();
    let battery_houses: Vec<u32> = (0..n as u32).filter(|&h| houses[h as usize].battery_kwh > 0.0).collect();
    let ev_houses: Vec<u32> = (0..n as u32).filter(|&h| houses[h as usize].ev).collect();
    let heat_houses: Vec<u32> = (0..n as u32).filter(|&h| houses[h as usize].heat_pump).collect();
    let per_frame = 2 * n + pv_houses.len() + battery_houses.len() + ev_houses.len() + heat_houses.len() + if line_series.is_some() { lines.len() } else { 0 };
    let bytes_per_frame = per_frame as u64 * 4 / 3 + SERIES_BYTES_PER_FRAME;
    // The maxima are not known yet: a margin for their digits.
    let fixed_bytes = [columns(&houses).to_string().len() + 32 * n, columns(&lines).to_string().len() + 8 * lines.len(), topology.nodes.len() * 16, PAGE_HTML.len() + PAGE_JS.len() + PAGE_CSS.len()].iter().sum::<usize>() as u64;
    let room = MAX_PAGE_BYTES.saturating_sub(fixed_bytes).max(MAX_PAGE_BYTES / 10);
    // In u128: a corrupt `steps` must not wrap into a small number of frames.
    let frame_steps = ((bytes_per_frame as u128 * steps as u128).div_ceil(room as u128)).clamp(1, steps.max(1) as u128) as u64;
    let frames = steps.div_ceil(frame_steps).max(1) as usize;
    let house_index: HashMap<&str, usize> = houses.iter().enumerate().map(|(i, h)| (h.id.as_str(), i)).collect();

    // Sums over each frame's steps, frame-major.
    let cells = frames * n;
    let (mut pv, mut load, mut net, mut soc) = (vec![0f32; cells], vec![0f32; cells], vec![0f32; cells], vec![f32::NAN; cells]);
    let (mut ev_state, mut heat_state) = (vec![VehicleState::Away as u8; cells], vec![HeatState::Idle as u8; cells]);
    let (has_ev_columns, has_heat_columns);
    {
        let (rows, cols) = open(&series_path)?;
        let c = |name| column(&cols, &series_path, name);
        let (c_house, c_step, c_pv, c_load, c_net, c_soc) = (c("household")?, c("step")?, c("pv_kwh")?, c("load_kwh")?, c("net_kwh")?, c("battery_soc_kwh")?);
        // Added in runs with the devices (`recorder::VEHICLE_SERIES_COLUMNS`, `HEAT_PUMP_…`).
        let ev_columns = (|| Some((cols.get("ev_plugged").copied()?, cols.get("ev_charge_kwh").copied()?, cols.get("ev_discharge_kwh").copied()?)))();
        let heat_columns = (|| Some((cols.get("heat_pump_kwh").copied()?, cols.get("heat_pump_cooling").copied()?)))();
        (has_ev_columns, has_heat_columns) = (ev_columns.is_some(), heat_columns.is_some());
        let keys = Keys { column: c_house, index: &house_index, items: "households", unknown: "a household households.csv does not list" };
        each_keyed_row(&series_path, rows, &keys, c_step, steps, |h, step, rec| {
            let i = (step / frame_steps) as usize * n + h;
            let num = |col: usize| rec.get(col).and_then(parse_f64);
            pv[i] += (num(c_pv).unwrap_or(0.0) / step_h) as f32;
            load[i] += (num(c_load).unwrap_or(0.0) / step_h) as f32;
            net[i] += (num(c_net).unwrap_or(0.0) / step_h) as f32;
            if let Some(s) = num(c_soc) {
                soc[i] = s as f32;
            }
            // The frame shows its last step's state.
            if let Some((plugged, charge, discharge)) = ev_columns
                && let Some(plugged) = num(plugged)
            {
                ev_state[i] = (if plugged < 0.5 {
                    VehicleState::Away
                } else if num(charge).unwrap_or(0.0) > DEVICE_IDLE_KWH {
                    VehicleState::Charging
                } else if num(discharge).unwrap_or(0.0) > DEVICE_IDLE_KWH {
                    VehicleState::Supplying
                } else {
                    VehicleState::Plugged
                }) as u8;
            }
            if let Some((kwh, cooling)) = heat_columns
                && let Some(kwh) = num(kwh)
            {
                heat_state[i] = (if kwh <= DEVICE_IDLE_KWH {
                    HeatState::Idle
                } else if num(cooling).unwrap_or(0.0) > 0.5 {
                    HeatState::Cooling
                } else {
                    HeatState::Heating
                }) as u8;
            }
        })?;
    }
    let cloud_frames = clouds(&summary, &house_index, frame_steps);
    // Every step has its rows (`each_keyed_row` counted them): a frame holds `frame_steps`
    // steps, the last what is left.
    for f in 0..frames {
        let k = frame_steps.min(steps - f as u64 * frame_steps).max(1) as f32;
        for series in [&mut pv, &mut load, &mut net] {
            series[f * n..(f + 1) * n].iter_mut().for_each(|v| *v /= k);
        }
    }
    let quantise = |values: &[f32], scale: &[f32], signed: bool| -> String {
        let n = scale.len().max(1);
        let bytes: Vec<u8> = values
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let s = scale[i % n];
                let q = if s > 0.0 && v.is_finite() { v / s } else { 0.0 };
                if signed { ((q.clamp(-1.0, 1.0) * 127.0).round() as i8) as u8 } else { (q.clamp(0.0, 1.0) * 255.0).round() as u8 }
            })
            .collect();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    };
    let max_by_house = |values: &[f32], abs: bool| -> Vec<f32> {
        let n = houses.len();
        let mut m = vec![0f32; n];
        for (i, v) in values.iter().enumerate() {
            if v.is_finite() {
                let v = if abs { v.abs() } else { *v };
                m[i % n] = m[i % n].max(v);
            }
        }
        m
    };
    let (pv_max, load_max, net_max, soc_seen) = (max_by_house(&pv, false), max_by_house(&load, false), max_by_house(&net, true), max_by_house(&soc, false));
    for (i, h) in houses.iter_mut().enumerate() {
        h.pv_max_kw = significant(pv_max[i]);
        h.load_max_kw = significant(load_max[i]);
        h.net_max_kw = significant(net_max[i]);
        h.soc_max_kwh = if h.battery_kwh > 0.0 { (h.battery_kwh as f32).max(soc_seen[i]) } else { soc_seen[i] };
    }
    let soc_scale: Vec<f32> = houses.iter().map(|h| h.soc_max_kwh).collect();
    // The PV and battery channels carry their houses only.
    let states = |all: &[u8], keep: &[u32]| -> String {
        let kept: Vec<u8> = (0..frames).flat_map(|f| keep.iter().map(move |&h| all[f * n + h as usize])).collect();
        base64::engine::general_purpose::STANDARD.encode(kept)
    };
    let subset = |values: &[f32], scale: &[f32], keep: &[u32]| -> (Vec<f32>, Vec<f32>) {
        let kept: Vec<f32> = (0..frames).flat_map(|f| keep.iter().map(move |&h| values[f * n + h as usize])).collect();
        (kept, keep.iter().map(|&h| scale[h as usize]).collect())
    };
    let (pv_kept, pv_scale) = subset(&pv, &pv_max, &pv_houses);
    let (soc_kept, soc_scale) = subset(&soc, &soc_scale, &battery_houses);

    let flow = match &line_series {
        Some(path) => {
            let flows = read_line_flows(path, &lines, steps, frame_steps, frames)?;
            let l = lines.len().max(1);
            let mut max = vec![0f32; lines.len()];
            for (i, v) in flows.iter().enumerate() {
                max[i % l] = max[i % l].max(v.abs());
            }
            for (line, m) in lines.iter_mut().zip(max.iter_mut()) {
                *m = significant(*m);
                line.flow_max_kw = *m;
            }
            (!lines.is_empty()).then(|| quantise(&flows, &max, true))
        }
        None => None,
    };
    let series = read_series(dir, steps, frame_steps, frames, step_h)?;
    let blocks = read_blocks(dir, frame_steps, frames)?;
    let data = Data {
        scenario: text("scenario"),
        rule: text("rule"),
        rule_switches: summary.get("rule_switches").cloned().unwrap_or(serde_json::Value::Array(Vec::new())),
        clouds: cloud_frames,
        seed: summary.get("seed").and_then(|v| v.as_u64()).unwrap_or(0),
        currency: text("currency"),
        grid_connected: summary.get("grid_connected").and_then(|v| v.as_bool()).unwrap_or(true),
        step_minutes,
        steps,
        frame_steps,
        frames,
        root,
        // To the decimetre: a schematic needs no more, and 10,000 nodes' digits add up.
        nodes: columns(&topology.nodes.iter().map(|t| NodeOut { x: (t.x_m * 10.0).round() / 10.0, y: (t.y_m * 10.0).round() / 10.0 }).collect::<Vec<_>>()),
        lines: columns(&lines),
        communities,
        pv: quantise(&pv_kept, &pv_scale, false),
        pv_houses,
        battery_houses,
        load: quantise(&load, &load_max, false),
        net: quantise(&net, &net_max, true),
        soc: quantise(&soc_kept, &soc_scale, false),
        flow,
        ev_state: has_ev_columns.then(|| states(&ev_state, &ev_houses)),
        ev_houses,
        heat_state: has_heat_columns.then(|| states(&heat_state, &heat_houses)),
        heat_houses,
        houses: columns(&houses),
        series,
        blocks,
    };
    let json = serde_json::to_string(&data).map_err(|e| e.to_string())?;
    // Inside <script>: no `<` at all, so neither `</script>` nor `<!--` can end or change it
    // (names are the user's text); JSON reads `\u003c` back as `<`.
    let json = json.replace('<', "\\u003c");
    let title = crate::output::report::escape(&format!("{} — peergrid replay", data.scenario));
    Ok(PAGE_HTML.replacen("{{title}}", &title, 1).replacen("{{css}}", PAGE_CSS, 1).replacen("{{data}}", &json, 1).replacen("{{js}}", PAGE_JS, 1))
}

/// `line_timeseries` averaged by frame, frame-major (frame × lines + line), kW.
fn read_line_flows(path: &Path, lines: &[LineOut], steps: u64, frame_steps: u64, frames: usize) -> Result<Vec<f32>, String> {
    let n = lines.len();
    let index: HashMap<&str, usize> = lines.iter().enumerate().map(|(i, l)| (l.id.as_str(), i)).collect();
    let (rows, cols) = open(path)?;
    let c = |name| column(&cols, path, name);
    let (c_line, c_step, c_flow) = (c("line")?, c("step")?, c("flow_kw")?);
    let mut sums = vec![0f32; frames * n];
    let mut counts = vec![0u32; frames * n];
    let keys = Keys { column: c_line, index: &index, items: "lines", unknown: "a line topology.json does not list" };
    each_keyed_row(path, rows, &keys, c_step, steps, |l, step, rec| {
        let i = (step / frame_steps) as usize * n + l;
        sums[i] += rec.get(c_flow).and_then(parse_f64).unwrap_or(0.0) as f32;
        counts[i] += 1;
    })?;
    Ok(sums.iter().zip(&counts).map(|(s, k)| s / (*k).max(1) as f32).collect())
}

/// The key column of a series with a row per item and step: its items by id.
struct Keys<'a> {
    column: usize,
    index: &'a HashMap<&'a str, usize>,
    /// What the items are ("households"), and the error for an id not among them.
    items: &'static str,
    unknown: &'static str,
}

/// Calls `row(item, step, record)` for each row of a series, after checking its key and its
/// step (one of the run's `steps`), then checks the file has a row per item and step. Errors
/// name the file and the row.
fn each_keyed_row(path: &Path, rows: TableRows, keys: &Keys, c_step: usize, steps: u64, mut row: impl FnMut(usize, u64, &csv::StringRecord)) -> Result<(), String> {
    let mut count = 0u64;
    for (i, rec) in rows.enumerate() {
        count += 1;
        let rec = rec.map_err(|e| format!("{}: row {}: {e}", path.display(), i + 2))?;
        let bad = |what: &str| format!("{}: row {}: {what}", path.display(), i + 2);
        let item = *keys.index.get(rec.get(keys.column).unwrap_or("")).ok_or_else(|| bad(keys.unknown))?;
        let step: u64 = rec.get(c_step).and_then(|s| s.parse().ok()).filter(|s| *s < steps).ok_or_else(|| bad("`step` is not a step of the run"))?;
        row(item, step, &rec);
    }
    complete(path, count, steps, keys.index.len() as u64, keys.items)
}

/// `households.csv` (or `.parquet`): the houses in the run's order, and the communities they end
/// in.
fn read_households(dir: &Path, node_index: &HashMap<&str, usize>) -> Result<(Vec<House>, Vec<String>), String> {
    let path = table(dir, "households").ok_or_else(|| format!("{}: no households.csv", dir.display()))?;
    let (rows, cols) = open(&path)?;
    let get = |rec: &csv::StringRecord, name: &str| cols.get(name).and_then(|&i| rec.get(i)).unwrap_or("").to_string();
    let num = |rec: &csv::StringRecord, name: &str| parse_f64(&get(rec, name));
    column(&cols, &path, "household")?;
    let mut houses = Vec::new();
    let mut communities: Vec<String> = Vec::new();
    for (row, rec) in rows.enumerate() {
        let rec = rec.map_err(|e| format!("{}: row {}: {e}", path.display(), row + 2))?;
        let member_of = get(&rec, "member_of");
        let community = (!member_of.is_empty()).then(|| match communities.iter().position(|c| *c == member_of) {
            Some(i) => i,
            None => {
                communities.push(member_of.clone());
                communities.len() - 1
            }
        });
        houses.push(House {
            id: get(&rec, "household"),
            node: node_index.get(get(&rec, "node").as_str()).copied(),
            kwp: (num(&rec, "kwp").unwrap_or(0.0) * 100.0).round() / 100.0,
            battery_kwh: (num(&rec, "battery_kwh").unwrap_or(0.0) * 100.0).round() / 100.0,
            may_have_pv: num(&rec, "kwp").is_some_and(|k| k > 0.0) || matches!(get(&rec, "load_source").as_str(), "ausgrid" | "profile"),
            ev: num(&rec, "ev_soc_start_kwh").is_some(),
            heat_pump: num(&rec, "heat_pump_kwh").is_some_and(|k| k > 0.0),
            community,
            bill: num(&rec, "bill").map(|b| (b * 100.0).round() / 100.0),
            savings: num(&rec, "savings").map(|b| (b * 100.0).round() / 100.0),
            pv_max_kw: 0.0,
            load_max_kw: 0.0,
            net_max_kw: 0.0,
            soc_max_kwh: 0.0,
        });
    }
    Ok((houses, communities))
}

/// `timeseries.csv` (or `.parquet`) averaged by frame.
fn read_series(dir: &Path, steps: u64, frame_steps: u64, frames: usize, step_h: f64) -> Result<Series, String> {
    let path = table(dir, "timeseries").ok_or_else(|| format!("{}: no timeseries.csv", dir.display()))?;
    let (rows, cols) = open(&path)?;
    let at = |name: &str| cols.get(name).copied();
    let mut s = Series::default();
    // Sums, and counts of the steps with a value (prices are empty in steps without trades).
    let energy = ["pv_kwh", "load_kwh", "p2p_kwh", "grid_import_kwh", "grid_export_kwh", "unserved_kwh"];
    let averaged = ["clearing_price", "buy_price", "sell_price", "ghi_w_m2", "sun_zenith_deg", "sun_azimuth_deg"];
    let mut sums = vec![[0f64; 6]; frames];
    let mut avg = vec![[(0f64, 0u32); 6]; frames];
    let mut trades = vec![0u32; frames];
    let mut time = vec![String::new(); frames];
    let mut counted = vec![0u32; frames];
    let c_step = column(&cols, &path, "step")?;
    for (row, rec) in rows.enumerate() {
        let rec = rec.map_err(|e| format!("{}: row {}: {e}", path.display(), row + 2))?;
        let Some(step) = rec.get(c_step).and_then(|s| s.parse::<u64>().ok()).filter(|s| *s < steps) else {
            return Err(format!("{}: row {}: `step` is not a step of the run", path.display(), row + 2));
        };
        let f = (step / frame_steps) as usize;
        if counted[f] == 0 {
            time[f] = at("time").and_then(|i| rec.get(i)).unwrap_or("").to_string();
        }
        counted[f] += 1;
        for (k, name) in energy.iter().enumerate() {
            sums[f][k] += at(name).and_then(|i| rec.get(i)).and_then(parse_f64).unwrap_or(0.0);
        }
        for (k, name) in averaged.iter().enumerate() {
            if let Some(v) = at(name).and_then(|i| rec.get(i)).and_then(parse_f64) {
                avg[f][k].0 += v;
                avg[f][k].1 += 1;
            }
        }
        trades[f] += at("trades").and_then(|i| rec.get(i)).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    }
    complete(&path, counted.iter().map(|&c| c as u64).sum(), steps, 1, "step")?;
    for f in 0..frames {
        let hours = counted[f].max(1) as f64 * step_h;
        let kw = |k: usize| (sums[f][k] / hours) as f32;
        let mean = |k: usize| (avg[f][k].1 > 0).then(|| (avg[f][k].0 / avg[f][k].1 as f64) as f32);
        s.pv_kw.push(kw(0));
        s.load_kw.push(kw(1));
        s.p2p_kw.push(kw(2));
        s.import_kw.push(kw(3));
        s.export_kw.push(kw(4));
        s.unserved_kw.push(kw(5));
        s.clearing_price.push(mean(0));
        s.buy_price.push(mean(1));
        s.sell_price.push(mean(2));
        s.ghi_w_m2.push(mean(3).unwrap_or(0.0));
        s.sun_zenith_deg.push(mean(4));
        s.sun_azimuth_deg.push(mean(5));
    }
    s.trades = trades;
    s.time = time;
    Ok(s)
}

/// The blocks of `ledger.jsonl` by frame (none without it: a run with its ledger off or
/// aggregate output).
fn read_blocks(dir: &Path, frame_steps: u64, frames: usize) -> Result<Vec<FrameBlocks>, String> {
    let path = dir.join("ledger.jsonl");
    let Ok(file) = std::fs::File::open(&path) else { return Ok(Vec::new()) };
    let mut out: Vec<FrameBlocks> = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let b: BlockHeader = serde_json::from_str(&line).map_err(|e| format!("{}: line {}: {e}", path.display(), i + 1))?;
        if b.producer == "genesis" {
            continue;
        }
        let frame = ((b.step / frame_steps) as usize).min(frames - 1);
        match out.last_mut() {
            Some(last) if last.frame == frame => {
                last.count += 1;
                last.transactions += b.tx_count;
                last.height = b.height;
                last.producer = b.producer;
            }
            _ => out.push(FrameBlocks { frame, count: 1, transactions: b.tx_count, height: b.height, producer: b.producer }),
        }
    }
    Ok(out)
}
