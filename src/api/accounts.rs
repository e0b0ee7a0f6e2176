//! Accounts over HTTP: sign-up, sign-in, token refresh and logout, the
//! signed-in account (`/me`), email verification and password reset, and
//! the admin's users and API keys. Each handler parses its input with the
//! domain's parser, calls one `accounts` use case and wraps its answer.
//!
//! Answers never carry a password hash, and a refresh token or API key
//! secret only in the answer that made it.

use super::auth::Principal;
use super::error::ApiError;
use super::extract::{Body, Input, Query};
use super::state::ApiState;
use crate::accounts::{CreatedKey, TokenPair};
use crate::domain::FieldErrors;
use crate::domain::account::AccountFilter;
use crate::domain::account::{
    self, Account, AccountAdminPatch, ApiKey, Credentials, Email, NewApiKey, PasswordChange,
    ProfilePatch, Registration, ResetConfirmation, Role,
};
use crate::domain::listing::PageRequest;
use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::future::{Ready, ready};
use utoipa::ToSchema;

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserView {
    id: String,
    email: String,
    name: String,
    phone: Option<String>,
    #[schema(value_type = String, examples("customer", "staff", "admin"))]
    role: Role,
    email_verified: bool,
    banned: bool,
    /// False for an account an import brought that nobody has claimed yet
    /// (it gets a password through a password reset).
    has_password: bool,
    created_at: String,
    updated_at: String,
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
    access_token: String,
    #[schema(examples("Bearer"))]
    token_type: &'static str,
    /// Seconds the access token is valid (900).
    expires_in: u64,
    /// Single use: `POST /auth/refresh` answers a new one and this one
    /// stops working; using it again ends the session.
    refresh_token: String,
    /// When the refresh token expires unless used (30 days sliding, 90 days
    /// at most from sign-in).
    refresh_expires_at: String,
    user: UserView,
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
    message: &'static str,
}

/// An API key as the API shows it (never its secret).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyView {
    id: String,
    name: String,
    #[schema(value_type = String, examples("staff", "admin"))]
    role: Role,
    created_at: String,
    last_used_at: Option<String>,
    revoked_at: Option<String>,
    /// Only in the answer that created the key: `X-API-Key: <key>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    key: Option<String>,
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

#[derive(Serialize)]
struct Data<T> {
    data: T,
}

fn data<T: Serialize>(status: StatusCode, body: T) -> HttpResponse {
    HttpResponse::build(status).json(Data { data: body })
}

fn accepted() -> HttpResponse {
    data(
        StatusCode::ACCEPTED,
        Accepted {
            message: "Accepted. If the address can receive mail, a message is on its way.",
        },
    )
}

fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// The signed-in account of an `Access::Account` route.
fn me_of(p: &Principal) -> Result<(&crate::domain::Id, &crate::domain::Id), ApiError> {
    p.account().ok_or_else(|| ApiError::Forbidden {
        code: "forbidden",
        message: "this needs a signed-in account's access token".into(),
    })
}

// ---- request bodies: documented shapes, parsed by the domain --------------------------------

macro_rules! input {
    ($schema:ident, $parsed:ty, $parse:expr) => {
        impl Input for $schema {
            type Parsed = Result<$parsed, FieldErrors>;
            fn parse(body: &Map<String, Value>) -> Self::Parsed {
                $parse(body)
            }
        }
    };
}

/// `POST /auth/register`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com", "password": "correct horse battery", "name": "Ada"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct RegisterBody {
    #[schema(max_length = 254)]
    email: String,
    /// 8–128 characters.
    #[schema(min_length = 8, max_length = 128)]
    password: String,
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(max_length = 32)]
    phone: Option<String>,
}
input!(RegisterBody, Registration, Registration::parse);

/// `POST /auth/login`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com", "password": "correct horse battery"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct LoginBody {
    #[schema(max_length = 254)]
    email: String,
    #[schema(min_length = 1, max_length = 128)]
    password: String,
}
input!(LoginBody, Credentials, Credentials::parse);

/// `POST /auth/refresh`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"refreshToken": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct RefreshBody {
    #[schema(min_length = 1, max_length = 512)]
    refresh_token: String,
}
input!(RefreshBody, String, account::parse_refresh);

