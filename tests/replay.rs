//! `replay.html`: written by `run --replay` and `peergrid replay DIR`, self-contained, and driven
//! in headless Chromium (`.ci/run` installs it): two frames differ where the flows changed, the
//! slider moves the clock, a click on a house shows it, power flows as particles.

mod common;
use common::browser::*;
use common::*;
use std::path::Path;

/// The page's JSON self-test (`#selftest`): what its handlers showed.
fn selftest(browser: &str, page: &Path, profile: &Path) -> serde_json::Value {
    let out = headless(browser, profile).arg("--virtual-time-budget=5000").arg("--dump-dom").arg(format!("file://{}#selftest", page.display())).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let dom = stdout(&out);
    let json = dom.split("<pre id=\"selftest\">").nth(1).and_then(|s| s.split("</pre>").next()).unwrap_or_else(|| panic!("no self-test result: the script failed?\n{}", &dom[dom.len().saturating_sub(2000)..]));
    serde_json::from_str(&json.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"")).unwrap()
}

/// A screenshot of the page at a frame, paused and with the particles still.
fn shot(browser: &str, page: &Path, profile: &Path, frame: u64, name: &str) -> Rgb {
    let png = profile.join(name);
    let url = format!("file://{}#frame={frame}&still", page.display());
    let out = headless(browser, profile).args(["--window-size=1280,720", "--virtual-time-budget=3000"]).arg(format!("--screenshot={}", png.display())).arg(url).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    Rgb::read(&png)
}

#[test]
fn run_replay_writes_a_self_contained_page_that_plays_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("village");
    let o = peergrid(&["run", scenario("village.ron").to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "192", "--replay"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = out.join("replay.html");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 10_000_000, "at most 10 MB: {}", html.len());
    for fetched in ["src=\"http", "href=\"http", "<link", "fetch(", "XMLHttpRequest", "import("] {
        assert!(!html.contains(fetched), "self-contained: nothing fetched ({fetched})");
    }
    assert!(out.join("household_timeseries.csv").is_file() && out.join("line_timeseries.csv").is_file(), "--replay writes the series it is built from");

    let Some(browser) = chromium() else { return };
    let t = selftest(browser, &page, tmp.path());
    assert_eq!(t["frames"], 192, "a frame per step: {t}");
    assert_eq!(t["line_flows"], true, "the run's own line flows: {t}");
    assert_ne!(t["clock_first"], t["clock_after_slider"], "the slider moves the clock: {t}");
    assert_eq!(t["clock_after_slider"], t["expected_clock"], "to the slider's frame: {t}");
    let clicked = t["clicked"].as_str().unwrap();
    assert!(t["house_box"].as_str().unwrap().contains(&format!("House {clicked}")), "a click shows the house: {t}");
    assert!(t["particles"].as_u64().unwrap() > 20, "power flows as particles: {t}");

    // Noon against midnight of the second day: the flows (and the houses' states) changed on
    // the map, not only the clock and the panel beside it.
    let (noon, night) = (shot(browser, &page, tmp.path(), 96 + 48, "noon.png"), shot(browser, &page, tmp.path(), 96 + 4, "night.png"));
    assert_eq!((noon.width, noon.height), (1280, 720));
    let map_width = 900; // the panel is the right 330 px
    let changed = (0..noon.height).flat_map(|y| (0..map_width).map(move |x| (x, y))).filter(|&(x, y)| noon.at(x, y) != night.at(x, y)).count();
    assert!(changed > 20_000, "the map changed between the frames: {changed} pixels");
}

