//! The scenario file as written by a planner (RON). Every field is documented with its unit in
//! `scenarios/README.md`; keep the two in step. Unknown fields are rejected so typos are caught.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
pub use crate::grid::topology::Phase;
pub use crate::environment::weather::WeatherSpec;
pub use crate::environment::sky::ClearSkyModel;
pub use crate::environment::solar::Transposition;
pub use crate::household::load::Archetype;
pub use crate::household::appliance::ApplianceSpec;
pub use crate::household::vehicle::EvSpec;
pub use crate::household::heating::HeatPumpSpec;
pub use crate::household::hot_water::HotWaterSpec;
pub use crate::household::battery::BatterySpec;
pub use crate::household::LossBudget;
pub use crate::grid::generate::Layout;
pub use crate::grid::topology::NodeKind;
pub use crate::ledger::StakeKind;
pub use crate::market::BiddingSpec;
pub use crate::market::preferences::PreferencesSpec;

fn default_timezone() -> String {
    "UTC".to_string()
}
fn default_step_minutes() -> u32 {
    15
}
fn default_one() -> f64 {
    1.0
}
fn default_emission_factor() -> f64 {
    0.7
}
fn default_rule() -> String {
    "double-auction".to_string()
}
fn default_market_reserve_soc() -> f64 {
    0.5
}

/// The whole scenario file.
/// The version of the scenario format this build reads: a change that would make an older file
/// mean something else gets a new version.
pub const SCENARIO_SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// The version of this format the file is written for (default: the current one,
    /// [`SCENARIO_SCHEMA_VERSION`]); a file for another version is rejected, not misread.
    #[serde(default)]
    pub schema_version: Option<u32>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub seed: u64,
    /// Local start, `YYYY-MM-DDTHH:MM[:SS]`, in `timezone`.
    pub start: String,
    /// IANA name (`Australia/Sydney`), `UTC`, or a fixed offset (`+10:00`).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    #[serde(default = "default_step_minutes")]
    pub step_minutes: u32,
    pub duration_days: f64,
    pub location: LocationSpec,
    pub grid: GridSpec,
    /// ISO 4217 code of the money in prices and bills (`AUD`, `EUR`); shown on every money
    /// figure, rounded for display to its minor unit. Settlement is in micro-units either way.
    #[serde(default)]
    pub currency: Option<String>,
    /// Grid emission factor used for `co2_avoided_kg`, kg CO2 per kWh.
    #[serde(default = "default_emission_factor")]
    pub emission_factor_kg_per_kwh: f64,
    /// A time series of the grid's emission factor instead (CSV `time,kg_per_kwh`, typically
    /// hourly; path relative to the scenario file).
    #[serde(default)]
    pub emission_factor_file: Option<String>,
    #[serde(default)]
    pub weather: WeatherSpec,
    /// The clear-sky model: `Ineichen` (default) or `SimplifiedSolis`.
    #[serde(default)]
    pub clear_sky: ClearSkyModel,
    /// How diffuse light reaches tilted panels: `Perez` (default), `HayDavies` or `Isotropic`.
    #[serde(default)]
    pub transposition: Transposition,
    pub households: Vec<HouseholdSpec>,
    #[serde(default)]
    pub topology: TopologySpec,
    #[serde(default)]
    pub market: MarketSpec,
    #[serde(default)]
    pub battery_policy: BatteryPolicySpec,
    #[serde(default)]
    pub ledger: LedgerSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    /// Which files a run writes: `Full` (default) or `Aggregate` (no per-trade files).
    #[serde(default)]
    pub output: OutputLevel,
    /// Which files the tables go to: `Csv` (default), `Parquet` or `Both`.
    #[serde(default)]
    pub format: TableFormat,
    /// Also a row per household and step (`household_timeseries`).
    #[serde(default)]
    pub household_series: bool,
    /// Also a row per line and step (`line_timeseries`: the flow on it).
    #[serde(default)]
    pub line_series: bool,
    /// `--set`s on Group members (`households[id=v007]...`), applied when the group is drawn.
    #[serde(skip)]
    pub member_sets: Vec<super::set::MemberSet>,
    /// Things that happen during the run, in any order.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Communities households join by choice (`member_of`), each with its own rule, treasury,
    /// fee and services; none by default (everyone trades in the one market).
    #[serde(default)]
    pub communities: Vec<CommunitySpec>,
    /// Households choose their community at regular intervals (a logit model with a switching
    /// cost); none by default (moves only by events).
    #[serde(default)]
    pub competition: Option<CompetitionSpec>,
}

fn default_choice_interval_days() -> f64 {
    30.0
}
fn default_beta() -> Dist {
    Dist::Fixed(0.05)
}
fn default_switching_cost() -> Dist {
    Dist::Fixed(100.0)
}
pub(crate) fn default_vote_epsilon() -> Dist {
    Dist::Fixed(1.0)
}
fn default_quorum() -> f64 {
    0.25
}
fn default_majority() -> f64 {
    0.5
}

