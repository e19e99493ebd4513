//! The map: houses, lines and the grid connection point at the topology's coordinates (metres),
//! coloured by what they do this step, with power flow animated along the lines.

use super::sim_view::{CarState, DemoSim, HeatState, HouseState, View};
use super::{DemoSystems, PANEL_WIDTH_PX};
use crate::grid::topology::NodeKind;
use bevy::color::Mix;
use bevy::core_pipeline::tonemapping::DebandDither;
use bevy::input::mouse::AccumulatedMouseScroll;
use bevy::prelude::*;

/// A house's side on the map, m. On an overview where that is small the houses grow towards
/// [`READABLE_HOUSE_PX`] on the first view, as far as [`HOUSE_SPACING_SHARE`] of the distance
/// between the two closest houses allows (so they do not run into each other), and are never
/// under [`MIN_HOUSE_PX`].
const HOUSE_SIZE_M: f32 = 10.0;
const READABLE_HOUSE_PX: f32 = 10.0;
const HOUSE_SPACING_SHARE: f32 = 0.5;
const MIN_HOUSE_PX: f32 = 5.0;
/// A line's width at no load, px on the first view; it grows to 3× at full load.
const LINE_WIDTH_PX: f32 = 1.5;
/// Share of the map's extent left as margin around it.
const MAP_MARGIN: f32 = 0.06;
/// Line loading from which a line shows as congested (red).
pub const CONGESTED_LOADING: f64 = 0.99;
/// Upper bounds of the line colour buckets, by loading.
const LOADING_BUCKETS: [f64; 5] = [0.2, 0.4, 0.6, 0.8, CONGESTED_LOADING];
/// Flow particles: at most this many on screen, at least this many kW each, moving this fast.
const MAX_PARTICLES: usize = 3000;
const KW_PER_PARTICLE: f64 = 1.0;
const MAX_PARTICLES_PER_LINE: usize = 8;
const PARTICLE_SPEED_PX_S: f32 = 40.0;
const PARTICLE_LENGTH_PX: f32 = 6.0;
/// Lines carrying less than this show no particles, kW.
const MIN_FLOW_KW: f64 = 0.02;
/// Camera: pan speed with keys, px/s; zoom per wheel notch and per second with keys.
const PAN_PX_S: f32 = 600.0;
const ZOOM_PER_NOTCH: f32 = 1.15;
const ZOOM_PER_S: f32 = 3.0;
/// Mouse travel below which a press and release is a click, not a drag, px.
const CLICK_SLOP_PX: f32 = 4.0;

/// House colours by state (also checked by the screenshot test through `capture`): Okabe and
/// Ito's colour-blind-safe palette, so no state is told from another by red against green.
pub fn house_color(state: HouseState) -> Color {
    match state {
        HouseState::Surplus => Color::srgb(0.34, 0.71, 0.91),
        HouseState::SelfSufficient => Color::srgb(0.94, 0.89, 0.26),
        HouseState::Buying => Color::srgb(0.90, 0.62, 0.0),
        HouseState::Unserved => Color::srgb(0.80, 0.47, 0.65),
    }
}

/// Community colours on the map (Okabe and Ito, with yellow in place of black on the dark sky),
/// in community order, repeating past the seventh; free households are grey.
pub const COMMUNITY_COLORS: [(f32, f32, f32, &str); 7] = [
    (0.0, 0.45, 0.70, "blue"),
    (0.84, 0.37, 0.0, "vermillion"),
    (0.0, 0.62, 0.45, "green"),
    (0.80, 0.47, 0.65, "pink"),
    (0.90, 0.62, 0.0, "orange"),
    (0.34, 0.71, 0.91, "sky blue"),
    (0.94, 0.89, 0.26, "yellow"),
];
const FREE_COLOR: Color = Color::srgb(0.55, 0.55, 0.58);
const MOVE_MARK_COLOR: Color = Color::WHITE;

/// A house's colour by its community (`None`: free, grey).
pub fn community_color(c: Option<u16>) -> Color {
    match c {
        Some(c) => {
            let (r, g, b, _) = COMMUNITY_COLORS[c as usize % COMMUNITY_COLORS.len()];
            Color::srgb(r, g, b)
        }
        None => FREE_COLOR,
    }
}

/// The colour a house is drawn in under the view's colouring.
pub fn drawn_color(view: &View, v: &crate::viz::sim_view::HouseView) -> Color {
    if view.by_community { community_color(v.community) } else { house_color(v.state) }
}

