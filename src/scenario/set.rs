//! `--set path.to.field=value`: changes one field of a scenario file from the command line. The
//! parsed file is turned into a tree (serde's data model, as JSON), the field replaced, and the
//! tree read back into the file's types, so a value is checked exactly like one in the file and
//! then validated with it.
//!
//! Paths: field names joined by `.`, list items by `[i]` (`households[2].battery.capacity_kwh`),
//! households also by id (`households[id=no1].pv.kwp`), a Group's members by their generated ids
//! (`households[id=v007].battery=(...)`: applied to that member after the group is drawn, as if
//! it were a `House` with what it drew).
//! An enum's fields are reached through it (`grid.import_price_per_kwh`, `weather.persistence`)
//! or by naming its variant (`grid.Connected.import_price_per_kwh`). Values are RON: numbers,
//! `true`/`false`, strings (quotes optional for a single word), unit variants (`ClearSky`),
//! `Variant(...)`, structs `(a: 1, b: 2)` and lists `[...]`, nested in any way (see `value`).

use super::schema::ScenarioFile;
use serde_json::{Map, Value};

/// One `--set` as given.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSet {
    pub path: String,
    pub value: String,
}

impl std::str::FromStr for FieldSet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        // The first `=` outside brackets (`households[id=no1].pv.kwp=8`).
        let mut depth = 0i32;
        let at = s.char_indices().find_map(|(i, c)| {
            depth += (c == '[') as i32 - (c == ']') as i32;
            (c == '=' && depth == 0).then_some(i)
        });
        let (path, value) = at.map(|i| (&s[..i], &s[i + 1..])).ok_or_else(|| format!("`{s}`: expected path.to.field=value"))?;
        if path.trim().is_empty() {
            return Err(format!("`{s}`: the field path is empty"));
        }
        Ok(FieldSet { path: path.trim().to_string(), value: value.trim().to_string() })
    }
}

impl FieldSet {
    /// The set as a message shows it: at most 100 characters.
    pub fn shown(&self) -> String {
        let text = self.to_string();
        if text.chars().count() <= 100 { text } else { format!("{}…", text.chars().take(100).collect::<String>()) }
    }
}

impl std::fmt::Display for FieldSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}={}", self.path, self.value)
    }
}

/// A step of a path: a field, a list index, or a list item by its `id`.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Field(String),
    Index(usize),
    Id(String),
}

/// A `--set` on a Group's member, applied when the group is drawn (see
/// [`apply_to_member`]).
#[derive(Debug, Clone)]
pub struct MemberSet {
    pub set: FieldSet,
    pub id: String,
    /// The path below the member.
    pub rest: Vec<Segment>,
    pub value: Value,
}

fn segments(path: &str) -> Result<Vec<Segment>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if name.is_empty() && out.is_empty() {
            return Err("a path starts with a field name".into());
        }
        if !name.is_empty() {
            out.push(Segment::Field(name.to_string()));
        }
        while !rest.is_empty() {
            let (index, after) = rest.split_once(']').ok_or("unclosed `[`")?;
            match index.strip_prefix("id=") {
                Some(id) if !id.is_empty() => out.push(Segment::Id(id.trim_matches('"').to_string())),
                _ => out.push(Segment::Index(index.parse().map_err(|_| format!("`[{index}]` is not a list index nor `[id=...]`"))?)),
            }
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return Err(format!("unexpected `{after}` after `]`"));
            }
        }
    }
    Ok(out)
}

/// An enum variant in the tree: a one-key object whose key starts with a capital.
fn variant(v: &Value) -> Option<(&String, &Value)> {
    match v {
        Value::Object(m) if m.len() == 1 => m.iter().next().filter(|(k, _)| k.starts_with(|c: char| c.is_ascii_uppercase())),
        _ => None,
    }
}

fn field_names(v: &Value) -> String {
    match v {
        Value::Object(m) => m.keys().cloned().collect::<Vec<_>>().join(", "),
        _ => String::new(),
    }
}

