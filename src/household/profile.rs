//! Per-household energy profiles replayed step by step: measured data or a worked example,
//! read by `scenario::data`.

/// Energies of one household, indexed by step.
#[derive(Debug, Clone, Default)]
pub struct ProfileSeries {
    pub load_kwh: Vec<f64>,
    pub pv_kwh: Vec<f64>,
    /// Where the data comes from, for outputs (empty: a profile file).
    pub source: String,
    /// Made from measured data but not measured as such (shifted days, random variation).
    pub synthetic: bool,
    /// A measured controlled load (off-peak hot water) left out of `load_kwh` for a storage
    /// model to replace: its mean energy a day, kWh, and its largest power, kW.
    pub controlled_load: Option<(f64, f64)>,
}

/// All profiles a scenario uses; households refer to a series by index.
#[derive(Debug, Clone, Default)]
pub struct ProfileTable {
    pub series: Vec<ProfileSeries>,
}
