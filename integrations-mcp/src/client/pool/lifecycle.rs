//! What a host changes on a live pool: closing a session or a tenant's,
//! a tenant's servers and tool policies; sessions whose config changed are
//! replaced. Closed sessions let their calls in flight finish first.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::future::join_all;
use integrations_core::TenantId;
use integrations_core::config::{McpServerEntry, ToolPolicy};
use integrations_core::events::{Event, EventKind, SessionCloseReason};
use integrations_core::id::ServerName;
use rmcp::model::Tool;

use super::{Inner, McpPool, SessionKey, Slot, lock};
use crate::client::session::Session;
use crate::error::Error;

impl Inner {
    /// Takes the sessions of the keys `which` picks out of the pool (new
    /// calls start new ones) and forgets their health; connects in progress
    /// are dropped (a session they make is not kept).
    fn retire(&self, which: impl Fn(&SessionKey) -> bool) -> Vec<(SessionKey, Arc<Session>)> {
        let retired: Vec<(SessionKey, Arc<Session>)> = {
            let mut slots = lock(&self.slots);
            let keys: Vec<SessionKey> = slots.keys().filter(|key| which(key)).cloned().collect();
            keys.into_iter()
                .filter_map(|key| match slots.remove(&key) {
                    Some(Slot::Ready(session)) => Some((key, session)),
                    _ => None,
                })
                .collect()
        };
        lock(&self.failures).retain(|key, _| !which(key));
        self.forget_health(|key, _| which(key));
        retired
    }

    /// Closes retired sessions once their calls in flight have finished,
    /// each with an event.
    async fn close_retired(
        self: Arc<Self>,
        retired: Vec<(SessionKey, Arc<Session>)>,
        reason: SessionCloseReason,
    ) {
        let grace = self.close_grace;
        join_all(retired.into_iter().map(|(key, session)| {
            let inner = Arc::clone(&self);
            async move {
                session.drained().await;
                session.close(grace).await;
                tracing::info!(tenant = %key.tenant, server = %key.server, ?reason, "MCP session closed");
                inner.emit(EventKind::SessionClosed {
                    tenant: key.tenant,
                    server: key.server,
                    reason,
                });
            }
        }))
        .await;
    }

    /// Closes retired sessions in a task of the pool's (or, outside a
    /// runtime, when their last call lets go of them).
    fn close_retired_later(
        self: &Arc<Self>,
        retired: Vec<(SessionKey, Arc<Session>)>,
        reason: SessionCloseReason,
    ) {
        if retired.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                self.tasks
                    .spawn_on(Arc::clone(self).close_retired(retired, reason), &runtime);
            }
            Err(_) => drop(retired),
        }
    }

    /// Queues an event for the pool's sink, if it has one.
    pub(super) fn emit(&self, kind: EventKind) {
        if let Some(queue) = &self.event_queue {
            let event = Event::now(self.events_id.clone(), kind);
            if queue.try_send(event).is_err() {
                tracing::warn!("MCP pool event dropped: its sink is 4096 events behind");
            }
        }
    }

    /// The tool policies that apply to `key` (its config's and the
    /// tenant's), or `None` when no policy is set anywhere.
    pub(super) fn policies(&self, key: &SessionKey) -> Option<Policies> {
        if !self.has_policies.load(Ordering::Relaxed) {
            return None;
        }
        let pair = (key.tenant.clone(), key.server.clone());
        let config = match lock(&self.tenant_servers).get(&pair) {
            Some(config) => Some(config.tools().clone()),
            None => lock(&self.servers)
                .get(&key.server)
                .map(|config| config.tools().clone()),
        };
        let tenant = lock(&self.tenant_policies).get(&pair).cloned();
        Some(Policies {
            config: config.unwrap_or_default(),
            tenant,
        })
    }
}

/// The policies a tool must pass for one session.
pub(super) struct Policies {
    config: ToolPolicy,
    tenant: Option<ToolPolicy>,
}

impl Policies {
    fn allows(&self, tool: &str) -> bool {
        self.config.allows(tool)
            && self
                .tenant
                .as_ref()
                .is_none_or(|tenant| tenant.allows(tool))
    }
}

