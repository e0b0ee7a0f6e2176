//! Accounts as values: who can sign in, with which role, and the inputs that
//! create and change them. No I/O and no cryptography: the store keeps
//! accounts, sessions and keys (`store::accounts`); the `accounts` service
//! hashes passwords and signs tokens.
//!
//! # Invariants
//! - An [`Email`] is trimmed and lowercased: two spellings of one address
//!   are one account.
//! - A [`Password`] is 8–128 characters and never printed (`Debug` hides it).
//! - Roles are ordered: `admin` can do what `staff` can, `staff` what a
//!   `customer` can ([`Role::at_least`]).

use super::fields::{Presence, read_object as parse, text_line};
use super::{FieldErrors, Id, Timestamp, limits};
use serde::Serialize;
use serde_json::{Map, Value};

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Staff,
    Admin,
}

impl Role {
    pub(crate) const ALL: [Role; 3] = [Role::Customer, Role::Staff, Role::Admin];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_code(c: u8) -> Option<Role> {
        Role::ALL.get(c as usize).copied()
    }

    /// Whether this role includes everything `needed` may do.
    pub(crate) fn at_least(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalized email address (trimmed, lowercased).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Email, String> {
        let s = s.trim().to_lowercase();
        if s.is_empty() {
            return Err("must not be empty".into());
        }
        if s.chars().count() > limits::EMAIL {
            return Err(format!("must be at most {} characters", limits::EMAIL));
        }
        let ok = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if ok {
            Ok(Email(s))
        } else {
            Err("must be an email address".into())
        }
    }

    pub(crate) fn from_json(v: &Value) -> Result<Email, String> {
        Email::parse(v.as_str().ok_or("must be a string")?)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as typed: 8–128 characters. Never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

pub(crate) const PASSWORD_MIN: usize = 8;
pub(crate) const PASSWORD_MAX: usize = 128;

impl Password {
    pub fn parse(s: &str) -> Result<Password, String> {
        let n = s.chars().count();
        if n < PASSWORD_MIN {
            return Err(format!("must be at least {PASSWORD_MIN} characters"));
        }
        if n > PASSWORD_MAX {
            return Err(format!("must be at most {PASSWORD_MAX} characters"));
        }
        Ok(Password(s.to_string()))
    }

    pub(crate) fn from_json(v: &Value) -> Result<Password, String> {
        Password::parse(v.as_str().ok_or("must be a string")?)
    }

    /// The password itself, for the hasher. Never log what this returns.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A password as presented at sign-in: any string up to the maximum (an old
/// account may predate a rule; a wrong one is just wrong).
fn presented_password(v: &Value) -> Result<Password, String> {
    let s = v.as_str().ok_or("must be a string")?;
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > PASSWORD_MAX {
        return Err(format!("must be at most {PASSWORD_MAX} characters"));
    }
    Ok(Password(s.to_string()))
}

fn phone(v: &Value) -> Result<String, String> {
    let s = text_line(v, 32)?;
    let digits = s.chars().filter(char::is_ascii_digit).count();
    if digits < 5
        || !s
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return Err("must be a phone number (digits, spaces, + - ( ) .)".into());
    }
    Ok(s)
}

/// A stored account.
#[derive(Debug, Clone, PartialEq)]
pub struct Account {
    pub id: Id,
    pub email: Email,
    pub name: String,
    pub phone: Option<String>,
    pub role: Role,
    /// PHC string (argon2id); `None` for an account nobody has claimed yet
    /// (a review author brought by an import): it cannot sign in until a
    /// password reset sets one.
    pub password_hash: Option<String>,
    pub email_verified: bool,
    pub banned: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Account {
    /// The account an imported review author gets: same id, same email, no
    /// password (its owner claims it through a password reset). `None` when
    /// the reviewer's email is not one an account can have.
    pub(crate) fn unclaimed(r: &super::Reviewer) -> Option<Account> {
        Some(Account {
            id: r.id.clone(),
            email: Email::parse(&r.email).ok()?,
            name: r.name.clone(),
            phone: None,
            role: Role::Customer,
            password_hash: None,
            email_verified: false,
            banned: false,
            created_at: r.created_at,
            updated_at: r.created_at,
        })
    }
}

/// `POST /auth/register`.
#[derive(Debug, Clone)]
pub struct Registration {
    pub email: Email,
    pub name: String,
    pub phone: Option<String>,
    pub password: Password,
}

/// `POST /auth/login`.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub email: Email,
    pub password: Password,
}

/// `PATCH /me`: absent fields stay; `phone: null` clears it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ProfilePatch {
    pub name: Option<String>,
    pub phone: Option<Option<String>>,
}

/// `PATCH /admin/users/{id}`.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountAdminPatch {
    pub role: Option<Role>,
    pub banned: Option<bool>,
}

/// `POST /me/password`.
#[derive(Debug, Clone)]
pub(crate) struct PasswordChange {
    pub current: Password,
    pub new: Password,
}

/// `POST /auth/password-reset/confirm`.
#[derive(Debug, Clone)]
pub(crate) struct ResetConfirmation {
    pub token: String,
    pub password: Password,
}

/// `POST /admin/api-keys`.
#[derive(Debug, Clone)]
pub(crate) struct NewApiKey {
    pub name: String,
    pub role: Role,
}

fn role(v: &Value) -> Result<Role, String> {
    v.as_str()
        .and_then(Role::parse)
        .ok_or_else(|| "must be one of customer, staff, admin".into())
}

/// Longest token accepted (the ones shopd hands out are 43 characters).
const TOKEN_MAX: usize = 512;

/// A token as presented: 1–512 characters. Whether it is one shopd handed
/// out is for the accounts service to say (401 when it is not).
fn token(v: &Value) -> Result<String, String> {
    let s = v.as_str().ok_or("must be a string")?;
    if s.is_empty() || s.chars().count() > TOKEN_MAX {
        return Err(format!("must be a token of 1 to {TOKEN_MAX} characters"));
    }
    Ok(s.to_string())
}

fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or_else(|| "must be true or false".into())
}

