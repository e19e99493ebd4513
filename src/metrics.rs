//! Metrics and recording: community totals per step, run totals, and the streamed CSV rows of
//! `timeseries.csv` and `trades.csv`.
//!
//! Sums run over the household query in its iteration order, which depends only on the spawn
//! order of the scenario (single-threaded, same archetypes), so results are identical whatever
//! the thread count.

use crate::household::{Household, HouseholdIds, Meter, MeterTotals};
use crate::market::{Clearing, LossBearer, LossPolicy, Seller};
use crate::base::money::Micros;
use crate::base::time::SimClock;
use bevy::prelude::*;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Community totals of one step, kWh (the `timeseries.csv` row).
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct StepTotals {
    pub step: u64,
    pub pv_kwh: f64,
    pub load_kwh: f64,
    pub self_consumed_kwh: f64,
    pub p2p_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub battery_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    pub curtailed_kwh: f64,
    pub unserved_kwh: f64,
    /// Battery and network losses.
    pub losses_kwh: f64,
    /// Of `losses_kwh`: lost on the lines (all flows) and, of that, on peer deliveries.
    pub network_losses_kwh: f64,
    pub p2p_losses_kwh: f64,
    /// Money paid for peer energy this step (at the energy price, for the energy delivered).
    pub p2p_value: Micros,
    /// Network fees paid on peer deliveries.
    pub network_fees: Micros,
    pub trades: u64,
    /// Energy stored in all batteries at the end of the step, kWh (a level, not summed over a run).
    pub battery_soc_kwh: f64,
    /// Highest flow / capacity of any line in the step (a level, not summed over a run).
    pub max_line_loading: f64,
}

impl StepTotals {
    /// The energy balance residual: PV + import + discharge + unserved − (load + export + charge
    /// + curtailed + losses). Zero up to rounding.
    pub fn imbalance_kwh(&self) -> f64 {
        (self.pv_kwh + self.grid_import_kwh + self.battery_discharge_kwh + self.unserved_kwh)
            - (self.load_kwh + self.grid_export_kwh + self.battery_charge_kwh + self.curtailed_kwh + self.losses_kwh)
    }

    /// Volume-weighted mean peer price, per kWh; `None` when nothing traded.
    pub fn clearing_price(&self) -> Option<f64> {
        (self.p2p_kwh > 0.0).then(|| self.p2p_value.as_units() / self.p2p_kwh)
    }
}

/// Totals over the run so far.
#[derive(Resource, Debug, Clone, Copy, Default, PartialEq)]
pub struct RunTotals {
    pub steps: u64,
    pub sum: StepTotals,
    pub peak_grid_import_kw: f64,
    pub peak_grid_export_kw: f64,
    /// Largest |energy balance residual| of any step, kWh.
    pub max_imbalance_kwh: f64,
    pub p2p_price_sum: f64,
    pub p2p_price_sq_sum: f64,
    pub p2p_price_steps: u64,
}

/// Streams `timeseries.csv` and `trades.csv` while the run goes. Present only when recording.
#[derive(Resource)]
pub struct Recorder {
    timeseries: csv::Writer<BufWriter<File>>,
    /// `None` at the `Aggregate` output level.
    trades: Option<csv::Writer<BufWriter<File>>>,
    buf: String,
    /// First write error, reported when the run ends (systems cannot return errors).
    pub error: Option<String>,
}

