//! The [`Runtime`]: init, tick loops, dispatch and shutdown.

mod hub;
mod lease;
mod tick;

use hub::{EventHub, HostPeer};
use lease::Leasing;
#[cfg(feature = "postgres")]
pub use lease::PgTickLease;
pub use lease::TickLease;
use tick::{TickLoop, error_event, tick_loop};

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::config::{Config, IntegrationConfig};
use crate::error::{Error, RegistryError, RuntimeError, error_chain, panic_message};
use crate::events::{Event, EventKind, EventSink};
use crate::health::{HealthMetrics, Sample};
use crate::id::IntegrationId;
use crate::integration::{ActionContext, ActionPeer, ActionResult, Integration};
use crate::registry::Registry;

/// Runs the enabled integrations of a [`Registry`]: `init` in order, one tick
/// loop per integration, dispatch with health metrics, events to every sink,
/// and a `shutdown` with a deadline.
///
/// ```
/// # use std::{sync::Arc, time::Duration};
/// # use integrations_core::{BoxError, Config, Integration, Notification, Registry, Runtime, async_trait};
/// struct Clock;
///
/// #[async_trait]
/// impl Integration for Clock {
///     fn id(&self) -> &str { "clock" }
///     fn name(&self) -> &str { "Clock" }
///     async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
///         Ok(vec![Notification::new("tick", "tick")])
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
/// let config = Config::from_toml_str(r#"
///     [integrations]
///     enabled = ["clock"]
///     [integrations.clock]
///     tick_interval = "10ms"
/// "#)?;
/// let mut registry = Registry::new();
/// registry.register(Arc::new(Clock))?;
///
/// let runtime = Runtime::builder(registry).start(&config).await;
/// let mut events = runtime.subscribe();
/// let event = events.recv().await.unwrap();
/// assert_eq!(event.integration.as_str(), "clock");
///
/// let report = runtime.shutdown(Duration::from_secs(5)).await;
/// assert!(report.is_clean());
/// # Ok::<_, integrations_core::Error>(()) }).unwrap();
/// ```
pub struct Runtime {
    registry: Registry,
    hub: EventHub,
    /// The host as the caller of each `integration.action`, made once at
    /// start so a dispatch only clones one.
    host_peers: HashMap<String, Arc<dyn ActionPeer>>,
    health: HealthMetrics,
    init_failures: Vec<InitFailure>,
    dispatch_timeout: Duration,
    cancel: CancellationToken,
    stopped: AtomicBool,
    tasks: Mutex<Option<Tasks>>,
}

