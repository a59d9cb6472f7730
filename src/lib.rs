//! Natter: a self-hosted, Slack-style team chat.
//!
//! The crate is split by domain, not by layer, and modules import downward only (the rule,
//! and the command that checks it, are in ARCHITECTURE.md). From the bottom up:
//!
//! - Leaves: [`config`], [`error`] (the one error type and its page), [`secrets`] (random
//!   tokens, hashes), [`markdown`] (message text to safe HTML), [`emoji`] (the standard set by
//!   shortcode), [`audit`], [`db`] (pool and
//!   migrations), [`web`] (rendering, rate limits, static files), [`outbound`] (the one
//!   HTTP client for URLs users give, guarded against the server's own network), [`storage`]
//!   (files' bytes in a directory or an S3-compatible bucket).
//! - Engines: [`realtime`] (the live transport: hub, bus, presence, frames) and [`index`]
//!   (the search engine and its outbox).
//! - [`state`]: what every handler can reach.
//! - Domains: [`auth`] (accounts, sessions, tokens, CSRF, workspace membership),
//!   [`channels`] (channels, DMs, the sidebar and page frame), [`files`] (uploads, thumbnails,
//!   checked downloads, garbage collection), [`messages`] (the ordered log,
//!   sending, the conversation page), [`workspaces`] (creating, members, invites), [`search`]
//!   (the query language and page), [`integrations`] (bots, webhooks, the Slack Web API),
//!   [`admin`] (the workspace's administration pages), [`scim`] (SCIM 2.0 provisioning).
//! - [`ws`]: the `/ws` endpoint that authorises sockets and carries the domains' events.
//! - The top: [`server`] (start-up and the router) and [`cli`].

pub mod admin;
pub mod audit;
pub mod auth;
pub mod channels;
pub mod cli;
pub mod config;
pub mod db;
pub mod emoji;
pub mod error;
pub mod files;
pub mod images;
pub mod index;
pub mod integrations;
pub mod mailer;
pub mod markdown;
pub mod messages;
pub mod notifications;
pub mod outbound;
pub mod realtime;
pub mod scim;
pub mod search;
pub mod secrets;
pub mod server;
pub mod slack;
pub mod state;
pub mod storage;
pub mod web;
pub mod workspaces;
pub mod ws;

pub use config::Config;
pub use error::AppError;
pub use server::Server;
pub use state::AppState;
