//! Reads a network saved by pandapower (`pandapower.to_json`, format 3.0 or later): buses with
//! their coordinates, lines with positive- and zero-sequence parameters, one two-winding
//! distribution transformer, the external grid's voltage, and loads and static generators with
//! their phases. Errors name the file, the element (table, index and name) and the field.
//!
//! The file is JSON holding JSON: each table's `_object` is a string with a pandas DataFrame in
//! "split" orientation (`columns`, `index`, `data`). Columns are looked up by name; the stored
//! dtypes are not trusted (pandapower declares some numeric columns as `object`).

use crate::base::error::{InputError, Location};
use crate::grid::topology::Phase;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// Tables this reader turns into the model (the `res_*` result tables and `std_types` are
/// ignored: rows carry their types' values).
const READ_TABLES: [&str; 8] = ["bus", "line", "trafo", "ext_grid", "load", "asymmetric_load", "sgen", "asymmetric_sgen"];
/// Element tables the model has no counterpart for; a non-empty one is listed in the warnings.
const UNSUPPORTED_TABLES: [&str; 18] = [
    "switch", "trafo3w", "gen", "shunt", "storage", "impedance", "ward", "xward", "dcline", "motor", "svc", "tcsc", "ssc", "vsc", "line_dc", "bus_dc", "source_dc", "load_dc",
];

/// A bus: its id (the table's index), name, nominal voltage and position (metres as stored).
#[derive(Debug, Clone)]
pub struct PpBus {
    pub index: i64,
    pub name: String,
    pub vn_kv: f64,
    pub x_m: f64,
    pub y_m: f64,
}

/// A line in service, parameters per km as stored.
#[derive(Debug, Clone)]
pub struct PpLine {
    pub index: i64,
    pub name: String,
    pub std_type: Option<String>,
    pub from_bus: i64,
    pub to_bus: i64,
    pub length_km: f64,
    pub r_ohm_per_km: f64,
    pub x_ohm_per_km: f64,
    pub r0_ohm_per_km: Option<f64>,
    pub x0_ohm_per_km: Option<f64>,
    /// Thermal rating of one conductor, kA, times `parallel` and `df`.
    pub max_i_ka: f64,
    pub parallel: f64,
}

/// The two-winding transformer feeding the low-voltage network.
#[derive(Debug, Clone)]
pub struct PpTrafo {
    pub index: i64,
    pub name: String,
    pub hv_bus: i64,
    pub lv_bus: i64,
    pub sn_mva: f64,
    pub vn_hv_kv: f64,
    pub vn_lv_kv: f64,
    pub vk_percent: f64,
    pub vkr_percent: f64,
    pub vk0_percent: f64,
    pub vkr0_percent: f64,
    pub mag0_percent: f64,
    pub mag0_rx: f64,
    pub si0_hv_partial: f64,
    pub shift_degree: f64,
    pub vector_group: String,
    /// Off-nominal ratio from the tap position, on the tap's side (1 at the neutral tap).
    pub tap_ratio: f64,
    pub tap_side_hv: bool,
    pub parallel: f64,
}

/// A load or static generator on one phase (or all three), kW and kvar consumed (a generator's
/// values are negated).
#[derive(Debug, Clone)]
pub struct PpLoad {
    pub table: &'static str,
    pub index: i64,
    pub name: String,
    pub bus: i64,
    pub phase: Phase,
    pub p_kw: f64,
    pub q_kvar: f64,
    /// Rated apparent power, kVA (`sn_mva`, where given and positive).
    pub sn_kva: Option<f64>,
}

/// What a pandapower file describes, as far as peergrid models it.
#[derive(Debug, Clone, Default)]
pub struct PpNet {
    pub buses: Vec<PpBus>,
    pub lines: Vec<PpLine>,
    pub trafo: Option<PpTrafo>,
    /// The external grid's bus and voltage set-point, per unit.
    pub ext_grid_bus: i64,
    pub ext_grid_vm_pu: f64,
    pub loads: Vec<PpLoad>,
    pub generators: Vec<PpLoad>,
    /// Elements read but not modelled, or left out (out of service), by name.
    pub warnings: Vec<String>,
}

