//! The API contract: the OpenAPI 3.1 document, built from the route table.
//!
//! Every documented route of [`ROUTES`] becomes one operation. What it says
//! comes from the route and nowhere else:
//! - path parameters from the pattern; query parameters and the request body
//!   from the handler's extractor types ([`Describe`], via [`inputs_of`]);
//! - the success answer from the route's [`Answer`]; the error statuses from
//!   what the route can meet: 401 for a non-public route, 400 for any query or
//!   body, 413/422 for a body, 422 for checked query values, 404 for a route
//!   with a path parameter, 304 for a cacheable read, 429 for a rate-limited
//!   route, plus the route's own (409, 503), each with the error envelope;
//! - headers from the middleware the route runs through (`ETag`,
//!   `Cache-Control`, `Location`, `WWW-Authenticate`, `Retry-After`,
//!   `X-Request-Id`, and `X-RateLimit-*` on every answer of a rate-limited
//!   route but 401, which is refused before its rate limit counts it).
//!
//! Response bodies are described by the rendering structs themselves
//! (`catalog::json`, `catalog::search`, `ToSchema`); this module adds the
//! envelopes and the few shapes whose types live where utoipa does not belong
//! (`domain::listing::PageMeta`, analytics, synonyms).

use super::auth::Principal;
use super::dto::ID_PATTERN;
use super::extract::{Body, Input, ListQuery, PageQuery, SearchParams};
use super::routes::{Access, ROUTES, RateLimit, Route, Verb};
use crate::config::cache::{CacheClass, Ttls};
use crate::domain::listing::{PageRequest, ProductSort};
use crate::domain::search::{MAX_QUERY_CHARS, SearchSort};
use actix_web::{HttpRequest, web};
use std::collections::BTreeMap;
use utoipa::ToSchema;
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{
    Components, Content, Header, Info, OpenApi, PathItem, Paths, Ref, RefOr, Required, Tag,
};

/// Adds a schema (and what it refers to) to the document's components and
/// returns a reference to it, or returns an inline schema.
pub type SchemaFn = fn(&mut Schemas) -> RefOr<Schema>;

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
}

/// The named schemas of the document, gathered while building it.
#[derive(Default)]
pub struct Schemas(BTreeMap<String, RefOr<Schema>>);

impl Schemas {
    /// `T` and every schema it refers to; returns a `$ref` to `T`.
    pub fn of<T: ToSchema>(&mut self) -> RefOr<Schema> {
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
    fn data_of<T: ToSchema>(&mut self, name: &str) -> RefOr<Schema> {
        let item = self.of::<T>();
        self.named(name, object().property("data", item).required("data"))
    }

    /// `{"data": [T], "meta": PageMeta}` as `name`.
    fn page_of<T: ToSchema>(&mut self, name: &str) -> RefOr<Schema> {
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

fn object() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Object)
}

/// What a handler's extractors take from the request, for the document.
#[derive(Default)]
pub struct Inputs {
    /// Query parameters (parsed: 400 when they do not decode, 422 out of range).
    pub query: Vec<Parameter>,
    /// The request body's schema.
    pub body: Option<SchemaFn>,
    /// Request headers the handler reads (400 when malformed or, if
    /// required, missing).
    pub headers: Vec<Parameter>,
}

/// An extractor's contribution to its route's documented inputs.
pub(crate) trait Describe {
    fn describe(_inputs: &mut Inputs) {}
}

impl<T: ?Sized> Describe for web::Data<T> {}
impl<T> Describe for web::Path<T> {}
impl Describe for HttpRequest {}
impl Describe for Principal {}
/// `Accept-Encoding`: standard content negotiation, not an API parameter.
impl Describe for crate::api::extract::Wants {}

impl<T: Input + 'static> Describe for Body<T> {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(Schemas::of::<T>);
    }
}

