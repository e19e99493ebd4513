#!/usr/bin/env python3
"""peergrid's sun, clear sky and plane-of-array irradiance against pvlib, through a real run.

Each case runs a one-house scenario (1 kWp, performance ratio 1, clear sky, hourly steps, a whole
year, times in UTC) and reads back from `timeseries.csv` the sun at each step's middle
(`sun_zenith_deg`, `sun_azimuth_deg`), the clear-sky irradiance (`ghi_w_m2`, `dni_w_m2`,
`dhi_w_m2`) and the PV energy (`pv_kwh`, which is plane-of-array irradiance / 1000 for this house).
pvlib computes the same quantities at the same instants:

- solar position: `get_solarposition(method="nrel_numpy")` (NREL's SPA). Target: zenith and
  azimuth within 0.1 degrees.
- clear sky: `clearsky.simplified_solis` with peergrid's atmosphere (aod700 0.1, precipitable water
  1 cm, sea-level pressure) on SPA's apparent elevation (peergrid implements Simplified Solis).
  Target: GHI within 3% (annual energy; each daytime hour above 100 W/m2 is also reported).
- plane of array: `irradiance.get_total_irradiance(model="isotropic", albedo=0.2)` on pvlib's own
  clear sky. Target: annual plane-of-array energy within 2%.

Usage: python validation/solar_pvlib.py [--peergrid target/release/peergrid] [--markdown FILE]
Exit status 1 if any case misses a target.
"""

import pandas as pd
import pvlib

import harness

# (place, latitude, longitude, tilt, panel azimuth clockwise from north)
CASES = [
    ("Sydney, 20° north-facing", -33.87, 151.21, 20, 0),
    ("Sydney, 35° east-facing", -33.87, 151.21, 35, 90),
    ("Quito (equator), flat", -0.18, -78.47, 0, 0),
    ("Madrid, 30° south-facing", 40.42, -3.70, 30, 180),
    ("Berlin, 35° south-west", 52.52, 13.40, 35, 225),
    ("Reykjavik, 60° south-facing", 64.15, -21.94, 60, 180),
]
YEAR = 2023

POSITION_TOLERANCE_DEG = 0.1
GHI_TOLERANCE = 0.03
POA_TOLERANCE = 0.02
# Steps whose hourly GHI is above this are reported hour by hour.
BRIGHT_W_M2 = 100.0

SCENARIO = """(
    name: "solar-check",
    seed: 1,
    start: "{year}-01-01T00:00",
    timezone: "UTC",
    step_minutes: 60,
    duration_days: 365,
    location: (latitude_deg: {lat}, longitude_deg: {lon}),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    weather: ClearSky,
    households: [
        House(id: "pv", pv: (kwp: 1.0, tilt_deg: {tilt}, azimuth_deg: {azimuth}, performance_ratio: 1.0), load: Archetype(kind: Family)),
    ],
    topology: Generated(layout: Street),
    market: (rule: "grid-only"),
)
"""


def run_case(binary, lat, lon, tilt, azimuth, tmp):
    scenario = tmp / "solar-check.ron"
    scenario.write_text(SCENARIO.format(year=YEAR, lat=lat, lon=lon, tilt=tilt, azimuth=azimuth))
    ts = pd.DataFrame(harness.timeseries(binary, scenario, tmp / "out"))
    mid = pd.to_datetime(ts["time"], utc=True) + pd.Timedelta(minutes=30)
    cols = ["sun_zenith_deg", "sun_azimuth_deg", "ghi_w_m2", "dni_w_m2", "dhi_w_m2", "pv_kwh"]
    ts = ts[cols].astype(float)
    ts.index = pd.DatetimeIndex(mid)
    return ts


