//! The runtime's lifecycle as a host relies on it: init isolation, tick loops
//! at their own intervals, contained tick failures, dispatch, and shutdown
//! with a deadline. Time-dependent tests run on tokio's paused clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use integrations_core::config::Env;
use integrations_core::error::{RegistryError, RuntimeError};
use integrations_core::events::{EventKind, JsonlSink};
use integrations_core::{
    Action, ActionResult, BoxError, Capability, Config, Error, Integration, IntegrationConfig,
    Notification, Registry, Runtime, async_trait,
};
use serde_json::json;
use tokio::sync::broadcast::error::TryRecvError;

/// What a probe does when called; everything is counted.
#[derive(Default, Clone, Copy)]
enum Behaviour {
    #[default]
    Fine,
    Fail,
    Panic,
    Hang,
}

#[derive(Default)]
struct Probe {
    id: &'static str,
    default_interval: Option<Duration>,
    init: Behaviour,
    tick: Behaviour,
    /// Tick behaves as `tick` for this many ticks, then fine.
    bad_ticks: usize,
    shutdown: Behaviour,
    inits: AtomicUsize,
    ticks: AtomicUsize,
    handles: AtomicUsize,
    shutdowns: AtomicUsize,
}

impl Probe {
    fn new(id: &'static str) -> Self {
        Self {
            id,
            bad_ticks: usize::MAX,
            ..Self::default()
        }
    }
}

async fn act(behaviour: Behaviour, what: &str) -> Result<(), BoxError> {
    match behaviour {
        Behaviour::Fine => Ok(()),
        Behaviour::Fail => Err(format!("{what} failed on purpose").into()),
        Behaviour::Panic => panic!("{what} panicked on purpose"),
        Behaviour::Hang => std::future::pending().await,
    }
}

#[async_trait]
impl Integration for Probe {
    fn id(&self) -> &str {
        self.id
    }
    fn name(&self) -> &str {
        "Probe"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![
            Capability::new("double", "Doubles n").with_parameters(json!({
                "type": "object",
                "properties": { "n": { "type": "integer" } },
                "required": ["n"]
            })),
        ]
    }
    fn tick_interval(&self) -> Option<Duration> {
        self.default_interval
    }
    async fn init(&self, config: &IntegrationConfig) -> Result<(), BoxError> {
        assert_eq!(config.id().as_str(), self.id, "init gets its own section");
        self.inits.fetch_add(1, Ordering::SeqCst);
        act(self.init, "init").await
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        self.handles.fetch_add(1, Ordering::SeqCst);
        let n = action.arguments["n"]
            .as_i64()
            .ok_or("n must be an integer")?;
        if n < 0 {
            // The caller's mistake, told to the caller: not a fault.
            return Ok(ActionResult::error("n must not be negative"));
        }
        Ok(ActionResult::ok(json!(n * 2)))
    }
    async fn tick(&self) -> Result<Vec<Notification>, BoxError> {
        let n = self.ticks.fetch_add(1, Ordering::SeqCst);
        if n < self.bad_ticks {
            act(self.tick, "tick").await?;
        }
        Ok(vec![Notification::new(
            "tick",
            format!("{} tick {n}", self.id),
        )])
    }
    async fn shutdown(&self) -> Result<(), BoxError> {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        act(self.shutdown, "shutdown").await
    }
}

fn config(toml: &str) -> Config {
    Config::from_toml_str_with_env(toml, &Env::from_vars([("PROBE_SECRET", "s")])).unwrap()
}

async fn start(probes: &[Arc<Probe>], toml: &str) -> Runtime {
    let mut registry = Registry::new();
    for probe in probes {
        registry.register(probe.clone()).unwrap();
    }
    Runtime::builder(registry)
        .max_tick_backoff(Duration::from_secs(1))
        .start(&config(toml))
        .await
}

