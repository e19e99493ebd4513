//! Money as integer micro-units, so sums are exact and every payment balances to the unit.

use serde::Serialize;

/// Micro-units per currency unit.
pub const MICROS_PER_UNIT: i64 = 1_000_000;

/// An amount of money in micro-units (1 currency unit = 1,000,000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Micros(pub i64);

impl Micros {
    pub const ZERO: Micros = Micros(0);

    /// Converts a decimal amount from a scenario file (rounded to the nearest micro-unit).
    pub fn from_units(units: f64) -> Micros {
        Micros(round_to_i64(units * MICROS_PER_UNIT as f64))
    }

    /// The amount as a decimal, for reports only: never compute with it.
    pub fn as_units(self) -> f64 {
        self.0 as f64 / MICROS_PER_UNIT as f64
    }

    /// Exact decimal text with six places (`-1.250000`), for CSV and JSON.
    pub fn to_decimal_string(self) -> String {
        let mut s = String::new();
        self.write_decimal(&mut s);
        s
    }

    /// Appends the six-place decimal to `out` (no allocation in hot loops).
    pub fn write_decimal(self, out: &mut String) {
        use std::fmt::Write;
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = MICROS_PER_UNIT as u64;
        let _ = write!(out, "{sign}{}.{:06}", abs / per, abs % per);
    }
}

impl std::ops::Add for Micros {
    type Output = Micros;
    fn add(self, rhs: Micros) -> Micros {
        Micros(self.0 + rhs.0)
    }
}

impl std::ops::AddAssign for Micros {
    fn add_assign(&mut self, rhs: Micros) {
        self.0 += rhs.0;
    }
}

impl std::ops::SubAssign for Micros {
    fn sub_assign(&mut self, rhs: Micros) {
        self.0 -= rhs.0;
    }
}

impl std::ops::Sub for Micros {
    type Output = Micros;
    fn sub(self, rhs: Micros) -> Micros {
        Micros(self.0 - rhs.0)
    }
}

impl std::ops::Neg for Micros {
    type Output = Micros;
    fn neg(self) -> Micros {
        Micros(-self.0)
    }
}

/// Magnitudes from which every `f64` is a whole number (2^52).
const WHOLE_F64: f64 = 4_503_599_627_370_496.0;

/// The largest `f64` below one half.
const JUST_BELOW_HALF: f64 = 0.499_999_999_999_999_94;

/// `x.round() as i64` (half away from zero), without the call to libm's `round` that `f64::round`
/// is on baseline x86-64: it runs for every payment of every step. Below 2^52, adding just less
/// than a half towards `x`'s sign and truncating gives the same result for every input
/// (tested): the sum is rounded to the nearest `f64`, which carries an exact half (and nothing
/// less) over the next integer, and it needs no branch, whose side of ±0.5 would be a coin toss
/// for the predictor, nor a conversion back to `f64` to take the fraction.
pub fn round_to_i64(x: f64) -> i64 {
    if !(x.abs() < WHOLE_F64) {
        return x.round() as i64;
    }
    (x + JUST_BELOW_HALF.copysign(x)) as i64
}

/// Parts per million: rates and shares are integers in ppm (fee rates of the trade amount).
pub const PPM: i64 = 1_000_000;

/// A price in micro-units per kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PricePerKwh(pub i64);

impl PricePerKwh {
    pub fn from_units(units_per_kwh: f64) -> PricePerKwh {
        PricePerKwh(Micros::from_units(units_per_kwh).0)
    }

    /// The payment for `kwh` at this price, rounded half away from zero to a micro-unit.
    pub fn amount_for(self, kwh: f64) -> Micros {
        Micros(round_to_i64(kwh * self.0 as f64))
    }

    pub fn as_units(self) -> f64 {
        Micros(self.0).as_units()
    }

    pub fn to_decimal_string(self) -> String {
        Micros(self.0).to_decimal_string()
    }
}

