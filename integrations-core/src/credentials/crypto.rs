//! Envelope encryption of credential rows with XChaCha20-Poly1305.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::{ExposeSecret, SecretBox, SecretString};
use zeroize::Zeroizing;

use crate::error::{CredentialError, Error};
use crate::id::{ConnectionId, KeyId, TenantId};

/// A 256-bit key. `Debug` never shows it; it is zeroed when dropped.
pub struct EncryptionKey(SecretBox<[u8; 32]>);

impl fmt::Debug for EncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EncryptionKey([redacted])")
    }
}

fn invalid_key(message: impl Into<String>) -> Error {
    CredentialError::InvalidKey {
        message: message.into(),
    }
    .into()
}

impl EncryptionKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    /// A key from standard base64 of 32 bytes (as `openssl rand -base64 32`
    /// prints); surrounding whitespace is ignored.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = Zeroizing::new(
            BASE64
                .decode(text.trim())
                .map_err(|_| invalid_key("the key is not valid base64"))?,
        );
        let bytes: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            invalid_key(format!(
                "the key decodes to {} bytes; a key is 32 bytes (generate one with `openssl rand -base64 32`)",
                bytes.len()
            ))
        })?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key from an environment variable holding base64.
    pub fn from_env(var: &str) -> Result<Self, Error> {
        let value = std::env::var(var).map_err(|_| {
            invalid_key(format!(
                "environment variable `{var}` is not set; it must hold a base64 key of 32 bytes"
            ))
        })?;
        let value = Zeroizing::new(value);
        Self::from_base64(&value).map_err(|e| invalid_key(format!("`{var}`: {e}")))
    }

    /// A key from a file holding base64 or exactly 32 raw bytes.
    ///
    /// Reads synchronously: call it at start-up or inside `spawn_blocking`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref();
        let bytes = Zeroizing::new(std::fs::read(path).map_err(|e| Error::io(path, e))?);
        if let Ok(raw) = <[u8; 32]>::try_from(bytes.as_slice()) {
            return Ok(Self::from_bytes(raw));
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            invalid_key(format!(
                "{}: neither 32 raw bytes nor base64",
                path.display()
            ))
        })?;
        Self::from_base64(text).map_err(|e| invalid_key(format!("{}: {e}", path.display())))
    }

    /// A new random key.
    pub fn generate() -> Result<Self, Error> {
        let key = Key::try_generate().map_err(|e| invalid_key(format!("no randomness: {e}")))?;
        Ok(Self::from_bytes(key.into()))
    }

    fn into_cipher(self) -> XChaCha20Poly1305 {
        let secret = self.0;
        XChaCha20Poly1305::new(&Key::from(*secret.expose_secret()))
    }

    /// The key as base64, to store it somewhere safe.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(BASE64.encode(self.0.expose_secret()))
    }
}

/// One active key that seals new rows, plus older keys that can still open
/// rows sealed before a rotation.
///
/// ```
/// use integrations_core::credentials::{EncryptionKey, KeyRing};
/// use integrations_core::id::KeyId;
///
/// let old = EncryptionKey::generate()?;
/// let new = EncryptionKey::generate()?;
/// let ring = KeyRing::new(KeyId::new("2026-11")?, new).with_previous(KeyId::new("2026-10")?, old)?;
/// assert_eq!(ring.active().as_str(), "2026-11");
/// assert_eq!(format!("{ring:?}"), r#"KeyRing { active: "2026-11", keys: ["2026-10", "2026-11"] }"#);
/// # Ok::<_, integrations_core::Error>(())
/// ```
pub struct KeyRing {
    active: KeyId,
    ciphers: HashMap<KeyId, XChaCha20Poly1305>,
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.ciphers.keys().collect();
        ids.sort();
        f.debug_struct("KeyRing")
            .field("active", &self.active)
            .field("keys", &ids)
            .finish()
    }
}

/// A sealed row: which key, which nonce, and the ciphertext with its tag.
#[derive(Debug, Clone)]
pub(crate) struct Sealed {
    pub(crate) key_id: KeyId,
    pub(crate) nonce: Vec<u8>,
    pub(crate) ciphertext: Vec<u8>,
}

impl KeyRing {
    /// A ring whose active key is `key`.
    pub fn new(id: KeyId, key: EncryptionKey) -> Self {
        let cipher = key.into_cipher();
        Self {
            active: id.clone(),
            ciphers: HashMap::from([(id, cipher)]),
        }
    }

    /// Adds an older key, used only to open rows sealed with it.
    pub fn with_previous(mut self, id: KeyId, key: EncryptionKey) -> Result<Self, Error> {
        if self.ciphers.contains_key(&id) {
            return Err(invalid_key(format!("key id `{id}` is already in the ring")));
        }
        self.ciphers.insert(id, key.into_cipher());
        Ok(self)
    }

    /// The id of the key that seals new rows.
    pub fn active(&self) -> &KeyId {
        &self.active
    }

