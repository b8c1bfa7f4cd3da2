//! Where exports are kept: the durable outbox, the export log and the
//! export preferences, behind one trait.

#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use integrations_core::TenantId;
use integrations_core::id::ProviderId;
use serde::{Deserialize, Serialize};

#[cfg(feature = "postgres")]
pub use postgres::PgExportStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteExportStore;

#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::error::ErrorKind;
use crate::error::{Error, Failure};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
use crate::provider::Content;
use crate::provider::ExportResult;
use crate::request::ExportRequest;

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExportStatus {
    /// Accepted, waiting for a worker (or for its next attempt).
    Pending,
    /// A worker is sending it.
    Sending,
    /// The provider has it.
    Delivered,
    /// It will not be sent: the error says why.
    Failed,
}

impl ExportStatus {
    /// The status as stored, e.g. `pending`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sending => "sending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    /// Whether the export is finished, delivered or failed.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Failed)
    }

    #[cfg(any(feature = "sqlite", feature = "postgres"))]
    pub(crate) fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "sending" => Self::Sending,
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

impl fmt::Display for ExportStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The store's id of an export, as [`ExportService::enqueue`](crate::ExportService::enqueue)
/// returns it and [`ExportRecord::id`] holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
#[cfg_attr(
    any(feature = "sqlite", feature = "postgres"),
    derive(sqlx::Type),
    sqlx(transparent)
)]
pub struct ExportId(i64);

impl ExportId {
    /// The export the store numbered `id` (for a store of the host's own).
    pub fn new(id: i64) -> Self {
        Self(id)
    }

    /// The number the store gave the export.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// An export and what became of it: an entry of the export log.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExportRecord {
    /// The store's id of the export.
    pub id: ExportId,
    /// What was asked.
    pub request: ExportRequest,
    /// Where it stands.
    pub status: ExportStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// Where it went, once delivered.
    pub result: Option<ExportResult>,
    /// The last error, if an attempt failed: its kind and message.
    pub error: Option<Failure>,
    /// When it was accepted.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An export a worker has claimed: its record, and whether an earlier
/// attempt may have reached the provider.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Claimed {
    /// The export, with `attempts` counting this one.
    pub record: ExportRecord,
    /// When the first attempt began, if this is not the first.
    pub resumed_since: Option<DateTime<Utc>>,
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Outcome {
    /// Delivered.
    Delivered(ExportResult),
    /// Failed for now: try again at `at`.
    Retry {
        /// When to try again.
        at: DateTime<Utc>,
        /// What went wrong.
        error: Failure,
    },
    /// Failed for good.
    Failed {
        /// What went wrong.
        error: Failure,
    },
}

/// Where a deliverable goes once approved: a provider and destination, and
/// whether [`on_approved`](crate::ExportService::on_approved) exports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportPreference {
    /// The deliverable, e.g. `weekly-report`.
    pub deliverable: String,
    /// The provider's id.
    pub provider: ProviderId,
    /// The destination.
    pub destination: String,
    /// The tenant's connection to use, e.g. `default`.
    pub connection: String,
    /// Whether approval exports it without being asked.
    pub auto_export: bool,
}

impl ExportPreference {
    /// A preference to export `deliverable` to `destination` through
    /// `provider` on approval, with the `default` connection.
    pub fn new(
        deliverable: impl Into<String>,
        provider: ProviderId,
        destination: impl Into<String>,
    ) -> Self {
        Self {
            deliverable: deliverable.into(),
            provider,
            destination: destination.into(),
            connection: "default".into(),
            auto_export: true,
        }
    }

    /// Sets whether approval exports it.
    #[must_use]
    pub fn auto_export(mut self, auto_export: bool) -> Self {
        self.auto_export = auto_export;
        self
    }

    /// Uses the tenant's connection `name`.
    #[must_use]
    pub fn connection(mut self, name: impl Into<String>) -> Self {
        self.connection = name.into();
        self
    }
}

