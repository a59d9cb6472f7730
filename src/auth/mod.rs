//! Accounts and sessions: sign up, log in, log out, who is asking, and CSRF.
//!
//! Passwords are argon2id hashes ([`password`]). Sessions live in Postgres through
//! tower-sessions, so they survive restarts and work on every node; the session id is rotated
//! at login. Failed logins are throttled per account and per address ([`throttle`]). Every
//! state-changing request made with the session cookie carries the session's CSRF token
//! ([`csrf`]). Handlers learn who is asking through the [`CurrentUser`] extractor.

pub mod accounts;
pub mod csrf;
pub mod db;
mod handlers;
pub mod live;
pub mod membership;
pub mod password;
pub mod session;
pub mod throttle;
pub mod tokens;

use axum::Router;
use axum::routing::{get, post};

pub use session::CurrentUser;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(handlers::login_form).post(handlers::login))
        .route("/signup", get(handlers::signup_form).post(handlers::signup))
        .route("/logout", post(handlers::logout))
}
