//! Personal tokens for tools and scripts (`Authorization: Bearer ntr_…`).
//!
//! A token is 32 random bytes, shown once; only its SHA-256 is stored, so a leaked database
//! does not leak working tokens.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use sqlx::{PgExecutor, PgPool};

use super::db::User;
use crate::secrets::{hash_secret, random_token};

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

/// What a look-up by token finds: the token, whether its last use was noted over a minute ago,
/// and its active user. Every look-up by token selects [`TOKEN_USE`] from [`TOKEN_FROM`] where
/// [`TOKEN_VALID`] (`t` the token, `u` its user, `$1` the token's hash), then calls [`touch`].
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TokenUse {
    pub token_id: i64,
    pub stale: bool,
    #[sqlx(flatten)]
    pub user: User,
}

pub const TOKEN_USE: &str = "t.id as token_id,
    coalesce(t.last_used_at < now() - interval '1 minute', true) as stale,
    u.id, u.email, u.username, u.display_name, u.is_bot";
pub const TOKEN_FROM: &str = "api_tokens t join users u on u.id = t.user_id";
pub const TOKEN_VALID: &str =
    "t.token_hash = $1 and t.revoked_at is null and u.deactivated_at is null";

/// The active user a bearer token belongs to, if the token is valid and not revoked.
///
/// Every API call and socket comes through here (the Web API through
/// `integrations::api::db::caller`, which adds the workspace), so it is a read;
/// `last_used_at` is written at most once a minute per token, not on every call.
pub async fn user_for_token(db: &PgPool, token: &str) -> sqlx::Result<Option<User>> {
    let found: Option<TokenUse> = sqlx::query_as(&format!(
        "select {TOKEN_USE} from {TOKEN_FROM} where {TOKEN_VALID}"
    ))
    .bind(hash_secret(token))
    .fetch_optional(db)
    .await?;
    let Some(found) = found else {
        return Ok(None);
    };
    touch(db, &found).await?;
    Ok(Some(found.user))
}

/// Notes that a token was used, when its last note is over a minute old: a read on every
/// call, a write at most once a minute.
pub async fn touch(db: &PgPool, found: &TokenUse) -> sqlx::Result<()> {
    if found.stale {
        sqlx::query("update api_tokens set last_used_at = now() where id = $1")
            .bind(found.token_id)
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
