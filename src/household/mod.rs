//! Households as entities: PV array, load source, optional battery, meter, wallet. `sim::create`
//! spawns them; this module measures PV generation and load every step.

pub mod appliance;
pub mod baseline;
pub mod battery;
pub mod building;
pub mod heating;
pub mod hot_water;
pub mod load;
pub mod planning;
pub mod profile;
pub mod side;
pub mod vehicle;

/// The households' systems, in this order in every step.
#[derive(bevy::prelude::SystemSet, Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HouseholdSystems {
    /// PV generation and household load.
    GenerationAndLoad,
    /// Own use first, then the battery (and the grid-only baseline's own use).
    OwnUseAndBattery,
    /// After the market: devices close their step (a heat pump's flexible order is settled).
    AfterMarket,
}

use crate::household::load::{archetype_kwh, LoadNoise, LoadSource, NoiseAhead};
use crate::base::money::Micros;
use crate::household::profile::ProfileTable;
use crate::environment::solar::{Surface, STC_IRRADIANCE_W_M2};
use crate::base::time::SimClock;
use crate::environment::weather::{Environment, Site};
use bevy::prelude::*;
use std::sync::Arc;

/// A household's position in the scenario's household list (its row in every output).
#[derive(Component, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Household {
    pub index: u32,
}

/// Rooftop PV. Read by [`measure_pv_and_load`].
#[derive(Component, Debug, Clone, Copy)]
pub struct PvArray {
    pub kwp: f64,
    pub tilt_deg: f64,
    /// Degrees clockwise from north.
    pub azimuth_deg: f64,
    pub performance_ratio: f64,
    /// PVWatts' power temperature coefficient, per °C (0: no derating).
    pub temperature_coefficient_per_c: f64,
    /// DC kept after the loss budget.
    pub dc_kept: f64,
    /// Inverter AC rating, kW (PVWatts' inverter model), if modelled.
    pub inverter_ac_kw: Option<f64>,
    /// Share of plane-of-array irradiance lost to shade.
    pub shading: f64,
    /// The panel plane, for plane-of-array irradiance.
    pub surface: Surface,
}

/// PVWatts' inverter (Dobos 2014, pvlib's `inverter.pvwatts`): nominal and reference
/// efficiencies.
pub const INVERTER_NOMINAL_EFFICIENCY: f64 = 0.96;
pub const INVERTER_REFERENCE_EFFICIENCY: f64 = 0.9637;

/// AC power (kW) of PVWatts' inverter rated `ac_kw` at DC input `dc_kw`: the efficiency curve
/// of the load fraction, clipped at the rating.
pub fn pvwatts_inverter_kw(dc_kw: f64, ac_kw: f64) -> f64 {
    if dc_kw <= 0.0 || ac_kw <= 0.0 {
        return 0.0;
    }
    let dc_rating_kw = ac_kw / INVERTER_NOMINAL_EFFICIENCY;
    let zeta = dc_kw / dc_rating_kw;
    let eta = INVERTER_NOMINAL_EFFICIENCY / INVERTER_REFERENCE_EFFICIENCY * (-0.0162 * zeta - 0.0059 / zeta + 0.9858);
    (eta * dc_kw).min(ac_kw).max(0.0)
}

impl PvArray {
    pub fn new(pv: &PvDef) -> Self {
        PvArray {
            kwp: pv.kwp,
            tilt_deg: pv.tilt_deg,
            azimuth_deg: pv.azimuth_deg,
            performance_ratio: pv.performance_ratio,
            temperature_coefficient_per_c: pv.temperature_coefficient_per_c,
            dc_kept: pv.dc_kept,
            inverter_ac_kw: pv.inverter_ac_kw,
            shading: pv.shading,
            surface: Surface::new(pv.tilt_deg, pv.azimuth_deg),
        }
    }

