//! An imported network (`topology: Import(...)`): its file read before the households are
//! drawn (its loads become households), then turned into the grid's topology with its
//! transformer and supply voltage.

use super::data::pandapower::{read_pandapower, PpNet, PpTrafo};
use super::generate::{HouseDraft, LoadDraft};
use super::schema::PvSpec;
use super::validate::Validator;
use crate::grid::topology::{Line, Node, NodeKind, Phase, Topology, Transformer, VectorGroup};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The network file as read, and where it is.
pub struct Imported {
    pub path: PathBuf,
    pub net: PpNet,
}

/// Reads the file of an `Import` topology (`file` relative to the scenario's folder).
pub fn read(file: &str, format: super::schema::ImportFormat, base_dir: &Path, v: &mut Validator) -> Option<Imported> {
    let path = base_dir.join(file);
    let read = match format {
        super::schema::ImportFormat::PandapowerJson => read_pandapower(&path),
        super::schema::ImportFormat::OpenDss => super::data::opendss::read_opendss(&path),
    };
    match read {
        Ok(net) => Some(Imported { path, net }),
        Err(e) => {
            v.push(e);
            None
        }
    }
}

/// Attaches the file's loads to the households: a `House` whose id is a load's name takes that
/// load; households drawn by `Group`s take the remaining loads in file order. Each takes the
/// load's bus as its node, its phase (unless it gives one) and its power factor. Returns what
/// was left unattached, for the warnings.
pub fn attach_loads(imp: &Imported, specs: &mut [HouseDraft], v: &mut Validator) -> Vec<String> {
    let loads = &imp.net.loads;
    let bus_name: HashMap<i64, &str> = imp.net.buses.iter().map(|b| (b.index, b.name.as_str())).collect();
    let mut taken = vec![false; loads.len()];
    let by_name: HashMap<&str, usize> = loads.iter().enumerate().filter(|(_, l)| !l.name.is_empty()).map(|(i, l)| (l.name.as_str(), i)).collect();
    let attach = |h: &mut HouseDraft, i: usize| {
        let l = &loads[i];
        if h.node.is_none() {
            h.node = Some(bus_name[&l.bus].to_string());
        }
        h.phase = h.phase.or(Some(l.phase));
        if l.p_kw > 0.0 {
            h.load_tan_phi = Some(l.q_kvar / l.p_kw);
        }
    };
    for h in specs.iter_mut().filter(|h| !h.from_group) {
        if let Some(&i) = by_name.get(h.id.as_str())
            && !taken[i]
        {
            taken[i] = true;
            attach(h, i);
        }
    }
    let mut ids: HashSet<String> = specs.iter().filter(|h| !h.from_group).map(|h| h.id.clone()).collect();
    let mut next = 0;
    for h in specs.iter_mut().filter(|h| h.from_group) {
        while next < loads.len() && taken[next] {
            next += 1;
        }
        if next == loads.len() {
            let free = taken.iter().filter(|t| !**t).count();
            v.err(&h.path, format!("the groups draw more households than {} has loads left for them ({free}): lower the groups' `count`", imp.path.display()));
            return Vec::new();
        }
        taken[next] = true;
        let l = &loads[next];
        // The load's name is the household's id where it makes one.
        let name_ok = !l.name.is_empty() && l.name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) && !ids.contains(&l.name);
        h.id = if name_ok { l.name.clone() } else { format!("{}{}", l.table, l.index) };
        if !ids.insert(h.id.clone()) {
            v.err(&h.path, format!("household id `{}` (from {}[{}]) is used twice: give the loads distinct names", h.id, l.table, l.index));
        }
        h.path = format!("{} ({})", h.path, h.id);
        attach(h, next);
    }
    let mut left = Vec::new();
    let unused: Vec<String> = loads.iter().zip(&taken).filter(|(_, t)| !**t).map(|(l, _)| format!("{}[{}] `{}`", l.table, l.index, l.name)).collect();
    if !unused.is_empty() {
        let shown: Vec<&str> = unused.iter().take(5).map(String::as_str).collect();
        left.push(format!("{} load(s) of {} are no household (no House with that id, the groups' counts used up): {}{}", unused.len(), imp.path.display(), shown.join(", "), if unused.len() > 5 { ", …" } else { "" }));
    }
    left.extend(attach_generators(imp, specs, &bus_name));
    left
}

