//! Households replayed from measured Ausgrid data: the file's half hours resampled to the
//! run's steps, scaled to the household's PV size and annual consumption, optionally shifted
//! by days and varied day by day (then marked synthetic).

use super::generate::AusgridDraft;
use super::schema::ControlledLoad;
use crate::scenario::data::ausgrid::{self, Category, Mapping, Measured, SLOTS_PER_DAY};
use crate::household::profile::ProfileSeries;
use crate::base::seed::{rng, Stream};
use crate::base::time::TimeFrame;
use rand_distr::{Distribution, Normal};

/// Days in the year an annual consumption refers to.
const DAYS_PER_YEAR: f64 = 365.0;

/// Builds a household's series from its measured data. `pv_kwp` is the household's PV size
/// (the measured generation is scaled to it; none: no PV); `index` is its place in the scenario (for its random stream).
pub fn series(d: &AusgridDraft, data: &Measured, pv_kwp: Option<f64>, frame: &TimeFrame, seed: u64, index: u64) -> Result<ProfileSeries, String> {
    let gc = data.series.get(&Category::Gc).ok_or("the file has no general consumption (GC) for this customer")?;
    let shifted = Mapping { meter_offset: d.meter_offset, day_shift: d.load_day_shift };
    let same_days = Mapping { day_shift: 0, ..shifted };
    let steps = frame.total_steps as usize;
    // Measured generation on the run's days (the weather every house shares).
    let measured_pv = match data.series.get(&Category::Gg) {
        Some(gg) => ausgrid::resample(data, gg, frame, same_days)?,
        None => vec![0.0; steps],
    };
    // A house without `pv` has no panels, whatever the measured household had.
    let pv_kwh = match pv_kwp {
        Some(kwp) if data.series.contains_key(&Category::Gg) => {
            let measured_kwp = d.capacity_kwp.or(data.capacity_kwp).ok_or("the household's pv.kwp needs the measured system's size: give `capacity_kwp`")?;
            measured_pv.iter().map(|x| x * kwp / measured_kwp).collect()
        }
        _ => vec![0.0; steps],
    };
    let mut load_kwh = ausgrid::resample(data, gc, frame, shifted)?;
    let cl = data.series.get(&Category::Cl).filter(|_| !matches!(d.controlled_load, ControlledLoad::Omit | ControlledLoad::Storage));
    // A storage model replaces the controlled load: what it measured a day, and its power.
    let mut controlled_load = match data.series.get(&Category::Cl).filter(|_| d.controlled_load == ControlledLoad::Storage) {
        Some(c) => {
            let kwh = ausgrid::resample(data, c, frame, shifted)?;
            let days = (frame.total_steps as f64 * frame.step_hours() / 24.0).max(f64::MIN_POSITIVE);
            Some((kwh.iter().sum::<f64>() / days, kwh.iter().fold(0.0f64, |a, x| a.max(*x)) / frame.step_hours()))
        }
        None => None,
    };
    if let Some(cl) = cl {
        let mut cl_kwh = ausgrid::resample(data, cl, frame, shifted)?;
        if d.controlled_load == ControlledLoad::Flexible {
            let weights = if pv_kwh.iter().any(|x| *x > 0.0) { &pv_kwh } else { &measured_pv };
            to_sunny_hours(&mut cl_kwh, weights, frame);
        }
        load_kwh.iter_mut().zip(&cl_kwh).for_each(|(l, c)| *l += c);
    }
    if let Some(annual) = d.annual_kwh {
        let days = data.len() as f64 / SLOTS_PER_DAY as f64;
        // The controlled load counts in the measured consumption whether it is replayed or a
        // storage model replaces it (whose energy then scales alike).
        let with_cl = data.series.get(&Category::Cl).filter(|_| d.controlled_load != ControlledLoad::Omit);
        let measured: f64 = gc.iter().chain(with_cl.into_iter().flatten()).flatten().sum();
        let measured_per_year = measured / days * DAYS_PER_YEAR;
        if measured_per_year <= 0.0 {
            return Err("cannot scale to annual_kwh: the measured load is zero".into());
        }
        load_kwh.iter_mut().for_each(|x| *x *= annual / measured_per_year);
        if let Some((per_day, max_kw)) = &mut controlled_load {
            *per_day *= annual / measured_per_year;
            *max_kw *= annual / measured_per_year;
        }
    }
    if d.load_variation > 0.0 {
        vary_by_day(&mut load_kwh, frame, d.load_variation, seed, index);
    }
    let synthetic = d.load_day_shift != 0 || d.load_variation > 0.0;
    let customer = d.customer.map_or(String::new(), |c| format!(" customer {c}"));
    let mut source = format!("ausgrid{customer}");
    if synthetic {
        source.push_str(&format!(" (synthetic: load {:+} days; daily variation {})", d.load_day_shift, d.load_variation));
    }
    Ok(ProfileSeries { load_kwh, pv_kwh, source, synthetic, controlled_load })
}