const NIGHT_SKY: Color = Color::srgb(0.03, 0.04, 0.10);
const DAY_SKY: Color = Color::srgb(0.16, 0.24, 0.36);
/// Irradiance at which the sky is fully "day", W/m².
const FULL_DAY_GHI_W_M2: f64 = 600.0;
/// A house's roof, and the PV panel on it: dark, then brighter as it produces (by output per kWp).
pub const ROOF_COLOR: Color = Color::srgb(0.55, 0.29, 0.21);
pub const PANEL_COLORS: [Color; 3] = [Color::srgb(0.10, 0.20, 0.55), Color::srgb(0.25, 0.45, 0.85), Color::srgb(0.55, 0.75, 1.0)];
/// Output per kWp above which the panel shows as producing, then as bright, kW/kWp.
const PANEL_LIT_KW_PER_KWP: [f64; 2] = [0.05, 0.45];
/// Roof and panel proportions, of the house's side: the roof's height and overhang; the panel's
/// size and place (centre, from the house's centre) on the roof's right slope.
const ROOF_HEIGHT: f32 = 0.55;
const ROOF_WIDTH: f32 = 1.2;
const PANEL_SIZE: Vec2 = Vec2::new(0.34, 0.16);
const PANEL_AT: Vec2 = Vec2::new(0.2, 0.66);
const GAUGE_BACK: Color = Color::srgb(0.15, 0.15, 0.18);
const GAUGE_FILL: Color = Color::srgb(0.0, 0.62, 0.45);
/// Particles of power between neighbours and to or from the grid (the share of each line's
/// flow by proportional sharing, `grid::trace`).
pub const PEER_PARTICLE: Color = Color::srgb(0.18, 0.90, 0.62);
pub const GRID_PARTICLE: Color = Color::srgb(0.96, 0.96, 1.0);
/// Particles' width, px: visible from the back of a room.
const PARTICLE_WIDTH_PX: f32 = 4.0;
/// Particles keep this far from a line's ends, of a house's side (off the houses and roofs).
const PARTICLE_END_GAP: f32 = 1.1;
const SELECTION_COLOR: Color = Color::WHITE;

/// A car's mark: dark while away, white when plugged in, cyan charging, magenta supplying its
/// house.
pub fn car_color(s: CarState) -> Color {
    match s {
        CarState::Away => Color::srgb(0.12, 0.12, 0.15),
        CarState::Plugged => Color::srgb(0.85, 0.85, 0.88),
        CarState::Charging => Color::srgb(0.30, 0.85, 0.95),
        CarState::Supplying => Color::srgb(0.85, 0.40, 0.70),
    }
}

/// A heat pump's mark: dim while idle, deep red heating, blue cooling.
pub fn heat_color(s: HeatState) -> Color {
    match s {
        HeatState::Idle => Color::srgb(0.25, 0.22, 0.22),
        HeatState::Heating => Color::srgb(0.78, 0.05, 0.12),
        HeatState::Cooling => Color::srgb(0.30, 0.55, 0.95),
    }
}

/// The colour of a house's door (`assets/map/house-front.svg`), and a point inside it, from the
/// house's centre, in house sides (the screenshot test samples it where the art is shown).
pub const DOOR_COLOR: Color = Color::srgb_u8(0x4a, 0x34, 0x26);
const DOOR_AT: Vec2 = Vec2::new(16.5 / 64.0 - 0.5, 0.5 - 49.0 / 64.0);

/// A point inside a house's door, world coordinates, when its art shows at `px_per_house`
/// pixels a house.
pub fn door_point(p: Vec2, size: f32, px_per_house: f32) -> Option<Vec2> {
    (px_per_house >= ORNAMENT_MIN_PX).then(|| p + DOOR_AT * size)
}

/// A point inside a house's roof (between its eaves and apex) and inside its PV panel, world
/// coordinates, for the house at `p` of side `size` (the screenshot test samples them).
pub fn roof_and_panel_points(p: Vec2, size: f32) -> (Vec2, Vec2) {
    (p + Vec2::new(-size * 0.2, size * (0.5 + ROOF_HEIGHT * 0.3)), p + PANEL_AT * size)
}

/// The map's art (`assets/map/`, drawn as SVG and rasterised to PNG: see `assets/README.md`),
/// in the binary so the demo runs from any folder.
const TRANSFORMER_PNG: &[u8] = include_bytes!("../../assets/map/transformer.png");
const CAR_PNG: &[u8] = include_bytes!("../../assets/map/car.png");
const HEAT_PUMP_PNG: &[u8] = include_bytes!("../../assets/map/heat-pump.png");
/// Drawn over a house's body, roof, panel and charge gauge (transparent where their colour shows).
const HOUSE_FRONT_PNG: &[u8] = include_bytes!("../../assets/map/house-front.png");
const ROOF_PNG: &[u8] = include_bytes!("../../assets/map/roof.png");
const PV_PANEL_PNG: &[u8] = include_bytes!("../../assets/map/pv-panel.png");
const BATTERY_PNG: &[u8] = include_bytes!("../../assets/map/battery.png");
/// The battery case around the gauge: its size and the gauge's centre within it, in the
/// drawing's units (`assets/map/battery.svg`: 72 × 16, the gauge 64 × 14 from (1, 1)).
const BATTERY_ART: Vec2 = Vec2::new(72.0, 16.0);
const BATTERY_GAUGE: Vec2 = Vec2::new(64.0, 14.0);
const BATTERY_GAUGE_CENTRE: Vec2 = Vec2::new(33.0, 8.0);

/// An embedded PNG as an image asset (a broken one, which the tests would catch, as a blank).
pub fn embedded_image(images: &mut Assets<Image>, png: &[u8]) -> Handle<Image> {
    use bevy::image::{CompressedImageFormats, ImageSampler, ImageType};
    let image = Image::from_buffer(png, ImageType::Extension("png"), CompressedImageFormats::NONE, true, ImageSampler::linear(), bevy::asset::RenderAssetUsages::RENDER_WORLD).unwrap_or_default();
    images.add(image)
}

