//! [`Toolbox`]: one flat, namespaced tool list across a tenant's servers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use integrations_core::TenantId;
use integrations_core::id::ServerName;
use rmcp::model::{CallToolResult, Tool};

use crate::client::call::CallOptions;
use crate::client::pool::{McpPool, ServerHealth, SessionKey};
use crate::client::search::{SearchHit, ToolIndex};
use crate::error::Error;

/// The separator between server and tool in namespaced names.
pub const SEPARATOR: &str = "__";

/// A tool with its namespaced name, e.g. `slack__post_message`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NamespacedTool {
    /// `server__tool`.
    pub name: String,
    /// The server it belongs to.
    pub server: ServerName,
    /// The tool as the server describes it (its own name, schema, ...).
    pub tool: Tool,
}

/// What [`Toolbox::tools`] found: the tools of every server that answered,
/// and the servers that did not.
#[derive(Debug)]
#[non_exhaustive]
pub struct ToolList {
    /// The tools, namespaced, in server order.
    pub tools: Vec<NamespacedTool>,
    /// The servers whose tools could not be listed.
    pub unavailable: Vec<UnavailableServer>,
}

/// A server whose tools could not be listed: why, and how it has been
/// doing (down in a crash loop, waiting for re-authorization, ...).
#[derive(Debug)]
#[non_exhaustive]
pub struct UnavailableServer {
    /// The server.
    pub server: ServerName,
    /// Why this listing failed.
    pub error: Error,
    /// Its health, this failure included.
    pub health: ServerHealth,
}

impl ToolList {
    /// Whether every server answered.
    pub fn is_complete(&self) -> bool {
        self.unavailable.is_empty()
    }
}

/// The tools of a tenant's servers as one list an agent can be handed, and
/// calls by namespaced name.
///
/// ```no_run
/// # use integrations_core::TenantId;
/// # use integrations_core::id::ServerName;
/// # use integrations_mcp::{McpPool, Toolbox};
/// # async fn run(pool: McpPool) -> Result<(), integrations_mcp::Error> {
/// let servers = [ServerName::new("github")?, ServerName::new("slack")?];
/// let toolbox = Toolbox::with_servers(pool, TenantId::new("user-1")?, servers)?;
/// let list = toolbox.tools().await;
/// for unavailable in &list.unavailable {
///     eprintln!("{} is {}: {}", unavailable.server, unavailable.health.state, unavailable.error);
/// }
/// let reply = toolbox.call("github__search_issues", serde_json::json!({"q": "bug"})).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Toolbox {
    pool: McpPool,
    tenant: TenantId,
    servers: Vec<ServerName>,
    /// The search index, shared by clones.
    search: Arc<Mutex<Indexed>>,
}

/// The index and, per server, the list (and policy generation) it holds.
#[derive(Debug, Default)]
struct Indexed {
    index: ToolIndex,
    sources: HashMap<ServerName, (Arc<Vec<Tool>>, u64)>,
}

/// What [`Toolbox::search`] found: the best tools of the servers that
/// answered, and the servers that did not.
#[derive(Debug)]
#[non_exhaustive]
pub struct ToolSearch {
    /// The tools, best first.
    pub hits: Vec<SearchHit>,
    /// The servers whose tools could not be listed (not searched).
    pub unavailable: Vec<UnavailableServer>,
}

impl Toolbox {
    /// A toolbox over every server the tenant can use (shared ones and its
    /// own). Refused when a server name contains `__`.
    pub fn new(pool: McpPool, tenant: TenantId) -> Result<Self, Error> {
        let servers = pool.server_names(&tenant);
        Self::with_servers(pool, tenant, servers)
    }

    /// A toolbox over the named servers only. Refused when a name contains
    /// `__`.
    pub fn with_servers(
        pool: McpPool,
        tenant: TenantId,
        servers: impl IntoIterator<Item = ServerName>,
    ) -> Result<Self, Error> {
        let servers: Vec<ServerName> = servers.into_iter().collect();
        if let Some(bad) = servers
            .iter()
            .find(|name| name.as_str().contains(SEPARATOR))
        {
            return Err(Error::Unsupported {
                server: bad.clone(),
                message: format!("server names in a toolbox may not contain `{SEPARATOR}`"),
            });
        }
        Ok(Self {
            pool,
            tenant,
            servers,
            search: Arc::default(),
        })
    }

