//! The clear sky over a site: air mass and pressure at its altitude, the Linke turbidity of its
//! months, and the clear-sky irradiance by the model the scenario chooses.
//!
//! - Relative air mass: Kasten and Young (1989) on the apparent zenith; absolute air mass scales
//!   it by the pressure at the altitude (the standard atmosphere, as pvlib's `alt2pres`).
//! - Ineichen and Perez (2002), as pvlib's `clearsky.ineichen` without the "Perez enhancement":
//!   GHI, DNI and DHI from the absolute air mass, the Linke turbidity TL and the altitude.
//! - Linke turbidity climatology: monthly TL at 1/12° from the SoDa service (Remund, Wald,
//!   Lefèvre, Ranchin and Page 2003), in the form pvlib ships it (`LinkeTurbidities.h5`), coded
//!   into `assets/linke_turbidity.bin` by `validation/make_linke_turbidity.py` with every value
//!   within 0.05 of the original. The value of a day is interpolated linearly between the
//!   middles of the months, by UTC day of year, as pvlib's `lookup_linke_turbidity`.
//! - Simplified Solis (Ineichen 2008) with pvlib's default atmosphere and the site's pressure.

use crate::environment::solar::{clear_sky_solis, Irradiance, SunPosition, Transposition, SEA_LEVEL_PRESSURE_PA};
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use std::io::Read;

/// Which clear-sky model the site uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ClearSkyModel {
    /// Ineichen–Perez with the site's monthly Linke turbidity and altitude (pvlib's default).
    #[default]
    Ineichen,
    /// Simplified Solis with aerosol optical depth 0.1 at 700 nm and 1 cm of precipitable water.
    SimplifiedSolis,
}

const DEG: f64 = std::f64::consts::PI / 180.0;

/// Pressure of the standard atmosphere at `altitude_m`, Pa (pvlib's `alt2pres`).
pub fn pressure_at_altitude_pa(altitude_m: f64) -> f64 {
    100.0 * ((44_331.514 - altitude_m) / 11_880.516).powf(1.0 / 0.190_263_2)
}

/// Relative optical air mass by Kasten and Young (1989); `None` with the sun below the horizon
/// (zenith above 90°).
pub fn relative_air_mass(zenith_deg: f64) -> Option<f64> {
    (zenith_deg <= 90.0).then(|| 1.0 / ((zenith_deg * DEG).cos() + 0.50572 * (6.07995 + (90.0 - zenith_deg)).powf(-1.6364)))
}

/// Ineichen–Perez clear sky for an apparent zenith, absolute air mass, Linke turbidity,
/// altitude and extraterrestrial normal irradiance (W/m²); zero at night.
pub fn ineichen(apparent_zenith_deg: f64, air_mass_absolute: Option<f64>, linke_turbidity: f64, altitude_m: f64, dni_extra_w_m2: f64) -> Irradiance {
    let Some(am) = air_mass_absolute else { return Irradiance::default() };
    let cos_z = (apparent_zenith_deg * DEG).cos().max(0.0);
    if cos_z <= 0.0 {
        return Irradiance::default();
    }
    let tl = linke_turbidity;
    let fh1 = (-altitude_m / 8000.0).exp();
    let fh2 = (-altitude_m / 1250.0).exp();
    let cg1 = 5.09e-5 * altitude_m + 0.868;
    let cg2 = 3.92e-5 * altitude_m + 0.0387;
    let ghi = cg1 * dni_extra_w_m2 * cos_z * (-cg2 * am * (fh1 + fh2 * (tl - 1.0))).exp().max(0.0);
    // Ineichen and Perez's b (0.664 + 0.163/fh1), not the 0.16268 of some later copies.
    let b = 0.664 + 0.163 / fh1;
    let beam = dni_extra_w_m2 * (b * (-0.09 * am * (tl - 1.0)).exp()).max(0.0);
    let beam_from_ghi = ghi * ((1.0 - (0.1 - 0.2 * (-tl).exp()) / (0.1 + 0.882 / fh1)) / cos_z).clamp(0.0, 1e20);
    let dni = beam.min(beam_from_ghi);
    Irradiance { ghi, dni, dhi: ghi - dni * cos_z }
}

/// The Linke turbidity table: 20 × TL by 1/12° cell and month.
static LINKE_TURBIDITY: &[u8] = include_bytes!("../../assets/linke_turbidity.bin");
/// The table stores 20 × TL.
const LINKE_TURBIDITY_SCALE: f64 = 20.0;
const TABLE_HEADER_BYTES: usize = 24;