def compare(ts, lat, lon, tilt, azimuth):
    times = ts.index
    spa = pvlib.solarposition.get_solarposition(times, lat, lon, method="nrel_numpy")
    up = spa["zenith"] < 90.0
    # Azimuth is ill-defined with the sun overhead: compared where the sun is at least 2° off it.
    az_ok = up & (spa["zenith"] > 2.0)
    dz = (ts["sun_zenith_deg"] - spa["zenith"]).abs()
    daz = ((ts["sun_azimuth_deg"] - spa["azimuth"] + 180.0) % 360.0 - 180.0).abs()

    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    solis = pvlib.clearsky.simplified_solis(90.0 - spa["apparent_zenith"], aod700=0.1, precipitable_water=1.0,
                                            pressure=101325.0, dni_extra=dni_extra)
    solis = solis.fillna(0.0).clip(lower=0.0)
    ghi_ours, ghi_theirs = ts["ghi_w_m2"].sum(), solis["ghi"].sum()
    bright = solis["ghi"] > BRIGHT_W_M2
    ghi_rel = ((ts["ghi_w_m2"] - solis["ghi"]).abs() / solis["ghi"])[bright]

    poa = pvlib.irradiance.get_total_irradiance(tilt, azimuth, spa["apparent_zenith"], spa["azimuth"],
                                                solis["dni"], solis["ghi"], solis["dhi"], albedo=0.2, model="isotropic")
    poa_theirs = poa["poa_global"].fillna(0.0).clip(lower=0.0).sum() / 1000.0
    poa_ours = ts["pv_kwh"].sum()  # 1 kWp at performance ratio 1: kWh = plane-of-array kWh/m²
    row = {
        "zenith_max": dz[up].max(), "zenith_mean": dz[up].mean(),
        "azimuth_max": daz[az_ok].max(), "azimuth_mean": daz[az_ok].mean(),
        "ghi_kwh": ghi_ours / 1000.0, "ghi_pvlib_kwh": ghi_theirs / 1000.0, "ghi_dev": ghi_ours / ghi_theirs - 1.0,
        "ghi_hour_max": ghi_rel.max(), "ghi_hour_mean": ghi_rel.mean(),
        "poa_kwh": poa_ours, "poa_pvlib_kwh": poa_theirs, "poa_dev": poa_ours / poa_theirs - 1.0,
    }
    row["ok"] = (row["zenith_max"] <= POSITION_TOLERANCE_DEG and row["azimuth_max"] <= POSITION_TOLERANCE_DEG
                 and abs(row["ghi_dev"]) <= GHI_TOLERANCE and abs(row["poa_dev"]) <= POA_TOLERANCE)
    return row


def markdown(rows):
    out = [
        "| case | zenith: max / mean deviation | azimuth: max / mean deviation | clear-sky GHI, year: peergrid / pvlib | hours above 100 W/m²: max / mean deviation | plane of array, year: peergrid / pvlib | |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, r in rows:
        out.append(f"| {label} | {r['zenith_max']:.4f}° / {r['zenith_mean']:.4f}° | {r['azimuth_max']:.4f}° / {r['azimuth_mean']:.4f}° | "
                   f"{r['ghi_kwh']:.1f} / {r['ghi_pvlib_kwh']:.1f} kWh/m² ({r['ghi_dev']:+.3%}) | {r['ghi_hour_max']:.2%} / {r['ghi_hour_mean']:.3%} | "
                   f"{r['poa_kwh']:.1f} / {r['poa_pvlib_kwh']:.1f} kWh/m² ({r['poa_dev']:+.3%}) | {'ok' if r['ok'] else 'MISSED'} |")
    return "\n".join(out) + "\n"


def check(binary, case, folder):
    label, lat, lon, tilt, azimuth = case
    row = compare(run_case(binary, lat, lon, tilt, azimuth, folder), lat, lon, tilt, azimuth)
    return label, row["ok"], (label, row)


if __name__ == "__main__":
    harness.run(__doc__, CASES, check,
                f"pvlib {pvlib.__version__}, {YEAR} at hourly steps (sun at each hour's middle); targets: position within "
                f"{POSITION_TOLERANCE_DEG}°, clear-sky GHI within {GHI_TOLERANCE:.0%}, plane of array within {POA_TOLERANCE:.0%}",
                markdown)
