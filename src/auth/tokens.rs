//! Personal tokens for tools and scripts (`Authorization: Bearer ntr_…`).
//!
//! A token is 32 random bytes, shown once; only its SHA-256 is stored, so a leaked database
//! does not leak working tokens.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sqlx::{PgExecutor, PgPool};

use super::db::User;
use crate::web::{hash_secret, random_token};

const PREFIX: &str = "ntr_";

/// Makes a personal token for the user and returns it (the only time it is seen).
pub async fn create_personal(
    db: impl PgExecutor<'_>,
    user_id: i64,
    name: &str,
) -> sqlx::Result<String> {
    let token = format!("{PREFIX}{}", random_token());
    sqlx::query(
        "insert into api_tokens (user_id, token_hash, kind, name) values ($1, $2, 'personal', $3)",
    )
    .bind(user_id)
    .bind(hash_secret(&token))
    .bind(name)
    .execute(db)
    .await?;
    Ok(token)
}

/// The active user a bearer token belongs to, if the token is valid and not revoked.
pub async fn user_for_token(db: &PgPool, token: &str) -> sqlx::Result<Option<User>> {
    sqlx::query_as(
        "update api_tokens t set last_used_at = now()
         from users u
         where t.token_hash = $1 and t.revoked_at is null and u.id = t.user_id
           and u.deactivated_at is null
         returning u.id, u.email, u.username, u.display_name, u.is_bot",
    )
    .bind(hash_secret(token))
    .fetch_optional(db)
    .await
}

/// The token of an `Authorization: Bearer <token>` header, if there is one.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
