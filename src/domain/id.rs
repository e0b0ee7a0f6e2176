//! Entity identifiers.
//!
//! Invariant: an [`Id`] is 1–64 ASCII characters from `[A-Za-z0-9_-]`. The store
//! relies on this: ids never contain the `0x00` byte that terminates them inside
//! composite index keys, and they sort bytewise the same way they sort as text.

use rand::Rng;
use serde_json::Value;
use std::fmt;

pub const MAX_ID_LEN: usize = 64;

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
    pub fn from_json(v: &Value) -> Result<Id, String> {
        Id::parse(v.as_str().ok_or("must be a string")?)
    }

    /// A fresh random id such as `p_k3j9x2m1q8zt`: the prefix names the kind,
    /// 12 base-36 characters (62 bits) make collisions negligible; the caller
    /// still checks for one (a duplicate is a 409, never an overwrite).
    pub fn generate(prefix: &str) -> Id {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut rng = rand::rng();
        let mut s = String::with_capacity(prefix.len() + 13);
        s.push_str(prefix);
        s.push('_');
        for _ in 0..12 {
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
    fn accepts_the_documented_alphabet_only() {
        assert!(Id::parse("prod_0001-A").is_ok());
        for bad in ["", "a b", "a/b", "é", "a\0b", &"x".repeat(65)] {
            assert!(Id::parse(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(Id::parse(&Id::generate("p").0).is_ok());
    }
}
