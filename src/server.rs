//! The top of the crate: start-up, the router that joins every domain, and the layers around
//! it (sessions, CSRF, security headers, tracing). Only the CLI and the tests import it.
//!
//! [`Server::build`] connects to Postgres, migrates, binds, and returns a server that tests can
//! start on port 0 exactly as `natter serve` starts it on 3000. [`Server::run`] starts the
//! background workers (bot events, the search outbox, expired sessions) beside the listener.

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::cookie::time::Duration as CookieDuration;
use tower_sessions::{ExpiredDeletion, Expiry, SessionManagerLayer};
use tower_sessions_sqlx_store::PostgresStore;

use crate::config::Config;
use crate::error::{self, AppError};
use crate::state::AppState;
use crate::{
    admin, auth, channels, index, integrations, messages, scim, search, web, workspaces, ws,
};

/// A bound, migrated server, ready to run.
pub struct Server {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Server {
    /// Connects to Postgres (creating and migrating the database as needed) and binds the
    /// listener, so that errors surface before anything is served.
    /// An empty `public_url` is filled in with the bound address (tests bind port 0).
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        // Outgoing HTTPS (bots' request URLs) uses rustls with ring, like the database driver.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let db = crate::db::connect(&config.database_url).await?;
        crate::db::migrate(&db).await?;
        let listener = TcpListener::bind(config.bind).await.with_context(|| {
            format!(
                "cannot listen on {} (is another Natter running?)",
                config.bind
            )
        })?;
        if config.public_url.is_empty() {
            config.public_url = format!("http://{}", listener.local_addr()?);
        }
        let state = AppState::new(db, config)?;
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then finishes in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let realtime = self.state.realtime.clone();
        tokio::spawn(crate::integrations::events::run_worker(self.state.clone()));
        self.state.search.spawn_worker(&self.state.db);
        tokio::spawn(workspaces::settings::run_retention(self.state.db.clone()));
        tokio::spawn(crate::files::gc::worker(self.state.clone()));
        tokio::spawn(crate::integrations::previews::run_worker(
            self.state.clone(),
        ));
        crate::notifications::spawn_workers(&self.state);
        let store = PostgresStore::new(self.state.db.clone());
        // Expired sessions are removed in the background; any node may do it.
        tokio::spawn(async move {
            let mut every_hour = tokio::time::interval(std::time::Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                if let Err(e) = store.delete_expired().await {
                    tracing::warn!(error = %e, "could not delete expired sessions; will retry");
                }
            }
        });
        // Nagle's algorithm holds a small write (an ack, a message frame) until the previous one
        // is acknowledged, and the peer delays that by up to 40 ms: chat is all small writes.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            // Sockets are not requests: tell them to go, so clients resume on another node.
            realtime.shut_down();
        })
        .await
        .context("the HTTP server stopped with an error")
    }
}

fn router(state: AppState) -> Router {
    let sessions = SessionManagerLayer::new(PostgresStore::new(state.db.clone()))
        .with_name("natter_session")
        .with_secure(state.config.secure_cookies())
        .with_same_site(SameSite::Lax)
        .with_http_only(true)
        .with_expiry(Expiry::OnInactivity(CookieDuration::days(30)));
    Router::new()
        .merge(auth::router())
        .merge(workspaces::router())
        .merge(channels::router())
        .merge(messages::router())
        .merge(crate::files::router())
        .merge(ws::router())
        .merge(integrations::router())
        .merge(admin::router())
        .merge(scim::router())
        .merge(search::router())
        .merge(crate::notifications::router())
        .merge(web::assets::router())
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .layer(middleware::from_fn(auth::csrf::verify))
        .layer(sessions)
        .layer(middleware::from_fn(error::negotiate))
        // Images only from Natter itself: no reader's browser fetches a URL a sender chose
        // (integration icons are fetched by the server and served from /icons). A response
        // with a stricter policy of its own (an icon's) keeps it.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
                 frame-ancestors 'none'",
            ),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("referrer-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    match index::outbox::lag_secs(&state.db).await {
        Ok(lag) => (
            axum::http::StatusCode::OK,
            axum::Json(serde_json::json!({
                "status": "ok",
                "search": state.search.name(),
                // How long the oldest change has waited for the search index.
                "search_lag_secs": (lag * 10.0).round() / 10.0,
            })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "health check cannot reach Postgres");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable", "postgres": "unreachable"})),
            )
        }
    }
}

async fn not_found() -> AppError {
    AppError::NotFound
}
