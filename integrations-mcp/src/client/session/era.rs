//! Which protocol revision a session speaks: 2026-07-28 (`server/discover`,
//! no handshake) or 2025-11-25 (`initialize`), how `auto` tells them apart,
//! and the pool's memory of what each server spoke.
//!
//! `auto` asks `server/discover` first. Per the specification's backward
//! compatibility rules anything but a discover result or a recognised
//! 2026-07-28 error means a legacy server, whatever the error code: an
//! error such as -32601, an answer of another shape (`{}`), -32022 naming
//! only versions with `initialize`, exiting, or silence past half the
//! handshake time. The fallback `initialize` then runs on a fresh transport
//! (a new process for stdio): a server that exited or went quiet cannot be
//! trusted to take a handshake on the old one. 401 and 403 stay
//! authorization errors; a -32021 or -32020 is a modern server's refusal.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use integrations_core::TenantId;
use integrations_core::config::{McpProtocol, McpServerEntry};
use integrations_core::id::ServerName;
use rmcp::ClientLifecycleMode;
use rmcp::model::{ErrorCode, ProtocolVersion};
use rmcp::service::ClientInitializeError;

use crate::error::Error;

/// The revision a server spoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2025-11-25 and before: `initialize`.
    Legacy,
    /// 2026-07-28: `server/discover` and `_meta` on every request.
    Modern,
    /// 2024-11-05's HTTP+SSE transport, `initialize` (HTTP servers only).
    Sse,
}

impl Era {
    pub(super) fn lifecycle(self) -> ClientLifecycleMode {
        match self {
            Self::Legacy | Self::Sse => ClientLifecycleMode::Initialize,
            Self::Modern => ClientLifecycleMode::Discover {
                preferred_versions: vec![ProtocolVersion::V_2026_07_28],
            },
        }
    }
}

/// What a connect does first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    /// Ask `server/discover`, fall back to `initialize` on a legacy answer.
    Probe,
    /// Speak this revision only.
    Only(Era),
}

/// The part of the handshake time a probe may take: the fallback gets the
/// rest.
pub(super) fn probe_time(handshake: Duration) -> Duration {
    handshake / 2
}

/// Eras remembered per server config (and tenant, where the tenant's
/// authorization differs): a reconnect does not probe again; a failed
/// connect forgets. Keys are hashes with a key of the pool's own, so no
/// config value (secrets included) is kept here.
#[derive(Default)]
pub(crate) struct Eras {
    seen: Mutex<HashMap<u64, Era>>,
    hasher: RandomState,
}

impl std::fmt::Debug for Eras {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Eras").finish_non_exhaustive()
    }
}

/// One connect's place in [`Eras`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct EraSlot<'a> {
    eras: &'a Eras,
    key: u64,
}

