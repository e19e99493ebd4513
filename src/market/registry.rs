//! Every trading rule, by name. The rules are listed once, in `rules!` in the market's `mod.rs`:
//! adding a rule is its file in `src/market/` and one line there.

pub use super::RULES;
use super::{RuleSetup, TradingRule};
use std::collections::BTreeMap;

/// Declares each rule's module (a file in `src/market/` with a `pub static RULE: RuleInfo`) and
/// [`RULES`], in the order given.
macro_rules! rules {
    ($($rule:ident,)*) => {
        $(pub mod $rule;)*

        /// All rules, in the order `peergrid rules` lists them.
        pub static RULES: &[&registry::RuleInfo] = &[$(&$rule::RULE),*];
    };
}
pub(crate) use rules;

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
