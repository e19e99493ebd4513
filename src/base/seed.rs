//! Seeded random streams, one per purpose, so that changing one part of a scenario (the trading
//! rule, say) never changes the draws of another (the weather, the loads).
//!
//! A stream's 32-byte ChaCha seed is SHA-256 of `"peergrid/v1" ‖ scenario seed (u64 LE) ‖ purpose
//! tag (UTF-8) ‖ 0x00 ‖ index (u64 LE)`. The encoding is fixed: changing it changes every result.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// What a random stream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Cloudiness, one stream for the whole run.
    Weather,
    /// One household's load noise; index = household index.
    Load,
    /// Drawing generated households (kWp, battery, archetype); index = group index.
    Households,
    /// Market draws of one step; index = step number.
    Market,
    /// Validator elections; index = round number.
    Ledger,
    /// Bidding strategies' draws of one step; index = step number.
    Bids,
    /// Daily variation of a measured load made synthetic; index = household index.
    MeasuredLoad,
    /// Panel tilt, azimuth and shade of generated households; index = group index × 3 + 0, 1, 2.
    PvLayout,
    /// Market draws of one community in one step; index = community index × 2⁴⁸ + step.
    CommunityMarket,
    /// Households' incomes drawn for a group; index = group index.
    Income,
    /// A community's witness elections; index = community index × 2³² + period.
    CommunityElection,
    /// Households' community choices; index = round × 2³² + household index.
    CommunityChoice,
    /// Households' loyalty in choosing (β, switching cost, ε); index = household index.
    Loyalty,
    /// Whether a household's appliance runs on a day; index = household index × 2³² + day × 2⁸
    /// + appliance.
    Appliances,
    /// One electric vehicle's trips, day after day; index = household index.
    Vehicles,
    /// Which houses of a group heat with a heat pump and have a hot-water tank; index = group
    /// index × 2 + 0, 1.
    Heating,
}

impl Stream {
    fn tag(self) -> &'static str {
        match self {
            Stream::Weather => "weather",
            Stream::Load => "load",
            Stream::Households => "households",
            Stream::Market => "market",
            Stream::Ledger => "ledger",
            Stream::Bids => "bids",
            Stream::MeasuredLoad => "measured-load",
            Stream::PvLayout => "pv-layout",
            Stream::CommunityMarket => "community-market",
            Stream::Appliances => "appliances",
            Stream::Vehicles => "vehicles",
            Stream::Heating => "heating",
            Stream::Income => "income",
            Stream::CommunityElection => "community-election",
            Stream::CommunityChoice => "community-choice",
            Stream::Loyalty => "loyalty",
        }
    }
}

/// The RNG for `stream` number `index` of a scenario seeded with `seed`.
pub fn rng(seed: u64, stream: Stream, index: u64) -> ChaCha8Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"peergrid/v1");
    hasher.update(seed.to_le_bytes());
    hasher.update(stream.tag().as_bytes());
    hasher.update([0u8]);
    hasher.update(index.to_le_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    ChaCha8Rng::from_seed(digest)
}

/// A uniform draw in [0, 1) keyed by `key` and `index` (SplitMix64 finaliser): the same pair
/// always gives the same number, whatever order the draws are made in.
pub fn keyed_unit(key: u64, index: u64) -> f64 {
    let mut z = key ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a = rng(7, Stream::Weather, 0).next_u64();
        assert_eq!(a, rng(7, Stream::Weather, 0).next_u64());
        assert_ne!(a, rng(7, Stream::Load, 0).next_u64());
        assert_ne!(a, rng(8, Stream::Weather, 0).next_u64());
        assert_ne!(rng(7, Stream::Load, 1).next_u64(), rng(7, Stream::Load, 2).next_u64());
    }
}