impl Describe for crate::api::accounts::UsersQuery {
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

impl Describe for crate::api::jobs::JobsQuery {
    fn describe(inputs: &mut Inputs) {
        let text = |name, description| {
            query_param(
                name,
                description,
                ObjectBuilder::new().schema_type(Type::String),
            )
        };
        inputs.query.push(text(
            "queue",
            "Only this queue (emails, notifications, maintenance)",
        ));
        inputs.query.push(query_param(
            "state",
            "Only jobs in this state",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(crate::domain::job::JobState::ALL.map(|s| s.as_str()))),
        ));
        inputs.query.push(query_param(
            "kind",
            "Only jobs of this kind (email, prune, noop)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64)),
        ));
        inputs.query.extend(page_params());
    }
}

impl Describe for crate::api::orders::CartToken {
    fn describe(inputs: &mut Inputs) {
        inputs.headers.push(header_param(
            "X-Cart-Token",
            "A guest's cart: the token an earlier cart answer gave (signed-in accounts need none)",
        ));
    }
}

impl Describe for crate::api::orders::IdempotencyKey {
    fn describe(inputs: &mut Inputs) {
        let mut p = header_param(
            "Idempotency-Key",
            "Unique per order attempt (e.g. a UUID); a retry with the same key and body answers the same order",
        );
        p.required = Required::True;
        p.schema = Some(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(255))
                .pattern(Some("^[!-~]+$"))
                .into(),
        );
        inputs.headers.push(p);
    }
}

impl Describe for crate::api::orders::LinkQuery {
    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "token",
            "The signature from a guest's order link (mailed with the confirmation)",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64)),
        ));
    }
}

impl Describe for crate::api::orders::WebhookBody {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(Schemas::of::<crate::api::orders::PaymentEventBody>);
        inputs.headers.push(header_param(
            "X-Payment-Signature",
            "t=<unix seconds>,v1=<hex HMAC-SHA256 of \"t.body\" with the webhook secret>",
        ));
    }
}

impl Describe for crate::api::orders::OrdersQuery {
    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "status",
            "Only orders in this status",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(
                    crate::domain::order::OrderStatus::ALL.map(|s| s.as_str()),
                )),
        ));
        inputs.query.push(query_param(
            "isPaid",
            "Only paid (true) or unpaid (false) orders",
            ObjectBuilder::new().schema_type(Type::Boolean),
        ));
        for (name, what) in [
            ("from", "Created at or after (RFC 3339)"),
            ("to", "Created before (RFC 3339)"),
        ] {
            inputs.query.push(query_param(
                name,
                what,
                ObjectBuilder::new().schema_type(Type::String).format(Some(
                    utoipa::openapi::SchemaFormat::KnownFormat(
                        utoipa::openapi::KnownFormat::DateTime,
                    ),
                )),
            ));
        }
        inputs.query.push(query_param(
            "userId",
            "Only this account's orders",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(64))
                .pattern(Some("^[A-Za-z0-9_-]+$")),
        ));
        inputs.query.push(query_param(
            "q",
            "An order number (1042 or #1042) or part of the email",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(254)),
        ));
        inputs.query.extend(page_params());
    }
}

impl Describe for PageQuery {
    fn describe(inputs: &mut Inputs) {
        inputs.query.extend(page_params());
    }
}

impl Describe for ListQuery {
    fn describe(inputs: &mut Inputs) {
        inputs.query.extend(page_params());
        inputs.query.extend(filter_params());
        inputs
            .query
            .push(sort_param(ProductSort::ALL.map(ProductSort::as_str)));
    }
}

impl Describe for SearchParams {
    fn describe(inputs: &mut Inputs) {
        inputs.query.push(query_param(
            "q",
            "Words to find (typos and prefixes allowed); empty browses with the filters",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(MAX_QUERY_CHARS)),
        ));
        inputs.query.extend(page_params());
        inputs.query.extend(filter_params());
        inputs
            .query
            .push(sort_param(SearchSort::ALL.map(SearchSort::as_str)));
    }
}

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

fn query_param(name: &str, description: &str, schema: impl Into<RefOr<Schema>>) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Query;
    p.required = Required::False;
    p.description = Some(description.to_string());
    p.schema = Some(schema.into());
    p
}

