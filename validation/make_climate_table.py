"""Derives assets/monthly_climate.csv: each month's mean daily clearness index, air temperature
and daily temperature range at places with measured or typical-year data.

Kt of a month = its global horizontal irradiation over the extraterrestrial irradiation on a
horizontal plane in the same hours (pvlib's Spencer extraterrestrial irradiance and SPA sun at
each hour's middle); for daily exposure files, the sum of the days over the sum of their daily
extraterrestrial irradiation (the hour integral of the same). Air temperature: the month's mean,
and the mean over its days of (daily maximum − minimum); empty where the source has none.

Sources (pass the folder holding them with --data; .ci/run and docs/validation.md say where each
comes from):
- Bureau of Meteorology daily global solar exposure, Sydney (Observatory Hill), 2012 and 2013
  (../shared/data/solar_exposure_nsw); its air temperature from the Bureau's climate statistics
  for the station (066062): long-term mean daily maximum and minimum of each month, entered
  below by hand (mean = (max + min) / 2, range = max − min).
- pvlib 0.16.1 package data: TMY3 723170TYA.CSV (Greensboro NC), 703165TY.csv (Sand Point AK),
  TMY2 12839.tm2 (Miami FL); its sdist's tests/data: NLD_Amsterdam062400_IWEC.epw, PVGIS
  tmy_45.000_8.000_2005_2023.csv.
- ladybug-tools/ladybug (commit 35e39178), tests/assets/epw: chicago.epw (TMY3), mannheim.epw
  (BBSR test reference year), tokyo.epw, long_beach_2021.epw (TMYx).

Run: python validation/make_climate_table.py --data DIR > assets/monthly_climate.csv
"""
import argparse
import io
import pathlib

import numpy as np
import pandas as pd
import pvlib

SHARED = pathlib.Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "solar_exposure_nsw"
PVLIB_DATA = pathlib.Path(pvlib.__file__).parent / "data"
# Sydney (Observatory Hill, BoM 066062): mean daily maximum and minimum air temperature, °C.
SYDNEY_MAX_MIN_C = [(26.0, 19.0), (26.0, 19.3), (24.9, 17.9), (22.6, 15.1), (19.9, 12.1), (17.4, 9.7),
                    (17.0, 8.5), (18.3, 9.4), (20.6, 11.6), (22.5, 14.0), (23.8, 16.0), (25.4, 17.9)]


def hourly_kt_and_temperature(ghi, temp, lat, lon):
    """Monthly Kt, mean temperature and daily range from hourly series labelled at the start of
    each hour (local standard time with its offset)."""
    mid = ghi.index + pd.Timedelta(minutes=30)
    sun = pvlib.solarposition.get_solarposition(mid, lat, lon)
    h0 = (pvlib.irradiance.get_extra_radiation(mid) * np.cos(np.radians(sun["zenith"]))).clip(lower=0.0)
    month = np.asarray(ghi.index.month)
    kt = [ghi.to_numpy()[month == m].sum() / h0.to_numpy()[month == m].sum() for m in range(1, 13)]
    if temp is None:
        return kt, [None] * 12, [None] * 12
    t = pd.Series(temp.to_numpy(), index=pd.MultiIndex.from_arrays([month, ghi.index.day]))
    daily = t.groupby(level=[0, 1]).agg(["min", "max", "mean"])
    mean = [t[m].mean() for m in range(1, 13)]
    spread = [(daily.loc[m]["max"] - daily.loc[m]["min"]).mean() for m in range(1, 13)]
    return kt, mean, spread


def coerce(data, year=2023):
    """A typical year's rows as one year (its months come from different years)."""
    idx = data.index
    return data.set_axis(pd.DatetimeIndex([t.replace(year=year) for t in idx]))


def epw(path):
    # Some EPW files write their header comments in Latin-1.
    data, meta = pvlib.iotools.read_epw(io.StringIO(path.read_bytes().decode("utf-8", errors="replace")))
    data = coerce(data[~((data.index.month == 2) & (data.index.day == 29))])
    return data["ghi"], data["temp_air"], meta["latitude"], meta["longitude"]


