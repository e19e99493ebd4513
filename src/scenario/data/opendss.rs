//! Reads a feeder in OpenDSS's text format (`.dss`): `Redirect`/`Compile`, the circuit's source
//! (`Circuit`/`Vsource`), `LineCode`, `Line`, one two-winding `Transformer`, `Load` and
//! `BusCoords`: enough for the IEEE European LV test feeder and hand-written feeders. The result
//! is the same network model the pandapower reader gives ([`PpNet`]), so households attach to
//! loads and the topology is built the same way.
//!
//! The syntax is OpenDSS's: one command per line, `!` and `//` end a line, `/* … */` blocks
//! whole lines, `~` (or `more`) continues the last object; names, classes and properties are
//! case-insensitive, properties may be abbreviated to a unique prefix and given by position in
//! OpenDSS's declaration order, and arrays are in `[ ]`, `( )`, `" "` or `' '`. Relative paths
//! are from the file that names them. Errors name the file and line. Commands that only solve,
//! plot or report are accepted and do nothing; elements peergrid does not model are listed in
//! the warnings.

use super::pandapower::{PpBus, PpLine, PpLoad, PpNet, PpTrafo};
use crate::base::error::{InputError, Location};
use crate::grid::topology::Phase;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Deepest `Redirect` nesting.
const MAX_DEPTH: usize = 16;
/// Most commands over all files.
const MAX_COMMANDS: usize = 2_000_000;
/// OpenDSS's default line and line code rating, A.
const DEFAULT_NORMAMPS_A: f64 = 400.0;
/// OpenDSS's default source: 115 kV, 2000 MVA three-phase short-circuit level, X/R 4.
const DEFAULT_SOURCE_KV: f64 = 115.0;
const DEFAULT_MVASC3: f64 = 2000.0;
const DEFAULT_X1R1: f64 = 4.0;
/// OpenDSS's default transformer winding resistance (%R) and leakage reactance (XHL), %.
const DEFAULT_PCT_R: f64 = 0.2;
const DEFAULT_XHL_PCT: f64 = 7.0;
/// A source with a short-circuit level above this is stiff, MVA.
const STIFF_MVASC: f64 = 1e6;

/// Where a command was: file and 1-based line.
#[derive(Debug, Clone)]
struct At {
    file: PathBuf,
    line: usize,
}

impl At {
    /// An error at this line; a message that quotes long input is cut at 300 characters.
    fn err(&self, message: impl Into<String>) -> InputError {
        let mut message = message.into();
        if let Some((i, _)) = message.char_indices().nth(300) {
            message.truncate(i);
            message.push('…');
        }
        InputError { file: self.file.clone(), location: Location::LineColumn { line: self.line, column: 1 }, message }
    }
}

/// Length units of line codes and lines.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Units {
    None,
    Mi,
    Kft,
    Km,
    M,
    Ft,
    In,
    Cm,
}

impl Units {
    fn parse(s: &str) -> Option<Units> {
        Some(match s.to_ascii_lowercase().as_str() {
            "none" => Units::None,
            "mi" | "miles" => Units::Mi,
            "kft" => Units::Kft,
            "km" => Units::Km,
            "m" | "meter" | "meters" => Units::M,
            "ft" | "feet" => Units::Ft,
            "in" | "inch" | "inches" => Units::In,
            "cm" => Units::Cm,
            _ => return None,
        })
    }

    /// Kilometres in one unit (`None` has none).
    fn km(self) -> Option<f64> {
        Some(match self {
            Units::None => return None,
            Units::Mi => 1.609344,
            Units::Kft => 0.3048,
            Units::Km => 1.0,
            Units::M => 1e-3,
            Units::Ft => 0.3048e-3,
            Units::In => 0.0254e-3,
            Units::Cm => 1e-5,
        })
    }
}

#[derive(Debug, Clone)]
struct LineCode {
    r1: f64,
    x1: f64,
    r0: f64,
    x0: f64,
    c_given_nonzero: bool,
    units: Units,
    normamps: f64,
    matrix: bool,
}

impl Default for LineCode {
    /// OpenDSS's defaults (336 MCM ACSR, Ω per unit length).
    fn default() -> Self {
        LineCode { r1: 0.058, x1: 0.1206, r0: 0.1784, x0: 0.4047, c_given_nonzero: false, units: Units::None, normamps: DEFAULT_NORMAMPS_A, matrix: false }
    }
}

#[derive(Debug, Clone)]
struct DssLine {
    name: String,
    at: At,
    bus1: String,
    bus2: String,
    linecode: Option<String>,
    length: f64,
    units: Units,
    phases: u32,
    /// Impedances given on the line itself (they override the line code's).
    own: LineCode,
    own_given: bool,
    normamps: Option<f64>,
    switch: bool,
}

#[derive(Debug, Clone)]
struct DssTransformer {
    name: String,
    at: At,
    phases: u32,
    windings: u32,
    winding: usize,
    buses: [String; 2],
    delta: [bool; 2],
    kv: [f64; 2],
    kva: [f64; 2],
    pct_r: [f64; 2],
    xhl_pct: f64,
    lead: bool,
}

#[derive(Debug, Clone)]
struct DssLoad {
    name: String,
    at: At,
    bus1: String,
    phases: u32,
    kw: f64,
    pf: f64,
    kvar: Option<f64>,
    delta: bool,
}

#[derive(Debug, Clone)]
struct Source {
    at: Option<At>,
    bus: String,
    base_kv: f64,
    pu: f64,
    mvasc3: f64,
    isc3_a: Option<f64>,
    x1r1: f64,
    z1: Option<(f64, f64)>,
    ideal: bool,
}

impl Default for Source {
    fn default() -> Self {
        Source { at: None, bus: "sourcebus".into(), base_kv: DEFAULT_SOURCE_KV, pu: 1.0, mvasc3: DEFAULT_MVASC3, isc3_a: None, x1r1: DEFAULT_X1R1, z1: None, ideal: false }
    }
}

impl Source {
    /// The positive-sequence source impedance, Ω at its base voltage (none when ideal).
    fn z1_ohm(&self) -> Option<(f64, f64)> {
        if self.ideal {
            return None;
        }
        if let Some(z) = self.z1 {
            return Some(z);
        }
        let mva = self.isc3_a.map_or(self.mvasc3, |i| 3f64.sqrt() * self.base_kv * i / 1000.0);
        if mva >= STIFF_MVASC {
            return None;
        }
        let z = self.base_kv * self.base_kv / mva;
        let r = z / (1.0 + self.x1r1 * self.x1r1).sqrt();
        Some((r, r * self.x1r1))
    }
}

