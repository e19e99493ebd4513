//! The treasuries of the communities households join by choice (scenarios with `communities`):
//! their balances and the fee each charges on its members' peer sales. What a treasury pays out
//! and how its fee is set is decided by the `community` domain; the money moves here and in
//! [`super::settle`], between accounts like every other payment.

use super::treasury::PPM;
use crate::base::money::Micros;
use bevy::prelude::*;

/// Each community's treasury, by community index. Empty in runs without communities.
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct CommunityFunds {
    /// Balance of each treasury.
    pub balance: Vec<Micros>,
    /// The fee on members' peer sales, ppm of the trade amount, paid by the seller.
    pub fee_rate_ppm: Vec<i64>,
    /// Fees collected since the start of the run.
    pub fees_collected: Vec<Micros>,
}

impl CommunityFunds {
    /// Treasuries for `n` communities, empty, with these first fee rates.
    pub fn new(fee_rate_ppm: Vec<i64>) -> CommunityFunds {
        let n = fee_rate_ppm.len();
        CommunityFunds { balance: vec![Micros::ZERO; n], fee_rate_ppm, fees_collected: vec![Micros::ZERO; n] }
    }

    /// The fee community `c` takes on a trade amount (rounded half up to a micro-unit, once),
    /// credited to its treasury.
    pub fn collect(&mut self, c: u16, amount: Micros) -> Micros {
        let c = c as usize;
        let fee = Micros(((i128::from(amount.0) * i128::from(self.fee_rate_ppm[c]) + i128::from(PPM / 2)).div_euclid(i128::from(PPM))) as i64);
        self.balance[c] += fee;
        self.fees_collected[c] += fee;
        fee
    }

    /// Sum of all treasuries.
    pub fn total(&self) -> Micros {
        self.balance.iter().fold(Micros::ZERO, |a, b| a + *b)
    }
}
