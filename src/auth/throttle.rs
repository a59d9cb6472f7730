//! Login throttling, per account and per address, over a sliding window.
//!
//! Failures are rows in Postgres, so the limit holds across every node and restart. A success
//! clears the account's failures; the address's failures age out on their own.

use sqlx::PgPool;

use crate::error::AppError;

/// How far back failures count.
const WINDOW_SECS: i64 = 15 * 60;
/// Failed attempts allowed per account within the window.
const PER_ACCOUNT: i64 = 5;
/// Failed attempts allowed per address within the window (many accounts from one place).
const PER_ADDRESS: i64 = 30;

/// Refuses the attempt if the account or the address has failed too often lately.
pub async fn check(db: &PgPool, account: &str, address: &str) -> Result<(), AppError> {
    let (by_account, by_address, retry_after): (i64, i64, Option<i64>) = sqlx::query_as(
        "with recent as (
             select account, address, at from login_failures
             where (account = $1 or address = $2) and at > now() - make_interval(secs => $3)
         )
         select
             (select count(*) from recent where account = $1),
             (select count(*) from recent where address = $2),
             (select ceil(extract(epoch from min(at) + make_interval(secs => $3) - now()))::bigint
              from recent)",
    )
    .bind(account_key(account))
    .bind(address)
    .bind(WINDOW_SECS as f64)
    .fetch_one(db)
    .await?;
    if by_account >= PER_ACCOUNT || by_address >= PER_ADDRESS {
        let secs = retry_after.unwrap_or(WINDOW_SECS).clamp(1, WINDOW_SECS) as u64;
        let minutes = secs.div_ceil(60);
        return Err(AppError::RateLimited {
            message: format!(
                "Too many failed login attempts. Wait {minutes} minute{} and try again.",
                if minutes == 1 { "" } else { "s" }
            ),
            retry_after_secs: secs,
        });
    }
    Ok(())
}

pub async fn record_failure(db: &PgPool, account: &str, address: &str) -> sqlx::Result<()> {
    sqlx::query("insert into login_failures (account, address) values ($1, $2)")
        .bind(account_key(account))
        .bind(address)
        .execute(db)
        .await?;
    // Old rows are useless; dropping them here keeps the table small without a cron job.
    sqlx::query("delete from login_failures where at < now() - make_interval(secs => $1)")
        .bind(WINDOW_SECS as f64 * 4.0)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn clear(db: &PgPool, account: &str) -> sqlx::Result<()> {
    sqlx::query("delete from login_failures where account = $1")
        .bind(account_key(account))
        .execute(db)
        .await?;
    Ok(())
}

fn account_key(account: &str) -> String {
    account.trim().to_lowercase()
}