/// What the last `New`/`Edit` made active, for `~` continuations.
#[derive(Debug, Clone, Copy)]
enum Active {
    Source,
    LineCode(usize),
    Line(usize),
    Transformer(usize),
    Load(usize),
    Other,
}

/// Properties in OpenDSS's declaration order (positional values take the next one).
const LINE_PROPS: &[&str] = &["bus1", "bus2", "linecode", "length", "phases", "r1", "x1", "r0", "x0", "c1", "c0", "rmatrix", "xmatrix", "cmatrix", "switch", "rg", "xg", "rho", "geometry", "units", "spacing", "wires", "earthmodel", "cncables", "tscables", "b1", "b0", "seasons", "ratings", "linetype", "normamps", "emergamps", "faultrate", "pctperm", "repair", "basefreq", "enabled", "like"];
const LINECODE_PROPS: &[&str] = &["nphases", "r1", "x1", "r0", "x0", "c1", "c0", "units", "rmatrix", "xmatrix", "cmatrix", "basefreq", "normamps", "emergamps", "faultrate", "pctperm", "repair", "kron", "rg", "xg", "rho", "neutral", "b1", "b0", "seasons", "ratings", "linetype", "like"];
const TRANSFORMER_PROPS: &[&str] = &[
    "phases", "windings", "wdg", "bus", "conn", "kv", "kva", "tap", "%r", "rneut", "xneut", "buses", "conns", "kvs", "kvas", "taps", "xhl", "xht", "xlt", "xscarray", "thermal", "n", "m", "flrise", "hsrise", "%loadloss", "%noloadloss", "normhkva", "emerghkva", "sub",
    "maxtap", "mintap", "numtaps", "subname", "%imag", "ppm_antifloat", "%rs", "bank", "xfmrcode", "xrconst", "x12", "x13", "x23", "leadlag", "wdgcurrents", "core", "rdcohms", "seasons", "ratings", "normamps", "emergamps", "faultrate", "pctperm", "repair", "basefreq",
    "enabled", "like",
];
const LOAD_PROPS: &[&str] = &[
    "phases", "bus1", "kv", "kw", "pf", "model", "yearly", "daily", "duty", "growth", "conn", "kvar", "rneut", "xneut", "status", "class", "vminpu", "vmaxpu", "vminnorm", "vminemerg", "xfkva", "allocationfactor", "kva", "%mean", "%stddev", "cvrwatts", "cvrvars", "kwh", "kwhdays",
    "cfactor", "cvrcurve", "numcust", "zipv", "%seriesrl", "relweight", "vlowpu", "puxharm", "xrharm", "spectrum", "basefreq", "enabled", "like",
];
const VSOURCE_PROPS: &[&str] = &[
    "bus1", "basekv", "pu", "angle", "frequency", "phases", "mvasc3", "mvasc1", "x1r1", "x0r0", "isc3", "isc1", "r1", "x1", "r0", "x0", "scantype", "sequence", "bus2", "z1", "z0", "z2", "puz1", "puz0", "puz2", "basemva", "yearly", "daily", "duty", "model", "puzideal", "spectrum",
    "basefreq", "enabled", "like",
];

/// Classes that only observe or shape inputs peergrid takes elsewhere (meters, monitors, load
/// shapes, spectra): left out silently. Any other class peergrid does not read (generators, PV
/// systems, capacitors, regulators, switches, …) is listed in the warnings.
const IGNORED: &[&str] = &["energymeter", "monitor", "loadshape", "tshape", "priceshape", "growthshape", "spectrum", "xycurve", "tcc_curve", "wiredata", "cndata", "tsdata", "linegeometry", "linespacing", "sensor", "xfmrcode"];

/// The reader's state over all files.
#[derive(Default)]
struct Reader {
    source: Source,
    linecodes: Vec<(String, LineCode)>,
    linecode_ix: HashMap<String, usize>,
    lines: Vec<DssLine>,
    line_ix: HashMap<String, usize>,
    transformers: Vec<DssTransformer>,
    transformer_ix: HashMap<String, usize>,
    loads: Vec<DssLoad>,
    load_ix: HashMap<String, usize>,
    coords: HashMap<String, (f64, f64)>,
    active: Option<Active>,
    commands: usize,
    /// Files being read (to refuse a `Redirect` loop).
    open: Vec<PathBuf>,
    unmodelled: Vec<(String, usize)>,
    ignored_commands: Vec<String>,
    warnings: Vec<String>,
}

/// A token and whether it was written as `name=`.
#[derive(Debug, Clone)]
struct Token {
    name: Option<String>,
    value: String,
}

/// Splits a command into tokens as OpenDSS's parser does: `,`, `=` and white space delimit;
/// `( )`, `[ ]`, `{ }`, `" "` and `' '` quote (no nesting); a token followed by `=` names the
/// next one's property.
fn tokens(line: &str) -> Vec<Token> {
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let mut pending_name: Option<String> = None;
    let skip_space = |i: &mut usize| {
        while *i < chars.len() && (chars[*i].is_whitespace() || chars[*i] == ',') {
            *i += 1;
        }
    };
    loop {
        skip_space(&mut i);
        if i >= chars.len() {
            break;
        }
        let close = match chars[i] {
            '(' => Some(')'),
            '[' => Some(']'),
            '{' => Some('}'),
            '"' => Some('"'),
            '\'' => Some('\''),
            _ => None,
        };
        let word: String = if let Some(end) = close {
            let start = i + 1;
            i = start;
            while i < chars.len() && chars[i] != end {
                i += 1;
            }
            let w = chars[start..i.min(chars.len())].iter().collect();
            i += 1;
            w
        } else {
            let start = i;
            while i < chars.len() && !(chars[i].is_whitespace() || chars[i] == ',' || chars[i] == '=') {
                i += 1;
            }
            chars[start..i].iter().collect()
        };
        // A `=` after the word (spaces allowed) makes it a name.
        let mut j = i;
        while j < chars.len() && chars[j].is_whitespace() {
            j += 1;
        }
        if pending_name.is_none() && close.is_none() && j < chars.len() && chars[j] == '=' {
            pending_name = Some(word.to_ascii_lowercase());
            i = j + 1;
            continue;
        }
        out.push(Token { name: pending_name.take(), value: word });
    }
    out
}

