//! Outgoing mail over SMTP (`NATTER_SMTP_URL`, with `lettre` on rustls): the one transport that
//! notification mail and password-reset mail go through. Without `NATTER_SMTP_URL` there is no
//! mailer, and the pages that would mail say so.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::NotifyConfig;

/// The SMTP transport and the sender address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// The configured mailer; `Ok(None)` without `NATTER_SMTP_URL`.
    pub fn from_config(config: &NotifyConfig) -> anyhow::Result<Option<Self>> {
        let Some(url) = &config.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| anyhow::anyhow!("NATTER_SMTP_URL is not an SMTP URL: {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        let from = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("NATTER_MAIL_FROM is not an address: {e}"))?;
        Ok(Some(Self { transport, from }))
    }

    /// A mail from Natter to `to` with plain-text and HTML parts, and extra headers.
    pub fn compose(
        &self,
        to: Mailbox,
        subject: &str,
        headers: Vec<(&'static str, String)>,
        text: String,
        html: String,
    ) -> anyhow::Result<Message> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .raw_header(header("Auto-Submitted", "auto-generated".to_owned()));
        for (name, value) in headers {
            builder = builder.raw_header(header(name, value));
        }
        Ok(builder.multipart(MultiPart::alternative_plain_html(text, html))?)
    }

    pub async fn send(&self, message: Message) -> anyhow::Result<()> {
        self.transport.send(message).await?;
        Ok(())
    }
}

/// `Name <address>` for a person, or `None` when the address is not one.
pub fn mailbox(name: &str, email: &str) -> Option<Mailbox> {
    Some(Mailbox::new(Some(name.to_owned()), email.parse().ok()?))
}

fn header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}
