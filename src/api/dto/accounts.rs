//! Accounts over the wire: users, token pairs, API keys, and the bodies of
//! sign-up, sign-in, refresh, reset, verification, profile and admin
//! changes. Answers never carry a password hash, and a refresh token or API
//! key secret only in the answer that made it.

use super::input;
use crate::accounts::CreatedKey;
use crate::accounts::TokenPair;
use crate::api::dto::data;
use crate::domain::account;
use crate::domain::account::Account;
use crate::domain::account::AccountAdminPatch;
use crate::domain::account::ApiKey;
use crate::domain::account::Credentials;
use crate::domain::account::Email;
use crate::domain::account::NewApiKey;
use crate::domain::account::PasswordChange;
use crate::domain::account::ProfilePatch;
use crate::domain::account::Registration;
use crate::domain::account::ResetConfirmation;
use crate::domain::account::Role;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde::Deserialize;
use serde::Serialize;
use utoipa::ToSchema;

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserView {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) phone: Option<String>,
    #[schema(value_type = String, examples("customer", "staff", "admin"))]
    pub(crate) role: Role,
    pub(crate) email_verified: bool,
    pub(crate) banned: bool,
    /// False for an account an import brought that nobody has claimed yet
    /// (it gets a password through a password reset).
    pub(crate) has_password: bool,
    pub(crate) created_at: String,
    pub(crate) updated_at: String,
}

impl From<Account> for UserView {
    fn from(a: Account) -> Self {
        UserView {
            id: a.id.to_string(),
            email: a.email.as_str().to_string(),
            name: a.name,
            phone: a.phone,
            role: a.role,
            email_verified: a.email_verified,
            banned: a.banned,
            has_password: a.password_hash.is_some(),
            created_at: a.created_at.to_string(),
            updated_at: a.updated_at.to_string(),
        }
    }
}

/// What a sign-in or a refresh hands out.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Tokens {
    /// A JWT for `Authorization: Bearer …`.
    pub(crate) access_token: String,
    #[schema(examples("Bearer"))]
    pub(crate) token_type: &'static str,
    /// Seconds the access token is valid (900).
    pub(crate) expires_in: u64,
    /// Single use: `POST /auth/refresh` answers a new one and this one
    /// stops working; using it again ends the session.
    pub(crate) refresh_token: String,
    /// When the refresh token expires unless used (30 days sliding, 90 days
    /// at most from sign-in).
    pub(crate) refresh_expires_at: String,
    pub(crate) user: UserView,
}

impl From<TokenPair> for Tokens {
    fn from(p: TokenPair) -> Self {
        Tokens {
            access_token: p.access_token,
            token_type: "Bearer",
            expires_in: p.access_expires_in,
            refresh_token: p.refresh_token,
            refresh_expires_at: p.refresh_expires_at.to_string(),
            user: p.account.into(),
        }
    }
}

/// The same answer whatever happened (no account enumeration).
#[derive(Serialize, ToSchema)]
pub(crate) struct Accepted {
    pub(crate) message: &'static str,
}

/// An API key as the API shows it (never its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyView {
    pub(crate) id: String,
    pub(crate) name: String,
    #[schema(value_type = String, examples("staff", "admin"))]
    pub(crate) role: Role,
    pub(crate) created_at: String,
    pub(crate) last_used_at: Option<String>,
    pub(crate) revoked_at: Option<String>,
    /// Only in the answer that created the key: `X-API-Key: <key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key: Option<String>,
}

impl From<ApiKey> for KeyView {
    fn from(k: ApiKey) -> Self {
        KeyView {
            id: k.id.to_string(),
            name: k.name,
            role: k.role,
            created_at: k.created_at.to_string(),
            last_used_at: k.last_used_at.map(|t| t.to_string()),
            revoked_at: k.revoked_at.map(|t| t.to_string()),
            key: None,
        }
    }
}

impl From<CreatedKey> for KeyView {
    fn from(c: CreatedKey) -> Self {
        KeyView {
            key: Some(c.secret),
            ..KeyView::from(c.key)
        }
    }
}

