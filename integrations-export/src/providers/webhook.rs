//! A generic webhook, signed as Standard Webhooks.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use integrations_core::TenantId;
use integrations_core::id::ProviderId;
use integrations_core::net::Reach;
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::{content_json, require_destination};
use crate::error::Error;
use crate::provider::{
    ConnectionCheck, Content, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};

provider_id!("webhook");

/// A JSON POST to a URL (the destination), signed as
/// [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`,
/// `webhook-timestamp` and `webhook-signature` headers. The body is
/// `{"type": "export.created", "timestamp": ..., "data": {"tenant", "title", "markdown", "metadata"}}`.
///
/// Destinations are often chosen by tenants, so by default:
/// - only public addresses are reached: a URL naming, or a host name
///   resolving to, a loopback, private, link-local or other internal
///   address is refused before anything is sent
///   ([`allow_internal_destinations`](Self::allow_internal_destinations)
///   lifts this for receivers inside your network);
/// - each tenant's deliveries can be signed with its own secret
///   ([`tenant_secret`](Self::tenant_secret)), so a signature one tenant
///   obtains verifies at no other tenant's receiver;
/// - the `webhook-id` is derived from the tenant and the idempotency key
///   (stable, so receivers drop a delivery they already have, and no
///   tenant can choose the id another tenant's delivery carries);
/// - errors name the receiver's origin only (incoming-webhook URLs hold
///   their secret in the path).
///
/// Any 2xx answer is a delivery; 429 and 5xx are transient, other statuses
/// are not. Redirects are not followed; 30 s at most a delivery.
#[derive(Debug)]
pub struct WebhookProvider {
    secret: SecretString,
    tenant_secrets: HashMap<TenantId, SecretString>,
    client: reqwest::Client,
    internal: bool,
    sequence: AtomicU64,
}

/// Resolves host names to their public addresses only.
#[derive(Debug)]
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| Reach::of(address.ip()) == Reach::Public)
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{} resolves to no public address (an internal receiver needs `allow_internal_destinations`)",
                    name.as_str()
                )
                .into());
            }
            Ok(Box::new(found.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

impl WebhookProvider {
    /// A provider that signs with `secret` (`whsec_` and base64, as
    /// Standard Webhooks secrets are written).
    pub fn new(secret: SecretString) -> Result<Self, Error> {
        check_secret(&secret)?;
        Ok(Self {
            secret,
            tenant_secrets: HashMap::new(),
            client: client(false)?,
            internal: false,
            sequence: AtomicU64::new(0),
        })
    }

    /// Signs `tenant`'s deliveries with `secret` instead of the provider's.
    pub fn tenant_secret(mut self, tenant: TenantId, secret: SecretString) -> Result<Self, Error> {
        check_secret(&secret)?;
        self.tenant_secrets.insert(tenant, secret);
        Ok(self)
    }

    /// Lets destinations be internal addresses (loopback, private,
    /// link-local): for receivers inside your own network, where tenants
    /// do not choose the destination.
    #[must_use]
    pub fn allow_internal_destinations(mut self) -> Self {
        self.internal = true;
        // Building a client without a resolver cannot fail where building
        // one with it did not.
        if let Ok(client) = client(true) {
            self.client = client;
        }
        self
    }

    fn url(&self, destination: &str) -> Result<reqwest::Url, Error> {
        require_destination(provider_id(), destination, "the receiver's URL")?;
        let url = reqwest::Url::parse(destination).map_err(|error| {
            Error::invalid(
                provider_id(),
                format!("{destination:?} is not a URL: {error}"),
            )
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                provider_id(),
                "the receiver's URL must be http or https",
            ));
        }
        let internal = url
            .host_str()
            .is_none_or(|host| Reach::of_host(host).is_some_and(|reach| reach != Reach::Public));
        if internal && !self.internal {
            return Err(Error::invalid(
                provider_id(),
                format!(
                    "{} is an internal address; webhooks go to public receivers unless the provider has `allow_internal_destinations`",
                    origin(&url)
                ),
            ));
        }
        Ok(url)
    }

    fn body(context: &ExportContext, content: &Content) -> Value {
        json!({
            "type": "export.created",
            "timestamp": Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "data": {
                "tenant": context.tenant.as_str(),
                "title": content.title,
                "markdown": content.markdown,
                "metadata": content.metadata,
            },
        })
    }

    /// `msg_` and a digest of the tenant and the idempotency key: the same
    /// for every attempt of one export, different across tenants.
    fn message_id(&self, context: &ExportContext) -> String {
        match &context.idempotency_key {
            Some(key) => {
                let mut digest = Sha256::new();
                digest.update(context.tenant.as_str().as_bytes());
                digest.update([0]);
                digest.update(key.as_bytes());
                format!("msg_{}", hex::encode(&digest.finalize()[..16]))
            }
            None => {
                let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
                format!("msg_{}_{sequence}", Utc::now().timestamp_micros())
            }
        }
    }
}

fn check_secret(secret: &SecretString) -> Result<(), Error> {
    // Signing once checks the secret's form now, not at the first export.
    integrations_vendor::webhook::sign_standard_webhook(secret, "check", 0, b"")
        .map(|_| ())
        .map_err(|error| Error::invalid(provider_id(), format!("the signing secret: {error}")))
}

/// The client: no redirects, 30 s a delivery, and (unless `internal`) a
/// resolver that keeps to public addresses.
fn client(internal: bool) -> Result<reqwest::Client, Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10));
    if !internal {
        builder = builder.dns_resolver(Arc::new(PublicOnly));
    }
    builder.build().map_err(|error| {
        Error::invalid(
            provider_id(),
            format!("cannot build the HTTP client: {error}"),
        )
    })
}