struct Tasks {
    loops: JoinSet<IntegrationId>,
    looping: BTreeSet<IntegrationId>,
    sink_writer: Option<(JoinHandle<()>, CancellationToken)>,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("running", &self.registry.ids())
            .field("init_failures", &self.init_failures)
            .field("stopped", &self.stopped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Options for a [`Runtime`]; made by [`Runtime::builder`].
#[must_use = "call `start` to run the integrations"]
#[derive(Debug)]
pub struct RuntimeBuilder {
    registry: Registry,
    sinks: Vec<Arc<dyn EventSink>>,
    event_capacity: usize,
    init_timeout: Duration,
    dispatch_timeout: Duration,
    max_tick_backoff: Duration,
    health_window: usize,
    leasing: Option<Leasing>,
}

/// An enabled integration that did not start.
#[derive(Debug)]
#[non_exhaustive]
pub struct InitFailure {
    /// The integration.
    pub integration: IntegrationId,
    /// Why: [`RuntimeError::NotRegistered`], [`RuntimeError::Failed`],
    /// [`RuntimeError::Panicked`] or [`RuntimeError::Timeout`].
    pub error: Error,
}

/// What [`Runtime::shutdown`] could not finish cleanly. Empty lists mean
/// every loop stopped and every `shutdown()` returned `Ok` in time.
#[derive(Debug, Default, Clone, PartialEq)]
#[non_exhaustive]
pub struct ShutdownReport {
    /// Tick loops still running at the deadline; they were aborted.
    pub aborted_tick_loops: Vec<IntegrationId>,
    /// Integrations whose `shutdown()` did not return before the deadline.
    pub timed_out: Vec<IntegrationId>,
    /// Integrations whose `shutdown()` returned an error or panicked, with
    /// the message.
    pub failed: Vec<(IntegrationId, String)>,
    /// Whether the event sinks had not drained by the deadline; their
    /// remaining events were dropped.
    pub sinks_aborted: bool,
    /// How long shutdown took.
    pub elapsed: Duration,
}

impl ShutdownReport {
    /// Whether everything stopped in time and without error.
    pub fn is_clean(&self) -> bool {
        self.aborted_tick_loops.is_empty()
            && self.timed_out.is_empty()
            && self.failed.is_empty()
            && !self.sinks_aborted
    }
}

impl RuntimeBuilder {
    /// Adds a sink that receives every event (in addition to
    /// [`Runtime::subscribe`]rs).
    pub fn sink(mut self, sink: impl EventSink) -> Self {
        self.sinks.push(Arc::new(sink));
        self
    }

    /// How many events a slow subscriber may fall behind before it loses
    /// the oldest; default 1024.
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity.max(1);
        self
    }

    /// The time limit of each `init`; default 30 s.
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// The time limit of each dispatched action; default 60 s.
    pub fn dispatch_timeout(mut self, timeout: Duration) -> Self {
        self.dispatch_timeout = timeout;
        self
    }

    /// The longest wait after repeated tick failures; default 5 minutes.
    /// Each consecutive failure doubles the wait, starting from twice the
    /// tick interval; a success returns to the interval.
    pub fn max_tick_backoff(mut self, max: Duration) -> Self {
        self.max_tick_backoff = max;
        self
    }

    /// Ticks each integration on one replica at a time: before each tick
    /// the loop takes or renews `lease` for `ttl` (at least twice the tick
    /// interval), and skips the tick when another replica holds it. When
    /// the holder dies, another replica ticks within `ttl` plus an
    /// interval. Without a lease every runtime ticks.
    ///
    /// `replica` names this runtime in the lease (unique per replica: a
    /// host name and process id, say).
    pub fn tick_lease(
        mut self,
        lease: impl TickLease,
        replica: impl Into<String>,
        ttl: Duration,
    ) -> Self {
        self.leasing = Some(Leasing {
            lease: Arc::new(lease),
            holder: replica.into(),
            ttl,
        });
        self
    }

    /// How many recent dispatches per integration the health metrics keep;
    /// default 1024.
    pub fn health_window(mut self, samples: usize) -> Self {
        self.health_window = samples;
        self
    }

    /// Initialises the integrations enabled in `config`, in order, and starts
    /// their tick loops.
    ///
    /// An integration whose `init` fails, panics or times out is left out
    /// (see [`Runtime::init_failures`]); the others start. Registered
    /// integrations that are not enabled are dropped.
    pub async fn start(self, config: &Config) -> Runtime {
        let Self {
            mut registry,
            sinks,
            event_capacity,
            init_timeout,
            dispatch_timeout,
            max_tick_backoff,
            health_window,
            leasing,
        } = self;

        let (hub, sink_writer) = EventHub::new(event_capacity, sinks);
        let mut init_failures = Vec::new();
        let mut started = Vec::new();
        for id in config.enabled() {
            let Some(integration) = registry.get(id.as_str()).cloned() else {
                init_failures.push(InitFailure {
                    integration: id.clone(),
                    error: RuntimeError::NotRegistered { id: id.clone() }.into(),
                });
                continue;
            };
            let section = config
                .integration(id.as_str())
                .cloned()
                .unwrap_or_else(|| IntegrationConfig::new(id.clone()));
            match init(id, &*integration, &section, init_timeout).await {
                None => {
                    hub.publish(Event::now(id.clone(), EventKind::Connected))
                        .await;
                    started.push((id.clone(), integration, section.tick_interval()));
                }
                Some(error) => {
                    tracing::warn!(integration = %id, error = %error_chain(&error), "integration failed to start");
                    hub.publish(error_event(id, "init", &error)).await;
                    init_failures.push(InitFailure {
                        integration: id.clone(),
                        error,
                    });
                }
            }
        }
        let keep: BTreeSet<&IntegrationId> = started.iter().map(|(id, ..)| id).collect();
        drop_unstarted(&mut registry, &keep, config, &hub).await;

        let cancel = CancellationToken::new();
        let mut loops = JoinSet::new();
        let mut looping = BTreeSet::new();
        for (id, integration, configured) in started {
            let Some(interval) = configured.or_else(|| integration.tick_interval()) else {
                continue;
            };
            looping.insert(id.clone());
            loops.spawn(tick_loop(TickLoop {
                id,
                integration,
                interval,
                max_backoff: max_tick_backoff.max(interval),
                hub: hub.clone(),
                cancel: cancel.clone(),
                leasing: leasing.clone().map(|mut leasing| {
                    leasing.ttl = leasing.ttl.max(interval * 2);
                    leasing
                }),
            }));
        }

        let host_peers = host_peers(&registry, &hub);
        Runtime {
            registry,
            hub,
            host_peers,
            health: HealthMetrics::new(health_window),
            init_failures,
            dispatch_timeout,
            cancel,
            stopped: AtomicBool::new(false),
            tasks: Mutex::new(Some(Tasks {
                loops,
                looping,
                sink_writer,
            })),
        }
    }
}

/// Runs one integration's `init` within `limit`; a failure, a panic or a
/// timeout is the error.
async fn init(
    id: &IntegrationId,
    integration: &dyn Integration,
    section: &IntegrationConfig,
    limit: Duration,
) -> Option<Error> {
    let init = AssertUnwindSafe(integration.init(section)).catch_unwind();
    let error = match tokio::time::timeout(limit, init).await {
        Ok(Ok(Ok(()))) => return None,
        Ok(Ok(Err(source))) => RuntimeError::Failed {
            integration: id.clone(),
            operation: "init",
            source,
        },
        Ok(Err(panic)) => RuntimeError::Panicked {
            integration: id.clone(),
            operation: "init",
            message: panic_message(&*panic),
        },
        Err(_) => RuntimeError::Timeout {
            integration: id.clone(),
            operation: "init",
            limit,
        },
    };
    Some(error.into())
}

/// Removes the registered integrations that did not start; one that is not
/// enabled at all gets a warning that says how to run it.
async fn drop_unstarted(
    registry: &mut Registry,
    keep: &BTreeSet<&IntegrationId>,
    config: &Config,
    hub: &EventHub,
) {
    let unstarted: Vec<IntegrationId> = registry
        .ids()
        .iter()
        .filter(|id| !keep.contains(id))
        .cloned()
        .collect();
    for id in unstarted {
        registry.remove(id.as_str());
        if !config.enabled().contains(&id) {
            let message = format!(
                "integration `{id}` is registered but not listed in `[integrations] enabled`, so it does not run; add it there to run it"
            );
            tracing::warn!(integration = %id, "{message}");
            hub.publish(Event::now(id, EventKind::Warning { message }))
                .await;
        }
    }
}

/// The host as the caller of each action: one peer per action, made once.
fn host_peers(registry: &Registry, hub: &EventHub) -> HashMap<String, Arc<dyn ActionPeer>> {
    registry
        .iter()
        .flat_map(|(id, _)| {
            registry
                .capabilities(id.as_str())
                .unwrap_or_default()
                .iter()
                .map(move |capability| {
                    let peer: Arc<dyn ActionPeer> = Arc::new(HostPeer {
                        hub: hub.clone(),
                        integration: id.clone(),
                        action: capability.name.clone(),
                    });
                    (format!("{id}.{}", capability.name), peer)
                })
        })
        .collect()
}

impl Runtime {
    /// Starts building a runtime for the integrations in `registry`.
    pub fn builder(registry: Registry) -> RuntimeBuilder {
        RuntimeBuilder {
            registry,
            sinks: Vec::new(),
            event_capacity: 1024,
            init_timeout: Duration::from_secs(30),
            dispatch_timeout: Duration::from_secs(60),
            max_tick_backoff: Duration::from_secs(300),
            health_window: 1024,
            leasing: None,
        }
    }

