//! Expands `Group` entries into individual households with seeded draws (kWp, PV and battery
//! ownership, archetype, annual consumption), and checks each household's own fields.

use super::schema::*;
use super::validate::{check_battery, check_id, check_pv, check_pv_losses, Bound, Validator};
use crate::household::load::default_annual_kwh;
use crate::base::seed::{rng, Stream};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use std::collections::HashSet;

/// Most households one group may generate.
pub const MAX_GROUP_COUNT: u32 = 1_000_000;
/// The most households a scenario may have in all (about 22 GiB at run time; `check` prints the
/// estimate for the scenario at hand).
pub const MAX_HOUSEHOLDS: u64 = 4_000_000;

pub enum LoadDraft {
    Archetype { kind: Archetype, annual_kwh: f64 },
    Profile { file: String, household: Option<String> },
    Ausgrid(AusgridDraft),
}

/// An Ausgrid-measured household, checked.
pub struct AusgridDraft {
    pub file: String,
    pub customer: Option<u32>,
    pub capacity_kwp: Option<f64>,
    pub meter_offset: chrono::FixedOffset,
    pub controlled_load: crate::scenario::schema::ControlledLoad,
    pub annual_kwh: Option<f64>,
    pub load_day_shift: i64,
    pub load_variation: f64,
}

/// A household before it is attached to the topology and its profile.
pub struct HouseDraft {
    /// Field path for error messages, e.g. `households[2]` or `households[1] (v007)`.
    pub path: String,
    pub id: String,
    pub node: Option<String>,
    pub phase: Option<Phase>,
    /// Reactive power of the load per kW (an imported load's own); `None`: the network's.
    pub load_tan_phi: Option<f64>,
    /// Drawn by a `Group` (with an imported topology, it takes the next load of the file).
    pub from_group: bool,
    pub pv: Option<PvSpec>,
    pub load: LoadDraft,
    pub battery: Option<BatterySpec>,
    pub appliances: Vec<super::schema::ApplianceSpec>,
    pub ev: Option<super::schema::EvSpec>,
    pub heat_pump: Option<super::schema::HeatPumpSpec>,
    pub hot_water: Option<super::schema::HotWaterSpec>,
    pub export_limit_kw: Option<f64>,
    pub inverter: Option<super::schema::InverterSpec>,
    pub bidding: BiddingSpec,
    pub preferences: PreferencesSpec,
    pub community: Option<String>,
    /// The id of the community it joins (checked against `communities` later).
    pub member_of: Option<String>,
    pub income_per_year: Option<f64>,
}

/// Most income per year accepted, currency.
const MAX_INCOME_PER_YEAR: f64 = 1e9;

pub fn check_community(v: &mut Validator, at: &str, c: &Option<String>) {
    if let Some(c) = c {
        let ok = c.split('/').all(|seg| !seg.is_empty() && seg.chars().all(|ch| ch.is_ascii_alphanumeric() || matches!(ch, '_' | '-' | '.')));
        if !ok {
            v.err(&format!("{at}.community"), format!("`{c}` is not a community path: names of letters, digits, `_`, `-`, `.` joined by `/`, outermost first"));
        }
    }
}

/// Largest day shift of a measured load (a year either way).
const MAX_DAY_SHIFT: f64 = 366.0;

/// Most premium or ceiling accepted, currency/kWh (far above any retail tariff).
const MAX_PREFERENCE_PER_KWH: f64 = 100.0;

fn check_preferences(v: &mut Validator, at: &str, p: &PreferencesSpec) {
    let at = format!("{at}.preferences");
    if let Some(c) = p.price_ceiling_per_kwh {
        v.range(&format!("{at}.price_ceiling_per_kwh"), c, Bound::Incl(0.0), Bound::Incl(MAX_PREFERENCE_PER_KWH), "currency/kWh");
    }
    for (name, x) in [("green_premium_per_kwh", p.green_premium_per_kwh), ("local_premium_per_kwh", p.local_premium_per_kwh), ("favourite_premium_per_kwh", p.favourite_premium_per_kwh)] {
        v.range(&format!("{at}.{name}"), x, Bound::Incl(0.0), Bound::Incl(MAX_PREFERENCE_PER_KWH), "currency/kWh");
    }
}

