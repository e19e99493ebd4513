//! Line limits before the market: every rule then clears only what the wires can carry.
//!
//! Each node's injection lies in a range set by what its households offer and need this step:
//! grid-connected, `[PV surplus − deficit, PV surplus + battery offer − deficit]` (peer trades
//! do not move power differently from the grid: what a household does not sell to a neighbour
//! it exports, so only unsold battery offers change the flows); on an island, `[−deficit,
//! PV surplus + battery offer]` (any trade may or may not happen). Flows are linear in the
//! injections, so a line is safe when it is safe at the range's ends. While a line would exceed
//! its capacity, the injections pushing it over are reduced in proportion to their push
//! (`sensitivity × injection`), in this order: battery offers are withdrawn (nothing is lost),
//! then PV surplus is curtailed, then load is shed (unserved). Repeated, worst line first, until
//! every line is within its limit; after [`MAX_PASSES`], a rare meshed case that keeps trading
//! one line's overload for another's has every offer scaled down uniformly instead. Radial grids
//! take one pass from the leaves up ([`super::radial_limits`]): a line's flow is its subtree's
//! sum, so the cut is shared inside the subtree, deepest line first, without overloading lines
//! already fixed. On radial grids the range's ends are the extremes, so the result is exact; on
//! meshed grids sensitivities of both signs make the two ends a close but not strict bound (the
//! run reports any residual overload in `overloaded_steps`).
//!
//! On unbalanced networks each phase carries a third of a line's capacity, and each phase's flow
//! (three times what the line carries of the nodes' injections on it) is checked: the radial
//! pass runs phase by phase on what the earlier phases kept, and the confirming passes cut in
//! proportion to each node's push on the overloaded phase (a cut for one phase moves a node's
//! other phases too, so these may take more passes, and end in the uniform scale-down).
//! A node's offers are split over its phases by its households' offer sizes and cut by one
//! factor, so within one node an export on one phase and an import on another net out.

use super::flow::{FlowModel, Flows};
use super::network::VoltageBand;

/// Most reduction passes per step.
pub const MAX_PASSES: usize = 128;
/// Flows within this of the capacity count as within it, kW.
pub const CAPACITY_TOLERANCE_KW: f64 = 1e-6;
/// Voltages within this of the band count as within it, per unit.
pub const VOLTAGE_TOLERANCE_PU: f64 = 1e-6;
/// The sweep runs only where the linear estimate exceeds this share of the tolerance.
const VOLTAGE_SCREEN: f64 = 0.8;
/// Voltage cuts ask for this much more than the linearised excess.
const VOLTAGE_CUT_MARGIN: f64 = 1.02;
/// Phases of a line: each carries a third of its capacity.
const PHASES: f64 = 3.0;

/// What the households at one node bring to the step, kW.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NodeOffer {
    pub surplus_kw: f64,
    pub battery_kw: f64,
    pub deficit_kw: f64,
}

/// Fractions of each node's offer that remain after the limits (1 = untouched).
pub use crate::household::side::Keep;

/// Scratch for [`Limiter::apply`], reused every step.
#[derive(Debug, Default)]
pub struct Limiter {
    pub keep: Vec<Keep>,
    /// Lines whose limit was binding this step.
    pub binding: Vec<bool>,
    injection: Vec<f64>,
    sensitivity: Vec<f64>,
    unit: Vec<f64>,
    unit_flows: Flows,
    radial: super::radial_limits::RadialLimits,
    ac: super::flow::AcState,
    /// Whether the voltage limit cut anything this step.
    pub voltage_binding: bool,
    /// Flows at the low and high end of the range, and whether they match the current cuts.
    end_flows: [Flows; 2],
    end_flows_current: bool,
    /// Unbalanced networks: one phase's injections, flows, offers and kept fractions.
    phase_injection: Vec<f64>,
    phase_flows: Flows,
    phase_scratch: Vec<[f64; 3]>,
    phase_line_kw: Vec<[f64; 3]>,
    phase_deviation: super::flow::PhaseScratch,
    phase_offers: Vec<NodeOffer>,
    phase_keep: Vec<Keep>,
}

impl Limiter {
    /// Node injections at one end of the range, after the current cuts.
    fn fill_injection(&mut self, offers: &[NodeOffer], connected: bool, high: bool) {
        self.injection.clear();
        let end = EndOfRange::new(connected, high);
        self.injection.extend(offers.iter().zip(&self.keep).map(|(o, k)| end.injection(o, k)));
    }

