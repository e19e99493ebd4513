//! `report.html` of a run and of a comparison, opened in headless Chromium (Debian's
//! `chromium`; `.ci/run` installs it): the page renders, and every chart has marks in each of
//! its series' colours, not just axes.

mod common;
use common::browser::*;
use common::*;
use std::path::Path;

/// Checks every chart figure in the DOM; returns their ids.
fn charts_have_marks(dom: &str) -> Vec<String> {
    let lower = dom.to_lowercase();
    let mut ids = Vec::new();
    for part in lower.split("<figure class=\"chart\"").skip(1) {
        let fig = &part[..part.find("</figure>").expect("figure closes")];
        let id = fig.split("id=\"").nth(1).and_then(|s| s.split('"').next()).unwrap().to_string();
        let series = fig.split("data-series=\"").nth(1).and_then(|s| s.split('"').next()).unwrap();
        assert!(fig.contains("<svg"), "{id}: no SVG");
        assert!(!series.is_empty(), "{id}: no series");
        for color in series.split(',') {
            let marks = fig.matches(&format!("fill=\"{color}\"")).count() + fig.matches(&format!("stroke=\"{color}\"")).count();
            // Only the chart's SVG uses fill/stroke attributes (the legend is styled HTML).
            assert!(marks >= 1, "{id}: series {color} has no marks");
        }
        ids.push(id);
    }
    ids
}

/// A screenshot of the page is not blank: many distinct colours.
fn not_blank(browser: &str, page: &Path, profile: &Path) {
    let shot = profile.join("page.png");
    let out = headless(browser, profile).arg(format!("--screenshot={}", shot.display())).arg("--window-size=1000,2400").arg(format!("file://{}", page.display())).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let image = Rgb::read(&shot);
    let colors: std::collections::HashSet<[u8; 3]> = (0..image.height).flat_map(|y| (0..image.width).map(move |x| (x, y))).map(|(x, y)| image.at(x, y)).collect();
    assert!(colors.len() > 50, "the page looks blank: {} colours", colors.len());
}

#[test]
fn a_run_report_renders_every_chart_with_data() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(&scenario("street.ron"), &out, &["--steps", "288"]);
    let page = out.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<link"), "self-contained: nothing fetched");
    assert!(!html.contains("<script"), "no scripts");
    let Some(browser) = chromium() else { return };
    let ids = charts_have_marks(&dom(browser, &page, tmp.path()));
    for id in ["daily-energy", "battery-energy", "p2p-price", "savings", "battery-soc", "line-loading", "map"] {
        assert!(ids.iter().any(|i| i == id), "chart {id} missing: {ids:?}");
    }
    not_blank(browser, &page, tmp.path());
}

#[test]
fn an_island_report_has_its_own_wording_and_every_chart_has_marks() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("island");
    run_ok(&scenario("island.ron"), &out, &["--steps", "384"]);
    let page = out.join("report.html");
    let Some(browser) = chromium() else { return };
    let dom = dom(browser, &page, tmp.path());
    let ids = charts_have_marks(&dom);
    for id in ["daily-energy", "battery-energy", "p2p-price", "savings", "battery-soc", "line-loading", "map"] {
        assert!(ids.iter().any(|i| i == id), "chart {id} missing: {ids:?}");
    }
    for words in ["Results against the same island without trading", "Loss-of-load hours", "unserved", "none: an island"] {
        assert!(dom.contains(words), "island wording: {words}");
    }
    for grid_words in ["grid-only baseline", "Community bill", "peak grid import", "grid import price"] {
        assert!(!dom.contains(grid_words), "no grid wording on an island: {grid_words}");
    }
    not_blank(browser, &page, tmp.path());
}

