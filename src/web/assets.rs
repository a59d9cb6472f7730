//! The stylesheet, the script's modules, the icons, the web app manifest and the service
//! worker, compiled into the binary so `natter`
//! runs from anywhere with no files beside it. No front-end build step: these are served as
//! written. A new ES module under `static/js/` is one more line in [`MODULES`].

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

const CSS: &str = include_str!("../../static/app.css");
const ICON: &str = include_str!("../../static/icon.svg");
/// The service worker (Web Push and notification clicks); served from the root so its scope is
/// the whole site.
const SERVICE_WORKER: &str = include_str!("../../static/sw.js");
/// The web app manifest, so Natter installs as an app on phones and desktops.
const MANIFEST: &str = include_str!("../../static/manifest.webmanifest");
/// The app's icons in the sizes installs and notifications ask for.
const ICONS: &[(&str, &[u8])] = &[
    (
        "icon-192.png",
        include_bytes!("../../static/icons/icon-192.png"),
    ),
    (
        "icon-512.png",
        include_bytes!("../../static/icons/icon-512.png"),
    ),
    (
        "maskable-192.png",
        include_bytes!("../../static/icons/maskable-192.png"),
    ),
    (
        "maskable-512.png",
        include_bytes!("../../static/icons/maskable-512.png"),
    ),
];

/// The live client, as ES modules: `/static/js/<name>`. `app.js` is the entry the layout loads.
const MODULES: &[(&str, &str)] = &[
    ("app.js", include_str!("../../static/js/app.js")),
    ("composer.js", include_str!("../../static/js/composer.js")),
    ("dom.js", include_str!("../../static/js/dom.js")),
    ("frames.js", include_str!("../../static/js/frames.js")),
    ("page.js", include_str!("../../static/js/page.js")),
    ("presence.js", include_str!("../../static/js/presence.js")),
    ("socket.js", include_str!("../../static/js/socket.js")),
    ("timeline.js", include_str!("../../static/js/timeline.js")),
    ("unread.js", include_str!("../../static/js/unread.js")),
    ("threads.js", include_str!("../../static/js/threads.js")),
    ("reactions.js", include_str!("../../static/js/reactions.js")),
    ("complete.js", include_str!("../../static/js/complete.js")),
    ("uploads.js", include_str!("../../static/js/uploads.js")),
    ("lightbox.js", include_str!("../../static/js/lightbox.js")),
    ("notify.js", include_str!("../../static/js/notify.js")),
    ("people.js", include_str!("../../static/js/people.js")),
    ("avatar.js", include_str!("../../static/js/avatar.js")),
];

/// The routes of the static files; they need no state, so any router can mount them.
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/static/app.css",
            get(|| asset("text/css; charset=utf-8", CSS)),
        )
        .route("/static/js/{name}", get(module))
        .route("/static/icon.svg", get(|| asset("image/svg+xml", ICON)))
        // Browsers ask for this whatever the page says.
        .route("/favicon.ico", get(|| asset("image/svg+xml", ICON)))
        .route("/static/icons/{name}", get(icon))
        .route(
            "/manifest.webmanifest",
            get(|| asset("application/manifest+json", MANIFEST)),
        )
        .route(
            "/sw.js",
            get(|| asset("text/javascript; charset=utf-8", SERVICE_WORKER)),
        )
}

async fn icon(Path(name): Path<String>) -> Response {
    match ICONS.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            *body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn module(Path(name): Path<String>) -> Response {
    match MODULES.iter().find(|(n, _)| *n == name) {
        Some((_, body)) => asset("text/javascript; charset=utf-8", body)
            .await
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
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
