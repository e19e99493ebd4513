//! Communities households join by choice (scenarios with `communities`): who is a member of
//! which, and each community's own trading rule. Members trade with members under their
//! community's rule, on the shared grid with its zones and fees; non-members' orders are left to
//! the grid.

use super::{clear_book, Clearing, MarketContext, OrderBook, TradingRule};
use crate::base::seed::{rng, Stream};
use bevy::prelude::*;

/// Each household's community (by community index), by household index; `None`: not a member
/// (it deals with the grid). Empty when the run has no communities (then everyone trades in
/// the one market). Written by the `community` domain when members join, leave or are freed
/// by a default; read by clearing and settlement.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct Memberships(pub Vec<Option<u16>>);

impl Memberships {
    /// The community of household `index`, if any.
    pub fn of(&self, index: u32) -> Option<u16> {
        self.0.get(index as usize).copied().flatten()
    }

    /// The members of community `c`, by household index, in order.
    pub fn members_of(&self, c: u16) -> Vec<u32> {
        (0..self.0.len() as u32).filter(|h| self.of(*h) == Some(c)).collect()
    }
}

/// The rule of each community, by community index; `None` before it is founded and after it
/// dissolves. Present only in runs with communities: then it replaces the one market's rule.
#[derive(Resource, Default)]
pub struct CommunityMarkets {
    pub rules: Vec<Option<Box<dyn TradingRule>>>,
    book: OrderBook,
    part: Clearing,
}

impl CommunityMarkets {
    pub fn new(rules: Vec<Option<Box<dyn TradingRule>>>) -> CommunityMarkets {
        CommunityMarkets { rules, book: OrderBook::default(), part: Clearing::default() }
    }

    /// Clears `book` community by community, each on its members' orders with its rule and its
    /// own market stream, and appends the results to `out` in community order. Orders of
    /// households in no community are not cleared.
    #[allow(clippy::too_many_arguments)]
    pub fn clear(&mut self, book: &OrderBook, members: &Memberships, ctx: &MarketContext, seed: u64, zones: Option<&super::zones::ZoneFees>, scratch: &mut super::zones::ZoneScratch, out: &mut Clearing) {
        let CommunityMarkets { rules, book: sub, part } = self;
        for (c, rule) in rules.iter_mut().enumerate() {
            let Some(rule) = rule else { continue };
            rule.begin_step(ctx.step);
            let c = c as u16;
            sub.bids.clear();
            sub.asks.clear();
            sub.bids.extend(book.bids.iter().filter(|o| members.of(o.household) == Some(c)));
            sub.asks.extend(book.asks.iter().filter(|o| members.of(o.household) == Some(c)));
            if sub.bids.is_empty() || sub.asks.is_empty() {
                continue;
            }
            part.clear();
            // A stream per (community, step): one community's draws never shift another's.
            let mut r = rng(seed, Stream::CommunityMarket, (u64::from(c) << 48) | ctx.step);
            clear_book(&mut **rule, sub, ctx, &mut r, part, zones, scratch);
            out.trades.append(&mut part.trades);
            out.pool_sales.append(&mut part.pool_sales);
            if out.kwh_by_level.len() < part.kwh_by_level.len() {
                out.kwh_by_level.resize(part.kwh_by_level.len(), 0.0);
            }
            for (total, kwh) in out.kwh_by_level.iter_mut().zip(&part.kwh_by_level) {
                *total += kwh;
            }
        }
    }
}
