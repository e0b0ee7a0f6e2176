//! Money and discounts.
//!
//! Prices are integer minor units (cents) everywhere inside shopd; JSON shows
//! them as decimal numbers (`129.99`). Converting at the edge keeps sums and
//! comparisons exact and lets the store order prices bytewise.

use serde_json::Value;

/// A price in cents. Invariant: `0 <= cents <= MAX_CENTS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Price(u64);

impl Price {
    /// $9,999,999.99 — the store's price buckets assume prices below 10^9 cents.
    pub(crate) const MAX_CENTS: u64 = 999_999_999;

    pub fn from_cents(cents: u64) -> Result<Price, String> {
        if cents > Self::MAX_CENTS {
            return Err("must be at most 9999999.99".into());
        }
        Ok(Price(cents))
    }

    /// Parses a decimal amount with at most two fraction digits.
    pub fn from_decimal(x: f64) -> Result<Price, String> {
        if !x.is_finite() {
            return Err("must be a finite number".into());
        }
        if x < 0.0 {
            return Err("must be 0 or more".into());
        }
        let scaled = x * 100.0;
        let cents = scaled.round();
        if (scaled - cents).abs() > 1e-6 * scaled.max(1.0) {
            return Err("must have at most 2 decimal places".into());
        }
        if cents > Self::MAX_CENTS as f64 {
            return Err("must be at most 9999999.99".into());
        }
        Ok(Price(cents as u64))
    }

    pub(crate) fn from_json(v: &Value) -> Result<Price, String> {
        Price::from_decimal(v.as_f64().ok_or("must be a number")?)
    }

    /// Parses a query-string amount such as `12.5`.
    pub(crate) fn from_query(s: &str) -> Option<Result<Price, String>> {
        let x: f64 = s.trim().parse().ok()?;
        Some(Price::from_decimal(x))
    }

    pub fn cents(self) -> u64 {
        self.0
    }

    /// The decimal amount for JSON. `cents / 100` as the nearest `f64`, which
    /// serde_json prints as the shortest exact text (`129.99`).
    pub(crate) fn as_decimal(self) -> f64 {
        self.0 as f64 / 100.0
    }
}

/// A fraction off the price. Invariant: finite and within `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Discount(f64);

impl Discount {
    pub const NONE: Discount = Discount(0.0);

    pub fn new(x: f64) -> Result<Discount, String> {
        if x.is_finite() && (0.0..=1.0).contains(&x) {
            Ok(Discount(x))
        } else {
            Err("must be a number from 0 to 1".into())
        }
    }

    pub(crate) fn from_json(v: &Value) -> Result<Discount, String> {
        Discount::new(v.as_f64().ok_or("must be a number")?)
    }

    pub fn value(self) -> f64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_round_trips_through_cents() {
        for (x, c) in [
            (129.99, 12999),
            (0.1, 10),
            (100.0, 10000),
            (0.0, 0),
            (19.9, 1990),
        ] {
            let p = Price::from_decimal(x).unwrap();
            assert_eq!(p.cents(), c);
            assert_eq!(p.as_decimal(), x);
        }
    }

    #[test]
    fn rejects_sub_cent_negative_and_huge() {
        assert!(Price::from_decimal(1.005).is_err());
        assert!(Price::from_decimal(-1.0).is_err());
        assert!(Price::from_decimal(1e12).is_err());
        assert!(Price::from_decimal(f64::NAN).is_err());
        assert!(Discount::new(1.5).is_err());
    }
}
