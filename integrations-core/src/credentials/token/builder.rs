//! [`TokenManagerBuilder`]: a manager's options and their defaults.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chacha20poly1305::XNonce;
use chacha20poly1305::aead::Generate;
use tokio_util::task::TaskTracker;

use super::{Inner, TokenManager, TokenRefresher};
use crate::credentials::CredentialStore;
use crate::error::{CredentialError, Error};
use crate::events::EventSink;

/// Options for a [`TokenManager`]; made by [`TokenManager::builder`].
#[must_use = "call `build` to get the TokenManager"]
pub struct TokenManagerBuilder {
    store: Arc<dyn CredentialStore>,
    refresher: Arc<dyn TokenRefresher>,
    margin: Duration,
    refresh_timeout: Duration,
    poll_interval: Duration,
    events: Option<Arc<dyn EventSink>>,
}

impl fmt::Debug for TokenManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenManagerBuilder")
            .field("margin", &self.margin)
            .field("refresh_timeout", &self.refresh_timeout)
            .finish_non_exhaustive()
    }
}

impl TokenManagerBuilder {
    pub(super) fn new(store: Arc<dyn CredentialStore>, refresher: Arc<dyn TokenRefresher>) -> Self {
        Self {
            store,
            refresher,
            margin: Duration::from_secs(300),
            refresh_timeout: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            events: None,
        }
    }

    /// Refresh tokens that expire within this margin; default 5 minutes.
    pub fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The time limit of one refresh, and the length of the refresh lease
    /// other processes respect; default 30 s.
    pub fn refresh_timeout(mut self, timeout: Duration) -> Self {
        self.refresh_timeout = timeout;
        self
    }

    /// How often to re-read the store while another process holds the
    /// refresh lease, where the store gives no change notifications;
    /// default 100 ms. Where it does ([`PgStore`](crate::credentials::PgStore)),
    /// a waiter reads the row when it is written, and at least every
    /// second; the manager listens to them from [`listen`](TokenManager::listen)
    /// or its first read of the store until [`close`](TokenManager::close)
    /// (on PostgreSQL, a connection of its own, outside the store's pool).
    /// Until it listens, waiters poll at this interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Where to send `token_refreshed`, `token_refresh_failed` and
    /// `needs_reauth` events.
    pub fn events(mut self, sink: impl EventSink) -> Self {
        self.events = Some(Arc::new(sink));
        self
    }

    /// Builds the manager.
    pub fn build(self) -> Result<TokenManager, Error> {
        let owner = XNonce::try_generate()
            .map(|bytes| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
            .map_err(|e| {
                Error::Credentials(CredentialError::InvalidKey {
                    message: format!("no randomness for the manager id: {e}"),
                })
            })?;
        Ok(TokenManager {
            inner: Arc::new(Inner {
                store: self.store,
                refresher: self.refresher,
                margin: chrono::Duration::from_std(self.margin).unwrap_or(chrono::Duration::MAX),
                refresh_timeout: self.refresh_timeout,
                poll_interval: self.poll_interval,
                owner,
                events: self.events,
                cache: Mutex::new(HashMap::new()),
                locks: Mutex::new(HashMap::new()),
                tasks: TaskTracker::new(),
                listening: Arc::default(),
            }),
        })
    }
}