impl Registration {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Registration, FieldErrors> {
        parse(map, |f| {
            let email = f.get("email", Presence::Required, Email::from_json);
            let password = f.get("password", Presence::Required, Password::from_json);
            let name = f.get("name", Presence::Required, |v| text_line(v, limits::NAME));
            let phone = f.get("phone", Presence::Optional, phone);
            Some(Registration {
                email: email?,
                name: name?,
                phone,
                password: password?,
            })
        })
    }
}

impl Credentials {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<Credentials, FieldErrors> {
        parse(map, |f| {
            let email = f.get("email", Presence::Required, Email::from_json);
            let password = f.get("password", Presence::Required, presented_password);
            Some(Credentials {
                email: email?,
                password: password?,
            })
        })
    }
}

impl ProfilePatch {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<ProfilePatch, FieldErrors> {
        parse(map, |f| {
            let name = f.get("name", Presence::Optional, |v| text_line(v, limits::NAME));
            let phone = f.nullable("phone", phone);
            f.forbid("email", "cannot be changed here");
            f.forbid("role", "is changed by an admin");
            Some(ProfilePatch { name, phone })
        })
    }
}

impl AccountAdminPatch {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<AccountAdminPatch, FieldErrors> {
        parse(map, |f| {
            let role = f.get("role", Presence::Optional, role);
            let banned = f.get("banned", Presence::Optional, boolean);
            Some(AccountAdminPatch { role, banned })
        })
    }
}

impl PasswordChange {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<PasswordChange, FieldErrors> {
        parse(map, |f| {
            let current = f.get("currentPassword", Presence::Required, presented_password);
            let new = f.get("newPassword", Presence::Required, Password::from_json);
            Some(PasswordChange {
                current: current?,
                new: new?,
            })
        })
    }
}

