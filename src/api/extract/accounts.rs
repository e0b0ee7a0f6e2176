//! The accounts' query parameters (the admin's user list).

use crate::api::error::ApiError;
use crate::api::extract::query::{Query, QueryParams};
use crate::api::openapi::describe::Inputs;
use crate::api::openapi::describe::page_params;
use crate::api::openapi::describe::query_param;
use crate::domain::FieldErrors;
use crate::domain::account::AccountFilter;
use crate::domain::account::Role;
use crate::domain::listing::PageRequest;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Type;

/// `role`, `email` (a prefix), `page`, `limit` of `GET /admin/users`.
pub(crate) struct UsersQuery(pub AccountFilter, pub PageRequest);

impl QueryParams for UsersQuery {
    fn read(q: &Query, errors: &mut FieldErrors) -> Result<Self, ApiError> {
        let page = q.page(errors)?;
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
        Ok(UsersQuery(AccountFilter { role, email_prefix }, page))
    }

    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "role",
            "Only accounts with this role",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(["customer", "staff", "admin"])),
        ));
        inputs.query.push(query_param(
            "email",
            "Only accounts whose email starts with this (case-insensitive)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(254)),
        ));
        inputs.query.extend(page_params());
    }
}
