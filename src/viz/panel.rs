//! The side panel, calm enough to read from the back of a room: the scenario, a large clock and
//! the sun's arc, six headline figures, the last day's chart, the ledger's latest blocks, the
//! selected house, a legend with the map's colours, and the playback line (H shows the keys).

use super::controls::Playback;
use super::map;
use super::sim_view::{CarState, DemoSim, HeatState, HouseState, View, CHART_STEPS};
use super::window::UiFonts;
use super::{DemoSystems, PANEL_WIDTH_PX};
use bevy::prelude::*;

const PADDING_PX: f32 = 12.0;
const GAP_PX: f32 = 6.0;
const FONT_PX: f32 = 13.0;
const SMALL_FONT_PX: f32 = 11.5;
const TITLE_FONT_PX: f32 = 17.0;
const CLOCK_FONT_PX: f32 = 34.0;
const FIGURE_FONT_PX: f32 = 21.0;
const CARD_HEIGHT_PX: f32 = 46.0;
const SUN_BAR_HEIGHT_PX: f32 = 26.0;
const SUN_DOT_PX: f32 = 10.0;
const CHART_HEIGHT_PX: f32 = 62.0;
/// The chart's caption sits in its top strip, above the highest bar.
const CHART_CAPTION_PX: f32 = 14.0;
const SWATCH_PX: f32 = 10.0;
const SWATCH_BACKING: Color = Color::srgb(0.45, 0.47, 0.52);
const PANEL_BACKGROUND: Color = Color::srgba(0.02, 0.02, 0.04, 0.86);
const CARD_BACKGROUND: Color = Color::srgb(0.08, 0.09, 0.13);
const TEXT_COLOR: Color = Color::srgb(0.92, 0.92, 0.95);
const DIM_TEXT: Color = Color::srgb(0.62, 0.64, 0.70);
const WARN_TEXT: Color = Color::srgb(0.80, 0.47, 0.65);
// Okabe–Ito: PV orange, load sky blue (not red against green).
const PV_BAR: Color = Color::srgb(0.90, 0.62, 0.0);
const LOAD_BAR: Color = Color::srgb(0.34, 0.71, 0.91);
const SUN_COLOR: Color = Color::srgb(1.0, 0.85, 0.25);
const BLOCKS_SHOWN: usize = 2;
/// Headline figures, two to a row.
const CARDS: usize = 6;
const ICON_PX: f32 = 14.0;
/// The cards' icons (`assets/icons/`, white, tinted like the labels), in card order: PV, peers,
/// from and to the grid, the price, self-sufficiency.
const CARD_ICONS: [&[u8]; CARDS] = [
    include_bytes!("../../assets/icons/sun.png"),
    include_bytes!("../../assets/icons/peers.png"),
    include_bytes!("../../assets/icons/grid.png"),
    include_bytes!("../../assets/icons/grid.png"),
    include_bytes!("../../assets/icons/price.png"),
    include_bytes!("../../assets/icons/home.png"),
];

pub const HELP: &str = "Space pause   1-4 speed 1x 10x 100x max\n\
Enter/. one step   R/Shift+R rule\n\
N new seed   F fit map   click a house\n\
C houses by community / by state   H keys\n\
drag/WASD/arrows pan   wheel/+/- zoom";

#[derive(Component, Clone, Copy, PartialEq, Eq)]
enum Field {
    Title,
    Subtitle,
    Clock,
    Date,
    Sun,
    /// What the run has saved so far, and what went unserved or curtailed when anything did.
    Outcome,
    Communities,
    Blocks,
    House,
    Status,
}

/// A headline card's label (`value: false`) or figure.
#[derive(Component, Clone, Copy, PartialEq, Eq)]
struct Card {
    index: usize,
    value: bool,
}

/// A row of the legend (hidden while the keys are listed in its place, H).
#[derive(Component)]
struct Legend;
/// The legend's row of house states (hidden while houses show their community instead).
#[derive(Component)]
struct StateLegend;

/// The house card's frame (hidden while no house is selected).
#[derive(Component)]
struct HouseBox;
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
        app.init_resource::<FrameRate>().init_resource::<UiFonts>().add_systems(Startup, spawn_panel).add_systems(Update, (count_frames, update_texts, update_cards, update_sun, update_chart).in_set(DemoSystems::Draw));
    }
}

fn font(source: &Handle<Font>, size: f32) -> TextFont {
    TextFont { font: source.clone().into(), font_size: FontSize::Px(size), ..default() }
}

