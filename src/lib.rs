//! Natter: a self-hosted, Slack-style team chat.
//!
//! The crate is split by domain, not by layer. Each domain folder holds its routes, handlers,
//! template structs and SQL (`db.rs`):
//!
//! - [`auth`]: sign up, log in, log out, sessions, CSRF, login throttling.
//! - [`workspaces`]: workspaces, members, invite links.
//! - [`channels`]: public and private channels, DMs and group DMs, the sidebar and unread counts.
//! - [`messages`]: the ordered message log, sending, editing, deleting, markdown and mentions.
//! - [`integrations`]: bots, incoming webhooks and the Slack-compatible Web API.
//! - [`search`]: the query language and search over Postgres full-text search.
//! - [`realtime`]: live delivery over `/ws`: hub, bus (in-process or Redis), presence.
//!
//! Shared plumbing lives at the top: [`config`] (environment), [`db`] (pool and migrations),
//! [`error`] (the one error type), [`web`] (router, layout, static files) and [`cli`].

pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod db;
pub mod error;
pub mod integrations;
pub mod messages;
pub mod realtime;
pub mod search;
pub mod web;
pub mod workspaces;

pub use config::Config;
pub use error::AppError;
pub use web::{AppState, Server};