/// Columns of `timeseries.csv` (a contract: add, never rename).
pub const TIMESERIES_COLUMNS: [&str; 28] = [
    "step", "time", "pv_kwh", "load_kwh", "self_consumed_kwh", "p2p_kwh", "grid_import_kwh", "grid_export_kwh", "battery_charge_kwh",
    "battery_discharge_kwh", "curtailed_kwh", "unserved_kwh", "losses_kwh", "clearing_price", "buy_price", "sell_price", "trades",
    "network_losses_kwh", "p2p_losses_kwh", "network_fees", "ghi_w_m2", "clear_sky_index", "battery_soc_kwh",
    "max_line_loading", "sun_zenith_deg", "sun_azimuth_deg", "dni_w_m2", "dhi_w_m2",
];
/// Columns of `trades.csv` (a contract: add, never rename). `kwh` is the energy delivered;
/// `kwh_sent` = `kwh` + `loss_kwh`; `amount` is the energy payment (for the kWh the loss policy
/// bills); `network_fee` the fee paid to the network operator on top.
pub const TRADES_COLUMNS: [&str; 10] = ["step", "seller", "buyer", "kwh", "price", "amount", "seller_source", "kwh_sent", "loss_kwh", "network_fee"];

impl Recorder {
    /// Opens `timeseries.csv`, and `trades.csv` when `trades` is set.
    pub fn create(dir: &Path, trades: bool) -> std::io::Result<Recorder> {
        let open = |name: &str| -> std::io::Result<csv::Writer<BufWriter<File>>> {
            Ok(csv::WriterBuilder::new().from_writer(BufWriter::with_capacity(1 << 16, File::create(dir.join(name))?)))
        };
        let trades = if trades { Some(open("trades.csv")?) } else { None };
        let mut r = Recorder { timeseries: open("timeseries.csv")?, trades, buf: String::new(), error: None };
        r.timeseries.write_record(TIMESERIES_COLUMNS).map_err(std::io::Error::other)?;
        if let Some(w) = &mut r.trades {
            w.write_record(TRADES_COLUMNS).map_err(std::io::Error::other)?;
        }
        Ok(r)
    }

    fn int(w: &mut csv::Writer<BufWriter<File>>, value: u64) -> csv::Result<()> {
        w.write_field(itoa::Buffer::new().format(value))
    }

    fn field(w: &mut csv::Writer<BufWriter<File>>, buf: &mut String, value: impl std::fmt::Display) -> csv::Result<()> {
        buf.clear();
        let _ = write!(buf, "{value}");
        w.write_field(buf.as_bytes())
    }

    fn write_step(&mut self, t: &StepTotals, time: &str, env: &crate::environment::weather::Environment, clearing: &Clearing, bearer: LossBearer, ids: &[String]) -> csv::Result<()> {
        let (w, b) = (&mut self.timeseries, &mut self.buf);
        Self::field(w, b, t.step)?;
        w.write_field(time)?;
        for v in [
            t.pv_kwh, t.load_kwh, t.self_consumed_kwh, t.p2p_kwh, t.grid_import_kwh, t.grid_export_kwh, t.battery_charge_kwh, t.battery_discharge_kwh,
            t.curtailed_kwh, t.unserved_kwh, t.losses_kwh,
        ] {
            Self::field(w, b, v)?;
        }
        match t.clearing_price() {
            Some(p) => Self::field(w, b, format_args!("{p:.6}"))?,
            None => w.write_field("")?,
        }
        for p in [clearing.buy_price, clearing.sell_price] {
            match p {
                Some(p) => Self::field(w, b, p.to_decimal_string())?,
                None => w.write_field("")?,
            }
        }
        Self::field(w, b, t.trades)?;
        Self::field(w, b, t.network_losses_kwh)?;
        Self::field(w, b, t.p2p_losses_kwh)?;
        b.clear();
        t.network_fees.write_decimal(b);
        w.write_field(b.as_bytes())?;
        Self::field(w, b, env.irradiance.ghi)?;
        Self::field(w, b, env.clear_sky_index)?;
        Self::field(w, b, t.battery_soc_kwh)?;
        Self::field(w, b, t.max_line_loading)?;
        Self::field(w, b, env.sun.zenith_deg)?;
        Self::field(w, b, env.sun.azimuth_deg)?;
        Self::field(w, b, env.irradiance.dni)?;
        Self::field(w, b, env.irradiance.dhi)?;
        w.write_record(None::<&[u8]>)?;
        let (Some(w), b) = (&mut self.trades, &mut self.buf) else { return Ok(()) };
        for tr in &clearing.trades {
            Self::int(w, t.step)?;
            match tr.seller {
                Seller::Household { index, .. } => w.write_field(&ids[index as usize])?,
                Seller::Pool => w.write_field("pool")?,
            }
            w.write_field(&ids[tr.buyer as usize])?;
            Self::field(w, b, tr.kwh)?;
            b.clear();
            Micros(tr.price.0).write_decimal(b);
            w.write_field(b.as_bytes())?;
            b.clear();
            tr.price.amount_for(tr.billed_kwh(bearer)).write_decimal(b);
            w.write_field(b.as_bytes())?;
            w.write_field(match tr.seller {
                Seller::Household { source, .. } => source.label(),
                Seller::Pool => "pool",
            })?;
            Self::field(w, b, tr.kwh_sent())?;
            Self::field(w, b, tr.loss_kwh)?;
            b.clear();
            tr.fee.amount_for(tr.kwh_sent()).write_decimal(b);
            w.write_field(b.as_bytes())?;
            w.write_record(None::<&[u8]>)?;
        }
        Ok(())
    }

