//! The refresh protocol against the store: read the row, take the refresh
//! lease with compare-and-swap, ask the provider, and write the answer back
//! onto the row for as long as it is still the grant that was refreshed.

use chrono::Utc;
use secrecy::SecretString;

use super::{Inner, RefreshRequest, TokenResponse, same};
use crate::credentials::{
    CredentialKind, CredentialStatus, Credentials, OAuth2Token, RefreshLease,
};
use crate::error::{BoxError, CredentialError, Error, error_chain};
use crate::events::EventKind;
use crate::id::{ConnectionId, TenantId};

/// How a caller waits for another process's refresh: a watch on the row
/// (where the store tells of writes) and when to stop waiting.
struct Waiting {
    watch: Option<super::changes::ChangeWatch>,
    until: tokio::time::Instant,
    /// Whether a read found the row due and free and did not lease it.
    lost: bool,
}

/// How an attempt to refresh ended.
enum Attempt {
    /// With the token to return (or the error in `Result`).
    Token(SecretString),
    /// The row changed under the attempt: read it again.
    ReadAgain,
}

impl Inner {
    /// Reads the store, refreshing when needed, until a valid token or a
    /// final error. Runs with the connection's in-process lock held.
    pub(super) async fn obtain(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        rejected: Option<&SecretString>,
    ) -> Result<SecretString, Error> {
        // Watch the row from the start (where the manager listens to the
        // store's changes), so a write after our read cannot be missed.
        let mut waiting = Waiting {
            watch: self.watch(tenant, connection),
            until: tokio::time::Instant::now() + self.refresh_timeout * 2,
            lost: false,
        };
        loop {
            if let Some(watch) = &mut waiting.watch {
                watch.mark_seen();
            }
            let now = Utc::now();
            // Unless the provider refused a token (whose refresh does not
            // depend on its expiry), the read takes the refresh lease
            // when the token is due.
            let lease = RefreshLease::new(self.owner.clone(), now + self.lease_length());
            let read = match rejected {
                None => {
                    let due = now + self.margin;
                    self.store
                        .get_for_refresh(tenant, connection, &lease, due)
                        .await?
                }
                Some(_) => self.store.get(tenant, connection).await?,
            };
            let Some(stored) = read else {
                self.forget(tenant, connection);
                return Err(CredentialError::NotFound {
                    tenant: tenant.clone(),
                    connection: connection.clone(),
                }
                .into());
            };
            let credentials = stored.value;
            if credentials.status == CredentialStatus::NeedsReauth {
                self.forget(tenant, connection);
                return Err(CredentialError::NeedsReauth {
                    tenant: tenant.clone(),
                    connection: connection.clone(),
                }
                .into());
            }
            let oauth = match &credentials.kind {
                CredentialKind::OAuth2(oauth) => oauth,
                CredentialKind::ApiKey { key: token } | CredentialKind::Bearer { token } => {
                    self.remember(tenant, connection, token, credentials.expires_at);
                    return Ok(token.clone());
                }
                other => {
                    return Err(CredentialError::NoAccessToken {
                        connection: connection.clone(),
                        kind: other.name(),
                    }
                    .into());
                }
            };
            let key = (tenant, connection);
            if let Some(token) = self.ready(key, &credentials, rejected, now) {
                return Ok(token);
            }
            // The provider refused this token: it needs a refresh, and it
            // is no fallback, whatever its expiry says.
            let refused = same(Some(&oauth.access_token), rejected);
            if oauth.refresh_token.is_none() {
                if !refused && credentials.expires_at.is_none_or(|at| at > now) {
                    return Ok(oauth.access_token.clone());
                }
                return self.mark_needs_reauth(tenant, connection).await;
            }
            if let Some(lease) = &credentials.refresh_lease
                && lease.owner != self.owner
                && lease.until > now
            {
                let lease_left = (lease.until - now).to_std().unwrap_or_default();
                if tokio::time::Instant::now() >= waiting.until {
                    let why = "another process holds the refresh lease and has not finished";
                    return self
                        .failed(tenant, connection, &credentials, refused, why.into())
                        .await;
                }
                let waited =
                    self.wait_for_other(lease_left, &mut waiting, stored.version, key, rejected);
                if let Some(token) = waited.await {
                    return Ok(token);
                }
                continue;
            }
            let ours = if credentials.refresh_lease.as_ref() == Some(&lease) {
                Some((stored.version, credentials))
            } else if rejected.is_none() && !waiting.lost {
                // Due and free, yet the read did not lease it: another
                // process wrote the row meanwhile, most likely its lease.
                // (Should it happen again, the lease is taken by
                // compare-and-swap, which cannot go round unanswered.)
                waiting.lost = true;
                None
            } else {
                self.take_lease(tenant, connection, stored.version, credentials, lease)
                    .await?
            };
            let Some(ours) = ours else {
                // Watching, wait for the write that ends the other's lease
                // instead of reading a row that is still leased.
                if waiting.watch.is_some() {
                    let left = super::changes::NOTIFIED_POLL;
                    let waited =
                        self.wait_for_other(left, &mut waiting, stored.version, key, rejected);
                    if let Some(token) = waited.await {
                        return Ok(token);
                    }
                }
                continue;
            };
            match self.refresh(tenant, connection, ours, refused).await? {
                Attempt::Token(token) => return Ok(token),
                Attempt::ReadAgain => {}
            }
        }
    }

