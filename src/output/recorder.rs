//! `timeseries`, `trades` and `household_timeseries`, streamed while the run goes: one row per
//! step from the metrics' totals, one per trade from the market's clearing, one per household and
//! step from its meter.

use crate::base::money::Micros;
use crate::base::schedule::SimStep;
use crate::base::time::SimClock;
use crate::environment::tariff::StepPrices;
use crate::environment::weather::Environment;
use crate::household::HouseholdIds;
use crate::market::{Clearing, LossBearer, LossPolicy, OfferSource, Seller};
use crate::metrics::{EnergyBalance, MetricsSystems, StepTotals};
use bevy::prelude::*;
use crate::household::battery::Battery;
use crate::household::heating::HeatPump;
use crate::household::vehicle::Vehicle;
use crate::household::{Household, Meter, Wallet};
use crate::output::columnar::{currency_label, Cell, ColumnType, TableFormat, TableSchema, TableSink};
use std::path::Path;

/// Streams `timeseries` and `trades` (CSV, Parquet or both) while the run goes, and the
/// per-household series when asked. Present only when recording.
#[derive(Resource)]
pub struct Recorder {
    timeseries: TableSink,
    /// `None` at the `Aggregate` output level.
    trades: Option<TableSink>,
    /// `household_timeseries`: one row per household and step (`--household-series`).
    households: Option<TableSink>,
    /// `line_timeseries`: one row per line and step (`--line-series`).
    lines: Option<TableSink>,
    /// First write error, reported when the run ends (systems cannot return errors).
    pub error: Option<String>,
    /// The household series' device columns ([`RecordOptions`]).
    vehicle_columns: bool,
    heat_pump_columns: bool,
}

/// What a [`Recorder`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordOptions {
    /// A row per trade (the `Full` output level).
    pub trades: bool,
    /// A row per household and step.
    pub household_series: bool,
    /// A row per line and step.
    pub line_series: bool,
    pub format: TableFormat,
    /// The household series has the electric vehicles' and heat pumps' columns (runs with any).
    pub vehicle_columns: bool,
    pub heat_pump_columns: bool,
}

/// Columns of `timeseries.csv` (a contract: add, never rename).
pub const TIMESERIES_COLUMNS: [&str; 58] = [
    "step", "time", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_kwh", "grid_import_kwh", "grid_export_kwh", "battery_charge_kwh",
    "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "losses_kwh", "clearing_price", "buy_price", "sell_price", "trades",
    "network_losses_kwh", "p2p_losses_kwh", "network_fees", "ghi_w_m2", "clear_sky_index", "battery_soc_kwh",
    "max_line_loading", "sun_zenith_deg", "sun_azimuth_deg", "dni_w_m2", "dhi_w_m2", "time_utc",
    // The energy balance, `metrics::EnergyBalance::COLUMNS` (its first twelve).
    "load_own_pv_kwh", "load_own_battery_kwh", "load_peer_pv_kwh", "load_peer_battery_kwh", "load_grid_kwh", "load_unserved_kwh",
    "pv_own_battery_kwh", "pv_grid_kwh", "pv_line_losses_kwh", "battery_conversion_losses_kwh", "battery_line_losses_kwh",
    "battery_stored_change_kwh",
    // The grid's tariff in the step (empty on an island).
    "grid_import_price", "grid_export_price",
    // What the households paid this step, and would have with the grid only.
    "community_bill", "baseline_bill",
    // The weather's air temperature (empty when it has none).
    "temp_air_c",
    // The rest of the energy balance: communities' batteries.
    "load_community_battery_kwh", "pv_community_battery_kwh",
    // Of `load_kwh`: deferrable appliances, and what of it their policies moved later.
    "appliance_kwh", "shifted_kwh",
    // Of `load_kwh`: electric vehicles charging at home; load their vehicle-to-home met (the
    // energy balance's last column); cars plugged in at the step.
    "ev_kwh", "load_own_vehicle_kwh", "ev_plugged",
    // Imported into the households' own batteries (the energy balance's last column).
    "grid_own_battery_kwh",
    // Of `load_kwh`: heat pumps (space heating and cooling) and hot-water tanks; the mean
    // indoor (operative) temperature of the houses with a heat pump (empty without); heat pumps
    // running.
    "heat_pump_kwh", "hot_water_kwh", "mean_indoor_temp_c", "heat_pumps_running",
];
/// `time_utc`: ISO 8601 in UTC, one zone for the whole file (pandas parses it without a
/// "mixed time zones" error across daylight saving).
pub use crate::base::table_rows::TIME_UTC_FORMAT;

