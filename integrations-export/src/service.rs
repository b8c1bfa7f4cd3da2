//! The export service: providers, the store, direct exports, the outbox's
//! workers, fan-out and preferences.

mod fanout;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::events::EventSink;
use integrations_core::id::ProviderId;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use fanout::{FanOut, Target, TargetOutcome};

use crate::error::Error;
use crate::provider::{Content, ExportContext, PlannedRequest, Provider};
use crate::request::ExportRequest;
use crate::store::{Claimed, ExportId, ExportPreference, ExportRecord, ExportStore};

/// How the outbox's workers behave.
#[derive(Debug, Clone)]
struct OutboxOptions {
    workers: usize,
    /// Who this process's claims belong to.
    owner: String,
    lease: Duration,
    max_attempts: u32,
    min_backoff: Duration,
    max_backoff: Duration,
    poll: Duration,
    max_content: usize,
}

/// Options of an [`ExportService`]; made by [`ExportService::builder`].
#[derive(Debug)]
#[must_use = "call `build` to get the service"]
pub struct ExportServiceBuilder {
    store: Arc<dyn ExportStore>,
    providers: HashMap<ProviderId, Arc<dyn Provider>>,
    events: Option<Arc<dyn EventSink>>,
    options: OutboxOptions,
}

impl ExportServiceBuilder {
    /// Registers a provider under its [`id`](Provider::id), replacing one
    /// with the same id.
    pub fn provider(mut self, provider: impl Provider) -> Self {
        self.providers
            .insert(provider.id().clone(), Arc::new(provider));
        self
    }

    /// Records an `exported` event (or an `error` event) per finished
    /// export in `sink`.
    pub fn events(mut self, sink: Arc<dyn EventSink>) -> Self {
        self.events = Some(sink);
        self
    }

    /// Outbox workers delivering at once; default 4.
    pub fn workers(mut self, workers: usize) -> Self {
        self.options.workers = workers.max(1);
        self
    }

    /// How long a claim holds without renewal; default 30 s. A worker
    /// renews its claim every third of this while it delivers, so an
    /// export may take longer; once a process stops renewing (it died),
    /// another takes the export over after at most this long.
    pub fn lease(mut self, lease: Duration) -> Self {
        self.options.lease = lease.max(Duration::from_millis(30));
        self
    }

    /// Who this process's claims belong to; by default an id drawn at
    /// start-up. Give each process slot a stable id of its own (a
    /// replica's name, `host-1`): a process restarted with the same id
    /// takes its unfinished claims back at [`start`](ExportService::start),
    /// at once, instead of after their leases. Two live processes must
    /// never share one.
    pub fn owner(mut self, owner: impl Into<String>) -> Self {
        self.options.owner = owner.into();
        self
    }

    /// How often idle workers look for due exports another process added,
    /// where the store cannot notify them (SQLite); default 1 s. On
    /// PostgreSQL an enqueue wakes them at once, and this is the fallback.
    pub fn poll_interval(mut self, every: Duration) -> Self {
        self.options.poll = every.max(Duration::from_millis(10));
        self
    }

    /// Attempts before an export with transient errors is failed; default 8.
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.options.max_attempts = attempts.max(1);
        self
    }

    /// The backoff between attempts: exponential from `min` to `max`, with
    /// jitter, and never shorter than a vendor's `Retry-After`; default 1 s
    /// to 5 minutes.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.options.min_backoff = min;
        self.options.max_backoff = max.max(min);
        self
    }

    /// The largest content (markdown and title, in bytes) the service
    /// accepts; larger requests are refused with
    /// [`Error::InvalidRequest`] before they are stored. Default 1 MiB:
    /// more than Slack takes in 50 messages or Notion in 1,000 blocks.
    pub fn max_content_bytes(mut self, bytes: usize) -> Self {
        self.options.max_content = bytes;
        self
    }

    /// The service.
    pub fn build(self) -> ExportService {
        ExportService {
            inner: Arc::new(Inner {
                store: self.store,
                providers: self.providers,
                events: self.events,
                options: self.options,
                wake: Notify::new(),
                finished: Notify::new(),
                started: AtomicBool::new(false),
                stop: CancellationToken::new(),
                abort: CancellationToken::new(),
                tracker: TaskTracker::new(),
            }),
        }
    }
}

