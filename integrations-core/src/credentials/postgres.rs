//! A credential store on PostgreSQL, every row encrypted.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::FutureExt;
use sqlx::Row as _;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use tokio_util::task::TaskTracker;

use batch::{Batcher, Call};

use super::crypto::Sealed;
use super::form::{from_plaintext, to_plaintext};
use super::{Change, CredentialStore, Credentials, KeyRing, RefreshLease, Versioned};
use crate::error::{CredentialError, Error};
use crate::id::{ConnectionId, KeyId, TenantId};

mod batch;

/// Credentials in PostgreSQL (feature `postgres`), for hosts that run
/// several replicas: the same sealed rows, key ids and rotation as
/// [`SqliteStore`](crate::credentials::SqliteStore), in table `integrations_credentials`.
///
/// Compare-and-swap is a conditional `UPDATE`, atomic across replicas, so
/// a [`TokenManager`](crate::credentials::TokenManager) on each replica
/// refreshes a connection once in all (see its refresh lease). The same
/// pool can serve a [`PgTickLease`](crate::runtime::PgTickLease).
///
/// Reads and compare-and-swaps made at the same moment share statements:
/// a call goes at once when no statement of its kind runs, and the calls
/// that arrive meanwhile go together in the next (one row each; a second
/// call for the same row waits for the statement after). A lone caller
/// waits for nothing; many callers (every replica asking for the same
/// expired tokens) cost a few statements instead of one each. Rows are
/// locked in key order, so two replicas' statements cannot deadlock.
///
/// ```no_run
/// use integrations_core::credentials::{EncryptionKey, KeyRing, PgStore};
/// use integrations_core::id::KeyId;
/// # async fn run() -> Result<(), integrations_core::Error> {
/// let keys = KeyRing::new(KeyId::new("k1")?, EncryptionKey::generate()?);
/// let store = PgStore::connect("postgres://app@db.internal/app", keys).await?;
/// # Ok(()) }
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    keys: Arc<KeyRing>,
    batches: Arc<Batches>,
}

/// The statements concurrent calls share, and the tasks that run them.
struct Batches {
    reads: Batcher<Read, Option<Row>>,
    swaps: Batcher<Swap, Option<u64>>,
    tasks: TaskTracker,
}

/// A read waiting for its statement: the row, and for
/// [`get_for_refresh`](CredentialStore::get_for_refresh) the lease to take
/// when the row is due.
struct Read {
    tenant: TenantId,
    connection: ConnectionId,
    lease: Option<LeaseAsk>,
}

/// Take `lease` on a refreshable row that expires at or before `due` and
/// holds no other owner's lease past `now`.
struct LeaseAsk {
    lease: RefreshLease,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// A row as a read found it: its version and sealed value, the lease in
/// its columns, and whether the read took the lease (then at the version
/// that write gave the row).
struct Row {
    version: u64,
    sealed: Sealed,
    lease: Option<RefreshLease>,
    taken: bool,
}

impl Call for Read {
    fn row(&self) -> (&TenantId, &ConnectionId) {
        (&self.tenant, &self.connection)
    }
}

/// A compare-and-swap waiting for its statement: the row, the version it
/// expects and what to write.
struct Swap {
    tenant: TenantId,
    connection: ConnectionId,
    expected: u64,
    sealed: Sealed,
    clear: Clear,
}

/// What a row keeps in clear beside its sealed value: when it expires,
/// its refresh lease, and whether a refresh can renew it.
struct Clear {
    expires_at: Option<DateTime<Utc>>,
    lease: Option<RefreshLease>,
    refreshable: bool,
}

impl Clear {
    fn of(credentials: &Credentials) -> Self {
        Self {
            expires_at: credentials.expires_at,
            lease: credentials.refresh_lease.clone(),
            refreshable: credentials.refreshable(),
        }
    }
}

impl Call for Swap {
    fn row(&self) -> (&TenantId, &ConnectionId) {
        (&self.tenant, &self.connection)
    }
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore")
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}

fn store_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::store(operation, e)
}