/// How households choose their community. Every `interval_days` each household prices its own
/// energy of the interval in every open community from that community's published figures
/// (what its members saved per kWh bought and earned per kWh sold, after its current fee, and
/// the services it paid per member), adds its preferences (its green, local and favourite
/// premiums on the share of members' demand met by members' PV; favourites' communities) and
/// chooses by a logit: P(j) ∝ exp(β·(gain_j − switching_cost·[j ≠ current])), staying free
/// (grid only, gain 0) being one of the choices.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CompetitionSpec {
    /// Days between choices (at least one step).
    #[serde(default = "default_choice_interval_days")]
    pub interval_days: f64,
    /// β, per currency unit: how strongly a household follows the gain (0: at random). Drawn
    /// per household.
    #[serde(default = "default_beta")]
    pub beta: Dist,
    /// What moving costs a household, currency (its loyalty). Drawn per household.
    #[serde(default = "default_switching_cost")]
    pub switching_cost: Dist,
    /// Most households that move in one round (the largest gains first); none: no limit.
    #[serde(default)]
    pub max_moves_per_round: Option<u32>,
    /// ε, currency: a member votes yes when the proposal lowers its bill by more than ε, no when
    /// it raises it by more than ε, and stays away otherwise. Drawn per household.
    #[serde(default = "default_vote_epsilon")]
    pub vote_epsilon: Dist,
}

/// A community's referendums: at each period's end, the first of its `proposals` that is put
/// forward (by a majority of its witnesses, or by `support` of its members) goes to a vote of
/// its members; it passes with turnout of at least `quorum` and more than `majority` of the
/// votes cast, and applies from the next period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReferendumSpec {
    /// The changes that can be proposed, in order of precedence.
    pub proposals: Vec<ProposalSpec>,
    #[serde(default)]
    pub proposed_by: ProposerSpec,
    #[serde(default)]
    pub votes: VotingSpec,
    /// Least share of the votes (members or stake) that must be cast, 0..1.
    #[serde(default = "default_quorum")]
    pub quorum: f64,
    /// Share of the votes cast that yes must exceed, 0.5..1.
    #[serde(default = "default_majority")]
    pub majority: f64,
}

/// A change a referendum can make to its community's terms.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ProposalSpec {
    /// A `Fixed` fee policy's rate.
    FeeRate { rate: f64 },
    /// A `Flexible` fee policy's bounds.
    FeeBounds { min_rate: f64, max_rate: f64 },
    /// A `Flexible` fee policy's gains.
    FeeGains { runway_gain: f64, churn_gain: f64 },
    /// The network-fee rebate's budget per period.
    RebateBudget { budget_per_period: f64 },
    /// The solidarity fund's budget per period.
    SolidarityBudget { budget_per_period: f64 },
    /// The community's rule's price-position parameter (`k` of `double-auction` and
    /// `hierarchical`), e.g. `RuleParam(name: "k", value: 0.7)`.
    RuleParam { name: String, value: f64 },
}

/// Who puts a proposal to the vote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ProposerSpec {
    /// A majority of its witnesses, each as it would vote.
    #[default]
    Witnesses,
    /// Members who would vote yes, when they are at least `support` of its members.
    Members { support: f64 },
}

/// How members' votes weigh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum VotingSpec {
    #[default]
    OneMemberOneVote,
    /// By stake: the member's PV, kWp (as in witness elections).
    ByStake,
}

fn default_period_days() -> f64 {
    30.0
}
fn default_community_witnesses() -> u32 {
    3
}
fn default_default_after_periods() -> u32 {
    3
}
fn default_runway_gain() -> f64 {
    0.5
}

/// A community households join by choice. Members trade with members under its rule; its
/// treasury takes a fee on their peer sales and pays its witnesses and services each period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CommunitySpec {
    /// Letters, digits, `_`, `-`, `.`; what households' `member_of` names.
    pub id: String,
    #[serde(default)]
    pub name: String,
    /// Its trading rule (`peergrid rules`); default `double-auction`.
    #[serde(default = "default_rule")]
    pub rule: String,
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    pub fee_policy: CommunityFeeSpec,
    /// Length of its period (payments, fee update, default count), days.
    #[serde(default = "default_period_days")]
    pub period_days: f64,
    /// Paid into its treasury at its founding by its founding members, in equal shares.
    #[serde(default)]
    pub initial_fund: f64,
    /// Witnesses its members elect each period.
    #[serde(default = "default_community_witnesses")]
    pub witnesses: u32,
    /// Paid to each witness per period.
    #[serde(default)]
    pub witness_pay_per_period: f64,
    #[serde(default)]
    pub services: Vec<ServiceSpec>,
    /// It defaults after this many periods in a row with its obligations not paid in full.
    #[serde(default = "default_default_after_periods")]
    pub default_after_periods: u32,
    /// Its members' referendums on its terms; none by default.
    #[serde(default)]
    pub referendum: Option<ReferendumSpec>,
}

/// How a community sets its fee on members' peer sales (a fraction of the trade amount, paid by
/// the seller).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum CommunityFeeSpec {
    Fixed { rate: f64 },
    /// Each period: clamp(fee × (1 + runway_gain·(R* − R)/R* + churn_gain·churn), min_rate,
    /// max_rate), moving at most 12.5% per period; R = treasury ÷ mean obligations of the last
    /// three periods, R* = `target_runway_periods`.
    Flexible {
        initial_rate: f64,
        min_rate: f64,
        max_rate: f64,
        target_runway_periods: f64,
        #[serde(default = "default_runway_gain")]
        runway_gain: f64,
        #[serde(default = "default_one")]
        churn_gain: f64,
    },
}

