//! A token-bucket rate limiter keyed by user, held in memory by each node.
//!
//! It guards against floods (a stuck script, a runaway client), not against a determined
//! attacker spread over many nodes: each node counts on its own, so the limit a user meets is
//! per node. People never come near it; a loop that posts does.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use crate::error::AppError;

pub struct RateLimiter {
    /// Tokens a key may spend at once.
    burst: f64,
    /// Tokens added back per second.
    per_second: f64,
    what: &'static str,
    /// False when rate limits are switched off (`NATTER_RATE_LIMITS=off`): every check passes.
    enabled: bool,
    buckets: Mutex<HashMap<i64, Bucket>>,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Above this many keys, full buckets are forgotten (they hold no information).
const MAX_KEYS: usize = 10_000;

impl RateLimiter {
    pub fn new(what: &'static str, burst: u32, per_second: u32) -> Self {
        Self {
            burst: f64::from(burst),
            per_second: f64::from(per_second),
            what,
            enabled: true,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// A limiter that lets everything through, for deployments that switch limits off.
    pub fn unlimited(what: &'static str) -> Self {
        Self {
            enabled: false,
            ..Self::new(what, 1, 1)
        }
    }

    /// Spends one token of `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: i64) -> Result<(), AppError> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        // The lock is held for a few arithmetic steps and never across an await.
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > MAX_KEYS {
            let (burst, per_second) = (self.burst, self.per_second);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.updated).as_secs_f64() * per_second < burst
            });
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        let refill = now.duration_since(bucket.updated).as_secs_f64() * self.per_second;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait = ((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64;
        Err(AppError::RateLimited {
            message: format!(
                "You are {} too fast. Wait {wait} second{} and try again.",
                self.what,
                if wait == 1 { "" } else { "s" }
            ),
            retry_after_secs: wait,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn a_burst_is_allowed_then_refused_per_key() {
        let limiter = RateLimiter::new("sending messages", 3, 1);
        for _ in 0..3 {
            assert!(limiter.check(1).is_ok());
        }
        assert!(limiter.check(1).is_err());
        assert!(
            limiter.check(2).is_ok(),
            "another user has a bucket of their own"
        );
    }

    #[test]
    fn an_unlimited_limiter_never_refuses() {
        let limiter = RateLimiter::unlimited("sending messages");
        for _ in 0..1000 {
            assert!(limiter.check(1).is_ok());
        }
    }
}