/// The place a path names, descending through enum variants where the path does not name them.
fn locate<'a>(mut at: &'a mut Value, path: &[Segment]) -> Result<&'a mut Value, String> {
    let mut walked = String::new();
    for seg in path {
        match seg {
            Segment::Field(name) => {
                if at.get(name).is_none() {
                    if let Some((k, _)) = variant(at) {
                        let k = k.clone();
                        at = at.get_mut(&k).expect("variant key exists");
                    }
                }
                let here = if walked.is_empty() { "the scenario".to_string() } else { format!("`{walked}`") };
                let fields = field_names(at);
                at = match at {
                    Value::Object(m) => m.get_mut(name).ok_or_else(|| format!("{here} has no field `{name}` (fields: {fields})"))?,
                    Value::Null => return Err(format!("{here} is not set in the file: set it whole, e.g. --set {walked}=(...)")),
                    _ => return Err(format!("{here} has no fields")),
                };
                walked = if walked.is_empty() { name.clone() } else { format!("{walked}.{name}") };
            }
            Segment::Id(id) => {
                let item_id = |item: &Value| variant(item).map_or(item, |(_, inner)| inner).get("id").and_then(Value::as_str).map(str::to_string);
                at = match at {
                    Value::Array(items) => items.iter_mut().find(|item| item_id(item).as_deref() == Some(id.as_str())).ok_or_else(|| format!("`{walked}` has no item with id `{id}`"))?,
                    _ => return Err(format!("`{walked}` is not a list")),
                };
                walked.push_str(&format!("[id={id}]"));
            }
            Segment::Index(i) => {
                let len = at.as_array().map(Vec::len);
                at = match at {
                    Value::Array(items) => items.get_mut(*i).ok_or_else(|| format!("`{walked}` has {} items, no [{i}]", len.unwrap_or(0)))?,
                    _ => return Err(format!("`{walked}` is not a list")),
                };
                walked.push_str(&format!("[{i}]"));
            }
        }
    }
    Ok(at)
}

/// Puts `value` in `place`; a bare value for a newtype variant (`kwp: Fixed(4)`) keeps the
/// variant.
fn assign(place: &mut Value, value: Value) {
    *place = match (variant(place), &value) {
        (Some((k, inner)), v) if !inner.is_object() && !v.is_object() && !v.is_string() => Value::Object(Map::from_iter([(k.clone(), value)])),
        _ => value,
    };
}

/// The Group (by position) whose generated ids include `id`: `prefix` + a number 1..=count,
/// zero-padded to the count's width.
fn group_of(tree: &Value, id: &str) -> Option<usize> {
    tree.get("households")?.as_array()?.iter().position(|h| {
        let Some(g) = h.get("Group") else { return false };
        let (Some(prefix), Some(count)) = (g.get("prefix").and_then(Value::as_str), g.get("count").and_then(Value::as_u64)) else { return false };
        let width = count.to_string().len();
        id.strip_prefix(prefix).is_some_and(|n| n.len() == width && n.parse::<u64>().is_ok_and(|n| (1..=count).contains(&n)))
    })
}

/// Applies every set in order; the first problem is the error. Sets on a Group's member are
/// kept in `member_sets` for when the group is drawn.
pub fn apply(file: ScenarioFile, sets: &[FieldSet]) -> Result<ScenarioFile, String> {
    if sets.is_empty() {
        return Ok(file);
    }
    let mut tree = serde_json::to_value(&file).map_err(|e| e.to_string())?;
    let mut member_sets = file.member_sets.clone();
    for set in sets {
        let path = segments(&set.path).map_err(|e| format!("--set {}: {e}", set.shown()))?;
        let value = super::value::parse(&set.value).map_err(|e| format!("--set {}: {e}", set.shown()))?;
        if let [Segment::Field(list), Segment::Id(id), rest @ ..] = path.as_slice() {
            let is_house = |t: &Value| t["households"].as_array().is_some_and(|hs| hs.iter().any(|h| h.get("House").and_then(|x| x.get("id")).and_then(Value::as_str) == Some(id)));
            if list == "households" && !is_house(&tree) {
                if group_of(&tree, id).is_none() {
                    return Err(format!("--set {}: no household has id `{id}` (a House's `id`, or a Group's `prefix` and member number, e.g. v007)", set.shown()));
                }
                member_sets.push(MemberSet { set: set.clone(), id: id.clone(), rest: rest.to_vec(), value });
                continue;
            }
        }
        let place = locate(&mut tree, &path).map_err(|e| format!("--set {}: {e}", set.shown()))?;
        assign(place, value);
        // Read back now, so the message names this set.
        serde_json::from_value::<ScenarioFile>(tree.clone()).map_err(|e| format!("--set {}: {e}", set.shown()))?;
    }
    let mut file: ScenarioFile = serde_json::from_value(tree).map_err(|e| e.to_string())?;
    file.member_sets = member_sets;
    Ok(file)
}

