//! The client side: a pool of sessions per (tenant, server), the sessions
//! and their transports (stdio, streamable HTTP), OAuth for remote servers,
//! the hooks that answer servers' requests, connection tests and the
//! namespaced [`Toolbox`].

#[cfg(feature = "http")]
mod authorization;
mod call;
// Sampling and roots, deprecated by SEP-2577 after the 2025-11-25 revision
// this crate speaks, are still what that revision's servers send.
#[allow(deprecated)]
mod hooks;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "http")]
mod http_words;
mod pool;
mod probe;
mod search;
mod session;
mod toolbox;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use authorization::{IdTokenSource, IdentityProvider, JwtAlgorithm, McpAuthorization};
pub use call::{CallOptions, Progress, ToolResultExt};
pub use hooks::{ClientHooks, HookCapabilities, HookContext};
pub use pool::{HealthThresholds, McpPool, McpPoolBuilder, PoolMetrics, ServerHealth, SessionKey};
pub use probe::{ServerTest, test_server};
pub use search::{SearchHit, ToolIndex};
pub use session::Session;
pub use tokio_util::sync::CancellationToken;
pub use toolbox::{NamespacedTool, SEPARATOR, ToolList, ToolSearch, Toolbox, UnavailableServer};
