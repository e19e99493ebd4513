//! The side panel: clock and sun, live KPIs, a production/consumption chart, the block feed,
//! the selected house, playback status and the keys.

use super::controls::Playback;
use super::sim_view::{DemoSim, View, CHART_STEPS};
use super::{DemoSystems, PANEL_WIDTH_PX};
use bevy::prelude::*;

const PADDING_PX: f32 = 10.0;
const FONT_PX: f32 = 13.0;
const TITLE_FONT_PX: f32 = 16.0;
const SUN_BAR_HEIGHT_PX: f32 = 34.0;
const SUN_DOT_PX: f32 = 10.0;
const CHART_HEIGHT_PX: f32 = 70.0;
const PANEL_BACKGROUND: Color = Color::srgba(0.02, 0.02, 0.04, 0.82);
const TEXT_COLOR: Color = Color::srgb(0.92, 0.92, 0.95);
const DIM_TEXT: Color = Color::srgb(0.65, 0.67, 0.72);
// Okabe–Ito: PV orange, load sky blue (not red against green).
const PV_BAR: Color = Color::srgb(0.90, 0.62, 0.0);
const LOAD_BAR: Color = Color::srgb(0.34, 0.71, 0.91);
const SUN_COLOR: Color = Color::srgb(1.0, 0.85, 0.25);
const BLOCKS_SHOWN: usize = 4;

pub const HELP: &str = "Space pause   1-4 speed 1x 10x 100x max\n\
Enter/. one step   R/Shift+R rule\n\
N new seed   F fit map   click a house\n\
C houses by community / by state\n\
drag/WASD/arrows pan   wheel/+/- zoom";

/// What the map's colours mean (the houses' are in the KPIs' heading).
pub const LEGEND: &str = "Power: green between neighbours, white grid\nLines: grey to amber to red as they load up\nRoof panel brighter as it produces";

#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Clock,
    Kpis,
    Communities,
    Blocks,
    House,
    Status,
}

#[derive(Component)]
struct SunDot;
#[derive(Component)]
struct ChartBar {
    step: usize,
    pv: bool,
}

/// Frames per second over the last second.
#[derive(Resource, Default)]
pub struct FrameRate {
    pub fps: f64,
    frames: u32,
    seconds: f64,
}

pub struct PanelPlugin;

impl Plugin for PanelPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<FrameRate>().add_systems(Startup, spawn_panel).add_systems(Update, (count_frames, update_texts, update_sun, update_chart).in_set(DemoSystems::Draw));
    }
}

fn text(field: Field, size: f32, color: Color) -> impl Bundle {
    (field, Text::new(""), TextFont { font_size: FontSize::Px(size), ..default() }, TextColor(color), Node { margin: UiRect::bottom(px(6)), ..default() })
}

/// Spawns the panel's nodes. Runs at start-up.
fn spawn_panel(mut commands: Commands) {
    let inner = PANEL_WIDTH_PX - 2.0 * PADDING_PX;
    let bar_w = inner / CHART_STEPS as f32;
    commands
        .spawn((
            Node {
                position_type: PositionType::Absolute,
                right: px(0),
                top: px(0),
                width: px(PANEL_WIDTH_PX),
                height: percent(100),
                flex_direction: FlexDirection::Column,
                padding: UiRect::all(px(PADDING_PX)),
                // A long house record must not push the panel over the map.
                overflow: Overflow::clip(),
                ..default()
            },
            BackgroundColor(PANEL_BACKGROUND),
        ))
        .with_children(|p| {
            p.spawn(text(Field::Title, TITLE_FONT_PX, TEXT_COLOR));
            p.spawn(text(Field::Clock, FONT_PX, TEXT_COLOR));
            p.spawn((Node { width: px(inner), height: px(SUN_BAR_HEIGHT_PX), flex_shrink: 0.0, margin: UiRect::bottom(px(8)), ..default() }, BackgroundColor(Color::srgb(0.08, 0.10, 0.18))))
                .with_children(|s| {
                    s.spawn((SunDot, Node { position_type: PositionType::Absolute, width: px(SUN_DOT_PX), height: px(SUN_DOT_PX), ..default() }, BackgroundColor(SUN_COLOR)));
                });
            p.spawn(text(Field::Kpis, FONT_PX, TEXT_COLOR));
            p.spawn((Text::new("PV (orange) and load (blue), last 24 h"), TextFont { font_size: FontSize::Px(FONT_PX - 1.0), ..default() }, TextColor(DIM_TEXT)));
            p.spawn((Node { width: px(inner), height: px(CHART_HEIGHT_PX), flex_shrink: 0.0, margin: UiRect::bottom(px(8)), ..default() }, BackgroundColor(Color::srgb(0.06, 0.06, 0.09))))
                .with_children(|c| {
                    for step in 0..CHART_STEPS {
                        for pv in [true, false] {
                            // Load is a thinner bar in front of PV, so both read where they overlap.
                            let (w, color) = if pv { (bar_w, PV_BAR) } else { ((bar_w * 0.4).max(1.0), LOAD_BAR) };
                            let left = step as f32 * bar_w + if pv { 0.0 } else { (bar_w - w) * 0.5 };
                            c.spawn((ChartBar { step, pv }, Node { position_type: PositionType::Absolute, left: px(left), bottom: px(0), width: px(w), height: px(0), ..default() }, BackgroundColor(color)));
                        }
                    }
                });
            p.spawn(text(Field::Communities, FONT_PX - 1.0, TEXT_COLOR));
            p.spawn(text(Field::Blocks, FONT_PX - 1.0, TEXT_COLOR));
            p.spawn(text(Field::House, FONT_PX - 1.0, TEXT_COLOR));
            p.spawn(text(Field::Status, FONT_PX - 1.0, DIM_TEXT));
        });
}

