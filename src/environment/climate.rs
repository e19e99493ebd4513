//! The climate of a site for the synthetic weather: each month's mean daily clearness index
//! and air temperature, from the scenario or from a table of measured places, and the daily
//! clearness sequence of Aguiar, Collares-Pereira and Conde (1988).
//!
//! - Table: `assets/monthly_climate.csv`, made by `validation/make_climate_table.py` from
//!   measured and typical-year files (each row names its source). A site takes the nearest row
//!   within [`CLIMATE_COVERAGE_KM`]; the air temperature the nearest row with temperatures.
//! - Daily clearness index Kt: a Markov chain over ten states, its transition matrix chosen by
//!   the month's mean Kt from Aguiar et al.'s library of ten (published in Solar Energy 40,
//!   269–279), the value interpolated linearly inside the state drawn. The chain's long-run mean
//!   (its stationary distribution) is scaled to the month's mean, so long runs reproduce the
//!   climate's months.
//! - Air temperature: the month's mean (interpolated between the middles of the months) plus half
//!   the daily range times cos(2π(hour − 15)/24), warmest at 15:00 local time.

use std::sync::OnceLock;

/// A table row covers sites within this distance, km.
pub const CLIMATE_COVERAGE_KM: f64 = 500.0;
const EARTH_RADIUS_KM: f64 = 6371.0;
/// Mean Kt used where no table row covers the site and the scenario gives none (a warning says
/// so).
pub const FALLBACK_CLEARNESS: f64 = 0.5;
/// The warmest hour of the day in the temperature model, local time.
const WARMEST_HOUR: f64 = 15.0;

/// Monthly air temperature: means and mean daily ranges (maximum − minimum), °C, January first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonthlyTemperature {
    pub mean_c: [f64; 12],
    pub daily_range_c: [f64; 12],
}

impl MonthlyTemperature {
    /// Air temperature at a local hour of the day (0..24) on day `ordinal` (1..366) of the year.
    pub fn at(&self, ordinal: u32, leap: bool, hour: f64) -> f64 {
        let mean = mid_month_interpolation(&self.mean_c, ordinal, leap);
        let range = mid_month_interpolation(&self.daily_range_c, ordinal, leap);
        mean + range / 2.0 * (2.0 * std::f64::consts::PI * (hour - WARMEST_HOUR) / 24.0).cos()
    }
}

/// A monthly value on a day of the year, interpolated linearly between the middles of the months
/// (December's and January's wrapping round the year end).
pub fn mid_month_interpolation(monthly: &[f64; 12], ordinal: u32, leap: bool) -> f64 {
    let days: [f64; 12] = [31.0, if leap { 29.0 } else { 28.0 }, 31.0, 30.0, 31.0, 30.0, 31.0, 31.0, 30.0, 31.0, 30.0, 31.0];
    let day = f64::from(ordinal);
    let mut previous = (-31.0 / 2.0, monthly[11]);
    let mut start = 0.0;
    for m in 0..13 {
        let (mid, value) = if m < 12 { (start + days[m] / 2.0, monthly[m]) } else { (start + 31.0 / 2.0, monthly[0]) };
        if m < 12 {
            start += days[m];
        }
        if day <= mid {
            return previous.1 + (value - previous.1) * (day - previous.0) / (mid - previous.0);
        }
        previous = (mid, value);
    }
    monthly[0]
}

/// A row of the climate table.
#[derive(Debug, Clone, PartialEq)]
pub struct ClimatePlace {
    pub place: String,
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    pub source: String,
    pub clearness: [f64; 12],
    pub temperature: Option<MonthlyTemperature>,
}

static TABLE_CSV: &str = include_str!("../../assets/monthly_climate.csv");

