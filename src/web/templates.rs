//! Rendering askama templates into strings and HTML responses.

use askama::Template;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

/// Renders a template to a string.
pub fn render(template: &impl Template) -> Result<String, AppError> {
    Ok(template.render()?)
}

/// Renders a template as an HTML response with the given status.
pub fn render_page(status: StatusCode, template: &impl Template) -> Result<Response, AppError> {
    let body = render(template)?;
    Ok((
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response())
}
