//! The Preferences page (`/settings/notifications`): desktop notifications, mail, do not
//! disturb (a pause and a daily schedule in the person's time zone) and the level of each
//! conversation; the pause menu in the sidebar; a channel's level from its menu.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use time::macros::format_description;

use super::{Level, db};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

/// One conversation's row on the page.
pub struct LevelRow {
    pub channel_id: i64,
    pub workspace_name: String,
    pub title: String,
    /// The stored level, or "" for the default.
    pub chosen: &'static str,
    /// "Default (Mentions and threads)".
    pub default_label: String,
}

#[derive(Template)]
#[template(path = "notifications/preferences.html")]
struct PrefsPage {
    me: CurrentUser,
    /// Whether this server can send mail (`NATTER_SMTP_URL`).
    mail_on: bool,
    delay_minutes: u64,
    email_notify: bool,
    /// "Thu 18:30" while do not disturb is on.
    dnd_ends: Option<String>,
    schedule_on: bool,
    dnd_start: String,
    dnd_end: String,
    time_zone: String,
    time_zones: Vec<String>,
    levels: Vec<LevelRow>,
    levels_all: [Level; 4],
    notice: String,
    error: String,
}

#[derive(Deserialize)]
pub struct Shown {
    #[serde(default)]
    saved: Option<String>,
}

fn hh_mm(t: Option<time::Time>, default: &str) -> String {
    t.map_or_else(
        || default.to_owned(),
        |t| format!("{:02}:{:02}", t.hour(), t.minute()),
    )
}

async fn render(
    state: &AppState,
    me: CurrentUser,
    status: StatusCode,
    notice: String,
    error: String,
) -> Result<Response, AppError> {
    let prefs = db::prefs(&state.db, me.id).await?;
    let levels = db::conversation_levels(&state.db, me.id)
        .await?
        .into_iter()
        .map(|c| LevelRow {
            channel_id: c.channel_id,
            workspace_name: c.workspace_name,
            title: c.title,
            chosen: c
                .notify
                .as_deref()
                .and_then(Level::parse)
                .map_or("", Level::as_str),
            default_label: format!("Default ({})", Level::default_for(c.kind).label()),
        })
        .collect();
    let page = PrefsPage {
        me,
        mail_on: state.config.notify.smtp_url.is_some(),
        delay_minutes: state.config.notify.email_delay_secs.div_ceil(60),
        email_notify: prefs.email_notify,
        dnd_ends: prefs.dnd_ends_local,
        schedule_on: prefs.dnd_start.is_some(),
        dnd_start: hh_mm(prefs.dnd_start, "22:00"),
        dnd_end: hh_mm(prefs.dnd_end, "08:00"),
        time_zone: prefs.time_zone.unwrap_or_default(),
        time_zones: crate::auth::profile::time_zones(&state.db).await?,
        levels,
        levels_all: Level::ALL,
        notice,
        error,
    };
    render_page(status, &page)
}

/// `GET /settings/notifications`.
pub async fn page(
    State(state): State<AppState>,
    me: CurrentUser,
    axum::extract::Query(shown): axum::extract::Query<Shown>,
) -> Result<Response, AppError> {
    let notice = if shown.saved.is_some() {
        "Saved.".to_owned()
    } else {
        String::new()
    };
    render(&state, me, StatusCode::OK, notice, String::new()).await
}

fn parse_time(text: &str) -> Option<time::Time> {
    time::Time::parse(text.trim(), format_description!("[hour]:[minute]")).ok()
}

