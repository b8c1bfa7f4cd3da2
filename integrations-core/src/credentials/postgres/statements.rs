//! The statements `PgStore` shares between concurrent calls: reads (each
//! may take a refresh lease) and compare-and-swaps, one statement for a
//! batch of rows.

use chrono::{DateTime, Utc};
use sqlx::Row as _;
use sqlx::SqlSafeStr;
use sqlx::postgres::{PgArguments, PgPool, PgRow, Postgres};
use sqlx::query::Query;

use super::batch::Call;
use super::store_error;
use crate::credentials::crypto::Sealed;
use crate::credentials::form::from_plaintext;
use crate::credentials::{Credentials, KeyRing, RefreshLease, Versioned};
use crate::error::Error;
use crate::id::{ConnectionId, KeyId, TenantId};

/// A read waiting for its statement: the row, and for
/// [`get_for_refresh`](crate::credentials::CredentialStore::get_for_refresh)
/// the lease to take when the row is due.
pub(super) struct Read {
    pub(super) tenant: TenantId,
    pub(super) connection: ConnectionId,
    pub(super) lease: Option<LeaseAsk>,
}

/// Take `lease` on a refreshable row that expires at or before `due` and
/// holds no other owner's lease past `now`.
pub(super) struct LeaseAsk {
    pub(super) lease: RefreshLease,
    pub(super) due: DateTime<Utc>,
    pub(super) now: DateTime<Utc>,
}

/// A row as a read found it: its version, sealed value and the lease in
/// its columns (the one the read took, if it took one).
pub(super) struct Row {
    pub(super) version: u64,
    pub(super) sealed: Sealed,
    pub(super) lease: Option<RefreshLease>,
}

impl Row {
    /// The credentials the row holds, with the lease in its columns (the
    /// sealed copy is not kept up to date).
    pub(super) fn open(
        self,
        keys: &KeyRing,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<Versioned<Credentials>, Error> {
        let mut value = from_plaintext(&keys.open(tenant, connection, &self.sealed)?)?;
        value.refresh_lease = self.lease;
        Ok(Versioned::new(value, self.version))
    }
}

impl Call for Read {
    fn row(&self) -> (&TenantId, &ConnectionId) {
        (&self.tenant, &self.connection)
    }
}

/// A compare-and-swap waiting for its statement: the row, the version it
/// expects and what to write.
pub(super) struct Swap {
    pub(super) tenant: TenantId,
    pub(super) connection: ConnectionId,
    pub(super) expected: u64,
    pub(super) sealed: Sealed,
    pub(super) clear: Clear,
}

/// What a row keeps in clear beside its sealed value: when it expires,
/// its refresh lease, and whether a refresh can renew it.
pub(super) struct Clear {
    pub(super) expires_at: Option<DateTime<Utc>>,
    pub(super) lease: Option<RefreshLease>,
    pub(super) refreshable: bool,
}

impl Clear {
    pub(super) fn of(credentials: &Credentials) -> Self {
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

pub(super) fn text(row: &PgRow, column: &str) -> Result<String, Error> {
    row.try_get(column).map_err(store_error("read a row"))
}

/// A row of the table as read.
pub(super) fn found_row(row: &PgRow) -> Result<Row, Error> {
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
    })
}

/// Reads `calls` in one statement: each one's row, `None` where there is
/// none; with the leases asked for taken where due (see [`READ_AND_LEASE`]).
pub(super) async fn read(pool: PgPool, calls: Vec<Read>) -> Result<Vec<Option<Row>>, String> {
    let found = read_query(read_statement(&calls), &calls)
        .fetch_all(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut answers: Vec<Option<Row>> = calls.iter().map(|_| None).collect();
    for row in &found {
        let slot = answer_slot(row, answers.len())?;
        answers[slot] = Some(found_row(row).map_err(|e| e.to_string())?);
    }
    Ok(answers)
}

/// Whether any of `calls` asks for a lease.
fn leasing(calls: &[Read]) -> bool {
    calls.iter().any(|call| call.lease.is_some())
}

/// The statement that reads `calls`: [`READ_AND_LEASE`] where one asks for
/// a lease, else [`READ`].
fn read_statement(calls: &[Read]) -> &'static str {
    if leasing(calls) { READ_AND_LEASE } else { READ }
}

/// `sql` (the [`read_statement`] of `calls`) with their arguments.
fn read_query(sql: impl SqlSafeStr, calls: &[Read]) -> Query<'static, Postgres, PgArguments> {
    let (tenants, providers, names) = columns(calls.iter().map(|c| (&c.tenant, &c.connection)));
    let query = sqlx::query(sql).bind(tenants).bind(providers).bind(names);
    if !leasing(calls) {
        return query;
    }
    let asks = || calls.iter().map(|call| call.lease.as_ref());
    let owners: Vec<Option<&str>> = asks().map(|a| a.map(|a| a.lease.owner())).collect();
    let until: Vec<Option<DateTime<Utc>>> = asks().map(|a| a.map(|a| a.lease.until())).collect();
    let due: Vec<Option<DateTime<Utc>>> = asks().map(|a| a.map(|a| a.due)).collect();
    let now: Vec<Option<DateTime<Utc>>> = asks().map(|a| a.map(|a| a.now)).collect();
    query.bind(owners).bind(until).bind(due).bind(now)
}

