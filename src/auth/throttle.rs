//! Login throttling over a sliding window, counted before the password is checked.
//!
//! Each attempt is a row in Postgres, written before `verify` runs and under a per-account
//! advisory lock, so two hundred attempts sent at once are counted one by one: the sixth
//! finds five before it and is refused without any password work. A success removes its own
//! row and the failures of that account from that address; failures age out on their own.
//!
//! The limits prefer slowing an attacker to locking out the owner: the tight one is per
//! (account, address) pair, so a stranger who fails five times blocks only themselves; an
//! address that tries many accounts, and an account tried from many addresses, have looser
//! limits of their own. An account is the person, whichever of their email or username is
//! typed (the caller passes the same key for both).

use sqlx::PgPool;

use crate::error::AppError;

/// How far back attempts count.
const WINDOW_SECS: i64 = 15 * 60;
/// Failed attempts per account from one address within the window.
const PER_PAIR: i64 = 5;
/// Failed attempts from one address within the window (many accounts from one place).
const PER_ADDRESS: i64 = 30;
/// Failed attempts on one account from everywhere within the window (a spread-out attack).
const PER_ACCOUNT: i64 = 100;

/// An attempt, counted as a failure until [`succeeded`] says otherwise.
pub struct Attempt {
    id: i64,
    account: String,
    address: String,
}

/// Counts the attempt, or refuses it if the pair, the address or the account has failed too
/// often lately. `account` is the person's key: their id when the login names one.
pub async fn begin(db: &PgPool, account: &str, address: &str) -> Result<Attempt, AppError> {
    let mut tx = db.begin().await?;
    // Attempts on one account queue here, so none is counted twice and none is missed.
    sqlx::query("select pg_advisory_xact_lock(hashtext('natter-login:' || $1))")
        .bind(account)
        .execute(&mut *tx)
        .await?;
    let (by_pair, by_address, by_account, retry_after): (i64, i64, i64, Option<i64>) =
        sqlx::query_as(
            "with recent as (
                 select account, address, at from login_failures
                 where (account = $1 or address = $2) and account <> 'signup:'
                   and at > now() - make_interval(secs => $3)
             )
             select
                 (select count(*) from recent where account = $1 and address = $2),
                 (select count(*) from recent where address = $2),
                 (select count(*) from recent where account = $1),
                 (select ceil(extract(epoch from min(at) + make_interval(secs => $3) - now()))::bigint
                  from recent)",
        )
        .bind(account)
        .bind(address)
        .bind(WINDOW_SECS as f64)
        .fetch_one(&mut *tx)
        .await?;
    if by_pair >= PER_PAIR || by_address >= PER_ADDRESS || by_account >= PER_ACCOUNT {
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
    let id: i64 = sqlx::query_scalar(
        "insert into login_failures (account, address) values ($1, $2) returning id",
    )
    .bind(account)
    .bind(address)
    .fetch_one(&mut *tx)
    .await?;
    // Old rows are useless; dropping them here keeps the table small without a cron job.
    sqlx::query("delete from login_failures where at < now() - make_interval(secs => $1)")
        .bind(WINDOW_SECS as f64 * 4.0)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(Attempt {
        id,
        account: account.to_owned(),
        address: address.to_owned(),
    })
}

/// Sign-ups from one address within the window: every attempt counts, made or not, since
/// each may cost a password hash.
const SIGNUPS_PER_ADDRESS: i64 = 40;
/// The account key sign-up attempts are recorded under.
const SIGNUP: &str = "signup:";

/// Counts a sign-up attempt from this address, or refuses it past the limit.
pub async fn signup(db: &PgPool, address: &str) -> Result<(), AppError> {
    per_address(
        db,
        SIGNUP,
        address,
        SIGNUPS_PER_ADDRESS,
        "Too many sign-ups from your network. Try again in 15 minutes.",
    )
    .await
}

/// Password resets asked for from one address in the window.
const RESETS_PER_ADDRESS: i64 = 10;

/// Counts a password-reset request from this address, or refuses it past the limit.
pub async fn reset(db: &PgPool, address: &str) -> Result<(), AppError> {
    per_address(
        db,
        "reset:",
        address,
        RESETS_PER_ADDRESS,
        "Too many password resets from your network. Try again in 15 minutes.",
    )
    .await
}

/// Counts an attempt of `kind` from this address, or refuses it past `limit` in the window.
async fn per_address(
    db: &PgPool,
    kind: &str,
    address: &str,
    limit: i64,
    refusal: &str,
) -> Result<(), AppError> {
    let mut tx = db.begin().await?;
    sqlx::query("select pg_advisory_xact_lock(hashtext('natter-' || $1 || $2))")
        .bind(kind)
        .bind(address)
        .execute(&mut *tx)
        .await?;
    let recent: i64 = sqlx::query_scalar(
        "select count(*) from login_failures
         where account = $1 and address = $2 and at > now() - make_interval(secs => $3)",
    )
    .bind(kind)
    .bind(address)
    .bind(WINDOW_SECS as f64)
    .fetch_one(&mut *tx)
    .await?;
    if recent >= limit {
        return Err(AppError::RateLimited {
            message: refusal.to_owned(),
            retry_after_secs: WINDOW_SECS as u64,
        });
    }
    sqlx::query("insert into login_failures (account, address) values ($1, $2)")
        .bind(kind)
        .bind(address)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The attempt was right: it and this pair's failures no longer count.
pub async fn succeeded(db: &PgPool, attempt: Attempt) -> sqlx::Result<()> {
    sqlx::query("delete from login_failures where id = $1 or (account = $2 and address = $3)")
        .bind(attempt.id)
        .bind(&attempt.account)
        .bind(&attempt.address)
        .execute(db)
        .await?;
    Ok(())
}
