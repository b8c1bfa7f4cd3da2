//! [`WebhookVerifier`]: is this inbound request really from the vendor, and
//! new? Slack v0 signatures, GitHub `X-Hub-Signature-256`, and Standard
//! Webhooks; constant-time comparison; replays refused within the window.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use secrecy::{ExposeSecret, SecretBox, SecretString};
use sha2::Sha256;

pub use crate::error::WebhookError;

type HmacSha256 = Hmac<Sha256>;

/// Which signature scheme a verifier checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebhookScheme {
    /// Slack: `X-Slack-Signature: v0=hex(HMAC-SHA256(secret, "v0:" + ts +
    /// ":" + body))` with `X-Slack-Request-Timestamp`.
    Slack,
    /// GitHub: `X-Hub-Signature-256: sha256=hex(HMAC-SHA256(secret, body))`;
    /// `X-GitHub-Delivery` is the message id.
    GitHub,
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`,
    /// `webhook-signature: v1,base64(HMAC-SHA256(key, id + "." + ts + "." +
    /// body))`, several signatures allowed, `whsec_` secrets.
    Standard,
}

/// A verified request: what it was signed as.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The message id (`webhook-id`, `X-GitHub-Delivery`; for Slack, which
    /// sends none, the signature).
    pub id: Option<String>,
    /// The signed timestamp (Unix seconds), where the scheme has one.
    pub timestamp: Option<i64>,
}

/// Checks inbound webhook requests of one scheme with one secret.
///
/// A request is accepted only if a signature matches the raw body (compared
/// in constant time), its timestamp is within the window (default 5
/// minutes, either way), and the same message was not accepted before
/// within the window.
///
/// "The same message" is told by what is signed, never by header text
/// another spelling could change: the MAC's bytes for Slack and GitHub
/// (whatever the hex case, whatever `X-GitHub-Delivery` says), the signed
/// `webhook-id` for Standard Webhooks. Two limits a host must know:
/// GitHub signs no timestamp, so a captured delivery is refused as a
/// replay only within the window (keep delivery ids in durable storage to
/// refuse it later); and the cache is this process's own, not shared by
/// replicas.
///
/// ```
/// use integrations_vendor::webhook::WebhookVerifier;
///
/// let verifier = WebhookVerifier::standard(&"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned().into())?;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek".parse()?);
/// headers.insert("webhook-timestamp", "1614265330".parse()?);
/// headers.insert("webhook-signature", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".parse()?);
/// let body = br#"{"test": 2432232314}"#;
/// verifier.verify_at(&headers, body, 1614265330)?;
/// // The same message again is a replay.
/// assert!(verifier.verify_at(&headers, body, 1614265331).is_err());
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// ```
pub struct WebhookVerifier {
    scheme: WebhookScheme,
    key: SecretBox<Vec<u8>>,
    window: Duration,
    /// What accepted messages signed (their replay keys) and when, pruned
    /// past the window.
    seen: Mutex<HashMap<String, i64>>,
}

impl fmt::Debug for WebhookVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookVerifier")
            .field("scheme", &self.scheme)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

