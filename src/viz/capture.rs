//! `--frames N` and `--screenshot FILE`: run N frames, save the window as PNG with the houses'
//! screen positions and colours beside it (`FILE` with extension `.json`), print the frame rate,
//! exit. Used by the screenshot test and to measure frames per second.

use super::map::{community_color, drawn_color, house_color, MapCamera, MapLayout, GRID_PARTICLE, PANEL_COLORS, PEER_PARTICLE, ROOF_COLOR};
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
    /// Capture at the scene's end (a scene without `--frames`).
    at_scene_end: bool,
    /// `--record DIR`: every frame saved there.
    record: Option<PathBuf>,
    frame: u64,
    warm: Option<Instant>,
    /// The last frame has come: nothing more is captured, and the app leaves once the
    /// screenshot (if any) and every recorded frame are on disk.
    requested: bool,
    shot_saved: bool,
    /// Frames `--record` asked for, and frames written.
    recorded: u64,
    saved: u64,
    /// The frame last recorded (the last frame is recorded once, however long the app waits).
    frame_recorded: u64,
    /// Frames waited for the last images since `requested`.
    waited: u32,
}

/// Frames to wait for the last images to be written before leaving without them.
const WAIT_LIMIT_FRAMES: u32 = 120;

impl Capture {
    pub fn new(frames: Option<u64>, screenshot: Option<PathBuf>, scene: bool, record: Option<PathBuf>) -> Capture {
        // A scene recorded or captured unattended ends with the scene.
        let at_scene_end = scene && frames.is_none() && (screenshot.is_some() || record.is_some());
        let frames = frames.or(screenshot.as_ref().filter(|_| !at_scene_end).map(|_| super::DEFAULT_SCREENSHOT_FRAMES));
        Capture { frames, screenshot, at_scene_end, record, frame: 0, warm: None, requested: false, shot_saved: false, recorded: 0, saved: 0, frame_recorded: 0, waited: 0 }
    }
}

/// Frames per second of the video `--record` encodes.
pub const VIDEO_FPS: u32 = 30;

/// Encodes `DIR/frame-*.png` into `DIR/demo.mp4` with ffmpeg, if it is installed (H.264, for
/// any player); says what it did.
pub fn encode_video(dir: &std::path::Path) {
    let frames = std::fs::read_dir(dir).map(|d| d.filter_map(Result::ok).filter(|e| e.file_name().to_string_lossy().starts_with("frame-")).count()).unwrap_or(0);
    let mp4 = dir.join("demo.mp4");
    let ran = std::process::Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-framerate", &VIDEO_FPS.to_string(), "-i"])
        .arg(dir.join("frame-%05d.png"))
        .args(["-c:v", "libx264", "-pix_fmt", "yuv420p", "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2"])
        .arg(&mp4)
        .status();
    match ran {
        Ok(s) if s.success() => println!("recorded {frames} frames in {}, and {}", dir.display(), mp4.display()),
        Ok(_) => eprintln!("warning: ffmpeg could not encode {}: the {frames} frames are in {}", mp4.display(), dir.display()),
        Err(_) => println!("recorded {frames} frames in {} (install ffmpeg for an MP4)", dir.display()),
    }
}

pub struct CapturePlugin;

impl Plugin for CapturePlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, (count_and_capture, record_frame).chain().after(DemoSystems::Draw));
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
    /// Window pixel inside its roof (below the apex), and inside its PV panel (none without).
    roof: [f32; 2],
    panel: Option<[f32; 2]>,
    /// Window pixel inside its door, where the house's art is shown (none on an overview).
    door: Option<[f32; 2]>,
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
    roof_rgb: [u8; 3],
    door_rgb: [u8; 3],
    /// The panel's colours, from dark (not producing) to bright.
    panel_rgb: Vec<[u8; 3]>,
    /// Particles' colours: between neighbours, to or from the grid.
    peer_particle_rgb: [u8; 3],
    grid_particle_rgb: [u8; 3],
    /// Power on the lines at the capture, kW (summed magnitude): particles are drawn when above 0.
    line_flow_kw: f64,
    /// Cloud puffs on screen (a scenario's `Cloud` passing).
    cloud_puffs_shown: usize,
    /// Steps simulated, of the run's.
    step: u64,
    total_steps: u64,
    scene_finished: bool,
}

fn rgb(c: Color) -> [u8; 3] {
    let s = c.to_srgba();
    [s.red, s.green, s.blue].map(|v| (v * 255.0).round() as u8)
}