/// The URL's origin (scheme, host, port): what errors show of a receiver.
fn origin(url: &reqwest::Url) -> String {
    url.origin().ascii_serialization()
}

#[async_trait]
impl Provider for WebhookProvider {
    fn id(&self) -> &ProviderId {
        provider_id()
    }

    /// Webhook receivers are named by URL: there is nothing to list.
    async fn list_destinations(
        &self,
        _context: &ExportContext,
        _cursor: Option<&str>,
    ) -> Result<DestinationPage, Error> {
        Ok(DestinationPage::default())
    }

    /// Checks the secret (at construction); a receiver is only known at
    /// export.
    async fn validate_connection(
        &self,
        _context: &ExportContext,
    ) -> Result<ConnectionCheck, Error> {
        Ok(ConnectionCheck::new(None, Duration::ZERO))
    }

    fn format_content(&self, content: &Content) -> Result<Value, Error> {
        Ok(content_json(content))
    }

    fn plan(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<Vec<PlannedRequest>, Error> {
        let url = self.url(destination)?;
        Ok(vec![PlannedRequest::new(
            "POST",
            url.as_str(),
            Self::body(context, content),
        )])
    }

    async fn export(
        &self,
        context: &ExportContext,
        content: &Content,
        destination: &str,
    ) -> Result<ExportResult, Error> {
        let url = self.url(destination)?;
        let body = serde_json::to_vec(&Self::body(context, content))
            .map_err(|error| Error::unexpected(provider_id(), error.to_string()))?;
        let id = self.message_id(context);
        let timestamp = Utc::now().timestamp();
        let secret = self
            .tenant_secrets
            .get(&context.tenant)
            .unwrap_or(&self.secret);
        let signature =
            integrations_vendor::webhook::sign_standard_webhook(secret, &id, timestamp, &body)
                .map_err(|error| {
                    Error::invalid(provider_id(), format!("the signing secret: {error}"))
                })?;
        let started = Instant::now();
        let answer = self
            .client
            .post(url.clone())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        let display = origin(&url);
        let answer = answer.map_err(|error| {
            let vendor = "webhook".to_owned();
            Error::Vendor(if error.is_timeout() {
                integrations_vendor::Error::Timeout {
                    vendor,
                    method: "POST".into(),
                    path: url.path().to_owned(),
                    after: started.elapsed(),
                }
            } else {
                integrations_vendor::Error::Network {
                    vendor,
                    url: display.clone(),
                    message: error.without_url().to_string(),
                }
            })
        })?;
        let status = answer.status().as_u16();
        if !answer.status().is_success() {
            return Err(Error::Webhook {
                url: display,
                status,
            });
        }
        Ok(ExportResult::new(provider_id().clone()).external_id(id))
    }
}