fn check_bidding(v: &mut Validator, at: &str, b: &BiddingSpec) {
    if let BiddingSpec::Markup(m) = b {
        v.range(&format!("{at}.bidding"), *m, Bound::Incl(0.0), Bound::Incl(1.0), "(fraction of the import − export spread)");
    }
}

const ALL_ARCHETYPES: [Archetype; 4] = [Archetype::WorkingCouple, Archetype::Family, Archetype::Retired, Archetype::HomeOffice];

/// A value drawn from `dist`. Total on any parameters: the validator reports out-of-range ones
/// (an infinite bound, a NaN) while the rest of the file is still drafted, so this must not panic.
pub(super) fn draw(dist: &Dist, r: &mut ChaCha8Rng) -> f64 {
    match *dist {
        Dist::Fixed(x) => x,
        Dist::Uniform { min, max } => {
            if max > min && (max - min).is_finite() { r.random_range(min..max) } else { min }
        }
        Dist::Normal { mean, sd } => match Normal::new(mean, sd.max(0.0)) {
            Ok(n) => n.sample(r).max(0.0),
            Err(_) => mean,
        },
    }
}

/// An angle in degrees drawn from `dist`, wrapped to 0..360 (a normal spread is not truncated).
fn draw_angle(dist: &Dist, r: &mut ChaCha8Rng) -> f64 {
    let a = match *dist {
        Dist::Normal { mean, sd } => {
            let z: f64 = rand_distr::StandardNormal.sample(r);
            mean + sd.max(0.0) * z
        }
        _ => draw(dist, r),
    };
    a.rem_euclid(360.0)
}

/// Azimuth distributions may cross north (`Uniform(min: -30, max: 30)`).
fn check_angle_dist(v: &mut Validator, at: &str, d: &Dist) {
    match *d {
        Dist::Fixed(x) => {
            v.range(at, x, Bound::Incl(-360.0), Bound::Incl(720.0), "°");
        }
        Dist::Uniform { min, max } => {
            v.range(&format!("{at}.min"), min, Bound::Incl(-360.0), Bound::Incl(720.0), "°");
            v.range(&format!("{at}.max"), max, Bound::Incl(min), Bound::Incl(720.0), "°");
        }
        Dist::Normal { mean, sd } => {
            v.range(&format!("{at}.mean"), mean, Bound::Incl(-360.0), Bound::Incl(720.0), "°");
            v.range(&format!("{at}.sd"), sd, Bound::Incl(0.0), Bound::Incl(360.0), "°");
        }
    }
}

fn check_dist(v: &mut Validator, at: &str, d: &Dist, unit: &str) {
    check_dist_upto(v, at, d, unit, 1e6);
}

/// A distribution of values in 0..=`max`.
pub(super) fn check_dist_upto(v: &mut Validator, at: &str, d: &Dist, unit: &str, max: f64) {
    match *d {
        Dist::Fixed(x) => {
            v.range(at, x, Bound::Incl(0.0), Bound::Incl(max), unit);
        }
        Dist::Uniform { min, max: hi } => {
            v.range(&format!("{at}.min"), min, Bound::Incl(0.0), Bound::Incl(max), unit);
            v.range(&format!("{at}.max"), hi, Bound::Incl(min.max(0.0)), Bound::Incl(max), unit);
        }
        Dist::Normal { mean, sd } => {
            v.range(&format!("{at}.mean"), mean, Bound::Incl(0.0), Bound::Incl(max), unit);
            v.range(&format!("{at}.sd"), sd, Bound::Incl(0.0), Bound::Incl(max), unit);
        }
    }
}

