//! SQL for users.

use sqlx::PgExecutor;

/// A user as the rest of the app sees them.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub is_bot: bool,
}

pub async fn insert_user(
    db: impl PgExecutor<'_>,
    email: &str,
    username: &str,
    display_name: &str,
    password_hash: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into users (email, username, display_name, password_hash)
         values ($1, $2, $3, $4) returning id",
    )
    .bind(email)
    .bind(username)
    .bind(display_name)
    .bind(password_hash)
    .fetch_one(db)
    .await
}

/// The active user whose session this is, if the session has not been ended; its last use is
/// recorded at most once a minute.
/// Who a logged-in session belongs to, with what every page draws of them.
#[derive(Debug, sqlx::FromRow)]
pub struct SessionUser {
    pub id: i64,
    pub username: String,
    pub display_name: String,
    pub avatar_key: Option<String>,
    pub time_zone: Option<String>,
}

pub async fn session_user(
    db: impl PgExecutor<'_>,
    user_id: i64,
    session_key: &str,
) -> sqlx::Result<Option<SessionUser>> {
    sqlx::query_as(
        "with seen as (
             update user_sessions set last_seen_at = now()
             where id = $2 and user_id = $1 and last_seen_at < now() - interval '1 minute')
         select u.id, u.username, u.display_name, u.avatar_key, u.time_zone from users u
         where u.id = $1 and u.deactivated_at is null
           and exists (select 1 from user_sessions s where s.id = $2 and s.user_id = $1)",
    )
    .bind(user_id)
    .bind(session_key)
    .fetch_optional(db)
    .await
}

pub async fn insert_session(
    db: impl PgExecutor<'_>,
    key: &str,
    user_id: i64,
    user_agent: Option<&str>,
    address: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into user_sessions (id, user_id, user_agent, address) values ($1, $2, $3, $4)",
    )
    .bind(key)
    .bind(user_id)
    .bind(user_agent)
    .bind(address)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_session(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<()> {
    sqlx::query("delete from user_sessions where id = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// An active user by id; deactivated users are treated as gone.
pub async fn active_user(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "select id, email, username, display_name, is_bot from users
         where id = $1 and deactivated_at is null",
    )
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn user_by_email(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "select id, email, username, display_name, is_bot from users
         where lower(email) = lower($1) and deactivated_at is null",
    )
    .bind(email)
    .fetch_optional(db)
    .await
}

/// The id and password hash of the account a login names, by email or username.
pub async fn login_credentials(
    db: impl PgExecutor<'_>,
    login: &str,
) -> sqlx::Result<Option<(i64, String)>> {
    sqlx::query_as(
        "select id, password_hash from users
         where (lower(email) = lower($1) or username = lower($1)) and deactivated_at is null
           and not is_bot",
    )
    .bind(login)
    .fetch_optional(db)
    .await
}

/// Whether an invite with this hash can still be used (sign-up by invitation asks it).
pub async fn live_invite(db: impl PgExecutor<'_>, token_hash: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (select 1 from invites
                        where token_hash = $1 and expires_at > now() and uses < max_uses)",
    )
    .bind(token_hash)
    .fetch_one(db)
    .await
}

/// Whether the user is an instance admin (`natter admin grant`).
pub async fn is_instance_admin(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select coalesce((select is_instance_admin from users
                          where id = $1 and deactivated_at is null), false)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Makes the account with this email an instance admin; false when there is none.
pub async fn grant_instance_admin(db: impl PgExecutor<'_>, email: &str) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "update users set is_instance_admin = true
         where lower(email) = lower($1) and deactivated_at is null and not is_bot",
    )
    .bind(email)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Sets or clears an account's deactivation; its email, or `None` when there is no such
/// account (bots are managed by their workspace).
pub async fn set_deactivated(
    db: impl PgExecutor<'_>,
    user_id: i64,
    deactivated: bool,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "update users set deactivated_at = case when $2 then coalesce(deactivated_at, now()) end
         where id = $1 and not is_bot
         returning email",
    )
    .bind(user_id)
    .bind(deactivated)
    .fetch_optional(db)
    .await
}