fn integer(min: u32, max: u32, default: u32) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(Some(max))
        .default(Some(default.into()))
}

fn page_params() -> [Parameter; 2] {
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

fn price_param(name: &str, description: &str) -> Parameter {
    query_param(
        name,
        description,
        ObjectBuilder::new()
            .schema_type(Type::Number)
            .minimum(Some(0))
            .maximum(Some(9_999_999.99)),
    )
}

fn filter_params() -> [Parameter; 5] {
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

fn sort_param<const N: usize>(names: [&'static str; N]) -> Parameter {
    query_param(
        "sort",
        "Order; every order ends with id ascending",
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(names))
            .default(Some(names[0].into())),
    )
}

fn path_param(name: &str) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Path;
    p.required = Required::True;
    p.schema = Some(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(ID_PATTERN))
            .into(),
    );
    p
}

fn header_param(name: &str, description: &str) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Header;
    p.required = Required::False;
    p.description = Some(description.to_string());
    p.schema = Some(ObjectBuilder::new().schema_type(Type::String).into());
    p
}

fn string_header(description: &str) -> Header {
    let mut h = Header::new(ObjectBuilder::new().schema_type(Type::String));
    h.description = Some(description.to_string());
    h
}

/// The security scheme of access tokens (and the bootstrap admin token).
const BEARER_SCHEME: &str = "bearerAuth";
/// The security scheme of API keys.
const KEY_SCHEME: &str = "apiKey";

fn response(description: &str) -> Response {
    let mut r = Response::new(description);
    r.headers.insert(
        "X-Request-Id".into(),
        string_header("The request's id (the client's when it sent a usable one)").into(),
    );
    r
}

fn json_response(description: &str, schema: RefOr<Schema>) -> Response {
    let mut r = response(description);
    r.content
        .insert("application/json".into(), Content::new(Some(schema)).into());
    r
}

fn error_response(status: u16, schemas: &mut Schemas) -> Response {
    let description = match status {
        400 => {
            "The query or body does not parse (`invalid_query`, `malformed_json`, `query_too_long`, `bad_request`)"
        }
        401 => "No or wrong admin token, or writes disabled (`unauthorized`)",
        404 => "No such record (`not_found`)",
        409 => "Conflicts with what is stored (`duplicate_id`, `in_use`)",
        413 => "The body is larger than the server's limit (`payload_too_large`)",
        422 => "Values out of range or invalid; `fields` lists each (`validation_failed`)",
        429 => {
            "Too many requests from this caller in the route's rate-limit class (`rate_limited`); retry after `Retry-After` seconds"
        }
        503 => {
            "Search is rebuilding or unavailable (`search_rebuilding`, `search_unavailable`), or storage cannot make writes durable now (`storage_unavailable`); retry after `Retry-After` seconds"
        }
        _ => "Error",
    };
    let error = schemas.of::<super::error::ErrorEnvelope>();
    let mut r = json_response(description, error);
    match status {
        401 => {
            r.headers.insert(
                "WWW-Authenticate".into(),
                string_header("`Bearer`: send the admin token").into(),
            );
        }
        429 | 503 => {
            r.headers.insert(
                "Retry-After".into(),
                string_header("Seconds to wait").into(),
            );
        }
        _ => {}
    }
    r
}

