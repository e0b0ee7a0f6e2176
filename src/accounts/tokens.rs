//! Access tokens (JWT), their signing keys and the verification cache; opaque
//! secrets (refresh tokens, mailed tokens, API key secrets) and their hashes.
//!
//! # Keys
//! Access tokens are HS256 JWTs with a `kid` header. The key file holds one
//! key per line, `kid base64url(secret)`: the first line signs, every line
//! verifies, so a key can rotate by putting a new line first and deleting
//! the old one after the access-token lifetime. Without a configured file,
//! `DATA_DIR/jwt.keys` is generated on first start (32 random bytes, mode
//! 0600).
//!
//! # Verification cache
//! A token whose signature and expiry were checked once is kept (claims
//! only) until it expires: the next request with it costs a hash-map lookup
//! instead of base64, JSON and HMAC work. Revocation is not cached: the
//! caller checks the session on every request (one store read).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use quick_cache::sync::Cache;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::Path;
use std::sync::Arc;

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccessClaims {
    /// Account id.
    pub sub: String,
    pub role: String,
    /// Session (token family) id.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("JWT key file {path}: {message}")]
    File { path: String, message: String },
}

/// Why a presented access token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRejection {
    Expired,
    Invalid,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// Signs and verifies access tokens; caches verified ones.
pub(crate) struct AccessTokens {
    keys: Vec<Key>,
    validation: Validation,
    verified: Cache<String, Arc<AccessClaims>>,
}

impl AccessTokens {
    /// Loads the key file at `path`, creating it (mode 0600) with one fresh
    /// key when it does not exist.
    pub(crate) fn load_or_create(path: &Path) -> Result<AccessTokens, KeyError> {
        let err = |message: String| KeyError::File {
            path: path.display().to_string(),
            message,
        };
        if !path.exists() {
            let mut secret = [0u8; 32];
            rand::rng().fill_bytes(&mut secret);
            let kid = hex(&Sha256::digest(secret)[..4]);
            let line = format!("{kid} {}\n", URL_SAFE_NO_PAD.encode(secret));
            write_private(path, line.as_bytes()).map_err(|e| err(e.to_string()))?;
        }
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (kid, secret) = line
                .split_once(char::is_whitespace)
                .ok_or_else(|| err(format!("line {}: expected 'kid secret'", n + 1)))?;
            let secret = URL_SAFE_NO_PAD
                .decode(secret.trim())
                .map_err(|_| err(format!("line {}: the secret is not base64url", n + 1)))?;
            if secret.len() < 32 {
                return Err(err(format!(
                    "line {}: the secret must be at least 32 bytes",
                    n + 1
                )));
            }
            keys.push(Key {
                kid: kid.to_string(),
                encoding: EncodingKey::from_secret(&secret),
                decoding: DecodingKey::from_secret(&secret),
            });
        }
        if keys.is_empty() {
            return Err(err("no key in the file".into()));
        }
        Ok(AccessTokens::new(keys))
    }

    fn new(keys: Vec<Key>) -> AccessTokens {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        AccessTokens {
            keys,
            validation,
            verified: Cache::new(100_000),
        }
    }

    /// Signs `claims` with the current key.
    pub(crate) fn sign(&self, claims: &AccessClaims) -> String {
        let key = &self.keys[0];
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(key.kid.clone());
        // HMAC over a serializable struct cannot fail.
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .expect("HMAC-signing plain claims cannot fail")
    }

    /// The claims of `token` when it is signed by one of the keys and not
    /// expired at `now_secs`. With `use_cache`, a token verified before is
    /// not verified again.
    pub(crate) fn verify(
        &self,
        token: &str,
        now_secs: i64,
        use_cache: bool,
    ) -> Result<Arc<AccessClaims>, TokenRejection> {
        if use_cache && let Some(c) = self.verified.get(token) {
            return if c.exp > now_secs {
                Ok(c)
            } else {
                Err(TokenRejection::Expired)
            };
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRejection::Invalid)?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| &k.kid == kid),
            None => None,
        }
        .ok_or(TokenRejection::Invalid)?;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRejection::Expired,
                _ => TokenRejection::Invalid,
            })?;
        if data.claims.exp <= now_secs {
            return Err(TokenRejection::Expired);
        }
        let claims = Arc::new(data.claims);
        if use_cache {
            self.verified.insert(token.to_string(), claims.clone());
        }
        Ok(claims)
    }

    /// Verified tokens held by the cache.
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.verified.len()
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// A fresh 256-bit secret, base64url without padding (43 characters).
pub fn random_secret() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// SHA-256 of `s`.
pub(crate) fn sha256(s: &str) -> [u8; 32] {
    Sha256::digest(s.as_bytes()).into()
}