fn count_frames(time: Res<Time>, mut rate: ResMut<FrameRate>) {
    rate.frames += 1;
    rate.seconds += time.delta_secs_f64();
    if rate.seconds >= 1.0 {
        rate.fps = rate.frames as f64 / rate.seconds;
        rate.frames = 0;
        rate.seconds = 0.0;
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{:.1}%", v * 100.0))
}

fn kpis(view: &View) -> String {
    let s = &view.run.sum;
    let ratio = |num: f64, den: f64| (den > 0.0).then(|| num / den);
    let currency = view.currency.as_deref();
    let money = |v: f64| crate::output::format::money(v, currency);
    let price = view.step_totals.clearing_price().map_or("-".into(), |p| crate::output::format::price(p, currency));
    // Savings in currency, and as a share of what the baseline paid for imports (the baseline's
    // net bill can be near zero, and a share of it explodes).
    let savings = view.baseline_bill - view.community_bill;
    let saving = ratio(savings, view.baseline_import_cost).map_or("-".into(), |r| format!("{} ({:.1}%)", money(savings), r * 100.0));
    format!(
        "Self-sufficiency   {:>8}\nSelf-consumption   {:>8}\nP2P so far  {:>11.1} kWh\nP2P this step {:>9.2} kWh\n  at {:>18}\nUnserved    {:>11.1} kWh\nCurtailed   {:>11.1} kWh\nCommunity bill {:>12}\n  grid-only    {:>12}\n  saves {:>19}\nNetwork fees   {:>12}\nLine losses {:>11.1} kWh",
        pct(ratio(s.load_kwh - s.grid_import_kwh - s.unserved_kwh, s.load_kwh)),
        pct(ratio(s.pv_kwh - s.grid_export_kwh - s.curtailed_kwh, s.pv_kwh)),
        s.p2p_kwh,
        view.step_totals.p2p_kwh,
        price,
        s.unserved_kwh,
        s.curtailed_kwh,
        money(view.community_bill),
        money(view.baseline_bill),
        saving,
        money(view.network_fees),
        s.network_losses_kwh,
    )
}

/// The colour key of the houses and the latest moves between communities (empty without
/// communities).
fn communities(view: &View) -> String {
    if view.communities.is_empty() {
        return String::new();
    }
    let mut out = if view.by_community {
        let key: Vec<String> = view.communities.iter().enumerate().take(super::map::COMMUNITY_COLORS.len()).map(|(i, id)| format!("{id} {}", super::map::COMMUNITY_COLORS[i].3)).collect();
        format!("Houses by community: {}, free grey", key.join(", "))
    } else {
        "Houses by state: surplus sky blue, own use yellow,\n  buying orange, unserved pink".to_string()
    };
    if view.recent_moves.is_empty() {
        out.push_str("\nNo moves yet (a white ring marks one)");
    }
    for m in &view.recent_moves {
        out.push('\n');
        out.push_str(m);
    }
    out
}

fn blocks(view: &View) -> String {
    if view.blocks.is_empty() {
        return "Ledger: no block sealed yet".into();
    }
    let mut out = String::from("Latest blocks: height hash producer tx");
    for (b, producer) in view.blocks.iter().rev().take(BLOCKS_SHOWN) {
        let hash: String = b.hash[..4].iter().map(|x| format!("{x:02x}")).collect();
        out.push_str(&format!("\n#{:<6} {hash} {producer:<10} {:>5}", b.height, b.transactions));
    }
    out
}

fn house(view: &View, sim: &DemoSim) -> String {
    let Some(i) = view.selected else { return "Click a house to see it here.".into() };
    let (Some(h), Some(v)) = (sim.scenario.households.get(i as usize), view.houses.get(i as usize)) else { return String::new() };
    let pv = h.pv.map_or("no PV".into(), |p| format!("{:.1} kWp PV", p.kwp));
    let battery = match (&h.battery, v.soc) {
        (Some(b), Some(soc)) => format!("{:.1} kWh battery {:.0}%", b.capacity_kwh, soc * 100.0),
        _ => "no battery".into(),
    };
    let car = match v.car {
        Some((state, soc)) => {
            let what = match state {
                crate::viz::sim_view::CarState::Away => "away",
                crate::viz::sim_view::CarState::Plugged => "plugged in",
                crate::viz::sim_view::CarState::Charging => "charging",
                crate::viz::sim_view::CarState::Supplying => "supplying the house",
            };
            format!("\n  car {what}, {:.0}%", soc * 100.0)
        }
        None => String::new(),
    };
    let heat = match v.heat {
        Some((state, indoor_c)) => {
            let what = match state {
                crate::viz::sim_view::HeatState::Idle => "idle",
                crate::viz::sim_view::HeatState::Heating => "heating",
                crate::viz::sim_view::HeatState::Cooling => "cooling",
            };
            format!("\n  heat pump {what}, indoor {indoor_c:.1} °C")
        }
        None => String::new(),
    };
    let t = &v.today;
    let mut out = format!(
        "House {}\n  {pv}, {battery}{car}{heat}\nToday PV {:.1}, load {:.1} kWh\n  bought {:.1} peers, {:.1} grid\n  sold {:.1} peers, {:.1} grid\nBill so far {:.2} (grid-only {:.2})",
        h.id,
        t.pv_kwh,
        t.load_kwh,
        t.p2p_bought_kwh,
        t.grid_import_kwh,
        t.p2p_sold_kwh,
        t.grid_export_kwh,
        v.bill,
        v.baseline_bill,
    );
    for line in view.selected_trades.iter().rev() {
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// Writes the panel's texts. Reads `View`, `Playback`, `FrameRate` and the scenario; writes
/// `Text`. Runs in `DemoSystems::Draw`.
fn update_texts(view: Res<View>, playback: Res<Playback>, rate: Res<FrameRate>, sim: NonSend<DemoSim>, mut texts: Query<(&Field, &mut Text)>) {
    for (field, mut t) in &mut texts {
        let s = match field {
            Field::Status => {
                let state = if playback.paused { "paused" } else { "playing" };
                let notice = if playback.notice.is_empty() { String::new() } else { format!("{}\n", playback.notice) };
                format!("{state} at {}, {:.0} fps, step {}/{}\n{notice}{LEGEND}\n{HELP}", playback.label(), rate.fps, view.run.steps, view.total_steps)
            }
            _ if !view.is_changed() => continue,
            Field::Title => {
                let rule = if view.communities.is_empty() { format!("rule {}", sim.rule.name) } else { format!("{} communities, each its rule", view.communities.len()) };
                format!("{} ({} households)\n{rule}, seed {}", sim.scenario.name, sim.scenario.households.len(), sim.scenario.seed)
            }
            Field::Clock => match view.sun_elevation_deg > 0.0 {
                true => format!("{}\nsun {:.0} deg up, {:.0} W/m2", view.time_label, view.sun_elevation_deg, view.ghi_w_m2),
                false => format!("{}\nsun below the horizon", view.time_label),
            },
            // The panel's font has no true minus sign.
            Field::Kpis => kpis(&view).replace('\u{2212}', "-"),
            Field::Communities => communities(&view),
            Field::Blocks => blocks(&view),
            Field::House => house(&view, &sim),
        };
        if t.0 != s {
            t.0 = s;
        }
    }
}

/// The sun's place over the day: left to right with the local time, up with its elevation
/// (below the bar's middle at night). Reads `View`; writes the dot's node.
fn update_sun(view: Res<View>, mut dot: Query<&mut Node, With<SunDot>>) {
    if !view.is_changed() {
        return;
    }
    let inner = PANEL_WIDTH_PX - 2.0 * PADDING_PX - SUN_DOT_PX;
    for mut n in &mut dot {
        n.left = px((view.local_hour / 24.0) as f32 * inner);
        let up = (view.sun_elevation_deg / 90.0).clamp(-1.0, 1.0) as f32;
        n.top = px((SUN_BAR_HEIGHT_PX - SUN_DOT_PX) * (0.5 - 0.5 * up));
    }
}

/// Chart bars from the last steps' PV and load, scaled to the largest value shown. Reads
/// `View`; writes the bars' nodes.
fn update_chart(view: Res<View>, mut bars: Query<(&ChartBar, &mut Node)>) {
    if !view.is_changed() {
        return;
    }
    let peak = view.history.iter().map(|(pv, load)| pv.max(*load)).fold(1e-9, f64::max);
    let offset = CHART_STEPS - view.history.len();
    for (bar, mut n) in &mut bars {
        let value = bar.step.checked_sub(offset).and_then(|k| view.history.get(k)).map_or(0.0, |(pv, load)| if bar.pv { *pv } else { *load });
        n.height = px((value / peak) as f32 * CHART_HEIGHT_PX);
    }
}
