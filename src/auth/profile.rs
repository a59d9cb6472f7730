//! A person's profile: name, title, time zone and a status (emoji and text) that clears itself
//! at a chosen time, edited at `/settings/profile` and through Slack's `users.profile.set`.
//! One set of rules ([`ProfileChange::check`]) for both doors.

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use sqlx::PgExecutor;

use super::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

/// The profile columns of `users u`, with an expired status read as none.
pub const COLUMNS: &str = "u.title, u.avatar_key, coalesce(u.time_zone, '') as time_zone,
    case when u.status_expires_at is null or u.status_expires_at > now()
         then u.status_emoji else '' end as status_emoji,
    case when u.status_expires_at is null or u.status_expires_at > now()
         then u.status_text else '' end as status_text,
    case when u.status_expires_at > now()
         then extract(epoch from u.status_expires_at)::bigint else 0 end as status_expiration";

/// What others see of a person beyond their name.
#[derive(Clone, Debug, Default, sqlx::FromRow)]
pub struct Profile {
    pub title: String,
    /// The picture's key (served at [`super::avatar::url`]); `None` shows initials.
    pub avatar_key: Option<String>,
    /// An IANA zone, or "" for UTC.
    pub time_zone: String,
    /// `:palm_tree:`, or "".
    pub status_emoji: String,
    pub status_text: String,
    /// When the status clears (unix seconds), 0 for never: Slack's `status_expiration`.
    pub status_expiration: i64,
}

/// A change to someone's profile; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub display_name: Option<String>,
    pub title: Option<String>,
    pub time_zone: Option<String>,
    pub status_emoji: Option<String>,
    pub status_text: Option<String>,
    /// Unix seconds; 0 for never.
    pub status_expiration: Option<i64>,
}

fn invalid(message: &str) -> AppError {
    AppError::Validation(message.to_owned())
}

impl ProfileChange {
    /// Trims, checks and makes canonical what is given; says what to fix.
    pub async fn check(mut self, db: &sqlx::PgPool) -> Result<Self, AppError> {
        if let Some(name) = &mut self.display_name {
            *name = name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 80 {
                return Err(invalid("Enter your name (up to 80 characters)."));
            }
        }
        if let Some(title) = &mut self.title {
            *title = title.trim().to_owned();
            if title.chars().count() > 100 || title.chars().any(char::is_control) {
                return Err(invalid("A title is one line of up to 100 characters."));
            }
        }
        if let Some(zone) = &mut self.time_zone {
            *zone = zone.trim().to_owned();
            if !zone.is_empty() && (zone.len() > 64 || !is_time_zone(db, zone).await?) {
                return Err(invalid(
                    "That is not a time zone; choose one from the list, like Europe/Paris.",
                ));
            }
        }
        if let Some(emoji) = &mut self.status_emoji {
            let name = emoji.trim().trim_matches(':');
            *emoji = if name.is_empty() {
                String::new()
            } else {
                let name = crate::emoji::canonical(name).ok_or_else(|| {
                    invalid("A status emoji is one of the standard set, like :palm_tree:.")
                })?;
                format!(":{name}:")
            };
        }
        if let Some(text) = &mut self.status_text {
            *text = text.trim().to_owned();
            if text.chars().count() > 100 || text.chars().any(char::is_control) {
                return Err(invalid("A status is one line of up to 100 characters."));
            }
        }
        if let Some(at) = self.status_expiration {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            if at != 0 && !(now..now + 366 * 86_400).contains(&at) {
                return Err(invalid(
                    "A status clears at a time in the next year, or never (0).",
                ));
            }
        }
        Ok(self)
    }
}

/// Whether Postgres knows the time zone (its own copy of the IANA database).
pub async fn is_time_zone(db: impl PgExecutor<'_>, name: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from pg_timezone_names where name = $1)")
        .bind(name)
        .fetch_one(db)
        .await
}

/// Every time zone name, for the preferences page.
pub async fn time_zones(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "select name from pg_timezone_names
         where name !~ '^(posix|Etc/|SystemV/)' and name ~ '/' or name = 'UTC'
         order by name",
    )
    .fetch_all(db)
    .await
}

/// Stores a checked change.
pub async fn save(
    db: impl PgExecutor<'_>,
    user_id: i64,
    change: &ProfileChange,
) -> sqlx::Result<()> {
    sqlx::query(
        "update users set
             display_name = coalesce($2, display_name),
             title = coalesce($3, title),
             time_zone = case when $4::text is null then time_zone
                              else nullif($4, '') end,
             status_emoji = coalesce($5, status_emoji),
             status_text = coalesce($6, status_text),
             status_expires_at = case when $7::bigint is null then status_expires_at
                                      when $7 = 0 then null
                                      else to_timestamp($7) end
         where id = $1",
    )
    .bind(user_id)
    .bind(&change.display_name)
    .bind(&change.title)
    .bind(&change.time_zone)
    .bind(&change.status_emoji)
    .bind(&change.status_text)
    .bind(change.status_expiration)
    .execute(db)
    .await?;
    Ok(())
}

