//! Rooftop inverters as grid codes set them: volt-var (reactive power by the voltage at the
//! terminals) and volt-watt (a ceiling on active power as the voltage rises), solved with the
//! unbalanced flow by a damped fixed-point iteration.
//!
//! The response is solved on the step's flow before the market, at the high end of the range
//! (every surplus exported, battery offers taken): the voltage the exports would raise. What the
//! volt-watt ceiling takes off a house's PV comes off its surplus before any offer is made (its
//! own use keeps its PV: the ceiling acts where a house exports, which is what lifts the
//! voltage), so the market, the settlement and the energy balance see it as curtailment; the
//! reactive power enters the voltage limits' flow and the delivered flow. Each iteration solves
//! the flow with the current responses, reads each inverter's voltage (a three-phase inverter
//! the mean of its phases'), and moves each response a fraction of the way to what its curves
//! ask at that voltage (adapted per inverter, see [`DAMPING`]), as OpenDSS's InvControl does;
//! settled when the voltages moved less than [`SETTLED_VOLTAGE_PU`] and every response is within
//! [`SETTLED_SHARE`] of its rating of what the curves ask. A step that has not settled after [`MAX_ITERATIONS`] keeps its
//! last responses and is counted (`inverter_unsettled_steps`).

use super::flow3::{Flow3Model, Flow3State};

/// Share of the way to the curves' answer each iteration first moves. On a weak feeder a kW
/// moves the voltage so far that the curve's answer overshoots (the loop gain, the curve's
/// slope times the feeder's dV/dP, is above 1): an inverter whose gap to its curve changes sign
/// halves its step, down to [`MIN_DAMPING`] (OpenDSS's InvControl adapts its `deltaQ_factor`
/// and `deltaP_factor` likewise).
pub const DAMPING: f64 = 0.5;
pub const MIN_DAMPING: f64 = 1.0 / 64.0;
/// An inverter whose gap keeps its sign lengthens its step by this, up to [`MAX_DAMPING`]:
/// through the lines' coupling across phases, inverters on different phases can partly undo
/// each other's response, a slow mode that a fixed step follows only slowly.
pub const GROWTH: f64 = 1.25;
pub const MAX_DAMPING: f64 = 4.0;
/// Settled when no inverter's voltage moved more than this between iterations, per unit.
pub const SETTLED_VOLTAGE_PU: f64 = 1e-4;
/// …and every response is within this share of its rating of what the curves ask.
pub const SETTLED_SHARE: f64 = 0.005;
/// Most iterations per step.
pub const MAX_ITERATIONS: usize = 50;

/// A piecewise-linear characteristic: (phase-to-neutral voltage V, value) points in ascending
/// voltage, flat outside the first and last.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve(pub Vec<(f64, f64)>);

impl Curve {
    pub fn at(&self, v: f64) -> f64 {
        let p = &self.0;
        let (first, last) = (p[0], p[p.len() - 1]);
        if v <= first.0 {
            return first.1;
        }
        if v >= last.0 {
            return last.1;
        }
        let k = p.partition_point(|&(x, _)| x <= v);
        let ((v0, y0), (v1, y1)) = (p[k - 1], p[k]);
        y0 + (y1 - y0) * (v - v0) / (v1 - v0)
    }
}

/// A grid code's curves: the regions of AS/NZS 4777.2:2020 and an EN 50549-1 example.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub enum CurveSet {
    /// AS/NZS 4777.2:2020 Australia A (most NEM networks): volt-var +44% of rated VA at 207 V,
    /// 0 from 220 to 240 V, −60% at 258 V; volt-watt 100% at 253 V to 20% at 260 V.
    AustraliaA,
    /// Australia B (Western Power): volt-var +30% at 205 V, 0 from 220 to 235 V, −40% at 255 V;
    /// volt-watt 100% at 250 V to 20% at 260 V.
    AustraliaB,
    /// EN 50549-1 fixes the modes, not the points (the network operator sets them): this is a
    /// common example around 230 V, Q(U) +48.4% of rated (cos φ 0.9) at 0.93 Un, 0 from 0.97 to
    /// 1.03 Un, −48.4% at 1.07 Un; P(U) 100% at 1.10 Un to 0 at 1.12 Un.
    En50549Example,
}

