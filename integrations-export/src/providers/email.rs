//! Email over SMTP.

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use integrations_core::credentials::{CredentialKind, CredentialStore};
use integrations_core::id::ProviderId;
use lettre::message::{Mailbox, Mailboxes, MultiPart};
use lettre::transport::smtp::authentication::Credentials as SmtpCredentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use super::{converted, require_destination};
use crate::error::Error;
use crate::markdown::{markdown_to_html, markdown_to_text};
use crate::provider::{
    ConnectionCheck, Content, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};

/// Recipients of one email export at most.
pub const MAX_RECIPIENTS: usize = 50;

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpTls {
    /// `STARTTLS`, required (port 587).
    #[default]
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// None: the credentials cross in clear. Allowed only for a relay on a
    /// loopback address (a local MTA, a test).
    None,
}

provider_id!("email");

/// The SMTP relay an [`EmailProvider`] sends through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SmtpRelay {
    /// The relay's host name or address.
    pub host: String,
    /// Its port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: SmtpTls,
    /// The time limit of each step of a delivery (connect, each command);
    /// default 30 s.
    pub timeout: Duration,
}

impl SmtpRelay {
    /// A relay at `host`, port 587 with `STARTTLS`.
    pub fn new(host: impl Into<String>) -> Self {
        Self {
            host: host.into(),
            port: 587,
            tls: SmtpTls::StartTls,
            timeout: Duration::from_secs(30),
        }
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Sets the protection.
    #[must_use]
    pub fn tls(mut self, tls: SmtpTls) -> Self {
        self.tls = tls;
        self
    }

    /// Sets the time limit of each step.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    fn is_loopback(&self) -> bool {
        self.host == "localhost"
            || self
                .host
                .parse::<IpAddr>()
                .is_ok_and(|address| address.is_loopback())
    }

    fn name(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Email (feature `email`): each export is one message to the destination's addresses
/// (`a@example.com`, or several separated by commas, at most 50), sent
/// through an SMTP relay (`lettre`). The subject is the content's title
/// (its first line without one); the body has a plain-text and an HTML
/// part, both rendered from the markdown, the HTML with any raw HTML of
/// the document escaped, so a document cannot bring its own markup.
///
/// Credentials: the tenant's `email` connection, a
/// [`Basic`](integrations_core::credentials::Credentials::basic) user name
/// and password for the relay (`AUTH PLAIN` or `LOGIN`). The `Message-ID`
/// is derived from the tenant and the idempotency key, the same for every
/// attempt, so a resumed export is recognisable as the same message; SMTP
/// cannot be asked what it has, so an export is delivered at least once.
#[cfg_attr(docsrs, doc(cfg(feature = "email")))]
#[derive(Clone)]
pub struct EmailProvider {
    relay: SmtpRelay,
    from: Mailbox,
    store: Arc<dyn CredentialStore>,
}

impl fmt::Debug for EmailProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailProvider")
            .field("relay", &self.relay)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl EmailProvider {
    /// A provider sending through `relay` as `from` (`Reports
    /// <reports@example.com>`), with credentials from `store`. Errors: an
    /// address that is not one, [`SmtpTls::None`] to a relay not on
    /// loopback.
    pub fn new(
        relay: SmtpRelay,
        from: &str,
        store: Arc<dyn CredentialStore>,
    ) -> Result<Self, Error> {
        let from = from.parse::<Mailbox>().map_err(|error| {
            Error::invalid(
                provider_id(),
                format!("the sender `{from}` is not an address: {error}"),
            )
        })?;
        if relay.tls == SmtpTls::None && !relay.is_loopback() {
            return Err(Error::invalid(
                provider_id(),
                format!(
                    "SmtpTls::None would send the relay's password in clear to {}; use STARTTLS or implicit TLS",
                    relay.host
                ),
            ));
        }
        Ok(Self { relay, from, store })
    }

    /// The transport for one delivery, with the tenant's credentials.
    async fn transport(
        &self,
        context: &ExportContext,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, Error> {
        let connection = context.connection_id("email")?;
        let stored = self
            .store
            .get(&context.tenant, &connection)
            .await?
            .ok_or_else(|| {
                Error::invalid(provider_id(),
                    format!(
                        "tenant {} has no `{connection}` connection: store the relay's user name and password (Credentials::basic)",
                        context.tenant
                    ),
                )
            })?;
        let CredentialKind::Basic { username, password } = &stored.value.kind else {
            return Err(Error::invalid(
                provider_id(),
                format!(
                    "the `{connection}` connection must hold a user name and password (Credentials::basic)"
                ),
            ));
        };
        let credentials =
            SmtpCredentials::new(username.clone(), password.expose_secret().to_owned());
        let relay = &self.relay;
        let builder = match relay.tls {
            SmtpTls::StartTls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&relay.host),
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&relay.host),
            SmtpTls::None => Ok(AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(
                &relay.host,
            )),
        }
        .map_err(|error| smtp_error(relay, &error))?;
        Ok(builder
            .port(relay.port)
            .credentials(credentials)
            .timeout(Some(relay.timeout))
            .build())
    }

    /// The message of an export, or why there is none.
    fn message(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Message, Error> {
        let to = recipients(destination)?;
        let subject = subject(content);
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(subject)
            .message_id(Some(message_id(context, self.from.email.domain())));
        for mailbox in to {
            builder = builder.to(mailbox);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                markdown_to_text(&content.markdown),
                markdown_to_html(&content.markdown),
            ))
            .map_err(|error| {
                Error::invalid(provider_id(), format!("cannot build the message: {error}"))
            })
    }
}

/// The addresses of `destination`: one or more, separated by commas.
fn recipients(destination: &str) -> Result<Vec<Mailbox>, Error> {
    require_destination(
        provider_id(),
        destination,
        "an address such as ops@example.com",
    )?;
    let mailboxes: Mailboxes = destination.parse().map_err(|error| {
        Error::invalid(
            provider_id(),
            format!("`{destination}` is not a list of addresses: {error}"),
        )
    })?;
    let mailboxes: Vec<Mailbox> = mailboxes.into_iter().collect();
    if mailboxes.len() > MAX_RECIPIENTS {
        return Err(Error::invalid(
            provider_id(),
            format!(
                "{} recipients, more than {MAX_RECIPIENTS}; send to a list address instead",
                mailboxes.len()
            ),
        ));
    }
    Ok(mailboxes)
}

/// The subject: the title, else the document's first line, at most 200
/// characters.
fn subject(content: &Content) -> String {
    let first = content
        .markdown
        .lines()
        .map(|line| line.trim_start_matches('#').trim())
        .find(|line| !line.is_empty())
        .unwrap_or("Export");
    let subject = content.title.as_deref().unwrap_or(first);
    subject
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
}

/// `<{hash of tenant and key}@{sender's domain}>`, the same on every
/// attempt of an export.
fn message_id(context: &ExportContext, domain: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(context.tenant.as_str());
    hash.update([0]);
    hash.update(context.idempotency_key.as_deref().unwrap_or_default());
    format!("<export.{}@{domain}>", hex::encode(&hash.finalize()[..16]))
}

fn smtp_error(relay: &SmtpRelay, error: &lettre::transport::smtp::Error) -> Error {
    Error::Smtp {
        relay: relay.name(),
        code: error.status().map(u16::from),
        message: error.to_string(),
        transient: error.is_transient() || error.is_timeout() || error.status().is_none(),
    }
}

#[async_trait]
impl Provider for EmailProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    /// Email has no list of destinations: an address is typed.
    async fn list_destinations(
        &self,
        _context: &ExportContext,
        _cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        Ok(DestinationPage::default())
    }

