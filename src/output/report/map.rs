//! The grid as an SVG map: houses coloured on a diverging scale by their net energy over the
//! run (sent out − taken in), lines drawn by their peak loading, houses that went short ringed.
//! A schematic: it fills the frame, stretching a thin feeder across its narrow side.

use super::charts::hex;
use crate::output::format;
use plotters::style::RGBColor;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;

const MAP_WIDTH_PX: f64 = 860.0;
const MAP_HEIGHT_MAX_PX: f64 = 520.0;
/// A thin feeder is stretched across to at least this height (a schematic, not to scale).
const MAP_HEIGHT_MIN_PX: f64 = 220.0;
/// Most a thin feeder is stretched across, relative to along.
const MAX_STRETCH: f64 = 12.0;
const MARGIN_PX: f64 = 14.0;
const LEGEND_PX: f64 = 46.0;
/// Up to this many houses the map draws one mark per house; beyond, one mark per cell of
/// `MAP_CELL_PX` with the counts of its houses.
pub const MAP_HOUSE_MARKS_MAX: usize = 20_000;
/// Up to this many houses each mark carries its id and figure as a tooltip (page size).
const MAP_TOOLTIPS_MAX: usize = 5_000;
const MAP_CELL_PX: f64 = 7.0;
/// Unserved energy above this marks a house as having gone short, kWh.
const SHORT_KWH: f64 = 0.01;
/// ColorBrewer's PuOr, 7 classes (colour-blind safe): importers orange, exporters purple.
pub const NET_CLASSES: [RGBColor; 7] = [
    RGBColor(179, 88, 6),
    RGBColor(241, 163, 64),
    RGBColor(254, 224, 182),
    RGBColor(247, 247, 247),
    RGBColor(216, 218, 235),
    RGBColor(153, 142, 195),
    RGBColor(84, 39, 136),
];
pub const SHORT_RING: RGBColor = RGBColor(0, 0, 0);
/// Line loading classes: upper bound (share of capacity), colour, width.
const LINE_CLASSES: [(f64, RGBColor, f64, &str); 4] = [
    (0.5, RGBColor(200, 200, 200), 1.0, "lines below 50% of capacity at peak"),
    (0.8, RGBColor(110, 110, 110), 1.8, "50–80%"),
    (1.0, RGBColor(230, 159, 0), 2.6, "80–100%"),
    (f64::INFINITY, RGBColor(213, 94, 0), 3.4, "at or over capacity"),
];
const ROOT_COLOR: &str = "#000000";

/// What the map reads of `topology.json`.
#[derive(Deserialize)]
pub struct Topology {
    pub root: String,
    pub nodes: Vec<Node>,
    pub lines: Vec<Line>,
}

/// A node of `topology.json`.
#[derive(Deserialize)]
pub struct Node {
    pub id: String,
    pub x_m: f64,
    pub y_m: f64,
}

/// A line of `topology.json`, by its end nodes' ids.
#[derive(Deserialize)]
pub struct Line {
    #[serde(default)]
    pub id: String,
    pub from: String,
    pub to: String,
}

/// A house on the map.
pub struct House {
    pub node: String,
    pub id: String,
    /// Sent out − taken in over the run (grid and peers), kWh.
    pub net_kwh: f64,
    pub unserved_kwh: f64,
}

/// The drawn map and the legend entries of what it shows.
pub struct Map {
    pub svg: String,
    pub legend: Vec<(RGBColor, String)>,
    /// Class bounds of the colour scale, kWh (the scale is symmetric about zero).
    pub scale_kwh: f64,
    pub cells: Option<usize>,
    /// The grid was stretched across to fill the frame (not to scale).
    pub stretched: bool,
}

/// Edges of the 7 classes as shares of the scale's limit (round numbers on a round limit; the
/// outer classes hold everything beyond ±0.6).
const CLASS_EDGES: [f64; 8] = [-1.0, -0.6, -0.3, -0.1, 0.1, 0.3, 0.6, 1.0];

/// The class of a net position on a scale of ±`limit` kWh.
fn class(net_kwh: f64, limit: f64) -> usize {
    let x = net_kwh / limit;
    CLASS_EDGES[1..7].iter().take_while(|e| x >= **e).count()
}