/// What a community's treasury pays for, at the end of each period.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum ServiceSpec {
    /// Refunds `share` of each member's network fees of the period.
    NetworkFeeRebate { share: f64, budget_per_period: f64 },
    /// Pays members in energy hardship (energy spending above 10% of income over the period) the
    /// excess; members need an `income_per_year`.
    Solidarity { budget_per_period: f64 },
    /// A battery at the grid's connection point, bought from the supplier out of the initial
    /// fund at the founding and operated for the members: it serves what the market left of
    /// their deficits before the grid and charges from what it left of their PV surplus.
    /// Members pay `export + sell_share × (import − export)` per kWh it delivers and are paid
    /// `export + buy_share × (import − export)` per kWh that charges it. Its value is `cost` ×
    /// the share of its `life_years` left (what the supplier pays back at a default).
    Battery {
        battery: BatterySpec,
        cost: f64,
        life_years: f64,
        #[serde(default = "default_battery_buy_share")]
        buy_share: f64,
        #[serde(default = "default_battery_sell_share")]
        sell_share: f64,
    },
}

fn default_battery_buy_share() -> f64 {
    0.25
}
fn default_battery_sell_share() -> f64 {
    0.75
}

impl ScenarioFile {
    /// Households the file describes: one per House, `count` per Group (before validation).
    pub fn household_count(&self) -> u64 {
        self.households.iter().map(|h| if let HouseholdSpec::Group(g) = h { u64::from(g.count) } else { 1 }).sum()
    }
}

/// Which files `peergrid run` writes. Both keep every aggregate file (`summary.json`,
/// `households.csv`, `timeseries.csv`, `lines.csv`, `topology.json`, `report.html`) and build,
/// sign and chain every ledger block (the head is in `summary.json`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
pub enum OutputLevel {
    /// Also a row per trade (`trades.csv`) and every block (`ledger.jsonl`).
    #[default]
    Full,
    /// No per-trade files: for long runs of large districts, whose `trades.csv` and
    /// `ledger.jsonl` would take gigabytes and most of the run time.
    Aggregate,
}

impl OutputLevel {
    pub fn label(self) -> &'static str {
        match self {
            OutputLevel::Full => "full",
            OutputLevel::Aggregate => "aggregate",
        }
    }
}

/// Which files a run's tables are written to (`--format`, the scenario's `format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
pub enum TableFormat {
    /// CSV files (the default).
    #[default]
    Csv,
    /// Parquet files; `trades.csv` is not written, the small CSVs `report.html` is built from
    /// (timeseries, households, lines) still are.
    Parquet,
    /// Both, every table twice.
    Both,
}

impl TableFormat {
    pub fn label(self) -> &'static str {
        match self {
            TableFormat::Csv => "csv",
            TableFormat::Parquet => "parquet",
            TableFormat::Both => "both",
        }
    }

    /// Whether tables that only researchers read in bulk (trades, the per-household series) are
    /// written as CSV.
    pub fn bulk_csv(self) -> bool {
        self != TableFormat::Parquet
    }

    /// Whether the tables are written as Parquet.
    pub fn parquet(self) -> bool {
        self != TableFormat::Csv
    }
}

/// A change during the run, effective from the start of step `step` (0-based).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum EventSpec {
    /// The household moves to the community `community` (a path, outermost first).
    JoinCommunity { step: u64, household: String, community: String },
    /// The household leaves its smallest community (it stays in the enclosing ones).
    LeaveCommunity { step: u64, household: String },
    /// The household moves to the community `to` of `communities` (`None`: it leaves, and deals
    /// with the grid).
    SwitchCommunity { step: u64, household: String, to: Option<String> },
    /// The community of `communities` is founded at `step` (not before the run): its members
    /// (`member_of`) join then and pay its initial fund.
    FoundCommunity { step: u64, community: String },
    /// A cloud over part of the grid for `steps` steps: the houses under it get `transmittance`
    /// of the global horizontal irradiance (0.3 by default: a thick cumulus), split again into
    /// beam and diffuse (Erbs), so their PV drops while the rest of the grid's does not.
    Cloud {
        step: u64,
        steps: u64,
        over: CloudArea,
        #[serde(default = "default_cloud_transmittance")]
        transmittance: f64,
    },
    /// The market switches to the trading rule `rule` (see `peergrid rules`) with its default
    /// parameters (the scenario's own when it is the scenario's rule). Not with `communities`,
    /// each of which has its rule.
    SwitchRule { step: u64, rule: String },
}

fn default_cloud_transmittance() -> f64 {
    0.3
}

/// Where a cloud is.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum CloudArea {
    /// These households.
    Households(Vec<String>),
    /// The households whose grid node lies within `radius_m` of the node `node` (as placed in
    /// `topology.json`).
    Near { node: String, radius_m: f64 },
}

