//! The Postgres pool: connect (creating the database when it is missing) and migrate.
//!
//! Connection failures are turned into one sentence that names the URL tried and how to start
//! a server, because that is the first thing a newcomer meets when Postgres is not running.

use std::time::Duration;

use anyhow::{Context, anyhow};
use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tower_sessions_sqlx_store::PostgresStore;

/// Connects to `database_url`, creating the database first if it does not exist.
pub async fn connect(database_url: &str) -> anyhow::Result<PgPool> {
    let shown = redact(database_url);
    let exists = sqlx::Postgres::database_exists(database_url)
        .await
        .map_err(|e| unreachable_error(&shown, e))?;
    if !exists {
        tracing::info!(url = %shown, "database does not exist yet; creating it");
        sqlx::Postgres::create_database(database_url)
            .await
            .with_context(|| format!("could not create the database at {shown}"))?;
    }
    PgPoolOptions::new()
        .max_connections(32)
        .acquire_timeout(Duration::from_secs(5))
        .connect(database_url)
        .await
        .map_err(|e| unreachable_error(&shown, e))
}

/// A second pool on the same database, for searches: at most 16 at once, and each statement
/// cut off after five seconds (`statement_timeout` is set as a connection opens, so a search
/// stays one round trip). Lazy: it connects on first use.
pub fn search_pool(main: &PgPool) -> PgPool {
    let options = (*main.connect_options())
        .clone()
        .options([("statement_timeout", "5s")]);
    PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options)
}

/// Applies Natter's migrations and the session store's table. Safe to run on every start.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    sqlx::migrate!("./migrations")
        .run(pool)
        .await
        .context("could not apply the database migrations")?;
    PostgresStore::new(pool.clone())
        .migrate()
        .await
        .context("could not create the session table")?;
    Ok(())
}

/// Stores an enum as its text (`as_str()`, read back with `FromStr`), so a column keeps
/// readable values like `public` or `guest` while Rust matches on a type.
#[macro_export]
macro_rules! text_column {
    ($t:ty) => {
        impl sqlx::Type<sqlx::Postgres> for $t {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl<'r> sqlx::Decode<'r, sqlx::Postgres> for $t {
            fn decode(
                value: sqlx::postgres::PgValueRef<'r>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse()?)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $t {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }
    };
}

fn unreachable_error(shown_url: &str, error: sqlx::Error) -> anyhow::Error {
    anyhow!(
        "cannot reach Postgres at {shown_url} ({error}). Start it (for example \
         `pg_ctlcluster 15 main start`, or `docker compose up -d postgres`) or point \
         DATABASE_URL at a running server."
    )
}

/// Hides a password in a database URL so it can be logged.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_hidden_in_shown_urls() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
