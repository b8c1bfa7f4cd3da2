//! Several replicas on one PostgreSQL: token refreshes and outbox
//! deliveries per second with 1 and with 4 replicas (each its own pool,
//! TokenManager or ExportService), in one invocation, against a throwaway
//! cluster and local fakes.
//!
//! - Refreshes: 400 connections with expired OAuth tokens; every replica
//!   asks for every connection's token at once (the worst case: all
//!   contend), so each connection is refreshed once in all. The replicas
//!   are kept from round to round, as a deployment keeps its processes:
//!   each replica's pool is opened in full, the store's statements run on
//!   each of its connections, its manager listens to the store's changes,
//!   and one round runs unmeasured before the clock starts. 20 rounds of
//!   each, 1 and 4 replicas in turn (1, 4, 4, 1, ...); the medians, and
//!   the quartiles of each 4-replica round's rate over the 1-replica round
//!   beside it. The fake token endpoint answers at once, so the replicas'
//!   own work is all there is to measure (on the 2 cores that PostgreSQL
//!   and the fake share).
//! - Bounds, not designs: the same rounds where the 3 replicas after the
//!   first do not ask their manager but only wait for the notification of
//!   the refreshed row (no store read at all), or read first: one plain
//!   read a connection, or one statement a replica for all the round's
//!   rows, reading only each row's version and lease. About the least a
//!   protocol costs whose waiting replicas learn from the store that
//!   another refreshes, or do nothing but take the token from the
//!   notification.
//! - Refreshes from a provider that takes 50 ms to answer (an assumption:
//!   token endpoints over the internet take longer): managers that listen
//!   beside managers that poll every 100 ms (the default, as before
//!   issue 21.6); 6 rounds of each.
//! - Deliveries: 4,000 exports to a fake Slack, 4 workers per replica.
//! - Latency: with 4 idle replicas, the time from an enqueue to the fake
//!   Slack's post, one export at a time, workers woken by PostgreSQL's
//!   `NOTIFY` beside workers that poll (every second, the default).
//!
//! ```sh
//! cargo bench -p integrations-export --features postgres --bench replicas
//! ```

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use futures_util::StreamExt;
use integrations_core::credentials::{
    Change, CredentialStore, Credentials, EncryptionKey, KeyRing, PgStore, RefreshLease,
    TokenManager,
};
use integrations_core::id::KeyId;
use integrations_core::id::ProviderId;
use integrations_core::{ConnectionId, TenantId};
use integrations_export::providers::{SlackProvider, VendorAccess};
use integrations_export::store::{ExportStore, PgExportStore};
use integrations_export::{Content, ExportRequest, ExportService};
use integrations_fakes::postgres::TestPostgres;
use integrations_fakes::slack::FakeSlack;
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::oauth::{OAuthClient, OAuthProvider};
use integrations_vendor::{Auth, Vendor, VendorConnection};
use sqlx::PgPool;
use tokio::sync::mpsc;
use tokio_util::task::AbortOnDropHandle;

#[path = "replicas/cpu.rs"]
mod cpu;
#[path = "replicas/stores.rs"]
mod stores;

use stores::{Counted, Polling};

const CONNECTIONS: usize = 400;
/// Refresh rounds of each replica count (even: rounds go 1, 4, 4, 1).
const REFRESH_ROUNDS: usize = 20;
/// The same, with a provider that takes [`PROVIDER_LATENCY`] to answer.
const LATENT_ROUNDS: usize = 6;
/// Rounds of each count where the replicas after the first are a bound
/// ([`Others`]), for each bound.
const BOUND_ROUNDS: usize = 20;
const PROVIDER_LATENCY: Duration = Duration::from_millis(50);
/// Exports whose enqueue-to-delivery latency is measured, one at a time.
const LATENCY_SAMPLES: usize = 21;
const EXPORTS: usize = 4000;

fn keys() -> KeyRing {
    KeyRing::new(
        KeyId::new("k1").unwrap(),
        EncryptionKey::from_bytes([5; 32]),
    )
}