#[test]
fn a_compare_report_puts_the_rules_side_by_side() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = peergrid(&["compare", scenario("street.ron").to_str().unwrap(), "--rules", "double-auction,sdr,mmr", "--steps", "192", "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = out.join("report.html");
    assert!(std::fs::read_to_string(&page).unwrap().contains("sdr"));
    let Some(browser) = chromium() else { return };
    let dom = dom(browser, &page, tmp.path());
    let ids = charts_have_marks(&dom);
    assert!(ids.iter().any(|i| i == "self_sufficiency") && ids.len() >= 6, "{ids:?}");
    // Values on the bars, shares as percentages, the currency on money.
    let bars = dom.split("id=\"self_sufficiency\"").nth(1).unwrap().split("</figure>").next().unwrap();
    assert!(bars.matches('%').count() >= 3, "self-sufficiency written on its bars in percent");
    assert!(dom.contains("AUD "), "money in the scenario's currency");
}

/// The daily energy chart's figures (`data-kwh` of its table), by day and side, summed.
fn daily_stacks(html: &str) -> Vec<(String, f64, f64)> {
    let table = html.split("id=\"daily-energy-table\"").nth(1).expect("the chart's table").split("</table>").next().unwrap();
    let mut days = Vec::new();
    for row in table.split("<tr data-day=\"").skip(1) {
        let day = row.split('"').next().unwrap().to_string();
        let (mut load, mut pv) = (0.0, 0.0);
        for cell in row.split("<td data-side=\"").skip(1) {
            let side = cell.split('"').next().unwrap();
            let kwh: f64 = cell.split("data-kwh=\"").nth(1).unwrap().split('"').next().unwrap().parse().unwrap();
            match side {
                "load" => load += kwh,
                "pv" => pv += kwh,
                _ => {}
            }
        }
        days.push((day, load, pv));
    }
    days
}

#[test]
fn the_daily_energy_chart_closes_on_the_load_and_the_pv_of_each_day() {
    for (name, steps) in [("village.ron", "672"), ("island.ron", "1344"), ("electric-street.ron", "336")] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        // The electric street in winter, its cars giving back: every source of the load.
        let winter: &[&str] = if name == "electric-street.ron" { &["--set", "start=\"2024-07-15T00:00\"", "--set", "households[0].ev.v2h=true"] } else { &[] };
        run_ok(&scenario(name), &out, &[&["--steps", steps], winter].concat());
        let html = std::fs::read_to_string(out.join("report.html")).unwrap();
        let ts = Table::read(&out.join("timeseries.csv"));
        let mut by_day: Vec<(String, f64, f64)> = Vec::new();
        for row in &ts.rows {
            let day = row["time"][..10].to_string();
            if by_day.last().is_none_or(|d| d.0 != day) {
                by_day.push((day, 0.0, 0.0));
            }
            let d = by_day.last_mut().unwrap();
            d.1 += Table::f(row, "load_kwh");
            d.2 += Table::f(row, "pv_kwh");
        }
        let drawn = daily_stacks(&html);
        assert_eq!(drawn.len(), by_day.len(), "{name}: one bar per day");
        for ((day, load, pv), (d, l, p)) in drawn.iter().zip(&by_day) {
            assert_eq!(day, d);
            assert!((load - l).abs() < 1e-6, "{name} {day}: the bars above zero add up to {load}, the load is {l}");
            assert!((pv - p).abs() < 1e-6, "{name} {day}: the bars below zero add up to {pv}, the PV is {p}");
        }
        if name == "electric-street.ron" {
            assert!(html.contains("<h2>Flexibility</h2>") && html.contains("id=\"flexibility-hours\"") && html.contains("id=\"flexibility-value\""), "a flexibility section");
            if let Some(browser) = chromium() {
                let ids = charts_have_marks(&dom(browser, &out.join("report.html"), tmp.path()));
                assert!(ids.iter().any(|i| i == "flexibility-hours"), "{ids:?}");
            }
        } else if name == "village.ron" {
            assert!(!html.contains("<h2>Flexibility</h2>"), "no flexibility section without flexible devices");
        }
        if name == "island.ron" {
            assert!(html.contains("Results against the same island without trading") && !html.contains("grid-only baseline"), "island wording");
            assert!(!html.contains("peak grid import"), "no grid figures on an island");
        }
    }
}

#[test]
fn a_run_longer_than_a_month_has_a_monthly_table_and_who_gains_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    run_ok(&scenario("village.ron"), &out, &["--set", "duration_days=40", "--steps", "3840"]);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    let monthly = html.split("id=\"monthly-table\"").nth(1).expect("a monthly table").split("</table>").next().unwrap();
    assert!(monthly.contains("Apr 2024") && monthly.contains("May 2024"), "{monthly}");
    for id in ["gains-by-equipment-table", "gains-by-archetype-table"] {
        assert!(html.contains(id), "{id}");
    }
    assert!(html.contains("PV and battery") && html.contains("AUD "), "groups and money in the currency");
}
