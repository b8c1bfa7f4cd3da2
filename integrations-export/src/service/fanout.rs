//! One content to several providers.

use std::fmt;

use futures_util::future::join_all;
use integrations_core::TenantId;
use integrations_core::id::ProviderId;

use super::ExportService;
use crate::error::Error;
use crate::provider::Content;
use crate::request::ExportRequest;
use crate::store::ExportStatus;

/// A provider and destination of a [`fan_out`](ExportService::fan_out).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Target {
    /// The provider's id.
    pub provider: ProviderId,
    /// The destination.
    pub destination: String,
}

impl Target {
    /// `destination` through `provider`.
    pub fn new(provider: ProviderId, destination: impl Into<String>) -> Self {
        Self {
            provider,
            destination: destination.into(),
        }
    }
}

/// What became of one target of a fan-out.
#[derive(Debug)]
#[non_exhaustive]
pub struct TargetOutcome {
    /// The target.
    pub target: Target,
    /// The export's record (delivered, failed, or pending a retry), or why
    /// it could not even be tried.
    pub result: Result<crate::ExportRecord, Error>,
}

impl TargetOutcome {
    /// Whether this target has the content.
    pub fn delivered(&self) -> bool {
        matches!(&self.result, Ok(record) if record.status == ExportStatus::Delivered)
    }
}

/// The outcome of a fan-out: one per target, in the order given.
#[derive(Debug)]
#[non_exhaustive]
pub struct FanOut {
    /// The outcomes.
    pub outcomes: Vec<TargetOutcome>,
}

impl FanOut {
    /// Whether anything was sent: false when no target was given.
    pub fn sent_anything(&self) -> bool {
        !self.outcomes.is_empty()
    }

    /// How many targets have the content.
    pub fn delivered(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|outcome| outcome.delivered())
            .count()
    }

    /// Whether every target has the content (false when there were none).
    pub fn all_delivered(&self) -> bool {
        self.sent_anything() && self.delivered() == self.outcomes.len()
    }
}

impl fmt::Display for FanOut {
    /// `slack C024BE91L: delivered (https://...)`, one line per target, or
    /// `nothing was sent: no export target is configured`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.sent_anything() {
            return f.write_str("nothing was sent: no export target is configured");
        }
        for (at, outcome) in self.outcomes.iter().enumerate() {
            if at > 0 {
                f.write_str("\n")?;
            }
            let Target {
                provider,
                destination,
            } = &outcome.target;
            write!(f, "{provider} {destination}: ")?;
            match &outcome.result {
                Ok(record) => {
                    write!(f, "{}", record.status)?;
                    if let Some(url) = record
                        .result
                        .as_ref()
                        .and_then(|result| result.external_url.as_deref())
                    {
                        write!(f, " ({url})")?;
                    }
                    if let Some(error) = &record.error
                        && record.status != ExportStatus::Delivered
                    {
                        write!(f, ": {error}")?;
                    }
                }
                Err(error) => write!(f, "not sent: {error}")?,
            }
        }
        Ok(())
    }
}

impl ExportService {
    /// Exports `content` to every target at once, each logged with its own
    /// status; one failing never holds back the others. `key` makes the
    /// fan-out idempotent: each target's export is keyed `{key}:{provider}:{destination}`.
    /// With no targets, nothing is sent and the result says so
    /// ([`FanOut::sent_anything`]).
    pub async fn fan_out(
        &self,
        tenant: &TenantId,
        key: &str,
        content: &Content,
        targets: &[Target],
    ) -> FanOut {
        let exports = targets.iter().map(|target| {
            let request = ExportRequest::new(
                tenant.clone(),
                target.provider.clone(),
                target.destination.clone(),
                content.clone(),
            )
            .idempotency_key(format!("{key}:{}:{}", target.provider, target.destination));
            async move {
                TargetOutcome {
                    target: target.clone(),
                    result: self.export(request).await,
                }
            }
        });
        FanOut {
            outcomes: join_all(exports).await,
        }
    }
}