    /// Every tool of every server, namespaced, in server order. The servers
    /// are asked concurrently; one that cannot be reached is reported in
    /// [`ToolList::unavailable`] and the others' tools are still listed.
    pub async fn tools(&self) -> ToolList {
        let lists = futures_util::future::join_all(self.servers.iter().map(|server| async move {
            let key = SessionKey::new(self.tenant.clone(), server.clone());
            (server, self.pool.list_tools(&key).await)
        }))
        .await;
        let mut list = ToolList {
            tools: Vec::new(),
            unavailable: Vec::new(),
        };
        for (server, tools) in lists {
            match tools {
                Ok(tools) => list.tools.extend(tools.iter().map(|tool| NamespacedTool {
                    name: format!("{server}{SEPARATOR}{}", tool.name),
                    server: server.clone(),
                    tool: tool.clone(),
                })),
                Err(error) => list.unavailable.push(UnavailableServer {
                    server: server.clone(),
                    error,
                    health: self
                        .pool
                        .health(&SessionKey::new(self.tenant.clone(), server.clone())),
                }),
            }
        }
        list
    }

    /// The `k` tools of the tenant's servers that best match `query` (BM25
    /// over names, titles, descriptions and parameters; see
    /// [`ToolIndex`]), with the tool policies applied, so an agent can be
    /// handed a few tools instead of hundreds.
    ///
    /// The index is kept in the toolbox (and its clones) and follows the
    /// pool's cached lists: a server whose list changed (a
    /// `list_changed`, an expired `ttlMs`, a new session) or whose policy
    /// changed is indexed again, alone; a server that cannot be listed is
    /// left out of the index and reported in
    /// [`ToolSearch::unavailable`]. Keep one toolbox per tenant rather
    /// than one per request.
    pub async fn search(&self, query: &str, k: usize) -> ToolSearch {
        let lists = futures_util::future::join_all(self.servers.iter().map(|server| async move {
            let key = SessionKey::new(self.tenant.clone(), server.clone());
            let listed = self.pool.all_tools(&key, &CallOptions::new()).await;
            (server, key, listed)
        }))
        .await;
        let mut unavailable = Vec::new();
        let mut indexed = self.search.lock().unwrap_or_else(|e| e.into_inner());
        let Indexed { index, sources } = &mut *indexed;
        for (server, key, listed) in lists {
            match listed {
                Ok((tools, generation)) => {
                    let current = sources.get(server).is_some_and(|(source, indexed_at)| {
                        Arc::ptr_eq(source, &tools) && *indexed_at == generation
                    });
                    if !current {
                        let visible = self.pool.visible(&key, Arc::clone(&tools));
                        index.index_server(server, &visible);
                        sources.insert(server.clone(), (tools, generation));
                    }
                }
                Err(error) => {
                    index.remove_server(server);
                    sources.remove(server);
                    unavailable.push(UnavailableServer {
                        server: server.clone(),
                        error,
                        health: self.pool.health(&key),
                    });
                }
            }
        }
        ToolSearch {
            hits: index.search(query, k),
            unavailable,
        }
    }

    /// Calls a tool by its namespaced name, with the pool's default
    /// timeout.
    pub async fn call(
        &self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult, Error> {
        self.call_with(name, arguments, CallOptions::new()).await
    }

    /// Calls a tool by its namespaced name with its own timeout, progress
    /// or cancellation.
    pub async fn call_with(
        &self,
        name: &str,
        arguments: serde_json::Value,
        options: CallOptions,
    ) -> Result<CallToolResult, Error> {
        let (server, tool) = name
            .split_once(SEPARATOR)
            .and_then(|(server, tool)| {
                let server = self.servers.iter().find(|s| s.as_str() == server)?;
                Some((server.clone(), tool))
            })
            .ok_or_else(|| Error::UnknownTool {
                name: name.to_owned(),
            })?;
        let key = SessionKey::new(self.tenant.clone(), server);
        self.pool
            .call_tool_with(&key, tool, arguments, options)
            .await
    }
}
