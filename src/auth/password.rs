//! argon2id password hashing, run off the async threads because it is deliberately slow.
//!
//! Each hash costs 19 MiB and tens of milliseconds of a core, so at most one runs per core
//! ([`HASHING`]); a request that cannot get a turn within ten seconds is told the
//! server is busy (503, `Retry-After`) instead of queueing without bound, so a flood of
//! sign-ups or logins costs the attacker more than the server.

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::AppError;
use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

/// Hashes running at once: one per core.
static HASHING: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(2, |n| n.get())));
/// How long a request waits for a turn before it is told to come back.
const WAIT: Duration = Duration::from_secs(10);

async fn turn() -> Result<SemaphorePermit<'static>, AppError> {
    match tokio::time::timeout(WAIT, HASHING.acquire()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(AppError::Busy {
            retry_after_secs: 5,
        }),
    }
}

/// Hashes a password into a PHC string (`$argon2id$v=19$…`) with a fresh random salt.
pub async fn hash(password: String) -> Result<String, AppError> {
    let _turn = turn().await?;
    let hashed = tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("argon2: {e}"))
    })
    .await
    .context("password hashing task failed")??;
    Ok(hashed)
}

/// Checks a password against a stored hash. `None` stands for an unknown account, and a stored
/// value that is no hash (`!`: an account provisioned by SCIM or a bot, which has no password)
/// for one that cannot log in with a password: either way the work is still done against a
/// fixed hash, so the answer takes as long as for a real one.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, AppError> {
    let _turn = turn().await?;
    let verified = tokio::task::spawn_blocking(move || {
        let stored = stored.filter(|s| PasswordHash::new(s).is_ok());
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.to_owned());
        let parsed = PasswordHash::new(&stored).map_err(|e| anyhow::anyhow!("stored hash: {e}"))?;
        let ok = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok::<_, anyhow::Error>(known && ok)
    })
    .await
    .context("password check task failed")??;
    Ok(verified)
}

/// The hash of a random password nobody knows, with the default parameters.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0U9Ff3YYZ1kEr7mMLl3WyRSCNvCbXMiVWWv0YDQzd9I";

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn with_every_turn_taken_a_hash_waits_ten_seconds_then_answers_503() {
        let all = HASHING.available_permits() as u32;
        let _taken = HASHING.acquire_many(all).await.unwrap();
        let started = tokio::time::Instant::now();
        let busy = hash("password123".into()).await.unwrap_err();
        assert_eq!(started.elapsed(), WAIT);
        assert!(matches!(busy, AppError::Busy { .. }));
        let response = busy.into_response();
        assert_eq!(
            response.status(),
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(response.headers()["retry-after"], "5");
        let refused = verify("password123".into(), None).await.unwrap_err();
        assert!(matches!(refused, AppError::Busy { .. }));
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_nothing_else() {
        let stored = super::hash("correct horse".into()).await.unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            super::verify("correct horse".into(), Some(stored.clone()))
                .await
                .unwrap()
        );
        assert!(
            !super::verify("wrong horse".into(), Some(stored))
                .await
                .unwrap()
        );
        assert!(!super::verify("anything".into(), None).await.unwrap());
        assert!(!super::verify("!".into(), Some("!".into())).await.unwrap());
    }
}