/// One DataFrame of the file: column positions by name and its rows.
struct Table<'a> {
    name: &'static str,
    columns: HashMap<String, usize>,
    index: Vec<Value>,
    data: Vec<Value>,
    path: &'a Path,
}

impl<'a> Table<'a> {
    fn len(&self) -> usize {
        self.data.len()
    }

    /// The row's index value (the element's id); [`read_pandapower`] checks first that every
    /// index is an integer.
    fn id(&self, row: usize) -> i64 {
        self.index.get(row).and_then(Value::as_i64).unwrap_or(row as i64)
    }

    fn element(&self, row: usize) -> String {
        match self.text(row, "name") {
            Some(n) if !n.is_empty() => format!("{}[{}] (`{n}`)", self.name, self.id(row)),
            _ => format!("{}[{}]", self.name, self.id(row)),
        }
    }

    fn err(&self, row: usize, field: &str, message: impl Into<String>) -> InputError {
        InputError { file: self.path.into(), location: Location::Field(format!("{}.{field}", self.element(row))), message: message.into() }
    }

    fn cell(&self, row: usize, column: &str) -> Option<&Value> {
        let c = *self.columns.get(column)?;
        self.data.get(row)?.as_array()?.get(c).filter(|v| !v.is_null())
    }

    fn text(&self, row: usize, column: &str) -> Option<String> {
        match self.cell(row, column)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A number (or a numeric string), `None` when the column or value is missing.
    fn opt_number(&self, row: usize, column: &str) -> Result<Option<f64>, InputError> {
        let Some(v) = self.cell(row, column) else { return Ok(None) };
        let x = match v {
            Value::Number(n) => n.as_f64(),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match x {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err(self.err(row, column, format!("`{v}` is not a finite number"))),
        }
    }

    fn number(&self, row: usize, column: &str) -> Result<f64, InputError> {
        self.opt_number(row, column)?.ok_or_else(|| self.err(row, column, "missing (pandapower has no default for it)"))
    }

    fn number_or(&self, row: usize, column: &str, default: f64) -> Result<f64, InputError> {
        Ok(self.opt_number(row, column)?.unwrap_or(default))
    }

    fn in_service(&self, row: usize) -> bool {
        !matches!(self.cell(row, "in_service"), Some(Value::Bool(false)))
    }

    fn bus(&self, row: usize, column: &str, buses: &HashMap<i64, usize>) -> Result<i64, InputError> {
        let b = self.number(row, column)?;
        if b.fract() != 0.0 || !buses.contains_key(&(b as i64)) {
            return Err(self.err(row, column, format!("bus {b} is not in the bus table")));
        }
        Ok(b as i64)
    }
}

/// Reads the network in `path`.
pub fn read_pandapower(path: &Path) -> Result<PpNet, InputError> {
    let text = crate::base::input::read_text(path, "pandapower network", crate::base::input::MAX_DATA_FILE_BYTES)?;
    let root: Value = serde_json::from_str(&text).map_err(|e| InputError { file: path.into(), location: Location::LineColumn { line: e.line(), column: e.column() }, message: format!("not JSON: {e} (pandapower writes NaN outside tables; save with `pandapower.to_json`)") })?;
    let bad = |m: String| InputError::file(path, m);
    if root.get("_class").and_then(Value::as_str) != Some("pandapowerNet") {
        return Err(bad("not a pandapower network (`_class` is not \"pandapowerNet\"; save it with `pandapower.to_json`)".into()));
    }
    let Some(obj) = root.get("_object").and_then(Value::as_object) else {
        return Err(bad("`_object` is not a table map: a file written before pandapower 2.0 (load it in pandapower and save it again)".into()));
    };
    let version = obj.get("format_version").and_then(Value::as_str).unwrap_or("0");
    let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 3 {
        return Err(bad(format!("format_version {version}: peergrid reads pandapower 3.0 or later (bus coordinates in `bus.geo`); load it in pandapower and save it again")));
    }
    let table = |name: &'static str| -> Result<Option<Table>, InputError> {
        let Some(t) = obj.get(name) else { return Ok(None) };
        let Some(inner) = t.get("_object").and_then(Value::as_str) else {
            return Err(InputError::field(path, name, "not a pandas DataFrame (`_object` is not a JSON string)"));
        };
        if t.get("orient").and_then(Value::as_str).is_some_and(|o| o != "split") {
            return Err(InputError::field(path, name, "only DataFrames in \"split\" orientation are read"));
        }
        let mut split: Value = serde_json::from_str(inner).map_err(|e| InputError::field(path, name, format!("its DataFrame is not JSON: {e}")))?;
        let columns: HashMap<String, usize> = split.get("columns").and_then(Value::as_array).map(|c| c.iter().enumerate().filter_map(|(i, n)| n.as_str().map(|n| (n.to_string(), i))).collect()).unwrap_or_default();
        let index = split.get_mut("index").map(Value::take).and_then(|v| if let Value::Array(a) = v { Some(a) } else { None }).unwrap_or_default();
        let data = split.get_mut("data").map(Value::take).and_then(|v| if let Value::Array(a) = v { Some(a) } else { None }).unwrap_or_default();
        if index.len() != data.len() {
            return Err(InputError::field(path, name, format!("{} index values for {} rows", index.len(), data.len())));
        }
        if let Some((row, bad)) = index.iter().enumerate().find(|(_, i)| i.as_i64().is_none()) {
            return Err(InputError::field(path, format!("{name}.index[{row}]"), format!("`{bad}` is not an integer: elements are referred to by integer ids")));
        }
        Ok(Some(Table { name, columns, index, data, path }))
    };
    let mut net = PpNet { ext_grid_vm_pu: 1.0, ..Default::default() };
    for name in UNSUPPORTED_TABLES {
        if let Some(t) = table(name)?
            && t.len() > 0
        {
            let names: Vec<String> = (0..t.len().min(5)).map(|r| t.element(r)).collect();
            let more = if t.len() > 5 { format!(" and {} more", t.len() - 5) } else { String::new() };
            let why = if name == "switch" { " (an open line switch's line stays in the network, buses joined by a bus-bus switch stay apart: open or merge them in pandapower first)" } else { "" };
            net.warnings.push(format!("{} `{name}` element(s) not modelled, left out: {}{more}{why}", t.len(), names.join(", ")));
        }
    }
    debug_assert!(READ_TABLES.iter().all(|t| !UNSUPPORTED_TABLES.contains(t)));

    let Some(bus) = table("bus")? else { return Err(bad("no `bus` table".into())) };
    let mut bus_row = HashMap::new();
    for r in 0..bus.len() {
        let index = bus.id(r);
        if bus_row.insert(index, net.buses.len()).is_some() {
            return Err(bus.err(r, "index", "bus index used twice"));
        }
        let vn_kv = bus.number(r, "vn_kv")?;
        if vn_kv <= 0.0 {
            return Err(bus.err(r, "vn_kv", format!("{vn_kv} kV: must be > 0")));
        }
        let (x_m, y_m) = match bus.cell(r, "geo") {
            None => (0.0, 0.0),
            Some(g) => point(g).ok_or_else(|| bus.err(r, "geo", "not a GeoJSON Point with two finite coordinates"))?,
        };
        if !bus.in_service(r) {
            net.warnings.push(format!("{} is out of service: kept as a node", bus.element(r)));
        }
        net.buses.push(PpBus { index, name: bus.text(r, "name").unwrap_or_else(|| index.to_string()), vn_kv, x_m, y_m });
    }

    if let Some(line) = table("line")? {
        for r in 0..line.len() {
            if !line.in_service(r) {
                net.warnings.push(format!("{} is out of service: left out", line.element(r)));
                continue;
            }
            let from_bus = line.bus(r, "from_bus", &bus_row)?;
            let to_bus = line.bus(r, "to_bus", &bus_row)?;
            let positive = |field: &str| -> Result<f64, InputError> {
                let x = line.number(r, field)?;
                if x <= 0.0 { Err(line.err(r, field, format!("{x}: must be > 0"))) } else { Ok(x) }
            };
            let non_negative = |field: &str, x: Option<f64>| -> Result<Option<f64>, InputError> {
                match x {
                    Some(x) if x < 0.0 => Err(line.err(r, field, format!("{x}: must be ≥ 0"))),
                    x => Ok(x),
                }
            };
            let length_km = positive("length_km")?;
            let parallel = line.number_or(r, "parallel", 1.0)?;
            if parallel < 1.0 || parallel.fract() != 0.0 {
                return Err(line.err(r, "parallel", format!("{parallel}: must be a whole number ≥ 1")));
            }
            let df = line.number_or(r, "df", 1.0)?;
            if !(df > 0.0 && df <= 1.0) {
                return Err(line.err(r, "df", format!("{df}: must be in (0, 1]")));
            }
            for field in ["c_nf_per_km", "c0_nf_per_km", "g_us_per_km", "g0_us_per_km"] {
                if line.opt_number(r, field)?.unwrap_or(0.0) != 0.0 {
                    net.warnings.push(format!("{}: {field} is not modelled (series impedance only)", line.element(r)));
                }
            }
            net.lines.push(PpLine {
                index: line.id(r),
                name: line.text(r, "name").unwrap_or_else(|| format!("line{}", line.id(r))),
                std_type: line.text(r, "std_type"),
                from_bus,
                to_bus,
                length_km,
                r_ohm_per_km: non_negative("r_ohm_per_km", Some(line.number(r, "r_ohm_per_km")?))?.unwrap_or(0.0),
                x_ohm_per_km: non_negative("x_ohm_per_km", Some(line.number(r, "x_ohm_per_km")?))?.unwrap_or(0.0),
                r0_ohm_per_km: non_negative("r0_ohm_per_km", line.opt_number(r, "r0_ohm_per_km")?)?,
                x0_ohm_per_km: non_negative("x0_ohm_per_km", line.opt_number(r, "x0_ohm_per_km")?)?,
                max_i_ka: positive("max_i_ka")? * parallel * df,
                parallel,
            });
        }
    }

    let no_zero: Vec<&str> = net.lines.iter().filter(|l| l.r0_ohm_per_km.is_none() || l.x0_ohm_per_km.is_none()).map(|l| l.name.as_str()).collect();
    if !no_zero.is_empty() {
        net.warnings.push(format!(
            "{} line(s) without r0_ohm_per_km / x0_ohm_per_km take their positive-sequence values (unbalanced voltages depend on them): {}{}",
            no_zero.len(),
            no_zero.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if no_zero.len() > 5 { ", …" } else { "" }
        ));
    }
    if let Some(t) = table("trafo")? {
        let rows: Vec<usize> = (0..t.len()).filter(|&r| t.in_service(r)).collect();
        for r in (0..t.len()).filter(|&r| !t.in_service(r)) {
            net.warnings.push(format!("{} is out of service: left out", t.element(r)));
        }
        if rows.len() > 1 {
            return Err(InputError::field(path, "trafo", format!("{} transformers in service: peergrid models one distribution transformer feeding the network", rows.len())));
        }
        if let Some(&r) = rows.first() {
            let hv_bus = t.bus(r, "hv_bus", &bus_row)?;
            let lv_bus = t.bus(r, "lv_bus", &bus_row)?;
            if hv_bus == lv_bus {
                return Err(t.err(r, "lv_bus", format!("bus {lv_bus} is also its high-voltage bus")));
            }
            let vector_group = t.text(r, "vector_group").unwrap_or_default();
            let tap_pos = t.number_or(r, "tap_pos", 0.0)?;
            let tap_neutral = t.number_or(r, "tap_neutral", 0.0)?;
            let tap_step = t.number_or(r, "tap_step_percent", 0.0)?;
            // pandapower 3 applies a tap only with a tap changer type; "Ratio" changes the
            // voltage ratio, the others shift the phase.
            let changer = t.text(r, "tap_changer_type");
            let tap_pos = match changer.as_deref() {
                None => tap_neutral,
                Some("Ratio") => tap_pos,
                Some(other) if tap_pos != tap_neutral => return Err(t.err(r, "tap_changer_type", format!("`{other}`: only ratio taps are modelled (set the tap to its neutral position)"))),
                Some(_) => tap_neutral,
            };
            if t.number_or(r, "pfe_kw", 0.0)? != 0.0 || t.number_or(r, "i0_percent", 0.0)? != 0.0 {
                net.warnings.push(format!("{}: no-load losses (pfe_kw, i0_percent) are not modelled", t.element(r)));
            }
            let tap_side_hv = t.text(r, "tap_side").is_none_or(|s| s != "lv");
            let trafo = PpTrafo {
                index: t.id(r),
                name: t.text(r, "name").unwrap_or_else(|| format!("trafo{}", t.id(r))),
                hv_bus,
                lv_bus,
                sn_mva: t.number(r, "sn_mva")?,
                vn_hv_kv: t.number(r, "vn_hv_kv")?,
                vn_lv_kv: t.number(r, "vn_lv_kv")?,
                vk_percent: t.number(r, "vk_percent")?,
                vkr_percent: t.number(r, "vkr_percent")?,
                // pandapower takes the positive sequence's where the zero sequence's is 0.
                vk0_percent: Some(t.number(r, "vk0_percent")?).filter(|x| *x != 0.0).map_or_else(|| t.number(r, "vk_percent"), Ok)?,
                vkr0_percent: if t.number(r, "vk0_percent")? == 0.0 { t.number(r, "vkr_percent")? } else { t.number(r, "vkr0_percent")? },
                mag0_percent: t.number(r, "mag0_percent")?,
                mag0_rx: t.number_or(r, "mag0_rx", 0.0)?,
                si0_hv_partial: t.number(r, "si0_hv_partial")?,
                shift_degree: t.number_or(r, "shift_degree", 0.0)?,
                vector_group,
                tap_ratio: 1.0 + (tap_pos - tap_neutral) * tap_step / 100.0,
                tap_side_hv,
                parallel: t.number_or(r, "parallel", 1.0)?,
            };
            for (field, x) in [("sn_mva", trafo.sn_mva), ("vn_hv_kv", trafo.vn_hv_kv), ("vn_lv_kv", trafo.vn_lv_kv), ("vk_percent", trafo.vk_percent), ("vk0_percent", trafo.vk0_percent), ("parallel", trafo.parallel)] {
                if x <= 0.0 {
                    return Err(t.err(r, field, format!("{x}: must be > 0")));
                }
            }
            for (field, x, of) in [("vkr_percent", trafo.vkr_percent, trafo.vk_percent), ("vkr0_percent", trafo.vkr0_percent, trafo.vk0_percent)] {
                if !(0.0..=of).contains(&x) {
                    return Err(t.err(r, field, format!("{x}: must be in 0..={of} (its vk)")));
                }
            }
            if !(0.0..=1.0).contains(&trafo.si0_hv_partial) {
                return Err(t.err(r, "si0_hv_partial", format!("{}: must be in 0..=1", trafo.si0_hv_partial)));
            }
            if trafo.mag0_percent <= 0.0 || trafo.mag0_rx < 0.0 {
                return Err(t.err(r, "mag0_percent", "the zero-sequence magnetising impedance must be > 0 (mag0_rx ≥ 0)"));
            }
            if !matches!(trafo.vector_group.as_str(), "Dyn" | "YNyn") {
                return Err(t.err(r, "vector_group", format!("`{}`: the three-phase flow models Dyn and YNyn transformers", trafo.vector_group)));
            }
            net.trafo = Some(trafo);
        }
    }

    let Some(ext) = table("ext_grid")? else { return Err(bad("no `ext_grid` table: the network needs its supply point".into())) };
    let rows: Vec<usize> = (0..ext.len()).filter(|&r| ext.in_service(r)).collect();
    for r in (0..ext.len()).filter(|&r| !ext.in_service(r)) {
        net.warnings.push(format!("{} is out of service: left out", ext.element(r)));
    }
    match rows.as_slice() {
        [r] => {
            net.ext_grid_bus = ext.bus(*r, "bus", &bus_row)?;
            net.ext_grid_vm_pu = ext.number_or(*r, "vm_pu", 1.0)?;
            if !(0.5..=1.5).contains(&net.ext_grid_vm_pu) {
                return Err(ext.err(*r, "vm_pu", format!("{}: must be in 0.5..=1.5", net.ext_grid_vm_pu)));
            }
            if ext.number_or(*r, "va_degree", 0.0)? != 0.0 {
                net.warnings.push(format!("{}: va_degree is ignored (angles are relative to the supply)", ext.element(*r)));
            }
        }
        [] => return Err(InputError::field(path, "ext_grid", "no external grid in service: the network needs its supply point")),
        more => return Err(InputError::field(path, "ext_grid", format!("{} external grids in service: peergrid models one supply point", more.len()))),
    }

    for (name, generator) in [("load", false), ("sgen", true)] {
        let Some(t) = table(name)? else { continue };
        for r in 0..t.len() {
            if !t.in_service(r) {
                net.warnings.push(format!("{} is out of service: left out", t.element(r)));
                continue;
            }
            let scaling = t.number_or(r, "scaling", 1.0)?;
            let sign = if generator { -1.0 } else { 1.0 };
            let sn_kva = Some(scaling * 1000.0 * t.number_or(r, "sn_mva", 0.0)?).filter(|x| *x > 0.0);
            let e = PpLoad { table: name, index: t.id(r), name: t.text(r, "name").unwrap_or_default(), bus: t.bus(r, "bus", &bus_row)?, phase: Phase::Three, p_kw: sign * scaling * 1000.0 * t.number(r, "p_mw")?, q_kvar: sign * scaling * 1000.0 * t.number_or(r, "q_mvar", 0.0)?, sn_kva };
            if generator { net.generators.push(e) } else { net.loads.push(e) }
        }
    }
    for (name, generator) in [("asymmetric_load", false), ("asymmetric_sgen", true)] {
        let Some(t) = table(name)? else { continue };
        for r in 0..t.len() {
            if !t.in_service(r) {
                net.warnings.push(format!("{} is out of service: left out", t.element(r)));
                continue;
            }
            if t.text(r, "type").is_some_and(|ty| ty != "wye") {
                return Err(t.err(r, "type", "only phase-to-neutral (`wye`) elements are modelled"));
            }
            let scaling = t.number_or(r, "scaling", 1.0)?;
            let mut phases = Vec::new();
            for (p, phase) in [("a", Phase::A), ("b", Phase::B), ("c", Phase::C)] {
                let pk = t.number_or(r, &format!("p_{p}_mw"), 0.0)?;
                let qk = t.number_or(r, &format!("q_{p}_mvar"), 0.0)?;
                if pk != 0.0 || qk != 0.0 {
                    phases.push((phase, pk, qk));
                }
            }
            let (phase, p_mw, q_mvar) = match phases.as_slice() {
                [] => (Phase::A, 0.0, 0.0),
                [one] => *one,
                [(_, pa, qa), (_, pb, qb), (_, pc, qc)] if pa == pb && pb == pc && qa == qb && qb == qc => (Phase::Three, 3.0 * pa, 3.0 * qa),
                _ => return Err(t.err(r, "p_a_mw", format!("{} on two phases, or unequal on three: a household is on one phase or on all three evenly", if generator { "a generator" } else { "a load" }))),
            };
            let name_text = t.text(r, "name").unwrap_or_default();
            let sign = if generator { -1.0 } else { 1.0 };
            let sn_kva = Some(scaling * 1000.0 * t.number_or(r, "sn_mva", 0.0)?).filter(|x| *x > 0.0);
            let e = PpLoad { table: name, index: t.id(r), name: name_text, bus: t.bus(r, "bus", &bus_row)?, phase, p_kw: sign * scaling * 1000.0 * p_mw, q_kvar: sign * scaling * 1000.0 * q_mvar, sn_kva };
            if generator { net.generators.push(e) } else { net.loads.push(e) }
        }
    }
    Ok(net)
}

/// A GeoJSON Point (`{"type": "Point", "coordinates": [x, y]}`), as an object or a string.
fn point(g: &Value) -> Option<(f64, f64)> {
    let parsed;
    let g = match g {
        Value::String(s) => {
            parsed = serde_json::from_str::<Value>(s).ok()?;
            &parsed
        }
        g => g,
    };
    if g.get("type")?.as_str()? != "Point" {
        return None;
    }
    let c = g.get("coordinates")?.as_array()?;
    let (x, y) = (c.first()?.as_f64()?, c.get(1)?.as_f64()?);
    (x.is_finite() && y.is_finite()).then_some((x, y))
}