    /// How long a refresh lease lasts: the refresh's own timeout.
    fn lease_length(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.refresh_timeout).unwrap_or(chrono::Duration::MAX)
    }

    /// Takes the refresh `lease` on the row (`credentials` at `version`)
    /// by compare-and-swap: the leased row and its version, or `None` when
    /// another writer got there first.
    async fn take_lease(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        version: u64,
        mut credentials: Credentials,
        lease: RefreshLease,
    ) -> Result<Option<(u64, Credentials)>, Error> {
        credentials.refresh_lease = Some(lease);
        let swapped = self
            .store
            .compare_and_swap(tenant, connection, version, &credentials)
            .await?;
        Ok(swapped.map(|version| (version, credentials)))
    }

    /// Waits while another process refreshes (at most `lease_left`): for
    /// the store's word of a write when it can tell, else a poll interval.
    /// Where that word carries the row as written, newer than the one read
    /// (`read`, its version) and holding a token the caller can take
    /// ([`ready`](Self::ready)), returns the token: no read needed.
    async fn wait_for_other(
        &self,
        lease_left: std::time::Duration,
        waiting: &mut Waiting,
        read: u64,
        key: (&TenantId, &ConnectionId),
        rejected: Option<&SecretString>,
    ) -> Option<SecretString> {
        let Some(watching) = &mut waiting.watch else {
            tokio::time::sleep(self.poll_interval).await;
            return None;
        };
        tokio::select! {
            () = watching.changed() => {}
            () = tokio::time::sleep(super::changes::NOTIFIED_POLL.min(lease_left)) => return None,
        }
        let row = match watching.latest()?.row()? {
            Ok(row) => row,
            Err(error) => {
                tracing::debug!(%error, "token manager: the change's row did not open; reading");
                return None;
            }
        };
        if row.version <= read {
            return None;
        }
        self.ready(key, &row.value, rejected, Utc::now())
    }

    /// The token `credentials` hold, remembered, if a caller can take it
    /// as it is at `now`: active OAuth 2, fresh, and not the one the
    /// provider `rejected`.
    fn ready(
        &self,
        (tenant, connection): (&TenantId, &ConnectionId),
        credentials: &Credentials,
        rejected: Option<&SecretString>,
        now: chrono::DateTime<Utc>,
    ) -> Option<SecretString> {
        let CredentialKind::OAuth2(oauth) = &credentials.kind else {
            return None;
        };
        let ready = credentials.status == CredentialStatus::Active
            && !same(Some(&oauth.access_token), rejected)
            && self.is_fresh(credentials.expires_at, now);
        ready.then(|| {
            self.remember(
                tenant,
                connection,
                &oauth.access_token,
                credentials.expires_at,
            );
            oauth.access_token.clone()
        })
    }

    /// Asks the provider to refresh the row we leased (`credentials` at
    /// `version`) and writes its answer back.
    async fn refresh(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        (leased_version, credentials): (u64, Credentials),
        refused: bool,
    ) -> Result<Attempt, Error> {
        let CredentialKind::OAuth2(OAuth2Token {
            refresh_token: Some(refresh_token),
            scopes,
            ..
        }) = &credentials.kind
        else {
            return Ok(Attempt::ReadAgain);
        };
        let request = RefreshRequest {
            tenant,
            connection,
            refresh_token,
            scopes,
            metadata: &credentials.metadata,
        };
        let outcome = tokio::time::timeout(self.refresh_timeout, self.refresher.refresh(request))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {:?}", self.refresh_timeout).into()));
        let ours = (leased_version, credentials.clone());
        match outcome {
            Ok(response) => {
                let token = response.access_token.clone();
                let change = |row| apply(row, response.clone());
                let Some(stored) = self
                    .write_ours(tenant, connection, ours, refresh_token, change)
                    .await?
                else {
                    // Replaced by new credentials while we refreshed
                    // (re-authorised): the newer row wins.
                    return Ok(Attempt::ReadAgain);
                };
                self.remember(tenant, connection, &token, stored.expires_at);
                let refreshed = EventKind::TokenRefreshed {
                    tenant: tenant.clone(),
                    connection: connection.clone(),
                };
                self.emit(connection, refreshed).await;
                Ok(Attempt::Token(token))
            }
            Err(error) if is_invalid_grant(&*error) => {
                let Some(current) = self.store.get(tenant, connection).await? else {
                    return Ok(Attempt::ReadAgain);
                };
                if !spends(&current.value, refresh_token) {
                    // Another writer stored new tokens: use those.
                    return Ok(Attempt::ReadAgain);
                }
                self.mark_needs_reauth(tenant, connection)
                    .await
                    .map(Attempt::Token)
            }
            Err(error) => {
                // Give the lease back so another attempt need not wait.
                let released = self
                    .write_ours(tenant, connection, ours, refresh_token, |row| row)
                    .await
                    .ok()
                    .flatten();
                let released = released.as_ref().unwrap_or(&credentials);
                self.failed(tenant, connection, released, refused, error)
                    .await
                    .map(Attempt::Token)
            }
        }
    }

    /// Writes `change(row)` without its lease, starting from `row` at
    /// `version`. When another writer got there first (a key rotation, a
    /// metadata update), the change is applied to what they wrote, for as
    /// long as it is still the grant we refreshed: it carries our lease or
    /// the refresh token we spent. A row replaced by other credentials is
    /// left alone (`None`), and so is a deleted one.
    async fn write_ours(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        (mut version, mut row): (u64, Credentials),
        spent: &SecretString,
        change: impl Fn(Credentials) -> Credentials,
    ) -> Result<Option<Credentials>, Error> {
        loop {
            row.refresh_lease = None;
            let changed = change(row);
            if self
                .store
                .compare_and_swap(tenant, connection, version, &changed)
                .await?
                .is_some()
            {
                return Ok(Some(changed));
            }
            let Some(current) = self.store.get(tenant, connection).await? else {
                return Ok(None);
            };
            let ours = current
                .value
                .refresh_lease
                .as_ref()
                .is_some_and(|lease| lease.owner() == self.owner);
            if !ours && !spends(&current.value, spent) {
                return Ok(None);
            }
            (version, row) = (current.version, current.value);
        }
    }

    /// A refresh failed transiently: use the current token while it lasts,
    /// unless the provider `refused` it.
    async fn failed(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
        credentials: &Credentials,
        refused: bool,
        error: BoxError,
    ) -> Result<SecretString, Error> {
        let message = error_chain(&*error);
        tracing::warn!(tenant = %tenant, connection = %connection, "token refresh failed: {message}");
        self.emit(
            connection,
            EventKind::TokenRefreshFailed {
                tenant: tenant.clone(),
                connection: connection.clone(),
                message,
            },
        )
        .await;
        if let CredentialKind::OAuth2(oauth) = &credentials.kind
            && !refused
            && credentials.expires_at.is_none_or(|at| at > Utc::now())
        {
            return Ok(oauth.access_token.clone());
        }
        Err(CredentialError::RefreshFailed {
            tenant: tenant.clone(),
            connection: connection.clone(),
            source: error,
        }
        .into())
    }

    /// Marks the connection as needing re-authorisation (emitting the event
    /// only if this call changed the status) and returns the error.
    async fn mark_needs_reauth(
        &self,
        tenant: &TenantId,
        connection: &ConnectionId,
    ) -> Result<SecretString, Error> {
        self.forget(tenant, connection);
        loop {
            let Some(current) = self.store.get(tenant, connection).await? else {
                break;
            };
            if current.value.status == CredentialStatus::NeedsReauth {
                break;
            }
            let mut dead = current.value;
            dead.status = CredentialStatus::NeedsReauth;
            dead.refresh_lease = None;
            if self
                .store
                .compare_and_swap(tenant, connection, current.version, &dead)
                .await?
                .is_some()
            {
                tracing::warn!(tenant = %tenant, connection = %connection, "connection needs re-authorisation");
                self.emit(
                    connection,
                    EventKind::NeedsReauth {
                        tenant: tenant.clone(),
                        connection: connection.clone(),
                    },
                )
                .await;
                break;
            }
        }
        Err(CredentialError::NeedsReauth {
            tenant: tenant.clone(),
            connection: connection.clone(),
        }
        .into())
    }
}