    /// Seals with the active key and a fresh random nonce.
    pub(crate) fn seal(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        plaintext: &[u8],
    ) -> Result<Sealed, Error> {
        let nonce =
            XNonce::try_generate().map_err(|e| invalid_key(format!("no randomness: {e}")))?;
        let aad = associated_data(tenant, connection, &self.active);
        let ciphertext = self.ciphers[&self.active]
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            .map_err(|_| invalid_key("encryption failed"))?;
        Ok(Sealed {
            key_id: self.active.clone(),
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// Opens a row; fails if the key is unknown, or if the row was altered
    /// or belongs to another tenant, connection or key id.
    pub(crate) fn open(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        sealed: &Sealed,
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        let cipher = self.ciphers.get(&sealed.key_id).ok_or_else(|| {
            Error::Credentials(CredentialError::UnknownKey {
                key_id: sealed.key_id.to_string(),
                tenant: tenant.clone(),
                connection: connection.clone(),
            })
        })?;
        let decrypt_error = || {
            Error::Credentials(CredentialError::Decrypt {
                tenant: tenant.clone(),
                connection: connection.clone(),
            })
        };
        let nonce = XNonce::try_from(sealed.nonce.as_slice()).map_err(|_| decrypt_error())?;
        let aad = associated_data(tenant, connection, &sealed.key_id);
        cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: &sealed.ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| decrypt_error())
    }
}

/// Binds a ciphertext to its row: length-prefixed tenant, provider,
/// connection name and key id, after a version tag.
fn associated_data(tenant: &TenantId, connection: &ConnectionId, key_id: &KeyId) -> Vec<u8> {
    let mut aad = b"integrations-credentials-v1".to_vec();
    for part in [
        tenant.as_str(),
        connection.provider().as_str(),
        connection.name(),
        key_id.as_str(),
    ] {
        aad.extend_from_slice(&(part.len() as u32).to_be_bytes());
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (TenantId, ConnectionId) {
        (
            TenantId::new("t1").unwrap(),
            ConnectionId::new("slack", "main").unwrap(),
        )
    }

    #[test]
    fn sealed_rows_open_only_in_their_own_place() {
        let ring = KeyRing::new(
            KeyId::new("k1").unwrap(),
            EncryptionKey::generate().unwrap(),
        );
        let (tenant, connection) = ids();
        let sealed = ring.seal(&tenant, &connection, b"secret").unwrap();
        assert_eq!(
            &*ring.open(&tenant, &connection, &sealed).unwrap(),
            b"secret"
        );

        let other_tenant = TenantId::new("t2").unwrap();
        assert!(matches!(
            ring.open(&other_tenant, &connection, &sealed),
            Err(Error::Credentials(CredentialError::Decrypt { .. }))
        ));
        let other_connection = ConnectionId::new("slack", "other").unwrap();
        assert!(matches!(
            ring.open(&tenant, &other_connection, &sealed),
            Err(Error::Credentials(CredentialError::Decrypt { .. }))
        ));
        let mut tampered = sealed.clone();
        tampered.ciphertext[0] ^= 1;
        assert!(matches!(
            ring.open(&tenant, &connection, &tampered),
            Err(Error::Credentials(CredentialError::Decrypt { .. }))
        ));
        let mut relabelled = sealed;
        relabelled.key_id = KeyId::new("k0").unwrap();
        assert!(matches!(
            ring.open(&tenant, &connection, &relabelled),
            Err(Error::Credentials(CredentialError::UnknownKey { .. }))
        ));
    }

    #[test]
    fn a_wrong_key_is_an_error_not_garbage() {
        let (tenant, connection) = ids();
        let right = KeyRing::new(
            KeyId::new("k1").unwrap(),
            EncryptionKey::generate().unwrap(),
        );
        let wrong = KeyRing::new(
            KeyId::new("k1").unwrap(),
            EncryptionKey::generate().unwrap(),
        );
        let sealed = right.seal(&tenant, &connection, b"secret").unwrap();
        assert!(matches!(
            wrong.open(&tenant, &connection, &sealed),
            Err(Error::Credentials(CredentialError::Decrypt { .. }))
        ));
    }

    #[test]
    fn nonces_are_fresh_per_write() {
        let ring = KeyRing::new(
            KeyId::new("k1").unwrap(),
            EncryptionKey::generate().unwrap(),
        );
        let (tenant, connection) = ids();
        let a = ring.seal(&tenant, &connection, b"same").unwrap();
        let b = ring.seal(&tenant, &connection, b"same").unwrap();
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
    }

    #[test]
    fn keys_load_from_base64_and_files_with_clear_errors() {
        let key = EncryptionKey::generate().unwrap();
        let text = key.to_base64();
        let again = EncryptionKey::from_base64(&format!(" {}\n", text.expose_secret())).unwrap();
        assert_eq!(again.0.expose_secret(), key.0.expose_secret());
        assert!(matches!(
            EncryptionKey::from_base64("not base64!"),
            Err(Error::Credentials(CredentialError::InvalidKey { .. }))
        ));
        let short = EncryptionKey::from_base64("c2hvcnQ=").unwrap_err();
        assert!(short.to_string().contains("decodes to 5 bytes"), "{short}");
        assert!(matches!(
            EncryptionKey::from_env("INTEGRATIONS_TEST_NO_SUCH_KEY_VAR"),
            Err(Error::Credentials(CredentialError::InvalidKey { .. }))
        ));
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw");
        std::fs::write(&raw, [7u8; 32]).unwrap();
        assert_eq!(
            EncryptionKey::from_file(&raw).unwrap().0.expose_secret(),
            &[7u8; 32]
        );
        let b64 = dir.path().join("b64");
        std::fs::write(&b64, format!("{}\n", text.expose_secret())).unwrap();
        assert_eq!(
            EncryptionKey::from_file(&b64).unwrap().0.expose_secret(),
            key.0.expose_secret()
        );
        assert!(matches!(
            EncryptionKey::from_file(dir.path().join("missing")),
            Err(Error::Io { .. })
        ));
        assert_eq!(format!("{key:?}"), "EncryptionKey([redacted])");
    }
}
