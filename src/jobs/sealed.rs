//! An email's secret values at rest: the links with single-use tokens
//! (verify an email, reset a password, a guest's order page) are sealed
//! with ChaCha20-Poly1305 (ring) when the job is enqueued and opened only
//! when the mail is sent, so the database, its log, snapshots and backups
//! hold no live link in clear.
//!
//! The key: 32 random bytes in `DATA_DIR/mail.key` (owner-only, made on the
//! first start, kept beside `jwt.keys`). Losing it only makes queued mails
//! with secrets fail (the links can be requested again). A sealed value is
//! `base64url(nonce ‖ ciphertext ‖ tag)`, with a fresh random 96-bit nonce
//! each time and the purpose as associated data.

use base64::Engine;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::{Map, Value};
use std::path::Path;

/// What a sealed value is bound to: a ciphertext of anything else does
/// not open.
const AAD: &[u8] = b"shopd mail secret v1";

/// The sealing key.
pub(crate) struct Sealer {
    key: LessSafeKey,
    rng: SystemRandom,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("mail key {path}: {message}")]
    Key { path: String, message: String },
    #[error("a sealed mail value does not open with this shop's mail key")]
    Open,
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
}

impl Sealer {
    /// The key in `file`, made (owner-only) when there is none.
    pub(crate) fn load_or_create(file: &Path) -> Result<Sealer, SealError> {
        let fail = |message: String| SealError::Key {
            path: file.display().to_string(),
            message,
        };
        let bytes = match std::fs::read_to_string(file) {
            Ok(text) => b64()
                .decode(text.trim())
                .map_err(|e| fail(format!("not base64url: {e}")))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                SystemRandom::new()
                    .fill(&mut key)
                    .map_err(|_| fail("no randomness".into()))?;
                write_private(file, &format!("{}\n", b64().encode(key)))
                    .map_err(|e| fail(e.to_string()))?;
                key.to_vec()
            }
            Err(e) => return Err(fail(e.to_string())),
        };
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes)
            .map_err(|_| fail("not a 32-byte key".into()))?;
        Ok(Sealer {
            key: LessSafeKey::new(key),
            rng: SystemRandom::new(),
        })
    }

    /// `values` sealed.
    pub(crate) fn seal(&self, values: &Map<String, Value>) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .expect("the system's random source works");
        // Serializing a JSON map cannot fail.
        let mut buf = serde_json::to_vec(values).unwrap_or_default();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(AAD),
                &mut buf,
            )
            .expect("a mail's secrets fit ChaCha20-Poly1305");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        b64().encode(out)
    }

    /// The values `sealed` holds.
    pub(crate) fn open(&self, sealed: &str) -> Result<Map<String, Value>, SealError> {
        let mut bytes = b64().decode(sealed).map_err(|_| SealError::Open)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let mut rest = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Open)?;
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(AAD), &mut rest)
            .map_err(|_| SealError::Open)?;
        serde_json::from_slice(plain).map_err(|_| SealError::Open)
    }
}

/// Writes `text` to a new file only its owner may read.
fn write_private(file: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(file)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_their_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mail.key");
        let sealer = Sealer::load_or_create(&file).unwrap();
        let mut values = Map::new();
        values.insert("reset_url".into(), "https://shop/reset?token=abc".into());
        let sealed = sealer.seal(&values);
        assert!(!sealed.contains("abc") && !sealed.contains("reset"));
        assert_ne!(sealed, sealer.seal(&values), "a fresh nonce each time");
        // The same key from the file opens it; another key does not.
        let again = Sealer::load_or_create(&file).unwrap();
        assert_eq!(again.open(&sealed).unwrap(), values);
        let other = Sealer::load_or_create(&dir.path().join("other.key")).unwrap();
        assert!(other.open(&sealed).is_err());
        // Tampered, truncated or garbage: refused.
        let mut bytes = b64().decode(&sealed).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(sealer.open(&b64().encode(&bytes)).is_err());
        assert!(sealer.open(&sealed[..10]).is_err());
        assert!(sealer.open("not base64 !").is_err());
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}