/// The `X-RateLimit-*` headers of a route in `class`.
fn rate_limit_headers(class: RateLimit) -> [(&'static str, Header); 3] {
    let name = super::rate_limit::class_name(class);
    [
        (
            "X-RateLimit-Limit",
            string_header(&format!(
                "The quota of the `{name}` rate-limit class: requests per period (absent when the class is off)"
            )),
        ),
        (
            "X-RateLimit-Remaining",
            string_header("Requests this caller may still make now"),
        ),
        (
            "X-RateLimit-Reset",
            string_header("Seconds until this caller's whole quota is back"),
        ),
    ]
}

/// Whether a route's reads carry an `ETag` and answer `If-None-Match`.
fn conditional(route: &Route) -> bool {
    route.verb == Verb::Get && route.cache != CacheClass::NoStore
}

fn operation(route: &Route, schemas: &mut Schemas) -> Operation {
    let inputs = (route.handler.inputs)();
    let mut op = Operation::new();
    op.operation_id = Some(route.doc.operation_id.to_string());
    op.summary = Some(route.doc.summary.to_string());
    op.tags = Some(vec![route.doc.tag.to_string()]);

    let mut params: Vec<Parameter> = route.path_params().map(path_param).collect();
    params.extend(inputs.query.iter().cloned());
    params.extend(inputs.headers.iter().cloned());
    if conditional(route) {
        params.push(header_param(
            "If-None-Match",
            "An ETag from an earlier answer: 304 without a body when unchanged",
        ));
    }
    if !params.is_empty() {
        op.parameters = Some(params.into_iter().map(RefOr::T).collect());
    }
    if let Some(body) = inputs.body {
        let mut rb = RequestBody::new();
        rb.required = Some(Required::True);
        rb.content.insert(
            "application/json".into(),
            Content::new(Some(body(schemas))).into(),
        );
        op.request_body = Some(rb.into());
    }
    match route.access {
        Access::Public => {}
        Access::Account => {
            op.security = Some(vec![SecurityRequirement::new(
                BEARER_SCHEME,
                Vec::<String>::new(),
            )]);
        }
        Access::Shopper => {
            // Optional: anonymous (a guest), or an account's access token.
            op.security = Some(vec![
                SecurityRequirement::default(),
                SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
            ]);
        }
        Access::Signed | Access::Staff | Access::Admin | Access::Replication => {
            op.security = Some(vec![
                SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
                SecurityRequirement::new(KEY_SCHEME, Vec::<String>::new()),
            ]);
        }
    }

    let mut success = match route.doc.answer {
        Answer::Json(status, schema) => vec![(status, json_response("Success", schema(schemas)))],
        Answer::Probe(schema) => {
            let s = schema(schemas);
            vec![
                (200, json_response("Ready", s.clone())),
                (503, json_response("Not ready; the checks say why", s)),
            ]
        }
        Answer::Empty(status) => vec![(status, response("Done; no body"))],
        Answer::Text(media) => {
            let mut r = response("Success");
            r.content.insert(
                media.into(),
                Content::new(Some(ObjectBuilder::new().schema_type(Type::String))).into(),
            );
            vec![(200, r)]
        }
    };
    if route.verb == Verb::Get {
        for (status, r) in &mut success {
            if *status == 200 {
                r.headers.insert(
                    "Cache-Control".into(),
                    string_header(&Ttls::default().cache_control(route.cache)).into(),
                );
                if conditional(route) {
                    r.headers.insert(
                        "ETag".into(),
                        string_header("Weak validator of the body").into(),
                    );
                }
            }
        }
    }
    for (status, r) in &mut success {
        if *status == 201 {
            r.headers.insert(
                "Location".into(),
                string_header("Where the created record is read").into(),
            );
        }
    }

    let mut errors: Vec<u16> = Vec::new();
    if route.access != Access::Public {
        errors.push(401);
        errors.push(403);
    }
    if !inputs.query.is_empty() || inputs.body.is_some() || !inputs.headers.is_empty() {
        errors.push(400);
        errors.push(422);
    }
    if inputs.body.is_some() {
        errors.push(413);
    }
    if route.path_params().next().is_some() {
        errors.push(404);
    }
    if route.verb != super::routes::Verb::Get {
        // A write the store cannot make durable (writer stopped after a
        // storage failure).
        errors.push(503);
    }
    if route.rate != RateLimit::None {
        errors.push(429);
    }
    errors.extend(route.doc.errors);
    errors.sort_unstable();
    errors.dedup();

    let mut responses = BTreeMap::new();
    for (status, r) in success {
        responses.insert(status.to_string(), RefOr::T(r));
    }
    if conditional(route) {
        let mut r = response("Not modified: the `If-None-Match` ETag is current");
        r.headers.insert(
            "ETag".into(),
            string_header("Weak validator of the body").into(),
        );
        r.headers.insert(
            "Cache-Control".into(),
            string_header(&Ttls::default().cache_control(route.cache)).into(),
        );
        responses.insert("304".into(), RefOr::T(r));
    }
    for status in errors {
        responses
            .entry(status.to_string())
            .or_insert_with(|| RefOr::T(error_response(status, schemas)));
    }
    if route.rate != RateLimit::None {
        for (status, r) in responses.iter_mut() {
            if let (false, RefOr::T(r)) = (status == "401", r) {
                for (name, header) in rate_limit_headers(route.rate) {
                    r.headers.insert(name.into(), header.into());
                }
            }
        }
    }
    op.responses.responses = responses;
    op
}

fn http_method(v: Verb) -> HttpMethod {
    match v {
        Verb::Get => HttpMethod::Get,
        Verb::Post => HttpMethod::Post,
        Verb::Put => HttpMethod::Put,
        Verb::Patch => HttpMethod::Patch,
        Verb::Delete => HttpMethod::Delete,
    }
}

/// The whole document.
pub fn document() -> OpenApi {
    let mut schemas = Schemas::default();
    let mut paths = Paths::new();
    let mut tags: Vec<String> = Vec::new();
    for route in ROUTES.iter().filter(|r| !r.doc.hidden) {
        let op = operation(route, &mut schemas);
        match paths.paths.get_mut(route.pattern) {
            Some(item) => item.merge_operations(PathItem::new(http_method(route.verb), op)),
            None => {
                paths.paths.insert(
                    route.pattern.to_string(),
                    PathItem::new(http_method(route.verb), op),
                );
            }
        }
        if !tags.iter().any(|t| t == route.doc.tag) {
            tags.push(route.doc.tag.to_string());
        }
    }
    add_links(&mut paths);
    let mut components = Components::new();
    components.schemas = schemas.0;
    let mut bearer = Http::new(HttpAuthScheme::Bearer);
    bearer.bearer_format = Some("JWT".into());
    bearer.description = Some(
        "An access token from POST /auth/login or /auth/refresh (15 minutes), or the bootstrap \
         admin token the server was started with (SHOPD_ADMIN_TOKEN)"
            .into(),
    );
    components
        .security_schemes
        .insert(BEARER_SCHEME.into(), SecurityScheme::Http(bearer).into());
    let mut key = ApiKeyValue::with_description(
        "X-API-Key",
        "An API key made by an admin (POST /admin/api-keys), role staff or admin",
    );
    key.name = "X-API-Key".into();
    components.security_schemes.insert(
        KEY_SCHEME.into(),
        SecurityScheme::ApiKey(ApiKey::Header(key)).into(),
    );

    let mut info = Info::new("shopd", env!("CARGO_PKG_VERSION"));
    info.description = Some(
        "One binary that runs an online shop's backend: catalogue, search, accounts, admin. \
         JSON in and out, camelCase fields, prices as decimals, times as RFC 3339 UTC. \
         Every error is `{\"error\":{\"code\",\"message\",\"fields\"?}}`."
            .into(),
    );
    let mut doc = OpenApi::new(info, paths);
    doc.components = Some(components);
    doc.tags = Some(tags.into_iter().map(Tag::new).collect());
    doc
}

/// Collections whose records are named by another field than `id` in the
/// path (`/admin/discount-codes/{id}` takes the code).
const LINK_FIELDS: &[(&str, &str)] = &[("/api/v1/admin/discount-codes", "code")];

/// OpenAPI links, so that a stateful test (schemathesis) can chain
/// operations: the 201 of `POST P` links to every operation on `P/{id}`,
/// with `id` taken from the created record (`$response.body#/data/id`, or
/// the field [`LINK_FIELDS`] names).
fn add_links(paths: &mut Paths) {
    let routes: Vec<&Route> = ROUTES.iter().filter(|r| !r.doc.hidden).collect();
    for create in routes.iter().filter(|r| r.verb == Verb::Post) {
        let targets: Vec<&str> = routes
            .iter()
            .filter(|q| {
                q.pattern
                    .strip_prefix(create.pattern)
                    .is_some_and(|rest| rest == "/{id}")
            })
            .map(|q| q.doc.operation_id)
            .collect();
        let response = paths
            .paths
            .get_mut(create.pattern)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.responses.responses.get_mut("201"));
        let (Some(RefOr::T(response)), false) = (response, targets.is_empty()) else {
            continue;
        };
        let field = LINK_FIELDS
            .iter()
            .find(|(p, _)| *p == create.pattern)
            .map_or("id", |(_, f)| f);
        for target in targets {
            response.links.insert(
                target.to_string(),
                RefOr::T(
                    utoipa::openapi::link::LinkBuilder::new()
                        .operation_id(target)
                        .parameter("id", format!("$response.body#/data/{field}"))
                        .build(),
                ),
            );
        }
    }
}

