//! Builds the OpenAPI 3.1 document from the route table (see the module
//! docs of `openapi`).

use crate::api::dto::patterns;
use crate::api::openapi::describe::Answer;
use crate::api::openapi::describe::Schemas;
use crate::api::openapi::describe::header_param;
use crate::api::route::Access;
use crate::api::route::RateLimit;
use crate::api::route::Route;
use crate::api::route::Verb;
use crate::api::routes::ROUTES;
use crate::config::cache::CacheClass;
use crate::config::cache::Ttls;
use std::collections::BTreeMap;
use utoipa::openapi::Components;
use utoipa::openapi::Content;
use utoipa::openapi::Header;
use utoipa::openapi::Info;
use utoipa::openapi::OpenApi;
use utoipa::openapi::PathItem;
use utoipa::openapi::Paths;
use utoipa::openapi::RefOr;
use utoipa::openapi::Required;
use utoipa::openapi::Tag;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::path::Operation;
use utoipa::openapi::path::Parameter;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::response::Response;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::schema::Type;
use utoipa::openapi::security::ApiKey;
use utoipa::openapi::security::ApiKeyValue;
use utoipa::openapi::security::Http;
use utoipa::openapi::security::HttpAuthScheme;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::security::SecurityScheme;

fn path_param(name: &str) -> Parameter {
    let mut p = Parameter::new(name);
    p.parameter_in = ParameterIn::Path;
    p.required = Required::True;
    p.schema = Some(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(patterns::ID))
            .into(),
    );
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

pub(crate) fn response(description: &str) -> Response {
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

pub(crate) fn error_response(status: u16, schemas: &mut Schemas) -> Response {
    let description = match status {
        400 => {
            "The query or body does not parse (`invalid_query`, `malformed_json`, `query_too_long`, `bad_request`)"
        }
        401 => {
            "No, wrong or expired credentials: a token, key, password or mailed token (`unauthorized`, `invalid_credentials`, `invalid_token`, `token_expired`, `token_reused`)"
        }
        404 => {
            "No such record, at the path or named in the body (`not_found`, `discount_code_invalid`)"
        }
        409 => {
            "Conflicts with what is stored (`duplicate_id`, `in_use`, `cart_empty`, `out_of_stock`, `discount_code_invalid`, …)"
        }
        413 => "The body is larger than the server's limit (`payload_too_large`)",
        415 => {
            "The body is not a kind this route reads (`unsupported_media_type`), or not an image shopd reads (`unsupported_image`)"
        }
        422 => "Values out of range or invalid; `fields` lists each (`validation_failed`)",
        429 => {
            "Too many requests from this caller in the route's rate-limit class (`rate_limited`); retry after `Retry-After` seconds"
        }
        503 => {
            "Search is rebuilding or unavailable (`search_rebuilding`, `search_unavailable`), or storage cannot make writes durable now (`storage_unavailable`: not saved; `write_outcome_unknown`: look before retrying); retry after `Retry-After` seconds"
        }
        _ => "Error",
    };
    let error = schemas.of::<crate::api::error::ErrorEnvelope>();
    let mut r = json_response(description, error);
    match status {
        401 => {
            r.headers.insert(
                "WWW-Authenticate".into(),
                string_header("`Bearer`: send a token").into(),
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
    let name = crate::api::middleware::rate_limit::limiter::class_name(class);
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
    if matches!(route.doc.answer, Answer::Image) {
        params.push(header_param(
            "If-None-Match",
            "An ETag from an earlier answer: 304 without a body when unchanged",
        ));
        params.push(header_param(
            "Accept",
            "The image types the client shows (`image/avif`, `image/webp`, `image/jpeg`, `image/*`, with q-values)",
        ));
    }
    if !params.is_empty() {
        op.parameters = Some(params.into_iter().map(RefOr::T).collect());
    }
    if inputs.upload {
        let mut rb = RequestBody::new();
        rb.required = Some(Required::True);
        let binary = || {
            ObjectBuilder::new().schema_type(Type::String).format(Some(
                utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Binary),
            ))
        };
        rb.content.insert(
            "multipart/form-data".into(),
            Content::new(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("file", binary())
                    .property(
                        "alt",
                        ObjectBuilder::new()
                            .schema_type(Type::String)
                            .max_length(Some(500))
                            .pattern(Some(r"^[^\x00-\x1F\x7F-\x9F]*$")),
                    )
                    .required("file"),
            ))
            .into(),
        );
        for media in ["image/jpeg", "image/png", "image/webp", "image/gif"] {
            rb.content
                .insert(media.into(), Content::new(Some(binary())).into());
        }
        op.request_body = Some(rb.into());
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
        Answer::Image => {
            let mut r = response("The variant's bytes");
            for media in ["image/avif", "image/webp", "image/jpeg"] {
                r.content.insert(
                    media.into(),
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::String).format(
                        Some(utoipa::openapi::SchemaFormat::KnownFormat(
                            utoipa::openapi::KnownFormat::Binary,
                        )),
                    )))
                    .into(),
                );
            }
            r.headers.insert(
                "Cache-Control".into(),
                string_header(
                    "`public, max-age=31536000, immutable`; `public, max-age=60` for a stand-in",
                )
                .into(),
            );
            r.headers.insert(
                "ETag".into(),
                string_header("Strong validator of the variant served").into(),
            );
            let mut not_modified = response("Unchanged since the `If-None-Match` ETag");
            not_modified.headers.insert(
                "ETag".into(),
                string_header("Strong validator of the variant served").into(),
            );
            vec![(200, r), (304, not_modified)]
        }
    };
    if inputs.upload
        && let Answer::Json(_, schema) = route.doc.answer
    {
        success.push((
            200,
            json_response(
                "The same bytes were uploaded before: the stored record",
                schema(schemas),
            ),
        ));
    }
    if route.verb == Verb::Get && !matches!(route.doc.answer, Answer::Image) {
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
    if !inputs.query.is_empty()
        || inputs.body.is_some()
        || !inputs.headers.is_empty()
        || inputs.upload
    {
        errors.push(400);
        errors.push(422);
    }
    if inputs.body.is_some() || inputs.upload {
        errors.push(413);
    }
    if route.path_params().next().is_some() {
        errors.push(404);
    }
    if route.verb != crate::api::route::Verb::Get {
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
pub(crate) fn document() -> OpenApi {
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