    /// AC energy in a step of `step_hours` with plane-of-array irradiance `poa_w_m2`: PVWatts'
    /// DC model (linear in the irradiance left after shade, derated by cell temperature when
    /// the weather gives air temperature), then either the loss budget and PVWatts' inverter, or
    /// the performance ratio.
    pub fn energy_kwh(&self, poa_w_m2: f64, temp_air_c: Option<f64>, wind_speed_m_s: Option<f64>, step_hours: f64) -> f64 {
        let poa_w_m2 = poa_w_m2 * (1.0 - self.shading);
        let derate = match temp_air_c {
            Some(t_air) if self.temperature_coefficient_per_c != 0.0 => {
                let t_cell = crate::environment::solar::faiman_cell_temperature_c(poa_w_m2, t_air, wind_speed_m_s.unwrap_or(crate::environment::solar::FAIMAN_DEFAULT_WIND_M_S));
                1.0 + self.temperature_coefficient_per_c * (t_cell - crate::environment::solar::STC_CELL_TEMPERATURE_C)
            }
            _ => 1.0,
        };
        let dc_kw = self.kwp * poa_w_m2 / STC_IRRADIANCE_W_M2 * derate * self.dc_kept;
        let ac_kw = match self.inverter_ac_kw {
            Some(ac_kw) => pvwatts_inverter_kw(dc_kw, ac_kw),
            None => dc_kw * self.performance_ratio,
        };
        ac_kw * step_hours
    }
}

/// Energies of the current step, kWh. Every write is household code, in the step's order: reset
/// with PV and load ([`measure_pv_and_load`]), own use and battery (`battery`), line limits'
/// cuts (`side::Run::keep`, called by the grid), deliveries and their losses
/// ([`Meter::book_deliveries`], [`Meter::book_delivery_losses`], called by the market). Read by
/// the baseline, the grid's limits and flows, the market's orders, settlement and metrics.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct Meter {
    pub pv_kwh: f64,
    pub load_kwh: f64,
    /// PV used on site: directly, or stored in the household's own battery.
    pub self_consumed_kwh: f64,
    /// Into its battery, and of that what it imported from the grid for it (outside the market,
    /// in `grid_import_kwh`).
    pub battery_charge_kwh: f64,
    pub battery_grid_charge_kwh: f64,
    pub battery_discharge_kwh: f64,
    /// PV left after own use and battery, offered to the market.
    pub surplus_kwh: f64,
    /// Demand left after own PV and battery, bid on the market.
    pub deficit_kwh: f64,
    /// Stored energy above the reserve that the battery offers to the market.
    pub battery_offer_kwh: f64,
    pub p2p_bought_kwh: f64,
    pub p2p_sold_kwh: f64,
    /// Of `p2p_sold_kwh`: stored energy sent to peers (the rest is PV).
    pub p2p_sold_battery_kwh: f64,
    pub grid_import_kwh: f64,
    pub grid_export_kwh: f64,
    pub curtailed_kwh: f64,
    pub unserved_kwh: f64,
    pub losses_kwh: f64,
    /// Energy its community's battery delivered to it (in place of grid import or, on an
    /// island, unserved demand), and PV surplus it sent into that battery (in place of export
    /// or curtailment).
    pub community_battery_bought_kwh: f64,
    pub community_battery_sold_kwh: f64,
    /// Of `load_kwh`: its deferrable appliances' runs, and of those what ran later than its
    /// earliest start.
    pub appliance_kwh: f64,
    pub shifted_kwh: f64,
    /// Of `load_kwh`: what its electric vehicle's charger drew at home.
    pub ev_kwh: f64,
    /// Its electric vehicle's delivery to the house (vehicle-to-home): a source, like a
    /// battery's discharge.
    pub ev_discharge_kwh: f64,
    /// The flexible orders this step (a `Market` car's and a `SolarAware` heat pump's), after
    /// line limits (not load until delivered; not summed over the run), and of them the heat
    /// pump's.
    pub flexible_kwh: f64,
    pub heat_flexible_kwh: f64,
    /// Of `load_kwh`: its heat pump's electricity for space heating and cooling, and its
    /// hot-water tank's (element, or the heat pump's share).
    pub heat_pump_kwh: f64,
    pub hot_water_kwh: f64,
    /// Of `curtailed_kwh`: for its export cap, and by its inverter's volt-watt ceiling.
    pub export_limited_kwh: f64,
    pub inverter_curtailed_kwh: f64,
    /// Its inverter's reactive energy into the grid (+ supplied, − absorbed), and what it
    /// absorbed, kvarh.
    pub inverter_q_kvarh: f64,
    pub inverter_absorbed_kvarh: f64,
    /// What its export cap's and its inverter's curtailment would have earned at the step's
    /// export tariff (not a payment: a lower bound of what they cost it, as peers may pay more).
    pub export_limited_value: crate::base::money::Micros,
    pub inverter_curtailed_value: crate::base::money::Micros,
}

