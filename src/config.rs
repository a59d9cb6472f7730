//! Configuration, read once from environment variables into a typed struct.
//!
//! Every variable has a default that works on a fresh machine, so `natter` with nothing set
//! serves on http://127.0.0.1:3000 against the local Postgres. Tests build [`Config`] directly.
//! `.env.example` documents each variable.

use std::net::SocketAddr;

use anyhow::Context;

/// Where Natter listens, where it stores things, and how it is reached from outside.
#[derive(Clone, Debug)]
pub struct Config {
    /// The address the HTTP server binds (`NATTER_BIND`).
    pub bind: SocketAddr,
    /// The URL people use to reach Natter (`NATTER_PUBLIC_URL`): invite links are built from it,
    /// and cookies are marked `Secure` when it is https.
    pub public_url: String,
    /// The Postgres database (`DATABASE_URL`); created if missing.
    pub database_url: String,
    /// Redis for the bus and presence across nodes (`REDIS_URL`); unset means in-process.
    pub redis_url: Option<String>,
    /// Prefix of Natter's Redis channels and keys (`REDIS_PREFIX`, default `natter`), so
    /// several deployments can share one Redis.
    pub redis_prefix: String,
    /// Whether outgoing requests (bot events, fetched icons) may reach private, loopback and
    /// other internal addresses (`NATTER_OUTBOUND_ALLOW_PRIVATE`, or its older name
    /// `NATTER_EVENTS_ALLOW_PRIVATE`; default false: users' URLs cannot probe the server's own
    /// network).
    pub outbound_allow_private: bool,
    /// Meilisearch for search (`MEILI_URL`); unset means Postgres full-text search.
    pub meili_url: Option<String>,
    /// The Meilisearch index Natter searches (`MEILI_INDEX`, default `natter_messages`), so
    /// several deployments can share one Meilisearch.
    pub meili_index: String,
    /// Meilisearch's master key (`MEILI_MASTER_KEY`).
    pub meili_master_key: Option<String>,
    /// Whether per-user rate limits on sending, webhooks and the Web API apply
    /// (`NATTER_RATE_LIMITS`, default on; `off` is for load tests and fully trusted clients).
    /// Login throttling always applies.
    pub rate_limits: bool,
    /// Who may sign up (`NATTER_SIGNUP`): `open` (the default), `invite` (only through an
    /// invite link), or `domains:example.com,example.org`.
    pub signup: Signup,
    /// Reverse proxies whose `X-Forwarded-For` / `Forwarded` name the client
    /// (`NATTER_TRUSTED_PROXIES`, comma-separated CIDRs; none by default).
    pub trusted_proxies: Vec<crate::web::client::Cidr>,
    /// Where files are kept and how large an upload may be.
    pub files: FilesConfig,
    /// Mail and Web Push for notifications.
    pub notify: NotifyConfig,
    /// Single sign-on with an OpenID provider, when all three `NATTER_OIDC_*` are set.
    pub oidc: Option<OidcConfig>,
}

/// The OpenID provider people may log in through (`NATTER_OIDC_ISSUER`, `NATTER_OIDC_CLIENT_ID`,
/// `NATTER_OIDC_CLIENT_SECRET`), registered with the redirect URI
/// `<NATTER_PUBLIC_URL>/auth/oidc/callback`.
#[derive(Clone, Debug)]
pub struct OidcConfig {
    /// Exactly as the provider's discovery document names itself.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl OidcConfig {
    /// All three set: single sign-on; none: off; some: a mistake worth stopping for.
    fn from_vars(
        issuer: Option<String>,
        client_id: Option<String>,
        client_secret: Option<String>,
    ) -> anyhow::Result<Option<Self>> {
        match (issuer, client_id, client_secret) {
            (Some(issuer), Some(client_id), Some(client_secret)) => Ok(Some(Self {
                issuer: issuer.trim().to_owned(),
                client_id: client_id.trim().to_owned(),
                client_secret,
            })),
            (None, None, None) => Ok(None),
            _ => anyhow::bail!(
                "single sign-on needs all three of NATTER_OIDC_ISSUER, NATTER_OIDC_CLIENT_ID and NATTER_OIDC_CLIENT_SECRET"
            ),
        }
    }
}