/// Map geometry, fixed for the run.
#[derive(Resource, Debug, Default)]
pub struct MapLayout {
    pub house_pos: Vec<Vec2>,
    pub house_size: f32,
    line_ends: Vec<(Vec2, Vec2)>,
    /// Whether each end of a line is a house (particles stop short of it).
    line_house_ends: Vec<(bool, bool)>,
    capacity_kw: Vec<f64>,
    /// Centre and world units per pixel of the first view.
    fit_center: Vec2,
    fit_scale: f32,
    line_width: f32,
}

#[derive(Resource)]
struct Palette {
    house: [Handle<ColorMaterial>; 4],
    /// Free, then each of [`COMMUNITY_COLORS`].
    community: Vec<Handle<ColorMaterial>>,
    line: Vec<Handle<ColorMaterial>>,
    /// By [`PANEL_COLORS`].
    panel: [Handle<ColorMaterial>; 3],
}

#[derive(Component)]
pub struct MapCamera;
#[derive(Component)]
struct HouseMark(u32);
#[derive(Component)]
struct LineMark(u32);
#[derive(Component)]
struct SocFill(u32);
/// A house's car, in its top-right corner, coloured by [`CarState`].
#[derive(Component)]
struct CarMark(u32);
/// A house's heat pump, in its bottom-left corner, coloured by [`HeatState`].
#[derive(Component)]
struct HeatMark(u32);
/// A house's PV panel on its roof, brighter as it produces.
#[derive(Component)]
struct PanelMark(u32);
/// Small things (PV marks, battery gauges, service lines) hidden while they would be too small
/// to see: on a 10,000-house overview they are most of the entities to draw.
#[derive(Component)]
struct Detail;
/// Size in px below which [`Detail`] is hidden.
const DETAIL_MIN_PX: f32 = 7.0;
/// The art drawn over houses, roofs, panels and gauges (doors, windows, tiles, cells, battery
/// cases): shown from [`ORNAMENT_MIN_PX`] across, where it reads rather than blurs.
#[derive(Component)]
struct Ornament;
const ORNAMENT_MIN_PX: f32 = 18.0;

/// Mouse drag in progress.
#[derive(Resource, Default)]
struct Drag {
    last: Option<Vec2>,
    travelled: f32,
}

/// The map: spawned at start-up from the topology; camera, selection and colours every frame.
pub struct MapPlugin;

impl Plugin for MapPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<Drag>()
            .add_systems(Startup, (spawn_map, widen_particles))
            .add_systems(Update, (camera_keys, mouse).in_set(DemoSystems::Input))
            .add_systems(Update, (color_houses, color_lines, draw_flows, shade_sky, outline_selection, mark_moves, level_of_detail, show_clouds).in_set(DemoSystems::Draw));
    }
}

/// Particles (gizmo lines) [`PARTICLE_WIDTH_PX`] wide. Writes the gizmo config at start-up.
fn widen_particles(mut store: ResMut<GizmoConfigStore>) {
    store.config_mut::<DefaultGizmoConfigGroup>().0.line.width = PARTICLE_WIDTH_PX;
}

/// How many loading buckets there are below the congested one ([`line_color`] takes 0..=this).
pub const LOADING_BUCKET_COUNT: usize = LOADING_BUCKETS.len();

fn loading_bucket(loading: f64) -> usize {
    LOADING_BUCKETS.iter().position(|b| loading < *b).unwrap_or(LOADING_BUCKETS.len())
}

/// A line's colour by its loading bucket: grey-blue, to amber, red when congested.
pub fn line_color(bucket: usize) -> Color {
    if bucket >= LOADING_BUCKETS.len() {
        return Color::srgb(1.0, 0.12, 0.10);
    }
    // Grey-blue at no load to amber near the limit.
    let t = bucket as f32 / (LOADING_BUCKETS.len() - 1) as f32;
    Color::srgb(0.45 + 0.5 * t, 0.50 + 0.25 * t, 0.60 - 0.45 * t)
}

/// The smallest distance between two distinct house positions, m (infinite with fewer than two):
/// a sweep over the houses sorted by x, which stops looking right once the gap in x alone is
/// larger than the best so far, or after [`SPACING_LOOKAHEAD`] houses (a street along y has every
/// house at one x; its closest pair is among the next few in that order).
const SPACING_LOOKAHEAD: usize = 64;
fn closest_spacing(mut points: Vec<Vec2>) -> f32 {
    points.sort_by(|a, b| a.x.total_cmp(&b.x).then(a.y.total_cmp(&b.y)));
    points.dedup();
    let mut best = f32::INFINITY;
    for (i, a) in points.iter().enumerate() {
        for b in points[i + 1..].iter().take(SPACING_LOOKAHEAD) {
            if b.x - a.x >= best {
                break;
            }
            best = best.min(a.distance(*b));
        }
    }
    best
}

/// Camera scale (world units per px) and centre that fit the map beside the panel.
fn fit(bounds: Rect, window: Vec2) -> (Vec2, f32) {
    let size = bounds.size() * (1.0 + 2.0 * MAP_MARGIN);
    let map_px = Vec2::new((window.x - PANEL_WIDTH_PX).max(100.0), window.y);
    let scale = (size.x / map_px.x).max(size.y / map_px.y).max(1e-3);
    // Shift right by half the panel so the map centres in the area left of it.
    (bounds.center() + Vec2::new(PANEL_WIDTH_PX * 0.5 * scale, 0.0), scale)
}