/// Applies this crate's PostgreSQL migrations to `pool`. Migrations of
/// other crates and of the host in the same database are left alone.
pub(crate) async fn migrate(pool: &PgPool) -> Result<(), Error> {
    let mut migrator = sqlx::migrate!("./migrations-postgres");
    migrator.set_ignore_missing(true);
    migrator.run(pool).await.map_err(|e| {
        CredentialError::Store {
            operation: "apply migrations",
            source: Box::new(e),
        }
        .into()
    })
}

impl PgStore {
    /// Connects to the database at `url` (a pool of up to 10
    /// connections) and applies the migrations.
    pub async fn connect(url: &str, keys: KeyRing) -> Result<Self, Error> {
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(url)
            .await
            .map_err(store_error("connect to PostgreSQL"))?;
        Self::with_pool(pool, keys).await
    }

    /// A store on the host's own pool; applies the migrations.
    pub async fn with_pool(pool: PgPool, keys: KeyRing) -> Result<Self, Error> {
        migrate(&pool).await?;
        let tasks = TaskTracker::new();
        let (reading, swapping) = (pool.clone(), pool.clone());
        let batches = Batches {
            reads: Batcher::new("read credentials", tasks.clone(), move |rows| {
                read(reading.clone(), rows).boxed()
            }),
            swaps: Batcher::new("update credentials", tasks.clone(), move |swaps| {
                swap(swapping.clone(), swaps).boxed()
            }),
            tasks,
        };
        Ok(Self {
            pool,
            keys: Arc::new(keys),
            batches: Arc::new(batches),
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The key ring in use.
    pub fn key_ring(&self) -> &KeyRing {
        &self.keys
    }

    /// Re-seals under the active key every row sealed with another key;
    /// returns how many rows were re-sealed.
    pub async fn rotate(&self) -> Result<u64, Error> {
        let rows = sqlx::query(
            "SELECT tenant, provider, name, version, key_id, nonce, ciphertext, lease_owner,
                 leased_until
             FROM integrations_credentials WHERE key_id <> $1 AND NOT deleted",
        )
        .bind(self.keys.active().as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read rows to rotate"))?;
        let rows = rows.iter().map(|row| {
            let tenant = TenantId::new(text(row, "tenant")?)?;
            let connection = ConnectionId::new(text(row, "provider")?, text(row, "name")?)?;
            let found = found_row(row, false)?;
            let opened = self.open(&tenant, &connection, found)?;
            Ok((tenant, connection, opened.version, opened.value))
        });
        super::rotation::reseal(self, rows).await
    }

    /// Closes the connections, waiting for queries in flight.
    pub async fn close(&self) {
        self.batches.tasks.close();
        self.batches.tasks.wait().await;
        self.batches.tasks.reopen();
        self.pool.close().await;
    }

    /// Opens a row read from the table: its lease is the one in its
    /// columns (the sealed copy is not kept up to date).
    fn open(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        row: Row,
    ) -> Result<Versioned<Credentials>, Error> {
        let mut value = from_plaintext(&self.keys.open(tenant, connection, &row.sealed)?)?;
        value.refresh_lease = row.lease;
        Ok(Versioned::new(value, row.version))
    }

    /// Makes `read` in the next statement.
    async fn read(&self, read: Read) -> Result<Option<Row>, Error> {
        self.batches.reads.call(read).await
    }

    fn seal(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<Sealed, Error> {
        self.keys
            .seal(tenant, connection, &to_plaintext(credentials)?)
    }
}

fn text(row: &PgRow, column: &str) -> Result<String, Error> {
    row.try_get(column).map_err(store_error("read a row"))
}

/// A row of the table as read: `taken` says whether the statement took
/// its lease.
fn found_row(row: &PgRow, taken: bool) -> Result<Row, Error> {
    let version: i64 = row.try_get("version").map_err(store_error("read a row"))?;
    let owner: Option<String> = row
        .try_get("lease_owner")
        .map_err(store_error("read a row"))?;
    let until: Option<DateTime<Utc>> = row
        .try_get("leased_until")
        .map_err(store_error("read a row"))?;
    Ok(Row {
        version: version.unsigned_abs(),
        sealed: Sealed {
            key_id: KeyId::new(text(row, "key_id")?)?,
            nonce: row.try_get("nonce").map_err(store_error("read a row"))?,
            ciphertext: row
                .try_get("ciphertext")
                .map_err(store_error("read a row"))?,
        },
        lease: owner
            .zip(until)
            .map(|(owner, until)| RefreshLease::new(owner, until)),
        taken,
    })
}

#[async_trait]
impl CredentialStore for PgStore {
    async fn get(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let read = Read {
            tenant: tenant.clone(),
            connection: connection.clone(),
            lease: None,
        };
        let Some(row) = self.read(read).await? else {
            return Ok(None);
        };
        self.open(tenant, connection, row).map(Some)
    }

    /// Reads and leases in one statement (shared with the other reads of
    /// the moment). The row is locked while the statement decides, so of
    /// several replicas asking at once one takes the lease and the others
    /// see it: the row as the lease's write left it, not as it was.
    async fn get_for_refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        lease: &RefreshLease,
        due: DateTime<Utc>,
    ) -> Result<Option<Versioned<Credentials>>, Error> {
        let read = Read {
            tenant: tenant.clone(),
            connection: connection.clone(),
            lease: Some(LeaseAsk {
                lease: lease.clone(),
                due,
                now: Utc::now(),
            }),
        };
        let Some(mut row) = self.read(read).await? else {
            return Ok(None);
        };
        if row.taken {
            row.lease = Some(lease.clone());
        }
        self.open(tenant, connection, row).map(Some)
    }

    async fn put(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
    ) -> Result<u64, Error> {
        let sealed = self.seal(tenant, connection, credentials)?;
        let clear = Clear::of(credentials);
        let version: i64 = sqlx::query_scalar(
            "INSERT INTO integrations_credentials
                 (tenant, provider, name, version, key_id, nonce, ciphertext, expires_at,
                  leased_until, lease_owner, refreshable, updated_at)
             VALUES ($1, $2, $3, 1, $4, $5, $6, $7, $8, $9, $10, now())
             ON CONFLICT (tenant, provider, name) DO UPDATE SET
                 version = integrations_credentials.version + 1, key_id = excluded.key_id,
                 nonce = excluded.nonce, ciphertext = excluded.ciphertext,
                 expires_at = excluded.expires_at, leased_until = excluded.leased_until,
                 lease_owner = excluded.lease_owner, refreshable = excluded.refreshable,
                 updated_at = now(), deleted = false
             RETURNING version",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .bind(sealed.key_id.as_str())
        .bind(&sealed.nonce)
        .bind(&sealed.ciphertext)
        .bind(clear.expires_at)
        .bind(clear.lease.as_ref().map(RefreshLease::until))
        .bind(clear.lease.as_ref().map(RefreshLease::owner))
        .bind(clear.refreshable)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("write credentials"))?;
        Ok(version.unsigned_abs())
    }

    async fn compare_and_swap(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        expected: u64,
        credentials: &Credentials,
    ) -> Result<Option<u64>, Error> {
        let swap = Swap {
            tenant: tenant.clone(),
            connection: connection.clone(),
            expected,
            sealed: self.seal(tenant, connection, credentials)?,
            clear: Clear::of(credentials),
        };
        self.batches.swaps.call(swap).await
    }

    async fn delete(&self, tenant: &TenantId, connection: &ConnectionId) -> Result<bool, Error> {
        let result = sqlx::query(
            "UPDATE integrations_credentials SET
                 deleted = true, version = version + 1, nonce = '', ciphertext = '',
                 expires_at = NULL, leased_until = NULL, lease_owner = NULL, refreshable = NULL,
                 updated_at = now()
             WHERE tenant = $1 AND provider = $2 AND name = $3 AND NOT deleted",
        )
        .bind(tenant.as_str())
        .bind(connection.provider().as_str())
        .bind(connection.name())
        .execute(&self.pool)
        .await
        .map_err(store_error("delete credentials"))?;
        Ok(result.rows_affected() > 0)
    }

    async fn list(&self, tenant: &TenantId) -> Result<Vec<ConnectionId>, Error> {
        let rows = sqlx::query(
            "SELECT provider, name FROM integrations_credentials
             WHERE tenant = $1 AND NOT deleted ORDER BY provider, name",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("list credentials"))?;
        rows.iter()
            .map(|row| ConnectionId::new(text(row, "provider")?, text(row, "name")?))
            .collect()
    }

    /// Each row written without a refresh lease, by any replica (what
    /// ends a refresh: new tokens, a lease given back; and new
    /// credentials, deletes): a trigger's `NOTIFY` on
    /// `integrations_credentials_changed`, on a connection of its own.
    /// The write that takes a lease is left out: nobody waits for it.
    ///
    /// The listener has a connection of its own, not one of the store's
    /// pool (a host's pool of one connection would have none left); it
    /// closes when the stream is dropped.
    ///
    /// Each change carries the row as written where it fits in the
    /// notification (sealed values up to 5,000 bytes), opened only when a
    /// waiter asks for it.
    async fn changes(
        &self,
    ) -> Result<Option<futures_util::stream::BoxStream<'static, Change>>, Error> {
        use futures_util::StreamExt;
        let keys = Arc::clone(&self.keys);
        let changes = crate::postgres::notifications(&self.pool, CHANGED)
            .await
            .map_err(store_error("listen for credential changes"))?
            .filter_map(move |payload| std::future::ready(changed(&keys, &payload)));
        Ok(Some(changes.boxed()))
    }
}

/// Reads `calls` in one statement: each one's row, `None` where there is
/// none; with the leases asked for taken where due (see [`READ_AND_LEASE`]).
async fn read(pool: PgPool, calls: Vec<Read>) -> Result<Vec<Option<Row>>, String> {
    let (tenants, providers, names) = columns(calls.iter().map(|c| (&c.tenant, &c.connection)));
    let asks = || calls.iter().map(|call| call.lease.as_ref());
    let found = if asks().all(|ask| ask.is_none()) {
        sqlx::query(READ)
            .bind(tenants)
            .bind(providers)
            .bind(names)
            .fetch_all(&pool)
            .await
    } else {
        let owners: Vec<Option<&str>> = asks().map(|a| a.map(|a| a.lease.owner())).collect();
        let until: Vec<Option<DateTime<Utc>>> =
            asks().map(|a| a.map(|a| a.lease.until())).collect();
        let due: Vec<Option<DateTime<Utc>>> = asks().map(|a| a.map(|a| a.due)).collect();
        let now: Vec<Option<DateTime<Utc>>> = asks().map(|a| a.map(|a| a.now)).collect();
        sqlx::query(READ_AND_LEASE)
            .bind(tenants)
            .bind(providers)
            .bind(names)
            .bind(owners)
            .bind(until)
            .bind(due)
            .bind(now)
            .fetch_all(&pool)
            .await
    }
    .map_err(|e| e.to_string())?;
    let mut answers: Vec<Option<Row>> = calls.iter().map(|_| None).collect();
    for row in &found {
        let slot = answer_slot(row, answers.len())?;
        let taken: bool = row.try_get("taken").map_err(|e| e.to_string())?;
        answers[slot] = Some(found_row(row, taken).map_err(|e| e.to_string())?);
    }
    Ok(answers)
}

/// The rows asked for, by key (`$1` tenants, `$2` providers, `$3` names).
const READ: &str = "SELECT asked.i, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
         c.leased_until, false AS taken
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
         AS asked(tenant, provider, name, i)
     JOIN integrations_credentials c ON c.tenant = asked.tenant
         AND c.provider = asked.provider AND c.name = asked.name AND NOT c.deleted";

/// The rows asked for, each asking for a lease (`$4` owners, `$5` until
/// when, NULL for a plain read) taking it where the row is refreshable,
/// expires at or before `$6` and holds no other owner's lease past `$7`.
///
/// The due rows are locked first, in key order (so replicas' statements
/// wait for each other instead of deadlocking), and read as locked: a
/// statement that waited for another's lease sees that lease, where a
/// plain read would see the row as it was when the statement began.
const READ_AND_LEASE: &str = "WITH asked AS MATERIALIZED (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                              $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
             WITH ORDINALITY AS asked(tenant, provider, name, owner, until, due, now, i)
     ), locked AS MATERIALIZED (
         SELECT asked.i, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
             c.leased_until,
             (c.leased_until IS NULL OR c.leased_until <= asked.now
                 OR c.lease_owner = asked.owner) AS free
         FROM integrations_credentials c
         JOIN asked ON c.tenant = asked.tenant AND c.provider = asked.provider
             AND c.name = asked.name
         WHERE asked.owner IS NOT NULL AND NOT c.deleted AND c.refreshable IS NOT FALSE
             AND c.expires_at <= asked.due
         ORDER BY c.tenant, c.provider, c.name
         FOR UPDATE OF c
     ), taken AS (
         UPDATE integrations_credentials c SET
             version = c.version + 1, lease_owner = asked.owner, leased_until = asked.until,
             updated_at = now()
         FROM asked JOIN locked ON locked.i = asked.i
         WHERE c.tenant = asked.tenant AND c.provider = asked.provider AND c.name = asked.name
             AND locked.free
         RETURNING asked.i, c.version, c.key_id, c.nonce, c.ciphertext
     )
     SELECT i, version, key_id, nonce, ciphertext, NULL AS lease_owner,
         NULL::timestamptz AS leased_until, true AS taken
     FROM taken
     UNION ALL
     SELECT i, version, key_id, nonce, ciphertext, lease_owner, leased_until, false
     FROM locked WHERE NOT free
     UNION ALL
     SELECT asked.i, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
         c.leased_until, false
     FROM asked JOIN integrations_credentials c ON c.tenant = asked.tenant
         AND c.provider = asked.provider AND c.name = asked.name AND NOT c.deleted
     WHERE asked.i NOT IN (SELECT i FROM locked)";

/// Makes `swaps` (one per row) in one statement: each one's new version,
/// `None` where the row was not at the expected version. The rows are
/// locked in key order first, so statements of several replicas that
/// touch the same rows wait for each other instead of deadlocking.
async fn swap(pool: PgPool, swaps: Vec<Swap>) -> Result<Vec<Option<u64>>, String> {
    let (tenants, providers, names) = columns(swaps.iter().map(|s| (&s.tenant, &s.connection)));
    let expected: Vec<i64> = swaps
        .iter()
        .map(|s| i64::try_from(s.expected).unwrap_or(i64::MAX))
        .collect();
    let key_ids: Vec<&str> = swaps.iter().map(|s| s.sealed.key_id.as_str()).collect();
    let nonces: Vec<&[u8]> = swaps.iter().map(|s| s.sealed.nonce.as_slice()).collect();
    let ciphertexts: Vec<&[u8]> = swaps
        .iter()
        .map(|s| s.sealed.ciphertext.as_slice())
        .collect();
    let expires: Vec<Option<DateTime<Utc>>> = swaps.iter().map(|s| s.clear.expires_at).collect();
    let leases: Vec<Option<&RefreshLease>> = swaps.iter().map(|s| s.clear.lease.as_ref()).collect();
    let until: Vec<Option<DateTime<Utc>>> =
        leases.iter().map(|l| l.map(RefreshLease::until)).collect();
    let owners: Vec<Option<&str>> = leases.iter().map(|l| l.map(RefreshLease::owner)).collect();
    let refreshable: Vec<bool> = swaps.iter().map(|s| s.clear.refreshable).collect();
    let done = sqlx::query(
        "WITH asked AS MATERIALIZED (
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                                  $5::text[], $6::bytea[], $7::bytea[], $8::timestamptz[],
                                  $9::timestamptz[], $10::text[], $11::boolean[])
                 WITH ORDINALITY AS asked(tenant, provider, name, expected, key_id, nonce,
                                          ciphertext, expires_at, leased_until, lease_owner,
                                          refreshable, i)
         ), locked AS MATERIALIZED (
             SELECT c.tenant, c.provider, c.name FROM integrations_credentials c
             JOIN asked ON c.tenant = asked.tenant AND c.provider = asked.provider
                 AND c.name = asked.name
             WHERE c.version = asked.expected AND NOT c.deleted
             ORDER BY c.tenant, c.provider, c.name
             FOR UPDATE OF c
         )
         UPDATE integrations_credentials c SET
             version = c.version + 1, key_id = asked.key_id, nonce = asked.nonce,
             ciphertext = asked.ciphertext, expires_at = asked.expires_at,
             leased_until = asked.leased_until, lease_owner = asked.lease_owner,
             refreshable = asked.refreshable, updated_at = now()
         FROM asked JOIN locked ON locked.tenant = asked.tenant
             AND locked.provider = asked.provider AND locked.name = asked.name
         WHERE c.tenant = asked.tenant AND c.provider = asked.provider AND c.name = asked.name
             AND c.version = asked.expected AND NOT c.deleted
         RETURNING asked.i, c.version",
    )
    .bind(tenants)
    .bind(providers)
    .bind(names)
    .bind(expected)
    .bind(key_ids)
    .bind(nonces)
    .bind(ciphertexts)
    .bind(expires)
    .bind(until)
    .bind(owners)
    .bind(refreshable)
    .fetch_all(&pool)
    .await
    .map_err(|e| e.to_string())?;
    let mut answers = vec![None; swaps.len()];
    for row in &done {
        let slot = answer_slot(row, answers.len())?;
        let version: i64 = row.try_get("version").map_err(|e| e.to_string())?;
        answers[slot] = Some(version.unsigned_abs());
    }
    Ok(answers)
}

/// The rows' keys as three columns, for `unnest`.
fn columns<'a>(
    rows: impl Iterator<Item = (&'a TenantId, &'a ConnectionId)>,
) -> (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>) {
    let mut columns = (Vec::new(), Vec::new(), Vec::new());
    for (tenant, connection) in rows {
        columns.0.push(tenant.as_str());
        columns.1.push(connection.provider().as_str());
        columns.2.push(connection.name());
    }
    columns
}