/// Sums of [`Meter`] over the run. Written by metrics.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct MeterTotals(pub Meter);

/// Steps in which part of the household's demand went unserved (loss of load). Written by
/// metrics.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct LossOfLoad {
    pub steps: u64,
}

/// Unserved energy below this is rounding, not a loss of supply, kWh.
pub const UNSERVED_EPSILON_KWH: f64 = 1e-9;

impl Meter {
    /// Books the step's market deliveries: `bought_kwh` from peers, `sold_pv_kwh` of PV and
    /// `sold_battery_kwh` of stored energy to them (discharged from `battery` here, as far as it
    /// can). What is left of the surplus and deficit goes to and from the grid, or on an island
    /// is curtailed and unserved (added to what line limits already cut). Returns the surplus left
    /// unsold. Called by the market's delivery.
    pub fn book_deliveries(&mut self, battery: Option<&mut battery::Battery>, bought_kwh: f64, sold_pv_kwh: f64, sold_battery_kwh: f64, connected: bool) -> f64 {
        let mut sold_battery = sold_battery_kwh;
        if let (Some(b), true) = (battery, sold_battery > 0.0) {
            let floor = 0.0; // the offer already respected the reserve
            sold_battery = b.discharge(sold_battery, self.battery_discharge_kwh, floor);
            self.battery_discharge_kwh += sold_battery;
        }
        self.p2p_sold_battery_kwh = sold_battery;
        self.p2p_bought_kwh = bought_kwh;
        self.community_battery_bought_kwh = 0.0;
        self.community_battery_sold_kwh = 0.0;
        self.p2p_sold_kwh = sold_pv_kwh + sold_battery;
        let left_surplus = (self.surplus_kwh - sold_pv_kwh).max(0.0);
        let left_deficit = (self.deficit_kwh - bought_kwh).max(0.0);
        if connected {
            self.grid_export_kwh = left_surplus;
            self.grid_import_kwh = left_deficit + self.battery_grid_charge_kwh;
        } else {
            self.curtailed_kwh += left_surplus;
            self.unserved_kwh += left_deficit;
        }
        left_surplus
    }

    /// Books what line losses did to the household's peer deliveries: on an island it sent
    /// `made_up_pv_kwh` of otherwise curtailed PV and `made_up_battery_kwh` of stored energy
    /// (discharged from `battery` down to its floor) to make up its buyers' losses; `short_kwh`
    /// of what it bought did not arrive, and came from the grid instead (on an island: unserved).
    /// Called by the market's loss attribution.
    pub fn book_delivery_losses(&mut self, battery: Option<&mut battery::Battery>, made_up_pv_kwh: f64, made_up_battery_kwh: f64, short_kwh: f64, connected: bool) {
        self.p2p_sold_kwh += made_up_pv_kwh + made_up_battery_kwh;
        self.curtailed_kwh -= made_up_pv_kwh;
        if let (Some(b), true) = (battery, made_up_battery_kwh > 0.0) {
            let floor = b.min_soc_kwh;
            let sent = b.discharge(made_up_battery_kwh, self.battery_discharge_kwh, floor);
            self.battery_discharge_kwh += sent;
            self.p2p_sold_battery_kwh += sent;
        }
        if short_kwh > 0.0 {
            self.p2p_bought_kwh -= short_kwh;
            if connected {
                self.grid_import_kwh += short_kwh;
            } else {
                self.unserved_kwh += short_kwh;
            }
        }
    }

    /// PV + import + discharge + vehicle-to-home + bought + unserved − (load + export + charge + curtailed + sold +
    /// losses): zero when the household's energy balances.
    pub fn imbalance_kwh(&self) -> f64 {
        (self.pv_kwh + self.grid_import_kwh + self.battery_discharge_kwh + self.ev_discharge_kwh + self.p2p_bought_kwh + self.community_battery_bought_kwh + self.unserved_kwh)
            - (self.load_kwh + self.grid_export_kwh + self.battery_charge_kwh + self.curtailed_kwh + self.p2p_sold_kwh + self.community_battery_sold_kwh + self.losses_kwh)
    }

