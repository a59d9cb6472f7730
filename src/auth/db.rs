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
