#!/usr/bin/env python3
"""EPW and PVGIS typical-year files through peergrid against pvlib's `iotools` readers.

pvlib's source distribution carries the test files (`tests/data/`): the IWEC year for Amsterdam
(`NLD_Amsterdam062400_IWEC.epw`) and a PVGIS typical year for 45° N 8° E
(`tmy_45.000_8.000_2005_2023` as CSV, JSON and EPW). `.ci/run` extracts them from the pinned
sdist into `target/validation-data/` (or pass `--data DIR`).

Each case runs peergrid on the file (`weather: Epw(...)` or `weather: PvgisTmy(...)`) with one
flat 1 kWp house at performance ratio 1, hourly steps through 2023 in the file's own time
(`timezone` = its offset), and reads back per step `ghi_w_m2`, `dni_w_m2`, `dhi_w_m2` and
`temp_air_c`; pvlib reads the same file (`read_epw`, `read_pvgis_tmy`). Rows are matched by
month, day and hour of the label pvlib gives them (the start of the row's hour), which is the
step peergrid runs. Target: every value of every hour identical (to the file's decimals).

Usage: python validation/weather_files_pvlib.py [--peergrid target/release/peergrid] [--data DIR] [--markdown FILE]
"""


import pandas as pd
import pvlib

import harness

DATA = harness.REPO / "target" / "validation-data"  # or --data DIR
YEAR = 2023

# (label, file, scenario weather kind, pvlib reader)
CASES = [
    ("Amsterdam IWEC, EPW", "NLD_Amsterdam062400_IWEC.epw", "Epw", "epw"),
    ("PVGIS 45° N 8° E, CSV", "tmy_45.000_8.000_2005_2023.csv", "PvgisTmy", "pvgis"),
    ("PVGIS 45° N 8° E, JSON", "tmy_45.000_8.000_2005_2023.json", "PvgisTmy", "pvgis"),
    ("PVGIS 45° N 8° E, EPW", "tmy_45.000_8.000_2005_2023.epw", "PvgisTmy", "pvgis"),
]

SCENARIO = """(
    name: "weather-check",
    seed: 1,
    start: "{year}-01-01T00:00",
    timezone: "{tz}",
    step_minutes: 60,
    duration_days: 365,
    location: (latitude_deg: {lat}, longitude_deg: {lon}),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    weather: {kind}(file: "{file}"),
    households: [
        House(id: "pv", pv: (kwp: 1.0, performance_ratio: 1.0), load: Archetype(kind: Family)),
    ],
    topology: Generated(layout: Street),
    market: (rule: "grid-only"),
)
"""

COLUMNS = [("ghi", "ghi_w_m2"), ("dni", "dni_w_m2"), ("dhi", "dhi_w_m2"), ("temp_air", "temp_air_c")]


def read_pvlib(path, reader):
    if reader == "epw":
        data, meta = pvlib.iotools.read_epw(path)
        return data, meta["latitude"], meta["longitude"], meta["TZ"]
    data, meta = pvlib.iotools.read_pvgis_tmy(path)
    if path.suffix == ".epw":
        return data, meta["latitude"], meta["longitude"], meta["TZ"]
    loc = meta["inputs"]["location"] if "location" in meta["inputs"] else meta["inputs"]
    return data, loc["latitude"], loc["longitude"], 0.0


def check(binary, case, folder):
    label, name, kind, reader = case
    path = DATA / name
    data, lat, lon, tz = read_pvlib(path, reader)
    offset = f"{'-' if tz < 0 else '+'}{int(abs(tz)):02d}:{int(round(abs(tz) % 1 * 60)):02d}"
    scenario = folder / "weather-check.ron"
    scenario.write_text(SCENARIO.format(year=YEAR, tz=offset, lat=lat, lon=lon, kind=kind, file=path))
    ours = pd.DataFrame(harness.timeseries(binary, scenario, folder / "out"))
    local = pd.to_datetime(ours["time"]).map(lambda t: (t.month, t.day, t.hour))
    ours.index = pd.MultiIndex.from_tuples(local)
    theirs = data.copy()
    theirs.index = pd.MultiIndex.from_tuples([(t.month, t.day, t.hour) for t in data.index])
    theirs = theirs[~theirs.index.duplicated()]
    common = ours.index.intersection(theirs.index)
    worst = {}
    for col, ours_col in COLUMNS:
        diff = (ours.loc[common, ours_col].astype(float) - theirs.loc[common, col].astype(float)).abs()
        # Negative irradiance (PVGIS writes -0.0) is read as 0.
        worst[col] = diff.max()
    row = {"case": label, "hours": len(common), "ghi_kwh": ours["ghi_w_m2"].astype(float).sum() / 1000.0,
           "ghi_pvlib_kwh": theirs.loc[common, "ghi"].sum() / 1000.0, **worst}
    ok = len(common) == 8760 and all(v <= 1e-9 for v in worst.values())
    return label, ok, row


def markdown(rows):
    out = ["| file | hours matched | GHI, year: peergrid / pvlib | largest difference: GHI / DNI / DHI / air temperature |", "|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['case']} | {r['hours']} | {r['ghi_kwh']:.1f} / {r['ghi_pvlib_kwh']:.1f} kWh/m² | "
                   f"{r['ghi']:.3g} / {r['dni']:.3g} / {r['dhi']:.3g} W/m² / {r['temp_air']:.3g} °C |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    DATA = harness.data_dir()
    harness.run(__doc__, CASES, check, f"pvlib {pvlib.__version__} iotools; target: every hour's values identical", markdown)
