//! The live map (`--features viz`): `peergrid demo --screenshot` renders the grid under Xvfb with
//! Mesa's software Vulkan, and the PNG shows the houses in their colours on the background, with
//! their roofs and PV panels, and power moving as particles; a scene plays to its end; frames
//! are recorded, and encoded into an MP4 where ffmpeg is installed.
//! Run with `cargo test --features viz --test demo` (`.ci/run` does, after installing Xvfb,
//! Mesa and ffmpeg).
#![cfg(feature = "viz")]

mod common;
use common::*;
use std::process::Command;

/// Largest per-channel difference for a pixel to count as a given colour.
const COLOR_TOLERANCE: i32 = 24;

#[derive(serde::Deserialize)]
struct Info {
    width: f32,
    height: f32,
    frames: u64,
    house_colors: Vec<[u8; 3]>,
    houses: Vec<House>,
    roof_rgb: [u8; 3],
    door_rgb: [u8; 3],
    panel_rgb: Vec<[u8; 3]>,
    peer_particle_rgb: [u8; 3],
    grid_particle_rgb: [u8; 3],
    line_flow_kw: f64,
    cloud_puffs_shown: usize,
    step: u64,
    total_steps: u64,
    scene_finished: bool,
}

#[derive(serde::Deserialize)]
struct House {
    id: String,
    x: f32,
    y: f32,
    rgb: [u8; 3],
    roof: [f32; 2],
    panel: Option<[f32; 2]>,
    door: Option<[f32; 2]>,
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= COLOR_TOLERANCE)
}

#[test]
fn screenshot_shows_the_houses_on_the_map() {
    if let Some(info) = screenshot_checked("village.ron", 100, &[]) {
        assert_eq!(info.house_colors.len(), 4, "by what they do: no communities");
    }
}

#[test]
fn a_scene_plays_to_its_end_and_frames_are_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let frames = tmp.path().join("frames");
    let scene = repo().join("scenes").join("switch-rule.ron");
    let Some(info) = screenshot_checked("street.ron", 12, &["--scene", scene.to_str().unwrap(), "--record", frames.to_str().unwrap()]) else { return };
    assert!(info.scene_finished, "the scene ended");
    assert_eq!((info.step, info.total_steps), (288, 288), "over the scene's steps");
    let recorded = std::fs::read_dir(&frames).unwrap().filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().ends_with(".png")).count();
    // At full speed the scene takes a handful of frames: a PNG for each, the last included.
    assert!(recorded >= 3 && recorded as u64 == info.frames, "a PNG per frame: {recorded} of {}", info.frames);
    // With ffmpeg (CI installs it), the frames become an MP4 of as many frames.
    if Command::new("ffprobe").arg("-version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install ffmpeg (see .ci/run)");
        return;
    }
    let probe = Command::new("ffprobe").args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "csv=p=0"]).arg(frames.join("demo.mp4")).output().unwrap();
    let text = String::from_utf8_lossy(&probe.stdout);
    assert_eq!(text.trim(), format!("h264,1280,720,{recorded}"), "demo.mp4: {}", String::from_utf8_lossy(&probe.stderr));
}

#[test]
fn houses_are_coloured_by_their_community() {
    if let Some(info) = screenshot_checked("competing-communities.ron", 250, &[]) {
        // Free grey and the seven community colours.
        assert_eq!(info.house_colors.len(), 8);
        let used: std::collections::BTreeSet<[u8; 3]> = info.houses.iter().map(|h| h.rgb).collect();
        assert!(used.len() >= 4, "three communities and free households: {used:?}");
    }
}