    pub fn accumulate(&mut self, m: &Meter) {
        self.pv_kwh += m.pv_kwh;
        self.load_kwh += m.load_kwh;
        self.self_consumed_kwh += m.self_consumed_kwh;
        self.battery_charge_kwh += m.battery_charge_kwh;
        self.battery_grid_charge_kwh += m.battery_grid_charge_kwh;
        self.battery_discharge_kwh += m.battery_discharge_kwh;
        self.surplus_kwh += m.surplus_kwh;
        self.deficit_kwh += m.deficit_kwh;
        self.battery_offer_kwh += m.battery_offer_kwh;
        self.p2p_bought_kwh += m.p2p_bought_kwh;
        self.p2p_sold_kwh += m.p2p_sold_kwh;
        self.p2p_sold_battery_kwh += m.p2p_sold_battery_kwh;
        self.grid_import_kwh += m.grid_import_kwh;
        self.grid_export_kwh += m.grid_export_kwh;
        self.curtailed_kwh += m.curtailed_kwh;
        self.unserved_kwh += m.unserved_kwh;
        self.losses_kwh += m.losses_kwh;
        self.community_battery_bought_kwh += m.community_battery_bought_kwh;
        self.community_battery_sold_kwh += m.community_battery_sold_kwh;
        self.appliance_kwh += m.appliance_kwh;
        self.shifted_kwh += m.shifted_kwh;
        self.ev_kwh += m.ev_kwh;
        self.ev_discharge_kwh += m.ev_discharge_kwh;
        self.heat_pump_kwh += m.heat_pump_kwh;
        self.hot_water_kwh += m.hot_water_kwh;
        self.export_limited_kwh += m.export_limited_kwh;
        self.inverter_curtailed_kwh += m.inverter_curtailed_kwh;
        self.inverter_q_kvarh += m.inverter_q_kvarh;
        self.inverter_absorbed_kvarh += m.inverter_absorbed_kvarh;
        self.export_limited_value += m.export_limited_value;
        self.inverter_curtailed_value += m.inverter_curtailed_value;
    }

    /// The load its PV, battery and the market still have to meet: what the car's
    /// vehicle-to-home delivery did not cover.
    pub fn net_load_kwh(&self) -> f64 {
        self.load_kwh - self.ev_discharge_kwh
    }
}

/// Money of a household, micro-units. `balance` < 0 means the household has paid on balance;
/// its bill is `-balance`. Written by settlement only.
#[derive(Component, Debug, Clone, Copy, Default, PartialEq)]
pub struct Wallet {
    pub balance: Micros,
    pub p2p_paid: Micros,
    pub p2p_received: Micros,
    pub grid_paid: Micros,
    pub grid_received: Micros,
    /// Fees on its sales paid into the community fund.
    pub fees_paid: Micros,
    /// Block rewards received from the community fund.
    pub rewards_received: Micros,
    /// Network fees on its peer purchases, paid to the network operator.
    pub network_fees_paid: Micros,
    /// Paid to it by its community's treasury: witness pay, rebates, solidarity, its share of a
    /// default.
    pub community_received: Micros,
    /// Paid by it into a community's treasury as a founding member.
    pub community_contributed: Micros,
    /// Paid to its community's treasury for energy from the community battery, and paid by the
    /// treasury for surplus that charged it.
    pub community_battery_paid: Micros,
    pub community_battery_received: Micros,
    /// The tariff's fixed charges paid to the grid: per day connected, and per kW of its monthly
    /// peak import.
    pub supply_charges: Micros,
    pub demand_charges: Micros,
}

impl Wallet {
    pub fn bill(&self) -> Micros {
        -self.balance
    }

    /// What its energy cost it: grid, peer and community-battery purchases less sales, community
    /// and network fees (not rewards, community payments or contributions). The tariff's fixed
    /// charges are left out: they are billed once a month, and a community's weekly hardship
    /// test would otherwise weigh a month of them in the week that holds the month's end.
    pub fn energy_spending(&self) -> Micros {
        self.grid_paid - self.grid_received + self.p2p_paid - self.p2p_received + self.fees_paid + self.network_fees_paid + self.community_battery_paid
            - self.community_battery_received
    }
}

/// Household ids by index, for outputs (kept out of the hot loop).
#[derive(Resource, Debug, Clone)]
pub struct HouseholdIds(pub Arc<Vec<String>>);

/// Household entities by index (for the rare by-index access, e.g. paying a block producer).
#[derive(Resource, Debug, Clone, Default)]
pub struct HouseholdEntities(pub Vec<Entity>);

