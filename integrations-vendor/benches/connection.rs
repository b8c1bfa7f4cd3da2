//! A GET through `VendorConnection` (bearer token from a `TokenManager`,
//! the client-side rate limiter on, the tracing span, a health sample, the
//! vendor's error check) against bare `reqwest` sending the same request to
//! the same loopback server, in alternating rounds of one invocation.
//!
//! ```sh
//! cargo bench -p integrations-vendor --bench connection
//! ```

use std::hint::black_box;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use integrations_core::credentials::{
    CredentialStore, Credentials, MemoryStore, RefreshRequest, TokenManager, TokenRefresher,
    TokenResponse,
};
use integrations_core::{BoxError, ConnectionId, TenantId, async_trait};
use integrations_fakes::{FakeServer, Reply};
use integrations_vendor::{Auth, Vendor, VendorConnection};

#[derive(Debug)]
struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        Err("not used".into())
    }
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[((p * sorted.len()).div_ceil(100)).max(1) - 1]
}

fn summary(label: &str, mut times: Vec<Duration>, baseline: Option<Duration>) -> Duration {
    times.sort();
    let (p50, p99) = (percentile(&times, 50), percentile(&times, 99));
    let ratio = baseline.map_or(1.0, |b| p50.as_secs_f64() / b.as_secs_f64());
    println!(
        "  {label:<52} p50 {:>6.1} µs   p99 {:>7.1} µs   {ratio:>5.2}x",
        p50.as_secs_f64() * 1e6,
        p99.as_secs_f64() * 1e6
    );
    p50
}

async fn run(rounds: usize, per_round: usize) {
    let fake = FakeServer::start().await;
    fake.route("GET", "/api/users.info", |_| {
        Reply::json(200, serde_json::json!({"ok": true, "user": {"id": "U1"}}))
    });
    let url = fake.url("/api/users.info");
    let bare = reqwest::Client::new();

    let store: Arc<dyn CredentialStore> = Arc::new(MemoryStore::new());
    let (tenant, connection) = (
        TenantId::new("bench").unwrap(),
        ConnectionId::new("slack", "bench").unwrap(),
    );
    store
        .put(&tenant, &connection, &Credentials::bearer("xoxb-bench"))
        .await
        .unwrap();
    let tokens = TokenManager::builder(store, Arc::new(NoRefresh))
        .build()
        .unwrap();
    let slack = VendorConnection::builder(Vendor::slack().with_base_url(fake.url("/api")))
        .auth(Auth::Bearer)
        .token_manager(tokens, tenant, connection)
        .rate_limit(NonZeroU32::new(1_000_000).unwrap())
        .build()
        .unwrap();

    let bare_get = || async {
        let response = bare
            .get(&url)
            .bearer_auth("xoxb-bench")
            .send()
            .await
            .unwrap();
        black_box(response.bytes().await.unwrap());
    };
    let ours = || async {
        black_box(slack.get("/users.info").send().await.unwrap());
    };
    for _ in 0..500 {
        bare_get().await;
        ours().await;
    }
    let (mut bare_times, mut our_times) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for turn in 0..2 {
            let our_turn = (round + turn) % 2 == 1;
            for _ in 0..per_round {
                let started = Instant::now();
                if our_turn {
                    ours().await;
                    our_times.push(started.elapsed());
                } else {
                    bare_get().await;
                    bare_times.push(started.elapsed());
                }
            }
        }
    }
    println!(
        "GET on 127.0.0.1, {} sequential requests each in {rounds} alternating rounds, multi-thread runtime:",
        rounds * per_round
    );
    let baseline = summary("bare reqwest (baseline)", bare_times, None);
    summary(
        "VendorConnection (auth, rate limit, span, health, checks)",
        our_times,
        Some(baseline),
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run(20, 500));
}
