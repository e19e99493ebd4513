//! `--frames N` and `--screenshot FILE`: run N frames, save the window as PNG with the houses'
//! screen positions and colours beside it (`FILE` with extension `.json`), print the frame rate,
//! exit. Used by the screenshot test and to measure frames per second.

use super::map::{community_color, drawn_color, house_color, MapCamera, MapLayout};
use super::sim_view::View;
use super::DemoSystems;
use bevy::prelude::*;
use bevy::render::view::screenshot::{save_to_disk, Screenshot, ScreenshotCaptured};
use std::path::PathBuf;
use std::time::Instant;

/// Frames left out of the frame rate (start-up: shaders, fonts, first layout).
const WARM_UP_FRAMES: u64 = 10;

/// What to capture, and progress.
#[derive(Resource, Debug)]
pub struct Capture {
    frames: Option<u64>,
    screenshot: Option<PathBuf>,
    frame: u64,
    warm: Option<Instant>,
    requested: bool,
}

impl Capture {
    pub fn new(frames: Option<u64>, screenshot: Option<PathBuf>) -> Capture {
        let frames = frames.or(screenshot.as_ref().map(|_| super::DEFAULT_SCREENSHOT_FRAMES));
        Capture { frames, screenshot, frame: 0, warm: None, requested: false }
    }
}

pub struct CapturePlugin;

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, count_and_capture.after(DemoSystems::Draw));
    }
}

/// One house on screen, as written beside the screenshot.
#[derive(serde::Serialize)]
struct HousePixel {
    id: String,
    /// Window pixel of the house's centre (origin top left).
    x: f32,
    y: f32,
    /// The colour it is drawn in, sRGB 0..255.
    rgb: [u8; 3],
}

#[derive(serde::Serialize)]
struct ScreenshotInfo {
    width: f32,
    height: f32,
    frames: u64,
    fps: Option<f64>,
    /// Every colour a house can have under the map's colouring (by state, or by community),
    /// sRGB 0..255.
    house_colors: Vec<[u8; 3]>,
    houses: Vec<HousePixel>,
}

fn rgb(c: Color) -> [u8; 3] {
    let s = c.to_srgba();
    [s.red, s.green, s.blue].map(|v| (v * 255.0).round() as u8)
}

/// Counts frames; at the last one saves the screenshot and positions (then exits when the
/// image is written) or exits at once. Reads `View`, `MapLayout`, the camera and window.
#[allow(clippy::too_many_arguments)]
fn count_and_capture(
    mut commands: Commands,
    mut cap: ResMut<Capture>,
    view: Res<View>,
    layout: Option<Res<MapLayout>>,
    sim: NonSend<super::DemoSim>,
    camera: Single<(&Camera, &GlobalTransform), With<MapCamera>>,
    window: Single<&Window>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(frames) = cap.frames else { return };
    cap.frame += 1;
    if cap.frame == WARM_UP_FRAMES {
        cap.warm = Some(Instant::now());
    }
    if cap.frame < frames || cap.requested {
        return;
    }
    let fps = cap.warm.map(|w| (cap.frame - WARM_UP_FRAMES) as f64 / w.elapsed().as_secs_f64().max(1e-9));
    println!("{} frames, {} fps after warm-up, {} steps simulated", cap.frame, fps.map_or("?".into(), |f| format!("{f:.1}")), view.run.steps);
    let Some(path) = cap.screenshot.clone() else {
        exit.write(AppExit::Success);
        return;
    };
    cap.requested = true;
    let (cam, at) = *camera;
    let houses = layout
        .map(|l| {
            l.house_pos
                .iter()
                .zip(&view.houses)
                .zip(&sim.scenario.households)
                .filter_map(|((p, v), h)| cam.world_to_viewport(at, p.extend(0.0)).ok().map(|px| HousePixel { id: h.id.clone(), x: px.x, y: px.y, rgb: rgb(drawn_color(&view, v)) }))
                .collect()
        })
        .unwrap_or_default();
    let info = ScreenshotInfo {
        width: window.width(),
        height: window.height(),
        frames: cap.frame,
        fps,
        house_colors: if view.by_community {
            std::iter::once(None).chain((0..super::map::COMMUNITY_COLORS.len() as u16).map(Some)).map(|c| rgb(community_color(c))).collect()
        } else {
            super::sim_view::HouseState::ALL.map(|s| rgb(house_color(s))).to_vec()
        },
        houses,
    };
    if let Err(e) = serde_json::to_string_pretty(&info).map_err(std::io::Error::other).and_then(|j| crate::output::staging::write_to(&path.with_extension("json"), j.as_bytes())) {
        eprintln!("error: cannot write {}: {e}", path.with_extension("json").display());
    }
    commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path)).observe(|_: On<ScreenshotCaptured>, mut exit: MessageWriter<AppExit>| {
        exit.write(AppExit::Success);
    });
}