/// What the refresh rounds run against.
#[derive(Clone, Copy)]
struct Setup {
    /// How long the token endpoint takes to answer.
    provider: Duration,
    /// Whether the managers listen to the store's changes; otherwise they
    /// poll every 100 ms (the default).
    listen: bool,
    /// What the replicas after the first do.
    others: Others,
}

/// What the replicas after the first do in a round of refreshes.
#[derive(Clone, Copy, PartialEq)]
enum Others {
    /// Ask their `TokenManager`, as a host does.
    Ask,
    /// A bound, not a design: wait for the notification of the refreshed
    /// row and open it, without reading the store first (as if each knew,
    /// for nothing, that the first replica refreshes the token).
    Notified,
    /// A bound: one plain read of the row (`CredentialStore::get`), then as
    /// [`Others::Notified`]. A waiting replica learns that another holds the
    /// lease from a read; this is the least a read-then-wait design costs
    /// that reads through the store.
    ReadThenNotified,
    /// A bound: one statement a replica for all of the round's rows,
    /// reading only each row's version and lease columns (nothing sealed,
    /// nothing opened), beside the waits of [`Others::Notified`] (the
    /// waits need nothing the statement reads): about the least a waiting
    /// replica can learn from the store.
    VersionsAndNotified,
}

/// What a round of refreshes measured.
struct Refreshes {
    replicas: usize,
    per_second: f64,
    refreshed: usize,
    /// `CredentialStore` calls the managers made, per connection.
    calls: f64,
    /// SQL statements those calls took, per connection.
    statements: f64,
    /// Bytes of write-ahead log PostgreSQL wrote meanwhile, per
    /// connection: the row versions and row locks the replicas' statements
    /// cost the database they share.
    wal: f64,
    /// Milliseconds on a CPU: the bench's process (replicas and fakes),
    /// and PostgreSQL's; `None` where `/proc` cannot tell.
    cpu: Option<(f64, f64)>,
}

/// Replicas that have run a while, on one database: each its own pool
/// (opened in full, the store's statements run on each connection) and
/// `TokenManager` listening to the store's changes, kept from round to
/// round, as a deployment keeps its processes. Each round asks them for a
/// fresh set of expired tokens.
struct Replicas {
    /// Every replica's manager, or only the first's where the others are a
    /// bound ([`Others`]).
    managers: Vec<TokenManager>,
    /// The replicas after the first, where they are a bound.
    others: Vec<Listener>,
    mode: Others,
    /// Where each round's expired tokens are written.
    seed: PgStore,
    /// The token endpoint's answers so far.
    refreshed: Arc<AtomicUsize>,
    /// The managers' `CredentialStore` calls so far.
    queries: Arc<AtomicUsize>,
    rounds: usize,
    /// The PostgreSQL server's process id, for its CPU time.
    server: Option<u32>,
    _endpoint: FakeServer,
}

impl Replicas {
    async fn start(server: &TestPostgres, database: &str, replicas: usize, setup: Setup) -> Self {
        let url = &server.database(database);
        let endpoint = FakeServer::start().await;
        let refreshed = Arc::new(AtomicUsize::new(0));
        let counter = refreshed.clone();
        endpoint.route("POST", "/oauth/token", move |_| {
            let n = counter.fetch_add(1, Ordering::Relaxed);
            Reply::json(200, serde_json::json!({"access_token": format!("at-{n}"), "token_type": "bearer", "expires_in": 3600, "refresh_token": format!("rt-{n}")}))
                .after(setup.provider)
        });
        let client = OAuthClient::new(
            OAuthProvider::linear()
                .with_endpoints(endpoint.url("/authorize"), endpoint.url("/oauth/token")),
            "app",
            None,
            "http://127.0.0.1:1/callback",
        )
        .unwrap();
        let queries = Arc::new(AtomicUsize::new(0));
        let mut managers = Vec::new();
        let mut others = Vec::new();
        for replica in 0..replicas {
            let store = PgStore::connect(url, keys()).await.unwrap();
            warm(&store).await;
            let pool = store.pool().clone();
            let store: Arc<dyn CredentialStore> = Arc::new(Counted {
                store,
                queries: queries.clone(),
                notifies: setup.listen,
            });
            if replica > 0 && setup.others != Others::Ask {
                others.push(Listener::start(store, pool).await);
                continue;
            }
            managers.push(
                TokenManager::builder(store, Arc::new(client.clone()))
                    .build()
                    .unwrap(),
            );
        }
        for manager in &managers {
            assert_eq!(manager.listen().await, setup.listen);
        }
        let mut replicas = Self {
            managers,
            others,
            mode: setup.others,
            seed: PgStore::connect(url, keys()).await.unwrap(),
            refreshed,
            queries,
            rounds: 0,
            server: server.pid(),
            _endpoint: endpoint,
        };
        // One round unmeasured: the first time each statement carries
        // hundreds of rows, its memory is new to the process and to its
        // PostgreSQL backend.
        replicas.round().await;
        replicas
    }

