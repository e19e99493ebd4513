//! Keys and the stepping driver: pause/play, speed, step once, switch rule, restart.

use super::sim_view::{self, DemoSim, View};
use super::{DemoSystems, Speed};
use crate::market::registry::RULES;
use bevy::prelude::*;
use std::time::{Duration, Instant};

/// Time a frame may spend simulating at `max` speed (the rest is drawing).
const MAX_SPEED_BUDGET: Duration = Duration::from_millis(25);
/// Most steps one frame runs at a fixed speed (so a slow frame does not snowball).
const MAX_STEPS_PER_FRAME: u32 = 200;

/// Playback state.
#[derive(Resource, Debug)]
pub struct Playback {
    pub paused: bool,
    pub speed: Speed,
    /// Steps owed to the speed setting (fractions carry over between frames).
    owed: f64,
    step_once: bool,
    /// A message for the panel (rule switched, restart failed, ...).
    pub notice: String,
    /// Steps per second instead of `speed`'s (a scene's), until a speed key is pressed.
    pub rate: Option<f64>,
    /// The simulation holds here (a scene's next action) until the scene lets it go on.
    pub stop_at: Option<u64>,
    /// The panel lists the keys (H toggles).
    pub show_keys: bool,
}

impl Playback {
    pub fn new(speed: Speed, rate: Option<f64>) -> Playback {
        Playback { paused: false, speed, owed: 0.0, step_once: false, notice: String::new(), rate, stop_at: None, show_keys: false }
    }

    /// The speed's label for the panel.
    pub fn label(&self) -> String {
        match self.rate {
            Some(r) => format!("{r} steps/s"),
            None => self.speed.label().to_string(),
        }
    }
}

/// Playback keys and the stepping driver, in [`DemoSystems`].
pub struct ControlsPlugin;

impl Plugin for ControlsPlugin {
    fn build(&self, app: &mut App) {
        app.add_systems(Update, keys.in_set(DemoSystems::Input)).add_systems(Update, advance.in_set(DemoSystems::Step));
    }
}

/// Space pause/play; 1–4 speed; Enter or `.` one step; R next rule (Shift+R previous);
/// N restart with a new seed; C houses by community or by state; H the keys on the panel. Reads the keyboard; writes `Playback`, the simulation's rule,
/// `View` (on restart). Runs in `DemoSystems::Input`.
fn keys(input: Res<ButtonInput<KeyCode>>, mut playback: ResMut<Playback>, mut sim: NonSendMut<DemoSim>, mut view: ResMut<View>) {
    if input.just_pressed(KeyCode::Space) {
        playback.paused = !playback.paused;
    }
    for (key, speed) in [KeyCode::Digit1, KeyCode::Digit2, KeyCode::Digit3, KeyCode::Digit4].into_iter().zip(Speed::ALL) {
        if input.just_pressed(key) {
            playback.speed = speed;
            playback.rate = None;
            playback.owed = 0.0;
        }
    }
    if input.just_pressed(KeyCode::Enter) || input.just_pressed(KeyCode::Period) {
        playback.paused = true;
        playback.step_once = true;
    }
    if input.just_pressed(KeyCode::KeyR) {
        let back = input.pressed(KeyCode::ShiftLeft) || input.pressed(KeyCode::ShiftRight);
        let at = RULES.iter().position(|r| *r == sim.rule).unwrap_or(0);
        let next = if back { (at + RULES.len() - 1) % RULES.len() } else { (at + 1) % RULES.len() };
        sim.set_rule(RULES[next]);
        playback.notice = format!("rule: {} (from the next step)", RULES[next].name);
    }
    if input.just_pressed(KeyCode::KeyC) {
        if view.communities.is_empty() {
            playback.notice = "the scenario has no communities".to_string();
        } else {
            view.by_community = !view.by_community;
            view.version += 1;
            playback.notice = format!("houses by {}", if view.by_community { "community" } else { "what they do this step" });
        }
    }
    if input.just_pressed(KeyCode::KeyH) {
        playback.show_keys = !playback.show_keys;
    }
    if input.just_pressed(KeyCode::KeyN) {
        match sim.restart_with_new_seed() {
            Ok(()) => {
                view.reset();
                playback.notice = format!("restarted with seed {}", sim.scenario.seed);
            }
            Err(e) => playback.notice = format!("restart failed: {e}"),
        }
    }
}

/// Advances the simulation by the steps this frame owes (none when paused), recording each
/// step, then refreshes `View` once. At the end of the run it pauses. Reads `Time`,
/// `Playback`; writes the simulation and `View`. Runs in `DemoSystems::Step`.
fn advance(time: Res<Time>, mut playback: ResMut<Playback>, mut sim: NonSendMut<DemoSim>, mut view: ResMut<View>, mut shown: Local<bool>) {
    let sim = &mut *sim;
    // The first frame shows the state, whatever else changed `View` before it (a scene selects a
    // house in its first frame, while it holds at a pause).
    let first_frame = !std::mem::replace(&mut *shown, true);
    let mut steps = 0u32;
    let budget_start = Instant::now();
    if playback.step_once {
        playback.step_once = false;
        steps = 1;
    } else if !playback.paused {
        match playback.rate.or(playback.speed.steps_per_second()) {
            Some(rate) => {
                playback.owed = (playback.owed + rate * time.delta_secs_f64()).min(MAX_STEPS_PER_FRAME as f64);
                steps = playback.owed.floor() as u32;
                playback.owed -= steps as f64;
            }
            None => steps = u32::MAX,
        }
    }
    let mut done = 0;
    while done < steps && !sim.sim.is_finished() && playback.stop_at.is_none_or(|s| sim.sim.steps_done() < s) {
        sim.sim.step();
        sim_view::after_step(sim, &mut view);
        done += 1;
        if steps == u32::MAX && budget_start.elapsed() >= MAX_SPEED_BUDGET {
            break;
        }
    }
    if sim.sim.is_finished() && !playback.paused {
        playback.paused = true;
        if !playback.notice.starts_with("end of the scene") {
            playback.notice = "end of the scenario: N restarts with a new seed".to_string();
        }
    }
    if done > 0 || first_frame || view.houses.len() != sim.scenario.households.len() {
        sim_view::refresh(sim, &mut view);
    }
}
