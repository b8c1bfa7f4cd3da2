//! The serialised form of [`Credentials`] that gets encrypted.
//!
//! The public types deliberately do not implement `Serialize`, so secrets
//! cannot be written out by accident (to a log, an API response); this
//! private mirror is the one place where they are.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};
use zeroize::Zeroizing;

use super::{CredentialKind, CredentialStatus, Credentials, OAuth2Token, RefreshLease};
use crate::error::{CredentialError, Error};

#[derive(Serialize, Deserialize)]
struct Form {
    kind: FormKind,
    #[serde(default)]
    metadata: BTreeMap<String, String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    last_rotated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    status: CredentialStatus,
    #[serde(default)]
    refresh_lease: Option<LeaseForm>,
}

#[derive(Serialize, Deserialize)]
struct LeaseForm {
    owner: String,
    until: DateTime<Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FormKind {
    ApiKey {
        #[serde(serialize_with = "expose")]
        key: SecretString,
    },
    Bearer {
        #[serde(serialize_with = "expose")]
        token: SecretString,
    },
    Basic {
        username: String,
        #[serde(serialize_with = "expose")]
        password: SecretString,
    },
    Oauth2 {
        #[serde(serialize_with = "expose")]
        access_token: SecretString,
        #[serde(serialize_with = "expose_option", default)]
        refresh_token: Option<SecretString>,
        #[serde(default)]
        scopes: Vec<String>,
    },
    Jwt {
        key_id: Option<String>,
        #[serde(serialize_with = "expose")]
        private_key: SecretString,
    },
    ClientCertificate {
        certificate: String,
        #[serde(serialize_with = "expose")]
        private_key: SecretString,
    },
}

fn expose<S: Serializer>(secret: &SecretString, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(secret.expose_secret())
}

fn expose_option<S: Serializer>(
    secret: &Option<SecretString>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secret {
        Some(secret) => serializer.serialize_some(secret.expose_secret()),
        None => serializer.serialize_none(),
    }
}

/// The plaintext to seal, in a buffer that is zeroed when dropped.
pub(crate) fn to_plaintext(credentials: &Credentials) -> Result<Zeroizing<Vec<u8>>, Error> {
    let kind = match credentials.kind.clone() {
        CredentialKind::ApiKey { key } => FormKind::ApiKey { key },
        CredentialKind::Bearer { token } => FormKind::Bearer { token },
        CredentialKind::Basic { username, password } => FormKind::Basic { username, password },
        CredentialKind::OAuth2(OAuth2Token {
            access_token,
            refresh_token,
            scopes,
        }) => FormKind::Oauth2 {
            access_token,
            refresh_token,
            scopes,
        },
        CredentialKind::Jwt {
            key_id,
            private_key,
        } => FormKind::Jwt {
            key_id,
            private_key,
        },
        CredentialKind::ClientCertificate {
            certificate,
            private_key,
        } => FormKind::ClientCertificate {
            certificate,
            private_key,
        },
    };
    let form = Form {
        kind,
        metadata: credentials.metadata.clone(),
        expires_at: credentials.expires_at,
        last_rotated_at: credentials.last_rotated_at,
        status: credentials.status,
        refresh_lease: credentials.refresh_lease.as_ref().map(|lease| LeaseForm {
            owner: lease.owner().to_owned(),
            until: lease.until(),
        }),
    };
    // Sized up front so the plaintext is not copied by reallocation.
    let mut buffer = Zeroizing::new(Vec::with_capacity(4096));
    serde_json::to_writer(&mut *buffer, &form).map_err(|source| Error::Json { source })?;
    Ok(buffer)
}

/// Reads credentials back from sealed plaintext.
pub(crate) fn from_plaintext(plaintext: &[u8]) -> Result<Credentials, Error> {
    // The parser's message could quote plaintext; it is replaced.
    let form: Form = serde_json::from_slice(plaintext).map_err(|_| CredentialError::Store {
        operation: "decode credentials",
        source: "decrypted credentials are not in the expected format".into(),
    })?;
    let kind = match form.kind {
        FormKind::ApiKey { key } => CredentialKind::ApiKey { key },
        FormKind::Bearer { token } => CredentialKind::Bearer { token },
        FormKind::Basic { username, password } => CredentialKind::Basic { username, password },
        FormKind::Oauth2 {
            access_token,
            refresh_token,
            scopes,
        } => CredentialKind::OAuth2(OAuth2Token {
            access_token,
            refresh_token,
            scopes,
        }),
        FormKind::Jwt {
            key_id,
            private_key,
        } => CredentialKind::Jwt {
            key_id,
            private_key,
        },
        FormKind::ClientCertificate {
            certificate,
            private_key,
        } => CredentialKind::ClientCertificate {
            certificate,
            private_key,
        },
    };
    Ok(Credentials {
        kind,
        metadata: form.metadata,
        expires_at: form.expires_at,
        last_rotated_at: form.last_rotated_at,
        status: form.status,
        refresh_lease: form
            .refresh_lease
            .map(|lease| RefreshLease::new(lease.owner, lease.until)),
    })
}
