//! The pages' stylesheet and script, compiled into the binary.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

/// (name, content type, bytes).
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "admin.css",
        "text/css; charset=utf-8",
        include_bytes!("assets/admin.css"),
    ),
    (
        "admin.js",
        "text/javascript; charset=utf-8",
        include_bytes!("assets/admin.js"),
    ),
];

/// `GET /admin/assets/{file}`: public (no secrets in them), cached for an
/// hour; the pages name them with the binary's version.
pub(crate) async fn serve(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, kind, bytes)) => HttpResponse::Ok()
            .content_type(*kind)
            .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
            .body(*bytes),
        None => HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("no such asset"),
    }
}