/// `POST /auth/password-reset`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"email": "ada@example.com"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ResetRequestBody {
    #[schema(max_length = 254)]
    email: String,
}
input!(ResetRequestBody, Email, account::parse_email_only);

/// `POST /auth/password-reset/confirm`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"token": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n", "password": "a new passphrase"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ResetConfirmBody {
    /// From the mailed link.
    #[schema(min_length = 1, max_length = 512)]
    token: String,
    #[schema(min_length = 8, max_length = 128)]
    password: String,
}
input!(
    ResetConfirmBody,
    ResetConfirmation,
    ResetConfirmation::parse
);

/// `POST /auth/verify-email`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"token": "kJ3x9Qe0n1m2b3v4c5x6z7a8s9d0f1g2h3j4k5l6m7n"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct VerifyBody {
    /// From the mailed link.
    #[schema(min_length = 1, max_length = 512)]
    token: String,
}
input!(VerifyBody, String, account::parse_token_only);

/// `PATCH /me`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "Ada Lovelace", "phone": "+44 20 7946 0000"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ProfileBody {
    #[schema(min_length = 1, max_length = 200)]
    name: Option<String>,
    /// `null` clears it.
    #[schema(max_length = 32)]
    phone: Option<String>,
}
input!(ProfileBody, ProfilePatch, ProfilePatch::parse);

/// `POST /me/password`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"currentPassword": "correct horse battery", "newPassword": "a new passphrase"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct PasswordBody {
    #[schema(min_length = 1, max_length = 128)]
    current_password: String,
    #[schema(min_length = 8, max_length = 128)]
    new_password: String,
}
input!(PasswordBody, PasswordChange, PasswordChange::parse);

/// `PATCH /admin/users/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"role": "staff", "banned": false})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct UserAdminBody {
    #[schema(value_type = Option<String>, examples("customer", "staff", "admin"))]
    role: Option<String>,
    banned: Option<bool>,
}
input!(UserAdminBody, AccountAdminPatch, AccountAdminPatch::parse);

/// `POST /admin/api-keys`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"name": "warehouse sync", "role": "staff"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[allow(dead_code)]
pub(crate) struct ApiKeyBody {
    #[schema(min_length = 1, max_length = 200)]
    name: String,
    #[schema(value_type = String, examples("staff", "admin"))]
    role: String,
}
input!(ApiKeyBody, NewApiKey, NewApiKey::parse);

/// `role`, `email` (a prefix), `page`, `limit` of `GET /admin/users`.
pub(crate) struct UsersQuery(pub AccountFilter, pub PageRequest);

impl FromRequest for UsersQuery {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready((|| {
            let q = Query::parse(req)?;
            let mut errors = FieldErrors::new();
            let page = q.page(&mut errors)?;
            let role = match q.get("role") {
                None => None,
                Some(r) => match Role::parse(r) {
                    Some(r) => Some(r),
                    None => {
                        errors.push("role", "must be one of customer, staff, admin");
                        None
                    }
                },
            };
            let email_prefix = q.get("email").map(|e| e.trim().to_lowercase());
            if email_prefix
                .as_ref()
                .is_some_and(|e| e.chars().count() > 254)
            {
                errors.push("email", "must be at most 254 characters");
            }
            if !errors.is_empty() {
                return Err(ApiError::validation(errors));
            }
            Ok(UsersQuery(AccountFilter { role, email_prefix }, page))
        })())
    }
}

// ---- handlers -------------------------------------------------------------------------------

pub(crate) async fn register(
    state: web::Data<ApiState>,
    Body(reg, _): Body<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let reg = reg.map_err(ApiError::validation)?;
    state.limits.check_auth_email(reg.email.as_str())?;
    state.services.accounts.register(reg).await?;
    Ok(accepted())
}

pub(crate) async fn login(
    state: web::Data<ApiState>,
    cart: super::orders::CartToken,
    Body(creds, _): Body<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let creds = creds.map_err(ApiError::validation)?;
    state.limits.check_auth_email(creds.email.as_str())?;
    let pair = state.services.accounts.login(creds).await?;
    // A guest's cart becomes (part of) the account's.
    if let Some(token) = cart.0 {
        state
            .services
            .orders
            .merge_guest_cart(super::orders::guest(&token), &pair.account.id)
            .await?;
    }
    Ok(data(StatusCode::OK, Tokens::from(pair)))
}

