//! The accounts service: registration, sign-in, rotating refresh tokens,
//! email verification, password change and reset, roles and bans, API keys,
//! and authenticating a request's credentials.
//!
//! # Tokens and their lifetimes
//! - Access token: a JWT (`sub`, `role`, `sid`, `iat`, `exp`, `jti`), 15
//!   minutes ([`tokens`]).
//! - Refresh token: 256 random bits, stored only as a SHA-256 hash, bound
//!   to a session (one token family). Each use rotates it; presenting a
//!   rotated one revokes the family ([`AccountsError::TokenReused`]). 30
//!   days sliding, 90 days absolute.
//! - Mailed tokens (email verification: 48 hours; password reset: 1 hour):
//!   single use, stored only as hashes.
//!
//! # Revocation
//! Every authenticated request reads its session (one store read of a few
//! microseconds), so logout, a ban, a role change and a password change end
//! already-issued access tokens at once, not after their 15 minutes. The
//! signature is not checked again for a token seen before (the verification
//! cache in [`tokens`]).
//!
//! # No enumeration
//! Register, login and password-reset answer the same status and body
//! whether or not the email has an account, after about the same work: an
//! unknown email's login verifies a dummy hash; register and reset always
//! make one durable write (a mail to the owner, or nothing); a reset request
//! is answered no sooner than [`RESET_ANSWER_FLOOR`] after it arrived, so
//! its time does not tell either.

mod admin;
pub mod password;
mod profile;
mod sessions;
pub mod tokens;

pub use admin::create_account_blocking;

use crate::config::accounts::AccountsSettings;
use crate::domain::account::{Account, ApiKey, Email, Role, Session};
use crate::domain::{FieldErrors, Id, Timestamp};
use crate::jobs::mail::EmailJob;
use crate::jobs::{Jobs, JobsError};
use crate::store::Store;
use crate::store::error::StoreError;
use password::Hasher;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokens::AccessTokens;

pub(crate) const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub(crate) const REFRESH_SLIDING: Duration = Duration::from_secs(30 * 24 * 3600);
pub(crate) const REFRESH_ABSOLUTE: Duration = Duration::from_secs(90 * 24 * 3600);
pub(crate) const VERIFY_TTL: Duration = Duration::from_secs(48 * 3600);
pub(crate) const RESET_TTL: Duration = Duration::from_secs(3600);
/// Every password-reset request is answered no sooner than this after it
/// arrived, whether the email has an account or not (see
/// `Accounts::request_reset`).
pub(crate) const RESET_ANSWER_FLOOR: Duration = Duration::from_millis(150);
/// How often an API key's last-used time is written, at most.
const KEY_USE_WRITE_EVERY: Duration = Duration::from_secs(60);

/// Who a request's credentials say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// No credentials were checked (a public route).
    Anonymous,
    /// A signed-in account, through an access token of session `session`.
    Account { id: Id, role: Role, session: Id },
    /// A machine, through an API key.
    ApiKey { id: Id, role: Role },
    /// The holder of the bootstrap admin token (`SHOPD_ADMIN_TOKEN`).
    AdminToken,
}

impl Principal {
    /// The role this caller acts with; `None` when anonymous.
    pub(crate) fn role(&self) -> Option<Role> {
        match self {
            Principal::Anonymous => None,
            Principal::Account { role, .. } | Principal::ApiKey { role, .. } => Some(*role),
            Principal::AdminToken => Some(Role::Admin),
        }
    }

    /// The signed-in account, if the caller is one.
    pub(crate) fn account(&self) -> Option<(&Id, &Id)> {
        match self {
            Principal::Account { id, session, .. } => Some((id, session)),
            _ => None,
        }
    }
}

