//! Administration: listing accounts, changing a role or a ban, API keys,
//! and `shopd admin create`.

use super::{Accounts, AccountsError, CreatedKey, password, tokens};
use crate::domain::account::AccountFilter;
use crate::domain::account::{
    Account, AccountAdminPatch, ApiKey, Email, NewApiKey, Password, Role,
};
use crate::domain::{Id, Timestamp};
use crate::store::Store;
use crate::store::accounts::AccountPage;

impl Accounts {
    pub(crate) fn list(
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
    pub(crate) async fn administer(
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

    pub(crate) async fn create_key(&self, new: NewApiKey) -> Result<CreatedKey, AccountsError> {
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

    pub(crate) fn key(&self, id: &str) -> Result<ApiKey, AccountsError> {
        self.store()
            .read()?
            .accounts()
            .api_key(id)?
            .ok_or_else(|| AccountsError::KeyNotFound(id.into()))
    }

    pub(crate) fn keys(&self) -> Result<Vec<ApiKey>, AccountsError> {
        Ok(self.store().read()?.accounts().api_keys()?)
    }

    /// Revokes a key: it stops working at once.
    pub(crate) async fn revoke_key(&self, id: &str) -> Result<(), AccountsError> {
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
