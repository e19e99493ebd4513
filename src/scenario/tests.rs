use super::*;
use crate::base::error::Location;
use super::examples::{parse, STREET};

fn errors(text: &str) -> Vec<InputError> {
    Scenario::from_str(text, Path::new("bad.ron"), &Overrides::default()).expect_err("should be rejected").0
}

#[test]
fn street_resolves() {
    let s = parse(STREET, &Overrides::default());
    assert_eq!(s.households.len(), 6);
    assert_eq!(s.frame.total_steps, 96);
    assert_eq!(s.households[2].id, "g1");
    assert_eq!(s.rule.name, "double-auction");
    assert!(s.topology.is_radial());
    assert_eq!(s.households[0].pv.unwrap().azimuth_deg, 0.0, "south of the equator panels face north");
}

#[test]
fn syntax_errors_carry_line_and_column() {
    let text = STREET.replace("seed: 7,", "seed: 7,,");
    let e = errors(&text);
    assert!(matches!(e[0].location, Location::LineColumn { line: 3, .. }), "{:?}", e[0]);
    assert!(e[0].to_string().starts_with("bad.ron:3:"), "{}", e[0]);
}

#[test]
fn unknown_fields_are_named() {
    let e = errors(&STREET.replace("kwp: 6.0)", "kwp: 6.0, colour: 3)"));
    let msg = e[0].to_string();
    assert!(msg.contains("colour") && msg.contains("bad.ron:"), "{msg}");
}

#[test]
fn negative_capacity_names_field_and_range() {
    let e = errors(&STREET.replace("capacity_kwh: 10.0", "capacity_kwh: -10.0"));
    assert_eq!(e[0].location, Location::Field("households[0].battery.capacity_kwh".into()));
    assert!(e[0].message.contains("allowed 0 <"), "{}", e[0].message);
}

#[test]
fn all_problems_are_reported_together() {
    let text = STREET
        .replace("latitude_deg: -33.87", "latitude_deg: -133.87")
        .replace("step_minutes: 30", "step_minutes: 7")
        .replace("capacity_kwh: 10.0", "capacity_kwh: -10.0");
    let e = errors(&text);
    let fields: Vec<String> = e.iter().map(|e| e.location.to_string()).collect();
    assert_eq!(fields, ["field `location.latitude_deg`", "field `step_minutes`", "field `households[0].battery.capacity_kwh`"]);
}

#[test]
fn unknown_rule_lists_the_allowed_ones() {
    let e = Scenario::from_str(STREET, Path::new("x.ron"), &Overrides { rule: Some("magic".into()), ..Default::default() }).unwrap_err().0;
    assert!(e[0].message.contains("double-auction") && e[0].message.contains("grid-only"), "{}", e[0].message);
}

#[test]
fn explicit_topology_checks_nodes_and_connectivity() {
    let base = r#"(
        name: "x", start: "2024-01-01T00:00", duration_days: 1,
        location: (latitude_deg: 0, longitude_deg: 0),
        grid: Connected(import_price_per_kwh: 0.3, export_price_per_kwh: 0.1),
        households: [
            House(id: "a", node: "n1", load: Archetype(kind: Family)),
            House(id: "b", node: NODE_B, load: Archetype(kind: Family)),
        ],
        topology: Explicit(
            nodes: [(id: "sub", kind: Substation), (id: "n1", kind: Junction), (id: "n2", kind: Junction)],
            lines: [(from: "sub", to: "n1", length_m: 50, capacity_kw: CAP)],
        ),
    )"#;
    let ok = base.replace("NODE_B", "\"n1\"").replace("CAP", "100");
    assert_eq!(parse(&ok, &Overrides::default()).households.len(), 2);
    let missing = errors(&base.replace("NODE_B", "\"n9\"").replace("CAP", "100"));
    assert!(missing[0].message.contains("`n9`, which does not exist"), "{}", missing[0]);
    let island = errors(&base.replace("NODE_B", "\"n2\"").replace("CAP", "100"));
    assert!(island[0].message.contains("not connected"), "{}", island[0]);
    let zero = errors(&base.replace("NODE_B", "\"n1\"").replace("CAP", "0"));
    assert_eq!(zero[0].location, Location::Field("topology.lines[0].capacity_kw".into()));
    let negative = errors(&base.replace("NODE_B", "\"n1\"").replace("CAP", "-5"));
    assert!(negative[0].message.contains("-5 kW is out of range"), "{}", negative[0]);
    let unknown_end = errors(&base.replace("NODE_B", "\"n1\"").replace("CAP", "100").replace("to: \"n1\"", "to: \"n7\""));
    assert!(unknown_end.iter().any(|e| e.location == Location::Field("topology.lines[0].to".into()) && e.message.contains("unknown node `n7`")), "{unknown_end:?}");
}

#[test]
fn missing_profile_file_is_named() {
    let text = STREET.replace("load: Archetype(kind: Family)", "load: Profile(file: \"nowhere.csv\")");
    let e = errors(&text);
    assert_eq!(e[0].location, Location::Field("households[1].load.file".into()));
    assert!(e[0].message.contains("nowhere.csv") && e[0].message.contains("cannot open"), "{}", e[0]);
}

#[test]
fn steps_override_shortens_the_run() {
    let s = parse(STREET, &Overrides { steps: Some(5), ..Default::default() });
    assert_eq!(s.frame.total_steps, 5);
    assert_eq!(s.overrides, vec!["steps=5".to_string()]);
}