/// Profiles the scenario loaded, shared read-only.
#[derive(Resource, Clone)]
pub struct Profiles(pub Arc<ProfileTable>);

/// PV generation and load, in `HouseholdSystems::GenerationAndLoad`.
pub struct HouseholdPlugin(pub HouseholdConfig);

/// What the households' systems need besides their entities: their ids, in household order,
/// and the load profiles they read.
#[derive(Clone)]
pub struct HouseholdConfig {
    pub ids: Arc<Vec<String>>,
    pub profiles: Arc<ProfileTable>,
    /// The run's seed (appliances' draws).
    pub seed: u64,
}

impl Plugin for HouseholdPlugin {
    fn build(&self, app: &mut App) {
        app.insert_resource(HouseholdIds(self.0.ids.clone())).insert_resource(Profiles(self.0.profiles.clone()));
        app.insert_resource(appliance::ApplianceSeed(self.0.seed));
        app.add_systems(crate::base::schedule::SimStep, (measure_pv_and_load, appliance::run_appliances, heating::run_heating, vehicle::run_vehicles).chain().in_set(HouseholdSystems::GenerationAndLoad));
        app.add_systems(crate::base::schedule::SimStep, heating::close_heating_steps.in_set(HouseholdSystems::AfterMarket));
    }
}

/// Resets each meter and fills in this step's PV and load (under a cloud, from the share of the
/// irradiance it lets through, split again into beam and diffuse; a measured PV series scaled
/// by that share).
/// Reads `Environment`, `Clouds`, `SimClock`, `Site`, `Profiles`; writes `Meter`, `LoadNoise` (a batch of
/// steps at a time, drawn on the `--threads` pool as a `Pace` region, see
/// [`crate::household::load::NoiseAhead`]).
/// Runs in `HouseholdSystems::GenerationAndLoad`, after the environment.
#[allow(clippy::too_many_arguments)]
#[allow(clippy::type_complexity)]
pub fn measure_pv_and_load(
    env: Res<Environment>,
    clouds: Res<crate::environment::clouds::Clouds>,
    clock: Res<SimClock>,
    site: Res<Site>,
    profiles: Res<Profiles>,
    entities: Res<HouseholdEntities>,
    pace: Res<crate::base::exec::Pace>,
    mut ahead: Local<NoiseAhead>,
    mut noises: Query<(&Household, &LoadSource, &mut LoadNoise)>,
    mut households: Query<(&Household, &LoadSource, Option<&PvArray>, &mut Meter, Has<heating::HeatPump>)>,
) {
    let dt = clock.frame.step_hours();
    let step = clock.step as usize;
    let load_step = crate::household::load::LoadStep { mid_hour: clock.local_mid_hour, date: clock.local_start.date(), weekday: clock.local_weekday, month: clock.local_month, step_hours: dt };
    let noise_step = crate::household::load::NoiseStep::new(dt);
    let multipliers = ahead.next_step(entities.0.len(), || {
        use rayon::prelude::*;
        // A batch is some 10,000 × 16 normal draws and `exp`s: worth both cores. Each household
        // draws from its own stream, so the split does not change a number.
        let mut archetypes: Vec<_> = noises.iter_mut().filter(|(_, source, _)| matches!(source, LoadSource::Archetype { .. })).map(|(hh, _, noise)| (hh.index as usize, noise)).collect();
        pace.region(|| archetypes.par_iter_mut().map(|(index, noise)| (*index, noise.draw_ahead(&noise_step))).collect())
    });
    for (hh, source, pv, mut meter, heat_pump) in &mut households {
        *meter = Meter::default();
        let shade = clouds.transmittance(clock.step, hh.index);
        match *source {
            LoadSource::Archetype { kind, annual_kwh, shift_hours } => {
                let mut base = archetype_kwh(kind, annual_kwh, shift_hours, &load_step, site.latitude_deg);
                if heat_pump {
                    base *= crate::household::load::heating_removed(kind, clock.local_month, site.latitude_deg);
                }
                meter.load_kwh = base * multipliers[hh.index as usize];
                if let Some(pv) = pv {
                    let poa = match shade {
                        None => pv.surface.poa(&env.irradiance, &env.sky_diffuse, &env.sun_vector),
                        Some(share) => {
                            let shaded = crate::environment::solar::erbs(env.irradiance.ghi * share, &env.sun);
                            let diffuse = crate::environment::solar::SkyDiffuse::new(site.sky.transposition, &shaded, &env.sun);
                            pv.surface.poa(&shaded, &diffuse, &env.sun_vector)
                        }
                    };
                    meter.pv_kwh = pv.energy_kwh(poa, env.temp_air_c, env.wind_speed_m_s, dt);
                }
            }
            LoadSource::Profile { series } => {
                let s = &profiles.0.series[series];
                meter.load_kwh = s.load_kwh[step];
                meter.pv_kwh = s.pv_kwh[step] * shade.unwrap_or(1.0);
            }
        }
    }
}