/// The rows asked for, by key (`$1` tenants, `$2` providers, `$3` names).
///
/// Every statement here finds each row it asks for through the primary
/// key, in a `LATERAL` subquery with `LIMIT 1`, which the planner cannot
/// turn into a join: as a join of a few hundred keys with the table, the
/// planner may read and hash the whole table instead (every tenant's
/// credentials), as it did on tables of a few thousand rows (9 ms for 400
/// of 8,800 rows, where the lookups take about 1 ms). An `UPDATE` cannot take a `LATERAL` on its own table: the writes
/// match each row to its key by two row comparisons, `(tenant, provider,
/// name) >= key AND <= key`, which the index answers and a hash or merge
/// join cannot use, so the plan probes the index once a row, custom or
/// generic. They match by key (not by `ctid`), so that a row another
/// transaction wrote meanwhile is written as that transaction left it:
/// the version locked may be newer than the statement's snapshot, and a
/// `ctid` does not follow a row to its next version.
const READ: &str = "SELECT asked.i, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
         c.leased_until
     FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY
         AS asked(tenant, provider, name, i)
     CROSS JOIN LATERAL (
         SELECT * FROM integrations_credentials c
         WHERE c.tenant = asked.tenant AND c.provider = asked.provider
             AND c.name = asked.name AND NOT c.deleted
         LIMIT 1
     ) c";

/// The rows asked for, each asking for a lease (`$4` owners, `$5` until
/// when, NULL for a plain read) taking it where the row is refreshable,
/// expires at or before `$6` and holds no other owner's lease past `$7`.
///
/// The rows are read first (`seen`). Those due and open to this lease
/// (none or an expired one, or this owner's) are then locked, in key order
/// (so replicas' statements wait for each other instead of deadlocking),
/// and read as locked: a statement that waited for another's lease sees
/// that lease, where a plain read would see the row as it was when the
/// statement began. A row the first read found leased by another owner is
/// not locked: the caller waits for that lease's write either way, and
/// the lock would queue it behind other transactions on the row and write
/// to the log for nothing. Each row asked for is answered once: taken, or
/// as locked, or as first read (`locked` keeps every row `seen` found,
/// so no statement part joins two lists of rows by their number).
const READ_AND_LEASE: &str = "WITH asked AS MATERIALIZED (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                              $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
             WITH ORDINALITY AS asked(tenant, provider, name, owner, until, due, now, i)
     ), seen AS MATERIALIZED (
         SELECT asked.*, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
             c.leased_until,
             (asked.owner IS NOT NULL AND c.refreshable IS NOT FALSE
                 AND c.expires_at <= asked.due
                 AND (c.leased_until IS NULL OR c.leased_until <= asked.now
                     OR c.lease_owner = asked.owner)) AS open
         FROM asked CROSS JOIN LATERAL (
             SELECT * FROM integrations_credentials c
             WHERE c.tenant = asked.tenant AND c.provider = asked.provider
                 AND c.name = asked.name AND NOT c.deleted
             LIMIT 1
         ) c
     ), locked AS MATERIALIZED (
         SELECT seen.i, seen.tenant, seen.provider, seen.name, seen.owner, seen.until,
             coalesce(c.version, seen.version) AS version,
             coalesce(c.key_id, seen.key_id) AS key_id,
             coalesce(c.nonce, seen.nonce) AS nonce,
             coalesce(c.ciphertext, seen.ciphertext) AS ciphertext,
             CASE WHEN c.version IS NULL THEN seen.lease_owner ELSE c.lease_owner END
                 AS lease_owner,
             CASE WHEN c.version IS NULL THEN seen.leased_until ELSE c.leased_until END
                 AS leased_until,
             (c.version IS NOT NULL AND (c.leased_until IS NULL
                 OR c.leased_until <= seen.now OR c.lease_owner = seen.owner)) AS free
         FROM (SELECT * FROM seen ORDER BY tenant, provider, name) seen
         LEFT JOIN LATERAL (
             SELECT c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner, c.leased_until
             FROM integrations_credentials c
             WHERE seen.open AND c.tenant = seen.tenant AND c.provider = seen.provider
                 AND c.name = seen.name AND NOT c.deleted AND c.refreshable IS NOT FALSE
                 AND c.expires_at <= seen.due
             LIMIT 1
             FOR UPDATE
         ) c ON true
     ), taken AS (
         UPDATE integrations_credentials c SET
             version = c.version + 1, lease_owner = locked.owner,
             leased_until = locked.until, updated_at = now()
         FROM locked
         WHERE locked.free
             AND (c.tenant, c.provider, c.name) >= (locked.tenant, locked.provider, locked.name)
             AND (c.tenant, c.provider, c.name) <= (locked.tenant, locked.provider, locked.name)
         RETURNING locked.i, c.version, c.key_id, c.nonce, c.ciphertext, c.lease_owner,
             c.leased_until
     )
     SELECT * FROM taken
     UNION ALL
     SELECT i, version, key_id, nonce, ciphertext, lease_owner, leased_until
     FROM locked WHERE NOT free";

