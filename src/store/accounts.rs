//! The accounts' tables: accounts, sign-in sessions with their refresh
//! tokens, single-use mailed tokens and API keys.
//!
//! # Tables
//! - `accounts`: id → versioned rkyv `AccountV1`.
//! - `accounts_by_email`: normalized email → account id (unique).
//! - `sessions`: session id → rkyv `SessionV1` (one token family).
//! - `sessions_by_account`: (account id, session id) → (): revoking every
//!   session of an account is one prefix scan.
//! - `refresh_tokens`: hex SHA-256 of a refresh token → (session id,
//!   generation). Every token a family was ever given stays here until the
//!   family is pruned, so presenting a rotated one is recognised as reuse.
//! - `refresh_by_session`: (session id, generation) → hex SHA-256: the
//!   reverse of `refresh_tokens`, so pruning an ended session removes its
//!   tokens without a scan.
//! - `mail_tokens`: hex SHA-256 of a mailed token → (purpose, account id,
//!   expiry ms). Taking a token removes it (single use).
//! - `api_keys`: key id → rkyv `ApiKeyV1`.
//!
//! # Invariants
//! - Only hashes of tokens and key secrets are stored; a secret is shown
//!   once, when it is made.
//! - `accounts_by_email` has exactly one entry per account, for its email
//!   (emails never change once set).
//! - A session's refresh tokens stay while the session can still be used
//!   (a rotated one must be recognised as reuse); [`AccountsWriter::prune`]
//!   removes a session and its tokens a day after it ended, and mailed
//!   tokens once expired.

use super::codec::{Rec, Record, decode};
use super::db::read::ReadTxn;
use super::db::undo::Tables;
use super::error::StoreResult;
use crate::domain::account::AccountFilter;
use crate::domain::account::{Account, ApiKey, Email, Role, Session, TokenPurpose};
use crate::domain::{Id, Timestamp};
use crate::store::codec::record;
use redb::{ReadableTable, TableDefinition};
use rkyv::{Archive, Deserialize, Serialize};

pub(crate) const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
pub(crate) const ACCOUNTS_BY_EMAIL: TableDefinition<&str, &str> =
    TableDefinition::new("accounts_by_email");
pub(crate) const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
pub(crate) const SESSIONS_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("sessions_by_account");
pub(crate) const REFRESH_TOKENS: TableDefinition<&str, (&str, u32)> =
    TableDefinition::new("refresh_tokens");
pub(crate) const REFRESH_BY_SESSION: TableDefinition<(&str, u32), &str> =
    TableDefinition::new("refresh_by_session");
pub(crate) const MAIL_TOKENS: TableDefinition<&str, (u8, &str, i64)> =
    TableDefinition::new("mail_tokens");
/// (account id, token hash) → (): an account's outstanding mailed tokens,
/// so a password reset or change can end them all.
pub(crate) const MAIL_TOKENS_BY_ACCOUNT: TableDefinition<(&str, &str), ()> =
    TableDefinition::new("mail_tokens_by_account");
pub(crate) const API_KEYS: TableDefinition<&str, &[u8]> = TableDefinition::new("api_keys");

fn ts(ms: i64) -> Result<Timestamp, String> {
    Timestamp::from_millis(ms)
}

