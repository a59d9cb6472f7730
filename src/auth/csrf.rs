//! CSRF protection for everything done with the session cookie.
//!
//! Each session holds a random token. Pages put it in a `<meta name="csrf-token">` tag and a
//! hidden `csrf_token` field of every form; scripts send it as `X-CSRF-Token`. The [`verify`]
//! middleware refuses any state-changing request whose token does not match, before a handler
//! runs. Token-authenticated doors (`/api/`, `/hooks/`, `/scim/`) carry no cookie and are exempt,
//! as are mail's one-click links (`/notifications/email-off/<signed token>`, RFC 8058: a mail
//! client posts them with no session, and the token in the path is the authority).
//!
//! A visitor without a session (the login and sign-up forms, an invite's landing page) gets
//! its token in a cookie of its own instead ([`Visitor`], double-submit): storing a session
//! for every anonymous page view would let anyone fill the session table with a loop of
//! `GET /login`. A session is stored only once there is something to keep in it.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;

const SESSION_KEY: &str = "csrf";
pub const FORM_FIELD: &str = "csrf_token";
pub const HEADER: &str = "x-csrf-token";

/// The prefix of mail's one-click links, authorised by the signed token in their path.
const MAIL_LINKS: &str = "/notifications/email-off/";
/// The most a form body may hold: a 40,000-character message, percent-encoded, fits easily.
pub const MAX_FORM_BYTES: usize = 1024 * 1024;

/// The session's token, created on first use.
pub async fn token(session: &Session) -> Result<String, AppError> {
    if let Some(token) = session.get::<String>(SESSION_KEY).await? {
        return Ok(token);
    }
    rotate(session).await
}

/// The token of a page that may be shown to someone without a session: the session's, if it
/// has one, else the visitor cookie's (which [`Visitor`] sets on the response when new).
pub async fn page_token(session: &Session, visitor: &Visitor) -> Result<String, AppError> {
    Ok(match session.get::<String>(SESSION_KEY).await? {
        Some(token) => token,
        None => visitor.token.clone(),
    })
}

/// The cookie that carries a visitor's token; `SameSite=Strict` and `HttpOnly`.
const VISITOR_COOKIE: &str = "natter_visitor";

/// A visitor's token: the one their cookie holds, or a new one, set on the response by
/// returning the `Visitor` among the response's parts.
pub struct Visitor {
    token: String,
    is_new: bool,
    secure: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secure = state.config.secure_cookies();
        Ok(match visitor_cookie(&parts.headers) {
            Some(token) => Visitor {
                token,
                is_new: false,
                secure,
            },
            None => Visitor {
                token: crate::secrets::random_token(),
                is_new: true,
                secure,
            },
        })
    }
}

impl IntoResponseParts for Visitor {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        if self.is_new {
            let cookie = format!(
                "{VISITOR_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=86400{}",
                self.token,
                if self.secure { "; Secure" } else { "" }
            );
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                res.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        Ok(res)
    }
}

fn visitor_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == VISITOR_COOKIE && value.len() >= 32)
        .map(|(_, value)| value.to_owned())
}

/// Replaces the session's token (at login, so a token seen before login is useless after).
pub async fn rotate(session: &Session) -> Result<String, AppError> {
    let token = crate::secrets::random_token();
    session.insert(SESSION_KEY, &token).await?;
    Ok(token)
}

/// Middleware: state-changing requests must carry the session's token.
pub async fn verify(session: Session, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS)
        || path.starts_with("/api/")
        || path.starts_with("/hooks/")
        || path.starts_with("/scim/")
        || path.starts_with(MAIL_LINKS)
    {
        return next.run(request).await;
    }
    let expected = match session.get::<String>(SESSION_KEY).await {
        Ok(expected) => expected.or_else(|| visitor_cookie(request.headers())),
        Err(e) => return AppError::from(e).into_response(),
    };
    let (parts, body) = request.into_parts();
    let header_token = parts
        .headers
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let is_form = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let (provided, body) = match header_token {
        Some(token) => (Some(token), body),
        None if is_form => {
            let Ok(bytes) = to_bytes(body, MAX_FORM_BYTES).await else {
                return AppError::Validation("That form is too large.".into()).into_response();
            };
            let token = form_urlencoded::parse(&bytes)
                .find(|(k, _)| k == FORM_FIELD)
                .map(|(_, v)| v.into_owned());
            (token, Body::from(bytes))
        }
        None if is_multipart(&parts.headers) => first_field_token(body).await,
        None => (None, body),
    };
    match (expected, provided) {
        (Some(expected), Some(provided)) if constant_time_eq(expected.as_bytes(), provided.as_bytes()) => {
            next.run(Request::from_parts(parts, body)).await
        }
        _ => AppError::Forbidden(
            "This form has expired or did not come from Natter. Go back, reload the page and try again."
                .into(),
        )
        .into_response(),
    }
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"))
}

/// The most of a multipart body read to find the token: its first field, which every form
/// with files puts first (a hidden input before the file inputs), is a few hundred bytes.
const MULTIPART_PEEK: usize = 16 * 1024;

/// A multipart form's token, from its first field (`csrf_token`), without reading the files
/// that follow: the bytes read to find it are put back in front of the rest of the body,
/// which then streams on to the handler.
async fn first_field_token(body: Body) -> (Option<String>, Body) {
    use futures_util::StreamExt;
    let mut stream = body.into_data_stream();
    let mut head = Vec::new();
    let mut token = None;
    while head.len() < MULTIPART_PEEK {
        match stream.next().await {
            Some(Ok(chunk)) => head.extend_from_slice(&chunk),
            _ => break,
        }
        if let Some(found) = token_in_first_part(&head) {
            token = found;
            break;
        }
    }
    let rest =
        futures_util::stream::once(
            async move { Ok::<_, axum::Error>(axum::body::Bytes::from(head)) },
        )
        .chain(stream);
    (token, Body::from_stream(rest))
}

/// `Some(token)` once the first part is complete and is `csrf_token`; `Some(None)` once it is
/// complete and is not; `None` while it is still arriving.
fn token_in_first_part(head: &[u8]) -> Option<Option<String>> {
    let text = String::from_utf8_lossy(head);
    let boundary_end = text.find("\r\n")?;
    let boundary = &text[..boundary_end];
    let headers_end = text[boundary_end..].find("\r\n\r\n")? + boundary_end;
    let part_headers = &text[boundary_end..headers_end];
    let value_start = headers_end + 4;
    let value_end = text[value_start..].find(&format!("\r\n{boundary}"))? + value_start;
    let named = part_headers.contains(&format!("name=\"{FORM_FIELD}\""));
    Some(named.then(|| text[value_start..value_end].to_owned()))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