impl std::fmt::Display for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Principal::Anonymous => f.write_str("anonymous"),
            Principal::Account { id, role, .. } => write!(f, "{role} {id}"),
            Principal::ApiKey { id, role } => write!(f, "api key {id} ({role})"),
            Principal::AdminToken => f.write_str("admin token"),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error("the email or the password is wrong")]
    InvalidCredentials,
    #[error("this account is banned")]
    Banned,
    #[error("the current password is wrong")]
    WrongPassword,
    /// A refresh token that cannot be used (401).
    #[error("{0}")]
    InvalidToken(&'static str),
    /// A mailed token (verification, reset) that is unknown, used or
    /// expired (401 `invalid_token`).
    #[error("{0}")]
    InvalidLink(&'static str),
    #[error("the access token has expired; refresh it")]
    TokenExpired,
    #[error("this refresh token was already used; every token of its session is revoked")]
    TokenReused,
    #[error("the token or key is not valid")]
    Unauthenticated,
    #[error("no account {0}")]
    NotFound(String),
    #[error("no API key {0}")]
    KeyNotFound(String),
    #[error("an account with this email already exists")]
    Exists,
    #[error("invalid input")]
    Validation(FieldErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Jobs(#[from] JobsError),
    #[error(transparent)]
    Hash(#[from] password::HashError),
}

/// What a sign-in or a refresh hands out.
#[derive(Debug, Clone)]
pub struct TokenPair {
    pub access_token: String,
    pub access_expires_in: u64,
    pub refresh_token: String,
    pub refresh_expires_at: Timestamp,
    pub account: Account,
}

/// A new API key, with its secret (shown once).
#[derive(Debug, Clone)]
pub(crate) struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct OutcomeLabel {
    pub outcome: &'static str,
}

/// Counters of sign-ins and refreshes by outcome (registered by the API's
/// metrics).
#[derive(Clone, Default)]
pub(crate) struct AccountMetrics {
    /// `ok`, `invalid_credentials`, `banned`.
    pub sign_ins: Family<OutcomeLabel, Counter>,
    /// `rotated`, `reused` (a family revoked), `invalid`.
    pub refreshes: Family<OutcomeLabel, Counter>,
}

impl AccountMetrics {
    fn count(f: &Family<OutcomeLabel, Counter>, outcome: &'static str) {
        f.get_or_create(&OutcomeLabel { outcome }).inc();
    }
}

/// The accounts service; cheap to clone.
#[derive(Clone)]
pub struct Accounts {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    jobs: Jobs,
    hasher: Hasher,
    tokens: AccessTokens,
    settings: AccountsSettings,
    /// When each API key's last use was last written.
    key_use_written: Mutex<HashMap<String, Instant>>,
    metrics: AccountMetrics,
}

fn after(now: Timestamp, d: Duration) -> Timestamp {
    Timestamp::from_millis(now.millis().saturating_add(d.as_millis() as i64)).unwrap_or(now)
}

/// Outcome of a refresh inside its write (a reuse must commit its revocation
/// and still answer an error).
enum Rotation {
    Rotated(Box<(Session, Account)>),
    Reused,
    Invalid(&'static str),
}

impl Accounts {
    pub fn new(
        store: Store,
        jobs: Jobs,
        settings: AccountsSettings,
    ) -> Result<Accounts, tokens::KeyError> {
        let tokens = AccessTokens::load_or_create(&settings.key_file)?;
        Ok(Accounts {
            inner: Arc::new(Inner {
                store,
                jobs,
                hasher: Hasher::new(settings.hash_threads),
                tokens,
                settings,
                key_use_written: Mutex::new(HashMap::new()),
                metrics: AccountMetrics::default(),
            }),
        })
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Warms what the first sign-in would otherwise pay for.
    pub(crate) async fn warm(&self) {
        self.inner.hasher.warm().await;
    }

    fn link(&self, path: &str, token: &str) -> String {
        format!(
            "{}/{path}?token={token}",
            self.inner.settings.public_url.trim_end_matches('/')
        )
    }

    fn mail(
        &self,
        template: &str,
        to: &Email,
        vars: Value,
        secret: Value,
    ) -> Result<crate::domain::job::NewJob, AccountsError> {
        let obj = |v: Value| match v {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(self.inner.jobs.email(&EmailJob {
            template: template.into(),
            to: to.as_str().into(),
            vars: obj(vars),
            secret: obj(secret),
            sealed: None,
        })?)
    }

    pub(crate) fn metrics(&self) -> &AccountMetrics {
        &self.inner.metrics
    }
}
