//! `peergrid demo`: the grid as a live map for workshops. The window and everything it draws are
//! behind the cargo feature `viz`; [`options`] is always there, for the command line.
//!
//! The window's app owns a headless [`Simulation`] — the same core, plugins and schedule as
//! `peergrid run` — and advances it 0..k steps per frame (k from the speed setting). After
//! stepping, [`sim_view::refresh`] copies what the screen shows out of the simulation's world
//! into [`View`]; the map and the panel only read `View`. Nothing in the core knows about this
//! module.
//!
//! - `map`: houses, lines and the grid connection point from the topology's coordinates, their
//!   colours, animated power flow, camera pan and zoom, clicking a house.
//! - `panel`: a large clock and the sun, six headline figures, the last day's chart, the latest
//!   blocks, the selected house, the legend, the playback line (and the keys with H).
//! - `controls`: keys (pause, speed, step, rule, restart) and the stepping driver.
//! - `capture`: `--frames N` and `--screenshot FILE` (PNG plus the houses' screen positions),
//!   `--record DIR` (every frame, then an MP4).
//! - `scene_play`: `--scene FILE`'s captions, pauses and selections; the block banner.

pub mod options;
pub use options::{DemoOptions, DemoSpeed as Speed};

#[cfg(feature = "viz")]
mod capture;
#[cfg(feature = "viz")]
mod controls;
#[cfg(feature = "viz")]
mod map;
#[cfg(feature = "viz")]
mod panel;
#[cfg(feature = "viz")]
mod scene_play;
#[cfg(feature = "viz")]
pub mod sim_view;
#[cfg(feature = "viz")]
mod window;

#[cfg(feature = "viz")]
pub use sim_view::{DemoSim, View};
#[cfg(feature = "viz")]
pub use window::{run_demo, DemoSystems, DEFAULT_SCREENSHOT_FRAMES, PANEL_WIDTH_PX};