/// The credentials after a successful refresh: a missing refresh token or
/// scope list in the response keeps the row's.
fn apply(mut credentials: Credentials, response: TokenResponse) -> Credentials {
    let now = Utc::now();
    let (old_refresh, old_scopes) = match credentials.kind {
        CredentialKind::OAuth2(old) => (old.refresh_token, old.scopes),
        _ => (None, Vec::new()),
    };
    credentials.kind = CredentialKind::OAuth2(OAuth2Token {
        access_token: response.access_token,
        refresh_token: response.refresh_token.or(old_refresh),
        scopes: response.scopes.unwrap_or(old_scopes),
    });
    credentials.expires_at = response
        .expires_in
        .and_then(|lifetime| chrono::Duration::from_std(lifetime).ok())
        .map(|lifetime| now + lifetime);
    credentials.last_rotated_at = Some(now);
    credentials.status = CredentialStatus::Active;
    credentials
}

/// Whether `credentials` still hold `refresh_token`: the grant a refresh
/// spent, not one stored since.
fn spends(credentials: &Credentials, refresh_token: &SecretString) -> bool {
    matches!(&credentials.kind, CredentialKind::OAuth2(OAuth2Token { refresh_token: held, .. })
        if same(held.as_ref(), Some(refresh_token)))
}

/// Whether a refresher's error is `invalid_grant`, returned as
/// [`CredentialError::InvalidGrant`] or as an [`Error`] holding it.
fn is_invalid_grant(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    matches!(
        error.downcast_ref::<Error>(),
        Some(Error::Credentials(CredentialError::InvalidGrant { .. }))
    ) || matches!(
        error.downcast_ref::<CredentialError>(),
        Some(CredentialError::InvalidGrant { .. })
    )
}
