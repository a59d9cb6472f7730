//! Outgoing events: Slack-shaped `event_callback`s POSTed to bots, signed like Slack's, from a
//! durable outbox.
//!
//! A message's events are written by the statement that stores the message
//! ([`crate::messages::db::insert_sent`]: `message` for bots in the channel subscribed to its
//! kind, `app_mention` for bots mentioned in it), so they exist exactly when the message does, and sending never waits for a bot. A worker on every
//! node claims due events with `for update skip locked`, only the oldest of each (bot, channel)
//! so a channel's events arrive in order, and delivers them: a 2xx is delivered; anything else
//! or a timeout is retried with backoff and `X-Slack-Retry-Num`, at least once.
//!
//! Requests go through [`crate::outbound`], which refuses private and loopback addresses
//! (unless `NATTER_OUTBOUND_ALLOW_PRIVATE` says otherwise) and caps each request at five
//! seconds. What a delivery's failure records, and the integrations page shows, is "refused",
//! "failed" or the HTTP status: never the connection's own error text.
//!
//! The worker is fair: each round claims at most a few events per bot and per workspace, skips
//! bots that already have their share in flight, and starts each delivery on its own task, so a
//! bot whose endpoint hangs holds a few slots until its timeout, never the whole worker.

pub mod db;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::ids;
use crate::outbound::{Answer, OutboundError, Request};
use crate::state::AppState;

/// Attempts before an event is given up on (about 8.5 hours of backoff in all).
const MAX_ATTEMPTS: i32 = 16;
/// How long a claimed event is leased: well beyond the outbound client's five-second cap.
const LEASE: Duration = Duration::from_secs(30);
/// Deliveries in flight on one node.
const IN_FLIGHT: usize = 32;
/// Deliveries in flight to one bot, and claimed for one workspace in a round.
const PER_BOT: usize = 4;
const PER_WORKSPACE: i64 = 8;