def exposure_kt(files, lat, lon):
    frames = []
    for f in files:
        year = int(f.name.split("_")[3])
        table = pd.read_csv(f, encoding="utf-8-sig")
        for m, col in enumerate(table.columns, start=1):
            for d, v in enumerate(table[col], start=1):
                if pd.notna(v):
                    frames.append((pd.Timestamp(year=year, month=m, day=d), float(v)))
    days = pd.Series(dict(frames)).sort_index()
    # Daily extraterrestrial horizontal irradiation, kWh/m², from 10-minute steps in local time.
    tz = "Australia/Sydney"
    out = []
    for m in range(1, 13):
        sel = days[days.index.month == m]
        h0 = 0.0
        for day in sel.index:
            t = pd.date_range(day, periods=144, freq="10min", tz=tz) + pd.Timedelta(minutes=5)
            sun = pvlib.solarposition.get_solarposition(t, lat, lon)
            h0 += (pvlib.irradiance.get_extra_radiation(t) * np.cos(np.radians(sun["zenith"]))).clip(lower=0.0).sum() / 6000.0
        out.append(sel.sum() / h0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True, help="folder with the pvlib test files and the ladybug EPWs")
    data = pathlib.Path(ap.parse_args().data)
    rows = []

    def add(place, lat, lon, source, kt, mean, spread):
        rows.append([place, f"{lat:.3f}", f"{lon:.3f}", source]
                    + [f"{k:.3f}" for k in kt]
                    + ["" if x is None else f"{x:.1f}" for x in mean]
                    + ["" if x is None else f"{x:.1f}" for x in spread])

    lat, lon = -33.861, 151.205
    add("Sydney (Observatory Hill)", lat, lon, "BoM daily solar exposure 2012-2013; BoM climate statistics 066062 (temperature)",
        exposure_kt(sorted(SHARED.glob("Sol_expo_Sydney_*_kwh_csv.csv")), lat, lon),
        [(hi + lo) / 2 for hi, lo in SYDNEY_MAX_MIN_C], [hi - lo for hi, lo in SYDNEY_MAX_MIN_C])
    for name, path, source in [
        ("Greensboro NC", PVLIB_DATA / "723170TYA.CSV", "pvlib 723170TYA.CSV (TMY3)"),
        ("Sand Point AK", PVLIB_DATA / "703165TY.csv", "pvlib 703165TY.csv (TMY3)"),
    ]:
        d, meta = pvlib.iotools.read_tmy3(path, coerce_year=2023, map_variables=True)
        d.index = d.index - pd.Timedelta(hours=1)  # hour ending -> start of the hour
        add(name, meta["latitude"], meta["longitude"], source, *hourly_kt_and_temperature(d["ghi"], d["temp_air"], meta["latitude"], meta["longitude"]))
    d, meta = pvlib.iotools.read_tmy2(PVLIB_DATA / "12839.tm2")
    d = coerce(d)
    d.index = d.index - pd.Timedelta(hours=1)
    add("Miami FL", meta["latitude"], meta["longitude"], "pvlib 12839.tm2 (TMY2)", *hourly_kt_and_temperature(d["GHI"], d["DryBulb"] / 10.0, meta["latitude"], meta["longitude"]))
    for name, file, source in [
        ("Amsterdam", "NLD_Amsterdam062400_IWEC.epw", "pvlib tests/data NLD_Amsterdam062400_IWEC.epw (IWEC)"),
        ("Chicago IL", "chicago.epw", "ladybug tests/assets/epw/chicago.epw (TMY3)"),
        ("Mannheim", "mannheim.epw", "ladybug tests/assets/epw/mannheim.epw (BBSR test reference year)"),
        ("Tokyo", "tokyo.epw", "ladybug tests/assets/epw/tokyo.epw"),
        ("Long Beach CA", "long_beach_2021.epw", "ladybug tests/assets/epw/long_beach_2021.epw (TMYx)"),
    ]:
        ghi, temp, lat, lon = epw(data / file)
        add(name, lat, lon, source, *hourly_kt_and_temperature(ghi, temp, lat, lon))
    d, _ = pvlib.iotools.read_pvgis_tmy(data / "tmy_45.000_8.000_2005_2023.csv")
    d = coerce(d)
    add("Piedmont (45N 8E)", 45.0, 8.0, "pvlib tests/data tmy_45.000_8.000_2005_2023.csv (PVGIS TMY)",
        *hourly_kt_and_temperature(d["ghi"], d["temp_air"], 45.0, 8.0))

    header = (["place", "latitude_deg", "longitude_deg", "source"] + [f"kt_{m}" for m in range(1, 13)]
              + [f"temp_air_c_{m}" for m in range(1, 13)] + [f"temp_range_c_{m}" for m in range(1, 13)])
    print(",".join(header))
    for r in rows:
        print(",".join(r))


if __name__ == "__main__":
    main()
