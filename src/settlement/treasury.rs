//! The community fund's treasury: the fee it takes on peer trades, the rate it sets each
//! validator round, and the block rewards it pays the witnesses who seal blocks. The ledger
//! decides when a round starts and who sealed which block; what that costs and earns is paid
//! here, between accounts like every other payment.

use super::Accounts;
use crate::base::money::Micros;
use crate::household::{HouseholdEntities, Wallet};
use bevy::prelude::*;

pub use crate::base::money::PPM;

/// How the community fund's fee rate is set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeePolicy {
    Fixed { rate_ppm: i64 },
    /// Each round: rate = clamp(base × (2 − fund / target), min, max).
    Flexible { base_ppm: i64, target: Micros, min_ppm: i64, max_ppm: i64 },
}

impl FeePolicy {
    pub fn rate_ppm(&self, fund: Micros) -> i64 {
        match *self {
            FeePolicy::Fixed { rate_ppm } => rate_ppm,
            FeePolicy::Flexible { base_ppm, target, min_ppm, max_ppm } => {
                let ratio = fund.0 as f64 / target.0.max(1) as f64;
                ((base_ppm as f64 * (2.0 - ratio)).round() as i64).clamp(min_ppm, max_ppm)
            }
        }
    }
}

/// The treasury's settings: its fee policy and the reward for each sealed block.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreasuryConfig {
    pub policy: FeePolicy,
    pub producer_reward: Micros,
}

/// The community fund's fee on peer trades, in parts per million of the trade amount, paid by
/// the seller. Zero without a treasury; otherwise set at the start of the run and at each
/// validator round (by [`pay_block_rewards`]).
#[derive(Resource, Debug, Default, Clone, Copy, PartialEq)]
pub struct Treasury {
    pub fee_rate_ppm: i64,
    pub config: Option<TreasuryConfig>,
}

impl Treasury {
    /// A treasury under `config`; its first rate applies to the first block's trades.
    pub fn new(config: Option<TreasuryConfig>) -> Treasury {
        Treasury { fee_rate_ppm: config.map(|t| t.policy.rate_ppm(Micros::ZERO)).unwrap_or(0), config }
    }

    /// The fee on a trade amount, rounded half up to a micro-unit.
    pub fn fee_on(&self, amount: Micros) -> Micros {
        Micros((amount.0 * self.fee_rate_ppm + PPM / 2).div_euclid(PPM))
    }
}

/// What the ledger's sealing of this step owes: a reward for each block whose producer the fund
/// pays, and, when a validator round started, the fund's sealed balance at its start (from which
/// the next rate is set). Written by the ledger; paid and cleared by [`pay_block_rewards`].
#[derive(Resource, Debug, Default, Clone, PartialEq)]
pub struct BlockRewards {
    /// (producer's household index, amount), in sealing order.
    pub due: Vec<(u32, Micros)>,
    /// The fund's sealed balance when the latest round of this step started.
    pub round_started_with_fund: Option<Micros>,
}

/// The treasury's systems: block rewards and the fee rate, after the ledger seals.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct TreasurySystems;

/// Pays each block's producer its reward from the community fund and sets the fee rate of a new
/// round. Reads `BlockRewards`, `HouseholdEntities`; writes `Accounts`, `Wallet`, `Treasury`,
/// and clears `BlockRewards`. Runs in `TreasurySystems`, after the ledger seals.
pub fn pay_block_rewards(mut due: ResMut<BlockRewards>, entities: Res<HouseholdEntities>, mut treasury: ResMut<Treasury>, mut accounts: ResMut<Accounts>, mut wallets: Query<&mut Wallet>) {
    if due.due.is_empty() && due.round_started_with_fund.is_none() {
        return;
    }
    for (producer, amount) in due.due.drain(..) {
        // The producer is a household of this run; the fund pays only a wallet it can credit, so
        // balances always sum to zero.
        let wallet = entities.0.get(producer as usize).and_then(|e| wallets.get_mut(*e).ok());
        debug_assert!(wallet.is_some(), "block producer {producer} is a household");
        if let Some(mut w) = wallet {
            accounts.community_fund -= amount;
            w.balance += amount;
            w.rewards_received += amount;
        }
    }
    if let (Some(fund), Some(t)) = (due.round_started_with_fund.take(), treasury.config) {
        treasury.fee_rate_ppm = t.policy.rate_ppm(fund);
    }
}