impl McpPool {
    /// Sets a server for one tenant only (e.g. with that user's token in its
    /// environment), overriding a shared server of the same name.
    ///
    /// If the tenant has a live session with that server and the config
    /// differs, the session is replaced: new calls reach a session started
    /// with the new config, calls in flight on the old one finish (within
    /// their timeouts), then it closes with a
    /// [`SessionClosed`](EventKind::SessionClosed) event
    /// (`config_changed`).
    pub fn set_tenant_server(&self, tenant: TenantId, name: ServerName, config: McpServerEntry) {
        let key = SessionKey::new(tenant, name);
        self.inner.policy_generation.fetch_add(1, Ordering::SeqCst);
        if !config.tools().is_unrestricted() {
            self.inner.has_policies.store(true, Ordering::Relaxed);
        }
        let changed = {
            let mut servers = lock(&self.inner.tenant_servers);
            let pair = (key.tenant.clone(), key.server.clone());
            let changed = match servers.get(&pair) {
                Some(before) => *before != config,
                // The shared config it overrides, if any, was in use.
                None => lock(&self.inner.servers)
                    .get(&key.server)
                    .is_none_or(|shared| *shared != config),
            };
            servers.insert(pair, config);
            changed
        };
        if changed {
            let retired = self.inner.retire(|k| *k == key);
            self.inner
                .close_retired_later(retired, SessionCloseReason::ConfigChanged);
        }
    }

    /// Removes the tenant's own server `name` and closes its session (after
    /// its calls in flight), with a [`SessionClosed`](EventKind::SessionClosed)
    /// event (`server_removed`); a shared server of the same name serves
    /// the tenant's next call. Returns whether there was such a server.
    pub async fn remove_tenant_server(&self, tenant: &TenantId, name: &ServerName) -> bool {
        let key = SessionKey::new(tenant.clone(), name.clone());
        let removed = lock(&self.inner.tenant_servers)
            .remove(&(key.tenant.clone(), key.server.clone()))
            .is_some();
        if removed {
            self.inner.policy_generation.fetch_add(1, Ordering::SeqCst);
            let retired = self.inner.retire(|k| *k == key);
            Arc::clone(&self.inner)
                .close_retired(retired, SessionCloseReason::ServerRemoved)
                .await;
        }
        removed
    }

    /// Narrows which of `server`'s tools `tenant` may list and call, on top
    /// of the server config's own policy (a tool must pass both). Takes
    /// effect on the next listing and call; a denied call is
    /// [`Error::ToolDenied`] and never reaches the server.
    pub fn set_tenant_policy(&self, tenant: TenantId, server: ServerName, policy: ToolPolicy) {
        self.inner.has_policies.store(true, Ordering::Relaxed);
        lock(&self.inner.tenant_policies).insert((tenant, server), policy);
        self.inner.policy_generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Closes `key`'s session: new calls start another, calls in flight
    /// finish first (within their timeouts), and the server process is
    /// gone when this returns. Sends a
    /// [`SessionClosed`](EventKind::SessionClosed) event (`closed`).
    /// Returns whether there was a live session.
    pub async fn close(&self, key: &SessionKey) -> bool {
        let retired = self.inner.retire(|k| k == key);
        let closed = !retired.is_empty();
        Arc::clone(&self.inner)
            .close_retired(retired, SessionCloseReason::Closed)
            .await;
        closed
    }

    /// Closes every session of `tenant` as [`close`](Self::close) does (an
    /// event each, `tenant_closed`), leaving other tenants' alone; the
    /// tenant's own servers and policies stay configured. Returns how many
    /// sessions were closed.
    pub async fn close_tenant(&self, tenant: &TenantId) -> usize {
        let retired = self.inner.retire(|key| key.tenant == *tenant);
        let closed = retired.len();
        Arc::clone(&self.inner)
            .close_retired(retired, SessionCloseReason::TenantClosed)
            .await;
        closed
    }

    /// How `key`'s server is doing, from what the pool's requests to it saw
    /// (see [`HealthThresholds`](crate::client::HealthThresholds)).
    pub fn health(&self, key: &SessionKey) -> super::ServerHealth {
        self.inner.health_of(key)
    }

    /// Whether `key` may call `tool` under the tool policies; a denied
    /// call is refused here, before any server is started.
    pub(super) fn check_allowed(&self, key: &SessionKey, tool: &str) -> Result<(), Error> {
        match self.inner.policies(key) {
            Some(policies) if !policies.allows(tool) => Err(Error::ToolDenied {
                server: key.server.clone(),
                tool: tool.to_owned(),
            }),
            _ => Ok(()),
        }
    }

    /// The tools of a list that the policies let `key` see.
    pub(crate) fn visible(&self, key: &SessionKey, tools: Arc<Vec<Tool>>) -> Arc<Vec<Tool>> {
        match self.inner.policies(key) {
            Some(policies) if !tools.iter().all(|tool| policies.allows(&tool.name)) => Arc::new(
                tools
                    .iter()
                    .filter(|tool| policies.allows(&tool.name))
                    .cloned()
                    .collect(),
            ),
            _ => tools,
        }
    }
}