/// `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`, Slack's request signature.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    let digest = mac.finalize().into_bytes();
    format!(
        "v0={}",
        digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

/// Sends Slack's `url_verification` challenge; the URL is saved only if the bot echoes it.
pub async fn verify_and_save(
    state: &AppState,
    bot_id: i64,
    url: &str,
    events: &[String],
) -> anyhow::Result<()> {
    let target = db::target(&state.db, bot_id)
        .await?
        .ok_or_else(|| anyhow!("no such bot"))?;
    let challenge = crate::secrets::random_token();
    let body =
        json!({ "token": "", "challenge": challenge, "type": "url_verification" }).to_string();
    let answer = match signed_post(state, &target.signing_secret, url, &body, 0).await {
        Ok(answer) => answer,
        Err(e) => {
            tracing::info!(bot_id, url, error = %e, "a request URL's challenge was not answered");
            bail!("the request to it was {}", e.public());
        }
    };
    let text = String::from_utf8_lossy(&answer.body);
    let echoed = text.trim() == challenge
        || serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| {
                v.get("challenge")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .as_deref()
            == Some(challenge.as_str());
    if !(200..300).contains(&answer.status) || !echoed {
        bail!("it answered {} without the challenge", answer.status);
    }
    db::set_request_url(&state.db, bot_id, url, events).await?;
    Ok(())
}

async fn signed_post(
    state: &AppState,
    secret: &str,
    url: &str,
    body: &str,
    retry: i32,
) -> Result<Answer, OutboundError> {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut request = Request::post(url, body)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature(secret, timestamp, body));
    if retry > 0 {
        request = request
            .header("x-slack-retry-num", retry.to_string())
            .header("x-slack-retry-reason", "http_error");
    }
    state.outbound.send(request).await
}

/// The `event_callback` body of one outbox row, or `None` if its message is gone.
async fn callback(
    state: &AppState,
    due: &db::Due,
    target: &db::Target,
) -> anyhow::Result<Option<String>> {
    let Some(row) = crate::messages::db::message(&state.db, due.channel_id, due.seq).await? else {
        return Ok(None);
    };
    let message = &row.message;
    let Some(kind) = crate::channels::db::kind_of(&state.db, due.channel_id).await? else {
        return Ok(None);
    };
    let channel_type = kind.slack_event_type();
    let ts = ids::ts(message.created_at, message.seq);
    let channel = ids::channel_id(kind, due.channel_id);
    let event = match (&due.reaction, due.actor_id) {
        (Some(reaction), Some(actor)) => json!({
            "type": due.event_type,
            "user": ids::user_id(actor),
            "reaction": reaction,
            "item_user": ids::user_id(message.user_id),
            "item": { "type": "message", "channel": channel, "ts": ts },
            "event_ts": ids::ts(time::OffsetDateTime::now_utc(), due.id),
        }),
        _ if due.event_type == "file_shared" => {
            let Some(file) = row.files().first() else {
                return Ok(None);
            };
            json!({
                "type": "file_shared",
                "channel_id": channel,
                "file_id": file.id,
                "user_id": ids::user_id(message.user_id),
                "file": { "id": file.id },
                "event_ts": ts,
            })
        }
        _ => message_event(state, due, &row, &channel, channel_type, target),
    };
    let body = json!({
        "token": "",
        "team_id": ids::team_id(target.workspace_id),
        "api_app_id": format!("A{}", target.bot_id),
        "event": event,
        "type": "event_callback",
        "event_id": format!("Ev{}", due.id),
        "event_time": message.created_at.unix_timestamp(),
        "authorizations": [{ "team_id": ids::team_id(target.workspace_id), "user_id": ids::user_id(target.user_id), "is_bot": true }],
    });
    Ok(Some(body.to_string()))
}

/// A `message` or `app_mention` event: a reply carries its root's `thread_ts`.
fn message_event(
    state: &AppState,
    due: &db::Due,
    row: &crate::messages::MessageRow,
    channel: &str,
    channel_type: &str,
    target: &db::Target,
) -> serde_json::Value {
    let message = &row.message;
    let ts = ids::ts(message.created_at, message.seq);
    let mut event = json!({
        "type": due.event_type,
        "channel": channel,
        "user": ids::user_id(message.user_id),
        "text": message.body,
        "ts": ts,
        "event_ts": ts,
        "channel_type": channel_type,
        "team": ids::team_id(target.workspace_id),
    });
    if let Some(id) = &message.client_msg_id {
        event["client_msg_id"] = json!(id);
    }
    if row.is_bot {
        event["bot_id"] = json!(format!("B{}", message.user_id));
    }
    if !row.files().is_empty() {
        event["subtype"] = json!("file_share");
        event["files"] = row
            .files()
            .iter()
            .map(|f| crate::integrations::api::shapes::file(state, f))
            .collect();
    }
    if let (Some(root), Some(root_at)) = (message.thread_root_seq, row.thread_root_at) {
        event["thread_ts"] = json!(ids::ts(root_at, root));
        if message.reply_broadcast {
            event["subtype"] = json!("thread_broadcast");
        }
    }
    event
}

/// Backoff before attempt `n + 1`: 1 s, 2 s, 4 s … capped at an hour, with jitter.
fn backoff(attempts: i32) -> f64 {
    let base = 2f64.powi(attempts.clamp(0, 12)).min(3600.0);
    base * (0.8 + rand::random::<f64>() * 0.4)
}

async fn deliver(state: &AppState, due: db::Due) -> anyhow::Result<()> {
    let Some(target) = db::target(&state.db, due.bot_id).await? else {
        return Ok(());
    };
    let give_up = due.attempts + 1 >= MAX_ATTEMPTS;
    let url = match (&target.request_url, target.revoked) {
        (Some(url), false) => url.clone(),
        _ => {
            db::failed(&state.db, due.id, None, "no request URL", 0.0, true).await?;
            return Ok(());
        }
    };
    let Some(body) = callback(state, &due, &target).await? else {
        db::delivered(&state.db, due.id, 0).await?;
        return Ok(());
    };
    let retry_in = backoff(due.attempts);
    match signed_post(state, &target.signing_secret, &url, &body, due.attempts).await {
        Ok(answer) if (200..300).contains(&answer.status) => {
            db::delivered(&state.db, due.id, i32::from(answer.status)).await?
        }
        Ok(answer) => {
            let status = i32::from(answer.status);
            let why = format!("answered {status}");
            db::failed(&state.db, due.id, Some(status), &why, retry_in, give_up).await?;
        }
        Err(e) => {
            tracing::info!(bot_id = due.bot_id, error = %e, "an outgoing event was not delivered");
            db::failed(&state.db, due.id, None, e.public(), retry_in, give_up).await?;
        }
    }
    Ok(())
}

/// The delivery loop; runs on every node until the process ends.
pub async fn run_worker(state: AppState) {
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    // Deliveries in flight per bot on this node.
    let busy: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let mut idle = tokio::time::interval(Duration::from_millis(250));
    loop {
        let free = slots.available_permits();
        if free == 0 {
            // Wait for a delivery to finish before claiming more.
            drop(slots.acquire().await);
            continue;
        }
        let full: Vec<i64> = busy
            .lock()
            .expect("the in-flight map is never poisoned")
            .iter()
            .filter(|(_, n)| **n >= PER_BOT)
            .map(|(bot, _)| *bot)
            .collect();
        let limits = db::Fairness {
            total: free as i64,
            per_bot: PER_BOT as i64,
            per_workspace: PER_WORKSPACE,
            skip_bots: &full,
        };
        let due = match db::claim(&state.db, &limits, LEASE.as_secs_f64()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim outgoing events; retrying");
                Vec::new()
            }
        };
        if due.is_empty() {
            idle.tick().await;
            continue;
        }
        for event in due {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break; // cannot happen: no more were claimed than slots were free
            };
            let (state, busy, bot) = (state.clone(), busy.clone(), event.bot_id);
            *busy.lock().expect("never poisoned").entry(bot).or_default() += 1;
            tokio::spawn(async move {
                if let Err(e) = deliver(&state, event).await {
                    tracing::warn!(
                        error = format!("{e:#}"),
                        "an outgoing event could not be handled"
                    );
                }
                let mut busy = busy.lock().expect("never poisoned");
                if let Some(n) = busy.get_mut(&bot) {
                    *n -= 1;
                    if *n == 0 {
                        busy.remove(&bot);
                    }
                }
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_slacks_documented_example() {
        // The example of Slack's "Verifying requests" documentation.
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        let signed = signature("8f742231b10e8888abcd99yyyzzz85a5", 1531420618, body);
        assert_eq!(
            signed,
            "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
        );
    }
}
