//! Scenes: what a facilitator plays on the live map, step by step (`scenes/*.ron`, see
//! `docs/demo.md`). The actions that change the simulation become the scenario's events and
//! ledger faults, so `peergrid run --scene` and the replay reproduce a scene exactly; captions,
//! pauses and the house the map shows are the scene's own.

use super::schema::{CloudArea, EventSpec, FaultSpec, ScenarioFile};
use crate::base::error::{InputError, InputErrors, Location};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Longest caption, characters (it must fit the screen).
pub const MAX_CAPTION_CHARS: usize = 240;
/// Longest pause or caption, seconds.
pub const MAX_HOLD_SECONDS: f64 = 120.0;
/// Most actions in a scene.
pub const MAX_ACTIONS: usize = 1000;
/// Largest scene file read, bytes.
pub const MAX_SCENE_BYTES: u64 = 1 << 20;

/// A scene file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Shown on the map while the scene plays.
    pub title: String,
    #[serde(default)]
    pub description: String,
    /// Steps per second to play at (the demo's `--speed` wins); default 4.
    #[serde(default)]
    pub speed: Option<f64>,
    /// Steps the scene lasts (the run's length unless `--steps` is given); default: the
    /// scenario's.
    #[serde(default)]
    pub steps: Option<u64>,
    pub actions: Vec<Action>,
    /// The file it was read from.
    #[serde(skip)]
    pub file: PathBuf,
}

/// What happens at a step, from its start.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Action {
    /// A caption on the map for `seconds` (6 by default) while the scene plays on.
    Caption {
        step: u64,
        text: String,
        #[serde(default = "default_caption_seconds")]
        seconds: f64,
    },
    /// The scene holds for `seconds` (with an optional caption), then plays on.
    Pause {
        step: u64,
        seconds: f64,
        #[serde(default)]
        text: Option<String>,
    },
    /// The map shows a house's details (its id).
    Select { step: u64, household: String },
    /// A cloud over part of the grid (the scenario event `Cloud`).
    Cloud {
        step: u64,
        steps: u64,
        over: CloudArea,
        #[serde(default = "default_transmittance")]
        transmittance: f64,
    },
    /// A witness stops producing blocks for `steps` steps (a ledger fault).
    WitnessOffline { step: u64, witness: String, steps: u64 },
    JoinCommunity { step: u64, household: String, community: String },
    LeaveCommunity { step: u64, household: String },
    SwitchCommunity { step: u64, household: String, to: Option<String> },
    /// The market switches its trading rule (the scenario event `SwitchRule`).
    SwitchRule { step: u64, rule: String },
}

fn default_caption_seconds() -> f64 {
    6.0
}

fn default_transmittance() -> f64 {
    0.3
}

impl Action {
    pub fn step(&self) -> u64 {
        match self {
            Action::Caption { step, .. }
            | Action::Pause { step, .. }
            | Action::Select { step, .. }
            | Action::Cloud { step, .. }
            | Action::WitnessOffline { step, .. }
            | Action::JoinCommunity { step, .. }
            | Action::LeaveCommunity { step, .. }
            | Action::SwitchCommunity { step, .. }
            | Action::SwitchRule { step, .. } => *step,
        }
    }

    /// A line for the map's event list (the simulation's own changes).
    pub fn label(&self) -> Option<String> {
        Some(match self {
            Action::Caption { .. } | Action::Pause { .. } | Action::Select { .. } => return None,
            Action::Cloud { .. } => "a cloud passes over".to_string(),
            Action::WitnessOffline { witness, .. } => format!("witness {witness} goes offline"),
            Action::JoinCommunity { household, community, .. } => format!("{household} joins {community}"),
            Action::LeaveCommunity { household, .. } => format!("{household} leaves its community"),
            Action::SwitchCommunity { household, to, .. } => format!("{household} moves to {}", to.as_deref().unwrap_or("the grid alone")),
            Action::SwitchRule { rule, .. } => format!("the market switches to {rule}"),
        })
    }
}

