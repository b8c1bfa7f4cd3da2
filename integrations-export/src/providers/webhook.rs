//! A generic webhook, signed as Standard Webhooks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{content_json, require_destination};
use crate::error::Error;
use crate::provider::{
    ConnectionCheck, Content, DestinationPage, ExportContext, ExportResult, PlannedRequest,
    Provider,
};

/// A JSON POST to any URL (the destination), signed as
/// [Standard Webhooks](https://www.standardwebhooks.com/) with the
/// provider's secret: `webhook-id` (the idempotency key, which receivers
/// use to drop a delivery they already have), `webhook-timestamp` and
/// `webhook-signature` headers. The body is
/// `{"type": "export.created", "timestamp": ..., "data": {"tenant", "title", "markdown", "metadata"}}`.
///
/// Any 2xx answer is a delivery; 429 and 5xx are transient, other statuses
/// are not. Redirects are not followed.
#[derive(Debug)]
pub struct WebhookProvider {
    secret: SecretString,
    client: reqwest::Client,
    sequence: AtomicU64,
}

impl WebhookProvider {
    /// A provider that signs with `secret` (`whsec_` and base64, as
    /// Standard Webhooks secrets are written).
    pub fn new(secret: SecretString) -> Result<Self, Error> {
        // Signing once checks the secret's form now, not at the first export.
        integrations_vendor::webhook::sign_standard_webhook(&secret, "check", 0, b"")
            .map_err(|error| Error::invalid("webhook", format!("the signing secret: {error}")))?;
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| {
                Error::invalid("webhook", format!("cannot build the HTTP client: {error}"))
            })?;
        Ok(Self {
            secret,
            client,
            sequence: AtomicU64::new(0),
        })
    }

    fn url(destination: &str) -> Result<reqwest::Url, Error> {
        require_destination("webhook", destination, "the receiver's URL")?;
        let url = reqwest::Url::parse(destination).map_err(|error| {
            Error::invalid("webhook", format!("{destination:?} is not a URL: {error}"))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(Error::invalid(
                "webhook",
                "the receiver's URL must be http or https",
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

    fn message_id(&self, context: &ExportContext) -> String {
        context.idempotency_key.clone().unwrap_or_else(|| {
            let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
            format!("msg_{}_{sequence}", Utc::now().timestamp_micros())
        })
    }
}

#[async_trait]
impl Provider for WebhookProvider {
    fn id(&self) -> &str {
        "webhook"
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
        let url = Self::url(destination)?;
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
        let url = Self::url(destination)?;
        let body = serde_json::to_vec(&Self::body(context, content))
            .map_err(|error| Error::unexpected("webhook", error.to_string()))?;
        let id = self.message_id(context);
        let timestamp = Utc::now().timestamp();
        let signature = integrations_vendor::webhook::sign_standard_webhook(
            &self.secret,
            &id,
            timestamp,
            &body,
        )
        .map_err(|error| Error::invalid("webhook", format!("the signing secret: {error}")))?;
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
        let display = url.as_str().to_owned();
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
        Ok(ExportResult::new("webhook").external_id(id))
    }
}