/// Exports content through registered [`Provider`]s, keeping every export
/// in an [`ExportStore`]: the export log, and a durable outbox.
///
/// - [`export`](Self::export) sends now and logs the outcome; a request
///   whose idempotency key was already delivered is answered from the log
///   without sending.
/// - [`enqueue`](Self::enqueue) returns once the export is committed to the
///   store; the workers started by [`start`](Self::start) deliver it with
///   retries and backoff (honouring rate limits), and resume unfinished
///   exports after a restart. [`wait`](Self::wait) waits for the outcome.
/// - [`fan_out`](Self::fan_out) sends one content to several providers,
///   each with its own outcome.
/// - [`on_approved`](Self::on_approved) enqueues the exports the tenant's
///   preferences ask for.
///
/// Cloning is cheap; clones share the workers.
#[derive(Debug, Clone)]
pub struct ExportService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn ExportStore>,
    providers: HashMap<ProviderId, Arc<dyn Provider>>,
    events: Option<Arc<dyn EventSink>>,
    options: OutboxOptions,
    /// Wakes idle workers: an export was enqueued.
    wake: Notify,
    /// Wakes waiters: an export finished.
    finished: Notify,
    /// Whether `start` has run.
    started: AtomicBool,
    /// Workers take no new export.
    stop: CancellationToken,
    /// Workers drop the export in hand (it stays leased, and resumes).
    abort: CancellationToken,
    tracker: TaskTracker,
}

impl ExportService {
    /// Starts building a service that keeps its exports in `store`.
    pub fn builder(store: impl ExportStore) -> ExportServiceBuilder {
        ExportServiceBuilder {
            store: Arc::new(store),
            providers: HashMap::new(),
            events: None,
            options: OutboxOptions {
                workers: 4,
                owner: default_owner(),
                lease: Duration::from_secs(30),
                max_attempts: 8,
                min_backoff: Duration::from_secs(1),
                max_backoff: Duration::from_secs(300),
                max_content: 1024 * 1024,
                poll: Duration::from_secs(1),
            },
        }
    }

    /// The provider registered as `id`.
    pub fn provider(&self, id: &ProviderId) -> Result<&Arc<dyn Provider>, Error> {
        self.inner
            .providers
            .get(id)
            .ok_or_else(|| Error::UnknownProvider {
                provider: id.clone(),
            })
    }

    /// The ids of the registered providers, sorted.
    pub fn providers(&self) -> Vec<&ProviderId> {
        let mut ids: Vec<&ProviderId> = self.inner.providers.keys().collect();
        ids.sort_unstable();
        ids
    }

    /// The store.
    pub fn store(&self) -> &dyn ExportStore {
        &*self.inner.store
    }

    /// The requests `request` would send, without sending them.
    pub fn plan(&self, request: &ExportRequest) -> Result<Vec<PlannedRequest>, Error> {
        request.check(self.inner.options.max_content)?;
        self.provider(&request.provider)?.plan(
            &request.context(),
            &request.content,
            &request.destination,
        )
    }

    /// Exports now and logs the outcome. A request whose key was delivered
    /// before is answered from the log, without sending.
    ///
    /// A transient failure leaves the export pending, so the workers (if
    /// started) try again; the returned record says so.
    pub async fn export(&self, request: ExportRequest) -> Result<ExportRecord, Error> {
        request.check(self.inner.options.max_content)?;
        self.provider(&request.provider)?;
        let logged = self
            .inner
            .store
            .get(&request.tenant, &request.idempotency_key)
            .await?;
        if let Some(record) = logged.filter(|record| record.status.is_final()) {
            return Ok(record);
        }
        let (id, _) = self.inner.store.enqueue(&request).await?;
        let Some(claimed) = self
            .inner
            .store
            .claim_id(id, self.inner.options.lease, &self.inner.options.owner)
            .await?
        else {
            // A worker has it: its outcome is the answer.
            return self
                .wait(
                    &request.tenant,
                    &request.idempotency_key,
                    self.inner.options.lease,
                )
                .await;
        };
        // A direct export may retry its requests: nothing else is waiting.
        worker::deliver(&self.inner, claimed, true).await;
        self.record(&request.tenant, &request.idempotency_key).await
    }

    /// Durably accepts an export for the workers; returns once it is
    /// committed. Enqueueing a key again returns the existing export's id.
    pub async fn enqueue(&self, request: ExportRequest) -> Result<ExportId, Error> {
        request.check(self.inner.options.max_content)?;
        self.provider(&request.provider)?;
        if self.inner.stop.is_cancelled() {
            return Err(Error::Stopped);
        }
        let (id, _) = self.inner.store.enqueue(&request).await?;
        self.inner.wake.notify_one();
        Ok(id)
    }

