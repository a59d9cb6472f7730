//! A workspace's settings: its name, who may create channels, who may join without an invite
//! (people whose email is in an allowed domain), how long messages are kept, and who may
//! notify a whole big channel with @channel, @everyone or @here, the file quota and whether
//! links get previews, whether notifications carry messages' text, and whether members must
//! use two-factor authentication. Changed by
//! owners and admins, audited; the retention worker ([`run_retention`]) applies the last.

use std::time::Duration;

use sqlx::PgPool;

use super::db;
use crate::auth::membership::Membership;
use crate::error::AppError;
use crate::index::outbox::{self, Op};

/// What the settings form sends, as typed.
#[derive(Debug, Default, serde::Deserialize)]
pub struct SettingsForm {
    #[serde(default)]
    pub name: String,
    /// `members` or `admins`.
    #[serde(default)]
    pub channel_creators: String,
    /// Comma- or space-separated domains; empty: invite links only.
    #[serde(default)]
    pub allowed_domains: String,
    /// Days; empty: keep everything.
    #[serde(default)]
    pub retention_days: String,
    /// Members; empty: anyone may use @channel, @everyone and @here anywhere.
    #[serde(default)]
    pub mention_all_limit: String,
    /// Megabytes of files the workspace may keep; empty: no quota.
    #[serde(default)]
    pub file_quota_mb: String,
    /// A checkbox: present when link previews are on.
    #[serde(default)]
    pub link_previews: Option<String>,
    #[serde(default)]
    pub notification_text: Option<String>,
    /// A checkbox: present when members must use two-factor authentication.
    #[serde(default)]
    pub require_two_factor: Option<String>,
}

/// The settings as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Settings {
    pub name: String,
    pub channel_creators: String,
    pub allowed_domains: Vec<String>,
    pub retention_days: Option<i32>,
    /// In channels with more members, only owners and admins may use @channel, @everyone and
    /// @here.
    pub mention_all_limit: Option<i32>,
    /// The most its files may take, in megabytes (`None`: no quota).
    pub file_quota_mb: Option<i64>,
    /// Whether messages' links get preview cards.
    pub link_previews: bool,
    /// Whether notifications (desktop, push, mail) carry messages' text, or only "New message
    /// from Alice".
    pub notification_text: bool,
    /// Members without two-factor authentication are sent to set it up before they go on.
    pub require_two_factor: bool,
}

impl Settings {
    /// Whether someone with this email may join without an invite.
    pub fn admits(&self, email: &str) -> bool {
        let domain = email.rsplit_once('@').map(|(_, d)| d.to_lowercase());
        domain.is_some_and(|d| self.allowed_domains.contains(&d))
    }

    pub fn form(&self) -> SettingsForm {
        SettingsForm {
            name: self.name.clone(),
            channel_creators: self.channel_creators.clone(),
            allowed_domains: self.allowed_domains.join(", "),
            retention_days: self
                .retention_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            mention_all_limit: self
                .mention_all_limit
                .map(|n| n.to_string())
                .unwrap_or_default(),
            file_quota_mb: self
                .file_quota_mb
                .map(|n| n.to_string())
                .unwrap_or_default(),
            link_previews: self.link_previews.then(|| "1".to_owned()),
            notification_text: self.notification_text.then(|| "1".to_owned()),
            require_two_factor: self.require_two_factor.then(|| "1".to_owned()),
        }
    }
}

impl SettingsForm {
    /// The settings the form asks for, or what to fix.
    pub fn parse(&self) -> Result<Settings, AppError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 60 {
            return Err(AppError::Validation(
                "Give the workspace a name of up to 60 characters.".into(),
            ));
        }
        if !matches!(self.channel_creators.as_str(), "members" | "admins") {
            return Err(AppError::Validation(
                "Channels are created by members or by admins.".into(),
            ));
        }
        let mut domains = Vec::new();
        for domain in self
            .allowed_domains
            .split([',', ' ', '\n'])
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
        {
            let ok = domain.contains('.')
                && !domain.starts_with('.')
                && domain
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-');
            if !ok {
                return Err(AppError::Validation(format!(
                    "{domain:?} is not an email domain like example.com."
                )));
            }
            if !domains.contains(&domain) {
                domains.push(domain);
            }
        }
        let retention_days = match self.retention_days.trim() {
            "" => None,
            days => match days.parse::<i32>() {
                Ok(d) if (1..=36_500).contains(&d) => Some(d),
                _ => {
                    return Err(AppError::Validation(
                        "Keep messages for 1 to 36500 days, or leave it empty to keep them all."
                            .into(),
                    ));
                }
            },
        };
        let mention_all_limit = match self.mention_all_limit.trim() {
            "" => None,
            n => match n.parse::<i32>() {
                Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
                _ => {
                    return Err(AppError::Validation(
                        "Limit @channel, @everyone and @here to channels of 1 to 1000000 members, or leave it empty to let everyone use them."
                            .into(),
                    ));
                }
            },
        };
        let file_quota_mb = match self.file_quota_mb.trim() {
            "" => None,
            n => match n.parse::<i64>() {
                Ok(n) if (1..=1_000_000_000).contains(&n) => Some(n),
                _ => {
                    return Err(AppError::Validation(
                        "Give the file quota in whole megabytes (1 or more), or leave it empty for no quota."
                            .into(),
                    ));
                }
            },
        };
        Ok(Settings {
            name: name.to_owned(),
            channel_creators: self.channel_creators.clone(),
            allowed_domains: domains,
            retention_days,
            mention_all_limit,
            file_quota_mb,
            link_previews: self.link_previews.is_some(),
            notification_text: self.notification_text.is_some(),
            require_two_factor: self.require_two_factor.is_some(),
        })
    }
}

