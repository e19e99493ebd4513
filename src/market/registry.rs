//! Every trading rule, by name. Adding a rule: one line in [`RULES`].

use super::{bill_sharing, continuous, double_auction, grid_only, hierarchical, mmr, nearest, pay_as_bid, preference, sdr, RuleSetup, TradingRule};
use std::collections::BTreeMap;

/// A rule parameter with its default and allowed range.
#[derive(Debug)]
pub struct ParamInfo {
    pub name: &'static str,
    pub default: f64,
    pub min: f64,
    pub max: f64,
    pub doc: &'static str,
}

/// A rule's name (as used in scenario files and `--rule`), description, parameters and builder.
pub struct RuleInfo {
    pub name: &'static str,
    pub summary: &'static str,
    pub params: &'static [ParamInfo],
    /// Builds the rule from the run's setup; `setup.params` are validated (every declared
    /// parameter is present).
    pub build: fn(&RuleSetup) -> Box<dyn TradingRule>,
}

impl std::fmt::Debug for RuleInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for RuleInfo {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// All rules, in the order `peergrid rules` lists them.
pub static RULES: &[&RuleInfo] = &[&grid_only::RULE, &double_auction::RULE, &pay_as_bid::RULE, &continuous::RULE, &sdr::RULE, &mmr::RULE, &bill_sharing::RULE, &nearest::RULE, &preference::RULE, &hierarchical::RULE];


pub fn find(name: &str) -> Option<&'static RuleInfo> {
    RULES.iter().copied().find(|r| r.name == name)
}

pub fn names() -> Vec<&'static str> {
    RULES.iter().map(|r| r.name).collect()
}

/// The rule's parameters with defaults for those not given.
pub fn default_params(rule: &RuleInfo) -> BTreeMap<String, f64> {
    rule.params.iter().map(|p| (p.name.to_string(), p.default)).collect()
}