/// Spawns the camera, lines, houses (PV mark, battery gauge) and the connection point.
/// Reads the simulation's topology and households. Runs at start-up.
fn spawn_map(
    mut commands: Commands,
    sim: NonSend<DemoSim>,
    window: Single<&Window>,
    mut meshes: ResMut<Assets<Mesh>>,
    mut materials: ResMut<Assets<ColorMaterial>>,
    mut images: ResMut<Assets<Image>>,
) {
    let (transformer, car, heat_pump) = (embedded_image(&mut images, TRANSFORMER_PNG), embedded_image(&mut images, CAR_PNG), embedded_image(&mut images, HEAT_PUMP_PNG));
    let [front, roof_art, panel_art, battery_art] = [HOUSE_FRONT_PNG, ROOF_PNG, PV_PANEL_PNG, BATTERY_PNG].map(|png| embedded_image(&mut images, png));
    let ornament = |image: &Handle<Image>, size: Vec2, at: Vec2, z: f32| (Ornament, Sprite { image: image.clone(), custom_size: Some(size), ..default() }, Transform::from_translation(at.extend(z)), Visibility::Hidden);
    let topo = &sim.scenario.topology;
    let g = &topo.graph;
    let pos = |n: petgraph::graph::NodeIndex| Vec2::new(g[n].x_m as f32, g[n].y_m as f32);
    let mut bounds = Rect::from_center_size(pos(topo.root), Vec2::ZERO);
    for n in g.node_indices() {
        bounds = bounds.union_point(pos(n));
    }
    let (center, scale) = fit(bounds, Vec2::new(window.width(), window.height()));
    let spacing = closest_spacing(sim.scenario.households.iter().map(|h| pos(h.node)).collect());
    let house_size = HOUSE_SIZE_M.max((READABLE_HOUSE_PX * scale).min(HOUSE_SPACING_SHARE * spacing)).max(MIN_HOUSE_PX * scale);
    let line_width = LINE_WIDTH_PX * scale;
    commands.spawn((
        Camera2d,
        MapCamera,
        Transform::from_translation(center.extend(0.0)),
        Projection::Orthographic(OrthographicProjection { scale, ..OrthographicProjection::default_2d() }),
        // Software renderers (Mesa's llvmpipe) are fill-rate bound: no multisampling, and no
        // dithering pass over the whole frame.
        Msaa::Off,
        DebandDither::Disabled,
    ));

    let unit = meshes.add(Rectangle::new(1.0, 1.0));
    let palette = Palette {
        house: HouseState::ALL.map(|s| materials.add(house_color(s))),
        community: std::iter::once(None).chain((0..COMMUNITY_COLORS.len() as u16).map(Some)).map(|c| materials.add(community_color(c))).collect(),
        line: (0..=LOADING_BUCKETS.len()).map(|b| materials.add(line_color(b))).collect(),
        panel: PANEL_COLORS.map(|c| materials.add(c)),
    };
    let roof_mesh = meshes.add(Triangle2d::new(Vec2::new(-0.5, 0.0), Vec2::new(0.5, 0.0), Vec2::new(0.0, 1.0)));
    let roof_material = materials.add(ROOF_COLOR);
    let mut layout = MapLayout { house_size, fit_center: center, fit_scale: scale, line_width, ..Default::default() };
    for e in g.edge_indices() {
        let (a, b) = g.edge_endpoints(e).expect("edge has ends");
        let (pa, pb) = (pos(a), pos(b));
        layout.line_ends.push((pa, pb));
        layout.line_house_ends.push((g[a].kind == NodeKind::House, g[b].kind == NodeKind::House));
        layout.capacity_kw.push(g[e].capacity_kw);
        let d = pb - pa;
        let service = g[a].kind == NodeKind::House || g[b].kind == NodeKind::House;
        let mut line = commands.spawn((
            LineMark(e.index() as u32),
            Mesh2d(unit.clone()),
            MeshMaterial2d(palette.line[0].clone()),
            Transform { translation: ((pa + pb) * 0.5).extend(0.0), rotation: Quat::from_rotation_z(d.y.atan2(d.x)), scale: Vec3::new(d.length().max(0.1), line_width, 1.0) },
        ));
        if service {
            line.insert(Detail);
        }
    }
    let root = pos(topo.root);
    let root_kind = g[topo.root].kind;
    let root_size = house_size * if root_kind == NodeKind::Substation { 2.2 } else { 1.6 };
    commands.spawn((Sprite { image: transformer, custom_size: Some(Vec2::splat(root_size)), ..default() }, Transform::from_translation(root.extend(0.5))));
    let (gauge_back, gauge_fill) = (materials.add(GAUGE_BACK), materials.add(GAUGE_FILL));
    for (i, h) in sim.scenario.households.iter().enumerate() {
        let p = pos(h.node);
        layout.house_pos.push(p);
        commands.spawn((HouseMark(i as u32), Mesh2d(unit.clone()), MeshMaterial2d(palette.house[1].clone()), Transform::from_translation(p.extend(1.0)).with_scale(Vec3::new(house_size, house_size, 1.0))));
        commands.spawn(ornament(&front, Vec2::splat(house_size), p, 1.05));
        // The roof on the house's top edge; a PV panel on its right slope. Both under the houses'
        // bodies, so that where houses crowd a roof never hides a neighbour's colour.
        let roof_at = p + Vec2::new(0.0, house_size * 0.5);
        commands.spawn((Mesh2d(roof_mesh.clone()), MeshMaterial2d(roof_material.clone()), Transform::from_translation(roof_at.extend(0.8)).with_scale(Vec3::new(house_size * ROOF_WIDTH, house_size * ROOF_HEIGHT, 1.0))));
        let roof_size = Vec2::new(ROOF_WIDTH, ROOF_HEIGHT) * house_size;
        commands.spawn(ornament(&roof_art, roof_size, roof_at + Vec2::new(0.0, roof_size.y * 0.5), 0.85));
        if h.pv.is_some() {
            let at = p + PANEL_AT * house_size;
            commands.spawn((PanelMark(i as u32), Mesh2d(unit.clone()), MeshMaterial2d(palette.panel[0].clone()), Transform::from_translation(at.extend(0.9)).with_scale((PANEL_SIZE * house_size).extend(1.0))));
            commands.spawn(ornament(&panel_art, PANEL_SIZE * house_size, at, 0.95));
        }
        if h.ev.is_some() {
            // The car beside the house, right of it, tinted by its state.
            let size = Vec2::new(house_size * 0.6, house_size * 0.375);
            let at = p + Vec2::new(house_size * 0.5 + size.x * 0.5 + house_size * 0.05, -house_size * 0.5 + size.y * 0.5);
            commands.spawn((Detail, CarMark(i as u32), Sprite { image: car.clone(), custom_size: Some(size), color: car_color(CarState::Away), ..default() }, Transform::from_translation(at.extend(2.0))));
        }
        if h.heat_pump.is_some() {
            // The heat pump's outdoor unit left of the house, tinted by its state.
            let s = house_size * 0.4;
            let at = p + Vec2::new(-house_size * 0.5 - s * 0.5 - house_size * 0.05, -house_size * 0.5 + s * 0.5);
            commands.spawn((Detail, HeatMark(i as u32), Sprite { image: heat_pump.clone(), custom_size: Some(Vec2::splat(s)), color: heat_color(HeatState::Idle), ..default() }, Transform::from_translation(at.extend(2.0))));
        }
        if h.battery.is_some() {
            let (w, hgt) = (house_size, house_size * 0.22);
            let at = p + Vec2::new(0.0, -house_size * 0.5 - hgt);
            commands.spawn((Detail, Mesh2d(unit.clone()), MeshMaterial2d(gauge_back.clone()), Transform::from_translation(at.extend(1.5)).with_scale(Vec3::new(w, hgt, 1.0))));
            commands.spawn((Detail, SocFill(i as u32), Mesh2d(unit.clone()), MeshMaterial2d(gauge_fill.clone()), Transform::from_translation(at.extend(1.6)).with_scale(Vec3::new(w, hgt, 1.0))));
            let per_unit = Vec2::new(w, hgt) / BATTERY_GAUGE;
            commands.spawn(ornament(&battery_art, BATTERY_ART * per_unit, at + (BATTERY_ART * 0.5 - BATTERY_GAUGE_CENTRE) * per_unit, 1.7));
        }
    }
    spawn_clouds(&mut commands, &sim.scenario.clouds, &layout, &mut meshes, &mut materials);
    commands.insert_resource(layout);
    commands.insert_resource(palette);
}