/// Moves each local day's controlled load into that day's sunny steps, in proportion to
/// `weights` (PV), no step above the largest measured controlled-load step (the element's
/// power): a hot-water timer set to solar hours. A day's energy is unchanged; what the sunny
/// steps cannot take stays where it was measured, and a day without sun keeps its times.
pub fn to_sunny_hours(cl_kwh: &mut [f64], weights: &[f64], frame: &TimeFrame) {
    let cap = cl_kwh.iter().copied().fold(0.0, f64::max);
    for std::ops::Range { start: k, end } in local_days(frame, cl_kwh.len()) {
        let energy: f64 = cl_kwh[k..end].iter().sum();
        if weights[k..end].iter().any(|w| *w > 0.0) && energy > 0.0 {
            let mut placed = vec![0.0; end - k];
            let mut left = energy;
            // Water-filling: share out by weight among the steps not yet at the cap.
            for _ in 0..end - k {
                let open: f64 = (k..end).filter(|&j| placed[j - k] < cap).map(|j| weights[j]).sum();
                if left <= 1e-12 || open <= 0.0 {
                    break;
                }
                let mut used = 0.0;
                for j in k..end {
                    if placed[j - k] < cap {
                        let add = (left * weights[j] / open).min(cap - placed[j - k]);
                        placed[j - k] += add;
                        used += add;
                    }
                }
                left -= used;
            }
            // What the sunny steps could not take stays at the measured times, pro rata.
            let keep = left / energy;
            for j in k..end {
                cl_kwh[j] = placed[j - k] + cl_kwh[j] * keep;
            }
        }
    }
}

/// The steps of each local day of the run, in order (the first and last may be partial).
fn local_days(frame: &TimeFrame, steps: usize) -> Vec<std::ops::Range<usize>> {
    let mut days: Vec<std::ops::Range<usize>> = Vec::new();
    let mut current = None;
    for k in 0..steps {
        let date = frame.local_date(k as u64);
        match days.last_mut() {
            Some(day) if current == Some(date) => day.end = k + 1,
            _ => days.push(k..k + 1),
        }
        current = Some(date);
    }
    days
}

/// Multiplies each local day's load by `max(0, 1 + sd·z)`, z standard normal from the
/// household's own stream, so the variation never depends on other households or the rule.
fn vary_by_day(load_kwh: &mut [f64], frame: &TimeFrame, sd: f64, seed: u64, index: u64) {
    let mut r = rng(seed, Stream::MeasuredLoad, index);
    let normal = Normal::new(0.0, sd).expect("sd checked in 0..=1");
    for day in local_days(frame, load_kwh.len()) {
        let factor = (1.0 + normal.sample(&mut r)).max(0.0);
        load_kwh[day].iter_mut().for_each(|x| *x *= factor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::time::Zone;
    use chrono::{TimeZone, Utc};

    #[test]
    fn controlled_load_moves_to_the_sunny_hours_of_its_day() {
        let frame = TimeFrame { start_utc: Utc.with_ymd_and_hms(2012, 1, 1, 0, 0, 0).unwrap(), zone: Zone::parse("UTC").unwrap(), step_minutes: 60, total_steps: 48 };
        // Hot water at 1-3 am (1.2 kWh an hour), sun from 9 to 16; the second day has no sun.
        let mut cl: Vec<f64> = (0..48).map(|h| if h % 24 < 3 { 1.2 } else { 0.0 }).collect();
        let sun: Vec<f64> = (0..48).map(|h| if h < 24 && (9..16).contains(&h) { 1.0 + (h as f64 - 12.0).abs() * -0.1 } else { 0.0 }).collect();
        let before: f64 = cl[..24].iter().sum();
        to_sunny_hours(&mut cl, &sun, &frame);
        let day: f64 = cl[..24].iter().sum();
        assert!((day - before).abs() < 1e-9, "the day's energy is kept");
        assert!(cl[..9].iter().all(|x| *x < 1e-12) && cl[9..16].iter().all(|x| *x > 0.0), "{:?}", &cl[..24]);
        assert!(cl.iter().all(|x| *x <= 1.2 + 1e-12), "never above the element's power");
        assert_eq!(&cl[24..27], &[1.2, 1.2, 1.2], "a day without sun keeps its times");
    }
}