/// Notification mail (off without `NATTER_SMTP_URL`) and the contact Web Push services see.
#[derive(Clone, Debug)]
pub struct NotifyConfig {
    /// `NATTER_SMTP_URL`: `smtp://host:587?tls=required` (STARTTLS), `smtps://user:pass@host`
    /// (TLS), or `smtp://127.0.0.1:1025` (plain, for a relay on the same machine).
    pub smtp_url: Option<String>,
    /// `NATTER_MAIL_FROM`, default `Natter <natter@HOST>` with the public URL's host.
    pub mail_from: String,
    /// `NATTER_EMAIL_NOTIFY_DELAY_SECS`, default 900: how long a DM or mention stays unread
    /// before it is mailed, and the least time between two mails to one person.
    pub email_delay_secs: u64,
    /// `NATTER_VAPID_SUBJECT`, default `mailto:` the sender address: how a push service
    /// reaches whoever runs this instance (RFC 8292).
    pub vapid_subject: String,
}

impl NotifyConfig {
    /// No mail; pushes signed with a placeholder contact.
    pub fn without_mail(public_url: &str) -> Self {
        let host = public_url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([':', '/']).next())
            .filter(|h| h.contains('.'))
            .unwrap_or("localhost");
        Self {
            smtp_url: None,
            mail_from: format!("Natter <natter@{host}>"),
            email_delay_secs: DEFAULT_EMAIL_DELAY_SECS,
            vapid_subject: format!("mailto:natter@{host}"),
        }
    }
}

pub const DEFAULT_EMAIL_DELAY_SECS: u64 = 900;

/// Files: a directory by default, an S3-compatible bucket when `NATTER_S3_BUCKET` is set (with
/// the usual `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`).
#[derive(Clone, Debug)]
pub struct FilesConfig {
    /// `NATTER_FILES_DIR`, default `./data/files`.
    pub dir: std::path::PathBuf,
    /// `NATTER_S3_BUCKET`, `NATTER_S3_ENDPOINT` (for S3-compatible servers) and `NATTER_S3_REGION`.
    pub s3_bucket: Option<String>,
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    /// The bucket's credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`); unset, the
    /// usual AWS sources (instance metadata, web identity) are asked.
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// `NATTER_MAX_UPLOAD_MB`, default 100.
    pub max_upload_mb: u64,
}

impl FilesConfig {
    /// Files in this directory, up to the default size.
    pub fn in_dir(dir: impl Into<std::path::PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            max_upload_mb: DEFAULT_MAX_UPLOAD_MB,
        }
    }

    /// The largest upload, in bytes.
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_mb * 1024 * 1024
    }
}

pub const DEFAULT_MAX_UPLOAD_MB: u64 = 100;

/// Who may make an account on this instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Signup {
    #[default]
    Open,
    /// Only someone following an invite link.
    Invite,
    /// Only addresses at these domains (lowercase).
    Domains(Vec<String>),
}

impl Signup {
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        match text.to_lowercase().as_str() {
            "" | "open" => return Ok(Signup::Open),
            "invite" => return Ok(Signup::Invite),
            _ => {}
        }
        let Some(list) = text.strip_prefix("domains:") else {
            anyhow::bail!(
                "NATTER_SIGNUP={text:?} is not open, invite or domains:example.com,example.org"
            );
        };
        let domains: Vec<String> = list
            .split(',')
            .map(|d| d.trim().trim_start_matches('@').to_lowercase())
            .filter(|d| !d.is_empty())
            .collect();
        if domains.is_empty() || domains.iter().any(|d| !d.contains('.')) {
            anyhow::bail!(
                "NATTER_SIGNUP={text:?} needs domains like domains:example.com,example.org"
            );
        }
        Ok(Signup::Domains(domains))
    }
}

pub const DEFAULT_BIND: &str = "127.0.0.1:3000";
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/natter";