/// The person's name and profile.
pub async fn load(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> sqlx::Result<(String, String, Profile)> {
    #[derive(sqlx::FromRow)]
    struct Row {
        display_name: String,
        email: String,
        #[sqlx(flatten)]
        profile: Profile,
    }
    let row: Row = sqlx::query_as(&format!(
        "select u.display_name, u.email, {COLUMNS} from users u where u.id = $1"
    ))
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok((row.display_name, row.email, row.profile))
}

/// Tells everyone who can see the person (the same sockets that watch their presence) how they
/// look now. A failure is logged: the change is saved and shows on the next page anyway.
pub async fn publish(state: &AppState, user_id: i64) {
    let (name, _, profile) = match load(&state.db, user_id).await {
        Ok(loaded) => loaded,
        Err(e) => {
            tracing::warn!(error = %e, "a profile change was not published");
            return;
        }
    };
    let status_glyph = crate::emoji::glyph(profile.status_emoji.trim_matches(':'))
        .unwrap_or_default()
        .to_owned();
    state.realtime.publish(
        &crate::realtime::presence_topic(user_id),
        crate::realtime::frames::Event::UserUpdated {
            user_id,
            initials: initials(&name),
            name,
            avatar_url: profile.avatar_key.as_deref().map(super::avatar::url),
            title: profile.title,
            status_emoji: profile.status_emoji,
            status_glyph,
            status_text: profile.status_text,
            status_expiration: profile.status_expiration,
        },
    );
}

/// "AL" for Ada Lovelace: what stands in for a picture.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .collect::<String>()
        .to_uppercase()
}

#[derive(Template)]
#[template(path = "auth/profile.html")]
struct ProfilePage {
    me: CurrentUser,
    name: String,
    email: String,
    /// The address is confirmed by a link (or by the identity provider).
    email_confirmed: bool,
    /// This server sends mail: changes of address are confirmed by a link.
    mail_on: bool,
    profile: Profile,
    time_zones: Vec<String>,
    notice: String,
    error: String,
}

async fn render(
    state: &AppState,
    me: CurrentUser,
    status: StatusCode,
    notice: String,
    error: String,
) -> Result<Response, AppError> {
    let (name, _, profile) = load(&state.db, me.id).await?;
    let (email, email_confirmed) = super::email::status(&state.db, me.id).await?;
    let time_zones = time_zones(&state.db).await?;
    render_page(
        status,
        &ProfilePage {
            me,
            name,
            email,
            email_confirmed,
            mail_on: state.config.notify.smtp_url.is_some(),
            profile,
            time_zones,
            notice,
            error,
        },
    )
}

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    saved: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    me: CurrentUser,
    axum::extract::Query(shown): axum::extract::Query<Shown>,
) -> Result<Response, AppError> {
    let notice = shown.saved.map(|_| "Saved.".to_owned()).unwrap_or_default();
    render(&state, me, StatusCode::OK, notice, String::new()).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    time_zone: String,
    #[serde(default)]
    status_emoji: String,
    #[serde(default)]
    status_text: String,
    /// `never`, `30m`, `1h`, `4h`, `today` or `week`.
    #[serde(default)]
    status_clears: String,
}

/// `POST /settings/profile`.
pub async fn save_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(form): Form<ProfileForm>,
) -> Result<Response, AppError> {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let expiration = match form.status_clears.as_str() {
        "" | "never" => Some(0),
        "30m" => Some(now + 30 * 60),
        "1h" => Some(now + 3600),
        "4h" => Some(now + 4 * 3600),
        "today" => Some(now + 24 * 3600 - now.rem_euclid(24 * 3600)),
        "week" => Some(now + 7 * 86_400),
        // "keep": as it was set.
        _ => None,
    };
    let change = ProfileChange {
        display_name: Some(form.display_name),
        title: Some(form.title),
        time_zone: Some(form.time_zone),
        status_emoji: Some(form.status_emoji),
        status_text: Some(form.status_text),
        status_expiration: expiration,
    };
    match change.check(&state.db).await {
        Ok(change) => {
            save(&state.db, me.id, &change).await?;
            publish(&state, me.id).await;
            Ok(Redirect::to("/settings/profile?saved=1").into_response())
        }
        Err(AppError::Validation(error)) => refused(&state, me, error).await,
        Err(e) => Err(e),
    }
}

/// The profile page with a notice of what was done.
pub async fn noticed(
    state: &AppState,
    me: CurrentUser,
    notice: String,
) -> Result<Response, AppError> {
    render(state, me, StatusCode::OK, notice, String::new()).await
}

/// The profile page again with what to fix (422), nothing changed.
pub async fn refused(
    state: &AppState,
    me: CurrentUser,
    error: String,
) -> Result<Response, AppError> {
    render(
        state,
        me,
        StatusCode::UNPROCESSABLE_ENTITY,
        String::new(),
        error,
    )
    .await
}