/// Makes `swaps` (one per row) in one statement: each one's new version,
/// `None` where the row was not at the expected version (see [`SWAP`]).
pub(super) async fn swap(pool: PgPool, swaps: Vec<Swap>) -> Result<Vec<Option<u64>>, String> {
    let done = swap_query(SWAP, &swaps)
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

/// `sql` ([`SWAP`]) with the arguments of `swaps`.
fn swap_query(sql: impl SqlSafeStr, swaps: &[Swap]) -> Query<'static, Postgres, PgArguments> {
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
    sqlx::query(sql)
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
}

/// Compare-and-swap of a batch of rows (`$1`-`$3` keys, `$4` expected
/// versions, `$5`-`$11` what to write). The rows at the expected version
/// are locked in key order first, so statements of several replicas that
/// touch the same rows wait for each other instead of deadlocking; the
/// lock keeps them at that version until the write (see [`READ`] for how
/// the rows are found).
const SWAP: &str = "WITH asked AS MATERIALIZED (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[],
                              $5::text[], $6::bytea[], $7::bytea[], $8::timestamptz[],
                              $9::timestamptz[], $10::text[], $11::boolean[])
             WITH ORDINALITY AS asked(tenant, provider, name, expected, key_id, nonce,
                                      ciphertext, expires_at, leased_until, lease_owner,
                                      refreshable, i)
     ), locked AS MATERIALIZED (
         SELECT asked.*
         FROM (SELECT * FROM asked ORDER BY tenant, provider, name) asked
         CROSS JOIN LATERAL (
             SELECT FROM integrations_credentials c
             WHERE c.tenant = asked.tenant AND c.provider = asked.provider
                 AND c.name = asked.name AND c.version = asked.expected AND NOT c.deleted
             LIMIT 1
             FOR UPDATE
         ) c
     )
     UPDATE integrations_credentials c SET
         version = c.version + 1, key_id = locked.key_id, nonce = locked.nonce,
         ciphertext = locked.ciphertext, expires_at = locked.expires_at,
         leased_until = locked.leased_until, lease_owner = locked.lease_owner,
         refreshable = locked.refreshable, updated_at = now()
     FROM locked
     WHERE (c.tenant, c.provider, c.name) >= (locked.tenant, locked.provider, locked.name)
         AND (c.tenant, c.provider, c.name) <= (locked.tenant, locked.provider, locked.name)
     RETURNING locked.i, c.version";

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

#[cfg(test)]
mod tests {
    use integrations_fakes::postgres::TestPostgres;
    use sqlx::AssertSqlSafe;

    use super::*;
    use crate::credentials::{EncryptionKey, PgStore};

    /// Rows in the table, and the rows each statement asks for.
    const TABLE: i64 = 5_000;
    const ASKED: usize = 400;

    /// The node types of the plan's scans of the credentials table.
    fn scans(plan: &serde_json::Value, found: &mut Vec<String>) {
        match plan {
            serde_json::Value::Object(node) => {
                if node.get("Relation Name").and_then(|name| name.as_str())
                    == Some("integrations_credentials")
                {
                    let kind = node.get("Node Type").and_then(|kind| kind.as_str());
                    found.push(kind.unwrap_or_default().to_owned());
                }
                node.values().for_each(|value| scans(value, found));
            }
            serde_json::Value::Array(items) => items.iter().for_each(|item| scans(item, found)),
            _ => {}
        }
    }

    fn explain(sql: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(format!("EXPLAIN (FORMAT JSON) {sql}"))
    }

