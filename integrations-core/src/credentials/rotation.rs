//! Key rotation shared by the database stores: re-sealing rows under the
//! active key.

use super::{CredentialStore, Credentials};
use crate::error::Error;
use crate::id::{ConnectionId, TenantId};

/// A stored row as rotation sees it: whose, its version, and what it holds
/// (opened with whichever key sealed it).
pub(crate) type OpenedRow = (TenantId, ConnectionId, u64, Credentials);

/// Re-seals each row under the active key by compare-and-swap on `store`;
/// returns how many were re-sealed. A conflict means a writer replaced the
/// row meanwhile, sealing it with the active key already.
pub(crate) async fn reseal(
    store: &dyn CredentialStore,
    rows: impl IntoIterator<Item = Result<OpenedRow, Error>>,
) -> Result<u64, Error> {
    let mut resealed = 0;
    for row in rows {
        let (tenant, connection, version, credentials) = row?;
        if store
            .compare_and_swap(&tenant, &connection, version, &credentials)
            .await?
            .is_some()
        {
            resealed += 1;
        }
    }
    Ok(resealed)
}
