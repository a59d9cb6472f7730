//! Web Push (RFC 8030) to browsers and phones with no open socket.
//!
//! A browser subscribes with the instance's VAPID public key (`GET /push/vapid-public-key`)
//! and posts its `PushSubscription` JSON to `POST /push/subscriptions`; `DELETE` forgets it.
//! The fan-out writes one `push_deliveries` row per subscription; the worker here claims due
//! rows with `for update skip locked` (so two nodes never send one twice), encrypts each
//! payload for its browser (RFC 8291 `aes128gcm`, `web-push-native` on RustCrypto), signs a
//! VAPID token (RFC 8292, ES256 with `p256`) and posts it through [`crate::outbound`], many at
//! once: a person with 20 devices gets 20 pushes without holding anyone else up.
//!
//! A 2xx is done. 404 and 410 mean the subscription is gone: it is deleted, with whatever
//! else was queued for it. 429, 5xx, a timeout or a refused connection is retried with
//! backoff (honouring `Retry-After`) for up to a day, the push's own time to live; any other
//! answer drops that one push.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::USER_AGENT;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde::Deserialize;
use serde_json::json;

use super::{db, keys};
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::outbound::{OutboundError, Request};
use crate::state::AppState;

/// How long a push service should keep a push for an offline device, and how long the worker
/// keeps retrying one.
const TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// Pushes in flight on one node.
const IN_FLIGHT: usize = 32;
/// How long a claimed push is leased: beyond the outbound client's own time limit.
const LEASE: Duration = Duration::from_secs(30);
/// Subscriptions one person keeps; a new one past this replaces their oldest.
const PER_USER: i64 = 50;

/// The instance's VAPID key pair.
pub struct Vapid {
    key: SigningKey,
    /// The uncompressed public point, base64url without padding, as browsers take it.
    pub public: String,
}

impl Vapid {
    /// The instance's key pair, made and stored on first use.
    pub async fn load(db: &sqlx::PgPool) -> anyhow::Result<Self> {
        let secret = keys::get_or_create(db, keys::VAPID, new_secret).await?;
        let key = SigningKey::from_slice(&secret)
            .map_err(|_| anyhow::anyhow!("the stored VAPID key is not a P-256 key"))?;
        let point = key.verifying_key().to_encoded_point(false);
        Ok(Self {
            public: URL_SAFE_NO_PAD.encode(point.as_bytes()),
            key,
        })
    }

    /// The `Authorization` header for a push to `endpoint`: `vapid t=<JWT>,k=<key>`, the JWT
    /// signed with ES256 for the endpoint's origin, valid for twelve hours.
    pub fn authorization(&self, endpoint: &reqwest::Url, subject: &str) -> String {
        let audience = endpoint.origin().ascii_serialization();
        let expires = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            + 12 * 60 * 60;
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = URL_SAFE_NO_PAD
            .encode(json!({ "aud": audience, "exp": expires, "sub": subject }).to_string());
        let signing_input = format!("{header}.{claims}");
        let signature: Signature = self.key.sign(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        // No space after the comma: some verifiers split the header on its last space.
        format!("vapid t={signing_input}.{signature},k={}", self.public)
    }
}

/// A valid P-256 private scalar (a random 32 bytes is one but for odds of about 2⁻³²).
fn new_secret() -> Vec<u8> {
    loop {
        let bytes = keys::random_key();
        if SigningKey::from_slice(&bytes).is_ok() {
            return bytes;
        }
    }
}

/// `GET /push/vapid-public-key`: `{"publicKey": "<base64url>"}`.
pub async fn public_key(State(state): State<AppState>) -> Result<Response, AppError> {
    let vapid = Vapid::load(&state.db).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "public, max-age=3600")],
        Json(json!({ "publicKey": vapid.public })),
    )
        .into_response())
}

/// The browser's `PushSubscription.toJSON()`.
#[derive(Deserialize)]
struct SubscriptionJson {
    endpoint: String,
    #[serde(default)]
    keys: Option<SubscriptionKeys>,
}

#[derive(Deserialize)]
struct SubscriptionKeys {
    p256dh: String,
    auth: String,
}

/// A subscription checked: where to post, and the browser's key and secret.
pub struct Subscription {
    pub endpoint: String,
    pub p256dh: Vec<u8>,
    pub auth: Vec<u8>,
}

