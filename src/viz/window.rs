//! The demo's window: Bevy's default plugins, the map, the panel, the controls and the capture,
//! around a [`DemoSim`].

use super::options::DemoOptions;
use super::sim_view::{self, DemoSim, View};
use super::{capture, controls, map, panel, scene_play};
use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};

/// Width of the panel on the right of the window, logical px (the map fits beside it).
pub const PANEL_WIDTH_PX: f32 = 340.0;

/// Default frames before a screenshot is taken.
pub const DEFAULT_SCREENSHOT_FRAMES: u64 = 60;

/// Opens the window and runs the demo until it is closed (or `frames` have been shown).
pub fn run_demo(opts: DemoOptions) -> anyhow::Result<()> {
    let scene = match &opts.scene {
        Some(path) => Some(std::sync::Arc::new(crate::scenario::scene::Scene::load(path).map_err(|e| anyhow::anyhow!("{e}"))?)),
        None => None,
    };
    if let Some(dir) = &opts.record {
        std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: cannot create the folder: {e}", dir.display()))?;
    }
    let mut sim = DemoSim::load(&opts.scenario, opts.rule.as_deref(), opts.seed, scene.clone())?;
    let mut view = View::default();
    if let Some(id) = &opts.select {
        let Some(i) = sim.scenario.households.iter().position(|h| &h.id == id) else {
            anyhow::bail!("{}: --select {id}: no household with this id", opts.scenario.display());
        };
        view.selected = Some(i as u32);
    }
    while sim.sim.steps_done() < opts.start_step && !sim.sim.is_finished() {
        sim.sim.step();
        sim_view::after_step(&mut sim, &mut view);
    }
    let title = format!("peergrid demo: {}", sim.scenario.name);
    let mut app = App::new();
    let pools = TaskPoolPlugin { task_pool_options: TaskPoolOptions::with_num_threads(opts.threads.max(1)) };
    app.add_plugins(DefaultPlugins.set(pools).set(WindowPlugin {
        primary_window: Some(Window {
            title,
            resolution: WindowResolution::new(opts.width, opts.height),
            // Frame rate is the measure of the demo's speed; do not cap it at the display's.
            present_mode: PresentMode::AutoNoVsync,
            ..default()
        }),
        ..default()
    }))
    .insert_non_send(sim)
    .insert_resource(controls::Playback::new(opts.speed.unwrap_or(super::Speed::Ten), match (&scene, opts.speed) {
        (Some(s), None) => Some(s.speed.unwrap_or(super::options::SCENE_DEFAULT_STEPS_PER_S)),
        _ => None,
    }));
    // Recording: every frame is one frame of the video, so the simulation and the scene's
    // captions and pauses advance by exactly that much per frame, however long a frame takes.
    if opts.record.is_some() {
        app.insert_resource(bevy::time::TimeUpdateStrategy::ManualDuration(std::time::Duration::from_secs_f64(1.0 / f64::from(capture::VIDEO_FPS))));
    }
    app.insert_resource(capture::Capture::new(opts.frames, opts.screenshot.clone(), scene.is_some(), opts.record.clone()))
    .insert_resource(scene_play::ScenePlayer::new(scene))
    .insert_resource(view)
    .configure_sets(Update, (DemoSystems::Input, DemoSystems::Step, DemoSystems::Draw).chain())
    .add_plugins((controls::ControlsPlugin, map::MapPlugin, panel::PanelPlugin, capture::CapturePlugin, scene_play::ScenePlugin));
    let exit = app.run();
    if let Some(dir) = &opts.record {
        capture::encode_video(dir);
    }
    match exit {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("the demo stopped with error code {code}"),
    }
}

/// The panel's and overlays' faces, DejaVu Sans and DejaVu Sans Bold (`assets/fonts/`), in the
/// binary so the demo runs from any folder. Bevy's own default face is monospaced.
#[derive(Resource)]
pub struct UiFonts {
    pub regular: Handle<Font>,
    pub bold: Handle<Font>,
}

const REGULAR_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const BOLD_FONT: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

impl FromWorld for UiFonts {
    fn from_world(world: &mut World) -> UiFonts {
        let mut fonts = world.resource_mut::<Assets<Font>>();
        UiFonts { regular: fonts.add(Font::from_bytes(REGULAR_FONT.to_vec())), bold: fonts.add(Font::from_bytes(BOLD_FONT.to_vec())) }
    }
}

/// Ordering of the demo's frame: input, then stepping the simulation, then drawing.
#[derive(SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemoSystems {
    /// Keys and mouse change the playback, camera and selection.
    Input,
    /// The simulation advances and `View` is refreshed.
    Step,
    /// Map and panel follow `View`.
    Draw,
}
