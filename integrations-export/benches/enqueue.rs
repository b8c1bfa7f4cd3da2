//! Durable enqueues per second: `SqliteExportStore::enqueue` from 16
//! concurrent producers (commits grouped by the store's writer) against
//! the baseline, a plain SQLite insert of the same row in its own
//! transaction (autocommit) from the same 16 producers, on the same file
//! settings (WAL, `synchronous=NORMAL`), in alternating rounds of one
//! invocation.
//!
//! ```sh
//! cargo bench -p integrations-export --bench enqueue
//! ```

use std::time::{Duration, Instant};

use integrations_core::TenantId;
use integrations_core::id::ProviderId;
use integrations_export::store::ExportStore;
use integrations_export::{Content, ExportRequest, SqliteExportStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

const PRODUCERS: usize = 16;
const PER_PRODUCER: usize = 500;

fn request(producer: usize, n: usize, round: usize) -> ExportRequest {
    let tenant = TenantId::new(format!("tenant-{producer}")).unwrap();
    let content =
        Content::new(format!("Deploy {n} finished: all checks **green**.")).title("Deploy");
    ExportRequest::new(
        tenant,
        ProviderId::from_static("slack"),
        "C024BE91L",
        content,
    )
    .idempotency_key(format!("r{round}-{n}"))
}

fn options(path: std::path::PathBuf, synchronous: SqliteSynchronous) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .busy_timeout(Duration::from_secs(30))
}

async fn outbox(dir: &std::path::Path, round: usize, synchronous: SqliteSynchronous) -> Duration {
    let path = dir.join(format!("outbox-{round}-{synchronous:?}.db"));
    let store = SqliteExportStore::connect(options(path, synchronous))
        .await
        .unwrap();
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let store = store.clone();
            tokio::spawn(async move {
                for n in 0..PER_PRODUCER {
                    store.enqueue(&request(producer, n, round)).await.unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    started.elapsed()
}

async fn plain_insert(
    dir: &std::path::Path,
    round: usize,
    synchronous: SqliteSynchronous,
) -> Duration {
    let options = options(
        dir.join(format!("plain-{round}-{synchronous:?}.db")),
        synchronous,
    );
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .unwrap();
    sqlx::raw_sql(
        "CREATE TABLE rows (id INTEGER PRIMARY KEY AUTOINCREMENT, tenant TEXT NOT NULL,
         provider TEXT NOT NULL, destination TEXT NOT NULL, connection TEXT NOT NULL,
         idempotency_key TEXT NOT NULL, content TEXT NOT NULL, status TEXT NOT NULL,
         next_attempt_at INTEGER NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
         UNIQUE (tenant, idempotency_key))",
    )
    .execute(&pool)
    .await
    .unwrap();
    let started = Instant::now();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for n in 0..PER_PRODUCER {
                    let request = request(producer, n, round);
                    sqlx::query(
                        "INSERT INTO rows (tenant, provider, destination, connection, idempotency_key,
                         content, status, next_attempt_at, created_at, updated_at)
                         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, 0, 0)",
                    )
                    .bind(request.tenant.as_str())
                    .bind(request.provider.as_str())
                    .bind(&request.destination)
                    .bind(&request.connection)
                    .bind(&request.idempotency_key)
                    .bind(serde_json::to_string(&request.content).unwrap())
                    .execute(&pool)
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for producer in producers {
        producer.await.unwrap();
    }
    started.elapsed()
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let rounds = 3;
    println!("{PRODUCERS} producers x {PER_PRODUCER} rows, {rounds} alternating rounds:");
    for synchronous in [SqliteSynchronous::Normal, SqliteSynchronous::Full] {
        let (mut plain, mut ours) = (Duration::ZERO, Duration::ZERO);
        runtime.block_on(async {
            for round in 0..rounds {
                if round % 2 == 0 {
                    plain += plain_insert(dir.path(), round, synchronous).await;
                    ours += outbox(dir.path(), round, synchronous).await;
                } else {
                    ours += outbox(dir.path(), round, synchronous).await;
                    plain += plain_insert(dir.path(), round, synchronous).await;
                }
            }
        });
        let total = (PRODUCERS * PER_PRODUCER * rounds) as f64;
        let (plain, ours) = (total / plain.as_secs_f64(), total / ours.as_secs_f64());
        println!("  synchronous={synchronous:?}");
        println!(
            "    plain SQLite insert, one transaction each (baseline) {plain:>9.0} rows/s   1.00x"
        );
        println!(
            "    SqliteExportStore::enqueue, grouped commits          {ours:>9.0} rows/s   {:.2}x",
            ours / plain
        );
    }
}