/// Hex SHA-256 of `s`: how tokens are filed in the store.
pub(crate) fn token_hash(s: &str) -> String {
    hex(&sha256(s))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seconds since the epoch, now (jsonwebtoken checks `exp` against the
    /// real clock too).
    fn now() -> i64 {
        crate::domain::Timestamp::now().millis() / 1000
    }

    fn claims(exp: i64) -> AccessClaims {
        AccessClaims {
            sub: "u_1".into(),
            role: "customer".into(),
            sid: "s_1".into(),
            iat: 0,
            exp,
            jti: "j".into(),
        }
    }

    #[test]
    fn a_generated_key_file_is_private_and_signs_what_it_verifies() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt.keys");
        let t = AccessTokens::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let now = now();
        let tok = t.sign(&claims(now + 60));
        assert_eq!(t.verify(&tok, now, false).unwrap().sub, "u_1");
        assert_eq!(
            t.verify(&tok, now + 60, false),
            Err(TokenRejection::Expired)
        );
        // Reloading reads the same key.
        let again = AccessTokens::load_or_create(&path).unwrap();
        assert!(again.verify(&tok, now, false).is_ok());
        // A token signed by another key, or tampered with, is invalid.
        let other = AccessTokens::load_or_create(&dir.path().join("other.keys")).unwrap();
        assert_eq!(other.verify(&tok, now, false), Err(TokenRejection::Invalid));
        let mut bad = tok.clone();
        bad.pop();
        assert_eq!(t.verify(&bad, now, false), Err(TokenRejection::Invalid));
    }

    #[test]
    fn the_cache_answers_a_seen_token_and_still_honours_expiry() {
        let dir = tempfile::tempdir().unwrap();
        let t = AccessTokens::load_or_create(&dir.path().join("k")).unwrap();
        let exp = now() + 100;
        let tok = t.sign(&claims(exp));
        assert!(t.verify(&tok, exp - 50, true).is_ok());
        assert_eq!(t.cached(), 1);
        assert!(t.verify(&tok, exp - 1, true).is_ok());
        assert_eq!(t.verify(&tok, exp, true), Err(TokenRejection::Expired));
    }

    #[test]
    fn rotation_verifies_old_keys_and_signs_with_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let old_path = dir.path().join("old");
        let old = AccessTokens::load_or_create(&old_path).unwrap();
        let exp = now() + 100;
        let tok = old.sign(&claims(exp));
        let new_path = dir.path().join("new");
        let _ = AccessTokens::load_or_create(&new_path).unwrap();
        let both = format!(
            "{}{}",
            std::fs::read_to_string(&new_path).unwrap(),
            std::fs::read_to_string(&old_path).unwrap()
        );
        let both_path = dir.path().join("both");
        std::fs::write(&both_path, both).unwrap();
        let rotated = AccessTokens::load_or_create(&both_path).unwrap();
        assert!(rotated.verify(&tok, exp - 50, false).is_ok());
        let fresh = rotated.sign(&claims(exp));
        let kid = jsonwebtoken::decode_header(&fresh).unwrap().kid.unwrap();
        assert!(
            std::fs::read_to_string(&new_path)
                .unwrap()
                .starts_with(&kid)
        );
    }
}