pub(crate) fn accepted() -> HttpResponse {
    data(
        StatusCode::ACCEPTED,
        Accepted {
            message: "Accepted. If the address can receive mail, a message is on its way.",
        },
    )
}

#[derive(Serialize)]
pub(crate) struct UserPage {
    pub(crate) data: Vec<UserView>,
    pub(crate) meta: crate::domain::listing::PageMeta,
}

/// A role, by name (for the document; parsed by the domain).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum RoleName {
    Customer,
    Staff,
    Admin,
}

/// The role of an API key.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub(crate) enum KeyRoleName {
    Staff,
    Admin,
}

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct RegisterBody {
    #[schema(format = Email, max_length = 254, pattern = r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    pub(crate) email: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) password: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    /// Digits, spaces and `+ - ( ) .`, with at least 5 digits.
    #[schema(
        required = false,
        max_length = 32,
        pattern = r"^[ +().-]*([0-9][ +().-]*){5,}$"
    )]
    pub(crate) phone: String,
}
input!(RegisterBody, Registration, Registration::parse);

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com", "password": "correct horse battery"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct LoginBody {
    #[schema(format = Email, max_length = 254, pattern = r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    pub(crate) email: String,
    #[schema(min_length = 1, max_length = 128)]
    pub(crate) password: String,
}
input!(LoginBody, Credentials, Credentials::parse);

/// `POST /auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"refreshToken": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct RefreshBody {
    #[schema(min_length = 1, max_length = 512)]
    pub(crate) refresh_token: String,
}
input!(RefreshBody, String, account::parse_refresh);

/// `POST /auth/password-reset`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ResetRequestBody {
    #[schema(format = Email, max_length = 254, pattern = r"^([A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,64}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,31}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,32}|[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21}\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,21})@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")]
    pub(crate) email: String,
}
input!(ResetRequestBody, Email, account::parse_email_only);

/// `POST /auth/password-reset/confirm`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"token": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n", "password": "a new passphrase"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ResetConfirmBody {
    /// From the mailed link. One that is unknown, used or expired is a
    /// 401 `invalid_token`.
    #[schema(min_length = 1, max_length = 512)]
    pub(crate) token: String,
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) password: String,
}

/// `POST /auth/verify-email`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"token": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct VerifyBody {
    /// From the mailed link. One that is unknown, used or expired is a
    /// 401 `invalid_token`.
    #[schema(min_length = 1, max_length = 512)]
    pub(crate) token: String,
}
input!(VerifyBody, String, account::parse_token_only);

/// `PATCH /me`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "Ada Lovelace", "phone": "+44 20 7946 0000"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ProfileBody {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    /// Digits, spaces and `+ - ( ) .`, with at least 5 digits; `null`
    /// clears it.
    #[schema(max_length = 32, pattern = r"^[ +().-]*([0-9][ +().-]*){5,}$")]
    pub(crate) phone: Option<String>,
}
input!(ProfileBody, ProfilePatch, ProfilePatch::parse);

/// `POST /me/password`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"currentPassword": "correct horse battery", "newPassword": "a new passphrase"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PasswordBody {
    #[schema(min_length = 1, max_length = 128)]
    pub(crate) current_password: String,
    #[schema(min_length = 8, max_length = 128)]
    pub(crate) new_password: String,
}
input!(PasswordBody, PasswordChange, PasswordChange::parse);

/// `PATCH /admin/users/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"role": "staff", "banned": false})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UserAdminBody {
    #[schema(required = false, value_type = RoleName)]
    pub(crate) role: String,
    #[schema(required = false)]
    pub(crate) banned: bool,
}
input!(UserAdminBody, AccountAdminPatch, AccountAdminPatch::parse);

/// `POST /admin/api-keys`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "warehouse sync", "role": "staff"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ApiKeyBody {
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    pub(crate) name: String,
    /// What the key may do: `staff` or `admin` (a customer is a person
    /// with an account, never a key).
    #[schema(value_type = KeyRoleName)]
    pub(crate) role: String,
}
input!(ApiKeyBody, NewApiKey, NewApiKey::parse);
input!(
    ResetConfirmBody,
    ResetConfirmation,
    ResetConfirmation::parse
);