fn ticks(probe: &Probe) -> usize {
    probe.ticks.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn each_integration_ticks_at_its_own_interval() {
    let fast = Arc::new(Probe::new("fast"));
    let slow = Arc::new(Probe::new("slow"));
    let own = Arc::new(Probe {
        default_interval: Some(Duration::from_millis(500)),
        ..Probe::new("own")
    });
    let quiet = Arc::new(Probe::new("quiet"));
    let runtime = start(
        &[fast.clone(), slow.clone(), own.clone(), quiet.clone()],
        r#"
        [integrations]
        enabled = ["fast", "slow", "own", "quiet"]
        [integrations.fast]
        tick_interval = "100ms"
        [integrations.slow]
        tick_interval = "250ms"
        "#,
    )
    .await;

    tokio::time::sleep(Duration::from_millis(1050)).await;
    assert_eq!(ticks(&fast), 10);
    assert_eq!(ticks(&slow), 4);
    assert_eq!(
        ticks(&own),
        2,
        "the integration's own default interval applies"
    );
    assert_eq!(ticks(&quiet), 0, "no interval, no tick loop");

    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!((ticks(&fast), ticks(&slow), ticks(&own)), (20, 8, 4));
    assert!(runtime.shutdown(Duration::from_secs(1)).await.is_clean());
}

#[tokio::test(start_paused = true)]
async fn notifications_reach_every_subscriber() {
    let probe = Arc::new(Probe::new("news"));
    let runtime = start(
        std::slice::from_ref(&probe),
        "[integrations]\nenabled = [\"news\"]\n[integrations.news]\ntick_interval = \"1s\"",
    )
    .await;
    let mut first = runtime.subscribe();
    let mut second = runtime.subscribe();
    tokio::time::sleep(Duration::from_millis(3500)).await;
    for receiver in [&mut first, &mut second] {
        for n in 0..3 {
            let event = receiver.try_recv().unwrap();
            assert_eq!(event.integration.as_str(), "news");
            let EventKind::Notification { notification } = event.kind else {
                panic!("expected a notification, got {:?}", event.kind);
            };
            assert_eq!(notification.message, format!("news tick {n}"));
        }
        assert!(matches!(receiver.try_recv(), Err(TryRecvError::Empty)));
    }
    runtime.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_panicking_tick_stops_neither_its_loop_nor_others() {
    let healthy = Arc::new(Probe::new("healthy"));
    let panicky = Arc::new(Probe {
        tick: Behaviour::Panic,
        bad_ticks: 3,
        ..Probe::new("panicky")
    });
    let failing = Arc::new(Probe {
        tick: Behaviour::Fail,
        ..Probe::new("failing")
    });
    let runtime = start(
        &[healthy.clone(), panicky.clone(), failing.clone()],
        r#"
        [integrations]
        enabled = ["healthy", "panicky", "failing"]
        [integrations.healthy]
        tick_interval = "100ms"
        [integrations.panicky]
        tick_interval = "100ms"
        [integrations.failing]
        tick_interval = "100ms"
        "#,
    )
    .await;
    let mut events = runtime.subscribe();

    // Failures back off 200, 400, 800 ms (doubling from twice the interval):
    // ticks at 100, 300, 700 fail, then 1500 succeeds and the loop is back to
    // every 100 ms.
    tokio::time::sleep(Duration::from_millis(1450)).await;
    assert_eq!(ticks(&panicky), 3);
    assert_eq!(
        ticks(&healthy),
        14,
        "a neighbour's panics do not slow others"
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        ticks(&panicky),
        3 + 4,
        "back to the normal interval after a success"
    );

    // Always failing: the pause is capped at max_tick_backoff (1 s):
    // 100, 300, 700, 1500, 2500, 3500, ...
    tokio::time::sleep(Duration::from_millis(2000)).await; // now 3850
    assert_eq!(ticks(&failing), 6);

    let mut panics = 0;
    let mut failures = 0;
    while let Ok(event) = events.try_recv() {
        if let EventKind::Error { operation, message } = event.kind {
            assert_eq!(operation, "tick");
            match event.integration.as_str() {
                "panicky" => {
                    assert!(message.contains("tick panicked on purpose"), "{message}");
                    panics += 1;
                }
                "failing" => failures += 1,
                other => panic!("unexpected error from {other}"),
            }
        }
    }
    assert_eq!((panics, failures), (3, 6));
    assert!(runtime.shutdown(Duration::from_secs(1)).await.is_clean());
}

#[tokio::test(start_paused = true)]
async fn a_failed_init_leaves_out_only_that_integration() {
    let good = Arc::new(Probe::new("good"));
    let erring = Arc::new(Probe {
        init: Behaviour::Fail,
        ..Probe::new("erring")
    });
    let panicking = Arc::new(Probe {
        init: Behaviour::Panic,
        ..Probe::new("panicking")
    });
    let hanging = Arc::new(Probe {
        init: Behaviour::Hang,
        ..Probe::new("hanging")
    });
    let disabled = Arc::new(Probe::new("disabled"));
    let mut registry = Registry::new();
    for probe in [&good, &erring, &panicking, &hanging, &disabled] {
        registry.register(probe.clone()).unwrap();
    }
    let runtime = Runtime::builder(registry)
        .init_timeout(Duration::from_secs(2))
        .start(&config(
            r#"
            [integrations]
            enabled = ["erring", "panicking", "hanging", "ghost", "good"]
            [integrations.good]
            tick_interval = "1s"
            secret = "env:PROBE_SECRET"
            [integrations.erring]
            tick_interval = "1s"
            "#,
        ))
        .await;

    let failed: Vec<(&str, &Error)> = runtime
        .init_failures()
        .iter()
        .map(|f| (f.integration.as_str(), &f.error))
        .collect();
    assert_eq!(failed.len(), 4, "{failed:?}");
    assert!(matches!(
        failed[0],
        (
            "erring",
            Error::Runtime(RuntimeError::Failed {
                operation: "init",
                ..
            })
        )
    ));
    assert!(matches!(
        failed[1],
        ("panicking", Error::Runtime(RuntimeError::Panicked { .. }))
    ));
    assert!(matches!(
        failed[2],
        (
            "hanging",
            Error::Runtime(RuntimeError::Timeout {
                operation: "init",
                ..
            })
        )
    ));
    assert!(matches!(
        failed[3],
        ("ghost", Error::Runtime(RuntimeError::NotRegistered { .. }))
    ));
    let running: Vec<&str> = runtime
        .registry()
        .ids()
        .iter()
        .map(|id| id.as_str())
        .collect();
    assert_eq!(
        running,
        ["good"],
        "failed and disabled integrations are not reachable"
    );
    assert_eq!(disabled.inits.load(Ordering::SeqCst), 0);

    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ticks(&good), 2);
    assert_eq!(ticks(&erring), 0, "a failed integration never ticks");

    let report = runtime.shutdown(Duration::from_secs(1)).await;
    assert!(report.is_clean());
    assert_eq!(good.shutdowns.load(Ordering::SeqCst), 1);
    assert_eq!(erring.shutdowns.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn shutdown_stops_every_loop_calls_every_shutdown_and_reports_overruns() {
    let clean = Arc::new(Probe::new("clean"));
    let slow = Arc::new(Probe {
        shutdown: Behaviour::Hang,
        ..Probe::new("slow")
    });
    let broken = Arc::new(Probe {
        shutdown: Behaviour::Fail,
        ..Probe::new("broken")
    });
    let stuck_tick = Arc::new(Probe {
        tick: Behaviour::Hang,
        ..Probe::new("stuck")
    });
    let runtime = start(
        &[
            clean.clone(),
            slow.clone(),
            broken.clone(),
            stuck_tick.clone(),
        ],
        r#"
        [integrations]
        enabled = ["clean", "slow", "broken", "stuck"]
        [integrations.clean]
        tick_interval = "100ms"
        [integrations.slow]
        tick_interval = "100ms"
        [integrations.broken]
        tick_interval = "100ms"
        [integrations.stuck]
        tick_interval = "100ms"
        "#,
    )
    .await;
    tokio::time::sleep(Duration::from_millis(550)).await;
    assert_eq!(ticks(&stuck_tick), 1, "the stuck tick never returned");
    let mut events = runtime.subscribe();

    let report = runtime.shutdown(Duration::from_secs(2)).await;
    assert!(
        report.aborted_tick_loops.is_empty(),
        "a hung tick is cancelled at shutdown"
    );
    assert_eq!(
        report
            .timed_out
            .iter()
            .map(|id| id.as_str())
            .collect::<Vec<_>>(),
        ["slow"]
    );
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0.as_str(), "broken");
    assert!(report.failed[0].1.contains("shutdown failed on purpose"));
    assert_eq!(
        report.elapsed,
        Duration::from_secs(2),
        "the deadline bounds shutdown"
    );
    for probe in [&clean, &slow, &broken, &stuck_tick] {
        assert_eq!(probe.shutdowns.load(Ordering::SeqCst), 1, "{}", probe.id);
    }

    let mut disconnected = Vec::new();
    while let Ok(event) = events.try_recv() {
        if event.kind == EventKind::Disconnected {
            disconnected.push(event.integration.to_string());
        }
    }
    disconnected.sort();
    assert_eq!(disconnected, ["clean", "stuck"]);

    let before: Vec<usize> = [&clean, &slow, &broken].iter().map(|p| ticks(p)).collect();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let after: Vec<usize> = [&clean, &slow, &broken].iter().map(|p| ticks(p)).collect();
    assert_eq!(before, after, "no tick after shutdown");
    assert_eq!(
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        0,
        "no task outlives shutdown"
    );
    assert!(matches!(
        runtime.dispatch("clean.double", json!({"n": 1})).await,
        Err(Error::Runtime(RuntimeError::Stopped))
    ));
    assert_eq!(
        runtime.shutdown(Duration::from_secs(1)).await,
        Default::default()
    );
}

#[tokio::test]
async fn dispatch_validates_first_and_records_health() {
    let probe = Arc::new(Probe::new("calc"));
    let runtime = start(
        std::slice::from_ref(&probe),
        "[integrations]\nenabled = [\"calc\"]",
    )
    .await;

    let result = runtime
        .dispatch("calc.double", json!({"n": 21}))
        .await
        .unwrap();
    assert_eq!(result.output, json!(42));
    for bad in [json!({}), json!({"n": "21"}), json!({"n": 1.5}), json!([1])] {
        let err = runtime
            .dispatch("calc.double", bad.clone())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Registry(RegistryError::InvalidArguments { .. })),
            "{bad}: {err:?}"
        );
    }
    assert_eq!(
        probe.handles.load(Ordering::SeqCst),
        1,
        "invalid arguments never reach handle"
    );

    let health = runtime.health().summary("calc").unwrap();
    assert_eq!(
        health.count, 1,
        "refused calls are the caller's fault, not the integration's"
    );
    assert_eq!(health.success_rate, 1.0);
    assert!(runtime.shutdown(Duration::from_secs(1)).await.is_clean());
}

