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
//! make one durable write (a mail to the owner, or nothing).

pub mod password;
pub mod tokens;

use crate::config::accounts::AccountsSettings;
use crate::domain::account::AccountFilter;
use crate::domain::account::{
    Account, AccountAdminPatch, ApiKey, Credentials, Email, NewApiKey, Password, PasswordChange,
    ProfilePatch, Registration, ResetConfirmation, Role, Session, TokenPurpose,
};
use crate::domain::{FieldErrors, Id, Timestamp};
use crate::jobs::mail::EmailJob;
use crate::jobs::{Jobs, JobsError};
use crate::store::Store;
use crate::store::accounts::{AccountPage, RefreshLookup};
use crate::store::error::StoreError;
use password::Hasher;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use tokens::{AccessClaims, AccessTokens, TokenRejection, token_hash};

pub const ACCESS_TTL: Duration = Duration::from_secs(15 * 60);
pub const REFRESH_SLIDING: Duration = Duration::from_secs(30 * 24 * 3600);
pub const REFRESH_ABSOLUTE: Duration = Duration::from_secs(90 * 24 * 3600);
pub const VERIFY_TTL: Duration = Duration::from_secs(48 * 3600);
pub const RESET_TTL: Duration = Duration::from_secs(3600);
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
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Anonymous => None,
            Principal::Account { role, .. } | Principal::ApiKey { role, .. } => Some(*role),
            Principal::AdminToken => Some(Role::Admin),
        }
    }

    /// The signed-in account, if the caller is one.
    pub fn account(&self) -> Option<(&Id, &Id)> {
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
    /// A mailed token (verification, reset) that cannot be used (400).
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
pub struct CreatedKey {
    pub key: ApiKey,
    pub secret: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabel {
    pub outcome: &'static str,
}

/// Counters of sign-ins and refreshes by outcome (registered by the API's
/// metrics).
#[derive(Clone, Default)]
pub struct AccountMetrics {
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

    /// Accounts over `store` with keys in `dir` (tools, benches, tests).
    pub fn local(
        store: Store,
        jobs: Jobs,
        dir: &std::path::Path,
    ) -> Result<Accounts, tokens::KeyError> {
        Accounts::new(store, jobs, AccountsSettings::local(dir))
    }

    fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Warms what the first sign-in would otherwise pay for.
    pub async fn warm(&self) {
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
        })?)
    }

    // ---- sign-up, sign-in, tokens -------------------------------------------------------

    /// Registers a customer and mails a verification link. When the email
    /// already has an account, nothing changes and its owner gets a mail
    /// saying so; the caller cannot tell the difference.
    pub async fn register(&self, reg: Registration) -> Result<(), AccountsError> {
        let hash = self.inner.hasher.hash(&reg.password).await?;
        let now = Timestamp::now();
        let token = tokens::random_secret();
        let account = Account {
            id: Id::generate("u"),
            email: reg.email.clone(),
            name: reg.name.clone(),
            phone: reg.phone.clone(),
            role: Role::Customer,
            password_hash: Some(hash),
            email_verified: false,
            banned: false,
            created_at: now,
            updated_at: now,
        };
        let welcome = self.mail(
            "welcome",
            &reg.email,
            serde_json::json!({"name": reg.name}),
            serde_json::json!({"verify_url": self.link("verify-email", &token)}),
        )?;
        let exists = self.mail(
            "notification",
            &reg.email,
            serde_json::json!({
                "subject": "Someone tried to register with your email",
                "message": format!(
                    "Somebody tried to open a new account with this address, which already has one. \
                     If it was you, sign in, or choose a new password at {}.",
                    self.link("forgot-password", "")
                        .trim_end_matches("?token=")
                ),
            }),
            Value::Null,
        )?;
        let hashed = token_hash(&token);
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let created = tx.accounts().insert_account(&account)?;
                if created {
                    tx.accounts().put_mail_token(
                        &hashed,
                        TokenPurpose::VerifyEmail,
                        account.id.as_str(),
                        after(now, VERIFY_TTL),
                    )?;
                    tx.jobs().enqueue(welcome, now)?;
                } else {
                    tx.jobs().enqueue(exists, now)?;
                }
                Ok(())
            })
            .await
    }

    /// Signs in: a new session with its first refresh token.
    pub async fn login(&self, creds: Credentials) -> Result<TokenPair, AccountsError> {
        let account = self
            .store()
            .read()?
            .accounts()
            .account_by_email(&creds.email)?;
        let hash = account.as_ref().and_then(|a| a.password_hash.clone());
        let ok = self.inner.hasher.verify(&creds.password, hash).await?;
        let m = &self.inner.metrics.sign_ins;
        let account = match account {
            Some(a) if ok => a,
            _ => {
                AccountMetrics::count(m, "invalid_credentials");
                return Err(AccountsError::InvalidCredentials);
            }
        };
        if account.banned {
            AccountMetrics::count(m, "banned");
            return Err(AccountsError::Banned);
        }
        AccountMetrics::count(m, "ok");
        let now = Timestamp::now();
        let session = Session {
            id: Id::generate("s"),
            account_id: account.id.clone(),
            created_at: now,
            expires_at: after(now, REFRESH_SLIDING),
            absolute_expires_at: after(now, REFRESH_ABSOLUTE),
            generation: 0,
            revoked_at: None,
        };
        let refresh = tokens::random_secret();
        let hashed = token_hash(&refresh);
        let s = session.clone();
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let mut a = tx.accounts();
                a.put_session(&s)?;
                a.put_refresh_token(&hashed, s.id.as_str(), s.generation)?;
                Ok(())
            })
            .await?;
        Ok(self.pair(account, &session, refresh, now))
    }

    fn pair(
        &self,
        account: Account,
        session: &Session,
        refresh: String,
        now: Timestamp,
    ) -> TokenPair {
        let iat = now.millis() / 1000;
        let claims = AccessClaims {
            sub: account.id.to_string(),
            role: account.role.as_str().into(),
            sid: session.id.to_string(),
            iat,
            exp: iat + ACCESS_TTL.as_secs() as i64,
            jti: tokens::random_secret()[..16].to_string(),
        };
        TokenPair {
            access_token: self.inner.tokens.sign(&claims),
            access_expires_in: ACCESS_TTL.as_secs(),
            refresh_token: refresh,
            refresh_expires_at: session.expires_at.min(session.absolute_expires_at),
            account,
        }
    }

    /// Rotates a refresh token: the presented one stops working and a new
    /// pair is handed out. A rotated (already used) token revokes its whole
    /// family.
    pub async fn refresh(&self, presented: String) -> Result<TokenPair, AccountsError> {
        let now = Timestamp::now();
        let hashed = token_hash(&presented);
        let next = tokens::random_secret();
        let next_hash = token_hash(&next);
        let outcome = self
            .store()
            .write(move |tx| -> Result<Rotation, AccountsError> {
                let mut a = tx.accounts();
                let RefreshLookup::Found {
                    mut session,
                    generation,
                } = a.refresh_token(&hashed)?
                else {
                    return Ok(Rotation::Invalid("the refresh token is not valid"));
                };
                if session.revoked_at.is_some() {
                    return Ok(Rotation::Invalid("the refresh token was revoked"));
                }
                if generation != session.generation {
                    session.revoked_at = Some(now);
                    a.put_session(&session)?;
                    return Ok(Rotation::Reused);
                }
                if !session.is_live(now) {
                    return Ok(Rotation::Invalid("the refresh token has expired"));
                }
                let Some(account) = a.account(session.account_id.as_str())? else {
                    return Ok(Rotation::Invalid("the refresh token is not valid"));
                };
                if account.banned {
                    return Ok(Rotation::Invalid("the refresh token was revoked"));
                }
                session.generation += 1;
                session.expires_at = after(now, REFRESH_SLIDING).min(session.absolute_expires_at);
                a.put_session(&session)?;
                a.put_refresh_token(&next_hash, session.id.as_str(), session.generation)?;
                Ok(Rotation::Rotated(Box::new((session, account))))
            })
            .await?;
        let m = &self.inner.metrics.refreshes;
        AccountMetrics::count(
            m,
            match outcome {
                Rotation::Rotated(_) => "rotated",
                Rotation::Reused => "reused",
                Rotation::Invalid(_) => "invalid",
            },
        );
        match outcome {
            Rotation::Rotated(b) => {
                let (session, account) = *b;
                Ok(self.pair(account, &session, next, now))
            }
            Rotation::Reused => Err(AccountsError::TokenReused),
            Rotation::Invalid(why) => Err(AccountsError::InvalidToken(why)),
        }
    }

    /// Ends one session (its refresh token and its access tokens).
    pub async fn logout(&self, session: &Id) -> Result<(), AccountsError> {
        let sid = session.clone();
        let now = Timestamp::now();
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let mut a = tx.accounts();
                if let Some(mut s) = a.session(sid.as_str())?
                    && s.revoked_at.is_none()
                {
                    s.revoked_at = Some(now);
                    a.put_session(&s)?;
                }
                Ok(())
            })
            .await
    }

    // ---- authenticating requests ---------------------------------------------------------

    /// The account behind an access token, if its session is still live.
    pub fn authenticate_access(&self, token: &str) -> Result<Principal, AccountsError> {
        let now = Timestamp::now();
        let claims = self
            .inner
            .tokens
            .verify(
                token,
                now.millis() / 1000,
                self.inner.settings.verification_cache,
            )
            .map_err(|r| match r {
                TokenRejection::Expired => AccountsError::TokenExpired,
                TokenRejection::Invalid => AccountsError::Unauthenticated,
            })?;
        let live = {
            let read = self.store().read()?;
            match read.accounts().session(&claims.sid)? {
                Some(rec) => {
                    let s = rec.archived()?;
                    s.revoked_at.is_none() && s.account_id.as_str() == claims.sub
                }
                None => false,
            }
        };
        if !live {
            return Err(AccountsError::InvalidToken(
                "the session has ended; sign in again",
            ));
        }
        let (Ok(id), Ok(session), Some(role)) = (
            Id::parse(&claims.sub),
            Id::parse(&claims.sid),
            Role::parse(&claims.role),
        ) else {
            return Err(AccountsError::Unauthenticated);
        };
        Ok(Principal::Account { id, role, session })
    }

    /// The account signed in as durable session `session` (a browser
    /// session of the admin pages), with its role as of now: refused once
    /// the session is revoked (sign-out, role change, ban) or the account
    /// is banned.
    pub fn session_principal(&self, session: &Id) -> Result<Principal, AccountsError> {
        let read = self.store().read()?;
        let account = match read.accounts().session(session.as_str())? {
            Some(rec) => {
                let s = rec.archived()?;
                if s.revoked_at.is_some() {
                    return Err(AccountsError::InvalidToken(
                        "the session has ended; sign in again",
                    ));
                }
                s.account_id.as_str().to_string()
            }
            None => return Err(AccountsError::Unauthenticated),
        };
        let acc = read
            .accounts()
            .account(&account)?
            .ok_or(AccountsError::Unauthenticated)?;
        if acc.banned {
            return Err(AccountsError::Banned);
        }
        Ok(Principal::Account {
            id: acc.id,
            role: acc.role,
            session: session.clone(),
        })
    }

    /// The machine behind an API key (`sk.<id>.<secret>`), if not revoked.
    pub fn authenticate_key(&self, presented: &str) -> Result<Principal, AccountsError> {
        let mut parts = presented.splitn(3, '.');
        let (Some("sk"), Some(id), Some(secret)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(AccountsError::Unauthenticated);
        };
        let key = self
            .store()
            .read()?
            .accounts()
            .api_key(id)?
            .ok_or(AccountsError::Unauthenticated)?;
        let matches: bool = key.secret_hash.ct_eq(&tokens::sha256(secret)).into();
        if !matches || key.revoked_at.is_some() {
            return Err(AccountsError::Unauthenticated);
        }
        self.note_key_use(&key.id);
        Ok(Principal::ApiKey {
            id: key.id,
            role: key.role,
        })
    }

    /// Records a key's use, at most once a minute per key, without waiting.
    fn note_key_use(&self, id: &Id) {
        let due = {
            let mut map = self
                .inner
                .key_use_written
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            match map.get(id.as_str()) {
                Some(t) if t.elapsed() < KEY_USE_WRITE_EVERY => false,
                _ => {
                    map.insert(id.to_string(), Instant::now());
                    true
                }
            }
        };
        if !due {
            return;
        }
        let store = self.store().clone();
        let id = id.clone();
        let now = Timestamp::now();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let _ = store
                    .write_relaxed(move |tx| -> Result<(), StoreError> {
                        let mut a = tx.accounts();
                        if let Some(mut k) = a.api_key(id.as_str())? {
                            k.last_used_at = Some(now);
                            a.put_api_key(&k)?;
                        }
                        Ok(())
                    })
                    .await;
            });
        }
    }

    // ---- the signed-in account -----------------------------------------------------------

    pub fn account(&self, id: &str) -> Result<Account, AccountsError> {
        self.store()
            .read()?
            .accounts()
            .account(id)?
            .ok_or_else(|| AccountsError::NotFound(id.into()))
    }

    pub async fn update_profile(
        &self,
        id: &Id,
        patch: ProfilePatch,
    ) -> Result<Account, AccountsError> {
        let id = id.clone();
        self.store()
            .write(move |tx| -> Result<Account, AccountsError> {
                let mut a = tx.accounts();
                let mut acc = a
                    .account(id.as_str())?
                    .ok_or_else(|| AccountsError::NotFound(id.to_string()))?;
                if let Some(name) = patch.name {
                    acc.name = name;
                }
                if let Some(phone) = patch.phone {
                    acc.phone = phone;
                }
                acc.updated_at = Timestamp::now();
                a.put_account(&acc)?;
                Ok(acc)
            })
            .await
    }

    /// Changes the password (the current one must match); every other
    /// session of the account ends.
    pub async fn change_password(
        &self,
        id: &Id,
        session: &Id,
        change: PasswordChange,
    ) -> Result<(), AccountsError> {
        let account = self.account(id.as_str())?;
        let ok = self
            .inner
            .hasher
            .verify(&change.current, account.password_hash.clone())
            .await?;
        if !ok {
            return Err(AccountsError::WrongPassword);
        }
        let hash = self.inner.hasher.hash(&change.new).await?;
        let (id, keep) = (id.clone(), session.clone());
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let mut a = tx.accounts();
                let mut acc = a
                    .account(id.as_str())?
                    .ok_or_else(|| AccountsError::NotFound(id.to_string()))?;
                let now = Timestamp::now();
                acc.password_hash = Some(hash);
                acc.updated_at = now;
                a.put_account(&acc)?;
                a.revoke_sessions(id.as_str(), Some(keep.as_str()), now)?;
                Ok(())
            })
            .await
    }

    // ---- mailed tokens -------------------------------------------------------------------

    /// Mails a reset link when `email` has an account that is not banned
    /// (an imported review author's account too: that is how it is
    /// claimed). Answers the same either way.
    pub async fn request_reset(&self, email: Email) -> Result<(), AccountsError> {
        let account = self.store().read()?.accounts().account_by_email(&email)?;
        let now = Timestamp::now();
        let token = tokens::random_secret();
        let job = match &account {
            Some(a) if !a.banned => Some(self.mail(
                "password_reset",
                &a.email,
                serde_json::json!({
                    "name": a.name,
                    "valid_minutes": RESET_TTL.as_secs() / 60,
                }),
                serde_json::json!({"reset_url": self.link("reset-password", &token)}),
            )?),
            _ => None,
        };
        let hashed = token_hash(&token);
        let account_id = account.map(|a| a.id);
        // One durable write either way, so both answers take about as long.
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                if let (Some(job), Some(id)) = (job, account_id) {
                    tx.accounts().put_mail_token(
                        &hashed,
                        TokenPurpose::ResetPassword,
                        id.as_str(),
                        after(now, RESET_TTL),
                    )?;
                    tx.jobs().enqueue(job, now)?;
                }
                Ok(())
            })
            .await
    }

    /// Sets a new password with a reset token (single use, 1 hour). The
    /// email counts as verified (the link reached it); every session ends.
    pub async fn confirm_reset(&self, c: ResetConfirmation) -> Result<(), AccountsError> {
        let hash = self.inner.hasher.hash(&c.password).await?;
        let hashed = token_hash(&c.token);
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let now = Timestamp::now();
                let mut a = tx.accounts();
                let id = a
                    .take_mail_token(&hashed, TokenPurpose::ResetPassword, now)?
                    .ok_or(AccountsError::InvalidLink(
                        "the reset token is not valid, already used or expired",
                    ))?;
                let mut acc = a
                    .account(id.as_str())?
                    .ok_or(AccountsError::InvalidLink("the reset token is not valid"))?;
                acc.password_hash = Some(hash);
                acc.email_verified = true;
                acc.updated_at = now;
                a.put_account(&acc)?;
                a.revoke_sessions(id.as_str(), None, now)?;
                Ok(())
            })
            .await
    }

    /// Marks the email verified with the mailed token (single use).
    pub async fn verify_email(&self, token: String) -> Result<(), AccountsError> {
        let hashed = token_hash(&token);
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let now = Timestamp::now();
                let mut a = tx.accounts();
                let id = a
                    .take_mail_token(&hashed, TokenPurpose::VerifyEmail, now)?
                    .ok_or(AccountsError::InvalidLink(
                        "the verification token is not valid, already used or expired",
                    ))?;
                if let Some(mut acc) = a.account(id.as_str())? {
                    acc.email_verified = true;
                    acc.updated_at = now;
                    a.put_account(&acc)?;
                }
                Ok(())
            })
            .await
    }

    // ---- administration ------------------------------------------------------------------

    pub fn list(
        &self,
        filter: &AccountFilter,
        offset: u64,
        limit: usize,
    ) -> Result<AccountPage, AccountsError> {
        Ok(self
            .store()
            .read()?
            .accounts()
            .list(filter, offset, limit)?)
    }

    /// Changes an account's role or ban; either ends all its sessions.
    pub async fn administer(
        &self,
        id: &str,
        patch: AccountAdminPatch,
    ) -> Result<Account, AccountsError> {
        let id = id.to_string();
        self.store()
            .write(move |tx| -> Result<Account, AccountsError> {
                let now = Timestamp::now();
                let mut a = tx.accounts();
                let mut acc = a
                    .account(&id)?
                    .ok_or_else(|| AccountsError::NotFound(id.clone()))?;
                let before = (acc.role, acc.banned);
                if let Some(r) = patch.role {
                    acc.role = r;
                }
                if let Some(b) = patch.banned {
                    acc.banned = b;
                }
                if (acc.role, acc.banned) != before {
                    acc.updated_at = now;
                    a.put_account(&acc)?;
                    if acc.role != before.0 || acc.banned {
                        a.revoke_sessions(&id, None, now)?;
                    }
                }
                Ok(acc)
            })
            .await
    }

    pub async fn create_key(&self, new: NewApiKey) -> Result<CreatedKey, AccountsError> {
        let id = Id::generate("k");
        let secret = tokens::random_secret();
        let key = ApiKey {
            id: id.clone(),
            name: new.name,
            role: new.role,
            secret_hash: tokens::sha256(&secret),
            created_at: Timestamp::now(),
            last_used_at: None,
            revoked_at: None,
        };
        let k = key.clone();
        self.store()
            .write(move |tx| -> Result<(), AccountsError> { Ok(tx.accounts().put_api_key(&k)?) })
            .await?;
        Ok(CreatedKey {
            secret: format!("sk.{id}.{secret}"),
            key,
        })
    }

    pub fn key(&self, id: &str) -> Result<ApiKey, AccountsError> {
        self.store()
            .read()?
            .accounts()
            .api_key(id)?
            .ok_or_else(|| AccountsError::KeyNotFound(id.into()))
    }

    pub fn keys(&self) -> Result<Vec<ApiKey>, AccountsError> {
        Ok(self.store().read()?.accounts().api_keys()?)
    }

    /// Revokes a key: it stops working at once.
    pub async fn revoke_key(&self, id: &str) -> Result<(), AccountsError> {
        let id = id.to_string();
        self.store()
            .write(move |tx| -> Result<(), AccountsError> {
                let mut a = tx.accounts();
                let mut k = a
                    .api_key(&id)?
                    .ok_or_else(|| AccountsError::KeyNotFound(id.clone()))?;
                if k.revoked_at.is_none() {
                    k.revoked_at = Some(Timestamp::now());
                    a.put_api_key(&k)?;
                }
                Ok(())
            })
            .await
    }

    pub fn metrics(&self) -> &AccountMetrics {
        &self.inner.metrics
    }

    /// Verified access tokens in the cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner.tokens.cached()
    }
}

/// `shopd admin create`: adds an account with `role` and a password, on a
/// store no server has open. An existing email is an error (nothing changes).
pub fn create_account_blocking(
    store: &Store,
    email: Email,
    name: String,
    role: Role,
    password: &Password,
) -> Result<Account, AccountsError> {
    let hash = password::hash_blocking(password)?;
    let now = Timestamp::now();
    let account = Account {
        id: Id::generate("u"),
        email,
        name,
        phone: None,
        role,
        password_hash: Some(hash),
        email_verified: true,
        banned: false,
        created_at: now,
        updated_at: now,
    };
    let a = account.clone();
    store.write_blocking(move |tx| -> Result<(), AccountsError> {
        if tx.accounts().insert_account(&a)? {
            Ok(())
        } else {
            Err(AccountsError::Exists)
        }
    })?;
    Ok(account)
}
