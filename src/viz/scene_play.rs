//! `peergrid demo --scene FILE`: captions, pauses and the house shown, at the scene's steps (its
//! events are already in the simulation, from the scenario's overrides); and the map's banner
//! when a block is sealed. At `--speed max` pauses are skipped (the scene plays through, as the
//! screenshot test does).

use super::controls::Playback;
use super::sim_view::{DemoSim, View};
use super::DemoSystems;
use crate::scenario::scene::{Action, Scene};
use bevy::prelude::*;
use std::sync::Arc;
use std::time::Duration;

/// How long a block's banner stays, s.
const BLOCK_BANNER_S: f32 = 2.0;
/// How long the scene's title shows at its start, s.
const TITLE_S: f64 = 5.0;
const CAPTION_FONT_PX: f32 = 26.0;
const BANNER_FONT_PX: f32 = 18.0;
const CAPTION_BACKGROUND: Color = Color::srgba(0.02, 0.03, 0.08, 0.85);
const CAPTION_TEXT: Color = Color::srgb(1.0, 1.0, 1.0);
const BANNER_TEXT: Color = Color::srgb(0.85, 0.90, 1.0);

/// The scene being played (none without `--scene`), and what it shows now.
#[derive(Resource, Default)]
pub struct ScenePlayer {
    scene: Option<Arc<Scene>>,
    /// Actions by step (stable: the file's order within a step).
    actions: Vec<Action>,
    next: usize,
    /// Times are the app's `Time` since start: the wall clock, or exactly one video frame per
    /// frame while `--record` writes frames.
    caption: Option<(String, Duration)>,
    resume_at: Option<Duration>,
    /// Every action done and the run at its end.
    pub finished: bool,
}

impl ScenePlayer {
    pub fn new(scene: Option<Arc<Scene>>) -> ScenePlayer {
        let mut actions: Vec<Action> = scene.as_ref().map(|s| s.actions.clone()).unwrap_or_default();
        actions.sort_by_key(Action::step);
        let caption = scene.as_ref().map(|s| (s.title.clone(), Duration::from_secs_f64(TITLE_S)));
        ScenePlayer { scene, actions, next: 0, caption, resume_at: None, finished: false }
    }

    /// The step the simulation must stop at before the next action, if any.
    fn stop_at(&self) -> Option<u64> {
        self.actions.get(self.next).map(Action::step)
    }
}

/// The last block announced.
#[derive(Resource, Default)]
struct BannerState {
    height: Option<u64>,
    until: f32,
}

#[derive(Component)]
struct CaptionText;
#[derive(Component)]
struct BlockBanner;

pub struct ScenePlugin;

impl Plugin for ScenePlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<BannerState>().init_resource::<super::window::UiFonts>().add_systems(Startup, spawn_overlays).add_systems(Update, play.in_set(DemoSystems::Input)).add_systems(Update, (show_caption, announce_blocks).in_set(DemoSystems::Draw));
    }
}

/// The caption (top of the map) and the block banner (bottom). Runs at start-up.
fn spawn_overlays(mut commands: Commands, fonts: Res<super::window::UiFonts>) {
    let font: FontSource = fonts.bold.clone().into();
    let overlay = |top: bool| Node {
        position_type: PositionType::Absolute,
        left: px(16),
        right: px(super::PANEL_WIDTH_PX + 16.0),
        top: if top { px(14) } else { Val::Auto },
        bottom: if top { Val::Auto } else { px(14) },
        justify_content: JustifyContent::Center,
        ..default()
    };
    commands.spawn(overlay(true)).with_children(|p| {
        p.spawn((CaptionText, Text::new(""), TextFont { font: font.clone(), font_size: FontSize::Px(CAPTION_FONT_PX), ..default() }, TextColor(CAPTION_TEXT), TextLayout::justify(Justify::Center), Node { padding: UiRect::axes(px(14), px(8)), max_width: px(900), ..default() }, BackgroundColor(CAPTION_BACKGROUND), Visibility::Hidden));
    });
    commands.spawn(overlay(false)).with_children(|p| {
        p.spawn((BlockBanner, Text::new(""), TextFont { font, font_size: FontSize::Px(BANNER_FONT_PX), ..default() }, TextColor(BANNER_TEXT), Node { padding: UiRect::axes(px(12), px(6)), ..default() }, BackgroundColor(CAPTION_BACKGROUND), Visibility::Hidden));
    });
}