/// Electrical settings of the distribution network.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Line-to-line voltage of the low-voltage network, V (three-phase, balanced).
    #[serde(default = "default_nominal_voltage_v")]
    pub nominal_voltage_v: f64,
    /// Curtail exports and shed load so that no line exceeds its capacity; `false` only reports
    /// the flows (to see what the limits cost).
    #[serde(default = "default_true")]
    pub enforce_line_limits: bool,
    /// Allowed deviation of node voltages from nominal, per unit (0.1 = ±10%, EN 50160).
    #[serde(default)]
    pub voltage_tolerance: Option<f64>,
    /// The voltage band in phase-to-neutral volts, as planners and grid codes state it (e.g.
    /// `(min: 216.2, max: 253)`, AS 61000.3.100 around 230 V): instead of `voltage_tolerance`,
    /// relative to `nominal_voltage_v / √3`.
    #[serde(default)]
    pub voltage_band_v: Option<VoltageBandSpec>,
    /// Curtail exports (or shed load) so that no node leaves the voltage band (radial grids;
    /// meshed grids have no voltages in the DC model).
    #[serde(default = "default_true")]
    pub enforce_voltage_limits: bool,
    /// Network fees per kWh sent, by the zones a peer delivery crosses, paid by the buyer to the
    /// network operator (default: none).
    #[serde(default)]
    pub fees: NetworkFeesSpec,
    /// The phase of households that give none (`phase`) and are not imported loads.
    #[serde(default)]
    pub phases: PhaseAssignment,
    /// Power factor of every household's load (lagging: it draws reactive power); default: an
    /// imported load's own (from its P and Q), 1 otherwise.
    #[serde(default)]
    pub load_power_factor: Option<f64>,
    /// Power factor of PV output (its inverter absorbs reactive power as it exports, as grid
    /// codes' fixed power factor mode); default 1.
    #[serde(default = "default_one")]
    pub pv_power_factor: f64,
    /// Every house's export cap, kW, unless it gives its own (e.g. 5 kW, a common static limit
    /// in Australia); default: none.
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
    /// A dynamic export limit the network operator sets each step from the feeder's voltage
    /// headroom, one for every house (`()` for 1.5 to 10 kW); default: none.
    #[serde(default)]
    pub dynamic_export_limit: Option<DynamicExportSpec>,
    /// Every PV inverter's grid-code responses, unless a house gives its own; default: none
    /// (fixed power factor, `pv_power_factor`).
    #[serde(default)]
    pub inverter: Option<InverterSpec>,
}

/// The bounds of a dynamic export limit, kW per house (SA Power Networks' flexible exports: no
/// less than 1.5 kW, up to 10 kW).
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DynamicExportSpec {
    #[serde(default = "default_envelope_min_kw")]
    pub min_kw: f64,
    #[serde(default = "default_envelope_max_kw")]
    pub max_kw: f64,
}

fn default_envelope_min_kw() -> f64 {
    1.5
}

fn default_envelope_max_kw() -> f64 {
    10.0
}

/// A PV inverter's responses to the voltage at its terminals (AS/NZS 4777.2:2020, EN 50549-1).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct InverterSpec {
    /// Reactive power by voltage, in place of the fixed power factor.
    #[serde(default)]
    pub volt_var: Option<CurveSpec>,
    /// A ceiling on active power as the voltage rises.
    #[serde(default)]
    pub volt_watt: Option<CurveSpec>,
    /// Rated power, kVA (default: the PV's `inverter_ac_kw`, else its kWp).
    #[serde(default)]
    pub rated_kva: Option<f64>,
}

/// A grid code's curve, or one given point by point.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub enum CurveSpec {
    /// AS/NZS 4777.2:2020 Australia A (most networks of the NEM).
    AustraliaA,
    /// AS/NZS 4777.2:2020 Australia B (Western Power).
    AustraliaB,
    /// An example of EN 50549-1's Q(U) and P(U) (the standard leaves the points to the network
    /// operator).
    En50549Example,
    /// (phase-to-neutral V, % of rated) points in ascending voltage: volt-var + supplies and −
    /// absorbs reactive power; volt-watt is the ceiling on active power.
    Points(Vec<(f64, f64)>),
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            nominal_voltage_v: default_nominal_voltage_v(),
            enforce_line_limits: true,
            voltage_tolerance: None,
            voltage_band_v: None,
            enforce_voltage_limits: true,
            fees: NetworkFeesSpec::default(),
            phases: PhaseAssignment::default(),
            load_power_factor: None,
            pv_power_factor: 1.0,
            export_limit_kw: None,
            dynamic_export_limit: None,
            inverter: None,
        }
    }
}

/// A voltage band in phase-to-neutral volts.
#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VoltageBandSpec {
    pub min: f64,
    pub max: f64,
}

/// Network fees by zone, per kWh (currency units). Zones come from the grid: same street, same
/// feeder, across feeders (see `src/market/zones.rs`). Fees may not decrease outwards; an unset
/// fee is the next inner one (the street fee defaults to 0).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFeesSpec {
    #[serde(default)]
    pub same_street_per_kwh: Option<f64>,
    #[serde(default)]
    pub same_feeder_per_kwh: Option<f64>,
    #[serde(default)]
    pub across_feeders_per_kwh: Option<f64>,
}

impl NetworkFeesSpec {
    /// (same street, same feeder, across feeders) with unset fees filled from the inside out.
    pub fn resolved(&self) -> [f64; 3] {
        let street = self.same_street_per_kwh.unwrap_or(0.0);
        let feeder = self.same_feeder_per_kwh.unwrap_or(street);
        [street, feeder, self.across_feeders_per_kwh.unwrap_or(feeder)]
    }
}