    /// The ends of the range to check, high first. Grid-connected, the ends differ only by the
    /// battery offers still kept: without any (every night, and always for the grid-only
    /// baseline) the high end alone stands for both, and one flow solve does.
    fn ends(&self, offers: &[NodeOffer], connected: bool) -> &'static [bool] {
        let no_battery = connected && offers.iter().zip(&self.keep).all(|(o, k)| o.battery_kw * k.battery == 0.0);
        if no_battery {
            &[true]
        } else {
            &[true, false]
        }
    }

    /// Nothing cut, no line binding.
    pub fn reset(&mut self, nodes: usize, lines: usize) {
        self.end_flows_current = false;
        self.keep.clear();
        self.keep.resize(nodes, Keep::default());
        self.voltage_binding = false;
        self.binding.clear();
        self.binding.resize(lines, false);
    }

    /// Reduces `offers` (per node) until no line exceeds `capacity_kw`; the result is in
    /// [`Self::keep`], and [`Self::binding`] marks the lines that forced a reduction.
    /// Returns false if proportional cuts had not settled after [`MAX_PASSES`] and every offer
    /// was scaled down instead (lines are then within their limits too).
    pub fn apply(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], connected: bool) -> bool {
        self.apply_phased(model, capacity_kw, offers, None, connected)
    }

    /// [`Self::apply`] on an unbalanced network, each node's offers on phases a, b, c by
    /// `shares`: a line's capacity is shared equally by its phases, so the flow on each phase
    /// (what the line carries of the nodes' injections on it) is held to a third of it, and the
    /// offers pushing an overloaded phase are cut in proportion to their push on that phase.
    pub fn apply_3ph(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], shares: &[[f64; 3]], connected: bool) -> bool {
        self.apply_phased(model, capacity_kw, offers, Some(shares), connected)
    }

    fn apply_phased(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], shares: Option<&[[f64; 3]]>, connected: bool) -> bool {
        self.reset(offers.len(), capacity_kw.len());
        // The first pass only looks; most steps end there. A radial grid that is over a limit is
        // then fixed in one pass (the next pass only confirms it); meshed grids iterate.
        for pass in 0..MAX_PASSES {
            // The worst violation over both ends of the range and all phases: (line, phase,
            // direction, high end?, excess).
            let mut worst: Option<(usize, usize, f64, bool, f64)> = None;
            for &high in self.ends(offers, connected) {
                self.line_flows(model, offers, shares, connected, high, |phase, e, f| {
                    let excess = f.abs() - capacity_kw[e];
                    if excess > CAPACITY_TOLERANCE_KW && worst.is_none_or(|w| excess > w.4) {
                        worst = Some((e, phase, f.signum(), high, excess));
                    }
                });
            }
            let Some((line, phase, direction, high, excess)) = worst else {
                self.end_flows_current = true;
                return true;
            };
            if pass == 0 && model.is_radial() {
                self.apply_radial(model, capacity_kw, offers, shares, connected);
                continue;
            }
            self.binding[line] = true;
            model.sensitivity(line, &mut self.unit, &mut self.unit_flows, &mut self.sensitivity);
            let sensitivity = std::mem::take(&mut self.sensitivity);
            match shares {
                None => self.reduce(offers, connected, high, direction, excess, || sensitivity.iter().copied().enumerate()),
                Some(shares) => self.reduce(offers, connected, high, direction, excess, || sensitivity.iter().zip(shares).map(|(s, sh)| PHASES * s * sh[phase]).enumerate()),
            }
            self.sensitivity = sensitivity;
        }
        self.scale_down(model, capacity_kw, offers, shares, connected);
        false
    }

    /// Line flows at one end of the range after the current cuts, given to `visit` as (phase,
    /// line, flow): the whole flow as phase 0 on a balanced network; with `shares`, each
    /// phase's flow times three (so it compares with the line's capacity). The end's total
    /// flows stay in `end_flows` for the voltage limits.
    fn line_flows(&mut self, model: &FlowModel, offers: &[NodeOffer], shares: Option<&[[f64; 3]]>, connected: bool, high: bool, mut visit: impl FnMut(usize, usize, f64)) {
        self.fill_injection(offers, connected, high);
        let flows = &mut self.end_flows[high as usize];
        model.solve(&self.injection, flows);
        let Some(shares) = shares else {
            for (e, &f) in flows.line_kw.iter().enumerate() {
                visit(0, e, f);
            }
            return;
        };
        if model.is_radial() {
            model.radial_phase_flows(&self.injection, shares, PHASES, &mut self.phase_scratch, &mut self.phase_line_kw);
            for (e, f) in self.phase_line_kw.iter().enumerate() {
                for (phase, &f) in f.iter().enumerate() {
                    visit(phase, e, f);
                }
            }
            return;
        }
        for phase in 0..3 {
            self.phase_injection.clear();
            self.phase_injection.extend(self.injection.iter().zip(shares).map(|(p, s)| PHASES * s[phase] * p));
            model.solve(&self.phase_injection, &mut self.phase_flows);
            for (e, &f) in self.phase_flows.line_kw.iter().enumerate() {
                visit(phase, e, f);
            }
        }
    }

    /// The radial one-pass fix; per phase, one phase after another on what the earlier ones
    /// kept (the confirming passes catch a phase pushed back over by a cut for another).
    fn apply_radial(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], shares: Option<&[[f64; 3]]>, connected: bool) {
        let Some(shares) = shares else {
            self.radial.apply(model, capacity_kw, offers, connected, &mut self.keep, &mut self.binding);
            return;
        };
        let mut phase_offers = std::mem::take(&mut self.phase_offers);
        let mut phase_keep = std::mem::take(&mut self.phase_keep);
        for phase in 0..3 {
            phase_offers.clear();
            phase_offers.extend(offers.iter().zip(&self.keep).zip(shares).map(|((o, k), s)| {
                let w = PHASES * s[phase];
                NodeOffer { surplus_kw: w * o.surplus_kw * k.surplus, battery_kw: w * o.battery_kw * k.battery, deficit_kw: w * o.deficit_kw * k.deficit }
            }));
            phase_keep.clear();
            phase_keep.resize(offers.len(), Keep::default());
            self.radial.apply(model, capacity_kw, &phase_offers, connected, &mut phase_keep, &mut self.binding);
            for (k, p) in self.keep.iter_mut().zip(&phase_keep) {
                k.battery *= p.battery;
                k.surplus *= p.surplus;
                k.deficit *= p.deficit;
            }
        }
        self.phase_offers = phase_offers;
        self.phase_keep = phase_keep;
    }

    /// Last resort when proportional cuts keep trading one line's overload for another's (rare,
    /// meshed grids): scaling every offer by λ scales every flow by λ, so the largest λ that
    /// fits the most loaded line fits them all.
    fn scale_down(&mut self, model: &FlowModel, capacity_kw: &[f64], offers: &[NodeOffer], shares: Option<&[[f64; 3]]>, connected: bool) {
        let mut lambda: f64 = 1.0;
        for high in [true, false] {
            self.line_flows(model, offers, shares, connected, high, |_, e, f| {
                if f.abs() > capacity_kw[e] {
                    lambda = lambda.min(capacity_kw[e] / f.abs());
                }
            });
        }
        for k in &mut self.keep {
            k.battery *= lambda;
            k.surplus *= lambda;
            k.deficit *= lambda;
        }
        self.end_flows_current = false;
    }

    /// After the line limits, keeps every node's voltage within `band` on a
    /// radial grid: while the AC sweep at the high end of the range puts a node above the band,
    /// the exports raising it are cut (battery offers, then PV) in proportion to their push
    /// (shared path resistance × injection); while the low end puts one below it, load is shed.
    /// Returns how many node-steps were outside the band before any cut (violations avoided).
    pub fn limit_voltage(&mut self, model: &FlowModel, offers: &[NodeOffer], connected: bool, nominal_voltage_v: f64, band: VoltageBand) -> u64 {
        if !model.is_radial() {
            return 0;
        }
        self.limit_voltage_with(model, None, offers, connected, nominal_voltage_v, band)
    }

    /// [`Self::limit_voltage`] on the unbalanced flow: each node's offers go on its phases by
    /// `shares` (its households' offers on a, b, c over its total) with the step's reactive
    /// power `q_kvar` (by node and phase), the exact three-phase flow
    /// finds the worst phase voltage of each feeder at each end of the range, and the offers
    /// pushing it are cut in proportion to their push: the shared path resistance to that node
    /// times the node's share on that phase (three times the balanced push, as a single-phase
    /// kW moves its phase about three times as far). A feeder whose linear estimate phase by
    /// phase — times the lines' mutual coupling ([`super::flow3::Flow3Model::coupling_factor`])
    /// and added to the supply's offset from nominal — stays well inside the band is not swept
    /// (behind a transformer, which couples the feeders, all are swept once any is near).
    #[allow(clippy::too_many_arguments)]
    pub fn limit_voltage_3ph(&mut self, model: &FlowModel, three: &super::network::ThreePhase, state: &mut super::flow3::Flow3State, offers: &[NodeOffer], shares: &[[f64; 3]], q_kvar: &[[f64; 3]], connected: bool, nominal_voltage_v: f64, band: VoltageBand) -> u64 {
        let phases = PhaseFlow { three, state, shares, q_kvar, injection: Vec::with_capacity(offers.len()), branch_deviation_pu: Vec::new() };
        self.limit_voltage_with(model, Some(phases), offers, connected, nominal_voltage_v, band)
    }

    /// The voltage limits' loop on the balanced sweep (`phases` `None`) or the unbalanced flow.
    fn limit_voltage_with(&mut self, model: &FlowModel, mut phases: Option<PhaseFlow>, offers: &[NodeOffer], connected: bool, nominal_voltage_v: f64, band: VoltageBand) -> u64 {
        let mut avoided = 0;
        // How far the linear estimate may be from the flow's voltages: exact enough on the
        // balanced flow; on the unbalanced one, the per-phase estimate times the lines' mutual
        // coupling, offset by the supply.
        let (factor, offset) = match &phases {
            None => (1.0, 0.0),
            Some(p) => (p.three.model.coupling_factor, (p.three.model.no_load_pu() - 1.0).abs()),
        };
        let coupled = phases.as_ref().is_some_and(|p| p.three.transformer.is_some());
        let screen = band.narrower_pu() * VOLTAGE_SCREEN;
        // Feeders behind the root's fixed voltage do not affect each other's voltages: each pass
        // fixes the worst node of every feeder that has one, so the passes do not grow with the
        // number of feeders.
        let branches = model.branches().len();
        // Per feeder: (node, phase, direction, high end, excess).
        type Worst = Option<(usize, usize, f64, bool, f64)>;
        let mut worst: Vec<Worst> = vec![None; branches];
        let mut near = vec![false; branches];
        for pass in 0..MAX_PASSES {
            worst.iter_mut().for_each(|w| *w = None);
            let ends = self.ends(offers, connected);
            for &high in ends {
                self.fill_injection(offers, connected, high);
                // Most steps are far inside the band: a linear estimate settles them without
                // the flow (on the line check's flows while nothing has been cut since).
                let flows = &mut self.end_flows[high as usize];
                if !(pass == 0 && self.end_flows_current) {
                    model.solve(&self.injection, flows);
                }
                let estimate = match &mut phases {
                    None => model.linear_max_deviation_pu(flows, nominal_voltage_v),
                    Some(p) => model.linear_phase_deviation_pu(&self.injection, p.shares, nominal_voltage_v, &mut self.phase_deviation, &mut p.branch_deviation_pu),
                };
                if offset + factor * estimate < screen {
                    continue;
                }
                // Only the feeders near the band need the flow.
                let branch_deviation = match &phases {
                    None => &flows.branch_deviation_pu,
                    Some(p) => &p.branch_deviation_pu,
                };
                for (n, d) in near.iter_mut().zip(branch_deviation) {
                    *n = coupled || offset + factor * d >= screen;
                }
                let solved = match &mut phases {
                    None => {
                        model.sweep_branches(&self.injection, nominal_voltage_v, &mut self.ac, |b| near[b]);
                        self.ac.converged
                    }
                    Some(p) => p.solve(&self.injection, &near),
                };
                if !solved {
                    return avoided; // no voltage solution at all: the line limits must do
                }
                for b in (0..branches).filter(|&b| near[b]) {
                    for node in model.branch_nodes(b) {
                        let voltages = match &phases {
                            None => [self.ac.voltage_pu[node], f64::NAN, f64::NAN],
                            Some(p) => p.state.voltage_pu(node, p.three.model.v_phase),
                        };
                        let mut counted = false;
                        for (k, v) in voltages.into_iter().enumerate().filter(|(_, v)| !v.is_nan()) {
                            let excess = band.excess_pu(v);
                            if excess > VOLTAGE_TOLERANCE_PU {
                                // Node-steps: a node counts once; with one end, it stands for
                                // both, so count both sides.
                                if pass == 0 && !counted && (high == (v > 1.0) || ends.len() == 1) {
                                    avoided += 1;
                                    counted = true;
                                }
                                if worst[b].is_none_or(|w| excess > w.4) {
                                    worst[b] = Some((node, k, (v - 1.0).signum(), high, excess));
                                }
                            }
                        }
                    }
                }
            }
            if worst.iter().all(Option::is_none) {
                break;
            }
            self.voltage_binding = true;
            for &(node, phase, direction, high, excess) in worst.iter().flatten() {
                let nodes = model.voltage_sensitivity(node, nominal_voltage_v, &mut self.sensitivity);
                // The linearised push undershoots a little (voltage rise is slightly convex), so
                // ask for a bit more than the excess.
                let sensitivity = std::mem::take(&mut self.sensitivity);
                let pushes = nodes.clone().map(|n| n as usize).zip(sensitivity.iter().copied());
                match &phases {
                    None => self.reduce(offers, connected, high, direction, excess * VOLTAGE_CUT_MARGIN, || pushes.clone()),
                    Some(p) => self.reduce(offers, connected, high, direction, excess * VOLTAGE_CUT_MARGIN, || pushes.clone().map(|(n, s)| (n, PHASES * s * p.shares[n][phase]))),
                }
                self.sensitivity = sensitivity;
            }
        }
        avoided
    }

    /// Takes `excess` kW off the line's flow in `direction`: battery offers, then surplus, then
    /// load, each node in proportion to its push on the line.
    /// `pushes()` yields (node, sensitivity) for the nodes that can push (all of them for a line;
    /// a feeder's for a voltage).
    fn reduce<I: Iterator<Item = (usize, f64)>>(&mut self, offers: &[NodeOffer], connected: bool, high: bool, direction: f64, mut excess: f64, pushes: impl Fn() -> I) {
        self.end_flows_current = false;
        for part in [Part::Battery, Part::Surplus, Part::Deficit] {
            if excess <= 0.0 {
                break;
            }
            if !part.counts(connected, high) {
                continue;
            }
            let push = |o: &NodeOffer, k: &Keep, s: f64| (direction * s * part.injection(o, k)).max(0.0);
            let total: f64 = pushes().map(|(n, s)| push(&offers[n], &self.keep[n], s)).sum();
            if total <= 0.0 {
                continue;
            }
            let cut = (excess / total).min(1.0);
            for (n, s) in pushes() {
                if push(&offers[n], &self.keep[n], s) > 0.0 {
                    *part.keep(&mut self.keep[n]) *= 1.0 - cut;
                }
            }
            excess -= total * cut;
        }
    }
}

