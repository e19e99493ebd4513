//! The flexible devices' own work per step: electric vehicles charging (`SolarFirst`,
//! `PriceAware`), a `Forecast` battery's 24-hour plan, and the building step of 10,000 heat-pump
//! houses (`Thermostat`, `SolarAware`; with a hot-water tank). `cargo bench --bench flexibility`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use peergrid::base::time::{TimeFrame, Zone};
use peergrid::household::battery::{Battery, BatteryMode, BatterySpec};
use peergrid::household::planning::{best_plan, Block};
use peergrid::household::heating::{HeatControl, HeatPump, HeatPumpSpec, HeatWeather};
use peergrid::household::hot_water::{step_draws, HotWater, HotWaterSpec, WaterHeater};
use peergrid::household::vehicle::{EvPolicy, EvSpec, Vehicle};
use std::hint::black_box;

const STEPS_PER_DAY: u64 = 96;

fn frame(days: u64) -> TimeFrame {
    let zone = Zone::parse("Australia/Sydney").expect("zone");
    let start = chrono::NaiveDate::from_ymd_opt(2024, 1, 8).and_then(|d| d.and_hms_opt(0, 0, 0)).expect("date");
    TimeFrame { start_utc: zone.to_utc(start).expect("start"), zone, step_minutes: 15, total_steps: days * STEPS_PER_DAY }
}

/// PV and load of a sunny house at step `s`, kWh per 15 minutes.
fn pv_load(s: u64) -> (f64, f64) {
    let h = (s % STEPS_PER_DAY) as f64 / 4.0;
    (1.2 * (1.0 - ((h - 12.5) / 6.0).powi(2)).max(0.0), 0.15 + 0.1 * f64::from(u8::from((17.0..21.0).contains(&h))))
}

fn vehicles(c: &mut Criterion) {
    let mut g = c.benchmark_group("vehicles");
    let f = frame(7);
    let price = |s: u64| if s % STEPS_PER_DAY < 28 { 180_000 } else { 300_000 };
    for policy in [EvPolicy::SolarFirst, EvPolicy::PriceAware] {
        let cars = 1_000u32;
        g.throughput(Throughput::Elements(u64::from(cars) * f.total_steps));
        g.bench_function(BenchmarkId::new("week", format!("{policy:?}-{cars}cars")), |b| {
            b.iter(|| {
                let spec = EvSpec { policy, ..EvSpec::default() };
                let mut fleet: Vec<Vehicle> = (0..cars).map(|i| Vehicle::new(&spec, 1, i, &f)).collect();
                let mut total = 0.0;
                for s in 0..f.total_steps {
                    let (pv, load) = pv_load(s);
                    for v in &mut fleet {
                        total += v.advance(&f, s, pv, load, &price).0;
                    }
                }
                black_box(total)
            })
        });
    }
    g.finish();
}

fn planning(c: &mut Criterion) {
    let mut g = c.benchmark_group("planning");
    let spec = BatterySpec { capacity_kwh: 10.0, max_charge_kw: 5.0, max_discharge_kw: 5.0, round_trip_efficiency: 0.9, initial_soc: 0.5, min_soc: 0.1, policy: BatteryMode::Forecast, fade_per_cycle: 0.0 };
    let b = Battery::from_spec(&spec, 0.25);
    // A day of hourly blocks on a time-of-use tariff: surplus at midday, deficits morning and
    // evening.
    let blocks: Vec<Block> = (0..24u32)
        .map(|h| {
            let (pv, load): (f64, f64) = (0..4).map(|q| pv_load(u64::from(h * 4 + q))).fold((0.0, 0.0), |a, x| (a.0 + x.0, a.1 + x.1));
            let import = if !(7..22).contains(&h) { 0.18 } else if (15..21).contains(&h) { 0.45 } else { 0.30 };
            Block { steps: 4, surplus_kwh: (pv - load).max(0.0), deficit_kwh: (load - pv).max(0.0), import_price: import, export_price: 0.06 }
        })
        .collect();
    g.throughput(Throughput::Elements(1));
    g.bench_function("forecast_plan_24h", |bench| bench.iter(|| black_box(best_plan(black_box(&b), black_box(&blocks), true))));
    g.finish();
}

fn buildings(c: &mut Criterion) {
    let mut g = c.benchmark_group("buildings");
    let houses = 10_000usize;
    for control in [HeatControl::Thermostat, HeatControl::SolarAware] {
        let spec = HeatPumpSpec { control, ..HeatPumpSpec::default() };
        let tank_spec = HotWaterSpec { heater: WaterHeater::HeatPump, ..HotWaterSpec::default() };
        let mut pumps: Vec<HeatPump> = (0..houses).map(|_| HeatPump::new(&spec, Some(tank_spec.profile.daily_kwh()))).collect();
        let mut tanks: Vec<HotWater> = (0..houses).map(|_| HotWater::new(&tank_spec)).collect();
        let mut s = 0u64;
        g.throughput(Throughput::Elements(houses as u64));
        g.bench_function(BenchmarkId::new("step", format!("{control:?}-{houses}houses")), |b| {
            b.iter(|| {
                // A winter day's temperature and sun, step by step.
                let h = (s % STEPS_PER_DAY) as f64 / 4.0;
                let w = HeatWeather { t_out_c: 2.0 + 4.0 * (std::f64::consts::PI * (h - 9.0) / 12.0).sin(), vertical_w_m2: 150.0 * (1.0 - ((h - 12.5) / 4.0).powi(2)).max(0.0), hours: 0.25, import_price: 300_000 };
                let start = chrono::NaiveTime::from_num_seconds_from_midnight_opt((s % STEPS_PER_DAY) as u32 * 900, 0).expect("time");
                let surplus = pv_load(s).0 * 0.5;
                // The step's draws, found once for every tank of the profile (as the run does).
                let draws = step_draws(tank_spec.profile, start, w.hours);
                let mut total = 0.0;
                for (p, t) in pumps.iter_mut().zip(&mut tanks) {
                    p.begin_step(&w);
                    let spare = p.capacity_w - p.space_need_w();
                    let (hw_kwh, hw_w) = t.advance_with(&w, &draws, Some((p, spare)), surplus);
                    total += hw_kwh + p.advance(&w, hw_w, surplus);
                    p.close_step();
                }
                s += 1;
                black_box(total)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, vehicles, planning, buildings);
criterion_main!(benches);
