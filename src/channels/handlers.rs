//! Browsing, creating, joining and leaving channels; topics; adding people; marking read.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;

use super::db::{self, ChannelMember, PublicChannel};
use super::{ChannelAccess, manage, require_access, require_member};
use crate::auth::CurrentUser;
use crate::auth::membership;
use crate::channels::shell::Shell;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::templates::render_page;

#[derive(Template)]
#[template(path = "channels/browse.html")]
struct BrowsePage {
    shell: Shell,
    channels: Vec<PublicChannel>,
}

#[derive(Template)]
#[template(path = "channels/new.html")]
struct NewChannelPage {
    shell: Shell,
    form: NewChannel,
    error: String,
}

#[derive(Template)]
#[template(path = "channels/details.html")]
struct DetailsPage {
    shell: Shell,
    access: ChannelAccess,
    title: String,
    members: Vec<ChannelMember>,
    /// The newest pins, each linking to its message.
    pinned: Vec<db::PinnedLine>,
    error: String,
}

#[derive(Deserialize, Default)]
pub struct NewChannel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    topic: String,
    #[serde(default)]
    private: Option<String>,
}

impl NewChannel {
    fn is_private(&self) -> bool {
        self.private.is_some()
    }
}

#[derive(Deserialize)]
pub struct TopicForm {
    #[serde(default)]
    topic: String,
}

#[derive(Deserialize)]
pub struct AddMemberForm {
    #[serde(default)]
    username: String,
}

#[derive(Deserialize)]
pub struct ReadForm {
    seq: i64,
}

pub async fn browse(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id)
        .await?
        .require_full_member("browse channels")?;
    let channels = db::public_channels(&state.db, workspace.id, me.id).await?;
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(StatusCode::OK, &BrowsePage { shell, channels })
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let workspace = super::require_creator(&state.db, workspace).await?;
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    render_page(
        StatusCode::OK,
        &NewChannelPage {
            shell,
            form: NewChannel::default(),
            error: String::new(),
        },
    )
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
    Form(form): Form<NewChannel>,
) -> Result<Response, AppError> {
    let workspace = membership::require_member(&state.db, &slug, me.id).await?;
    let workspace = super::require_creator(&state.db, workspace).await?;
    match super::create(
        &state.db,
        workspace.id,
        &form.name,
        form.is_private(),
        &form.topic,
        me.id,
        &[],
    )
    .await
    {
        Ok(channel_id) => {
            crate::audit::record(&state.db, workspace.id, me.id, "channel.create", &form.name)
                .await?;
            super::live::joined(&state, channel_id, me.id).await?;
            Ok(Redirect::to(&super::path(&slug, channel_id)).into_response())
        }
        Err(AppError::Validation(error)) => {
            let shell = Shell::load(&state, &me, &workspace, 0).await?;
            render_page(
                StatusCode::UNPROCESSABLE_ENTITY,
                &NewChannelPage { shell, form, error },
            )
        }
        Err(other) => Err(other),
    }
}