impl Scene {
    /// Reads and checks a scene file; errors name the file and the line or field.
    pub fn load(path: &Path) -> Result<Scene, InputErrors> {
        let one = |location, message: String| InputErrors(vec![InputError { file: path.into(), location, message }]);
        let text = crate::base::input::read_text(path, "scene file", MAX_SCENE_BYTES).map_err(|e| InputErrors(vec![e]))?;
        let mut scene: Scene = super::ron_options().from_str(&text).map_err(|e| one(Location::LineColumn { line: e.span.start.line, column: e.span.start.col }, e.code.to_string()))?;
        scene.file = path.to_path_buf();
        let mut errors = Vec::new();
        let mut err = |field: String, message: String| errors.push(InputError::field(path, field, message));
        if scene.actions.len() > MAX_ACTIONS {
            err("actions".into(), format!("{} actions: at most {MAX_ACTIONS}", scene.actions.len()));
        }
        if let Some(s) = scene.speed.filter(|s| !(s.is_finite() && *s > 0.0 && *s <= 10_000.0)) {
            err("speed".into(), format!("{s}: steps per second, above 0 and at most 10000"));
        }
        if scene.steps == Some(0) {
            err("steps".into(), "a scene lasts at least one step".into());
        }
        for (i, a) in scene.actions.iter().enumerate() {
            match a {
                Action::Caption { text, seconds, .. } | Action::Pause { seconds, text: Some(text), .. } if text.chars().count() > MAX_CAPTION_CHARS || !(seconds.is_finite() && *seconds > 0.0 && *seconds <= MAX_HOLD_SECONDS) => {
                    err(format!("actions[{i}]"), format!("a caption of at most {MAX_CAPTION_CHARS} characters, shown for more than 0 and at most {MAX_HOLD_SECONDS} s"));
                }
                Action::Pause { seconds, .. } if !(seconds.is_finite() && *seconds > 0.0 && *seconds <= MAX_HOLD_SECONDS) => {
                    err(format!("actions[{i}].seconds"), format!("{seconds}: more than 0 and at most {MAX_HOLD_SECONDS} s"));
                }
                _ => {}
            }
            if let Some(end) = scene.steps.filter(|end| a.step() >= *end) {
                err(format!("actions[{i}].step"), format!("{} is after the scene's last step ({})", a.step(), end - 1));
            }
        }
        if errors.is_empty() { Ok(scene) } else { Err(InputErrors(errors)) }
    }

    /// Adds the actions that change the simulation to the scenario: events and ledger faults.
    /// Returns where each came from, to name the scene's action in an error.
    pub fn apply(&self, file: &mut ScenarioFile) -> SceneOrigins {
        let mut origins = SceneOrigins { file: self.file.clone(), steps: self.steps, event_base: file.events.len(), events: Vec::new(), fault_base: file.ledger.faults.len(), faults: Vec::new() };
        for (i, a) in self.actions.iter().enumerate() {
            let event = match a.clone() {
                Action::Caption { .. } | Action::Pause { .. } | Action::Select { .. } => continue,
                Action::WitnessOffline { step, witness, steps } => {
                    file.ledger.faults.push(FaultSpec { witness, from_step: step, to_step: step.saturating_add(steps) });
                    origins.faults.push(i);
                    continue;
                }
                Action::Cloud { step, steps, over, transmittance } => EventSpec::Cloud { step, steps, over, transmittance },
                Action::JoinCommunity { step, household, community } => EventSpec::JoinCommunity { step, household, community },
                Action::LeaveCommunity { step, household } => EventSpec::LeaveCommunity { step, household },
                Action::SwitchCommunity { step, household, to } => EventSpec::SwitchCommunity { step, household, to },
                Action::SwitchRule { step, rule } => EventSpec::SwitchRule { step, rule },
            };
            file.events.push(event);
            origins.events.push(i);
        }
        origins
    }
}

impl Scene {
    /// Checks the houses the scene shows (`Select`) against the scenario's.
    pub fn check_selections(&self, ids: &[String]) -> Result<(), InputErrors> {
        let errors: Vec<InputError> = self
            .actions
            .iter()
            .enumerate()
            .filter_map(|(i, a)| match a {
                Action::Select { household, .. } if !ids.iter().any(|id| id == household) => Some(InputError::field(&self.file, format!("actions[{i}].household"), format!("no household has id `{household}`"))),
                _ => None,
            })
            .collect();
        if errors.is_empty() { Ok(()) } else { Err(InputErrors(errors)) }
    }
}

/// Which scene action each added event and fault came from.
#[derive(Debug, Clone)]
pub struct SceneOrigins {
    file: PathBuf,
    /// The scene's length, if it gives one.
    steps: Option<u64>,
    event_base: usize,
    events: Vec<usize>,
    fault_base: usize,
    faults: Vec<usize>,
}

impl SceneOrigins {
    /// Errors about the added events and faults, told as the scene's actions.
    pub fn remap(&self, errors: InputErrors) -> InputErrors {
        InputErrors(
            errors
                .0
                .into_iter()
                .map(|e| {
                    let Location::Field(field) = &e.location else { return e };
                    // The run's length came from the scene's `steps` (or equals it).
                    if field == "--steps" && self.steps.is_some() {
                        return InputError::field(&self.file, "steps", e.message.clone());
                    }
                    for (prefix, base, origins) in [("events[", self.event_base, &self.events), ("ledger.faults[", self.fault_base, &self.faults)] {
                        let Some(rest) = field.strip_prefix(prefix) else { continue };
                        let Some((index, tail)) = rest.split_once(']') else { continue };
                        let Some(action) = index.parse::<usize>().ok().and_then(|k| k.checked_sub(base)).and_then(|k| origins.get(k)) else { continue };
                        // A fault's fields by the action's names.
                        let tail = match tail {
                            ".to_step" => ".steps",
                            ".from_step" => ".step",
                            other => other,
                        };
                        return InputError::field(&self.file, format!("actions[{action}]{tail}"), e.message.clone());
                    }
                    e
                })
                .collect(),
        )
    }
}
