//! Catalogue pages: products (search and filters as the API takes them, an
//! edit form for title, price, stock, availability and featured), brands
//! and categories (lists and a create form). Forms become the JSON object a
//! `PATCH`/`POST` would send and go through the API's parsers and the same
//! use cases, so their field errors are the API's.

use super::orders::{query_value, query_without_page};
use super::{
    AdminError, AdminResult, Page, Posted, json_value, json_view, tidy_query, validation_of, view,
};
use crate::api::dto::catalog::{BrandCreate, CategoryCreate, ProductPatch};
use crate::api::error::ApiError;
use crate::api::extract::body::Input;
use crate::api::extract::query::Params;
use crate::cache::Wanted;
use crate::domain::listing::{PageRequest, ProductQuery};
use crate::domain::search::SearchQuery;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;

/// `GET /admin/products`: `q` searches (as `/api/v1/search`), without it
/// the list (as `/api/v1/products`) with its filters.
pub(crate) async fn products(page: Page, req: HttpRequest) -> AdminResult {
    if let Some(tidier) = tidy_query(&req) {
        return Ok(tidier);
    }
    let catalog = &page.services().catalog;
    let q = query_value(&req, "q");
    let body = if q.is_empty() {
        let Params(query) = Params::<ProductQuery>::extract(&req).await?;
        catalog.serve_products(&query, Wanted::Plain).await?.plain()
    } else {
        let Params(query) = Params::<SearchQuery>::extract(&req).await?;
        catalog.serve_search(&query, Wanted::Plain).await?.plain()
    };
    page.render(
        "products.html",
        minijinja::context! {
            found => json_view(body.as_ref())?,
            filter => minijinja::context! {
                q => q,
                brand => query_value(&req, "brand"),
                category => query_value(&req, "category"),
                is_available => query_value(&req, "isAvailable"),
                is_featured => query_value(&req, "isFeatured"),
            },
            query => query_without_page(&req),
        },
    )
}

/// `GET /admin/products/{id}`.
pub(crate) async fn product(page: Page, id: web::Path<String>) -> AdminResult {
    let body = page
        .services()
        .catalog
        .serve_product(&id, Wanted::Plain)
        .await?
        .plain();
    page.render(
        "product.html",
        minijinja::context! {
            product => view(json_value(body.as_ref())?["data"].clone()),
            errors => HashMap::<String, String>::new(),
        },
    )
}

/// A number field as JSON: a number when it reads as one, else the text
/// (so the parser names the field and says what it must be).
fn number(raw: &str) -> Value {
    if let Ok(n) = raw.parse::<u64>() {
        return Value::Number(n.into());
    }
    match raw.parse::<f64>().ok().and_then(Number::from_f64) {
        Some(n) => Value::Number(n),
        None => Value::String(raw.into()),
    }
}

/// `POST /admin/products/{id}`: the edit form, as a PATCH.
pub(crate) async fn save_product(posted: Posted, id: web::Path<String>) -> AdminResult {
    let f = |n: &str| posted.fields.get(n).map(|s| s.trim()).unwrap_or("");
    let mut map = Map::new();
    map.insert("title".into(), Value::String(f("title").into()));
    map.insert("price".into(), number(f("price")));
    map.insert("stock".into(), number(f("stock")));
    map.insert("isAvailable".into(), Value::Bool(f("isAvailable") == "on"));
    map.insert("isFeatured".into(), Value::Bool(f("isFeatured") == "on"));
    let page = &posted.page;
    let catalog = &page.services().catalog;
    match catalog.update_product(&id, ProductPatch::parse(&map)).await {
        Ok(_) => page.done(&format!("/admin/products/{id}"), "Product saved."),
        Err(e) => {
            let (message, errors) = validation_of(ApiError::from(e))?;
            // Show the product as stored, with the values as typed.
            let body = catalog.serve_product(&id, Wanted::Plain).await?.plain();
            let mut product = view(json_value(body.as_ref())?["data"].clone());
            let typed: HashMap<&str, &str> = posted
                .fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            product = minijinja::context! { ..minijinja::Value::from_serialize(&typed), ..product };
            page.render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "product.html",
                minijinja::context! {
                    product => product,
                    errors => errors,
                    message => message,
                    typed => true,
                },
            )
        }
    }
}