/// Response schemas the route table names.
pub mod schemas {
    use super::{PageMeta, RefOr, Schema, Schemas, object};
    use crate::catalog::json::{
        BrandFull, CategoryDetail, CategoryNode, ProductDetail, ProductItem, ReviewItem,
    };
    use crate::catalog::search::{Facets, SearchItem};
    use utoipa::openapi::schema::{AllOfBuilder, ArrayBuilder, ObjectBuilder, Type};

    /// `ProductDetail` with any iterator: the schema does not depend on it.
    type Detail = ProductDetail<
        'static,
        std::iter::Empty<&'static str>,
        std::iter::Empty<&'static str>,
        std::iter::Empty<&'static str>,
    >;

    pub fn any(_: &mut Schemas) -> RefOr<Schema> {
        ObjectBuilder::new().into()
    }
    pub fn job_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<crate::api::jobs::JobView>("JobPage")
    }
    pub fn job(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::jobs::JobView>("JobAnswer")
    }
    pub fn job_stats(s: &mut Schemas) -> RefOr<Schema> {
        s.of::<crate::api::jobs::JobStats>()
    }
    pub fn enqueued(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::jobs::Enqueued>("EnqueuedAnswer")
    }
    pub fn tokens(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::accounts::Tokens>("TokensAnswer")
    }
    pub fn accepted(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::accounts::Accepted>("AcceptedAnswer")
    }
    pub fn user(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::accounts::UserView>("UserAnswer")
    }
    pub fn user_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<crate::api::accounts::UserView>("UserPage")
    }
    pub fn api_key(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::accounts::KeyView>("ApiKeyAnswer")
    }
    pub fn api_keys(s: &mut Schemas) -> RefOr<Schema> {
        let item = s.of::<crate::api::accounts::KeyView>();
        s.named(
            "ApiKeyList",
            super::object()
                .property("data", ArrayBuilder::new().items(item))
                .required("data"),
        )
    }
    pub fn cart(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::orders::CartView>("CartAnswer")
    }
    pub fn order(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::orders::OrderView>("OrderAnswer")
    }
    pub fn order_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<crate::api::orders::OrderView>("OrderPage")
    }
    pub fn discount(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::orders::DiscountView>("DiscountCodeAnswer")
    }
    pub fn discounts(s: &mut Schemas) -> RefOr<Schema> {
        list::<crate::api::orders::DiscountView>(s, "DiscountCodeList")
    }
    pub fn webhook(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::orders::WebhookAnswer>("WebhookAnswer")
    }
    pub fn address(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<crate::api::profile::SavedAddressView>("AddressAnswer")
    }
    pub fn addresses(s: &mut Schemas) -> RefOr<Schema> {
        list::<crate::api::profile::SavedAddressView>(s, "AddressList")
    }
    pub fn wishlist(s: &mut Schemas) -> RefOr<Schema> {
        list::<crate::api::profile::WishView>(s, "Wishlist")
    }
    pub fn notifications(s: &mut Schemas) -> RefOr<Schema> {
        list::<crate::api::profile::NotificationView>(s, "NotificationList")
    }
    /// `{"data": [T]}` as `name`.
    fn list<T: utoipa::ToSchema>(s: &mut Schemas, name: &str) -> RefOr<Schema> {
        let item = s.of::<T>();
        s.named(
            name,
            super::object()
                .property("data", ArrayBuilder::new().items(item))
                .required("data"),
        )
    }
    pub fn health(s: &mut Schemas) -> RefOr<Schema> {
        s.of::<crate::api::health::Health>()
    }
    pub fn readiness(s: &mut Schemas) -> RefOr<Schema> {
        s.of::<crate::api::health::Readiness>()
    }
    pub fn product_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<ProductItem>("ProductPage")
    }
    pub fn product_detail(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<Detail>("ProductAnswer")
    }
    pub fn review_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<ReviewItem>("ReviewPage")
    }
    pub fn review(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<ReviewItem>("ReviewAnswer")
    }
    pub fn brand_page(s: &mut Schemas) -> RefOr<Schema> {
        s.page_of::<BrandFull>("BrandPage")
    }
    pub fn brand(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<BrandFull>("BrandAnswer")
    }
    pub fn category_tree(s: &mut Schemas) -> RefOr<Schema> {
        let node = s.of::<CategoryNode>();
        s.named(
            "CategoryTree",
            object()
                .property("data", ArrayBuilder::new().items(node))
                .required("data"),
        )
    }
    pub fn category(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<CategoryDetail>("CategoryAnswer")
    }
    pub fn synonyms(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<super::Synonyms>("SynonymsAnswer")
    }
    pub fn analytics(s: &mut Schemas) -> RefOr<Schema> {
        s.data_of::<super::SearchAnalytics>("SearchAnalyticsAnswer")
    }
    pub fn search(s: &mut Schemas) -> RefOr<Schema> {
        let item = s.of::<SearchItem>();
        let page = s.of::<PageMeta>();
        let facets = s.of::<Facets>();
        let meta = AllOfBuilder::new().item(page).item(
            object()
                .property(
                    "relaxed",
                    ObjectBuilder::new()
                        .schema_type(Type::Boolean)
                        .description(Some("No product had every word: hits have some of them")),
                )
                .required("relaxed"),
        );
        s.named(
            "SearchPage",
            object()
                .property("data", ArrayBuilder::new().items(item))
                .property("meta", meta)
                .property("facets", facets)
                .required("data")
                .required("meta")
                .required("facets"),
        )
    }
}