/// House colours by state (or by community, in runs with communities until C switches), PV panels by
/// output per kWp and battery gauges by state of charge. Reads `View` and the scenario; writes house,
/// panel and mark materials and gauge transforms. Runs in `DemoSystems::Draw`, when `View` changed.
#[allow(clippy::too_many_arguments)]
fn color_houses(
    view: Res<View>,
    layout: Res<MapLayout>,
    palette: Res<Palette>,
    mut houses: Query<(&HouseMark, &mut MeshMaterial2d<ColorMaterial>)>,
    mut gauges: Query<(&SocFill, &mut Transform)>,
    mut cars: Query<(&CarMark, &mut Sprite), Without<HeatMark>>,
    mut heat: Query<(&HeatMark, &mut Sprite), Without<CarMark>>,
    mut panels: Query<(&PanelMark, &mut MeshMaterial2d<ColorMaterial>), Without<HouseMark>>,
    sim: NonSend<DemoSim>,
) {
    if !view.is_changed() || view.houses.is_empty() {
        return;
    }
    for (h, mut mat) in &mut houses {
        let Some(v) = view.houses.get(h.0 as usize) else { continue };
        let want = if view.by_community { &palette.community[v.community.map_or(0, |c| 1 + c as usize % COMMUNITY_COLORS.len())] } else { &palette.house[v.state.index()] };
        if mat.0 != *want {
            mat.0 = want.clone();
        }
    }
    for (c, mut sprite) in &mut cars {
        let Some((state, _)) = view.houses.get(c.0 as usize).and_then(|v| v.car) else { continue };
        let want = car_color(state);
        if sprite.color != want {
            sprite.color = want;
        }
    }
    for (c, mut sprite) in &mut heat {
        let Some((state, _)) = view.houses.get(c.0 as usize).and_then(|v| v.heat) else { continue };
        let want = heat_color(state);
        if sprite.color != want {
            sprite.color = want;
        }
    }
    let hours = sim.scenario.frame.step_hours();
    for (m, mut mat) in &mut panels {
        let (Some(v), Some(pv)) = (view.houses.get(m.0 as usize), sim.scenario.households.get(m.0 as usize).and_then(|h| h.pv.as_ref())) else { continue };
        let per_kwp = v.meter.pv_kwh / hours / pv.kwp.max(1e-9);
        let want = &palette.panel[PANEL_LIT_KW_PER_KWP.iter().filter(|t| per_kwp >= **t).count()];
        if mat.0 != *want {
            mat.0 = want.clone();
        }
    }
    for (g, mut t) in &mut gauges {
        let soc = view.houses.get(g.0 as usize).and_then(|v| v.soc).unwrap_or(0.0).clamp(0.0, 1.0);
        let p = layout.house_pos[g.0 as usize];
        let w = layout.house_size * soc;
        t.scale.x = w.max(1e-3);
        t.translation.x = p.x - layout.house_size * 0.5 + w * 0.5;
    }
}