/// Gives the file's static generators to the households on their buses as rooftop PV: each
/// goes to the first household there that the scenario gives no PV, rated at the generator's
/// `sn_mva` (its `p_mw` where that is missing: a snapshot, so a lower bound), both times its
/// `scaling`. The scenario's own PV is kept; a household whose load and PV are measured
/// (`Profile`, `Ausgrid`) takes none. Returns the generators left out, and those modelled on
/// another phase than the file gives, with why.
fn attach_generators(imp: &Imported, specs: &mut [HouseDraft], bus_name: &HashMap<i64, &str>) -> Vec<String> {
    let mut left = Vec::new();
    let mut given = vec![false; specs.len()];
    for g in &imp.net.generators {
        let what = format!("{}[{}] `{}`", g.table, g.index, g.name);
        let bus = bus_name[&g.bus];
        let kwp = g.sn_kva.unwrap_or(-g.p_kw);
        if kwp <= 0.0 {
            left.push(format!("{what} on bus `{bus}` generates nothing (no `sn_mva`, `p_mw` {:.3}, or `scaling` 0): left out", -g.p_kw / 1000.0));
            continue;
        }
        let on_bus: Vec<usize> = (0..specs.len()).filter(|&i| specs[i].node.as_deref() == Some(bus)).collect();
        if on_bus.is_empty() {
            left.push(format!("{what} ({kwp:.3} kW on bus `{bus}`) is not modelled: no household is on that bus"));
            continue;
        }
        let measured = |h: &HouseDraft| !matches!(h.load, LoadDraft::Archetype { .. });
        let free = on_bus.iter().copied().find(|&i| !given[i] && !measured(&specs[i]) && specs[i].pv.as_ref().is_none_or(|p| p.kwp == 0.0));
        let Some(i) = free else {
            let why = if on_bus.iter().all(|&i| measured(&specs[i])) {
                "its households' load and PV are measured (`Profile`, `Ausgrid`)"
            } else if on_bus.iter().any(|&i| given[i]) {
                "its households have PV already (from the scenario or another generator)"
            } else {
                "its households have PV from the scenario"
            };
            left.push(format!("{what} on bus `{bus}` is left out: {why}"));
            continue;
        };
        let h = &mut specs[i];
        // A generator without any power on a phase (`[]` in the reader) takes the household's.
        let gen_phase = if g.p_kw == 0.0 && g.q_kvar == 0.0 { None } else { Some(g.phase) };
        if let (Some(gp), Some(hp)) = (gen_phase, h.phase)
            && gp != hp
        {
            let words = |p: Phase| if p == Phase::Three { "all three phases".to_string() } else { format!("phase {}", p.label()) };
            left.push(format!("{what} is on {}, its household `{}` on {}: modelled on the household's", words(gp), h.id, words(hp)));
        }
        h.pv = Some(PvSpec { kwp, tilt_deg: 0.0, azimuth_deg: None, performance_ratio: None, temperature_coefficient_per_c: 0.0, losses: None, inverter_ac_kw: None, shading: Default::default() });
        given[i] = true;
    }
    left
}

/// The topology of an imported network and its line-to-line nominal voltage, V. The root is
/// the transformer's low-voltage bus (or the external grid's bus without a transformer); the
/// network below it must be radial and of one voltage level.
pub fn build(imp: &Imported, connected: bool, load_buses: &HashSet<i64>, v: &mut Validator) -> Option<(Topology, f64)> {
    let net = &imp.net;
    let err = |v: &mut Validator, field: String, message: String| v.push(crate::base::error::InputError::field(&imp.path, field, message));
    let root_bus = match &net.trafo {
        Some(t) => {
            if net.ext_grid_bus != t.hv_bus {
                err(v, "ext_grid.bus".into(), format!("the external grid is on bus {}, not on the transformer's high-voltage bus {}", net.ext_grid_bus, t.hv_bus));
                return None;
            }
            t.lv_bus
        }
        None => net.ext_grid_bus,
    };
    let hv_bus = net.trafo.as_ref().map(|t| t.hv_bus);
    let root_kv = net.buses.iter().find(|b| b.index == root_bus).map_or(0.0, |b| b.vn_kv);
    let mut topo = Topology::new();
    let mut ix = HashMap::new();
    for b in net.buses.iter().filter(|b| Some(b.index) != hv_bus) {
        if (b.vn_kv - root_kv).abs() > 1e-6 * root_kv {
            err(v, format!("bus[{}].vn_kv", b.index), format!("{} kV: the network below the supply must be one voltage level ({root_kv} kV at bus {root_bus})", b.vn_kv));
            return None;
        }
        let kind = if b.index == root_bus {
            if connected { NodeKind::Substation } else { NodeKind::FeederHead }
        } else if load_buses.contains(&b.index) {
            NodeKind::House
        } else {
            NodeKind::Junction
        };
        match topo.add_node(Node { id: b.name.clone(), kind, x_m: b.x_m, y_m: b.y_m }) {
            Ok(n) => {
                ix.insert(b.index, n);
            }
            Err(name) => {
                err(v, format!("bus[{}].name", b.index), format!("bus name `{name}` is used twice: households and outputs name buses by their names"));
                return None;
            }
        }
    }
    topo.root = ix[&root_bus];
    for l in &net.lines {
        let (Some(&a), Some(&b)) = (ix.get(&l.from_bus), ix.get(&l.to_bus)) else {
            err(v, format!("line[{}] (`{}`)", l.index, l.name), "joins the transformer's high-voltage bus: only the low-voltage network below the transformer is modelled".into());
            return None;
        };
        let capacity_kw = 3f64.sqrt() * root_kv * l.max_i_ka * 1000.0;
        let p = l.parallel;
        let mut line = Line::new(l.name.clone(), l.length_km * 1000.0, capacity_kw, l.r_ohm_per_km / p, l.x_ohm_per_km / p);
        line.r0_ohm = l.r0_ohm_per_km.map(|r| r * l.length_km / p);
        line.x0_ohm = l.x0_ohm_per_km.map(|x| x * l.length_km / p);
        line.max_i_a = Some(l.max_i_ka * 1000.0);
        topo.add_line(a, b, line);
    }
    // Unconnected buses first: a piece cut off from the supply also breaks the tree's count.
    let reach = topo.reachable_from_root();
    if let Some(b) = net.buses.iter().find(|b| ix.get(&b.index).is_some_and(|n| !reach[n.index()])) {
        err(v, format!("bus[{}]", b.index), format!("bus `{}` is not connected to the supply", b.name));
        return None;
    }
    if !topo.is_radial() {
        err(v, "line".into(), "the network has loops (or parallel lines between two buses): the three-phase flow needs a radial network".into());
        return None;
    }
    topo.source_voltage_pu = net.ext_grid_vm_pu;
    if let Some(t) = &net.trafo {
        let hv_kv = net.buses.iter().find(|b| b.index == t.hv_bus).map_or(t.vn_hv_kv, |b| b.vn_kv);
        topo.transformer = Some(transformer(t, hv_kv, root_kv));
    }
    Some((topo, root_kv * 1000.0))
}