fn text(field: Field, font: TextFont, color: Color, bottom_px: f32) -> impl Bundle {
    (field, Text::new(""), font, TextColor(color), Node { margin: UiRect::bottom(px(bottom_px)), ..default() })
}

/// A small coloured square and its meaning, for the legend.
fn swatch(p: &mut ChildSpawnerCommands, colors: &[Color], label: &str, fonts: &UiFonts, marker: impl Bundle) {
    p.spawn((Legend, marker, Node { flex_direction: FlexDirection::Row, align_items: AlignItems::Center, margin: UiRect::bottom(px(2)), ..default() })).with_children(|row| {
        // On a light backing, so that dark colours (a car away) show against the panel.
        row.spawn((Node { flex_direction: FlexDirection::Row, padding: UiRect::all(px(1)), column_gap: px(1), ..default() }, BackgroundColor(SWATCH_BACKING))).with_children(|b| {
            for c in colors {
                b.spawn((Node { width: px(SWATCH_PX), height: px(SWATCH_PX), ..default() }, BackgroundColor(*c)));
            }
        });
        row.spawn((Text::new(label), font(&fonts.regular, SMALL_FONT_PX), TextColor(DIM_TEXT), Node { margin: UiRect::left(px(4)), ..default() }));
    });
}

/// Spawns the panel's nodes. Runs at start-up.
fn spawn_panel(mut commands: Commands, fonts: Res<UiFonts>, sim: NonSend<DemoSim>, mut images: ResMut<Assets<Image>>) {
    let mut icons = CARD_ICONS.map(|png| map::embedded_image(&mut images, png));
    if !sim.scenario.grid.is_connected() {
        // An island's third and fourth cards are its unserved energy and its load.
        icons[2] = icons[5].clone();
        icons[3] = icons[5].clone();
    }
    let inner = PANEL_WIDTH_PX - 2.0 * PADDING_PX;
    let bar_w = inner / CHART_STEPS as f32;
    let card_w = (inner - GAP_PX) / 2.0;
    let fonts = &*fonts;
    let s = &sim.scenario;
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
            p.spawn(text(Field::Title, font(&fonts.bold, TITLE_FONT_PX), TEXT_COLOR, 1.0));
            p.spawn(text(Field::Subtitle, font(&fonts.regular, SMALL_FONT_PX), DIM_TEXT, 6.0));
            p.spawn(Node { flex_direction: FlexDirection::Row, align_items: AlignItems::Center, ..default() }).with_children(|row| {
                row.spawn((Field::Clock, Text::new(""), font(&fonts.bold, CLOCK_FONT_PX), TextColor(TEXT_COLOR), Node { margin: UiRect::right(px(10)), ..default() }));
                row.spawn(Node { flex_direction: FlexDirection::Column, ..default() }).with_children(|col| {
                    col.spawn(text(Field::Date, font(&fonts.regular, FONT_PX), TEXT_COLOR, 1.0));
                    col.spawn(text(Field::Sun, font(&fonts.regular, SMALL_FONT_PX), DIM_TEXT, 0.0));
                });
            });
            p.spawn((Node { width: px(inner), height: px(SUN_BAR_HEIGHT_PX), flex_shrink: 0.0, margin: UiRect::vertical(px(4)), ..default() }, BackgroundColor(Color::srgb(0.08, 0.10, 0.18))))
                .with_children(|s| {
                    // The horizon: the sun is above it by day.
                    s.spawn((Node { position_type: PositionType::Absolute, top: px(SUN_BAR_HEIGHT_PX * 0.5), width: px(inner), height: px(1), ..default() }, BackgroundColor(Color::srgb(0.25, 0.27, 0.35))));
                    s.spawn((SunDot, Node { position_type: PositionType::Absolute, width: px(SUN_DOT_PX), height: px(SUN_DOT_PX), ..default() }, BackgroundColor(SUN_COLOR)));
                });
            p.spawn(Node { flex_direction: FlexDirection::Row, flex_wrap: FlexWrap::Wrap, column_gap: px(GAP_PX), row_gap: px(GAP_PX), margin: UiRect::vertical(px(4)), flex_shrink: 0.0, ..default() }).with_children(|grid| {
                for index in 0..CARDS {
                    grid.spawn((Node { width: px(card_w), height: px(CARD_HEIGHT_PX), flex_direction: FlexDirection::Column, padding: UiRect::axes(px(8), px(4)), ..default() }, BackgroundColor(CARD_BACKGROUND))).with_children(|card| {
                        card.spawn(Node { flex_direction: FlexDirection::Row, align_items: AlignItems::Center, ..default() }).with_children(|row| {
                            row.spawn((ImageNode::new(icons[index].clone()).with_color(DIM_TEXT), Node { width: px(ICON_PX), height: px(ICON_PX), margin: UiRect::right(px(5)), ..default() }));
                            row.spawn((Card { index, value: false }, Text::new(""), font(&fonts.regular, SMALL_FONT_PX), TextColor(DIM_TEXT)));
                        });
                        card.spawn((Card { index, value: true }, Text::new(""), font(&fonts.bold, FIGURE_FONT_PX), TextColor(TEXT_COLOR)));
                    });
                }
            });
            p.spawn(text(Field::Outcome, font(&fonts.regular, FONT_PX), TEXT_COLOR, 6.0));
            p.spawn((Node { width: px(inner), height: px(CHART_HEIGHT_PX), flex_shrink: 0.0, margin: UiRect::bottom(px(6)), ..default() }, BackgroundColor(Color::srgb(0.06, 0.06, 0.09))))
                .with_children(|c| {
                    c.spawn((Text::new("PV (orange) and load (blue), the last 24 h"), font(&fonts.regular, SMALL_FONT_PX - 1.0), TextColor(DIM_TEXT), Node { position_type: PositionType::Absolute, left: px(4), top: px(1), ..default() }));
                    for step in 0..CHART_STEPS {
                        for pv in [true, false] {
                            // Load is a thinner bar in front of PV, so both read where they overlap.
                            let (w, color) = if pv { (bar_w, PV_BAR) } else { ((bar_w * 0.4).max(1.0), LOAD_BAR) };
                            let left = step as f32 * bar_w + if pv { 0.0 } else { (bar_w - w) * 0.5 };
                            c.spawn((ChartBar { step, pv }, Node { position_type: PositionType::Absolute, left: px(left), bottom: px(0), width: px(w), height: px(0), ..default() }, BackgroundColor(color)));
                        }
                    }
                });
            p.spawn(text(Field::Communities, font(&fonts.regular, SMALL_FONT_PX), TEXT_COLOR, 4.0));
            p.spawn(text(Field::Blocks, font(&fonts.regular, SMALL_FONT_PX), TEXT_COLOR, 6.0));
            p.spawn((HouseBox, Node { display: Display::None, padding: UiRect::all(px(6)), margin: UiRect::bottom(px(6)), flex_shrink: 0.0, ..default() }, BackgroundColor(CARD_BACKGROUND))).with_children(|b| {
                b.spawn(text(Field::House, font(&fonts.regular, SMALL_FONT_PX + 0.5), TEXT_COLOR, 0.0));
            });
            // The legend and the playback line sit at the bottom; the space above them gives.
            p.spawn(Node { flex_grow: 1.0, ..default() });
            let loading: Vec<Color> = (0..=map::LOADING_BUCKET_COUNT).map(map::line_color).collect();
            swatch(p, &[map::PEER_PARTICLE], "power between neighbours", fonts, ());
            if s.grid.is_connected() {
                swatch(p, &[map::GRID_PARTICLE], "power from or to the grid", fonts, ());
            }
            swatch(p, &loading, "line loading, red at its limit", fonts, ());
            let houses: Vec<Color> = HouseState::ALL.iter().map(|h| map::house_color(*h)).collect();
            swatch(p, &houses, "houses: surplus, own use, buying, unserved", fonts, StateLegend);
            if s.households.iter().any(|h| h.pv.is_some()) {
                swatch(p, &map::PANEL_COLORS, "roof panel, brighter as it produces", fonts, ());
            }
            if s.households.iter().any(|h| h.ev.is_some()) {
                swatch(p, &CarState::ALL.map(map::car_color), "car: away, plugged in, charging, supplying", fonts, ());
            }
            if s.households.iter().any(|h| h.heat_pump.is_some()) {
                swatch(p, &HeatState::ALL.map(map::heat_color), "heat pump: idle, heating, cooling", fonts, ());
            }
            p.spawn(text(Field::Status, font(&fonts.regular, SMALL_FONT_PX), DIM_TEXT, 0.0));
        });
}

