//! The OpenAPI document at `/openapi.json`, built on its first request.
//!
//! Building it runs the generated description of every route and schema: a few
//! hundred functions spread over the binary. Built at start, as Swagger UI's router
//! does with the document it is given, that touched about 2 MiB of code pages and
//! kept the document's tree on the heap in every server, most of which are never
//! asked for it. Here it is built once, when first asked for, and kept as the JSON
//! it is served as.

use std::sync::{Arc, OnceLock};

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::Router;
use bytes::Bytes;
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the document is served.
const PATH: &str = "/openapi.json";

/// The API's document: the parts it is merged from, and the JSON once built.
#[derive(Clone)]
pub struct ApiDocument {
    parts: Vec<fn() -> OpenApi>,
    json: Arc<OnceLock<Bytes>>,
}

impl ApiDocument {
    /// A document built by `base`.
    pub fn new(base: fn() -> OpenApi) -> Self {
        ApiDocument {
            parts: vec![base],
            json: Arc::new(OnceLock::new()),
        }
    }

    /// Merges the document `part` builds (routes served beside the API's) into this
    /// one.
    pub fn merge(mut self, part: fn() -> OpenApi) -> Self {
        self.parts.push(part);
        self
    }

    /// The merged document.
    pub fn build(&self) -> OpenApi {
        let mut parts = self.parts.iter();
        let mut doc = parts.next().map_or_else(OpenApi::default, |f| f());
        for part in parts {
            doc.merge(part());
        }
        doc
    }

    fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| match serde_json::to_vec(&self.build()) {
                Ok(json) => Bytes::from(json),
                // The document is made of strings and maps: serialising it cannot
                // fail, and if it did an empty document says so to the client.
                Err(e) => {
                    tracing::error!(error = %e, "cannot serialise the OpenAPI document");
                    Bytes::from_static(b"{}")
                }
            })
            .clone()
    }

    /// `/openapi.json` and Swagger UI at `/docs`, reading it.
    pub fn router(self) -> Router {
        Router::new()
            .route(
                PATH,
                axum::routing::get(move || {
                    let doc = self.clone();
                    async move { doc.response() }
                }),
            )
            .merge(SwaggerUi::new("/docs").config(Config::new([PATH])))
    }

    fn response(&self) -> Response {
        ([(CONTENT_TYPE, "application/json")], self.json()).into_response()
    }
}