fn load_draft(v: &mut Validator, at: &str, load: &LoadSpec) -> LoadDraft {
    match load {
        LoadSpec::Archetype { kind, annual_kwh } => {
            let annual = annual_kwh.unwrap_or(default_annual_kwh(*kind));
            v.range(&format!("{at}.load.annual_kwh"), annual, Bound::Above(0.0), Bound::Incl(1e7), "kWh");
            LoadDraft::Archetype { kind: *kind, annual_kwh: annual }
        }
        LoadSpec::Profile { file, household } => LoadDraft::Profile { file: file.clone(), household: household.clone() },
        LoadSpec::Ausgrid { file, customer, capacity_kwp, meter_utc_offset, controlled_load, annual_kwh, load_day_shift, load_variation } => {
            let at = format!("{at}.load");
            if let Some(c) = capacity_kwp {
                v.range(&format!("{at}.capacity_kwp"), *c, Bound::Above(0.0), Bound::Incl(1e4), "kWp");
            }
            if let Some(a) = annual_kwh {
                v.range(&format!("{at}.annual_kwh"), *a, Bound::Above(0.0), Bound::Incl(1e7), "kWh");
            }
            v.range(&format!("{at}.load_day_shift"), *load_day_shift as f64, Bound::Incl(-MAX_DAY_SHIFT), Bound::Incl(MAX_DAY_SHIFT), "days");
            v.range(&format!("{at}.load_variation"), *load_variation, Bound::Incl(0.0), Bound::Incl(1.0), "(standard deviation of a daily factor)");
            let meter_offset = match crate::base::time::Zone::parse(meter_utc_offset) {
                Ok(crate::base::time::Zone::Fixed(off)) => off,
                Ok(_) => {
                    v.err(&format!("{at}.meter_utc_offset"), format!("`{meter_utc_offset}`: Ausgrid meters keep one offset all year; give it as +HH:MM"));
                    chrono::FixedOffset::east_opt(0).expect("zero offset is valid")
                }
                Err(m) => {
                    v.err(&format!("{at}.meter_utc_offset"), m);
                    chrono::FixedOffset::east_opt(0).expect("zero offset is valid")
                }
            };
            LoadDraft::Ausgrid(AusgridDraft {
                file: file.clone(),
                customer: *customer,
                capacity_kwp: *capacity_kwp,
                meter_offset,
                controlled_load: *controlled_load,
                annual_kwh: *annual_kwh,
                load_day_shift: *load_day_shift,
                load_variation: *load_variation,
            })
        }
    }
}

pub fn expand_households(file: &ScenarioFile, v: &mut Validator) -> Vec<HouseDraft> {
    let mut out = Vec::new();
    let total = file.household_count();
    if total > MAX_HOUSEHOLDS {
        v.err("households", format!("{total} households in all; at most {MAX_HOUSEHOLDS}"));
        return out;
    }
    for (gi, spec) in file.households.iter().enumerate() {
        let at = format!("households[{gi}]");
        match spec {
            HouseholdSpec::House(h) => {
                super::validate::check_appliances(v, &at, &h.appliances, file);
                out.push(house_draft(v, at, h));
            }
            HouseholdSpec::Group(g) => {
                super::validate::check_appliances(v, &at, &g.appliances, file);
                let first = out.len();
                expand_group(v, &at, gi, g, file.seed, &mut out);
                // `--set households[id=v007]...`: the member as the House it drew, changed.
                for draft in &mut out[first..] {
                    let sets: Vec<&super::set::MemberSet> = file.member_sets.iter().filter(|m| m.id == draft.id).collect();
                    if sets.is_empty() {
                        continue;
                    }
                    let LoadDraft::Archetype { kind, annual_kwh } = draft.load else { continue };
                    let house = HouseSpec {
                        id: draft.id.clone(),
                        node: draft.node.clone(),
                        phase: draft.phase,
                        pv: draft.pv.clone(),
                        load: LoadSpec::Archetype { kind, annual_kwh: Some(annual_kwh) },
                        battery: draft.battery.clone(),
                        appliances: draft.appliances.clone(),
                        ev: draft.ev.clone(),
                        heat_pump: draft.heat_pump.clone(),
                        hot_water: draft.hot_water.clone(),
                        export_limit_kw: draft.export_limit_kw,
                        inverter: draft.inverter.clone(),
                        bidding: draft.bidding,
                        preferences: draft.preferences.clone(),
                        community: draft.community.clone(),
                        member_of: draft.member_of.clone(),
                        income_per_year: draft.income_per_year,
                    };
                    match super::set::apply_to_member(&house, &sets) {
                        Ok(changed) => {
                            super::validate::check_appliances(v, &draft.path, &changed.appliances, file);
                            *draft = HouseDraft { from_group: true, ..house_draft(v, draft.path.clone(), &changed) };
                        }
                        Err(m) => v.err(&draft.path, m),
                    }
                }
            }
        }
    }
    for m in &file.member_sets {
        if !out.iter().any(|h| h.id == m.id) {
            v.err("households", format!("--set {}: no household has id `{}`", m.set.shown(), m.id));
        }
    }
    let mut seen = HashSet::new();
    for h in &out {
        if !seen.insert(h.id.as_str()) {
            v.err(&format!("{}.id", h.path), format!("household id `{}` is used twice", h.id));
        }
    }
    for h in &out {
        for f in &h.preferences.favourites {
            if f == &h.id {
                v.err(&format!("{}.preferences.favourites", h.path), format!("`{f}` is the household itself"));
            } else if !seen.contains(f.as_str()) {
                v.err(&format!("{}.preferences.favourites", h.path), format!("no household has id `{f}`"));
            }
        }
    }
    out
}