/// PVWatts' DC loss budget (Dobos 2014), percent each, compounded:
/// `1 − Π(1 − loss/100)`; the defaults make 14.08%.
#[derive(Debug, Clone, Copy, PartialEq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LossBudget {
    pub soiling_pct: f64,
    pub shading_pct: f64,
    pub snow_pct: f64,
    pub mismatch_pct: f64,
    pub wiring_pct: f64,
    pub connections_pct: f64,
    /// Light-induced degradation.
    pub lid_pct: f64,
    pub nameplate_rating_pct: f64,
    pub age_pct: f64,
    pub availability_pct: f64,
}

impl Default for LossBudget {
    fn default() -> Self {
        LossBudget { soiling_pct: 2.0, shading_pct: 3.0, snow_pct: 0.0, mismatch_pct: 2.0, wiring_pct: 2.0, connections_pct: 0.5, lid_pct: 1.5, nameplate_rating_pct: 1.0, age_pct: 0.0, availability_pct: 3.0 }
    }
}

impl LossBudget {
    /// (name, percent) of every loss, in PVWatts' order.
    pub fn items(&self) -> [(&'static str, f64); 10] {
        [
            ("soiling_pct", self.soiling_pct), ("shading_pct", self.shading_pct), ("snow_pct", self.snow_pct), ("mismatch_pct", self.mismatch_pct),
            ("wiring_pct", self.wiring_pct), ("connections_pct", self.connections_pct), ("lid_pct", self.lid_pct),
            ("nameplate_rating_pct", self.nameplate_rating_pct), ("age_pct", self.age_pct), ("availability_pct", self.availability_pct),
        ]
    }

    /// What reaches the inverter of each unit of DC: Π(1 − loss/100).
    pub fn kept(&self) -> f64 {
        self.items().iter().map(|(_, pct)| 1.0 - pct / 100.0).product()
    }
}

/// Performance ratio of an array that states no losses.
pub const DEFAULT_PERFORMANCE_RATIO: f64 = 0.8;
/// PVWatts' DC/AC ratio, for an inverter the loss budget needs and the house does not state.
pub const DEFAULT_DC_AC_RATIO: f64 = 1.2;

/// A resolved PV array.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PvDef {
    pub kwp: f64,
    pub tilt_deg: f64,
    /// Degrees clockwise from north.
    pub azimuth_deg: f64,
    /// Everything after the panels in one factor (1 when the losses are itemised).
    pub performance_ratio: f64,
    pub temperature_coefficient_per_c: f64,
    /// DC kept after the loss budget (1 without one).
    pub dc_kept: f64,
    /// Inverter AC rating, kW, when the inverter is modelled.
    pub inverter_ac_kw: Option<f64>,
    /// Share of plane-of-array irradiance lost to shade.
    pub shading: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pvlib 0.16.1: `inverter.pvwatts(pdc, pdc0 = 800 / 0.96)` in W and `pvwatts_losses()`.
    #[test]
    fn inverter_and_loss_budget_match_pvlib() {
        let cases = [(10.0, 4.920425194562624), (100.0, 93.11007159904536), (500.0, 481.26844453668156), (800.0, 768.3204980803155), (850.0, 800.0), (1200.0, 800.0)];
        for (dc_w, ac_w) in cases {
            let got = pvwatts_inverter_kw(dc_w / 1000.0, 0.8) * 1000.0;
            assert!((got - ac_w).abs() < 1e-9, "{dc_w} W: {got} vs {ac_w}");
        }
        assert_eq!(pvwatts_inverter_kw(0.0, 0.8), 0.0);
        assert!(((1.0 - LossBudget::default().kept()) * 100.0 - 14.075660688264469).abs() < 1e-12);
    }
}
