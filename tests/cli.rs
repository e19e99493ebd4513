//! The command line as a user meets it: help, rules, check, bad input, output folders.

mod common;
use common::*;

#[test]
fn every_command_has_help() {
    for args in [vec!["--help"], vec!["run", "--help"], vec!["check", "--help"], vec!["rules", "--help"]] {
        let o = peergrid(&args);
        assert!(o.status.success(), "{args:?}");
        assert!(stdout(&o).contains("Usage"), "{args:?}");
    }
}

#[test]
fn rules_lists_names_with_descriptions() {
    let o = peergrid(&["rules"]);
    assert!(o.status.success());
    let text = stdout(&o);
    assert!(text.contains("grid-only") && text.contains("double-auction") && text.contains("param k"), "{text}");
}

#[test]
fn check_accepts_every_shipped_scenario() {
    for s in ["street.ron", "village.ron", "island.ron", "district-10k.ron"] {
        let o = peergrid(&["check", scenario(s).to_str().unwrap()]);
        assert!(o.status.success(), "{s}: {}", stderr(&o));
        assert!(stdout(&o).starts_with("ok: "), "{s}");
    }
}

/// Writes a broken copy of the street scenario and checks `run` rejects it with exit code 2, a
/// message containing `expect`, and no output folder.
fn rejects(edit: impl Fn(String) -> String, expect: &[&str]) {
    rejects_text(&edit(std::fs::read_to_string(scenario("street.ron")).unwrap()), expect);
}

#[test]
fn syntax_error_names_line_and_column() {
    rejects(|t| t.replacen("seed: 42,", "seed: 42,,", 1), &["broken.ron:6:"]);
}

#[test]
fn unknown_field_is_named_with_its_position() {
    rejects(|t| t.replacen("step_minutes: 15,", "step_minutes: 15, colour: \"red\",", 1), &["colour", "broken.ron:9:"]);
}

#[test]
fn negative_capacity_names_field_and_allowed_range() {
    rejects(|t| t.replacen("capacity_kwh: 13.5", "capacity_kwh: -13.5", 1), &["households[0].battery.capacity_kwh", "allowed 0 <"]);
}

#[test]
fn household_on_a_missing_node_is_named() {
    rejects(
        |t| {
            t.replace("House(id: \"no2\", load:", "House(id: \"no2\", node: \"pole9\", load:").replace(
                "topology: Generated(layout: Street, spacing_m: 25, feeder_capacity_kw: 200, service_capacity_kw: 20)",
                "topology: Explicit(nodes: [(id: \"sub\", kind: Substation)], lines: [])",
            )
        },
        &["`pole9`, which does not exist"],
    );
}

#[test]
fn missing_profile_file_is_named() {
    rejects(|t| t.replacen("load: Archetype(kind: Retired)", "load: Profile(file: \"measured.csv\")", 1), &["measured.csv", "cannot open"]);
}

#[test]
fn missing_scenario_file_is_exit_2() {
    let o = peergrid(&["run", "no-such-file.ron"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no-such-file.ron"));
}

#[test]
fn existing_output_is_replaced_only_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("mine.txt"), "keep").unwrap();
    let s = scenario("street.ron");
    let o = peergrid(&["run", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "4"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--force"));
    assert!(out.join("mine.txt").exists(), "untouched without --force");
    run_ok(&s, &out, &["--steps", "4", "--force"]);
    assert!(!out.join("mine.txt").exists() && out.join("summary.json").exists());
    let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names, vec!["street".to_string()], "no staging folders left behind");
}

#[test]
fn steps_beyond_the_scenario_are_an_input_error_not_a_silent_cut() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    // street.ron: 7 days at 15 min = 672 steps.
    let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "100000"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("street.ron") && err.contains("--steps") && err.contains("672"), "{err}");
    assert!(!out.exists(), "no output folder");
    run_ok(&scenario("street.ron"), &out, &["--steps", "672"]);
    assert_eq!(summary(&out)["steps"], 672);
}