fn default_nominal_voltage_v() -> f64 {
    crate::grid::network::DEFAULT_NOMINAL_VOLTAGE_V
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    pub latitude_deg: f64,
    pub longitude_deg: f64,
    /// Height above sea level, m: lower air pressure and air mass, a brighter clear sky.
    #[serde(default)]
    pub altitude_m: f64,
    /// Monthly Linke turbidity, January first (12 values, 1 to 10); default: the SoDa
    /// climatology at the location (`Ineichen` clear sky only).
    #[serde(default)]
    pub linke_turbidity: Option<Vec<f64>>,
}

/// Grid connection: tariffs, or an island with reference prices.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum GridSpec {
    Connected {
        import_price_per_kwh: f64,
        export_price_per_kwh: f64,
        #[serde(default)]
        time_of_use: Vec<TouWindowSpec>,
        /// A dynamic tariff: a CSV `time,import_price_per_kwh[,export_price_per_kwh]` (relative
        /// to the scenario file) whose prices replace the flat ones (the flat export where the
        /// file has no export column); not with `time_of_use`.
        #[serde(default)]
        price_file: Option<String>,
        /// A fixed charge per day connected, billed monthly.
        #[serde(default)]
        supply_charge_per_day: f64,
        /// A charge per kW of the household's highest import in each local calendar month.
        #[serde(default)]
        demand_charge_per_kw_month: f64,
    },
    /// No grid connection: unmet demand is unserved, unsold surplus curtailed.
    Islanded {
        /// What a buyer would pay to avoid being cut off (the bid ceiling), per kWh.
        value_of_lost_load_per_kwh: f64,
        /// The least a seller accepts (the ask floor), per kWh.
        #[serde(default)]
        surplus_floor_per_kwh: f64,
    },
}

