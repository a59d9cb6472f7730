//! Slack's export format: moving a team's history in from Slack (`natter import slack`) and out
//! again (`natter export`).
//!
//! - [`archive`]: the export zip, read one entry at a time with its paths and sizes checked.
//! - [`model`]: what its JSON files hold.
//! - [`import`]: people, conversations and messages into a workspace, in bulk, idempotently,
//!   a conversation at a time.
//! - [`export`]: a workspace as such a zip, streamed from Postgres.
//!
//! Slack's markup becomes Natter's markdown through the same translation the Web API uses
//! ([`crate::integrations::mrkdwn`]), with the export's own ids for people and channels.

pub mod archive;
pub mod export;
pub mod import;
pub mod model;
