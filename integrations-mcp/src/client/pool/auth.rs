//! The pool's side of OAuth: completing an authorization code flow, and
//! what a 403 `insufficient_scope` means for a call.

use integrations_core::TenantId;
use integrations_core::config::McpServerEntry;
use integrations_core::id::ServerName;

use super::{Inner, MAX_STEP_UPS, McpPool, Outcome, SessionKey, lock};
use crate::client::authorization::{self, OAuthContext};
use crate::error::Error;

impl McpPool {
    /// Completes an authorization code flow that
    /// [`Error::AuthorizationRequired`] started: the host's callback hands
    /// the URL the user came back to (its `code`, `state` and, where the
    /// server sends one, `iss`); the tokens are sealed for `tenant`, the
    /// next call to the server connects with them, and the server's
    /// [`health`](Self::health) for the tenant is no longer
    /// `needs_reauth` (one event). Returns the server's
    /// name. An unknown, expired (10 minutes), reused or other tenant's
    /// state is refused with [`Error::CallbackRefused`].
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub async fn complete_authorization(
        &self,
        tenant: &TenantId,
        callback_url: &str,
    ) -> Result<ServerName, Error> {
        let tokens = self
            .inner
            .oauth_tokens
            .as_ref()
            .map_err(|why| Error::CallbackRefused {
                message: (*why).to_owned(),
            })?;
        let server = crate::client::authorization::complete(
            tokens,
            &self.inner.authorizations,
            tenant,
            callback_url,
        )
        .await?;
        if let Ok(connection) = authorization::token_connection(&server) {
            // The manager may hold the token these replace.
            tokens.manager.invalidate(tenant, &connection);
        }
        let key = SessionKey::new(tenant.clone(), server.clone());
        self.inner.observe(&key, &Outcome::Authorized);
        Ok(server)
    }

    /// Forgets `tenant`'s authorization to `server` (a disconnect): deletes
    /// the tokens sealed for it and the copy the pool holds in memory, so
    /// the next connect sends the user to authorize again. Sessions already
    /// open keep going; close them with
    /// [`remove_tenant_server`](Self::remove_tenant_server) or
    /// [`close`](Self::close). Returns whether there were tokens.
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub async fn forget_authorization(
        &self,
        tenant: &TenantId,
        server: &ServerName,
    ) -> Result<bool, Error> {
        let Ok(tokens) = self.inner.oauth_tokens.as_ref() else {
            return Ok(false);
        };
        let connection = authorization::token_connection(server)?;
        let removed = tokens.store.delete(tenant, &connection).await?;
        tokens.manager.invalidate(tenant, &connection);
        Ok(removed)
    }
}

impl Inner {
    /// What a refusal means for a server with the authorization code flow
    /// (of a connect or of a request), decided here rather than by
    /// connecting again: a 401 (the
    /// tenant's tokens were refused, a refresh included) starts a new
    /// authorization; a 403 `insufficient_scope` starts a step-up. Either
    /// way the [`Error::AuthorizationRequired`] that sends the user to
    /// approve; `None` when the error stands as it is.
    pub(super) async fn after_refusal(&self, key: &SessionKey, error: &Error) -> Option<Error> {
        if !self.is_interactive(key) {
            return None;
        }
        match error {
            Error::InsufficientScope { challenge, .. } => self.step_up(key, challenge).await,
            Error::Unauthorized { .. } => self.start_authorization(key, None).await,
            _ => None,
        }
    }

    /// After a 403 `insufficient_scope`, for a server with the
    /// authorization code flow: authorises again with the scopes the
    /// challenge names, at most [`MAX_STEP_UPS`] times in a row per
    /// session, and returns the [`Error::AuthorizationRequired`] that
    /// sends the user to approve them.
    ///
    /// The flow starts at once, with no new session: the next call after
    /// the user approved connects with the new tokens.
    async fn step_up(&self, key: &SessionKey, challenge: &str) -> Option<Error> {
        {
            let mut step_ups = lock(&self.step_ups);
            let count = step_ups.entry(key.clone()).or_default();
            if *count >= MAX_STEP_UPS {
                return None;
            }
            *count += 1;
        }
        self.start_authorization(key, Some(challenge)).await
    }

    /// Starts the authorization code flow for `key`'s tenant (for the
    /// scopes of `challenge`, when a step-up), without a new session.
    async fn start_authorization(
        &self,
        key: &SessionKey,
        challenge: Option<&str>,
    ) -> Option<Error> {
        let authorization = self.authorizations.get(&key.server)?;
        let McpServerEntry::Http(http) = self.config(key).ok()? else {
            return None;
        };
        let oauth = OAuthContext {
            authorization: authorization.clone(),
            tenant: key.tenant.clone(),
            tokens: self.oauth_tokens.clone(),
            step_up: challenge.map(str::to_owned),
        };
        let deadline = tokio::time::Instant::now() + self.handshake_timeout;
        Some(authorization::start(&key.server, http.url.expose(), &oauth, deadline).await)
    }

    /// Whether the server authorises with the authorization code flow.
    fn is_interactive(&self, key: &SessionKey) -> bool {
        matches!(
            self.authorizations.get(&key.server),
            Some(crate::client::McpAuthorization::AuthorizationCode { .. })
        )
    }
}
