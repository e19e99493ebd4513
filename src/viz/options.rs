//! How to start the demo: what `peergrid demo`'s options turn into. Compiled without the `viz`
//! feature too, so the command line knows the options of a demo it cannot open.

use std::path::PathBuf;

/// How to start the demo (from `peergrid demo`).
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub scenario: PathBuf,
    pub rule: Option<String>,
    pub seed: Option<u64>,
    pub width: u32,
    pub height: u32,
    /// `None`: the scene's speed, else 10 steps per second.
    pub speed: Option<DemoSpeed>,
    /// A scene to play (`scenes/*.ron`).
    pub scene: Option<PathBuf>,
    /// Save every frame as `DIR/frame-NNNNN.png` (and `DIR/demo.mp4` with ffmpeg).
    pub record: Option<PathBuf>,
    /// Steps simulated before the first frame.
    pub start_step: u64,
    /// The house whose details are shown from the start (scenario id).
    pub select: Option<String>,
    /// Threads for Bevy's task pools.
    pub threads: usize,
    /// Run this many frames, then exit (after the screenshot, if any).
    pub frames: Option<u64>,
    /// Save a PNG of the window after `frames` frames (with a scene and no `frames`: at the
    /// scene's end), and the houses' screen positions beside it.
    pub screenshot: Option<PathBuf>,
}

/// Steps per second of a scene that gives none.
pub const SCENE_DEFAULT_STEPS_PER_S: f64 = 4.0;

/// Task-pool threads of `peergrid demo` unless `--threads` says otherwise: on 2 cores with
/// llvmpipe, one pool thread gave a median 33.6 fps against 28.0 with Bevy's default pools.
pub const DEMO_DEFAULT_THREADS: usize = 1;

/// Steps per second the demo runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoSpeed {
    /// One step per second.
    #[value(name = "1")]
    One,
    #[value(name = "10")]
    Ten,
    #[value(name = "100")]
    Hundred,
    /// As many steps as fit in a frame's time budget.
    #[value(name = "max")]
    Max,
}

impl DemoSpeed {
    pub const ALL: [DemoSpeed; 4] = [DemoSpeed::One, DemoSpeed::Ten, DemoSpeed::Hundred, DemoSpeed::Max];

    /// Steps per second; `None`: as fast as possible.
    pub fn steps_per_second(self) -> Option<f64> {
        match self {
            DemoSpeed::One => Some(1.0),
            DemoSpeed::Ten => Some(10.0),
            DemoSpeed::Hundred => Some(100.0),
            DemoSpeed::Max => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DemoSpeed::One => "1x",
            DemoSpeed::Ten => "10x",
            DemoSpeed::Hundred => "100x",
            DemoSpeed::Max => "max",
        }
    }
}
