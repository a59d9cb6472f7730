//! Outgoing events: Slack-shaped `event_callback`s POSTed to bots, signed like Slack's, from a
//! durable outbox.
//!
//! A message's events are written by the statement that stores the message
//! ([`crate::messages::db::insert_sent`]: `message` for bots in the channel subscribed to its
//! kind, `app_mention` for bots mentioned in it), so they exist exactly when the message does, and sending never waits for a bot. A worker on every
//! node claims due events with `for update skip locked`, only the oldest of each (bot, channel)
//! so a channel's events arrive in order, and delivers them: a 2xx is delivered; anything else
//! or a timeout is retried with backoff and `X-Slack-Retry-Num`, at least once. Requests refuse
//! private and loopback addresses unless `NATTER_EVENTS_ALLOW_PRIVATE` says otherwise.

pub mod db;

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use super::ids;
use crate::state::AppState;

/// Attempts before an event is given up on (about 8.5 hours of backoff in all).
const MAX_ATTEMPTS: i32 = 16;
/// How long a bot has to answer.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Events claimed per round.
const BATCH: i64 = 32;

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

/// Refuses URLs that are not http(s), and hosts on private, loopback or link-local addresses
/// unless allowed, so a bot's request URL cannot reach into the server's own network.
pub async fn check_url(url: &str, allow_private: bool) -> anyhow::Result<()> {
    let parsed = reqwest::Url::parse(url).context("not a URL")?;
    if !matches!(parsed.scheme(), "http" | "https") {
        bail!("the request URL must be http or https");
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| anyhow!("the request URL has no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(443);
    if allow_private {
        return Ok(());
    }
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .context("cannot resolve the request URL's host")?;
    for address in addresses {
        if is_private(address.ip()) {
            bail!(
                "the request URL points to a private or loopback address ({})",
                address.ip()
            );
        }
    }
    Ok(())
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.octets()[0] == 100 && (v4.octets()[1] & 0xc0) == 64
        }
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_private(IpAddr::V4(v4)))
        }
    }
}

/// One client for every delivery, so connections to a bot are reused.
fn client() -> &'static reqwest::Client {
    static CLIENT: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client builds once a crypto provider is installed")
    })
}

/// Sends Slack's `url_verification` challenge; the URL is saved only if the bot echoes it.
pub async fn verify_and_save(
    state: &AppState,
    bot_id: i64,
    url: &str,
    events: &[String],
) -> anyhow::Result<()> {
    check_url(url, state.config.events_allow_private).await?;
    let target = db::target(&state.db, bot_id)
        .await?
        .ok_or_else(|| anyhow!("no such bot"))?;
    let challenge = crate::secrets::random_token();
    let body =
        json!({ "token": "", "challenge": challenge, "type": "url_verification" }).to_string();
    let response = signed_post(&target.signing_secret, url, &body, 0)
        .await
        .context("the request URL did not answer")?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
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
    if !status.is_success() || !echoed {
        bail!("the request URL answered {status} without the challenge");
    }
    db::set_request_url(&state.db, bot_id, url, events).await?;
    Ok(())
}

async fn signed_post(
    secret: &str,
    url: &str,
    body: &str,
    retry: i32,
) -> reqwest::Result<reqwest::Response> {
    let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut request = client()
        .post(url)
        .header("content-type", "application/json")
        .header("x-slack-request-timestamp", timestamp.to_string())
        .header("x-slack-signature", signature(secret, timestamp, body))
        .body(body.to_owned());
    if retry > 0 {
        request = request
            .header("x-slack-retry-num", retry.to_string())
            .header("x-slack-retry-reason", "http_error");
    }
    request.send().await
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
    let mut event = json!({
        "type": due.event_type,
        "channel": ids::channel_id(kind, due.channel_id),
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
            db::failed(
                &state.db,
                due.id,
                None,
                "the bot has no request URL or was revoked",
                0.0,
                true,
            )
            .await?;
            return Ok(());
        }
    };
    if let Err(e) = check_url(&url, state.config.events_allow_private).await {
        db::failed(
            &state.db,
            due.id,
            None,
            &format!("{e:#}"),
            backoff(due.attempts),
            give_up,
        )
        .await?;
        return Ok(());
    }
    let Some(body) = callback(state, &due, &target).await? else {
        db::delivered(&state.db, due.id, 0).await?;
        return Ok(());
    };
    match signed_post(&target.signing_secret, &url, &body, due.attempts).await {
        Ok(response) if response.status().is_success() => {
            db::delivered(&state.db, due.id, i32::from(response.status().as_u16())).await?
        }
        Ok(response) => {
            let status = i32::from(response.status().as_u16());
            db::failed(
                &state.db,
                due.id,
                Some(status),
                &format!("answered {status}"),
                backoff(due.attempts),
                give_up,
            )
            .await?;
        }
        Err(e) => {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else {
                format!("{e}")
            };
            db::failed(
                &state.db,
                due.id,
                None,
                &why,
                backoff(due.attempts),
                give_up,
            )
            .await?;
        }
    }
    Ok(())
}

/// The delivery loop; runs on every node until the process ends.
pub async fn run_worker(state: AppState) {
    let mut idle = tokio::time::interval(Duration::from_millis(250));
    loop {
        let due = match db::claim(&state.db, BATCH, TIMEOUT.as_secs_f64() * 4.0).await {
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
        let deliveries = due.into_iter().map(|d| deliver(&state, d));
        for result in futures_util::future::join_all(deliveries).await {
            if let Err(e) = result {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "an outgoing event could not be handled"
                );
            }
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

    #[test]
    fn private_and_loopback_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "172.16.5.4",
            "169.254.1.1",
            "::1",
            "fd00::1",
            "100.64.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        assert!(!is_private("93.184.216.34".parse().unwrap()));
    }
}