/// Columns of `trades.csv` (a contract: add, never rename). `kwh` is the energy delivered;
/// `kwh_sent` = `kwh` + `loss_kwh`; `amount` is the energy payment (for the kWh the loss policy
/// bills); `network_fee` the fee paid to the network operator on top.
pub const TRADES_COLUMNS: [&str; 10] = ["step", "seller", "buyer", "kwh", "price", "amount", "seller_source", "kwh_sent", "loss_kwh", "network_fee"];

/// Columns of `household_timeseries` (a contract: add, never rename). `net_kwh` is what the
/// house drew from the network at its meter (grid and peers, its community's battery) less what
/// it fed in; `bill` its bill so far (what it paid less what it received, from the run's start).
pub const HOUSEHOLD_SERIES_COLUMNS: [&str; 8] = ["household", "step", "time_utc", "pv_kwh", "load_kwh", "net_kwh", "battery_soc_kwh", "bill"];

/// Added to `household_timeseries` in runs with electric vehicles (empty for houses without
/// one): the car's charge at the step's end, whether it is plugged in at home (0 or 1, as
/// `timeseries`' count), what its charger drew and what it gave the house (vehicle-to-home).
pub const VEHICLE_SERIES_COLUMNS: [&str; 4] = ["ev_soc_kwh", "ev_plugged", "ev_charge_kwh", "ev_discharge_kwh"];

/// Added to `household_timeseries` in runs with heat pumps (empty for houses without one): its
/// electricity for space heating and cooling in the step, whether it was cooling (0 or 1), the
/// step's mean indoor (operative) temperature.
pub const HEAT_PUMP_SERIES_COLUMNS: [&str; 3] = ["heat_pump_kwh", "heat_pump_cooling", "indoor_c"];

/// Columns of `line_timeseries` (a contract: add, never rename). `flow_kw` is the active power
/// on the line in the step, positive from its `from` node to its `to` node (as `topology.json`
/// and `lines.csv` list them).
pub const LINE_SERIES_COLUMNS: [&str; 4] = ["line", "step", "time_utc", "flow_kw"];

/// Parquet types of the step tables' columns (see `columnar`).
fn column_type(name: &str) -> ColumnType {
    match name {
        "step" | "trades" | "ev_plugged" | "heat_pumps_running" | "heat_pump_cooling" => ColumnType::Int,
        "time" => ColumnType::Text,
        "time_utc" => ColumnType::Utc,
        "seller" | "buyer" | "seller_source" | "household" | "line" => ColumnType::Id,
        "buy_price" | "sell_price" | "grid_import_price" | "grid_export_price" => ColumnType::MoneyPerKwh,
        "network_fees" | "community_bill" | "baseline_bill" | "amount" | "network_fee" | "bill" => ColumnType::Money,
        _ => ColumnType::Float,
    }
}

/// `seller_source`'s values, by [`seller_key`].
const SELLER_SOURCES: [&str; 3] = ["pv", "battery", "pool"];

/// A trade's seller (a household's index, or the pool after them) and its source, as keys into
/// `trades`' `seller` and `seller_source` values.
fn seller_key(seller: Seller, households: u32) -> (u32, u32) {
    match seller {
        Seller::Household { index, source: OfferSource::Pv } => (index, 0),
        Seller::Household { index, source: OfferSource::Battery } => (index, 1),
        Seller::Pool => (households, 2),
    }
}