/// The built-in climate table.
pub fn climate_table() -> &'static [ClimatePlace] {
    static TABLE: OnceLock<Vec<ClimatePlace>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut r = csv::Reader::from_reader(TABLE_CSV.as_bytes());
        r.records()
            .map(|rec| {
                let rec = rec.expect("the built-in climate table is CSV");
                let num = |i: usize| rec[i].parse::<f64>().ok();
                let months = |first: usize| -> Option<[f64; 12]> {
                    let v: Option<Vec<f64>> = (first..first + 12).map(num).collect();
                    v.map(|v| v.try_into().expect("12 months"))
                };
                let temperature = months(16).zip(months(28)).map(|(mean_c, daily_range_c)| MonthlyTemperature { mean_c, daily_range_c });
                ClimatePlace {
                    place: rec[0].to_string(),
                    latitude_deg: num(1).expect("latitude"),
                    longitude_deg: num(2).expect("longitude"),
                    source: rec[3].to_string(),
                    clearness: months(4).expect("12 clearness indices"),
                    temperature,
                }
            })
            .collect()
    })
}

/// Great-circle distance, km.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (la1, lo1, la2, lo2) = (a.0.to_radians(), a.1.to_radians(), b.0.to_radians(), b.1.to_radians());
    let h = ((la2 - la1) / 2.0).sin().powi(2) + la1.cos() * la2.cos() * ((lo2 - lo1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().asin()
}

/// The nearest table row within [`CLIMATE_COVERAGE_KM`] that `keep` accepts, and its distance.
pub fn nearest_place(latitude_deg: f64, longitude_deg: f64, keep: impl Fn(&ClimatePlace) -> bool) -> Option<(&'static ClimatePlace, f64)> {
    climate_table()
        .iter()
        .filter(|p| keep(p))
        .map(|p| (p, distance_km((latitude_deg, longitude_deg), (p.latitude_deg, p.longitude_deg))))
        .filter(|(_, d)| *d <= CLIMATE_COVERAGE_KM)
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// Lower edges of the month's mean Kt selecting Aguiar et al.'s matrices 1 to 9 (below the
/// first, matrix 0; a mean on an edge takes the matrix above it).
const MATRIX_MEAN_KT: [f64; 9] = [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70];
/// Each matrix's range of daily Kt, split into ten equal states.
const MATRIX_MIN_KT: [f64; 10] = [0.031, 0.058, 0.051, 0.052, 0.028, 0.053, 0.044, 0.085, 0.010, 0.319];
const MATRIX_MAX_KT: [f64; 10] = [0.705, 0.694, 0.753, 0.753, 0.807, 0.856, 0.818, 0.846, 0.842, 0.865];
/// Aguiar, Collares-Pereira and Conde (1988), the library of transition matrices: from state
/// (row) to state (column), by the month's mean Kt. Rows are normalised when used (the published
/// probabilities are rounded to three places).
const TRANSITIONS: [[[f64; 10]; 10]; 10] = [
    [
        [0.229, 0.333, 0.208, 0.042, 0.083, 0.042, 0.042, 0.021, 0.000, 0.000],
        [0.167, 0.319, 0.194, 0.139, 0.097, 0.028, 0.042, 0.000, 0.014, 0.000],
        [0.250, 0.250, 0.091, 0.136, 0.091, 0.046, 0.046, 0.023, 0.068, 0.000],
        [0.158, 0.237, 0.158, 0.263, 0.026, 0.053, 0.079, 0.026, 0.000, 0.000],
        [0.211, 0.053, 0.211, 0.158, 0.053, 0.053, 0.158, 0.105, 0.000, 0.000],
        [0.125, 0.125, 0.250, 0.188, 0.063, 0.125, 0.000, 0.125, 0.000, 0.000],
        [0.040, 0.240, 0.080, 0.120, 0.080, 0.080, 0.120, 0.120, 0.080, 0.040],
        [0.000, 0.250, 0.000, 0.125, 0.000, 0.125, 0.125, 0.250, 0.063, 0.063],
        [0.000, 0.250, 0.000, 0.125, 0.250, 0.000, 0.250, 0.000, 0.000, 0.125],
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.500, 0.250, 0.000, 0.250],
    ],
    [
        [0.000, 0.000, 0.091, 0.000, 0.364, 0.091, 0.182, 0.000, 0.273, 0.000],
        [0.118, 0.118, 0.176, 0.118, 0.059, 0.118, 0.176, 0.059, 0.059, 0.000],
        [0.067, 0.267, 0.067, 0.200, 0.067, 0.000, 0.133, 0.133, 0.000, 0.067],
        [0.118, 0.235, 0.000, 0.235, 0.059, 0.176, 0.118, 0.000, 0.059, 0.000],
        [0.077, 0.154, 0.308, 0.077, 0.154, 0.077, 0.000, 0.077, 0.077, 0.000],
        [0.083, 0.000, 0.167, 0.250, 0.083, 0.167, 0.000, 0.083, 0.167, 0.000],
        [0.222, 0.222, 0.000, 0.111, 0.111, 0.000, 0.111, 0.222, 0.000, 0.000],
        [0.091, 0.182, 0.273, 0.000, 0.091, 0.273, 0.000, 0.091, 0.000, 0.000],
        [0.111, 0.111, 0.111, 0.222, 0.000, 0.000, 0.000, 0.222, 0.111, 0.111],
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.500, 0.000, 0.000, 0.500],
    ],
    [
        [0.206, 0.088, 0.176, 0.176, 0.088, 0.029, 0.176, 0.029, 0.029, 0.000],
        [0.120, 0.100, 0.140, 0.160, 0.120, 0.220, 0.100, 0.000, 0.020, 0.020],
        [0.077, 0.123, 0.185, 0.123, 0.077, 0.139, 0.092, 0.123, 0.061, 0.000],
        [0.048, 0.111, 0.095, 0.206, 0.206, 0.190, 0.095, 0.048, 0.000, 0.000],
        [0.059, 0.137, 0.118, 0.137, 0.098, 0.118, 0.118, 0.157, 0.059, 0.000],
        [0.014, 0.097, 0.139, 0.153, 0.125, 0.139, 0.208, 0.056, 0.042, 0.028],
        [0.073, 0.101, 0.116, 0.145, 0.087, 0.159, 0.203, 0.087, 0.029, 0.000],
        [0.019, 0.037, 0.111, 0.056, 0.074, 0.111, 0.185, 0.296, 0.074, 0.037],
        [0.035, 0.069, 0.035, 0.000, 0.035, 0.103, 0.172, 0.138, 0.379, 0.035],
        [0.000, 0.167, 0.167, 0.000, 0.167, 0.000, 0.000, 0.333, 0.000, 0.167],
    ],
    [
        [0.167, 0.167, 0.167, 0.000, 0.083, 0.125, 0.000, 0.167, 0.125, 0.000],
        [0.117, 0.117, 0.150, 0.117, 0.083, 0.117, 0.200, 0.067, 0.017, 0.017],
        [0.049, 0.085, 0.134, 0.158, 0.098, 0.110, 0.134, 0.134, 0.061, 0.037],
        [0.039, 0.090, 0.141, 0.141, 0.167, 0.141, 0.090, 0.141, 0.039, 0.013],
        [0.009, 0.139, 0.074, 0.093, 0.194, 0.139, 0.167, 0.093, 0.074, 0.019],
        [0.036, 0.018, 0.117, 0.099, 0.144, 0.180, 0.180, 0.117, 0.072, 0.036],
        [0.000, 0.046, 0.061, 0.061, 0.136, 0.159, 0.273, 0.167, 0.098, 0.000],
        [0.016, 0.056, 0.080, 0.128, 0.104, 0.080, 0.160, 0.208, 0.136, 0.032],
        [0.011, 0.053, 0.021, 0.043, 0.128, 0.096, 0.074, 0.223, 0.277, 0.074],
        [0.000, 0.074, 0.037, 0.000, 0.074, 0.074, 0.074, 0.074, 0.333, 0.259],
    ],
    [
        [0.120, 0.200, 0.160, 0.120, 0.120, 0.120, 0.080, 0.000, 0.040, 0.040],
        [0.100, 0.080, 0.120, 0.140, 0.140, 0.200, 0.180, 0.040, 0.000, 0.000],
        [0.046, 0.114, 0.068, 0.171, 0.125, 0.171, 0.080, 0.159, 0.057, 0.011],
        [0.015, 0.061, 0.084, 0.099, 0.191, 0.153, 0.153, 0.115, 0.115, 0.015],
        [0.024, 0.030, 0.098, 0.098, 0.165, 0.195, 0.195, 0.140, 0.043, 0.012],
        [0.015, 0.026, 0.062, 0.124, 0.144, 0.170, 0.170, 0.222, 0.062, 0.005],
        [0.000, 0.013, 0.045, 0.108, 0.112, 0.175, 0.188, 0.224, 0.117, 0.018],
        [0.008, 0.023, 0.054, 0.066, 0.093, 0.125, 0.191, 0.253, 0.183, 0.004],
        [0.006, 0.022, 0.061, 0.033, 0.067, 0.083, 0.139, 0.222, 0.322, 0.044],
        [0.000, 0.046, 0.091, 0.091, 0.046, 0.046, 0.136, 0.091, 0.273, 0.182],
    ],
    [
        [0.250, 0.179, 0.107, 0.107, 0.143, 0.071, 0.107, 0.036, 0.000, 0.000],
        [0.133, 0.022, 0.089, 0.111, 0.156, 0.178, 0.111, 0.133, 0.067, 0.000],
        [0.064, 0.048, 0.143, 0.048, 0.175, 0.143, 0.206, 0.095, 0.079, 0.000],
        [0.000, 0.022, 0.078, 0.111, 0.156, 0.156, 0.244, 0.167, 0.044, 0.022],
        [0.016, 0.027, 0.037, 0.069, 0.160, 0.219, 0.230, 0.160, 0.075, 0.005],
        [0.013, 0.025, 0.030, 0.093, 0.144, 0.202, 0.215, 0.219, 0.055, 0.004],
        [0.006, 0.041, 0.035, 0.064, 0.090, 0.180, 0.337, 0.192, 0.049, 0.006],
        [0.012, 0.021, 0.029, 0.035, 0.132, 0.123, 0.184, 0.371, 0.082, 0.012],
        [0.008, 0.016, 0.016, 0.024, 0.071, 0.103, 0.159, 0.270, 0.309, 0.024],
        [0.000, 0.000, 0.000, 0.000, 0.059, 0.000, 0.059, 0.294, 0.412, 0.176],
    ],
    [
        [0.217, 0.087, 0.000, 0.174, 0.130, 0.087, 0.087, 0.130, 0.087, 0.000],
        [0.026, 0.079, 0.132, 0.079, 0.026, 0.158, 0.158, 0.132, 0.158, 0.053],
        [0.020, 0.020, 0.020, 0.040, 0.160, 0.180, 0.160, 0.200, 0.100, 0.100],
        [0.025, 0.013, 0.038, 0.076, 0.076, 0.139, 0.139, 0.266, 0.215, 0.013],
        [0.030, 0.030, 0.050, 0.020, 0.091, 0.131, 0.162, 0.283, 0.131, 0.071],
        [0.006, 0.006, 0.013, 0.057, 0.057, 0.121, 0.204, 0.287, 0.185, 0.064],
        [0.004, 0.026, 0.037, 0.030, 0.093, 0.107, 0.193, 0.307, 0.167, 0.037],
        [0.011, 0.009, 0.014, 0.042, 0.041, 0.071, 0.152, 0.418, 0.203, 0.041],
        [0.012, 0.022, 0.022, 0.038, 0.019, 0.050, 0.113, 0.281, 0.360, 0.084],
        [0.008, 0.024, 0.039, 0.039, 0.063, 0.039, 0.118, 0.118, 0.284, 0.268],
    ],
    [
        [0.067, 0.133, 0.133, 0.067, 0.067, 0.200, 0.133, 0.133, 0.067, 0.000],
        [0.118, 0.059, 0.059, 0.059, 0.059, 0.118, 0.118, 0.235, 0.118, 0.059],
        [0.000, 0.024, 0.024, 0.049, 0.146, 0.073, 0.195, 0.244, 0.195, 0.049],
        [0.026, 0.000, 0.026, 0.026, 0.053, 0.184, 0.263, 0.184, 0.237, 0.000],
        [0.014, 0.000, 0.042, 0.056, 0.069, 0.097, 0.139, 0.306, 0.278, 0.000],
        [0.009, 0.009, 0.052, 0.069, 0.052, 0.112, 0.215, 0.285, 0.138, 0.060],
        [0.009, 0.009, 0.026, 0.017, 0.094, 0.099, 0.232, 0.283, 0.210, 0.021],
        [0.010, 0.014, 0.016, 0.019, 0.027, 0.062, 0.163, 0.467, 0.202, 0.019],
        [0.004, 0.007, 0.031, 0.017, 0.033, 0.050, 0.086, 0.252, 0.469, 0.050],
        [0.000, 0.000, 0.015, 0.046, 0.031, 0.046, 0.077, 0.123, 0.446, 0.215],
    ],
    [
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 1.000, 0.000],
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 1.000, 0.000],
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.250, 0.250, 0.500, 0.000],
        [0.000, 0.000, 0.000, 0.000, 0.250, 0.000, 0.000, 0.375, 0.250, 0.125],
        [0.000, 0.000, 0.000, 0.083, 0.000, 0.167, 0.167, 0.250, 0.333, 0.000],
        [0.000, 0.000, 0.042, 0.042, 0.042, 0.083, 0.083, 0.292, 0.292, 0.125],
        [0.000, 0.000, 0.032, 0.000, 0.000, 0.032, 0.129, 0.387, 0.355, 0.065],
        [0.000, 0.000, 0.000, 0.038, 0.038, 0.075, 0.047, 0.340, 0.415, 0.047],
        [0.004, 0.004, 0.007, 0.007, 0.011, 0.030, 0.052, 0.141, 0.654, 0.089],
        [0.000, 0.000, 0.000, 0.000, 0.061, 0.061, 0.030, 0.030, 0.349, 0.470],
    ],
    [
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 1.000, 0.000],
        [0.100, 0.100, 0.100, 0.100, 0.100, 0.100, 0.100, 0.100, 0.100, 0.100],
        [0.000, 0.000, 0.000, 0.250, 0.000, 0.000, 0.000, 0.500, 0.250, 0.000],
        [0.000, 0.000, 0.143, 0.143, 0.000, 0.143, 0.143, 0.429, 0.000, 0.000],
        [0.000, 0.000, 0.000, 0.200, 0.000, 0.000, 0.200, 0.400, 0.200, 0.000],
        [0.000, 0.000, 0.000, 0.000, 0.000, 0.000, 0.222, 0.444, 0.333, 0.000],
        [0.000, 0.000, 0.000, 0.000, 0.080, 0.080, 0.080, 0.480, 0.240, 0.040],
        [0.000, 0.000, 0.027, 0.009, 0.027, 0.018, 0.135, 0.523, 0.252, 0.009],
        [0.000, 0.000, 0.000, 0.022, 0.000, 0.043, 0.043, 0.326, 0.511, 0.054],
        [0.000, 0.000, 0.000, 0.143, 0.000, 0.000, 0.000, 0.143, 0.714, 0.000],
    ],
];