/// `POST /settings/notifications`: the time zone, the schedule, mail and every level, as one
/// form (fields `level_<channel id>`).
pub async fn save(
    State(state): State<AppState>,
    me: CurrentUser,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, AppError> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
    };
    let outcome = async {
        let time_zone = match field("time_zone").unwrap_or("") {
            "" => None,
            zone if zone.len() <= 64 && crate::auth::profile::is_time_zone(&state.db, zone).await? => Some(zone),
            zone => {
                return Err(AppError::Validation(format!(
                    "{zone:?} is not a time zone; choose one from the list, like Europe/Paris."
                )));
            }
        };
        let schedule = if field("schedule").is_some() {
            let start = field("dnd_start").and_then(parse_time);
            let end = field("dnd_end").and_then(parse_time);
            match (start, end) {
                (Some(s), Some(e)) if s != e => Some((s, e)),
                _ => {
                    return Err(AppError::Validation(
                        "Give do not disturb's daily hours as two different times, like 22:00 and 08:00."
                            .into(),
                    ));
                }
            }
        } else {
            None
        };
        let mut channel_ids = Vec::new();
        let mut levels = Vec::new();
        for (name, value) in &fields {
            let Some(id) = name.strip_prefix("level_") else {
                continue;
            };
            let id: i64 = id
                .parse()
                .map_err(|_| AppError::Validation("A conversation's level is malformed.".into()))?;
            let level = match value.as_str() {
                "" | "default" => None,
                text => Some(Level::parse(text).ok_or_else(|| {
                    AppError::Validation(
                        "A level is all, mentions, nothing or mute (or the default).".into(),
                    )
                })?),
            };
            channel_ids.push(id);
            levels.push(level.map(Level::as_str));
        }
        let mut tx = state.db.begin().await?;
        db::save_prefs(
            &mut *tx,
            me.id,
            time_zone,
            schedule,
            field("email_notify").is_some(),
        )
        .await?;
        db::set_levels(&mut *tx, me.id, &channel_ids, &levels).await?;
        tx.commit().await?;
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => {
            super::publish_dnd(&state, me.id).await;
            Ok(Redirect::to("/settings/notifications?saved=1").into_response())
        }
        Err(AppError::Validation(error)) => {
            render(
                &state,
                me,
                StatusCode::UNPROCESSABLE_ENTITY,
                String::new(),
                error,
            )
            .await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
pub struct PauseForm {
    /// `30`, `60`, `tomorrow`, `custom` (with `until`) or `resume`.
    pause: String,
    #[serde(default)]
    until: String,
    /// Where to go back to: a path on this site.
    #[serde(default)]
    next: String,
}

/// `POST /settings/notifications/pause`: pause notifications for a while, or resume them.
pub async fn pause(
    State(state): State<AppState>,
    me: CurrentUser,
    headers: HeaderMap,
    Form(form): Form<PauseForm>,
) -> Result<Response, AppError> {
    let how = match form.pause.as_str() {
        "resume" => db::Pause::Resume,
        "tomorrow" => db::Pause::Tomorrow,
        "custom" => db::Pause::Until(
            time::PrimitiveDateTime::parse(
                form.until.trim(),
                format_description!("[year]-[month]-[day]T[hour]:[minute]"),
            )
            .map_err(|_| {
                AppError::Validation("Give the end of the pause as a date and a time.".into())
            })?,
        ),
        minutes => match minutes.parse::<i32>() {
            Ok(m) if (1..=24 * 60).contains(&m) => db::Pause::Minutes(m),
            _ => {
                return Err(AppError::Validation(
                    "Pause for 30 minutes, an hour, until tomorrow, or until a time you choose."
                        .into(),
                ));
            }
        },
    };
    let ends = db::pause(&state.db, me.id, how)
        .await?
        .map_err(|()| AppError::Validation("Choose a time in the next year, after now.".into()))?;
    super::publish_dnd(&state, me.id).await;
    if crate::web::wants_json(&headers) {
        return Ok(axum::Json(serde_json::json!({
            "ok": true, "dnd_until": ends.map(|e| e.unix_timestamp()),
        }))
        .into_response());
    }
    // Back where the pause was asked for, on this site only (never `//elsewhere` or `/\elsewhere`).
    let next = match crate::auth::safe_next(&form.next) {
        next if next == "/" => "/settings/notifications".to_owned(),
        next => next,
    };
    Ok(Redirect::to(&next).into_response())
}

#[derive(Deserialize)]
pub struct LevelForm {
    level: String,
}

/// `POST /w/<slug>/c/<id>/notifications`: the person's level in this conversation, from its
/// menu.
pub async fn set_level(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    headers: HeaderMap,
    Form(form): Form<LevelForm>,
) -> Result<Response, AppError> {
    let (_, access) = crate::channels::require_member(&state.db, &slug, channel_id, me.id).await?;
    let level = match form.level.as_str() {
        "" | "default" => None,
        text => Some(Level::parse(text).ok_or_else(|| {
            AppError::Validation("A level is all, mentions, nothing or mute.".into())
        })?),
    };
    db::set_levels(&state.db, me.id, &[channel_id], &[level.map(Level::as_str)]).await?;
    let effective = level.unwrap_or_else(|| Level::default_for(access.channel.kind));
    if crate::web::wants_json(&headers) {
        return Ok(axum::Json(serde_json::json!({
            "ok": true, "level": effective.as_str(), "label": effective.label(),
        }))
        .into_response());
    }
    let back = crate::channels::path(&slug, channel_id);
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, back)]).into_response())
}