    /// Connects to the relay and authenticates with the tenant's
    /// credentials.
    async fn validate_connection(&self, context: &ExportContext) -> Result<ConnectionCheck, Error> {
        let started = Instant::now();
        let transport = self.transport(context).await?;
        match transport.test_connection().await {
            Ok(true) => Ok(ConnectionCheck::new(
                Some(self.relay.name()),
                started.elapsed(),
            )),
            Ok(false) => Err(Error::Smtp {
                relay: self.relay.name(),
                code: None,
                message: "the relay did not answer NOOP".into(),
                transient: true,
            }),
            Err(error) => Err(smtp_error(&self.relay, &error)),
        }
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(json!({
            "subject": subject(content),
            "text": markdown_to_text(&content.markdown),
            "html": markdown_to_html(&content.markdown),
        }))
    }

    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let message = self.message(context, content, destination)?;
        let envelope = message.envelope();
        Ok(vec![PlannedRequest::new(
            "SMTP",
            format!("smtp://{}", self.relay.name()),
            json!({
                "from": envelope.from().map(ToString::to_string),
                "to": envelope.to().iter().map(ToString::to_string).collect::<Vec<_>>(),
                "message": String::from_utf8_lossy(&message.formatted()),
            }),
        )])
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let (owned, to, provider) = (context.clone(), destination.to_owned(), self.clone());
        let message = converted(provider_id(), content, move |content| {
            provider.message(&owned, content, &to)
        })
        .await?;
        let id = message
            .headers()
            .get_raw("Message-ID")
            .map(str::to_owned)
            .unwrap_or_default();
        let transport = self.transport(context).await?;
        transport
            .send(message)
            .await
            .map_err(|error| smtp_error(&self.relay, &error))?;
        Ok(ExportResult::new(provider_id().clone())
            .external_id(id)
            .requests(1))
    }
}