#[test]
fn replay_builds_the_page_from_a_folder_and_says_what_it_needs() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("street");
    run_ok(&scenario("street.ron"), &out, &["--steps", "96"]);
    let o = peergrid(&["replay", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "no household series: bad input");
    assert!(stderr(&o).contains("household_timeseries") && stderr(&o).contains("--replay"), "{}", stderr(&o));
    assert!(!out.join("replay.html").exists(), "nothing half-written");

    // With the household series alone (no line series): the radial street's flows come from the
    // houses' net power.
    let out2 = tmp.path().join("street2");
    run_ok(&scenario("street.ron"), &out2, &["--steps", "96", "--household-series", "--format", "parquet"]);
    let o = peergrid(&["replay", out2.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("replay.html"), "{}", stdout(&o));
    if let Some(browser) = chromium() {
        let t = selftest(browser, &out2.join("replay.html"), tmp.path());
        assert_eq!(t["radial"], true, "{t}");
        assert_eq!(t["line_flows"], false, "{t}");
    }

    let o = peergrid(&["replay", tmp.path().join("nowhere").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("nowhere"), "{}", stderr(&o));

    // A truncated series is an error naming it, not frames of idle houses.
    let out3 = tmp.path().join("street3");
    run_ok(&scenario("street.ron"), &out3, &["--steps", "96", "--household-series"]);
    let series = out3.join("household_timeseries.csv");
    let text = std::fs::read_to_string(&series).unwrap();
    let kept: Vec<&str> = text.lines().take(500).collect();
    std::fs::write(&series, kept.join("\n") + "\n").unwrap();
    let o = peergrid(&["replay", out3.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("household_timeseries.csv") && stderr(&o).contains("incomplete"), "{}", stderr(&o));
    assert!(!out3.join("replay.html").exists());
}

#[test]
fn a_name_with_markup_cannot_break_the_page() {
    let street = std::fs::read_to_string(scenario("street.ron")).unwrap().replacen("name: \"street\"", "name: \"a<!--<script>b\"", 1);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, street).unwrap();
    let out = tmp.path().join("o");
    run_ok(&path, &out, &["--steps", "96", "--replay"]);
    let html = std::fs::read_to_string(out.join("replay.html")).unwrap();
    assert_eq!(html.matches("<script").count(), 2, "only the page's own scripts");
    if let Some(browser) = chromium() {
        let t = selftest(browser, &out.join("replay.html"), tmp.path());
        assert_eq!(t["frames"], 96, "the script ran: {t}");
    }
}

/// A scene's cloud is in summary.json and drawn over the houses under it while it passes.
#[test]
fn a_scenes_cloud_is_drawn_over_its_houses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("village");
    let scene = repo().join("scenes").join("cloud-over-feeder.ron");
    let o = peergrid(&["run", scenario("village.ron").to_str().unwrap(), "--scene", scene.to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "96", "--replay", "--quiet"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    let cloud = &summary["clouds"][0];
    assert_eq!((cloud["step"].as_u64(), cloud["steps"].as_u64(), cloud["transmittance"].as_f64()), (Some(45), Some(8), Some(0.2)), "{summary}");
    let under = cloud["households"].as_array().unwrap().len();
    assert!(under >= 10, "the houses within 150 m of f2/p5: {under}");
    let Some(browser) = chromium() else { return };
    let page = out.join("replay.html");
    let t = selftest(browser, &page, tmp.path());
    assert_eq!(t["clouds"], serde_json::json!([[45, 52, under]]), "a frame per step, the cloud over its houses: {t}");
    assert!(t["cloud_pixels"].as_u64().unwrap() > 5_000, "the cloud is drawn over the map: {t}");
}

/// Cars and heat pumps are drawn in their state at each frame (from the household series'
/// device columns): cars away, plugged in and charging over two days of the electric street,
/// heat pumps idle and heating over two winter days of the heated street.
#[test]
fn cars_and_heat_pumps_change_state_in_the_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pages = Vec::new();
    for name in ["electric-street.ron", "heated-street.ron"] {
        let out = tmp.path().join(name);
        let o = peergrid(&["run", scenario(name).to_str().unwrap(), "--out", out.to_str().unwrap(), "--steps", "192", "--replay", "--quiet"]);
        assert!(o.status.success(), "{}", stderr(&o));
        pages.push(out.join("replay.html"));
    }
    let Some(browser) = chromium() else { return };
    let cars = selftest(browser, &pages[0], tmp.path());
    let [away, plugged, charging, _supplying] = serde_json::from_value::<[u64; 4]>(cars["car_states"].clone()).unwrap_or_else(|e| panic!("{e}: {cars}"));
    assert!(away > 0 && plugged > 0 && charging > 0, "{cars}");
    assert!(cars["pump_states"].is_null(), "no heat pumps on the electric street: {cars}");
    let card = cars["car_house_box"].as_str().unwrap();
    assert!(["away", "plugged in", "charging", "supplying the house"].iter().any(|s| card.contains(&format!("electric vehicle{s}"))), "the car's state in its house's card: {card}");
    let pumps = selftest(browser, &pages[1], tmp.path());
    let [idle, heating, _cooling] = serde_json::from_value::<[u64; 3]>(pumps["pump_states"].clone()).unwrap_or_else(|e| panic!("{e}: {pumps}"));
    assert!(idle > 0 && heating > 0, "{pumps}");
}
