//! Request bodies as the OpenAPI document describes them.
//!
//! These types are never filled from a request: each names the domain parser
//! that reads the JSON object ([`Input::parse`], e.g.
//! [`ProductDraft::parse`]), which collects every field error. They exist to
//! state the contract: fields, types, which are required on create, which
//! may be `null` (to clear), and what each parser takes (lengths, ranges,
//! whole cents, item counts, distinct items, the [`super::patterns`] of ids
//! and text). Unknown fields are refused (`additionalProperties: false`),
//! as the parsers refuse them. What only the store knows (a `brandId` that
//! names no brand) is not a validation error: it is a 404.
//!
//! Fields are `Deserialize`d by nobody; the derive is there so the `serde`
//! attributes (camelCase, deny unknown fields) reach the schema.
#![allow(dead_code)]

use crate::api::extract::body::Input;
use crate::domain::Checked;
use crate::domain::FieldErrors;
use crate::domain::InputMode;
use crate::domain::brand::BrandDraft;
use crate::domain::category::CategoryDraft;
use crate::domain::product::ProductDraft;
use crate::domain::review::ReviewDraft;
use crate::domain::search::Synonyms;
use serde::Deserialize;
use serde_json::Map;
use serde_json::Value;
use utoipa::ToSchema;

/// `POST /products`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"title": "Ergonomic Steel Desk Lamp X200", "price": 129.99, "brandId": "brand-0001", "categoryIds": ["cat-002-01"], "stock": 12})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProductCreate {
    /// Generated when absent.
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    #[schema(required = false, max_items = 20, inline)]
    images: Vec<Url>,
    #[schema(required = false, max_items = 50, inline)]
    keywords: Vec<Keyword>,
    /// Decimal, at most 2 fraction digits.
    #[schema(minimum = 0, maximum = 9999999.99, multiple_of = 0.01)]
    price: f64,
    /// Fraction off the price (0 by default).
    #[schema(required = false, minimum = 0, maximum = 1)]
    discount: f64,
    #[schema(required = false, maximum = 1000000000)]
    stock: u32,
    /// `true` by default.
    #[schema(required = false)]
    is_physical: bool,
    /// `true` by default.
    #[schema(required = false)]
    is_available: bool,
    #[schema(required = false)]
    is_featured: bool,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    brand_id: String,
    #[schema(required = false, schema_with = category_ids)]
    category_ids: Vec<String>,
}

/// `PATCH /products/{id}`: any subset of the fields; none may be `null`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"price": 19.99, "isFeatured": true})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ProductPatch {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    #[schema(required = false, max_items = 20, inline)]
    images: Vec<Url>,
    #[schema(required = false, max_items = 50, inline)]
    keywords: Vec<Keyword>,
    /// Decimal, at most 2 fraction digits.
    #[schema(
        required = false,
        minimum = 0,
        maximum = 9999999.99,
        multiple_of = 0.01
    )]
    price: f64,
    #[schema(required = false, minimum = 0, maximum = 1)]
    discount: f64,
    #[schema(required = false, maximum = 1000000000)]
    stock: u32,
    #[schema(required = false)]
    is_physical: bool,
    #[schema(required = false)]
    is_available: bool,
    #[schema(required = false)]
    is_featured: bool,
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    brand_id: String,
    #[schema(required = false, schema_with = category_ids)]
    category_ids: Vec<String>,
}

/// `POST /products/{id}/reviews` (the product comes from the URL).
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"userId": "user-00001", "rating": 5, "text": "Bright and steady."})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct ReviewCreate {
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    /// An existing user (a 404 otherwise). Staff name anyone; a customer
    /// may leave it out, or send their own id (another is a 403).
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    user_id: String,
    #[schema(minimum = 1, maximum = 5)]
    rating: u8,
    #[schema(
        required = false,
        max_length = 5000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    text: String,
}

/// `POST /brands`.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"title": "Lumen Works", "description": "Lamps since 1987.", "logo": null})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BrandCreate {
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    /// An image URL; `null`: none.
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = r"^([Hh][Tt][Tt][Pp][Ss]?:[^\s\x00-\x1F\x7F-\x9F]*|[^:/?#\s\x00-\x1F\x7F-\x9F]+([/?#][^\s\x00-\x1F\x7F-\x9F]*)?|[/?#][^\s\x00-\x1F\x7F-\x9F]*)$"
    )]
    logo: Option<String>,
}

