//! The one error type every handler returns.
//!
//! A user's mistake becomes a clear page with the right status (404, 403, 409, 422, 429); a
//! fault of ours becomes a 500 whose cause chain is logged and never shown. A non-member of a
//! private channel, DM or workspace gets [`AppError::NotFound`], never 403, so membership cannot
//! be probed. The error page itself ([`ErrorPage`]) lives here too, so this module imports
//! nothing of the crate: every other module may use it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use askama::Template;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing does not exist, or the asker may not know that it does.
    #[error("not found")]
    NotFound,
    /// Nobody is logged in: pages redirect to the login form.
    #[error("not logged in")]
    Unauthorized,
    /// A member of a workspace that requires two-factor authentication, without it: pages
    /// send them to set it up.
    #[error(
        "This workspace requires two-factor authentication. Turn it on in Settings → Two-factor."
    )]
    TwoFactorRequired,
    /// Logged in and a member, but not allowed to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The input cannot be accepted; the message says what to fix.
    #[error("{0}")]
    Validation(String),
    /// The upload is larger than the limit or the workspace's quota allows: 413, saying which.
    #[error("{0}")]
    TooLarge(String),
    /// The request collides with what exists (a taken name, an archived channel).
    #[error("{0}")]
    Conflict(String),
    /// Too many attempts; try again after `retry_after_secs`.
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The server is at capacity for this kind of work (password hashing): 503 with
    /// `Retry-After`; nothing was done.
    #[error("Natter is busy; try again in a few seconds.")]
    Busy { retry_after_secs: u64 },
    /// The database cannot be reached (down, restarting, or every connection taken for
    /// longer than the pool's wait): 503 with `Retry-After`. Nothing was stored.
    #[error(
        "Natter cannot reach its database right now. Nothing was saved; try again in a few seconds."
    )]
    Unavailable,
    /// Our fault: logged with its cause chain, shown as a generic 500.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<sqlx::Error> for AppError {
    fn from(error: sqlx::Error) -> Self {
        if is_outage(&error) {
            return Self::Unavailable;
        }
        Self::Internal(error.into())
    }
}

/// Whether a database error means the database is out of reach, rather than that a statement
/// was wrong: no connection within the pool's wait, a broken connection, or Postgres shutting
/// down or starting up (SQLSTATE class 08, 57P01–57P03).
pub fn is_outage(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(e) => e.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
        }),
        _ => false,
    }
}

/// Whether an error's cause chain holds a database outage (errors reach handlers wrapped).
pub fn chain_is_outage(error: &anyhow::Error) -> bool {
    error
        .chain()
        .any(|cause| cause.downcast_ref::<sqlx::Error>().is_some_and(is_outage))
}

impl From<askama::Error> for AppError {
    fn from(error: askama::Error) -> Self {
        Self::Internal(error.into())
    }
}

impl From<tower_sessions::session::Error> for AppError {
    fn from(error: tower_sessions::session::Error) -> Self {
        Self::Internal(anyhow::anyhow!("session store: {error}"))
    }
}

impl AppError {
    /// An internal error that is really the database being out of reach becomes
    /// [`AppError::Unavailable`].
    pub fn classified(self) -> Self {
        match self {
            Self::Internal(cause) if chain_is_outage(&cause) => Self::Unavailable,
            other => other,
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::TwoFactorRequired => StatusCode::FORBIDDEN,
            Self::Validation(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } | Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The name of the unique or check constraint a database error violated, if any.
pub fn violated_constraint(error: &sqlx::Error) -> Option<&str> {
    error.as_database_error().and_then(|e| e.constraint())
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let this = self.classified();
        let wants_json = WANTS_JSON.try_with(|w| *w).unwrap_or(false);
        let (title, message) = match &this {
            Self::Unauthorized if wants_json => ("Unauthorized", "Log in first.".to_owned()),
            Self::Unauthorized => return Redirect::to("/login").into_response(),
            Self::TwoFactorRequired if !wants_json => {
                return Redirect::to("/settings/security?required=1").into_response();
            }
            Self::TwoFactorRequired => ("Two-factor required", this.to_string()),
            Self::NotFound => (
                "Not found",
                "This page does not exist, or you do not have access to it.".to_owned(),
            ),
            Self::Forbidden(m) => ("Not allowed", m.clone()),
            Self::Validation(m) => ("Check your input", m.clone()),
            Self::Conflict(m) => ("That did not work", m.clone()),
            Self::TooLarge(m) => ("Too large", m.clone()),
            Self::RateLimited { message, .. } => ("Slow down", message.clone()),
            Self::Busy { .. } => ("Busy", this.to_string()),
            Self::Unavailable => ("Try again shortly", this.to_string()),
            Self::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                (
                    "Something went wrong",
                    "Natter hit an error on its side. Nothing you typed was lost; try again in a moment."
                        .to_owned(),
                )
            }
        };
        let status = this.status();
        if wants_json {
            let mut response = (
                status,
                axum::Json(serde_json::json!({"ok": false, "error": message})),
            )
                .into_response();
            add_retry_after(&mut response, &this);
            return response;
        }
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message: &message,
        };
        let body = page.render().unwrap_or_else(|_| message.clone());
        let mut response = (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response();
        add_retry_after(&mut response, &this);
        response
    }
}

/// The page every error is shown on, in the product's look.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage<'a> {
    pub status: u16,
    pub title: &'a str,
    pub message: &'a str,
}

fn add_retry_after(response: &mut Response, error: &AppError) {
    let secs = match error {
        AppError::RateLimited {
            retry_after_secs, ..
        }
        | AppError::Busy { retry_after_secs } => *retry_after_secs,
        AppError::Unavailable => 5,
        _ => return,
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
}

tokio::task_local! {
    /// Whether the request being answered asked for JSON (`Accept: application/json`): scripts
    /// get `{"ok": false, "error": "…"}` instead of an HTML page. Set by [`negotiate`].
    static WANTS_JSON: bool;
}

/// Middleware: remembers for the error responses of this request whether it asked for JSON.
pub async fn negotiate(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let wants_json = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json") && !v.contains("text/html"));
    WANTS_JSON.scope(wants_json, next.run(request)).await
}