/// Line colours and widths by loading (red from [`CONGESTED_LOADING`]). Reads `View`; writes
/// line materials and transforms. Runs in `DemoSystems::Draw`, when `View` changed.
fn color_lines(view: Res<View>, layout: Res<MapLayout>, palette: Res<Palette>, mut lines: Query<(&LineMark, &mut MeshMaterial2d<ColorMaterial>, &mut Transform)>) {
    if !view.is_changed() || view.line_kw.is_empty() {
        return;
    }
    for (l, mut mat, mut t) in &mut lines {
        let e = l.0 as usize;
        let loading = view.line_kw.get(e).map_or(0.0, |f| f.abs() / layout.capacity_kw[e].max(1e-9));
        let want = &palette.line[loading_bucket(loading)];
        if mat.0 != *want {
            mat.0 = want.clone();
        }
        t.scale.y = layout.line_width * (1.0 + 2.0 * loading.min(1.0) as f32);
    }
}

/// Power moving along the lines: dashes from the sending end towards the receiving one, one
/// per [`KW_PER_PARTICLE`] (more kW per dash when the grid carries a lot), only on lines in
/// view; green between neighbours, white to or from the grid. Reads `View`, `Time`, the camera; draws gizmos. Runs in `DemoSystems::Draw`.
fn draw_flows(
    view: Res<View>,
    layout: Res<MapLayout>,
    time: Res<Time>,
    camera: Single<(&Transform, &Projection), With<MapCamera>>,
    window: Single<&Window>,
    mut gizmos: Gizmos,
) {
    let (cam, proj) = *camera;
    let Projection::Orthographic(o) = proj else { return };
    let half = Vec2::new(window.width(), window.height()) * 0.5 * o.scale;
    let visible = Rect::from_center_half_size(cam.translation.truncate(), half);
    let total_kw: f64 = view.line_kw.iter().map(|f| f.abs()).filter(|f| *f >= MIN_FLOW_KW).sum();
    let kw_per = KW_PER_PARTICLE.max(total_kw / MAX_PARTICLES as f64);
    let (speed, dash) = (PARTICLE_SPEED_PX_S * o.scale, PARTICLE_LENGTH_PX * o.scale);
    let end_gap = layout.house_size * PARTICLE_END_GAP + PARTICLE_WIDTH_PX * o.scale;
    let t = time.elapsed_secs();
    for (e, &kw) in view.line_kw.iter().enumerate() {
        if kw.abs() < MIN_FLOW_KW {
            continue;
        }
        let (a, b) = layout.line_ends[e];
        if !visible.contains(a) && !visible.contains(b) && !visible.contains((a + b) * 0.5) {
            continue;
        }
        // Positive flow runs from the line's first node to its second.
        let (from, to) = if kw > 0.0 { (a, b) } else { (b, a) };
        let (house_a, house_b) = layout.line_house_ends.get(e).copied().unwrap_or_default();
        let (from_house, to_house) = if kw > 0.0 { (house_a, house_b) } else { (house_b, house_a) };
        let len = from.distance(to);
        if len <= dash {
            continue;
        }
        let dir = (to - from) / len;
        // Particles stop short of the ends, off the houses (drawn over everything, they would
        // hide a house's colour): the house's colour tells what it sends or takes.
        let (gap_from, gap_to) = (if from_house { end_gap } else { 0.0 }, if to_house { end_gap } else { 0.0 });
        let (from, len) = (from + dir * gap_from, len - gap_from - gap_to);
        if len <= dash {
            continue;
        }
        let n = ((kw.abs() / kw_per).ceil() as usize).clamp(1, MAX_PARTICLES_PER_LINE);
        // Offset each line's phase so parallel lines do not pulse together.
        let phase = (t * speed / len + e as f32 * 0.618).fract();
        let grid_share = view.line_grid_share.get(e).copied().unwrap_or(0.0) as f32;
        for k in 0..n {
            let s = ((phase + k as f32 / n as f32).fract()) * (len - dash);
            // The line's particles in the proportion of its grid share, each keeping its colour.
            let color = if (k as f32 * 0.618_034 + e as f32 * 0.37).fract() < grid_share { GRID_PARTICLE } else { PEER_PARTICLE };
            gizmos.line_2d(from + dir * s, from + dir * (s + dash), color);
        }
    }
}

