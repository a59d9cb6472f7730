//! Mail for DMs and mentions still unread after `NATTER_EMAIL_NOTIFY_DELAY_SECS`, for people
//! with no socket open, through SMTP (`NATTER_SMTP_URL`, `lettre`).
//!
//! The fan-out queues `mail_items`; this worker, on every node, takes each person whose first
//! item is due under an advisory lock (two nodes never mail one person at once), rereads every
//! item they have queued, keeps those still unread, and sends one mail with them all: plain
//! text and HTML, a link to each message, and a one-click link that turns such mail off
//! (RFC 8058 `List-Unsubscribe-Post`; the link carries its own HMAC, so it works with no
//! session). Items leave the queue only in the transaction that follows a sent mail: an SMTP
//! server that is down or answers an error keeps them, retried with backoff. Someone who has
//! turned mail off, is in do not disturb, or has come online in the meantime gets nothing,
//! and the items are dropped, not kept for later.

use std::collections::BTreeMap;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use lettre::Message;
use sha2::Sha256;

use super::{db, fanout, keys};
use crate::error::AppError;
use crate::mailer::{self, Mailer};
use crate::state::AppState;
use crate::web::templates::render_page;

/// People mailed per round on one node.
const PER_ROUND: i64 = 16;

// ------------------------------------------------------------------- the one-click link

async fn link_key(state: &AppState) -> Result<Vec<u8>, AppError> {
    Ok(keys::get_or_create(&state.db, keys::MAIL_LINKS, keys::random_key).await?)
}

fn mac(key: &[u8], user_id: i64) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(format!("email-off:{user_id}").as_bytes());
    mac
}

/// `<user id>.<HMAC>`: whoever holds it may turn that person's notification mail off, and
/// nothing else.
pub fn off_token(key: &[u8], user_id: i64) -> String {
    let tag = URL_SAFE_NO_PAD.encode(mac(key, user_id).finalize().into_bytes());
    format!("{user_id}.{tag}")
}

/// The person a token names, if its HMAC is right (compared in constant time).
pub fn check_off_token(key: &[u8], token: &str) -> Option<i64> {
    let (id, tag) = token.split_once('.')?;
    let user_id: i64 = id.parse().ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    mac(key, user_id).verify_slice(&tag).ok()?;
    Some(user_id)
}

#[derive(Template)]
#[template(path = "notifications/email_off.html")]
struct OffPage {
    token: String,
    done: bool,
}

/// `GET /notifications/email-off/<token>`: a button that turns the mail off (a link
/// scanner's GET changes nothing).
pub async fn off_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    check_off_token(&link_key(&state).await?, &token).ok_or(AppError::NotFound)?;
    render_page(StatusCode::OK, &OffPage { token, done: false })
}

/// `POST /notifications/email-off/<token>`: RFC 8058's one-click POST from a mail client
/// (body `List-Unsubscribe=One-Click`), or the page's button. No session, no CSRF token: the
/// signed token is the authority.
pub async fn turn_off(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, AppError> {
    let user_id = check_off_token(&link_key(&state).await?, &token).ok_or(AppError::NotFound)?;
    db::set_email_notify(&state.db, user_id, false).await?;
    render_page(StatusCode::OK, &OffPage { token, done: true })
}

// ------------------------------------------------------------------------------ the mail

/// One conversation's part of a mail.
pub struct MailSection {
    /// "#general in Acme" or "Alice in Acme".
    pub heading: String,
    pub lines: Vec<MailLine>,
}

pub struct MailLine {
    pub author: String,
    pub text: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "notifications/mail.html")]
struct MailHtml<'a> {
    name: &'a str,
    sections: &'a [MailSection],
    prefs_url: &'a str,
    off_url: &'a str,
}

#[derive(Template)]
#[template(path = "notifications/mail.txt")]
struct MailText<'a> {
    name: &'a str,
    sections: &'a [MailSection],
    prefs_url: &'a str,
    off_url: &'a str,
}

/// Groups the unread items by conversation, in the order given.
fn sections(items: &[&db::MailItem], public_url: &str) -> Vec<MailSection> {
    let mut order = Vec::new();
    let mut by_place: BTreeMap<(String, i64), Vec<MailLine>> = BTreeMap::new();
    for item in items {
        let f = &item.facts;
        let key = (
            format!("{} in {}", fanout::place(f), f.workspace_name),
            f.channel_id,
        );
        if !by_place.contains_key(&key) {
            order.push(key.clone());
        }
        by_place.entry(key).or_default().push(MailLine {
            author: f.author_name.clone(),
            text: if f.notification_text {
                fanout::snippet(f)
            } else {
                format!("New message from {}", f.author_name)
            },
            url: format!("{public_url}{}", fanout::message_path(f)),
        });
    }
    order
        .into_iter()
        .map(|key| MailSection {
            lines: by_place.remove(&key).unwrap_or_default(),
            heading: key.0,
        })
        .collect()
}

