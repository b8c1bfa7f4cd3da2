//! [`OAuthFlow`]: the authorization code flow with PKCE and one-time
//! states, for a person connecting an account.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use integrations_core::credentials::CredentialStore;
use integrations_core::{ConnectionId, TenantId};
use oauth2::{CsrfToken, PkceCodeChallenge, Scope};
use secrecy::SecretString;
use tokio::time::Instant;

use super::OAuthClient;
use crate::error::Error;

/// Where [`OAuthFlow::start`] sends the user.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Authorization {
    /// The provider's authorization URL, with the state and the PKCE
    /// challenge.
    pub url: String,
    /// The state the callback must bring back.
    pub state: String,
}

/// Why [`OAuthFlow::callback`] refused a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateRefusal {
    /// No flow was started with this state.
    Unknown,
    /// The flow started too long ago.
    Expired,
    /// The state was already used.
    Replayed,
    /// The flow was started by another tenant.
    OtherTenant,
}

impl fmt::Display for StateRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unknown => "no authorization was started with this state",
            Self::Expired => "the authorization started too long ago; start again",
            Self::Replayed => "this state was already used",
            Self::OtherTenant => "the authorization was started by another tenant",
        })
    }
}

struct Pending {
    tenant: TenantId,
    connection: ConnectionId,
    verifier: SecretString,
    expires: Instant,
    used: bool,
}

/// The authorization code flow with PKCE (S256, always on): [`start`]
/// gives the URL to send the user to and keeps a state that expires and is
/// accepted once; [`callback`] checks the state, exchanges the code and
/// stores the tokens, sealed, in the credential store.
///
/// A tenant keeps at most 16 started authorizations (a 17th replaces its
/// oldest), and the flow 100,000 in all; a start prunes expired states
/// from the front of a start-ordered queue, not by scanning them all.
///
/// States live in this process's memory: with several replicas behind a
/// load balancer, route the callback to the replica that started the flow
/// (or keep one `OAuthFlow` behind a shared store, a later addition).
///
/// [`start`]: Self::start
/// [`callback`]: Self::callback
pub struct OAuthFlow {
    client: OAuthClient,
    store: Arc<dyn CredentialStore>,
    ttl: Duration,
    pending: Mutex<States>,
}

/// Started authorizations a tenant keeps; a new one past this replaces the
/// tenant's oldest.
const PER_TENANT: usize = 16;
/// Started authorizations kept in all; past this the oldest give way.
const IN_ALL: usize = 100_000;

/// The started authorizations: by state, in the order they started (which
/// is the order they expire in), and per tenant. Starting one prunes only
/// what has expired (or is over a limit), from the front.
#[derive(Default)]
struct States {
    flows: HashMap<String, Pending>,
    order: VecDeque<String>,
    tenants: HashMap<TenantId, VecDeque<String>>,
}

impl States {
    /// Keeps `flow` under `state`, after the expired and the over-limit
    /// flows are gone.
    fn insert(&mut self, state: String, flow: Pending, now: Instant) {
        while let Some(oldest) = self.order.front() {
            let gone = self.flows.get(oldest).is_none_or(|f| f.expires <= now);
            // `order` also holds states a tenant's newer ones replaced.
            if !gone && self.flows.len() < IN_ALL && self.order.len() < 2 * IN_ALL {
                break;
            }
            if let Some(oldest) = self.order.pop_front() {
                self.remove(&oldest);
            }
        }
        let mine = self.tenants.entry(flow.tenant.clone()).or_default();
        mine.retain(|kept| self.flows.contains_key(kept));
        if mine.len() >= PER_TENANT
            && let Some(oldest) = mine.pop_front()
        {
            self.flows.remove(&oldest);
        }
        mine.push_back(state.clone());
        self.order.push_back(state.clone());
        self.flows.insert(state, flow);
    }

    fn remove(&mut self, state: &str) {
        if let Some(flow) = self.flows.remove(state)
            && let Some(mine) = self.tenants.get_mut(&flow.tenant)
        {
            mine.retain(|kept| kept != state);
            if mine.is_empty() {
                self.tenants.remove(&flow.tenant);
            }
        }
    }
}

impl fmt::Debug for OAuthFlow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OAuthFlow")
            .field("client", &self.client)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl OAuthFlow {
    /// A flow for `client`, storing tokens in `store`; states expire after
    /// 10 minutes.
    pub fn new(client: OAuthClient, store: Arc<dyn CredentialStore>) -> Self {
        Self {
            client,
            store,
            ttl: Duration::from_secs(600),
            pending: Mutex::new(States::default()),
        }
    }

    /// How long a started authorization may take.
    #[must_use]
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The client.
    pub fn client(&self) -> &OAuthClient {
        &self.client
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, States> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts authorising `connection` for `tenant`: the URL to send the
    /// user to, and its state.
    pub fn start(&self, tenant: &TenantId, connection: &ConnectionId) -> Authorization {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let provider = &self.client.provider;
        let mut request = self
            .client
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scopes(provider.scopes.iter().cloned().map(Scope::new))
            .set_pkce_challenge(challenge);
        for (name, value) in &provider.extra_params {
            request = request.add_extra_param(name.clone(), value.clone());
        }
        let (url, state) = request.url();
        let now = Instant::now();
        self.pending().insert(
            state.secret().clone(),
            Pending {
                tenant: tenant.clone(),
                connection: connection.clone(),
                verifier: SecretString::from(verifier.secret().clone()),
                expires: now + self.ttl,
                used: false,
            },
            now,
        );
        Authorization {
            url: url.to_string(),
            state: state.secret().clone(),
        }
    }

    /// The user came back with `state` and `code`: checks the state (it
    /// must be known, fresh, unused and the tenant's own), exchanges the
    /// code with the PKCE verifier, and stores the tokens. Returns the
    /// connection they were stored for.
    pub async fn callback(
        &self,
        tenant: &TenantId,
        state: &str,
        code: &str,
    ) -> Result<ConnectionId, Error> {
        let (connection, verifier) = {
            let mut pending = self.pending();
            let refused = |reason| Error::OAuthState {
                vendor: self.client.provider.id.clone(),
                reason,
            };
            let flow = pending
                .flows
                .get_mut(state)
                .ok_or_else(|| refused(StateRefusal::Unknown))?;
            if flow.used {
                return Err(refused(StateRefusal::Replayed));
            }
            // Whatever happens next, this state is spent.
            flow.used = true;
            if flow.expires <= Instant::now() {
                return Err(refused(StateRefusal::Expired));
            }
            if flow.tenant != *tenant {
                return Err(refused(StateRefusal::OtherTenant));
            }
            (flow.connection.clone(), flow.verifier.clone())
        };
        let credentials = self.client.exchange_code(code, &verifier).await?;
        self.store
            .put(tenant, &connection, &credentials)
            .await
            .map_err(|source| Error::Credentials {
                vendor: self.client.provider.id.clone(),
                source,
            })?;
        Ok(connection)
    }
}