/// A user's trial: an `ActionResult::error` (the caller's mistake, which
/// docs/integrations.md says is not a fault) counted as a failure, with a
/// JSON-quoted `last_error`. Only `Err` is a fault.
#[tokio::test]
async fn an_error_result_is_the_callers_mistake_not_a_fault() {
    let probe = Arc::new(Probe::new("calc"));
    let runtime = start(
        std::slice::from_ref(&probe),
        "[integrations]\nenabled = [\"calc\"]",
    )
    .await;
    let result = runtime
        .dispatch("calc.double", json!({"n": -1}))
        .await
        .unwrap();
    assert!(result.is_error);
    let health = runtime.health().summary("calc").unwrap();
    assert_eq!(health.count, 1);
    assert_eq!(health.success_rate, 1.0, "{health:?}");
    assert_eq!(health.last_error, None);
    assert!(runtime.shutdown(Duration::from_secs(1)).await.is_clean());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_receive_every_event_before_shutdown_returns() {
    let dir = tempfile::tempdir().unwrap();
    let probe = Arc::new(Probe::new("audited"));
    let mut registry = Registry::new();
    registry.register(probe.clone()).unwrap();
    let runtime = Runtime::builder(registry)
        .sink(JsonlSink::open(dir.path()).await.unwrap())
        .start(&config(
            "[integrations]\nenabled = [\"audited\"]\n[integrations.audited]\ntick_interval = \"10ms\"",
        ))
        .await;
    let mut events = runtime.subscribe();
    let mut seen = 0;
    while seen < 5 {
        if let EventKind::Notification { .. } = events.recv().await.unwrap().kind {
            seen += 1;
        }
    }
    let report = runtime.shutdown(Duration::from_secs(10)).await;
    assert!(report.is_clean(), "{report:?}");
    let ticked = ticks(&probe);

    let mut counts = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let kind = path
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .split('-')
            .next()
            .unwrap()
            .to_owned();
        *counts.entry(kind).or_insert(0) += std::fs::read_to_string(&path).unwrap().lines().count();
    }
    assert_eq!(counts["connected"], 1);
    assert_eq!(
        counts["disconnected"], 1,
        "the last event is flushed before shutdown returns"
    );
    assert_eq!(counts["notification"], ticked);
}

