//! `peergrid compare`: identical inputs for every rule, a table and compare.csv.

mod common;
use common::*;

#[test]
fn compares_rules_on_identical_inputs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = peergrid(&["compare", scenario("street.ron").to_str().unwrap(), "--rules", "grid-only,double-auction,sdr,mmr,bill-sharing,pay-as-bid,continuous,nearest", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("self-suff."), "{}", stdout(&o));
    let t = Table::read(&out.join("compare.csv"));
    assert_eq!(t.rows.len(), 8);
    for c in ["rule", "seeds", "self_sufficiency", "savings_pct", "p2p_price_mean", "p2p_price_sd", "trades", "gini_savings", "share_worse_off", "savings_pct_ci95", "savings", "baseline_import_cost", "savings_pct_of_baseline_import_cost", "co2_avoided_vs_baseline_kg"] {
        assert!(t.headers.iter().any(|h| h == c), "compare.csv lacks {c}");
    }
    for r in &t.rows {
        let (savings, cost) = (Table::f(r, "savings"), Table::f(r, "baseline_import_cost"));
        assert!((Table::f(r, "savings_pct_of_baseline_import_cost") - savings / cost * 100.0).abs() < 1e-9, "{r:?}");
        assert!((savings - (Table::f(r, "baseline_bill") - Table::f(r, "community_bill"))).abs() < 1e-6);
    }
    let baseline: Vec<f64> = t.column("baseline_bill");
    assert!(baseline.windows(2).all(|w| w[0] == w[1]), "every rule faces the same baseline: {baseline:?}");
    let row = |r: &str| t.rows.iter().find(|x| x["rule"] == r).unwrap().clone();
    assert_eq!(Table::f(&row("grid-only"), "p2p_kwh"), 0.0);
    for r in ["double-auction", "sdr", "mmr", "bill-sharing", "pay-as-bid", "continuous", "nearest"] {
        assert!(Table::f(&row(r), "p2p_kwh") > 0.0, "{r} trades");
        assert!(Table::f(&row(r), "savings_pct") > 0.0, "{r} saves on a sunny street");
    }
}

#[test]
fn seeds_give_confidence_intervals_and_unknown_rules_are_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = peergrid(&["compare", scenario("street.ron").to_str().unwrap(), "--rules", "double-auction,mmr", "--seeds", "3", "--steps", "192", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let t = Table::read(&out.join("compare.csv"));
    assert!(t.rows.iter().all(|r| r["seeds"] == "3" && !r["self_sufficiency_ci95"].is_empty()));
    let bad = peergrid(&["compare", scenario("street.ron").to_str().unwrap(), "--rules", "magic"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("double-auction"));
}

#[test]
fn compare_takes_set_and_quiet() {
    let tmp = tempfile::tempdir().unwrap();
    let (plain, dear) = (tmp.path().join("plain"), tmp.path().join("dear"));
    let s = scenario("street.ron");
    let args = |out: &std::path::Path| vec!["compare".to_string(), s.to_str().unwrap().to_string(), "--rules".into(), "grid-only".into(), "--steps".into(), "96".into(), "--out".into(), out.to_str().unwrap().to_string()];
    let o = peergrid(&args(&plain).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    let mut quiet = args(&dear);
    quiet.extend(["--set".into(), "grid.import_price_per_kwh=0.9".into(), "--quiet".into()]);
    let o = peergrid(&quiet.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).is_empty(), "--quiet prints nothing: {}", stdout(&o));
    let bill = |dir: &std::path::Path| Table::f(&Table::read(&dir.join("compare.csv")).rows[0], "baseline_bill");
    assert!(bill(&dear) > bill(&plain), "the dearer import price reached every run");
    let mut bad = args(&tmp.path().join("bad"));
    bad.extend(["--set".into(), "grid.import_price_per_kwh=-1".into()]);
    let o = peergrid(&bad.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("import_price_per_kwh"), "{}", stderr(&o));
}
