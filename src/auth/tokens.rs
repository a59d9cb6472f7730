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
///
/// Every API call and socket comes through here, so it is a read; `last_used_at` is written
/// at most once a minute per token, not on every call.
pub async fn user_for_token(db: &PgPool, token: &str) -> sqlx::Result<Option<User>> {
    let found: Option<(i64, bool, User)> =
        sqlx::query_as::<_, (i64, bool, i64, String, String, String, bool)>(
            "select t.id, coalesce(t.last_used_at < now() - interval '1 minute', true),
                u.id, u.email, u.username, u.display_name, u.is_bot
         from api_tokens t join users u on u.id = t.user_id
         where t.token_hash = $1 and t.revoked_at is null and u.deactivated_at is null",
        )
        .bind(hash_secret(token))
        .fetch_optional(db)
        .await?
        .map(
            |(token_id, stale, id, email, username, display_name, is_bot)| {
                (
                    token_id,
                    stale,
                    User {
                        id,
                        email,
                        username,
                        display_name,
                        is_bot,
                    },
                )
            },
        );
    let Some((token_id, stale, user)) = found else {
        return Ok(None);
    };
    touch(db, token_id, stale).await?;
    Ok(Some(user))
}

/// Notes that a token was used, when its last note is over a minute old (`stale`, as the
/// look-up computed it): a read on every call, a write at most once a minute.
pub async fn touch(db: &PgPool, token_id: i64, stale: bool) -> sqlx::Result<()> {
    if stale {
        sqlx::query("update api_tokens set last_used_at = now() where id = $1")
            .bind(token_id)
            .execute(db)
            .await?;
    }
    Ok(())
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