/// Review item 13: an integration registered but left out of `enabled`
/// was dropped silently.
#[tokio::test]
async fn a_registered_integration_not_enabled_is_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let mut registry = Registry::new();
    registry.register(Arc::new(Probe::new("used"))).unwrap();
    registry
        .register(Arc::new(Probe::new("forgotten")))
        .unwrap();
    let runtime = Runtime::builder(registry)
        .sink(JsonlSink::open(dir.path()).await.unwrap())
        .start(&config("[integrations]\nenabled = [\"used\"]"))
        .await;
    assert!(runtime.registry().get("forgotten").is_none());
    assert!(runtime.shutdown(Duration::from_secs(5)).await.is_clean());
    let warnings: Vec<serde_json::Value> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("warning-")
        })
        .flat_map(|path| {
            std::fs::read_to_string(path)
                .unwrap()
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["integration"], "forgotten");
    assert_eq!(warnings[0]["event"], "warning");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("not listed in `[integrations] enabled`"),
        "{message}"
    );
}

/// Reports progress and logs, then asks the caller's model.
struct Reporter;

#[async_trait]
impl Integration for Reporter {
    fn id(&self) -> &str {
        "reporter"
    }
    fn name(&self) -> &str {
        "Reporter"
    }
    fn capabilities(&self) -> Vec<Capability> {
        vec![Capability::new("sync", "Syncs, reporting as it goes")]
    }
    async fn handle(&self, action: Action) -> Result<ActionResult, BoxError> {
        let context = action.context();
        for step in [0.0, 50.0, 100.0] {
            context.progress(step, Some(100.0), Some("syncing")).await;
        }
        context
            .log(
                integrations_core::integration::LogLevel::Warning,
                "3 items skipped",
            )
            .await;
        let asked = context
            .sample(integrations_core::integration::SamplingRequest::new(
                "Summarise",
                50,
            ))
            .await;
        Ok(ActionResult::ok(json!(asked.unwrap_err().to_string())))
    }
    async fn complete(
        &self,
        target: &integrations_core::integration::content::CompletionTarget,
        argument: &str,
        value: &str,
    ) -> Result<Vec<String>, BoxError> {
        assert_eq!(
            (target, argument),
            (
                &integrations_core::integration::content::CompletionTarget::Action("sync".into()),
                "scope"
            )
        );
        Ok(["all", "recent"]
            .into_iter()
            .filter(|scope| scope.starts_with(value))
            .map(str::to_owned)
            .collect())
    }
}