    /// Every replica asks for every one of [`CONNECTIONS`] expired tokens
    /// at once.
    async fn round(&mut self) -> Refreshes {
        self.rounds += 1;
        let connection = ConnectionId::new("linear", "default").unwrap();
        let tenants: Vec<TenantId> = (0..CONNECTIONS)
            .map(|n| TenantId::new(format!("round{}-t{n}", self.rounds)).unwrap())
            .collect();
        for tenant in &tenants {
            let expired = Credentials::oauth2(
                "old",
                Some("rt".into()),
                Some(Utc::now() - chrono::Duration::seconds(1)),
            );
            self.seed.put(tenant, &connection, &expired).await.unwrap();
        }
        let (refreshed, queries) = (
            self.refreshed.load(Ordering::Relaxed),
            self.queries.load(Ordering::Relaxed),
        );
        let statements = stores::statements();
        let wal: String = sqlx::query_scalar("SELECT pg_current_wal_insert_lsn()::text")
            .fetch_one(self.seed.pool())
            .await
            .unwrap();
        // The bounds' replicas watch their rows before the first manager
        // can write one.
        let mut waiting = Vec::new();
        for other in &self.others {
            for tenant in &tenants {
                waiting.push((other.store.clone(), tenant.clone(), other.wait_for(tenant)));
            }
        }
        let cpu = cpu::spent(self.server);
        let started = Instant::now();
        let mut calls = tokio::task::JoinSet::new();
        for manager in &self.managers {
            for tenant in &tenants {
                let (manager, tenant, connection) =
                    (manager.clone(), tenant.clone(), connection.clone());
                calls.spawn(async move {
                    manager.access_token(&tenant, &connection).await.unwrap();
                });
            }
        }
        if self.mode == Others::VersionsAndNotified {
            // Each replica's one statement for all of the round's rows.
            for other in &self.others {
                let (pool, tenants, connection) =
                    (other.pool.clone(), tenants.clone(), connection.clone());
                calls.spawn(async move {
                    let read = read_versions(&pool, &tenants, &connection).await;
                    assert_eq!(read, CONNECTIONS, "every row read");
                });
            }
        }
        let read = self.mode == Others::ReadThenNotified;
        for (store, tenant, mut notified) in waiting {
            let connection = connection.clone();
            calls.spawn(async move {
                if read {
                    store.get(&tenant, &connection).await.unwrap().unwrap();
                }
                // The first replica writes the refreshed row last; a late
                // notification of the seeded row may come first.
                loop {
                    let change = tokio::time::timeout(Duration::from_secs(10), notified.recv())
                        .await
                        .expect("the refreshed row notified within 10 s")
                        .expect("the listener runs");
                    let row = change.row().expect("the row in the notification").unwrap();
                    if row.value.expires_at.is_some_and(|at| at > Utc::now()) {
                        break;
                    }
                }
            });
        }
        while let Some(call) = calls.join_next().await {
            call.unwrap();
        }
        let elapsed = started.elapsed();
        let cpu = cpu.zip(cpu::spent(self.server)).map(|(before, after)| {
            let ms = |from: u64, to: u64| to.saturating_sub(from) as f64 / 1e6;
            (ms(before.0, after.0), ms(before.1, after.1))
        });
        for other in &self.others {
            lock(&other.waiters).clear();
        }
        let statements = stores::statements() - statements;
        let wal: f64 = sqlx::query_scalar(
            "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), $1::pg_lsn)::float8",
        )
        .bind(wal)
        .fetch_one(self.seed.pool())
        .await
        .unwrap();
        let refreshed = self.refreshed.load(Ordering::Relaxed) - refreshed;
        let queries = self.queries.load(Ordering::Relaxed) - queries;
        Refreshes {
            replicas: self.managers.len() + self.others.len(),
            per_second: refreshed as f64 / elapsed.as_secs_f64(),
            refreshed,
            calls: queries as f64 / CONNECTIONS as f64,
            statements: statements as f64 / CONNECTIONS as f64,
            wal: wal / CONNECTIONS as f64,
            cpu,
        }
    }
}

