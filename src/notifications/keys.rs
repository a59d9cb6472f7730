//! Keys the instance makes once and keeps in Postgres (`instance_keys`), so every node uses the
//! same ones and a restart changes nothing: the VAPID key pair that browsers' push
//! subscriptions are bound to, and the key that signs mail's one-click links.

use rand::RngCore;
use sqlx::PgPool;

/// The VAPID private key (a P-256 scalar, 32 bytes).
pub const VAPID: &str = "vapid";
/// The HMAC key of mail's one-click links (32 bytes).
pub const MAIL_LINKS: &str = "mail-links";

/// The key called `name`, made by `make` if this instance has none yet. Two nodes starting
/// together both try to insert; the first wins and both read its key.
pub async fn get_or_create(
    db: &PgPool,
    name: &str,
    make: impl FnOnce() -> Vec<u8>,
) -> sqlx::Result<Vec<u8>> {
    if let Some(secret) = get(db, name).await? {
        return Ok(secret);
    }
    sqlx::query(
        "insert into instance_keys (name, secret) values ($1, $2) on conflict (name) do nothing",
    )
    .bind(name)
    .bind(make())
    .execute(db)
    .await?;
    sqlx::query_scalar("select secret from instance_keys where name = $1")
        .bind(name)
        .fetch_one(db)
        .await
}

async fn get(db: &PgPool, name: &str) -> sqlx::Result<Option<Vec<u8>>> {
    sqlx::query_scalar("select secret from instance_keys where name = $1")
        .bind(name)
        .fetch_optional(db)
        .await
}

/// 32 random bytes.
pub fn random_key() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}