/// Does the scene's actions whose step has come: captions, pauses (resumed after their time),
/// the house shown; holds the simulation at the next action's step. Reads the simulation's step and `Time`;
/// writes `ScenePlayer`, `Playback`, `View`. Runs in `DemoSystems::Input`.
fn play(mut player: ResMut<ScenePlayer>, mut playback: ResMut<Playback>, sim: NonSend<DemoSim>, mut view: ResMut<View>, time: Res<Time>) {
    let Some(scene) = player.scene.clone() else { return };
    let now = time.elapsed();
    if player.resume_at.is_some_and(|t| now >= t) {
        player.resume_at = None;
        playback.paused = false;
    }
    if player.resume_at.is_some() {
        return;
    }
    let done = sim.sim.steps_done();
    let max_speed = playback.speed.steps_per_second().is_none() && playback.rate.is_none();
    loop {
        let Some(action) = player.actions.get(player.next).filter(|a| a.step() <= done).cloned() else { break };
        player.next += 1;
        match action {
            Action::Caption { text, seconds, .. } => player.caption = Some((text, now + Duration::from_secs_f64(seconds))),
            Action::Pause { seconds, text, .. } => {
                if let Some(text) = text {
                    player.caption = Some((text, now + Duration::from_secs_f64(if max_speed { 1.0 } else { seconds })));
                }
                if !max_speed {
                    playback.paused = true;
                    player.resume_at = Some(now + Duration::from_secs_f64(seconds));
                    break;
                }
            }
            Action::Select { household, .. } => {
                view.selected = sim.scenario.households.iter().position(|h| h.id == household).map(|i| i as u32);
                view.version += 1;
            }
            other => {
                if let Some(label) = other.label() {
                    playback.notice = format!("scene: {label}");
                }
            }
        }
    }
    playback.stop_at = player.stop_at();
    if player.next >= player.actions.len() && sim.sim.is_finished() && player.resume_at.is_none() && !player.finished {
        player.finished = true;
        playback.notice = format!("end of the scene \"{}\"", scene.title);
    }
}

/// The caption while it lasts. Reads `ScenePlayer` and `Time`; writes the caption's text and visibility.
fn show_caption(player: Res<ScenePlayer>, time: Res<Time>, mut caption: Single<(&mut Text, &mut Visibility), With<CaptionText>>) {
    let now = time.elapsed();
    let (text, visibility) = &mut *caption;
    match player.caption.as_ref().filter(|(_, until)| now < *until) {
        Some((t, _)) => {
            if text.0 != *t {
                text.0.clone_from(t);
            }
            visibility.set_if_neq(Visibility::Inherited);
        }
        None => {
            visibility.set_if_neq(Visibility::Hidden);
        }
    }
}

/// A banner for each newly sealed block: its height, witness and transactions. Reads `View`,
/// `Time`; writes the banner. Runs in `DemoSystems::Draw`.
fn announce_blocks(view: Res<View>, time: Res<Time>, mut state: ResMut<BannerState>, mut banner: Single<(&mut Text, &mut Visibility), With<BlockBanner>>) {
    let (text, visibility) = &mut *banner;
    // Newest last.
    if let Some((b, producer)) = view.blocks.last()
        && state.height != Some(b.height)
    {
        state.height = Some(b.height);
        state.until = time.elapsed_secs() + BLOCK_BANNER_S;
        text.0 = format!("Block {} sealed by witness {producer}: {} transactions", b.height, b.transactions);
    }
    visibility.set_if_neq(if time.elapsed_secs() < state.until { Visibility::Inherited } else { Visibility::Hidden });
}