/// Renders `name` for 40 frames at full speed under Xvfb (or, with a scene in `extra`, to its
/// end) and checks the PNG against the positions and colours written beside it: at least
/// `min_houses` on the map, nine in ten in their colour with their roof, eight in ten PV houses
/// with their panel, background where there are none, particles where power flows. None when
/// Xvfb is missing (outside CI).
fn screenshot_checked(name: &str, min_houses: usize, extra: &[&str]) -> Option<Info> {
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install xvfb (see .ci/run)");
        eprintln!("skipped: xvfb-run is not installed");
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("map.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24", env!("CARGO_BIN_EXE_peergrid"), "demo"])
        .arg(scenario(name))
        .args(if extra.contains(&"--scene") { &["--speed", "max", "--screenshot"][..] } else { &["--frames", "40", "--speed", "max", "--screenshot"][..] })
        .arg(&shot)
        .args(extra)
        .env("WGPU_BACKEND", "vulkan")
        .output()
        .unwrap();
    assert!(out.status.success(), "demo failed:\n{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("fps"), "prints its frame rate: {}", stdout(&out));

    let info: Info = serde_json::from_slice(&std::fs::read(shot.with_extension("json")).unwrap()).unwrap();
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let (w, h) = (frame.width as usize, frame.height as usize);
    assert_eq!((w as f32, h as f32), (info.width, info.height), "PNG is the window");
    let channels = frame.line_size / w;
    let pixel = |x: usize, y: usize| {
        let i = y * frame.line_size + x * channels;
        [buf[i], buf[i + 1], buf[i + 2]]
    };
    // Houses inside the map area (left of the panel) carry their colour at their centre.
    let on_map: Vec<&House> = info.houses.iter().filter(|p| p.x >= 2.0 && p.y >= 2.0 && p.x < w as f32 - 345.0 && p.y < h as f32 - 2.0).collect();
    assert!(on_map.len() >= min_houses, "{name}: its houses are on screen: {}", on_map.len());
    let right: Vec<&&House> = on_map.iter().filter(|p| close(pixel(p.x as usize, p.y as usize), p.rgb)).collect();
    assert!(right.len() * 10 >= on_map.len() * 9, "{} of {} houses show their colour; e.g. {} at ({}, {}) is {:?}, expected {:?}", right.len(), on_map.len(), on_map[0].id, on_map[0].x, on_map[0].y, pixel(on_map[0].x as usize, on_map[0].y as usize), on_map[0].rgb);
    // The roof above each house, the panel on a PV house's roof (dark or lit).
    let pt = |p: [f32; 2]| pixel(p[0] as usize, p[1] as usize);
    let roofs = on_map.iter().filter(|p| close(pt(p.roof), info.roof_rgb)).count();
    assert!(roofs * 10 >= on_map.len() * 9, "{name}: {roofs} of {} roofs drawn; e.g. {:?} at {:?}, expected {:?}", on_map.len(), pt(on_map[0].roof), on_map[0].roof, info.roof_rgb);
    let with_pv: Vec<&&House> = on_map.iter().filter(|p| p.panel.is_some()).collect();
    let panels = with_pv.iter().filter(|p| info.panel_rgb.iter().any(|c| close(pt(p.panel.unwrap()), *c))).count();
    assert!(!with_pv.is_empty() && panels * 10 >= with_pv.len() * 8, "{name}: {panels} of {} PV panels drawn", with_pv.len());
    // Where houses are large enough for their art (assets/map/house-front.png), the door shows.
    let with_door: Vec<&&House> = on_map.iter().filter(|p| p.door.is_some()).collect();
    let doors = with_door.iter().filter(|p| close(pt(p.door.unwrap()), info.door_rgb)).count();
    assert!(doors * 10 >= with_door.len() * 9, "{name}: {doors} of {} doors drawn", with_door.len());
    if name == "street.ron" {
        assert!(with_door.len() >= 12, "the street's houses are large enough for their art: {}", with_door.len());
    }
    // Power on the lines shows as particles in the map area.
    if info.line_flow_kw > 1.0 {
        let particles = (0..h).flat_map(|y| (0..w - 345).map(move |x| (x, y))).filter(|&(x, y)| close(pixel(x, y), info.peer_particle_rgb) || close(pixel(x, y), info.grid_particle_rgb)).count();
        assert!(particles > 40, "{name}: {} kW on the lines, {particles} particle pixels", info.line_flow_kw);
    }
    // Away from the houses (corners of the map area) is background, not a house colour.
    for (x, y) in [(4, 4), (4, h - 5), (w / 2 - 200, 4)] {
        let p = pixel(x, y);
        assert!(!info.house_colors.iter().any(|c| close(p, *c)), "background at ({x}, {y}) is {p:?}, a house colour");
    }
    Some(info)
}

// The demo's logic without a window: it drives the same simulation as `peergrid run`.

use peergrid::market::registry;
use peergrid::market::{ActiveRule, Clearing};
use peergrid::metrics::StepTotals;
use peergrid::viz::sim_view::after_step;
use peergrid::viz::{DemoSim, View};

/// Steps from the village's start to 12:00 on its third day (15-minute steps).
const VILLAGE_MIDDAY_STEP: u64 = 2 * 96 + 48;

fn step(sim: &mut DemoSim, view: &mut View) -> StepTotals {
    sim.sim.step();
    after_step(sim, view);
    *sim.sim.world().resource::<StepTotals>()
}

fn prices(sim: &DemoSim) -> Vec<i64> {
    sim.sim.world().resource::<Clearing>().trades.iter().map(|t| t.price.micros()).collect()
}

#[test]
fn a_rule_switched_while_running_clears_from_the_next_step_with_the_same_weather() {
    let mut kept = DemoSim::load(&scenario("village.ron"), Some("double-auction"), None, None).unwrap();
    let mut switched = DemoSim::load(&scenario("village.ron"), Some("double-auction"), None, None).unwrap();
    let (mut v1, mut v2) = (View::default(), View::default());
    for _ in 0..VILLAGE_MIDDAY_STEP {
        step(&mut kept, &mut v1);
        step(&mut switched, &mut v2);
    }
    let mmr = registry::find("mmr").unwrap();
    switched.set_rule(mmr);
    assert_eq!(switched.rule.name, "mmr");
    assert_eq!(switched.sim.world().resource::<ActiveRule>().0.info().name, "mmr", "the simulation holds the new rule");
    // Nothing of the step already simulated changes.
    assert_eq!(prices(&kept), prices(&switched));
    let (a, b) = (step(&mut kept, &mut v1), step(&mut switched, &mut v2));
    assert_eq!((a.pv_kwh, a.load_kwh), (b.pv_kwh, b.load_kwh), "switching the rule never changes weather or loads");
    assert!(b.p2p_kwh > 0.0, "households trade at midday");
    assert_ne!(prices(&kept), prices(&switched), "the next step clears under the new rule");
}