/// The unbalanced flow as the voltage limits use it: each node's injection goes on its phases
/// by its shares, with the step's reactive power.
struct PhaseFlow<'a> {
    three: &'a super::network::ThreePhase,
    state: &'a mut super::flow3::Flow3State,
    shares: &'a [[f64; 3]],
    q_kvar: &'a [[f64; 3]],
    injection: Vec<[(f64, f64); 3]>,
    /// Each feeder's largest per-phase linear deviation from nominal, per unit.
    branch_deviation_pu: Vec<f64>,
}

impl PhaseFlow<'_> {
    /// Solves the feeders marked `near` for the node injections `injection_kw`; returns whether
    /// the flow settled.
    fn solve(&mut self, injection_kw: &[f64], near: &[bool]) -> bool {
        self.injection.clear();
        self.injection.extend(injection_kw.iter().zip(self.shares).zip(self.q_kvar).map(|((&p, s), q)| [0, 1, 2].map(|k| (s[k] * p, q[k]))));
        self.three.model.solve_where(&self.injection, self.state, &|b| near[b]);
        self.state.converged
    }
}

/// The parts of a node's offer that limits can reduce, in the order they are reduced.
#[derive(Debug, Clone, Copy)]
enum Part {
    Battery,
    Surplus,
    Deficit,
}

