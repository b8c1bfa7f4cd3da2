//! OAuth client credentials for remote MCP servers (machine to machine).

use std::fmt;

use rmcp::transport::auth::{ClientCredentialsConfig, JwtSigningAlgorithm};
use secrecy::{ExposeSecret, SecretString};

/// How the pool authorises to a remote MCP server that follows the MCP
/// authorization spec, without a person: the OAuth client credentials
/// grant (SEP-1046). The pool discovers the authorization server from the
/// server's protected-resource metadata (RFC 9728, then RFC 8414), gets a
/// token for the server's resource, and sends it with every request; a
/// new session gets a new token.
///
/// Give it to the pool with
/// [`McpPoolBuilder::authorization`](crate::McpPoolBuilder::authorization).
/// `Debug` never shows the secret or the key.
#[derive(Clone)]
#[non_exhaustive]
pub enum McpAuthorization {
    /// A client id and secret, sent as the authorization server asks
    /// (`client_secret_basic` or `client_secret_post`).
    ClientSecret {
        /// The client id.
        client_id: String,
        /// The client secret.
        client_secret: SecretString,
        /// Scopes to ask for; none by default.
        scopes: Vec<String>,
    },
    /// A client id and a private key that signs a JWT assertion
    /// (`private_key_jwt`, RFC 7523).
    PrivateKeyJwt {
        /// The client id.
        client_id: String,
        /// The private key, PEM.
        private_key_pem: SecretString,
        /// How the key signs.
        algorithm: JwtAlgorithm,
        /// Scopes to ask for; none by default.
        scopes: Vec<String>,
    },
}

/// The signing algorithm of a [`McpAuthorization::PrivateKeyJwt`] key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum JwtAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
}

impl fmt::Debug for McpAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ClientSecret {
                client_id, scopes, ..
            } => f
                .debug_struct("ClientSecret")
                .field("client_id", client_id)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
            Self::PrivateKeyJwt {
                client_id,
                algorithm,
                scopes,
                ..
            } => f
                .debug_struct("PrivateKeyJwt")
                .field("client_id", client_id)
                .field("algorithm", algorithm)
                .field("scopes", scopes)
                .finish_non_exhaustive(),
        }
    }
}

impl McpAuthorization {
    /// Client credentials with a secret.
    pub fn client_secret(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self::ClientSecret {
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
        }
    }

    /// Client credentials with a private key JWT.
    pub fn private_key_jwt(
        client_id: impl Into<String>,
        private_key_pem: SecretString,
        algorithm: JwtAlgorithm,
    ) -> Self {
        Self::PrivateKeyJwt {
            client_id: client_id.into(),
            private_key_pem,
            algorithm,
            scopes: Vec::new(),
        }
    }

    /// Asks for `scopes`.
    #[must_use]
    pub fn scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        let wanted: Vec<String> = scopes.into_iter().map(Into::into).collect();
        match &mut self {
            Self::ClientSecret { scopes, .. } | Self::PrivateKeyJwt { scopes, .. } => {
                *scopes = wanted;
            }
        }
        self
    }

    /// rmcp's configuration of the grant, for the server at `resource`
    /// (its URL: the resource indicator of RFC 8707).
    pub(crate) fn grant(&self, resource: &str) -> ClientCredentialsConfig {
        match self {
            Self::ClientSecret {
                client_id,
                client_secret,
                scopes,
            } => ClientCredentialsConfig::ClientSecret {
                client_id: client_id.clone(),
                client_secret: client_secret.expose_secret().to_owned(),
                scopes: scopes.clone(),
                resource: Some(resource.to_owned()),
            },
            Self::PrivateKeyJwt {
                client_id,
                private_key_pem,
                algorithm,
                scopes,
            } => ClientCredentialsConfig::PrivateKeyJwt {
                client_id: client_id.clone(),
                signing_key: private_key_pem.expose_secret().as_bytes().to_vec(),
                signing_algorithm: match algorithm {
                    JwtAlgorithm::Rs256 => JwtSigningAlgorithm::RS256,
                    JwtAlgorithm::Rs384 => JwtSigningAlgorithm::RS384,
                    JwtAlgorithm::Rs512 => JwtSigningAlgorithm::RS512,
                    JwtAlgorithm::Es256 => JwtSigningAlgorithm::ES256,
                    JwtAlgorithm::Es384 => JwtSigningAlgorithm::ES384,
                },
                token_endpoint_audience: None,
                scopes: scopes.clone(),
                resource: Some(resource.to_owned()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_no_secret_and_the_grant_names_the_resource() {
        let secret =
            McpAuthorization::client_secret("machine-1", "SECRET-s3cr3t".to_owned().into())
                .scopes(["mcp:read"]);
        let key = McpAuthorization::private_key_jwt(
            "machine-2",
            "-----BEGIN PRIVATE KEY-----SECRET".to_owned().into(),
            JwtAlgorithm::Es256,
        );
        for authorization in [&secret, &key] {
            let shown = format!("{authorization:?}");
            assert!(!shown.contains("SECRET"), "{shown}");
            assert!(shown.contains("machine-"), "{shown}");
            let grant = format!("{:?}", authorization.grant("https://mcp.example.com/mcp"));
            assert!(
                !grant.contains("SECRET"),
                "rmcp's Debug redacts too: {grant}"
            );
        }
        let ClientCredentialsConfig::ClientSecret {
            resource, scopes, ..
        } = secret.grant("https://mcp.example.com/mcp")
        else {
            panic!("a client secret grant")
        };
        assert_eq!(resource.as_deref(), Some("https://mcp.example.com/mcp"));
        assert_eq!(scopes, ["mcp:read"]);
    }
}
