//! Scenes (`scenes/*.ron`) and the scenario events they add: a regional cloud dims the PV of the
//! houses under it only, and only while it lasts; a rule switch changes the prices from its step
//! on; `run --scene` is the scenario with the scene's events written in; a scene's mistakes are
//! named in the scene file.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;

/// `household_timeseries.csv` as (household, step) → pv_kwh.
fn pv_by_house_step(dir: &Path) -> HashMap<(String, u64), f64> {
    Table::read(&dir.join("household_timeseries.csv")).rows.iter().map(|r| ((r["household"].clone(), r["step"].parse().unwrap()), r["pv_kwh"].parse().unwrap())).collect()
}

fn street_with_events(events: &str) -> String {
    let street = std::fs::read_to_string(scenario("street.ron")).unwrap();
    let at = street.rfind(')').unwrap();
    format!("{}    household_series: true,\n    events: [{events}],\n)\n", &street[..at])
}

#[test]
fn a_cloud_dims_the_houses_under_it_while_it_lasts_and_no_others() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, cloudy) = (tmp.path().join("plain.ron"), tmp.path().join("cloudy.ron"));
    std::fs::write(&plain, street_with_events("")).unwrap();
    // Noon of the first day, one hour, over two houses.
    std::fs::write(&cloudy, street_with_events("Cloud(step: 46, steps: 4, over: Households([\"no1\", \"no3\"]), transmittance: 0.25)")).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&plain, &a, &["--steps", "96"]);
    run_ok(&cloudy, &b, &["--steps", "96"]);
    let (clear, shaded) = (pv_by_house_step(&a), pv_by_house_step(&b));
    for ((house, step), kwh) in &clear {
        let under = (house == "no1" || house == "no3") && (46..50).contains(step);
        let dimmed = shaded[&(house.clone(), *step)];
        if under {
            // A fifth to a third of the clear-sky output: the diffuse part of what is let through
            // reaches a tilted panel less than the beam did.
            assert!(*kwh > 0.5 && dimmed < kwh * 0.4 && dimmed > kwh * 0.1, "{house} at step {step}: {kwh} → {dimmed}");
        } else {
            assert_eq!(*kwh, dimmed, "{house} at step {step}: not under the cloud");
        }
    }
    let (sa, sb) = (summary(&a), summary(&b));
    assert!(sb["pv_kwh"].as_f64().unwrap() < sa["pv_kwh"].as_f64().unwrap());
    assert!(sb["max_energy_imbalance_kwh"].as_f64().unwrap() < 1e-6, "energy still balances: {}", sb["max_energy_imbalance_kwh"]);
}

#[test]
fn a_cloud_near_a_node_covers_the_houses_within_its_radius() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.ron");
    // The street's houses are 25 m apart along one feeder: 30 m around the first house's node
    // covers it and its neighbour.
    std::fs::write(&path, street_with_events("Cloud(step: 46, steps: 1, over: Near(node: \"no2\", radius_m: 30))")).unwrap();
    let out = tmp.path().join("o");
    run_ok(&path, &out, &["--steps", "48"]);
    let plain = tmp.path().join("plain.ron");
    std::fs::write(&plain, street_with_events("")).unwrap();
    let out2 = tmp.path().join("p");
    run_ok(&plain, &out2, &["--steps", "48"]);
    let (a, b) = (pv_by_house_step(&out2), pv_by_house_step(&out));
    let dimmed: Vec<&str> = a.keys().filter(|(_, s)| *s == 46).filter(|k| b[*k] < a[*k]).map(|(h, _)| h.as_str()).collect();
    assert!(!dimmed.is_empty() && dimmed.len() < 6, "a few neighbours of no2: {dimmed:?}");
}

