//! The credentials trigger's notifications, read back as [`Change`]s.

use std::sync::Arc;

use super::statements::Row;
use crate::credentials::crypto::Sealed;
use crate::credentials::{Change, KeyRing};
use crate::error::Error;
use crate::id::{ConnectionId, KeyId, TenantId};

/// The channel the credentials trigger notifies.
pub(super) const CHANGED: &str = "integrations_credentials_changed";

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
pub(super) fn changed(keys: &Arc<KeyRing>, payload: &str) -> Option<Change> {
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
        let row = Row {
            version: version.unsigned_abs(),
            sealed: Sealed {
                key_id: KeyId::new(key_id.as_str())?,
                nonce: base64(&nonce)?,
                ciphertext: base64(&ciphertext)?,
            },
            // Only a write without a lease notifies.
            lease: None,
        };
        row.open(&keys, &tenant, &connection)
    }))
}