fn id(s: &str) -> Result<Id, String> {
    Id::parse(s)
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct AccountV1 {
    pub id: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub role: u8,
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub banned: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

record! {
    pub(crate) AccountRec in "accounts", version 1;
    AccountV1 as ArchivedAccountV1 <=> Account;
    encode(a) {
        AccountV1 {
            id: a.id.to_string(),
            email: a.email.as_str().to_string(),
            name: a.name.clone(),
            phone: a.phone.clone(),
            role: a.role.code(),
            password_hash: a.password_hash.clone(),
            email_verified: a.email_verified,
            banned: a.banned,
            created_at: a.created_at.millis(),
            updated_at: a.updated_at.millis(),
        }
    }
    decode(a) {
        Ok(Account {
            id: id(&a.id)?,
            email: Email::parse(&a.email)?,
            name: a.name.to_string(),
            phone: a.phone.as_ref().map(|s| s.to_string()),
            role: Role::from_code(a.role).ok_or("unknown role")?,
            password_hash: a.password_hash.as_ref().map(|s| s.to_string()),
            email_verified: a.email_verified,
            banned: a.banned,
            created_at: ts(a.created_at.to_native())?,
            updated_at: ts(a.updated_at.to_native())?,
        })
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct SessionV1 {
    pub id: String,
    pub account_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub absolute_expires_at: i64,
    pub generation: u32,
    pub revoked_at: Option<i64>,
}

record! {
    pub(crate) SessionRec in "sessions", version 1;
    SessionV1 as ArchivedSessionV1 <=> Session;
    encode(s) {
        SessionV1 {
            id: s.id.to_string(),
            account_id: s.account_id.to_string(),
            created_at: s.created_at.millis(),
            expires_at: s.expires_at.millis(),
            absolute_expires_at: s.absolute_expires_at.millis(),
            generation: s.generation,
            revoked_at: s.revoked_at.map(Timestamp::millis),
        }
    }
    decode(a) {
        Ok(Session {
            id: id(&a.id)?,
            account_id: id(&a.account_id)?,
            created_at: ts(a.created_at.to_native())?,
            expires_at: ts(a.expires_at.to_native())?,
            absolute_expires_at: ts(a.absolute_expires_at.to_native())?,
            generation: a.generation.to_native(),
            revoked_at: a
                .revoked_at
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
        })
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub(crate) struct ApiKeyV1 {
    pub id: String,
    pub name: String,
    pub role: u8,
    pub secret_hash: [u8; 32],
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

record! {
    pub(crate) ApiKeyRec in "api_keys", version 1;
    ApiKeyV1 as ArchivedApiKeyV1 <=> ApiKey;
    encode(k) {
        ApiKeyV1 {
            id: k.id.to_string(),
            name: k.name.clone(),
            role: k.role.code(),
            secret_hash: k.secret_hash,
            created_at: k.created_at.millis(),
            last_used_at: k.last_used_at.map(Timestamp::millis),
            revoked_at: k.revoked_at.map(Timestamp::millis),
        }
    }
    decode(a) {
        Ok(ApiKey {
            id: id(&a.id)?,
            name: a.name.to_string(),
            role: Role::from_code(a.role).ok_or("unknown role")?,
            secret_hash: a.secret_hash,
            created_at: ts(a.created_at.to_native())?,
            last_used_at: a
                .last_used_at
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
            revoked_at: a
                .revoked_at
                .as_ref()
                .map(|v| ts(v.to_native()))
                .transpose()?,
        })
    }
}

/// One page of accounts, by email.
#[derive(Debug, Clone)]
pub(crate) struct AccountPage {
    pub items: Vec<Account>,
    /// Accounts matching the filter in all.
    pub total: u64,
}

fn matches(a: &ArchivedAccountV1, f: &AccountFilter) -> bool {
    f.role.is_none_or(|r| a.role == r.code())
}

fn accounts_page(
    by_email: &impl ReadableTable<&'static str, &'static str>,
    accounts: &impl ReadableTable<&'static str, &'static [u8]>,
    filter: &AccountFilter,
    offset: u64,
    limit: usize,
) -> StoreResult<AccountPage> {
    let prefix = filter.email_prefix.clone().unwrap_or_default();
    let mut items = Vec::new();
    let mut total = 0u64;
    for item in by_email.range(prefix.as_str()..)? {
        let (email, account_id) = item?;
        if !email.value().starts_with(prefix.as_str()) {
            break;
        }
        let account_id = account_id.value();
        let Some(g) = accounts.get(account_id)? else {
            continue;
        };
        let hit = super::codec::with_archived::<AccountRec, _>(g.value(), account_id, |a| {
            matches(a, filter)
        })?;
        if !hit {
            continue;
        }
        if total >= offset && items.len() < limit {
            items.push(decode::<AccountRec>(g.value(), account_id)?);
        }
        total += 1;
    }
    Ok(AccountPage { items, total })
}

/// The accounts' tables as a read transaction sees them (`read.accounts()`).
pub(crate) struct AccountsReader<'r> {
    txn: &'r redb::ReadTransaction,
}

impl ReadTxn {
    /// Accounts, sessions, mailed tokens, API keys.
    pub(crate) fn accounts(&self) -> AccountsReader<'_> {
        AccountsReader { txn: &self.txn }
    }
}

impl AccountsReader<'_> {
    pub(crate) fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let t = self.txn.open_table(ACCOUNTS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<AccountRec>(g.value(), id))
            .transpose()
    }

    pub(crate) fn account_by_email(&self, email: &Email) -> StoreResult<Option<Account>> {
        let t = self.txn.open_table(ACCOUNTS_BY_EMAIL)?;
        let Some(id) = t.get(email.as_str())? else {
            return Ok(None);
        };
        self.account(id.value())
    }

    /// The session `sid`, read without copying more than its record.
    pub(crate) fn session(&self, sid: &str) -> StoreResult<Option<Rec<SessionRec>>> {
        let t = self.txn.open_table(SESSIONS)?;
        Ok(t.get(sid)?.map(|g| Rec::new(sid, g)))
    }

    pub(crate) fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let t = self.txn.open_table(API_KEYS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<ApiKeyRec>(g.value(), id))
            .transpose()
    }

    /// Every API key (revoked ones too), oldest first.
    pub(crate) fn api_keys(&self) -> StoreResult<Vec<ApiKey>> {
        let t = self.txn.open_table(API_KEYS)?;
        let mut out = Vec::new();
        for item in t.iter()? {
            let (k, v) = item?;
            out.push(decode::<ApiKeyRec>(v.value(), k.value())?);
        }
        out.sort_by_key(|k| (k.created_at, k.id.clone()));
        Ok(out)
    }

    /// Accounts matching `filter`, by email, skipping `offset`.
    pub(crate) fn list(
        &self,
        filter: &AccountFilter,
        offset: u64,
        limit: usize,
    ) -> StoreResult<AccountPage> {
        let by_email = self.txn.open_table(ACCOUNTS_BY_EMAIL)?;
        let accounts = self.txn.open_table(ACCOUNTS)?;
        accounts_page(&by_email, &accounts, filter, offset, limit)
    }
}

/// A refresh token as the store found it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RefreshLookup {
    Unknown,
    /// The token belongs to `session` at `generation`.
    Found {
        session: Session,
        generation: u32,
    },
}

/// The accounts' part of a write transaction.
pub(crate) struct AccountsWriter<'w> {
    pub(crate) tables: &'w Tables,
}

