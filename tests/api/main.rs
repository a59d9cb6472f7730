//! Integration tests: each test starts the real server on port 0 against its own fresh
//! Postgres database and talks to it over HTTP like a browser would.

mod helpers;
mod instance;
mod integrations;
mod ws;

mod access;
mod accounts;
mod admin;
mod bench;
mod browser;
mod channels;
mod cluster;
mod crash;
mod events;
mod files;
mod import;
mod messages;
mod notifications;
mod outage;
mod passwords;
mod profiles;
mod python;
mod realtime;
mod scim;
mod search;
mod security;
mod sso;
mod threads;
mod two_factor;
mod unread;
mod workspaces;