/// An account as the instance admin page lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Account {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub display_name: String,
    pub deactivated: bool,
    pub is_instance_admin: bool,
    pub workspaces: i64,
}

/// People's accounts (not bots) whose email, username or name contains `search`, at most 500.
pub async fn accounts(db: impl PgExecutor<'_>, search: &str) -> sqlx::Result<Vec<Account>> {
    sqlx::query_as(
        "select u.id, u.email, u.username, u.display_name, u.deactivated_at is not null as deactivated,
                u.is_instance_admin,
                (select count(*) from workspace_members wm where wm.user_id = u.id) as workspaces
         from users u
         where not u.is_bot
           and ($1 = '' or strpos(lower(u.email || ' ' || u.username || ' ' || u.display_name),
                                  lower($1)) > 0)
         order by lower(u.email) limit 500",
    )
    .bind(search)
    .fetch_all(db)
    .await
}

/// Whether a username is in use.
pub async fn username_taken(db: impl PgExecutor<'_>, username: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar("select exists (select 1 from users where username = $1)")
        .bind(username)
        .fetch_one(db)
        .await
}

/// Whether an account has this email, and whether one has this username.
pub async fn taken(
    db: impl PgExecutor<'_>,
    email: &str,
    username: &str,
) -> sqlx::Result<(bool, bool)> {
    sqlx::query_as(
        "select exists (select 1 from users where lower(email) = lower($1)),
                exists (select 1 from users where username = $2)",
    )
    .bind(email)
    .bind(username)
    .fetch_one(db)
    .await
}

/// The stored password hash (`!` for accounts that have none).
pub async fn password_hash(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("select password_hash from users where id = $1 and deactivated_at is null")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Sets a new password hash and ends every session of the person but `keep`; returns the ended
/// sessions' keys (for their sockets).
pub async fn set_password(
    db: &sqlx::PgPool,
    user_id: i64,
    hash: &str,
    keep: Option<&str>,
) -> sqlx::Result<Vec<String>> {
    let mut tx = db.begin().await?;
    store_password(&mut *tx, user_id, hash).await?;
    let ended = end_sessions(&mut *tx, user_id, keep).await?;
    tx.commit().await?;
    Ok(ended)
}

pub async fn store_password(db: impl PgExecutor<'_>, user_id: i64, hash: &str) -> sqlx::Result<()> {
    sqlx::query("update users set password_hash = $2 where id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(db)
        .await?;
    Ok(())
}

/// Ends every session of the person but `keep`; their keys.
pub async fn end_sessions(
    db: impl PgExecutor<'_>,
    user_id: i64,
    keep: Option<&str>,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "delete from user_sessions where user_id = $1 and id is distinct from $2 returning id",
    )
    .bind(user_id)
    .bind(keep)
    .fetch_all(db)
    .await
}

/// Ends one session, if it is the person's.
pub async fn end_session_of(
    db: impl PgExecutor<'_>,
    user_id: i64,
    key: &str,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("delete from user_sessions where id = $1 and user_id = $2")
            .bind(key)
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected()
            == 1,
    )
}

#[derive(Debug, sqlx::FromRow)]
pub struct SessionInfo {
    pub id: String,
    pub user_agent: Option<String>,
    pub address: Option<String>,
    pub created_at: time::OffsetDateTime,
    pub last_seen_at: time::OffsetDateTime,
}

/// The person's sessions, most recently used first.
pub async fn sessions_of(db: impl PgExecutor<'_>, user_id: i64) -> sqlx::Result<Vec<SessionInfo>> {
    sqlx::query_as(
        "select id, user_agent, address, created_at, last_seen_at from user_sessions
         where user_id = $1 order by last_seen_at desc, created_at desc",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// A new account without a password (it logs in by reset or single sign-on).
pub async fn insert_account(
    db: impl PgExecutor<'_>,
    email: &str,
    username: &str,
    display_name: &str,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "insert into users (email, username, display_name, password_hash)
         values ($1, $2, $3, '!') returning id",
    )
    .bind(email)
    .bind(username)
    .bind(display_name)
    .fetch_one(db)
    .await
}
