//! Key rotation shared by the database stores: re-sealing rows under the
//! active key.

use super::crypto::Sealed;
use super::form::from_plaintext;
use super::{CredentialStore, KeyRing};
use crate::error::Error;
use crate::id::{ConnectionId, TenantId};

/// A stored row as rotation sees it: whose, its version, its sealed bytes.
pub(crate) type SealedRow = (TenantId, ConnectionId, u64, Sealed);

/// Re-seals each row under `keys`' active key by compare-and-swap on
/// `store`; returns how many were re-sealed. A conflict means a writer
/// replaced the row meanwhile, sealing it with the active key already.
pub(crate) async fn reseal(
    store: &dyn CredentialStore,
    keys: &KeyRing,
    rows: impl IntoIterator<Item = Result<SealedRow, Error>>,
) -> Result<u64, Error> {
    let mut resealed = 0;
    for row in rows {
        let (tenant, connection, version, sealed) = row?;
        let credentials = from_plaintext(&keys.open(&tenant, &connection, &sealed)?)?;
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
