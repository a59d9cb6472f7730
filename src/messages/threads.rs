//! Following threads: who follows which (started, replied, mentioned, or by hand), how many
//! replies each follower has not read, and the Threads view that lists them.
//!
//! Replies are numbered per thread as they are sent (`reply_index`, under the channel's row
//! lock); the thread keeps the total and each follow keeps the index read to, so a follower's
//! unread replies are one subtraction, like the channel's unread count. The send statement
//! (`db::insert_sent`) writes the follows and returns the followers' unread counts for
//! `thread.unread`; reading a thread moves the follow's read point.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Redirect, Response};
use axum::{Form, Json};
use serde::Deserialize;
use sqlx::PgExecutor;

use super::view::{self, MessageView};
use crate::auth::CurrentUser;
use crate::auth::membership::require_member as require_workspace_member;
use crate::channels::db::FOLLOWED;
use crate::channels::shell::Shell;
use crate::channels::{self, require_access};
use crate::error::AppError;
use crate::realtime::frames::Event;
use crate::realtime::user_topic;
use crate::state::AppState;
use crate::web::templates::render_page;

/// Marks a thread read to its newest reply for someone who follows it; tells their other tabs.
pub async fn mark_read(
    state: &AppState,
    channel_id: i64,
    root_seq: i64,
    user_id: i64,
) -> Result<(), AppError> {
    let moved = sqlx::query(
        "update thread_follows f set read_index = r.reply_total, updated_at = now()
         from threads r
         where r.channel_id = f.channel_id and r.root_seq = f.root_seq
           and f.user_id = $1 and f.channel_id = $2 and f.root_seq = $3
           and f.read_index < r.reply_total",
    )
    .bind(user_id)
    .bind(channel_id)
    .bind(root_seq)
    .execute(&state.db)
    .await?
    .rows_affected();
    if moved > 0 {
        state.realtime.publish(
            &user_topic(user_id),
            Event::ThreadUnread {
                channel_id,
                root_seq,
                unread: 0,
            },
        );
    }
    Ok(())
}

/// Follows or unfollows a thread by hand; following starts read to the newest reply.
pub async fn set_following(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    root_seq: i64,
    user_id: i64,
    following: bool,
) -> sqlx::Result<bool> {
    let rows = sqlx::query(
        "insert into thread_follows (user_id, channel_id, root_seq, following, read_index)
         select $1, r.channel_id, r.seq, $4, coalesce(t.reply_total, 0) from messages r
         left join threads t on t.channel_id = r.channel_id and t.root_seq = r.seq
         where r.channel_id = $2 and r.seq = $3 and r.thread_root_seq is null
         on conflict (user_id, channel_id, root_seq) do update
         set following = excluded.following, updated_at = now()",
    )
    .bind(user_id)
    .bind(channel_id)
    .bind(root_seq)
    .bind(following)
    .execute(db)
    .await?
    .rows_affected();
    Ok(rows > 0)
}

/// Whether the person follows a thread, and the reply they have read to; `None` if they never
/// followed it.
pub async fn read_index(
    db: impl PgExecutor<'_>,
    channel_id: i64,
    root_seq: i64,
    user_id: i64,
) -> sqlx::Result<Option<(bool, i32)>> {
    sqlx::query_as(
        "select following, read_index from thread_follows
         where user_id = $1 and channel_id = $2 and root_seq = $3",
    )
    .bind(user_id)
    .bind(channel_id)
    .bind(root_seq)
    .fetch_optional(db)
    .await
}

#[derive(sqlx::FromRow)]
struct Followed {
    channel_id: i64,
    root_seq: i64,
    unread: i64,
}

/// A followed thread as the Threads view lists it.
pub struct FollowedThread {
    pub channel_title: String,
    pub channel_path: String,
    pub root: MessageView,
    pub unread: i64,
}

#[derive(Template)]
#[template(path = "messages/threads.html")]
struct ThreadsPage {
    shell: Shell,
    threads: Vec<FollowedThread>,
}

/// `GET /w/<slug>/threads`: the threads the person follows, newest reply first, unread first
/// marked.
pub async fn index(
    State(state): State<AppState>,
    me: CurrentUser,
    Path(slug): Path<String>,
) -> Result<Response, AppError> {
    let workspace = require_workspace_member(&state.db, &slug, me.id).await?;
    let followed: Vec<Followed> = sqlx::query_as(&format!(
        "select f.channel_id, f.root_seq, (r.reply_total - f.read_index)::bigint as unread
         {FOLLOWED} order by r.latest_reply_at desc nulls last limit 100"
    ))
    .bind(workspace.id)
    .bind(me.id)
    .fetch_all(&state.db)
    .await?;
    let shell = Shell::load(&state, &me, &workspace, 0).await?;
    let mut threads = Vec::with_capacity(followed.len());
    for f in followed {
        let channel_path = channels::path(&slug, f.channel_id);
        let Some(root) = view::load_one(
            &state.db,
            f.channel_id,
            f.root_seq,
            me.id,
            &channel_path,
            &me.csrf,
        )
        .await?
        else {
            continue;
        };
        threads.push(FollowedThread {
            channel_title: shell.title_of_id(f.channel_id),
            channel_path,
            root,
            unread: f.unread,
        });
    }
    render_page(StatusCode::OK, &ThreadsPage { shell, threads })
}

#[derive(Deserialize)]
pub struct FollowForm {
    #[serde(default)]
    follow: String,
}

/// `POST …/threads/<root>/follow` with `follow=1` or `0`.
pub async fn follow(
    State(state): State<AppState>,
    me: CurrentUser,
    Path((slug, channel_id, root_seq)): Path<(String, i64, i64)>,
    headers: axum::http::HeaderMap,
    Form(form): Form<FollowForm>,
) -> Result<Response, AppError> {
    let (_, access) = require_access(&state.db, &slug, channel_id, me.id).await?;
    if access.last_read_seq.is_none() {
        return Err(AppError::NotFound);
    }
    let following = form.follow == "1";
    if !set_following(&state.db, channel_id, root_seq, me.id, following).await? {
        return Err(AppError::NotFound);
    }
    if super::handlers::wants_json(&headers) {
        use axum::response::IntoResponse;
        return Ok(Json(serde_json::json!({ "ok": true, "following": following })).into_response());
    }
    let back = format!("{}?thread={root_seq}", channels::path(&slug, channel_id));
    Ok(axum::response::IntoResponse::into_response(Redirect::to(
        &back,
    )))
}
