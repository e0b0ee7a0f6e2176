//! Image uploads (`POST /media`): `multipart/form-data` with a `file` part
//! (and an optional `alt` part), or the image as the raw body with an
//! `image/*` (or `application/octet-stream`) type and `?alt=`. The bytes
//! are read within the media byte limit (413 above it, also when
//! `Content-Length` says so up front) and the body timeout; what they are
//! is decided later from the bytes, never from the declared type.

use crate::api::error::ApiError;
use crate::api::extract::body::{read_body, state};
use crate::api::openapi::describe::{Describe, Inputs};
use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{FromRequest, HttpRequest};
use futures_util::StreamExt;
use std::future::Future;
use std::pin::Pin;

/// Room for the multipart framing and an `alt` part around the file.
const FRAMING: usize = 64 * 1024;

pub struct ImageUpload {
    pub bytes: Bytes,
    pub alt: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::BadRequest {
        code: "malformed_multipart",
        message: message.into(),
    }
}

fn query_alt(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(req.query_string())
        .map_err(|e| ApiError::invalid_query(format!("the query does not decode: {e}")))?;
    Ok(pairs.into_iter().find(|(k, _)| k == "alt").map(|(_, v)| v))
}

async fn multipart(req: &HttpRequest, body: Bytes, limit: usize) -> Result<ImageUpload, ApiError> {
    let stream =
        futures_util::stream::once(async move { Ok::<_, actix_web::error::PayloadError>(body) });
    let mut parts = actix_multipart::Multipart::new(req.headers(), stream);
    let mut file: Option<Bytes> = None;
    let mut alt: Option<String> = query_alt(req)?;
    while let Some(part) = parts.next().await {
        let mut part = part.map_err(|e| bad(format!("the multipart body does not parse: {e}")))?;
        let name = part.name().unwrap_or_default().to_string();
        let mut data = web::BytesMut::new();
        while let Some(chunk) = part.next().await {
            let chunk =
                chunk.map_err(|e| bad(format!("the multipart body does not parse: {e}")))?;
            data.extend_from_slice(&chunk);
            if data.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
        }
        match name.as_str() {
            "file" if file.is_none() => file = Some(data.freeze()),
            "file" => return Err(bad("send one `file` part")),
            "alt" => {
                alt = Some(
                    String::from_utf8(data.to_vec())
                        .map_err(|_| bad("the `alt` part is not UTF-8 text"))?,
                )
            }
            other => {
                return Err(bad(format!(
                    "unknown part `{other}`: send a `file` part and optionally an `alt` part"
                )));
            }
        }
    }
    let bytes = file.ok_or_else(|| bad("no `file` part: send the image in a part named `file`"))?;
    Ok(ImageUpload { bytes, alt })
}

impl FromRequest for ImageUpload {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let req = req.clone();
        let payload = web::Payload::from_request(&req, payload);
        Box::pin(async move {
            let payload = payload
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!("taking the body: {e}")))?;
            // shopd's media settings; the Postgres-design baseline, which
            // shares this extractor, takes the default limit.
            let limit = state(&req).map_or(crate::config::media::DEFAULT_MAX_BYTES, |s| {
                s.services.media.settings().max_bytes
            }) as usize;
            let essence = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(';').next())
                .map(|v| v.trim().to_ascii_lowercase())
                .unwrap_or_default();
            if essence == "multipart/form-data" {
                let body = read_body(&req, payload, limit + FRAMING).await?;
                multipart(&req, body, limit).await
            } else if essence.starts_with("image/") || essence == "application/octet-stream" {
                let alt = query_alt(&req)?;
                let bytes = read_body(&req, payload, limit).await?;
                Ok(ImageUpload { bytes, alt })
            } else {
                Err(ApiError::Unsupported {
                    code: "unsupported_media_type",
                    message: "send the image as multipart/form-data (a `file` part and an \
                              optional `alt` part) or as the raw body with an image/* type"
                        .into(),
                })
            }
        })
    }
}

impl Describe for ImageUpload {
    fn describe(inputs: &mut Inputs) {
        inputs.upload = true;
    }
}
