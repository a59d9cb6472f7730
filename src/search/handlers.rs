//! The search page: a box, results with channel, author, time and a highlighted snippet, paged;
//! each result opens its channel around that message.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Results, Sort};
use crate::auth::CurrentUser;
use crate::auth::membership;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

/// Results per page.
const PER_PAGE: i64 = 20;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    sort: Option<String>,
}

#[derive(Template)]
#[template(path = "search/results.html")]
struct SearchPage {
    shell: Shell,
    q: String,
    best_match: bool,
    results: Option<Results>,
    error: String,
}

impl SearchPage {
    fn page_link(&self, page: i64) -> String {
        let sort = if self.best_match { "&sort=best" } else { "" };
        let q: String = form_urlencoded::byte_serialize(self.q.as_bytes()).collect();
        format!(
            "/w/{}/search?q={q}&page={page}{sort}",
            self.shell.workspace.slug
        )
    }

    fn time_of(&self, hit: &super::Hit) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
        hit.created_at.format(&format).unwrap_or_default()
    }

    fn iso(&self, hit: &super::Hit) -> String {
        hit.created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    }
}

pub async fn page(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Query(query): Query<SearchQuery>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let best_match = query.sort.as_deref() == Some("best");
    let sort = if best_match {
        Sort::BestMatch
    } else {
        Sort::Newest
    };
    let (results, error, status) = if query.q.trim().is_empty() {
        (None, String::new(), StatusCode::OK)
    } else {
        match super::search(
            &state,
            workspace.id,
            me.id,
            &query.q,
            sort,
            query.page.unwrap_or(1),
            PER_PAGE,
        )
        .await
        {
            Ok(results) => (Some(results), String::new(), StatusCode::OK),
            Err(AppError::Validation(error)) => (None, error, StatusCode::UNPROCESSABLE_ENTITY),
            Err(other) => return Err(other),
        }
    };
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(
        status,
        &SearchPage {
            shell,
            q: query.q,
            best_match,
            results,
            error,
        },
    )
}