impl Recorder {
    /// Opens `timeseries`, `trades`, `household_timeseries` and `line_timeseries` in `dir` as
    /// `opts` asks, for the households `ids` (in household order) and the lines `line_ids` (in
    /// the topology's order); money in `currency` (Parquet's metadata).
    pub fn create(dir: &Path, opts: RecordOptions, ids: &[String], line_ids: &[String], currency: Option<&str>) -> std::io::Result<Recorder> {
        let currency = currency_label(currency);
        let f = opts.format;
        let timeseries = TableSink::create(dir, "timeseries", &TableSchema::new(&TIMESERIES_COLUMNS, column_type), true, f.parquet(), currency, &[])?;
        let trades = match opts.trades {
            true => {
                let sellers: Vec<&str> = ids.iter().map(String::as_str).chain(["pool"]).collect();
                let schema = TableSchema::new(&TRADES_COLUMNS, column_type).with_values("seller", &sellers).with_values("buyer", ids).with_values("seller_source", &SELLER_SOURCES).required_except(&[]);
                Some(TableSink::create(dir, "trades", &schema, f.bulk_csv(), f.parquet(), currency, &["step"])?)
            }
            false => None,
        };
        let households = match opts.household_series {
            true => {
                let kind = |name: &str| match name {
                    "household" | "step" | "time_utc" | "bill" | "ev_plugged" | "heat_pump_cooling" => column_type(name),
                    _ => ColumnType::Float32,
                };
                let mut columns: Vec<&str> = HOUSEHOLD_SERIES_COLUMNS.to_vec();
                let mut optional = vec!["battery_soc_kwh"];
                for (on, extra) in [(opts.vehicle_columns, &VEHICLE_SERIES_COLUMNS[..]), (opts.heat_pump_columns, &HEAT_PUMP_SERIES_COLUMNS[..])] {
                    if on {
                        columns.extend_from_slice(extra);
                        optional.extend_from_slice(extra);
                    }
                }
                let schema = TableSchema::new(&columns, kind).with_values("household", ids).required_except(&optional);
                Some(TableSink::create(dir, "household_timeseries", &schema, f.bulk_csv(), f.parquet(), currency, &["step", "time_utc"])?)
            }
            false => None,
        };
        let lines = match opts.line_series {
            true => {
                let kind = |name: &str| if name == "flow_kw" { ColumnType::Float32 } else { column_type(name) };
                let schema = TableSchema::new(&LINE_SERIES_COLUMNS, kind).with_values("line", line_ids).required_except(&[]);
                Some(TableSink::create(dir, "line_timeseries", &schema, f.bulk_csv(), f.parquet(), currency, &["step", "time_utc"])?)
            }
            false => None,
        };
        Ok(Recorder { timeseries, trades, households, lines, error: None, vehicle_columns: opts.vehicle_columns, heat_pump_columns: opts.heat_pump_columns })
    }

    #[allow(clippy::too_many_arguments)]
    pub fn write_step(&mut self, t: &StepTotals, time: &str, utc: (i64, &str), env: &crate::environment::weather::Environment, tariff: &StepPrices, clearing: &Clearing, bearer: LossBearer, ids: &[String]) -> std::io::Result<()> {
        use Cell::{Float, Int, Money, Null};
        let price = |p: Option<crate::base::money::PricePerKwh>| p.map_or(Null, |p| Money(Micros(p.0)));
        let tariff_price = |p: crate::base::money::PricePerKwh| if tariff.connected { Money(Micros(p.0)) } else { Null };
        let balance = t.balance.values();
        let mut row: Vec<Cell> = Vec::with_capacity(TIMESERIES_COLUMNS.len());
        row.extend([Int(t.step as i64), Cell::Text(time)]);
        row.extend(
            [t.pv_kwh, t.load_kwh, t.self_consumed_kwh, t.p2p_kwh, t.grid_import_kwh, t.grid_export_kwh, t.battery_charge_kwh, t.battery_discharge_kwh, t.curtailed_kwh, t.unserved_kwh, t.losses_kwh]
                .map(Float),
        );
        row.extend([
            t.clearing_price().map_or(Null, |p| Cell::Fixed(p, 6)),
            price(clearing.buy_price),
            price(clearing.sell_price),
            Int(t.trades as i64),
            Float(t.network_losses_kwh),
            Float(t.p2p_losses_kwh),
            Money(t.network_fees),
            Float(env.irradiance.ghi),
            Float(env.clear_sky_index),
            Float(t.battery_soc_kwh),
            Float(t.max_line_loading),
            Float(env.sun.zenith_deg),
            Float(env.sun.azimuth_deg),
            Float(env.irradiance.dni),
            Float(env.irradiance.dhi),
            Cell::Utc(utc.0, utc.1),
        ]);
        row.extend(balance[..EnergyBalance::FIRST_COLUMNS].iter().map(|&v| Float(v)));
        row.extend([tariff_price(tariff.import), tariff_price(tariff.export), Money(t.community_bill), Money(t.baseline_bill), Cell::opt(env.temp_air_c)]);
        row.extend(balance[EnergyBalance::FIRST_COLUMNS..EnergyBalance::BEFORE_APPLIANCES].iter().map(|&v| Float(v)));
        let [vehicle, grid_battery] = [balance[EnergyBalance::BEFORE_APPLIANCES], balance[EnergyBalance::BEFORE_APPLIANCES + 1]];
        row.extend([
            Float(t.appliance_kwh),
            Float(t.shifted_kwh),
            Float(t.ev_kwh),
            Float(vehicle),
            Int(t.ev_plugged as i64),
            Float(grid_battery),
            Float(t.heat_pump_kwh),
            Float(t.hot_water_kwh),
            Cell::opt(t.mean_indoor_temp_c),
            Int(t.heat_pumps_running as i64),
        ]);
        debug_assert_eq!(row.len(), TIMESERIES_COLUMNS.len());
        self.timeseries.push(&row)?;
        let Some(w) = &mut self.trades else { return Ok(()) };
        for tr in &clearing.trades {
            let (seller, source) = seller_key(tr.seller, ids.len() as u32);
            w.push(&[
                Int(t.step as i64),
                Cell::Key(seller),
                Cell::Key(tr.buyer),
                Float(tr.kwh),
                // The exact price, shortest round-trip decimal: `amount` is recomputable from it.
                Float(tr.price.0),
                Money(tr.price.amount_for(tr.billed_kwh(bearer))),
                Cell::Key(source),
                Float(tr.kwh_sent()),
                Float(tr.loss_kwh),
                Money(tr.fee.amount_for(tr.kwh_sent())),
            ])?;
        }
        Ok(())
    }