fn decode_b64url(text: &str) -> Option<Vec<u8>> {
    // Browsers send it unpadded; some libraries pad it.
    let text = text.trim().trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .or_else(|| URL_SAFE.decode(text).ok())
}

fn parse_subscription(state: &AppState, body: &[u8]) -> Result<Subscription, AppError> {
    let bad =
        |what: &str| AppError::Validation(format!("This is not a push subscription: {what}."));
    let json: SubscriptionJson =
        serde_json::from_slice(body).map_err(|_| bad("send PushSubscription's JSON"))?;
    if json.endpoint.len() > 2048 {
        return Err(bad("the endpoint is too long"));
    }
    let endpoint = state
        .outbound
        .check(&json.endpoint)
        .map_err(|_| bad("the endpoint is not a push service's URL"))?;
    // Browsers' push services are https; plain http only where outbound requests may reach
    // private addresses (a push service on the same machine, in tests).
    let https_only = !state.config.outbound_allow_private;
    if endpoint.scheme() != "https" && (https_only || endpoint.scheme() != "http") {
        return Err(bad("the endpoint is not a push service's URL"));
    }
    let keys = json.keys.ok_or_else(|| bad("it has no keys"))?;
    let p256dh = decode_b64url(&keys.p256dh)
        .filter(|k| p256::PublicKey::from_sec1_bytes(k).is_ok() && k.len() == 65)
        .ok_or_else(|| bad("keys.p256dh is not a P-256 public key"))?;
    let auth = decode_b64url(&keys.auth)
        .filter(|a| a.len() == 16)
        .ok_or_else(|| bad("keys.auth is not 16 bytes"))?;
    Ok(Subscription {
        endpoint: json.endpoint,
        p256dh,
        auth,
    })
}

/// `POST /push/subscriptions`: this browser wants pushes for the person logged in (a browser
/// that changes hands moves to its new person).
pub async fn subscribe(
    State(state): State<AppState>,
    me: CurrentUser,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Result<Response, AppError> {
    let subscription = parse_subscription(&state, &body)?;
    let agent = headers
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|a| a.chars().take(300).collect::<String>());
    db::save_subscription(&state.db, me.id, &subscription, agent.as_deref(), PER_USER).await?;
    Ok((StatusCode::CREATED, Json(json!({ "ok": true }))).into_response())
}

/// `DELETE /push/subscriptions` with the subscription's JSON (or just its `endpoint`).
pub async fn unsubscribe(
    State(state): State<AppState>,
    me: CurrentUser,
    body: Bytes,
) -> Result<Response, AppError> {
    let json: SubscriptionJson = serde_json::from_slice(&body).map_err(|_| {
        AppError::Validation("Send the subscription's JSON, with its endpoint.".into())
    })?;
    db::delete_subscription(&state.db, me.id, &json.endpoint).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Backoff before attempt `n + 1`: 5 s, 10 s, 20 s … capped at ten minutes, with jitter.
fn backoff(attempts: i32) -> f64 {
    let base = (5.0 * 2f64.powi(attempts.clamp(0, 10))).min(600.0);
    base * (0.8 + rand::random::<f64>() * 0.4)
}

/// What became of one push.
enum Outcome {
    Delivered,
    /// The browser unsubscribed or the subscription expired.
    Gone,
    Retry(f64),
    Dropped(String),
}

async fn push_one(state: &AppState, vapid: &Vapid, due: &db::DuePush) -> Outcome {
    let payload = due.payload.to_string().into_bytes();
    let Ok(ua_public) = p256::PublicKey::from_sec1_bytes(&due.p256dh) else {
        return Outcome::Gone;
    };
    let Some(auth) = web_push_native::Auth::from_exact_iter(due.auth.iter().copied()) else {
        return Outcome::Gone;
    };
    let body = match web_push_native::encrypt(payload, &ua_public, &auth) {
        Ok(body) => body,
        Err(e) => return Outcome::Dropped(format!("cannot encrypt: {e}")),
    };
    let endpoint = match state.outbound.check(&due.endpoint) {
        Ok(url) => url,
        Err(e) => return Outcome::Dropped(e.to_string()),
    };
    let request = Request::post(&due.endpoint, body)
        .header("ttl", TTL.as_secs().to_string())
        .header("content-encoding", "aes128gcm")
        .header("content-type", "application/octet-stream")
        .header("urgency", due.urgency.clone())
        .header(
            "authorization",
            vapid.authorization(&endpoint, &state.config.notify.vapid_subject),
        )
        .max_body(16 * 1024);
    let retry = backoff(due.attempts);
    match state.outbound.send(request).await {
        Ok(answer) if (200..300).contains(&answer.status) => Outcome::Delivered,
        Ok(answer) if matches!(answer.status, 404 | 410) => Outcome::Gone,
        Ok(answer) if answer.status == 429 || answer.status >= 500 => {
            let asked = answer
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| (0.0..=3600.0).contains(s));
            Outcome::Retry(asked.map_or(retry, |s| s.max(retry)))
        }
        Ok(answer) => Outcome::Dropped(format!("answered {}", answer.status)),
        Err(OutboundError::Refused(why)) => Outcome::Dropped(format!("refused: {why}")),
        Err(OutboundError::Failed(_)) => Outcome::Retry(retry),
    }
}

