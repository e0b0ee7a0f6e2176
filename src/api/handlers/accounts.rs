//! Accounts over HTTP: sign-up, sign-in, token refresh and logout, the
//! signed-in account (`/me`), email verification and password reset, and
//! the admin's users and API keys. Each handler parses its input with the
//! domain's parser, calls one `accounts` use case and wraps its answer.
//!
//! Answers never carry a password hash, and a refresh token or API key
//! secret only in the answer that made it.

use crate::api::dto::Data;
use crate::api::dto::accounts::ApiKeyBody;
use crate::api::dto::accounts::KeyView;
use crate::api::dto::accounts::LoginBody;
use crate::api::dto::accounts::PasswordBody;
use crate::api::dto::accounts::ProfileBody;
use crate::api::dto::accounts::RefreshBody;
use crate::api::dto::accounts::RegisterBody;
use crate::api::dto::accounts::ResetConfirmBody;
use crate::api::dto::accounts::ResetRequestBody;
use crate::api::dto::accounts::Tokens;
use crate::api::dto::accounts::UserAdminBody;
use crate::api::dto::accounts::UserPage;
use crate::api::dto::accounts::UserView;
use crate::api::dto::accounts::VerifyBody;
use crate::api::dto::accounts::accepted;
use crate::api::dto::data;
use crate::api::dto::no_content;
use crate::api::error::ApiError;
use crate::api::extract::accounts::UsersQuery;
use crate::api::extract::body::Body;
use crate::api::extract::principal::Me;
use crate::api::extract::query::Params;
use crate::api::state::ApiState;
use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::web;

// ---- handlers -------------------------------------------------------------------------------

pub(crate) async fn register(
    state: web::Data<ApiState>,
    Body(reg, _): Body<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let reg = reg.map_err(ApiError::validation)?;
    state.limits.check_register_email(reg.email.as_str())?;
    state.services.accounts.register(reg).await?;
    Ok(accepted())
}

pub(crate) async fn login(
    req: actix_web::HttpRequest,
    state: web::Data<ApiState>,
    cart: crate::api::extract::orders::CartToken,
    Body(creds, _): Body<LoginBody>,
) -> Result<HttpResponse, ApiError> {
    let creds = creds.map_err(ApiError::validation)?;
    let email = creds.email.as_str().to_string();
    let wait = state.limits.sign_in_gate(&req, &email)?;
    tokio::time::sleep(wait).await;
    let pair = match state.services.accounts.login(creds).await {
        Ok(pair) => {
            state.limits.sign_in_cleared(&email);
            pair
        }
        Err(e) => {
            if matches!(e, crate::accounts::AccountsError::InvalidCredentials) {
                state.limits.sign_in_failed(&req, &email);
            }
            return Err(e.into());
        }
    };
    // A guest's cart becomes (part of) the account's.
    if let Some(token) = cart.0 {
        state
            .services
            .orders
            .merge_guest_cart(crate::api::extract::orders::guest(&token), &pair.account.id)
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

pub(crate) async fn logout(state: web::Data<ApiState>, me: Me) -> Result<HttpResponse, ApiError> {
    state.services.accounts.logout(&me.session).await?;
    Ok(no_content())
}

pub(crate) async fn me(state: web::Data<ApiState>, me: Me) -> Result<HttpResponse, ApiError> {
    let id = &me.id;
    let account = state.services.accounts.account(id.as_str())?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn update_me(
    state: web::Data<ApiState>,
    me: Me,
    Body(patch, _): Body<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let id = &me.id;
    let patch = patch.map_err(ApiError::validation)?;
    let account = state.services.accounts.update_profile(id, patch).await?;
    Ok(data(StatusCode::OK, UserView::from(account)))
}

pub(crate) async fn change_password(
    state: web::Data<ApiState>,
    me: Me,
    Body(change, _): Body<PasswordBody>,
) -> Result<HttpResponse, ApiError> {
    let (id, session) = (&me.id, &me.session);
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
    state.limits.check_reset_email(email.as_str())?;
    state.services.accounts.request_reset(email).await?;
    Ok(accepted())
}

pub(crate) async fn confirm_reset(
    state: web::Data<ApiState>,
    Body(c, _): Body<ResetConfirmBody>,
) -> Result<HttpResponse, ApiError> {
    let c = c.map_err(ApiError::validation)?;
    let email = state.services.accounts.confirm_reset(c).await?;
    // A successful reset lifts the account's sign-in slowdown.
    state.limits.sign_in_cleared(email.as_str());
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

pub(crate) async fn list_users(
    state: web::Data<ApiState>,
    Params(UsersQuery(filter, page)): Params<UsersQuery>,
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