/// The `meta` of every paged answer (`domain::listing::PageMeta`, which
/// stays free of schema code).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
struct PageMeta {
    #[schema(minimum = 1)]
    page: u32,
    #[schema(minimum = 1)]
    limit: u32,
    total: u64,
    total_pages: u64,
    has_next: bool,
    has_prev: bool,
}

/// Synonym groups as stored (`domain::search::Synonyms`): lowercase words.
#[derive(ToSchema)]
#[allow(dead_code)]
struct Synonyms {
    groups: Vec<Vec<String>>,
}

/// `GET /search/analytics` (rendered by `Catalog::search_analytics`).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
struct SearchAnalytics {
    top_queries: Vec<QueryCount>,
    zero_hit_queries: Vec<QueryCount>,
}

/// A normalized query (lowercase, single-spaced) and how often it was asked.
#[derive(ToSchema)]
#[allow(dead_code)]
struct QueryCount {
    query: String,
    count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_route_is_in_the_document_once() {
        let doc = serde_json::to_value(document()).unwrap();
        for r in ROUTES.iter().filter(|r| !r.doc.hidden) {
            let op = &doc["paths"][r.pattern][r.verb.as_str().to_lowercase()];
            assert_eq!(op["operationId"], r.doc.operation_id, "{}", r.pattern);
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