    /// Flushes the files; returns the first error seen during the run.
    pub fn finish(&mut self) -> Result<(), String> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.timeseries.flush().map_err(|e| e.to_string())?;
        match &mut self.trades {
            Some(w) => w.flush().map_err(|e| e.to_string()),
            None => Ok(()),
        }
    }
}

/// The metrics' systems: community totals and recording, last in every step.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct MetricsSystems;

/// Community totals and recording, in [`MetricsSystems`].
pub struct MetricsPlugin;

impl Plugin for MetricsPlugin {
    fn build(&self, app: &mut App) {
        app.init_resource::<StepTotals>()
            .init_resource::<RunTotals>()
            .init_resource::<LevelTotals>()
            .add_systems(crate::base::schedule::SimStep, (record_step, sum_levels).in_set(MetricsSystems));
    }
}

/// Peer energy matched at each community level over the run (level 0 = whole community), for
/// rules that clear in levels; empty otherwise.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct LevelTotals(pub Vec<f64>);

/// Adds the step's per-level matches. Reads `Clearing`; writes `LevelTotals`. Runs in
/// `MetricsSystems`.
pub fn sum_levels(clearing: Res<Clearing>, mut levels: ResMut<LevelTotals>) {
    if levels.0.len() < clearing.kwh_by_level.len() {
        levels.0.resize(clearing.kwh_by_level.len(), 0.0);
    }
    for (total, kwh) in levels.0.iter_mut().zip(&clearing.kwh_by_level) {
        *total += kwh;
    }
}