/// The matrix for a month's mean Kt.
fn matrix_for(mean_kt: f64) -> usize {
    MATRIX_MEAN_KT.iter().take_while(|&&edge| mean_kt >= edge).count()
}

/// Cumulative, normalised transition rows, and the chain's long-run mean Kt, of every matrix.
struct Chains {
    cumulative: [[[f64; 10]; 10]; 10],
    mean_kt: [f64; 10],
}

fn chains() -> &'static Chains {
    static CHAINS: OnceLock<Chains> = OnceLock::new();
    CHAINS.get_or_init(|| {
        let mut cumulative = [[[0.0; 10]; 10]; 10];
        let mut mean_kt = [0.0; 10];
        for (j, matrix) in TRANSITIONS.iter().enumerate() {
            let mut p = [[0.0; 10]; 10];
            for (r, row) in matrix.iter().enumerate() {
                let total: f64 = row.iter().sum();
                let mut acc = 0.0;
                for (c, x) in row.iter().enumerate() {
                    p[r][c] = x / total;
                    acc += p[r][c];
                    cumulative[j][r][c] = acc;
                }
            }
            // The stationary distribution, by iterating from uniform (the chains mix in tens of
            // steps; 2,000 leaves no visible change).
            let mut pi = [0.1; 10];
            for _ in 0..2000 {
                let mut next = [0.0; 10];
                for r in 0..10 {
                    for c in 0..10 {
                        next[c] += pi[r] * p[r][c];
                    }
                }
                pi = next;
            }
            let step = (MATRIX_MAX_KT[j] - MATRIX_MIN_KT[j]) / 10.0;
            mean_kt[j] = (0..10).map(|s| pi[s] * (MATRIX_MIN_KT[j] + step * (s as f64 + 0.5))).sum();
        }
        Chains { cumulative, mean_kt }
    })
}