#[test]
fn default_output_folder_is_out_slash_name() {
    let tmp = tempfile::tempdir().unwrap();
    let o = peergrid_in(tmp.path(), &["run", scenario("street.ron").to_str().unwrap(), "--steps", "8"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(tmp.path().join("out/street/summary.json").is_file());
    assert!(stdout(&o).contains("out/street"));
}

/// SIGINT (Ctrl-C), SIGTERM (what cluster schedulers send), SIGHUP and a second Ctrl-C while the
/// run stops: exit 130 and nothing left behind.
#[test]
fn signals_leave_no_output_folder() {
    let tmp = tempfile::tempdir().unwrap();
    // A year of the 10k district: far longer than the signal's delay on any machine.
    let text = std::fs::read_to_string(scenario("district-10k.ron")).unwrap().replace("duration_days: 7", "duration_days: 365");
    let scen = tmp.path().join("year.ron");
    std::fs::write(&scen, text).unwrap();
    for signals in [&["-INT"][..], &["-TERM"], &["-HUP"], &["-INT", "-INT"]] {
        let out = tmp.path().join("big");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_peergrid"))
            .args(["run", scen.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(700));
        for signal in signals {
            let killed = std::process::Command::new("kill").args([signal.to_string(), child.id().to_string()]).status().unwrap();
            assert!(killed.success());
        }
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "{signals:?}");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names, vec!["year.ron".to_string()], "{signals:?}: an interrupted run leaves nothing behind");
    }
}

/// `--out` naming a regular file is refused before anything is written, even with `--force`.
#[test]
fn out_naming_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("results.txt");
    std::fs::write(&file, "mine").unwrap();
    let street = scenario("street.ron");
    for force in [false, true] {
        let mut args = vec!["run", street.to_str().unwrap(), "--steps", "4", "--out", file.to_str().unwrap()];
        if force {
            args.push("--force");
        }
        let o = peergrid(&args);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("is a file, not a folder"), "{}", stderr(&o));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1, "nothing else written");
    }
    let votes = peergrid(&["check", street.to_str().unwrap(), "--set", "ledger.votes_per_household=4294967295"]);
    assert_eq!(votes.status.code(), Some(2), "{}", stderr(&votes));
    assert!(stderr(&votes).contains("ledger.votes_per_household"), "{}", stderr(&votes));
}

/// `--set households[id=...]`: a House by its id, and a Group's member by its generated id (the
/// member is changed after the group is drawn; its neighbours keep their draws).
#[test]
fn set_addresses_houses_and_group_members_by_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, set) = (tmp.path().join("plain"), tmp.path().join("set"));
    run_ok(&scenario("street.ron"), &plain, &["--steps", "96"]);
    run_ok(&scenario("street.ron"), &set, &["--steps", "96", "--set", "households[id=no1].pv.kwp=8", "--set", "households[id=h3].pv=(kwp: 9.5)", "--set", "households[id=h5].battery=(capacity_kwh: 7, max_charge_kw: 3, max_discharge_kw: 3)"]);
    let (a, b) = (Table::read(&plain.join("households.csv")), Table::read(&set.join("households.csv")));
    let row = |t: &Table, id: &str| t.rows.iter().find(|r| r["household"] == id).unwrap().clone();
    assert_eq!(Table::f(&row(&b, "no1"), "kwp"), 8.0);
    assert_eq!(Table::f(&row(&b, "h3"), "kwp"), 9.5);
    assert_eq!(Table::f(&row(&b, "h5"), "battery_kwh"), 7.0);
    for id in ["no2", "h1", "h2", "h4", "h6", "h8"] {
        assert_eq!(row(&a, id)["kwp"], row(&b, id)["kwp"], "{id} keeps its draw");
        assert_eq!(row(&a, id)["battery_kwh"], row(&b, id)["battery_kwh"], "{id} keeps its draw");
    }
    let o = peergrid(&["check", scenario("street.ron").to_str().unwrap(), "--set", "households[id=h9].pv.kwp=1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("no household has id `h9`"), "{}", stderr(&o));
}

/// `check` counts PV measured in profiles, and says where a Group's batteries went: on houses
/// with PV unless the group says `batteries_on: AnyHouse`.
#[test]
fn check_counts_profile_pv_and_places_batteries_on_pv_houses() {
    let o = peergrid(&["check", scenario("village.ron").to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("all on houses with PV"), "{}", stdout(&o));
    let o = peergrid(&["check", scenario("village.ron").to_str().unwrap(), "--set", "households[0].batteries_on=AnyHouse"]);
    assert!(stdout(&o).contains("on houses without PV (they never charge"), "{}", stdout(&o));
    let tmp = tempfile::tempdir().unwrap();
    let mut csv = String::from("household,step,load_kwh,pv_kwh\n");
    for step in 0..48 {
        csv.push_str(&format!("p1,{step},0.5,{}\np2,{step},0.5,0\n", if (16..32).contains(&step) { 1.0 } else { 0.0 }));
    }
    std::fs::write(tmp.path().join("profiles.csv"), csv).unwrap();
    let scen = r#"(name: "p", start: "2024-01-01T00:00", step_minutes: 30, duration_days: 1, location: (latitude_deg: 0, longitude_deg: 0),
        grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.10),
        households: [House(id: "p1", load: Profile(file: "profiles.csv")), House(id: "p2", load: Profile(file: "profiles.csv"))],
        topology: Generated(layout: Street))"#;
    std::fs::write(tmp.path().join("p.ron"), scen).unwrap();
    let o = peergrid(&["check", tmp.path().join("p.ron").to_str().unwrap()]);
    assert!(stdout(&o).contains("2 households (1 with PV, 0 with batteries)"), "{}", stdout(&o));
}
