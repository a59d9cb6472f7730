//! Accounts and sessions: sign up, log in, log out, who is asking, and CSRF.
//!
//! Passwords are argon2id hashes ([`password`]). Sessions live in Postgres through
//! tower-sessions, so they survive restarts and work on every node; the session id is rotated
//! at login. Failed logins are throttled per account and per address ([`throttle`]). Every
//! state-changing request made with the session cookie carries the session's CSRF token
//! ([`csrf`]). Handlers learn who is asking through the [`CurrentUser`] extractor. Each
//! logged-in session has a row its person can see and end (`/settings/sessions`); changing the
//! password (`/settings/password`) or resetting it by mail (`/forgot`) ends the others.

pub mod accounts;
pub mod avatar;
pub mod csrf;
pub mod db;
mod email;
mod handlers;
pub mod live;
pub mod membership;
pub mod oidc;
pub mod password;
pub mod profile;
mod reset;
pub mod session;
mod settings;
pub mod throttle;
pub mod tokens;
pub mod two_factor;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use handlers::safe_next;
pub use session::CurrentUser;

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(handlers::login_form).post(handlers::login))
        .route("/signup", get(handlers::signup_form).post(handlers::signup))
        .route("/logout", post(handlers::logout))
        .route("/forgot", get(reset::forgot_page).post(reset::forgot))
        .route("/reset/{token}", get(reset::reset_page).post(reset::reset))
        .route(
            "/settings/password",
            get(settings::password_page).post(settings::change_password),
        )
        .route("/settings/sessions", get(settings::sessions_page))
        .route(
            "/settings/profile",
            get(profile::page).post(profile::save_form),
        )
        .route(
            "/settings/sessions/end-others",
            post(settings::end_other_sessions),
        )
        .route("/settings/sessions/{key}/end", post(settings::end_session))
        .route(
            "/settings/profile/avatar",
            // Pictures are counted as they arrive, against avatar::MAX_BYTES; a body past
            // that by a margin is cut off unread.
            post(avatar::upload).layer(DefaultBodyLimit::max(avatar::MAX_BYTES + 64 * 1024)),
        )
        .route("/settings/profile/avatar/remove", post(avatar::remove))
        .route("/avatars/{key}", get(avatar::serve))
        .route(
            "/login/code",
            get(two_factor::code_page).post(two_factor::code),
        )
        .route("/settings/security", get(two_factor::page))
        .route("/settings/email", post(email::change))
        .route("/settings/email/resend", post(email::resend))
        .route(
            "/verify-email/{token}",
            get(email::page).post(email::confirm),
        )
        .route("/auth/oidc/login", get(oidc::start))
        .route("/auth/oidc/callback", get(oidc::callback))
        .route("/settings/security/setup", post(two_factor::setup))
        .route("/settings/security/confirm", post(two_factor::confirm))
        .route("/settings/security/disable", post(two_factor::disable))
        .route(
            "/settings/security/recovery-codes",
            post(two_factor::renew_codes),
        )
}