fn table_u32(at: usize) -> u32 {
    u32::from_le_bytes(LINKE_TURBIDITY[at..at + 4].try_into().expect("4 bytes"))
}

/// Index of the 1/12° cell holding a coordinate, as pvlib's `_degrees_to_index` (rounding half
/// to even; the poles and the antimeridian fall in the edge cells).
fn cell_index(degrees: f64, first_edge: f64, cells_per_degree: f64, cells: u32) -> usize {
    let centre = first_edge + 0.5 / cells_per_degree;
    let index = ((degrees - centre) * cells_per_degree).round_ties_even();
    index.clamp(0.0, f64::from(cells - 1)) as usize
}

/// Monthly Linke turbidity (January first) at a place from the climatology.
pub fn linke_turbidity_climatology(latitude_deg: f64, longitude_deg: f64) -> [f64; 12] {
    let (rows, cols, months, step) = (table_u32(8), table_u32(12), table_u32(16) as usize, table_u32(20) as i32);
    debug_assert_eq!(&LINKE_TURBIDITY[..4], b"PGTL");
    let cells_per_degree = f64::from(cols) / 360.0;
    // Rows run from 90°N southwards.
    let row = cell_index(-latitude_deg, -90.0, cells_per_degree, rows);
    let col = cell_index(longitude_deg, -180.0, cells_per_degree, cols);
    let offsets = TABLE_HEADER_BYTES;
    let data = offsets + 4 * (rows as usize + 1);
    let (start, end) = (table_u32(offsets + 4 * row) as usize, table_u32(offsets + 4 * (row + 1)) as usize);
    let mut residuals = Vec::with_capacity(months * cols as usize);
    flate2::read::ZlibDecoder::new(&LINKE_TURBIDITY[data + start..data + end]).read_to_end(&mut residuals).expect("the built-in Linke turbidity table inflates");
    let mut tl = [0.0; 12];
    for (m, v) in tl.iter_mut().enumerate() {
        let line = &residuals[m * cols as usize..][..=col];
        let raw: i32 = line.iter().map(|&r| i32::from(r as i8) * step).sum();
        *v = f64::from(raw) / LINKE_TURBIDITY_SCALE;
    }
    tl
}

/// Linke turbidity on a UTC day, interpolated between the middles of the months.
pub fn linke_turbidity_on(monthly: &[f64; 12], t: DateTime<Utc>) -> f64 {
    let leap = chrono::NaiveDate::from_ymd_opt(t.year(), 2, 29).is_some();
    crate::environment::climate::mid_month_interpolation(monthly, t.ordinal(), leap)
}

/// The site's atmosphere, fixed for a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sky {
    pub model: ClearSkyModel,
    /// How diffuse light reaches tilted panels.
    pub transposition: Transposition,
    pub altitude_m: f64,
    pub pressure_pa: f64,
    /// Monthly Linke turbidity, January first.
    pub linke_turbidity: [f64; 12],
}

impl Sky {
    /// The sky at a place: the climatology's turbidity unless `linke_turbidity` is given; a Perez
    /// sky for tilted panels (see [`Sky::with_transposition`]).
    pub fn new(model: ClearSkyModel, latitude_deg: f64, longitude_deg: f64, altitude_m: f64, linke_turbidity: Option<[f64; 12]>) -> Sky {
        let linke_turbidity = match (model, linke_turbidity) {
            (_, Some(tl)) => tl,
            (ClearSkyModel::Ineichen, None) => linke_turbidity_climatology(latitude_deg, longitude_deg),
            (ClearSkyModel::SimplifiedSolis, None) => [0.0; 12],
        };
        Sky { model, transposition: Transposition::default(), altitude_m, pressure_pa: pressure_at_altitude_pa(altitude_m), linke_turbidity }
    }

    pub fn with_transposition(self, transposition: Transposition) -> Sky {
        Sky { transposition, ..self }
    }