/// The outbox, the export log and the preferences: what an
/// [`ExportService`](crate::ExportService) keeps.
///
/// A store for several replicas (PostgreSQL) implements the same contract:
/// - [`enqueue`](Self::enqueue) has committed the export when it returns,
///   and a second enqueue with the same tenant and idempotency key returns
///   the first one's id without adding it again;
/// - [`claim`](Self::claim) gives each due export to exactly one caller
///   and counts the attempt; an export whose lease ran out (its worker
///   died) is due again;
/// - [`finish`](Self::finish) applies only while the claim is the latest
///   one (the attempt count matches), so a worker whose lease ran out
///   cannot overwrite its successor's outcome;
/// - a claim names its owner (one per process); the owner
///   [`renew`](Self::renew)s its lease while it delivers, and a process
///   restarted with the same owner [`reclaim`](Self::reclaim)s its
///   unfinished claims at once, lease or not.
#[async_trait]
pub trait ExportStore: Send + Sync + fmt::Debug + 'static {
    /// Durably accepts an export, due now; returns its id and whether it
    /// is new.
    async fn enqueue(&self, request: &ExportRequest) -> Result<(ExportId, bool), Error>;

    /// Claims up to `limit` due exports for `owner`, for `lease`.
    async fn claim(
        &self,
        limit: usize,
        lease: Duration,
        owner: &str,
    ) -> Result<Vec<Claimed>, Error>;

    /// Claims export `id` for `owner`, for `lease`, if it is pending or its
    /// lease ran out, due or not.
    async fn claim_id(
        &self,
        id: ExportId,
        lease: Duration,
        owner: &str,
    ) -> Result<Option<Claimed>, Error>;

    /// Extends the lease of attempt `attempt` of export `id` to `lease`
    /// from now, if `owner` still holds it; false if not.
    async fn renew(
        &self,
        id: ExportId,
        attempt: u32,
        owner: &str,
        lease: Duration,
    ) -> Result<bool, Error>;

    /// Claims again, for `lease`, every export `owner` claimed and did not
    /// finish (its process stopped), whatever their leases say.
    async fn reclaim(&self, owner: &str, lease: Duration) -> Result<Vec<Claimed>, Error>;

    /// Records how attempt number `attempt` of export `id` ended; false
    /// when that claim is no longer the latest.
    async fn finish(&self, id: ExportId, attempt: u32, outcome: &Outcome) -> Result<bool, Error>;

    /// The export of `tenant` with idempotency key `key`.
    async fn get(&self, tenant: &TenantId, key: &str) -> Result<Option<ExportRecord>, Error>;

    /// The tenant's exports, newest first.
    async fn log(&self, tenant: &TenantId, limit: usize) -> Result<Vec<ExportRecord>, Error>;

    /// When the next pending export is due, if one is.
    async fn next_due(&self) -> Result<Option<DateTime<Utc>>, Error>;

    /// A stream with an item each time any process sharing the store
    /// enqueues (PostgreSQL: `LISTEN`/`NOTIFY`), so idle workers wake at
    /// once; `None`, the default, where the store cannot tell, and workers
    /// poll.
    async fn enqueues(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, ()>>, Error> {
        Ok(None)
    }

    /// Sets a preference (replacing one with the same deliverable, provider
    /// and destination).
    async fn set_preference(
        &self,
        tenant: &TenantId,
        preference: &ExportPreference,
    ) -> Result<(), Error>;

    /// The tenant's preferences for `deliverable`.
    async fn preferences(
        &self,
        tenant: &TenantId,
        deliverable: &str,
    ) -> Result<Vec<ExportPreference>, Error>;
}

/// Rebuilds a record's request from stored columns.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn request_from_parts(
    tenant: &str,
    provider: String,
    destination: String,
    connection: String,
    idempotency_key: String,
    content: &str,
) -> Result<ExportRequest, Error> {
    let tenant = TenantId::new(tenant)?;
    let provider = ProviderId::new(provider)?;
    let content: Content = serde_json::from_str(content)
        .map_err(|error| Error::store("read a stored export's content", error))?;
    let mut request =
        ExportRequest::new(tenant, provider, destination, content).connection(connection);
    request.idempotency_key = idempotency_key;
    Ok(request)
}

/// The stored error of an export, from its `error` and `error_kind`
/// columns (a kind this version does not know reads as `Refused`).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn failure_from_parts(message: Option<String>, kind: Option<&str>) -> Option<Failure> {
    let kind = kind
        .and_then(ErrorKind::parse)
        .unwrap_or(ErrorKind::Refused);
    message.map(|message| Failure::new(kind, message))
}

/// An [`ExportRecord`] from a row of `integrations_exports` (SQLite or
/// PostgreSQL); `$time` turns a time column into a `DateTime<Utc>`.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! record_from_row {
    ($row:expr, $time:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let get = |error: sqlx::Error| $crate::error::Error::store("read an export", error);
        let status: String = row.try_get("status").map_err(get)?;
        let request = $crate::store::request_from_parts(
            row.try_get("tenant").map_err(get)?,
            row.try_get("provider").map_err(get)?,
            row.try_get("destination").map_err(get)?,
            row.try_get("connection").map_err(get)?,
            row.try_get("idempotency_key").map_err(get)?,
            row.try_get("content").map_err(get)?,
        )?;
        let status = $crate::store::ExportStatus::parse(&status).ok_or_else(|| {
            $crate::error::Error::Store {
                message: format!("an export has the unknown status {status:?}"),
                source: None,
            }
        })?;
        let result = (status == $crate::store::ExportStatus::Delivered).then(|| {
            let mut result = $crate::providers::ExportResult::new(request.provider.clone());
            result.external_id = row.try_get("external_id").ok().flatten();
            result.external_url = row.try_get("external_url").ok().flatten();
            result.requests = row
                .try_get::<Option<i64>, _>("requests")
                .ok()
                .flatten()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(1);
            result
        });
        let time = $time;
        Ok($crate::store::ExportRecord {
            id: row.try_get("id").map_err(get)?,
            request,
            status,
            attempts: u32::try_from(row.try_get::<i64, _>("attempts").map_err(get)?).unwrap_or(0),
            result,
            error: $crate::store::failure_from_parts(
                row.try_get("error").map_err(get)?,
                row.try_get::<Option<String>, _>("error_kind")
                    .map_err(get)?
                    .as_deref(),
            ),
            created_at: time(row.try_get("created_at").map_err(get)?),
            updated_at: time(row.try_get("updated_at").map_err(get)?),
        })
    }};
}
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use record_from_row;

/// An [`ExportPreference`] from a row of `integrations_export_preferences`
/// (SQLite or PostgreSQL).
#[cfg(any(feature = "sqlite", feature = "postgres"))]
macro_rules! preference_from_row {
    ($row:expr) => {{
        use sqlx::Row as _;
        let row = $row;
        let get = |error| $crate::error::Error::store("read an export preference", error);
        Ok($crate::store::ExportPreference {
            deliverable: row.try_get("deliverable").map_err(get)?,
            provider: integrations_core::id::ProviderId::new(
                row.try_get::<String, _>("provider").map_err(get)?,
            )?,
            destination: row.try_get("destination").map_err(get)?,
            connection: row.try_get("connection").map_err(get)?,
            auto_export: row.try_get("auto_export").map_err(get)?,
        })
    }};
}
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use preference_from_row;