/// Sums the step over households, updates run totals and per-household totals, and writes the
/// step's CSV rows when recording. Reads `Meter`, `Clearing`, `SimClock`, `StepPrices`,
/// `Environment` (irradiance), `LineStats` (network losses); writes `MeterTotals`, `StepTotals`, `RunTotals`, `Recorder`.
/// Runs last, in `MetricsSystems`.
pub fn record_step(
    clock: Res<SimClock>,
    clearing: Res<Clearing>,
    env: Res<crate::environment::weather::Environment>,
    ids: Res<HouseholdIds>,
    mut step: ResMut<StepTotals>,
    mut run: ResMut<RunTotals>,
    prices: Res<crate::environment::tariff::StepPrices>,
    losses: Option<Res<LossPolicy>>,
    lines: Option<Res<crate::grid::network::LineStats>>,
    recorder: Option<ResMut<Recorder>>,
    mut households: Query<(&Household, &Meter, &mut MeterTotals, &mut crate::household::LossOfLoad, Option<&crate::household::battery::Battery>)>,
) {
    let mut t = StepTotals { step: clock.step, ..Default::default() };
    for (_, m, mut total, mut lol, battery) in &mut households {
        t.battery_soc_kwh += battery.map_or(0.0, |b| b.soc_kwh);
        lol.steps += (m.unserved_kwh > crate::household::UNSERVED_EPSILON_KWH) as u64;
        t.pv_kwh += m.pv_kwh;
        t.load_kwh += m.load_kwh;
        t.self_consumed_kwh += m.self_consumed_kwh;
        t.grid_import_kwh += m.grid_import_kwh;
        t.grid_export_kwh += m.grid_export_kwh;
        t.battery_charge_kwh += m.battery_charge_kwh;
        t.battery_discharge_kwh += m.battery_discharge_kwh;
        t.curtailed_kwh += m.curtailed_kwh;
        t.unserved_kwh += m.unserved_kwh;
        t.losses_kwh += m.losses_kwh;
        total.0.accumulate(m);
    }
    let bearer = losses.map(|l| l.0).unwrap_or_default();
    for tr in &clearing.trades {
        t.p2p_kwh += tr.kwh;
        t.p2p_losses_kwh += tr.loss_kwh;
        t.p2p_value += tr.price.amount_for(tr.billed_kwh(bearer));
        t.network_fees += tr.fee.amount_for(tr.kwh_sent());
    }
    t.trades = clearing.trades.len() as u64;
    // Network losses: those of peer deliveries are already in the buyers' meters (their grid
    // import, or on an island their unserved demand). The rest the grid supplies at the
    // connection point (so the community's grid import, measured there, exceeds the sum of the
    // households' meters); on an island it takes surplus that would have been curtailed, and
    // what that cannot cover is unserved.
    if let Some(lines) = lines {
        t.network_losses_kwh = lines.step_losses_kwh;
        t.max_line_loading = lines.step_max_loading;
        t.losses_kwh += lines.step_losses_kwh;
        let loss = (lines.step_losses_kwh - t.p2p_losses_kwh).max(0.0);
        if prices.connected {
            t.grid_import_kwh += loss;
        } else {
            let covered = loss.min(t.curtailed_kwh);
            t.curtailed_kwh -= covered;
            t.unserved_kwh += loss - covered;
        }
    }
    let dt = clock.frame.step_hours();
    let r = &mut *run;
    r.steps += 1;
    r.peak_grid_import_kw = r.peak_grid_import_kw.max(t.grid_import_kwh / dt);
    r.peak_grid_export_kw = r.peak_grid_export_kw.max(t.grid_export_kwh / dt);
    r.max_imbalance_kwh = r.max_imbalance_kwh.max(t.imbalance_kwh().abs());
    if let Some(p) = t.clearing_price() {
        r.p2p_price_sum += p;
        r.p2p_price_sq_sum += p * p;
        r.p2p_price_steps += 1;
    }
    let s = &mut r.sum;
    s.pv_kwh += t.pv_kwh;
    s.load_kwh += t.load_kwh;
    s.self_consumed_kwh += t.self_consumed_kwh;
    s.p2p_kwh += t.p2p_kwh;
    s.grid_import_kwh += t.grid_import_kwh;
    s.grid_export_kwh += t.grid_export_kwh;
    s.battery_charge_kwh += t.battery_charge_kwh;
    s.battery_discharge_kwh += t.battery_discharge_kwh;
    s.curtailed_kwh += t.curtailed_kwh;
    s.unserved_kwh += t.unserved_kwh;
    s.losses_kwh += t.losses_kwh;
    s.network_losses_kwh += t.network_losses_kwh;
    s.p2p_losses_kwh += t.p2p_losses_kwh;
    s.p2p_value += t.p2p_value;
    s.network_fees += t.network_fees;
    s.trades += t.trades;
    *step = t;
    if let Some(mut rec) = recorder {
        if rec.error.is_none() {
            if let Err(e) = rec.write_step(&t, &clock.time_label(), &env, &clearing, bearer, &ids.0) {
                rec.error = Some(e.to_string());
            }
        }
    }
}