pub(crate) async fn refresh(
    state: web::Data<ApiState>,
    Body(token, _): Body<RefreshBody>,
) -> Result<HttpResponse, ApiError> {
    let token = token.map_err(ApiError::validation)?;
    let pair = state.services.accounts.refresh(token).await?;
    Ok(data(StatusCode::OK, Tokens::from(pair)))
}

pub(crate) async fn logout(
    state: web::Data<ApiState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let (_, session) = me_of(&principal)?;
    state.services.accounts.logout(session).await?;
    Ok(no_content())
}

pub(crate) async fn me(
    state: web::Data<ApiState>,
    principal: Principal,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = me_of(&principal)?;
    let account = state.services.accounts.account(id.as_str())?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn update_me(
    state: web::Data<ApiState>,
    principal: Principal,
    Body(patch, _): Body<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, _) = me_of(&principal)?;
    let patch = patch.map_err(ApiError::validation)?;
    let account = state.services.accounts.update_profile(id, patch).await?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn change_password(
    state: web::Data<ApiState>,
    principal: Principal,
    Body(change, _): Body<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, session) = me_of(&principal)?;
    let change = change.map_err(ApiError::validation)?;
    state
        .services
        .accounts
        .change_password(id, session, change)
        .await?;
    Ok(no_content())
}

pub(crate) async fn request_reset(
    state: web::Data<ApiState>,
    Body(email, _): Body<ResetRequestBody>,
) -> Result<HttpResponse, ApiError> {
    let email = email.map_err(ApiError::validation)?;
    state.limits.check_auth_email(email.as_str())?;
    state.services.accounts.request_reset(email).await?;
    Ok(accepted())
}

pub(crate) async fn confirm_reset(
    state: web::Data<ApiState>,
    Body(c, _): Body<ResetConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let c = c.map_err(ApiError::validation)?;
    state.services.accounts.confirm_reset(c).await?;
    Ok(no_content())
}

pub(crate) async fn verify_email(
    state: web::Data<ApiState>,
    Body(token, _): Body<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let token = token.map_err(ApiError::validation)?;
    state.services.accounts.verify_email(token).await?;
    Ok(no_content())
}

#[derive(Serialize)]
struct UserPage {
    data: Vec<UserView>,
    meta: crate::domain::listing::PageMeta,
}

pub(crate) async fn list_users(
    state: web::Data<ApiState>,
    UsersQuery(filter, page): UsersQuery,
) -> Result<HttpResponse, ApiError> {
    let found = state
        .services
        .accounts
        .list(&filter, page.offset(), page.limit() as usize)?;
    Ok(HttpResponse::Ok().json(UserPage {
        data: found.items.into_iter().map(UserView::from).collect(),
        meta: page.meta(found.total),
    }))
}

pub(crate) async fn get_user(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let account = state.services.accounts.account(&id)?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn administer_user(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Body(patch, _): Body<UserAdminBody>,
) -> Result<HttpResponse, ApiError> {
    let patch = patch.map_err(ApiError::validation)?;
    let account = state.services.accounts.administer(&id, patch).await?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn create_key(
    state: web::Data<ApiState>,
    Body(new, _): Body<ApiKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let new = new.map_err(ApiError::validation)?;
    let created = state.services.accounts.create_key(new).await?;
    let location = format!("/api/v1/admin/api-keys/{}", created.key.id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, location))
        .json(Data {
            data: KeyView::from(created),
        }))
}

pub(crate) async fn list_keys(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let keys: Vec<KeyView> = state
        .services
        .accounts
        .keys()?
        .into_iter()
        .map(KeyView::from)
        .collect();
    Ok(data(StatusCode::OK, keys))
}

pub(crate) async fn get_key(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = state.services.accounts.key(&id)?;
    Ok(data(StatusCode::OK, KeyView::from(key)))
}

pub(crate) async fn revoke_key(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.services.accounts.revoke_key(&id).await?;
    Ok(no_content())
}