impl Config {
    /// Reads the configuration from the environment, falling back to the defaults.
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let bind_text = var("NATTER_BIND").unwrap_or_else(|| DEFAULT_BIND.to_owned());
        let bind: SocketAddr = bind_text.parse().with_context(|| {
            format!("NATTER_BIND={bind_text:?} is not an address like {DEFAULT_BIND}")
        })?;
        let public_url = var("NATTER_PUBLIC_URL").unwrap_or_else(|| format!("http://{bind}"));
        let mut notify = NotifyConfig::without_mail(&public_url);
        notify.smtp_url = var("NATTER_SMTP_URL");
        if let Some(from) = var("NATTER_MAIL_FROM") {
            from.parse::<lettre::message::Mailbox>().map_err(|e| {
                anyhow::anyhow!("NATTER_MAIL_FROM={from:?} is not an address like Natter <natter@example.com>: {e}")
            })?;
            notify.vapid_subject = format!(
                "mailto:{}",
                from.rsplit_once('<')
                    .map_or(from.as_str(), |(_, a)| a.trim_end_matches('>'))
            );
            notify.mail_from = from;
        }
        if let Some(subject) = var("NATTER_VAPID_SUBJECT") {
            notify.vapid_subject = subject;
        }
        if let Some(text) = var("NATTER_EMAIL_NOTIFY_DELAY_SECS") {
            notify.email_delay_secs = text.trim().parse().with_context(|| {
                format!("NATTER_EMAIL_NOTIFY_DELAY_SECS={text:?} is not a whole number of seconds")
            })?;
        }
        Ok(Self {
            notify,
            oidc: OidcConfig::from_vars(
                var("NATTER_OIDC_ISSUER"),
                var("NATTER_OIDC_CLIENT_ID"),
                var("NATTER_OIDC_CLIENT_SECRET"),
            )?,
            bind,
            public_url: public_url.trim_end_matches('/').to_owned(),
            database_url: var("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            redis_url: var("REDIS_URL"),
            redis_prefix: var("REDIS_PREFIX").unwrap_or_else(|| "natter".to_owned()),
            outbound_allow_private: var("NATTER_OUTBOUND_ALLOW_PRIVATE")
                .or_else(|| var("NATTER_EVENTS_ALLOW_PRIVATE"))
                .is_some_and(|v| matches!(v.to_lowercase().as_str(), "1" | "true" | "yes")),
            meili_url: var("MEILI_URL"),
            meili_master_key: var("MEILI_MASTER_KEY"),
            meili_index: var("MEILI_INDEX").unwrap_or_else(|| "natter_messages".to_owned()),
            rate_limits: var("NATTER_RATE_LIMITS")
                .is_none_or(|v| !matches!(v.to_lowercase().as_str(), "off" | "0" | "false" | "no")),
            signup: Signup::parse(&var("NATTER_SIGNUP").unwrap_or_default())?,
            trusted_proxies: var("NATTER_TRUSTED_PROXIES")
                .unwrap_or_default()
                .split(',')
                .filter(|c| !c.trim().is_empty())
                .map(|c| {
                    crate::web::client::Cidr::parse(c).with_context(|| {
                        format!(
                            "NATTER_TRUSTED_PROXIES has {c:?}, which is not a CIDR like 10.0.0.0/8"
                        )
                    })
                })
                .collect::<anyhow::Result<_>>()?,
            files: FilesConfig {
                dir: var("NATTER_FILES_DIR")
                    .unwrap_or_else(|| "./data/files".to_owned())
                    .into(),
                s3_bucket: var("NATTER_S3_BUCKET"),
                s3_endpoint: var("NATTER_S3_ENDPOINT"),
                s3_region: var("NATTER_S3_REGION"),
                s3_access_key_id: var("AWS_ACCESS_KEY_ID"),
                s3_secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
                max_upload_mb: match var("NATTER_MAX_UPLOAD_MB") {
                    None => DEFAULT_MAX_UPLOAD_MB,
                    Some(text) => text.trim().parse().ok().filter(|mb| *mb > 0).with_context(|| {
                        format!("NATTER_MAX_UPLOAD_MB={text:?} is not a positive whole number of megabytes")
                    })?,
                },
            },
        })
    }

    /// Cookies get `Secure` only when people reach Natter over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

#[cfg(test)]
mod tests {
    use super::Signup;

    #[test]
    fn signup_policies_parse_and_bad_ones_say_why() {
        assert_eq!(Signup::parse("").unwrap(), Signup::Open);
        assert_eq!(Signup::parse("Invite").unwrap(), Signup::Invite);
        assert_eq!(
            Signup::parse("domains:Example.com, @example.org").unwrap(),
            Signup::Domains(vec!["example.com".into(), "example.org".into()])
        );
        assert!(Signup::parse("domains:").is_err());
        assert!(
            Signup::parse("everyone")
                .unwrap_err()
                .to_string()
                .contains("NATTER_SIGNUP")
        );
    }
}