    /// Waits until the export of `tenant` with `key` is delivered or
    /// failed, at most `timeout`; returns its record as it then is.
    pub async fn wait(
        &self,
        tenant: &TenantId,
        key: &str,
        timeout: Duration,
    ) -> Result<ExportRecord, Error> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let finished = self.inner.finished.notified();
            let record = self.record(tenant, key).await?;
            if record.status.is_final() {
                return Ok(record);
            }
            // Another process may finish it: look again now and then.
            let next = (tokio::time::Instant::now() + self.inner.options.poll).min(deadline);
            if tokio::time::timeout_at(next, finished).await.is_err() && next >= deadline {
                return self.record(tenant, key).await;
            }
        }
    }

    async fn record(&self, tenant: &TenantId, key: &str) -> Result<ExportRecord, Error> {
        self.inner
            .store
            .get(tenant, key)
            .await?
            .ok_or_else(|| Error::Store {
                message: format!("no export of tenant {tenant} with key {key:?}"),
                source: None,
            })
    }

    /// The tenant's exports, newest first.
    pub async fn log(&self, tenant: &TenantId, limit: usize) -> Result<Vec<ExportRecord>, Error> {
        self.inner.store.log(tenant, limit).await
    }

    /// Sets where a deliverable goes on approval.
    pub async fn set_preference(
        &self,
        tenant: &TenantId,
        preference: ExportPreference,
    ) -> Result<(), Error> {
        self.provider(&preference.provider)?;
        self.inner.store.set_preference(tenant, &preference).await
    }

    /// The tenant's preferences for `deliverable`.
    pub async fn preferences(
        &self,
        tenant: &TenantId,
        deliverable: &str,
    ) -> Result<Vec<ExportPreference>, Error> {
        self.inner.store.preferences(tenant, deliverable).await
    }

    /// The hook for a deliverable's approval: enqueues an export to each
    /// destination of the tenant's preferences with `auto_export`, keyed by
    /// deliverable, provider and destination, so approving twice exports
    /// once. Returns the exports' ids; none when nothing is preferred.
    pub async fn on_approved(
        &self,
        tenant: &TenantId,
        deliverable: &str,
        content: Content,
    ) -> Result<Vec<ExportId>, Error> {
        let mut ids = Vec::new();
        for preference in self.preferences(tenant, deliverable).await? {
            if !preference.auto_export {
                continue;
            }
            let key = format!(
                "approved:{deliverable}:{}:{}",
                preference.provider, preference.destination
            );
            let request = ExportRequest::new(
                tenant.clone(),
                preference.provider,
                preference.destination,
                content.clone(),
            )
            .connection(preference.connection)
            .idempotency_key(key);
            ids.push(self.enqueue(request).await?);
        }
        Ok(ids)
    }

    /// Starts the outbox's workers: they deliver what is enqueued, and what
    /// a previous process left unfinished. Starting twice does nothing more.
    pub fn start(&self) {
        if self.inner.started.swap(true, Ordering::SeqCst) || self.inner.stop.is_cancelled() {
            return;
        }
        // This owner's claims from before a restart are taken back before
        // any worker claims (else they would take back their own), then
        // the workers start.
        let inner = Arc::clone(&self.inner);
        self.inner.tracker.spawn(worker::begin(inner));
    }

    /// Stops the workers: they finish the export in hand, at most
    /// `deadline`; an export still unfinished then stays in the store and
    /// resumes at the next start. Enqueueing is refused afterwards.
    pub async fn shutdown(&self, deadline: Duration) {
        self.inner.stop.cancel();
        self.inner.tracker.close();
        if tokio::time::timeout(deadline, self.inner.tracker.wait())
            .await
            .is_err()
        {
            self.inner.abort.cancel();
            self.inner.tracker.wait().await;
        }
    }
}

/// An owner id for this process: its id and start time, hashed.
fn default_owner() -> String {
    use sha2::Digest;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let digest = sha2::Sha256::digest(format!("{}-{started}", std::process::id()));
    hex::encode(&digest[..8])
}

impl Inner {
    fn context(claimed: &Claimed, retry_requests: bool) -> ExportContext {
        let mut context = claimed.record.request.context();
        context.resumed_since = claimed.resumed_since;
        context.retry_requests = retry_requests;
        context
    }
}