/// A House, checked.
fn house_draft(v: &mut Validator, at: String, h: &HouseSpec) -> HouseDraft {
    check_id(v, &format!("{at}.id"), &h.id);
    if let Some(p) = &h.pv {
        check_pv(v, &format!("{at}.pv"), p.kwp, p.tilt_deg, p.azimuth_deg, p.performance_ratio, p.temperature_coefficient_per_c);
        check_pv_losses(v, &format!("{at}.pv"), p.performance_ratio, p.losses.as_ref(), p.inverter_ac_kw.map(|x| ("inverter_ac_kw", x)));
        v.fraction(&format!("{at}.pv.shading"), p.shading);
    }
    if let Some(b) = &h.battery {
        check_battery(v, &format!("{at}.battery"), b);
    }
    if let Some(e) = &h.ev {
        super::validate::check_ev(v, &format!("{at}.ev"), e);
    }
    super::validate::check_heating(v, &at, h.heat_pump.as_ref(), h.hot_water.as_ref(), true);
    super::validate::check_connection(v, &at, h.export_limit_kw, h.inverter.as_ref());
    if h.inverter.is_some() && h.pv.is_none() {
        v.err(&format!("{at}.inverter"), "a house without `pv` has no inverter to set curves on".to_string());
    }
    check_bidding(v, &at, &h.bidding);
    check_preferences(v, &at, &h.preferences);
    check_community(v, &at, &h.community);
    if let Some(i) = h.income_per_year {
        v.range(&format!("{at}.income_per_year"), i, Bound::Incl(0.0), Bound::Incl(MAX_INCOME_PER_YEAR), "per year");
    }
    HouseDraft {
        load: load_draft(v, &at, &h.load),
        path: at,
        id: h.id.clone(),
        node: h.node.clone(),
        phase: h.phase,
        load_tan_phi: None,
        from_group: false,
        pv: h.pv.clone(),
        battery: h.battery.clone(),
        appliances: h.appliances.clone(),
        ev: h.ev.clone(),
        heat_pump: h.heat_pump.clone(),
        hot_water: h.hot_water.clone(),
        export_limit_kw: h.export_limit_kw,
        inverter: h.inverter.clone(),
        bidding: h.bidding,
        preferences: h.preferences.clone(),
        community: h.community.clone(),
        member_of: h.member_of.clone(),
        income_per_year: h.income_per_year,
    }
}

