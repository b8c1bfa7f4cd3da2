//! Credential benchmarks, each against a baseline measured in the same run.
//!
//! 1. Valid-token lookups: a hand-written `Mutex<HashMap>` of tokens
//!    (baseline) vs `TokenManager::access_token` on a cached token vs the
//!    same call with the cache dropped each time (store read and decrypt).
//! 2. SQLite get and put: plain sqlx statements on an unencrypted table of
//!    the same shape (baseline) vs `SqliteStore` (seal/open with
//!    XChaCha20-Poly1305, encode/decode).
//!
//! ```sh
//! cargo bench -p integrations-core --bench credentials
//! ```

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::Utc;
use integrations_core::credentials::{
    CredentialStore, Credentials, EncryptionKey, KeyRing, RefreshRequest, SqliteStore,
    TokenManager, TokenRefresher, TokenResponse,
};
use integrations_core::id::KeyId;
use integrations_core::{BoxError, ConnectionId, TenantId, async_trait};
use secrecy::SecretString;

#[derive(Debug)]
struct NeverCalled;

#[async_trait]
impl TokenRefresher for NeverCalled {
    async fn refresh(&self, _: RefreshRequest<'_>) -> Result<TokenResponse, BoxError> {
        Err("the benchmark's tokens never expire".into())
    }
}

/// Operations per second of `op`, the median of 5 rounds of `n`.
async fn per_second<F, Fut>(n: u32, mut op: F) -> f64
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..n / 10 {
        op(i).await;
    }
    let mut rounds = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        for i in 0..n {
            op(i).await;
        }
        rounds.push(f64::from(n) / start.elapsed().as_secs_f64());
    }
    rounds.sort_by(f64::total_cmp);
    rounds[2]
}

fn row(label: &str, rate: f64, baseline: f64) {
    println!(
        "  {label:<44} {rate:>12.0} ops/s  {:>8.2} µs/op  {:>6.2}x",
        1e6 / rate,
        baseline / rate
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let keys = KeyRing::new(KeyId::new("k1").unwrap(), EncryptionKey::generate().unwrap());
        let store = Arc::new(SqliteStore::open(dir.path().join("bench.db"), keys).await.unwrap());
        let tenant = TenantId::new("tenant").unwrap();
        let connections: Vec<ConnectionId> = (0..100)
            .map(|i| ConnectionId::new("slack", format!("conn-{i}")).unwrap())
            .collect();
        let credentials = Credentials::oauth2(
            "xoxe.xoxp-1-".to_owned() + &"a".repeat(120),
            Some("xoxe-1-".to_owned() + &"r".repeat(120)),
            Some(Utc::now() + chrono::Duration::days(365)),
        )
        .with_metadata("team_id", "T024BE7LD");
        for connection in &connections {
            store.put(&tenant, connection, &credentials).await.unwrap();
        }

        // 1. Token lookups.
        let n = 200_000;
        let hand: Mutex<HashMap<String, SecretString>> = Mutex::new(
            connections
                .iter()
                .map(|c| (format!("tenant/{c}"), SecretString::from("token")))
                .collect(),
        );
        let keys: Vec<String> = connections.iter().map(|c| format!("tenant/{c}")).collect();
        let baseline = per_second(n, |i| {
            let token = hand.lock().unwrap().get(&keys[i as usize % keys.len()]).cloned();
            black_box(token);
            async {}
        })
        .await;
        let manager = TokenManager::builder(store.clone(), Arc::new(NeverCalled))
            .build()
            .unwrap();
        let cached = per_second(n, |i| {
            let call = manager.access_token(&tenant, &connections[i as usize % connections.len()]);
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;
        let uncached = per_second(n / 100, |i| {
            let connection = &connections[i as usize % connections.len()];
            manager.invalidate(&tenant, connection);
            let call = manager.access_token(&tenant, connection);
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;
        println!("valid-token lookups, 100 connections, current-thread runtime:");
        row("Mutex<HashMap> lookup + clone (baseline)", baseline, baseline);
        row("TokenManager::access_token, cached", cached, baseline);
        row("TokenManager::access_token, cache dropped", uncached, baseline);

        // 2. SQLite get and put, encrypted vs plain rows of the same size.
        let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("bench.db").display()))
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE plain (tenant TEXT, provider TEXT, name TEXT, version INTEGER, body BLOB,
             PRIMARY KEY (tenant, provider, name)) WITHOUT ROWID",
        )
        .execute(&raw)
        .await
        .unwrap();
        let body = vec![7u8; 400];
        for connection in &connections {
            sqlx::query("INSERT INTO plain VALUES (?1, 'slack', ?2, 1, ?3)")
                .bind(tenant.as_str())
                .bind(connection.name())
                .bind(&body)
                .execute(&raw)
                .await
                .unwrap();
        }
        let n = 5_000;
        let plain_get = per_second(n, |i| {
            let name = connections[i as usize % connections.len()].name().to_owned();
            let raw = &raw;
            let tenant = &tenant;
            async move {
                let row: (i64, Vec<u8>) = sqlx::query_as(
                    "SELECT version, body FROM plain WHERE tenant = ?1 AND provider = 'slack' AND name = ?2",
                )
                .bind(tenant.as_str())
                .bind(name)
                .fetch_one(raw)
                .await
                .unwrap();
                black_box(row);
            }
        })
        .await;
        let sealed_get = per_second(n, |i| {
            let call = store.get(&tenant, &connections[i as usize % connections.len()]);
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;
        let n = 1_000;
        let plain_put = per_second(n, |i| {
            let name = connections[i as usize % connections.len()].name().to_owned();
            let raw = &raw;
            let tenant = &tenant;
            let body = &body;
            async move {
                sqlx::query(
                    "INSERT INTO plain VALUES (?1, 'slack', ?2, 1, ?3)
                     ON CONFLICT (tenant, provider, name) DO UPDATE SET version = version + 1, body = excluded.body",
                )
                .bind(tenant.as_str())
                .bind(name)
                .bind(body)
                .execute(raw)
                .await
                .unwrap();
            }
        })
        .await;
        let sealed_put = per_second(n, |i| {
            let call = store.put(&tenant, &connections[i as usize % connections.len()], &credentials);
            async move {
                black_box(call.await.unwrap());
            }
        })
        .await;
        println!("\nSQLite on a local file (WAL, synchronous=NORMAL), one caller:");
        row("get: plain sqlx SELECT (baseline)", plain_get, plain_get);
        row("get: SqliteStore (decrypt + decode)", sealed_get, plain_get);
        row("put: plain sqlx upsert (baseline)", plain_put, plain_put);
        row("put: SqliteStore (encode + encrypt)", sealed_put, plain_put);
        store.close().await;
        raw.close().await;
    });
}
