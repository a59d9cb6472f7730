//! Presence: `online` while a connection lives and pings, `away` when every connection of the
//! user reports idle, `offline` after the last connection closes or stops pinging for 60 s.
//!
//! Each node keeps its own connections in memory; with Redis, each node that has connections of
//! the user is also a field of `<prefix>:presence:<user_id>` holding the combined status of its
//! connections and an expiry time (the key itself expiring too), so any node can answer "is
//! this user here?" for connections on every node. One field per node, not per connection:
//! reading a user's presence costs as many fields as there are nodes, however many tabs and
//! devices the user has open. A change
//! is published on the `presence:<user_id>` topic, which only connections that asked for that
//! user listen to.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use redis::aio::ConnectionManager;

use super::hub::ConnId;

/// A connection silent for this long is treated as gone.
pub const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Online,
    Away,
    Offline,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Offline => "offline",
        }
    }

    fn parse(text: &str) -> Status {
        match text {
            "online" => Status::Online,
            "away" => Status::Away,
            _ => Status::Offline,
        }
    }

    /// The status of a user from the statuses of their connections: online beats away.
    fn combine(statuses: impl Iterator<Item = Status>) -> Status {
        statuses.fold(Status::Offline, |best, s| match (best, s) {
            (Status::Online, _) | (_, Status::Online) => Status::Online,
            (Status::Away, _) | (_, Status::Away) => Status::Away,
            _ => Status::Offline,
        })
    }
}

pub struct Presence {
    node_id: String,
    prefix: String,
    local: Mutex<HashMap<i64, HashMap<ConnId, Status>>>,
    redis: Option<ConnectionManager>,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The statuses other nodes wrote for a user (`<status>|<expires>` per node) that have not
/// expired.
fn unexpired(fields: &HashMap<String, String>, now: u64) -> impl Iterator<Item = Status> + '_ {
    fields.values().filter_map(move |v| {
        let (status, expires) = v.split_once('|')?;
        (expires.parse::<u64>().ok()? > now).then(|| Status::parse(status))
    })
}

impl Presence {
    pub fn new(node_id: String, prefix: String, redis: Option<ConnectionManager>) -> Self {
        Self {
            node_id,
            prefix,
            local: Mutex::new(HashMap::new()),
            redis,
        }
    }

    fn key(&self, user_id: i64) -> String {
        format!("{}:presence:{user_id}", self.prefix)
    }

    /// Records a connection's status (on connect, ping or `presence.set`); returns the user's
    /// status before and after.
    pub async fn set(&self, user_id: i64, conn: ConnId, status: Status) -> (Status, Status) {
        let before = self.status(user_id).await;
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            local.entry(user_id).or_default().insert(conn, status);
        }
        self.mirror(user_id).await;
        (before, self.status(user_id).await)
    }

    /// Forgets a connection; returns the user's status before and after.
    pub async fn remove(&self, user_id: i64, conn: ConnId) -> (Status, Status) {
        let before = self.status(user_id).await;
        {
            let mut local = self.local.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(conns) = local.get_mut(&user_id) {
                conns.remove(&conn);
                if conns.is_empty() {
                    local.remove(&user_id);
                }
            }
        }
        self.mirror(user_id).await;
        (before, self.status(user_id).await)
    }

    /// The combined status of the user's connections on this node; `None` when it has none.
    fn local_status(&self, user_id: i64) -> Option<Status> {
        let local = self.local.lock().unwrap_or_else(|p| p.into_inner());
        local
            .get(&user_id)
            .map(|conns| Status::combine(conns.values().copied()))
    }

    /// The user's status across every node (this node only, without Redis or when it is down).
    pub async fn status(&self, user_id: i64) -> Status {
        let local = self.local_status(user_id).unwrap_or(Status::Offline);
        let Some(redis) = &self.redis else {
            return local;
        };
        let mut redis = redis.clone();
        let fields: redis::RedisResult<HashMap<String, String>> = redis::cmd("HGETALL")
            .arg(self.key(user_id))
            .query_async(&mut redis)
            .await;
        match fields {
            Ok(fields) => Status::combine(unexpired(&fields, now_secs()).chain([local])),
            Err(_) => local,
        }
    }

    /// Those of `user_ids` online now on any node (away is not online): whom `@here` mentions.
    /// One Redis round trip for them all.
    pub async fn online_among(&self, user_ids: &[i64]) -> Vec<i64> {
        self.among(user_ids, |s| s == Status::Online).await
    }

    /// Those of `user_ids` with a socket open on any node, online or away: who is here to be
    /// told of something live rather than by push or mail.
    pub async fn connected_among(&self, user_ids: &[i64]) -> Vec<i64> {
        self.among(user_ids, |s| s != Status::Offline).await
    }

    async fn among(&self, user_ids: &[i64], wanted: impl Fn(Status) -> bool) -> Vec<i64> {
        let local: Vec<Option<Status>> = user_ids.iter().map(|&id| self.local_status(id)).collect();
        let remote: Vec<HashMap<String, String>> = match &self.redis {
            Some(redis) if !user_ids.is_empty() => {
                let mut redis = redis.clone();
                let mut pipe = redis::pipe();
                for &id in user_ids {
                    pipe.cmd("HGETALL").arg(self.key(id));
                }
                pipe.query_async(&mut redis).await.unwrap_or_default()
            }
            _ => Vec::new(),
        };
        let now = now_secs();
        user_ids
            .iter()
            .enumerate()
            .filter(|&(i, _)| {
                let remote = remote.get(i).into_iter().flat_map(|f| unexpired(f, now));
                let local = local[i].unwrap_or(Status::Offline);
                wanted(Status::combine(remote.chain([local])))
            })
            .map(|(_, &id)| id)
            .collect()
    }

    /// Writes this node's combined status of the user to Redis, or removes this node's field
    /// when its last connection of the user has gone.
    async fn mirror(&self, user_id: i64) {
        let Some(redis) = &self.redis else {
            return;
        };
        let mut redis = redis.clone();
        let field = &self.node_id;
        let result: redis::RedisResult<()> = match self.local_status(user_id) {
            Some(status) => {
                let value = format!("{}|{}", status.as_str(), now_secs() + TIMEOUT.as_secs());
                redis::pipe()
                    .cmd("HSET")
                    .arg(self.key(user_id))
                    .arg(field)
                    .arg(value)
                    .ignore()
                    .cmd("EXPIRE")
                    .arg(self.key(user_id))
                    .arg(TIMEOUT.as_secs() * 2)
                    .ignore()
                    .query_async(&mut redis)
                    .await
            }
            None => {
                redis::cmd("HDEL")
                    .arg(self.key(user_id))
                    .arg(field)
                    .query_async(&mut redis)
                    .await
            }
        };
        if let Err(e) = result {
            tracing::debug!(error = %e, "presence not mirrored to Redis; this node's view still holds");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn online_beats_away_and_the_last_connection_going_makes_offline() {
        let presence = Presence::new("n".into(), "test".into(), None);
        assert_eq!(
            presence.set(1, 10, Status::Online).await,
            (Status::Offline, Status::Online)
        );
        assert_eq!(
            presence.set(1, 11, Status::Away).await,
            (Status::Online, Status::Online)
        );
        assert_eq!(presence.remove(1, 10).await, (Status::Online, Status::Away));
        assert_eq!(
            presence.remove(1, 11).await,
            (Status::Away, Status::Offline)
        );
    }
}