fn expand_group(v: &mut Validator, at: &str, gi: usize, g: &GroupSpec, seed: u64, out: &mut Vec<HouseDraft>) {
    if !check_id(v, &format!("{at}.prefix"), &g.prefix) {
        return;
    }
    if g.count == 0 || g.count > MAX_GROUP_COUNT {
        v.err(&format!("{at}.count"), format!("{} is out of range 1..={MAX_GROUP_COUNT}", g.count));
        return;
    }
    check_dist(v, &format!("{at}.kwp"), &g.kwp, "kWp");
    check_pv(v, at, 0.0, g.tilt_deg, g.azimuth_deg, g.performance_ratio, g.temperature_coefficient_per_c);
    check_pv_losses(v, at, g.performance_ratio, g.losses.as_ref(), g.dc_ac_ratio.map(|x| ("dc_ac_ratio", x)));
    if let Some(d) = &g.tilt_dist {
        check_dist(v, &format!("{at}.tilt_dist"), d, "°");
    }
    if let Some(d) = &g.azimuth_dist {
        check_angle_dist(v, &format!("{at}.azimuth_dist"), d);
    }
    if let Some(d) = &g.shading {
        check_dist(v, &format!("{at}.shading"), d, "");
    }
    v.fraction(&format!("{at}.pv_share"), g.pv_share);
    v.fraction(&format!("{at}.battery_share"), g.battery_share);
    match &g.battery {
        Some(b) => check_battery(v, &format!("{at}.battery"), b),
        None if g.battery_share > 0.0 => v.err(&format!("{at}.battery"), "battery_share > 0 needs a `battery` spec".to_string()),
        None => {}
    }
    if let Some(d) = &g.annual_kwh {
        check_dist(v, &format!("{at}.annual_kwh"), d, "kWh");
    }
    if let Some(e) = &g.ev {
        super::validate::check_ev(v, &format!("{at}.ev"), e);
    }
    if let Some(x) = g.ev_share
        && v.fraction(&format!("{at}.ev_share"), x)
        && x > 0.0
        && g.ev.is_none()
    {
        v.err(&format!("{at}.ev"), "ev_share > 0 needs an `ev` spec".to_string());
    }
    super::validate::check_heating(v, at, g.heat_pump.as_ref(), g.hot_water.as_ref(), false);
    super::validate::check_connection(v, at, g.export_limit_kw, g.inverter.as_ref());
    for (share, spec, name) in [(g.heat_pump_share, g.heat_pump.is_some(), "heat_pump"), (g.hot_water_share, g.hot_water.is_some(), "hot_water")] {
        match (share, spec) {
            (Some(x), true) => {
                v.fraction(&format!("{at}.{name}_share"), x);
            }
            (Some(x), false) if x > 0.0 => v.err(&format!("{at}.{name}"), format!("{name}_share > 0 needs a `{name}` spec")),
            _ => {}
        }
    }
    check_bidding(v, at, &g.bidding);
    check_preferences(v, at, &g.preferences);
    check_community(v, at, &g.community);
    if let Some(d) = &g.income_per_year {
        check_dist_upto(v, &format!("{at}.income_per_year"), d, "per year", MAX_INCOME_PER_YEAR);
    }
    let weights: Vec<(Archetype, f64)> =
        if g.archetypes.is_empty() { ALL_ARCHETYPES.iter().map(|a| (*a, 1.0)).collect() } else { g.archetypes.iter().map(|(a, w)| (*a, *w)).collect() };
    for (a, w) in &weights {
        v.range(&format!("{at}.archetypes.{a:?}"), *w, Bound::Incl(0.0), Bound::Incl(1e6), "");
    }
    let total: f64 = weights.iter().map(|(_, w)| w.max(0.0)).sum();
    if !(total > 0.0) {
        v.err(&format!("{at}.archetypes"), "weights must add up to more than 0".to_string());
        return;
    }
    let width = g.count.to_string().len();
    let mut r = rng(seed, Stream::Households, gi as u64);
    // Each layout field has its own stream, so giving one never changes another's draws.
    let layout = |field: u64| rng(seed, Stream::PvLayout, gi as u64 * 3 + field);
    let (mut r_tilt, mut r_azimuth, mut r_shading) = (layout(0), layout(1), layout(2));
    let mut r_income = rng(seed, Stream::Income, gi as u64);
    // Which houses own a car: a stream of its own, so cars never shift the other draws.
    let mut r_ev = rng(seed, Stream::Vehicles, (1 << 63) | gi as u64);
    let ev_share = g.ev.as_ref().map_or(0.0, |_| g.ev_share.unwrap_or(1.0));
    // Heat pumps and tanks: streams of their own too.
    let (mut r_hp, mut r_hw) = (rng(seed, Stream::Heating, gi as u64 * 2), rng(seed, Stream::Heating, gi as u64 * 2 + 1));
    let hp_share = g.heat_pump.as_ref().map_or(0.0, |_| g.heat_pump_share.unwrap_or(1.0));
    let hw_share = g.hot_water.as_ref().map_or(0.0, |_| g.hot_water_share.unwrap_or(1.0));
    for i in 0..g.count {
        // Fixed draw order per house, so adding a field never shifts other draws.
        let u_pv: f64 = r.random();
        let kwp = draw(&g.kwp, &mut r);
        let u_bat: f64 = r.random();
        let u_arch: f64 = r.random::<f64>() * total;
        let annual = g.annual_kwh.as_ref().map(|d| draw(d, &mut r));
        let mut acc = 0.0;
        let mut kind = weights.last().map(|(a, _)| *a).unwrap_or(Archetype::Family);
        for (a, w) in &weights {
            acc += w.max(0.0);
            if u_arch < acc {
                kind = *a;
                break;
            }
        }
        let annual_kwh = annual.filter(|a| *a > 0.0).unwrap_or(default_annual_kwh(kind));
        let tilt_deg = g.tilt_dist.as_ref().map_or(g.tilt_deg, |d| draw(d, &mut r_tilt).clamp(0.0, 90.0));
        let azimuth_deg = match &g.azimuth_dist {
            Some(d) => Some(draw_angle(d, &mut r_azimuth)),
            None => g.azimuth_deg,
        };
        let shading = g.shading.as_ref().map_or(0.0, |d| draw(d, &mut r_shading).clamp(0.0, 1.0));
        let has_pv = u_pv < g.pv_share && kwp > 0.0;
        let gets_battery = match g.batteries_on {
            BatteryPlacement::PvHouses => has_pv && u_bat * g.pv_share < g.battery_share,
            BatteryPlacement::AnyHouse => u_bat < g.battery_share,
        };
        let heat_pump = if r_hp.random::<f64>() < hp_share { g.heat_pump.clone() } else { None };
        let wants_tank = r_hw.random::<f64>() < hw_share;
        let hot_water = g.hot_water.clone().filter(|w| wants_tank && (w.heater != crate::household::hot_water::WaterHeater::HeatPump || heat_pump.is_some()));
        out.push(HouseDraft {
            path: format!("{at} (house {})", i + 1),
            id: format!("{}{:0width$}", g.prefix, i + 1),
            node: None,
            phase: g.phase,
            load_tan_phi: None,
            from_group: true,
            pv: has_pv.then_some(PvSpec {
                kwp,
                tilt_deg,
                azimuth_deg,
                performance_ratio: g.performance_ratio,
                temperature_coefficient_per_c: g.temperature_coefficient_per_c,
                losses: g.losses,
                inverter_ac_kw: g.dc_ac_ratio.map(|ratio| kwp / ratio),
                shading,
            }),
            load: LoadDraft::Archetype { kind, annual_kwh },
            battery: if gets_battery { g.battery.clone() } else { None },
            appliances: g.appliances.clone(),
            ev: if r_ev.random::<f64>() < ev_share { g.ev.clone() } else { None },
            heat_pump,
            hot_water,
            export_limit_kw: g.export_limit_kw,
            inverter: g.inverter.clone(),
            bidding: g.bidding,
            preferences: g.preferences.clone(),
            community: g.community.clone(),
            member_of: g.member_of.clone(),
            income_per_year: g.income_per_year.as_ref().map(|d| draw(d, &mut r_income)),
        });
    }
}
