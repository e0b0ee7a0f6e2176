//! Product images the Postgres design's way: one row per image in "Media"
//! (PostgreSQL) and its files on disk under `--media-dir` (the plans' "S3 +
//! Cloudinary": a bucket and an image service; here a directory and the
//! image step in-process). Every variant is made in the upload request with
//! shopd's own codec (the plans' sharp/libvips step, run synchronously: the
//! baseline has no worker for it), so uploads answer later than shopd's but
//! every variant is there at once. Product reads join the rows of the
//! images they name and render shopd's `media` JSON.
//!
//! Routes: `POST /api/v1/media` (the admin token; multipart or a raw
//! image, through shopd's extractor), `GET /api/v1/media/{id}` and
//! `GET /media/{id}/{file}` (files from disk, negotiated on `Accept` like
//! shopd's, answered by shopd's own `variant_answer`). Alt-text changes and deletes are not part of the baseline.

use crate::db::Db;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};
use shopd::api::dto::media::{MediaView, variant_answer, variant_request};
use shopd::api::error::ApiError;
use shopd::api::extract::principal::require_admin;
use shopd::api::extract::upload::ImageUpload;
use shopd::api::state::HttpSettings;
use shopd::domain::Timestamp;
use shopd::domain::media::{self, Encoding, Media, MediaId, SIZES, SourceFormat, Variant};
use shopd::media::{Served, codec};
use std::collections::HashMap;
use std::path::PathBuf;

/// Where image files live.
pub struct MediaDir(pub PathBuf);

const COLUMNS: &str = r#"id, sha256, format, width, height, bytes, alt, "createdAt", made"#;

fn internal(e: impl std::fmt::Display, what: &str) -> ApiError {
    ApiError::Internal(anyhow::anyhow!("{what}: {e}"))
}

fn from_row(r: &tokio_postgres::Row) -> Result<Media, ApiError> {
    let get = |e: tokio_postgres::Error| internal(e, "reading a media row");
    let id: String = r.try_get("id").map_err(get)?;
    let format: String = r.try_get("format").map_err(get)?;
    Ok(Media {
        id: MediaId::parse(&id).map_err(|e| internal(e, "media id"))?,
        sha256: r.try_get("sha256").map_err(get)?,
        format: SourceFormat::ALL
            .into_iter()
            .find(|f| f.as_str() == format)
            .ok_or_else(|| internal(&format, "media format"))?,
        width: r.try_get::<_, i32>("width").map_err(get)? as u32,
        height: r.try_get::<_, i32>("height").map_err(get)? as u32,
        bytes: r.try_get::<_, i64>("bytes").map_err(get)? as u64,
        alt: r.try_get("alt").map_err(get)?,
        created_at: crate::db::timestamp(r.try_get("createdAt").map_err(get)?)?,
        made: r.try_get::<_, i32>("made").map_err(get)? as u16,
        unused_since: None,
    })
}

/// The rows of the images `ids` name (one statement), by id.
pub async fn by_ids(db: &Db, ids: &[String]) -> Result<HashMap<String, Media>, ApiError> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let client = db.conn().await?;
    let rows = db
        .sql(&client)
        .query(
            &format!(r#"SELECT {COLUMNS} FROM "Media" WHERE id = ANY($1)"#),
            &[&ids],
        )
        .await?;
    rows.iter()
        .map(|r| from_row(r).map(|m| (m.id.to_string(), m)))
        .collect()
}

/// The media ids among a product's images.
pub fn ids_in<'a>(images: impl Iterator<Item = &'a str>) -> Vec<String> {
    images
        .filter_map(MediaId::referenced_by)
        .map(|m| m.to_string())
        .collect()
}

/// shopd's `media` entries for `images`, from `found`.
pub fn entries<'a>(
    images: impl Iterator<Item = &'a str>,
    found: &HashMap<String, Media>,
) -> Vec<shopd::catalog::json::ProductImage> {
    images
        .filter_map(MediaId::referenced_by)
        .filter_map(|id| found.get(id.as_str()))
        .map(shopd::catalog::json::ProductImage::of)
        .collect()
}

fn dir_of(root: &std::path::Path, id: &MediaId) -> PathBuf {
    let hex = &id.as_str()[media::ID_PREFIX.len()..];
    root.join(&hex[..2]).join(id.as_str())
}

/// `{"data": record}`, as shopd answers.
fn answer(status: StatusCode, m: &Media) -> HttpResponse {
    HttpResponse::build(status).json(serde_json::json!({ "data": MediaView::of(m) }))
}

fn codec_error(e: codec::CodecError) -> ApiError {
    ApiError::from(shopd::media::MediaError::Codec(e))
}