async fn deliver(state: &AppState, vapid: &Vapid, due: db::DuePush) -> sqlx::Result<()> {
    match push_one(state, vapid, &due).await {
        Outcome::Delivered => db::push_delivered(&state.db, due.id, due.subscription_id).await,
        Outcome::Gone => {
            tracing::info!(
                subscription = due.subscription_id,
                "a push subscription is gone; deleted"
            );
            db::delete_subscription_id(&state.db, due.subscription_id).await
        }
        Outcome::Retry(secs) => {
            tracing::debug!(
                subscription = due.subscription_id,
                secs,
                "a push will be retried"
            );
            let expired = due.age_secs + secs > TTL.as_secs_f64();
            if expired {
                tracing::info!(subscription = due.subscription_id, "a push expired unsent");
            }
            db::push_retry(&state.db, due.id, secs, expired).await
        }
        Outcome::Dropped(why) => {
            tracing::info!(
                subscription = due.subscription_id,
                why,
                "a push was dropped"
            );
            db::push_retry(&state.db, due.id, 0.0, true).await
        }
    }
}

/// The push loop; runs on every node until the process ends.
pub async fn run_worker(state: AppState) {
    let vapid = loop {
        match Vapid::load(&state.db).await {
            Ok(vapid) => break Arc::new(vapid),
            Err(e) => {
                tracing::warn!(error = %e, "cannot load the VAPID key; retrying");
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        }
    };
    let slots = Arc::new(tokio::sync::Semaphore::new(IN_FLIGHT));
    let mut idle = tokio::time::interval(Duration::from_millis(250));
    loop {
        let free = slots.available_permits();
        if free == 0 {
            drop(slots.acquire().await);
            continue;
        }
        let due = match db::claim_pushes(&state.db, free as i64, LEASE.as_secs_f64()).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot claim pushes; retrying");
                Vec::new()
            }
        };
        if due.is_empty() {
            idle.tick().await;
            continue;
        }
        for push in due {
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                break; // cannot happen: no more were claimed than slots were free
            };
            let (state, vapid) = (state.clone(), vapid.clone());
            tokio::spawn(async move {
                if let Err(e) = deliver(&state, &vapid, push).await {
                    tracing::warn!(error = %e, "a push's outcome was not recorded");
                }
                drop(permit);
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::VerifyingKey;
    use p256::ecdsa::signature::Verifier;

    #[test]
    fn vapid_tokens_verify_with_the_public_key_and_name_the_origin() {
        let key = SigningKey::from_slice(&new_secret()).unwrap();
        let public = URL_SAFE_NO_PAD.encode(key.verifying_key().to_encoded_point(false).as_bytes());
        let vapid = Vapid { key, public };
        let endpoint = reqwest::Url::parse("https://push.example.com:8443/send/abc").unwrap();
        let header = vapid.authorization(&endpoint, "mailto:ops@example.com");
        let (token, k) = header
            .strip_prefix("vapid t=")
            .and_then(|rest| rest.split_once(",k="))
            .unwrap();
        assert_eq!(k, vapid.public);
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let point = URL_SAFE_NO_PAD.decode(k).unwrap();
        let verifier = VerifyingKey::from_sec1_bytes(&point).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifier.verify(signed.as_bytes(), &signature).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(signed.split_once('.').unwrap().1)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["aud"], "https://push.example.com:8443");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
    }
}