/// Stores new settings, if `actor` is an owner or admin; records what changed.
pub async fn update(
    pool: &PgPool,
    actor: &Membership,
    actor_id: i64,
    form: &SettingsForm,
) -> Result<Settings, AppError> {
    let actor = actor
        .clone()
        .require_admin("change the workspace's settings")?;
    let new = form.parse()?;
    let old = db::settings(pool, actor.id).await?;
    let mut changed = Vec::new();
    if old.name != new.name {
        changed.push(format!("name: {} → {}", old.name, new.name));
    }
    if old.channel_creators != new.channel_creators {
        changed.push(format!("channel creators: {}", new.channel_creators));
    }
    if old.allowed_domains != new.allowed_domains {
        changed.push(format!(
            "allowed domains: {}",
            new.allowed_domains.join(", ")
        ));
    }
    if old.retention_days != new.retention_days {
        let days = new
            .retention_days
            .map_or("forever".to_owned(), |d| format!("{d} days"));
        changed.push(format!("retention: {days}"));
    }
    if old.mention_all_limit != new.mention_all_limit {
        let who = new.mention_all_limit.map_or("everyone".to_owned(), |n| {
            format!("admins only in channels over {n} members")
        });
        changed.push(format!("@channel, @everyone, @here: {who}"));
    }
    if old.file_quota_mb != new.file_quota_mb {
        let quota = new
            .file_quota_mb
            .map_or("none".to_owned(), |mb| format!("{mb} MB"));
        changed.push(format!("file quota: {quota}"));
    }
    if old.link_previews != new.link_previews {
        let on = if new.link_previews { "on" } else { "off" };
        changed.push(format!("link previews: {on}"));
    }
    if old.notification_text != new.notification_text {
        let on = if new.notification_text { "on" } else { "off" };
        changed.push(format!("message text in notifications: {on}"));
    }
    if old.require_two_factor != new.require_two_factor {
        // Whoever turns it on must not lock themselves out with it.
        if new.require_two_factor && !crate::auth::two_factor::is_enabled(pool, actor_id).await? {
            return Err(AppError::Validation(
                "Turn on two-factor authentication for your own account first (Settings → Two-factor)."
                    .into(),
            ));
        }
        let on = if new.require_two_factor {
            "required"
        } else {
            "optional"
        };
        changed.push(format!("two-factor authentication: {on}"));
    }
    if changed.is_empty() {
        return Ok(new);
    }
    let mut tx = pool.begin().await?;
    db::set_settings(&mut *tx, actor.id, &new).await?;
    crate::audit::record(
        &mut *tx,
        actor.id,
        actor_id,
        "workspace.settings",
        &changed.join("; "),
    )
    .await?;
    tx.commit().await?;
    Ok(new)
}

/// Messages purged per statement: a big backlog is cleared batch by batch, never in one long
/// transaction that holds back the send path.
const PURGE_BATCH: i64 = 1_000;

/// One pass over every workspace with a retention period: old message bodies are emptied and
/// marked deleted (their seqs stay, so the log has no hole), their mentions dropped, and the
/// search index told to forget them. Returns how many messages were purged.
pub async fn purge_expired(pool: &PgPool) -> sqlx::Result<u64> {
    let mut total = 0;
    loop {
        let mut tx = pool.begin().await?;
        let purged = db::purge_expired_batch(&mut tx, PURGE_BATCH).await?;
        for &(channel_id, seq) in &purged {
            outbox::enqueue(&mut tx, channel_id, seq, Op::Delete).await?;
        }
        tx.commit().await?;
        total += purged.len() as u64;
        if (purged.len() as i64) < PURGE_BATCH {
            return Ok(total);
        }
    }
}

/// Applies retention periods every ten minutes, on every node (batches are claimed with
/// `skip locked`, so nodes share the work instead of repeating it).
pub async fn run_retention(pool: PgPool) {
    let mut every = tokio::time::interval(Duration::from_secs(600));
    loop {
        every.tick().await;
        match purge_expired(&pool).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                purged = n,
                "retention: emptied messages past their workspace's period"
            ),
            Err(e) => tracing::warn!(error = %e, "retention pass failed; will retry"),
        }
    }
}