/// Counts frames; at the last one saves the screenshot and positions, then exits once it and
/// every recorded frame are written. Reads `View`, `MapLayout`, the camera and window.
#[allow(clippy::too_many_arguments)]
fn count_and_capture(
    mut commands: Commands,
    mut cap: ResMut<Capture>,
    view: Res<View>,
    layout: Option<Res<MapLayout>>,
    sim: NonSend<super::DemoSim>,
    camera: Single<(&Camera, &GlobalTransform), With<MapCamera>>,
    window: Single<&Window>,
    player: Res<super::scene_play::ScenePlayer>,
    puffs: Query<&Visibility, With<super::map::CloudMark>>,
    mut exit: MessageWriter<AppExit>,
) {
    if cap.requested {
        // Screenshots are written a frame or more after they are asked for.
        cap.waited += 1;
        if cap.shot_saved && cap.saved >= cap.recorded {
            exit.write(AppExit::Success);
        } else if cap.waited > WAIT_LIMIT_FRAMES {
            eprintln!("warning: {} of {} frames were not written", cap.recorded - cap.saved.min(cap.recorded), cap.recorded);
            exit.write(AppExit::Success);
        }
        return;
    }
    cap.frame += 1;
    if cap.frame == WARM_UP_FRAMES {
        cap.warm = Some(Instant::now());
    }
    let due = match cap.frames {
        Some(frames) => cap.frame >= frames,
        None => cap.at_scene_end && player.finished,
    };
    if !due {
        return;
    }
    let fps = cap.warm.map(|w| (cap.frame - WARM_UP_FRAMES) as f64 / w.elapsed().as_secs_f64().max(1e-9));
    println!("{} frames, {} fps after warm-up, {} steps simulated", cap.frame, fps.map_or("?".into(), |f| format!("{f:.1}")), view.run.steps);
    cap.requested = true;
    let Some(path) = cap.screenshot.clone() else {
        cap.shot_saved = true;
        return;
    };
    let (cam, at) = *camera;
    let houses = layout
        .map(|l| {
            l.house_pos
                .iter()
                .zip(&view.houses)
                .zip(&sim.scenario.households)
                .filter_map(|((p, v), h)| {
                    let px = cam.world_to_viewport(at, p.extend(0.0)).ok()?;
                    let (roof, panel) = super::map::roof_and_panel_points(*p, l.house_size);
                    let roof = cam.world_to_viewport(at, roof.extend(0.0)).ok()?;
                    let panel = h.pv.as_ref().and_then(|_| cam.world_to_viewport(at, panel.extend(0.0)).ok()).map(|q| [q.x, q.y]);
                    let side_px = cam.world_to_viewport(at, (*p + Vec2::new(l.house_size, 0.0)).extend(0.0)).ok()?.x - px.x;
                    let door = super::map::door_point(*p, l.house_size, side_px).and_then(|d| cam.world_to_viewport(at, d.extend(0.0)).ok()).map(|q| [q.x, q.y]);
                    Some(HousePixel { id: h.id.clone(), x: px.x, y: px.y, rgb: rgb(drawn_color(&view, v)), roof: [roof.x, roof.y], panel, door })
                })
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
        roof_rgb: rgb(ROOF_COLOR),
        door_rgb: rgb(super::map::DOOR_COLOR),
        panel_rgb: PANEL_COLORS.iter().map(|c| rgb(*c)).collect(),
        peer_particle_rgb: rgb(PEER_PARTICLE),
        grid_particle_rgb: rgb(GRID_PARTICLE),
        line_flow_kw: view.line_kw.iter().map(|f| f.abs()).sum(),
        cloud_puffs_shown: puffs.iter().filter(|v| **v != Visibility::Hidden).count(),
        step: view.run.steps,
        total_steps: view.total_steps,
        scene_finished: player.finished,
    };
    if let Err(e) = serde_json::to_string_pretty(&info).map_err(std::io::Error::other).and_then(|j| crate::output::staging::write_to(&path.with_extension("json"), j.as_bytes())) {
        eprintln!("error: cannot write {}: {e}", path.with_extension("json").display());
    }
    let mut shot = commands.spawn(Screenshot::primary_window());
    shot.observe(save_to_disk(path)).observe(|_: On<ScreenshotCaptured>, mut cap: ResMut<Capture>| cap.shot_saved = true);
    // One capture per frame and window: a recorded last frame is this screenshot, saved twice.
    if let Some(dir) = &cap.record {
        shot.observe(save_to_disk(frame_path(dir, cap.frame))).observe(|_: On<ScreenshotCaptured>, mut cap: ResMut<Capture>| cap.saved += 1);
        cap.recorded += 1;
        cap.frame_recorded = cap.frame;
    }
}

fn frame_path(dir: &std::path::Path, frame: u64) -> PathBuf {
    dir.join(format!("frame-{frame:05}.png"))
}

/// `--record DIR`: saves this frame as `DIR/frame-NNNNN.png` (none after the last frame).
/// Writes `Capture`'s count; spawns a screenshot. Runs after `DemoSystems::Draw`.
fn record_frame(mut commands: Commands, mut cap: ResMut<Capture>) {
    if cap.requested && cap.frame_recorded == cap.frame {
        return;
    }
    let Some(dir) = &cap.record else { return };
    let path = frame_path(dir, cap.frame);
    cap.recorded += 1;
    cap.frame_recorded = cap.frame;
    commands.spawn(Screenshot::primary_window()).observe(save_to_disk(path)).observe(|_: On<ScreenshotCaptured>, mut cap: ResMut<Capture>| cap.saved += 1);
}