#[test]
fn a_rule_switch_changes_the_prices_from_its_step_on() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, switched) = (tmp.path().join("plain.ron"), tmp.path().join("switched.ron"));
    std::fs::write(&plain, street_with_events("")).unwrap();
    std::fs::write(&switched, street_with_events("SwitchRule(step: 96, rule: \"mmr\")")).unwrap();
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
    run_ok(&plain, &a, &["--steps", "192"]);
    run_ok(&switched, &b, &["--steps", "192"]);
    let (ta, tb) = (Table::read(&a.join("timeseries.csv")), Table::read(&b.join("timeseries.csv")));
    let price = |t: &Table, step: usize| t.rows[step]["clearing_price"].clone();
    for step in 0..96 {
        assert_eq!(price(&ta, step), price(&tb, step), "step {step}: before the switch");
    }
    // The mid-market rate: every peer kWh at (import + export) / 2 of the street's tariff.
    let after: Vec<String> = (96..192).map(|s| price(&tb, s)).filter(|p| !p.is_empty()).collect();
    assert!(!after.is_empty());
    assert!((96..192).any(|s| price(&ta, s) != price(&tb, s)), "the rule changed the prices");
    // (The step's price is its trades' mean: rounding of each payment leaves a few millionths.)
    assert_eq!(summary(&b)["rule_switches"], serde_json::json!([{"step": 96, "rule": "mmr"}]));
    // compare runs each rule over the whole run: a switch would make every row the same.
    let o = peergrid(&["compare", switched.to_str().unwrap(), "--rules", "grid-only,sdr", "--steps", "96", "--out", tmp.path().join("cmp").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SwitchRule"), "{}", stderr(&o));
    let mid: std::collections::BTreeSet<i64> = after.iter().map(|p| (p.parse::<f64>().unwrap() * 1000.0).round() as i64).collect();
    assert!(mid.iter().all(|m| [120, 180, 255].contains(m)), "the mid-market rate of each tariff period (0.18, 0.30 or 0.45 and 0.06): {mid:?}");
}

#[test]
fn run_scene_is_the_scenario_with_the_scene_events_written_in() {
    let tmp = tempfile::tempdir().unwrap();
    let scene = tmp.path().join("scene.ron");
    std::fs::write(
        &scene,
        r#"Scene(title: "t", steps: 96, actions: [
            Caption(step: 0, text: "hello"),
            Cloud(step: 46, steps: 4, over: Households(["no1"]), transmittance: 0.25),
            Pause(step: 50, seconds: 2),
            SwitchRule(step: 60, rule: "sdr"),
            WitnessOffline(step: 10, witness: "no4", steps: 20),
        ])"#,
    )
    .unwrap();
    let by_scene = tmp.path().join("by-scene");
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", by_scene.to_str().unwrap(), "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(summary(&by_scene)["steps"], 96, "the scene's length");

    let street = std::fs::read_to_string(scenario("street.ron")).unwrap();
    let at = street.rfind(')').unwrap();
    let written = format!(
        "{}    events: [Cloud(step: 46, steps: 4, over: Households([\"no1\"]), transmittance: 0.25), SwitchRule(step: 60, rule: \"sdr\")],\n    ledger: (faults: [(witness: \"no4\", from_step: 10, to_step: 30)]),\n)\n",
        &street[..at]
    );
    let path = tmp.path().join("written.ron");
    std::fs::write(&path, written).unwrap();
    let by_hand = tmp.path().join("by-hand");
    run_ok(&path, &by_hand, &["--steps", "96"]);
    for file in ["timeseries.csv", "trades.csv", "households.csv", "ledger.jsonl"] {
        assert!(std::fs::read(by_scene.join(file)).unwrap() == std::fs::read(by_hand.join(file)).unwrap(), "{file} differs");
    }
}

#[test]
fn a_scene_mistake_names_the_scene_file_and_action() {
    let tmp = tempfile::tempdir().unwrap();
    let scene = tmp.path().join("bad.ron");
    std::fs::write(&scene, r#"Scene(title: "t", actions: [Caption(step: 0, text: "x"), LeaveCommunity(step: 3, household: "nobody")])"#).unwrap();
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("bad.ron") && e.contains("actions[1].household") && e.contains("nobody"), "{e}");
    assert!(!tmp.path().join("o").exists(), "no output");

    std::fs::write(&scene, "Scene(title: \"t\", actions: [Pause(step: 0, seconds: -1)])").unwrap();
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("actions[0].seconds"), "{}", stderr(&o));

    for (actions, field) in [("Select(step: 1, household: \"nobody\")", "actions[0].household"), ("WitnessOffline(step: 5, witness: \"no1\", steps: 0)", "actions[0].steps")] {
        std::fs::write(&scene, format!("Scene(title: \"t\", actions: [{actions}])")).unwrap();
        let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(2), "{actions}");
        assert!(stderr(&o).contains("bad.ron") && stderr(&o).contains(field), "{actions}: {}", stderr(&o));
    }
    std::fs::write(&scene, "Scene(title: \"t\", steps: 100000, actions: [])").unwrap();
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.ron: field `steps`"), "the scene's length: {}", stderr(&o));

    std::fs::write(&scene, "Scene(title: \"t\", actions: [Wobble(step: 0)])").unwrap();
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", tmp.path().join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.ron:1:"), "line and column: {}", stderr(&o));
}

#[test]
fn the_shipped_scenes_play_on_their_scenarios_in_under_three_minutes() {
    for (scene, scen) in [("cloud-over-feeder.ron", "village.ron"), ("switch-rule.ron", "street.ron"), ("witness-and-community.ron", "competing-communities.ron")] {
        let path = repo().join("scenes").join(scene);
        let text = std::fs::read_to_string(&path).unwrap();
        // Steps at the scene's speed, plus its pauses.
        let num = |key: &str| text.split(&format!("{key}: ")).nth(1).and_then(|s| s.split(|c: char| !c.is_ascii_digit() && c != '.').next()).and_then(|s| s.parse::<f64>().ok()).unwrap();
        let pauses: f64 = text.split("Pause(").skip(1).map(|p| p.split("seconds: ").nth(1).unwrap().split(|c: char| !c.is_ascii_digit() && c != '.').next().unwrap().parse::<f64>().unwrap()).sum();
        let seconds = num("steps") / num("speed") + pauses;
        assert!(seconds < 180.0, "{scene}: {seconds} s");
        let tmp = tempfile::tempdir().unwrap();
        let o = peergrid(&["check", scenario(scen).to_str().unwrap()]);
        assert!(o.status.success());
        let out = tmp.path().join("o");
        let o = peergrid(&["run", scenario(scen).to_str().unwrap(), "--scene", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
        assert!(o.status.success(), "{scene}: {}", stderr(&o));
    }
}