impl CurveSet {
    /// Reactive power as a share of rated apparent power (+ supplied, − absorbed).
    pub fn volt_var(self) -> Curve {
        Curve(match self {
            CurveSet::AustraliaA => vec![(207.0, 0.44), (220.0, 0.0), (240.0, 0.0), (258.0, -0.60)],
            CurveSet::AustraliaB => vec![(205.0, 0.30), (220.0, 0.0), (235.0, 0.0), (255.0, -0.40)],
            CurveSet::En50549Example => vec![(0.93 * EN_UN_V, 0.484), (0.97 * EN_UN_V, 0.0), (1.03 * EN_UN_V, 0.0), (1.07 * EN_UN_V, -0.484)],
        })
    }

    /// The ceiling on active power as a share of rated power.
    pub fn volt_watt(self) -> Curve {
        Curve(match self {
            CurveSet::AustraliaA => vec![(253.0, 1.0), (260.0, 0.2)],
            CurveSet::AustraliaB => vec![(250.0, 1.0), (260.0, 0.2)],
            CurveSet::En50549Example => vec![(1.10 * EN_UN_V, 1.0), (1.12 * EN_UN_V, 0.0)],
        })
    }
}

/// EN 50549-1's nominal voltage, V.
const EN_UN_V: f64 = 230.0;

/// A household's inverter as the scenario gives it: its rating and its curves.
#[derive(Debug, Clone, PartialEq)]
pub struct InverterDef {
    pub rated_kva: f64,
    pub volt_var: Option<Curve>,
    pub volt_watt: Option<Curve>,
}

/// One household's inverter: where it connects, its rating and its curves.
#[derive(Debug, Clone, PartialEq)]
pub struct Inverter {
    /// Household index and grid node.
    pub household: u32,
    pub node: u32,
    /// Its output's shares on phases a, b, c.
    pub shares: [f64; 3],
    /// Rated apparent power, kVA (also its rated active power, kW).
    pub rated_kva: f64,
    pub volt_var: Option<Curve>,
    pub volt_watt: Option<Curve>,
}

/// What the inverters do in a step, by position in the inverter list, and scratch.
#[derive(Debug, Clone, Default)]
pub struct Response {
    /// PV taken off each inverter's export by volt-watt, kW.
    pub curtailed_kw: Vec<f64>,
    /// Reactive power into the grid, kvar (+ supplied, − absorbed).
    pub q_kvar: Vec<f64>,
    /// The active power ceiling, kW.
    ceiling_kw: Vec<f64>,
    /// Each inverter's damping and last gap to its curves, reactive and active.
    damping: Vec<[f64; 2]>,
    gap: Vec<[f64; 2]>,
    next_gap: Vec<[f64; 2]>,
    voltage_v: Vec<f64>,
    injection: Vec<[(f64, f64); 3]>,
    pub iterations: usize,
    pub settled: bool,
}

