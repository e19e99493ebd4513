//! The grid as an SVG map: lines in grey, houses coloured by their net position over the run
//! (green: sent more to others than they took; red: took more).

use super::charts::hex;
use plotters::style::RGBColor;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt::Write;

const MAP_WIDTH_PX: f64 = 860.0;
const MAP_HEIGHT_PX: f64 = 420.0;
const MARGIN_PX: f64 = 16.0;
const HOUSE_RADIUS_PX: f64 = 4.5;
/// Above this many houses the map marks cells of `MAP_CELL_PX` instead of houses (a
/// 100,000-house city would otherwise make a 20 MB page of overlapping dots).
pub const MAP_HOUSE_MARKS_MAX: usize = 5_000;
const MAP_CELL_PX: f64 = 9.0;
pub const NET_EXPORTER: RGBColor = RGBColor(26, 152, 80);
pub const NET_IMPORTER: RGBColor = RGBColor(215, 48, 39);
const LINE_COLOR: &str = "#9e9e9e";
const ROOT_COLOR: &str = "#333333";

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
    pub from: String,
    pub to: String,
}

/// Draws the map: `lines` as (from, to) node ids, `houses` as (node id, household id, net kWh).
pub fn svg(topology: &Topology, houses: &[(String, String, f64)]) -> String {
    let (nodes, root) = (&topology.nodes, topology.root.as_str());
    let at: HashMap<&str, (f64, f64)> = nodes.iter().map(|n| (n.id.as_str(), (n.x_m, n.y_m))).collect();
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for n in nodes {
        (x0, x1, y0, y1) = (x0.min(n.x_m), x1.max(n.x_m), y0.min(n.y_m), y1.max(n.y_m));
    }
    if !x0.is_finite() {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    let scale = ((MAP_WIDTH_PX - 2.0 * MARGIN_PX) / (x1 - x0).max(1e-9)).min((MAP_HEIGHT_PX - 2.0 * MARGIN_PX) / (y1 - y0).max(1e-9));
    // Centred; north up (y grows downwards on screen).
    let (left, bottom) = ((MAP_WIDTH_PX - (x1 - x0) * scale) / 2.0, (MAP_HEIGHT_PX - (y1 - y0) * scale) / 2.0);
    let px = |(x, y): (f64, f64)| (left + (x - x0) * scale, MAP_HEIGHT_PX - bottom - (y - y0) * scale);
    let mut out = format!(r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH_PX} {MAP_HEIGHT_PX}" width="{MAP_WIDTH_PX}" height="{MAP_HEIGHT_PX}"><rect width="100%" height="100%" fill="white"/>"#);
    // Segments as drawn (to half a pixel): a city's service lines shrink to nothing and its
    // laterals overlap, so each distinct visible segment is written once.
    let halves = |v: f64| (v * 2.0).round() as i64;
    let mut drawn = std::collections::HashSet::new();
    for l in &topology.lines {
        if let (Some(&pa), Some(&pb)) = (at.get(l.from.as_str()), at.get(l.to.as_str())) {
            let ((ax, ay), (bx, by)) = (px(pa), px(pb));
            let (a, b) = ((halves(ax), halves(ay)), (halves(bx), halves(by)));
            if a == b || !drawn.insert(if a < b { (a, b) } else { (b, a) }) {
                continue;
            }
            let _ = write!(out, r#"<line x1="{ax:.1}" y1="{ay:.1}" x2="{bx:.1}" y2="{by:.1}" stroke="{LINE_COLOR}" stroke-width="1.2"/>"#);
        }
    }
    if let Some(&p) = at.get(root) {
        let (x, y) = px(p);
        let _ = write!(out, r#"<rect x="{:.1}" y="{:.1}" width="10" height="10" fill="{ROOT_COLOR}"><title>grid connection ({root})</title></rect>"#, x - 5.0, y - 5.0);
    }
    let color = |net_kwh: f64| hex(if net_kwh >= 0.0 { NET_EXPORTER } else { NET_IMPORTER });
    if houses.len() <= MAP_HOUSE_MARKS_MAX {
        for (node, id, net_kwh) in houses {
            let Some(&p) = at.get(node.as_str()) else { continue };
            let (x, y) = px(p);
            let _ = write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{HOUSE_RADIUS_PX}" fill="{}"><title>{} {:+.1} kWh</title></circle>"#, color(*net_kwh), super::escape(id), net_kwh);
        }
    } else {
        // Too many houses to tell apart: one mark per map cell, by the cell's net position.
        let mut cells: std::collections::BTreeMap<(i64, i64), (usize, f64)> = std::collections::BTreeMap::new();
        for (node, _, net_kwh) in houses {
            let Some(&p) = at.get(node.as_str()) else { continue };
            let (x, y) = px(p);
            let cell = cells.entry(((x / MAP_CELL_PX) as i64, (y / MAP_CELL_PX) as i64)).or_default();
            cell.0 += 1;
            cell.1 += net_kwh;
        }
        for ((cx, cy), (n, net_kwh)) in cells {
            let (x, y) = ((cx as f64 + 0.5) * MAP_CELL_PX, (cy as f64 + 0.5) * MAP_CELL_PX);
            let _ = write!(out, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{HOUSE_RADIUS_PX}" fill="{}"><title>{n} houses {net_kwh:+.1} kWh</title></circle>"#, color(net_kwh));
        }
    }
    out.push_str("</svg>");
    out
}