/// A replica that is a bound ([`Others`]): its store, and a task passing
/// the store's change notifications on to the calls waiting for each
/// tenant's row.
struct Listener {
    store: Arc<dyn CredentialStore>,
    /// The store's pool, for [`Others::VersionsAndNotified`].
    pool: PgPool,
    waiters: Waiters,
    /// Aborted with the listener.
    _task: AbortOnDropHandle<()>,
}

/// The calls waiting for each tenant's row.
type Waiters = Arc<Mutex<HashMap<TenantId, mpsc::UnboundedSender<Change>>>>;

impl Listener {
    async fn start(store: Arc<dyn CredentialStore>, pool: PgPool) -> Self {
        let mut changes = store.changes().await.unwrap().expect("PostgreSQL notifies");
        let waiters = Waiters::default();
        let woken = waiters.clone();
        let task = tokio::spawn(async move {
            while let Some(change) = changes.next().await {
                let waiter = lock(&woken).get(&change.tenant).cloned();
                if let Some(waiter) = waiter {
                    let _ = waiter.send(change);
                }
            }
        });
        Self {
            store,
            pool,
            waiters,
            _task: AbortOnDropHandle::new(task),
        }
    }

    /// The notifications of `tenant`'s row from now on.
    fn wait_for(&self, tenant: &TenantId) -> mpsc::UnboundedReceiver<Change> {
        let (sender, receiver) = mpsc::unbounded_channel();
        lock(&self.waiters).insert(tenant.clone(), sender);
        receiver
    }
}

/// Reads the version and lease columns of `tenants`' rows (as `PgStore`'s
/// table names them) in one statement, each row found by key as the
/// store's own statements find it; returns the number of rows found.
async fn read_versions(pool: &PgPool, tenants: &[TenantId], connection: &ConnectionId) -> usize {
    let tenants: Vec<&str> = tenants.iter().map(TenantId::as_str).collect();
    let rows: Vec<(i64, Option<String>, Option<chrono::DateTime<Utc>>)> = sqlx::query_as(
        "SELECT c.version, c.lease_owner, c.leased_until
         FROM unnest($1::text[]) AS asked(tenant)
         CROSS JOIN LATERAL (
             SELECT version, lease_owner, leased_until FROM integrations_credentials c
             WHERE c.tenant = asked.tenant AND c.provider = $2 AND c.name = $3
                 AND NOT c.deleted
             LIMIT 1
         ) c",
    )
    .bind(tenants)
    .bind(connection.provider().as_str())
    .bind(connection.name())
    .fetch_all(pool)
    .await
    .unwrap();
    rows.len()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap()
}

/// Opens all of a replica's connections and runs the store's statements on
/// each before the clock starts, as a replica that has run a while has
/// them: opening them (a PostgreSQL backend each) and preparing and
/// planning the statements on each inside the measured time would be
/// counted against 4 replicas four times over.
async fn warm(store: &PgStore) {
    let pool = store.pool();
    let queries: Vec<_> = (0..pool.options().get_max_connections())
        .map(|_| async {
            let mut connection = pool.acquire().await.unwrap();
            sqlx::query("SELECT pg_sleep(0.01)")
                .execute(&mut *connection)
                .await
                .unwrap();
        })
        .collect();
    futures_util::future::join_all(queries).await;
    // The pool hands out its idle connections in turn: enough rounds give
    // each statement to each connection several times.
    let tenant = TenantId::new("warm-up").unwrap();
    let connection = ConnectionId::new("linear", "warm-up").unwrap();
    store
        .put(&tenant, &connection, &Credentials::bearer("warm"))
        .await
        .unwrap();
    let lease = RefreshLease::new("warm-up", Utc::now());
    for _ in 0..10 * pool.options().get_max_connections() {
        let row = store.get(&tenant, &connection).await.unwrap().unwrap();
        // A bearer token is never leased; the statement is run all the same.
        store
            .get_for_refresh(&tenant, &connection, &lease, Utc::now())
            .await
            .unwrap();
        store
            .compare_and_swap(&tenant, &connection, row.version, &row.value)
            .await
            .unwrap()
            .unwrap();
    }
}

