//! [`Toolbox`]: one flat, namespaced tool list across a tenant's servers.

use integrations_core::TenantId;
use rmcp::model::{CallToolResult, Tool};

use crate::{Error, McpPool, SessionKey};

/// The separator between server and tool in namespaced names.
pub const SEPARATOR: &str = "__";

/// A tool with its namespaced name, e.g. `slack__post_message`.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct NamespacedTool {
    /// `server__tool`.
    pub name: String,
    /// The server it belongs to.
    pub server: String,
    /// The tool as the server describes it (its own name, schema, ...).
    pub tool: Tool,
}

/// The tools of a tenant's servers as one list an agent can be handed, and
/// calls by namespaced name.
#[derive(Debug, Clone)]
pub struct Toolbox {
    pool: McpPool,
    tenant: TenantId,
    servers: Vec<String>,
}

impl Toolbox {
    /// A toolbox over `servers` (every server the tenant can use when
    /// `None`). Server names may not contain `__`.
    pub fn new(
        pool: McpPool,
        tenant: TenantId,
        servers: Option<Vec<String>>,
    ) -> Result<Self, Error> {
        let servers = servers.unwrap_or_else(|| pool.server_names(&tenant));
        if let Some(bad) = servers.iter().find(|name| name.contains(SEPARATOR)) {
            return Err(Error::Unsupported {
                server: bad.clone(),
                message: format!("server names in a toolbox may not contain `{SEPARATOR}`"),
            });
        }
        Ok(Self {
            pool,
            tenant,
            servers,
        })
    }

    /// Every tool of every server, namespaced, in server order. A server that
    /// cannot be reached fails the whole list, naming it.
    pub async fn tools(&self) -> Result<Vec<NamespacedTool>, Error> {
        let lists =
            futures_util::future::try_join_all(self.servers.iter().map(|server| async move {
                let key = SessionKey::new(self.tenant.clone(), server.clone());
                Ok::<_, Error>((server, self.pool.list_tools(&key).await?))
            }))
            .await?;
        Ok(lists
            .into_iter()
            .flat_map(|(server, tools)| {
                tools
                    .iter()
                    .map(|tool| NamespacedTool {
                        name: format!("{server}{SEPARATOR}{}", tool.name),
                        server: server.clone(),
                        tool: tool.clone(),
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }

    /// Calls a tool by its namespaced name.
    pub async fn call(
        &self,
        name: &str,
        arguments: serde_json::Value,
    ) -> Result<CallToolResult, Error> {
        let (server, tool) = name
            .split_once(SEPARATOR)
            .filter(|(server, _)| self.servers.iter().any(|s| s == server))
            .ok_or_else(|| Error::UnknownTool {
                name: name.to_owned(),
            })?;
        let key = SessionKey::new(self.tenant.clone(), server);
        self.pool.call_tool(&key, tool, arguments).await
    }
}
