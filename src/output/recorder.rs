//! `timeseries.csv` and `trades.csv`, streamed while the run goes: one row per step from the
//! metrics' totals, one per trade from the market's clearing.

use crate::base::money::Micros;
use crate::base::schedule::SimStep;
use crate::base::time::SimClock;
use crate::environment::tariff::StepPrices;
use crate::environment::weather::Environment;
use crate::household::HouseholdIds;
use crate::market::{Clearing, LossBearer, LossPolicy, Seller};
use crate::metrics::{EnergyBalance, MetricsSystems, StepTotals};
use bevy::prelude::*;
use std::fmt::Write as _;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

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
pub const TIME_UTC_FORMAT: &str = "%Y-%m-%dT%H:%M:%SZ";

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

    #[allow(clippy::too_many_arguments)]
    pub fn write_step(&mut self, t: &StepTotals, time: &str, time_utc: &str, env: &crate::environment::weather::Environment, tariff: &StepPrices, clearing: &Clearing, bearer: LossBearer, ids: &[String]) -> csv::Result<()> {
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
        w.write_field(time_utc)?;
        let balance = t.balance.values();
        for v in &balance[..EnergyBalance::FIRST_COLUMNS] {
            Self::field(w, b, *v)?;
        }
        for p in [tariff.import, tariff.export] {
            if tariff.connected {
                b.clear();
                Micros(p.0).write_decimal(b);
                w.write_field(b.as_bytes())?;
            } else {
                w.write_field("")?;
            }
        }
        for m in [t.community_bill, t.baseline_bill] {
            b.clear();
            m.write_decimal(b);
            w.write_field(b.as_bytes())?;
        }
        match env.temp_air_c {
            Some(t) => Self::field(w, b, t)?,
            None => w.write_field("")?,
        }
        for v in &balance[EnergyBalance::FIRST_COLUMNS..EnergyBalance::BEFORE_APPLIANCES] {
            Self::field(w, b, *v)?;
        }
        Self::field(w, b, t.appliance_kwh)?;
        Self::field(w, b, t.shifted_kwh)?;
        Self::field(w, b, t.ev_kwh)?;
        let [vehicle, grid_battery] = [balance[EnergyBalance::BEFORE_APPLIANCES], balance[EnergyBalance::BEFORE_APPLIANCES + 1]];
        Self::field(w, b, vehicle)?;
        Self::int(w, t.ev_plugged)?;
        Self::field(w, b, grid_battery)?;
        Self::field(w, b, t.heat_pump_kwh)?;
        Self::field(w, b, t.hot_water_kwh)?;
        match t.mean_indoor_temp_c {
            Some(c) => Self::field(w, b, c)?,
            None => w.write_field("")?,
        }
        Self::int(w, t.heat_pumps_running)?;
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
            // The exact price, shortest round-trip decimal: `amount` is recomputable from it.
            Self::field(w, b, tr.price.0)?;
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

/// The recorder's systems: the step's rows, after the metrics' totals.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordSystems;

/// Records the simulation in `app` into `recorder`'s files from its next step on.
pub fn attach(app: &mut App, recorder: Recorder) {
    app.insert_resource(recorder).configure_sets(SimStep, RecordSystems.after(MetricsSystems)).add_systems(SimStep, record_rows.in_set(RecordSystems));
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
        let time_utc = clock.frame.step_start_utc(clock.step).format(TIME_UTC_FORMAT).to_string();
        if let Err(e) = rec.write_step(&totals, &clock.time_label(), &time_utc, &env, &tariff, &clearing, bearer, &ids.0) {
            rec.error = Some(e.to_string());
        }
    }
}