/// The numbers of an array value (`[11 .416]`, `"0.2 0.2"`).
fn numbers(value: &str) -> Option<Vec<f64>> {
    value.split(|c: char| c.is_whitespace() || c == ',' || c == '|').filter(|s| !s.is_empty()).map(|s| s.parse::<f64>().ok().filter(|x| x.is_finite())).collect()
}

fn words(value: &str) -> Vec<String> {
    value.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A bus reference `name.n1.n2…`: the name (lower case) and its nodes.
fn bus_ref(value: &str, at: &At) -> Result<(String, Vec<u32>), InputError> {
    let mut parts = value.split('.');
    let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    if name.is_empty() {
        return Err(at.err(format!("`{}` is not a bus name", short(value))));
    }
    let nodes = parts.map(|n| n.trim().parse::<u32>().ok().filter(|n| *n <= 3).ok_or_else(|| at.err(format!("bus `{}`: node `{}` is not 0 (ground), 1, 2 or 3", short(value), short(n))))).collect::<Result<Vec<u32>, _>>()?;
    Ok((name, nodes))
}

/// The property a token sets: its name's first match by prefix in `props`, or (unnamed) the one
/// after the last set.
fn property(props: &[&'static str], token: &Token, last: &mut Option<usize>, at: &At, class: &str) -> Result<&'static str, InputError> {
    let k = match &token.name {
        // The exact name, else the first that starts with it (`kva` is not `kvar`).
        Some(n) => props.iter().position(|p| p == n).or_else(|| props.iter().position(|p| p.starts_with(n.as_str()))).ok_or_else(|| at.err(format!("{class} has no property `{}`", short(n))))?,
        None => last.map_or(0, |k| k + 1),
    };
    *last = Some(k);
    props.get(k).copied().ok_or_else(|| at.err(format!("{class}: too many values without a property name (`{}`)", short(&token.value))))
}

fn number(value: &str, prop: &str, at: &At) -> Result<f64, InputError> {
    value.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| at.err(format!("`{prop}`: `{}` is not a number (expressions are not read)", short(value))))
}

/// A number within `lo..=hi` (`lo` exclusive when `open`).
fn bounded(value: &str, prop: &str, at: &At, lo: f64, open: bool, hi: f64) -> Result<f64, InputError> {
    let x = number(value, prop, at)?;
    if (if open { x > lo } else { x >= lo }) && x <= hi {
        return Ok(x);
    }
    let range = match (open, hi == f64::MAX) {
        (true, true) => format!("above {lo}"),
        (false, true) => format!("at least {lo}"),
        (true, false) => format!("above {lo} and at most {hi}"),
        (false, false) => format!("between {lo} and {hi}"),
    };
    Err(at.err(format!("`{prop}`: {} must be {range}", short(value))))
}

/// A count that must be one of `allowed` (phases, windings).
fn count(value: &str, prop: &str, at: &At, allowed: &[u32]) -> Result<u32, InputError> {
    let x = number(value, prop, at)?;
    allowed.iter().copied().find(|a| f64::from(*a) == x).ok_or_else(|| at.err(format!("`{prop}={}`: peergrid reads {}", short(value), allowed.iter().map(u32::to_string).collect::<Vec<_>>().join(" or "))))
}

/// A value as messages show it: at most 40 characters.
fn short(value: &str) -> String {
    match value.char_indices().nth(40) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_string(),
    }
}

/// Largest impedance per unit length, Ω; largest length, km; largest rating, A; largest
/// voltage, kV; largest power, kVA or kW.
const MAX_OHM: f64 = 100.0;
const MAX_LENGTH_KM: f64 = 100.0;
const MAX_AMPS: f64 = 1e5;
const MAX_KV: f64 = 1_000.0;
const MAX_KVA: f64 = 1e6;
/// Smallest voltage (kV), rating (kVA) and |power factor| read: below them the flow has no
/// meaning (a 1e-300 kV winding, a load of pure reactive power).
const MIN_KV: f64 = 0.1;
const MIN_KVA: f64 = 1.0;
const MIN_POWER_FACTOR: f64 = 0.1;
/// Largest coordinate, m, and largest load, kW or kvar.
const MAX_COORDINATE: f64 = 1e8;
const MAX_LOAD_KW: f64 = 1e4;

fn yes(value: &str) -> bool {
    matches!(value.trim().chars().next().map(|c| c.to_ascii_lowercase()), Some('y' | 't'))
}

/// Reads the feeder whose top file is `path` (usually `Master.dss`).
pub fn read_opendss(path: &Path) -> Result<PpNet, InputError> {
    let mut r = Reader::default();
    r.file(path, &At { file: path.to_path_buf(), line: 0 })?;
    r.finish(path)
}

impl Reader {
    fn file(&mut self, path: &Path, from: &At) -> Result<(), InputError> {
        if self.open.len() >= MAX_DEPTH {
            return Err(from.err(format!("`Redirect` nested more than {MAX_DEPTH} deep")));
        }
        let mut path = path.to_path_buf();
        if !path.exists() && path.extension().is_none() {
            path.set_extension("dss");
        }
        let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
        if self.open.contains(&canonical) {
            return Err(from.err(format!("Redirect {}: that file is already being read (a loop)", path.display())));
        }
        let text = crate::base::input::read_text(&path, "OpenDSS file", crate::base::input::MAX_DATA_FILE_BYTES).map_err(|e| if from.line > 0 && matches!(e.location, Location::File) { from.err(format!("Redirect: {}: {}", path.display(), e.message)) } else { e })?;
        // Any carriage return ends a line, as in OpenDSS (CRLF, or a CR alone).
        let text = text.replace("\r\n", "\n").replace('\r', "\n");
        self.open.push(canonical);
        let mut in_block: Option<usize> = None;
        for (n, raw) in text.lines().enumerate() {
            let at = At { file: path.clone(), line: n + 1 };
            let trimmed = raw.trim_start();
            if in_block.is_some() {
                if raw.contains("*/") {
                    in_block = None;
                }
                continue;
            }
            if let Some(rest) = trimmed.strip_prefix("/*") {
                in_block = (!rest.contains("*/")).then_some(n + 1);
                continue;
            }
            let mut line = raw;
            for mark in ["!", "//"] {
                if let Some(k) = line.find(mark) {
                    line = &line[..k];
                }
            }
            if line.trim().is_empty() {
                continue;
            }
            self.commands += 1;
            if self.commands > MAX_COMMANDS {
                return Err(at.err(format!("more than {MAX_COMMANDS} commands")));
            }
            self.command(line, &at)?;
        }
        if let Some(start) = in_block {
            return Err(At { file: path.clone(), line: start }.err("a `/*` comment that is never closed with `*/`"));
        }
        self.open.pop();
        Ok(())
    }

    fn command(&mut self, line: &str, at: &At) -> Result<(), InputError> {
        let mut toks = tokens(line);
        if toks.is_empty() {
            return Ok(());
        }
        let first = toks.remove(0);
        if let Some(name) = &first.name {
            return Err(at.err(format!("`{}=…`: write `Edit Class.Name property=value` to change an object", short(name))));
        }
        let verb = first.value.to_ascii_lowercase();
        let dir = at.file.parent().unwrap_or(Path::new("."));
        match verb.as_str() {
            "new" | "edit" => {
                let Some(obj) = toks.first().cloned() else { return Err(at.err(format!("`{verb}` without an object"))) };
                toks.remove(0);
                let (class, name) = match obj.value.split_once('.') {
                    Some((c, n)) => (c.to_ascii_lowercase(), n.to_string()),
                    None => return Err(at.err(format!("`{}`: give the object as Class.Name", obj.value))),
                };
                self.object(&class, &name, verb == "new", &toks, at)
            }
            "~" | "more" | "m" => match self.active {
                Some(a) => self.set(a, &toks, at),
                None => Err(at.err("`~` continues an object, but none was created yet")),
            },
            "redirect" | "compile" => {
                let Some(f) = toks.first() else { return Err(at.err(format!("`{verb}` without a file"))) };
                self.file(&dir.join(&f.value), at)
            }
            "buscoords" | "latlongcoords" => {
                let Some(f) = toks.first() else { return Err(at.err("`BusCoords` without a file")) };
                self.coords_file(&dir.join(&f.value), at)
            }
            "clear" | "clearall" => {
                let open = std::mem::take(&mut self.open);
                let warnings = std::mem::take(&mut self.warnings);
                *self = Reader { open, warnings, commands: self.commands, ..Default::default() };
                Ok(())
            }
            "set" | "solve" | "calcvoltagebases" | "calcv" | "batchedit" | "show" | "export" | "plot" | "sample" | "reset" | "closedi" | "makebuslist" | "cd" | "get" | "help" | "var" | "interpolate" | "totals" | "summary" => Ok(()),
            "open" | "close" | "disable" | "enable" | "remove" => Err(at.err(format!("`{}`: switching elements in or out is not read: leave the element out of the files (or in)", first.value))),
            _ if verb.contains('.') => {
                // `Line.x.bus1=…`: property assignment outside Edit.
                Err(at.err(format!("`{}`: write `Edit {}` to change an object", first.value, verb.rsplit_once('.').map_or(verb.as_str(), |(o, _)| o))))
            }
            _ => {
                self.ignored_commands.push(format!("`{}` ({}:{})", first.value, at.file.display(), at.line));
                Ok(())
            }
        }
    }

    fn object(&mut self, class: &str, name: &str, new: bool, toks: &[Token], at: &At) -> Result<(), InputError> {
        let key = name.to_ascii_lowercase();
        let active = match class {
            "circuit" => {
                if let Some(first) = &self.source.at {
                    return Err(at.err(format!("a second `New Circuit` (the first at {}:{}): one feeder per import", first.file.display(), first.line)));
                }
                self.source = Source { at: Some(at.clone()), ..Default::default() };
                Active::Source
            }
            "vsource" if key == "source" => Active::Source,
            "vsource" => return Err(at.err(format!("Vsource.{name}: only the circuit's source (Vsource.source) is read"))),
            "linecode" => Active::LineCode(self.index_of(class, &key, name, new, at)?),
            "line" => Active::Line(self.index_of(class, &key, name, new, at)?),
            "transformer" => Active::Transformer(self.index_of(class, &key, name, new, at)?),
            "load" => Active::Load(self.index_of(class, &key, name, new, at)?),
            _ => {
                if !IGNORED.contains(&class) && new {
                    match self.unmodelled.iter_mut().find(|(c, _)| c == class) {
                        Some((_, n)) => *n += 1,
                        None => self.unmodelled.push((class.to_string(), 1)),
                    }
                }
                Active::Other
            }
        };
        self.active = Some(active);
        if matches!(active, Active::Source) && class == "circuit" {
            // `New Circuit.x` takes the source's properties.
            return self.set(active, toks, at);
        }
        self.set(active, toks, at)
    }

    /// The element of `class` named `key`: a new one (`New`, or `Edit` of an unknown one is an
    /// error), or the existing one (a `New` on an existing name edits it, as OpenDSS does).
    fn index_of(&mut self, class: &str, key: &str, name: &str, new: bool, at: &At) -> Result<usize, InputError> {
        let existing = match class {
            "linecode" => self.linecode_ix.get(key),
            "line" => self.line_ix.get(key),
            "transformer" => self.transformer_ix.get(key),
            _ => self.load_ix.get(key),
        };
        if let Some(&i) = existing {
            if new {
                self.warnings.push(format!("{class} `{name}` is created twice ({}:{}): the second `New` changes the first, as in OpenDSS", at.file.display(), at.line));
            }
            return Ok(i);
        }
        if !new {
            return Err(at.err(format!("`Edit {class}.{name}`: no {class} of that name was created")));
        }
        let a = at.clone();
        Ok(match class {
            "linecode" => {
                self.linecodes.push((name.to_string(), LineCode::default()));
                self.linecode_ix.insert(key.to_string(), self.linecodes.len() - 1);
                self.linecodes.len() - 1
            }
            "line" => {
                self.lines.push(DssLine { name: name.to_string(), at: a, bus1: String::new(), bus2: String::new(), linecode: None, length: 1.0, units: Units::None, phases: 3, own: LineCode::default(), own_given: false, normamps: None, switch: false });
                self.line_ix.insert(key.to_string(), self.lines.len() - 1);
                self.lines.len() - 1
            }
            "transformer" => {
                self.transformers.push(DssTransformer {
                    name: name.to_string(),
                    at: a,
                    phases: 3,
                    windings: 2,
                    winding: 0,
                    buses: [String::new(), String::new()],
                    delta: [false; 2],
                    kv: [12.47; 2],
                    kva: [1000.0; 2],
                    pct_r: [DEFAULT_PCT_R; 2],
                    xhl_pct: DEFAULT_XHL_PCT,
                    lead: false,
                });
                self.transformer_ix.insert(key.to_string(), self.transformers.len() - 1);
                self.transformers.len() - 1
            }
            _ => {
                self.loads.push(DssLoad { name: name.to_string(), at: a, bus1: String::new(), phases: 3, kw: 10.0, pf: 0.88, kvar: None, delta: false });
                self.load_ix.insert(key.to_string(), self.loads.len() - 1);
                self.loads.len() - 1
            }
        })
    }

    fn set(&mut self, active: Active, toks: &[Token], at: &At) -> Result<(), InputError> {
        let mut last = None;
        for t in toks {
            let v = t.value.as_str();
            if !matches!(active, Active::Other) {
                match t.name.as_deref() {
                    Some("like") => return Err(at.err("`Like=` is not read: give the element's own values")),
                    Some("enabled") if !yes(v) => return Err(at.err(format!("`enabled={}`: disabled elements are not read: leave the element out of the files", short(v)))),
                    _ => {}
                }
            }
            match active {
                Active::Other => {}
                Active::Source => {
                    let s = &mut self.source;
                    match property(VSOURCE_PROPS, t, &mut last, at, "Vsource")? {
                        "bus1" => s.bus = three_phase_bus(v, at)?,
                        "basekv" => s.base_kv = bounded(v, "basekv", at, MIN_KV, false, MAX_KV)?,
                        "pu" => s.pu = bounded(v, "pu", at, 0.5, false, 2.0)?,
                        "mvasc3" => (s.mvasc3, s.isc3_a, s.z1) = (bounded(v, "mvasc3", at, 0.001, false, f64::MAX)?, None, None),
                        "isc3" => (s.isc3_a, s.z1) = (Some(bounded(v, "isc3", at, 0.001, false, f64::MAX)?), None),
                        // The zero sequence of the source: behind a transformer's delta it is not
                        // seen, and without a transformer the supply is stiff.
                        p @ ("mvasc1" | "isc1" | "x0r0" | "r0" | "x0") => {
                            bounded(v, p, at, 0.0, false, f64::MAX)?;
                        }
                        "x1r1" => s.x1r1 = bounded(v, "x1r1", at, 0.0, false, 1e6)?,
                        "r1" => s.z1 = Some((bounded(v, "r1", at, 0.0, false, MAX_OHM)?, s.z1.map_or(0.0, |z| z.1))),
                        "x1" => s.z1 = Some((s.z1.map_or(0.0, |z| z.0), bounded(v, "x1", at, 0.0, false, MAX_OHM)?)),
                        "z1" => match numbers(v).as_deref() {
                            Some([r, x, ..]) if (0.0..=MAX_OHM).contains(r) && (0.0..=MAX_OHM).contains(x) => s.z1 = Some((*r, *x)),
                            _ => return Err(at.err(format!("`z1`: `{}` is not [R X] with 0 ≤ R, X ≤ {MAX_OHM}", short(v)))),
                        },
                        "phases" => {
                            count(v, "phases", at, &[3])?;
                        }
                        "puz1" | "basemva" => return Err(at.err("the source's impedance per unit (puZ1, baseMVA) is not read: give MVAsc3, Isc3 or Z1")),
                        "model" => s.ideal = v.to_ascii_lowercase().starts_with('i'),
                        "angle" | "frequency" | "z0" | "z2" | "puz0" | "puz2" | "scantype" | "sequence" | "bus2" | "yearly" | "daily" | "duty" | "puzideal" | "spectrum" | "basefreq" | "enabled" | "like" => {}
                        _ => {}
                    }
                }
                Active::LineCode(i) => {
                    let c = &mut self.linecodes[i].1;
                    match property(LINECODE_PROPS, t, &mut last, at, "LineCode")? {
                        "nphases" if number(v, "nphases", at)? != 3.0 => {
                            return Err(at.err(format!("LineCode `nphases={}`: only three-phase line codes are read (the flow is three-phase; single-phase laterals are not modelled)", short(v))));
                        }
                        p @ ("r1" | "x1" | "r0" | "x0") => *impedance(c, p) = bounded(v, p, at, 0.0, false, MAX_OHM)?,
                        p @ ("c1" | "c0" | "b1" | "b0") => c.c_given_nonzero |= bounded(v, p, at, 0.0, false, 1e6)? != 0.0,
                        "units" => c.units = Units::parse(v).ok_or_else(|| at.err(format!("`units`: `{v}` is not one of none, mi, kft, km, m, ft, in, cm")))?,
                        "normamps" => c.normamps = bounded(v, "normamps", at, 0.0, true, MAX_AMPS)?,
                        "rmatrix" | "xmatrix" | "cmatrix" | "kron" | "neutral" => c.matrix = true,
                        _ => {}
                    }
                }
                Active::Line(i) => {
                    let l = &mut self.lines[i];
                    match property(LINE_PROPS, t, &mut last, at, "Line")? {
                        "bus1" => l.bus1 = three_phase_bus(v, at)?,
                        "bus2" => l.bus2 = three_phase_bus(v, at)?,
                        "linecode" => l.linecode = Some(v.to_ascii_lowercase()),
                        "length" => l.length = bounded(v, "length", at, 0.0, true, 1e6)?,
                        "phases" => l.phases = count(v, "phases", at, &[3])?,
                        p @ ("r1" | "x1" | "r0" | "x0") => {
                            *impedance(&mut l.own, p) = bounded(v, p, at, 0.0, false, MAX_OHM)?;
                            l.own_given = true;
                        }
                        p @ ("c1" | "c0" | "b1" | "b0") => l.own.c_given_nonzero |= bounded(v, p, at, 0.0, false, 1e6)? != 0.0,
                        "units" => l.units = Units::parse(v).ok_or_else(|| at.err(format!("`units`: `{v}` is not one of none, mi, kft, km, m, ft, in, cm")))?,
                        "normamps" => l.normamps = Some(bounded(v, "normamps", at, 0.0, true, MAX_AMPS)?),
                        "switch" => l.switch = yes(v),
                        "rmatrix" | "xmatrix" | "cmatrix" | "geometry" | "spacing" | "wires" | "cncables" | "tscables" => return Err(at.err(format!("Line `{}`: impedance matrices and geometries are not read: give R1 X1 R0 X0 or a LineCode with them", t.name.as_deref().unwrap_or(v)))),
                        _ => {}
                    }
                }
                Active::Transformer(i) => {
                    let x = &mut self.transformers[i];
                    let w = x.winding;
                    let pair = |v: &str, prop: &str, lo: f64, open: bool, hi: f64| -> Result<[f64; 2], InputError> {
                        let ok = |x: f64| (if open { x > lo } else { x >= lo }) && x <= hi;
                        match numbers(v).as_deref() {
                            Some([a, b]) if ok(*a) && ok(*b) => Ok([*a, *b]),
                            _ => Err(at.err(format!("`{prop}`: `{}` is not two numbers (two windings) within {lo}..{hi}", short(v)))),
                        }
                    };
                    match property(TRANSFORMER_PROPS, t, &mut last, at, "Transformer")? {
                        "phases" => x.phases = count(v, "phases", at, &[3])?,
                        "windings" => x.windings = count(v, "windings", at, &[2])?,
                        "wdg" => {
                            let k = number(v, "wdg", at)?;
                            if k != 1.0 && k != 2.0 {
                                return Err(at.err(format!("`wdg={v}`: only two-winding transformers are read")));
                            }
                            x.winding = k as usize - 1;
                        }
                        "bus" => x.buses[w] = three_phase_bus(v, at)?,
                        "conn" => x.delta[w] = conn_delta(v, at)?,
                        "kv" => x.kv[w] = bounded(v, "kv", at, MIN_KV, false, MAX_KV)?,
                        "kva" => x.kva[w] = bounded(v, "kva", at, MIN_KVA, false, MAX_KVA)?,
                        "%r" => x.pct_r[w] = bounded(v, "%r", at, 0.0, false, 100.0)?,
                        "buses" => {
                            let b = words(v);
                            if b.len() != 2 {
                                return Err(at.err(format!("`buses`: `{v}` is not two buses")));
                            }
                            x.buses = [three_phase_bus(&b[0], at)?, three_phase_bus(&b[1], at)?];
                        }
                        "conns" => {
                            let c = words(v);
                            if c.len() != 2 {
                                return Err(at.err(format!("`conns`: `{v}` is not two connections")));
                            }
                            x.delta = [conn_delta(&c[0], at)?, conn_delta(&c[1], at)?];
                        }
                        "kvs" => x.kv = pair(v, "kvs", MIN_KV, false, MAX_KV)?,
                        "kvas" => x.kva = pair(v, "kvas", MIN_KVA, false, MAX_KVA)?,
                        "%rs" => x.pct_r = pair(v, "%rs", 0.0, false, 100.0)?,
                        "%loadloss" => x.pct_r = [bounded(v, "%loadloss", at, 0.0, false, 100.0)? / 2.0; 2],
                        "xhl" | "x12" => x.xhl_pct = bounded(v, "xhl", at, 0.0, true, 100.0)?,
                        "leadlag" => x.lead = matches!(v.to_ascii_lowercase().as_str(), "lead" | "euro"),
                        "tap" | "taps" if numbers(v).is_none_or(|t| t.iter().any(|t| *t != 1.0)) => {
                            return Err(at.err(format!("`{}`: off-nominal taps are not read", t.name.as_deref().unwrap_or("tap"))));
                        }
                        "xfmrcode" => return Err(at.err("`XfmrCode` is not read: give the transformer's windings and impedances")),
                        _ => {}
                    }
                }
                Active::Load(i) => {
                    let l = &mut self.loads[i];
                    match property(LOAD_PROPS, t, &mut last, at, "Load")? {
                        "phases" => l.phases = count(v, "phases", at, &[1, 3])?,
                        "bus1" => l.bus1 = v.to_string(),
                        "kw" => l.kw = bounded(v, "kw", at, -MAX_LOAD_KW, false, MAX_LOAD_KW)?,
                        "pf" => {
                            let pf = bounded(v, "pf", at, -1.0, false, 1.0)?;
                            if pf.abs() < MIN_POWER_FACTOR {
                                return Err(at.err(format!("`pf={}`: a load of (almost) only reactive power: its |pf| must be at least {MIN_POWER_FACTOR}", short(v))));
                            }
                            (l.pf, l.kvar) = (pf, None);
                        }
                        "kvar" => l.kvar = Some(bounded(v, "kvar", at, -MAX_LOAD_KW, false, MAX_LOAD_KW)?),
                        "kv" => {
                            bounded(v, "kv", at, MIN_KV, false, MAX_KV)?;
                        }
                        "conn" => l.delta = conn_delta(v, at)?,
                        "kva" | "xfkva" => return Err(at.err("loads given by kVA are not read: give kW and PF (or kvar)")),
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    fn coords_file(&mut self, path: &Path, at: &At) -> Result<(), InputError> {
        let text = crate::base::input::read_text(path, "bus coordinates", crate::base::input::MAX_DATA_FILE_BYTES).map_err(|e| if matches!(e.location, Location::File) { at.err(e.message) } else { e })?;
        for line in text.lines() {
            let line = line.split(['!']).next().unwrap_or("");
            let w: Vec<&str> = line.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()).collect();
            // OpenDSS skips lines whose bus it does not know (a header among them).
            if let [bus, x, y, ..] = w[..]
                && let (Ok(x), Ok(y)) = (x.parse::<f64>(), y.parse::<f64>())
                && x.abs() <= MAX_COORDINATE
                && y.abs() <= MAX_COORDINATE
            {
                self.coords.insert(bus.to_ascii_lowercase(), (x, y));
            }
        }
        Ok(())
    }

    /// The network model from what was read.
    fn finish(self, path: &Path) -> Result<PpNet, InputError> {
        let top = At { file: path.to_path_buf(), line: 1 };
        if self.source.at.is_none() {
            return Err(top.err("no `New Circuit.…`: the feeder's source is missing"));
        }
        let mut net = PpNet { ext_grid_vm_pu: self.source.pu, ..Default::default() };
        // Buses in order of first mention: the source's, the lines', the transformer's, the loads'.
        let mut bus_index: HashMap<String, i64> = HashMap::new();
        let mut order: Vec<String> = Vec::new();
        let mut add = |name: &str| -> i64 {
            if let Some(&i) = bus_index.get(name) {
                return i;
            }
            let i = order.len() as i64;
            bus_index.insert(name.to_string(), i);
            order.push(name.to_string());
            i
        };
        net.ext_grid_bus = add(&self.source.bus);
        if self.transformers.len() > 1 {
            let t = &self.transformers[1];
            return Err(t.at.err(format!("Transformer `{}`: one distribution transformer is read, this is a second", t.name)));
        }
        let mut lv_kv = self.source.base_kv;
        if let Some(t) = self.transformers.first() {
            if t.windings != 2 || t.phases != 3 {
                return Err(t.at.err(format!("Transformer `{}`: only three-phase two-winding transformers are read", t.name)));
            }
            if t.buses.iter().any(String::is_empty) {
                return Err(t.at.err(format!("Transformer `{}`: give both windings' buses", t.name)));
            }
            let vector_group = match t.delta {
                [true, false] => "Dyn",
                [false, false] => "YNyn",
                _ => return Err(t.at.err(format!("Transformer `{}`: windings {}: only Delta-Wye (Dyn) and Wye-Wye (YNyn) are read", t.name, if t.delta[1] { "…-Delta" } else { "Wye-Delta" }))),
            };
            let (hv, lv) = (add(&t.buses[0]), add(&t.buses[1]));
            lv_kv = t.kv[1];
            let sn_mva = t.kva[0] / 1000.0;
            // Short-circuit impedance on the first winding's rating, plus a source impedance
            // referred through it (positive sequence: the delta hides its zero sequence).
            let z_base_lv = t.kv[1] * t.kv[1] / sn_mva;
            let (mut r_pct, mut x_pct) = (t.pct_r[0] + t.pct_r[1] * t.kva[0] / t.kva[1], t.xhl_pct);
            let (r0_pct, x0_pct) = (r_pct, x_pct);
            if let Some((r, x)) = self.source.z1_ohm() {
                let ratio = t.kv[1] / self.source.base_kv;
                r_pct += r * ratio * ratio / z_base_lv * 100.0;
                x_pct += x * ratio * ratio / z_base_lv * 100.0;
            }
            net.trafo = Some(PpTrafo {
                index: 0,
                name: t.name.clone(),
                hv_bus: hv,
                lv_bus: lv,
                sn_mva,
                vn_hv_kv: t.kv[0],
                vn_lv_kv: t.kv[1],
                vk_percent: r_pct.hypot(x_pct),
                vkr_percent: r_pct,
                vk0_percent: r0_pct.hypot(x0_pct),
                vkr0_percent: r0_pct,
                // OpenDSS's winding model has no magnetising branch: the zero sequence seen from
                // the wye side is the leakage impedance alone.
                mag0_percent: 0.0,
                mag0_rx: 0.0,
                si0_hv_partial: 0.0,
                shift_degree: if t.lead { -30.0 } else { 30.0 },
                vector_group: vector_group.to_string(),
                tap_ratio: 1.0,
                tap_side_hv: true,
                parallel: 1.0,
            });
            if t.buses[0] != self.source.bus {
                return Err(t.at.err(format!("Transformer `{}`: its first winding is on `{}`, not on the source's bus `{}`", t.name, t.buses[0], self.source.bus)));
            }
        } else if self.source.z1_ohm().is_some() {
            net.warnings.push("the source's impedance is not modelled without a transformer (the supply is stiff): give `Model=Ideal` or a transformer".to_string());
        }
        for (i, l) in self.lines.iter().enumerate() {
            if l.bus1.is_empty() || l.bus2.is_empty() {
                return Err(l.at.err(format!("Line `{}`: give bus1 and bus2", l.name)));
            }
            if l.phases != 3 {
                return Err(l.at.err(format!("Line `{}`: phases={}: only three-phase lines are read", l.name, l.phases)));
            }
            if l.linecode.is_some() && l.own_given {
                return Err(l.at.err(format!("Line `{}`: give either a LineCode or the line's own R1 X1 R0 X0, not both", l.name)));
            }
            let code = match &l.linecode {
                Some(c) => match self.linecode_ix.get(c) {
                    Some(&k) => self.linecodes[k].1.clone(),
                    None => return Err(l.at.err(format!("Line `{}`: line code `{c}` was not defined before", l.name))),
                },
                _ => LineCode { units: l.units, ..l.own.clone() },
            };
            if code.matrix {
                return Err(l.at.err(format!("Line `{}`: its line code is given by matrices, which are not read: give R1 X1 R0 X0", l.name)));
            }
            if code.c_given_nonzero || l.own.c_given_nonzero {
                net.warnings.push(format!("Line `{}`: shunt capacitance is not modelled", l.name));
            }
            // The code's impedances are per its unit; the line's length in its own (the code's
            // when it gives none).
            let line_units = if l.units == Units::None { code.units } else { l.units };
            let length_km = match (line_units.km(), code.units.km()) {
                (Some(k), _) => l.length * k,
                (None, _) => l.length, // no units anywhere: taken as km
            };
            let per_code_unit = match (code.units.km(), line_units.km()) {
                (Some(c), Some(k)) => l.length * k / c,
                _ => l.length,
            };
            if !(length_km > 0.0 && length_km <= MAX_LENGTH_KM) {
                return Err(l.at.err(format!("Line `{}`: {} km long: a line of a low-voltage feeder is between 0 and {MAX_LENGTH_KM} km", l.name, short(&length_km.to_string()))));
            }
            if code.r1 + code.x1 <= 0.0 {
                return Err(l.at.err(format!("Line `{}`: no impedance (R1 and X1 are 0): join its buses into one instead", l.name)));
            }
            if l.bus1 == l.bus2 {
                return Err(l.at.err(format!("Line `{}`: both ends on bus `{}`", l.name, l.bus1)));
            }
            if l.switch {
                net.warnings.push(format!("Line `{}` is a switch: modelled as a short line", l.name));
            }
            let (a, b) = (add(&l.bus1), add(&l.bus2));
            let z = |x: f64| x * per_code_unit / length_km;
            net.lines.push(PpLine {
                index: i as i64,
                name: l.name.clone(),
                std_type: l.linecode.clone(),
                from_bus: a,
                to_bus: b,
                length_km,
                r_ohm_per_km: z(code.r1),
                x_ohm_per_km: z(code.x1),
                r0_ohm_per_km: Some(z(code.r0)),
                x0_ohm_per_km: Some(z(code.x0)),
                max_i_ka: l.normamps.unwrap_or(code.normamps) / 1000.0,
                parallel: 1.0,
            });
        }
        for (i, l) in self.loads.iter().enumerate() {
            if l.bus1.is_empty() {
                return Err(l.at.err(format!("Load `{}`: give bus1", l.name)));
            }
            if l.delta {
                return Err(l.at.err(format!("Load `{}`: delta-connected loads are not read (households are wye, phase to neutral)", l.name)));
            }
            let (bus, nodes) = bus_ref(&l.bus1, &l.at)?;
            let phase = match (l.phases, nodes.as_slice()) {
                (3, [] | [1, 2, 3] | [1, 2, 3, 0]) => Phase::Three,
                (3, _) => return Err(l.at.err(format!("Load `{}`: bus1 `{}`: a three-phase load is read on nodes 1.2.3", l.name, short(&l.bus1)))),
                (1, [0, ..]) => return Err(l.at.err(format!("Load `{}`: bus1 `{}`: node 0 is ground", l.name, short(&l.bus1)))),
                (1, [] | [1] | [1, 0]) => Phase::A,
                (1, [2] | [2, 0]) => Phase::B,
                (1, [3] | [3, 0]) => Phase::C,
                (1, _) => return Err(l.at.err(format!("Load `{}`: bus1 `{}`: a single-phase load between two phases is not read", l.name, l.bus1))),
                (p, _) => return Err(l.at.err(format!("Load `{}`: phases={p}: one or three phases", l.name))),
            };
            let kvar = l.kvar.unwrap_or_else(|| {
                let pf = l.pf.abs().clamp(1e-6, 1.0);
                l.kw * (1.0 - pf * pf).sqrt() / pf * l.pf.signum()
            });
            net.loads.push(PpLoad { table: "load", index: i as i64, name: l.name.clone(), bus: add(&bus), phase, p_kw: l.kw, q_kvar: kvar, sn_kva: None });
        }
        let hv = net.trafo.as_ref().map(|t| t.hv_bus);
        net.buses = order
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let (x_m, y_m) = self.coords.get(name).copied().unwrap_or((0.0, 0.0));
                let vn_kv = if Some(i as i64) == hv { self.source.base_kv } else { lv_kv };
                PpBus { index: i as i64, name: name.clone(), vn_kv, x_m, y_m }
            })
            .collect();
        if let Some(t) = &net.trafo
            && (self.source.base_kv - t.vn_hv_kv).abs() > 1e-6 * t.vn_hv_kv
        {
            net.warnings.push(format!("the source's {} kV differs from the transformer's {} kV: the supply voltage is scaled by their ratio", self.source.base_kv, t.vn_hv_kv));
        }
        for (class, n) in &self.unmodelled {
            net.warnings.push(format!("{n} `{class}` element(s) not modelled, left out"));
        }
        if !self.ignored_commands.is_empty() {
            let more = if self.ignored_commands.len() > 3 { format!(" and {} more", self.ignored_commands.len() - 3) } else { String::new() };
            net.warnings.push(format!("commands not read: {}{more}", self.ignored_commands.iter().take(3).cloned().collect::<Vec<_>>().join(", ")));
        }
        net.warnings.extend(self.warnings);
        Ok(net)
    }
}

/// The impedance field of a line code by property name.
fn impedance<'a>(c: &'a mut LineCode, prop: &str) -> &'a mut f64 {
    match prop {
        "r1" => &mut c.r1,
        "x1" => &mut c.x1,
        "r0" => &mut c.r0,
        _ => &mut c.x0,
    }
}

/// A three-phase element's bus: its name, on nodes 1.2.3 (or none given).
fn three_phase_bus(value: &str, at: &At) -> Result<String, InputError> {
    let (name, nodes) = bus_ref(value, at)?;
    match nodes.as_slice() {
        [] | [1, 2, 3] | [1, 2, 3, 0] => Ok(name),
        _ => Err(at.err(format!("bus `{}`: three-phase elements are read on nodes 1.2.3 (phases swapped or left out are not modelled)", short(value)))),
    }
}

fn conn_delta(v: &str, at: &At) -> Result<bool, InputError> {
    match v.to_ascii_lowercase().as_str() {
        "delta" | "d" | "ll" => Ok(true),
        "wye" | "y" | "ln" | "star" => Ok(false),
        _ => Err(at.err(format!("`conn`: `{}` is not Delta or Wye", short(v)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_names_values_and_arrays() {
        let t = tokens("New Transformer.TR1 Buses=[SourceBus 1] Conns=[Delta Wye] kVs=[11 0.416] XHL = 4, sub=y");
        let pairs: Vec<(Option<&str>, &str)> = t.iter().map(|t| (t.name.as_deref(), t.value.as_str())).collect();
        assert_eq!(pairs, [(None, "New"), (None, "Transformer.TR1"), (Some("buses"), "SourceBus 1"), (Some("conns"), "Delta Wye"), (Some("kvs"), "11 0.416"), (Some("xhl"), "4"), (Some("sub"), "y")]);
        let t = tokens("New Loadshape.s npts=2 mult=(file=a.txt)");
        assert_eq!(t[3].value, "file=a.txt");
    }

    #[test]
    fn properties_by_prefix_and_position() {
        let at = At { file: "x.dss".into(), line: 1 };
        let mut last = None;
        let tok = |name: Option<&str>, value: &str| Token { name: name.map(str::to_string), value: value.into() };
        assert_eq!(property(LINE_PROPS, &tok(Some("len"), "3"), &mut last, &at, "Line").unwrap(), "length");
        assert_eq!(property(LINE_PROPS, &tok(None, "3"), &mut last, &at, "Line").unwrap(), "phases");
        let mut last = None;
        assert_eq!(property(LINE_PROPS, &tok(None, "a"), &mut last, &at, "Line").unwrap(), "bus1");
        assert_eq!(property(LINE_PROPS, &tok(None, "b"), &mut last, &at, "Line").unwrap(), "bus2");
        assert!(property(LINE_PROPS, &tok(Some("nonsense"), "b"), &mut last, &at, "Line").is_err());
    }
}