    /// A host's table holds every tenant's credentials; a statement that
    /// asks for a few hundred rows must look them up by key whatever the
    /// planner estimates, not read (and hash) the whole table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn each_statement_looks_its_rows_up_by_key_whatever_the_size_of_the_table() {
        let Some(server) = TestPostgres::start_or_skip("statement plans") else {
            return;
        };
        let keys = KeyRing::new(
            KeyId::new("k1").unwrap(),
            EncryptionKey::from_bytes([1; 32]),
        );
        let store = PgStore::connect(&server.database("plans"), keys)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO integrations_credentials (tenant, provider, name, version, key_id,
                 nonce, ciphertext, expires_at, updated_at, refreshable)
             SELECT 'tenant-' || n, 'linear', 'default', 1, 'k1', '\\x00', '\\x00', now(), now(),
                 true
             FROM generate_series(1, $1) n",
        )
        .bind(TABLE)
        .execute(store.pool())
        .await
        .unwrap();
        sqlx::query("ANALYZE integrations_credentials")
            .execute(store.pool())
            .await
            .unwrap();
        let connection = ConnectionId::new("linear", "default").unwrap();
        let tenants: Vec<TenantId> = (0..ASKED)
            .map(|n| TenantId::new(format!("tenant-{}", 1 + n * 11)).unwrap())
            .collect();
        let now = Utc::now();
        let read = |lease: bool| -> Vec<Read> {
            (tenants.iter())
                .map(|tenant| Read {
                    tenant: tenant.clone(),
                    connection: connection.clone(),
                    lease: lease.then(|| LeaseAsk {
                        lease: RefreshLease::new("replica", now),
                        due: now,
                        now,
                    }),
                })
                .collect()
        };
        let (reads, leases) = (read(false), read(true));
        let swaps: Vec<Swap> = (tenants.iter())
            .map(|tenant| Swap {
                tenant: tenant.clone(),
                connection: connection.clone(),
                expected: 1,
                sealed: Sealed {
                    key_id: KeyId::new("k1").unwrap(),
                    nonce: vec![0],
                    ciphertext: vec![0],
                },
                clear: Clear {
                    expires_at: None,
                    lease: None,
                    refreshable: true,
                },
            })
            .collect();
        // Each statement's plan with these arguments, and the plan
        // PostgreSQL keeps for a prepared statement after five runs, made
        // without them (on a connection that asks for it at once).
        let mut generic = store.pool().acquire().await.unwrap();
        sqlx::query("SET plan_cache_mode = force_generic_plan")
            .execute(&mut *generic)
            .await
            .unwrap();
        let (read_sql, lease_sql) = (read_statement(&reads), read_statement(&leases));
        let statements = [
            ("a read", read_sql, 3, read_query(explain(read_sql), &reads)),
            (
                "a read for refresh",
                lease_sql,
                7,
                read_query(explain(lease_sql), &leases),
            ),
            (
                "a compare-and-swap",
                SWAP,
                11,
                swap_query(explain(SWAP), &swaps),
            ),
        ];
        for (n, (name, sql, arguments, query)) in statements.into_iter().enumerate() {
            let row = query.fetch_one(store.pool()).await.unwrap();
            assert_probes_by_key(name, &row);
            sqlx::query(AssertSqlSafe(format!("PREPARE generic{n} AS {sql}")))
                .execute(&mut *generic)
                .await
                .unwrap();
            // A generic plan is made without the arguments, whatever they are.
            let arguments = vec!["NULL"; arguments].join(", ");
            let row = sqlx::query(explain(&format!("EXECUTE generic{n}({arguments})")))
                .fetch_one(&mut *generic)
                .await
                .unwrap();
            assert_probes_by_key(&format!("{name} (generic plan)"), &row);
        }
    }

    /// Asserts that the plan in `row` (EXPLAIN's JSON) reads the table
    /// without scanning it whole, and joins nothing row by row with a
    /// filter.
    fn assert_probes_by_key(name: &str, row: &PgRow) {
        let plan: String = row.try_get_unchecked(0).unwrap();
        let plan: serde_json::Value = serde_json::from_str(&plan).unwrap();
        let mut found = Vec::new();
        scans(&plan, &mut found);
        assert!(!found.is_empty(), "{name} reads the table: {plan:#}");
        assert!(
            !found.iter().any(|scan| scan == "Seq Scan"),
            "{name} scans the whole table ({found:?}): {plan:#}"
        );
        assert!(
            !plan.to_string().contains("\"Join Filter\""),
            "{name} filters a join row by row: {plan:#}"
        );
    }
}