/// The daily clearness chain of one site.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct DailyClearness {
    /// The chain's last value, on its own matrix's scale (before the month's scaling).
    chain_kt: Option<f64>,
}

impl DailyClearness {
    /// The next day's Kt in a month of mean `mean_kt`, drawn with the uniform `u`.
    pub fn next(&mut self, mean_kt: f64, u: f64) -> f64 {
        let j = matrix_for(mean_kt);
        let c = chains();
        let (min, step) = (MATRIX_MIN_KT[j], (MATRIX_MAX_KT[j] - MATRIX_MIN_KT[j]) / 10.0);
        let chain = match self.chain_kt {
            // The first day starts at the chain's mean.
            None => c.mean_kt[j],
            Some(previous) => {
                let row = (((previous - min) / step).floor().max(0.0) as usize).min(9);
                let cum = &c.cumulative[j][row];
                let state = cum.iter().position(|&x| u < x).unwrap_or(9);
                let below = if state == 0 { 0.0 } else { cum[state - 1] };
                let within = if cum[state] > below { ((u - below) / (cum[state] - below)).clamp(0.0, 1.0) } else { 0.5 };
                min + step * (state as f64 + within)
            }
        };
        self.chain_kt = Some(chain);
        // Scaled to the month's mean, but never past the clearest day the library knows.
        (chain * mean_kt / c.mean_kt[j]).min(MATRIX_MAX_KT[j])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn long_runs_keep_the_months_mean() {
        let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        for mean in [0.25, 0.33, 0.42, 0.5, 0.58, 0.66, 0.72] {
            let mut chain = DailyClearness::default();
            let days: Vec<f64> = (0..40_000).map(|_| chain.next(mean, r.random())).collect();
            let got = days.iter().sum::<f64>() / days.len() as f64;
            assert!((got - mean).abs() < 0.005, "{mean}: {got}");
            let sd = (days.iter().map(|k| (k - got).powi(2)).sum::<f64>() / days.len() as f64).sqrt();
            assert!(sd > 0.05 && sd < 0.25, "{mean}: sd {sd}");
        }
    }

    #[test]
    fn the_table_covers_its_places_and_says_so_elsewhere() {
        let (sydney, d) = nearest_place(-33.87, 151.21, |_| true).unwrap();
        assert!(sydney.place.starts_with("Sydney") && d < 5.0);
        assert!(nearest_place(-12.46, 130.84, |_| true).is_none(), "Darwin has no row within 500 km");
        let t = nearest_place(52.3, 4.77, |p| p.temperature.is_some()).unwrap().0.temperature.unwrap();
        // Warmest at 15:00, coolest at 03:00, the day's range apart.
        let (warm, cool) = (t.at(196, false, 15.0), t.at(196, false, 3.0));
        assert!((warm - cool - mid_month_interpolation(&t.daily_range_c, 196, false)).abs() < 1e-9);
        assert!((distance_km((52.52, 13.40), (49.52, 8.55)) - 475.0).abs() < 10.0);
    }
}