impl AccountsWriter<'_> {
    pub(crate) fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let t = self.tables.open(ACCOUNTS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<AccountRec>(g.value(), id))
            .transpose()
    }

    /// Adds `a` unless its id or email is taken; `false` when taken.
    pub(crate) fn insert_account(&mut self, a: &Account) -> StoreResult<bool> {
        let mut by_email = self.tables.open(ACCOUNTS_BY_EMAIL)?;
        if by_email.get(a.email.as_str())?.is_some() {
            return Ok(false);
        }
        let mut t = self.tables.open(ACCOUNTS)?;
        if t.get(a.id.as_str())?.is_some() {
            return Ok(false);
        }
        t.insert(a.id.as_str(), AccountRec::encode(a).as_slice())?;
        by_email.insert(a.email.as_str(), a.id.as_str())?;
        Ok(true)
    }

    /// Replaces a stored account (same id, same email).
    pub(crate) fn put_account(&mut self, a: &Account) -> StoreResult<()> {
        self.tables
            .open(ACCOUNTS)?
            .insert(a.id.as_str(), AccountRec::encode(a).as_slice())?;
        Ok(())
    }

    pub(crate) fn session(&self, sid: &str) -> StoreResult<Option<Session>> {
        let t = self.tables.open(SESSIONS)?;
        let found = t.get(sid)?;
        found
            .map(|g| decode::<SessionRec>(g.value(), sid))
            .transpose()
    }

    pub(crate) fn put_session(&mut self, s: &Session) -> StoreResult<()> {
        self.tables
            .open(SESSIONS)?
            .insert(s.id.as_str(), SessionRec::encode(s).as_slice())?;
        self.tables
            .open(SESSIONS_BY_ACCOUNT)?
            .insert((s.account_id.as_str(), s.id.as_str()), ())?;
        Ok(())
    }

    /// Files `token_hash` as the refresh token of `sid` at `generation`.
    pub(crate) fn put_refresh_token(
        &mut self,
        token_hash: &str,
        sid: &str,
        generation: u32,
    ) -> StoreResult<()> {
        self.tables
            .open(REFRESH_TOKENS)?
            .insert(token_hash, (sid, generation))?;
        self.tables
            .open(REFRESH_BY_SESSION)?
            .insert((sid, generation), token_hash)?;
        Ok(())
    }

    pub(crate) fn refresh_token(&self, token_hash: &str) -> StoreResult<RefreshLookup> {
        let (sid, generation) = {
            let t = self.tables.open(REFRESH_TOKENS)?;
            let found = t.get(token_hash)?;
            match found {
                Some(g) => {
                    let (sid, generation) = g.value();
                    (sid.to_string(), generation)
                }
                None => return Ok(RefreshLookup::Unknown),
            }
        };
        Ok(match self.session(&sid)? {
            Some(session) => RefreshLookup::Found {
                session,
                generation,
            },
            None => RefreshLookup::Unknown,
        })
    }

    /// Revokes every live session of `account` except `keep`; how many.
    pub(crate) fn revoke_sessions(
        &mut self,
        account: &str,
        keep: Option<&str>,
        now: Timestamp,
    ) -> StoreResult<usize> {
        let sids: Vec<String> = {
            let t = self.tables.open(SESSIONS_BY_ACCOUNT)?;
            let mut out = Vec::new();
            for item in t.range((account, "")..)? {
                let (k, _) = item?;
                let (a, sid) = k.value();
                if a != account {
                    break;
                }
                if Some(sid) != keep {
                    out.push(sid.to_string());
                }
            }
            out
        };
        let mut n = 0;
        for sid in sids {
            if let Some(mut s) = self.session(&sid)?
                && s.revoked_at.is_none()
            {
                s.revoked_at = Some(now);
                self.put_session(&s)?;
                n += 1;
            }
        }
        Ok(n)
    }

    pub(crate) fn put_mail_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        account: &str,
        expires_at: Timestamp,
    ) -> StoreResult<()> {
        self.tables
            .open(MAIL_TOKENS)?
            .insert(token_hash, (purpose.code(), account, expires_at.millis()))?;
        self.tables
            .open(MAIL_TOKENS_BY_ACCOUNT)?
            .insert((account, token_hash), ())?;
        Ok(())
    }

    /// Ends every outstanding mailed token (verification and reset links)
    /// of `account`; answers how many.
    pub(crate) fn end_mail_tokens(&mut self, account: &str) -> StoreResult<usize> {
        let hashes: Vec<String> = {
            let t = self.tables.open(MAIL_TOKENS_BY_ACCOUNT)?;
            let mut out = Vec::new();
            for item in t.range((account, "")..)? {
                let (k, _) = item?;
                let (a, hash) = k.value();
                if a != account {
                    break;
                }
                out.push(hash.to_string());
            }
            out
        };
        let mut tokens = self.tables.open(MAIL_TOKENS)?;
        let mut by_account = self.tables.open(MAIL_TOKENS_BY_ACCOUNT)?;
        for h in &hashes {
            tokens.remove(h.as_str())?;
            by_account.remove((account, h.as_str()))?;
        }
        Ok(hashes.len())
    }

    /// Removes and answers the mailed token `token_hash` when it is for
    /// `purpose` and not expired at `now` (the account it is for). A token
    /// for another purpose stays.
    pub(crate) fn take_mail_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: Timestamp,
    ) -> StoreResult<Option<Id>> {
        let mut t = self.tables.open(MAIL_TOKENS)?;
        let found = match t.get(token_hash)? {
            Some(g) => {
                let (p, account, expires) = g.value();
                Some((p, account.to_string(), expires))
            }
            None => None,
        };
        let Some((p, account, expires)) = found else {
            return Ok(None);
        };
        if TokenPurpose::from_code(p) != Some(purpose) {
            return Ok(None);
        }
        t.remove(token_hash)?;
        self.tables
            .open(MAIL_TOKENS_BY_ACCOUNT)?
            .remove((account.as_str(), token_hash))?;
        if expires <= now.millis() {
            return Ok(None);
        }
        Ok(Id::parse(&account).ok())
    }

    pub(crate) fn api_key(&self, id: &str) -> StoreResult<Option<ApiKey>> {
        let t = self.tables.open(API_KEYS)?;
        let found = t.get(id)?;
        found
            .map(|g| decode::<ApiKeyRec>(g.value(), id))
            .transpose()
    }

    pub(crate) fn put_api_key(&mut self, k: &ApiKey) -> StoreResult<()> {
        self.tables
            .open(API_KEYS)?
            .insert(k.id.as_str(), ApiKeyRec::encode(k).as_slice())?;
        Ok(())
    }

    /// Removes sessions that ended (revoked or expired) more than `grace`
    /// before `now`, with their refresh tokens, and expired mailed tokens;
    /// at most `max` sessions and `max` mailed tokens per call. How many
    /// records went.
    pub(crate) fn prune(
        &mut self,
        now: Timestamp,
        grace_ms: i64,
        max: usize,
    ) -> StoreResult<usize> {
        let cutoff = now.millis().saturating_sub(grace_ms);
        let mut ended: Vec<(String, String)> = Vec::new();
        {
            let t = self.tables.open(SESSIONS)?;
            for item in t.iter()? {
                if ended.len() >= max {
                    break;
                }
                let (k, v) = item?;
                let sid = k.value();
                let (end, account) =
                    super::codec::with_archived::<SessionRec, _>(v.value(), sid, |s| {
                        let expiry = s
                            .expires_at
                            .to_native()
                            .min(s.absolute_expires_at.to_native());
                        let end = s
                            .revoked_at
                            .as_ref()
                            .map_or(expiry, |r| r.to_native().min(expiry));
                        (end, s.account_id.as_str().to_string())
                    })?;
                if end < cutoff {
                    ended.push((sid.to_string(), account));
                }
            }
        }
        let mut removed = 0;
        for (sid, account) in &ended {
            let hashes: Vec<(u32, String)> = {
                let t = self.tables.open(REFRESH_BY_SESSION)?;
                let mut out = Vec::new();
                for item in t.range((sid.as_str(), 0)..=(sid.as_str(), u32::MAX))? {
                    let (k, v) = item?;
                    out.push((k.value().1, v.value().to_string()));
                }
                out
            };
            let mut tokens = self.tables.open(REFRESH_TOKENS)?;
            let mut by_session = self.tables.open(REFRESH_BY_SESSION)?;
            for (generation, hash) in &hashes {
                tokens.remove(hash.as_str())?;
                by_session.remove((sid.as_str(), *generation))?;
                removed += 1;
            }
            self.tables
                .open(SESSIONS_BY_ACCOUNT)?
                .remove((account.as_str(), sid.as_str()))?;
            self.tables.open(SESSIONS)?.remove(sid.as_str())?;
            removed += 1;
        }
        let expired: Vec<(String, String)> = {
            let t = self.tables.open(MAIL_TOKENS)?;
            let mut out = Vec::new();
            for item in t.iter()? {
                if out.len() >= max {
                    break;
                }
                let (k, v) = item?;
                let (_, account, expires) = v.value();
                if expires <= now.millis() {
                    out.push((k.value().to_string(), account.to_string()));
                }
            }
            out
        };
        let mut t = self.tables.open(MAIL_TOKENS)?;
        let mut by_account = self.tables.open(MAIL_TOKENS_BY_ACCOUNT)?;
        for (h, account) in &expired {
            t.remove(h.as_str())?;
            by_account.remove((account.as_str(), h.as_str()))?;
            removed += 1;
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreError};

    fn session(id: &str, now: Timestamp, revoked: Option<Timestamp>) -> Session {
        let day = 24 * 3600 * 1000;
        Session {
            id: Id::parse(id).unwrap(),
            account_id: Id::parse("u1").unwrap(),
            created_at: now,
            expires_at: Timestamp::from_millis(now.millis() + 30 * day).unwrap(),
            absolute_expires_at: Timestamp::from_millis(now.millis() + 90 * day).unwrap(),
            generation: 1,
            revoked_at: revoked,
        }
    }

    #[test]
    fn prune_drops_ended_sessions_with_their_tokens_and_expired_mail_tokens_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.redb")).unwrap();
        let t0 = Timestamp::from_millis(1_700_000_000_000).unwrap();
        let day = 24 * 3600 * 1000;
        let later = Timestamp::from_millis(t0.millis() + 2 * day).unwrap();
        store
            .write_blocking(move |tx| -> Result<(), StoreError> {
                let mut a = tx.accounts();
                a.put_session(&session("ended", t0, Some(t0)))?;
                a.put_session(&session("live", t0, None))?;
                for (h, sid, generation) in
                    [("h0", "ended", 0), ("h1", "ended", 1), ("h2", "live", 1)]
                {
                    a.put_refresh_token(h, sid, generation)?;
                }
                a.put_mail_token("old", TokenPurpose::ResetPassword, "u1", t0)?;
                let fresh = Timestamp::from_millis(later.millis() + 1).unwrap();
                a.put_mail_token("new", TokenPurpose::ResetPassword, "u1", fresh)?;
                Ok(())
            })
            .unwrap();
        let removed = store
            .write_blocking(move |tx| tx.accounts().prune(later, day, 100))
            .unwrap();
        // The ended session, its two tokens, one expired mail token.
        assert_eq!(removed, 4);
        store
            .write_blocking(move |tx| -> Result<(), StoreError> {
                let mut a = tx.accounts();
                assert!(a.session("ended")?.is_none());
                assert!(a.session("live")?.is_some());
                assert_eq!(a.refresh_token("h0")?, RefreshLookup::Unknown);
                assert!(matches!(
                    a.refresh_token("h2")?,
                    RefreshLookup::Found { .. }
                ));
                assert!(
                    a.take_mail_token("new", TokenPurpose::ResetPassword, t0)?
                        .is_some()
                );
                assert_eq!(a.revoke_sessions("u1", None, later)?, 1);
                Ok(())
            })
            .unwrap();
    }
}