impl Eras {
    /// The slot of `config`, for `tenant` when its authorization is its own.
    pub(crate) fn slot(&self, config: &McpServerEntry, tenant: Option<&TenantId>) -> EraSlot<'_> {
        let mut hasher = self.hasher.build_hasher();
        tenant.map(TenantId::as_str).hash(&mut hasher);
        match config {
            McpServerEntry::Stdio(stdio) => {
                stdio.command.expose().hash(&mut hasher);
                for arg in &stdio.args {
                    arg.expose().hash(&mut hasher);
                }
                for (name, value) in &stdio.env {
                    (name, value.expose()).hash(&mut hasher);
                }
                stdio.cwd.hash(&mut hasher);
            }
            McpServerEntry::Http(http) => {
                http.url.expose().hash(&mut hasher);
                for (name, value) in &http.headers {
                    (name, value.expose()).hash(&mut hasher);
                }
            }
            _ => {}
        }
        EraSlot {
            eras: self,
            key: hasher.finish(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Era>> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EraSlot<'_> {
    pub(super) fn get(&self) -> Option<Era> {
        self.eras.lock().get(&self.key).copied()
    }

    pub(super) fn remember(&self, era: Era) {
        self.eras.lock().insert(self.key, era);
    }

    pub(super) fn forget(&self) {
        self.eras.lock().remove(&self.key);
    }
}

/// How a connect starts, given the protocol asked for and what is remembered.
pub(super) fn start(protocol: McpProtocol, remembered: Option<Era>) -> Start {
    match (protocol, remembered) {
        (McpProtocol::Modern, _) => Start::Only(Era::Modern),
        (_, Some(Era::Sse)) => Start::Only(Era::Sse),
        (McpProtocol::Legacy, _) => Start::Only(Era::Legacy),
        (_, Some(era)) => Start::Only(era),
        (_, None) => Start::Probe,
    }
}

/// Whether a failed `server/discover` says the server is legacy (then
/// `initialize` follows on a fresh transport).
pub(super) fn is_legacy_answer(error: &ClientInitializeError) -> bool {
    match error {
        ClientInitializeError::JsonRpcError(error) => !matches!(
            error.code,
            ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY | ErrorCode::HEADER_MISMATCH
        ),
        // -32022: rmcp retried any 2026 version the server named; what is
        // left is a server of `initialize` versions, or one that named none.
        ClientInitializeError::NoCompatibleProtocolVersion {
            server_supported, ..
        } => server_supported.is_empty() || server_supported.iter().any(|v| v.has_initialize()),
        ClientInitializeError::ExpectedInitResult(_)
        | ClientInitializeError::ExpectedInitResponse(_)
        | ClientInitializeError::UncorrelatedErrorResponse { .. }
        | ClientInitializeError::ConflictInitResponseId(..)
        | ClientInitializeError::ConnectionClosed(_) => true,
        _ => false,
    }
}

/// What a failed handshake in `era` says, when the server's own answer
/// explains it: a refusal of the revision (see [`refusal`]), or a legacy
/// server's answer to `server/discover` when 2026-07-28 was pinned.
pub(super) fn answered(
    server: &ServerName,
    era: Era,
    error: &ClientInitializeError,
) -> Option<Error> {
    refusal(server, error).or_else(|| {
        (era == Era::Modern && is_legacy_answer(error)).then(|| Error::Handshake {
            server: server.clone(),
            message: format!(
                "it does not speak MCP 2026-07-28 ({error}); set its `protocol` to \"auto\" or \"legacy\""
            ),
        })
    })
}

/// The server's refusal of the revision asked for, when that is why the
/// handshake failed: -32022 on `initialize` (with the versions it names),
/// or no common version after `server/discover`.
pub(super) fn refusal(server: &ServerName, error: &ClientInitializeError) -> Option<Error> {
    let refused = |requested: &str, supported: Vec<String>| Error::UnsupportedProtocol {
        server: server.clone(),
        requested: requested.to_owned(),
        supported,
    };
    match error {
        ClientInitializeError::JsonRpcError(error)
            if error.code == ErrorCode::UNSUPPORTED_PROTOCOL_VERSION =>
        {
            let data = error.data.as_ref();
            let named = |field: &str| data.and_then(|data| data.get(field));
            let supported = named("supported")
                .and_then(|supported| supported.as_array())
                .map(|versions| {
                    versions
                        .iter()
                        .filter_map(|v| v.as_str())
                        .take(16)
                        .map(|v| v.chars().take(32).collect())
                        .collect()
                })
                .unwrap_or_default();
            let requested = named("requested").and_then(|v| v.as_str()).unwrap_or("");
            let requested = if requested.is_empty() {
                ProtocolVersion::V_2025_11_25.as_str()
            } else {
                requested
            };
            Some(refused(
                &requested.chars().take(32).collect::<String>(),
                supported,
            ))
        }
        ClientInitializeError::NoCompatibleProtocolVersion {
            client_supported,
            server_supported,
        } => Some(refused(
            &client_supported
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            server_supported.iter().map(|v| v.to_string()).collect(),
        )),
        ClientInitializeError::LegacyFallbackFailed { fallback, .. } => refusal(server, fallback),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use integrations_core::config::{ConfigString, StdioServer};
    use rmcp::model::ErrorData;

    fn rpc(code: i32) -> ClientInitializeError {
        ClientInitializeError::JsonRpcError(ErrorData::new(ErrorCode(code), "no", None))
    }

    #[test]
    fn what_a_discover_failure_says_about_the_server() {
        assert!(is_legacy_answer(&rpc(-32601)));
        assert!(is_legacy_answer(&rpc(-32602)));
        assert!(is_legacy_answer(&rpc(-32000)));
        assert!(!is_legacy_answer(&rpc(-32021)));
        assert!(!is_legacy_answer(&rpc(-32020)));
        assert!(is_legacy_answer(
            &ClientInitializeError::ExpectedInitResult(None)
        ));
        assert!(is_legacy_answer(&ClientInitializeError::ConnectionClosed(
            "discover response".into()
        )));
        let only =
            |versions: Vec<ProtocolVersion>| ClientInitializeError::NoCompatibleProtocolVersion {
                client_supported: vec![ProtocolVersion::V_2026_07_28],
                server_supported: versions,
            };
        assert!(is_legacy_answer(&only(vec![
            ProtocolVersion::V_2025_06_18,
            ProtocolVersion::V_2025_11_25
        ])));
        let future: ProtocolVersion = serde_json::from_value("2027-01-01".into()).unwrap();
        assert!(!is_legacy_answer(&only(vec![future])));
        assert!(!is_legacy_answer(&ClientInitializeError::Cancelled));
    }

    #[test]
    fn a_refusal_names_the_versions_the_server_supports() {
        let error = ClientInitializeError::JsonRpcError(ErrorData::new(
            ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
            "Unsupported protocol version",
            Some(serde_json::json!({"supported": ["2026-07-28"], "requested": "2025-11-25"})),
        ));
        let Some(Error::UnsupportedProtocol {
            requested,
            supported,
            ..
        }) = refusal(&ServerName::from_static("s"), &error)
        else {
            panic!("not a refusal")
        };
        assert_eq!(
            (requested.as_str(), supported),
            ("2025-11-25", vec!["2026-07-28".to_owned()])
        );
        assert!(refusal(&ServerName::from_static("s"), &rpc(-32601)).is_none());
    }

    #[test]
    fn eras_are_remembered_per_config_and_tenant() {
        let eras = Eras::default();
        let a: McpServerEntry = StdioServer::new(ConfigString::plain("a")).into();
        let b: McpServerEntry = StdioServer::new(ConfigString::plain("a"))
            .env("TOKEN", ConfigString::secret("other"))
            .into();
        let tenant = TenantId::new("t").unwrap();
        eras.slot(&a, None).remember(Era::Modern);
        assert_eq!(eras.slot(&a, None).get(), Some(Era::Modern));
        assert_eq!(eras.slot(&b, None).get(), None);
        assert_eq!(eras.slot(&a, Some(&tenant)).get(), None);
        eras.slot(&a, None).forget();
        assert_eq!(eras.slot(&a, None).get(), None);
        assert_eq!(start(McpProtocol::Auto, None), Start::Probe);
        assert_eq!(
            start(McpProtocol::Auto, Some(Era::Legacy)),
            Start::Only(Era::Legacy)
        );
        assert_eq!(
            start(McpProtocol::Modern, Some(Era::Legacy)),
            Start::Only(Era::Modern)
        );
    }
}
