//! HTTP helpers every domain's pages use, below the domains: rendering askama templates into
//! responses ([`templates`]), per-user rate limits ([`rate_limit`]), and the compiled-in
//! static files ([`assets`]). Nothing here knows a domain; the router that mounts the domains
//! is `server`'s.

pub mod assets;
pub mod client;
pub mod rate_limit;
pub mod templates;

/// Whether a script asked for JSON (`Accept: application/json`) rather than a page.
pub fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}