impl WebhookVerifier {
    fn new(scheme: WebhookScheme, key: Vec<u8>) -> Self {
        Self {
            scheme,
            key: SecretBox::new(Box::new(key)),
            window: Duration::from_secs(300),
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// Slack requests, with the app's signing secret.
    pub fn slack(signing_secret: &SecretString) -> Self {
        Self::new(
            WebhookScheme::Slack,
            signing_secret.expose_secret().as_bytes().to_vec(),
        )
    }

    /// GitHub deliveries, with the webhook's secret.
    pub fn github(secret: &SecretString) -> Self {
        Self::new(
            WebhookScheme::GitHub,
            secret.expose_secret().as_bytes().to_vec(),
        )
    }

    /// Standard Webhooks, with a `whsec_...` secret (the part after the
    /// prefix is base64) or a bare base64 one.
    pub fn standard(secret: &SecretString) -> Result<Self, WebhookError> {
        standard_key(secret).map(|key| Self::new(WebhookScheme::Standard, key))
    }

    /// Accepts timestamps this far from now, either way; default 5 minutes.
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The scheme checked.
    pub fn scheme(&self) -> WebhookScheme {
        self.scheme
    }

    /// Verifies a request received now.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, WebhookError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        self.verify_at(headers, body, now)
    }

    /// Verifies a request as if received at `now` (Unix seconds).
    pub fn verify_at(
        &self,
        headers: &HeaderMap,
        body: &[u8],
        now: i64,
    ) -> Result<Verified, WebhookError> {
        // What the replay cache keeps: the bytes of the MAC that matched
        // (never header text, which has other spellings), and for Standard
        // Webhooks the signed id.
        let (verified, replay) = match self.scheme {
            WebhookScheme::Slack => {
                let timestamp = header(headers, "x-slack-request-timestamp")?;
                let signature = header(headers, "x-slack-signature")?;
                let at = parse_timestamp(timestamp, "x-slack-request-timestamp")?;
                self.check_window(at, now)?;
                let expected = hex_signature(signature, "v0=", "x-slack-signature")?;
                let mut mac = self.mac();
                mac.update(format!("v0:{timestamp}:").as_bytes());
                mac.update(body);
                mac.verify_slice(&expected)
                    .map_err(|_| WebhookError::BadSignature)?;
                let verified = Verified {
                    id: Some(signature.to_owned()),
                    timestamp: Some(at),
                };
                (verified, format!("slack:{}", hex::encode(&expected)))
            }
            WebhookScheme::GitHub => {
                let signature = header(headers, "x-hub-signature-256")?;
                let expected = hex_signature(signature, "sha256=", "x-hub-signature-256")?;
                let mut mac = self.mac();
                mac.update(body);
                mac.verify_slice(&expected)
                    .map_err(|_| WebhookError::BadSignature)?;
                let verified = Verified {
                    id: headers
                        .get("x-github-delivery")
                        .and_then(|id| id.to_str().ok())
                        .map(str::to_owned),
                    timestamp: None,
                };
                (verified, format!("github:{}", hex::encode(&expected)))
            }
            WebhookScheme::Standard => {
                let id = header(headers, "webhook-id")?;
                let timestamp = header(headers, "webhook-timestamp")?;
                let signatures = header(headers, "webhook-signature")?;
                let at = parse_timestamp(timestamp, "webhook-timestamp")?;
                self.check_window(at, now)?;
                let mut mac = self.mac();
                mac.update(format!("{id}.{timestamp}.").as_bytes());
                mac.update(body);
                let matched = signatures
                    .split_whitespace()
                    .filter_map(|signature| signature.strip_prefix("v1,"))
                    .filter_map(|signature| STANDARD.decode(signature).ok())
                    .any(|signature| mac.clone().verify_slice(&signature).is_ok());
                if !matched {
                    return Err(WebhookError::BadSignature);
                }
                let verified = Verified {
                    id: Some(id.to_owned()),
                    timestamp: Some(at),
                };
                (verified, format!("standard:{id}"))
            }
        };
        self.remember(&verified, replay, now)?;
        Ok(verified)
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length.
        HmacSha256::new_from_slice(self.key.expose_secret())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }

    fn check_window(&self, at: i64, now: i64) -> Result<(), WebhookError> {
        let age = now.saturating_sub(at);
        if age.unsigned_abs() > self.window.as_secs() {
            return Err(WebhookError::Stale {
                age_secs: age,
                window_secs: self.window_secs(),
            });
        }
        Ok(())
    }

    /// Refuses a message already accepted within the window (by its
    /// `replay` key); keeps this one.
    fn remember(&self, verified: &Verified, replay: String, now: i64) -> Result<(), WebhookError> {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let horizon = now.saturating_sub(self.window_secs());
        seen.retain(|_, at| *at >= horizon);
        if seen.contains_key(&replay) {
            return Err(WebhookError::Replayed(
                verified.id.clone().unwrap_or(replay),
            ));
        }
        seen.insert(replay, verified.timestamp.unwrap_or(now).max(now));
        Ok(())
    }
}

/// Signs a message as Standard Webhooks senders do: the value of the
/// `webhook-signature` header for `id`, `timestamp` and `body`.
///
/// ```
/// let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned().into();
/// let signature = integrations_vendor::webhook::sign_standard_webhook(
///     &secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, br#"{"test": 2432232314}"#,
/// )?;
/// assert_eq!(signature, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
/// # Ok::<_, integrations_vendor::webhook::WebhookError>(())
/// ```
pub fn sign_standard_webhook(
    secret: &SecretString,
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, WebhookError> {
    let key = standard_key(secret)?;
    let mut mac = HmacSha256::new_from_slice(&key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

fn standard_key(secret: &SecretString) -> Result<Vec<u8>, WebhookError> {
    let secret = secret.expose_secret();
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD.decode(encoded).map_err(|_| {
        WebhookError::InvalidSecret("a Standard Webhooks secret is `whsec_` and base64")
    })
}

fn header<'a>(headers: &'a HeaderMap, name: &'static str) -> Result<&'a str, WebhookError> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .ok_or(WebhookError::MissingHeader(name))
}

fn parse_timestamp(value: &str, name: &'static str) -> Result<i64, WebhookError> {
    value.parse().map_err(|_| WebhookError::MissingHeader(name))
}

fn hex_signature(value: &str, prefix: &str, name: &'static str) -> Result<Vec<u8>, WebhookError> {
    let hex = value
        .strip_prefix(prefix)
        .ok_or(WebhookError::MissingHeader(name))?;
    hex::decode(hex).map_err(|_| WebhookError::BadSignature)
}
