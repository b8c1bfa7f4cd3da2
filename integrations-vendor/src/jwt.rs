//! JWT assertions signed with a stored private key: sent as the bearer
//! token (a GitHub App), or exchanged for an access token (RFC 7523, a
//! Google service account). Signed tokens are cached until a minute before
//! they expire.

use std::sync::Mutex;
use std::time::Duration;

use integrations_core::credentials::CredentialKind;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use tokio::time::Instant;

use crate::auth::{Applied, Auth, Source};
use crate::error::Error;

/// A token this connection made, and when to make a new one.
#[derive(Default)]
pub(crate) struct JwtCache(Mutex<Option<(SecretString, Instant)>>);

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    scope: Option<&'a str>,
}

/// An RSA key signs RS256, an EC P-256 key ES256.
fn signing_key(vendor: &str, pem: &SecretString) -> Result<(EncodingKey, Algorithm), Error> {
    let pem = pem.expose_secret().as_bytes();
    if let Ok(key) = EncodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    EncodingKey::from_ec_pem(pem)
        .map(|key| (key, Algorithm::ES256))
        .map_err(|_| Error::Config {
            vendor: vendor.to_owned(),
            message: "the stored JWT key is neither an RSA nor an EC P-256 private key in PEM"
                .into(),
        })
}

fn sign(
    vendor: &str,
    kind: CredentialKind,
    issuer: &str,
    audience: Option<&str>,
    scope: Option<&str>,
    lifetime: Duration,
) -> Result<SecretString, Error> {
    let CredentialKind::Jwt {
        key_id,
        private_key,
    } = kind
    else {
        return Err(Error::Config {
            vendor: vendor.to_owned(),
            message: format!(
                "the stored credentials are {}, but JWT assertions need a private key (CredentialKind::Jwt)",
                kind.name()
            ),
        });
    };
    let (key, algorithm) = signing_key(vendor, &private_key)?;
    let mut header = Header::new(algorithm);
    header.kid = key_id;
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: issuer,
        // A minute back, for clocks that run behind the vendor's.
        iat: now - 60,
        exp: now + i64::try_from(lifetime.as_secs()).unwrap_or(600),
        aud: audience,
        scope,
    };
    jsonwebtoken::encode(&header, &claims, &key)
        .map(SecretString::from)
        .map_err(|e| Error::Config {
            vendor: vendor.to_owned(),
            message: format!("cannot sign the JWT: {e}"),
        })
}

#[derive(serde::Deserialize)]
struct Grant {
    access_token: String,
    expires_in: Option<u64>,
}

impl JwtCache {
    fn get(&self) -> Option<SecretString> {
        let cached = self.0.lock().unwrap_or_else(|e| e.into_inner());
        cached
            .as_ref()
            .filter(|(_, renew)| *renew > Instant::now())
            .map(|(token, _)| token.clone())
    }

    fn put(&self, token: &SecretString, lifetime: Duration) {
        let renew = Instant::now() + lifetime.saturating_sub(Duration::from_secs(60));
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some((token.clone(), renew));
    }
}

/// The bearer token for the JWT auth methods, from the cache or made anew.
pub(crate) async fn credential(
    auth: &Auth,
    source: &Source,
    vendor: &str,
    client: &reqwest::Client,
    cache: &JwtCache,
) -> Result<Applied, Error> {
    if let Some(token) = cache.get() {
        return Ok(Applied::Bearer(token));
    }
    let kind = source.stored(vendor).await?;
    match auth {
        Auth::JwtBearer { issuer, lifetime } => {
            let token = sign(vendor, kind, issuer, None, None, *lifetime)?;
            cache.put(&token, *lifetime);
            Ok(Applied::Bearer(token))
        }
        Auth::JwtGrant {
            token_url,
            issuer,
            scope,
        } => {
            let lifetime = Duration::from_secs(3600);
            let assertion = sign(vendor, kind, issuer, Some(token_url), Some(scope), lifetime)?;
            let failed = |message: String| Error::OAuth {
                vendor: vendor.to_owned(),
                code: "jwt_grant_failed".into(),
                description: Some(message),
            };
            let response = client
                .post(token_url)
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", assertion.expose_secret()),
                ])
                .send()
                .await
                .map_err(|e| failed(e.without_url().to_string()))?;
            let status = response.status();
            if status.is_redirection() {
                return Err(failed(format!(
                    "the token endpoint answered HTTP {status} (a redirect); the assertion is not sent on: give the final token URL"
                )));
            }
            let body =
                crate::connection::body_within(response, crate::connection::TOKEN_ANSWER_LIMIT)
                    .await
                    .map_err(|e| failed(e.without_url().to_string()))?
                    .ok_or_else(|| {
                        failed("the token endpoint's answer is longer than 1 MiB".into())
                    })?;
            if !status.is_success() {
                let error: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                return Err(Error::OAuth {
                    vendor: vendor.to_owned(),
                    code: error["error"]
                        .as_str()
                        .unwrap_or("jwt_grant_failed")
                        .to_owned(),
                    description: error["error_description"].as_str().map(str::to_owned),
                });
            }
            let grant: Grant = serde_json::from_slice(&body).map_err(|_| {
                failed(format!(
                    "the token endpoint answered HTTP {status} without an access token"
                ))
            })?;
            let token = SecretString::from(grant.access_token);
            cache.put(
                &token,
                Duration::from_secs(grant.expires_in.unwrap_or(3600)),
            );
            Ok(Applied::Bearer(token))
        }
        _ => Err(Error::Config {
            vendor: vendor.to_owned(),
            message: "not a JWT auth method".into(),
        }),
    }
}