fn subject(items: &[&db::MailItem]) -> String {
    match items {
        [one] if one.facts.kind.is_dm() => format!("New message from {}", one.facts.author_name),
        [one] => format!(
            "{} mentioned you in {}",
            one.facts.author_name,
            fanout::place(&one.facts)
        ),
        many => format!("{} unread messages in Natter", many.len()),
    }
}

/// The mail for a person's unread items.
fn compose(
    state: &AppState,
    mailer: &Mailer,
    to: &db::MailRecipient,
    items: &[&db::MailItem],
    off_url: &str,
) -> anyhow::Result<Message> {
    let public_url = &state.config.public_url;
    let sections = sections(items, public_url);
    let prefs_url = format!("{public_url}/settings/notifications");
    let (name, sections) = (to.display_name.as_str(), sections.as_slice());
    let html = MailHtml {
        name,
        sections,
        prefs_url: &prefs_url,
        off_url,
    }
    .render()?;
    let text = MailText {
        name,
        sections,
        prefs_url: &prefs_url,
        off_url,
    }
    .render()?;
    let recipient = mailer::mailbox(&to.display_name, &to.email)
        .ok_or_else(|| anyhow::anyhow!("the account's email is not an address"))?;
    let headers = vec![
        ("List-Unsubscribe", format!("<{off_url}>")),
        (
            "List-Unsubscribe-Post",
            "List-Unsubscribe=One-Click".to_owned(),
        ),
    ];
    mailer.compose(recipient, &subject(items), headers, text, html)
}

/// Backoff after a failed mail: 30 s, 1 min, 2 min … capped at an hour.
fn backoff(attempts: i32) -> f64 {
    (30.0 * 2f64.powi(attempts.clamp(0, 7))).min(3600.0)
}

/// Mails one person, if their first item is still due and no other node is at it.
async fn mail_person(state: &AppState, mailer: &Mailer, user_id: i64) -> anyhow::Result<()> {
    let mut tx = state.db.begin().await?;
    if !db::lock_mail(&mut tx, user_id).await? {
        return Ok(());
    }
    let items = db::mail_items(&mut tx, user_id).await?;
    if !items.iter().any(|i| i.due) {
        return Ok(()); // another node mailed them a moment ago
    }
    let handled: Vec<(i64, i64)> = items
        .iter()
        .map(|i| (i.facts.channel_id, i.facts.seq))
        .collect();
    let person = db::mail_recipient(&mut *tx, user_id).await?;
    let here = !state
        .realtime
        .presence
        .connected_among(&[user_id])
        .await
        .is_empty();
    let unread: Vec<&db::MailItem> = items.iter().filter(|i| i.unread).collect();
    let to = match person {
        Some(p) if p.active && p.email_notify && !p.in_dnd && !here && !unread.is_empty() => p,
        // Read in time, or not to be mailed now: the items are done, and not kept for later.
        _ => {
            db::mail_done(&mut tx, user_id, &handled, false).await?;
            tx.commit().await?;
            return Ok(());
        }
    };
    let off_url = format!(
        "{}/notifications/email-off/{}",
        state.config.public_url,
        off_token(&link_key(state).await?, user_id)
    );
    let message: Message = compose(state, mailer, &to, &unread, &off_url)?;
    match mailer.send(message).await {
        Ok(_) => {
            db::mail_done(&mut tx, user_id, &handled, true).await?;
            tx.commit().await?;
            tracing::info!(user_id, messages = unread.len(), "notification mail sent");
        }
        Err(e) => {
            drop(tx);
            let attempts = items.iter().map(|i| i.attempts).max().unwrap_or(0);
            tracing::warn!(user_id, error = %e, "notification mail not sent; will retry");
            db::mail_retry(&state.db, user_id, backoff(attempts)).await?;
        }
    }
    Ok(())
}

/// The mail loop; runs on every node that has `NATTER_SMTP_URL` until the process ends.
pub async fn run_worker(state: AppState) {
    let mailer = match Mailer::from_config(&state.config.notify) {
        Ok(Some(mailer)) => mailer,
        Ok(None) => return,
        Err(e) => {
            tracing::error!(error = %e, "no notification mail will be sent");
            return;
        }
    };
    let mut idle = tokio::time::interval(Duration::from_secs(1));
    loop {
        idle.tick().await;
        let due = match db::due_mail_users(&state.db, PER_ROUND).await {
            Ok(due) => due,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the mail queue; retrying");
                continue;
            }
        };
        for user_id in due {
            if let Err(e) = mail_person(&state, &mailer, user_id).await {
                tracing::warn!(
                    user_id,
                    error = format!("{e:#}"),
                    "notification mail failed"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_tokens_name_their_person_and_nothing_forged_passes() {
        let key = b"0123456789abcdef0123456789abcdef";
        let token = off_token(key, 42);
        assert_eq!(check_off_token(key, &token), Some(42));
        let (_, tag) = token.split_once('.').unwrap();
        assert_eq!(check_off_token(key, &format!("43.{tag}")), None);
        assert_eq!(check_off_token(b"another key", &token), None);
        assert_eq!(check_off_token(key, "42"), None);
        assert_eq!(check_off_token(key, "42.!!!"), None);
    }
}
