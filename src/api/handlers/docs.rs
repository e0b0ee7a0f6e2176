//! The contract, served: `GET /api/v1/openapi.json` (built once from the
//! route table) and Swagger UI at `/docs/`, whose files are compiled into the
//! binary (utoipa-swagger-ui's `vendored` feature), so the page works with no
//! network: nothing is fetched from a CDN.

use crate::api::error::ApiError;
use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web;
use std::sync::Arc;
use std::sync::LazyLock;

/// The contract as served, rendered once (`register::configure` registers
/// it): the handler does not build it, so the route table that names this
/// handler is not among its inputs.
#[derive(Clone)]
pub(crate) struct Contract(pub bytes::Bytes);

static SWAGGER: LazyLock<Arc<utoipa_swagger_ui::Config<'static>>> = LazyLock::new(|| {
    // `validator_url("none")`: Swagger UI would otherwise load a validity
    // badge from validator.swagger.io.
    Arc::new(
        utoipa_swagger_ui::Config::new(["/api/v1/openapi.json"])
            .try_it_out_enabled(true)
            .validator_url("none"),
    )
});

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi_json(contract: web::Data<Contract>) -> HttpResponse {
    crate::api::dto::json(contract.0.clone())
}

/// `GET /docs`: the page lives at `/docs/` (its files are relative to it).
pub(crate) async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// `GET /docs/`: Swagger UI's page.
pub(crate) async fn index() -> Result<HttpResponse, ApiError> {
    serve("index.html")
}

/// `GET /docs/{file}`: its scripts, styles and icons.
pub(crate) async fn file(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&file)
}

fn serve(name: &str) -> Result<HttpResponse, ApiError> {
    match utoipa_swagger_ui::serve(name, SWAGGER.clone()) {
        Ok(Some(f)) => {
            let mut res = HttpResponse::Ok();
            res.content_type(f.content_type);
            if f.gzpipped {
                res.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            Ok(res.body(f.bytes.into_owned()))
        }
        Ok(None) => Err(ApiError::NotFound(format!("no docs file '{name}'"))),
        Err(e) => Err(ApiError::Internal(anyhow::anyhow!(
            "rendering Swagger UI's {name}: {e}"
        ))),
    }
}
