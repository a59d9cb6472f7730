//! Any Web API request (query string, then a JSON or form body) parses into arguments or is
//! refused; reading any argument of the parsed ones never panics.
#![no_main]

use axum::http::{HeaderMap, HeaderValue, Uri, header};
use libfuzzer_sys::fuzz_target;
use natter::integrations::{api, ids};

const CONTENT_TYPES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "text/plain",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // The first byte picks the content type; up to a NUL, the rest is the query string.
    let (query, body) = match rest.iter().position(|&b| b == 0) {
        Some(nul) => (&rest[..nul], &rest[nul + 1..]),
        None => (&b""[..], rest),
    };
    let query: String = form_query(query);
    let Ok(uri) = format!("/api/chat.postMessage?{query}").parse::<Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()]),
    );
    let Some(params) = api::parse(&uri, &headers, body) else {
        return;
    };
    for name in [
        "channel",
        "text",
        "ts",
        "users",
        "limit",
        "cursor",
        "client_msg_id",
        "blocks",
    ] {
        if let Some(value) = params.str(name) {
            let _ = ids::parse_id(&value);
            let _ = ids::seq_of_ts(&value);
            let _ = ids::ts_seconds(&value);
        }
        let _ = params.bool(name);
        let _ = params.int(name);
        let _ = params.json(name);
    }
});

/// Bytes as a query string a URI accepts: printable ASCII kept, the rest percent-encoded.
fn form_query(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"=&-_.~%+,:".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
