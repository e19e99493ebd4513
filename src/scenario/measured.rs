//! Households replayed from measured Ausgrid data: the file's half hours resampled to the
//! run's steps, scaled to the household's PV size and annual consumption, optionally shifted
//! by days and varied day by day (then marked synthetic).

use super::generate::AusgridDraft;
use super::schema::ControlledLoad;
use crate::ausgrid::{self, Category, Mapping, Measured, SLOTS_PER_DAY};
use crate::profile::ProfileSeries;
use crate::seed::{rng, Stream};
use crate::time::TimeFrame;
use rand_distr::{Distribution, Normal};

/// Days in the year an annual consumption refers to.
const DAYS_PER_YEAR: f64 = 365.0;

/// Builds a household's series from its measured data. `pv_kwp` is the household's PV size
/// (the measured generation is scaled to it; none: no PV); `index` is its place in the scenario (for its random stream).
pub fn series(d: &AusgridDraft, data: &Measured, pv_kwp: Option<f64>, frame: &TimeFrame, seed: u64, index: u64) -> Result<ProfileSeries, String> {
    let gc = data.series.get(&Category::Gc).ok_or("the file has no general consumption (GC) for this customer")?;
    let load: Vec<Option<f64>> = match (d.controlled_load, data.series.get(&Category::Cl)) {
        (ControlledLoad::AsMeasured, Some(cl)) => gc.iter().zip(cl).map(|(g, c)| Some(g.unwrap_or(0.0) + c.unwrap_or(0.0))).collect(),
        _ => gc.clone(),
    };
    let shifted = Mapping { meter_offset: d.meter_offset, day_shift: d.load_day_shift };
    let mut load_kwh = ausgrid::resample(data, &load, frame, shifted)?;
    if let Some(annual) = d.annual_kwh {
        let days = data.len() as f64 / SLOTS_PER_DAY as f64;
        let measured_per_year: f64 = load.iter().flatten().sum::<f64>() / days * DAYS_PER_YEAR;
        if measured_per_year <= 0.0 {
            return Err("cannot scale to annual_kwh: the measured load is zero".into());
        }
        load_kwh.iter_mut().for_each(|x| *x *= annual / measured_per_year);
    }
    if d.load_variation > 0.0 {
        vary_by_day(&mut load_kwh, frame, d.load_variation, seed, index);
    }
    // A house without `pv` has no panels, whatever the measured household had.
    let pv_kwh = match (pv_kwp, data.series.get(&Category::Gg)) {
        (Some(kwp), Some(gg)) => {
            let measured_kwp = d.capacity_kwp.or(data.capacity_kwp).ok_or("the household's pv.kwp needs the measured system's size: give `capacity_kwp`")?;
            let mut pv = ausgrid::resample(data, gg, frame, Mapping { day_shift: 0, ..shifted })?;
            pv.iter_mut().for_each(|x| *x *= kwp / measured_kwp);
            pv
        }
        _ => vec![0.0; frame.total_steps as usize],
    };
    let synthetic = d.load_day_shift != 0 || d.load_variation > 0.0;
    let customer = d.customer.map_or(String::new(), |c| format!(" customer {c}"));
    let mut source = format!("ausgrid{customer}");
    if synthetic {
        source.push_str(&format!(" (synthetic: load {:+} days; daily variation {})", d.load_day_shift, d.load_variation));
    }
    Ok(ProfileSeries { load_kwh, pv_kwh, source, synthetic })
}

/// Multiplies each local day's load by `max(0, 1 + sd·z)`, z standard normal from the
/// household's own stream, so the variation never depends on other households or the rule.
fn vary_by_day(load_kwh: &mut [f64], frame: &TimeFrame, sd: f64, seed: u64, index: u64) {
    let mut r = rng(seed, Stream::MeasuredLoad, index);
    let normal = Normal::new(0.0, sd).expect("sd checked in 0..=1");
    let mut day = None;
    let mut factor = 1.0;
    for (k, x) in load_kwh.iter_mut().enumerate() {
        let date = frame.zone.local(frame.step_start_utc(k as u64)).0.date();
        if day != Some(date) {
            day = Some(date);
            factor = (1.0 + normal.sample(&mut r)).max(0.0);
        }
        *x *= factor;
    }
}