impl ResetConfirmation {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<ResetConfirmation, FieldErrors> {
        parse(map, |f| {
            let token = f.get("token", Presence::Required, token);
            let password = f.get("password", Presence::Required, Password::from_json);
            Some(ResetConfirmation {
                token: token?,
                password: password?,
            })
        })
    }
}

impl NewApiKey {
    pub(crate) fn parse(map: &Map<String, Value>) -> Result<NewApiKey, FieldErrors> {
        parse(map, |f| {
            let name = f.get("name", Presence::Required, |v| text_line(v, limits::NAME));
            let role = f.get("role", Presence::Required, |v| match role(v)? {
                Role::Customer => Err("must be staff or admin".to_string()),
                r => Ok(r),
            });
            Some(NewApiKey {
                name: name?,
                role: role?,
            })
        })
    }
}

/// `{ "email": … }` (password-reset request).
pub(crate) fn parse_email_only(map: &Map<String, Value>) -> Result<Email, FieldErrors> {
    parse(map, |f| {
        f.get("email", Presence::Required, Email::from_json)
    })
}

/// `{ "token": … }` (email verification).
pub(crate) fn parse_token_only(map: &Map<String, Value>) -> Result<String, FieldErrors> {
    parse(map, |f| f.get("token", Presence::Required, token))
}

/// `{ "refreshToken": … }`.
pub(crate) fn parse_refresh(map: &Map<String, Value>) -> Result<String, FieldErrors> {
    parse(map, |f| f.get("refreshToken", Presence::Required, token))
}

/// A sign-in session: one login, and every refresh token rotated from it
/// (one token family). Revoking it ends the family.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Session {
    pub id: Id,
    pub account_id: Id,
    pub created_at: Timestamp,
    /// The refresh token's sliding expiry (moved on each rotation).
    pub expires_at: Timestamp,
    /// The family's absolute end: no rotation moves it.
    pub absolute_expires_at: Timestamp,
    /// Which refresh token of the family is current (each rotation adds 1).
    pub generation: u32,
    pub revoked_at: Option<Timestamp>,
}

impl Session {
    pub(crate) fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.expires_at && now < self.absolute_expires_at
    }
}

/// A machine credential.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiKey {
    pub id: Id,
    pub name: String,
    pub role: Role,
    /// SHA-256 of the secret part.
    pub secret_hash: [u8; 32],
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// What a single-use mailed token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenPurpose {
    VerifyEmail,
    ResetPassword,
}

impl TokenPurpose {
    pub(crate) fn code(self) -> u8 {
        match self {
            TokenPurpose::VerifyEmail => 1,
            TokenPurpose::ResetPassword => 2,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<TokenPurpose> {
        match c {
            1 => Some(TokenPurpose::VerifyEmail),
            2 => Some(TokenPurpose::ResetPassword),
            _ => None,
        }
    }
}

/// Which accounts a list shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccountFilter {
    pub role: Option<Role>,
    /// Normalized (lowercase) email prefix.
    pub email_prefix: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_one_account_whatever_the_spelling() {
        assert_eq!(
            Email::parse("  Rosa.Ahmed@Example.COM ").unwrap(),
            Email::parse("rosa.ahmed@example.com").unwrap()
        );
        for bad in ["", "a", "a@b", "@b.c", "a b@c.d", "a@.c", "a@c."] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_are_8_to_128_characters_and_never_printed() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter"));
    }

    #[test]
    fn roles_are_ordered_and_round_trip() {
        assert!(Role::Admin.at_least(Role::Staff));
        assert!(Role::Staff.at_least(Role::Customer));
        assert!(!Role::Customer.at_least(Role::Staff));
        for r in Role::ALL {
            assert_eq!(Role::from_code(r.code()), Some(r));
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn registration_reports_every_bad_field_and_unknown_ones() {
        let map = serde_json::json!({"email": "x", "password": "short", "role": "admin"});
        let errs = Registration::parse(map.as_object().unwrap()).unwrap_err();
        let fields: Vec<&str> = errs.as_slice().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "password", "name", "role"]);
    }
}