/// Which call a result row answers (`i`, counted from 1 by `WITH
/// ORDINALITY`).
fn answer_slot(row: &PgRow, calls: usize) -> Result<usize, String> {
    let i: i64 = row.try_get("i").map_err(|e| e.to_string())?;
    usize::try_from(i - 1)
        .ok()
        .filter(|slot| *slot < calls)
        .ok_or_else(|| format!("the database answered call {i} of {calls}"))
}

/// The channel the credentials trigger notifies.
const CHANGED: &str = "integrations_credentials_changed";

/// A notification's payload (see the trigger): the row's key, with the
/// row as written where it fitted.
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Payload {
    /// `["tenant","provider","name",version,"key_id","nonce","ciphertext"]`,
    /// nonce and ciphertext in base64.
    Row(String, String, String, i64, String, String, String),
    /// `["tenant","provider","name"]`.
    Key(String, String, String),
}

/// The change a notification tells of; `None` for a payload this store
/// did not write.
fn changed(keys: &Arc<KeyRing>, payload: &str) -> Option<Change> {
    let (tenant, provider, name, row) = match serde_json::from_str(payload).ok()? {
        Payload::Row(tenant, provider, name, version, key_id, nonce, ciphertext) => (
            tenant,
            provider,
            name,
            Some((version, key_id, nonce, ciphertext)),
        ),
        Payload::Key(tenant, provider, name) => (tenant, provider, name, None),
    };
    let tenant = TenantId::new(tenant).ok()?;
    let connection = ConnectionId::new(provider, name).ok()?;
    let change = Change::new(tenant.clone(), connection.clone());
    let Some((version, key_id, nonce, ciphertext)) = row else {
        return Some(change);
    };
    let keys = Arc::clone(keys);
    // Decoded and opened only when a waiter asks: every replica hears of
    // every write, and waits for few.
    Some(change.with_row(move || {
        use base64::Engine;
        let base64 = |text: &str| {
            base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|e| Error::store("read a change notification", e))
        };
        let sealed = Sealed {
            key_id: KeyId::new(key_id.as_str())?,
            nonce: base64(&nonce)?,
            ciphertext: base64(&ciphertext)?,
        };
        let mut value = from_plaintext(&keys.open(&tenant, &connection, &sealed)?)?;
        // Only a write without a lease notifies.
        value.refresh_lease = None;
        Ok(Versioned::new(value, version.unsigned_abs()))
    }))
}