#[test]
fn restart_takes_the_next_seed_and_keeps_the_rule() {
    let mut sim = DemoSim::load(&scenario("street.ron"), Some("sdr"), Some(7), None).unwrap();
    let mut view = View::default();
    for _ in 0..10 {
        step(&mut sim, &mut view);
    }
    sim.restart_with_new_seed().unwrap();
    view.reset();
    assert_eq!((sim.scenario.seed, sim.rule.name, sim.sim.steps_done(), sim.restarts), (8, "sdr", 0, 1));
    assert!(view.history.is_empty() && view.houses.is_empty(), "the view forgets the old run");
}

#[test]
fn a_house_day_starts_again_at_midnight_and_misses_no_step() {
    let mut sim = DemoSim::load(&scenario("street.ron"), None, None, None).unwrap();
    let mut view = View::default();
    let steps_per_day = 24 * 60 / sim.scenario.frame.step_minutes; // the street starts at local midnight
    let mut load_today = 0.0;
    let mut chart = 0.0;
    for _ in 0..steps_per_day {
        load_today += step(&mut sim, &mut view).load_kwh;
        chart += view.history.back().unwrap().1;
    }
    let houses: f64 = view.houses.iter().map(|h| h.today.load_kwh).sum();
    assert!((houses - load_today).abs() < 1e-9, "a whole day: {houses} vs {load_today}");
    assert!((chart - load_today).abs() < 1e-9);
    let first = step(&mut sim, &mut view);
    let houses: f64 = view.houses.iter().map(|h| h.today.load_kwh).sum();
    assert!((houses - first.load_kwh).abs() < 1e-9, "the next day counts from its first step: {houses} vs {}", first.load_kwh);
}

#[test]
fn selecting_an_unknown_house_is_an_error_before_any_window_opens() {
    let out = Command::new(env!("CARGO_BIN_EXE_peergrid")).arg("demo").arg(scenario("village.ron")).args(["--select", "nobody"]).output().unwrap();
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--select nobody: no household with this id"), "{}", stderr(&out));
    assert!(stderr(&out).contains("village.ron"), "names the file: {}", stderr(&out));
}

#[test]
fn the_view_follows_memberships_and_marks_moves() {
    let mut sim = DemoSim::load(&scenario("competing-communities.ron"), None, None, None).unwrap();
    let mut view = View::default();
    // The first choice round is at the start of day 30 (30-minute steps).
    for _ in 0..30 * 48 + 1 {
        step(&mut sim, &mut view);
    }
    peergrid::viz::sim_view::refresh(&mut sim, &mut view);
    assert_eq!(view.communities, ["sunny", "commons", "premium"]);
    assert!(view.by_community, "community runs start coloured by community");
    let members = sim.sim.world().resource::<peergrid::market::membership::Memberships>();
    assert!(view.houses.iter().zip(&members.0).all(|(v, m)| v.community == *m));
    assert!(!view.moved.is_empty() && view.moved.iter().all(|(_, at)| *at == 30 * 48), "the round's moves are marked");
    assert_eq!(view.recent_moves.len(), 2, "the latest two");
    assert!(view.recent_moves.iter().all(|m| m.contains(" -> ")), "{:?}", view.recent_moves);
    // The marks fade after a day.
    for _ in 0..peergrid::viz::sim_view::MOVE_MARK_STEPS {
        step(&mut sim, &mut view);
    }
    assert!(view.moved.is_empty());
}

/// A scene's cloud shows over its houses on the live map while it passes (steps 45–52 of the
/// cloud-over-feeder scene), and not after.
#[test]
fn a_scenes_cloud_shows_while_it_passes() {
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install xvfb (see .ci/run)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let scene = repo().join("scenes").join("cloud-over-feeder.ron");
    for (start, passing) in [("47", true), ("60", false)] {
        let shot = tmp.path().join(format!("cloud-{start}.png"));
        let out = Command::new("xvfb-run")
            .args(["-a", "-s", "-screen 0 1280x720x24", env!("CARGO_BIN_EXE_peergrid"), "demo"])
            .arg(scenario("village.ron"))
            .args(["--scene", scene.to_str().unwrap(), "--start-step", start, "--speed", "1", "--frames", "5", "--screenshot"])
            .arg(&shot)
            .env("WGPU_BACKEND", "vulkan")
            .output()
            .unwrap();
        assert!(out.status.success(), "demo failed:\n{}\n{}", stdout(&out), stderr(&out));
        let info: Info = serde_json::from_slice(&std::fs::read(shot.with_extension("json")).unwrap()).unwrap();
        // The panel shows the run from the first frame, though the scene holds it at a pause.
        assert!(info.step >= start.parse::<u64>().unwrap(), "from step {start}: the view shows step {}", info.step);
        assert_eq!(info.cloud_puffs_shown > 0, passing, "from step {start}: {} puffs shown at step {}", info.cloud_puffs_shown, info.step);
    }
}