/// A create form refused by validation: the message, the error of each
/// field and the values as typed (shown again beside the list).
struct Refused {
    message: String,
    errors: HashMap<String, String>,
    typed: HashMap<String, String>,
}

/// A refused create: the validation error's fields, or the error itself.
fn refused(e: ApiError, typed: HashMap<String, String>) -> Result<Refused, AdminError> {
    let (message, errors) = validation_of(e)?;
    Ok(Refused {
        message,
        errors,
        typed,
    })
}

/// The status of a page with a create form, and the form's context.
fn form_context(failed: Option<Refused>) -> (StatusCode, minijinja::Value) {
    let status = if failed.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let f = failed.unwrap_or(Refused {
        message: String::new(),
        errors: HashMap::new(),
        typed: HashMap::new(),
    });
    let ctx = minijinja::context! {
        message => f.message,
        errors => f.errors,
        typed => f.typed,
    };
    (status, ctx)
}

/// `GET /admin/brands`.
pub(crate) async fn brands(page: Page, req: HttpRequest) -> AdminResult {
    brands_page(page, req, None).await
}

async fn brands_page(page: Page, req: HttpRequest, failed: Option<Refused>) -> AdminResult {
    let Params(paging) = Params::<PageRequest>::extract(&req).await?;
    let body = page
        .services()
        .catalog
        .serve_brands(paging, Wanted::Plain)
        .await?
        .plain();
    let (status, form) = form_context(failed);
    page.render_status(
        status,
        "brands.html",
        minijinja::context! {
            found => json_view(body.as_ref())?,
            query => query_without_page(&req),
            ..form
        },
    )
}

/// The text fields of a create form that were filled in.
fn text_fields(posted: &Posted, names: &[&str]) -> Map<String, Value> {
    names
        .iter()
        .filter_map(|n| {
            posted
                .get(n)
                .map(|v| (n.to_string(), Value::String(v.into())))
        })
        .collect()
}

/// `POST /admin/brands`: as `POST /api/v1/brands`.
pub(crate) async fn create_brand(posted: Posted, req: HttpRequest) -> AdminResult {
    let map = text_fields(&posted, &["id", "title", "description"]);
    let catalog = &posted.page.services().catalog;
    match catalog.create_brand(BrandCreate::parse(&map)).await {
        Ok(c) => posted
            .page
            .done("/admin/brands", format!("Brand {} created.", c.id)),
        Err(e) => {
            let failed = refused(ApiError::from(e), posted.fields)?;
            brands_page(posted.page, req, Some(failed)).await
        }
    }
}

/// `GET /admin/categories`.
pub(crate) async fn categories(page: Page) -> AdminResult {
    categories_page(page, None).await
}

async fn categories_page(page: Page, failed: Option<Refused>) -> AdminResult {
    let body = page
        .services()
        .catalog
        .serve_categories(Wanted::Plain)
        .await?
        .plain();
    let (status, form) = form_context(failed);
    page.render_status(
        status,
        "categories.html",
        minijinja::context! {
            found => json_view(body.as_ref())?,
            ..form
        },
    )
}

/// `POST /admin/categories`: as `POST /api/v1/categories`.
pub(crate) async fn create_category(posted: Posted) -> AdminResult {
    let map = text_fields(&posted, &["id", "title", "description", "parentId"]);
    let catalog = &posted.page.services().catalog;
    match catalog.create_category(CategoryCreate::parse(&map)).await {
        Ok(c) => posted
            .page
            .done("/admin/categories", format!("Category {} created.", c.id)),
        Err(e) => {
            let failed = refused(ApiError::from(e), posted.fields)?;
            categories_page(posted.page, Some(failed)).await
        }
    }
}