/// Where the map puts the grid: its pixel scale, fitted to the frame.
struct Frame<'a> {
    at: HashMap<&'a str, (f64, f64)>,
    x0: f64,
    y1: f64,
    left: f64,
    sx: f64,
    sy: f64,
    /// Height of the grid's part of the picture (the legend goes below), px.
    height: f64,
    stretched: bool,
}

impl<'a> Frame<'a> {
    /// Fits the width; a tall grid fits the height instead; a thin one is stretched across.
    fn fit(topology: &'a Topology) -> Frame<'a> {
        let nodes = &topology.nodes;
        let at: HashMap<&str, (f64, f64)> = nodes.iter().map(|n| (n.id.as_str(), (n.x_m, n.y_m))).collect();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
        for n in nodes {
            (x0, x1, y0, y1) = (x0.min(n.x_m), x1.max(n.x_m), y0.min(n.y_m), y1.max(n.y_m));
        }
        if !x0.is_finite() {
            (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
        }
        let (dx, dy) = ((x1 - x0).max(1e-9), (y1 - y0).max(1e-9));
        let inner_w = MAP_WIDTH_PX - 2.0 * MARGIN_PX;
        let mut sx = inner_w / dx;
        let mut sy = sx;
        if dy * sy > MAP_HEIGHT_MAX_PX - 2.0 * MARGIN_PX {
            sy = (MAP_HEIGHT_MAX_PX - 2.0 * MARGIN_PX) / dy;
            sx = sy;
        } else if dy * sy < MAP_HEIGHT_MIN_PX - 2.0 * MARGIN_PX {
            sy = ((MAP_HEIGHT_MIN_PX - 2.0 * MARGIN_PX) / dy).min(sx * MAX_STRETCH);
        }
        let height = dy * sy + 2.0 * MARGIN_PX;
        let stretched = sy > sx * (1.0 + 1e-9);
        let left = (MAP_WIDTH_PX - dx * sx) / 2.0;
        Frame { at, x0, y1, left, sx, sy, height, stretched }
    }

    /// A node's place on the picture, px (`None` for an id not in the topology).
    fn px(&self, id: &str) -> Option<(f64, f64)> {
        self.at.get(id).map(|&(x, y)| (self.left + (x - self.x0) * self.sx, MARGIN_PX + (self.y1 - y) * self.sy))
    }

    /// The SVG's opening with the white background, `legend_px` below the grid.
    fn open(&self, legend_px: f64) -> String {
        let total_h = self.height + legend_px;
        format!(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH_PX} {total_h:.0}" width="{MAP_WIDTH_PX}" height="{total_h:.0}"><rect width="100%" height="100%" fill="white"/>"#)
    }

    /// Draws the lines by their loading class (lightest first so the loaded ones stay on top)
    /// and the root; returns the legend entries of the classes drawn (none without loadings).
    fn draw_lines(&self, out: &mut String, topology: &Topology, loading: &HashMap<&str, f64>) -> Vec<(RGBColor, String)> {
        // Segments as drawn (to half a pixel): a city's service lines shrink to nothing and
        // its laterals overlap.
        let halves = |v: f64| (v * 2.0).round() as i64;
        // Per drawn segment (its ends in half pixels): its loading class and its ends in pixels.
        type Ends = ((i64, i64), (i64, i64));
        type Drawn = (usize, (f64, f64), (f64, f64));
        let mut segments: HashMap<Ends, Drawn> = HashMap::new();
        for l in &topology.lines {
            if let (Some((ax, ay)), Some((bx, by))) = (self.px(&l.from), self.px(&l.to)) {
                let (a, b) = ((halves(ax), halves(ay)), (halves(bx), halves(by)));
                if a == b {
                    continue;
                }
                let load = loading.get(l.id.as_str()).copied().unwrap_or(0.0);
                let c = LINE_CLASSES.iter().position(|(upper, ..)| load < *upper).unwrap_or(LINE_CLASSES.len() - 1);
                let e = segments.entry(if a < b { (a, b) } else { (b, a) }).or_insert((c, (ax, ay), (bx, by)));
                e.0 = e.0.max(c);
            }
        }
        let mut segments: Vec<_> = segments.into_values().collect();
        segments.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.0.total_cmp(&b.1.0)).then(a.1.1.total_cmp(&b.1.1)).then(a.2.0.total_cmp(&b.2.0)).then(a.2.1.total_cmp(&b.2.1)));
        for (c, (ax, ay), (bx, by)) in &segments {
            let (_, color, width, _) = LINE_CLASSES[*c];
            let _ = write!(out, r#"<line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="{}" stroke-width="{width}"/>"#, hex(color));
        }
        let mut legend = Vec::new();
        for (c, (_, color, _, name)) in LINE_CLASSES.iter().enumerate() {
            if segments.iter().any(|s| s.0 == c) && !loading.is_empty() {
                legend.push((*color, name.to_string()));
            }
        }
        let root = topology.root.as_str();
        if let Some((x, y)) = self.px(root) {
            let _ = write!(out, r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{ROOT_COLOR}"><title>{}</title></rect>"#, x - 5.0, y - 5.0, super::escape(root));
        }
        legend
    }
}

/// Draws the map from the topology, the houses and each line's peak loading (by line id).
pub fn draw(topology: &Topology, houses: &[House], loading: &HashMap<&str, f64>) -> Map {
    let frame = Frame::fit(topology);
    let (height, stretched) = (frame.height, frame.stretched);
    let mut out = frame.open(LEGEND_PX);
    let legend = frame.draw_lines(&mut out, topology, loading);
    let px = |id: &str| frame.px(id);

    // Houses on a scale of ± the 95th percentile of |net| (a few extremes do not wash it out).
    let mut magnitudes: Vec<f64> = houses.iter().map(|h| h.net_kwh.abs()).filter(|v| v.is_finite()).collect();
    magnitudes.sort_by(f64::total_cmp);
    let p95 = magnitudes.get((magnitudes.len() as f64 * 0.95) as usize).or(magnitudes.last()).copied().unwrap_or(1.0);
    let limit = nice_up(p95.max(1e-3));
    let radius = if houses.len() > 2_000 { 2.2 } else if houses.len() > 300 { 3.2 } else { 4.5 };
    let mut used = [false; 7];
    let mut short = 0;
    if houses.len() <= MAP_HOUSE_MARKS_MAX {
        for h in houses {
            let Some((x, y)) = px(&h.node) else { continue };
            let c = class(h.net_kwh, limit);
            used[c] = true;
            let ring = if h.unserved_kwh > SHORT_KWH {
                short += 1;
                format!(r#" stroke="{}" stroke-width="1.6""#, hex(SHORT_RING))
            } else {
                r##" stroke="#777777" stroke-width="0.4""##.to_string()
            };
            let _ = write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{radius}" fill="{}"{ring}>"#, hex(NET_CLASSES[c]));
            if houses.len() <= MAP_TOOLTIPS_MAX {
                let _ = write!(out, "<title>{}: {} kWh net{}</title>", super::escape(&h.id), signed(h.net_kwh), if h.unserved_kwh > SHORT_KWH { format!(", {} kWh unserved", format::number(h.unserved_kwh, 1)) } else { String::new() });
            }
            out.push_str("</circle>");
        }
    } else {
        // One mark per cell: coloured by its houses' mean, with their counts in the tooltip.
        #[derive(Default)]
        struct Cell {
            houses: usize,
            exporters: usize,
            short: usize,
            net_kwh: f64,
        }
        let mut cells: std::collections::BTreeMap<(i64, i64), Cell> = std::collections::BTreeMap::new();
        for h in houses {
            let Some((x, y)) = px(&h.node) else { continue };
            let cell = cells.entry(((x / MAP_CELL_PX) as i64, (y / MAP_CELL_PX) as i64)).or_default();
            cell.houses += 1;
            cell.exporters += (h.net_kwh >= 0.0) as usize;
            cell.short += (h.unserved_kwh > SHORT_KWH) as usize;
            cell.net_kwh += h.net_kwh;
        }
        let mut cell_p: Vec<f64> = cells.values().map(|c| (c.net_kwh / c.houses as f64).abs()).collect();
        cell_p.sort_by(f64::total_cmp);
        let cell_limit = nice_up(cell_p.get((cell_p.len() as f64 * 0.95) as usize).or(cell_p.last()).copied().unwrap_or(1.0).max(1e-3));
        for ((cx, cy), c) in &cells {
            let (x, y) = ((*cx as f64 + 0.5) * MAP_CELL_PX, (*cy as f64 + 0.5) * MAP_CELL_PX);
            let k = class(c.net_kwh / c.houses as f64, cell_limit);
            used[k] = true;
            let ring = if c.short > 0 {
                short += c.short;
                format!(r#" stroke="{}" stroke-width="1.2""#, hex(SHORT_RING))
            } else {
                String::new()
            };
            let _ = write!(out, r#"<rect x="{:.1}" y="{:.1}" width="{MAP_CELL_PX}" height="{MAP_CELL_PX}" fill="{}"{ring}><title>{} houses: {} net exporters, {} net importers, mean {} kWh</title></rect>"#,
                x - MAP_CELL_PX / 2.0, y - MAP_CELL_PX / 2.0, hex(NET_CLASSES[k]), c.houses, c.exporters, c.houses - c.exporters, signed(c.net_kwh / c.houses as f64));
        }
        return Map { stretched, ..finish(out, height, cell_limit, &used, short, legend, Some(cells.len()), "mean net energy per house of each cell, kWh") };
    }
    Map { stretched, ..finish(out, height, limit, &used, short, legend, None, "net energy over the run, kWh (sent out − taken in)") }
}

/// A bus of `buses.csv` as the phase map reads it.
pub struct BusVoltage {
    pub id: String,
    /// Lowest and highest voltage of phases a, b, c over the run, per unit.
    pub min_pu: [f64; 3],
    pub max_pu: [f64; 3],
    pub max_unbalance_pct: f64,
}

/// What a phase's voltage did at a bus over the run, against the band (bit 0 above, bit 1
/// below; both bits: it left the band both ways).
const ABOVE: u8 = 1;
const BELOW: u8 = 2;
/// Phase marks by those bits: within the band, above, below, both (Okabe–Ito, colour-blind
/// safe), and the legend's words for them.
const PHASE_MARKS: [(RGBColor, &str); 4] = [
    (RGBColor(215, 215, 215), "phase within the band"),
    (RGBColor(213, 94, 0), "phase above the band"),
    (RGBColor(0, 114, 178), "phase below the band"),
    (RGBColor(204, 121, 167), "phase above and below"),
];
const UNBALANCE_RING: RGBColor = RGBColor(0, 0, 0);
/// Beyond this many buses with a problem, marks that fall in the same cell of `MAP_CELL_PX`
/// are merged (their phases' marks combined), so the page stays small.
const PHASE_MARKS_MAX: usize = 2_000;

/// The phase map and what it shows.
pub struct PhaseMap {
    pub svg: String,
    pub legend: Vec<(RGBColor, String)>,
    /// Buses where a phase left the band, per phase a, b, c, and where any did.
    pub outside_by_phase: [usize; 3],
    pub outside: usize,
    /// Buses whose voltage unbalance factor went above the limit.
    pub unbalanced: usize,
    /// Marks merged by cell (more than `PHASE_MARKS_MAX` buses with a problem).
    pub merged: bool,
    pub stretched: bool,
}

/// One mark: the phases' bits, the highest unbalance, and the buses it stands for.
struct PhaseMark<'a> {
    bits: [u8; 3],
    unbalance_pct: f64,
    buses: Vec<&'a BusVoltage>,
}

/// Draws the grid's lines and, at each bus where a phase's voltage left the band
/// `band_pu` (lowest, highest) or the voltage unbalance went above `unbalance_limit_pct`, three bars for
/// phases a, b, c (left to right) coloured by what each phase did, ringed when unbalanced.
pub fn draw_phase_voltages(topology: &Topology, buses: &[BusVoltage], band_pu: (f64, f64), unbalance_limit_pct: f64) -> PhaseMap {
    let frame = Frame::fit(topology);
    let mut out = frame.open(0.0);
    frame.draw_lines(&mut out, topology, &HashMap::new());
    // Outside as `buses.csv`'s `steps_outside_band` counts it: by more than the limits' tolerance.
    let slack = crate::grid::limits::VOLTAGE_TOLERANCE_PU;
    let bits_of = |b: &BusVoltage| [0, 1, 2].map(|k| ((b.max_pu[k] > band_pu.1 + slack) as u8 * ABOVE) | ((b.min_pu[k] < band_pu.0 - slack) as u8 * BELOW));
    let mut outside_by_phase = [0; 3];
    let (mut outside, mut unbalanced) = (0, 0);
    let problems: Vec<(&BusVoltage, [u8; 3])> = buses
        .iter()
        .map(|b| (b, bits_of(b)))
        .filter(|(b, bits)| {
            for (count, bit) in outside_by_phase.iter_mut().zip(bits) {
                *count += (*bit != 0) as usize;
            }
            outside += bits.iter().any(|x| *x != 0) as usize;
            unbalanced += (b.max_unbalance_pct > unbalance_limit_pct) as usize;
            bits.iter().any(|x| *x != 0) || b.max_unbalance_pct > unbalance_limit_pct
        })
        .collect();
    let merged = problems.len() > PHASE_MARKS_MAX;
    // Marks keyed by their place: the bus's pixel (to a tenth) or, merged, its cell.
    let mut marks: std::collections::BTreeMap<(i64, i64), ((f64, f64), PhaseMark)> = std::collections::BTreeMap::new();
    for (b, bits) in &problems {
        let Some((x, y)) = frame.px(&b.id) else { continue };
        let (key, at) = if merged {
            let (cx, cy) = ((x / MAP_CELL_PX).floor(), (y / MAP_CELL_PX).floor());
            ((cx as i64, cy as i64), ((cx + 0.5) * MAP_CELL_PX, (cy + 0.5) * MAP_CELL_PX))
        } else {
            (((x * 10.0).round() as i64, (y * 10.0).round() as i64), (x, y))
        };
        let (_, m) = marks.entry(key).or_insert((at, PhaseMark { bits: [0; 3], unbalance_pct: 0.0, buses: Vec::new() }));
        for (a, b) in m.bits.iter_mut().zip(bits) {
            *a |= b;
        }
        m.unbalance_pct = m.unbalance_pct.max(b.max_unbalance_pct);
        m.buses.push(b);
    }
    let mut used = [false; 4];
    let mut ringed = false;
    let tooltips = problems.len() <= MAP_TOOLTIPS_MAX;
    for ((x, y), m) in marks.values() {
        out.push_str("<g>");
        if m.unbalance_pct > unbalance_limit_pct {
            ringed = true;
            let _ = write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="8" fill="none" stroke="{}" stroke-width="1.2" stroke-dasharray="2 1.5"/>"#, hex(UNBALANCE_RING));
        }
        for (k, bit) in m.bits.iter().enumerate() {
            used[*bit as usize] = true;
            let _ = write!(out, r##"<rect x="{:.1}" y="{:.1}" width="3.2" height="9" fill="{}" stroke="#555555" stroke-width="0.3"/>"##, x - 4.8 + 3.2 * k as f64, y - 4.5, hex(PHASE_MARKS[*bit as usize].0));
        }
        if tooltips {
            let text: Vec<String> = m
                .buses
                .iter()
                .map(|b| {
                    let phases: Vec<String> = ["a", "b", "c"].iter().enumerate().map(|(k, p)| format!("{p} {}–{} pu", format::number(b.min_pu[k], 3), format::number(b.max_pu[k], 3))).collect();
                    format!("{}: {}; unbalance up to {}%", b.id, phases.join(", "), format::number(b.max_unbalance_pct, 2))
                })
                .collect();
            let _ = write!(out, "<title>{}</title>", super::escape(&text.join("\n")));
        }
        out.push_str("</g>");
    }
    out.push_str("</svg>");
    let mut legend: Vec<(RGBColor, String)> = PHASE_MARKS.iter().zip(used).filter(|(_, u)| *u).map(|((c, n), _)| (*c, n.to_string())).collect();
    if ringed {
        legend.push((UNBALANCE_RING, format!("dashed ring: unbalance above {}%", format::number(unbalance_limit_pct, 0))));
    }
    PhaseMap { svg: out, legend, outside_by_phase, outside, unbalanced, merged, stretched: frame.stretched }
}

/// The colour scale's legend at the foot of the map, and the legend entries.
#[allow(clippy::too_many_arguments)]
fn finish(mut out: String, height: f64, limit: f64, used: &[bool; 7], short: usize, mut legend: Vec<(RGBColor, String)>, cells: Option<usize>, title: &str) -> Map {
    let (w, y) = (44.0, height + 6.0);
    let x0 = MARGIN_PX + 24.0;
    for (k, color) in NET_CLASSES.iter().enumerate() {
        let _ = write!(out, r##"<rect x="{:.1}" y="{y:.1}" width="{w}" height="10" fill="{}" stroke="#999999" stroke-width="0.4"/>"##, x0 + k as f64 * w, hex(*color));
    }
    for (k, edge) in CLASS_EDGES.iter().enumerate() {
        let v = edge * limit;
        let label = if k == 0 { format!("≤ {}", signed(v)) } else if k == 7 { format!("≥ {}", signed(v)) } else { signed(v) };
        let _ = write!(out, r#"<text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="10" text-anchor="middle">{}</text>"#, x0 + k as f64 * w, y + 22.0, super::escape(&label));
    }
    let _ = write!(out, r#"<text x="{:.1}" y="{:.1}" font-family="sans-serif" font-size="11">{}</text>"#, x0 + 7.0 * w + 26.0, y + 9.0, super::escape(title));
    out.push_str("</svg>");
    let names = ["imports most", "imports", "imports a little", "about even", "exports a little", "exports", "exports most"];
    let mut houses: Vec<(RGBColor, String)> = NET_CLASSES.iter().zip(names).zip(used).filter(|(_, u)| **u).map(|((c, n), _)| (*c, n.to_string())).collect();
    if short > 0 {
        houses.push((SHORT_RING, "ringed: went short (unserved energy)".into()));
    }
    houses.append(&mut legend);
    Map { svg: out, legend: houses, scale_kwh: limit, cells, stretched: false }
}

/// `+1,234.5` / `−12.0`.
fn signed(v: f64) -> String {
    let n = format::number(v, if v.abs() >= 100.0 || v.fract() == 0.0 { 0 } else { 1 });
    if v > 0.0 && !n.starts_with('−') { format!("+{n}") } else { n }
}

/// The smallest 1, 1.5, 2, 3, 5 or 7 × 10ⁿ at least `v` (a round scale limit).
fn nice_up(v: f64) -> f64 {
    let magnitude = 10f64.powf(v.log10().floor());
    [1.0, 1.5, 2.0, 3.0, 5.0, 7.0, 10.0].into_iter().map(|m| m * magnitude).find(|s| *s >= v * (1.0 - 1e-9)).unwrap_or(10.0 * magnitude)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_symmetric_about_zero() {
        assert_eq!(class(0.0, 100.0), 3);
        assert_eq!(class(-100.0, 100.0), 0);
        assert_eq!(class(-61.0, 100.0), 0);
        assert_eq!(class(1e9, 100.0), 6);
        assert_eq!(class(9.9, 100.0), 3);
        assert_eq!(class(10.0, 100.0), 4);
        assert_eq!(class(-10.1, 100.0), 2);
        assert_eq!(nice_up(613.0), 700.0);
    }

    #[test]
    fn phase_map_marks_each_phase_that_left_the_band() {
        let topology = Topology {
            root: "r".into(),
            nodes: ["r", "a", "b", "c"].iter().enumerate().map(|(i, id)| Node { id: id.to_string(), x_m: i as f64 * 10.0, y_m: 0.0 }).collect(),
            lines: vec![Line { id: "l1".into(), from: "r".into(), to: "a".into() }, Line { id: "l2".into(), from: "a".into(), to: "b".into() }, Line { id: "l3".into(), from: "b".into(), to: "c".into() }],
        };
        let bus = |id: &str, min_pu: [f64; 3], max_pu: [f64; 3], max_unbalance_pct: f64| BusVoltage { id: id.into(), min_pu, max_pu, max_unbalance_pct };
        let buses = [
            bus("a", [0.99; 3], [1.01; 3], 0.5),
            bus("b", [0.99, 0.93, 0.99], [1.07, 1.01, 1.01], 1.0),
            bus("c", [0.99, 0.93, 0.99], [1.07, 1.06, 1.01], 2.5),
        ];
        let m = draw_phase_voltages(&topology, &buses, (0.95, 1.05), 2.0);
        assert_eq!(m.outside_by_phase, [2, 2, 0]);
        assert_eq!((m.outside, m.unbalanced), (2, 1));
        assert_eq!(m.svg.matches("<g>").count(), 2, "bus a is fine and not marked");
        assert_eq!(m.svg.matches("stroke-dasharray").count(), 1);
        for c in [PHASE_MARKS[1].0, PHASE_MARKS[2].0, PHASE_MARKS[3].0, PHASE_MARKS[0].0] {
            assert!(m.svg.contains(&hex(c)), "{}", hex(c));
        }
        assert_eq!(m.legend.len(), 5);
    }
}