pub async fn upload(
    req: HttpRequest,
    upload: ImageUpload,
    state: web::Data<HttpSettings>,
    s: web::Data<crate::routes::State>,
    dir: web::Data<MediaDir>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let digest: [u8; 32] = Sha256::digest(&upload.bytes).into();
    let id = MediaId::of_digest(&digest);
    let existing = by_ids(&s.db, &[id.to_string()]).await?;
    if let Some(m) = existing.get(id.as_str()) {
        return Ok(answer(StatusCode::OK, m));
    }
    let alt = media::alt_text(upload.alt.as_deref().unwrap_or_default()).map_err(|reason| {
        let mut f = shopd::domain::FieldErrors::new();
        f.push("alt", reason);
        ApiError::validation(f)
    })?;
    let bytes = upload.bytes.clone();
    let (format, width, height, files) = tokio::task::spawn_blocking(move || {
        let d = codec::decode(&bytes, shopd::config::media::DEFAULT_MAX_PIXELS)?;
        let mut files = Vec::new();
        let mut last: Option<codec::Pixels> = None;
        for size in (0..SIZES.len()).rev() {
            let px = codec::resize(&d, last.as_ref(), size)?;
            for encoding in Encoding::PREFERRED {
                files.push((Variant { size, encoding }, codec::encode(&px, encoding)?));
            }
            last = Some(px);
        }
        Ok::<_, codec::CodecError>((d.format, d.width(), d.height(), files))
    })
    .await
    .map_err(|e| internal(e, "the image step"))?
    .map_err(codec_error)?;
    let folder = dir_of(&dir.0, &id);
    tokio::fs::create_dir_all(&folder)
        .await
        .map_err(|e| internal(e, "creating the media dir"))?;
    tokio::fs::write(folder.join("original"), &upload.bytes)
        .await
        .map_err(|e| internal(e, "writing the original"))?;
    let mut made = 0u16;
    for (v, b) in files {
        tokio::fs::write(folder.join(v.file_name()), b)
            .await
            .map_err(|e| internal(e, "writing a variant"))?;
        made |= v.bit();
    }
    let m = Media {
        id: id.clone(),
        sha256: digest.iter().map(|b| format!("{b:02x}")).collect(),
        format,
        width,
        height,
        bytes: upload.bytes.len() as u64,
        alt,
        created_at: Timestamp::now(),
        made,
        unused_since: None,
    };
    let client = s.db.conn().await?;
    let created = crate::db::to_offset(m.created_at);
    s.db.sql(&client)
        .execute(
            &format!(
                r#"INSERT INTO "Media" ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                   ON CONFLICT (id) DO NOTHING"#
            ),
            &[
                &m.id.as_str(),
                &m.sha256,
                &m.format.as_str(),
                &(m.width as i32),
                &(m.height as i32),
                &(m.bytes as i64),
                &m.alt,
                &created,
                &(m.made as i32),
            ],
        )
        .await?;
    let mut res = answer(StatusCode::CREATED, &m);
    res.headers_mut().insert(
        header::LOCATION,
        HeaderValue::from_str(&format!("/api/v1/media/{id}"))
            .map_err(|e| internal(e, "location"))?,
    );
    Ok(res)
}

pub async fn detail(
    req: HttpRequest,
    id: web::Path<String>,
    state: web::Data<HttpSettings>,
    s: web::Data<crate::routes::State>,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state)?;
    let found = by_ids(&s.db, std::slice::from_ref(&id)).await?;
    let m = found
        .get(id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no image {id}")))?;
    Ok(answer(StatusCode::OK, m))
}

/// `GET /media/{id}/{file}`: shopd's headers, bytes from disk.
pub async fn variant(
    req: HttpRequest,
    path: web::Path<(String, String)>,
    s: web::Data<crate::routes::State>,
    dir: web::Data<MediaDir>,
) -> Result<HttpResponse, ApiError> {
    let (id, file) = path.into_inner();
    let (media_id, want) = variant_request(&id, &file)?;
    let missing = || ApiError::NotFound(format!("no image {id}"));
    let found = by_ids(&s.db, std::slice::from_ref(&id)).await?;
    let m = found.get(id.as_str()).ok_or_else(missing)?;
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let (variant, is_final) = m
        .choose(want, media::accepted(accept))
        .ok_or_else(missing)?;
    let bytes = tokio::fs::read(dir_of(&dir.0, &media_id).join(variant.file_name()))
        .await
        .map_err(|e| internal(e, "reading a variant"))?;
    variant_answer(
        &req,
        &media_id,
        want,
        Served {
            bytes: bytes.into(),
            variant,
            is_final,
        },
    )
}
