#!/usr/bin/env python3
"""A heat-pump house through a real run: a year's heat demand and seasonal performance.

The documented house (docs/validation.md): 120 m² of floor, `Renovated` insulation (opaque
envelope 0.6 W/K per m² of floor, 24 m² of windows at U 1.3, 0.5 air changes an hour: 153 W/K in
all), `Medium` mass, 4 W/m² internal gains, windows' solar factor 0.4, heated to 20 °C operative;
its design day -7.3 °C (ASHRAE 2009's 99.6% heating design temperature for Amsterdam, in the
weather file's header). Radiators at 45 °C on the design day: the existing houses of the field
test below.
Weather: the IWEC typical year for Amsterdam (pvlib's test file), hourly steps.

1. Heat demand: the run's heat delivered over the year against the variable-base degree-day
   method (ASHRAE Handbook of Fundamentals, ch. 18): Q = H · Σ_h max(0, T_bal − T_h) with the
   balance temperature T_bal = T_set − (internal + mean solar gains) / H, H the house's heat-loss
   coefficient (from `design_heat_load_kw` / (20 − design temperature)), the solar gains on its
   four vertical windows from pvlib (isotropic sky, the weather file's own DNI and DHI), averaged
   over the heating season (October–April). Target: within 10%.
2. Seasonal performance factor of its air-source heat pump (Ruhnau et al. 2019's COP curve,
   corrected by 0.85, radiators at 45 °C on the design day), heating the house and an Ecodesign
   profile-M hot-water tank (200 l at 60 °C): heat out / electricity in, SEPEMO's SPF_H3 boundary (backup heaters in).
   Target: within 2.8–3.4, the range of air-source heat pumps in the Fraunhofer ISE field tests
   (WP-Effizienz, Miara et al. 2011: new houses, mean 2.9; WPsmart im Bestand, Günther et al.
   2020: existing houses, mean 3.1).

The 5R1C model itself is checked against a published implementation (RC_BuildingSimulator's
test cases, within 0.01%) by the Rust test `household::building::tests`.

Usage: python validation/heating.py [--peergrid target/release/peergrid] [--data DIR] [--markdown FILE]
"""

import pandas as pd
import pvlib

import harness

DATA = harness.REPO / "target" / "validation-data"
EPW = "NLD_Amsterdam062400_IWEC.epw"
SET_POINT_C = 20.0
DESIGN_C = -7.3
FLOOR_M2 = 120.0
WINDOW_M2 = 0.2 * FLOOR_M2
SOLAR_FACTOR = 0.4
INTERNAL_W = 4.0 * FLOOR_M2
HEATING_MONTHS = [10, 11, 12, 1, 2, 3, 4]
DEMAND_TOLERANCE = 0.10
SPF_RANGE = (2.8, 3.4)

SCENARIO = """(
    name: "heating-check", seed: 1, start: "2001-01-01T00:00", timezone: "+01:00", step_minutes: 60, duration_days: 365,
    location: (latitude_deg: 52.30, longitude_deg: 4.77),
    grid: Connected(import_price_per_kwh: 0.30, export_price_per_kwh: 0.05),
    weather: Epw(file: "{epw}"),
    households: [House(id: "house", load: Archetype(kind: Family),
        heat_pump: (building: (floor_area_m2: {floor}, insulation: Renovated, construction: Medium, design_outdoor_c: {design}), design_supply_c: 45),
        {tank})],
    topology: Generated(layout: Street),
    market: (rule: "grid-only"),
)
"""


def run(binary, folder, tank):
    scenario = folder / "house.ron"
    scenario.write_text(SCENARIO.format(epw=DATA / EPW, floor=FLOOR_M2, design=DESIGN_C, tank=tank))
    harness.timeseries(binary, scenario, folder / "out")
    return pd.read_csv(folder / "out" / "households.csv").iloc[0]


def degree_day_demand_kwh(h_w_per_k):
    weather, meta = pvlib.iotools.read_epw(str(DATA / EPW))
    loc = pvlib.location.Location(meta["latitude"], meta["longitude"], altitude=meta["altitude"])
    # EPW hours end at their label: the sun at the middle of the hour.
    times = weather.index - pd.Timedelta(minutes=30)
    sun = loc.get_solarposition(times)
    dni_extra = pvlib.irradiance.get_extra_radiation(times)
    poa = 0.0
    for azimuth in (0, 90, 180, 270):
        p = pvlib.irradiance.get_total_irradiance(90, azimuth, sun["apparent_zenith"].values, sun["azimuth"].values,
                                                  weather["dni"].values, weather["ghi"].values, weather["dhi"].values,
                                                  dni_extra=dni_extra.values, model="isotropic", albedo=0.2)
        poa = poa + pd.Series(p["poa_global"]).fillna(0.0).clip(lower=0.0).values / 4.0
    solar_w = SOLAR_FACTOR * WINDOW_M2 * pd.Series(poa, index=weather.index)
    season = weather.index.month.isin(HEATING_MONTHS)
    t_bal = SET_POINT_C - (INTERNAL_W + solar_w[season].mean()) / h_w_per_k
    hours = (t_bal - weather["temp_air"]).clip(lower=0.0).sum()
    return h_w_per_k * hours / 1000.0, t_bal


def check(binary, case, folder):
    if case == "demand":
        r = run(binary, folder, "")
        h = r["design_heat_load_kw"] * 1000.0 / (SET_POINT_C - DESIGN_C)
        ours = r["heat_delivered_kwh"]
        theirs, t_bal = degree_day_demand_kwh(h)
        dev = ours / theirs - 1.0
        row = {"label": "heat demand, kWh/yr", "ours": ours, "theirs": theirs, "target": f"within {DEMAND_TOLERANCE:.0%} of the degree-day method (H {h:.0f} W/K, balance {t_bal:.1f} °C)", "dev": f"{dev:+.1%}"}
        return row["label"], abs(dev) <= DEMAND_TOLERANCE, row
    r = run(binary, folder, "hot_water: (profile: M, heater: HeatPump)")
    spf = r["spf"]
    row = {"label": "seasonal performance factor (heating and hot water)", "ours": spf, "theirs": None,
           "target": f"{SPF_RANGE[0]}–{SPF_RANGE[1]} (Fraunhofer ISE field tests, air source)", "dev": f"{r['heat_pump_kwh'] + r['hot_water_kwh']:,.0f} kWh electricity, {r['heat_delivered_kwh']:,.0f} kWh heat, {r['comfort_violation_hours']:.0f} h outside the band, {int(r['hot_water_cold_draws'])} cold draws"}
    return row["label"], SPF_RANGE[0] <= spf <= SPF_RANGE[1] and r["comfort_violation_hours"] == 0, row


def markdown(rows):
    out = ["| quantity | peergrid | reference | target | |", "|---|---|---|---|---|"]
    for r in rows:
        theirs = "—" if r["theirs"] is None else f"{r['theirs']:,.0f}"
        ours = f"{r['ours']:,.0f}" if r["ours"] > 100 else f"{r['ours']:.2f}"
        out.append(f"| {r['label']} | {ours} | {theirs} | {r['target']} | {r['dev']} |")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    DATA = harness.data_dir()
    harness.run(__doc__, ["demand", "spf"], check, "A heat-pump house in Amsterdam's typical year (IWEC), hourly", markdown)
