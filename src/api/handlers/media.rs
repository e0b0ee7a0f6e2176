//! `/api/v1/media…` (staff: upload, read, alt text, delete) and
//! `/media/{id}/{file}` (public: the variants, negotiated on `Accept`).

use crate::api::dto::media::{MediaPatch, MediaView, variant_answer, variant_request};
use crate::api::dto::{data, no_content};
use crate::api::error::ApiError;
use crate::api::extract::body::Body;
use crate::api::extract::upload::ImageUpload;
use crate::api::state::ApiState;
use crate::domain::media::{self, MediaId};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

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
    let (id, want) = variant_request(&id, &file)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let served = state
        .services
        .media
        .variant(&id, want, media::accepted(accept))
        .await?;
    variant_answer(&req, &id, want, served)
}