    /// A new subscriber to every event from now on: notifications from
    /// ticks, errors, connects and disconnects.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.hub.broadcast.subscribe()
    }

    /// The running integrations.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The enabled integrations that did not start, and why.
    pub fn init_failures(&self) -> &[InitFailure] {
        &self.init_failures
    }

    /// Response times and outcomes of dispatched actions.
    pub fn health(&self) -> &HealthMetrics {
        &self.health
    }

    /// Sends an event to the subscribers and sinks, as the runtime does for
    /// its own events. Waits while the sinks' queue is full.
    pub async fn publish(&self, event: Event) {
        self.hub.publish(event).await;
    }

    /// Dispatches `integration.action` through the [`Registry`] (arguments
    /// validated first), with the dispatch timeout, and records the outcome
    /// in [`health`](Self::health).
    ///
    /// After [`shutdown`](Self::shutdown) every dispatch fails with
    /// [`RuntimeError::Stopped`].
    ///
    /// The action's [`ActionContext`] reports progress and logs as this
    /// runtime's `progress` and `log` events; sampling and elicitation are
    /// not available (the caller is the host, not an MCP client).
    pub async fn dispatch(&self, target: &str, arguments: Value) -> Result<ActionResult, Error> {
        let context = self
            .host_peers
            .get(target)
            .map_or_else(ActionContext::default, |peer| {
                ActionContext::uncancellable(Arc::clone(peer))
            });
        self.dispatch_with(target, arguments, context).await
    }

