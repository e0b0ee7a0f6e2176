//! Sign-up, sign-in, rotating refresh tokens and logout, and
//! authenticating a request's credentials (access tokens and API keys).

use super::tokens::{AccessClaims, TokenRejection, token_hash};
use super::{
    ACCESS_TTL, AccountMetrics, Accounts, AccountsError, KEY_USE_WRITE_EVERY, Principal,
    REFRESH_ABSOLUTE, REFRESH_SLIDING, Rotation, TokenPair, VERIFY_TTL, after, tokens,
};
use crate::domain::account::{Account, Credentials, Registration, Role, Session, TokenPurpose};
use crate::domain::{Id, Timestamp};
use crate::store::accounts::RefreshLookup;
use crate::store::error::StoreError;
use serde_json::Value;
use std::time::Instant;
use subtle::ConstantTimeEq;

impl Accounts {
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
    pub(crate) async fn refresh(&self, presented: String) -> Result<TokenPair, AccountsError> {
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
    pub(crate) async fn logout(&self, session: &Id) -> Result<(), AccountsError> {
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
    pub(crate) fn session_principal(&self, session: &Id) -> Result<Principal, AccountsError> {
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
    pub(crate) fn authenticate_key(&self, presented: &str) -> Result<Principal, AccountsError> {
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
}
