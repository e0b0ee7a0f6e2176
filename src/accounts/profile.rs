//! The signed-in account's own: its profile and password, and the mailed
//! tokens that verify an email or reset a forgotten password.

use super::tokens::token_hash;
use super::{Accounts, AccountsError, RESET_ANSWER_FLOOR, RESET_TTL, after, tokens};
use crate::domain::account::{
    Account, Email, PasswordChange, ProfilePatch, ResetConfirmation, TokenPurpose,
};
use crate::domain::{Id, Timestamp};

impl Accounts {
    pub(crate) fn account(&self, id: &str) -> Result<Account, AccountsError> {
        self.store()
            .read()?
            .accounts()
            .account(id)?
            .ok_or_else(|| AccountsError::NotFound(id.into()))
    }

    pub(crate) async fn update_profile(
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
    pub(crate) async fn change_password(
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
                // A reset or verification link mailed before the change
                // must not undo it.
                a.end_mail_tokens(id.as_str())?;
                Ok(())
            })
            .await
    }

    // ---- mailed tokens -------------------------------------------------------------------

    /// Mails a reset link when `email` has an account that is not banned
    /// (an imported review author's account too: that is how it is
    /// claimed). Answers the same either way.
    pub(crate) async fn request_reset(&self, email: Email) -> Result<(), AccountsError> {
        // Same work is not the same time (a mail job and a token are more
        // bytes to write than nothing): every answer waits for a floor
        // well above the work, so its time says nothing about the email.
        let floor = tokio::time::Instant::now() + RESET_ANSWER_FLOOR;
        let answer = self.reset_request(email).await;
        tokio::time::sleep_until(floor).await;
        answer
    }

    async fn reset_request(&self, email: Email) -> Result<(), AccountsError> {
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
        // One durable write either way.
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
    /// Answers the account's email (its sign-in failures are forgiven).
    pub(crate) async fn confirm_reset(&self, c: ResetConfirmation) -> Result<Email, AccountsError> {
        let hash = self.inner.hasher.hash(&c.password).await?;
        let hashed = token_hash(&c.token);
        self.store()
            .write(move |tx| -> Result<Email, AccountsError> {
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
                let email = acc.email.clone();
                a.revoke_sessions(id.as_str(), None, now)?;
                // One link resets once: every other reset and verification
                // link of the account ends with it.
                a.end_mail_tokens(id.as_str())?;
                Ok(email)
            })
            .await
    }

    /// Marks the email verified with the mailed token (single use).
    pub(crate) async fn verify_email(&self, token: String) -> Result<(), AccountsError> {
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
}
