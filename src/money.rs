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
        Micros((units * MICROS_PER_UNIT as f64).round() as i64)
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

/// A price in micro-units per kWh.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct PricePerKwh(pub i64);

impl PricePerKwh {
    pub fn from_units(units_per_kwh: f64) -> PricePerKwh {
        PricePerKwh(Micros::from_units(units_per_kwh).0)
    }

    /// The payment for `kwh` at this price, rounded half away from zero to a micro-unit.
    pub fn amount_for(self, kwh: f64) -> Micros {
        Micros((kwh * self.0 as f64).round() as i64)
    }

    pub fn as_units(self) -> f64 {
        Micros(self.0).as_units()
    }

    pub fn to_decimal_string(self) -> String {
        Micros(self.0).to_decimal_string()
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
    fn conversions_round_to_micro_units() {
        assert_eq!(Micros::from_units(0.3), Micros(300_000));
        assert_eq!(PricePerKwh::from_units(0.25).amount_for(2.0), Micros(500_000));
        assert_eq!(PricePerKwh(3).amount_for(0.5), Micros(2));
    }
}