    /// [`dispatch`](Self::dispatch) with the action running in `context`:
    /// for callers that reach the action's caller themselves, as the MCP
    /// bridge does for its clients.
    pub async fn dispatch_with(
        &self,
        target: &str,
        arguments: Value,
        context: ActionContext,
    ) -> Result<ActionResult, Error> {
        if self.stopped.load(Ordering::Acquire) {
            return Err(RuntimeError::Stopped.into());
        }
        let integration = target
            .split_once('.')
            .and_then(|(id, _)| self.registry.id(id));
        let Some(id) = integration else {
            // Refused by the registry with the precise error.
            return self.registry.dispatch(target, arguments).await;
        };
        let started = Instant::now();
        // A child of the caller's span (the bridge's `tools/call`, say), so
        // a trace follows a call into the integration.
        let span = tracing::info_span!(
            "integration.handle",
            otel.name = %format!("handle {target}"),
            integration = %id,
            target = target,
        );
        let call = tracing::Instrument::instrument(
            self.registry.dispatch_with(target, arguments, context),
            span,
        );
        let result = tokio::time::timeout(self.dispatch_timeout, call)
            .await
            .unwrap_or_else(|_| {
                Err(RuntimeError::Timeout {
                    integration: id.clone(),
                    operation: "handle",
                    limit: self.dispatch_timeout,
                }
                .into())
            });
        let elapsed = started.elapsed();
        let sample = match &result {
            // An error result is the integration telling the caller of its
            // mistake (docs/integrations.md): the integration worked.
            Ok(_) => Sample::success(elapsed),
            // Refused before the integration was called: the caller's fault.
            Err(Error::Registry(
                RegistryError::InvalidTarget { .. }
                | RegistryError::UnknownAction { .. }
                | RegistryError::InvalidArguments { .. },
            )) => {
                return result;
            }
            Err(error) => Sample::failure(elapsed, error_chain(error)),
        };
        self.health.record(id, sample);
        result
    }

    /// Stops every tick loop, calls every integration's `shutdown()`
    /// concurrently, and drains the event sinks, all before `deadline`.
    ///
    /// What did not finish in time is aborted and listed in the report;
    /// no task of the runtime outlives this call. A second call returns an
    /// empty report.
    pub async fn shutdown(&self, deadline: Duration) -> ShutdownReport {
        let started = Instant::now();
        let deadline_at = started + deadline;
        let Some(mut tasks) = self.tasks.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return ShutdownReport::default();
        };
        self.stopped.store(true, Ordering::Release);
        self.cancel.cancel();
        let mut report = ShutdownReport::default();

        let drained = tokio::time::timeout_at(deadline_at, async {
            while let Some(joined) = tasks.loops.join_next().await {
                if let Ok(id) = joined {
                    tasks.looping.remove(&id);
                }
            }
        })
        .await;
        if drained.is_err() {
            tasks.loops.abort_all();
            report.aborted_tick_loops = tasks.looping.into_iter().collect();
        }

        let shutdowns = self.registry.iter().map(|(id, integration)| async move {
            let call = AssertUnwindSafe(integration.shutdown()).catch_unwind();
            (id, tokio::time::timeout_at(deadline_at, call).await)
        });
        for (id, outcome) in futures_util::future::join_all(shutdowns).await {
            let failure = match outcome {
                Ok(Ok(Ok(()))) => None,
                Ok(Ok(Err(error))) => Some(error_chain(&*error)),
                Ok(Err(panic)) => Some(format!("panicked: {}", panic_message(&*panic))),
                Err(_) => {
                    report.timed_out.push(id.clone());
                    Some(format!("did not finish within {deadline:?}"))
                }
            };
            let event = match failure {
                None => Event::now(id.clone(), EventKind::Disconnected),
                Some(message) => {
                    tracing::warn!(integration = %id, "shutdown: {message}");
                    if !report.timed_out.contains(id) {
                        report.failed.push((id.clone(), message.clone()));
                    }
                    Event::now(
                        id.clone(),
                        EventKind::Error {
                            operation: "shutdown".into(),
                            message,
                        },
                    )
                }
            };
            self.hub.publish(event).await;
        }

        if let Some((mut writer, close)) = tasks.sink_writer {
            close.cancel();
            if tokio::time::timeout_at(deadline_at, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
                report.sinks_aborted = true;
            }
        }
        report.elapsed = started.elapsed();
        report
    }
}