pub async fn details(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Response, AppError> {
    render_details(
        &state,
        &me,
        &slug,
        channel_id,
        String::new(),
        StatusCode::OK,
    )
    .await
}

async fn render_details(
    state: &AppState,
    me: &CurrentUser,
    slug: &str,
    channel_id: i64,
    error: String,
    status: StatusCode,
) -> Result<Response, AppError> {
    let (workspace, access) = require_access(&state.db, slug, channel_id, me.id).await?;
    let members = db::members_of(&state.db, channel_id).await?;
    let pinned = db::pinned_lines(&state.db, channel_id).await?;
    let shell = Shell::load(state, me, &workspace, channel_id).await?;
    let title = shell.title_of(&access);
    render_page(
        status,
        &DetailsPage {
            shell,
            access,
            title,
            members,
            pinned,
            error,
        },
    )
}

pub async fn join(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Redirect, AppError> {
    let (_, access) = require_access(&state.db, &slug, channel_id, me.id).await?;
    if access.channel.archived {
        return Err(AppError::Conflict("This channel is archived.".into()));
    }
    if db::add_member(&state.db, channel_id, me.id).await? {
        super::live::joined(&state, channel_id, me.id).await?;
    }
    Ok(Redirect::to(&super::path(&slug, channel_id)))
}

pub async fn leave(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
) -> Result<Redirect, AppError> {
    let (_, access) = require_member(&state.db, &slug, channel_id, me.id).await?;
    if access.channel.is_general {
        return Err(AppError::Forbidden("Everyone stays in #general.".into()));
    }
    if access.channel.is_dm() {
        return Err(AppError::Forbidden(
            "Direct messages cannot be left.".into(),
        ));
    }
    if db::remove_member(&state.db, channel_id, me.id).await? {
        super::live::left(&state, channel_id, me.id);
    }
    Ok(Redirect::to(&format!("/w/{slug}")))
}

pub async fn set_topic(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    Form(form): Form<TopicForm>,
) -> Result<Response, AppError> {
    require_member(&state.db, &slug, channel_id, me.id).await?;
    match super::check_topic(&form.topic) {
        Ok(topic) => {
            db::set_topic(&state.db, channel_id, &topic).await?;
            Ok(Redirect::to(&super::path(&slug, channel_id)).into_response())
        }
        Err(AppError::Validation(error)) => {
            render_details(
                &state,
                &me,
                &slug,
                channel_id,
                error,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
        Err(other) => Err(other),
    }
}

pub async fn add_member(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    Form(form): Form<AddMemberForm>,
) -> Result<Response, AppError> {
    let (workspace, access) = require_member(&state.db, &slug, channel_id, me.id).await?;
    if access.channel.is_dm() {
        return Err(AppError::Forbidden(
            "People cannot be added to a direct message; start a new one with everyone instead."
                .into(),
        ));
    }
    let username = form.username.trim().trim_start_matches('@').to_lowercase();
    let Some(user_id) = db::workspace_user_by_username(&state.db, workspace.id, &username).await?
    else {
        let error = format!("Nobody in this workspace has the username @{username}.");
        return render_details(
            &state,
            &me,
            &slug,
            channel_id,
            error,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    };
    if db::add_member(&state.db, channel_id, user_id).await? {
        super::live::joined(&state, channel_id, user_id).await?;
    }
    Ok(Redirect::to(&format!("{}/details", super::path(&slug, channel_id))).into_response())
}

/// Marks the channel read up to `seq` (scripts call this when messages come into view).
pub async fn mark_read(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id)): Path<(String, i64)>,
    Form(form): Form<ReadForm>,
) -> Result<Json<serde_json::Value>, AppError> {
    require_member(&state.db, &slug, channel_id, me.id).await?;
    let last_read_seq = db::mark_read(&state.db, channel_id, me.id, form.seq).await?;
    super::live::read_moved(&state, channel_id, me.id, last_read_seq).await?;
    Ok(Json(
        serde_json::json!({ "channel_id": channel_id, "last_read_seq": last_read_seq }),
    ))
}

#[derive(Deserialize)]
pub struct ManageForm {
    /// The new name, for `rename`.
    #[serde(default)]
    name: String,
}

/// `POST …/c/<id>/<action>` from the details page: `archive`, `unarchive`, `rename`,
/// `private`. A refusal is shown on the details page, saying why.
pub async fn manage(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, action)): Path<(String, i64, String)>,
    Form(form): Form<ManageForm>,
) -> Result<Response, AppError> {
    let (workspace, _) = require_access(&state.db, &slug, channel_id, me.id).await?;
    let done = match action.as_str() {
        "archive" => {
            manage::set_archived(&state.db, &workspace, Some(me.id), channel_id, true).await
        }
        "unarchive" => {
            manage::set_archived(&state.db, &workspace, Some(me.id), channel_id, false).await
        }
        "rename" => manage::rename(&state.db, &workspace, Some(me.id), channel_id, &form.name)
            .await
            .map(|_| ()),
        "private" => manage::make_private(&state.db, &workspace, Some(me.id), channel_id).await,
        _ => return Err(AppError::NotFound),
    };
    match done.map_err(AppError::from) {
        Ok(()) => Ok(
            Redirect::to(&format!("{}/details", super::path(&slug, channel_id))).into_response(),
        ),
        Err(e @ (AppError::Validation(_) | AppError::Conflict(_) | AppError::Forbidden(_))) => {
            let status = e.status();
            render_details(&state, &me, &slug, channel_id, e.to_string(), status).await
        }
        Err(e) => Err(e),
    }
}