/// `PATCH /brands/{id}`: `logo: null` removes the logo.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"description": "Lamps and lights since 1987."})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BrandPatch {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    /// An image URL; `null`: none.
    #[schema(
        min_length = 1,
        max_length = 2048,
        pattern = r"^([Hh][Tt][Tt][Pp][Ss]?:[^\s\x00-\x1F\x7F-\x9F]*|[^:/?#\s\x00-\x1F\x7F-\x9F]+([/?#][^\s\x00-\x1F\x7F-\x9F]*)?|[/?#][^\s\x00-\x1F\x7F-\x9F]*)$"
    )]
    logo: Option<String>,
}

/// `POST /categories`: `parentId` absent or `null` makes a root.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"title": "Desk Lamps", "parentId": "cat-002"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CategoryCreate {
    #[schema(required = false, pattern = "^[A-Za-z0-9_-]{1,64}$")]
    id: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    parent_id: Option<String>,
}

/// `PATCH /categories/{id}`: `parentId: null` makes it a root.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"title": "Desk and Table Lamps"})))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct CategoryPatch {
    #[schema(
        required = false,
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
    )]
    title: String,
    #[schema(
        required = false,
        max_length = 10000,
        pattern = r"^[^\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]*$"
    )]
    description: String,
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    parent_id: Option<String>,
}

/// `PUT /search/synonyms`: every group is 2–20 single words of letters and
/// digits (case does not matter); any word of a group also finds the others.
#[derive(Deserialize, ToSchema)]
#[schema(examples(json!({"groups": [["sofa", "couch"], ["tv", "television"]]})))]
#[serde(deny_unknown_fields)]
pub(crate) struct SynonymGroups {
    #[schema(schema_with = synonym_groups)]
    groups: Vec<Vec<String>>,
}

fn synonym_groups() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let word = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(
            "Letters and digits of any script; the pattern names the ASCII ones.",
        ))
        .pattern(Some(super::patterns::WORD));
    let group = ArrayBuilder::new()
        .items(word)
        .min_items(Some(2))
        .max_items(Some(Synonyms::MAX_TERMS));
    ArrayBuilder::new()
        .items(group)
        .max_items(Some(Synonyms::MAX_GROUPS))
        .build()
}

/// An image URL (`patterns::LINK`).
#[derive(Deserialize, ToSchema)]
#[schema(
    min_length = 1,
    max_length = 2048,
    pattern = r"^([Hh][Tt][Tt][Pp][Ss]?:[^\s\x00-\x1F\x7F-\x9F]*|[^:/?#\s\x00-\x1F\x7F-\x9F]+([/?#][^\s\x00-\x1F\x7F-\x9F]*)?|[/?#][^\s\x00-\x1F\x7F-\x9F]*)$"
)]
struct Url(String);

/// A search keyword.
#[derive(Deserialize, ToSchema)]
#[schema(
    min_length = 1,
    max_length = 64,
    pattern = r"^[^\x00-\x1F\x7F-\x9F]*[^\s\x00-\x1F\x7F-\x9F][^\x00-\x1F\x7F-\x9F]*$"
)]
struct Keyword(String);

/// `categoryIds`: distinct existing category ids.
fn category_ids() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    let id = ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(super::patterns::ID));
    ArrayBuilder::new()
        .description(Some("Distinct existing category ids."))
        .items(id)
        .max_items(Some(crate::domain::limits::CATEGORIES_PER_PRODUCT))
        .unique_items(true)
        .build()
}

impl Input for ProductCreate {
    type Parsed = Checked<ProductDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        ProductDraft::parse(body, InputMode::Create)
    }
}

impl Input for ProductPatch {
    type Parsed = Checked<ProductDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        ProductDraft::parse(body, InputMode::Patch)
    }
}

impl Input for ReviewCreate {
    type Parsed = Checked<ReviewDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        ReviewDraft::parse(body, InputMode::Create)
    }
}

impl Input for BrandCreate {
    type Parsed = Checked<BrandDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        BrandDraft::parse(body, InputMode::Create)
    }
}

impl Input for BrandPatch {
    type Parsed = Checked<BrandDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        BrandDraft::parse(body, InputMode::Patch)
    }
}

impl Input for CategoryCreate {
    type Parsed = Checked<CategoryDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        CategoryDraft::parse(body, InputMode::Create)
    }
}

impl Input for CategoryPatch {
    type Parsed = Checked<CategoryDraft>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        CategoryDraft::parse(body, InputMode::Patch)
    }
}

impl Input for SynonymGroups {
    type Parsed = Result<Synonyms, FieldErrors>;
    fn parse(body: &Map<String, Value>) -> Self::Parsed {
        // The parser takes a value; the body is a small admin document.
        Synonyms::parse(&Value::Object(body.clone()))
    }
}