/// Applies `sets` to a drawn Group member, given as the `House` it amounts to.
pub fn apply_to_member(house: &super::schema::HouseSpec, sets: &[&MemberSet]) -> Result<super::schema::HouseSpec, String> {
    let mut tree = serde_json::to_value(house).map_err(|e| e.to_string())?;
    for m in sets {
        let place = locate(&mut tree, &m.rest).map_err(|e| format!("--set {}: {e}", m.set.shown()))?;
        assign(place, m.value.clone());
        serde_json::from_value::<super::schema::HouseSpec>(tree.clone()).map_err(|e| format!("--set {}: {e}", m.set.shown()))?;
    }
    serde_json::from_value(tree).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREET: &str = include_str!("../../scenarios/street.ron");

    fn file() -> ScenarioFile {
        super::super::parse(STREET, std::path::Path::new("street.ron")).unwrap()
    }

    fn set(s: &str) -> Result<ScenarioFile, String> {
        apply(file(), &[s.parse().unwrap()])
    }

    #[test]
    fn sets_fields_lists_and_enum_fields() {
        assert_eq!(set("seed=7").unwrap().seed, 7);
        assert_eq!(set("market.rule=sdr").unwrap().market.rule, "sdr");
        assert_eq!(set("market.rule=\"mmr\"").unwrap().market.rule, "mmr");
        let f = set("grid.import_price_per_kwh=0.4").unwrap();
        assert!(matches!(f.grid, super::super::schema::GridSpec::Connected { import_price_per_kwh, .. } if import_price_per_kwh == 0.4));
        let f = set("grid.Connected.export_price_per_kwh=0.1").unwrap();
        assert!(matches!(f.grid, super::super::schema::GridSpec::Connected { export_price_per_kwh, .. } if export_price_per_kwh == 0.1));
        assert!(matches!(set("weather=ClearSky").unwrap().weather, super::super::schema::WeatherSpec::ClearSky));
        let f = set("households[4].battery_share=0.9").unwrap();
        assert!(matches!(&f.households[4], super::super::schema::HouseholdSpec::Group(g) if g.battery_share == 0.9));
        let f = set("households[4].kwp=Fixed(4)").unwrap();
        assert!(matches!(&f.households[4], super::super::schema::HouseholdSpec::Group(g) if matches!(g.kwp, super::super::schema::Dist::Fixed(x) if x == 4.0)));
        let f = set("households[4].kwp=Uniform(min: 1, max: 2)").unwrap();
        assert!(matches!(&f.households[4], super::super::schema::HouseholdSpec::Group(g) if matches!(g.kwp, super::super::schema::Dist::Uniform { max, .. } if max == 2.0)));
        let f = set("households[1].battery=(capacity_kwh: 5, max_charge_kw: 2, max_discharge_kw: 2)").unwrap();
        assert!(matches!(&f.households[1], super::super::schema::HouseholdSpec::House(h) if h.battery.as_ref().unwrap().capacity_kwh == 5.0));
    }

    #[test]
    fn sets_enum_variants_inside_values() {
        use super::super::schema::{FeePolicySpec, HouseholdSpec, LoadSpec};
        let f = set("ledger.treasury=(fee_policy: Fixed(rate: 0.01), producer_reward_per_block: 0.05)").unwrap();
        let t = f.ledger.treasury.unwrap();
        assert!(matches!(t.fee_policy, FeePolicySpec::Fixed { rate } if rate == 0.01));
        let f = set("households[0].load=Archetype(kind: Retired)").unwrap();
        assert!(matches!(&f.households[0], HouseholdSpec::House(h) if matches!(h.load, LoadSpec::Archetype { kind: super::super::schema::Archetype::Retired, .. })), "{:?}", f.households[0]);
        let deep = format!("seed={}1{}", "A(".repeat(20_000), ")".repeat(20_000));
        assert!(set(&deep).unwrap_err().contains("nested more than"));
    }

    #[test]
    fn a_bare_unit_is_a_struct_with_its_defaults() {
        let f = set("network.dynamic_export_limit=()").unwrap();
        let d = f.network.dynamic_export_limit.expect("set, not None");
        assert_eq!((d.min_kw, d.max_kw), (1.5, 10.0));
    }

    #[test]
    fn names_what_is_wrong() {
        let e = set("market.rul=sdr").unwrap_err();
        assert!(e.contains("--set market.rul=sdr") && e.contains("`market` has no field `rul`") && e.contains("rule"), "{e}");
        assert!(set("households[40].id=x").unwrap_err().contains("has 5 items"));
        assert!(set("seed=lots").unwrap_err().contains("--set seed=lots"));
        assert!(set("seed[0]=1").unwrap_err().contains("not a list"));
        assert!(set("households[1].battery.capacity_kwh=5").unwrap_err().contains("is not set in the file"), "no2 has no battery");
        assert!("seed".parse::<FieldSet>().unwrap_err().contains("path.to.field=value"));
    }
}
