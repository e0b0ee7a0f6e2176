//! `/api/v1/media…` (staff: upload, read, alt text, delete) and
//! `/media/{id}/{file}` (public: the variants, negotiated on `Accept`).

use crate::api::dto::media::{MediaPatch, MediaView};
use crate::api::dto::{data, if_none_match_names, no_content};
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::upload::ImageUpload;
use crate::api::state::ApiState;
use crate::domain::media::{self, MediaId, VARIANT_VERSION, VariantRequest};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

/// A year, as long as caches keep anything: a variant's URL and ETag name
/// bytes that never change.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// A stand-in for a variant not made yet: a minute, then ask again.
const STAND_IN: &str = "public, max-age=60";

fn media_id(id: &str) -> Result<MediaId, ApiError> {
    MediaId::parse(id).map_err(|_| ApiError::NotFound(format!("no image {id}")))
}

pub(crate) async fn upload(
    state: web::Data<ApiState>,
    upload: ImageUpload,
) -> Result<HttpResponse, ApiError> {
    let (m, created) = state
        .services
        .media
        .upload(upload.bytes, upload.alt)
        .await?;
    let view = MediaView::of(&m);
    if created {
        let mut res = data(StatusCode::CREATED, view);
        res.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_str(&format!("/api/v1/media/{}", m.id))
                .map_err(|e| ApiError::Internal(e.into()))?,
        );
        Ok(res)
    } else {
        Ok(data(StatusCode::OK, view))
    }
}

pub(crate) async fn detail(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let m = state.services.media.get(&media_id(&id)?)?;
    Ok(data(StatusCode::OK, MediaView::of(&m)))
}

pub(crate) async fn update(
    state: web::Data<ApiState>,
    id: web::Path<String>,
    Body(alt, _): Body<MediaPatch>,
) -> Result<HttpResponse, ApiError> {
    let id = media_id(&id)?;
    let alt = alt.map_err(ApiError::validation)?;
    let m = state.services.media.set_alt(&id, alt).await?;
    Ok(data(StatusCode::OK, MediaView::of(&m)))
}

pub(crate) async fn delete(
    state: web::Data<ApiState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.services.media.delete(&media_id(&id)?).await?;
    Ok(no_content())
}

/// `GET|HEAD /media/{id}/{size}[.{webp|avif|jpg}]`.
pub(crate) async fn variant(
    state: web::Data<ApiState>,
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    let id = media_id(&id)?;
    let want = VariantRequest::parse(&file)
        .map_err(|e| ApiError::NotFound(format!("no such variant '{file}': {e}")))?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let served = state
        .services
        .media
        .variant(&id, want, media::accepted(accept))
        .await?;
    let v = served.variant;
    let tag = format!(
        "\"{}-{}-{}-v{VARIANT_VERSION}\"",
        id.as_str(),
        media::SIZES[v.size],
        v.encoding.ext()
    );
    let control = if served.is_final { IMMUTABLE } else { STAND_IN };
    let mut res = if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| if_none_match_names(v, &tag))
    {
        HttpResponse::NotModified().finish()
    } else {
        HttpResponse::Ok()
            .content_type(v.encoding.mime())
            .body(served.bytes)
    };
    let h = res.headers_mut();
    h.insert(
        header::ETAG,
        HeaderValue::from_str(&tag).map_err(|e| ApiError::Internal(e.into()))?,
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(control));
    if want.encoding.is_none() {
        h.insert(header::VARY, HeaderValue::from_static("Accept"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(res)
}