/// A time-of-use window in local time: `from_hour` inclusive to `to_hour` exclusive (may wrap
/// past midnight). Later windows win where they overlap.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TouWindowSpec {
    pub from_hour: u32,
    pub to_hour: u32,
    pub import_price_per_kwh: f64,
    #[serde(default)]
    pub export_price_per_kwh: Option<f64>,
    #[serde(default)]
    pub weekdays_only: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum HouseholdSpec {
    /// One household, written out.
    House(HouseSpec),
    /// `count` generated households.
    Group(GroupSpec),
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HouseSpec {
    pub id: String,
    /// Grid node the household connects to; required with an explicit topology.
    #[serde(default)]
    pub node: Option<String>,
    /// The phase it is connected to (default: an imported load's, else `network.phases`).
    #[serde(default)]
    pub phase: Option<Phase>,
    #[serde(default)]
    pub pv: Option<PvSpec>,
    pub load: LoadSpec,
    #[serde(default)]
    pub battery: Option<BatterySpec>,
    /// Deferrable appliances (washing machine, dishwasher, dryer).
    #[serde(default)]
    pub appliances: Vec<ApplianceSpec>,
    /// An electric vehicle charged at home.
    #[serde(default)]
    pub ev: Option<EvSpec>,
    /// A heat pump and the building it heats.
    #[serde(default)]
    pub heat_pump: Option<HeatPumpSpec>,
    /// A hot-water tank.
    #[serde(default)]
    pub hot_water: Option<HotWaterSpec>,
    /// A cap on what the house sends into the grid, kW (its connection agreement); default:
    /// `network.export_limit_kw`.
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
    /// Its PV inverter's grid-code responses (volt-var, volt-watt); default: `network.inverter`.
    #[serde(default)]
    pub inverter: Option<InverterSpec>,
    #[serde(default)]
    pub bidding: BiddingSpec,
    #[serde(default)]
    pub preferences: PreferencesSpec,
    /// Nested communities, outermost first: `"north/elm-street"` (default: from the grid, the
    /// feeder and, in a district, the lateral street).
    #[serde(default)]
    pub community: Option<String>,
    /// The id of the community of `communities` it joins (none: it deals with the grid).
    #[serde(default)]
    pub member_of: Option<String>,
    /// Its income per year, currency (a community's solidarity fund's criterion).
    #[serde(default)]
    pub income_per_year: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PvSpec {
    pub kwp: f64,
    /// Panel tilt from horizontal, degrees (0 = flat).
    #[serde(default)]
    pub tilt_deg: f64,
    /// Panel azimuth, degrees clockwise from north; default: facing the equator.
    #[serde(default)]
    pub azimuth_deg: Option<f64>,
    /// All losses in one factor, AC output over DC at the panels' rating (default 0.8); leave it
    /// out when giving `losses` or `inverter_ac_kw`.
    #[serde(default)]
    pub performance_ratio: Option<f64>,
    /// PVWatts' power temperature coefficient, per °C (e.g. -0.0035 for crystalline silicon):
    /// output × (1 + γ·(T_cell − 25 °C)), the cell temperature by Faiman's model from the
    /// weather's air temperature and wind (weathers with air temperature only).
    /// Default 0: no derating.
    #[serde(default)]
    pub temperature_coefficient_per_c: f64,
    /// DC losses before the inverter, PVWatts' budget (`()` for its defaults, 14.08% in all).
    #[serde(default)]
    pub losses: Option<LossBudget>,
    /// The inverter's AC rating, kW: output clips at it, with PVWatts' inverter efficiency
    /// (nominal 96%). Default with `losses`: kWp / 1.2 (PVWatts' DC/AC ratio).
    #[serde(default)]
    pub inverter_ac_kw: Option<f64>,
    /// Share of the plane-of-array irradiance this house loses to nearby shade (trees, chimneys,
    /// the next building), 0..1.
    #[serde(default)]
    pub shading: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum LoadSpec {
    /// A built-in archetype with seeded noise, scaled to `annual_kwh` (default: the archetype's).
    Archetype {
        kind: Archetype,
        #[serde(default)]
        annual_kwh: Option<f64>,
    },
    /// Per-step energies from a CSV `household,step,load_kwh,pv_kwh` (path relative to the
    /// scenario file). `household` selects rows (default: this household's id). The profile's
    /// `pv_kwh` replaces the PV model.
    Profile {
        file: String,
        #[serde(default)]
        household: Option<String>,
    },
    /// Measured half hours from an Ausgrid "Solar home electricity data" file, original wide
    /// form or reshaped per customer (path relative to the scenario file), resampled to the
    /// step. Load is GC (plus CL unless omitted); PV is GG scaled to the household's `pv.kwp`
    /// (no `pv`: no PV). A day shift or variation makes the load synthetic (marked in outputs);
    /// PV always keeps the measured days, so neighbours share the weather.
    Ausgrid {
        file: String,
        /// Customer number (required when the file holds several).
        #[serde(default)]
        customer: Option<u32>,
        /// Size of the measured PV system, kWp (the wide form states it).
        #[serde(default)]
        capacity_kwp: Option<f64>,
        /// UTC offset of the meters' clock (no daylight saving in Ausgrid data).
        #[serde(default = "default_meter_utc_offset")]
        meter_utc_offset: String,
        #[serde(default)]
        controlled_load: ControlledLoad,
        /// Scale the load to this annual consumption, kWh (from the data's mean per day × 365).
        #[serde(default)]
        annual_kwh: Option<f64>,
        /// Read the load this many days later in the data (negative: earlier).
        #[serde(default)]
        load_day_shift: i64,
        /// Standard deviation of a seeded random factor on each day's load (0: as measured).
        #[serde(default)]
        load_variation: f64,
    },
}

/// What to do with Ausgrid's controlled load (CL: off-peak hot water and the like).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum ControlledLoad {
    /// Part of the household's load, at the measured times.
    #[default]
    AsMeasured,
    /// Left out (general consumption only).
    Omit,
    /// Moved, day by day, into the sunny hours (a hot-water timer set to solar hours): each
    /// day's energy kept, no step above the largest measured one.
    Flexible,
    /// Replaced by a hot-water tank (the `hot_water` storage model) that heats on the house's
    /// PV surplus first and its thermostat otherwise: the measured mean energy a day, less the
    /// tank's standing losses, scales profile M's draws; the element's power is the largest
    /// measured controlled-load step. A house's own `hot_water` is kept instead where given.
    Storage,
}

fn default_meter_utc_offset() -> String {
    "+10:00".to_string()
}

/// A distribution for a generated quantity.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum Dist {
    Fixed(f64),
    Uniform { min: f64, max: f64 },
    /// Normal, truncated at zero.
    Normal { mean: f64, sd: f64 },
}

/// Where a Group puts its batteries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum BatteryPlacement {
    /// On houses with PV: each PV house gets one with probability `battery_share / pv_share`
    /// (all of them when that exceeds 1), so the group's share stays `battery_share` where it can.
    #[default]
    PvHouses,
    /// On any house, with probability `battery_share`.
    AnyHouse,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    /// Ids are `prefix` followed by a zero-padded number: `v001`, `v002`, ... (with an imported
    /// topology, the loads' names).
    pub prefix: String,
    pub count: u32,
    /// The phase of every household of the group (default: an imported load's, else
    /// `network.phases`).
    #[serde(default)]
    pub phase: Option<Phase>,
    /// Installed PV of the houses that have PV, kWp.
    pub kwp: Dist,
    /// Fraction of houses with PV.
    #[serde(default = "default_one")]
    pub pv_share: f64,
    #[serde(default)]
    pub tilt_deg: f64,
    #[serde(default)]
    pub azimuth_deg: Option<f64>,
    /// Tilt of each house's panels drawn from this, degrees (clipped to 0..90), instead of
    /// `tilt_deg`.
    #[serde(default)]
    pub tilt_dist: Option<Dist>,
    /// Azimuth of each house's panels drawn from this, degrees clockwise from north (wrapped to
    /// 0..360; `Normal` is not truncated here), instead of `azimuth_deg`.
    #[serde(default)]
    pub azimuth_dist: Option<Dist>,
    /// As a house's `pv.shading`, drawn for each house (clipped to 0..1).
    #[serde(default)]
    pub shading: Option<Dist>,
    /// As a house's `pv.performance_ratio`.
    #[serde(default)]
    pub performance_ratio: Option<f64>,
    /// As a house's `pv.temperature_coefficient_per_c`.
    #[serde(default)]
    pub temperature_coefficient_per_c: f64,
    /// As a house's `pv.losses`.
    #[serde(default)]
    pub losses: Option<LossBudget>,
    /// DC/AC ratio of each house's inverter: its AC rating is kWp / ratio.
    #[serde(default)]
    pub dc_ac_ratio: Option<f64>,
    /// Fraction of houses with a battery.
    #[serde(default)]
    pub battery_share: f64,
    /// Which houses get the batteries: `PvHouses` (default: a battery without PV never
    /// charges, since batteries charge from their own PV) or `AnyHouse`.
    #[serde(default)]
    pub batteries_on: BatteryPlacement,
    #[serde(default)]
    pub battery: Option<BatterySpec>,
    /// Deferrable appliances every house of the group has.
    #[serde(default)]
    pub appliances: Vec<ApplianceSpec>,
    /// The electric vehicle of the houses that own one.
    #[serde(default)]
    pub ev: Option<EvSpec>,
    /// Fraction of houses with an electric vehicle (default: all of them when `ev` is given).
    #[serde(default)]
    pub ev_share: Option<f64>,
    /// The heat pump (and building) of the houses that heat with one, and their fraction
    /// (default: all of them when `heat_pump` is given).
    #[serde(default)]
    pub heat_pump: Option<HeatPumpSpec>,
    #[serde(default)]
    pub heat_pump_share: Option<f64>,
    /// The hot-water tank of the houses that have one, and their fraction (default: all). A
    /// tank heated by `HeatPump` goes only to houses with a heat pump.
    #[serde(default)]
    pub hot_water: Option<HotWaterSpec>,
    #[serde(default)]
    pub hot_water_share: Option<f64>,
    /// A cap on what each house sends into the grid, kW (its connection agreement); default:
    /// `network.export_limit_kw`.
    #[serde(default)]
    pub export_limit_kw: Option<f64>,
    /// Its houses' PV inverters' grid-code responses (volt-var, volt-watt); default: `network.inverter`.
    #[serde(default)]
    pub inverter: Option<InverterSpec>,
    /// Relative weights of archetypes; default: all four equally.
    #[serde(default)]
    pub archetypes: BTreeMap<Archetype, f64>,
    /// Annual consumption; default: each archetype's own.
    #[serde(default)]
    pub annual_kwh: Option<Dist>,
    #[serde(default)]
    pub bidding: BiddingSpec,
    /// Every house of the group states these preferences.
    #[serde(default)]
    pub preferences: PreferencesSpec,
    /// The group's community path (see `HouseSpec::community`).
    #[serde(default)]
    pub community: Option<String>,
    /// As a house's `member_of`, for every house of the group.
    #[serde(default)]
    pub member_of: Option<String>,
    /// Each house's income per year, currency, drawn from this.
    #[serde(default)]
    pub income_per_year: Option<Dist>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum TopologySpec {
    Generated {
        layout: Layout,
        /// Number of feeders; 0 = one per `houses_per_feeder` houses.
        #[serde(default)]
        feeders: u32,
        #[serde(default = "TopologySpec::default_houses_per_feeder")]
        houses_per_feeder: u32,
        /// District layout: houses per lateral street.
        #[serde(default = "TopologySpec::default_houses_per_lateral")]
        houses_per_lateral: u32,
        /// Village layout: extra lines joining the ends of neighbouring feeders (a meshed grid).
        #[serde(default)]
        ties: u32,
        /// Distance between poles along a feeder, m.
        #[serde(default = "TopologySpec::default_spacing_m")]
        spacing_m: f64,
        /// Length of a house's service line to its pole, m.
        #[serde(default = "TopologySpec::default_service_length_m")]
        service_length_m: f64,
        #[serde(default = "TopologySpec::default_feeder_capacity_kw")]
        feeder_capacity_kw: f64,
        #[serde(default = "TopologySpec::default_service_capacity_kw")]
        service_capacity_kw: f64,
    },
    Explicit {
        nodes: Vec<NodeSpec>,
        lines: Vec<LineSpec>,
    },
    /// A network a planner already has, read from `file` (relative to the scenario file): its
    /// buses, lines, transformer and supply voltage. Each load in the file becomes a household
    /// (its name the id, its bus the node, its phase): a `House` whose id is the load's name
    /// describes that one, and `Group`s take the remaining loads in file order, `count` each.
    Import { file: String, format: ImportFormat },
}

/// Formats of network files `Import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
pub enum ImportFormat {
    /// `pandapower.to_json` (pandapower 3.0 or later).
    PandapowerJson,
    /// OpenDSS's text format: the top file (`Master.dss`) and the files it redirects to.
    OpenDss,
}

/// How households without a phase of their own are connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
pub enum PhaseAssignment {
    /// Three-phase, balanced (the flow is the balanced one unless something else is unbalanced).
    #[default]
    ThreePhase,
    /// Single-phase, on a, b, c, a, … in household order.
    RoundRobin,
}

impl TopologySpec {
    fn default_houses_per_feeder() -> u32 {
        40
    }
    fn default_houses_per_lateral() -> u32 {
        20
    }
    fn default_spacing_m() -> f64 {
        30.0
    }
    fn default_service_length_m() -> f64 {
        15.0
    }
    fn default_feeder_capacity_kw() -> f64 {
        400.0
    }
    fn default_service_capacity_kw() -> f64 {
        25.0
    }
}

impl Default for TopologySpec {
    fn default() -> Self {
        TopologySpec::Generated {
            layout: Layout::Village,
            feeders: 0,
            houses_per_feeder: Self::default_houses_per_feeder(),
            houses_per_lateral: Self::default_houses_per_lateral(),
            ties: 0,
            spacing_m: Self::default_spacing_m(),
            service_length_m: Self::default_service_length_m(),
            feeder_capacity_kw: Self::default_feeder_capacity_kw(),
            service_capacity_kw: Self::default_service_capacity_kw(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    pub id: String,
    pub kind: NodeKind,
    #[serde(default)]
    pub x_m: f64,
    #[serde(default)]
    pub y_m: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LineSpec {
    #[serde(default)]
    pub id: Option<String>,
    pub from: String,
    pub to: String,
    pub length_m: f64,
    pub capacity_kw: f64,
    /// Per-phase resistance, Ω/km (default: a 95 mm² aluminium feeder cable, 0.32).
    #[serde(default)]
    pub r_ohm_per_km: Option<f64>,
    /// Per-phase reactance, Ω/km (default 0.075).
    #[serde(default)]
    pub x_ohm_per_km: Option<f64>,
    /// Zero-sequence resistance and reactance (earth return folded in), Ω/km; read by the
    /// unbalanced flow (default: as the positive sequence).
    #[serde(default)]
    pub r0_ohm_per_km: Option<f64>,
    #[serde(default)]
    pub x0_ohm_per_km: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    /// A name from `peergrid rules`.
    #[serde(default = "default_rule")]
    pub rule: String,
    /// Rule parameters by name (see `peergrid rules`).
    #[serde(default)]
    pub params: BTreeMap<String, f64>,
    /// Who pays for energy lost on the lines between seller and buyer: `Seller` (paid only for
    /// what arrives; default), `Buyer` (pays for what was sent) or `Shared` (half each).
    #[serde(default)]
    pub loss_bearer: crate::market::LossBearer,
}

impl Default for MarketSpec {
    fn default() -> Self {
        MarketSpec { rule: default_rule(), params: BTreeMap::new(), loss_bearer: Default::default() }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BatteryPolicySpec {
    /// Batteries offer stored energy to the market only above this fraction of capacity.
    #[serde(default = "default_market_reserve_soc")]
    pub market_reserve_soc: f64,
    /// Ask price for stored energy; default: midway between the step's import and export prices.
    #[serde(default)]
    pub market_offer_price_per_kwh: Option<f64>,
    /// Where `Forecast` batteries' forecasts of PV and load come from: `Perfect` (default),
    /// `Persistence` or `Smoothed`.
    #[serde(default)]
    pub forecast: crate::household::planning::ForecastKind,
}

impl Default for BatteryPolicySpec {
    fn default() -> Self {
        BatteryPolicySpec { market_reserve_soc: default_market_reserve_soc(), market_offer_price_per_kwh: None, forecast: Default::default() }
    }
}

fn default_true() -> bool {
    true
}
fn default_max_transactions_per_block() -> u32 {
    10_000
}
/// Witnesses when the scenario does not say.
pub const DEFAULT_WITNESSES: u32 = 5;
fn default_votes_per_household() -> u32 {
    3
}

/// The hash-chained trade ledger and its validators.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerSpec {
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Seal a block every N steps; 0 = at the end of every step with peer trades.
    #[serde(default)]
    pub block_every_steps: u32,
    /// Net each household's grid import and export over N steps and settle it in the first
    /// block sealed at or after the period's end (like a daily meter read); 0 = in every block.
    #[serde(default)]
    pub grid_settlement_every_steps: u32,
    /// A sealing with more transactions is split over several blocks.
    #[serde(default = "default_max_transactions_per_block")]
    pub max_transactions_per_block: u32,
    /// Number of elected witnesses (block producers), K; default 5 (or every household, if fewer).
    #[serde(default)]
    pub witnesses: Option<u32>,
    #[serde(default)]
    pub stake: StakeKind,
    /// Candidates each household votes for (its stake goes to each).
    #[serde(default = "default_votes_per_household")]
    pub votes_per_household: u32,
    /// Witnesses offline for a while (fault injection).
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// A community fund fed by a fee on every peer trade; off by default.
    #[serde(default)]
    pub treasury: Option<TreasurySpec>,
    /// Write `ledger.jsonl`; when false, every block is still built, signed and chained and the
    /// head hash is reported.
    #[serde(default = "default_true")]
    pub write_jsonl: bool,
}

impl Default for LedgerSpec {
    fn default() -> Self {
        LedgerSpec {
            enabled: true,
            block_every_steps: 0,
            grid_settlement_every_steps: 0,
            max_transactions_per_block: default_max_transactions_per_block(),
            witnesses: None,
            stake: StakeKind::default(),
            votes_per_household: default_votes_per_household(),
            faults: Vec::new(),
            treasury: None,
            write_jsonl: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// Household id of the witness.
    pub witness: String,
    pub from_step: u64,
    /// Exclusive.
    pub to_step: u64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TreasurySpec {
    pub fee_policy: FeePolicySpec,
    /// Paid from the fund to each block's producer (if the fund can), per block.
    #[serde(default)]
    pub producer_reward_per_block: f64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub enum FeePolicySpec {
    /// A fixed fraction of each trade's amount, paid by the seller.
    Fixed { rate: f64 },
    /// Each validator round: rate = clamp(base_rate × (2 − fund / target_balance), min_rate, max_rate).
    Flexible { base_rate: f64, target_balance: f64, min_rate: f64, max_rate: f64 },
}