#[tokio::test]
async fn called_by_the_host_an_action_reports_through_events_cannot_ask_back_and_completes() {
    let mut registry = Registry::new();
    registry.register(Arc::new(Reporter)).unwrap();
    let config = Config::from_toml_str("[integrations]\nenabled = [\"reporter\"]").unwrap();
    let runtime = Runtime::builder(registry).start(&config).await;
    let mut events = runtime.subscribe();
    let result = runtime.dispatch("reporter.sync", json!({})).await.unwrap();
    assert_eq!(
        result.output,
        json!("sampling is not available: the action was called by the host, not an MCP client")
    );
    let mut progress = Vec::new();
    let mut logs = Vec::new();
    while let Ok(event) = events.try_recv() {
        match event.kind {
            EventKind::Progress {
                action,
                progress: p,
                total,
                ..
            } => {
                assert_eq!((action.as_str(), total), ("sync", Some(100.0)));
                progress.push(p);
            }
            EventKind::Log { level, message, .. } => logs.push((level, message)),
            _ => {}
        }
    }
    assert_eq!(progress, [0.0, 50.0, 100.0], "in order");
    assert_eq!(
        logs,
        [(
            integrations_core::integration::LogLevel::Warning,
            "3 items skipped".to_owned()
        )]
    );
    // The host's own forms complete action arguments.
    let suggested = runtime.registry().complete("reporter.sync", "scope", "re");
    assert_eq!(suggested.await.unwrap(), ["recent"]);
    assert!(matches!(
        runtime
            .registry()
            .complete("reporter.nope", "scope", "")
            .await,
        Err(Error::Registry(RegistryError::UnknownAction { .. }))
    ));
    runtime.shutdown(Duration::from_secs(1)).await;
}