#[test]
fn favourites_must_name_other_households() {
    let text = STREET.replace(r#"House(id: "b", load: Archetype(kind: Family)),"#, r#"House(id: "b", load: Archetype(kind: Family), preferences: (favourites: ["a", "zz", "b"])),"#);
    let e = errors(&text);
    let msgs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 2, "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("households[1].preferences.favourites") && m.contains("`zz`")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("is the household itself")), "{msgs:?}");
}

#[test]
fn events_name_their_household_and_step() {
    let text = STREET.replace(
        "topology: Generated(layout: Street),",
        r#"topology: Generated(layout: Street),
    events: [JoinCommunity(step: 500, household: "b", community: "x"), LeaveCommunity(step: 1, household: "zz"), JoinCommunity(step: 2, household: "a", community: "a//b")],"#,
    );
    let e = errors(&text);
    let msgs: Vec<String> = e.iter().map(|e| e.to_string()).collect();
    assert!(msgs.iter().any(|m| m.contains("events[0].step") && m.contains("after the run's last step (95)")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("events[1].household") && m.contains("`zz`")), "{msgs:?}");
    assert!(msgs.iter().any(|m| m.contains("events[2].community") && m.contains("a//b")), "{msgs:?}");
}

#[test]
fn network_fees_must_not_decrease_outwards_and_loss_bearer_is_named() {
    let with = |net: &str| STREET.replace("topology: Generated(layout: Street),", &format!("topology: Generated(layout: Street),\n    {net}"));
    let e = errors(&with("network: (fees: (same_street_per_kwh: 0.03, same_feeder_per_kwh: 0.02))"));
    assert_eq!(e[0].location, Location::Field("network.fees.same_feeder_per_kwh".into()));
    assert!(e[0].message.contains("may not decrease outwards"), "{}", e[0].message);
    let e = errors(&with("network: (fees: (across_feeders_per_kwh: -1.0))"));
    assert_eq!(e[0].location, Location::Field("network.fees.across_feeders_per_kwh".into()));
    let e = errors(&with("market: (loss_bearer: Nobody),"));
    assert!(e[0].to_string().contains("Nobody"), "{}", e[0]);
    let s = parse(&with("network: (fees: (same_street_per_kwh: 0.01, across_feeders_per_kwh: 0.04)),\n    market: (loss_bearer: Shared),"), &Overrides::default());
    assert_eq!(s.network_fees.same_feeder, crate::base::money::PricePerKwh(10_000), "an unset fee is the next inner one");
    assert_eq!(s.loss_bearer, crate::market::LossBearer::Shared);
}

#[test]
fn a_file_for_another_schema_version_is_rejected() {
    let with = |v: &str| STREET.replacen("name: \"test-street\",", &format!("schema_version: {v},\n    name: \"test-street\","), 1);
    assert_eq!(parse(&with("1"), &Overrides::default()).households.len(), 6);
    let e = errors(&with("2"));
    assert_eq!(e[0].location, Location::Field("schema_version".into()));
    assert!(e[0].message.contains("version 1"), "{}", e[0]);
}

#[test]
fn a_group_draws_its_panels_orientation_and_shade() {
    let text = r#"(
        name: "x", start: "2024-01-01T00:00", duration_days: 1,
        location: (latitude_deg: 52.5, longitude_deg: 13.4),
        grid: Connected(import_price_per_kwh: 0.3, export_price_per_kwh: 0.1),
        households: [Group(prefix: "h", count: 200, kwp: Fixed(5.0), tilt_dist: Uniform(min: 15, max: 45),
            azimuth_dist: Normal(mean: 180, sd: 40), shading: Uniform(min: 0, max: 0.2), losses: (soiling_pct: 3), dc_ac_ratio: 1.25)],
    )"#;
    let s = parse(text, &Overrides::default());
    let pvs: Vec<_> = s.households.iter().map(|h| h.pv.unwrap()).collect();
    assert!(pvs.iter().all(|p| (15.0..45.0).contains(&p.tilt_deg) && (0.0..360.0).contains(&p.azimuth_deg) && (0.0..0.2).contains(&p.shading)));
    let spread = |f: fn(&PvDef) -> f64| pvs.iter().map(f).fold(f64::INFINITY, f64::min)..pvs.iter().map(f).fold(f64::NEG_INFINITY, f64::max);
    assert!(spread(|p| p.tilt_deg).end - spread(|p| p.tilt_deg).start > 25.0);
    assert!(spread(|p| p.azimuth_deg).end - spread(|p| p.azimuth_deg).start > 150.0);
    // The budget with soiling at 3% and PVWatts' other defaults; the inverter at kWp / 1.25.
    assert!((pvs[0].dc_kept - 0.8592433931173553 * 0.97 / 0.98).abs() < 1e-12);
    assert_eq!((pvs[0].inverter_ac_kw, pvs[0].performance_ratio), (Some(4.0), 1.0));
    // Giving the shade changes no other draw: tilts stay as they were.
    let plain = parse(&text.replace(", shading: Uniform(min: 0, max: 0.2)", ""), &Overrides::default());
    assert!(plain.households.iter().zip(&pvs).all(|(h, p)| h.pv.unwrap().tilt_deg == p.tilt_deg && h.pv.unwrap().shading == 0.0));
    // A lumped performance ratio and an itemised budget together are refused.
    let e = errors(&text.replace("dc_ac_ratio: 1.25", "dc_ac_ratio: 1.25, performance_ratio: 0.8"));
    assert_eq!(e[0].location, Location::Field("households[0].performance_ratio".into()));
}
