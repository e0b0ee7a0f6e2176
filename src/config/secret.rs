//! [`Secret`]: a string that must never be printed (tokens, passwords in
//! URLs, webhook secrets). A leaf type: services hold their secrets in it.

use serde::Deserialize;
use std::fmt;

/// A secret string: never printed by `Debug`, compared in constant time.
#[derive(Clone, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, to hand to the library that needs it (an SMTP
    /// client). Never log or echo what this returns.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison (`subtle`: no early exit on the first
    /// differing byte; only the length can show).
    pub(crate) fn matches(&self, candidate: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(candidate.as_bytes()).into()
    }

    /// The problem with this as a token guessed online (the admin token,
    /// the replication token, the metrics token), if any: shorter than
    /// [`MIN_TOKEN_CHARS`].
    pub(crate) fn token_problem(&self, setting: &str) -> Option<String> {
        let n = self.0.trim().chars().count();
        (n < MIN_TOKEN_CHARS).then(|| {
            format!(
                "{setting}: must be at least {MIN_TOKEN_CHARS} characters (it is {n}); make one \
                 with `openssl rand -hex 32`"
            )
        })
    }
}

/// The shortest token accepted: 32 characters (128 bits and more of
/// randomness from any generator that prints hex or base64).
pub const MIN_TOKEN_CHARS: usize = 32;

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Flags and variables hand secrets over as text.
impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Secret, Self::Err> {
        Ok(Secret(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_compares_whole_strings_and_hides_itself() {
        let s = Secret::new("abc");
        assert!(s.matches("abc"));
        assert!(!s.matches("abd") && !s.matches("ab") && !s.matches("abcd"));
        assert_eq!(format!("{s:?}"), "Secret(***)");
    }
}