/// `replicas` export services on the outbox at `url` (4 workers each, not
/// started), delivering to `fake` with `tenant`'s bot token; with
/// `notify` off, their store hides PostgreSQL's enqueue notifications.
async fn slack_replicas(
    url: &str,
    fake: &FakeSlack,
    tenant: &TenantId,
    replicas: usize,
    notify: bool,
) -> Vec<ExportService> {
    let credentials: Arc<dyn CredentialStore> =
        Arc::new(integrations_core::credentials::MemoryStore::new());
    credentials
        .put(
            tenant,
            &ConnectionId::new("slack", "default").unwrap(),
            &Credentials::bearer("xoxb-bench"),
        )
        .await
        .unwrap();
    let mut services = Vec::new();
    for _ in 0..replicas {
        let access = VendorAccess::new(
            VendorConnection::builder(Vendor::slack().with_base_url(fake.api_url()))
                .auth(Auth::Bearer),
            credentials.clone(),
        )
        .unwrap();
        let store = PgExportStore::connect(url).await.unwrap();
        let builder = if notify {
            ExportService::builder(store)
        } else {
            ExportService::builder(Polling(store))
        };
        services.push(
            builder
                .provider(SlackProvider::new(access))
                .workers(4)
                .build(),
        );
    }
    services
}

