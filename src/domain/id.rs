//! Entity identifiers.
//!
//! Invariant: an [`Id`] is 1–64 ASCII characters from `[A-Za-z0-9_-]`. The store
//! relies on this: ids never contain the `0x00` byte that terminates them inside
//! composite index keys, and they sort bytewise the same way they sort as text.

use rand::Rng;
use serde_json::Value;
use std::fmt;

pub(crate) const MAX_ID_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Id(String);

impl Id {
    pub fn parse(s: &str) -> Result<Id, String> {
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.len() > MAX_ID_LEN {
            return Err(format!("must be at most {MAX_ID_LEN} characters"));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err("may contain only letters, digits, '_' and '-'".into());
        }
        Ok(Id(s.to_string()))
    }

    /// Parses a JSON string value as an id.
    pub(crate) fn from_json(v: &Value) -> Result<Id, String> {
        Id::parse(v.as_str().ok_or("must be a string")?)
    }

    /// A fresh id such as `p_0mi5qk3z4a8zt`: the prefix names the kind, then
    /// the time and randomness of [`Id::generate_at`]; the caller still
    /// checks for a collision (a duplicate is a 409, never an overwrite).
    pub fn generate(prefix: &str) -> Id {
        Id::generate_at(prefix, super::Timestamp::now().millis())
    }

    /// `prefix_` then 9 base-36 digits of `millis` and 4 random ones: ids
    /// made later sort later, so records and index entries keyed by a new id
    /// land at the end of their range (one page per batch instead of one
    /// page per write), and ids made in the same millisecond still differ.
    pub(crate) fn generate_at(prefix: &str, millis: i64) -> Id {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut rng = rand::rng();
        let mut s = String::with_capacity(prefix.len() + 14);
        s.push_str(prefix);
        s.push('_');
        let mut t = millis.max(0) as u64;
        let mut digits = [b'0'; 9];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(t % 36) as usize];
            t /= 36;
        }
        s.extend(digits.iter().map(|&b| b as char));
        for _ in 0..4 {
            s.push(ALPHABET[rng.random_range(0..ALPHABET.len())] as char);
        }
        Id(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Id {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_valid_and_sort_by_time() {
        let a = Id::generate_at("p", 1_700_000_000_000);
        let b = Id::generate_at("p", 1_700_000_000_001);
        let c = Id::generate_at("p", 1_800_000_000_000);
        assert!(Id::parse(a.as_str()).is_ok());
        assert_eq!(a.as_str().len(), 2 + 13);
        assert!(a < b && b < c, "{a} {b} {c}");
    }

    #[test]
    fn accepts_the_documented_alphabet_only() {
        assert!(Id::parse("prod_0001-A").is_ok());
        for bad in ["", "a b", "a/b", "é", "a\0b", &"x".repeat(65)] {
            assert!(Id::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Id::parse(&Id::generate("p").0).is_ok());
    }
}