/// Shows [`Detail`] only when a house is at least [`DETAIL_MIN_PX`] across, [`Ornament`] from
/// [`ORNAMENT_MIN_PX`]. Reads the camera; writes `Visibility`. Runs in `DemoSystems::Draw`.
fn level_of_detail(
    layout: Res<MapLayout>,
    camera: Single<&Projection, (With<MapCamera>, Changed<Projection>)>,
    mut details: Query<&mut Visibility, (With<Detail>, Without<Ornament>)>,
    mut ornaments: Query<&mut Visibility, With<Ornament>>,
) {
    let Projection::Orthographic(o) = *camera else { return };
    let px = layout.house_size / o.scale;
    let shown = |yes: bool| if yes { Visibility::Inherited } else { Visibility::Hidden };
    for mut v in &mut details {
        v.set_if_neq(shown(px >= DETAIL_MIN_PX));
    }
    for mut v in &mut ornaments {
        v.set_if_neq(shown(px >= ORNAMENT_MIN_PX));
    }
}

/// A scenario's cloud (its index in `Scenario::clouds`): one of its puffs, shown while it passes.
#[derive(Component)]
pub struct CloudMark(usize);
/// Clouds' colour under a thin cloud and a thick one (little sun getting through), and opacity.
const THIN_CLOUD: Vec3 = Vec3::new(0.93, 0.95, 0.97);
const THICK_CLOUD: Vec3 = Vec3::new(0.49, 0.53, 0.60);
const CLOUD_ALPHA: f32 = 0.42;

/// Each cloud as overlapping puffs along the long side of its houses' bounding box,
/// alternating either side of its middle (as the replay draws it), hidden until it passes.
fn spawn_clouds(commands: &mut Commands, clouds: &[crate::environment::clouds::CloudShade], layout: &MapLayout, meshes: &mut Assets<Mesh>, materials: &mut Assets<ColorMaterial>) {
    let circle = meshes.add(Circle::new(1.0));
    for (k, c) in clouds.iter().enumerate() {
        let points: Vec<Vec2> = c.households.iter().filter_map(|&h| layout.house_pos.get(h as usize).copied()).collect();
        let Some(first) = points.first() else { continue };
        let bounds = points.iter().fold(Rect::from_center_size(*first, Vec2::ZERO), |r, p| r.union_point(*p)).inflate(1.5 * layout.house_size);
        let (size, centre) = (bounds.size(), bounds.center());
        let wide = size.x >= size.y;
        let (major, minor) = if wide { (size.x, size.y) } else { (size.y, size.x) };
        let minor = minor.max(7.0 * layout.house_size);
        let puffs = ((2.0 * major / minor).ceil() as usize + 1).max(3);
        let shade = THIN_CLOUD.lerp(THICK_CLOUD, (1.0 - c.transmittance as f32).clamp(0.0, 1.0));
        let material = materials.add(Color::srgba(shade.x, shade.y, shade.z, CLOUD_ALPHA));
        for i in 0..puffs {
            let along = -major / 2.0 + (i as f32 + 0.5) / puffs as f32 * major;
            let side = if i % 2 == 1 { 1.0 } else { -1.0 } * minor * 0.18;
            let r = minor * (0.42 + 0.1 * (i % 3) as f32);
            let at = centre + if wide { Vec2::new(along, side) } else { Vec2::new(side, along) };
            commands.spawn((CloudMark(k), Mesh2d(circle.clone()), MeshMaterial2d(material.clone()), Transform::from_translation(at.extend(3.0)).with_scale(Vec3::new(r, r, 1.0)), Visibility::Hidden));
        }
    }
}

/// Shows each cloud while the last step simulated is one it shades. Reads `View` and the
/// scenario's clouds; writes the puffs' `Visibility`. Runs in `DemoSystems::Draw`.
fn show_clouds(view: Res<View>, sim: NonSend<DemoSim>, mut puffs: Query<(&CloudMark, &mut Visibility)>) {
    if !view.is_changed() {
        return;
    }
    let last = view.run.steps.checked_sub(1);
    for (mark, mut v) in &mut puffs {
        let passing = sim.scenario.clouds.get(mark.0).zip(last).is_some_and(|(c, s)| (c.from_step..c.to_step).contains(&s));
        v.set_if_neq(if passing { Visibility::Inherited } else { Visibility::Hidden });
    }
}

/// Day and night: the background brightens with irradiance. Reads `View`; writes `ClearColor`.
fn shade_sky(view: Res<View>, mut sky: ResMut<ClearColor>) {
    if !view.is_changed() {
        return;
    }
    let t = (view.ghi_w_m2 / FULL_DAY_GHI_W_M2).clamp(0.0, 1.0) as f32;
    sky.0 = NIGHT_SKY.mix(&DAY_SKY, t);
}