/// Frames per second in wall-clock time (`Time<Real>`: while `--record` steps the app's `Time`
/// by one video frame per frame, the rate is still the renderer's). Writes `FrameRate`.
fn count_frames(time: Res<Time<Real>>, mut rate: ResMut<FrameRate>) {
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

/// kW with one decimal under 100 kW, whole kW above (the figure stays short on a card).
fn kw(v: f64) -> String {
    if v.abs() < 100.0 { format!("{v:.1} kW") } else { format!("{} kW", crate::output::format::number(v, 0)) }
}

/// The six headline figures: (label, figure, the figure's colour). What moves this step in kW,
/// the peer price, and self-sufficiency over the run so far.
fn cards(view: &View, sim: &DemoSim) -> [(String, String, Color); CARDS] {
    let t = &view.step_totals;
    let hours = f64::from(sim.scenario.frame.step_minutes) / 60.0;
    let per_hour = |kwh: f64| kw(kwh / hours);
    let s = &view.run.sum;
    let self_sufficiency = (s.load_kwh > 0.0).then(|| (s.load_kwh - s.grid_import_kwh - s.unserved_kwh) / s.load_kwh);
    let price = match t.clearing_price() {
        // The number without the unit: the label says it.
        Some(p) => crate::output::format::number(p, view.currency.as_deref().map_or(2, crate::output::format::minor_unit_digits) + 2),
        None => "no trades".into(),
    };
    let unit = view.currency.as_deref().map_or("per kWh".to_string(), |c| format!("{c}/kWh"));
    let grid = if sim.scenario.grid.is_connected() {
        [("from the grid".to_string(), per_hour(t.grid_import_kwh), TEXT_COLOR), ("to the grid".to_string(), per_hour(t.grid_export_kwh), TEXT_COLOR)]
    } else {
        [("unserved".to_string(), per_hour(t.unserved_kwh), if t.unserved_kwh > 0.0 { WARN_TEXT } else { TEXT_COLOR }), ("load".to_string(), per_hour(t.load_kwh), LOAD_BAR)]
    };
    let [from, to] = grid;
    [
        ("PV now".into(), per_hour(t.pv_kwh), PV_BAR),
        ("between neighbours".into(), per_hour(t.p2p_kwh), map::PEER_PARTICLE),
        from,
        to,
        (format!("price, {unit}"), price, TEXT_COLOR),
        ("self-sufficiency".into(), pct(self_sufficiency), TEXT_COLOR),
    ]
}

/// What the run has saved against the grid alone (on an island: without trading), in money; unserved and curtailed energy only
/// when there is some.
fn outcome(view: &View, grid_connected: bool) -> String {
    let money = |v: f64| crate::output::format::money(v, view.currency.as_deref());
    let savings = view.baseline_bill - view.community_bill;
    // The baseline: the grid alone, or on an island the same houses without trading.
    let against = if grid_connected { "the grid alone" } else { "no trading" };
    // Less than half the currency's smallest unit is no difference (rounding of the sums).
    let unit = 0.5 * 10f64.powi(-(view.currency.as_deref().map_or(2, crate::output::format::minor_unit_digits) as i32));
    let mut out = if savings.abs() < unit {
        format!("The same bills as with {against}")
    } else if savings > 0.0 {
        format!("Saved {} against {against}", money(savings))
    } else {
        format!("Cost {} more than {against}", money(-savings))
    };
    let s = &view.run.sum;
    if s.unserved_kwh > 0.0 {
        out.push_str(&format!("\n{:.1} kWh unserved so far", s.unserved_kwh));
    }
    if s.curtailed_kwh > 0.0 {
        out.push_str(&format!("\n{:.1} kWh of PV curtailed so far", s.curtailed_kwh));
    }
    out
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
        format!("{} communities: C colours the houses by community", view.communities.len())
    };
    if !view.recent_moves.is_empty() {
        out.push_str("\nLatest moves (a white ring on the map):");
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
    let mut out = String::from("Ledger, latest blocks");
    for (b, producer) in view.blocks.iter().rev().take(BLOCKS_SHOWN) {
        let hash: String = b.hash[..4].iter().map(|x| format!("{x:02x}")).collect();
        out.push_str(&format!("\n#{}  by {producer}: {} transactions, {hash}", b.height, crate::output::format::number(b.transactions as f64, 0)));
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
                CarState::Away => "away",
                CarState::Plugged => "plugged in",
                CarState::Charging => "charging",
                CarState::Supplying => "supplying the house",
            };
            format!("\ncar {what}, {:.0}%", soc * 100.0)
        }
        None => String::new(),
    };
    let heat = match v.heat {
        Some((state, indoor_c)) => {
            let what = match state {
                HeatState::Idle => "idle",
                HeatState::Heating => "heating",
                HeatState::Cooling => "cooling",
            };
            format!("\nheat pump {what}, indoor {indoor_c:.1} °C")
        }
        None => String::new(),
    };
    let t = &v.today;
    let money = |x: f64| crate::output::format::money(x, view.currency.as_deref());
    let mut out = format!(
        "House {}\n{pv}, {battery}{car}{heat}\nToday: PV {:.1} kWh, load {:.1} kWh\nbought {:.1} from neighbours, {:.1} from the grid\nsold {:.1} to neighbours, {:.1} to the grid\nbill so far {} ({} {})",
        h.id,
        t.pv_kwh,
        t.load_kwh,
        t.p2p_bought_kwh,
        t.grid_import_kwh,
        t.p2p_sold_kwh,
        t.grid_export_kwh,
        money(v.bill),
        if sim.scenario.grid.is_connected() { "grid alone" } else { "without trading" },
        money(v.baseline_bill),
    );
    for line in view.selected_trades.iter().rev() {
        out.push('\n');
        out.push_str(line);
    }
    out
}