async fn deliveries(url: &str, replicas: usize) -> f64 {
    let fake = FakeSlack::start("xoxb-bench").await;
    let tenant = TenantId::new(format!("bench-{replicas}")).unwrap();
    let outbox = PgExportStore::connect(url).await.unwrap();
    for n in 0..EXPORTS {
        let request = ExportRequest::new(
            tenant.clone(),
            ProviderId::from_static("slack"),
            "C0GENERAL",
            Content::new(format!("Export {n}")),
        )
        .idempotency_key(format!("bench-{n}"));
        outbox.enqueue(&request).await.unwrap();
    }
    let services = slack_replicas(url, &fake, &tenant, replicas, true).await;
    let started = Instant::now();
    for service in &services {
        service.start();
    }
    while fake.posts().len() < EXPORTS {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    for service in &services {
        service.shutdown(Duration::from_secs(5)).await;
    }
    EXPORTS as f64 / elapsed.as_secs_f64()
}

/// Enqueue-to-delivery latency with `replicas` idle replicas: exports are
/// enqueued one at a time through another connection (as a web handler on
/// any replica would), each a while after the last is delivered. `notify`: the
/// workers wake on PostgreSQL's notification; otherwise they poll (every
/// second, the default). Returns the median.
async fn latency(url: &str, replicas: usize, notify: bool) -> Duration {
    let fake = FakeSlack::start("xoxb-bench").await;
    let tenant = TenantId::new(format!("latency-{replicas}-{notify}")).unwrap();
    let services = slack_replicas(url, &fake, &tenant, replicas, notify).await;
    for service in &services {
        service.start();
    }
    let outbox = PgExportStore::connect(url).await.unwrap();
    // Let the workers go idle (and their listeners start).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut samples = Vec::new();
    // Between deliveries, a pause of 100 ms to 1.1 s (a fixed sequence):
    // the worker that delivered the last one is idle again, and an enqueue
    // lands anywhere in the pollers' cycle.
    let mut pause = 7u64;
    for n in 0..LATENCY_SAMPLES {
        pause = (pause * 7919 + 104_729) % 1000;
        tokio::time::sleep(Duration::from_millis(100 + pause)).await;
        let request = ExportRequest::new(
            tenant.clone(),
            ProviderId::from_static("slack"),
            "C0GENERAL",
            Content::new(format!("Latency {n}")),
        )
        .idempotency_key(format!("latency-{n}"));
        let started = Instant::now();
        outbox.enqueue(&request).await.unwrap();
        while fake.posts().len() <= n {
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        samples.push(started.elapsed());
    }
    for service in &services {
        service.shutdown(Duration::from_secs(5)).await;
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// `rounds` rounds of refreshes with each replica count, in turn (1, 4,
/// 4, 1, ...): refresh rounds are short (tens of milliseconds), and a
/// hiccup of the shared machine moves one by half. The two sets of
/// replicas have a database each, so neither hears the other's
/// notifications.
async fn refresh_rounds(
    server: &TestPostgres,
    name: &str,
    rounds: usize,
    setup: Setup,
) -> Vec<Refreshes> {
    let mut one = Replicas::start(server, &format!("{name}1"), 1, setup).await;
    let mut four = Replicas::start(server, &format!("{name}4"), 4, setup).await;
    let mut measured = Vec::new();
    for round in 0..2 * rounds {
        let replicas = if matches!(round % 4, 0 | 3) {
            &mut one
        } else {
            &mut four
        };
        let round = replicas.round().await;
        assert_eq!(
            round.refreshed, CONNECTIONS,
            "each connection refreshed once"
        );
        measured.push(round);
    }
    measured
}

/// `value` of the rounds with `replicas` replicas, sorted.
fn of(rounds: &[Refreshes], replicas: usize, value: fn(&Refreshes) -> f64) -> Vec<f64> {
    let mut values: Vec<f64> = rounds
        .iter()
        .filter(|round| round.replicas == replicas)
        .map(value)
        .collect();
    values.sort_by(f64::total_cmp);
    values
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn median(sorted: &[f64]) -> f64 {
    (sorted[(sorted.len() - 1) / 2] + sorted[sorted.len() / 2]) / 2.0
}

/// Each 4-replica round's rate over the 1-replica round beside it,
/// sorted: how far one pair of rounds can be trusted.
fn pairs(rounds: &[Refreshes]) -> Vec<f64> {
    let mut pairs: Vec<f64> = rounds
        .chunks(4)
        .flat_map(|turn| {
            [
                turn[1].per_second / turn[0].per_second,
                turn[2].per_second / turn[3].per_second,
            ]
        })
        .collect();
    pairs.sort_by(f64::total_cmp);
    pairs
}

fn main() {
    stores::count_statements();
    let server =
        TestPostgres::start().expect("the bench needs PostgreSQL (Debian's postgresql package)");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let now = Setup {
            provider: Duration::ZERO,
            listen: true,
            others: Others::Ask,
        };
        let refresh = refresh_rounds(&server, "refresh", REFRESH_ROUNDS, now).await;
        let mut bounds = Vec::new();
        for (name, others) in [
            ("notified", Others::Notified),
            ("read", Others::ReadThenNotified),
            ("versions", Others::VersionsAndNotified),
        ] {
            let setup = Setup { others, ..now };
            bounds.push(refresh_rounds(&server, name, BOUND_ROUNDS, setup).await);
        }
        let latent = Setup {
            provider: PROVIDER_LATENCY,
            ..now
        };
        let woken_refresh = refresh_rounds(&server, "woken", LATENT_ROUNDS, latent).await;
        let polling = Setup {
            listen: false,
            ..latent
        };
        let polled_refresh = refresh_rounds(&server, "polled", LATENT_ROUNDS, polling).await;
        let mut deliver = Vec::new();
        for (round, replicas) in [1, 4, 4, 1].into_iter().enumerate() {
            let url = server.database(&format!("deliver{round}"));
            deliver.push((replicas, deliveries(&url, replicas).await));
        }
        println!("PostgreSQL on 127.0.0.1");
        let url = server.database("latency");
        let woken = latency(&url, 4, true).await;
        let polled = latency(&url, 4, false).await;
        let rate = |rounds: &[Refreshes], replicas| of(rounds, replicas, |r| r.per_second);
        let (one, four) = (rate(&refresh, 1), rate(&refresh, 4));
        println!(
            "  token refreshes/s, medians of {REFRESH_ROUNDS} rounds: 1 replica {:>6.0} ({:.0}..{:.0})   4 replicas {:>6.0} ({:.0}..{:.0})   {:.2}x",
            median(&one),
            one[0],
            one[one.len() - 1],
            median(&four),
            four[0],
            four[four.len() - 1],
            median(&four) / median(&one)
        );
        let paired = pairs(&refresh);
        println!(
            "  4 vs 1 replica, round by round beside each other ({} pairs): quartiles {:.2}x {:.2}x {:.2}x",
            paired.len(),
            paired[paired.len() / 4],
            paired[paired.len() / 2],
            paired[3 * paired.len() / 4]
        );
        let per_round = |replicas, value| mean(&of(&refresh, replicas, value));
        println!(
            "  a connection's store calls: 1 replica {:.1}   4 replicas {:.1}   SQL statements: 1 replica {:.2}   4 replicas {:.2}",
            per_round(1, |r| r.calls),
            per_round(4, |r| r.calls),
            per_round(1, |r| r.statements),
            per_round(4, |r| r.statements)
        );
        println!(
            "  PostgreSQL's write-ahead log a connection: 1 replica {:.0} bytes   4 replicas {:.0} bytes",
            per_round(1, |r| r.wal),
            per_round(4, |r| r.wal)
        );
        // The CPU a round took, medians: the bench's process and
        // PostgreSQL's, in ms; empty where `/proc` cannot tell.
        let cpu = |rounds: &[Refreshes]| {
            if rounds.iter().any(|round| round.cpu.is_none()) {
                return String::new();
            }
            let ours = |replicas| median(&of(rounds, replicas, |r| r.cpu.unwrap_or_default().0));
            let pg = |replicas| median(&of(rounds, replicas, |r| r.cpu.unwrap_or_default().1));
            format!(
                "CPU a round: 1 replica {:.0} + {:.0} ms   4 replicas {:.0} + {:.0} ms (the bench's process + PostgreSQL's, medians)",
                ours(1),
                pg(1),
                ours(4),
                pg(4)
            )
        };
        println!("  {}", cpu(&refresh));
        let line = |how: &str, rounds: &[Refreshes]| {
            let (one, four) = (median(&rate(rounds, 1)), median(&rate(rounds, 4)));
            let paired = pairs(rounds);
            println!(
                "    {how:<36} 1 replica {one:>6.0}   4 replicas {four:>6.0}   {:.2}x   (pairs' median {:.2}x)",
                four / one,
                paired[paired.len() / 2]
            );
            println!("      {}", cpu(rounds));
        };
        println!(
            "  bounds, not designs: the 3 other replicas do not ask their manager (endpoint at once, medians of {BOUND_ROUNDS} rounds):"
        );
        line("wait for the notification, no read", &bounds[0]);
        line("one plain read, then the notification", &bounds[1]);
        line("versions and leases in one statement", &bounds[2]);
        println!(
            "  token endpoint answering in {PROVIDER_LATENCY:?}, medians of {LATENT_ROUNDS} rounds:"
        );
        line("woken by NOTIFY", &woken_refresh);
        line("polling (100 ms)", &polled_refresh);
        let delivered = |replicas| {
            let rates: Vec<f64> = (deliver.iter())
                .filter(|(r, _)| *r == replicas)
                .map(|(_, rate)| *rate)
                .collect();
            mean(&rates)
        };
        let (one, four) = (delivered(1), delivered(4));
        println!("  rounds 1, 4, 4, 1 replicas (means of two rounds each):");
        println!(
            "  outbox deliveries/s 1 replica {one:>8.0}   4 replicas {four:>8.0}   {:.2}x",
            four / one
        );
        println!(
            "  enqueue to delivery, 4 idle replicas, p50 of {LATENCY_SAMPLES}: woken by NOTIFY {woken:.1?}   polling (1 s) {polled:.1?}   {:.3}x",
            woken.as_secs_f64() / polled.as_secs_f64()
        );
    });
}
