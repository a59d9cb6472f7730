//! The scenarios, each a function from the running deployment to rows of the table: its limit
//! (measured just before it, so both see the same machine) and Natter's figures.

pub mod conversations;
pub mod files;
pub mod resume;
pub mod search;
pub mod send;
pub mod sockets;

use std::time::Duration;

use crate::Args;
use crate::deployment::{Deployment, World};

pub struct Bench<'a> {
    pub args: &'a Args,
    pub deployment: &'a Deployment,
    pub world: &'a World,
    pub http: reqwest::Client,
}

impl Bench<'_> {
    /// How long a throughput measurement runs.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.args.seconds)
    }
}