/// An energy price as a trading rule computed it, unrounded: currency units per kWh. Tariffs,
/// order limits and fees stay [`PricePerKwh`] (inputs at micro-unit resolution); the price a
/// trade settles at is exact, and only each payment is rounded, once.
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd, Serialize)]
pub struct Price(pub f64);

impl Price {
    /// A price in micro-units per kWh as computed (not rounded), e.g. `a + k·(b − a)`.
    pub fn from_micros(micros_per_kwh: f64) -> Price {
        Price(micros_per_kwh / MICROS_PER_UNIT as f64)
    }

    /// The payment for `kwh` at this price: round-half-away-from-zero(`kwh` × price × 10⁶)
    /// micro-units, the product taken left to right in `f64`, so anyone can recompute it from
    /// `kwh` and the price as `trades.csv` and the ledger write them (shortest round-trip
    /// decimals).
    pub fn amount_for(self, kwh: f64) -> Micros {
        Micros(round_to_i64(kwh * self.0 * MICROS_PER_UNIT as f64))
    }

    pub fn as_units(self) -> f64 {
        self.0
    }

    /// The price in micro-units per kWh, rounded: for display and tests, never for payments.
    pub fn micros(self) -> i64 {
        round_to_i64(self.0 * MICROS_PER_UNIT as f64)
    }
}

impl From<PricePerKwh> for Price {
    fn from(p: PricePerKwh) -> Price {
        Price::from_micros(p.0 as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_are_exact() {
        assert_eq!(Micros(1_250_000).to_decimal_string(), "1.250000");
        assert_eq!(Micros(-5).to_decimal_string(), "-0.000005");
        assert_eq!(Micros(0).to_decimal_string(), "0.000000");
    }

    #[test]
    fn rounding_matches_f64_round() {
        let edges = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, 0.49999999999999994, -0.49999999999999994, 2_251_799_813_685_247.5, 2_251_799_813_685_248.5, -2_251_799_813_685_247.5, 4_503_599_627_370_495.0, 4_503_599_627_370_495.5, 4_503_599_627_370_496.0, -4_503_599_627_370_495.5, 1e300, -1e300, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 9.3e18];
        for x in edges {
            assert_eq!(round_to_i64(x), x.round() as i64, "{x}");
        }
    }

    /// Halves and their neighbouring `f64`s in every binade below 2^52, both signs: where a
    /// rounding shortcut would go wrong.
    #[test]
    fn rounding_matches_f64_round_at_halves_of_every_magnitude() {
        for e in 0..52 {
            let base = (1u64 << e) as f64;
            for k in [base - 1.0, base, base + 1.0] {
                for h in [0.0, 0.25, 0.5, 0.75] {
                    let x = k + h;
                    for y in [x, f64::from_bits(x.to_bits() + 1), f64::from_bits(x.to_bits().saturating_sub(1))] {
                        for v in [y, -y] {
                            assert_eq!(round_to_i64(v), v.round() as i64, "{v}");
                        }
                    }
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn rounding_matches_f64_round_anywhere(x in proptest::num::f64::ANY, kwh in -1e3..1e3f64, price in -10_000_000i64..10_000_000) {
            proptest::prop_assert_eq!(round_to_i64(x), x.round() as i64);
            let y = kwh * price as f64;
            proptest::prop_assert_eq!(round_to_i64(y), y.round() as i64);
            proptest::prop_assert_eq!(round_to_i64(y.trunc() + 0.5), (y.trunc() + 0.5).round() as i64);
        }
    }

    #[test]
    fn conversions_round_to_micro_units() {
        assert_eq!(Micros::from_units(0.3), Micros(300_000));
        assert_eq!(PricePerKwh::from_units(0.25).amount_for(2.0), Micros(500_000));
        assert_eq!(PricePerKwh(3).amount_for(0.5), Micros(2));
    }
}
