//! JSON object bodies: read within the body limit and timeout, parsed by the
//! domain's parser of the body type ([`Input`]), every field error at once.

use crate::api::error::ApiError;
use crate::api::openapi::describe::Describe;
use crate::api::openapi::describe::Inputs;
use crate::api::openapi::describe::Schemas;
use crate::api::state::ApiState;
use crate::api::state::HttpSettings;
use actix_web::FromRequest;
use actix_web::HttpRequest;
use actix_web::dev::Payload;
use actix_web::web;
use serde_json::Map;
use serde_json::Value;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// Reads the whole request body: at most `limit` bytes (413 above, also
/// when `Content-Length` says so up front), within the configured body
/// timeout (408 `request_timeout`: a client trickling its body does not
/// hold a handler forever).
pub(crate) async fn read_body(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge { limit });
    }
    // shopd registers `ApiState`; the Postgres-design baseline, which
    // shares these extractors, registers its `HttpSettings` alone.
    let timeout = req
        .app_data::<web::Data<ApiState>>()
        .map(|s| s.http.limits.body_timeout)
        .or_else(|| {
            req.app_data::<web::Data<HttpSettings>>()
                .map(|h| h.limits.body_timeout)
        })
        .unwrap_or(crate::config::http::HttpLimits::DEFAULT.body_timeout);
    match tokio::time::timeout(timeout, payload.to_bytes_limited(limit)).await {
        Err(_) => Err(ApiError::RequestTimeout {
            secs: timeout.as_secs(),
        }),
        Ok(Err(_)) => Err(ApiError::PayloadTooLarge { limit }),
        Ok(Ok(Err(e))) => Err(ApiError::BadRequest {
            code: "bad_request",
            message: format!("could not read the request body: {e}"),
        }),
        Ok(Ok(Ok(body))) => Ok(body),
    }
}

/// Reads the body (at most `limit` bytes) and parses it as a JSON object.
pub async fn json_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let body = read_body(req, payload, limit).await?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: "the request body must be a JSON object".into(),
        }),
        Err(e) => Err(ApiError::BadRequest {
            code: "malformed_json",
            message: format!("the request body is not valid JSON: {e}"),
        }),
    }
}

/// A request body type: its OpenAPI schema, and how its JSON object becomes
/// a domain value (the domain's hand-written parser, which collects every
/// field error for the use case to report as one 422).
pub(crate) trait Input: utoipa::ToSchema {
    type Parsed;
    fn parse(body: &Map<String, Value>) -> Self::Parsed;
}

/// A JSON object body, at most the configured body limit, parsed by `T`:
/// 413 `payload_too_large`, 400 `malformed_json` (not JSON, or not an
/// object) as [`json_object`] answers them.
pub(crate) struct Body<T: Input>(pub T::Parsed, pub RawBody<T>);

/// The JSON object a [`Body`] was parsed from.
pub(crate) struct RawBody<T> {
    pub map: Map<String, Value>,
    _t: PhantomData<T>,
}

impl<T: Input + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
            let limit = state(&req)?.http.body_limit;
            let map = json_object(&req, payload, limit).await?;
            Ok(Body(
                T::parse(&map),
                RawBody {
                    map,
                    _t: PhantomData,
                },
            ))
        })
    }
}

pub(crate) fn state(req: &HttpRequest) -> Result<&web::Data<ApiState>, ApiError> {
    req.app_data::<web::Data<ApiState>>()
        .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("ApiState is not registered")))
}

impl<T: Input + 'static> Describe for Body<T> {
    fn describe(inputs: &mut Inputs) {
        inputs.body = Some(Schemas::of::<T>);
    }
}
