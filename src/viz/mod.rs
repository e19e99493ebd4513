//! `peergrid demo`: the grid as a live map for workshops (cargo feature `viz`).
//!
//! The window's app owns a headless [`Simulation`] — the same core, plugins and schedule as
//! `peergrid run` — and advances it 0..k steps per frame (k from the speed setting). After
//! stepping, [`sim_view::refresh`] copies what the screen shows out of the simulation's world
//! into [`View`]; the map and the panel only read `View`. Nothing in the core knows about this
//! module.
//!
//! - `map`: houses, lines and the grid connection point from the topology's coordinates, their
//!   colours, animated power flow, camera pan and zoom, clicking a house.
//! - `panel`: clock and sun, KPIs, the production/consumption chart, the block feed, the
//!   selected house's details, help.
//! - `controls`: keys (pause, speed, step, rule, restart) and the stepping driver.
//! - `capture`: `--frames N` and `--screenshot FILE` (PNG plus the houses' screen positions).

mod capture;
mod controls;
mod map;
mod panel;
pub mod sim_view;

use bevy::prelude::*;
use bevy::window::{PresentMode, WindowResolution};
use std::path::PathBuf;

pub use sim_view::{DemoSim, View};

pub use crate::app::cli::DemoSpeed as Speed;

/// How to start the demo (from `peergrid demo`).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scenario: PathBuf,
    pub rule: Option<String>,
    pub seed: Option<u64>,
    pub width: u32,
    pub height: u32,
    pub speed: Speed,
    /// Steps simulated before the first frame.
    pub start_step: u64,
    /// The house whose details are shown from the start (scenario id).
    pub select: Option<String>,
    /// Threads for Bevy's task pools.
    pub threads: usize,
    /// Run this many frames, then exit (after the screenshot, if any).
    pub frames: Option<u64>,
    /// Save a PNG of the window after `frames` frames, and the houses' screen positions beside it.
    pub screenshot: Option<PathBuf>,
}

/// Width of the panel on the right of the window, logical px (the map fits beside it).
pub const PANEL_WIDTH_PX: f32 = 340.0;

/// Default frames before a screenshot is taken.
pub const DEFAULT_SCREENSHOT_FRAMES: u64 = 60;

/// Opens the window and runs the demo until it is closed (or `frames` have been shown).
pub fn run_demo(opts: DemoOptions) -> anyhow::Result<()> {
    let mut sim = DemoSim::load(&opts.scenario, opts.rule.as_deref(), opts.seed)?;
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
    .insert_resource(controls::Playback::new(opts.speed))
    .insert_resource(capture::Capture::new(opts.frames, opts.screenshot.clone()))
    .insert_resource(view)
    .configure_sets(Update, (DemoSystems::Input, DemoSystems::Step, DemoSystems::Draw).chain())
    .add_plugins((controls::ControlsPlugin, map::MapPlugin, panel::PanelPlugin, capture::CapturePlugin));
    match app.run() {
        AppExit::Success => Ok(()),
        AppExit::Error(code) => anyhow::bail!("the demo stopped with error code {code}"),
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