impl Part {
    /// Its injection (kW, negative for load) after the current keep fraction.
    fn injection(self, o: &NodeOffer, k: &Keep) -> f64 {
        match self {
            Part::Battery => o.battery_kw * k.battery,
            Part::Surplus => o.surplus_kw * k.surplus,
            Part::Deficit => -o.deficit_kw * k.deficit,
        }
    }

    fn keep(self, k: &mut Keep) -> &mut f64 {
        match self {
            Part::Battery => &mut k.battery,
            Part::Surplus => &mut k.surplus,
            Part::Deficit => &mut k.deficit,
        }
    }

    /// Whether the part is in the injection at this end of the range (see [`EndOfRange`]).
    fn counts(self, connected: bool, high: bool) -> bool {
        match self {
            Part::Battery => high,
            Part::Surplus => connected || high,
            Part::Deficit => connected || !high,
        }
    }
}

/// The parts that make up the injection at the high or low end of the range, worked out once
/// for all nodes, so the per-node loops do not test each part again.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EndOfRange {
    battery: bool,
    surplus: bool,
    deficit: bool,
}

impl EndOfRange {
    pub(crate) fn new(connected: bool, high: bool) -> EndOfRange {
        EndOfRange { battery: Part::Battery.counts(connected, high), surplus: Part::Surplus.counts(connected, high), deficit: Part::Deficit.counts(connected, high) }
    }

