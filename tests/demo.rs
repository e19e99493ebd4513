//! The live map (`--features viz`): `peergrid demo --screenshot` renders the grid under Xvfb with
//! Mesa's software Vulkan, and the PNG shows the houses in their colours on the background.
//! Run with `cargo test --features viz --test demo` (`.ci/run` does, after installing Xvfb and
//! Mesa).
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
    house_colors: Vec<[u8; 3]>,
    houses: Vec<House>,
}

#[derive(serde::Deserialize)]
struct House {
    id: String,
    x: f32,
    y: f32,
    rgb: [u8; 3],
}

fn close(a: [u8; 3], b: [u8; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (*x as i32 - y as i32).abs() <= COLOR_TOLERANCE)
}

#[test]
fn screenshot_shows_the_houses_on_the_map() {
    if Command::new("xvfb-run").arg("--help").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI must install xvfb (see .ci/run)");
        eprintln!("skipped: xvfb-run is not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let shot = tmp.path().join("village.png");
    let out = Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1280x720x24", env!("CARGO_BIN_EXE_peergrid"), "demo"])
        .arg(scenario("village.ron"))
        .args(["--frames", "40", "--speed", "max", "--screenshot"])
        .arg(&shot)
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
    assert!(on_map.len() >= 100, "the village's houses are on screen: {}", on_map.len());
    let right: Vec<&&House> = on_map.iter().filter(|p| close(pixel(p.x as usize, p.y as usize), p.rgb)).collect();
    assert!(right.len() * 10 >= on_map.len() * 9, "{} of {} houses show their colour; e.g. {} at ({}, {}) is {:?}, expected {:?}", right.len(), on_map.len(), on_map[0].id, on_map[0].x, on_map[0].y, pixel(on_map[0].x as usize, on_map[0].y as usize), on_map[0].rgb);
    // Away from the houses (corners of the map area) is background, not a house colour.
    for (x, y) in [(4, 4), (4, h - 5), (w / 2 - 200, 4)] {
        let p = pixel(x, y);
        assert!(!info.house_colors.iter().any(|c| close(p, *c)), "background at ({x}, {y}) is {p:?}, a house colour");
    }
}