/// Writes the panel's texts and shows the house card while a house is selected. Reads `View`,
/// `Playback`, `FrameRate` and the scenario; writes `Text` and the card's and legend's `Node`. Runs in
/// `DemoSystems::Draw`.
fn update_texts(view: Res<View>, playback: Res<Playback>, rate: Res<FrameRate>, sim: NonSend<DemoSim>, mut texts: Query<(&Field, &mut Text)>, mut house_box: Query<&mut Node, (With<HouseBox>, Without<Legend>)>, mut legend: Query<(&mut Node, Has<StateLegend>), With<Legend>>) {
    for (field, mut t) in &mut texts {
        let s = match field {
            Field::Status => {
                let state = if playback.paused { "paused" } else { "playing" };
                let notice = if playback.notice.is_empty() { String::new() } else { format!("\n{}", playback.notice) };
                let keys = if playback.show_keys { format!("\n{HELP}") } else { "\nH shows the keys; click a house for its story".to_string() };
                format!("{state} at {}, step {}/{}, {:.0} fps{keys}{notice}", playback.label(), view.run.steps, view.total_steps, rate.fps)
            }
            _ if !view.is_changed() => continue,
            Field::Title => sim.scenario.name.clone(),
            Field::Subtitle => {
                let rule = if view.communities.is_empty() { format!("rule {}", sim.rule.name) } else { format!("{} communities", view.communities.len()) };
                format!("{} households, {rule}, seed {}", sim.scenario.households.len(), sim.scenario.seed)
            }
            Field::Clock => view.local_time.clone(),
            Field::Date => view.date_label.clone(),
            Field::Sun => match view.sun_elevation_deg > 0.0 {
                true => format!("sun {:.0}° up, {:.0} W/m²", view.sun_elevation_deg, view.ghi_w_m2),
                false => "sun below the horizon".to_string(),
            },
            Field::Outcome => outcome(&view, sim.scenario.grid.is_connected()),
            Field::Communities => communities(&view),
            // The house card takes the blocks' room (the banner still announces each block).
            Field::Blocks if view.selected.is_some() => String::new(),
            Field::Blocks => blocks(&view),
            Field::House => house(&view, &sim),
        };
        if t.0 != s {
            t.0 = s;
        }
    }
    // Display, not visibility: a row that is not shown takes no room either.
    let shown = |yes: bool| if yes { Display::Flex } else { Display::None };
    for mut n in &mut house_box {
        let want = shown(view.selected.is_some());
        if n.display != want {
            n.display = want;
        }
    }
    for (mut n, states) in &mut legend {
        let want = shown(!playback.show_keys && !(states && view.by_community));
        if n.display != want {
            n.display = want;
        }
    }
}

/// The headline cards' labels and figures. Reads `View` and the scenario; writes the cards'
/// `Text` and the figures' `TextColor`. Runs in `DemoSystems::Draw`.
fn update_cards(view: Res<View>, sim: NonSend<DemoSim>, mut cards_q: Query<(&Card, &mut Text, &mut TextColor)>) {
    if !view.is_changed() {
        return;
    }
    let figures = cards(&view, &sim);
    for (card, mut t, mut color) in &mut cards_q {
        let (label, value, c) = &figures[card.index];
        let want = if card.value { value } else { label };
        if &t.0 != want {
            t.0.clone_from(want);
        }
        if card.value && color.0 != *c {
            color.0 = *c;
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
        n.height = px((value / peak) as f32 * (CHART_HEIGHT_PX - CHART_CAPTION_PX));
    }
}