    /// A node's injection at this end, kW: its parts summed in `Part` order from −0.0, as
    /// `Iterator::sum` adds them.
    pub(crate) fn injection(self, o: &NodeOffer, k: &Keep) -> f64 {
        let mut kw = -0.0;
        for (part, counts) in [(Part::Battery, self.battery), (Part::Surplus, self.surplus), (Part::Deficit, self.deficit)] {
            if counts {
                kw += part.injection(o, k);
            }
        }
        kw
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grid::test_net;

    /// Root 0 – 1 – 2 and 1 – 3; line 0–1 carries at most `cap` kW.
    fn feeder(cap: f64) -> (FlowModel, Vec<f64>) {
        let t = test_net(4, &[(0, 1, 0.01, 0.01, cap), (1, 2, 0.01, 0.01, 100.0), (1, 3, 0.01, 0.01, 100.0)]);
        (FlowModel::new(&t), vec![cap, 100.0, 100.0])
    }

    fn offer(surplus_kw: f64, battery_kw: f64, deficit_kw: f64) -> NodeOffer {
        NodeOffer { surplus_kw, battery_kw, deficit_kw }
    }

    #[test]
    fn backfeed_is_curtailed_to_the_capacity_battery_offers_first() {
        // Nodes 2 and 3 export 30 + 10 kW of PV and node 3 offers 10 kW from its battery:
        // 50 kW at most through a 25 kW line. The battery offer goes first (10), then PV is
        // curtailed in proportion (15 of 40: both keep 62.5%).
        let (m, cap) = feeder(25.0);
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(30.0, 0.0, 0.0), offer(10.0, 10.0, 0.0)];
        let mut l = Limiter::default();
        assert!(l.apply(&m, &cap, &offers, true));
        assert_eq!(l.binding, vec![true, false, false]);
        assert_eq!(l.keep[3].battery, 0.0);
        assert!((l.keep[2].surplus - 0.625).abs() < 1e-12 && (l.keep[3].surplus - 0.625).abs() < 1e-12, "{:?}", l.keep);
        assert_eq!(l.keep[2].deficit, 1.0);
    }

