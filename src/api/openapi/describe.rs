//! What routes and extractors tell the contract: a handler's inputs
//! ([`Inputs`], gathered from its extractor types through [`Describe`] by
//! [`inputs_of`]), a route's success [`Answer`], the named [`Schemas`] the
//! document collects, and the parameter builders extractors describe
//! themselves with.

use crate::domain::listing::PageRequest;
use actix_web::HttpRequest;
use actix_web::web;
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::Ref;
use utoipa::openapi::RefOr;
use utoipa::openapi::Required;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::schema::ArrayBuilder;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::Type;

/// Adds a schema (and what it refers to) to the document's components and
/// returns a reference to it, or returns an inline schema.
pub(crate) type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

/// What a route answers on success.
#[derive(Clone, Copy)]
pub enum Answer {
    /// A JSON body with this status.
    Json(u16, SchemaFn),
    /// A JSON body, 200 when all is well and 503 (same shape) otherwise.
    Probe(SchemaFn),
    /// No body (204; 308 for a redirect).
    Empty(u16),
    /// 200 with a non-JSON body of this media type.
    Text(&'static str),
    /// 200 with an image variant (AVIF, WebP or JPEG), or 304.
    Image,
}

/// The named schemas of the document, gathered while building it.
#[derive(Default)]
pub struct Schemas(pub(crate) BTreeMap<String, RefOr<Schema>>);

impl Schemas {
    /// `T` and every schema it refers to; returns a `$ref` to `T`.
    pub(crate) fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
        let mut found = Vec::new();
        T::schemas(&mut found);
        for (name, schema) in found {
            self.0.entry(name).or_insert(schema);
        }
        let name = T::name().to_string();
        self.0.entry(name.clone()).or_insert_with(T::schema);
        Ref::from_schema_name(name).into()
    }

    /// Registers `schema` as `name`; returns a `$ref` to it.
    pub(crate) fn named(&mut self, name: &str, schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
        self.0.insert(name.to_string(), schema.into());
        Ref::from_schema_name(name).into()
    }

    /// `{"data": T}` as `name`.
    pub(crate) fn data_of<T: ToSchema>(&mut self, name: &str) -> RefOr<Schema> {
        let item = self.of::<T>();
        self.named(name, object().property("data", item).required("data"))
    }

    /// `{"data": [T], "meta": PageMeta}` as `name`.
    pub(crate) fn page_of<T: ToSchema>(&mut self, name: &str) -> RefOr<Schema> {
        let item = self.of::<T>();
        let meta = self.of::<PageMeta>();
        self.named(
            name,
            object()
                .property("data", ArrayBuilder::new().items(item))
                .property("meta", meta)
                .required("data")
                .required("meta"),
        )
    }
}

pub(crate) fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// What a handler's extractors take from the request, for the document.
#[derive(Default)]
pub(crate) struct Inputs {
    /// Query parameters (parsed: 400 when they do not decode, 422 out of range).
    pub query: Vec<Parameter>,
    /// The request body's schema.
    pub body: Option<SchemaFn>,
    /// Request headers the handler reads (400 when malformed or, if
    /// required, missing).
    pub headers: Vec<Parameter>,
    /// The body is an image upload (multipart or raw `image/*`), not JSON.
    pub upload: bool,
}

/// An extractor's contribution to its route's documented inputs.
pub(crate) trait Describe {
    fn describe(_inputs: &mut Inputs) {}
}

impl<T: ?Sized> Describe for web::Data<T> {}

impl<T> Describe for web::Path<T> {}

impl Describe for HttpRequest {}

macro_rules! describe_tuple {
    ($($t:ident),*) => {
        impl<$($t: Describe),*> Describe for ($($t,)*) {
            #[allow(unused_variables)]
            fn describe(inputs: &mut Inputs) {
                $( $t::describe(inputs); )*
            }
        }
    };
}

describe_tuple!();

describe_tuple!(A);

describe_tuple!(A, B);

describe_tuple!(A, B, C);

describe_tuple!(A, B, C, D);

describe_tuple!(A, B, C, D, E);

/// The documented inputs of a handler, from its extractor types.
pub(crate) fn inputs_of<F, Args>(_handler: F) -> Inputs
where
    F: actix_web::Handler<Args>,
    Args: Describe,
{
    let mut inputs = Inputs::default();
    Args::describe(&mut inputs);
    inputs
}

pub(crate) fn query_param(
    name: &str,
    description: &str,
    schema: impl Into<RefOr<Schema>>,
) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Query;
    p.required = Required::False;
    p.description = Some(description.to_string());
    p.schema = Some(schema.into());
    p
}

pub(crate) fn integer(min: u32, max: u32, default: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
        .default(Some(default.into()))
}

pub(crate) fn page_params() -> [Parameter; 2] {
    [
        query_param(
            "page",
            "Page number; a page past the end is empty",
            integer(1, PageRequest::MAX_PAGE, 1),
        ),
        query_param(
            "limit",
            "Items per page",
            integer(1, PageRequest::MAX_LIMIT, PageRequest::DEFAULT_LIMIT),
        ),
    ]
}

/// An amount (`domain::Price`): 0 or more, whole cents.
pub(crate) fn price_param(name: &str, description: &str) -> Parameter {
    query_param(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(9_999_999.99))
            .multiple_of(Some(0.01)),
    )
}

pub(crate) fn filter_params() -> [Parameter; 5] {
    let id = |name, description| {
        query_param(
            name,
            description,
            ObjectBuilder::new().schema_type(Type::String),
        )
    };
    [
        id(
            "category",
            "A category id; includes its descendants (unknown: no results)",
        ),
        id("brand", "A brand id (unknown: no results)"),
        query_param(
            "isAvailable",
            "Only products that are (or are not) available",
            ObjectBuilder::new().schema_type(Type::Boolean),
        ),
        price_param("minPrice", "Lowest price, inclusive"),
        price_param("maxPrice", "Highest price, inclusive"),
    ]
}

pub(crate) fn sort_param<const N: usize>(names: [&'static str; N]) -> Parameter {
    query_param(
        "sort",
        "Order; every order ends with id ascending",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .default(Some(names[0].into())),
    )
}

pub(crate) fn header_param(name: &str, description: &str) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Header;
    p.required = Required::False;
    p.description = Some(description.to_string());
    p.schema = Some(ObjectBuilder::new().schema_type(Type::String).into());
    p
}

/// The `meta` of every paged answer (`domain::listing::PageMeta`, which
/// stays free of schema code).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub(crate) struct PageMeta {
    #[schema(minimum = 1)]
    page: u32,
    #[schema(minimum = 1)]
    limit: u32,
    total: u64,
    total_pages: u64,
    has_next: bool,
    has_prev: bool,
}
