//! The audit log: every administrative action in the workspace, newest first, filtered by
//! actor, action and dates; the same rows as CSV for a spreadsheet or an auditor.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use time::macros::format_description;
use time::{Date, OffsetDateTime, Time};

use crate::audit::{self, Entry};
use crate::auth::CurrentUser;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

/// Rows on one page of the log, and in one CSV download at most.
const PAGE_ROWS: i64 = 200;
const CSV_ROWS: i64 = 100_000;

#[derive(Deserialize, Default)]
pub struct Filter {
    /// A username, with or without `@`.
    #[serde(default)]
    actor: String,
    /// An action, or its start: `member.` finds every member action.
    #[serde(default)]
    action: String,
    /// `YYYY-MM-DD`, inclusive.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

impl Filter {
    fn query(&self, workspace_id: i64, limit: i64) -> Result<audit::Query, AppError> {
        let day = |text: &str, name: &str| -> Result<Option<Date>, AppError> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            Date::parse(text.trim(), format_description!("[year]-[month]-[day]"))
                .map(Some)
                .map_err(|_| AppError::Validation(format!("{name} is a date like 2026-03-31.")))
        };
        let from = day(&self.from, "From")?;
        let to = day(&self.to, "To")?;
        Ok(audit::Query {
            workspace_id,
            actor: self.actor.trim().trim_start_matches('@').to_lowercase(),
            action: self.action.trim().to_owned(),
            from: from.map(|d| d.with_time(Time::MIDNIGHT).assume_utc()),
            until: to.map(|d| d.with_time(Time::MIDNIGHT).assume_utc() + time::Duration::days(1)),
            limit,
        })
    }
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    shell: Shell,
    entries: Vec<Entry>,
    filter: Filter,
    /// The same filters as a query string, for the CSV link.
    csv_query: String,
    error: String,
}

pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    let (entries, error, status) = match filter.query(workspace.id, PAGE_ROWS) {
        Ok(query) => (
            audit::entries(&state.db, &query).await?,
            String::new(),
            StatusCode::OK,
        ),
        Err(e) => (Vec::new(), e.to_string(), e.status()),
    };
    let csv_query = form_urlencoded::Serializer::new(String::new())
        .append_pair("actor", &filter.actor)
        .append_pair("action", &filter.action)
        .append_pair("from", &filter.from)
        .append_pair("to", &filter.to)
        .finish();
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(
        status,
        &AuditPage {
            shell,
            entries,
            filter,
            csv_query,
            error,
        },
    )
}

pub async fn csv(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Query(filter): Query<Filter>,
) -> Result<Response, AppError> {
    let workspace = super::require_admin(&state, &me, &slug).await?;
    let entries = audit::entries(&state.db, &filter.query(workspace.id, CSV_ROWS)?).await?;
    let mut out = String::from("time,actor,action,target\r\n");
    for e in &entries {
        let at =
            e.at.format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default();
        let row = [
            at.as_str(),
            e.actor.as_str(),
            e.action.as_str(),
            e.target.as_str(),
        ];
        let cells: Vec<String> = row.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push_str("\r\n");
    }
    let name = format!(
        "attachment; filename=\"{}-audit-{}.csv\"",
        workspace.slug,
        OffsetDateTime::now_utc().date()
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    )
        .into_response())
}

/// RFC 4180 quoting, and a leading `'` before what a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`): an audit target is text a member typed.
fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_cell("@ada: member → admin"), "'@ada: member → admin");
    }
}