    #[test]
    fn overload_by_load_is_shed_and_nothing_else_moves() {
        let (m, cap) = feeder(20.0);
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 30.0), offer(5.0, 0.0, 0.0)];
        let mut l = Limiter::default();
        assert!(l.apply(&m, &cap, &offers, true));
        // 30 − 5 = 25 kW drawn through a 20 kW line: 5 kW of node 2's load is shed.
        assert!((l.keep[2].deficit - 25.0 / 30.0).abs() < 1e-12, "{:?}", l.keep);
        assert_eq!(l.keep[3].surplus, 1.0, "curtailing PV would make it worse");
    }

    #[test]
    fn within_limits_nothing_changes() {
        let (m, cap) = feeder(100.0);
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(30.0, 5.0, 0.0), offer(0.0, 0.0, 20.0)];
        let mut l = Limiter::default();
        assert!(l.apply(&m, &cap, &offers, false));
        assert!(l.keep.iter().all(|k| *k == Keep::default()) && l.binding.iter().all(|b| !b));
    }

    #[test]
    fn unbalanced_lines_are_held_per_phase() {
        // 30 kW exported on phase a through a 45 kW line: within the line's total but three
        // times a phase's 15 kW. Node 2 is all on phase a, node 3 half on a and half on b.
        let (m, cap) = feeder(45.0);
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(20.0, 0.0, 0.0), offer(20.0, 0.0, 0.0)];
        let shares = [[1.0 / 3.0; 3], [1.0 / 3.0; 3], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]];
        let mut l = Limiter::default();
        assert!(l.apply(&m, &cap, &offers, true) && l.binding.iter().all(|b| !b), "balanced: 40 kW fit");
        assert!(l.apply_3ph(&m, &cap, &offers, &shares, true));
        assert_eq!(l.binding, vec![true, false, false]);
        // Phase a carries 20·k2 + 10·k3 ≤ 15 with the cut in proportion to the push (20 : 10).
        let phase_a = 20.0 * l.keep[2].surplus + 10.0 * l.keep[3].surplus;
        assert!((phase_a - 15.0).abs() < 1e-9, "{phase_a} {:?}", l.keep);
        assert!((l.keep[2].surplus - l.keep[3].surplus).abs() < 1e-9);
        // Balanced shares give the balanced result.
        let even = [[1.0 / 3.0; 3]; 4];
        let mut b = Limiter::default();
        let (m2, cap2) = feeder(25.0);
        b.apply_3ph(&m2, &cap2, &offers, &even, true);
        l.apply(&m2, &cap2, &offers, true);
        for (x, y) in b.keep.iter().zip(&l.keep) {
            assert!((x.surplus - y.surplus).abs() < 1e-9, "{:?} {:?}", b.keep, l.keep);
        }
    }

    #[test]
    fn opposite_phases_do_not_cancel() {
        // Node 2 exports 10 kW on phase a, node 3 draws 10 kW on phase b: nothing flows in
        // total, but each phase carries 10 kW through a line whose phases take 5 kW each.
        for meshed in [false, true] {
            let mut lines = vec![(0, 1, 0.01, 0.01, 15.0), (1, 2, 0.01, 0.01, 100.0), (1, 3, 0.01, 0.01, 100.0)];
            if meshed {
                lines.push((2, 3, 0.01, 0.05, 100.0));
            }
            let t = test_net(4, &lines);
            let m = FlowModel::new(&t);
            let cap: Vec<f64> = t.graph.edge_weights().map(|l| l.capacity_kw).collect();
            let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(10.0, 0.0, 0.0), offer(0.0, 0.0, 10.0)];
            let shares = [[1.0 / 3.0; 3], [1.0 / 3.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]];
            let mut l = Limiter::default();
            l.apply_3ph(&m, &cap, &offers, &shares, true);
            assert!(l.binding[0], "meshed {meshed}");
            assert!(l.keep[2].surplus <= 0.5 + 1e-9 && l.keep[3].deficit <= 0.5 + 1e-9, "meshed {meshed}: {:?}", l.keep);
            assert!(l.keep[2].surplus > 0.45 && l.keep[3].deficit > 0.45, "meshed {meshed}: {:?}", l.keep);
        }
    }

    #[test]
    fn random_radial_and_meshed_grids_end_within_every_limit() {
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut unsettled = 0;
        for case in 0..200 {
            let n = 3 + (next() * 30.0) as usize;
            // Draws in the order parent, capacity, reactance (the cases the limits were tuned on).
            let line = |next: &mut dyn FnMut() -> f64, a: usize, b: usize, cap_base: f64| {
                let cap = cap_base + next() * 20.0;
                (a, b, 0.01, 0.01 + next(), cap)
            };
            let mut lines = Vec::new();
            for v in 1..n {
                let p = (next() * v as f64) as usize;
                lines.push(line(&mut next, p, v, 2.0));
            }
            if case % 2 == 1 {
                let (a, b) = ((next() * n as f64) as usize, (next() * n as f64) as usize);
                if a != b {
                    lines.push(line(&mut next, a, b, 5.0));
                }
            }
            let t = test_net(n, &lines);
            let m = FlowModel::new(&t);
            let cap: Vec<f64> = t.graph.edge_weights().map(|l| l.capacity_kw).collect();
            let offers: Vec<_> = (0..n).map(|_| offer(next() * 15.0, if next() < 0.3 { next() * 5.0 } else { 0.0 }, next() * 12.0)).collect();
            for connected in [true, false] {
                let mut l = Limiter::default();
                let done = l.apply(&m, &cap, &offers, connected);
                assert!(done || !m.is_radial(), "case {case}: radial grids always settle");
                unsettled += !done as u32;
                for high in [true, false] {
                    let inj: Vec<f64> = offers.iter().zip(&l.keep).map(|(o, k)| EndOfRange::new(connected, high).injection(o, k)).collect();
                    let mut f = Flows::default();
                    m.solve(&inj, &mut f);
                    for (e, x) in f.line_kw.iter().enumerate() {
                        assert!(x.abs() <= cap[e] + 1e-6, "case {case} line {e}: {x} > {}", cap[e]);
                    }
                }
                assert!(l.keep.iter().all(|k| (0.0..=1.0).contains(&k.surplus) && (0.0..=1.0).contains(&k.deficit) && (0.0..=1.0).contains(&k.battery)));
            }
        }
        // Meshed grids iterate; with one random tie of random capacity a rare one needs the
        // uniform scale-down (its flows are checked above like all others).
        eprintln!("meshed cases scaled down: {unsettled} of 200");
        assert!(unsettled <= 5, "{unsettled}");
    }

    #[test]
    fn random_grids_with_phases_end_within_every_phase_limit() {
        let mut seed = 11u64;
        let mut next = move || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut scaled = 0;
        for case in 0..200 {
            let n = 3 + (next() * 30.0) as usize;
            let mut lines = Vec::new();
            for v in 1..n {
                let p = (next() * v as f64) as usize;
                lines.push((p, v, 0.01, 0.01 + next(), 6.0 + next() * 40.0));
            }
            if case % 3 == 2 {
                let (a, b) = ((next() * n as f64) as usize, (next() * n as f64) as usize);
                if a != b {
                    lines.push((a, b, 0.01, 0.01 + next(), 10.0 + next() * 20.0));
                }
            }
            let t = test_net(n, &lines);
            let m = FlowModel::new(&t);
            let cap: Vec<f64> = t.graph.edge_weights().map(|l| l.capacity_kw).collect();
            let offers: Vec<_> = (0..n).map(|_| offer(next() * 10.0, if next() < 0.3 { next() * 4.0 } else { 0.0 }, next() * 8.0)).collect();
            let shares: Vec<[f64; 3]> = (0..n)
                .map(|_| match (next() * 5.0) as usize {
                    0 => [1.0, 0.0, 0.0],
                    1 => [0.0, 1.0, 0.0],
                    2 => [0.0, 0.0, 1.0],
                    3 => [1.0 / 3.0; 3],
                    _ => [0.5, 0.0, 0.5],
                })
                .collect();
            for connected in [true, false] {
                let mut l = Limiter::default();
                scaled += !l.apply_3ph(&m, &cap, &offers, &shares, connected) as u32;
                for high in [true, false] {
                    let inj: Vec<f64> = offers.iter().zip(&l.keep).map(|(o, k)| EndOfRange::new(connected, high).injection(o, k)).collect();
                    for phase in 0..3 {
                        let phase_inj: Vec<f64> = inj.iter().zip(&shares).map(|(p, s)| 3.0 * s[phase] * p).collect();
                        let mut f = Flows::default();
                        m.solve(&phase_inj, &mut f);
                        for (e, x) in f.line_kw.iter().enumerate() {
                            assert!(x.abs() <= cap[e] + 1e-6, "case {case} phase {phase} line {e}: {x} > {}", cap[e]);
                        }
                    }
                }
                assert!(l.keep.iter().all(|k| (0.0..=1.0).contains(&k.surplus) && (0.0..=1.0).contains(&k.deficit) && (0.0..=1.0).contains(&k.battery)));
            }
        }
        eprintln!("cases scaled down: {scaled} of 400");
        assert!(scaled <= 20, "{scaled}");
    }

    #[test]
    fn without_battery_offers_one_end_counts_both_sides_of_the_band() {
        // Two feeders of 0.2 Ω: node 1 exports 20 kW (about +2.5%), node 2 draws 20 kW (about
        // −2.5%). With no battery offer the ends coincide and are checked once; with one, twice.
        let m = FlowModel::new(&test_net(3, &[(0, 1, 0.2, 1e-6, 100.0), (0, 2, 0.2, 1e-6, 100.0)]));
        let run = |battery_kw: f64| {
            let offers = [offer(0.0, 0.0, 0.0), offer(20.0, battery_kw, 0.0), offer(0.0, 0.0, 20.0)];
            let mut l = Limiter::default();
            assert!(l.apply(&m, &[100.0, 100.0], &offers, true));
            let avoided = l.limit_voltage(&m, &offers, true, 400.0, VoltageBand::symmetric(0.01));
            (avoided, l.keep[1].surplus, l.keep[2].deficit)
        };
        let (avoided, surplus, deficit) = run(0.0);
        assert_eq!(avoided, 2);
        assert!(surplus < 0.6 && deficit < 0.6, "{surplus} {deficit}");
        assert_eq!(run(1e-9).0, 2, "two ends count the same node-steps");
    }

    #[test]
    fn exports_are_cut_until_the_voltage_is_back_in_its_band() {
        // Root – 1 – 2, 0.1 Ω each: 20 kW exported at node 2 lifts it to 1.0244 pu (see the
        // sweep test). With a ±1% band the export must come down to about 8 kW.
        let m = FlowModel::new(&test_net(3, &[(0, 1, 0.1, 1e-6, 100.0), (1, 2, 0.1, 1e-6, 100.0)]));
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(20.0, 0.0, 0.0)];
        let mut l = Limiter::default();
        assert!(l.apply(&m, &[100.0, 100.0], &offers, true));
        let avoided = l.limit_voltage(&m, &offers, true, 400.0, VoltageBand::symmetric(0.01));
        assert!(avoided >= 1 && l.voltage_binding);
        let kept = 20.0 * l.keep[2].surplus;
        let mut ac = super::super::flow::AcState::default();
        m.sweep(&[0.0, 0.0, kept], 400.0, &mut ac);
        assert!(ac.voltage_pu[2] <= 1.01 + VOLTAGE_TOLERANCE_PU && ac.voltage_pu[2] > 1.009, "{} pu at {kept} kW", ac.voltage_pu[2]);
        // A load far down the feeder is shed to keep the voltage above 0.99.
        let offers = [offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 0.0), offer(0.0, 0.0, 20.0)];
        l.apply(&m, &[100.0, 100.0], &offers, true);
        l.limit_voltage(&m, &offers, true, 400.0, VoltageBand::symmetric(0.01));
        assert!(l.keep[2].deficit < 0.5 && l.keep[2].deficit > 0.3, "{:?}", l.keep[2]);
    }
}