/// Solves the inverters' response on the flow: `base` is every node's P and Q by phase without
/// the inverters' response; `export_kw` what each inverter's house would export at most, and
/// `pv_kw` its PV output. Starts from the last step's reactive power (warm), with no ceiling.
pub fn solve(model: &Flow3Model, state: &mut Flow3State, base: &[[(f64, f64); 3]], inverters: &[Inverter], export_kw: &[f64], pv_kw: &[f64], out: &mut Response) {
    let n = inverters.len();
    out.q_kvar.resize(n, 0.0);
    out.curtailed_kw.clear();
    out.curtailed_kw.resize(n, 0.0);
    // No ceiling until the curve takes the output below its rating: a volt-var inverter, or one
    // at 100%, curtails nothing (clipping at the rating is the PV model's).
    out.ceiling_kw.clear();
    out.ceiling_kw.resize(n, f64::INFINITY);
    out.voltage_v.clear();
    out.voltage_v.resize(n, f64::NAN);
    out.damping.clear();
    out.damping.resize(n, [DAMPING; 2]);
    out.gap.clear();
    out.gap.resize(n, [0.0; 2]);
    out.next_gap.clear();
    out.next_gap.resize(n, [0.0; 2]);
    out.settled = false;
    for it in 0..MAX_ITERATIONS {
        out.iterations = it + 1;
        out.injection.clear();
        out.injection.extend_from_slice(base);
        for (k, inv) in inverters.iter().enumerate() {
            out.curtailed_kw[k] = (pv_kw[k] - out.ceiling_kw[k]).clamp(0.0, export_kw[k]);
            let slot = &mut out.injection[inv.node as usize];
            for (phase, share) in inv.shares.into_iter().enumerate() {
                slot[phase].0 -= share * out.curtailed_kw[k];
                slot[phase].1 += share * out.q_kvar[k];
            }
        }
        model.solve(&out.injection, state);
        if !state.converged {
            // No voltages: on the first iteration nothing to respond to, later the last
            // responses stand.
            if it == 0 {
                out.q_kvar.iter_mut().for_each(|q| *q = 0.0);
            }
            return;
        }
        // What each curve asks at its inverter's voltage: the gaps, reactive and active.
        let mut moved: f64 = 0.0;
        let mut off: f64 = 0.0;
        for (k, inv) in inverters.iter().enumerate() {
            let v = terminal_voltage_v(state, inv);
            moved = moved.max((v - out.voltage_v[k]).abs());
            out.voltage_v[k] = v;
            let q_gap = inv.volt_var.as_ref().map_or(0.0, |c| c.at(v) * inv.rated_kva - out.q_kvar[k]);
            // Only a ceiling that bites moves the flow: above the PV output it rests there.
            let p_gap = inv.volt_watt.as_ref().map_or(0.0, |c| {
                let share = c.at(v);
                let target = if share >= 1.0 { f64::INFINITY } else { share * inv.rated_kva }.min(pv_kw[k]);
                target - out.ceiling_kw[k].min(pv_kw[k])
            });
            off = off.max(q_gap.abs().max(p_gap.abs()) / inv.rated_kva);
            out.next_gap[k] = [q_gap, p_gap];
        }
        // `moved` is NaN-free from the second iteration on.
        if it > 0 && moved < SETTLED_VOLTAGE_PU * model.v_phase && off < SETTLED_SHARE {
            out.settled = true;
            break;
        }
        for (k, inv) in inverters.iter().enumerate() {
            let (damping, last, gap) = (&mut out.damping[k], &mut out.gap[k], out.next_gap[k]);
            for which in 0..2 {
                let flipped = gap[which] * last[which] < 0.0;
                damping[which] = if flipped { (damping[which] * 0.5).max(MIN_DAMPING) } else { (damping[which] * GROWTH).min(MAX_DAMPING) };
                last[which] = gap[which];
            }
            if inv.volt_var.is_some() {
                out.q_kvar[k] += damping[0] * gap[0];
            }
            if inv.volt_watt.is_some() {
                out.ceiling_kw[k] = out.ceiling_kw[k].min(pv_kw[k]) + damping[1] * gap[1];
            }
        }
    }
    // The curtailment of the ceilings as they end (the flow above had the previous ones:
    // within the settle tolerance).
    for (k, c) in out.curtailed_kw.iter_mut().enumerate() {
        *c = (pv_kw[k] - out.ceiling_kw[k]).clamp(0.0, export_kw[k]);
    }
}

/// The voltage an inverter measures, V: its phase's, or a three-phase inverter's mean.
fn terminal_voltage_v(state: &Flow3State, inv: &Inverter) -> f64 {
    let v = state.voltage[inv.node as usize];
    let (sum, weight) = inv.shares.iter().zip(v).fold((0.0, 0.0), |(s, w), (&share, x)| if share > 0.0 { (s + share * x.abs(), w + share) } else { (s, w) });
    sum / weight
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn australia_a_curves_at_their_points() {
        let (vv, vw) = (CurveSet::AustraliaA.volt_var(), CurveSet::AustraliaA.volt_watt());
        assert_eq!(vv.at(200.0), 0.44);
        assert_eq!(vv.at(207.0), 0.44);
        assert!((vv.at(213.5) - 0.22).abs() < 1e-12);
        assert_eq!(vv.at(230.0), 0.0);
        assert!((vv.at(249.0) + 0.30).abs() < 1e-12);
        assert_eq!(vv.at(265.0), -0.60);
        assert_eq!(vw.at(250.0), 1.0);
        // CICCADA's check: 10 kW at 256.5 V → 6 kW, at 260 V → 2 kW.
        assert!((vw.at(256.5) * 10.0 - 6.0).abs() < 1e-12);
        assert!((vw.at(260.0) * 10.0 - 2.0).abs() < 1e-12);
    }
}