/// A ring around each house that moved between communities in the last
/// [`MOVE_MARK_STEPS`](crate::viz::sim_view::MOVE_MARK_STEPS) steps, shrinking as the move ages.
/// Reads `View`; draws gizmos.
fn mark_moves(view: Res<View>, layout: Res<MapLayout>, mut gizmos: Gizmos) {
    use crate::viz::sim_view::MOVE_MARK_STEPS;
    for (h, at) in &view.moved {
        let Some(p) = layout.house_pos.get(*h as usize) else { continue };
        let age = view.step.saturating_sub(*at).min(MOVE_MARK_STEPS) as f32 / MOVE_MARK_STEPS as f32;
        gizmos.circle_2d(*p, layout.house_size * (2.2 - 1.2 * age), MOVE_MARK_COLOR);
    }
}

/// A frame around the selected house. Reads `View`; draws gizmos.
fn outline_selection(view: Res<View>, layout: Res<MapLayout>, mut gizmos: Gizmos) {
    if let Some(p) = view.selected.and_then(|i| layout.house_pos.get(i as usize)) {
        gizmos.rect_2d(*p, Vec2::splat(layout.house_size * 1.6), SELECTION_COLOR);
    }
}

/// WASD or arrows pan; + and − zoom; F fits the map again. Reads the keyboard; writes the
/// camera. Runs in `DemoSystems::Input`.
fn camera_keys(input: Res<ButtonInput<KeyCode>>, time: Res<Time>, layout: Res<MapLayout>, camera: Single<(&mut Transform, &mut Projection), With<MapCamera>>) {
    let (mut t, mut proj) = camera.into_inner();
    let Projection::Orthographic(o) = &mut *proj else { return };
    let mut dir = Vec2::ZERO;
    for (keys, d) in [([KeyCode::KeyW, KeyCode::ArrowUp], Vec2::Y), ([KeyCode::KeyS, KeyCode::ArrowDown], -Vec2::Y), ([KeyCode::KeyA, KeyCode::ArrowLeft], -Vec2::X), ([KeyCode::KeyD, KeyCode::ArrowRight], Vec2::X)] {
        if input.any_pressed(keys) {
            dir += d;
        }
    }
    t.translation += (dir * PAN_PX_S * o.scale * time.delta_secs()).extend(0.0);
    let dt = time.delta_secs();
    if input.any_pressed([KeyCode::Equal, KeyCode::NumpadAdd]) {
        o.scale /= ZOOM_PER_S.powf(dt);
    }
    if input.any_pressed([KeyCode::Minus, KeyCode::NumpadSubtract]) {
        o.scale *= ZOOM_PER_S.powf(dt);
    }
    if input.just_pressed(KeyCode::KeyF) {
        t.translation = layout.fit_center.extend(0.0);
        o.scale = layout.fit_scale;
    }
}

/// Mouse: drag pans, the wheel zooms about the cursor, a click selects the house under it (or
/// clears the selection). Reads the mouse and window; writes the camera and `View::selected`.
/// Runs in `DemoSystems::Input`.
fn mouse(
    buttons: Res<ButtonInput<MouseButton>>,
    scroll: Res<AccumulatedMouseScroll>,
    window: Single<&Window>,
    layout: Res<MapLayout>,
    mut drag: ResMut<Drag>,
    mut view: ResMut<View>,
    camera: Single<(&mut Transform, &mut Projection), With<MapCamera>>,
) {
    let (mut t, mut proj) = camera.into_inner();
    let Projection::Orthographic(o) = &mut *proj else { return };
    let Some(cursor) = window.cursor_position() else {
        drag.last = None;
        return;
    };
    let size = Vec2::new(window.width(), window.height());
    let on_map = cursor.x < size.x - PANEL_WIDTH_PX;
    // Cursor (px, y down from the top) to world coordinates (y up).
    let to_world = |c: Vec2, centre: Vec2, scale: f32| centre + Vec2::new(c.x - size.x * 0.5, size.y * 0.5 - c.y) * scale;
    if on_map && scroll.delta.y != 0.0 {
        let before = to_world(cursor, t.translation.truncate(), o.scale);
        o.scale *= ZOOM_PER_NOTCH.powf(-scroll.delta.y.clamp(-5.0, 5.0));
        let after = to_world(cursor, t.translation.truncate(), o.scale);
        t.translation += (before - after).extend(0.0);
    }
    if buttons.just_pressed(MouseButton::Left) && on_map {
        drag.last = Some(cursor);
        drag.travelled = 0.0;
    }
    if let (true, Some(last)) = (buttons.pressed(MouseButton::Left), drag.last) {
        let d = cursor - last;
        drag.travelled += d.length();
        t.translation += Vec3::new(-d.x * o.scale, d.y * o.scale, 0.0);
        drag.last = Some(cursor);
    }
    if buttons.just_released(MouseButton::Left) && drag.last.take().is_some() && drag.travelled < CLICK_SLOP_PX {
        let at = to_world(cursor, t.translation.truncate(), o.scale);
        let reach = layout.house_size.max(8.0 * o.scale);
        let hit = layout.house_pos.iter().enumerate().map(|(i, p)| (i, p.distance(at))).filter(|(_, d)| *d <= reach).min_by(|a, b| a.1.total_cmp(&b.1));
        view.selected = hit.map(|(i, _)| i as u32);
        view.selected_trades.clear();
    }
}