    /// One line for `check`: the model, altitude, pressure and turbidity.
    pub fn describe(&self) -> String {
        let at = format!("altitude {} m, pressure {:.0} hPa", self.altitude_m, self.pressure_pa / 100.0);
        match self.model {
            ClearSkyModel::SimplifiedSolis => format!("SimplifiedSolis clear sky, {at}, {:?} sky on tilted panels", self.transposition),
            ClearSkyModel::Ineichen => {
                let tl: Vec<String> = self.linke_turbidity.iter().map(|x| format!("{x:.2}")).collect();
                format!("Ineichen clear sky, {at}, {:?} sky on tilted panels, Linke turbidity Jan-Dec {}", self.transposition, tl.join(" "))
            }
        }
    }

    /// Clear-sky irradiance at instant `t` with the sun at `sun`.
    pub fn clear_sky(&self, t: DateTime<Utc>, sun: &SunPosition) -> Irradiance {
        match self.model {
            ClearSkyModel::SimplifiedSolis => clear_sky_solis(sun, self.pressure_pa),
            ClearSkyModel::Ineichen => {
                let am = relative_air_mass(sun.apparent_zenith_deg).map(|am| am * self.pressure_pa / SEA_LEVEL_PRESSURE_PA);
                ineichen(sun.apparent_zenith_deg, am, linke_turbidity_on(&self.linke_turbidity, t), self.altitude_m, sun.dni_extra_w_m2)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// Reference values from pvlib 0.16.1.
    #[test]
    fn atmosphere_matches_pvlib() {
        assert!((pressure_at_altitude_pa(0.0) - 101_324.998_747_876_8).abs() < 1e-6);
        assert!((pressure_at_altitude_pa(100.0) - 100_129.457_098_965_26).abs() < 1e-6);
        assert!((relative_air_mass(60.0).unwrap() - 1.994_292_852_529_249_4).abs() < 1e-12);
        assert!((relative_air_mass(90.0).unwrap() - 37.919_608_376_837_83).abs() < 1e-9);
        assert_eq!(relative_air_mass(90.5), None);
    }

    #[test]
    fn ineichen_matches_pvlib() {
        // ineichen(zenith, airmass_absolute, 3, altitude=0, dni_extra=1366.1)
        let cases = [
            (30.0, 1.15, [898.56194214, 918.52090096, 103.099508]),
            (60.0, 1.99, [470.57977533, 789.63014104, 75.76470481]),
            (89.0, 20.0, [2.02967147, 30.86937709, 1.49092656]),
        ];
        for (zen, am, want) in cases {
            let c = ineichen(zen, Some(am), 3.0, 0.0, 1366.1);
            for (got, want) in [c.ghi, c.dni, c.dhi].into_iter().zip(want) {
                assert!((got - want).abs() <= 1e-6 * want.max(1.0), "zenith {zen}: {got} vs {want}");
            }
        }
        assert_eq!(ineichen(95.0, None, 3.0, 0.0, 1366.1), Irradiance::default());
    }

    #[test]
    fn turbidity_matches_pvlib_lookup() {
        // pvlib's raw values (20 × TL) at Amsterdam (52.37, 4.9) and at (45, 8); the table keeps
        // each within one unit.
        let amsterdam = [54, 51, 70, 64, 67, 75, 80, 90, 80, 72, 49, 55];
        let piedmont = [68, 76, 76, 83, 95, 101, 91, 80, 79, 76, 68, 61];
        for ((lat, lon), want) in [((52.37, 4.9), amsterdam), ((45.0, 8.0), piedmont)] {
            let got = linke_turbidity_climatology(lat, lon);
            for (g, w) in got.iter().zip(want) {
                assert!((g * 20.0 - f64::from(w)).abs() <= 1.0 + 1e-9, "({lat}, {lon}): {got:?} vs {want:?}");
            }
        }
        // lookup_linke_turbidity with interpolation, Amsterdam.
        let exact: [f64; 12] = amsterdam.map(|v| f64::from(v) / 20.0);
        for ((y, m, d), want) in [((2024, 1, 1), 2.7233871), ((2024, 6, 21), 3.79918033), ((2023, 7, 15), 3.99590164)] {
            let got = linke_turbidity_on(&exact, Utc.with_ymd_and_hms(y, m, d, 12, 0, 0).unwrap());
            assert!((got - want).abs() < 1e-7, "{y}-{m}-{d}: {got} vs {want}");
        }
        // The poles and the antimeridian have cells too.
        for (lat, lon) in [(90.0, 180.0), (-90.0, -180.0), (0.0, 0.0)] {
            assert!(linke_turbidity_climatology(lat, lon).iter().all(|tl| (0.5..10.0).contains(tl)));
        }
    }
}