    /// Completes the files (Parquet's footers); returns the first error seen during the run.
    pub fn finish(self) -> Result<(), String> {
        if let Some(e) = self.error {
            return Err(e);
        }
        for sink in [Some(self.timeseries), self.trades, self.households, self.lines].into_iter().flatten() {
            sink.finish().map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// The recorder's systems: the step's rows, after the metrics' totals.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordSystems;

/// Records the simulation in `app` into `recorder`'s files from its next step on.
pub fn attach(app: &mut App, recorder: Recorder) {
    let series = recorder.households.is_some();
    let line_series = recorder.lines.is_some();
    app.insert_resource(recorder).configure_sets(SimStep, RecordSystems.after(MetricsSystems)).add_systems(SimStep, record_rows.in_set(RecordSystems));
    if series {
        app.init_resource::<SeriesRows>().add_systems(SimStep, record_household_rows.in_set(RecordSystems).after(record_rows));
    }
    if line_series {
        app.add_systems(SimStep, record_line_rows.in_set(RecordSystems).after(record_rows));
    }
}

/// Takes the recorder out of `world` (to flush it and check for write errors).
pub fn detach(world: &mut World) -> Option<Recorder> {
    world.remove_resource::<Recorder>()
}

/// Writes the step's rows; the first write error is kept for the end of the run. Reads
/// `StepTotals`, `SimClock`, `Environment` (irradiance, sun), `StepPrices`, `Clearing`, `LossPolicy`,
/// `HouseholdIds`; writes `Recorder`. Runs in `RecordSystems`, after `MetricsSystems`.
pub fn record_rows(
    totals: Res<StepTotals>,
    clock: Res<SimClock>,
    env: Res<Environment>,
    tariff: Res<StepPrices>,
    clearing: Res<Clearing>,
    losses: Option<Res<LossPolicy>>,
    ids: Res<HouseholdIds>,
    mut rec: ResMut<Recorder>,
) {
    if rec.error.is_none() {
        let bearer = losses.map(|l| l.0).unwrap_or_default();
        let utc = clock.frame.step_start_utc(clock.step);
        let time_utc = utc.format(TIME_UTC_FORMAT).to_string();
        if let Err(e) = rec.write_step(&totals, &clock.time_label(), (utc.timestamp_micros(), &time_utc), &env, &tariff, &clearing, bearer, &ids.0) {
            rec.error = Some(e.to_string());
        }
    }
}

/// One household's row of the step, gathered in household order.
#[derive(Debug, Clone, Copy, Default)]
struct SeriesRow {
    pv_kwh: f64,
    load_kwh: f64,
    net_kwh: f64,
    battery_soc_kwh: Option<f64>,
    bill: Micros,
    /// The car's charge and whether it is plugged in, what it charged and gave this step.
    vehicle: Option<(f64, bool, f64, f64)>,
    /// The heat pump's electricity, whether it cooled, the indoor temperature.
    heat_pump: Option<(f64, bool, f64)>,
}

/// What a household's series row reads: its meter, battery, wallet, car and heat pump.
type SeriesHouse = (&'static Household, &'static Meter, Option<&'static Battery>, &'static Wallet, Option<&'static Vehicle>, Option<&'static HeatPump>);

/// The step's household rows, by household index (kept between steps: no allocation per step).
#[derive(Resource, Default)]
pub struct SeriesRows(Vec<SeriesRow>);

/// Writes a row per household for the step, in household order. Reads `Household`, `Meter`,
/// `Battery`, `Wallet`, `SimClock`, `HouseholdIds`; writes `SeriesRows`, `Recorder`. Runs in
/// `RecordSystems`, after `record_rows`.
pub fn record_household_rows(
    clock: Res<SimClock>,
    ids: Res<HouseholdIds>,
    houses: Query<SeriesHouse>,
    mut rows: ResMut<SeriesRows>,
    mut rec: ResMut<Recorder>,
) {
    if rec.error.is_some() {
        return;
    }
    let rows = &mut rows.0;
    rows.resize(ids.0.len(), SeriesRow::default());
    for (h, m, battery, wallet, car, pump) in &houses {
        let drawn_kwh = m.grid_import_kwh + m.p2p_bought_kwh + m.community_battery_bought_kwh;
        let fed_kwh = m.grid_export_kwh + m.p2p_sold_kwh + m.community_battery_sold_kwh;
        rows[h.index as usize] = SeriesRow {
            pv_kwh: m.pv_kwh,
            load_kwh: m.load_kwh,
            net_kwh: drawn_kwh - fed_kwh,
            battery_soc_kwh: battery.map(|b| b.soc_kwh),
            bill: wallet.bill(),
            vehicle: car.map(|c| (c.soc_kwh, c.plugged, m.ev_kwh, m.ev_discharge_kwh)),
            heat_pump: pump.map(|p| (m.heat_pump_kwh, p.cooling_now(), p.indoor_c)),
        };
    }
    let utc = clock.frame.step_start_utc(clock.step);
    let time_utc = utc.format(TIME_UTC_FORMAT).to_string();
    let (vehicle_columns, heat_pump_columns) = (rec.vehicle_columns, rec.heat_pump_columns);
    let Some(sink) = &mut rec.households else { return };
    let mut written = Ok(());
    let f32_or_null = |v: Option<f64>| v.map_or(Cell::Null, |v| Cell::F32(v as f32));
    let flag_or_null = |v: Option<bool>| v.map_or(Cell::Null, |v| Cell::Int(i64::from(v)));
    for (i, r) in rows.iter().enumerate() {
        // Single precision (7 significant digits) in both files: the series is the bulk.
        let mut cells = [Cell::Null; HOUSEHOLD_SERIES_COLUMNS.len() + VEHICLE_SERIES_COLUMNS.len() + HEAT_PUMP_SERIES_COLUMNS.len()];
        cells[..HOUSEHOLD_SERIES_COLUMNS.len()].copy_from_slice(&[
            Cell::Key(i as u32),
            Cell::Int(clock.step as i64),
            Cell::Utc(utc.timestamp_micros(), &time_utc),
            Cell::F32(r.pv_kwh as f32),
            Cell::F32(r.load_kwh as f32),
            Cell::F32(r.net_kwh as f32),
            f32_or_null(r.battery_soc_kwh),
            Cell::Money(r.bill),
        ]);
        let mut used = HOUSEHOLD_SERIES_COLUMNS.len();
        if vehicle_columns {
            let v = r.vehicle;
            cells[used..used + VEHICLE_SERIES_COLUMNS.len()].copy_from_slice(&[f32_or_null(v.map(|v| v.0)), flag_or_null(v.map(|v| v.1)), f32_or_null(v.map(|v| v.2)), f32_or_null(v.map(|v| v.3))]);
            used += VEHICLE_SERIES_COLUMNS.len();
        }
        if heat_pump_columns {
            let p = r.heat_pump;
            cells[used..used + HEAT_PUMP_SERIES_COLUMNS.len()].copy_from_slice(&[f32_or_null(p.map(|p| p.0)), flag_or_null(p.map(|p| p.1)), f32_or_null(p.map(|p| p.2))]);
            used += HEAT_PUMP_SERIES_COLUMNS.len();
        }
        written = sink.push(&cells[..used]);
        if written.is_err() {
            break;
        }
    }
    if let Err(e) = written {
        rec.error = Some(e.to_string());
    }
}

/// Writes a row per line for the step, in the topology's order. Reads `Network` (the step's
/// delivered flows), `SimClock`; writes `Recorder`. Runs in `RecordSystems`, after `record_rows`.
pub fn record_line_rows(clock: Res<SimClock>, network: Res<crate::grid::network::Network>, mut rec: ResMut<Recorder>) {
    if rec.error.is_some() {
        return;
    }
    let utc = clock.frame.step_start_utc(clock.step);
    let time_utc = utc.format(TIME_UTC_FORMAT).to_string();
    let Some(sink) = &mut rec.lines else { return };
    let mut written = Ok(());
    for (i, kw) in network.flows.line_kw.iter().enumerate() {
        written = sink.push(&[Cell::Key(i as u32), Cell::Int(clock.step as i64), Cell::Utc(utc.timestamp_micros(), &time_utc), Cell::F32(*kw as f32)]);
        if written.is_err() {
            break;
        }
    }
    if let Err(e) = written {
        rec.error = Some(e.to_string());
    }
}
