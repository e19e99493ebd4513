//! `peergrid run --set` and `peergrid sweep`: variants from the command line and grids of them,
//! sharded like a cluster job array.

mod common;
use common::*;

#[test]
fn set_changes_a_field_and_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(&scenario("street.ron"), &out, &["--steps", "96", "--set", "households[0].battery.capacity_kwh=20", "--set", "grid.import_price_per_kwh=0.5", "--ledger", "off"]);
    let hh = Table::read(&out.join("households.csv"));
    assert_eq!(Table::f(&hh.rows[0], "battery_kwh"), 20.0);
    let s = summary(&out);
    let overrides = s["provenance"]["overrides"].to_string();
    assert!(overrides.contains("set households[0].battery.capacity_kwh=20") && overrides.contains("grid.import_price_per_kwh=0.5"), "{overrides}");
}

#[test]
fn a_bad_set_names_the_field_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    for (set, expect) in [
        ("households[0].battery.capacity=20", "has no field `capacity`"),
        ("households[0].battery.capacity_kwh=-1", "households[0].battery.capacity_kwh"),
        ("market.rule=magic", "unknown rule `magic`"),
        ("seed", "path.to.field=value"),
    ] {
        let o = peergrid(&["run", scenario("street.ron").to_str().unwrap(), "--out", out.to_str().unwrap(), "--set", set]);
        assert!(!o.status.success(), "{set}");
        assert!(stderr(&o).contains(expect), "{set}: {}", stderr(&o));
        assert!(!out.exists(), "{set}: no output");
    }
}

const SWEEP: &str = r#"(
    scenario: "STREET",
    axes: [
        (set: "households[4].battery_share", values: [0.0, 1.0]),
        (set: "market.rule", values: ["double-auction", "sdr", "mmr"]),
    ],
    steps: 96,
)"#;

fn write_sweep(dir: &std::path::Path, text: &str) -> std::path::PathBuf {
    let p = dir.join("grid.ron");
    std::fs::write(&p, text.replace("STREET", scenario("street.ron").to_str().unwrap())).unwrap();
    p
}

#[test]
fn a_sweep_writes_a_row_per_run_and_shards_concatenate_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = write_sweep(tmp.path(), SWEEP);
    let whole = tmp.path().join("whole");
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", whole.to_str().unwrap(), "--threads", "2"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = Table::read(&whole.join("sweep.csv"));
    assert_eq!(t.rows.len(), 6);
    for c in ["run", "seed", "households[4].battery_share", "market.rule", "self_sufficiency", "savings_pct", "p2p_kwh"] {
        assert!(t.headers.iter().any(|h| h == c), "sweep.csv lacks {c}");
    }
    assert_eq!(t.rows.iter().map(|r| r["market.rule"].as_str()).collect::<Vec<_>>(), ["double-auction", "sdr", "mmr", "double-auction", "sdr", "mmr"]);
    // Batteries change the outcome; the rule column is the rule that ran.
    assert_ne!(t.rows[0]["self_sufficiency"], t.rows[3]["self_sufficiency"]);

    // Three shards, in any order, make the same rows.
    let mut rows = Vec::new();
    for k in [2, 0, 1] {
        let dir = tmp.path().join(format!("shard{k}"));
        let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", dir.to_str().unwrap(), "--shard", &format!("{k}/3"), "--threads", "1"]);
        assert!(o.status.success(), "{}", stderr(&o));
        rows.extend(std::fs::read_to_string(dir.join("sweep.csv")).unwrap().lines().skip(1).map(str::to_string));
    }
    rows.sort_by_key(|r| r.split(',').next().unwrap().parse::<u32>().unwrap());
    let whole_rows: Vec<String> = std::fs::read_to_string(whole.join("sweep.csv")).unwrap().lines().skip(1).map(str::to_string).collect();
    assert_eq!(rows, whole_rows, "shards give the same rows as one process");
}

#[test]
fn a_sweep_with_a_bad_axis_fails_before_running() {
    let tmp = tempfile::tempdir().unwrap();
    let sweep = write_sweep(tmp.path(), &SWEEP.replace("battery_share", "batery_share"));
    let out = tmp.path().join("out");
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("grid.ron: field `axes[0].values[0]`") && stderr(&o).contains("no field `batery_share`"), "{}", stderr(&o));
    assert!(!out.exists());
    // Every bad value at once, each named by the sweep file, its axis and the value.
    let sweep = write_sweep(tmp.path(), &SWEEP.replace("values: [0.0, 1.0]", "values: [1.5, 0.5, -2.0]").replace("\"sdr\"", "\"sdrr\""));
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for (at, value) in [("axes[0].values[0]", "=1.5"), ("axes[0].values[2]", "=-2"), ("axes[1].values[1]", "=sdrr")] {
        assert!(err.lines().any(|l| l.contains(&format!("grid.ron: field `{at}`")) && l.contains(value)), "{at}: {err}");
    }
    assert!(!err.contains("axes[0].values[1]"), "0.5 is fine: {err}");
    assert!(!out.exists());
    let bad_shard = peergrid(&["sweep", sweep.to_str().unwrap(), "--shard", "3/3"]);
    assert!(!bad_shard.status.success() && stderr(&bad_shard).contains("0 ≤ K < N"), "{}", stderr(&bad_shard));
}

#[test]
fn values_valid_only_together_pass_and_a_clash_names_its_run() {
    let tmp = tempfile::tempdir().unwrap();
    // min_soc 0.6 is above no1's default initial_soc 0.5 on its own, fine with initial_soc 0.8.
    let together = r#"(scenario: "STREET", axes: [(set: "households[id=no1].battery.min_soc", values: [0.6]), (set: "households[id=no1].battery.initial_soc", values: [0.8])], steps: 8)"#;
    let sweep = write_sweep(tmp.path(), together);
    let out = tmp.path().join("ok");
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // min_soc 0.1 or 0.6 × initial_soc 0.5 or 0.8: only (0.6, 0.5) clashes, and every value
    // works in some run, so the error names that run, not a bad value.
    let clash = together.replace("values: [0.6]", "values: [0.6, 0.1]").replace("values: [0.8]", "values: [0.8, 0.5]");
    let sweep = write_sweep(tmp.path(), &clash);
    let o = peergrid(&["sweep", sweep.to_str().unwrap(), "--out", tmp.path().join("clash").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("field `axes`: run 1") && !stderr(&o).contains("values["), "{}", stderr(&o));
}
