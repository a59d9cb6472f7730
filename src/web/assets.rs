//! The stylesheet, script and icon, compiled into the binary so `natter` runs from anywhere
//! with no files beside it. No front-end build step: these are served as written.

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");
const ICON: &str = include_str!("../../static/icon.svg");

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/static/app.css",
            get(|| asset("text/css; charset=utf-8", CSS)),
        )
        .route(
            "/static/app.js",
            get(|| asset("text/javascript; charset=utf-8", JS)),
        )
        .route("/static/icon.svg", get(|| asset("image/svg+xml", ICON)))
        // Browsers ask for this whatever the page says.
        .route("/favicon.ico", get(|| asset("image/svg+xml", ICON)))
}

async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    // Short cache: the files change with each release and carry no version in their names.
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
}
