//! A person's card: picture, name, title, status, local time and a way to message them. It
//! opens over the page from any name or picture (`?card=1` gives the card alone, for scripts),
//! and is a page of its own without scripts.
//!
//! Only people who share a workspace with the reader have a card; to anyone else the person
//! does not exist (404), like any other door.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use sqlx::PgExecutor;

use crate::auth::CurrentUser;
use crate::auth::profile::{self, Profile};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::{render, render_page};

/// Someone as their card shows them.
#[derive(sqlx::FromRow)]
pub struct Person {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub email: String,
    pub is_bot: bool,
    #[sqlx(flatten)]
    pub profile: Profile,
    /// "14:05" where they are ("" when they set no zone).
    pub local_time: String,
}

impl Person {
    /// When the status clears, RFC 3339 (scripts show it in the reader's zone).
    pub fn status_until(&self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.profile.status_expiration)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    }

    /// The status's emoji itself, "" for none.
    pub fn status_glyph(&self) -> &'static str {
        crate::emoji::glyph(self.profile.status_emoji.trim_matches(':')).unwrap_or_default()
    }
}

/// The person, if they are active and share a workspace with `reader`.
async fn find(db: impl PgExecutor<'_>, reader: i64, user_id: i64) -> sqlx::Result<Option<Person>> {
    sqlx::query_as(&format!(
        "select u.id, u.username, u.display_name, u.email, u.is_bot, {columns},
                case when u.time_zone is null then ''
                     else to_char(now() at time zone u.time_zone, 'HH24:MI') end as local_time
         from users u
         where u.id = $2 and u.deactivated_at is null
           and exists (select 1 from workspace_members theirs
                       join workspace_members mine
                         on mine.workspace_id = theirs.workspace_id
                        and mine.user_id = $1 and mine.deactivated_at is null
                       where theirs.user_id = u.id and theirs.deactivated_at is null)",
        columns = profile::COLUMNS
    ))
    .bind(reader)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

#[derive(Template)]
#[template(path = "people/_card.html")]
struct Card {
    person: Person,
    me: CurrentUser,
    /// The workspace to message them in, when both belong to it.
    workspace: Option<String>,
}

#[derive(Template)]
#[template(path = "people/page.html")]
struct CardPage {
    card: Card,
}

#[derive(Deserialize)]
pub struct CardQuery {
    /// The card alone, for the popover.
    #[serde(default)]
    card: Option<String>,
    /// The workspace on screen (`w=<slug>`), for "Message".
    #[serde(default)]
    w: Option<String>,
}

/// `GET /people/<id>`.
pub async fn show(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(user_id): Path<i64>,
    Query(query): Query<CardQuery>,
) -> Result<Response, AppError> {
    let person = find(&state.db, me.id, user_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let workspace = match query.w {
        Some(slug) => shared_workspace(&state.db, &slug, me.id, user_id).await?,
        None => None,
    };
    let card = Card {
        person,
        me,
        workspace,
    };
    if query.card.is_some() {
        return Ok(Html(render(&card)?).into_response());
    }
    render_page(StatusCode::OK, &CardPage { card })
}

/// `slug` if both people are active members of it.
async fn shared_workspace(
    db: impl PgExecutor<'_>,
    slug: &str,
    reader: i64,
    user_id: i64,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "select w.slug from workspaces w
         where w.slug = $1
           and (select count(*) from workspace_members wm
                where wm.workspace_id = w.id and wm.user_id in ($2, $3)
                  and wm.deactivated_at is null) = case when $2 = $3 then 1 else 2 end",
    )
    .bind(slug)
    .bind(reader)
    .bind(user_id)
    .fetch_optional(db)
    .await
}