/// The transformer referred to its low-voltage side, as pandapower's three-phase flow models
/// it (T model): short-circuit impedance from vk and vkr; zero sequence from vk0 and vkr0 split
/// `si0_hv_partial` to the high-voltage leg, the magnetising branch `mag0_percent` of it, and
/// (Dyn) the high-voltage leg earthed by the delta.
fn transformer(t: &PpTrafo, hv_bus_kv: f64, lv_bus_kv: f64) -> Transformer {
    let (vn_hv, vn_lv) = if t.tap_side_hv { (t.vn_hv_kv * t.tap_ratio, t.vn_lv_kv) } else { (t.vn_hv_kv, t.vn_lv_kv * t.tap_ratio) };
    let z_base = vn_lv * vn_lv / t.sn_mva / t.parallel;
    let series = |vk: f64, vkr: f64| (vkr / 100.0 * z_base, (vk * vk - vkr * vkr).max(0.0).sqrt() / 100.0 * z_base);
    let (r1, x1) = series(t.vk_percent, t.vkr_percent);
    let (r0k, x0k) = series(t.vk0_percent, t.vkr0_percent);
    let z0k = (r0k, x0k);
    let hv_leg = (t.si0_hv_partial * z0k.0, t.si0_hv_partial * z0k.1);
    let lv_leg = ((1.0 - t.si0_hv_partial) * z0k.0, (1.0 - t.si0_hv_partial) * z0k.1);
    let z_mag = z0k.0.hypot(z0k.1) * t.mag0_percent / 100.0;
    let x_mag = z_mag / (t.mag0_rx * t.mag0_rx + 1.0).sqrt();
    let mag = (x_mag * t.mag0_rx, x_mag);
    let (r0, x0) = add(lv_leg, parallel(hv_leg, mag));
    Transformer {
        id: t.name.clone(),
        rated_kva: t.sn_mva * 1000.0 * t.parallel,
        rated_lv_v: t.vn_lv_kv * 1000.0,
        rated_hv_v: t.vn_hv_kv * 1000.0,
        hv_current_per_lv_a: vn_lv / vn_hv,
        vector_group: if t.vector_group == "YNyn" { VectorGroup::YNyn } else { VectorGroup::Dyn },
        shift_deg: t.shift_degree,
        ratio_pu: (hv_bus_kv / vn_hv) * (vn_lv / lv_bus_kv),
        r_ohm: r1,
        x_ohm: x1,
        r0_ohm: r0,
        x0_ohm: x0,
    }
}

fn add(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    (a.0 + b.0, a.1 + b.1)
}

/// a·b / (a + b) for complex impedances (re, im).
fn parallel(a: (f64, f64), b: (f64, f64)) -> (f64, f64) {
    let num = (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0);
    let den = add(a, b);
    let d = den.0 * den.0 + den.1 * den.1;
    if d == 0.0 {
        return (0.0, 0.0);
    }
    ((num.0 * den.0 + num.1 * den.1) / d, (num.1 * den.0 - num.0 * den.1) / d)
}
